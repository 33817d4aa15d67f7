/* cmd_plan.c - `ad3d plan RESULTS.h5 [MORE.h5 ...] [JOB.cfg] --ranks R[,R...]`: how long the job
 * would take on R ranks, by replaying the task times a run measured (fit_s + score_s of each task)
 * with the runner's policy: one master and R - 1 workers, each worker taking the next task of a
 * fixed order the moment it is free (R = 1: the master runs everything itself). Two orders:
 *   cost  the order `ad3d run` uses: largest cost estimate first (the job's task list, see
 *         runner/tasks.h), which needs the job (stored in the results file, or JOB.cfg);
 *   time  longest measured time first: what a perfect estimate would give.
 * Each makespan is shown against the ideal lower bound max(total / (R - 1), longest task). Not
 * modelled: loading the job, MPI messages and the master's writes (small beside a task). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "store/results.h"

/* Makespan of `n` tasks of `times` (seconds, in hand-out order) on `workers` identical workers,
 * each taking the next task as soon as it is free. A binary min-heap of the workers' free times. */
static double replay(const double *times, int64_t n, int64_t workers, double *heap /* (min(workers, n)) */) {
  int64_t k = workers < n ? workers : n; /* more workers than tasks: the rest never start */
  double end = 0;
  for (int64_t i = 0; i < k; i++)
    heap[i] = 0; /* every worker is free at t = 0 */
  for (int64_t i = 0; i < n; i++) {
    heap[0] += times[i]; /* the worker free first takes the next task */
    if (heap[0] > end)
      end = heap[0];
    for (int64_t c = 0;;) { /* sift it down to restore the heap */
      int64_t l = 2 * c + 1, r = l + 1, m = c;
      if (l < k && heap[l] < heap[m])
        m = l;
      if (r < k && heap[r] < heap[m])
        m = r;
      if (m == c)
        break;
      double t = heap[c];
      heap[c] = heap[m];
      heap[m] = t;
      c = m;
    }
  }
  return end;
}

typedef struct {
  const char *key;
  double t;
} timed;

static int cmp_timed_desc(const void *a, const void *b) {
  const timed *x = a, *y = b;
  if (x->t != y->t)
    return x->t < y->t ? 1 : -1;
  return strcmp(x->key, y->key);
}

static int cmp_rec_key(const void *a, const void *b) {
  return strcmp(((const task_record *)a)->key, ((const task_record *)b)->key);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: ad3d plan RESULTS.h5 [MORE.h5 ...] [JOB.cfg] [--ranks R1,R2,...] [--format text|csv]\n"
          "\n"
          "Replays the task times a run measured (fit + score seconds of each task) with the runner's\n"
          "policy (one master, R - 1 workers each taking the next task when free) and prints the makespan\n"
          "on R ranks against the ideal lower bound max(total / (R - 1), longest task), for two orders:\n"
          "the job's cost estimate, as `ad3d run` hands tasks out, and the measured times, longest first.\n"
          "The job is the one stored in the first results file, or JOB.cfg with the options below.\n"
          "\n"
          "  --ranks LIST     ranks to plan for (default 2,4,8,16,32,64,128,256,512,1000)\n"
          "  --format F       text (default) or csv: ranks,workers,makespan_cost_s,makespan_time_s,lower_bound_s\n"
          "  --set, --sweep, --methods, --classes, --seed, --slice I/N   the job, as for `ad3d run`\n"
          "  --no-plan        the measured order only (do not expand the job)\n"
          "\n"
          "exit status: 0 planned; 1 a file cannot be read or holds no task; 2 bad arguments.\n");
}

/* "2,4,1000" -> ranks (each >= 1). 0 if malformed. */
static int parse_ranks(const char *text, int64_t **out, int *n) {
  const char *p = text;
  *n = 0;
  free(*out);
  *out = malloc((strlen(text) / 2 + 2) * sizeof **out);
  while (*out && *p) {
    char *end;
    long long v = strtoll(p, &end, 10);
    if (end == p || v < 1 || (*end && *end != ','))
      return 0;
    (*out)[(*n)++] = v;
    p = *end ? end + 1 : end;
  }
  return *out && *n > 0;
}

/* Times of the planned tasks that have a record, in the planned (cost) order. */
static int64_t cost_order_times(const planned_task *plan, int nplan, const task_record *sorted, int64_t nrec,
                                double *out, int64_t *unmeasured) {
  int64_t m = 0;
  *unmeasured = 0;
  for (int t = 0; t < nplan; t++) {
    task_record probe;
    snprintf(probe.key, sizeof probe.key, "%s", plan[t].key);
    const task_record *r = nrec ? bsearch(&probe, sorted, (size_t)nrec, sizeof *sorted, cmp_rec_key) : NULL;
    if (r)
      out[m++] = r->fit_s + r->score_s;
    else
      (*unmeasured)++;
  }
  return m;
}

int cmd_plan(int argc, char **argv) {
  plan_source src = {0};
  char **pos = calloc((size_t)argc + 1, sizeof *pos), **files = calloc((size_t)argc + 1, sizeof *files);
  int64_t *ranks = NULL;
  int npos = 0, nfiles = 0, nranks = 0, csv = 0, no_plan = 0, rc = 2;
  task_record *recs = NULL;
  planned_task *plan = NULL;
  int64_t nrec = 0;
  int nplan = 0;
  timed *by_time = NULL;
  double *t_time = NULL, *t_cost = NULL, *heap = NULL;
  if (!pos || !files || !parse_ranks("2,4,8,16,32,64,128,256,512,1000", &ranks, &nranks))
    goto done;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i];
    if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
      usage(stdout);
      rc = 0;
      goto done;
    } else if (!strcmp(o, "--no-plan"))
      no_plan = 1;
    else if (!strcmp(o, "--ranks") && i + 1 < argc) {
      if (!parse_ranks(argv[++i], &ranks, &nranks)) {
        fprintf(stderr, "ad3d plan: --ranks %s: expected a comma list of rank counts >= 1\n", argv[i]);
        goto done;
      }
    } else if (!strcmp(o, "--format") && i + 1 < argc) {
      const char *f = argv[++i];
      if (strcmp(f, "text") && strcmp(f, "csv")) {
        fprintf(stderr, "ad3d plan: --format %s: expected text or csv\n", f);
        goto done;
      }
      csv = !strcmp(f, "csv");
    } else {
      int k = plan_source_arg(argc, argv, &i, &src);
      if (k < 0)
        goto done;
      if (k == 0 && o[0] == '-' && o[1]) {
        fprintf(stderr, "ad3d plan: unknown option %s\n\n", o);
        usage(stderr);
        goto done;
      }
      if (k == 0)
        pos[npos++] = argv[i];
    }
  }
  if (results_and_job_args("plan", pos, npos, files, &nfiles, &src))
    goto done;
  rc = 1;
  if (records_load_union(files, nfiles, &recs, &nrec)) {
    fprintf(stderr, "ad3d plan: %s\n", ad3d_errmsg());
    goto done;
  }
  if (nrec == 0) {
    fprintf(stderr, "ad3d plan: %s holds no task yet\n", files[0]);
    goto done;
  }
  by_time = malloc((size_t)nrec * sizeof *by_time);
  t_time = malloc((size_t)nrec * sizeof *t_time);
  t_cost = malloc((size_t)nrec * sizeof *t_cost);
  heap = malloc((size_t)nrec * sizeof *heap);
  if (!by_time || !t_time || !t_cost || !heap) {
    fprintf(stderr, "ad3d plan: out of memory\n");
    goto done;
  }
  double total = 0, longest = 0;
  for (int64_t i = 0; i < nrec; i++) {
    by_time[i] = (timed){recs[i].key, recs[i].fit_s + recs[i].score_s};
    total += by_time[i].t;
    longest = by_time[i].t > longest ? by_time[i].t : longest;
  }
  qsort(by_time, (size_t)nrec, sizeof *by_time, cmp_timed_desc);
  for (int64_t i = 0; i < nrec; i++)
    t_time[i] = by_time[i].t;

  /* the cost order: the job's task list, restricted to the tasks with a measured time */
  int64_t ncost = 0, unmeasured = 0;
  char why[600] = "";
  if (no_plan)
    snprintf(why, sizeof why, "--no-plan");
  else if (planned_tasks_load(files[0], &src, &plan, &nplan) != AD3D_OK)
    snprintf(why, sizeof why, "%s", ad3d_errmsg());
  else {
    qsort(recs, (size_t)nrec, sizeof *recs, cmp_rec_key); /* for lookups; by_time is no longer needed */
    ncost = cost_order_times(plan, nplan, recs, nrec, t_cost, &unmeasured);
  }
  int cost_ok = plan && ncost == nrec;
  if (plan && !cost_ok)
    snprintf(why, sizeof why, "%lld planned task(s) have no measured time and %lld measured one(s) are not "
             "planned", (long long)unmeasured, (long long)(nrec - ncost));

  if (csv)
    printf("ranks,workers,makespan_cost_s,makespan_time_s,lower_bound_s\n");
  else {
    printf("ad3d plan: %lld task(s) with measured times from %s%s; total %.3f s, longest %.3f s\n", (long long)nrec,
           files[0], nfiles > 1 ? " and more" : "", total, longest);
    printf("order cost: as `ad3d run` hands tasks out (largest cost estimate first)%s%s\n",
           cost_ok ? "" : "; not available: ", cost_ok ? "" : why);
    printf("order time: longest measured time first\n\n");
    printf("%8s %8s %16s %16s %14s %12s\n", "ranks", "workers", "makespan_cost_s", "makespan_time_s",
           "lower_bound_s", "bound/cost");
  }
  for (int r = 0; r < nranks; r++) {
    int64_t workers = ranks[r] > 1 ? ranks[r] - 1 : 1; /* one rank: the master runs the tasks itself */
    double mt = replay(t_time, nrec, workers, heap);
    double mc = cost_ok ? replay(t_cost, nrec, workers, heap) : NAN;
    double bound = fmax(total / (double)workers, longest);
    if (csv)
      printf("%lld,%lld,%.9g,%.9g,%.9g\n", (long long)ranks[r], (long long)workers, mc, mt, bound);
    else if (cost_ok)
      printf("%8lld %8lld %16.3f %16.3f %14.3f %12.3f\n", (long long)ranks[r], (long long)workers, mc, mt, bound,
             mc > 0 ? bound / mc : 1.0);
    else
      printf("%8lld %8lld %16s %16.3f %14.3f %12s\n", (long long)ranks[r], (long long)workers, "-", mt, bound, "-");
  }
  rc = 0;
done:
  plan_source_free(&src);
  free(pos);
  free(files);
  free(ranks);
  free(recs);
  free(plan);
  free(by_time);
  free(t_time);
  free(t_cost);
  free(heap);
  return rc;
}
