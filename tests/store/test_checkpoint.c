/* test_checkpoint.c - Point-MAE checkpoints (src/store/checkpoint.h).
 *
 * - save then load gives back every byte of the model (weights, AdamW moments, BatchNorm buffers, step,
 *   configuration) and of the info; saving the loaded model again writes a byte-identical file;
 * - an independent reader (read_checkpoint.py, h5py) finds the layout FORMAT.md documents, with the
 *   model's exact values;
 * - resuming: epochs run from a checkpoint (saved, freed, loaded) follow the uninterrupted run bit for bit
 *   (one OpenBLAS thread, as ctest runs it);
 * - errors: a missing file, a file that is not HDF5, another format, another version, a missing or
 *   mis-shaped tensor each fail with a message naming the file and the problem; a write that cannot
 *   complete (the target is a folder) fails and leaves no temporary file behind.
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
#include "nn/train.h"
#include "store/checkpoint.h"

static char *g_dir;

static mae_config tiny_config(void) {
  mae_config c = {.npoints = 128,
                  .ngroups = 8,
                  .group_size = 16,
                  .width = 16,
                  .depth = 2,
                  .heads = 2,
                  .decoder_depth = 1,
                  .decoder_heads = 2,
                  .mlp_ratio = 2,
                  .pe_dim1 = 8,
                  .pe_dim2 = 16,
                  .pe_dim3 = 16,
                  .pos_dim = 8,
                  .mask_ratio = 0.5,
                  .drop_path_rate = 0.1};
  return c;
}

static mae_train_opts tiny_train(void) {
  mae_train_opts o = mae_train_defaults();
  o.epochs = 4;
  o.batch = 8;
  o.micro_batch = 4;
  o.warmup_epochs = 1;
  o.seed = 11;
  return o;
}

static char *path_in(const char *name) {
  char *p = str_printf("%s/%s", g_dir, name);
  assert_non_null(p);
  return p;
}

/* A model trained for one epoch (so that moments, buffers and step are not at their initial values). */
static mae_model *trained_model(corpus **c) {
  mae_config cfg = tiny_config();
  rng_t r;
  rng_seed(&r, 3);
  mae_model *m = NULL;
  assert_int_equal(mae_init(&m, &cfg, &r), AD3D_OK);
  assert_int_equal(corpus_open("shapes:16", c), AD3D_OK);
  mae_train_opts o = tiny_train();
  assert_int_equal(mae_train_epoch(m, *c, &o, 0, NULL, NULL, NULL, NULL), AD3D_OK);
  return m;
}

static void expect_same_model(const mae_model *a, const mae_model *b) {
  const mae_config *x = &a->cfg, *y = &b->cfg;
  assert_true(x->npoints == y->npoints && x->ngroups == y->ngroups && x->group_size == y->group_size &&
              x->width == y->width && x->depth == y->depth && x->heads == y->heads &&
              x->decoder_depth == y->decoder_depth && x->decoder_heads == y->decoder_heads &&
              x->mlp_ratio == y->mlp_ratio && x->pe_dim1 == y->pe_dim1 && x->pe_dim2 == y->pe_dim2 &&
              x->pe_dim3 == y->pe_dim3 && x->pos_dim == y->pos_dim && x->mask_ratio == y->mask_ratio &&
              x->drop_path_rate == y->drop_path_rate);
  assert_int_equal(a->nparams, b->nparams);
  assert_int_equal(a->nbufs, b->nbufs);
  assert_int_equal(a->step, b->step);
  assert_memory_equal(a->params_mem, b->params_mem, a->nparams * sizeof(float));
  assert_memory_equal(a->m_mem, b->m_mem, a->nparams * sizeof(float));
  assert_memory_equal(a->v_mem, b->v_mem, a->nparams * sizeof(float));
  assert_memory_equal(a->bufs_mem, b->bufs_mem, a->nbufs * sizeof(float));
}

static char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)len + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  *n = (size_t)len;
  return buf;
}

static void sample_info(checkpoint_info *info) {
  memset(info, 0, sizeof *info);
  info->epoch = 2;
  info->train_config = strdup("batch = 8\ncorpus = \"shapes:16\"");
  assert_int_equal(checkpoint_info_push(info, 0.25, 1e-3, 1.5), AD3D_OK);
  assert_int_equal(checkpoint_info_push(info, 0.125, 5e-4, 2.25), AD3D_OK);
}

static void test_roundtrip_bytes(void **unused) {
  (void)unused;
  corpus *c = NULL;
  mae_model *m = trained_model(&c), *back = NULL, *again = NULL;
  checkpoint_info info, got;
  sample_info(&info);
  char *p1 = path_in("a.h5"), *p2 = path_in("b.h5");
  assert_int_equal(checkpoint_save(p1, m, &info), AD3D_OK);
  assert_int_equal(checkpoint_load(p1, &back, &got), AD3D_OK);
  expect_same_model(m, back);
  assert_int_equal(got.epoch, 2);
  assert_string_equal(got.train_config, info.train_config);
  assert_int_equal(got.nhistory, 2);
  for (int i = 0; i < 2; i++) {
    assert_true(got.loss[i] == info.loss[i] && got.lr[i] == info.lr[i] && got.seconds[i] == info.seconds[i]);
  }
  /* the loaded model written again: the same bytes */
  assert_int_equal(checkpoint_save(p2, back, &got), AD3D_OK);
  size_t n1, n2;
  char *b1 = slurp(p1, &n1), *b2 = slurp(p2, &n2);
  assert_int_equal(n1, n2);
  assert_memory_equal(b1, b2, n1);
  /* weights only (no info): epoch 0, empty history */
  checkpoint_info none;
  assert_int_equal(checkpoint_save(p2, m, NULL), AD3D_OK);
  assert_int_equal(checkpoint_load_model(p2, &again), AD3D_OK);
  expect_same_model(m, again);
  mae_free(again);
  assert_int_equal(checkpoint_load(p2, &again, &none), AD3D_OK);
  assert_int_equal(none.epoch, 0);
  assert_int_equal(none.nhistory, 0);
  assert_null(none.train_config);
  checkpoint_info_free(&none);
  checkpoint_info_free(NULL);
  free(b1);
  free(b2);
  free(p1);
  free(p2);
  checkpoint_info_free(&info);
  checkpoint_info_free(&got);
  mae_free(m);
  mae_free(back);
  mae_free(again);
  corpus_free(c);
}

static void write_raw(const char *path, const float *v, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(v, sizeof *v, n, f), n);
  fclose(f);
}

static void test_h5py_layout(void **unused) {
  (void)unused;
  corpus *c = NULL;
  mae_model *m = trained_model(&c);
  checkpoint_info info;
  sample_info(&info);
  char *ck = path_in("layout.h5"), *man = path_in("manifest.txt");
  assert_int_equal(checkpoint_save(ck, m, &info), AD3D_OK);
  const char *groups[4] = {"params", "adam_m", "adam_v", "buffers"};
  const float *blocks[4] = {m->params_mem, m->m_mem, m->v_mem, m->bufs_mem};
  char *raws[4];
  for (int g = 0; g < 4; g++) {
    char name[32];
    snprintf(name, sizeof name, "%s.f32", groups[g]);
    raws[g] = path_in(name);
    write_raw(raws[g], blocks[g], g == 3 ? m->nbufs : m->nparams);
  }
  FILE *f = fopen(man, "w");
  assert_non_null(f);
  fprintf(f, "groups config params adam_m adam_v buffers history\n");
  fprintf(f, "attr format_version %d\nattr step %lld\nattr epoch 2\nattr nparams %zu\n", CHECKPOINT_FORMAT_VERSION,
          (long long)m->step, m->nparams);
  fprintf(f, "attr train_config batch = 8\\ncorpus = \"shapes:16\"\n");
  const mae_config *cf = &m->cfg;
  fprintf(f, "config npoints %d\nconfig ngroups %d\nconfig group_size %d\nconfig width %d\nconfig depth %d\n",
          cf->npoints, cf->ngroups, cf->group_size, cf->width, cf->depth);
  fprintf(f, "config heads %d\nconfig decoder_depth %d\nconfig decoder_heads %d\nconfig mlp_ratio %d\n", cf->heads,
          cf->decoder_depth, cf->decoder_heads, cf->mlp_ratio);
  fprintf(f, "config pe_dim1 %d\nconfig pe_dim2 %d\nconfig pe_dim3 %d\nconfig pos_dim %d\n", cf->pe_dim1, cf->pe_dim2,
          cf->pe_dim3, cf->pos_dim);
  fprintf(f, "config mask_ratio %.17g\nconfig drop_path_rate %.17g\n", cf->mask_ratio, cf->drop_path_rate);
  for (int g = 0; g < 4; g++) {
    int n = g == 3 ? MAE_NUM_BUFFERS : MAE_NUM_PARAMS;
    for (int i = 0; i < n; i++) {
      const mae_tensor_info *t = g == 3 ? mae_buffer_info(m, i) : mae_param_info(m, i);
      fprintf(f, "tensor %s %s %s %zu", groups[g], t->name, raws[g], t->offset);
      for (int k = 0; k < t->ndim; k++)
        fprintf(f, " %lld", (long long)t->dims[k]);
      fprintf(f, "\n");
    }
  }
  fprintf(f, "history loss %.17g %.17g\nhistory lr %.17g %.17g\nhistory seconds %.17g %.17g\n", info.loss[0],
          info.loss[1], info.lr[0], info.lr[1], info.seconds[0], info.seconds[1]);
  fclose(f);
  char *cmd = str_printf("%s %s/read_checkpoint.py %s %s", PYTHON, STORE_TEST_DIR, ck, man);
  int rc = system(cmd);
  assert_int_equal(rc, 0);
  free(cmd);
  for (int g = 0; g < 4; g++)
    free(raws[g]);
  free(ck);
  free(man);
  checkpoint_info_free(&info);
  mae_free(m);
  corpus_free(c);
}

/* Epochs [from, to) of training; from a checkpoint after every epoch when `reload`. */
static mae_model *run_epochs(mae_model *m, const corpus *c, int from, int to, int reload, double *losses) {
  mae_train_opts o = tiny_train();
  char *p = path_in("resume.h5");
  for (int e = from; e < to; e++) {
    mae_train_progress res;
    assert_int_equal(mae_train_epoch(m, c, &o, e, NULL, NULL, NULL, &res), AD3D_OK);
    losses[e] = res.loss;
    if (reload) {
      checkpoint_info info = {.epoch = e + 1};
      assert_int_equal(checkpoint_save(p, m, &info), AD3D_OK);
      mae_free(m);
      m = NULL;
      assert_int_equal(checkpoint_load(p, &m, &info), AD3D_OK);
      assert_int_equal(info.epoch, e + 1);
      checkpoint_info_free(&info);
    }
  }
  free(p);
  return m;
}

static void test_resume_bit_identical(void **unused) {
  (void)unused;
  mae_config cfg = tiny_config();
  corpus *c = NULL;
  assert_int_equal(corpus_open("shapes:16", &c), AD3D_OK);
  mae_model *a = NULL, *b = NULL;
  rng_t r1, r2;
  rng_seed(&r1, 9);
  rng_seed(&r2, 9);
  assert_int_equal(mae_init(&a, &cfg, &r1), AD3D_OK);
  assert_int_equal(mae_init(&b, &cfg, &r2), AD3D_OK);
  double la[4], lb[4];
  a = run_epochs(a, c, 0, 4, 0, la);
  b = run_epochs(b, c, 0, 4, 1, lb);
  expect_same_model(a, b);
  assert_memory_equal(la, lb, sizeof la);
  assert_int_equal(a->step, 4 * 2);
  /* and the run did something: the loss fell */
  if (!(la[3] < la[0]))
    fail_msg("loss did not fall over 4 epochs: %g -> %g", la[0], la[3]);
  mae_free(a);
  mae_free(b);
  corpus_free(c);
}

static void run_python(const char *code, const char *path) {
  char *cmd = str_printf("%s -c \"import h5py; f = h5py.File('%s', 'r+'); %s\"", PYTHON, path, code);
  assert_int_equal(system(cmd), 0);
  free(cmd);
}

static void expect_load_error(const char *path, ad3d_status want, const char *part) {
  mae_model *m = (mae_model *)1;
  ad3d_status st = checkpoint_load(path, &m, NULL);
  if (st != want || !strstr(ad3d_errmsg(), part))
    fail_msg("%s: got %s \"%s\", expected %s containing \"%s\"", path, ad3d_status_name(st), ad3d_errmsg(),
             ad3d_status_name(want), part);
  assert_null(m);
}

static void test_errors(void **unused) {
  (void)unused;
  corpus *c = NULL;
  mae_model *m = trained_model(&c);
  char *missing = path_in("missing.h5"), *text = path_in("text.h5"), *p = path_in("bad.h5");
  expect_load_error(missing, AD3D_ENOTFOUND, "missing.h5");
  FILE *f = fopen(text, "w");
  fputs("not hdf5\n", f);
  fclose(f);
  expect_load_error(text, AD3D_EFORMAT, "not an HDF5 file");

  assert_int_equal(checkpoint_save(p, m, NULL), AD3D_OK);
  run_python("f.attrs['format'] = b'something-else'", p);
  expect_load_error(p, AD3D_EFORMAT, "not an ad3d checkpoint");

  assert_int_equal(checkpoint_save(p, m, NULL), AD3D_OK);
  run_python("f.attrs['format_version'] = 99", p);
  expect_load_error(p, AD3D_EFORMAT, "format version 99");

  assert_int_equal(checkpoint_save(p, m, NULL), AD3D_OK);
  run_python("del f['adam_v/enc_qkv_w']", p);
  expect_load_error(p, AD3D_EFORMAT, "adam_v");

  assert_int_equal(checkpoint_save(p, m, NULL), AD3D_OK);
  run_python("import numpy as np; del f['params/head_b']; f['params/head_b'] = np.zeros(7, 'f4')", p);
  expect_load_error(p, AD3D_EFORMAT, "params/head_b is 7");

  assert_int_equal(checkpoint_save(p, m, NULL), AD3D_OK);
  run_python("f['config'].attrs['heads'] = 3", p);
  expect_load_error(p, AD3D_EINVAL, "heads");

  /* a write that cannot finish: the target is a folder; nothing is left behind */
  char *folder = path_in("folder.h5");
  assert_int_equal(mkdir(folder, 0755), 0);
  ad3d_status st = checkpoint_save(folder, m, NULL);
  assert_int_equal(st, AD3D_EIO);
  assert_non_null(strstr(ad3d_errmsg(), "cannot rename"));
  char **names;
  int n;
  assert_int_equal(list_dir(g_dir, NULL, &names, &n), AD3D_OK);
  for (int i = 0; i < n; i++)
    if (strstr(names[i], ".tmp."))
      fail_msg("temporary file %s left behind", names[i]);
  strv_free(names, n);
  /* into a folder that does not exist */
  char *nodir = path_in("no/such/dir/x.h5");
  assert_int_not_equal(checkpoint_save(nodir, m, NULL), AD3D_OK);
  assert_non_null(strstr(ad3d_errmsg(), "x.h5"));
  free(nodir);
  free(folder);
  free(missing);
  free(text);
  free(p);
  mae_free(m);
  corpus_free(c);
}

static int setup(void **unused) {
  (void)unused;
  char tmpl[] = "/tmp/ad3d_ckpt_XXXXXX";
  if (!mkdtemp(tmpl))
    return -1;
  g_dir = strdup(tmpl);
  return 0;
}

static int teardown(void **unused) {
  (void)unused;
  remove_tree(g_dir);
  free(g_dir);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_bytes),
      cmocka_unit_test(test_h5py_layout),
      cmocka_unit_test(test_resume_bit_identical),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
