/* job.c - the cfg layer: job files (libconfig), --set and --sweep arguments -> resolved variants.
 *
 * This is the only file of ad3d that includes libconfig.h. A job is loaded in four steps, later
 * ones winning: the schema defaults (run, the built-in dataset "quick", every registered method),
 * the job file, the --set overrides, then the sweeps (the file's entries, then --sweep ones).
 * Every value goes through opts_set_text against its opt_spec, so parsing and bounds are those of
 * common/opts; this file adds the libconfig type checks, the few string choices cfg knows
 * (run.sweep_mode, dataset layouts), the origin of every value ("job.cfg:7", "--set k=v") for
 * error messages, the expansion into variants and the writing of config text.
 * It does not know what a method or a layout does: it checks names only (cfg sits below io).
 */
#include "cfg/job.h"

#include <ctype.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "methods/method.h"

const opt_spec job_run_opts[] = {
    {"seed", OPT_INT, "0", 0, 1e15,
     "Global seed: every task's random stream is seeded from it and the task key (method, dataset, "
     "class, variant), so results do not depend on the number of ranks. Values above 2147483647 "
     "need libconfig's L suffix in a file (5000000000L)."},
    {"output", OPT_STRING, "results.h5", 1, 0, "Results file (HDF5) the master writes."},
    {"methods", OPT_STRINGS, "btf_raw", 1, 0, "Methods to run: names of the method sections below."},
    {"datasets", OPT_STRINGS, "quick", 1, 0, "Datasets to run on: names declared in the datasets section."},
    {"classes", OPT_STRINGS, "", 1, 0, "Classes to run, on every dataset (empty: every class)."},
    {"blas_threads", OPT_INT, "1", 1, 1024,
     "OpenBLAS threads per rank (ranks x threads should not exceed the cores of a node)."},
    {"sweep_mode", OPT_STRING, "grid", 1, 0,
     "How the sweep entries combine into variants: grid (every combination, the first entry "
     "varying slowest) or zip (the i-th values of every entry together; equal lengths)."},
    {NULL, 0, NULL, 0, 0, NULL},
};

const opt_spec job_dataset_opts[] = {
    {"layout", OPT_STRING, "anomaly_shapenet", 1, 0, "Folder layout of the dataset: anomaly_shapenet or real3d_ad."},
    {"root", OPT_STRING, "", 1, 0,
     "Folder holding one sub-folder per class, or a dataset ad3d generates into its cache on first use, in "
     "its own layout: \"embedded:quick\", \"embedded:anomaly_shapenet\" or \"embedded:real3d_ad\" (ad3d info)."},
    {"classes", OPT_STRINGS, "", 1, 0, "Classes of this dataset to run (empty: every class)."},
    {NULL, 0, NULL, 0, 0, NULL},
};

const char *const job_layouts[] = {"anomaly_shapenet", "real3d_ad", NULL};

static const char *const sweep_modes[] = {"grid", "zip", NULL};

/* Keys cfg cannot sweep: one results file per run; the mode decides how sweeps combine. */
static const char *const unsweepable[] = {"run.output", "run.sweep_mode", NULL};

#define KEY_MAX 256                  /* longest full key accepted */
#define VARIANTS_MAX 1000000         /* a sweep making more variants than this is surely a mistake */
#define EDIT_MAX 2                   /* "did you mean" only within this edit distance */
#define WHERE_MAX (4 * KEY_MAX + 16) /* "file:line" */
#define ORIGIN_MAX 512               /* "--set key=value" as quoted in messages */

/* ---------------------------------------------------------------- growable text */

typedef struct {
  char *s;
  size_t n, cap;
  int oom;
} sbuf;

static void sbuf_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sbuf_printf(sbuf *b, const char *fmt, ...) {
  if (b->oom)
    return;
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (k < 0) {
    b->oom = 1;
    return;
  }
  if (b->n + (size_t)k + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + (size_t)k + 1)
      cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
      b->oom = 1;
      return;
    }
    b->s = s;
    b->cap = cap;
  }
  va_start(ap, fmt);
  vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
  va_end(ap);
  b->n += (size_t)k;
}

/* Hand the text over (caller frees) or fail with ENOMEM. */
static ad3d_status sbuf_take(sbuf *b, char **out) {
  if (b->oom || !b->s) {
    free(b->s);
    memset(b, 0, sizeof *b);
    return ad3d_fail(AD3D_ENOMEM, "out of memory writing config text");
  }
  *out = b->s;
  memset(b, 0, sizeof *b);
  return AD3D_OK;
}

/* ---------------------------------------------------------------- names and suggestions */

/* Levenshtein distance, or INT_MAX for names longer than KEY_MAX. */
static int edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > KEY_MAX || lb > KEY_MAX)
    return INT_MAX;
  int row[KEY_MAX + 1];
  for (size_t j = 0; j <= lb; j++)
    row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int up = row[j];
      int best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best)
        best = up + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

/* The closest candidate offered so far (first one wins ties), if within EDIT_MAX. */
typedef struct {
  const char *word;
  int best;
  char name[KEY_MAX + 1];
} suggestion;

static void suggestion_init(suggestion *sg, const char *word) {
  sg->word = word;
  sg->best = EDIT_MAX + 1;
  sg->name[0] = '\0';
}

static void suggestion_offer(suggestion *sg, const char *cand) {
  int d = edit_distance(sg->word, cand);
  if (d < sg->best && strlen(cand) <= KEY_MAX) {
    sg->best = d;
    snprintf(sg->name, sizeof sg->name, "%s", cand);
  }
}

/* " (did you mean X?)" or "" - for appending to a message. */
static const char *suggestion_text(const suggestion *sg, char *buf, size_t size) {
  if (!sg->name[0])
    return "";
  snprintf(buf, size, " (did you mean %s?)", sg->name);
  return buf;
}

static const opt_spec *spec_find(const opt_spec *specs, const char *name) {
  for (const opt_spec *s = specs; s && s->name; s++)
    if (!strcmp(s->name, name))
      return s;
  return NULL;
}

/* Dataset names become libconfig setting names and key components. */
static int dataset_name_ok(const char *name) {
  if (!isalpha((unsigned char)name[0]))
    return 0;
  for (const char *p = name; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
      return 0;
  return strlen(name) < KEY_MAX / 2;
}

static int is_dataset_section(const char *section) { return !strncmp(section, "datasets.", 9); }

/* The fixed choices of a string option, or NULL. */
static const char *const *spec_choices(const char *section, const opt_spec *spec) {
  if (!strcmp(section, "run") && !strcmp(spec->name, "sweep_mode"))
    return sweep_modes;
  if (is_dataset_section(section) && !strcmp(spec->name, "layout"))
    return job_layouts;
  return NULL;
}

static int in_list(const char *const *list, const char *s) {
  for (int i = 0; list[i]; i++)
    if (!strcmp(list[i], s))
      return 1;
  return 0;
}

/* ---------------------------------------------------------------- the loader */

typedef struct {
  char *key;    /* full key */
  char *origin; /* "job.cfg:7", "--set run.seed=3" */
} origin_rec;

typedef struct {
  char *key, *section; /* "btf_raw.train_stride", "btf_raw" */
  const opt_spec *spec;
  char *origin; /* where the entry was given */
  int n;        /* number of values */
  char **texts; /* (n) each value as opts_set_text reads it */
  opts_t *vals; /* (n) each value parsed, stored under key */
} sweep_entry;

typedef struct {
  opts_t base; /* defaults, file, --set */
  origin_rec *orig;
  int norig, corig;
  sweep_entry *sw;
  int nsw;
} loader;

static void sweep_entry_clear(sweep_entry *e) {
  for (int i = 0; i < e->n; i++) {
    if (e->texts)
      free(e->texts[i]);
    if (e->vals)
      opts_free(&e->vals[i]);
  }
  free(e->texts);
  free(e->vals);
  free(e->key);
  free(e->section);
  free(e->origin);
  memset(e, 0, sizeof *e);
}

static void loader_free(loader *L) {
  opts_free(&L->base);
  for (int i = 0; i < L->norig; i++) {
    free(L->orig[i].key);
    free(L->orig[i].origin);
  }
  free(L->orig);
  for (int i = 0; i < L->nsw; i++)
    sweep_entry_clear(&L->sw[i]);
  free(L->sw);
  memset(L, 0, sizeof *L);
}

/* Where a key's base value came from (NULL: a default). */
static const char *origin_find(const loader *L, const char *key) {
  for (int i = 0; i < L->norig; i++)
    if (!strcmp(L->orig[i].key, key))
      return L->orig[i].origin;
  return NULL;
}

static const sweep_entry *sweep_find(const loader *L, const char *key) {
  for (int i = 0; i < L->nsw; i++)
    if (!strcmp(L->sw[i].key, key))
      return &L->sw[i];
  return NULL;
}

static ad3d_status origin_record(loader *L, const char *key, const char *origin) {
  for (int i = 0; i < L->norig; i++)
    if (!strcmp(L->orig[i].key, key)) {
      char *o = strdup(origin);
      if (!o)
        return ad3d_fail(AD3D_ENOMEM, "out of memory");
      free(L->orig[i].origin);
      L->orig[i].origin = o;
      return AD3D_OK;
    }
  if (L->norig == L->corig) {
    int cap = L->corig ? 2 * L->corig : 32;
    origin_rec *r = realloc(L->orig, (size_t)cap * sizeof *r);
    if (!r)
      return ad3d_fail(AD3D_ENOMEM, "out of memory");
    L->orig = r;
    L->corig = cap;
  }
  origin_rec *r = &L->orig[L->norig];
  r->key = strdup(key);
  r->origin = strdup(origin);
  if (!r->key || !r->origin) {
    free(r->key);
    free(r->origin);
    return ad3d_fail(AD3D_ENOMEM, "out of memory");
  }
  L->norig++;
  return AD3D_OK;
}

/* A set string value must be one of its option's choices. */
static ad3d_status choice_check(const char *section, const opt_spec *spec, const char *value) {
  const char *const *choices = spec_choices(section, spec);
  if (!choices || in_list(choices, value))
    return AD3D_OK;
  suggestion sg;
  suggestion_init(&sg, value);
  char all[KEY_MAX] = "";
  for (int i = 0; choices[i]; i++) {
    suggestion_offer(&sg, choices[i]);
    snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", i ? ", " : "", choices[i]);
  }
  char hint[KEY_MAX + 32];
  return ad3d_fail(AD3D_EINVAL, "%s.%s: \"%s\" is not one of %s%s", section, spec->name, value, all,
                   suggestion_text(&sg, hint, sizeof hint));
}

/* Parse text into opts o under section.spec, check its choices; errors are prefixed with origin. */
static ad3d_status value_set(opts_t *o, const char *section, const opt_spec *spec, const char *text,
                             const char *origin) {
  ad3d_status st = opts_set_text(o, section, spec, text);
  if (!st && spec->type == OPT_STRING) {
    char key[2 * KEY_MAX + 2];
    snprintf(key, sizeof key, "%s.%s", section, spec->name);
    st = choice_check(section, spec, opts_find(o, key)->s);
  }
  if (st && origin)
    return ad3d_fail_context(st, "%s", origin);
  return st;
}

/* Set a base value and remember where it came from. */
static ad3d_status base_set(loader *L, const char *section, const opt_spec *spec, const char *text,
                            const char *origin) {
  TRY(value_set(&L->base, section, spec, text, origin));
  char key[2 * KEY_MAX + 2];
  snprintf(key, sizeof key, "%s.%s", section, spec->name);
  return origin_record(L, key, origin);
}

static int dataset_declared(const opts_t *o, const char *name) {
  char key[2 * KEY_MAX];
  snprintf(key, sizeof key, "datasets.%s.root", name);
  return opts_find(o, key) != NULL;
}

/* Give a new dataset every default (no-op when it is declared). */
static ad3d_status dataset_declare(loader *L, const char *name) {
  if (dataset_declared(&L->base, name))
    return AD3D_OK;
  char section[KEY_MAX];
  snprintf(section, sizeof section, "datasets.%s", name);
  return opts_set_defaults(&L->base, section, job_dataset_opts);
}

static ad3d_status loader_defaults(loader *L) {
  TRY(opts_set_defaults(&L->base, "run", job_run_opts));
  TRY(dataset_declare(L, "quick"));
  TRY(opts_set_text(&L->base, "datasets.quick", spec_find(job_dataset_opts, "root"), "embedded:quick"));
  for (int i = 0; method_registry[i]; i++) {
    const char *name = method_registry[i]->name;
    ASSERT(strcmp(name, "run") && strcmp(name, "datasets") && strcmp(name, "sweep"));
    TRY(opts_set_defaults(&L->base, name, method_registry[i]->opts));
  }
  return AD3D_OK;
}

/* A resolved flat key: its section ("run", "datasets.quick", "btf_raw") and option. */
typedef struct {
  char section[KEY_MAX];
  const opt_spec *spec;
  char dataset[KEY_MAX]; /* dataset name for datasets.<name>.<opt>, else "" */
} keyref;

/* Resolve a flat key. A datasets key may name an undeclared dataset only when allow_new. */
static ad3d_status key_resolve(const loader *L, const char *key, int allow_new, keyref *ref) {
  memset(ref, 0, sizeof *ref);
  char head[KEY_MAX] = "", mid[KEY_MAX] = "";
  const char *dot = strchr(key, '.');
  const opt_spec *specs = NULL;
  const char *opt = NULL;
  if (dot && strlen(key) < KEY_MAX) {
    snprintf(head, sizeof head, "%.*s", (int)(dot - key), key);
    if (!strcmp(head, "run")) {
      specs = job_run_opts;
      opt = dot + 1;
      snprintf(ref->section, sizeof ref->section, "run");
    } else if (!strcmp(head, "datasets")) {
      const char *dot2 = strchr(dot + 1, '.');
      if (dot2) {
        snprintf(mid, sizeof mid, "%.*s", (int)(dot2 - dot - 1), dot + 1);
        if (!dataset_name_ok(mid))
          return ad3d_fail(AD3D_EINVAL,
                           "%s: bad dataset name \"%s\" (letters, digits, _ and -, starting with a letter)", key, mid);
        if (allow_new || dataset_declared(&L->base, mid)) {
          specs = job_dataset_opts;
          opt = dot2 + 1;
          snprintf(ref->section, sizeof ref->section, "datasets.%s", mid);
          snprintf(ref->dataset, sizeof ref->dataset, "%s", mid);
        }
      }
    } else {
      const method_vt *m = method_find(head);
      if (m) {
        specs = m->opts;
        opt = dot + 1;
        snprintf(ref->section, sizeof ref->section, "%s", head);
      }
    }
  }
  if (specs)
    ref->spec = spec_find(specs, opt);
  if (ref->spec)
    return AD3D_OK;
  /* unknown: suggest the closest known full key */
  suggestion sg;
  suggestion_init(&sg, key);
  for (int i = 0; i < L->base.n; i++)
    suggestion_offer(&sg, L->base.v[i].key);
  if (specs == job_dataset_opts)
    for (const opt_spec *s = specs; s->name; s++) {
      char cand[2 * KEY_MAX];
      snprintf(cand, sizeof cand, "datasets.%s.%s", mid, s->name);
      suggestion_offer(&sg, cand);
    }
  char hint[KEY_MAX + 32];
  if (!strcmp(head, "datasets") && mid[0] && !specs && !sg.name[0])
    return ad3d_fail(AD3D_ENOTFOUND, "unknown key %s (dataset %s is not declared)", key, mid);
  return ad3d_fail(AD3D_ENOTFOUND, "unknown key %s%s", key, suggestion_text(&sg, hint, sizeof hint));
}

/* ---------------------------------------------------------------- the job file */

static const char *setting_kind(const config_setting_t *s) {
  switch (config_setting_type(s)) {
  case CONFIG_TYPE_INT:
  case CONFIG_TYPE_INT64: return "an integer";
  case CONFIG_TYPE_FLOAT: return "a real number";
  case CONFIG_TYPE_STRING: return "a string";
  case CONFIG_TYPE_BOOL: return "a boolean";
  case CONFIG_TYPE_ARRAY: return "an array";
  case CONFIG_TYPE_LIST: return "a list";
  case CONFIG_TYPE_GROUP: return "a group";
  }
  return "nothing";
}

static const char *expected_kind(opt_type t) {
  switch (t) {
  case OPT_INT: return "an integer";
  case OPT_REAL: return "a real number";
  case OPT_BOOL: return "a boolean";
  case OPT_STRING: return "a string";
  case OPT_STRINGS: return "a string or a list of strings";
  }
  return "?";
}

/* The name to show for a source file: path for the job file, an @include'd file (libconfig
 * gives its name as written) joined to the job file's folder, where libconfig looked for it. */
static void file_display(const char *file, const char *path, char *buf, size_t size) {
  const char *slash = strrchr(path, '/');
  if (!file || !strcmp(file, path))
    snprintf(buf, size, "%s", path);
  else if (file[0] == '/' || !slash)
    snprintf(buf, size, "%s", file);
  else
    snprintf(buf, size, "%.*s/%s", (int)(slash - path), path, file);
}

/* "file:line" of a setting. */
static void setting_where(const config_setting_t *s, const char *path, char *buf, size_t size) {
  char file[KEY_MAX * 4];
  file_display(config_setting_source_file(s), path, file, sizeof file);
  snprintf(buf, size, "%s:%d", file, (int)config_setting_source_line(s));
}

static int is_int_setting(const config_setting_t *s) {
  int t = config_setting_type(s);
  return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

/* The text of a scalar setting, or NULL when it is not a scalar. */
static char *scalar_text(const config_setting_t *s) {
  switch (config_setting_type(s)) {
  case CONFIG_TYPE_INT:
  case CONFIG_TYPE_INT64: return str_printf("%lld", config_setting_get_int64(s));
  case CONFIG_TYPE_FLOAT: return str_printf("%.17g", config_setting_get_float(s));
  case CONFIG_TYPE_BOOL: return str_printf("%s", config_setting_get_bool(s) ? "true" : "false");
  case CONFIG_TYPE_STRING: return str_printf("%s", config_setting_get_string(s));
  }
  return NULL;
}

/* A setting's value as the text opts_set_text reads for type t (key names it in errors):
 * integers are accepted for reals, a list option takes a string (a comma list) or an array or
 * list of strings (none holding a comma). */
static ad3d_status setting_text(const config_setting_t *s, const char *key, opt_type t, char **text) {
  int st = config_setting_type(s);
  int ok = 0;
  switch (t) {
  case OPT_INT: ok = is_int_setting(s); break;
  case OPT_REAL: ok = is_int_setting(s) || st == CONFIG_TYPE_FLOAT; break;
  case OPT_BOOL: ok = st == CONFIG_TYPE_BOOL; break;
  case OPT_STRING: ok = st == CONFIG_TYPE_STRING; break;
  case OPT_STRINGS: ok = st == CONFIG_TYPE_STRING || st == CONFIG_TYPE_ARRAY || st == CONFIG_TYPE_LIST; break;
  }
  if (!ok)
    return ad3d_fail(AD3D_EINVAL, "%s: expected %s, got %s", key, expected_kind(t), setting_kind(s));
  if (t != OPT_STRINGS || st == CONFIG_TYPE_STRING) {
    *text = scalar_text(s);
    return *text ? AD3D_OK : AD3D_ENOMEM;
  }
  sbuf b = {0};
  sbuf_printf(&b, "%s", "");
  for (int i = 0; i < config_setting_length(s); i++) {
    const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
    if (config_setting_type(e) != CONFIG_TYPE_STRING) {
      free(b.s);
      return ad3d_fail(AD3D_EINVAL, "%s: expected a list of strings, element %d is %s", key, i + 1, setting_kind(e));
    }
    const char *v = config_setting_get_string(e);
    if (strchr(v, ',')) {
      free(b.s);
      return ad3d_fail(AD3D_EINVAL, "%s: list element \"%s\" holds a comma (write one element per name)", key, v);
    }
    sbuf_printf(&b, "%s%s", i ? "," : "", v);
  }
  return sbuf_take(&b, text);
}

/* Read the members of a group setting into section (a "run", "datasets.<name>" or method group). */
static ad3d_status file_group(loader *L, const config_setting_t *g, const char *section, const opt_spec *specs,
                              const char *path) {
  char where[WHERE_MAX], key[2 * KEY_MAX];
  for (int i = 0; i < config_setting_length(g); i++) {
    const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
    const char *name = config_setting_name(s);
    setting_where(s, path, where, sizeof where);
    snprintf(key, sizeof key, "%s.%s", section, name);
    const opt_spec *spec = spec_find(specs, name);
    if (!spec) {
      suggestion sg;
      suggestion_init(&sg, name);
      for (const opt_spec *c = specs; c->name; c++)
        suggestion_offer(&sg, c->name);
      char hint[KEY_MAX + 32];
      return ad3d_fail(AD3D_ENOTFOUND, "%s: unknown key %s%s", where, key, suggestion_text(&sg, hint, sizeof hint));
    }
    char *text = NULL;
    ad3d_status st = setting_text(s, key, spec->type, &text);
    if (!st)
      st = base_set(L, section, spec, text, where);
    else
      ad3d_fail_context(st, "%s", where);
    free(text);
    TRY(st);
  }
  return AD3D_OK;
}

static ad3d_status file_datasets(loader *L, const config_setting_t *g, const char *path) {
  char where[WHERE_MAX], section[KEY_MAX];
  for (int i = 0; i < config_setting_length(g); i++) {
    const config_setting_t *d = config_setting_get_elem(g, (unsigned)i);
    const char *name = config_setting_name(d);
    setting_where(d, path, where, sizeof where);
    if (!dataset_name_ok(name))
      return ad3d_fail(AD3D_EINVAL, "%s: bad dataset name \"%s\" (letters, digits, _ and -, starting with a letter)",
                       where, name);
    if (!config_setting_is_group(d))
      return ad3d_fail(AD3D_EINVAL, "%s: datasets.%s: expected a group, got %s", where, name, setting_kind(d));
    TRY(dataset_declare(L, name));
    snprintf(section, sizeof section, "datasets.%s", name);
    TRY(file_group(L, d, section, job_dataset_opts, path));
  }
  return AD3D_OK;
}

/* Top-level sections; the sweep setting is handed back (it is read after the --set arguments). */
static ad3d_status file_sections(loader *L, const config_setting_t *root, const char *path,
                                 const config_setting_t **sweep) {
  char where[WHERE_MAX];
  for (int i = 0; i < config_setting_length(root); i++) {
    const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
    const char *name = config_setting_name(s);
    setting_where(s, path, where, sizeof where);
    const method_vt *m = method_find(name);
    int known = m || !strcmp(name, "run") || !strcmp(name, "datasets") || !strcmp(name, "sweep");
    if (!known) {
      suggestion sg;
      suggestion_init(&sg, name);
      suggestion_offer(&sg, "run");
      suggestion_offer(&sg, "datasets");
      suggestion_offer(&sg, "sweep");
      for (int k = 0; method_registry[k]; k++)
        suggestion_offer(&sg, method_registry[k]->name);
      char hint[KEY_MAX + 32];
      return ad3d_fail(AD3D_ENOTFOUND, "%s: unknown section %s%s", where, name,
                       suggestion_text(&sg, hint, sizeof hint));
    }
    if (!strcmp(name, "sweep")) {
      if (!config_setting_is_list(s))
        return ad3d_fail(AD3D_EINVAL,
                         "%s: sweep: expected a list of groups, got %s "
                         "(sweep = ( { key = \"btf_raw.train_stride\"; values = [50, 100]; } );)",
                         where, setting_kind(s));
      *sweep = s;
      continue;
    }
    if (!config_setting_is_group(s))
      return ad3d_fail(AD3D_EINVAL, "%s: %s: expected a group, got %s", where, name, setting_kind(s));
    if (!strcmp(name, "run"))
      TRY(file_group(L, s, "run", job_run_opts, path));
    else if (!strcmp(name, "datasets"))
      TRY(file_datasets(L, s, path));
    else
      TRY(file_group(L, s, name, m->opts, path));
  }
  return AD3D_OK;
}

/* ---------------------------------------------------------------- sweeps */

/* Append an entry: key resolved against the declared keys, texts (n, taken over) checked one by one. */
static ad3d_status sweep_add(loader *L, const char *key, char **texts, int n, const char *origin) {
  sweep_entry e = {0};
  e.texts = texts;
  e.n = n;
  keyref ref;
  ad3d_status st = key_resolve(L, key, 0, &ref);
  if (st)
    goto cleanup;
  if (in_list(unsweepable, key)) {
    st = ad3d_fail(AD3D_EINVAL, "%s cannot be swept", key);
    goto cleanup;
  }
  const sweep_entry *prev = sweep_find(L, key);
  if (prev) {
    st = ad3d_fail(AD3D_EINVAL, "%s is already swept (%s)", key, prev->origin);
    goto cleanup;
  }
  if (n == 0) {
    st = ad3d_fail(AD3D_EINVAL, "sweep over %s has no values", key);
    goto cleanup;
  }
  e.key = strdup(key);
  e.section = strdup(ref.section);
  e.origin = strdup(origin);
  e.spec = ref.spec;
  e.vals = calloc((size_t)n, sizeof *e.vals);
  if (!e.key || !e.section || !e.origin || !e.vals) {
    st = ad3d_fail(AD3D_ENOMEM, "out of memory");
    goto cleanup;
  }
  for (int i = 0; i < n; i++) {
    st = value_set(&e.vals[i], e.section, e.spec, texts[i], NULL);
    if (st)
      goto cleanup;
    char a[4096], b[4096];
    opt_value_format(&e.vals[i].v[0], a, sizeof a);
    for (int j = 0; j < i; j++) {
      opt_value_format(&e.vals[j].v[0], b, sizeof b);
      if (!strcmp(a, b)) {
        st = ad3d_fail(AD3D_EINVAL, "sweep over %s repeats the value %s", key, a);
        goto cleanup;
      }
    }
  }
  sweep_entry *sw = realloc(L->sw, (size_t)(L->nsw + 1) * sizeof *sw);
  if (!sw) {
    st = ad3d_fail(AD3D_ENOMEM, "out of memory");
    goto cleanup;
  }
  L->sw = sw;
  L->sw[L->nsw++] = e;
  return AD3D_OK;
cleanup:
  sweep_entry_clear(&e);
  return ad3d_fail_context(st, "%s", origin);
}

/* One file sweep entry: { key = "..."; values = [...] or (...); }. */
static ad3d_status file_sweep_entry(loader *L, const config_setting_t *e, const char *path) {
  char at[WHERE_MAX], where[WHERE_MAX]; /* the entry's place, a member's place */
  setting_where(e, path, at, sizeof at);
  if (!config_setting_is_group(e))
    return ad3d_fail(AD3D_EINVAL, "%s: sweep entry: expected a group { key = ...; values = ...; }, got %s", at,
                     setting_kind(e));
  const config_setting_t *k = NULL, *vals = NULL;
  for (int i = 0; i < config_setting_length(e); i++) {
    const config_setting_t *m = config_setting_get_elem(e, (unsigned)i);
    const char *name = config_setting_name(m);
    if (!strcmp(name, "key"))
      k = m;
    else if (!strcmp(name, "values"))
      vals = m;
    else {
      suggestion sg;
      suggestion_init(&sg, name);
      suggestion_offer(&sg, "key");
      suggestion_offer(&sg, "values");
      char hint[KEY_MAX + 32];
      setting_where(m, path, where, sizeof where);
      return ad3d_fail(AD3D_ENOTFOUND, "%s: unknown key sweep.%s%s", where, name,
                       suggestion_text(&sg, hint, sizeof hint));
    }
  }
  if (!k || !vals)
    return ad3d_fail(AD3D_EINVAL, "%s: sweep entry needs key and values", at);
  if (config_setting_type(k) != CONFIG_TYPE_STRING) {
    setting_where(k, path, where, sizeof where);
    return ad3d_fail(AD3D_EINVAL, "%s: sweep.key: expected a string, got %s", where, setting_kind(k));
  }
  const char *key = config_setting_get_string(k);
  setting_where(vals, path, where, sizeof where);
  if (!config_setting_is_array(vals) && !config_setting_is_list(vals))
    return ad3d_fail(AD3D_EINVAL, "%s: sweep over %s: values: expected an array or a list, got %s", where, key,
                     setting_kind(vals));
  keyref ref;
  ad3d_status st = key_resolve(L, key, 0, &ref);
  if (st)
    return ad3d_fail_context(st, "%s: sweep", at);
  int n = config_setting_length(vals);
  char **texts = calloc((size_t)(n ? n : 1), sizeof *texts);
  if (!texts)
    return ad3d_fail(AD3D_ENOMEM, "out of memory");
  for (int i = 0; i < n; i++) {
    const config_setting_t *v = config_setting_get_elem(vals, (unsigned)i);
    st = setting_text(v, key, ref.spec->type, &texts[i]);
    if (st) {
      strv_free(texts, n);
      return ad3d_fail_context(st, "%s: sweep value %d", where, i + 1);
    }
  }
  return sweep_add(L, key, texts, n, at);
}

static ad3d_status file_sweeps(loader *L, const config_setting_t *sweep, const char *path) {
  for (int i = 0; sweep && i < config_setting_length(sweep); i++)
    TRY(file_sweep_entry(L, config_setting_get_elem(sweep, (unsigned)i), path));
  return AD3D_OK;
}

/* "--sweep key=v1,v2,...": values split at commas (a list key gets one-element lists). */
static ad3d_status arg_sweep(loader *L, const char *arg) {
  char origin[ORIGIN_MAX];
  snprintf(origin, sizeof origin, "--sweep %s", arg);
  const char *eq = strchr(arg, '=');
  if (!eq || eq == arg)
    return ad3d_fail(AD3D_EINVAL, "%s: expected key=value1,value2,...", origin);
  char key[KEY_MAX];
  if ((size_t)(eq - arg) >= sizeof key)
    return ad3d_fail(AD3D_EINVAL, "%s: key too long", origin);
  snprintf(key, sizeof key, "%.*s", (int)(eq - arg), arg);
  const char *p = eq + 1;
  while (*p == ' ')
    p++;
  int n = 0;
  char **texts = NULL;
  if (*p) {
    n = 1;
    for (const char *q = eq + 1; (q = strchr(q, ',')); q++)
      n++;
    texts = calloc((size_t)n, sizeof *texts);
    if (!texts)
      return ad3d_fail(AD3D_ENOMEM, "out of memory");
    const char *q = eq + 1;
    for (int i = 0; i < n; i++) {
      const char *c = strchr(q, ',');
      size_t len = c ? (size_t)(c - q) : strlen(q);
      texts[i] = strndup(q, len);
      if (!texts[i]) {
        strv_free(texts, n);
        return ad3d_fail(AD3D_ENOMEM, "out of memory");
      }
      q = c ? c + 1 : q + len;
    }
  }
  return sweep_add(L, key, texts, n, origin);
}

/* "--set key=value". A datasets.<name>.<opt> key declares the dataset if needed. */
static ad3d_status arg_set(loader *L, const char *arg) {
  char origin[ORIGIN_MAX];
  snprintf(origin, sizeof origin, "--set %s", arg);
  const char *eq = strchr(arg, '=');
  if (!eq || eq == arg)
    return ad3d_fail(AD3D_EINVAL, "%s: expected key=value", origin);
  char key[KEY_MAX];
  if ((size_t)(eq - arg) >= sizeof key)
    return ad3d_fail(AD3D_EINVAL, "%s: key too long", origin);
  snprintf(key, sizeof key, "%.*s", (int)(eq - arg), arg);
  keyref ref;
  ad3d_status st = key_resolve(L, key, 1, &ref);
  if (st)
    return ad3d_fail_context(st, "%s", origin);
  if (ref.dataset[0])
    TRY(dataset_declare(L, ref.dataset));
  return base_set(L, ref.section, ref.spec, eq + 1, origin);
}

/* ---------------------------------------------------------------- variants */

/* A value for a variant name: opt_value_format without the quotes of strings. */
static void value_display(const opt_value *v, char *buf, int size) {
  opt_value_format(v, buf, size);
  char *w = buf;
  for (const char *r = buf; *r; r++)
    if (*r != '"')
      *w++ = *r;
  *w = '\0';
}

/* The origin to blame for a key's value in a variant ("" for a default). */
static const char *variant_origin(const loader *L, const char *key) {
  const sweep_entry *e = sweep_find(L, key);
  const char *o = e ? e->origin : origin_find(L, key);
  return o ? o : "";
}

static ad3d_status variant_fail(const loader *L, const char *key, const char *vname, ad3d_status st) {
  if (L->nsw)
    ad3d_fail_context(st, "variant %s", vname);
  const char *o = variant_origin(L, key);
  return *o ? ad3d_fail_context(st, "%s", o) : st;
}

/* Every method registered, every dataset declared with a root. */
static ad3d_status variant_check(const loader *L, const opts_t *o, const char *vname) {
  const opt_value *methods = opts_list(o, "run.methods");
  if (methods->nlist == 0)
    return variant_fail(L, "run.methods", vname, ad3d_fail(AD3D_EINVAL, "run.methods is empty"));
  for (int i = 0; i < methods->nlist; i++) {
    if (method_find(methods->list[i]))
      continue;
    suggestion sg;
    suggestion_init(&sg, methods->list[i]);
    char all[1024] = "";
    for (int k = 0; method_registry[k]; k++) {
      suggestion_offer(&sg, method_registry[k]->name);
      snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", k ? ", " : "", method_registry[k]->name);
    }
    char hint[KEY_MAX + 32];
    ad3d_status st = ad3d_fail(AD3D_ENOTFOUND, "run.methods: unknown method %s%s (registered: %s)", methods->list[i],
                               suggestion_text(&sg, hint, sizeof hint), all);
    return variant_fail(L, "run.methods", vname, st);
  }
  const opt_value *datasets = opts_list(o, "run.datasets");
  if (datasets->nlist == 0)
    return variant_fail(L, "run.datasets", vname, ad3d_fail(AD3D_EINVAL, "run.datasets is empty"));
  for (int i = 0; i < datasets->nlist; i++) {
    const char *name = datasets->list[i];
    char key[2 * KEY_MAX];
    snprintf(key, sizeof key, "datasets.%s.root", name);
    const opt_value *root = opts_find(o, key);
    if (!root) {
      suggestion sg;
      suggestion_init(&sg, name);
      char **names = NULL;
      int n = 0;
      TRY(job_dataset_names(o, &names, &n));
      for (int k = 0; k < n; k++)
        suggestion_offer(&sg, names[k]);
      strv_free(names, n);
      char hint[KEY_MAX + 32];
      ad3d_status st = ad3d_fail(AD3D_ENOTFOUND, "run.datasets: dataset %s is not declared%s (declare it with %s)",
                                 name, suggestion_text(&sg, hint, sizeof hint), key);
      return variant_fail(L, "run.datasets", vname, st);
    }
    if (!root->s[0]) {
      ad3d_status st = ad3d_fail(AD3D_EINVAL, "dataset %s (in run.datasets) has an empty root: set %s", name, key);
      return variant_fail(L, *variant_origin(L, key) ? key : "run.datasets", vname, st);
    }
  }
  return AD3D_OK;
}

/* Number of variants of the sweep (1 without one). */
static ad3d_status variant_count(const loader *L, int *count) {
  if (L->nsw == 0) {
    *count = 1;
    return AD3D_OK;
  }
  if (!strcmp(opts_str(&L->base, "run.sweep_mode"), "zip")) {
    for (int j = 1; j < L->nsw; j++)
      if (L->sw[j].n != L->sw[0].n) {
        const char *o = variant_origin(L, "run.sweep_mode");
        return ad3d_fail(
            AD3D_EINVAL,
            "%s%srun.sweep_mode = zip needs sweeps of equal lengths: %s has %d values (%s), %s has %d (%s)", o,
            *o ? ": " : "", L->sw[0].key, L->sw[0].n, L->sw[0].origin, L->sw[j].key, L->sw[j].n, L->sw[j].origin);
      }
    *count = L->sw[0].n;
    return AD3D_OK;
  }
  int64_t total = 1;
  for (int j = 0; j < L->nsw; j++) {
    total *= L->sw[j].n;
    if (total > VARIANTS_MAX)
      return ad3d_fail(AD3D_EINVAL, "the sweep makes more than %d variants", VARIANTS_MAX);
  }
  *count = (int)total;
  return AD3D_OK;
}

/* Variant v: the base with the v-th combination of sweep values (the first entry varies slowest). */
static ad3d_status variant_build(const loader *L, int v, job_variant *out) {
  int zip = !strcmp(opts_str(&L->base, "run.sweep_mode"), "zip");
  TRY(opts_copy(&out->opts, &L->base));
  sbuf name = {0};
  int stride = 1; /* grid: product of the lengths of the entries after j */
  for (int j = L->nsw - 1; j >= 0; j--) {
    const sweep_entry *e = &L->sw[j];
    int i = zip ? v : (v / stride) % e->n;
    stride *= e->n;
    ad3d_status st = value_set(&out->opts, e->section, e->spec, e->texts[i], e->origin);
    if (st) {
      free(name.s);
      return st;
    }
  }
  for (int j = 0; j < L->nsw; j++) {
    const sweep_entry *e = &L->sw[j];
    const opt_value *val = opts_find(&out->opts, e->key);
    char disp[4096];
    value_display(val, disp, sizeof disp);
    sbuf_printf(&name, "%s%s=%s", j ? "," : "", e->key, disp);
  }
  if (L->nsw == 0)
    sbuf_printf(&name, "default");
  return sbuf_take(&name, &out->name);
}

/* ---------------------------------------------------------------- writing config text */

/* A libconfig string literal. */
static void write_string(sbuf *b, const char *s) {
  sbuf_printf(b, "\"");
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"': sbuf_printf(b, "\\\""); break;
    case '\\': sbuf_printf(b, "\\\\"); break;
    case '\n': sbuf_printf(b, "\\n"); break;
    case '\r': sbuf_printf(b, "\\r"); break;
    case '\t': sbuf_printf(b, "\\t"); break;
    case '\f': sbuf_printf(b, "\\f"); break;
    default:
      if (*p < 0x20 || *p == 0x7f)
        sbuf_printf(b, "\\x%02x", *p);
      else
        sbuf_printf(b, "%c", *p);
    }
  }
  sbuf_printf(b, "\"");
}

/* A value as libconfig reads it back to the same value (64-bit integers take the L suffix). */
static void write_value(sbuf *b, const opt_value *v) {
  char buf[64];
  switch (v->type) {
  case OPT_INT: sbuf_printf(b, "%lld%s", (long long)v->i, v->i > INT32_MAX || v->i < INT32_MIN ? "L" : ""); break;
  case OPT_REAL:
    opt_value_format(v, buf, sizeof buf);
    sbuf_printf(b, "%s", buf);
    break;
  case OPT_BOOL: sbuf_printf(b, "%s", v->b ? "true" : "false"); break;
  case OPT_STRING: write_string(b, v->s); break;
  case OPT_STRINGS:
    sbuf_printf(b, "[");
    for (int i = 0; i < v->nlist; i++) {
      sbuf_printf(b, "%s", i ? ", " : "");
      write_string(b, v->list[i]);
    }
    sbuf_printf(b, "]");
    break;
  }
}

/* Comment lines "<indent># text", wrapped before column 100. */
static void write_comment(sbuf *b, int indent, const char *text) {
  const int width = 100 - indent - 2;
  const char *p = text;
  while (*p) {
    while (*p == ' ')
      p++;
    int len = (int)strlen(p);
    if (len > width) {
      len = width;
      while (len > 0 && p[len] != ' ')
        len--;
      if (len == 0) /* one long word */
        for (len = width; p[len] && p[len] != ' '; len++)
          ;
    }
    sbuf_printf(b, "%*s# %.*s\n", indent, "", len, p);
    p += len;
  }
}

/* "integer in [1, 1024]", "string: grid or zip", ... for the defaults file. */
static void spec_type_info(const char *section, const opt_spec *s, char *buf, size_t size) {
  const char *const *choices = spec_choices(section, s);
  if (choices) {
    size_t n = (size_t)snprintf(buf, size, "string, one of");
    for (int i = 0; choices[i] && n < size; i++)
      n += (size_t)snprintf(buf + n, size - n, "%s %s", i ? "," : "", choices[i]);
    return;
  }
  if ((s->type == OPT_INT || s->type == OPT_REAL) && s->min <= s->max) {
    if (s->type == OPT_INT)
      snprintf(buf, size, "integer in [%.0f, %.0f]", s->min, s->max);
    else
      snprintf(buf, size, "real number in [%.15g, %.15g]", s->min, s->max);
    return;
  }
  if (s->type == OPT_STRINGS) {
    snprintf(buf, size, "list of strings: [\"a\", \"b\"] or \"a,b\"");
    return;
  }
  snprintf(buf, size, "%s", opt_type_name(s->type));
}

/* "name = { key = value; ... };" for one section of o, with help comments when with_help. */
static void write_group(sbuf *b, int indent, const char *name, const char *section, const opt_spec *specs,
                        const opts_t *o, int with_help) {
  sbuf_printf(b, "%*s%s = {\n", indent, "", name);
  for (const opt_spec *s = specs; s->name; s++) {
    char key[2 * KEY_MAX + 2];
    snprintf(key, sizeof key, "%s.%s", section, s->name);
    const opt_value *v = opts_find(o, key);
    ASSERT(v);
    if (with_help) {
      char info[256], line[512];
      spec_type_info(section, s, info, sizeof info);
      snprintf(line, sizeof line, "%s (%s)", s->help ? s->help : "", info);
      write_comment(b, indent + 2, line);
    }
    sbuf_printf(b, "%*s%s = ", indent + 2, "", s->name);
    write_value(b, v);
    sbuf_printf(b, ";\n");
  }
  sbuf_printf(b, "%*s};\n", indent, "");
}

/* Every section of the base options (and the sweep), as a libconfig file. */
static ad3d_status config_text(const loader *L, int with_help, char **text) {
  sbuf b = {0};
  if (with_help) {
    write_comment(&b, 0,
                  "ad3d defaults: every option of a job, with its default value and what it means. "
                  "Generated by job_defaults_text (src/cfg/job.c); a test keeps this file equal to it, "
                  "so edit the option tables, not this file.");
    write_comment(&b, 0,
                  "A job file sets any subset of these sections and keys (libconfig syntax); unknown "
                  "sections, unknown keys and wrong types are errors. On the command line, --set "
                  "key=value overrides a flat key (run.seed, datasets.quick.root, btf_raw.train_stride; "
                  "a list as a,b,c) and --sweep key=v1,v2,... adds a sweep entry.");
  } else {
    write_comment(&b, 0, "ad3d resolved job: every option, then the sweep; job_load reads it back to the same job.");
  }
  sbuf_printf(&b, "\n");
  if (with_help)
    write_comment(&b, 0, "run: what to run, on which datasets, and where the results go.");
  write_group(&b, 0, "run", "run", job_run_opts, &L->base, with_help);

  sbuf_printf(&b, "\n");
  if (with_help)
    write_comment(&b, 0,
                  "datasets: named datasets, one group each with the keys below. Any name can be declared "
                  "(here or with --set datasets.<name>.root=/path); \"quick\" is built in.");
  sbuf_printf(&b, "datasets = {\n");
  char **names = NULL;
  int n = 0;
  ad3d_status st = job_dataset_names(&L->base, &names, &n);
  if (st) {
    free(b.s);
    return st;
  }
  for (int i = 0; i < n; i++) {
    char section[KEY_MAX];
    snprintf(section, sizeof section, "datasets.%s", names[i]);
    write_group(&b, 2, names[i], section, job_dataset_opts, &L->base, with_help && i == 0);
  }
  strv_free(names, n);
  sbuf_printf(&b, "};\n");

  for (int i = 0; method_registry[i]; i++) {
    const method_vt *m = method_registry[i];
    sbuf_printf(&b, "\n");
    if (with_help) {
      char line[1024];
      snprintf(line, sizeof line, "%s: %s.%s%s", m->name, m->title ? m->title : m->name, m->help ? " " : "",
               m->help ? m->help : "");
      write_comment(&b, 0, line);
    }
    write_group(&b, 0, m->name, m->name, m->opts, &L->base, with_help);
  }

  if (with_help) {
    sbuf_printf(&b, "\n");
    write_comment(&b, 0,
                  "sweep: variants of the job. Each entry names a flat key and its values; the variants are "
                  "every combination (run.sweep_mode = \"grid\", the first entry varying slowest) or the i-th "
                  "values of every entry together (\"zip\"). For example:");
    write_comment(&b, 0, "sweep = ( { key = \"btf_raw.train_stride\"; values = [50, 100]; } );");
  } else if (L->nsw) {
    sbuf_printf(&b, "\nsweep = (\n");
    for (int j = 0; j < L->nsw; j++) {
      const sweep_entry *e = &L->sw[j];
      sbuf_printf(&b, "  { key = ");
      write_string(&b, e->key);
      sbuf_printf(&b, "; values = (");
      for (int i = 0; i < e->n; i++) {
        sbuf_printf(&b, "%s", i ? ", " : "");
        write_value(&b, &e->vals[i].v[0]);
      }
      sbuf_printf(&b, "); }%s\n", j + 1 < L->nsw ? "," : "");
    }
    sbuf_printf(&b, ");\n");
  }
  return sbuf_take(&b, text);
}

/* ---------------------------------------------------------------- public */

static ad3d_status file_read(loader *L, config_t *cfg, const char *path, const config_setting_t **sweep) {
  char *dir = strdup(path);
  if (!dir)
    return ad3d_fail(AD3D_ENOMEM, "out of memory");
  char *slash = strrchr(dir, '/'); /* @include paths are relative to the job file's folder */
  if (slash == dir)
    slash[1] = '\0';
  else if (slash)
    slash[0] = '\0';
  if (slash)
    config_set_include_dir(cfg, dir);
  free(dir);
  if (!config_read_file(cfg, path)) {
    if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
      return ad3d_fail(AD3D_EIO, "%s: cannot read the job file", path);
    char file[KEY_MAX * 4];
    file_display(config_error_file(cfg), path, file, sizeof file);
    return ad3d_fail(AD3D_EFORMAT, "%s:%d: %s", file, config_error_line(cfg), config_error_text(cfg));
  }
  return file_sections(L, config_root_setting(cfg), path, sweep);
}

ad3d_status job_load(const char *path, char *const *sets, int nsets, char *const *sweeps, int nsweeps, job_t *out) {
  memset(out, 0, sizeof *out);
  loader L = {0};
  config_t cfg;
  config_init(&cfg);
  const config_setting_t *sweep = NULL;
  int count = 0;
  ad3d_status st = loader_defaults(&L);
  if (!st && path)
    st = file_read(&L, &cfg, path, &sweep);
  for (int i = 0; !st && i < nsets; i++)
    st = arg_set(&L, sets[i]);
  if (!st)
    st = file_sweeps(&L, sweep, path);
  for (int i = 0; !st && i < nsweeps; i++)
    st = arg_sweep(&L, sweeps[i]);
  if (!st)
    st = variant_count(&L, &count);
  if (st)
    goto cleanup;
  out->variants = calloc((size_t)count, sizeof *out->variants);
  if (!out->variants) {
    st = ad3d_fail(AD3D_ENOMEM, "out of memory for %d variants", count);
    goto cleanup;
  }
  for (int v = 0; v < count; v++) {
    out->nvariants = v + 1;
    st = variant_build(&L, v, &out->variants[v]);
    if (!st)
      st = variant_check(&L, &out->variants[v].opts, out->variants[v].name);
    if (st)
      goto cleanup;
  }
  st = config_text(&L, 0, &out->resolved_text);
cleanup:
  config_destroy(&cfg);
  loader_free(&L);
  if (st)
    job_free(out);
  return st;
}

void job_free(job_t *job) {
  if (!job)
    return;
  for (int i = 0; i < job->nvariants; i++) {
    free(job->variants[i].name);
    opts_free(&job->variants[i].opts);
  }
  free(job->variants);
  free(job->resolved_text);
  memset(job, 0, sizeof *job);
}

ad3d_status job_defaults_text(char **text) {
  loader L = {0};
  *text = NULL;
  ad3d_status st = loader_defaults(&L);
  if (!st)
    st = config_text(&L, 1, text);
  loader_free(&L);
  return st;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

ad3d_status job_dataset_names(const opts_t *o, char ***names, int *n) {
  *names = NULL;
  *n = 0;
  int cnt = 0;
  char **v = calloc((size_t)(o->n ? o->n : 1), sizeof *v);
  if (!v)
    return ad3d_fail(AD3D_ENOMEM, "out of memory");
  for (int i = 0; i < o->n; i++) {
    const char *k = o->v[i].key;
    if (strncmp(k, "datasets.", 9) || !str_ends_with(k, ".root"))
      continue;
    size_t len = strlen(k) - 9 - 5;
    if (len == 0 || memchr(k + 9, '.', len))
      continue;
    v[cnt] = strndup(k + 9, len);
    if (!v[cnt]) {
      strv_free(v, cnt);
      return ad3d_fail(AD3D_ENOMEM, "out of memory");
    }
    cnt++;
  }
  qsort(v, (size_t)cnt, sizeof *v, cmp_str);
  *names = v;
  *n = cnt;
  return AD3D_OK;
}
