/* shapes.h - procedural shapes: smooth surfaces made of parametric patches, sampled area-uniformly.
 *
 * A shape is a surface built from up to SHAPE_MAX_PATCHES parametric patches p(u, v), (u, v) in
 * [0, 1]^2, each with an analytic outward unit normal n(u, v), followed by a per-axis scale of the
 * whole shape (normals transformed by the inverse scale and renormalised, so they stay exact). The
 * catalogue holds surfaces of revolution (ellipsoid, open cup with a bottom, torus, vase with a
 * bottom) and a box with rounded edges (6 faces, 12 quarter-cylinder edges, 8 sphere-octant
 * corners). Every shape fits in a ball of radius about 1 around the origin, in model units.
 *
 * Sampling is area-uniform over a table of cells: every patch is cut into SHAPE_GRID x SHAPE_GRID
 * cells of equal (u, v) size whose true areas (after the scale) are measured once at shape_init; a
 * point picks a cell with probability proportional to its area, then a uniform (u, v) inside it.
 * Inside a cell the density follows the parametrisation, so the error is the area variation across
 * one cell (a few percent at most with 48 x 48 cells per patch; the cell weights themselves are
 * exact to second order). Deterministic for a given rng stream. Not a mesh: open surfaces have no thickness.
 */
#ifndef AD3D_SYNTH_SHAPES_H
#define AD3D_SYNTH_SHAPES_H

#include <stdint.h>

#include "common/rng.h"
#include "common/status.h"

#define SHAPE_MAX_PATCHES 26
#define SHAPE_GRID 48

/* One patch: eval(prm, u, v) writes the point p and the outward unit normal n. */
typedef struct {
  void (*eval)(const double *prm, double u, double v, double p[3], double n[3]);
  double prm[8];
} shape_patch;

typedef struct {
  const char *name;   /* catalogue name, e.g. "torus" (static string) */
  int npatches;
  shape_patch patch[SHAPE_MAX_PATCHES];
  double scale[3];    /* per-axis scale applied after the patches */
  double area;        /* total surface area, model units squared */
  double *cdf;        /* (npatches * SHAPE_GRID * SHAPE_GRID) cumulative cell areas; owned */
} shape_t;

/* The catalogue names, NULL-terminated: "ellipsoid", "cup", "torus", "rounded_box", "vase". */
extern const char *const shape_names[];

/* Build the named shape and its sampling table. AD3D_ENOTFOUND for an unknown name. Free with
 * shape_free. */
ad3d_status shape_init(shape_t *s, const char *name);
void shape_free(shape_t *s);

/* Draw n area-uniform points: xyz (n, 3) and unit outward normals (n, 3), both float64 so that
 * defects and poses applied afterwards lose nothing; caller-allocated. */
void shape_sample(const shape_t *s, int64_t n, rng_t *rng, double *xyz, double *normals);

/* The point and unit normal at patch `k`, parameters (u, v) in [0, 1]^2, with the scale applied. */
void shape_eval(const shape_t *s, int k, double u, double v, double p[3], double n[3]);

#endif
