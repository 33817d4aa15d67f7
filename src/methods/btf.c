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

#include "methods/featbank.h"
#include "methods/method.h"

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
  featbank bank; /* (n, 3) xyz */
} btf_raw;

static void btf_destroy(void *state) {
  btf_raw *m = state;
  if (!m)
    return;
  featbank_free(&m->bank);
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
  float *mem = malloc((size_t)total * 3 * sizeof *mem); /* (total, 3) */
  if (!mem)
    return ad3d_fail(AD3D_ENOMEM, "btf_raw: out of memory for a %lld-point memory bank", (long long)total);
  int64_t k = 0;
  for (int s = 0; s < ntrain; s++)
    for (int64_t i = 0; i < train[s].cloud.n; i += m->train_stride, k++)
      for (int c = 0; c < 3; c++)
        mem[3 * k + c] = train[s].cloud.xyz[3 * i + c];
  return featbank_build(&m->bank, mem, total, 3);
}

static ad3d_status btf_score(void *state, const sample_t *s, float *point_scores, double *object_score) {
  btf_raw *m = state;
  const int64_t n = s->cloud.n;
  if (n == 0)
    return ad3d_fail(AD3D_EINVAL, "btf_raw: %s has no points", s->name);
  float *q = NULL; /* (nq, 3) scored points */
  int64_t nq = 0;
  ad3d_status st = featbank_stride(s->cloud.xyz, n, 3, m->test_stride, &q, &nq);
  if (!st)
    st = featbank_score(&m->bank, q, q, nq, s->cloud.xyz, n, m->rule, m->topk, m->reweight_k, point_scores,
                        object_score);
  free(q);
  return st ? ad3d_fail_context(st, "btf_raw: %s", s->name) : AD3D_OK;
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
