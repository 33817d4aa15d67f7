/* test_job_sweep.c - sweeps: grid and zip expansion, order (the first entry varies slowest),
 * variant names, file and --sweep entries together, every sweep error with its message, and the
 * round trip of resolved_text (job_load of it gives the same job). Methods come from
 * test_registry.c (btf_raw, toy). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cfg/job.h"
#include "job_test_util.h"

#define NELEM(a) ((int)(sizeof(a) / sizeof(a)[0]))

static void test_no_sweep(void **state) {
  (void)state;
  job_t job;
  assert_int_equal(job_load(NULL, NULL, 0, NULL, 0, &job), AD3D_OK);
  assert_int_equal(job.nvariants, 1);
  assert_string_equal(job.variants[0].name, "default");
  assert_null(strstr(job.resolved_text, "sweep ="));
  job_free(&job);
}

/* 2 x 3 grid from the file; variants in the order of nested loops, first entry outermost. */
static void test_grid(void **state) {
  (void)state;
  char *path = job_write("grid.cfg", "run = { seed = 9; };\n"
                                     "sweep = (\n"
                                     "  { key = \"btf_raw.train_stride\"; values = [50, 100]; },\n"
                                     "  { key = \"run.seed\"; values = [1, 2, 3]; }\n"
                                     ");\n");
  job_t job;
  assert_int_equal(job_load(path, NULL, 0, NULL, 0, &job), AD3D_OK);
  assert_int_equal(job.nvariants, 6);
  const int strides[] = {50, 100};
  const int seeds[] = {1, 2, 3};
  int v = 0;
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < 3; b++, v++) {
      char name[128];
      snprintf(name, sizeof name, "btf_raw.train_stride=%d,run.seed=%d", strides[a], seeds[b]);
      assert_string_equal(job.variants[v].name, name);
      const opts_t *o = &job.variants[v].opts;
      assert_int_equal(opts_int(o, "btf_raw.train_stride"), strides[a]);
      assert_int_equal(opts_int(o, "run.seed"), seeds[b]);
      assert_int_equal(opts_int(o, "run.blas_threads"), 1);
      assert_string_equal(opts_str(o, "btf_raw.object_score"), "reweighted");
      assert_int_equal(o->n, 17);
    }
  job_free(&job);
  free(path);
}

/* zip: the i-th values together; also given as "zip" by --set over a grid file. */
static void test_zip(void **state) {
  (void)state;
  char *path = job_write("zip.cfg", "run = { sweep_mode = \"zip\"; };\n"
                                    "sweep = (\n"
                                    "  { key = \"btf_raw.train_stride\"; values = [50, 100, 200]; },\n"
                                    "  { key = \"toy.radius\"; values = (0.25, 1, 2.5); }\n"
                                    ");\n");
  job_t job;
  assert_int_equal(job_load(path, NULL, 0, NULL, 0, &job), AD3D_OK);
  assert_int_equal(job.nvariants, 3);
  assert_string_equal(job.variants[0].name, "btf_raw.train_stride=50,toy.radius=0.25");
  assert_string_equal(job.variants[1].name, "btf_raw.train_stride=100,toy.radius=1.0");
  assert_string_equal(job.variants[2].name, "btf_raw.train_stride=200,toy.radius=2.5");
  assert_true(opts_real(&job.variants[1].opts, "toy.radius") == 1.0);
  assert_int_equal(opts_int(&job.variants[2].opts, "btf_raw.train_stride"), 200);
  job_free(&job);
  free(path);
  char *sets[] = {"run.sweep_mode=zip"};
  char *sweeps[] = {"run.seed=1,2", "btf_raw.train_stride=5,6"};
  assert_int_equal(job_load(NULL, sets, 1, sweeps, 2, &job), AD3D_OK);
  assert_int_equal(job.nvariants, 2);
  assert_string_equal(job.variants[0].name, "run.seed=1,btf_raw.train_stride=5");
  assert_string_equal(job.variants[1].name, "run.seed=2,btf_raw.train_stride=6");
  job_free(&job);
}

/* Names show strings unquoted and lists as [a, b]; file entries come before --sweep ones. */
static void test_names_and_cli(void **state) {
  (void)state;
  char *path = job_write("names.cfg",
                         "sweep = ( { key = \"run.classes\"; values = ([\"bottle0\", \"bowl1\"], \"cap0\"); } );\n");
  char *sweeps[] = {"btf_raw.object_score=max,topk_mean", "toy.use_normals=false,true"};
  job_t job;
  assert_int_equal(job_load(path, NULL, 0, sweeps, 2, &job), AD3D_OK);
  assert_int_equal(job.nvariants, 8);
  assert_string_equal(job.variants[0].name,
                      "run.classes=[bottle0, bowl1],btf_raw.object_score=max,toy.use_normals=false");
  assert_string_equal(job.variants[1].name,
                      "run.classes=[bottle0, bowl1],btf_raw.object_score=max,toy.use_normals=true");
  assert_string_equal(job.variants[2].name,
                      "run.classes=[bottle0, bowl1],btf_raw.object_score=topk_mean,toy.use_normals=false");
  assert_string_equal(job.variants[7].name, "run.classes=[cap0],btf_raw.object_score=topk_mean,toy.use_normals=true");
  assert_list(&job.variants[0].opts, "run.classes", (const char *const[]){"bottle0", "bowl1"}, 2);
  assert_list(&job.variants[7].opts, "run.classes", (const char *const[]){"cap0"}, 1);
  assert_string_equal(opts_str(&job.variants[2].opts, "btf_raw.object_score"), "topk_mean");
  assert_int_equal(opts_bool(&job.variants[1].opts, "toy.use_normals"), 1);
  job_free(&job);
  free(path);
  /* a sweep over a dataset declared by --set, and over run.datasets */
  char *sets[] = {"datasets.mine.root=/data/x"};
  char *sweeps2[] = {"run.datasets=quick,mine", "datasets.mine.layout=anomaly_shapenet,real3d_ad"};
  assert_int_equal(job_load(NULL, sets, 1, sweeps2, 2, &job), AD3D_OK);
  assert_int_equal(job.nvariants, 4);
  assert_string_equal(job.variants[3].name, "run.datasets=[mine],datasets.mine.layout=real3d_ad");
  assert_list(&job.variants[3].opts, "run.datasets", (const char *const[]){"mine"}, 1);
  job_free(&job);
}

/* One bad sweep: a file (NULL: none) and --sweep arguments; message after "<path>:" if a file. */
static void sweep_error(const char *text, char *const *sweeps, int n, ad3d_status code, const char *message) {
  char *path = text ? job_write("job.cfg", text) : NULL;
  char expect[1024];
  snprintf(expect, sizeof expect, "%s%s%s", path ? path : "", path ? ":" : "", message);
  expect_load_error(path, NULL, 0, sweeps, n, code, expect);
  free(path);
}

static void test_sweep_errors(void **state) {
  (void)state;
  sweep_error("\nsweep = ( { key = \"btf_raw.train_strid\"; values = [1, 2]; } );\n", NULL, 0, AD3D_ENOTFOUND,
              "2: sweep: unknown key btf_raw.train_strid (did you mean btf_raw.train_stride?)");
  sweep_error("sweep = (\n  { key = \"btf_raw.train_stride\";\n    values = [];\n  }\n);\n", NULL, 0, AD3D_EINVAL,
              "2: sweep over btf_raw.train_stride has no values");
  sweep_error("sweep = ( { key = \"run.output\"; values = [\"a.h5\", \"b.h5\"]; } );\n", NULL, 0, AD3D_EINVAL,
              "1: run.output cannot be swept");
  sweep_error("sweep = ( { key = \"btf_raw.train_stride\"; values = [\"a\"]; } );\n", NULL, 0, AD3D_EINVAL,
              "1: sweep value 1: btf_raw.train_stride: expected an integer, got a string");
  sweep_error("sweep = ( { key = \"btf_raw.train_stride\"; values = (5, 2.5); } );\n", NULL, 0, AD3D_EINVAL,
              "1: sweep value 2: btf_raw.train_stride: expected an integer, got a real number");
  sweep_error("sweep = ( { key = \"btf_raw.train_stride\"; valeus = [1]; } );\n", NULL, 0, AD3D_ENOTFOUND,
              "1: unknown key sweep.valeus (did you mean values?)");
  sweep_error("sweep = ( { key = \"btf_raw.train_stride\"; } );\n", NULL, 0, AD3D_EINVAL,
              "1: sweep entry needs key and values");
  sweep_error("sweep = ( { key = \"btf_raw.train_stride\"; values = 5; } );\n", NULL, 0, AD3D_EINVAL,
              "1: sweep over btf_raw.train_stride: values: expected an array or a list, got an integer");
  sweep_error("sweep = { key = \"run.seed\"; values = [1]; };\n", NULL, 0, AD3D_EINVAL,
              "1: sweep: expected a list of groups, got a group "
              "(sweep = ( { key = \"btf_raw.train_stride\"; values = [50, 100]; } );)");
  sweep_error("sweep = ( { key = \"datasets.mine.root\"; values = [\"/a\"]; } );\n", NULL, 0, AD3D_ENOTFOUND,
              "1: sweep: unknown key datasets.mine.root (dataset mine is not declared)");
  sweep_error(NULL, (char *[]){"run.seed="}, 1, AD3D_EINVAL, "--sweep run.seed=: sweep over run.seed has no values");
  sweep_error(NULL, (char *[]){"run.seed"}, 1, AD3D_EINVAL, "--sweep run.seed: expected key=value1,value2,...");
  sweep_error(NULL, (char *[]){"run.sed=1,2"}, 1, AD3D_ENOTFOUND,
              "--sweep run.sed=1,2: unknown key run.sed (did you mean run.seed?)");
  sweep_error(NULL, (char *[]){"run.output=a.h5,b.h5"}, 1, AD3D_EINVAL,
              "--sweep run.output=a.h5,b.h5: run.output cannot be swept");
  sweep_error(NULL, (char *[]){"run.sweep_mode=grid,zip"}, 1, AD3D_EINVAL,
              "--sweep run.sweep_mode=grid,zip: run.sweep_mode cannot be swept");
  sweep_error(NULL, (char *[]){"run.seed=1,1"}, 1, AD3D_EINVAL,
              "--sweep run.seed=1,1: sweep over run.seed repeats the value 1");
  sweep_error(NULL, (char *[]){"btf_raw.train_stride=0,5"}, 1, AD3D_EINVAL,
              "--sweep btf_raw.train_stride=0,5: btf_raw.train_stride: 0 is outside [1, 1e+09]");
  sweep_error(
      NULL, (char *[]){"datasets.quick.layout=anomaly_shapenet,real3d-ad"}, 1, AD3D_EINVAL,
      "--sweep datasets.quick.layout=anomaly_shapenet,real3d-ad: datasets.quick.layout: \"real3d-ad\" is not one of "
      "anomaly_shapenet, real3d_ad (did you mean real3d_ad?)");
  sweep_error(NULL, (char *[]){"run.methods=btf_raw,toi"}, 1, AD3D_ENOTFOUND,
              "--sweep run.methods=btf_raw,toi: variant run.methods=[toi]: run.methods: unknown method toi (did you "
              "mean toy?) (registered: btf_raw, toy)");
  /* messages naming the file twice */
  char *path = job_write("zip.cfg", "run = {\n  sweep_mode = \"zip\";\n};\n"
                                    "sweep = ( { key = \"btf_raw.train_stride\"; values = [1, 2]; } );\n");
  char expect[1024];
  snprintf(expect, sizeof expect,
           "%s:2: run.sweep_mode = zip needs sweeps of equal lengths: btf_raw.train_stride has 2 values (%s:4), "
           "run.seed has 3 (--sweep run.seed=1,2,3)",
           path, path);
  expect_load_error(path, NULL, 0, (char *[]){"run.seed=1,2,3"}, 1, AD3D_EINVAL, expect);
  free(path);
  path = job_write("dup.cfg", "\nsweep = ( { key = \"run.seed\"; values = [1, 2]; } );\n");
  snprintf(expect, sizeof expect, "--sweep run.seed=4: run.seed is already swept (%s:2)", path);
  expect_load_error(path, NULL, 0, (char *[]){"run.seed=4"}, 1, AD3D_EINVAL, expect);
  free(path);
}

/* resolved_text read back gives the same job: options from defaults, a file, --set and sweeps,
 * with strings that need escapes, a 64-bit integer, reals that %.6g would round, lists. */
static void test_round_trip(void **state) {
  (void)state;
  char *path = job_write(
      "rt.cfg",
      "run = { seed = 5000000000L; classes = [\"bottle0\", \"bowl1\"]; };\n"
      "datasets = { mine = { root = \"/data/with \\\"quotes\\\" \\\\ and\\ttab\"; layout = \"real3d_ad\"; }; };\n"
      "toy = { radius = 0.1; scale = 1e-300; layers = []; big = -5000000000L; };\n"
      "sweep = ( { key = \"toy.radius\"; values = (0.30000000000000004, 2, 1e-7); },\n"
      "          { key = \"run.classes\"; values = ([\"a\", \"b\"], \"c\", []); } );\n");
  char *sets[] = {"run.datasets=quick,mine", "btf_raw.object_score=max", "toy.scale=123456789.123456789",
                  "datasets.other.root=embedded:other"};
  char *sweeps[] = {"btf_raw.train_stride=7,8"};
  job_t job, back, again;
  assert_int_equal(job_load(path, sets, NELEM(sets), sweeps, 1, &job), AD3D_OK);
  assert_int_equal(job.nvariants, 18);
  assert_string_equal(opts_str(&job.variants[0].opts, "datasets.mine.root"), "/data/with \"quotes\" \\ and\ttab");
  assert_true(opts_int(&job.variants[0].opts, "run.seed") == 5000000000LL);
  assert_true(opts_real(&job.variants[0].opts, "toy.radius") == 0.30000000000000004);
  assert_string_equal(job.variants[0].name, "toy.radius=0.30000000000000004,run.classes=[a, b],btf_raw.train_stride=7");
  assert_string_equal(job.variants[5].name, "toy.radius=0.30000000000000004,run.classes=[],btf_raw.train_stride=8");
  char *rpath = job_write("resolved.cfg", job.resolved_text);
  assert_int_equal(job_load(rpath, NULL, 0, NULL, 0, &back), AD3D_OK);
  assert_jobs_same(&job, &back);
  /* the resolved text is a fixed point, and a sweep-free job round-trips too */
  assert_int_equal(job_load(NULL, NULL, 0, NULL, 0, &again), AD3D_OK);
  char *dpath = job_write("resolved_default.cfg", again.resolved_text);
  job_free(&back);
  assert_int_equal(job_load(dpath, NULL, 0, NULL, 0, &back), AD3D_OK);
  assert_jobs_same(&again, &back);
  job_free(&again);
  job_free(&back);
  job_free(&job);
  free(path);
  free(rpath);
  free(dpath);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_sweep),      cmocka_unit_test(test_grid),         cmocka_unit_test(test_zip),
      cmocka_unit_test(test_names_and_cli), cmocka_unit_test(test_sweep_errors), cmocka_unit_test(test_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, tmp_cleanup);
}
