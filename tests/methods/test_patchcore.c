/* test_patchcore.c - PatchCore(FPFH) and PatchCore(FPFH+Raw) against numpy oracles on Open3D's FPFH
 * (fixtures/methods/make_baselines_fixture.py): the full memory bank (every point scored; max, top-k
 * mean and re-weighted object scores), the appended xyz with a test stride and fill back, and the exact
 * greedy coreset; then the approximate coreset's scores can only rise, and registration inside the
 * method undoes a rigid motion of the test sample. */
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

typedef struct {
  fx_file clouds, fx;
  sample_t train[2], test;
  char voxel[48];
  float *scores, *scores2;
} pc_fixture;

static int setup(void **state) {
  pc_fixture *f = calloc(1, sizeof *f);
  fx_load(&f->clouds, "baselines_clouds.txt");
  fx_load(&f->fx, "patchcore.txt");
  fx_sample(&f->clouds, "train0", &f->train[0]);
  fx_sample(&f->clouds, "train1", &f->train[1]);
  fx_sample(&f->clouds, "test", &f->test);
  snprintf(f->voxel, sizeof f->voxel, "voxel=%.17g", fx_get(&f->fx, "params", 1, 3)->v[0]);
  f->scores = malloc((size_t)f->test.cloud.n * sizeof *f->scores);
  f->scores2 = malloc((size_t)f->test.cloud.n * sizeof *f->scores2);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  pc_fixture *f = *state;
  sample_free(&f->train[0]);
  sample_free(&f->train[1]);
  sample_free(&f->test);
  fx_free(&f->clouds);
  fx_free(&f->fx);
  free(f->scores);
  free(f->scores2);
  free(f);
  return 0;
}

static void expect_obj(const char *what, double got, double want) {
  if (!(fabs(got - want) <= 1e-5 * fabs(want) + 1e-4))
    fail_msg("%s: object score %.9g, oracle %.9g", what, got, want);
}

static void test_full_bank(void **state) {
  pc_fixture *f = *state;
  const fx_block *point = fx_get(&f->fx, "pointA", (int)f->test.cloud.n, 1), *obj = fx_get(&f->fx, "objectA", 1, 3);
  const char *rules[3] = {"object_score=max", "object_score=topk_mean", "object_score=reweighted"};
  for (int r = 0; r < 3; r++) {
    const char *sets[] = {f->voxel, "coreset=none", "topk=5", rules[r], NULL};
    expect_obj(rules[r], fx_run("patchcore_fpfh", sets, f->train, 2, &f->test, f->scores, 1), obj->v[r]);
    fx_expect_close("point score", f->scores, point->v, f->test.cloud.n, 1e-5, 1e-4);
  }
  /* memory_size above the number of features: the coreset keeps everything */
  const char *sets[] = {f->voxel, "memory_size=5000", NULL};
  expect_obj("max", fx_run("patchcore_fpfh", sets, f->train, 2, &f->test, f->scores, 1), obj->v[0]);
}

static void test_fpfh_raw(void **state) {
  pc_fixture *f = *state;
  const fx_block *par = fx_get(&f->fx, "params", 1, 3);
  const fx_block *point = fx_get(&f->fx, "pointB", (int)f->test.cloud.n, 1), *obj = fx_get(&f->fx, "objectB", 1, 1);
  char rep[32], scale[48];
  snprintf(rep, sizeof rep, "xyz_repeat=%d", (int)par->v[1]);
  snprintf(scale, sizeof scale, "xyz_scale=%.17g", par->v[2]);
  const char *sets[] = {f->voxel, "coreset=none", "register=false", "test_stride=3", rep, scale, NULL};
  expect_obj("max", fx_run("patchcore_fpfh_raw", sets, f->train, 2, &f->test, f->scores, 1), obj->v[0]);
  fx_expect_close("point score", f->scores, point->v, f->test.cloud.n, 1e-5, 1e-4);
}

static void test_exact_coreset(void **state) {
  pc_fixture *f = *state;
  const fx_block *point = fx_get(&f->fx, "pointC", (int)f->test.cloud.n, 1);
  const char *sets[] = {f->voxel, "coreset=exact", "proj_dim=0", "memory_size=60", "train_stride=5", NULL};
  fx_run("patchcore_fpfh", sets, f->train, 2, &f->test, f->scores, 1);
  fx_expect_close("point score", f->scores, point->v, f->test.cloud.n, 1e-5, 1e-4);
}

/* A coreset is a subset of the bank: every distance can only grow; with a real reduction some do. */
static void test_approx_coreset_subset(void **state) {
  pc_fixture *f = *state;
  const fx_block *full = fx_get(&f->fx, "pointA", (int)f->test.cloud.n, 1);
  const char *sets[] = {f->voxel, "memory_size=100", NULL};
  double obj = fx_run("patchcore_fpfh", sets, f->train, 2, &f->test, f->scores, 7);
  int grew = 0;
  double mx = 0;
  for (int64_t i = 0; i < f->test.cloud.n; i++) {
    assert_true(f->scores[i] >= full->v[i] - 1e-3);
    grew += f->scores[i] > full->v[i] + 1e-3;
    mx = f->scores[i] > mx ? f->scores[i] : mx;
  }
  assert_true(grew > f->test.cloud.n / 2);
  assert_true(fabs(obj - mx) < 1e-6 * mx);
  /* same seed, same coreset; another seed, other random starts and projection */
  fx_run("patchcore_fpfh", sets, f->train, 2, &f->test, f->scores2, 7);
  assert_memory_equal(f->scores, f->scores2, (size_t)f->test.cloud.n * sizeof *f->scores);
}

/* Rotate and shift the test sample: with registration on, PatchCore(FPFH+Raw) scores it about as it
 * scores the sample in place; without, the (heavily weighted) xyz part makes every point look anomalous. */
static void test_registration_undoes_motion(void **state) {
  pc_fixture *f = *state;
  sample_t moved = {0};
  moved.name = strdup("moved");
  assert_int_equal(cloud_alloc(&moved.cloud, f->test.cloud.n), AD3D_OK);
  const double a = 0.5, c = cos(a), s = sin(a);
  for (int64_t i = 0; i < f->test.cloud.n; i++) {
    const float *p = f->test.cloud.xyz + 3 * i;
    moved.cloud.xyz[3 * i] = (float)(p[0] + 0.3);
    moved.cloud.xyz[3 * i + 1] = (float)(c * p[1] - s * p[2] - 0.2);
    moved.cloud.xyz[3 * i + 2] = (float)(s * p[1] + c * p[2] + 0.3);
  }
  const char *sets[] = {f->voxel, "coreset=none", "xyz_scale=50", "icp=true", NULL};
  const char *sets_off[] = {f->voxel, "coreset=none", "xyz_scale=50", "register=false", NULL};
  double mean[3] = {0, 0, 0};
  const sample_t *which[3] = {&f->test, &moved, &moved};
  for (int k = 0; k < 3; k++) {
    fx_run("patchcore_fpfh_raw", k == 1 ? sets : sets_off, f->train, 2, which[k], f->scores, 3);
    for (int64_t i = 0; i < f->test.cloud.n; i++)
      mean[k] += f->scores[i] / (double)f->test.cloud.n;
  }
  if (!(fabs(mean[1] - mean[0]) < 0.1 * mean[0] && mean[2] > 1.5 * mean[0]))
    fail_msg("mean point score: in place %g, moved and registered %g, moved unregistered %g", mean[0], mean[1],
             mean[2]);
  sample_free(&moved);
}

static void test_titles_and_bad_options(void **unused) {
  (void)unused;
  assert_string_equal(method_find("patchcore_fpfh")->title, "PatchCore(FPFH)");
  assert_string_equal(method_find("patchcore_fpfh_raw")->title, "PatchCore(FPFH+Raw)");
  const method_vt *M = method_find("patchcore_fpfh");
  opts_t o = {0};
  assert_int_equal(opts_set_defaults(&o, "patchcore_fpfh", M->opts), AD3D_OK);
  assert_int_equal(opts_int(&o, "patchcore_fpfh.memory_size"), 10000);
  assert_int_equal(opts_int(&o, "patchcore_fpfh.proj_dim"), 128);
  assert_int_equal(opts_int(&o, "patchcore_fpfh.coreset_starts"), 10);
  assert_string_equal(opts_str(&o, "patchcore_fpfh.object_score"), "max");
  for (const opt_spec *s = M->opts; s->name; s++)
    if (!strcmp(s->name, "coreset"))
      assert_int_equal(opts_set_text(&o, "patchcore_fpfh", s, "kmeans"), AD3D_OK);
  rng_t rng;
  rng_seed(&rng, 1);
  void *st = NULL;
  assert_int_equal(M->create(&o, &rng, &st), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "kmeans"));
  opts_free(&o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full_bank),
      cmocka_unit_test(test_fpfh_raw),
      cmocka_unit_test(test_exact_coreset),
      cmocka_unit_test(test_approx_coreset_subset),
      cmocka_unit_test(test_registration_undoes_motion),
      cmocka_unit_test(test_titles_and_bad_options),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
