/* test_corpus.c - the "shapes:N" pre-training corpus is synth's corpus of the 40 procedural families:
 * object i's points lie on the mesh of synth corpus shape i (the same seed), not on another family's,
 * and the corpus spans the families.
 *
 * Oracle: a dense area-uniform sample (40000 points) of synth_corpus_mesh(seed, i), put through the same
 * unit-sphere normalisation, and brute-force nearest-neighbour distances from the corpus points to it.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nn/data.h"
#include "synth/synth.h"

enum { NP = 1024, ND = 40000 };

/* pc_normalize'd dense sample of corpus mesh i (seed) into out (ND, 3); its family in *family. */
static void dense_shape(uint64_t seed, int64_t i, float *out, const char **family) {
  mesh_t m;
  mesh_sampler ms;
  assert_int_equal(synth_corpus_mesh(seed, i, &m, family), AD3D_OK);
  assert_int_equal(mesh_sampler_init(&ms, &m), AD3D_OK);
  double *xyz = malloc(sizeof *xyz * ND * 3);
  rng_t r;
  rng_seed(&r, 99);
  mesh_sampler_draw(&ms, ND, &r, xyz, NULL, NULL, NULL);
  for (int k = 0; k < 3 * ND; k++)
    out[k] = (float)xyz[k];
  pc_normalize(out, ND);
  free(xyz);
  mesh_sampler_free(&ms);
  mesh_free(&m);
}

/* Mean over the points a (NP) of the distance to the nearest of b (ND), brute force. */
static double mean_nn(const float *a, const float *b) {
  double sum = 0;
  for (int p = 0; p < NP; p++) {
    double best = INFINITY;
    for (int q = 0; q < ND; q++) {
      double d = 0;
      for (int k = 0; k < 3; k++)
        d += ((double)a[3 * p + k] - b[3 * q + k]) * ((double)a[3 * p + k] - b[3 * q + k]);
      best = d < best ? d : best;
    }
    sum += sqrt(best);
  }
  return sum / NP;
}

static void test_shapes_on_their_meshes(void **unused) {
  (void)unused;
  corpus *c = NULL;
  assert_int_equal(corpus_open("shapes:50:7", &c), AD3D_OK);
  float *pts = malloc(sizeof *pts * NP * 3), *own = malloc(sizeof *own * ND * 3), *other = malloc(sizeof *other * ND * 3);
  for (int64_t i = 0; i < 3; i++) {
    rng_t r;
    rng_seed(&r, (uint64_t)i + 1);
    assert_int_equal(corpus_sample(c, i, NP, &r, pts), AD3D_OK);
    const char *fam, *fam2 = NULL;
    dense_shape(7, i, own, &fam);
    int64_t j = i + 1;
    for (; j < 50; j++) { /* the next object of another family */
      dense_shape(7, j, other, &fam2);
      if (strcmp(fam, fam2))
        break;
    }
    assert_true(j < 50);
    double d_own = mean_nn(pts, own), d_other = mean_nn(pts, other);
    /* on its own surface up to the dense sample's spacing (~0.01) and the two normalisations' difference */
    if (!(d_own < 0.02 && d_other > 3 * d_own))
      fail_msg("object %lld (%s): mean distance %.4f to its mesh, %.4f to object %lld (%s)", (long long)i, fam, d_own,
               d_other, (long long)j, fam2);
  }
  free(pts);
  free(own);
  free(other);
  corpus_free(c);
}

static void test_shapes_span_the_families(void **unused) {
  (void)unused;
  int nfam = 0;
  const char *seen[64];
  for (int64_t i = 0; i < 400; i++) {
    mesh_t m;
    const char *fam;
    assert_int_equal(synth_corpus_mesh(0, i, &m, &fam), AD3D_OK);
    mesh_free(&m);
    int k = 0;
    while (k < nfam && strcmp(seen[k], fam))
      k++;
    if (k == nfam && nfam < 64)
      seen[nfam++] = fam;
  }
  if (nfam < 35)
    fail_msg("400 corpus shapes come from only %d families", nfam);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shapes_on_their_meshes),
      cmocka_unit_test(test_shapes_span_the_families),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
