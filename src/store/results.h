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
/* Minor version: additions an older reader may ignore (FORMAT.md, Versioning). Files without the
 * format_minor attribute are minor 0. */
#define RESULTS_FORMAT_MINOR 1

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
  char recorded_at[32]; /* ISO 8601 UTC time the task was recorded, "2024-05-01T12:00:00Z": filled by
                           the readers; results_append ignores it (it records the time of the append),
                           results_append_copy keeps it */
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
  int32_t slice_index;     /* the run is slice slice_index of slice_count of its job's task list */
  int32_t slice_count;     /* (`ad3d run --slice I/N`); slice_count 0: the whole job, not stored */
} results_meta;

typedef struct results results_t;

/* Create `path` (meta written) or, if it exists and is a valid results file, open it to append
 * (resume; meta->config_text and seed must then equal the stored ones, and a slice stored in the
 * file must equal meta's, or AD3D_EINVAL explains the difference, unless `force` is set: the
 * stored values are kept). */
ad3d_status results_open(const char *path, const results_meta *meta, int force, results_t **out);
/* Status of a task key in the open file: -1 absent, else its task_status (the latest record). */
int results_task_status(const results_t *r, const char *key);
/* Record one task (scores may be NULL for a failed task). Durable on return. A key recorded
 * before is superseded (a resumed run re-runs failed tasks). */
ad3d_status results_append(results_t *r, const task_record *rec, const task_scores *scores);
/* As results_append, for a record read from another results file (a merge): rec->recorded_at
 * (non-empty) is recorded as it is instead of the time of the append. */
ad3d_status results_append_copy(results_t *r, const task_record *rec, const task_scores *scores);
/* Whether each append is fsync'ed before it returns (the default, 1: a recorded task survives a
 * crash of the node) or only written through to the operating system (0: it still survives a kill
 * of the process; results_close fsyncs the file once). For writers that discard an unfinished file
 * anyway, such as `ad3d merge` (its output is a temporary file, renamed once complete). */
void results_set_fsync(results_t *r, int each_append);
/* Record the end time and close. */
ad3d_status results_close(results_t *r);

/* Read every task record (the latest per key) of a file, in first-recorded order. */
ad3d_status results_read_tasks(const char *path, task_record **recs, int64_t *n);
/* Read the scores of one task key. AD3D_ENOTFOUND if it has none. Reads the file's task table
 * once per call: to read many tasks' scores, use a results_reader. */
ad3d_status results_read_scores(const char *path, const char *key, task_scores *out);
/* The slice of its job a file holds (results_meta): *count 0 when it stores none (the whole job,
 * a merge of slices, or a file of an ad3d older than format minor 1). AD3D_EFORMAT if the stored
 * slice is malformed. */
ad3d_status results_read_slice(const char *path, int32_t *index, int32_t *count);
/* Read a root string attribute ("config", "program_version", "hosts", "start_time", "end_time").
 * Numeric attributes ("format_version", "seed", "ranks") come back in decimal. *value: malloc'd.
 * AD3D_ENOTFOUND if the file has no such attribute. */
ad3d_status results_read_attr(const char *path, const char *name, char **value);
/* A results file open for reading many tasks: the task table is read once, when it opens (the
 * latest committed record of every key, FORMAT.md rules 2 and 3), and each task's scores are then
 * read by their offsets, so reading all n tasks costs O(n) instead of the O(n^2) of
 * results_read_scores per key. A file still being written is read as it was when the reader
 * opened. The reader holds the file open (one file descriptor) until it is released or closed. */
typedef struct results_reader results_reader;

/* Open `path` and read its task table. Errors as results_read_tasks. */
ad3d_status results_reader_open(const char *path, results_reader **out);
/* The records (latest per key, first-recorded order): an array of results_reader_count entries,
 * owned by the reader. */
int64_t results_reader_count(const results_reader *rd);
const task_record *results_reader_records(const results_reader *rd);
/* Index of `key` among the records, or -1. */
int64_t results_reader_find(const results_reader *rd, const char *key);
/* The scores of record i (0 <= i < count; out owned by the caller, task_scores_free). AD3D_ENOTFOUND
 * if the record has none (a failed task), and only then; AD3D_EIO if the file was removed or
 * replaced since the reader opened it (noticed when it reopens after results_reader_release). */
ad3d_status results_reader_scores(results_reader *rd, int64_t i, task_scores *out);
/* Close the file but keep the records: the next results_reader_scores reopens it. For callers that
 * hold many readers at once (a merge of many files) and must bound their open descriptors. */
ad3d_status results_reader_release(results_reader *rd);
/* Close and free (NULL is fine). Returns the first error of closing the file. */
ad3d_status results_reader_close(results_reader *rd);

/* Make a killed run's file openable by plain (non-SWMR) HDF5 readers such as h5py without
 * swmr=True, as `h5clear -s --increment=0` would: clears the superblock's "open for writing" mark
 * and moves the end-of-allocation to the end of the file. Records nothing; a no-op on a file that
 * was closed cleanly. AD3D_EIO if a writer holds the file. */
ad3d_status results_repair(const char *path);

/* Library version string, e.g. "HDF5 1.10.8". */
const char *results_hdf5_version(void);

#endif
