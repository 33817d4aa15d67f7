/* shapes.c - the procedural shape catalogue and its area-uniform sampler (see shapes.h).
 *
 * Surfaces of revolution revolve a profile curve (r(t), z(t)), t in [0, 1], about the z axis:
 * p = (r cos a, r sin a, z) with a = 2 pi u, and the outward normal is (z' cos a, z' sin a, -r')
 * normalised, which points away from the axis when the profile runs upwards (z' > 0) and downwards
 * for a bottom disk that runs outwards (r' > 0, z' = 0). The rounded box is the Minkowski sum of a
 * box with half extents h and a ball of radius rho, cut into its 26 smooth parts.
 */
#include "synth/shapes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const shape_names[] = {"ellipsoid", "cup", "torus", "rounded_box", "vase", NULL};

static void normalize3(double v[3]) {
  double l = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  if (l > 0) {
    v[0] /= l;
    v[1] /= l;
    v[2] /= l;
  }
}

/* Point and normal of the surface of revolution of profile (r, z) with derivative (dr, dz) at
 * azimuth parameter u. */
static void revolve(double u, double r, double z, double dr, double dz, double p[3], double n[3]) {
  double a = 2.0 * M_PI * u, ca = cos(a), sa = sin(a);
  p[0] = r * ca;
  p[1] = r * sa;
  p[2] = z;
  n[0] = dz * ca;
  n[1] = dz * sa;
  n[2] = -dr;
  normalize3(n);
}

/* Unit sphere: profile (sin pi t, -cos pi t), south pole to north pole. prm unused. */
static void eval_sphere(const double *prm, double u, double v, double p[3], double n[3]) {
  (void)prm;
  double t = M_PI * v;
  revolve(u, sin(t), -cos(t), M_PI * cos(t), M_PI * sin(t), p, n);
}

/* Straight profile from (r0, z0) to (r1, z1): prm = {r0, z0, r1, z1}. A cone wall, a cylinder
 * wall or (z0 == z1, r0 = 0) a flat disk. */
static void eval_segment(const double *prm, double u, double v, double p[3], double n[3]) {
  double dr = prm[2] - prm[0], dz = prm[3] - prm[1];
  revolve(u, prm[0] + dr * v, prm[1] + dz * v, dr, dz, p, n);
}

/* Torus tube: profile circle of radius prm[1] around (prm[0], 0). */
static void eval_tube(const double *prm, double u, double v, double p[3], double n[3]) {
  double R = prm[0], rho = prm[1], t = 2.0 * M_PI * v;
  revolve(u, R + rho * cos(t), rho * sin(t), -2.0 * M_PI * rho * sin(t), 2.0 * M_PI * rho * cos(t), p, n);
}

/* Wavy wall: r = a + b sin(w t + phi), z = z0 + h t; prm = {a, b, w, phi, z0, h}. */
static void eval_wave(const double *prm, double u, double v, double p[3], double n[3]) {
  double a = prm[0], b = prm[1], w = prm[2], phi = prm[3], z0 = prm[4], h = prm[5];
  revolve(u, a + b * sin(w * v + phi), z0 + h * v, b * w * cos(w * v + phi), h, p, n);
}

/* One smooth part of a rounded box: prm = {s0, s1, s2, h0, h1, h2, rho} with s in {-1, 0, 1}^3.
 * Axes with s = 0 span the part (coordinate (2u - 1) h, then v); the others are rounded: one such
 * axis is a face, two an edge (quarter cylinder, angle v pi/2), three a corner (sphere octant,
 * azimuth u pi/2, polar angle v pi/2). */
static void eval_box_part(const double *prm, double u, double v, double p[3], double n[3]) {
  const double *s = prm, *h = prm + 3;
  double rho = prm[6], par[2] = {u, v};
  int flat[3], nflat = 0, round[3], nround = 0, ip = 0;
  for (int a = 0; a < 3; a++) {
    if (s[a] == 0)
      flat[nflat++] = a;
    else
      round[nround++] = a;
  }
  memset(n, 0, 3 * sizeof *n);
  for (int i = 0; i < nflat; i++) {
    p[flat[i]] = (2.0 * par[ip] - 1.0) * h[flat[i]];
    ip++;
  }
  if (nround == 1) {
    n[round[0]] = s[round[0]];
  } else if (nround == 2) {
    double al = 0.5 * M_PI * par[ip];
    n[round[0]] = s[round[0]] * cos(al);
    n[round[1]] = s[round[1]] * sin(al);
  } else {
    double al = 0.5 * M_PI * u, be = 0.5 * M_PI * v;
    n[0] = s[0] * sin(be) * cos(al);
    n[1] = s[1] * sin(be) * sin(al);
    n[2] = s[2] * cos(be);
  }
  for (int i = 0; i < nround; i++) {
    int a = round[i];
    p[a] = s[a] * h[a] + rho * n[a];
  }
}

static void add_patch(shape_t *s, void (*eval)(const double *, double, double, double *, double *),
                      const double *prm, int nprm) {
  ASSERT(s->npatches < SHAPE_MAX_PATCHES && nprm <= 8);
  shape_patch *pt = &s->patch[s->npatches++];
  pt->eval = eval;
  memset(pt->prm, 0, sizeof pt->prm);
  if (nprm > 0)
    memcpy(pt->prm, prm, (size_t)nprm * sizeof *prm);
}

/* Fill the patches and scale of catalogue shape `name`; 0 if unknown. */
static int shape_build(shape_t *s, const char *name) {
  s->scale[0] = s->scale[1] = s->scale[2] = 1.0;
  if (!strcmp(name, "ellipsoid")) {
    add_patch(s, eval_sphere, NULL, 0);
    s->scale[0] = 0.9;
    s->scale[1] = 0.75;
    s->scale[2] = 0.65;
  } else if (!strcmp(name, "cup")) {
    /* tapered open wall, then the bottom disk */
    const double wall[] = {0.45, -0.55, 0.6, 0.55}, bottom[] = {0.0, -0.55, 0.45, -0.55};
    add_patch(s, eval_segment, wall, 4);
    add_patch(s, eval_segment, bottom, 4);
  } else if (!strcmp(name, "torus")) {
    const double tube[] = {0.6, 0.25};
    add_patch(s, eval_tube, tube, 2);
  } else if (!strcmp(name, "vase")) {
    /* radius between 0.24 and 0.48: a belly, a neck, an open mouth, a flat bottom */
    const double wall[] = {0.36, 0.12, 2.0 * M_PI * 0.85, -0.7, -0.75, 1.5};
    const double bottom[] = {0.0, -0.75, 0.36 + 0.12 * sin(-0.7), -0.75};
    add_patch(s, eval_wave, wall, 6);
    add_patch(s, eval_segment, bottom, 4);
  } else if (!strcmp(name, "rounded_box")) {
    for (int a = -1; a <= 1; a++)
      for (int b = -1; b <= 1; b++)
        for (int c = -1; c <= 1; c++) {
          if (!a && !b && !c)
            continue;
          const double prm[] = {a, b, c, 0.62, 0.42, 0.28, 0.12};
          add_patch(s, eval_box_part, prm, 7);
        }
  } else {
    return 0;
  }
  for (int i = 0; shape_names[i]; i++)
    if (!strcmp(shape_names[i], name))
      s->name = shape_names[i];
  return 1;
}

void shape_eval(const shape_t *s, int k, double u, double v, double p[3], double n[3]) {
  ASSERT(k >= 0 && k < s->npatches);
  s->patch[k].eval(s->patch[k].prm, u, v, p, n);
  for (int a = 0; a < 3; a++) {
    p[a] *= s->scale[a];
    n[a] /= s->scale[a];
  }
  normalize3(n);
}

/* Area of cell [u0, u1] x [v0, v1] of patch k: the parallelogram of the central differences. */
static double cell_area(const shape_t *s, int k, double u0, double u1, double v0, double v1) {
  double a[3], b[3], c[3], d[3], n[3];
  double um = 0.5 * (u0 + u1), vm = 0.5 * (v0 + v1);
  shape_eval(s, k, u1, vm, a, n);
  shape_eval(s, k, u0, vm, b, n);
  shape_eval(s, k, um, v1, c, n);
  shape_eval(s, k, um, v0, d, n);
  double e[3] = {a[0] - b[0], a[1] - b[1], a[2] - b[2]}, f[3] = {c[0] - d[0], c[1] - d[1], c[2] - d[2]};
  double x = e[1] * f[2] - e[2] * f[1], y = e[2] * f[0] - e[0] * f[2], z = e[0] * f[1] - e[1] * f[0];
  return sqrt(x * x + y * y + z * z);
}

ad3d_status shape_init(shape_t *s, const char *name) {
  memset(s, 0, sizeof *s);
  if (!shape_build(s, name))
    return ad3d_fail(AD3D_ENOTFOUND, "unknown procedural shape \"%s\"", name);
  const int G = SHAPE_GRID;
  size_t ncell = (size_t)s->npatches * G * G;
  s->cdf = malloc(ncell * sizeof *s->cdf);
  if (!s->cdf) {
    memset(s, 0, sizeof *s);
    return ad3d_fail(AD3D_ENOMEM, "out of memory building the sampling table of shape %s", name);
  }
  double acc = 0.0;
  size_t c = 0;
  for (int k = 0; k < s->npatches; k++)
    for (int i = 0; i < G; i++)
      for (int j = 0; j < G; j++) {
        acc += cell_area(s, k, (double)i / G, (double)(i + 1) / G, (double)j / G, (double)(j + 1) / G);
        s->cdf[c++] = acc;
      }
  s->area = acc;
  return AD3D_OK;
}

void shape_free(shape_t *s) {
  if (!s)
    return;
  free(s->cdf);
  memset(s, 0, sizeof *s);
}

void shape_sample(const shape_t *s, int64_t n, rng_t *rng, double *xyz, double *normals) {
  const int G = SHAPE_GRID;
  size_t ncell = (size_t)s->npatches * G * G;
  for (int64_t i = 0; i < n; i++) {
    double x = rng_uniform(rng) * s->area;
    size_t lo = 0, hi = ncell - 1; /* first cell whose cumulative area exceeds x */
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (s->cdf[mid] > x)
        hi = mid;
      else
        lo = mid + 1;
    }
    int k = (int)(lo / ((size_t)G * G)), rem = (int)(lo % ((size_t)G * G));
    double u = (rem / G + rng_uniform(rng)) / G;
    double v = (rem % G + rng_uniform(rng)) / G;
    shape_eval(s, k, u, v, xyz + 3 * i, normals + 3 * i);
  }
}
