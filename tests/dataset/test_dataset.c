/* test_dataset.c - the anomaly_shapenet and real3d_ad layouts and dataset_check, on tiny fake
 * datasets written into a scratch folder with pcd_write / gt_write (and a few hand-written files).
 *
 * The oracles are the files the test itself wrote: which points and labels went into which PCD and
 * GT file, the naming rules of DESIGN.md section 3, and counts/medians computed here by hand.
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
#include "io/pcd.h"

static char scratch_root[256];

/* ------------------------------------------------------------------ fixture writing */

/* The points of fake file `id`: point i = (id + i, 2 i, -0.5 i), exact in float and in text. */
static void fake_points(cloud_t *c, int id, int64_t n) {
  assert_int_equal(cloud_alloc(c, n), AD3D_OK);
  for (int64_t i = 0; i < n; i++) {
    c->xyz[3 * i] = (float)(id + i);
    c->xyz[3 * i + 1] = (float)(2 * i);
    c->xyz[3 * i + 2] = (float)(-0.5 * (double)i);
  }
}

static char *path_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *path_of(const char *fmt, ...) {
  static char buf[4][1024];
  static int k;
  char rel[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(rel, sizeof rel, fmt, ap);
  va_end(ap);
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", scratch_root, rel);
  return buf[k];
}

static void make_dir(const char *rel) { assert_int_equal(mkdir_p(path_of("%s", rel)), AD3D_OK); }

static void write_pcd(const char *rel, int id, int64_t n) {
  cloud_t c;
  fake_points(&c, id, n);
  assert_int_equal(pcd_write(path_of("%s", rel), &c, PCD_BINARY), AD3D_OK);
  cloud_free(&c);
}

/* GT with points of `id` and label 1 on every `every`-th point (0: none). */
static void write_gt(const char *rel, int id, int64_t n, int every, char delim) {
  cloud_t c;
  fake_points(&c, id, n);
  uint8_t *lab = calloc((size_t)n, 1);
  for (int64_t i = 0; every > 0 && i < n; i += every)
    lab[i] = 1;
  assert_int_equal(gt_write(path_of("%s", rel), &c, lab, delim), AD3D_OK);
  cloud_free(&c);
  free(lab);
}

static void write_text(const char *rel, const char *text) {
  FILE *f = fopen(path_of("%s", rel), "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* Anomaly-ShapeNet, class bottle0 (valid). Files and their ids/sizes:
 *   train  template0 (1, 5)  template1 (2, 6)  template2 (3, 7)  template10 (4, 8)
 *   test   positive0 (10, 9)  positive11 (11, 10)
 *          bulge0   pcd (20, 11)  GT (120, 12, every 3rd anomalous -> 4)
 *          crak1    pcd (21, 5)   GT (121, 5, every 2nd -> 3)
 *          hole2    pcd (22, 6)   GT (122, 6, every 1st -> 6)
 *          weird3   pcd (23, 4)   GT (123, 4, every 4th -> 1)
 *   GT/bottle0_positive0.txt exists (ignored: normal samples come from the PCD).
 */
static void make_shapenet_bottle(const char *ds) {
  char rel[256];
  const char *sub[] = {"train", "test", "GT"};
  for (int i = 0; i < 3; i++) {
    snprintf(rel, sizeof rel, "%s/bottle0/%s", ds, sub[i]);
    make_dir(rel);
  }
  const char *t[] = {"template0", "template1", "template2", "template10"};
  for (int i = 0; i < 4; i++) {
    snprintf(rel, sizeof rel, "%s/bottle0/train/bottle0_%s.pcd", ds, t[i]);
    write_pcd(rel, 1 + i, 5 + i);
  }
  snprintf(rel, sizeof rel, "%s/bottle0/test/bottle0_positive0.pcd", ds);
  write_pcd(rel, 10, 9);
  snprintf(rel, sizeof rel, "%s/bottle0/test/bottle0_positive11.pcd", ds);
  write_pcd(rel, 11, 10);
  const char *a[] = {"bulge0", "crak1", "hole2", "weird3"};
  int np[] = {11, 5, 6, 4}, ng[] = {12, 5, 6, 4}, every[] = {3, 2, 1, 4};
  for (int i = 0; i < 4; i++) {
    snprintf(rel, sizeof rel, "%s/bottle0/test/bottle0_%s.pcd", ds, a[i]);
    write_pcd(rel, 20 + i, np[i]);
    snprintf(rel, sizeof rel, "%s/bottle0/GT/bottle0_%s.txt", ds, a[i]);
    write_gt(rel, 120 + i, ng[i], every[i], ',');
  }
  snprintf(rel, sizeof rel, "%s/bottle0/GT/bottle0_positive0.txt", ds);
  write_gt(rel, 99, 9, 1, ',');
}

/* Real3D-AD, class duck:
 *   train  1_template (1, 6)  2_template (2, 8)
 *   test   3_good (3, 5) no gt; 4_good (4, 5) gt (104, 7, every 3rd -> 3); 5_bulge (5, 6) gt (105, 6, 2);
 *          6_sink_cut (6, 4) gt (106, 4, 1); 7_hybrid_copy (7, 5) gt (107, 5, 5); 8_bulges (8, 3) gt (108, 3, 3);
 *          10_good (10, 9) no gt
 */
static void make_real3d_duck(const char *ds) {
  char rel[256];
  const char *sub[] = {"train", "test", "gt"};
  for (int i = 0; i < 3; i++) {
    snprintf(rel, sizeof rel, "%s/duck/%s", ds, sub[i]);
    make_dir(rel);
  }
  snprintf(rel, sizeof rel, "%s/duck/train/1_template.pcd", ds);
  write_pcd(rel, 1, 6);
  snprintf(rel, sizeof rel, "%s/duck/train/2_template.pcd", ds);
  write_pcd(rel, 2, 8);
  const char *stems[] = {"3_good", "4_good", "5_bulge", "6_sink_cut", "7_hybrid_copy", "8_bulges", "10_good"};
  int ids[] = {3, 4, 5, 6, 7, 8, 10}, np[] = {5, 5, 6, 4, 5, 3, 9};
  int ng[] = {0, 7, 6, 4, 5, 3, 0}, every[] = {0, 3, 2, 1, 5, 3, 0};
  for (int i = 0; i < 7; i++) {
    snprintf(rel, sizeof rel, "%s/duck/test/%s.pcd", ds, stems[i]);
    write_pcd(rel, ids[i], np[i]);
    if (ng[i]) {
      snprintf(rel, sizeof rel, "%s/duck/gt/%s.txt", ds, stems[i]);
      write_gt(rel, 100 + ids[i], ng[i], every[i], ' ');
    }
  }
}

static int setup(void **state) {
  (void)state;
  snprintf(scratch_root, sizeof scratch_root, "/tmp/ad3d_test_dataset.XXXXXX");
  if (!mkdtemp(scratch_root))
    return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return remove_tree(scratch_root) == AD3D_OK ? 0 : -1;
}

static const sample_entry *entry_named(const class_index *ci, const char *name) {
  for (int i = 0; i < ci->ntest; i++)
    if (!strcmp(ci->test[i].name, name))
      return &ci->test[i];
  for (int i = 0; i < ci->ntrain; i++)
    if (!strcmp(ci->train[i].name, name))
      return &ci->train[i];
  fail_msg("no sample named %s", name);
  return NULL;
}

static const sample_t *sample_named(const class_data_t *d, const char *name) {
  for (int i = 0; i < d->ntest; i++)
    if (!strcmp(d->test[i].name, name))
      return &d->test[i];
  for (int i = 0; i < d->ntrain; i++)
    if (!strcmp(d->train[i].name, name))
      return &d->train[i];
  fail_msg("no sample named %s", name);
  return NULL;
}

/* Assert c holds the points of fake id `id`, n of them, shifted by -mean (when centred). */
static void assert_fake_points(const cloud_t *c, int id, int64_t n, int centred) {
  assert_int_equal(c->n, n);
  double m[3] = {0, 0, 0};
  if (centred) {
    for (int64_t i = 0; i < n; i++) {
      m[0] += id + i;
      m[1] += 2.0 * i;
      m[2] += -0.5 * i;
    }
    for (int a = 0; a < 3; a++)
      m[a] /= (double)n;
  }
  for (int64_t i = 0; i < n; i++) {
    double want[3] = {id + i - m[0], 2.0 * i - m[1], -0.5 * i - m[2]};
    for (int a = 0; a < 3; a++)
      assert_true(fabs(c->xyz[3 * i + a] - want[a]) < 1e-4 * (1 + fabs(want[a])));
  }
}

static int64_t label_sum(const sample_t *s) {
  int64_t k = 0;
  for (int64_t i = 0; i < s->cloud.n; i++) {
    assert_true(s->labels[i] <= 1);
    k += s->labels[i];
  }
  return k;
}

/* ------------------------------------------------------------------ tests */

static void test_layout_registry(void **state) {
  (void)state;
  int n = 0;
  while (dataset_layouts[n])
    n++;
  assert_int_equal(n, 2);
  assert_ptr_equal(dataset_layout_find("anomaly_shapenet"), dataset_layouts[0]);
  assert_ptr_equal(dataset_layout_find("real3d_ad"), dataset_layouts[1]);
  assert_null(dataset_layout_find("shapenet"));
  assert_non_null(dataset_layouts[0]->help);
}

static void test_shapenet_scan(void **state) {
  (void)state;
  make_shapenet_bottle("as1");
  const dataset_layout *L = dataset_layout_find("anomaly_shapenet");
  class_index ci;
  assert_int_equal(L->scan_class(path_of("as1"), "bottle0", &ci), AD3D_OK);
  assert_string_equal(ci.cls, "bottle0");
  assert_int_equal(ci.ntrain, 4);
  /* natural order: template10 after template2 */
  const char *train[] = {"bottle0_template0", "bottle0_template1", "bottle0_template2", "bottle0_template10"};
  for (int i = 0; i < 4; i++) {
    assert_string_equal(ci.train[i].name, train[i]);
    assert_int_equal(ci.train[i].anomalous, 0);
    assert_null(ci.train[i].gt_path);
    assert_true(ci.train[i].bytes > 0);
  }
  assert_int_equal(ci.ntest, 6);
  const char *test[] = {"bottle0_bulge0", "bottle0_crak1", "bottle0_hole2", "bottle0_positive0",
                        "bottle0_positive11", "bottle0_weird3"};
  const char *defect[] = {"bulge", "crack", "hole", "good", "good", "weird"};
  for (int i = 0; i < 6; i++) {
    const sample_entry *e = &ci.test[i];
    assert_string_equal(e->name, test[i]);
    assert_string_equal(e->defect, defect[i]);
    int normal = !strcmp(defect[i], "good");
    assert_int_equal(e->anomalous, !normal);
    assert_string_equal(e->cloud_path, path_of("as1/bottle0/test/%s.pcd", test[i]));
    if (normal)
      assert_null(e->gt_path); /* even though GT/bottle0_positive0.txt exists */
    else
      assert_string_equal(e->gt_path, path_of("as1/bottle0/GT/%s.txt", test[i]));
  }
  class_index_free(&ci);
  class_index_free(&ci); /* idempotent on a zeroed index */
}

static void test_shapenet_load(void **state) {
  (void)state;
  make_shapenet_bottle("as2");
  const dataset_layout *L = dataset_layout_find("anomaly_shapenet");
  class_data_t d;
  assert_int_equal(dataset_load_class(L, path_of("as2"), "bottle0", &d), AD3D_OK);
  assert_string_equal(d.cls, "bottle0");
  assert_int_equal(d.ntrain, 4);
  assert_int_equal(d.ntest, 6);
  for (int i = 0; i < 4; i++) {
    assert_null(d.train[i].labels);
    assert_int_equal(d.train[i].anomalous, 0);
    assert_string_equal(d.train[i].defect, "good");
  }
  assert_fake_points(&sample_named(&d, "bottle0_template10")->cloud, 4, 8, 0);
  /* normal test samples: points from the PCD, labels all zero */
  const sample_t *p0 = sample_named(&d, "bottle0_positive0");
  assert_fake_points(&p0->cloud, 10, 9, 0);
  assert_non_null(p0->labels);
  assert_int_equal(label_sum(p0), 0);
  assert_int_equal(p0->anomalous, 0);
  /* anomalous: points AND labels from GT (GT has 12 rows where the PCD has 11 points) */
  const sample_t *b = sample_named(&d, "bottle0_bulge0");
  assert_fake_points(&b->cloud, 120, 12, 0);
  assert_int_equal(b->anomalous, 1);
  assert_string_equal(b->defect, "bulge");
  assert_int_equal(label_sum(b), 4);
  assert_int_equal(b->labels[0], 1);
  assert_int_equal(b->labels[1], 0);
  assert_int_equal(b->labels[3], 1);
  const sample_t *c = sample_named(&d, "bottle0_crak1");
  assert_string_equal(c->defect, "crack");
  assert_fake_points(&c->cloud, 121, 5, 0);
  assert_int_equal(label_sum(c), 3);
  assert_int_equal(label_sum(sample_named(&d, "bottle0_hole2")), 6);
  assert_int_equal(label_sum(sample_named(&d, "bottle0_weird3")), 1);
  class_data_free(&d);
  class_data_free(&d);
}

static void test_shapenet_missing_gt(void **state) {
  (void)state;
  make_shapenet_bottle("as3");
  assert_int_equal(unlink(path_of("as3/bottle0/GT/bottle0_hole2.txt")), 0);
  const dataset_layout *L = dataset_layout_find("anomaly_shapenet");
  class_index ci;
  assert_int_equal(L->scan_class(path_of("as3"), "bottle0", &ci), AD3D_OK); /* scanning still works */
  const sample_entry *e = entry_named(&ci, "bottle0_hole2");
  assert_int_equal(e->anomalous, 1);
  assert_null(e->gt_path);
  sample_t s;
  assert_int_equal(L->load_sample(e, 1, &s), AD3D_ENOTFOUND);
  assert_non_null(strstr(ad3d_errmsg(), path_of("as3/bottle0/test/bottle0_hole2.pcd")));
  assert_non_null(strstr(ad3d_errmsg(), path_of("as3/bottle0/GT/bottle0_hole2.txt")));
  assert_null(s.name);
  assert_null(s.cloud.xyz);
  class_index_free(&ci);
  class_data_t d;
  assert_int_equal(dataset_load_class(L, path_of("as3"), "bottle0", &d), AD3D_ENOTFOUND);
  assert_non_null(strstr(ad3d_errmsg(), "bottle0_hole2"));
  assert_int_equal(d.ntrain, 0);
  assert_null(d.test);
}

static void test_real3d_scan(void **state) {
  (void)state;
  make_real3d_duck("r1");
  const dataset_layout *L = dataset_layout_find("real3d_ad");
  class_index ci;
  assert_int_equal(L->scan_class(path_of("r1"), "duck", &ci), AD3D_OK);
  assert_int_equal(ci.ntrain, 2);
  assert_string_equal(ci.train[0].name, "1_template");
  assert_string_equal(ci.train[1].name, "2_template");
  assert_int_equal(ci.ntest, 7);
  const char *names[] = {"3_good", "4_good", "5_bulge", "6_sink_cut", "7_hybrid_copy", "8_bulges", "10_good"};
  const char *defects[] = {"good", "good", "bulge", "sink", "hybrid", "bulges", "good"};
  const int has_gt[] = {0, 0, 1, 1, 1, 1, 0}; /* a good sample's gt file is ignored */
  for (int i = 0; i < 7; i++) {
    assert_string_equal(ci.test[i].name, names[i]);
    assert_string_equal(ci.test[i].defect, defects[i]);
    assert_int_equal(ci.test[i].anomalous, strcmp(defects[i], "good") != 0);
    if (has_gt[i])
      assert_string_equal(ci.test[i].gt_path, path_of("r1/duck/gt/%s.txt", names[i]));
    else
      assert_null(ci.test[i].gt_path);
  }
  class_index_free(&ci);
}

static void test_real3d_load_centred(void **state) {
  (void)state;
  make_real3d_duck("r2");
  const dataset_layout *L = dataset_layout_find("real3d_ad");
  class_data_t d;
  assert_int_equal(dataset_load_class(L, path_of("r2"), "duck", &d), AD3D_OK);
  assert_fake_points(&sample_named(&d, "1_template")->cloud, 1, 6, 1);
  assert_fake_points(&sample_named(&d, "2_template")->cloud, 2, 8, 1);
  assert_null(sample_named(&d, "2_template")->labels);
  const sample_t *g3 = sample_named(&d, "3_good");
  assert_fake_points(&g3->cloud, 3, 5, 1);
  assert_int_equal(label_sum(g3), 0);
  /* a good sample with a gt file: as the reference loader, points from the PCD, labels all zero */
  const sample_t *g4 = sample_named(&d, "4_good");
  assert_fake_points(&g4->cloud, 4, 5, 1);
  assert_int_equal(g4->anomalous, 0);
  assert_int_equal(label_sum(g4), 0);
  const sample_t *b = sample_named(&d, "5_bulge");
  assert_fake_points(&b->cloud, 105, 6, 1);
  assert_int_equal(label_sum(b), 3);
  assert_int_equal(b->anomalous, 1);
  assert_fake_points(&sample_named(&d, "6_sink_cut")->cloud, 106, 4, 1);
  assert_int_equal(label_sum(sample_named(&d, "6_sink_cut")), 4);
  assert_int_equal(label_sum(sample_named(&d, "7_hybrid_copy")), 1);
  assert_fake_points(&sample_named(&d, "10_good")->cloud, 10, 9, 1);
  /* every cloud has mean zero */
  for (int s = 0; s < d.ntrain + d.ntest; s++) {
    const cloud_t *c = s < d.ntrain ? &d.train[s].cloud : &d.test[s - d.ntrain].cloud;
    for (int a = 0; a < 3; a++) {
      double m = 0;
      for (int64_t i = 0; i < c->n; i++)
        m += c->xyz[3 * i + a];
      assert_true(fabs(m / (double)c->n) < 1e-5);
    }
  }
  class_data_free(&d);
  /* an anomalous sample without gt fails at load, naming both files */
  make_dir("r2/duck2/train");
  make_dir("r2/duck2/test");
  write_pcd("r2/duck2/train/1_template.pcd", 1, 4);
  write_pcd("r2/duck2/test/9_sinks.pcd", 9, 4);
  assert_int_equal(dataset_load_class(L, path_of("r2"), "duck2", &d), AD3D_ENOTFOUND);
  assert_non_null(strstr(ad3d_errmsg(), path_of("r2/duck2/test/9_sinks.pcd")));
  assert_non_null(strstr(ad3d_errmsg(), path_of("r2/duck2/gt/9_sinks.txt")));
}

static void test_missing_folders(void **state) {
  (void)state;
  make_shapenet_bottle("mf");
  make_dir("mf/cup0/train"); /* no test folder */
  make_dir("mf/.hidden/train");
  write_text("mf/README.txt", "not a class\n");
  const dataset_layout *L = dataset_layout_find("anomaly_shapenet");
  char **cls;
  int n;
  assert_int_equal(L->list_classes(path_of("mf"), &cls, &n), AD3D_OK);
  assert_int_equal(n, 2);
  assert_string_equal(cls[0], "bottle0");
  assert_string_equal(cls[1], "cup0");
  strv_free(cls, n);
  assert_int_not_equal(L->list_classes(path_of("nowhere"), &cls, &n), AD3D_OK);
  class_index ci;
  assert_int_equal(L->scan_class(path_of("mf"), "ghost0", &ci), AD3D_ENOTFOUND);
  assert_non_null(strstr(ad3d_errmsg(), path_of("mf/ghost0")));
  assert_null(ci.train);
  assert_int_equal(L->scan_class(path_of("mf"), "cup0", &ci), AD3D_ENOTFOUND);
  assert_non_null(strstr(ad3d_errmsg(), path_of("mf/cup0/test")));
  class_data_t d;
  assert_int_equal(dataset_load_class(L, path_of("mf"), "ghost0", &d), AD3D_ENOTFOUND);
  assert_int_equal(dataset_load_class(dataset_layout_find("real3d_ad"), path_of("mf"), "cup0", &d), AD3D_ENOTFOUND);
}

/* ------------------------------------------------------------------ check */

/* Run dataset_check into a string (malloc'ed). */
static char *run_check(const dataset_layout *L, const char *root, char **classes, int n, int *nproblems,
                       ad3d_status *st) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  *st = dataset_check(L, root, classes, n, f, nproblems);
  fclose(f);
  return buf;
}

/* The whitespace-separated tokens of the line of `text` that starts with `first` + ' ' (max 32). */
static int row_tokens(const char *text, const char *first, char tok[32][64]) {
  const char *line = text;
  size_t lf = strlen(first);
  while (line && *line) {
    if (!strncmp(line, first, lf) && line[lf] == ' ')
      break;
    line = strchr(line, '\n');
    if (line)
      line++;
  }
  if (!line || !*line)
    return 0;
  int n = 0;
  const char *p = line;
  while (*p && *p != '\n' && n < 32) {
    while (*p == ' ')
      p++;
    if (!*p || *p == '\n')
      break;
    int l = 0;
    while (p[l] && p[l] != ' ' && p[l] != '\n')
      l++;
    snprintf(tok[n++], 64, "%.*s", l, p);
    p += l;
  }
  return n;
}

static void test_check_clean(void **state) {
  (void)state;
  make_shapenet_bottle("ck1");
  /* a second clean class with GT rows matching the PCDs */
  make_dir("ck1/cup0/train");
  make_dir("ck1/cup0/test");
  make_dir("ck1/cup0/GT");
  write_pcd("ck1/cup0/train/cup0_template0.pcd", 1, 20);
  write_pcd("ck1/cup0/test/cup0_positive0.pcd", 2, 30);
  write_pcd("ck1/cup0/test/cup0_hole0.pcd", 3, 40);
  write_gt("ck1/cup0/GT/cup0_hole0.txt", 3, 40, 4, ' '); /* space-delimited copy: 10 of 40 */
  /* only cup0 first: it must be clean */
  const dataset_layout *L = dataset_layout_find("anomaly_shapenet");
  int np = -1;
  ad3d_status st;
  char *cup = "cup0";
  char *out = run_check(L, path_of("ck1"), &cup, 1, &np, &st);
  assert_int_equal(st, AD3D_OK);
  assert_int_equal(np, 0);
  char tok[32][64];
  /* class train good hole test min / median / max anomalous problems */
  int nt = row_tokens(out, "cup0", tok);
  assert_int_equal(nt, 12);
  assert_string_equal(tok[1], "1");  /* train */
  assert_string_equal(tok[2], "1");  /* good */
  assert_string_equal(tok[3], "1");  /* hole */
  assert_string_equal(tok[4], "2");  /* test */
  assert_string_equal(tok[5], "20"); /* min */
  assert_string_equal(tok[7], "30"); /* median */
  assert_string_equal(tok[9], "40"); /* max */
  assert_string_equal(tok[10], "25.00%");
  assert_string_equal(tok[11], "0");
  assert_non_null(strstr(out, "25.00%"));
  assert_non_null(strstr(out, "0 problems"));
  free(out);

  /* whole dataset: bottle0 has a GT/PCD row mismatch for bulge0 (12 vs 11): one warning */
  out = run_check(L, path_of("ck1"), NULL, 0, &np, &st);
  assert_int_equal(st, AD3D_OK);
  assert_int_equal(np, 1);
  assert_non_null(strstr(out, "GT has 12 rows, PCD has 11 points"));
  /* header: class train good bulge hole crack weird test points... */
  nt = row_tokens(out, "class", tok);
  assert_true(nt >= 8);
  assert_string_equal(tok[3], "bulge");
  assert_string_equal(tok[4], "hole");
  assert_string_equal(tok[5], "crack");
  assert_string_equal(tok[6], "weird");
  assert_string_equal(tok[7], "test");
  nt = row_tokens(out, "bottle0", tok);
  assert_int_equal(nt, 15);
  assert_string_equal(tok[1], "4"); /* train */
  assert_string_equal(tok[2], "2"); /* good */
  assert_string_equal(tok[3], "1");
  assert_string_equal(tok[4], "1");
  assert_string_equal(tok[5], "1");
  assert_string_equal(tok[6], "1");
  assert_string_equal(tok[7], "6");
  /* point counts: train 5 6 7 8, positives 9 10, anomalous from GT 12 5 6 4 -> sorted
   * 4 5 5 6 6 7 8 9 10 12: min 4, median (6 + 7) / 2 = 6, max 12 */
  assert_string_equal(tok[8], "4");
  assert_string_equal(tok[10], "6");
  assert_string_equal(tok[12], "12");
  /* anomalous fraction: (4 + 3 + 6 + 1) / (12 + 5 + 6 + 4) = 14 / 27 */
  char want[32];
  snprintf(want, sizeof want, "%.2f%%", 100.0 * 14 / 27);
  assert_string_equal(tok[13], want);
  assert_string_equal(tok[14], "1");
  nt = row_tokens(out, "total", tok);
  assert_int_equal(nt, 15);
  assert_string_equal(tok[1], "5");
  assert_string_equal(tok[2], "3");
  assert_string_equal(tok[4], "2"); /* hole: bottle0 + cup0 */
  assert_string_equal(tok[7], "8");
  assert_string_equal(tok[8], "4");
  assert_string_equal(tok[12], "40");
  snprintf(want, sizeof want, "%.2f%%", 100.0 * 24 / 67);
  assert_string_equal(tok[13], want);
  assert_string_equal(tok[14], "1");
  free(out);
}

static void test_check_problems(void **state) {
  (void)state;
  make_dir("ck2/empty0/train");
  make_dir("ck2/empty0/test");
  write_pcd("ck2/empty0/train/empty0_template0.pcd", 1, 5); /* no test samples */
  make_dir("ck2/bad0/train");
  make_dir("ck2/bad0/test");
  make_dir("ck2/bad0/GT");
  write_pcd("ck2/bad0/train/bad0_template0.pcd", 1, 5);
  write_text("ck2/bad0/train/bad0_template1.pcd", "this is not a point cloud\n");
  write_text("ck2/bad0/train/bad0_template2.pcd",
             "# .PCD v0.7\nVERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 4\nHEIGHT 1\n"
             "VIEWPOINT 0 0 0 1 0 0 0\nPOINTS 4\nDATA ascii\n1 2 3\nnan nan nan\n4 5 6\n7 8 9\n");
  write_pcd("ck2/bad0/test/bad0_positive0.pcd", 2, 6);
  write_pcd("ck2/bad0/test/bad0_bulge0.pcd", 3, 10);
  write_gt("ck2/bad0/GT/bad0_bulge0.txt", 3, 10, 2, ',');
  write_pcd("ck2/bad0/test/bad0_scratch0.pcd", 4, 10); /* no GT */
  write_pcd("ck2/bad0/test/bad0_hole0.pcd", 5, 10);
  write_text("ck2/bad0/GT/bad0_hole0.txt", "1,2,3,0\n4,5,oops,1\n");
  make_dir("ck2/nogt0/train"); /* no test folder */

  const dataset_layout *L = dataset_layout_find("anomaly_shapenet");
  char *classes[] = {"bad0", "empty0", "ghost0", "nogt0"};
  int np = -1;
  ad3d_status st;
  char *out = run_check(L, path_of("ck2"), classes, 4, &np, &st);
  assert_int_equal(st, AD3D_OK);
  /* bad0: unreadable template1, missing GT for scratch0, malformed GT for hole0 (3);
   * empty0: no test samples (1); ghost0: no class folder (1); nogt0: no test folder (1) */
  assert_int_equal(np, 6);
  assert_non_null(strstr(out, "bad0_template1.pcd"));
  assert_non_null(strstr(out, "bad0_scratch0.pcd"));
  assert_non_null(strstr(out, "bad0_hole0.txt"));
  assert_non_null(strstr(out, "empty class: no test samples"));
  assert_non_null(strstr(out, path_of("ck2/ghost0")));
  assert_non_null(strstr(out, path_of("ck2/nogt0/test")));
  /* the NaN point is a note, not a problem */
  assert_non_null(strstr(out, "1 of 4 points dropped"));
  assert_non_null(strstr(out, "6 problems (6 errors, 0 warnings), 1 note"));
  char tok[32][64];
  int nt = row_tokens(out, "bad0", tok);
  /* class train good bulge hole scratch test min / med / max anomalous problems */
  assert_int_equal(nt, 14);
  assert_string_equal(tok[1], "3");
  assert_string_equal(tok[2], "1");
  assert_string_equal(tok[3], "1");
  assert_string_equal(tok[4], "1");
  assert_string_equal(tok[5], "1");
  assert_string_equal(tok[6], "4");
  /* readable: template0 5, template2 3 (NaN dropped), positive0 6, bulge0 10 -> 3 / 5 / 10 */
  assert_string_equal(tok[7], "3");
  assert_string_equal(tok[9], "5");
  assert_string_equal(tok[11], "10");
  assert_string_equal(tok[12], "50.00%");
  assert_string_equal(tok[13], "3");
  nt = row_tokens(out, "ghost0", tok);
  assert_string_equal(tok[nt - 1], "1");
  assert_string_equal(tok[1], "-");
  free(out);

  /* a root without classes, and a missing root, are problems too */
  make_dir("ck3");
  out = run_check(L, path_of("ck3"), NULL, 0, &np, &st);
  assert_int_equal(st, AD3D_OK);
  assert_int_equal(np, 1);
  assert_non_null(strstr(out, "no class folders"));
  free(out);
  out = run_check(L, path_of("ck-missing"), NULL, 0, &np, &st);
  assert_int_equal(st, AD3D_OK);
  assert_int_equal(np, 1);
  assert_non_null(strstr(out, path_of("ck-missing")));
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_layout_registry),
      cmocka_unit_test(test_shapenet_scan),
      cmocka_unit_test(test_shapenet_load),
      cmocka_unit_test(test_shapenet_missing_gt),
      cmocka_unit_test(test_real3d_scan),
      cmocka_unit_test(test_real3d_load_centred),
      cmocka_unit_test(test_missing_folders),
      cmocka_unit_test(test_check_clean),
      cmocka_unit_test(test_check_problems),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
