/* dataset.c - the Anomaly-ShapeNet and Real3D-AD layouts, class loading and the dataset check.
 *
 * Both layouts follow one contract that dataset_check relies on: a scanned test entry has gt_path
 * set exactly when its points and labels are to be read from that GT file; otherwise the points come
 * from cloud_path and a test sample's labels are all zero. Anomaly-ShapeNet sets gt_path for
 * anomalous samples only (normal samples have none in the release); Real3D-AD sets it for every
 * test sample that has a gt file, normal ones included. An anomalous sample without GT scans fine
 * and fails at load time (so the task that needs it fails, not the whole task list).
 *
 * Samples are ordered by name with digit runs compared as numbers (template2 before template10).
 */
#include "io/dataset.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"
#include "io/gt.h"
#include "io/pcd.h"

/* ---------------------------------------------------------------- entries and names */

static void entry_free(sample_entry *e) {
  free(e->name);
  free(e->defect);
  free(e->cloud_path);
  free(e->gt_path);
  memset(e, 0, sizeof *e);
}

void class_index_free(class_index *ci) {
  if (!ci)
    return;
  for (int i = 0; i < ci->ntrain; i++)
    entry_free(&ci->train[i]);
  for (int i = 0; i < ci->ntest; i++)
    entry_free(&ci->test[i]);
  free(ci->train);
  free(ci->test);
  free(ci->cls);
  memset(ci, 0, sizeof *ci);
}

/* Order names with runs of digits compared as numbers, then bytewise. */
static int natural_cmp(const char *a, const char *b) {
  const char *pa = a, *pb = b;
  while (*pa && *pb) {
    if (isdigit((unsigned char)*pa) && isdigit((unsigned char)*pb)) {
      while (*pa == '0')
        pa++;
      while (*pb == '0')
        pb++;
      size_t la = 0, lb = 0;
      while (isdigit((unsigned char)pa[la]))
        la++;
      while (isdigit((unsigned char)pb[lb]))
        lb++;
      if (la != lb)
        return la < lb ? -1 : 1;
      int c = memcmp(pa, pb, la);
      if (c)
        return c;
      pa += la;
      pb += lb;
    } else {
      if (*pa != *pb)
        return (unsigned char)*pa < (unsigned char)*pb ? -1 : 1;
      pa++;
      pb++;
    }
  }
  if (*pa || *pb)
    return *pa ? 1 : -1;
  return strcmp(a, b);
}

static int natural_cmp_str(const void *a, const void *b) { return natural_cmp(*(char *const *)a, *(char *const *)b); }

static int64_t file_bytes(const char *path) {
  struct stat st;
  return path && stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

/* Stems of the .pcd files of dir, in natural order. */
static ad3d_status list_pcd_stems(const char *dir, char ***stems, int *n) {
  TRY(list_dir(dir, ".pcd", stems, n));
  for (int i = 0; i < *n; i++)
    (*stems)[i][strlen((*stems)[i]) - 4] = '\0';
  if (*n > 1)
    qsort(*stems, (size_t)*n, sizeof **stems, natural_cmp_str);
  return AD3D_OK;
}

/* The GT file of `stem` in the first of the folders gt_dirs (under classdir) that has one; *path
 * stays NULL when there is none. */
static ad3d_status find_gt(const char *classdir, const char *const *gt_dirs, const char *stem, char **path) {
  *path = NULL;
  for (int i = 0; gt_dirs[i]; i++) {
    char *p = str_printf("%s/%s/%s.txt", classdir, gt_dirs[i], stem);
    if (!p)
      return AD3D_ENOMEM;
    if (is_file(p)) {
      *path = p;
      return AD3D_OK;
    }
    free(p);
  }
  return AD3D_OK;
}

/* Remove trailing digits (and then trailing '_' or '-') from s in place. */
static void strip_index(char *s) {
  size_t l = strlen(s);
  while (l > 0 && isdigit((unsigned char)s[l - 1]))
    l--;
  while (l > 0 && (s[l - 1] == '_' || s[l - 1] == '-'))
    l--;
  if (l > 0)
    s[l] = '\0';
}

/* Anomaly-ShapeNet: the defect of test stem "<cls>_<defect><k>" (malloc'ed): "good" for positive,
 * "crack" for the release's "crak", any other word as it is. A stem without the "<cls>_" prefix
 * uses the part after its last '_'. */
static char *shapenet_defect(const char *cls, const char *stem) {
  size_t lc = strlen(cls);
  const char *rest;
  if (!strncmp(stem, cls, lc) && stem[lc] == '_')
    rest = stem + lc + 1;
  else
    rest = strrchr(stem, '_') ? strrchr(stem, '_') + 1 : stem;
  char *w = xstrdup(rest);
  if (!w)
    return NULL;
  strip_index(w);
  if (!strcmp(w, "positive") || !strcmp(w, "good")) {
    free(w);
    return xstrdup("good");
  }
  if (!strcmp(w, "crak")) {
    free(w);
    return xstrdup("crack");
  }
  return w;
}

/* Real3D-AD: the kind of test stem "<id>_<kind>[_cut|_copy]" (malloc'ed); "good" is normal. */
static char *real3d_defect(const char *stem) {
  char *w = xstrdup(stem);
  if (!w)
    return NULL;
  if (str_ends_with(w, "_cut"))
    w[strlen(w) - 4] = '\0';
  else if (str_ends_with(w, "_copy"))
    w[strlen(w) - 5] = '\0';
  const char *us = strrchr(w, '_');
  if (us)
    memmove(w, us + 1, strlen(us + 1) + 1);
  strip_index(w);
  return w;
}

/* ---------------------------------------------------------------- scanning */

typedef enum { LAYOUT_SHAPENET, LAYOUT_REAL3D } layout_kind;

static const char *const shapenet_gt_dirs[] = {"GT", "gt", NULL};
static const char *const real3d_gt_dirs[] = {"gt", "GT", NULL};

static ad3d_status list_class_folders(const char *root, char ***classes, int *n) {
  char **names;
  int m;
  *classes = NULL;
  *n = 0;
  TRY(list_dir(root, NULL, &names, &m));
  int k = 0;
  for (int i = 0; i < m; i++) {
    char *p = names[i][0] == '.' ? NULL : str_printf("%s/%s", root, names[i]);
    if (p && is_dir(p))
      names[k++] = names[i];
    else
      free(names[i]);
    free(p);
  }
  *classes = names;
  *n = k;
  return AD3D_OK;
}

/* Fill one entry of folder `sub` ("train" or "test"). */
static ad3d_status entry_fill(layout_kind lk, const char *classdir, const char *cls, const char *sub,
                              const char *stem, sample_entry *e) {
  int is_test = !strcmp(sub, "test");
  memset(e, 0, sizeof *e);
  e->name = xstrdup(stem);
  e->cloud_path = str_printf("%s/%s/%s.pcd", classdir, sub, stem);
  if (!is_test)
    e->defect = xstrdup("good");
  else
    e->defect = lk == LAYOUT_SHAPENET ? shapenet_defect(cls, stem) : real3d_defect(stem);
  if (!e->name || !e->cloud_path || !e->defect)
    return AD3D_ENOMEM;
  e->anomalous = is_test && strcmp(e->defect, "good") != 0;
  /* as the reference loaders: normal test samples come from their PCD (all-zero labels), even where a
   * GT file exists (Real3D-AD ships some for good samples) */
  if (is_test && e->anomalous)
    TRY(find_gt(classdir, lk == LAYOUT_SHAPENET ? shapenet_gt_dirs : real3d_gt_dirs, stem, &e->gt_path));
  e->bytes = file_bytes(e->gt_path ? e->gt_path : e->cloud_path);
  return AD3D_OK;
}

static ad3d_status scan_folder(layout_kind lk, const char *classdir, const char *cls, const char *sub,
                               sample_entry **out, int *nout) {
  char **stems = NULL;
  int n = 0;
  ad3d_status st;
  char *dir = str_printf("%s/%s", classdir, sub);
  if (!dir)
    return AD3D_ENOMEM;
  if (!is_dir(dir)) {
    st = ad3d_fail(AD3D_ENOTFOUND, "%s: no %s folder", dir, sub);
    goto cleanup;
  }
  if ((st = list_pcd_stems(dir, &stems, &n)))
    goto cleanup;
  *out = calloc((size_t)(n ? n : 1), sizeof **out);
  if (!*out) {
    st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory", dir);
    goto cleanup;
  }
  for (int i = 0; i < n; i++) {
    (*nout)++; /* counted first so class_index_free releases a half-filled entry */
    if ((st = entry_fill(lk, classdir, cls, sub, stems[i], &(*out)[i])))
      goto cleanup;
  }
cleanup:
  strv_free(stems, n);
  free(dir);
  return st;
}

static ad3d_status scan_common(layout_kind lk, const char *root, const char *cls, class_index *out) {
  memset(out, 0, sizeof *out);
  ad3d_status st;
  char *classdir = str_printf("%s/%s", root, cls);
  out->cls = xstrdup(cls);
  if (!classdir || !out->cls) {
    st = AD3D_ENOMEM;
    goto cleanup;
  }
  if (!is_dir(classdir)) {
    st = ad3d_fail(AD3D_ENOTFOUND, "%s: class folder not found", classdir);
    goto cleanup;
  }
  if ((st = scan_folder(lk, classdir, cls, "train", &out->train, &out->ntrain)))
    goto cleanup;
  st = scan_folder(lk, classdir, cls, "test", &out->test, &out->ntest);
cleanup:
  if (st)
    class_index_free(out);
  free(classdir);
  return st;
}

static ad3d_status shapenet_scan(const char *root, const char *cls, class_index *out) {
  return scan_common(LAYOUT_SHAPENET, root, cls, out);
}

static ad3d_status real3d_scan(const char *root, const char *cls, class_index *out) {
  return scan_common(LAYOUT_REAL3D, root, cls, out);
}

/* ---------------------------------------------------------------- loading */

/* The GT path an anomalous sample would need: <classdir>/<gt_dir>/<name>.txt, from its cloud path
 * <classdir>/test/<name>.pcd. */
static char *expected_gt(const sample_entry *e, const char *gt_dir) {
  const char *slash = strrchr(e->cloud_path, '/');
  size_t l = slash ? (size_t)(slash - e->cloud_path) : 0;
  while (l > 0 && e->cloud_path[l - 1] != '/')
    l--;
  return str_printf("%.*s%s/%s.txt", (int)l, e->cloud_path, gt_dir, e->name);
}

static void cloud_centre(cloud_t *c) {
  if (c->n == 0)
    return;
  double m[3] = {0, 0, 0};
  for (int64_t i = 0; i < c->n; i++)
    for (int a = 0; a < 3; a++)
      m[a] += c->xyz[3 * i + a];
  for (int a = 0; a < 3; a++)
    m[a] /= (double)c->n;
  for (int64_t i = 0; i < c->n; i++)
    for (int a = 0; a < 3; a++)
      c->xyz[3 * i + a] = (float)(c->xyz[3 * i + a] - m[a]);
}

static ad3d_status load_common(const sample_entry *e, int is_test, const char *gt_dir, int centre, sample_t *out) {
  ad3d_status st = AD3D_OK;
  memset(out, 0, sizeof *out);
  out->name = xstrdup(e->name);
  out->defect = xstrdup(is_test ? e->defect : "good");
  out->anomalous = is_test && e->anomalous;
  if (!out->name || !out->defect) {
    st = AD3D_ENOMEM;
    goto cleanup;
  }
  if (is_test && e->gt_path) {
    st = gt_read(e->gt_path, &out->cloud, &out->labels);
  } else if (is_test && e->anomalous) {
    char *want = expected_gt(e, gt_dir);
    st = ad3d_fail(AD3D_ENOTFOUND, "%s: anomalous sample has no ground truth: %s not found", e->cloud_path,
                   want ? want : "its GT file");
    free(want);
  } else {
    st = pcd_read(e->cloud_path, &out->cloud, NULL);
    if (!st && is_test) {
      out->labels = calloc((size_t)(out->cloud.n ? out->cloud.n : 1), 1);
      if (!out->labels)
        st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory for labels", e->cloud_path);
    }
  }
  if (!st && centre)
    cloud_centre(&out->cloud);
cleanup:
  if (st)
    sample_free(out);
  return st;
}

static ad3d_status shapenet_load(const sample_entry *e, int is_test, sample_t *out) {
  return load_common(e, is_test, "GT", 0, out);
}

static ad3d_status real3d_load(const sample_entry *e, int is_test, sample_t *out) {
  return load_common(e, is_test, "gt", 1, out);
}

/* ---------------------------------------------------------------- registry */

static const dataset_layout layout_shapenet = {
    "anomaly_shapenet",
    "Anomaly-ShapeNet: <cls>/train/<cls>_template{k}.pcd, <cls>/test/<cls>_{positive|<defect>}{k}.pcd, "
    "<cls>/GT/<stem>.txt (x,y,z,label) for anomalous samples, whose points and labels come from GT",
    list_class_folders, shapenet_scan, shapenet_load};

static const dataset_layout layout_real3d = {
    "real3d_ad",
    "Real3D-AD: <cls>/train/<id>_template.pcd, <cls>/test/<id>_<kind>[_cut|_copy].pcd (kind good, bulge, "
    "bulges, sink, sinks, hybrid), <cls>/gt/<stem>.txt (x y z label); every cloud centred",
    list_class_folders, real3d_scan, real3d_load};

const dataset_layout *const dataset_layouts[] = {&layout_shapenet, &layout_real3d, NULL};

const dataset_layout *dataset_layout_find(const char *name) {
  for (int i = 0; dataset_layouts[i]; i++)
    if (!strcmp(dataset_layouts[i]->name, name))
      return dataset_layouts[i];
  return NULL;
}

ad3d_status dataset_load_class(const dataset_layout *L, const char *root, const char *cls, class_data_t *out) {
  class_index ci;
  memset(out, 0, sizeof *out);
  TRY(L->scan_class(root, cls, &ci));
  ad3d_status st = AD3D_OK;
  out->cls = xstrdup(cls);
  out->train = calloc((size_t)(ci.ntrain ? ci.ntrain : 1), sizeof *out->train);
  out->test = calloc((size_t)(ci.ntest ? ci.ntest : 1), sizeof *out->test);
  if (!out->cls || !out->train || !out->test) {
    st = ad3d_fail(AD3D_ENOMEM, "%s/%s: out of memory loading the class", root, cls);
    goto cleanup;
  }
  for (int i = 0; i < ci.ntrain; i++, out->ntrain++)
    if ((st = L->load_sample(&ci.train[i], 0, &out->train[i])))
      goto cleanup;
  for (int i = 0; i < ci.ntest; i++, out->ntest++)
    if ((st = L->load_sample(&ci.test[i], 1, &out->test[i])))
      goto cleanup;
cleanup:
  if (st)
    class_data_free(out);
  class_index_free(&ci);
  return st;
}

/* ---------------------------------------------------------------- check */

/* Errors and warnings are problems (counted in *nproblems); notes are printed but not counted. */
typedef enum { SEV_ERROR, SEV_WARNING, SEV_NOTE } severity;
static const char *const severity_names[] = {"error", "warning", "note"};

typedef struct {
  char **text;   /* (n) "class: message" */
  severity *sev; /* (n) */
  int n, cap;
  int count[3];  /* per severity */
} problem_list;

typedef struct {
  char *cls;
  int found;          /* the class folder and its train and test folders were scanned */
  int ntrain, ngood;
  char **defects;     /* (nanomalous) defect type of each anomalous test sample */
  int nanomalous;
  int64_t *npoints;   /* (nsamples) point counts of the samples whose points could be read */
  int nsamples;
  int64_t anom_points, anom_total; /* anomalous labels and points over the anomalous samples */
  int nproblems;      /* errors + warnings about this class */
} class_report;

typedef struct {
  char **defects; /* (ndefects) defect columns: every anomalous type seen, in display order */
  int ndefects;
  class_report *cls; /* (ncls) */
  int ncls;
  problem_list problems;
} check_report;

static ad3d_status problem_add(problem_list *p, severity sev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static ad3d_status problem_add(problem_list *p, severity sev, const char *fmt, ...) {
  if (p->n == p->cap) {
    int cap = p->cap ? 2 * p->cap : 16;
    char **t = realloc(p->text, (size_t)cap * sizeof *t);
    if (!t)
      return ad3d_fail(AD3D_ENOMEM, "out of memory recording a problem");
    p->text = t;
    severity *s = realloc(p->sev, (size_t)cap * sizeof *s);
    if (!s)
      return ad3d_fail(AD3D_ENOMEM, "out of memory recording a problem");
    p->sev = s;
    p->cap = cap;
  }
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *msg = malloc((size_t)len + 1);
  if (!msg)
    return ad3d_fail(AD3D_ENOMEM, "out of memory recording a problem");
  va_start(ap, fmt);
  vsnprintf(msg, (size_t)len + 1, fmt, ap);
  va_end(ap);
  p->text[p->n] = msg;
  p->sev[p->n++] = sev;
  p->count[sev]++;
  return AD3D_OK;
}

static int problems_counted(const problem_list *p) { return p->count[SEV_ERROR] + p->count[SEV_WARNING]; }

static void check_report_free(check_report *r) {
  strv_free(r->defects, r->ndefects);
  for (int i = 0; i < r->ncls; i++) {
    free(r->cls[i].cls);
    strv_free(r->cls[i].defects, r->cls[i].nanomalous);
    free(r->cls[i].npoints);
  }
  free(r->cls);
  strv_free(r->problems.text, r->problems.n);
  free(r->problems.sev);
  memset(r, 0, sizeof *r);
}

/* Display rank of a defect column: the known types in a fixed order, then others by name. */
static int defect_rank(const char *d) {
  static const char *const order[] = {"bulge", "bulges", "concavity", "sink", "sinks", "hole", "broken",
                                      "bending", "crack", "scratch", "hybrid", NULL};
  for (int i = 0; order[i]; i++)
    if (!strcmp(order[i], d))
      return i;
  return 1000;
}

static int defect_cmp(const void *a, const void *b) {
  const char *x = *(char *const *)a, *y = *(char *const *)b;
  int rx = defect_rank(x), ry = defect_rank(y);
  return rx != ry ? (rx < ry ? -1 : 1) : strcmp(x, y);
}

/* Add defect type d to the report's columns if it is new (kept in display order). */
static ad3d_status column_add(check_report *r, const char *d) {
  for (int k = 0; k < r->ndefects; k++)
    if (!strcmp(r->defects[k], d))
      return AD3D_OK;
  char **v = realloc(r->defects, (size_t)(r->ndefects + 1) * sizeof *v);
  if (!v)
    return ad3d_fail(AD3D_ENOMEM, "out of memory");
  r->defects = v;
  if (!(v[r->ndefects] = xstrdup(d)))
    return AD3D_ENOMEM;
  r->ndefects++;
  qsort(r->defects, (size_t)r->ndefects, sizeof *r->defects, defect_cmp);
  return AD3D_OK;
}

/* Validate one sample's files (as the layout would load it: points and labels from gt_path when
 * set, else from the PCD) and record its point count and labels. */
static ad3d_status check_entry(problem_list *p, class_report *cr, const sample_entry *e, int is_test) {
  const char *cls = cr->cls;
  cloud_t pc = {0, NULL}, gc = {0, NULL};
  uint8_t *labels = NULL;
  pcd_info info;
  int64_t n = -1, nanom = 0;
  ad3d_status st = AD3D_OK;
  int pcd_ok = pcd_read(e->cloud_path, &pc, &info) == AD3D_OK;
  if (!pcd_ok && (st = problem_add(p, SEV_ERROR, "%s: %s", cls, ad3d_errmsg())))
    goto cleanup;
  if (pcd_ok && info.dropped_nan > 0 &&
      (st = problem_add(p, SEV_NOTE, "%s: %s: %lld of %lld points dropped for a NaN or Inf coordinate", cls,
                        e->cloud_path, (long long)info.dropped_nan, (long long)info.points)))
    goto cleanup;
  if (is_test && e->gt_path) {
    if (gt_read(e->gt_path, &gc, &labels) != AD3D_OK) {
      if ((st = problem_add(p, SEV_ERROR, "%s: %s", cls, ad3d_errmsg())))
        goto cleanup;
    } else {
      n = gc.n;
      for (int64_t i = 0; i < gc.n; i++)
        nanom += labels[i];
      if (pcd_ok && gc.n != pc.n &&
          (st = problem_add(p, SEV_WARNING, "%s: %s: GT has %lld rows, PCD has %lld points", cls, e->gt_path,
                            (long long)gc.n, (long long)pc.n)))
        goto cleanup;
      if (e->anomalous && nanom == 0 &&
          (st = problem_add(p, SEV_NOTE, "%s: %s: anomalous sample whose GT marks no point anomalous", cls,
                            e->gt_path)))
        goto cleanup;
      if (!e->anomalous && nanom > 0 &&
          (st = problem_add(p, SEV_NOTE, "%s: %s: normal sample whose GT marks %lld points anomalous", cls,
                            e->gt_path, (long long)nanom)))
        goto cleanup;
    }
  } else if (is_test && e->anomalous) {
    if ((st = problem_add(p, SEV_ERROR, "%s: %s: anomalous sample without ground truth (no GT file)", cls,
                          e->cloud_path)))
      goto cleanup;
  } else if (pcd_ok) {
    n = pc.n;
  }
  if (n == 0 && (st = problem_add(p, SEV_ERROR, "%s: %s: no points", cls, e->gt_path ? e->gt_path : e->cloud_path)))
    goto cleanup;
  if (n >= 0) {
    cr->npoints[cr->nsamples++] = n;
    if (is_test && e->anomalous) {
      cr->anom_points += nanom;
      cr->anom_total += n;
    }
  }
cleanup:
  cloud_free(&pc);
  cloud_free(&gc);
  free(labels);
  return st;
}

static ad3d_status check_class(const dataset_layout *L, const char *root, check_report *r, class_report *cr) {
  problem_list *p = &r->problems;
  class_index ci;
  int before = problems_counted(p);
  ad3d_status st = L->scan_class(root, cr->cls, &ci);
  if (st == AD3D_ENOMEM)
    return st;
  if (st) { /* a missing class, train or test folder */
    st = problem_add(p, SEV_ERROR, "%s: %s", cr->cls, ad3d_errmsg());
    cr->nproblems = problems_counted(p) - before;
    return st;
  }
  cr->found = 1;
  cr->ntrain = ci.ntrain;
  cr->npoints = malloc((size_t)(ci.ntrain + ci.ntest + 1) * sizeof *cr->npoints);
  cr->defects = calloc((size_t)(ci.ntest + 1), sizeof *cr->defects);
  if (!cr->npoints || !cr->defects) {
    st = ad3d_fail(AD3D_ENOMEM, "out of memory");
    goto cleanup;
  }
  if (ci.ntrain == 0 && (st = problem_add(p, SEV_ERROR, "%s: empty class: no training samples (no .pcd in %s/%s/train)",
                                          cr->cls, root, cr->cls)))
    goto cleanup;
  if (ci.ntest == 0 && (st = problem_add(p, SEV_ERROR, "%s: empty class: no test samples (no .pcd in %s/%s/test)",
                                         cr->cls, root, cr->cls)))
    goto cleanup;
  for (int i = 0; i < ci.ntrain; i++)
    if ((st = check_entry(p, cr, &ci.train[i], 0)))
      goto cleanup;
  for (int i = 0; i < ci.ntest; i++) {
    const sample_entry *e = &ci.test[i];
    if ((st = check_entry(p, cr, e, 1)))
      goto cleanup;
    if (!e->anomalous) {
      cr->ngood++;
      continue;
    }
    if (!(cr->defects[cr->nanomalous] = xstrdup(e->defect))) {
      st = AD3D_ENOMEM;
      goto cleanup;
    }
    cr->nanomalous++;
    if ((st = column_add(r, e->defect)))
      goto cleanup;
  }
cleanup:
  cr->nproblems = problems_counted(p) - before;
  class_index_free(&ci);
  return st;
}

/* ---------------------------------------------------------------- check: the table */

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* "min / median / max" of v (n, sorted in place) into buf; "-" when n == 0. The median of an even
 * count is the mean of the two middle values, rounded down. */
static void format_points(int64_t *v, int n, char *buf, size_t size) {
  if (n == 0) {
    snprintf(buf, size, "-");
    return;
  }
  qsort(v, (size_t)n, sizeof *v, cmp_i64);
  int64_t med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  snprintf(buf, size, "%lld / %lld / %lld", (long long)v[0], (long long)med, (long long)v[n - 1]);
}

static void format_fraction(int64_t num, int64_t den, char *buf, size_t size) {
  if (den == 0)
    snprintf(buf, size, "-");
  else
    snprintf(buf, size, "%.2f%%", 100.0 * (double)num / (double)den);
}

typedef struct {
  char **cells; /* (rows, cols) */
  int rows, cols;
} table;

/* Set cell (i, j) to a formatted string. */
static ad3d_status table_set(table *t, int i, int j, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static ad3d_status table_set(table *t, int i, int j, const char *fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  ASSERT(i < t->rows && j < t->cols);
  free(t->cells[i * t->cols + j]);
  return (t->cells[i * t->cols + j] = xstrdup(buf)) ? AD3D_OK : AD3D_ENOMEM;
}

/* Print with column 0 left-aligned and the others right-aligned, two spaces apart. */
static ad3d_status table_print(const table *t, FILE *out) {
  int *w = calloc((size_t)t->cols, sizeof *w);
  if (!w)
    return ad3d_fail(AD3D_ENOMEM, "out of memory");
  for (int i = 0; i < t->rows; i++)
    for (int j = 0; j < t->cols; j++) {
      const char *c = t->cells[i * t->cols + j];
      int l = c ? (int)strlen(c) : 0;
      if (l > w[j])
        w[j] = l;
    }
  for (int i = 0; i < t->rows; i++) {
    for (int j = 0; j < t->cols; j++) {
      const char *c = t->cells[i * t->cols + j] ? t->cells[i * t->cols + j] : "";
      if (j == 0)
        fprintf(out, "%-*s", w[j], c);
      else
        fprintf(out, "  %*s", w[j], c);
    }
    fputc('\n', out);
  }
  free(w);
  return AD3D_OK;
}

/* Columns: class, train, good, one per defect type, test, points, anomalous, problems. */
static ad3d_status report_table(const check_report *r, table *t) {
  const int nd = r->ndefects, cols = t->cols;
  int64_t *all = NULL, *dtot = NULL;
  int nall = 0;
  for (int i = 0; i < r->ncls; i++)
    nall += r->cls[i].nsamples;
  all = malloc((size_t)(nall + 1) * sizeof *all);
  dtot = calloc((size_t)(nd + 1), sizeof *dtot);
  if (!all || !dtot) {
    free(all);
    free(dtot);
    return ad3d_fail(AD3D_ENOMEM, "out of memory");
  }
  int64_t ttrain = 0, tgood = 0, ttest = 0, tanom = 0, ttot = 0, tprob = 0;
  char buf[128];
  ad3d_status st = AD3D_OK;
#define SET(i, j, ...)                                  \
  do {                                                  \
    if ((st = table_set(t, (i), (j), __VA_ARGS__)))     \
      goto cleanup;                                     \
  } while (0)
  SET(0, 0, "class");
  SET(0, 1, "train");
  SET(0, 2, "good");
  for (int k = 0; k < nd; k++)
    SET(0, 3 + k, "%s", r->defects[k]);
  SET(0, cols - 4, "test");
  SET(0, cols - 3, "points min / median / max");
  SET(0, cols - 2, "anomalous");
  SET(0, cols - 1, "problems");
  nall = 0;
  for (int i = 0; i < r->ncls; i++) {
    class_report *cr = &r->cls[i];
    int row = 1 + i;
    SET(row, 0, "%s", cr->cls);
    SET(row, cols - 1, "%d", cr->nproblems);
    tprob += cr->nproblems;
    if (!cr->found) {
      for (int j = 1; j < cols - 1; j++)
        SET(row, j, "-");
      continue;
    }
    SET(row, 1, "%d", cr->ntrain);
    SET(row, 2, "%d", cr->ngood);
    for (int k = 0; k < nd; k++) {
      int cnt = 0;
      for (int s = 0; s < cr->nanomalous; s++)
        cnt += !strcmp(cr->defects[s], r->defects[k]);
      SET(row, 3 + k, "%d", cnt);
      dtot[k] += cnt;
    }
    SET(row, cols - 4, "%d", cr->ngood + cr->nanomalous);
    memcpy(all + nall, cr->npoints, (size_t)cr->nsamples * sizeof *all);
    nall += cr->nsamples;
    format_points(cr->npoints, cr->nsamples, buf, sizeof buf);
    SET(row, cols - 3, "%s", buf);
    format_fraction(cr->anom_points, cr->anom_total, buf, sizeof buf);
    SET(row, cols - 2, "%s", buf);
    ttrain += cr->ntrain;
    tgood += cr->ngood;
    ttest += cr->ngood + cr->nanomalous;
    tanom += cr->anom_points;
    ttot += cr->anom_total;
  }
  int row = t->rows - 1;
  SET(row, 0, "total");
  SET(row, 1, "%lld", (long long)ttrain);
  SET(row, 2, "%lld", (long long)tgood);
  for (int k = 0; k < nd; k++)
    SET(row, 3 + k, "%lld", (long long)dtot[k]);
  SET(row, cols - 4, "%lld", (long long)ttest);
  format_points(all, nall, buf, sizeof buf);
  SET(row, cols - 3, "%s", buf);
  format_fraction(tanom, ttot, buf, sizeof buf);
  SET(row, cols - 2, "%s", buf);
  SET(row, cols - 1, "%lld", (long long)problems_counted(&r->problems));
#undef SET
cleanup:
  free(all);
  free(dtot);
  return st;
}

static ad3d_status report_print(const check_report *r, const dataset_layout *L, const char *root, FILE *out) {
  table t = {NULL, 2 + r->ncls, 3 + r->ndefects + 4};
  t.cells = calloc((size_t)t.rows * (size_t)t.cols, sizeof *t.cells);
  if (!t.cells)
    return ad3d_fail(AD3D_ENOMEM, "out of memory");
  ad3d_status st = report_table(r, &t);
  if (!st) {
    fprintf(out, "%s dataset at %s: %d class%s\n\n", L->name, root, r->ncls, r->ncls == 1 ? "" : "es");
    st = table_print(&t, out);
  }
  if (!st) {
    const problem_list *p = &r->problems;
    if (p->n > 0)
      fputc('\n', out);
    for (int s = SEV_ERROR; s <= SEV_NOTE; s++)
      for (int i = 0; i < p->n; i++)
        if (p->sev[i] == (severity)s)
          fprintf(out, "%-7s  %s\n", severity_names[s], p->text[i]);
    int np = problems_counted(p);
    fprintf(out, "\n%d problem%s (%d error%s, %d warning%s), %d note%s\n", np, np == 1 ? "" : "s",
            p->count[SEV_ERROR], p->count[SEV_ERROR] == 1 ? "" : "s", p->count[SEV_WARNING],
            p->count[SEV_WARNING] == 1 ? "" : "s", p->count[SEV_NOTE], p->count[SEV_NOTE] == 1 ? "" : "s");
  }
  strv_free(t.cells, t.rows * t.cols);
  return st;
}

ad3d_status dataset_check(const dataset_layout *L, const char *root, char **classes, int nclasses, FILE *out,
                          int *nproblems) {
  check_report r;
  char **listed = NULL;
  int nlisted = 0;
  ad3d_status st = AD3D_OK;
  memset(&r, 0, sizeof r);
  *nproblems = 0;
  if (!classes || nclasses <= 0) {
    st = L->list_classes(root, &listed, &nlisted);
    if (st == AD3D_ENOMEM)
      goto cleanup;
    if (st)
      st = problem_add(&r.problems, SEV_ERROR, "%s", ad3d_errmsg());
    else if (nlisted == 0)
      st = problem_add(&r.problems, SEV_ERROR, "%s: no class folders", root);
    if (st)
      goto cleanup;
    classes = listed;
    nclasses = nlisted;
  }
  r.cls = calloc((size_t)(nclasses ? nclasses : 1), sizeof *r.cls);
  if (!r.cls) {
    st = ad3d_fail(AD3D_ENOMEM, "out of memory");
    goto cleanup;
  }
  for (int i = 0; i < nclasses; i++) {
    if (!(r.cls[i].cls = xstrdup(classes[i]))) {
      st = AD3D_ENOMEM;
      goto cleanup;
    }
    r.ncls++;
    if ((st = check_class(L, root, &r, &r.cls[i])))
      goto cleanup;
  }
  if ((st = report_print(&r, L, root, out)))
    goto cleanup;
  *nproblems = problems_counted(&r.problems);
  if (fflush(out) != 0 || ferror(out))
    st = ad3d_fail(AD3D_EIO, "cannot write the dataset check report");
cleanup:
  strv_free(listed, nlisted);
  check_report_free(&r);
  return st;
}
