/* baseline_fixture.h - helpers of the baseline methods' tests (header-only): reading the block files of
 * tests/fixtures/methods (written by make_baselines_fixture.py) and running a method with options.
 *
 * A block file is a sequence of blocks, each a line "# name rows cols" followed by `rows` lines of
 * `cols` numbers. fx_load reads every block of a file; fx_get finds one by name (the test fails if it
 * is missing or has another shape).
 */
#ifndef AD3D_TESTS_METHODS_BASELINE_FIXTURE_H
#define AD3D_TESTS_METHODS_BASELINE_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "methods/method.h"

typedef struct {
  char name[64];
  int rows, cols;
  double *v; /* (rows, cols) */
} fx_block;

typedef struct {
  int n;
  fx_block b[32];
} fx_file;

static inline void fx_load(fx_file *f, const char *name) {
  const char *root = getenv("AD3D_FIXTURES");
  char path[1024];
  snprintf(path, sizeof path, "%s/methods/%s", root && *root ? root : AD3D_FIXTURES, name);
  FILE *in = fopen(path, "r");
  if (!in)
    fail_msg("cannot open %s", path);
  memset(f, 0, sizeof *f);
  fx_block *b;
  while (f->n < 32 && (b = &f->b[f->n], fscanf(in, " # %63s %d %d", b->name, &b->rows, &b->cols) == 3)) {
    b->v = malloc(sizeof *b->v * (size_t)(b->rows * b->cols > 0 ? b->rows * b->cols : 1));
    for (int i = 0; i < b->rows * b->cols; i++)
      if (fscanf(in, "%lf", &b->v[i]) != 1)
        fail_msg("%s: block %s: short read at value %d", path, b->name, i);
    f->n++;
  }
  fclose(in);
}

static inline void fx_free(fx_file *f) {
  for (int i = 0; i < f->n; i++)
    free(f->b[i].v);
  f->n = 0;
}

/* Block `name`; rows / cols < 0: any. */
static inline const fx_block *fx_get(const fx_file *f, const char *name, int rows, int cols) {
  for (int i = 0; i < f->n; i++)
    if (!strcmp(f->b[i].name, name)) {
      const fx_block *b = &f->b[i];
      if ((rows >= 0 && b->rows != rows) || (cols >= 0 && b->cols != cols))
        fail_msg("block %s is %d x %d, expected %d x %d", name, b->rows, b->cols, rows, cols);
      return b;
    }
  fail_msg("no block %s in the fixture", name);
  return NULL;
}

/* A sample from an (n, 3) block. */
static inline void fx_sample(const fx_file *f, const char *name, sample_t *s) {
  const fx_block *b = fx_get(f, name, -1, 3);
  memset(s, 0, sizeof *s);
  s->name = strdup(name);
  if (cloud_alloc(&s->cloud, b->rows) != AD3D_OK)
    fail_msg("out of memory");
  for (int i = 0; i < 3 * b->rows; i++)
    s->cloud.xyz[i] = (float)b->v[i];
}

/* Run method `name` with its defaults overridden by `sets` ("key=value" pairs, NULL-terminated; keys
 * without the section), fitted on train (ntrain) and scoring test into scores (test->cloud.n); returns
 * the object score. The seed makes the task's rng. Fails the test on any error. */
static inline double fx_run(const char *name, const char *const *sets, const sample_t *train, int ntrain,
                            const sample_t *test, float *scores, uint64_t seed) {
  const method_vt *M = method_find(name);
  if (!M)
    fail_msg("method %s is not registered", name);
  opts_t o = {0};
  if (opts_set_defaults(&o, name, M->opts) != AD3D_OK)
    fail_msg("%s", ad3d_errmsg());
  for (int i = 0; sets && sets[i]; i++) {
    const char *eq = strchr(sets[i], '=');
    const opt_spec *spec = M->opts;
    while (spec->name && (strncmp(spec->name, sets[i], (size_t)(eq - sets[i])) || spec->name[eq - sets[i]]))
      spec++;
    if (!spec->name)
      fail_msg("%s has no option %s", name, sets[i]);
    if (opts_set_text(&o, name, spec, eq + 1) != AD3D_OK)
      fail_msg("%s", ad3d_errmsg());
  }
  rng_t rng;
  rng_seed(&rng, seed);
  void *state = NULL;
  double obj = NAN;
  if (M->create(&o, &rng, &state) != AD3D_OK || M->fit(state, train, ntrain) != AD3D_OK ||
      M->score(state, test, scores, &obj) != AD3D_OK)
    fail_msg("%s: %s", name, ad3d_errmsg());
  M->destroy(state);
  opts_free(&o);
  return obj;
}

/* |got - want| <= rel |want| + abs for every entry, with a message naming the first failure. */
static inline void fx_expect_close(const char *what, const float *got, const double *want, int64_t n, double rel,
                                   double abs_tol) {
  for (int64_t i = 0; i < n; i++)
    if (!(fabs(got[i] - want[i]) <= rel * fabs(want[i]) + abs_tol))
      fail_msg("%s[%lld] = %.9g, oracle %.9g", what, (long long)i, got[i], want[i]);
}

#endif
