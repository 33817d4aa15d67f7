/* test_coreset.c - PatchCore's greedy coreset: both samplers against a numpy restatement of the
 * reference (fixtures/geom/make_coreset_fixture.py), the approximate sampler equal to the exact one when
 * started the same way, the greedy (farthest-point) property checked by brute force and against the
 * geometry layer's farthest point sampling, and the random projection. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/rng.h"
#include "geom/coreset.h"
#include "geom/sampling.h"

static FILE *open_fixture(const char *name) {
  const char *root = getenv("AD3D_FIXTURES");
  char path[1024];
  snprintf(path, sizeof path, "%s/geom/%s", root && *root ? root : AD3D_FIXTURES, name);
  FILE *f = fopen(path, "r");
  if (!f)
    fail_msg("cannot open %s", path);
  return f;
}

static double dist(const float *a, const float *b, int d) {
  double s = 0;
  for (int j = 0; j < d; j++)
    s += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
  return sqrt(s);
}

static void test_matches_reference(void **unused) {
  (void)unused;
  FILE *f = open_fixture("coreset_greedy.txt");
  int n, d, m, ns;
  assert_int_equal(fscanf(f, "%d %d %d %d", &n, &d, &m, &ns), 4);
  float *x = malloc((size_t)n * d * sizeof *x);
  for (int i = 0; i < n * d; i++)
    assert_int_equal(fscanf(f, "%f", &x[i]), 1);
  int64_t starts[16], want_a[64], want_e[64], got[64];
  for (int j = 0; j < ns; j++)
    assert_int_equal(fscanf(f, "%ld", (long *)&starts[j]), 1);
  for (int j = 0; j < m; j++)
    assert_int_equal(fscanf(f, "%ld", (long *)&want_a[j]), 1);
  for (int j = 0; j < m; j++)
    assert_int_equal(fscanf(f, "%ld", (long *)&want_e[j]), 1);
  fclose(f);
  assert_int_equal(coreset_approx(x, n, d, m, starts, ns, NULL, got), AD3D_OK);
  for (int j = 0; j < m; j++)
    assert_int_equal(got[j], want_a[j]);
  assert_int_equal(coreset_exact(x, n, d, m, starts, ns, got), AD3D_OK);
  for (int j = 0; j < m; j++)
    assert_int_equal(got[j], want_a[j]);
  assert_int_equal(coreset_exact(x, n, d, m, NULL, 0, got), AD3D_OK);
  for (int j = 0; j < m; j++)
    assert_int_equal(got[j], want_e[j]);
  free(x);
}

/* Random data, random starts: approximate (BLAS, float) and exact (double matrix) select the same set
 * in the same order; and each pick is the farthest point from the starts' mean-distance anchor and the
 * picks so far (checked by brute force from the definition). */
static void test_approx_equals_exact_and_greedy_property(void **unused) {
  (void)unused;
  rng_t r;
  rng_seed(&r, 21);
  const int n = 400, d = 40, m = 60, ns = 10;
  float *x = malloc((size_t)n * d * sizeof *x);
  for (int i = 0; i < n * d; i++)
    x[i] = (float)(rng_normal(&r) + (i / d % 5 == 0 ? 2.0 : 0.0));
  int64_t starts[10], a[60], e[60];
  assert_int_equal(sample_random(n, ns, &r, starts), AD3D_OK);
  assert_int_equal(coreset_approx(x, n, d, m, starts, ns, NULL, a), AD3D_OK);
  assert_int_equal(coreset_exact(x, n, d, m, starts, ns, e), AD3D_OK);
  for (int t = 0; t < m; t++)
    assert_int_equal(a[t], e[t]);
  double *anchor = malloc((size_t)n * sizeof *anchor);
  char *chosen = calloc((size_t)n, 1);
  for (int i = 0; i < n; i++) {
    anchor[i] = 0;
    for (int j = 0; j < ns; j++)
      anchor[i] += dist(x + i * d, x + starts[j] * d, d) / ns;
  }
  for (int t = 0; t < m; t++) {
    for (int i = 0; i < n; i++)
      if (!chosen[i] && anchor[i] > anchor[a[t]] * (1 + 1e-9))
        fail_msg("pick %d (%lld, anchor %g) is not the farthest: %d has %g", t, (long long)a[t], anchor[a[t]], i,
                 anchor[i]);
    assert_false(chosen[a[t]]);
    chosen[a[t]] = 1;
    for (int i = 0; i < n; i++) {
      double dd = dist(x + i * d, x + a[t] * d, d);
      if (dd < anchor[i])
        anchor[i] = dd;
    }
  }
  free(anchor);
  free(chosen);
  free(x);
}

/* One start: the greedy coreset is farthest point sampling from that start (its first pick excluded);
 * compare with the geometry layer's FPS on 3-d points. */
static void test_one_start_is_fps(void **unused) {
  (void)unused;
  rng_t r;
  rng_seed(&r, 8);
  const int n = 500, m = 40;
  float *x = malloc((size_t)n * 3 * sizeof *x);
  for (int i = 0; i < 3 * n; i++)
    x[i] = (float)rng_uniform(&r);
  int64_t start = 17, got[40], fps[41];
  assert_int_equal(coreset_approx(x, n, 3, m, &start, 1, NULL, got), AD3D_OK);
  assert_int_equal(sample_fps(x, n, m + 1, start, fps), AD3D_OK);
  assert_int_equal(fps[0], start);
  for (int t = 0; t < m; t++)
    assert_int_equal(got[t], fps[t + 1]);
  free(x);
}

static void test_projection(void **unused) {
  (void)unused;
  rng_t r, r2;
  rng_seed(&r, 9);
  const int n = 50, d = 33, k = 128;
  float *x = malloc((size_t)n * d * sizeof *x), *y = malloc((size_t)n * k * sizeof *y);
  float *w = malloc((size_t)k * d * sizeof *w), *y2 = malloc((size_t)n * k * sizeof *y2);
  for (int i = 0; i < n * d; i++)
    x[i] = (float)(10 * rng_uniform(&r));
  r2 = r;
  assert_int_equal(coreset_project(x, n, d, k, &r, w, y), AD3D_OK);
  const double bound = 1 / sqrt((double)d);
  double mean = 0, var = 0;
  for (int i = 0; i < k * d; i++) {
    assert_true(fabs(w[i]) <= bound);
    mean += w[i] / (k * d);
    var += (double)w[i] * w[i] / (k * d);
  }
  assert_true(fabs(mean) < 0.05 * bound);                    /* uniform on [-b, b]: mean 0 */
  assert_true(fabs(var / (bound * bound / 3) - 1) < 0.1);     /* variance b^2 / 3 */
  for (int i = 0; i < n; i++)
    for (int j = 0; j < k; j++) {
      double s = 0;
      for (int c = 0; c < d; c++)
        s += (double)x[i * d + c] * w[j * d + c];
      assert_true(fabs(y[i * k + j] - s) <= 1e-5 * (1 + fabs(s)));
    }
  assert_int_equal(coreset_project(x, n, d, k, &r2, NULL, y2), AD3D_OK); /* same stream, same map */
  assert_memory_equal(y, y2, (size_t)n * k * sizeof *y);
  assert_int_equal(coreset_project(x, n, 0, k, &r2, NULL, y2), AD3D_EINVAL);
  free(x);
  free(y);
  free(y2);
  free(w);
}

/* coreset_select = project (unless proj_dim is 0 or d) + approximate sampler, sizes as documented. */
static void test_select(void **unused) {
  (void)unused;
  rng_t r;
  rng_seed(&r, 10);
  const int n = 300, d = 20;
  float *x = malloc((size_t)n * d * sizeof *x);
  for (int i = 0; i < n * d; i++)
    x[i] = (float)rng_normal(&r);
  coreset_opts o = coreset_defaults();
  assert_int_equal(o.size, 10000);
  assert_int_equal(o.proj_dim, 128);
  assert_int_equal(o.nstart, 10);
  assert_int_equal(coreset_size(&o, n), n); /* clamped */
  o.size = 0, o.ratio = 0.1;
  assert_int_equal(coreset_size(&o, n), 30);
  o.ratio = 0.001;
  assert_int_equal(coreset_size(&o, n), 1);

  int64_t *sel = NULL, m = 0, want[40];
  o.size = 40;
  /* projected: equals project + approx on the same stream */
  rng_t a = r, b = r;
  assert_int_equal(coreset_select(x, n, d, &o, &a, &sel, &m), AD3D_OK);
  assert_int_equal(m, 40);
  float *y = malloc((size_t)n * 128 * sizeof *y);
  assert_int_equal(coreset_project(x, n, d, 128, &b, NULL, y), AD3D_OK);
  assert_int_equal(coreset_approx(y, n, 128, 40, NULL, 10, &b, want), AD3D_OK);
  char seen[300] = {0};
  for (int t = 0; t < 40; t++) {
    assert_int_equal(sel[t], want[t]);
    assert_true(sel[t] >= 0 && sel[t] < n && !seen[sel[t]]);
    seen[sel[t]] = 1;
  }
  free(sel);
  /* no projection when proj_dim == d or 0 */
  o.proj_dim = d;
  a = r, b = r;
  assert_int_equal(coreset_select(x, n, d, &o, &a, &sel, &m), AD3D_OK);
  assert_int_equal(coreset_approx(x, n, d, 40, NULL, 10, &b, want), AD3D_OK);
  for (int t = 0; t < 40; t++)
    assert_int_equal(sel[t], want[t]);
  free(sel);
  /* every vector: a permutation, even with duplicates */
  for (int i = 0; i < 100; i++)
    memcpy(x + i * d, x, (size_t)d * sizeof *x);
  o.size = n, o.proj_dim = 0;
  assert_int_equal(coreset_select(x, n, d, &o, &r, &sel, &m), AD3D_OK);
  memset(seen, 0, sizeof seen);
  for (int t = 0; t < n; t++) {
    assert_false(seen[sel[t]]);
    seen[sel[t]] = 1;
  }
  free(sel);
  /* errors */
  o.size = 0, o.ratio = 0;
  assert_int_equal(coreset_select(x, n, d, &o, &r, &sel, &m), AD3D_EINVAL);
  assert_null(sel);
  assert_int_equal(coreset_approx(x, n, d, n + 1, NULL, 10, &r, want), AD3D_EINVAL);
  assert_int_equal(coreset_exact(x, CORESET_EXACT_MAX_N + 1, d, 2, NULL, 0, want), AD3D_EINVAL);
  free(y);
  free(x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_matches_reference),
      cmocka_unit_test(test_approx_equals_exact_and_greedy_property),
      cmocka_unit_test(test_one_start_is_fps),
      cmocka_unit_test(test_projection),
      cmocka_unit_test(test_select),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
