/* status.h - run-time status codes and the calling thread's error message.
 *
 * Library code never exits on bad input: it returns an ad3d_status and leaves a message that names
 * the file (or object) and the problem, e.g. "bottle0/test/x.pcd: truncated: 120 of 3000 points".
 * Only the program's edge (runner, cli) turns a status into an exit or a failed-task record.
 *
 *     if (n < 0) return ad3d_fail(AD3D_EFORMAT, "%s: negative point count %d", path, n);
 *     ...
 *     fprintf(stderr, "error: %s\n", ad3d_errmsg());
 *
 * ASSERT is for programmer errors only (a broken invariant), never for data.
 */
#ifndef AD3D_COMMON_STATUS_H
#define AD3D_COMMON_STATUS_H

#include <stdio.h>
#include <stdlib.h>

typedef enum {
  AD3D_OK = 0,
  AD3D_EIO,       /* a file cannot be opened, read or written */
  AD3D_EFORMAT,   /* a file's content is malformed */
  AD3D_ENOMEM,    /* an allocation failed */
  AD3D_EINVAL,    /* a bad argument, option or config value */
  AD3D_ENUMERIC,  /* NaN or Inf where a finite number is required */
  AD3D_ENOTFOUND, /* a named thing (file, class, method, key) does not exist */
  AD3D_EINTERNAL  /* a library (MPI, HDF5, BLAS) reported an error */
} ad3d_status;

/* Short upper-case name of a status ("EFORMAT"). */
const char *ad3d_status_name(ad3d_status s);

/* Record a printf-style message for this thread and return s (for `return ad3d_fail(...)`). */
ad3d_status ad3d_fail(ad3d_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix the current message with "prefix: " (adds context on the way up); returns s. */
ad3d_status ad3d_fail_context(ad3d_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* This thread's last message ("" if none). Valid until the next ad3d_fail on this thread. */
const char *ad3d_errmsg(void);
void ad3d_clear_error(void);

#define ASSERT(cond)                                                                          \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond);            \
      abort();                                                                                \
    }                                                                                         \
  } while (0)

/* Propagate a non-OK status: TRY(pcd_read(...)); */
#define TRY(expr)                    \
  do {                               \
    ad3d_status try_st_ = (expr);    \
    if (try_st_ != AD3D_OK)          \
      return try_st_;                \
  } while (0)

#endif
