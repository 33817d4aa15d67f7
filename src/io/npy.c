/* npy.c - read a NumPy .npy array of shape (N, C), C >= 3, as a point cloud (the first 3 columns).
 *
 * Format (numpy.lib.format): the magic "\x93NUMPY", major and minor version bytes, the header length
 * (uint16 little-endian in version 1.x, uint32 in 2.x and 3.x), then the header: a Python dict
 * literal {'descr': '<f4', 'fortran_order': False, 'shape': (N, C), } padded with spaces and a
 * newline; the data follows in C order. The dict is parsed by a small strict parser, not by eval.
 * Non-finite coordinates are rejected (EFORMAT) rather than passed on to the geometry code.
 */
#include "io/npy.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum {
  NPY_MAX_RANK = 16,
  NPY_HEADER_MAX = 1 << 20, /* numpy itself writes headers of a few hundred bytes */
  NPY_CHUNK_BYTES = 1 << 22
};

typedef struct {
  char descr[16];
  int has_descr, has_order, has_shape;
  int fortran;
  int rank;
  int64_t shape[NPY_MAX_RANK];
} npy_header;

typedef struct {
  const char *p, *end;
} cursor;

static void skip_ws(cursor *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

static int eat(cursor *c, char ch) {
  skip_ws(c);
  if (c->p < c->end && *c->p == ch) {
    c->p++;
    return 1;
  }
  return 0;
}

/* A quoted string ('...' or "...") into buf (cap bytes); 0 if malformed or too long. */
static int parse_string(cursor *c, char *buf, size_t cap) {
  skip_ws(c);
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
    return 0;
  char q = *c->p++;
  size_t n = 0;
  while (c->p < c->end && *c->p != q) {
    if (n + 1 >= cap)
      return 0;
    buf[n++] = *c->p++;
  }
  if (c->p >= c->end)
    return 0;
  c->p++;
  buf[n] = '\0';
  return 1;
}

static int parse_word(cursor *c, const char *w) {
  skip_ws(c);
  size_t n = strlen(w);
  if ((size_t)(c->end - c->p) >= n && memcmp(c->p, w, n) == 0) {
    c->p += n;
    return 1;
  }
  return 0;
}

/* A tuple of non-negative integers: (), (N,), (N, C), (N, C,) ... */
static int parse_shape(cursor *c, npy_header *h) {
  if (!eat(c, '('))
    return 0;
  h->rank = 0;
  for (;;) {
    if (eat(c, ')'))
      return 1;
    skip_ws(c);
    const char *s = c->p;
    int64_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
      if (v > (INT64_MAX - 9) / 10)
        return 0;
      v = v * 10 + (*c->p++ - '0');
    }
    if (c->p == s || h->rank == NPY_MAX_RANK)
      return 0;
    if (c->p < c->end && *c->p == 'L') /* Python 2 longs */
      c->p++;
    h->shape[h->rank++] = v;
    if (eat(c, ')'))
      return 1;
    if (!eat(c, ','))
      return 0;
  }
}

static ad3d_status parse_header(const char *path, const char *text, size_t len, npy_header *h) {
  cursor c = {text, text + len};
  char key[32];
  memset(h, 0, sizeof *h);
  if (!eat(&c, '{'))
    goto bad;
  for (;;) {
    if (eat(&c, '}'))
      break;
    if (!parse_string(&c, key, sizeof key) || !eat(&c, ':'))
      goto bad;
    if (strcmp(key, "descr") == 0) {
      if (!parse_string(&c, h->descr, sizeof h->descr))
        return ad3d_fail(AD3D_EFORMAT, "%s: npy dtype is not a simple type string (structured dtypes are not "
                         "supported)", path);
      h->has_descr = 1;
    } else if (strcmp(key, "fortran_order") == 0) {
      if (parse_word(&c, "True"))
        h->fortran = 1;
      else if (parse_word(&c, "False"))
        h->fortran = 0;
      else
        goto bad;
      h->has_order = 1;
    } else if (strcmp(key, "shape") == 0) {
      if (!parse_shape(&c, h))
        goto bad;
      h->has_shape = 1;
    } else {
      return ad3d_fail(AD3D_EFORMAT, "%s: npy header has an unexpected key '%s'", path, key);
    }
    if (eat(&c, '}'))
      break;
    if (!eat(&c, ','))
      goto bad;
  }
  if (!h->has_descr || !h->has_order || !h->has_shape)
    return ad3d_fail(AD3D_EFORMAT, "%s: npy header lacks '%s'", path,
                     !h->has_descr ? "descr" : !h->has_order ? "fortran_order" : "shape");
  return AD3D_OK;
bad:
  return ad3d_fail(AD3D_EFORMAT, "%s: malformed npy header near byte %d: %.80s", path, (int)(c.p - text), text);
}

static int host_little_endian(void) {
  const uint16_t one = 1;
  uint8_t b;
  memcpy(&b, &one, 1);
  return b == 1;
}

static double load_value(const uint8_t *src, int item, int swap) {
  uint8_t b[8];
  for (int k = 0; k < item; k++)
    b[k] = swap ? src[item - 1 - k] : src[k];
  if (item == 4) {
    float f;
    memcpy(&f, b, 4);
    return f;
  }
  double d;
  memcpy(&d, b, 8);
  return d;
}

ad3d_status npy_read_cloud(const char *path, cloud_t *out) {
  ASSERT(path && out);
  memset(out, 0, sizeof *out);
  ad3d_status st = AD3D_OK;
  char *text = NULL;
  uint8_t *buf = NULL;
  FILE *f = fopen(path, "rb");
  if (!f)
    return ad3d_fail(AD3D_EIO, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    st = ad3d_fail(AD3D_EIO, "%s: not a readable regular file", path);
    goto cleanup;
  }
  int64_t size = (int64_t)sb.st_size;
  uint8_t pre[12];
  if (size < 10 || fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
    st = ad3d_fail(AD3D_EFORMAT, "%s: not a .npy file (no \\x93NUMPY magic)", path);
    goto cleanup;
  }
  int major = pre[6], minor = pre[7];
  int64_t hlen, off;
  if (major == 1) {
    hlen = pre[8] | pre[9] << 8;
    off = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12 || fread(pre + 10, 1, 2, f) != 2) {
      st = ad3d_fail(AD3D_EFORMAT, "%s: truncated npy header", path);
      goto cleanup;
    }
    hlen = (int64_t)pre[8] | (int64_t)pre[9] << 8 | (int64_t)pre[10] << 16 | (int64_t)pre[11] << 24;
    off = 12;
  } else {
    st = ad3d_fail(AD3D_EFORMAT, "%s: unsupported npy format version %d.%d (need 1.0, 2.0 or 3.0)", path, major,
                   minor);
    goto cleanup;
  }
  if (hlen > size - off || hlen > NPY_HEADER_MAX) {
    st = ad3d_fail(AD3D_EFORMAT, "%s: truncated npy header: %lld header bytes announced, %lld in the file", path,
                   (long long)hlen, (long long)(size - off));
    goto cleanup;
  }
  text = malloc((size_t)hlen + 1);
  if (!text) {
    st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory", path);
    goto cleanup;
  }
  if (fread(text, 1, (size_t)hlen, f) != (size_t)hlen) {
    st = ad3d_fail(AD3D_EIO, "%s: read error in the npy header", path);
    goto cleanup;
  }
  text[hlen] = '\0';
  npy_header h;
  if ((st = parse_header(path, text, (size_t)hlen, &h)) != AD3D_OK)
    goto cleanup;

  const char *d = h.descr;
  if (strlen(d) != 3 || (d[0] != '<' && d[0] != '>') || d[1] != 'f' || (d[2] != '4' && d[2] != '8')) {
    st = ad3d_fail(AD3D_EFORMAT, "%s: npy dtype '%s' is not supported (need float32 or float64: <f4, <f8, >f4, >f8)",
                   path, d);
    goto cleanup;
  }
  if (h.fortran) {
    st = ad3d_fail(AD3D_EFORMAT, "%s: npy array is in Fortran order (need C order; save np.ascontiguousarray(a))",
                   path);
    goto cleanup;
  }
  if (h.rank != 2 || h.shape[1] < 3) {
    char shape[160] = "";
    for (int k = 0; k < h.rank && strlen(shape) < 120; k++)
      snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%lld", k ? ", " : "", (long long)h.shape[k]);
    st = ad3d_fail(AD3D_EFORMAT, "%s: npy shape (%s) is not (N, C) with C >= 3 columns", path, shape);
    goto cleanup;
  }
  int item = d[2] - '0';
  int swap = (d[0] == '<') != host_little_endian();
  int64_t n = h.shape[0], cols = h.shape[1];
  if (cols > INT64_MAX / 8 / (n > 0 ? n : 1)) {
    st = ad3d_fail(AD3D_EFORMAT, "%s: npy shape (%lld, %lld) is too large", path, (long long)n, (long long)cols);
    goto cleanup;
  }
  int64_t row = cols * item, need = n * row, avail = size - off - hlen;
  if (avail < need) {
    st = ad3d_fail(AD3D_EFORMAT, "%s: truncated: expected %lld bytes of data for shape (%lld, %lld), found %lld",
                   path, (long long)need, (long long)n, (long long)cols, (long long)avail);
    goto cleanup;
  }
  if ((st = cloud_alloc(out, n)) != AD3D_OK)
    goto cleanup;
  int64_t chunk = NPY_CHUNK_BYTES / row > 0 ? NPY_CHUNK_BYTES / row : 1;
  if (chunk > n)
    chunk = n > 0 ? n : 1;
  buf = malloc((size_t)(chunk * row)); /* (chunk, cols) values of `item` bytes */
  if (!buf) {
    st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory", path);
    goto cleanup;
  }
  for (int64_t start = 0; start < n; start += chunk) {
    int64_t m = n - start < chunk ? n - start : chunk;
    if (fread(buf, (size_t)row, (size_t)m, f) != (size_t)m) {
      st = ad3d_fail(AD3D_EIO, "%s: read error in the npy data", path);
      goto cleanup;
    }
    for (int64_t i = 0; i < m; i++) {
      for (int a = 0; a < 3; a++) {
        double v = load_value(buf + i * row + a * item, item, swap);
        float fv = (float)v;
        if (!isfinite(fv)) {
          st = ad3d_fail(AD3D_EFORMAT, "%s: row %lld column %d is not finite (%g)", path, (long long)(start + i), a,
                         v);
          goto cleanup;
        }
        out->xyz[3 * (start + i) + a] = fv;
      }
    }
  }
cleanup:
  if (st != AD3D_OK)
    cloud_free(out);
  free(text);
  free(buf);
  fclose(f);
  return st;
}
