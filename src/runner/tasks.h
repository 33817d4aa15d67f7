/* tasks.h - a job's task list and the execution of one task (no MPI here).
 *
 * A task is (variant, method, dataset, class). Its key "method/dataset/class@variant" names it in
 * the results file and seeds its random stream, so a task's result depends only on the job and
 * the key, never on the rank that ran it or the number of ranks.
 */
#ifndef AD3D_RUNNER_TASKS_H
#define AD3D_RUNNER_TASKS_H

#include <stdint.h>

#include "cfg/job.h"
#include "store/results.h"

typedef struct {
  char key[256];
  char method[64];
  char dataset[64];
  char layout[32];
  char root[1024]; /* resolved folder (an embedded dataset's cache folder) */
  char cls[64];
  int32_t variant; /* index into job->variants */
  double cost;     /* estimate: bytes of the class's files (training + test) */
} task_t;

/* Expand every variant's methods x datasets x classes, resolving embedded datasets (written to
 * the cache on first use) and estimating costs; sorted by decreasing cost, then key. */
ad3d_status tasks_expand(const job_t *job, task_t **tasks, int *ntasks);

/* Run one task: load its class, fit, score every test sample, compute metrics. Always fills
 * `rec` (status TASK_FAILED with the error on failure) and, on success, `scores`. */
void task_execute(const job_t *job, const task_t *t, int rank, task_record *rec, task_scores *scores);

#endif
