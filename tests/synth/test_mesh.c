/* test_mesh.c - mesh cleaning (weld, degenerate faces), midpoint refinement, orientation,
 * normals, adjacency, area-uniform sampling and the closest point on a triangle.
 *
 * Oracles: brute-force restatements of the documented rules (welding), topology invariants
 * (every edge of a closed mesh in exactly two faces with opposite directions, Euler characteristic
 * 2), closed-form areas and normals of a box, brute-force distances to the unrefined surface, a
 * chi-square test of face frequencies, and a dense barycentric grid for closest points.
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

/* A box [0, sx] x [0, sy] x [0, sz], 8 vertices, 12 outward triangles. */
static void make_box(mesh_t *m, double sx, double sy, double sz) {
  memset(m, 0, sizeof *m);
  for (int i = 0; i < 8; i++)
    assert_int_equal(mesh_push_vertex(m, (i & 1) * sx, (i >> 1 & 1) * sy, (i >> 2 & 1) * sz), AD3D_OK);
  static const int q[6][4] = {{0, 2, 3, 1}, {4, 5, 7, 6}, {0, 1, 5, 4}, {2, 6, 7, 3}, {0, 4, 6, 2}, {1, 3, 7, 5}};
  for (int k = 0; k < 6; k++) {
    assert_int_equal(mesh_push_face(m, q[k][0], q[k][1], q[k][2]), AD3D_OK);
    assert_int_equal(mesh_push_face(m, q[k][0], q[k][2], q[k][3]), AD3D_OK);
  }
}

static double signed_volume(const mesh_t *m) {
  double v = 0;
  for (int64_t k = 0; k < m->nf; k++) {
    const double *a = m->v + 3 * m->f[3 * k], *b = m->v + 3 * m->f[3 * k + 1], *c = m->v + 3 * m->f[3 * k + 2];
    v += a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0]) + a[2] * (b[0] * c[1] - b[1] * c[0]);
  }
  return v / 6.0;
}

/* Every undirected edge in exactly two faces, once in each direction (brute force); returns E. */
static int64_t assert_closed_oriented(const mesh_t *m) {
  int64_t ne = 0;
  for (int64_t h = 0; h < 3 * m->nf; h++) {
    int32_t a = m->f[h], b = m->f[h / 3 * 3 + (h % 3 + 1) % 3];
    int same = 0, opposite = 0;
    for (int64_t g = 0; g < 3 * m->nf; g++) {
      int32_t c = m->f[g], d = m->f[g / 3 * 3 + (g % 3 + 1) % 3];
      same += c == a && d == b;
      opposite += c == b && d == a;
    }
    if (same != 1 || opposite != 1)
      fail_msg("edge %d-%d: %d faces the same way, %d the other way", a, b, same, opposite);
    ne += a < b;
  }
  return ne;
}

static void test_weld(void **state) {
  (void)state;
  /* a soup box: 36 vertices, each jittered by less than 1e-4 */
  mesh_t box, soup = {0};
  make_box(&box, 1, 2, 3);
  rng_t r;
  rng_seed(&r, 3);
  for (int64_t k = 0; k < box.nf; k++) {
    for (int c = 0; c < 3; c++) {
      const double *p = box.v + 3 * box.f[3 * k + c];
      assert_int_equal(mesh_push_vertex(&soup, p[0] + 3e-5 * (rng_uniform(&r) - 0.5), p[1] + 3e-5 * rng_uniform(&r),
                                        p[2]),
                       AD3D_OK);
    }
    assert_int_equal(mesh_push_face(&soup, 3 * k, 3 * k + 1, 3 * k + 2), AD3D_OK);
  }
  mesh_t exact;
  assert_int_equal(mesh_copy(&exact, &soup), AD3D_OK);
  int64_t merged;
  assert_int_equal(mesh_weld(&exact, 0.0, &merged), AD3D_OK); /* nothing exactly equal */
  assert_int_equal(merged, 0);
  assert_int_equal(exact.nv, 36);
  assert_int_equal(mesh_weld(&soup, 1e-4, &merged), AD3D_OK);
  assert_int_equal(merged, 28);
  assert_int_equal(soup.nv, 8);
  assert_int_equal(soup.nf, 12);
  assert_closed_oriented(&soup);
  assert_true(fabs(mesh_area(&soup) - 22.0) < 1e-3);
  mesh_free(&soup);
  mesh_free(&exact);
  mesh_free(&box);

  /* the documented rule on a chain of points 0.6 apart, tol 1: brute force says who joins whom */
  mesh_t chain = {0};
  const double xs[] = {0.0, 0.6, 1.2, 1.8, 2.4, 0.3, 5.0};
  int n = 7;
  for (int i = 0; i < n; i++)
    assert_int_equal(mesh_push_vertex(&chain, xs[i], 0, 0), AD3D_OK);
  for (int i = 0; i < n; i++) /* faces that keep every vertex in use: (i, i, i) would be dropped */
    assert_int_equal(mesh_push_face(&chain, i, (i + 1) % n, (i + 2) % n), AD3D_OK);
  int rep[7];
  for (int i = 0; i < n; i++) {
    rep[i] = i;
    for (int j = 0; j < i; j++)
      if (rep[j] == j && fabs(xs[i] - xs[j]) <= 1.0) {
        rep[i] = j;
        break;
      }
  }
  /* 0 kept, 0.6 -> 0, 1.2 kept (0 is too far, 0.6 is not kept), 1.8 -> 1.2, 2.4 kept, 0.3 -> 0,
   * 5.0 kept; the faces (0 0 2) (0 2 2) (2 2 4) (2 4 0) (4 0 6) (0 6 0) (6 0 0) keep two faces */
  assert_int_equal(rep[1], 0);
  assert_int_equal(rep[3], 2);
  assert_int_equal(rep[4], 4);
  assert_int_equal(mesh_weld(&chain, 1.0, &merged), AD3D_OK);
  assert_int_equal(merged, 3);
  assert_int_equal(chain.nv, 4);
  assert_int_equal(chain.nf, 2);
  const double kept[4] = {0.0, 1.2, 2.4, 5.0};
  for (int i = 0; i < 4; i++)
    assert_true(chain.v[3 * i] == kept[i]);
  mesh_free(&chain);
}

static void test_drop_degenerate(void **state) {
  (void)state;
  mesh_t m = {0};
  const double v[][3] = {{0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {2, 0, 0}, {9, 9, 9}, {0, 0, 1}};
  for (int i = 0; i < 6; i++)
    assert_int_equal(mesh_push_vertex(&m, v[i][0], v[i][1], v[i][2]), AD3D_OK);
  assert_int_equal(mesh_push_face(&m, 0, 1, 2), AD3D_OK); /* kept */
  assert_int_equal(mesh_push_face(&m, 0, 1, 3), AD3D_OK); /* collinear: zero area */
  assert_int_equal(mesh_push_face(&m, 2, 2, 1), AD3D_OK); /* repeats a vertex */
  assert_int_equal(mesh_push_face(&m, 0, 5, 1), AD3D_OK); /* kept */
  int64_t dropped;
  assert_int_equal(mesh_drop_degenerate(&m, 0.0, &dropped), AD3D_OK);
  assert_int_equal(dropped, 2);
  assert_int_equal(m.nf, 2);
  assert_int_equal(m.nv, 4); /* vertices 3 (only in the dropped face) and 4 (unused) are gone */
  const int32_t f[6] = {0, 1, 2, 0, 3, 1};
  assert_memory_equal(m.f, f, sizeof f);
  assert_true(m.v[9] == 0 && m.v[10] == 0 && m.v[11] == 1);
  /* a minimum area drops small faces too */
  assert_int_equal(mesh_drop_degenerate(&m, 0.6, &dropped), AD3D_OK);
  assert_int_equal(dropped, 2);
  assert_int_equal(m.nf, 0);
  assert_int_equal(m.nv, 0);
  mesh_free(&m);
  mesh_free(&m);
}

/* Distance from p to the nearest face of m (brute force). */
static double surface_distance(const mesh_t *m, const double *p) {
  double best = INFINITY;
  for (int64_t k = 0; k < m->nf; k++) {
    double d = triangle_closest(p, m->v + 3 * m->f[3 * k], m->v + 3 * m->f[3 * k + 1], m->v + 3 * m->f[3 * k + 2], NULL);
    best = d < best ? d : best;
  }
  return sqrt(best);
}

static void test_refine_uniform(void **state) {
  (void)state;
  mesh_t box, m;
  make_box(&box, 1, 2, 3);
  assert_int_equal(mesh_copy(&m, &box), AD3D_OK);
  assert_int_equal(mesh_refine(&m, 0.35, NULL, NULL, 1000000), AD3D_OK);
  assert_true(mesh_max_edge(&m) <= 0.35);
  assert_true(m.nf > 200);
  assert_true(fabs(mesh_area(&m) - 22.0) < 1e-9);
  assert_true(fabs(signed_volume(&m) - 6.0) < 1e-9);
  int64_t ne = assert_closed_oriented(&m); /* conforming: no T-junctions, orientation kept */
  assert_int_equal(m.nv - ne + m.nf, 2);
  for (int64_t i = 0; i < m.nv; i++)
    assert_true(surface_distance(&box, m.v + 3 * i) < 1e-12);
  /* already fine enough: nothing changes */
  int64_t nf = m.nf;
  assert_int_equal(mesh_refine(&m, 0.35, NULL, NULL, 1000000), AD3D_OK);
  assert_int_equal(m.nf, nf);
  /* the face guard and a bad target */
  assert_int_equal(mesh_refine(&m, 0.01, NULL, NULL, 100000), AD3D_EINVAL);
  assert_non_null(strstr(ad3d_errmsg(), "100000 faces"));
  assert_int_equal(mesh_refine(&m, 0.0, NULL, NULL, 100000), AD3D_EINVAL);
  mesh_free(&m);
  mesh_free(&box);
}

typedef struct {
  double c[3], r;
} ball;

static int in_ball(const double a[3], const double b[3], const double c[3], void *ctx) {
  const ball *bl = ctx;
  return triangle_closest(bl->c, a, b, c, NULL) <= bl->r * bl->r;
}

static void test_refine_region(void **state) {
  (void)state;
  mesh_t m;
  make_box(&m, 1, 1, 1);
  ball bl = {{0.5, 0.5, 1.0}, 0.2}; /* inside the top face: no vertex of the box is near it */
  assert_int_equal(mesh_refine(&m, 0.05, in_ball, &bl, 1000000), AD3D_OK);
  int64_t ne = assert_closed_oriented(&m);
  assert_int_equal(m.nv - ne + m.nf, 2);
  assert_true(fabs(mesh_area(&m) - 6.0) < 1e-12);
  for (int64_t k = 0; k < m.nf; k++) {
    const int32_t *t = m.f + 3 * k;
    const double *a = m.v + 3 * t[0], *b = m.v + 3 * t[1], *c = m.v + 3 * t[2];
    double e = 0;
    for (int j = 0; j < 3; j++) {
      const double *p = m.v + 3 * t[j], *q = m.v + 3 * t[(j + 1) % 3];
      double d = sqrt((p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1]) + (p[2] - q[2]) * (p[2] - q[2]));
      e = d > e ? d : e;
    }
    if (in_ball(a, b, c, &bl))
      assert_true(e <= 0.05);
    if (a[2] < 0.5 && b[2] < 0.5 && c[2] < 0.5) /* the bottom face is far away: untouched */
      assert_true(e > 1.0);
  }
  mesh_free(&m);
}

static void test_orient(void **state) {
  (void)state;
  mesh_t m, ref;
  make_box(&ref, 1, 2, 3);
  assert_int_equal(mesh_refine(&ref, 0.5, NULL, NULL, 1000000), AD3D_OK);
  assert_int_equal(mesh_copy(&m, &ref), AD3D_OK);
  rng_t r;
  rng_seed(&r, 11);
  int64_t nflip = 0;
  for (int64_t k = 0; k < m.nf; k++)
    if (rng_uniform(&r) < 0.4) {
      int32_t s = m.f[3 * k + 1];
      m.f[3 * k + 1] = m.f[3 * k + 2];
      m.f[3 * k + 2] = s;
      nflip++;
    }
  int64_t flipped;
  assert_int_equal(mesh_orient(&m, &flipped), AD3D_OK);
  assert_int_equal(flipped, nflip);
  assert_memory_equal(m.f, ref.f, (size_t)m.nf * 3 * sizeof *m.f);
  /* all faces inside out: the signed volume brings them back */
  for (int64_t k = 0; k < m.nf; k++) {
    int32_t s = m.f[3 * k + 1];
    m.f[3 * k + 1] = m.f[3 * k + 2];
    m.f[3 * k + 2] = s;
  }
  assert_int_equal(mesh_orient(&m, &flipped), AD3D_OK);
  assert_int_equal(flipped, m.nf);
  assert_true(signed_volume(&m) > 5.99);
  /* a mirror transform keeps the orientation outward */
  const double A[9] = {-1, 0, 0, 0, 1, 0, 0, 0, 1}, t[3] = {0, 0, 0};
  mesh_transform(&m, A, t);
  assert_true(signed_volume(&m) > 5.99);
  mesh_free(&m);
  mesh_free(&ref);
}

static void test_normals_adjacency(void **state) {
  (void)state;
  mesh_t m;
  make_box(&m, 1, 1, 1);
  assert_int_equal(mesh_refine(&m, 0.3, NULL, NULL, 1000000), AD3D_OK);
  double *n = malloc((size_t)m.nv * 3 * sizeof *n);
  mesh_vertex_normals(&m, n);
  for (int64_t i = 0; i < m.nv; i++) {
    const double *p = m.v + 3 * i;
    int on_face = 0, axis = -1;
    for (int a = 0; a < 3; a++)
      if (p[a] == 0.0 || p[a] == 1.0) {
        on_face++;
        axis = a;
      }
    if (on_face != 1)
      continue; /* edges and corners mix faces */
    for (int a = 0; a < 3; a++)
      assert_true(fabs(n[3 * i + a] - (a == axis ? (p[a] == 1.0 ? 1.0 : -1.0) : 0.0)) < 1e-12);
  }
  free(n);
  mesh_adjacency adj;
  assert_int_equal(mesh_adjacency_build(&m, &adj), AD3D_OK);
  for (int64_t i = 0; i < m.nv; i++) {
    int64_t want = 0;
    for (int32_t j = 0; j < m.nv; j++) {
      int nb = 0;
      for (int64_t k = 0; k < m.nf && !nb; k++)
        for (int e = 0; e < 3; e++) {
          int32_t a = m.f[3 * k + e], b = m.f[3 * k + (e + 1) % 3];
          nb |= (a == i && b == j) || (a == j && b == i);
        }
      if (!nb)
        continue;
      assert_true(adj.start[i] + want < adj.start[i + 1]);
      assert_int_equal(adj.nbr[adj.start[i] + want], j); /* sorted, no duplicates */
      want++;
    }
    assert_int_equal(adj.start[i + 1] - adj.start[i], want);
  }
  mesh_adjacency_free(&adj);
  mesh_adjacency_free(&adj);
  mesh_free(&m);
}

static void test_sampler(void **state) {
  (void)state;
  /* two faces with areas 1 and 3 */
  mesh_t m = {0};
  const double v[][3] = {{0, 0, 0}, {2, 0, 0}, {0, 1, 0}, {0, 0, 1}, {0, 3, 1}, {0, 0, 3}};
  for (int i = 0; i < 6; i++)
    assert_int_equal(mesh_push_vertex(&m, v[i][0], v[i][1], v[i][2]), AD3D_OK);
  assert_int_equal(mesh_push_face(&m, 0, 1, 2), AD3D_OK);
  assert_int_equal(mesh_push_face(&m, 3, 4, 5), AD3D_OK);
  mesh_sampler s;
  assert_int_equal(mesh_sampler_init(&s, &m), AD3D_OK);
  assert_true(fabs(s.area - 4.0) < 1e-12);
  enum { N = 40000 };
  double *xyz = malloc(N * 3 * sizeof *xyz), *nrm = malloc(N * 3 * sizeof *nrm), *bary = malloc(N * 3 * sizeof *bary);
  int32_t *face = malloc(N * sizeof *face);
  rng_t r;
  rng_seed(&r, 5);
  mesh_sampler_draw(&s, N, &r, xyz, nrm, face, bary);
  int64_t count[2] = {0, 0}, left = 0;
  for (int i = 0; i < N; i++) {
    count[face[i]]++;
    const double *w = bary + 3 * i;
    assert_true(w[0] >= 0 && w[1] >= 0 && w[2] >= 0 && fabs(w[0] + w[1] + w[2] - 1) < 1e-12);
    const int32_t *t = m.f + 3 * face[i];
    for (int a = 0; a < 3; a++)
      assert_true(fabs(xyz[3 * i + a] - (w[0] * m.v[3 * t[0] + a] + w[1] * m.v[3 * t[1] + a] + w[2] * m.v[3 * t[2] + a])) <
                  1e-12);
    assert_true(face[i] == 0 ? nrm[3 * i + 2] == 1.0 : nrm[3 * i] == 1.0);
    if (face[i] == 0)
      left += xyz[3 * i] < 1.0; /* the part of face 0 with x < 1 has 3/4 of its area */
  }
  double p = 0.25;
  assert_true(fabs(count[0] - p * N) < 4 * sqrt(p * (1 - p) * N));
  assert_true(fabs(left - 0.75 * count[0]) < 4 * sqrt(0.75 * 0.25 * count[0]));
  mesh_sampler_free(&s);
  mesh_sampler_free(&s);
  free(xyz);
  free(nrm);
  free(bary);
  free(face);
  /* zero area */
  mesh_t flat = {0};
  for (int i = 0; i < 3; i++)
    assert_int_equal(mesh_push_vertex(&flat, i, i, i), AD3D_OK);
  assert_int_equal(mesh_push_face(&flat, 0, 1, 2), AD3D_OK);
  assert_int_equal(mesh_sampler_init(&s, &flat), AD3D_EINVAL);
  mesh_free(&flat);
  mesh_free(&m);
}

static void test_triangle_closest(void **state) {
  (void)state;
  rng_t r;
  rng_seed(&r, 17);
  for (int trial = 0; trial < 300; trial++) {
    double t[3][3], p[3], q[3];
    for (int i = 0; i < 3; i++)
      for (int a = 0; a < 3; a++)
        t[i][a] = 2 * rng_uniform(&r) - 1;
    if (trial % 50 == 0) /* degenerate triangles too */
      memcpy(t[2], t[1], sizeof t[1]);
    for (int a = 0; a < 3; a++)
      p[a] = 3 * rng_uniform(&r) - 1.5;
    double d = triangle_closest(p, t[0], t[1], t[2], q);
    const int G = 300;
    double best = INFINITY;
    for (int i = 0; i <= G; i++)
      for (int j = 0; i + j <= G; j++) {
        double u = (double)i / G, v = (double)j / G, x[3], e = 0;
        for (int a = 0; a < 3; a++) {
          x[a] = (1 - u - v) * t[0][a] + u * t[1][a] + v * t[2][a];
          e += (x[a] - p[a]) * (x[a] - p[a]);
        }
        best = e < best ? e : best;
      }
    /* exact answer <= grid answer <= exact answer + grid spacing */
    assert_true(sqrt(d) <= sqrt(best) + 1e-12);
    assert_true(sqrt(best) <= sqrt(d) + 4.0 / G);
    double dq = (q[0] - p[0]) * (q[0] - p[0]) + (q[1] - p[1]) * (q[1] - p[1]) + (q[2] - p[2]) * (q[2] - p[2]);
    assert_true(fabs(dq - d) < 1e-12);
  }
}

static void test_edge_map(void **state) {
  (void)state;
  edge_map e;
  assert_int_equal(edge_map_init(&e, 4), AD3D_OK);
  for (int32_t i = 0; i < 5000; i++)
    assert_int_equal(edge_map_set(&e, i, (i * 7919) % 5003, i), AD3D_OK);
  for (int32_t i = 0; i < 5000; i++)
    assert_int_equal(edge_map_get(&e, (i * 7919) % 5003, i), i); /* symmetric */
  assert_int_equal(edge_map_get(&e, 1, 2), -1);
  assert_int_equal(edge_map_set(&e, 0, 0, 42), AD3D_OK);
  assert_int_equal(edge_map_get(&e, 0, 0), 42);
  assert_int_equal(e.n, 5000);
  edge_map_free(&e);
  edge_map_free(&e);
}

/* Nearest face, "within r" and ray hits of the hierarchy equal brute force over all faces. */
static void test_bvh(void **state) {
  (void)state;
  mesh_t m = {0};
  rng_t r;
  rng_seed(&r, 23);
  for (int k = 0; k < 700; k++) { /* a soup of small and a few large triangles */
    double c[3], s = k % 100 == 0 ? 1.5 : 0.08;
    for (int a = 0; a < 3; a++)
      c[a] = 2 * rng_uniform(&r) - 1;
    for (int j = 0; j < 3; j++)
      assert_int_equal(mesh_push_vertex(&m, c[0] + s * rng_normal(&r), c[1] + s * rng_normal(&r),
                                        c[2] + s * rng_normal(&r)),
                       AD3D_OK);
    assert_int_equal(mesh_push_face(&m, 3 * k, 3 * k + 1, 3 * k + 2), AD3D_OK);
  }
  mesh_bvh b;
  assert_int_equal(mesh_bvh_build(&b, &m), AD3D_OK);
  for (int q = 0; q < 400; q++) {
    double p[3], d[3];
    for (int a = 0; a < 3; a++) {
      p[a] = 3 * rng_uniform(&r) - 1.5;
      d[a] = rng_normal(&r);
    }
    double best = INFINITY, hit = INFINITY;
    int64_t bf = -1;
    for (int64_t k = 0; k < m.nf; k++) {
      const int32_t *t = m.f + 3 * k;
      double e = triangle_closest(p, m.v + 3 * t[0], m.v + 3 * t[1], m.v + 3 * t[2], NULL);
      if (e < best) {
        best = e;
        bf = k;
      }
      /* ray: solve o + t d = a + u (b - a) + v (c - a) by Cramer's rule */
      const double *A = m.v + 3 * t[0], *B = m.v + 3 * t[1], *C = m.v + 3 * t[2];
      double e1[3], e2[3], rhs[3];
      for (int a = 0; a < 3; a++) {
        e1[a] = B[a] - A[a];
        e2[a] = C[a] - A[a];
        rhs[a] = p[a] - A[a];
      }
      /* columns: -d, e1, e2 */
      double M[3][3];
      for (int a = 0; a < 3; a++) {
        M[a][0] = -d[a];
        M[a][1] = e1[a];
        M[a][2] = e2[a];
      }
      double det = M[0][0] * (M[1][1] * M[2][2] - M[1][2] * M[2][1]) - M[0][1] * (M[1][0] * M[2][2] - M[1][2] * M[2][0]) +
                   M[0][2] * (M[1][0] * M[2][1] - M[1][1] * M[2][0]);
      double sol[3];
      for (int c = 0; c < 3; c++) {
        double N[3][3];
        memcpy(N, M, sizeof N);
        for (int a = 0; a < 3; a++)
          N[a][c] = rhs[a];
        sol[c] = (N[0][0] * (N[1][1] * N[2][2] - N[1][2] * N[2][1]) - N[0][1] * (N[1][0] * N[2][2] - N[1][2] * N[2][0]) +
                  N[0][2] * (N[1][0] * N[2][1] - N[1][1] * N[2][0])) /
                 det;
      }
      if (sol[0] > 0 && sol[1] >= 0 && sol[2] >= 0 && sol[1] + sol[2] <= 1 && sol[0] < hit)
        hit = sol[0];
    }
    int64_t f;
    double got = mesh_bvh_nearest(&b, p, INFINITY, &f);
    assert_true(fabs(got - best) <= 1e-12 * (1 + best));
    assert_int_equal(f, bf);
    double rb = sqrt(best);
    assert_true(mesh_bvh_within(&b, p, rb * 1.000001));
    assert_false(mesh_bvh_within(&b, p, rb * 0.999999));
    assert_true(mesh_bvh_nearest(&b, p, rb * 0.999999, &f) == INFINITY && f == -1);
    double h = mesh_bvh_ray(&b, p, d, 0.0, INFINITY);
    if (isinf(hit))
      assert_true(isinf(h));
    else
      assert_true(fabs(h - hit) < 1e-9 * (1 + hit));
    assert_true(isinf(mesh_bvh_ray(&b, p, d, 0.0, isinf(hit) ? 1.0 : 0.999 * hit)));
  }
  mesh_bvh_free(&b);
  mesh_bvh_free(&b);
  mesh_t empty = {0};
  assert_int_equal(mesh_bvh_build(&b, &empty), AD3D_OK);
  double p[3] = {0, 0, 0};
  assert_true(isinf(mesh_bvh_nearest(&b, p, INFINITY, NULL)));
  assert_false(mesh_bvh_within(&b, p, 10));
  mesh_bvh_free(&b);
  mesh_free(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_weld),           cmocka_unit_test(test_drop_degenerate),
      cmocka_unit_test(test_refine_uniform), cmocka_unit_test(test_refine_region),
      cmocka_unit_test(test_orient),         cmocka_unit_test(test_normals_adjacency),
      cmocka_unit_test(test_sampler),        cmocka_unit_test(test_triangle_closest),
      cmocka_unit_test(test_edge_map),       cmocka_unit_test(test_bvh),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
