/* maefeat.h - what the Point-MAE-based baselines share: getting a trained model, turning a cloud into
 * per-patch features, and the PatchCore-on-Point-MAE method core of PatchCore(PointMAE) and M3DM.
 *
 * Getting the model. Methods never see HDF5 (the store layer owns the checkpoint format), so a method asks
 * for its `checkpoint` option's model through a loader function that the program's edge installs once at
 * start-up, before any task runs: maefeat_set_loader(checkpoint_load_model) (store/checkpoint.h). A task
 * whose checkpoint option is empty, names a file the loader cannot read, or runs with no loader installed,
 * fails with a message naming the method, the option and the path.
 *
 * Features of a cloud (maefeat_compute): with `unit_sphere` on, first mapped by ONE similarity transform
 * fixed at fit time by the first training sample (centroid to the origin, largest radius to 1: the unit sphere
 * Point-MAE was trained on; the same transform for every sample keeps their relative scale), then
 * nn/features.h: G = `num_group` patches of K = `group_size` points, the outputs of the chosen encoder
 * `blocks` through the final LayerNorm, concatenated. Centres come back in the cloud's own frame.
 *
 * The memory-bank core (maefeat_bank_*), as Real3D-AD's PatchCore(PointMAE) and M3DM run it:
 *   fit    every training sample (registered onto the first one when `register` is on: RANSAC on FPFH as
 *          Reg3D-AD) gives its patch features; PatchCore's approximate greedy coreset keeps `memory_size`
 *          of them (0: a `coreset_ratio` fraction; "none": all);
 *   score  the sample (registered the same way) gives its patch features; each patch's score is the distance
 *          to its nearest memory feature; every point takes the score of its nearest patch centre (the
 *          reference's fill_missing_values with k = 1); the object score follows `object_score` over the
 *          patches (max, reweighted: PatchCore's re-weighted max with reweight_k neighbours, topk_mean).
 */
#ifndef AD3D_METHODS_MAEFEAT_H
#define AD3D_METHODS_MAEFEAT_H

#include <stdint.h>

#include "common/cloud.h"
#include "common/opts.h"
#include "common/rng.h"
#include "geom/coreset.h"
#include "methods/featbank.h"
#include "methods/objscore.h"
#include "nn/features.h"
#include "nn/mae.h"

/* ---- the model loader ------------------------------------------------------------------------------------ */

/* Read the model stored at path into *m (caller frees with mae_free); a status with a message otherwise. */
typedef ad3d_status (*maefeat_loader)(const char *path, mae_model **m);

/* Install the loader (not thread-safe: call once before methods run; NULL uninstalls). */
void maefeat_set_loader(maefeat_loader fn);
maefeat_loader maefeat_get_loader(void);

/* ---- features ---------------------------------------------------------------------------------------------- */

/* Option entries every Point-MAE method declares (inside its opt_spec table). */
#define MAEFEAT_OPTS(num_group_default, group_size_default)                                                        \
  {"checkpoint", OPT_STRING, "", 1, 0,                                                                             \
   "Point-MAE checkpoint (HDF5, from `ad3d pretrain`); required"},                                                 \
  {"num_group", OPT_INT, num_group_default, 1, 1e7,                                                                \
   "patches per cloud (FPS centres); the reference: 16384 on Real3D-AD (GPU), 1024 in M3DM"},                      \
  {"group_size", OPT_INT, group_size_default, 1, 1e5, "points per patch (kNN; the reference: 128)"},              \
  {"blocks", OPT_STRING, "auto", 1, 0,                                                                             \
   "encoder blocks whose LayerNorm outputs are concatenated: auto (3,7,11 of 12; evenly spaced on a shallower "   \
   "model) or a list like 3,7,11"},                                                                                \
  {"unit_sphere", OPT_BOOL, "true", 1, 0,                                                                          \
   "map every cloud by the transform that puts the first training sample in the unit sphere"}

typedef struct {
  const char *method; /* name, for messages and option keys */
  mae_model *model;
  mae_feat_opts fo;
  int unit_sphere;
  double center[3], scale; /* the transform: x -> (x - center) scale */
} maefeat;

/* Read the options "<method>.checkpoint", num_group, group_size, blocks, unit_sphere from o and load the
 * model (see above). On failure f is left empty (maefeat_free-safe). */
ad3d_status maefeat_init(maefeat *f, const char *method, const opts_t *o);
void maefeat_free(maefeat *f);
/* Fix the normalisation from the first training cloud pts (n, 3) (identity when unit_sphere is off). */
void maefeat_fit_transform(maefeat *f, const float *pts, int64_t n);
int maefeat_dim(const maefeat *f);
/* Features of pts (n, 3), n >= 1: *G patches, *centers (G, 3) in the cloud's frame and *feat (G, dim),
 * both malloc'd (free()). AD3D_ENOMEM and nn/features.h's errors. */
ad3d_status maefeat_compute(const maefeat *f, const float *pts, int64_t n, float **centers, float **feat, int *G);

/* ---- the memory-bank method core ------------------------------------------------------------------------------ */

typedef struct {
  maefeat feat;
  coreset_opts copts;
  int use_coreset; /* 0: keep every training feature */
  int do_register, icp;
  double voxel;
  int64_t ransac_max_iter, topk;
  int reweight_k;
  objscore_rule rule;
  rng_t rng;
  featbank_reg reg;
  int have_reg;
  featbank bank;
} maefeat_bank;

/* Options of the core (after MAEFEAT_OPTS in a method's table): memory_size, coreset_ratio, coreset,
 * proj_dim, coreset_starts, register, voxel, icp, ransac_max_iter, object_score, reweight_k, topk. */
#define MAEFEAT_BANK_OPTS(memory_default, ratio_default, register_default, score_default)                         \
  {"memory_size", OPT_INT, memory_default, 0, 1e12, "coreset size (0: use coreset_ratio)"},                       \
  {"coreset_ratio", OPT_REAL, ratio_default, 1e-9, 1, "coreset size as a fraction of the features, when memory_size = 0"}, \
  {"coreset", OPT_STRING, "approx", 1, 0, "coreset sampler: approx (PatchCore's approximate greedy) or none"},   \
  {"proj_dim", OPT_INT, "128", 0, 1e6, "random projection dimension of the coreset sampler (0: none)"},           \
  {"coreset_starts", OPT_INT, "10", 1, 1e6, "random starting points of the approximate greedy coreset"},          \
  {"register", OPT_BOOL, register_default, 1, 0,                                                                  \
   "move every cloud onto the first training sample first (RANSAC on FPFH, Reg3D-AD's settings)"},               \
  {"voxel", OPT_REAL, "0.5", 1e-9, 1e9, "registration voxel in the data's units (0.5 mm on Real3D-AD)"},           \
  {"icp", OPT_BOOL, "false", 1, 0, "refine each registration by point-to-plane ICP"},                             \
  {"ransac_max_iter", OPT_INT, "100000", 1, 1e9, "RANSAC iterations at most (Real3D-AD: 100000)"},                \
  {"object_score", OPT_STRING, score_default, 1, 0, "object score rule: max, reweighted or topk_mean"},           \
  {"reweight_k", OPT_INT, "3", 2, 16, "neighbours of m* in the re-weighting"},                                    \
  {"topk", OPT_INT, "10", 1, 1e9, "k of the topk_mean object score"}

ad3d_status maefeat_bank_create(const char *method, const opts_t *o, rng_t *rng, void **state);
ad3d_status maefeat_bank_fit(void *state, const sample_t *train, int ntrain);
ad3d_status maefeat_bank_score(void *state, const sample_t *s, float *point_scores, double *object_score);
void maefeat_bank_destroy(void *state);

#endif
