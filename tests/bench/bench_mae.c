/* bench_mae.c - one Point-MAE training step (forward, backward, AdamW) in ad3d, timed.
 *
 *   bench_mae paper|small [batch [steps [threads]]]
 *
 * Defaults: batch 128 (paper) / 32 (small), 5 timed steps after 1 warm-up step, threads = OpenBLAS's
 * default. The batch is random clouds grouped once (mae_group) outside the timing; the mask is random
 * with the configured ratio; training mode with drop-path. Prints samples/s, the step's matrix-product
 * FLOPs (forward + backward, counted from the layer shapes), the GFLOP/s reached, and the sgemm peak of
 * OpenBLAS on this machine with the same threads (a 4096^3 product, best of 3) for comparison, by wall
 * clock and by CPU time per thread (the second is the fairer one on a machine shared with other jobs).
 * bench_mae.py runs the same model, batch and thread count in PyTorch and reports the ratio.
 *
 * Profiling the timed steps only (not the set-up nor the sgemm peak): with BENCH_PERF_CTL (and
 * BENCH_PERF_ACK) naming the control (and acknowledgement) fifos of `perf record -D -1 --control
 * fifo:CTL,ACK`, the events are enabled just before the first timed step and disabled after the last:
 *   mkfifo /tmp/ctl /tmp/ack; BENCH_PERF_CTL=/tmp/ctl BENCH_PERF_ACK=/tmp/ack OPENBLAS_NUM_THREADS=1 \
 *     perf record -D -1 --control fifo:/tmp/ctl,/tmp/ack -o perf.data bench_mae paper 16 3 1
 * Not a test: built by `cmake --build <dir> --target bench`, run by hand (tests/bench/README.md).
 */
#include <cblas.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "common/util.h"
#include "nn/mae.h"

/* sgemm FLOPs of one training step: forward products, and two products per weight in the backward
 * (input gradient, weight gradient; the first layer has no input gradient). */
static double step_flops(const mae_config *c, int B) {
  const double G = c->ngroups, K = c->group_size, C = c->width, F = (double)c->mlp_ratio * c->width;
  const double M = mae_num_masked(c), V = G - M, R = B * G * K, P = B * G;
  const double h1 = c->pe_dim1, h2 = c->pe_dim2, h3 = c->pe_dim3, pd = c->pos_dim;
  double fwd = 0.0, bwd = 0.0;
#define LIN(rows, in, out, first)                  \
  do {                                             \
    double f_ = 2.0 * (rows) * (in) * (out);       \
    fwd += f_;                                     \
    bwd += (first) ? f_ : 2.0 * f_;                \
  } while (0)
  LIN(R, 3, h1, 1);
  LIN(R, h1, h2, 0);
  LIN(R, h2, h3, 0); /* the per-point half of the concatenation */
  LIN(P, h2, h3, 0); /* the pooled half, once per patch */
  LIN(R, h3, C, 0);
  double T[2] = {B * V, B * G}, L[2] = {V, G}, D[2] = {c->depth, c->decoder_depth};
  for (int s = 0; s < 2; s++) {
    LIN(T[s], 3, pd, 1);
    LIN(T[s], pd, C, 0);
    for (int l = 0; l < D[s]; l++) {
      LIN(T[s], C, 3 * C, 0);
      LIN(T[s], C, C, 0);
      LIN(T[s], C, F, 0);
      LIN(T[s], F, C, 0);
      double att = 2.0 * 2.0 * B * L[s] * L[s] * C; /* q k^T and att v over all heads */
      fwd += att;
      bwd += 2.0 * att;
    }
  }
  LIN(B * M, C, 3 * K, 0);
#undef LIN
  return fwd + bwd;
}

/* CPU seconds of this process (all threads): on a shared machine, wall time counts other jobs too. */
static double cpu_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Send "enable" / "disable" to perf's control fifo (BENCH_PERF_CTL) and wait for its "ack" on
 * BENCH_PERF_ACK when that is set; nothing when BENCH_PERF_CTL is unset. */
static void perf_control(const char *cmd) {
  const char *ctl = getenv("BENCH_PERF_CTL"), *ack = getenv("BENCH_PERF_ACK");
  if (!ctl)
    return;
  FILE *f = fopen(ctl, "w");
  if (!f) {
    fprintf(stderr, "bench_mae: cannot open BENCH_PERF_CTL %s\n", ctl);
    return;
  }
  fprintf(f, "%s\n", cmd);
  fclose(f);
  if (ack) {
    char buf[16];
    FILE *a = fopen(ack, "r");
    if (!a || !fgets(buf, sizeof buf, a))
      fprintf(stderr, "bench_mae: no acknowledgement on BENCH_PERF_ACK %s\n", ack);
    if (a)
      fclose(a);
  }
}

/* GFLOP/s of a 4096^3 sgemm, best of 3, by wall clock (*cpu: by CPU time per thread). */
static double sgemm_peak(int threads, double *cpu) {
  const int n = 4096;
  float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
  if (!a || !b || !c) {
    free(a), free(b), free(c);
    return 0.0;
  }
  for (size_t i = 0; i < (size_t)n * n; i++)
    a[i] = b[i] = (float)(i % 7) * 0.1f;
  double best = 1e30, best_cpu = 1e30;
  for (int r = 0; r < 3; r++) {
    double t0 = now_seconds(), c0 = cpu_seconds();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double t = now_seconds() - t0, tc = (cpu_seconds() - c0) / threads;
    best = t < best ? t : best;
    best_cpu = tc < best_cpu ? tc : best_cpu;
  }
  free(a), free(b), free(c);
  *cpu = 2.0 * n * n * (double)n / best_cpu / 1e9;
  return 2.0 * n * n * (double)n / best / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 2 || (strcmp(argv[1], "paper") && strcmp(argv[1], "small"))) {
    fprintf(stderr, "usage: bench_mae paper|small [batch [steps [threads]]]\n");
    return 2;
  }
  mae_config cfg = strcmp(argv[1], "paper") == 0 ? mae_config_default() : mae_config_small();
  int B = argc > 2 ? atoi(argv[2]) : (strcmp(argv[1], "paper") == 0 ? 128 : 32);
  int steps = argc > 3 ? atoi(argv[3]) : 5;
  if (argc > 4)
    openblas_set_num_threads(atoi(argv[4]));
  int threads = openblas_get_num_threads();
  const int G = cfg.ngroups, K = cfg.group_size, N = cfg.npoints;

  rng_t rng;
  rng_seed(&rng, 42);
  mae_model *m = NULL;
  float *pts = malloc(sizeof(float) * (size_t)N * 3), *neigh = malloc(sizeof(float) * (size_t)B * G * K * 3),
        *cent = malloc(sizeof(float) * (size_t)B * G * 3);
  uint8_t *mask = malloc((size_t)B * G);
  if (!pts || !neigh || !cent || !mask || mae_init(&m, &cfg, &rng) != AD3D_OK) {
    fprintf(stderr, "bench_mae: %s\n", ad3d_errmsg());
    return 1;
  }
  for (int b = 0; b < B; b++) {
    for (int i = 0; i < 3 * N; i++)
      pts[i] = (float)(2.0 * rng_uniform(&rng) - 1.0);
    if (mae_group(&cfg, pts, N, neigh + (size_t)b * G * K * 3, cent + (size_t)b * G * 3) != AD3D_OK) {
      fprintf(stderr, "bench_mae: %s\n", ad3d_errmsg());
      return 1;
    }
  }
  double t_fwd = 0.0, t_bwd = 0.0, t_opt = 0.0, t_all = 0.0, t_cpu = 0.0;
  float loss = 0.0f;
  for (int s = -1; s < steps; s++) {
    mae_mask_random(mask, B, G, mae_num_masked(&cfg), &rng);
    if (s == 0)
      perf_control("enable");
    double t0 = now_seconds(), c0 = cpu_seconds();
    if (mae_forward(m, neigh, cent, mask, B, 1, &rng, &loss) != AD3D_OK) {
      fprintf(stderr, "bench_mae: %s\n", ad3d_errmsg());
      return 1;
    }
    double t1 = now_seconds();
    mae_zero_grad(m);
    mae_backward(m);
    double t2 = now_seconds();
    mae_adamw_step(m, 1e-4f, 0.05f);
    double t3 = now_seconds(), c3 = cpu_seconds();
    if (s >= 0) {
      t_cpu += c3 - c0;
      t_fwd += t1 - t0;
      t_bwd += t2 - t1;
      t_opt += t3 - t2;
      t_all += t3 - t0;
    }
  }
  perf_control("disable");
  double peak_cpu = 0.0, peak = sgemm_peak(threads, &peak_cpu);
  double flops = step_flops(&cfg, B), step = t_all / steps, gf = flops / step / 1e9;
  double gf_cpu = flops / (t_cpu / steps / threads) / 1e9;
  printf("ad3d %s batch %d threads %d: %.3f s/step (forward %.3f, backward %.3f, adamw %.3f), %.2f samples/s, "
         "loss %.4f\n",
         argv[1], B, threads, step, t_fwd / steps, t_bwd / steps, t_opt / steps, B / step, (double)loss);
  printf("ad3d %s: %.1f GFLOP per step, %.1f GFLOP/s; sgemm peak %.1f GFLOP/s (%.0f%%); %zu parameters, "
         "activations %.0f MiB x 2\n",
         argv[1], flops / 1e9, gf, peak, 100.0 * gf / peak, m->nparams, m->acts_bytes / 1048576.0);
  printf("ad3d %s by CPU time per thread (robust to other load): %.1f GFLOP/s, sgemm peak %.1f (%.0f%%)\n",
         argv[1], gf_cpu, peak_cpu, 100.0 * gf_cpu / peak_cpu);
  printf("samples_per_s %.4f\n", B / step);
  mae_free(m);
  free(pts), free(neigh), free(cent), free(mask);
  return 0;
}
