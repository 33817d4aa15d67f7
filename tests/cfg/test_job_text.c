/* test_job_text.c - the config texts against the real method registry: configs/defaults.cfg is
 * exactly job_defaults_text (run with AD3D_UPDATE_DEFAULTS=1 to rewrite the file after changing an
 * option table), reads back to the defaults, documents every option; the resolved text of a job
 * using every registered method reads back to the same job; every job file in jobs/ loads, and every
 * method it runs accepts every variant's options (method create, which checks names and ranges the
 * option tables cannot, e.g. imrnet.sampler). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cfg/job.h"
#include "common/util.h"
#include "job_test_util.h"
#include "methods/maefeat.h"
#include "methods/method.h"
#include "nn/mae.h"

#define DEFAULTS_CFG AD3D_CONFIGS "/defaults.cfg"

static char *read_all(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  assert_non_null(s);
  assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = '\0';
  fclose(f);
  return s;
}

static void test_defaults_file_current(void **state) {
  (void)state;
  char *text = NULL;
  assert_int_equal(job_defaults_text(&text), AD3D_OK);
  const char *update = getenv("AD3D_UPDATE_DEFAULTS");
  if (update && !strcmp(update, "1")) {
    FILE *f = fopen(DEFAULTS_CFG, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
  }
  char *file = read_all(DEFAULTS_CFG);
  if (!file)
    fail_msg("%s is missing: run this test with AD3D_UPDATE_DEFAULTS=1", DEFAULTS_CFG);
  if (strcmp(file, text))
    fail_msg("%s differs from job_defaults_text: run this test with AD3D_UPDATE_DEFAULTS=1", DEFAULTS_CFG);
  free(file);
  free(text);
}

/* Loading the defaults file gives the built-in defaults. */
static void test_defaults_file_loads(void **state) {
  (void)state;
  job_t a, b;
  assert_int_equal(job_load(NULL, NULL, 0, NULL, 0, &a), AD3D_OK);
  assert_int_equal(job_load(DEFAULTS_CFG, NULL, 0, NULL, 0, &b), AD3D_OK);
  assert_jobs_same(&a, &b);
  job_free(&a);
  job_free(&b);
}

/* Every option of every section appears as "name = default;" after a comment with its help. */
static void test_defaults_documented(void **state) {
  (void)state;
  char *text = NULL;
  assert_int_equal(job_defaults_text(&text), AD3D_OK);
  struct {
    const char *section;
    const opt_spec *specs;
  } sections[64];
  int ns = 0;
  sections[ns].section = "run";
  sections[ns++].specs = job_run_opts;
  sections[ns].section = "datasets.quick";
  sections[ns++].specs = job_dataset_opts;
  for (int i = 0; method_registry[i] && ns < 64; i++) {
    sections[ns].section = method_registry[i]->name;
    sections[ns++].specs = method_registry[i]->opts;
  }
  job_t job;
  assert_int_equal(job_load(NULL, NULL, 0, NULL, 0, &job), AD3D_OK);
  int count = 0;
  for (int k = 0; k < ns; k++) {
    char header[128];
    snprintf(header, sizeof header, "\n%s = {\n", strchr(sections[k].section, '.') ? "  quick" : sections[k].section);
    const char *at = strstr(text, header);
    if (!at)
      fail_msg("section %s missing", sections[k].section);
    for (const opt_spec *s = sections[k].specs; s->name; s++, count++) {
      char key[256], val[512], line[1024], help[32];
      snprintf(key, sizeof key, "%s.%s", sections[k].section, s->name);
      opt_value_format(opts_find(&job.variants[0].opts, key), val, sizeof val);
      snprintf(line, sizeof line, " %s = %s;\n", s->name, val);
      const char *l = strstr(at, line);
      if (!l)
        fail_msg("%s: no line \"%s\"", key, line);
      snprintf(help, sizeof help, "# %.20s", s->help);
      const char *h = strstr(at, help);
      if (!h || h > l)
        fail_msg("%s: help \"%s\" missing before its line", key, help);
      at = l;
    }
  }
  assert_int_equal(count, job.variants[0].opts.n);
  job_free(&job);
  free(text);
}

/* A job using every registered method, with a sweep over one option of each, round-trips. */
static void test_resolved_round_trip(void **state) {
  (void)state;
  char *sets[64], *sweeps[64];
  char methods[1024] = "run.methods=";
  int nsets = 0, nsweeps = 0;
  for (int i = 0; method_registry[i] && nsweeps < 60; i++) {
    snprintf(methods + strlen(methods), sizeof methods - strlen(methods), "%s%s", i ? "," : "",
             method_registry[i]->name);
    const opt_spec *s = &method_registry[i]->opts[0];
    if (s->name && s->type == OPT_INT)
      sweeps[nsweeps++] = str_printf("%s.%s=%s,%.0f", method_registry[i]->name, s->name, s->def,
                                     s->min <= s->max && s->min > 0 ? s->min : 1.0);
  }
  sets[nsets++] = methods;
  sets[nsets++] = "datasets.real.root=/data/Real3D-AD";
  sets[nsets++] = "datasets.real.layout=real3d_ad";
  sets[nsets++] = "run.datasets=quick,real";
  job_t job, back;
  assert_int_equal(job_load(NULL, sets, nsets, sweeps, nsweeps, &job), AD3D_OK);
  assert_true(job.nvariants >= 2);
  char *path = job_write("resolved.cfg", job.resolved_text);
  assert_int_equal(job_load(path, NULL, 0, NULL, 0, &back), AD3D_OK);
  assert_jobs_same(&job, &back);
  job_free(&job);
  job_free(&back);
  free(path);
  for (int i = 0; i < nsweeps; i++)
    free(sweeps[i]);
}

/* The checkpoint loader the program installs, here a new small model whatever the path: create only
 * needs a model of the right kind. */
static ad3d_status small_model(const char *path, mae_model **out) {
  (void)path;
  rng_t rng;
  rng_seed(&rng, 2);
  mae_config c = mae_config_small();
  return mae_init(out, &c, &rng);
}

static void test_job_files_valid(void **state) {
  (void)state;
  maefeat_set_loader(small_model);
  char **names;
  int n;
  assert_int_equal(list_dir(AD3D_JOBS, ".cfg", &names, &n), AD3D_OK);
  assert_true(n >= 5);
  for (int i = 0; i < n; i++) {
    char *path = str_printf("%s/%s", AD3D_JOBS, names[i]);
    job_t job;
    if (job_load(path, NULL, 0, NULL, 0, &job) != AD3D_OK)
      fail_msg("%s: %s", path, ad3d_errmsg());
    for (int v = 0; v < job.nvariants; v++) {
      const opt_value *methods = opts_list(&job.variants[v].opts, "run.methods");
      for (int k = 0; k < methods->nlist; k++) {
        const method_vt *vt = method_find(methods->list[k]);
        assert_non_null(vt);
        rng_t rng;
        rng_seed(&rng, 1);
        void *st = NULL;
        if (vt->create(&job.variants[v].opts, &rng, &st) != AD3D_OK)
          fail_msg("%s, variant %s, %s: %s", names[i], job.variants[v].name, vt->name, ad3d_errmsg());
        vt->destroy(st);
      }
    }
    job_free(&job);
    free(path);
  }
  strv_free(names, n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults_file_current),
      cmocka_unit_test(test_defaults_file_loads),
      cmocka_unit_test(test_defaults_documented),
      cmocka_unit_test(test_resolved_round_trip),
      cmocka_unit_test(test_job_files_valid),
  };
  return cmocka_run_group_tests(tests, NULL, tmp_cleanup);
}
