/* test_features.c - Point-MAE encoder features (src/nn/features.h) against the training forward.
 *
 * Oracle: mae_forward in eval mode with nothing masked runs the encoder on all patches and keeps every
 * block's output (acts.enc_x2); its LayerNorm through the encoder's final norm is what the features must
 * be. The features are computed by a separate, chunked inference path, so this checks the layer order,
 * the eval BatchNorm (with non-trivial running statistics), the chunking of the patch encoder and of
 * attention (a tiny chunk budget forces many chunks), grouping with G and K other than the model's, and
 * the clamping of G and K to small clouds. Also the block choice ("auto", lists, errors).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/features.h"
#include "nn/ops.h"

static mae_config tiny(void) {
  mae_config c = {.npoints = 150,
                  .ngroups = 12,
                  .group_size = 8,
                  .width = 16,
                  .depth = 4,
                  .heads = 2,
                  .decoder_depth = 1,
                  .decoder_heads = 2,
                  .mlp_ratio = 2,
                  .pe_dim1 = 8,
                  .pe_dim2 = 16,
                  .pe_dim3 = 24,
                  .pos_dim = 8,
                  .mask_ratio = 0.5,
                  .drop_path_rate = 0.1};
  return c;
}

static void random_cloud(float *p, int n, rng_t *r) {
  for (int i = 0; i < n; i++) {
    double u[3], nn = 0;
    for (int k = 0; k < 3; k++)
      u[k] = rng_normal(r), nn += u[k] * u[k];
    double rad = 0.7 + 0.3 * rng_uniform(r);
    for (int k = 0; k < 3; k++)
      p[3 * i + k] = (float)(rad * u[k] / sqrt(nn) * (k + 1) * 0.5);
  }
}

/* A model with trained-looking BatchNorm running statistics. */
static mae_model *model(const mae_config *c, uint64_t seed) {
  rng_t r;
  rng_seed(&r, seed);
  mae_model *m = NULL;
  assert_int_equal(mae_init(&m, c, &r), AD3D_OK);
  for (int i = 0; i < MAE_NUM_BUFFERS; i++) {
    const mae_tensor_info *t = mae_buffer_info(m, i);
    int var = strstr(t->name, "_var") != NULL;
    for (size_t k = 0; k < t->size; k++)
      m->bufs_mem[t->offset + k] = var ? (float)(0.5 + 1.5 * rng_uniform(&r)) : (float)(0.2 * rng_normal(&r));
  }
  /* weights away from their initial scale so that every block matters */
  for (size_t k = 0; k < m->nparams; k++)
    m->params_mem[k] += (float)(0.05 * rng_normal(&r));
  return m;
}

/* Copy every same-sized tensor of src into dst (the grouping sizes change only the decoder head). */
static void copy_weights(mae_model *dst, const mae_model *src) {
  for (int i = 0; i < MAE_NUM_PARAMS; i++) {
    const mae_tensor_info *a = mae_param_info(dst, i), *b = mae_param_info(src, i);
    if (a->size == b->size)
      memcpy(dst->params_mem + a->offset, src->params_mem + b->offset, a->size * sizeof(float));
  }
  memcpy(dst->bufs_mem, src->bufs_mem, src->nbufs * sizeof(float));
}

/* The oracle: the training forward of `om` (whose ngroups / group_size are the grouping) on pts. */
static void oracle(mae_model *om, const float *pts, int n, const int *blocks, int nb, float *centers, float *feat) {
  const int G = om->cfg.ngroups, K = om->cfg.group_size, C = om->cfg.width;
  float *neigh = malloc(sizeof(float) * (size_t)G * K * 3), *tmp = malloc(sizeof(float) * (size_t)G * C);
  float *mu = malloc(sizeof(float) * (size_t)G), *rs = malloc(sizeof(float) * (size_t)G);
  uint8_t *mask = calloc((size_t)G, 1);
  assert_int_equal(mae_group(&om->cfg, pts, n, neigh, centers), AD3D_OK);
  float loss = -1;
  assert_int_equal(mae_forward(om, neigh, centers, mask, 1, 0, NULL, &loss), AD3D_OK);
  assert_true(loss == 0.0f);
  for (int j = 0; j < nb; j++) {
    const float *x2 = om->acts.enc_x2 + (size_t)blocks[j] * G * C;
    layernorm_forward(tmp, mu, rs, x2, om->params.enc_norm_w, om->params.enc_norm_b, G, C);
    for (int g = 0; g < G; g++)
      memcpy(feat + ((size_t)g * nb + j) * C, tmp + (size_t)g * C, sizeof(float) * (size_t)C);
  }
  free(neigh);
  free(tmp);
  free(mu);
  free(rs);
  free(mask);
}

static void expect_close(const float *got, const float *want, size_t n, double tol, const char *what) {
  double scale = 0, err = 0;
  for (size_t i = 0; i < n; i++) {
    scale = fmax(scale, fabs(want[i]));
    err = fmax(err, fabs((double)got[i] - want[i]));
  }
  if (!(err <= tol * scale))
    fail_msg("%s: max |features - oracle| = %g, largest oracle value %g", what, err, scale);
}

/* Features of m with grouping (G, K) on a cloud of n points, against the oracle. */
static void check_case(mae_model *m, int n, int G, int K, const char *blocks, int64_t chunk) {
  rng_t r;
  rng_seed(&r, (uint64_t)n * 7 + G);
  float *pts = malloc(sizeof(float) * (size_t)n * 3);
  random_cloud(pts, n, &r);
  mae_feat_opts o = {.ngroups = G, .group_size = K, .chunk_floats = chunk};
  assert_int_equal(mae_feat_parse_blocks(blocks, m->cfg.depth, o.blocks, &o.nblocks), AD3D_OK);
  const int Ge = mae_feat_groups(&o, n), Ke = n < K ? n : K, D = mae_feat_dim(m, &o);
  assert_int_equal(Ge, n < G ? n : G);
  float *c1 = malloc(sizeof(float) * (size_t)Ge * 3), *f1 = malloc(sizeof(float) * (size_t)Ge * D);
  float *c2 = malloc(sizeof(float) * (size_t)Ge * 3), *f2 = malloc(sizeof(float) * (size_t)Ge * D);
  assert_int_equal(mae_features(m, pts, n, &o, c1, f1), AD3D_OK);
  mae_config oc = m->cfg;
  oc.ngroups = Ge, oc.group_size = Ke, oc.npoints = n;
  oc.mask_ratio = 0.0;
  mae_model *om = model(&oc, 1);
  copy_weights(om, m);
  oracle(om, pts, n, o.blocks, o.nblocks, c2, f2);
  assert_memory_equal(c1, c2, sizeof(float) * (size_t)Ge * 3);
  expect_close(f1, f2, (size_t)Ge * D, 2e-5, blocks);
  mae_free(om);
  free(pts);
  free(c1);
  free(f1);
  free(c2);
  free(f2);
}

static void test_matches_forward(void **unused) {
  (void)unused;
  mae_config c = tiny();
  mae_model *m = model(&c, 5);
  check_case(m, 150, 12, 8, "auto", 0);    /* the model's own grouping */
  check_case(m, 150, 12, 8, "auto", 300);  /* patch encoder and attention in many chunks */
  check_case(m, 150, 30, 5, "1,3", 1);     /* another grouping; the smallest chunks */
  check_case(m, 150, 7, 20, "0,1,2,3", 0); /* every block */
  check_case(m, 9, 12, 8, "2", 0);         /* a cloud smaller than G: G = 9 */
  check_case(m, 5, 12, 8, "auto", 0);      /* and smaller than K: K = 5 */
  mae_free(m);
}

static void test_blocks(void **unused) {
  (void)unused;
  int b[MAE_FEAT_MAX_BLOCKS], n;
  mae_feat_default_blocks(12, b, &n);
  assert_int_equal(n, 3);
  assert_true(b[0] == 3 && b[1] == 7 && b[2] == 11);
  mae_feat_default_blocks(4, b, &n);
  assert_true(n == 3 && b[0] == 0 && b[1] == 2 && b[2] == 3);
  mae_feat_default_blocks(2, b, &n);
  assert_true(n == 2 && b[0] == 0 && b[1] == 1);
  mae_feat_default_blocks(1, b, &n);
  assert_true(n == 1 && b[0] == 0);
  assert_int_equal(mae_feat_parse_blocks("3,7,11", 12, b, &n), AD3D_OK);
  assert_true(n == 3 && b[2] == 11);
  assert_int_equal(mae_feat_parse_blocks("auto", 6, b, &n), AD3D_OK);
  assert_true(n == 3 && b[0] == 1 && b[1] == 3 && b[2] == 5);
  assert_int_equal(mae_feat_parse_blocks("3,12", 12, b, &n), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "block 12 does not exist"));
  assert_int_equal(mae_feat_parse_blocks("7,3", 12, b, &n), AD3D_EINVAL);
  assert_int_equal(mae_feat_parse_blocks("3,,7", 12, b, &n), AD3D_EINVAL);
  assert_int_equal(mae_feat_parse_blocks("", 12, b, &n), AD3D_EINVAL);
  assert_int_equal(mae_feat_parse_blocks("x", 12, b, &n), AD3D_EINVAL);
  assert_int_equal(mae_feat_parse_blocks("-1", 12, b, &n), AD3D_EINVAL);
  /* bad options at extraction */
  mae_config c = tiny();
  mae_model *m = model(&c, 2);
  float pts[30] = {0}, cen[30], feat[30 * 64];
  mae_feat_opts o = {.ngroups = 4, .group_size = 2, .nblocks = 1, .blocks = {4}};
  assert_int_equal(mae_features(m, pts, 10, &o, cen, feat), AD3D_EINVAL);
  o.blocks[0] = 0;
  o.ngroups = 0;
  assert_int_equal(mae_features(m, pts, 10, &o, cen, feat), AD3D_EINVAL);
  mae_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_matches_forward),
      cmocka_unit_test(test_blocks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
