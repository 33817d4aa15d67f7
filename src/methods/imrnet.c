/* imrnet.c - IMRNet (Li et al., CVPR 2024): a Point-MAE fine-tuned per class, iterative mask
 * reconstruction at test time, and the dense comparison of a sample with its reconstruction (our reading
 * of the paper, whose code is not public; the algorithm is nn/imr.h, this file is the method around it).
 *
 * Model: the Point-MAE read from `checkpoint` (a pre-trained model, through the loader the program's edge
 * installs: methods/maefeat.h), or, with checkpoint "", a new model of the `preset` architecture; either
 * way set to `ngroups` x `group_size` patches. A checkpoint's patches must hold group_size points (its
 * head predicts that many). Unlike the Point-MAE baselines, an empty checkpoint is allowed: the model is then
 * trained on the class alone (the generated benchmark, where no pre-training corpus is at hand).
 * Fit, per class:
 *   1. fine-tuning (nn/train.h mae_finetune) on the class's training samples, each repeated
 *      `finetune_repeat` times per epoch (every copy draws its own points and augmentation), with mask
 *      ratio `finetune_mask_ratio` (IMRNet: 0.4), `finetune_epochs` epochs of batch `finetune_batch`; inputs
 *      of min(npoints, the smallest training sample) points; finetune_epochs = 0 skips it. The inputs are
 *      cut into patches as at test time, by `sampler` and the gps_* options (nn/imr.h imr_train_group as
 *      the loop's grouping; fps is Point-MAE's own grouping), so the model learns to complete the patches
 *      it will be asked to reconstruct;
 *   2. with template_reg: the template bank, the fused decoder features of every training sample's patches
 *      (imr_cloud_features);
 *      delta (template_delta < 0: automatic) = the `template_quantile` quantile of the distances of each
 *      training sample's features to the nearest feature of the other training samples (one sample: to the
 *      nearest other feature);
 *   3. normalisation statistics: every training sample is scored as a test sample would be, and the mean
 *      and standard deviation of each map over all their points kept (normalise = "train").
 * Score: the sample is moved into the model's frame (its centroid to the origin, divided by the training
 * samples' mean radius; unit_sphere = sample: by its own largest radius, Point-MAE's pc_norm, which the
 * fine-tuning inputs get), imr_score_cloud gives the Chamfer and feature maps, and the point score is
 *   chamfer_weight (c - mean_c) / sd_c + feature_weight (f - mean_f) / sd_f
 * (normalise = "none": the raw maps, weighted). A weight of 0 switches that part off (it is not computed);
 * template_reg = false switches the regularisation off. The object score is the max or the top-k mean of
 * the point scores (the re-weighted max of objscore.h is defined for memory-bank distances and is refused).
 * Randomness: the task's stream (fine-tuning seed, patches of the random samplers, masks).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "methods/maefeat.h"
#include "methods/method.h"
#include "methods/objscore.h"
#include "nn/imr.h"
#include "nn/train.h"

static const opt_spec imrnet_opts[] = {
    {"checkpoint", OPT_STRING, "", 1, 0,
     "pre-trained Point-MAE checkpoint (`ad3d pretrain`) to fine-tune per class; \"\": a new model of `preset`"},
    {"preset", OPT_STRING, "small", 1, 0,
     "architecture of a new model when checkpoint is \"\": small (mae_config_small) or paper (Point-MAE's)"},
    {"ngroups", OPT_INT, "256", 2, 100000, "patch centres per sample (IMRNet: 256)"},
    {"group_size", OPT_INT, "64", 1, 100000, "points per patch (IMRNet: 64); a checkpoint must have the same"},
    {"sampler", OPT_STRING, "gps", 1, 0, "patch centres: gps (geometry-aware), fps, voxel or rs (random)"},
    {"gps_tau", OPT_REAL, "0.3", 0, 1, "GPS: salient fraction of the points"},
    {"gps_ratio", OPT_REAL, "2", 1e-9, 1e9, "GPS: centres per salient point / centres per other point"},
    {"gps_k", OPT_INT, "16", 3, 10000, "GPS: neighbours of the normals, curvature and rate of change"},
    {"npoints", OPT_INT, "8192", 0, 1e12,
     "larger samples are reduced to this many random points first (0: never); also the fine-tuning input size"},
    {"finetune_epochs", OPT_INT, "100", 0, 1e6, "fine-tuning epochs per class (0: use the model as it is)"},
    {"finetune_repeat", OPT_INT, "4", 1, 1e6, "each training sample appears this many times per epoch"},
    {"finetune_batch", OPT_INT, "8", 1, 1e6, "clouds per fine-tuning step (at most ntrain x finetune_repeat)"},
    {"finetune_micro_batch", OPT_INT, "4", 1, 1e6, "clouds per forward pass; divides finetune_batch"},
    {"finetune_lr", OPT_REAL, "0.001", 1e-12, 10, "peak fine-tuning learning rate (cosine schedule)"},
    {"finetune_warmup", OPT_INT, "5", 0, 1e6, "fine-tuning warm-up epochs"},
    {"finetune_mask_ratio", OPT_REAL, "0.4", 0, 0.99, "mask ratio while fine-tuning (IMRNet: 0.4)"},
    {"finetune_augment", OPT_BOOL, "true", 1, 0, "scale-and-translate augmentation while fine-tuning"},
    {"iterations", OPT_INT, "3", 1, 1000, "test-time mask-and-reconstruct iterations (IMRNet: 3)"},
    {"mask_ratio", OPT_REAL, "0.4", 0, 1, "patches masked per test-time iteration (IMRNet: 0.4)"},
    {"cover", OPT_BOOL, "false", 1, 0,
     "successive masks cover every patch (max(iterations, ceil(1 / mask_ratio)) iterations run)"},
    {"chamfer_weight", OPT_REAL, "1", 0, 1e9, "weight of the point-patch Chamfer map (0: off)"},
    {"chamfer_mode", OPT_STRING, "patch", 1, 0,
     "Chamfer map: patch (each point gets its patches' Chamfer distance) or point (its own nearest distance)"},
    {"feature_weight", OPT_REAL, "1", 0, 1e9, "weight of the dense feature comparison map (0: off)"},
    {"feature_layers", OPT_INT, "3", 1, 1000, "decoder layers 1..n fused (at most the decoder's depth)"},
    {"template_reg", OPT_BOOL, "true", 1, 0, "template regularisation of the reconstructed features"},
    {"template_delta", OPT_REAL, "-1", -1, 1e12, "regularisation radius delta (< 0: automatic, see help)"},
    {"template_quantile", OPT_REAL, "0.95", 0, 1, "automatic delta: this quantile of the training features' "
                                                   "distances to the other training samples' features"},
    {"interp_k", OPT_INT, "3", 1, 1000, "patch centres interpolated per point for the feature map (1: nearest)"},
    {"unit_sphere", OPT_STRING, "train", 1, 0,
     "frame of a sample: train (its centroid at the origin, divided by the training samples' mean radius) or "
     "sample (its own largest radius, Point-MAE's pc_norm)"},
    {"normalise", OPT_STRING, "train", 1, 0,
     "map normalisation before fusion: train (mean and std over the training samples' points) or none"},
    {"object_score", OPT_STRING, "max", 1, 0, "object score rule: max or topk_mean"},
    {"topk", OPT_INT, "10", 1, 1e9, "k of the topk_mean object score"},
    {NULL, 0, NULL, 0, 0, NULL},
};

typedef struct {
  rng_t rng;
  char *checkpoint;
  mae_config arch;
  imr_opts io;     /* io.delta: set at fit (< 0 while the regularisation is off) */
  int template_reg;
  double delta_opt, quantile;
  int64_t topk;
  objscore_rule rule;
  int normalise, own_radius;
  double radius; /* the training samples' mean radius (unit_sphere = train) */
  double wc, wf;
  int ft_epochs, ft_repeat;
  double ft_mask_ratio;
  mae_train_opts ft;
  mae_model *model;
  imr_bank bank;
  double mean_c, sd_c, mean_f, sd_f; /* map statistics (0 and 1 without normalisation) */
} imrnet;

static void imrnet_destroy(void *state) {
  imrnet *m = state;
  if (!m)
    return;
  free(m->checkpoint);
  mae_free(m->model);
  imr_bank_free(&m->bank);
  free(m);
}

static ad3d_status imrnet_create(const opts_t *o, rng_t *rng, void **state) {
  imrnet *m = calloc(1, sizeof *m);
  if (!m)
    return ad3d_fail(AD3D_ENOMEM, "imrnet: out of memory");
  ad3d_status st = AD3D_OK;
  m->rng = *rng;
  m->checkpoint = xstrdup(opts_str(o, "imrnet.checkpoint"));
  if (!m->checkpoint)
    st = ad3d_fail(AD3D_ENOMEM, "imrnet: out of memory");
  const char *preset = opts_str(o, "imrnet.preset");
  if (!strcmp(preset, "small"))
    m->arch = mae_config_small();
  else if (!strcmp(preset, "paper"))
    m->arch = mae_config_default();
  else if (!st)
    st = ad3d_fail(AD3D_EINVAL, "imrnet.preset: unknown preset \"%s\" (small, paper)", preset);
  imr_opts *io = &m->io;
  *io = imr_defaults();
  io->ngroups = (int)opts_int(o, "imrnet.ngroups");
  io->group_size = (int)opts_int(o, "imrnet.group_size");
  io->gps.tau = opts_real(o, "imrnet.gps_tau");
  io->gps.salient_ratio = opts_real(o, "imrnet.gps_ratio");
  io->gps.normal_nb = nbhd_knn((int)opts_int(o, "imrnet.gps_k"));
  io->gps.rate_nb = io->gps.normal_nb;
  io->npoints = opts_int(o, "imrnet.npoints");
  io->recon.iterations = (int)opts_int(o, "imrnet.iterations");
  io->recon.mask_ratio = opts_real(o, "imrnet.mask_ratio");
  io->recon.cover = opts_bool(o, "imrnet.cover");
  m->wc = opts_real(o, "imrnet.chamfer_weight");
  m->wf = opts_real(o, "imrnet.feature_weight");
  io->chamfer = m->wc > 0;
  io->features = m->wf > 0;
  io->feature_layers = (int)opts_int(o, "imrnet.feature_layers");
  io->interp_k = (int)opts_int(o, "imrnet.interp_k");
  io->delta = -1;
  m->template_reg = opts_bool(o, "imrnet.template_reg") && io->features;
  m->delta_opt = opts_real(o, "imrnet.template_delta");
  m->quantile = opts_real(o, "imrnet.template_quantile");
  m->topk = opts_int(o, "imrnet.topk");
  m->ft_epochs = (int)opts_int(o, "imrnet.finetune_epochs");
  m->ft_repeat = (int)opts_int(o, "imrnet.finetune_repeat");
  m->ft_mask_ratio = opts_real(o, "imrnet.finetune_mask_ratio");
  m->ft = mae_train_defaults();
  m->ft.epochs = m->ft_epochs > 0 ? m->ft_epochs : 1;
  m->ft.batch = (int)opts_int(o, "imrnet.finetune_batch");
  m->ft.micro_batch = (int)opts_int(o, "imrnet.finetune_micro_batch");
  m->ft.lr = opts_real(o, "imrnet.finetune_lr");
  m->ft.warmup_epochs = (int)opts_int(o, "imrnet.finetune_warmup");
  m->ft.augment = opts_bool(o, "imrnet.finetune_augment");
  m->ft.seed = rng_next(&m->rng);
  m->ft.group = imr_train_group; /* the fine-tuning inputs' patches: io's sampler and gps options */
  m->ft.group_ctx = &m->io;
  const char *us = opts_str(o, "imrnet.unit_sphere");
  m->own_radius = !strcmp(us, "sample");
  if (!st && !m->own_radius && strcmp(us, "train"))
    st = ad3d_fail(AD3D_EINVAL, "imrnet.unit_sphere: unknown frame \"%s\" (train, sample)", us);
  const char *nm = opts_str(o, "imrnet.normalise");
  m->normalise = !strcmp(nm, "train");
  if (!st && !m->normalise && strcmp(nm, "none"))
    st = ad3d_fail(AD3D_EINVAL, "imrnet.normalise: unknown normalisation \"%s\" (train, none)", nm);
  if (!st && (st = imr_sampler_parse(opts_str(o, "imrnet.sampler"), &io->sampler)))
    ad3d_fail_context(st, "imrnet.sampler");
  if (!st && (st = imr_chamfer_parse(opts_str(o, "imrnet.chamfer_mode"), &io->chamfer_mode)))
    ad3d_fail_context(st, "imrnet.chamfer_mode");
  if (!st && !io->chamfer && !io->features)
    st = ad3d_fail(AD3D_EINVAL, "imrnet: chamfer_weight and feature_weight are both 0: nothing to score");
  if (!st && (st = objscore_parse(opts_str(o, "imrnet.object_score"), &m->rule)))
    ad3d_fail_context(st, "imrnet.object_score");
  if (!st && m->rule == OBJSCORE_REWEIGHTED)
    st = ad3d_fail(AD3D_EINVAL, "imrnet.object_score: \"reweighted\" is defined for memory-bank distances "
                                "(use max or topk_mean)");
  if (!st && m->ft_epochs > 0 && (st = mae_train_check(&m->ft)))
    ad3d_fail_context(st, "imrnet fine-tuning");
  if (!st) {
    int M = (int)floor(io->recon.mask_ratio * io->ngroups);
    if (M < 1 || M >= io->ngroups)
      st = ad3d_fail(AD3D_EINVAL, "imrnet.mask_ratio: %g masks %d of %d patches (need 1 to %d)",
                     io->recon.mask_ratio, M, io->ngroups, io->ngroups - 1);
  }
  if (st) {
    imrnet_destroy(m);
    return st;
  }
  *state = m;
  return AD3D_OK;
}

/* The model before fine-tuning: the checkpoint's or a new one, set to the method's patching and to inputs
 * of npoints points. */
static ad3d_status model_make(imrnet *m, int64_t npoints) {
  const int G = m->io.ngroups, K = m->io.group_size;
  if (m->checkpoint[0]) {
    maefeat_loader load = maefeat_get_loader();
    if (!load)
      return ad3d_fail(AD3D_EINVAL, "imrnet.checkpoint: %s given but no model loader is installed", m->checkpoint);
    ad3d_status st = load(m->checkpoint, &m->model);
    if (st)
      return ad3d_fail_context(st, "imrnet");
    if (m->model->cfg.group_size != K)
      return ad3d_fail(AD3D_EINVAL,
                       "imrnet: %s was trained on patches of %d points, imrnet.group_size is %d (pre-train with "
                       "that patch size)",
                       m->checkpoint, m->model->cfg.group_size, K);
  } else {
    mae_config c = m->arch;
    c.ngroups = G;
    c.group_size = K;
    c.npoints = (int)npoints;
    TRY(mae_init(&m->model, &c, &m->rng));
  }
  /* the grouping is not part of the weights (the position MLPs embed any centre, the head predicts K points),
   * so the same weights serve G patches of inputs of npoints points */
  m->model->cfg.ngroups = G;
  m->model->cfg.npoints = (int)npoints;
  m->model->cfg.mask_ratio = m->ft_mask_ratio;
  ad3d_status st = mae_config_check(&m->model->cfg);
  if (!st && (npoints < G || npoints < K))
    st = ad3d_fail(AD3D_EINVAL, "imrnet: samples of %lld points cannot make %d patches of %d", (long long)npoints, G,
                   K);
  return st ? ad3d_fail_context(st, "imrnet") : AD3D_OK;
}

/* A copy of a sample's points in the model's frame (*out (n, 3), malloc'ed): centroid at the origin, divided
 * by its own largest radius or by the training samples' mean radius (a bump on the rim, or a missing part,
 * would otherwise rescale the whole sample). */
static ad3d_status normalised(const imrnet *m, const sample_t *s, float **out) {
  const int64_t n = s->cloud.n;
  if (n < 1)
    return ad3d_fail(AD3D_EINVAL, "imrnet: %s has no points", s->name);
  *out = malloc(sizeof **out * (size_t)n * 3);
  if (!*out)
    return ad3d_fail(AD3D_ENOMEM, "imrnet: out of memory for %s", s->name);
  double c[3], r;
  imr_unit_sphere(s->cloud.xyz, n, c, &r);
  imr_apply_norm(s->cloud.xyz, n, c, m->own_radius ? r : m->radius, *out);
  return AD3D_OK;
}

static ad3d_status finetune(imrnet *m, const sample_t *train, int ntrain) {
  const int n = ntrain * m->ft_repeat;
  if (m->ft.batch > n)
    return ad3d_fail(AD3D_EINVAL, "imrnet: finetune_batch %d exceeds the %d clouds of an epoch (%d samples x %d)",
                     m->ft.batch, n, ntrain, m->ft_repeat);
  cloud_t *clouds = malloc(sizeof *clouds * (size_t)n); /* the samples' points, borrowed, repeated */
  if (!clouds)
    return ad3d_fail(AD3D_ENOMEM, "imrnet: out of memory");
  for (int i = 0; i < n; i++)
    clouds[i] = train[i % ntrain].cloud;
  ad3d_status st = mae_finetune(m->model, clouds, n, &m->ft, NULL, NULL, NULL);
  free(clouds);
  return st ? ad3d_fail_context(st, "imrnet fine-tuning") : AD3D_OK;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* The automatic delta: quantile q of the distances of each training sample's features (rows [s G, (s+1) G)
 * of feat (ntrain G, D)) to the nearest feature of the other samples (one sample: of the same sample). */
static ad3d_status auto_delta(const float *feat, int ntrain, int G, int D, double q, double *delta) {
  const int64_t N = (int64_t)ntrain * G;
  float *dist = malloc(sizeof *dist * (size_t)N), *other = NULL;
  int64_t *idx = malloc(sizeof *idx * (size_t)N * 2);
  float *d2 = malloc(sizeof *d2 * (size_t)N * 2);
  ad3d_status st = AD3D_OK;
  nnsearch *ix = NULL;
  if (!dist || !idx || !d2) {
    st = ad3d_fail(AD3D_ENOMEM, "imrnet: out of memory");
    goto cleanup;
  }
  if (ntrain == 1) {
    /* the second neighbour: the first is the row itself */
    if ((st = nnsearch_build(feat, N, D, &ix)) || (st = nnsearch_knn(ix, feat, N, 2, idx, d2)))
      goto cleanup;
    for (int64_t i = 0; i < N; i++)
      dist[i] = sqrtf(d2[2 * i + 1]);
  } else {
    other = malloc(sizeof *other * (size_t)(N - G) * D);
    if (!other) {
      st = ad3d_fail(AD3D_ENOMEM, "imrnet: out of memory");
      goto cleanup;
    }
    for (int s = 0; s < ntrain; s++) {
      int64_t w = 0;
      for (int t = 0; t < ntrain; t++)
        if (t != s) {
          memcpy(other + w * D, feat + (int64_t)t * G * D, sizeof(float) * (size_t)G * D);
          w += G;
        }
      nnsearch_free(ix);
      ix = NULL;
      if ((st = nnsearch_build(other, w, D, &ix)) ||
          (st = nnsearch_knn(ix, feat + (int64_t)s * G * D, G, 1, idx, d2)))
        goto cleanup;
      for (int g = 0; g < G; g++)
        dist[(int64_t)s * G + g] = sqrtf(d2[g]);
    }
  }
  qsort(dist, (size_t)N, sizeof *dist, cmp_float);
  *delta = dist[(int64_t)floor(q * (double)(N - 1) + 0.5)];
cleanup:
  nnsearch_free(ix);
  free(dist);
  free(other);
  free(idx);
  free(d2);
  return st;
}

/* The template bank of the training samples' features, and delta. */
static ad3d_status build_bank(imrnet *m, const sample_t *train, int ntrain) {
  const int G = m->io.ngroups, D = imr_feature_dim(m->model, m->io.feature_layers);
  float *feat = malloc(sizeof *feat * (size_t)ntrain * G * D); /* (ntrain G, D) */
  if (!feat)
    return ad3d_fail(AD3D_ENOMEM, "imrnet: out of memory for the template bank");
  ad3d_status st = AD3D_OK;
  for (int s = 0; s < ntrain && !st; s++) {
    float *pts = NULL;
    if ((st = normalised(m, &train[s], &pts)))
      break;
    if ((st = imr_cloud_features(m->model, pts, train[s].cloud.n, &m->io, &m->rng, feat + (int64_t)s * G * D)))
      ad3d_fail_context(st, "imrnet: template %s", train[s].name);
    free(pts);
  }
  double delta = m->delta_opt;
  if (!st && delta < 0)
    st = auto_delta(feat, ntrain, G, D, m->quantile, &delta);
  if (st) {
    free(feat);
    return st;
  }
  TRY(imr_bank_build(&m->bank, feat, (int64_t)ntrain * G, D));
  m->io.delta = delta;
  return AD3D_OK;
}

/* The raw maps of a sample: chamfer (n) and feature (n) (each written when its part is on). */
static ad3d_status sample_maps(imrnet *m, const sample_t *s, float *chamfer, float *feature) {
  float *pts = NULL;
  TRY(normalised(m, s, &pts));
  ad3d_status st = imr_score_cloud(m->model, pts, s->cloud.n, &m->io, m->template_reg ? &m->bank : NULL, &m->rng,
                                   chamfer, feature, NULL);
  free(pts);
  return st ? ad3d_fail_context(st, "imrnet: %s", s->name) : AD3D_OK;
}

/* Mean and standard deviation (1 if 0) of each map over every point of the training samples. */
static ad3d_status train_statistics(imrnet *m, const sample_t *train, int ntrain) {
  double sc = 0, qc = 0, sf = 0, qf = 0;
  int64_t total = 0;
  ad3d_status st = AD3D_OK;
  for (int s = 0; s < ntrain && !st; s++) {
    const int64_t n = train[s].cloud.n;
    float *c = malloc(sizeof *c * (size_t)n), *f = malloc(sizeof *f * (size_t)n);
    if (!c || !f)
      st = ad3d_fail(AD3D_ENOMEM, "imrnet: out of memory");
    if (!st)
      st = sample_maps(m, &train[s], c, f);
    for (int64_t i = 0; !st && i < n; i++) {
      if (m->io.chamfer)
        sc += c[i], qc += (double)c[i] * c[i];
      if (m->io.features)
        sf += f[i], qf += (double)f[i] * f[i];
    }
    total += n;
    free(c);
    free(f);
  }
  if (st)
    return st;
  m->mean_c = sc / total;
  m->mean_f = sf / total;
  m->sd_c = sqrt(fmax(qc / total - m->mean_c * m->mean_c, 0));
  m->sd_f = sqrt(fmax(qf / total - m->mean_f * m->mean_f, 0));
  if (!(m->sd_c > 0))
    m->sd_c = 1;
  if (!(m->sd_f > 0))
    m->sd_f = 1;
  return AD3D_OK;
}

static ad3d_status imrnet_fit(void *state, const sample_t *train, int ntrain) {
  imrnet *m = state;
  if (ntrain < 1)
    return ad3d_fail(AD3D_EINVAL, "imrnet: no training samples");
  int64_t npoints = m->io.npoints > 0 ? m->io.npoints : INT32_MAX;
  double rsum = 0;
  for (int s = 0; s < ntrain; s++) {
    if (train[s].cloud.n < 1)
      return ad3d_fail(AD3D_EINVAL, "imrnet: %s has no points", train[s].name);
    if (train[s].cloud.n < npoints)
      npoints = train[s].cloud.n;
    double c[3], r;
    imr_unit_sphere(train[s].cloud.xyz, train[s].cloud.n, c, &r);
    rsum += r;
  }
  m->radius = rsum / ntrain;
  mae_free(m->model);
  m->model = NULL;
  imr_bank_free(&m->bank);
  TRY(model_make(m, npoints));
  if (m->ft_epochs > 0)
    TRY(finetune(m, train, ntrain));
  if (m->template_reg)
    TRY(build_bank(m, train, ntrain));
  m->mean_c = m->mean_f = 0;
  m->sd_c = m->sd_f = 1;
  if (m->normalise)
    TRY(train_statistics(m, train, ntrain));
  return AD3D_OK;
}

static ad3d_status imrnet_score(void *state, const sample_t *s, float *point_scores, double *object_score) {
  imrnet *m = state;
  if (!m->model)
    return ad3d_fail(AD3D_EINVAL, "imrnet: score before fit");
  const int64_t n = s->cloud.n;
  float *c = malloc(sizeof *c * (size_t)(n ? n : 1)), *f = malloc(sizeof *f * (size_t)(n ? n : 1));
  ad3d_status st = AD3D_OK;
  if (!c || !f)
    st = ad3d_fail(AD3D_ENOMEM, "imrnet: out of memory scoring %s", s->name);
  if (!st)
    st = sample_maps(m, s, c, f);
  if (!st) {
    for (int64_t i = 0; i < n; i++) {
      double v = 0;
      if (m->io.chamfer)
        v += m->wc * (c[i] - m->mean_c) / m->sd_c;
      if (m->io.features)
        v += m->wf * (f[i] - m->mean_f) / m->sd_f;
      point_scores[i] = (float)v;
    }
    *object_score = m->rule == OBJSCORE_MAX ? objscore_max(point_scores, n)
                                            : objscore_topk_mean(point_scores, n, m->topk);
  }
  free(c);
  free(f);
  return st;
}

const method_vt method_imrnet = {
    .name = "imrnet",
    .title = "IMRNet",
    .help = "Point-MAE fine-tuned per class, iterative mask reconstruction on GPS patches, point-patch Chamfer "
            "and dense decoder-feature comparison with template regularisation (IMRNet)",
    .opts = imrnet_opts,
    .create = imrnet_create,
    .fit = imrnet_fit,
    .score = imrnet_score,
    .destroy = imrnet_destroy,
};
