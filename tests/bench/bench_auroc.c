/* bench_auroc.c - time roc_auc_ap_f32/f64 (and the single-metric calls) on n generated scores.
 *
 * The data is the integer recipe of bench_auroc.py: h = splitmix64(i), u = (h >> 40) % levels,
 * score = u / levels, label = ((h >> 8) % 1000 + 500 u / levels >= 1000) (positive rate ~25%,
 * rising with the score). bench_auroc.py computes sklearn's values and time on the same data.
 *
 *   bench_auroc [n = 10^7] [levels = 2^24] [repeats = 3]
 *
 * Prints one line per variant: n, AUC, AP (17 digits) and the best wall time over the repeats.
 * Not a test: built by `cmake --build <dir> --target bench`, run by hand (tests/bench/README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"
#include "metrics/roc.h"

/* splitmix64 of i */
static uint64_t mix(uint64_t i) {
  uint64_t z = (i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static void gen(int64_t n, uint64_t levels, float *sf, double *sd, uint8_t *y) {
  for (int64_t i = 0; i < n; i++) {
    uint64_t h = mix((uint64_t)i);
    uint64_t u = (h >> 40) % levels, v = (h >> 8) % 1000;
    y[i] = (v + (u * 500) / levels) >= 1000;
    sf[i] = (float)u / (float)levels;
    sd[i] = (double)u / (double)levels;
  }
}

int main(int argc, char **argv) {
  int64_t n = argc > 1 ? strtoll(argv[1], NULL, 10) : 10000000;
  uint64_t levels = argc > 2 ? strtoull(argv[2], NULL, 10) : (1u << 24);
  int repeats = argc > 3 ? atoi(argv[3]) : 3;
  if (n <= 0 || levels == 0 || repeats <= 0) {
    fprintf(stderr, "usage: bench_auroc [n > 0] [levels > 0] [repeats > 0]\n");
    return 2;
  }
  float *sf = malloc(sizeof *sf * (size_t)n);
  double *sd = malloc(sizeof *sd * (size_t)n);
  uint8_t *y = malloc((size_t)n);
  if (!sf || !sd || !y) {
    fprintf(stderr, "bench_auroc: out of memory for %lld scores\n", (long long)n);
    return 1;
  }
  gen(n, levels, sf, sd, y);
  const char *names[] = {"roc_auc_ap_f32", "roc_auc_ap_f64", "roc_auc_f32", "average_precision_f32"};
  for (int v = 0; v < 4; v++) {
    double best = 1e30, auc = -1, ap = -1;
    for (int r = 0; r < repeats; r++) {
      double t0 = now_seconds();
      ad3d_status st = v == 0 ? roc_auc_ap_f32(sf, y, n, &auc, &ap)
                       : v == 1 ? roc_auc_ap_f64(sd, y, n, &auc, &ap)
                       : v == 2 ? roc_auc_f32(sf, y, n, &auc)
                                : average_precision_f32(sf, y, n, &ap);
      double dt = now_seconds() - t0;
      if (st != AD3D_OK) {
        fprintf(stderr, "bench_auroc: %s\n", ad3d_errmsg());
        return 1;
      }
      best = dt < best ? dt : best;
    }
    printf("%-22s n %lld levels %llu auc %.17g ap %.17g best_s %.4f peak_rss_mb %.0f\n", names[v],
           (long long)n, (unsigned long long)levels, auc, ap, best, (double)peak_rss_kb() / 1024.0);
  }
  free(sf);
  free(sd);
  free(y);
  return 0;
}
