/* store/merge.c - `ad3d merge`: join results files (job array slices) into one; see merge.h.
 *
 * Records and scores go through the public reader and writer of results.h (no HDF5 here): each
 * input is read through one results_reader (its task table read once, each task's scores by
 * offset), so a merge costs time linear in the tasks; the output is written with results_append_copy,
 * which keeps every record's recorded_at, with the same crash-safe appends as a run.
 */
#include "store/merge.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "store/results.h"

/* Inputs whose files are open at once; the others are released (results_reader_release) and
 * reopened when a task of theirs is copied. A job array of slices is copied input by input. */
enum { MAX_OPEN_INPUTS = 32 };

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
  const char *pa = a ? a : "", *pb = b ? b : "", *la = NULL, *lb = NULL;
  size_t na = 0, nb = 0;
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
  results_reader *rd;
  const task_record *recs; /* (n) latest committed record per key, file order (owned by rd) */
  int64_t n;
  char *config, *seed, *ranks, *hosts;
  int32_t slice_index, slice_count; /* slice_count 0: the file stores no slice */
  int open;                /* rd holds its file open */
  int64_t last_use;        /* when it was last read, to release the least recently used */
} input_t;

static void input_free(input_t *in) {
  results_reader_close(in->rd); /* read-only: nothing to lose */
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
  TRY(results_reader_open(path, &in->rd));
  in->recs = results_reader_records(in->rd);
  in->n = results_reader_count(in->rd);
  TRY(results_reader_release(in->rd)); /* reopened when its tasks are copied */
  TRY(results_read_attr(path, "config", &in->config));
  TRY(results_read_attr(path, "seed", &in->seed));
  TRY(attr_or_empty(path, "ranks", &in->ranks));
  TRY(attr_or_empty(path, "hosts", &in->hosts));
  TRY(results_read_slice(path, &in->slice_index, &in->slice_count));
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
      p[k++] = (pick){&in[i].recs[j], in[i].recs[j].recorded_at, i, j, 0};
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

/* Slices: inputs that store one must be distinct slices of the same N, unless forced. Fills the
 * summary's slice fields (the slices no input holds) when every input is a slice of the same N. */
static ad3d_status inputs_check_slices(const input_t *in, int n, int force, merge_summary *sum) {
  int32_t count = 0;
  int all = 1;
  for (int i = 0; i < n; i++) {
    if (in[i].slice_count == 0) {
      all = 0;
      continue;
    }
    for (int j = 0; j < i && !force; j++) {
      if (in[j].slice_count == 0)
        continue;
      if (in[j].slice_count != in[i].slice_count)
        return ad3d_fail(AD3D_EINVAL, "%s is slice %d/%d and %s slice %d/%d: not slices of one job array; "
                         "merge with force to join them anyway", in[j].path, (int)in[j].slice_index,
                         (int)in[j].slice_count, in[i].path, (int)in[i].slice_index, (int)in[i].slice_count);
      if (in[j].slice_index == in[i].slice_index)
        return ad3d_fail(AD3D_EINVAL, "%s and %s are both slice %d/%d of the job: name each slice once, or merge "
                         "with force to keep the latest record of each task", in[j].path, in[i].path,
                         (int)in[i].slice_index, (int)in[i].slice_count);
    }
    if (count == 0)
      count = in[i].slice_count;
    else if (count != in[i].slice_count)
      all = 0; /* forced: no common N */
  }
  if (!all || count == 0)
    return AD3D_OK;
  char *held = calloc((size_t)count, 1);
  if (!held)
    return ad3d_fail(AD3D_ENOMEM, "merge: out of memory for %d slices", (int)count);
  for (int i = 0; i < n; i++)
    held[in[i].slice_index] = 1;
  sum->slice_count = count;
  size_t len = 0, cap = sizeof sum->missing_slices;
  for (int32_t k = 0; k < count; k++) {
    sum->nslices += held[k];
    if (held[k])
      continue;
    char item[16];
    int w = snprintf(item, sizeof item, "%s%d", len ? ", " : "", (int)k);
    if (len + (size_t)w + 5 > cap) { /* room for ", ..." */
      snprintf(sum->missing_slices + len, cap - len, ", ...");
      break;
    }
    memcpy(sum->missing_slices + len, item, (size_t)w + 1);
    len += (size_t)w;
  }
  free(held);
  return AD3D_OK;
}

/* Copy record idx of input i (and its scores, when it has some) into the output, its recorded_at
 * kept. At most MAX_OPEN_INPUTS inputs hold their files open. */
static ad3d_status copy_task(results_t *r, input_t *in, int nin, int i, int64_t idx, int64_t now) {
  const task_record *rec = &in[i].recs[idx];
  task_scores sc;
  if (rec->status == TASK_OK && !in[i].open) {
    int nopen = 0, lru = -1;
    for (int k = 0; k < nin; k++)
      if (in[k].open) {
        nopen++;
        if (lru < 0 || in[k].last_use < in[lru].last_use)
          lru = k;
      }
    if (nopen >= MAX_OPEN_INPUTS) {
      TRY(results_reader_release(in[lru].rd));
      in[lru].open = 0;
    }
  }
  in[i].last_use = now;
  ad3d_status st = results_reader_scores(in[i].rd, idx, &sc);
  if (st == AD3D_ENOTFOUND) { /* a failed task: no scores were recorded */
    ad3d_clear_error();
    return results_append_copy(r, rec, NULL);
  }
  if (st)
    return st;
  in[i].open = 1;
  st = results_append_copy(r, rec, &sc);
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
      (st = inputs_check_slices(in, ninputs, o->force, sum)) != AD3D_OK ||
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
  results_set_fsync(r, 0); /* a temporary file until renamed: synced once, when complete */
  for (int64_t i = 0; i < npicks; i++) {
    if ((st = copy_task(r, in, ninputs, picks[i].input, picks[i].idx, i)) != AD3D_OK)
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
