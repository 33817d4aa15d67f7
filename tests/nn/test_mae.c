/* test_mae.c - Point-MAE (src/nn/mae.h) against PyTorch, and its own contracts.
 *
 * Oracle: tests/fixtures/nn/nn_mae_tiny.bin, written by make_mae_fixture.py from a PyTorch build of
 * Point-MAE (float64) on a tiny configuration with deterministic weights: the grouping of two clouds,
 * the training-mode loss, every parameter gradient, the BatchNorm running statistics after that forward,
 * and the eval-mode loss. Tolerances: relative 1e-4 on losses and running statistics; on gradients,
 * max |C - PyTorch| <= 1e-3 max |PyTorch| per tensor (for the three biases that feed a BatchNorm, whose
 * exact gradient is zero, 1e-3 of 1% of the largest gradient of the model).
 * Also: parameter count of the paper configuration (PyTorch's count of the same model), configuration
 * checks, random masks, error paths, and a few AdamW steps that must lower the loss on a fixed batch.
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
#include "nn/mae.h"

/* ---- fixture reader (format: make_mae_fixture.py) ------------------------------------------------------ */

#define FX_MAX 256

typedef struct {
  char name[64];
  int ndim;
  int64_t dims[4];
  int64_t n;
  float *data;
} fx_rec;

typedef struct {
  double cfg[15];
  fx_rec rec[FX_MAX];
  int nrec;
} fixture;

static void fixture_free(fixture *f) {
  for (int i = 0; i < f->nrec; i++)
    free(f->rec[i].data);
  free(f);
}

static fixture *fixture_read(const char *path) {
  FILE *fp = fopen(path, "rb");
  if (!fp)
    fail_msg("%s: cannot open (run tests/fixtures/nn/make_mae_fixture.py)", path);
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  char line[512];
  assert_non_null(fgets(line, sizeof line, fp));
  assert_string_equal(line, "AD3D-NN-FIXTURE 1\n");
  assert_non_null(fgets(line, sizeof line, fp));
  assert_int_equal(strncmp(line, "config ", 7), 0);
  char *s = line + 7;
  for (int i = 0; i < 15; i++) {
    char *end;
    f->cfg[i] = strtod(s, &end);
    assert_true(end != s);
    s = end;
  }
  while (fgets(line, sizeof line, fp)) {
    if (strcmp(line, "end\n") == 0) {
      fclose(fp);
      return f;
    }
    assert_true(f->nrec < FX_MAX);
    fx_rec *r = &f->rec[f->nrec++];
    int used = 0;
    assert_int_equal(sscanf(line, "%63s %d%n", r->name, &r->ndim, &used), 2);
    assert_true(r->ndim >= 1 && r->ndim <= 4);
    r->n = 1;
    s = line + used;
    for (int i = 0; i < r->ndim; i++) {
      char *end;
      r->dims[i] = strtoll(s, &end, 10);
      assert_true(end != s && r->dims[i] > 0);
      s = end;
      r->n *= r->dims[i];
    }
    r->data = malloc(sizeof(float) * (size_t)r->n);
    assert_non_null(r->data);
    assert_int_equal(fread(r->data, sizeof(float), (size_t)r->n, fp), (size_t)r->n);
  }
  fail_msg("%s: no end record", path);
  return NULL;
}

static const fx_rec *fixture_get(const fixture *f, const char *name) {
  for (int i = 0; i < f->nrec; i++)
    if (strcmp(f->rec[i].name, name) == 0)
      return &f->rec[i];
  fail_msg("fixture has no record %s", name);
  return NULL;
}

static mae_config fixture_config(const fixture *f) {
  const double *v = f->cfg;
  mae_config c = {.npoints = (int)v[0], .ngroups = (int)v[1], .group_size = (int)v[2], .width = (int)v[3],
                  .depth = (int)v[4], .heads = (int)v[5], .decoder_depth = (int)v[6], .decoder_heads = (int)v[7],
                  .mlp_ratio = (int)v[8], .pe_dim1 = (int)v[9], .pe_dim2 = (int)v[10], .pe_dim3 = (int)v[11],
                  .pos_dim = (int)v[12], .mask_ratio = v[13], .drop_path_rate = v[14]};
  return c;
}

static double max_abs_diff(const float *a, const float *b, int64_t n) {
  double e = 0.0;
  for (int64_t i = 0; i < n; i++)
    e = fmax(e, fabs((double)a[i] - b[i]));
  return e;
}

static double max_abs(const float *a, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; i++)
    s = fmax(s, fabs((double)a[i]));
  return s;
}

/* max |a - b| / max |b| over n values */
static double rel_err(const float *a, const float *b, int64_t n) {
  double s = max_abs(b, n);
  return s > 0.0 ? max_abs_diff(a, b, n) / s : max_abs_diff(a, b, n);
}

/* ---- PyTorch parity --------------------------------------------------------------------------------------- */

static void test_pytorch_parity(void **state) {
  (void)state;
  fixture *f = fixture_read(AD3D_FIXTURES "/nn/nn_mae_tiny.bin");
  mae_config cfg = fixture_config(f);
  assert_int_equal(mae_config_check(&cfg), AD3D_OK);
  const fx_rec *pts = fixture_get(f, "input.points"), *neigh = fixture_get(f, "input.neigh"),
               *cent = fixture_get(f, "input.centers"), *maskr = fixture_get(f, "input.mask");
  const int B = (int)neigh->dims[0], G = cfg.ngroups, K = cfg.group_size;
  assert_int_equal(neigh->dims[1], G);
  assert_int_equal(neigh->dims[2], K);

  /* grouping: FPS from point 0 and kNN, as the script's float32 numpy version */
  float *gn = malloc(sizeof(float) * (size_t)G * K * 3), *gc = malloc(sizeof(float) * (size_t)G * 3);
  assert_non_null(gn);
  assert_non_null(gc);
  for (int b = 0; b < B; b++) {
    assert_int_equal(mae_group(&cfg, pts->data + (size_t)b * pts->dims[1] * 3, pts->dims[1], gn, gc), AD3D_OK);
    assert_memory_equal(gc, cent->data + (size_t)b * G * 3, sizeof(float) * (size_t)G * 3);
    assert_memory_equal(gn, neigh->data + (size_t)b * G * K * 3, sizeof(float) * (size_t)G * K * 3);
  }

  rng_t rng;
  rng_seed(&rng, 1);
  mae_model *m = NULL;
  assert_int_equal(mae_init(&m, &cfg, &rng), AD3D_OK);
  /* every C tensor is in the fixture with the same shape, and nothing else is */
  int nparam = 0;
  for (int i = 0; i < f->nrec; i++)
    nparam += strncmp(f->rec[i].name, "param.", 6) == 0;
  assert_int_equal(nparam, MAE_NUM_PARAMS);
  for (int i = 0; i < MAE_NUM_PARAMS; i++) {
    const mae_tensor_info *t = mae_param_info(m, i);
    char name[80];
    snprintf(name, sizeof name, "param.%s", t->name);
    const fx_rec *r = fixture_get(f, name);
    if (r->ndim != t->ndim)
      fail_msg("%s: fixture rank %d, C rank %d", t->name, r->ndim, t->ndim);
    for (int d = 0; d < t->ndim; d++)
      assert_int_equal(r->dims[d], t->dims[d]);
    assert_int_equal((size_t)r->n, t->size);
    memcpy(m->params_mem + t->offset, r->data, sizeof(float) * t->size);
  }

  uint8_t *mask = malloc((size_t)B * G);
  assert_non_null(mask);
  for (int i = 0; i < B * G; i++)
    mask[i] = maskr->data[i] != 0.0f;
  float loss = 0.0f;
  assert_int_equal(mae_forward(m, neigh->data, cent->data, mask, B, 1, NULL, &loss), AD3D_OK);
  double want = fixture_get(f, "loss.train")->data[0];
  if (fabs(loss - want) > 1e-4 * fabs(want))
    fail_msg("training loss %.9g, PyTorch %.9g", (double)loss, want);
  mae_zero_grad(m);
  assert_int_equal(mae_backward(m), AD3D_OK);
  /* the scale of the whole gradient: tensors whose exact gradient is zero (the biases just before a
   * BatchNorm, whose shift it removes) are held to 1e-3 of 1% of it */
  double floor_scale = 0.0;
  for (int i = 0; i < f->nrec; i++)
    if (strncmp(f->rec[i].name, "grad.", 5) == 0)
      floor_scale = fmax(floor_scale, max_abs(f->rec[i].data, f->rec[i].n));
  floor_scale *= 1e-2;
  double worst = 0.0;
  const char *worst_name = "";
  for (int i = 0; i < MAE_NUM_PARAMS; i++) {
    const mae_tensor_info *t = mae_param_info(m, i);
    char name[80];
    snprintf(name, sizeof name, "grad.%s", t->name);
    const fx_rec *r = fixture_get(f, name);
    double e = max_abs_diff(m->grads_mem + t->offset, r->data, r->n) / fmax(max_abs(r->data, r->n), floor_scale);
    if (e > worst)
      worst = e, worst_name = t->name;
  }
  print_message("worst gradient error %.2e (%s), loss %.9g vs %.9g\n", worst, worst_name, (double)loss, want);
  if (worst > 1e-3)
    fail_msg("gradient of %s: relative error %.3g > 1e-3", worst_name, worst);
  for (int i = 0; i < MAE_NUM_BUFFERS; i++) {
    const mae_tensor_info *t = mae_buffer_info(m, i);
    char name[80];
    snprintf(name, sizeof name, "buffer.%s", t->name);
    const fx_rec *r = fixture_get(f, name);
    assert_int_equal((size_t)r->n, t->size);
    double e = rel_err(m->bufs_mem + t->offset, r->data, r->n);
    if (e > 1e-4)
      fail_msg("running statistic %s: relative error %.3g", t->name, e);
  }
  /* eval: running statistics, which the forward must leave alone */
  float *bufs = malloc(sizeof(float) * m->nbufs);
  assert_non_null(bufs);
  memcpy(bufs, m->bufs_mem, sizeof(float) * m->nbufs);
  assert_int_equal(mae_forward(m, neigh->data, cent->data, mask, B, 0, NULL, &loss), AD3D_OK);
  want = fixture_get(f, "loss.eval")->data[0];
  if (fabs(loss - want) > 1e-4 * fabs(want))
    fail_msg("eval loss %.9g, PyTorch %.9g", (double)loss, want);
  assert_memory_equal(bufs, m->bufs_mem, sizeof(float) * m->nbufs);
  free(bufs);
  free(mask);
  free(gn);
  free(gc);
  mae_free(m);
  fixture_free(f);
}

/* ---- configuration and layout -------------------------------------------------------------------------------- */

static void test_config(void **state) {
  (void)state;
  mae_config c = mae_config_default();
  assert_int_equal(mae_config_check(&c), AD3D_OK);
  assert_int_equal(mae_num_masked(&c), 38); /* int(0.6 * 64) */
  rng_t rng;
  rng_seed(&rng, 2);
  mae_model *m = NULL;
  assert_int_equal(mae_init(&m, &c, &rng), AD3D_OK);
  /* torch: sum(p.numel() for p in Point_MAE.parameters()) of the pretrain configuration */
  assert_int_equal(m->nparams, 29006432);
  size_t off = 0;
  for (int i = 0; i < MAE_NUM_PARAMS; i++) {
    const mae_tensor_info *t = mae_param_info(m, i);
    assert_int_equal(t->offset, off);
    assert_int_equal(t->size, (size_t)(t->dims[0] * t->dims[1] * t->dims[2]));
    assert_int_equal(mae_param_find(t->name), i);
    off += t->size;
    /* Point-MAE's decay rule: rank >= 2 weights only, never biases, norms or the mask token */
    int want = strstr(t->name, "_w") && !strstr(t->name, "_ln") && !strstr(t->name, "_norm") &&
               !strstr(t->name, "_bn");
    assert_int_equal(t->decay, want);
  }
  assert_int_equal(off, m->nparams);
  assert_int_equal(mae_param_find("nope"), -1);
  assert_int_equal(mae_buffer_find("pe_bn2_var"), MAE_B_pe_bn2_var);
  assert_int_equal(mae_param_info(m, MAE_P_enc_qkv_w)->dims[0], 12);
  assert_int_equal(mae_param_info(m, MAE_P_enc_qkv_w)->dims[1], 3 * 384);
  /* initialisation: norms 1 / 0, running var 1, mask token ~ N(0, 0.02), decoder Xavier bound */
  assert_true(m->params.enc_ln1_w[5] == 1.0f && m->params.dec_norm_b[3] == 0.0f);
  assert_true(m->bufs.pe_bn2_var[7] == 1.0f && m->bufs.pe_bn1_mean[0] == 0.0f);
  double s = 0.0;
  for (int i = 0; i < 384; i++)
    s += (double)m->params.mask_token[i] * m->params.mask_token[i];
  assert_true(fabs(sqrt(s / 384) - 0.02) < 0.004);
  float bound = sqrtf(6.0f / (384 + 1536)), mx = 0.0f;
  for (size_t i = 0; i < 1536 * 384; i++)
    mx = fmaxf(mx, fabsf(m->params.dec_fc1_w[i]));
  assert_true(mx <= bound && mx > 0.99f * bound);
  mae_free(m);
  mae_free(NULL);

  mae_config s1 = mae_config_small();
  assert_int_equal(mae_config_check(&s1), AD3D_OK);
  mae_config bad = c;
  bad.heads = 5;
  assert_int_equal(mae_config_check(&bad), AD3D_EINVAL);
  bad = c;
  bad.mask_ratio = 1.0;
  assert_int_equal(mae_config_check(&bad), AD3D_EINVAL);
  bad = c;
  bad.depth = 0;
  assert_int_equal(mae_config_check(&bad), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "depth"));
  bad = c;
  bad.group_size = 2000;
  assert_int_equal(mae_init(&m, &bad, &rng), AD3D_EINVAL);
  assert_null(m);
}

static void test_mask_random(void **state) {
  (void)state;
  rng_t rng;
  rng_seed(&rng, 3);
  enum { B = 2000, G = 10, M = 4 };
  uint8_t *mask = malloc((size_t)B * G);
  assert_non_null(mask);
  mae_mask_random(mask, B, G, M, &rng);
  int per[G] = {0};
  for (int b = 0; b < B; b++) {
    int n = 0;
    for (int g = 0; g < G; g++) {
      n += mask[b * G + g];
      per[g] += mask[b * G + g];
    }
    assert_int_equal(n, M);
  }
  for (int g = 0; g < G; g++) /* each place masked with probability 0.4: sd ~ 22 */
    assert_true(abs(per[g] - B * M / G) < 120);
  free(mask);
}

/* ---- training on a fixed batch ---------------------------------------------------------------------------------- */

static mae_config tiny_config(void) {
  mae_config c = {.npoints = 128, .ngroups = 8, .group_size = 16, .width = 32, .depth = 2, .heads = 2,
                  .decoder_depth = 1, .decoder_heads = 2, .mlp_ratio = 4, .pe_dim1 = 16, .pe_dim2 = 32,
                  .pe_dim3 = 64, .pos_dim = 16, .mask_ratio = 0.5, .drop_path_rate = 0.1};
  return c;
}

/* B clouds of n points on ellipsoids with random axes, grouped. */
static void make_batch(const mae_config *c, int B, rng_t *rng, float *neigh, float *centers) {
  int n = c->npoints;
  float *pts = malloc(sizeof(float) * (size_t)n * 3);
  assert_non_null(pts);
  for (int b = 0; b < B; b++) {
    double ax[3] = {0.5 + rng_uniform(rng), 0.5 + rng_uniform(rng), 0.5 + rng_uniform(rng)};
    for (int i = 0; i < n; i++) {
      double v[3] = {rng_normal(rng), rng_normal(rng), rng_normal(rng)};
      double r = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
      for (int d = 0; d < 3; d++)
        pts[i * 3 + d] = (float)(v[d] / r * ax[d]);
    }
    size_t G = (size_t)c->ngroups, K = (size_t)c->group_size;
    assert_int_equal(mae_group(c, pts, n, neigh + b * G * K * 3, centers + b * G * 3), AD3D_OK);
  }
  free(pts);
}

static void test_training_lowers_loss(void **state) {
  (void)state;
  mae_config c = tiny_config();
  const int B = 4, G = c.ngroups, K = c.group_size;
  rng_t rng;
  rng_seed(&rng, 4);
  mae_model *m = NULL;
  assert_int_equal(mae_init(&m, &c, &rng), AD3D_OK);
  float *neigh = malloc(sizeof(float) * (size_t)B * G * K * 3), *cent = malloc(sizeof(float) * (size_t)B * G * 3);
  uint8_t *mask = malloc((size_t)B * G);
  assert_true(neigh && cent && mask);
  make_batch(&c, B, &rng, neigh, cent);
  mae_mask_random(mask, B, G, mae_num_masked(&c), &rng);
  float first = 0.0f, loss = 0.0f, best = INFINITY;
  for (int step = 0; step < 60; step++) {
    assert_int_equal(mae_forward(m, neigh, cent, mask, B, 1, &rng, &loss), AD3D_OK);
    if (step == 0)
      first = loss;
    best = fminf(best, loss);
    mae_zero_grad(m);
    assert_int_equal(mae_backward(m), AD3D_OK);
    assert_true(isfinite(mae_grad_norm(m)) && mae_grad_norm(m) > 0.0);
    mae_adamw_step(m, 2e-3f, 0.05f);
  }
  assert_int_equal(m->step, 60);
  print_message("loss %.4g -> best %.4g\n", (double)first, (double)best);
  assert_true(best < 0.5f * first);
  /* errors: unequal mask rows, no visible patch, drop-path without rng, backward without forward */
  mask[0] = !mask[0];
  assert_int_equal(mae_forward(m, neigh, cent, mask, B, 1, &rng, &loss), AD3D_EINVAL);
  assert_int_equal(mae_backward(m), AD3D_EINVAL);
  memset(mask, 1, (size_t)B * G);
  assert_int_equal(mae_forward(m, neigh, cent, mask, B, 1, &rng, &loss), AD3D_EINVAL);
  mae_mask_random(mask, B, G, 0, &rng);
  assert_int_equal(mae_forward(m, neigh, cent, mask, B, 1, NULL, &loss), AD3D_EINVAL);
  /* no masked patch: runs, loss 0 */
  assert_int_equal(mae_forward(m, neigh, cent, mask, B, 0, NULL, &loss), AD3D_OK);
  assert_true(loss == 0.0f);
  assert_int_equal(mae_backward(m), AD3D_OK);
  /* too few points to group */
  assert_int_equal(mae_group(&c, neigh, 4, neigh, cent), AD3D_EINVAL);
  free(neigh);
  free(cent);
  free(mask);
  mae_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pytorch_parity),
      cmocka_unit_test(test_config),
      cmocka_unit_test(test_mask_random),
      cmocka_unit_test(test_training_lowers_loss),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
