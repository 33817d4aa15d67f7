/* quick.h - the embedded quick dataset: a small deterministic benchmark the program makes itself.
 *
 * A handful of procedural shape classes, 4 training samples each, normal and anomalous test
 * samples with bulge, concavity and hole defects and exact per-point labels, written in the
 * Anomaly-ShapeNet layout and format (binary PCD, comma-separated GT). Bit-identical for a given
 * version on every machine. Grows into the full synthesis pipeline (`ad3d synth`).
 */
#ifndef AD3D_SYNTH_QUICK_H
#define AD3D_SYNTH_QUICK_H

#include "common/status.h"

#define QUICK_DATASET_VERSION 1

/* Write the dataset under `root` (created; must not hold another dataset). */
ad3d_status quick_dataset_write(const char *root);

/* Ensure the dataset exists in the cache and return its folder in *root (malloc'ed).
 * The cache is $AD3D_CACHE, else $XDG_CACHE_HOME/ad3d, else $HOME/.cache/ad3d; the dataset goes in
 * <cache>/quick-v<VERSION>. Written to a temporary folder and renamed, so concurrent callers and
 * killed runs never see half a dataset. */
ad3d_status quick_dataset_ensure(char **root);

#endif
