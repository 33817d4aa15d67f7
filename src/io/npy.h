/* npy.h - NumPy .npy arrays as point clouds (ShapeNet-55 as Point-MAE ships it: (8192, 3) float32).
 *
 * Reads format versions 1.0, 2.0 and 3.0, dtype float32 or float64 (little or big endian), C order,
 * shape (N, C) with C >= 3: the first three columns are x y z. Fortran order, other dtypes, other
 * ranks, truncated data and non-finite coordinates are AD3D_EFORMAT errors naming the file.
 */
#ifndef AD3D_IO_NPY_H
#define AD3D_IO_NPY_H

#include "common/cloud.h"

ad3d_status npy_read_cloud(const char *path, cloud_t *out);

#endif
