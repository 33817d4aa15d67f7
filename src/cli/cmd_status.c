/* cmd_status.c - `ad3d status RESULTS.h5 [MORE.h5 ...] [JOB.cfg] [options]`: how far a job, finished
 * or still running, has got: tasks done, failed (with their errors), running and left.
 *
 * A results file knows what was recorded, not what was planned. The plan is the job: JOB.cfg with
 * the same options as `ad3d run` when given, else the resolved config the first results file
 * stores (the job exactly as it started), expanded into the task list the runner hands out. A file
 * of `ad3d run --slice I/N` stores its slice: without --slice, the plan is the slices the files
 * store (when they all store one, of the same N), else the whole job. Several results files (the
 * slices of a job array) count as one job. Files still being written are read as SWMR readers do.
 * Also here: the helpers `ad3d plan` shares (cli.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cfg/job.h"
#include "cli/cli.h"
#include "common/util.h"
#include "runner/tasks.h"
#include "store/results.h"

/* ---------------------------------------------------------------------------------------------
 * Shared with cmd_plan.c
 * ------------------------------------------------------------------------------------------- */

static int push_str(char ***v, int *n, char *s) {
  char **nv = s ? realloc(*v, (size_t)(*n + 1) * sizeof *nv) : NULL;
  if (!nv) {
    free(s);
    return -1;
  }
  *v = nv;
  nv[(*n)++] = s;
  return 1;
}

int plan_source_arg(int argc, char **argv, int *i, plan_source *src) {
  const char *o = argv[*i];
  static const char *const shortcuts[][2] = {
      {"--methods", "run.methods"}, {"--classes", "run.classes"}, {"--seed", "run.seed"}};
  int known = !strcmp(o, "--set") || !strcmp(o, "--sweep") || !strcmp(o, "--slice");
  for (size_t k = 0; k < sizeof shortcuts / sizeof shortcuts[0]; k++)
    known |= !strcmp(o, shortcuts[k][0]);
  if (!known)
    return 0;
  if (*i + 1 >= argc) {
    fprintf(stderr, "ad3d: %s needs a value\n", o);
    return -1;
  }
  const char *val = argv[++*i];
  if (!strcmp(o, "--set"))
    return push_str(&src->sets, &src->nsets, xstrdup(val));
  if (!strcmp(o, "--sweep"))
    return push_str(&src->sweeps, &src->nsweeps, xstrdup(val));
  if (!strcmp(o, "--slice")) {
    char end = 0;
    if (sscanf(val, "%d/%d%c", &src->slice_index, &src->slice_count, &end) != 2 || src->slice_count < 1 ||
        src->slice_index < 0 || src->slice_index >= src->slice_count) {
      fprintf(stderr, "ad3d: --slice %s: expected I/N with 0 <= I < N\n", val);
      return -1;
    }
    return 1;
  }
  for (size_t k = 0; k < sizeof shortcuts / sizeof shortcuts[0]; k++)
    if (!strcmp(o, shortcuts[k][0]))
      return push_str(&src->sets, &src->nsets, str_printf("%s=%s", shortcuts[k][1], val));
  return 0;
}

void plan_source_free(plan_source *src) {
  strv_free(src->sets, src->nsets);
  strv_free(src->sweeps, src->nsweeps);
  memset(src, 0, sizeof *src);
}

ad3d_status stored_job_file(const char *results_path, char *path, size_t cap) {
  char *config = NULL;
  TRY(results_read_attr(results_path, "config", &config));
  const char *dir = getenv("TMPDIR");
  snprintf(path, cap, "%s/ad3d-job-XXXXXX", dir && *dir ? dir : "/tmp");
  int fd = mkstemp(path);
  if (fd < 0) {
    free(config);
    return ad3d_fail(AD3D_EIO, "%s: cannot create a temporary file: %s", path, strerror(errno));
  }
  size_t len = strlen(config);
  ssize_t w = write(fd, config, len);
  close(fd);
  free(config);
  if (w != (ssize_t)len) {
    unlink(path);
    return ad3d_fail(AD3D_EIO, "%s: cannot write the stored config", path);
  }
  return AD3D_OK;
}

ad3d_status planned_tasks_load(const char *results_path, const plan_source *src, planned_task **out, int *nout) {
  char tmp[1024] = "";
  job_t job = {0};
  task_t *tasks = NULL;
  int n = 0;
  *out = NULL;
  *nout = 0;
  const char *job_path = src->job_path;
  if (!job_path) {
    TRY(stored_job_file(results_path, tmp, sizeof tmp));
    job_path = tmp;
  }
  ad3d_status st = job_load(job_path, src->sets, src->nsets, src->sweeps, src->nsweeps, &job);
  if (tmp[0])
    unlink(tmp);
  if (st)
    return src->job_path ? st : ad3d_fail_context(st, "the job stored in %s", results_path);
  st = tasks_expand(&job, &tasks, &n);
  job_free(&job);
  if (st)
    return st;
  planned_task *p = calloc((size_t)n + 1, sizeof *p);
  int m = 0;
  for (int i = 0; p && i < n; i++)
    if (src->slice_count <= 0 || i % src->slice_count == src->slice_index) {
      snprintf(p[m].key, sizeof p[m].key, "%s", tasks[i].key);
      p[m++].cost = tasks[i].cost;
    }
  free(tasks);
  if (!p)
    return ad3d_fail(AD3D_ENOMEM, "out of memory for %d tasks", n);
  *out = p;
  *nout = m;
  return AD3D_OK;
}

/* Index of `key` among recs (-1 if absent). */
static int64_t record_find(const task_record *recs, int64_t n, const char *key) {
  for (int64_t i = 0; i < n; i++)
    if (!strcmp(recs[i].key, key))
      return i;
  return -1;
}

ad3d_status records_load_union(char *const *paths, int n, task_record **out, int64_t *nout) {
  task_record *all = NULL;
  int64_t m = 0;
  *out = NULL;
  *nout = 0;
  for (int f = 0; f < n; f++) {
    task_record *recs = NULL;
    int64_t nr = 0;
    ad3d_status st = results_read_tasks(paths[f], &recs, &nr);
    task_record *grown = st ? NULL : realloc(all, ((size_t)(m + nr) + 1) * sizeof *all);
    if (!grown) {
      free(recs);
      free(all);
      return st ? st : ad3d_fail(AD3D_ENOMEM, "out of memory for %lld task records", (long long)(m + nr));
    }
    all = grown;
    for (int64_t i = 0; i < nr; i++) {
      int64_t j = record_find(all, m, recs[i].key);
      if (j < 0)
        all[m++] = recs[i];
      else if (recs[i].status == TASK_OK || all[j].status != TASK_OK) /* a success anywhere counts */
        all[j] = recs[i];
    }
    free(recs);
  }
  *out = all;
  *nout = m;
  return AD3D_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Is a writer at work?
 * ------------------------------------------------------------------------------------------- */

typedef enum { WRITER_NONE, WRITER_HERE, WRITER_UNKNOWN } writer_state;

/* Whether a process of this host holds the flock of "<path>.lock" (the results writer's lock),
 * read from /proc/locks: looking takes no lock, so a starting writer is never disturbed. A writer
 * on another host (a shared file system) is not visible here. *pid: the holder. */
static int writer_holds_lock_here(const char *path, long *pid) {
  char *lock = str_printf("%s.lock", path);
  struct stat sb;
  int found = 0;
  if (lock && stat(lock, &sb) == 0) {
    FILE *f = fopen("/proc/locks", "r");
    char line[256];
    while (f && !found && fgets(line, sizeof line, f)) {
      char kind[16];
      unsigned maj, min;
      unsigned long ino;
      long p;
      if (strstr(line, "->")) /* a blocked waiter, not a holder */
        continue;
      if (sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%lu", kind, &p, &maj, &min, &ino) == 5 &&
          !strcmp(kind, "FLOCK") && ino == (unsigned long)sb.st_ino && maj == major(sb.st_dev) &&
          min == minor(sb.st_dev)) {
        found = 1;
        *pid = p;
      }
    }
    if (f)
      fclose(f);
  }
  free(lock);
  return found;
}

/* ---------------------------------------------------------------------------------------------
 * ad3d status
 * ------------------------------------------------------------------------------------------- */

static void usage(FILE *f) {
  fprintf(f,
          "usage: ad3d status RESULTS.h5 [MORE.h5 ...] [JOB.cfg] [options]\n"
          "\n"
          "How far a job has got, finished or still running: tasks done, failed (with their errors),\n"
          "running and left. The plan is the job stored in the first results file, or JOB.cfg with the\n"
          "options given; several results files (the slices of a job array) count as one job.\n"
          "\n"
          "  --set KEY=VALUE, --sweep KEY=V1,V2, --methods, --classes, --seed   as for `ad3d run`\n"
          "  --slice I/N        the job was run as slice I of N (`ad3d run --slice`); default: the slices\n"
          "                     the results files store (files of older ad3d store none), or the\n"
          "                     whole job; --slice 0/1 counts the whole job\n"
          "  --all              list every task left (default: the first 20)\n"
          "  --no-plan          report the results files only\n"
          "\n"
          "exit status: 0 every planned task succeeded; 3 tasks failed or are left; 1 a file cannot be\n"
          "read; 2 bad arguments.\n");
}

typedef struct {
  char **files;
  int nfiles;
  plan_source src;
  int all, no_plan;
} status_args;

/* One line per results file: when it started, and whether it is finished or being written. */
static int print_files(const status_args *a, FILE *out, int *writing) {
  *writing = 0;
  for (int f = 0; f < a->nfiles; f++) {
    const char *path = a->files[f];
    char *start = NULL, *end = NULL, *ranks = NULL, *hosts = NULL;
    if (results_read_attr(path, "start_time", &start) || results_read_attr(path, "end_time", &end) ||
        results_read_attr(path, "ranks", &ranks) || results_read_attr(path, "hosts", &hosts)) {
      fprintf(stderr, "ad3d status: %s\n", ad3d_errmsg());
      free(start), free(end), free(ranks), free(hosts);
      return 1;
    }
    long pid = 0;
    char state[160];
    if (writer_holds_lock_here(path, &pid)) {
      snprintf(state, sizeof state, "being written now (pid %ld on this host)", pid);
      *writing = 1;
    } else if (end[0])
      snprintf(state, sizeof state, "closed at %s", end);
    else {
      snprintf(state, sizeof state, "not closed: running on another host, or interrupted (resume it)");
      *writing = 1;
    }
    int32_t si = 0, sn = 0;
    char slice[64] = "";
    if (results_read_slice(path, &si, &sn) == AD3D_OK && sn > 0)
      snprintf(slice, sizeof slice, ", slice %d/%d", (int)si, (int)sn);
    ad3d_clear_error();
    fprintf(out, "%s: started %s on %s rank(s) (%s)%s; %s\n", path, start, ranks, hosts, slice, state);
    free(start), free(end), free(ranks), free(hosts);
  }
  return 0;
}

static int cmp_rec_ptr(const void *a, const void *b) {
  return strcmp((*(const task_record *const *)a)->key, (*(const task_record *const *)b)->key);
}

/* The record of `key` in a by-key sorted array of pointers, or NULL. */
static const task_record *record_lookup(const task_record *const *sorted, int64_t n, const char *key) {
  task_record probe;
  const task_record *pp = &probe;
  snprintf(probe.key, sizeof probe.key, "%s", key);
  const task_record *const *hit = n ? bsearch(&pp, sorted, (size_t)n, sizeof *sorted, cmp_rec_ptr) : NULL;
  return hit ? *hit : NULL;
}

/* Planned tasks against the records: counts, then the running (estimated) and left lists. */
static int plan_print(const status_args *a, const planned_task *plan, int nplan, const task_record *recs,
                      int64_t nrec, int writing, FILE *out) {
  const task_record **sorted = malloc(((size_t)nrec + 1) * sizeof *sorted);
  char *has_record = calloc((size_t)nplan + 1, 1);
  if (!sorted || !has_record) {
    free(sorted);
    free(has_record);
    fprintf(stderr, "ad3d status: out of memory\n");
    return 1;
  }
  for (int64_t i = 0; i < nrec; i++)
    sorted[i] = &recs[i];
  qsort(sorted, (size_t)nrec, sizeof *sorted, cmp_rec_ptr);
  int nok = 0, nfailed = 0, nleft = 0;
  double cost_all = 0, cost_done = 0;
  for (int t = 0; t < nplan; t++) {
    const task_record *r = record_lookup(sorted, nrec, plan[t].key);
    cost_all += plan[t].cost;
    has_record[t] = r != NULL;
    if (r) {
      cost_done += plan[t].cost;
      nok += r->status == TASK_OK;
      nfailed += r->status != TASK_OK;
    } else
      nleft++;
  }
  /* the master hands tasks out largest first, so while a run is at work its workers (ranks - 1)
   * hold the first tasks without a record */
  char *ranks_text = NULL;
  long ranks = results_read_attr(a->files[0], "ranks", &ranks_text) ? 1 : strtol(ranks_text, NULL, 10);
  free(ranks_text);
  long workers = ranks > 1 ? ranks - 1 : 1;
  int nrunning = writing ? (nleft < workers ? nleft : (int)workers) : 0;
  fprintf(out, "tasks: %d planned, %d done (%d ok, %d failed), %d %s, %d left; %.0f%% of the cost estimate "
          "done\n", nplan, nok + nfailed, nok, nfailed, nrunning, writing ? "probably running" : "running", nleft - nrunning,
          cost_all > 0 ? 100 * cost_done / cost_all : 100.0);
  int64_t nextra = nrec - (nok + nfailed);
  if (nextra > 0)
    fprintf(out, "(%lld recorded task(s) are not in the planned job)\n", (long long)nextra);
  if (nrunning)
    fprintf(out, "\nprobably running (the next %d in the order the master hands tasks out):\n", nrunning);
  int seen = 0, listed = 0;
  for (int t = 0; t < nplan; t++) {
    if (has_record[t])
      continue;
    if (seen++ < nrunning) {
      fprintf(out, "  %s\n", plan[t].key);
      continue;
    }
    if (listed == 0)
      fprintf(out, "\nleft (%d):\n", nleft - nrunning);
    if (a->all || listed < 20)
      fprintf(out, "  %s\n", plan[t].key);
    listed++;
  }
  if (listed > 20 && !a->all)
    fprintf(out, "  ... and %d more (--all lists them)\n", listed - 20);
  free(sorted);
  free(has_record);
  return nleft || nfailed ? 3 : 0;
}

/* The slices the results files store: held[k] (k < *count, malloc'd) when every file stores a
 * slice of the same N, else *count 0 and why in `why` (the plan is then the whole job). */
static void stored_slices(char *const *files, int n, int32_t *count, char **held, char *why, size_t cap) {
  *count = 0;
  *held = NULL;
  why[0] = '\0';
  int32_t *idx = calloc((size_t)n + 1, sizeof *idx), *cnt = calloc((size_t)n + 1, sizeof *cnt);
  int ok = idx && cnt;
  for (int f = 0; ok && f < n; f++) {
    if (results_read_slice(files[f], &idx[f], &cnt[f]) != AD3D_OK) {
      snprintf(why, cap, "%s", ad3d_errmsg());
      ok = 0;
    } else if (cnt[f] == 0) {
      ok = 0; /* a whole run, a merge, or a file of an older ad3d */
    } else if (cnt[f] != cnt[0]) {
      snprintf(why, cap, "%s is slice %d/%d, %s slice %d/%d", files[0], (int)idx[0], (int)cnt[0], files[f],
               (int)idx[f], (int)cnt[f]);
      ok = 0;
    }
  }
  if (ok && (*held = calloc((size_t)cnt[0], 1)) != NULL) {
    *count = cnt[0];
    for (int f = 0; f < n; f++)
      (*held)[idx[f]] = 1;
  }
  ad3d_clear_error();
  free(idx);
  free(cnt);
}

/* The planned tasks: the slice of --slice, else the slices the files store, else the whole job. */
static ad3d_status plan_load(const status_args *a, planned_task **plan, int *nplan, FILE *out) {
  if (a->src.slice_count > 0)
    return planned_tasks_load(a->files[0], &a->src, plan, nplan);
  int32_t count = 0;
  char *held = NULL, why[600];
  stored_slices(a->files, a->nfiles, &count, &held, why, sizeof why);
  if (why[0])
    fprintf(out, "(planning the whole job: %s)\n", why);
  TRY(planned_tasks_load(a->files[0], &a->src, plan, nplan));
  if (count > 0) { /* the whole job's list, position i in slice i % count (the runner's round robin) */
    int m = 0;
    char list[200] = "";
    for (int i = 0; i < *nplan; i++)
      if (held[i % count])
        (*plan)[m++] = (*plan)[i];
    *nplan = m;
    for (int32_t k = 0, len = 0; k < count && len < (int)sizeof list - 16; k++)
      if (held[k])
        len += snprintf(list + len, sizeof list - (size_t)len, "%s%d", len ? ", " : "", (int)k);
    fprintf(out, "plan: slice(s) %s of %d, as the results files store (--slice 0/1: the whole job)\n", list,
            (int)count);
  }
  free(held);
  return AD3D_OK;
}

static int status_print(const status_args *a, FILE *out) {
  task_record *recs = NULL;
  planned_task *plan = NULL;
  int64_t nrec = 0;
  int nplan = 0, rc = 0, writing = 0, have_plan = 0;
  if (print_files(a, out, &writing))
    return 1;
  if (records_load_union(a->files, a->nfiles, &recs, &nrec)) {
    fprintf(stderr, "ad3d status: %s\n", ad3d_errmsg());
    return 1;
  }
  if (!a->no_plan) {
    if (plan_load(a, &plan, &nplan, out) == AD3D_OK)
      have_plan = 1;
    else
      fprintf(out, "(the planned task list is unknown: %s)\n", ad3d_errmsg());
  }
  int64_t nfailed = 0;
  double task_s = 0;
  for (int64_t i = 0; i < nrec; i++) {
    nfailed += recs[i].status != TASK_OK;
    task_s += recs[i].fit_s + recs[i].score_s;
  }
  fprintf(out, "records: %lld (%lld ok, %lld failed), %.1f s of task time\n", (long long)nrec,
          (long long)(nrec - nfailed), (long long)nfailed, task_s);
  if (have_plan)
    rc = plan_print(a, plan, nplan, recs, nrec, writing, out);
  if (nfailed) {
    fprintf(out, "\nfailed (%lld):\n", (long long)nfailed);
    for (int64_t i = 0; i < nrec; i++)
      if (recs[i].status != TASK_OK)
        fprintf(out, "  %s (rank %d): %s\n", recs[i].key, recs[i].rank, recs[i].error);
    if (rc == 0)
      rc = 3;
  }
  free(recs);
  free(plan);
  return rc;
}

/* 1 if path starts with the HDF5 signature (a results file), 0 if not, -1 if it cannot be read. */
static int is_hdf5_file(const char *path) {
  static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  unsigned char head[8];
  FILE *f = fopen(path, "rb");
  if (!f)
    return -1;
  size_t k = fread(head, 1, sizeof head, f);
  fclose(f);
  return k == sizeof head && !memcmp(head, sig, sizeof sig);
}

/* Positional arguments: results files (HDF5) and at most one job file; 0 ok, 2 bad. */
int results_and_job_args(const char *cmd, char *const *pos, int npos, char **files, int *nfiles, plan_source *src) {
  *nfiles = 0;
  for (int i = 0; i < npos; i++) {
    int h5 = is_hdf5_file(pos[i]);
    if (h5 < 0 && !str_ends_with(pos[i], ".cfg")) { /* a results file that is not there yet */
      fprintf(stderr, "ad3d %s: %s: %s\n", cmd, pos[i], strerror(errno));
      return 2;
    }
    if (h5 > 0)
      files[(*nfiles)++] = pos[i];
    else if (!src->job_path)
      src->job_path = pos[i];
    else {
      fprintf(stderr, "ad3d %s: more than one job file (%s, %s)\n", cmd, src->job_path, pos[i]);
      return 2;
    }
  }
  if (*nfiles == 0) {
    fprintf(stderr, "ad3d %s: no results file given\n", cmd);
    return 2;
  }
  return 0;
}

int cmd_status(int argc, char **argv) {
  status_args a = {0};
  char **pos = calloc((size_t)argc + 1, sizeof *pos);
  int npos = 0, rc = 2;
  a.files = calloc((size_t)argc + 1, sizeof *a.files);
  if (!pos || !a.files)
    goto done;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i];
    if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
      usage(stdout);
      rc = 0;
      goto done;
    } else if (!strcmp(o, "--all"))
      a.all = 1;
    else if (!strcmp(o, "--no-plan"))
      a.no_plan = 1;
    else {
      int k = plan_source_arg(argc, argv, &i, &a.src);
      if (k < 0)
        goto done;
      if (k == 0 && o[0] == '-' && o[1]) {
        fprintf(stderr, "ad3d status: unknown option %s\n\n", o);
        usage(stderr);
        goto done;
      }
      if (k == 0)
        pos[npos++] = argv[i];
    }
  }
  if (results_and_job_args("status", pos, npos, a.files, &a.nfiles, &a.src))
    goto done;
  rc = status_print(&a, stdout);
done:
  plan_source_free(&a.src);
  free(pos);
  free(a.files);
  return rc;
}
