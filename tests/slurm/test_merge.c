/* test_merge.c - results_merge (store/merge.h): slices joined into one file with every record and
 * every score as written; the latest record of a key recorded in several inputs, whatever their
 * order; failed tasks kept as failed; inputs of different jobs refused unless forced (run.output and
 * run.blas_threads aside); an existing output kept unless named as an input or overwritten; a
 * failed merge leaves nothing behind; every record's recorded_at kept (and used again when a merged
 * file is merged with later slices); stored slices checked (repeated or of different Ns refused
 * unless forced, missing ones reported); more inputs than may be open at once, under a descriptor
 * limit. The expected values are the synthetic tasks and times the test wrote. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/util.h"
#include "store/merge.h"
#include "store/results.h"

static const char *CONFIG_FMT = "# ad3d resolved job\n\nrun = {\n  seed = 7;\n  output = \"%s\";\n  methods = [\"btf_raw\"];\n"
                                "  blas_threads = %d;\n};\n\nbtf_raw = {\n  train_stride = %d;\n};\n";

typedef struct {
  char dir[256];
} scratch;

static int setup(void **state) {
  scratch *s = calloc(1, sizeof *s);
  snprintf(s->dir, sizeof s->dir, "%s/ad3d-merge-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  assert_non_null(mkdtemp(s->dir));
  *state = s;
  return 0;
}

static int teardown(void **state) {
  scratch *s = *state;
  remove_tree(s->dir);
  free(s);
  return 0;
}

static char *path_in(const scratch *s, const char *name) { return str_printf("%s/%s", s->dir, name); }

/* A task whose every number derives from `id` (so a copy can be checked against a fresh one). */
typedef struct {
  task_record rec;
  task_scores sc;
  char *names[4], *defects[4];
  uint8_t labels[4];
  double objs[4];
  int64_t np[4];
  float pscores[40];
  uint8_t plabels[40];
} synth_task;

static void synth(synth_task *t, const char *cls, int id, int failed) {
  memset(t, 0, sizeof *t);
  snprintf(t->rec.key, sizeof t->rec.key, "btf_raw/quick/%s@default", cls);
  snprintf(t->rec.method, sizeof t->rec.method, "btf_raw");
  snprintf(t->rec.dataset, sizeof t->rec.dataset, "quick");
  snprintf(t->rec.cls, sizeof t->rec.cls, "%s", cls);
  snprintf(t->rec.variant, sizeof t->rec.variant, "default");
  t->rec.rank = id % 5;
  t->rec.fit_s = id * 0.5;
  t->rec.score_s = id * 0.25;
  t->rec.peak_rss_kb = 1000 + id;
  t->rec.aupro = NAN;
  if (failed) {
    t->rec.status = TASK_FAILED;
    t->rec.i_auroc = t->rec.p_auroc = t->rec.i_ap = t->rec.p_ap = NAN;
    snprintf(t->rec.error, sizeof t->rec.error, "load: %s/test/x%d.pcd: truncated", cls, id);
    return;
  }
  t->rec.status = TASK_OK;
  t->rec.i_auroc = 0.5 + id * 0.01;
  t->rec.p_auroc = 0.6 + id * 0.01;
  t->rec.i_ap = 0.7;
  t->rec.p_ap = 0.8;
  int64_t total = 0;
  for (int i = 0; i < 4; i++) {
    t->names[i] = str_printf("%s_s%d_%d", cls, i, id);
    t->defects[i] = xstrdup(i % 2 ? "bulge" : "good");
    t->labels[i] = (uint8_t)(i % 2);
    t->objs[i] = id + i * 0.125;
    t->np[i] = 10;
    for (int j = 0; j < 10; j++) {
      t->pscores[total] = (float)(id * 100 + i * 10 + j);
      t->plabels[total] = (uint8_t)(i % 2 && j < 3);
      total++;
    }
  }
  t->sc = (task_scores){4, t->names, t->defects, t->labels, t->objs, t->np, total, t->pscores, t->plabels};
  t->rec.nsamples = 4;
  t->rec.npoints = total;
}

static void synth_free(synth_task *t) {
  for (int i = 0; i < 4; i++) {
    free(t->names[i]);
    free(t->defects[i]);
  }
}

/* Write a results file of `n` tasks: (class, id, failed[, time]) tuples; a task with a time is
 * recorded as recorded then (results_append_copy), the others now. */
typedef struct {
  const char *cls;
  int id, failed;
  const char *time; /* NULL: now */
} spec;

static void write_file_as(const char *path, int train_stride, int threads, uint64_t seed, int ranks,
                          const char *hosts, int slice_index, int slice_count, const spec *tasks, int n) {
  char *config = str_printf(CONFIG_FMT, path, threads, train_stride);
  results_meta m = {.program_version = "test", .config_text = config, .seed = seed, .ranks = ranks, .hosts = hosts,
                    .slice_index = slice_index, .slice_count = slice_count};
  results_t *r = NULL;
  if (results_open(path, &m, 0, &r))
    fail_msg("results_open %s: %s", path, ad3d_errmsg());
  results_set_fsync(r, 0); /* no crash to survive here; synced once on close */
  for (int i = 0; i < n; i++) {
    synth_task t;
    synth(&t, tasks[i].cls, tasks[i].id, tasks[i].failed);
    ad3d_status st;
    if (tasks[i].time) {
      snprintf(t.rec.recorded_at, sizeof t.rec.recorded_at, "%s", tasks[i].time);
      st = results_append_copy(r, &t.rec, tasks[i].failed ? NULL : &t.sc);
    } else
      st = results_append(r, &t.rec, tasks[i].failed ? NULL : &t.sc);
    if (st)
      fail_msg("results_append: %s", ad3d_errmsg());
    synth_free(&t);
  }
  assert_int_equal(results_close(r), AD3D_OK);
  free(config);
}

static void write_file(const char *path, int train_stride, int threads, uint64_t seed, int ranks, const char *hosts,
                       const spec *tasks, int n) {
  write_file_as(path, train_stride, threads, seed, ranks, hosts, 0, 0, tasks, n);
}

/* Slice slice_index of slice_count (0: the whole job) of the test's job. */
static void write_slice(const char *path, int slice_index, int slice_count, const spec *tasks, int n) {
  write_file_as(path, 10, 1, 7, 1, "n1", slice_index, slice_count, tasks, n);
}

/* The merged file holds exactly `want` (class, id, failed[, recorded_at]), in this order, records
 * and scores. */
static void expect_file(const char *path, const spec *want, int n) {
  task_record *recs = NULL;
  int64_t nrec = 0;
  if (results_read_tasks(path, &recs, &nrec))
    fail_msg("results_read_tasks %s: %s", path, ad3d_errmsg());
  assert_int_equal(nrec, n);
  for (int i = 0; i < n; i++) {
    synth_task t;
    synth(&t, want[i].cls, want[i].id, want[i].failed);
    const task_record *r = &recs[i];
    if (want[i].time)
      assert_string_equal(r->recorded_at, want[i].time);
    assert_string_equal(r->key, t.rec.key);
    assert_int_equal(r->status, t.rec.status);
    assert_int_equal(r->rank, t.rec.rank);
    assert_true(r->fit_s == t.rec.fit_s && r->score_s == t.rec.score_s);
    assert_int_equal(r->peak_rss_kb, t.rec.peak_rss_kb);
    assert_true((isnan(r->i_auroc) && isnan(t.rec.i_auroc)) || r->i_auroc == t.rec.i_auroc);
    assert_true((isnan(r->p_auroc) && isnan(t.rec.p_auroc)) || r->p_auroc == t.rec.p_auroc);
    assert_true(isnan(r->aupro));
    assert_string_equal(r->error, t.rec.error);
    task_scores got;
    ad3d_status st = results_read_scores(path, t.rec.key, &got);
    if (want[i].failed) {
      assert_int_equal(st, AD3D_ENOTFOUND);
    } else {
      assert_int_equal(st, AD3D_OK);
      assert_int_equal(got.nsamples, 4);
      assert_int_equal(got.total_points, 40);
      for (int k = 0; k < 4; k++) {
        assert_string_equal(got.names[k], t.names[k]);
        assert_string_equal(got.defects[k], t.defects[k]);
        assert_int_equal(got.labels[k], t.labels[k]);
        assert_true(got.object_scores[k] == t.objs[k]);
        assert_int_equal(got.npoints[k], 10);
      }
      assert_memory_equal(got.point_scores, t.pscores, 40 * sizeof(float));
      assert_memory_equal(got.point_labels, t.plabels, 40);
      task_scores_free(&got);
    }
    synth_free(&t);
  }
  free(recs);
}

static void merge_ok(const char *out, char **in, int n, int force, int overwrite, merge_summary *sum) {
  merge_opts o = {.force = force, .overwrite = overwrite, .program_version = "test"};
  if (results_merge(out, in, n, &o, sum))
    fail_msg("results_merge: %s", ad3d_errmsg());
}

static void test_slices(void **state) {
  scratch *s = *state;
  char *a = path_in(s, "a.h5"), *b = path_in(s, "b.h5"), *c = path_in(s, "c.h5"), *out = path_in(s, "m.h5");
  const spec sa[] = {{"cup0", 1, 0, NULL}, {"box0", 2, 1, NULL}}, sb[] = {{"vase0", 3, 0, NULL}},
             sc[] = {{"torus0", 4, 0, NULL}};
  write_file(a, 10, 1, 7, 2, "n1,n2", sa, 2);
  write_file(b, 10, 1, 7, 3, "n2,n3", sb, 1);
  write_file(c, 10, 4, 7, 1, "n1", sc, 1); /* other threads: the same job */
  char *in[] = {a, b, c};
  merge_summary sum;
  merge_ok(out, in, 3, 0, 0, &sum);
  assert_int_equal(sum.ntasks, 4);
  assert_int_equal(sum.nfailed, 1);
  assert_int_equal(sum.nsuperseded, 0);
  const spec want[] = {{"cup0", 1, 0, NULL}, {"box0", 2, 1, NULL}, {"vase0", 3, 0, NULL}, {"torus0", 4, 0, NULL}};
  expect_file(out, want, 4);
  char *v = NULL;
  assert_int_equal(results_read_attr(out, "ranks", &v), AD3D_OK);
  assert_string_equal(v, "6");
  free(v);
  assert_int_equal(results_read_attr(out, "hosts", &v), AD3D_OK);
  assert_string_equal(v, "n1,n2,n3");
  free(v);
  assert_int_equal(results_read_attr(out, "seed", &v), AD3D_OK);
  assert_string_equal(v, "7");
  free(v);
  /* the merged config is the job's, its output the merged file: the job resumes on it */
  char *want_config = str_printf(CONFIG_FMT, out, 1, 10);
  assert_int_equal(results_read_attr(out, "config", &v), AD3D_OK);
  assert_string_equal(v, want_config);
  free(v);
  free(want_config);
  char *leftover = str_printf("%s.merging", out);
  assert_int_equal(access(leftover, F_OK), -1);
  free(leftover);
  free(a), free(b), free(c), free(out);
}

static void test_latest_wins(void **state) {
  scratch *s = *state;
  char *old = path_in(s, "old.h5"), *new = path_in(s, "new.h5"), *out = path_in(s, "m.h5");
  /* cup0 fails in the old file, then succeeds in a later one (a re-run); box0 was re-run within
   * the old file itself (a resumed run: its latest row is the one that counts) */
  const spec so[] = {{"cup0", 1, 1, NULL}, {"box0", 2, 1, NULL}, {"box0", 5, 0, NULL}};
  write_file(old, 10, 1, 7, 2, "n1", so, 3);
  sleep(1); /* recorded_at has a resolution of one second */
  const spec sn[] = {{"cup0", 9, 0, NULL}};
  write_file(new, 10, 1, 7, 2, "n1", sn, 1);
  merge_summary sum;
  char *forward[] = {old, new}, *backward[] = {new, old};
  const spec want_fwd[] = {{"cup0", 9, 0, NULL}, {"box0", 5, 0, NULL}},
             want_bwd[] = {{"cup0", 9, 0, NULL}, {"box0", 5, 0, NULL}};
  merge_ok(out, forward, 2, 0, 0, &sum);
  assert_int_equal(sum.nsuperseded, 1);
  assert_int_equal(sum.nfailed, 0);
  expect_file(out, want_fwd, 2);
  /* the later record wins even when its file is named first; the order is that of first appearance */
  merge_ok(out, backward, 2, 0, 1, &sum);
  assert_int_equal(sum.nsuperseded, 1);
  expect_file(out, want_bwd, 2);
  /* the output may be an input: adding a slice to an earlier merge */
  char *extra = path_in(s, "extra.h5");
  const spec se[] = {{"vase0", 3, 0, NULL}};
  write_file(extra, 10, 1, 7, 1, "n4", se, 1);
  char *grow[] = {out, extra};
  merge_ok(out, grow, 2, 0, 0, &sum);
  const spec want_grow[] = {{"cup0", 9, 0, NULL}, {"box0", 5, 0, NULL}, {"vase0", 3, 0, NULL}};
  expect_file(out, want_grow, 3);
  free(old), free(new), free(out), free(extra);
}

static void test_refusals(void **state) {
  scratch *s = *state;
  char *a = path_in(s, "a.h5"), *b = path_in(s, "b.h5"), *c = path_in(s, "c.h5"), *out = path_in(s, "m.h5");
  char *missing = path_in(s, "missing.h5");
  const spec sa[] = {{"cup0", 1, 0, NULL}}, sb[] = {{"box0", 2, 0, NULL}}, sc[] = {{"vase0", 3, 0, NULL}};
  write_file(a, 10, 1, 7, 1, "n1", sa, 1);
  write_file(b, 20, 1, 7, 1, "n1", sb, 1); /* another train_stride: another job */
  write_file(c, 10, 1, 8, 1, "n1", sc, 1); /* another seed */
  merge_opts o = {.program_version = "test"};
  merge_summary sum;
  char *ab[] = {a, b}, *ac[] = {a, c}, *am[] = {a, missing};
  assert_int_equal(results_merge(out, ab, 2, &o, &sum), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "train_stride = 20"));
  assert_non_null(strstr(ad3d_errmsg(), "b.h5"));
  assert_int_equal(results_merge(out, ac, 2, &o, &sum), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "seed"));
  assert_int_equal(results_merge(out, am, 2, &o, &sum), AD3D_ENOTFOUND);
  assert_non_null(strstr(ad3d_errmsg(), "missing.h5"));
  assert_int_equal(access(out, F_OK), -1); /* nothing written by a refused merge */
  char *tmp = str_printf("%s.merging", out);
  assert_int_equal(access(tmp, F_OK), -1);
  free(tmp);
  /* forced, the first input's config is kept */
  merge_ok(out, ab, 2, 1, 0, &sum);
  assert_int_equal(sum.ntasks, 2);
  /* an existing output that is not an input stays unless overwritten */
  char *only_c[] = {c};
  o.force = 1;
  assert_int_equal(results_merge(out, only_c, 1, &o, &sum), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "exists"));
  const spec want_ab[] = {{"cup0", 1, 0, NULL}, {"box0", 2, 0, NULL}}, want_c[] = {{"vase0", 3, 0, NULL}};
  expect_file(out, want_ab, 2);
  merge_ok(out, only_c, 1, 0, 1, &sum);
  expect_file(out, want_c, 1);
  /* not a results file */
  FILE *f = fopen(missing, "w");
  fputs("not hdf5\n", f);
  fclose(f);
  char *bad[] = {missing};
  o.overwrite = 1;
  assert_int_equal(results_merge(out, bad, 1, &o, &sum), AD3D_EFORMAT);
  free(a), free(b), free(c), free(out), free(missing);
}

/* Records keep the times they were recorded, and those times, not the merge's, pick the latest. */
static void test_times_kept(void **state) {
  scratch *s = *state;
  char *a = path_in(s, "a.h5"), *b = path_in(s, "b.h5"), *c = path_in(s, "c.h5"), *d = path_in(s, "d.h5");
  char *out = path_in(s, "m.h5");
  const char *t1 = "2024-01-01T00:00:01Z", *t2 = "2024-01-01T00:00:02Z", *t3 = "2024-01-01T00:00:03Z",
             *t4 = "2024-01-01T00:00:04Z", *t5 = "2024-01-01T00:00:05Z", *june = "2024-06-01T00:00:00Z",
             *old = "2023-12-31T00:00:00Z";
  const spec sa[] = {{"cup0", 1, 0, t1}, {"box0", 2, 0, t5}};
  const spec sb[] = {{"cup0", 3, 0, t3}, {"box0", 4, 1, t2}, {"vase0", 5, 0, t4}};
  write_file(a, 10, 1, 7, 1, "n1", sa, 2);
  write_file(b, 10, 1, 7, 1, "n2", sb, 3);
  /* cup0: b's record is later; box0: a's is, though b is named last */
  const spec want[] = {{"cup0", 3, 0, t3}, {"box0", 2, 0, t5}, {"vase0", 5, 0, t4}};
  char *ab[] = {a, b}, *ba[] = {b, a};
  merge_summary sum;
  merge_ok(out, ab, 2, 0, 0, &sum);
  assert_int_equal(sum.nsuperseded, 2);
  expect_file(out, want, 3);
  merge_ok(out, ba, 2, 0, 1, &sum);
  expect_file(out, want, 3);
  /* the merged file merged again: a re-run of cup0 in June is later than its record (January)
   * though earlier than the first merge; box0 from December 2023 is older than the kept one */
  const spec sc[] = {{"cup0", 6, 0, june}}, sd[] = {{"box0", 7, 1, old}};
  write_file(c, 10, 1, 7, 1, "n3", sc, 1);
  write_file(d, 10, 1, 7, 1, "n4", sd, 1);
  char *grow[] = {out, c, d};
  merge_ok(out, grow, 3, 0, 0, &sum);
  assert_int_equal(sum.nsuperseded, 2);
  const spec want_grow[] = {{"cup0", 6, 0, june}, {"box0", 2, 0, t5}, {"vase0", 5, 0, t4}};
  expect_file(out, want_grow, 3);
  free(a), free(b), free(c), free(d), free(out);
}

static void expect_no_slice(const char *path) {
  int32_t i = -1, n = -1;
  assert_int_equal(results_read_slice(path, &i, &n), AD3D_OK);
  assert_int_equal(n, 0);
}

/* Stored slices: distinct slices of one N merge (a missing one reported), a repeated slice or
 * slices of two Ns are refused unless forced, inputs without a slice are not checked. */
static void test_slice_checks(void **state) {
  scratch *s = *state;
  char *s0 = path_in(s, "s0.h5"), *s1 = path_in(s, "s1.h5"), *s1b = path_in(s, "s1b.h5"), *s2 = path_in(s, "s2.h5");
  char *h1 = path_in(s, "half1.h5"), *whole = path_in(s, "whole.h5"), *out = path_in(s, "m.h5");
  const char *t1 = "2024-01-01T00:00:01Z", *t2 = "2024-01-01T00:00:02Z";
  const spec a0[] = {{"cup0", 1, 0, NULL}}, a1[] = {{"box0", 2, 0, t1}}, a1b[] = {{"box0", 9, 0, t2}},
             a2[] = {{"vase0", 3, 0, NULL}}, ah[] = {{"bowl0", 4, 0, NULL}}, aw[] = {{"torus0", 5, 0, NULL}};
  write_slice(s0, 0, 3, a0, 1);
  write_slice(s1, 1, 3, a1, 1);
  write_slice(s1b, 1, 3, a1b, 1); /* slice 1 run again into another file */
  write_slice(s2, 2, 3, a2, 1);
  write_slice(h1, 1, 2, ah, 1);   /* a slice of 2 */
  write_slice(whole, 0, 0, aw, 1);
  merge_summary sum;
  merge_opts o = {.program_version = "test"};

  char *two[] = {s0, s1};
  merge_ok(out, two, 2, 0, 0, &sum);
  assert_int_equal(sum.slice_count, 3);
  assert_int_equal(sum.nslices, 2);
  assert_string_equal(sum.missing_slices, "2");
  expect_no_slice(out); /* the merged file stands for the whole job */
  const spec want2[] = {{"cup0", 1, 0, NULL}, {"box0", 2, 0, t1}};
  expect_file(out, want2, 2);
  /* the missing slice added to the merge: the merged file stores no slice, so it is not checked */
  char *add[] = {out, s2};
  merge_ok(out, add, 2, 0, 0, &sum);
  assert_int_equal(sum.slice_count, 0);
  assert_string_equal(sum.missing_slices, "");
  char *all[] = {s2, s0, s1};
  merge_ok(out, all, 3, 0, 1, &sum);
  assert_int_equal(sum.slice_count, 3);
  assert_int_equal(sum.nslices, 3);
  assert_string_equal(sum.missing_slices, "");

  char *missing = path_in(s, "refused.h5");
  char *dup[] = {s0, s1, s1b}, *same[] = {s0, s0}, *mixed[] = {s0, h1}, *with_whole[] = {whole, s0};
  assert_int_equal(results_merge(missing, dup, 3, &o, &sum), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "both slice 1/3"));
  assert_non_null(strstr(ad3d_errmsg(), "s1b.h5"));
  assert_int_equal(results_merge(missing, same, 2, &o, &sum), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "both slice 0/3"));
  assert_int_equal(results_merge(missing, mixed, 2, &o, &sum), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "slice 1/2"));
  assert_non_null(strstr(ad3d_errmsg(), "not slices of one job array"));
  assert_int_equal(access(missing, F_OK), -1);
  /* forced: a repeated slice keeps the latest record of each task */
  merge_ok(out, dup, 3, 1, 1, &sum);
  const spec want_dup[] = {{"cup0", 1, 0, NULL}, {"box0", 9, 0, t2}};
  expect_file(out, want_dup, 2);
  assert_int_equal(sum.slice_count, 3);
  assert_string_equal(sum.missing_slices, "2");
  merge_ok(out, mixed, 2, 1, 1, &sum);
  assert_int_equal(sum.slice_count, 0); /* no common N */
  merge_ok(out, with_whole, 2, 0, 1, &sum);
  assert_int_equal(sum.slice_count, 0);
  assert_int_equal(sum.ntasks, 2);
  free(s0), free(s1), free(s1b), free(s2), free(h1), free(whole), free(out), free(missing);
}

/* More inputs than the merge holds open at once, copied in an order that returns to inputs released
 * meanwhile, under a file descriptor limit that one descriptor per input would exceed. Input 0
 * holds tasks k0..k(2M-1); task k(2m+1) is recorded again, later, by input 1 + m % (NIN - 1). */
static void test_many_inputs(void **state) {
  enum { NIN = 60, M = NIN - 1 + 8 };
  scratch *s = *state;
  char *in[NIN];
  char cls[2 * M][16];
  spec first[2 * M], again[NIN][2], want[2 * M];
  int nagain[NIN] = {0};
  for (int k = 0; k < 2 * M; k++) {
    snprintf(cls[k], sizeof cls[k], "k%d", k);
    first[k] = (spec){cls[k], k, k % 7 == 3, "2024-01-01T00:00:00Z"};
    want[k] = first[k];
  }
  for (int m = 0; m < M; m++) {
    int f = 1 + m % (NIN - 1), k = 2 * m + 1;
    again[f][nagain[f]++] = (spec){cls[k], 1000 + k, 0, "2024-02-01T00:00:00Z"};
    want[k] = again[f][nagain[f] - 1];
  }
  for (int f = 0; f < NIN; f++) {
    char name[32];
    snprintf(name, sizeof name, "in%02d.h5", f);
    in[f] = path_in(s, name);
    write_file(in[f], 10, 1, 7, 1, "n1", f == 0 ? first : again[f], f == 0 ? 2 * M : nagain[f]);
  }
  char *out = path_in(s, "m.h5");
  struct rlimit saved, low;
  assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
  low = saved;
  low.rlim_cur = 48; /* the merge's 32 open inputs, its output and lock, stdio, and room */
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
  merge_opts o = {.program_version = "test"};
  merge_summary sum;
  ad3d_status st = results_merge(out, in, NIN, &o, &sum);
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
  if (st)
    fail_msg("results_merge of %d inputs: %s", NIN, ad3d_errmsg());
  assert_int_equal(sum.ntasks, 2 * M);
  assert_int_equal(sum.nsuperseded, M);
  expect_file(out, want, 2 * M);
  for (int f = 0; f < NIN; f++)
    free(in[f]);
  free(out);
}

static void test_same_job(void **state) {
  (void)state;
  const char *base = "run = {\n  seed = 1;\n  output = \"a.h5\";\n  blas_threads = 1;\n};\nx = {\n  output = 3;\n};\n";
  assert_true(results_config_same_job(base, base));
  assert_true(results_config_same_job(
      base, "run = {\n  seed = 1;\n  output = \"/x/y/slice-0-of-3.h5\";\n  blas_threads = 8;\n};\nx = {\n  output = 3;\n};\n"));
  /* an output key outside run is part of the job */
  assert_false(results_config_same_job(
      base, "run = {\n  seed = 1;\n  output = \"a.h5\";\n  blas_threads = 1;\n};\nx = {\n  output = 4;\n};\n"));
  assert_false(results_config_same_job(base, "run = {\n  seed = 2;\n  output = \"a.h5\";\n  blas_threads = 1;\n};\n"
                                             "x = {\n  output = 3;\n};\n"));
  assert_false(results_config_same_job(base, ""));
  assert_true(results_config_same_job("", ""));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_slices, setup, teardown),
      cmocka_unit_test_setup_teardown(test_latest_wins, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_times_kept, setup, teardown),
      cmocka_unit_test_setup_teardown(test_slice_checks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_inputs, setup, teardown),
      cmocka_unit_test(test_same_job),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
