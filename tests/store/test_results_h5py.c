/* test_results_h5py.c - files the C writer made, read by an independent reader: h5py + numpy in
 * tests/store/read_results.py, which follows FORMAT.md and checks every field, sample and point
 * against the expectations this test writes as JSON. Negative controls prove the reader fails on
 * a wrong expectation. Also: reading while the writer is still appending (SWMR read). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "store/results.h"
#include "store_testlib.h"

static const char *CONFIG = "run = {\n  seed = 42;\n};\n# \"quoted\" \\ and \xc3\xbc\n";

static results_meta meta_default(void) {
  results_meta m = {.program_version = "ad3d 0.1.0 (h5py test)", .config_text = CONFIG, .seed = 42,
                    .ranks = 3, .hosts = "node1,node2"};
  return m;
}

typedef struct {
  char *dir, *path, *json;
} scratch;

static int setup(void **state) {
  scratch *s = calloc(1, sizeof *s);
  s->dir = scratch_dir("store_h5py");
  s->path = str_printf("%s/results.h5", s->dir);
  s->json = str_printf("%s/expect.json", s->dir);
  *state = s;
  return 0;
}

static int teardown(void **state) {
  scratch *s = *state;
  remove_tree(s->dir);
  free(s->dir);
  free(s->path);
  free(s->json);
  free(s);
  return 0;
}

static void append_ok(results_t *r, const task_record *rec, const task_scores *s) {
  if (results_append(r, rec, s) != AD3D_OK)
    fail_msg("results_append: %s", ad3d_errmsg());
}

enum { NGEN = 10 };

typedef struct {
  task_record gen[NGEN], redo, longrec, longwant, big;
  task_scores gen_s[NGEN], redo_s, long_s, longwant_s, big_s;
  int has[NGEN];
} content;

static void content_make(content *c) {
  for (int i = 0; i < NGEN; i++)
    c->has[i] = gen_task(i, &c->gen[i], &c->gen_s[i]);
  gen_task(7, &c->redo, &c->redo_s); /* re-records task 4 (failed) as a success */
  snprintf(c->redo.key, sizeof c->redo.key, "%s", c->gen[4].key);
  long_strings_task(&c->longrec, &c->longwant, &c->long_s, &c->longwant_s);
  big_task(&c->big, &c->big_s);
}

static void content_free(content *c) {
  for (int i = 0; i < NGEN; i++)
    task_scores_free(&c->gen_s[i]);
  task_scores_free(&c->redo_s);
  task_scores_free(&c->long_s);
  free_want_names(&c->longwant_s);
  task_scores_free(&c->big_s);
}

static void content_write(const content *c, results_t *r) {
  for (int i = 0; i < NGEN; i++)
    append_ok(r, &c->gen[i], c->has[i] ? &c->gen_s[i] : NULL);
  append_ok(r, &c->longrec, &c->long_s);
  append_ok(r, &c->redo, &c->redo_s);
  append_ok(r, &c->big, &c->big_s);
}

/* Expectations; `tamper` 1 changes one point score, 2 drops the last task. */
static void content_expect(const content *c, const char *json, int require_plain, int tamper) {
  results_meta m = meta_default();
  FILE *f = json_begin(json, require_plain);
  json_attr_int(f, "format_version", 1);
  json_attr_str(f, "program_version", m.program_version);
  json_attr_str(f, "config", m.config_text);
  json_attr_int(f, "seed", 42);
  json_attr_int(f, "ranks", 3);
  json_attr_str(f, "hosts", m.hosts);
  json_attr_str(f, "hdf5_version", results_hdf5_version());
  json_attr_nonempty(f, "start_time");
  if (require_plain)
    json_attr_nonempty(f, "end_time");
  json_tasks_begin(f);
  for (int i = 0; i < NGEN; i++) {
    if (i == 4)
      json_task(f, &c->redo, &c->redo_s); /* the latest record, at the key's first place */
    else
      json_task(f, &c->gen[i], c->has[i] ? &c->gen_s[i] : NULL);
  }
  json_task(f, &c->longwant, &c->longwant_s);
  if (tamper == 1) {
    task_scores s = c->big_s;
    float *ps = malloc((size_t)s.total_points * sizeof *ps);
    memcpy(ps, s.point_scores, (size_t)s.total_points * sizeof *ps);
    ps[30000] += 0.5f;
    s.point_scores = ps;
    json_task(f, &c->big, &s);
    free(ps);
  } else if (tamper != 2) {
    json_task(f, &c->big, &c->big_s);
  }
  json_tasks_end(f, NULL, NULL);
  fclose(f);
}

static void test_h5py_reads_closed_file(void **state) {
  scratch *sc = *state;
  content c;
  content_make(&c);
  results_meta m = meta_default();
  results_t *r = NULL;
  if (results_open(sc->path, &m, 0, &r) != AD3D_OK)
    fail_msg("%s", ad3d_errmsg());
  content_write(&c, r);
  assert_int_equal(results_close(r), AD3D_OK);

  content_expect(&c, sc->json, 1, 0);
  assert_int_equal(run_reader(sc->path, sc->json), 0);
  content_expect(&c, sc->json, 1, 1);
  assert_int_equal(run_reader(sc->path, sc->json), 1); /* a changed point score is caught */
  content_expect(&c, sc->json, 1, 2);
  assert_int_equal(run_reader(sc->path, sc->json), 1); /* an extra task is caught */
  content_free(&c);
}

static void test_h5py_reads_while_writing(void **state) {
  scratch *sc = *state;
  content c;
  content_make(&c);
  results_meta m = meta_default();
  results_t *r = NULL;
  if (results_open(sc->path, &m, 0, &r) != AD3D_OK)
    fail_msg("%s", ad3d_errmsg());
  content_write(&c, r);
  /* The writer still holds the file: only a SWMR reader gets in, and it sees every task. */
  content_expect(&c, sc->json, 0, 0);
  assert_int_equal(run_reader(sc->path, sc->json), 0);
  content_expect(&c, sc->json, 1, 0);
  assert_int_equal(run_reader(sc->path, sc->json), 1); /* plain open is refused while writing */
  task_record *got = NULL;
  int64_t n = 0;
  assert_int_equal(results_read_tasks(sc->path, &got, &n), AD3D_OK);
  assert_int_equal(n, NGEN + 2);
  free(got);
  assert_int_equal(results_close(r), AD3D_OK);
  content_expect(&c, sc->json, 1, 0);
  assert_int_equal(run_reader(sc->path, sc->json), 0);
  content_free(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_h5py_reads_closed_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_h5py_reads_while_writing, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
