/* meshio.c - OBJ, PLY, OFF and STL readers (rules in meshio.h).
 *
 * Every reader reads the whole file into memory, then parses it: text formats line by line (so
 * errors carry a line number), binary ones by byte offset. Writers are not here: ad3d writes point
 * clouds (io/pcd.h), not meshes.
 */
#include "synth/meshio.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- files and text */

static ad3d_status file_slurp(const char *path, char **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f)
    return ad3d_fail(AD3D_EIO, "%s: cannot open: %s", path, strerror(errno));
  ad3d_status st = AD3D_OK;
  size_t cap = 1 << 16, n = 0;
  char *b = malloc(cap + 1);
  while (b) {
    size_t got = fread(b + n, 1, cap - n, f);
    n += got;
    if (n < cap)
      break;
    char *bigger = realloc(b, 2 * cap + 1);
    if (!bigger) {
      free(b);
      b = NULL;
      break;
    }
    b = bigger;
    cap *= 2;
  }
  if (!b)
    st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory reading the file", path);
  else if (ferror(f))
    st = ad3d_fail(AD3D_EIO, "%s: read error: %s", path, strerror(errno));
  fclose(f);
  if (st) {
    free(b);
    return st;
  }
  b[n] = '\0';
  *buf = b;
  *len = n;
  return AD3D_OK;
}

typedef struct {
  const char *p, *end;
  int64_t line; /* number of the line last returned, 1-based */
} line_reader;

/* The next line [*s, *e) without its end-of-line characters; 0 at the end of the text. */
static int line_next(line_reader *r, const char **s, const char **e) {
  if (r->p >= r->end)
    return 0;
  const char *q = r->p;
  while (q < r->end && *q != '\n')
    q++;
  *s = r->p;
  *e = q;
  if (*e > *s && (*e)[-1] == '\r')
    (*e)--;
  r->p = q < r->end ? q + 1 : q;
  r->line++;
  return 1;
}

/* The next white-space separated token of [*s, e) in [*t, *t + *tl); 0 when none is left. */
static int tok_next(const char **s, const char *e, const char **t, size_t *tl) {
  const char *p = *s;
  while (p < e && isspace((unsigned char)*p))
    p++;
  if (p >= e) {
    *s = p;
    return 0;
  }
  const char *q = p;
  while (q < e && !isspace((unsigned char)*q))
    q++;
  *t = p;
  *tl = (size_t)(q - p);
  *s = q;
  return 1;
}

static int tok_is(const char *t, size_t tl, const char *word) { return strlen(word) == tl && !strncmp(t, word, tl); }

/* The whole token as a finite double. */
static int tok_double(const char *t, size_t tl, double *out) {
  char buf[72];
  if (tl == 0 || tl >= sizeof buf)
    return 0;
  memcpy(buf, t, tl);
  buf[tl] = '\0';
  char *end;
  errno = 0;
  double x = strtod(buf, &end);
  if (end != buf + tl || !isfinite(x))
    return 0;
  *out = x;
  return 1;
}

/* The whole token as a decimal integer. */
static int tok_int(const char *t, size_t tl, long long *out) {
  char buf[32];
  if (tl == 0 || tl >= sizeof buf)
    return 0;
  memcpy(buf, t, tl);
  buf[tl] = '\0';
  char *end;
  errno = 0;
  long long x = strtoll(buf, &end, 10);
  if (end != buf + tl || errno == ERANGE)
    return 0;
  *out = x;
  return 1;
}

/* Fan-triangulate polygon idx (k) into m. */
static ad3d_status push_polygon(mesh_t *m, const int64_t *idx, int64_t k) {
  for (int64_t j = 1; j + 1 < k; j++)
    TRY(mesh_push_face(m, idx[0], idx[j], idx[j + 1]));
  return AD3D_OK;
}

/* A growable array of polygon indices. */
typedef struct {
  int64_t *v;
  int64_t n, cap;
} idx_buf;

static ad3d_status idx_push(idx_buf *b, int64_t x) {
  if (b->n == b->cap) {
    int64_t cap = b->cap ? 2 * b->cap : 16;
    int64_t *v = realloc(b->v, (size_t)cap * sizeof *v);
    if (!v)
      return ad3d_fail(AD3D_ENOMEM, "out of memory for a polygon");
    b->v = v;
    b->cap = cap;
  }
  b->v[b->n++] = x;
  return AD3D_OK;
}

/* ---------------------------------------------------------------- OBJ */

static ad3d_status obj_parse(const char *path, const char *buf, size_t len, mesh_t *m) {
  line_reader r = {buf, buf + len, 0};
  const char *s, *e, *t;
  size_t tl;
  int64_t total_v = 0;
  while (line_next(&r, &s, &e)) /* first pass: vertex count, for positive index checks */
    if (tok_next(&s, e, &t, &tl) && tok_is(t, tl, "v"))
      total_v++;
  if (total_v > MESH_MAX_VERTICES)
    return ad3d_fail(AD3D_EFORMAT, "%s: %lld vertices exceed the limit of %lld", path, (long long)total_v,
                     (long long)MESH_MAX_VERTICES);
  TRY(mesh_reserve(m, total_v, total_v * 2));
  idx_buf poly = {NULL, 0, 0};
  ad3d_status st = AD3D_OK;
  r = (line_reader){buf, buf + len, 0};
  while (line_next(&r, &s, &e)) {
    if (!tok_next(&s, e, &t, &tl) || t[0] == '#')
      continue;
    if (tok_is(t, tl, "v")) {
      double x[3];
      for (int a = 0; a < 3; a++)
        if (!tok_next(&s, e, &t, &tl) || !tok_double(t, tl, &x[a])) {
          st = ad3d_fail(AD3D_EFORMAT, "%s:%lld: vertex needs three finite coordinates", path, (long long)r.line);
          goto cleanup;
        }
      if ((st = mesh_push_vertex(m, x[0], x[1], x[2])))
        goto cleanup;
    } else if (tok_is(t, tl, "f")) {
      poly.n = 0;
      while (tok_next(&s, e, &t, &tl)) {
        size_t il = 0;
        while (il < tl && t[il] != '/')
          il++;
        long long idx;
        if (!tok_int(t, il, &idx)) {
          st = ad3d_fail(AD3D_EFORMAT, "%s:%lld: bad face index \"%.*s\"", path, (long long)r.line, (int)tl, t);
          goto cleanup;
        }
        int64_t v = idx > 0 ? idx - 1 : m->nv + idx;
        if (idx == 0 || v < 0 || v >= total_v) {
          st = ad3d_fail(AD3D_EFORMAT, "%s:%lld: face index %lld out of range (%lld vertices%s)", path,
                         (long long)r.line, idx, (long long)(idx < 0 ? m->nv : total_v),
                         idx == 0 ? "; OBJ indices start at 1" : idx < 0 ? " defined so far" : "");
          goto cleanup;
        }
        if ((st = idx_push(&poly, v)))
          goto cleanup;
      }
      if (poly.n < 3) {
        st = ad3d_fail(AD3D_EFORMAT, "%s:%lld: face with %lld vertices (at least 3 needed)", path,
                       (long long)r.line, (long long)poly.n);
        goto cleanup;
      }
      if ((st = push_polygon(m, poly.v, poly.n)))
        goto cleanup;
    }
  }
cleanup:
  free(poly.v);
  return st;
}

/* ---------------------------------------------------------------- PLY */

typedef enum { PLY_I8, PLY_U8, PLY_I16, PLY_U16, PLY_I32, PLY_U32, PLY_F32, PLY_F64 } ply_type;

static const struct {
  const char *name, *alias;
  int size;
} ply_types[] = {{"char", "int8", 1},     {"uchar", "uint8", 1},   {"short", "int16", 2},    {"ushort", "uint16", 2},
                 {"int", "int32", 4},     {"uint", "uint32", 4},   {"float", "float32", 4}, {"double", "float64", 8}};

typedef struct {
  char name[64];
  int is_list;
  ply_type type, count_type;
} ply_prop;

typedef struct {
  char name[64];
  int64_t count;
  int nprops;
  ply_prop *props;
} ply_elem;

typedef enum { PLY_ASCII, PLY_LE, PLY_BE } ply_format;

static int ply_type_parse(const char *t, size_t tl, ply_type *out) {
  for (int i = 0; i < 8; i++)
    if (tok_is(t, tl, ply_types[i].name) || tok_is(t, tl, ply_types[i].alias)) {
      *out = (ply_type)i;
      return 1;
    }
  return 0;
}

/* Read one binary scalar of type ty at p. */
static double ply_binary_value(const unsigned char *p, ply_type ty, int big) {
  unsigned char b[8];
  int n = ply_types[ty].size;
  for (int i = 0; i < n; i++)
    b[i] = p[big ? n - 1 - i : i];
  switch (ty) {
  case PLY_I8: return (double)(int8_t)b[0];
  case PLY_U8: return (double)b[0];
  case PLY_I16: { int16_t v; memcpy(&v, b, 2); return v; }
  case PLY_U16: { uint16_t v; memcpy(&v, b, 2); return v; }
  case PLY_I32: { int32_t v; memcpy(&v, b, 4); return v; }
  case PLY_U32: { uint32_t v; memcpy(&v, b, 4); return v; }
  case PLY_F32: { float v; memcpy(&v, b, 4); return v; }
  case PLY_F64: { double v; memcpy(&v, b, 8); return v; }
  }
  return 0;
}

typedef struct {
  const char *path;
  ply_format fmt;
  const char *p, *end; /* data cursor */
  const char *file;    /* start of the file, for offsets */
  int64_t line;        /* ascii: current line */
} ply_cursor;

/* The next value of type ty; `what` names the element for an error. */
static ad3d_status ply_value(ply_cursor *c, ply_type ty, double *out, const char *what) {
  if (c->fmt == PLY_ASCII) {
    while (c->p < c->end && isspace((unsigned char)*c->p)) {
      if (*c->p == '\n')
        c->line++;
      c->p++;
    }
    const char *t = c->p;
    while (c->p < c->end && !isspace((unsigned char)*c->p))
      c->p++;
    size_t tl = (size_t)(c->p - t);
    if (tl == 0)
      return ad3d_fail(AD3D_EFORMAT, "%s:%lld: truncated: end of file in %s", c->path, (long long)c->line, what);
    if (!tok_double(t, tl, out))
      return ad3d_fail(AD3D_EFORMAT, "%s:%lld: bad number \"%.*s\" in %s", c->path, (long long)c->line, (int)tl, t,
                       what);
    return AD3D_OK;
  }
  int n = ply_types[ty].size;
  if (c->end - c->p < n)
    return ad3d_fail(AD3D_EFORMAT, "%s: offset %lld: truncated: end of file in %s", c->path,
                     (long long)(c->p - c->file), what);
  *out = ply_binary_value((const unsigned char *)c->p, ty, c->fmt == PLY_BE);
  c->p += n;
  if (!isfinite(*out))
    return ad3d_fail(AD3D_EFORMAT, "%s: offset %lld: non-finite value in %s", c->path,
                     (long long)(c->p - n - c->file), what);
  return AD3D_OK;
}

/* Where the cursor's next value is, for messages: "file:line" or "file: offset N". */
static void ply_where(ply_cursor *c, char *buf, size_t size) {
  if (c->fmt == PLY_ASCII) {
    while (c->p < c->end && isspace((unsigned char)*c->p)) {
      if (*c->p == '\n')
        c->line++;
      c->p++;
    }
    snprintf(buf, size, "%s:%lld", c->path, (long long)c->line);
  } else
    snprintf(buf, size, "%s: offset %lld", c->path, (long long)(c->p - c->file));
}

static ad3d_status ply_parse_header(const char *path, const char *buf, size_t len, ply_format *fmt, ply_elem **elems,
                                    int *nelems, const char **data, int64_t *data_line) {
  line_reader r = {buf, buf + len, 0};
  const char *s, *e, *t;
  size_t tl;
  int have_format = 0;
  *elems = NULL;
  *nelems = 0;
  if (!line_next(&r, &s, &e) || !tok_next(&s, e, &t, &tl) || !tok_is(t, tl, "ply"))
    return ad3d_fail(AD3D_EFORMAT, "%s:1: not a PLY file (no \"ply\" magic line)", path);
  for (;;) {
    if (!line_next(&r, &s, &e))
      return ad3d_fail(AD3D_EFORMAT, "%s:%lld: header has no end_header line", path, (long long)r.line);
    if (!tok_next(&s, e, &t, &tl) || tok_is(t, tl, "comment") || tok_is(t, tl, "obj_info"))
      continue;
    if (tok_is(t, tl, "end_header"))
      break;
    if (tok_is(t, tl, "format")) {
      if (!tok_next(&s, e, &t, &tl))
        return ad3d_fail(AD3D_EFORMAT, "%s:%lld: format line without a format", path, (long long)r.line);
      if (tok_is(t, tl, "ascii"))
        *fmt = PLY_ASCII;
      else if (tok_is(t, tl, "binary_little_endian"))
        *fmt = PLY_LE;
      else if (tok_is(t, tl, "binary_big_endian"))
        *fmt = PLY_BE;
      else
        return ad3d_fail(AD3D_EFORMAT, "%s:%lld: unknown format \"%.*s\"", path, (long long)r.line, (int)tl, t);
      if (!tok_next(&s, e, &t, &tl) || !tok_is(t, tl, "1.0"))
        return ad3d_fail(AD3D_EFORMAT, "%s:%lld: unsupported PLY version (1.0 expected)", path, (long long)r.line);
      have_format = 1;
    } else if (tok_is(t, tl, "element")) {
      const char *nt, *ct;
      size_t nl, cl;
      long long count;
      if (!tok_next(&s, e, &nt, &nl) || !tok_next(&s, e, &ct, &cl) || !tok_int(ct, cl, &count) || count < 0 ||
          nl >= sizeof((*elems)->name))
        return ad3d_fail(AD3D_EFORMAT, "%s:%lld: bad element line (element NAME COUNT expected)", path,
                         (long long)r.line);
      ply_elem *grown = realloc(*elems, (size_t)(*nelems + 1) * sizeof **elems);
      if (!grown)
        return ad3d_fail(AD3D_ENOMEM, "%s: out of memory reading the header", path);
      *elems = grown;
      ply_elem *el = &(*elems)[(*nelems)++];
      memset(el, 0, sizeof *el);
      memcpy(el->name, nt, nl);
      el->count = count;
    } else if (tok_is(t, tl, "property")) {
      if (*nelems == 0)
        return ad3d_fail(AD3D_EFORMAT, "%s:%lld: property before any element", path, (long long)r.line);
      ply_elem *el = &(*elems)[*nelems - 1];
      ply_prop pr;
      memset(&pr, 0, sizeof pr);
      if (!tok_next(&s, e, &t, &tl))
        return ad3d_fail(AD3D_EFORMAT, "%s:%lld: property without a type", path, (long long)r.line);
      if (tok_is(t, tl, "list")) {
        pr.is_list = 1;
        if (!tok_next(&s, e, &t, &tl) || !ply_type_parse(t, tl, &pr.count_type) || pr.count_type >= PLY_F32)
          return ad3d_fail(AD3D_EFORMAT, "%s:%lld: list property needs an integer count type", path,
                           (long long)r.line);
        if (!tok_next(&s, e, &t, &tl))
          return ad3d_fail(AD3D_EFORMAT, "%s:%lld: list property without an item type", path, (long long)r.line);
      }
      if (!ply_type_parse(t, tl, &pr.type))
        return ad3d_fail(AD3D_EFORMAT, "%s:%lld: unknown property type \"%.*s\"", path, (long long)r.line, (int)tl,
                         t);
      if (!tok_next(&s, e, &t, &tl) || tl >= sizeof pr.name)
        return ad3d_fail(AD3D_EFORMAT, "%s:%lld: property without a name", path, (long long)r.line);
      memcpy(pr.name, t, tl);
      ply_prop *grown = realloc(el->props, (size_t)(el->nprops + 1) * sizeof *grown);
      if (!grown)
        return ad3d_fail(AD3D_ENOMEM, "%s: out of memory reading the header", path);
      el->props = grown;
      el->props[el->nprops++] = pr;
    } else {
      return ad3d_fail(AD3D_EFORMAT, "%s:%lld: unknown header line \"%.*s\"", path, (long long)r.line,
                       (int)(e - t), t);
    }
  }
  if (!have_format)
    return ad3d_fail(AD3D_EFORMAT, "%s: header has no format line", path);
  *data = r.p;
  *data_line = r.line + 1;
  return AD3D_OK;
}

static void ply_elems_free(ply_elem *elems, int n) {
  for (int i = 0; elems && i < n; i++)
    free(elems[i].props);
  free(elems);
}

static ad3d_status ply_parse(const char *path, const char *buf, size_t len, mesh_t *m) {
  ply_elem *elems = NULL;
  int nelems = 0;
  ply_format fmt = PLY_ASCII;
  const char *data = buf;
  int64_t data_line = 0;
  idx_buf poly = {NULL, 0, 0};
  ad3d_status st = ply_parse_header(path, buf, len, &fmt, &elems, &nelems, &data, &data_line);
  if (st)
    goto cleanup;
  int64_t nv = -1;
  for (int i = 0; i < nelems; i++)
    if (!strcmp(elems[i].name, "vertex")) {
      int found[3] = {0, 0, 0};
      for (int p = 0; p < elems[i].nprops; p++)
        for (int a = 0; a < 3; a++)
          if (!strcmp(elems[i].props[p].name, (const char *[]){"x", "y", "z"}[a]) && !elems[i].props[p].is_list)
            found[a] = 1;
      for (int a = 0; a < 3; a++)
        if (!found[a]) {
          st = ad3d_fail(AD3D_EFORMAT, "%s: element vertex has no scalar property %c", path, "xyz"[a]);
          goto cleanup;
        }
      nv = elems[i].count;
    }
  if (nv < 0) {
    st = ad3d_fail(AD3D_EFORMAT, "%s: no vertex element", path);
    goto cleanup;
  }
  if (nv > MESH_MAX_VERTICES) {
    st = ad3d_fail(AD3D_EFORMAT, "%s: %lld vertices exceed the limit of %lld", path, (long long)nv,
                   (long long)MESH_MAX_VERTICES);
    goto cleanup;
  }
  ply_cursor c = {path, fmt, data, buf + len, buf, data_line};
  for (int i = 0; i < nelems; i++) {
    const ply_elem *el = &elems[i];
    int is_vertex = !strcmp(el->name, "vertex"), is_face = !strcmp(el->name, "face");
    if (is_vertex && (st = mesh_reserve(m, el->count, m->cap_f)))
      goto cleanup;
    for (int64_t k = 0; k < el->count; k++) {
      double xyz[3] = {0, 0, 0};
      int got_indices = 0;
      char what[96];
      snprintf(what, sizeof what, "%s %lld of %lld", el->name, (long long)k, (long long)el->count);
      for (int p = 0; p < el->nprops; p++) {
        const ply_prop *pr = &el->props[p];
        double x;
        if (!pr->is_list) {
          if ((st = ply_value(&c, pr->type, &x, what)))
            goto cleanup;
          if (is_vertex)
            for (int a = 0; a < 3; a++)
              if (!strcmp(pr->name, (const char *[]){"x", "y", "z"}[a]))
                xyz[a] = x;
          continue;
        }
        char where[160];
        ply_where(&c, where, sizeof where);
        double cnt;
        if ((st = ply_value(&c, pr->count_type, &cnt, what)))
          goto cleanup;
        if (cnt < 0 || cnt != floor(cnt)) {
          st = ad3d_fail(AD3D_EFORMAT, "%s: bad list length %g in %s", where, cnt, what);
          goto cleanup;
        }
        int indices = is_face && !got_indices && (!strcmp(pr->name, "vertex_indices") || !strcmp(pr->name, "vertex_index"));
        poly.n = 0;
        for (int64_t j = 0; j < (int64_t)cnt; j++) {
          if ((st = ply_value(&c, pr->type, &x, what)))
            goto cleanup;
          if (!indices)
            continue;
          if (x != floor(x) || x < 0 || x >= (double)nv) {
            st = ad3d_fail(AD3D_EFORMAT, "%s: face index %g out of range (%lld vertices) in %s", where, x,
                           (long long)nv, what);
            goto cleanup;
          }
          if ((st = idx_push(&poly, (int64_t)x)))
            goto cleanup;
        }
        if (indices) {
          got_indices = 1;
          if (poly.n < 3) {
            st = ad3d_fail(AD3D_EFORMAT, "%s: %s has %lld vertices (at least 3 needed)", where, what,
                           (long long)poly.n);
            goto cleanup;
          }
          if ((st = push_polygon(m, poly.v, poly.n)))
            goto cleanup;
        }
      }
      if (is_vertex && (st = mesh_push_vertex(m, xyz[0], xyz[1], xyz[2])))
        goto cleanup;
      if (is_face && !got_indices) {
        st = ad3d_fail(AD3D_EFORMAT, "%s: element face has no list property vertex_indices (or vertex_index)", path);
        goto cleanup;
      }
    }
  }
cleanup:
  ply_elems_free(elems, nelems);
  free(poly.v);
  return st;
}

/* ---------------------------------------------------------------- OFF */

/* The next line that holds something other than a comment: [*s, *e) with the comment cut off. */
static int off_line(line_reader *r, const char **s, const char **e) {
  while (line_next(r, s, e)) {
    const char *h = memchr(*s, '#', (size_t)(*e - *s));
    if (h)
      *e = h;
    const char *p = *s;
    while (p < *e && isspace((unsigned char)*p))
      p++;
    if (p < *e)
      return 1;
  }
  return 0;
}

static ad3d_status off_parse(const char *path, const char *buf, size_t len, mesh_t *m) {
  line_reader r = {buf, buf + len, 0};
  const char *s, *e, *t;
  size_t tl;
  long long counts[3] = {0, 0, 0};
  int ncounts = 0;
  idx_buf poly = {NULL, 0, 0};
  ad3d_status st = AD3D_OK;
  if (!off_line(&r, &s, &e))
    return ad3d_fail(AD3D_EFORMAT, "%s: empty file", path);
  const char *s0 = s;
  if (tok_next(&s, e, &t, &tl) && tl >= 3 && !strncmp(t + tl - 3, "OFF", 3)) {
    for (size_t i = 0; i + 3 < tl; i++) /* prefixes ST, C, N as in Geomview; 4OFF and nOFF are other dimensions */
      if (!strchr("STCN", t[i]))
        return ad3d_fail(AD3D_EFORMAT, "%s:%lld: unsupported OFF variant \"%.*s\" (3D [ST][C][N]OFF only)", path,
                         (long long)r.line, (int)tl, t);
  } else {
    s = s0; /* no keyword: this line holds the counts */
  }
  while (ncounts < 3) {
    while (ncounts < 3 && tok_next(&s, e, &t, &tl)) {
      if (!tok_int(t, tl, &counts[ncounts]) || counts[ncounts] < 0)
        return ad3d_fail(AD3D_EFORMAT, "%s:%lld: bad count \"%.*s\" (NV NF NE expected)", path, (long long)r.line,
                         (int)tl, t);
      ncounts++;
    }
    if (ncounts >= 2 && s >= e)
      break; /* NE may be missing */
    if (ncounts < 3 && !off_line(&r, &s, &e))
      return ad3d_fail(AD3D_EFORMAT, "%s:%lld: truncated: no vertex and face counts", path, (long long)r.line);
  }
  long long nv = counts[0], nf = counts[1];
  if (nv > MESH_MAX_VERTICES)
    return ad3d_fail(AD3D_EFORMAT, "%s:%lld: %lld vertices exceed the limit of %lld", path, (long long)r.line, nv,
                     (long long)MESH_MAX_VERTICES);
  TRY(mesh_reserve(m, nv, nf));
  for (long long i = 0; i < nv; i++) {
    if (!off_line(&r, &s, &e))
      return ad3d_fail(AD3D_EFORMAT, "%s:%lld: truncated: %lld of %lld vertices", path, (long long)r.line, i, nv);
    double x[3];
    for (int a = 0; a < 3; a++)
      if (!tok_next(&s, e, &t, &tl) || !tok_double(t, tl, &x[a]))
        return ad3d_fail(AD3D_EFORMAT, "%s:%lld: vertex %lld needs three finite coordinates", path,
                         (long long)r.line, i);
    TRY(mesh_push_vertex(m, x[0], x[1], x[2]));
  }
  for (long long i = 0; i < nf; i++) {
    if (!off_line(&r, &s, &e)) {
      st = ad3d_fail(AD3D_EFORMAT, "%s:%lld: truncated: %lld of %lld faces", path, (long long)r.line, i, nf);
      goto cleanup;
    }
    long long k;
    if (!tok_next(&s, e, &t, &tl) || !tok_int(t, tl, &k) || k < 3) {
      st = ad3d_fail(AD3D_EFORMAT, "%s:%lld: face %lld needs a vertex count of at least 3", path, (long long)r.line,
                     i);
      goto cleanup;
    }
    poly.n = 0;
    for (long long j = 0; j < k; j++) {
      long long idx;
      if (!tok_next(&s, e, &t, &tl)) {
        st = ad3d_fail(AD3D_EFORMAT, "%s:%lld: face %lld has %lld of its %lld indices", path, (long long)r.line, i,
                       j, k);
        goto cleanup;
      }
      if (!tok_int(t, tl, &idx) || idx < 0 || idx >= nv) {
        st = ad3d_fail(AD3D_EFORMAT, "%s:%lld: face index \"%.*s\" out of range (%lld vertices)", path,
                       (long long)r.line, (int)tl, t, nv);
        goto cleanup;
      }
      if ((st = idx_push(&poly, idx)))
        goto cleanup;
    }
    if ((st = push_polygon(m, poly.v, poly.n)))
      goto cleanup;
  }
cleanup:
  free(poly.v);
  return st;
}

/* ---------------------------------------------------------------- STL */

static uint32_t le_u32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float le_f32(const unsigned char *p) {
  uint32_t u = le_u32(p);
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static ad3d_status stl_binary(const char *path, const unsigned char *b, uint32_t n, mesh_t *m) {
  TRY(mesh_reserve(m, 3 * (int64_t)n, n));
  for (uint32_t k = 0; k < n; k++) {
    const unsigned char *p = b + 84 + 50 * (size_t)k + 12;
    for (int j = 0; j < 3; j++) {
      double x[3];
      for (int a = 0; a < 3; a++) {
        x[a] = le_f32(p + 12 * j + 4 * a);
        if (!isfinite(x[a]))
          return ad3d_fail(AD3D_EFORMAT, "%s: offset %lld: non-finite coordinate in facet %u", path,
                           (long long)(p + 12 * j + 4 * a - b), k);
      }
      TRY(mesh_push_vertex(m, x[0], x[1], x[2]));
    }
    TRY(mesh_push_face(m, m->nv - 3, m->nv - 2, m->nv - 1));
  }
  return AD3D_OK;
}

/* Token stream over a whole text with line numbers, for ascii STL. */
typedef struct {
  const char *p, *end;
  int64_t line;
} tok_stream;

static int ts_next(tok_stream *ts, const char **t, size_t *tl) {
  while (ts->p < ts->end && isspace((unsigned char)*ts->p)) {
    if (*ts->p == '\n')
      ts->line++;
    ts->p++;
  }
  if (ts->p >= ts->end)
    return 0;
  *t = ts->p;
  while (ts->p < ts->end && !isspace((unsigned char)*ts->p))
    ts->p++;
  *tl = (size_t)(ts->p - *t);
  return 1;
}

static void ts_skip_line(tok_stream *ts) {
  while (ts->p < ts->end && *ts->p != '\n')
    ts->p++;
}

static ad3d_status stl_expect(tok_stream *ts, const char *path, const char *word) {
  const char *t;
  size_t tl;
  if (!ts_next(ts, &t, &tl))
    return ad3d_fail(AD3D_EFORMAT, "%s:%lld: truncated: end of file where \"%s\" was expected", path,
                     (long long)ts->line, word);
  if (!tok_is(t, tl, word))
    return ad3d_fail(AD3D_EFORMAT, "%s:%lld: \"%s\" expected, found \"%.*s\"", path, (long long)ts->line, word,
                     (int)tl, t);
  return AD3D_OK;
}

static ad3d_status stl_ascii(const char *path, const char *buf, size_t len, mesh_t *m) {
  tok_stream ts = {buf, buf + len, 1};
  const char *t;
  size_t tl;
  int nsolids = 0;
  while (ts_next(&ts, &t, &tl)) {
    if (!tok_is(t, tl, "solid"))
      return ad3d_fail(AD3D_EFORMAT, "%s:%lld: \"solid\" expected, found \"%.*s\"", path, (long long)ts.line,
                       (int)tl, t);
    ts_skip_line(&ts);
    nsolids++;
    for (;;) {
      if (!ts_next(&ts, &t, &tl))
        return ad3d_fail(AD3D_EFORMAT, "%s:%lld: truncated: solid without \"endsolid\"", path, (long long)ts.line);
      if (tok_is(t, tl, "endsolid")) {
        ts_skip_line(&ts);
        break;
      }
      if (!tok_is(t, tl, "facet"))
        return ad3d_fail(AD3D_EFORMAT, "%s:%lld: \"facet\" or \"endsolid\" expected, found \"%.*s\"", path,
                         (long long)ts.line, (int)tl, t);
      TRY(stl_expect(&ts, path, "normal"));
      for (int a = 0; a < 3; a++) {
        double x;
        if (!ts_next(&ts, &t, &tl) || !tok_double(t, tl, &x))
          return ad3d_fail(AD3D_EFORMAT, "%s:%lld: facet normal needs three numbers", path, (long long)ts.line);
      }
      TRY(stl_expect(&ts, path, "outer"));
      TRY(stl_expect(&ts, path, "loop"));
      int nvert = 0;
      int64_t facet_line = ts.line;
      for (;;) {
        if (!ts_next(&ts, &t, &tl))
          return ad3d_fail(AD3D_EFORMAT, "%s:%lld: truncated: facet without \"endloop\"", path, (long long)ts.line);
        if (tok_is(t, tl, "endloop"))
          break;
        if (!tok_is(t, tl, "vertex"))
          return ad3d_fail(AD3D_EFORMAT, "%s:%lld: \"vertex\" or \"endloop\" expected, found \"%.*s\"", path,
                           (long long)ts.line, (int)tl, t);
        double x[3];
        for (int a = 0; a < 3; a++)
          if (!ts_next(&ts, &t, &tl) || !tok_double(t, tl, &x[a]))
            return ad3d_fail(AD3D_EFORMAT, "%s:%lld: vertex needs three finite coordinates", path,
                             (long long)ts.line);
        if (++nvert <= 3)
          TRY(mesh_push_vertex(m, x[0], x[1], x[2]));
      }
      if (nvert != 3)
        return ad3d_fail(AD3D_EFORMAT, "%s:%lld: facet with %d vertices (3 expected)", path, (long long)facet_line,
                         nvert);
      TRY(mesh_push_face(m, m->nv - 3, m->nv - 2, m->nv - 1));
      TRY(stl_expect(&ts, path, "endfacet"));
    }
  }
  if (!nsolids)
    return ad3d_fail(AD3D_EFORMAT, "%s: empty STL file", path);
  return AD3D_OK;
}

static ad3d_status stl_parse(const char *path, const char *buf, size_t len, mesh_t *m) {
  const unsigned char *b = (const unsigned char *)buf;
  if (len >= 84) {
    uint32_t n = le_u32(b + 80);
    if ((uint64_t)len == 84 + 50 * (uint64_t)n)
      return stl_binary(path, b, n, m);
  }
  const char *p = buf;
  while (p < buf + len && isspace((unsigned char)*p))
    p++;
  if ((size_t)(buf + len - p) >= 5 && !strncmp(p, "solid", 5))
    return stl_ascii(path, buf, len, m);
  if (len < 84)
    return ad3d_fail(AD3D_EFORMAT, "%s: not an STL file: %zu bytes, too short for binary STL and no \"solid\"", path,
                     len);
  return ad3d_fail(AD3D_EFORMAT, "%s: not an STL file: binary STL with %u facets must have %llu bytes, not %zu; "
                   "and no \"solid\" for ascii STL", path, le_u32(b + 80),
                   (unsigned long long)(84 + 50 * (uint64_t)le_u32(b + 80)), len);
}

/* ---------------------------------------------------------------- dispatch */

mesh_format mesh_format_from_path(const char *path) {
  const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
  if (!dot || (slash && dot < slash))
    return MESH_FORMAT_UNKNOWN;
  if (!strcasecmp(dot, ".obj"))
    return MESH_FORMAT_OBJ;
  if (!strcasecmp(dot, ".ply"))
    return MESH_FORMAT_PLY;
  if (!strcasecmp(dot, ".off"))
    return MESH_FORMAT_OFF;
  if (!strcasecmp(dot, ".stl"))
    return MESH_FORMAT_STL;
  return MESH_FORMAT_UNKNOWN;
}

const char *mesh_format_name(mesh_format f) {
  switch (f) {
  case MESH_FORMAT_OBJ: return "obj";
  case MESH_FORMAT_PLY: return "ply";
  case MESH_FORMAT_OFF: return "off";
  case MESH_FORMAT_STL: return "stl";
  default: return "unknown";
  }
}

ad3d_status mesh_read_format(const char *path, mesh_format fmt, mesh_t *out) {
  memset(out, 0, sizeof *out);
  if (fmt == MESH_FORMAT_UNKNOWN)
    return ad3d_fail(AD3D_EINVAL, "%s: unknown mesh format (expected .obj, .ply, .off or .stl)", path);
  char *buf;
  size_t len;
  TRY(file_slurp(path, &buf, &len));
  ad3d_status st;
  switch (fmt) {
  case MESH_FORMAT_OBJ: st = obj_parse(path, buf, len, out); break;
  case MESH_FORMAT_PLY: st = ply_parse(path, buf, len, out); break;
  case MESH_FORMAT_OFF: st = off_parse(path, buf, len, out); break;
  default: st = stl_parse(path, buf, len, out); break;
  }
  if (!st && out->nf == 0)
    st = ad3d_fail(AD3D_EFORMAT, "%s: no faces (%lld vertices): not a surface mesh", path, (long long)out->nv);
  free(buf);
  if (st)
    mesh_free(out);
  return st;
}

ad3d_status mesh_read(const char *path, mesh_t *out) {
  return mesh_read_format(path, mesh_format_from_path(path), out);
}
