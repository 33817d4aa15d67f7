/* procedural.c - the 40 procedural shape families and their building blocks (see procedural.h).
 *
 * Building blocks, all closed surfaces made of rings of vertices between two poles:
 *   revolve        a profile polyline (r, z) from the axis to the axis, turned about z;
 *   shell_profile  an open vessel's wall: outer curve, rounded rim, inner curve offset by the
 *                  thickness along the curve's normal, back to the axis;
 *   tube           a circle swept along a 3D path (rotation-minimising frames), flat end caps;
 *   superellipsoid boxes with rounded edges, discs, pillows;
 *   box            six flat faces.
 * A family sets a few parameters from u (each u_i in [0, 1] mapped to a range), builds its parts in
 * its own units and appends them; proc_build drops degenerate faces, orients and normalises.
 */
#include "synth/procedural.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SEGS 96      /* vertices around a revolved ring */
#define TUBE_SEGS 24 /* vertices around a tube */

/* u_i mapped to [lo, hi]. */
static double L(const double *u, int i, double lo, double hi) { return lo + (hi - lo) * u[i]; }

/* ---------------------------------------------------------------- ring meshes */

typedef void (*ring_fn)(const void *ctx, int j, int k, double out[3]);

/* nrings rings of `segs` vertices from fn(ctx, ring, k) between pole0 and pole1, as one closed
 * surface appended to m. Orientation is fixed later (mesh_orient). */
static ad3d_status rings_mesh(mesh_t *m, int nrings, int segs, ring_fn fn, const void *ctx, const double *pole0,
                              const double *pole1) {
  int64_t base = m->nv;
  TRY(mesh_reserve(m, m->nv + (int64_t)nrings * segs + 2, m->nf + 2 * (int64_t)nrings * segs));
  TRY(mesh_push_vertex(m, pole0[0], pole0[1], pole0[2]));
  for (int j = 0; j < nrings; j++)
    for (int k = 0; k < segs; k++) {
      double p[3];
      fn(ctx, j, k, p);
      TRY(mesh_push_vertex(m, p[0], p[1], p[2]));
    }
  TRY(mesh_push_vertex(m, pole1[0], pole1[1], pole1[2]));
  int64_t top = m->nv - 1;
#define V(j, k) (base + 1 + (int64_t)(j) * segs + ((k) % segs))
  for (int k = 0; k < segs; k++)
    TRY(mesh_push_face(m, base, V(0, k + 1), V(0, k)));
  for (int j = 0; j + 1 < nrings; j++)
    for (int k = 0; k < segs; k++) {
      TRY(mesh_push_face(m, V(j, k), V(j, k + 1), V(j + 1, k + 1)));
      TRY(mesh_push_face(m, V(j, k), V(j + 1, k + 1), V(j + 1, k)));
    }
  for (int k = 0; k < segs; k++)
    TRY(mesh_push_face(m, top, V(nrings - 1, k), V(nrings - 1, k + 1)));
#undef V
  return AD3D_OK;
}

/* A profile: a polyline in the (r, z) half plane. */
typedef struct {
  double (*p)[2];
  int n, cap;
} prof;

static ad3d_status prof_add(prof *pr, double r, double z) {
  if (pr->n == pr->cap) {
    int cap = pr->cap ? 2 * pr->cap : 64;
    double(*np)[2] = realloc(pr->p, (size_t)cap * sizeof *np);
    if (!np)
      return ad3d_fail(AD3D_ENOMEM, "out of memory for a profile");
    pr->p = np;
    pr->cap = cap;
  }
  pr->p[pr->n][0] = r < 0 ? 0 : r;
  pr->p[pr->n][1] = z;
  pr->n++;
  return AD3D_OK;
}

static void prof_free(prof *pr) {
  free(pr->p);
  memset(pr, 0, sizeof *pr);
}

/* Points of a straight segment, excluding its start, including its end. */
static ad3d_status prof_line(prof *pr, double r1, double z1, int n) {
  double r0 = pr->p[pr->n - 1][0], z0 = pr->p[pr->n - 1][1];
  for (int i = 1; i <= n; i++)
    TRY(prof_add(pr, r0 + (r1 - r0) * i / n, z0 + (z1 - z0) * i / n));
  return AD3D_OK;
}

/* Catmull-Rom radius over k knots equally spaced on z in [z0, z1]. */
static double knots_eval(const double *r, int k, double z0, double z1, double z) {
  double x = (z - z0) / (z1 - z0) * (k - 1);
  int j = (int)floor(x);
  j = j < 0 ? 0 : j > k - 2 ? k - 2 : j;
  double t = x - j;
  double p0 = r[j > 0 ? j - 1 : 0], p1 = r[j], p2 = r[j + 1], p3 = r[j + 2 < k ? j + 2 : k - 1];
  return 0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t * t + (-p0 + 3 * p1 - 3 * p2 + p3) * t * t * t);
}

/* The wall r(z) from knots over [z0, z1], n points after the current one (which should be at z0). */
static ad3d_status prof_knots(prof *pr, const double *r, int k, double z0, double z1, int n) {
  for (int i = 1; i <= n; i++) {
    double z = z0 + (z1 - z0) * i / n;
    TRY(prof_add(pr, knots_eval(r, k, z0, z1, z), z));
  }
  return AD3D_OK;
}

/* An elliptic arc (r, z) = (cr + ar cos a, cz + az sin a), a from a0 to a1, n points after the start. */
static ad3d_status prof_arc(prof *pr, double cr, double cz, double ar, double az, double a0, double a1, int n) {
  for (int i = 1; i <= n; i++) {
    double a = a0 + (a1 - a0) * i / n;
    TRY(prof_add(pr, cr + ar * cos(a), cz + az * sin(a)));
  }
  return AD3D_OK;
}

typedef struct {
  const prof *pr;
  int segs;
} revolve_ctx;

static void revolve_ring(const void *ctx, int j, int k, double out[3]) {
  const revolve_ctx *c = ctx;
  double a = 2.0 * M_PI * k / c->segs, r = c->pr->p[j + 1][0];
  out[0] = r * cos(a);
  out[1] = r * sin(a);
  out[2] = c->pr->p[j + 1][1];
}

/* Revolve a profile whose first and last points are on the axis (r = 0). */
static ad3d_status revolve(mesh_t *m, const prof *pr) {
  ASSERT(pr->n >= 3);
  revolve_ctx c = {pr, SEGS};
  double p0[3] = {0, 0, pr->p[0][1]}, p1[3] = {0, 0, pr->p[pr->n - 1][1]};
  return rings_mesh(m, pr->n - 2, SEGS, revolve_ring, &c, p0, p1);
}

/* The closed profile of a wall of thickness t around `outer` (axis to rim): outer, a half-round
 * rim, the inner curve (outer moved by t against side * the curve's (dz, -dr) normal) back to
 * the axis. side = +1 when outer runs up from a bottom (a vessel), -1 when it runs down from a top
 * (a dome). */
static ad3d_status shell_profile(const prof *outer, double t, double side, prof *out) {
  int n = outer->n;
  double(*in)[2] = malloc((size_t)n * sizeof *in);
  if (!in)
    return ad3d_fail(AD3D_ENOMEM, "out of memory for a profile");
  double tl[2] = {0, 0};
  for (int i = 0; i < n; i++) {
    const double *a = outer->p[i > 0 ? i - 1 : 0], *b = outer->p[i < n - 1 ? i + 1 : n - 1];
    double d[2] = {b[0] - a[0], b[1] - a[1]}, l = hypot(d[0], d[1]);
    d[0] /= l;
    d[1] /= l;
    if (i == n - 1) {
      tl[0] = d[0];
      tl[1] = d[1];
    }
    in[i][0] = outer->p[i][0] - side * t * d[1];
    in[i][1] = outer->p[i][1] + side * t * d[0];
  }
  in[0][0] = 0; /* stay on the axis */
  ad3d_status st = AD3D_OK;
  for (int i = 0; i < n && !st; i++)
    st = prof_add(out, outer->p[i][0], outer->p[i][1]);
  /* rim: a half circle from the outer end to the inner end, bulging along the end tangent */
  double mr = 0.5 * (outer->p[n - 1][0] + in[n - 1][0]), mz = 0.5 * (outer->p[n - 1][1] + in[n - 1][1]);
  double nr = outer->p[n - 1][0] - mr, nz = outer->p[n - 1][1] - mz;
  for (int i = 1; i < 12 && !st; i++) {
    double a = M_PI * i / 12;
    st = prof_add(out, mr + nr * cos(a) + 0.5 * t * tl[0] * sin(a), mz + nz * cos(a) + 0.5 * t * tl[1] * sin(a));
  }
  for (int i = n - 1; i >= 0 && !st; i--)
    st = prof_add(out, in[i][0], in[i][1]);
  free(in);
  return st;
}

/* Revolve `outer` as a wall of thickness t (side as for shell_profile), or as given when t == 0. */
static ad3d_status revolve_wall(mesh_t *m, const prof *outer, double t, double side) {
  if (t <= 0)
    return revolve(m, outer);
  prof full = {0};
  ad3d_status st = shell_profile(outer, t, side, &full);
  if (!st)
    st = revolve(m, &full);
  prof_free(&full);
  return st;
}

/* A vessel: flat bottom of radius knots[0], wall r(z) from k knots over [0, h]; open with wall
 * thickness t, or (t == 0) a solid closed by a flat top. */
static ad3d_status vessel(mesh_t *m, const double *knots, int k, double h, double t) {
  prof pr = {0};
  ad3d_status st;
  if ((st = prof_add(&pr, 0, 0)) || (st = prof_line(&pr, knots[0], 0, 12)) || (st = prof_knots(&pr, knots, k, 0, h, 90)))
    goto cleanup;
  if (t <= 0)
    st = prof_line(&pr, 0, h, 12);
  if (!st)
    st = revolve_wall(m, &pr, t, 1.0);
cleanup:
  prof_free(&pr);
  return st;
}

/* A dome: the upper half of an ellipse of radii (rx, rz) from the top down to polar angle amax
 * (pi / 2 reaches the equator), as a wall of thickness t; base at z = 0 for amax = pi / 2. */
static ad3d_status dome(mesh_t *m, double rx, double rz, double amax, double t) {
  prof pr = {0};
  ad3d_status st;
  if ((st = prof_add(&pr, 0, rz)) || (st = prof_arc(&pr, 0, 0, rx, rz, M_PI / 2, M_PI / 2 - amax, 60)))
    goto cleanup;
  st = revolve_wall(m, &pr, t, -1.0);
cleanup:
  prof_free(&pr);
  return st;
}

typedef struct {
  const double (*path)[3];
  const double *radius; /* (n) */
  double (*frame)[6];   /* (n) normal and binormal */
} tube_ctx;

static void tube_ring(const void *ctx, int j, int k, double out[3]) {
  const tube_ctx *c = ctx;
  double a = 2.0 * M_PI * k / TUBE_SEGS, r = c->radius[j];
  for (int d = 0; d < 3; d++)
    out[d] = c->path[j][d] + r * (cos(a) * c->frame[j][d] + sin(a) * c->frame[j][3 + d]);
}

static void unit3(double *v) {
  double l = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  if (l > 0)
    for (int d = 0; d < 3; d++)
      v[d] /= l;
}

/* A tube of radius radius[i] around path (n, 3), closed by flat caps. */
static ad3d_status tube(mesh_t *m, const double (*path)[3], const double *radius, int n) {
  double(*frame)[6] = malloc((size_t)n * sizeof *frame);
  if (!frame)
    return ad3d_fail(AD3D_ENOMEM, "out of memory for a tube");
  double nrm[3] = {0, 0, 0};
  for (int i = 0; i < n; i++) {
    const double *a = path[i > 0 ? i - 1 : 0], *b = path[i < n - 1 ? i + 1 : n - 1];
    double t[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
    unit3(t);
    if (i == 0) { /* any normal to start with */
      double e[3] = {0, 0, 0};
      e[fabs(t[0]) < 0.6 ? 0 : fabs(t[1]) < 0.6 ? 1 : 2] = 1;
      memcpy(nrm, e, sizeof e);
    }
    double dt = nrm[0] * t[0] + nrm[1] * t[1] + nrm[2] * t[2]; /* transport: project the last normal */
    for (int d = 0; d < 3; d++)
      nrm[d] -= dt * t[d];
    unit3(nrm);
    double bn[3] = {t[1] * nrm[2] - t[2] * nrm[1], t[2] * nrm[0] - t[0] * nrm[2], t[0] * nrm[1] - t[1] * nrm[0]};
    memcpy(frame[i], nrm, sizeof nrm);
    memcpy(frame[i] + 3, bn, sizeof bn);
  }
  tube_ctx c = {path, radius, frame};
  ad3d_status st = rings_mesh(m, n, TUBE_SEGS, tube_ring, &c, path[0], path[n - 1]);
  free(frame);
  return st;
}

/* A tube of constant radius along a circular arc in the plane spanned by unit vectors e1, e2 around
 * centre c: points c + R (cos a e1 + sin a e2), a from a0 to a1. */
static ad3d_status arc_tube(mesh_t *m, const double *c, const double *e1, const double *e2, double R, double a0,
                            double a1, double radius) {
  enum { N = 48 };
  double path[N][3], rad[N];
  for (int i = 0; i < N; i++) {
    double a = a0 + (a1 - a0) * i / (N - 1);
    for (int d = 0; d < 3; d++)
      path[i][d] = c[d] + R * (cos(a) * e1[d] + sin(a) * e2[d]);
    rad[i] = radius;
  }
  return tube(m, (const double(*)[3])path, rad, N);
}

typedef struct {
  double a[3], e1, e2;
  int nv;
} superq_ctx;

static double spow(double x, double e) { return x < 0 ? -pow(-x, e) : pow(x, e); }

static void superq_ring(const void *ctx, int j, int k, double out[3]) {
  const superq_ctx *c = ctx;
  double v = -M_PI / 2 + M_PI * (j + 1) / (c->nv + 1), w = -M_PI + 2 * M_PI * k / SEGS;
  double cv = spow(cos(v), c->e1);
  out[0] = c->a[0] * cv * spow(cos(w), c->e2);
  out[1] = c->a[1] * cv * spow(sin(w), c->e2);
  out[2] = c->a[2] * spow(sin(v), c->e1);
}

/* The superellipsoid |x/a|^(2/e2) + |y/b|^(2/e2) ... with half sizes (a, b, c), exponents e1
 * (vertical) and e2 (around), centred at the origin. e = 1 is an ellipsoid, small e a box. */
static ad3d_status superellipsoid(mesh_t *m, double a, double b, double c, double e1, double e2) {
  superq_ctx q = {{a, b, c}, e1, e2, 47};
  double p0[3] = {0, 0, -c}, p1[3] = {0, 0, c};
  return rings_mesh(m, q.nv, SEGS, superq_ring, &q, p0, p1);
}

/* The box [lo, hi], six faces of two triangles. */
static ad3d_status box(mesh_t *m, const double *lo, const double *hi) {
  int64_t base = m->nv;
  for (int i = 0; i < 8; i++)
    TRY(mesh_push_vertex(m, i & 1 ? hi[0] : lo[0], i & 2 ? hi[1] : lo[1], i & 4 ? hi[2] : lo[2]));
  static const int q[6][4] = {{0, 2, 3, 1}, {4, 5, 7, 6}, {0, 1, 5, 4}, {2, 6, 7, 3}, {0, 4, 6, 2}, {1, 3, 7, 5}};
  for (int k = 0; k < 6; k++) {
    TRY(mesh_push_face(m, base + q[k][0], base + q[k][1], base + q[k][2]));
    TRY(mesh_push_face(m, base + q[k][0], base + q[k][2], base + q[k][3]));
  }
  return AD3D_OK;
}

/* Append `part`, rotated about z by rz then about y by ry (radians), then moved by t; frees part. */
static ad3d_status place(mesh_t *m, mesh_t *part, double rz, double ry, double tx, double ty, double tz) {
  double cz = cos(rz), sz = sin(rz), cy = cos(ry), sy = sin(ry);
  /* A = Ry Rz */
  const double A[9] = {cy * cz, -cy * sz, sy, sz, cz, 0, -sy * cz, sy * sz, cy};
  const double t[3] = {tx, ty, tz};
  mesh_transform(part, A, t);
  ad3d_status st = mesh_append(m, part);
  mesh_free(part);
  return st;
}

/* Radial ribs (and a twist): r *= 1 + amp cos(k phi + twist z) for the vertices of part. */
static void warp_ribs(mesh_t *part, double amp, int k, double twist) {
  for (int64_t i = 0; i < part->nv; i++) {
    double *p = part->v + 3 * i, phi = atan2(p[1], p[0]);
    double s = 1.0 + amp * cos(k * phi + twist * p[2]);
    p[0] *= s;
    p[1] *= s;
  }
}

/* A scalloped rim: z += amp (1 + cos k phi) / 2 scaled by S((z - z0) / (z1 - z0)). */
static void warp_scallop(mesh_t *part, double amp, int k, double z0, double z1) {
  for (int64_t i = 0; i < part->nv; i++) {
    double *p = part->v + 3 * i, x = (p[2] - z0) / (z1 - z0);
    x = x < 0 ? 0 : x > 1 ? 1 : x;
    p[2] += amp * 0.5 * (1 + cos(k * atan2(p[1], p[0]))) * x * x * (3 - 2 * x);
  }
}

/* ---------------------------------------------------------------- the families */

/* ashtray0: a low, thick-walled round dish with a slightly flared wall and a wide rounded rim. */
static ad3d_status build_ashtray0(const double *u, mesh_t *m) {
  double h = L(u, 0, 0.22, 0.4), flare = L(u, 1, 0.0, 0.15), t = L(u, 2, 0.12, 0.22);
  const double k[] = {1.0, 1.0 + 0.4 * flare, 1.0 + flare};
  TRY(vessel(m, k, 3, h, t));
  /* three cigarette rests: small crosswise bars on the rim */
  for (int i = 0; i < 3; i++) {
    mesh_t bar = {0};
    double lo[3] = {-0.5 * t, -0.05, -0.03}, hi[3] = {0.5 * t, 0.05, 0.03};
    TRY(box(&bar, lo, hi));
    double a = 2 * M_PI * i / 3, r = 1.0 + flare - 0.5 * t;
    TRY(place(m, &bar, a, 0, r * cos(a), r * sin(a), h + 0.5 * t + 0.02));
  }
  return AD3D_OK;
}

/* bag0: a tote bag, a boxy pillow of a body with a round handle over the top. */
static ad3d_status build_bag0(const double *u, mesh_t *m) {
  double w = 1.0, d = L(u, 0, 0.25, 0.45), h = L(u, 1, 0.7, 1.0), e = L(u, 2, 0.25, 0.5);
  double hr = L(u, 3, 0.3, 0.5), th = L(u, 4, 0.03, 0.05);
  mesh_t body = {0};
  TRY(superellipsoid(&body, w, d, h, e, e));
  TRY(place(m, &body, 0, 0, 0, 0, 0));
  double c[3] = {0, 0, h * 0.85}, e1[3] = {1, 0, 0}, e2[3] = {0, 0, 1};
  TRY(arc_tube(m, c, e1, e2, hr * 1.4, 0.0, M_PI, th));
  return AD3D_OK;
}

/* bottle0: a wine bottle: cylindrical body, rounded shoulder, long neck, a lip at the top. */
static ad3d_status build_bottle0(const double *u, mesh_t *m) {
  double h = L(u, 0, 3.6, 4.4), nr = L(u, 1, 0.26, 0.34), taper = L(u, 2, 0.0, 0.06);
  const double k[] = {1.0, 1.0 - taper * 0.5, 1.0 - taper, 1.0 - taper, 0.96 - taper, 0.6, nr, nr, nr, nr * 1.12, nr};
  return vessel(m, k, 11, h, 0.0);
}

/* bottle1: a small, wide medicine bottle: round body, short neck, a wider screw cap. */
static ad3d_status build_bottle1(const double *u, mesh_t *m) {
  double h = L(u, 0, 1.4, 2.0), nr = L(u, 1, 0.45, 0.6), cap = L(u, 2, 1.1, 1.25);
  const double k[] = {0.95, 1.0, 1.0, 1.0, 0.9, nr, nr * cap, nr * cap, nr * cap};
  return vessel(m, k, 9, h, 0.0);
}

/* bottle3: a flask with a barrel body and a long, slightly conical neck. */
static ad3d_status build_bottle3(const double *u, mesh_t *m) {
  double belly = L(u, 0, 1.0, 1.2), nr = L(u, 1, 0.22, 0.3), h = L(u, 2, 3.0, 3.8);
  const double k[] = {0.8, belly, belly, 0.85, 0.45, nr * 1.2, nr, nr, nr * 1.15};
  return vessel(m, k, 9, h, 0.0);
}

/* A thin bowl: an elliptic wall from the bottom (flat disk of radius fb) up to polar angle amax,
 * optional foot ring. */
static ad3d_status bowl(mesh_t *m, double rx, double rz, double amax, double fb, double t, double foot) {
  prof pr = {0};
  ad3d_status st;
  if ((st = prof_add(&pr, 0, 0)) || (fb > 0 && (st = prof_line(&pr, fb, 0, 8))) ||
      (st = prof_arc(&pr, fb, rz, rx, rz, -M_PI / 2, -M_PI / 2 + amax, 60)) || (st = revolve_wall(m, &pr, t, 1.0)))
    goto cleanup;
  if (foot > 0) { /* a ring under the bowl */
    prof ring = {0};
    double fr = fb + 0.35 * rx;
    if (!(st = prof_add(&ring, 0, -foot)) && !(st = prof_line(&ring, fr, -foot, 8)) &&
        !(st = prof_line(&ring, fr, 0.02 * rz, 6)))
      st = revolve_wall(m, &ring, 0.5 * t, 1.0);
    prof_free(&ring);
  }
cleanup:
  prof_free(&pr);
  return st;
}

/* bowl0: a hemispherical bowl. */
static ad3d_status build_bowl0(const double *u, mesh_t *m) {
  return bowl(m, 1.0, L(u, 0, 0.85, 1.0), L(u, 1, 1.35, 1.55), 0.0, L(u, 2, 0.03, 0.05), 0.0);
}

/* bowl1: a shallow, wide bowl on a foot ring. */
static ad3d_status build_bowl1(const double *u, mesh_t *m) {
  return bowl(m, 1.0, L(u, 0, 0.4, 0.55), L(u, 1, 1.2, 1.45), 0.15, L(u, 2, 0.025, 0.04), L(u, 3, 0.06, 0.1));
}

/* bowl2: a conical bowl with straight flared walls and a flat base. */
static ad3d_status build_bowl2(const double *u, mesh_t *m) {
  double rb = L(u, 0, 0.3, 0.45), h = L(u, 1, 0.45, 0.65);
  const double k[] = {rb, 0.5 * (rb + 1.0), 1.0};
  return vessel(m, k, 3, h, L(u, 2, 0.025, 0.04));
}

/* bowl3: a deep bowl whose rim curls outwards into a lip. */
static ad3d_status build_bowl3(const double *u, mesh_t *m) {
  double rb = L(u, 0, 0.35, 0.5), h = L(u, 1, 0.7, 0.9), lip = L(u, 2, 0.05, 0.1);
  const double k[] = {rb, 0.8, 0.95, 1.0, 1.0 + lip};
  return vessel(m, k, 5, h, L(u, 3, 0.03, 0.045));
}

/* bowl4: a bowl with a scalloped (wavy) rim. */
static ad3d_status build_bowl4(const double *u, mesh_t *m) {
  mesh_t part = {0};
  double rz = L(u, 0, 0.55, 0.75);
  TRY(bowl(&part, 1.0, rz, 1.5, 0.2, L(u, 1, 0.03, 0.045), 0.0));
  int k = 6 + (int)floor(4.999 * u[2]);
  warp_scallop(&part, L(u, 3, 0.06, 0.12), k, 0.5 * rz, rz * 1.05);
  return place(m, &part, 0, 0, 0, 0, 0);
}

/* bowl5: a soup plate: a shallow well and a wide, nearly flat rim. */
static ad3d_status build_bowl5(const double *u, mesh_t *m) {
  double well = L(u, 0, 0.45, 0.6), rh = L(u, 1, 0.18, 0.28);
  prof pr = {0};
  ad3d_status st;
  if ((st = prof_add(&pr, 0, 0)) || (st = prof_line(&pr, well, 0, 10)) ||
      (st = prof_line(&pr, well * 1.25, rh * 0.8, 10)) || (st = prof_line(&pr, 1.0, rh, 20)))
    goto cleanup;
  st = revolve_wall(m, &pr, L(u, 2, 0.025, 0.04), 1.0);
cleanup:
  prof_free(&pr);
  return st;
}

/* bucket0: a tapered pail with two reinforcing beads and a rolled rim. */
static ad3d_status build_bucket0(const double *u, mesh_t *m) {
  double rb = L(u, 0, 0.7, 0.85), h = L(u, 1, 1.1, 1.4), bead = L(u, 2, 0.02, 0.04);
  const double k[] = {rb, rb + 0.05, rb + 0.1 + bead, rb + 0.12, rb + 0.17, rb + 0.2 + bead, 1.0, 1.0 + 2 * bead};
  return vessel(m, k, 8, h, 0.03);
}

/* bucket1: a straight-walled bucket with a wire bail handle on two lugs. */
static ad3d_status build_bucket1(const double *u, mesh_t *m) {
  double h = L(u, 0, 1.0, 1.3), rb = L(u, 1, 0.85, 0.95), up = L(u, 2, 0.5, 0.9);
  const double k[] = {rb, 0.5 * (rb + 1.0), 1.0};
  TRY(vessel(m, k, 3, h, 0.03));
  double c[3] = {0, 0, h * 0.9}, e1[3] = {1, 0, 0}, e2[3] = {0, 0, up};
  TRY(arc_tube(m, c, e1, e2, 1.04, 0.0, M_PI, 0.025));
  for (int s = -1; s <= 1; s += 2) {
    mesh_t lug = {0};
    TRY(superellipsoid(&lug, 0.03, 0.08, 0.08, 0.6, 0.6));
    TRY(place(m, &lug, 0, 0, s * 1.01, 0, h * 0.9));
  }
  return AD3D_OK;
}

typedef struct {
  double r0, len, half_angle, thick, bend;
  int nrings;
} brim_ctx;

/* A brim ring: the cross-section at angle phi, a rounded rectangle from r0 out to r0 + w(phi),
 * w shrinking to 0 at both ends; bent down with the distance from r0. */
static void brim_ring(const void *ctx, int j, int k, double out[3]) {
  const brim_ctx *b = ctx;
  double s = (j + 1.0) / (b->nrings + 1.0), phi = b->half_angle * (2 * s - 1), w = b->len * sqrt(sin(M_PI * s));
  double th = 2 * M_PI * k / SEGS, r = b->r0 + 0.5 * w + 0.5 * w * spow(cos(th), 0.3);
  out[0] = r * cos(phi);
  out[1] = r * sin(phi);
  out[2] = b->thick * spow(sin(th), 0.3) - b->bend * (r - b->r0) * (r - b->r0);
}

/* A brim (visor) in front (+x) of a crown of radius r0 at z = 0. */
static ad3d_status brim(mesh_t *m, double r0, double len, double half_angle, double thick, double bend) {
  brim_ctx b = {r0, len, half_angle, thick, bend, 60};
  double p0[3] = {r0 * cos(-half_angle), r0 * sin(-half_angle), 0}, p1[3] = {r0 * cos(half_angle), r0 * sin(half_angle), 0};
  return rings_mesh(m, b.nrings, SEGS, brim_ring, &b, p0, p1);
}

/* A baseball cap: a crown dome, a curved brim in front (+x), an optional button on top. */
static ad3d_status cap(mesh_t *m, double crown_h, double brim_len, double brim_curve, double button) {
  TRY(dome(m, 1.0, crown_h, M_PI / 2, 0.04));
  TRY(brim(m, 0.98, brim_len, 1.15, 0.02, brim_curve));
  if (button > 0) {
    mesh_t b = {0};
    TRY(superellipsoid(&b, button, button, 0.5 * button, 1.0, 1.0));
    TRY(place(m, &b, 0, 0, 0, 0, crown_h + 0.01));
  }
  return AD3D_OK;
}

/* cap0: a classic baseball cap with a button. */
static ad3d_status build_cap0(const double *u, mesh_t *m) {
  return cap(m, L(u, 0, 0.75, 0.9), L(u, 1, 0.8, 1.0), L(u, 2, 0.2, 0.4), L(u, 3, 0.06, 0.09));
}

/* cap3: a low-crowned cap with a long, flat brim. */
static ad3d_status build_cap3(const double *u, mesh_t *m) {
  return cap(m, L(u, 0, 0.55, 0.68), L(u, 1, 1.0, 1.25), L(u, 2, 0.0, 0.1), 0.0);
}

/* cap4: a beanie: a tall soft dome with a folded band (a thick ring) at its base. */
static ad3d_status build_cap4(const double *u, mesh_t *m) {
  double h = L(u, 0, 1.0, 1.3), band = L(u, 1, 0.18, 0.3);
  TRY(dome(m, 1.0, h, M_PI / 2, 0.04));
  prof pr = {0};
  ad3d_status st;
  /* the band: a short thick cylinder shell hugging the dome's base */
  if ((st = prof_add(&pr, 0, 0)) || (st = prof_line(&pr, 1.06, 0, 12)) || (st = prof_line(&pr, 1.06, band, 12)))
    goto cleanup;
  {
    mesh_t part = {0};
    if (!(st = revolve_wall(&part, &pr, 0.08, 1.0))) {
      warp_ribs(&part, L(u, 2, 0.0, 0.02), 40, 0.0);
      st = place(m, &part, 0, 0, 0, 0, 0);
    }
    mesh_free(&part);
  }
cleanup:
  prof_free(&pr);
  return st;
}

/* cap5: a deep cap with a short, strongly curved brim and a large button. */
static ad3d_status build_cap5(const double *u, mesh_t *m) {
  return cap(m, L(u, 0, 0.9, 1.05), L(u, 1, 0.55, 0.7), L(u, 2, 0.4, 0.6), L(u, 3, 0.1, 0.13));
}

/* cup0: a mug: a cylindrical wall and a C-shaped handle. */
static ad3d_status build_cup0(const double *u, mesh_t *m) {
  double h = L(u, 0, 1.6, 2.0), taper = L(u, 1, 0.0, 0.1), hs = L(u, 2, 0.45, 0.6);
  const double k[] = {1.0 - taper, 1.0 - 0.5 * taper, 1.0};
  TRY(vessel(m, k, 3, h, 0.07));
  double c[3] = {1.0, 0, 0.52 * h}, e1[3] = {0, 0, 1}, e2[3] = {1, 0, 0};
  TRY(arc_tube(m, c, e1, e2, hs * h * 0.5, -0.1, M_PI + 0.1, 0.08));
  return AD3D_OK;
}

/* cup1: a tumbler without a handle: tapered, with a rolled rim. */
static ad3d_status build_cup1(const double *u, mesh_t *m) {
  double h = L(u, 0, 1.6, 2.3), rb = L(u, 1, 0.6, 0.75);
  const double k[] = {rb, 0.5 * (rb + 1.0), 1.0, 1.04};
  return vessel(m, k, 4, h, 0.035);
}

/* eraser0: a rounded block whose one end is bevelled. */
static ad3d_status build_eraser0(const double *u, mesh_t *m) {
  double w = L(u, 0, 0.35, 0.5), h = L(u, 1, 0.15, 0.25), bev = L(u, 2, 0.1, 0.3);
  mesh_t part = {0};
  TRY(superellipsoid(&part, 1.0, w, h, 0.2, 0.2));
  for (int64_t i = 0; i < part.nv; i++) { /* bevel: lower the top near x = 1 */
    double *p = part.v + 3 * i;
    if (p[2] > 0 && p[0] > 0.4)
      p[2] -= bev * (p[0] - 0.4) / 0.6 * p[2] / h;
  }
  return place(m, &part, 0, 0, 0, 0, 0);
}

/* A headset: a headband arc over the top (in the x-z plane) and two ear cups facing each other. */
static ad3d_status headset(mesh_t *m, double band_r, double band_t, double cup_r, double cup_t, int boom) {
  double c[3] = {0, 0, 0}, e1[3] = {1, 0, 0}, e2[3] = {0, 0, 1};
  TRY(arc_tube(m, c, e1, e2, band_r, 0.0, M_PI, band_t));
  for (int s = -1; s <= 1; s += 2) {
    mesh_t cup = {0};
    TRY(superellipsoid(&cup, cup_r, cup_r * 1.15, cup_t, 0.5, 1.0));
    TRY(place(m, &cup, 0, M_PI / 2, s * (band_r - 0.3 * cup_t), 0, -0.05));
  }
  if (boom) { /* a microphone boom from the left cup, curving forward */
    enum { N = 40 };
    double path[N][3], rad[N];
    for (int i = 0; i < N; i++) {
      double a = (double)i / (N - 1);
      path[i][0] = -band_r + 0.12 + 0.3 * a * a;
      path[i][1] = -0.9 * a;
      path[i][2] = -0.1 - 0.35 * a;
      rad[i] = 0.03;
    }
    TRY(tube(m, (const double(*)[3])path, rad, N));
  }
  return AD3D_OK;
}

/* headset0: over-ear headphones. */
static ad3d_status build_headset0(const double *u, mesh_t *m) {
  return headset(m, L(u, 0, 0.9, 1.05), L(u, 1, 0.05, 0.08), L(u, 2, 0.35, 0.45), L(u, 3, 0.12, 0.18), 0);
}

/* headset1: a gaming headset with a microphone boom. */
static ad3d_status build_headset1(const double *u, mesh_t *m) {
  return headset(m, L(u, 0, 0.95, 1.1), L(u, 1, 0.07, 0.1), L(u, 2, 0.4, 0.5), L(u, 3, 0.15, 0.22), 1);
}

/* helmet0: a hard hat: a dome with a brim flaring all round. */
static ad3d_status build_helmet0(const double *u, mesh_t *m) {
  double h = L(u, 0, 0.75, 0.9), brim = L(u, 1, 0.15, 0.3);
  prof pr = {0};
  ad3d_status st;
  if ((st = prof_add(&pr, 0, h)) || (st = prof_arc(&pr, 0, 0, 1.0, h, M_PI / 2, 0.0, 60)) ||
      (st = prof_arc(&pr, 1.0 + brim * 0.5, 0, brim * 0.5, brim * 0.3, M_PI, 1.5 * M_PI, 12)))
    goto cleanup;
  if ((st = revolve_wall(m, &pr, 0.05, -1.0)))
    goto cleanup;
  { /* a crest from front to back, following the dome */
    enum { N = 50 };
    double path[N][3], rad[N], cr = L(u, 2, 0.06, 0.1);
    for (int i = 0; i < N; i++) {
      double a = -1.1 + 2.2 * i / (N - 1), nx = h * sin(a), nz = cos(a), nl = hypot(nx, nz);
      path[i][0] = sin(a) + 0.3 * cr * nx / nl;
      path[i][1] = 0;
      path[i][2] = h * cos(a) + 0.3 * cr * nz / nl;
      rad[i] = cr;
    }
    st = tube(m, (const double(*)[3])path, rad, N);
  }
cleanup:
  prof_free(&pr);
  return st;
}

/* helmet1: a bicycle helmet: an elongated, ribbed dome. */
static ad3d_status build_helmet1(const double *u, mesh_t *m) {
  mesh_t part = {0};
  TRY(dome(&part, 1.0, L(u, 0, 0.7, 0.85), M_PI / 2, 0.06));
  warp_ribs(&part, L(u, 1, 0.02, 0.05), 8, 0.0);
  double A[9] = {L(u, 2, 1.2, 1.35), 0, 0, 0, 1, 0, 0, 0, 1}, t[3] = {0, 0, 0};
  mesh_transform(&part, A, t);
  return place(m, &part, 0, 0, 0, 0, 0);
}

/* helmet2: a dome with a peak (a visor) in front. */
static ad3d_status build_helmet2(const double *u, mesh_t *m) {
  TRY(dome(m, 1.0, L(u, 0, 0.8, 0.95), L(u, 1, 1.6, 1.75), 0.05));
  return brim(m, 0.98, L(u, 2, 0.35, 0.5), 0.9, 0.025, 0.4);
}

/* helmet3: a deep motorcycle-style dome reaching below the equator, with a flared neck roll. */
static ad3d_status build_helmet3(const double *u, mesh_t *m) {
  double h = L(u, 0, 0.9, 1.05), deep = L(u, 1, 1.85, 2.0);
  prof pr = {0};
  ad3d_status st;
  if ((st = prof_add(&pr, 0, h)) || (st = prof_arc(&pr, 0, 0, 1.0, h, M_PI / 2, M_PI / 2 - deep, 70)) ||
      (st = prof_line(&pr, pr.p[pr.n - 1][0] + L(u, 2, 0.05, 0.12), pr.p[pr.n - 1][1] - 0.08, 6)))
    goto cleanup;
  st = revolve_wall(m, &pr, 0.08, -1.0);
cleanup:
  prof_free(&pr);
  return st;
}

/* jar0: a jar with shoulders and a short neck, and a lid with a knob sitting on it. */
static ad3d_status build_jar0(const double *u, mesh_t *m) {
  double h = L(u, 0, 1.1, 1.5), nr = L(u, 1, 0.65, 0.8), lid = L(u, 2, 0.12, 0.2);
  const double k[] = {0.9, 1.0, 1.0, 1.0, 0.9, nr, nr};
  TRY(vessel(m, k, 7, h, 0.04));
  prof pr = {0};
  ad3d_status st;
  double lr = nr + 0.05;
  if ((st = prof_add(&pr, 0, h - 0.05)) || (st = prof_line(&pr, lr, h - 0.05, 12)) ||
      (st = prof_line(&pr, lr, h + lid, 8)) || (st = prof_line(&pr, 0.12, h + lid, 10)) ||
      (st = prof_arc(&pr, 0, h + lid, 0.12, 0.1, 0.0, M_PI / 2, 10)))
    goto cleanup;
  st = revolve(m, &pr);
cleanup:
  prof_free(&pr);
  return st;
}

/* microphone0: a handheld microphone: tapered handle, collar, ball grille. */
static ad3d_status build_microphone0(const double *u, mesh_t *m) {
  double len = L(u, 0, 1.6, 2.2), hr = L(u, 1, 0.3, 0.4), rb = L(u, 2, 0.1, 0.14);
  prof pr = {0};
  ad3d_status st;
  if ((st = prof_add(&pr, 0, 0)) || (st = prof_line(&pr, rb, 0, 6)) || (st = prof_line(&pr, rb * 1.6, len, 60)) ||
      (st = prof_line(&pr, rb * 1.8, len + 0.05, 4)) || (st = prof_line(&pr, rb * 1.8, len + 0.12, 4)))
    goto cleanup;
  {
    double cz = len + 0.12 + sqrt(fmax(hr * hr - pow(rb * 1.8, 2), 0.0));
    double a0 = -acos(fmin(rb * 1.8 / hr, 1.0)); /* where the sphere's radius meets the collar's */
    if ((st = prof_arc(&pr, 0, cz, hr, hr, a0, M_PI / 2, 50)))
      goto cleanup;
  }
  st = revolve(m, &pr);
cleanup:
  prof_free(&pr);
  return st;
}

/* shelf0: a bookshelf: two sides, top, bottom, shelves and a back panel. */
static ad3d_status build_shelf0(const double *u, mesh_t *m) {
  double w = L(u, 0, 0.8, 1.2), h = L(u, 1, 1.6, 2.2), d = L(u, 2, 0.3, 0.45), t = L(u, 3, 0.035, 0.06);
  int nshelf = 2 + (int)floor(2.999 * u[4]);
  double lo[3], hi[3];
  for (int s = -1; s <= 1; s += 2) { /* sides */
    lo[0] = s < 0 ? -w / 2 : w / 2 - t;
    hi[0] = lo[0] + t;
    lo[1] = -d / 2;
    hi[1] = d / 2;
    lo[2] = 0;
    hi[2] = h;
    TRY(box(m, lo, hi));
  }
  for (int i = 0; i <= nshelf + 1; i++) { /* bottom, shelves, top */
    double z = i == 0 ? 0.05 : i == nshelf + 1 ? h - t : 0.05 + (h - 0.05 - t) * i / (nshelf + 1);
    lo[0] = -w / 2 + t;
    hi[0] = w / 2 - t;
    lo[1] = -d / 2;
    hi[1] = d / 2 - 0.01;
    lo[2] = z;
    hi[2] = z + t;
    TRY(box(m, lo, hi));
  }
  lo[0] = -w / 2 + t; /* back panel */
  hi[0] = w / 2 - t;
  lo[1] = d / 2 - 0.01;
  hi[1] = d / 2;
  lo[2] = 0.05;
  hi[2] = h - t;
  return box(m, lo, hi);
}

/* A tap: a flange and a vertical body, a spout (path from the body), and a handle on top. */
static ad3d_status tap(mesh_t *m, double body_h, double body_r, int goose, double reach, double lever) {
  prof pr = {0};
  ad3d_status st;
  if ((st = prof_add(&pr, 0, 0)) || (st = prof_line(&pr, body_r * 1.8, 0, 10)) ||
      (st = prof_line(&pr, body_r * 1.8, 0.06, 3)) || (st = prof_line(&pr, body_r, 0.12, 4)) ||
      (st = prof_line(&pr, body_r, body_h, 40)) || (st = prof_line(&pr, 0, body_h, 8)))
    goto cleanup;
  if ((st = revolve(m, &pr)))
    goto cleanup;
  {
    enum { N = 60 };
    double path[N][3], rad[N];
    for (int i = 0; i < N; i++) {
      double a = (double)i / (N - 1);
      if (goose) { /* up, over and down: a gooseneck */
        double th = M_PI * a;
        path[i][0] = 0.5 * reach * (1 - cos(th));
        path[i][1] = 0;
        path[i][2] = body_h * 0.9 + 0.45 * reach * sin(th) - 0.15 * reach * a;
      } else { /* out and slightly down */
        path[i][0] = reach * a;
        path[i][1] = 0;
        path[i][2] = body_h * 0.55 - 0.25 * reach * a * a;
      }
      rad[i] = body_r * (goose ? 0.45 : 0.55) * (1.0 - 0.15 * a);
    }
    if ((st = tube(m, (const double(*)[3])path, rad, N)))
      goto cleanup;
  }
  {
    mesh_t h = {0};
    if ((st = superellipsoid(&h, lever, 0.07, 0.05, 0.4, 0.4)))
      goto cleanup;
    st = place(m, &h, M_PI, -0.3, -0.6 * lever, 0, body_h + 0.08);
  }
cleanup:
  prof_free(&pr);
  return st;
}

/* tap0: a gooseneck kitchen tap with a lever. */
static ad3d_status build_tap0(const double *u, mesh_t *m) {
  return tap(m, L(u, 0, 0.9, 1.2), L(u, 1, 0.14, 0.18), 1, L(u, 2, 0.8, 1.1), L(u, 3, 0.3, 0.45));
}

/* tap1: a basin tap with a short straight spout. */
static ad3d_status build_tap1(const double *u, mesh_t *m) {
  return tap(m, L(u, 0, 0.6, 0.8), L(u, 1, 0.16, 0.2), 0, L(u, 2, 0.55, 0.75), L(u, 3, 0.25, 0.35));
}

/* A vase: an open thin wall r(z) from knots over [0, h], optional ribs with a twist. */
static ad3d_status vase(mesh_t *m, const double *k, int nk, double h, double t, double rib, int nrib, double twist) {
  mesh_t part = {0};
  TRY(vessel(&part, k, nk, h, t));
  if (rib > 0)
    warp_ribs(&part, rib, nrib, twist);
  return place(m, &part, 0, 0, 0, 0, 0);
}

/* vase0: an amphora: narrow foot, wide belly, narrow neck, flared lip. */
static ad3d_status build_vase0(const double *u, mesh_t *m) {
  double b = L(u, 0, 0.9, 1.1), n = L(u, 1, 0.3, 0.4), lip = L(u, 2, 0.55, 0.7);
  const double k[] = {0.45, 0.8 * b, b, 0.85 * b, 0.5, n, n, lip};
  return vase(m, k, 8, L(u, 3, 2.4, 3.0), 0.04, 0, 0, 0);
}

/* vase1: a tall cylinder with a gentle waist. */
static ad3d_status build_vase1(const double *u, mesh_t *m) {
  double w = L(u, 0, 0.75, 0.9);
  const double k[] = {0.55, 0.6, w * 0.6, 0.6, 0.62};
  return vase(m, k, 5, L(u, 1, 2.2, 2.8), 0.035, 0, 0, 0);
}

/* vase2: a bud vase: a round body and a short narrow neck. */
static ad3d_status build_vase2(const double *u, mesh_t *m) {
  double b = L(u, 0, 0.9, 1.05), n = L(u, 1, 0.2, 0.28);
  const double k[] = {0.5, 0.95 * b, b, 0.7 * b, n, n, n * 1.5};
  return vase(m, k, 7, L(u, 2, 1.8, 2.2), 0.035, 0, 0, 0);
}

/* vase3: a trumpet: a narrow base flaring to a wide mouth. */
static ad3d_status build_vase3(const double *u, mesh_t *m) {
  double mouth = L(u, 0, 0.9, 1.1);
  const double k[] = {0.45, 0.3, 0.28, 0.35, 0.55, mouth};
  return vase(m, k, 6, L(u, 1, 2.0, 2.6), 0.03, 0, 0, 0);
}

/* vase4: a gourd: two bulbs, one above the other. */
static ad3d_status build_vase4(const double *u, mesh_t *m) {
  double b1 = L(u, 0, 0.9, 1.05), b2 = L(u, 1, 0.55, 0.7), w = L(u, 2, 0.35, 0.45);
  const double k[] = {0.55, b1, b1 * 0.95, w, b2, b2 * 0.8, 0.25, 0.3};
  return vase(m, k, 8, L(u, 3, 2.4, 2.9), 0.035, 0, 0, 0);
}

/* vase5: a ribbed vase. */
static ad3d_status build_vase5(const double *u, mesh_t *m) {
  double b = L(u, 0, 0.75, 0.9);
  const double k[] = {0.5, b, b, 0.8 * b, 0.65 * b, 0.7 * b};
  return vase(m, k, 6, L(u, 1, 1.8, 2.3), 0.035, L(u, 2, 0.03, 0.06), 12 + (int)floor(7.999 * u[3]), 0.0);
}

/* vase7: a slender bottle vase with a long neck. */
static ad3d_status build_vase7(const double *u, mesh_t *m) {
  double b = L(u, 0, 0.6, 0.75), n = L(u, 1, 0.16, 0.22);
  const double k[] = {0.45, b, b, 0.5, n, n, n, n * 1.3};
  return vase(m, k, 8, L(u, 2, 2.8, 3.4), 0.03, 0, 0, 0);
}

/* vase8: a squat pot whose shoulder curves inwards to a wide mouth. */
static ad3d_status build_vase8(const double *u, mesh_t *m) {
  double b = L(u, 0, 1.0, 1.15), mouth = L(u, 1, 0.6, 0.75);
  const double k[] = {0.6, b, b * 0.95, mouth, mouth * 1.05};
  return vase(m, k, 5, L(u, 2, 1.1, 1.4), 0.04, 0, 0, 0);
}

/* vase9: an egg with a small mouth and twisted flutes. */
static ad3d_status build_vase9(const double *u, mesh_t *m) {
  double b = L(u, 0, 0.85, 1.0);
  const double k[] = {0.4, 0.85 * b, b, 0.85 * b, 0.45, 0.3};
  return vase(m, k, 6, L(u, 1, 2.0, 2.4), 0.035, L(u, 2, 0.025, 0.05), 8 + (int)floor(5.999 * u[3]),
              L(u, 4, 0.6, 1.4));
}

const proc_family proc_families[] = {
    {"ashtray0", "a low, thick-walled round dish with three rests on its rim", 3, build_ashtray0},
    {"bag0", "a tote bag: a boxy pillow with a round handle over the top", 5, build_bag0},
    {"bottle0", "a wine bottle: body, shoulder, long neck, lip", 3, build_bottle0},
    {"bottle1", "a wide medicine bottle with a short neck and a screw cap", 3, build_bottle1},
    {"bottle3", "a flask: barrel body and a long neck", 3, build_bottle3},
    {"bowl0", "a hemispherical bowl", 3, build_bowl0},
    {"bowl1", "a shallow wide bowl on a foot ring", 4, build_bowl1},
    {"bowl2", "a conical bowl with straight flared walls", 3, build_bowl2},
    {"bowl3", "a deep bowl with an outward lip", 4, build_bowl3},
    {"bowl4", "a bowl with a scalloped rim", 4, build_bowl4},
    {"bowl5", "a soup plate with a wide rim", 3, build_bowl5},
    {"bucket0", "a tapered pail with beads and a rolled rim", 3, build_bucket0},
    {"bucket1", "a bucket with a bail handle on two lugs", 3, build_bucket1},
    {"cap0", "a baseball cap with a button", 4, build_cap0},
    {"cap3", "a low cap with a long flat brim", 3, build_cap3},
    {"cap4", "a beanie with a folded band", 3, build_cap4},
    {"cap5", "a deep cap with a short curved brim", 4, build_cap5},
    {"cup0", "a mug with a C-shaped handle", 3, build_cup0},
    {"cup1", "a tumbler with a rolled rim", 2, build_cup1},
    {"eraser0", "a rounded block with a bevelled end", 3, build_eraser0},
    {"headset0", "over-ear headphones: headband and two ear cups", 4, build_headset0},
    {"headset1", "a headset with a microphone boom", 4, build_headset1},
    {"helmet0", "a hard hat with a brim and a crest", 3, build_helmet0},
    {"helmet1", "an elongated ribbed bicycle helmet", 3, build_helmet1},
    {"helmet2", "a dome with a visor", 3, build_helmet2},
    {"helmet3", "a deep helmet with a neck roll", 3, build_helmet3},
    {"jar0", "a jar with shoulders and a lid with a knob", 3, build_jar0},
    {"microphone0", "a handheld microphone: handle, collar, ball grille", 3, build_microphone0},
    {"shelf0", "a bookshelf with two to four shelves and a back", 5, build_shelf0},
    {"tap0", "a gooseneck kitchen tap with a lever", 4, build_tap0},
    {"tap1", "a basin tap with a short spout", 4, build_tap1},
    {"vase0", "an amphora", 4, build_vase0},
    {"vase1", "a tall cylinder with a waist", 2, build_vase1},
    {"vase2", "a bud vase", 3, build_vase2},
    {"vase3", "a trumpet vase", 2, build_vase3},
    {"vase4", "a gourd", 4, build_vase4},
    {"vase5", "a ribbed vase", 4, build_vase5},
    {"vase7", "a slender bottle vase", 3, build_vase7},
    {"vase8", "a squat pot with an inward shoulder", 3, build_vase8},
    {"vase9", "an egg with twisted flutes", 5, build_vase9},
    {NULL, NULL, 0, NULL},
};

const proc_family *proc_family_find(const char *name) {
  for (int i = 0; proc_families[i].name; i++)
    if (!strcmp(proc_families[i].name, name))
      return &proc_families[i];
  return NULL;
}

ad3d_status proc_build(const proc_family *f, const double *u, mesh_t *out) {
  double uc[PROC_MAX_PARAMS];
  ASSERT(f->nparams <= PROC_MAX_PARAMS);
  for (int i = 0; i < f->nparams; i++)
    uc[i] = u[i] < 0 ? 0 : u[i] > 1 ? 1 : u[i];
  memset(out, 0, sizeof *out);
  ad3d_status st = f->build(uc, out);
  if (st)
    goto fail;
  double lo[3], hi[3];
  mesh_bbox(out, lo, hi);
  double diag = sqrt((hi[0] - lo[0]) * (hi[0] - lo[0]) + (hi[1] - lo[1]) * (hi[1] - lo[1]) +
                     (hi[2] - lo[2]) * (hi[2] - lo[2]));
  /* parts are conforming by construction and must not be welded to each other (a shelf's boards
   * touch at corners) */
  if ((st = mesh_drop_degenerate(out, 1e-14 * diag * diag, NULL)) || (st = mesh_orient(out, NULL)))
    goto fail;
  mesh_bbox(out, lo, hi);
  const double A[9] = {1 / diag, 0, 0, 0, 1 / diag, 0, 0, 0, 1 / diag};
  const double t[3] = {-0.5 * (lo[0] + hi[0]) / diag, -0.5 * (lo[1] + hi[1]) / diag, -0.5 * (lo[2] + hi[2]) / diag};
  mesh_transform(out, A, t);
  return AD3D_OK;
fail:
  mesh_free(out);
  return ad3d_fail_context(st, "procedural shape %s", f->name);
}

void proc_instance_params(const proc_family *f, const rng_t *class_rng, double variation, rng_t *instance_rng,
                          double *u) {
  rng_t c = *class_rng;
  for (int i = 0; i < f->nparams; i++) {
    double x = 0.2 + 0.6 * rng_uniform(&c) + variation * rng_normal(instance_rng);
    u[i] = x < 0 ? 0 : x > 1 ? 1 : x;
  }
}

void proc_corpus_params(rng_t *rng, const proc_family **f, double *u) {
  *f = &proc_families[rng_below(rng, PROC_NFAMILIES)];
  for (int i = 0; i < (*f)->nparams; i++)
    u[i] = rng_uniform(rng);
}
