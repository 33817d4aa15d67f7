/* test_train.c - Point-MAE corpora, input pipeline and training loop (src/nn/data.h, src/nn/train.h).
 *
 * Oracles: restatements of the pipeline's definitions (a random subset of distinct points normalised to the
 * unit sphere: centroid 0, largest radius 1; scale-and-translate with the documented draws), timm's cosine
 * schedule restated, the corpus listings of files written here (recursive folders, ShapeNet-55 lists), and
 * the loop's contracts: the same seed gives the same bits, the micro-batch sharding of a step equals
 * accumulating the shards by hand, fine-tuning resets the optimiser and lowers the loss, bad options and a
 * corpus smaller than a batch are refused with a message. (Resume from a checkpoint: tests/store; 1 vs 2
 * MPI ranks: tests/runner/test_pretrain.py.)
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
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "io/pcd.h"
#include "nn/ops.h"
#include "nn/train.h"

static mae_config tiny(void) {
  mae_config c = {.npoints = 128, .ngroups = 8, .group_size = 16, .width = 16, .depth = 2, .heads = 2,
                  .decoder_depth = 1, .decoder_heads = 2, .mlp_ratio = 2, .pe_dim1 = 8, .pe_dim2 = 16,
                  .pe_dim3 = 16, .pos_dim = 8, .mask_ratio = 0.5, .drop_path_rate = 0.1};
  return c;
}

static mae_train_opts tiny_train(void) {
  mae_train_opts o = mae_train_defaults();
  o.epochs = 3, o.batch = 8, o.micro_batch = 4, o.warmup_epochs = 1, o.seed = 5;
  return o;
}

static mae_model *new_model(uint64_t seed) {
  mae_config c = tiny();
  rng_t r;
  rng_seed(&r, seed);
  mae_model *m = NULL;
  assert_int_equal(mae_init(&m, &c, &r), AD3D_OK);
  return m;
}

/* ---- pipeline -------------------------------------------------------------------------------------------- */

/* corpus_sample of a cloud of n points on the line x = i (distinct x): the unit-sphere normalisation, and
 * which source points were drawn (x is an increasing affine image of the source index). */
static void test_sample_and_normalise(void **unused) {
  (void)unused;
  const int n = 50;
  cloud_t cl;
  assert_int_equal(cloud_alloc(&cl, n), AD3D_OK);
  for (int i = 0; i < n; i++)
    cl.xyz[3 * i] = (float)i, cl.xyz[3 * i + 1] = 3.0f, cl.xyz[3 * i + 2] = -2.0f;
  corpus *c = NULL;
  assert_int_equal(corpus_from_clouds(&cl, 1, &c), AD3D_OK);
  assert_int_equal(corpus_size(c), 1);
  assert_int_equal(corpus_get_kind(c), CORPUS_CLOUDS);
  for (int m = 20; m <= 80; m += 60) {
    float out[80 * 3];
    rng_t r;
    rng_seed(&r, 7);
    assert_int_equal(corpus_sample(c, 0, m, &r, out), AD3D_OK);
    double cen[3] = {0, 0, 0}, r2 = 0;
    for (int i = 0; i < m; i++)
      for (int a = 0; a < 3; a++)
        cen[a] += out[3 * i + a] / (double)m;
    for (int i = 0; i < m; i++) {
      double d2 = 0;
      for (int a = 0; a < 3; a++)
        d2 += (out[3 * i + a] - cen[a]) * (out[3 * i + a] - cen[a]);
      r2 = fmax(r2, d2);
    }
    for (int a = 0; a < 3; a++)
      assert_true(fabs(cen[a]) < 1e-5);
    assert_true(fabs(sqrt(r2) - 1) < 1e-5);
    int distinct = 0;
    for (int i = 0; i < m; i++) {
      int dup = 0;
      for (int k = 0; k < i && !dup; k++)
        dup = out[3 * k] == out[3 * i];
      distinct += !dup;
    }
    /* m <= n: m distinct source points; m > n: every source point, then repeats */
    assert_int_equal(distinct, m <= n ? m : n);
  }
  corpus_free(c);
  cloud_free(&cl);
}

static void test_augment(void **unused) {
  (void)unused;
  float p[6] = {1, 2, 3, -1, 0.5f, 0}, q[6];
  memcpy(q, p, sizeof p);
  rng_t r1, r2;
  rng_seed(&r1, 3);
  rng_seed(&r2, 3);
  augment_scale_translate(q, 2, &r1);
  double s[3], t[3];
  for (int a = 0; a < 3; a++)
    s[a] = 2.0 / 3.0 + rng_uniform(&r2) * (1.5 - 2.0 / 3.0);
  for (int a = 0; a < 3; a++)
    t[a] = -0.2 + rng_uniform(&r2) * 0.4;
  for (int i = 0; i < 2; i++)
    for (int a = 0; a < 3; a++) {
      assert_true(s[a] >= 2.0 / 3.0 && s[a] < 1.5 && t[a] >= -0.2 && t[a] < 0.2);
      assert_true(q[3 * i + a] == (float)(p[3 * i + a] * s[a] + t[a]));
    }
  /* pc_normalize of a degenerate cloud leaves it centred */
  float d[6] = {2, 2, 2, 2, 2, 2};
  pc_normalize(d, 2);
  for (int i = 0; i < 6; i++)
    assert_true(d[i] == 0.0f);
}

/* ---- corpora ---------------------------------------------------------------------------------------------- */

static void write_npy(const char *path, const float *xyz, int n) {
  char dict[128];
  int len = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, 3), }", n);
  int total = 10 + len + 1, pad = (64 - total % 64) % 64;
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  unsigned short hl = (unsigned short)(len + pad + 1);
  fwrite("\x93NUMPY\x01\x00", 1, 8, f);
  fputc(hl & 0xff, f);
  fputc(hl >> 8, f);
  fwrite(dict, 1, (size_t)len, f);
  for (int i = 0; i < pad; i++)
    fputc(' ', f);
  fputc('\n', f);
  fwrite(xyz, sizeof(float), (size_t)n * 3, f);
  fclose(f);
}

static void test_corpora(void **unused) {
  (void)unused;
  char tmpl[] = "/tmp/ad3d_corpus_XXXXXX";
  assert_non_null(mkdtemp(tmpl));
  char *sub = str_printf("%s/b", tmpl), *sn = str_printf("%s/sn", tmpl), *snpc = str_printf("%s/sn/shapenet_pc", tmpl);
  assert_int_equal(mkdir(sub, 0755), 0);
  assert_int_equal(mkdir(sn, 0755), 0);
  assert_int_equal(mkdir(snpc, 0755), 0);
  float xyz[40 * 3];
  for (int i = 0; i < 120; i++)
    xyz[i] = (float)((i * 37) % 101) / 10.0f;
  cloud_t cl = {.n = 40, .xyz = xyz};
  char *p1 = str_printf("%s/z.npy", tmpl), *p2 = str_printf("%s/b/a.pcd", tmpl), *p3 = str_printf("%s/notes.txt", tmpl);
  write_npy(p1, xyz, 40);
  assert_int_equal(pcd_write(p2, &cl, PCD_BINARY), AD3D_OK);
  FILE *f = fopen(p3, "w");
  fputs("ignored\n", f);
  fclose(f);
  corpus *c = NULL;
  assert_int_equal(corpus_open(tmpl, &c), AD3D_OK);
  assert_int_equal(corpus_get_kind(c), CORPUS_FILES);
  assert_int_equal(corpus_size(c), 2);
  assert_string_equal(corpus_path(c, 0), p2); /* "b/a.pcd" sorts before "z.npy" */
  assert_string_equal(corpus_path(c, 1), p1);
  float out[32 * 3];
  rng_t r;
  rng_seed(&r, 1);
  assert_int_equal(corpus_sample(c, 0, 32, &r, out), AD3D_OK);
  assert_int_equal(corpus_sample(c, 1, 32, &r, out), AD3D_OK);
  corpus_free(c);
  /* a mesh: one triangle in the plane z = 2; sampled points lie on it (a normalised copy: z constant) */
  char *p4 = str_printf("%s/b/tri.off", tmpl);
  f = fopen(p4, "w");
  fputs("OFF\n3 1 0\n0 0 2\n4 0 2\n0 3 2\n3 0 1 2\n", f);
  fclose(f);
  assert_int_equal(corpus_open(tmpl, &c), AD3D_OK);
  assert_int_equal(corpus_size(c), 3);
  assert_string_equal(corpus_path(c, 1), p4); /* b/a.pcd, b/tri.off, z.npy */
  assert_int_equal(corpus_sample(c, 1, 32, &r, out), AD3D_OK);
  for (int k = 0; k < 32; k++) {
    assert_true(fabsf(out[3 * k + 2] - out[2]) < 1e-5f);
    assert_true(out[3 * k] * out[3 * k] + out[3 * k + 1] * out[3 * k + 1] + out[3 * k + 2] * out[3 * k + 2] <=
                1.0f + 1e-5f);
  }
  corpus_free(c);
  unlink(p4);
  free(p4);
  /* ShapeNet-55: train.txt names files under shapenet_pc/ (blank lines and spaces ignored) */
  char *l1 = str_printf("%s/02691156-aaa.npy", snpc), *l2 = str_printf("%s/03001627-bbb.npy", snpc);
  write_npy(l1, xyz, 40);
  write_npy(l2, xyz, 40);
  char *list = str_printf("%s/train.txt", sn), *tlist = str_printf("%s/test.txt", sn);
  f = fopen(list, "w");
  fputs("02691156-aaa.npy\n\n  03001627-bbb.npy  \r\n", f);
  fclose(f);
  f = fopen(tlist, "w");
  fputs("03001627-bbb.npy\n", f);
  fclose(f);
  assert_int_equal(corpus_open(sn, &c), AD3D_OK);
  assert_int_equal(corpus_get_kind(c), CORPUS_SHAPENET55);
  assert_int_equal(corpus_size(c), 2);
  assert_string_equal(corpus_path(c, 1), l2);
  assert_int_equal(corpus_sample(c, 1, 32, &r, out), AD3D_OK);
  corpus_free(c);
  char *spec = str_printf("shapenet55:%s:test", sn);
  assert_int_equal(corpus_open(spec, &c), AD3D_OK);
  assert_int_equal(corpus_size(c), 1);
  corpus_free(c);
  /* errors */
  assert_int_equal(corpus_open(sub, &c), AD3D_OK); /* b/ holds a.pcd */
  corpus_free(c);
  char *empty = str_printf("%s/empty", tmpl);
  assert_int_equal(mkdir(empty, 0755), 0);
  assert_int_equal(corpus_open(empty, &c), AD3D_ENOTFOUND);
  assert_non_null(strstr(ad3d_errmsg(), "no .pcd or .npy files"));
  assert_int_equal(corpus_open("/nonexistent/folder", &c), AD3D_ENOTFOUND);
  const char *bad[] = {"shapes:0", "shapes:x", "shapes:5:", "shapes:5:-1", "shapes:5x", "shapes:"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(corpus_open(bad[i], &c), AD3D_EINVAL);
    assert_null(c);
  }
  assert_int_equal(corpus_open("shapes:12:7", &c), AD3D_OK);
  assert_int_equal(corpus_get_kind(c), CORPUS_SHAPES);
  assert_int_equal(corpus_size(c), 12);
  assert_null(corpus_path(c, 3));
  /* the same stream gives the same object; objects differ */
  float a[64 * 3], b[64 * 3], d[64 * 3];
  rng_t r1, r2, r3;
  rng_seed(&r1, 2), rng_seed(&r2, 2), rng_seed(&r3, 2);
  assert_int_equal(corpus_sample(c, 3, 64, &r1, a), AD3D_OK);
  assert_int_equal(corpus_sample(c, 3, 64, &r2, b), AD3D_OK);
  assert_int_equal(corpus_sample(c, 8, 64, &r3, d), AD3D_OK); /* same catalogue shape (8 mod 5 = 3), other pose */
  assert_memory_equal(a, b, sizeof a);
  assert_memory_not_equal(a, d, sizeof a);
  corpus_free(c);
  /* an unreadable file fails the call that reads it, naming the file */
  f = fopen(p1, "wb");
  fputs("\x93NUMPY broken", f);
  fclose(f);
  assert_int_equal(corpus_open(tmpl, &c), AD3D_OK); /* b/a.pcd, sn/shapenet_pc/ x 2, z.npy */
  assert_int_equal(corpus_size(c), 4);
  assert_string_equal(corpus_path(c, 3), p1);
  assert_int_not_equal(corpus_sample(c, 3, 32, &r, out), AD3D_OK);
  assert_non_null(strstr(ad3d_errmsg(), "z.npy"));
  corpus_free(c);
  remove_tree(tmpl);
  free(sub), free(sn), free(snpc), free(p1), free(p2), free(p3), free(l1), free(l2), free(list), free(tlist);
  free(spec), free(empty);
}

/* ---- the loop ---------------------------------------------------------------------------------------------- */

static void test_lr_schedule(void **unused) {
  (void)unused;
  mae_train_opts o = mae_train_defaults();
  for (int e = 0; e < 300; e += 7) {
    double want = e < 10 ? 1e-6 + e * (1e-3 - 1e-6) / 10 : 1e-6 + (1e-3 - 1e-6) * (1 + cos(M_PI * e / 300.0)) / 2;
    assert_true(fabs(mae_train_lr(&o, e) - want) < 1e-15);
  }
  mae_train_opts b = o;
  b.micro_batch = 48;
  assert_int_equal(mae_train_check(&b), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "micro_batch 48 does not divide batch 128"));
  b = o, b.epochs = 0;
  assert_int_equal(mae_train_check(&b), AD3D_EINVAL);
  b = o, b.lr = 0;
  assert_int_equal(mae_train_check(&b), AD3D_EINVAL);
  assert_int_equal(mae_train_check(&o), AD3D_OK);
}

static int g_calls;
static void count_steps(void *ctx, const mae_train_progress *p) {
  (void)ctx;
  g_calls++;
  assert_true(p->step >= 1 && p->step <= p->steps && p->samples == (int64_t)p->step * 8 && isfinite(p->loss));
}

static void test_epoch_deterministic(void **unused) {
  (void)unused;
  corpus *c = NULL;
  assert_int_equal(corpus_open("shapes:20", &c), AD3D_OK);
  mae_model *a = new_model(1), *b = new_model(1);
  mae_train_opts o = tiny_train();
  mae_train_progress pa, pb;
  g_calls = 0;
  assert_int_equal(mae_train_epoch(a, c, &o, 0, NULL, count_steps, NULL, &pa), AD3D_OK);
  assert_int_equal(g_calls, 2); /* floor(20 / 8) steps: the last partial batch is dropped */
  assert_int_equal(mae_train_epoch(b, c, &o, 0, NULL, NULL, NULL, &pb), AD3D_OK);
  assert_int_equal(pa.steps, 2);
  assert_int_equal(a->step, 2);
  assert_memory_equal(a->params_mem, b->params_mem, a->nparams * sizeof(float));
  assert_true(pa.loss == pb.loss);
  /* another epoch number draws another order, masks and augmentation */
  mae_model *e1 = new_model(1);
  mae_train_progress p1;
  assert_int_equal(mae_train_epoch(e1, c, &o, 1, NULL, NULL, NULL, &p1), AD3D_OK);
  assert_true(p1.loss != pa.loss);
  /* a corpus smaller than a batch */
  corpus *small = NULL;
  assert_int_equal(corpus_open("shapes:7", &small), AD3D_OK);
  assert_int_equal(mae_train_epoch(a, small, &o, 0, NULL, NULL, NULL, NULL), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "fewer clouds than a batch of 8"));
  corpus_free(small);
  mae_free(a);
  mae_free(b);
  mae_free(e1);
  corpus_free(c);
}

/* A "process group" of one that records what it is asked to sum (a reduction that is the identity). */
typedef struct {
  int calls;
  size_t sizes[4];
} fake_comm;

static ad3d_status fake_sum(void *ctx, float *buf, size_t n) {
  fake_comm *f = ctx;
  (void)buf;
  if (f->calls < 4)
    f->sizes[f->calls] = n;
  f->calls++;
  return AD3D_OK;
}

static void test_shards_by_hand(void **unused) {
  (void)unused;
  /* one step of batch 8 in 2 shards of 4, against the two shards run by hand: the mean gradient, the mean
   * of the shards' running statistics, one AdamW step */
  corpus *c = NULL;
  assert_int_equal(corpus_open("shapes:8", &c), AD3D_OK);
  mae_train_opts o = tiny_train();
  o.augment = 1;
  mae_model *a = new_model(4), *b = new_model(4);
  fake_comm fc = {0};
  mae_train_comm comm = {.rank = 0, .size = 1, .allreduce_sum = fake_sum, .ctx = &fc};
  mae_train_progress pa;
  assert_int_equal(mae_train_epoch(a, c, &o, 0, &comm, NULL, NULL, &pa), AD3D_OK);
  assert_int_equal(fc.calls, 2); /* the small buffer (buffers, loss, failures), then the gradients */
  assert_int_equal(fc.sizes[0], a->nbufs + 2);
  assert_int_equal(fc.sizes[1], a->nparams);
  /* by hand: the order of epoch 0, each cloud's input from its own stream, each shard's mask stream */
  int64_t perm[8];
  {
    rng_t r;
    rng_seed_key(&r, o.seed, "pretrain/order/0");
    for (int i = 0; i < 8; i++)
      perm[i] = i;
    for (int i = 7; i > 0; i--) {
      int j = (int)rng_below(&r, (uint64_t)i + 1);
      int64_t t = perm[i];
      perm[i] = perm[j], perm[j] = t;
    }
  }
  const mae_config *cf = &b->cfg;
  const int G = cf->ngroups, K = cf->group_size, B = 4;
  float *neigh = malloc(sizeof(float) * B * G * K * 3), *cen = malloc(sizeof(float) * B * G * 3);
  float *pts = malloc(sizeof(float) * cf->npoints * 3), *b0 = malloc(sizeof(float) * b->nbufs);
  float *bsum = calloc(b->nbufs, sizeof(float));
  uint8_t mask[4 * 8];
  memcpy(b0, b->bufs_mem, sizeof(float) * b->nbufs);
  mae_zero_grad(b);
  double loss = 0;
  for (int s = 0; s < 2; s++) {
    for (int j = 0; j < B; j++) {
      char key[96];
      rng_t r;
      snprintf(key, sizeof key, "pretrain/sample/0/%lld", (long long)perm[s * B + j]);
      rng_seed_key(&r, o.seed, key);
      assert_int_equal(corpus_sample(c, perm[s * B + j], cf->npoints, &r, pts), AD3D_OK);
      augment_scale_translate(pts, cf->npoints, &r);
      assert_int_equal(mae_group(cf, pts, cf->npoints, neigh + (size_t)j * G * K * 3, cen + (size_t)j * G * 3),
                       AD3D_OK);
    }
    char key[64];
    rng_t r;
    snprintf(key, sizeof key, "pretrain/shard/0/0/%d", s);
    rng_seed_key(&r, o.seed, key);
    mae_mask_random(mask, B, G, mae_num_masked(cf), &r);
    memcpy(b->bufs_mem, b0, sizeof(float) * b->nbufs);
    float l;
    assert_int_equal(mae_forward(b, neigh, cen, mask, B, 1, &r, &l), AD3D_OK);
    assert_int_equal(mae_backward(b), AD3D_OK);
    for (size_t i = 0; i < b->nbufs; i++)
      bsum[i] += b->bufs_mem[i];
    loss += l;
  }
  for (size_t i = 0; i < b->nparams; i++)
    b->grads_mem[i] *= 0.5f;
  for (size_t i = 0; i < b->nbufs; i++)
    b->bufs_mem[i] = bsum[i] * 0.5f;
  mae_adamw_step(b, (float)mae_train_lr(&o, 0), (float)o.weight_decay);
  assert_memory_equal(a->params_mem, b->params_mem, a->nparams * sizeof(float));
  assert_memory_equal(a->bufs_mem, b->bufs_mem, a->nbufs * sizeof(float));
  assert_true(fabs(pa.loss - loss / 2) <= 1e-6 * loss);
  free(neigh), free(cen), free(pts), free(b0), free(bsum);
  mae_free(a);
  mae_free(b);
  corpus_free(c);
}

static void test_finetune(void **unused) {
  (void)unused;
  /* four clouds of one "class"; fine-tuning resets the optimiser and lowers the loss */
  rng_t r;
  rng_seed(&r, 9);
  cloud_t cl[4];
  for (int s = 0; s < 4; s++) {
    assert_int_equal(cloud_alloc(&cl[s], 400), AD3D_OK);
    for (int i = 0; i < 400; i++) {
      double u[3], nn = 0;
      for (int k = 0; k < 3; k++)
        u[k] = rng_normal(&r), nn += u[k] * u[k];
      for (int k = 0; k < 3; k++)
        cl[s].xyz[3 * i + k] = (float)(u[k] / sqrt(nn) * (k + 1) * 10 + 50);
    }
  }
  mae_model *m = new_model(2);
  m->step = 17; /* as if pre-trained */
  m->m_mem[0] = 1.0f;
  mae_train_opts o = tiny_train();
  o.batch = 4, o.micro_batch = 2, o.epochs = 12, o.warmup_epochs = 0, o.lr = 3e-3, o.augment = 0;
  m->cfg.mask_ratio = 0.4;
  double first = 0, last = 0;
  assert_int_equal(mae_finetune(m, cl, 4, &o, NULL, NULL, &last), AD3D_OK);
  assert_int_equal(m->step, 12); /* reset, then 12 epochs of 1 step */
  mae_model *m2 = new_model(2);
  o.epochs = 1;
  m2->cfg.mask_ratio = 0.4;
  assert_int_equal(mae_finetune(m2, cl, 4, &o, NULL, NULL, &first), AD3D_OK);
  if (!(last < 0.7 * first))
    fail_msg("fine-tuning loss %g after 12 epochs, %g after 1", last, first);
  o.batch = 8, o.micro_batch = 8;
  assert_int_equal(mae_finetune(m2, cl, 4, &o, NULL, NULL, NULL), AD3D_EINVAL);
  mae_free(m);
  mae_free(m2);
  for (int s = 0; s < 4; s++)
    cloud_free(&cl[s]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sample_and_normalise), cmocka_unit_test(test_augment),
      cmocka_unit_test(test_corpora),
      cmocka_unit_test(test_lr_schedule),          cmocka_unit_test(test_epoch_deterministic),
      cmocka_unit_test(test_shards_by_hand),       cmocka_unit_test(test_finetune),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
