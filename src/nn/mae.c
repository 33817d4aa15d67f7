/* mae.c - Point-MAE: configuration, memory layout, initialisation, grouping, forward, backward, AdamW.
 *
 * The forward calls the layers of ops.h in a fixed order; the backward walks them in reverse. Every
 * activation the backward needs is kept in m->acts (one allocation, layout from MAE_ACTS); the gradients
 * of the activations live in m->dacts with the same layout and are cleared at the start of each backward.
 * Not here: data loading, augmentation, training loops, checkpoints (other layers).
 */
#include "nn/mae.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geom/kdtree.h"
#include "geom/sampling.h"
#include "nn/ops.h"

#define BN_MOMENTUM 0.1f
#define BN_EPS 1e-5f
#define ADAM_BETA1 0.9f
#define ADAM_BETA2 0.999f
#define ADAM_EPS 1e-8f

/* ---- configuration ------------------------------------------------------------------------------------- */

mae_config mae_config_default(void) {
  mae_config c = {.npoints = 1024,
                  .ngroups = 64,
                  .group_size = 32,
                  .width = 384,
                  .depth = 12,
                  .heads = 6,
                  .decoder_depth = 4,
                  .decoder_heads = 6,
                  .mlp_ratio = 4,
                  .pe_dim1 = 128,
                  .pe_dim2 = 256,
                  .pe_dim3 = 512,
                  .pos_dim = 128,
                  .mask_ratio = 0.6,
                  .drop_path_rate = 0.1};
  return c;
}

mae_config mae_config_small(void) {
  mae_config c = mae_config_default();
  c.width = 128;
  c.depth = 4;
  c.heads = 4;
  c.decoder_depth = 2;
  c.decoder_heads = 4;
  c.pe_dim1 = 32;
  c.pe_dim2 = 64;
  c.pe_dim3 = 128;
  c.pos_dim = 64;
  return c;
}

int mae_num_masked(const mae_config *c) { return (int)floor(c->mask_ratio * c->ngroups); }

ad3d_status mae_config_check(const mae_config *c) {
  struct {
    const char *name;
    int v;
  } pos[] = {{"npoints", c->npoints},     {"ngroups", c->ngroups},
             {"group_size", c->group_size}, {"width", c->width},
             {"depth", c->depth},         {"heads", c->heads},
             {"decoder_depth", c->decoder_depth}, {"decoder_heads", c->decoder_heads},
             {"mlp_ratio", c->mlp_ratio}, {"pe_dim1", c->pe_dim1},
             {"pe_dim2", c->pe_dim2},     {"pe_dim3", c->pe_dim3},
             {"pos_dim", c->pos_dim}};
  for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++)
    if (pos[i].v < 1)
      return ad3d_fail(AD3D_EINVAL, "mae config: %s = %d, must be >= 1", pos[i].name, pos[i].v);
  if (c->width % c->heads)
    return ad3d_fail(AD3D_EINVAL, "mae config: width %d is not a multiple of heads %d", c->width, c->heads);
  if (c->width % c->decoder_heads)
    return ad3d_fail(AD3D_EINVAL, "mae config: width %d is not a multiple of decoder_heads %d", c->width,
                     c->decoder_heads);
  if (c->ngroups > c->npoints || c->group_size > c->npoints)
    return ad3d_fail(AD3D_EINVAL, "mae config: %d groups of %d points need at least that many of npoints = %d",
                     c->ngroups, c->group_size, c->npoints);
  if (!(c->mask_ratio >= 0.0 && c->mask_ratio < 1.0) || mae_num_masked(c) >= c->ngroups)
    return ad3d_fail(AD3D_EINVAL, "mae config: mask_ratio %g must be in [0, 1) and leave a visible patch",
                     c->mask_ratio);
  if (!(c->drop_path_rate >= 0.0 && c->drop_path_rate < 1.0))
    return ad3d_fail(AD3D_EINVAL, "mae config: drop_path_rate %g must be in [0, 1)", c->drop_path_rate);
  return AD3D_OK;
}

/* ---- layout ---------------------------------------------------------------------------------------------- */

/* The size names of the X-macros, from a config. */
#define CFG_DIMS(c)                                                                                        \
  const int64_t h1 = (c)->pe_dim1, h2 = (c)->pe_dim2, h3 = (c)->pe_dim3, pd = (c)->pos_dim, C = (c)->width, \
                F = (int64_t)(c)->mlp_ratio * (c)->width, K = (c)->group_size, D = (c)->depth,               \
                Dd = (c)->decoder_depth, G = (c)->ngroups, H = (c)->heads, Hd = (c)->decoder_heads;          \
  (void)h1, (void)h2, (void)h3, (void)pd, (void)C, (void)F, (void)K, (void)D, (void)Dd, (void)G, (void)H, (void)Hd

static void param_table(const mae_config *cfg, mae_tensor_info *info, size_t *total) {
  CFG_DIMS(cfg);
  size_t off = 0;
  int i = 0;
#define X(name_, ndim_, d0, d1, d2, decay_)                                                                    \
  info[i] = (mae_tensor_info){                                                                               \
      .name = #name_, .ndim = ndim_, .dims = {d0, d1, d2}, .offset = off, .size = (size_t)(d0) * (d1) * (d2), \
      .decay = decay_};                                                                                      \
  off += info[i].size;                                                                                       \
  i++;
  MAE_PARAMS(X)
#undef X
  *total = off;
}

static void buffer_table(const mae_config *cfg, mae_tensor_info *info, size_t *total) {
  CFG_DIMS(cfg);
  size_t off = 0;
  int i = 0;
#define X(name_, n)                                                                                      \
  info[i] = (mae_tensor_info){.name = #name_, .ndim = 1, .dims = {n, 1, 1}, .offset = off, .size = (size_t)(n)}; \
  off += info[i].size;                                                                                   \
  i++;
  MAE_BUFFERS(X)
#undef X
  *total = off;
}

static void point_params(mae_params *p, float *base, const mae_tensor_info *info) {
  int i = 0;
#define X(name, ndim, d0, d1, d2, decay) p->name = base + info[i++].offset;
  MAE_PARAMS(X)
#undef X
}

static void point_buffers(mae_buffers *b, float *base, const mae_tensor_info *info) {
  int i = 0;
#define X(name, n) b->name = base + info[i++].offset;
  MAE_BUFFERS(X)
#undef X
}

/* Point a (when base != NULL) into base for a forward of B clouds with V visible and M masked patches;
 * returns the bytes needed. Each array starts on a 64-byte boundary. */
static size_t acts_layout(mae_acts *a, char *base, const mae_config *cfg, int64_t B, int64_t V, int64_t M) {
  CFG_DIMS(cfg);
  const int64_t R = B * G * K, P = B * G;
  (void)R, (void)P;
  size_t off = 0;
#define X(type, name, n)                                                 \
  if (base)                                                              \
    a->name = (type *)(void *)(base + off);                              \
  off += ((size_t)(n) * sizeof(type) + 63) / 64 * 64;
  MAE_ACTS(X)
#undef X
  return off;
}

const mae_tensor_info *mae_param_info(const mae_model *m, int i) {
  ASSERT(i >= 0 && i < MAE_NUM_PARAMS);
  return &m->pinfo[i];
}

const mae_tensor_info *mae_buffer_info(const mae_model *m, int i) {
  ASSERT(i >= 0 && i < MAE_NUM_BUFFERS);
  return &m->binfo[i];
}

int mae_param_find(const char *name) {
  static const char *names[] = {
#define X(name_, ndim, d0, d1, d2, decay) #name_,
      MAE_PARAMS(X)
#undef X
  };
  for (int i = 0; i < MAE_NUM_PARAMS; i++)
    if (strcmp(names[i], name) == 0)
      return i;
  return -1;
}

int mae_buffer_find(const char *name) {
  static const char *names[] = {
#define X(name_, n) #name_,
      MAE_BUFFERS(X)
#undef X
  };
  for (int i = 0; i < MAE_NUM_BUFFERS; i++)
    if (strcmp(names[i], name) == 0)
      return i;
  return -1;
}

/* ---- initialisation ------------------------------------------------------------------------------------------ */

/* timm's trunc_normal_(std) with bounds [-2, 2] (absolute, i.e. 100 standard deviations at 0.02). */
static void init_trunc_normal(float *w, size_t n, double sd, rng_t *rng) {
  for (size_t i = 0; i < n; i++) {
    double x;
    do
      x = sd * rng_normal(rng);
    while (x < -2.0 || x > 2.0);
    w[i] = (float)x;
  }
}

static void init_uniform(float *w, size_t n, double bound, rng_t *rng) {
  for (size_t i = 0; i < n; i++)
    w[i] = (float)((2.0 * rng_uniform(rng) - 1.0) * bound);
}

static void init_fill(float *w, size_t n, float v) {
  for (size_t i = 0; i < n; i++)
    w[i] = v;
}

static void init_weights(mae_model *m, rng_t *rng) {
  const mae_tensor_info *in = m->pinfo;
  for (int i = 0; i < MAE_NUM_PARAMS; i++) {
    const mae_tensor_info *t = &in[i];
    float *w = m->params_mem + t->offset;
    const char *n = t->name;
    size_t len = strlen(n);
    int is_bias = len >= 2 && strcmp(n + len - 2, "_b") == 0;
    int is_norm = strstr(n, "_ln") || strstr(n, "_norm_") || strstr(n, "_bn");
    /* fan_in / fan_out of one (out, in) matrix of the stack */
    int64_t rows = t->ndim == 3 ? t->dims[1] : t->dims[0], cols = t->ndim == 3 ? t->dims[2] : t->dims[1];
    if (is_norm) {
      init_fill(w, t->size, is_bias ? 0.0f : 1.0f);
    } else if (i == MAE_P_mask_token) {
      init_trunc_normal(w, t->size, 0.02, rng);
    } else if (strncmp(n, "dpos_", 5) == 0 || strncmp(n, "head_", 5) == 0) {
      /* PyTorch's default Linear / Conv1d init: U(+-1/sqrt(fan_in)) for weight and bias */
      int64_t fan_in = is_bias ? m->pinfo[i - 1].dims[1] : cols;
      init_uniform(w, t->size, 1.0 / sqrt((double)fan_in), rng);
    } else if (strncmp(n, "dec_", 4) == 0) {
      if (is_bias)
        init_fill(w, t->size, 0.0f);
      else
        init_uniform(w, t->size, sqrt(6.0 / (double)(rows + cols)), rng);
    } else {
      if (is_bias)
        init_fill(w, t->size, 0.0f);
      else
        init_trunc_normal(w, t->size, 0.02, rng);
    }
  }
  for (int i = 0; i < MAE_NUM_BUFFERS; i++) {
    const mae_tensor_info *t = &m->binfo[i];
    init_fill(m->bufs_mem + t->offset, t->size, strstr(t->name, "_var") ? 1.0f : 0.0f);
  }
}

ad3d_status mae_init(mae_model **out, const mae_config *cfg, rng_t *rng) {
  *out = NULL;
  TRY(mae_config_check(cfg));
  mae_model *m = calloc(1, sizeof *m);
  if (!m)
    return ad3d_fail(AD3D_ENOMEM, "mae_init: out of memory");
  m->cfg = *cfg;
  param_table(cfg, m->pinfo, &m->nparams);
  buffer_table(cfg, m->binfo, &m->nbufs);
  m->params_mem = calloc(m->nparams, sizeof(float));
  m->grads_mem = calloc(m->nparams, sizeof(float));
  m->m_mem = calloc(m->nparams, sizeof(float));
  m->v_mem = calloc(m->nparams, sizeof(float));
  m->bufs_mem = calloc(m->nbufs, sizeof(float));
  if (!m->params_mem || !m->grads_mem || !m->m_mem || !m->v_mem || !m->bufs_mem) {
    size_t n = m->nparams;
    mae_free(m);
    return ad3d_fail(AD3D_ENOMEM, "mae_init: out of memory for %zu parameters", n);
  }
  point_params(&m->params, m->params_mem, m->pinfo);
  point_params(&m->grads, m->grads_mem, m->pinfo);
  point_buffers(&m->bufs, m->bufs_mem, m->binfo);
  init_weights(m, rng);
  *out = m;
  return AD3D_OK;
}

void mae_free(mae_model *m) {
  if (!m)
    return;
  free(m->params_mem);
  free(m->grads_mem);
  free(m->m_mem);
  free(m->v_mem);
  free(m->bufs_mem);
  free(m->acts_mem);
  free(m->dacts_mem);
  free(m);
}

/* ---- grouping and masking ------------------------------------------------------------------------------------- */

ad3d_status mae_group(const mae_config *cfg, const float *pts, int64_t n, float *neigh, float *centers) {
  const int G = cfg->ngroups, K = cfg->group_size;
  if (n < G || n < K)
    return ad3d_fail(AD3D_EINVAL, "mae_group: %lld points cannot make %d groups of %d", (long long)n, G, K);
  ad3d_status st = AD3D_OK;
  kdtree *t = NULL;
  int64_t *cidx = malloc(sizeof *cidx * (size_t)G), *nidx = malloc(sizeof *nidx * (size_t)G * K);
  if (!cidx || !nidx) {
    st = ad3d_fail(AD3D_ENOMEM, "mae_group: out of memory");
    goto cleanup;
  }
  if ((st = sample_fps(pts, n, G, 0, cidx)) != AD3D_OK)
    goto cleanup;
  sample_gather(pts, cidx, G, centers);
  if ((st = kdtree_build(pts, n, &t)) != AD3D_OK)
    goto cleanup;
  if ((st = sample_group_knn(t, centers, G, K, nidx)) != AD3D_OK)
    goto cleanup;
  for (int g = 0; g < G; g++)
    for (int k = 0; k < K; k++)
      for (int d = 0; d < 3; d++)
        neigh[((size_t)g * K + k) * 3 + d] = pts[nidx[(size_t)g * K + k] * 3 + d] - centers[g * 3 + d];
cleanup:
  kdtree_free(t);
  free(cidx);
  free(nidx);
  return st;
}

void mae_mask_random(uint8_t *mask, int B, int G, int M, rng_t *rng) {
  ASSERT(M >= 0 && M <= G);
  for (int b = 0; b < B; b++) {
    uint8_t *row = mask + (size_t)b * G;
    for (int g = 0; g < G; g++)
      row[g] = g >= G - M;
    for (int i = G - 1; i > 0; i--) {
      int j = (int)rng_below(rng, (uint64_t)i + 1);
      uint8_t tmp = row[i];
      row[i] = row[j];
      row[j] = tmp;
    }
  }
}

/* ---- transformer blocks -------------------------------------------------------------------------------------- */

typedef struct {
  float *ln1_w, *ln1_b, *qkv_w, *proj_w, *proj_b, *ln2_w, *ln2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
} block_params;

typedef struct {
  float *x0, *ln1, *ln1_mean, *ln1_rstd, *qkv, *att, *atty, *proj, *x1, *ln2, *ln2_mean, *ln2_rstd, *fc1, *gelu,
      *fc2, *x2, *dp;
} block_acts;

/* Block l of the stack `pre` of the parameter struct ps. */
#define BLOCK_PARAMS_AT(v, ps, pre, l, C, F)                 \
  do {                                                       \
    size_t l_ = (size_t)(l);                                 \
    (v).ln1_w = (ps)->pre##_ln1_w + l_ * (C);                \
    (v).ln1_b = (ps)->pre##_ln1_b + l_ * (C);                \
    (v).qkv_w = (ps)->pre##_qkv_w + l_ * 3 * (C) * (C);      \
    (v).proj_w = (ps)->pre##_proj_w + l_ * (C) * (C);        \
    (v).proj_b = (ps)->pre##_proj_b + l_ * (C);              \
    (v).ln2_w = (ps)->pre##_ln2_w + l_ * (C);                \
    (v).ln2_b = (ps)->pre##_ln2_b + l_ * (C);                \
    (v).fc1_w = (ps)->pre##_fc1_w + l_ * (F) * (C);          \
    (v).fc1_b = (ps)->pre##_fc1_b + l_ * (F);                \
    (v).fc2_w = (ps)->pre##_fc2_w + l_ * (C) * (F);          \
    (v).fc2_b = (ps)->pre##_fc2_b + l_ * (C);                \
  } while (0)

/* Block l of the stack `pre` of the activation struct as, for B sequences of L tokens with NH heads. */
#define BLOCK_ACTS_AT(v, as, pre, l, B, L, NH, C, F)              \
  do {                                                            \
    size_t l_ = (size_t)(l), T_ = (size_t)(B) * (L);              \
    (v).x0 = (as)->pre##_x0 + l_ * T_ * (C);                      \
    (v).ln1 = (as)->pre##_ln1 + l_ * T_ * (C);                    \
    (v).ln1_mean = (as)->pre##_ln1_mean + l_ * T_;                \
    (v).ln1_rstd = (as)->pre##_ln1_rstd + l_ * T_;                \
    (v).qkv = (as)->pre##_qkv + l_ * T_ * 3 * (C);                \
    (v).att = (as)->pre##_att + l_ * (size_t)(B) * (NH) * (L) * (L); \
    (v).atty = (as)->pre##_atty + l_ * T_ * (C);                  \
    (v).proj = (as)->pre##_proj + l_ * T_ * (C);                  \
    (v).x1 = (as)->pre##_x1 + l_ * T_ * (C);                      \
    (v).ln2 = (as)->pre##_ln2 + l_ * T_ * (C);                    \
    (v).ln2_mean = (as)->pre##_ln2_mean + l_ * T_;                \
    (v).ln2_rstd = (as)->pre##_ln2_rstd + l_ * T_;                \
    (v).fc1 = (as)->pre##_fc1 + l_ * T_ * (F);                    \
    (v).gelu = (as)->pre##_gelu + l_ * T_ * (F);                  \
    (v).fc2 = (as)->pre##_fc2 + l_ * T_ * (C);                    \
    (v).x2 = (as)->pre##_x2 + l_ * T_ * (C);                      \
    (v).dp = (as)->pre##_dp + l_ * 2 * (size_t)(B);               \
  } while (0)

/* x (B, L, C), pos (B, L, C) -> a->x2 (B, L, C); a->dp (2 B) already drawn. */
static void block_forward(const block_params *p, const block_acts *a, const float *x, const float *pos, int B, int L,
                          int C, int H, int F) {
  const int64_t T = (int64_t)B * L;
  residual_forward(a->x0, x, pos, T * C);
  layernorm_forward(a->ln1, a->ln1_mean, a->ln1_rstd, a->x0, p->ln1_w, p->ln1_b, T, C);
  linear_forward(a->qkv, a->ln1, p->qkv_w, NULL, T, C, 3 * C);
  attention_forward(a->atty, a->att, a->qkv, B, L, C, H);
  linear_forward(a->proj, a->atty, p->proj_w, p->proj_b, T, C, C);
  droppath_residual_forward(a->x1, a->x0, a->proj, a->dp, B, (int64_t)L * C);
  layernorm_forward(a->ln2, a->ln2_mean, a->ln2_rstd, a->x1, p->ln2_w, p->ln2_b, T, C);
  linear_forward(a->fc1, a->ln2, p->fc1_w, p->fc1_b, T, C, F);
  gelu_forward(a->gelu, a->fc1, T * F);
  linear_forward(a->fc2, a->gelu, p->fc2_w, p->fc2_b, T, F, C);
  droppath_residual_forward(a->x2, a->x1, a->fc2, a->dp + B, B, (int64_t)L * C);
}

/* From d->x2 (the gradient of the block's output): parameter gradients into g, dx (B, L, C) += and
 * dpos (B, L, C) += ; d's other arrays are this block's activation gradients (zeroed beforehand). */
static void block_backward(const block_params *p, const block_params *g, const block_acts *a, const block_acts *d,
                           float *dx, float *dpos, int B, int L, int C, int H, int F) {
  const int64_t T = (int64_t)B * L;
  droppath_residual_backward(d->x1, d->fc2, d->x2, a->dp + B, B, (int64_t)L * C);
  linear_backward(d->gelu, g->fc2_w, g->fc2_b, d->fc2, a->gelu, p->fc2_w, T, F, C);
  gelu_backward(d->fc1, d->gelu, a->fc1, T * F);
  linear_backward(d->ln2, g->fc1_w, g->fc1_b, d->fc1, a->ln2, p->fc1_w, T, C, F);
  layernorm_backward(d->x1, g->ln2_w, g->ln2_b, d->ln2, a->x1, a->ln2_mean, a->ln2_rstd, p->ln2_w, T, C);
  droppath_residual_backward(d->x0, d->proj, d->x1, a->dp, B, (int64_t)L * C);
  linear_backward(d->atty, g->proj_w, g->proj_b, d->proj, a->atty, p->proj_w, T, C, C);
  attention_backward(d->qkv, d->att, d->atty, a->qkv, a->att, B, L, C, H);
  linear_backward(d->ln1, g->qkv_w, NULL, d->qkv, a->ln1, p->qkv_w, T, C, 3 * C);
  layernorm_backward(d->x0, g->ln1_w, g->ln1_b, d->ln1, a->x0, a->ln1_mean, a->ln1_rstd, p->ln1_w, T, C);
  residual_backward(dx, dpos, d->x0, T * C);
}

/* Position MLP: cent (T, 3) -> h (T, pd) -> a = GELU(h) -> out (T, C). */
static void pos_forward(float *out, float *h, float *a, const float *cent, const float *w1, const float *b1,
                        const float *w2, const float *b2, int64_t T, int pd, int C) {
  linear_forward(h, cent, w1, b1, T, 3, pd);
  gelu_forward(a, h, T * pd);
  linear_forward(out, a, w2, b2, T, pd, C);
}

/* dout (T, C) -> parameter gradients (the centres take no gradient); dh, da: zeroed scratch (T, pd). */
static void pos_backward(float *dw1, float *db1, float *dw2, float *db2, float *dh, float *da, const float *dout,
                         const float *cent, const float *h, const float *a, const float *w2, int64_t T, int pd, int C) {
  linear_backward(da, dw2, db2, dout, a, w2, T, pd, C);
  gelu_backward(dh, da, h, T * pd);
  linear_backward(NULL, dw1, db1, dh, cent, NULL, T, 3, pd);
}

/* ---- forward --------------------------------------------------------------------------------------------------- */

/* Per-block drop-path rates linspace(0, rate, n). */
static float dp_rate(double rate, int l, int n) { return n > 1 ? (float)(rate * l / (n - 1)) : 0.0f; }

static ad3d_status ensure_acts(mae_model *m, int B, int V, int M) {
  size_t need = acts_layout(NULL, NULL, &m->cfg, B, V, M);
  if (need > m->acts_cap) {
    free(m->acts_mem);
    free(m->dacts_mem);
    m->acts_mem = malloc(need);
    m->dacts_mem = malloc(need);
    m->acts_cap = m->acts_mem && m->dacts_mem ? need : 0;
    if (!m->acts_cap) {
      free(m->acts_mem);
      free(m->dacts_mem);
      m->acts_mem = m->dacts_mem = NULL;
      m->B = 0;
      return ad3d_fail(AD3D_ENOMEM, "mae_forward: out of memory for %zu bytes of activations (batch %d)", 2 * need,
                       B);
    }
  }
  acts_layout(&m->acts, m->acts_mem, &m->cfg, B, V, M);
  acts_layout(&m->dacts, m->dacts_mem, &m->cfg, B, V, M);
  m->acts_bytes = need;
  m->B = B;
  m->V = V;
  m->M = M;
  return AD3D_OK;
}

ad3d_status mae_forward(mae_model *m, const float *neigh, const float *centers, const uint8_t *mask, int B,
                        int train, rng_t *rng, float *loss) {
  const mae_config *cfg = &m->cfg;
  const int G = cfg->ngroups, K = cfg->group_size, C = cfg->width, F = cfg->mlp_ratio * cfg->width;
  const int h1 = cfg->pe_dim1, h2 = cfg->pe_dim2, h3 = cfg->pe_dim3, pd = cfg->pos_dim;
  m->have_forward = 0;
  if (B < 1)
    return ad3d_fail(AD3D_EINVAL, "mae_forward: batch %d < 1", B);
  int M = 0;
  for (int g = 0; g < G; g++)
    M += mask[g] != 0;
  for (int b = 1; b < B; b++) {
    int Mb = 0;
    for (int g = 0; g < G; g++)
      Mb += mask[(size_t)b * G + g] != 0;
    if (Mb != M)
      return ad3d_fail(AD3D_EINVAL, "mae_forward: mask row %d has %d masked patches, row 0 has %d", b, Mb, M);
  }
  const int V = G - M;
  if (V < 1)
    return ad3d_fail(AD3D_EINVAL, "mae_forward: the mask leaves no visible patch");
  if (train && (int64_t)B * G * K < 2)
    return ad3d_fail(AD3D_EINVAL, "mae_forward: BatchNorm batch statistics need at least 2 points, got %d",
                     B * G * K);
  if (train && cfg->drop_path_rate > 0.0 && !rng)
    return ad3d_fail(AD3D_EINVAL, "mae_forward: training with drop-path needs an rng");
  TRY(ensure_acts(m, B, V, M));
  mae_acts *a = &m->acts;
  const mae_params *p = &m->params;
  const int64_t R = (int64_t)B * G * K, P = (int64_t)B * G;

  memcpy(a->neigh, neigh, sizeof(float) * (size_t)R * 3);
  memcpy(a->centers, centers, sizeof(float) * (size_t)P * 3);
  for (int b = 0; b < B; b++) {
    int nv = 0, nm = 0;
    for (int g = 0; g < G; g++) {
      if (mask[(size_t)b * G + g])
        a->msk[(size_t)b * M + nm++] = g;
      else
        a->vis[(size_t)b * V + nv++] = g;
    }
  }

  /* patch encoder on all B*G patches */
  linear_forward(a->pe_h1, a->neigh, p->pe_conv1_w, p->pe_conv1_b, R, 3, h1);
  batchnorm_relu_forward(a->pe_a1, a->pe_bn1_mean, a->pe_bn1_rstd, a->pe_h1, p->pe_bn1_w, p->pe_bn1_b,
                         m->bufs.pe_bn1_mean, m->bufs.pe_bn1_var, R, h1, BN_MOMENTUM, BN_EPS, train);
  linear_forward(a->pe_h2, a->pe_a1, p->pe_conv2_w, p->pe_conv2_b, R, h1, h2);
  maxpool_forward(a->pe_g2, a->pe_arg2, a->pe_h2, P, K, h2);
  concat_linear_forward(a->pe_h3, a->pe_g2, a->pe_h2, p->pe_conv3_w, p->pe_conv3_b, P, K, h2, h2, h3);
  batchnorm_relu_forward(a->pe_a3, a->pe_bn2_mean, a->pe_bn2_rstd, a->pe_h3, p->pe_bn2_w, p->pe_bn2_b,
                         m->bufs.pe_bn2_mean, m->bufs.pe_bn2_var, R, h3, BN_MOMENTUM, BN_EPS, train);
  linear_forward(a->pe_h4, a->pe_a3, p->pe_conv4_w, p->pe_conv4_b, R, h3, C);
  maxpool_forward(a->tokens, a->pe_arg4, a->pe_h4, P, K, C);

  /* encoder on the visible tokens */
  const int64_t Tv = (int64_t)B * V;
  for (int b = 0; b < B; b++)
    for (int j = 0; j < V; j++) {
      size_t src = (size_t)b * G + a->vis[(size_t)b * V + j], dst = (size_t)b * V + j;
      memcpy(a->enc_in + dst * C, a->tokens + src * C, sizeof(float) * (size_t)C);
      memcpy(a->enc_cent + dst * 3, a->centers + src * 3, sizeof(float) * 3);
    }
  pos_forward(a->enc_pos, a->enc_pos_h, a->enc_pos_a, a->enc_cent, p->pos_fc1_w, p->pos_fc1_b, p->pos_fc2_w,
              p->pos_fc2_b, Tv, pd, C);
  const float *x = a->enc_in;
  for (int l = 0; l < cfg->depth; l++) {
    block_params bp;
    block_acts ba;
    BLOCK_PARAMS_AT(bp, p, enc, l, C, F);
    BLOCK_ACTS_AT(ba, a, enc, l, B, V, cfg->heads, C, F);
    float rate = dp_rate(cfg->drop_path_rate, l, cfg->depth);
    droppath_draw(ba.dp, B, rate, train, rng);
    droppath_draw(ba.dp + B, B, rate, train, rng);
    block_forward(&bp, &ba, x, a->enc_pos, B, V, C, cfg->heads, F);
    x = ba.x2;
  }
  layernorm_forward(a->enc_out, a->enc_norm_mean, a->enc_norm_rstd, x, p->enc_norm_w, p->enc_norm_b, Tv, C);

  /* decoder on [visible, mask tokens] per cloud */
  for (int b = 0; b < B; b++)
    for (int j = 0; j < G; j++) {
      size_t dst = (size_t)b * G + j;
      int gi = j < V ? a->vis[(size_t)b * V + j] : a->msk[(size_t)b * M + (j - V)];
      memcpy(a->dec_cent + dst * 3, a->centers + ((size_t)b * G + gi) * 3, sizeof(float) * 3);
      const float *src = j < V ? a->enc_out + ((size_t)b * V + j) * C : p->mask_token;
      memcpy(a->dec_in + dst * C, src, sizeof(float) * (size_t)C);
    }
  pos_forward(a->dec_pos, a->dec_pos_h, a->dec_pos_a, a->dec_cent, p->dpos_fc1_w, p->dpos_fc1_b, p->dpos_fc2_w,
              p->dpos_fc2_b, P, pd, C);
  x = a->dec_in;
  for (int l = 0; l < cfg->decoder_depth; l++) {
    block_params bp;
    block_acts ba;
    BLOCK_PARAMS_AT(bp, p, dec, l, C, F);
    BLOCK_ACTS_AT(ba, a, dec, l, B, G, cfg->decoder_heads, C, F);
    float rate = dp_rate(cfg->drop_path_rate, l, cfg->decoder_depth);
    droppath_draw(ba.dp, B, rate, train, rng);
    droppath_draw(ba.dp + B, B, rate, train, rng);
    block_forward(&bp, &ba, x, a->dec_pos, B, G, C, cfg->decoder_heads, F);
    x = ba.x2;
  }
  float lossv = 0.0f;
  if (M > 0) {
    for (int b = 0; b < B; b++)
      layernorm_forward(a->dec_out + (size_t)b * M * C, a->dec_norm_mean + (size_t)b * M,
                        a->dec_norm_rstd + (size_t)b * M, x + ((size_t)b * G + V) * C, p->dec_norm_w, p->dec_norm_b,
                        M, C);
    const int64_t Tm = (int64_t)B * M;
    linear_forward(a->pred, a->dec_out, p->head_w, p->head_b, Tm, C, 3 * K);
    for (int b = 0; b < B; b++)
      for (int j = 0; j < M; j++)
        memcpy(a->gt + ((size_t)b * M + j) * K * 3, a->neigh + ((size_t)b * G + a->msk[(size_t)b * M + j]) * K * 3,
               sizeof(float) * (size_t)K * 3);
    lossv = chamfer_l2_forward(a->ch_idx1, a->ch_idx2, a->pred, a->gt, Tm, K, K);
  }
  m->loss = lossv;
  m->train = train;
  m->have_forward = 1;
  if (loss)
    *loss = lossv;
  if (!isfinite(lossv))
    return ad3d_fail(AD3D_ENUMERIC, "mae_forward: loss is %g", (double)lossv);
  return AD3D_OK;
}

/* ---- backward -------------------------------------------------------------------------------------------------- */

void mae_zero_grad(mae_model *m) { memset(m->grads_mem, 0, sizeof(float) * m->nparams); }

ad3d_status mae_backward(mae_model *m) {
  if (!m->have_forward)
    return ad3d_fail(AD3D_EINVAL, "mae_backward: no forward to differentiate");
  const mae_config *cfg = &m->cfg;
  const int B = m->B, V = m->V, M = m->M;
  const int G = cfg->ngroups, K = cfg->group_size, C = cfg->width, F = cfg->mlp_ratio * cfg->width;
  const int h1 = cfg->pe_dim1, h2 = cfg->pe_dim2, h3 = cfg->pe_dim3, pd = cfg->pos_dim;
  const int64_t R = (int64_t)B * G * K, P = (int64_t)B * G, Tv = (int64_t)B * V, Tm = (int64_t)B * M;
  const mae_acts *a = &m->acts;
  mae_acts *d = &m->dacts;
  const mae_params *p = &m->params;
  mae_params *g = &m->grads;
  memset(m->dacts_mem, 0, m->acts_bytes);

  /* loss and head -> gradient of the last decoder block's output (masked rows) */
  float *dx_last;
  {
    block_acts last;
    BLOCK_ACTS_AT(last, d, dec, cfg->decoder_depth - 1, B, G, cfg->decoder_heads, C, F);
    dx_last = last.x2;
  }
  const float *x_last;
  {
    block_acts last;
    BLOCK_ACTS_AT(last, a, dec, cfg->decoder_depth - 1, B, G, cfg->decoder_heads, C, F);
    x_last = last.x2;
  }
  if (M > 0) {
    chamfer_l2_backward(d->pred, NULL, 1.0f, a->pred, a->gt, a->ch_idx1, a->ch_idx2, Tm, K, K);
    linear_backward(d->dec_out, g->head_w, g->head_b, d->pred, a->dec_out, p->head_w, Tm, C, 3 * K);
    for (int b = 0; b < B; b++)
      layernorm_backward(dx_last + ((size_t)b * G + V) * C, g->dec_norm_w, g->dec_norm_b,
                         d->dec_out + (size_t)b * M * C, x_last + ((size_t)b * G + V) * C,
                         a->dec_norm_mean + (size_t)b * M, a->dec_norm_rstd + (size_t)b * M, p->dec_norm_w, M, C);
  }

  /* decoder blocks, last to first */
  for (int l = cfg->decoder_depth - 1; l >= 0; l--) {
    block_params bp, bg;
    block_acts ba, bd, prev;
    BLOCK_PARAMS_AT(bp, p, dec, l, C, F);
    BLOCK_PARAMS_AT(bg, g, dec, l, C, F);
    BLOCK_ACTS_AT(ba, a, dec, l, B, G, cfg->decoder_heads, C, F);
    BLOCK_ACTS_AT(bd, d, dec, l, B, G, cfg->decoder_heads, C, F);
    float *dx = d->dec_in;
    if (l > 0) {
      BLOCK_ACTS_AT(prev, d, dec, l - 1, B, G, cfg->decoder_heads, C, F);
      dx = prev.x2;
    }
    block_backward(&bp, &bg, &ba, &bd, dx, d->dec_pos, B, G, C, cfg->decoder_heads, F);
  }
  pos_backward(g->dpos_fc1_w, g->dpos_fc1_b, g->dpos_fc2_w, g->dpos_fc2_b, d->dec_pos_h, d->dec_pos_a, d->dec_pos,
               a->dec_cent, a->dec_pos_h, a->dec_pos_a, p->dpos_fc2_w, P, pd, C);
  /* decoder input -> encoder output (visible rows) and the mask token (masked rows) */
  for (int b = 0; b < B; b++)
    for (int j = 0; j < G; j++) {
      const float *src = d->dec_in + ((size_t)b * G + j) * C;
      float *dst = j < V ? d->enc_out + ((size_t)b * V + j) * C : g->mask_token;
      for (int c = 0; c < C; c++)
        dst[c] += src[c];
    }

  /* encoder */
  {
    block_acts last_a, last_d;
    BLOCK_ACTS_AT(last_a, a, enc, cfg->depth - 1, B, V, cfg->heads, C, F);
    BLOCK_ACTS_AT(last_d, d, enc, cfg->depth - 1, B, V, cfg->heads, C, F);
    layernorm_backward(last_d.x2, g->enc_norm_w, g->enc_norm_b, d->enc_out, last_a.x2, a->enc_norm_mean,
                       a->enc_norm_rstd, p->enc_norm_w, Tv, C);
  }
  for (int l = cfg->depth - 1; l >= 0; l--) {
    block_params bp, bg;
    block_acts ba, bd, prev;
    BLOCK_PARAMS_AT(bp, p, enc, l, C, F);
    BLOCK_PARAMS_AT(bg, g, enc, l, C, F);
    BLOCK_ACTS_AT(ba, a, enc, l, B, V, cfg->heads, C, F);
    BLOCK_ACTS_AT(bd, d, enc, l, B, V, cfg->heads, C, F);
    float *dx = d->enc_in;
    if (l > 0) {
      BLOCK_ACTS_AT(prev, d, enc, l - 1, B, V, cfg->heads, C, F);
      dx = prev.x2;
    }
    block_backward(&bp, &bg, &ba, &bd, dx, d->enc_pos, B, V, C, cfg->heads, F);
  }
  pos_backward(g->pos_fc1_w, g->pos_fc1_b, g->pos_fc2_w, g->pos_fc2_b, d->enc_pos_h, d->enc_pos_a, d->enc_pos,
               a->enc_cent, a->enc_pos_h, a->enc_pos_a, p->pos_fc2_w, Tv, pd, C);
  for (int b = 0; b < B; b++)
    for (int j = 0; j < V; j++) {
      const float *src = d->enc_in + ((size_t)b * V + j) * C;
      float *dst = d->tokens + ((size_t)b * G + a->vis[(size_t)b * V + j]) * C;
      for (int c = 0; c < C; c++)
        dst[c] += src[c];
    }

  /* patch encoder */
  maxpool_backward(d->pe_h4, d->tokens, a->pe_arg4, P, K, C);
  linear_backward(d->pe_a3, g->pe_conv4_w, g->pe_conv4_b, d->pe_h4, a->pe_a3, p->pe_conv4_w, R, h3, C);
  batchnorm_relu_backward(d->pe_h3, g->pe_bn2_w, g->pe_bn2_b, d->pe_a3, a->pe_a3, a->pe_h3, a->pe_bn2_mean,
                          a->pe_bn2_rstd, p->pe_bn2_w, R, h3, m->train);
  concat_linear_backward(d->pe_g2, d->pe_h2, g->pe_conv3_w, g->pe_conv3_b, d->pe_scratch, d->pe_h3, a->pe_g2,
                         a->pe_h2, p->pe_conv3_w, P, K, h2, h2, h3);
  maxpool_backward(d->pe_h2, d->pe_g2, a->pe_arg2, P, K, h2);
  linear_backward(d->pe_a1, g->pe_conv2_w, g->pe_conv2_b, d->pe_h2, a->pe_a1, p->pe_conv2_w, R, h1, h2);
  batchnorm_relu_backward(d->pe_h1, g->pe_bn1_w, g->pe_bn1_b, d->pe_a1, a->pe_a1, a->pe_h1, a->pe_bn1_mean,
                          a->pe_bn1_rstd, p->pe_bn1_w, R, h1, m->train);
  linear_backward(NULL, g->pe_conv1_w, g->pe_conv1_b, d->pe_h1, a->neigh, p->pe_conv1_w, R, 3, h1);
  return AD3D_OK;
}

/* ---- optimiser ------------------------------------------------------------------------------------------------- */

double mae_grad_norm(const mae_model *m) { return grad_norm(m->grads_mem, m->nparams); }

void mae_adamw_step(mae_model *m, float lr, float weight_decay) {
  m->step++;
  for (int i = 0; i < MAE_NUM_PARAMS; i++) {
    const mae_tensor_info *t = &m->pinfo[i];
    adamw_update(m->params_mem + t->offset, m->grads_mem + t->offset, m->m_mem + t->offset, m->v_mem + t->offset,
                 t->size, lr, ADAM_BETA1, ADAM_BETA2, ADAM_EPS, t->decay ? weight_decay : 0.0f, m->step);
  }
}
