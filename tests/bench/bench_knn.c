/* bench_knn.c - time kdtree_build + kdtree_knn_batch (every point queried) on one thread.
 *
 *   bench_knn [n = 100000] [k = 32] [points.f32]
 *
 * Without a file the cloud is n points in the unit cube from the integer recipe of bench_knn.py
 * (coordinate j = top 24 bits of splitmix64(j) / 2^24, exactly representable in float32); with a
 * file, the raw little-endian float32 (n, 3) array it holds (n from its size). Prints the build and
 * query times (best of 3) and checksums (sum of squared distances, sum of indices) that
 * bench_knn.py compares with scipy's cKDTree on the same points.
 * Not a test: built by `cmake --build <dir> --target bench`, run by hand (tests/bench/README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"
#include "geom/kdtree.h"

/* splitmix64 of j: well mixed in every bit (a bare LCG of j would put the points on a lattice) */
static uint64_t mix(uint64_t j) {
  uint64_t z = (j + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static float *cube(int64_t n) {
  float *p = malloc(sizeof *p * 3 * (size_t)n);
  for (int64_t j = 0; p && j < 3 * n; j++)
    p[j] = (float)(mix((uint64_t)j) >> 40) / 16777216.0f;
  return p;
}

static float *read_points(const char *path, int64_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long bytes = ftell(f);
  fseek(f, 0, SEEK_SET);
  *n = bytes / (long)(3 * sizeof(float));
  float *p = malloc(sizeof *p * 3 * (size_t)(*n > 0 ? *n : 1));
  if (p && fread(p, sizeof *p * 3, (size_t)*n, f) != (size_t)*n) {
    free(p);
    p = NULL;
  }
  fclose(f);
  return p;
}

int main(int argc, char **argv) {
  int64_t n = argc > 1 ? strtoll(argv[1], NULL, 10) : 100000;
  int k = argc > 2 ? atoi(argv[2]) : 32;
  float *pts = argc > 3 ? read_points(argv[3], &n) : cube(n);
  if (!pts || n <= 0 || k <= 0) {
    fprintf(stderr, "usage: bench_knn [n > 0] [k > 0] [points.f32]  (cannot make or read the points)\n");
    return 2;
  }
  int64_t *idx = malloc(sizeof *idx * (size_t)(n * k));
  float *d2 = malloc(sizeof *d2 * (size_t)(n * k));
  if (!idx || !d2) {
    fprintf(stderr, "bench_knn: out of memory\n");
    return 1;
  }
  double best_build = 1e30, best_query = 1e30;
  for (int r = 0; r < 3; r++) {
    kdtree *t = NULL;
    double t0 = now_seconds();
    if (kdtree_build(pts, n, &t) != AD3D_OK) {
      fprintf(stderr, "bench_knn: %s\n", ad3d_errmsg());
      return 1;
    }
    double t1 = now_seconds();
    kdtree_knn_batch(t, pts, n, k, idx, d2);
    double t2 = now_seconds();
    kdtree_free(t);
    best_build = t1 - t0 < best_build ? t1 - t0 : best_build;
    best_query = t2 - t1 < best_query ? t2 - t1 : best_query;
  }
  double sum_d2 = 0;
  long long sum_idx = 0;
  for (int64_t i = 0; i < n * k; i++) {
    sum_d2 += d2[i];
    sum_idx += idx[i];
  }
  printf("bench_knn n %lld k %d build_s %.4f query_s %.4f sum_d2 %.10g sum_idx %lld\n", (long long)n, k,
         best_build, best_query, sum_d2, sum_idx);
  free(pts);
  free(idx);
  free(d2);
  return 0;
}
