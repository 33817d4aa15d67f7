/* defects.h - surface defects applied to sampled points: bulges, concavities and holes, with exact
 * per-point labels.
 *
 * A defect acts on points sampled from a surface, each with its unit outward normal, around a
 * centre c on the surface with normal n_c. A point p_i with normal n_i is "in reach" when
 * n_i . n_c > DEFECT_FACING (so the far side of a thin part is never touched) and s = |p_i - c| / R
 * is below 1 (Euclidean distance; the radii we use are small against the surface's curvature radii
 * and thickness, so this equals the geodesic neighbourhood).
 *
 *   bulge      p_i += A f(s) n_i          f(s) = (1 - s^2)^2 for s < 1, else 0: f(0) = 1, and f and
 *   concavity  p_i -= A f(s) n_i          its derivative vanish at the rim, so the surface stays C1.
 *              label 1 iff the displacement A f(s) exceeds `threshold`, else 0.
 *   hole       points with |p_i - c| < R are removed; the ring R <= |p_i - c| < R + rim around the
 *              hole (the rim the hole leaves) is labelled 1, everything else 0.
 *
 * Labels are exact by construction: they are computed from the same displacement that moved the
 * point, before any noise or pose is applied.
 */
#ifndef AD3D_SYNTH_DEFECTS_H
#define AD3D_SYNTH_DEFECTS_H

#include <stdint.h>

#include "common/status.h"

/* Cosine of the largest angle between a point's normal and the centre's normal that a defect
 * reaches (120 degrees: creases such as a cup's bottom edge are crossed, opposite faces are not). */
#define DEFECT_FACING (-0.5)

typedef enum { DEFECT_BULGE, DEFECT_CONCAVITY, DEFECT_HOLE } defect_kind;

typedef struct {
  defect_kind kind;
  double centre[3];  /* on the surface */
  double normal[3];  /* unit outward normal at the centre */
  double radius;     /* R: support radius of the displacement, or the hole's radius (model units) */
  double amplitude;  /* A: peak displacement, > 0 (bulge, concavity) */
  double threshold;  /* label a displaced point when its displacement exceeds this (bulge, concavity) */
  double rim;        /* width of the labelled ring around a hole (hole) */
} defect_t;

/* "bulge", "concavity", "hole". */
const char *defect_kind_name(defect_kind k);
/* Parse a name as above; AD3D_ENOTFOUND if it is none of them. */
ad3d_status defect_kind_parse(const char *name, defect_kind *k);

/* Apply d to the *n points xyz (*n, 3) with unit normals (*n, 3), in place: displaced points move;
 * removed points are dropped, the survivors keeping their order, and *n shrinks. labels (*n on
 * entry) gets 0/1 for the surviving points. */
void defect_apply(const defect_t *d, int64_t *n, double *xyz, double *normals, uint8_t *labels);

#endif
