/* test_curvature.c - the training-free curvature baseline against a numpy oracle
 * (fixtures/methods/make_baselines_fixture.py: brute-force kNN, numpy eigh): IMRNet's rate of change
 * and the surface variation per point, and the max and top-k mean object scores. */
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

static void test_matches_oracle(void **unused) {
  (void)unused;
  fx_file clouds, fx;
  fx_load(&clouds, "baselines_clouds.txt");
  fx_load(&fx, "curvature.txt");
  sample_t test;
  fx_sample(&clouds, "test", &test);
  const int n = (int)test.cloud.n;
  const fx_block *var = fx_get(&fx, "variation", n, 1), *rate = fx_get(&fx, "rate", n, 1);
  const fx_block *obj = fx_get(&fx, "object", 1, 3);
  float *s = malloc((size_t)n * sizeof *s);
  const char *rate_max[] = {"score=rate", "object_score=max", NULL};
  const char *rate_top[] = {"score=rate", "object_score=topk_mean", "topk=10", NULL};
  const char *var_max[] = {"score=variation", "object_score=max", NULL};
  double o = fx_run("curvature", rate_max, NULL, 0, &test, s, 1);
  fx_expect_close("rate", s, rate->v, n, 1e-4, 1e-5);
  assert_true(fabs(o - obj->v[0]) < 1e-4 * obj->v[0]);
  o = fx_run("curvature", rate_top, NULL, 0, &test, s, 1);
  assert_true(fabs(o - obj->v[1]) < 1e-4 * obj->v[1]);
  o = fx_run("curvature", var_max, NULL, 0, &test, s, 1);
  fx_expect_close("variation", s, var->v, n, 1e-4, 1e-6);
  assert_true(fabs(o - obj->v[2]) < 1e-4 * obj->v[2]);
  free(s);
  sample_free(&test);
  fx_free(&clouds);
  fx_free(&fx);
}

static void test_rejects_reweighted(void **unused) {
  (void)unused;
  const method_vt *M = method_find("curvature");
  assert_non_null(M);
  assert_string_equal(M->title, "Curvature");
  opts_t o = {0};
  assert_int_equal(opts_set_defaults(&o, "curvature", M->opts), AD3D_OK);
  for (const opt_spec *sp = M->opts; sp->name; sp++)
    if (!strcmp(sp->name, "object_score"))
      assert_int_equal(opts_set_text(&o, "curvature", sp, "reweighted"), AD3D_OK);
  rng_t rng;
  rng_seed(&rng, 1);
  void *st = NULL;
  assert_int_equal(M->create(&o, &rng, &st), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "reweighted"));
  opts_free(&o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_matches_oracle),
      cmocka_unit_test(test_rejects_reweighted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
