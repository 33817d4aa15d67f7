/* curvature.c - a training-free geometric baseline: points where the surface bends or changes fast
 * are anomalous.
 *
 * Point score, by `score`:
 *   "rate"       IMRNet's rate of change R_i (the GPS saliency, geom/sampling.h gps_rate): the mean
 *                over the `rate_k` nearest neighbours j of (1 - |n_i . n_j| + |c_i - c_j|) / |p_i - p_j|,
 *                normals n and curvatures c over the `normal_k` nearest neighbours;
 *   "variation"  the surface variation c_i = l0 / (l0 + l1 + l2) of the `normal_k` nearest neighbours
 *                (geom/normals.h).
 * The object score is the max or the mean of the `topk` largest point scores. Fitting does nothing: the
 * training samples are not used (so a shape whose normal surface is itself curved scores high
 * everywhere; this is a floor for the learned methods, not a competitor).
 */
#include <stdlib.h>
#include <string.h>

#include "geom/nbhd.h"
#include "geom/normals.h"
#include "geom/sampling.h"
#include "methods/method.h"
#include "methods/objscore.h"

static const opt_spec curvature_opts[] = {
    {"score", OPT_STRING, "rate", 1, 0, "point score: rate (IMRNet's rate of change) or variation (l0 / (l0+l1+l2))"},
    {"normal_k", OPT_INT, "16", 3, 10000, "neighbours of the normals and curvature"},
    {"rate_k", OPT_INT, "16", 2, 10000, "neighbours of the rate of change"},
    {"object_score", OPT_STRING, "topk_mean", 1, 0, "object score rule: max or topk_mean"},
    {"topk", OPT_INT, "10", 1, 1e9, "k of the topk_mean object score"},
    {NULL, 0, NULL, 0, 0, NULL},
};

typedef struct {
  int rate, normal_k, rate_k;
  int64_t topk;
  objscore_rule rule;
} curvature;

static void curvature_destroy(void *state) { free(state); }

static ad3d_status curvature_create(const opts_t *o, rng_t *rng, void **state) {
  (void)rng;
  curvature *m = calloc(1, sizeof *m);
  if (!m)
    return ad3d_fail(AD3D_ENOMEM, "curvature: out of memory");
  const char *sc = opts_str(o, "curvature.score");
  m->normal_k = (int)opts_int(o, "curvature.normal_k");
  m->rate_k = (int)opts_int(o, "curvature.rate_k");
  m->topk = opts_int(o, "curvature.topk");
  ad3d_status st = AD3D_OK;
  if (!strcmp(sc, "rate") || !strcmp(sc, "variation"))
    m->rate = !strcmp(sc, "rate");
  else
    st = ad3d_fail(AD3D_EINVAL, "curvature.score: unknown score \"%s\" (rate, variation)", sc);
  if (!st && (st = objscore_parse(opts_str(o, "curvature.object_score"), &m->rule)))
    ad3d_fail_context(st, "curvature.object_score");
  if (!st && m->rule == OBJSCORE_REWEIGHTED)
    st = ad3d_fail(AD3D_EINVAL, "curvature.object_score: \"reweighted\" needs a memory bank (use max or topk_mean)");
  if (st) {
    free(m);
    return st;
  }
  *state = m;
  return AD3D_OK;
}

static ad3d_status curvature_fit(void *state, const sample_t *train, int ntrain) {
  (void)state, (void)train, (void)ntrain; /* training-free */
  return AD3D_OK;
}

static ad3d_status curvature_score(void *state, const sample_t *s, float *point_scores, double *object_score) {
  curvature *m = state;
  const int64_t n = s->cloud.n;
  if (n == 0)
    return ad3d_fail(AD3D_EINVAL, "curvature: %s has no points", s->name);
  ad3d_status st;
  if (m->rate) {
    gps_opts g = gps_defaults();
    g.normal_nb = nbhd_knn(m->normal_k);
    g.rate_nb = nbhd_knn(m->rate_k);
    st = gps_rate(s->cloud.xyz, n, NULL, &g, point_scores);
  } else {
    normals_opts no = {.nb = nbhd_knn(m->normal_k), .orient = NORMALS_ORIENT_NONE};
    st = normals_estimate(s->cloud.xyz, n, NULL, &no, NULL, point_scores);
  }
  if (st)
    return ad3d_fail_context(st, "curvature: %s", s->name);
  *object_score = m->rule == OBJSCORE_MAX ? objscore_max(point_scores, n) : objscore_topk_mean(point_scores, n, m->topk);
  return AD3D_OK;
}

const method_vt method_curvature = {
    .name = "curvature",
    .title = "Curvature",
    .help = "training-free: IMRNet's rate of change (or the surface variation) as the point score",
    .opts = curvature_opts,
    .create = curvature_create,
    .fit = curvature_fit,
    .score = curvature_score,
    .destroy = curvature_destroy,
};
