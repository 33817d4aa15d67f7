/* test_imr.c - IMRNet's test-time parts (src/nn/imr.h) on constructed cases.
 *
 * Oracles: tests/fixtures/imrnet/imr_scores.txt, a numpy restatement (make_imr_fixture.py) of the
 * point-patch Chamfer comparison, the per-point means, the nearest-covered-point fill, the centre
 * interpolation and the unit-sphere normalisation on one small case; brute-force kNN for the patches;
 * counting for the masks; hand-made features for the template regularisation; and properties of the
 * model's side (unmasked patches are never touched, features follow a permutation of the patches, every
 * layer's slice is normalised). A fine-tuned small model must reconstruct a normal cloud with a small
 * Chamfer error, far below the untrained model's. The training loop's grouping hook against mae_group (fps),
 * sample_gps and brute-force kNN (gps), and imr_patches_make (rs).
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

#include "common/rng.h"
#include "geom/kdtree.h"
#include "nn/imr.h"
#include "nn/train.h"

/* ---- fixture reader ----------------------------------------------------------------------------------- */

/* The values of array `name` of the fixture (malloc'ed doubles), *count their number. */
static double *fixture_array(const char *name, int64_t *count) {
  char path[1024];
  const char *dir = getenv("AD3D_FIXTURES");
  snprintf(path, sizeof path, "%s/imrnet/imr_scores.txt", dir ? dir : AD3D_FIXTURES);
  FILE *fp = fopen(path, "r");
  if (!fp)
    fail_msg("%s: cannot open (run make_imr_fixture.py)", path);
  char key[64];
  long long cnt;
  int c;
  while ((c = fgetc(fp)) != EOF) {
    if (c == '#') {
      while ((c = fgetc(fp)) != EOF && c != '\n')
        ;
      continue;
    }
    ungetc(c, fp);
    if (fscanf(fp, "%63s %lld", key, &cnt) != 2)
      break;
    double *v = malloc(sizeof *v * (size_t)(cnt ? cnt : 1));
    assert_non_null(v);
    for (long long i = 0; i < cnt; i++)
      assert_int_equal(fscanf(fp, "%lf", &v[i]), 1);
    while ((c = fgetc(fp)) != EOF && c != '\n')
      ;
    if (!strcmp(key, name)) {
      fclose(fp);
      *count = cnt;
      return v;
    }
    free(v);
  }
  fclose(fp);
  fail_msg("fixture has no array %s", name);
  return NULL;
}

static float *fixture_floats(const char *name, int64_t want) {
  int64_t cnt;
  double *v = fixture_array(name, &cnt);
  assert_int_equal(cnt, want);
  float *f = malloc(sizeof *f * (size_t)cnt);
  assert_non_null(f);
  for (int64_t i = 0; i < cnt; i++)
    f[i] = (float)v[i];
  free(v);
  return f;
}

static void assert_close(double got, double want, double rel, const char *what, int64_t i) {
  double tol = rel * fmax(1.0, fabs(want));
  if (!(fabs(got - want) <= tol))
    fail_msg("%s[%lld]: got %.9g, want %.9g", what, (long long)i, got, want);
}

typedef struct {
  int64_t n;
  int G, K;
  float *pts, *centres, *neigh, *rec;
  int64_t *idx;
} fx_case;

static void fx_load(fx_case *f) {
  int64_t cnt;
  double *dims = fixture_array("dims", &cnt);
  f->n = (int64_t)dims[0];
  f->G = (int)dims[1];
  f->K = (int)dims[2];
  free(dims);
  f->pts = fixture_floats("pts", f->n * 3);
  f->centres = fixture_floats("centres", (int64_t)f->G * 3);
  f->neigh = fixture_floats("neigh", (int64_t)f->G * f->K * 3);
  f->rec = fixture_floats("rec", (int64_t)f->G * f->K * 3);
  double *ix = fixture_array("idx", &cnt);
  assert_int_equal(cnt, (int64_t)f->G * f->K);
  f->idx = malloc(sizeof *f->idx * (size_t)cnt);
  assert_non_null(f->idx);
  for (int64_t i = 0; i < cnt; i++)
    f->idx[i] = (int64_t)ix[i];
  free(ix);
}

static void fx_free(fx_case *f) {
  free(f->pts);
  free(f->centres);
  free(f->neigh);
  free(f->rec);
  free(f->idx);
}

static void compare(const float *got, const char *name, int64_t n, double rel) {
  int64_t cnt;
  double *want = fixture_array(name, &cnt);
  assert_int_equal(cnt, n);
  for (int64_t i = 0; i < n; i++)
    assert_close(got[i], want[i], rel, name, i);
  free(want);
}

/* ---- the scoring parts against numpy --------------------------------------------------------------------- */

static void test_chamfer_vs_numpy(void **state) {
  (void)state;
  fx_case f;
  fx_load(&f);
  float *cd = malloc(sizeof *cd * (size_t)f.G), *din = malloc(sizeof *din * (size_t)f.G * f.K);
  assert_non_null(cd);
  assert_non_null(din);
  imr_patch_chamfer(f.neigh, f.rec, f.G, f.K, cd, din);
  compare(cd, "cd", f.G, 1e-5);
  compare(din, "d_in", (int64_t)f.G * f.K, 1e-5);
  /* either output alone gives the same values */
  float *cd2 = malloc(sizeof *cd2 * (size_t)f.G);
  assert_non_null(cd2);
  imr_patch_chamfer(f.neigh, f.rec, f.G, f.K, cd2, NULL);
  assert_memory_equal(cd, cd2, sizeof *cd * (size_t)f.G);
  /* a patch against itself scores 0 */
  imr_patch_chamfer(f.neigh, f.neigh, f.G, f.K, cd2, NULL);
  for (int g = 0; g < f.G; g++)
    assert_true(cd2[g] == 0.0f);
  free(cd);
  free(cd2);
  free(din);
  fx_free(&f);
}

static void test_point_mean_and_fill_vs_numpy(void **state) {
  (void)state;
  fx_case f;
  fx_load(&f);
  const int64_t GK = (int64_t)f.G * f.K;
  float *cd = malloc(sizeof *cd * (size_t)f.G), *din = malloc(sizeof *din * (size_t)GK);
  float *vals = malloc(sizeof *vals * (size_t)GK), *out = malloc(sizeof *out * (size_t)f.n);
  int *cnt = malloc(sizeof *cnt * (size_t)f.n);
  uint8_t *have = malloc((size_t)f.n);
  assert_true(cd && din && vals && out && cnt && have);
  imr_patch_chamfer(f.neigh, f.rec, f.G, f.K, cd, din);
  for (int64_t s = 0; s < GK; s++)
    vals[s] = cd[s / f.K];
  assert_int_equal(imr_point_mean(f.idx, vals, f.G, f.K, f.n, out, cnt), AD3D_OK);
  compare(out, "mean_patch", f.n, 1e-5);
  int64_t c;
  double *wc = fixture_array("count", &c);
  assert_int_equal(c, f.n);
  for (int64_t i = 0; i < f.n; i++) {
    assert_int_equal(cnt[i], (int)wc[i]);
    have[i] = cnt[i] > 0;
  }
  free(wc);
  assert_int_equal(imr_fill_nearest(f.pts, f.n, have, out), AD3D_OK);
  compare(out, "map_patch", f.n, 1e-5);
  assert_int_equal(imr_point_mean(f.idx, din, f.G, f.K, f.n, out, NULL), AD3D_OK);
  compare(out, "mean_point", f.n, 1e-5);
  /* fill with nothing to copy from is an error */
  memset(have, 0, (size_t)f.n);
  assert_int_equal(imr_fill_nearest(f.pts, f.n, have, out), AD3D_EINVAL);
  free(cd);
  free(din);
  free(vals);
  free(out);
  free(cnt);
  free(have);
  fx_free(&f);
}

static void test_interpolate_vs_numpy(void **state) {
  (void)state;
  fx_case f;
  fx_load(&f);
  float *cd = malloc(sizeof *cd * (size_t)f.G), *out = malloc(sizeof *out * (size_t)f.n);
  assert_true(cd && out);
  imr_patch_chamfer(f.neigh, f.rec, f.G, f.K, cd, NULL);
  assert_int_equal(imr_interpolate(f.centres, cd, f.G, f.pts, f.n, 1, out), AD3D_OK);
  compare(out, "interp1", f.n, 1e-5);
  assert_int_equal(imr_interpolate(f.centres, cd, f.G, f.pts, f.n, 3, out), AD3D_OK);
  compare(out, "interp3", f.n, 1e-4);
  /* k beyond the sites is clamped; a site itself takes its own value with k = 1 */
  assert_int_equal(imr_interpolate(f.centres, cd, 2, f.centres, 2, 50, out), AD3D_OK);
  assert_int_equal(imr_interpolate(f.centres, cd, f.G, f.centres, f.G, 1, out), AD3D_OK);
  for (int g = 0; g < f.G; g++)
    assert_true(out[g] == cd[g]);
  assert_int_equal(imr_interpolate(f.centres, cd, 0, f.pts, f.n, 1, out), AD3D_EINVAL);
  free(cd);
  free(out);
  fx_free(&f);
}

static void test_unit_sphere_vs_numpy(void **state) {
  (void)state;
  fx_case f;
  fx_load(&f);
  double c[3], r;
  imr_unit_sphere(f.pts, f.n, c, &r);
  int64_t cnt;
  double *want = fixture_array("sphere", &cnt);
  for (int d = 0; d < 3; d++)
    assert_close(c[d], want[d], 1e-6, "centre", d);
  assert_close(r, want[3], 1e-6, "radius", 3);
  float *out = malloc(sizeof *out * (size_t)f.n * 3);
  assert_non_null(out);
  imr_apply_norm(f.pts, f.n, c, r, out);
  double maxr = 0;
  for (int64_t i = 0; i < f.n; i++)
    maxr = fmax(maxr, sqrt(out[3 * i] * out[3 * i] + out[3 * i + 1] * out[3 * i + 1] + out[3 * i + 2] * out[3 * i + 2]));
  assert_close(maxr, 1.0, 1e-5, "max radius", 0);
  free(out);
  free(want);
  fx_free(&f);
}

/* ---- template regularisation on a hand-made case ------------------------------------------------------ */

static void test_template_regularise(void **state) {
  (void)state;
  /* bank: three 2-d features; queries: near row 0 (0.1 away), far from all (nearest row 2, 2.0 away),
   * exactly at row 1 */
  float bank[] = {0, 0, 1, 0, 5, 5};
  float feat[] = {0.1f, 0, 5, 7, 1, 0};
  nnsearch *ix = NULL;
  assert_int_equal(nnsearch_build(bank, 3, 2, &ix), AD3D_OK);
  int64_t nr = -1;
  assert_int_equal(imr_template_regularise(ix, bank, feat, 3, 2, 0.5, &nr), AD3D_OK);
  assert_int_equal(nr, 1);
  float want[] = {0.1f, 0, 5, 5, 1, 0};
  assert_memory_equal(feat, want, sizeof want);
  /* delta 0: everything not exactly on the bank is replaced */
  float feat2[] = {0.1f, 0, 5, 7, 1, 0};
  assert_int_equal(imr_template_regularise(ix, bank, feat2, 3, 2, 0.0, &nr), AD3D_OK);
  assert_int_equal(nr, 2);
  float want2[] = {0, 0, 5, 5, 1, 0};
  assert_memory_equal(feat2, want2, sizeof want2);
  /* a huge delta changes nothing; a dimension mismatch is an error */
  float feat3[] = {0.1f, 0, 5, 7, 1, 0};
  assert_int_equal(imr_template_regularise(ix, bank, feat3, 3, 2, 1e9, &nr), AD3D_OK);
  assert_int_equal(nr, 0);
  assert_int_equal(imr_template_regularise(ix, bank, feat3, 2, 3, 1.0, &nr), AD3D_EINVAL);
  nnsearch_free(ix);
}

/* ---- masks ------------------------------------------------------------------------------------------------ */

static void test_masks_random(void **state) {
  (void)state;
  const int G = 50, M = 20, T = 4;
  uint8_t a[4 * 50], b[4 * 50];
  rng_t r1, r2;
  rng_seed(&r1, 7);
  rng_seed(&r2, 7);
  assert_int_equal(imr_num_iterations(G, M, T, 0), T);
  assert_int_equal(imr_masks(a, G, M, T, 0, &r1), AD3D_OK);
  assert_int_equal(imr_masks(b, G, M, T, 0, &r2), AD3D_OK);
  assert_memory_equal(a, b, sizeof a);
  int differ = 0;
  for (int t = 0; t < T; t++) {
    int s = 0;
    for (int g = 0; g < G; g++)
      s += a[t * G + g];
    assert_int_equal(s, M);
    if (t && memcmp(a + t * G, a, (size_t)G))
      differ = 1;
  }
  assert_true(differ);
}

static void check_cover(int G, int M, int T, uint64_t seed) {
  const int Tn = imr_num_iterations(G, M, T, 1);
  const int need = (G + M - 1) / M;
  assert_int_equal(Tn, T > need ? T : need);
  uint8_t *mk = malloc((size_t)Tn * G);
  int *seen = calloc((size_t)G, sizeof *seen);
  assert_true(mk && seen);
  rng_t r;
  rng_seed(&r, seed);
  assert_int_equal(imr_masks(mk, G, M, T, 1, &r), AD3D_OK);
  for (int t = 0; t < Tn; t++) {
    int s = 0;
    for (int g = 0; g < G; g++) {
      s += mk[(size_t)t * G + g];
      if (t < need)
        seen[g] += mk[(size_t)t * G + g];
    }
    assert_int_equal(s, M);
  }
  for (int g = 0; g < G; g++)
    if (seen[g] < 1)
      fail_msg("G=%d M=%d T=%d: patch %d never masked in the first %d masks", G, M, T, g, need);
  /* the second cycle covers everything again in the following `need` masks, when there are enough */
  if (Tn >= 2 * need + 1) {
    memset(seen, 0, sizeof *seen * (size_t)G);
    for (int t = need; t < 2 * need + 1; t++)
      for (int g = 0; g < G; g++)
        seen[g] += mk[(size_t)t * G + g];
    for (int g = 0; g < G; g++)
      assert_true(seen[g] >= 1);
  }
  free(mk);
  free(seen);
}

static void test_masks_cover(void **state) {
  (void)state;
  check_cover(256, 102, 3, 1);  /* the default: 3 masks of 40% cover the 256 patches */
  check_cover(256, 25, 3, 2);   /* 10%: 11 iterations */
  check_cover(10, 4, 1, 3);     /* 3 masks; the third wraps into a fresh permutation */
  check_cover(10, 3, 12, 4);    /* several cycles */
  check_cover(7, 6, 5, 5);
  check_cover(2, 1, 1, 6);
}

/* ---- patches ------------------------------------------------------------------------------------------------ */

/* n points on a wavy ellipsoid, deterministic. */
static float *make_cloud(int64_t n, uint64_t seed) {
  float *p = malloc(sizeof *p * (size_t)n * 3);
  assert_non_null(p);
  rng_t r;
  rng_seed(&r, seed);
  for (int64_t i = 0; i < n; i++) {
    double x, y, z, q;
    do {
      x = rng_normal(&r), y = rng_normal(&r), z = rng_normal(&r);
      q = sqrt(x * x + y * y + z * z);
    } while (q < 1e-9);
    double w = 1 + 0.1 * sin(3 * x / q);
    p[3 * i] = (float)(x / q * w);
    p[3 * i + 1] = (float)(0.8 * y / q * w);
    p[3 * i + 2] = (float)(0.6 * z / q);
  }
  return p;
}

static float d2f(const float *a, const float *b) {
  float dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
  return dx * dx + dy * dy + dz * dz;
}

static void check_patches(const float *pts, int64_t n, const imr_patches *p) {
  for (int g = 0; g < p->G; g++) {
    const float *c = p->centers + 3 * g;
    /* the K-th smallest distance by brute force */
    float *all = malloc(sizeof *all * (size_t)n);
    assert_non_null(all);
    for (int64_t i = 0; i < n; i++)
      all[i] = d2f(pts + 3 * i, c);
    float kth = 0;
    for (int k = 0; k < p->K; k++) {
      int64_t j = p->idx[(size_t)g * p->K + k];
      assert_true(j >= 0 && j < n);
      float dj = all[j];
      if (k)
        assert_true(dj >= kth);
      kth = dj;
      for (int d = 0; d < 3; d++)
        assert_true(p->neigh[((size_t)g * p->K + k) * 3 + d] == pts[3 * j + d] - c[d]);
    }
    int64_t closer = 0;
    for (int64_t i = 0; i < n; i++)
      closer += all[i] < kth;
    assert_true(closer < p->K); /* nothing strictly closer than the K-th was left out */
    free(all);
  }
}

static void test_patches_samplers(void **state) {
  (void)state;
  const int64_t n = 700;
  const int G = 40, K = 24;
  float *pts = make_cloud(n, 11);
  const imr_sampler all[] = {IMR_SAMPLER_RS, IMR_SAMPLER_FPS, IMR_SAMPLER_VOXEL, IMR_SAMPLER_GPS};
  for (int s = 0; s < 4; s++) {
    imr_sampler parsed;
    assert_int_equal(imr_sampler_parse(imr_sampler_name(all[s]), &parsed), AD3D_OK);
    assert_int_equal(parsed, all[s]);
    rng_t r;
    rng_seed(&r, 3);
    imr_patches p;
    assert_int_equal(imr_patches_make(pts, n, G, K, all[s], NULL, &r, &p), AD3D_OK);
    assert_int_equal(p.G, G);
    assert_int_equal(p.K, K);
    check_patches(pts, n, &p);
    /* centres distinct; cloud points for every sampler but voxel (whose centroids lie near the cloud) */
    for (int g = 0; g < G; g++) {
      for (int h = 0; h < g; h++)
        assert_true(d2f(p.centers + 3 * g, p.centers + 3 * h) > 0);
      float best = INFINITY;
      for (int64_t i = 0; i < n; i++)
        best = fminf(best, d2f(p.centers + 3 * g, pts + 3 * i));
      if (all[s] == IMR_SAMPLER_VOXEL)
        assert_true(best < 0.05f);
      else
        assert_true(best == 0.0f);
    }
    int64_t *ref = malloc(sizeof *ref * G);
    assert_non_null(ref);
    if (all[s] == IMR_SAMPLER_FPS) {
      assert_int_equal(sample_fps(pts, n, G, 0, ref), AD3D_OK);
      for (int g = 0; g < G; g++)
        assert_memory_equal(p.centers + 3 * g, pts + 3 * ref[g], 3 * sizeof(float));
    }
    if (all[s] == IMR_SAMPLER_GPS) {
      gps_opts go = gps_defaults();
      assert_int_equal(sample_gps(pts, n, G, NULL, &go, ref, NULL), AD3D_OK);
      for (int g = 0; g < G; g++)
        assert_memory_equal(p.centers + 3 * g, pts + 3 * ref[g], 3 * sizeof(float));
    }
    free(ref);
    imr_patches_free(&p);
  }
  rng_t r;
  rng_seed(&r, 1);
  imr_patches p;
  assert_int_equal(imr_patches_make(pts, 20, G, K, IMR_SAMPLER_FPS, NULL, &r, &p), AD3D_EINVAL);
  assert_int_equal(imr_patches_make(pts, n, 0, K, IMR_SAMPLER_FPS, NULL, &r, &p), AD3D_EINVAL);
  imr_patches_free(&p);
  imr_patches_free(NULL);
  imr_sampler bad;
  assert_int_equal(imr_sampler_parse("poisson", &bad), AD3D_EINVAL);
  free(pts);
}

/* GPS puts more centres where the surface bends: on a flat square with a ridge across it, more of its
 * centres than of FPS's fall among the 30% of points with the highest rate of change (gps_rate). */
static void test_patches_gps_prefers_salient(void **state) {
  (void)state;
  const int side = 40;
  const int64_t n = side * side;
  float *pts = malloc(sizeof *pts * (size_t)n * 3), *rate = malloc(sizeof *rate * (size_t)n);
  float *sorted = malloc(sizeof *sorted * (size_t)n);
  assert_true(pts && rate && sorted);
  for (int i = 0; i < side; i++)
    for (int j = 0; j < side; j++) {
      float x = (float)i / (side - 1), y = (float)j / (side - 1);
      float *q = pts + 3 * ((int64_t)i * side + j);
      q[0] = x;
      q[1] = y;
      q[2] = 0.2f * expf(-(x - 0.5f) * (x - 0.5f) / (2 * 0.08f * 0.08f));
    }
  gps_opts go = gps_defaults();
  assert_int_equal(gps_rate(pts, n, NULL, &go, rate), AD3D_OK);
  memcpy(sorted, rate, sizeof *rate * (size_t)n);
  for (int64_t i = 1; i < n; i++) /* insertion sort, descending */
    for (int64_t j = i; j > 0 && sorted[j] > sorted[j - 1]; j--) {
      float t = sorted[j];
      sorted[j] = sorted[j - 1];
      sorted[j - 1] = t;
    }
  const float cut = sorted[(int64_t)(0.3 * n) - 1];
  assert_true(cut > 0); /* the salient set lies on the ridge, not among tied flat points */
  kdtree *t = NULL;
  assert_int_equal(kdtree_build(pts, n, &t), AD3D_OK);
  const int G = 64;
  int salient[2] = {0, 0};
  for (int s = 0; s < 2; s++) {
    rng_t r;
    rng_seed(&r, 5);
    imr_patches p;
    assert_int_equal(imr_patches_make(pts, n, G, 8, s ? IMR_SAMPLER_GPS : IMR_SAMPLER_FPS, NULL, &r, &p), AD3D_OK);
    for (int g = 0; g < G; g++) {
      int64_t i;
      float d2;
      kdtree_knn(t, p.centers + 3 * g, 1, &i, &d2);
      assert_true(d2 == 0);
      salient[s] += rate[i] >= cut;
    }
    imr_patches_free(&p);
  }
  print_message("centres among the salient points: fps %d, gps %d of %d\n", salient[0], salient[1], G);
  assert_true(salient[1] >= 30); /* round(64 * 2 * 0.3 / 1.3) salient centres */
  assert_true(salient[1] >= salient[0] + G / 8);
  kdtree_free(t);
  free(pts);
  free(rate);
  free(sorted);
}

/* The training loop's grouping (imr_train_group): with fps exactly mae_group's output; with gps (options
 * not the defaults) the centres of an independent sample_gps call, each with its K nearest points by brute
 * force (check_patches, on the indices recovered by exact match); with rs the same patches and the same rng
 * state afterwards as imr_patches_make from the same state; G and K always the model's, not the imr_opts'. */
static void test_train_group(void **state) {
  (void)state;
  const int64_t n = 600;
  const int G = 32, K = 20;
  float *pts = make_cloud(n, 21);
  mae_config cfg = mae_config_small();
  cfg.ngroups = G, cfg.group_size = K, cfg.npoints = (int)n;
  imr_opts io = imr_defaults(); /* ngroups 256, group_size 64: not read */
  float *neigh = malloc(sizeof *neigh * G * K * 3), *cen = malloc(sizeof *cen * G * 3);
  float *neigh2 = malloc(sizeof *neigh2 * G * K * 3), *cen2 = malloc(sizeof *cen2 * G * 3);
  int64_t *idx = malloc(sizeof *idx * G * K), *ref = malloc(sizeof *ref * G);
  assert_true(neigh && cen && neigh2 && cen2 && idx && ref);
  rng_t r, r2;
  /* fps: mae_group, bit for bit */
  io.sampler = IMR_SAMPLER_FPS;
  rng_seed(&r, 1);
  assert_int_equal(imr_train_group(&io, &cfg, pts, n, &r, neigh, cen), AD3D_OK);
  assert_int_equal(mae_group(&cfg, pts, n, neigh2, cen2), AD3D_OK);
  assert_memory_equal(neigh, neigh2, sizeof *neigh * G * K * 3);
  assert_memory_equal(cen, cen2, sizeof *cen * G * 3);
  /* gps with its options */
  io.sampler = IMR_SAMPLER_GPS;
  io.gps.tau = 0.2;
  io.gps.salient_ratio = 3;
  io.gps.normal_nb = nbhd_knn(10);
  io.gps.rate_nb = io.gps.normal_nb;
  assert_int_equal(imr_train_group(&io, &cfg, pts, n, &r, neigh, cen), AD3D_OK);
  assert_int_equal(sample_gps(pts, n, G, NULL, &io.gps, ref, NULL), AD3D_OK);
  int differs_from_defaults = 0;
  {
    gps_opts def = gps_defaults();
    int64_t *ref0 = malloc(sizeof *ref0 * G);
    assert_non_null(ref0);
    assert_int_equal(sample_gps(pts, n, G, NULL, &def, ref0, NULL), AD3D_OK);
    differs_from_defaults = memcmp(ref, ref0, sizeof *ref * G) != 0;
    free(ref0);
  }
  assert_true(differs_from_defaults); /* so the options are seen to be passed through */
  for (int g = 0; g < G; g++) {
    assert_memory_equal(cen + 3 * g, pts + 3 * ref[g], 3 * sizeof(float));
    for (int k = 0; k < K; k++) {
      const float *e = neigh + ((size_t)g * K + k) * 3;
      int64_t found = -1;
      for (int64_t i = 0; i < n && found < 0; i++)
        if (pts[3 * i] - cen[3 * g] == e[0] && pts[3 * i + 1] - cen[3 * g + 1] == e[1] &&
            pts[3 * i + 2] - cen[3 * g + 2] == e[2])
          found = i;
      assert_true(found >= 0);
      for (int h = 0; h < k; h++)
        assert_true(idx[(size_t)g * K + h] != found);
      idx[(size_t)g * K + k] = found;
    }
  }
  imr_patches view = {.G = G, .K = K, .centers = cen, .idx = idx, .neigh = neigh};
  check_patches(pts, n, &view);
  /* rs: the rng passed in, as imr_patches_make uses it */
  io.sampler = IMR_SAMPLER_RS;
  rng_seed(&r, 9);
  r2 = r;
  imr_patches p;
  assert_int_equal(imr_train_group(&io, &cfg, pts, n, &r, neigh, cen), AD3D_OK);
  assert_int_equal(imr_patches_make(pts, n, G, K, IMR_SAMPLER_RS, NULL, &r2, &p), AD3D_OK);
  assert_memory_equal(neigh, p.neigh, sizeof *neigh * G * K * 3);
  assert_memory_equal(cen, p.centers, sizeof *cen * G * 3);
  assert_memory_equal(&r, &r2, sizeof r);
  imr_patches_free(&p);
  /* too few points: the sampler named */
  io.sampler = IMR_SAMPLER_FPS;
  assert_int_equal(imr_train_group(&io, &cfg, pts, G - 1, &r, neigh, cen), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "fps grouping"));
  free(pts), free(neigh), free(cen), free(neigh2), free(cen2), free(idx), free(ref);
}

/* ---- the model's side --------------------------------------------------------------------------------------- */

static mae_config tiny_config(int G, int K, int npoints) {
  mae_config c = mae_config_small();
  c.width = 32;
  c.heads = 2;
  c.depth = 2;
  c.decoder_depth = 3;
  c.decoder_heads = 2;
  c.pe_dim1 = 16;
  c.pe_dim2 = 32;
  c.pe_dim3 = 64;
  c.pos_dim = 16;
  c.ngroups = G;
  c.group_size = K;
  c.npoints = npoints;
  c.drop_path_rate = 0;
  return c;
}

static void test_reconstruct_contract(void **state) {
  (void)state;
  const int G = 24, K = 12;
  mae_config cfg = tiny_config(G, K, 300);
  rng_t r;
  rng_seed(&r, 9);
  mae_model *m = NULL;
  assert_int_equal(mae_init(&m, &cfg, &r), AD3D_OK);
  float *pts = make_cloud(300, 4);
  imr_patches p;
  assert_int_equal(imr_patches_make(pts, 300, G, K, IMR_SAMPLER_FPS, NULL, &r, &p), AD3D_OK);
  float *rec = malloc(sizeof *rec * (size_t)G * K * 3);
  int times[24];
  assert_non_null(rec);
  imr_recon_opts o = imr_recon_defaults();
  o.iterations = 2;
  o.mask_ratio = 0.25; /* 6 per iteration: some patches stay untouched */
  assert_int_equal(imr_reconstruct(m, p.neigh, p.centers, &o, &r, rec, times), AD3D_OK);
  int untouched = 0, total = 0;
  for (int g = 0; g < G; g++) {
    total += times[g];
    int same = !memcmp(rec + (size_t)g * K * 3, p.neigh + (size_t)g * K * 3, sizeof(float) * K * 3);
    assert_int_equal(same, times[g] == 0);
    untouched += times[g] == 0;
  }
  assert_int_equal(total, 2 * 6);
  assert_true(untouched >= G - 12);
  /* cover: every patch is reconstructed; ceil(24 / 6) = 4 iterations */
  o.cover = 1;
  assert_int_equal(imr_reconstruct(m, p.neigh, p.centers, &o, &r, rec, times), AD3D_OK);
  total = 0;
  for (int g = 0; g < G; g++) {
    assert_true(times[g] >= 1);
    total += times[g];
  }
  assert_int_equal(total, 4 * 6);
  /* bad options and a model of another grouping */
  o.mask_ratio = 0.01;
  assert_int_equal(imr_reconstruct(m, p.neigh, p.centers, &o, &r, rec, NULL), AD3D_EINVAL);
  o.mask_ratio = 1.0;
  assert_int_equal(imr_reconstruct(m, p.neigh, p.centers, &o, &r, rec, NULL), AD3D_EINVAL);
  o.mask_ratio = 0.4;
  o.iterations = 0;
  assert_int_equal(imr_reconstruct(m, p.neigh, p.centers, &o, &r, rec, NULL), AD3D_EINVAL);
  assert_int_equal(imr_model_check(m, G, K), AD3D_OK);
  assert_int_equal(imr_model_check(m, G, K + 1), AD3D_EINVAL);
  free(rec);
  free(pts);
  imr_patches_free(&p);
  mae_free(m);
}

static void test_features_properties(void **state) {
  (void)state;
  const int G = 20, K = 10;
  mae_config cfg = tiny_config(G, K, 300);
  rng_t r;
  rng_seed(&r, 12);
  mae_model *m = NULL;
  assert_int_equal(mae_init(&m, &cfg, &r), AD3D_OK);
  assert_int_equal(imr_feature_dim(m, 3), 3 * 32);
  assert_int_equal(imr_feature_dim(m, 5), 3 * 32); /* clamped to the decoder's depth */
  assert_int_equal(imr_feature_dim(m, 1), 32);
  float *pts = make_cloud(300, 8);
  imr_patches p;
  assert_int_equal(imr_patches_make(pts, 300, G, K, IMR_SAMPLER_FPS, NULL, &r, &p), AD3D_OK);
  const int D = imr_feature_dim(m, 3);
  float *f = malloc(sizeof *f * (size_t)G * D), *fp = malloc(sizeof *fp * (size_t)G * D);
  float *pn = malloc(sizeof *pn * (size_t)G * K * 3), *pc = malloc(sizeof *pc * (size_t)G * 3);
  assert_true(f && fp && pn && pc);
  assert_int_equal(imr_features(m, p.neigh, p.centers, 3, f), AD3D_OK);
  /* every layer's slice of every token has mean 0 and variance 1 (LayerNorm without affine) */
  for (int g = 0; g < G; g++)
    for (int l = 0; l < 3; l++) {
      double s = 0, q = 0;
      for (int c = 0; c < 32; c++) {
        double v = f[(size_t)g * D + l * 32 + c];
        s += v;
        q += v * v;
      }
      assert_true(fabs(s / 32) < 1e-4);
      assert_true(fabs(q / 32 - 1) < 1e-2);
    }
  /* the layers differ (each block changes the tokens) */
  assert_true(memcmp(f, f + 32, 32 * sizeof *f) != 0);
  /* permuting the patches permutes the features (attention and eval-mode BatchNorm see a set) */
  int perm[20];
  for (int g = 0; g < G; g++)
    perm[g] = (g * 7 + 3) % G;
  for (int g = 0; g < G; g++) {
    memcpy(pn + (size_t)g * K * 3, p.neigh + (size_t)perm[g] * K * 3, sizeof(float) * K * 3);
    memcpy(pc + 3 * g, p.centers + 3 * perm[g], sizeof(float) * 3);
  }
  assert_int_equal(imr_features(m, pn, pc, 3, fp), AD3D_OK);
  for (int g = 0; g < G; g++)
    for (int d = 0; d < D; d++)
      assert_close(fp[(size_t)g * D + d], f[(size_t)perm[g] * D + d], 1e-3, "permuted feature", g);
  assert_int_equal(imr_features(m, p.neigh, p.centers, 0, f), AD3D_EINVAL);
  free(f);
  free(fp);
  free(pn);
  free(pc);
  free(pts);
  imr_patches_free(&p);
  mae_free(m);
}

/* imr_score_cloud's Chamfer map equals the parts composed by hand under the same random stream, with and
 * without the reduction of a large cloud; its feature map needs a bank when regularising. */
static void test_score_cloud_composition(void **state) {
  (void)state;
  const int G = 16, K = 8;
  const int64_t n = 400;
  mae_config cfg = tiny_config(G, K, 200);
  rng_t r;
  rng_seed(&r, 21);
  mae_model *m = NULL;
  assert_int_equal(mae_init(&m, &cfg, &r), AD3D_OK);
  float *pts = make_cloud(n, 30);
  float *cm = malloc(sizeof *cm * (size_t)n), *fm = malloc(sizeof *fm * (size_t)n);
  float *want = malloc(sizeof *want * (size_t)n);
  assert_true(cm && fm && want);
  for (int reduce = 0; reduce < 2; reduce++) {
    imr_opts o = imr_defaults();
    o.ngroups = G;
    o.group_size = K;
    o.sampler = IMR_SAMPLER_RS;
    o.npoints = reduce ? 150 : 0;
    o.chamfer_mode = IMR_CHAMFER_POINT;
    o.features = 0;
    rng_t r1;
    rng_seed(&r1, 77);
    assert_int_equal(imr_score_cloud(m, pts, n, &o, NULL, &r1, cm, NULL, NULL), AD3D_OK);
    /* by hand */
    rng_t r2;
    rng_seed(&r2, 77);
    int64_t ns = n, *sidx = NULL;
    float *sub = pts;
    if (reduce) {
      ns = 150;
      sidx = malloc(sizeof *sidx * (size_t)ns);
      sub = malloc(sizeof *sub * (size_t)ns * 3);
      assert_true(sidx && sub);
      assert_int_equal(sample_random(n, ns, &r2, sidx), AD3D_OK);
      sample_gather(pts, sidx, ns, sub);
    }
    imr_patches p;
    assert_int_equal(imr_patches_make(sub, ns, G, K, IMR_SAMPLER_RS, NULL, &r2, &p), AD3D_OK);
    float *rec = malloc(sizeof *rec * (size_t)G * K * 3), *din = malloc(sizeof *din * (size_t)G * K);
    float *sv = malloc(sizeof *sv * (size_t)ns);
    int *cnt = malloc(sizeof *cnt * (size_t)ns);
    uint8_t *have = calloc((size_t)n, 1);
    assert_true(rec && din && sv && cnt && have);
    assert_int_equal(imr_reconstruct(m, p.neigh, p.centers, &o.recon, &r2, rec, NULL), AD3D_OK);
    imr_patch_chamfer(p.neigh, rec, G, K, NULL, din);
    assert_int_equal(imr_point_mean(p.idx, din, G, K, ns, sv, cnt), AD3D_OK);
    for (int64_t i = 0; i < ns; i++) {
      int64_t dst = sidx ? sidx[i] : i;
      want[dst] = sv[i];
      have[dst] = cnt[i] > 0;
    }
    assert_int_equal(imr_fill_nearest(pts, n, have, want), AD3D_OK);
    for (int64_t i = 0; i < n; i++)
      assert_true(cm[i] == want[i]);
    /* the feature map: finite, non-negative; with regularisation it needs a bank */
    o.features = 1;
    o.chamfer = 0;
    assert_int_equal(imr_score_cloud(m, pts, n, &o, NULL, &r1, NULL, fm, NULL), AD3D_OK);
    for (int64_t i = 0; i < n; i++)
      assert_true(isfinite(fm[i]) && fm[i] >= 0);
    o.delta = 0.5;
    assert_int_equal(imr_score_cloud(m, pts, n, &o, NULL, &r1, NULL, fm, NULL), AD3D_EINVAL);
    free(rec);
    free(din);
    free(sv);
    free(cnt);
    free(have);
    imr_patches_free(&p);
    if (reduce) {
      free(sidx);
      free(sub);
    }
  }
  /* a model of another grouping is refused */
  imr_opts o = imr_defaults();
  assert_int_equal(imr_score_cloud(m, pts, n, &o, NULL, &r, cm, fm, NULL), AD3D_EINVAL);
  free(cm);
  free(fm);
  free(want);
  free(pts);
  mae_free(m);
}

/* Template regularisation inside the feature map: with a bank made of the cloud's own reconstruction-free
 * features and delta 0, every reconstructed feature is replaced by the nearest input feature. */
static void test_score_cloud_bank(void **state) {
  (void)state;
  const int G = 16, K = 8;
  const int64_t n = 300;
  mae_config cfg = tiny_config(G, K, 300);
  rng_t r;
  rng_seed(&r, 5);
  mae_model *m = NULL;
  assert_int_equal(mae_init(&m, &cfg, &r), AD3D_OK);
  float *pts = make_cloud(n, 31);
  imr_opts o = imr_defaults();
  o.ngroups = G;
  o.group_size = K;
  o.sampler = IMR_SAMPLER_FPS;
  o.chamfer = 0;
  o.interp_k = 1;
  const int D = imr_feature_dim(m, o.feature_layers);
  float *bf = malloc(sizeof *bf * (size_t)G * D), *fm = malloc(sizeof *fm * (size_t)n);
  assert_true(bf && fm);
  assert_int_equal(imr_cloud_features(m, pts, n, &o, &r, bf), AD3D_OK);
  imr_bank bank;
  assert_int_equal(imr_bank_build(&bank, bf, G, D), AD3D_OK);
  o.delta = 0;
  int64_t nrep = -1;
  assert_int_equal(imr_score_cloud(m, pts, n, &o, &bank, &r, NULL, fm, &nrep), AD3D_OK);
  assert_true(nrep > 0 && nrep <= G);
  o.delta = 1e9;
  assert_int_equal(imr_score_cloud(m, pts, n, &o, &bank, &r, NULL, fm, &nrep), AD3D_OK);
  assert_int_equal(nrep, 0);
  imr_bank_free(&bank);
  imr_bank_free(NULL);
  assert_int_equal(imr_bank_build(&bank, malloc(16), 0, D), AD3D_EINVAL);
  free(fm);
  free(pts);
  mae_free(m);
}

/* ---- after fine-tuning ----------------------------------------------------------------------------------- */

/* Mean per-patch Chamfer-L2 between the patches of pts and their reconstruction (one mask pass with cover),
 * and in *floor the same between those patches and the K nearest points of `other` (another sampling of the
 * same surface) around the same centres: the error of a perfect reconstruction of the surface. */
static double recon_error(mae_model *m, const float *pts, int64_t n, const float *other, rng_t *r, double *floor) {
  const int G = m->cfg.ngroups, K = m->cfg.group_size;
  imr_patches p;
  assert_int_equal(imr_patches_make(pts, n, G, K, IMR_SAMPLER_FPS, NULL, r, &p), AD3D_OK);
  float *rec = malloc(sizeof *rec * (size_t)G * K * 3), *cd = malloc(sizeof *cd * (size_t)G);
  assert_true(rec && cd);
  imr_recon_opts o = imr_recon_defaults();
  o.cover = 1;
  assert_int_equal(imr_reconstruct(m, p.neigh, p.centers, &o, r, rec, NULL), AD3D_OK);
  imr_patch_chamfer(p.neigh, rec, G, K, cd, NULL);
  double s = 0, f = 0;
  for (int g = 0; g < G; g++)
    s += cd[g];
  /* the other sampling's patches around the same centres */
  kdtree *t = NULL;
  int64_t *idx = malloc(sizeof *idx * (size_t)G * K);
  assert_non_null(idx);
  assert_int_equal(kdtree_build(other, n, &t), AD3D_OK);
  assert_int_equal(sample_group_knn(t, p.centers, G, K, idx), AD3D_OK);
  for (int g = 0; g < G; g++)
    for (int k = 0; k < K; k++)
      for (int d = 0; d < 3; d++)
        rec[((size_t)g * K + k) * 3 + d] = other[idx[(size_t)g * K + k] * 3 + d] - p.centers[3 * g + d];
  imr_patch_chamfer(p.neigh, rec, G, K, cd, NULL);
  for (int g = 0; g < G; g++)
    f += cd[g];
  *floor = f / G;
  kdtree_free(t);
  free(idx);
  free(rec);
  free(cd);
  imr_patches_free(&p);
  return s / G;
}

static void test_finetuned_reconstruction(void **state) {
  (void)state;
  const int G = 32, K = 16;
  mae_config cfg = mae_config_small();
  cfg.ngroups = G;
  cfg.group_size = K;
  cfg.npoints = 512;
  cfg.mask_ratio = 0.4;
  rng_t r;
  rng_seed(&r, 2024);
  mae_model *m = NULL;
  assert_int_equal(mae_init(&m, &cfg, &r), AD3D_OK);
  /* four training clouds of the shape, one held-out normal cloud of it */
  cloud_t train[4];
  for (int i = 0; i < 4; i++) {
    train[i].n = 800;
    train[i].xyz = make_cloud(800, 100 + i);
  }
  float *test = make_cloud(800, 999), *other = make_cloud(800, 998);
  rng_t re;
  rng_seed(&re, 1);
  double floor0, floor1;
  double before = recon_error(m, test, 800, other, &re, &floor0);
  mae_train_opts to = mae_train_defaults();
  to.epochs = 150;
  to.batch = 4;
  to.micro_batch = 4;
  to.warmup_epochs = 5;
  to.lr = 2e-3;
  to.augment = 0;
  double loss = 0;
  assert_int_equal(mae_finetune(m, train, 4, &to, NULL, NULL, &loss), AD3D_OK);
  rng_seed(&re, 1);
  double after = recon_error(m, test, 800, other, &re, &floor1);
  print_message("patch Chamfer-L2: untrained %.5f, fine-tuned %.5f, resampling floor %.5f (final loss %.5f)\n",
                before, after, floor1, loss);
  assert_true(floor0 == floor1);
  assert_true(after < 0.25 * before);
  assert_true(after < 3 * floor1);
  for (int i = 0; i < 4; i++)
    free(train[i].xyz);
  free(test);
  free(other);
  mae_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chamfer_vs_numpy),
      cmocka_unit_test(test_point_mean_and_fill_vs_numpy),
      cmocka_unit_test(test_interpolate_vs_numpy),
      cmocka_unit_test(test_unit_sphere_vs_numpy),
      cmocka_unit_test(test_template_regularise),
      cmocka_unit_test(test_masks_random),
      cmocka_unit_test(test_masks_cover),
      cmocka_unit_test(test_patches_samplers),
      cmocka_unit_test(test_patches_gps_prefers_salient),
      cmocka_unit_test(test_train_group),
      cmocka_unit_test(test_reconstruct_contract),
      cmocka_unit_test(test_features_properties),
      cmocka_unit_test(test_score_cloud_composition),
      cmocka_unit_test(test_score_cloud_bank),
      cmocka_unit_test(test_finetuned_reconstruction),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
