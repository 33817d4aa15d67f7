/* synth.c - the dataset writer and the pre-training corpus (see synth.h).
 *
 * Everything a sample needs is drawn from streams keyed by (seed, class, stem, purpose): "shape"
 * (procedural instance parameters), "count", "defect" (target coverage), "draw<r>" (the defect of
 * round r), "measure" (the coverage measurement), "points<t>", "view<t>", "noise", "pose". Meshes
 * are normalised to a bounding-box diagonal of 1 while carving and sampling; `size` applies at the
 * end.
 */
#include "synth/synth.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "io/gt.h"
#include "io/pcd.h"
#include "synth/meshio.h"
#include "synth/procedural.h"
#include "synth/render.h"

#define MEASURE_POINTS 20000   /* points of a coverage measurement */
#define DRAW_ROUNDS 8          /* defect positions tried */
#define DRAW_RESIZES 8         /* size corrections per position */
#define REFINE_FRACTION 40.0   /* base meshes get edges of at most diagonal / 40 */
#define REAL3D_FIRST_TEST_ID 100

const opt_spec synth_opt_specs[] = {
    {"layout", OPT_STRING, "anomaly_shapenet", 1, 0, "Output layout: anomaly_shapenet or real3d_ad."},
    {"seed", OPT_INT, "0", 0, 1e15, "Seed of every random stream; the same seed makes the same dataset."},
    {"meshes", OPT_STRING, "", 1, 0,
     "Folder of meshes (.obj .ply .off .stl), one class per file; empty: the procedural classes."},
    {"classes", OPT_STRINGS, "", 1, 0, "Classes to make (procedural names or mesh file stems); empty: all."},
    {"train", OPT_INT, "4", 1, 10000, "Training samples (templates) per class."},
    {"positive", OPT_INT, "15", 0, 100000, "Normal test samples per class."},
    {"per_defect", OPT_INT, "4", 0, 100000, "Anomalous test samples per class and defect type."},
    {"defects", OPT_STRINGS, "bulge,concavity,hole,broken,bending,crack,scratch", 1, 0,
     "Defect types: bulge, concavity, hole, broken, bending, crack, scratch."},
    {"points_min", OPT_INT, "8000", 10, 1e9, "Fewest points per sample."},
    {"points_max", OPT_INT, "30000", 10, 1e9, "Most points per sample."},
    {"template_points", OPT_INT, "60000", 10, 1e9, "real3d_ad: points of a training template (a full scan)."},
    {"coverage_min", OPT_REAL, "0.01", 1e-4, 0.9, "Smallest fraction of the surface a defect makes anomalous."},
    {"coverage_max", OPT_REAL, "0.1", 1e-4, 0.9, "Largest fraction of the surface a defect makes anomalous."},
    {"label_rel", OPT_REAL, "0.1", 1e-3, 0.9,
     "A point is anomalous where the surface moved by more than this fraction of the defect's peak displacement."},
    {"rim", OPT_REAL, "1.5", 0, 1000,
     "Width of the anomalous rim around removed surface (hole, broken), in mean point spacings."},
    {"noise", OPT_REAL, "0", 0, 0.1, "Gaussian noise per coordinate, a fraction of size."},
    {"jitter_deg", OPT_REAL, "2", 0, 180, "Largest rotation of a sample about a random axis, degrees."},
    {"jitter_shift", OPT_REAL, "0.005", 0, 10, "Largest shift of a sample, a fraction of size."},
    {"variation", OPT_REAL, "0.02", 0, 1, "How much procedural instances of a class differ (sd of parameters in [0, 1])."},
    {"size", OPT_REAL, "0", 0, 1e9,
     "Bounding-box diagonal of the output; 0: 1 for anomaly_shapenet, 60 (millimetres) for real3d_ad."},
    {"partial", OPT_BOOL, "true", 1, 0, "real3d_ad: test samples are partial scans seen from one direction."},
    {"previews", OPT_BOOL, "false", 1, 0, "Write <class>/previews/<defect>.png: the first sample of each defect and its ground truth."},
    {"max_faces", OPT_INT, "4000000", 1000, 2e9, "Refinement stops with an error beyond this many faces."},
    {NULL, 0, NULL, 0, 0, NULL},
};

const synth_preset synth_presets[] = {
    {"tiny", "2 templates, 2 normal and 1 anomalous test sample per defect, 1000 to 1500 points",
     (const char *const[]){"train", "2", "positive", "2", "per_defect", "1", "points_min", "1000", "points_max", "1500",
                           "template_points", "3000", NULL}},
    {"quick", "the embedded quick dataset: 5 classes, 4 templates, 4 normal and 1 anomalous test sample per defect, "
              "2000 to 3000 points",
     (const char *const[]){"classes", "bottle0,bowl0,cup0,helmet0,vase0", "train", "4", "positive", "4", "per_defect",
                           "1", "points_min", "2000", "points_max", "3000", NULL}},
    {"real3d", "the embedded real3d_ad dataset: 12 classes in the real3d_ad layout, 4 full-scan templates of 60000 "
               "points, 8 good and 8 anomalous (bulge, sink) partial test scans of 8000 to 30000 points, defects "
               "covering 0.5% to 3% of the surface",
     (const char *const[]){"layout", "real3d_ad", "classes",
                           "ashtray0,bag0,bottle1,bowl4,bucket1,cap0,eraser0,headset1,helmet2,microphone0,tap1,vase9",
                           "train", "4", "positive", "8", "per_defect", "4", "defects", "bulge,concavity",
                           "coverage_min", "0.005", "coverage_max", "0.03", NULL}},
    {"paper", "the defaults: 4 templates, 15 normal and 4 anomalous test samples per defect, 8000 to 30000 points",
     (const char *const[]){NULL}},
    {NULL, NULL, NULL},
};

ad3d_status synth_preset_apply(opts_t *o, const char *name) {
  const synth_preset *p = synth_presets;
  while (p->name && strcmp(p->name, name))
    p++;
  if (!p->name) {
    char known[256] = "";
    for (p = synth_presets; p->name; p++)
      snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", p == synth_presets ? "" : ", ", p->name);
    return ad3d_fail(AD3D_EINVAL, "unknown preset \"%s\" (%s)", name, known);
  }
  for (const char *const *kv = p->kv; *kv; kv += 2) {
    const opt_spec *sp = synth_opt_specs;
    while (strcmp(sp->name, kv[0]))
      sp++;
    TRY(opts_set_text(o, "synth", sp, kv[1]));
  }
  return AD3D_OK;
}

/* ---------------------------------------------------------------- configuration */

ad3d_status synth_config_from_opts(const opts_t *o, synth_config *c) {
  memset(c, 0, sizeof *c);
  const char *layout = opts_str(o, "synth.layout");
  if (!strcmp(layout, "anomaly_shapenet"))
    c->layout = SYNTH_ANOMALY_SHAPENET;
  else if (!strcmp(layout, "real3d_ad"))
    c->layout = SYNTH_REAL3D_AD;
  else
    return ad3d_fail(AD3D_EINVAL, "synth.layout: unknown layout \"%s\" (anomaly_shapenet or real3d_ad)", layout);
  c->seed = (uint64_t)opts_int(o, "synth.seed");
  const char *meshes = opts_str(o, "synth.meshes");
  c->meshes = *meshes ? meshes : NULL;
  const opt_value *cl = opts_list(o, "synth.classes");
  if (cl->nlist > 0) {
    c->classes = malloc((size_t)cl->nlist * sizeof *c->classes);
    if (!c->classes)
      return ad3d_fail(AD3D_ENOMEM, "out of memory");
    memcpy(c->classes, cl->list, (size_t)cl->nlist * sizeof *c->classes);
    c->nclasses = cl->nlist;
  }
  c->train = (int)opts_int(o, "synth.train");
  c->positive = (int)opts_int(o, "synth.positive");
  c->per_defect = (int)opts_int(o, "synth.per_defect");
  const opt_value *dl = opts_list(o, "synth.defects");
  for (int i = 0; i < dl->nlist; i++) {
    carve_kind k;
    ad3d_status st = carve_kind_parse(dl->list[i], &k);
    if (st) {
      synth_config_free(c);
      return ad3d_fail(AD3D_EINVAL, "synth.defects: %s", ad3d_errmsg());
    }
    for (int j = 0; j < c->ndefects; j++)
      if (c->defects[j] == k) {
        synth_config_free(c);
        return ad3d_fail(AD3D_EINVAL, "synth.defects: \"%s\" is listed twice", dl->list[i]);
      }
    if (c->ndefects == CARVE_NKINDS) {
      synth_config_free(c);
      return ad3d_fail(AD3D_EINVAL, "synth.defects: too many entries");
    }
    c->defects[c->ndefects++] = k;
  }
  c->points_min = opts_int(o, "synth.points_min");
  c->points_max = opts_int(o, "synth.points_max");
  c->template_points = opts_int(o, "synth.template_points");
  c->coverage_min = opts_real(o, "synth.coverage_min");
  c->coverage_max = opts_real(o, "synth.coverage_max");
  c->label_rel = opts_real(o, "synth.label_rel");
  c->rim_spacings = opts_real(o, "synth.rim");
  c->noise = opts_real(o, "synth.noise");
  c->jitter_deg = opts_real(o, "synth.jitter_deg");
  c->jitter_shift = opts_real(o, "synth.jitter_shift");
  c->variation = opts_real(o, "synth.variation");
  c->size = opts_real(o, "synth.size");
  if (c->size == 0)
    c->size = c->layout == SYNTH_REAL3D_AD ? 60.0 : 1.0;
  c->partial = opts_bool(o, "synth.partial");
  c->previews = opts_bool(o, "synth.previews");
  c->max_faces = opts_int(o, "synth.max_faces");
  const char *bad = NULL;
  if (c->points_min > c->points_max)
    bad = "points_min exceeds points_max";
  else if (c->coverage_min > c->coverage_max)
    bad = "coverage_min exceeds coverage_max";
  else if (c->ndefects == 0 && c->per_defect > 0)
    bad = "per_defect > 0 needs at least one defect type";
  if (bad) {
    synth_config_free(c);
    return ad3d_fail(AD3D_EINVAL, "synth: %s", bad);
  }
  return AD3D_OK;
}

void synth_config_free(synth_config *c) {
  if (!c)
    return;
  free(c->classes);
  c->classes = NULL;
  c->nclasses = 0;
}

/* ---------------------------------------------------------------- streams and small helpers */

static void stream(rng_t *r, const synth_config *c, const char *cls, const char *stem, const char *what) {
  char key[512];
  snprintf(key, sizeof key, "synth/%s/%s/%s", cls, stem, what);
  rng_seed_key(r, c->seed, key);
}

static double uniform(rng_t *r, double lo, double hi) { return lo + (hi - lo) * rng_uniform(r); }

static void random_unit(rng_t *r, double *u) {
  double l;
  do {
    for (int a = 0; a < 3; a++)
      u[a] = rng_normal(r);
    l = sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]);
  } while (!(l > 1e-12));
  for (int a = 0; a < 3; a++)
    u[a] /= l;
}

/* Weld (when asked: procedural parts are conforming and must not be welded to each other), clean,
 * orient, centre, scale to diagonal 1 and refine a mesh in place. */
static ad3d_status mesh_prepare(mesh_t *m, const char *what, int weld, int64_t max_faces) {
  TRY(mesh_validate(m, what));
  double lo[3], hi[3];
  mesh_bbox(m, lo, hi);
  double diag = sqrt((hi[0] - lo[0]) * (hi[0] - lo[0]) + (hi[1] - lo[1]) * (hi[1] - lo[1]) +
                     (hi[2] - lo[2]) * (hi[2] - lo[2]));
  if (!(diag > 0))
    return ad3d_fail(AD3D_EFORMAT, "%s: the mesh has no extent", what);
  if (weld)
    TRY(mesh_weld(m, 1e-7 * diag, NULL));
  TRY(mesh_drop_degenerate(m, 1e-14 * diag * diag, NULL));
  if (m->nf == 0)
    return ad3d_fail(AD3D_EFORMAT, "%s: no face left after removing degenerate ones", what);
  TRY(mesh_orient(m, NULL));
  mesh_bbox(m, lo, hi);
  const double A[9] = {1 / diag, 0, 0, 0, 1 / diag, 0, 0, 0, 1 / diag};
  const double t[3] = {-0.5 * (lo[0] + hi[0]) / diag, -0.5 * (lo[1] + hi[1]) / diag, -0.5 * (lo[2] + hi[2]) / diag};
  mesh_transform(m, A, t);
  ad3d_status st = mesh_refine(m, 1.0 / REFINE_FRACTION, NULL, NULL, max_faces);
  return st ? ad3d_fail_context(st, "%s", what) : AD3D_OK;
}

/* ---------------------------------------------------------------- classes */

ad3d_status synth_class_open(const synth_config *c, const char *name, const char *path, synth_class *out) {
  memset(out, 0, sizeof *out);
  out->family = -1;
  out->name = xstrdup(name);
  out->source = xstrdup(path ? path : "procedural");
  ad3d_status st = AD3D_OK;
  if (!out->name || !out->source) {
    st = AD3D_ENOMEM;
    goto fail;
  }
  if (!path) {
    const proc_family *f = proc_family_find(name);
    if (!f) {
      st = ad3d_fail(AD3D_ENOTFOUND, "unknown procedural class \"%s\" (see `ad3d synth --list`)", name);
      goto fail;
    }
    out->family = (int)(f - proc_families);
    return AD3D_OK;
  }
  if ((st = mesh_read(path, &out->mesh)) || (st = mesh_prepare(&out->mesh, path, 1, c->max_faces)))
    goto fail;
  return AD3D_OK;
fail:
  synth_class_close(out);
  return st;
}

void synth_class_close(synth_class *k) {
  if (!k)
    return;
  free(k->name);
  free(k->source);
  mesh_free(&k->mesh);
  memset(k, 0, sizeof *k);
}

/* The surface of one sample: the class's mesh, or a fresh procedural instance in *own. */
static ad3d_status instance_mesh(const synth_config *c, const synth_class *k, const char *stem, mesh_t *own,
                                 const mesh_t **m) {
  memset(own, 0, sizeof *own);
  if (k->family < 0) {
    *m = &k->mesh;
    return AD3D_OK;
  }
  const proc_family *f = &proc_families[k->family];
  rng_t cls, inst;
  double u[PROC_MAX_PARAMS];
  stream(&cls, c, k->name, "", "class");
  stream(&inst, c, k->name, stem, "shape");
  proc_instance_params(f, &cls, c->variation, &inst, u);
  TRY(proc_build(f, u, own));
  ad3d_status st = mesh_prepare(own, f->name, 0, c->max_faces);
  if (st) {
    mesh_free(own);
    return st;
  }
  *m = own;
  return AD3D_OK;
}

/* ---------------------------------------------------------------- points */

/* Draw n points of a surface into xyz (n, 3), with labels when carved is set: from the carved
 * surface (carved != NULL) or from mesh m. With view != NULL only points visible along view are
 * kept (facing it, nothing in the way), drawing until n are found. */
static ad3d_status draw_points(const mesh_t *m, const carved_t *carved, int64_t n, const double *view, rng_t *r,
                               double *xyz, uint8_t *labels) {
  const mesh_t *surf = carved ? &carved->mesh : m;
  mesh_sampler own = {0};
  mesh_bvh bvh = {0};
  const mesh_sampler *s = carved ? &carved->sampler : &own;
  ad3d_status st = AD3D_OK;
  if (!carved && (st = mesh_sampler_init(&own, m)))
    return st;
  if (view && (st = mesh_bvh_build(&bvh, surf)))
    goto cleanup;
  int64_t kept = 0, drawn = 0;
  while (kept < n) {
    if (view && drawn > 200 * n + 100000) {
      st = ad3d_fail(AD3D_EINVAL, "a partial view sees too little of the surface (%lld of %lld points drawn visible)",
                     (long long)kept, (long long)drawn);
      goto cleanup;
    }
    double p[3], nrm[3];
    int32_t face;
    mesh_sampler_draw(s, 1, r, p, nrm, &face, NULL);
    drawn++;
    if (view) {
      double f = nrm[0] * view[0] + nrm[1] * view[1] + nrm[2] * view[2];
      if (f <= 0.05)
        continue;
      double o[3] = {p[0] + 1e-6 * view[0], p[1] + 1e-6 * view[1], p[2] + 1e-6 * view[2]};
      if (isfinite(mesh_bvh_ray(&bvh, o, view, 0.0, INFINITY)))
        continue;
    }
    memcpy(xyz + 3 * kept, p, sizeof p);
    if (labels)
      labels[kept] = carved ? (uint8_t)carved_label(carved, p, face) : 0;
    kept++;
  }
cleanup:
  mesh_sampler_free(&own);
  mesh_bvh_free(&bvh);
  return st;
}

/* Scale, noise, rigid jitter (and centring for real3d_ad) into float32. */
ad3d_status synth_visible_sample(const mesh_t *m, int64_t n, const double view[3], rng_t *rng, double *xyz) {
  return draw_points(m, NULL, n, view, rng, xyz, NULL);
}

static void finish_points(const synth_config *c, const char *cls, const char *stem, const double *xyz, int64_t n,
                          float *out) {
  rng_t rn, rp;
  stream(&rn, c, cls, stem, "noise");
  stream(&rp, c, cls, stem, "pose");
  double axis[3], shift[3], ang = c->jitter_deg * M_PI / 180.0 * rng_uniform(&rp);
  random_unit(&rp, axis);
  random_unit(&rp, shift);
  double sm = c->jitter_shift * c->size * rng_uniform(&rp);
  double cs = cos(ang), sn = sin(ang), mean[3] = {0, 0, 0};
  for (int64_t i = 0; i < n; i++) {
    double p[3], q[3];
    for (int a = 0; a < 3; a++)
      p[a] = xyz[3 * i + a] * c->size + (c->noise > 0 ? c->noise * c->size * rng_normal(&rn) : 0.0);
    double ad = axis[0] * p[0] + axis[1] * p[1] + axis[2] * p[2];
    double ax[3] = {axis[1] * p[2] - axis[2] * p[1], axis[2] * p[0] - axis[0] * p[2], axis[0] * p[1] - axis[1] * p[0]};
    for (int a = 0; a < 3; a++) {
      q[a] = p[a] * cs + ax[a] * sn + axis[a] * ad * (1 - cs) + sm * shift[a];
      out[3 * i + a] = (float)q[a];
      mean[a] += q[a];
    }
  }
  if (c->layout == SYNTH_REAL3D_AD && n > 0)
    for (int64_t i = 0; i < n; i++)
      for (int a = 0; a < 3; a++)
        out[3 * i + a] = (float)(out[3 * i + a] - mean[a] / (double)n);
}

/* The view of a partial scan (try `attempt`): random, or towards a defect's normal plus a tilt. */
static void view_direction(const synth_config *c, const char *cls, const char *stem, int attempt,
                           const double *towards, double *view) {
  char what[32];
  rng_t r;
  snprintf(what, sizeof what, "view%d", attempt);
  stream(&r, c, cls, stem, what);
  random_unit(&r, view);
  if (towards) { /* look at the defect: its normal plus a random tilt */
    for (int a = 0; a < 3; a++)
      view[a] = towards[a] + 0.6 * view[a];
    double l = sqrt(view[0] * view[0] + view[1] * view[1] + view[2] * view[2]);
    for (int a = 0; a < 3; a++)
      view[a] /= l;
  }
}

static int64_t point_count(const synth_config *c, const char *cls, const char *stem, int split) {
  if (c->layout == SYNTH_REAL3D_AD && split == 0)
    return c->template_points;
  rng_t r;
  stream(&r, c, cls, stem, "count");
  return c->points_min + (int64_t)rng_below(&r, (uint64_t)(c->points_max - c->points_min + 1));
}

/* ---------------------------------------------------------------- samples */

/* Can a scanner see the surface at the defect's centre (nothing along its normal)? Bending and
 * broken defects sit at extremities and are not checked. */
static int defect_visible(const carve_base *b, const carve_defect *d) {
  if (d->kind == CARVE_BENDING || d->kind == CARVE_BROKEN)
    return 1;
  double o[3];
  for (int a = 0; a < 3; a++)
    o[a] = d->centre[a] + 1e-6 * d->normal[a];
  return !isfinite(mesh_bvh_ray(&b->bvh, o, d->normal, 0.0, INFINITY));
}

typedef struct {
  const synth_config *c;
  const mesh_t *m;
  const char *cls, *stem;
  carve_kind kind;
  int visible;
  carve_base b;
  carve_options o;
  uint8_t *lab;  /* (MEASURE_POINTS) */
  double *xyz;   /* (MEASURE_POINTS, 3) */
} fit_ctx;

/* Draw the defect of round `round` at coverage guess `guess`, carve and measure it. AD3D_EINVAL:
 * this position does not work (out stays empty). */
static ad3d_status fit_try(fit_ctx *f, int round, double guess, carved_t *out, carve_defect *d, double *coverage,
                           int64_t *nl) {
  char what[32];
  rng_t r, rm;
  snprintf(what, sizeof what, "draw%d", round);
  stream(&r, f->c, f->cls, f->stem, what);
  TRY(carve_draw(&f->b, f->kind, guess, &f->o, &r, d));
  if (f->visible && !defect_visible(&f->b, d))
    return ad3d_fail(AD3D_EINVAL, "%s: the defect faces the inside of the shape", f->stem);
  TRY(carve_apply(f->m, d, f->c->max_faces, out));
  stream(&rm, f->c, f->cls, f->stem, "measure");
  carved_sample(out, MEASURE_POINTS, &rm, f->xyz, NULL, f->lab, nl);
  *coverage = carved_coverage(out, MEASURE_POINTS, *nl);
  return AD3D_OK;
}

/* How far a coverage lies outside [lo, hi], on a log scale (0 inside). */
static double coverage_miss(double cov, double lo, double hi) {
  if (!(cov > 0))
    return INFINITY;
  return cov < lo ? log(lo / cov) : cov > hi ? log(cov / hi) : 0.0;
}

/* Carve a defect of `kind` into m whose coverage lands in the configured range; with `visible`,
 * only where a scanner looking along the surface's normal would see it. Positions (rounds) are
 * tried from *round0 on, each with up to DRAW_RESIZES size corrections; *round0 gets the round
 * after the one kept. When no try lands in the range (a thin or small shape may not hold a long
 * enough crack, say), the closest one is kept and its coverage reported as it is. */
static ad3d_status carve_fitted(const synth_config *c, const mesh_t *m, const char *cls, const char *stem,
                                carve_kind kind, int64_t n, int visible, int *round0, carved_t *out, carve_defect *d,
                                double *coverage, int *attempts) {
  fit_ctx f;
  memset(&f, 0, sizeof f);
  f.c = c;
  f.m = m;
  f.cls = cls;
  f.stem = stem;
  f.kind = kind;
  f.visible = visible;
  TRY(carve_base_init(&f.b, m));
  rng_t rt;
  stream(&rt, c, cls, stem, "defect");
  double target = uniform(&rt, c->coverage_min, c->coverage_max), best_miss = INFINITY, best_guess = 0, last = -1;
  int best_round = -1;
  f.o.label_rel = c->label_rel;
  f.o.rim = c->rim_spacings * sqrt(f.b.area / (double)n);
  f.lab = malloc(MEASURE_POINTS);
  f.xyz = malloc(MEASURE_POINTS * 3 * sizeof *f.xyz);
  ad3d_status st = AD3D_OK;
  int64_t nl;
  if (!f.lab || !f.xyz) {
    st = ad3d_fail(AD3D_ENOMEM, "out of memory measuring a defect");
    goto cleanup;
  }
  for (int round = *round0; round < DRAW_ROUNDS; round++) {
    *round0 = round + 1; /* where a caller that rejects this defect goes on */
    double guess = target;
    for (int t = 0; t < DRAW_RESIZES; t++) {
      (*attempts)++;
      st = fit_try(&f, round, guess, out, d, &last, &nl);
      if (st == AD3D_EINVAL) { /* this position does not work: try another one */
        ad3d_clear_error();
        st = AD3D_OK;
        break;
      }
      if (st)
        goto cleanup;
      double miss = nl > 0 ? coverage_miss(last, c->coverage_min, c->coverage_max) : INFINITY;
      if (miss == 0) {
        *coverage = last;
        goto cleanup;
      }
      if (miss < best_miss) {
        best_miss = miss;
        best_round = round;
        best_guess = guess;
      }
      carved_free(out);
      double step = last > 0 ? target / last : 3.0;
      guess *= step < 1.0 / 3 ? 1.0 / 3 : step > 3 ? 3 : step;
      guess = guess > 0.9 ? 0.9 : guess;
    }
  }
  if (best_round < 0) {
    st = ad3d_fail(AD3D_EINVAL, "%s: no %s defect could be carved in %d tries", stem, carve_kind_name(kind),
                   *attempts);
    goto cleanup;
  }
  (*attempts)++; /* the closest try, again */
  if ((st = fit_try(&f, best_round, best_guess, out, d, coverage, &nl)))
    goto cleanup;
  *round0 = DRAW_ROUNDS;
cleanup:
  free(f.lab);
  free(f.xyz);
  carve_base_free(&f.b);
  return st;
}

static const char *defect_file_name(const synth_config *c, carve_kind k) {
  if (c->layout == SYNTH_REAL3D_AD && k == CARVE_CONCAVITY)
    return "sink";
  return carve_kind_name(k);
}

ad3d_status synth_sample_make(const synth_config *c, const synth_class *k, int split, carve_kind kind,
                              const char *stem, sample_t *out, synth_sample_info *info) {
  memset(out, 0, sizeof *out);
  synth_sample_info si;
  memset(&si, 0, sizeof si);
  mesh_t own;
  const mesh_t *m;
  carved_t carved;
  memset(&carved, 0, sizeof carved);
  double *xyz = NULL;
  uint8_t *labels = NULL;
  TRY(instance_mesh(c, k, stem, &own, &m));
  ad3d_status st = AD3D_OK;
  int64_t n = point_count(c, k->name, stem, split);
  int partial = c->layout == SYNTH_REAL3D_AD && c->partial && split > 0;
  xyz = malloc((size_t)n * 3 * sizeof *xyz);
  labels = malloc((size_t)n);
  if (!xyz || !labels) {
    st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory for %lld points", stem, (long long)n);
    goto cleanup;
  }
  int round = 0;
  for (int fitted = 0;; fitted++) {
    if (split == 2) {
      si.anomalous = 1;
      si.kind = kind;
      carved_free(&carved);
      if ((st = carve_fitted(c, m, k->name, stem, kind, n, partial, &round, &carved, &si.defect, &si.coverage,
                             &si.attempts)))
        goto cleanup;
    }
    int64_t nl = 0;
    for (int t = 0; t < 10; t++) { /* an anomalous sample must show some anomalous point */
      char what[32];
      rng_t r;
      double view[3];
      snprintf(what, sizeof what, "points%d.%d", fitted, t);
      stream(&r, c, k->name, stem, what);
      if (partial) /* look at the defect; after 5 tries that saw none of it, from anywhere */
        view_direction(c, k->name, stem, 10 * fitted + t, split == 2 && t < 5 ? si.defect.normal : NULL, view);
      if ((st = draw_points(m, split == 2 ? &carved : NULL, n, partial ? view : NULL, &r, xyz, labels)))
        goto cleanup;
      nl = 0;
      for (int64_t i = 0; i < n; i++)
        nl += labels[i];
      if (split < 2 || nl > 0)
        break;
    }
    if (split < 2 || nl > 0)
      break;
    if (round >= DRAW_ROUNDS) { /* every position tried: none shows in the points */
      st = ad3d_fail(AD3D_EINVAL, "%s: no anomalous point among %lld in 10 draws (coverage %g)", stem, (long long)n,
                     si.coverage);
      goto cleanup;
    }
  }
  if ((st = cloud_alloc(&out->cloud, n)))
    goto cleanup;
  finish_points(c, k->name, stem, xyz, n, out->cloud.xyz);
  out->name = xstrdup(stem);
  out->defect = xstrdup(split == 2 ? defect_file_name(c, kind) : "good");
  out->anomalous = split == 2;
  if (!out->name || !out->defect) {
    st = AD3D_ENOMEM;
    goto cleanup;
  }
  if (split > 0) {
    out->labels = labels;
    labels = NULL;
  }
  if (info)
    *info = si;
cleanup:
  if (st)
    sample_free(out);
  carved_free(&carved);
  mesh_free(&own);
  free(xyz);
  free(labels);
  return st;
}

/* ---------------------------------------------------------------- the dataset */

/* A class name from a mesh file name: the stem in lower case, other characters than [a-z0-9] -> '_'. */
static char *class_from_file(const char *file) {
  char *s = xstrdup(file);
  if (!s)
    return NULL;
  char *dot = strrchr(s, '.');
  if (dot)
    *dot = '\0';
  for (char *p = s; *p; p++) {
    *p = (char)tolower((unsigned char)*p);
    if (!isalnum((unsigned char)*p))
      *p = '_';
  }
  return s;
}

/* The classes to make: names (and mesh paths, NULL for procedural), n of them. */
static ad3d_status classes_list(const synth_config *c, char ***names, char ***paths, int *n) {
  *names = *paths = NULL;
  *n = 0;
  char **files = NULL;
  int nfiles = 0, cap;
  ad3d_status st = AD3D_OK;
  if (c->meshes) {
    TRY(list_dir(c->meshes, NULL, &files, &nfiles));
    cap = nfiles;
  } else {
    cap = PROC_NFAMILIES;
  }
  *names = calloc((size_t)cap + 1, sizeof **names);
  *paths = calloc((size_t)cap + 1, sizeof **paths);
  if (!*names || !*paths) {
    st = ad3d_fail(AD3D_ENOMEM, "out of memory");
    goto cleanup;
  }
  for (int i = 0; i < cap; i++) {
    char *name, *path = NULL;
    if (c->meshes) {
      if (mesh_format_from_path(files[i]) == MESH_FORMAT_UNKNOWN)
        continue;
      name = class_from_file(files[i]);
      path = str_printf("%s/%s", c->meshes, files[i]);
    } else {
      name = xstrdup(proc_families[i].name);
    }
    int wanted = c->nclasses == 0;
    for (int j = 0; j < c->nclasses && name; j++)
      wanted |= !strcmp(c->classes[j], name);
    for (int j = 0; j < *n && name && wanted; j++)
      if (!strcmp((*names)[j], name)) {
        st = ad3d_fail(AD3D_EINVAL, "%s: two mesh files make class \"%s\"", c->meshes, name);
        free(name);
        free(path);
        goto cleanup;
      }
    if (!name || (c->meshes && !path)) {
      free(name);
      free(path);
      st = AD3D_ENOMEM;
      goto cleanup;
    }
    if (!wanted) {
      free(name);
      free(path);
      continue;
    }
    (*names)[*n] = name;
    (*paths)[*n] = path;
    (*n)++;
  }
  for (int j = 0; j < c->nclasses; j++) {
    int found = 0;
    for (int i = 0; i < *n; i++)
      found |= !strcmp((*names)[i], c->classes[j]);
    if (!found) {
      st = ad3d_fail(AD3D_ENOTFOUND, "class \"%s\" is not %s", c->classes[j],
                     c->meshes ? "a mesh file stem in the meshes folder" : "a procedural class");
      goto cleanup;
    }
  }
  if (*n == 0)
    st = ad3d_fail(AD3D_ENOTFOUND, "%s: no mesh files (.obj .ply .off .stl)", c->meshes ? c->meshes : "procedural");
cleanup:
  strv_free(files, nfiles);
  if (st) {
    strv_free(*names, *n);
    strv_free(*paths, *n);
    *names = *paths = NULL;
    *n = 0;
  }
  return st;
}

static ad3d_status write_config(const char *root, const opts_t *o) {
  char *path = str_printf("%s/synth.cfg", root);
  if (!path)
    return AD3D_ENOMEM;
  FILE *f = fopen(path, "w");
  if (!f) {
    ad3d_status st = ad3d_fail(AD3D_EIO, "%s: cannot create: %s", path, strerror(errno));
    free(path);
    return st;
  }
  fprintf(f, "# ad3d synth: the options this dataset was made with\nsynth = {\n");
  for (int i = 0; o && i < o->n; i++) {
    const opt_value *v = &o->v[i];
    if (strncmp(v->key, "synth.", 6))
      continue;
    char buf[4096];
    opt_value_format(v, buf, sizeof buf);
    fprintf(f, "  %s = %s;\n", v->key + 6, buf);
  }
  fprintf(f, "};\n");
  int bad = ferror(f);
  bad |= fclose(f) != 0;
  ad3d_status st = bad ? ad3d_fail(AD3D_EIO, "%s: write error", path) : AD3D_OK;
  free(path);
  return st;
}

typedef struct {
  const synth_config *c;
  const char *root;
  FILE *manifest;
  int preview_done[CARVE_NKINDS];
} writer;

/* Defect size (a length) and strength for the manifest, in output units (degrees for bending). */
static void defect_summary(const synth_config *c, const synth_sample_info *si, double *size, double *strength) {
  const carve_defect *d = &si->defect;
  *size = *strength = 0;
  switch (si->kind) {
  case CARVE_BULGE:
  case CARVE_CONCAVITY:
    *size = d->radius * c->size;
    *strength = d->amplitude * c->size;
    break;
  case CARVE_HOLE:
    *size = d->radius * c->size;
    break;
  case CARVE_BROKEN:
    *size = d->depth * c->size;
    break;
  case CARVE_BENDING:
    *size = d->width * c->size;
    *strength = d->amplitude * 180.0 / M_PI;
    break;
  case CARVE_CRACK:
  case CARVE_SCRATCH: {
    double l = 0;
    for (int i = 1; i < d->npath; i++)
      l += hypot(d->path[i][0] - d->path[i - 1][0], d->path[i][1] - d->path[i - 1][1]);
    *size = l * c->size;
    *strength = d->amplitude * c->size;
    break;
  }
  }
}

static ad3d_status write_sample(writer *w, const synth_class *k, int split, carve_kind kind, const char *stem) {
  const synth_config *c = w->c;
  int real3d = c->layout == SYNTH_REAL3D_AD;
  sample_t s;
  synth_sample_info si;
  TRY(synth_sample_make(c, k, split, kind, stem, &s, &si));
  ad3d_status st = AD3D_OK;
  const char *sub = split == 0 ? "train" : "test";
  char *pcd = str_printf("%s/%s/%s/%s.pcd", w->root, k->name, sub, stem);
  char *gt = str_printf("%s/%s/%s/%s.txt", w->root, k->name, real3d ? "gt" : "GT", stem);
  char *png = NULL;
  if (!pcd || !gt) {
    st = AD3D_ENOMEM;
    goto cleanup;
  }
  if ((st = pcd_write(pcd, &s.cloud, PCD_BINARY)) || (s.anomalous && (st = gt_write(gt, &s.cloud, s.labels, real3d ? ' ' : ','))))
    goto cleanup;
  int64_t nl = 0;
  for (int64_t i = 0; s.labels && i < s.cloud.n; i++)
    nl += s.labels[i];
  double size, strength;
  defect_summary(c, &si, &size, &strength);
  fprintf(w->manifest, "%s,%s,%s/%s/%s.pcd,%s,%lld,%lld,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%d,%s\n", k->name, sub, k->name,
          sub, stem, s.defect, (long long)s.cloud.n, (long long)nl, si.coverage, si.defect.centre[0] * c->size,
          si.defect.centre[1] * c->size, si.defect.centre[2] * c->size, size, strength, si.attempts, k->source);
  if (c->previews && s.anomalous && !w->preview_done[kind]) {
    render_view v = render_view_towards(si.defect.normal);
    png = str_printf("%s/%s/previews/%s.png", w->root, k->name, carve_kind_name(kind));
    if (!png) {
      st = AD3D_ENOMEM;
      goto cleanup;
    }
    if ((st = render_sample_png(png, s.cloud.xyz, s.cloud.n, NULL, s.labels, 480, &v)))
      goto cleanup;
    w->preview_done[kind] = 1;
  }
cleanup:
  sample_free(&s);
  free(pcd);
  free(gt);
  free(png);
  return st;
}

static ad3d_status write_class(writer *w, const synth_class *k) {
  const synth_config *c = w->c;
  int real3d = c->layout == SYNTH_REAL3D_AD;
  const char *subs[4] = {"train", "test", real3d ? "gt" : "GT", "previews"};
  char stem[256];
  for (int i = 0; i < (c->previews ? 4 : 3); i++) {
    char *dir = str_printf("%s/%s/%s", w->root, k->name, subs[i]);
    if (!dir)
      return AD3D_ENOMEM;
    ad3d_status st = mkdir_p(dir);
    free(dir);
    TRY(st);
  }
  memset(w->preview_done, 0, sizeof w->preview_done);
  for (int i = 0; i < c->train; i++) {
    if (real3d)
      snprintf(stem, sizeof stem, "%d_template", i);
    else
      snprintf(stem, sizeof stem, "%s_template%d", k->name, i);
    TRY(write_sample(w, k, 0, CARVE_BULGE, stem));
  }
  int id = REAL3D_FIRST_TEST_ID;
  for (int i = 0; i < c->positive; i++) {
    if (real3d)
      snprintf(stem, sizeof stem, "%d_good", id++);
    else
      snprintf(stem, sizeof stem, "%s_positive%d", k->name, i);
    TRY(write_sample(w, k, 1, CARVE_BULGE, stem));
  }
  for (int d = 0; d < c->ndefects; d++)
    for (int i = 0; i < c->per_defect; i++) {
      if (real3d)
        snprintf(stem, sizeof stem, "%d_%s", id++, defect_file_name(c, c->defects[d]));
      else
        snprintf(stem, sizeof stem, "%s_%s%d", k->name, carve_kind_name(c->defects[d]), i);
      TRY(write_sample(w, k, 2, c->defects[d], stem));
    }
  return AD3D_OK;
}

ad3d_status synth_dataset_write(const synth_config *c, const opts_t *o, const char *root, synth_progress_fn progress,
                                void *ctx) {
  if (is_dir(root)) {
    char **names;
    int n;
    TRY(list_dir(root, NULL, &names, &n));
    strv_free(names, n);
    if (n > 0)
      return ad3d_fail(AD3D_EINVAL, "%s: folder is not empty; a dataset is written only into a new or empty folder",
                       root);
  }
  char **names, **paths;
  int n;
  TRY(classes_list(c, &names, &paths, &n));
  writer w;
  memset(&w, 0, sizeof w);
  w.c = c;
  w.root = root;
  char *mpath = NULL;
  ad3d_status st;
  if ((st = mkdir_p(root)) || (st = write_config(root, o)))
    goto cleanup;
  mpath = str_printf("%s/manifest.csv", root);
  if (!mpath) {
    st = AD3D_ENOMEM;
    goto cleanup;
  }
  w.manifest = fopen(mpath, "w");
  if (!w.manifest) {
    st = ad3d_fail(AD3D_EIO, "%s: cannot create: %s", mpath, strerror(errno));
    goto cleanup;
  }
  fprintf(w.manifest, "class,split,file,defect,points,anomalous_points,coverage,centre_x,centre_y,centre_z,size,"
                      "strength,attempts,source\n");
  for (int i = 0; i < n; i++) {
    synth_class k;
    if ((st = synth_class_open(c, names[i], paths[i], &k)))
      goto cleanup;
    st = write_class(&w, &k);
    synth_class_close(&k);
    if (st) {
      st = ad3d_fail_context(st, "class %s", names[i]);
      goto cleanup;
    }
    if (fflush(w.manifest) != 0) {
      st = ad3d_fail(AD3D_EIO, "%s: write error: %s", mpath, strerror(errno));
      goto cleanup;
    }
    if (progress)
      progress(ctx, names[i], i + 1, n);
  }
cleanup:
  if (w.manifest && fclose(w.manifest) != 0 && !st)
    st = ad3d_fail(AD3D_EIO, "%s: write error", mpath);
  free(mpath);
  strv_free(names, n);
  strv_free(paths, n);
  return st;
}

/* ---------------------------------------------------------------- corpus */

void synth_corpus_init(synth_corpus *s, uint64_t seed, int64_t points) {
  s->seed = seed;
  s->next = 0;
  s->points = points;
}

/* Corpus shape i's stream r, family *f and parameters u (drawn first from r; its points come after). */
static void corpus_shape_draw(uint64_t seed, int64_t i, rng_t *r, const proc_family **f, double *u) {
  char key[64];
  snprintf(key, sizeof key, "synth-corpus/%lld", (long long)i);
  rng_seed_key(r, seed, key);
  proc_corpus_params(r, f, u);
}

ad3d_status synth_corpus_mesh(uint64_t seed, int64_t i, mesh_t *out, const char **family) {
  rng_t r;
  const proc_family *f;
  double u[PROC_MAX_PARAMS];
  corpus_shape_draw(seed, i, &r, &f, u);
  if (family)
    *family = f->name;
  return proc_build(f, u, out);
}

ad3d_status synth_corpus_next(synth_corpus *s, cloud_t *out, const char **family) {
  out->n = 0;
  out->xyz = NULL;
  rng_t r;
  const proc_family *f;
  double u[PROC_MAX_PARAMS];
  corpus_shape_draw(s->seed, s->next++, &r, &f, u);
  mesh_t m;
  TRY(proc_build(f, u, &m));
  mesh_sampler sm;
  double *xyz = malloc((size_t)(s->points > 0 ? s->points : 1) * 3 * sizeof *xyz);
  ad3d_status st = xyz ? mesh_sampler_init(&sm, &m) : ad3d_fail(AD3D_ENOMEM, "out of memory for a corpus shape");
  if (st)
    goto cleanup;
  mesh_sampler_draw(&sm, s->points, &r, xyz, NULL, NULL, NULL);
  mesh_sampler_free(&sm);
  double mean[3] = {0, 0, 0}, far = 0;
  for (int64_t i = 0; i < s->points; i++)
    for (int a = 0; a < 3; a++)
      mean[a] += xyz[3 * i + a] / (double)s->points;
  for (int64_t i = 0; i < s->points; i++) {
    double d2 = 0;
    for (int a = 0; a < 3; a++) {
      xyz[3 * i + a] -= mean[a];
      d2 += xyz[3 * i + a] * xyz[3 * i + a];
    }
    far = d2 > far ? d2 : far;
  }
  far = far > 0 ? sqrt(far) : 1.0;
  if ((st = cloud_alloc(out, s->points)))
    goto cleanup;
  for (int64_t i = 0; i < 3 * s->points; i++)
    out->xyz[i] = (float)(xyz[i] / far);
  if (family)
    *family = f->name;
cleanup:
  free(xyz);
  mesh_free(&m);
  return st;
}

/* A (n, 3) float32 little-endian .npy file, format 1.0. */
static ad3d_status npy_write_cloud(const char *path, const cloud_t *c) {
  char dict[128];
  int dl = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%lld, 3), }",
                    (long long)c->n);
  int total = 10 + dl + 1, pad = (64 - total % 64) % 64; /* magic, version, length; dict; '\n' */
  FILE *f = fopen(path, "wb");
  if (!f)
    return ad3d_fail(AD3D_EIO, "%s: cannot create: %s", path, strerror(errno));
  uint16_t hl = (uint16_t)(dl + pad + 1);
  unsigned char head[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hl & 0xff), (unsigned char)(hl >> 8)};
  int ok = fwrite(head, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)dl, f) == (size_t)dl;
  for (int i = 0; ok && i < pad; i++)
    ok = fputc(' ', f) != EOF;
  ok = ok && fputc('\n', f) != EOF;
  for (int64_t i = 0; ok && i < 3 * c->n; i++) {
    uint32_t u;
    memcpy(&u, &c->xyz[i], 4);
    unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16), (unsigned char)(u >> 24)};
    ok = fwrite(b, 1, 4, f) == 4;
  }
  if (fclose(f) != 0 || !ok)
    return ad3d_fail(AD3D_EIO, "%s: write error", path);
  return AD3D_OK;
}

ad3d_status synth_corpus_write(const char *root, uint64_t seed, int64_t count, int64_t points) {
  if (count < 1 || points < 1)
    return ad3d_fail(AD3D_EINVAL, "corpus: count (%lld) and points (%lld) must be positive", (long long)count,
                     (long long)points);
  char *dir = str_printf("%s/shapenet_pc", root), *trp = str_printf("%s/train.txt", root),
       *tep = str_printf("%s/test.txt", root);
  FILE *tr = NULL, *te = NULL;
  ad3d_status st = AD3D_OK;
  if (!dir || !trp || !tep) {
    st = AD3D_ENOMEM;
    goto cleanup;
  }
  if ((st = mkdir_p(dir)))
    goto cleanup;
  tr = fopen(trp, "w");
  te = fopen(tep, "w");
  if (!tr || !te) {
    st = ad3d_fail(AD3D_EIO, "%s: cannot create the split lists: %s", root, strerror(errno));
    goto cleanup;
  }
  synth_corpus s;
  synth_corpus_init(&s, seed, points);
  for (int64_t i = 0; i < count; i++) {
    cloud_t cl;
    const char *fam;
    if ((st = synth_corpus_next(&s, &cl, &fam)))
      goto cleanup;
    char name[96], *path;
    snprintf(name, sizeof name, "%s-%06lld.npy", fam, (long long)i);
    path = str_printf("%s/%s", dir, name);
    st = path ? npy_write_cloud(path, &cl) : AD3D_ENOMEM;
    free(path);
    cloud_free(&cl);
    if (st)
      goto cleanup;
    fprintf(i % 10 == 9 ? te : tr, "%s\n", name);
  }
cleanup:
  if (tr && fclose(tr) != 0 && !st)
    st = ad3d_fail(AD3D_EIO, "%s: write error", trp);
  if (te && fclose(te) != 0 && !st)
    st = ad3d_fail(AD3D_EIO, "%s: write error", tep);
  free(dir);
  free(trp);
  free(tep);
  return st;
}
