/* test_job_load.c - job_load without sweeps: defaults, job files, --set precedence, list and
 * number parsing, datasets declared by --set, and every error with its exact message (file and
 * line, or the --set argument, and the key). Methods come from test_registry.c (btf_raw, toy). */
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

/* The defaults, as the schema documents them (written out here, not read from the tables). */
static void test_defaults(void **state) {
  (void)state;
  job_t job;
  assert_int_equal(job_load(NULL, NULL, 0, NULL, 0, &job), AD3D_OK);
  assert_int_equal(job.nvariants, 1);
  assert_string_equal(job.variants[0].name, "default");
  const opts_t *o = &job.variants[0].opts;
  /* run (7) + datasets.quick (3) + btf_raw (2) + toy (5) */
  assert_int_equal(o->n, 17);
  assert_int_equal(opts_int(o, "run.seed"), 0);
  assert_string_equal(opts_str(o, "run.output"), "results.h5");
  assert_list(o, "run.methods", (const char *const[]){"btf_raw"}, 1);
  assert_list(o, "run.datasets", (const char *const[]){"quick"}, 1);
  assert_list(o, "run.classes", NULL, 0);
  assert_int_equal(opts_int(o, "run.blas_threads"), 1);
  assert_string_equal(opts_str(o, "run.sweep_mode"), "grid");
  assert_string_equal(opts_str(o, "datasets.quick.layout"), "anomaly_shapenet");
  assert_string_equal(opts_str(o, "datasets.quick.root"), "embedded:quick");
  assert_list(o, "datasets.quick.classes", NULL, 0);
  assert_int_equal(opts_int(o, "btf_raw.train_stride"), 100);
  assert_string_equal(opts_str(o, "btf_raw.object_score"), "reweighted");
  assert_true(opts_real(o, "toy.radius") == 0.5);
  assert_true(opts_real(o, "toy.scale") == 1e-3);
  assert_int_equal(opts_bool(o, "toy.use_normals"), 1);
  assert_list(o, "toy.layers", (const char *const[]){"a", "b"}, 2);
  assert_true(opts_int(o, "toy.big") == 5000000000LL);
  char **names;
  int n;
  assert_int_equal(job_dataset_names(o, &names, &n), AD3D_OK);
  assert_int_equal(n, 1);
  assert_string_equal(names[0], "quick");
  for (int i = 0; i < n; i++)
    free(names[i]);
  free(names);
  job_free(&job);
  job_free(&job); /* a freed job frees again safely */
  job_free(NULL);
}

static const char *full_job = "# a complete job\n"
                              "run = {\n"
                              "  seed = 7;\n"
                              "  output = \"out.h5\";\n"
                              "  methods = [\"btf_raw\", \"toy\"];\n"
                              "  datasets = [\"quick\", \"mine\"];\n"
                              "  blas_threads = 4;\n"
                              "};\n"
                              "datasets = {\n"
                              "  mine = { layout = \"real3d_ad\"; root = \"/data/real3d\"; classes = \"airplane\"; };\n"
                              "};\n"
                              "btf_raw = { train_stride = 50; };\n"
                              "toy = { radius = 2; scale = -1.5e3; use_normals = false; big = 5000000000L; };\n";

static void test_file_values(void **state) {
  (void)state;
  char *path = job_write("full.cfg", full_job);
  job_t job;
  assert_int_equal(job_load(path, NULL, 0, NULL, 0, &job), AD3D_OK);
  assert_int_equal(job.nvariants, 1);
  const opts_t *o = &job.variants[0].opts;
  assert_int_equal(o->n, 20); /* 17 defaults + datasets.mine (3) */
  assert_int_equal(opts_int(o, "run.seed"), 7);
  assert_string_equal(opts_str(o, "run.output"), "out.h5");
  assert_list(o, "run.methods", (const char *const[]){"btf_raw", "toy"}, 2);
  assert_list(o, "run.datasets", (const char *const[]){"quick", "mine"}, 2);
  assert_int_equal(opts_int(o, "run.blas_threads"), 4);
  assert_string_equal(opts_str(o, "datasets.mine.layout"), "real3d_ad");
  assert_string_equal(opts_str(o, "datasets.mine.root"), "/data/real3d");
  assert_list(o, "datasets.mine.classes", (const char *const[]){"airplane"}, 1);
  assert_string_equal(opts_str(o, "datasets.quick.root"), "embedded:quick"); /* untouched */
  assert_int_equal(opts_int(o, "btf_raw.train_stride"), 50);
  assert_string_equal(opts_str(o, "btf_raw.object_score"), "reweighted"); /* default kept */
  assert_true(opts_real(o, "toy.scale") == -1500.0);
  assert_int_equal(opts_bool(o, "toy.use_normals"), 0);
  assert_true(opts_int(o, "toy.big") == 5000000000LL);
  char **names;
  int n;
  assert_int_equal(job_dataset_names(o, &names, &n), AD3D_OK);
  assert_int_equal(n, 2);
  assert_string_equal(names[0], "mine");
  assert_string_equal(names[1], "quick");
  for (int i = 0; i < n; i++)
    free(names[i]);
  free(names);
  job_free(&job);
  free(path);
}

/* An integer where a real is expected, in the file and in --set. */
static void test_integer_for_real(void **state) {
  (void)state;
  char *path = job_write("int_real.cfg", "toy = { radius = 2; scale = 3; };\n");
  job_t job;
  assert_int_equal(job_load(path, NULL, 0, NULL, 0, &job), AD3D_OK);
  const opt_value *v = opts_find(&job.variants[0].opts, "toy.radius");
  assert_int_equal(v->type, OPT_REAL);
  assert_true(v->r == 2.0);
  assert_true(opts_real(&job.variants[0].opts, "toy.scale") == 3.0);
  job_free(&job);
  char *sets[] = {"toy.radius=7"};
  assert_int_equal(job_load(path, sets, 1, NULL, 0, &job), AD3D_OK);
  assert_true(opts_real(&job.variants[0].opts, "toy.radius") == 7.0);
  job_free(&job);
  free(path);
}

/* Later sources win: defaults < file < --set (in argument order). */
static void test_precedence(void **state) {
  (void)state;
  char *path = job_write("prec.cfg", "run = { seed = 1; output = \"file.h5\"; };\nbtf_raw = { train_stride = 60; };\n");
  char *sets[] = {"run.seed=3", "btf_raw.train_stride=70", "run.seed=4"};
  job_t job;
  assert_int_equal(job_load(path, sets, NELEM(sets), NULL, 0, &job), AD3D_OK);
  const opts_t *o = &job.variants[0].opts;
  assert_int_equal(opts_int(o, "run.seed"), 4);
  assert_int_equal(opts_int(o, "btf_raw.train_stride"), 70);
  assert_string_equal(opts_str(o, "run.output"), "file.h5"); /* file over default */
  assert_int_equal(opts_int(o, "run.blas_threads"), 1);      /* default */
  job_free(&job);
  /* --set alone over defaults */
  assert_int_equal(job_load(NULL, sets, 1, NULL, 0, &job), AD3D_OK);
  assert_int_equal(opts_int(&job.variants[0].opts, "run.seed"), 3);
  job_free(&job);
  free(path);
}

/* A list option takes an array, a list, a single string (a comma list) or an empty array;
 * --set takes a comma list. */
static void test_lists(void **state) {
  (void)state;
  struct {
    const char *text;
    const char *expect[3];
    int n;
  } cases[] = {
      {"run = { classes = [\"bottle0\", \"bowl1\"]; };\n", {"bottle0", "bowl1"}, 2},
      {"run = { classes = (\"bottle0\", \"bowl1\", \"cap0\"); };\n", {"bottle0", "bowl1", "cap0"}, 3},
      {"run = { classes = \"bottle0\"; };\n", {"bottle0"}, 1},
      {"run = { classes = \"bottle0,bowl1\"; };\n", {"bottle0", "bowl1"}, 2},
      {"run = { classes = []; };\n", {NULL}, 0},
      {"run = { classes = \"\"; };\n", {NULL}, 0},
  };
  for (int c = 0; c < NELEM(cases); c++) {
    char *path = job_write("list.cfg", cases[c].text);
    job_t job;
    assert_int_equal(job_load(path, NULL, 0, NULL, 0, &job), AD3D_OK);
    assert_list(&job.variants[0].opts, "run.classes", cases[c].expect, cases[c].n);
    job_free(&job);
    free(path);
  }
  char *sets[] = {"run.classes=bottle0,bowl1,cap0", "toy.layers="};
  job_t job;
  assert_int_equal(job_load(NULL, sets, 2, NULL, 0, &job), AD3D_OK);
  assert_list(&job.variants[0].opts, "run.classes", (const char *const[]){"bottle0", "bowl1", "cap0"}, 3);
  assert_list(&job.variants[0].opts, "toy.layers", NULL, 0);
  job_free(&job);
}

/* --set declares a new dataset with the defaults of the others. */
static void test_set_new_dataset(void **state) {
  (void)state;
  char *sets[] = {"datasets.mine.root=/data/x", "run.datasets=quick,mine", "datasets.mine.classes=cap0"};
  job_t job;
  assert_int_equal(job_load(NULL, sets, NELEM(sets), NULL, 0, &job), AD3D_OK);
  const opts_t *o = &job.variants[0].opts;
  assert_string_equal(opts_str(o, "datasets.mine.root"), "/data/x");
  assert_string_equal(opts_str(o, "datasets.mine.layout"), "anomaly_shapenet");
  assert_list(o, "datasets.mine.classes", (const char *const[]){"cap0"}, 1);
  assert_list(o, "run.datasets", (const char *const[]){"quick", "mine"}, 2);
  job_free(&job);
  /* and overrides a file's dataset */
  char *path = job_write("ds.cfg", "datasets = { mine = { root = \"/a\"; layout = \"real3d_ad\"; }; };\n");
  char *sets2[] = {"datasets.mine.root=/b"};
  assert_int_equal(job_load(path, sets2, 1, NULL, 0, &job), AD3D_OK);
  assert_string_equal(opts_str(&job.variants[0].opts, "datasets.mine.root"), "/b");
  assert_string_equal(opts_str(&job.variants[0].opts, "datasets.mine.layout"), "real3d_ad");
  job_free(&job);
  free(path);
}

/* @include is read relative to the job file, and an error inside names the included file. */
static void test_include(void **state) {
  (void)state;
  job_t job;
  assert_int_equal(job_load(AD3D_FIXTURES "/cfg/include_main.cfg", NULL, 0, NULL, 0, &job), AD3D_OK);
  assert_int_equal(opts_int(&job.variants[0].opts, "btf_raw.train_stride"), 25);
  assert_int_equal(opts_int(&job.variants[0].opts, "run.seed"), 11);
  job_free(&job);
  expect_load_error(AD3D_FIXTURES "/cfg/include_bad.cfg", NULL, 0, NULL, 0, AD3D_ENOTFOUND,
                    AD3D_FIXTURES "/cfg/include_bad_part.cfg:3: unknown key btf_raw.stride");
  expect_load_error(AD3D_FIXTURES "/cfg/include_syntax.cfg", NULL, 0, NULL, 0, AD3D_EFORMAT,
                    AD3D_FIXTURES "/cfg/include_syntax_part.cfg:2: syntax error");
}

/* One bad file: its text, the status, and the message after "<path>:". */
static void file_error(const char *text, ad3d_status code, const char *message) {
  char *path = job_write("job.cfg", text);
  char expect[1024];
  snprintf(expect, sizeof expect, "%s:%s", path, message);
  expect_load_error(path, NULL, 0, NULL, 0, code, expect);
  free(path);
}

static void test_file_errors(void **state) {
  (void)state;
  file_error("run = {\n  seed = 1;\n  output = ;\n};\n", AD3D_EFORMAT, "3: syntax error");
  file_error("run = { seed = 1; };\nrun = { seed = 2; };\n", AD3D_EFORMAT, "2: duplicate setting name");
  file_error("run = {\n  seed = 1;\n};\n\n\nbtf_raw = {\n  train_strid = 5;\n};\n", AD3D_ENOTFOUND,
             "7: unknown key btf_raw.train_strid (did you mean train_stride?)");
  file_error("btf_raw = { zzzzzzzz = 5; };\n", AD3D_ENOTFOUND, "1: unknown key btf_raw.zzzzzzzz");
  file_error("\nbtf_rw = { train_stride = 5; };\n", AD3D_ENOTFOUND,
             "2: unknown section btf_rw (did you mean btf_raw?)");
  file_error("runs = { seed = 5; };\n", AD3D_ENOTFOUND, "1: unknown section runs (did you mean run?)");
  file_error("datasets = {\n  quick = {\n    rot = \"/x\";\n  };\n};\n", AD3D_ENOTFOUND,
             "3: unknown key datasets.quick.rot (did you mean root?)");
  file_error("run = {\n\n\n\n  seed = \"one\";\n};\n", AD3D_EINVAL, "5: run.seed: expected an integer, got a string");
  file_error("run = { seed = 1.5; };\n", AD3D_EINVAL, "1: run.seed: expected an integer, got a real number");
  file_error("run = { output = 5; };\n", AD3D_EINVAL, "1: run.output: expected a string, got an integer");
  file_error("run = { methods = 5; };\n", AD3D_EINVAL,
             "1: run.methods: expected a string or a list of strings, got an integer");
  file_error("run = { classes = (\"a\", 1); };\n", AD3D_EINVAL,
             "1: run.classes: expected a list of strings, element 2 is an integer");
  file_error("run = { classes = [\"a,b\"]; };\n", AD3D_EINVAL,
             "1: run.classes: list element \"a,b\" holds a comma (write one element per name)");
  file_error("toy = { use_normals = 1; };\n", AD3D_EINVAL, "1: toy.use_normals: expected a boolean, got an integer");
  file_error("toy = { radius = \"2\"; };\n", AD3D_EINVAL, "1: toy.radius: expected a real number, got a string");
  file_error("run = 5;\n", AD3D_EINVAL, "1: run: expected a group, got an integer");
  file_error("datasets = { mine = \"/x\"; };\n", AD3D_EINVAL, "1: datasets.mine: expected a group, got a string");
  file_error("btf_raw = {\n  train_stride = 0;\n};\n", AD3D_EINVAL, "2: btf_raw.train_stride: 0 is outside [1, 1e+09]");
  file_error("run = { blas_threads = 5000; };\n", AD3D_EINVAL, "1: run.blas_threads: 5000 is outside [1, 1024]");
  file_error("toy = { radius = 10.5; };\n", AD3D_EINVAL, "1: toy.radius: 10.5 is outside [0, 10]");
  file_error("run = {\n  sweep_mode = \"grd\";\n};\n", AD3D_EINVAL,
             "2: run.sweep_mode: \"grd\" is not one of grid, zip (did you mean grid?)");
  file_error(
      "datasets = { mine = { layout = \"real3d-ad\"; root = \"/x\"; }; };\n", AD3D_EINVAL,
      "1: datasets.mine.layout: \"real3d-ad\" is not one of anomaly_shapenet, real3d_ad (did you mean real3d_ad?)");
  file_error("run = {\n  datasets = [\"quick\", \"mine\"];\n};\n", AD3D_ENOTFOUND,
             "2: run.datasets: dataset mine is not declared (declare it with datasets.mine.root)");
  file_error(
      "run = { datasets = [\"quik\"]; };\n", AD3D_ENOTFOUND,
      "1: run.datasets: dataset quik is not declared (did you mean quick?) (declare it with datasets.quik.root)");
  file_error("run = {\n  methods = [\"btf_rw\"];\n};\n", AD3D_ENOTFOUND,
             "2: run.methods: unknown method btf_rw (did you mean btf_raw?) (registered: btf_raw, toy)");
  file_error("run = { methods = []; };\n", AD3D_EINVAL, "1: run.methods is empty");
  file_error("datasets = { mine = { layout = \"real3d_ad\"; }; };\n\nrun = { datasets = \"mine\"; };\n", AD3D_EINVAL,
             "3: dataset mine (in run.datasets) has an empty root: set datasets.mine.root");
  file_error("datasets = { *x = { root = \"/x\"; }; };\n", AD3D_EINVAL,
             "1: bad dataset name \"*x\" (letters, digits, _ and -, starting with a letter)");
  job_t job;
  assert_int_equal(job_load(tmp_path("missing.cfg"), NULL, 0, NULL, 0, &job), AD3D_EIO);
  char expect[512];
  snprintf(expect, sizeof expect, "%s: cannot read the job file", tmp_path("missing.cfg"));
  assert_string_equal(ad3d_errmsg(), expect);
}

/* One bad --set list over the defaults. */
static void set_error(char *const *sets, int n, ad3d_status code, const char *message) {
  expect_load_error(NULL, sets, n, NULL, 0, code, message);
}

static void test_set_errors(void **state) {
  (void)state;
  set_error((char *[]){"run.sed=3"}, 1, AD3D_ENOTFOUND,
            "--set run.sed=3: unknown key run.sed (did you mean run.seed?)");
  set_error((char *[]){"btf_rw.train_stride=3"}, 1, AD3D_ENOTFOUND,
            "--set btf_rw.train_stride=3: unknown key btf_rw.train_stride (did you mean btf_raw.train_stride?)");
  set_error((char *[]){"datasets.quick.rot=/x"}, 1, AD3D_ENOTFOUND,
            "--set datasets.quick.rot=/x: unknown key datasets.quick.rot (did you mean datasets.quick.root?)");
  set_error((char *[]){"datasets.mine.rooot=/x"}, 1, AD3D_ENOTFOUND,
            "--set datasets.mine.rooot=/x: unknown key datasets.mine.rooot (did you mean datasets.mine.root?)");
  set_error((char *[]){"datasets.9x.root=/x"}, 1, AD3D_EINVAL,
            "--set datasets.9x.root=/x: datasets.9x.root: bad dataset name \"9x\" (letters, digits, _ and -, starting "
            "with a letter)");
  set_error((char *[]){"nothing=3"}, 1, AD3D_ENOTFOUND, "--set nothing=3: unknown key nothing");
  set_error((char *[]){"run=3"}, 1, AD3D_ENOTFOUND, "--set run=3: unknown key run");
  set_error((char *[]){"run.seed"}, 1, AD3D_EINVAL, "--set run.seed: expected key=value");
  set_error((char *[]){"=3"}, 1, AD3D_EINVAL, "--set =3: expected key=value");
  set_error((char *[]){"run.seed=x"}, 1, AD3D_EINVAL, "--set run.seed=x: run.seed: expected an integer, got \"x\"");
  set_error((char *[]){"run.seed=1.5"}, 1, AD3D_EINVAL,
            "--set run.seed=1.5: run.seed: expected an integer, got \"1.5\"");
  set_error((char *[]){"run.seed=-1"}, 1, AD3D_EINVAL, "--set run.seed=-1: run.seed: -1 is outside [0, 1e+15]");
  set_error((char *[]){"toy.use_normals=maybe"}, 1, AD3D_EINVAL,
            "--set toy.use_normals=maybe: toy.use_normals: expected true or false, got \"maybe\"");
  set_error((char *[]){"run.sweep_mode=zap"}, 1, AD3D_EINVAL,
            "--set run.sweep_mode=zap: run.sweep_mode: \"zap\" is not one of grid, zip (did you mean zip?)");
  set_error(
      (char *[]){"run.methods=btf_raw,toi"}, 1, AD3D_ENOTFOUND,
      "--set run.methods=btf_raw,toi: run.methods: unknown method toi (did you mean toy?) (registered: btf_raw, toy)");
  set_error((char *[]){"datasets.mine.layout=real3d_ad", "run.datasets=mine"}, 2, AD3D_EINVAL,
            "--set run.datasets=mine: dataset mine (in run.datasets) has an empty root: set datasets.mine.root");
  set_error((char *[]){"run.datasets=quick", "datasets.quick.root="}, 2, AD3D_EINVAL,
            "--set datasets.quick.root=: dataset quick (in run.datasets) has an empty root: set datasets.quick.root");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),   cmocka_unit_test(test_file_values), cmocka_unit_test(test_integer_for_real),
      cmocka_unit_test(test_precedence), cmocka_unit_test(test_lists),       cmocka_unit_test(test_set_new_dataset),
      cmocka_unit_test(test_include),    cmocka_unit_test(test_file_errors), cmocka_unit_test(test_set_errors),
  };
  return cmocka_run_group_tests(tests, NULL, tmp_cleanup);
}
