/* test_quick.c - the embedded datasets (synth/quick.h). embedded:quick is synth's "quick" preset (the
 * same files, byte for byte, as synth_dataset_write with that preset), its layout and counts are as
 * promised, its labels agree with its manifest and its GT rows with its PCD points, and the cache
 * (reuse, concurrent writers, dead writers' leftovers) works. The other entries: names resolve (an
 * unknown one is refused naming it and the known ones), each entry's preset makes what its comment
 * promises in the entry's layout, layouts are checked, and the cache folder is <name>-v<version>; the
 * big embedded:anomaly_shapenet is never generated here (a prepared cache folder stands in for it),
 * and the generic path in the real3d_ad layout through an injected entry (the quick preset in that
 * layout, ~4 s; the real embedded:real3d_ad, ~20 s, is checked end to end by runner_check).
 * The labels' geometry is synth's and is tested there (test_carve: every defect on a plane or sphere
 * with a known region; test_synth: the writer).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/opts.h"
#include "common/util.h"
#include "io/dataset.h"
#include "io/pcd.h"
#include "synth/procedural.h"
#include "synth/quick.h"
#include "synth/synth.h"

static const char *const classes[] = {"bottle0", "bowl0", "cup0", "helmet0", "vase0", NULL};
static const char *const defects[] = {"bulge", "concavity", "hole", "broken", "bending", "crack", "scratch", NULL};

static char scratch_root[256];
static char quick_root[300]; /* written once by the group setup */
static const embedded_dataset *quick;

/* The entry named "embedded:<name>" (the test fails when there is none). */
static const embedded_dataset *entry(const char *name) {
  char root[64];
  const embedded_dataset *e = NULL;
  snprintf(root, sizeof root, "embedded:%s", name);
  if (embedded_find(root, &e) != AD3D_OK)
    fail_msg("%s: %s", root, ad3d_errmsg());
  return e;
}

static int setup(void **state) {
  (void)state;
  snprintf(scratch_root, sizeof scratch_root, "/tmp/ad3d_test_quick.XXXXXX");
  if (!mkdtemp(scratch_root))
    return -1;
  snprintf(quick_root, sizeof quick_root, "%s/quick", scratch_root);
  if (embedded_find("embedded:quick", &quick) != AD3D_OK || embedded_dataset_write(quick, quick_root) != AD3D_OK) {
    fprintf(stderr, "embedded_dataset_write: %s\n", ad3d_errmsg());
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return remove_tree(scratch_root) == AD3D_OK ? 0 : -1;
}

/* Assert the regular files under a and b (recursively) are the same set with the same bytes. */
static void assert_trees_equal(const char *a, const char *b) {
  char **na, **nb;
  int ka, kb;
  assert_int_equal(list_dir(a, NULL, &na, &ka), AD3D_OK);
  assert_int_equal(list_dir(b, NULL, &nb, &kb), AD3D_OK);
  assert_int_equal(ka, kb);
  for (int i = 0; i < ka; i++) {
    assert_string_equal(na[i], nb[i]);
    char *pa = str_printf("%s/%s", a, na[i]), *pb = str_printf("%s/%s", b, nb[i]);
    if (is_dir(pa)) {
      assert_trees_equal(pa, pb);
    } else {
      FILE *fa = fopen(pa, "rb"), *fb = fopen(pb, "rb");
      assert_non_null(fa);
      assert_non_null(fb);
      int ca, cb;
      do {
        ca = fgetc(fa);
        cb = fgetc(fb);
        if (ca != cb)
          fail_msg("%s and %s differ", pa, pb);
      } while (ca != EOF);
      fclose(fa);
      fclose(fb);
    }
    free(pa);
    free(pb);
  }
  strv_free(na, ka);
  strv_free(nb, kb);
}

/* ------------------------------------------------------------------ tests */

static void test_quick_layout_counts(void **state) {
  (void)state;
  const dataset_layout *L = dataset_layout_find("anomaly_shapenet");
  char **cls;
  int ncls;
  assert_int_equal(L->list_classes(quick_root, &cls, &ncls), AD3D_OK);
  assert_int_equal(ncls, 5);
  for (int c = 0; c < ncls; c++) {
    assert_string_equal(cls[c], classes[c]);
    class_data_t d;
    assert_int_equal(dataset_load_class(L, quick_root, cls[c], &d), AD3D_OK);
    assert_int_equal(d.ntrain, 4);
    assert_int_equal(d.ntest, 4 + 7);
    int ngood = 0, per[7] = {0};
    for (int i = 0; i < d.ntest; i++) {
      const sample_t *s = &d.test[i];
      if (!s->anomalous) {
        assert_string_equal(s->defect, "good");
        ngood++;
      }
      for (int k = 0; k < 7; k++)
        per[k] += s->anomalous && !strcmp(s->defect, defects[k]);
    }
    assert_int_equal(ngood, 4);
    for (int k = 0; k < 7; k++)
      assert_int_equal(per[k], 1);
    for (int i = 0; i < d.ntrain + d.ntest; i++) {
      const sample_t *s = i < d.ntrain ? &d.train[i] : &d.test[i - d.ntrain];
      if (!(s->cloud.n >= 2000 && s->cloud.n <= 3000))
        fail_msg("%s: %lld points, not 2000 to 3000", s->name, (long long)s->cloud.n);
    }
    class_data_free(&d);
  }
  /* the dataset check agrees: no problems */
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  int np = -1;
  assert_int_equal(dataset_check(L, quick_root, NULL, 0, f, &np), AD3D_OK);
  fclose(f);
  assert_int_equal(np, 0);
  free(buf);
  strv_free(cls, ncls);
}

/* The manifest's anomalous point count of the file `rel` (class/test/stem.pcd), -1 if not listed. */
static long manifest_anomalous(const char *rel) {
  char *path = str_printf("%s/manifest.csv", quick_root), line[1024];
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  long found = -1;
  while (found < 0 && fgets(line, sizeof line, f)) {
    char *field[6], *save = NULL, *p = line;
    int k = 0;
    for (char *t; k < 6 && (t = strtok_r(p, ",", &save)); p = NULL)
      field[k++] = t;
    if (k == 6 && !strcmp(field[2], rel))
      found = strtol(field[5], NULL, 10);
  }
  fclose(f);
  free(path);
  return found;
}

static void test_quick_labels(void **state) {
  (void)state;
  const dataset_layout *L = dataset_layout_find("anomaly_shapenet");
  for (int c = 0; classes[c]; c++) {
    class_data_t d;
    assert_int_equal(dataset_load_class(L, quick_root, classes[c], &d), AD3D_OK);
    for (int i = 0; i < d.ntest; i++) {
      const sample_t *s = &d.test[i];
      int64_t k = 0;
      for (int64_t j = 0; j < s->cloud.n; j++)
        k += s->labels[j];
      double frac = (double)k / (double)s->cloud.n;
      char *rel = str_printf("%s/test/%s.pcd", classes[c], s->name);
      assert_int_equal(manifest_anomalous(rel), k);
      free(rel);
      if (s->anomalous) {
        if (!(k > 0 && frac < 0.3))
          fail_msg("%s: anomalous fraction %.4f", s->name, frac);
      } else {
        assert_int_equal(k, 0);
      }
    }
    /* GT rows are the PCD's points in order (the loader does not rely on it, the writer promises it) */
    for (int i = 0; i < d.ntest; i++) {
      if (!d.test[i].anomalous)
        continue;
      char *path = str_printf("%s/%s/test/%s.pcd", quick_root, classes[c], d.test[i].name);
      cloud_t pc;
      assert_int_equal(pcd_read(path, &pc, NULL), AD3D_OK);
      assert_int_equal(pc.n, d.test[i].cloud.n);
      for (int64_t j = 0; j < 3 * pc.n; j++)
        assert_true(fabsf(pc.xyz[j] - d.test[i].cloud.xyz[j]) <= 1e-5f * (1.0f + fabsf(pc.xyz[j])));
      cloud_free(&pc);
      free(path);
    }
    class_data_free(&d);
  }
}

static void test_quick_is_the_preset(void **state) {
  (void)state;
  /* what `ad3d synth --preset quick` writes, through synth's own entry points */
  opts_t o = {0};
  synth_config c;
  assert_int_equal(opts_set_defaults(&o, "synth", synth_opt_specs), AD3D_OK);
  assert_int_equal(synth_preset_apply(&o, "quick"), AD3D_OK);
  assert_int_equal(synth_config_from_opts(&o, &c), AD3D_OK);
  char *again = str_printf("%s/again", scratch_root);
  assert_int_equal(synth_dataset_write(&c, &o, again, NULL, NULL), AD3D_OK);
  assert_trees_equal(quick_root, again);
  assert_int_equal(synth_preset_apply(&o, "huge"), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "\"huge\" (tiny, quick, real3d, paper)"));
  synth_config_free(&c);
  opts_free(&o);
  free(again);
}

static void test_quick_errors(void **state) {
  (void)state;
  /* the writer refuses a folder that holds something */
  assert_int_equal(embedded_dataset_write(quick, quick_root), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), quick_root));
}

static void test_quick_ensure(void **state) {
  (void)state;
  char *cache = str_printf("%s/cache1", scratch_root);
  setenv("AD3D_CACHE", cache, 1);
  char *dir = NULL, *dir2 = NULL;
  assert_int_equal(embedded_cache_dir(&dir), AD3D_OK);
  assert_string_equal(dir, cache);
  free(dir);
  assert_int_equal(embedded_dataset_ensure(quick, &dir), AD3D_OK);
  char *want = str_printf("%s/quick-v%d", cache, quick->version);
  assert_string_equal(dir, want);
  assert_trees_equal(quick_root, dir);
  /* reuse: a marker put into the cached dataset survives the next ensure */
  char *marker = str_printf("%s/marker", dir);
  FILE *f = fopen(marker, "w");
  assert_non_null(f);
  fclose(f);
  assert_int_equal(embedded_resolve("embedded:quick", "anomaly_shapenet", &dir2), AD3D_OK);
  assert_string_equal(dir2, want);
  assert_true(is_file(marker));
  char **names;
  int n;
  assert_int_equal(list_dir(cache, NULL, &names, &n), AD3D_OK);
  assert_int_equal(n, 1); /* no temporary folder left */
  strv_free(names, n);
  free(dir);
  free(dir2);
  free(marker);
  free(want);
  free(cache);

  /* other cache roots */
  unsetenv("AD3D_CACHE");
  setenv("XDG_CACHE_HOME", "/x/y", 1);
  assert_int_equal(embedded_cache_dir(&dir), AD3D_OK);
  assert_string_equal(dir, "/x/y/ad3d");
  free(dir);
  unsetenv("XDG_CACHE_HOME");
  setenv("HOME", "/h", 1);
  assert_int_equal(embedded_cache_dir(&dir), AD3D_OK);
  assert_string_equal(dir, "/h/.cache/ad3d");
  free(dir);
  unsetenv("HOME");
  assert_int_equal(embedded_cache_dir(&dir), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "AD3D_CACHE"));
  assert_int_equal(embedded_dataset_ensure(quick, &dir), AD3D_EINVAL);
  assert_null(dir);
  assert_int_equal(embedded_dataset_folder(quick, &dir), AD3D_EINVAL);
  assert_null(dir);
}

/* Several processes ensure the same cache at once: all succeed, one dataset, no leftovers (also
 * none of an earlier killed writer). */
static void test_quick_ensure_concurrent(void **state) {
  (void)state;
  char *cache = str_printf("%s/cache2", scratch_root);
  setenv("AD3D_CACHE", cache, 1);
  /* a folder a killed writer on this host left behind: removed by the writer that runs next */
  pid_t dead = fork();
  assert_true(dead >= 0);
  if (dead == 0)
    _exit(0);
  assert_int_equal(waitpid(dead, NULL, 0), dead);
  char host[64] = "host";
  gethostname(host, sizeof host);
  host[sizeof host - 1] = '\0';
  char *stale = str_printf("%s/quick-v%d.tmp.%ld.%s/cup0", cache, quick->version, (long)dead, host);
  assert_int_equal(mkdir_p(stale), AD3D_OK);
  free(stale);
  char want[32];
  snprintf(want, sizeof want, "quick-v%d", quick->version);
  enum { P = 4 };
  pid_t pids[P];
  for (int i = 0; i < P; i++) {
    pids[i] = fork();
    assert_true(pids[i] >= 0);
    if (pids[i] == 0) {
      char *dir;
      ad3d_status st = embedded_dataset_ensure(quick, &dir);
      if (st != AD3D_OK)
        fprintf(stderr, "child %d: %s\n", i, ad3d_errmsg());
      _exit(st == AD3D_OK && str_ends_with(dir, want) ? 0 : 1);
    }
  }
  for (int i = 0; i < P; i++) {
    int status;
    assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  char **names;
  int n;
  assert_int_equal(list_dir(cache, NULL, &names, &n), AD3D_OK);
  assert_int_equal(n, 1);
  assert_string_equal(names[0], want);
  strv_free(names, n);
  char *dir = str_printf("%s/%s", cache, want);
  assert_trees_equal(quick_root, dir);
  free(dir);
  free(cache);
  unsetenv("AD3D_CACHE");
}

/* ------------------------------------------------------------------ the other embedded datasets */

static void test_embedded_names(void **state) {
  (void)state;
  static const char *const names[] = {"quick", "anomaly_shapenet", "real3d_ad", NULL};
  int n = 0;
  for (const embedded_dataset *e = embedded_datasets; e->name; e++, n++) {
    assert_non_null(names[n]);
    assert_string_equal(e->name, names[n]);
    assert_ptr_equal(entry(names[n]), e);
  }
  assert_int_equal(n, 3);
  assert_true(embedded_is("embedded:quick"));
  assert_true(embedded_is("embedded:whatever"));
  assert_false(embedded_is("/data/embedded:quick"));
  assert_false(embedded_is("embedded"));
  /* unknown names (a prefix or an extension of a known one, the bare prefix, a path) are refused,
   * naming what was asked for and every known name */
  static const char *const bad[] = {"embedded:nope", "embedded:quic", "embedded:quick2", "embedded:", "/data/x", NULL};
  for (int i = 0; bad[i]; i++) {
    const embedded_dataset *e = quick;
    assert_int_equal(embedded_find(bad[i], &e), AD3D_ENOTFOUND);
    assert_null(e);
    char *quoted = str_printf("\"%s\"", bad[i]);
    assert_non_null(strstr(ad3d_errmsg(), quoted));
    assert_non_null(strstr(ad3d_errmsg(), "known: embedded:quick, embedded:anomaly_shapenet, embedded:real3d_ad"));
    free(quoted);
    char *dir = (char *)"x";
    assert_int_equal(embedded_resolve(bad[i], NULL, &dir), AD3D_ENOTFOUND);
    assert_null(dir);
  }
}

/* Each entry is `ad3d synth --preset P --layout L` with what quick.h promises; the preset alone
 * already has the entry's layout. Read from the resolved config, nothing is generated. */
static void test_embedded_presets(void **state) {
  (void)state;
  for (const embedded_dataset *e = embedded_datasets; e->name; e++) {
    opts_t o = {0};
    synth_config c;
    assert_int_equal(opts_set_defaults(&o, "synth", synth_opt_specs), AD3D_OK);
    assert_int_equal(synth_preset_apply(&o, e->preset), AD3D_OK);
    assert_string_equal(opts_str(&o, "synth.layout"), e->layout);
    assert_int_equal(synth_config_from_opts(&o, &c), AD3D_OK);
    assert_null(c.meshes); /* the procedural families */
    int r3d = !strcmp(e->name, "real3d_ad");
    assert_int_equal(c.layout, r3d ? SYNTH_REAL3D_AD : SYNTH_ANOMALY_SHAPENET);
    assert_int_equal(c.train, 4);
    if (!strcmp(e->name, "quick")) {
      assert_string_equal(e->preset, "quick");
      assert_int_equal(c.nclasses, 5);
      for (int i = 0; i < 5; i++)
        assert_string_equal(c.classes[i], classes[i]);
      assert_int_equal(c.positive, 4);
      assert_int_equal(c.per_defect, 1);
      assert_int_equal(c.ndefects, 7);
      assert_true(c.points_min == 2000 && c.points_max == 3000);
      assert_true(c.size == 1.0);
    } else if (!strcmp(e->name, "anomaly_shapenet")) {
      assert_string_equal(e->preset, "paper");
      assert_int_equal(c.nclasses, 0); /* every family: all 40 */
      assert_int_equal(PROC_NFAMILIES, 40);
      assert_int_equal(c.positive, 15);
      assert_int_equal(c.per_defect, 4);
      assert_int_equal(c.ndefects, 7);
      assert_true(c.points_min == 8000 && c.points_max == 30000);
      assert_true(c.size == 1.0);
    } else {
      assert_string_equal(e->preset, "real3d");
      assert_int_equal(c.nclasses, 12);
      for (int i = 0; i < c.nclasses; i++)
        assert_non_null(proc_family_find(c.classes[i]));
      assert_int_equal(c.positive, 8);
      assert_int_equal(c.per_defect, 4);
      assert_int_equal(c.ndefects, 2);
      assert_true(c.defects[0] == CARVE_BULGE && c.defects[1] == CARVE_CONCAVITY);
      assert_true(c.points_min == 8000 && c.points_max == 30000);
      assert_int_equal(c.template_points, 60000);
      assert_true(c.coverage_min == 0.005 && c.coverage_max == 0.03);
      assert_true(c.partial);
      assert_true(c.size == 60.0);
    }
    synth_config_free(&c);
    opts_free(&o);
  }
}

/* A layout other than the dataset's own is refused before anything is written. */
static void test_embedded_layouts(void **state) {
  (void)state;
  char *cache = str_printf("%s/cache3", scratch_root);
  setenv("AD3D_CACHE", cache, 1);
  char *dir = NULL;
  assert_int_equal(embedded_resolve("embedded:real3d_ad", "anomaly_shapenet", &dir), AD3D_EINVAL);
  assert_null(dir);
  assert_non_null(strstr(ad3d_errmsg(), "layout anomaly_shapenet does not fit embedded:real3d_ad, which is in the "
                                        "real3d_ad layout"));
  assert_int_equal(embedded_resolve("embedded:anomaly_shapenet", "real3d_ad", &dir), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "layout real3d_ad does not fit embedded:anomaly_shapenet"));
  assert_int_equal(embedded_resolve("embedded:quick", "real3d_ad", &dir), AD3D_EINVAL);
  assert_null(dir);
  assert_false(is_dir(cache)); /* nothing was generated */
  free(cache);
  unsetenv("AD3D_CACHE");
}

/* The cache folder is <cache>/<name>-v<version> for every entry, and an existing one is used as it
 * is: embedded:anomaly_shapenet (minutes to make) resolves to a folder prepared here. */
static void test_embedded_folders(void **state) {
  (void)state;
  char *cache = str_printf("%s/cache4", scratch_root);
  setenv("AD3D_CACHE", cache, 1);
  for (const embedded_dataset *e = embedded_datasets; e->name; e++) {
    char *dir = NULL, *want = str_printf("%s/%s-v%d", cache, e->name, e->version);
    assert_int_equal(embedded_dataset_folder(e, &dir), AD3D_OK);
    assert_string_equal(dir, want);
    assert_true(e->version >= 1);
    free(dir);
    free(want);
  }
  const embedded_dataset *as = entry("anomaly_shapenet");
  char *prepared = str_printf("%s/anomaly_shapenet-v%d", cache, as->version);
  char *marker = str_printf("%s/marker", prepared);
  assert_int_equal(mkdir_p(prepared), AD3D_OK);
  FILE *f = fopen(marker, "w");
  assert_non_null(f);
  fclose(f);
  for (int with_layout = 0; with_layout < 2; with_layout++) {
    char *dir = NULL;
    assert_int_equal(embedded_resolve("embedded:anomaly_shapenet", with_layout ? "anomaly_shapenet" : NULL, &dir),
                     AD3D_OK);
    assert_string_equal(dir, prepared);
    free(dir);
  }
  assert_true(is_file(marker));
  char **names;
  int n;
  assert_int_equal(list_dir(cache, NULL, &names, &n), AD3D_OK);
  assert_int_equal(n, 1); /* nothing else written */
  strv_free(names, n);
  free(marker);
  free(prepared);
  free(cache);
  unsetenv("AD3D_CACHE");
}

/* The generic path with another layout, name and version: an entry made here (the quick preset in
 * the real3d_ad layout) is generated into <cache>/<name>-v<version> and reads back cleanly in that
 * layout. */
static void test_embedded_other_layout(void **state) {
  (void)state;
  const embedded_dataset injected = {"r3d_test", "quick", "real3d_ad", 7, "test"};
  char *cache = str_printf("%s/cache5", scratch_root);
  setenv("AD3D_CACHE", cache, 1);
  char *dir = NULL, *want = str_printf("%s/r3d_test-v7", cache);
  assert_int_equal(embedded_dataset_ensure(&injected, &dir), AD3D_OK);
  assert_string_equal(dir, want);
  const dataset_layout *L = dataset_layout_find("real3d_ad");
  char **cls;
  int ncls;
  assert_int_equal(L->list_classes(dir, &cls, &ncls), AD3D_OK);
  assert_int_equal(ncls, 5);
  for (int c = 0; c < ncls; c++) {
    assert_string_equal(cls[c], classes[c]);
    char *t = str_printf("%s/%s/train/3_template.pcd", dir, cls[c]);
    assert_true(is_file(t)); /* the real3d_ad layout's file names */
    free(t);
  }
  strv_free(cls, ncls);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  int np = -1;
  assert_int_equal(dataset_check(L, dir, NULL, 0, f, &np), AD3D_OK);
  fclose(f);
  if (np != 0)
    fail_msg("%d problems:\n%s", np, buf);
  free(buf);
  char **names;
  int n;
  assert_int_equal(list_dir(cache, NULL, &names, &n), AD3D_OK);
  assert_int_equal(n, 1);
  assert_string_equal(names[0], "r3d_test-v7");
  strv_free(names, n);
  free(dir);
  free(want);
  free(cache);
  unsetenv("AD3D_CACHE");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quick_layout_counts),
      cmocka_unit_test(test_quick_labels),
      cmocka_unit_test(test_quick_is_the_preset),
      cmocka_unit_test(test_quick_errors),
      cmocka_unit_test(test_quick_ensure),
      cmocka_unit_test(test_quick_ensure_concurrent),
      cmocka_unit_test(test_embedded_names),
      cmocka_unit_test(test_embedded_presets),
      cmocka_unit_test(test_embedded_layouts),
      cmocka_unit_test(test_embedded_folders),
      cmocka_unit_test(test_embedded_other_layout),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

