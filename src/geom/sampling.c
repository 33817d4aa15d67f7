/* sampling.c - random, farthest point, voxel-grid and geometry-aware sampling; kNN patches. */
#include "geom/sampling.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geom/normals.h"
#include "geom/zorder.h"

/* ---- random ------------------------------------------------------------------------------------ */

ad3d_status sample_random(int64_t n, int64_t m, rng_t *rng, int64_t *out) {
  ASSERT(rng && (m <= 0 || out));
  if (n < 0 || m < 0 || m > n)
    return ad3d_fail(AD3D_EINVAL, "random sampling: cannot draw %lld of %lld points", (long long)m, (long long)n);
  /* Algorithm S: point i is taken with probability (still needed) / (still available) */
  int64_t got = 0;
  for (int64_t i = 0; i < n && got < m; i++)
    if ((double)(n - i) * rng_uniform(rng) < (double)(m - got))
      out[got++] = i;
  ASSERT(got == m);
  return AD3D_OK;
}

/* ---- farthest point ---------------------------------------------------------------------------- */

static inline float dist2f(const float *a, const float *b) {
  float dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
  return dx * dx + dy * dy + dz * dz;
}

/* FPS among the candidates cand (nc) (NULL: the points 0..nc-1). mind (nc): each candidate's squared
 * distance to the centres chosen so far (INFINITY before any), updated here; chosen candidates are
 * marked -1 so they are never picked again. Picks m centres into out, the first at candidate position
 * `first`; later ones at the largest mind, the earliest position on ties. */
static void fps_core(const float *pts, const int64_t *cand, int64_t nc, float *mind, int64_t first, int64_t m,
                     int64_t *out) {
  int64_t cur = first;
  for (int64_t s = 0; s < m; s++) {
    int64_t ci = cand ? cand[cur] : cur;
    out[s] = ci;
    mind[cur] = -1.0f;
    if (s + 1 == m)
      break;
    const float *c = pts + 3 * ci;
    float best = -INFINITY;
    int64_t arg = -1;
    for (int64_t j = 0; j < nc; j++) {
      float d = dist2f(pts + 3 * (cand ? cand[j] : j), c);
      float v = mind[j];
      if (d < v)
        v = mind[j] = d;
      if (v > best) {
        best = v;
        arg = j;
      }
    }
    ASSERT(arg >= 0 && best >= 0.0f); /* m <= nc leaves an unchosen candidate */
    cur = arg;
  }
}

ad3d_status sample_fps(const float *pts, int64_t n, int64_t m, int64_t start, int64_t *out) {
  ASSERT(n <= 0 || pts);
  ASSERT(m <= 0 || out);
  if (n < 0 || m < 0 || m > n)
    return ad3d_fail(AD3D_EINVAL, "farthest point sampling: cannot pick %lld of %lld points", (long long)m,
                     (long long)n);
  if (m == 0)
    return AD3D_OK;
  if (start < 0 || start >= n)
    return ad3d_fail(AD3D_EINVAL, "farthest point sampling: start index %lld outside 0..%lld", (long long)start,
                     (long long)n - 1);
  float *mind = malloc(sizeof *mind * (size_t)n);
  if (!mind)
    return ad3d_fail(AD3D_ENOMEM, "farthest point sampling: cannot allocate %lld distances", (long long)n);
  for (int64_t i = 0; i < n; i++)
    mind[i] = INFINITY;
  fps_core(pts, NULL, n, mind, start, m, out);
  free(mind);
  return AD3D_OK;
}

/* ---- voxel grid -------------------------------------------------------------------------------- */

typedef struct {
  int32_t key[3];
  int64_t voxel; /* output index; -1: empty slot */
} voxel_slot;

static inline uint64_t voxel_hash(const int32_t k[3]) {
  uint64_t h = (uint64_t)(uint32_t)k[0] * 0x9E3779B97F4A7C15ull;
  h ^= (uint64_t)(uint32_t)k[1] * 0xC2B2AE3D27D4EB4Full + (h << 6) + (h >> 2);
  h ^= (uint64_t)(uint32_t)k[2] * 0x165667B19E3779F9ull + (h << 6) + (h >> 2);
  h ^= h >> 31;
  return h * 0xBF58476D1CE4E5B9ull;
}

ad3d_status sample_voxel(const float *pts, int64_t n, double voxel, cloud_t *out, int64_t *assign) {
  ASSERT(out && (n <= 0 || pts));
  ad3d_status st = AD3D_OK;
  voxel_slot *table = NULL;
  double *sum = NULL;
  int64_t *count = NULL;
  *out = (cloud_t){0};
  if (n < 0)
    return ad3d_fail(AD3D_EINVAL, "voxel sampling: negative point count %lld", (long long)n);
  if (!(voxel > 0.0) || !isfinite(voxel))
    return ad3d_fail(AD3D_EINVAL, "voxel sampling: the voxel size must be finite and > 0, got %g", voxel);
  if (n == 0)
    return cloud_alloc(out, 0);
  double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
  for (int64_t i = 0; i < n; i++)
    for (int a = 0; a < 3; a++) {
      double v = pts[3 * i + a];
      if (!isfinite(v))
        return ad3d_fail(AD3D_EINVAL, "voxel sampling: point %lld is not finite", (long long)i);
      lo[a] = v < lo[a] ? v : lo[a];
      hi[a] = v > hi[a] ? v : hi[a];
    }
  for (int a = 0; a < 3; a++) {
    lo[a] -= 0.5 * voxel;
    if ((hi[a] + 0.5 * voxel - lo[a]) / voxel >= (double)INT_MAX)
      return ad3d_fail(AD3D_EINVAL, "voxel sampling: voxel size %g is too small for a cloud %g wide", voxel,
                       hi[a] - lo[a]);
  }
  int64_t cap = 16;
  while (cap < 2 * n)
    cap *= 2;
  table = malloc(sizeof *table * (size_t)cap);
  sum = calloc((size_t)n * 3, sizeof *sum);
  count = calloc((size_t)n, sizeof *count);
  if (!table || !sum || !count) {
    st = ad3d_fail(AD3D_ENOMEM, "voxel sampling: cannot allocate the grid of %lld points", (long long)n);
    goto cleanup;
  }
  for (int64_t s = 0; s < cap; s++)
    table[s].voxel = -1;
  int64_t nv = 0;
  for (int64_t i = 0; i < n; i++) {
    const float *p = pts + 3 * i;
    int32_t key[3];
    for (int a = 0; a < 3; a++)
      key[a] = (int32_t)floor(((double)p[a] - lo[a]) / voxel);
    uint64_t s = voxel_hash(key) & (uint64_t)(cap - 1);
    while (table[s].voxel >= 0 && memcmp(table[s].key, key, sizeof key) != 0)
      s = (s + 1) & (uint64_t)(cap - 1);
    if (table[s].voxel < 0) {
      memcpy(table[s].key, key, sizeof key);
      table[s].voxel = nv++;
    }
    int64_t v = table[s].voxel;
    for (int a = 0; a < 3; a++)
      sum[3 * v + a] += p[a];
    count[v]++;
    if (assign)
      assign[i] = v;
  }
  st = cloud_alloc(out, nv);
  if (st != AD3D_OK)
    goto cleanup;
  for (int64_t v = 0; v < nv; v++)
    for (int a = 0; a < 3; a++)
      out->xyz[3 * v + a] = (float)(sum[3 * v + a] / (double)count[v]);
cleanup:
  free(table);
  free(sum);
  free(count);
  return st;
}

/* ---- geometry-aware (GPS) ---------------------------------------------------------------------- */

gps_opts gps_defaults(void) {
  return (gps_opts){.normal_nb = nbhd_knn(16), .rate_nb = nbhd_knn(16), .tau = 0.3, .salient_ratio = 2.0};
}

static ad3d_status gps_check(const gps_opts *o) {
  TRY(nbhd_check(&o->normal_nb, "GPS normals"));
  TRY(nbhd_check(&o->rate_nb, "GPS rate of change"));
  if (!(o->tau >= 0.0 && o->tau <= 1.0))
    return ad3d_fail(AD3D_EINVAL, "GPS: the salient fraction tau must be in [0, 1], got %g", o->tau);
  if (!(o->salient_ratio > 0.0) || !isfinite(o->salient_ratio))
    return ad3d_fail(AD3D_EINVAL, "GPS: the salient ratio must be finite and > 0, got %g", o->salient_ratio);
  return AD3D_OK;
}

/* R of every point, on tree t over pts. */
static ad3d_status rate_all(const float *pts, int64_t n, const kdtree *t, const gps_opts *o, float *rate) {
  ad3d_status st = AD3D_OK;
  float *nrm = malloc(sizeof *nrm * 3 * (size_t)n);
  float *curv = malloc(sizeof *curv * (size_t)n);
  int64_t *order = malloc(sizeof *order * (size_t)n);
  nbhd_buf buf = {0};
  if (!nrm || !curv || !order) {
    st = ad3d_fail(AD3D_ENOMEM, "GPS: cannot allocate normals of %lld points", (long long)n);
    goto cleanup;
  }
  normals_opts no = {.nb = o->normal_nb, .orient = NORMALS_ORIENT_NONE, .ref = {0.0, 0.0, 0.0}};
  st = normals_estimate(pts, n, t, &no, nrm, curv);
  if (st != AD3D_OK)
    goto cleanup;
  st = zorder_sort(pts, n, order);
  if (st != AD3D_OK)
    goto cleanup;
  for (int64_t k = 0; k < n; k++) {
    int64_t i = order[k];
    const float *p = pts + 3 * i, *ni = nrm + 3 * i;
    int64_t count = nbhd_query(t, &o->rate_nb, p, &buf);
    if (count < 0) {
      st = ad3d_fail_context(AD3D_ENOMEM, "GPS");
      goto cleanup;
    }
    double acc = 0.0;
    int64_t used = 0;
    for (int64_t j = 0; j < count; j++) {
      int64_t o2 = buf.idx[j];
      const float *q = pts + 3 * o2, *nj = nrm + 3 * o2;
      double dx = (double)q[0] - p[0], dy = (double)q[1] - p[1], dz = (double)q[2] - p[2];
      double d = sqrt(dx * dx + dy * dy + dz * dz);
      if (o2 == i || d == 0.0)
        continue;
      double dot = (double)ni[0] * nj[0] + (double)ni[1] * nj[1] + (double)ni[2] * nj[2];
      double change = 1.0 - fabs(dot) + fabs((double)curv[i] - curv[o2]);
      acc += change / d;
      used++;
    }
    rate[i] = used > 0 ? (float)(acc / (double)used) : 0.0f;
  }
cleanup:
  nbhd_buf_free(&buf);
  free(nrm);
  free(curv);
  free(order);
  return st;
}

ad3d_status gps_rate(const float *pts, int64_t n, const kdtree *t, const gps_opts *o, float *rate) {
  ASSERT(o && (n <= 0 || (pts && rate)));
  if (n < 0)
    return ad3d_fail(AD3D_EINVAL, "GPS: negative point count %lld", (long long)n);
  TRY(gps_check(o));
  if (t && kdtree_size(t) != n)
    return ad3d_fail(AD3D_EINVAL, "GPS: the kd-tree holds %lld points, the cloud %lld", (long long)kdtree_size(t),
                     (long long)n);
  if (n == 0)
    return AD3D_OK;
  kdtree *own = NULL;
  if (!t) {
    TRY(kdtree_build(pts, n, &own));
    t = own;
  }
  ad3d_status st = rate_all(pts, n, t, o, rate);
  kdtree_free(own);
  return st;
}

typedef struct {
  float r;
  int64_t i;
} rank_pair;

/* Highest rate first, smaller index on ties. */
static int cmp_rank(const void *a, const void *b) {
  const rank_pair *x = a, *y = b;
  if (x->r != y->r)
    return x->r > y->r ? -1 : 1;
  return (x->i > y->i) - (x->i < y->i);
}

ad3d_status sample_gps(const float *pts, int64_t n, int64_t m, const kdtree *t, const gps_opts *o, int64_t *out,
                       int64_t *m_salient) {
  ASSERT(o && (n <= 0 || pts) && (m <= 0 || out));
  ad3d_status st = AD3D_OK;
  float *rate = NULL, *mind = NULL;
  rank_pair *rank = NULL;
  int64_t *order = NULL;
  if (m_salient)
    *m_salient = 0;
  if (n < 0 || m < 0 || m > n)
    return ad3d_fail(AD3D_EINVAL, "GPS: cannot pick %lld of %lld points", (long long)m, (long long)n);
  TRY(gps_check(o));
  if (m == 0)
    return AD3D_OK;
  rate = malloc(sizeof *rate * (size_t)n);
  mind = malloc(sizeof *mind * (size_t)n);
  rank = malloc(sizeof *rank * (size_t)n);
  order = malloc(sizeof *order * (size_t)n);
  if (!rate || !mind || !rank || !order) {
    st = ad3d_fail(AD3D_ENOMEM, "GPS: cannot allocate the ranking of %lld points", (long long)n);
    goto cleanup;
  }
  st = gps_rate(pts, n, t, o, rate);
  if (st != AD3D_OK)
    goto cleanup;
  for (int64_t i = 0; i < n; i++)
    rank[i] = (rank_pair){rate[i], i};
  qsort(rank, (size_t)n, sizeof *rank, cmp_rank);
  for (int64_t i = 0; i < n; i++)
    order[i] = rank[i].i;
  int64_t ns = (int64_t)llround(o->tau * (double)n);
  ns = ns < 0 ? 0 : (ns > n ? n : ns);
  double wt = o->salient_ratio * o->tau;
  double share = wt + (1.0 - o->tau) > 0.0 ? wt / (wt + (1.0 - o->tau)) : 1.0;
  int64_t ms = (int64_t)llround((double)m * share);
  if (ms > ns)
    ms = ns;
  if (ms > m)
    ms = m;
  if (m - ms > n - ns)
    ms = m - (n - ns);
  /* salient set: positions 0..ns-1 of order; the rest: ns..n-1 */
  for (int64_t j = 0; j < ns; j++)
    mind[j] = INFINITY;
  if (ms > 0)
    fps_core(pts, order, ns, mind, 0, ms, out);
  int64_t nt = n - ns, mt = m - ms;
  if (mt > 0) {
    const int64_t *rest = order + ns;
    float *rmind = mind + ns;
    int64_t first = 0;
    for (int64_t j = 0; j < nt; j++) {
      float best = INFINITY;
      const float *p = pts + 3 * rest[j];
      for (int64_t c = 0; c < ms; c++) {
        float d = dist2f(p, pts + 3 * out[c]);
        best = d < best ? d : best;
      }
      rmind[j] = best;
      if (ms > 0 && best > rmind[first])
        first = j;
    }
    fps_core(pts, rest, nt, rmind, first, mt, out + ms);
  }
  if (m_salient)
    *m_salient = ms;
cleanup:
  free(rate);
  free(mind);
  free(rank);
  free(order);
  return st;
}

/* ---- patches ----------------------------------------------------------------------------------- */

ad3d_status sample_group_knn(const kdtree *t, const float *centres, int64_t m, int k, int64_t *idx) {
  ASSERT(t && (m <= 0 || (centres && idx)));
  int64_t n = kdtree_size(t);
  if (m < 0)
    return ad3d_fail(AD3D_EINVAL, "kNN grouping: negative centre count %lld", (long long)m);
  if (k < 1 || k > n)
    return ad3d_fail(AD3D_EINVAL, "kNN grouping: patch size %d outside 1..%lld (the cloud's size)", k, (long long)n);
  float *d2 = malloc(sizeof *d2 * (size_t)k);
  if (!d2)
    return ad3d_fail(AD3D_ENOMEM, "kNN grouping: cannot allocate %d distances", k);
  for (int64_t c = 0; c < m; c++)
    kdtree_knn(t, centres + 3 * c, k, idx + c * (int64_t)k, d2);
  free(d2);
  return AD3D_OK;
}

void sample_gather(const float *pts, const int64_t *idx, int64_t m, float *out) {
  ASSERT(m <= 0 || (pts && idx && out));
  for (int64_t j = 0; j < m; j++)
    memcpy(out + 3 * j, pts + 3 * idx[j], sizeof(float) * 3);
}
