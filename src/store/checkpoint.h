/* checkpoint.h - Point-MAE checkpoints: one HDF5 file holding a model's weights, BatchNorm running
 * statistics, AdamW state, step and configuration, plus the training state needed to resume.
 *
 * Layout and versioning: the "Checkpoints" section of FORMAT.md beside this file (readable with h5py
 * alone). A checkpoint is written whole to "<path>.tmp.<pid>", flushed, fsync'ed and renamed over
 * <path>: a reader (or a run killed while writing) only ever sees the previous complete checkpoint or
 * the new one. Writing the same model and info twice gives byte-identical files (no times are stored).
 *
 * Who uses it: `ad3d pretrain` (runner/pretrain.c) saves one per epoch and resumes from the latest;
 * the Point-MAE methods get their model through checkpoint_load_model, which the program's edge
 * installs as the methods' loader (methods/maefeat.h), since methods never see HDF5.
 */
#ifndef AD3D_STORE_CHECKPOINT_H
#define AD3D_STORE_CHECKPOINT_H

#include <stdint.h>

#include "common/status.h"
#include "nn/mae.h"

#define CHECKPOINT_FORMAT_VERSION 1

/* What a checkpoint records besides the model (mae_model carries the weights, moments, buffers, step and
 * configuration). */
typedef struct {
  int64_t epoch;      /* epochs completed when it was written (0: a model that was never trained) */
  char *train_config; /* the training options, "key = value" lines (compared on resume); may be NULL */
  int64_t nhistory;   /* epochs recorded in the history (normally == epoch) */
  double *loss;       /* (nhistory) mean training loss of each epoch */
  double *lr;         /* (nhistory) learning rate of each epoch */
  double *seconds;    /* (nhistory) wall-clock seconds of each epoch */
} checkpoint_info;

/* Free the info's arrays and text and zero it; NULL-safe. */
void checkpoint_info_free(checkpoint_info *info);
/* Append one epoch (loss, lr, seconds) to the history. AD3D_ENOMEM. */
ad3d_status checkpoint_info_push(checkpoint_info *info, double loss, double lr, double seconds);

/* Write model m and info (or NULL: epoch 0, no history) to path atomically (see above); the folder must
 * exist. AD3D_EIO (cannot write or rename; an existing file at path is left as it was), AD3D_EINTERNAL
 * (HDF5 reported an error). */
ad3d_status checkpoint_save(const char *path, const mae_model *m, const checkpoint_info *info);

/* Read a checkpoint: a new model with the stored configuration, weights, buffers, AdamW moments and step
 * (*m, free with mae_free), and, when info is not NULL, the rest (free with checkpoint_info_free).
 * AD3D_ENOTFOUND (no file), AD3D_EFORMAT (not an ad3d checkpoint, another format version, a tensor
 * missing or of the wrong shape: the message names the file and the tensor), AD3D_EINVAL (a stored
 * configuration mae_config_check rejects), AD3D_ENOMEM, AD3D_EINTERNAL. */
ad3d_status checkpoint_load(const char *path, mae_model **m, checkpoint_info *info);

/* checkpoint_load without the info: the signature of the methods' model loader (maefeat_loader). */
ad3d_status checkpoint_load_model(const char *path, mae_model **m);

#endif
