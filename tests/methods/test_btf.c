/* test_btf.c - BTF(Raw) against a brute-force numpy oracle (fixtures/methods/make_btf_fixture.py):
 * point scores with 1-NN fill back, and the max, re-weighted max and top-k mean object scores. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "methods/method.h"

typedef struct {
  int train_stride, test_stride, topk;
  sample_t train[2], test;
  double obj_max, obj_rw, obj_topk;
  double *point; /* (test.cloud.n) */
} fixture;

static void read_cloud(FILE *f, sample_t *s) {
  long n;
  assert_int_equal(fscanf(f, "%ld", &n), 1);
  assert_int_equal(cloud_alloc(&s->cloud, n), AD3D_OK);
  for (long i = 0; i < 3 * n; i++)
    assert_int_equal(fscanf(f, "%f", &s->cloud.xyz[i]), 1);
}

static void load(fixture *fx) {
  FILE *f = fopen(AD3D_FIXTURES "/methods/btf_raw.txt", "r");
  assert_non_null(f);
  memset(fx, 0, sizeof *fx);
  assert_int_equal(fscanf(f, "%d %d %d", &fx->train_stride, &fx->test_stride, &fx->topk), 3);
  read_cloud(f, &fx->train[0]);
  read_cloud(f, &fx->train[1]);
  read_cloud(f, &fx->test);
  fx->test.name = strdup("test");
  assert_int_equal(fscanf(f, "%lf %lf %lf", &fx->obj_max, &fx->obj_rw, &fx->obj_topk), 3);
  fx->point = malloc((size_t)fx->test.cloud.n * sizeof *fx->point);
  for (int64_t i = 0; i < fx->test.cloud.n; i++)
    assert_int_equal(fscanf(f, "%lf", &fx->point[i]), 1);
  fclose(f);
}

static void fixture_free(fixture *fx) {
  sample_free(&fx->train[0]);
  sample_free(&fx->train[1]);
  sample_free(&fx->test);
  free(fx->point);
}

static double run_btf(const fixture *fx, const char *rule, float *scores) {
  const method_vt *M = method_find("btf_raw");
  assert_non_null(M);
  opts_t o = {0};
  char buf[32];
  assert_int_equal(opts_set_defaults(&o, "btf_raw", M->opts), AD3D_OK);
  for (const opt_spec *s = M->opts; s->name; s++) {
    const char *v = NULL;
    if (!strcmp(s->name, "train_stride"))
      snprintf(buf, sizeof buf, "%d", fx->train_stride), v = buf;
    else if (!strcmp(s->name, "test_stride"))
      snprintf(buf, sizeof buf, "%d", fx->test_stride), v = buf;
    else if (!strcmp(s->name, "topk"))
      snprintf(buf, sizeof buf, "%d", fx->topk), v = buf;
    else if (!strcmp(s->name, "object_score"))
      v = rule;
    if (v)
      assert_int_equal(opts_set_text(&o, "btf_raw", s, v), AD3D_OK);
  }
  rng_t rng;
  rng_seed(&rng, 1);
  void *state = NULL;
  double obj = NAN;
  assert_int_equal(M->create(&o, &rng, &state), AD3D_OK);
  assert_int_equal(M->fit(state, fx->train, 2), AD3D_OK);
  assert_int_equal(M->score(state, &fx->test, scores, &obj), AD3D_OK);
  M->destroy(state);
  opts_free(&o);
  return obj;
}

static void test_btf_raw_matches_oracle(void **unused) {
  (void)unused;
  fixture fx;
  load(&fx);
  float *scores = malloc((size_t)fx.test.cloud.n * sizeof *scores);
  const char *rules[3] = {"max", "reweighted", "topk_mean"};
  double want[3] = {fx.obj_max, fx.obj_rw, fx.obj_topk};
  for (int r = 0; r < 3; r++) {
    double obj = run_btf(&fx, rules[r], scores);
    assert_true(fabs(obj - want[r]) <= 1e-5 * fabs(want[r]) + 1e-6);
    for (int64_t i = 0; i < fx.test.cloud.n; i++)
      assert_true(fabs(scores[i] - fx.point[i]) <= 1e-5 * fx.point[i] + 1e-6);
  }
  /* the anomalous blob (first 20 points) scores above the median point */
  double blob = 0;
  for (int i = 0; i < 20; i++)
    blob += scores[i] / 20;
  int below = 0;
  for (int64_t i = 20; i < fx.test.cloud.n; i++)
    below += scores[i] < blob;
  assert_true(below > (fx.test.cloud.n - 20) * 3 / 4);
  free(scores);
  fixture_free(&fx);
}

static void test_btf_rejects_bad_rule(void **unused) {
  (void)unused;
  const method_vt *M = method_find("btf_raw");
  opts_t o = {0};
  assert_int_equal(opts_set_defaults(&o, "btf_raw", M->opts), AD3D_OK);
  for (const opt_spec *s = M->opts; s->name; s++)
    if (!strcmp(s->name, "object_score"))
      assert_int_equal(opts_set_text(&o, "btf_raw", s, "median"), AD3D_OK);
  rng_t rng;
  rng_seed(&rng, 1);
  void *state = NULL;
  assert_int_equal(M->create(&o, &rng, &state), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "median"));
  opts_free(&o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_btf_raw_matches_oracle),
      cmocka_unit_test(test_btf_rejects_bad_rule),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
