/* h5err.h - HDF5's error stack as text, for the store layer's error messages (store only). */
#ifndef AD3D_STORE_H5ERR_H
#define AD3D_STORE_H5ERR_H

#include <stddef.h>

/* Write the current HDF5 error stack, outermost call first, as "func(): desc; func(): desc" into
 * buf (cap bytes, always NUL-terminated; "" when the stack is empty), then clear the stack. */
void h5_error_stack(char *buf, size_t cap);

#endif
