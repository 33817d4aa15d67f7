/* gt.c - ground-truth text files: "x y z label" rows, comma or white-space separated.
 *
 * The whole file is read into memory and parsed line by line. The first non-blank line fixes the
 * delimiter: a comma anywhere in it means comma-separated (blanks around values are allowed),
 * otherwise values are separated by runs of spaces and tabs. Blank lines (anywhere), CRLF line ends
 * and a UTF-8 byte-order mark are tolerated; everything else that is not four finite numbers per row
 * is an error naming the file and the line.
 */
#include "io/gt.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { GT_COLS = 4 };

/* Read all of path into a NUL-terminated buffer (*len bytes before the NUL). */
static ad3d_status file_slurp(const char *path, char **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f)
    return ad3d_fail(AD3D_EIO, "%s: cannot open: %s", path, strerror(errno));
  ad3d_status st = AD3D_OK;
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    st = ad3d_fail(AD3D_EIO, "%s: not a readable regular file", path);
    goto cleanup;
  }
  size_t n = (size_t)sb.st_size;
  *buf = malloc(n + 1);
  if (!*buf) {
    st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory reading %zu bytes", path, n);
    goto cleanup;
  }
  if (fread(*buf, 1, n, f) != n) {
    st = ad3d_fail(AD3D_EIO, "%s: read error", path);
    goto cleanup;
  }
  (*buf)[n] = '\0';
  *len = n;
cleanup:
  if (st != AD3D_OK) {
    free(*buf);
    *buf = NULL;
  }
  fclose(f);
  return st;
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

/* Parse [s, e) (blanks around it allowed) as one number: a float for columns 0..2, else a double. */
static ad3d_status parse_value(const char *path, int64_t lineno, int col, const char *s, const char *e, double *v) {
  while (s < e && is_space(*s))
    s++;
  while (e > s && is_space(e[-1]))
    e--;
  char *stop = (char *)s;
  if (s < e)
    *v = col < 3 ? (double)strtof(s, &stop) : strtod(s, &stop);
  if (s == e || stop != e) {
    int n = (int)(e - s < 40 ? e - s : 40);
    return ad3d_fail(AD3D_EFORMAT, "%s: line %lld: value %d '%.*s' is not a number", path, (long long)lineno,
                     col + 1, n, s);
  }
  if (!isfinite(*v))
    return ad3d_fail(AD3D_EFORMAT, "%s: line %lld: value %d '%.*s' is not finite", path, (long long)lineno, col + 1,
                     (int)(e - s < 40 ? e - s : 40), s);
  return AD3D_OK;
}

/* Cut the line [p, end) into fields; returns how many (at most GT_COLS are recorded, more are counted). */
static int split_row(const char *p, const char *end, char delim, const char **fs, const char **fe) {
  int n = 0;
  if (delim == ',') {
    for (;;) {
      const char *c = memchr(p, ',', (size_t)(end - p));
      const char *stop = c ? c : end;
      if (n < GT_COLS) {
        fs[n] = p;
        fe[n] = stop;
      }
      n++;
      if (!c)
        return n;
      p = c + 1;
    }
  }
  for (;;) {
    while (p < end && is_space(*p))
      p++;
    if (p == end)
      return n;
    const char *s = p;
    while (p < end && !is_space(*p))
      p++;
    if (n < GT_COLS) {
      fs[n] = s;
      fe[n] = p;
    }
    n++;
  }
}

ad3d_status gt_read(const char *path, cloud_t *xyz, uint8_t **labels) {
  ASSERT(path && xyz && labels);
  memset(xyz, 0, sizeof *xyz);
  *labels = NULL;
  char *buf;
  size_t len;
  TRY(file_slurp(path, &buf, &len));
  ad3d_status st = AD3D_OK;
  const char *p = buf, *end = buf + len;
  if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
    p += 3;
  int64_t maxrows = 1;
  for (const char *q = p; (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++)
    maxrows++;
  if ((st = cloud_alloc(xyz, maxrows)) != AD3D_OK)
    goto cleanup;
  *labels = malloc((size_t)maxrows); /* (maxrows) */
  if (!*labels) {
    st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory for %lld labels", path, (long long)maxrows);
    goto cleanup;
  }
  char delim = 0;
  int64_t rows = 0, lineno = 0;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *line_end = eol ? eol : end, *next = eol ? eol + 1 : end;
    lineno++;
    if (line_end > p && line_end[-1] == '\r')
      line_end--;
    const char *q = p;
    while (q < line_end && is_space(*q))
      q++;
    if (q == line_end) {
      p = next;
      continue;
    }
    if (!delim)
      delim = memchr(p, ',', (size_t)(line_end - p)) ? ',' : ' ';
    const char *fs[GT_COLS], *fe[GT_COLS];
    int nf = split_row(p, line_end, delim, fs, fe);
    if (nf != GT_COLS) {
      st = ad3d_fail(AD3D_EFORMAT, "%s: line %lld: expected 4 %s values (x y z label), found %d", path,
                     (long long)lineno, delim == ',' ? "comma-separated" : "space-separated", nf);
      goto cleanup;
    }
    double v[GT_COLS];
    for (int k = 0; k < GT_COLS; k++)
      if ((st = parse_value(path, lineno, k, fs[k], fe[k], &v[k])) != AD3D_OK)
        goto cleanup;
    for (int k = 0; k < 3; k++)
      xyz->xyz[3 * rows + k] = (float)v[k];
    (*labels)[rows] = v[3] > 0.5;
    rows++;
    p = next;
  }
  if (rows == 0) {
    st = ad3d_fail(AD3D_EFORMAT, "%s: empty: no data rows", path);
    goto cleanup;
  }
  xyz->n = rows;
cleanup:
  free(buf);
  if (st != AD3D_OK) {
    cloud_free(xyz);
    free(*labels);
    *labels = NULL;
  }
  return st;
}

ad3d_status gt_write(const char *path, const cloud_t *c, const uint8_t *labels, char delim) {
  ASSERT(path && c && c->n >= 0 && (c->n == 0 || (c->xyz && labels)));
  if (delim != ',' && delim != ' ')
    return ad3d_fail(AD3D_EINVAL, "%s: GT delimiter must be ',' or ' ', not '%c'", path, delim);
  FILE *f = fopen(path, "w");
  if (!f)
    return ad3d_fail(AD3D_EIO, "%s: cannot create: %s", path, strerror(errno));
  for (int64_t i = 0; i < c->n; i++) {
    const float *p = c->xyz + 3 * i;
    fprintf(f, "%.9g%c%.9g%c%.9g%c%d\n", p[0], delim, p[1], delim, p[2], delim, labels[i] ? 1 : 0);
  }
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
