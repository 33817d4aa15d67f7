/* test_roc.c - ROC AUC and average precision against sklearn and against brute force.
 *
 * Oracles: sklearn's roc_auc_score / average_precision_score (fixtures written by
 * tests/fixtures/metrics/make_roc_fixtures.py) and, on random small inputs, the O(n^2)
 * Mann-Whitney count over all (positive, negative) pairs and a threshold-by-threshold AP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "metrics/roc.h"

#define TOL 1e-9

static char *fixture_path(const char *name) {
  const char *root = getenv("AD3D_FIXTURES");
  if (!root)
    root = AD3D_FIXTURES;
  static char buf[4096];
  snprintf(buf, sizeof buf, "%s/metrics/%s", root, name);
  return buf;
}

/* Both metrics for double scores, via the f64 or (values exactly float32) the f32 entry points;
 * also checks that the single-metric functions and the combined one agree bit for bit. */
static void compute(const double *s, const uint8_t *y, int64_t n, int f32, ad3d_status *st_auc, double *auc,
                    ad3d_status *st_ap, double *ap) {
  double auc2 = NAN, ap2 = NAN;
  if (f32) {
    float *sf = malloc(sizeof *sf * (size_t)(n ? n : 1));
    assert_non_null(sf);
    for (int64_t i = 0; i < n; i++)
      sf[i] = (float)s[i];
    *st_auc = roc_auc_f32(sf, y, n, auc);
    *st_ap = average_precision_f32(sf, y, n, ap);
    if (*st_auc == AD3D_OK && *st_ap == AD3D_OK)
      assert_int_equal(roc_auc_ap_f32(sf, y, n, &auc2, &ap2), AD3D_OK);
    free(sf);
  } else {
    *st_auc = roc_auc_f64(s, y, n, auc);
    *st_ap = average_precision_f64(s, y, n, ap);
    if (*st_auc == AD3D_OK && *st_ap == AD3D_OK)
      assert_int_equal(roc_auc_ap_f64(s, y, n, &auc2, &ap2), AD3D_OK);
  }
  if (*st_auc == AD3D_OK && *st_ap == AD3D_OK) {
    assert_true(auc2 == *auc);
    assert_true(ap2 == *ap);
  }
}

static void check_close(const char *what, const char *name, double ours, double ref) {
  if (!(fabs(ours - ref) <= TOL))
    fail_msg("%s %s: ours %.17g, sklearn %.17g (diff %.3g)", name, what, ours, ref, fabs(ours - ref));
}

/* ---- sklearn fixtures -------------------------------------------------------------------------- */

static void test_roc_sklearn_cases(void **state) {
  (void)state;
  FILE *f = fopen(fixture_path("roc_cases.txt"), "r");
  assert_non_null(f);
  char line[512];
  int ncases = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#')
      continue;
    char name[128], dt[8], sauc[64], sap[64];
    long long n;
    assert_int_equal(sscanf(line, "case %127s %7s %lld %63s %63s", name, dt, &n, sauc, sap), 5);
    double ref_auc = strtod(sauc, NULL), ref_ap = strtod(sap, NULL);
    double *s = malloc(sizeof *s * (size_t)n);
    uint8_t *y = malloc((size_t)n);
    assert_non_null(s);
    assert_non_null(y);
    int f32 = strcmp(dt, "f32") == 0;
    for (long long i = 0; i < n; i++) {
      assert_non_null(fgets(line, sizeof line, f));
      char *end;
      /* f32 values: strtof reads the exact float32 that sklearn saw */
      s[i] = f32 ? (double)strtof(line, &end) : strtod(line, &end);
      y[i] = (uint8_t)strtol(end, NULL, 10);
    }
    ad3d_status st_auc, st_ap;
    double auc = NAN, ap = NAN;
    compute(s, y, n, f32, &st_auc, &auc, &st_ap, &ap);
    if (isnan(ref_auc)) {
      assert_int_equal(st_auc, AD3D_EINVAL);
    } else {
      assert_int_equal(st_auc, AD3D_OK);
      check_close("AUC", name, auc, ref_auc);
    }
    if (isnan(ref_ap)) {
      assert_int_equal(st_ap, AD3D_EINVAL);
    } else {
      assert_int_equal(st_ap, AD3D_OK);
      check_close("AP", name, ap, ref_ap);
    }
    free(s);
    free(y);
    ncases++;
  }
  fclose(f);
  assert_true(ncases >= 10);
}

/* The integer recipe of gen_case in make_roc_fixtures.py. */
static void gen_case(int64_t n, uint64_t levels, int f32, double *s, uint8_t *y) {
  for (int64_t i = 0; i < n; i++) {
    uint64_t h = (uint64_t)i * 6364136223846793005ull + 1442695040888963407ull;
    h ^= h >> 33;
    uint64_t u = (h >> 40) % levels, v = (h >> 8) % 1000;
    y[i] = (v + (u * 500) / levels) >= 1000;
    s[i] = f32 ? (double)((float)u / (float)levels) : (double)u / (double)levels;
  }
}

static void test_roc_sklearn_generated(void **state) {
  (void)state;
  FILE *f = fopen(fixture_path("roc_generated.txt"), "r");
  assert_non_null(f);
  char line[512];
  int ncases = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#')
      continue;
    char name[128], dt[8];
    long long n;
    unsigned long long levels;
    double ref_auc, ref_ap;
    assert_int_equal(sscanf(line, "%127s %7s %lld %llu %lf %lf", name, dt, &n, &levels, &ref_auc, &ref_ap), 6);
    double *s = malloc(sizeof *s * (size_t)n);
    uint8_t *y = malloc((size_t)n);
    assert_non_null(s);
    assert_non_null(y);
    int f32 = strcmp(dt, "f32") == 0;
    gen_case(n, levels, f32, s, y);
    ad3d_status st_auc, st_ap;
    double auc, ap;
    compute(s, y, n, f32, &st_auc, &auc, &st_ap, &ap);
    assert_int_equal(st_auc, AD3D_OK);
    assert_int_equal(st_ap, AD3D_OK);
    check_close("AUC", name, auc, ref_auc);
    check_close("AP", name, ap, ref_ap);
    free(s);
    free(y);
    ncases++;
  }
  fclose(f);
  assert_int_equal(ncases, 3);
}

/* ---- brute force ------------------------------------------------------------------------------- */

/* Mann-Whitney over all pairs: a positive above a negative counts 1, a tie 1/2. */
static double brute_auc(const double *s, const uint8_t *y, int n) {
  double u = 0;
  int64_t np = 0, nn = 0;
  for (int i = 0; i < n; i++) {
    np += y[i] != 0;
    nn += y[i] == 0;
    if (!y[i])
      continue;
    for (int j = 0; j < n; j++)
      if (!y[j])
        u += s[i] > s[j] ? 1.0 : (s[i] == s[j] ? 0.5 : 0.0);
  }
  return u / ((double)np * (double)nn);
}

/* AP by definition: for every distinct score t, from high to low, recall and precision of the
 * prediction "score >= t"; AP = sum (R_t - R_prev) * P_t. */
static double brute_ap(const double *s, const uint8_t *y, int n) {
  int64_t np = 0;
  for (int i = 0; i < n; i++)
    np += y[i] != 0;
  double ap = 0, prev_recall = 0;
  double t = 0;
  for (int first = 1;; first = 0) {
    double next = 0; /* the largest score below t (the largest score at first; +inf counts) */
    int found = 0;
    for (int i = 0; i < n; i++)
      if ((first || s[i] < t) && (!found || s[i] > next)) {
        next = s[i];
        found = 1;
      }
    if (!found)
      break;
    t = next;
    int64_t tp = 0, fp = 0;
    for (int i = 0; i < n; i++)
      if (s[i] >= t) {
        tp += y[i] != 0;
        fp += y[i] == 0;
      }
    double recall = (double)tp / (double)np;
    ap += (recall - prev_recall) * ((double)tp / (double)(tp + fp));
    prev_recall = recall;
  }
  return ap;
}

static void test_roc_brute_force_random(void **state) {
  (void)state;
  rng_t r;
  rng_seed(&r, 12345);
  double s[80];
  uint8_t y[80];
  int checked = 0;
  for (int trial = 0; trial < 3000; trial++) {
    int n = 1 + (int)rng_below(&r, 80);
    int mode = (int)rng_below(&r, 4);
    for (int i = 0; i < n; i++) {
      y[i] = rng_uniform(&r) < 0.4;
      if (mode == 0) /* continuous */
        s[i] = rng_normal(&r) + y[i];
      else if (mode == 1) /* few levels: heavy ties, negatives and both zeros */
        s[i] = (double)((int)rng_below(&r, 7) - 3) * (rng_below(&r, 2) ? 1.0 : -1.0);
      else if (mode == 2) /* float32-exact values */
        s[i] = (double)(float)(rng_normal(&r) * 1e3);
      else /* extremes */
        s[i] = (double[]){INFINITY, -INFINITY, 1e308, -1e308, 4.9e-324, 0.0, -0.0}[rng_below(&r, 7)];
    }
    int f32 = mode == 1 || mode == 2 || (mode == 3 && trial % 2);
    if (mode == 3 && f32)
      for (int i = 0; i < n; i++)
        s[i] = (double)(float)s[i]; /* the values the f32 path sees (1e308 -> inf, denormal -> 0) */
    ad3d_status st_auc, st_ap;
    double auc, ap;
    compute(s, y, n, f32, &st_auc, &auc, &st_ap, &ap);
    int np = 0;
    for (int i = 0; i < n; i++)
      np += y[i];
    if (np == 0 || np == n) {
      assert_int_equal(st_auc, AD3D_EINVAL);
    } else {
      assert_int_equal(st_auc, AD3D_OK);
      double ref = brute_auc(s, y, n);
      if (!(fabs(auc - ref) <= 1e-12))
        fail_msg("trial %d (n %d, mode %d): AUC %.17g, brute force %.17g", trial, n, mode, auc, ref);
      checked++;
    }
    if (np == 0) {
      assert_int_equal(st_ap, AD3D_EINVAL);
    } else {
      assert_int_equal(st_ap, AD3D_OK);
      double ref = brute_ap(s, y, n);
      if (!(fabs(ap - ref) <= 1e-12))
        fail_msg("trial %d (n %d, mode %d): AP %.17g, brute force %.17g", trial, n, mode, ap, ref);
    }
  }
  assert_true(checked > 2000);
}

/* 2 * 10^6 scores in 1000 tied levels, shuffled by construction order only (level-major), whose
 * class counts per level are known without sorting: the AUC is the exact rational 2U / 2PN with
 * 2U = sum over levels of p_l * (2 * negatives below + q_l). */
static void test_roc_exact_large(void **state) {
  (void)state;
  const int64_t n = 2000000;
  float *s = malloc(sizeof *s * (size_t)n);
  uint8_t *y = malloc((size_t)n);
  assert_non_null(s);
  assert_non_null(y);
  /* Every level l in 0..999 holds 2000 points, the first 2l of them positive (the positive rate
   * grows with the score); levels are written in a scrambled order so the input is not sorted. */
  int64_t k = 0;
  for (int m = 0; m < 1000; m++) {
    int l = (m * 617) % 1000; /* 617 is prime to 1000: a permutation of the levels */
    for (int j = 0; j < 2000; j++, k++) {
      s[k] = (float)l / 1000.0f;
      y[k] = j < 2 * l;
    }
  }
  /* 2U = sum over levels of p_l * (2 * negatives below + q_l) */
  uint64_t u2 = 0;
  int64_t neg_below = 0, np = 0;
  for (int l = 0; l < 1000; l++) {
    int64_t p = 2 * l, q = 2000 - 2 * l;
    u2 += (uint64_t)p * (uint64_t)(2 * neg_below + q);
    neg_below += q;
    np += p;
  }
  double ref = (double)u2 / (2.0 * (double)np * (double)neg_below);
  double auc;
  assert_int_equal(roc_auc_f32(s, y, n, &auc), AD3D_OK);
  assert_true(fabs(auc - ref) <= 1e-15);
  free(s);
  free(y);
}

/* ---- errors ------------------------------------------------------------------------------------ */

static void test_roc_errors(void **state) {
  (void)state;
  double s[4] = {0.1, 0.4, 0.35, 0.8};
  float sf[4] = {0.1f, 0.4f, 0.35f, 0.8f};
  uint8_t none[4] = {0, 0, 0, 0}, all[4] = {1, 1, 1, 1}, mix[4] = {0, 0, 1, 1};
  double v = -1;

  assert_int_equal(roc_auc_f64(s, none, 4, &v), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "only one class"));
  assert_int_equal(roc_auc_f64(s, all, 4, &v), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "only one class"));
  assert_int_equal(roc_auc_f32(sf, all, 4, &v), AD3D_EINVAL);
  assert_int_equal(roc_auc_f64(s, mix, 0, &v), AD3D_EINVAL);
  assert_int_equal(roc_auc_f64(s, mix, -3, &v), AD3D_EINVAL);
  assert_true(v == -1); /* untouched on error */

  assert_int_equal(average_precision_f64(s, none, 4, &v), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "no positive"));
  assert_int_equal(average_precision_f32(sf, none, 4, &v), AD3D_EINVAL);
  assert_int_equal(average_precision_f64(s, all, 4, &v), AD3D_OK);
  assert_true(v == 1.0);

  /* one class is fine for AP alone and for the combined call without auc */
  double ap = -1;
  assert_int_equal(roc_auc_ap_f64(s, all, 4, NULL, &ap), AD3D_OK);
  assert_true(ap == 1.0);
  assert_int_equal(roc_auc_ap_f64(s, none, 4, &v, NULL), AD3D_EINVAL);
  assert_int_equal(roc_auc_ap_f64(s, mix, 4, NULL, NULL), AD3D_OK);

  double sn[4] = {0.1, NAN, 0.35, 0.8};
  float sfn[4] = {0.1f, 0.4f, NAN, 0.8f};
  assert_int_equal(roc_auc_f64(sn, mix, 4, &v), AD3D_ENUMERIC);
  assert_non_null(strstr(ad3d_errmsg(), "score 1 is NaN"));
  assert_int_equal(average_precision_f64(sn, mix, 4, &v), AD3D_ENUMERIC);
  assert_int_equal(roc_auc_f32(sfn, mix, 4, &v), AD3D_ENUMERIC);
  assert_non_null(strstr(ad3d_errmsg(), "score 2 is NaN"));
  assert_int_equal(average_precision_f32(sfn, mix, 4, &v), AD3D_ENUMERIC);

  /* the valid call: scores 0.35 and 0.8 positive, 0.1 and 0.4 negative -> 3 of 4 pairs ordered */
  assert_int_equal(roc_auc_f64(s, mix, 4, &v), AD3D_OK);
  assert_true(v == 0.75);
  /* labels are "non-zero means positive" */
  uint8_t mix255[4] = {0, 0, 255, 7};
  assert_int_equal(roc_auc_f32(sf, mix255, 4, &v), AD3D_OK);
  assert_true(v == 0.75);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roc_sklearn_cases),     cmocka_unit_test(test_roc_sklearn_generated),
      cmocka_unit_test(test_roc_brute_force_random), cmocka_unit_test(test_roc_exact_large),
      cmocka_unit_test(test_roc_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
