/* test_common.c - options (parsing, bounds, errors, formatting), the RNG, error messages, folders. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/opts.h"
#include "common/rng.h"
#include "common/util.h"

static const opt_spec specs[] = {
    {"n", OPT_INT, "5", 1, 10, "an int"},
    {"x", OPT_REAL, "0.5", 0, 1, "a real"},
    {"flag", OPT_BOOL, "false", 1, 0, "a bool"},
    {"name", OPT_STRING, "abc", 1, 0, "a string"},
    {"list", OPT_STRINGS, "a, b", 1, 0, "a list"},
    {NULL, 0, NULL, 0, 0, NULL},
};

static const opt_spec *spec(const char *name) {
  for (const opt_spec *s = specs; s->name; s++)
    if (!strcmp(s->name, name))
      return s;
  return NULL;
}

static void test_opts_defaults_and_set(void **u) {
  (void)u;
  opts_t o = {0};
  assert_int_equal(opts_set_defaults(&o, "sec", specs), AD3D_OK);
  assert_int_equal(opts_int(&o, "sec.n"), 5);
  assert_true(opts_real(&o, "sec.x") == 0.5);
  assert_int_equal(opts_bool(&o, "sec.flag"), 0);
  assert_string_equal(opts_str(&o, "sec.name"), "abc");
  const opt_value *l = opts_list(&o, "sec.list");
  assert_int_equal(l->nlist, 2);
  assert_string_equal(l->list[1], "b");
  assert_int_equal(opts_set_text(&o, "sec", spec("n"), "7"), AD3D_OK);
  assert_int_equal(opts_int(&o, "sec.n"), 7);
  assert_true(opts_real(&o, "sec.n") == 7.0); /* an int reads as a real too */
  assert_int_equal(opts_set_text(&o, "sec", spec("list"), ""), AD3D_OK);
  assert_int_equal(opts_list(&o, "sec.list")->nlist, 0);
  assert_int_equal(opts_set_text(&o, "sec", spec("list"), "[\"p\", \"q\", \"r\"]"), AD3D_OK);
  assert_int_equal(opts_list(&o, "sec.list")->nlist, 3);
  assert_string_equal(opts_list(&o, "sec.list")->list[2], "r");
  assert_null(opts_find(&o, "sec.missing"));
  opts_t c;
  assert_int_equal(opts_copy(&c, &o), AD3D_OK);
  opts_free(&o);
  assert_int_equal(opts_int(&c, "sec.n"), 7);
  assert_string_equal(opts_list(&c, "sec.list")->list[0], "p");
  opts_free(&c);
}

static void test_opts_errors(void **u) {
  (void)u;
  opts_t o = {0};
  assert_int_equal(opts_set_text(&o, "sec", spec("n"), "11"), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "sec.n"));
  assert_non_null(strstr(ad3d_errmsg(), "outside"));
  assert_int_equal(opts_set_text(&o, "sec", spec("n"), "2.5"), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "integer"));
  assert_int_equal(opts_set_text(&o, "sec", spec("x"), "nan"), AD3D_EINVAL);
  assert_int_equal(opts_set_text(&o, "sec", spec("x"), "1e5"), AD3D_EINVAL);
  assert_int_equal(opts_set_text(&o, "sec", spec("flag"), "maybe"), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "true or false"));
  assert_int_equal(o.n, 0);
  opts_free(&o);
}

static void test_opts_format(void **u) {
  (void)u;
  opts_t o = {0};
  char buf[128];
  assert_int_equal(opts_set_defaults(&o, "sec", specs), AD3D_OK);
  assert_int_equal(opts_set_text(&o, "sec", spec("x"), "1"), AD3D_OK);
  opt_value_format(opts_find(&o, "sec.x"), buf, sizeof buf);
  assert_string_equal(buf, "1.0"); /* stays a real when read back */
  opt_value_format(opts_find(&o, "sec.list"), buf, sizeof buf);
  assert_string_equal(buf, "[\"a\", \"b\"]");
  opt_value_format(opts_find(&o, "sec.name"), buf, sizeof buf);
  assert_string_equal(buf, "\"abc\"");
  assert_int_equal(opts_set_text(&o, "sec", spec("x"), "0.1"), AD3D_OK);
  opt_value_format(opts_find(&o, "sec.x"), buf, sizeof buf);
  assert_true(strtod(buf, NULL) == 0.1); /* round-trips exactly */
  opts_free(&o);
}

static void test_rng(void **u) {
  (void)u;
  rng_t a, b;
  rng_seed_key(&a, 42, "btf_raw/quick/cup0@default");
  rng_seed_key(&b, 42, "btf_raw/quick/cup0@default");
  for (int i = 0; i < 100; i++)
    assert_true(rng_next(&a) == rng_next(&b));
  rng_seed_key(&b, 42, "btf_raw/quick/cup1@default");
  assert_true(rng_next(&a) != rng_next(&b));
  /* uniform in [0, 1) with the right mean; rng_below unbiased enough and in range */
  double s = 0, s2 = 0;
  int counts[7] = {0};
  const int n = 200000;
  for (int i = 0; i < n; i++) {
    double x = rng_uniform(&a);
    assert_true(x >= 0 && x < 1);
    s += x;
    uint64_t k = rng_below(&a, 7);
    assert_true(k < 7);
    counts[k]++;
    double z = rng_normal(&a);
    s2 += z * z;
  }
  assert_true(fabs(s / n - 0.5) < 0.005);
  assert_true(fabs(s2 / n - 1.0) < 0.02);
  for (int k = 0; k < 7; k++)
    assert_true(abs(counts[k] - n / 7) < 5 * 120); /* ~5 sigma */
  /* the stream of a fixed seed never changes (results must be reproducible across versions) */
  rng_seed(&a, 0);
  assert_true(rng_next(&a) == 0x99ec5f36cb75f2b4ULL);
}

static void test_errors_and_folders(void **u) {
  (void)u;
  assert_int_equal(ad3d_fail(AD3D_EFORMAT, "%s: bad %d", "f.pcd", 3), AD3D_EFORMAT);
  assert_int_equal(ad3d_fail_context(AD3D_EFORMAT, "loading %s", "cup0"), AD3D_EFORMAT);
  assert_string_equal(ad3d_errmsg(), "loading cup0: f.pcd: bad 3");
  char tmpl[] = "/tmp/ad3d_common_XXXXXX";
  assert_non_null(mkdtemp(tmpl));
  char *deep = str_printf("%s/a/b/c", tmpl);
  assert_int_equal(mkdir_p(deep), AD3D_OK);
  assert_true(is_dir(deep));
  char *f1 = str_printf("%s/a/z.txt", tmpl), *f2 = str_printf("%s/a/y.pcd", tmpl);
  fclose(fopen(f1, "w"));
  fclose(fopen(f2, "w"));
  char **names;
  int n;
  char *a = str_printf("%s/a", tmpl);
  assert_int_equal(list_dir(a, NULL, &names, &n), AD3D_OK);
  assert_int_equal(n, 3);
  assert_string_equal(names[0], "b"); /* sorted */
  assert_string_equal(names[2], "z.txt");
  strv_free(names, n);
  assert_int_equal(list_dir(a, ".pcd", &names, &n), AD3D_OK);
  assert_int_equal(n, 1);
  strv_free(names, n);
  assert_int_equal(list_dir("/nonexistent/ad3d", NULL, &names, &n), AD3D_ENOTFOUND);
  assert_non_null(strstr(ad3d_errmsg(), "/nonexistent/ad3d"));
  assert_int_equal(remove_tree(tmpl), AD3D_OK);
  assert_false(is_dir(tmpl));
  free(deep), free(f1), free(f2), free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_opts_defaults_and_set), cmocka_unit_test(test_opts_errors),
      cmocka_unit_test(test_opts_format),           cmocka_unit_test(test_rng),
      cmocka_unit_test(test_errors_and_folders),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
