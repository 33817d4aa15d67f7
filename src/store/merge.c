/* store/merge.c - `ad3d merge`: join results files (job array slices) into one; see merge.h.
 *
 * Records and scores go through the public reader and writer of results.h, so the output is
 * written with the same crash-safe appends as a run. The one thing those readers do not return is
 * when each record was written (`recorded_at`, which decides between two inputs holding the same
 * key), read here from /tasks directly: the only HDF5 of this file.
 */
#include "store/merge.h"

#include <errno.h>
#include <hdf5.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "store/results.h"

enum { KEY_LEN = 256, TIME_LEN = 32 };

/* ---------------------------------------------------------------------------------------------
 * recorded_at of every record (HDF5)
 * ------------------------------------------------------------------------------------------- */

/* The innermost (most specific) message of HDF5's error stack: each frame of the downward walk
 * overwrites the one before. */
static herr_t innermost_desc(unsigned n, const H5E_error2_t *e, void *data) {
  (void)n;
  if (e->desc)
    snprintf(data, 256, "%s(): %s", e->func_name ? e->func_name : "?", e->desc);
  return 0;
}

static ad3d_status h5_fail(const char *path, const char *what) {
  char desc[256] = "HDF5 left no message";
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, innermost_desc, desc);
  H5Eclear2(H5E_DEFAULT);
  return ad3d_fail(AD3D_EINTERNAL, "%s: %s: %s", path, what, desc);
}

/* One committed /tasks row as far as the merge needs it. */
typedef struct {
  char key[KEY_LEN];
  char recorded_at[TIME_LEN];
  uint8_t committed;
} time_row;

/* A memory string type of `size` bytes in the character set of the file's member `name`. */
static hid_t member_str_type(hid_t file_ct, const char *name, size_t size) {
  int idx = H5Tget_member_index(file_ct, name);
  if (idx < 0)
    return H5I_INVALID_HID;
  hid_t ft = H5Tget_member_type(file_ct, (unsigned)idx), t = H5I_INVALID_HID;
  if (ft < 0)
    return ft;
  H5T_cset_t cset = H5Tget_cset(ft);
  H5Tclose(ft);
  if (cset < 0 || (t = H5Tcopy(H5T_C_S1)) < 0)
    return H5I_INVALID_HID;
  if (H5Tset_size(t, size) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0 || H5Tset_cset(t, cset) < 0) {
    H5Tclose(t);
    return H5I_INVALID_HID;
  }
  return t;
}

/* Every /tasks row's key, recorded_at and committed byte. *rows: malloc'd (n). */
static ad3d_status rows_read_times(const char *path, time_row **rows, int64_t *n) {
  ad3d_status st = AD3D_OK;
  hid_t f = H5I_INVALID_HID, d = H5I_INVALID_HID, sp = H5I_INVALID_HID, ft = H5I_INVALID_HID;
  hid_t mt = H5I_INVALID_HID, kt = H5I_INVALID_HID, tt = H5I_INVALID_HID;
  hsize_t len = 0;
  *rows = NULL;
  *n = 0;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) { /* a run still writing, or killed: FORMAT.md rule 1 */
    H5Eclear2(H5E_DEFAULT);
    f = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
  }
  if (f < 0)
    return h5_fail(path, "cannot be opened");
  if ((d = H5Dopen2(f, "tasks", H5P_DEFAULT)) < 0 || (sp = H5Dget_space(d)) < 0 ||
      H5Sget_simple_extent_dims(sp, &len, NULL) < 0 || (ft = H5Dget_type(d)) < 0 ||
      (kt = member_str_type(ft, "key", KEY_LEN)) < 0 || (tt = member_str_type(ft, "recorded_at", TIME_LEN)) < 0 ||
      (mt = H5Tcreate(H5T_COMPOUND, sizeof(time_row))) < 0 ||
      H5Tinsert(mt, "key", offsetof(time_row, key), kt) < 0 ||
      H5Tinsert(mt, "recorded_at", offsetof(time_row, recorded_at), tt) < 0 ||
      H5Tinsert(mt, "committed", offsetof(time_row, committed), H5T_NATIVE_UINT8) < 0) {
    st = h5_fail(path, "reading the key, recorded_at and committed fields of /tasks");
    goto cleanup;
  }
  if (len > 0) {
    if (!(*rows = calloc((size_t)len, sizeof **rows))) {
      st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory for %llu task rows", path, (unsigned long long)len);
      goto cleanup;
    }
    if (H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, *rows) < 0) {
      st = h5_fail(path, "reading /tasks");
      goto cleanup;
    }
  }
  *n = (int64_t)len;
cleanup:
  if (st != AD3D_OK) {
    free(*rows);
    *rows = NULL;
  }
  if (mt >= 0) H5Tclose(mt);
  if (kt >= 0) H5Tclose(kt);
  if (tt >= 0) H5Tclose(tt);
  if (ft >= 0) H5Tclose(ft);
  if (sp >= 0) H5Sclose(sp);
  if (d >= 0) H5Dclose(d);
  if (H5Fclose(f) < 0 && st == AD3D_OK)
    st = h5_fail(path, "closing");
  return st;
}

/* A committed row and its position in the file (qsort is not stable: ties go by position). */
typedef struct {
  const time_row *row;
  int64_t pos;
} time_ref;

static int cmp_time_ref(const void *a, const void *b) {
  const time_ref *x = a, *y = b;
  int c = strncmp(x->row->key, y->row->key, KEY_LEN);
  return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/* times[i] = recorded_at of the latest committed row of recs[i].key ("" if none, which a file
 * read by results_read_tasks a moment earlier cannot have unless it was replaced meanwhile). */
static ad3d_status records_times(const char *path, const task_record *recs, int64_t n, char (*times)[TIME_LEN]) {
  time_row *rows = NULL;
  int64_t nrows = 0, m = 0;
  TRY(rows_read_times(path, &rows, &nrows));
  time_ref *refs = malloc(((size_t)nrows + 1) * sizeof *refs);
  if (!refs) {
    free(rows);
    return ad3d_fail(AD3D_ENOMEM, "%s: out of memory for %lld task rows", path, (long long)nrows);
  }
  for (int64_t i = 0; i < nrows; i++)
    if (rows[i].committed == 1 && rows[i].key[0]) {
      rows[i].key[KEY_LEN - 1] = rows[i].recorded_at[TIME_LEN - 1] = '\0';
      refs[m++] = (time_ref){&rows[i], i};
    }
  qsort(refs, (size_t)m, sizeof *refs, cmp_time_ref);
  for (int64_t r = 0; r < n; r++) {
    time_row probe;
    snprintf(probe.key, sizeof probe.key, "%s", recs[r].key);
    int64_t lo = 0, hi = m; /* first ref whose key is > probe: the last of the probe's group precedes it */
    while (lo < hi) {
      int64_t mid = lo + (hi - lo) / 2;
      if (strncmp(refs[mid].row->key, probe.key, KEY_LEN) <= 0)
        lo = mid + 1;
      else
        hi = mid;
    }
    times[r][0] = '\0';
    if (lo > 0 && strncmp(refs[lo - 1].row->key, probe.key, KEY_LEN) == 0)
      snprintf(times[r], TIME_LEN, "%s", refs[lo - 1].row->recorded_at);
  }
  free(refs);
  free(rows);
  return AD3D_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Configs: the same job, whatever the slice's output file
 * ------------------------------------------------------------------------------------------- */

/* Next line of *p (without its newline) into [*line, *line + *len); 0 at the end of the text. */
static int next_line(const char **p, const char **line, size_t *len) {
  if (!**p)
    return 0;
  *line = *p;
  *len = strcspn(*p, "\n");
  *p += *len;
  if (**p == '\n')
    (*p)++;
  return 1;
}

/* Tracks the top-level group a config line is in; 1 if the line is run.output or run.blas_threads. */
typedef struct {
  int in_run;
} line_scan;

static int starts_word(const char *s, size_t len, const char *word) {
  size_t w = strlen(word);
  if (len < w || strncmp(s, word, w) != 0)
    return 0;
  return len == w || s[w] == ' ' || s[w] == '=' || s[w] == ':' || s[w] == '\t';
}

static int line_is_ignored(line_scan *sc, const char *line, size_t len, int *is_output) {
  size_t indent = 0;
  while (indent < len && (line[indent] == ' ' || line[indent] == '\t'))
    indent++;
  const char *t = line + indent;
  size_t tl = len - indent;
  *is_output = 0;
  if (indent == 0) {
    if (starts_word(t, tl, "run"))
      sc->in_run = 1;
    else if (tl > 0 && t[0] == '}')
      sc->in_run = 0;
    return 0;
  }
  if (!sc->in_run)
    return 0;
  if (starts_word(t, tl, "output")) {
    *is_output = 1;
    return 1;
  }
  return starts_word(t, tl, "blas_threads");
}

/* Advance *p to the next line that is not ignored; 0 at the end. */
static int next_kept_line(const char **p, line_scan *sc, const char **line, size_t *len) {
  int is_output;
  while (next_line(p, line, len))
    if (!line_is_ignored(sc, *line, *len, &is_output))
      return 1;
  return 0;
}

/* 0 if equal; else the 1-based number of the first differing kept line of a, with both lines. */
static int config_first_difference(const char *a, const char *b, char *what, size_t cap) {
  line_scan sa = {0}, sb = {0};
  const char *pa = a ? a : "", *pb = b ? b : "", *la, *lb;
  size_t na, nb;
  for (int lineno = 1;; lineno++) {
    int ha = next_kept_line(&pa, &sa, &la, &na), hb = next_kept_line(&pb, &sb, &lb, &nb);
    if (!ha && !hb)
      return 0;
    while (ha && na > 0 && (la[na - 1] == ' ' || la[na - 1] == '\r'))
      na--;
    while (hb && nb > 0 && (lb[nb - 1] == ' ' || lb[nb - 1] == '\r'))
      nb--;
    if (ha && hb && na == nb && strncmp(la, lb, na) == 0)
      continue;
    snprintf(what, cap, "\"%.*s\" against \"%.*s\"", ha ? (int)(na > 120 ? 120 : na) : 5, ha ? la : "(end)",
             hb ? (int)(nb > 120 ? 120 : nb) : 5, hb ? lb : "(end)");
    return lineno;
  }
}

int results_config_same_job(const char *a, const char *b) {
  char what[300];
  return config_first_difference(a, b, what, sizeof what) == 0;
}

/* `config` with its run.output line set to `out` (a libconfig string). NULL on ENOMEM. */
static char *config_with_output(const char *config, const char *out) {
  size_t cap = strlen(config) + 2 * strlen(out) + 64, n = 0;
  char *text = malloc(cap);
  if (!text)
    return NULL;
  line_scan sc = {0};
  const char *p = config, *line;
  size_t len;
  while (next_line(&p, &line, &len)) {
    int is_output = 0;
    line_is_ignored(&sc, line, len, &is_output);
    if (!is_output) {
      memcpy(text + n, line, len);
      n += len;
    } else {
      size_t indent = strspn(line, " \t");
      memcpy(text + n, line, indent);
      n += indent;
      n += (size_t)sprintf(text + n, "output = \"");
      for (const char *c = out; *c; c++) {
        if (*c == '"' || *c == '\\')
          text[n++] = '\\';
        text[n++] = *c;
      }
      n += (size_t)sprintf(text + n, "\";");
    }
    text[n++] = '\n';
  }
  text[n] = '\0';
  return text;
}

/* ---------------------------------------------------------------------------------------------
 * The merge
 * ------------------------------------------------------------------------------------------- */

typedef struct {
  const char *path;
  task_record *recs;       /* (n) latest committed record per key, file order */
  int64_t n;
  char (*times)[TIME_LEN]; /* (n) their recorded_at */
  char *config, *seed, *ranks, *hosts;
} input_t;

static void input_free(input_t *in) {
  free(in->recs);
  free(in->times);
  free(in->config);
  free(in->seed);
  free(in->ranks);
  free(in->hosts);
  memset(in, 0, sizeof *in);
}

/* An optional attribute: "" when the file has none. */
static ad3d_status attr_or_empty(const char *path, const char *name, char **value) {
  ad3d_status st = results_read_attr(path, name, value);
  if (st == AD3D_ENOTFOUND) {
    ad3d_clear_error();
    *value = xstrdup("");
    return *value ? AD3D_OK : AD3D_ENOMEM;
  }
  return st;
}

static ad3d_status input_load(const char *path, input_t *in) {
  memset(in, 0, sizeof *in);
  in->path = path;
  if (!is_file(path))
    return ad3d_fail(AD3D_ENOTFOUND, "%s: no such results file", path);
  TRY(results_read_tasks(path, &in->recs, &in->n));
  if (!(in->times = calloc((size_t)in->n + 1, sizeof *in->times)))
    return ad3d_fail(AD3D_ENOMEM, "%s: out of memory", path);
  TRY(records_times(path, in->recs, in->n, in->times));
  TRY(results_read_attr(path, "config", &in->config));
  TRY(results_read_attr(path, "seed", &in->seed));
  TRY(attr_or_empty(path, "ranks", &in->ranks));
  TRY(attr_or_empty(path, "hosts", &in->hosts));
  return AD3D_OK;
}

/* One input record; picks of the same key are compared to find the latest. */
typedef struct {
  const task_record *rec;
  const char *time;
  int input;
  int64_t idx;   /* position in its input */
  int64_t first; /* after the grouping: rank of the key's first appearance */
} pick;

static int before(int ia, int64_t xa, int ib, int64_t xb) { return ia < ib || (ia == ib && xa < xb); }

/* By key; within a key from the earliest to the latest record (time, then input order). */
static int cmp_pick_key(const void *a, const void *b) {
  const pick *x = a, *y = b;
  int c = strncmp(x->rec->key, y->rec->key, sizeof x->rec->key);
  if (c)
    return c;
  if ((c = strcmp(x->time, y->time)))
    return c;
  return before(x->input, x->idx, y->input, y->idx) ? -1 : before(y->input, y->idx, x->input, x->idx);
}

static int cmp_pick_first(const void *a, const void *b) {
  const pick *x = a, *y = b;
  return (x->first > y->first) - (x->first < y->first);
}

/* 1 if a and b name the same existing file. */
static int same_file(const char *a, const char *b) {
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Distinct comma-separated host names of every input, in order of appearance. NULL on ENOMEM. */
static char *hosts_union(const input_t *in, int n) {
  size_t cap = 1;
  for (int i = 0; i < n; i++)
    cap += strlen(in[i].hosts) + 1;
  char *all = calloc(cap, 1);
  for (int i = 0; all && i < n; i++) {
    const char *p = in[i].hosts;
    while (*p) {
      size_t len = strcspn(p, ",");
      int seen = 0;
      for (const char *q = all; *q && !seen;) {
        size_t ql = strcspn(q, ",");
        seen = ql == len && strncmp(q, p, len) == 0;
        q += ql + (q[ql] == ',');
      }
      if (!seen && len > 0) {
        if (*all)
          strcat(all, ",");
        strncat(all, p, len);
      }
      p += len + (p[len] == ',');
    }
  }
  return all;
}

/* The same job, or o->force: else EINVAL naming the two files and the first difference. */
static ad3d_status inputs_check_job(const input_t *in, int n, int force) {
  for (int i = 1; i < n && !force; i++) {
    char what[300];
    int line = config_first_difference(in[0].config, in[i].config, what, sizeof what);
    if (line)
      return ad3d_fail(AD3D_EINVAL,
                       "%s and %s come from different jobs: config line %d (run.output and run.blas_threads "
                       "aside) differs: %s; merge with force to join them anyway",
                       in[0].path, in[i].path, line, what);
    if (strcmp(in[0].seed, in[i].seed) != 0)
      return ad3d_fail(AD3D_EINVAL, "%s and %s come from different jobs: seed %s against %s; merge with force to "
                       "join them anyway", in[0].path, in[i].path, in[0].seed, in[i].seed);
  }
  return AD3D_OK;
}

/* The latest record of every key, in order of first appearance. *picks: malloc'd (*n). */
static ad3d_status inputs_pick(const input_t *in, int nin, pick **out, int64_t *nout, int64_t *nsuperseded) {
  int64_t total = 0, k = 0;
  for (int i = 0; i < nin; i++)
    total += in[i].n;
  pick *p = malloc(((size_t)total + 1) * sizeof *p);
  if (!p)
    return ad3d_fail(AD3D_ENOMEM, "merge: out of memory for %lld task records", (long long)total);
  for (int i = 0; i < nin; i++)
    for (int64_t j = 0; j < in[i].n; j++)
      p[k++] = (pick){&in[i].recs[j], in[i].times[j], i, j, 0};
  qsort(p, (size_t)total, sizeof *p, cmp_pick_key);
  int64_t m = 0;
  *nsuperseded = 0;
  for (int64_t g = 0; g < total;) {
    int64_t e = g;
    int fi = p[g].input;
    int64_t fx = p[g].idx;
    while (e < total && strncmp(p[e].rec->key, p[g].rec->key, sizeof p[g].rec->key) == 0) {
      if (before(p[e].input, p[e].idx, fi, fx))
        fi = p[e].input, fx = p[e].idx;
      e++;
    }
    p[m] = p[e - 1];
    /* inputs hold fewer than 2^40 records each */
    p[m].first = ((int64_t)fi << 40) + fx;
    m++;
    *nsuperseded += e - g - 1;
    g = e;
  }
  qsort(p, (size_t)m, sizeof *p, cmp_pick_first);
  *out = p;
  *nout = m;
  return AD3D_OK;
}

/* Copy one record (and its scores, when it has some) into the output. */
static ad3d_status copy_task(results_t *r, const char *in_path, const task_record *rec) {
  task_scores sc;
  ad3d_status st = results_read_scores(in_path, rec->key, &sc);
  if (st == AD3D_ENOTFOUND) { /* a failed task: no scores were recorded */
    ad3d_clear_error();
    return results_append(r, rec, NULL);
  }
  if (st)
    return st;
  st = results_append(r, rec, &sc);
  task_scores_free(&sc);
  return st;
}

static void remove_quietly(const char *path, const char *suffix) {
  char *p = str_printf("%s%s", path, suffix);
  if (p)
    unlink(p);
  free(p);
}

ad3d_status results_merge(const char *out, char *const *inputs, int ninputs, const merge_opts *o,
                          merge_summary *sum) {
  ad3d_status st = AD3D_OK;
  input_t *in = NULL;
  pick *picks = NULL;
  int64_t npicks = 0;
  char *tmp = NULL, *config = NULL, *hosts = NULL;
  results_t *r = NULL;
  memset(sum, 0, sizeof *sum);
  if (ninputs < 1)
    return ad3d_fail(AD3D_EINVAL, "merge: no input files");
  int out_is_input = 0;
  for (int i = 0; i < ninputs; i++)
    out_is_input |= same_file(out, inputs[i]);
  if (!o->overwrite && !out_is_input && access(out, F_OK) == 0)
    return ad3d_fail(AD3D_EINVAL, "%s exists and is not one of the inputs: name it as an input to add to it, "
                     "or overwrite it", out);
  if (!(in = calloc((size_t)ninputs, sizeof *in)) || !(tmp = str_printf("%s.merging", out))) {
    st = ad3d_fail(AD3D_ENOMEM, "merge: out of memory");
    goto cleanup;
  }
  for (int i = 0; i < ninputs; i++)
    if ((st = input_load(inputs[i], &in[i])) != AD3D_OK)
      goto cleanup;
  if ((st = inputs_check_job(in, ninputs, o->force)) != AD3D_OK ||
      (st = inputs_pick(in, ninputs, &picks, &npicks, &sum->nsuperseded)) != AD3D_OK)
    goto cleanup;

  int64_t ranks = 0;
  for (int i = 0; i < ninputs; i++)
    ranks += strtoll(in[i].ranks, NULL, 10);
  if (!(config = config_with_output(in[0].config, out)) || !(hosts = hosts_union(in, ninputs))) {
    st = ad3d_fail(AD3D_ENOMEM, "merge: out of memory");
    goto cleanup;
  }
  results_meta meta = {
      .program_version = o->program_version ? o->program_version : "",
      .config_text = config,
      .seed = strtoull(in[0].seed, NULL, 10),
      .ranks = (int32_t)(ranks > INT32_MAX ? INT32_MAX : ranks),
      .hosts = hosts,
  };
  unlink(tmp); /* left by a killed merge */
  remove_quietly(tmp, ".creating");
  if ((st = results_open(tmp, &meta, 0, &r)) != AD3D_OK)
    goto cleanup;
  for (int64_t i = 0; i < npicks; i++) {
    if ((st = copy_task(r, in[picks[i].input].path, picks[i].rec)) != AD3D_OK)
      goto cleanup;
    sum->ntasks++;
    sum->nfailed += picks[i].rec->status != TASK_OK;
  }
  st = results_close(r);
  r = NULL;
  if (st == AD3D_OK && rename(tmp, out) != 0)
    st = ad3d_fail(AD3D_EIO, "%s: cannot rename to %s: %s", tmp, out, strerror(errno));
cleanup:
  if (r)
    results_close(r); /* the first error is the one to report */
  if (st != AD3D_OK && tmp) {
    unlink(tmp);
    remove_quietly(tmp, ".creating");
  }
  for (int i = 0; in && i < ninputs; i++)
    input_free(&in[i]);
  free(in);
  free(picks);
  free(tmp);
  free(config);
  free(hosts);
  return st;
}
