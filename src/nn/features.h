/* features.h - per-patch features of a trained Point-MAE encoder, as the memory-bank baselines take them.
 *
 * As M3DM's and Real3D-AD's PointTransformer (the Point-MAE encoder without masking) computes them: the
 * cloud is grouped into G patches of K points (FPS centres from point 0, kNN, relative to the centre:
 * mae_group), every patch becomes a token (the mini-PointNet patch encoder, BatchNorm with its running
 * statistics), the position embedding of the centres is added before every block, and the outputs of the
 * chosen encoder blocks, each through the encoder's final LayerNorm, are concatenated: feat (G, nblocks C).
 * Paper configuration: blocks 3, 7, 11 of 12, C = 384, 1152-d features. No mask, no drop-path.
 * G and K are free (the weights do not depend on them): the reference extracts 1024 or 16384 patches of
 * 128 points from a test cloud while the model was trained on 64 patches of 32.
 *
 * Memory: an inference-only forward that keeps one block's activations, runs the patch encoder over chunks
 * of patches and attention over chunks of queries, so that G = 16384 needs O(G (4 C) + chunk) floats and
 * never the (G, G) attention matrix. Threads: OpenBLAS's. The model is only read.
 */
#ifndef AD3D_NN_FEATURES_H
#define AD3D_NN_FEATURES_H

#include <stdint.h>

#include "common/status.h"
#include "nn/mae.h"

#define MAE_FEAT_MAX_BLOCKS 16

typedef struct {
  int ngroups;     /* G: patches (clamped to the cloud's point count) */
  int group_size;  /* K: points per patch (clamped to the cloud's point count) */
  int nblocks;     /* encoder blocks taken, 1 .. MAE_FEAT_MAX_BLOCKS */
  int blocks[MAE_FEAT_MAX_BLOCKS]; /* their 0-based indices, strictly increasing, < depth */
  int64_t chunk_floats; /* scratch budget of a patch-encoder or attention chunk, in floats (0: 4 Mi) */
} mae_feat_opts;

/* Evenly spaced blocks of an encoder of `depth` blocks: round((i + 1) depth / 3) - 1 for i = 0, 1, 2,
 * duplicates dropped: 3, 7, 11 for depth 12 (the reference's fetch_idx), 0, 2, 3 for depth 4, 0, 1 for 2. */
void mae_feat_default_blocks(int depth, int *blocks, int *nblocks);

/* Blocks from text: "auto" (mae_feat_default_blocks) or a comma list of 0-based indices ("3,7,11"),
 * strictly increasing and < depth. AD3D_EINVAL naming the problem. */
ad3d_status mae_feat_parse_blocks(const char *text, int depth, int *blocks, int *nblocks);

/* Feature width: nblocks * width. */
int mae_feat_dim(const mae_model *m, const mae_feat_opts *o);
/* Patches for a cloud of n points: min(o->ngroups, n). */
int mae_feat_groups(const mae_feat_opts *o, int64_t n);

/* Features of the cloud pts (n, 3), n >= 1: centers (G, 3) and feat (G, mae_feat_dim) with
 * G = mae_feat_groups(o, n), K = min(o->group_size, n); caller-allocated. AD3D_EINVAL (bad options: blocks
 * out of range, G or K < 1), AD3D_ENOMEM. */
ad3d_status mae_features(const mae_model *m, const float *pts, int64_t n, const mae_feat_opts *o, float *centers,
                         float *feat);

#endif
