/* status.c - status names and the per-thread error message buffer. */
#include "common/status.h"

#include <stdarg.h>
#include <string.h>

static _Thread_local char errbuf[2048];

const char *ad3d_status_name(ad3d_status s) {
  switch (s) {
  case AD3D_OK: return "OK";
  case AD3D_EIO: return "EIO";
  case AD3D_EFORMAT: return "EFORMAT";
  case AD3D_ENOMEM: return "ENOMEM";
  case AD3D_EINVAL: return "EINVAL";
  case AD3D_ENUMERIC: return "ENUMERIC";
  case AD3D_ENOTFOUND: return "ENOTFOUND";
  case AD3D_EINTERNAL: return "EINTERNAL";
  }
  return "E?";
}

ad3d_status ad3d_fail(ad3d_status s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(errbuf, sizeof errbuf, fmt, ap);
  va_end(ap);
  return s;
}

ad3d_status ad3d_fail_context(ad3d_status s, const char *fmt, ...) {
  char prefix[512], old[sizeof errbuf];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, errbuf, sizeof old);
  snprintf(errbuf, sizeof errbuf, "%s: %.1500s", prefix, old); /* a message may be cut, never overrun */
  return s;
}

const char *ad3d_errmsg(void) { return errbuf; }

void ad3d_clear_error(void) { errbuf[0] = '\0'; }
