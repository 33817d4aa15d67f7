/* data.h - what Point-MAE trains on: corpora of point clouds and the paper's input pipeline.
 *
 * A corpus is an indexed list of clouds (0 .. corpus_size - 1); corpus_sample turns cloud i into one
 * training input as Point-MAE's ShapeNet-55 loader does: npoints points drawn at random (random_sample:
 * a random permutation, the first npoints), then normalised to the unit sphere (pc_norm: centroid at the
 * origin, largest distance to it 1). The trainer (train.h) then applies augment_scale_translate
 * (PointcloudScaleAndTranslate) before grouping. Every random choice comes from the rng the caller passes,
 * so a cloud's input depends only on that stream (the trainer derives it from the seed, the epoch and
 * the cloud's index: independent of ranks and of the order of loading).
 *
 * Corpus kinds (corpus_open's spec):
 *   "shapes:N" or "shapes:N:SEED"  N procedural objects: object i is the pre-training corpus shape i of
 *                  synth/synth.h (synth_corpus_mesh: one of the 40 Anomaly-ShapeNet-style families, parameters
 *                  drawn over the family's whole range from (SEED, i)); its points are drawn afresh,
 *                  area-uniformly on that mesh, at every call (an endless supply).
 *   a folder with train.txt and shapenet_pc/  ShapeNet-55 as Point-MAE ships it: the files named in
 *                  train.txt (one per line, e.g. 02691156-1021a0914a7207aff927ed529ad90a11.npy), read from
 *                  shapenet_pc/ (8192 x 3 float32 .npy each). "shapenet55:DIR:SPLIT" picks SPLIT.txt.
 *   any other folder   every .pcd and .npy cloud and .obj/.ply/.off/.stl mesh below it (recursively),
 *                      in sorted path order; a mesh is sampled area-uniformly (synth/mesh.h) each time.
 * corpus_from_clouds wraps clouds already in memory (one class's training samples, for fine-tuning).
 * Files are read when sampled (io/pcd.h, io/npy.h); nothing is cached, so a corpus larger than memory
 * works, and a bad file fails the call that reads it with a message naming it.
 */
#ifndef AD3D_NN_DATA_H
#define AD3D_NN_DATA_H

#include <stdint.h>

#include "common/cloud.h"
#include "common/rng.h"
#include "common/status.h"

typedef enum { CORPUS_SHAPES, CORPUS_SHAPENET55, CORPUS_FILES, CORPUS_CLOUDS } corpus_kind;

typedef struct corpus corpus;

/* Open a corpus from spec (above). AD3D_EINVAL (bad spec), AD3D_ENOTFOUND (no such folder, or a folder
 * with no .pcd / .npy files), AD3D_EIO, AD3D_EFORMAT (an unreadable list), AD3D_ENOMEM. */
ad3d_status corpus_open(const char *spec, corpus **out);
/* A corpus over clouds (n), borrowed: they must outlive the corpus. n >= 1, else AD3D_EINVAL. */
ad3d_status corpus_from_clouds(const cloud_t *clouds, int n, corpus **out);
void corpus_free(corpus *c);

corpus_kind corpus_get_kind(const corpus *c);
int64_t corpus_size(const corpus *c);
/* One line for logs: "412 files under data/", "ShapeNet-55 train: 41952 clouds", "1000 procedural shapes". */
const char *corpus_describe(const corpus *c);
/* The file of cloud i (file corpora) or NULL. */
const char *corpus_path(const corpus *c, int64_t i);

/* Training input i (0 <= i < corpus_size): out (npoints, 3), drawn with rng (see above). A cloud with fewer
 * than npoints points gives all of them in random order, then random repeats. AD3D_EINVAL (an empty
 * cloud, npoints < 1), and the readers' errors for file corpora. */
ad3d_status corpus_sample(const corpus *c, int64_t i, int npoints, rng_t *rng, float *out);

/* Point-MAE's pc_norm in place on pts (n, 3): subtract the centroid (double accumulation), divide by the
 * largest distance to it (left as is when that is 0). */
void pc_normalize(float *pts, int64_t n);

/* Point-MAE's PointcloudScaleAndTranslate on one cloud pts (n, 3): three scales U[2/3, 3/2) then three
 * shifts U[-0.2, 0.2) drawn from rng, x_a = x_a s_a + t_a per axis a. */
void augment_scale_translate(float *pts, int64_t n, rng_t *rng);

#endif
