/* cloud.h - the point cloud and the dataset sample every layer shares.
 *
 * A cloud owns its points: xyz is (n, 3) float32, row-major, in the dataset's units.
 * A sample is one cloud of a dataset with its name, defect type and (for test samples) a 0/1 label
 * per point. All destructors accept NULL and zeroed structs.
 */
#ifndef AD3D_COMMON_CLOUD_H
#define AD3D_COMMON_CLOUD_H

#include <stdint.h>

#include "common/status.h"

typedef struct {
  int64_t n;
  float *xyz; /* (n, 3) */
} cloud_t;

/* Allocate n points (uninitialised). On failure returns AD3D_ENOMEM and leaves c empty. */
ad3d_status cloud_alloc(cloud_t *c, int64_t n);
void cloud_free(cloud_t *c);

typedef struct {
  char *name;       /* file stem, e.g. "bottle0_bulge3" */
  char *defect;     /* "good" for normal samples, else the defect type ("bulge", "hole", ...) */
  int anomalous;    /* object label: 0 normal, 1 anomalous */
  cloud_t cloud;
  uint8_t *labels;  /* (cloud.n) point labels 0/1; NULL for training samples */
} sample_t;

void sample_free(sample_t *s);

/* One class of a dataset, loaded: its training samples (normal) and its test samples. */
typedef struct {
  char *cls;
  int ntrain, ntest;
  sample_t *train; /* (ntrain) */
  sample_t *test;  /* (ntest) */
} class_data_t;

void class_data_free(class_data_t *d);

#endif
