/* synth.h - anomaly datasets made from meshes, the Anomaly-ShapeNet way, and a corpus of normal
 * shapes for pre-training.
 *
 * Source: the procedural class families (synth/procedural.h; each class's instances vary a little
 * around the class's own parameters) or a folder of meshes (.obj .ply .off .stl; one class per
 * file, named after the file's stem in lower case with every other character than [a-z0-9] turned
 * into '_'; every sample of a class is the same mesh). A mesh file is welded (vertices within 1e-7
 * of its diagonal; procedural parts are conforming and stay apart), then every mesh is cleaned of
 * degenerate faces, oriented, centred on its bounding box, scaled to a bounding-box diagonal of 1
 * and refined to edges of at most 1/40 of that before anything else.
 *
 * A sample: n points (uniform in [points_min, points_max]) drawn area-uniformly from the surface;
 * for an anomalous sample, from the surface carved with one defect (synth/carve.h) whose anomalous
 * part covers a fraction of the surface drawn uniformly in [coverage_min, coverage_max] (the
 * defect is redrawn with a corrected size, and at other positions, until a measurement on 20000
 * points lands inside the range; should no try land there, as on a shape too thin or small for a
 * long enough crack, the closest one is kept and the manifest shows its coverage). Labels are
 * exact (carve.h), then the points are scaled to `size`, get Gaussian noise of sd noise * size and
 * a rigid jitter (a rotation of at most jitter_deg degrees about a random axis, a shift of at most
 * jitter_shift * size), in that order.
 *
 * Layouts:
 *   anomaly_shapenet  <root>/<cls>/train/<cls>_template{k}.pcd, test/<cls>_positive{k}.pcd,
 *                     test/<cls>_<defect>{k}.pcd, GT/<cls>_<defect>{k}.txt ("x,y,z,label" rows in
 *                     the PCD's order). size defaults to 1 (bounding-box diagonal).
 *   real3d_ad         <root>/<cls>/train/<k>_template.pcd (k = 0 .. train - 1) full scans of
 *                     template_points points; test/<id>_good.pcd and test/<id>_<defect>.pcd (ids from
 *                     100 on; concavity is written as Real3D-AD's "sink"), gt/<stem>.txt ("x y z label");
 *                     millimetres (size defaults to 60, the bounding-box diagonal in mm); clouds centred
 *                     (mean subtracted). With `partial` (the default), a test sample is a partial scan:
 *                     the points visible from a random view direction (facing it, and not hidden
 *                     along it by the surface: a ray cast), drawn until n points are visible; an
 *                     anomalous sample's defect is placed where a scanner sees it (nothing along
 *                     the surface normal at its centre) and its view looks at it.
 * Binary PCD (io/pcd.h) and GT files (io/gt.h). Every sample's randomness comes from streams keyed
 * by (seed, class, stem), so a dataset is the same whatever order it is made in, and any sample can
 * be remade alone. Next to the classes: manifest.csv (one row per sample: class, split, file,
 * defect, points, anomalous points, coverage, the defect's centre, size and strength, source) and
 * synth.cfg (the resolved options), and with `previews` <cls>/previews/<defect>.png: the first
 * anomalous sample of each defect type with its ground truth (render.h).
 */
#ifndef AD3D_SYNTH_SYNTH_H
#define AD3D_SYNTH_SYNTH_H

#include <stdint.h>

#include "common/cloud.h"
#include "common/opts.h"
#include "common/rng.h"
#include "common/status.h"
#include "synth/carve.h"
#include "synth/mesh.h"

typedef enum { SYNTH_ANOMALY_SHAPENET, SYNTH_REAL3D_AD } synth_layout;

typedef struct {
  synth_layout layout;
  uint64_t seed;
  const char *meshes;      /* folder of meshes, or NULL for the procedural families */
  char **classes;          /* classes to make (procedural names or mesh stems); NULL: all */
  int nclasses;
  int train, positive, per_defect; /* samples per class: templates, normal test, anomalous per kind */
  carve_kind defects[CARVE_NKINDS]; /* the defect kinds to make */
  int ndefects;
  int64_t points_min, points_max;  /* points per sample */
  int64_t template_points;         /* real3d_ad: points of a template (full scan) */
  double coverage_min, coverage_max; /* anomalous fraction of the surface */
  double label_rel;        /* label threshold, a fraction of the defect's peak displacement */
  double rim_spacings;     /* rim of removed surface, in mean point spacings sqrt(area / n) */
  double noise;            /* Gaussian sd, a fraction of size */
  double jitter_deg, jitter_shift; /* rigid jitter: degrees, fraction of size */
  double variation;        /* procedural instance variation (sd in parameter units) */
  double size;             /* bounding-box diagonal of the output, model units (mm for real3d_ad) */
  int partial;             /* real3d_ad: partial test scans */
  int previews;            /* write <cls>/previews/<defect>.png */
  int64_t max_faces;       /* refinement guard */
} synth_config;

/* The option schema of section "synth" (see opt_spec in common/opts.h). */
extern const opt_spec synth_opt_specs[];

/* Presets: named sets of option values, applied over the defaults before a user's own options.
 *   tiny   2 templates, 2 normal and 1 anomalous test sample per defect, 1000 to 1500 points;
 *   quick  the embedded quick dataset (synth/quick.h): classes bottle0, bowl0, cup0, helmet0, vase0, 4
 *          templates, 4 normal and 1 anomalous test sample per defect type (all seven), 2000 to 3000 points;
 *   real3d the embedded real3d_ad dataset (synth/quick.h): layout real3d_ad, classes ashtray0, bag0, bottle1,
 *          bowl4, bucket1, cap0, eraser0, headset1, helmet2, microphone0, tap1, vase9, 4 templates (full scans
 *          of 60000 points), 8 good and 4 anomalous partial test scans per defect type (bulge, concavity,
 *          which the layout writes as sink) covering 0.5% to 3% of the surface (2% to 5.5% of an anomalous
 *          scan's points, by class; Real3D-AD's classes: 1.2% to 5.4%), 8000 to 30000 points, diagonal 60 mm;
 *   paper  the defaults: 4 templates, 15 normal and 4 anomalous test samples per defect, 8000 to 30000 points
 *          (the embedded anomaly_shapenet dataset: all 40 procedural classes).
 * Entries end with one whose name is NULL. */
typedef struct {
  const char *name, *help;
  const char *const *kv; /* option name, value text, ..., NULL */
} synth_preset;

extern const synth_preset synth_presets[];

/* Set preset `name`'s values in o (section "synth"). AD3D_EINVAL naming the presets for an unknown name. */
ad3d_status synth_preset_apply(opts_t *o, const char *name);

/* Resolve options (section "synth", every option of synth_opt_specs set, e.g. by
 * opts_set_defaults then overrides) into c. The strings c->meshes and c->classes point into o (o
 * must outlive c); c->classes is malloc'ed: free it with synth_config_free. AD3D_EINVAL for an
 * unknown layout, class, defect name or an inconsistent pair (points_min > points_max, ...). */
ad3d_status synth_config_from_opts(const opts_t *o, synth_config *c);
void synth_config_free(synth_config *c);

/* Called after each class with the class name, classes done and the total. */
typedef void (*synth_progress_fn)(void *ctx, const char *cls, int done, int total);

/* Write the dataset under root (created; must not exist or be empty). `o` (may be NULL) is written
 * as synth.cfg. progress may be NULL. */
ad3d_status synth_dataset_write(const synth_config *c, const opts_t *o, const char *root, synth_progress_fn progress,
                                void *ctx);

/* Per sample, what synth_sample_make made (for the manifest and tests). */
typedef struct {
  int anomalous;
  carve_kind kind;       /* anomalous only */
  double coverage;       /* measured anomalous fraction of the surface */
  carve_defect defect;   /* anomalous only: the defect, in normalised units (diagonal 1) */
  int attempts;          /* defects drawn until the coverage fitted */
} synth_sample_info;

/* One class's source, ready to make samples from. */
typedef struct {
  char *name;   /* class name */
  char *source; /* "procedural" or the mesh file's path */
  int family;   /* index into proc_families, or -1 for a mesh */
  mesh_t mesh;  /* mesh classes: the prepared mesh (normalised, refined); empty for procedural */
} synth_class;

/* Prepare class `name`: the procedural family of that name when path is NULL, else the mesh file
 * at path. */
ad3d_status synth_class_open(const synth_config *c, const char *name, const char *path, synth_class *out);
void synth_class_close(synth_class *k);

/* Make one sample of class k: split 0 train (template), 1 normal test, 2 anomalous test of kind
 * `kind`; `stem` keys its random streams. out gets the points (float32, output units) and, for
 * test samples, labels. info may be NULL. */
ad3d_status synth_sample_make(const synth_config *c, const synth_class *k, int split, carve_kind kind,
                              const char *stem, sample_t *out, synth_sample_info *info);

/* n area-uniform points xyz (n, 3) of m visible along the unit direction `view` (looking from far
 * away towards -view): points whose face normal n has n . view > 0.05 and whose ray p + t view,
 * t > 0, hits no face; drawn until n are found. AD3D_EINVAL when too little is visible. */
ad3d_status synth_visible_sample(const mesh_t *m, int64_t n, const double view[3], rng_t *rng, double *xyz);

/* ---------------------------------------------------------------- corpus */

/* Normal shapes for pre-training: each a random procedural family with parameters drawn over its
 * whole range, `points` area-uniform points scaled into the unit sphere (centred on the mean, the
 * farthest point at distance 1, as Point-MAE normalises). Shape i depends only on (seed, i). */
typedef struct {
  uint64_t seed;
  int64_t next;   /* index of the next shape */
  int64_t points;
} synth_corpus;

void synth_corpus_init(synth_corpus *s, uint64_t seed, int64_t points);
/* The next shape: its points in out (cloud_free to release) and its family name in *family. */
ad3d_status synth_corpus_next(synth_corpus *s, cloud_t *out, const char **family);

/* The mesh of corpus shape i of seed `seed` (the shape synth_corpus_next makes i-th, before sampling and
 * normalisation) in *out (mesh_free to release), its family name in *family (or NULL). */
ad3d_status synth_corpus_mesh(uint64_t seed, int64_t i, mesh_t *out, const char **family);

/* Write `count` corpus shapes as ShapeNet-55 does for Point-MAE: <root>/shapenet_pc/<name>.npy
 * ((points, 3) float32, little endian, npy 1.0), <root>/train.txt and <root>/test.txt listing the
 * file names (every tenth shape goes to test). */
ad3d_status synth_corpus_write(const char *root, uint64_t seed, int64_t count, int64_t points);

#endif
