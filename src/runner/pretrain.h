/* pretrain.h - `ad3d pretrain`: Point-MAE self-supervised pre-training (or fine-tuning from a checkpoint)
 * on a corpus, data parallel over the ranks of an MPI communicator, with a checkpoint per epoch.
 *
 * Every rank runs nn/train.h's loop on the same model; the shards of each step are dealt round-robin to
 * the ranks and their gradients summed by MPI_Allreduce over the one flat gradient block (waiting ranks
 * poll and sleep instead of spinning). Rank 0 prepares the model and broadcasts it, prints progress
 * (epoch, step, loss, clouds/s, ETA) and writes the checkpoints (store/checkpoint.h):
 *   <output>/last.h5           after every epoch (atomically replaced), what a rerun resumes from;
 *   <output>/epoch-NNNN.h5     also after every save_every-th epoch (when save_every > 0).
 * Starting: if <output>/last.h5 exists (and resume is on) training continues after its last epoch, provided
 * the checkpoint was made with the same training options (else AD3D_EINVAL names the first difference);
 * otherwise from `init` (a checkpoint: its weights and architecture, a new optimiser: fine-tuning), or
 * from a new model initialised from the seed.
 *
 * Options: the opt_spec table pretrain_opt_specs (section "pretrain"; `ad3d pretrain --set KEY=VALUE`, and
 * the table a config file section would use), with two presets applied before any --set: "paper" (Point-MAE's
 * pretrain.yaml: the defaults) and "small" (mae_config_small; 40 epochs, batch 32 in shards of 16, 4 warm-up
 * epochs: minutes on 2 cores over a few hundred generated shapes).
 */
#ifndef AD3D_RUNNER_PRETRAIN_H
#define AD3D_RUNNER_PRETRAIN_H

#include <mpi.h>
#include <stdio.h>

#include "common/opts.h"
#include "common/status.h"
#include "nn/mae.h"
#include "nn/train.h"

/* The options, section "pretrain" (NULL-terminated). */
extern const opt_spec pretrain_opt_specs[];

/* Set the keys of preset "paper" or "small" in o (section "pretrain"; defaults must be set first).
 * AD3D_EINVAL for another name. */
ad3d_status pretrain_preset(opts_t *o, const char *name);

typedef struct {
  char corpus[1024];  /* corpus spec (nn/data.h) */
  char output[1024];  /* checkpoint folder */
  char init[1024];    /* starting checkpoint, "" for none */
  int resume;         /* continue from <output>/last.h5 when present */
  mae_config model;   /* architecture (ignored but for npoints, mask_ratio, drop_path_rate when init is set) */
  mae_train_opts train;
  int save_every;     /* also keep epoch-NNNN.h5 every n epochs; 0: last.h5 only */
  int blas_threads;   /* OpenBLAS threads per rank */
  double progress_s;  /* seconds between progress lines within an epoch; 0: one line per epoch */
  int quiet;          /* no progress lines */
} pretrain_args;

/* Read the resolved options o (section "pretrain") into a, checking the model and training options.
 * AD3D_EINVAL naming the bad key. */
ad3d_status pretrain_args_from_opts(const opts_t *o, pretrain_args *a);

/* The options that determine the trajectory, as "key = value" lines (stored in every checkpoint and
 * compared on resume); malloc'd, NULL on ENOMEM. */
char *pretrain_train_config(const pretrain_args *a);

typedef struct {
  int start_epoch;    /* epochs already done when this run started (resume), 0 otherwise */
  int epochs_done;    /* epochs completed at the end (== train.epochs when finished) */
  double last_loss;   /* mean loss of the last epoch run here (NaN if none ran) */
  char checkpoint[1100]; /* <output>/last.h5 */
} pretrain_summary;

/* Run pre-training on comm (every rank calls it with the same arguments). Progress goes to out on rank 0.
 * Returns the same status on every rank: AD3D_OK when all epochs are done. */
ad3d_status pretrain_run(const pretrain_args *a, MPI_Comm comm, FILE *out, pretrain_summary *sum);

#endif
