/* merge.h - join results files into one: the slices of a Slurm job array (`ad3d run --slice I/N`,
 * one file each), or runs of the same job made on several machines.
 *
 * The output holds, for every task key found in any input, that key's latest committed record
 * (FORMAT.md rules 2 and 3 inside each input; across inputs the record with the latest
 * `recorded_at`, and on equal times the one from the input named last), with its scores copied
 * unchanged. Failed tasks are copied as failed records (their errors kept), so that a resumed run
 * on the merged file re-runs them. Tasks are listed in input order, then in each input's order.
 *
 * Inputs must come from the same job: equal `seed` and equal `config` once the keys that do not
 * change a result are set aside (run.output, which differs between slices, and run.blas_threads).
 * The merged file's config is the first input's with run.output set to the output path, so the
 * same job resumes on it (`ad3d run JOB --output OUT` re-runs its failed tasks); its seed is the
 * inputs', its ranks the sum of theirs, its hosts their union; its start time and every record's
 * recorded_at are the time of the merge (results_append stamps them).
 *
 * The output is written to "<out>.merging" and renamed to `out` once complete: a merge killed
 * half-way leaves `out` as it was, and `out` may itself be one of the inputs (adding new slices to
 * an earlier merge). Inputs may be files still being written (they are read as SWMR readers do).
 */
#ifndef AD3D_STORE_MERGE_H
#define AD3D_STORE_MERGE_H

#include <stdint.h>

#include "common/status.h"

typedef struct {
  int force;                   /* join inputs whose configs or seeds differ (the first one's are kept) */
  int overwrite;               /* replace an existing `out` that is not one of the inputs */
  const char *program_version; /* stored as the output's program_version */
} merge_opts;

typedef struct {
  int64_t ntasks;      /* tasks in the output */
  int64_t nfailed;     /* of which failed */
  int64_t nsuperseded; /* input records dropped for a later record of the same key in another input */
} merge_summary;

/* Merge `inputs` (ninputs >= 1 paths) into `out`. Errors: AD3D_ENOTFOUND (an input is missing),
 * AD3D_EFORMAT (not a results file, or another format version), AD3D_EINVAL (configs or seeds differ
 * and not forced; `out` exists, is not an input and not overwrite), AD3D_EIO (output not writable),
 * AD3D_EINTERNAL (HDF5). On error `out` is unchanged and no "<out>.merging" is left. */
ad3d_status results_merge(const char *out, char *const *inputs, int ninputs, const merge_opts *o,
                          merge_summary *sum);

/* Whether two resolved configs describe the same job: equal once the lines of run.output and
 * run.blas_threads (inside the `run = { ... };` group) are set aside. 1 equal, 0 different. */
int results_config_same_job(const char *a, const char *b);

#endif
