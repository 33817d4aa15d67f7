/* carve.h - defects carved into a triangle mesh, with exact labels for points sampled from it.
 *
 * Carving works on the mesh, not on points sampled from it: the surface is refined around the
 * defect to the defect's resolution (mesh_refine), deformed or cut, and only then sampled
 * area-uniformly. Why the mesh: a deformed surface is sampled with the density a scanner would see
 * (a bulge's stretched area and a crack's walls get their share of points), cuts have clean edges
 * that follow the defect's shape exactly, and the defect-free surface stays at hand as a mesh, so
 * labels are exact distances to it rather than guesses from the displacement.
 *
 * Labels. A point sampled from the carved surface is anomalous when its distance to the original,
 * defect-free surface exceeds `threshold` (the defect moved the surface there), or when it lies
 * within `rim` of surface the defect removed (hole, broken). Both are exact point-to-triangle
 * distances (mesh_bvh), taken before any noise or pose is applied.
 *
 * The defects, around a centre c on the surface with outward unit normal n and a unit tangent t
 * (b = n x t); S is the smoothstep 3x^2 - 2x^3 on [0, 1]; f(s) = (1 - s^2)^2 for s < 1, else 0
 * (f(0) = 1, f and f' vanish at s = 1, so surfaces stay C1):
 *   bulge      every vertex p moves by +A f(|p - c| / R) n: a displacement field in space, so a thin
 *              wall inside the ball moves as a whole (its inside follows its outside).
 *   concavity  the same with -A: a dent.
 *   hole       the surface inside the ball |p - c| < R is removed (through a thin wall); cuts follow
 *              the sphere along every edge (the zero of |p - c| - R interpolated on the edge).
 *   broken     the connected piece of surface holding the vertex nearest c that lies beyond the
 *              fracture plane, (p - c) . m + depth + rough(p) > 0, and within distance R of c, is
 *              removed, cut along the boundary of that region; rough(p) = rough_amp * mean over 3
 *              waves of sin(k_i . (p - c) + phase_i) makes the edge irregular. carve_draw puts c at
 *              an extremity of the shape (the farthest vertex in a random direction), where pieces
 *              break off, with m near that direction.
 *   bending    the connected part beyond the hinge plane, (p - h) . m > 0 with h = centre, that holds
 *              the vertex farthest along m turns about the axis through h along `axis` (a . m = 0)
 *              by the angle A S(((p - h) . m) / w), w = width: a smooth bend over w, rigid beyond.
 *   crack      a groove along a path: a polyline through c given in tangent-plane coordinates
 *              (x, y) = ((p - c) . t, (p - c) . b). A vertex whose projection lies at distance d
 *              from the path, nearest to arc length s of its length L, moves by
 *              -A h(s / L) f(d / W(s)) F(n_p . n) n_p along its own unit normal n_p, where
 *              h(u) = sqrt(4 u (1 - u)) tapers the depth A to 0 at both tips, W(s) = width
 *              (0.35 + 0.65 h) narrows it there, and F(x) = S((x - 0.2) / 0.3) keeps the groove on
 *              the faces that look the way n does. Only the connected region of moved vertices
 *              holding the vertex nearest c moves (a surface below the path is not cut too).
 *   scratch    the same groove with h(u) = S(u / 0.1) S((1 - u) / 0.1) (constant depth, short
 *              tapers) and W(s) = width.
 * Parameters are in model units; angles in radians.
 */
#ifndef AD3D_SYNTH_CARVE_H
#define AD3D_SYNTH_CARVE_H

#include <stdint.h>

#include "common/rng.h"
#include "common/status.h"
#include "synth/mesh.h"

typedef enum {
  CARVE_BULGE,
  CARVE_CONCAVITY,
  CARVE_HOLE,
  CARVE_BROKEN,
  CARVE_BENDING,
  CARVE_CRACK,
  CARVE_SCRATCH
} carve_kind;

#define CARVE_NKINDS 7
#define CARVE_MAX_PATH 65 /* points of a crack or scratch path */

/* "bulge", "concavity", "hole", "broken", "bending", "crack", "scratch" (the Anomaly-ShapeNet
 * names), NULL-terminated. */
extern const char *const carve_kind_names[];
const char *carve_kind_name(carve_kind k);
/* Parse a name above, or the releases' variants "crak" (crack) and "sink" (concavity);
 * AD3D_ENOTFOUND otherwise. */
ad3d_status carve_kind_parse(const char *name, carve_kind *k);

typedef struct {
  carve_kind kind;
  double centre[3];    /* c (hinge point h for bending) */
  double normal[3];    /* n, unit */
  double tangent[3];   /* t, unit, t . n = 0 (crack, scratch) */
  double radius;       /* bulge, concavity, hole, broken: R; crack, scratch, bending: unused */
  double amplitude;    /* bulge, concavity: A; crack, scratch: depth A; bending: angle (radians, signed) */
  double width;        /* crack, scratch: half width; bending: w */
  double depth;        /* broken: how far below c the fracture plane passes */
  double plane[3];     /* broken: m (unit, pointing out of the piece's side); bending: hinge normal m */
  double axis[3];      /* bending: rotation axis (unit, axis . plane = 0) */
  double rough_amp;    /* broken: amplitude of rough(p) */
  double rough[3][4];  /* broken: wave vectors k_i (3) and phases (1) */
  int npath;           /* crack, scratch: points of the path (2 .. CARVE_MAX_PATH) */
  double path[CARVE_MAX_PATH][2]; /* crack, scratch: the path in (t, b) coordinates */
  double threshold;    /* label: distance to the original surface above which a point is anomalous */
  double rim;          /* label: width of the anomalous rim around removed surface (hole, broken) */
  double resolution;   /* the longest edge allowed where the defect acts (refinement target) */
} carve_defect;

/* A carved surface and what its labels need. Free with carved_free. */
typedef struct {
  mesh_t mesh;        /* the surface with the defect */
  mesh_t original;    /* the defect-free surface, refined like `mesh` */
  mesh_t removed;     /* the pieces of `original` the defect removed (hole, broken); else empty */
  uint8_t *moved;     /* (mesh.nf) 1 when a vertex of the face moved */
  double threshold, rim;
  double area, area_original, area_removed;
  double max_displacement; /* largest vertex displacement */
  mesh_bvh original_bvh, removed_bvh;
  mesh_sampler sampler; /* over `mesh` */
} carved_t;

/* Carve d into a copy of `base` (a clean, consistently oriented mesh; see mesh_orient). Refinement
 * stops with AD3D_EINVAL past max_faces faces. AD3D_EINVAL too when the defect has nothing to act on
 * (no vertex near its centre, a broken piece that would be everything, a bending part that would
 * be the whole mesh). On error *out is left empty. */
ad3d_status carve_apply(const mesh_t *base, const carve_defect *d, int64_t max_faces, carved_t *out);
void carved_free(carved_t *c);

/* The label of point p lying on face `face` of c->mesh: 1 if anomalous (rules at the top). */
int carved_label(const carved_t *c, const double p[3], int64_t face);

/* Draw n area-uniform points of the carved surface: xyz (n, 3), unit face normals (n, 3; NULL to
 * skip), labels (n); *nlabelled (may be NULL) gets the number of anomalous points. */
void carved_sample(const carved_t *c, int64_t n, rng_t *rng, double *xyz, double *normals, uint8_t *labels,
                   int64_t *nlabelled);

/* The fraction of the original surface the defect made anomalous: (removed area + the carved area
 * times the anomalous fraction nlabelled / n of points sampled from it) / original area. */
double carved_coverage(const carved_t *c, int64_t n, int64_t nlabelled);

/* ---------------------------------------------------------------- random defects */

/* What carve_draw needs to know about a surface, computed once per mesh. */
typedef struct {
  mesh_t mesh;          /* a copy of the surface */
  double *vnormal;      /* (nv, 3) unit vertex normals */
  double *varea;        /* (nv) a third of the area of the faces around each vertex */
  double area, diag;    /* total area, bounding-box diagonal */
  double max_edge;
  mesh_sampler sampler; /* over `mesh` */
  mesh_bvh bvh;         /* over `mesh` (wall thickness for grooves) */
} carve_base;

/* AD3D_EINVAL for a mesh without area. */
ad3d_status carve_base_init(carve_base *b, const mesh_t *m);
void carve_base_free(carve_base *b);

typedef struct {
  double label_rel; /* threshold = label_rel * the defect's peak displacement (0.1 by default) */
  double rim;       /* the rim width around removed surface, model units */
} carve_options;

/* Draw a random defect of `kind` on b whose anomalous part should cover about `coverage` (a
 * fraction of b's area, in (0, 1)): position (area-uniform), orientation, shape and strength are
 * random, the size follows from `coverage` by a rule of thumb per kind. The drawn size is a first
 * guess: callers measure carved_coverage and redraw from the same rng state with a corrected
 * coverage (synth.c does). AD3D_EINVAL for a coverage outside (0, 1). */
ad3d_status carve_draw(const carve_base *b, carve_kind kind, double coverage, const carve_options *o, rng_t *rng,
                       carve_defect *d);

#endif
