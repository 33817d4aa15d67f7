/* pcd.c - PCD reader (ascii, binary, binary_compressed) and writer (ascii, binary, binary_compressed).
 *
 * Reading goes in two steps: the header is read line by line and checked as a whole when its DATA
 * line arrives (field table, point count, data kind); then the point data is decoded by one of three
 * readers. The binary reader reads whole points in chunks and the binary_compressed reader decodes
 * into one buffer of the size the header claims; both first check that claim against the file size,
 * so a lying header can neither make us read past the end nor allocate far more than the file holds.
 *
 * Layouts: binary data is an array of point records (field after field, COUNT values each);
 * binary_compressed data (PCL's layout) is `uint32 compressed size, uint32 uncompressed size`, then
 * an LZF stream that decodes to the same bytes transposed field by field: every point's field 0,
 * then every point's field 1, and so on. Values are stored in the writer's byte order; like PCL we
 * assume little-endian hosts.
 */
#include "io/pcd.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/util.h"
#include "io/lzf.h"

enum {
  PCD_LINE_MAX = 1 << 16,     /* longest header line accepted */
  PCD_CHUNK_POINTS = 1 << 16, /* points per read of binary data */
  PCD_COUNT_MAX = 1 << 24,    /* largest COUNT accepted */
  LZF_MAX_RATIO = 88          /* 3 bytes of LZF expand to at most 264 bytes */
};

typedef struct {
  char *name;     /* points into pcd_header.names */
  int size;       /* bytes per value: 1, 2, 4 or 8 */
  char type;      /* 'F', 'I' or 'U' */
  int64_t count;  /* values per point */
  int64_t offset; /* bytes from the start of a point record */
} pcd_field;

/* Header lines whose meaning depends on each other are kept as text until DATA and checked together. */
enum { KW_FIELDS, KW_SIZE, KW_TYPE, KW_COUNT, KW_WIDTH, KW_HEIGHT, KW_POINTS, KW_N };
static const char *const kw_names[KW_N] = {"FIELDS", "SIZE", "TYPE", "COUNT", "WIDTH", "HEIGHT", "POINTS"};

typedef struct {
  char *kw[KW_N];    /* text after each keyword, NULL if absent */
  char *names;       /* FIELDS text, split in place into the field names */
  int nfields;
  pcd_field *fields; /* (nfields) */
  int xyz[3];        /* field index of x, y and z */
  int64_t width, height, points;
  int64_t stride;  /* bytes per point record */
  int64_t nvalues; /* values per ascii row: sum of COUNT */
  pcd_data data;
  int64_t lines;   /* header lines, DATA included */
} pcd_header;

static void header_free(pcd_header *h) {
  for (int k = 0; k < KW_N; k++)
    free(h->kw[k]);
  free(h->names);
  free(h->fields);
  memset(h, 0, sizeof *h);
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Split s in place on blanks into tok (capacity max). Returns the token count, or max + 1 if more. */
static int split_blanks(char *s, char **tok, int max) {
  int n = 0;
  for (;;) {
    while (is_blank(*s))
      s++;
    if (!*s)
      return n;
    if (n == max)
      return max + 1;
    tok[n++] = s;
    while (*s && !is_blank(*s))
      s++;
    if (*s)
      *s++ = '\0';
  }
}

static int parse_int64(const char *s, int64_t *v) {
  char *end;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (end == s || *end || errno == ERANGE)
    return 0;
  *v = (int64_t)x;
  return 1;
}

/* The single non-negative integer after WIDTH, HEIGHT or POINTS; *given = 0 when the line is absent. */
static ad3d_status header_count(const char *path, pcd_header *h, int k, int64_t *v, int *given) {
  char *tok[2] = {NULL, NULL};
  *given = 0;
  if (!h->kw[k])
    return AD3D_OK;
  int n = split_blanks(h->kw[k], tok, 1);
  if (n != 1 || !parse_int64(tok[0], v) || *v < 0)
    return ad3d_fail(AD3D_EFORMAT, "%s: %s must be one non-negative integer", path, kw_names[k]);
  *given = 1;
  return AD3D_OK;
}

/* Split the SIZE, TYPE or COUNT line into exactly nfields tokens (tok has nfields + 1 slots). */
static ad3d_status header_per_field(const char *path, pcd_header *h, int k, char **tok) {
  int n = split_blanks(h->kw[k], tok, h->nfields);
  if (n != h->nfields)
    return ad3d_fail(AD3D_EFORMAT, "%s: %s has %s%d entries but FIELDS has %d", path, kw_names[k],
                     n > h->nfields ? "more than " : "", n > h->nfields ? h->nfields : n, h->nfields);
  return AD3D_OK;
}

/* Check the header lines against each other and build the field table. */
static ad3d_status header_check(const char *path, pcd_header *h) {
  ad3d_status st = AD3D_OK;
  char **tok = NULL;
  for (int k = KW_FIELDS; k <= KW_TYPE; k++)
    if (!h->kw[k])
      return ad3d_fail(AD3D_EFORMAT, "%s: no %s line in the header", path, kw_names[k]);

  h->names = h->kw[KW_FIELDS];
  h->kw[KW_FIELDS] = NULL;
  int maxtok = (int)(strlen(h->names) / 2 + 2);
  tok = malloc((size_t)maxtok * sizeof *tok);
  if (!tok)
    return ad3d_fail(AD3D_ENOMEM, "%s: out of memory reading the header", path);
  h->nfields = split_blanks(h->names, tok, maxtok);
  if (h->nfields == 0) {
    st = ad3d_fail(AD3D_EFORMAT, "%s: FIELDS lists no field", path);
    goto cleanup;
  }
  h->fields = calloc((size_t)h->nfields, sizeof *h->fields);
  if (!h->fields) {
    st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory reading the header", path);
    goto cleanup;
  }
  for (int i = 0; i < h->nfields; i++) {
    h->fields[i].name = tok[i];
    h->fields[i].count = 1;
  }

  if ((st = header_per_field(path, h, KW_SIZE, tok)) != AD3D_OK)
    goto cleanup;
  for (int i = 0; i < h->nfields; i++) {
    int64_t v;
    if (!parse_int64(tok[i], &v) || (v != 1 && v != 2 && v != 4 && v != 8)) {
      st = ad3d_fail(AD3D_EFORMAT, "%s: SIZE of field %s is '%s' (must be 1, 2, 4 or 8)", path,
                     h->fields[i].name, tok[i]);
      goto cleanup;
    }
    h->fields[i].size = (int)v;
  }
  if ((st = header_per_field(path, h, KW_TYPE, tok)) != AD3D_OK)
    goto cleanup;
  for (int i = 0; i < h->nfields; i++) {
    char t = tok[i][0];
    t = (char)(t >= 'a' && t <= 'z' ? t - 'a' + 'A' : t);
    if (tok[i][1] || (t != 'F' && t != 'I' && t != 'U')) {
      st = ad3d_fail(AD3D_EFORMAT, "%s: TYPE of field %s is '%s' (must be F, I or U)", path, h->fields[i].name,
                     tok[i]);
      goto cleanup;
    }
    h->fields[i].type = t;
  }
  if (h->kw[KW_COUNT]) {
    if ((st = header_per_field(path, h, KW_COUNT, tok)) != AD3D_OK)
      goto cleanup;
    for (int i = 0; i < h->nfields; i++) {
      int64_t v;
      if (!parse_int64(tok[i], &v) || v < 0 || v > PCD_COUNT_MAX) {
        st = ad3d_fail(AD3D_EFORMAT, "%s: COUNT of field %s is '%s' (must be 0 to %d)", path, h->fields[i].name,
                       tok[i], PCD_COUNT_MAX);
        goto cleanup;
      }
      h->fields[i].count = v;
    }
  }

  /* Record layout; fields <= 32768 and value bytes <= 8 * 2^24 each, so no overflow. */
  h->stride = h->nvalues = 0;
  for (int i = 0; i < h->nfields; i++) {
    h->fields[i].offset = h->stride;
    h->stride += h->fields[i].size * h->fields[i].count;
    h->nvalues += h->fields[i].count;
  }

  static const char *const axis[3] = {"x", "y", "z"};
  for (int a = 0; a < 3; a++) {
    h->xyz[a] = -1;
    for (int i = 0; i < h->nfields; i++) {
      if (strcmp(h->fields[i].name, axis[a]) != 0)
        continue;
      if (h->xyz[a] >= 0) {
        st = ad3d_fail(AD3D_EFORMAT, "%s: field %s appears twice in FIELDS", path, axis[a]);
        goto cleanup;
      }
      h->xyz[a] = i;
    }
    if (h->xyz[a] < 0) {
      st = ad3d_fail(AD3D_EFORMAT, "%s: no field %s in FIELDS (need x, y and z)", path, axis[a]);
      goto cleanup;
    }
    const pcd_field *fd = &h->fields[h->xyz[a]];
    if (fd->type != 'F' || (fd->size != 4 && fd->size != 8) || fd->count != 1) {
      st = ad3d_fail(AD3D_EFORMAT, "%s: field %s has TYPE %c SIZE %d COUNT %lld (x y z must be TYPE F, SIZE 4 or 8, "
                     "COUNT 1)", path, axis[a], fd->type, fd->size, (long long)fd->count);
      goto cleanup;
    }
  }

  int64_t width = 0, height = 1, points = 0;
  int has_w, has_h, has_p;
  if ((st = header_count(path, h, KW_WIDTH, &width, &has_w)) != AD3D_OK ||
      (st = header_count(path, h, KW_HEIGHT, &height, &has_h)) != AD3D_OK ||
      (st = header_count(path, h, KW_POINTS, &points, &has_p)) != AD3D_OK)
    goto cleanup;
  if (!has_h)
    height = 1;
  if (!has_w && !has_p) {
    st = ad3d_fail(AD3D_EFORMAT, "%s: no WIDTH or POINTS line in the header", path);
    goto cleanup;
  }
  if (!has_w)
    width = points;
  if (height > 0 && width > INT64_MAX / height) {
    st = ad3d_fail(AD3D_EFORMAT, "%s: WIDTH %lld x HEIGHT %lld is too large", path, (long long)width,
                   (long long)height);
    goto cleanup;
  }
  if (!has_p)
    points = width * height;
  if (points != width * height) {
    st = ad3d_fail(AD3D_EFORMAT, "%s: POINTS %lld does not equal WIDTH x HEIGHT = %lld x %lld = %lld", path,
                   (long long)points, (long long)width, (long long)height, (long long)(width * height));
    goto cleanup;
  }
  h->width = width;
  h->height = height;
  h->points = points;
cleanup:
  free(tok);
  return st;
}

/* Read header lines up to and including DATA; on success the stream is at the first data byte. */
static ad3d_status header_read(const char *path, FILE *f, pcd_header *h) {
  ad3d_status st = AD3D_OK;
  char *line = malloc(PCD_LINE_MAX);
  if (!line)
    return ad3d_fail(AD3D_ENOMEM, "%s: out of memory reading the header", path);
  int found_data = 0;
  while (!found_data && fgets(line, PCD_LINE_MAX, f)) {
    h->lines++;
    size_t len = strlen(line);
    if (len == PCD_LINE_MAX - 1 && line[len - 1] != '\n') {
      st = ad3d_fail(AD3D_EFORMAT, "%s: header line %lld is longer than %d bytes (no DATA line before it?)", path,
                     (long long)h->lines, PCD_LINE_MAX);
      goto cleanup;
    }
    char *p = line;
    while (is_blank(*p))
      p++;
    if (!*p || *p == '#')
      continue;
    char *key = p;
    while (*p && !is_blank(*p))
      p++;
    if (*p)
      *p++ = '\0';
    if (strcasecmp(key, "DATA") == 0) {
      char *tok[2] = {NULL, NULL};
      int n = split_blanks(p, tok, 1);
      if (n == 0) {
        st = ad3d_fail(AD3D_EFORMAT, "%s: DATA line %lld names no data kind", path, (long long)h->lines);
        goto cleanup;
      }
      if (n == 1 && strcasecmp(tok[0], "ascii") == 0)
        h->data = PCD_ASCII;
      else if (n == 1 && strcasecmp(tok[0], "binary") == 0)
        h->data = PCD_BINARY;
      else if (n == 1 && strcasecmp(tok[0], "binary_compressed") == 0)
        h->data = PCD_BINARY_COMPRESSED;
      else {
        st = ad3d_fail(AD3D_EFORMAT, "%s: unknown DATA kind '%s' on line %lld (ascii, binary or "
                       "binary_compressed)", path, tok[0], (long long)h->lines);
        goto cleanup;
      }
      found_data = 1;
      continue;
    }
    for (int k = 0; k < KW_N; k++) {
      if (strcasecmp(key, kw_names[k]) != 0)
        continue;
      if (h->kw[k]) {
        st = ad3d_fail(AD3D_EFORMAT, "%s: second %s line (line %lld)", path, kw_names[k], (long long)h->lines);
        goto cleanup;
      }
      if (!(h->kw[k] = xstrdup(p))) {
        st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory reading the header", path);
        goto cleanup;
      }
    }
    /* VERSION, VIEWPOINT and unknown keywords carry nothing we need (PCL ignores unknown ones too). */
  }
  if (ferror(f)) {
    st = ad3d_fail(AD3D_EIO, "%s: read error in the header: %s", path, strerror(errno));
    goto cleanup;
  }
  if (!found_data) {
    st = ad3d_fail(AD3D_EFORMAT, "%s: no DATA line in the header (%lld lines read)", path, (long long)h->lines);
    goto cleanup;
  }
  st = header_check(path, h);
cleanup:
  free(line);
  return st;
}

/* Where the x, y and z values of point i live: base[a] + i * step[a], float or double. */
typedef struct {
  const uint8_t *base[3];
  int64_t step[3];
  int is_double[3];
} coord_view;

/* Append the finite points 0..n-1 of v to out->xyz[*kept..]; count the others in *dropped. */
static void view_extract(const coord_view *v, int64_t n, cloud_t *out, int64_t *kept, int64_t *dropped) {
  for (int64_t i = 0; i < n; i++) {
    float p[3];
    for (int a = 0; a < 3; a++) {
      const uint8_t *src = v->base[a] + i * v->step[a];
      if (v->is_double[a]) {
        double d;
        memcpy(&d, src, sizeof d);
        p[a] = (float)d;
      } else {
        memcpy(&p[a], src, sizeof p[a]);
      }
    }
    if (isfinite(p[0]) && isfinite(p[1]) && isfinite(p[2])) {
      memcpy(out->xyz + 3 * *kept, p, sizeof p);
      (*kept)++;
    } else {
      (*dropped)++;
    }
  }
}

static coord_view view_make(const pcd_header *h, const uint8_t *buf, int soa, int64_t npoints) {
  coord_view v;
  for (int a = 0; a < 3; a++) {
    const pcd_field *fd = &h->fields[h->xyz[a]];
    v.base[a] = buf + (soa ? npoints * fd->offset : fd->offset);
    v.step[a] = soa ? fd->size : h->stride;
    v.is_double[a] = fd->size == 8;
  }
  return v;
}

static ad3d_status check_binary_size(const char *path, const pcd_header *h, int64_t avail, int64_t *need) {
  if (h->points > INT64_MAX / h->stride)
    return ad3d_fail(AD3D_EFORMAT, "%s: POINTS %lld x point size %lld bytes is too large", path,
                     (long long)h->points, (long long)h->stride);
  *need = h->points * h->stride;
  if (h->data == PCD_BINARY && avail < *need)
    return ad3d_fail(AD3D_EFORMAT, "%s: truncated: expected %lld bytes of point data, found %lld", path,
                     (long long)*need, (long long)avail);
  return AD3D_OK;
}

static ad3d_status read_binary(const char *path, FILE *f, const pcd_header *h, int64_t avail, cloud_t *out,
                               int64_t *kept, int64_t *dropped) {
  int64_t need = 0;
  TRY(check_binary_size(path, h, avail, &need));
  TRY(cloud_alloc(out, h->points));
  int64_t chunk = h->points < PCD_CHUNK_POINTS ? h->points : PCD_CHUNK_POINTS;
  uint8_t *buf = malloc((size_t)(chunk > 0 ? chunk : 1) * (size_t)h->stride); /* (chunk, stride) */
  if (!buf)
    return ad3d_fail(AD3D_ENOMEM, "%s: out of memory reading point data", path);
  ad3d_status st = AD3D_OK;
  for (int64_t start = 0; start < h->points; start += chunk) {
    int64_t m = h->points - start < chunk ? h->points - start : chunk;
    size_t got = fread(buf, (size_t)h->stride, (size_t)m, f);
    if ((int64_t)got != m) {
      st = ad3d_fail(AD3D_EIO, "%s: read error in the point data after %lld points", path,
                     (long long)(start + (int64_t)got));
      goto cleanup;
    }
    coord_view v = view_make(h, buf, 0, m);
    view_extract(&v, m, out, kept, dropped);
  }
cleanup:
  free(buf);
  return st;
}

static uint32_t get_u32le(const uint8_t *b) {
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static ad3d_status read_compressed(const char *path, FILE *f, const pcd_header *h, int64_t avail, cloud_t *out,
                                   int64_t *kept, int64_t *dropped) {
  uint8_t sizes[8], *comp = NULL, *raw = NULL;
  int64_t need = 0;
  ad3d_status st = AD3D_OK;
  TRY(check_binary_size(path, h, avail, &need));
  if (avail < 8)
    return ad3d_fail(AD3D_EFORMAT, "%s: truncated: expected 8 bytes of compressed/uncompressed sizes after DATA, "
                     "found %lld", path, (long long)avail);
  if (fread(sizes, 1, 8, f) != 8)
    return ad3d_fail(AD3D_EIO, "%s: read error after DATA", path);
  uint32_t ncomp = get_u32le(sizes), nraw = get_u32le(sizes + 4);
  if ((int64_t)nraw != need)
    return ad3d_fail(AD3D_EFORMAT, "%s: binary_compressed uncompressed size %u does not match POINTS x point size "
                     "= %lld x %lld = %lld bytes", path, nraw, (long long)h->points, (long long)h->stride,
                     (long long)need);
  if ((int64_t)ncomp > avail - 8)
    return ad3d_fail(AD3D_EFORMAT, "%s: truncated: expected %u bytes of compressed point data, found %lld", path,
                     ncomp, (long long)(avail - 8));
  TRY(cloud_alloc(out, h->points));
  if (need == 0)
    return AD3D_OK;
  if ((uint64_t)nraw > (uint64_t)ncomp * LZF_MAX_RATIO)
    return ad3d_fail(AD3D_EFORMAT, "%s: bad LZF stream: %u compressed bytes cannot expand to %u bytes", path,
                     ncomp, nraw);
  comp = malloc(ncomp > 0 ? ncomp : 1); /* (ncomp) */
  raw = malloc(nraw);                   /* (nfields blocks of points * size * count bytes) */
  if (!comp || !raw) {
    st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory decompressing %u bytes", path, nraw);
    goto cleanup;
  }
  if (fread(comp, 1, ncomp, f) != ncomp) {
    st = ad3d_fail(AD3D_EIO, "%s: read error in the compressed point data", path);
    goto cleanup;
  }
  size_t produced;
  if ((st = lzf_decompress(comp, ncomp, raw, nraw, &produced)) != AD3D_OK) {
    ad3d_fail_context(st, "%s", path);
    goto cleanup;
  }
  if (produced != nraw) {
    st = ad3d_fail(AD3D_EFORMAT, "%s: bad LZF stream: decoded %zu bytes, the header says %u", path, produced, nraw);
    goto cleanup;
  }
  coord_view v = view_make(h, raw, 1, h->points);
  view_extract(&v, h->points, out, kept, dropped);
cleanup:
  free(comp);
  free(raw);
  return st;
}

/* Show at most 40 characters of the token at p (for messages). */
static void token_excerpt(const char *p, const char *end, char *buf, size_t cap) {
  size_t n = 0;
  while (p + n < end && !is_blank(p[n]) && p[n] && n + 1 < cap && n < 40)
    n++;
  memcpy(buf, p, n);
  buf[n] = '\0';
}

static ad3d_status read_ascii(const char *path, FILE *f, const pcd_header *h, int64_t avail, cloud_t *out,
                              int64_t *kept, int64_t *dropped) {
  ad3d_status st = AD3D_OK;
  char *buf = NULL;
  int8_t *kind = NULL;
  /* A row of V values takes at least 2V bytes with its separators and newline (2V - 1 for the last). */
  if (h->points > 0 && h->points > (avail + 1) / (2 * h->nvalues))
    return ad3d_fail(AD3D_EFORMAT, "%s: truncated: expected %lld rows of %lld values, but only %lld bytes of data "
                     "follow the header", path, (long long)h->points, (long long)h->nvalues, (long long)avail);
  buf = malloc((size_t)avail + 1); /* (avail + 1) the data section, NUL-terminated */
  kind = malloc((size_t)h->nvalues + 1); /* (nvalues) per value: -1 skipped, else the axis 0..2 */
  if (!buf || !kind) {
    st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory reading ascii data", path);
    goto cleanup;
  }
  if ((int64_t)fread(buf, 1, (size_t)avail, f) != avail) {
    st = ad3d_fail(AD3D_EIO, "%s: read error in the point data", path);
    goto cleanup;
  }
  buf[avail] = '\0';
  int is_double[3];
  memset(kind, -1, (size_t)h->nvalues);
  for (int a = 0; a < 3; a++) {
    const pcd_field *fd = &h->fields[h->xyz[a]];
    int64_t v = 0;
    for (int i = 0; i < h->xyz[a]; i++)
      v += h->fields[i].count;
    kind[v] = (int8_t)a;
    is_double[a] = fd->size == 8;
  }
  if ((st = cloud_alloc(out, h->points)) != AD3D_OK)
    goto cleanup;

  int64_t rows = 0, lineno = h->lines;
  const char *p = buf, *end = buf + avail;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *next = eol ? eol + 1 : end, *line_end = eol ? eol : end;
    lineno++;
    if (line_end > p && line_end[-1] == '\r')
      line_end--;
    const char *q = p;
    while (q < line_end && (*q == ' ' || *q == '\t'))
      q++;
    if (q == line_end) { /* blank line */
      p = next;
      continue;
    }
    if (rows == h->points) {
      st = ad3d_fail(AD3D_EFORMAT, "%s: line %lld: more rows of point data than POINTS = %lld", path,
                     (long long)lineno, (long long)h->points);
      goto cleanup;
    }
    float pt[3] = {0, 0, 0};
    for (int64_t v = 0; v < h->nvalues; v++) {
      while (q < line_end && (*q == ' ' || *q == '\t'))
        q++;
      if (q == line_end) {
        st = ad3d_fail(AD3D_EFORMAT, "%s: line %lld: expected %lld values, found %lld", path, (long long)lineno,
                       (long long)h->nvalues, (long long)v);
        goto cleanup;
      }
      char *stop;
      if (kind[v] >= 0 && !is_double[kind[v]]) {
        pt[kind[v]] = strtof(q, &stop);
      } else {
        double d = strtod(q, &stop);
        if (kind[v] >= 0)
          pt[kind[v]] = (float)d;
      }
      if (stop == q || (stop != line_end && *stop != ' ' && *stop != '\t')) {
        char tok[48];
        token_excerpt(q, line_end, tok, sizeof tok);
        st = ad3d_fail(AD3D_EFORMAT, "%s: line %lld: value %lld '%s' is not a number", path, (long long)lineno,
                       (long long)v + 1, tok);
        goto cleanup;
      }
      q = stop;
    }
    while (q < line_end && (*q == ' ' || *q == '\t'))
      q++;
    if (q != line_end) {
      st = ad3d_fail(AD3D_EFORMAT, "%s: line %lld: unexpected text after %lld values", path, (long long)lineno,
                     (long long)h->nvalues);
      goto cleanup;
    }
    if (isfinite(pt[0]) && isfinite(pt[1]) && isfinite(pt[2])) {
      memcpy(out->xyz + 3 * *kept, pt, sizeof pt);
      (*kept)++;
    } else {
      (*dropped)++;
    }
    rows++;
    p = next;
  }
  if (rows < h->points)
    st = ad3d_fail(AD3D_EFORMAT, "%s: truncated: expected %lld rows of point data, found %lld", path,
                   (long long)h->points, (long long)rows);
cleanup:
  free(buf);
  free(kind);
  return st;
}

ad3d_status pcd_read(const char *path, cloud_t *out, pcd_info *info) {
  ASSERT(path && out);
  pcd_header h;
  memset(&h, 0, sizeof h);
  memset(out, 0, sizeof *out);
  if (info)
    memset(info, 0, sizeof *info);
  ad3d_status st = AD3D_OK;
  int64_t kept = 0, dropped = 0;
  FILE *f = fopen(path, "rb");
  if (!f)
    return ad3d_fail(AD3D_EIO, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    st = ad3d_fail(AD3D_EIO, "%s: not a readable regular file", path);
    goto cleanup;
  }
  if ((st = header_read(path, f, &h)) != AD3D_OK)
    goto cleanup;
  long pos = ftell(f);
  if (pos < 0) {
    st = ad3d_fail(AD3D_EIO, "%s: cannot tell the data position: %s", path, strerror(errno));
    goto cleanup;
  }
  int64_t avail = (int64_t)sb.st_size - pos;
  if (avail < 0)
    avail = 0;
  switch (h.data) {
  case PCD_ASCII: st = read_ascii(path, f, &h, avail, out, &kept, &dropped); break;
  case PCD_BINARY: st = read_binary(path, f, &h, avail, out, &kept, &dropped); break;
  case PCD_BINARY_COMPRESSED: st = read_compressed(path, f, &h, avail, out, &kept, &dropped); break;
  }
  if (st != AD3D_OK)
    goto cleanup;
  if (kept < out->n) {
    float *shrunk = realloc(out->xyz, (size_t)(kept > 0 ? kept : 1) * 3 * sizeof(float));
    if (shrunk)
      out->xyz = shrunk;
  }
  out->n = kept;
  if (info) {
    info->data = h.data;
    info->points = h.points;
    info->width = h.width;
    info->height = h.height;
    info->dropped_nan = dropped;
  }
cleanup:
  if (st != AD3D_OK)
    cloud_free(out);
  header_free(&h);
  fclose(f);
  return st;
}

static void put_u32le(uint8_t *b, uint32_t v) {
  for (int k = 0; k < 4; k++)
    b[k] = (uint8_t)(v >> (8 * k));
}

/* The LZF stream of c's coordinates transposed to x block, y block, z block. */
static ad3d_status compress_xyz(const cloud_t *c, uint8_t **comp, size_t *ncomp) {
  size_t nraw = (size_t)c->n * 3 * sizeof(float);
  float *soa = malloc(nraw > 0 ? nraw : 1); /* (3, n) */
  *comp = malloc(lzf_compress_bound(nraw));
  ad3d_status st = AD3D_OK;
  if (!soa || !*comp) {
    st = ad3d_fail(AD3D_ENOMEM, "out of memory compressing %lld points", (long long)c->n);
    goto cleanup;
  }
  for (int64_t i = 0; i < c->n; i++)
    for (int a = 0; a < 3; a++)
      soa[a * c->n + i] = c->xyz[3 * i + a];
  st = lzf_compress((const uint8_t *)soa, nraw, *comp, lzf_compress_bound(nraw), ncomp);
cleanup:
  free(soa);
  if (st != AD3D_OK) {
    free(*comp);
    *comp = NULL;
  }
  return st;
}

ad3d_status pcd_write(const char *path, const cloud_t *c, pcd_data data) {
  ASSERT(path && c && c->n >= 0 && (c->n == 0 || c->xyz));
  if (data != PCD_ASCII && data != PCD_BINARY && data != PCD_BINARY_COMPRESSED)
    return ad3d_fail(AD3D_EINVAL, "%s: unknown PCD data kind %d", path, (int)data);
  if (data == PCD_BINARY_COMPRESSED && (uint64_t)c->n * 12 > UINT32_MAX)
    return ad3d_fail(AD3D_EINVAL, "%s: %lld points are too many for binary_compressed (32-bit sizes)", path,
                     (long long)c->n);
  uint8_t *comp = NULL;
  size_t ncomp = 0;
  if (data == PCD_BINARY_COMPRESSED) {
    ad3d_status st = compress_xyz(c, &comp, &ncomp);
    if (st != AD3D_OK)
      return ad3d_fail_context(st, "%s", path);
  }
  FILE *f = fopen(path, "wb");
  if (!f) {
    free(comp);
    return ad3d_fail(AD3D_EIO, "%s: cannot create: %s", path, strerror(errno));
  }
  static const char *const kinds[] = {"ascii", "binary", "binary_compressed"};
  fprintf(f,
          "# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\n"
          "COUNT 1 1 1\nWIDTH %lld\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS %lld\nDATA %s\n",
          (long long)c->n, (long long)c->n, kinds[data]);
  if (data == PCD_ASCII) {
    for (int64_t i = 0; i < c->n; i++)
      fprintf(f, "%.9g %.9g %.9g\n", c->xyz[3 * i], c->xyz[3 * i + 1], c->xyz[3 * i + 2]);
  } else if (data == PCD_BINARY) {
    fwrite(c->xyz, sizeof(float) * 3, (size_t)c->n, f);
  } else {
    uint8_t sizes[8];
    put_u32le(sizes, (uint32_t)ncomp);
    put_u32le(sizes + 4, (uint32_t)(c->n * 12));
    fwrite(sizes, 1, 8, f);
    fwrite(comp, 1, ncomp, f);
  }
  free(comp);
  int bad = ferror(f);
  int saved = errno;
  if (fclose(f) != 0 && !bad) {
    bad = 1;
    saved = errno;
  }
  if (bad) {
    remove(path);
    return ad3d_fail(AD3D_EIO, "%s: write failed: %s", path, strerror(saved));
  }
  return AD3D_OK;
}
