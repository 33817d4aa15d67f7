/* cmd_report.c - `ad3d report`: I-AUROC / P-AUROC tables (methods x classes + mean) from a results
 * file, as Markdown, CSV or LaTeX, optionally beside the paper's published figures.
 *
 * Sweeps: a file with several variants (task key "method/dataset/class@variant", variant
 * "key=value,key=value") also gets a compact variant x method table of means over classes
 * (--compact prints only that), and --group-by KEY turns a sweep into the table behind a curve:
 * rows = the values KEY takes (numeric order when they are numbers), columns = methods (or, with
 * --columns classes, the classes of one method), cells = means over classes; one table per
 * combination of the other swept keys. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "methods/method.h"
#include "store/results.h"

typedef struct {
  char *title;     /* row name */
  double *v;       /* (ncls) value or NAN */
  char *failed;    /* (ncls) 1 if the task failed */
  int paper;       /* a row of published figures */
} row_t;

typedef struct {
  int ncls, nrows;
  char **cls;
  row_t *rows;
} table_t;

static const char *method_title(const char *name) {
  const method_vt *m = method_find(name);
  return m ? m->title : name;
}

static int method_rank(const char *name) {
  for (int i = 0; method_registry[i]; i++)
    if (!strcmp(method_registry[i]->name, name))
      return i;
  return 1000;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int find_str(char **v, int n, const char *s) {
  for (int i = 0; i < n; i++)
    if (!strcmp(v[i], s))
      return i;
  return -1;
}

static void table_free(table_t *t) {
  for (int r = 0; r < t->nrows; r++) {
    free(t->rows[r].title);
    free(t->rows[r].v);
    free(t->rows[r].failed);
  }
  for (int c = 0; c < t->ncls; c++)
    free(t->cls[c]);
  free(t->rows);
  free(t->cls);
  memset(t, 0, sizeof *t);
}

static row_t *add_row(table_t *t, const char *title, int paper) {
  t->rows = realloc(t->rows, (size_t)(t->nrows + 1) * sizeof *t->rows);
  row_t *r = &t->rows[t->nrows++];
  r->title = strdup(title);
  r->v = malloc(((size_t)t->ncls + 1) * sizeof *r->v);
  r->failed = calloc((size_t)t->ncls + 1, 1);
  for (int c = 0; c < t->ncls; c++)
    r->v[c] = NAN;
  r->paper = paper;
  return r;
}

static double row_mean(const row_t *r, int ncls, int *count) {
  double s = 0;
  *count = 0;
  for (int c = 0; c < ncls; c++)
    if (isfinite(r->v[c])) {
      s += r->v[c];
      (*count)++;
    }
  return *count ? s / *count : NAN;
}

/* Split a CSV line in place into at most max fields. */
static int split_csv(char *line, char **f, int max) {
  int n = 0;
  for (char *p = line; n < max;) {
    f[n++] = p;
    p = strchr(p, ',');
    if (!p)
      break;
    *p++ = '\0';
  }
  return n;
}

/* Add "<title> (paper)" rows from the embedded table whose classes overlap ours most. */
static void add_paper_rows(table_t *t) {
  const paper_table *best = NULL;
  int best_overlap = -1;
  for (int i = 0; paper_tables[i].name; i++) {
    if (!strstr(paper_tables[i].name, "iauroc"))
      continue;
    char *text = strdup(paper_tables[i].csv), *f[128];
    char *nl = strchr(text, '\n');
    if (nl)
      *nl = '\0';
    int nf = split_csv(text, f, 128), overlap = 0;
    for (int k = 1; k < nf; k++)
      overlap += find_str(t->cls, t->ncls, f[k]) >= 0;
    /* no shared class (a generated dataset): compare means with Anomaly-ShapeNet, whose layout it uses */
    if (overlap > best_overlap || (overlap == best_overlap && strstr(paper_tables[i].name, "shapenet")))
      best = &paper_tables[i], best_overlap = overlap;
    free(text);
  }
  if (!best)
    return;
  char *text = strdup(best->csv), *save = NULL, *hdr[128];
  char *line = strtok_r(text, "\n", &save);
  int nh = split_csv(line, hdr, 128);
  int nours = t->nrows;
  while ((line = strtok_r(NULL, "\n", &save))) {
    char *f[128];
    int nf = split_csv(line, f, 128);
    for (int r = 0; r < nours; r++) {
      if (strcmp(t->rows[r].title, f[0]))
        continue;
      char title[128];
      snprintf(title, sizeof title, "%s (paper)", f[0]);
      row_t *pr = add_row(t, title, 1);
      for (int k = 1; k < nf && k < nh; k++) {
        int c = find_str(t->cls, t->ncls, hdr[k]);
        if (c >= 0)
          pr->v[c] = atof(f[k]);
        else if (!strcmp(hdr[k], "mean"))
          pr->v[t->ncls] = atof(f[k]); /* the paper's own mean (kept apart from ours) */
      }
    }
  }
  free(text);
}

static void print_table(const table_t *t, const char *caption, report_format fmt, FILE *out) {
  int nours = 0;
  for (int r = 0; r < t->nrows; r++)
    nours += !t->rows[r].paper;
  double *best = malloc(((size_t)t->ncls + 1) * sizeof *best);
  for (int c = 0; c <= t->ncls; c++) {
    best[c] = -INFINITY;
    for (int r = 0; r < t->nrows; r++) {
      if (t->rows[r].paper)
        continue;
      int cnt;
      double v = c < t->ncls ? t->rows[r].v[c] : row_mean(&t->rows[r], t->ncls, &cnt);
      if (isfinite(v) && v > best[c])
        best[c] = v;
    }
  }
  const char *sep = fmt == REPORT_CSV ? "," : fmt == REPORT_LATEX ? " & " : " | ";
  if (fmt == REPORT_MARKDOWN)
    fprintf(out, "\n**%s**\n\n| Method", caption);
  else if (fmt == REPORT_LATEX) {
    fprintf(out, "\n%% %s\n\\begin{tabular}{l", caption);
    for (int c = 0; c <= t->ncls; c++)
      fprintf(out, "%s", c == t->ncls ? "|r" : "r");
    fprintf(out, "}\n\\hline\nMethod");
  } else
    fprintf(out, "\n# %s\nmethod", caption);
  for (int c = 0; c < t->ncls; c++)
    fprintf(out, "%s%s", sep, t->cls[c]);
  fprintf(out, "%s%s", sep, fmt == REPORT_CSV ? "mean" : "Mean");
  if (fmt == REPORT_MARKDOWN) {
    fprintf(out, " |\n|---");
    for (int c = 0; c <= t->ncls; c++)
      fprintf(out, "|---:");
    fprintf(out, "|\n");
  } else
    fprintf(out, fmt == REPORT_LATEX ? " \\\\\n\\hline\n" : "\n");
  for (int r = 0; r < t->nrows; r++) {
    const row_t *row = &t->rows[r];
    fprintf(out, "%s%s", fmt == REPORT_MARKDOWN ? "| " : "", row->title);
    for (int c = 0; c <= t->ncls; c++) {
      int cnt = 0;
      double v = c < t->ncls ? row->v[c] : row->paper ? row->v[t->ncls] : row_mean(row, t->ncls, &cnt);
      char cell[64];
      if (c < t->ncls && row->failed[c])
        snprintf(cell, sizeof cell, "failed");
      else if (!isfinite(v))
        snprintf(cell, sizeof cell, fmt == REPORT_CSV ? "" : "-");
      else if (!row->paper && nours > 1 && v == best[c] && fmt == REPORT_MARKDOWN)
        snprintf(cell, sizeof cell, "**%.3f**", v);
      else if (!row->paper && nours > 1 && v == best[c] && fmt == REPORT_LATEX)
        snprintf(cell, sizeof cell, "\\textbf{%.3f}", v);
      else
        snprintf(cell, sizeof cell, fmt == REPORT_CSV ? "%.6f" : "%.3f", v);
      fprintf(out, "%s%s", sep, cell);
    }
    fprintf(out, fmt == REPORT_MARKDOWN ? " |\n" : fmt == REPORT_LATEX ? " \\\\\n" : "\n");
  }
  if (fmt == REPORT_LATEX)
    fprintf(out, "\\hline\n\\end{tabular}\n");
  free(best);
}


/* ---- grids: the variant x mean and --group-by tables ---- */

/* A table of means: row and column names, cells (nrows x ncols, NAN where nothing was measured)
 * and for each cell whether it averages fewer classes than the dataset has (a task failed). */
typedef struct {
  int nrows, ncols;
  char **rows, **cols;
  double *v;    /* (nrows x ncols) */
  char *partial; /* (nrows x ncols) */
} grid_t;

static void grid_free(grid_t *g) {
  for (int r = 0; r < g->nrows; r++)
    free(g->rows[r]);
  for (int c = 0; c < g->ncols; c++)
    free(g->cols[c]);
  free(g->rows);
  free(g->cols);
  free(g->v);
  free(g->partial);
  memset(g, 0, sizeof *g);
}

static int grid_add(char ***names, int *n, const char *name) {
  int i = find_str(*names, *n, name);
  if (i >= 0)
    return i;
  *names = realloc(*names, (size_t)(*n + 1) * sizeof **names);
  (*names)[*n] = strdup(name);
  return (*n)++;
}

static void grid_alloc(grid_t *g) {
  g->v = malloc(((size_t)g->nrows * (size_t)g->ncols + 1) * sizeof *g->v);
  g->partial = calloc((size_t)g->nrows * (size_t)g->ncols + 1, 1);
  for (int i = 0; i < g->nrows * g->ncols; i++)
    g->v[i] = NAN;
}

/* Markdown / CSV / LaTeX, the best value of each column in bold (md, latex). */
static void grid_print(const grid_t *g, const char *caption, const char *corner, report_format fmt, FILE *out) {
  const char *sep = fmt == REPORT_CSV ? "," : fmt == REPORT_LATEX ? " & " : " | ";
  int any_partial = 0;
  if (fmt == REPORT_MARKDOWN)
    fprintf(out, "\n**%s**\n\n| %s", caption, corner);
  else if (fmt == REPORT_LATEX) {
    fprintf(out, "\n%% %s\n\\begin{tabular}{l", caption);
    for (int c = 0; c < g->ncols; c++)
      fprintf(out, "r");
    fprintf(out, "}\n\\hline\n%s", corner);
  } else
    fprintf(out, "\n# %s\n%s", caption, corner);
  for (int c = 0; c < g->ncols; c++)
    fprintf(out, "%s%s", sep, g->cols[c]);
  if (fmt == REPORT_MARKDOWN) {
    fprintf(out, " |\n|---");
    for (int c = 0; c < g->ncols; c++)
      fprintf(out, "|---:");
    fprintf(out, "|\n");
  } else
    fprintf(out, fmt == REPORT_LATEX ? " \\\\\n\\hline\n" : "\n");
  for (int r = 0; r < g->nrows; r++) {
    fprintf(out, "%s%s", fmt == REPORT_MARKDOWN ? "| " : "", g->rows[r]);
    for (int c = 0; c < g->ncols; c++) {
      double v = g->v[r * g->ncols + c], best = -INFINITY;
      for (int k = 0; k < g->nrows; k++)
        if (isfinite(g->v[k * g->ncols + c]) && g->v[k * g->ncols + c] > best)
          best = g->v[k * g->ncols + c];
      const char *mark = g->partial[r * g->ncols + c] && fmt != REPORT_CSV ? "*" : "";
      any_partial |= g->partial[r * g->ncols + c];
      char cell[64];
      if (!isfinite(v))
        snprintf(cell, sizeof cell, fmt == REPORT_CSV ? "" : "-");
      else if (g->nrows > 1 && round(v * 1000) == round(best * 1000) && fmt == REPORT_MARKDOWN)
        snprintf(cell, sizeof cell, "**%.3f**%s", v, mark);
      else if (g->nrows > 1 && round(v * 1000) == round(best * 1000) && fmt == REPORT_LATEX)
        snprintf(cell, sizeof cell, "\\textbf{%.3f}%s", v, mark);
      else
        snprintf(cell, sizeof cell, fmt == REPORT_CSV ? "%.6f" : "%.3f%s", v, mark);
      fprintf(out, "%s%s", sep, cell);
    }
    fprintf(out, fmt == REPORT_MARKDOWN ? " |\n" : fmt == REPORT_LATEX ? " \\\\\n" : "\n");
  }
  if (fmt == REPORT_LATEX)
    fprintf(out, "\\hline\n\\end{tabular}\n");
  if (any_partial && fmt != REPORT_CSV)
    fprintf(out, "%s* a mean over fewer classes than the dataset has (failed or missing tasks)\n",
            fmt == REPORT_LATEX ? "% " : "\n");
}

/* Where the next "k=v" item of a variant name starts: after a comma followed by "name=" (values
 * may hold commas themselves, e.g. lists "[a, b]"). Returns the end of the current item. */
static const char *variant_item_end(const char *p) {
  for (const char *c = strchr(p, ','); c; c = strchr(c + 1, ',')) {
    const char *q = c + 1;
    size_t n = strspn(q, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.");
    if (n > 0 && q[n] == '=')
      return c;
  }
  return p + strlen(p);
}

/* Split a variant name into key / value items; calls fn(key, klen, value, vlen, ctx) for each. */
static void variant_items(const char *variant, void (*fn)(const char *, size_t, const char *, size_t, void *),
                          void *ctx) {
  if (!strcmp(variant, "default"))
    return;
  for (const char *p = variant; *p;) {
    const char *end = variant_item_end(p), *eq = memchr(p, '=', (size_t)(end - p));
    if (eq)
      fn(p, (size_t)(eq - p), eq + 1, (size_t)(end - eq - 1), ctx);
    p = *end ? end + 1 : end;
  }
}

typedef struct {
  const char *key;  /* the grouping key */
  char value[192];  /* its value in this variant ("" if absent) */
  char others[192]; /* the other items, "k=v,k=v" ("" if none) */
  char **keys;      /* every key seen (for resolving a short key) */
  int nkeys;
} variant_split;

static void split_item(const char *k, size_t kl, const char *v, size_t vl, void *ctx) {
  variant_split *s = ctx;
  char key[192];
  snprintf(key, sizeof key, "%.*s", (int)kl, k);
  if (s->keys || !s->key)
    grid_add(&s->keys, &s->nkeys, key);
  if (s->key && !strcmp(key, s->key))
    snprintf(s->value, sizeof s->value, "%.*s", (int)vl, v);
  else if (s->key) {
    size_t n = strlen(s->others);
    snprintf(s->others + n, sizeof s->others - n, "%s%.*s=%.*s", n ? "," : "", (int)kl, k, (int)vl, v);
  }
}

static void variant_split_by(const char *variant, const char *key, variant_split *s) {
  s->key = key;
  s->value[0] = s->others[0] = '\0';
  variant_items(variant, split_item, s);
}

/* Mean over the classes of (dataset, method, variant) of metric 0 (I-AUROC) or 1 (P-AUROC);
 * *partial when fewer classes than the dataset has contribute. */
static double class_mean(const task_record *recs, int64_t n, const char *ds, const char *method, const char *variant,
                         int metric, int ncls_dataset, int *partial) {
  double sum = 0;
  int cnt = 0;
  for (int64_t i = 0; i < n; i++) {
    if (strcmp(recs[i].dataset, ds) || strcmp(recs[i].method, method) || strcmp(recs[i].variant, variant))
      continue;
    double v = metric == 0 ? recs[i].i_auroc : recs[i].p_auroc;
    if (recs[i].status == TASK_OK && isfinite(v)) {
      sum += v;
      cnt++;
    }
  }
  *partial = cnt < ncls_dataset;
  return cnt ? sum / cnt : NAN;
}

/* Variant names in natural order: runs of digits compare as numbers ("k=5" before "k=10"). */
static int cmp_natural(const void *a, const void *b) {
  const char *x = *(char *const *)a, *y = *(char *const *)b;
  while (*x && *y) {
    if (isdigit((unsigned char)*x) && isdigit((unsigned char)*y)) {
      char *ex, *ey;
      double vx = strtod(x, &ex), vy = strtod(y, &ey);
      if (vx != vy)
        return vx < vy ? -1 : 1;
      x = ex, y = ey;
    } else if (*x != *y)
      return (unsigned char)*x - (unsigned char)*y;
    else
      x++, y++;
  }
  return (unsigned char)*x - (unsigned char)*y;
}

/* Distinct values of a field (0 dataset, 1 method, 2 variant, 3 class) among the records of
 * dataset ds (NULL: all), in first-recorded order; methods in registry order. */
static int distinct(const task_record *recs, int64_t n, const char *ds, int field, char ***out) {
  int m = 0;
  *out = NULL;
  for (int64_t i = 0; i < n; i++) {
    if (ds && strcmp(recs[i].dataset, ds))
      continue;
    const char *v = field == 0 ? recs[i].dataset : field == 1 ? recs[i].method : field == 2 ? recs[i].variant
                                                                                            : recs[i].cls;
    grid_add(out, &m, v);
  }
  if (field == 1)
    for (int a = 0; a < m; a++)
      for (int b = a + 1; b < m; b++) {
        int ra = method_rank((*out)[a]), rb = method_rank((*out)[b]);
        if (rb < ra || (rb == ra && strcmp((*out)[b], (*out)[a]) < 0)) {
          char *t = (*out)[a];
          (*out)[a] = (*out)[b];
          (*out)[b] = t;
        }
      }
  if (field == 3)
    qsort(*out, (size_t)m, sizeof **out, cmp_str);
  if (field == 2)
    qsort(*out, (size_t)m, sizeof **out, cmp_natural);
  return m;
}

static void strs_free(char **v, int n) {
  for (int i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

/* The compact sweep summary: per dataset, rows = variants, columns = methods, cells = means. */
static void print_variant_means(const task_record *recs, int64_t n, report_format fmt, FILE *out) {
  char **dss = NULL;
  int nds = distinct(recs, n, NULL, 0, &dss);
  for (int d = 0; d < nds; d++) {
    char **vars = NULL, **methods = NULL, **classes = NULL;
    int nv = distinct(recs, n, dss[d], 2, &vars), nm = distinct(recs, n, dss[d], 1, &methods);
    int nc = distinct(recs, n, dss[d], 3, &classes);
    for (int metric = 0; metric < 2 && nv > 1; metric++) {
      grid_t g = {0};
      for (int v = 0; v < nv; v++)
        grid_add(&g.rows, &g.nrows, vars[v]);
      for (int m = 0; m < nm; m++)
        grid_add(&g.cols, &g.ncols, method_title(methods[m]));
      grid_alloc(&g);
      for (int v = 0; v < nv; v++)
        for (int m = 0; m < nm; m++) {
          int partial;
          g.v[v * nm + m] = class_mean(recs, n, dss[d], methods[m], vars[v], metric, nc, &partial);
          g.partial[v * nm + m] = (char)partial;
        }
      char caption[512];
      snprintf(caption, sizeof caption, "Mean %s over %d classes of %s, by variant", metric ? "P-AUROC" : "I-AUROC",
               nc, dss[d]);
      grid_print(&g, caption, "Variant", fmt, out);
      grid_free(&g);
    }
    strs_free(vars, nv);
    strs_free(methods, nm);
    strs_free(classes, nc);
  }
  strs_free(dss, nds);
}

typedef struct {
  double num;
  int is_num;
  const char *text;
  int first; /* order of appearance */
} value_order;

static int cmp_value_order(const void *a, const void *b) {
  const value_order *x = a, *y = b;
  if (x->is_num && y->is_num && x->num != y->num)
    return x->num < y->num ? -1 : 1;
  return x->first - y->first;
}

/* Sort the distinct values of a swept key: numerically when all are numbers, else as they came. */
static void values_sort(char **vals, int n) {
  value_order *o = malloc(((size_t)n + 1) * sizeof *o);
  int all_num = 1;
  for (int i = 0; i < n; i++) {
    char *end;
    o[i] = (value_order){strtod(vals[i], &end), 0, vals[i], i};
    o[i].is_num = end != vals[i] && *end == '\0';
    all_num &= o[i].is_num;
  }
  for (int i = 0; i < n && !all_num; i++)
    o[i].is_num = 0;
  qsort(o, (size_t)n, sizeof *o, cmp_value_order);
  char **sorted = malloc(((size_t)n + 1) * sizeof *sorted);
  for (int i = 0; i < n; i++)
    sorted[i] = (char *)o[i].text;
  memcpy(vals, sorted, (size_t)n * sizeof *vals);
  free(sorted);
  free(o);
}

/* The swept key `want` names: itself, or the one key that ends in ".want". NULL (message on
 * stderr) if none or several. */
static char *resolve_key(const task_record *recs, int64_t n, const char *want) {
  variant_split s = {0};
  for (int64_t i = 0; i < n; i++)
    variant_split_by(recs[i].variant, NULL, &s);
  char *found = NULL;
  int matches = 0;
  if (find_str(s.keys, s.nkeys, want) >= 0)
    found = strdup(want), matches = 1;
  for (int k = 0; k < s.nkeys && !found; k++) {
    size_t kl = strlen(s.keys[k]), wl = strlen(want);
    if (kl > wl && s.keys[k][kl - wl - 1] == '.' && !strcmp(s.keys[k] + kl - wl, want))
      matches++;
  }
  for (int k = 0; k < s.nkeys && !found && matches == 1; k++) {
    size_t kl = strlen(s.keys[k]), wl = strlen(want);
    if (kl > wl && s.keys[k][kl - wl - 1] == '.' && !strcmp(s.keys[k] + kl - wl, want))
      found = strdup(s.keys[k]);
  }
  if (!found) {
    fprintf(stderr, "ad3d report: --group-by %s: %s swept key; the swept keys are:", want,
            matches > 1 ? "more than one" : "no");
    for (int k = 0; k < s.nkeys; k++)
      fprintf(stderr, " %s", s.keys[k]);
    fprintf(stderr, "%s\n", s.nkeys ? "" : " (none: the file has no sweep)");
  }
  strs_free(s.keys, s.nkeys);
  return found;
}

/* --group-by KEY: per dataset and combination of the other swept keys, rows = values of KEY,
 * columns = methods (means over classes) or, by_class, one table per method with the classes. */
static int print_group_by(const char *path, const char *want, int by_class, report_format fmt, FILE *out) {
  task_record *recs = NULL;
  int64_t n = 0;
  if (results_read_tasks(path, &recs, &n)) {
    fprintf(stderr, "ad3d report: %s\n", ad3d_errmsg());
    return 1;
  }
  char *key = resolve_key(recs, n, want);
  if (!key) {
    free(recs);
    return 1;
  }
  char **dss = NULL;
  int nds = distinct(recs, n, NULL, 0, &dss);
  for (int d = 0; d < nds; d++) {
    char **vars = NULL, **methods = NULL, **classes = NULL, **others = NULL, **values = NULL;
    int nv = distinct(recs, n, dss[d], 2, &vars), nm = distinct(recs, n, dss[d], 1, &methods);
    int nc = distinct(recs, n, dss[d], 3, &classes), no = 0, nval = 0;
    variant_split s = {0};
    for (int v = 0; v < nv; v++) {
      variant_split_by(vars[v], key, &s);
      if (s.value[0]) {
        grid_add(&others, &no, s.others);
        grid_add(&values, &nval, s.value);
      }
    }
    values_sort(values, nval);
    for (int o = 0; o < no; o++)
      for (int m = 0; m < (by_class ? nm : 1); m++)
        for (int metric = 0; metric < 2; metric++) {
          grid_t g = {0};
          for (int k = 0; k < nval; k++)
            grid_add(&g.rows, &g.nrows, values[k]);
          if (by_class) {
            for (int c = 0; c < nc; c++)
              grid_add(&g.cols, &g.ncols, classes[c]);
            grid_add(&g.cols, &g.ncols, "Mean");
          } else
            for (int k = 0; k < nm; k++)
              grid_add(&g.cols, &g.ncols, method_title(methods[k]));
          grid_alloc(&g);
          for (int v = 0; v < nv; v++) {
            variant_split_by(vars[v], key, &s);
            int r = find_str(g.rows, g.nrows, s.value);
            if (!s.value[0] || strcmp(s.others, others[o]) || r < 0)
              continue;
            for (int k = 0; k < nm; k++) {
              if (by_class && k != m)
                continue;
              int partial, col = by_class ? nc : k;
              g.v[r * g.ncols + col] = class_mean(recs, n, dss[d], methods[k], vars[v], metric, nc, &partial);
              g.partial[r * g.ncols + col] = (char)partial;
              for (int64_t i = 0; by_class && i < n; i++)
                if (!strcmp(recs[i].dataset, dss[d]) && !strcmp(recs[i].method, methods[k]) &&
                    !strcmp(recs[i].variant, vars[v]) && recs[i].status == TASK_OK)
                  g.v[r * g.ncols + find_str(classes, nc, recs[i].cls)] = metric ? recs[i].p_auroc : recs[i].i_auroc;
            }
          }
          char caption[768];
          snprintf(caption, sizeof caption, "%s%s%s by %s on %s%s%s%s", by_class ? "" : "Mean ",
                   metric ? "P-AUROC" : "I-AUROC", by_class ? "" : " over classes", key, dss[d],
                   by_class ? " for " : "", by_class ? method_title(methods[m]) : "", "");
          if (others[o][0]) {
            size_t len = strlen(caption);
            snprintf(caption + len, sizeof caption - len, " (%s)", others[o]);
          }
          grid_print(&g, caption, key, fmt, out);
          grid_free(&g);
        }
    if (nval == 0)
      fprintf(out, "\n(%s: no variant of %s sets %s)\n", dss[d], path, key);
    strs_free(s.keys, s.nkeys);
    strs_free(vars, nv);
    strs_free(methods, nm);
    strs_free(classes, nc);
    strs_free(others, no);
    strs_free(values, nval);
  }
  strs_free(dss, nds);
  free(key);
  free(recs);
  return 0;
}

/* The tables of report_print; compact: only the variant x mean tables (and the failed tasks). */
static int report_write(const char *path, report_format fmt, int paper, int compact, FILE *out) {
  task_record *recs = NULL;
  int64_t n = 0;
  if (results_read_tasks(path, &recs, &n)) {
    fprintf(stderr, "ad3d report: %s\n", ad3d_errmsg());
    return 1;
  }
  char **vars = NULL;
  int nvars = distinct(recs, n, NULL, 2, &vars);
  strs_free(vars, nvars);
  if (nvars < 2) /* no sweep: the full tables are the compact ones */
    compact = 0;
  /* groups = distinct (dataset, variant), in first-recorded order */
  int *done = calloc((size_t)n + 1, sizeof *done);
  int nfailed = 0;
  for (int64_t g = 0; g < n; g++) {
    if (done[g] || compact)
      continue;
    const char *ds = recs[g].dataset, *var = recs[g].variant;
    for (int metric = 0; metric < 2; metric++) {
      table_t t = {0};
      char **methods = NULL;
      int nm = 0;
      for (int64_t i = g; i < n; i++) {
        if (strcmp(recs[i].dataset, ds) || strcmp(recs[i].variant, var))
          continue;
        if (find_str(t.cls, t.ncls, recs[i].cls) < 0) {
          t.cls = realloc(t.cls, (size_t)(t.ncls + 1) * sizeof *t.cls);
          t.cls[t.ncls++] = strdup(recs[i].cls);
        }
        if (find_str(methods, nm, recs[i].method) < 0) {
          methods = realloc(methods, (size_t)(nm + 1) * sizeof *methods);
          methods[nm++] = recs[i].method;
        }
      }
      qsort(t.cls, (size_t)t.ncls, sizeof *t.cls, cmp_str);
      for (int a = 0; a < nm; a++) /* registry order, then by name */
        for (int b = a + 1; b < nm; b++) {
          int ra = method_rank(methods[a]), rb = method_rank(methods[b]);
          if (rb < ra || (rb == ra && strcmp(methods[b], methods[a]) < 0)) {
            char *tmp = methods[a];
            methods[a] = methods[b];
            methods[b] = tmp;
          }
        }
      for (int m = 0; m < nm; m++) {
        row_t *row = add_row(&t, method_title(methods[m]), 0);
        for (int64_t i = g; i < n; i++) {
          if (strcmp(recs[i].dataset, ds) || strcmp(recs[i].variant, var) || strcmp(recs[i].method, methods[m]))
            continue;
          int c = find_str(t.cls, t.ncls, recs[i].cls);
          row->failed[c] = recs[i].status != TASK_OK;
          row->v[c] = metric == 0 ? recs[i].i_auroc : recs[i].p_auroc;
          if (metric == 1)
            done[i] = 1;
        }
      }
      if (paper && metric == 0)
        add_paper_rows(&t);
      char caption[512];
      snprintf(caption, sizeof caption, "%s on %s (variant %s)", metric == 0 ? "I-AUROC" : "P-AUROC", ds, var);
      print_table(&t, caption, fmt, out);
      free(methods);
      table_free(&t);
    }
  }
  if (nvars > 1)
    print_variant_means(recs, n, fmt, out);
  for (int64_t i = 0; i < n; i++)
    nfailed += recs[i].status != TASK_OK;
  if (nfailed) {
    fprintf(out, "\n%d failed task(s):\n", nfailed);
    for (int64_t i = 0; i < n; i++)
      if (recs[i].status != TASK_OK)
        fprintf(out, "  %s: %s\n", recs[i].key, recs[i].error);
  }
  if (n == 0)
    fprintf(out, "%s: no tasks recorded yet\n", path);
  free(done);
  free(recs);
  return 0;
}

int report_print(const char *path, report_format fmt, int paper, FILE *out) {
  return report_write(path, fmt, paper, 0, out);
}

static const char REPORT_USAGE[] =
    "usage: ad3d report RESULTS.h5 [--format md|csv|latex] [--paper] [--compact]\n"
    "       ad3d report RESULTS.h5 --group-by KEY [--columns methods|classes] [--format md|csv|latex]\n";

int cmd_report(int argc, char **argv) {
  const char *path = NULL, *group_by = NULL;
  report_format fmt = REPORT_MARKDOWN;
  int paper = 0, compact = 0, by_class = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("%s"
             "  I-AUROC and P-AUROC tables, methods x classes plus the mean, one pair per dataset and variant;\n"
             "  the best value per class in bold (md, latex). --paper adds the paper's published I-AUROC\n"
             "  (IMRNet, CVPR 2024, Tables 2 and 3) beside ours for the methods both have. A file with several\n"
             "  variants (a sweep) also gets the means over classes, variant x method; --compact prints only those.\n"
             "  --group-by KEY: the table behind a curve of a sweep over KEY (a swept config key, e.g.\n"
             "  btf_raw.test_stride, or its last part if unique): rows = values of KEY, columns = methods,\n"
             "  cells = means over classes; --columns classes: one table per method, the classes as columns.\n"
             "  One table per dataset and combination of the other swept keys.\n",
             REPORT_USAGE);
      return 0;
    } else if (!strcmp(argv[i], "--paper"))
      paper = 1;
    else if (!strcmp(argv[i], "--compact"))
      compact = 1;
    else if (!strcmp(argv[i], "--group-by") && i + 1 < argc)
      group_by = argv[++i];
    else if (!strcmp(argv[i], "--columns") && i + 1 < argc) {
      const char *c = argv[++i];
      if (strcmp(c, "methods") && strcmp(c, "classes")) {
        fprintf(stderr, "ad3d report: --columns %s: expected methods or classes\n", c);
        return 2;
      }
      by_class = !strcmp(c, "classes");
    } else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
      const char *f = argv[++i];
      if (!strcmp(f, "md") || !strcmp(f, "markdown"))
        fmt = REPORT_MARKDOWN;
      else if (!strcmp(f, "csv"))
        fmt = REPORT_CSV;
      else if (!strcmp(f, "latex") || !strcmp(f, "tex"))
        fmt = REPORT_LATEX;
      else {
        fprintf(stderr, "ad3d report: --format %s: expected md, csv or latex\n", f);
        return 2;
      }
    } else if (argv[i][0] == '-' || path) {
      fprintf(stderr, "ad3d report: unexpected argument %s (see ad3d report --help)\n", argv[i]);
      return 2;
    } else
      path = argv[i];
  }
  if (!path) {
    fprintf(stderr, "%s", REPORT_USAGE);
    return 2;
  }
  if (group_by)
    return print_group_by(path, group_by, by_class, fmt, stdout);
  return report_write(path, fmt, paper, compact, stdout);
}
