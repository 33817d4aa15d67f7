/* h5err.h - what the store layer's HDF5 code shares (store only): HDF5's error stack as an ad3d
 * message, the H5CALL / H5CLOSE error macros, and scalar attribute writes. */
#ifndef AD3D_STORE_H5ERR_H
#define AD3D_STORE_H5ERR_H

#include <hdf5.h>
#include <stddef.h>

#include "common/status.h"

/* Write the current HDF5 error stack, outermost call first, as "func(): desc; func(): desc" into
 * buf (cap bytes, always NUL-terminated; "" when the stack is empty), then clear the stack. */
void h5_error_stack(char *buf, size_t cap);

/* Turn the current HDF5 error stack into this thread's ad3d message, "FILE:LINE: H5Xxx failed: ..."
 * (FILE without its folders, H5Xxx the HDF5 function named in the call's source text expr); clears the
 * stack. AD3D_EINTERNAL. */
ad3d_status h5_failure(const char *file, int line, const char *expr);

/* Needs `ad3d_status st` and a `cleanup:` label in the calling function. */
#define H5CALL(expr)                                  \
  do {                                                 \
    if ((expr) < 0) {                                  \
      st = h5_failure(__FILE__, __LINE__, #expr);      \
      goto cleanup;                                    \
    }                                                  \
  } while (0)

/* Close an id in a cleanup path: keeps the first error, never jumps. */
#define H5CLOSE(fn, id)                                                  \
  do {                                                                   \
    if ((id) >= 0) {                                                     \
      if (fn(id) < 0 && st == AD3D_OK)                                   \
        st = h5_failure(__FILE__, __LINE__, #fn "(" #id ")");            \
      (id) = H5I_INVALID_HID;                                            \
    }                                                                    \
  } while (0)

/* A scalar attribute `name` on loc: *v of memory type mtype stored as file type ftype. */
ad3d_status h5_attr_write_scalar(hid_t loc, const char *name, hid_t ftype, hid_t mtype, const void *v);

#endif
