/* ops.h - the neural-network layers of ad3d: each one a forward and a backward over float*.
 *
 * Layout: every tensor is a dense row-major float array; "rows" are points or tokens and channels are
 * the fastest index (channels-last). A PyTorch Conv1d with kernel 1 over (B, C, N) is therefore a
 * linear layer over the B*N rows of (B*N, C): the per-point shared MLP is linear_forward with
 * N = B*N rows, and its weight (OC, C, 1) is stored as (OC, C).
 *
 * Conventions (after llm.c):
 *  - forward writes its outputs (=); backward ACCUMULATES (+=) into every gradient it produces, so one
 *    memset of the gradient buffers clears a whole model. A gradient pointer that is NULL is skipped.
 *  - outputs never alias inputs unless a comment says so; scratch buffers are passed in.
 *  - no op allocates, prints or fails: shapes are the caller's contract (ASSERT on nonsense sizes).
 *  - reductions over many rows (batch statistics, bias gradients, norms) accumulate in double: partial
 *    sums of a few dozen values in float (vectorised), added into double totals.
 *  - the numbers follow PyTorch's definitions (named per op) so a PyTorch model is an oracle.
 *
 * Matrix products go through OpenBLAS's cblas_sgemm (its thread count is the caller's business:
 * OPENBLAS_NUM_THREADS or openblas_set_num_threads). linear_*_naive are the slow, obvious references
 * kept for tests.
 */
#ifndef AD3D_NN_OPS_H
#define AD3D_NN_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "common/rng.h"

/* ---- linear (nn.Linear, and Conv1d with kernel 1) ---------------------------------------------- */

/* inp (N, C)  w (OC, C)  b (OC) or NULL  ->  out (N, OC) = inp w^T + b */
void linear_forward(float *out, const float *inp, const float *w, const float *b, int64_t N, int C, int OC);
/* dout (N, OC) -> dinp (N, C) += dout w;  dw (OC, C) += dout^T inp;  db (OC) += column sums of dout.
 * Any of dinp, dw, db may be NULL. */
void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                     int64_t N, int C, int OC);
/* The same with plain loops (double accumulation), for tests. */
void linear_forward_naive(float *out, const float *inp, const float *w, const float *b, int64_t N, int C, int OC);
void linear_backward_naive(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                           int64_t N, int C, int OC);

/* ---- Point-MAE's "concat the pooled feature to every point, then a per-point linear" -------------
 * out[p, k, :] = w [g[p, :], f[p, k, :]] + b, i.e. linear over the concatenation (Cg + Cf channels,
 * pooled feature first, as torch.cat([global.expand(...), feature], dim=1)), computed without building
 * it: the pooled half is one product per patch instead of one per point.
 * g (P, Cg)  f (P, K, Cf)  w (OC, Cg + Cf)  b (OC) or NULL  ->  out (P, K, OC) */
void concat_linear_forward(float *out, const float *g, const float *f, const float *w, const float *b, int64_t P,
                           int K, int Cg, int Cf, int OC);
/* dout (P, K, OC) -> dg (P, Cg) +=, df (P, K, Cf) +=, dw (OC, Cg + Cf) +=, db (OC) +=; any may be NULL.
 * scratch (P, OC): overwritten. */
void concat_linear_backward(float *dg, float *df, float *dw, float *db, float *scratch, const float *dout,
                            const float *g, const float *f, const float *w, int64_t P, int K, int Cg, int Cf,
                            int OC);

/* ---- normalisation ----------------------------------------------------------------------------------- */

/* BatchNorm1d over the channels of inp (N, C) (PyTorch's BatchNorm1d on (B, C, L) with N = B*L rows).
 * train != 0: normalise with the batch mean and biased variance, and update the running statistics as
 *   PyTorch does: run = (1 - momentum) run + momentum stat, with the UNBIASED variance (N / (N - 1));
 *   N must be >= 2.
 * train == 0: normalise with run_mean / run_var (left unchanged).
 * out (N, C) = (inp - mean) rstd w + b;  mean (C), rstd (C) = 1 / sqrt(var + eps): the statistics used
 * (saved for backward). w, b (C). run_mean, run_var (C). PyTorch defaults: momentum 0.1, eps 1e-5. */
void batchnorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       float *run_mean, float *run_var, int64_t N, int C, float momentum, float eps, int train);
/* dout (N, C) -> dinp (N, C) +=, dw (C) +=, db (C) +=. train as in the forward: with batch statistics the
 * gradient flows through the mean and variance; with running statistics it does not. */
void batchnorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *mean,
                        const float *rstd, const float *w, int64_t N, int C, int train);
/* BatchNorm then ReLU in one pass: out = max(batchnorm(inp), 0), arguments as batchnorm_forward (the
 * Conv-BN-ReLU of Point-MAE's patch encoder without a buffer for the normalised values). The backward
 * takes the forward's out for the ReLU mask. */
void batchnorm_relu_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                            float *run_mean, float *run_var, int64_t N, int C, float momentum, float eps, int train);
void batchnorm_relu_backward(float *dinp, float *dw, float *db, const float *dout, const float *out, const float *inp,
                             const float *mean, const float *rstd, const float *w, int64_t N, int C, int train);

/* LayerNorm over the last dimension of inp (N, C), eps 1e-5 (nn.LayerNorm's default).
 * out (N, C), mean (N), rstd (N) saved for backward; w, b (C). */
#define LAYERNORM_EPS 1e-5f
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       int64_t N, int C);
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *mean,
                        const float *rstd, const float *w, int64_t N, int C);

/* ---- activations (elementwise over n values) ------------------------------------------------------- */

/* out = max(inp, 0); out may equal inp. */
void relu_forward(float *out, const float *inp, int64_t n);
/* dinp += dout where out > 0 (out: the forward's output). */
void relu_backward(float *dinp, const float *dout, const float *out, int64_t n);
/* Exact GELU (nn.GELU's default): out = inp Phi(inp) = 0.5 inp (1 + erf(inp / sqrt 2)); out may equal inp
 * in the forward only if the backward is given another copy of inp. Phi from a branch-free erfc and exp
 * (vectorised): relative error below 5e-7 + 1.5e-7 inp^2 on the forward, 3e-7 absolute on the derivative. */
void gelu_forward(float *out, const float *inp, int64_t n);
void gelu_backward(float *dinp, const float *dout, const float *inp, int64_t n);

/* ---- pooling --------------------------------------------------------------------------------------- */

/* Max over the K points of each patch: inp (P, K, C) -> out (P, C), arg (P, C) the point index in [0, K)
 * of each maximum (the first one on ties, as torch.max on CPU). */
void maxpool_forward(float *out, int *arg, const float *inp, int64_t P, int K, int C);
/* dinp (P, K, C) += dout (P, C) routed to arg. */
void maxpool_backward(float *dinp, const float *dout, const int *arg, int64_t P, int K, int C);

/* ---- attention ------------------------------------------------------------------------------------- */

/* Row-wise softmax in place of S (n, L): each row minus its max, exponentiated, divided by its sum
 * (accumulated in double). Shared by the training forward and the chunked inference attention. */
void softmax_rows(float *S, int64_t n, int L);

/* Multi-head self-attention core of timm's Attention (the qkv and proj linears are separate calls):
 * qkv (B, L, 3C) laid out as PyTorch's reshape(B, L, 3, H, C/H) (q, k, v, each head's hd = C/H
 * channels contiguous); att (B, H, L, L) = softmax(q k^T hd^-0.5) over the last index (saved);
 * out (B, L, C) = att v with heads concatenated (head h at channels h*hd .. h*hd+hd-1). C % H == 0. */
void attention_forward(float *out, float *att, const float *qkv, int B, int L, int C, int H);
/* dout (B, L, C) -> dqkv (B, L, 3C) +=. datt (B, H, L, L): scratch, overwritten. */
void attention_backward(float *dqkv, float *datt, const float *dout, const float *qkv, const float *att, int B,
                        int L, int C, int H);

/* ---- residuals and drop-path ------------------------------------------------------------------------- */

/* out = a + b over n values (the residual stream, and "x + pos" before every block). */
void residual_forward(float *out, const float *a, const float *b, int64_t n);
void residual_backward(float *da, float *db, const float *dout, int64_t n);

/* Drop-path (stochastic depth, timm's drop_path with scale_by_keep) on a residual branch:
 * out[b] = res[b] + scale[b] branch[b] for each of the B samples of `per` values each. scale (B) comes
 * from droppath_draw; NULL means all ones (eval, or rate 0). */
void droppath_residual_forward(float *out, const float *res, const float *branch, const float *scale, int B,
                               int64_t per);
/* dres += dout;  dbranch += scale[b] dout. */
void droppath_residual_backward(float *dres, float *dbranch, const float *dout, const float *scale, int B,
                                int64_t per);
/* scale (B): with train and 0 < p < 1, each sample is kept with probability 1 - p (scale 1 / (1 - p))
 * or dropped (scale 0), drawing one rng_uniform per sample; otherwise all ones and no draws. */
void droppath_draw(float *scale, int B, float p, int train, rng_t *rng);

/* ---- loss -------------------------------------------------------------------------------------------- */

/* Chamfer-L2 as Point-MAE's ChamferDistanceL2: over P patch pairs, dist1 = squared distance of each
 * predicted point to its nearest ground-truth point, dist2 the same from gt to pred;
 * loss = mean(dist1 over all P*n1) + mean(dist2 over all P*n2).
 * pred (P, n1, 3)  gt (P, n2, 3)  ->  idx1 (P, n1), idx2 (P, n2): the nearest partner (smallest index on
 * ties, as the CUDA kernel). Distances are (x2-x1)^2 + (y2-y1)^2 + (z2-z1)^2 in float. Returns the loss. */
float chamfer_l2_forward(int *idx1, int *idx2, const float *pred, const float *gt, int64_t P, int n1, int n2);
/* dloss: the loss's gradient (1 for the loss itself) -> dpred (P, n1, 3) +=, dgt (P, n2, 3) += (either
 * may be NULL). */
void chamfer_l2_backward(float *dpred, float *dgt, float dloss, const float *pred, const float *gt, const int *idx1,
                         const int *idx2, int64_t P, int n1, int n2);

/* ---- optimisation ------------------------------------------------------------------------------------- */

/* One AdamW step (torch.optim.AdamW) on n parameters: p *= 1 - lr wd; m, v the moment estimates;
 * p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps). t >= 1 is the step number after
 * this update (1 on the first). wd = 0 for tensors that take no decay (biases, norms, tokens). */
void adamw_update(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2,
                  float eps, float wd, int64_t t);

/* L2 norm of n values (double accumulation). */
double grad_norm(const float *g, size_t n);
/* Global-norm clipping (torch.nn.utils.clip_grad_norm_): g *= max_norm / (norm + 1e-6) when that is < 1.
 * norm: the global norm of all the gradients (grad_norm over the whole gradient block). */
void grad_clip(float *g, size_t n, double norm, double max_norm);

/* Cosine learning rate with linear warm-up, as timm's CosineLRScheduler(t_initial = total, lr_min,
 * warmup_lr_init, warmup_t, cycle_limit 1) that Point-MAE uses (warmup_prefix off):
 *   t < warmup_t:  warmup_init + t (base - warmup_init) / warmup_t
 *   t < total:     lr_min + (base - lr_min) (1 + cos(pi t / total)) / 2
 *   otherwise:     lr_min.
 * t, warmup_t and total in the same unit (epochs, or fractional epochs for per-step schedules). */
double lr_cosine_warmup(double t, double base, double lr_min, double warmup_init, double warmup_t, double total);

#endif
