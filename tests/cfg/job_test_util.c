/* job_test_util.c - see job_test_util.h. */
#include "job_test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/util.h"

static char tmpdir[64];

const char *tmp_path(const char *name) {
  static char path[512];
  if (!tmpdir[0]) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ad3d_cfg_XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
  }
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  return path;
}

int tmp_cleanup(void **state) {
  (void)state;
  if (tmpdir[0] && remove_tree(tmpdir) != AD3D_OK)
    return -1;
  tmpdir[0] = '\0';
  return 0;
}

char *job_write(const char *name, const char *text) {
  char *path = strdup(tmp_path(name));
  assert_non_null(path);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fputs(text, f) >= 0, 1);
  assert_int_equal(fclose(f), 0);
  return path;
}

void expect_load_error(const char *path, char *const *sets, int nsets, char *const *sweeps, int nsweeps,
                       ad3d_status code, const char *message) {
  job_t job;
  ad3d_status st = job_load(path, sets, nsets, sweeps, nsweeps, &job);
  if (st != code)
    fail_msg("job_load returned %s, expected %s (message: %s)", ad3d_status_name(st), ad3d_status_name(code),
             ad3d_errmsg());
  assert_string_equal(ad3d_errmsg(), message);
  assert_int_equal(job.nvariants, 0);
  assert_null(job.variants);
  assert_null(job.resolved_text);
}

int opts_same(const opts_t *a, const opts_t *b) {
  if (a->n != b->n) {
    print_error("option counts differ: %d and %d\n", a->n, b->n);
    return 0;
  }
  for (int i = 0; i < a->n; i++) {
    const opt_value *x = &a->v[i], *y = &b->v[i];
    int same = !strcmp(x->key, y->key) && x->type == y->type;
    if (same) {
      switch (x->type) {
      case OPT_INT: same = x->i == y->i; break;
      case OPT_REAL: same = x->r == y->r; break;
      case OPT_BOOL: same = x->b == y->b; break;
      case OPT_STRING: same = !strcmp(x->s, y->s); break;
      case OPT_STRINGS:
        same = x->nlist == y->nlist;
        for (int k = 0; same && k < x->nlist; k++)
          same = !strcmp(x->list[k], y->list[k]);
        break;
      }
    }
    if (!same) {
      char bx[512], by[512];
      opt_value_format(x, bx, sizeof bx);
      opt_value_format(y, by, sizeof by);
      print_error("options differ: %s = %s, %s = %s\n", x->key, bx, y->key, by);
      return 0;
    }
  }
  return 1;
}

void assert_jobs_same(const job_t *a, const job_t *b) {
  assert_int_equal(a->nvariants, b->nvariants);
  for (int i = 0; i < a->nvariants; i++) {
    assert_string_equal(a->variants[i].name, b->variants[i].name);
    assert_true(opts_same(&a->variants[i].opts, &b->variants[i].opts));
  }
  assert_string_equal(a->resolved_text, b->resolved_text);
}

void assert_list(const opts_t *o, const char *key, const char *const *expected, int n) {
  const opt_value *v = opts_find(o, key);
  assert_non_null(v);
  assert_int_equal(v->type, OPT_STRINGS);
  assert_int_equal(v->nlist, n);
  for (int i = 0; i < n; i++)
    assert_string_equal(v->list[i], expected[i]);
}
