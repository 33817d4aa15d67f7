/* mesh.c - triangle meshes: storage, cleaning, refinement, orientation, normals, sampling
 * (see mesh.h). Nothing here reads files (meshio.c) or knows about defects (carve.c). */
#include "synth/mesh.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- storage */

void mesh_free(mesh_t *m) {
  if (!m)
    return;
  free(m->v);
  free(m->f);
  memset(m, 0, sizeof *m);
}

ad3d_status mesh_reserve(mesh_t *m, int64_t nv, int64_t nf) {
  if (nv > MESH_MAX_VERTICES)
    return ad3d_fail(AD3D_EINVAL, "mesh of %lld vertices exceeds the limit of %lld", (long long)nv,
                     (long long)MESH_MAX_VERTICES);
  if (nv > m->cap_v) {
    int64_t cap = m->cap_v ? m->cap_v : 64;
    while (cap < nv)
      cap *= 2;
    double *v = realloc(m->v, (size_t)cap * 3 * sizeof *v);
    if (!v)
      return ad3d_fail(AD3D_ENOMEM, "out of memory for a mesh of %lld vertices", (long long)cap);
    m->v = v;
    m->cap_v = cap;
  }
  if (nf > m->cap_f) {
    int64_t cap = m->cap_f ? m->cap_f : 64;
    while (cap < nf)
      cap *= 2;
    int32_t *f = realloc(m->f, (size_t)cap * 3 * sizeof *f);
    if (!f)
      return ad3d_fail(AD3D_ENOMEM, "out of memory for a mesh of %lld faces", (long long)cap);
    m->f = f;
    m->cap_f = cap;
  }
  return AD3D_OK;
}

ad3d_status mesh_push_vertex(mesh_t *m, double x, double y, double z) {
  if (m->nv == m->cap_v)
    TRY(mesh_reserve(m, m->nv + 1, m->nf));
  double *p = m->v + 3 * m->nv++;
  p[0] = x;
  p[1] = y;
  p[2] = z;
  return AD3D_OK;
}

ad3d_status mesh_push_face(mesh_t *m, int64_t a, int64_t b, int64_t c) {
  if (m->nf == m->cap_f)
    TRY(mesh_reserve(m, m->nv, m->nf + 1));
  int32_t *t = m->f + 3 * m->nf++;
  t[0] = (int32_t)a;
  t[1] = (int32_t)b;
  t[2] = (int32_t)c;
  return AD3D_OK;
}

ad3d_status mesh_copy(mesh_t *dst, const mesh_t *src) {
  memset(dst, 0, sizeof *dst);
  TRY(mesh_append(dst, src));
  return AD3D_OK;
}

ad3d_status mesh_append(mesh_t *dst, const mesh_t *src) {
  int64_t base = dst->nv;
  TRY(mesh_reserve(dst, dst->nv + src->nv, dst->nf + src->nf));
  if (src->nv)
    memcpy(dst->v + 3 * dst->nv, src->v, (size_t)src->nv * 3 * sizeof *src->v);
  for (int64_t i = 0; i < 3 * src->nf; i++)
    dst->f[3 * dst->nf + i] = (int32_t)(src->f[i] + base);
  dst->nv += src->nv;
  dst->nf += src->nf;
  return AD3D_OK;
}

ad3d_status mesh_validate(const mesh_t *m, const char *what) {
  for (int64_t i = 0; i < 3 * m->nv; i++)
    if (!isfinite(m->v[i]))
      return ad3d_fail(AD3D_EFORMAT, "%s: vertex %lld has a non-finite coordinate", what, (long long)(i / 3));
  for (int64_t i = 0; i < 3 * m->nf; i++)
    if (m->f[i] < 0 || m->f[i] >= m->nv)
      return ad3d_fail(AD3D_EFORMAT, "%s: face %lld uses vertex %d of %lld", what, (long long)(i / 3), m->f[i],
                       (long long)m->nv);
  return AD3D_OK;
}

/* ---------------------------------------------------------------- geometry */

static void sub3(const double *a, const double *b, double *out) {
  out[0] = a[0] - b[0];
  out[1] = a[1] - b[1];
  out[2] = a[2] - b[2];
}

static void cross3(const double *a, const double *b, double *out) {
  out[0] = a[1] * b[2] - a[2] * b[1];
  out[1] = a[2] * b[0] - a[0] * b[2];
  out[2] = a[0] * b[1] - a[1] * b[0];
}

static double dot3(const double *a, const double *b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

static double dist2(const double *a, const double *b) {
  double d[3];
  sub3(a, b, d);
  return dot3(d, d);
}

void mesh_transform(mesh_t *m, const double A[9], const double t[3]) {
  for (int64_t i = 0; i < m->nv; i++) {
    double *p = m->v + 3 * i, q[3];
    for (int r = 0; r < 3; r++)
      q[r] = A[3 * r] * p[0] + A[3 * r + 1] * p[1] + A[3 * r + 2] * p[2] + t[r];
    memcpy(p, q, sizeof q);
  }
  double det = A[0] * (A[4] * A[8] - A[5] * A[7]) - A[1] * (A[3] * A[8] - A[5] * A[6]) +
               A[2] * (A[3] * A[7] - A[4] * A[6]);
  if (det < 0)
    for (int64_t k = 0; k < m->nf; k++) {
      int32_t s = m->f[3 * k + 1];
      m->f[3 * k + 1] = m->f[3 * k + 2];
      m->f[3 * k + 2] = s;
    }
}

void mesh_bbox(const mesh_t *m, double lo[3], double hi[3]) {
  for (int a = 0; a < 3; a++)
    lo[a] = hi[a] = m->nv ? m->v[a] : 0.0;
  for (int64_t i = 1; i < m->nv; i++)
    for (int a = 0; a < 3; a++) {
      double x = m->v[3 * i + a];
      lo[a] = x < lo[a] ? x : lo[a];
      hi[a] = x > hi[a] ? x : hi[a];
    }
}

double mesh_face_normal(const mesh_t *m, int64_t k, double n[3]) {
  const int32_t *t = m->f + 3 * k;
  double e1[3], e2[3];
  sub3(m->v + 3 * t[1], m->v + 3 * t[0], e1);
  sub3(m->v + 3 * t[2], m->v + 3 * t[0], e2);
  cross3(e1, e2, n);
  double l = sqrt(dot3(n, n));
  for (int a = 0; a < 3; a++)
    n[a] = l > 0 ? n[a] / l : 0.0;
  return 0.5 * l;
}

double mesh_area(const mesh_t *m) {
  double s = 0, n[3];
  for (int64_t k = 0; k < m->nf; k++)
    s += mesh_face_normal(m, k, n);
  return s;
}

double mesh_max_edge(const mesh_t *m) {
  double best = 0;
  for (int64_t k = 0; k < m->nf; k++)
    for (int e = 0; e < 3; e++) {
      double d = dist2(m->v + 3 * m->f[3 * k + e], m->v + 3 * m->f[3 * k + (e + 1) % 3]);
      best = d > best ? d : best;
    }
  return sqrt(best);
}

/* ---------------------------------------------------------------- cleaning */

ad3d_status mesh_compact(mesh_t *m) {
  int64_t *map = malloc((size_t)(m->nv ? m->nv : 1) * sizeof *map);
  if (!map)
    return ad3d_fail(AD3D_ENOMEM, "out of memory compacting a mesh of %lld vertices", (long long)m->nv);
  for (int64_t i = 0; i < m->nv; i++)
    map[i] = -1;
  for (int64_t i = 0; i < 3 * m->nf; i++)
    map[m->f[i]] = 0;
  int64_t kept = 0;
  for (int64_t i = 0; i < m->nv; i++) {
    if (map[i] < 0)
      continue;
    map[i] = kept;
    if (kept != i)
      memcpy(m->v + 3 * kept, m->v + 3 * i, 3 * sizeof *m->v);
    kept++;
  }
  for (int64_t i = 0; i < 3 * m->nf; i++)
    m->f[i] = (int32_t)map[m->f[i]];
  m->nv = kept;
  free(map);
  return AD3D_OK;
}

ad3d_status mesh_drop_degenerate(mesh_t *m, double min_area, int64_t *dropped) {
  int64_t kept = 0;
  double n[3];
  for (int64_t k = 0; k < m->nf; k++) {
    const int32_t *t = m->f + 3 * k;
    if (t[0] == t[1] || t[1] == t[2] || t[0] == t[2] || mesh_face_normal(m, k, n) <= min_area)
      continue;
    if (kept != k)
      memcpy(m->f + 3 * kept, t, 3 * sizeof *t);
    kept++;
  }
  if (dropped)
    *dropped = m->nf - kept;
  m->nf = kept;
  return mesh_compact(m);
}

typedef struct {
  int64_t c[3];
  int64_t i;
} weld_cell;

static int weld_cell_cmp(const void *pa, const void *pb) {
  const weld_cell *a = pa, *b = pb;
  for (int k = 0; k < 3; k++)
    if (a->c[k] != b->c[k])
      return a->c[k] < b->c[k] ? -1 : 1;
  return a->i < b->i ? -1 : a->i > b->i;
}

/* First index in the sorted cells whose cell is >= key. */
static int64_t weld_lower(const weld_cell *cells, int64_t n, const int64_t key[3]) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    const int64_t *c = cells[mid].c;
    int less = c[0] != key[0] ? c[0] < key[0] : c[1] != key[1] ? c[1] < key[1] : c[2] < key[2];
    if (less)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

ad3d_status mesh_weld(mesh_t *m, double tol, int64_t *merged) {
  ad3d_status st = AD3D_OK;
  int64_t n = m->nv, nmerged = 0;
  weld_cell *cells = malloc((size_t)(n ? n : 1) * sizeof *cells);
  int64_t *rep = malloc((size_t)(n ? n : 1) * sizeof *rep);
  if (!cells || !rep) {
    st = ad3d_fail(AD3D_ENOMEM, "out of memory welding a mesh of %lld vertices", (long long)n);
    goto cleanup;
  }
  double lo[3], hi[3];
  mesh_bbox(m, lo, hi);
  double diag = sqrt(dist2(lo, hi));
  /* cells at least tol wide (neighbours within tol are in adjacent cells) and not so narrow that
   * cell numbers overflow */
  double h = tol > diag * 1e-12 ? tol : diag * 1e-12;
  if (!(h > 0))
    h = 1.0;
  for (int64_t i = 0; i < n; i++) {
    for (int a = 0; a < 3; a++)
      cells[i].c[a] = (int64_t)floor((m->v[3 * i + a] - lo[a]) / h);
    cells[i].i = i;
  }
  qsort(cells, (size_t)n, sizeof *cells, weld_cell_cmp);
  double tol2 = tol > 0 ? tol * tol : 0.0;
  for (int64_t i = 0; i < n; i++) {
    const double *p = m->v + 3 * i;
    int64_t best = i, key[3];
    for (int a = 0; a < 3; a++)
      key[a] = (int64_t)floor((p[a] - lo[a]) / h);
    for (int dx = -1; dx <= 1; dx++)
      for (int dy = -1; dy <= 1; dy++)
        for (int dz = -1; dz <= 1; dz++) {
          int64_t k[3] = {key[0] + dx, key[1] + dy, key[2] + dz};
          for (int64_t s = weld_lower(cells, n, k); s < n; s++) {
            const weld_cell *c = &cells[s];
            if (c->c[0] != k[0] || c->c[1] != k[1] || c->c[2] != k[2] || c->i >= best)
              break; /* cells sorted by index inside a cell: later ones cannot beat best */
            if (rep[c->i] == c->i && dist2(p, m->v + 3 * c->i) <= tol2)
              best = c->i;
          }
        }
    rep[i] = best;
    nmerged += best != i;
  }
  for (int64_t i = 0; i < 3 * m->nf; i++)
    m->f[i] = (int32_t)rep[m->f[i]];
  if (merged)
    *merged = nmerged;
  st = mesh_drop_degenerate(m, -1.0, NULL);
cleanup:
  free(cells);
  free(rep);
  return st;
}

/* ---------------------------------------------------------------- edge map */

static uint64_t edge_key(int32_t a, int32_t b) {
  uint64_t lo = (uint64_t)(uint32_t)(a < b ? a : b), hi = (uint64_t)(uint32_t)(a < b ? b : a);
  return ((lo << 32) | hi) + 1;
}

static uint64_t edge_hash(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

ad3d_status edge_map_init(edge_map *e, int64_t expected) {
  memset(e, 0, sizeof *e);
  int64_t cap = 64;
  while (cap < 2 * expected)
    cap *= 2;
  e->keys = calloc((size_t)cap, sizeof *e->keys);
  e->vals = malloc((size_t)cap * sizeof *e->vals);
  if (!e->keys || !e->vals) {
    edge_map_free(e);
    return ad3d_fail(AD3D_ENOMEM, "out of memory for an edge map of %lld entries", (long long)cap);
  }
  e->cap = cap;
  return AD3D_OK;
}

void edge_map_free(edge_map *e) {
  if (!e)
    return;
  free(e->keys);
  free(e->vals);
  memset(e, 0, sizeof *e);
}

static int64_t edge_slot(const edge_map *e, uint64_t key) {
  uint64_t mask = (uint64_t)e->cap - 1;
  uint64_t s = edge_hash(key) & mask;
  while (e->keys[s] && e->keys[s] != key)
    s = (s + 1) & mask;
  return (int64_t)s;
}

int64_t edge_map_get(const edge_map *e, int32_t a, int32_t b) {
  if (!e->cap)
    return -1;
  int64_t s = edge_slot(e, edge_key(a, b));
  return e->keys[s] ? e->vals[s] : -1;
}

ad3d_status edge_map_set(edge_map *e, int32_t a, int32_t b, int64_t val) {
  if (2 * (e->n + 1) > e->cap) {
    edge_map bigger;
    TRY(edge_map_init(&bigger, e->n + 1 > e->cap ? e->n + 1 : e->cap));
    for (int64_t s = 0; s < e->cap; s++)
      if (e->keys[s]) {
        int64_t t = edge_slot(&bigger, e->keys[s]);
        bigger.keys[t] = e->keys[s];
        bigger.vals[t] = e->vals[s];
      }
    bigger.n = e->n;
    edge_map_free(e);
    *e = bigger;
  }
  uint64_t key = edge_key(a, b);
  int64_t s = edge_slot(e, key);
  if (!e->keys[s]) {
    e->keys[s] = key;
    e->n++;
  }
  e->vals[s] = val;
  return AD3D_OK;
}

/* ---------------------------------------------------------------- refinement */

/* One pass: split every edge longer than max_edge of a face in the region; *nsplit gets the number
 * of edges split (0: done). */
static ad3d_status refine_pass(mesh_t *m, double max_edge, mesh_region_fn region, void *ctx, int64_t max_faces,
                               int64_t *nsplit) {
  edge_map mid;
  int32_t *faces = NULL;
  ad3d_status st;
  double l2 = max_edge * max_edge;
  *nsplit = 0;
  TRY(edge_map_init(&mid, m->nf / 4 + 16));
  for (int64_t k = 0; k < m->nf; k++) {
    const int32_t *t = m->f + 3 * k;
    if (region && !region(m->v + 3 * t[0], m->v + 3 * t[1], m->v + 3 * t[2], ctx))
      continue;
    for (int e = 0; e < 3; e++) {
      int32_t a = t[e], b = t[(e + 1) % 3];
      if (dist2(m->v + 3 * a, m->v + 3 * b) <= l2 || edge_map_get(&mid, a, b) >= 0)
        continue;
      double p[3];
      for (int c = 0; c < 3; c++)
        p[c] = 0.5 * (m->v[3 * a + c] + m->v[3 * b + c]);
      if ((st = edge_map_set(&mid, a, b, m->nv)) || (st = mesh_push_vertex(m, p[0], p[1], p[2])))
        goto cleanup;
      (*nsplit)++;
    }
  }
  if (!*nsplit) {
    st = AD3D_OK;
    goto cleanup;
  }
  int64_t nf_new = 0;
  for (int64_t k = 0; k < m->nf; k++) {
    nf_new++;
    for (int e = 0; e < 3; e++)
      nf_new += edge_map_get(&mid, m->f[3 * k + e], m->f[3 * k + (e + 1) % 3]) >= 0;
  }
  if (nf_new > max_faces) {
    st = ad3d_fail(AD3D_EINVAL, "mesh refinement to edges of %g would exceed %lld faces", max_edge,
                   (long long)max_faces);
    goto cleanup;
  }
  faces = malloc((size_t)nf_new * 3 * sizeof *faces);
  if (!faces) {
    st = ad3d_fail(AD3D_ENOMEM, "out of memory refining a mesh to %lld faces", (long long)nf_new);
    goto cleanup;
  }
  int64_t out = 0;
#define EMIT(x, y, z)            \
  do {                           \
    faces[3 * out] = (x);        \
    faces[3 * out + 1] = (y);    \
    faces[3 * out + 2] = (z);    \
    out++;                       \
  } while (0)
  for (int64_t k = 0; k < m->nf; k++) {
    const int32_t *t = m->f + 3 * k;
    int32_t mv[3];
    int nm = 0;
    for (int e = 0; e < 3; e++) {
      mv[e] = (int32_t)edge_map_get(&mid, t[e], t[(e + 1) % 3]);
      nm += mv[e] >= 0;
    }
    if (nm == 0) {
      EMIT(t[0], t[1], t[2]);
    } else if (nm == 3) {
      EMIT(t[0], mv[0], mv[2]);
      EMIT(mv[0], t[1], mv[1]);
      EMIT(mv[2], mv[1], t[2]);
      EMIT(mv[0], mv[1], mv[2]);
    } else if (nm == 1) {
      int e = mv[0] >= 0 ? 0 : mv[1] >= 0 ? 1 : 2;
      int32_t a = t[e], b = t[(e + 1) % 3], c = t[(e + 2) % 3], mab = mv[e];
      EMIT(a, mab, c);
      EMIT(mab, b, c);
    } else {
      /* rotate so the unsplit edge is (c, a): edges (a, b) and (b, c) are split */
      int u = mv[0] < 0 ? 0 : mv[1] < 0 ? 1 : 2; /* unsplit edge index: (t[u], t[u + 1]) */
      int32_t c = t[u], a = t[(u + 1) % 3], b = t[(u + 2) % 3];
      int32_t mab = mv[(u + 1) % 3], mbc = mv[(u + 2) % 3];
      EMIT(mab, b, mbc);
      if (dist2(m->v + 3 * a, m->v + 3 * mbc) <= dist2(m->v + 3 * mab, m->v + 3 * c)) {
        EMIT(a, mab, mbc);
        EMIT(a, mbc, c);
      } else {
        EMIT(a, mab, c);
        EMIT(mab, mbc, c);
      }
    }
  }
#undef EMIT
  free(m->f);
  m->f = faces;
  m->nf = m->cap_f = nf_new;
  faces = NULL;
  st = AD3D_OK;
cleanup:
  edge_map_free(&mid);
  free(faces);
  return st;
}

ad3d_status mesh_refine(mesh_t *m, double max_edge, mesh_region_fn region, void *ctx, int64_t max_faces) {
  if (!(max_edge > 0))
    return ad3d_fail(AD3D_EINVAL, "mesh refinement needs a positive target edge length, not %g", max_edge);
  for (;;) {
    int64_t nsplit;
    TRY(refine_pass(m, max_edge, region, ctx, max_faces, &nsplit));
    if (!nsplit)
      return AD3D_OK;
  }
}

/* ---------------------------------------------------------------- orientation */

ad3d_status mesh_orient(mesh_t *m, int64_t *flipped) {
  ad3d_status st;
  edge_map first;
  int64_t nf = m->nf, nflip = 0;
  int64_t *twin = malloc((size_t)(nf ? nf : 1) * 3 * sizeof *twin); /* (nf, 3) half-edge twins, -1 none, -2 non-manifold */
  int8_t *flip = malloc((size_t)(nf ? nf : 1));                       /* (nf) -1 unvisited, 0 keep, 1 flip */
  int64_t *queue = malloc((size_t)(nf ? nf : 1) * sizeof *queue);
  int64_t *comp = malloc((size_t)(nf ? nf : 1) * sizeof *comp); /* faces of the current component */
  if ((st = edge_map_init(&first, nf * 2)))
    goto cleanup;
  if (!twin || !flip || !queue || !comp) {
    st = ad3d_fail(AD3D_ENOMEM, "out of memory orienting a mesh of %lld faces", (long long)nf);
    goto cleanup;
  }
  for (int64_t h = 0; h < 3 * nf; h++)
    twin[h] = -1;
  for (int64_t h = 0; h < 3 * nf; h++) {
    int32_t a = m->f[h], b = m->f[h / 3 * 3 + (h % 3 + 1) % 3];
    int64_t g = edge_map_get(&first, a, b);
    if (g < 0) {
      if ((st = edge_map_set(&first, a, b, h)))
        goto cleanup;
    } else if (twin[g] == -1) {
      twin[g] = h;
      twin[h] = g;
    } else { /* a third face on this edge: no propagation across it */
      if (twin[g] >= 0)
        twin[twin[g]] = -2;
      twin[g] = -2;
      twin[h] = -2;
    }
  }
  memset(flip, -1, (size_t)nf);
  for (int64_t seed = 0; seed < nf; seed++) {
    if (flip[seed] >= 0)
      continue;
    int64_t head = 0, tail = 0;
    flip[seed] = 0;
    queue[tail++] = seed;
    while (head < tail) {
      int64_t k = queue[head++];
      for (int e = 0; e < 3; e++) {
        int64_t t = twin[3 * k + e];
        if (t < 0)
          continue;
        int64_t j = t / 3;
        if (flip[j] >= 0)
          continue;
        /* same direction of the shared edge in both faces means one of them must flip */
        int same = m->f[3 * k + e] == m->f[t];
        flip[j] = (int8_t)(same ? !flip[k] : flip[k]);
        queue[tail++] = j;
      }
    }
    double vol = 0;
    for (int64_t q = 0; q < tail; q++) {
      int64_t k = queue[q];
      const int32_t *t = m->f + 3 * k;
      double cr[3];
      cross3(m->v + 3 * t[1], m->v + 3 * t[2], cr);
      double v6 = dot3(m->v + 3 * t[0], cr);
      vol += flip[k] ? -v6 : v6;
      comp[q] = k;
    }
    if (vol < 0)
      for (int64_t q = 0; q < tail; q++)
        flip[comp[q]] = (int8_t)!flip[comp[q]];
  }
  for (int64_t k = 0; k < nf; k++)
    if (flip[k] == 1) {
      int32_t s = m->f[3 * k + 1];
      m->f[3 * k + 1] = m->f[3 * k + 2];
      m->f[3 * k + 2] = s;
      nflip++;
    }
  if (flipped)
    *flipped = nflip;
  st = AD3D_OK;
cleanup:
  edge_map_free(&first);
  free(twin);
  free(flip);
  free(queue);
  free(comp);
  return st;
}

/* ---------------------------------------------------------------- normals, adjacency */

void mesh_vertex_normals(const mesh_t *m, double *out) {
  memset(out, 0, (size_t)m->nv * 3 * sizeof *out);
  for (int64_t k = 0; k < m->nf; k++) {
    const int32_t *t = m->f + 3 * k;
    double e1[3], e2[3], n[3];
    sub3(m->v + 3 * t[1], m->v + 3 * t[0], e1);
    sub3(m->v + 3 * t[2], m->v + 3 * t[0], e2);
    cross3(e1, e2, n); /* twice the area times the unit normal */
    for (int c = 0; c < 3; c++)
      for (int a = 0; a < 3; a++)
        out[3 * t[c] + a] += n[a];
  }
  for (int64_t i = 0; i < m->nv; i++) {
    double *n = out + 3 * i, l = sqrt(dot3(n, n));
    for (int a = 0; a < 3; a++)
      n[a] = l > 0 ? n[a] / l : 0.0;
  }
}

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

ad3d_status mesh_adjacency_build(const mesh_t *m, mesh_adjacency *adj) {
  memset(adj, 0, sizeof *adj);
  int64_t nv = m->nv;
  adj->start = calloc((size_t)nv + 1, sizeof *adj->start);
  adj->nbr = malloc((size_t)(m->nf ? m->nf : 1) * 6 * sizeof *adj->nbr);
  int64_t *fill = malloc((size_t)(nv ? nv : 1) * sizeof *fill);
  if (!adj->start || !adj->nbr || !fill) {
    free(fill);
    mesh_adjacency_free(adj);
    return ad3d_fail(AD3D_ENOMEM, "out of memory for the adjacency of a mesh of %lld vertices", (long long)nv);
  }
  adj->nv = nv;
  for (int64_t i = 0; i < 3 * m->nf; i++)
    adj->start[m->f[i] + 1] += 2;
  for (int64_t i = 0; i < nv; i++)
    adj->start[i + 1] += adj->start[i];
  memcpy(fill, adj->start, (size_t)nv * sizeof *fill);
  for (int64_t k = 0; k < m->nf; k++)
    for (int e = 0; e < 3; e++) {
      int32_t a = m->f[3 * k + e], b = m->f[3 * k + (e + 1) % 3], c = m->f[3 * k + (e + 2) % 3];
      adj->nbr[fill[a]++] = b;
      adj->nbr[fill[a]++] = c;
    }
  int64_t out = 0;
  for (int64_t i = 0; i < nv; i++) { /* sort each row and drop duplicates, compacting in place */
    int64_t s = adj->start[i], e = adj->start[i + 1];
    qsort(adj->nbr + s, (size_t)(e - s), sizeof *adj->nbr, cmp_i32);
    adj->start[i] = out;
    for (int64_t j = s; j < e; j++)
      if (j == s || adj->nbr[j] != adj->nbr[j - 1])
        adj->nbr[out++] = adj->nbr[j];
  }
  adj->start[nv] = out;
  free(fill);
  return AD3D_OK;
}

void mesh_adjacency_free(mesh_adjacency *adj) {
  if (!adj)
    return;
  free(adj->start);
  free(adj->nbr);
  memset(adj, 0, sizeof *adj);
}

/* ---------------------------------------------------------------- sampling */

ad3d_status mesh_sampler_init(mesh_sampler *s, const mesh_t *m) {
  memset(s, 0, sizeof *s);
  s->cdf = malloc((size_t)(m->nf ? m->nf : 1) * sizeof *s->cdf);
  if (!s->cdf)
    return ad3d_fail(AD3D_ENOMEM, "out of memory for the sampling table of %lld faces", (long long)m->nf);
  double acc = 0, n[3];
  for (int64_t k = 0; k < m->nf; k++) {
    acc += mesh_face_normal(m, k, n);
    s->cdf[k] = acc;
  }
  if (!(acc > 0)) {
    mesh_sampler_free(s);
    return ad3d_fail(AD3D_EINVAL, "cannot sample a mesh of zero area (%lld faces)", (long long)m->nf);
  }
  s->mesh = m;
  s->area = acc;
  return AD3D_OK;
}

void mesh_sampler_free(mesh_sampler *s) {
  if (!s)
    return;
  free(s->cdf);
  memset(s, 0, sizeof *s);
}

void mesh_sampler_draw(const mesh_sampler *s, int64_t n, rng_t *rng, double *xyz, double *normals, int32_t *face,
                       double *bary) {
  const mesh_t *m = s->mesh;
  for (int64_t i = 0; i < n; i++) {
    double x = rng_uniform(rng) * s->area;
    int64_t lo = 0, hi = m->nf - 1; /* first face whose cumulative area exceeds x */
    while (lo < hi) {
      int64_t mid = lo + (hi - lo) / 2;
      if (s->cdf[mid] > x)
        hi = mid;
      else
        lo = mid + 1;
    }
    double r1 = sqrt(rng_uniform(rng)), r2 = rng_uniform(rng);
    double w[3] = {1.0 - r1, r1 * (1.0 - r2), r1 * r2};
    const int32_t *t = m->f + 3 * lo;
    for (int a = 0; a < 3; a++)
      xyz[3 * i + a] = w[0] * m->v[3 * t[0] + a] + w[1] * m->v[3 * t[1] + a] + w[2] * m->v[3 * t[2] + a];
    if (normals)
      mesh_face_normal(m, lo, normals + 3 * i);
    if (face)
      face[i] = (int32_t)lo;
    if (bary)
      memcpy(bary + 3 * i, w, sizeof w);
  }
}

/* ---------------------------------------------------------------- closest point */

double triangle_closest(const double p[3], const double a[3], const double b[3], const double c[3], double q[3]) {
  double ab[3], ac[3], ap[3], bp[3], cp[3], r[3] = {a[0], a[1], a[2]};
  sub3(b, a, ab);
  sub3(c, a, ac);
  sub3(p, a, ap);
  double d1 = dot3(ab, ap), d2 = dot3(ac, ap);
  if (d1 <= 0 && d2 <= 0) {
    memcpy(r, a, sizeof r);
    goto done;
  }
  sub3(p, b, bp);
  double d3 = dot3(ab, bp), d4 = dot3(ac, bp);
  if (d3 >= 0 && d4 <= d3) {
    memcpy(r, b, sizeof r);
    goto done;
  }
  double vc = d1 * d4 - d3 * d2;
  if (vc <= 0 && d1 >= 0 && d3 <= 0) {
    double v = d1 / (d1 - d3);
    for (int k = 0; k < 3; k++)
      r[k] = a[k] + v * ab[k];
    goto done;
  }
  sub3(p, c, cp);
  double d5 = dot3(ab, cp), d6 = dot3(ac, cp);
  if (d6 >= 0 && d5 <= d6) {
    memcpy(r, c, sizeof r);
    goto done;
  }
  double vb = d5 * d2 - d1 * d6;
  if (vb <= 0 && d2 >= 0 && d6 <= 0) {
    double w = d2 / (d2 - d6);
    for (int k = 0; k < 3; k++)
      r[k] = a[k] + w * ac[k];
    goto done;
  }
  double va = d3 * d6 - d5 * d4;
  if (va <= 0 && (d4 - d3) >= 0 && (d5 - d6) >= 0) {
    double w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
    for (int k = 0; k < 3; k++)
      r[k] = b[k] + w * (c[k] - b[k]);
    goto done;
  }
  {
    double den = va + vb + vc;
    if (!(den > 0)) { /* a degenerate triangle: fall back to the closest of its edges */
      double best = INFINITY, qq[3];
      const double *pts[3] = {a, b, c};
      for (int e = 0; e < 3; e++) {
        const double *u = pts[e], *v = pts[(e + 1) % 3];
        double uv[3], up[3];
        sub3(v, u, uv);
        sub3(p, u, up);
        double l = dot3(uv, uv), t = l > 0 ? dot3(up, uv) / l : 0.0;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        for (int k = 0; k < 3; k++)
          qq[k] = u[k] + t * uv[k];
        double d = dist2(p, qq);
        if (d < best) {
          best = d;
          memcpy(r, qq, sizeof r);
        }
      }
      goto done;
    }
    double v = vb / den, w = vc / den;
    for (int k = 0; k < 3; k++)
      r[k] = a[k] + ab[k] * v + ac[k] * w;
  }
done:
  if (q)
    memcpy(q, r, sizeof r);
  return dist2(p, r);
}

/* ---------------------------------------------------------------- bounding-volume hierarchy */

typedef struct {
  double key; /* the face centroid's coordinate on the split axis */
  int32_t face;
} bvh_item;

static int bvh_item_cmp(const void *pa, const void *pb) {
  const bvh_item *a = pa, *b = pb;
  if (a->key != b->key)
    return a->key < b->key ? -1 : 1;
  return (a->face > b->face) - (a->face < b->face);
}

static int bvh_item_less(const bvh_item *a, const bvh_item *b) { return bvh_item_cmp(a, b) < 0; }

/* Reorder items[0, n) so that items[k] is the one a sort would put there, smaller ones before it
 * and larger ones after (quickselect, median-of-three pivots: deterministic). */
static void bvh_select(bvh_item *items, int64_t n, int64_t k) {
  int64_t lo = 0, hi = n - 1;
  while (hi > lo) {
    int64_t mid = lo + (hi - lo) / 2;
    if (bvh_item_less(&items[mid], &items[lo])) {
      bvh_item t = items[mid];
      items[mid] = items[lo];
      items[lo] = t;
    }
    if (bvh_item_less(&items[hi], &items[lo])) {
      bvh_item t = items[hi];
      items[hi] = items[lo];
      items[lo] = t;
    }
    if (bvh_item_less(&items[hi], &items[mid])) {
      bvh_item t = items[hi];
      items[hi] = items[mid];
      items[mid] = t;
    }
    bvh_item pivot = items[mid];
    int64_t i = lo, j = hi;
    while (i <= j) {
      while (bvh_item_less(&items[i], &pivot))
        i++;
      while (bvh_item_less(&pivot, &items[j]))
        j--;
      if (i <= j) {
        bvh_item t = items[i];
        items[i] = items[j];
        items[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j)
      hi = j;
    else if (k >= i)
      lo = i;
    else
      return;
  }
}

static void bvh_box(const mesh_t *m, const int32_t *faces, int64_t n, double lo[3], double hi[3]) {
  for (int a = 0; a < 3; a++) {
    lo[a] = INFINITY;
    hi[a] = -INFINITY;
  }
  for (int64_t i = 0; i < n; i++)
    for (int c = 0; c < 3; c++) {
      const double *p = m->v + 3 * m->f[3 * faces[i] + c];
      for (int a = 0; a < 3; a++) {
        lo[a] = p[a] < lo[a] ? p[a] : lo[a];
        hi[a] = p[a] > hi[a] ? p[a] : hi[a];
      }
    }
}

/* Build the subtree of node `k` over order[s, e); nodes are appended in pairs. items (nf) is scratch. */
static void bvh_build_node(mesh_bvh *b, const double *centroid, bvh_item *items, int64_t k, int64_t s, int64_t e) {
  mesh_bvh_node *nd = &b->nodes[k];
  bvh_box(b->mesh, b->order + s, e - s, nd->lo, nd->hi);
  if (e - s <= MESH_BVH_LEAF) {
    nd->first = s;
    nd->count = (int32_t)(e - s);
    return;
  }
  double clo[3] = {INFINITY, INFINITY, INFINITY}, chi[3] = {-INFINITY, -INFINITY, -INFINITY};
  for (int64_t i = s; i < e; i++)
    for (int a = 0; a < 3; a++) {
      double x = centroid[3 * b->order[i] + a];
      clo[a] = x < clo[a] ? x : clo[a];
      chi[a] = x > chi[a] ? x : chi[a];
    }
  int axis = 0;
  for (int a = 1; a < 3; a++)
    if (chi[a] - clo[a] > chi[axis] - clo[axis])
      axis = a;
  for (int64_t i = s; i < e; i++) {
    items[i].key = centroid[3 * b->order[i] + axis];
    items[i].face = b->order[i];
  }
  int64_t mid = s + (e - s) / 2;
  bvh_select(items + s, e - s, mid - s); /* a median split, not a full sort */
  for (int64_t i = s; i < e; i++)
    b->order[i] = items[i].face;
  int64_t left = b->nnodes;
  b->nnodes += 2;
  nd->first = left;
  nd->count = 0;
  bvh_build_node(b, centroid, items, left, s, mid);
  bvh_build_node(b, centroid, items, left + 1, mid, e);
}

ad3d_status mesh_bvh_build(mesh_bvh *b, const mesh_t *m) {
  memset(b, 0, sizeof *b);
  b->mesh = m;
  int64_t nf = m->nf;
  b->nodes = malloc((size_t)(2 * nf + 1) * sizeof *b->nodes);
  b->order = malloc((size_t)(nf ? nf : 1) * sizeof *b->order);
  double *centroid = malloc((size_t)(nf ? nf : 1) * 3 * sizeof *centroid); /* (nf, 3) */
  bvh_item *items = malloc((size_t)(nf ? nf : 1) * sizeof *items);
  if (!b->nodes || !b->order || !centroid || !items) {
    free(centroid);
    free(items);
    mesh_bvh_free(b);
    return ad3d_fail(AD3D_ENOMEM, "out of memory for the hierarchy of a mesh of %lld faces", (long long)nf);
  }
  for (int64_t k = 0; k < nf; k++) {
    b->order[k] = (int32_t)k;
    for (int a = 0; a < 3; a++)
      centroid[3 * k + a] =
          (m->v[3 * m->f[3 * k] + a] + m->v[3 * m->f[3 * k + 1] + a] + m->v[3 * m->f[3 * k + 2] + a]) / 3.0;
  }
  b->nnodes = nf > 0;
  if (nf > 0)
    bvh_build_node(b, centroid, items, 0, 0, nf);
  free(centroid);
  free(items);
  return AD3D_OK;
}

void mesh_bvh_free(mesh_bvh *b) {
  if (!b)
    return;
  free(b->nodes);
  free(b->order);
  memset(b, 0, sizeof *b);
}

static double box_dist2(const mesh_bvh_node *nd, const double p[3]) {
  double d = 0;
  for (int a = 0; a < 3; a++) {
    double x = p[a] < nd->lo[a] ? nd->lo[a] - p[a] : p[a] > nd->hi[a] ? p[a] - nd->hi[a] : 0.0;
    d += x * x;
  }
  return d;
}

/* Nearest face with squared distance below *best (updated); stop_at_first: return once any is found. */
static int bvh_nearest_rec(const mesh_bvh *b, int64_t k, const double p[3], double *best, int64_t *face,
                           int stop_at_first) {
  const mesh_bvh_node *nd = &b->nodes[k];
  if (box_dist2(nd, p) >= *best)
    return 0;
  if (nd->count) {
    const mesh_t *m = b->mesh;
    int found = 0;
    for (int32_t i = 0; i < nd->count; i++) {
      int32_t f = b->order[nd->first + i];
      const int32_t *t = m->f + 3 * f;
      double d = triangle_closest(p, m->v + 3 * t[0], m->v + 3 * t[1], m->v + 3 * t[2], NULL);
      if (d < *best) {
        *best = d;
        *face = f;
        found = 1;
        if (stop_at_first)
          return 1;
      }
    }
    return found;
  }
  int64_t l = nd->first, r = l + 1;
  if (box_dist2(&b->nodes[r], p) < box_dist2(&b->nodes[l], p)) { /* nearer child first */
    int64_t s = l;
    l = r;
    r = s;
  }
  int found = bvh_nearest_rec(b, l, p, best, face, stop_at_first);
  if (found && stop_at_first)
    return 1;
  return bvh_nearest_rec(b, r, p, best, face, stop_at_first) || found;
}

double mesh_bvh_nearest(const mesh_bvh *b, const double p[3], double rmax, int64_t *face) {
  double best = isfinite(rmax) ? rmax * rmax : INFINITY;
  int64_t f = -1;
  if (b->nnodes)
    bvh_nearest_rec(b, 0, p, &best, &f, 0);
  if (face)
    *face = f;
  return f >= 0 ? best : INFINITY;
}

int mesh_bvh_within(const mesh_bvh *b, const double p[3], double r) {
  /* "within r" includes distance exactly r: search below the next double above r^2 */
  double best = nextafter(r * r, INFINITY);
  int64_t f = -1;
  return b->nnodes && bvh_nearest_rec(b, 0, p, &best, &f, 1);
}

/* Slab test: does the ray hit the box for some t in (tmin, tmax)? */
static int ray_box(const mesh_bvh_node *nd, const double o[3], const double d[3], double tmin, double tmax) {
  for (int a = 0; a < 3; a++) {
    if (d[a] == 0) {
      if (o[a] < nd->lo[a] || o[a] > nd->hi[a])
        return 0;
      continue;
    }
    double t0 = (nd->lo[a] - o[a]) / d[a], t1 = (nd->hi[a] - o[a]) / d[a];
    if (t0 > t1) {
      double s = t0;
      t0 = t1;
      t1 = s;
    }
    tmin = t0 > tmin ? t0 : tmin;
    tmax = t1 < tmax ? t1 : tmax;
    if (tmin > tmax)
      return 0;
  }
  return 1;
}

/* Moller-Trumbore; INFINITY when missed. */
static double ray_triangle(const double o[3], const double d[3], const double *a, const double *b, const double *c) {
  double e1[3], e2[3], pv[3], tv[3], qv[3];
  sub3(b, a, e1);
  sub3(c, a, e2);
  cross3(d, e2, pv);
  double det = dot3(e1, pv);
  if (det == 0)
    return INFINITY;
  double inv = 1.0 / det;
  sub3(o, a, tv);
  double u = dot3(tv, pv) * inv;
  if (u < 0 || u > 1)
    return INFINITY;
  cross3(tv, e1, qv);
  double v = dot3(d, qv) * inv;
  if (v < 0 || u + v > 1)
    return INFINITY;
  return dot3(e2, qv) * inv;
}

static void bvh_ray_rec(const mesh_bvh *b, int64_t k, const double o[3], const double d[3], double tmin, double *best) {
  const mesh_bvh_node *nd = &b->nodes[k];
  if (!ray_box(nd, o, d, tmin, *best))
    return;
  if (nd->count) {
    const mesh_t *m = b->mesh;
    for (int32_t i = 0; i < nd->count; i++) {
      const int32_t *t = m->f + 3 * b->order[nd->first + i];
      double h = ray_triangle(o, d, m->v + 3 * t[0], m->v + 3 * t[1], m->v + 3 * t[2]);
      if (h > tmin && h < *best)
        *best = h;
    }
    return;
  }
  bvh_ray_rec(b, nd->first, o, d, tmin, best);
  bvh_ray_rec(b, nd->first + 1, o, d, tmin, best);
}

double mesh_bvh_ray(const mesh_bvh *b, const double o[3], const double d[3], double tmin, double tmax) {
  double best = tmax;
  if (b->nnodes)
    bvh_ray_rec(b, 0, o, d, tmin, &best);
  return best < tmax ? best : INFINITY;
}
