/* train.h - the Point-MAE training loop: self-supervised pre-training on a corpus, data parallel over any
 * number of processes, and fine-tuning from a trained model (the same loop).
 *
 * One epoch (mae_train_epoch), Point-MAE's recipe (DESIGN.md section 5):
 *   - the corpus order is a random permutation drawn from (seed, epoch); steps = floor(n / batch) (the
 *     last partial batch is dropped, as Point-MAE's drop_last);
 *   - a step takes the next `batch` clouds and cuts them into batch / micro_batch shards of micro_batch
 *     clouds; each shard is one forward/backward: BatchNorm batch statistics are a shard's (as PyTorch's
 *     DistributedDataParallel without SyncBN, one GPU per shard). Shard s of a step runs on process
 *     s mod size;
 *   - cloud i's input: corpus_sample (npoints = the model's npoints) then augment_scale_translate, both
 *     from the stream (seed, "sample", epoch, i); grouping mae_group (Point-MAE's FPS centres and kNN), or
 *     the caller's o->group (e.g. IMRNet's samplers: nn/imr.h imr_train_group) with the stream
 *     (seed, "group", epoch, i) of its own (so a grouping's draws never shift the input's, and mae_group,
 *     which draws nothing, is unaffected); a shard's random mask and drop-path from the stream
 *     (seed, "shard", epoch, step, s);
 *   - the gradient is the mean of the shards' gradients (the flat gradient block summed over processes
 *     by comm->allreduce_sum, then divided by the shard count); the BatchNorm running statistics become
 *     the mean over shards of what each shard's forward made of the step's starting values (with one
 *     shard: exactly PyTorch's update); the loss is the mean of the shards' Chamfer losses;
 *   - optional global-norm clipping, then AdamW with lr(epoch) = lr_cosine_warmup(epoch, lr, min_lr,
 *     warmup_lr, warmup_epochs, epochs), constant within an epoch (Point-MAE steps its timm scheduler
 *     per epoch; Point-MAE's epoch e runs with lr(e - 1) for e >= 1, a one-epoch lag this loop does not
 *     copy), weight decay on the tensors flagged for it.
 * Every random draw depends only on (seed, epoch, cloud index, step, shard), never on the process count or
 * on which process ran a shard (a grouping hook too: it is called once per cloud of a step, on the process
 * running that cloud's shard, with the cloud's input points and its "group" stream; a hook whose result
 * depended on earlier calls would break this): one process running all shards and P processes running a
 * share each follow the same trajectory up to the order of float additions in the reduction; and an epoch
 * run from a model restored at its start (weights, moments, buffers, step) reproduces the uninterrupted run
 * bit for bit on one thread.
 *
 * Processes: comm == NULL runs everything here. Otherwise every process calls mae_train_epoch with the
 * same model state, corpus, options and epoch; comm->allreduce_sum must sum a float buffer over all of them
 * in place (MPI_Allreduce in the runner, the only layer with MPI). A failure on one process (an unreadable
 * file) is reported to all through the reduction: all return an error, the failing one its own message.
 * Threads: OpenBLAS's, inside the model.
 */
#ifndef AD3D_NN_TRAIN_H
#define AD3D_NN_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "common/cloud.h"
#include "common/status.h"
#include "nn/data.h"
#include "nn/mae.h"

typedef struct {
  int epochs;          /* length of the cosine schedule (300) */
  int batch;           /* clouds per optimiser step, over all processes (128) */
  int micro_batch;     /* clouds per forward pass = BatchNorm statistics group (32); divides batch */
  double lr;           /* peak learning rate (1e-3) */
  double min_lr;       /* cosine floor (1e-6) */
  double warmup_lr;    /* learning rate at the start of the warm-up (1e-6) */
  int warmup_epochs;   /* linear warm-up epochs (10) */
  double weight_decay; /* AdamW decoupled weight decay (0.05) */
  double clip;         /* global gradient-norm clip; 0: none (0: Point-MAE pre-training does not clip) */
  int augment;         /* 1: scale-and-translate augmentation (1) */
  uint64_t seed;       /* every random stream of the run derives from it (0) */
  /* The grouping of an input (NULL: mae_group, Point-MAE's): pts (n, 3) with n = cfg->npoints, into
   * neigh (G, K, 3), the points relative to their centre, and centers (G, 3), G = cfg->ngroups,
   * K = cfg->group_size, as mae_group lays them out. rng: the cloud's "group" stream (see above), for
   * samplers that draw. Called on the training thread with group_ctx; an error fails the step as a
   * corpus error does. (NULL) */
  ad3d_status (*group)(void *ctx, const mae_config *cfg, const float *pts, int64_t n, rng_t *rng, float *neigh,
                       float *centers);
  void *group_ctx;
} mae_train_opts;

/* Point-MAE's pre-training recipe (values in the comments above). */
mae_train_opts mae_train_defaults(void);
/* AD3D_EINVAL with a message naming the bad field. */
ad3d_status mae_train_check(const mae_train_opts *o);
/* The learning rate of an epoch. */
double mae_train_lr(const mae_train_opts *o, int epoch);

typedef struct {
  int rank, size; /* this process, the number of processes */
  /* Sum buf (n floats) over all processes, in place, every process receiving the sum. */
  ad3d_status (*allreduce_sum)(void *ctx, float *buf, size_t n);
  void *ctx;
} mae_train_comm;

typedef struct {
  int epoch;       /* 0-based */
  int step, steps; /* steps done in this epoch, steps per epoch */
  double loss;     /* mean loss of the steps done */
  double lr;
  int64_t samples; /* clouds processed in this epoch by all processes */
  double seconds;  /* since the epoch started */
} mae_train_progress;

/* Called after every step (on every process, with the same numbers). */
typedef void (*mae_train_progress_fn)(void *ctx, const mae_train_progress *p);

/* One epoch of training of m on corpus c (see above); *result (or NULL) the epoch's summary (its loss:
 * the mean over steps). AD3D_EINVAL (bad options, a corpus smaller than a batch, a model whose grouping
 * does not fit npoints), the corpus' errors, AD3D_ENUMERIC (a non-finite loss), AD3D_ENOMEM. */
ad3d_status mae_train_epoch(mae_model *m, const corpus *c, const mae_train_opts *o, int epoch,
                            const mae_train_comm *comm, mae_train_progress_fn fn, void *ctx, mae_train_progress *result);

/* Zero the AdamW moments and step (a new optimiser, as when fine-tuning starts from a checkpoint). */
void mae_reset_optimizer(mae_model *m);

/* Fine-tune m on clouds (n; e.g. one class's training samples), in this process: reset the optimiser, then
 * epochs 0 .. o->epochs - 1 of mae_train_epoch on corpus_from_clouds (with o's grouping: o->group).
 * Set m->cfg.mask_ratio beforehand to fine-tune with another mask ratio (IMRNet: 0.4). *final_loss (or
 * NULL): the last epoch's loss. */
ad3d_status mae_finetune(mae_model *m, const cloud_t *clouds, int n, const mae_train_opts *o,
                         mae_train_progress_fn fn, void *ctx, double *final_loss);

#endif
