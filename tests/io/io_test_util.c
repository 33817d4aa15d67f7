/* io_test_util.c - see io_test_util.h. */
#include "io_test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/status.h"
#include "common/util.h"

static char path_buf[4096];
static char scratch_dir[256];

const char *fixture(const char *name) {
  const char *root = getenv("AD3D_FIXTURES");
  snprintf(path_buf, sizeof path_buf, "%s/io/%s", root && *root ? root : AD3D_FIXTURES, name);
  return path_buf;
}

const char *scratch(const char *name) {
  if (!scratch_dir[0]) {
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch_dir, sizeof scratch_dir, "%s/ad3d_io_test_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(scratch_dir));
  }
  snprintf(path_buf, sizeof path_buf, "%s/%s", scratch_dir, name);
  return path_buf;
}

void scratch_cleanup(void) {
  if (scratch_dir[0])
    remove_tree(scratch_dir);
  scratch_dir[0] = '\0';
}

void expected_read(const char *path, float **xyz, uint8_t **labels, int64_t *n) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  int64_t cap = 64, cnt = 0;
  int cols = 0;
  float *p = malloc((size_t)cap * 3 * sizeof *p);
  uint8_t *l = malloc((size_t)cap);
  assert_true(p && l);
  char line[512];
  while (fgets(line, sizeof line, f)) {
    float v[3];
    int lab = 0;
    int k = sscanf(line, "%f %f %f %d", &v[0], &v[1], &v[2], &lab);
    if (k <= 0)
      continue;
    assert_true(k == 3 || k == 4);
    if (!cols)
      cols = k;
    assert_int_equal(k, cols);
    if (cnt == cap) {
      cap *= 2;
      p = realloc(p, (size_t)cap * 3 * sizeof *p);
      l = realloc(l, (size_t)cap);
      assert_true(p && l);
    }
    memcpy(p + 3 * cnt, v, sizeof v);
    l[cnt++] = (uint8_t)lab;
  }
  fclose(f);
  assert_true(cnt > 0);
  *xyz = p;
  *n = cnt;
  if (labels)
    *labels = cols == 4 ? l : NULL;
  if (!labels || cols != 4)
    free(l);
}

void assert_cloud_equals(const cloud_t *c, const float *xyz, int64_t n) {
  assert_int_equal(c->n, n);
  for (int64_t i = 0; i < 3 * n; i++) {
    if (memcmp(&c->xyz[i], &xyz[i], sizeof(float)) != 0)
      fail_msg("point %lld coordinate %lld: got %.9g, expected %.9g", (long long)(i / 3), (long long)(i % 3),
               c->xyz[i], xyz[i]);
  }
}

void assert_failed_with(int st, int want, const char *name, const char *word) {
  const char *msg = ad3d_errmsg();
  if (st != want || !strstr(msg, name) || !strstr(msg, word))
    fail_msg("expected %s with '%s' and '%s', got %s: \"%s\"", ad3d_status_name((ad3d_status)want), name, word,
             ad3d_status_name((ad3d_status)st), msg);
}
