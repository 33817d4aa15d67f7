/* test_nnsearch.c - exact high-dimensional kNN: the brute-force reference against numpy
 * (fixtures/geom/make_nnsearch_fixture.py, ties and duplicates included), and the BLAS search against
 * the reference on data that stresses its blocks, its candidate margin and its exactness check. */
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
#include "geom/nnsearch.h"

static FILE *open_fixture(const char *name) {
  const char *root = getenv("AD3D_FIXTURES");
  char path[1024];
  snprintf(path, sizeof path, "%s/geom/%s", root && *root ? root : AD3D_FIXTURES, name);
  FILE *f = fopen(path, "r");
  if (!f)
    fail_msg("cannot open %s", path);
  return f;
}

/* Compare BLAS search with the brute-force reference: identical indices and distances. */
static void expect_same_as_brute(const float *base, int64_t n, int d, const float *qs, int64_t m, int k) {
  int64_t *i1 = malloc((size_t)(m * k) * sizeof *i1), *i2 = malloc((size_t)(m * k) * sizeof *i2);
  float *d1 = malloc((size_t)(m * k) * sizeof *d1), *d2 = malloc((size_t)(m * k) * sizeof *d2);
  nnsearch *t = NULL;
  assert_int_equal(nnsearch_build(base, n, d, &t), AD3D_OK);
  assert_int_equal(nnsearch_knn(t, qs, m, k, i1, d1), AD3D_OK);
  assert_int_equal(nnsearch_knn_brute(base, n, d, qs, m, k, i2, d2), AD3D_OK);
  for (int64_t j = 0; j < m * k; j++) {
    if (i1[j] != i2[j] || !(d1[j] == d2[j] || (isinf(d1[j]) && isinf(d2[j]))))
      fail_msg("query %lld rank %lld: blas (%lld, %g) brute (%lld, %g)", (long long)(j / k), (long long)(j % k),
               (long long)i1[j], d1[j], (long long)i2[j], d2[j]);
  }
  nnsearch_free(t);
  free(i1);
  free(i2);
  free(d1);
  free(d2);
}

static void test_brute_matches_numpy_with_ties(void **unused) {
  (void)unused;
  FILE *f = open_fixture("nnsearch_ties.txt");
  int n, d, m, k;
  assert_int_equal(fscanf(f, "%d %d %d %d", &n, &d, &m, &k), 4);
  float *base = malloc((size_t)n * d * sizeof *base), *qs = malloc((size_t)m * d * sizeof *qs);
  for (int i = 0; i < n * d; i++)
    assert_int_equal(fscanf(f, "%f", &base[i]), 1);
  for (int i = 0; i < m * d; i++)
    assert_int_equal(fscanf(f, "%f", &qs[i]), 1);
  int64_t *idx = malloc((size_t)m * k * sizeof *idx);
  float *d2 = malloc((size_t)m * k * sizeof *d2);
  assert_int_equal(nnsearch_knn_brute(base, n, d, qs, m, k, idx, d2), AD3D_OK);
  int64_t *idx2 = malloc((size_t)m * k * sizeof *idx2);
  float *dd2 = malloc((size_t)m * k * sizeof *dd2);
  nnsearch *t = NULL;
  assert_int_equal(nnsearch_build(base, n, d, &t), AD3D_OK);
  assert_int_equal(nnsearch_knn(t, qs, m, k, idx2, dd2), AD3D_OK);
  for (int q = 0; q < m; q++) {
    long want_i[64];
    double want_d[64];
    for (int j = 0; j < k; j++)
      assert_int_equal(fscanf(f, "%ld", &want_i[j]), 1);
    for (int j = 0; j < k; j++)
      assert_int_equal(fscanf(f, "%lf", &want_d[j]), 1);
    for (int j = 0; j < k; j++) {
      assert_int_equal(idx[q * k + j], want_i[j]);
      assert_true(d2[q * k + j] == (float)want_d[j]);
      assert_int_equal(idx2[q * k + j], want_i[j]);
      assert_true(dd2[q * k + j] == (float)want_d[j]);
    }
  }
  fclose(f);
  nnsearch_free(t);
  free(base);
  free(qs);
  free(idx);
  free(d2);
  free(idx2);
  free(dd2);
}

static float *random_matrix(rng_t *r, int64_t rows, int d, double offset, double scale) {
  float *x = malloc((size_t)(rows * d) * sizeof *x);
  for (int64_t i = 0; i < rows * d; i++)
    x[i] = (float)(offset + scale * rng_normal(r));
  return x;
}

/* More queries than a query block, more base vectors than a base block, odd dimensions. */
static void test_blocks_match_brute(void **unused) {
  (void)unused;
  rng_t r;
  rng_seed(&r, 3);
  const int64_t n = NNSEARCH_BBLOCK + 517, m = NNSEARCH_QBLOCK + 61;
  const int dims[3] = {1, 33, 131};
  for (int t = 0; t < 3; t++) {
    float *base = random_matrix(&r, n, dims[t], 0.0, 1.0);
    float *qs = random_matrix(&r, m, dims[t], 0.0, 1.0);
    memcpy(qs, base + 5 * dims[t], (size_t)dims[t] * sizeof *qs); /* an exact hit */
    expect_same_as_brute(base, n, dims[t], qs, m, 1);
    expect_same_as_brute(base, n, dims[t], qs, m, 4);
    free(base);
    free(qs);
  }
}

/* FPFH-like data far from the origin with a tiny spread: without centring, |q|^2 + |b|^2 - 2 q.b
 * would lose every digit of the distances. */
static void test_far_from_origin(void **unused) {
  (void)unused;
  rng_t r;
  rng_seed(&r, 4);
  float *base = random_matrix(&r, 700, 33, 1000.0, 0.01);
  float *qs = random_matrix(&r, 90, 33, 1000.0, 0.01);
  expect_same_as_brute(base, 700, 33, qs, 90, 3);
  free(base);
  free(qs);
}

/* Many base vectors at nearly the same distance from the query: the approximate pass cannot rank
 * them, so the exactness check must send the query to brute force. */
static void test_near_ties_fall_back(void **unused) {
  (void)unused;
  rng_t r;
  rng_seed(&r, 5);
  const int d = 64, n = 300;
  float *base = calloc((size_t)n * d, sizeof *base);
  for (int i = 0; i < n; i++) {
    base[i * d + i % d] = 1.0f + (float)(1e-6 * rng_uniform(&r)) * (i % 7 == 0);
    base[i * d + (i * 7 + 3) % d] += 0.5f;
  }
  float q[64] = {0};
  expect_same_as_brute(base, n, d, q, 1, 10);
  /* exact ties: all at distance 1, the smallest indices win */
  float *unit = calloc((size_t)d * d, sizeof *unit);
  for (int i = 0; i < d; i++)
    unit[i * d + (d - 1 - i)] = 1.0f;
  int64_t idx[12];
  float d2[12];
  nnsearch *t = NULL;
  assert_int_equal(nnsearch_build(unit, d, d, &t), AD3D_OK);
  assert_int_equal(nnsearch_knn(t, q, 1, 12, idx, d2), AD3D_OK);
  for (int j = 0; j < 12; j++) {
    assert_int_equal(idx[j], j);
    assert_true(d2[j] == 1.0f);
  }
  nnsearch_free(t);
  free(unit);
  free(base);
}

static void test_edges(void **unused) {
  (void)unused;
  float base[6] = {0, 0, 1, 1, 2, 2}; /* three 2-d vectors */
  float q[2] = {0.9f, 0.9f};
  int64_t idx[5];
  float d2[5];
  nnsearch *t = NULL;
  assert_int_equal(nnsearch_build(base, 3, 2, &t), AD3D_OK);
  assert_int_equal(nnsearch_size(t), 3);
  assert_int_equal(nnsearch_dim(t), 2);
  assert_int_equal(nnsearch_knn(t, q, 1, 5, idx, d2), AD3D_OK); /* k > n: padded */
  assert_int_equal(idx[0], 1);
  assert_int_equal(idx[1], 0);
  assert_int_equal(idx[2], 2);
  assert_int_equal(idx[3], -1);
  assert_true(isinf(d2[4]));
  assert_int_equal(nnsearch_knn(t, q, 0, 1, idx, d2), AD3D_OK); /* no queries */
  assert_int_equal(nnsearch_knn(t, q, 1, 0, idx, d2), AD3D_EINVAL);
  nnsearch_free(t);
  assert_int_equal(nnsearch_build(base, 0, 2, &t), AD3D_OK); /* empty base */
  assert_int_equal(nnsearch_knn(t, q, 1, 2, idx, d2), AD3D_OK);
  assert_int_equal(idx[0], -1);
  assert_true(isinf(d2[1]));
  nnsearch_free(t);
  base[3] = NAN;
  assert_int_equal(nnsearch_build(base, 3, 2, &t), AD3D_ENUMERIC);
  assert_null(t);
  assert_int_equal(nnsearch_build(base, 3, 0, &t), AD3D_EINVAL);
  nnsearch_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_brute_matches_numpy_with_ties),
      cmocka_unit_test(test_blocks_match_brute),
      cmocka_unit_test(test_far_from_origin),
      cmocka_unit_test(test_near_ties_fall_back),
      cmocka_unit_test(test_edges),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
