/* test_sampling.c - random, farthest point, voxel-grid and geometry-aware sampling; kNN patches.
 *
 * Oracles: a brute-force O(n m) FPS written here; Open3D 0.16's voxel_down_sample
 * (tests/fixtures/geom/voxel_*.txt, made by make_voxel_fixture.py); a brute-force rate of change
 * (neighbours by sorting all distances); brute-force kNN for the patches; for GPS, a plane with a bump
 * where the bump must receive more centres than FPS gives it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "geom/normals.h"
#include "geom/sampling.h"
#include "geom/zorder.h"

#include "geom_fixture.h"

/* ---- random ------------------------------------------------------------------------------------ */

static void test_sample_random(void **state) {
  (void)state;
  rng_t r;
  const int64_t n = 1000, m = 300;
  int64_t a[300], b[300];
  rng_seed(&r, 5);
  assert_int_equal(sample_random(n, m, &r, a), AD3D_OK);
  for (int64_t j = 0; j < m; j++) {
    assert_true(a[j] >= 0 && a[j] < n);
    if (j > 0)
      assert_true(a[j] > a[j - 1]); /* ascending, hence distinct */
  }
  rng_seed(&r, 5);
  assert_int_equal(sample_random(n, m, &r, b), AD3D_OK);
  assert_memory_equal(a, b, sizeof a);
  rng_seed(&r, 6);
  assert_int_equal(sample_random(n, m, &r, b), AD3D_OK);
  assert_true(memcmp(a, b, sizeof a) != 0);
  /* all of them, none of them */
  assert_int_equal(sample_random(m, m, &r, b), AD3D_OK);
  for (int64_t j = 0; j < m; j++)
    assert_int_equal(b[j], j);
  assert_int_equal(sample_random(n, 0, &r, NULL), AD3D_OK);
  assert_int_equal(sample_random(5, 6, &r, b), AD3D_EINVAL);
  assert_int_equal(sample_random(-1, 0, &r, b), AD3D_EINVAL);
  /* uniform: each of 10 indices drawn in 3 of 10 on average; 20000 draws, 5 sigma = 0.016 */
  int64_t hits[10] = {0}, d[3];
  const int draws = 20000;
  for (int it = 0; it < draws; it++) {
    assert_int_equal(sample_random(10, 3, &r, d), AD3D_OK);
    for (int j = 0; j < 3; j++)
      hits[d[j]]++;
  }
  for (int i = 0; i < 10; i++)
    assert_true(fabs((double)hits[i] / draws - 0.3) < 0.016);
}

/* ---- farthest point ---------------------------------------------------------------------------- */

/* The definition, O(n m) per pick: next = the point with the largest distance to its nearest chosen
 * centre among points not yet chosen, smallest index on ties. */
static void fps_brute(const float *pts, int64_t n, int64_t m, int64_t start, int64_t *out) {
  char *chosen = calloc((size_t)n, 1);
  assert_non_null(chosen);
  out[0] = start;
  chosen[start] = 1;
  for (int64_t s = 1; s < m; s++) {
    float best = -1.0f;
    int64_t arg = -1;
    for (int64_t i = 0; i < n; i++) {
      if (chosen[i])
        continue;
      float dmin = INFINITY;
      for (int64_t c = 0; c < s; c++) {
        const float *p = pts + 3 * i, *q = pts + 3 * out[c];
        float dx = p[0] - q[0], dy = p[1] - q[1], dz = p[2] - q[2];
        float d = dx * dx + dy * dy + dz * dz;
        dmin = d < dmin ? d : dmin;
      }
      if (dmin > best) {
        best = dmin;
        arg = i;
      }
    }
    out[s] = arg;
    chosen[arg] = 1;
  }
  free(chosen);
}

static void test_sample_fps_brute_force(void **state) {
  (void)state;
  rng_t r;
  rng_seed(&r, 11);
  const int64_t n = 700;
  float *pts = malloc(sizeof *pts * 3 * n);
  int64_t *got = malloc(sizeof *got * n), *want = malloc(sizeof *want * n);
  assert_true(pts && got && want);
  for (int64_t i = 0; i < 3 * n; i++)
    pts[i] = (float)rng_normal(&r);
  const int64_t ms[] = {1, 2, 64, 200}, starts[] = {0, 17, 699};
  for (size_t a = 0; a < 4; a++)
    for (size_t b = 0; b < 3; b++) {
      assert_int_equal(sample_fps(pts, n, ms[a], starts[b], got), AD3D_OK);
      fps_brute(pts, n, ms[a], starts[b], want);
      assert_memory_equal(got, want, sizeof *got * (size_t)ms[a]);
    }
  /* integer grid with duplicates: exact ties everywhere; every point once when m = n */
  for (int64_t i = 0; i < n; i++)
    for (int k = 0; k < 3; k++)
      pts[3 * i + k] = (float)rng_below(&r, 5);
  assert_int_equal(sample_fps(pts, n, 150, 3, got), AD3D_OK);
  fps_brute(pts, n, 150, 3, want);
  assert_memory_equal(got, want, sizeof *got * 150);
  assert_int_equal(sample_fps(pts, n, n, 0, got), AD3D_OK);
  char *seen = calloc((size_t)n, 1);
  assert_non_null(seen);
  for (int64_t j = 0; j < n; j++) {
    assert_true(got[j] >= 0 && got[j] < n && !seen[got[j]]);
    seen[got[j]] = 1;
  }
  free(seen);
  assert_int_equal(sample_fps(pts, n, 5, n, got), AD3D_EINVAL);
  assert_int_equal(sample_fps(pts, n, 5, -1, got), AD3D_EINVAL);
  assert_int_equal(sample_fps(pts, n, n + 1, 0, got), AD3D_EINVAL);
  assert_int_equal(sample_fps(pts, n, 0, 0, NULL), AD3D_OK);
  free(pts);
  free(got);
  free(want);
}

/* ---- voxel grid -------------------------------------------------------------------------------- */

static void test_sample_voxel_open3d(void **state) {
  (void)state;
  fixture_table ct = fixture_read("voxel_cloud.txt"), vt = fixture_read("voxel_o3d.txt");
  assert_int_equal(ct.cols, 3);
  assert_int_equal(vt.cols, 4);
  int64_t n = ct.rows;
  float *pts = malloc(sizeof *pts * 3 * n);
  int64_t *assign = malloc(sizeof *assign * n);
  assert_true(pts && assign);
  for (int64_t i = 0; i < n; i++)
    for (int a = 0; a < 3; a++)
      pts[3 * i + a] = (float)fixture_at(&ct, (int)i, a);
  const double sizes[2] = {0.125, 0.2};
  for (int s = 0; s < 2; s++) {
    cloud_t out = {0};
    assert_int_equal(sample_voxel(pts, n, sizes[s], &out, assign), AD3D_OK);
    /* Open3D's centroids for this size, matched one to one (orders differ) */
    int64_t count = 0;
    char *used = calloc((size_t)out.n, 1);
    assert_non_null(used);
    for (int r = 0; r < vt.rows; r++) {
      if (fixture_at(&vt, r, 0) != sizes[s])
        continue;
      count++;
      int64_t hit = -1;
      for (int64_t v = 0; v < out.n; v++) {
        double d = 0.0;
        for (int a = 0; a < 3; a++)
          d = fmax(d, fabs(out.xyz[3 * v + a] - fixture_at(&vt, r, 1 + a)));
        if (d <= 1e-6 && !used[v]) {
          hit = v;
          break;
        }
      }
      if (hit < 0)
        fail_msg("voxel %g: Open3D centroid (%.9g, %.9g, %.9g) has no match", sizes[s], fixture_at(&vt, r, 1),
                 fixture_at(&vt, r, 2), fixture_at(&vt, r, 3));
      used[hit] = 1;
    }
    assert_int_equal(count, out.n);
    /* assign: first-met order, and each centroid is the mean of its points */
    int64_t next = 0;
    double *sum = calloc((size_t)out.n * 4, sizeof *sum);
    assert_non_null(sum);
    for (int64_t i = 0; i < n; i++) {
      assert_true(assign[i] >= 0 && assign[i] <= next && assign[i] < out.n);
      if (assign[i] == next)
        next++;
      for (int a = 0; a < 3; a++)
        sum[4 * assign[i] + a] += pts[3 * i + a];
      sum[4 * assign[i] + 3] += 1.0;
    }
    for (int64_t v = 0; v < out.n; v++)
      for (int a = 0; a < 3; a++)
        assert_true(fabs(sum[4 * v + a] / sum[4 * v + 3] - out.xyz[3 * v + a]) < 1e-6);
    print_message("voxel %g: %lld centroids, all matching Open3D's\n", sizes[s], (long long)out.n);
    free(sum);
    free(used);
    cloud_free(&out);
  }
  /* errors and the empty cloud */
  cloud_t out = {0};
  assert_int_equal(sample_voxel(pts, n, 0.0, &out, NULL), AD3D_EINVAL);
  assert_int_equal(sample_voxel(pts, n, NAN, &out, NULL), AD3D_EINVAL);
  assert_int_equal(sample_voxel(pts, n, 1e-12, &out, NULL), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "too small"));
  pts[7] = NAN;
  assert_int_equal(sample_voxel(pts, n, 0.1, &out, NULL), AD3D_EINVAL);
  assert_int_equal(sample_voxel(NULL, 0, 0.1, &out, NULL), AD3D_OK);
  assert_int_equal(out.n, 0);
  cloud_free(&out);
  fixture_free(&ct);
  fixture_free(&vt);
  free(pts);
  free(assign);
}

/* ---- GPS --------------------------------------------------------------------------------------- */

/* A 60 x 60 jittered grid on [-1, 1]^2, z = 0, with a bump z = h exp(-|p - b|^2 / (2 s^2)) at b. */
static float *bump_plane(int64_t *n_out) {
  rng_t r;
  rng_seed(&r, 21);
  const int g = 60;
  int64_t n = (int64_t)g * g;
  float *pts = malloc(sizeof *pts * 3 * n);
  assert_non_null(pts);
  for (int64_t i = 0; i < n; i++) {
    double x = -1.0 + 2.0 * ((double)(i % g) + 0.3 * rng_uniform(&r)) / g;
    double y = -1.0 + 2.0 * ((double)(i / g) + 0.3 * rng_uniform(&r)) / g;
    double d2 = (x - 0.4) * (x - 0.4) + (y - 0.3) * (y - 0.3);
    pts[3 * i] = (float)x;
    pts[3 * i + 1] = (float)y;
    pts[3 * i + 2] = (float)(0.25 * exp(-d2 / (2 * 0.2 * 0.2)));
  }
  *n_out = n;
  return pts;
}

static int on_bump(const float *p) { return (p[0] - 0.4) * (p[0] - 0.4) + (p[1] - 0.3) * (p[1] - 0.3) < 0.5 * 0.5; }

static void test_gps_rate_brute_force(void **state) {
  (void)state;
  int64_t n;
  float *pts = bump_plane(&n);
  gps_opts o = gps_defaults();
  o.rate_nb = nbhd_knn(10);
  float *rate = malloc(sizeof *rate * n), *nrm = malloc(sizeof *nrm * 3 * n), *curv = malloc(sizeof *curv * n);
  double *d2 = malloc(sizeof *d2 * n);
  int64_t *ord = malloc(sizeof *ord * n);
  assert_true(rate && nrm && curv && d2 && ord);
  assert_int_equal(gps_rate(pts, n, NULL, &o, rate), AD3D_OK);
  normals_opts no = {.nb = o.normal_nb, .orient = NORMALS_ORIENT_NONE};
  assert_int_equal(normals_estimate(pts, n, NULL, &no, nrm, curv), AD3D_OK);
  for (int64_t i = 0; i < n; i += 7) {
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int a = 0; a < 3; a++)
        s += ((double)pts[3 * j + a] - pts[3 * i + a]) * ((double)pts[3 * j + a] - pts[3 * i + a]);
      d2[j] = s;
      ord[j] = j;
    }
    for (int a = 0; a < 10; a++) /* the 10 nearest, i itself first */
      for (int64_t j = a + 1; j < n; j++)
        if (d2[ord[j]] < d2[ord[a]]) {
          int64_t t = ord[a];
          ord[a] = ord[j];
          ord[j] = t;
        }
    double acc = 0.0;
    for (int a = 1; a < 10; a++) {
      int64_t j = ord[a];
      double dot = nrm[3 * i] * nrm[3 * j] + nrm[3 * i + 1] * nrm[3 * j + 1] + nrm[3 * i + 2] * nrm[3 * j + 2];
      acc += (1.0 - fabs(dot) + fabs(curv[i] - curv[j])) / sqrt(d2[j]);
    }
    acc /= 9.0;
    if (fabs(rate[i] - acc) > 1e-5 * fmax(1.0, acc))
      fail_msg("point %lld: rate %.8g, brute force %.8g", (long long)i, rate[i], acc);
  }
  free(pts);
  free(rate);
  free(nrm);
  free(curv);
  free(d2);
  free(ord);
}

static void test_gps_bump(void **state) {
  (void)state;
  int64_t n;
  float *pts = bump_plane(&n);
  const int64_t m = 256;
  int64_t gps[256], fps[256], again[256], ms = -1;
  gps_opts o = gps_defaults();
  assert_int_equal(sample_gps(pts, n, m, NULL, &o, gps, &ms), AD3D_OK);
  assert_int_equal(ms, 118); /* round(256 * 0.6 / 1.3) */
  assert_int_equal(sample_fps(pts, n, m, 0, fps), AD3D_OK);
  int on_gps = 0, on_fps = 0;
  char *seen = calloc((size_t)n, 1);
  assert_non_null(seen);
  for (int64_t j = 0; j < m; j++) {
    assert_true(gps[j] >= 0 && gps[j] < n && !seen[gps[j]]);
    seen[gps[j]] = 1;
    on_gps += on_bump(pts + 3 * gps[j]);
    on_fps += on_bump(pts + 3 * fps[j]);
  }
  print_message("centres on the bump: GPS %d, FPS %d of %lld\n", on_gps, on_fps, (long long)m);
  assert_true(on_gps > on_fps + 10);
  /* salient centres come from the top 30% by rate, the others from the rest */
  float *rate = malloc(sizeof *rate * n), *sorted = malloc(sizeof *sorted * n);
  assert_true(rate && sorted);
  assert_int_equal(gps_rate(pts, n, NULL, &o, rate), AD3D_OK);
  int64_t ns = (int64_t)llround(0.3 * (double)n), above = 0;
  memcpy(sorted, rate, sizeof *rate * n);
  /* threshold: the ns-th largest rate */
  for (int64_t a = 0; a < ns; a++)
    for (int64_t j = a + 1; j < n; j++)
      if (sorted[j] > sorted[a]) {
        float t = sorted[a];
        sorted[a] = sorted[j];
        sorted[j] = t;
      }
  float thr = sorted[ns - 1];
  for (int64_t j = 0; j < m; j++) {
    if (j < ms)
      assert_true(rate[gps[j]] >= thr);
    else
      assert_true(rate[gps[j]] <= thr);
    above += rate[gps[j]] >= thr;
  }
  assert_true(above >= ms);
  /* the first centre is the most salient point */
  for (int64_t j = 0; j < n; j++)
    assert_true(rate[j] <= rate[gps[0]]);
  /* deterministic; tau = 0: plain FPS from the most salient point over everything */
  assert_int_equal(sample_gps(pts, n, m, NULL, &o, again, NULL), AD3D_OK);
  assert_memory_equal(gps, again, sizeof gps);
  o.tau = 0.0;
  assert_int_equal(sample_gps(pts, n, m, NULL, &o, again, &ms), AD3D_OK);
  assert_int_equal(ms, 0);
  assert_int_equal(sample_fps(pts, n, m, gps[0], fps), AD3D_OK);
  assert_memory_equal(again, fps, sizeof fps);
  /* errors */
  o = gps_defaults();
  o.tau = 1.5;
  assert_int_equal(sample_gps(pts, n, m, NULL, &o, again, NULL), AD3D_EINVAL);
  o = gps_defaults();
  o.salient_ratio = 0.0;
  assert_int_equal(sample_gps(pts, n, m, NULL, &o, again, NULL), AD3D_EINVAL);
  o = gps_defaults();
  assert_int_equal(sample_gps(pts, 10, 11, NULL, &o, again, NULL), AD3D_EINVAL);
  free(seen);
  free(rate);
  free(sorted);
  free(pts);
}

/* ---- patches ----------------------------------------------------------------------------------- */

static void test_group_knn(void **state) {
  (void)state;
  rng_t r;
  rng_seed(&r, 12);
  const int64_t n = 500, m = 20;
  const int k = 32;
  float *pts = malloc(sizeof *pts * 3 * n), centres[3 * 20];
  int64_t fps[20], *idx = malloc(sizeof *idx * m * k);
  assert_true(pts && idx);
  for (int64_t i = 0; i < 3 * n; i++)
    pts[i] = (float)rng_uniform(&r);
  assert_int_equal(sample_fps(pts, n, m, 0, fps), AD3D_OK);
  sample_gather(pts, fps, m, centres);
  for (int64_t c = 0; c < m; c++)
    assert_memory_equal(centres + 3 * c, pts + 3 * fps[c], sizeof(float) * 3);
  kdtree *t = NULL;
  assert_int_equal(kdtree_build(pts, n, &t), AD3D_OK);
  assert_int_equal(sample_group_knn(t, centres, m, k, idx), AD3D_OK);
  for (int64_t c = 0; c < m; c++) {
    assert_int_equal(idx[c * k], fps[c]); /* the centre itself first */
    /* the k-th distance bounds every non-member from below */
    const float *q = centres + 3 * c;
    float kth = 0.0f;
    char *in = calloc((size_t)n, 1);
    assert_non_null(in);
    for (int j = 0; j < k; j++) {
      const float *p = pts + 3 * idx[c * k + j];
      float d = (p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1]) + (p[2] - q[2]) * (p[2] - q[2]);
      assert_true(d >= kth);
      kth = d;
      in[idx[c * k + j]] = 1;
    }
    for (int64_t i = 0; i < n; i++) {
      const float *p = pts + 3 * i;
      float d = (p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1]) + (p[2] - q[2]) * (p[2] - q[2]);
      if (!in[i])
        assert_true(d >= kth);
    }
    free(in);
  }
  assert_int_equal(sample_group_knn(t, centres, m, 0, idx), AD3D_EINVAL);
  assert_int_equal(sample_group_knn(t, centres, m, (int)n + 1, idx), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "patch size"));
  kdtree_free(t);
  free(pts);
  free(idx);
}

/* ---- Z-order ----------------------------------------------------------------------------------- */

static void test_zorder(void **state) {
  (void)state;
  rng_t r;
  rng_seed(&r, 13);
  const int64_t n = 4096;
  float *pts = malloc(sizeof *pts * 3 * n);
  int64_t *order = malloc(sizeof *order * n);
  char *seen = calloc((size_t)n, 1);
  assert_true(pts && order && seen);
  for (int64_t i = 0; i < 3 * n; i++)
    pts[i] = (float)rng_uniform(&r);
  assert_int_equal(zorder_sort(pts, n, order), AD3D_OK);
  double step = 0.0, step_index = 0.0;
  for (int64_t k = 0; k < n; k++) {
    assert_true(order[k] >= 0 && order[k] < n && !seen[order[k]]);
    seen[order[k]] = 1;
    if (k + 1 < n) {
      const float *a = pts + 3 * order[k], *b = pts + 3 * order[k + 1], *c = pts + 3 * k, *d = c + 3;
      step += sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) + (a[2] - b[2]) * (a[2] - b[2]));
      step_index += sqrt((c[0] - d[0]) * (c[0] - d[0]) + (c[1] - d[1]) * (c[1] - d[1]) + (c[2] - d[2]) * (c[2] - d[2]));
    }
  }
  print_message("zorder: mean step %.4f along the curve, %.4f in index order\n", step / (n - 1), step_index / (n - 1));
  assert_true(step < 0.25 * step_index);
  /* coincident points: ties keep index order */
  for (int64_t i = 0; i < 3 * n; i++)
    pts[i] = 1.5f;
  assert_int_equal(zorder_sort(pts, n, order), AD3D_OK);
  for (int64_t k = 0; k < n; k++)
    assert_int_equal(order[k], k);
  assert_int_equal(zorder_sort(NULL, 0, NULL), AD3D_OK);
  free(pts);
  free(order);
  free(seen);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sample_random),
      cmocka_unit_test(test_sample_fps_brute_force),
      cmocka_unit_test(test_sample_voxel_open3d),
      cmocka_unit_test(test_gps_rate_brute_force),
      cmocka_unit_test(test_gps_bump),
      cmocka_unit_test(test_group_knn),
      cmocka_unit_test(test_zorder),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
