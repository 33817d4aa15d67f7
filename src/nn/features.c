/* features.c - Point-MAE encoder features per patch: an inference-only forward over ops.h, chunked so
 * that tens of thousands of patches fit in memory. The layer order is mae.c's (patch encoder, position
 * embedding, pre-LN blocks with the position added before each); see features.h. Not here: masking, the
 * decoder, gradients.
 */
#include "nn/features.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ops.h"

#define BN_EPS 1e-5f
#define DEFAULT_CHUNK ((int64_t)4 << 20)

void mae_feat_default_blocks(int depth, int *blocks, int *nblocks) {
  int n = 0;
  for (int i = 0; i < 3; i++) {
    int b = (int)floor((i + 1) * (double)depth / 3.0 + 0.5) - 1;
    b = b < 0 ? 0 : b;
    if (n == 0 || b > blocks[n - 1])
      blocks[n++] = b;
  }
  *nblocks = n;
}

ad3d_status mae_feat_parse_blocks(const char *text, int depth, int *blocks, int *nblocks) {
  *nblocks = 0;
  if (!strcmp(text, "auto")) {
    mae_feat_default_blocks(depth, blocks, nblocks);
    return AD3D_OK;
  }
  const char *s = text;
  int n = 0;
  while (*s) {
    char *end;
    long b = strtol(s, &end, 10);
    if (end == s || (*end && *end != ','))
      return ad3d_fail(AD3D_EINVAL, "blocks \"%s\": expected \"auto\" or 0-based block indices like \"3,7,11\"", text);
    if (b < 0 || b >= depth)
      return ad3d_fail(AD3D_EINVAL, "blocks \"%s\": block %ld does not exist (the encoder has %d, 0 to %d)", text, b,
                       depth, depth - 1);
    if (n > 0 && b <= blocks[n - 1])
      return ad3d_fail(AD3D_EINVAL, "blocks \"%s\": indices must increase", text);
    if (n == MAE_FEAT_MAX_BLOCKS)
      return ad3d_fail(AD3D_EINVAL, "blocks \"%s\": more than %d blocks", text, MAE_FEAT_MAX_BLOCKS);
    blocks[n++] = (int)b;
    s = *end ? end + 1 : end;
  }
  if (n == 0)
    return ad3d_fail(AD3D_EINVAL, "blocks \"%s\": no block", text);
  *nblocks = n;
  return AD3D_OK;
}

int mae_feat_dim(const mae_model *m, const mae_feat_opts *o) { return o->nblocks * m->cfg.width; }

int mae_feat_groups(const mae_feat_opts *o, int64_t n) { return (int)(n < o->ngroups ? n : o->ngroups); }

/* Scratch floats of the patch encoder for chunks of pc patches of K points. */
static int64_t patch_scratch(const mae_config *c, int64_t pc, int K) {
  const int hmax = c->pe_dim1 > c->pe_dim3 ? c->pe_dim1 : c->pe_dim3;
  return pc * K * (hmax + c->pe_dim1 + c->pe_dim2 + c->pe_dim3 + c->width) + pc * c->pe_dim2 + 2 * hmax;
}

/* Patch encoder on P patches neigh (P, K, 3) -> tokens (P, C), in chunks of pc patches. s: scratch of
 * patch_scratch(pc, K) floats; arg: pc max(h2, C) ints. */
static void patch_encoder(const mae_model *m, const float *neigh, int64_t P, int K, int64_t pc, float *s, int *arg,
                          float *tokens) {
  const mae_config *c = &m->cfg;
  const mae_params *p = &m->params;
  const int h1 = c->pe_dim1, h2 = c->pe_dim2, h3 = c->pe_dim3, C = c->width, hmax = h1 > h3 ? h1 : h3;
  float *pre = s;                  /* (pc K, hmax) values before a BatchNorm */
  float *a1 = pre + pc * K * hmax; /* (pc K, h1) */
  float *f2 = a1 + pc * K * h1;    /* (pc K, h2) */
  float *a3 = f2 + pc * K * h2;    /* (pc K, h3) */
  float *f4 = a3 + pc * K * h3;    /* (pc K, C) */
  float *g2 = f4 + pc * K * C;     /* (pc, h2) */
  float *mu = g2 + pc * h2, *rs = mu + hmax; /* the statistics eval BatchNorm used (not needed) */
  for (int64_t p0 = 0; p0 < P; p0 += pc) {
    const int64_t np = P - p0 < pc ? P - p0 : pc, R = np * K;
    linear_forward(pre, neigh + p0 * K * 3, p->pe_conv1_w, p->pe_conv1_b, R, 3, h1);
    batchnorm_relu_forward(a1, mu, rs, pre, p->pe_bn1_w, p->pe_bn1_b, m->bufs.pe_bn1_mean, m->bufs.pe_bn1_var, R, h1,
                           0.1f, BN_EPS, 0);
    linear_forward(f2, a1, p->pe_conv2_w, p->pe_conv2_b, R, h1, h2);
    maxpool_forward(g2, arg, f2, np, K, h2);
    concat_linear_forward(pre, g2, f2, p->pe_conv3_w, p->pe_conv3_b, np, K, h2, h2, h3);
    batchnorm_relu_forward(a3, mu, rs, pre, p->pe_bn2_w, p->pe_bn2_b, m->bufs.pe_bn2_mean, m->bufs.pe_bn2_var, R, h3,
                           0.1f, BN_EPS, 0);
    linear_forward(f4, a3, p->pe_conv4_w, p->pe_conv4_b, R, h3, C);
    maxpool_forward(tokens + p0 * C, arg, f4, np, K, C);
  }
}

/* out (L, C) = multi-head attention of qkv (L, 3C) (attention_forward's arithmetic), queries in chunks of
 * qc rows; S: scratch (qc, L). */
static void attention_chunked(float *out, const float *qkv, int L, int C, int H, int64_t qc, float *S) {
  const int hd = C / H;
  const float scale = 1.0f / sqrtf((float)hd);
  for (int h = 0; h < H; h++) {
    const float *q = qkv + (size_t)h * hd, *k = q + C, *v = q + 2 * C;
    for (int64_t i0 = 0; i0 < L; i0 += qc) {
      const int n = (int)(L - i0 < qc ? L - i0 : qc);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, L, hd, scale, q + i0 * 3 * C, 3 * C, k, 3 * C, 0.0f, S,
                  L);
      softmax_rows(S, n, L);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd, L, 1.0f, S, L, v, 3 * C, 0.0f,
                  out + i0 * C + (size_t)h * hd, C);
    }
  }
}

ad3d_status mae_features(const mae_model *m, const float *pts, int64_t n, const mae_feat_opts *o, float *centers,
                         float *feat) {
  const mae_config *c = &m->cfg;
  const mae_params *p = &m->params;
  if (n < 1 || o->ngroups < 1 || o->group_size < 1)
    return ad3d_fail(AD3D_EINVAL, "Point-MAE features: %lld points, %d groups of %d", (long long)n, o->ngroups,
                     o->group_size);
  if (o->nblocks < 1 || o->nblocks > MAE_FEAT_MAX_BLOCKS)
    return ad3d_fail(AD3D_EINVAL, "Point-MAE features: %d blocks", o->nblocks);
  for (int i = 0; i < o->nblocks; i++)
    if (o->blocks[i] < 0 || o->blocks[i] >= c->depth || (i && o->blocks[i] <= o->blocks[i - 1]))
      return ad3d_fail(AD3D_EINVAL, "Point-MAE features: block %d is not an increasing index below depth %d",
                       o->blocks[i], c->depth);
  const int G = mae_feat_groups(o, n), K = (int)(n < o->group_size ? n : o->group_size);
  const int C = c->width, F = c->mlp_ratio * c->width, D = o->nblocks * C, h1 = c->pe_dim1, h2 = c->pe_dim2,
            h3 = c->pe_dim3, pd = c->pos_dim, last = o->blocks[o->nblocks - 1];
  const int64_t budget = o->chunk_floats > 0 ? o->chunk_floats : DEFAULT_CHUNK;
  int64_t pc = budget / ((int64_t)K * (2 * (h1 > h3 ? h1 : h3) + h2 + C) + h2), qc = budget / G;
  pc = pc < 1 ? 1 : pc > G ? G : pc;
  qc = qc < 1 ? 1 : qc > G ? G : qc;
  mae_config gc = *c;
  gc.ngroups = G, gc.group_size = K;
  ad3d_status st = AD3D_OK;
  float *neigh = malloc(sizeof(float) * (size_t)G * K * 3);
  float *pes = malloc(sizeof(float) * (size_t)patch_scratch(c, pc, K));
  int *arg = malloc(sizeof(int) * (size_t)pc * (h2 > C ? h2 : C));
  float *x = malloc(sizeof(float) * (size_t)G * C), *pos = malloc(sizeof(float) * (size_t)G * C);
  float *x0 = malloc(sizeof(float) * (size_t)G * C), *ln = malloc(sizeof(float) * (size_t)G * C);
  float *qkv = malloc(sizeof(float) * (size_t)G * 3 * C), *y = malloc(sizeof(float) * (size_t)G * C);
  float *hid = malloc(sizeof(float) * (size_t)G * (F > pd ? F : pd)), *S = malloc(sizeof(float) * (size_t)qc * G);
  float *mean = malloc(sizeof(float) * (size_t)G), *rstd = malloc(sizeof(float) * (size_t)G);
  if (!neigh || !pes || !arg || !x || !pos || !x0 || !ln || !qkv || !y || !hid || !S || !mean || !rstd) {
    st = ad3d_fail(AD3D_ENOMEM, "Point-MAE features: out of memory for %d patches of %d points", G, K);
    goto cleanup;
  }
  if ((st = mae_group(&gc, pts, n, neigh, centers)))
    goto cleanup;
  patch_encoder(m, neigh, G, K, pc, pes, arg, x);
  /* position embedding of the centres: (G, 3) -> GELU(G, pd) -> (G, C) */
  linear_forward(ln, centers, p->pos_fc1_w, p->pos_fc1_b, G, 3, pd);
  gelu_forward(hid, ln, (int64_t)G * pd);
  linear_forward(pos, hid, p->pos_fc2_w, p->pos_fc2_b, G, pd, C);
  for (int l = 0, next = 0; l <= last; l++) {
    const size_t lc = (size_t)l * C, lf = (size_t)l * F;
    residual_forward(x0, x, pos, (int64_t)G * C);
    layernorm_forward(ln, mean, rstd, x0, p->enc_ln1_w + lc, p->enc_ln1_b + lc, G, C);
    linear_forward(qkv, ln, p->enc_qkv_w + lc * 3 * C, NULL, G, C, 3 * C);
    attention_chunked(y, qkv, G, C, c->heads, qc, S);
    linear_forward(ln, y, p->enc_proj_w + lc * C, p->enc_proj_b + lc, G, C, C);
    residual_forward(x0, x0, ln, (int64_t)G * C); /* x1 */
    layernorm_forward(ln, mean, rstd, x0, p->enc_ln2_w + lc, p->enc_ln2_b + lc, G, C);
    linear_forward(hid, ln, p->enc_fc1_w + lf * C, p->enc_fc1_b + lf, G, C, F);
    gelu_forward(hid, hid, (int64_t)G * F);
    linear_forward(y, hid, p->enc_fc2_w + lc * F, p->enc_fc2_b + lc, G, F, C);
    residual_forward(x, x0, y, (int64_t)G * C); /* x2: the block's output, the next block's input */
    if (l == o->blocks[next]) {
      layernorm_forward(ln, mean, rstd, x, p->enc_norm_w, p->enc_norm_b, G, C);
      for (int g = 0; g < G; g++)
        memcpy(feat + (size_t)g * D + (size_t)next * C, ln + (size_t)g * C, sizeof(float) * (size_t)C);
      next++;
    }
  }
cleanup:
  free(neigh);
  free(pes);
  free(arg);
  free(x);
  free(pos);
  free(x0);
  free(ln);
  free(qkv);
  free(y);
  free(hid);
  free(S);
  free(mean);
  free(rstd);
  return st;
}
