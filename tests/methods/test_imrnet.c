/* test_imrnet.c - the IMRNet method (src/methods/imrnet.c) end to end on constructed cases.
 *
 * The class: a smooth wavy ellipsoid, four training samples (independent samplings of it, each under its
 * own small rotation and scale) and test samples: normal ones (fresh samplings) and ones with a planted bump
 * (a Gaussian displacement along the surface normal; points displaced by more than a tenth of the height
 * labelled anomalous). A small Point-MAE is trained from scratch on the training samples (seconds); the
 * bump's points must score highest (point AUROC by Mann-Whitney, here by brute force), the bumped samples'
 * object scores must exceed the normal ones', and so must each part alone (Chamfer map, feature map with and
 * without template regularisation, the point Chamfer mode, normalisation off, every sampler). Also: the
 * options that are refused, the checkpoint path through an installed loader, and determinism; and that the
 * method fine-tunes on its sampler's patches (its fitted weights against nn/train.h's loop run by hand with
 * the grouping restated).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/cloud.h"
#include "common/opts.h"
#include "common/rng.h"
#include "common/util.h"
#include "methods/maefeat.h"
#include "methods/method.h"
#include "nn/imr.h"
#include "nn/mae.h"
#include "nn/train.h"

/* ---- the constructed class ------------------------------------------------------------------------------ */

#define NPTS 1200
#define TRAIN_EPOCHS 60
#define BUMP_HEIGHT 0.3
#define BUMP_WIDTH 0.15

/* The surface: direction u (unit) -> point s(u) = (a u_x w, b u_y w, c u_z) with w = 1 + 0.1 sin(3 u_x). */
static void surface(const double u[3], double p[3]) {
  double w = 1 + 0.1 * sin(3 * u[0]);
  p[0] = u[0] * w;
  p[1] = 0.8 * u[1] * w;
  p[2] = 0.6 * u[2];
}

/* A sample of the class: NPTS area-ish points of the surface, a bump of height `amp` (0: none) and width
 * 0.12 centred at direction (1, 0.4, 0.3), then a rotation about z by `angle` and a scale. */
static void make_sample(sample_t *s, const char *name, uint64_t seed, double amp, double angle, double scale) {
  memset(s, 0, sizeof *s);
  s->name = xstrdup(name);
  s->defect = xstrdup(amp > 0 ? "bulge" : "good");
  s->anomalous = amp > 0;
  assert_int_equal(cloud_alloc(&s->cloud, NPTS), AD3D_OK);
  s->labels = calloc(NPTS, 1);
  assert_non_null(s->labels);
  rng_t r;
  rng_seed(&r, seed);
  double u0[3] = {1, 0.4, 0.3}, q0 = sqrt(1 + 0.16 + 0.09), c0[3];
  for (int d = 0; d < 3; d++)
    u0[d] /= q0;
  surface(u0, c0);
  const double sigma = BUMP_WIDTH;
  for (int i = 0; i < NPTS; i++) {
    double u[3], q;
    do {
      u[0] = rng_normal(&r), u[1] = rng_normal(&r), u[2] = rng_normal(&r);
      q = sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]);
    } while (q < 1e-9);
    for (int d = 0; d < 3; d++)
      u[d] /= q;
    double p[3];
    surface(u, p);
    if (amp > 0) {
      double d2 = 0;
      for (int d = 0; d < 3; d++)
        d2 += (p[d] - c0[d]) * (p[d] - c0[d]);
      double h = amp * exp(-d2 / (2 * sigma * sigma));
      /* outward normal of the ellipsoid-like surface: the gradient of x^2/a^2 + y^2/b^2 + z^2/c^2 */
      double n[3] = {p[0] / 1.0, p[1] / 0.64, p[2] / 0.36}, nn = sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
      for (int d = 0; d < 3; d++)
        p[d] += h * n[d] / nn;
      s->labels[i] = h > 0.1 * amp;
    }
    double ca = cos(angle), sa = sin(angle);
    s->cloud.xyz[3 * i] = (float)(scale * (ca * p[0] - sa * p[1]));
    s->cloud.xyz[3 * i + 1] = (float)(scale * (sa * p[0] + ca * p[1]));
    s->cloud.xyz[3 * i + 2] = (float)(scale * p[2]);
  }
}

typedef struct {
  sample_t train[4];
  sample_t good[2];
  sample_t bump[2];
  mae_model *model; /* fine-tuned once on the training samples; the methods below load copies of it */
} fixture;

/* The shared model: the small architecture on 64 patches of 32 points of 1024-point inputs, trained on the
 * four training samples (each four times per epoch) by nn/train.h's fine-tuning loop, as the method does. */
static void train_model(fixture *f) {
  mae_config c = mae_config_small();
  c.ngroups = 64;
  c.group_size = 32;
  c.npoints = 1024;
  c.mask_ratio = 0.4;
  rng_t r;
  rng_seed(&r, 77);
  assert_int_equal(mae_init(&f->model, &c, &r), AD3D_OK);
  cloud_t clouds[16];
  for (int i = 0; i < 16; i++)
    clouds[i] = f->train[i % 4].cloud;
  mae_train_opts to = mae_train_defaults();
  to.epochs = TRAIN_EPOCHS;
  to.batch = 8;
  to.micro_batch = 8;
  to.lr = 0.002;
  to.warmup_epochs = 3;
  to.augment = 0;
  to.seed = 5;
  assert_int_equal(mae_finetune(f->model, clouds, 16, &to, NULL, NULL, NULL), AD3D_OK);
}

static fixture *fixture_make(void) {
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  char name[64];
  for (int i = 0; i < 4; i++) {
    snprintf(name, sizeof name, "ell_template%d", i);
    make_sample(&f->train[i], name, 100 + i, 0, 0.05 * i, 1 + 0.02 * i);
    free(f->train[i].labels);
    f->train[i].labels = NULL;
  }
  for (int i = 0; i < 2; i++) {
    snprintf(name, sizeof name, "ell_positive%d", i);
    make_sample(&f->good[i], name, 200 + i, 0, 0.03 + 0.04 * i, 1.01);
    snprintf(name, sizeof name, "ell_bulge%d", i);
    make_sample(&f->bump[i], name, 300 + i, BUMP_HEIGHT, 0.02 + 0.05 * i, 0.99);
  }
  train_model(f);
  return f;
}

static void fixture_free(fixture *f) {
  mae_free(f->model);
  for (int i = 0; i < 4; i++)
    sample_free(&f->train[i]);
  for (int i = 0; i < 2; i++) {
    sample_free(&f->good[i]);
    sample_free(&f->bump[i]);
  }
  free(f);
}

/* ---- running the method ---------------------------------------------------------------------------------- */

/* ---- running the method ---------------------------------------------------------------------------------- */

static const fixture *shared; /* whose model the loader hands out as "shared" */
static int loads;
static int loader_group_size = 32;
static mae_model *last_loaded; /* the model the loader last handed out (the method owns it) */

/* A copy of the fixture's trained model (weights and buffers; a fresh optimiser). */
static ad3d_status copy_shared(mae_model **m) {
  rng_t r;
  rng_seed(&r, 42);
  const mae_model *src = shared->model;
  TRY(mae_init(m, &src->cfg, &r));
  memcpy((*m)->params_mem, src->params_mem, sizeof(float) * src->nparams);
  memcpy((*m)->bufs_mem, src->bufs_mem, sizeof(float) * src->nbufs);
  return AD3D_OK;
}

/* The test's model loader: "shared" is a copy of the fixture's trained model, "fresh.h5" a new small model
 * with patches of loader_group_size points; any other path does not exist. */
static ad3d_status test_loader(const char *path, mae_model **m) {
  loads++;
  rng_t r;
  rng_seed(&r, 42);
  if (!strcmp(path, "shared")) {
    TRY(copy_shared(m));
    last_loaded = *m;
    return AD3D_OK;
  }
  if (!strcmp(path, "fresh.h5")) {
    mae_config c = mae_config_small();
    c.group_size = loader_group_size;
    TRY(mae_init(m, &c, &r));
    last_loaded = *m;
    return AD3D_OK;
  }
  return ad3d_fail(AD3D_ENOTFOUND, "%s: no such checkpoint", path);
}

/* Options: the method's defaults, this test's setting (the shared model as it is, masks that cover every
 * patch, 64 patches of 32 points), then `sets` ("key=value", NULL-ended). */
static void make_opts(const method_vt *M, opts_t *o, const char *const *sets) {
  static const char *const base[] = {"checkpoint=shared", "finetune_epochs=0", "cover=true", "ngroups=64",
                                     "group_size=32",     "npoints=1024",      NULL};
  memset(o, 0, sizeof *o);
  assert_int_equal(opts_set_defaults(o, M->name, M->opts), AD3D_OK);
  for (int pass = 0; pass < 2; pass++) {
    const char *const *list = pass ? sets : base;
    for (int i = 0; list && list[i]; i++) {
      const char *eq = strchr(list[i], '=');
      assert_non_null(eq);
      int found = 0;
      for (const opt_spec *sp = M->opts; sp->name; sp++)
        if (strlen(sp->name) == (size_t)(eq - list[i]) && !strncmp(sp->name, list[i], (size_t)(eq - list[i]))) {
          if (opts_set_text(o, M->name, sp, eq + 1) != AD3D_OK)
            fail_msg("%s: %s", list[i], ad3d_errmsg());
          found = 1;
        }
      if (!found)
        fail_msg("no option %s", list[i]);
    }
  }
}

typedef struct {
  double object_good[2], object_bump[2];
  double point_auroc[2]; /* of the bump's points within each bumped sample */
  int top_in_bump[2];    /* the highest-scoring point lies in the bump */
} outcome;

/* Mann-Whitney AUROC of scores s (n) against labels (ties count one half), by brute force. */
static double auroc(const float *s, const uint8_t *lab, int n) {
  double num = 0;
  int64_t np = 0, nn = 0;
  for (int i = 0; i < n; i++) {
    if (!lab[i])
      continue;
    np++;
    for (int j = 0; j < n; j++)
      if (!lab[j])
        num += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
  }
  for (int j = 0; j < n; j++)
    nn += !lab[j];
  return num / ((double)np * nn);
}

static ad3d_status run_method(const fixture *f, const char *const *sets, uint64_t seed, outcome *out,
                              float *scores_bump0) {
  const method_vt *M = method_find("imrnet");
  assert_non_null(M);
  opts_t o;
  make_opts(M, &o, sets);
  rng_t r;
  rng_seed(&r, seed);
  void *st = NULL;
  ad3d_status s = M->create(&o, &r, &st);
  opts_free(&o);
  if (s)
    return s;
  float *sc = malloc(sizeof *sc * NPTS);
  assert_non_null(sc);
  if ((s = M->fit(st, f->train, 4)))
    goto done;
  for (int i = 0; i < 2 && !s; i++) {
    if ((s = M->score(st, &f->good[i], sc, &out->object_good[i])))
      break;
    for (int j = 0; j < NPTS; j++)
      assert_true(isfinite(sc[j]));
    if ((s = M->score(st, &f->bump[i], sc, &out->object_bump[i])))
      break;
    out->point_auroc[i] = auroc(sc, f->bump[i].labels, NPTS);
    int best = 0;
    for (int j = 1; j < NPTS; j++)
      if (sc[j] > sc[best])
        best = j;
    out->top_in_bump[i] = f->bump[i].labels[best];
    if (i == 0 && scores_bump0)
      memcpy(scores_bump0, sc, sizeof *sc * NPTS);
  }
done:
  free(sc);
  M->destroy(st);
  return s;
}

static void report(const char *what, const outcome *o) {
  print_message("%-28s P-AUROC %.3f %.3f  top in bump %d %d  object good %.3f %.3f bump %.3f %.3f\n", what,
                o->point_auroc[0], o->point_auroc[1], o->top_in_bump[0], o->top_in_bump[1], o->object_good[0],
                o->object_good[1], o->object_bump[0], o->object_bump[1]);
}

/* The bump's points rank above the rest (P-AUROC >= min_auroc in each bumped sample, and, with need_top, the
 * highest-scoring point in the bump), and the bumped samples' object scores are higher on average. */
static void expect_detects(const outcome *o, double min_auroc, int need_top) {
  for (int i = 0; i < 2; i++) {
    assert_true(o->point_auroc[i] >= min_auroc);
    if (need_top)
      assert_true(o->top_in_bump[i]);
  }
  assert_true(o->object_bump[0] + o->object_bump[1] > o->object_good[0] + o->object_good[1]);
}

static int setup(void **state) {
  fixture *f = fixture_make();
  shared = f;
  maefeat_set_loader(test_loader);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_free(*state);
  return 0;
}

/* ---- tests ----------------------------------------------------------------------------------------------------- */

static void test_bump_scores_highest(void **state) {
  const fixture *f = *state;
  outcome o;
  float *s1 = malloc(sizeof *s1 * NPTS), *s2 = malloc(sizeof *s2 * NPTS);
  assert_true(s1 && s2);
  assert_int_equal(run_method(f, NULL, 1, &o, s1), AD3D_OK);
  report("default (gps, both maps)", &o);
  expect_detects(&o, 0.9, 1);
  /* the same seed gives the same scores */
  outcome o2;
  assert_int_equal(run_method(f, NULL, 1, &o2, s2), AD3D_OK);
  assert_memory_equal(s1, s2, sizeof *s1 * NPTS);
  free(s1);
  free(s2);
}

static void test_each_part_alone(void **state) {
  const fixture *f = *state;
  static const char *const chamfer[] = {"feature_weight=0", NULL};
  static const char *const feature[] = {"chamfer_weight=0", NULL};
  static const char *const feature_noreg[] = {"chamfer_weight=0", "template_reg=false", NULL};
  static const char *const feature_nearest[] = {"chamfer_weight=0", "interp_k=1", "feature_layers=1", NULL};
  static const char *const random_masks[] = {"cover=false", "iterations=5", NULL};
  static const char *const raw[] = {"normalise=none", "feature_weight=0", "object_score=topk_mean", "topk=5", NULL};
  static const char *const chamfer_point[] = {"feature_weight=0", "chamfer_mode=point", NULL};
  static const char *const *const cases[] = {chamfer, feature, feature_noreg, feature_nearest, random_masks, raw,
                                             chamfer_point};
  static const char *const names[] = {"Chamfer map", "feature map", "feature map, no template reg",
                                      "feature map, layer 1, nearest", "random masks, 5 iterations",
                                      "raw Chamfer map, top-5 mean", "Chamfer map, point mode"};
  for (int c = 0; c < 7; c++) {
    outcome o;
    assert_int_equal(run_method(f, cases[c], 1, &o, NULL), AD3D_OK);
    report(names[c], &o);
    if (c == 2) { /* without the regularisation the feature map is the noisiest part: 0.69 to 0.77 on the
                   * second sample across float summation orders of the same arithmetic */
      expect_detects(&o, 0.6, 0);
    } else if (c < 6) {
      expect_detects(&o, 0.7, 0);
    } else { /* each point against its patch's 32 predicted points: noisier, still better than chance */
      assert_true(o.point_auroc[0] + o.point_auroc[1] > 2 * 0.6);
    }
  }
}

static void test_samplers(void **state) {
  const fixture *f = *state;
  static const char *const names[] = {"rs", "fps", "voxel", "gps"};
  for (int s = 0; s < 4; s++) {
    char opt[32];
    snprintf(opt, sizeof opt, "sampler=%s", names[s]);
    const char *const sets[] = {opt, NULL};
    outcome o;
    assert_int_equal(run_method(f, sets, 1, &o, NULL), AD3D_OK);
    report(opt, &o);
    expect_detects(&o, 0.7, 0);
  }
}

static void test_refused_options(void **state) {
  const fixture *f = *state;
  static const char *const none[] = {"chamfer_weight=0", "feature_weight=0", NULL};
  static const char *const rew[] = {"object_score=reweighted", NULL};
  static const char *const samp[] = {"sampler=poisson", NULL};
  static const char *const cm[] = {"chamfer_mode=both", NULL};
  static const char *const nm[] = {"normalise=minmax", NULL};
  static const char *const mr[] = {"mask_ratio=0.001", NULL};
  static const char *const pre[] = {"preset=huge", NULL};
  static const char *const mb[] = {"finetune_epochs=5", "finetune_batch=6", "finetune_micro_batch=4", NULL};
  static const char *const *const cases[] = {none, rew, samp, cm, nm, mr, pre, mb};
  static const char *const words[] = {"nothing to score", "reweighted", "poisson", "both", "minmax",
                                      "mask_ratio", "huge", "micro_batch"};
  for (int c = 0; c < 8; c++) {
    outcome o;
    assert_int_equal(run_method(f, cases[c], 1, &o, NULL), AD3D_EINVAL);
    if (!strstr(ad3d_errmsg(), words[c]))
      fail_msg("case %d: message \"%s\" lacks \"%s\"", c, ad3d_errmsg(), words[c]);
  }
  /* an epoch smaller than a batch, found at fit */
  static const char *const big[] = {"finetune_epochs=5", "finetune_batch=32", "finetune_micro_batch=4",
                                    "finetune_repeat=2", NULL};
  outcome o;
  assert_int_equal(run_method(f, big, 1, &o, NULL), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "finetune_batch"));
}

/* ---- the checkpoint path and the method's own fine-tuning ------------------------------------------------------ */

static void test_checkpoint_loader(void **state) {
  const fixture *f = *state;
  static const char *const fresh[] = {"checkpoint=fresh.h5", NULL};
  static const char *const missing[] = {"checkpoint=missing.h5", NULL};
  outcome o;
  maefeat_set_loader(NULL);
  assert_int_equal(run_method(f, NULL, 1, &o, NULL), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "loader"));
  maefeat_set_loader(test_loader);
  loads = 0;
  assert_int_equal(run_method(f, fresh, 1, &o, NULL), AD3D_OK); /* an untrained model runs (and scores noise) */
  assert_int_equal(loads, 1);
  loader_group_size = 16; /* its head predicts 16 points: refused */
  assert_int_equal(run_method(f, fresh, 1, &o, NULL), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "patches of 16 points"));
  loader_group_size = 32;
  assert_int_equal(run_method(f, missing, 1, &o, NULL), AD3D_ENOTFOUND);
  assert_non_null(strstr(ad3d_errmsg(), "missing.h5"));
}

/* The method's own fit: a new small model trained on the class alone (checkpoint ""), briefly. */
static void test_finetune_in_fit(void **state) {
  const fixture *f = *state;
  static const char *const own[] = {"checkpoint=", "finetune_epochs=40", "finetune_augment=false",
                                    "finetune_lr=0.002", "finetune_warmup=3", NULL};
  outcome o;
  assert_int_equal(run_method(f, own, 1, &o, NULL), AD3D_OK);
  report("trained in fit", &o);
  expect_detects(&o, 0.8, 0);
}

/* Fine-tuning cuts its inputs by the method's sampler: the weights the method's fit leaves (the shared model
 * fine-tuned two epochs, nothing scored at fit) equal, bit for bit, those of nn/train.h's loop run here on a
 * copy of the model with the same options and seed and the grouping restated: GPS patches with the
 * method's gps_* options for sampler gps, no hook (mae_group) for fps; and the two differ, so a method that
 * ignored its sampler fails. */
static const gps_opts *oracle_gps;
static int oracle_calls;
static ad3d_status oracle_group(void *ctx, const mae_config *cfg, const float *pts, int64_t n, rng_t *rng,
                                float *neigh, float *centers) {
  (void)ctx;
  oracle_calls++;
  const int G = cfg->ngroups, K = cfg->group_size;
  imr_patches p;
  TRY(imr_patches_make(pts, n, G, K, IMR_SAMPLER_GPS, oracle_gps, rng, &p));
  memcpy(neigh, p.neigh, sizeof(float) * (size_t)G * K * 3);
  memcpy(centers, p.centers, sizeof(float) * (size_t)G * 3);
  imr_patches_free(&p);
  return AD3D_OK;
}

static void test_finetune_follows_sampler(void **state) {
  const fixture *f = *state;
  const uint64_t seed = 3;
  const method_vt *M = method_find("imrnet");
  assert_non_null(M);
  gps_opts go = gps_defaults();
  go.tau = 0.2;
  go.normal_nb = go.rate_nb = nbhd_knn(12);
  oracle_gps = &go;
  const size_t bytes = sizeof(float) * shared->model->nparams;
  float *got[2], *want[2];
  for (int s = 0; s < 2; s++) { /* 0: gps, 1: fps */
    static const char *const common[] = {"checkpoint=shared", "finetune_epochs=2", "finetune_repeat=2",
                                         "finetune_batch=8", "finetune_micro_batch=4", "finetune_lr=0.001",
                                         "finetune_warmup=1", "finetune_augment=true", "finetune_mask_ratio=0.4",
                                         "gps_tau=0.2", "gps_k=12", "feature_weight=0", "normalise=none"};
    const char *sets[16];
    int k = 0;
    for (; k < (int)(sizeof common / sizeof common[0]); k++)
      sets[k] = common[k];
    sets[k++] = s ? "sampler=fps" : "sampler=gps";
    sets[k] = NULL;
    opts_t o;
    make_opts(M, &o, sets);
    rng_t r;
    rng_seed(&r, seed);
    void *st = NULL;
    assert_int_equal(M->create(&o, &r, &st), AD3D_OK);
    opts_free(&o);
    last_loaded = NULL;
    assert_int_equal(M->fit(st, f->train, 4), AD3D_OK);
    assert_non_null(last_loaded);
    got[s] = malloc(bytes);
    assert_non_null(got[s]);
    memcpy(got[s], last_loaded->params_mem, bytes);
    M->destroy(st);
    /* the oracle: the loop on a copy, seeded by the method's first draw (imrnet_create), 8 clouds an epoch */
    mae_model *m = NULL;
    assert_int_equal(copy_shared(&m), AD3D_OK);
    m->cfg.ngroups = 64, m->cfg.npoints = 1024, m->cfg.mask_ratio = 0.4;
    mae_train_opts to = mae_train_defaults();
    to.epochs = 2, to.batch = 8, to.micro_batch = 4, to.lr = 0.001, to.warmup_epochs = 1, to.augment = 1;
    rng_seed(&r, seed);
    to.seed = rng_next(&r);
    to.group = s ? NULL : oracle_group;
    cloud_t clouds[8];
    for (int i = 0; i < 8; i++)
      clouds[i] = f->train[i % 4].cloud;
    oracle_calls = 0;
    assert_int_equal(mae_finetune(m, clouds, 8, &to, NULL, NULL, NULL), AD3D_OK);
    assert_int_equal(oracle_calls, s ? 0 : 2 * 8);
    want[s] = malloc(bytes);
    assert_non_null(want[s]);
    memcpy(want[s], m->params_mem, bytes);
    mae_free(m);
  }
  assert_memory_not_equal(want[0], want[1], bytes); /* GPS and FPS patches train differently */
  assert_memory_not_equal(want[0], shared->model->params_mem, bytes);
  assert_memory_equal(got[0], want[0], bytes);
  assert_memory_equal(got[1], want[1], bytes);
  for (int s = 0; s < 2; s++)
    free(got[s]), free(want[s]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bump_scores_highest),
      cmocka_unit_test(test_each_part_alone),
      cmocka_unit_test(test_samplers),
      cmocka_unit_test(test_refused_options),
      cmocka_unit_test(test_checkpoint_loader),
      cmocka_unit_test(test_finetune_in_fit),
      cmocka_unit_test(test_finetune_follows_sampler),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
