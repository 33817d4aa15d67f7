/* test_normals.c - the 3x3 eigen-solver, PCA normals and curvature.
 *
 * Oracles: a cyclic Jacobi eigen-solver written here (slow, obviously convergent) for eig3_sym and for
 * the curvature of brute-force neighbourhoods; shapes with known answers (plane: the plane's normal and
 * curvature 0; sphere and cylinder: the radial direction, and on a sphere the small-cap surface
 * variation r^2 / (24 R^2)); Open3D 0.16's estimate_normals (tests/fixtures/geom/fpfh_cloud.txt, made
 * by make_fpfh_fixture.py) over hybrid, kNN and radius neighbourhoods, signs included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "geom/eig3.h"
#include "geom/normals.h"

#include "geom_fixture.h"

/* ---- Jacobi reference ------------------------------------------------------------------------- */

/* Eigenvalues (ascending) and eigenvectors (rows) of the symmetric a (3, 3) by cyclic Jacobi sweeps. */
static void jacobi3(const double a_in[3][3], double eval[3], double evec[3][3]) {
  double a[3][3], v[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
  memcpy(a, a_in, sizeof a);
  for (int sweep = 0; sweep < 100; sweep++) {
    double off = a[0][1] * a[0][1] + a[0][2] * a[0][2] + a[1][2] * a[1][2];
    if (off == 0.0)
      break;
    for (int p = 0; p < 2; p++)
      for (int q = p + 1; q < 3; q++) {
        if (a[p][q] == 0.0)
          continue;
        double theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
        double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
        double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
        for (int k = 0; k < 3; k++) { /* a = J^T a J */
          double akp = a[k][p], akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (int k = 0; k < 3; k++) {
          double apk = a[p][k], aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (int k = 0; k < 3; k++) {
          double vkp = v[k][p], vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
  }
  int order[3] = {0, 1, 2};
  for (int i = 0; i < 3; i++)
    for (int j = i + 1; j < 3; j++)
      if (a[order[j]][order[j]] < a[order[i]][order[i]]) {
        int tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
      }
  for (int i = 0; i < 3; i++) {
    eval[i] = a[order[i]][order[i]];
    for (int k = 0; k < 3; k++)
      evec[i][k] = v[k][order[i]];
  }
}

/* Check eig3_sym on the matrix m: eigenvalues as Jacobi's, A v = lambda v, orthonormal vectors, and the
 * smallest eigenvector parallel to Jacobi's when the smallest eigenvalue is simple. */
static void check_eig(const double m[3][3]) {
  double a6[6] = {m[0][0], m[0][1], m[0][2], m[1][1], m[1][2], m[2][2]};
  double ev[3], vec[3][3], jev[3], jvec[3][3];
  eig3_sym(a6, ev, vec);
  jacobi3(m, jev, jvec);
  double scale = 0.0;
  for (int i = 0; i < 3; i++)
    for (int k = 0; k < 3; k++)
      scale = fmax(scale, fabs(m[i][k]));
  double tol = 1e-12 * (scale > 0 ? scale : 1.0);
  for (int i = 0; i < 3; i++) {
    if (fabs(ev[i] - jev[i]) > tol)
      fail_msg("eigenvalue %d: %.17g, Jacobi %.17g", i, ev[i], jev[i]);
    if (i > 0)
      assert_true(ev[i] >= ev[i - 1]);
    /* an eigenvector is exact to rounding when its eigenvalue is isolated; inside a nearly repeated
     * pair (gap g) it is exact to ~1e-8 |A| / g, a residual of ~1e-8 |A| */
    double gap = INFINITY;
    for (int j = 0; j < 3; j++)
      if (j != i)
        gap = fmin(gap, fabs(jev[j] - jev[i]));
    double rtol = gap > 1e-2 * scale ? 1e-11 * (scale > 0 ? scale : 1.0) : 1e-7 * scale;
    for (int r = 0; r < 3; r++) {
      double av = m[r][0] * vec[i][0] + m[r][1] * vec[i][1] + m[r][2] * vec[i][2];
      if (fabs(av - ev[i] * vec[i][r]) > rtol)
        fail_msg("eigenpair %d (gap %.3g): residual %.3g at row %d", i, gap, fabs(av - ev[i] * vec[i][r]), r);
    }
    for (int j = 0; j < 3; j++) {
      double d = vec[i][0] * vec[j][0] + vec[i][1] * vec[j][1] + vec[i][2] * vec[j][2];
      assert_true(fabs(d - (i == j ? 1.0 : 0.0)) < 1e-9);
    }
  }
  if (jev[1] - jev[0] > 1e-6 * (scale > 0 ? scale : 1.0)) {
    double d = fabs(vec[0][0] * jvec[0][0] + vec[0][1] * jvec[0][1] + vec[0][2] * jvec[0][2]);
    if (d < 1.0 - 1e-9)
      fail_msg("smallest eigenvector differs from Jacobi's: |dot| = %.12f", d);
  }
}

static void random_rotation(rng_t *r, double q[3][3]) {
  /* Gram-Schmidt of a Gaussian matrix */
  for (int i = 0; i < 3; i++) {
    for (int k = 0; k < 3; k++)
      q[i][k] = rng_normal(r);
    for (int j = 0; j < i; j++) {
      double d = q[i][0] * q[j][0] + q[i][1] * q[j][1] + q[i][2] * q[j][2];
      for (int k = 0; k < 3; k++)
        q[i][k] -= d * q[j][k];
    }
    double len = sqrt(q[i][0] * q[i][0] + q[i][1] * q[i][1] + q[i][2] * q[i][2]);
    for (int k = 0; k < 3; k++)
      q[i][k] /= len;
  }
}

/* m = Q^T diag(l) Q */
static void compose(double q[3][3], const double l[3], double m[3][3]) {
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 3; c++)
      m[r][c] = l[0] * q[0][r] * q[0][c] + l[1] * q[1][r] * q[1][c] + l[2] * q[2][r] * q[2][c];
}

static void test_eig3_against_jacobi(void **state) {
  (void)state;
  rng_t r;
  rng_seed(&r, 31);
  double m[3][3], q[3][3];
  for (int it = 0; it < 2000; it++) { /* general symmetric, any signs */
    for (int i = 0; i < 3; i++)
      for (int k = i; k < 3; k++)
        m[i][k] = m[k][i] = rng_normal(&r);
    check_eig(m);
  }
  const double spectra[][3] = {
      {0.0, 1.0, 2.0},    {1e-9, 1.0, 1.0}, {0.0, 0.0, 1.0},  {1.0, 1.0, 1.0001}, {0.5, 0.5, 0.5},
      {1e-12, 1e-6, 1.0}, {3.0, 3.0, 3.0},  {-2.0, 0.0, 2.0}, {1e6, 2e6, 3e6},    {1e-8, 2e-8, 5e-8},
  };
  for (size_t s = 0; s < sizeof spectra / sizeof *spectra; s++)
    for (int it = 0; it < 50; it++) {
      random_rotation(&r, q);
      compose(q, spectra[s], m);
      check_eig(m);
    }
  /* diagonal matrices, zero, and the rule "smallest strictly, else z" */
  const double zero[3][3] = {{0}}, diag[3][3] = {{2, 0, 0}, {0, 1, 0}, {0, 0, 3}};
  check_eig(zero);
  check_eig(diag);
  double a6[6] = {0}, ev[3], vec[3][3];
  eig3_sym(a6, ev, vec);
  assert_true(vec[0][0] == 0.0 && vec[0][1] == 0.0 && vec[0][2] == 1.0);
  a6[0] = 2.0, a6[3] = 1.0, a6[5] = 3.0;
  eig3_sym(a6, ev, vec);
  assert_true(vec[0][1] == 1.0 && ev[0] == 1.0 && ev[1] == 2.0 && ev[2] == 3.0);
}

/* ---- shapes ------------------------------------------------------------------------------------ */

/* n points of a plane through c with unit normal nrm: random in-plane coordinates in [-1, 1]^2. */
static void make_plane(rng_t *r, int64_t n, const double c[3], const double nrm[3], float *pts) {
  double u[3], v[3];
  double a[3] = {fabs(nrm[0]) < 0.9 ? 1.0 : 0.0, fabs(nrm[0]) < 0.9 ? 0.0 : 1.0, 0.0};
  u[0] = a[1] * nrm[2] - a[2] * nrm[1];
  u[1] = a[2] * nrm[0] - a[0] * nrm[2];
  u[2] = a[0] * nrm[1] - a[1] * nrm[0];
  double lu = sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]);
  for (int k = 0; k < 3; k++)
    u[k] /= lu;
  v[0] = nrm[1] * u[2] - nrm[2] * u[1];
  v[1] = nrm[2] * u[0] - nrm[0] * u[2];
  v[2] = nrm[0] * u[1] - nrm[1] * u[0];
  for (int64_t i = 0; i < n; i++) {
    double s = rng_uniform(r) * 2 - 1, t = rng_uniform(r) * 2 - 1;
    for (int k = 0; k < 3; k++)
      pts[3 * i + k] = (float)(c[k] + s * u[k] + t * v[k]);
  }
}

static void test_normals_plane(void **state) {
  (void)state;
  rng_t r;
  rng_seed(&r, 41);
  const int64_t n = 3000;
  float *pts = malloc(sizeof *pts * 3 * n), *nrm = malloc(sizeof *nrm * 3 * n), *curv = malloc(sizeof *curv * n);
  assert_true(pts && nrm && curv);
  const double c[3] = {0.3, -0.2, 0.1};
  double pn[3] = {1.0, 2.0, 2.0};
  for (int k = 0; k < 3; k++)
    pn[k] /= 3.0;
  make_plane(&r, n, c, pn, pts);
  const nbhd_t nbs[3] = {nbhd_knn(16), nbhd_radius(0.08), nbhd_hybrid(0.1, 30)};
  for (int s = 0; s < 3; s++) {
    normals_opts o = {.nb = nbs[s], .orient = NORMALS_ORIENT_DIRECTION, .ref = {0.0, 0.0, 1.0}};
    assert_int_equal(normals_estimate(pts, n, NULL, &o, nrm, curv), AD3D_OK);
    for (int64_t i = 0; i < n; i++) {
      double d = nrm[3 * i] * pn[0] + nrm[3 * i + 1] * pn[1] + nrm[3 * i + 2] * pn[2];
      if (d < 1.0 - 1e-5) /* oriented along +z, as pn is */
        fail_msg("plane, neighbourhood %d, point %lld: normal . plane normal = %.9f", s, (long long)i, d);
      if (!(curv[i] >= 0.0f && curv[i] < 1e-6f))
        fail_msg("plane, neighbourhood %d, point %lld: curvature %g", s, (long long)i, curv[i]);
    }
  }
  free(pts);
  free(nrm);
  free(curv);
}

/* Uniform points on the sphere (centre c, radius R): normals radial (outward with the centroid rule),
 * curvature over a radius-r neighbourhood ~ r^2 / (24 R^2) for small caps. */
static void test_normals_sphere(void **state) {
  (void)state;
  rng_t r;
  rng_seed(&r, 42);
  const int64_t n = 20000;
  const double c[3] = {1.0, -2.0, 0.5}, R = 1.0, rad = 0.2;
  float *pts = malloc(sizeof *pts * 3 * n), *nrm = malloc(sizeof *nrm * 3 * n), *curv = malloc(sizeof *curv * n);
  assert_true(pts && nrm && curv);
  for (int64_t i = 0; i < n; i++) {
    double g[3] = {rng_normal(&r), rng_normal(&r), rng_normal(&r)};
    double l = sqrt(g[0] * g[0] + g[1] * g[1] + g[2] * g[2]);
    for (int k = 0; k < 3; k++)
      pts[3 * i + k] = (float)(c[k] + R * g[k] / l);
  }
  normals_opts o = {.nb = nbhd_radius(rad), .orient = NORMALS_ORIENT_CENTROID};
  assert_int_equal(normals_estimate(pts, n, NULL, &o, nrm, curv), AD3D_OK);
  double mean_c = 0.0, worst = 1.0;
  for (int64_t i = 0; i < n; i++) {
    double d = 0.0;
    for (int k = 0; k < 3; k++)
      d += nrm[3 * i + k] * (pts[3 * i + k] - c[k]) / R;
    worst = fmin(worst, d);
    mean_c += curv[i];
  }
  mean_c /= (double)n;
  double want = rad * rad / (24.0 * R * R);
  print_message("sphere: worst normal . radial = %.6f, mean curvature %.6f (small-cap value %.6f)\n", worst, mean_c,
                want);
  assert_true(worst > 0.995);
  assert_true(fabs(mean_c - want) < 0.05 * want);
  free(pts);
  free(nrm);
  free(curv);
}

static void test_normals_cylinder(void **state) {
  (void)state;
  rng_t r;
  rng_seed(&r, 43);
  const int64_t n = 8000;
  const double rho = 0.5;
  float *pts = malloc(sizeof *pts * 3 * n), *nrm = malloc(sizeof *nrm * 3 * n), *curv = malloc(sizeof *curv * n);
  assert_true(pts && nrm && curv);
  for (int64_t i = 0; i < n; i++) {
    double a = rng_uniform(&r) * 2 * M_PI, z = rng_uniform(&r) * 4 - 2;
    pts[3 * i] = (float)(rho * cos(a));
    pts[3 * i + 1] = (float)(rho * sin(a));
    pts[3 * i + 2] = (float)z;
  }
  normals_opts o = {.nb = nbhd_knn(24), .orient = NORMALS_ORIENT_CENTROID};
  assert_int_equal(normals_estimate(pts, n, NULL, &o, nrm, curv), AD3D_OK);
  double worst = 1.0;
  for (int64_t i = 0; i < n; i++) {
    double d = (nrm[3 * i] * pts[3 * i] + nrm[3 * i + 1] * pts[3 * i + 1]) / rho;
    worst = fmin(worst, d);
    assert_true(curv[i] > 0.0f && curv[i] < 0.05f);
  }
  print_message("cylinder: worst normal . radial = %.6f\n", worst);
  assert_true(worst > 0.995);
  free(pts);
  free(nrm);
  free(curv);
}

/* ---- brute force + Jacobi on a noisy cloud ------------------------------------------------------ */

static void test_normals_brute_force(void **state) {
  (void)state;
  rng_t r;
  rng_seed(&r, 44);
  const int64_t n = 600;
  const int k = 12;
  float *pts = malloc(sizeof *pts * 3 * n), *nrm = malloc(sizeof *nrm * 3 * n), *curv = malloc(sizeof *curv * n);
  double *d2 = malloc(sizeof *d2 * n);
  int64_t *ord = malloc(sizeof *ord * n);
  assert_true(pts && nrm && curv && d2 && ord);
  for (int64_t i = 0; i < n; i++) { /* a wavy sheet with noise, 100 units from the origin */
    double x = rng_uniform(&r), y = rng_uniform(&r);
    pts[3 * i] = (float)(100.0 + x);
    pts[3 * i + 1] = (float)(y - 50.0);
    pts[3 * i + 2] = (float)(0.1 * sin(6 * x) + 0.02 * rng_normal(&r));
  }
  normals_opts o = {.nb = nbhd_knn(k), .orient = NORMALS_ORIENT_NONE};
  assert_int_equal(normals_estimate(pts, n, NULL, &o, nrm, curv), AD3D_OK);
  for (int64_t i = 0; i < n; i++) {
    /* the k nearest by selection on double distances (no ties in random data) */
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int a = 0; a < 3; a++)
        s += ((double)pts[3 * j + a] - pts[3 * i + a]) * ((double)pts[3 * j + a] - pts[3 * i + a]);
      d2[j] = s;
      ord[j] = j;
    }
    for (int a = 0; a < k; a++)
      for (int64_t j = a + 1; j < n; j++)
        if (d2[ord[j]] < d2[ord[a]]) {
          int64_t t = ord[a];
          ord[a] = ord[j];
          ord[j] = t;
        }
    double mean[3] = {0, 0, 0}, cov[3][3] = {{0}};
    for (int a = 0; a < k; a++)
      for (int c = 0; c < 3; c++)
        mean[c] += pts[3 * ord[a] + c] / (double)k;
    for (int a = 0; a < k; a++)
      for (int c = 0; c < 3; c++)
        for (int e = 0; e < 3; e++)
          cov[c][e] += (pts[3 * ord[a] + c] - mean[c]) * (pts[3 * ord[a] + e] - mean[e]) / (double)k;
    double ev[3], vec[3][3];
    jacobi3(cov, ev, vec);
    double want_c = ev[0] / (ev[0] + ev[1] + ev[2]);
    double dot = fabs(vec[0][0] * nrm[3 * i] + vec[0][1] * nrm[3 * i + 1] + vec[0][2] * nrm[3 * i + 2]);
    if (fabs(curv[i] - want_c) > 1e-6 || dot < 1.0 - 1e-6)
      fail_msg("point %lld: curvature %.8f (reference %.8f), |normal . reference| = %.9f", (long long)i, curv[i],
               want_c, dot);
  }
  free(pts);
  free(nrm);
  free(curv);
  free(d2);
  free(ord);
}

/* ---- Open3D ------------------------------------------------------------------------------------- */

static void test_normals_open3d(void **state) {
  (void)state;
  fixture_table t = fixture_read("fpfh_cloud.txt");
  assert_int_equal(t.cols, 12);
  int64_t n = t.rows;
  float *pts = malloc(sizeof *pts * 3 * n), *nrm = malloc(sizeof *nrm * 3 * n);
  assert_true(pts && nrm);
  for (int64_t i = 0; i < n; i++)
    for (int a = 0; a < 3; a++)
      pts[3 * i + a] = (float)fixture_at(&t, (int)i, a);
  const nbhd_t nbs[3] = {nbhd_hybrid(0.25, 30), nbhd_knn(20), nbhd_radius(0.25)};
  const char *names[3] = {"hybrid", "knn", "radius"};
  for (int s = 0; s < 3; s++) {
    normals_opts o = {.nb = nbs[s], .orient = NORMALS_ORIENT_NONE};
    assert_int_equal(normals_estimate(pts, n, NULL, &o, nrm, NULL), AD3D_OK);
    double worst = 1.0;
    for (int64_t i = 0; i < n; i++) {
      double d = 0.0;
      for (int a = 0; a < 3; a++)
        d += nrm[3 * i + a] * fixture_at(&t, (int)i, 3 + 3 * s + a);
      worst = fmin(worst, d);
    }
    print_message("Open3D normals, %s: worst dot (signs included) %.9f\n", names[s], worst);
    if (worst < 1.0 - 1e-6)
      fail_msg("%s neighbourhoods: a normal differs from Open3D's (dot %.9f)", names[s], worst);
  }
  fixture_free(&t);
  free(pts);
  free(nrm);
}

/* ---- orientation, degenerate input, errors ----------------------------------------------------- */

static void test_normals_orientation(void **state) {
  (void)state;
  rng_t r;
  rng_seed(&r, 45);
  const int64_t n = 500;
  float *pts = malloc(sizeof *pts * 3 * n), *a = malloc(sizeof *a * 3 * n), *b = malloc(sizeof *b * 3 * n);
  assert_true(pts && a && b);
  const double c[3] = {0, 0, 0}, pn[3] = {0, 0, 1};
  make_plane(&r, n, c, pn, pts);
  normals_opts o = {.nb = nbhd_knn(10), .orient = NORMALS_ORIENT_NONE};
  assert_int_equal(normals_estimate(pts, n, NULL, &o, a, NULL), AD3D_OK);
  /* viewpoint below the plane: every normal points down */
  o.orient = NORMALS_ORIENT_VIEWPOINT;
  o.ref[0] = 0.2, o.ref[1] = 0.1, o.ref[2] = -3.0;
  assert_int_equal(normals_estimate(pts, n, NULL, &o, b, NULL), AD3D_OK);
  for (int64_t i = 0; i < n; i++)
    assert_true(b[3 * i + 2] < -0.999f);
  normals_orient_apply(pts, n, NORMALS_ORIENT_VIEWPOINT, o.ref, a);
  assert_memory_equal(a, b, sizeof *a * 3 * n);
  /* direction +z: all up */
  const double up[3] = {0, 0, 1};
  normals_orient_apply(pts, n, NORMALS_ORIENT_DIRECTION, up, a);
  for (int64_t i = 0; i < n; i++)
    assert_true(a[3 * i + 2] > 0.999f);
  /* centroid rule on a closed shape (unit sphere points): outward */
  for (int64_t i = 0; i < n; i++) {
    double g[3] = {rng_normal(&r), rng_normal(&r), rng_normal(&r)};
    double l = sqrt(g[0] * g[0] + g[1] * g[1] + g[2] * g[2]);
    for (int k = 0; k < 3; k++) {
      pts[3 * i + k] = (float)(5.0 + g[k] / l);
      a[3 * i + k] = (float)(-g[k] / l); /* inward */
    }
  }
  normals_orient_apply(pts, n, NORMALS_ORIENT_CENTROID, NULL, a);
  for (int64_t i = 0; i < n; i++) {
    float out = 0.0f; /* normal . outward radial direction */
    for (int k = 0; k < 3; k++)
      out += a[3 * i + k] * (pts[3 * i + k] - 5.0f);
    assert_true(out > 0.99f);
  }
  free(pts);
  free(a);
  free(b);
}

static void test_normals_degenerate_and_errors(void **state) {
  (void)state;
  /* two points (fewer than 3 neighbours), then 4 coincident points */
  const float two[6] = {0, 0, 0, 1, 1, 1};
  float nrm[12], curv[4];
  normals_opts o = {.nb = nbhd_knn(8), .orient = NORMALS_ORIENT_NONE};
  assert_int_equal(normals_estimate(two, 2, NULL, &o, nrm, curv), AD3D_OK);
  for (int i = 0; i < 2; i++)
    assert_true(nrm[3 * i] == 0.0f && nrm[3 * i + 1] == 0.0f && nrm[3 * i + 2] == 1.0f && curv[i] == 0.0f);
  const float same[12] = {1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3};
  assert_int_equal(normals_estimate(same, 4, NULL, &o, nrm, curv), AD3D_OK);
  for (int i = 0; i < 4; i++)
    assert_true(nrm[3 * i + 2] == 1.0f && curv[i] == 0.0f);
  /* a line: curvature 0, a normal orthogonal to it */
  const float line[12] = {0, 0, 0, 1, 1, 0, 2, 2, 0, 3, 3, 0};
  assert_int_equal(normals_estimate(line, 4, NULL, &o, nrm, curv), AD3D_OK);
  for (int i = 0; i < 4; i++) {
    assert_true(fabsf(nrm[3 * i] + nrm[3 * i + 1]) < 1e-6f);
    assert_true(curv[i] == 0.0f);
  }
  /* curvature only */
  assert_int_equal(normals_estimate(line, 4, NULL, &o, NULL, curv), AD3D_OK);
  /* errors */
  o.nb = nbhd_radius(0.0);
  assert_int_equal(normals_estimate(line, 4, NULL, &o, nrm, curv), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "normals"));
  o.nb = nbhd_knn(3);
  o.orient = (normals_orient)17;
  assert_int_equal(normals_estimate(line, 4, NULL, &o, nrm, curv), AD3D_EINVAL);
  o.orient = NORMALS_ORIENT_VIEWPOINT;
  o.ref[0] = NAN;
  assert_int_equal(normals_estimate(line, 4, NULL, &o, nrm, curv), AD3D_EINVAL);
  o.orient = NORMALS_ORIENT_NONE;
  kdtree *t = NULL;
  assert_int_equal(kdtree_build(line, 3, &t), AD3D_OK);
  assert_int_equal(normals_estimate(line, 4, t, &o, nrm, curv), AD3D_EINVAL);
  kdtree_free(t);
  assert_int_equal(normals_estimate(NULL, 0, NULL, &o, nrm, NULL), AD3D_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_eig3_against_jacobi), cmocka_unit_test(test_normals_plane),
      cmocka_unit_test(test_normals_sphere),      cmocka_unit_test(test_normals_cylinder),
      cmocka_unit_test(test_normals_brute_force), cmocka_unit_test(test_normals_open3d),
      cmocka_unit_test(test_normals_orientation), cmocka_unit_test(test_normals_degenerate_and_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
