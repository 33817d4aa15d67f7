/* gt.h - ground-truth files of Anomaly-ShapeNet and Real3D-AD: one row per point, "x y z label".
 *
 * The delimiter (comma or white space) is detected from the first data row. A label > 0.5 is
 * anomalous. Rows with the wrong number of values, non-numbers or non-finite values are
 * AD3D_EFORMAT errors naming the file and line.
 */
#ifndef AD3D_IO_GT_H
#define AD3D_IO_GT_H

#include <stdint.h>

#include "common/cloud.h"

/* Read `path` into `xyz` (n points) and `*labels` (n bytes, 0/1, malloc'ed; caller frees). */
ad3d_status gt_read(const char *path, cloud_t *xyz, uint8_t **labels);

/* Write `c` with `labels` (c->n bytes) as rows "x<d>y<d>z<d>label", d = delim (',' or ' '). */
ad3d_status gt_write(const char *path, const cloud_t *c, const uint8_t *labels, char delim);

#endif
