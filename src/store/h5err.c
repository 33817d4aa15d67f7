/* h5err.c - HDF5 error stack to text. */
#include "store/h5err.h"

#include <hdf5.h>
#include <stdio.h>

typedef struct {
  char *buf;
  size_t cap, len;
} errwalk;

static herr_t errwalk_cb(unsigned n, const H5E_error2_t *e, void *data) {
  errwalk *w = data;
  (void)n;
  if (w->len + 1 >= w->cap)
    return 0;
  int k = snprintf(w->buf + w->len, w->cap - w->len, "%s%s(): %s", w->len ? "; " : "",
                   e->func_name ? e->func_name : "?", e->desc ? e->desc : "?");
  if (k > 0)
    w->len += (size_t)k < w->cap - w->len ? (size_t)k : w->cap - w->len - 1;
  return 0;
}

void h5_error_stack(char *buf, size_t cap) {
  errwalk w = {buf, cap, 0};
  if (cap)
    buf[0] = '\0';
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, errwalk_cb, &w);
  H5Eclear2(H5E_DEFAULT);
}
