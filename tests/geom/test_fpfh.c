/* test_fpfh.c - FPFH against Open3D 0.16 and against its own invariants.
 *
 * Oracles: tests/fixtures/geom/fpfh_*.txt, made by make_fpfh_fixture.py with Open3D 0.16 on a 500-point
 * noisy surface (see the script): the FPFH from Open3D's own normals (stored in the fixture) over
 * hybrid, radius and kNN neighbourhoods; and the FPFH from normals that ad3d estimates itself,
 * unoriented (Open3D's sign convention) and oriented towards a viewpoint. Values must agree to 1e-4.
 * Also: pair features of hand-worked configurations, the block sums (SPFH blocks sum to 100, so FPFH
 * blocks sum to 200), and invariance to a rigid motion.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "geom/fpfh.h"
#include "geom/normals.h"

#include "geom_fixture.h"

/* Parameters of make_fpfh_fixture.py. */
#define FIX_RN 0.25
#define FIX_KN 20
#define FIX_RF 0.4
#define FIX_KF 40
static const double fix_cam[3] = {0.3, -0.2, 5.0};

typedef struct {
  int64_t n;
  float *pts;     /* (n, 3) */
  float *normals; /* (n, 3) Open3D's hybrid normals */
} fix_cloud;

static fix_cloud load_cloud(void) {
  fixture_table t = fixture_read("fpfh_cloud.txt");
  assert_int_equal(t.cols, 12);
  fix_cloud c = {t.rows, malloc(sizeof(float) * 3 * (size_t)t.rows), malloc(sizeof(float) * 3 * (size_t)t.rows)};
  assert_non_null(c.pts);
  assert_non_null(c.normals);
  for (int i = 0; i < t.rows; i++)
    for (int a = 0; a < 3; a++) {
      c.pts[3 * i + a] = (float)fixture_at(&t, i, a);
      c.normals[3 * i + a] = (float)fixture_at(&t, i, 3 + a);
    }
  fixture_free(&t);
  return c;
}

static void free_cloud(fix_cloud *c) {
  free(c->pts);
  free(c->normals);
}

/* Compare feat (n, 33) with the fixture rows "index f0..f32" (or plain 33 columns for all points). */
static void expect_fixture(const float *feat, int64_t n, const char *name, double tol) {
  fixture_table t = fixture_read(name);
  assert_int_equal(t.cols, 1 + FPFH_DIM);
  double worst = 0.0;
  int worst_row = -1, worst_bin = -1;
  for (int r = 0; r < t.rows; r++) {
    int64_t i = (int64_t)fixture_at(&t, r, 0);
    assert_true(i >= 0 && i < n);
    for (int b = 0; b < FPFH_DIM; b++) {
      double d = fabs((double)feat[FPFH_DIM * i + b] - fixture_at(&t, r, 1 + b));
      if (d > worst) {
        worst = d;
        worst_row = (int)i;
        worst_bin = b;
      }
    }
  }
  print_message("%s: %d points, max |ours - Open3D| = %.3g\n", name, t.rows, worst);
  if (worst > tol)
    fail_msg("%s: point %d bin %d: |ours - Open3D| = %.3g > %.1g (ours %.7g)", name, worst_row, worst_bin, worst, tol,
             feat[FPFH_DIM * worst_row + worst_bin]);
  fixture_free(&t);
}

static void fpfh_vs_fixture(const nbhd_t nb, const char *name) {
  fix_cloud c = load_cloud();
  float *feat = malloc(sizeof *feat * FPFH_DIM * (size_t)c.n);
  assert_non_null(feat);
  assert_int_equal(fpfh_compute(c.pts, c.normals, c.n, NULL, &nb, feat), AD3D_OK);
  expect_fixture(feat, c.n, name, 1e-4);
  free(feat);
  free_cloud(&c);
}

static void test_fpfh_open3d_hybrid(void **state) {
  (void)state;
  fpfh_vs_fixture(nbhd_hybrid(FIX_RF, 100), "fpfh_hybrid.txt");
}

static void test_fpfh_open3d_radius(void **state) {
  (void)state;
  fpfh_vs_fixture(nbhd_radius(FIX_RF), "fpfh_radius.txt");
}

static void test_fpfh_open3d_knn(void **state) {
  (void)state;
  fpfh_vs_fixture(nbhd_knn(FIX_KF), "fpfh_knn.txt");
}

/* Normals estimated here: unoriented (must carry Open3D's signs) and oriented towards the camera. */
static void own_normals_case(normals_orient orient, const char *name) {
  fix_cloud c = load_cloud();
  float *nrm = malloc(sizeof *nrm * 3 * (size_t)c.n);
  float *feat = malloc(sizeof *feat * FPFH_DIM * (size_t)c.n);
  assert_non_null(nrm);
  assert_non_null(feat);
  kdtree *t = NULL;
  assert_int_equal(kdtree_build(c.pts, c.n, &t), AD3D_OK);
  normals_opts no = {.nb = nbhd_hybrid(FIX_RN, 30), .orient = orient};
  memcpy(no.ref, fix_cam, sizeof no.ref);
  assert_int_equal(normals_estimate(c.pts, c.n, t, &no, nrm, NULL), AD3D_OK);
  int flipped = 0;
  for (int64_t i = 0; i < c.n; i++) {
    double dot = 0.0;
    for (int a = 0; a < 3; a++)
      dot += (double)nrm[3 * i + a] * c.normals[3 * i + a];
    if (fabs(dot) < 1.0 - 1e-6)
      fail_msg("point %lld: normal differs from Open3D's beyond sign (|dot| = %.9f)", (long long)i, fabs(dot));
    flipped += dot < 0.0;
  }
  if (orient == NORMALS_ORIENT_NONE && flipped)
    fail_msg("%d of %lld unoriented normals have the opposite sign to Open3D's", flipped, (long long)c.n);
  const nbhd_t fnb = nbhd_hybrid(FIX_RF, 100);
  assert_int_equal(fpfh_compute(c.pts, nrm, c.n, t, &fnb, feat), AD3D_OK);
  expect_fixture(feat, c.n, name, 1e-4);
  kdtree_free(t);
  free(nrm);
  free(feat);
  free_cloud(&c);
}

static void test_fpfh_own_normals_unoriented(void **state) {
  (void)state;
  own_normals_case(NORMALS_ORIENT_NONE, "fpfh_hybrid.txt");
}

static void test_fpfh_own_normals_viewpoint(void **state) {
  (void)state;
  own_normals_case(NORMALS_ORIENT_VIEWPOINT, "fpfh_oriented.txt");
}

/* Hand-worked pair features. */
static void test_fpfh_pair_features(void **state) {
  (void)state;
  const double o[3] = {0.0, 0.0, 0.0}, x[3] = {2.0, 0.0, 0.0}, z[3] = {0.0, 0.0, 1.0};
  double f[4];
  /* both normals orthogonal to the line, parallel: all angles 0 */
  fpfh_pair(o, z, x, z, f);
  assert_true(fabs(f[0]) < 1e-15 && fabs(f[1]) < 1e-15 && fabs(f[2]) < 1e-15);
  assert_true(fabs(f[3] - 2.0) < 1e-15);
  /* target normal tilted by a towards the line: the roles swap (the target's normal is closer to the
   * line), u = n_t, dp = -x: theta = a, alpha = 0, phi = -sin a */
  const double a = 0.3, nt[3] = {sin(a), 0.0, cos(a)};
  fpfh_pair(o, z, x, nt, f);
  assert_true(fabs(f[0] - a) < 1e-12);
  assert_true(fabs(f[1]) < 1e-12);
  assert_true(fabs(f[2] + sin(a)) < 1e-12);
  /* twisted about the line: n_t = (0, -sin b, cos b); no swap (both orthogonal to the line);
   * u = z, v = x cross z / 1 = -y, w = z cross -y = x: theta = atan2(0, cos b) = 0, alpha = sin b */
  const double b = 0.4, nt2[3] = {0.0, -sin(b), cos(b)};
  fpfh_pair(o, z, x, nt2, f);
  assert_true(fabs(f[0]) < 1e-12);
  assert_true(fabs(f[1] - sin(b)) < 1e-12);
  assert_true(fabs(f[2]) < 1e-12);
  /* coincident points, and a line along the source normal: zeros */
  fpfh_pair(o, z, o, nt, f);
  assert_true(f[0] == 0.0 && f[1] == 0.0 && f[2] == 0.0 && f[3] == 0.0);
  fpfh_pair(o, z, z, z, f);
  assert_true(f[0] == 0.0 && f[1] == 0.0 && f[2] == 0.0);
}

/* Each 11-bin block of an FPFH sums to 200 (100 from the own SPFH, 100 from the rescaled sum) when
 * the point has neighbours at distance > 0, and to 0 for an isolated point. */
static void test_fpfh_block_sums(void **state) {
  (void)state;
  fix_cloud c = load_cloud();
  /* add an isolated point far away */
  int64_t n = c.n + 1;
  float *pts = malloc(sizeof *pts * 3 * (size_t)n), *nrm = malloc(sizeof *nrm * 3 * (size_t)n);
  float *feat = malloc(sizeof *feat * FPFH_DIM * (size_t)n);
  assert_non_null(pts);
  assert_non_null(nrm);
  assert_non_null(feat);
  memcpy(pts, c.pts, sizeof *pts * 3 * (size_t)c.n);
  memcpy(nrm, c.normals, sizeof *nrm * 3 * (size_t)c.n);
  const float far[3] = {50.0f, 50.0f, 50.0f}, up[3] = {0.0f, 0.0f, 1.0f};
  memcpy(pts + 3 * c.n, far, sizeof far);
  memcpy(nrm + 3 * c.n, up, sizeof up);
  const nbhd_t nb = nbhd_radius(0.3);
  assert_int_equal(fpfh_compute(pts, nrm, n, NULL, &nb, feat), AD3D_OK);
  for (int64_t i = 0; i < n; i++)
    for (int h = 0; h < 3; h++) {
      double s = 0.0;
      for (int b = 0; b < FPFH_BINS; b++) {
        float v = feat[FPFH_DIM * i + FPFH_BINS * h + b];
        assert_true(v >= 0.0f);
        s += v;
      }
      double want = i == c.n ? 0.0 : 200.0;
      if (fabs(s - want) > 1e-3)
        fail_msg("point %lld block %d sums to %.6f, want %.0f", (long long)i, h, s, want);
    }
  free(pts);
  free(nrm);
  free(feat);
  free_cloud(&c);
}

/* Rotate + translate the cloud (normals estimated on each copy, oriented towards the moved
 * viewpoint): the same features. Rounding of the moved coordinates (~1e-7) can move a pair feature
 * that sits on a bin edge into the next bin, so the check is on the whole matrix (relative L1 <= 1e-3)
 * and per point (relative L2 <= 1e-3) on all but 1% of the points. */
static void test_fpfh_rigid_motion(void **state) {
  (void)state;
  fix_cloud c = load_cloud();
  int64_t n = c.n;
  double axis[3] = {1.0, 2.0, 3.0}, ang = 0.7, len = sqrt(14.0);
  for (int a = 0; a < 3; a++)
    axis[a] /= len;
  /* Rodrigues' rotation matrix */
  double R[3][3], cs = cos(ang), sn = sin(ang);
  for (int r = 0; r < 3; r++)
    for (int k = 0; k < 3; k++)
      R[r][k] = (r == k ? cs : 0.0) + (1.0 - cs) * axis[r] * axis[k];
  R[0][1] -= sn * axis[2];
  R[1][0] += sn * axis[2];
  R[0][2] += sn * axis[1];
  R[2][0] -= sn * axis[1];
  R[1][2] -= sn * axis[0];
  R[2][1] += sn * axis[0];
  const double tr[3] = {3.0, -2.0, 1.5};
  float *moved = malloc(sizeof *moved * 3 * (size_t)n);
  float *n0 = malloc(sizeof *n0 * 3 * (size_t)n), *n1 = malloc(sizeof *n1 * 3 * (size_t)n);
  float *f0 = malloc(sizeof *f0 * FPFH_DIM * (size_t)n), *f1 = malloc(sizeof *f1 * FPFH_DIM * (size_t)n);
  assert_true(moved && n0 && n1 && f0 && f1);
  normals_opts o0 = {.nb = nbhd_hybrid(FIX_RN, 30), .orient = NORMALS_ORIENT_VIEWPOINT};
  normals_opts o1 = o0;
  for (int r = 0; r < 3; r++) {
    o0.ref[r] = fix_cam[r];
    o1.ref[r] = tr[r] + R[r][0] * fix_cam[0] + R[r][1] * fix_cam[1] + R[r][2] * fix_cam[2];
  }
  for (int64_t i = 0; i < n; i++)
    for (int r = 0; r < 3; r++) {
      const float *p = c.pts + 3 * i;
      moved[3 * i + r] = (float)(tr[r] + R[r][0] * p[0] + R[r][1] * p[1] + R[r][2] * p[2]);
    }
  const nbhd_t fnb = nbhd_hybrid(FIX_RF, 100);
  assert_int_equal(normals_estimate(c.pts, n, NULL, &o0, n0, NULL), AD3D_OK);
  assert_int_equal(normals_estimate(moved, n, NULL, &o1, n1, NULL), AD3D_OK);
  assert_int_equal(fpfh_compute(c.pts, n0, n, NULL, &fnb, f0), AD3D_OK);
  assert_int_equal(fpfh_compute(moved, n1, n, NULL, &fnb, f1), AD3D_OK);
  double diff_l1 = 0.0, ref_l1 = 0.0;
  int off = 0;
  for (int64_t i = 0; i < n; i++) {
    double d2 = 0.0, r2 = 0.0;
    for (int b = 0; b < FPFH_DIM; b++) {
      double d = (double)f1[FPFH_DIM * i + b] - f0[FPFH_DIM * i + b];
      diff_l1 += fabs(d);
      ref_l1 += fabs(f0[FPFH_DIM * i + b]);
      d2 += d * d;
      r2 += (double)f0[FPFH_DIM * i + b] * f0[FPFH_DIM * i + b];
    }
    off += sqrt(d2) > 1e-3 * sqrt(r2);
  }
  print_message("rigid motion: relative L1 change %.3g, %d of %lld points off by > 1e-3\n", diff_l1 / ref_l1, off,
                (long long)n);
  if (diff_l1 > 1e-3 * ref_l1 || off > n / 100)
    fail_msg("rigid motion changed the FPFH: relative L1 %.3g, %d of %lld points off by > 1e-3", diff_l1 / ref_l1, off,
             (long long)n);
  free(moved);
  free(n0);
  free(n1);
  free(f0);
  free(f1);
  free_cloud(&c);
}

static void test_fpfh_errors(void **state) {
  (void)state;
  const float pts[6] = {0, 0, 0, 1, 0, 0}, nrm[6] = {0, 0, 1, 0, 0, 1};
  float feat[2 * FPFH_DIM];
  const nbhd_t bad_k = nbhd_knn(0), bad_r = nbhd_radius(-1.0), bad_h = nbhd_hybrid(1.0, 0);
  assert_int_equal(fpfh_compute(pts, nrm, 2, NULL, &bad_k, feat), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "fpfh"));
  assert_int_equal(fpfh_compute(pts, nrm, 2, NULL, &bad_r, feat), AD3D_EINVAL);
  assert_int_equal(fpfh_compute(pts, nrm, 2, NULL, &bad_h, feat), AD3D_EINVAL);
  kdtree *t = NULL;
  assert_int_equal(kdtree_build(pts, 1, &t), AD3D_OK);
  const nbhd_t ok = nbhd_knn(2);
  assert_int_equal(fpfh_compute(pts, nrm, 2, t, &ok, feat), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "kd-tree"));
  kdtree_free(t);
  assert_int_equal(fpfh_compute(NULL, NULL, 0, NULL, &ok, NULL), AD3D_OK);
  /* two points, kNN 2: each SPFH has one pair, the FPFH = SPFH + rescaled neighbour SPFH */
  assert_int_equal(fpfh_compute(pts, nrm, 2, NULL, &ok, feat), AD3D_OK);
  for (int i = 0; i < 2; i++) /* both pairs: theta = alpha = phi = 0 -> bin 5 of each block */
    for (int b = 0; b < FPFH_DIM; b++)
      assert_true(fabsf(feat[FPFH_DIM * i + b] - (b % FPFH_BINS == 5 ? 200.0f : 0.0f)) < 1e-4f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fpfh_pair_features),
      cmocka_unit_test(test_fpfh_open3d_hybrid),
      cmocka_unit_test(test_fpfh_open3d_radius),
      cmocka_unit_test(test_fpfh_open3d_knn),
      cmocka_unit_test(test_fpfh_own_normals_unoriented),
      cmocka_unit_test(test_fpfh_own_normals_viewpoint),
      cmocka_unit_test(test_fpfh_block_sums),
      cmocka_unit_test(test_fpfh_rigid_motion),
      cmocka_unit_test(test_fpfh_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
