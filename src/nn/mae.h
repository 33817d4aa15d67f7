/* mae.h - Point-MAE (Pang et al., ECCV 2022): the masked point-patch autoencoder that IMRNet, M3DM,
 * PatchCore(PointMAE) and Reg3D-AD build on, trained from scratch in C (ops.h over OpenBLAS).
 *
 * The model, as Pang-Yatian/Point-MAE's pretrain configuration builds it (DESIGN.md section 5):
 *   grouping    G centres by farthest point sampling (from point 0), the K nearest points of each, taken
 *               relative to their centre: neighbourhoods (B, G, K, 3) and centres (B, G, 3) (mae_group);
 *   patch encoder (mini-PointNet, on all B*G patches, BatchNorm statistics over all B*G*K points):
 *               per point 3 -> pe_dim1, BN, ReLU, -> pe_dim2; max over the patch; the pooled feature
 *               concatenated before every point's (2 pe_dim2) -> pe_dim3, BN, ReLU, -> width; max over
 *               the patch: one token (width) per patch;
 *   masking     per sample, M = floor(mask_ratio G) patches masked (the given mask, or mae_mask_random);
 *               visible tokens keep their patch order, as x[~mask] in PyTorch;
 *   encoder     position embedding of the visible centres (3 -> pos_dim, GELU, -> width), then `depth`
 *               pre-LN transformer blocks on the V = G - M visible tokens, the position added before
 *               every block: x = x + pos; x = x + dp(proj(MHSA(LN1 x))); x = x + dp(fc2(GELU(fc1(LN2 x))))
 *               (qkv without bias, scale head_dim^-0.5, MLP hidden mlp_ratio width, drop-path dp with
 *               rate linspace(0, drop_path_rate, depth)); a final LayerNorm;
 *   decoder     tokens [encoded visible (V), mask token (M)] per sample, their centres' embedding by a
 *               second position MLP, `decoder_depth` blocks as above (decoder_heads heads, drop-path
 *               linspace(0, drop_path_rate, decoder_depth)), LayerNorm of the M masked tokens;
 *   head        width -> 3 K: each masked patch's K predicted points (relative to its centre);
 *   loss        Chamfer-L2 (ops.h) between the predicted and the true masked patches.
 * LayerNorm eps 1e-5, BatchNorm eps 1e-5 momentum 0.1; weights initialised as Point-MAE does (mae_init).
 *
 * Memory (llm.c's layout): the parameters, their gradients, the two AdamW moments, the BatchNorm running
 * statistics ("buffers") and the activations each live in ONE allocation, with a struct of pointers into
 * it generated from one X-macro. Parameter tensors are stacked over blocks (enc_qkv_w is (depth, 3 width,
 * width)); a linear weight is (out, in) like PyTorch's, a Conv1d weight (out, in, 1) is stored (out, in).
 * mae_param_info lists every tensor's name, shape, offset in the block and weight-decay flag, in block
 * order: the flat API a checkpoint writer or an MPI reduction needs (params_mem, grads_mem, m_mem, v_mem,
 * bufs_mem with nparams / nbufs floats).
 *
 * Threading: only what OpenBLAS does inside sgemm. The model is not thread-safe; use one per thread.
 */
#ifndef AD3D_NN_MAE_H
#define AD3D_NN_MAE_H

#include <stddef.h>
#include <stdint.h>

#include "common/rng.h"
#include "common/status.h"

typedef struct {
  int npoints;         /* points per cloud fed to grouping (1024); read by data pipelines, not the net */
  int ngroups;         /* G, patches per cloud (64) */
  int group_size;      /* K, points per patch (32) */
  int width;           /* token width C, = the patch encoder's output (384) */
  int depth;           /* encoder blocks (12) */
  int heads;           /* encoder attention heads (6); width % heads == 0 */
  int decoder_depth;   /* decoder blocks (4) */
  int decoder_heads;   /* decoder attention heads (6); width % decoder_heads == 0 */
  int mlp_ratio;       /* transformer MLP hidden = mlp_ratio width (4) */
  int pe_dim1;         /* patch encoder first conv width (128) */
  int pe_dim2;         /* patch encoder second conv width, pooled and concatenated (256) */
  int pe_dim3;         /* patch encoder third conv width (512) */
  int pos_dim;         /* position MLP hidden width (128) */
  double mask_ratio;   /* masked fraction: M = floor(mask_ratio G) (0.6); double so floor matches Python */
  double drop_path_rate; /* stochastic depth of the last block (0.1) */
} mae_config;

/* Point-MAE's pretrain configuration (cfgs/pretrain.yaml). */
mae_config mae_config_default(void);
/* A small model with the same patching (1024 points, 64 x 32) that pre-trains in minutes on 2 cores:
 * width 128, depth 4, 4 heads, decoder depth 2, patch encoder 32 / 64 / 128, position MLP 64. */
mae_config mae_config_small(void);
/* AD3D_EINVAL with a message naming the bad field, else AD3D_OK. */
ad3d_status mae_config_check(const mae_config *c);
/* floor(mask_ratio * ngroups): the masked patches per cloud. */
int mae_num_masked(const mae_config *c);

/* ---- the parameter X-macro: X(name, ndim, d0, d1, d2, decay) -------------------------------------------
 * Sizes in terms of: h1, h2, h3 (pe_dim1..3), pd (pos_dim), C (width), F (mlp hidden), K (group size),
 * D (depth), Dd (decoder depth). decay: 1 = AdamW weight decay applies (Point-MAE decays weights of rank
 * >= 2 except tokens: none on biases, norms and the mask token). */
#define MAE_BLOCK_PARAMS(X, pre, NL)              \
  X(pre##_ln1_w, 2, NL, C, 1, 0)                  \
  X(pre##_ln1_b, 2, NL, C, 1, 0)                  \
  X(pre##_qkv_w, 3, NL, 3 * C, C, 1)              \
  X(pre##_proj_w, 3, NL, C, C, 1)                 \
  X(pre##_proj_b, 2, NL, C, 1, 0)                 \
  X(pre##_ln2_w, 2, NL, C, 1, 0)                  \
  X(pre##_ln2_b, 2, NL, C, 1, 0)                  \
  X(pre##_fc1_w, 3, NL, F, C, 1)                  \
  X(pre##_fc1_b, 2, NL, F, 1, 0)                  \
  X(pre##_fc2_w, 3, NL, C, F, 1)                  \
  X(pre##_fc2_b, 2, NL, C, 1, 0)

#define MAE_PARAMS(X)                   \
  X(pe_conv1_w, 2, h1, 3, 1, 1)         \
  X(pe_conv1_b, 1, h1, 1, 1, 0)         \
  X(pe_bn1_w, 1, h1, 1, 1, 0)           \
  X(pe_bn1_b, 1, h1, 1, 1, 0)           \
  X(pe_conv2_w, 2, h2, h1, 1, 1)        \
  X(pe_conv2_b, 1, h2, 1, 1, 0)         \
  X(pe_conv3_w, 2, h3, 2 * h2, 1, 1)    \
  X(pe_conv3_b, 1, h3, 1, 1, 0)         \
  X(pe_bn2_w, 1, h3, 1, 1, 0)           \
  X(pe_bn2_b, 1, h3, 1, 1, 0)           \
  X(pe_conv4_w, 2, C, h3, 1, 1)         \
  X(pe_conv4_b, 1, C, 1, 1, 0)          \
  X(pos_fc1_w, 2, pd, 3, 1, 1)          \
  X(pos_fc1_b, 1, pd, 1, 1, 0)          \
  X(pos_fc2_w, 2, C, pd, 1, 1)          \
  X(pos_fc2_b, 1, C, 1, 1, 0)           \
  MAE_BLOCK_PARAMS(X, enc, D)           \
  X(enc_norm_w, 1, C, 1, 1, 0)          \
  X(enc_norm_b, 1, C, 1, 1, 0)          \
  X(mask_token, 1, C, 1, 1, 0)          \
  X(dpos_fc1_w, 2, pd, 3, 1, 1)         \
  X(dpos_fc1_b, 1, pd, 1, 1, 0)         \
  X(dpos_fc2_w, 2, C, pd, 1, 1)         \
  X(dpos_fc2_b, 1, C, 1, 1, 0)          \
  MAE_BLOCK_PARAMS(X, dec, Dd)          \
  X(dec_norm_w, 1, C, 1, 1, 0)          \
  X(dec_norm_b, 1, C, 1, 1, 0)          \
  X(head_w, 2, 3 * K, C, 1, 1)          \
  X(head_b, 1, 3 * K, 1, 1, 0)

/* BatchNorm running statistics: X(name, count) (mean starts at 0, var at 1). */
#define MAE_BUFFERS(X)  \
  X(pe_bn1_mean, h1)    \
  X(pe_bn1_var, h1)     \
  X(pe_bn2_mean, h3)    \
  X(pe_bn2_var, h3)

/* ---- the activation X-macro: X(type, name, count) --------------------------------------------------------
 * Per forward layout: B clouds, V visible and M masked patches per cloud; R = B G K points, P = B G
 * patches, Tv = B V, Tg = B G, Tm = B M tokens. A block stack of NL blocks over sequences of length L
 * with NH heads keeps, per block, its input + position (x0), LN1, qkv, attention probabilities, heads'
 * output (atty), proj, x1, LN2, fc1, GELU, fc2, output (x2) and drop-path scales (2 per cloud). */
#define MAE_BLOCK_ACTS(X, pre, NL, L, NH)             \
  X(float, pre##_x0, (NL) * B * (L) * C)              \
  X(float, pre##_ln1, (NL) * B * (L) * C)             \
  X(float, pre##_ln1_mean, (NL) * B * (L))            \
  X(float, pre##_ln1_rstd, (NL) * B * (L))            \
  X(float, pre##_qkv, (NL) * B * (L) * 3 * C)         \
  X(float, pre##_att, (NL) * B * (NH) * (L) * (L))    \
  X(float, pre##_atty, (NL) * B * (L) * C)            \
  X(float, pre##_proj, (NL) * B * (L) * C)            \
  X(float, pre##_x1, (NL) * B * (L) * C)              \
  X(float, pre##_ln2, (NL) * B * (L) * C)             \
  X(float, pre##_ln2_mean, (NL) * B * (L))            \
  X(float, pre##_ln2_rstd, (NL) * B * (L))            \
  X(float, pre##_fc1, (NL) * B * (L) * F)             \
  X(float, pre##_gelu, (NL) * B * (L) * F)            \
  X(float, pre##_fc2, (NL) * B * (L) * C)             \
  X(float, pre##_x2, (NL) * B * (L) * C)              \
  X(float, pre##_dp, (NL) * 2 * B)

#define MAE_ACTS(X)                                   \
  X(float, neigh, R * 3)          /* (B, G, K, 3) */  \
  X(float, centers, P * 3)        /* (B, G, 3) */     \
  X(float, pe_h1, R * h1)                             \
  X(float, pe_bn1_mean, h1)                           \
  X(float, pe_bn1_rstd, h1)                           \
  X(float, pe_a1, R * h1)                             \
  X(float, pe_h2, R * h2)                             \
  X(float, pe_g2, P * h2)                             \
  X(int, pe_arg2, P * h2)                             \
  X(float, pe_h3, R * h3)                             \
  X(float, pe_bn2_mean, h3)                           \
  X(float, pe_bn2_rstd, h3)                           \
  X(float, pe_a3, R * h3)                             \
  X(float, pe_h4, R * C)                              \
  X(float, tokens, P * C)         /* (B, G, C) */     \
  X(int, pe_arg4, P * C)                              \
  X(float, pe_scratch, P * h3)                        \
  X(int, vis, B * V)              /* patch indices */ \
  X(int, msk, B * M)                                  \
  X(float, enc_cent, B * V * 3)                       \
  X(float, enc_pos_h, B * V * pd)                     \
  X(float, enc_pos_a, B * V * pd)                     \
  X(float, enc_pos, B * V * C)                        \
  X(float, enc_in, B * V * C)                         \
  MAE_BLOCK_ACTS(X, enc, D, V, H)                     \
  X(float, enc_out, B * V * C)    /* (B, V, C) */     \
  X(float, enc_norm_mean, B * V)                      \
  X(float, enc_norm_rstd, B * V)                      \
  X(float, dec_cent, P * 3)       /* [vis, msk] */    \
  X(float, dec_pos_h, P * pd)                         \
  X(float, dec_pos_a, P * pd)                         \
  X(float, dec_pos, P * C)                            \
  X(float, dec_in, P * C)                             \
  MAE_BLOCK_ACTS(X, dec, Dd, G, Hd)                   \
  X(float, dec_out, B * M * C)                        \
  X(float, dec_norm_mean, B * M)                      \
  X(float, dec_norm_rstd, B * M)                      \
  X(float, pred, B * M * K * 3)   /* (B, M, K, 3) */  \
  X(float, gt, B * M * K * 3)                         \
  X(int, ch_idx1, B * M * K)                          \
  X(int, ch_idx2, B * M * K)

#define MAE_X_PTR(name, ndim, d0, d1, d2, decay) float *name;
typedef struct {
  MAE_PARAMS(MAE_X_PTR)
} mae_params;
#undef MAE_X_PTR

#define MAE_X_BUF(name, n) float *name;
typedef struct {
  MAE_BUFFERS(MAE_X_BUF)
} mae_buffers;
#undef MAE_X_BUF

#define MAE_X_ACT(type, name, n) type *name;
typedef struct {
  MAE_ACTS(MAE_X_ACT)
} mae_acts;
#undef MAE_X_ACT

#define MAE_X_ENUM(name, ndim, d0, d1, d2, decay) MAE_P_##name,
enum { MAE_PARAMS(MAE_X_ENUM) MAE_NUM_PARAMS };
#undef MAE_X_ENUM
#define MAE_X_ENUM(name, n) MAE_B_##name,
enum { MAE_BUFFERS(MAE_X_ENUM) MAE_NUM_BUFFERS };
#undef MAE_X_ENUM

typedef struct {
  const char *name; /* the X-macro name, e.g. "enc_qkv_w" */
  int ndim;         /* 1..3 */
  int64_t dims[3];  /* dims[ndim..2] = 1 */
  size_t offset;    /* in floats, from the start of the block */
  size_t size;      /* floats */
  int decay;        /* 1: AdamW weight decay applies */
} mae_tensor_info;

typedef struct {
  mae_config cfg;
  mae_tensor_info pinfo[MAE_NUM_PARAMS], binfo[MAE_NUM_BUFFERS];
  size_t nparams, nbufs;  /* floats in each parameter-sized block / in the buffer block */
  float *params_mem, *grads_mem, *m_mem, *v_mem, *bufs_mem;
  mae_params params, grads;
  mae_buffers bufs;
  int64_t step;           /* AdamW steps taken */
  /* activations of the last forward and their gradients (same layout) */
  void *acts_mem, *dacts_mem;
  size_t acts_cap, acts_bytes; /* allocated / used bytes */
  mae_acts acts, dacts;
  int B, V, M;            /* layout of the last forward; B = 0 before the first */
  int train;              /* mode of the last forward */
  int have_forward;       /* a forward's activations are ready for mae_backward */
  float loss;             /* loss of the last forward */
} mae_model;

/* Allocate a model for cfg (checked with mae_config_check) and initialise it as Point-MAE does: encoder
 * side (patch encoder convs, position MLP, blocks) trunc_normal(0.02) weights with zero biases; decoder
 * blocks Xavier-uniform weights, zero biases; decoder position MLP and head PyTorch's default
 * U(+-1/sqrt(fan_in)) weights and biases; mask token trunc_normal(0.02); norms weight 1, bias 0; running
 * mean 0, var 1. Draws from rng in block order. Gradients and moments zero, step 0.
 * AD3D_EINVAL (bad config), AD3D_ENOMEM. */
ad3d_status mae_init(mae_model **out, const mae_config *cfg, rng_t *rng);
void mae_free(mae_model *m);

/* Neighbourhoods and centres of one cloud pts (n, 3) (Point-MAE's Group): G = cfg->ngroups centres by
 * sample_fps from point 0, each with its K = cfg->group_size nearest points (sample_group_knn, nearest
 * first) minus the centre: neigh (G, K, 3), centers (G, 3). AD3D_EINVAL if n < max(G, K), AD3D_ENOMEM. */
ad3d_status mae_group(const mae_config *cfg, const float *pts, int64_t n, float *neigh, float *centers);

/* mask (B, G): per row exactly M ones (masked) at uniformly random places (a Fisher-Yates shuffle of
 * G - M zeros then M ones, rng_below draws), like Point-MAE's _mask_center_rand. 0 <= M <= G. */
void mae_mask_random(uint8_t *mask, int B, int G, int M, rng_t *rng);

/* Forward of B clouds: neigh (B, G, K, 3), centers (B, G, 3) (from mae_group), mask (B, G) with 1 =
 * masked and the same count M in every row (0 <= M, at least one visible patch). train != 0: BatchNorm
 * batch statistics (running statistics updated) and drop-path drawn from rng (rng may be NULL when
 * drop_path_rate is 0); train == 0: running statistics, no drop-path. *loss (or NULL) = Chamfer-L2 of
 * the masked patches (0 when M = 0). Keeps the activations for mae_backward, (re)allocating them when
 * B or M grows. AD3D_EINVAL (bad mask or B, rng missing), AD3D_ENOMEM. */
ad3d_status mae_forward(mae_model *m, const float *neigh, const float *centers, const uint8_t *mask, int B,
                        int train, rng_t *rng, float *loss);

/* Gradient of the last forward's loss, ACCUMULATED into m->grads (call mae_zero_grad first unless you
 * accumulate over micro-batches). AD3D_EINVAL if no forward preceded it. */
ad3d_status mae_backward(mae_model *m);
void mae_zero_grad(mae_model *m);

/* L2 norm of all the gradients. */
double mae_grad_norm(const mae_model *m);

/* One AdamW step over every tensor (torch.optim.AdamW, betas (0.9, 0.999), eps 1e-8): weight_decay on the
 * tensors whose decay flag is set, none on the others. Increments m->step. */
void mae_adamw_step(mae_model *m, float lr, float weight_decay);

/* Tensor i of the parameter block (0 <= i < MAE_NUM_PARAMS) / the buffer block (MAE_NUM_BUFFERS). */
const mae_tensor_info *mae_param_info(const mae_model *m, int i);
const mae_tensor_info *mae_buffer_info(const mae_model *m, int i);
/* Index of the parameter (or buffer) named `name`, -1 if none. */
int mae_param_find(const char *name);
int mae_buffer_find(const char *name);

#endif
