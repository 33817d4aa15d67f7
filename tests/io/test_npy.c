/* test_npy.c - npy reader on numpy-written files (versions 1.0/2.0/3.0, float32/float64, both byte
 * orders, extra columns) and its error paths. Expected points come from the generating script,
 * which also checked each file with np.load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "io/npy.h"
#include "io_test_util.h"

static void test_numpy_files(void **state) {
  (void)state;
  static const char *const files[] = {"npy_f4_v1.npy", "npy_f8_wide_v2.npy", "npy_be_f4_v3.npy",
                                      "npy_be_f8_v1.npy"};
  float *want;
  int64_t n;
  expected_read(fixture("npy_cloud.xyz.txt"), &want, NULL, &n);
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    cloud_t c;
    if (npy_read_cloud(fixture(files[i]), &c) != AD3D_OK)
      fail_msg("%s", ad3d_errmsg());
    assert_cloud_equals(&c, want, n);
    cloud_free(&c);
  }
  free(want);
}

static void test_malformed_files(void **state) {
  (void)state;
  static const struct {
    const char *file, *word;
  } cases[] = {
      {"bad_npy_fortran.npy", "Fortran order"},
      {"bad_npy_int.npy", "dtype '<i4' is not supported"},
      {"bad_npy_cols.npy", "shape (20, 2) is not (N, C) with C >= 3"},
      {"bad_npy_rank3.npy", "shape (6, 3, 3) is not (N, C)"},
      {"bad_npy_trunc.npy", "truncated: expected 240 bytes of data for shape (20, 3), found 233"},
      {"bad_npy_magic.npy", "magic"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cloud_t c;
    assert_failed_with(npy_read_cloud(fixture(cases[i].file), &c), AD3D_EFORMAT, cases[i].file, cases[i].word);
    assert_null(c.xyz);
  }
  cloud_t c;
  assert_failed_with(npy_read_cloud(fixture("no_such.npy"), &c), AD3D_EIO, "no_such.npy", "cannot open");
}

/* Write a version 1.0 npy with the given header dict and data bytes. */
static ad3d_status read_npy(const char *name, const char *dict, const void *data, size_t len, cloud_t *c) {
  char header[256];
  size_t hl = strlen(dict);
  size_t total = (10 + hl + 1 + 63) / 64 * 64;
  memset(header, ' ', sizeof header);
  memcpy(header, dict, hl);
  header[total - 10 - 1] = '\n';
  FILE *f = fopen(scratch(name), "wb");
  assert_non_null(f);
  uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)((total - 10) & 0xff), (uint8_t)((total - 10) >> 8)};
  fwrite(pre, 1, 10, f);
  fwrite(header, 1, total - 10, f);
  fwrite(data, 1, len, f);
  fclose(f);
  return npy_read_cloud(scratch(name), c);
}

static void test_hand_written_headers(void **state) {
  (void)state;
  cloud_t c;
  const float pts[6] = {1, 2, 3, 4, 5, 6};
  /* keys in another order, double quotes, no trailing comma */
  assert_int_equal(read_npy("h1.npy", "{\"shape\": (2, 3), \"fortran_order\": False, \"descr\": \"<f4\"}", pts,
                            sizeof pts, &c), AD3D_OK);
  assert_int_equal(c.n, 2);
  assert_memory_equal(c.xyz, pts, sizeof pts);
  cloud_free(&c);
  /* an empty array */
  assert_int_equal(read_npy("h2.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", pts, 0, &c),
                   AD3D_OK);
  assert_int_equal(c.n, 0);
  cloud_free(&c);
  const float bad[6] = {1, 2, 3, 4, 5, 6.0f / 0.0f};
  assert_failed_with(read_npy("h3.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", bad,
                              sizeof bad, &c), AD3D_EFORMAT, "h3.npy", "row 1 column 2 is not finite");
  assert_failed_with(read_npy("h4.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", pts,
                              sizeof pts, &c), AD3D_EFORMAT, "h4.npy", "shape (2) is not (N, C)");
  assert_failed_with(read_npy("h5.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", pts,
                              sizeof pts, &c), AD3D_EFORMAT, "h5.npy", "unexpected key 'x'");
  assert_failed_with(read_npy("h6.npy", "{'descr': '<f4', 'shape': (2, 3), }", pts, sizeof pts, &c), AD3D_EFORMAT,
                     "h6.npy", "lacks 'fortran_order'");
  assert_failed_with(read_npy("h7.npy", "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2, 3), }", pts,
                              sizeof pts, &c), AD3D_EFORMAT, "h7.npy", "malformed npy header");
  assert_failed_with(read_npy("h8.npy", "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 3), }", pts,
                              sizeof pts, &c), AD3D_EFORMAT, "h8.npy", "structured");
  assert_failed_with(read_npy("h9.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, "
                              "3), }", pts, sizeof pts, &c), AD3D_EFORMAT, "h9.npy", "too large");
}

static int teardown(void **state) {
  (void)state;
  scratch_cleanup();
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_numpy_files),
      cmocka_unit_test(test_malformed_files),
      cmocka_unit_test(test_hand_written_headers),
  };
  return cmocka_run_group_tests(tests, NULL, teardown);
}
