/* test_shapes.c - procedural shapes (areas, area-uniform sampling, points on the surface, outward
 * normals) and defects (displacement, labels, holes) against closed-form geometry.
 *
 * Oracles: the shapes' implicit equations and closed-form areas (torus 4 pi^2 R rho, cone frustum,
 * rounded box = faces + quarter cylinders + one sphere), an independent Simpson integral for the
 * ellipsoid and the vase, the torus' known tube-angle density (1 + (rho/R) cos phi), and for defects
 * the displacement formula evaluated on a flat grid.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/rng.h"
#include "synth/defects.h"
#include "synth/shapes.h"

/* The catalogue's parameters, restated (the test's own copy of the geometry). */
#define ELL_A 0.9
#define ELL_B 0.75
#define ELL_C 0.65
#define CUP_R0 0.45
#define CUP_R1 0.6
#define CUP_Z0 (-0.55)
#define CUP_Z1 0.55
#define TOR_R 0.6
#define TOR_RHO 0.25
#define BOX_HX 0.62
#define BOX_HY 0.42
#define BOX_HZ 0.28
#define BOX_RHO 0.12
#define VASE_Z0 (-0.75)
#define VASE_H 1.5

static double vase_r(double z) {
  double t = (z - VASE_Z0) / VASE_H;
  return 0.36 + 0.12 * sin(2.0 * M_PI * 0.85 * t - 0.7);
}

static double vase_dr_dz(double z) {
  double t = (z - VASE_Z0) / VASE_H;
  return 0.12 * 2.0 * M_PI * 0.85 * cos(2.0 * M_PI * 0.85 * t - 0.7) / VASE_H;
}

/* Composite Simpson rule of f over [a, b] with n (even) intervals. */
static double simpson(double (*f)(double, const void *), const void *ctx, double a, double b, int n) {
  double h = (b - a) / n, s = f(a, ctx) + f(b, ctx);
  for (int i = 1; i < n; i++)
    s += (i % 2 ? 4.0 : 2.0) * f(a + i * h, ctx);
  return s * h / 3.0;
}

/* Ellipsoid area element integrated over azimuth for polar angle t: inner integral by Simpson. */
static double ell_inner(double az, const void *ctx) {
  double t = *(const double *)ctx;
  double st = sin(t), ct = cos(t), sa = sin(az), ca = cos(az);
  /* p = (a st ca, b st sa, c ct); dp/dt x dp/daz */
  double pt[3] = {ELL_A * ct * ca, ELL_B * ct * sa, -ELL_C * st};
  double pa[3] = {-ELL_A * st * sa, ELL_B * st * ca, 0};
  double x = pt[1] * pa[2] - pt[2] * pa[1], y = pt[2] * pa[0] - pt[0] * pa[2], z = pt[0] * pa[1] - pt[1] * pa[0];
  return sqrt(x * x + y * y + z * z);
}

static double ell_outer(double t, const void *ctx) {
  (void)ctx;
  return simpson(ell_inner, &t, 0, 2 * M_PI, 400);
}

static double vase_band(double z, const void *ctx) {
  (void)ctx;
  double d = vase_dr_dz(z);
  return 2.0 * M_PI * vase_r(z) * sqrt(1.0 + d * d);
}

static double area_expected(const char *name) {
  if (!strcmp(name, "torus"))
    return 4.0 * M_PI * M_PI * TOR_R * TOR_RHO;
  if (!strcmp(name, "cup")) {
    double slant = hypot(CUP_R1 - CUP_R0, CUP_Z1 - CUP_Z0);
    return M_PI * (CUP_R0 + CUP_R1) * slant + M_PI * CUP_R0 * CUP_R0;
  }
  if (!strcmp(name, "rounded_box"))
    return 8.0 * (BOX_HX * BOX_HY + BOX_HY * BOX_HZ + BOX_HX * BOX_HZ) +
           4.0 * M_PI * BOX_RHO * (BOX_HX + BOX_HY + BOX_HZ) + 4.0 * M_PI * BOX_RHO * BOX_RHO;
  if (!strcmp(name, "ellipsoid"))
    return simpson(ell_outer, NULL, 0, M_PI, 400);
  if (!strcmp(name, "vase"))
    return simpson(vase_band, NULL, VASE_Z0, VASE_Z0 + VASE_H, 2000) + M_PI * pow(vase_r(VASE_Z0), 2);
  fail_msg("no expected area for %s", name);
  return 0;
}

static void test_shape_areas(void **state) {
  (void)state;
  int n = 0;
  for (; shape_names[n]; n++) {
    shape_t s;
    assert_int_equal(shape_init(&s, shape_names[n]), AD3D_OK);
    assert_string_equal(s.name, shape_names[n]);
    double want = area_expected(shape_names[n]);
    if (fabs(s.area - want) > 2e-3 * want)
      fail_msg("%s: area %.6f, expected %.6f", shape_names[n], s.area, want);
    shape_free(&s);
    shape_free(&s);
  }
  assert_int_equal(n, 5);
  shape_t s;
  assert_int_equal(shape_init(&s, "teapot"), AD3D_ENOTFOUND);
  assert_non_null(strstr(ad3d_errmsg(), "teapot"));
}

/* The implicit residual of p on the shape (0 on the surface) and the expected outward normal. */
static double surface_check(const char *name, const double *p, double nexp[3]) {
  double x = p[0], y = p[1], z = p[2], rxy = hypot(x, y);
  if (!strcmp(name, "ellipsoid")) {
    nexp[0] = x / (ELL_A * ELL_A);
    nexp[1] = y / (ELL_B * ELL_B);
    nexp[2] = z / (ELL_C * ELL_C);
    return sqrt(x * x / (ELL_A * ELL_A) + y * y / (ELL_B * ELL_B) + z * z / (ELL_C * ELL_C)) - 1.0;
  }
  if (!strcmp(name, "torus")) {
    double cx = TOR_R * x / rxy, cy = TOR_R * y / rxy; /* nearest tube centre */
    nexp[0] = x - cx;
    nexp[1] = y - cy;
    nexp[2] = z;
    return hypot(rxy - TOR_R, z) - TOR_RHO;
  }
  if (!strcmp(name, "rounded_box")) {
    double h[3] = {BOX_HX, BOX_HY, BOX_HZ}, d2 = 0;
    for (int a = 0; a < 3; a++) {
      double c = p[a] < -h[a] ? -h[a] : p[a] > h[a] ? h[a] : p[a];
      nexp[a] = p[a] - c;
      d2 += nexp[a] * nexp[a];
    }
    return sqrt(d2) - BOX_RHO;
  }
  if (!strcmp(name, "cup")) {
    if (z < CUP_Z0 + 1e-9 && rxy < CUP_R0 - 1e-6) { /* bottom */
      nexp[0] = nexp[1] = 0;
      nexp[2] = -1;
      return z - CUP_Z0;
    }
    double slope = (CUP_R1 - CUP_R0) / (CUP_Z1 - CUP_Z0); /* dr/dz */
    nexp[0] = x / rxy;
    nexp[1] = y / rxy;
    nexp[2] = -slope;
    return rxy - (CUP_R0 + slope * (z - CUP_Z0));
  }
  if (!strcmp(name, "vase")) {
    if (z < VASE_Z0 + 1e-9 && rxy < vase_r(VASE_Z0) - 1e-6) {
      nexp[0] = nexp[1] = 0;
      nexp[2] = -1;
      return z - VASE_Z0;
    }
    nexp[0] = x / rxy;
    nexp[1] = y / rxy;
    nexp[2] = -vase_dr_dz(z);
    return rxy - vase_r(z);
  }
  fail_msg("unknown shape %s", name);
  return 1;
}

static void test_shape_points_and_normals(void **state) {
  (void)state;
  const int64_t n = 4000;
  double *xyz = malloc(n * 3 * sizeof *xyz), *nrm = malloc(n * 3 * sizeof *nrm);
  for (int k = 0; shape_names[k]; k++) {
    shape_t s;
    rng_t r;
    rng_seed(&r, 7 + k);
    assert_int_equal(shape_init(&s, shape_names[k]), AD3D_OK);
    shape_sample(&s, n, &r, xyz, nrm);
    for (int64_t i = 0; i < n; i++) {
      double ne[3] = {0, 0, 0};
      double res = surface_check(shape_names[k], xyz + 3 * i, ne);
      if (fabs(res) > 1e-9)
        fail_msg("%s: point %lld off the surface by %g", shape_names[k], (long long)i, res);
      double l = sqrt(ne[0] * ne[0] + ne[1] * ne[1] + ne[2] * ne[2]);
      const double *nv = nrm + 3 * i;
      double dot = (nv[0] * ne[0] + nv[1] * ne[1] + nv[2] * ne[2]) / l;
      assert_true(fabs(nv[0] * nv[0] + nv[1] * nv[1] + nv[2] * nv[2] - 1.0) < 1e-12);
      if (dot < 1.0 - 1e-9)
        fail_msg("%s: normal of point %lld off the outward normal (cos %.12f)", shape_names[k], (long long)i, dot);
    }
    shape_free(&s);
  }
  free(xyz);
  free(nrm);
}

/* Area-uniform sampling: the torus tube angle phi has density (1 + (rho / R) cos phi) / (2 pi);
 * chi-square over 24 bins. The cup's bottom and the box's faces get their share of the area. */
static void test_shape_uniform(void **state) {
  (void)state;
  const int64_t n = 60000;
  double *xyz = malloc(n * 3 * sizeof *xyz), *nrm = malloc(n * 3 * sizeof *nrm);
  shape_t s;
  rng_t r;
  rng_seed(&r, 99);
  assert_int_equal(shape_init(&s, "torus"), AD3D_OK);
  shape_sample(&s, n, &r, xyz, nrm);
  enum { B = 24 };
  int64_t hist[B] = {0};
  for (int64_t i = 0; i < n; i++) {
    double rxy = hypot(xyz[3 * i], xyz[3 * i + 1]);
    double phi = atan2(xyz[3 * i + 2], rxy - TOR_R);
    if (phi < 0)
      phi += 2 * M_PI;
    int b = (int)(phi / (2 * M_PI) * B);
    hist[b < B ? b : B - 1]++;
  }
  double chi2 = 0;
  for (int b = 0; b < B; b++) {
    double a0 = 2 * M_PI * b / B, a1 = 2 * M_PI * (b + 1) / B;
    double p = (a1 - a0 + TOR_RHO / TOR_R * (sin(a1) - sin(a0))) / (2 * M_PI);
    double e = p * (double)n;
    chi2 += (hist[b] - e) * (hist[b] - e) / e;
  }
  /* 23 degrees of freedom: P(chi2 > 49.7) = 0.001 */
  if (chi2 > 49.7)
    fail_msg("torus tube angle not area-uniform: chi2 %.1f", chi2);
  shape_free(&s);

  assert_int_equal(shape_init(&s, "cup"), AD3D_OK);
  shape_sample(&s, n, &r, xyz, nrm);
  int64_t bottom = 0;
  for (int64_t i = 0; i < n; i++)
    bottom += xyz[3 * i + 2] < CUP_Z0 + 1e-9;
  double pb = M_PI * CUP_R0 * CUP_R0 / area_expected("cup");
  assert_true(fabs((double)bottom / n - pb) < 4 * sqrt(pb * (1 - pb) / n));
  shape_free(&s);

  assert_int_equal(shape_init(&s, "rounded_box"), AD3D_OK);
  shape_sample(&s, n, &r, xyz, nrm);
  int64_t top = 0;
  for (int64_t i = 0; i < n; i++)
    top += xyz[3 * i + 2] > BOX_HZ + BOX_RHO - 1e-9 && fabs(xyz[3 * i]) <= BOX_HX && fabs(xyz[3 * i + 1]) <= BOX_HY;
  double pt = 4 * BOX_HX * BOX_HY / area_expected("rounded_box");
  assert_true(fabs((double)top / n - pt) < 4 * sqrt(pt * (1 - pt) / n));
  shape_free(&s);
  free(xyz);
  free(nrm);
}

static void test_shape_deterministic(void **state) {
  (void)state;
  double a[300], b[300], na[300], nb[300];
  shape_t s;
  rng_t r1, r2;
  assert_int_equal(shape_init(&s, "vase"), AD3D_OK);
  rng_seed(&r1, 5);
  rng_seed(&r2, 5);
  shape_sample(&s, 100, &r1, a, na);
  shape_sample(&s, 100, &r2, b, nb);
  assert_memory_equal(a, b, sizeof a);
  assert_memory_equal(na, nb, sizeof na);
  shape_free(&s);
}

/* A flat grid z = 0 (normals +z) of 101 x 101 points over [-0.5, 0.5]^2, plus an underside copy at
 * z = -0.01 with normals -z (a thin plate the defect must not reach through). */
static int64_t plate(double *xyz, double *nrm) {
  int64_t k = 0;
  for (int side = 0; side < 2; side++)
    for (int i = 0; i <= 100; i++)
      for (int j = 0; j <= 100; j++, k++) {
        xyz[3 * k] = -0.5 + 0.01 * i;
        xyz[3 * k + 1] = -0.5 + 0.01 * j;
        xyz[3 * k + 2] = side ? -0.01 : 0.0;
        nrm[3 * k] = nrm[3 * k + 1] = 0;
        nrm[3 * k + 2] = side ? -1.0 : 1.0;
      }
  return k;
}

static void test_defect_bulge_concavity(void **state) {
  (void)state;
  enum { N = 2 * 101 * 101 };
  double *xyz = malloc(N * 3 * sizeof *xyz), *nrm = malloc(N * 3 * sizeof *nrm), *orig = malloc(N * 3 * sizeof *xyz);
  uint8_t *lab = malloc(N);
  for (int kind = 0; kind < 2; kind++) {
    int64_t n = plate(xyz, nrm);
    memcpy(orig, xyz, N * 3 * sizeof *xyz);
    defect_t d = {kind ? DEFECT_CONCAVITY : DEFECT_BULGE, {0.1, 0, 0}, {0, 0, 1}, 0.2, 0.08, 0.008, 0};
    defect_apply(&d, &n, xyz, nrm, lab);
    assert_int_equal(n, N);
    /* labelled iff A (1 - s^2)^2 > thr, i.e. r < R sqrt(1 - sqrt(thr / A)) */
    double rlab = 0.2 * sqrt(1.0 - sqrt(0.008 / 0.08));
    int64_t nlab = 0;
    for (int64_t i = 0; i < n; i++) {
      const double *o = orig + 3 * i;
      double r = hypot(o[0] - 0.1, o[1]);
      double want = 0;
      if (o[2] == 0.0 && r < 0.2)
        want = 0.08 * pow(1.0 - r * r / 0.04, 2);
      double dz = xyz[3 * i + 2] - o[2];
      assert_true(fabs(dz - (kind ? -want : want)) < 1e-12);
      assert_true(xyz[3 * i] == o[0] && xyz[3 * i + 1] == o[1]);
      if (o[2] == 0.0 && r < rlab - 1e-9)
        assert_int_equal(lab[i], 1);
      if (o[2] != 0.0 || r > rlab + 1e-9)
        assert_int_equal(lab[i], 0);
      nlab += lab[i];
    }
    assert_true(nlab > 0);
  }
  free(xyz);
  free(nrm);
  free(orig);
  free(lab);
}

static void test_defect_hole(void **state) {
  (void)state;
  enum { N = 2 * 101 * 101 };
  double *xyz = malloc(N * 3 * sizeof *xyz), *nrm = malloc(N * 3 * sizeof *nrm);
  uint8_t *lab = malloc(N);
  int64_t n = plate(xyz, nrm);
  defect_t d = {DEFECT_HOLE, {0, 0, 0}, {0, 0, 1}, 0.15, 0, 0, 0.05};
  int64_t removed = 0, ring = 0;
  for (int64_t i = 0; i < n; i++) {
    double r = hypot(xyz[3 * i], xyz[3 * i + 1]);
    if (xyz[3 * i + 2] == 0.0) {
      removed += r < 0.15;
      ring += r >= 0.15 && r < 0.2;
    }
  }
  defect_apply(&d, &n, xyz, nrm, lab);
  assert_int_equal(n, N - removed);
  int64_t nlab = 0;
  for (int64_t i = 0; i < n; i++) {
    double r = hypot(xyz[3 * i], xyz[3 * i + 1]);
    int top = xyz[3 * i + 2] == 0.0;
    assert_false(top && r < 0.15);
    assert_int_equal(lab[i], top && r < 0.2);
    assert_true(nrm[3 * i + 2] == (top ? 1.0 : -1.0)); /* normals travel with their points */
    nlab += lab[i];
  }
  assert_int_equal(nlab, ring);
  free(xyz);
  free(nrm);
  free(lab);
}

static void test_defect_names(void **state) {
  (void)state;
  defect_kind k;
  assert_int_equal(defect_kind_parse("hole", &k), AD3D_OK);
  assert_int_equal(k, DEFECT_HOLE);
  assert_string_equal(defect_kind_name(DEFECT_CONCAVITY), "concavity");
  assert_int_equal(defect_kind_parse("crack", &k), AD3D_ENOTFOUND);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shape_areas),
      cmocka_unit_test(test_shape_points_and_normals),
      cmocka_unit_test(test_shape_uniform),
      cmocka_unit_test(test_shape_deterministic),
      cmocka_unit_test(test_defect_bulge_concavity),
      cmocka_unit_test(test_defect_hole),
      cmocka_unit_test(test_defect_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
