/* h5err.c - HDF5 error stack to text. */
#include "store/h5err.h"

#include <hdf5.h>
#include <stdio.h>
#include <string.h>

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

/* The HDF5 function named in a call's source text ("f = H5Fopen(p, ...)" -> "H5Fopen"). */
static void h5_function_name(const char *expr, char *out, size_t cap) {
  const char *p = expr;
  while ((p = strstr(p, "H5")) != NULL) {
    int starts_word = p == expr || !(p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z') ||
                                      (p[-1] >= 'A' && p[-1] <= 'Z') || (p[-1] >= '0' && p[-1] <= '9'));
    size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
    if (starts_word && p[n] == '(') {
      snprintf(out, cap, "%.*s", (int)n, p);
      return;
    }
    p += 2;
  }
  snprintf(out, cap, "%s", expr);
}

/* Turn the current HDF5 error stack into this thread's ad3d message; clears the stack. */
ad3d_status h5_failure(const char *file, int line, const char *expr) {
  char stack[1200] = "", func[96];
  const char *base = strrchr(file, '/');
  h5_function_name(expr, func, sizeof func);
  h5_error_stack(stack, sizeof stack);
  return ad3d_fail(AD3D_EINTERNAL, "%s:%d: %s failed: %s", base ? base + 1 : file, line, func,
                   stack[0] ? stack : "(HDF5 left no message)");
}

ad3d_status h5_attr_write_scalar(hid_t loc, const char *name, hid_t ftype, hid_t mtype, const void *v) {
  ad3d_status st = AD3D_OK;
  hid_t space = H5I_INVALID_HID, a = H5I_INVALID_HID;
  H5CALL(space = H5Screate(H5S_SCALAR));
  H5CALL(a = H5Acreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT));
  H5CALL(H5Awrite(a, mtype, v));
cleanup:
  H5CLOSE(H5Aclose, a);
  H5CLOSE(H5Sclose, space);
  return st;
}
