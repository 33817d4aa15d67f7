/* fpfh.c - SPFH and FPFH histograms (see fpfh.h for the definition). */
#include "geom/fpfh.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geom/zorder.h"

void fpfh_pair(const double ps[3], const double ns[3], const double pt[3], const double nt[3], double f[4]) {
  double dp[3] = {pt[0] - ps[0], pt[1] - ps[1], pt[2] - ps[2]};
  double d = sqrt(dp[0] * dp[0] + dp[1] * dp[1] + dp[2] * dp[2]);
  f[0] = f[1] = f[2] = f[3] = 0.0;
  if (d == 0.0)
    return;
  double cs = (ns[0] * dp[0] + ns[1] * dp[1] + ns[2] * dp[2]) / d;
  double ct = (nt[0] * dp[0] + nt[1] * dp[1] + nt[2] * dp[2]) / d;
  const double *u = ns, *n2 = nt;
  double phi = cs;
  if (fabs(cs) < fabs(ct)) { /* swap source and target: the line is at -dp */
    u = nt;
    n2 = ns;
    for (int a = 0; a < 3; a++)
      dp[a] = -dp[a];
    phi = -ct;
  }
  double v[3] = {dp[1] * u[2] - dp[2] * u[1], dp[2] * u[0] - dp[0] * u[2], dp[0] * u[1] - dp[1] * u[0]};
  double vn = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  if (vn == 0.0)
    return;
  for (int a = 0; a < 3; a++)
    v[a] /= vn;
  double w[3] = {u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]};
  f[0] = atan2(w[0] * n2[0] + w[1] * n2[1] + w[2] * n2[2], u[0] * n2[0] + u[1] * n2[1] + u[2] * n2[2]);
  f[1] = v[0] * n2[0] + v[1] * n2[1] + v[2] * n2[2];
  f[2] = phi;
  f[3] = d;
}

/* Bin of x in [lo, lo + width] among FPFH_BINS, clamped. */
static inline int bin_of(double x, double lo, double width) {
  int b = (int)floor(FPFH_BINS * (x - lo) / width);
  return b < 0 ? 0 : (b >= FPFH_BINS ? FPFH_BINS - 1 : b);
}

static void load3(const float *src, double dst[3]) {
  dst[0] = src[0];
  dst[1] = src[1];
  dst[2] = src[2];
}

/* Neighbour lists of the SPFH pass kept for the FPFH pass (saves the second round of queries) when
 * an upper bound of their size fits FPFH_CACHE_MAX_BYTES: entries in visiting order, without the first
 * (the point itself); point k of the order owns nbr[off[k] .. off[k + 1]). */
typedef struct {
  int32_t *nbr;
  int64_t *off; /* (n + 1) */
} nbr_cache;

static void cache_free(nbr_cache *c) {
  free(c->nbr);
  free(c->off);
  c->nbr = NULL;
  c->off = NULL;
}

/* Allocate the cache if nb bounds the list sizes and the bound fits; else leave it off (not an error). */
static void cache_init(nbr_cache *c, const nbhd_t *nb, int64_t n) {
  c->nbr = NULL;
  c->off = NULL;
  int64_t per = nb->kind == NBHD_KNN ? nb->k : (nb->kind == NBHD_HYBRID ? nb->max_nn : -1);
  if (per < 1 || n > INT32_MAX)
    return;
  per = per - 1 > 0 ? per - 1 : 1;
  if ((double)n * (double)per * sizeof(int32_t) + (double)(n + 1) * sizeof(int64_t) > FPFH_CACHE_MAX_BYTES)
    return;
  c->nbr = malloc(sizeof *c->nbr * (size_t)(n * per));
  c->off = malloc(sizeof *c->off * (size_t)(n + 1));
  if (!c->nbr || !c->off)
    cache_free(c); /* run without it */
}

/* SPFH of every point into spfh (n, 33), visiting the points in `order` (n); fills the cache if on. */
static ad3d_status spfh_all(const float *pts, const float *normals, int64_t n, const int64_t *order, const kdtree *t,
                            const nbhd_t *nb, nbhd_buf *buf, float *spfh, nbr_cache *cache) {
  double hist[FPFH_DIM];
  int64_t used = 0;
  for (int64_t k = 0; k < n; k++) {
    int64_t i = order[k];
    int64_t count = nbhd_query(t, nb, pts + 3 * i, buf);
    if (count < 0)
      return ad3d_fail_context(AD3D_ENOMEM, "fpfh");
    memset(hist, 0, sizeof hist);
    if (count > 1) {
      double ps[3], ns[3], pt[3], nt[3], f[4];
      load3(pts + 3 * i, ps);
      load3(normals + 3 * i, ns);
      double incr = 100.0 / (double)(count - 1);
      for (int64_t j = 1; j < count; j++) { /* entry 0 is the point itself (or a duplicate of it) */
        int64_t o = buf->idx[j];
        load3(pts + 3 * o, pt);
        load3(normals + 3 * o, nt);
        fpfh_pair(ps, ns, pt, nt, f);
        hist[bin_of(f[0], -M_PI, 2.0 * M_PI)] += incr;
        hist[FPFH_BINS + bin_of(f[1], -1.0, 2.0)] += incr;
        hist[2 * FPFH_BINS + bin_of(f[2], -1.0, 2.0)] += incr;
      }
    }
    for (int b = 0; b < FPFH_DIM; b++)
      spfh[FPFH_DIM * i + b] = (float)hist[b];
    if (cache->nbr) {
      cache->off[k] = used;
      for (int64_t j = 1; j < count; j++)
        cache->nbr[used++] = (int32_t)buf->idx[j];
    }
  }
  if (cache->nbr)
    cache->off[n] = used;
  return AD3D_OK;
}

/* FPFH of point i into out (33) from the SPFHs of its m neighbours other than itself: nb64 (m) or nb32 (m). */
static void fpfh_point(const float *pts, const float *spfh, int64_t i, const int64_t *nb64, const int32_t *nb32,
                       int64_t m, float *out) {
  if (m <= 0) {
    memset(out, 0, sizeof *out * FPFH_DIM);
    return;
  }
  double acc[FPFH_DIM];
  double sum[3] = {0.0, 0.0, 0.0};
  const float *p = pts + 3 * i;
  memset(acc, 0, sizeof acc);
  for (int64_t j = 0; j < m; j++) {
    int64_t o = nb64 ? nb64[j] : nb32[j];
    const float *q = pts + 3 * o;
    /* squared distance in double from the float coordinates (the weight must not depend on the tree's
     * float rounding) */
    double dx = (double)q[0] - p[0], dy = (double)q[1] - p[1], dz = (double)q[2] - p[2];
    double d2 = dx * dx + dy * dy + dz * dz;
    if (d2 == 0.0)
      continue;
    const float *s = spfh + FPFH_DIM * o;
    double w = 1.0 / d2;
    for (int b = 0; b < FPFH_DIM; b++) {
      double val = s[b] * w;
      acc[b] += val;
      sum[b / FPFH_BINS] += val;
    }
  }
  for (int h = 0; h < 3; h++)
    sum[h] = sum[h] != 0.0 ? 100.0 / sum[h] : 0.0;
  const float *own = spfh + FPFH_DIM * i;
  for (int b = 0; b < FPFH_DIM; b++)
    out[b] = (float)(acc[b] * sum[b / FPFH_BINS] + own[b]);
}

/* FPFH of every point from the SPFHs, visiting the points in `order` (n); neighbours from the cache
 * when it is on, else queried again. */
static ad3d_status fpfh_all(const float *pts, int64_t n, const int64_t *order, const kdtree *t, const nbhd_t *nb,
                            nbhd_buf *buf, const float *spfh, const nbr_cache *cache, float *feat) {
  for (int64_t k = 0; k < n; k++) {
    int64_t i = order[k];
    if (cache->nbr) {
      fpfh_point(pts, spfh, i, NULL, cache->nbr + cache->off[k], cache->off[k + 1] - cache->off[k],
                 feat + FPFH_DIM * i);
      continue;
    }
    int64_t count = nbhd_query(t, nb, pts + 3 * i, buf);
    if (count < 0)
      return ad3d_fail_context(AD3D_ENOMEM, "fpfh");
    fpfh_point(pts, spfh, i, count > 1 ? buf->idx + 1 : NULL, NULL, count - 1, feat + FPFH_DIM * i);
  }
  return AD3D_OK;
}

ad3d_status fpfh_compute(const float *pts, const float *normals, int64_t n, const kdtree *t, const nbhd_t *nb,
                         float *feat) {
  ASSERT(nb && (n <= 0 || (pts && normals && feat)));
  ad3d_status st = AD3D_OK;
  kdtree *own = NULL;
  float *spfh = NULL;
  int64_t *order = NULL;
  nbhd_buf buf = {0};
  nbr_cache cache = {NULL, NULL};
  if (n < 0)
    return ad3d_fail(AD3D_EINVAL, "fpfh: negative point count %lld", (long long)n);
  TRY(nbhd_check(nb, "fpfh"));
  if (t && kdtree_size(t) != n)
    return ad3d_fail(AD3D_EINVAL, "fpfh: the kd-tree holds %lld points, the cloud %lld", (long long)kdtree_size(t),
                     (long long)n);
  if (n == 0)
    return AD3D_OK;
  spfh = malloc(sizeof *spfh * FPFH_DIM * (size_t)n);
  order = malloc(sizeof *order * (size_t)n);
  if (!spfh || !order) {
    st = ad3d_fail(AD3D_ENOMEM, "fpfh: cannot allocate the SPFH of %lld points", (long long)n);
    goto cleanup;
  }
  if (!t) {
    st = kdtree_build(pts, n, &own);
    if (st != AD3D_OK)
      goto cleanup;
    t = own;
  }
  st = zorder_sort(pts, n, order);
  if (st != AD3D_OK)
    goto cleanup;
  cache_init(&cache, nb, n);
  st = spfh_all(pts, normals, n, order, t, nb, &buf, spfh, &cache);
  if (st != AD3D_OK)
    goto cleanup;
  st = fpfh_all(pts, n, order, t, nb, &buf, spfh, &cache, feat);
cleanup:
  cache_free(&cache);
  nbhd_buf_free(&buf);
  kdtree_free(own);
  free(spfh);
  free(order);
  return st;
}
