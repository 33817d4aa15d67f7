/* test_btf_fpfh.c - BTF(FPFH) against a numpy oracle on Open3D's FPFH
 * (fixtures/methods/make_baselines_fixture.py): strided memory bank, strided scoring with 1-NN fill back,
 * and the max, re-weighted max (D = 33) and top-k mean object scores. */
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

static void test_btf_fpfh_matches_oracle(void **unused) {
  (void)unused;
  fx_file clouds, fx;
  fx_load(&clouds, "baselines_clouds.txt");
  fx_load(&fx, "btf_fpfh.txt");
  sample_t train[2], test;
  fx_sample(&clouds, "train0", &train[0]);
  fx_sample(&clouds, "train1", &train[1]);
  fx_sample(&clouds, "test", &test);
  const fx_block *par = fx_get(&fx, "params", 1, 4), *point = fx_get(&fx, "point", (int)test.cloud.n, 1);
  const fx_block *obj = fx_get(&fx, "object", 1, 3);
  char voxel[32], ts[32], qs[32], topk[32];
  snprintf(voxel, sizeof voxel, "voxel=%.17g", par->v[0]);
  snprintf(ts, sizeof ts, "train_stride=%d", (int)par->v[1]);
  snprintf(qs, sizeof qs, "test_stride=%d", (int)par->v[2]);
  snprintf(topk, sizeof topk, "topk=%d", (int)par->v[3]);
  const char *rules[3] = {"object_score=max", "object_score=reweighted", "object_score=topk_mean"};
  float *scores = malloc((size_t)test.cloud.n * sizeof *scores);
  for (int r = 0; r < 3; r++) {
    const char *sets[] = {voxel, ts, qs, topk, rules[r], NULL};
    double got = fx_run("btf_fpfh", sets, train, 2, &test, scores, 1);
    if (!(fabs(got - obj->v[r]) <= 1e-4 * fabs(obj->v[r]) + 1e-4))
      fail_msg("%s: object score %.9g, oracle %.9g", rules[r], got, obj->v[r]);
    /* FPFH agrees with Open3D to about 1e-5 here: distances (tens of units) to 1e-5 relative */
    fx_expect_close("point score", scores, point->v, test.cloud.n, 1e-5, 1e-4);
  }
  /* the bump (around (0.3, -0.2)) scores above the flat part */
  double in = 0, out = 0;
  int nin = 0, nout = 0;
  for (int64_t i = 0; i < test.cloud.n; i++) {
    const float *p = test.cloud.xyz + 3 * i;
    double r2 = (p[0] - 0.3) * (p[0] - 0.3) + (p[1] + 0.2) * (p[1] + 0.2);
    if (r2 < 0.1 * 0.1)
      in += scores[i], nin++;
    else if (r2 > 0.4 * 0.4)
      out += scores[i], nout++;
  }
  assert_true(nin > 0 && in / nin > 1.5 * out / nout);
  free(scores);
  sample_free(&train[0]);
  sample_free(&train[1]);
  sample_free(&test);
  fx_free(&clouds);
  fx_free(&fx);
}

static void test_btf_fpfh_registered(void **unused) {
  (void)unused;
  const method_vt *M = method_find("btf_fpfh");
  assert_non_null(M);
  assert_string_equal(M->title, "BTF(FPFH)");
  opts_t o = {0};
  assert_int_equal(opts_set_defaults(&o, "btf_fpfh", M->opts), AD3D_OK);
  assert_true(opts_real(&o, "btf_fpfh.voxel") == 0.5);
  assert_int_equal(opts_int(&o, "btf_fpfh.train_stride"), 100);
  assert_int_equal(opts_int(&o, "btf_fpfh.test_stride"), 500);
  assert_string_equal(opts_str(&o, "btf_fpfh.object_score"), "reweighted");
  opts_free(&o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_btf_fpfh_matches_oracle),
      cmocka_unit_test(test_btf_fpfh_registered),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
