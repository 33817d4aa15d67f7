/* quick.h - the embedded datasets: deterministic benchmarks the program makes itself, named
 * "embedded:<name>" wherever a dataset root is expected (a job's datasets.X.root, `ad3d check`,
 * `ad3d render`). (The file keeps the name of the first of them, embedded:quick.)
 *
 * An embedded dataset is a synth preset (synth/synth.h) written in a synth layout:
 *   embedded:quick             preset quick, anomaly_shapenet layout: five procedural classes (bottle0,
 *                              bowl0, cup0, helmet0, vase0), 4 templates, 4 normal and one anomalous
 *                              test sample of each of the seven defect types, 2000 to 3000 points.
 *   embedded:anomaly_shapenet  preset paper, anomaly_shapenet layout: all 40 procedural classes at
 *                              Anomaly-ShapeNet's size (4 templates, 15 normal and 4 anomalous test
 *                              samples per defect type, 8000 to 30000 points, bounding-box diagonal 1).
 *   embedded:real3d_ad         preset real3d, real3d_ad layout: 12 procedural classes in millimetres
 *                              (diagonal 60), 4 full-scan templates of 60000 points, 8 good and 8
 *                              anomalous (bulge, sink) partial test scans of 8000 to 30000 points,
 *                              defects covering 0.5% to 3% of the surface.
 * Each is exactly what `ad3d synth --preset P --layout L` writes, bit-identical for a given version
 * on every machine (the synth layer is compiled without floating-point contraction). Each has its
 * own version: any change to what its preset or layout makes must bump it, as it names the cache
 * folder <cache>/<name>-v<version>.
 *
 * Layout: an embedded dataset can only be read in its own layout. Naming another one with it (a job's
 * datasets.X.layout, `ad3d check --layout`) is an error, not silently overridden; `ad3d check` takes
 * the embedded dataset's layout when --layout is not given.
 */
#ifndef AD3D_SYNTH_QUICK_H
#define AD3D_SYNTH_QUICK_H

#include "common/status.h"

#define EMBEDDED_PREFIX "embedded:"

typedef struct {
  const char *name;   /* "quick": named "embedded:quick", cached in <cache>/quick-v<version> */
  const char *preset; /* synth preset (synth_presets) */
  const char *layout; /* synth layout, also the dataset layout (io/dataset.h) it is read with */
  int version;        /* bumped on any change to what preset and layout make */
  const char *help;   /* one line, for `ad3d info` */
} embedded_dataset;

/* The embedded datasets, as listed above; the entry whose name is NULL ends the table. */
extern const embedded_dataset embedded_datasets[];

/* 1 when root names an embedded dataset (begins with "embedded:"), else 0. */
int embedded_is(const char *root);

/* The embedded dataset root names ("embedded:quick"); AD3D_ENOTFOUND naming root and every known
 * name when there is none such. */
ad3d_status embedded_find(const char *root, const embedded_dataset **e);

/* Write dataset e under `root` (created; must not exist or be empty). */
ad3d_status embedded_dataset_write(const embedded_dataset *e, const char *root);

/* The cache folder in *dir (malloc'ed): $AD3D_CACHE, else $XDG_CACHE_HOME/ad3d, else
 * $HOME/.cache/ad3d; AD3D_EINVAL when none of them is set. The folder need not exist. */
ad3d_status embedded_cache_dir(char **dir);

/* The folder dataset e is cached in, <cache>/<name>-v<version>, in *dir (malloc'ed); as
 * embedded_cache_dir for errors. Whether it exists is not looked at. */
ad3d_status embedded_dataset_folder(const embedded_dataset *e, char **dir);

/* Ensure dataset e exists in the cache and return its folder (embedded_dataset_folder) in *root
 * (malloc'ed). Written to a temporary folder <folder>.tmp.<pid>.<host> and renamed, so concurrent
 * callers (also on other hosts sharing the cache) and killed runs never see half a dataset; when
 * another process renames first, ours is removed and theirs used. Temporary folders of dead
 * processes on this host are removed on the way. Generating takes one core about 2 minutes
 * for embedded:anomaly_shapenet (1.2 GB), 20 s for embedded:real3d_ad (140 MB), 3 s for embedded:quick. */
ad3d_status embedded_dataset_ensure(const embedded_dataset *e, char **root);

/* Resolve the root "embedded:<name>": embedded_find, then, when layout is not NULL, AD3D_EINVAL
 * unless it is the dataset's own layout (the message names both), then embedded_dataset_ensure. */
ad3d_status embedded_resolve(const char *root, const char *layout, char **dir);

#endif
