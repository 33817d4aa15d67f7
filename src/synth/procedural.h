/* procedural.h - procedural normal shapes in the style of the 40 Anomaly-ShapeNet classes, and a
 * corpus of normal shapes for pre-training.
 *
 * Each class is a parametric family: a builder turns a parameter vector u in [0, 1]^nparams into a
 * closed, outward-oriented triangle mesh (several closed parts for composites). Most families
 * revolve a profile curve about the z axis (bottles, bowls, vases, jars, buckets, cups, helmets,
 * the ashtray, the microphone); walls of open vessels have a thickness (outer wall, rounded rim,
 * inner wall, inner floor), as a real object's surface does. Composites add swept tubes (handles,
 * headbands, spouts, booms), superellipsoids (ear cups, a bag's body, an eraser) and boxes (a
 * shelf's boards). Vertex warps add ribs, twists and scalloped rims.
 *
 * Every instance is centred on its bounding box and scaled to a bounding-box diagonal of 1, with z
 * up. A class's instances vary a little around the class's own parameters (proc_instance_params);
 * the corpus draws parameters over each family's whole range (proc_corpus_params). Deterministic
 * for a given parameter vector.
 */
#ifndef AD3D_SYNTH_PROCEDURAL_H
#define AD3D_SYNTH_PROCEDURAL_H

#include "common/rng.h"
#include "common/status.h"
#include "synth/mesh.h"

#define PROC_MAX_PARAMS 8

typedef struct {
  const char *name;  /* class name, e.g. "bottle0" */
  const char *style; /* what it looks like, one line */
  int nparams;       /* parameters in [0, 1] */
  /* Build the (unnormalised) parts into out (empty on entry). */
  ad3d_status (*build)(const double *u, mesh_t *out);
} proc_family;

/* The 40 families, in the order of the Anomaly-ShapeNet class list; NULL name terminates. */
extern const proc_family proc_families[];
#define PROC_NFAMILIES 40

/* Lookup by class name (NULL if unknown). */
const proc_family *proc_family_find(const char *name);

/* Build instance u (nparams values in [0, 1]; others are clamped) into *out: closed parts without
 * degenerate faces, outward-oriented, centred and scaled to a bounding-box diagonal of 1. */
ad3d_status proc_build(const proc_family *f, const double *u, mesh_t *out);

/* The parameters of one instance of class f: the class's centre (drawn from class_rng, the same for
 * every instance of the class in a dataset: uniform in [0.2, 0.8]) moved by Gaussian steps of sd
 * `variation` (0 gives the class's centre itself), clamped to [0, 1]. class_rng is copied, not
 * advanced; instance_rng is advanced. u gets f->nparams values. */
void proc_instance_params(const proc_family *f, const rng_t *class_rng, double variation, rng_t *instance_rng,
                          double *u);

/* Corpus parameters: a family drawn uniformly, its parameters uniform over [0, 1]. */
void proc_corpus_params(rng_t *rng, const proc_family **f, double *u);

#endif
