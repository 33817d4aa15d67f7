/* test_results.c - the results file through its C API: round trip of records and scores (NaN and
 * infinite metrics, failed tasks, 0-sample tasks, long and multi-byte strings, tasks larger than a
 * chunk), superseding records, resume, config and seed mismatch, a second writer, bad arguments,
 * bad files, the many-task reader (results_reader: every record and score against the generated
 * tasks, a file still being written, a file replaced under it), recorded_at (stamped by
 * results_append, kept by results_append_copy), the stored slice (written, checked on resume,
 * absent from older files), and a file that h5py wrote by following FORMAT.md (made at run time by
 * tests/fixtures/store/make_store_fixtures.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "store/results.h"
#include "store_testlib.h"

static const char *CONFIG = "run = {\n  seed = 42;\n  output = \"r.h5\";\n};\nmethods = [\"btf\"];\n";

static results_meta meta_default(void) {
  results_meta m = {.program_version = "ad3d 0.1.0 (test)", .config_text = CONFIG, .seed = 42, .ranks = 3,
                    .hosts = "node1,node2"};
  return m;
}

typedef struct {
  char *dir;
  char *path;
} scratch;

/* Files h5py writes by following FORMAT.md (tests/fixtures/store/make_store_fixtures.py). */
static char *fixture_dir;

static int fixtures_make(void **state) {
  (void)state;
  fixture_dir = scratch_dir("store_fixtures");
  char *cmd = str_printf("%s %s/store/make_store_fixtures.py %s", PYTHON, AD3D_FIXTURES, fixture_dir);
  int rc = system(cmd);
  free(cmd);
  return rc == 0 ? 0 : -1;
}

static int fixtures_remove(void **state) {
  (void)state;
  remove_tree(fixture_dir);
  free(fixture_dir);
  return 0;
}

static int setup(void **state) {
  scratch *s = calloc(1, sizeof *s);
  s->dir = scratch_dir("store");
  s->path = str_printf("%s/results.h5", s->dir);
  *state = s;
  return 0;
}

static int teardown(void **state) {
  scratch *s = *state;
  remove_tree(s->dir);
  free(s->dir);
  free(s->path);
  free(s);
  return 0;
}

static void append_ok(results_t *r, const task_record *rec, const task_scores *s) {
  ad3d_status st = results_append(r, rec, s);
  if (st != AD3D_OK)
    fail_msg("results_append: %s", ad3d_errmsg());
}

static results_t *open_ok(const char *path, const results_meta *m, int force) {
  results_t *r = NULL;
  ad3d_status st = results_open(path, m, force, &r);
  if (st != AD3D_OK)
    fail_msg("results_open: %s", ad3d_errmsg());
  return r;
}

static void test_roundtrip(void **state) {
  scratch *sc = *state;
  results_meta m = meta_default();
  task_record recs[6], want_long;
  task_scores scores[6], want_long_s;
  int has[6];
  has[0] = gen_task(0, &recs[0], &scores[0]); /* ok, 0 samples */
  has[1] = gen_task(3, &recs[1], &scores[1]); /* 3 samples, NaN object score, NaN p_auroc */
  has[2] = gen_task(4, &recs[2], &scores[2]); /* failed, no scores */
  has[3] = gen_task(6, &recs[3], &scores[3]);
  long_strings_task(&recs[4], &want_long, &scores[4], &want_long_s);
  has[4] = 1;
  big_task(&recs[5], &scores[5]);
  has[5] = 1;
  assert_int_equal(has[0], 1);
  assert_int_equal(scores[0].nsamples, 0);
  assert_int_equal(has[2], 0);

  results_t *r = open_ok(sc->path, &m, 0);
  for (int i = 0; i < 6; i++) {
    const char *key = i == 4 ? want_long.key : recs[i].key; /* recs[4].key has no NUL */
    assert_int_equal(results_task_status(r, key), -1);
    append_ok(r, &recs[i], has[i] ? &scores[i] : NULL);
    assert_int_equal(results_task_status(r, key), recs[i].status);
  }
  assert_int_equal(results_close(r), AD3D_OK);
  assert_true(is_file(sc->path));

  task_record *got = NULL;
  int64_t n = 0;
  assert_int_equal(results_read_tasks(sc->path, &got, &n), AD3D_OK);
  assert_int_equal(n, 6);
  for (int i = 0; i < 6; i++)
    expect_record_eq(&got[i], i == 4 ? &want_long : &recs[i]);

  for (int i = 0; i < 6; i++) {
    task_scores s;
    ad3d_status st = results_read_scores(sc->path, got[i].key, &s);
    if (!has[i]) {
      assert_int_equal(st, AD3D_ENOTFOUND);
      assert_non_null(strstr(ad3d_errmsg(), "no scores"));
      continue;
    }
    if (st != AD3D_OK)
      fail_msg("results_read_scores(%s): %s", got[i].key, ad3d_errmsg());
    expect_scores_eq(&s, i == 4 ? &want_long_s : &scores[i]);
    task_scores_free(&s);
    assert_null(s.names);
  }
  task_scores none;
  assert_int_equal(results_read_scores(sc->path, "no/such/task@default", &none), AD3D_ENOTFOUND);

  char *v = NULL;
  assert_int_equal(results_read_attr(sc->path, "config", &v), AD3D_OK);
  assert_string_equal(v, CONFIG);
  free(v);
  assert_int_equal(results_read_attr(sc->path, "program_version", &v), AD3D_OK);
  assert_string_equal(v, m.program_version);
  free(v);
  assert_int_equal(results_read_attr(sc->path, "hosts", &v), AD3D_OK);
  assert_string_equal(v, "node1,node2");
  free(v);
  assert_int_equal(results_read_attr(sc->path, "seed", &v), AD3D_OK);
  assert_string_equal(v, "42");
  free(v);
  assert_int_equal(results_read_attr(sc->path, "ranks", &v), AD3D_OK);
  assert_string_equal(v, "3");
  free(v);
  assert_int_equal(results_read_attr(sc->path, "format_version", &v), AD3D_OK);
  assert_string_equal(v, "1");
  free(v);
  assert_int_equal(results_read_attr(sc->path, "hdf5_version", &v), AD3D_OK);
  assert_string_equal(v, results_hdf5_version());
  free(v);
  char *start = NULL, *end = NULL;
  assert_int_equal(results_read_attr(sc->path, "start_time", &start), AD3D_OK);
  assert_int_equal(results_read_attr(sc->path, "end_time", &end), AD3D_OK);
  assert_int_equal(strlen(start), 20); /* 2024-01-02T03:04:05Z */
  assert_int_equal(start[10], 'T');
  assert_int_equal(start[19], 'Z');
  assert_int_equal(strlen(end), 20);
  assert_true(strcmp(start, end) <= 0);
  free(start);
  free(end);
  assert_int_equal(results_read_attr(sc->path, "no_such_attr", &v), AD3D_ENOTFOUND);
  assert_null(v);
  /* A cleanly closed file leaves no lock file behind. */
  char *lock = str_printf("%s.lock", sc->path);
  assert_false(is_file(lock));
  free(lock);

  free(got);
  for (int i = 0; i < 6; i++)
    task_scores_free(&scores[i]);
  free_want_names(&want_long_s);
}

/* A config far beyond HDF5's 64 KiB limit for attributes stored in the object header. */
static void test_large_config(void **state) {
  scratch *sc = *state;
  size_t n = 300000;
  char *config = malloc(n + 1);
  for (size_t i = 0; i < n; i++)
    config[i] = i % 61 == 60 ? '\n' : (char)('a' + i % 26);
  config[n] = '\0';
  results_meta m = meta_default();
  m.config_text = config;
  results_t *r = open_ok(sc->path, &m, 0);
  assert_int_equal(results_close(r), AD3D_OK);
  r = open_ok(sc->path, &m, 0); /* resume compares it */
  assert_int_equal(results_close(r), AD3D_OK);
  char *v = NULL;
  assert_int_equal(results_read_attr(sc->path, "config", &v), AD3D_OK);
  assert_string_equal(v, config);
  free(v);
  free(config);
}

/* Tasks whose points cross /points chunk boundaries (1 Mi points a chunk), across a resume. */
static void test_chunk_crossing(void **state) {
  scratch *sc = *state;
  results_meta m = meta_default();
  enum { NT = 3 };
  const int64_t sizes[NT][2] = {{700000, 600000}, {5, 1200000}, {0, 3}};
  task_record recs[NT];
  task_scores scores[NT];
  for (int t = 0; t < NT; t++) {
    gen_task(1, &recs[t], &scores[t]);
    task_scores_free(&scores[t]);
    snprintf(recs[t].key, sizeof recs[t].key, "cross/ds/c%d@default", t);
    task_scores *s = &scores[t];
    s->nsamples = 2;
    s->names = calloc(2, sizeof(char *));
    s->defects = calloc(2, sizeof(char *));
    s->labels = calloc(2, 1);
    s->object_scores = calloc(2, sizeof(double));
    s->npoints = calloc(2, sizeof(int64_t));
    for (int j = 0; j < 2; j++) {
      s->names[j] = str_printf("t%ds%d", t, j);
      s->defects[j] = xstrdup("good");
      s->npoints[j] = sizes[t][j];
      s->total_points += sizes[t][j];
    }
    s->point_scores = malloc((size_t)s->total_points * sizeof(float));
    s->point_labels = malloc((size_t)s->total_points);
    for (int64_t p = 0; p < s->total_points; p++) {
      s->point_scores[p] = (float)(t * 10000000 + p);
      s->point_labels[p] = (uint8_t)((p * 7 + t) % 5 == 0);
    }
    recs[t].nsamples = 2;
    recs[t].npoints = s->total_points;
  }
  results_t *r = open_ok(sc->path, &m, 0);
  append_ok(r, &recs[0], &scores[0]);
  append_ok(r, &recs[1], &scores[1]);
  assert_int_equal(results_close(r), AD3D_OK);
  r = open_ok(sc->path, &m, 0);
  append_ok(r, &recs[2], &scores[2]);
  assert_int_equal(results_close(r), AD3D_OK);
  for (int t = 0; t < NT; t++) {
    task_scores got;
    if (results_read_scores(sc->path, recs[t].key, &got) != AD3D_OK)
      fail_msg("%s", ad3d_errmsg());
    expect_scores_eq(&got, &scores[t]);
    task_scores_free(&got);
    task_scores_free(&scores[t]);
  }
}

static void test_supersede(void **state) {
  scratch *sc = *state;
  results_meta m = meta_default();
  task_record a_fail, b, a_ok, a_fail2;
  task_scores sb, sa, none;
  gen_task(4, &a_fail, &none); /* failed */
  gen_task(1, &b, &sb);
  gen_task(3, &a_ok, &sa);
  snprintf(a_ok.key, sizeof a_ok.key, "%s", a_fail.key); /* same key, now ok */
  a_fail2 = a_fail;
  snprintf(a_fail2.error, sizeof a_fail2.error, "score: out of memory");

  results_t *r = open_ok(sc->path, &m, 0);
  append_ok(r, &a_fail, NULL);
  append_ok(r, &b, &sb);
  assert_int_equal(results_task_status(r, a_fail.key), TASK_FAILED);
  append_ok(r, &a_ok, &sa);
  assert_int_equal(results_task_status(r, a_fail.key), TASK_OK);
  assert_int_equal(results_close(r), AD3D_OK);

  task_record *got = NULL;
  int64_t n = 0;
  assert_int_equal(results_read_tasks(sc->path, &got, &n), AD3D_OK);
  assert_int_equal(n, 2); /* first-recorded order: a, then b; a is its latest record */
  expect_record_eq(&got[0], &a_ok);
  expect_record_eq(&got[1], &b);
  free(got);
  task_scores s;
  assert_int_equal(results_read_scores(sc->path, a_ok.key, &s), AD3D_OK);
  expect_scores_eq(&s, &sa);
  task_scores_free(&s);

  /* After a resume the statuses are known, and a later failure supersedes the success. */
  r = open_ok(sc->path, &m, 0);
  assert_int_equal(results_task_status(r, a_ok.key), TASK_OK);
  assert_int_equal(results_task_status(r, b.key), TASK_OK);
  append_ok(r, &a_fail2, NULL);
  assert_int_equal(results_task_status(r, a_ok.key), TASK_FAILED);
  assert_int_equal(results_close(r), AD3D_OK);
  assert_int_equal(results_read_tasks(sc->path, &got, &n), AD3D_OK);
  assert_int_equal(n, 2);
  expect_record_eq(&got[0], &a_fail2);
  expect_record_eq(&got[1], &b);
  free(got);
  assert_int_equal(results_read_scores(sc->path, a_ok.key, &s), AD3D_ENOTFOUND);
  task_scores_free(&sb);
  task_scores_free(&sa);
}

static void test_resume(void **state) {
  scratch *sc = *state;
  results_meta m = meta_default();
  task_record recs[5];
  task_scores scores[5];
  int has[5];
  for (int i = 0; i < 5; i++)
    has[i] = gen_task(10 + i, &recs[i], &scores[i]);

  results_t *r = open_ok(sc->path, &m, 0);
  for (int i = 0; i < 3; i++)
    append_ok(r, &recs[i], has[i] ? &scores[i] : NULL);
  assert_int_equal(results_close(r), AD3D_OK);
  char *start1 = NULL;
  assert_int_equal(results_read_attr(sc->path, "start_time", &start1), AD3D_OK);

  m.ranks = 8; /* a resume may use other ranks and hosts */
  m.hosts = "node9";
  r = open_ok(sc->path, &m, 0);
  for (int i = 0; i < 5; i++)
    assert_int_equal(results_task_status(r, recs[i].key), i < 3 ? recs[i].status : -1);
  for (int i = 3; i < 5; i++)
    append_ok(r, &recs[i], has[i] ? &scores[i] : NULL);
  assert_int_equal(results_close(r), AD3D_OK);

  task_record *got = NULL;
  int64_t n = 0;
  assert_int_equal(results_read_tasks(sc->path, &got, &n), AD3D_OK);
  assert_int_equal(n, 5);
  for (int i = 0; i < 5; i++) {
    expect_record_eq(&got[i], &recs[i]);
    if (has[i]) {
      task_scores s;
      assert_int_equal(results_read_scores(sc->path, recs[i].key, &s), AD3D_OK);
      expect_scores_eq(&s, &scores[i]);
      task_scores_free(&s);
    }
  }
  free(got);
  char *start2 = NULL, *ranks = NULL;
  assert_int_equal(results_read_attr(sc->path, "start_time", &start2), AD3D_OK);
  assert_string_equal(start1, start2); /* the run started with its first session */
  assert_int_equal(results_read_attr(sc->path, "ranks", &ranks), AD3D_OK);
  assert_string_equal(ranks, "3");
  free(start1);
  free(start2);
  free(ranks);
  for (int i = 0; i < 5; i++)
    task_scores_free(&scores[i]);
}

static void test_config_mismatch(void **state) {
  scratch *sc = *state;
  results_meta m = meta_default();
  results_t *r = open_ok(sc->path, &m, 0);
  assert_int_equal(results_close(r), AD3D_OK);

  results_meta other = m;
  other.config_text = "run = {\n  seed = 42;\n  output = \"other.h5\";\n};\nmethods = [\"btf\"];\n";
  r = (results_t *)&other; /* a failed open must reset *out to NULL */
  assert_int_equal(results_open(sc->path, &other, 0, &r), AD3D_EINVAL);
  assert_null(r);
  const char *msg = ad3d_errmsg();
  assert_non_null(strstr(msg, sc->path));
  assert_non_null(strstr(msg, "config differs"));
  assert_non_null(strstr(msg, "line 3"));
  assert_non_null(strstr(msg, "output = \"r.h5\""));
  assert_non_null(strstr(msg, "other.h5"));

  results_meta seed = m;
  seed.seed = 7;
  assert_int_equal(results_open(sc->path, &seed, 0, &r), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "seed differs"));

  /* force appends anyway; the stored config stays the first one */
  r = open_ok(sc->path, &other, 1);
  task_record rec;
  task_scores s;
  gen_task(1, &rec, &s);
  append_ok(r, &rec, &s);
  assert_int_equal(results_close(r), AD3D_OK);
  char *v = NULL;
  assert_int_equal(results_read_attr(sc->path, "config", &v), AD3D_OK);
  assert_string_equal(v, CONFIG);
  free(v);
  task_scores_free(&s);
}

static void test_second_writer(void **state) {
  scratch *sc = *state;
  results_meta m = meta_default();
  results_t *r1 = open_ok(sc->path, &m, 0), *r2 = NULL;
  assert_int_equal(results_open(sc->path, &m, 0, &r2), AD3D_EIO);
  assert_null(r2);
  assert_non_null(strstr(ad3d_errmsg(), "another process"));
  assert_int_equal(results_repair(sc->path), AD3D_EIO);
  /* Readers are welcome while the writer works. */
  task_record rec;
  task_scores s;
  gen_task(2, &rec, &s);
  append_ok(r1, &rec, &s);
  task_record *got = NULL;
  int64_t n = 0;
  assert_int_equal(results_read_tasks(sc->path, &got, &n), AD3D_OK);
  assert_int_equal(n, 1);
  free(got);
  assert_int_equal(results_close(r1), AD3D_OK);
  r2 = open_ok(sc->path, &m, 0);
  assert_int_equal(results_task_status(r2, rec.key), TASK_OK);
  assert_int_equal(results_close(r2), AD3D_OK);
  assert_int_equal(results_repair(sc->path), AD3D_OK); /* no-op on a closed file */
  assert_int_equal(results_read_tasks(sc->path, &got, &n), AD3D_OK);
  assert_int_equal(n, 1);
  free(got);
  task_scores_free(&s);
}

static void test_bad_arguments(void **state) {
  scratch *sc = *state;
  results_meta m = meta_default();
  results_t *r = open_ok(sc->path, &m, 0);
  task_record rec;
  task_scores s;
  gen_task(3, &rec, &s);

  task_record bad = rec;
  bad.key[0] = '\0';
  assert_int_equal(results_append(r, &bad, &s), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "key"));
  bad = rec;
  bad.status = 7;
  assert_int_equal(results_append(r, &bad, &s), AD3D_EINVAL);
  bad = rec;
  bad.npoints += 1;
  assert_int_equal(results_append(r, &bad, &s), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "the scores have"));
  s.npoints[0] += 1; /* per-sample counts no longer sum to total_points */
  assert_int_equal(results_append(r, &rec, &s), AD3D_EINVAL);
  s.npoints[0] -= 1;
  assert_int_equal(results_append(NULL, &rec, &s), AD3D_EINVAL);
  assert_int_equal(results_task_status(r, rec.key), -1);
  append_ok(r, &rec, &s);
  assert_int_equal(results_close(r), AD3D_OK);
  assert_int_equal(results_close(NULL), AD3D_OK);
  task_record *got = NULL;
  int64_t n = 0;
  assert_int_equal(results_read_tasks(sc->path, &got, &n), AD3D_OK);
  assert_int_equal(n, 1); /* the refused appends left nothing */
  free(got);
  task_scores_free(&s);
  task_scores_free(NULL);
}

static void test_bad_files(void **state) {
  scratch *sc = *state;
  task_record *got = NULL;
  int64_t n = 0;
  char *v = NULL;
  assert_int_equal(results_read_tasks(sc->path, &got, &n), AD3D_ENOTFOUND);
  assert_non_null(strstr(ad3d_errmsg(), sc->path));

  FILE *f = fopen(sc->path, "w");
  fputs("not an HDF5 file\n", f);
  fclose(f);
  assert_int_equal(results_read_tasks(sc->path, &got, &n), AD3D_EFORMAT);
  assert_non_null(strstr(ad3d_errmsg(), "not an HDF5 file"));
  results_meta m = meta_default();
  results_t *r = NULL;
  assert_int_equal(results_open(sc->path, &m, 0, &r), AD3D_EFORMAT);
  assert_null(r);

  char *foreign = str_printf("%s/foreign.h5", fixture_dir);
  char *future = str_printf("%s/future_version.h5", fixture_dir);
  assert_int_equal(results_read_tasks(foreign, &got, &n), AD3D_EFORMAT);
  assert_non_null(strstr(ad3d_errmsg(), "not an ad3d results file"));
  assert_int_equal(results_read_attr(future, "config", &v), AD3D_EFORMAT);
  assert_non_null(strstr(ad3d_errmsg(), "format version 2"));
  free(foreign);
  free(future);

  /* A truncated file: HDF5's own error reaches the message, with our file and line. */
  unlink(sc->path);
  r = open_ok(sc->path, &m, 0);
  task_record rec;
  task_scores s;
  gen_task(3, &rec, &s);
  append_ok(r, &rec, &s);
  assert_int_equal(results_close(r), AD3D_OK);
  assert_int_equal(truncate(sc->path, 3000), 0);
  assert_int_equal(results_read_tasks(sc->path, &got, &n), AD3D_EINTERNAL);
  const char *msg = ad3d_errmsg();
  assert_non_null(strstr(msg, "results.c:"));
  assert_non_null(strstr(msg, "H5Fopen failed"));
  assert_non_null(strstr(msg, "truncated"));
  task_scores_free(&s);
}

static void iso_now(char out[32]) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The generated tasks of test_reader: 0..NR-1, then task 4 (failed) recorded again as a success
 * with task 7's numbers and scores, and task 6 again as a failure (both keep their first place). */
enum { NR = 30 };
static void reader_want(int i, task_record *rec, task_scores *s, int *has) {
  if (i == 4 || i == 6) {
    char key[256];
    task_record first;
    task_scores none;
    gen_task(i, &first, &none);
    task_scores_free(&none);
    snprintf(key, sizeof key, "%s", first.key);
    if (i == 4) {
      *has = gen_task(7, rec, s);
      assert_int_equal(*has, 1);
    } else {
      *has = 0;
      memset(s, 0, sizeof *s);
      *rec = first;
      rec->status = TASK_FAILED;
      rec->nsamples = rec->npoints = 0;
      snprintf(rec->error, sizeof rec->error, "score: killed");
    }
    snprintf(rec->key, sizeof rec->key, "%s", key);
    snprintf(rec->cls, sizeof rec->cls, "%s", first.cls);
    snprintf(rec->dataset, sizeof rec->dataset, "%s", first.dataset);
    return;
  }
  *has = gen_task(i, rec, s);
}

/* Every record and score read through one results_reader equals what was written (the generated
 * tasks), in first-recorded order; results_read_tasks agrees; release and reopen; a replaced file. */
static void test_reader(void **state) {
  scratch *sc = *state;
  results_meta m = meta_default();
  char before[32], after[32];
  iso_now(before);
  results_t *r = open_ok(sc->path, &m, 0);
  for (int i = 0; i < NR; i++) {
    task_record rec;
    task_scores s;
    int has = gen_task(i, &rec, &s);
    append_ok(r, &rec, has ? &s : NULL);
    task_scores_free(&s);
  }
  /* a reader of a file still being written sees it as it was when the reader opened */
  results_reader *live = NULL;
  if (results_reader_open(sc->path, &live) != AD3D_OK)
    fail_msg("results_reader_open while writing: %s", ad3d_errmsg());
  assert_int_equal(results_reader_count(live), NR);
  for (int i = 4; i <= 6; i += 2) {
    task_record rec;
    task_scores s;
    int has;
    reader_want(i, &rec, &s, &has);
    append_ok(r, &rec, has ? &s : NULL);
    task_scores_free(&s);
  }
  for (int i = NR; i < NR + 5; i++) { /* more after the reader opened: in no dataset it had seen */
    task_record rec;
    task_scores s;
    int has = gen_task(i, &rec, &s);
    append_ok(r, &rec, has ? &s : NULL);
    task_scores_free(&s);
  }
  assert_int_equal(results_reader_count(live), NR);
  for (int i = 0; i < NR; i++) {
    task_record want;
    task_scores want_s, got;
    int has = gen_task(i, &want, &want_s);
    expect_record_eq(&results_reader_records(live)[i], &want);
    ad3d_status st = results_reader_scores(live, i, &got);
    if (!has) {
      assert_int_equal(st, AD3D_ENOTFOUND);
      continue;
    }
    if (st != AD3D_OK)
      fail_msg("results_reader_scores(%d) while writing: %s", i, ad3d_errmsg());
    expect_scores_eq(&got, &want_s);
    task_scores_free(&got);
    task_scores_free(&want_s);
  }
  assert_int_equal(results_reader_close(live), AD3D_OK);
  assert_int_equal(results_close(r), AD3D_OK);
  iso_now(after);

  results_reader *rd = NULL;
  if (results_reader_open(sc->path, &rd) != AD3D_OK)
    fail_msg("results_reader_open: %s", ad3d_errmsg());
  const int64_t n = NR + 5;
  assert_int_equal(results_reader_count(rd), n);
  task_record *got_recs = NULL;
  int64_t ngot = 0;
  assert_int_equal(results_read_tasks(sc->path, &got_recs, &ngot), AD3D_OK);
  assert_int_equal(ngot, n);
  for (int pass = 0; pass < 2; pass++) { /* the second time, after a release: the file reopened */
    for (int i = 0; i < n; i++) {
      task_record want;
      task_scores want_s, got;
      int has;
      reader_want(i, &want, &want_s, &has);
      const task_record *rec = &results_reader_records(rd)[i];
      expect_record_eq(rec, &want);
      expect_record_eq(&got_recs[i], &want);
      assert_string_equal(got_recs[i].recorded_at, rec->recorded_at);
      /* stamped by results_append: the UTC time of the append (ISO 8601 sorts as text) */
      assert_int_equal(strlen(rec->recorded_at), 20);
      assert_true(strcmp(rec->recorded_at, before) >= 0 && strcmp(rec->recorded_at, after) <= 0);
      assert_int_equal(results_reader_find(rd, want.key), i);
      ad3d_status st = results_reader_scores(rd, i, &got);
      if (!has) {
        assert_int_equal(st, AD3D_ENOTFOUND);
        assert_non_null(strstr(ad3d_errmsg(), "no scores"));
        assert_null(got.names);
        continue;
      }
      if (st != AD3D_OK)
        fail_msg("results_reader_scores(%d): %s", i, ad3d_errmsg());
      expect_scores_eq(&got, &want_s);
      task_scores_free(&got);
      task_scores_free(&want_s);
    }
    assert_int_equal(results_reader_release(rd), AD3D_OK);
    assert_int_equal(results_reader_release(rd), AD3D_OK); /* twice is fine */
  }
  free(got_recs);
  assert_int_equal(results_reader_find(rd, "no/such/task@default"), -1);
  task_scores none;
  assert_int_equal(results_reader_scores(rd, -1, &none), AD3D_EINVAL);
  assert_int_equal(results_reader_scores(rd, n, &none), AD3D_EINVAL);

  /* released, then the path replaced by another file: refused, not read as the old one */
  char *other = str_printf("%s/other.h5", sc->dir);
  results_t *w = open_ok(other, &m, 0);
  task_record rec;
  task_scores s;
  gen_task(1, &rec, &s);
  append_ok(w, &rec, &s);
  task_scores_free(&s);
  assert_int_equal(results_close(w), AD3D_OK);
  assert_int_equal(rename(other, sc->path), 0);
  assert_int_equal(results_reader_scores(rd, 1, &none), AD3D_EIO);
  assert_non_null(strstr(ad3d_errmsg(), "replaced"));
  assert_int_equal(unlink(sc->path), 0); /* gone: not "no scores" */
  assert_int_equal(results_reader_scores(rd, 1, &none), AD3D_EIO);
  assert_non_null(strstr(ad3d_errmsg(), "removed"));
  assert_int_equal(results_reader_close(rd), AD3D_OK);
  assert_int_equal(results_reader_close(NULL), AD3D_OK);
  free(other);
  results_reader *bad = NULL;
  char *missing = str_printf("%s/missing.h5", sc->dir);
  assert_int_equal(results_reader_open(missing, &bad), AD3D_ENOTFOUND);
  assert_null(bad);
  free(missing);
}

/* results_append_copy records the record's own recorded_at; results_append ignores it. */
static void test_recorded_at(void **state) {
  scratch *sc = *state;
  results_meta m = meta_default();
  task_record a, b, c;
  task_scores sa, sb, sc_;
  gen_task(1, &a, &sa);
  gen_task(2, &b, &sb);
  gen_task(3, &c, &sc_);
  snprintf(a.recorded_at, sizeof a.recorded_at, "2001-02-03T04:05:06Z");
  snprintf(b.recorded_at, sizeof b.recorded_at, "1999-12-31T23:59:59Z"); /* ignored by results_append */
  char before[32], after[32];
  iso_now(before);
  results_t *r = open_ok(sc->path, &m, 0);
  assert_int_equal(results_append_copy(r, &a, &sa), AD3D_OK);
  assert_int_equal(results_append(r, &b, &sb), AD3D_OK);
  assert_int_equal(results_append_copy(r, &c, &sc_), AD3D_EINVAL); /* no time to keep */
  assert_non_null(strstr(ad3d_errmsg(), "recorded_at"));
  assert_int_equal(results_close(r), AD3D_OK);
  iso_now(after);
  task_record *got = NULL;
  int64_t n = 0;
  assert_int_equal(results_read_tasks(sc->path, &got, &n), AD3D_OK);
  assert_int_equal(n, 2);
  expect_record_eq(&got[0], &a);
  expect_record_eq(&got[1], &b);
  assert_string_equal(got[0].recorded_at, "2001-02-03T04:05:06Z");
  assert_true(strcmp(got[1].recorded_at, before) >= 0 && strcmp(got[1].recorded_at, after) <= 0);
  free(got);
  task_scores s;
  assert_int_equal(results_read_scores(sc->path, a.key, &s), AD3D_OK);
  expect_scores_eq(&s, &sa);
  task_scores_free(&s);
  task_scores_free(&sa);
  task_scores_free(&sb);
  task_scores_free(&sc_);
}

static void expect_slice(const char *path, int32_t index, int32_t count) {
  int32_t i = -7, n = -7;
  if (results_read_slice(path, &i, &n) != AD3D_OK)
    fail_msg("results_read_slice %s: %s", path, ad3d_errmsg());
  assert_int_equal(i, index);
  assert_int_equal(n, count);
}

/* A sliced run's file stores its slice (and format_minor); resuming it as another slice is refused
 * unless forced; a file without a slice takes any; a malformed slice is a format error. */
static void test_slice(void **state) {
  scratch *sc = *state;
  results_meta m = meta_default();
  m.slice_index = 1;
  m.slice_count = 3;
  results_t *r = open_ok(sc->path, &m, 0);
  assert_int_equal(results_close(r), AD3D_OK);
  expect_slice(sc->path, 1, 3);
  char *v = NULL;
  assert_int_equal(results_read_attr(sc->path, "format_minor", &v), AD3D_OK);
  assert_string_equal(v, "1");
  free(v);
  assert_int_equal(results_read_attr(sc->path, "slice_count", &v), AD3D_OK);
  assert_string_equal(v, "3");
  free(v);

  results_meta other = m;
  other.slice_index = 2;
  assert_int_equal(results_open(sc->path, &other, 0, &r), AD3D_EINVAL);
  assert_null(r);
  assert_non_null(strstr(ad3d_errmsg(), "slice 1/3"));
  assert_non_null(strstr(ad3d_errmsg(), "given slice 2/3"));
  other.slice_count = 0;
  other.slice_index = 0;
  assert_int_equal(results_open(sc->path, &other, 0, &r), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "the whole job"));
  r = open_ok(sc->path, &other, 1); /* forced: the stored slice stays */
  assert_int_equal(results_close(r), AD3D_OK);
  expect_slice(sc->path, 1, 3);
  r = open_ok(sc->path, &m, 0);
  assert_int_equal(results_close(r), AD3D_OK);

  results_meta bad = m;
  bad.slice_index = 3;
  char *p2 = str_printf("%s/bad.h5", sc->dir);
  assert_int_equal(results_open(p2, &bad, 0, &r), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "3/3"));
  bad.slice_index = 0;
  bad.slice_count = -1;
  assert_int_equal(results_open(p2, &bad, 0, &r), AD3D_EINVAL);
  assert_false(is_file(p2));

  /* the whole job: no slice stored; resuming it with one is allowed and stores none */
  results_meta whole = meta_default();
  r = open_ok(p2, &whole, 0);
  assert_int_equal(results_close(r), AD3D_OK);
  expect_slice(p2, 0, 0);
  assert_int_equal(results_read_attr(p2, "slice_index", &v), AD3D_ENOTFOUND);
  whole.slice_index = 0;
  whole.slice_count = 2;
  r = open_ok(p2, &whole, 0);
  assert_int_equal(results_close(r), AD3D_OK);
  expect_slice(p2, 0, 0);

  /* one of the two attributes removed (h5py): malformed */
  char *cmd = str_printf("%s -c \"import h5py; f = h5py.File('%s', 'r+'); del f.attrs['slice_count']; f.close()\"",
                         PYTHON, sc->path);
  assert_int_equal(system(cmd), 0);
  free(cmd);
  int32_t i = 0, n = 0;
  assert_int_equal(results_read_slice(sc->path, &i, &n), AD3D_EFORMAT);
  assert_non_null(strstr(ad3d_errmsg(), "slice_index present"));
  assert_int_equal(results_open(sc->path, &m, 0, &r), AD3D_EFORMAT);
  free(p2);
}

/* A file h5py wrote by following FORMAT.md (make_store_fixtures.py): a superseded key, a row left uncommitted by a kill, unreferenced samples and points. */
static void test_h5py_written_file(void **state) {
  (void)state;
  char *path = str_printf("%s/results_v1.h5", fixture_dir);
  task_record *got = NULL;
  int64_t n = 0;
  if (results_read_tasks(path, &got, &n) != AD3D_OK)
    fail_msg("%s", ad3d_errmsg());
  assert_int_equal(n, 3);
  assert_string_equal(got[0].key, "btf_raw/shapenet/ashtray0@default");
  assert_int_equal(got[0].status, TASK_OK); /* the failed first row was superseded */
  assert_true(got[0].i_auroc == 0.75);
  assert_true(isnan(got[0].aupro));
  assert_int_equal(got[0].nsamples, 3);
  assert_int_equal(got[0].npoints, 7);
  assert_string_equal(got[1].key, "patchcore/real3d/duck@k=3");
  assert_int_equal(got[1].status, TASK_FAILED);
  assert_string_equal(got[1].error, "fit: out of memory");
  assert_string_equal(got[1].variant, "k=3");
  assert_string_equal(got[2].key, "btf_raw/shapenet/bag0@default");
  assert_int_equal(got[2].nsamples, 0);

  task_scores s;
  if (results_read_scores(path, "btf_raw/shapenet/ashtray0@default", &s) != AD3D_OK)
    fail_msg("%s", ad3d_errmsg());
  assert_int_equal(s.nsamples, 3);
  assert_string_equal(s.names[0], "ashtray0_positive0");
  assert_string_equal(s.names[2], "ashtray0_bulge1");
  assert_string_equal(s.defects[2], "bulge");
  assert_int_equal(s.labels[0], 0);
  assert_int_equal(s.labels[2], 1);
  assert_true(s.object_scores[1] == 0.5);
  assert_int_equal(s.npoints[0], 2);
  assert_int_equal(s.npoints[2], 4);
  const float want[7] = {0.0f, 0.25f, 0.5f, 1.0f, 2.0f, 4.0f, 8.0f};
  const uint8_t want_l[7] = {0, 0, 0, 0, 1, 1, 0};
  for (int p = 0; p < 7; p++) {
    assert_true(s.point_scores[p] == want[p]);
    assert_int_equal(s.point_labels[p], want_l[p]);
  }
  task_scores_free(&s);
  assert_int_equal(results_read_scores(path, "patchcore/real3d/duck@k=3", &s), AD3D_ENOTFOUND);
  assert_int_equal(results_read_scores(path, "btf_raw/shapenet/bag0@default", &s), AD3D_OK);
  assert_int_equal(s.nsamples, 0);
  task_scores_free(&s);
  char *v = NULL;
  assert_int_equal(results_read_attr(path, "hosts", &v), AD3D_OK);
  assert_string_equal(v, "localhost");
  free(v);
  /* a file of format minor 0: no format_minor, no slice; the many-task reader reads it alike */
  assert_int_equal(results_read_attr(path, "format_minor", &v), AD3D_ENOTFOUND);
  expect_slice(path, 0, 0);
  results_reader *rd = NULL;
  if (results_reader_open(path, &rd) != AD3D_OK)
    fail_msg("%s", ad3d_errmsg());
  assert_int_equal(results_reader_count(rd), 3);
  for (int i = 0; i < 3; i++) {
    expect_record_eq(&results_reader_records(rd)[i], &got[i]);
    assert_string_equal(got[i].recorded_at, "2024-05-01T12:00:00Z");
    assert_string_equal(results_reader_records(rd)[i].recorded_at, "2024-05-01T12:00:00Z");
  }
  assert_int_equal(results_reader_scores(rd, 0, &s), AD3D_OK);
  assert_int_equal(s.nsamples, 3);
  for (int p = 0; p < 7; p++)
    assert_true(s.point_scores[p] == want[p]);
  task_scores_free(&s);
  assert_int_equal(results_reader_scores(rd, 1, &s), AD3D_ENOTFOUND);
  assert_int_equal(results_reader_find(rd, "btf_raw/shapenet/cup0@default"), -1); /* not committed */
  assert_int_equal(results_reader_close(rd), AD3D_OK);
  free(got);
  free(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_large_config, setup, teardown),
      cmocka_unit_test_setup_teardown(test_chunk_crossing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_supersede, setup, teardown),
      cmocka_unit_test_setup_teardown(test_resume, setup, teardown),
      cmocka_unit_test_setup_teardown(test_config_mismatch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_second_writer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reader, setup, teardown),
      cmocka_unit_test_setup_teardown(test_recorded_at, setup, teardown),
      cmocka_unit_test_setup_teardown(test_slice, setup, teardown),
      cmocka_unit_test(test_h5py_written_file),
  };
  return cmocka_run_group_tests(tests, fixtures_make, fixtures_remove);
}
