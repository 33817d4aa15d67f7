/* test_meshio.c - mesh readers (OBJ, PLY ascii / little / big endian, OFF, STL ascii / binary)
 * against files Open3D and hand-packing wrote (tests/fixtures/synth/make_mesh_fixtures.py), and
 * their error messages on malformed files.
 *
 * Oracles: expected_<mesh>.txt holds the numpy arrays each file was written from (Open3D's text
 * writers round to 6 significant digits, its binary PLY keeps doubles, STL keeps float32); the
 * hand-written files' content is restated here.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "synth/mesh.h"
#include "synth/meshio.h"

static const char *fx(const char *name) {
  static char buf[1024];
  const char *root = getenv("AD3D_FIXTURES");
  snprintf(buf, sizeof buf, "%s/synth/%s", root ? root : AD3D_FIXTURES, name);
  return buf;
}

typedef struct {
  int64_t nv, nf;
  double *v;
  int32_t *f;
} expected_mesh;

static void expected_read(const char *name, expected_mesh *e) {
  FILE *f = fopen(fx(name), "r");
  assert_non_null(f);
  long long nv, nf;
  assert_int_equal(fscanf(f, "%lld %lld", &nv, &nf), 2);
  e->nv = nv;
  e->nf = nf;
  e->v = malloc((size_t)nv * 3 * sizeof *e->v);
  e->f = malloc((size_t)nf * 3 * sizeof *e->f);
  for (int64_t i = 0; i < 3 * nv; i++)
    assert_int_equal(fscanf(f, "%lf", &e->v[i]), 1);
  for (int64_t i = 0; i < 3 * nf; i++)
    assert_int_equal(fscanf(f, "%d", &e->f[i]), 1);
  fclose(f);
}

static void expected_free(expected_mesh *e) {
  free(e->v);
  free(e->f);
}

static void read_ok(const char *name, mesh_t *m) {
  ad3d_status st = mesh_read(fx(name), m);
  if (st != AD3D_OK)
    fail_msg("%s: %s", name, ad3d_errmsg());
  assert_int_equal(mesh_validate(m, name), AD3D_OK);
}

/* The mesh holds exactly the expected vertices (within tol) and faces. */
static void assert_indexed_equal(const char *name, const mesh_t *m, const expected_mesh *e, double tol) {
  if (m->nv != e->nv || m->nf != e->nf)
    fail_msg("%s: %lld vertices %lld faces, expected %lld and %lld", name, (long long)m->nv, (long long)m->nf,
             (long long)e->nv, (long long)e->nf);
  for (int64_t i = 0; i < 3 * e->nv; i++)
    if (fabs(m->v[i] - e->v[i]) > tol)
      fail_msg("%s: vertex %lld coordinate %d is %.17g, expected %.17g", name, (long long)(i / 3), (int)(i % 3),
               m->v[i], e->v[i]);
  assert_memory_equal(m->f, e->f, (size_t)e->nf * 3 * sizeof *e->f);
}

static void test_indexed_formats(void **state) {
  (void)state;
  static const char *const meshes[] = {"box", "torus"};
  static const struct {
    const char *suffix;
    double tol;
  } files[] = {{".obj", 5e-6}, {"_ascii.ply", 5e-6}, {"_le.ply", 0.0}, {".off", 5e-6}, {"_be.ply", 0.0}};
  for (int k = 0; k < 2; k++) {
    expected_mesh e;
    char name[64];
    snprintf(name, sizeof name, "expected_%s.txt", meshes[k]);
    expected_read(name, &e);
    for (size_t j = 0; j < sizeof files / sizeof files[0]; j++) {
      if (k == 0 && !strcmp(files[j].suffix, "_be.ply"))
        continue; /* only the torus has a hand-packed big-endian file */
      mesh_t m;
      snprintf(name, sizeof name, "%s%s", meshes[k], files[j].suffix);
      read_ok(name, &m);
      assert_indexed_equal(name, &m, &e, files[j].tol);
      mesh_free(&m);
    }
    expected_free(&e);
  }
}

/* STL is a soup: facet k's vertices are 3k, 3k + 1, 3k + 2, equal to the float32 of the expected
 * vertices; welding exactly equal vertices recovers the indexed mesh's vertex count and area. */
static void test_stl(void **state) {
  (void)state;
  static const char *const files[] = {"box.stl", "box_ascii.stl", "torus.stl", "torus_solidheader.stl"};
  for (size_t j = 0; j < sizeof files / sizeof files[0]; j++) {
    expected_mesh e;
    expected_read(strncmp(files[j], "box", 3) ? "expected_torus.txt" : "expected_box.txt", &e);
    mesh_t m;
    read_ok(files[j], &m);
    assert_int_equal(m.nf, e.nf);
    assert_int_equal(m.nv, 3 * e.nf);
    for (int64_t k = 0; k < e.nf; k++)
      for (int c = 0; c < 3; c++) {
        assert_int_equal(m.f[3 * k + c], 3 * k + c);
        for (int a = 0; a < 3; a++) {
          double want = (float)e.v[3 * e.f[3 * k + c] + a], got = m.v[3 * (3 * k + c) + a];
          if (fabs(got - want) > 1e-6)
            fail_msg("%s: facet %lld vertex %d: %.9g, expected %.9g", files[j], (long long)k, c, got, want);
        }
      }
    mesh_t indexed = {0};
    indexed.nv = e.nv;
    indexed.nf = e.nf;
    indexed.v = e.v;
    indexed.f = e.f;
    double area = mesh_area(&indexed);
    int64_t merged;
    assert_int_equal(mesh_weld(&m, 0.0, &merged), AD3D_OK);
    assert_int_equal(m.nv, e.nv);
    assert_int_equal(merged, 3 * e.nf - e.nv);
    assert_true(fabs(mesh_area(&m) - area) < 1e-5 * area);
    mesh_free(&m);
    expected_free(&e);
  }
  mesh_t m;
  read_ok("two.stl", &m);
  assert_int_equal(m.nf, 2);
  assert_int_equal(m.nv, 6);
  assert_true(m.v[3 * 3 + 2] == 1.0 && m.v[3 * 4 + 0] == 1.0);
  mesh_free(&m);
}

static double tri_area(const double *a, const double *b, const double *c) {
  double e1[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]}, e2[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
  double x = e1[1] * e2[2] - e1[2] * e2[1], y = e1[2] * e2[0] - e1[0] * e2[2], z = e1[0] * e2[1] - e1[1] * e2[0];
  return 0.5 * sqrt(x * x + y * y + z * z);
}

/* poly.obj: a cube of quads (slash forms, negative indices) and a pentagon, fan-triangulated. */
static void test_obj_polygons(void **state) {
  (void)state;
  mesh_t m;
  read_ok("poly.obj", &m);
  assert_int_equal(m.nv, 13);
  assert_int_equal(m.nf, 6 * 2 + 3);
  /* "f -5 -1 -2 -6" with 8 vertices defined: vertices 3, 7, 6, 2 (0-based), fanned from 3 */
  const int32_t want[6] = {3, 7, 6, 3, 6, 2};
  assert_memory_equal(m.f + 3 * 8, want, sizeof want);
  /* pentagon (3,0) (4,0) (4.5,1) (3.5,2) (2.5,1): shoelace area 2.5 */
  double pent = 0;
  for (int k = 12; k < 15; k++)
    pent += tri_area(m.v + 3 * m.f[3 * k], m.v + 3 * m.f[3 * k + 1], m.v + 3 * m.f[3 * k + 2]);
  assert_true(fabs(pent - 2.5) < 1e-12);
  assert_true(fabs(mesh_area(&m) - 8.5) < 1e-12);
  mesh_free(&m);
}

static void test_off_variants(void **state) {
  (void)state;
  mesh_t m;
  read_ok("comments.off", &m);
  assert_int_equal(m.nv, 4);
  assert_int_equal(m.nf, 2);
  const double v2[3] = {1, 1, 0};
  assert_memory_equal(m.v + 6, v2, sizeof v2);
  const int32_t f[6] = {0, 1, 2, 0, 2, 3};
  assert_memory_equal(m.f, f, sizeof f);
  mesh_free(&m);
  read_ok("nokeyword.off", &m);
  assert_int_equal(m.nf, 2);
  assert_true(fabs(mesh_area(&m) - 4.0) < 1e-12);
  mesh_free(&m);
}

static void assert_bad(const char *name, ad3d_status want, const char *w1, const char *w2) {
  mesh_t m;
  ad3d_status st = mesh_read(fx(name), &m);
  if (st != want)
    fail_msg("%s: status %s, expected %s (%s)", name, ad3d_status_name(st), ad3d_status_name(want), ad3d_errmsg());
  const char *msg = ad3d_errmsg();
  if (!strstr(msg, name) || (w1 && !strstr(msg, w1)) || (w2 && !strstr(msg, w2)))
    fail_msg("%s: message \"%s\" lacks \"%s\" / \"%s\"", name, msg, w1 ? w1 : "", w2 ? w2 : "");
  assert_int_equal(m.nv, 0);
  assert_null(m.v);
  assert_null(m.f);
}

static void test_malformed(void **state) {
  (void)state;
  assert_bad("bad_index.obj", AD3D_EFORMAT, ":5:", "out of range");
  assert_bad("bad_zero.obj", AD3D_EFORMAT, ":4:", "start at 1");
  assert_bad("bad_number.obj", AD3D_EFORMAT, ":2:", "three finite");
  assert_bad("bad_short_face.obj", AD3D_EFORMAT, ":4:", "at least 3");
  assert_bad("no_faces.obj", AD3D_EFORMAT, "no faces", NULL);
  assert_bad("bad_index.off", AD3D_EFORMAT, ":6:", "out of range");
  assert_bad("bad_truncated.off", AD3D_EFORMAT, "truncated", "1 of 2 faces");
  assert_bad("bad_vertex.off", AD3D_EFORMAT, ":4:", "vertex 1");
  assert_bad("bad_variant.off", AD3D_EFORMAT, ":1:", "unsupported");
  assert_bad("bad_facet.stl", AD3D_EFORMAT, ":3:", "2 vertices");
  assert_bad("bad_keyword.stl", AD3D_EFORMAT, ":8:", "\"endfacet\" expected");
  assert_bad("bad_noendsolid.stl", AD3D_EFORMAT, "truncated", "endsolid");
  assert_bad("bad_size.stl", AD3D_EFORMAT, "not an STL file", "209");
  assert_bad("bad_ascii_index.ply", AD3D_EFORMAT, ":14:", "out of range");
  assert_bad("bad_ascii_number.ply", AD3D_EFORMAT, ":11:", "bad number");
  assert_bad("bad_no_z.ply", AD3D_EFORMAT, "no scalar property z", NULL);
  assert_bad("bad_type.ply", AD3D_EFORMAT, ":4:", "unknown property type");
  assert_bad("bad_format.ply", AD3D_EFORMAT, ":2:", "unknown format");
  assert_bad("bad_noend.ply", AD3D_EFORMAT, "end_header", NULL);
  assert_bad("bad_truncated.ply", AD3D_EFORMAT, "offset 223", "truncated");
  assert_bad("missing.obj", AD3D_EIO, "cannot open", NULL);
  assert_bad("make_mesh_fixtures.py", AD3D_EINVAL, "unknown mesh format", NULL);
}

static void test_format_names(void **state) {
  (void)state;
  assert_int_equal(mesh_format_from_path("a/b.OBJ"), MESH_FORMAT_OBJ);
  assert_int_equal(mesh_format_from_path("x.Ply"), MESH_FORMAT_PLY);
  assert_int_equal(mesh_format_from_path("x.off"), MESH_FORMAT_OFF);
  assert_int_equal(mesh_format_from_path("x.stl"), MESH_FORMAT_STL);
  assert_int_equal(mesh_format_from_path("dir.obj/x"), MESH_FORMAT_UNKNOWN);
  assert_int_equal(mesh_format_from_path("x.pcd"), MESH_FORMAT_UNKNOWN);
  assert_string_equal(mesh_format_name(MESH_FORMAT_STL), "stl");
  /* the format can be forced whatever the name */
  mesh_t m;
  assert_int_equal(mesh_read_format(fx("nokeyword.off"), MESH_FORMAT_OFF, &m), AD3D_OK);
  assert_int_equal(m.nf, 2);
  mesh_free(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_indexed_formats), cmocka_unit_test(test_stl),
      cmocka_unit_test(test_obj_polygons),    cmocka_unit_test(test_off_variants),
      cmocka_unit_test(test_malformed),       cmocka_unit_test(test_format_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
