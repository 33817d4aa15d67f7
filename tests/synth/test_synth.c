/* test_synth.c - the dataset writer and the corpus.
 *
 * Oracles: the io layer's own dataset check (dataset_check: layout, naming, readable PCD and GT,
 * label counts) on both layouts' output; the files read back with pcd_read / gt_read / npy_read_cloud
 * (other people's readers) against samples regenerated alone; the manifest's rows against the files;
 * partial views against two plates whose visible parts are known in advance; counts and ranges.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "io/dataset.h"
#include "io/gt.h"
#include "io/npy.h"
#include "io/pcd.h"
#include "synth/synth.h"

static char dir[64];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/ad3d_test_synth.XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  return remove_tree(dir) == AD3D_OK ? 0 : -1;
}

static void set(opts_t *o, const char *key, const char *value) {
  for (int i = 0; synth_opt_specs[i].name; i++)
    if (!strcmp(synth_opt_specs[i].name, key)) {
      if (opts_set_text(o, "synth", &synth_opt_specs[i], value) != AD3D_OK)
        fail_msg("%s = %s: %s", key, value, ad3d_errmsg());
      return;
    }
  fail_msg("no option %s", key);
}

/* A tiny configuration: 2 templates, 1 normal and 1 anomalous test sample per defect type. */
static void tiny(opts_t *o, const char *layout, const char *classes) {
  memset(o, 0, sizeof *o);
  assert_int_equal(opts_set_defaults(o, "synth", synth_opt_specs), AD3D_OK);
  set(o, "layout", layout);
  set(o, "classes", classes);
  set(o, "train", "2");
  set(o, "positive", "1");
  set(o, "per_defect", "1");
  set(o, "points_min", "600");
  set(o, "points_max", "900");
  set(o, "template_points", "1200");
  set(o, "seed", "42");
}

static int check(const char *layout, const char *root) {
  char path[256];
  snprintf(path, sizeof path, "%s/check.txt", dir);
  FILE *f = fopen(path, "w");
  int np = -1;
  assert_int_equal(dataset_check(dataset_layout_find(layout), root, NULL, 0, f, &np), AD3D_OK);
  fclose(f);
  if (np) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "cat %s", path);
    system(cmd);
  }
  return np;
}

/* Read a manifest into rows of fields (at most 16 per row). */
static int manifest_rows(const char *root, char rows[][16][160], int max) {
  char path[256], line[2048];
  snprintf(path, sizeof path, "%s/manifest.csv", root);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  assert_non_null(fgets(line, sizeof line, f));
  assert_non_null(strstr(line, "class,split,file,defect,points,anomalous_points,coverage"));
  int n = 0;
  while (fgets(line, sizeof line, f) && n < max) {
    line[strcspn(line, "\n")] = '\0';
    int k = 0;
    for (char *p = line, *c; k < 16; p = c + 1) {
      c = strchr(p, ',');
      size_t l = c ? (size_t)(c - p) : strlen(p);
      snprintf(rows[n][k++], 160, "%.*s", (int)l, p);
      if (!c)
        break;
    }
    assert_int_equal(k, 14);
    n++;
  }
  fclose(f);
  return n;
}

static char rows[400][16][160];

static void test_shapenet_layout(void **state) {
  (void)state;
  opts_t o;
  synth_config c;
  tiny(&o, "anomaly_shapenet", "cup0,shelf0");
  assert_int_equal(synth_config_from_opts(&o, &c), AD3D_OK);
  char root[128];
  snprintf(root, sizeof root, "%s/asn", dir);
  if (synth_dataset_write(&c, &o, root, NULL, NULL) != AD3D_OK)
    fail_msg("synth_dataset_write: %s", ad3d_errmsg());
  assert_int_equal(check("anomaly_shapenet", root), 0);
  int n = manifest_rows(root, rows, 400);
  assert_int_equal(n, 2 * (2 + 1 + 7));
  for (int i = 0; i < n; i++) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rows[i][2]);
    cloud_t pc;
    assert_int_equal(pcd_read(path, &pc, NULL), AD3D_OK);
    assert_int_equal(pc.n, atoll(rows[i][4]));
    assert_true(pc.n >= 600 && pc.n <= 900);
    int anomalous = strcmp(rows[i][3], "good") != 0;
    if (anomalous) {
      double cov = atof(rows[i][6]);
      assert_true(cov >= 0.01 && cov <= 0.1);
      /* GT: the PCD's points in order, labels as counted in the manifest */
      const char *stem = strrchr(rows[i][2], '/') + 1;
      snprintf(path, sizeof path, "%s/%.100s/GT/%.*s.txt", root, rows[i][0], (int)(strlen(stem) - 4), stem);
      cloud_t g;
      uint8_t *lab;
      assert_int_equal(gt_read(path, &g, &lab), AD3D_OK);
      assert_int_equal(g.n, pc.n);
      int64_t nl = 0;
      for (int64_t j = 0; j < g.n; j++) {
        nl += lab[j];
        for (int a = 0; a < 3; a++)
          assert_true(fabs(g.xyz[3 * j + a] - pc.xyz[3 * j + a]) <= 1e-6 * (1 + fabs(pc.xyz[3 * j + a])));
      }
      assert_int_equal(nl, atoll(rows[i][5]));
      assert_true(nl > 0);
      cloud_free(&g);
      free(lab);
    }
    /* scale: diagonal 1 before a jitter of at most 0.005 */
    double lo[3] = {1e9, 1e9, 1e9}, hi[3] = {-1e9, -1e9, -1e9};
    for (int64_t j = 0; j < pc.n; j++)
      for (int a = 0; a < 3; a++) {
        lo[a] = fmin(lo[a], pc.xyz[3 * j + a]);
        hi[a] = fmax(hi[a], pc.xyz[3 * j + a]);
      }
    double d = sqrt((hi[0] - lo[0]) * (hi[0] - lo[0]) + (hi[1] - lo[1]) * (hi[1] - lo[1]) +
                    (hi[2] - lo[2]) * (hi[2] - lo[2]));
    assert_true(d > 0.8 && d < 1.1);
    cloud_free(&pc);
  }
  /* any sample regenerated alone equals its file bit for bit */
  synth_class k;
  assert_int_equal(synth_class_open(&c, "cup0", NULL, &k), AD3D_OK);
  static const struct {
    int split;
    carve_kind kind;
    const char *stem, *file;
  } redo[] = {{0, CARVE_BULGE, "cup0_template1", "cup0/train/cup0_template1.pcd"},
              {2, CARVE_CRACK, "cup0_crack0", "cup0/test/cup0_crack0.pcd"},
              {2, CARVE_BENDING, "cup0_bending0", "cup0/test/cup0_bending0.pcd"}};
  for (size_t i = 0; i < sizeof redo / sizeof redo[0]; i++) {
    sample_t s;
    synth_sample_info info;
    assert_int_equal(synth_sample_make(&c, &k, redo[i].split, redo[i].kind, redo[i].stem, &s, &info), AD3D_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, redo[i].file);
    cloud_t pc;
    assert_int_equal(pcd_read(path, &pc, NULL), AD3D_OK);
    assert_int_equal(pc.n, s.cloud.n);
    assert_memory_equal(pc.xyz, s.cloud.xyz, (size_t)pc.n * 3 * sizeof(float));
    assert_int_equal(s.anomalous, redo[i].split == 2);
    assert_true(redo[i].split == 0 ? s.labels == NULL : s.labels != NULL);
    if (redo[i].split == 2)
      assert_int_equal(info.kind, redo[i].kind);
    cloud_free(&pc);
    sample_free(&s);
  }
  synth_class_close(&k);
  /* the folder is not empty any more */
  assert_int_equal(synth_dataset_write(&c, &o, root, NULL, NULL), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "not empty"));
  /* synth.cfg holds the options */
  char path[256], text[4096];
  snprintf(path, sizeof path, "%s/synth.cfg", root);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  size_t got = fread(text, 1, sizeof text - 1, f);
  text[got] = '\0';
  fclose(f);
  assert_non_null(strstr(text, "classes = [\"cup0\", \"shelf0\"];"));
  assert_non_null(strstr(text, "seed = 42;"));
  synth_config_free(&c);
  opts_free(&o);
}

static void test_real3d_layout(void **state) {
  (void)state;
  opts_t o;
  synth_config c;
  tiny(&o, "real3d_ad", "vase2");
  set(&o, "previews", "true");
  assert_int_equal(synth_config_from_opts(&o, &c), AD3D_OK);
  assert_true(c.size == 60.0);
  char root[128];
  snprintf(root, sizeof root, "%s/r3d", dir);
  if (synth_dataset_write(&c, &o, root, NULL, NULL) != AD3D_OK)
    fail_msg("synth_dataset_write: %s", ad3d_errmsg());
  assert_int_equal(check("real3d_ad", root), 0);
  int n = manifest_rows(root, rows, 400);
  assert_int_equal(n, 2 + 1 + 7);
  int sinks = 0;
  for (int i = 0; i < n; i++) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rows[i][2]);
    cloud_t pc;
    assert_int_equal(pcd_read(path, &pc, NULL), AD3D_OK);
    double mean[3] = {0, 0, 0}, far = 0;
    for (int64_t j = 0; j < pc.n; j++)
      for (int a = 0; a < 3; a++)
        mean[a] += pc.xyz[3 * j + a] / (double)pc.n;
    for (int64_t j = 0; j < pc.n; j++)
      far = fmax(far, sqrt(pc.xyz[3 * j] * pc.xyz[3 * j] + pc.xyz[3 * j + 1] * pc.xyz[3 * j + 1] +
                           pc.xyz[3 * j + 2] * pc.xyz[3 * j + 2]));
    for (int a = 0; a < 3; a++)
      assert_true(fabs(mean[a]) < 1e-3); /* centred, millimetres */
    assert_true(far > 10 && far < 60);
    if (!strcmp(rows[i][1], "train")) {
      assert_int_equal(pc.n, 1200);
      assert_non_null(strstr(rows[i][2], "_template.pcd"));
    }
    if (!strcmp(rows[i][3], "sink")) {
      sinks++;
      const char *stem = strrchr(rows[i][2], '/') + 1;
      snprintf(path, sizeof path, "%s/vase2/gt/%.*s.txt", root, (int)(strlen(stem) - 4), stem);
      FILE *f = fopen(path, "r");
      char line[256];
      assert_non_null(f);
      assert_non_null(fgets(line, sizeof line, f));
      assert_null(strchr(line, ',')); /* space-separated */
      fclose(f);
    }
    cloud_free(&pc);
  }
  assert_int_equal(sinks, 1);
  char png[256];
  snprintf(png, sizeof png, "%s/vase2/previews/crack.png", root);
  assert_true(is_file(png));
  synth_config_free(&c);
  opts_free(&o);
}

/* A folder of meshes: one class per file. */
static void test_mesh_folder(void **state) {
  (void)state;
  char meshes[128], cmd[2048], root[128];
  snprintf(meshes, sizeof meshes, "%s/meshes", dir);
  const char *fx = getenv("AD3D_FIXTURES") ? getenv("AD3D_FIXTURES") : AD3D_FIXTURES;
  snprintf(cmd, sizeof cmd, "mkdir -p %s && cp %s/synth/torus_le.ply %s/Torus-Mesh.ply && cp %s/synth/box.stl %s/ && "
           "echo 'not a mesh' > %s/README.txt", meshes, fx, meshes, fx, meshes, meshes);
  assert_int_equal(system(cmd), 0);
  opts_t o;
  synth_config c;
  tiny(&o, "anomaly_shapenet", "");
  set(&o, "meshes", meshes);
  set(&o, "defects", "bulge,hole,broken,crack");
  assert_int_equal(synth_config_from_opts(&o, &c), AD3D_OK);
  snprintf(root, sizeof root, "%s/from_meshes", dir);
  if (synth_dataset_write(&c, &o, root, NULL, NULL) != AD3D_OK)
    fail_msg("synth_dataset_write: %s", ad3d_errmsg());
  assert_int_equal(check("anomaly_shapenet", root), 0);
  char path[256];
  snprintf(path, sizeof path, "%s/torus_mesh/test/torus_mesh_hole0.pcd", root);
  assert_true(is_file(path));
  snprintf(path, sizeof path, "%s/box/GT/box_broken0.txt", root);
  assert_true(is_file(path));
  int n = manifest_rows(root, rows, 400);
  assert_int_equal(n, 2 * (2 + 1 + 4));
  for (int i = 0; i < n; i++) /* the source column names the file */
    assert_true(str_ends_with(rows[i][13], strcmp(rows[i][0], "box") ? "/Torus-Mesh.ply" : "/box.stl"));
  synth_config_free(&c);
  /* a malformed mesh stops the dataset with its name */
  snprintf(cmd, sizeof cmd, "cp %s/synth/bad_index.off %s/", fx, meshes);
  assert_int_equal(system(cmd), 0);
  set(&o, "classes", "bad_index");
  assert_int_equal(synth_config_from_opts(&o, &c), AD3D_OK);
  snprintf(root, sizeof root, "%s/bad", dir);
  assert_int_equal(synth_dataset_write(&c, &o, root, NULL, NULL), AD3D_EFORMAT);
  assert_non_null(strstr(ad3d_errmsg(), "bad_index.off:6:"));
  synth_config_free(&c);
  opts_free(&o);
}

static void test_bad_options(void **state) {
  (void)state;
  opts_t o;
  synth_config c;
  tiny(&o, "anomaly_shapenet", "cup0");
  set(&o, "layout", "mvtec");
  assert_int_equal(synth_config_from_opts(&o, &c), AD3D_EINVAL);
  set(&o, "layout", "anomaly_shapenet");
  set(&o, "defects", "bulge,dent");
  assert_int_equal(synth_config_from_opts(&o, &c), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "dent"));
  set(&o, "defects", "bulge,bulge");
  assert_int_equal(synth_config_from_opts(&o, &c), AD3D_EINVAL);
  set(&o, "defects", "crak");
  set(&o, "points_min", "2000");
  assert_int_equal(synth_config_from_opts(&o, &c), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "points_min"));
  set(&o, "points_min", "600");
  set(&o, "classes", "cup0,teapot7");
  assert_int_equal(synth_config_from_opts(&o, &c), AD3D_OK);
  char root[128];
  snprintf(root, sizeof root, "%s/never", dir);
  assert_int_equal(synth_dataset_write(&c, &o, root, NULL, NULL), AD3D_ENOTFOUND);
  assert_non_null(strstr(ad3d_errmsg(), "teapot7"));
  assert_false(is_dir(root));
  synth_config_free(&c);
  opts_free(&o);
}

/* Two plates facing +z: the front one [-0.25, 0.25]^2 at z = 0.2 hides the middle of the back one
 * [-0.5, 0.5]^2 at z = 0 from a view along +z; a plate facing -z is never visible. */
static void test_partial_view(void **state) {
  (void)state;
  mesh_t m = {0};
  const double s[2] = {0.5, 0.25}, z[2] = {0.0, 0.2};
  for (int p = 0; p < 2; p++) {
    for (int i = 0; i < 4; i++)
      assert_int_equal(mesh_push_vertex(&m, (i & 1 ? s[p] : -s[p]), (i & 2 ? s[p] : -s[p]), z[p]), AD3D_OK);
    assert_int_equal(mesh_push_face(&m, 4 * p, 4 * p + 1, 4 * p + 3), AD3D_OK);
    assert_int_equal(mesh_push_face(&m, 4 * p, 4 * p + 3, 4 * p + 2), AD3D_OK);
  }
  enum { N = 20000 };
  double *xyz = malloc(N * 3 * sizeof *xyz);
  const double view[3] = {0, 0, 1};
  rng_t r;
  rng_seed(&r, 6);
  assert_int_equal(synth_visible_sample(&m, N, view, &r, xyz), AD3D_OK);
  int64_t front = 0;
  for (int i = 0; i < N; i++) {
    const double *p = xyz + 3 * i;
    if (p[2] > 0.1)
      front++;
    else
      assert_true(fabs(p[0]) > 0.25 || fabs(p[1]) > 0.25); /* hidden behind the front plate */
  }
  /* visible areas: front 0.25, back 1 - 0.25 */
  double pf = 0.25;
  assert_true(fabs((double)front / N - pf) < 4 * sqrt(pf * (1 - pf) / N));
  const double away[3] = {0, 0, -1};
  assert_int_equal(synth_visible_sample(&m, 10, away, &r, xyz), AD3D_EINVAL);
  free(xyz);
  mesh_free(&m);
}

static void test_corpus(void **state) {
  (void)state;
  char root[128];
  snprintf(root, sizeof root, "%s/corpus", dir);
  assert_int_equal(synth_corpus_write(root, 5, 12, 300), AD3D_OK);
  char path[512], name[128];
  snprintf(path, sizeof path, "%s/train.txt", root);
  FILE *tr = fopen(path, "r");
  snprintf(path, sizeof path, "%s/test.txt", root);
  FILE *te = fopen(path, "r");
  assert_non_null(tr);
  assert_non_null(te);
  int ntrain = 0, ntest = 0;
  synth_corpus s;
  synth_corpus_init(&s, 5, 300);
  for (int i = 0; i < 12; i++) {
    FILE *f = i % 10 == 9 ? te : tr;
    assert_int_equal(fscanf(f, "%127s", name), 1);
    if (i % 10 == 9)
      ntest++;
    else
      ntrain++;
    snprintf(path, sizeof path, "%s/shapenet_pc/%s", root, name);
    cloud_t c, d;
    const char *fam;
    assert_int_equal(npy_read_cloud(path, &c), AD3D_OK);
    assert_int_equal(synth_corpus_next(&s, &d, &fam), AD3D_OK);
    assert_true(!strncmp(name, fam, strlen(fam)) && name[strlen(fam)] == '-');
    assert_int_equal(c.n, 300);
    assert_memory_equal(c.xyz, d.xyz, 300 * 3 * sizeof(float));
    double mean[3] = {0, 0, 0}, far = 0;
    for (int64_t j = 0; j < c.n; j++) {
      double r2 = 0;
      for (int a = 0; a < 3; a++) {
        mean[a] += c.xyz[3 * j + a] / 300.0;
        r2 += (double)c.xyz[3 * j + a] * c.xyz[3 * j + a];
      }
      far = fmax(far, sqrt(r2));
    }
    assert_true(fabs(far - 1.0) < 1e-5);
    for (int a = 0; a < 3; a++)
      assert_true(fabs(mean[a]) < 1e-5);
    cloud_free(&c);
    cloud_free(&d);
  }
  assert_int_equal(fscanf(tr, "%127s", name), EOF);
  assert_int_equal(fscanf(te, "%127s", name), EOF);
  fclose(tr);
  fclose(te);
  assert_int_equal(ntrain, 11);
  assert_int_equal(ntest, 1);
  assert_int_equal(synth_corpus_write(root, 5, 0, 300), AD3D_EINVAL);
}

/* Noise and jitter act after the points are drawn (their own streams): with noise alone, a sample
 * differs from the noise-free one by Gaussian steps of sd noise * size; with a rotation alone,
 * by a rotation about the origin of at most jitter_deg. */
static void test_noise_jitter(void **state) {
  (void)state;
  opts_t o;
  synth_config c;
  tiny(&o, "anomaly_shapenet", "bottle1");
  set(&o, "jitter_deg", "0");
  set(&o, "jitter_shift", "0");
  set(&o, "size", "2");
  assert_int_equal(synth_config_from_opts(&o, &c), AD3D_OK);
  synth_class k;
  assert_int_equal(synth_class_open(&c, "bottle1", NULL, &k), AD3D_OK);
  sample_t clean, noisy, turned;
  assert_int_equal(synth_sample_make(&c, &k, 1, CARVE_BULGE, "bottle1_positive7", &clean, NULL), AD3D_OK);
  c.noise = 0.01;
  assert_int_equal(synth_sample_make(&c, &k, 1, CARVE_BULGE, "bottle1_positive7", &noisy, NULL), AD3D_OK);
  c.noise = 0;
  c.jitter_deg = 10;
  assert_int_equal(synth_sample_make(&c, &k, 1, CARVE_BULGE, "bottle1_positive7", &turned, NULL), AD3D_OK);
  assert_int_equal(clean.cloud.n, noisy.cloud.n);
  int64_t n = 3 * clean.cloud.n;
  double s1 = 0, s2 = 0, maxang = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = (double)noisy.cloud.xyz[i] - clean.cloud.xyz[i];
    s1 += d;
    s2 += d * d;
  }
  double mean = s1 / n, sd = sqrt(s2 / n - mean * mean);
  assert_true(fabs(mean) < 4 * 0.02 / sqrt((double)n));
  assert_true(fabs(sd - 0.02) < 0.002); /* noise * size */
  for (int64_t i = 0; i < clean.cloud.n; i++) {
    const float *p = clean.cloud.xyz + 3 * i, *q = turned.cloud.xyz + 3 * i;
    double lp = sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]), lq = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2]);
    assert_true(fabs(lp - lq) < 1e-5); /* a rotation about the origin, no shift */
    if (lp < 0.3)
      continue;
    double cosang = (p[0] * q[0] + p[1] * q[1] + p[2] * q[2]) / (lp * lq);
    double ang = acos(cosang > 1 ? 1 : cosang) * 180 / M_PI;
    maxang = fmax(maxang, ang);
  }
  assert_true(maxang <= 10.0 + 1e-3);
  assert_true(maxang > 0.01); /* it did turn */
  sample_free(&clean);
  sample_free(&noisy);
  sample_free(&turned);
  synth_class_close(&k);
  synth_config_free(&c);
  opts_free(&o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shapenet_layout), cmocka_unit_test(test_real3d_layout),
      cmocka_unit_test(test_mesh_folder),     cmocka_unit_test(test_bad_options),
      cmocka_unit_test(test_partial_view),    cmocka_unit_test(test_corpus),
      cmocka_unit_test(test_noise_jitter),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
