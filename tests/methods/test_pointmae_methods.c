/* test_pointmae_methods.c - PatchCore(PointMAE), M3DM and Reg3D-AD's Point-MAE bank (src/methods/maefeat.h).
 *
 * A small Point-MAE is written to a checkpoint and reaches the methods through the loader the program
 * installs (store/checkpoint.h's checkpoint_load_model), as in `ad3d run`. Oracles: brute-force restatements
 * of each method on the features nn/features.h gives (those features are tested against the training
 * forward in tests/nn/test_features.c): memory bank = every training patch feature, a patch's score = its
 * smallest distance to the bank (double), a point's score = its nearest centre's, object score = max
 * (PatchCore), PatchCore's re-weighted max (M3DM), and Reg3D-AD's average of the min-max normalised xyz and
 * Point-MAE banks with leave-one-out bounds. Also: the coreset sizes, the clear failures when the checkpoint
 * is missing, unreadable or no loader is installed, and that a local bump is found.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "methods/maefeat.h"
#include "methods/method.h"
#include "store/checkpoint.h"

#define NTRAIN 3
#define NPTS 500
#define NG 48
#define GK 12

static char *g_dir, *g_ckpt;
static mae_model *g_model;
static sample_t g_train[NTRAIN], g_test;

/* ---- data ---------------------------------------------------------------------------------------------- */

/* A blob of n points around an ellipsoid (scale ~30, offset: data in "millimetres"), with a bump of height
 * `bump` around direction (1, 0, 0); labels 1 inside the bump. */
static void blob(sample_t *s, const char *name, int n, double bump, rng_t *r) {
  memset(s, 0, sizeof *s);
  s->name = strdup(name);
  assert_int_equal(cloud_alloc(&s->cloud, n), AD3D_OK);
  s->labels = calloc((size_t)n, 1);
  for (int i = 0; i < n; i++) {
    double u[3], nn = 0;
    for (int k = 0; k < 3; k++)
      u[k] = rng_normal(r), nn += u[k] * u[k];
    for (int k = 0; k < 3; k++)
      u[k] /= sqrt(nn);
    double d2 = (u[0] - 1) * (u[0] - 1) + u[1] * u[1] + u[2] * u[2];
    double rad = 1 + 0.01 * rng_normal(r) + (bump > 0 ? bump * exp(-d2 / (2 * 0.25 * 0.25)) : 0);
    s->labels[i] = bump > 0 && d2 < 0.35 * 0.35;
    const double ax[3] = {30, 22, 15}, off[3] = {100, -20, 5};
    for (int k = 0; k < 3; k++)
      s->cloud.xyz[3 * i + k] = (float)(rad * u[k] * ax[k] + off[k]);
  }
}

static int setup(void **unused) {
  (void)unused;
  char tmpl[] = "/tmp/ad3d_pmae_XXXXXX";
  if (!mkdtemp(tmpl))
    return -1;
  g_dir = strdup(tmpl);
  g_ckpt = str_printf("%s/model.h5", g_dir);
  mae_config c = {.npoints = 256, .ngroups = 16, .group_size = 16, .width = 16, .depth = 4, .heads = 2,
                  .decoder_depth = 1, .decoder_heads = 2, .mlp_ratio = 2, .pe_dim1 = 8, .pe_dim2 = 16,
                  .pe_dim3 = 16, .pos_dim = 8, .mask_ratio = 0.5, .drop_path_rate = 0.1};
  rng_t r;
  rng_seed(&r, 21);
  if (mae_init(&g_model, &c, &r) != AD3D_OK)
    return -1;
  for (size_t k = 0; k < g_model->nparams; k++)
    g_model->params_mem[k] += (float)(0.05 * rng_normal(&r));
  if (checkpoint_save(g_ckpt, g_model, NULL) != AD3D_OK)
    return -1;
  maefeat_set_loader(checkpoint_load_model);
  for (int s = 0; s < NTRAIN; s++)
    blob(&g_train[s], "train", NPTS, 0, &r);
  blob(&g_test, "test", NPTS, 0.3, &r);
  return 0;
}

static int teardown(void **unused) {
  (void)unused;
  for (int s = 0; s < NTRAIN; s++)
    sample_free(&g_train[s]);
  sample_free(&g_test);
  mae_free(g_model);
  remove_tree(g_dir);
  free(g_dir);
  free(g_ckpt);
  return 0;
}

/* ---- running a method ------------------------------------------------------------------------------------- */

/* Options of method `name`: defaults, checkpoint = g_ckpt, NG x GK patches, then sets ("key=value"). */
static void make_opts(opts_t *o, const char *name, const char *const *sets) {
  const method_vt *M = method_find(name);
  assert_non_null(M);
  memset(o, 0, sizeof *o);
  assert_int_equal(opts_set_defaults(o, name, M->opts), AD3D_OK);
  char ck[1100], ng[32], gk[32];
  snprintf(ck, sizeof ck, "checkpoint=%s", g_ckpt);
  snprintf(ng, sizeof ng, "num_group=%d", NG);
  snprintf(gk, sizeof gk, "group_size=%d", GK);
  const char *base[] = {ck, ng, gk};
  for (int i = 0; i < 3 + 32 && (i < 3 || (sets && sets[i - 3])); i++) {
    const char *kv = i < 3 ? base[i] : sets[i - 3];
    const char *eq = strchr(kv, '=');
    const opt_spec *sp = M->opts;
    while (sp->name && (strncmp(sp->name, kv, (size_t)(eq - kv)) || sp->name[eq - kv]))
      sp++;
    if (!sp->name)
      fail_msg("%s has no option %s", name, kv);
    assert_int_equal(opts_set_text(o, name, sp, eq + 1), AD3D_OK);
  }
}

/* Fit on g_train, score g_test: point scores (NPTS) and the object score; *state kept when keep != NULL. */
static double run(const char *name, const char *const *sets, float *scores, void **keep) {
  const method_vt *M = method_find(name);
  opts_t o;
  make_opts(&o, name, sets);
  rng_t r;
  rng_seed(&r, 4);
  void *st = NULL;
  double obj = NAN;
  if (M->create(&o, &r, &st) != AD3D_OK || M->fit(st, g_train, NTRAIN) != AD3D_OK ||
      M->score(st, &g_test, scores, &obj) != AD3D_OK)
    fail_msg("%s: %s", name, ad3d_errmsg());
  if (keep)
    *keep = st;
  else
    M->destroy(st);
  opts_free(&o);
  return obj;
}

/* ---- the oracle ----------------------------------------------------------------------------------------------- */

typedef struct {
  int G, D;
  float *cen;  /* (G, 3) in the cloud's frame */
  float *feat; /* (G, D) */
} feats;

/* nn/features.h on pts mapped into the unit sphere of train[0] (centroid, largest radius in double). */
static feats features_of(const float *pts, int n) {
  const float *t = g_train[0].cloud.xyz;
  double c[3] = {0, 0, 0}, r2 = 0;
  for (int i = 0; i < NPTS; i++)
    for (int a = 0; a < 3; a++)
      c[a] += t[3 * i + a] / (double)NPTS;
  for (int i = 0; i < NPTS; i++) {
    double d2 = 0;
    for (int a = 0; a < 3; a++)
      d2 += (t[3 * i + a] - c[a]) * (t[3 * i + a] - c[a]);
    r2 = fmax(r2, d2);
  }
  float *x = malloc(sizeof(float) * (size_t)n * 3);
  for (int i = 0; i < n; i++)
    for (int a = 0; a < 3; a++)
      x[3 * i + a] = (float)((pts[3 * i + a] - c[a]) / sqrt(r2));
  mae_feat_opts fo = {.ngroups = NG, .group_size = GK};
  mae_feat_default_blocks(g_model->cfg.depth, fo.blocks, &fo.nblocks);
  feats f = {.G = NG, .D = mae_feat_dim(g_model, &fo)};
  f.cen = malloc(sizeof(float) * NG * 3);
  f.feat = malloc(sizeof(float) * (size_t)NG * f.D);
  assert_int_equal(mae_features(g_model, x, n, &fo, f.cen, f.feat), AD3D_OK);
  for (int i = 0; i < NG; i++)
    for (int a = 0; a < 3; a++)
      f.cen[3 * i + a] = (float)(f.cen[3 * i + a] * sqrt(r2) + c[a]);
  free(x);
  return f;
}

static double dist(const float *a, const float *b, int d) {
  double s = 0;
  for (int k = 0; k < d; k++)
    s += ((double)a[k] - b[k]) * ((double)a[k] - b[k]);
  return sqrt(s);
}

/* Smallest distance of q (d) to the rows of bank (nb, d); *arg its row. */
static double nearest(const float *q, const float *bank, int nb, int d, int *arg) {
  double best = INFINITY;
  for (int j = 0; j < nb; j++) {
    double e = dist(q, bank + (size_t)j * d, d);
    if (e < best)
      best = e, *arg = j;
  }
  return best;
}

/* Patch scores of test features against a bank, the per-point fill and the max. */
static void bank_scores(const feats *test, const float *bank, int nb, double *patch, double *point, const float *pts,
                        int n, int *argmin) {
  for (int g = 0; g < test->G; g++)
    patch[g] = nearest(test->feat + (size_t)g * test->D, bank, nb, test->D, &argmin[g]);
  for (int i = 0; i < n; i++) {
    int c = 0;
    nearest(pts + 3 * i, test->cen, test->G, 3, &c);
    point[i] = patch[c];
  }
}

/* The training features stacked (NTRAIN NG, D), and the test's. */
static float *train_bank(feats *tf) {
  for (int s = 0; s < NTRAIN; s++)
    tf[s] = features_of(g_train[s].cloud.xyz, NPTS);
  const int D = tf[0].D;
  float *bank = malloc(sizeof(float) * (size_t)NTRAIN * NG * D);
  for (int s = 0; s < NTRAIN; s++)
    memcpy(bank + (size_t)s * NG * D, tf[s].feat, sizeof(float) * (size_t)NG * D);
  return bank;
}

static void feats_free(feats *f) {
  free(f->cen);
  free(f->feat);
}

static void expect_near(const char *what, const float *got, const double *want, int n, double rel) {
  double scale = 0;
  for (int i = 0; i < n; i++)
    scale = fmax(scale, fabs(want[i]));
  for (int i = 0; i < n; i++)
    if (!(fabs(got[i] - want[i]) <= rel * scale))
      fail_msg("%s[%d] = %.9g, oracle %.9g", what, i, got[i], want[i]);
}

/* ---- tests ------------------------------------------------------------------------------------------------------ */

static void test_patchcore_pointmae_oracle(void **unused) {
  (void)unused;
  feats tf[NTRAIN], qf = features_of(g_test.cloud.xyz, NPTS);
  float *bank = train_bank(tf), got[NPTS];
  double patch[NG], point[NPTS];
  int arg[NG];
  bank_scores(&qf, bank, NTRAIN * NG, patch, point, g_test.cloud.xyz, NPTS, arg);
  const char *sets[] = {"register=false", "coreset=none", NULL};
  double obj = run("patchcore_pointmae", sets, got, NULL);
  expect_near("PatchCore(PointMAE) point score", got, point, NPTS, 1e-5);
  double mx = 0;
  for (int g = 0; g < NG; g++)
    mx = fmax(mx, patch[g]);
  if (!(fabs(obj - mx) <= 1e-5 * mx))
    fail_msg("object score %.9g, oracle max %.9g", obj, mx);
  /* the bump is found */
  double in = 0, out = 0;
  int nin = 0;
  for (int i = 0; i < NPTS; i++) {
    if (g_test.labels[i])
      in += got[i], nin++;
    else
      out += got[i];
  }
  in /= nin, out /= NPTS - nin;
  if (!(nin > 5 && in > 2 * out))
    fail_msg("bump not found: mean score %g on %d bump points, %g elsewhere", in, nin, out);
  for (int s = 0; s < NTRAIN; s++)
    feats_free(&tf[s]);
  feats_free(&qf);
  free(bank);
}

static void test_m3dm_oracle(void **unused) {
  (void)unused;
  feats tf[NTRAIN], qf = features_of(g_test.cloud.xyz, NPTS);
  float *bank = train_bank(tf), got[NPTS];
  const int D = qf.D, nb = NTRAIN * NG;
  double patch[NG], point[NPTS];
  int arg[NG];
  bank_scores(&qf, bank, nb, patch, point, g_test.cloud.xyz, NPTS, arg);
  const char *sets[] = {"coreset=none", NULL};
  double obj = run("m3dm", sets, got, NULL);
  expect_near("M3DM point score", got, point, NPTS, 1e-5);
  /* PatchCore's re-weighting: s* the largest patch score, m* its nearest memory entry, the 3 nearest memory
   * entries of m* (m* first, dropped), w = 1 - exp(s* / sqrt D) / sum exp(|m_test - m_j| / sqrt D) */
  int gs = 0;
  for (int g = 1; g < NG; g++)
    if (patch[g] > patch[gs])
      gs = g;
  const float *mstar = bank + (size_t)arg[gs] * D, *mtest = qf.feat + (size_t)gs * D;
  int nn[3] = {-1, -1, -1};
  for (int k = 0; k < 3; k++) {
    double best = INFINITY;
    for (int j = 0; j < nb; j++) {
      if (j == nn[0] || j == nn[1])
        continue;
      double e = dist(mstar, bank + (size_t)j * D, D);
      if (e < best)
        best = e, nn[k] = j;
    }
  }
  double denom = 0, sD = sqrt((double)D);
  for (int k = 1; k < 3; k++)
    denom += exp(dist(mtest, bank + (size_t)nn[k] * D, D) / sD);
  double want = (1 - exp(patch[gs] / sD) / denom) * patch[gs];
  if (!(fabs(obj - want) <= 1e-5 * fabs(want) + 1e-7))
    fail_msg("M3DM object score %.9g, oracle %.9g", obj, want);
  /* the default coreset keeps floor(0.1 x features) of the training features */
  void *st = NULL;
  run("m3dm", NULL, got, &st);
  const maefeat_bank *mb = st;
  assert_int_equal(mb->bank.n, (int64_t)(0.1 * nb));
  assert_int_equal(mb->bank.dim, D);
  for (int64_t j = 0; j < mb->bank.n; j++) {
    int found = 0;
    for (int r = 0; r < nb && !found; r++)
      found = !memcmp(mb->bank.mem + j * D, bank + (size_t)r * D, sizeof(float) * (size_t)D);
    if (!found)
      fail_msg("coreset entry %lld is not a training feature", (long long)j);
  }
  method_find("m3dm")->destroy(st);
  /* PatchCore(PointMAE)'s default memory: 10000 entries, here more than the features: all of them */
  run("patchcore_pointmae", (const char *[]){"register=false", NULL}, got, &st);
  assert_int_equal(((const maefeat_bank *)st)->bank.n, nb);
  method_find("patchcore_pointmae")->destroy(st);
  for (int s = 0; s < NTRAIN; s++)
    feats_free(&tf[s]);
  feats_free(&qf);
  free(bank);
}

/* lo, hi of the leave-one-out distances of rows of parts[s] (cnt[s], d) to the other parts. */
static void loo(float *const *parts, const int *cnt, int d, double *lo, double *hi) {
  *lo = INFINITY, *hi = -INFINITY;
  for (int s = 0; s < NTRAIN; s++)
    for (int i = 0; i < cnt[s]; i++) {
      double best = INFINITY;
      for (int u = 0; u < NTRAIN; u++)
        for (int j = 0; u != s && j < cnt[u]; j++)
          best = fmin(best, dist(parts[s] + (size_t)i * d, parts[u] + (size_t)j * d, d));
      *lo = fmin(*lo, best), *hi = fmax(*hi, best);
    }
}

static void test_reg3dad_two_banks(void **unused) {
  (void)unused;
  feats tf[NTRAIN], qf = features_of(g_test.cloud.xyz, NPTS);
  float *bank = train_bank(tf), got[NPTS], xyzonly[NPTS];
  const int D = qf.D;
  double patch[NG], ppoint[NPTS], want[NPTS];
  int arg[NG];
  bank_scores(&qf, bank, NTRAIN * NG, patch, ppoint, g_test.cloud.xyz, NPTS, arg);
  /* xyz bank: every training point */
  float *xyz = malloc(sizeof(float) * NTRAIN * NPTS * 3), *parts[NTRAIN], *fparts[NTRAIN];
  int cnt[NTRAIN], fcnt[NTRAIN];
  for (int s = 0; s < NTRAIN; s++) {
    memcpy(xyz + (size_t)s * NPTS * 3, g_train[s].cloud.xyz, sizeof(float) * NPTS * 3);
    parts[s] = g_train[s].cloud.xyz, cnt[s] = NPTS;
    fparts[s] = tf[s].feat, fcnt[s] = NG;
  }
  double xlo, xhi, plo, phi, xmax = 0, pmax = 0;
  loo(parts, cnt, 3, &xlo, &xhi);
  loo(fparts, fcnt, D, &plo, &phi);
  for (int i = 0; i < NPTS; i++) {
    int a;
    double x = nearest(g_test.cloud.xyz + 3 * i, xyz, NTRAIN * NPTS, 3, &a);
    xmax = fmax(xmax, x);
    want[i] = 0.5 * ((x - xlo) / (xhi - xlo) + (ppoint[i] - plo) / (phi - plo));
  }
  for (int g = 0; g < NG; g++)
    pmax = fmax(pmax, patch[g]);
  double wobj = 0.5 * ((xmax - xlo) / (xhi - xlo) + (pmax - plo) / (phi - plo));
  const char *sets[] = {"pointmae=true", "register=false", "coreset=none", NULL};
  double obj = run("reg3dad", sets, got, NULL);
  expect_near("Reg3D-AD two-bank point score", got, want, NPTS, 1e-5);
  if (!(fabs(obj - wobj) <= 1e-5 * fabs(wobj)))
    fail_msg("Reg3D-AD object score %.9g, oracle %.9g", obj, wobj);
  /* without the Point-MAE bank: the xyz bank alone, and no checkpoint needed */
  const char *plain[] = {"register=false", "coreset=none", "checkpoint=", NULL};
  run("reg3dad", plain, xyzonly, NULL);
  for (int i = 0; i < NPTS; i++) {
    int a;
    double x = (nearest(g_test.cloud.xyz + 3 * i, xyz, NTRAIN * NPTS, 3, &a) - xlo) / (xhi - xlo);
    if (!(fabs(xyzonly[i] - x) <= 1e-5 * fabs(x) + 1e-6))
      fail_msg("xyz-only score %d: %g, oracle %g", i, xyzonly[i], x);
  }
  free(xyz);
  for (int s = 0; s < NTRAIN; s++)
    feats_free(&tf[s]);
  feats_free(&qf);
  free(bank);
}

static void expect_create_error(const char *name, const char *const *sets, ad3d_status want, const char *part) {
  const method_vt *M = method_find(name);
  opts_t o;
  make_opts(&o, name, sets);
  rng_t r;
  rng_seed(&r, 1);
  void *st = NULL;
  ad3d_status got = M->create(&o, &r, &st);
  if (got != want || !strstr(ad3d_errmsg(), part))
    fail_msg("%s: got %s \"%s\", expected %s with \"%s\"", name, ad3d_status_name(got), ad3d_errmsg(),
             ad3d_status_name(want), part);
  assert_null(st);
  opts_free(&o);
}

static void test_missing_checkpoint(void **unused) {
  (void)unused;
  const char *names[] = {"patchcore_pointmae", "m3dm", "reg3dad"};
  for (int i = 0; i < 3; i++) {
    const char *n = names[i];
    const char *on = i == 2 ? "pointmae=true" : NULL; /* reg3dad loads a model only with its Point-MAE bank */
    const char *unset[] = {"checkpoint=", on, NULL}, *gone[] = {"checkpoint=/nonexistent/x.h5", on, NULL};
    const char *blocks[] = {"blocks=1,9", on, NULL}, *plain[] = {on, NULL};
    char msg[64];
    snprintf(msg, sizeof msg, "%s.checkpoint is not set", n);
    expect_create_error(n, unset, AD3D_EINVAL, msg);
    expect_create_error(n, gone, AD3D_ENOTFOUND, "/nonexistent/x.h5");
    expect_create_error(n, blocks, AD3D_EINVAL, "block 9 does not exist");
    maefeat_set_loader(NULL);
    expect_create_error(n, plain, AD3D_EINTERNAL, "no checkpoint loader");
    maefeat_set_loader(checkpoint_load_model);
  }
}

static void test_registry(void **unused) {
  (void)unused;
  const method_vt *p = method_find("patchcore_pointmae"), *m = method_find("m3dm");
  assert_non_null(p);
  assert_non_null(m);
  assert_string_equal(p->title, "PatchCore(PointMAE)");
  assert_string_equal(m->title, "M3DM");
  assert_int_equal(maefeat_get_loader() == checkpoint_load_model, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_patchcore_pointmae_oracle),
      cmocka_unit_test(test_m3dm_oracle),
      cmocka_unit_test(test_reg3dad_two_banks),
      cmocka_unit_test(test_missing_checkpoint),
      cmocka_unit_test(test_registry),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
