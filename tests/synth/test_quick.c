/* test_quick.c - the embedded quick dataset: layout and counts as promised, labels that agree
 * with the geometry, bit-identical regeneration, and the cache (reuse, concurrent writers).
 *
 * The geometric oracle: each sample's undeformed, noise-free surface in its pose
 * (quick_sample_surface, 120000 points) and nearest-neighbour distances to it computed here with a
 * uniform grid (exact). Labelled bulge/concavity points must lie far off that surface and
 * unlabelled ones on it; a hole must leave an empty disk of the surface with the labelled points
 * on its rim; normal samples must lie on their surface.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "io/dataset.h"
#include "io/pcd.h"
#include "synth/quick.h"

static char scratch_root[256];
static char quick_root[300]; /* written once by the group setup */

static int setup(void **state) {
  (void)state;
  snprintf(scratch_root, sizeof scratch_root, "/tmp/ad3d_test_quick.XXXXXX");
  if (!mkdtemp(scratch_root))
    return -1;
  snprintf(quick_root, sizeof quick_root, "%s/quick", scratch_root);
  if (quick_dataset_write(quick_root) != AD3D_OK) {
    fprintf(stderr, "quick_dataset_write: %s\n", ad3d_errmsg());
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return remove_tree(scratch_root) == AD3D_OK ? 0 : -1;
}

/* ------------------------------------------------------------------ nearest neighbours */

/* Exact nearest-neighbour distances by a uniform grid of cell size h over a box that holds both the
 * reference points and the queries: after scanning all cells within Chebyshev ring r of the query's
 * cell, any unscanned point is at least r h away. */
typedef struct {
  const float *pts;
  int64_t n;
  double lo[3], h;
  int dim[3];
  int64_t *start; /* (ncell + 1) */
  int64_t *idx;   /* (n) point indices grouped by cell */
} nn_grid;

static int cell_of(const nn_grid *g, const float *p, int a) {
  int c = (int)floor((p[a] - g->lo[a]) / g->h);
  return c < 0 ? 0 : c >= g->dim[a] ? g->dim[a] - 1 : c;
}

static void grid_build(nn_grid *g, const float *pts, int64_t n, const float *q, int64_t m, double h) {
  double hi[3];
  g->pts = pts;
  g->n = n;
  g->h = h;
  for (int a = 0; a < 3; a++) {
    g->lo[a] = 1e30;
    hi[a] = -1e30;
  }
  for (int s = 0; s < 2; s++) {
    const float *v = s ? q : pts;
    int64_t k = s ? m : n;
    for (int64_t i = 0; i < k; i++)
      for (int a = 0; a < 3; a++) {
        g->lo[a] = fmin(g->lo[a], v[3 * i + a]);
        hi[a] = fmax(hi[a], v[3 * i + a]);
      }
  }
  for (int a = 0; a < 3; a++)
    g->dim[a] = (int)((hi[a] - g->lo[a]) / h) + 1;
  int64_t ncell = (int64_t)g->dim[0] * g->dim[1] * g->dim[2];
  g->start = calloc((size_t)ncell + 1, sizeof *g->start);
  g->idx = malloc((size_t)n * sizeof *g->idx);
  int64_t *cellid = malloc((size_t)n * sizeof *cellid);
  for (int64_t i = 0; i < n; i++) {
    const float *p = pts + 3 * i;
    cellid[i] = ((int64_t)cell_of(g, p, 0) * g->dim[1] + cell_of(g, p, 1)) * g->dim[2] + cell_of(g, p, 2);
    g->start[cellid[i] + 1]++;
  }
  for (int64_t c = 0; c < ncell; c++)
    g->start[c + 1] += g->start[c];
  int64_t *fill = malloc((size_t)ncell * sizeof *fill);
  memcpy(fill, g->start, (size_t)ncell * sizeof *fill);
  for (int64_t i = 0; i < n; i++)
    g->idx[fill[cellid[i]]++] = i;
  free(fill);
  free(cellid);
}

static void grid_free(nn_grid *g) {
  free(g->start);
  free(g->idx);
}

static double grid_nn(const nn_grid *g, const float *q) {
  int c[3] = {cell_of(g, q, 0), cell_of(g, q, 1), cell_of(g, q, 2)};
  double best = INFINITY;
  int maxr = g->dim[0] + g->dim[1] + g->dim[2];
  for (int r = 0; r <= maxr; r++) {
    for (int i = c[0] - r; i <= c[0] + r; i++)
      for (int j = c[1] - r; j <= c[1] + r; j++)
        for (int k = c[2] - r; k <= c[2] + r; k++) {
          if (abs(i - c[0]) != r && abs(j - c[1]) != r && abs(k - c[2]) != r)
            continue; /* inner rings were scanned already */
          if (i < 0 || j < 0 || k < 0 || i >= g->dim[0] || j >= g->dim[1] || k >= g->dim[2])
            continue;
          int64_t cell = ((int64_t)i * g->dim[1] + j) * g->dim[2] + k;
          for (int64_t t = g->start[cell]; t < g->start[cell + 1]; t++) {
            const float *p = g->pts + 3 * g->idx[t];
            double dx = p[0] - q[0], dy = p[1] - q[1], dz = p[2] - q[2];
            double d = dx * dx + dy * dy + dz * dz;
            if (d < best)
              best = d;
          }
        }
    if (best <= (r * g->h) * (r * g->h))
      break;
  }
  return sqrt(best);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* q-quantile of v (n, sorted in place). */
static double quantile(double *v, int64_t n, double q) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  int64_t i = (int64_t)(q * (double)(n - 1));
  return v[i];
}

/* ------------------------------------------------------------------ tests */

static void test_quick_layout_counts(void **state) {
  (void)state;
  const dataset_layout *L = dataset_layout_find("anomaly_shapenet");
  char **cls;
  int ncls;
  assert_int_equal(L->list_classes(quick_root, &cls, &ncls), AD3D_OK);
  int nq = 0;
  while (quick_classes[nq])
    nq++;
  assert_true(nq >= 4 && nq <= 5);
  assert_int_equal(ncls, nq);
  int ndef = 0;
  while (quick_defects[ndef])
    ndef++;
  assert_int_equal(ndef, 3);
  for (int c = 0; c < ncls; c++) {
    class_data_t d;
    assert_int_equal(dataset_load_class(L, quick_root, cls[c], &d), AD3D_OK);
    assert_int_equal(d.ntrain, QUICK_NTRAIN);
    assert_int_equal(d.ntest, QUICK_NPOSITIVE + ndef * QUICK_NPER_DEFECT);
    int ngood = 0, per[3] = {0, 0, 0};
    for (int i = 0; i < d.ntest; i++) {
      const sample_t *s = &d.test[i];
      if (!s->anomalous) {
        assert_string_equal(s->defect, "good");
        ngood++;
      }
      for (int k = 0; k < 3; k++)
        per[k] += s->anomalous && !strcmp(s->defect, quick_defects[k]);
    }
    assert_int_equal(ngood, QUICK_NPOSITIVE);
    for (int k = 0; k < 3; k++)
      assert_int_equal(per[k], QUICK_NPER_DEFECT);
    for (int i = 0; i < d.ntrain + d.ntest; i++) {
      const sample_t *s = i < d.ntrain ? &d.train[i] : &d.test[i - d.ntrain];
      /* holes remove points; everything else has the drawn 2200..2800 */
      assert_true(s->cloud.n <= 2800);
      assert_true(s->cloud.n >= (!strcmp(s->defect, "hole") ? 1800 : 2200));
    }
    class_data_free(&d);
  }
  /* the dataset check agrees: no problems */
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  int np = -1;
  assert_int_equal(dataset_check(L, quick_root, NULL, 0, f, &np), AD3D_OK);
  fclose(f);
  assert_int_equal(np, 0);
  free(buf);
  strv_free(cls, ncls);
}

static void test_quick_labels(void **state) {
  (void)state;
  const dataset_layout *L = dataset_layout_find("anomaly_shapenet");
  for (int c = 0; quick_classes[c]; c++) {
    class_data_t d;
    assert_int_equal(dataset_load_class(L, quick_root, quick_classes[c], &d), AD3D_OK);
    for (int i = 0; i < d.ntest; i++) {
      const sample_t *s = &d.test[i];
      int64_t k = 0;
      for (int64_t j = 0; j < s->cloud.n; j++)
        k += s->labels[j];
      double frac = (double)k / (double)s->cloud.n;
      if (s->anomalous) {
        if (!(k > 0 && frac < 0.3))
          fail_msg("%s: anomalous fraction %.4f", s->name, frac);
      } else {
        assert_int_equal(k, 0);
      }
    }
    /* GT rows are the PCD's points in order (the loader does not rely on it, the writer promises it) */
    for (int i = 0; i < d.ntest; i++) {
      if (!d.test[i].anomalous)
        continue;
      char *path = str_printf("%s/%s/test/%s.pcd", quick_root, quick_classes[c], d.test[i].name);
      cloud_t pc;
      assert_int_equal(pcd_read(path, &pc, NULL), AD3D_OK);
      assert_int_equal(pc.n, d.test[i].cloud.n);
      for (int64_t j = 0; j < 3 * pc.n; j++)
        assert_true(fabsf(pc.xyz[j] - d.test[i].cloud.xyz[j]) <= 1e-5f * (1.0f + fabsf(pc.xyz[j])));
      cloud_free(&pc);
      free(path);
    }
    class_data_free(&d);
  }
}

/* Distances of the points of s to its undeformed surface. */
static double *surface_distances(const sample_t *s, double *max_gap, float *gap_centre) {
  cloud_t ref;
  assert_int_equal(quick_sample_surface(s->name, 120000, &ref), AD3D_OK);
  nn_grid g;
  grid_build(&g, ref.xyz, ref.n, s->cloud.xyz, s->cloud.n, 0.04);
  double *d = malloc((size_t)s->cloud.n * sizeof *d);
  for (int64_t i = 0; i < s->cloud.n; i++)
    d[i] = grid_nn(&g, s->cloud.xyz + 3 * i);
  grid_free(&g);
  if (max_gap) { /* the surface point farthest from the sample (of every 4th): the middle of the largest void */
    grid_build(&g, s->cloud.xyz, s->cloud.n, ref.xyz, ref.n, 0.04);
    *max_gap = -1;
    for (int64_t i = 0; i < ref.n; i += 2) {
      double v = grid_nn(&g, ref.xyz + 3 * i);
      if (v > *max_gap) {
        *max_gap = v;
        memcpy(gap_centre, ref.xyz + 3 * i, 3 * sizeof *gap_centre);
      }
    }
    grid_free(&g);
  }
  cloud_free(&ref);
  return d;
}

static void test_quick_geometry(void **state) {
  (void)state;
  const dataset_layout *L = dataset_layout_find("anomaly_shapenet");
  for (int c = 0; quick_classes[c]; c++) {
    class_data_t d;
    assert_int_equal(dataset_load_class(L, quick_root, quick_classes[c], &d), AD3D_OK);
    double normal_gap = 0;
    for (int i = 0; i < d.ntest; i++) {
      const sample_t *s = &d.test[i];
      int64_t n = s->cloud.n, n1 = 0, n0 = 0;
      double gap = 0;
      float gc[3];
      int hole = !strcmp(s->defect, "hole");
      double *dist = surface_distances(s, s->anomalous && !hole ? NULL : &gap, gc);
      double *d1 = malloc((size_t)n * sizeof *d1), *d0 = malloc((size_t)n * sizeof *d0);
      for (int64_t j = 0; j < n; j++) {
        if (s->labels[j])
          d1[n1++] = dist[j];
        else
          d0[n0++] = dist[j];
      }
      double q0_99 = quantile(d0, n0, 0.99);
      if (getenv("QUICK_DEBUG"))
        fprintf(stderr, "%-22s n %5lld  d0 50%% %.4f 99%% %.4f max %.4f  d1 10%% %.4f 50%% %.4f  gap %.4f\n", s->name,
                (long long)n, quantile(d0, n0, 0.5), q0_99, quantile(d0, n0, 1.0), n1 ? quantile(d1, n1, 0.1) : 0,
                n1 ? quantile(d1, n1, 0.5) : 0, gap);
      if (!s->anomalous) {
        /* on the surface up to noise (sigma 0.002) and the reference's spacing */
        if (q0_99 > 0.012 || quantile(d0, n0, 1.0) > 0.02)
          fail_msg("%s: normal points off the surface (99%% %.4f)", s->name, q0_99);
        normal_gap = fmax(normal_gap, gap);
      } else if (!hole) {
        /* displaced points are far off the surface, the others on it */
        double m1 = quantile(d1, n1, 0.5), m0 = quantile(d0, n0, 0.5), q0_90 = quantile(d0, n0, 0.9);
        if (!(m1 > 4 * m0 && q0_90 < m1 && quantile(d1, n1, 0.1) > q0_90))
          fail_msg("%s: labelled median %.4f, unlabelled median %.4f / 90%% %.4f", s->name, m1, m0, q0_90);
        if (q0_99 > 0.02)
          fail_msg("%s: unlabelled points off the surface (99%% %.4f)", s->name, q0_99);
      } else {
        /* every point lies on the surface; a disk of radius >= 0.15 of it is empty (the smallest hole
         * is 0.18; random sampling leaves voids of about 0.1), and the labelled points ring that disk:
         * closer to its middle than any other point */
        if (quantile(dist, n, 1.0) > 0.02)
          fail_msg("%s: points off the surface", s->name);
        if (gap < 0.15)
          fail_msg("%s: largest void only %.4f", s->name, gap);
        double max1 = 0, min0 = INFINITY;
        for (int64_t j = 0; j < n; j++) {
          const float *p = s->cloud.xyz + 3 * j;
          double r = sqrt(pow(p[0] - gc[0], 2) + pow(p[1] - gc[1], 2) + pow(p[2] - gc[2], 2));
          if (s->labels[j])
            max1 = fmax(max1, r);
          else
            min0 = fmin(min0, r);
        }
        if (!(min0 > gap && max1 < gap + 0.06 + 0.05))
          fail_msg("%s: void %.4f, labelled up to %.4f, unlabelled from %.4f", s->name, gap, max1, min0);
      }
      free(dist);
      free(d1);
      free(d0);
    }
    /* a normal sample has no void as large as a hole */
    if (normal_gap >= 0.15)
      fail_msg("%s: a normal sample has a void of %.4f", quick_classes[c], normal_gap);
    class_data_free(&d);
  }
}

/* Assert the regular files under a and b (recursively) are the same set with the same bytes. */
static void assert_trees_equal(const char *a, const char *b) {
  char **na, **nb;
  int ka, kb;
  assert_int_equal(list_dir(a, NULL, &na, &ka), AD3D_OK);
  assert_int_equal(list_dir(b, NULL, &nb, &kb), AD3D_OK);
  assert_int_equal(ka, kb);
  for (int i = 0; i < ka; i++) {
    assert_string_equal(na[i], nb[i]);
    char *pa = str_printf("%s/%s", a, na[i]), *pb = str_printf("%s/%s", b, nb[i]);
    if (is_dir(pa)) {
      assert_trees_equal(pa, pb);
    } else {
      FILE *fa = fopen(pa, "rb"), *fb = fopen(pb, "rb");
      assert_non_null(fa);
      assert_non_null(fb);
      int ca, cb;
      do {
        ca = fgetc(fa);
        cb = fgetc(fb);
        if (ca != cb)
          fail_msg("%s and %s differ", pa, pb);
      } while (ca != EOF);
      fclose(fa);
      fclose(fb);
    }
    free(pa);
    free(pb);
  }
  strv_free(na, ka);
  strv_free(nb, kb);
}

static void test_quick_deterministic(void **state) {
  (void)state;
  char *again = str_printf("%s/again", scratch_root);
  assert_int_equal(quick_dataset_write(again), AD3D_OK);
  assert_trees_equal(quick_root, again);
  /* and one sample made alone equals its file */
  sample_t s;
  assert_int_equal(quick_sample_make("torus0_bulge1", &s), AD3D_OK);
  char *path = str_printf("%s/torus0/test/torus0_bulge1.pcd", quick_root);
  cloud_t pc;
  assert_int_equal(pcd_read(path, &pc, NULL), AD3D_OK);
  assert_int_equal(pc.n, s.cloud.n);
  assert_memory_equal(pc.xyz, s.cloud.xyz, (size_t)pc.n * 3 * sizeof(float));
  assert_int_equal(s.anomalous, 1);
  assert_string_equal(s.defect, "bulge");
  cloud_free(&pc);
  sample_free(&s);
  assert_int_equal(quick_sample_make("sphere0_template2", &s), AD3D_OK);
  assert_null(s.labels);
  sample_free(&s);
  free(path);
  /* a different stem is a different sample */
  sample_t a, b;
  assert_int_equal(quick_sample_make("cup0_positive0", &a), AD3D_OK);
  assert_int_equal(quick_sample_make("cup0_positive1", &b), AD3D_OK);
  assert_true(a.cloud.n != b.cloud.n || memcmp(a.cloud.xyz, b.cloud.xyz, (size_t)a.cloud.n * 12) != 0);
  sample_free(&a);
  sample_free(&b);
  free(again);
}

static void test_quick_errors(void **state) {
  (void)state;
  sample_t s;
  assert_int_equal(quick_sample_make("teapot0_bulge1", &s), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "teapot0_bulge1"));
  assert_int_equal(quick_sample_make("cup0_crack1", &s), AD3D_EINVAL);
  assert_int_equal(quick_sample_make("cup0_bulge", &s), AD3D_EINVAL);
  assert_int_equal(quick_sample_make("cup0", &s), AD3D_EINVAL);
  cloud_t c;
  assert_int_equal(quick_sample_surface("cup0_hole", 10, &c), AD3D_EINVAL);
  /* the writer refuses a folder that holds something */
  assert_int_equal(quick_dataset_write(quick_root), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), quick_root));
}

static void test_quick_ensure(void **state) {
  (void)state;
  char *cache = str_printf("%s/cache1", scratch_root);
  setenv("AD3D_CACHE", cache, 1);
  char *dir = NULL, *dir2 = NULL;
  assert_int_equal(quick_cache_dir(&dir), AD3D_OK);
  assert_string_equal(dir, cache);
  free(dir);
  assert_int_equal(quick_dataset_ensure(&dir), AD3D_OK);
  char *want = str_printf("%s/quick-v%d", cache, QUICK_DATASET_VERSION);
  assert_string_equal(dir, want);
  assert_trees_equal(quick_root, dir);
  /* reuse: a marker put into the cached dataset survives the next ensure */
  char *marker = str_printf("%s/marker", dir);
  FILE *f = fopen(marker, "w");
  assert_non_null(f);
  fclose(f);
  assert_int_equal(quick_dataset_ensure(&dir2), AD3D_OK);
  assert_string_equal(dir2, want);
  assert_true(is_file(marker));
  char **names;
  int n;
  assert_int_equal(list_dir(cache, NULL, &names, &n), AD3D_OK);
  assert_int_equal(n, 1); /* no temporary folder left */
  strv_free(names, n);
  free(dir);
  free(dir2);
  free(marker);
  free(want);
  free(cache);

  /* other cache roots */
  unsetenv("AD3D_CACHE");
  setenv("XDG_CACHE_HOME", "/x/y", 1);
  assert_int_equal(quick_cache_dir(&dir), AD3D_OK);
  assert_string_equal(dir, "/x/y/ad3d");
  free(dir);
  unsetenv("XDG_CACHE_HOME");
  setenv("HOME", "/h", 1);
  assert_int_equal(quick_cache_dir(&dir), AD3D_OK);
  assert_string_equal(dir, "/h/.cache/ad3d");
  free(dir);
  unsetenv("HOME");
  assert_int_equal(quick_cache_dir(&dir), AD3D_EINVAL);
  assert_int_equal(quick_dataset_ensure(&dir), AD3D_EINVAL);
  assert_null(dir);
}

/* Several processes ensure the same cache at once: all succeed, one dataset, no leftovers (also
 * none of an earlier killed writer). */
static void test_quick_ensure_concurrent(void **state) {
  (void)state;
  char *cache = str_printf("%s/cache2", scratch_root);
  setenv("AD3D_CACHE", cache, 1);
  /* a folder a killed writer on this host left behind: removed by the writer that runs next */
  pid_t dead = fork();
  assert_true(dead >= 0);
  if (dead == 0)
    _exit(0);
  assert_int_equal(waitpid(dead, NULL, 0), dead);
  char host[64] = "host";
  gethostname(host, sizeof host);
  host[sizeof host - 1] = '\0';
  char *stale = str_printf("%s/quick-v1.tmp.%ld.%s/box0", cache, (long)dead, host);
  assert_int_equal(mkdir_p(stale), AD3D_OK);
  free(stale);
  enum { P = 4 };
  pid_t pids[P];
  for (int i = 0; i < P; i++) {
    pids[i] = fork();
    assert_true(pids[i] >= 0);
    if (pids[i] == 0) {
      char *dir;
      ad3d_status st = quick_dataset_ensure(&dir);
      if (st != AD3D_OK)
        fprintf(stderr, "child %d: %s\n", i, ad3d_errmsg());
      _exit(st == AD3D_OK && str_ends_with(dir, "/quick-v1") ? 0 : 1);
    }
  }
  for (int i = 0; i < P; i++) {
    int status;
    assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  char **names;
  int n;
  assert_int_equal(list_dir(cache, NULL, &names, &n), AD3D_OK);
  assert_int_equal(n, 1);
  assert_string_equal(names[0], "quick-v1");
  strv_free(names, n);
  char *dir = str_printf("%s/quick-v1", cache);
  assert_trees_equal(quick_root, dir);
  free(dir);
  free(cache);
  unsetenv("AD3D_CACHE");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quick_layout_counts),
      cmocka_unit_test(test_quick_labels),
      cmocka_unit_test(test_quick_geometry),
      cmocka_unit_test(test_quick_deterministic),
      cmocka_unit_test(test_quick_errors),
      cmocka_unit_test(test_quick_ensure),
      cmocka_unit_test(test_quick_ensure_concurrent),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
