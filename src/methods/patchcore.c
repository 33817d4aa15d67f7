/* patchcore.c - PatchCore(FPFH) and PatchCore(FPFH+Raw), as the Real3D-AD benchmark runs them
 * (patchcore/patchcore.py with the sampler of patchcore/sampler.py).
 *
 * Features of a cloud: FPFH (33-d) of every point (normals hybrid(2v, 30), FPFH hybrid(5v, 100), as
 * featbank_fpfh); PatchCore(FPFH+Raw) appends the point's coordinates, each repeated `xyz_repeat` times
 * and multiplied by `xyz_scale` (the reference's _embed_upfpfh_xyz: np.repeat(xyz, 11, axis=1), 66-d).
 * With `register` on, every cloud is first moved onto the first training sample by RANSAC over FPFH
 * correspondences (geom/register.h, Real3D-AD's settings with the same voxel v; optional ICP), as the
 * reference registers every sample onto its "basic template"; the first training sample itself is used
 * as it is (the reference registers it onto itself). FPFH does not change under a rigid motion, so
 * registration only matters to the xyz part.
 * Fit: the features of every `train_stride`-th point of every training sample; PatchCore's approximate
 * greedy coreset (geom/coreset.h: random projection to `proj_dim`, `coreset_starts` random starts)
 * keeps `memory_size` of them (0: a `coreset_ratio` fraction), or all of them ("none"), or the exact
 * greedy sampler ("exact", small banks only).
 * Score: every `test_stride`-th point's feature gets its distance to the nearest memory feature (the
 * reference uses Faiss's squared L2: the same ranking, so the same AUROCs under the max rule); other
 * points take their nearest scored point's score; the object score is the max (the reference's
 * np.max) or another rule of objscore.h.
 * Real3D-AD's main_patchcore_fpfh_raw.py instead averages an FPFH bank and an xyz bank, min-max
 * normalised over each class's test set; that needs every test sample at once, which this interface
 * (one sample at a time) does not give: this file implements the appended-feature variant.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geom/coreset.h"
#include "geom/fpfh.h"
#include "methods/featbank.h"
#include "methods/method.h"
#include "methods/objscore.h"

/* The options both variants share; `register_default` is "true" or "false". */
#define PATCHCORE_COMMON_OPTS(register_default)                                                                   \
  {"voxel", OPT_REAL, "0.5", 1e-9, 1e9,                                                                           \
   "voxel size v in the data's units: normals radius 2v (max 30), FPFH radius 5v (max 100), registration "        \
   "voxel; 0.5 (mm) on Real3D-AD"},                                                                               \
  {"memory_size", OPT_INT, "10000", 0, 1e12, "coreset size (0: use coreset_ratio)"},                              \
  {"coreset_ratio", OPT_REAL, "0.1", 1e-9, 1, "coreset size as a fraction of the features, when memory_size = 0"}, \
  {"coreset", OPT_STRING, "approx", 1, 0,                                                                         \
   "coreset sampler: approx (PatchCore's approximate greedy), exact (full distance matrix, small banks) or none"}, \
  {"proj_dim", OPT_INT, "128", 0, 1e6, "random projection dimension of the coreset sampler (0: none)"},           \
  {"coreset_starts", OPT_INT, "10", 1, 1e6, "random starting points of the approximate greedy coreset"},          \
  {"train_stride", OPT_INT, "1", 1, 1e9, "coreset candidates = features of every n-th training point"},           \
  {"test_stride", OPT_INT, "1", 1, 1e9, "score every n-th test point, fill the rest by 1-NN"},                    \
  {"register", OPT_BOOL, register_default, 1, 0,                                                                  \
   "move every cloud onto the first training sample first (RANSAC on FPFH, Reg3D-AD's settings)"},               \
  {"icp", OPT_BOOL, "false", 1, 0, "refine each registration by point-to-plane ICP"},                             \
  {"ransac_max_iter", OPT_INT, "100000", 1, 1e9, "RANSAC iterations at most (Real3D-AD: 100000)"},                \
  {"object_score", OPT_STRING, "max", 1, 0, "object score rule: max, reweighted or topk_mean"},                   \
  {"reweight_k", OPT_INT, "3", 2, 16, "neighbours of m* in the re-weighting"},                                    \
  {"topk", OPT_INT, "10", 1, 1e9, "k of the topk_mean object score"}

static const opt_spec patchcore_fpfh_opts[] = {
    PATCHCORE_COMMON_OPTS("false"),
    {NULL, 0, NULL, 0, 0, NULL},
};

static const opt_spec patchcore_fpfh_raw_opts[] = {
    PATCHCORE_COMMON_OPTS("true"),
    {"xyz_repeat", OPT_INT, "11", 1, 1000, "each coordinate is appended this many times (the reference: 11)"},
    {"xyz_scale", OPT_REAL, "1", 0, 1e9, "coordinates are multiplied by this before appending"},
    {NULL, 0, NULL, 0, 0, NULL},
};

typedef enum { CORESET_APPROX, CORESET_EXACT, CORESET_NONE } coreset_kind;

typedef struct {
  const char *name;
  int raw;
  double voxel, xyz_scale;
  int xyz_repeat, dim, reweight_k, do_register, icp;
  int64_t train_stride, test_stride, topk, ransac_max_iter;
  coreset_kind coreset;
  coreset_opts copts;
  objscore_rule rule;
  rng_t rng;
  featbank_reg reg;
  int have_reg;
  featbank bank;
} patchcore;

static void pc_destroy(void *state) {
  patchcore *m = state;
  if (!m)
    return;
  featbank_free(&m->bank);
  featbank_reg_free(&m->reg);
  free(m);
}

static const char *key(const patchcore *m, const char *opt, char *buf, size_t size) {
  snprintf(buf, size, "%s.%s", m->name, opt);
  return buf;
}

static ad3d_status pc_create(const opts_t *o, rng_t *rng, void **state, const char *name, int raw) {
  patchcore *m = calloc(1, sizeof *m);
  if (!m)
    return ad3d_fail(AD3D_ENOMEM, "%s: out of memory", name);
  char k[128];
  m->name = name;
  m->raw = raw;
  m->rng = *rng;
  m->voxel = opts_real(o, key(m, "voxel", k, sizeof k));
  m->copts = coreset_defaults();
  m->copts.size = opts_int(o, key(m, "memory_size", k, sizeof k));
  m->copts.ratio = opts_real(o, key(m, "coreset_ratio", k, sizeof k));
  m->copts.proj_dim = (int)opts_int(o, key(m, "proj_dim", k, sizeof k));
  m->copts.nstart = (int)opts_int(o, key(m, "coreset_starts", k, sizeof k));
  m->train_stride = opts_int(o, key(m, "train_stride", k, sizeof k));
  m->test_stride = opts_int(o, key(m, "test_stride", k, sizeof k));
  m->do_register = opts_bool(o, key(m, "register", k, sizeof k));
  m->icp = opts_bool(o, key(m, "icp", k, sizeof k));
  m->ransac_max_iter = opts_int(o, key(m, "ransac_max_iter", k, sizeof k));
  m->reweight_k = (int)opts_int(o, key(m, "reweight_k", k, sizeof k));
  m->topk = opts_int(o, key(m, "topk", k, sizeof k));
  m->xyz_repeat = raw ? (int)opts_int(o, key(m, "xyz_repeat", k, sizeof k)) : 0;
  m->xyz_scale = raw ? opts_real(o, key(m, "xyz_scale", k, sizeof k)) : 0;
  m->dim = FPFH_DIM + 3 * m->xyz_repeat;
  const char *cs = opts_str(o, key(m, "coreset", k, sizeof k));
  ad3d_status st = AD3D_OK;
  if (!strcmp(cs, "approx"))
    m->coreset = CORESET_APPROX;
  else if (!strcmp(cs, "exact"))
    m->coreset = CORESET_EXACT;
  else if (!strcmp(cs, "none"))
    m->coreset = CORESET_NONE;
  else
    st = ad3d_fail(AD3D_EINVAL, "%s.coreset: unknown sampler \"%s\" (approx, exact, none)", name, cs);
  if (!st && (st = objscore_parse(opts_str(o, key(m, "object_score", k, sizeof k)), &m->rule)))
    ad3d_fail_context(st, "%s.object_score", name);
  if (st) {
    free(m);
    return st;
  }
  *state = m;
  return AD3D_OK;
}

static ad3d_status pc_create_fpfh(const opts_t *o, rng_t *rng, void **state) {
  return pc_create(o, rng, state, "patchcore_fpfh", 0);
}

static ad3d_status pc_create_raw(const opts_t *o, rng_t *rng, void **state) {
  return pc_create(o, rng, state, "patchcore_fpfh_raw", 1);
}

/* The features (n, dim) of a sample, allocated. `first` marks the template itself (never registered). */
static ad3d_status sample_features(patchcore *m, const sample_t *s, int first, float **feat) {
  const int64_t n = s->cloud.n;
  *feat = NULL;
  float *pts = malloc((size_t)(n ? n : 1) * 3 * sizeof *pts), *f33 = NULL, *f = NULL;
  ad3d_status st = AD3D_OK;
  if (!pts) {
    st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory for %s", m->name, s->name);
    goto cleanup;
  }
  if (m->have_reg && !first) {
    if ((st = featbank_reg_apply(&m->reg, s->cloud.xyz, n, &m->rng, pts))) {
      ad3d_fail_context(st, "%s: registering %s", m->name, s->name);
      goto cleanup;
    }
  } else {
    memcpy(pts, s->cloud.xyz, (size_t)n * 3 * sizeof *pts);
  }
  f = malloc((size_t)(n ? n : 1) * m->dim * sizeof *f);
  f33 = m->raw ? malloc((size_t)(n ? n : 1) * FPFH_DIM * sizeof *f33) : f;
  if (!f || !f33) {
    st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory for the features of %s", m->name, s->name);
    goto cleanup;
  }
  if ((st = featbank_fpfh(pts, n, m->voxel, f33))) {
    ad3d_fail_context(st, "%s: %s", m->name, s->name);
    goto cleanup;
  }
  if (m->raw)
    for (int64_t i = 0; i < n; i++) {
      float *row = f + i * m->dim;
      memcpy(row, f33 + i * FPFH_DIM, FPFH_DIM * sizeof *row);
      for (int c = 0; c < 3; c++)
        for (int r = 0; r < m->xyz_repeat; r++)
          row[FPFH_DIM + c * m->xyz_repeat + r] = (float)(m->xyz_scale * pts[3 * i + c]);
    }
  *feat = f;
  f = NULL;
cleanup:
  if (m->raw)
    free(f33);
  free(f);
  free(pts);
  return st;
}

/* Keep the coreset rows of cand (nc, dim) in place; *nc becomes the bank size. */
static ad3d_status select_coreset(patchcore *m, float *cand, int64_t *nc) {
  const int64_t n = *nc;
  const int64_t want = coreset_size(&m->copts, n);
  if (m->coreset == CORESET_NONE || want >= n)
    return AD3D_OK;
  int64_t *sel = NULL, ns = 0;
  ad3d_status st = AD3D_OK;
  if (m->coreset == CORESET_APPROX) {
    st = coreset_select(cand, n, m->dim, &m->copts, &m->rng, &sel, &ns);
  } else {
    const int project = m->copts.proj_dim > 0 && m->copts.proj_dim != m->dim;
    const int dd = project ? m->copts.proj_dim : m->dim;
    float *y = project ? malloc((size_t)n * dd * sizeof *y) : NULL;
    sel = malloc((size_t)want * sizeof *sel);
    if ((project && !y) || !sel)
      st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory for the exact coreset", m->name);
    if (!st && project)
      st = coreset_project(cand, n, m->dim, dd, &m->rng, NULL, y);
    if (!st)
      st = coreset_exact(project ? y : cand, n, dd, want, NULL, 0, sel);
    ns = want;
    free(y);
  }
  if (st) {
    free(sel);
    return ad3d_fail_context(st, "%s", m->name);
  }
  /* gather in increasing index order so rows move forward only */
  char *keep = calloc((size_t)n, 1);
  if (!keep) {
    free(sel);
    return ad3d_fail(AD3D_ENOMEM, "%s: out of memory", m->name);
  }
  for (int64_t j = 0; j < ns; j++)
    keep[sel[j]] = 1;
  int64_t w = 0;
  for (int64_t i = 0; i < n; i++)
    if (keep[i]) {
      if (w != i)
        memmove(cand + w * m->dim, cand + i * m->dim, (size_t)m->dim * sizeof *cand);
      w++;
    }
  free(keep);
  free(sel);
  *nc = w;
  return AD3D_OK;
}

static ad3d_status pc_fit(void *state, const sample_t *train, int ntrain) {
  patchcore *m = state;
  if (ntrain < 1)
    return ad3d_fail(AD3D_EINVAL, "%s: no training samples", m->name);
  if (m->do_register) {
    TRY(featbank_reg_init(&m->reg, train[0].cloud.xyz, train[0].cloud.n, m->voxel, m->icp, m->ransac_max_iter));
    m->have_reg = 1;
  }
  int64_t total = 0;
  for (int s = 0; s < ntrain; s++)
    total += (train[s].cloud.n + m->train_stride - 1) / m->train_stride;
  if (total == 0)
    return ad3d_fail(AD3D_EINVAL, "%s: no training points", m->name);
  float *cand = malloc((size_t)total * m->dim * sizeof *cand); /* (total, dim) */
  if (!cand)
    return ad3d_fail(AD3D_ENOMEM, "%s: out of memory for %lld training features", m->name, (long long)total);
  int64_t k = 0;
  for (int s = 0; s < ntrain; s++) {
    float *feat = NULL;
    ad3d_status st = sample_features(m, &train[s], s == 0, &feat);
    if (st) {
      free(cand);
      return st;
    }
    for (int64_t i = 0; i < train[s].cloud.n; i += m->train_stride, k++)
      memcpy(cand + k * m->dim, feat + i * m->dim, (size_t)m->dim * sizeof *cand);
    free(feat);
  }
  ad3d_status st = select_coreset(m, cand, &total);
  if (st) {
    free(cand);
    return st;
  }
  return featbank_build(&m->bank, cand, total, m->dim);
}

static ad3d_status pc_score(void *state, const sample_t *s, float *point_scores, double *object_score) {
  patchcore *m = state;
  const int64_t n = s->cloud.n;
  if (n == 0)
    return ad3d_fail(AD3D_EINVAL, "%s: %s has no points", m->name, s->name);
  float *feat = NULL, *q = NULL, *qp = NULL;
  int64_t nq = 0, nqp = 0;
  ad3d_status st = sample_features(m, s, 0, &feat);
  if (st)
    return st;
  if ((st = featbank_stride(feat, n, m->dim, m->test_stride, &q, &nq)) ||
      (st = featbank_stride(s->cloud.xyz, n, 3, m->test_stride, &qp, &nqp)))
    goto cleanup;
  /* every point scored: no fill back */
  if ((st = featbank_score(&m->bank, q, m->test_stride == 1 ? NULL : qp, nq, s->cloud.xyz, n, m->rule, m->topk,
                           m->reweight_k, point_scores, object_score)))
    ad3d_fail_context(st, "%s: %s", m->name, s->name);
cleanup:
  free(feat);
  free(q);
  free(qp);
  return st;
}

const method_vt method_patchcore_fpfh = {
    .name = "patchcore_fpfh",
    .title = "PatchCore(FPFH)",
    .help = "FPFH features, greedy coreset memory bank, 1-NN distance (PatchCore)",
    .opts = patchcore_fpfh_opts,
    .create = pc_create_fpfh,
    .fit = pc_fit,
    .score = pc_score,
    .destroy = pc_destroy,
};

const method_vt method_patchcore_fpfh_raw = {
    .name = "patchcore_fpfh_raw",
    .title = "PatchCore(FPFH+Raw)",
    .help = "FPFH with the registered xyz appended, greedy coreset memory bank, 1-NN distance (PatchCore)",
    .opts = patchcore_fpfh_raw_opts,
    .create = pc_create_raw,
    .fit = pc_fit,
    .score = pc_score,
    .destroy = pc_destroy,
};
