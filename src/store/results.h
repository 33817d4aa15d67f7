/* results.h - the results file: one HDF5 file per run, written by the master only.
 *
 * Layout and versioning: FORMAT.md beside this file. Every task record is durable the moment
 * results_append returns: a run killed at any moment (kill -9) leaves a file that opens and holds
 * every task recorded before the kill, and reopening it with results_open resumes (finished tasks
 * are reported by results_task_status). Reading functions never need the writer's state.
 */
#ifndef AD3D_STORE_RESULTS_H
#define AD3D_STORE_RESULTS_H

#include <stdint.h>

#include "common/status.h"

#define RESULTS_FORMAT_VERSION 1

typedef enum { TASK_OK = 0, TASK_FAILED = 1 } task_status;

/* One task's summary: one row of the task table. Strings are fixed-size, NUL-terminated
 * (longer values are truncated). Metrics that were not computed are NaN. */
typedef struct {
  char key[256];     /* "method/dataset/class@variant", unique within a file */
  char method[64];
  char dataset[64];
  char cls[64];
  char variant[192]; /* "default", or "key=value,key=value" of a sweep */
  int32_t status;    /* task_status */
  int32_t rank;      /* MPI rank that ran it */
  double i_auroc, p_auroc, i_ap, p_ap, aupro;
  double fit_s, score_s;
  int64_t peak_rss_kb;
  int64_t nsamples, npoints;
  char error[512];   /* "" when ok */
} task_record;

/* One task's scores: per test sample and per point (concatenated in sample order). */
typedef struct {
  int64_t nsamples;
  char **names;           /* (nsamples) sample names */
  char **defects;         /* (nsamples) "good" or defect type */
  uint8_t *labels;        /* (nsamples) 0 normal, 1 anomalous */
  double *object_scores;  /* (nsamples) */
  int64_t *npoints;       /* (nsamples) points per sample */
  int64_t total_points;   /* sum of npoints */
  float *point_scores;    /* (total_points) */
  uint8_t *point_labels;  /* (total_points) */
} task_scores;

void task_scores_free(task_scores *s);

/* Run metadata stored as root attributes when a file is created. */
typedef struct {
  const char *program_version;
  const char *config_text; /* resolved config, libconfig syntax */
  uint64_t seed;
  int32_t ranks;
  const char *hosts;       /* comma-separated host names */
} results_meta;

typedef struct results results_t;

/* Create `path` (meta written) or, if it exists and is a valid results file, open it to append
 * (resume; meta->config_text must then equal the stored one or AD3D_EINVAL explains the
 * difference, unless `force` is set). */
ad3d_status results_open(const char *path, const results_meta *meta, int force, results_t **out);
/* Status of a task key in the open file: -1 absent, else its task_status (the latest record). */
int results_task_status(const results_t *r, const char *key);
/* Record one task (scores may be NULL for a failed task). Durable on return. A key recorded
 * before is superseded (a resumed run re-runs failed tasks). */
ad3d_status results_append(results_t *r, const task_record *rec, const task_scores *scores);
/* Record the end time and close. */
ad3d_status results_close(results_t *r);

/* Read every task record (the latest per key) of a file. */
ad3d_status results_read_tasks(const char *path, task_record **recs, int64_t *n);
/* Read the scores of one task key. AD3D_ENOTFOUND if it has none. */
ad3d_status results_read_scores(const char *path, const char *key, task_scores *out);
/* Read a root string attribute ("config", "program_version", "hosts", "start_time", "end_time").
 * Numeric attributes ("format_version", "seed", "ranks") come back in decimal. *value: malloc'd.
 * AD3D_ENOTFOUND if the file has no such attribute. */
ad3d_status results_read_attr(const char *path, const char *name, char **value);
/* Make a killed run's file openable by plain (non-SWMR) HDF5 readers such as h5py without
 * swmr=True, as `h5clear -s --increment=0` would: clears the superblock's "open for writing" mark
 * and moves the end-of-allocation to the end of the file. Records nothing; a no-op on a file that
 * was closed cleanly. AD3D_EIO if a writer holds the file. */
ad3d_status results_repair(const char *path);

/* Library version string, e.g. "HDF5 1.10.8". */
const char *results_hdf5_version(void);

#endif
