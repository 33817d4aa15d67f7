/* util.c - wall clock, peak memory, paths and strings. */
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int64_t peak_rss_kb(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return 0;
  return (int64_t)ru.ru_maxrss; /* kilobytes on Linux */
}

int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

ad3d_status mkdir_p(const char *path) {
  char buf[4096];
  if (strlen(path) >= sizeof buf)
    return ad3d_fail(AD3D_EINVAL, "%s: path too long", path);
  strcpy(buf, path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
      return ad3d_fail(AD3D_EIO, "%s: cannot create folder: %s", buf, strerror(errno));
    *p = '/';
  }
  if (mkdir(buf, 0777) != 0 && errno != EEXIST)
    return ad3d_fail(AD3D_EIO, "%s: cannot create folder: %s", buf, strerror(errno));
  return AD3D_OK;
}

void strv_free(char **v, int n) {
  if (!v)
    return;
  for (int i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int str_ends_with(const char *s, const char *suffix) {
  size_t ls = strlen(s), lx = strlen(suffix);
  return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

ad3d_status list_dir(const char *path, const char *suffix, char ***names, int *n) {
  *names = NULL;
  *n = 0;
  DIR *d = opendir(path);
  if (!d)
    return ad3d_fail(errno == ENOENT ? AD3D_ENOTFOUND : AD3D_EIO, "%s: cannot open folder: %s", path,
                     strerror(errno));
  char **v = NULL;
  int cnt = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    if (suffix && !str_ends_with(e->d_name, suffix))
      continue;
    if (cnt == cap) {
      cap = cap ? 2 * cap : 16;
      char **nv = realloc(v, (size_t)cap * sizeof *nv);
      if (!nv)
        goto nomem;
      v = nv;
    }
    if (!(v[cnt] = strdup(e->d_name)))
      goto nomem;
    cnt++;
  }
  closedir(d);
  if (cnt)
    qsort(v, (size_t)cnt, sizeof *v, cmp_str);
  *names = v;
  *n = cnt;
  return AD3D_OK;
nomem:
  closedir(d);
  strv_free(v, cnt);
  return ad3d_fail(AD3D_ENOMEM, "%s: out of memory listing folder", path);
}

char *xstrdup(const char *s) {
  char *d = strdup(s ? s : "");
  if (!d)
    ad3d_fail(AD3D_ENOMEM, "out of memory");
  return d;
}

char *str_printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *s = malloc((size_t)n + 1);
  if (!s) {
    ad3d_fail(AD3D_ENOMEM, "out of memory");
    return NULL;
  }
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

ad3d_status remove_tree(const char *path) {
  char **names;
  int n;
  if (is_dir(path)) {
    TRY(list_dir(path, NULL, &names, &n));
    for (int i = 0; i < n; i++) {
      char *sub = str_printf("%s/%s", path, names[i]);
      ad3d_status st = sub ? remove_tree(sub) : AD3D_ENOMEM;
      free(sub);
      if (st) {
        strv_free(names, n);
        return st;
      }
    }
    strv_free(names, n);
    if (rmdir(path) != 0)
      return ad3d_fail(AD3D_EIO, "%s: cannot remove folder: %s", path, strerror(errno));
    return AD3D_OK;
  }
  if (unlink(path) != 0 && errno != ENOENT)
    return ad3d_fail(AD3D_EIO, "%s: cannot remove: %s", path, strerror(errno));
  return AD3D_OK;
}
