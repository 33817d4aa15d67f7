/* merge.h - join results files into one: the slices of a Slurm job array (`ad3d run --slice I/N`,
 * one file each), or runs of the same job made on several machines.
 *
 * The output holds, for every task key found in any input, that key's latest committed record
 * (FORMAT.md rules 2 and 3 inside each input; across inputs the record with the latest
 * `recorded_at`, and on equal times the one from the input named last), copied whole: every field,
 * its original `recorded_at` included (so merging a merged file with newer slices still picks by
 * the times the tasks ran), and its scores unchanged. Failed tasks are copied as failed records
 * (their errors kept), so that a resumed run on the merged file re-runs them. Tasks are listed in
 * input order, then in each input's order. Time and memory are linear in the tasks: each input's
 * task table is read once.
 *
 * Inputs must come from the same job: equal `seed` and equal `config` once the keys that do not
 * change a result are set aside (run.output, which differs between slices, and run.blas_threads).
 * The merged file's config is the first input's with run.output set to the output path, so the
 * same job resumes on it (`ad3d run JOB --output OUT` re-runs its failed tasks); its seed is the
 * inputs', its ranks the sum of theirs, its hosts their union; its start time is the time of the
 * merge.
 *
 * Slices: inputs that store a slice (`ad3d run --slice I/N`, FORMAT.md) must be distinct slices of
 * the same N (AD3D_EINVAL otherwise, unless forced: a slice named twice, or slices of different
 * Ns). Inputs without one (a whole run, an earlier merge, a file of an older ad3d) are not checked.
 * A slice no input holds is no error: its tasks are absent from the output (the summary names it,
 * and `ad3d status` on the output lists its tasks as left). The output stores no slice: it is the
 * job's file.
 *
 * The output is written to "<out>.merging" and renamed to `out` once complete: a merge killed
 * half-way leaves `out` as it was, and `out` may itself be one of the inputs (adding new slices to
 * an earlier merge). Inputs may be files still being written (they are read as SWMR readers do, as
 * they were when the merge began). At most 32 inputs are held open at once.
 */
#ifndef AD3D_STORE_MERGE_H
#define AD3D_STORE_MERGE_H

#include <stdint.h>

#include "common/status.h"

typedef struct {
  int force;                   /* join inputs whose configs or seeds differ (the first one's are kept), or
                                  whose slices repeat or differ in N */
  int overwrite;               /* replace an existing `out` that is not one of the inputs */
  const char *program_version; /* stored as the output's program_version */
} merge_opts;

typedef struct {
  int64_t ntasks;      /* tasks in the output */
  int64_t nfailed;     /* of which failed */
  int64_t nsuperseded; /* input records dropped for a later record of the same key in another input */
  int32_t slice_count; /* N when every input stores a slice of N, else 0 (then the next two are unset) */
  int32_t nslices;     /* distinct slices among the inputs */
  char missing_slices[128]; /* the slices of N that no input holds, "2, 5" ("" if none; "..." if cut) */
} merge_summary;

/* Merge `inputs` (ninputs >= 1 paths) into `out`. Errors: AD3D_ENOTFOUND (an input is missing),
 * AD3D_EFORMAT (not a results file, or another format version), AD3D_EINVAL (configs or seeds differ,
 * or slices repeat or differ in N, and not forced; `out` exists, is not an input and not
 * overwrite), AD3D_EIO (output not writable, an input replaced during the merge),
 * AD3D_EINTERNAL (HDF5). On error `out` is unchanged and no "<out>.merging" is left. */
ad3d_status results_merge(const char *out, char *const *inputs, int ninputs, const merge_opts *o,
                          merge_summary *sum);

/* Whether two resolved configs describe the same job: equal once the lines of run.output and
 * run.blas_threads (inside the `run = { ... };` group) are set aside. 1 equal, 0 different. */
int results_config_same_job(const char *a, const char *b);

#endif
