/* lzf.c - LZF decompression and compression (the format is described in lzf.h).
 *
 * The compressor is a greedy single-pass matcher: a hash of the next three bytes indexes the last
 * position that started with the same hash; a candidate within reach whose three bytes really match
 * is extended as far as the format allows. It produces streams that liblzf (and so PCL and Open3D)
 * decode, not necessarily byte-identical to liblzf's own output.
 */
#include "io/lzf.h"

#include <stdlib.h>
#include <string.h>

enum {
  LZF_MAX_LITERAL = 32,          /* a literal run holds 1..32 bytes */
  LZF_MAX_OFFSET = 1 << 13,      /* a reference reaches 1..8192 bytes back */
  LZF_MAX_REF = 7 + 255 + 2,     /* a reference copies 3..264 bytes */
  LZF_HASH_LOG = 14
};

ad3d_status lzf_decompress(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap, size_t *out_len) {
  size_t ip = 0, op = 0;
  *out_len = 0;
  while (ip < in_len) {
    unsigned ctrl = in[ip++];
    if (ctrl < 32) {
      size_t run = (size_t)ctrl + 1;
      if (run > in_len - ip)
        return ad3d_fail(AD3D_EFORMAT, "bad LZF stream: literal run of %zu bytes at input byte %zu runs past the "
                                       "end of the %zu-byte stream", run, ip - 1, in_len);
      if (run > out_cap - op)
        return ad3d_fail(AD3D_EFORMAT, "bad LZF stream: output exceeds the expected %zu bytes", out_cap);
      memcpy(out + op, in + ip, run);
      ip += run;
      op += run;
      continue;
    }
    size_t len = ctrl >> 5;
    if (len == 7) {
      if (ip >= in_len)
        return ad3d_fail(AD3D_EFORMAT, "bad LZF stream: back-reference length byte missing at the end");
      len += in[ip++];
    }
    if (ip >= in_len)
      return ad3d_fail(AD3D_EFORMAT, "bad LZF stream: back-reference offset byte missing at the end");
    size_t back = ((size_t)(ctrl & 0x1f) << 8) + in[ip++] + 1;
    len += 2;
    if (back > op)
      return ad3d_fail(AD3D_EFORMAT, "bad LZF stream: back-reference at input byte %zu points %zu bytes back "
                                     "but only %zu bytes were decoded", ip, back, op);
    if (len > out_cap - op)
      return ad3d_fail(AD3D_EFORMAT, "bad LZF stream: output exceeds the expected %zu bytes", out_cap);
    const uint8_t *ref = out + op - back;
    for (size_t k = 0; k < len; k++) /* forward, byte by byte: the source may overlap the destination */
      out[op + k] = ref[k];
    op += len;
  }
  *out_len = op;
  return AD3D_OK;
}

size_t lzf_compress_bound(size_t n) { return n + n / LZF_MAX_LITERAL + 1; }

static unsigned hash3(const uint8_t *p) {
  uint32_t v = ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
  return (unsigned)((v * 2654435761u) >> (32 - LZF_HASH_LOG));
}

/* Emit in[start, start + n) as literal runs of at most 32 bytes. */
static int put_literals(const uint8_t *in, size_t start, size_t n, uint8_t *out, size_t out_cap, size_t *op) {
  while (n > 0) {
    size_t run = n < LZF_MAX_LITERAL ? n : LZF_MAX_LITERAL;
    if (run + 1 > out_cap - *op)
      return 0;
    out[(*op)++] = (uint8_t)(run - 1);
    memcpy(out + *op, in + start, run);
    *op += run;
    start += run;
    n -= run;
  }
  return 1;
}

ad3d_status lzf_compress(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap, size_t *out_len) {
  size_t *table = calloc((size_t)1 << LZF_HASH_LOG, sizeof *table); /* (2^14) last position + 1, 0 = none */
  if (!table)
    return ad3d_fail(AD3D_ENOMEM, "out of memory allocating the LZF hash table");
  size_t ip = 0, op = 0, lit_start = 0;
  ad3d_status st = AD3D_OK;
  while (ip + 2 < in_len) {
    unsigned h = hash3(in + ip);
    size_t cand = table[h];
    table[h] = ip + 1;
    if (cand == 0 || ip - (cand - 1) > LZF_MAX_OFFSET || memcmp(in + cand - 1, in + ip, 3) != 0) {
      ip++;
      continue;
    }
    size_t ref = cand - 1, maxlen = in_len - ip < LZF_MAX_REF ? in_len - ip : LZF_MAX_REF, len = 3;
    while (len < maxlen && in[ref + len] == in[ip + len])
      len++;
    if (!put_literals(in, lit_start, ip - lit_start, out, out_cap, &op) || 3 > out_cap - op) {
      st = ad3d_fail(AD3D_EINVAL, "LZF output buffer of %zu bytes is too small", out_cap);
      goto cleanup;
    }
    size_t back = ip - ref - 1, code = len - 2;
    if (code < 7) {
      out[op++] = (uint8_t)((code << 5) | (back >> 8));
    } else {
      out[op++] = (uint8_t)((7u << 5) | (back >> 8));
      out[op++] = (uint8_t)(code - 7);
    }
    out[op++] = (uint8_t)(back & 0xff);
    for (size_t k = 1; k < len && ip + k + 2 < in_len; k++)
      table[hash3(in + ip + k)] = ip + k + 1;
    ip += len;
    lit_start = ip;
  }
  if (!put_literals(in, lit_start, in_len - lit_start, out, out_cap, &op)) {
    st = ad3d_fail(AD3D_EINVAL, "LZF output buffer of %zu bytes is too small", out_cap);
    goto cleanup;
  }
  *out_len = op;
cleanup:
  free(table);
  return st;
}
