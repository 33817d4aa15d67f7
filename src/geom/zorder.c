/* zorder.c - Morton order of 3-D points by an LSD radix sort of 30-bit codes. */
#include "geom/zorder.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Spread the low 10 bits of v to every third bit. */
static uint32_t spread10(uint32_t v) {
  v &= 0x3ffu;
  v = (v | (v << 16)) & 0x030000ffu;
  v = (v | (v << 8)) & 0x0300f00fu;
  v = (v | (v << 4)) & 0x030c30c3u;
  v = (v | (v << 2)) & 0x09249249u;
  return v;
}

ad3d_status zorder_sort(const float *pts, int64_t n, int64_t *order) {
  ASSERT(n <= 0 || (pts && order));
  if (n <= 0)
    return AD3D_OK;
  uint32_t *code = malloc(sizeof *code * 2 * (size_t)n);
  int64_t *tmp = malloc(sizeof *tmp * (size_t)n);
  if (!code || !tmp) {
    free(code);
    free(tmp);
    return ad3d_fail(AD3D_ENOMEM, "zorder: cannot allocate the codes of %lld points", (long long)n);
  }
  double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
  for (int64_t i = 0; i < n; i++)
    for (int a = 0; a < 3; a++) {
      double v = pts[3 * i + a];
      if (isfinite(v)) {
        lo[a] = v < lo[a] ? v : lo[a];
        hi[a] = v > hi[a] ? v : hi[a];
      }
    }
  double side = 0.0;
  for (int a = 0; a < 3; a++) {
    if (!(lo[a] <= hi[a]))
      lo[a] = hi[a] = 0.0;
    side = fmax(side, hi[a] - lo[a]);
  }
  double scale = side > 0.0 ? 1023.0 / side : 0.0;
  uint32_t *key = code, *key2 = code + n;
  for (int64_t i = 0; i < n; i++) {
    uint32_t c = 0;
    for (int a = 0; a < 3; a++) {
      double q = ((double)pts[3 * i + a] - lo[a]) * scale;
      uint32_t cell = isfinite(q) && q > 0.0 ? (uint32_t)fmin(q, 1023.0) : 0u;
      c |= spread10(cell) << a;
    }
    key[i] = c;
    order[i] = i;
  }
  /* four stable counting passes of 8 bits each (codes have 30 bits) */
  int64_t *src = order, *dst = tmp;
  for (int pass = 0; pass < 4; pass++) {
    int shift = 8 * pass;
    int64_t count[257];
    memset(count, 0, sizeof count);
    for (int64_t i = 0; i < n; i++)
      count[((key[i] >> shift) & 0xffu) + 1]++;
    for (int b = 0; b < 256; b++)
      count[b + 1] += count[b];
    for (int64_t i = 0; i < n; i++) {
      int64_t at = count[(key[i] >> shift) & 0xffu]++;
      dst[at] = src[i];
      key2[at] = key[i];
    }
    int64_t *ts = src;
    src = dst;
    dst = ts;
    uint32_t *tk = key;
    key = key2;
    key2 = tk;
  }
  /* four passes: the result is back in `order` */
  ASSERT(src == order);
  free(code);
  free(tmp);
  return AD3D_OK;
}
