/* render.h - PNG previews of point clouds: an orthographic splat renderer and a small PNG writer.
 *
 * The renderer turns the cloud by an azimuth about z, puts the camera at the elevation (degrees)
 * above the turned -y axis looking at the origin, projects orthographically (z up), fits the cloud's projected bounding box
 * into a panel with a margin, and splats every point as a disk of `radius` pixels through a depth
 * buffer (nearest point wins). Colours are darkened with depth (nearer is brighter) so the shape
 * reads. A preview puts two panels side by side with the same projection: the sample (by score
 * through a colour map, or plain grey) and its ground truth (normal grey, anomalous red).
 *
 * PNG: 8-bit RGB, one IDAT holding a zlib stream of one deflate block with the fixed Huffman code
 * (RFC 1951 3.2.6); rows use the Sub filter and matches are searched at the previous pixel and the
 * row above, which is all flat backgrounds and splats need. No library beyond libc.
 */
#ifndef AD3D_SYNTH_RENDER_H
#define AD3D_SYNTH_RENDER_H

#include <stdint.h>

#include "common/status.h"

typedef struct {
  int width, height;
  uint8_t *rgb; /* (height, width, 3) row-major */
} image_t;

/* A width x height image filled with colour (r, g, b). */
ad3d_status image_alloc(image_t *im, int width, int height, uint8_t r, uint8_t g, uint8_t b);
void image_free(image_t *im);

/* Write im as a PNG file. */
ad3d_status png_write(const char *path, const image_t *im);

typedef struct {
  double azimuth, elevation; /* degrees */
  int radius;                /* splat radius in pixels (0: a single pixel) */
} render_view;

/* The default view: azimuth 35, elevation 20, radius 1. */
render_view render_view_default(void);
/* A view (radius 1) whose camera lies in direction dir (need not be unit) from the object, raised
 * a little, elevation kept within [-60, 75] degrees: for looking at a defect. */
render_view render_view_towards(const double dir[3]);

/* Splat n points xyz (n, 3) with colours rgb (n, 3) into the panel [x0, x0 + w) x [y0, y0 + h) of
 * im, fitting the box lo..hi of the turned, projected coordinates (see render_bounds). */
void render_points(image_t *im, int x0, int y0, int w, int h, const float *xyz, int64_t n, const uint8_t *rgb,
                   const render_view *v, const double lo[2], const double hi[2]);

/* The box of the cloud's projected coordinates (horizontal, vertical) under view v. */
void render_bounds(const float *xyz, int64_t n, const render_view *v, double lo[2], double hi[2]);

/* A colour map from blue (t = 0) through cyan, green and yellow to red (t = 1) ("jet"). */
void colormap_jet(double t, uint8_t out[3]);

/* A preview PNG of a sample: two panels of panel x panel pixels: left, the points coloured by
 * scores (n; min-max normalised, jet) or grey when scores is NULL; right, the ground truth
 * (labels (n) 0 grey, 1 red; all grey when NULL). */
ad3d_status render_sample_png(const char *path, const float *xyz, int64_t n, const float *scores,
                              const uint8_t *labels, int panel, const render_view *v);

#endif
