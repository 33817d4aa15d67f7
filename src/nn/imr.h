/* imr.h - IMRNet's test-time algorithm on the Point-MAE engine: geometry-aware patches, iterative mask
 * reconstruction, and the dense comparison of a cloud with its reconstruction (DESIGN.md section 5; the
 * paper's code is not public, so every step below is our reading of its text).
 *
 * Patches (imr_patches_make): G centres (256) chosen by one of four samplers, each with its K (64) nearest
 * cloud points, taken relative to the centre, as Point-MAE's grouping lays them out:
 *   rs     G distinct cloud points uniformly at random (sample_random);
 *   fps    farthest point sampling from point 0 (sample_fps, as mae_group);
 *   voxel  voxel-grid centroids (sample_voxel) at the largest edge (found by bisection, 40 halvings of
 *          the bounding-box diagonal) that still gives at least G voxels; when it gives more, G of them
 *          at random (the centroids need not be cloud points);
 *   gps    IMRNet's geometry-aware sampling (sample_gps: the salient fraction tau of the points, ranked by
 *          their rate of change of normal and curvature, gets salient_ratio times as many centres).
 *
 * Iterative mask reconstruction (imr_reconstruct): the input patches x_0 = the cloud's; iteration t masks
 * M = floor(mask_ratio G) patches (a fresh uniformly random set, like Point-MAE's random mask), the model
 * (eval mode) predicts them from the visible ones, and x_t = x_{t-1} with the masked patches replaced by
 * their predictions (the centres never change). The reconstruction is x_T. With `cover`, the masks walk
 * through random permutations of the patches so that the first ceil(G / M) masks together cover every
 * patch, and max(T, ceil(G / M)) iterations run (imr_masks): no patch is left as its own reconstruction.
 *
 * Scores, both per cloud point (higher = more anomalous):
 *   Chamfer map (point-patch comparison, imr_patch_chamfer): for patch g with input points a (K) and
 *     reconstructed points b (K), d_a(k) = min_j |a_k - b_j|^2 and the patch's Chamfer-L2
 *     cd_g = mean_k d_a(k) + mean_j min_k |b_j - a_k|^2. IMR_CHAMFER_PATCH gives every point of patch g
 *     the value cd_g, IMR_CHAMFER_POINT gives point a_k the value d_a(k). A cloud point's score is the
 *     mean of its values over the patches containing it (imr_point_mean); a point in no patch takes the
 *     score of its nearest covered point.
 *   Feature map (dense feature comparison): the decoder's token features with no mask (every patch
 *     visible: the encoder sees all G tokens, the decoder runs on them) of the input patches and of the
 *     reconstruction, at the outputs of decoder blocks 1..L (L = feature_layers, at most the decoder's
 *     depth), each layer normalised per token (LayerNorm without affine, so no layer dominates by scale)
 *     and concatenated: f (G, L C) (imr_features). Template regularisation (imr_template_regularise):
 *     a reconstructed feature whose nearest training-template feature is farther than delta is replaced
 *     by that template feature. Patch g scores |f_in(g) - f_rec(g)|, interpolated to every cloud point
 *     from the patch centres (imr_interpolate: the nearest centre, or the inverse-squared-distance mean
 *     of the k nearest, PointNet++'s feature propagation).
 * Normalising and fusing the two maps, and the object score, are the method's (methods/imrnet.c).
 *
 * Large clouds: with npoints > 0 a cloud of more points is first reduced to npoints of them, uniformly at
 * random (sample_random: cheap on 2M-point scans, and it keeps the density GPS reads); the maps above are
 * computed on that subset, every other point takes the Chamfer score of its nearest scored point and the
 * interpolated feature score at its own position.
 *
 * Units: everything in the coordinates passed in; the method first maps a cloud onto the unit sphere the
 * model was trained in (imr_unit_sphere). The model must have cfg.group_size == K and cfg.ngroups == G
 * (imr_model_check); nothing here changes its weights. Randomness: only the rng passed in.
 */
#ifndef AD3D_NN_IMR_H
#define AD3D_NN_IMR_H

#include <stdint.h>

#include "common/rng.h"
#include "common/status.h"
#include "geom/nnsearch.h"
#include "geom/sampling.h"
#include "nn/mae.h"

typedef enum { IMR_SAMPLER_RS, IMR_SAMPLER_FPS, IMR_SAMPLER_VOXEL, IMR_SAMPLER_GPS } imr_sampler;
typedef enum { IMR_CHAMFER_PATCH, IMR_CHAMFER_POINT } imr_chamfer_mode;

/* Parse "rs" | "fps" | "voxel" | "gps" / "patch" | "point"; AD3D_EINVAL naming the choices otherwise. */
ad3d_status imr_sampler_parse(const char *name, imr_sampler *out);
const char *imr_sampler_name(imr_sampler s);
ad3d_status imr_chamfer_parse(const char *name, imr_chamfer_mode *out);

/* ---- patches ---------------------------------------------------------------------------------------- */

typedef struct {
  int G, K;
  float *centers; /* (G, 3) */
  int64_t *idx;   /* (G, K) indices into the cloud, nearest first */
  float *neigh;   /* (G, K, 3) the points minus their centre */
} imr_patches;

/* Patches of pts (n, 3): G centres by `sampler` (gps: with *gps, which may be NULL for gps_defaults()),
 * each with its K nearest points. rng: used by rs and voxel. Allocates *out (free with imr_patches_free).
 * AD3D_EINVAL (n < max(G, K), G < 1, K < 1, non-finite points for voxel), AD3D_ENOMEM. */
ad3d_status imr_patches_make(const float *pts, int64_t n, int G, int K, imr_sampler sampler, const gps_opts *gps,
                             rng_t *rng, imr_patches *out);
void imr_patches_free(imr_patches *p);

/* ---- iterative mask reconstruction ---------------------------------------------------------------- */

typedef struct {
  int iterations;    /* T >= 1 (3) */
  double mask_ratio; /* M = floor(mask_ratio G) patches masked per iteration, 1 <= M < G (0.4) */
  int cover;         /* 1: the masks cover every patch (see above) */
} imr_recon_opts;

imr_recon_opts imr_recon_defaults(void);

/* Iterations that run: T, or max(T, ceil(G / M)) with cover. */
int imr_num_iterations(int G, int M, int T, int cover);

/* masks (T', G) with T' = imr_num_iterations(G, M, T, cover): row t has exactly M ones (masked patches).
 * Without cover each row is mae_mask_random's; with cover, row t takes the next M entries of a random
 * permutation of 0..G-1, and when fewer than M are left, those plus the first entries of a fresh
 * permutation that are not among them. 1 <= M < G, T >= 1 (ASSERT); AD3D_ENOMEM. */
ad3d_status imr_masks(uint8_t *masks, int G, int M, int T, int cover, rng_t *rng);

/* Reconstruct the patches neigh (G, K, 3) around centers (G, 3) with model m (eval mode):
 * recon (G, K, 3) = x_T. times_masked (G) or NULL: how often each patch was masked. The model's cfg
 * must match (imr_model_check). AD3D_EINVAL (options, model), AD3D_ENOMEM, AD3D_ENUMERIC. */
ad3d_status imr_reconstruct(mae_model *m, const float *neigh, const float *centers, const imr_recon_opts *o,
                            rng_t *rng, float *recon, int *times_masked);

/* AD3D_EINVAL unless m->cfg.ngroups == G and m->cfg.group_size == K (the message says which). */
ad3d_status imr_model_check(const mae_model *m, int G, int K);

/* ---- dense features ------------------------------------------------------------------------------- */

/* Feature width L C with L = min(nlayers, decoder depth) (nlayers >= 1). */
int imr_feature_dim(const mae_model *m, int nlayers);

/* Fused decoder features of the patches neigh (G, K, 3) at centers (G, 3), no mask, eval mode:
 * feat (G, imr_feature_dim(m, nlayers)) (see above). AD3D_EINVAL, AD3D_ENOMEM, AD3D_ENUMERIC. */
ad3d_status imr_features(mae_model *m, const float *neigh, const float *centers, int nlayers, float *feat);

/* Template regularisation of feat (G, D) in place: a row whose nearest row of the bank (indexed by
 * `bank`, over bank_feats (nbank, D)) lies farther than delta (Euclidean, not squared) is replaced by
 * that bank row. *nreplaced (or NULL): the rows replaced. AD3D_EINVAL (D differs from the bank's),
 * AD3D_ENOMEM. */
ad3d_status imr_template_regularise(const nnsearch *bank, const float *bank_feats, float *feat, int64_t G, int D,
                                    double delta, int64_t *nreplaced);

/* ---- comparison and interpolation ------------------------------------------------------------------- */

/* Per patch of in, rec (G, K, 3): cd (G) the Chamfer-L2 of the pair (or NULL), and d_in (G, K) each input
 * point's squared distance to its nearest reconstructed point (or NULL). Distances summed in double. */
void imr_patch_chamfer(const float *in, const float *rec, int64_t G, int K, float *cd, float *d_in);

/* out (n): the mean over patches of vals (G, K) at the cloud points idx (G, K) (indices < n); count (n)
 * (or NULL) the number of patch slots of each point. Points in no patch get 0 and count 0. AD3D_ENOMEM. */
ad3d_status imr_point_mean(const int64_t *idx, const float *vals, int64_t G, int K, int64_t n, float *out,
                           int *count);

/* out (n) at pts (n, 3) from vals (m) at sites (m, 3): k = 1 the nearest site's value; k > 1 (clamped to
 * m) sum_j w_j vals_j / sum_j w_j over the k nearest sites with w_j = 1 / (d_j^2 + 1e-8). m >= 1, k >= 1,
 * else AD3D_EINVAL; AD3D_ENOMEM. */
ad3d_status imr_interpolate(const float *sites, const float *vals, int64_t m, const float *pts, int64_t n, int k,
                            float *out);

/* Fill the points with have[i] == 0 of vals (n) with the value of their nearest point that has one:
 * pts (n, 3). At least one point must have a value, else AD3D_EINVAL; AD3D_ENOMEM. */
ad3d_status imr_fill_nearest(const float *pts, int64_t n, const uint8_t *have, float *vals);

/* ---- whole clouds ------------------------------------------------------------------------------------ */

/* Centre c (3) and radius r of the unit-sphere normalisation of pts (n, 3) (mean; largest distance to
 * it, 1 if that is 0), computed in double; imr_apply_norm writes out (n, 3) = (pts - c) / r. n >= 1. */
void imr_unit_sphere(const float *pts, int64_t n, double c[3], double *r);
void imr_apply_norm(const float *pts, int64_t n, const double c[3], double r, float *out);

typedef struct {
  int ngroups, group_size;  /* G (256), K (64) */
  imr_sampler sampler;      /* gps */
  gps_opts gps;             /* gps_defaults() */
  int64_t npoints;          /* reduce larger clouds to this many points first (0: never) */
  imr_recon_opts recon;
  int chamfer;              /* compute the Chamfer map */
  imr_chamfer_mode chamfer_mode;
  int features;             /* compute the feature map */
  int feature_layers;       /* decoder layers fused (3) */
  double delta;             /* template regularisation radius; < 0: none */
  int interp_k;             /* centres interpolated per point (1: nearest) */
} imr_opts;

imr_opts imr_defaults(void);

/* The training loop's grouping with IMRNet's patches (nn/train.h mae_train_opts.group, with group_ctx an
 * imr_opts, which must outlive the training): imr_patches_make of pts (n, 3) with G = cfg->ngroups,
 * K = cfg->group_size and the sampler and gps options of the imr_opts (its other fields are not read; the
 * loop's inputs already have cfg->npoints points), written as mae_group writes: neigh (G, K, 3) the points
 * relative to their centre, centers (G, 3). With sampler fps this is mae_group, bit for bit (the same FPS
 * from point 0, the same kd-tree kNN, the same subtraction). rng: used by rs and voxel. imr_patches_make's
 * errors, prefixed with the sampler's name. */
ad3d_status imr_train_group(void *ctx, const mae_config *cfg, const float *pts, int64_t n, rng_t *rng, float *neigh,
                            float *centers);

/* The template bank: features of training clouds' patches and their index. */
typedef struct {
  int dim;
  int64_t n;
  float *feat;    /* (n, dim), owned */
  nnsearch *index;
} imr_bank;

/* Take ownership of feat (n, dim) (freed on failure too) and index it. n >= 1. */
ad3d_status imr_bank_build(imr_bank *b, float *feat, int64_t n, int dim);
void imr_bank_free(imr_bank *b);

/* Features (G, imr_feature_dim(m, o->feature_layers)) of the input patches of pts (n, 3) (a training
 * cloud, already normalised): the rows a template bank is made of. Patching as imr_score_cloud. */
ad3d_status imr_cloud_features(mae_model *m, const float *pts, int64_t n, const imr_opts *o, rng_t *rng,
                               float *feat);

/* Score a cloud pts (n, 3) (already normalised): chamfer_map (n) and feature_map (n), each written when
 * its part is on (o->chamfer / o->features), else left alone (may be NULL). bank: the template bank
 * (needed when o->features and o->delta >= 0, else may be NULL). *nreplaced (or NULL): features
 * regularised. AD3D_EINVAL (options, model, too few points), AD3D_ENOMEM, AD3D_ENUMERIC. */
ad3d_status imr_score_cloud(mae_model *m, const float *pts, int64_t n, const imr_opts *o, const imr_bank *bank,
                            rng_t *rng, float *chamfer_map, float *feature_map, int64_t *nreplaced);

#endif
