/* tasks.c - task list expansion and single-task execution. */
#include "runner/tasks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "common/util.h"
#include "io/dataset.h"
#include "methods/method.h"
#include "metrics/roc.h"
#include "synth/quick.h"

static int copy_str(char *dst, size_t size, const char *src) {
  size_t n = strlen(src);
  if (n >= size)
    return 0;
  memcpy(dst, src, n + 1);
  return 1;
}

/* "embedded:<name>" -> the cache folder of the generated dataset, which must be in `layout`
 * (synth/quick.h); anything else is a path. */
static ad3d_status resolve_root(const char *dataset, const char *layout, const char *root, char **out) {
  if (embedded_is(root)) {
    const embedded_dataset *e;
    char *folder = NULL;
    if (embedded_find(root, &e) == AD3D_OK && embedded_dataset_folder(e, &folder) == AD3D_OK && !is_dir(folder))
      fprintf(stderr, "ad3d: generating %s into %s (once; %s)\n", root, folder, e->help);
    free(folder);
    ad3d_clear_error();
    ad3d_status st = embedded_resolve(root, layout, out);
    return st ? ad3d_fail_context(st, "datasets.%s", dataset) : AD3D_OK;
  }
  if (!is_dir(root))
    return ad3d_fail(AD3D_ENOTFOUND, "datasets.%s.root: %s is not a folder", dataset, root);
  *out = xstrdup(root);
  return *out ? AD3D_OK : AD3D_ENOMEM;
}

static int list_has(const opt_value *v, const char *s) {
  for (int i = 0; i < v->nlist; i++)
    if (!strcmp(v->list[i], s))
      return 1;
  return 0;
}

static ad3d_status push(task_t **tasks, int *n, int *cap, const task_t *t) {
  if (*n == *cap) {
    int nc = *cap ? 2 * *cap : 64;
    task_t *nt = realloc(*tasks, (size_t)nc * sizeof *nt);
    if (!nt)
      return ad3d_fail(AD3D_ENOMEM, "out of memory expanding tasks");
    *tasks = nt;
    *cap = nc;
  }
  (*tasks)[(*n)++] = *t;
  return AD3D_OK;
}

static double class_cost(const dataset_layout *L, const char *root, const char *cls) {
  class_index ci = {0};
  double bytes = 0;
  if (L->scan_class(root, cls, &ci) == AD3D_OK) {
    for (int i = 0; i < ci.ntrain; i++)
      bytes += (double)ci.train[i].bytes;
    for (int i = 0; i < ci.ntest; i++)
      bytes += (double)ci.test[i].bytes;
  }
  class_index_free(&ci);
  return bytes;
}

static int cmp_task(const void *a, const void *b) {
  const task_t *x = a, *y = b;
  if (x->cost != y->cost)
    return x->cost < y->cost ? 1 : -1;
  return strcmp(x->key, y->key);
}

/* The tasks of one (variant, dataset): every listed method x every selected class. */
static ad3d_status expand_dataset(const job_t *job, int v, const char *ds, task_t **tasks, int *n, int *cap) {
  const opts_t *o = &job->variants[v].opts;
  char key[256];
  snprintf(key, sizeof key, "datasets.%s.layout", ds);
  const char *layout = opts_str(o, key);
  snprintf(key, sizeof key, "datasets.%s.root", ds);
  const char *root_text = opts_str(o, key);
  snprintf(key, sizeof key, "datasets.%s.classes", ds);
  const opt_value *ds_classes = opts_list(o, key);
  const opt_value *run_classes = opts_list(o, "run.classes");
  const opt_value *methods = opts_list(o, "run.methods");
  const dataset_layout *L = dataset_layout_find(layout);
  if (!L)
    return ad3d_fail(AD3D_EINVAL, "datasets.%s.layout: unknown layout \"%s\"", ds, layout);

  char *root = NULL, **classes = NULL;
  int ncls = 0;
  ad3d_status st = resolve_root(ds, layout, root_text, &root);
  if (st)
    return st;
  if ((st = L->list_classes(root, &classes, &ncls))) {
    free(root);
    return ad3d_fail_context(st, "dataset %s", ds);
  }
  /* a class named in the dataset's own list must exist: a typo must not shrink the benchmark */
  const opt_value all = {.list = classes, .nlist = ncls};
  for (int i = 0; i < ds_classes->nlist && !st; i++)
    if (!list_has(&all, ds_classes->list[i]))
      st = ad3d_fail(AD3D_ENOTFOUND, "dataset %s (%s): no class folder \"%s\"", ds, root, ds_classes->list[i]);
  for (int c = 0; c < ncls && !st; c++) {
    if ((ds_classes->nlist && !list_has(ds_classes, classes[c])) ||
        (run_classes->nlist && !list_has(run_classes, classes[c])))
      continue;
    double cost = class_cost(L, root, classes[c]);
    for (int m = 0; m < methods->nlist && !st; m++) {
      task_t t = {0};
      t.variant = v;
      t.cost = cost;
      int ok = copy_str(t.method, sizeof t.method, methods->list[m]) && copy_str(t.dataset, sizeof t.dataset, ds) &&
               copy_str(t.layout, sizeof t.layout, layout) && copy_str(t.root, sizeof t.root, root) &&
               copy_str(t.cls, sizeof t.cls, classes[c]);
      int klen = snprintf(t.key, sizeof t.key, "%s/%s/%s@%s", t.method, ds, classes[c], job->variants[v].name);
      if (!ok || klen >= (int)sizeof t.key)
        st = ad3d_fail(AD3D_EINVAL, "task %s/%s/%s: a name or path is too long", t.method, ds, classes[c]);
      else
        st = push(tasks, n, cap, &t);
    }
  }
  strv_free(classes, ncls);
  free(root);
  return st;
}

ad3d_status tasks_expand(const job_t *job, task_t **tasks, int *ntasks) {
  task_t *t = NULL;
  int n = 0, cap = 0;
  ad3d_status st = AD3D_OK;
  for (int v = 0; v < job->nvariants && !st; v++) {
    const opt_value *ds = opts_list(&job->variants[v].opts, "run.datasets");
    for (int d = 0; d < ds->nlist && !st; d++)
      st = expand_dataset(job, v, ds->list[d], &t, &n, &cap);
  }
  /* a class named in run.classes must exist in some dataset */
  for (int v = 0; v < job->nvariants && !st; v++) {
    const opt_value *want = opts_list(&job->variants[v].opts, "run.classes");
    for (int i = 0; i < want->nlist && !st; i++) {
      int found = 0;
      for (int k = 0; k < n && !found; k++)
        found = t[k].variant == v && !strcmp(t[k].cls, want->list[i]);
      if (!found)
        st = ad3d_fail(AD3D_ENOTFOUND, "run.classes: no dataset of the job has a class \"%s\"", want->list[i]);
    }
  }
  if (st) {
    free(t);
    return st;
  }
  /* the same key twice would be recorded twice; equal keys have equal costs (same class), so the
   * (cost, key) order puts them next to each other */
  if (n > 1)
    qsort(t, (size_t)n, sizeof *t, cmp_task);
  for (int i = 0; i + 1 < n; i++)
    if (!strcmp(t[i].key, t[i + 1].key)) {
      st = ad3d_fail(AD3D_EINVAL, "task %s appears twice in the job", t[i].key);
      free(t);
      return st;
    }
  *tasks = t;
  *ntasks = n;
  return AD3D_OK;
}

/* ---- execution ---- */

static void fail_record(task_record *rec, const char *stage) {
  rec->status = TASK_FAILED;
  snprintf(rec->error, sizeof rec->error, "%s: %s", stage, ad3d_errmsg());
}

/* A metric that is undefined for this task (e.g. only normal test samples) is recorded as NaN. */
static void compute_metrics(task_record *rec, const task_scores *sc) {
  double v;
  rec->i_auroc = roc_auc_f64(sc->object_scores, sc->labels, sc->nsamples, &v) ? NAN : v;
  rec->i_ap = average_precision_f64(sc->object_scores, sc->labels, sc->nsamples, &v) ? NAN : v;
  rec->p_auroc = roc_auc_f32(sc->point_scores, sc->point_labels, sc->total_points, &v) ? NAN : v;
  rec->p_ap = average_precision_f32(sc->point_scores, sc->point_labels, sc->total_points, &v) ? NAN : v;
  rec->aupro = NAN; /* AUPRO is not implemented yet */
  ad3d_clear_error();
}

static ad3d_status alloc_scores(task_scores *sc, const class_data_t *d) {
  int64_t ns = d->ntest, total = 0;
  for (int i = 0; i < d->ntest; i++)
    total += d->test[i].cloud.n;
  sc->nsamples = ns;
  sc->total_points = total;
  sc->names = calloc((size_t)ns + 1, sizeof *sc->names);
  sc->defects = calloc((size_t)ns + 1, sizeof *sc->defects);
  sc->labels = calloc((size_t)ns + 1, 1);
  sc->object_scores = calloc((size_t)ns + 1, sizeof *sc->object_scores);
  sc->npoints = calloc((size_t)ns + 1, sizeof *sc->npoints);
  sc->point_scores = malloc(((size_t)total + 1) * sizeof *sc->point_scores);
  sc->point_labels = calloc((size_t)total + 1, 1);
  if (!sc->names || !sc->defects || !sc->labels || !sc->object_scores || !sc->npoints || !sc->point_scores ||
      !sc->point_labels)
    return ad3d_fail(AD3D_ENOMEM, "out of memory for the scores of %lld points", (long long)total);
  for (int i = 0; i < d->ntest; i++)
    if (!(sc->names[i] = xstrdup(d->test[i].name)) || !(sc->defects[i] = xstrdup(d->test[i].defect)))
      return AD3D_ENOMEM;
  return AD3D_OK;
}

void task_execute(const job_t *job, const task_t *t, int rank, task_record *rec, task_scores *scores) {
  memset(rec, 0, sizeof *rec);
  memset(scores, 0, sizeof *scores);
  snprintf(rec->key, sizeof rec->key, "%s", t->key);
  snprintf(rec->method, sizeof rec->method, "%s", t->method);
  snprintf(rec->dataset, sizeof rec->dataset, "%s", t->dataset);
  snprintf(rec->cls, sizeof rec->cls, "%s", t->cls);
  snprintf(rec->variant, sizeof rec->variant, "%s", job->variants[t->variant].name);
  rec->rank = rank;
  rec->status = TASK_OK;
  rec->i_auroc = rec->p_auroc = rec->i_ap = rec->p_ap = rec->aupro = NAN;
  ad3d_clear_error();

  const opts_t *o = &job->variants[t->variant].opts;
  const method_vt *M = method_find(t->method);
  const dataset_layout *L = dataset_layout_find(t->layout);
  class_data_t data = {0};
  void *state = NULL;
  rng_t rng;
  rng_seed_key(&rng, (uint64_t)opts_int(o, "run.seed"), t->key);

  double t0 = now_seconds();
  if (!M || !L) {
    ad3d_fail(AD3D_ENOTFOUND, "unknown %s", !M ? "method" : "layout");
    fail_record(rec, "setup");
    goto cleanup;
  }
  if (dataset_load_class(L, t->root, t->cls, &data)) {
    fail_record(rec, "load");
    goto cleanup;
  }
  if (M->create(o, &rng, &state) || M->fit(state, data.train, data.ntrain)) {
    fail_record(rec, "fit");
    goto cleanup;
  }
  double t1 = now_seconds();
  rec->fit_s = t1 - t0;
  if (alloc_scores(scores, &data)) {
    fail_record(rec, "score");
    goto cleanup;
  }
  int64_t off = 0;
  for (int i = 0; i < data.ntest; i++) {
    const sample_t *s = &data.test[i];
    float *ps = scores->point_scores + off;
    if (M->score(state, s, ps, &scores->object_scores[i])) {
      fail_record(rec, "score");
      snprintf(rec->error + strlen(rec->error), sizeof rec->error - strlen(rec->error), " (sample %s)", s->name);
      goto cleanup;
    }
    int finite = isfinite(scores->object_scores[i]);
    for (int64_t j = 0; j < s->cloud.n && finite; j++)
      finite = isfinite(ps[j]);
    if (!finite) {
      ad3d_fail(AD3D_ENUMERIC, "%s produced a non-finite score for sample %s", t->method, s->name);
      fail_record(rec, "score");
      goto cleanup;
    }
    scores->labels[i] = (uint8_t)s->anomalous;
    scores->npoints[i] = s->cloud.n;
    if (s->labels)
      memcpy(scores->point_labels + off, s->labels, (size_t)s->cloud.n);
    off += s->cloud.n;
  }
  rec->score_s = now_seconds() - t1;
  rec->nsamples = scores->nsamples;
  rec->npoints = scores->total_points;
  compute_metrics(rec, scores);

cleanup:
  if (rec->status != TASK_OK)
    task_scores_free(scores);
  if (M && state)
    M->destroy(state);
  class_data_free(&data);
  rec->peak_rss_kb = peak_rss_kb();
}
