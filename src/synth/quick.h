/* quick.h - the embedded quick dataset: a small deterministic benchmark the program makes itself.
 *
 * It is `ad3d synth --preset quick` (synth/synth.h): five procedural classes of Anomaly-ShapeNet's
 * styles (bottle0, bowl0, cup0, helmet0, vase0), each with 4 training templates, 4 normal test samples
 * and one anomalous test sample of each of the seven defect types, 2000 to 3000 points per sample, in
 * the Anomaly-ShapeNet layout and format (binary PCD, comma-separated GT, manifest.csv, synth.cfg).
 * Bit-identical for a given version on every machine (the synth layer is compiled without floating-point
 * contraction); any change to what the preset makes must bump QUICK_DATASET_VERSION, which names the
 * cache folder.
 */
#ifndef AD3D_SYNTH_QUICK_H
#define AD3D_SYNTH_QUICK_H

#include "common/status.h"

#define QUICK_DATASET_VERSION 2

/* Write the dataset under `root` (created; must not exist or be empty). */
ad3d_status quick_dataset_write(const char *root);

/* Ensure the dataset exists in the cache and return its folder in *root (malloc'ed).
 * The cache is $AD3D_CACHE, else $XDG_CACHE_HOME/ad3d, else $HOME/.cache/ad3d; the dataset goes in
 * <cache>/quick-v<VERSION>. Written to a temporary folder <cache>/quick-v<VERSION>.tmp.<pid>.<host>
 * and renamed, so concurrent callers (also on other hosts sharing the cache) and killed runs never
 * see half a dataset; when another process renames first, ours is removed and theirs used.
 * Temporary folders of dead processes on this host are removed on the way. */
ad3d_status quick_dataset_ensure(char **root);

/* The cache folder (as for quick_dataset_ensure) in *dir (malloc'ed); AD3D_EINVAL when none of
 * AD3D_CACHE, XDG_CACHE_HOME and HOME is set. The folder need not exist. */
ad3d_status quick_cache_dir(char **dir);

#endif
