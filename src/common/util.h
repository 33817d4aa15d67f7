/* util.h - small helpers every layer uses: wall clock, peak memory, paths, strings. */
#ifndef AD3D_COMMON_UTIL_H
#define AD3D_COMMON_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

/* Monotonic wall-clock seconds. */
double now_seconds(void);
/* Peak resident set size of this process in kilobytes (0 if unknown). */
int64_t peak_rss_kb(void);
/* mkdir -p; ok if it exists. */
ad3d_status mkdir_p(const char *path);
/* 1 if path is a directory / a regular file. */
int is_dir(const char *path);
int is_file(const char *path);
/* Sorted list of the entries of a directory (no "." or ".."), optionally only names ending in
 * `suffix` (NULL: all). Free with strv_free. */
ad3d_status list_dir(const char *path, const char *suffix, char ***names, int *n);
void strv_free(char **v, int n);
/* strdup that records ENOMEM. */
char *xstrdup(const char *s);
/* Format into a new string (NULL on ENOMEM). */
char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* 1 if s ends with suffix. */
int str_ends_with(const char *s, const char *suffix);
/* Remove all regular files and sub-folders under path, then path itself. */
ad3d_status remove_tree(const char *path);

#endif
