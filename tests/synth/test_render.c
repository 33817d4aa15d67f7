/* test_render.c - the PNG writer and the splat renderer.
 *
 * Oracle for the PNG writer: tests/synth/png_decode.py, a decoder written with Python's struct and
 * zlib only (it checks CRCs, the zlib stream and undoes the row filters); its pixels must equal the
 * image we wrote, for noise, flat areas, long runs and odd sizes. Oracle for the renderer: pixel
 * positions and colours worked out by hand from the projection (the depth buffer keeps the nearer
 * point; shading darkens with depth).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/rng.h"
#include "common/util.h"
#include "synth/render.h"

static char dir[64];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/ad3d_test_render.XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  return remove_tree(dir) == AD3D_OK ? 0 : -1;
}

/* Decode path with the Python decoder; returns the pixels (w x h x 3, malloc'ed). */
static uint8_t *decode(const char *path, int *w, int *h) {
  char ppm[128], cmd[512];
  snprintf(ppm, sizeof ppm, "%s/decoded.ppm", dir);
  snprintf(cmd, sizeof cmd, "%s %s/png_decode.py %s %s", AD3D_PYTHON, AD3D_TEST_DIR, path, ppm);
  if (system(cmd) != 0)
    fail_msg("decoder failed on %s", path);
  FILE *f = fopen(ppm, "rb");
  assert_non_null(f);
  assert_int_equal(fscanf(f, "P6 %d %d 255", w, h), 2);
  fgetc(f);
  size_t n = (size_t)*w * *h * 3;
  uint8_t *px = malloc(n);
  assert_int_equal(fread(px, 1, n, f), n);
  fclose(f);
  return px;
}

static void roundtrip(const image_t *im) {
  char path[128];
  snprintf(path, sizeof path, "%s/im.png", dir);
  assert_int_equal(png_write(path, im), AD3D_OK);
  int w, h;
  uint8_t *px = decode(path, &w, &h);
  assert_int_equal(w, im->width);
  assert_int_equal(h, im->height);
  assert_memory_equal(px, im->rgb, (size_t)w * h * 3);
  free(px);
}

static void test_png_roundtrip(void **state) {
  (void)state;
  image_t im;
  rng_t r;
  rng_seed(&r, 9);
  /* noise, flat areas and a gradient */
  assert_int_equal(image_alloc(&im, 97, 61, 255, 255, 255), AD3D_OK);
  for (int y = 0; y < 61; y++)
    for (int x = 0; x < 97; x++) {
      uint8_t *p = im.rgb + 3 * (y * 97 + x);
      if (x < 30)
        for (int c = 0; c < 3; c++)
          p[c] = (uint8_t)rng_below(&r, 256);
      else if (x > 70)
        for (int c = 0; c < 3; c++)
          p[c] = (uint8_t)(x * 3 + y * 5 + c * 70);
      else if (y > 40)
        p[0] = 10;
    }
  roundtrip(&im);
  image_free(&im);
  /* one pixel; a long flat row (runs longer than 258 bytes); a single column */
  assert_int_equal(image_alloc(&im, 1, 1, 1, 2, 3), AD3D_OK);
  roundtrip(&im);
  image_free(&im);
  assert_int_equal(image_alloc(&im, 3000, 3, 40, 50, 60), AD3D_OK);
  im.rgb[3 * 4500] = 7;
  roundtrip(&im);
  image_free(&im);
  assert_int_equal(image_alloc(&im, 1, 500, 0, 0, 0), AD3D_OK);
  for (int y = 0; y < 500; y++)
    im.rgb[3 * y + 1] = (uint8_t)(y % 7);
  roundtrip(&im);
  image_free(&im);
  assert_int_equal(image_alloc(&im, 0, 5, 0, 0, 0), AD3D_EINVAL);
  image_t bad = {2, 2, (uint8_t[12]){0}};
  assert_int_equal(png_write("/nonexistent/dir/x.png", &bad), AD3D_EIO);
}

static void expect_pixel(const uint8_t *px, int w, int x, int y, int r, int g, int b) {
  const uint8_t *p = px + 3 * (y * w + x);
  if (p[0] != r || p[1] != g || p[2] != b)
    fail_msg("pixel (%d, %d) is (%d, %d, %d), expected (%d, %d, %d)", x, y, p[0], p[1], p[2], r, g, b);
}

/* Looking along +y (azimuth 0, elevation 0): u = x, v = z, depth = y. Four corners at y = 0, a red
 * point near (y = -0.5) in front of a grey one far (y = 0.5) at the centre, and the reverse order
 * at (0.5, 0.5). Panel 101: scale 0.88 * 101 / 2, so x = 0 maps to column 50 and x = 1 to 94. */
static void test_render_sample(void **state) {
  (void)state;
  const float xyz[] = {-1, 0, -1, 1, 0, -1, -1, 0, 1, 1, 0, 1, /* corners */
                       0, -0.5f, 0, 0, 0.5f, 0,                 /* red near, grey far */
                       0.5f, 0.5f, 0.5f, 0.5f, -0.5f, 0.5f};    /* red far, grey near */
  const uint8_t labels[] = {0, 0, 0, 0, 1, 0, 1, 0};
  const float scores[] = {0, 0, 0, 0, 1, 0, 0.5f, 0};
  render_view v = {0, 0, 0};
  char path[128];
  snprintf(path, sizeof path, "%s/sample.png", dir);
  assert_int_equal(render_sample_png(path, xyz, 8, scores, labels, 101, &v), AD3D_OK);
  int w, h;
  uint8_t *px = decode(path, &w, &h);
  assert_int_equal(w, 202);
  assert_int_equal(h, 101);
  double s = 0.88 * 101 / 2;
  int cx = 50, c1 = (int)floor(50.5 + s), c0 = (int)floor(50.5 - s), ch = (int)floor(50.5 + 0.5 * s);
  int rh = (int)floor(50.5 - 0.5 * s);
  /* ground truth panel: red in front at the centre; grey in front at (0.5, 0.5) */
  expect_pixel(px, w, 101 + cx, cx, 230, 30, 30);
  expect_pixel(px, w, 101 + ch, rh, 170, 170, 170);
  /* corners at depth 0 of [-0.5, 0.5]: shade 0.75; top-right corner is (x 1, z 1) */
  expect_pixel(px, w, 101 + c1, c0, 128, 128, 128);
  expect_pixel(px, w, 101 + c0, c1, 128, 128, 128);
  /* score panel: the centre point has score 1 (jet red (128, 0, 0) at t = 1) */
  uint8_t jet[3];
  colormap_jet(1.0, jet);
  expect_pixel(px, w, cx, cx, jet[0], jet[1], jet[2]);
  colormap_jet(0.0, jet);
  expect_pixel(px, w, ch, rh, jet[0], jet[1], jet[2]);
  /* background and separator */
  expect_pixel(px, w, 5, 95, 255, 255, 255);
  expect_pixel(px, w, 101, 20, 200, 200, 200);
  free(px);

  /* no scores, no labels: grey everywhere */
  assert_int_equal(render_sample_png(path, xyz, 8, NULL, NULL, 101, &v), AD3D_OK);
  px = decode(path, &w, &h);
  expect_pixel(px, w, cx, cx, 170, 170, 170);
  expect_pixel(px, w, 101 + cx, cx, 170, 170, 170);
  free(px);
}

static void test_colormap_and_splats(void **state) {
  (void)state;
  uint8_t c[3];
  colormap_jet(0.0, c);
  assert_true(c[0] == 0 && c[1] == 0 && c[2] == 128);
  colormap_jet(0.5, c);
  assert_true(c[0] == 128 && c[1] == 255 && c[2] == 128);
  colormap_jet(2.0, c);
  assert_true(c[0] == 128 && c[1] == 0 && c[2] == 0);
  /* a splat of radius 2 covers the disk dx^2 + dy^2 <= 6 around the point */
  image_t im;
  assert_int_equal(image_alloc(&im, 21, 21, 0, 0, 0), AD3D_OK);
  const float p[3] = {0, 0, 0};
  const uint8_t white[3] = {255, 255, 255};
  render_view v = {0, 0, 2};
  double lo[2] = {-1, -1}, hi[2] = {1, 1};
  render_points(&im, 0, 0, 21, 21, p, 1, white, &v, lo, hi);
  int lit = 0;
  for (int y = 0; y < 21; y++)
    for (int x = 0; x < 21; x++) {
      int on = im.rgb[3 * (y * 21 + x)] == 255, dx = x - 10, dy = y - 10;
      assert_int_equal(on, dx * dx + dy * dy <= 6);
      lit += on;
    }
  assert_int_equal(lit, 21);
  image_free(&im);
  image_free(&im);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_png_roundtrip),
      cmocka_unit_test(test_render_sample),
      cmocka_unit_test(test_colormap_and_splats),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
