/* reg3dad.c - Reg3D-AD (the paper's "RegAD"): the registered-xyz memory bank, as the Real3D-AD
 * benchmark runs it (main_reg3dad.py, patchcore/patchcore.py).
 *
 * Fit: every training sample is moved onto the first one (the "basic template") by RANSAC over FPFH
 * correspondences (geom/register.h with Real3D-AD's settings for voxel v: mutual filter, edge length
 * 0.9, distance 1.5 v, 100000 iterations, confidence 0.999; optional point-to-plane ICP); the first
 * one is used as it is. The registered points of every `train_stride`-th point form the candidates;
 * PatchCore's approximate greedy coreset (random projection of the xyz to `proj_dim`, `coreset_starts`
 * random starts) keeps `memory_size` of them (0: a `coreset_ratio` fraction; "none": all).
 * Score: the sample is registered onto the template the same way; each point's score is the distance
 * of its registered position to the nearest memory point (the reference's Faiss distance is squared:
 * same ranking); the object score is the max (or another objscore.h rule, computed on the distances).
 * With `register` off (an ablation), clouds are used as they are.
 * Normalisation: the reference min-max normalises each bank's scores over the class's whole test set
 * before averaging its two banks (xyz and Point-MAE). Scores here are produced one sample at a time,
 * so with `normalize` on, the bounds come from the training samples instead: each registered training
 * sample is scored against the others (leave one out, 1-NN over their strided points), and lo, hi are
 * the smallest and largest of those point scores; every score s becomes (s - lo) / (hi - lo) (lo = 0,
 * hi = 1 with one training sample). The map is increasing, so AUROCs do not change; it puts the banks
 * on one scale.
 * Point-MAE bank (`pointmae` on, with a `checkpoint`; the published Reg3D-AD uses both banks): the registered
 * clouds' per-patch Point-MAE features (maefeat.h: blocks 3, 7, 11, `num_group` patches of `group_size`
 * points, the unit-sphere transform of the first training sample) form a second bank, reduced by the same
 * coreset; a patch's score is its distance to the nearest memory feature, every point takes its nearest
 * patch centre's score, normalised like the xyz bank (leave-one-out bounds over the training samples'
 * patches); the point score is the mean of the two normalised banks, the object score the mean of the two
 * banks' normalised object scores (each by `object_score` over its own scores), as main_reg3dad.py averages
 * its two min-max normalised banks.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geom/coreset.h"
#include "geom/kdtree.h"
#include "methods/featbank.h"
#include "methods/maefeat.h"
#include "methods/method.h"
#include "methods/objscore.h"

static const opt_spec reg3dad_opts[] = {
    {"voxel", OPT_REAL, "0.5", 1e-9, 1e9,
     "registration voxel v in the data's units (FPFH for RANSAC: normals radius 2v, FPFH radius 5v; inlier "
     "distance 1.5v); 0.5 (mm) on Real3D-AD"},
    {"register", OPT_BOOL, "true", 1, 0, "register the clouds (false: the xyz bank as it is, an ablation)"},
    {"icp", OPT_BOOL, "false", 1, 0, "refine each registration by point-to-plane ICP"},
    {"ransac_max_iter", OPT_INT, "100000", 1, 1e9, "RANSAC iterations at most (Real3D-AD: 100000)"},
    {"memory_size", OPT_INT, "10000", 0, 1e12, "coreset size (0: use coreset_ratio)"},
    {"coreset_ratio", OPT_REAL, "0.1", 1e-9, 1, "coreset size as a fraction of the points, when memory_size = 0"},
    {"coreset", OPT_STRING, "approx", 1, 0, "coreset sampler: approx (PatchCore's approximate greedy) or none"},
    {"proj_dim", OPT_INT, "128", 0, 1e6, "random projection dimension of the coreset sampler (0: none)"},
    {"coreset_starts", OPT_INT, "10", 1, 1e6, "random starting points of the approximate greedy coreset"},
    {"train_stride", OPT_INT, "1", 1, 1e9, "coreset candidates = every n-th registered training point"},
    {"normalize", OPT_BOOL, "true", 1, 0, "min-max normalise scores by the training samples' leave-one-out scores"},
    {"object_score", OPT_STRING, "max", 1, 0, "object score rule: max, reweighted or topk_mean"},
    {"reweight_k", OPT_INT, "3", 2, 16, "neighbours of m* in the re-weighting"},
    {"topk", OPT_INT, "10", 1, 1e9, "k of the topk_mean object score"},
    {"pointmae", OPT_BOOL, "false", 1, 0,
     "add the Point-MAE feature bank (the published Reg3D-AD averages both banks; needs checkpoint)"},
    MAEFEAT_OPTS("1024", "128"),
    {NULL, 0, NULL, 0, 0, NULL},
};

typedef struct {
  double voxel, lo, hi;
  int do_register, icp, normalize, use_coreset, reweight_k;
  int64_t ransac_max_iter, train_stride, topk;
  coreset_opts copts;
  objscore_rule rule;
  rng_t rng;
  featbank_reg reg;
  featbank bank;
  int pointmae;         /* the Point-MAE bank is on */
  maefeat pm;
  featbank pbank;
  double plo, phi;      /* its normalisation bounds */
} reg3dad;

static void reg3dad_destroy(void *state) {
  reg3dad *m = state;
  if (!m)
    return;
  featbank_free(&m->bank);
  featbank_reg_free(&m->reg);
  maefeat_free(&m->pm);
  featbank_free(&m->pbank);
  free(m);
}

static ad3d_status reg3dad_create(const opts_t *o, rng_t *rng, void **state) {
  reg3dad *m = calloc(1, sizeof *m);
  if (!m)
    return ad3d_fail(AD3D_ENOMEM, "reg3dad: out of memory");
  m->rng = *rng;
  m->voxel = opts_real(o, "reg3dad.voxel");
  m->do_register = opts_bool(o, "reg3dad.register");
  m->icp = opts_bool(o, "reg3dad.icp");
  m->ransac_max_iter = opts_int(o, "reg3dad.ransac_max_iter");
  m->copts = coreset_defaults();
  m->copts.size = opts_int(o, "reg3dad.memory_size");
  m->copts.ratio = opts_real(o, "reg3dad.coreset_ratio");
  m->copts.proj_dim = (int)opts_int(o, "reg3dad.proj_dim");
  m->copts.nstart = (int)opts_int(o, "reg3dad.coreset_starts");
  m->train_stride = opts_int(o, "reg3dad.train_stride");
  m->normalize = opts_bool(o, "reg3dad.normalize");
  m->reweight_k = (int)opts_int(o, "reg3dad.reweight_k");
  m->topk = opts_int(o, "reg3dad.topk");
  m->lo = 0, m->hi = 1;
  m->plo = 0, m->phi = 1;
  m->pointmae = opts_bool(o, "reg3dad.pointmae");
  const char *cs = opts_str(o, "reg3dad.coreset");
  ad3d_status st = AD3D_OK;
  if (!strcmp(cs, "approx") || !strcmp(cs, "none"))
    m->use_coreset = !strcmp(cs, "approx");
  else
    st = ad3d_fail(AD3D_EINVAL, "reg3dad.coreset: unknown sampler \"%s\" (approx, none)", cs);
  if (!st && (st = objscore_parse(opts_str(o, "reg3dad.object_score"), &m->rule)))
    ad3d_fail_context(st, "reg3dad.object_score");
  if (!st && m->pointmae)
    st = maefeat_init(&m->pm, "reg3dad", o);
  if (st) {
    reg3dad_destroy(m);
    return st;
  }
  *state = m;
  return AD3D_OK;
}

/* lo, hi of the leave-one-out scores of the registered training clouds reg[s] (n[s], 3). */
static ad3d_status loo_bounds(reg3dad *m, float *const *reg, const int64_t *n, int ntrain) {
  if (ntrain < 2)
    return AD3D_OK;
  double lo = INFINITY, hi = -INFINITY;
  for (int s = 0; s < ntrain; s++) {
    int64_t total = 0, k = 0;
    for (int u = 0; u < ntrain; u++)
      if (u != s)
        total += (n[u] + m->train_stride - 1) / m->train_stride;
    float *others = malloc((size_t)(total ? total : 1) * 3 * sizeof *others);
    if (!others)
      return ad3d_fail(AD3D_ENOMEM, "reg3dad: out of memory");
    for (int u = 0; u < ntrain; u++)
      if (u != s)
        for (int64_t i = 0; i < n[u]; i += m->train_stride, k++)
          memcpy(others + 3 * k, reg[u] + 3 * i, 3 * sizeof *others);
    kdtree *t = NULL;
    ad3d_status st = kdtree_build(others, total, &t);
    if (st) {
      free(others);
      return st;
    }
    for (int64_t i = 0; i < n[s] && total > 0; i++) {
      int64_t j;
      float d2;
      kdtree_knn(t, reg[s] + 3 * i, 1, &j, &d2);
      double d = sqrt(d2);
      lo = d < lo ? d : lo;
      hi = d > hi ? d : hi;
    }
    kdtree_free(t);
    free(others);
  }
  if (isfinite(lo) && isfinite(hi) && hi > lo)
    m->lo = lo, m->hi = hi;
  return AD3D_OK;
}

/* ---- the Point-MAE bank ---------------------------------------------------------------------------- */

/* plo, phi: the leave-one-out patch scores of the training samples' features ft[s] (G[s], d). */
static ad3d_status pmae_loo_bounds(reg3dad *m, float *const *ft, const int *G, int ntrain, int d) {
  if (ntrain < 2)
    return AD3D_OK;
  double lo = INFINITY, hi = -INFINITY;
  for (int s = 0; s < ntrain; s++) {
    int64_t total = 0, k = 0;
    for (int u = 0; u < ntrain; u++)
      total += u != s ? G[u] : 0;
    float *others = malloc(sizeof(float) * (size_t)total * d), *dist = malloc(sizeof(float) * (size_t)G[s]);
    if (!others || !dist) {
      free(others);
      free(dist);
      return ad3d_fail(AD3D_ENOMEM, "reg3dad: out of memory for the Point-MAE bounds");
    }
    for (int u = 0; u < ntrain; u++)
      if (u != s) {
        memcpy(others + k * d, ft[u], sizeof(float) * (size_t)G[u] * d);
        k += G[u];
      }
    featbank tmp;
    ad3d_status st = featbank_build(&tmp, others, total, d); /* takes others */
    if (!st)
      st = featbank_nn(&tmp, ft[s], G[s], dist, NULL);
    for (int i = 0; !st && i < G[s]; i++) {
      lo = dist[i] < lo ? dist[i] : lo;
      hi = dist[i] > hi ? dist[i] : hi;
    }
    featbank_free(&tmp);
    free(dist);
    if (st)
      return st;
  }
  if (isfinite(lo) && isfinite(hi) && hi > lo)
    m->plo = lo, m->phi = hi;
  return AD3D_OK;
}

/* The Point-MAE bank from the registered training clouds reg[s] (n[s], 3). */
static ad3d_status pmae_fit(reg3dad *m, float *const *reg, const int64_t *n, int ntrain) {
  maefeat_fit_transform(&m->pm, reg[0], n[0]);
  const int d = maefeat_dim(&m->pm);
  float **ft = calloc((size_t)ntrain, sizeof *ft), *cand = NULL; /* ft[s] (G[s], d) */
  int *G = calloc((size_t)ntrain, sizeof *G);
  int64_t total = 0, *sel = NULL, nbank = 0;
  ad3d_status st = AD3D_OK;
  if (!ft || !G) {
    st = ad3d_fail(AD3D_ENOMEM, "reg3dad: out of memory");
    goto cleanup;
  }
  for (int s = 0; s < ntrain; s++) {
    float *cen = NULL;
    st = maefeat_compute(&m->pm, reg[s], n[s], &cen, &ft[s], &G[s]);
    free(cen);
    if (st)
      goto cleanup;
    total += G[s];
  }
  if (m->normalize && (st = pmae_loo_bounds(m, ft, G, ntrain, d)))
    goto cleanup;
  if (m->use_coreset && coreset_size(&m->copts, total) < total) {
    float *all = malloc(sizeof(float) * (size_t)total * d);
    int64_t k = 0;
    if (!all) {
      st = ad3d_fail(AD3D_ENOMEM, "reg3dad: out of memory for %lld Point-MAE features", (long long)total);
      goto cleanup;
    }
    for (int s = 0; s < ntrain; k += G[s], s++)
      memcpy(all + k * d, ft[s], sizeof(float) * (size_t)G[s] * d);
    st = coreset_select(all, total, d, &m->copts, &m->rng, &sel, &nbank);
    if (!st && !(cand = malloc(sizeof(float) * (size_t)nbank * d)))
      st = ad3d_fail(AD3D_ENOMEM, "reg3dad: out of memory for the Point-MAE bank");
    for (int64_t j = 0; !st && j < nbank; j++)
      memcpy(cand + j * d, all + sel[j] * d, sizeof(float) * (size_t)d);
    free(all);
  } else {
    nbank = total;
    if (!(cand = malloc(sizeof(float) * (size_t)total * d)))
      st = ad3d_fail(AD3D_ENOMEM, "reg3dad: out of memory for the Point-MAE bank");
    int64_t k = 0;
    for (int s = 0; !st && s < ntrain; k += G[s], s++)
      memcpy(cand + k * d, ft[s], sizeof(float) * (size_t)G[s] * d);
  }
  if (!st) {
    st = featbank_build(&m->pbank, cand, nbank, d);
    cand = NULL; /* owned by the bank now, or freed */
  }
cleanup:
  for (int s = 0; ft && s < ntrain; s++)
    free(ft[s]);
  free(ft);
  free(G);
  free(cand);
  free(sel);
  return st;
}

/* Point-MAE bank scores of the registered cloud pts (n, 3): ps (n) per point, *obj the object score, both
 * normalised by plo, phi. */
static ad3d_status pmae_score(reg3dad *m, const float *pts, int64_t n, float *ps, double *obj) {
  float *cen = NULL, *ft = NULL;
  int G = 0;
  ad3d_status st = maefeat_compute(&m->pm, pts, n, &cen, &ft, &G);
  if (!st)
    st = featbank_score(&m->pbank, ft, cen, G, pts, n, m->rule, m->topk, m->reweight_k, ps, obj);
  if (!st) {
    const double scale = 1.0 / (m->phi - m->plo);
    *obj = (*obj - m->plo) * scale;
    for (int64_t i = 0; i < n; i++)
      ps[i] = (float)((ps[i] - m->plo) * scale);
  }
  free(cen);
  free(ft);
  return st;
}

static ad3d_status reg3dad_fit(void *state, const sample_t *train, int ntrain) {
  reg3dad *m = state;
  if (ntrain < 1)
    return ad3d_fail(AD3D_EINVAL, "reg3dad: no training samples");
  if (m->do_register)
    TRY(featbank_reg_init(&m->reg, train[0].cloud.xyz, train[0].cloud.n, m->voxel, m->icp, m->ransac_max_iter));
  ad3d_status st = AD3D_OK;
  float **reg = calloc((size_t)ntrain, sizeof *reg); /* (ntrain) registered clouds (n_s, 3) */
  int64_t *n = calloc((size_t)ntrain, sizeof *n);
  float *cand = NULL;
  int64_t *sel = NULL;
  if (!reg || !n) {
    st = ad3d_fail(AD3D_ENOMEM, "reg3dad: out of memory");
    goto cleanup;
  }
  int64_t total = 0;
  for (int s = 0; s < ntrain; s++) {
    n[s] = train[s].cloud.n;
    total += (n[s] + m->train_stride - 1) / m->train_stride;
    if (!(reg[s] = malloc((size_t)(n[s] ? n[s] : 1) * 3 * sizeof **reg))) {
      st = ad3d_fail(AD3D_ENOMEM, "reg3dad: out of memory for %s", train[s].name);
      goto cleanup;
    }
    if (s == 0 || !m->do_register)
      memcpy(reg[s], train[s].cloud.xyz, (size_t)n[s] * 3 * sizeof **reg);
    else if ((st = featbank_reg_apply(&m->reg, train[s].cloud.xyz, n[s], &m->rng, reg[s]))) {
      ad3d_fail_context(st, "reg3dad: registering %s", train[s].name);
      goto cleanup;
    }
  }
  if (total == 0) {
    st = ad3d_fail(AD3D_EINVAL, "reg3dad: no training points");
    goto cleanup;
  }
  if (m->normalize && (st = loo_bounds(m, reg, n, ntrain)))
    goto cleanup;
  if (!(cand = malloc((size_t)total * 3 * sizeof *cand))) {
    st = ad3d_fail(AD3D_ENOMEM, "reg3dad: out of memory for %lld points", (long long)total);
    goto cleanup;
  }
  int64_t k = 0;
  for (int s = 0; s < ntrain; s++)
    for (int64_t i = 0; i < n[s]; i += m->train_stride, k++)
      memcpy(cand + 3 * k, reg[s] + 3 * i, 3 * sizeof *cand);
  int64_t nbank = total;
  if (m->use_coreset && coreset_size(&m->copts, total) < total) {
    int64_t ns = 0;
    if ((st = coreset_select(cand, total, 3, &m->copts, &m->rng, &sel, &ns)))
      goto cleanup;
    float *bank = malloc((size_t)ns * 3 * sizeof *bank);
    if (!bank) {
      st = ad3d_fail(AD3D_ENOMEM, "reg3dad: out of memory");
      goto cleanup;
    }
    for (int64_t j = 0; j < ns; j++)
      memcpy(bank + 3 * j, cand + 3 * sel[j], 3 * sizeof *bank);
    free(cand);
    cand = bank;
    nbank = ns;
  }
  st = featbank_build(&m->bank, cand, nbank, 3);
  cand = NULL; /* owned by the bank now, or freed */
  if (!st && m->pointmae)
    st = pmae_fit(m, reg, n, ntrain);
cleanup:
  for (int s = 0; reg && s < ntrain; s++)
    free(reg[s]);
  free(reg);
  free(n);
  free(cand);
  free(sel);
  return st;
}

static ad3d_status reg3dad_score(void *state, const sample_t *s, float *point_scores, double *object_score) {
  reg3dad *m = state;
  const int64_t n = s->cloud.n;
  if (n == 0)
    return ad3d_fail(AD3D_EINVAL, "reg3dad: %s has no points", s->name);
  float *pts = malloc((size_t)n * 3 * sizeof *pts); /* (n, 3) registered */
  int64_t *idx = malloc((size_t)n * sizeof *idx);
  float *ps = m->pointmae ? malloc((size_t)n * sizeof *ps) : NULL; /* (n) Point-MAE bank */
  ad3d_status st = AD3D_OK;
  if (!pts || !idx || (m->pointmae && !ps)) {
    st = ad3d_fail(AD3D_ENOMEM, "reg3dad: out of memory scoring %s", s->name);
    goto cleanup;
  }
  if (!m->do_register) {
    memcpy(pts, s->cloud.xyz, (size_t)n * 3 * sizeof *pts);
  } else if ((st = featbank_reg_apply(&m->reg, s->cloud.xyz, n, &m->rng, pts))) {
    ad3d_fail_context(st, "reg3dad: registering %s", s->name);
    goto cleanup;
  }
  if ((st = featbank_nn(&m->bank, pts, n, point_scores, idx)))
    goto cleanup;
  double obj = featbank_object(&m->bank, m->rule, m->topk, m->reweight_k, pts, point_scores, idx, n);
  const double scale = 1.0 / (m->hi - m->lo);
  for (int64_t i = 0; i < n; i++)
    point_scores[i] = (float)((point_scores[i] - m->lo) * scale);
  *object_score = (obj - m->lo) * scale;
  if (m->pointmae) {
    double pobj = 0;
    if ((st = pmae_score(m, pts, n, ps, &pobj))) {
      ad3d_fail_context(st, "reg3dad: %s", s->name);
      goto cleanup;
    }
    for (int64_t i = 0; i < n; i++)
      point_scores[i] = 0.5f * (point_scores[i] + ps[i]);
    *object_score = 0.5 * (*object_score + pobj);
  }
cleanup:
  free(pts);
  free(idx);
  free(ps);
  return st;
}

const method_vt method_reg3dad = {
    .name = "reg3dad",
    .title = "RegAD",
    .help = "Reg3D-AD: registration onto the first template (RANSAC on FPFH), registered-xyz memory bank and "
            "(pointmae) a Point-MAE feature bank, 1-NN, normalised and averaged",
    .opts = reg3dad_opts,
    .create = reg3dad_create,
    .fit = reg3dad_fit,
    .score = reg3dad_score,
    .destroy = reg3dad_destroy,
};
