/* register.c - RANSAC over FPFH correspondences and point-to-plane ICP (Open3D 0.16's semantics). */
#include "geom/register.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geom/fpfh.h"
#include "geom/nbhd.h"
#include "geom/nnsearch.h"
#include "geom/normals.h"
#include "geom/sampling.h"

reg_opts reg_defaults(double voxel) {
  reg_opts o = {
      .voxel = voxel,
      .normal_radius = 2 * voxel,
      .normal_max_nn = 30,
      .fpfh_radius = 5 * voxel,
      .fpfh_max_nn = 100,
      .mutual = 1,
      .max_corr_dist = 1.5 * voxel,
      .edge_ratio = 0.9,
      .checker_dist = 1.5 * voxel,
      .ransac_n = 3,
      .max_iter = 100000,
      .confidence = 0.999,
      .icp = 0,
      .icp_dist = voxel,
      .icp_max_iter = 30,
      .icp_rel_fitness = 1e-6,
      .icp_rel_rmse = 1e-6,
  };
  return o;
}

ad3d_status reg_opts_check(const reg_opts *o) {
#define REG_NEED(cond, field)                                                       \
  do {                                                                              \
    if (!(cond))                                                                    \
      return ad3d_fail(AD3D_EINVAL, "registration: bad %s (need %s)", field, #cond); \
  } while (0)
  REG_NEED(o->voxel > 0, "voxel");
  REG_NEED(o->normal_radius > 0, "normal_radius");
  REG_NEED(o->normal_max_nn > 0, "normal_max_nn");
  REG_NEED(o->fpfh_radius > 0, "fpfh_radius");
  REG_NEED(o->fpfh_max_nn > 0, "fpfh_max_nn");
  REG_NEED(o->max_corr_dist > 0, "max_corr_dist");
  REG_NEED(o->edge_ratio >= 0 && o->edge_ratio < 1, "edge_ratio");
  REG_NEED(o->checker_dist >= 0, "checker_dist");
  REG_NEED(o->ransac_n >= 3 && o->ransac_n <= 64, "ransac_n");
  REG_NEED(o->max_iter >= 1, "max_iter");
  REG_NEED(o->confidence > 0 && o->confidence <= 1, "confidence");
  REG_NEED(o->icp_dist > 0, "icp_dist");
  REG_NEED(o->icp_max_iter >= 1, "icp_max_iter");
  REG_NEED(o->icp_rel_fitness >= 0 && o->icp_rel_rmse >= 0, "icp_rel_fitness / icp_rel_rmse");
#undef REG_NEED
  return AD3D_OK;
}

void reg_cloud_free(reg_cloud *c) {
  if (!c)
    return;
  cloud_free(&c->down);
  free(c->normals);
  free(c->feat);
  kdtree_free(c->tree);
  memset(c, 0, sizeof *c);
}

ad3d_status reg_cloud_prepare(const float *pts, int64_t n, const reg_opts *o, reg_cloud *out) {
  memset(out, 0, sizeof *out);
  TRY(reg_opts_check(o));
  ad3d_status st = AD3D_OK;
  if (n > 0 && (st = sample_voxel(pts, n, o->voxel, &out->down, NULL)))
    goto cleanup;
  const int64_t m = out->down.n;
  out->normals = malloc((size_t)(m ? m : 1) * 3 * sizeof *out->normals);
  out->feat = malloc((size_t)(m ? m : 1) * FPFH_DIM * sizeof *out->feat);
  if (!out->normals || !out->feat) {
    st = ad3d_fail(AD3D_ENOMEM, "registration: out of memory preparing %lld points", (long long)m);
    goto cleanup;
  }
  if ((st = kdtree_build(out->down.xyz, m, &out->tree)))
    goto cleanup;
  if (m == 0)
    return AD3D_OK;
  normals_opts no = {.nb = nbhd_hybrid(o->normal_radius, o->normal_max_nn), .orient = NORMALS_ORIENT_NONE};
  if ((st = normals_estimate(out->down.xyz, m, out->tree, &no, out->normals, NULL)))
    goto cleanup;
  nbhd_t fnb = nbhd_hybrid(o->fpfh_radius, o->fpfh_max_nn);
  if ((st = fpfh_compute(out->down.xyz, out->normals, m, out->tree, &fnb, out->feat)))
    goto cleanup;
  return AD3D_OK;
cleanup:
  reg_cloud_free(out);
  return st;
}

ad3d_status reg_correspondences(const float *fs, int64_t ns, const float *ft, int64_t nt, int d, int mutual,
                                int64_t **pairs, int64_t *npairs) {
  *pairs = NULL;
  *npairs = 0;
  if (ns == 0 || nt == 0)
    return AD3D_OK;
  ad3d_status st = AD3D_OK;
  nnsearch *it = NULL, *is = NULL;
  int64_t *fwd = malloc((size_t)ns * sizeof *fwd); /* (ns) nearest target of each source */
  int64_t *bwd = mutual ? malloc((size_t)nt * sizeof *bwd) : NULL; /* (nt) nearest source of each target */
  float *d2 = malloc((size_t)(ns > nt ? ns : nt) * sizeof *d2);
  int64_t *pr = malloc((size_t)ns * 2 * sizeof *pr);
  if (!fwd || (mutual && !bwd) || !d2 || !pr) {
    st = ad3d_fail(AD3D_ENOMEM, "registration: out of memory matching %lld x %lld features", (long long)ns,
                   (long long)nt);
    goto cleanup;
  }
  if ((st = nnsearch_build(ft, nt, d, &it)) || (st = nnsearch_knn(it, fs, ns, 1, fwd, d2)))
    goto cleanup;
  int64_t cnt = 0;
  if (mutual) {
    if ((st = nnsearch_build(fs, ns, d, &is)) || (st = nnsearch_knn(is, ft, nt, 1, bwd, d2)))
      goto cleanup;
    for (int64_t i = 0; i < ns; i++)
      if (bwd[fwd[i]] == i) {
        pr[2 * cnt] = i;
        pr[2 * cnt + 1] = fwd[i];
        cnt++;
      }
  }
  /* Open3D keeps the mutual set only if it holds at least int(0.1 * ns) pairs */
  if (!mutual || cnt < (int64_t)(0.1f * (float)ns)) {
    cnt = ns;
    for (int64_t i = 0; i < ns; i++) {
      pr[2 * i] = i;
      pr[2 * i + 1] = fwd[i];
    }
  }
  *pairs = pr;
  *npairs = cnt;
  pr = NULL;
cleanup:
  nnsearch_free(it);
  nnsearch_free(is);
  free(fwd);
  free(bwd);
  free(d2);
  free(pr);
  return st;
}

/* Eigenvector of the largest eigenvalue of a symmetric 4 x 4 matrix (cyclic Jacobi). */
static void sym4_top_eigvec(double a[4][4], double v[4]) {
  double V[4][4] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}};
  for (int sweep = 0; sweep < 64; sweep++) {
    double off = 0, tot = 0;
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 4; j++) {
        tot += a[i][j] * a[i][j];
        if (i != j)
          off += a[i][j] * a[i][j];
      }
    if (off <= 1e-30 * tot || off == 0)
      break;
    for (int p = 0; p < 3; p++)
      for (int q = p + 1; q < 4; q++) {
        if (a[p][q] == 0)
          continue;
        double theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
        double c = 1 / sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < 4; k++) { /* columns p, q */
          double akp = a[k][p], akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (int k = 0; k < 4; k++) { /* rows p, q */
          double apk = a[p][k], aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (int k = 0; k < 4; k++) {
          double vkp = V[k][p], vkq = V[k][q];
          V[k][p] = c * vkp - s * vkq;
          V[k][q] = s * vkp + c * vkq;
        }
      }
  }
  int best = 0;
  for (int i = 1; i < 4; i++)
    if (a[i][i] > a[best][best])
      best = i;
  for (int k = 0; k < 4; k++)
    v[k] = V[k][best];
}

void reg_kabsch(const double *p, const double *q, int64_t n, double T[4][4]) {
  ASSERT(n >= 1);
  double pc[3] = {0, 0, 0}, qc[3] = {0, 0, 0};
  for (int64_t i = 0; i < n; i++)
    for (int c = 0; c < 3; c++)
      pc[c] += p[3 * i + c], qc[c] += q[3 * i + c];
  for (int c = 0; c < 3; c++)
    pc[c] /= (double)n, qc[c] /= (double)n;
  double S[3][3] = {{0}}; /* S[a][b] = sum (p - pc)_a (q - qc)_b */
  for (int64_t i = 0; i < n; i++)
    for (int a = 0; a < 3; a++)
      for (int b = 0; b < 3; b++)
        S[a][b] += (p[3 * i + a] - pc[a]) * (q[3 * i + b] - qc[b]);
  const double xx = S[0][0], xy = S[0][1], xz = S[0][2], yx = S[1][0], yy = S[1][1], yz = S[1][2], zx = S[2][0],
               zy = S[2][1], zz = S[2][2];
  double N[4][4] = {
      {xx + yy + zz, yz - zy, zx - xz, xy - yx},
      {yz - zy, xx - yy - zz, xy + yx, zx + xz},
      {zx - xz, xy + yx, -xx + yy - zz, yz + zy},
      {xy - yx, zx + xz, yz + zy, -xx - yy + zz},
  };
  double qv[4];
  sym4_top_eigvec(N, qv);
  double nq = sqrt(qv[0] * qv[0] + qv[1] * qv[1] + qv[2] * qv[2] + qv[3] * qv[3]);
  double w = qv[0] / nq, x = qv[1] / nq, y = qv[2] / nq, z = qv[3] / nq;
  double R[3][3] = {
      {1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)},
      {2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)},
      {2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)},
  };
  for (int a = 0; a < 3; a++) {
    double t = qc[a];
    for (int b = 0; b < 3; b++) {
      T[a][b] = R[a][b];
      t -= R[a][b] * pc[b];
    }
    T[a][3] = t;
  }
  T[3][0] = T[3][1] = T[3][2] = 0;
  T[3][3] = 1;
}

static void apply_d(const double T[4][4], const float *p, double out[3]) {
  for (int a = 0; a < 3; a++)
    out[a] = T[a][0] * p[0] + T[a][1] * p[1] + T[a][2] * p[2] + T[a][3];
}

void reg_transform(const double T[4][4], const float *pts, int64_t n, float *out) {
  for (int64_t i = 0; i < n; i++) {
    double r[3];
    apply_d(T, pts + 3 * i, r);
    out[3 * i] = (float)r[0], out[3 * i + 1] = (float)r[1], out[3 * i + 2] = (float)r[2];
  }
}

double reg_rotation_deg(const double T[4][4]) {
  double c = (T[0][0] + T[1][1] + T[2][2] - 1) / 2;
  if (c > 1)
    c = 1;
  if (c < -1)
    c = -1;
  return acos(c) * 180.0 / M_PI;
}

static void identity(double T[4][4]) {
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 4; b++)
      T[a][b] = a == b;
}

/* C = A B (4 x 4); C may alias neither. */
static void matmul4(const double A[4][4], const double B[4][4], double C[4][4]) {
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 4; b++) {
      double s = 0;
      for (int k = 0; k < 4; k++)
        s += A[a][k] * B[k][b];
      C[a][b] = s;
    }
}

/* Fitness and RMSE of src under T against dst: source points with a target point strictly within r.
 * With pairs non-NULL, also the pairs (source, target) into pairs (2 * src->down.n) and their count. */
static void evaluate(const reg_cloud *src, const reg_cloud *dst, const double T[4][4], double r, double *fitness,
                     double *rmse, int64_t *pairs, int64_t *npairs) {
  const int64_t n = src->down.n;
  int64_t cnt = 0;
  double err = 0;
  const double r2 = r * r;
  for (int64_t i = 0; i < n; i++) {
    double p[3];
    apply_d(T, src->down.xyz + 3 * i, p);
    float q[3] = {(float)p[0], (float)p[1], (float)p[2]};
    int64_t j;
    float d2;
    if (kdtree_knn(dst->tree, q, 1, &j, &d2) < 1 || !((double)d2 < r2))
      continue;
    if (pairs)
      pairs[2 * cnt] = i, pairs[2 * cnt + 1] = j;
    err += d2;
    cnt++;
  }
  *fitness = n ? (double)cnt / (double)n : 0.0;
  *rmse = cnt ? sqrt(err / (double)cnt) : 0.0;
  if (npairs)
    *npairs = cnt;
}

static int better(double fit, double rmse, double best_fit, double best_rmse) {
  return fit > best_fit || (fit == best_fit && rmse < best_rmse);
}

/* Draw k distinct integers of [0, n) into out (rejection; k is tiny). */
static void draw_distinct(rng_t *rng, int64_t n, int k, int64_t *out) {
  for (int j = 0; j < k; j++) {
    int fresh;
    do {
      out[j] = (int64_t)rng_below(rng, (uint64_t)n);
      fresh = 1;
      for (int i = 0; i < j; i++)
        fresh &= out[i] != out[j];
    } while (!fresh);
  }
}

static int check_hypothesis(const reg_cloud *src, const reg_cloud *dst, const int64_t *pr, const int64_t *pick,
                            int k, const double T[4][4], const reg_opts *o) {
  if (o->edge_ratio > 0)
    for (int a = 0; a < k; a++)
      for (int b = a + 1; b < k; b++) {
        const float *sa = src->down.xyz + 3 * pr[2 * pick[a]], *sb = src->down.xyz + 3 * pr[2 * pick[b]];
        const float *ta = dst->down.xyz + 3 * pr[2 * pick[a] + 1], *tb = dst->down.xyz + 3 * pr[2 * pick[b] + 1];
        double ds = sqrt(nnsearch_dist2(sa, sb, 3)), dt = sqrt(nnsearch_dist2(ta, tb, 3));
        if (ds < dt * o->edge_ratio || dt < ds * o->edge_ratio)
          return 0;
      }
  if (o->checker_dist > 0)
    for (int a = 0; a < k; a++) {
      double p[3];
      apply_d(T, src->down.xyz + 3 * pr[2 * pick[a]], p);
      const float *t = dst->down.xyz + 3 * pr[2 * pick[a] + 1];
      double dx = t[0] - p[0], dy = t[1] - p[1], dz = t[2] - p[2];
      if (sqrt(dx * dx + dy * dy + dz * dz) > o->checker_dist)
        return 0;
    }
  return 1;
}

/* Fraction of the correspondences that T brings strictly within r. */
static double corr_inlier_ratio(const reg_cloud *src, const reg_cloud *dst, const int64_t *pr, int64_t npr,
                                const double T[4][4], double r) {
  int64_t in = 0;
  for (int64_t c = 0; c < npr; c++) {
    double p[3];
    apply_d(T, src->down.xyz + 3 * pr[2 * c], p);
    const float *t = dst->down.xyz + 3 * pr[2 * c + 1];
    double dx = t[0] - p[0], dy = t[1] - p[1], dz = t[2] - p[2];
    in += sqrt(dx * dx + dy * dy + dz * dz) < r;
  }
  return npr ? (double)in / (double)npr : 0.0;
}

ad3d_status reg_ransac(const reg_cloud *src, const reg_cloud *dst, const reg_opts *o, rng_t *rng, reg_result *res) {
  memset(res, 0, sizeof *res);
  identity(res->T);
  TRY(reg_opts_check(o));
  int64_t *pr = NULL, npr = 0;
  TRY(reg_correspondences(src->feat, src->down.n, dst->feat, dst->down.n, FPFH_DIM, o->mutual, &pr, &npr));
  res->ncorr = npr;
  const int k = o->ransac_n;
  if (npr < k) {
    free(pr);
    return AD3D_OK;
  }
  int64_t pick[64];
  double P[64 * 3], Q[64 * 3];
  double best_fit = 0, best_rmse = 0;
  int64_t budget = o->max_iter, it = 0;
  for (; it < o->max_iter && it < budget; it++) {
    draw_distinct(rng, npr, k, pick);
    for (int a = 0; a < k; a++)
      for (int c = 0; c < 3; c++) {
        P[3 * a + c] = src->down.xyz[3 * pr[2 * pick[a]] + c];
        Q[3 * a + c] = dst->down.xyz[3 * pr[2 * pick[a] + 1] + c];
      }
    double T[4][4];
    reg_kabsch(P, Q, k, T);
    if (!check_hypothesis(src, dst, pr, pick, k, T, o))
      continue;
    double fit, rmse;
    evaluate(src, dst, T, o->max_corr_dist, &fit, &rmse, NULL, NULL);
    if (!better(fit, rmse, best_fit, best_rmse))
      continue;
    best_fit = fit, best_rmse = rmse;
    memcpy(res->T, T, sizeof T);
    double r = corr_inlier_ratio(src, dst, pr, npr, T, o->max_corr_dist);
    if (r > 0) {
      double est = log(1.0 - o->confidence) / log(1.0 - pow(r, k));
      if (est < (double)budget)
        budget = (int64_t)ceil(est);
    }
  }
  res->fitness = best_fit;
  res->inlier_rmse = best_rmse;
  res->iterations = it;
  free(pr);
  return AD3D_OK;
}

/* Solve the 6 x 6 system A x = b (Gaussian elimination, partial pivoting); 0 if singular. */
static int solve6(double A[6][6], double b[6], double x[6]) {
  for (int c = 0; c < 6; c++) {
    int piv = c;
    for (int r = c + 1; r < 6; r++)
      if (fabs(A[r][c]) > fabs(A[piv][c]))
        piv = r;
    if (!(fabs(A[piv][c]) > 1e-300))
      return 0;
    if (piv != c) {
      for (int k = 0; k < 6; k++) {
        double t = A[c][k];
        A[c][k] = A[piv][k];
        A[piv][k] = t;
      }
      double t = b[c];
      b[c] = b[piv];
      b[piv] = t;
    }
    for (int r = c + 1; r < 6; r++) {
      double f = A[r][c] / A[c][c];
      for (int k = c; k < 6; k++)
        A[r][k] -= f * A[c][k];
      b[r] -= f * b[c];
    }
  }
  for (int r = 5; r >= 0; r--) {
    double s = b[r];
    for (int k = r + 1; k < 6; k++)
      s -= A[r][k] * x[k];
    x[r] = s / A[r][r];
  }
  return 1;
}

/* The 4 x 4 transform of the 6-vector (a, b, c, tx, ty, tz): R = Rz(c) Ry(b) Rx(a), as Open3D's
 * TransformVector6dToMatrix4d. */
static void vec6_to_matrix(const double x[6], double T[4][4]) {
  const double ca = cos(x[0]), sa = sin(x[0]), cb = cos(x[1]), sb = sin(x[1]), cc = cos(x[2]), sc = sin(x[2]);
  identity(T);
  T[0][0] = cc * cb, T[0][1] = cc * sb * sa - sc * ca, T[0][2] = cc * sb * ca + sc * sa;
  T[1][0] = sc * cb, T[1][1] = sc * sb * sa + cc * ca, T[1][2] = sc * sb * ca - cc * sa;
  T[2][0] = -sb, T[2][1] = cb * sa, T[2][2] = cb * ca;
  T[0][3] = x[3], T[1][3] = x[4], T[2][3] = x[5];
}

ad3d_status reg_icp(const reg_cloud *src, const reg_cloud *dst, const reg_opts *o, reg_result *res) {
  TRY(reg_opts_check(o));
  const int64_t n = src->down.n;
  res->icp_iterations = 0;
  if (n == 0 || dst->down.n == 0)
    return AD3D_OK;
  int64_t *pairs = malloc((size_t)n * 2 * sizeof *pairs);
  if (!pairs)
    return ad3d_fail(AD3D_ENOMEM, "registration: out of memory for ICP on %lld points", (long long)n);
  double fit, rmse;
  int64_t np;
  evaluate(src, dst, res->T, o->icp_dist, &fit, &rmse, pairs, &np);
  for (int it = 0; it < o->icp_max_iter; it++) {
    double A[6][6] = {{0}}, b[6] = {0}, x[6];
    for (int64_t c = 0; c < np; c++) {
      double s[3];
      apply_d(res->T, src->down.xyz + 3 * pairs[2 * c], s);
      const float *t = dst->down.xyz + 3 * pairs[2 * c + 1];
      const float *nn = dst->normals + 3 * pairs[2 * c + 1];
      double r = (s[0] - t[0]) * nn[0] + (s[1] - t[1]) * nn[1] + (s[2] - t[2]) * nn[2];
      double J[6] = {s[1] * nn[2] - s[2] * nn[1], s[2] * nn[0] - s[0] * nn[2], s[0] * nn[1] - s[1] * nn[0],
                     nn[0], nn[1], nn[2]};
      for (int a = 0; a < 6; a++) {
        for (int bb = 0; bb < 6; bb++)
          A[a][bb] += J[a] * J[bb];
        b[a] -= J[a] * r;
      }
    }
    if (np < 6 || !solve6(A, b, x))
      break;
    double U[4][4], Tn[4][4];
    vec6_to_matrix(x, U);
    matmul4(U, res->T, Tn);
    memcpy(res->T, Tn, sizeof Tn);
    res->icp_iterations = it + 1;
    double fit2, rmse2;
    evaluate(src, dst, res->T, o->icp_dist, &fit2, &rmse2, pairs, &np);
    int done = fabs(fit2 - fit) < o->icp_rel_fitness && fabs(rmse2 - rmse) < o->icp_rel_rmse;
    fit = fit2, rmse = rmse2;
    if (done)
      break;
  }
  res->fitness = fit;
  res->inlier_rmse = rmse;
  free(pairs);
  return AD3D_OK;
}

ad3d_status reg_align(const reg_cloud *src, const reg_cloud *dst, const reg_opts *o, rng_t *rng, reg_result *res) {
  TRY(reg_ransac(src, dst, o, rng, res));
  if (o->icp)
    TRY(reg_icp(src, dst, o, res));
  return AD3D_OK;
}
