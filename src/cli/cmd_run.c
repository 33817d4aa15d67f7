/* cmd_run.c - `ad3d run`: parse the command line, run the job under MPI, print the tables. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/util.h"
#include "runner/runner.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: [mpirun -np N] ad3d run [JOB.cfg] [options]\n"
          "\n"
          "Runs every (method x dataset x class x variant) task of a job and records the results in an\n"
          "HDF5 file. Re-running the same command resumes: finished tasks are skipped.\n"
          "\n"
          "options (each is a shortcut for --set; see `ad3d defaults` for every key):\n"
          "  --dataset [NAME=]LAYOUT:ROOT  the dataset to run on (replaces run.datasets)\n"
          "  --methods M1,M2              run.methods        --classes C1,C2   run.classes\n"
          "  --output FILE                run.output         --seed N          run.seed\n"
          "  --set KEY=VALUE              override any config key (repeatable)\n"
          "  --sweep KEY=V1,V2,...        add a sweep over KEY (repeatable; a grid unless run.sweep_mode=zip)\n"
          "  --slice I/N                  run only slice I of N of the task list (job arrays; 0 <= I < N)\n"
          "  --format md|csv|latex        format of the tables printed at the end (default md)\n"
          "  --no-report                  do not print the tables\n"
          "  --force                      resume even if the results file holds another config\n"
          "  --quiet                      no progress lines\n"
          "\n"
          "exit status: 0 when every task succeeded; else the number of failed tasks (at most 100);\n"
          "101 when the job could not run (bad arguments or config, unwritable results file).\n");
}

typedef struct {
  char **v;
  int n;
} strv;

static int strv_push(strv *s, char *x) {
  char **nv = realloc(s->v, (size_t)(s->n + 1) * sizeof *nv);
  if (!nv)
    return 0;
  s->v = nv;
  s->v[s->n++] = x;
  return 1;
}

/* --dataset [NAME=]LAYOUT:ROOT -> datasets.NAME.layout, datasets.NAME.root, run.datasets=NAME */
static int dataset_sets(const char *arg, strv *sets) {
  const char *colon = strchr(arg, ':'), *eq = strchr(arg, '=');
  if (!colon || (eq && eq > colon))
    return 0;
  char name[64], layout[64];
  const char *lay = eq ? eq + 1 : arg;
  snprintf(layout, sizeof layout, "%.*s", (int)(colon - lay), lay);
  if (eq)
    snprintf(name, sizeof name, "%.*s", (int)(eq - arg), arg);
  else { /* name from the folder's last component */
    const char *root = colon + 1;
    size_t len = strlen(root);
    while (len > 1 && root[len - 1] == '/')
      len--;
    const char *base = root + len;
    while (base > root && base[-1] != '/')
      base--;
    snprintf(name, sizeof name, "%.*s", (int)(root + len - base), base);
    for (char *p = name; *p; p++)
      if (!(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
        *p = '_';
    if (!name[0] || (name[0] >= '0' && name[0] <= '9'))
      snprintf(name, sizeof name, "data");
  }
  return strv_push(sets, str_printf("datasets.%s.layout=%s", name, layout)) &&
         strv_push(sets, str_printf("datasets.%s.root=%s", name, colon + 1)) &&
         strv_push(sets, str_printf("run.datasets=%s", name));
}

int cmd_run(int argc, char **argv) {
  strv sets = {0}, sweeps = {0};
  runner_args a = {0};
  report_format fmt = REPORT_MARKDOWN;
  int report = 1, rc = 101, bad = 0;
  for (int i = 1; i < argc && !bad; i++) {
    const char *o = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(o, "--quiet"))
      a.quiet = 1;
    else if (!strcmp(o, "--force"))
      a.force = 1;
    else if (!strcmp(o, "--no-report"))
      report = 0;
    else if (o[0] == '-' && o[1] == '-' && !val) {
      fprintf(stderr, "ad3d run: %s needs a value\n", o);
      bad = 1;
    } else if (!strcmp(o, "--set"))
      bad = !strv_push(&sets, str_printf("%s", argv[++i]));
    else if (!strcmp(o, "--sweep"))
      bad = !strv_push(&sweeps, str_printf("%s", argv[++i]));
    else if (!strcmp(o, "--methods"))
      bad = !strv_push(&sets, str_printf("run.methods=%s", argv[++i]));
    else if (!strcmp(o, "--classes"))
      bad = !strv_push(&sets, str_printf("run.classes=%s", argv[++i]));
    else if (!strcmp(o, "--output"))
      bad = !strv_push(&sets, str_printf("run.output=%s", argv[++i]));
    else if (!strcmp(o, "--seed"))
      bad = !strv_push(&sets, str_printf("run.seed=%s", argv[++i]));
    else if (!strcmp(o, "--dataset")) {
      if (!dataset_sets(argv[++i], &sets)) {
        fprintf(stderr, "ad3d run: --dataset %s: expected [NAME=]LAYOUT:ROOT, e.g. real3d_ad:/data/Real3D-AD\n",
                argv[i]);
        bad = 1;
      }
    } else if (!strcmp(o, "--slice")) {
      char end = 0;
      if (sscanf(argv[++i], "%d/%d%c", &a.slice_index, &a.slice_count, &end) != 2 || a.slice_count < 1 ||
          a.slice_index < 0 || a.slice_index >= a.slice_count) {
        fprintf(stderr, "ad3d run: --slice %s: expected I/N with 0 <= I < N\n", argv[i]);
        bad = 1;
      }
    } else if (!strcmp(o, "--format")) {
      const char *f = argv[++i];
      if (!strcmp(f, "md") || !strcmp(f, "markdown"))
        fmt = REPORT_MARKDOWN;
      else if (!strcmp(f, "csv"))
        fmt = REPORT_CSV;
      else if (!strcmp(f, "latex") || !strcmp(f, "tex"))
        fmt = REPORT_LATEX;
      else {
        fprintf(stderr, "ad3d run: --format %s: expected md, csv or latex\n", f);
        bad = 1;
      }
    } else if (o[0] == '-') {
      fprintf(stderr, "ad3d run: unknown option %s\n", o);
      bad = 1;
    } else if (!a.config_path)
      a.config_path = o;
    else {
      fprintf(stderr, "ad3d run: more than one job file (%s, %s)\n", a.config_path, o);
      bad = 1;
    }
  }
  if (bad) {
    usage(stderr);
    goto done;
  }
  a.sets = sets.v;
  a.nsets = sets.n;
  a.sweeps = sweeps.v;
  a.nsweeps = sweeps.n;

  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  runner_summary sum;
  ad3d_status st = runner_run(&a, MPI_COMM_WORLD, stderr, &sum);
  if (rank == 0) {
    if (st)
      fprintf(stderr, "ad3d run: %s\n", ad3d_errmsg());
    else {
      rc = sum.nfailed > 100 ? 100 : sum.nfailed;
      if (report && report_print(sum.output, fmt, 0, stdout))
        rc = rc ? rc : 101;
    }
  }
  MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
  fflush(stdout);
  fflush(stderr);
  MPI_Finalize();
done:
  for (int i = 0; i < sets.n; i++)
    free(sets.v[i]);
  for (int i = 0; i < sweeps.n; i++)
    free(sweeps.v[i]);
  free(sets.v);
  free(sweeps.v);
  return rc;
}
