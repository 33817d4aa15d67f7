/* btf_fpfh.c - BTF(FPFH): Back to the Feature's FPFH baseline, as the Real3D-AD benchmark runs it
 * (main_btf_fpfh.py).
 *
 * Features: FPFH (33-d) of every point of a cloud, computed on the full cloud (no downsampling; the
 * voxel v only sets the radii): normals over hybrid(2v, 30), unoriented, FPFH over hybrid(5v, 100).
 * Fit: the memory bank is the features of every `train_stride`-th point of every training sample
 * (no coreset, no registration). Score: the features of every `test_stride`-th test point are scored
 * by their distance to the nearest memory feature; every other point takes the score of its nearest
 * scored point (1-NN fill back in xyz); the object score follows `object_score` (PatchCore's
 * re-weighted max by default, D = 33, as BTF). Strides take rows 0, s, 2s, ... (the reference takes
 * int(n / s) of them, dropping a last partial stride; here it is kept, as in btf_raw).
 */
#include <math.h>
#include <stdlib.h>

#include "geom/fpfh.h"
#include "methods/featbank.h"
#include "methods/method.h"
#include "methods/objscore.h"

static const opt_spec btf_fpfh_opts[] = {
    {"voxel", OPT_REAL, "0.5", 1e-9, 1e9,
     "voxel size v in the data's units: normals radius 2v (max 30 neighbours), FPFH radius 5v (max 100); "
     "0.5 (mm) on Real3D-AD"},
    {"train_stride", OPT_INT, "100", 1, 1e9, "memory bank = features of every n-th point of each training sample"},
    {"test_stride", OPT_INT, "500", 1, 1e9, "score every n-th test point, fill the rest by 1-NN"},
    {"object_score", OPT_STRING, "reweighted", 1, 0, "object score rule: reweighted, max or topk_mean"},
    {"reweight_k", OPT_INT, "3", 2, 16, "neighbours of m* in the re-weighting (the first, m* itself, is dropped)"},
    {"topk", OPT_INT, "10", 1, 1e9, "k of the topk_mean object score"},
    {NULL, 0, NULL, 0, 0, NULL},
};

typedef struct {
  double voxel;
  int64_t train_stride, test_stride, topk;
  int reweight_k;
  objscore_rule rule;
  featbank bank;
} btf_fpfh;

static void btf_fpfh_destroy(void *state) {
  btf_fpfh *m = state;
  if (!m)
    return;
  featbank_free(&m->bank);
  free(m);
}

static ad3d_status btf_fpfh_create(const opts_t *o, rng_t *rng, void **state) {
  (void)rng; /* deterministic */
  btf_fpfh *m = calloc(1, sizeof *m);
  if (!m)
    return ad3d_fail(AD3D_ENOMEM, "btf_fpfh: out of memory");
  m->voxel = opts_real(o, "btf_fpfh.voxel");
  m->train_stride = opts_int(o, "btf_fpfh.train_stride");
  m->test_stride = opts_int(o, "btf_fpfh.test_stride");
  m->reweight_k = (int)opts_int(o, "btf_fpfh.reweight_k");
  m->topk = opts_int(o, "btf_fpfh.topk");
  ad3d_status st = objscore_parse(opts_str(o, "btf_fpfh.object_score"), &m->rule);
  if (st) {
    free(m);
    return ad3d_fail_context(st, "btf_fpfh.object_score");
  }
  *state = m;
  return AD3D_OK;
}

/* Features of a whole cloud (n, 33), allocated. */
static ad3d_status cloud_fpfh(const btf_fpfh *m, const sample_t *s, float **feat) {
  *feat = malloc((size_t)(s->cloud.n ? s->cloud.n : 1) * FPFH_DIM * sizeof **feat);
  if (!*feat)
    return ad3d_fail(AD3D_ENOMEM, "btf_fpfh: out of memory for the features of %s", s->name);
  ad3d_status st = featbank_fpfh(s->cloud.xyz, s->cloud.n, m->voxel, *feat);
  if (st) {
    free(*feat);
    *feat = NULL;
    return ad3d_fail_context(st, "btf_fpfh: %s", s->name);
  }
  return AD3D_OK;
}

static ad3d_status btf_fpfh_fit(void *state, const sample_t *train, int ntrain) {
  btf_fpfh *m = state;
  int64_t total = 0;
  for (int s = 0; s < ntrain; s++)
    total += (train[s].cloud.n + m->train_stride - 1) / m->train_stride;
  if (total == 0)
    return ad3d_fail(AD3D_EINVAL, "btf_fpfh: no training points");
  float *mem = malloc((size_t)total * FPFH_DIM * sizeof *mem); /* (total, 33) */
  if (!mem)
    return ad3d_fail(AD3D_ENOMEM, "btf_fpfh: out of memory for a %lld-entry memory bank", (long long)total);
  int64_t k = 0;
  for (int s = 0; s < ntrain; s++) {
    float *feat = NULL;
    ad3d_status st = cloud_fpfh(m, &train[s], &feat);
    if (st) {
      free(mem);
      return st;
    }
    for (int64_t i = 0; i < train[s].cloud.n; i += m->train_stride, k++)
      for (int c = 0; c < FPFH_DIM; c++)
        mem[k * FPFH_DIM + c] = feat[i * FPFH_DIM + c];
    free(feat);
  }
  return featbank_build(&m->bank, mem, total, FPFH_DIM);
}

static ad3d_status btf_fpfh_score(void *state, const sample_t *s, float *point_scores, double *object_score) {
  btf_fpfh *m = state;
  const int64_t n = s->cloud.n;
  if (n == 0)
    return ad3d_fail(AD3D_EINVAL, "btf_fpfh: %s has no points", s->name);
  float *feat = NULL, *q = NULL, *qp = NULL;
  int64_t nq = 0, nqp = 0;
  ad3d_status st = cloud_fpfh(m, s, &feat);
  if (st)
    return st;
  if ((st = featbank_stride(feat, n, FPFH_DIM, m->test_stride, &q, &nq)) ||
      (st = featbank_stride(s->cloud.xyz, n, 3, m->test_stride, &qp, &nqp)))
    goto cleanup;
  if ((st = featbank_score(&m->bank, q, qp, nq, s->cloud.xyz, n, m->rule, m->topk, m->reweight_k, point_scores,
                           object_score)))
    ad3d_fail_context(st, "btf_fpfh: %s", s->name);
cleanup:
  free(feat);
  free(q);
  free(qp);
  return st;
}

const method_vt method_btf_fpfh = {
    .name = "btf_fpfh",
    .title = "BTF(FPFH)",
    .help = "FPFH memory bank, 1-NN distance (Back to the Feature, FPFH variant)",
    .opts = btf_fpfh_opts,
    .create = btf_fpfh_create,
    .fit = btf_fpfh_fit,
    .score = btf_fpfh_score,
    .destroy = btf_fpfh_destroy,
};
