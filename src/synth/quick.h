/* quick.h - the embedded quick dataset: a small deterministic benchmark the program makes itself.
 *
 * A handful of procedural shape classes, 4 training samples each, normal and anomalous test
 * samples with bulge, concavity and hole defects and exact per-point labels, written in the
 * Anomaly-ShapeNet layout and format (binary PCD, comma-separated GT). Bit-identical for a given
 * version on every machine. Grows into the full synthesis pipeline (`ad3d synth`).
 *
 * Recipe (version 1). Classes sphere0 (ellipsoid), cup0 (open tapered cup with a bottom), torus0,
 * box0 (box with rounded edges) and vase0 (open wavy vase with a bottom), from synth/shapes.h; all
 * fit in a ball of radius about 1. Per class:
 *   train/<cls>_template{0..3}.pcd, test/<cls>_positive{0..3}.pcd (normal),
 *   test/<cls>_{bulge,concavity,hole}{0,1}.pcd with GT/<stem>.txt ("x,y,z,label" per point, rows in
 *   the order of the PCD's points).
 * Every sample is drawn from its own random streams keyed by its stem, so any sample can be
 * regenerated alone: 2200 to 2800 area-uniform points on the shape; for an anomalous sample one
 * defect (synth/defects.h, labels exact) centred on a random surface point:
 *   bulge / concavity  radius 0.16 to 0.24, amplitude 0.07 to 0.11, label where the displacement
 *                      exceeds a tenth of the amplitude;
 *   hole               radius 0.18 to 0.24, the ring up to 0.06 (about one point spacing) beyond the
 *                      hole's edge labelled anomalous;
 * then a pose (uniform scale 1 +- 3%, rotation up to 5 degrees about a random axis) and Gaussian
 * noise of sigma 0.002 per coordinate. Labels come from the defect alone (noise never labels).
 */
#ifndef AD3D_SYNTH_QUICK_H
#define AD3D_SYNTH_QUICK_H

#include <stdint.h>

#include "common/cloud.h"
#include "common/status.h"

#define QUICK_DATASET_VERSION 1

/* Write the dataset under `root` (created; must not hold another dataset). */
ad3d_status quick_dataset_write(const char *root);

/* Ensure the dataset exists in the cache and return its folder in *root (malloc'ed).
 * The cache is $AD3D_CACHE, else $XDG_CACHE_HOME/ad3d, else $HOME/.cache/ad3d; the dataset goes in
 * <cache>/quick-v<VERSION>. Written to a temporary folder <cache>/quick-v<VERSION>.tmp.<pid>.<host>
 * and renamed, so concurrent callers (also on other hosts sharing the cache) and killed runs never
 * see half a dataset; when another process renames first, ours is removed and theirs used.
 * Temporary folders of dead processes on this host are removed on the way. */
ad3d_status quick_dataset_ensure(char **root);

/* Counts per class: training samples, normal test samples, test samples per defect type. */
#define QUICK_NTRAIN 4
#define QUICK_NPOSITIVE 4
#define QUICK_NPER_DEFECT 2

/* The class names and the defect types of the quick dataset, NULL-terminated. */
extern const char *const quick_classes[];
extern const char *const quick_defects[];

/* The cache folder (as for quick_dataset_ensure) in *dir (malloc'ed); AD3D_EINVAL when none of
 * AD3D_CACHE, XDG_CACHE_HOME and HOME is set. The folder need not exist. */
ad3d_status quick_cache_dir(char **dir);

/* Generate one sample in memory, exactly as quick_dataset_write writes it, from its stem
 * "<cls>_<kind><k>" with kind template, positive, bulge, concavity or hole (any k >= 0). Training
 * samples ("template") get labels NULL; test samples get a label per point. The caller frees *out
 * with sample_free. AD3D_EINVAL for a stem that names no quick sample. */
ad3d_status quick_sample_make(const char *stem, sample_t *out);

/* n area-uniform points (float32) of the undeformed, noise-free surface that sample `stem` was
 * drawn from, in the sample's pose: the reference against which its defect can be measured. The
 * caller frees *out with cloud_free. */
ad3d_status quick_sample_surface(const char *stem, int64_t n, cloud_t *out);

#endif
