/* render.c - splat renderer, colour map and PNG writer (see render.h). */
#include "synth/render.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- images */

ad3d_status image_alloc(image_t *im, int width, int height, uint8_t r, uint8_t g, uint8_t b) {
  memset(im, 0, sizeof *im);
  if (width <= 0 || height <= 0 || (int64_t)width * height > (int64_t)1 << 28)
    return ad3d_fail(AD3D_EINVAL, "bad image size %d x %d", width, height);
  im->rgb = malloc((size_t)width * height * 3);
  if (!im->rgb)
    return ad3d_fail(AD3D_ENOMEM, "out of memory for a %d x %d image", width, height);
  im->width = width;
  im->height = height;
  for (int64_t i = 0; i < (int64_t)width * height; i++) {
    im->rgb[3 * i] = r;
    im->rgb[3 * i + 1] = g;
    im->rgb[3 * i + 2] = b;
  }
  return AD3D_OK;
}

void image_free(image_t *im) {
  if (!im)
    return;
  free(im->rgb);
  memset(im, 0, sizeof *im);
}

/* ---------------------------------------------------------------- deflate (fixed Huffman) */

typedef struct {
  uint8_t *buf;
  size_t n, cap;
  uint32_t bits; /* pending bits, LSB first */
  int nbits;
  int oom;
} bitw;

static void bw_byte(bitw *w, uint8_t b) {
  if (w->oom)
    return;
  if (w->n == w->cap) {
    size_t cap = w->cap ? 2 * w->cap : 1 << 16;
    uint8_t *nb = realloc(w->buf, cap);
    if (!nb) {
      w->oom = 1;
      return;
    }
    w->buf = nb;
    w->cap = cap;
  }
  w->buf[w->n++] = b;
}

/* Append the low `n` bits of v, least significant first. */
static void bw_bits(bitw *w, uint32_t v, int n) {
  w->bits |= v << w->nbits;
  w->nbits += n;
  while (w->nbits >= 8) {
    bw_byte(w, (uint8_t)(w->bits & 0xff));
    w->bits >>= 8;
    w->nbits -= 8;
  }
}

/* A Huffman code of `len` bits is sent most significant bit first. */
static void bw_code(bitw *w, uint32_t code, int len) {
  uint32_t r = 0;
  for (int i = 0; i < len; i++)
    r |= ((code >> i) & 1u) << (len - 1 - i);
  bw_bits(w, r, len);
}

static void bw_flush(bitw *w) {
  if (w->nbits > 0)
    bw_bits(w, 0, 8 - w->nbits);
}

/* Fixed literal/length code of symbol s (0..287). */
static void put_litlen(bitw *w, int s) {
  if (s < 144)
    bw_code(w, 0x30 + (uint32_t)s, 8);
  else if (s < 256)
    bw_code(w, 0x190 + (uint32_t)(s - 144), 9);
  else if (s < 280)
    bw_code(w, (uint32_t)(s - 256), 7);
  else
    bw_code(w, 0xc0 + (uint32_t)(s - 280), 8);
}

static const int len_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const int len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const int dist_base[30] = {1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
                                  193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const int dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

static void put_match(bitw *w, int len, int dist) {
  int i = 28;
  while (len_base[i] > len)
    i--;
  put_litlen(w, 257 + i);
  if (len_extra[i])
    bw_bits(w, (uint32_t)(len - len_base[i]), len_extra[i]);
  int d = 29;
  while (dist_base[d] > dist)
    d--;
  bw_code(w, (uint32_t)d, 5);
  if (dist_extra[d])
    bw_bits(w, (uint32_t)(dist - dist_base[d]), dist_extra[d]);
}

/* One final fixed-Huffman block over data (n bytes): greedy matches at distances d1 and d2. */
static void deflate_fixed(bitw *w, const uint8_t *data, size_t n, int d1, int d2) {
  bw_bits(w, 1, 1); /* BFINAL */
  bw_bits(w, 1, 2); /* BTYPE = 01, fixed codes */
  size_t i = 0;
  while (i < n) {
    int best = 0, bestd = 0;
    const int cand[2] = {d1, d2};
    for (int c = 0; c < 2; c++) {
      int d = cand[c];
      if (d <= 0 || d > 32768 || (size_t)d > i)
        continue;
      int l = 0;
      while (l < 258 && i + (size_t)l < n && data[i + (size_t)l] == data[i + (size_t)l - (size_t)d])
        l++;
      if (l > best) {
        best = l;
        bestd = d;
      }
    }
    if (best >= 3) {
      put_match(w, best, bestd);
      i += (size_t)best;
    } else {
      put_litlen(w, data[i]);
      i++;
    }
  }
  put_litlen(w, 256);
  bw_flush(w);
}

/* ---------------------------------------------------------------- PNG */

static uint32_t crc_table[256];
static int crc_ready;

static uint32_t crc32_update(uint32_t c, const uint8_t *p, size_t n) {
  if (!crc_ready) { /* idempotent: concurrent first calls write the same values */
    for (uint32_t k = 0; k < 256; k++) {
      uint32_t v = k;
      for (int j = 0; j < 8; j++)
        v = v & 1 ? 0xedb88320u ^ (v >> 1) : v >> 1;
      crc_table[k] = v;
    }
    crc_ready = 1;
  }
  c = ~c;
  for (size_t i = 0; i < n; i++)
    c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return ~c;
}

static void put_u32be(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static int write_chunk(FILE *f, const char *type, const uint8_t *data, size_t n) {
  uint8_t head[8];
  put_u32be(head, (uint32_t)n);
  memcpy(head + 4, type, 4);
  uint32_t crc = crc32_update(0, (const uint8_t *)type, 4);
  crc = crc32_update(crc, data, n);
  uint8_t tail[4];
  put_u32be(tail, crc);
  return fwrite(head, 1, 8, f) == 8 && (n == 0 || fwrite(data, 1, n, f) == n) && fwrite(tail, 1, 4, f) == 4;
}

ad3d_status png_write(const char *path, const image_t *im) {
  size_t stride = (size_t)im->width * 3 + 1, n = stride * (size_t)im->height;
  uint8_t *raw = malloc(n);
  bitw w = {0};
  if (!raw)
    return ad3d_fail(AD3D_ENOMEM, "%s: out of memory for a %d x %d image", path, im->width, im->height);
  for (int y = 0; y < im->height; y++) { /* Sub filter: each byte minus the one a pixel to the left */
    uint8_t *row = raw + (size_t)y * stride;
    const uint8_t *src = im->rgb + (size_t)y * im->width * 3;
    row[0] = 1;
    for (size_t x = 0; x < (size_t)im->width * 3; x++)
      row[1 + x] = (uint8_t)(src[x] - (x >= 3 ? src[x - 3] : 0));
  }
  bw_byte(&w, 0x78); /* zlib header: deflate, 32K window, no dictionary, (0x7801 % 31 == 0) */
  bw_byte(&w, 0x01);
  deflate_fixed(&w, raw, n, 3, (int)stride);
  uint32_t a = 1, b = 0; /* Adler-32 */
  for (size_t i = 0; i < n; i++) {
    a = (a + raw[i]) % 65521u;
    b = (b + a) % 65521u;
  }
  uint8_t ad[4];
  put_u32be(ad, (b << 16) | a);
  for (int i = 0; i < 4; i++)
    bw_byte(&w, ad[i]);
  free(raw);
  if (w.oom) {
    free(w.buf);
    return ad3d_fail(AD3D_ENOMEM, "%s: out of memory compressing the image", path);
  }
  FILE *f = fopen(path, "wb");
  if (!f) {
    free(w.buf);
    return ad3d_fail(AD3D_EIO, "%s: cannot create: %s", path, strerror(errno));
  }
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  uint8_t ihdr[13];
  put_u32be(ihdr, (uint32_t)im->width);
  put_u32be(ihdr + 4, (uint32_t)im->height);
  ihdr[8] = 8;  /* bit depth */
  ihdr[9] = 2;  /* RGB */
  ihdr[10] = 0; /* deflate */
  ihdr[11] = 0; /* adaptive filtering */
  ihdr[12] = 0; /* no interlace */
  int ok = fwrite(sig, 1, 8, f) == 8 && write_chunk(f, "IHDR", ihdr, 13) && write_chunk(f, "IDAT", w.buf, w.n) &&
           write_chunk(f, "IEND", NULL, 0);
  free(w.buf);
  if (fclose(f) != 0 || !ok)
    return ad3d_fail(AD3D_EIO, "%s: write error: %s", path, strerror(errno));
  return AD3D_OK;
}

/* ---------------------------------------------------------------- splatting */

render_view render_view_default(void) {
  render_view v = {35.0, 20.0, 1};
  return v;
}

/* Turned coordinates: horizontal u, vertical v, depth d (larger is farther). */
static void project(const render_view *v, const float *p, double *u, double *vv, double *d) {
  double az = v->azimuth * M_PI / 180.0, el = v->elevation * M_PI / 180.0;
  double x = cos(az) * p[0] - sin(az) * p[1], y = sin(az) * p[0] + cos(az) * p[1], z = p[2];
  /* the camera sits at (0, -cos el, sin el) in turned coordinates, looking at the origin */
  *u = x;
  *vv = cos(el) * z + sin(el) * y;
  *d = cos(el) * y - sin(el) * z;
}

render_view render_view_towards(const double dir[3]) {
  double n[3] = {dir[0], dir[1], dir[2] + 0.35}, l = sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
  render_view v = render_view_default();
  if (!(l > 0))
    return v;
  for (int a = 0; a < 3; a++)
    n[a] /= l;
  double el = asin(n[2] < -1 ? -1 : n[2] > 1 ? 1 : n[2]);
  el = fmax(-60.0 * M_PI / 180.0, fmin(75.0 * M_PI / 180.0, el));
  v.elevation = el * 180.0 / M_PI;
  v.azimuth = atan2(-n[0], -n[1]) * 180.0 / M_PI;
  return v;
}

void render_bounds(const float *xyz, int64_t n, const render_view *v, double lo[2], double hi[2]) {
  lo[0] = lo[1] = INFINITY;
  hi[0] = hi[1] = -INFINITY;
  for (int64_t i = 0; i < n; i++) {
    double u, w, d;
    project(v, xyz + 3 * i, &u, &w, &d);
    lo[0] = fmin(lo[0], u);
    hi[0] = fmax(hi[0], u);
    lo[1] = fmin(lo[1], w);
    hi[1] = fmax(hi[1], w);
  }
  if (n == 0)
    lo[0] = lo[1] = hi[0] = hi[1] = 0;
}

void render_points(image_t *im, int x0, int y0, int w, int h, const float *xyz, int64_t n, const uint8_t *rgb,
                   const render_view *v, const double lo[2], const double hi[2]) {
  if (w <= 0 || h <= 0 || n <= 0)
    return;
  float *zbuf = malloc((size_t)w * h * sizeof *zbuf);
  if (!zbuf)
    return; /* a preview is best effort: no memory, no splats */
  for (int64_t i = 0; i < (int64_t)w * h; i++)
    zbuf[i] = INFINITY;
  double margin = 0.06, span = fmax(hi[0] - lo[0], hi[1] - lo[1]);
  double scale = span > 0 ? (1 - 2 * margin) * fmin(w, h) / span : 1.0;
  double cu = 0.5 * (lo[0] + hi[0]), cv = 0.5 * (lo[1] + hi[1]);
  double dmin = INFINITY, dmax = -INFINITY;
  for (int64_t i = 0; i < n; i++) {
    double u, vv, d;
    project(v, xyz + 3 * i, &u, &vv, &d);
    dmin = fmin(dmin, d);
    dmax = fmax(dmax, d);
  }
  int r = v->radius < 0 ? 0 : v->radius;
  for (int64_t i = 0; i < n; i++) {
    double u, vv, d;
    project(v, xyz + 3 * i, &u, &vv, &d);
    int px = (int)floor(0.5 * w + (u - cu) * scale), py = (int)floor(0.5 * h - (vv - cv) * scale);
    double shade = dmax > dmin ? 1.0 - 0.5 * (d - dmin) / (dmax - dmin) : 1.0;
    for (int dy = -r; dy <= r; dy++)
      for (int dx = -r; dx <= r; dx++) {
        int x = px + dx, y = py + dy;
        if (dx * dx + dy * dy > r * r + r || x < 0 || y < 0 || x >= w || y >= h)
          continue;
        float *z = zbuf + (int64_t)y * w + x;
        if (d >= *z)
          continue;
        *z = (float)d;
        uint8_t *o = im->rgb + 3 * ((int64_t)(y0 + y) * im->width + (x0 + x));
        for (int c = 0; c < 3; c++)
          o[c] = (uint8_t)lround(rgb[3 * i + c] * shade);
      }
  }
  free(zbuf);
}

void colormap_jet(double t, uint8_t out[3]) {
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  double r = 1.5 - fabs(4 * t - 3), g = 1.5 - fabs(4 * t - 2), b = 1.5 - fabs(4 * t - 1);
  double c[3] = {r, g, b};
  for (int k = 0; k < 3; k++)
    out[k] = (uint8_t)lround(255.0 * (c[k] < 0 ? 0 : c[k] > 1 ? 1 : c[k]));
}

ad3d_status render_sample_png(const char *path, const float *xyz, int64_t n, const float *scores,
                              const uint8_t *labels, int panel, const render_view *v) {
  static const uint8_t grey[3] = {170, 170, 170}, red[3] = {230, 30, 30};
  image_t im;
  TRY(image_alloc(&im, 2 * panel, panel, 255, 255, 255));
  uint8_t *col = malloc((size_t)(n > 0 ? n : 1) * 3);
  if (!col) {
    image_free(&im);
    return ad3d_fail(AD3D_ENOMEM, "%s: out of memory for %lld colours", path, (long long)n);
  }
  double lo[2], hi[2];
  render_bounds(xyz, n, v, lo, hi);
  double smin = INFINITY, smax = -INFINITY;
  for (int64_t i = 0; scores && i < n; i++) {
    smin = fmin(smin, scores[i]);
    smax = fmax(smax, scores[i]);
  }
  for (int64_t i = 0; i < n; i++) {
    if (scores)
      colormap_jet(smax > smin ? (scores[i] - smin) / (smax - smin) : 0.0, col + 3 * i);
    else
      memcpy(col + 3 * i, grey, 3);
  }
  render_points(&im, 0, 0, panel, panel, xyz, n, col, v, lo, hi);
  for (int64_t i = 0; i < n; i++)
    memcpy(col + 3 * i, labels && labels[i] ? red : grey, 3);
  render_points(&im, panel, 0, panel, panel, xyz, n, col, v, lo, hi);
  for (int y = 0; y < panel; y++) { /* a thin separator */
    uint8_t *o = im.rgb + 3 * ((int64_t)y * im.width + panel);
    o[0] = o[1] = o[2] = 200;
  }
  free(col);
  ad3d_status st = png_write(path, &im);
  image_free(&im);
  return st;
}
