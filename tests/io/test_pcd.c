/* test_pcd.c - the PCD reader against Open3D-written and hand-packed fixtures (expected points from
 * the generating script, which Open3D also read back), its error paths, its robustness to cut and
 * corrupted files, and the writer by round trip and (when Open3D is installed) by Open3D itself. */
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
#include "common/util.h"
#include "io/pcd.h"
#include "io_test_util.h"

static const char *const kind_suffix[3] = {"ascii", "binary", "compressed"};

/* Read <stem>_<kind>.pcd for each kind and compare with <expected>. */
static void check_fixture_kinds(const char *stem, const char *expected, int64_t points, int64_t width,
                                int64_t height, int64_t dropped) {
  float *want;
  int64_t n;
  expected_read(fixture(expected), &want, NULL, &n);
  for (int k = 0; k < 3; k++) {
    char name[128];
    snprintf(name, sizeof name, "%s_%s.pcd", stem, kind_suffix[k]);
    cloud_t c;
    pcd_info info;
    ad3d_status st = pcd_read(fixture(name), &c, &info);
    if (st != AD3D_OK)
      fail_msg("%s: %s", name, ad3d_errmsg());
    assert_cloud_equals(&c, want, n);
    assert_int_equal(info.data, (pcd_data)k);
    assert_int_equal(info.points, points);
    assert_int_equal(info.width, width);
    assert_int_equal(info.height, height);
    assert_int_equal(info.dropped_nan, dropped);
    cloud_free(&c);
  }
  free(want);
}

static void test_open3d_files(void **state) {
  (void)state;
  check_fixture_kinds("o3d_full", "o3d_full.xyz.txt", 100, 100, 1, 0);
  float *want;
  int64_t n;
  expected_read(fixture("o3d_grid.xyz.txt"), &want, NULL, &n);
  cloud_t c;
  assert_int_equal(pcd_read(fixture("o3d_grid_compressed.pcd"), &c, NULL), AD3D_OK);
  assert_cloud_equals(&c, want, n);
  cloud_free(&c);
  free(want);
}

static void test_extra_fields(void **state) {
  (void)state;
  check_fixture_kinds("extra_fields", "extra_fields.xyz.txt", 100, 100, 1, 0);
}

static void test_double_coordinates(void **state) {
  (void)state;
  check_fixture_kinds("double", "double.xyz.txt", 80, 80, 1, 0);
}

static void test_count_greater_than_one(void **state) {
  (void)state;
  check_fixture_kinds("count3", "count3.xyz.txt", 60, 60, 1, 0);
}

static void test_organized_with_nan(void **state) {
  (void)state;
  check_fixture_kinds("organized_nan", "organized_nan.xyz.txt", 12, 4, 3, 4);
}

static void test_old_header_crlf_comments(void **state) {
  (void)state;
  float *want;
  int64_t n;
  expected_read(fixture("v06_comments.xyz.txt"), &want, NULL, &n);
  cloud_t c;
  pcd_info info;
  assert_int_equal(pcd_read(fixture("v06_comments.pcd"), &c, &info), AD3D_OK);
  assert_cloud_equals(&c, want, n);
  assert_int_equal(info.data, PCD_ASCII);
  cloud_free(&c);
  free(want);
}

static void test_malformed_files(void **state) {
  (void)state;
  static const struct {
    const char *file;
    ad3d_status st;
    const char *word;
  } cases[] = {
      {"bad_truncated.pcd", AD3D_EFORMAT, "truncated: expected 360 bytes of point data, found 342"},
      {"bad_lzf_backref.pcd", AD3D_EFORMAT, "bad LZF stream"},
      {"bad_lzf_short.pcd", AD3D_EFORMAT, "bad LZF stream"},
      {"bad_compressed_size.pcd", AD3D_EFORMAT, "truncated"},
      {"bad_no_z.pcd", AD3D_EFORMAT, "no field z"},
      {"bad_points.pcd", AD3D_EFORMAT, "POINTS 10 does not equal WIDTH x HEIGHT"},
      {"bad_ascii_short.pcd", AD3D_EFORMAT, "line 14: expected 3 values, found 2"},
      {"bad_ascii_nonnum.pcd", AD3D_EFORMAT, "line 15: value 2 '1.5abc' is not a number"},
      {"bad_no_data.pcd", AD3D_EFORMAT, "no DATA line"},
      {"bad_data_kind.pcd", AD3D_EFORMAT, "unknown DATA kind 'binary_lz4'"},
      {"bad_size_count.pcd", AD3D_EFORMAT, "SIZE has 2 entries but FIELDS has 3"},
      {"bad_count_count.pcd", AD3D_EFORMAT, "COUNT has more than 3 entries"},
      {"bad_xyz_int.pcd", AD3D_EFORMAT, "must be TYPE F"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cloud_t c = {5, (float *)&c};
    pcd_info info;
    ad3d_status st = pcd_read(fixture(cases[i].file), &c, &info);
    assert_failed_with(st, cases[i].st, cases[i].file, cases[i].word);
    assert_int_equal(c.n, 0);
    assert_null(c.xyz);
  }
  cloud_t c;
  assert_failed_with(pcd_read(fixture("no_such_file.pcd"), &c, NULL), AD3D_EIO, "no_such_file.pcd", "cannot open");
  assert_failed_with(pcd_read(fixture(""), &c, NULL), AD3D_EIO, "fixtures", "regular file"); /* a folder */
}

/* Write text to a scratch file and read it as a PCD. */
static ad3d_status read_text(const char *name, const char *text, cloud_t *c, pcd_info *info) {
  FILE *f = fopen(scratch(name), "wb");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return pcd_read(scratch(name), c, info);
}

static void test_header_variants(void **state) {
  (void)state;
  cloud_t c;
  pcd_info info;
  /* no WIDTH/HEIGHT: POINTS alone; blank lines in the data; lower-case keywords */
  assert_int_equal(read_text("p1.pcd", "fields x y z\nsize 4 4 4\ntype f f f\npoints 2\ndata ascii\n1 2 3\n\n4 5 6\n",
                             &c, &info), AD3D_OK);
  assert_int_equal(c.n, 2);
  assert_true(c.xyz[3] == 4.0f && c.xyz[5] == 6.0f);
  assert_int_equal(info.width, 2);
  assert_int_equal(info.height, 1);
  cloud_free(&c);
  /* no COUNT (defaults to 1), no POINTS (WIDTH x HEIGHT), last row without newline, tabs */
  assert_int_equal(read_text("p2.pcd", "FIELDS z y x\nSIZE 4 4 4\nTYPE F F F\nWIDTH 1\nHEIGHT 2\nDATA ascii\n"
                             "1\t2\t3\n4 5 6", &c, &info), AD3D_OK);
  assert_int_equal(c.n, 2);
  assert_true(c.xyz[0] == 3.0f && c.xyz[1] == 2.0f && c.xyz[2] == 1.0f);
  assert_int_equal(info.points, 2);
  cloud_free(&c);
  /* zero points */
  assert_int_equal(read_text("p3.pcd", "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nWIDTH 0\nHEIGHT 1\nPOINTS 0\n"
                             "DATA binary\n", &c, &info), AD3D_OK);
  assert_int_equal(c.n, 0);
  cloud_free(&c);
  /* more rows than POINTS, fewer rows, extra values, a second FIELDS line, a missing TYPE line */
  assert_failed_with(read_text("p4.pcd", "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nPOINTS 1\nDATA ascii\n1 2 3\n4 5 6\n",
                               &c, NULL), AD3D_EFORMAT, "p4.pcd", "line 7: more rows of point data than POINTS");
  assert_failed_with(read_text("p5.pcd", "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nPOINTS 3\nDATA ascii\n1 2 3\n4 5 6          \n\n",
                               &c, NULL), AD3D_EFORMAT, "p5.pcd", "truncated: expected 3 rows of point data, found 2");
  assert_failed_with(read_text("p6.pcd", "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nPOINTS 1\nDATA ascii\n1 2 3 4\n",
                               &c, NULL), AD3D_EFORMAT, "p6.pcd", "line 6: unexpected text after 3 values");
  assert_failed_with(read_text("p7.pcd", "FIELDS x y z\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nPOINTS 0\nDATA ascii\n",
                               &c, NULL), AD3D_EFORMAT, "p7.pcd", "second FIELDS line");
  assert_failed_with(read_text("p8.pcd", "FIELDS x y z\nSIZE 4 4 4\nPOINTS 0\nDATA ascii\n", &c, NULL),
                     AD3D_EFORMAT, "p8.pcd", "no TYPE line");
  /* a header claiming a billion binary points in a tiny file fails before allocating them */
  assert_failed_with(read_text("p9.pcd", "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nPOINTS 1000000000\nDATA binary\n"
                               "0123456789ab", &c, NULL), AD3D_EFORMAT, "p9.pcd", "truncated");
  assert_failed_with(read_text("p10.pcd", "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nPOINTS 1000000000\nDATA ascii\n"
                               "1 2 3\n", &c, NULL), AD3D_EFORMAT, "p10.pcd", "truncated");
  assert_failed_with(read_text("p11.pcd", "FIELDS x y z\nSIZE 4 4 3\nTYPE F F F\nPOINTS 0\nDATA ascii\n", &c, NULL),
                     AD3D_EFORMAT, "p11.pcd", "SIZE of field z is '3'");
  assert_failed_with(read_text("p12.pcd", "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nPOINTS -2\nDATA ascii\n", &c, NULL),
                     AD3D_EFORMAT, "p12.pcd", "POINTS must be one non-negative integer");
}

/* Random cloud with awkward values: tiny, huge, negative zero, subnormal. */
static void random_cloud(cloud_t *c, int64_t n, uint64_t seed) {
  rng_t r;
  rng_seed(&r, seed);
  assert_int_equal(cloud_alloc(c, n), AD3D_OK);
  for (int64_t i = 0; i < 3 * n; i++)
    c->xyz[i] = (float)(rng_normal(&r) * pow(10.0, (double)(int64_t)rng_below(&r, 13) - 6));
  if (n >= 4) {
    c->xyz[0] = -0.0f;
    c->xyz[1] = 1e-40f;
    c->xyz[2] = 3.4028235e38f;
    c->xyz[3] = -1.17549435e-38f;
  }
}

static void test_writer_round_trip(void **state) {
  (void)state;
  for (int64_t n = 0; n <= 1000; n += 333) {
    cloud_t c, back;
    random_cloud(&c, n, (uint64_t)n + 1);
    for (int k = 0; k < 3; k++) {
      pcd_info info;
      const char *p = scratch("rt.pcd");
      assert_int_equal(pcd_write(p, &c, (pcd_data)k), AD3D_OK);
      if (pcd_read(p, &back, &info) != AD3D_OK)
        fail_msg("%s", ad3d_errmsg());
      assert_cloud_equals(&back, c.xyz, c.n);
      assert_int_equal(info.data, (pcd_data)k);
      assert_int_equal(info.points, n);
      cloud_free(&back);
    }
    cloud_free(&c);
  }
  cloud_t c;
  random_cloud(&c, 10, 3);
  assert_failed_with(pcd_write(scratch("bad.pcd"), &c, (pcd_data)7), AD3D_EINVAL, "bad.pcd", "data kind");
  assert_failed_with(pcd_write("/nonexistent_dir/x.pcd", &c, PCD_BINARY), AD3D_EIO, "x.pcd", "cannot create");
  cloud_free(&c);
}

static void test_writer_nan_points_dropped_on_read(void **state) {
  (void)state;
  cloud_t c, back;
  random_cloud(&c, 50, 9);
  c.xyz[3 * 7 + 1] = NAN;
  c.xyz[3 * 20] = INFINITY;
  c.xyz[3 * 49 + 2] = -INFINITY;
  for (int k = 0; k < 3; k++) {
    pcd_info info;
    assert_int_equal(pcd_write(scratch("nan.pcd"), &c, (pcd_data)k), AD3D_OK);
    assert_int_equal(pcd_read(scratch("nan.pcd"), &back, &info), AD3D_OK);
    assert_int_equal(info.points, 50);
    assert_int_equal(info.dropped_nan, 3);
    assert_int_equal(back.n, 47);
    for (int64_t i = 0, j = 0; i < 50; i++) {
      if (i == 7 || i == 20 || i == 49)
        continue;
      assert_memory_equal(back.xyz + 3 * j, c.xyz + 3 * i, 3 * sizeof(float));
      j++;
    }
    cloud_free(&back);
  }
  cloud_free(&c);
}

static int64_t file_size(const char *p) {
  FILE *f = fopen(p, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long s = ftell(f);
  fclose(f);
  return s;
}

/* One million points, binary and compressed: a large round trip (speed is measured in tests/bench). */
static void test_large_cloud(void **state) {
  (void)state;
  cloud_t c, back;
  int64_t n = 1000000;
  assert_int_equal(cloud_alloc(&c, n), AD3D_OK);
  for (int64_t i = 0; i < n; i++) { /* a scanned-surface-like grid: compresses */
    c.xyz[3 * i] = (float)(i % 1000) * 0.01f;
    c.xyz[3 * i + 1] = (float)(i / 1000) * 0.01f;
    c.xyz[3 * i + 2] = 0.5f;
  }
  for (int k = 1; k < 3; k++) {
    assert_int_equal(pcd_write(scratch("big.pcd"), &c, (pcd_data)k), AD3D_OK);
    assert_int_equal(pcd_read(scratch("big.pcd"), &back, NULL), AD3D_OK);
    assert_cloud_equals(&back, c.xyz, n);
    cloud_free(&back);
  }
  assert_true(file_size(scratch("big.pcd")) < n * 12 / 2);
  cloud_free(&c);
}

static uint8_t *slurp(const char *p, size_t *len) {
  FILE *f = fopen(p, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc(*len);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, *len, f), *len);
  fclose(f);
  return b;
}

static void spit(const char *p, const uint8_t *b, size_t len) {
  FILE *f = fopen(p, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(b, 1, len, f), len);
  fclose(f);
}

/* Every cut of a binary or compressed file fails cleanly; random byte corruption never reads out of
 * bounds (run under AD3D_SANITIZE to make that check strict) and never returns more points than POINTS. */
static void test_cut_and_corrupted_files(void **state) {
  (void)state;
  static const char *const files[] = {"organized_nan_binary.pcd", "organized_nan_compressed.pcd",
                                      "count3_compressed.pcd", "o3d_grid_compressed.pcd", "double_binary.pcd",
                                      "count3_ascii.pcd"};
  rng_t r;
  rng_seed(&r, 11);
  for (size_t fi = 0; fi < sizeof files / sizeof files[0]; fi++) {
    size_t len;
    uint8_t *orig = slurp(fixture(files[fi]), &len);
    int binary = strstr(files[fi], "ascii") == NULL;
    const char *p = scratch("cut.pcd");
    for (size_t cut = 0; cut < len; cut += (len > 1500 ? 7 : 1)) {
      cloud_t c;
      spit(p, orig, cut);
      ad3d_status st = pcd_read(p, &c, NULL);
      if (binary && st == AD3D_OK)
        fail_msg("%s cut to %zu of %zu bytes was accepted", files[fi], cut, len);
      cloud_free(&c);
    }
    uint8_t *bad = malloc(len);
    assert_non_null(bad);
    for (int trial = 0; trial < 300; trial++) {
      memcpy(bad, orig, len);
      int flips = 1 + (int)rng_below(&r, 4);
      for (int k = 0; k < flips; k++)
        bad[rng_below(&r, len)] = (uint8_t)rng_next(&r);
      spit(p, bad, len);
      cloud_t c;
      pcd_info info;
      if (pcd_read(p, &c, &info) == AD3D_OK)
        assert_true(c.n + info.dropped_nan == info.points);
      cloud_free(&c);
    }
    free(bad);
    free(orig);
  }
}

/* Open3D (an independent PCD implementation with liblzf) must read what we write. */
static void test_open3d_reads_our_files(void **state) {
  (void)state;
  if (system("/usr/bin/python3 -c 'import open3d' >/dev/null 2>&1") != 0)
    skip();
  cloud_t c;
  random_cloud(&c, 300, 5);
  for (int64_t i = 100; i < 200; i++) /* a repetitive stretch so the LZF stream has references */
    for (int a = 0; a < 3; a++)
      c.xyz[3 * i + a] = (float)(i % 4) * 0.5f;
  FILE *f = fopen(scratch("expected.txt"), "w");
  assert_non_null(f);
  for (int64_t i = 0; i < 3 * c.n; i++)
    fprintf(f, "%.9g\n", c.xyz[i]);
  fclose(f);
  for (int k = 0; k < 3; k++) {
    char name[32];
    snprintf(name, sizeof name, "o3d_%s.pcd", kind_suffix[k]);
    assert_int_equal(pcd_write(scratch(name), &c, (pcd_data)k), AD3D_OK);
  }
  char cmd[4096], dir[2048];
  snprintf(dir, sizeof dir, "%s", scratch(""));
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"\nimport sys, numpy as np, open3d as o3d\nd = sys.argv[1]\n"
           "want = np.loadtxt(d + '/expected.txt', dtype=np.float32).reshape(-1, 3)\n"
           "for k in ('ascii', 'binary', 'compressed'):\n"
           "    got = np.asarray(o3d.io.read_point_cloud(d + '/o3d_' + k + '.pcd').points).astype(np.float32)\n"
           "    if got.shape != want.shape or not np.array_equal(got, want): sys.exit('mismatch in ' + k)\n"
           "\" %s", dir);
  assert_int_equal(system(cmd), 0);
  cloud_free(&c);
}

static int teardown(void **state) {
  (void)state;
  scratch_cleanup();
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_open3d_files),
      cmocka_unit_test(test_extra_fields),
      cmocka_unit_test(test_double_coordinates),
      cmocka_unit_test(test_count_greater_than_one),
      cmocka_unit_test(test_organized_with_nan),
      cmocka_unit_test(test_old_header_crlf_comments),
      cmocka_unit_test(test_malformed_files),
      cmocka_unit_test(test_header_variants),
      cmocka_unit_test(test_writer_round_trip),
      cmocka_unit_test(test_writer_nan_points_dropped_on_read),
      cmocka_unit_test(test_large_cloud),
      cmocka_unit_test(test_cut_and_corrupted_files),
      cmocka_unit_test(test_open3d_reads_our_files),
  };
  return cmocka_run_group_tests(tests, NULL, teardown);
}
