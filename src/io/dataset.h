/* dataset.h - dataset layouts: where a dataset's classes, samples and ground truth live.
 *
 * A layout knows one public dataset's folder structure and naming rules (see DESIGN.md section 3):
 *   anomaly_shapenet  <root>/<cls>/train/<cls>_template{k}.pcd, test/<cls>_{positive|<defect>}{k}.pcd,
 *                     GT/<stem>.txt (x,y,z,label) for anomalous samples, cloud AND labels from GT.
 *   real3d_ad         <root>/<cls>/train/<id>_template.pcd, test/<id>_<kind>[_cut|_copy].pcd,
 *                     gt/<stem>.txt (x y z label); clouds centred (mean subtracted); good = normal.
 * Scanning lists files without reading clouds (cheap: used for the task list and its cost);
 * loading reads a whole class. Checking validates every file and reports statistics.
 */
#ifndef AD3D_IO_DATASET_H
#define AD3D_IO_DATASET_H

#include <stdint.h>
#include <stdio.h>

#include "common/cloud.h"

typedef struct {
  char *name;     /* stem */
  char *defect;   /* "good" or the defect type */
  int anomalous;
  char *cloud_path; /* the .pcd */
  char *gt_path;    /* the GT .txt; set exactly when the sample's points AND labels come from it
                     * (anomalous test samples); NULL: points from the PCD, labels all zero */
  int64_t bytes;    /* size of the file the points come from (cost estimate) */
} sample_entry;

typedef struct {
  char *cls;
  int ntrain, ntest;
  sample_entry *train, *test;
} class_index;

void class_index_free(class_index *ci);

typedef struct dataset_layout {
  const char *name; /* "anomaly_shapenet" */
  const char *help;
  /* Sorted class folder names under root. */
  ad3d_status (*list_classes)(const char *root, char ***classes, int *n);
  /* The files of one class, classified; an error if the class folder or train/test is missing. */
  ad3d_status (*scan_class)(const char *root, const char *cls, class_index *out);
  /* Read a scanned sample's cloud (and labels for test samples) as the reference loader does. */
  ad3d_status (*load_sample)(const sample_entry *e, int is_test, sample_t *out);
} dataset_layout;

/* The registered layouts, NULL-terminated; and lookup by name (NULL if unknown). */
extern const dataset_layout *const dataset_layouts[];
const dataset_layout *dataset_layout_find(const char *name);

/* Scan and load a whole class. */
ad3d_status dataset_load_class(const dataset_layout *L, const char *root, const char *cls, class_data_t *out);

/* Validate the dataset under root (all classes, or the n listed ones) and print per class:
 * training samples, normal and anomalous test samples per defect type, points min/median/max,
 * anomalous point fraction, and every problem found. *nproblems gets the problem count. */
ad3d_status dataset_check(const dataset_layout *L, const char *root, char **classes, int nclasses, FILE *out,
                          int *nproblems);

#endif
