/* test_gt.c - GT reader on release-style fixtures (comma / space + CRLF), its error paths, and the
 * writer by round trip. Expected points and labels come from the generating script. */
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
#include "io/gt.h"
#include "io_test_util.h"

static void check_fixture(const char *file, const char *expected) {
  float *want;
  uint8_t *want_labels, *labels;
  int64_t n;
  cloud_t c;
  expected_read(fixture(expected), &want, &want_labels, &n);
  assert_non_null(want_labels);
  ad3d_status st = gt_read(fixture(file), &c, &labels);
  if (st != AD3D_OK)
    fail_msg("%s", ad3d_errmsg());
  assert_cloud_equals(&c, want, n);
  assert_memory_equal(labels, want_labels, (size_t)n);
  int64_t pos = 0;
  for (int64_t i = 0; i < n; i++)
    pos += labels[i];
  assert_true(pos > 0 && pos < n); /* both classes present: the test can tell labels apart */
  cloud_free(&c);
  free(labels);
  free(want);
  free(want_labels);
}

static void test_release_formats(void **state) {
  (void)state;
  check_fixture("gt_comma.txt", "gt_comma.expected.txt");
  check_fixture("gt_space_crlf.txt", "gt_space_crlf.expected.txt");
}

static void test_malformed_files(void **state) {
  (void)state;
  static const struct {
    const char *file, *word;
  } cases[] = {
      {"bad_gt_cols.txt", "line 5: expected 4 comma-separated values (x y z label), found 3"},
      {"bad_gt_nan.txt", "line 3: value 2 'nan' is not finite"},
      {"bad_gt_nonnum.txt", "line 2: value 3 'abc' is not a number"},
      {"bad_gt_mixed.txt", "line 4: expected 4 comma-separated values"},
      {"bad_gt_empty.txt", "empty"},
      {"bad_gt_blank.txt", "empty"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cloud_t c;
    uint8_t *labels = (uint8_t *)&c;
    assert_failed_with(gt_read(fixture(cases[i].file), &c, &labels), AD3D_EFORMAT, cases[i].file, cases[i].word);
    assert_null(labels);
    assert_null(c.xyz);
    assert_int_equal(c.n, 0);
  }
  cloud_t c;
  uint8_t *labels;
  assert_failed_with(gt_read(fixture("no_such_gt.txt"), &c, &labels), AD3D_EIO, "no_such_gt.txt", "cannot open");
}

static ad3d_status read_text(const char *name, const char *text, cloud_t *c, uint8_t **labels) {
  FILE *f = fopen(scratch(name), "wb");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return gt_read(scratch(name), c, labels);
}

static void test_tolerated_variants(void **state) {
  (void)state;
  cloud_t c;
  uint8_t *labels;
  /* byte-order mark, tabs, no final newline, labels as floats around 0.5 */
  assert_int_equal(read_text("g1.txt", "\xEF\xBB\xBF" "1\t2 3\t0.4\n\n4 5 6 0.6", &c, &labels), AD3D_OK);
  assert_int_equal(c.n, 2);
  assert_true(c.xyz[0] == 1.0f && c.xyz[5] == 6.0f);
  assert_int_equal(labels[0], 0);
  assert_int_equal(labels[1], 1);
  cloud_free(&c);
  free(labels);
  /* blanks around commas, CRLF, blank trailing lines */
  assert_int_equal(read_text("g2.txt", "1 , 2,3 ,1\r\n-1e-3,2.5e2,0,0\r\n\r\n\r\n", &c, &labels), AD3D_OK);
  assert_int_equal(c.n, 2);
  assert_true(c.xyz[3] == -1e-3f && c.xyz[4] == 250.0f);
  assert_int_equal(labels[0], 1);
  cloud_free(&c);
  free(labels);
  /* errors: too many values in a space file, an empty field, an Inf label */
  assert_failed_with(read_text("g3.txt", "1 2 3 0\n1 2 3 0 5\n", &c, &labels), AD3D_EFORMAT, "g3.txt",
                     "line 2: expected 4 space-separated values (x y z label), found 5");
  assert_failed_with(read_text("g4.txt", "1,2,,0\n", &c, &labels), AD3D_EFORMAT, "g4.txt",
                     "line 1: value 3 '' is not a number");
  assert_failed_with(read_text("g5.txt", "1,2,3,0\n1,2,3,inf\n", &c, &labels), AD3D_EFORMAT, "g5.txt",
                     "line 2: value 4 'inf' is not finite");
}

static void test_writer_round_trip(void **state) {
  (void)state;
  rng_t r;
  rng_seed(&r, 3);
  cloud_t c, back;
  int64_t n = 500;
  assert_int_equal(cloud_alloc(&c, n), AD3D_OK);
  uint8_t *labels = malloc((size_t)n), *got;
  assert_non_null(labels);
  for (int64_t i = 0; i < n; i++) {
    for (int a = 0; a < 3; a++)
      c.xyz[3 * i + a] = (float)(rng_normal(&r) * pow(10.0, (double)(int64_t)rng_below(&r, 9) - 4));
    labels[i] = (uint8_t)rng_below(&r, 2);
  }
  const char delims[2] = {',', ' '};
  for (int d = 0; d < 2; d++) {
    assert_int_equal(gt_write(scratch("rt.txt"), &c, labels, delims[d]), AD3D_OK);
    assert_int_equal(gt_read(scratch("rt.txt"), &back, &got), AD3D_OK);
    assert_cloud_equals(&back, c.xyz, n);
    assert_memory_equal(got, labels, (size_t)n);
    cloud_free(&back);
    free(got);
  }
  assert_failed_with(gt_write(scratch("rt.txt"), &c, labels, ';'), AD3D_EINVAL, "rt.txt", "delimiter");
  cloud_free(&c);
  free(labels);
}

static int teardown(void **state) {
  (void)state;
  scratch_cleanup();
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_release_formats),
      cmocka_unit_test(test_malformed_files),
      cmocka_unit_test(test_tolerated_variants),
      cmocka_unit_test(test_writer_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, teardown);
}
