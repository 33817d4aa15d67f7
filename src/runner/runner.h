/* runner.h - `ad3d run`: the MPI master/worker that runs a job's tasks and records their results.
 *
 * Every rank loads the job; rank 0 expands it into tasks (largest first), opens or resumes the
 * results file, and hands tasks out one at a time as workers ask; workers load the class, fit,
 * score and send the result back; rank 0 records each result durably as it arrives. With one rank,
 * rank 0 runs the tasks itself. Waiting ranks sleep between polls instead of spinning a core.
 * A failed task is recorded with its error and the job goes on.
 */
#ifndef AD3D_RUNNER_RUNNER_H
#define AD3D_RUNNER_RUNNER_H

#include <mpi.h>
#include <stdio.h>

#include "common/status.h"

typedef struct {
  const char *config_path; /* NULL: defaults only */
  char *const *sets;       /* "key=value" overrides */
  int nsets;
  char *const *sweeps;     /* "key=v1,v2" sweeps */
  int nsweeps;
  int quiet;               /* no progress lines */
  int force;               /* resume even if the stored config differs */
  int slice_index;         /* run only the tasks i with i % slice_count == slice_index of the */
  int slice_count;         /* cost-ordered task list (a Slurm job array element); 0: all tasks */
} runner_args;

typedef struct {
  int ntasks;   /* tasks in the job */
  int nskipped; /* already finished in the results file (resume) */
  int nok, nfailed;
  char output[1024]; /* the results file */
} runner_summary;

/* Run the job on `comm`. Progress and the summary go to `out` (rank 0 only). Returns AD3D_OK when
 * the job ran (even if some tasks failed: see summary), or the error that stopped it, with the
 * same status on every rank. */
ad3d_status runner_run(const runner_args *a, MPI_Comm comm, FILE *out, runner_summary *summary);

#endif
