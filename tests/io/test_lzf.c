/* test_lzf.c - LZF decoder on hand-made streams (valid and malformed) and the encoder by round
 * trip. The decoder's real-world oracle (streams written by Open3D's liblzf) is in test_pcd; the
 * encoder's (Open3D reading our files) too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/rng.h"
#include "io/lzf.h"

static void test_decode_literals_and_references(void **state) {
  (void)state;
  uint8_t out[400];
  size_t n;
  /* literal "ab", then a reference 2 back copying 3 bytes: "ababa" (overlapping copy) */
  const uint8_t s1[] = {1, 'a', 'b', 0x20, 0x01};
  assert_int_equal(lzf_decompress(s1, sizeof s1, out, sizeof out, &n), AD3D_OK);
  assert_int_equal(n, 5);
  assert_memory_equal(out, "ababa", 5);
  /* "x" then a run-length reference 1 back of len 6 + 2 = 8 bytes: ctrl = 6 << 5 */
  const uint8_t s2[] = {0, 'x', 6 << 5, 0x00};
  assert_int_equal(lzf_decompress(s2, sizeof s2, out, sizeof out, &n), AD3D_OK);
  assert_int_equal(n, 9);
  assert_memory_equal(out, "xxxxxxxxx", 9);
  /* long reference: ctrl 7 << 5, extra length 255 -> 7 + 255 + 2 = 264 bytes */
  const uint8_t s3[] = {0, 'z', 7 << 5, 255, 0x00};
  assert_int_equal(lzf_decompress(s3, sizeof s3, out, sizeof out, &n), AD3D_OK);
  assert_int_equal(n, 265);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(out[i], 'z');
  /* offset high bits: 300 literal-ish bytes then a reference 257 back */
  uint8_t s4[400], want[400];
  size_t k = 0, w = 0;
  for (int run = 0; run < 10; run++) { /* 10 runs of 30 literals = 300 bytes */
    s4[k++] = 29;
    for (int j = 0; j < 30; j++)
      s4[k++] = want[w++] = (uint8_t)(run * 31 + j * 7);
  }
  s4[k++] = (1 << 5) | 1; /* len 1 + 2 = 3, offset (1 << 8) + 0 + 1 = 257 */
  s4[k++] = 0;
  for (int j = 0; j < 3; j++, w++)
    want[w] = want[w - 257];
  assert_int_equal(lzf_decompress(s4, k, out, sizeof out, &n), AD3D_OK);
  assert_int_equal(n, w);
  assert_memory_equal(out, want, w);
  /* an empty stream decodes to nothing */
  assert_int_equal(lzf_decompress(s1, 0, out, sizeof out, &n), AD3D_OK);
  assert_int_equal(n, 0);
}

static void expect_bad(const uint8_t *s, size_t len, size_t cap, const char *word) {
  uint8_t out[64];
  size_t n = 12345;
  assert_true(cap <= sizeof out);
  ad3d_status st = lzf_decompress(s, len, out, cap, &n);
  assert_int_equal(st, AD3D_EFORMAT);
  const char *msg = ad3d_errmsg();
  if (!strstr(msg, "LZF") || !strstr(msg, word))
    fail_msg("message \"%s\" lacks 'LZF' or '%s'", msg, word);
}

static void test_decode_rejects_bad_streams(void **state) {
  (void)state;
  const uint8_t trunc_lit[] = {5, 'a', 'b'};          /* 6 literals announced, 2 present */
  const uint8_t before_start[] = {0x20, 0x05};        /* reference at output byte 0 */
  const uint8_t too_far[] = {1, 'a', 'b', 0x20, 0x02}; /* 3 back with 2 decoded */
  const uint8_t no_len[] = {0, 'a', 7 << 5};          /* long reference without its length byte */
  const uint8_t no_off[] = {0, 'a', 1 << 5};          /* reference without its offset byte */
  const uint8_t overflow_lit[] = {3, 'a', 'b', 'c', 'd'};
  const uint8_t overflow_ref[] = {0, 'a', 6 << 5, 0};
  expect_bad(trunc_lit, sizeof trunc_lit, 64, "past the end");
  expect_bad(before_start, sizeof before_start, 64, "back");
  expect_bad(too_far, sizeof too_far, 64, "back");
  expect_bad(no_len, sizeof no_len, 64, "length byte");
  expect_bad(no_off, sizeof no_off, 64, "offset byte");
  expect_bad(overflow_lit, sizeof overflow_lit, 3, "exceeds");
  expect_bad(overflow_ref, sizeof overflow_ref, 5, "exceeds");
}

static void round_trip(const uint8_t *in, size_t n, size_t *comp_size) {
  size_t cap = lzf_compress_bound(n), clen = 0, dlen = 0;
  uint8_t *comp = malloc(cap ? cap : 1), *back = malloc(n ? n : 1);
  assert_true(comp && back);
  assert_int_equal(lzf_compress(in, n, comp, cap, &clen), AD3D_OK);
  assert_true(clen <= cap);
  assert_int_equal(lzf_decompress(comp, clen, back, n, &dlen), AD3D_OK);
  assert_int_equal(dlen, n);
  if (n)
    assert_memory_equal(back, in, n);
  *comp_size = clen;
  free(comp);
  free(back);
}

static void test_encode_round_trips(void **state) {
  (void)state;
  rng_t r;
  rng_seed(&r, 7);
  size_t n = 200000, clen;
  uint8_t *buf = malloc(n);
  assert_non_null(buf);
  for (size_t len = 0; len < 70; len++) { /* small sizes, random bytes */
    for (size_t i = 0; i < len; i++)
      buf[i] = (uint8_t)rng_next(&r);
    round_trip(buf, len, &clen);
  }
  for (size_t i = 0; i < n; i++)
    buf[i] = (uint8_t)rng_next(&r);
  round_trip(buf, n, &clen);
  assert_true(clen <= lzf_compress_bound(n));
  memset(buf, 0, n); /* one long run: all 264-byte references */
  round_trip(buf, n, &clen);
  assert_true(clen * 80 < n);
  for (size_t i = 0; i < n; i++) /* repeats at distances near and beyond the 8192-byte window */
    buf[i] = i < 9000 ? (uint8_t)rng_next(&r) : buf[i - (i % 2 ? 8192 : 8193)];
  round_trip(buf, n, &clen);
  assert_true(clen < n / 2);
  for (size_t i = 0; i < n; i++) /* small alphabet: short references and literal runs mixed */
    buf[i] = (uint8_t)(rng_next(&r) % 3);
  round_trip(buf, n, &clen);
  free(buf);
}

static void test_encode_reports_small_buffer(void **state) {
  (void)state;
  uint8_t in[100], out[50];
  size_t clen;
  for (int i = 0; i < 100; i++)
    in[i] = (uint8_t)(i * 37 + 11);
  assert_int_equal(lzf_compress(in, sizeof in, out, sizeof out, &clen), AD3D_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode_literals_and_references),
      cmocka_unit_test(test_decode_rejects_bad_streams),
      cmocka_unit_test(test_encode_round_trips),
      cmocka_unit_test(test_encode_reports_small_buffer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
