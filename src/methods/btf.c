/* btf.c - BTF(Raw): Back to the Feature's raw-coordinate baseline, as the Real3D-AD benchmark runs it.
 *
 * Fit: the memory bank is every `train_stride`-th point of every training sample (xyz as a 3-d
 * feature, no coreset). Score: every `test_stride`-th test point is scored by its distance to the
 * nearest memory point; every other point takes the score of its nearest scored point (1-NN fill
 * back); the object score follows `object_score` (re-weighted max by default, as in BTF).
 * BTF(FPFH) lives in the geometry issue's methods; this file is the raw variant only.
 */
#include <math.h>
#include <stdlib.h>

#include "geom/kdtree.h"
#include "methods/method.h"
#include "methods/objscore.h"

static const opt_spec btf_raw_opts[] = {
    {"train_stride", OPT_INT, "100", 1, 1e9, "memory bank = every n-th point of each training sample"},
    {"test_stride", OPT_INT, "500", 1, 1e9, "score every n-th test point, fill the rest by 1-NN"},
    {"object_score", OPT_STRING, "reweighted", 1, 0, "object score rule: reweighted, max or topk_mean"},
    {"reweight_k", OPT_INT, "3", 2, 16, "neighbours of m* in the re-weighting (the first, m* itself, is dropped)"},
    {"topk", OPT_INT, "10", 1, 1e9, "k of the topk_mean object score"},
    {NULL, 0, NULL, 0, 0, NULL},
};

typedef struct {
  int64_t train_stride, test_stride, topk;
  int reweight_k;
  objscore_rule rule;
  float *mem; /* (nmem, 3) */
  int64_t nmem;
  kdtree *tree;
} btf_raw;

static void btf_destroy(void *state) {
  btf_raw *m = state;
  if (!m)
    return;
  kdtree_free(m->tree);
  free(m->mem);
  free(m);
}

static ad3d_status btf_create(const opts_t *o, rng_t *rng, void **state) {
  (void)rng; /* BTF(Raw) is deterministic */
  btf_raw *m = calloc(1, sizeof *m);
  if (!m)
    return ad3d_fail(AD3D_ENOMEM, "btf_raw: out of memory");
  m->train_stride = opts_int(o, "btf_raw.train_stride");
  m->test_stride = opts_int(o, "btf_raw.test_stride");
  m->reweight_k = (int)opts_int(o, "btf_raw.reweight_k");
  m->topk = opts_int(o, "btf_raw.topk");
  ad3d_status st = objscore_parse(opts_str(o, "btf_raw.object_score"), &m->rule);
  if (st) {
    free(m);
    return ad3d_fail_context(st, "btf_raw.object_score");
  }
  *state = m;
  return AD3D_OK;
}

static ad3d_status btf_fit(void *state, const sample_t *train, int ntrain) {
  btf_raw *m = state;
  int64_t total = 0;
  for (int s = 0; s < ntrain; s++)
    total += (train[s].cloud.n + m->train_stride - 1) / m->train_stride;
  if (total == 0)
    return ad3d_fail(AD3D_EINVAL, "btf_raw: no training points");
  m->mem = malloc((size_t)total * 3 * sizeof *m->mem);
  if (!m->mem)
    return ad3d_fail(AD3D_ENOMEM, "btf_raw: out of memory for a %lld-point memory bank", (long long)total);
  int64_t k = 0;
  for (int s = 0; s < ntrain; s++)
    for (int64_t i = 0; i < train[s].cloud.n; i += m->train_stride, k++)
      for (int c = 0; c < 3; c++)
        m->mem[3 * k + c] = train[s].cloud.xyz[3 * i + c];
  m->nmem = total;
  return kdtree_build(m->mem, m->nmem, &m->tree);
}

static ad3d_status btf_score(void *state, const sample_t *s, float *point_scores, double *object_score) {
  btf_raw *m = state;
  const int64_t n = s->cloud.n;
  if (n == 0)
    return ad3d_fail(AD3D_EINVAL, "btf_raw: %s has no points", s->name);
  const int64_t nq = (n + m->test_stride - 1) / m->test_stride;
  ad3d_status st = AD3D_OK;
  kdtree *qtree = NULL;
  float *q = malloc((size_t)nq * 3 * sizeof *q);   /* (nq, 3) scored points */
  float *qd = malloc((size_t)nq * sizeof *qd);     /* (nq) their NN distances */
  if (!q || !qd) {
    st = ad3d_fail(AD3D_ENOMEM, "btf_raw: out of memory scoring %s", s->name);
    goto cleanup;
  }
  for (int64_t j = 0; j < nq; j++) {
    const float *p = s->cloud.xyz + 3 * j * m->test_stride;
    int64_t idx;
    float d2;
    q[3 * j] = p[0], q[3 * j + 1] = p[1], q[3 * j + 2] = p[2];
    kdtree_knn(m->tree, p, 1, &idx, &d2);
    qd[j] = sqrtf(d2);
  }
  /* fill back: every point takes the score of its nearest scored point */
  if ((st = kdtree_build(q, nq, &qtree)))
    goto cleanup;
  for (int64_t i = 0; i < n; i++) {
    int64_t idx;
    float d2;
    kdtree_knn(qtree, s->cloud.xyz + 3 * i, 1, &idx, &d2);
    point_scores[i] = qd[idx];
  }
  switch (m->rule) {
  case OBJSCORE_MAX: *object_score = objscore_max(qd, nq); break;
  case OBJSCORE_TOPK_MEAN: *object_score = objscore_topk_mean(qd, nq, m->topk); break;
  case OBJSCORE_REWEIGHTED:
    *object_score = objscore_reweighted3(q, qd, nq, m->mem, m->tree, m->reweight_k);
    break;
  }
cleanup:
  kdtree_free(qtree);
  free(q);
  free(qd);
  return st;
}

const method_vt method_btf_raw = {
    .name = "btf_raw",
    .title = "BTF(Raw)",
    .help = "xyz memory bank, 1-NN distance (Back to the Feature, raw variant)",
    .opts = btf_raw_opts,
    .create = btf_create,
    .fit = btf_fit,
    .score = btf_score,
    .destroy = btf_destroy,
};
