/* featbank.c - FPFH features, memory banks, fill-back and template registration for the baselines. */
#include "methods/featbank.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geom/fpfh.h"
#include "geom/nbhd.h"
#include "geom/normals.h"

ad3d_status featbank_fpfh(const float *pts, int64_t n, double voxel, float *feat) {
  if (!(voxel > 0))
    return ad3d_fail(AD3D_EINVAL, "FPFH: voxel %g must be > 0", voxel);
  kdtree *t = NULL;
  float *nrm = malloc((size_t)(n ? n : 1) * 3 * sizeof *nrm); /* (n, 3) */
  ad3d_status st = AD3D_OK;
  if (!nrm) {
    st = ad3d_fail(AD3D_ENOMEM, "FPFH: out of memory for %lld normals", (long long)n);
    goto cleanup;
  }
  if ((st = kdtree_build(pts, n, &t)))
    goto cleanup;
  normals_opts no = {.nb = nbhd_hybrid(2 * voxel, 30), .orient = NORMALS_ORIENT_NONE};
  nbhd_t fnb = nbhd_hybrid(5 * voxel, 100);
  if ((st = normals_estimate(pts, n, t, &no, nrm, NULL)) || (st = fpfh_compute(pts, nrm, n, t, &fnb, feat)))
    goto cleanup;
cleanup:
  kdtree_free(t);
  free(nrm);
  return st;
}

ad3d_status featbank_build(featbank *b, float *mem, int64_t n, int dim) {
  memset(b, 0, sizeof *b);
  if (n < 1 || dim < 1) {
    free(mem);
    return ad3d_fail(AD3D_EINVAL, "memory bank: %lld entries of dimension %d", (long long)n, dim);
  }
  b->mem = mem, b->n = n, b->dim = dim;
  ad3d_status st = dim == 3 ? kdtree_build(mem, n, &b->tree) : nnsearch_build(mem, n, dim, &b->index);
  if (st)
    featbank_free(b);
  return st;
}

void featbank_free(featbank *b) {
  if (!b)
    return;
  kdtree_free(b->tree);
  nnsearch_free(b->index);
  free(b->mem);
  memset(b, 0, sizeof *b);
}

ad3d_status featbank_nn(const featbank *b, const float *q, int64_t m, float *dist, int64_t *idx) {
  if (b->tree) {
    for (int64_t i = 0; i < m; i++) {
      int64_t j;
      float d2;
      kdtree_knn(b->tree, q + 3 * i, 1, &j, &d2);
      dist[i] = sqrtf(d2);
      if (idx)
        idx[i] = j;
    }
    return AD3D_OK;
  }
  int64_t *tmp = idx ? idx : malloc((size_t)(m ? m : 1) * sizeof *tmp);
  if (!tmp)
    return ad3d_fail(AD3D_ENOMEM, "memory bank: out of memory for %lld queries", (long long)m);
  ad3d_status st = nnsearch_knn(b->index, q, m, 1, tmp, dist);
  for (int64_t i = 0; i < m && !st; i++)
    dist[i] = sqrtf(dist[i]);
  if (!idx)
    free(tmp);
  return st;
}

double featbank_object(const featbank *b, objscore_rule rule, int64_t topk, int reweight_k, const float *q,
                       const float *dist, const int64_t *idx, int64_t m) {
  switch (rule) {
  case OBJSCORE_MAX: return objscore_max(dist, m);
  case OBJSCORE_TOPK_MEAN: return objscore_topk_mean(dist, m, topk);
  case OBJSCORE_REWEIGHTED: return objscore_reweighted(q, b->dim, dist, idx, m, b->mem, b->n, reweight_k);
  }
  return objscore_max(dist, m);
}

ad3d_status featbank_stride(const float *x, int64_t n, int dim, int64_t s, float **out, int64_t *m) {
  const int64_t k = (n + s - 1) / s;
  *out = malloc((size_t)(k ? k : 1) * dim * sizeof **out);
  *m = 0;
  if (!*out)
    return ad3d_fail(AD3D_ENOMEM, "out of memory for %lld strided rows of %d", (long long)k, dim);
  for (int64_t j = 0; j < k; j++)
    memcpy(*out + j * dim, x + j * s * dim, (size_t)dim * sizeof **out);
  *m = k;
  return AD3D_OK;
}

ad3d_status featbank_fill(const float *sp, const float *sv, int64_t m, const float *pts, int64_t n, float *out) {
  kdtree *t = NULL;
  TRY(kdtree_build(sp, m, &t));
  for (int64_t i = 0; i < n; i++) {
    int64_t j;
    float d2;
    kdtree_knn(t, pts + 3 * i, 1, &j, &d2);
    out[i] = sv[j];
  }
  kdtree_free(t);
  return AD3D_OK;
}

ad3d_status featbank_score(const featbank *b, const float *q, const float *sp, int64_t m, const float *pts, int64_t n,
                           objscore_rule rule, int64_t topk, int reweight_k, float *point_scores, double *object) {
  ASSERT(sp || m == n);
  float *dist = sp ? malloc(sizeof *dist * (size_t)m) : point_scores;
  int64_t *idx = malloc(sizeof *idx * (size_t)m);
  ad3d_status st = dist && idx ? AD3D_OK : ad3d_fail(AD3D_ENOMEM, "out of memory scoring %lld features", (long long)m);
  if (!st)
    st = featbank_nn(b, q, m, dist, idx);
  if (!st && sp)
    st = featbank_fill(sp, dist, m, pts, n, point_scores);
  if (!st)
    *object = featbank_object(b, rule, topk, reweight_k, q, dist, idx, m);
  if (sp)
    free(dist);
  free(idx);
  return st;
}

ad3d_status featbank_reg_init(featbank_reg *r, const float *pts, int64_t n, double voxel, int icp, int64_t max_iter) {
  memset(r, 0, sizeof *r);
  r->o = reg_defaults(voxel);
  r->o.icp = icp;
  r->o.max_iter = max_iter;
  return reg_cloud_prepare(pts, n, &r->o, &r->tmpl);
}

void featbank_reg_free(featbank_reg *r) {
  if (r)
    reg_cloud_free(&r->tmpl);
}

ad3d_status featbank_reg_apply(const featbank_reg *r, const float *pts, int64_t n, rng_t *rng, float *out) {
  reg_cloud src;
  TRY(reg_cloud_prepare(pts, n, &r->o, &src));
  reg_result res;
  ad3d_status st = reg_align(&src, &r->tmpl, &r->o, rng, &res);
  reg_cloud_free(&src);
  if (st)
    return st;
  reg_transform(res.T, pts, n, out);
  return AD3D_OK;
}
