/* bench_merge.c - time `ad3d merge` (results_merge) and reading every task's scores of a results
 * file, against the number of tasks.
 *
 *   bench_merge [ntasks = 400] [slices = 4] [samples = 8] [points = 200] [dir]
 *
 * Writes `slices` results files (slice i holds tasks i, i + slices, ...: the runner's round robin)
 * of `ntasks` synthetic tasks in all, each task `samples` test samples of `points` points, in a
 * fresh folder under `dir` (default $TMPDIR or /tmp, removed at the end); then times
 *   - merge:        results_merge of the slices into one file (what `ad3d merge` does);
 *   - scores/key:   results_read_scores of every task of the merged file, one call per key;
 *   - scores/open:  the same through one results_reader (opened once, then every task by index).
 * Each phase is run once (the writes dominate a second merge's page cache anyway). It checks that
 * the merged file holds every task and that both readers return the scores that were written (sums
 * of the point scores, exact in double), and prints one line of seconds per phase.
 * Not a test: built by `cmake --build <dir> --target bench`, run by hand (tests/bench/README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "store/merge.h"
#include "store/results.h"

typedef struct {
  task_record rec;
  task_scores sc;
} bench_task;

/* Task i: every value derived from i; point scores are small integers + eighths (exact sums). */
static int task_make(int64_t i, int64_t nsamples, int64_t points, bench_task *t) {
  memset(t, 0, sizeof *t);
  task_record *r = &t->rec;
  task_scores *s = &t->sc;
  snprintf(r->key, sizeof r->key, "bench/ds%lld/c%lld@default", (long long)(i % 4), (long long)i);
  snprintf(r->method, sizeof r->method, "bench");
  snprintf(r->dataset, sizeof r->dataset, "ds%lld", (long long)(i % 4));
  snprintf(r->cls, sizeof r->cls, "c%lld", (long long)i);
  snprintf(r->variant, sizeof r->variant, "default");
  r->status = TASK_OK;
  r->rank = (int32_t)(1 + i % 7);
  r->i_auroc = r->p_auroc = r->i_ap = r->p_ap = r->aupro = 0.5;
  r->fit_s = r->score_s = 1.0;
  r->nsamples = s->nsamples = nsamples;
  r->npoints = s->total_points = nsamples * points;
  s->names = calloc((size_t)nsamples + 1, sizeof *s->names);
  s->defects = calloc((size_t)nsamples + 1, sizeof *s->defects);
  s->labels = calloc((size_t)nsamples + 1, 1);
  s->object_scores = calloc((size_t)nsamples + 1, sizeof *s->object_scores);
  s->npoints = calloc((size_t)nsamples + 1, sizeof *s->npoints);
  s->point_scores = calloc((size_t)s->total_points + 1, sizeof *s->point_scores);
  s->point_labels = calloc((size_t)s->total_points + 1, 1);
  if (!s->names || !s->defects || !s->labels || !s->object_scores || !s->npoints || !s->point_scores ||
      !s->point_labels)
    return -1;
  for (int64_t j = 0; j < nsamples; j++) {
    if (!(s->names[j] = str_printf("c%lld_s%lld", (long long)i, (long long)j)) || !(s->defects[j] = xstrdup("good")))
      return -1;
    s->labels[j] = (uint8_t)(j & 1);
    s->object_scores[j] = (double)(i + j);
    s->npoints[j] = points;
  }
  for (int64_t p = 0; p < s->total_points; p++) {
    s->point_scores[p] = (float)((i + p) % 16) + 0.125f;
    s->point_labels[p] = (uint8_t)(p % 3 == 0);
  }
  return 0;
}

static double point_sum(const task_scores *s) {
  double sum = 0;
  for (int64_t p = 0; p < s->total_points; p++)
    sum += s->point_scores[p];
  return sum;
}

static int die(const char *what) {
  fprintf(stderr, "bench_merge: %s: %s\n", what, ad3d_errmsg());
  return 1;
}

int main(int argc, char **argv) {
  int64_t ntasks = argc > 1 ? strtoll(argv[1], NULL, 10) : 400;
  int nslices = argc > 2 ? atoi(argv[2]) : 4;
  int64_t nsamples = argc > 3 ? strtoll(argv[3], NULL, 10) : 8;
  int64_t points = argc > 4 ? strtoll(argv[4], NULL, 10) : 200;
  const char *base = argc > 5 ? argv[5] : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  if (ntasks < 1 || nslices < 1 || nsamples < 0 || points < 0) {
    fprintf(stderr, "usage: bench_merge [ntasks >= 1] [slices >= 1] [samples >= 0] [points >= 0] [dir]\n");
    return 2;
  }
  char *dir = str_printf("%s/ad3d-bench-merge-XXXXXX", base);
  if (!dir || !mkdtemp(dir)) {
    fprintf(stderr, "bench_merge: cannot create a folder under %s\n", base);
    return 1;
  }
  char **inputs = calloc((size_t)nslices, sizeof *inputs);
  char *out = str_printf("%s/merged.h5", dir);
  int rc = 1;
  double t0 = now_seconds();
  for (int k = 0; k < nslices; k++) {
    inputs[k] = str_printf("%s/slice-%d-of-%d.h5", dir, k, nslices);
    results_meta meta = {.program_version = "bench", .config_text = "run = {\n  seed = 1;\n};\n", .seed = 1,
                         .ranks = 1, .hosts = "bench"};
    results_t *w = NULL;
    if (results_open(inputs[k], &meta, 0, &w)) {
      rc = die(inputs[k]);
      goto done;
    }
    for (int64_t i = k; i < ntasks; i += nslices) {
      bench_task t;
      if (task_make(i, nsamples, points, &t) || results_append(w, &t.rec, &t.sc)) {
        task_scores_free(&t.sc);
        results_close(w);
        rc = die("writing a slice");
        goto done;
      }
      task_scores_free(&t.sc);
    }
    if (results_close(w)) {
      rc = die(inputs[k]);
      goto done;
    }
  }
  double t_write = now_seconds() - t0;

  merge_opts o = {.program_version = "bench"};
  merge_summary sum;
  t0 = now_seconds();
  if (results_merge(out, inputs, nslices, &o, &sum)) {
    rc = die("merge");
    goto done;
  }
  double t_merge = now_seconds() - t0;
  if (sum.ntasks != ntasks) {
    fprintf(stderr, "bench_merge: merged %lld tasks of %lld\n", (long long)sum.ntasks, (long long)ntasks);
    goto done;
  }

  /* the expected sums, computed before the timed reads */
  double *want = malloc((size_t)ntasks * sizeof *want);
  for (int64_t i = 0; want && i < ntasks; i++) {
    bench_task t;
    if (task_make(i, nsamples, points, &t)) {
      task_scores_free(&t.sc);
      free(want);
      want = NULL;
      break;
    }
    want[i] = point_sum(&t.sc);
    task_scores_free(&t.sc);
  }
  if (!want) {
    fprintf(stderr, "bench_merge: out of memory\n");
    goto done;
  }
  /* merged order = first appearance: slice 0's tasks, then slice 1's, ... */
  char key[256];
  int bad = 0;
  t0 = now_seconds();
  for (int64_t i = 0; i < ntasks; i++) {
    task_scores s;
    snprintf(key, sizeof key, "bench/ds%lld/c%lld@default", (long long)(i % 4), (long long)i);
    if (results_read_scores(out, key, &s)) {
      free(want);
      rc = die(key);
      goto done;
    }
    bad += point_sum(&s) != want[i];
    task_scores_free(&s);
  }
  double t_per_key = now_seconds() - t0;

  results_reader *rd = NULL;
  t0 = now_seconds();
  if (results_reader_open(out, &rd)) {
    free(want);
    rc = die(out);
    goto done;
  }
  for (int64_t i = 0; i < results_reader_count(rd); i++) {
    task_scores s;
    const task_record *r = &results_reader_records(rd)[i];
    long long task = strtoll(strrchr(r->key, 'c') + 1, NULL, 10);
    if (results_reader_scores(rd, i, &s)) {
      free(want);
      results_reader_close(rd);
      rc = die(r->key);
      goto done;
    }
    bad += task < 0 || task >= ntasks || point_sum(&s) != want[task];
    task_scores_free(&s);
  }
  bad += results_reader_count(rd) != ntasks;
  results_reader_close(rd);
  double t_reader = now_seconds() - t0;
  free(want);
  if (bad) {
    fprintf(stderr, "bench_merge: %d task(s) read back with other scores than written\n", bad);
    goto done;
  }
  printf("tasks %lld slices %d samples/task %lld points/sample %lld: write %.3f s, merge %.3f s, "
         "scores/key %.3f s, scores/open %.3f s\n",
         (long long)ntasks, nslices, (long long)nsamples, (long long)points, t_write, t_merge, t_per_key, t_reader);
  rc = 0;
done:
  for (int k = 0; k < nslices; k++)
    free(inputs[k]);
  free(inputs);
  free(out);
  remove_tree(dir);
  free(dir);
  return rc;
}
