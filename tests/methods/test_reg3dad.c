/* test_reg3dad.c - Reg3D-AD's registered-xyz bank: without registration, against a numpy oracle
 * (fixtures/methods/make_baselines_fixture.py: 1-NN distances, leave-one-out min-max bounds); with
 * registration, a rigidly moved copy of every sample scores as the unmoved ones do. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "baseline_fixture.h"

static void test_bank_matches_oracle(void **unused) {
  (void)unused;
  fx_file clouds, fx;
  fx_load(&clouds, "baselines_clouds.txt");
  fx_load(&fx, "reg3dad.txt");
  sample_t train[2], test;
  fx_sample(&clouds, "train0", &train[0]);
  fx_sample(&clouds, "train1", &train[1]);
  fx_sample(&clouds, "test", &test);
  const int n = (int)test.cloud.n;
  const fx_block *raw = fx_get(&fx, "pointR", n, 1), *norm = fx_get(&fx, "pointN", n, 1);
  const fx_block *obj = fx_get(&fx, "object", 1, 2);
  float *scores = malloc((size_t)n * sizeof *scores);
  const char *plain[] = {"register=false", "coreset=none", "normalize=false", NULL};
  double o = fx_run("reg3dad", plain, train, 2, &test, scores, 1);
  fx_expect_close("raw score", scores, raw->v, n, 1e-5, 1e-6);
  assert_true(fabs(o - obj->v[1]) < 1e-5 * obj->v[1]);
  const char *normed[] = {"register=false", "coreset=none", NULL};
  o = fx_run("reg3dad", normed, train, 2, &test, scores, 1);
  fx_expect_close("normalised score", scores, norm->v, n, 1e-5, 1e-5);
  assert_true(fabs(o - obj->v[0]) < 1e-5 * fabs(obj->v[0]) + 1e-5);
  /* a coreset of the bank: distances only grow */
  const char *small[] = {"register=false", "memory_size=200", "normalize=false", NULL};
  fx_run("reg3dad", small, train, 2, &test, scores, 1);
  for (int i = 0; i < n; i++)
    assert_true(scores[i] >= raw->v[i] - 1e-6);
  free(scores);
  sample_free(&train[0]);
  sample_free(&train[1]);
  sample_free(&test);
  fx_free(&clouds);
  fx_free(&fx);
}

/* An irregular closed blob, sampled at random (n points, noise sigma). */
static void blob(rng_t *r, int n, double sigma, float *out) {
  static const double c[6][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {-0.6, 0.8, 0}, {0, -0.6, -0.8}, {0.6, 0, -0.8}};
  static const double amp[6] = {0.3, 0.2, 0.35, -0.15, 0.25, 0.2}, w[6] = {0.3, 0.4, 0.25, 0.3, 0.2, 0.35};
  for (int i = 0; i < n; i++) {
    double u[3], nn = 0;
    for (int k = 0; k < 3; k++)
      u[k] = rng_normal(r), nn += u[k] * u[k];
    double rad = 1;
    for (int k = 0; k < 3; k++)
      u[k] /= sqrt(nn);
    for (int b = 0; b < 6; b++) {
      double d2 = 0;
      for (int k = 0; k < 3; k++)
        d2 += (u[k] - c[b][k]) * (u[k] - c[b][k]);
      rad += amp[b] * exp(-d2 / (2 * w[b] * w[b]));
    }
    const double stretch[3] = {1.3, 1.0, 0.8};
    for (int k = 0; k < 3; k++)
      out[3 * i + k] = (float)(rad * u[k] * stretch[k] + sigma * rng_normal(r));
  }
}

/* (x, y, z) -> rotation by angle a about axis (normalised) ax, then + t. */
static void move(float *p, int n, const double ax[3], double a, const double t[3]) {
  double k[3], nn = sqrt(ax[0] * ax[0] + ax[1] * ax[1] + ax[2] * ax[2]);
  for (int j = 0; j < 3; j++)
    k[j] = ax[j] / nn;
  const double c = cos(a), s = sin(a);
  for (int i = 0; i < n; i++) {
    double v[3] = {p[3 * i], p[3 * i + 1], p[3 * i + 2]}, kv = k[0] * v[0] + k[1] * v[1] + k[2] * v[2];
    double cr[3] = {k[1] * v[2] - k[2] * v[1], k[2] * v[0] - k[0] * v[2], k[0] * v[1] - k[1] * v[0]};
    for (int j = 0; j < 3; j++)
      p[3 * i + j] = (float)(v[j] * c + cr[j] * s + k[j] * kv * (1 - c) + t[j]);
  }
}

static void test_registration_undoes_motion(void **unused) {
  (void)unused;
  rng_t r;
  rng_seed(&r, 5);
  const int n = 3000;
  sample_t train[3], test, moved;
  for (int s = 0; s < 3; s++) {
    memset(&train[s], 0, sizeof train[s]);
    train[s].name = strdup("train");
    assert_int_equal(cloud_alloc(&train[s].cloud, n), AD3D_OK);
    blob(&r, n, 0.002, train[s].cloud.xyz);
  }
  memset(&test, 0, sizeof test);
  memset(&moved, 0, sizeof moved);
  test.name = strdup("test");
  moved.name = strdup("moved");
  assert_int_equal(cloud_alloc(&test.cloud, n), AD3D_OK);
  assert_int_equal(cloud_alloc(&moved.cloud, n), AD3D_OK);
  blob(&r, n, 0.002, test.cloud.xyz);
  memcpy(moved.cloud.xyz, test.cloud.xyz, (size_t)n * 3 * sizeof(float));
  const double ax1[3] = {1, 2, 0.5}, t1[3] = {0.5, -0.3, 0.2}, ax2[3] = {-0.3, 0.2, 1}, t2[3] = {-1, 0, 0.4};
  move(train[1].cloud.xyz, n, ax1, 1.0, t1); /* a training sample in another pose */
  move(moved.cloud.xyz, n, ax2, 2.0, t2);
  float *base = malloc((size_t)n * sizeof *base), *reg = malloc((size_t)n * sizeof *reg);
  const char *off[] = {"register=false", "coreset=none", "normalize=false", NULL};
  const char *on[] = {"voxel=0.06", "icp=true", "coreset=none", "normalize=false", NULL};
  sample_t aligned[2] = {train[0], train[2]}; /* the unmoved training samples only */
  double o_base = fx_run("reg3dad", off, aligned, 2, &test, base, 1);
  double o_reg = fx_run("reg3dad", on, train, 3, &moved, reg, 1);
  double mb = 0, mr = 0;
  for (int i = 0; i < n; i++)
    mb += base[i] / n, mr += reg[i] / n;
  /* three training samples registered vs two in place: the bank is denser, distances a little smaller */
  if (!(mr < 1.2 * mb && mr > 0.5 * mb && o_reg < 1.5 * o_base))
    fail_msg("mean score in place %g, registered %g; max %g, %g", mb, mr, o_base, o_reg);
  double o_unreg = fx_run("reg3dad", off, train, 3, &moved, reg, 1);
  assert_true(o_unreg > 5 * o_base);
  free(base);
  free(reg);
  for (int s = 0; s < 3; s++)
    sample_free(&train[s]);
  sample_free(&test);
  sample_free(&moved);
}

static void test_title(void **unused) {
  (void)unused;
  const method_vt *M = method_find("reg3dad");
  assert_non_null(M);
  assert_string_equal(M->title, "RegAD");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bank_matches_oracle),
      cmocka_unit_test(test_registration_undoes_motion),
      cmocka_unit_test(test_title),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
