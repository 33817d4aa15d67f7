/* store_testlib.h - helpers shared by the results-file tests: a deterministic task generator,
 * record/score comparisons (cmocka asserts, NaN equal to NaN), the JSON expectations that
 * read_results.py checks a file against, and a scratch directory.
 *
 * Tests must include <setjmp.h>, <stdarg.h>, <stddef.h> and <cmocka.h> before this header. */
#ifndef AD3D_TESTS_STORE_TESTLIB_H
#define AD3D_TESTS_STORE_TESTLIB_H

#include <stdio.h>

#include "store/results.h"

/* Task i of the generated sequence: key "gen/ds<i%3>/c<i>@default"; every 5th task (i % 5 == 4)
 * failed with an error text and no scores; the others have i % 4 samples (0 to 3) of 1 to 40
 * points with exactly representable scores; NaN metrics here and there. Returns 1 if the task has
 * scores (*s filled, free with task_scores_free), else 0 (*s zeroed). */
int gen_task(int i, task_record *rec, task_scores *s);

/* A record whose key, variant and error fill their fields without a NUL (multi-byte characters at
 * the cut) and whose sample names are too long, with infinite and NaN metrics: *want / *want_s are
 * what must come back (free want_s's strings with free_want_names, s with task_scores_free). */
void long_strings_task(task_record *rec, task_record *want, task_scores *s, task_scores *want_s);
void free_want_names(task_scores *want_s);
/* A task of 40000 points in 3 samples (crosses /points chunks), key "big/ds/cls@default". */
void big_task(task_record *rec, task_scores *s);

/* cmocka asserts: every field equal (strings, ints, floats with NaN == NaN). */
void expect_record_eq(const task_record *got, const task_record *want);
void expect_scores_eq(const task_scores *got, const task_scores *want);

/* A fresh directory under /tmp (free the string; remove with remove_tree). */
char *scratch_dir(const char *tag);

/* JSON expectations for read_results.py. Usage: json_begin, json_attr_* ..., json_tasks_begin,
 * json_task per task, json_tasks_end(optional or NULL), fclose. */
FILE *json_begin(const char *path, int require_plain_open);
void json_attr_str(FILE *f, const char *name, const char *value);
void json_attr_int(FILE *f, const char *name, long long value);
void json_attr_nonempty(FILE *f, const char *name);
void json_tasks_begin(FILE *f);
void json_task(FILE *f, const task_record *rec, const task_scores *s /* NULL: no scores */);
/* Ends the task list; `optional` (with `optional_s`) may or may not be in the file. */
void json_tasks_end(FILE *f, const task_record *optional, const task_scores *optional_s);

/* Run tests/store/read_results.py on a results file; returns its exit status (-1 if it did not run). */
int run_reader(const char *results_path, const char *expect_path);

#endif
