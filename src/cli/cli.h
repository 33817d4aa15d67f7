/* cli.h - the subcommands of the ad3d program. Each takes argc/argv after the subcommand name
 * and returns the process exit status. */
#ifndef AD3D_CLI_CLI_H
#define AD3D_CLI_CLI_H

#include <stdio.h>

#include "common/status.h"
#include "store/results.h"

int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_defaults(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_pretrain(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_plan(int argc, char **argv);

typedef enum { REPORT_MARKDOWN, REPORT_CSV, REPORT_LATEX } report_format;

/* Print the I-AUROC and P-AUROC tables of a results file (one pair per dataset x variant).
 * paper: add the paper's published figures beside ours. Returns 0, or 1 with a message on stderr. */
int report_print(const char *path, report_format fmt, int paper, FILE *out);

/* Write the resolved config stored in a results file to a new temporary job file; its name goes to
 * path (cap bytes). The caller unlinks it. */
ad3d_status stored_job_file(const char *results_path, char *path, size_t cap);

/* The paper's published tables (the CSV files of analysis/paper, embedded at build time). */
typedef struct {
  const char *name; /* file stem */
  const char *csv;
} paper_table;
extern const paper_table paper_tables[];

/* Shared by `ad3d status` and `ad3d plan` (cmd_status.c): the job a results file was planned with. */
typedef struct {
  const char *job_path; /* JOB.cfg, or NULL: the resolved config stored in the results file */
  char **sets;          /* --set KEY=VALUE (and the --methods/--classes/--seed shortcuts) */
  int nsets;
  char **sweeps;        /* --sweep KEY=V1,V2 */
  int nsweeps;
  int slice_index, slice_count; /* --slice I/N; slice_count 0: the whole job */
} plan_source;

typedef struct {
  char key[256];
  double cost; /* the runner's cost estimate */
} planned_task;

/* Consume argv[*i] (and its value) if it is --set, --sweep, --slice, --methods, --classes or --seed:
 * 1 consumed, 0 not such an option, -1 bad value (message on stderr). */
int plan_source_arg(int argc, char **argv, int *i, plan_source *src);
void plan_source_free(plan_source *src);
/* Positional arguments: HDF5 files go to files (capacity npos), one other file is the job; 0 ok,
 * 2 bad (message on stderr, prefixed "ad3d CMD"). */
int results_and_job_args(const char *cmd, char *const *pos, int npos, char **files, int *nfiles, plan_source *src);
/* The tasks of the job in the order the runner hands them out (largest cost first), sliced. */
ad3d_status planned_tasks_load(const char *results_path, const plan_source *src, planned_task **tasks, int *n);
/* The records of several results files (job array slices) as one job: every key once, a success
 * in any file winning over failures, else the record of the last file. */
ad3d_status records_load_union(char *const *paths, int n, task_record **recs, int64_t *nrecs);

#endif
