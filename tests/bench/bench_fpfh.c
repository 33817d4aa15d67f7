/* bench_fpfh.c - time normals + FPFH (kd-tree build, normals_estimate, fpfh_compute) on one thread.
 *
 *   bench_fpfh points.f32 normal_radius normal_max_nn fpfh_radius fpfh_max_nn [out.f32]
 *
 * points.f32: raw little-endian float32 (n, 3) (n from the file's size), as bench_fpfh.py writes it.
 * Normals are unoriented (Open3D's sign convention, see src/geom/eig3.h) over hybrid(normal_radius,
 * normal_max_nn); FPFH over hybrid(fpfh_radius, fpfh_max_nn). Prints the best of 3 times of each phase;
 * with out.f32, writes the normals (n, 3) then the FPFH (n, 33) as float32 for bench_fpfh.py to compare
 * with Open3D. Not a test: built by `cmake --build <dir> --target bench`, run by hand
 * (tests/bench/README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"
#include "geom/fpfh.h"
#include "geom/normals.h"

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
  if (argc < 6) {
    fprintf(stderr, "usage: bench_fpfh points.f32 normal_radius normal_max_nn fpfh_radius fpfh_max_nn [out.f32]\n");
    return 2;
  }
  int64_t n = 0;
  float *pts = read_points(argv[1], &n);
  normals_opts no = {.nb = nbhd_hybrid(atof(argv[2]), atoi(argv[3])), .orient = NORMALS_ORIENT_NONE};
  nbhd_t fnb = nbhd_hybrid(atof(argv[4]), atoi(argv[5]));
  if (!pts || n <= 0) {
    fprintf(stderr, "bench_fpfh: cannot read points from %s\n", argv[1]);
    return 2;
  }
  float *nrm = malloc(sizeof *nrm * 3 * (size_t)n);
  float *feat = malloc(sizeof *feat * FPFH_DIM * (size_t)n);
  if (!nrm || !feat) {
    fprintf(stderr, "bench_fpfh: out of memory\n");
    return 1;
  }
  double best[3] = {1e30, 1e30, 1e30};
  for (int r = 0; r < 3; r++) {
    kdtree *t = NULL;
    double t0 = now_seconds();
    ad3d_status st = kdtree_build(pts, n, &t);
    double t1 = now_seconds();
    if (st == AD3D_OK)
      st = normals_estimate(pts, n, t, &no, nrm, NULL);
    double t2 = now_seconds();
    if (st == AD3D_OK)
      st = fpfh_compute(pts, nrm, n, t, &fnb, feat);
    double t3 = now_seconds();
    kdtree_free(t);
    if (st != AD3D_OK) {
      fprintf(stderr, "bench_fpfh: %s\n", ad3d_errmsg());
      return 1;
    }
    double ph[3] = {t1 - t0, t2 - t1, t3 - t2};
    for (int k = 0; k < 3; k++)
      best[k] = ph[k] < best[k] ? ph[k] : best[k];
  }
  printf("bench_fpfh n %lld build_s %.4f normals_s %.4f fpfh_s %.4f peak_rss_mb %.1f\n", (long long)n, best[0], best[1],
         best[2], (double)peak_rss_kb() / 1024.0);
  if (argc > 6) {
    FILE *f = fopen(argv[6], "wb");
    if (!f || fwrite(nrm, sizeof *nrm * 3, (size_t)n, f) != (size_t)n ||
        fwrite(feat, sizeof *feat * FPFH_DIM, (size_t)n, f) != (size_t)n) {
      fprintf(stderr, "bench_fpfh: cannot write %s\n", argv[6]);
      return 1;
    }
    fclose(f);
  }
  free(pts);
  free(nrm);
  free(feat);
  return 0;
}
