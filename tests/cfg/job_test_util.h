/* job_test_util.h - helpers of the cfg tests: job files in a temporary folder, exact error
 * messages, deep comparison of option sets. Each helper fails the running cmocka test. */
#ifndef AD3D_TESTS_JOB_TEST_UTIL_H
#define AD3D_TESTS_JOB_TEST_UTIL_H

#include "cfg/job.h"

/* Path of `name` inside this process's temporary folder (created on first use; static buffer,
 * valid until the next call). */
const char *tmp_path(const char *name);
/* Remove the temporary folder (group teardown). */
int tmp_cleanup(void **state);
/* Write text to tmp_path(name) and return that path (a copy the caller frees). */
char *job_write(const char *name, const char *text);
/* job_load must fail with this status and exactly this message. */
void expect_load_error(const char *path, char *const *sets, int nsets, char *const *sweeps, int nsweeps,
                       ad3d_status code, const char *message);
/* 1 if both option sets hold the same keys, types and values (prints the first difference). */
int opts_same(const opts_t *a, const opts_t *b);
/* Two jobs with the same variants (names and options) and resolved text. */
void assert_jobs_same(const job_t *a, const job_t *b);
/* Check a string list option against the expected elements. */
void assert_list(const opts_t *o, const char *key, const char *const *expected, int n);

#endif
