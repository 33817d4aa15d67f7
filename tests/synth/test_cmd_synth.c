/* test_cmd_synth.c - `ad3d synth` (src/cli/cmd_synth.c, compiled into this test): options, presets,
 * exit codes, a tiny dataset that the io layer's dataset check accepts, and the corpus mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "io/dataset.h"

int cmd_synth(int argc, char **argv);

static char dir[64];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/ad3d_test_cmd_synth.XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  return remove_tree(dir) == AD3D_OK ? 0 : -1;
}

/* Run `synth ARGS...` (NULL-terminated). */
static int run(const char *first, ...) {
  char *argv[64];
  int argc = 0;
  argv[argc++] = "synth";
  va_list ap;
  va_start(ap, first);
  for (const char *a = first; a; a = va_arg(ap, const char *))
    argv[argc++] = (char *)a;
  va_end(ap);
  argv[argc] = NULL;
  return cmd_synth(argc, argv);
}

static void test_usage_and_errors(void **state) {
  (void)state;
  char out[128];
  snprintf(out, sizeof out, "%s/x", dir);
  assert_int_equal(run("--help", NULL), 0);
  assert_int_equal(run("--list", NULL), 0);
  assert_int_equal(run(NULL), 2);                              /* no output folder */
  assert_int_equal(run("--bogus", "1", out, NULL), 2);         /* unknown option */
  assert_int_equal(run("--train", "abc", out, NULL), 2);       /* not an integer */
  assert_int_equal(run("--train", "0", out, NULL), 2);         /* below the bound */
  assert_int_equal(run("--preset", "huge", out, NULL), 2);     /* unknown preset */
  assert_int_equal(run("--layout", "mvtec", out, NULL), 2);    /* unknown layout */
  assert_int_equal(run(out, "--seed", NULL), 2);               /* a value is missing */
  assert_int_equal(run(out, out, NULL), 2);                    /* two output folders */
  assert_false(is_dir(out));
}

static void test_dataset_and_corpus(void **state) {
  (void)state;
  char out[128], corpus[128], path[256];
  snprintf(out, sizeof out, "%s/ds", dir);
  /* the preset comes first whatever its place; later options override it */
  assert_int_equal(run("--classes", "bowl0", "--defects", "bulge,hole", "--points-min", "500", "--points_max", "700",
                       out, "--preset", "tiny", "--seed", "3", NULL),
                   0);
  int np = -1;
  FILE *devnull = fopen("/dev/null", "w");
  assert_int_equal(dataset_check(dataset_layout_find("anomaly_shapenet"), out, NULL, 0, devnull, &np), AD3D_OK);
  assert_int_equal(np, 0);
  snprintf(path, sizeof path, "%s/bowl0/test/bowl0_hole0.pcd", out);
  assert_true(is_file(path));
  snprintf(path, sizeof path, "%s/bowl0/train/bowl0_template1.pcd", out);
  assert_true(is_file(path)); /* tiny: 2 templates */
  snprintf(path, sizeof path, "%s/bowl0/train/bowl0_template2.pcd", out);
  assert_false(is_file(path));
  assert_int_equal(run("--classes", "bowl0", out, NULL), 1); /* not empty any more */
  snprintf(corpus, sizeof corpus, "%s/corpus", dir);
  assert_int_equal(run("--corpus", "3", "--points", "100", corpus, NULL), 0);
  snprintf(path, sizeof path, "%s/train.txt", corpus);
  assert_true(is_file(path));
  assert_int_equal(run("--corpus", "x", corpus, NULL), 2);
  fclose(devnull);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_usage_and_errors),
      cmocka_unit_test(test_dataset_and_corpus),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
