/* store_testlib.c - see store_testlib.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "store_testlib.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/util.h"

int gen_task(int i, task_record *rec, task_scores *s) {
  memset(rec, 0, sizeof *rec);
  memset(s, 0, sizeof *s);
  snprintf(rec->key, sizeof rec->key, "gen/ds%d/c%d@default", i % 3, i);
  snprintf(rec->method, sizeof rec->method, "gen");
  snprintf(rec->dataset, sizeof rec->dataset, "ds%d", i % 3);
  snprintf(rec->cls, sizeof rec->cls, "c%d", i);
  snprintf(rec->variant, sizeof rec->variant, "default");
  rec->rank = 1 + i % 7;
  rec->fit_s = 0.25 * i;
  rec->score_s = 0.125 * i;
  rec->peak_rss_kb = 1000 + 17 * (int64_t)i;
  if (i % 5 == 4) {
    rec->status = TASK_FAILED;
    rec->i_auroc = rec->p_auroc = rec->i_ap = rec->p_ap = rec->aupro = NAN;
    snprintf(rec->error, sizeof rec->error, "fit: task %d: \"synthetic\" failure\\n", i);
    return 0;
  }
  rec->status = TASK_OK;
  rec->i_auroc = 0.5 + i / 1024.0;
  rec->p_auroc = i % 3 == 0 ? NAN : 0.75 - i / 2048.0;
  rec->i_ap = 0.25 + i / 4096.0;
  rec->p_ap = i % 2 ? NAN : 0.125;
  rec->aupro = NAN;
  int64_t ns = i % 4, total = 0;
  s->nsamples = ns;
  if (ns > 0) {
    s->names = calloc((size_t)ns, sizeof *s->names);
    s->defects = calloc((size_t)ns, sizeof *s->defects);
    s->labels = calloc((size_t)ns, 1);
    s->object_scores = calloc((size_t)ns, sizeof *s->object_scores);
    s->npoints = calloc((size_t)ns, sizeof *s->npoints);
    assert_non_null(s->names);
    assert_non_null(s->defects);
    assert_non_null(s->labels);
    assert_non_null(s->object_scores);
    assert_non_null(s->npoints);
  }
  for (int64_t j = 0; j < ns; j++) {
    s->names[j] = str_printf("c%d_sample%lld", i, (long long)j);
    s->defects[j] = xstrdup(j == 0 ? "good" : (j == 1 ? "bulge" : "crack"));
    s->labels[j] = j > 0;
    s->object_scores[j] = j == 2 && i % 3 == 0 ? NAN : i + 0.5 * (double)j;
    s->npoints[j] = 1 + (i * 7 + j * 13) % 40;
    total += s->npoints[j];
  }
  s->total_points = total;
  if (total > 0) {
    s->point_scores = malloc((size_t)total * sizeof *s->point_scores);
    s->point_labels = malloc((size_t)total);
    assert_non_null(s->point_scores);
    assert_non_null(s->point_labels);
  }
  for (int64_t p = 0; p < total; p++) {
    s->point_scores[p] = (float)(i % 64) + 0.125f * (float)(p % 50);
    s->point_labels[p] = (uint8_t)((p + i) % 3 == 0);
  }
  rec->nsamples = ns;
  rec->npoints = total;
  return 1;
}

/* A record whose strings fill their fields without a NUL, with multi-byte characters at the cut. */
void long_strings_task(task_record *rec, task_record *want, task_scores *s, task_scores *want_s) {
  memset(rec, 0, sizeof *rec);
  memset(rec->key, 'k', sizeof rec->key); /* 256 bytes, no NUL */
  snprintf(rec->method, sizeof rec->method, "btf");
  snprintf(rec->dataset, sizeof rec->dataset, "real3d");
  snprintf(rec->cls, sizeof rec->cls, "flasche_\xc3\xbc"); /* "flasche_ü" */
  memset(rec->variant, 'v', 190);
  memcpy(rec->variant + 190, "\xc3\xa9", 2); /* 'é' in the last two bytes, no NUL */
  memset(rec->error, 'e', 509);
  memcpy(rec->error + 509, "\xe2\x82\xac", 3); /* '€' in the last three bytes */
  rec->status = TASK_OK;
  rec->rank = 2;
  rec->i_auroc = INFINITY;
  rec->p_auroc = -INFINITY;
  rec->i_ap = NAN;
  rec->p_ap = 0.1;
  rec->aupro = 1e-300;
  rec->fit_s = 12.5;
  rec->score_s = 3.25;
  rec->peak_rss_kb = (int64_t)1 << 40;

  memset(s, 0, sizeof *s);
  s->nsamples = 2;
  s->names = calloc(2, sizeof *s->names);
  s->defects = calloc(2, sizeof *s->defects);
  s->labels = calloc(2, 1);
  s->object_scores = calloc(2, sizeof(double));
  s->npoints = calloc(2, sizeof(int64_t));
  s->names[0] = calloc(201, 1);
  memset(s->names[0], 'n', 200);
  s->names[1] = calloc(130, 1);
  memset(s->names[1], 'a', 126);
  memcpy(s->names[1] + 126, "\xc3\xbcx", 3); /* 'ü' straddles byte 127 */
  s->defects[0] = xstrdup("good");
  s->defects[1] = xstrdup("a_defect_name_far_longer_than_thirty_one_bytes");
  s->labels[1] = 1;
  s->object_scores[0] = -0.0;
  s->object_scores[1] = 7.75;
  s->npoints[0] = 3;
  s->npoints[1] = 2;
  s->total_points = 5;
  s->point_scores = malloc(5 * sizeof(float));
  s->point_labels = malloc(5);
  const float ps[5] = {0.5f, NAN, 1e30f, -2.0f, 3.0f};
  const uint8_t pl[5] = {0, 0, 0, 1, 1};
  memcpy(s->point_scores, ps, sizeof ps);
  memcpy(s->point_labels, pl, sizeof pl);
  rec->nsamples = 2;
  rec->npoints = 5;

  /* What must come back: 255 'k'; 190 'v' (191 bytes would split 'é'); 509 'e'. */
  *want = *rec;
  memset(want->key, 0, sizeof want->key);
  memset(want->key, 'k', 255);
  memset(want->variant, 0, sizeof want->variant);
  memset(want->variant, 'v', 190);
  memset(want->error, 0, sizeof want->error);
  memset(want->error, 'e', 509);
  *want_s = *s;
  want_s->names = calloc(2, sizeof(char *));
  want_s->defects = calloc(2, sizeof(char *));
  want_s->names[0] = calloc(201, 1);
  memset(want_s->names[0], 'n', 127);
  want_s->names[1] = calloc(130, 1);
  memset(want_s->names[1], 'a', 126);
  want_s->defects[0] = xstrdup("good");
  want_s->defects[1] = xstrdup("a_defect_name_far_longer_than_t"); /* 31 bytes */
}

void free_want_names(task_scores *w) {
  for (int j = 0; j < 2; j++) {
    free(w->names[j]);
    free(w->defects[j]);
  }
  free(w->names);
  free(w->defects);
}

/* A task of 40000 points in 3 samples: crosses /points chunks. */
void big_task(task_record *rec, task_scores *s) {
  gen_task(2, rec, s); /* 2 samples */
  task_scores_free(s);
  snprintf(rec->key, sizeof rec->key, "big/ds/cls@default");
  s->nsamples = 3;
  s->names = calloc(3, sizeof(char *));
  s->defects = calloc(3, sizeof(char *));
  s->labels = calloc(3, 1);
  s->object_scores = calloc(3, sizeof(double));
  s->npoints = calloc(3, sizeof(int64_t));
  const int64_t counts[3] = {16383, 1, 23616};
  for (int j = 0; j < 3; j++) {
    s->names[j] = str_printf("big%d", j);
    s->defects[j] = xstrdup(j ? "hole" : "good");
    s->labels[j] = j > 0;
    s->object_scores[j] = j;
    s->npoints[j] = counts[j];
  }
  s->total_points = 40000;
  s->point_scores = malloc(40000 * sizeof(float));
  s->point_labels = malloc(40000);
  for (int p = 0; p < 40000; p++) {
    s->point_scores[p] = (float)p * 0.5f;
    s->point_labels[p] = (uint8_t)(p % 7 == 0);
  }
  rec->nsamples = 3;
  rec->npoints = 40000;
}

static void expect_same_double(double got, double want, const char *what, const char *key) {
  if (isnan(want) && isnan(got))
    return;
  if (got != want)
    fail_msg("%s: %s is %.17g, expected %.17g", key, what, got, want);
}

void expect_record_eq(const task_record *got, const task_record *want) {
  const char *k = want->key;
  assert_string_equal(got->key, want->key);
  assert_string_equal(got->method, want->method);
  assert_string_equal(got->dataset, want->dataset);
  assert_string_equal(got->cls, want->cls);
  assert_string_equal(got->variant, want->variant);
  assert_string_equal(got->error, want->error);
  assert_int_equal(got->status, want->status);
  assert_int_equal(got->rank, want->rank);
  assert_int_equal(got->peak_rss_kb, want->peak_rss_kb);
  assert_int_equal(got->nsamples, want->nsamples);
  assert_int_equal(got->npoints, want->npoints);
  expect_same_double(got->i_auroc, want->i_auroc, "i_auroc", k);
  expect_same_double(got->p_auroc, want->p_auroc, "p_auroc", k);
  expect_same_double(got->i_ap, want->i_ap, "i_ap", k);
  expect_same_double(got->p_ap, want->p_ap, "p_ap", k);
  expect_same_double(got->aupro, want->aupro, "aupro", k);
  expect_same_double(got->fit_s, want->fit_s, "fit_s", k);
  expect_same_double(got->score_s, want->score_s, "score_s", k);
}

void expect_scores_eq(const task_scores *got, const task_scores *want) {
  assert_int_equal(got->nsamples, want->nsamples);
  assert_int_equal(got->total_points, want->total_points);
  for (int64_t j = 0; j < want->nsamples; j++) {
    assert_string_equal(got->names[j], want->names[j]);
    assert_string_equal(got->defects[j], want->defects[j]);
    assert_int_equal(got->labels[j], want->labels[j]);
    assert_int_equal(got->npoints[j], want->npoints[j]);
    expect_same_double(got->object_scores[j], want->object_scores[j], "object score", want->names[j]);
  }
  for (int64_t p = 0; p < want->total_points; p++) {
    if (!(got->point_scores[p] == want->point_scores[p] ||
          (isnan(got->point_scores[p]) && isnan(want->point_scores[p]))))
      fail_msg("point %lld: score %.9g, expected %.9g", (long long)p, got->point_scores[p], want->point_scores[p]);
    assert_int_equal(got->point_labels[p], want->point_labels[p]);
  }
}

char *scratch_dir(const char *tag) {
  char *d = str_printf("/tmp/ad3d_%s_XXXXXX", tag);
  assert_non_null(d);
  assert_non_null(mkdtemp(d));
  return d;
}

/* ---- JSON ---- */

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(f, "\\%c", *p);
    else if (*p < 0x20)
      fprintf(f, "\\u%04x", *p);
    else
      fputc(*p, f); /* UTF-8 passes through */
  }
  fputc('"', f);
}

static void json_double(FILE *f, double v) {
  if (isnan(v))
    fputs("NaN", f);
  else if (isinf(v))
    fputs(v > 0 ? "Infinity" : "-Infinity", f);
  else
    fprintf(f, "%.17g", v);
}

static int json_first_attr;
static int json_first_task;

FILE *json_begin(const char *path, int require_plain_open) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f, "{\"require_plain_open\": %s, \"attrs\": {", require_plain_open ? "true" : "false");
  json_first_attr = 1;
  return f;
}

static void json_attr_name(FILE *f, const char *name) {
  if (!json_first_attr)
    fputs(", ", f);
  json_first_attr = 0;
  json_str(f, name);
  fputs(": ", f);
}

void json_attr_str(FILE *f, const char *name, const char *value) {
  json_attr_name(f, name);
  json_str(f, value);
}

void json_attr_int(FILE *f, const char *name, long long value) {
  json_attr_name(f, name);
  fprintf(f, "%lld", value);
}

void json_attr_nonempty(FILE *f, const char *name) {
  json_attr_name(f, name);
  fputs("true", f);
}

void json_tasks_begin(FILE *f) {
  fputs("},\n\"tasks\": [", f);
  json_first_task = 1;
}

static void json_task_object(FILE *f, const task_record *r, const task_scores *s) {
  fputs("{\"key\": ", f);
  json_str(f, r->key);
  fputs(", \"method\": ", f);
  json_str(f, r->method);
  fputs(", \"dataset\": ", f);
  json_str(f, r->dataset);
  fputs(", \"class\": ", f);
  json_str(f, r->cls);
  fputs(", \"variant\": ", f);
  json_str(f, r->variant);
  fputs(", \"error\": ", f);
  json_str(f, r->error);
  fprintf(f, ", \"status\": %d, \"rank\": %d, \"peak_rss_kb\": %lld, \"nsamples\": %lld, \"npoints\": %lld",
          (int)r->status, (int)r->rank, (long long)r->peak_rss_kb, (long long)r->nsamples, (long long)r->npoints);
  const char *names[] = {"i_auroc", "p_auroc", "i_ap", "p_ap", "aupro", "fit_s", "score_s"};
  const double vals[] = {r->i_auroc, r->p_auroc, r->i_ap, r->p_ap, r->aupro, r->fit_s, r->score_s};
  for (int i = 0; i < 7; i++) {
    fprintf(f, ", \"%s\": ", names[i]);
    json_double(f, vals[i]);
  }
  fputs(", \"scores\": ", f);
  if (!s) {
    fputs("null}", f);
    return;
  }
  fputs("{\"names\": [", f);
  for (int64_t j = 0; j < s->nsamples; j++) {
    fputs(j ? ", " : "", f);
    json_str(f, s->names[j]);
  }
  fputs("], \"defects\": [", f);
  for (int64_t j = 0; j < s->nsamples; j++) {
    fputs(j ? ", " : "", f);
    json_str(f, s->defects[j]);
  }
  fputs("], \"labels\": [", f);
  for (int64_t j = 0; j < s->nsamples; j++)
    fprintf(f, "%s%d", j ? ", " : "", s->labels[j]);
  fputs("], \"npoints\": [", f);
  for (int64_t j = 0; j < s->nsamples; j++)
    fprintf(f, "%s%lld", j ? ", " : "", (long long)s->npoints[j]);
  fputs("], \"object_scores\": [", f);
  for (int64_t j = 0; j < s->nsamples; j++) {
    fputs(j ? ", " : "", f);
    json_double(f, s->object_scores[j]);
  }
  fputs("], \"point_scores\": [", f);
  for (int64_t p = 0; p < s->total_points; p++) {
    fputs(p ? ", " : "", f);
    json_double(f, (double)s->point_scores[p]);
  }
  fputs("], \"point_labels\": [", f);
  for (int64_t p = 0; p < s->total_points; p++)
    fprintf(f, "%s%d", p ? ", " : "", s->point_labels[p]);
  fputs("]}}", f);
}

void json_task(FILE *f, const task_record *rec, const task_scores *s) {
  fputs(json_first_task ? "\n" : ",\n", f);
  json_first_task = 0;
  json_task_object(f, rec, s);
}

void json_tasks_end(FILE *f, const task_record *optional, const task_scores *optional_s) {
  fputs("],\n\"optional_last\": ", f);
  if (optional)
    json_task_object(f, optional, optional_s);
  else
    fputs("null", f);
  fputs("}\n", f);
}

int run_reader(const char *results_path, const char *expect_path) {
  /* timeout: an h5py that hangs on a damaged file must fail the test, not stall it */
  char *cmd = str_printf("timeout 300 %s %s/read_results.py '%s' '%s'", PYTHON, STORE_TEST_DIR, results_path,
                         expect_path);
  assert_non_null(cmd);
  fflush(stdout);
  int rc = system(cmd);
  free(cmd);
  if (rc == -1 || !WIFEXITED(rc))
    return -1;
  return WEXITSTATUS(rc);
}
