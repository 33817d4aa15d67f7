/* test_carve.c - every defect carved into a plane or a sphere whose labelled region is known in
 * advance, then sampled: the points' positions follow the defect's formula, and labels agree with
 * distances computed here from the closed-form surfaces (a plane: |z|; the unit sphere: |p| - 1;
 * a circle for a cut's rim; a disk for a hole).
 *
 * Plane tests are exact up to the piecewise-linear interpolation of the refined mesh (margins are
 * a few times that error); sphere tests add the polyhedral sphere's own distance to the unit
 * sphere (below 1e-3 at the meshes used). Also: random defects (carve_draw) are deterministic and
 * land near their coverage target; malformed defects are rejected.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "synth/carve.h"
#include "synth/mesh.h"

#define MAX_FACES 4000000

/* The rectangle [x0, x1] x [y0, y1] at z = 0, nx x ny cells of two triangles, facing +z. */
static void make_plane(mesh_t *m, double x0, double x1, double y0, double y1, int nx, int ny) {
  memset(m, 0, sizeof *m);
  for (int j = 0; j <= ny; j++)
    for (int i = 0; i <= nx; i++)
      assert_int_equal(mesh_push_vertex(m, x0 + (x1 - x0) * i / nx, y0 + (y1 - y0) * j / ny, 0.0), AD3D_OK);
  for (int j = 0; j < ny; j++)
    for (int i = 0; i < nx; i++) {
      int a = j * (nx + 1) + i, b = a + 1, c = a + nx + 1, d = c + 1;
      assert_int_equal(mesh_push_face(m, a, b, d), AD3D_OK);
      assert_int_equal(mesh_push_face(m, a, d, c), AD3D_OK);
    }
}

/* The unit sphere: an icosahedron refined to edges <= h, vertices pushed onto the sphere. */
static void make_sphere(mesh_t *m, double h) {
  memset(m, 0, sizeof *m);
  const double g = (1.0 + sqrt(5.0)) / 2.0;
  const double v[12][3] = {{-1, g, 0}, {1, g, 0}, {-1, -g, 0}, {1, -g, 0}, {0, -1, g}, {0, 1, g},
                           {0, -1, -g}, {0, 1, -g}, {g, 0, -1}, {g, 0, 1}, {-g, 0, -1}, {-g, 0, 1}};
  const int f[20][3] = {{0, 11, 5}, {0, 5, 1},  {0, 1, 7},   {0, 7, 10}, {0, 10, 11}, {1, 5, 9}, {5, 11, 4},
                        {11, 10, 2}, {10, 7, 6}, {7, 1, 8},   {3, 9, 4},  {3, 4, 2},   {3, 2, 6}, {3, 6, 8},
                        {3, 8, 9},  {4, 9, 5},  {2, 4, 11},  {6, 2, 10}, {8, 6, 7},   {9, 8, 1}};
  for (int i = 0; i < 12; i++)
    assert_int_equal(mesh_push_vertex(m, v[i][0], v[i][1], v[i][2]), AD3D_OK);
  for (int k = 0; k < 20; k++)
    assert_int_equal(mesh_push_face(m, f[k][0], f[k][1], f[k][2]), AD3D_OK);
  double l = sqrt(1 + g * g);
  for (int i = 0; i < 36; i++)
    m->v[i] /= l;
  assert_int_equal(mesh_refine(m, h, NULL, NULL, MAX_FACES), AD3D_OK);
  for (int64_t i = 0; i < m->nv; i++) {
    double *p = m->v + 3 * i, r = sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]);
    for (int a = 0; a < 3; a++)
      p[a] /= r;
  }
  int64_t flipped;
  assert_int_equal(mesh_orient(m, &flipped), AD3D_OK);
  assert_int_equal(flipped, 0);
}

typedef struct {
  int64_t n, nlab;
  double *xyz, *nrm;
  uint8_t *lab;
} samples;

static void carve_and_sample(const mesh_t *base, const carve_defect *d, int64_t n, carved_t *c, samples *s) {
  ad3d_status st = carve_apply(base, d, MAX_FACES, c);
  if (st != AD3D_OK)
    fail_msg("carve_apply: %s", ad3d_errmsg());
  s->n = n;
  s->xyz = malloc((size_t)n * 3 * sizeof *s->xyz);
  s->nrm = malloc((size_t)n * 3 * sizeof *s->nrm);
  s->lab = malloc((size_t)n);
  rng_t r;
  rng_seed(&r, 1234);
  carved_sample(c, n, &r, s->xyz, s->nrm, s->lab, &s->nlab);
  int64_t k = 0;
  for (int64_t i = 0; i < n; i++)
    k += s->lab[i];
  assert_int_equal(k, s->nlab);
}

static void samples_free(samples *s) {
  free(s->xyz);
  free(s->nrm);
  free(s->lab);
}

static double falloff(double s) { return s >= 1 ? 0.0 : (1 - s * s) * (1 - s * s); }

/* Bulge and concavity on a plane: heights follow A f(r / R) and labels are |z| > threshold. */
static void test_plane_bulge_concavity(void **state) {
  (void)state;
  mesh_t plane;
  make_plane(&plane, -1, 1, -1, 1, 20, 20);
  for (int kind = 0; kind < 2; kind++) {
    carve_defect d = {0};
    d.kind = kind ? CARVE_CONCAVITY : CARVE_BULGE;
    d.centre[0] = 0.1;
    d.normal[2] = 1;
    d.radius = 0.3;
    d.amplitude = 0.06;
    d.threshold = 0.006;
    d.resolution = 0.3 / 12;
    carved_t c;
    samples s;
    carve_and_sample(&plane, &d, 20000, &c, &s);
    double rlab = 0.3 * sqrt(1 - sqrt(0.1)), sign = kind ? -1 : 1;
    int64_t inside = 0;
    for (int64_t i = 0; i < s.n; i++) {
      const double *p = s.xyz + 3 * i;
      double r = hypot(p[0] - 0.1, p[1]), z = p[2];
      assert_true(fabs(z - sign * 0.06 * falloff(r / 0.3)) < 5e-4); /* interpolation error: h^2 / 8 |f''| and diagonals */
      if (fabs(fabs(z) - 0.006) > 1e-12)
        assert_int_equal(s.lab[i], fabs(z) > 0.006);
      if (r < rlab - 0.003)
        assert_int_equal(s.lab[i], 1);
      if (r > rlab + 0.003)
        assert_int_equal(s.lab[i], 0);
      if (r >= 0.3 + d.resolution)
        assert_true(z == 0.0);
      inside += r < rlab;
    }
    assert_true(labs((long)(inside - s.nlab)) < 40);
    double cov = carved_coverage(&c, s.n, s.nlab), want = M_PI * rlab * rlab / 4.0;
    assert_true(fabs(cov - want) < 0.1 * want);
    assert_true(fabs(c.max_displacement - 0.06) < 1e-3);
    samples_free(&s);
    carved_free(&c);
    carved_free(&c);
  }
  mesh_free(&plane);
}

/* A hole in a plane: nothing left inside R, the ring R .. R + rim labelled. */
static void test_plane_hole(void **state) {
  (void)state;
  mesh_t plane;
  make_plane(&plane, -1, 1, -1, 1, 16, 16);
  carve_defect d = {0};
  d.kind = CARVE_HOLE;
  d.normal[2] = 1;
  d.radius = 0.3;
  d.rim = 0.05;
  d.resolution = 0.3 / 16;
  carved_t c;
  samples s;
  carve_and_sample(&plane, &d, 30000, &c, &s);
  double sag = d.resolution * d.resolution / (8 * 0.3) * 2; /* chords of the cut circle */
  int64_t ring = 0;
  for (int64_t i = 0; i < s.n; i++) {
    const double *p = s.xyz + 3 * i;
    double r = hypot(p[0], p[1]);
    assert_true(p[2] == 0.0);
    assert_true(r > 0.3 - sag);
    if (r < 0.35 - sag)
      assert_int_equal(s.lab[i], 1);
    if (r > 0.35 + 1e-9)
      assert_int_equal(s.lab[i], 0);
    ring += r < 0.35;
  }
  assert_true(labs((long)(ring - s.nlab)) < 20);
  assert_true(fabs(c.area_removed - M_PI * 0.09) < 0.01 * M_PI * 0.09);
  assert_true(fabs(c.area + c.area_removed - 4.0) < 1e-9);
  assert_true(c.max_displacement == 0.0);
  double cov = carved_coverage(&c, s.n, s.nlab), want = M_PI * 0.35 * 0.35 / 4.0;
  assert_true(fabs(cov - want) < 0.05 * want);
  samples_free(&s);
  carved_free(&c);
  mesh_free(&plane);
}

/* Crack and scratch along the x axis of a plane: depth -A h(u) f(|y| / W(u)); labels |z| > thr. */
static void test_plane_grooves(void **state) {
  (void)state;
  mesh_t plane;
  make_plane(&plane, -1, 1, -1, 1, 10, 10);
  for (int kind = 0; kind < 2; kind++) {
    int crack = kind == 0;
    carve_defect d = {0};
    d.kind = crack ? CARVE_CRACK : CARVE_SCRATCH;
    d.normal[2] = 1;
    d.tangent[0] = 1;
    d.npath = 3;
    d.path[0][0] = -0.4;
    d.path[1][0] = 0.1; /* a kink-free path through c: two collinear segments */
    d.path[2][0] = 0.4;
    d.width = crack ? 0.02 : 0.04;
    d.amplitude = crack ? 0.05 : 0.006;
    d.threshold = 0.1 * d.amplitude;
    d.resolution = d.width / 3;
    carved_t c;
    samples s;
    carve_and_sample(&plane, &d, 30000, &c, &s);
    int64_t deep = 0;
    for (int64_t i = 0; i < s.n; i++) {
      const double *p = s.xyz + 3 * i;
      double u = (p[0] + 0.4) / 0.8, y = fabs(p[1]), z = p[2];
      assert_true(z <= 0.0);
      if (fabs(-z - d.threshold) > 1e-12)
        assert_int_equal(s.lab[i], -z > d.threshold);
      if (y > d.width + 2 * d.resolution || u < -0.05 || u > 1.05) {
        assert_true(z == 0.0);
        assert_int_equal(s.lab[i], 0);
      }
      if (u > 0.2 && u < 0.8 && y < 0.3 * d.width * (crack ? 0.35 + 0.65 * sqrt(4 * 0.2 * 0.8) : 1)) {
        /* well inside: depth near A h f, certainly beyond the threshold */
        double h = crack ? sqrt(4 * u * (1 - u)) : 1.0, w = crack ? d.width * (0.35 + 0.65 * h) : d.width;
        double want = d.amplitude * h * falloff(y / w);
        assert_true(fabs(-z - want) < 0.12 * d.amplitude);
        assert_int_equal(s.lab[i], 1);
        deep++;
      }
    }
    assert_true(deep > 20);
    assert_true(s.nlab > 0);
    /* the groove walls are sampled: the carved surface is larger than the plane */
    assert_true(c.area > 4.0);
    samples_free(&s);
    carved_free(&c);
  }
  mesh_free(&plane);
}

/* Bending a strip about the y axis through x = 0.2: flat for x < 0.2, rigid at angle A beyond the
 * bend of width w, labels |z| > thr, i.e. distance from the axis beyond a root found here. */
static void test_strip_bending(void **state) {
  (void)state;
  mesh_t strip;
  make_plane(&strip, -1, 1, -0.25, 0.25, 20, 5);
  carve_defect d = {0};
  d.kind = CARVE_BENDING;
  d.centre[0] = 0.2;
  d.plane[0] = 1;
  d.normal[0] = 1;
  d.axis[1] = 1;
  d.amplitude = 0.3;
  d.width = 0.2;
  d.threshold = 0.01;
  d.resolution = 0.2 / 8;
  carved_t c;
  samples s;
  carve_and_sample(&strip, &d, 20000, &c, &s);
  /* labelled where dx sin(A S(dx / w)) > thr: solve for dx by bisection */
  double lo = 0, hi = 0.2;
  for (int it = 0; it < 100; it++) {
    double mid = 0.5 * (lo + hi), x = mid / 0.2, S = x * x * (3 - 2 * x);
    if (mid * sin(0.3 * S) > 0.01)
      hi = mid;
    else
      lo = mid;
  }
  double dstar = lo;
  for (int64_t i = 0; i < s.n; i++) {
    const double *p = s.xyz + 3 * i;
    double dx = p[0] - 0.2, r = hypot(dx, p[2]);
    assert_true(fabs(p[1]) <= 0.25);
    if (p[2] == 0.0 && dx <= 0) {
      assert_int_equal(s.lab[i], 0);
      continue;
    }
    assert_true(p[2] <= 1e-15); /* a positive angle about +y turns +x towards -z */
    if (fabs(fabs(p[2]) - 0.01) > 1e-12)
      assert_int_equal(s.lab[i], fabs(p[2]) > 0.01);
    if (r > 0.2 + d.resolution)
      assert_true(fabs(p[2] + dx * tan(0.3)) < 1e-9); /* rigid part: on the plane at angle A */
    if (r < dstar - 0.004)
      assert_int_equal(s.lab[i], 0);
    if (r > dstar + 0.004)
      assert_int_equal(s.lab[i], 1);
  }
  assert_true(fabs(c.max_displacement - 2 * sin(0.15) * 0.8) < 1e-9);
  samples_free(&s);
  carved_free(&c);
  mesh_free(&strip);
}

/* A bulge on the unit sphere: labels agree with |p| - 1 > thr, all within the ball. */
static void test_sphere_bulge(void **state) {
  (void)state;
  mesh_t sphere;
  make_sphere(&sphere, 0.08);
  carve_defect d = {0};
  d.kind = CARVE_BULGE;
  d.centre[2] = 1;
  d.normal[2] = 1;
  d.radius = 0.4;
  d.amplitude = 0.08;
  d.threshold = 0.008;
  d.resolution = 0.4 / 12;
  carved_t c;
  samples s;
  carve_and_sample(&sphere, &d, 20000, &c, &s);
  for (int64_t i = 0; i < s.n; i++) {
    const double *p = s.xyz + 3 * i;
    double off = sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]) - 1.0;
    if (off > 0.008 + 2e-3)
      assert_int_equal(s.lab[i], 1);
    if (off < 0.008 - 2e-3)
      assert_int_equal(s.lab[i], 0);
    if (s.lab[i])
      assert_true(hypot(p[0], p[1]) < 0.4);
  }
  assert_true(s.nlab > 300);
  samples_free(&s);
  carved_free(&c);
  mesh_free(&sphere);
}

/* A piece broken off the unit sphere by the plane z = 0.7: nothing above it, the rim within 0.05
 * of the cut circle labelled, the cap's area removed. */
static void test_sphere_broken(void **state) {
  (void)state;
  mesh_t sphere;
  make_sphere(&sphere, 0.08);
  carve_defect d = {0};
  d.kind = CARVE_BROKEN;
  d.centre[2] = 1;
  d.normal[2] = 1;
  d.plane[2] = 1;
  d.depth = 0.3;
  d.radius = 2;
  d.rim = 0.05;
  d.resolution = 0.03;
  carved_t c;
  samples s;
  carve_and_sample(&sphere, &d, 30000, &c, &s);
  double rho = sqrt(1 - 0.49);
  for (int64_t i = 0; i < s.n; i++) {
    const double *p = s.xyz + 3 * i;
    assert_true(p[2] <= 0.7 + 1e-12); /* the cut is exactly planar */
    double dc = hypot(hypot(p[0], p[1]) - rho, p[2] - 0.7); /* distance to the cut circle */
    if (dc < 0.05 - 2e-3)
      assert_int_equal(s.lab[i], 1);
    if (dc > 0.05 + 2e-3)
      assert_int_equal(s.lab[i], 0);
  }
  assert_true(fabs(c.area_removed - 2 * M_PI * 0.3) < 0.01 * 2 * M_PI * 0.3);
  assert_true(s.nlab > 200);
  samples_free(&s);
  carved_free(&c);

  /* a rough fracture stays within its amplitude of the plane */
  d.rough_amp = 0.03;
  const double k[3][4] = {{9, 1, 0, 0.3}, {-2, 8, 1, 1.1}, {4, -5, 3, 2.0}};
  memcpy(d.rough, k, sizeof k);
  carve_and_sample(&sphere, &d, 10000, &c, &s);
  double top = -1;
  for (int64_t i = 0; i < s.n; i++)
    top = fmax(top, s.xyz[3 * i + 2]);
  assert_true(top <= 0.73 + 1e-12);
  assert_true(top > 0.67);
  samples_free(&s);
  carved_free(&c);
  mesh_free(&sphere);
}

/* Random defects: deterministic for an rng state, and near their coverage target. */
static void test_draw(void **state) {
  (void)state;
  mesh_t sphere;
  make_sphere(&sphere, 0.1);
  carve_base b;
  assert_int_equal(carve_base_init(&b, &sphere), AD3D_OK);
  assert_true(fabs(b.area - 4 * M_PI) < 0.05);
  carve_options o = {0.1, 0.03};
  for (int k = 0; k < CARVE_NKINDS; k++) {
    carve_defect d1, d2;
    rng_t r1, r2;
    rng_seed(&r1, 77 + k);
    rng_seed(&r2, 77 + k);
    assert_int_equal(carve_draw(&b, (carve_kind)k, 0.04, &o, &r1, &d1), AD3D_OK);
    assert_int_equal(carve_draw(&b, (carve_kind)k, 0.04, &o, &r2, &d2), AD3D_OK);
    assert_memory_equal(&d1, &d2, sizeof d1);
    carved_t c;
    samples s;
    carve_and_sample(&sphere, &d1, 20000, &c, &s);
    double cov = carved_coverage(&c, s.n, s.nlab);
    if (cov < 0.04 / 3 || cov > 0.04 * 3)
      fail_msg("%s: coverage %.4f far from the target 0.04", carve_kind_name((carve_kind)k), cov);
    samples_free(&s);
    carved_free(&c);
  }
  carve_defect d;
  rng_t r;
  rng_seed(&r, 1);
  assert_int_equal(carve_draw(&b, CARVE_BULGE, 1.5, &o, &r, &d), AD3D_EINVAL);
  carve_base_free(&b);
  carve_base_free(&b);
  mesh_free(&sphere);
}

static void test_errors_and_names(void **state) {
  (void)state;
  mesh_t plane;
  make_plane(&plane, -1, 1, -1, 1, 4, 4);
  carved_t c;
  carve_defect d = {0};
  d.kind = CARVE_BULGE;
  d.normal[2] = 1;
  d.resolution = 0.1;
  assert_int_equal(carve_apply(&plane, &d, MAX_FACES, &c), AD3D_EINVAL); /* radius 0 */
  assert_non_null(strstr(ad3d_errmsg(), "radius"));
  d.kind = CARVE_BENDING; /* the hinge plane behind the whole strip: everything would bend */
  d.centre[0] = -2;
  d.plane[0] = 1;
  d.axis[1] = 1;
  d.width = 0.5;
  d.amplitude = 0.2;
  assert_int_equal(carve_apply(&plane, &d, MAX_FACES, &c), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "whole surface"));
  d.kind = CARVE_HOLE; /* too fine a resolution for the face budget */
  d.centre[0] = 0;
  d.radius = 0.5;
  d.resolution = 1e-4;
  assert_int_equal(carve_apply(&plane, &d, 100000, &c), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "hole"));
  assert_null(c.mesh.v);
  carve_kind k;
  assert_int_equal(carve_kind_parse("crak", &k), AD3D_OK);
  assert_int_equal(k, CARVE_CRACK);
  assert_int_equal(carve_kind_parse("sink", &k), AD3D_OK);
  assert_int_equal(k, CARVE_CONCAVITY);
  assert_int_equal(carve_kind_parse("dent", &k), AD3D_ENOTFOUND);
  for (int i = 0; i < CARVE_NKINDS; i++) {
    assert_int_equal(carve_kind_parse(carve_kind_names[i], &k), AD3D_OK);
    assert_int_equal(k, i);
    assert_string_equal(carve_kind_name(k), carve_kind_names[i]);
  }
  assert_null(carve_kind_names[CARVE_NKINDS]);
  mesh_free(&plane);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plane_bulge_concavity), cmocka_unit_test(test_plane_hole),
      cmocka_unit_test(test_plane_grooves),         cmocka_unit_test(test_strip_bending),
      cmocka_unit_test(test_sphere_bulge),          cmocka_unit_test(test_sphere_broken),
      cmocka_unit_test(test_draw),                  cmocka_unit_test(test_errors_and_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
