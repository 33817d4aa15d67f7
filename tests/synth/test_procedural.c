/* test_procedural.c - the 40 procedural families: the Anomaly-ShapeNet class names in order, and
 * every instance (parameters at both ends of their ranges and in the middle) a set of closed,
 * outward-oriented surfaces normalised to a bounding-box diagonal of 1.
 *
 * Oracles: topology by brute force over sorted directed edges (every edge of a closed surface
 * appears once in each direction), the signed volume of every connected part (positive when the
 * part faces outwards), the bounding box computed here.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "synth/procedural.h"

static const char *const design_classes[] = {
    "ashtray0", "bag0",   "bottle0", "bottle1",  "bottle3",  "bowl0",   "bowl1",   "bowl2",       "bowl3",  "bowl4",
    "bowl5",    "bucket0", "bucket1", "cap0",    "cap3",     "cap4",    "cap5",    "cup0",        "cup1",   "eraser0",
    "headset0", "headset1", "helmet0", "helmet1", "helmet2", "helmet3", "jar0",    "microphone0", "shelf0", "tap0",
    "tap1",     "vase0",  "vase1",   "vase2",    "vase3",    "vase4",   "vase5",   "vase7",       "vase8",  "vase9"};

static void test_names(void **state) {
  (void)state;
  int n = 0;
  for (; proc_families[n].name; n++) {
    assert_true(n < 40);
    assert_string_equal(proc_families[n].name, design_classes[n]);
    assert_true(proc_families[n].nparams >= 1 && proc_families[n].nparams <= PROC_MAX_PARAMS);
    assert_true(proc_family_find(design_classes[n]) == &proc_families[n]);
    assert_non_null(proc_families[n].style);
  }
  assert_int_equal(n, PROC_NFAMILIES);
  assert_null(proc_family_find("teapot"));
}

typedef struct {
  int32_t a, b;
} dedge;

static int dedge_cmp(const void *x, const void *y) {
  const dedge *p = x, *q = y;
  if (p->a != q->a)
    return p->a < q->a ? -1 : 1;
  return (p->b > q->b) - (p->b < q->b);
}

static int32_t find(int32_t *parent, int32_t i) {
  while (parent[i] != i)
    i = parent[i] = parent[parent[i]];
  return i;
}

/* Closed and consistently oriented: each directed edge once, its reverse once; and every connected
 * part has a positive signed volume. Returns the number of parts. */
static int check_closed_outward(const char *name, const mesh_t *m) {
  int64_t ne = 3 * m->nf;
  dedge *e = malloc((size_t)ne * sizeof *e);
  for (int64_t h = 0; h < ne; h++) {
    e[h].a = m->f[h];
    e[h].b = m->f[h / 3 * 3 + (h % 3 + 1) % 3];
  }
  qsort(e, (size_t)ne, sizeof *e, dedge_cmp);
  for (int64_t h = 0; h < ne; h++) {
    if (h > 0 && !dedge_cmp(&e[h], &e[h - 1]))
      fail_msg("%s: directed edge %d-%d twice (not oriented or not manifold)", name, e[h].a, e[h].b);
    dedge r = {e[h].b, e[h].a};
    if (!bsearch(&r, e, (size_t)ne, sizeof *e, dedge_cmp))
      fail_msg("%s: edge %d-%d has no opposite (an open boundary)", name, e[h].a, e[h].b);
  }
  free(e);
  int32_t *parent = malloc((size_t)m->nv * sizeof *parent);
  for (int32_t i = 0; i < m->nv; i++)
    parent[i] = i;
  for (int64_t k = 0; k < m->nf; k++)
    for (int c = 1; c < 3; c++) {
      int32_t x = find(parent, m->f[3 * k]), y = find(parent, m->f[3 * k + c]);
      if (x != y)
        parent[x] = y;
    }
  double *vol = calloc((size_t)m->nv, sizeof *vol);
  for (int64_t k = 0; k < m->nf; k++) {
    const double *a = m->v + 3 * m->f[3 * k], *b = m->v + 3 * m->f[3 * k + 1], *c = m->v + 3 * m->f[3 * k + 2];
    vol[find(parent, m->f[3 * k])] += (a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0]) +
                                       a[2] * (b[0] * c[1] - b[1] * c[0])) / 6.0;
  }
  int parts = 0;
  for (int32_t i = 0; i < m->nv; i++)
    if (find(parent, i) == i) {
      parts++;
      if (!(vol[i] > 0))
        fail_msg("%s: a part has signed volume %g (inside out)", name, vol[i]);
    }
  free(parent);
  free(vol);
  return parts;
}

static void test_instances(void **state) {
  (void)state;
  for (int i = 0; proc_families[i].name; i++) {
    const proc_family *f = &proc_families[i];
    for (int level = 0; level < 3; level++) {
      double u[PROC_MAX_PARAMS];
      for (int j = 0; j < f->nparams; j++)
        u[j] = 0.5 * level;
      mesh_t m;
      if (proc_build(f, u, &m) != AD3D_OK)
        fail_msg("%s: %s", f->name, ad3d_errmsg());
      char name[64];
      snprintf(name, sizeof name, "%s at u = %.1f", f->name, 0.5 * level);
      assert_int_equal(mesh_validate(&m, name), AD3D_OK);
      assert_true(m.nf >= 12 && m.nf < 200000);
      int parts = check_closed_outward(name, &m);
      assert_true(parts >= 1);
      double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
      for (int64_t k = 0; k < 3 * m.nv; k++) {
        lo[k % 3] = fmin(lo[k % 3], m.v[k]);
        hi[k % 3] = fmax(hi[k % 3], m.v[k]);
      }
      double diag = sqrt((hi[0] - lo[0]) * (hi[0] - lo[0]) + (hi[1] - lo[1]) * (hi[1] - lo[1]) +
                         (hi[2] - lo[2]) * (hi[2] - lo[2]));
      if (fabs(diag - 1.0) > 1e-12)
        fail_msg("%s: diagonal %.15f", name, diag);
      for (int a = 0; a < 3; a++)
        assert_true(fabs(lo[a] + hi[a]) < 1e-12);
      double n[3];
      for (int64_t k = 0; k < m.nf; k++)
        assert_true(mesh_face_normal(&m, k, n) > 0);
      mesh_free(&m);
    }
  }
}

static void test_params(void **state) {
  (void)state;
  const proc_family *f = proc_family_find("vase9");
  rng_t cls, i1, i2;
  rng_seed(&cls, 3);
  rng_seed(&i1, 4);
  rng_seed(&i2, 5);
  double a[PROC_MAX_PARAMS], b[PROC_MAX_PARAMS], c0[PROC_MAX_PARAMS];
  proc_instance_params(f, &cls, 0.0, &i1, c0);
  proc_instance_params(f, &cls, 0.0, &i2, b); /* no variation: the class centre whatever the instance */
  assert_memory_equal(c0, b, (size_t)f->nparams * sizeof *b);
  proc_instance_params(f, &cls, 0.05, &i1, a);
  int differ = 0;
  for (int j = 0; j < f->nparams; j++) {
    assert_true(c0[j] >= 0.2 && c0[j] <= 0.8);
    assert_true(a[j] >= 0 && a[j] <= 1);
    assert_true(fabs(a[j] - c0[j]) < 0.05 * 6);
    differ |= a[j] != c0[j];
  }
  assert_true(differ);
  /* the same parameters build the same mesh */
  mesh_t m1, m2;
  assert_int_equal(proc_build(f, a, &m1), AD3D_OK);
  assert_int_equal(proc_build(f, a, &m2), AD3D_OK);
  assert_int_equal(m1.nv, m2.nv);
  assert_memory_equal(m1.v, m2.v, (size_t)m1.nv * 3 * sizeof *m1.v);
  mesh_free(&m1);
  mesh_free(&m2);
  /* corpus draws cover the families */
  rng_t r;
  rng_seed(&r, 8);
  int seen[PROC_NFAMILIES] = {0};
  for (int k = 0; k < 2000; k++) {
    const proc_family *g;
    proc_corpus_params(&r, &g, a);
    seen[g - proc_families]++;
    for (int j = 0; j < g->nparams; j++)
      assert_true(a[j] >= 0 && a[j] < 1);
  }
  for (int k = 0; k < PROC_NFAMILIES; k++)
    assert_true(seen[k] > 20);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_instances),
      cmocka_unit_test(test_params),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
