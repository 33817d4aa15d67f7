/* test_register.c - registration: the least-squares rigid fit against numpy's SVD (Umeyama) solution
 * (fixtures/geom/make_register_fixture.py), correspondences and the mutual filter against brute force,
 * and RANSAC + ICP recovering known random rigid transforms from noisy, partial, independently sampled
 * copies of an irregular closed surface. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/rng.h"
#include "geom/nnsearch.h"
#include "geom/register.h"

static FILE *open_fixture(const char *name) {
  const char *root = getenv("AD3D_FIXTURES");
  char path[1024];
  snprintf(path, sizeof path, "%s/geom/%s", root && *root ? root : AD3D_FIXTURES, name);
  FILE *f = fopen(path, "r");
  if (!f)
    fail_msg("cannot open %s", path);
  return f;
}

/* A uniformly random rotation (from a random unit quaternion) and a translation in [-1, 1]^3. */
static void random_rigid(rng_t *r, double T[4][4]) {
  double q[4], n = 0;
  for (int i = 0; i < 4; i++)
    q[i] = rng_normal(r), n += q[i] * q[i];
  n = sqrt(n);
  double w = q[0] / n, x = q[1] / n, y = q[2] / n, z = q[3] / n;
  double R[3][3] = {
      {1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)},
      {2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)},
      {2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)},
  };
  for (int a = 0; a < 3; a++) {
    for (int b = 0; b < 3; b++)
      T[a][b] = R[a][b];
    T[a][3] = 2 * rng_uniform(r) - 1;
  }
  T[3][0] = T[3][1] = T[3][2] = 0, T[3][3] = 1;
}

static void invert_rigid(const double T[4][4], double I[4][4]) {
  for (int a = 0; a < 3; a++) {
    I[a][3] = 0;
    for (int b = 0; b < 3; b++)
      I[a][b] = T[b][a];
  }
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 3; b++)
      I[a][3] -= T[b][a] * T[b][3];
  I[3][0] = I[3][1] = I[3][2] = 0, I[3][3] = 1;
}

static void test_kabsch_matches_umeyama(void **unused) {
  (void)unused;
  FILE *f = open_fixture("register_kabsch.txt");
  int n;
  assert_int_equal(fscanf(f, "%d", &n), 1);
  double *p = malloc((size_t)n * 3 * sizeof *p), *q = malloc((size_t)n * 3 * sizeof *q), want[4][4], T[4][4];
  for (int i = 0; i < 3 * n; i++)
    assert_int_equal(fscanf(f, "%lf", &p[i]), 1);
  for (int i = 0; i < 3 * n; i++)
    assert_int_equal(fscanf(f, "%lf", &q[i]), 1);
  for (int i = 0; i < 16; i++)
    assert_int_equal(fscanf(f, "%lf", &want[i / 4][i % 4]), 1);
  fclose(f);
  reg_kabsch(p, q, n, T);
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 4; b++)
      if (fabs(T[a][b] - want[a][b]) > 1e-9)
        fail_msg("T[%d][%d] = %.12g, numpy %.12g", a, b, T[a][b], want[a][b]);
  /* noiseless: exact recovery, from three points as RANSAC uses it */
  rng_t r;
  rng_seed(&r, 2);
  for (int trial = 0; trial < 20; trial++) {
    double G[4][4], P[9], Q[9];
    random_rigid(&r, G);
    for (int i = 0; i < 3; i++) {
      for (int c = 0; c < 3; c++)
        P[3 * i + c] = rng_normal(&r);
      for (int c = 0; c < 3; c++)
        Q[3 * i + c] = G[c][0] * P[3 * i] + G[c][1] * P[3 * i + 1] + G[c][2] * P[3 * i + 2] + G[c][3];
    }
    reg_kabsch(P, Q, 3, T);
    for (int a = 0; a < 3; a++)
      for (int b = 0; b < 4; b++)
        assert_true(fabs(T[a][b] - G[a][b]) < 1e-9);
  }
  free(p);
  free(q);
}

static void test_correspondences_mutual(void **unused) {
  (void)unused;
  rng_t r;
  rng_seed(&r, 6);
  const int ns = 60, nt = 45, d = 5;
  float fs[60 * 5], ft[45 * 5];
  for (int i = 0; i < ns * d; i++)
    fs[i] = (float)rng_normal(&r);
  for (int i = 0; i < nt * d; i++)
    ft[i] = (float)rng_normal(&r);
  int64_t fwd[60], bwd[45];
  float d2[60];
  assert_int_equal(nnsearch_knn_brute(ft, nt, d, fs, ns, 1, fwd, d2), AD3D_OK);
  assert_int_equal(nnsearch_knn_brute(fs, ns, d, ft, nt, 1, bwd, d2), AD3D_OK);
  int64_t *pr = NULL, np = 0, cnt = 0;
  assert_int_equal(reg_correspondences(fs, ns, ft, nt, d, 1, &pr, &np), AD3D_OK);
  for (int i = 0; i < ns; i++)
    if (bwd[fwd[i]] == i) {
      assert_true(cnt < np);
      assert_int_equal(pr[2 * cnt], i);
      assert_int_equal(pr[2 * cnt + 1], fwd[i]);
      cnt++;
    }
  assert_int_equal(np, cnt);
  assert_true(cnt >= ns / 10); /* otherwise the filter falls back (tested below) */
  free(pr);
  assert_int_equal(reg_correspondences(fs, ns, ft, nt, d, 0, &pr, &np), AD3D_OK);
  assert_int_equal(np, ns);
  for (int i = 0; i < ns; i++)
    assert_int_equal(pr[2 * i + 1], fwd[i]);
  free(pr);
  /* one target feature: one mutual pair, fewer than a tenth of the sources -> all pairs kept */
  assert_int_equal(reg_correspondences(fs, ns, ft, 1, d, 1, &pr, &np), AD3D_OK);
  assert_int_equal(np, ns);
  free(pr);
  assert_int_equal(reg_correspondences(fs, 0, ft, nt, d, 1, &pr, &np), AD3D_OK);
  assert_int_equal(np, 0);
  free(pr);
}

/* An irregular closed surface: an anisotropic blob with Gaussian bumps, no symmetry. */
typedef struct {
  double c[16][3], amp[16], width[16];
} blob;

static void blob_init(blob *b, rng_t *r) {
  for (int k = 0; k < 16; k++) {
    double n = 0;
    for (int c = 0; c < 3; c++)
      b->c[k][c] = rng_normal(r), n += b->c[k][c] * b->c[k][c];
    for (int c = 0; c < 3; c++)
      b->c[k][c] /= sqrt(n);
    b->amp[k] = (k % 2 ? -0.1 : 0.15) + 0.2 * rng_uniform(r);
    b->width[k] = 0.12 + 0.2 * rng_uniform(r);
  }
}

/* n points of the surface; keep only directions u with u . cut > -0.3 when cut != NULL (a partial scan);
 * Gaussian noise sigma per coordinate. */
static void blob_sample(const blob *b, rng_t *r, int n, const double *cut, double sigma, float *out) {
  int got = 0;
  while (got < n) {
    double u[3], nn = 0;
    for (int c = 0; c < 3; c++)
      u[c] = rng_normal(r), nn += u[c] * u[c];
    for (int c = 0; c < 3; c++)
      u[c] /= sqrt(nn);
    if (cut && u[0] * cut[0] + u[1] * cut[1] + u[2] * cut[2] < -0.3)
      continue;
    double rad = 1;
    for (int k = 0; k < 16; k++) {
      double d2 = 0;
      for (int c = 0; c < 3; c++)
        d2 += (u[c] - b->c[k][c]) * (u[c] - b->c[k][c]);
      rad += b->amp[k] * exp(-d2 / (2 * b->width[k] * b->width[k]));
    }
    const double stretch[3] = {1.3, 1.0, 0.8};
    for (int c = 0; c < 3; c++)
      out[3 * got + c] = (float)(rad * u[c] * stretch[c] + sigma * rng_normal(r));
    got++;
  }
}

/* Errors of an estimate T of the transform Tw: rotation angle (deg) and translation distance. */
static void transform_error(const double T[4][4], const double Tw[4][4], double *deg, double *dt) {
  double I[4][4], E[4][4];
  invert_rigid(Tw, I);
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 4; b++) {
      E[a][b] = 0;
      for (int k = 0; k < 4; k++)
        E[a][b] += T[a][k] * I[k][b];
    }
  *deg = reg_rotation_deg(E);
  *dt = sqrt((T[0][3] - Tw[0][3]) * (T[0][3] - Tw[0][3]) + (T[1][3] - Tw[1][3]) * (T[1][3] - Tw[1][3]) +
             (T[2][3] - Tw[2][3]) * (T[2][3] - Tw[2][3]));
}

static void test_ransac_icp_recover_transforms(void **unused) {
  (void)unused;
  rng_t r;
  rng_seed(&r, 12);
  const int nt = 5000, ns = 3500;
  const double size = 2 * sqrt(1.3 * 1.3 + 1 + 0.8 * 0.8) * 1.2; /* about the bounding-box diagonal */
  float *tgt = malloc((size_t)nt * 3 * sizeof *tgt), *src = malloc((size_t)ns * 3 * sizeof *src);
  reg_opts o = reg_defaults(0.06);
  o.icp = 1;
  for (int trial = 0; trial < 3; trial++) {
    blob b;
    blob_init(&b, &r);
    blob_sample(&b, &r, nt, NULL, 0.0, tgt); /* the complete template */
    double cut[3] = {rng_normal(&r), rng_normal(&r), rng_normal(&r)}, G[4][4], Ginv[4][4];
    blob_sample(&b, &r, ns, cut, 0.002, src); /* a partial, noisy, independent scan */
    random_rigid(&r, G);
    reg_transform(G, src, ns, src); /* moved by G: registration must find G^-1 */
    invert_rigid(G, Ginv);
    reg_cloud cs, ct;
    assert_int_equal(reg_cloud_prepare(src, ns, &o, &cs), AD3D_OK);
    assert_int_equal(reg_cloud_prepare(tgt, nt, &o, &ct), AD3D_OK);
    assert_true(cs.down.n > 500 && cs.down.n < ns);
    reg_result res;
    assert_int_equal(reg_ransac(&cs, &ct, &o, &r, &res), AD3D_OK);
    double deg, dt;
    transform_error(res.T, Ginv, &deg, &dt);
    if (!(deg < 10 && dt < 0.05 * size))
      fail_msg("trial %d: RANSAC error %.2f deg, %.4f (fitness %.3f, %lld correspondences, %lld iterations)",
               trial, deg, dt, res.fitness, (long long)res.ncorr, (long long)res.iterations);
    double fit_ransac = res.fitness;
    assert_int_equal(reg_icp(&cs, &ct, &o, &res), AD3D_OK);
    transform_error(res.T, Ginv, &deg, &dt);
    if (!(deg < 2 && dt < 0.02 * size))
      fail_msg("trial %d: RANSAC + ICP error %.2f deg, %.4f (fitness %.3f)", trial, deg, dt, res.fitness);
    assert_true(res.icp_iterations >= 1);
    assert_true(res.fitness > 0.5 * fit_ransac);
    /* reg_align does both, on its own stream */
    rng_t r2;
    rng_seed(&r2, 100 + trial);
    assert_int_equal(reg_align(&cs, &ct, &o, &r2, &res), AD3D_OK);
    transform_error(res.T, Ginv, &deg, &dt);
    assert_true(deg < 2 && dt < 0.02 * size);
    reg_cloud_free(&cs);
    reg_cloud_free(&ct);
  }
  free(tgt);
  free(src);
}

static void test_edges(void **unused) {
  (void)unused;
  reg_opts o = reg_defaults(0.1);
  assert_true(o.mutual && o.ransac_n == 3 && o.max_iter == 100000 && o.confidence == 0.999);
  assert_true(fabs(o.max_corr_dist - 0.15) < 1e-12 && fabs(o.checker_dist - 0.15) < 1e-12);
  assert_true(fabs(o.normal_radius - 0.2) < 1e-12 && o.normal_max_nn == 30);
  assert_true(fabs(o.fpfh_radius - 0.5) < 1e-12 && o.fpfh_max_nn == 100 && o.edge_ratio == 0.9);
  reg_cloud a, b;
  float p[3] = {0, 0, 0};
  assert_int_equal(reg_cloud_prepare(p, 0, &o, &a), AD3D_OK);
  assert_int_equal(reg_cloud_prepare(p, 1, &o, &b), AD3D_OK);
  rng_t r;
  rng_seed(&r, 1);
  reg_result res;
  assert_int_equal(reg_align(&a, &b, &o, &r, &res), AD3D_OK); /* nothing to match: identity */
  assert_true(res.fitness == 0 && reg_rotation_deg(res.T) == 0 && res.T[0][3] == 0);
  reg_cloud_free(&a);
  reg_cloud_free(&b);
  reg_cloud_free(NULL);
  o.edge_ratio = 1.5;
  assert_int_equal(reg_cloud_prepare(p, 1, &o, &a), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "edge_ratio"));
  o = reg_defaults(-1);
  assert_int_equal(reg_opts_check(&o), AD3D_EINVAL);
  /* transform and angle */
  double T[4][4] = {{0, -1, 0, 1}, {1, 0, 0, 2}, {0, 0, 1, 3}, {0, 0, 0, 1}};
  float q[3] = {1, 0, 0};
  reg_transform(T, q, 1, q);
  assert_true(q[0] == 1 && q[1] == 3 && q[2] == 3);
  assert_true(fabs(reg_rotation_deg(T) - 90) < 1e-9);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kabsch_matches_umeyama),
      cmocka_unit_test(test_correspondences_mutual),
      cmocka_unit_test(test_ransac_icp_recover_transforms),
      cmocka_unit_test(test_edges),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
