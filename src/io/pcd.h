/* pcd.h - Point Cloud Data (PCL .pcd) files: reader and writer.
 *
 * Reader: header versions 0.6/0.7, DATA ascii, binary and binary_compressed (LZF), any FIELDS
 * order with x, y and z among them (other fields skipped, whatever their SIZE, TYPE and COUNT),
 * SIZE 4 or 8 floats for x y z, WIDTH x HEIGHT organized clouds (read as a flat list), and points
 * with a NaN or Inf coordinate dropped and counted. Every malformed file (truncated data, a header
 * that disagrees with itself, a missing field) is an AD3D_EFORMAT whose message names the file and
 * the problem. Writer: ascii, binary or binary_compressed (LZF), fields x y z as float32.
 */
#ifndef AD3D_IO_PCD_H
#define AD3D_IO_PCD_H

#include <stdint.h>

#include "common/cloud.h"

typedef enum { PCD_ASCII, PCD_BINARY, PCD_BINARY_COMPRESSED } pcd_data;

typedef struct {
  pcd_data data;
  int64_t points;      /* POINTS in the header (WIDTH * HEIGHT) */
  int64_t width, height;
  int64_t dropped_nan; /* points dropped for a non-finite coordinate */
} pcd_info;

/* Read the x y z of every finite point of `path` into `out` (which the caller frees with
 * cloud_free). `info` may be NULL. On error `out` is left empty. */
ad3d_status pcd_read(const char *path, cloud_t *out, pcd_info *info);

/* Write `c` to `path` (fields x y z, float32). AD3D_EINVAL for an unknown kind or, for
 * binary_compressed, more than UINT32_MAX/12 points. */
ad3d_status pcd_write(const char *path, const cloud_t *c, pcd_data data);

#endif
