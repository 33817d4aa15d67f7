/* test_kdtree.c - kd-tree kNN and radius queries against brute force.
 *
 * Oracle: every (squared distance, index) pair computed with the same float formula, sorted by
 * distance then index. Results must match it exactly (indices and distances), which checks the
 * smaller-index tie-break on clouds with duplicate points and on integer grids (exact ties).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "geom/kdtree.h"

typedef struct {
  float d2;
  int64_t i;
} pair_t;

static int pair_cmp(const void *a, const void *b) {
  const pair_t *x = a, *y = b;
  if (x->d2 != y->d2)
    return x->d2 < y->d2 ? -1 : 1;
  return (x->i > y->i) - (x->i < y->i);
}

/* All n points sorted by (d2, index) from q: out (n). */
static void brute_sorted(const float *pts, int64_t n, const float *q, pair_t *out) {
  for (int64_t i = 0; i < n; i++) {
    float dx = q[0] - pts[3 * i], dy = q[1] - pts[3 * i + 1], dz = q[2] - pts[3 * i + 2];
    out[i].d2 = dx * dx + dy * dy + dz * dz;
    out[i].i = i;
  }
  qsort(out, (size_t)n, sizeof *out, pair_cmp);
}

/* Check kdtree_knn and (one row of) kdtree_knn_batch for query q against brute force. */
static void check_knn(const kdtree *t, const float *pts, int64_t n, const float *q, int k) {
  pair_t *ref = malloc(sizeof *ref * (size_t)(n ? n : 1));
  int64_t *idx = malloc(sizeof *idx * (size_t)(k ? k : 1));
  float *d2 = malloc(sizeof *d2 * (size_t)(k ? k : 1));
  assert_non_null(ref);
  assert_non_null(idx);
  assert_non_null(d2);
  brute_sorted(pts, n, q, ref);
  int want = (int)(k < n ? k : n);
  int got = kdtree_knn(t, q, k, idx, d2);
  assert_int_equal(got, want);
  for (int j = 0; j < got; j++) {
    if (idx[j] != ref[j].i || d2[j] != ref[j].d2)
      fail_msg("knn k=%d n=%lld rank %d: got (%lld, %.9g), brute force (%lld, %.9g)", k, (long long)n, j,
               (long long)idx[j], d2[j], (long long)ref[j].i, ref[j].d2);
  }
  /* batch of one row: same answer, padded */
  kdtree_knn_batch(t, q, 1, k, idx, d2);
  for (int j = 0; j < k; j++) {
    if (j < want) {
      assert_int_equal(idx[j], ref[j].i);
      assert_true(d2[j] == ref[j].d2);
    } else {
      assert_int_equal(idx[j], -1);
      assert_true(isinf(d2[j]) && d2[j] > 0);
    }
  }
  free(ref);
  free(idx);
  free(d2);
}

/* Check kdtree_radius (with cap max_nn, <= 0 none) against brute force. */
static void check_radius(const kdtree *t, const float *pts, int64_t n, const float *q, float r, int64_t max_nn,
                         int64_t **idx, float **d2, int64_t *cap) {
  pair_t *ref = malloc(sizeof *ref * (size_t)(n ? n : 1));
  assert_non_null(ref);
  brute_sorted(pts, n, q, ref);
  float r2 = r * r;
  int64_t want = 0;
  while (want < n && ref[want].d2 <= r2)
    want++;
  if (max_nn > 0 && want > max_nn)
    want = max_nn;
  int64_t got = kdtree_radius(t, q, r, max_nn, idx, d2, cap);
  if (got != want)
    fail_msg("radius r=%g cap=%lld n=%lld: %lld results, brute force %lld", r, (long long)max_nn, (long long)n,
             (long long)got, (long long)want);
  assert_true(*cap >= got);
  for (int64_t j = 0; j < got; j++)
    if ((*idx)[j] != ref[j].i || (*d2)[j] != ref[j].d2)
      fail_msg("radius r=%g cap=%lld rank %lld: got (%lld, %.9g), brute force (%lld, %.9g)", r, (long long)max_nn,
               (long long)j, (long long)(*idx)[j], (*d2)[j], (long long)ref[j].i, ref[j].d2);
  free(ref);
}

static void random_cloud(rng_t *r, float *pts, int64_t n, float scale) {
  for (int64_t i = 0; i < 3 * n; i++)
    pts[i] = (float)((rng_uniform(r) * 2.0 - 1.0) * scale);
}

/* Queries: some cloud points (distance-0 hits), some random inside, some far outside the box. */
static void make_query(rng_t *r, const float *pts, int64_t n, float scale, float q[3]) {
  int kind = (int)rng_below(r, 3);
  if (kind == 0 && n > 0) {
    memcpy(q, pts + 3 * rng_below(r, (uint64_t)n), sizeof(float) * 3);
  } else {
    float s = kind == 2 ? 4.0f * scale : scale;
    for (int a = 0; a < 3; a++)
      q[a] = (float)((rng_uniform(r) * 2.0 - 1.0) * s);
  }
}

static void check_cloud(const float *pts, int64_t n, rng_t *r, float scale, int nq) {
  kdtree *t = NULL;
  assert_int_equal(kdtree_build(pts, n, &t), AD3D_OK);
  assert_non_null(t);
  assert_int_equal(kdtree_size(t), n);
  int64_t *idx = NULL, cap = 0;
  float *d2 = NULL;
  const int ks[] = {0, 1, 2, 7, 16, 17, 33};
  for (int qi = 0; qi < nq; qi++) {
    float q[3];
    make_query(r, pts, n, scale, q);
    for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++)
      check_knn(t, pts, n, q, ks[ki]);
    check_knn(t, pts, n, q, (int)n);
    check_knn(t, pts, n, q, (int)n + 3);
    const float radii[] = {0.0f, 0.05f * scale, 0.3f * scale, 1.0f * scale, 10.0f * scale};
    for (size_t ri = 0; ri < sizeof radii / sizeof *radii; ri++) {
      check_radius(t, pts, n, q, radii[ri], 0, &idx, &d2, &cap);
      check_radius(t, pts, n, q, radii[ri], 1, &idx, &d2, &cap);
      check_radius(t, pts, n, q, radii[ri], 10, &idx, &d2, &cap);
    }
  }
  free(idx);
  free(d2);
  kdtree_free(t);
}

/* ---- tests ------------------------------------------------------------------------------------- */

static void test_kdtree_random_clouds(void **state) {
  (void)state;
  rng_t r;
  rng_seed(&r, 7);
  const int64_t sizes[] = {1, 2, 5, 16, 17, 33, 100, 1000, 5000};
  for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
    int64_t n = sizes[s];
    float *pts = malloc(sizeof *pts * 3 * (size_t)n);
    assert_non_null(pts);
    random_cloud(&r, pts, n, 1.0f);
    check_cloud(pts, n, &r, 1.0f, n > 1000 ? 20 : 40);
    free(pts);
  }
}

/* A flat, anisotropic cloud (one axis much wider, one of zero width) and a line. */
static void test_kdtree_degenerate_shapes(void **state) {
  (void)state;
  rng_t r;
  rng_seed(&r, 8);
  const int64_t n = 800;
  float *pts = malloc(sizeof *pts * 3 * (size_t)n);
  assert_non_null(pts);
  for (int64_t i = 0; i < n; i++) {
    pts[3 * i] = (float)(rng_uniform(&r) * 100.0);
    pts[3 * i + 1] = (float)rng_uniform(&r);
    pts[3 * i + 2] = 0.0f;
  }
  check_cloud(pts, n, &r, 50.0f, 30);
  for (int64_t i = 0; i < n; i++) {
    pts[3 * i + 1] = 0.0f;
  }
  check_cloud(pts, n, &r, 50.0f, 30);
  free(pts);
}

/* Many duplicate points: 600 points on 25 distinct locations, and one cloud of identical points. */
static void test_kdtree_duplicates(void **state) {
  (void)state;
  rng_t r;
  rng_seed(&r, 9);
  const int64_t n = 600;
  float sites[25 * 3];
  random_cloud(&r, sites, 25, 1.0f);
  float *pts = malloc(sizeof *pts * 3 * (size_t)n);
  assert_non_null(pts);
  for (int64_t i = 0; i < n; i++)
    memcpy(pts + 3 * i, sites + 3 * rng_below(&r, 25), sizeof(float) * 3);
  check_cloud(pts, n, &r, 1.0f, 40);
  for (int64_t i = 0; i < n; i++) {
    pts[3 * i] = 0.5f;
    pts[3 * i + 1] = -0.25f;
    pts[3 * i + 2] = 2.0f;
  }
  check_cloud(pts, n, &r, 1.0f, 10);
  free(pts);
}

/* An integer grid: many exactly equal distances; queries on grid points, half-integers, centres. */
static void test_kdtree_grid_ties(void **state) {
  (void)state;
  rng_t r;
  rng_seed(&r, 10);
  const int g = 9;
  const int64_t n = (int64_t)g * g * g;
  float *pts = malloc(sizeof *pts * 3 * (size_t)n);
  assert_non_null(pts);
  /* written in a scrambled order so that index order is not spatial order */
  for (int64_t i = 0; i < n; i++) {
    int64_t c = (i * 337) % n; /* 337 is prime to 729 */
    pts[3 * i] = (float)(c % g);
    pts[3 * i + 1] = (float)((c / g) % g);
    pts[3 * i + 2] = (float)(c / (g * g));
  }
  kdtree *t = NULL;
  assert_int_equal(kdtree_build(pts, n, &t), AD3D_OK);
  int64_t *idx = NULL, cap = 0;
  float *d2 = NULL;
  for (int qi = 0; qi < 60; qi++) {
    float q[3];
    for (int a = 0; a < 3; a++)
      q[a] = (float)rng_below(&r, 2 * g + 2) * 0.5f - 0.5f; /* -0.5 .. g, on the half grid */
    const int ks[] = {1, 6, 7, 19, 27, 64};
    for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++)
      check_knn(t, pts, n, q, ks[ki]);
    const float radii[] = {0.5f, 1.0f, (float)sqrt(2.0), (float)sqrt(0.75), 2.0f, 3.0f};
    for (size_t ri = 0; ri < sizeof radii / sizeof *radii; ri++) {
      check_radius(t, pts, n, q, radii[ri], 0, &idx, &d2, &cap);
      check_radius(t, pts, n, q, radii[ri], 5, &idx, &d2, &cap);
    }
  }
  free(idx);
  free(d2);
  kdtree_free(t);
  free(pts);
}

/* A grid point's 6 face neighbours are tied; the smaller indices must win. Explicit check. */
static void test_kdtree_tie_break_explicit(void **state) {
  (void)state;
  /* index: 0 centre-far, then six points at distance 1 from the origin, in a chosen order */
  const float pts[] = {5, 5, 5, 0, 0, 1, 1, 0, 0, 0, -1, 0, -1, 0, 0, 0, 1, 0, 0, 0, -1};
  kdtree *t = NULL;
  assert_int_equal(kdtree_build(pts, 7, &t), AD3D_OK);
  const float q[3] = {0, 0, 0};
  int64_t idx[7];
  float d2[7];
  assert_int_equal(kdtree_knn(t, q, 3, idx, d2), 3);
  assert_int_equal(idx[0], 1);
  assert_int_equal(idx[1], 2);
  assert_int_equal(idx[2], 3);
  assert_true(d2[0] == 1.0f && d2[2] == 1.0f);
  assert_int_equal(kdtree_knn(t, q, 7, idx, d2), 7);
  assert_int_equal(idx[5], 6);
  assert_int_equal(idx[6], 0);
  assert_true(d2[6] == 75.0f);
  kdtree_free(t);
}

static void test_kdtree_empty_and_k_above_n(void **state) {
  (void)state;
  kdtree *t = NULL;
  assert_int_equal(kdtree_build(NULL, 0, &t), AD3D_OK);
  assert_non_null(t);
  assert_int_equal(kdtree_size(t), 0);
  const float q[6] = {0, 0, 0, 1, 2, 3};
  int64_t idx[8];
  float d2[8];
  assert_int_equal(kdtree_knn(t, q, 4, idx, d2), 0);
  kdtree_knn_batch(t, q, 2, 4, idx, d2);
  for (int j = 0; j < 8; j++) {
    assert_int_equal(idx[j], -1);
    assert_true(isinf(d2[j]));
  }
  int64_t *ri = NULL, cap = 0;
  float *rd = NULL;
  assert_int_equal(kdtree_radius(t, q, 100.0f, 0, &ri, &rd, &cap), 0);
  assert_int_equal(kdtree_radius(t, q, 100.0f, 3, &ri, &rd, &cap), 0);
  kdtree_free(t);

  /* 3 points, k = 5: 3 found, batch rows padded */
  const float pts[] = {0, 0, 0, 2, 0, 0, 0, 3, 0};
  assert_int_equal(kdtree_build(pts, 3, &t), AD3D_OK);
  int64_t bidx[10];
  float bd2[10];
  kdtree_knn_batch(t, q, 2, 5, bidx, bd2);
  const int64_t want0[5] = {0, 1, 2, -1, -1}; /* from (0,0,0): 0, 4, 9 */
  const int64_t want1[5] = {2, 0, 1, -1, -1}; /* from (1,2,3): 11, 14, 14 -> tie 0 < 1 */
  for (int j = 0; j < 5; j++) {
    assert_int_equal(bidx[j], want0[j]);
    assert_int_equal(bidx[5 + j], want1[j]);
  }
  assert_true(bd2[1] == 4.0f && bd2[5] == 11.0f && bd2[6] == 14.0f && bd2[7] == 14.0f);
  assert_true(isinf(bd2[3]) && isinf(bd2[9]));
  /* k = 0: nothing written */
  assert_int_equal(kdtree_knn(t, q, 0, NULL, NULL), 0);
  kdtree_knn_batch(t, q, 2, 0, NULL, NULL);
  /* radius edge cases: r = 0 finds the coincident point only, negative or NaN r finds nothing */
  assert_int_equal(kdtree_radius(t, q, 0.0f, 0, &ri, &rd, &cap), 1);
  assert_int_equal(ri[0], 0);
  assert_int_equal(kdtree_radius(t, q, -1.0f, 0, &ri, &rd, &cap), 0);
  assert_int_equal(kdtree_radius(t, q, NAN, 0, &ri, &rd, &cap), 0);
  assert_int_equal(kdtree_radius(t, q, INFINITY, 2, &ri, &rd, &cap), 2);
  assert_int_equal(kdtree_radius(t, q, INFINITY, 0, &ri, &rd, &cap), 3);
  free(ri);
  free(rd);
  kdtree_free(t);
  kdtree_free(NULL);
  assert_int_equal(kdtree_size(NULL), 0);
}

/* A batch over many queries equals the per-query calls. */
static void test_kdtree_batch(void **state) {
  (void)state;
  rng_t r;
  rng_seed(&r, 11);
  const int64_t n = 3000, m = 500;
  const int k = 12;
  float *pts = malloc(sizeof *pts * 3 * (size_t)n), *qs = malloc(sizeof *qs * 3 * (size_t)m);
  int64_t *idx = malloc(sizeof *idx * (size_t)(m * k));
  float *d2 = malloc(sizeof *d2 * (size_t)(m * k));
  pair_t *ref = malloc(sizeof *ref * (size_t)n);
  assert_true(pts && qs && idx && d2 && ref);
  random_cloud(&r, pts, n, 10.0f);
  random_cloud(&r, qs, m, 12.0f);
  kdtree *t = NULL;
  assert_int_equal(kdtree_build(pts, n, &t), AD3D_OK);
  kdtree_knn_batch(t, qs, m, k, idx, d2);
  for (int64_t i = 0; i < m; i++) {
    brute_sorted(pts, n, qs + 3 * i, ref);
    for (int j = 0; j < k; j++) {
      assert_int_equal(idx[i * k + j], ref[j].i);
      assert_true(d2[i * k + j] == ref[j].d2);
    }
  }
  kdtree_free(t);
  free(pts);
  free(qs);
  free(idx);
  free(d2);
  free(ref);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kdtree_random_clouds),      cmocka_unit_test(test_kdtree_degenerate_shapes),
      cmocka_unit_test(test_kdtree_duplicates),         cmocka_unit_test(test_kdtree_grid_ties),
      cmocka_unit_test(test_kdtree_tie_break_explicit), cmocka_unit_test(test_kdtree_empty_and_k_above_n),
      cmocka_unit_test(test_kdtree_batch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
