/* carve.c - defects carved into meshes, exact labels, and random defect parameters (see carve.h).
 *
 * carve_apply: copy, refine where the defect acts, keep the refined copy as the original, then
 * displace vertices (bulge, concavity, bending, crack, scratch) or cut the surface along the zero of
 * a field interpolated on the edges (hole, broken). carve_draw: the random parameters and the rules
 * of thumb that turn a target coverage into a size.
 */
#include "synth/carve.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const carve_kind_names[] = {"bulge", "concavity", "hole", "broken", "bending", "crack", "scratch", NULL};

const char *carve_kind_name(carve_kind k) {
  ASSERT(k >= CARVE_BULGE && k <= CARVE_SCRATCH);
  return carve_kind_names[k];
}

ad3d_status carve_kind_parse(const char *name, carve_kind *k) {
  for (int i = 0; carve_kind_names[i]; i++)
    if (!strcmp(name, carve_kind_names[i])) {
      *k = (carve_kind)i;
      return AD3D_OK;
    }
  if (!strcmp(name, "crak")) {
    *k = CARVE_CRACK;
    return AD3D_OK;
  }
  if (!strcmp(name, "sink")) {
    *k = CARVE_CONCAVITY;
    return AD3D_OK;
  }
  return ad3d_fail(AD3D_ENOTFOUND, "unknown defect \"%s\" (expected bulge, concavity, hole, broken, bending, crack "
                   "or scratch)", name);
}

/* ---------------------------------------------------------------- small vector helpers */

static double dot3(const double *a, const double *b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

static void cross3(const double *a, const double *b, double *out) {
  double r[3] = {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
  memcpy(out, r, sizeof r);
}

static double norm3(const double *a) { return sqrt(dot3(a, a)); }

static int normalize3(double *a) {
  double l = norm3(a);
  if (!(l > 0))
    return 0;
  for (int k = 0; k < 3; k++)
    a[k] /= l;
  return 1;
}

static double dist3(const double *a, const double *b) {
  double d[3] = {a[0] - b[0], a[1] - b[1], a[2] - b[2]};
  return norm3(d);
}

static double smoothstep(double x) {
  x = x < 0 ? 0 : x > 1 ? 1 : x;
  return x * x * (3.0 - 2.0 * x);
}

/* f(s) = (1 - s^2)^2 for s < 1, else 0. */
static double falloff(double s) {
  if (s >= 1.0)
    return 0.0;
  double u = 1.0 - s * s;
  return u * u;
}

/* Rotate v about the unit axis a by angle th (Rodrigues). */
static void rotate3(const double *a, double th, const double *v, double *out) {
  double c = cos(th), s = sin(th), axv[3];
  cross3(a, v, axv);
  double ad = dot3(a, v);
  for (int k = 0; k < 3; k++)
    out[k] = v[k] * c + axv[k] * s + a[k] * ad * (1.0 - c);
}

/* ---------------------------------------------------------------- the groove path (2D) */

/* Squared distance from p to segment ab; *t gets the parameter of the nearest point. */
static double seg_dist2(const double *p, const double *a, const double *b, double *t) {
  double ab[2] = {b[0] - a[0], b[1] - a[1]}, ap[2] = {p[0] - a[0], p[1] - a[1]};
  double l = ab[0] * ab[0] + ab[1] * ab[1], u = l > 0 ? (ap[0] * ab[0] + ap[1] * ab[1]) / l : 0.0;
  u = u < 0 ? 0 : u > 1 ? 1 : u;
  double dx = ap[0] - u * ab[0], dy = ap[1] - u * ab[1];
  if (t)
    *t = u;
  return dx * dx + dy * dy;
}

static double orient2(const double *a, const double *b, const double *c) {
  return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
}

static int segs_cross(const double *a, const double *b, const double *c, const double *d) {
  double o1 = orient2(a, b, c), o2 = orient2(a, b, d), o3 = orient2(c, d, a), o4 = orient2(c, d, b);
  return ((o1 > 0) != (o2 > 0)) && ((o3 > 0) != (o4 > 0));
}

static int tri_contains2(const double tri[3][2], const double *p) {
  double o0 = orient2(tri[0], tri[1], p), o1 = orient2(tri[1], tri[2], p), o2 = orient2(tri[2], tri[0], p);
  return (o0 >= 0 && o1 >= 0 && o2 >= 0) || (o0 <= 0 && o1 <= 0 && o2 <= 0);
}

/* Squared distance between a 2D triangle and segment ab (0 when they meet). */
static double tri_seg_dist2(const double tri[3][2], const double *a, const double *b) {
  if (tri_contains2(tri, a) || tri_contains2(tri, b))
    return 0.0;
  double best = INFINITY;
  for (int e = 0; e < 3; e++) {
    const double *u = tri[e], *v = tri[(e + 1) % 3];
    if (segs_cross(u, v, a, b))
      return 0.0;
    double d = seg_dist2(u, a, b, NULL);
    best = d < best ? d : best;
    d = seg_dist2(a, u, v, NULL);
    best = d < best ? d : best;
    d = seg_dist2(b, u, v, NULL);
    best = d < best ? d : best;
  }
  return best;
}

typedef struct {
  const carve_defect *d;
  double b[3];                  /* n x t */
  double cum[CARVE_MAX_PATH];   /* arc length at each path point */
  double length;                /* total arc length */
  double reach;                 /* refinement: triangles within this 2D distance of the path */
  double extent;                /* refinement: and within this 3D distance of c */
  double lo[2], hi[2];          /* the path's 2D bounding box grown by reach */
} groove_ctx;

static void groove_init(groove_ctx *g, const carve_defect *d) {
  memset(g, 0, sizeof *g);
  g->d = d;
  cross3(d->normal, d->tangent, g->b);
  g->cum[0] = 0;
  double far = 0;
  for (int i = 1; i < d->npath; i++) {
    g->cum[i] = g->cum[i - 1] + hypot(d->path[i][0] - d->path[i - 1][0], d->path[i][1] - d->path[i - 1][1]);
    double r = hypot(d->path[i][0], d->path[i][1]);
    far = r > far ? r : far;
  }
  far = fmax(far, hypot(d->path[0][0], d->path[0][1]));
  g->length = g->cum[d->npath - 1];
  g->reach = d->width + 2.0 * d->resolution;
  for (int a = 0; a < 2; a++) {
    g->lo[a] = INFINITY;
    g->hi[a] = -INFINITY;
    for (int i = 0; i < d->npath; i++) {
      g->lo[a] = fmin(g->lo[a], d->path[i][a] - g->reach);
      g->hi[a] = fmax(g->hi[a], d->path[i][a] + g->reach);
    }
  }
  g->extent = 1.5 * far + d->width + d->amplitude + 2.0 * d->resolution;
}

static void groove_project(const groove_ctx *g, const double *p, double *xy) {
  const double *c = g->d->centre;
  double q[3] = {p[0] - c[0], p[1] - c[1], p[2] - c[2]};
  xy[0] = dot3(q, g->d->tangent);
  xy[1] = dot3(q, g->b);
}

static double groove_taper(const carve_defect *d, double u) {
  if (u <= 0.0 || u >= 1.0)
    return 0.0;
  if (d->kind == CARVE_CRACK)
    return sqrt(4.0 * u * (1.0 - u));
  return smoothstep(u / 0.1) * smoothstep((1.0 - u) / 0.1);
}

/* The depth of the groove at vertex p with unit normal np (>= 0). */
static double groove_depth(const groove_ctx *g, const double *p, const double *np) {
  const carve_defect *d = g->d;
  if (dist3(p, d->centre) > g->extent)
    return 0.0;
  double xy[2], best = INFINITY, s = 0;
  groove_project(g, p, xy);
  for (int i = 0; i + 1 < d->npath; i++) {
    double t, e = seg_dist2(xy, d->path[i], d->path[i + 1], &t);
    if (e < best) {
      best = e;
      s = g->cum[i] + t * (g->cum[i + 1] - g->cum[i]);
    }
  }
  double h = groove_taper(d, g->length > 0 ? s / g->length : 0.0);
  double w = d->kind == CARVE_CRACK ? d->width * (0.35 + 0.65 * h) : d->width;
  double facing = smoothstep((dot3(np, d->normal) - 0.2) / 0.3);
  if (h <= 0 || facing <= 0 || !(w > 0))
    return 0.0;
  return d->amplitude * h * falloff(sqrt(best) / w) * facing;
}

/* ---------------------------------------------------------------- refinement regions */

typedef struct {
  double c[3], r;
} ball_ctx;

static int region_ball(const double a[3], const double b[3], const double c[3], void *ctx) {
  const ball_ctx *bl = ctx;
  return triangle_closest(bl->c, a, b, c, NULL) <= bl->r * bl->r;
}

/* Triangles meeting the slab lo <= (p - c) . m <= hi (and the ball, when r > 0). */
typedef struct {
  double c[3], m[3], lo, hi, r;
} slab_ctx;

static int region_slab(const double a[3], const double b[3], const double c[3], void *ctx) {
  const slab_ctx *s = ctx;
  const double *v[3] = {a, b, c};
  double mn = INFINITY, mx = -INFINITY;
  for (int i = 0; i < 3; i++) {
    double q[3] = {v[i][0] - s->c[0], v[i][1] - s->c[1], v[i][2] - s->c[2]}, x = dot3(q, s->m);
    mn = x < mn ? x : mn;
    mx = x > mx ? x : mx;
  }
  if (mn > s->hi || mx < s->lo)
    return 0;
  return s->r <= 0 || triangle_closest(s->c, a, b, c, NULL) <= s->r * s->r;
}

static int region_groove(const double a[3], const double b[3], const double c[3], void *ctx) {
  const groove_ctx *g = ctx;
  const carve_defect *d = g->d;
  if (triangle_closest(d->centre, a, b, c, NULL) > g->extent * g->extent)
    return 0;
  double e1[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]}, e2[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]}, n[3];
  cross3(e1, e2, n);
  if (normalize3(n) && dot3(n, d->normal) < 0.1)
    return 0; /* faces turned away are never grooved */
  double tri[3][2];
  groove_project(g, a, tri[0]);
  groove_project(g, b, tri[1]);
  groove_project(g, c, tri[2]);
  for (int k = 0; k < 2; k++) /* outside the path's box: no need to look closer */
    if (fmax(fmax(tri[0][k], tri[1][k]), tri[2][k]) < g->lo[k] || fmin(fmin(tri[0][k], tri[1][k]), tri[2][k]) > g->hi[k])
      return 0;
  for (int i = 0; i + 1 < d->npath; i++)
    if (tri_seg_dist2(tri, d->path[i], d->path[i + 1]) <= g->reach * g->reach)
      return 1;
  return 0;
}

/* ---------------------------------------------------------------- connectivity and cutting */

/* reached[i] = 1 for the vertices connected to `seed` through vertices with cand[i] (seed included
 * when it is a candidate); returns the count in *count. */
static ad3d_status flood(const mesh_t *m, const uint8_t *cand, int64_t seed, uint8_t *reached, int64_t *count) {
  mesh_adjacency adj;
  int64_t *queue = malloc((size_t)(m->nv ? m->nv : 1) * sizeof *queue);
  memset(reached, 0, (size_t)m->nv);
  *count = 0;
  if (!queue)
    return ad3d_fail(AD3D_ENOMEM, "out of memory for a flood fill of %lld vertices", (long long)m->nv);
  ad3d_status st = mesh_adjacency_build(m, &adj);
  if (st) {
    free(queue);
    return st;
  }
  int64_t head = 0, tail = 0;
  if (seed >= 0 && cand[seed]) {
    reached[seed] = 1;
    queue[tail++] = seed;
  }
  while (head < tail) {
    int64_t i = queue[head++];
    for (int64_t j = adj.start[i]; j < adj.start[i + 1]; j++) {
      int32_t k = adj.nbr[j];
      if (cand[k] && !reached[k]) {
        reached[k] = 1;
        queue[tail++] = k;
      }
    }
  }
  *count = tail;
  mesh_adjacency_free(&adj);
  free(queue);
  return AD3D_OK;
}

static int64_t nearest_vertex(const mesh_t *m, const double *p, const uint8_t *only) {
  int64_t best = -1;
  double bd = INFINITY;
  for (int64_t i = 0; i < m->nv; i++) {
    if (only && !only[i])
      continue;
    double d = dist3(m->v + 3 * i, p);
    if (d < bd) {
      bd = d;
      best = i;
    }
  }
  return best;
}

/* Cut m along the zero of phi (nv values, kept where phi >= 0): faces crossing the zero are split
 * at the interpolated zero of each edge; what lies where phi < 0 goes to `removed` (a mesh of its
 * own). m keeps only the kept side. */
static ad3d_status clip_mesh(mesh_t *m, const double *phi, mesh_t *removed) {
  edge_map cut;
  int32_t *kept = NULL;
  ad3d_status st;
  int64_t nf = m->nf, nkept = 0;
  memset(removed, 0, sizeof *removed);
  TRY(edge_map_init(&cut, nf / 8 + 16));
  for (int64_t k = 0; k < nf; k++)
    for (int e = 0; e < 3; e++) {
      int32_t a = m->f[3 * k + e], b = m->f[3 * k + (e + 1) % 3];
      if ((phi[a] < 0) == (phi[b] < 0) || edge_map_get(&cut, a, b) >= 0)
        continue;
      int32_t lo = a < b ? a : b, hi = a < b ? b : a; /* the same point whichever face comes first */
      double t = phi[lo] / (phi[lo] - phi[hi]), p[3];
      for (int c = 0; c < 3; c++)
        p[c] = m->v[3 * lo + c] + t * (m->v[3 * hi + c] - m->v[3 * lo + c]);
      if ((st = edge_map_set(&cut, a, b, m->nv)) || (st = mesh_push_vertex(m, p[0], p[1], p[2])))
        goto cleanup;
    }
  kept = malloc((size_t)(nf ? nf : 1) * 2 * 3 * sizeof *kept);
  if (!kept || (st = mesh_reserve(removed, m->nv, nf))) {
    st = ad3d_fail(AD3D_ENOMEM, "out of memory cutting a mesh of %lld faces", (long long)nf);
    goto cleanup;
  }
  memcpy(removed->v, m->v, (size_t)m->nv * 3 * sizeof *m->v);
  removed->nv = m->nv;
#define KEEP(x, y, z)           \
  do {                          \
    kept[3 * nkept] = (x);      \
    kept[3 * nkept + 1] = (y);  \
    kept[3 * nkept + 2] = (z);  \
    nkept++;                    \
  } while (0)
#define DROP(x, y, z)                                         \
  do {                                                        \
    if ((st = mesh_push_face(removed, (x), (y), (z))))        \
      goto cleanup;                                           \
  } while (0)
  for (int64_t k = 0; k < nf; k++) {
    const int32_t *t = m->f + 3 * k;
    int neg = (phi[t[0]] < 0) + (phi[t[1]] < 0) + (phi[t[2]] < 0);
    if (neg == 0) {
      KEEP(t[0], t[1], t[2]);
      continue;
    }
    if (neg == 3) {
      DROP(t[0], t[1], t[2]);
      continue;
    }
    /* rotate: neg == 1 puts the removed vertex first, neg == 2 puts the kept vertex last */
    int r = 0;
    for (int i = 0; i < 3; i++)
      if ((neg == 1 && phi[t[i]] < 0) || (neg == 2 && phi[t[(i + 2) % 3]] >= 0))
        r = i;
    int32_t a = t[r], b = t[(r + 1) % 3], c = t[(r + 2) % 3];
    int32_t mab = (int32_t)edge_map_get(&cut, a, b), mbc = (int32_t)edge_map_get(&cut, b, c),
            mca = (int32_t)edge_map_get(&cut, c, a);
    if (neg == 1) {
      KEEP(mab, b, c);
      KEEP(mab, c, mca);
      DROP(a, mab, mca);
    } else {
      KEEP(mbc, c, mca);
      DROP(a, b, mbc);
      DROP(a, mbc, mca);
    }
  }
#undef KEEP
#undef DROP
  free(m->f);
  m->f = kept;
  m->nf = m->cap_f = nkept;
  kept = NULL;
  if ((st = mesh_drop_degenerate(m, 0.0, NULL)) || (st = mesh_drop_degenerate(removed, 0.0, NULL)))
    goto cleanup;
cleanup:
  edge_map_free(&cut);
  free(kept);
  if (st)
    mesh_free(removed);
  return st;
}

/* ---------------------------------------------------------------- carving */

static double rough_at(const carve_defect *d, const double *p) {
  if (d->rough_amp == 0)
    return 0.0;
  double q[3] = {p[0] - d->centre[0], p[1] - d->centre[1], p[2] - d->centre[2]}, s = 0;
  for (int i = 0; i < 3; i++)
    s += sin(dot3(q, d->rough[i]) + d->rough[i][3]);
  return d->rough_amp * s / 3.0;
}

static ad3d_status check_defect(const carve_defect *d) {
  if (d->kind < CARVE_BULGE || d->kind > CARVE_SCRATCH)
    return ad3d_fail(AD3D_EINVAL, "carve: unknown defect kind %d", (int)d->kind);
  const char *name = carve_kind_name(d->kind);
  if (!(d->resolution > 0))
    return ad3d_fail(AD3D_EINVAL, "%s: the resolution must be positive, not %g", name, d->resolution);
  if (!(d->threshold >= 0) || !(d->rim >= 0))
    return ad3d_fail(AD3D_EINVAL, "%s: threshold and rim must be >= 0 (%g, %g)", name, d->threshold, d->rim);
  switch (d->kind) {
  case CARVE_BULGE:
  case CARVE_CONCAVITY:
  case CARVE_HOLE:
    if (!(d->radius > 0))
      return ad3d_fail(AD3D_EINVAL, "%s: the radius must be positive, not %g", name, d->radius);
    break;
  case CARVE_BROKEN:
    if (!(d->depth > 0) || !(d->radius > 0) || fabs(norm3(d->plane) - 1) > 1e-9)
      return ad3d_fail(AD3D_EINVAL, "%s: needs a positive depth (%g), radius (%g) and a unit plane normal", name,
                       d->depth, d->radius);
    break;
  case CARVE_BENDING:
    if (!(d->width > 0) || fabs(norm3(d->plane) - 1) > 1e-9 || fabs(norm3(d->axis) - 1) > 1e-9 ||
        fabs(dot3(d->plane, d->axis)) > 1e-9)
      return ad3d_fail(AD3D_EINVAL, "%s: needs a positive width (%g) and unit, orthogonal plane normal and axis", name,
                       d->width);
    break;
  case CARVE_CRACK:
  case CARVE_SCRATCH:
    if (!(d->width > 0) || d->npath < 2 || d->npath > CARVE_MAX_PATH || fabs(norm3(d->normal) - 1) > 1e-9 ||
        fabs(norm3(d->tangent) - 1) > 1e-9 || fabs(dot3(d->normal, d->tangent)) > 1e-9)
      return ad3d_fail(AD3D_EINVAL, "%s: needs a positive width (%g), 2 to %d path points (%d) and a unit normal and "
                       "tangent", name, d->width, CARVE_MAX_PATH, d->npath);
    break;
  }
  return AD3D_OK;
}

static ad3d_status refine_for(mesh_t *w, const carve_defect *d, int64_t max_faces) {
  switch (d->kind) {
  case CARVE_BULGE:
  case CARVE_CONCAVITY:
  case CARVE_HOLE: {
    ball_ctx bl = {{d->centre[0], d->centre[1], d->centre[2]}, d->radius + d->resolution};
    return mesh_refine(w, d->resolution, region_ball, &bl, max_faces);
  }
  case CARVE_BROKEN: {
    double band = 2.0 * d->resolution + 2.0 * fabs(d->rough_amp);
    slab_ctx s = {{d->centre[0], d->centre[1], d->centre[2]},
                  {d->plane[0], d->plane[1], d->plane[2]},
                  -d->depth - band,
                  -d->depth + band,
                  d->radius + d->resolution};
    return mesh_refine(w, d->resolution, region_slab, &s, max_faces);
  }
  case CARVE_BENDING: {
    slab_ctx s = {{d->centre[0], d->centre[1], d->centre[2]},
                  {d->plane[0], d->plane[1], d->plane[2]},
                  -d->resolution,
                  d->width + d->resolution,
                  0};
    return mesh_refine(w, d->resolution, region_slab, &s, max_faces);
  }
  case CARVE_CRACK:
  case CARVE_SCRATCH: {
    groove_ctx g;
    groove_init(&g, d);
    return mesh_refine(w, d->resolution, region_groove, &g, max_faces);
  }
  }
  return AD3D_OK;
}

/* Displace the vertices of w (bulge, concavity, bending, crack, scratch). */
static ad3d_status displace(mesh_t *w, const carve_defect *d) {
  const char *name = carve_kind_name(d->kind);
  int64_t nv = w->nv, count;
  ad3d_status st = AD3D_OK;
  if (d->kind == CARVE_BULGE || d->kind == CARVE_CONCAVITY) {
    double sign = d->kind == CARVE_BULGE ? 1.0 : -1.0;
    for (int64_t i = 0; i < nv; i++) {
      double *p = w->v + 3 * i, f = falloff(dist3(p, d->centre) / d->radius);
      for (int a = 0; a < 3; a++)
        p[a] += sign * d->amplitude * f * d->normal[a];
    }
    return AD3D_OK;
  }
  uint8_t *cand = malloc((size_t)(nv ? nv : 1)), *reached = malloc((size_t)(nv ? nv : 1));
  double *val = malloc((size_t)(nv ? nv : 1) * sizeof *val);   /* (nv) depth or hinge distance */
  double *vn = malloc((size_t)(nv ? nv : 1) * 3 * sizeof *vn); /* (nv, 3) vertex normals */
  if (!cand || !reached || !val || !vn) {
    st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory for %lld vertices", name, (long long)nv);
    goto cleanup;
  }
  int64_t seed;
  if (d->kind == CARVE_BENDING) {
    seed = 0;
    for (int64_t i = 0; i < nv; i++) {
      const double *p = w->v + 3 * i;
      double q[3] = {p[0] - d->centre[0], p[1] - d->centre[1], p[2] - d->centre[2]};
      val[i] = dot3(q, d->plane);
      cand[i] = val[i] > 0;
      if (val[i] > val[seed])
        seed = i;
    }
  } else {
    groove_ctx g;
    groove_init(&g, d);
    mesh_vertex_normals(w, vn);
    for (int64_t i = 0; i < nv; i++) {
      val[i] = groove_depth(&g, w->v + 3 * i, vn + 3 * i);
      cand[i] = val[i] > 0;
    }
    seed = nearest_vertex(w, d->centre, cand);
  }
  if ((st = flood(w, cand, seed, reached, &count)))
    goto cleanup;
  if (count == 0) {
    st = ad3d_fail(AD3D_EINVAL, "%s: the defect reaches no vertex of the surface", name);
    goto cleanup;
  }
  if (d->kind == CARVE_BENDING && count == nv) {
    st = ad3d_fail(AD3D_EINVAL, "%s: the part beyond the hinge plane is the whole surface", name);
    goto cleanup;
  }
  for (int64_t i = 0; i < nv; i++) {
    if (!reached[i])
      continue;
    double *p = w->v + 3 * i;
    if (d->kind == CARVE_BENDING) {
      double q[3] = {p[0] - d->centre[0], p[1] - d->centre[1], p[2] - d->centre[2]}, r[3];
      rotate3(d->axis, d->amplitude * smoothstep(val[i] / d->width), q, r);
      for (int a = 0; a < 3; a++)
        p[a] = d->centre[a] + r[a];
    } else {
      for (int a = 0; a < 3; a++)
        p[a] -= val[i] * vn[3 * i + a];
    }
  }
cleanup:
  free(cand);
  free(reached);
  free(val);
  free(vn);
  return st;
}

/* Cut w (hole, broken); the removed pieces go to `removed`. */
static ad3d_status cut(mesh_t *w, const carve_defect *d, mesh_t *removed) {
  const char *name = carve_kind_name(d->kind);
  int64_t nv = w->nv, count;
  ad3d_status st = AD3D_OK;
  double *phi = malloc((size_t)(nv ? nv : 1) * sizeof *phi);
  uint8_t *cand = malloc((size_t)(nv ? nv : 1)), *reached = malloc((size_t)(nv ? nv : 1));
  if (!phi || !cand || !reached) {
    st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory for %lld vertices", name, (long long)nv);
    goto cleanup;
  }
  int64_t nremoved = 0;
  if (d->kind == CARVE_HOLE) {
    for (int64_t i = 0; i < nv; i++) {
      phi[i] = dist3(w->v + 3 * i, d->centre) - d->radius;
      nremoved += phi[i] < 0;
    }
  } else {
    for (int64_t i = 0; i < nv; i++) {
      const double *p = w->v + 3 * i;
      double q[3] = {p[0] - d->centre[0], p[1] - d->centre[1], p[2] - d->centre[2]};
      double beyond = dot3(q, d->plane) + d->depth + rough_at(d, p), inside = d->radius - norm3(q);
      phi[i] = beyond < inside ? beyond : inside; /* > 0: in the piece that breaks off */
      cand[i] = phi[i] > 0;
    }
    int64_t seed = nearest_vertex(w, d->centre, NULL);
    if ((st = flood(w, cand, seed, reached, &count)))
      goto cleanup;
    if (count == 0) {
      st = ad3d_fail(AD3D_EINVAL, "%s: the fracture plane misses the surface near the centre", name);
      goto cleanup;
    }
    for (int64_t i = 0; i < nv; i++)
      phi[i] = reached[i] ? -phi[i] : fabs(phi[i]);
    nremoved = count;
  }
  if (nremoved == 0) {
    st = ad3d_fail(AD3D_EINVAL, "%s: no vertex lies in the region to remove (radius %g, resolution %g)", name,
                   d->radius, d->resolution);
    goto cleanup;
  }
  if ((st = clip_mesh(w, phi, removed)))
    goto cleanup;
  if (w->nf == 0)
    st = ad3d_fail(AD3D_EINVAL, "%s: the defect removes the whole surface", name);
cleanup:
  free(phi);
  free(cand);
  free(reached);
  return st;
}

ad3d_status carve_apply(const mesh_t *base, const carve_defect *d, int64_t max_faces, carved_t *out) {
  memset(out, 0, sizeof *out);
  TRY(check_defect(d));
  ad3d_status st;
  mesh_t *w = &out->mesh;
  if ((st = mesh_copy(w, base)) || (st = refine_for(w, d, max_faces)) || (st = mesh_copy(&out->original, w)))
    goto cleanup;
  int is_cut = d->kind == CARVE_HOLE || d->kind == CARVE_BROKEN;
  if ((st = is_cut ? cut(w, d, &out->removed) : displace(w, d)))
    goto cleanup;
  out->moved = calloc((size_t)(w->nf ? w->nf : 1), 1);
  if (!out->moved) {
    st = ad3d_fail(AD3D_ENOMEM, "out of memory carving a mesh of %lld faces", (long long)w->nf);
    goto cleanup;
  }
  if (!is_cut) { /* vertices correspond one to one with the original's */
    for (int64_t k = 0; k < w->nf; k++)
      for (int c = 0; c < 3; c++) {
        int32_t i = w->f[3 * k + c];
        double disp = dist3(w->v + 3 * i, out->original.v + 3 * i);
        if (disp > 0)
          out->moved[k] = 1;
        out->max_displacement = disp > out->max_displacement ? disp : out->max_displacement;
      }
  }
  out->threshold = d->threshold;
  out->rim = d->rim;
  out->area = mesh_area(w);
  out->area_original = mesh_area(&out->original);
  out->area_removed = mesh_area(&out->removed);
  if ((st = mesh_bvh_build(&out->original_bvh, &out->original)) ||
      (st = mesh_bvh_build(&out->removed_bvh, &out->removed)) || (st = mesh_sampler_init(&out->sampler, w)))
    goto cleanup;
  return AD3D_OK;
cleanup:
  carved_free(out);
  return ad3d_fail_context(st, "carving %s", carve_kind_name(d->kind));
}

void carved_free(carved_t *c) {
  if (!c)
    return;
  mesh_free(&c->mesh);
  mesh_free(&c->original);
  mesh_free(&c->removed);
  free(c->moved);
  mesh_bvh_free(&c->original_bvh);
  mesh_bvh_free(&c->removed_bvh);
  mesh_sampler_free(&c->sampler);
  memset(c, 0, sizeof *c);
}

int carved_label(const carved_t *c, const double p[3], int64_t face) {
  if (c->moved[face] && !mesh_bvh_within(&c->original_bvh, p, c->threshold))
    return 1;
  return c->removed.nf > 0 && c->rim > 0 && mesh_bvh_within(&c->removed_bvh, p, c->rim);
}

void carved_sample(const carved_t *c, int64_t n, rng_t *rng, double *xyz, double *normals, uint8_t *labels,
                   int64_t *nlabelled) {
  int64_t nl = 0;
  for (int64_t i = 0; i < n; i++) {
    int32_t face;
    mesh_sampler_draw(&c->sampler, 1, rng, xyz + 3 * i, normals ? normals + 3 * i : NULL, &face, NULL);
    labels[i] = (uint8_t)carved_label(c, xyz + 3 * i, face);
    nl += labels[i];
  }
  if (nlabelled)
    *nlabelled = nl;
}

double carved_coverage(const carved_t *c, int64_t n, int64_t nlabelled) {
  double frac = n > 0 ? (double)nlabelled / (double)n : 0.0;
  return (c->area_removed + c->area * frac) / c->area_original;
}

/* ---------------------------------------------------------------- random defects */

ad3d_status carve_base_init(carve_base *b, const mesh_t *m) {
  memset(b, 0, sizeof *b);
  ad3d_status st;
  if ((st = mesh_copy(&b->mesh, m)))
    return st;
  int64_t nv = m->nv;
  b->vnormal = malloc((size_t)(nv ? nv : 1) * 3 * sizeof *b->vnormal);
  b->varea = calloc((size_t)(nv ? nv : 1), sizeof *b->varea);
  if (!b->vnormal || !b->varea) {
    st = ad3d_fail(AD3D_ENOMEM, "out of memory for a mesh of %lld vertices", (long long)nv);
    goto cleanup;
  }
  mesh_vertex_normals(&b->mesh, b->vnormal);
  double n[3];
  for (int64_t k = 0; k < m->nf; k++) {
    double a = mesh_face_normal(&b->mesh, k, n) / 3.0;
    for (int c = 0; c < 3; c++)
      b->varea[m->f[3 * k + c]] += a;
  }
  double lo[3], hi[3];
  mesh_bbox(&b->mesh, lo, hi);
  b->diag = dist3(lo, hi);
  b->max_edge = mesh_max_edge(&b->mesh);
  if ((st = mesh_sampler_init(&b->sampler, &b->mesh)) || (st = mesh_bvh_build(&b->bvh, &b->mesh)))
    goto cleanup;
  b->area = b->sampler.area;
  return AD3D_OK;
cleanup:
  carve_base_free(b);
  return st;
}

void carve_base_free(carve_base *b) {
  if (!b)
    return;
  mesh_sampler_free(&b->sampler);
  mesh_bvh_free(&b->bvh);
  mesh_free(&b->mesh);
  free(b->vnormal);
  free(b->varea);
  memset(b, 0, sizeof *b);
}

static double uniform(rng_t *r, double lo, double hi) { return lo + (hi - lo) * rng_uniform(r); }

/* A unit vector orthogonal to unit n, at a random angle. */
static void random_tangent(const double *n, rng_t *r, double *t) {
  double e[3] = {0, 0, 0};
  int a = fabs(n[0]) < fabs(n[1]) ? (fabs(n[0]) < fabs(n[2]) ? 0 : 2) : (fabs(n[1]) < fabs(n[2]) ? 1 : 2);
  e[a] = 1;
  double u[3], v[3];
  cross3(n, e, u);
  normalize3(u);
  cross3(n, u, v);
  double th = 2.0 * M_PI * rng_uniform(r);
  for (int k = 0; k < 3; k++)
    t[k] = cos(th) * u[k] + sin(th) * v[k];
}

static void random_unit(rng_t *r, double *u) {
  do {
    for (int k = 0; k < 3; k++)
      u[k] = rng_normal(r);
  } while (!normalize3(u));
}

/* A random surface point with its interpolated (smooth) unit normal. */
static void random_surface_point(const carve_base *b, rng_t *r, double *p, double *n) {
  int32_t face;
  double w[3];
  mesh_sampler_draw(&b->sampler, 1, r, p, n, &face, w);
  double s[3] = {0, 0, 0};
  for (int c = 0; c < 3; c++)
    for (int a = 0; a < 3; a++)
      s[a] += w[c] * b->vnormal[3 * b->mesh.f[3 * face + c] + a];
  if (normalize3(s))
    memcpy(n, s, sizeof s);
}

/* Wall thickness below p: distance along -n to the next surface (INFINITY if none). */
static double thickness_below(const carve_base *b, const double *p, const double *n) {
  double eps = 1e-6 * b->diag, o[3], d[3];
  for (int a = 0; a < 3; a++) {
    o[a] = p[a] - eps * n[a];
    d[a] = -n[a];
  }
  return mesh_bvh_ray(&b->bvh, o, d, 0.0, INFINITY);
}

typedef struct {
  double key;
  int64_t i;
} keyed;

static int keyed_desc(const void *pa, const void *pb) {
  const keyed *a = pa, *b = pb;
  if (a->key != b->key)
    return a->key > b->key ? -1 : 1;
  return (a->i > b->i) - (a->i < b->i);
}

static ad3d_status draw_bending(const carve_base *b, double target, const carve_options *o, rng_t *r, carve_defect *d) {
  const mesh_t *m = &b->mesh;
  random_unit(r, d->plane);
  keyed *order = malloc((size_t)(m->nv ? m->nv : 1) * sizeof *order);
  if (!order)
    return ad3d_fail(AD3D_ENOMEM, "bending: out of memory for %lld vertices", (long long)m->nv);
  for (int64_t i = 0; i < m->nv; i++) {
    order[i].key = dot3(m->v + 3 * i, d->plane);
    order[i].i = i;
  }
  qsort(order, (size_t)m->nv, sizeof *order, keyed_desc);
  /* the hinge where the part beyond holds 1.5 x the target area (the bend itself is not anomalous) */
  double acc = 0, want = 1.5 * target, offset = order[m->nv - 1].key, cen[3] = {0, 0, 0};
  int64_t k = 0;
  for (; k < m->nv; k++) {
    const double *p = m->v + 3 * order[k].i;
    double a = b->varea[order[k].i];
    for (int c = 0; c < 3; c++)
      cen[c] += a * p[c];
    acc += a;
    if (acc >= want) {
      offset = order[k].key;
      break;
    }
  }
  double top = order[0].key;
  free(order);
  if (!(acc > 0) || !(top - offset > 0))
    return ad3d_fail(AD3D_EINVAL, "bending: no part of the surface to bend (coverage %g)", target / b->area);
  for (int c = 0; c < 3; c++)
    cen[c] /= acc;
  double off = dot3(cen, d->plane) - offset;
  for (int c = 0; c < 3; c++)
    d->centre[c] = cen[c] - off * d->plane[c]; /* the part's centroid, on the hinge plane */
  memcpy(d->normal, d->plane, sizeof d->normal);
  random_tangent(d->plane, r, d->axis);
  double extent = top - offset;
  d->width = uniform(r, 0.25, 0.5) * extent;
  d->amplitude = (rng_uniform(r) < 0.5 ? -1 : 1) * uniform(r, 10.0, 25.0) * M_PI / 180.0;
  /* the largest displacement: 2 sin(angle / 2) times the farthest distance from the axis */
  double far = 0;
  for (int64_t i = 0; i < m->nv; i++) {
    const double *p = m->v + 3 * i;
    double q[3] = {p[0] - d->centre[0], p[1] - d->centre[1], p[2] - d->centre[2]}, x[3];
    if (dot3(q, d->plane) <= 0)
      continue;
    cross3(q, d->axis, x);
    far = fmax(far, norm3(x));
  }
  d->threshold = o->label_rel * 2.0 * sin(fabs(d->amplitude) / 2.0) * far;
  d->resolution = d->width / 8.0;
  return AD3D_OK;
}

/* A path of `segments` segments and total length L through the origin (at its middle), heading
 * along +x at the middle, turning by `curl` per unit length plus Gaussian kinks of sd `kink`. */
static void draw_path(carve_defect *d, int segments, double L, double curl, double kink, rng_t *r) {
  double step = L / segments, heading[CARVE_MAX_PATH];
  int mid = segments / 2;
  heading[mid] = 0;
  for (int i = mid + 1; i < segments; i++)
    heading[i] = heading[i - 1] + curl * step + kink * rng_normal(r);
  for (int i = mid - 1; i >= 0; i--)
    heading[i] = heading[i + 1] - curl * step - kink * rng_normal(r);
  d->npath = segments + 1;
  d->path[mid][0] = d->path[mid][1] = 0;
  for (int i = mid; i < segments; i++) {
    d->path[i + 1][0] = d->path[i][0] + step * cos(heading[i]);
    d->path[i + 1][1] = d->path[i][1] + step * sin(heading[i]);
  }
  for (int i = mid - 1; i >= 0; i--) {
    d->path[i][0] = d->path[i + 1][0] - step * cos(heading[i]);
    d->path[i][1] = d->path[i + 1][1] - step * sin(heading[i]);
  }
}

static void draw_groove(const carve_base *b, double target, const carve_options *o, rng_t *r, carve_defect *d) {
  int crack = d->kind == CARVE_CRACK;
  random_tangent(d->normal, r, d->tangent);
  double w = (crack ? uniform(r, 0.008, 0.014) : uniform(r, 0.012, 0.024)) * b->diag;
  double depth_ratio = crack ? uniform(r, 1.5, 3.0) : uniform(r, 0.15, 0.3);
  /* rule of thumb for the anomalous area: 0.75 L (1.4 w + 1.2 depth) (tapers, walls) */
  double lmax = (crack ? 1.0 : 1.2) * b->diag, wmax = (crack ? 0.05 : 0.06) * b->diag;
  double L = target / (0.75 * (1.4 * w + 1.2 * depth_ratio * w));
  if (L > lmax) {
    w = fmin(wmax, w * L / lmax);
    L = lmax;
  }
  double thick = thickness_below(b, d->centre, d->normal);
  d->width = w;
  d->amplitude = fmin(depth_ratio * w, 0.45 * thick);
  double curl = uniform(r, -1.0, 1.0) / L;
  draw_path(d, 32, L, crack ? curl : 0.5 * curl, crack ? 0.25 : 0.03, r);
  d->threshold = o->label_rel * d->amplitude;
  d->resolution = w / 3.0;
}

ad3d_status carve_draw(const carve_base *b, carve_kind kind, double coverage, const carve_options *o, rng_t *rng,
                       carve_defect *d) {
  if (!(coverage > 0 && coverage < 1))
    return ad3d_fail(AD3D_EINVAL, "%s: coverage %g is not in (0, 1)", carve_kind_name(kind), coverage);
  if (!(o->label_rel > 0 && o->label_rel < 1) || !(o->rim >= 0))
    return ad3d_fail(AD3D_EINVAL, "%s: label_rel %g must be in (0, 1) and rim %g >= 0", carve_kind_name(kind),
                     o->label_rel, o->rim);
  memset(d, 0, sizeof *d);
  d->kind = kind;
  double target = coverage * b->area;
  random_surface_point(b, rng, d->centre, d->normal);
  switch (kind) {
  case CARVE_BULGE:
  case CARVE_CONCAVITY: {
    /* labelled where A f(s) > label_rel A: s < sqrt(1 - sqrt(label_rel)) */
    double r_lab = sqrt(target / M_PI);
    d->radius = fmin(r_lab / sqrt(1.0 - sqrt(o->label_rel)), 0.6 * b->diag);
    d->amplitude = uniform(rng, 0.12, 0.3) * d->radius;
    d->threshold = o->label_rel * d->amplitude;
    d->resolution = d->radius / 12.0;
    return AD3D_OK;
  }
  case CARVE_HOLE:
    /* removed disk plus labelled ring: pi R^2 + 2 pi R rim = target */
    d->rim = o->rim;
    d->radius = fmin(sqrt(o->rim * o->rim + target / M_PI) - o->rim, 0.6 * b->diag);
    d->resolution = d->radius / 16.0;
    return AD3D_OK;
  case CARVE_BROKEN: {
    /* pieces break off extremities: the vertex farthest along a random direction */
    double dir[3], t[3], best = -INFINITY;
    random_unit(rng, dir);
    for (int64_t i = 0; i < b->mesh.nv; i++) {
      double x = dot3(b->mesh.v + 3 * i, dir);
      if (x > best) {
        best = x;
        memcpy(d->centre, b->mesh.v + 3 * i, sizeof d->centre);
      }
    }
    double foot = sqrt(target / M_PI), tilt = uniform(rng, 0.0, 30.0) * M_PI / 180.0;
    random_tangent(dir, rng, t);
    for (int a = 0; a < 3; a++)
      d->plane[a] = cos(tilt) * dir[a] + sin(tilt) * t[a];
    normalize3(d->plane);
    memcpy(d->normal, d->plane, sizeof d->normal);
    /* a cap of footprint radius `foot` on a sphere of radius 0.3 diag is foot^2 / (0.6 diag) deep */
    d->depth = fmin(foot, foot * foot / (0.6 * b->diag));
    d->rough_amp = uniform(rng, 0.05, 0.15) * d->depth;
    for (int i = 0; i < 3; i++) {
      random_unit(rng, d->rough[i]);
      double k = 2.0 * M_PI / (uniform(rng, 0.5, 1.5) * foot);
      for (int a = 0; a < 3; a++)
        d->rough[i][a] *= k;
      d->rough[i][3] = 2.0 * M_PI * rng_uniform(rng);
    }
    d->radius = 2.0 * foot + d->depth;
    d->rim = o->rim;
    d->resolution = fmin(d->depth, foot) / 6.0;
    return AD3D_OK;
  }
  case CARVE_BENDING:
    return draw_bending(b, target, o, rng, d);
  case CARVE_CRACK:
  case CARVE_SCRATCH:
    draw_groove(b, target, o, rng, d);
    return AD3D_OK;
  }
  return ad3d_fail(AD3D_EINVAL, "unknown defect kind %d", (int)kind);
}
