/* normals.h - per-point normals and curvature by PCA of the neighbourhood covariance.
 *
 * For point i with neighbourhood N_i (nbhd.h; it includes i itself), C_i is the covariance of the
 * neighbours' positions (mean-centred, divided by |N_i|, accumulated in double). With eigenvalues
 * l0 <= l1 <= l2 of C_i (eig3.h):
 *   normal n_i    = the unit eigenvector of l0;
 *   curvature c_i = l0 / (l0 + l1 + l2), the "surface variation" (0 on a plane, at most 1/3).
 * A point with fewer than 3 neighbours, or whose neighbours all coincide, gets n = (0, 0, 1) and
 * c = 0 (Open3D gives such points the identity covariance, hence the normal (0, 0, 1)).
 *
 * Orientation (the eigenvector's sign is arbitrary):
 *   NORMALS_ORIENT_NONE       the solver's sign, which is the sign Open3D 0.16's estimate_normals gives
 *                             a cloud without normals (FPFH depends on the sign: use this, or orient
 *                             both sides the same way, when comparing with Open3D);
 *   NORMALS_ORIENT_VIEWPOINT  n . (viewpoint - p) >= 0 (Open3D's orient_normals_towards_camera_location);
 *   NORMALS_ORIENT_DIRECTION  n . direction >= 0 (Open3D's orient_normals_to_align_with_direction);
 *   NORMALS_ORIENT_CENTROID   n . (p - centroid) >= 0, away from the mean of the cloud: outward on
 *                             closed, roughly star-shaped objects.
 * A normal orthogonal to the reference keeps the solver's sign.
 *
 * Cost: one neighbourhood query and one 3x3 solve per point, O(n k) with the kd-tree; no allocation
 * per point; points are visited in Z-order (zorder.h) for cache locality.
 */
#ifndef AD3D_GEOM_NORMALS_H
#define AD3D_GEOM_NORMALS_H

#include <stdint.h>

#include "common/status.h"
#include "geom/kdtree.h"
#include "geom/nbhd.h"

typedef enum {
  NORMALS_ORIENT_NONE,
  NORMALS_ORIENT_VIEWPOINT,
  NORMALS_ORIENT_DIRECTION,
  NORMALS_ORIENT_CENTROID
} normals_orient;

typedef struct {
  nbhd_t nb;             /* neighbourhood of each point */
  normals_orient orient; /* sign rule, see above */
  double ref[3];         /* the viewpoint (ORIENT_VIEWPOINT) or direction (ORIENT_DIRECTION) */
} normals_opts;

/* Normals and curvature of the n points pts (n, 3).
 * t: a kd-tree built over exactly pts, or NULL to build one here.
 * normals (n, 3) unit vectors, or NULL; curvature (n), or NULL (at least one of them non-NULL).
 * Returns AD3D_EINVAL for bad options (the message names them), AD3D_ENOMEM. */
ad3d_status normals_estimate(const float *pts, int64_t n, const kdtree *t, const normals_opts *o, float *normals,
                             float *curvature);

/* Apply an orientation rule to existing normals (n, 3) in place (see above; NONE leaves them). */
void normals_orient_apply(const float *pts, int64_t n, normals_orient orient, const double ref[3], float *normals);

/* Normal (3) and curvature of one neighbourhood: the points pts[idx[j]], j < count (count >= 0).
 * Unoriented; the rules above for count < 3 and coincident points. */
void normals_of_points(const float *pts, const int64_t *idx, int64_t count, double normal[3], double *curvature);

#endif
