/* cmd_report.c - `ad3d report`: I-AUROC / P-AUROC tables (methods x classes + mean) from a results
 * file, as Markdown, CSV or LaTeX, optionally beside the paper's published figures. */
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

int report_print(const char *path, report_format fmt, int paper, FILE *out) {
  task_record *recs = NULL;
  int64_t n = 0;
  if (results_read_tasks(path, &recs, &n)) {
    fprintf(stderr, "ad3d report: %s\n", ad3d_errmsg());
    return 1;
  }
  /* groups = distinct (dataset, variant), in first-recorded order */
  int *done = calloc((size_t)n + 1, sizeof *done);
  int nfailed = 0;
  for (int64_t g = 0; g < n; g++) {
    if (done[g])
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

int cmd_report(int argc, char **argv) {
  const char *path = NULL;
  report_format fmt = REPORT_MARKDOWN;
  int paper = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: ad3d report RESULTS.h5 [--format md|csv|latex] [--paper]\n"
             "  I-AUROC and P-AUROC tables, methods x classes plus the mean, one pair per dataset and variant;\n"
             "  the best value per class in bold (md, latex). --paper adds the paper's published I-AUROC\n"
             "  (IMRNet, CVPR 2024, Tables 2 and 3) beside ours for the methods both have.\n");
      return 0;
    } else if (!strcmp(argv[i], "--paper"))
      paper = 1;
    else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
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
    fprintf(stderr, "usage: ad3d report RESULTS.h5 [--format md|csv|latex] [--paper]\n");
    return 2;
  }
  return report_print(path, fmt, paper, stdout);
}
