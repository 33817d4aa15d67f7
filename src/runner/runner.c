/* runner.c - master and worker loops of `ad3d run`. The only file with MPI besides main.c. */
#include "runner/runner.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfg/job.h"
#include "common/util.h"
#include "methods/maefeat.h"
#include "runner/mpiutil.h"
#include "runner/protocol.h"
#include "runner/tasks.h"
#include "store/checkpoint.h"
#include "store/results.h"


/* ---- payload: task_scores <-> bytes ---- */

static int64_t payload_size(const task_scores *s) {
  int64_t b = 0;
  for (int64_t i = 0; i < s->nsamples; i++)
    b += 1 + 8 + 8 + (int64_t)strlen(s->names[i]) + 1 + (int64_t)strlen(s->defects[i]) + 1;
  return b + 16 + s->total_points * 5;
}

static void put(char **p, const void *v, size_t n) {
  memcpy(*p, v, n);
  *p += n;
}

static void pack_scores(const task_scores *s, char *buf) {
  char *p = buf;
  put(&p, &s->nsamples, 8);
  put(&p, &s->total_points, 8);
  for (int64_t i = 0; i < s->nsamples; i++) {
    put(&p, &s->labels[i], 1);
    put(&p, &s->object_scores[i], 8);
    put(&p, &s->npoints[i], 8);
    put(&p, s->names[i], strlen(s->names[i]) + 1);
    put(&p, s->defects[i], strlen(s->defects[i]) + 1);
  }
  put(&p, s->point_scores, (size_t)s->total_points * 4);
  put(&p, s->point_labels, (size_t)s->total_points);
}

static ad3d_status unpack_scores(const char *buf, int64_t size, task_scores *s) {
  const char *p = buf, *end = buf + size;
  memset(s, 0, sizeof *s);
  memcpy(&s->nsamples, p, 8);
  memcpy(&s->total_points, p + 8, 8);
  p += 16;
  int64_t ns = s->nsamples, np = s->total_points;
  s->names = calloc((size_t)ns + 1, sizeof *s->names);
  s->defects = calloc((size_t)ns + 1, sizeof *s->defects);
  s->labels = malloc((size_t)ns + 1);
  s->object_scores = malloc(((size_t)ns + 1) * 8);
  s->npoints = malloc(((size_t)ns + 1) * 8);
  s->point_scores = malloc(((size_t)np + 1) * 4);
  s->point_labels = malloc((size_t)np + 1);
  if (!s->names || !s->defects || !s->labels || !s->object_scores || !s->npoints || !s->point_scores ||
      !s->point_labels)
    return ad3d_fail(AD3D_ENOMEM, "out of memory receiving %lld point scores", (long long)np);
  for (int64_t i = 0; i < ns; i++) {
    memcpy(&s->labels[i], p, 1);
    memcpy(&s->object_scores[i], p + 1, 8);
    memcpy(&s->npoints[i], p + 9, 8);
    p += 17;
    s->names[i] = xstrdup(p);
    p += strlen(p) + 1;
    s->defects[i] = xstrdup(p);
    p += strlen(p) + 1;
    if (!s->names[i] || !s->defects[i])
      return AD3D_ENOMEM;
  }
  memcpy(s->point_scores, p, (size_t)np * 4);
  memcpy(s->point_labels, p + np * 4, (size_t)np);
  ASSERT(p + np * 5 == end);
  return AD3D_OK;
}

static void send_bytes(const char *buf, int64_t n, int dest, MPI_Comm comm) {
  for (int64_t off = 0; off < n; off += PAYLOAD_CHUNK) {
    int64_t len = n - off < PAYLOAD_CHUNK ? n - off : PAYLOAD_CHUNK;
    MPI_CHECK(MPI_Send(buf + off, (int)len, MPI_BYTE, dest, TAG_PAYLOAD, comm));
  }
}

static void recv_bytes(char *buf, int64_t n, int src, MPI_Comm comm) {
  for (int64_t off = 0; off < n; off += PAYLOAD_CHUNK) {
    int64_t len = n - off < PAYLOAD_CHUNK ? n - off : PAYLOAD_CHUNK;
    mpi_recv_sleepy(buf + off, (int)len, MPI_BYTE, src, TAG_PAYLOAD, comm, MPI_STATUS_IGNORE);
  }
}

/* ---- progress ---- */

typedef struct {
  FILE *out;
  int quiet;
  int total, done, failed, running;
  double t0, cost_total, cost_done;
} progress;

static void fmt_duration(double s, char *buf, size_t n) {
  if (!isfinite(s) || s < 0)
    snprintf(buf, n, "?");
  else if (s < 90)
    snprintf(buf, n, "%.0fs", s);
  else if (s < 5400)
    snprintf(buf, n, "%.0fm%02.0fs", floor(s / 60), fmod(s, 60));
  else
    snprintf(buf, n, "%.0fh%02.0fm", floor(s / 3600), fmod(s / 60, 60));
}

static void progress_report(progress *p, const task_record *r, double cost) {
  p->done++;
  p->cost_done += cost;
  if (r->status != TASK_OK)
    p->failed++;
  if (p->quiet)
    return;
  double el = now_seconds() - p->t0;
  double eta = p->cost_done > 0 ? el * (p->cost_total - p->cost_done) / p->cost_done : NAN;
  char e[32];
  fmt_duration(eta, e, sizeof e);
  if (r->status == TASK_OK)
    fprintf(p->out, "[%d/%d done, %d running, %d failed, ETA %s] %s  I-AUROC %.3f  P-AUROC %.3f  (%.1fs)\n", p->done,
            p->total, p->running, p->failed, e, r->key, r->i_auroc, r->p_auroc, r->fit_s + r->score_s);
  else
    fprintf(p->out, "[%d/%d done, %d running, %d failed, ETA %s] %s  FAILED: %s\n", p->done, p->total, p->running,
            p->failed, e, r->key, r->error);
  fflush(p->out);
}

/* ---- master ---- */

typedef struct {
  const job_t *job;
  const task_t *tasks;
  int *pending; /* task indices still to run, in order */
  int npending, next;
  results_t *res;
  progress prog;
  runner_summary *sum;
} master_state;

static ad3d_status record(master_state *m, const task_record *rec, const task_scores *sc, int task) {
  ad3d_status st = results_append(m->res, rec, rec->status == TASK_OK ? sc : NULL);
  if (st)
    return ad3d_fail_context(st, "recording task %s", rec->key);
  if (rec->status == TASK_OK)
    m->sum->nok++;
  else
    m->sum->nfailed++;
  progress_report(&m->prog, rec, m->tasks[task].cost);
  return AD3D_OK;
}

static ad3d_status master_serial(master_state *m) {
  for (; m->next < m->npending; m->next++) {
    int t = m->pending[m->next];
    task_record rec;
    task_scores sc;
    m->prog.running = 1;
    task_execute(m->job, &m->tasks[t], 0, &rec, &sc);
    m->prog.running = 0;
    ad3d_status st = record(m, &rec, &sc, t);
    task_scores_free(&sc);
    if (st)
      return st;
  }
  return AD3D_OK;
}

static void send_next(master_state *m, int worker, MPI_Comm comm) {
  int32_t t = m->next < m->npending ? m->pending[m->next++] : -1;
  if (t >= 0)
    m->prog.running++;
  MPI_CHECK(MPI_Send(&t, 1, MPI_INT32_T, worker, TAG_TASK, comm));
}

static ad3d_status master_loop(master_state *m, MPI_Comm comm, int nworkers) {
  ad3d_status st = AD3D_OK;
  int stopped = 0;
  while (stopped < nworkers) {
    MPI_Status status;
    result_head head;
    mpi_recv_sleepy(&head, (int)sizeof head, MPI_BYTE, MPI_ANY_SOURCE, MPI_ANY_TAG, comm, &status);
    int w = status.MPI_SOURCE;
    task_scores sc = {0};
    if (status.MPI_TAG == TAG_RESULT) {
      m->prog.running--;
      char *buf = NULL;
      if (head.payload_bytes > 0) {
        buf = malloc((size_t)head.payload_bytes);
        if (!buf) { /* cannot hold it: drain it in a small buffer and record the task as failed */
          st = ad3d_fail(AD3D_ENOMEM, "master: out of memory receiving %lld bytes", (long long)head.payload_bytes);
          MPI_Abort(comm, 101);
        }
        recv_bytes(buf, head.payload_bytes, w, comm);
        if (unpack_scores(buf, head.payload_bytes, &sc)) {
          head.rec.status = TASK_FAILED;
          snprintf(head.rec.error, sizeof head.rec.error, "master: %s", ad3d_errmsg());
        }
        free(buf);
      }
    }
    /* the worker gets its next task before the result is written, so it never waits on the disk */
    int before = m->next;
    send_next(m, w, comm);
    if (m->next == before)
      stopped++;
    if (status.MPI_TAG == TAG_RESULT && !st) {
      st = record(m, &head.rec, &sc, head.task);
      if (st) /* the results file failed: hand out no more work, let every worker finish */
        m->next = m->npending;
    }
    task_scores_free(&sc);
  }
  return st;
}

/* ---- worker ---- */

static void worker_loop(const job_t *job, const task_t *tasks, MPI_Comm comm, int rank) {
  result_head head = {.task = -1};
  MPI_CHECK(MPI_Send(&head, (int)sizeof head, MPI_BYTE, 0, TAG_READY, comm));
  for (;;) {
    int32_t t;
    mpi_recv_sleepy(&t, 1, MPI_INT32_T, 0, TAG_TASK, comm, MPI_STATUS_IGNORE);
    if (t < 0)
      return;
    task_scores sc;
    memset(&head, 0, sizeof head);
    head.task = t;
    task_execute(job, &tasks[t], rank, &head.rec, &sc);
    char *buf = NULL;
    if (head.rec.status == TASK_OK) {
      head.payload_bytes = payload_size(&sc);
      buf = malloc((size_t)head.payload_bytes);
      if (!buf) {
        head.rec.status = TASK_FAILED;
        snprintf(head.rec.error, sizeof head.rec.error, "send: out of memory packing %lld bytes of scores",
                 (long long)head.payload_bytes);
        head.payload_bytes = 0;
      } else
        pack_scores(&sc, buf);
    }
    MPI_CHECK(MPI_Send(&head, (int)sizeof head, MPI_BYTE, 0, TAG_RESULT, comm));
    if (buf)
      send_bytes(buf, head.payload_bytes, 0, comm);
    free(buf);
    task_scores_free(&sc);
  }
}

/* ---- the run ---- */

static char *gather_hosts(MPI_Comm comm, int rank, int size) {
  char name[MPI_MAX_PROCESSOR_NAME] = {0};
  int len;
  MPI_CHECK(MPI_Get_processor_name(name, &len));
  char *all = rank == 0 ? calloc((size_t)size, MPI_MAX_PROCESSOR_NAME) : NULL;
  MPI_CHECK(MPI_Gather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0, comm));
  if (rank != 0 || !all)
    return NULL;
  char *joined = calloc((size_t)size, MPI_MAX_PROCESSOR_NAME + 1);
  for (int i = 0; joined && i < size; i++) {
    const char *h = all + (size_t)i * MPI_MAX_PROCESSOR_NAME;
    int seen = 0;
    for (int j = 0; j < i && !seen; j++)
      seen = !strcmp(h, all + (size_t)j * MPI_MAX_PROCESSOR_NAME);
    if (!seen) {
      if (*joined)
        strcat(joined, ",");
      strcat(joined, h);
    }
  }
  free(all);
  return joined;
}

/* Rank 0 prepares (tasks + results file); the outcome is broadcast so every rank agrees. */
static ad3d_status master_prepare(const runner_args *a, const job_t *job, int size, const char *hosts, task_t **tasks,
                                  int *ntasks, results_t **res) {
  TRY(tasks_expand(job, tasks, ntasks));
  if (a->slice_count > 0) { /* round robin over the cost order keeps the slices balanced */
    int k = 0;
    for (int i = 0; i < *ntasks; i++)
      if (i % a->slice_count == a->slice_index)
        (*tasks)[k++] = (*tasks)[i];
    *ntasks = k;
  }
  const opts_t *o = &job->variants[0].opts;
  results_meta meta = {
      .program_version = AD3D_PROGRAM_VERSION,
      .config_text = job->resolved_text,
      .seed = (uint64_t)opts_int(o, "run.seed"),
      .ranks = size,
      .hosts = hosts ? hosts : "",
      .slice_index = a->slice_count > 0 ? a->slice_index : 0,
      .slice_count = a->slice_count > 0 ? a->slice_count : 0,
  };
  const char *output = opts_str(o, "run.output");
  const char *slash = strrchr(output, '/');
  if (slash && slash > output) { /* the results file's folder may not exist yet */
    char dir[1024];
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - output), output);
    ad3d_status st = mkdir_p(dir);
    if (st) {
      free(*tasks);
      *tasks = NULL;
      return ad3d_fail_context(st, "run.output");
    }
  }
  ad3d_status st = results_open(output, &meta, a->force, res);
  if (st) {
    free(*tasks);
    *tasks = NULL;
  }
  return st;
}

ad3d_status runner_run(const runner_args *a, MPI_Comm comm, FILE *out, runner_summary *sum) {
  int rank, size;
  MPI_CHECK(MPI_Comm_rank(comm, &rank));
  MPI_CHECK(MPI_Comm_size(comm, &size));
  memset(sum, 0, sizeof *sum);
  maefeat_set_loader(checkpoint_load_model); /* methods read Point-MAE checkpoints through the store */

  job_t job = {0};
  ad3d_status st = job_load(a->config_path, a->sets, a->nsets, a->sweeps, a->nsweeps, &job);
  if (st)
    return st; /* every rank read the same inputs and fails the same way */
  const opts_t *o = &job.variants[0].opts;
  snprintf(sum->output, sizeof sum->output, "%s", opts_str(o, "run.output"));
  openblas_set_num_threads((int)opts_int(o, "run.blas_threads"));

  char *hosts = gather_hosts(comm, rank, size);
  task_t *tasks = NULL;
  int32_t ntasks = 0;
  results_t *res = NULL;
  int32_t prep[2] = {0, 0}; /* status, ntasks */
  if (rank == 0) {
    int n = 0;
    prep[0] = (int32_t)master_prepare(a, &job, size, hosts, &tasks, &n, &res);
    prep[1] = n;
  }
  mpi_bcast_sleepy(prep, sizeof prep, comm);
  if (prep[0] != AD3D_OK) {
    if (rank != 0)
      ad3d_fail((ad3d_status)prep[0], "rank 0 could not prepare the job");
    st = (ad3d_status)prep[0];
    goto cleanup;
  }
  ntasks = prep[1];
  if (rank != 0 && ntasks > 0 && !(tasks = malloc((size_t)ntasks * sizeof *tasks)))
    MPI_Abort(comm, 101);
  if (ntasks > 0)
    mpi_bcast_sleepy(tasks, (size_t)ntasks * sizeof *tasks, comm);
  sum->ntasks = ntasks;

  if (rank == 0) {
    master_state m = {.job = &job, .tasks = tasks, .res = res, .sum = sum};
    m.pending = malloc(((size_t)ntasks + 1) * sizeof *m.pending);
    if (!m.pending)
      MPI_Abort(comm, 101);
    m.prog = (progress){.out = out, .quiet = a->quiet, .t0 = now_seconds()};
    for (int i = 0; i < ntasks; i++) {
      if (results_task_status(res, tasks[i].key) == TASK_OK) {
        sum->nskipped++;
        continue;
      }
      m.pending[m.npending++] = i;
      m.prog.cost_total += tasks[i].cost;
    }
    m.prog.total = m.npending;
    if (!a->quiet) {
      fprintf(out, "ad3d run: %d tasks (%d already done in %s), %d variant(s), %d rank(s)\n", ntasks, sum->nskipped,
              sum->output, job.nvariants, size);
      fflush(out);
    }
    st = size == 1 ? master_serial(&m) : master_loop(&m, comm, size - 1);
    free(m.pending);
    ad3d_status cst = results_close(res);
    if (!st)
      st = cst;
    if (!a->quiet || sum->nfailed)
      fprintf(out, "ad3d run: %d ok, %d failed, %d skipped (already done); results in %s\n", sum->nok, sum->nfailed,
              sum->nskipped, sum->output);
  } else {
    worker_loop(&job, tasks, comm, rank);
  }
  int32_t final = (int32_t)st;
  MPI_CHECK(MPI_Bcast(&final, 1, MPI_INT32_T, 0, comm));
  if (rank != 0 && final != AD3D_OK)
    ad3d_fail((ad3d_status)final, "rank 0 failed to record results");
  st = (ad3d_status)final;

cleanup:
  free(tasks);
  free(hosts);
  job_free(&job);
  return st;
}
