/* test_train.c - Point-MAE corpora, input pipeline and training loop (src/nn/data.h, src/nn/train.h).
 *
 * Oracles: restatements of the pipeline's definitions (a random subset of distinct points normalised to the
 * unit sphere: centroid 0, largest radius 1; scale-and-translate with the documented draws), timm's cosine
 * schedule restated, the corpus listings of files written here (recursive folders, ShapeNet-55 lists), and
 * the loop's contracts: the same seed gives the same bits, the micro-batch sharding of a step equals
 * accumulating the shards by hand, fine-tuning resets the optimiser and lowers the loss, bad options and a
 * corpus smaller than a batch are refused with a message; a grouping hook that wraps mae_group changes no
 * bit, and a recording hook sees each cloud's restated input and stream, the same with 1 or 2 shards or
 * processes (a reduction that is the identity stands for the second process). (Resume from a checkpoint: tests/store; 1 vs 2
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
  assert_int_equal(corpus_sample(c, 8, 64, &r3, d), AD3D_OK); /* another object, the same stream */
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

/* ---- the grouping hook ------------------------------------------------------------------------------------ */

/* mae_group behind the hook (counting its calls): the same epochs as no hook, bit for bit. */
static int g_group_calls;
static ad3d_status group_mae(void *ctx, const mae_config *cfg, const float *pts, int64_t n, rng_t *rng, float *neigh,
                             float *centers) {
  (void)ctx, (void)rng;
  g_group_calls++;
  return mae_group(cfg, pts, n, neigh, centers);
}

static void test_group_hook_mae_group(void **unused) {
  (void)unused;
  corpus *c = NULL;
  assert_int_equal(corpus_open("shapes:20", &c), AD3D_OK);
  mae_model *a = new_model(3), *b = new_model(3);
  mae_train_opts oa = tiny_train(), ob = tiny_train();
  assert_null(oa.group);
  assert_null(oa.group_ctx);
  ob.group = group_mae;
  g_group_calls = 0;
  for (int e = 0; e < 2; e++) {
    mae_train_progress pa, pb;
    assert_int_equal(mae_train_epoch(a, c, &oa, e, NULL, NULL, NULL, &pa), AD3D_OK);
    assert_int_equal(mae_train_epoch(b, c, &ob, e, NULL, NULL, NULL, &pb), AD3D_OK);
    assert_true(pa.loss == pb.loss);
  }
  assert_int_equal(g_group_calls, 2 * 2 * 8); /* 2 epochs of 2 steps of 8 clouds */
  assert_memory_equal(a->params_mem, b->params_mem, a->nparams * sizeof(float));
  assert_memory_equal(a->bufs_mem, b->bufs_mem, a->nbufs * sizeof(float));
  assert_memory_equal(a->m_mem, b->m_mem, a->nparams * sizeof(float));
  assert_memory_equal(a->v_mem, b->v_mem, a->nparams * sizeof(float));
  /* mae_finetune passes the hook on: 3 epochs of 1 step of 4 clouds */
  cloud_t cl[4];
  rng_t r;
  rng_seed(&r, 4);
  for (int s = 0; s < 4; s++) {
    assert_int_equal(cloud_alloc(&cl[s], 200), AD3D_OK);
    for (int i = 0; i < 600; i++)
      cl[s].xyz[i] = (float)rng_normal(&r);
  }
  ob.batch = 4, ob.micro_batch = 2;
  g_group_calls = 0;
  assert_int_equal(mae_finetune(b, cl, 4, &ob, NULL, NULL, NULL), AD3D_OK);
  assert_int_equal(g_group_calls, 3 * 4);
  for (int s = 0; s < 4; s++)
    cloud_free(&cl[s]);
  mae_free(a);
  mae_free(b);
  corpus_free(c);
}

/* A hook that records what it is given (the input points and two draws of its stream), then groups as
 * mae_group; with fail_at > 0 its fail_at-th call fails. */
#define REC_MAX 64
typedef struct {
  int calls, fail_at;
  int64_t n[REC_MAX];
  int G[REC_MAX];
  float pts[REC_MAX][128 * 3];
  uint64_t draws[REC_MAX][2];
} recorder;

static ad3d_status group_record(void *ctx, const mae_config *cfg, const float *pts, int64_t n, rng_t *rng,
                                float *neigh, float *centers) {
  recorder *rc = ctx;
  int t = rc->calls++;
  if (rc->fail_at && rc->calls == rc->fail_at)
    return ad3d_fail(AD3D_EINVAL, "test hook refuses call %d", rc->calls);
  assert_true(t < REC_MAX && n <= 128);
  rc->n[t] = n;
  rc->G[t] = cfg->ngroups;
  memcpy(rc->pts[t], pts, sizeof(float) * (size_t)n * 3);
  rc->draws[t][0] = rng_next(rng);
  rc->draws[t][1] = rng_next(rng);
  return mae_group(cfg, pts, n, neigh, centers);
}

/* The order of an epoch, restated (Fisher-Yates from the stream "pretrain/order/<epoch>"). */
static void restated_order(int64_t *perm, int n, uint64_t seed, int epoch) {
  char key[64];
  rng_t r;
  snprintf(key, sizeof key, "pretrain/order/%d", epoch);
  rng_seed_key(&r, seed, key);
  for (int i = 0; i < n; i++)
    perm[i] = i;
  for (int i = n - 1; i > 0; i--) {
    int j = (int)rng_below(&r, (uint64_t)i + 1);
    int64_t t = perm[i];
    perm[i] = perm[j], perm[j] = t;
  }
}

/* The hook is called once per cloud of a step, in the step's order, with the cloud's input (its own sample
 * stream, augmented) and the stream "pretrain/group/<epoch>/<cloud>"; the same calls whether one process
 * runs both shards of a step, one shard holds the whole step, or two processes run a shard each. */
static void test_group_hook_streams(void **unused) {
  (void)unused;
  corpus *c = NULL;
  assert_int_equal(corpus_open("shapes:20", &c), AD3D_OK);
  mae_train_opts o = tiny_train();
  static recorder one, whole, rank[2];
  memset(&one, 0, sizeof one);
  o.group = group_record, o.group_ctx = &one;
  mae_model *m = new_model(6);
  const int np = m->cfg.npoints;
  for (int e = 0; e < 2; e++) {
    one.calls = 0;
    assert_int_equal(mae_train_epoch(m, c, &o, e, NULL, NULL, NULL, NULL), AD3D_OK);
    assert_int_equal(one.calls, 16); /* 2 steps of 8: every position of the order once, none of the last 4 */
    int64_t perm[20];
    restated_order(perm, 20, o.seed, e);
    for (int t = 0; t < 16; t++) {
      char key[96];
      rng_t r;
      float want[128 * 3];
      snprintf(key, sizeof key, "pretrain/sample/%d/%lld", e, (long long)perm[t]);
      rng_seed_key(&r, o.seed, key);
      assert_int_equal(corpus_sample(c, perm[t], np, &r, want), AD3D_OK);
      augment_scale_translate(want, np, &r);
      assert_int_equal(one.n[t], np);
      assert_int_equal(one.G[t], m->cfg.ngroups);
      assert_memory_equal(one.pts[t], want, sizeof(float) * (size_t)np * 3);
      snprintf(key, sizeof key, "pretrain/group/%d/%lld", e, (long long)perm[t]);
      rng_seed_key(&r, o.seed, key);
      assert_true(one.draws[t][0] == rng_next(&r));
      assert_true(one.draws[t][1] == rng_next(&r));
    }
  }
  /* epoch 1 again: with the whole step in one shard, and as two processes of one shard each */
  mae_train_opts ow = o;
  memset(&whole, 0, sizeof whole);
  ow.micro_batch = 8, ow.group_ctx = &whole;
  mae_model *mw = new_model(6);
  assert_int_equal(mae_train_epoch(mw, c, &ow, 1, NULL, NULL, NULL, NULL), AD3D_OK);
  assert_int_equal(whole.calls, 16);
  for (int t = 0; t < 16; t++) {
    assert_memory_equal(whole.pts[t], one.pts[t], sizeof(float) * (size_t)np * 3);
    assert_memory_equal(whole.draws[t], one.draws[t], sizeof one.draws[t]);
  }
  for (int p = 0; p < 2; p++) {
    memset(&rank[p], 0, sizeof rank[p]);
    mae_train_opts op = o;
    op.group_ctx = &rank[p];
    fake_comm fc = {0};
    mae_train_comm comm = {.rank = p, .size = 2, .allreduce_sum = fake_sum, .ctx = &fc};
    mae_model *mp = new_model(6);
    assert_int_equal(mae_train_epoch(mp, c, &op, 1, &comm, NULL, NULL, NULL), AD3D_OK);
    assert_int_equal(rank[p].calls, 8); /* its shard of each of the 2 steps */
    for (int k = 0; k < 8; k++) {
      int t = (k / 4) * 8 + p * 4 + k % 4; /* step k / 4, shard p, cloud k % 4 of the shard */
      assert_memory_equal(rank[p].pts[k], one.pts[t], sizeof(float) * (size_t)np * 3);
      assert_memory_equal(rank[p].draws[k], one.draws[t], sizeof one.draws[t]);
    }
    mae_free(mp);
  }
  /* a failing hook fails the epoch, its message kept */
  recorder *bad = calloc(1, sizeof *bad);
  assert_non_null(bad);
  bad->fail_at = 3;
  o.group_ctx = bad;
  assert_int_equal(mae_train_epoch(m, c, &o, 0, NULL, NULL, NULL, NULL), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "grouping cloud"));
  assert_non_null(strstr(ad3d_errmsg(), "test hook refuses call 3"));
  assert_int_equal(bad->calls, 3);
  free(bad);
  mae_free(m);
  mae_free(mw);
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
      cmocka_unit_test(test_group_hook_mae_group), cmocka_unit_test(test_group_hook_streams),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
