/* train.c - Point-MAE's training loop (one epoch), data parallel through a reduction callback, and
 * fine-tuning. The recipe and the reproducibility contract are in train.h. Not here: MPI (the runner
 * supplies the reduction), checkpoints (store/checkpoint.h), progress printing (the caller's callback).
 */
#include "nn/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "nn/ops.h"

mae_train_opts mae_train_defaults(void) {
  mae_train_opts o = {.epochs = 300,
                      .batch = 128,
                      .micro_batch = 32,
                      .lr = 1e-3,
                      .min_lr = 1e-6,
                      .warmup_lr = 1e-6,
                      .warmup_epochs = 10,
                      .weight_decay = 0.05,
                      .clip = 0.0,
                      .augment = 1,
                      .seed = 0,
                      .group = NULL,
                      .group_ctx = NULL};
  return o;
}

ad3d_status mae_train_check(const mae_train_opts *o) {
  if (o->epochs < 1)
    return ad3d_fail(AD3D_EINVAL, "training: epochs = %d, must be >= 1", o->epochs);
  if (o->batch < 1 || o->micro_batch < 1)
    return ad3d_fail(AD3D_EINVAL, "training: batch %d and micro_batch %d must be >= 1", o->batch, o->micro_batch);
  if (o->batch % o->micro_batch)
    return ad3d_fail(AD3D_EINVAL, "training: micro_batch %d does not divide batch %d", o->micro_batch, o->batch);
  if (!(o->lr > 0) || !(o->min_lr >= 0) || !(o->warmup_lr >= 0) || !isfinite(o->lr))
    return ad3d_fail(AD3D_EINVAL, "training: learning rates lr %g > 0, min_lr %g >= 0, warmup_lr %g >= 0 expected",
                     o->lr, o->min_lr, o->warmup_lr);
  if (o->warmup_epochs < 0)
    return ad3d_fail(AD3D_EINVAL, "training: warmup_epochs = %d, must be >= 0", o->warmup_epochs);
  if (!(o->weight_decay >= 0) || !(o->clip >= 0))
    return ad3d_fail(AD3D_EINVAL, "training: weight_decay %g and clip %g must be >= 0", o->weight_decay, o->clip);
  return AD3D_OK;
}

double mae_train_lr(const mae_train_opts *o, int epoch) {
  return lr_cosine_warmup(epoch, o->lr, o->min_lr, o->warmup_lr, o->warmup_epochs, o->epochs);
}

void mae_reset_optimizer(mae_model *m) {
  memset(m->m_mem, 0, m->nparams * sizeof(float));
  memset(m->v_mem, 0, m->nparams * sizeof(float));
  m->step = 0;
}

/* The permutation of 0..n-1 of an epoch (Fisher-Yates from the stream (seed, "order", epoch)). */
static void epoch_order(int64_t *perm, int64_t n, uint64_t seed, int epoch) {
  char key[64];
  rng_t r;
  snprintf(key, sizeof key, "pretrain/order/%d", epoch);
  rng_seed_key(&r, seed, key);
  for (int64_t i = 0; i < n; i++)
    perm[i] = i;
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)rng_below(&r, (uint64_t)i + 1);
    int64_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}

typedef struct {
  int B, G, K, npoints;
  float *pts;     /* (npoints, 3) */
  float *neigh;   /* (B, G, K, 3) */
  float *centers; /* (B, G, 3) */
  uint8_t *mask;  /* (B, G) */
  float *bufs0;   /* (nbufs) running statistics at the start of the step */
  float *small;   /* (nbufs + 2): summed running statistics, summed loss, failure count */
  int64_t *perm;  /* (corpus size) */
} workspace;

static void workspace_free(workspace *w) {
  free(w->pts);
  free(w->neigh);
  free(w->centers);
  free(w->mask);
  free(w->bufs0);
  free(w->small);
  free(w->perm);
}

static ad3d_status workspace_alloc(workspace *w, const mae_model *m, int B, int64_t n) {
  memset(w, 0, sizeof *w);
  w->B = B, w->G = m->cfg.ngroups, w->K = m->cfg.group_size, w->npoints = m->cfg.npoints;
  w->pts = malloc((size_t)w->npoints * 3 * sizeof(float));
  w->neigh = malloc((size_t)B * w->G * w->K * 3 * sizeof(float));
  w->centers = malloc((size_t)B * w->G * 3 * sizeof(float));
  w->mask = malloc((size_t)B * w->G);
  w->bufs0 = malloc(m->nbufs * sizeof(float));
  w->small = malloc((m->nbufs + 2) * sizeof(float));
  w->perm = malloc((size_t)n * sizeof(int64_t));
  if (!w->pts || !w->neigh || !w->centers || !w->mask || !w->bufs0 || !w->small || !w->perm) {
    workspace_free(w);
    return ad3d_fail(AD3D_ENOMEM, "training: out of memory for a shard of %d clouds", B);
  }
  return AD3D_OK;
}

/* Load and group the clouds of shard `shard` of step `step` into w. */
static ad3d_status shard_inputs(workspace *w, const mae_model *m, const corpus *c, const mae_train_opts *o,
                                int epoch, int step, int shard) {
  for (int j = 0; j < w->B; j++) {
    int64_t pos = (int64_t)step * o->batch + (int64_t)shard * o->micro_batch + j;
    int64_t idx = w->perm[pos];
    char key[96];
    rng_t r;
    snprintf(key, sizeof key, "pretrain/sample/%d/%lld", epoch, (long long)idx);
    rng_seed_key(&r, o->seed, key);
    TRY(corpus_sample(c, idx, w->npoints, &r, w->pts));
    if (o->augment)
      augment_scale_translate(w->pts, w->npoints, &r);
    float *neigh = w->neigh + (size_t)j * w->G * w->K * 3, *centers = w->centers + (size_t)j * w->G * 3;
    ad3d_status st;
    if (o->group) {
      snprintf(key, sizeof key, "pretrain/group/%d/%lld", epoch, (long long)idx);
      rng_seed_key(&r, o->seed, key);
      st = o->group(o->group_ctx, &m->cfg, w->pts, w->npoints, &r, neigh, centers);
    } else {
      st = mae_group(&m->cfg, w->pts, w->npoints, neigh, centers);
    }
    if (st)
      return ad3d_fail_context(st, "training: grouping cloud %lld of epoch %d", (long long)idx, epoch);
  }
  return AD3D_OK;
}

/* One shard's forward and backward (gradients accumulated into m->grads); *loss its Chamfer loss. */
static ad3d_status shard_run(workspace *w, mae_model *m, const mae_train_opts *o, int epoch, int step, int shard,
                             float *loss) {
  char key[96];
  rng_t r;
  snprintf(key, sizeof key, "pretrain/shard/%d/%d/%d", epoch, step, shard);
  rng_seed_key(&r, o->seed, key);
  mae_mask_random(w->mask, w->B, w->G, mae_num_masked(&m->cfg), &r);
  TRY(mae_forward(m, w->neigh, w->centers, w->mask, w->B, 1, &r, loss));
  return mae_backward(m);
}

/* One optimiser step; *loss the mean shard loss over all processes. */
static ad3d_status train_step(workspace *w, mae_model *m, const corpus *c, const mae_train_opts *o, int epoch,
                              int step, const mae_train_comm *comm, float lr, float *loss) {
  const int nshards = o->batch / o->micro_batch;
  const int rank = comm ? comm->rank : 0, size = comm ? comm->size : 1;
  const size_t nb = m->nbufs;
  ad3d_status st = AD3D_OK;
  mae_zero_grad(m);
  memcpy(w->bufs0, m->bufs_mem, nb * sizeof(float));
  memset(w->small, 0, (nb + 2) * sizeof(float));
  for (int s = rank; s < nshards && !st; s += size) {
    float l = 0;
    memcpy(m->bufs_mem, w->bufs0, nb * sizeof(float));
    if ((st = shard_inputs(w, m, c, o, epoch, step, s)) || (st = shard_run(w, m, o, epoch, step, s, &l)))
      break;
    for (size_t i = 0; i < nb; i++)
      w->small[i] += m->bufs_mem[i];
    w->small[nb] += l;
  }
  w->small[nb + 1] = st ? 1.0f : 0.0f;
  if (comm) {
    char own[1024];
    snprintf(own, sizeof own, "%s", st ? ad3d_errmsg() : "");
    ad3d_status rst = comm->allreduce_sum(comm->ctx, w->small, nb + 2);
    if (rst)
      return rst;
    if (w->small[nb + 1] > 0)
      return st ? ad3d_fail(st, "%s", own)
                : ad3d_fail(AD3D_EINTERNAL, "training: another process failed at epoch %d, step %d", epoch, step);
    TRY(comm->allreduce_sum(comm->ctx, m->grads_mem, m->nparams));
  } else if (st) {
    return st;
  }
  const float inv = 1.0f / (float)nshards;
  for (size_t i = 0; i < m->nparams; i++)
    m->grads_mem[i] *= inv;
  for (size_t i = 0; i < nb; i++)
    m->bufs_mem[i] = w->small[i] * inv;
  *loss = w->small[nb] * inv;
  if (!isfinite(*loss))
    return ad3d_fail(AD3D_ENUMERIC, "training: loss %g at epoch %d, step %d", (double)*loss, epoch, step);
  if (o->clip > 0)
    grad_clip(m->grads_mem, m->nparams, mae_grad_norm(m), o->clip);
  mae_adamw_step(m, lr, (float)o->weight_decay);
  return AD3D_OK;
}

ad3d_status mae_train_epoch(mae_model *m, const corpus *c, const mae_train_opts *o, int epoch,
                            const mae_train_comm *comm, mae_train_progress_fn fn, void *ctx, mae_train_progress *result) {
  TRY(mae_train_check(o));
  if (comm && (comm->size < 1 || comm->rank < 0 || comm->rank >= comm->size || !comm->allreduce_sum))
    return ad3d_fail(AD3D_EINVAL, "training: bad process group (rank %d of %d)", comm->rank, comm->size);
  const int64_t n = corpus_size(c);
  const int64_t steps = n / o->batch;
  if (steps < 1)
    return ad3d_fail(AD3D_EINVAL, "training: the corpus (%s) has fewer clouds than a batch of %d",
                     corpus_describe(c), o->batch);
  if (steps > INT32_MAX)
    return ad3d_fail(AD3D_EINVAL, "training: %lld steps per epoch", (long long)steps);
  workspace w;
  TRY(workspace_alloc(&w, m, o->micro_batch, n));
  epoch_order(w.perm, n, o->seed, epoch);
  const float lr = (float)mae_train_lr(o, epoch);
  mae_train_progress p = {.epoch = epoch, .steps = (int)steps, .lr = lr};
  const double t0 = now_seconds();
  double sum = 0;
  ad3d_status st = AD3D_OK;
  for (int s = 0; s < (int)steps; s++) {
    float loss = 0;
    if ((st = train_step(&w, m, c, o, epoch, s, comm, lr, &loss)))
      break;
    sum += loss;
    p.step = s + 1;
    p.loss = sum / p.step;
    p.samples = (int64_t)p.step * o->batch;
    p.seconds = now_seconds() - t0;
    if (fn)
      fn(ctx, &p);
  }
  workspace_free(&w);
  if (!st && result)
    *result = p;
  return st;
}

ad3d_status mae_finetune(mae_model *m, const cloud_t *clouds, int n, const mae_train_opts *o,
                         mae_train_progress_fn fn, void *ctx, double *final_loss) {
  corpus *c = NULL;
  TRY(mae_train_check(o));
  TRY(corpus_from_clouds(clouds, n, &c));
  mae_reset_optimizer(m);
  mae_train_progress p = {0};
  ad3d_status st = AD3D_OK;
  for (int e = 0; e < o->epochs && !st; e++)
    st = mae_train_epoch(m, c, o, e, NULL, fn, ctx, &p);
  corpus_free(c);
  if (!st && final_loss)
    *final_loss = p.loss;
  return st;
}
