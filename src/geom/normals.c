/* normals.c - PCA normals and surface variation over kNN / radius / hybrid neighbourhoods. */
#include "geom/normals.h"

#include <math.h>

#include "geom/eig3.h"
#include "geom/zorder.h"

void normals_of_points(const float *pts, const int64_t *idx, int64_t count, double normal[3], double *curvature) {
  ASSERT(normal && curvature && (count == 0 || (pts && idx)));
  normal[0] = normal[1] = 0.0;
  normal[2] = 1.0;
  *curvature = 0.0;
  if (count < 3)
    return;
  /* two passes (mean, then centred sums): exact enough far from the origin, e.g. scans in mm */
  double mean[3] = {0.0, 0.0, 0.0};
  for (int64_t j = 0; j < count; j++) {
    const float *p = pts + 3 * idx[j];
    mean[0] += p[0];
    mean[1] += p[1];
    mean[2] += p[2];
  }
  for (int a = 0; a < 3; a++)
    mean[a] /= (double)count;
  double c[6] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0}; /* c00 c01 c02 c11 c12 c22 */
  for (int64_t j = 0; j < count; j++) {
    const float *p = pts + 3 * idx[j];
    double x = p[0] - mean[0], y = p[1] - mean[1], z = p[2] - mean[2];
    c[0] += x * x;
    c[1] += x * y;
    c[2] += x * z;
    c[3] += y * y;
    c[4] += y * z;
    c[5] += z * z;
  }
  for (int a = 0; a < 6; a++)
    c[a] /= (double)count;
  double trace = c[0] + c[3] + c[5];
  if (!(trace > 0.0))
    return; /* all neighbours coincide */
  double eval[3], evec[3][3];
  eig3_sym(c, eval, evec);
  normal[0] = evec[0][0];
  normal[1] = evec[0][1];
  normal[2] = evec[0][2];
  double l0 = eval[0] > 0.0 ? eval[0] : 0.0; /* rounding can make it slightly negative */
  *curvature = l0 / trace;
}

/* The reference vector of point p under an orientation rule. */
static void orient_ref(const float *p, normals_orient orient, const double ref[3], const double centroid[3],
                       double out[3]) {
  switch (orient) {
  case NORMALS_ORIENT_VIEWPOINT:
    for (int a = 0; a < 3; a++)
      out[a] = ref[a] - p[a];
    return;
  case NORMALS_ORIENT_DIRECTION:
    for (int a = 0; a < 3; a++)
      out[a] = ref[a];
    return;
  case NORMALS_ORIENT_CENTROID:
    for (int a = 0; a < 3; a++)
      out[a] = p[a] - centroid[a];
    return;
  case NORMALS_ORIENT_NONE:
    break;
  }
  out[0] = out[1] = out[2] = 0.0;
}

static void cloud_centroid(const float *pts, int64_t n, double c[3]) {
  c[0] = c[1] = c[2] = 0.0;
  for (int64_t i = 0; i < n; i++)
    for (int a = 0; a < 3; a++)
      c[a] += pts[3 * i + a];
  if (n > 0)
    for (int a = 0; a < 3; a++)
      c[a] /= (double)n;
}

void normals_orient_apply(const float *pts, int64_t n, normals_orient orient, const double ref[3], float *normals) {
  ASSERT(n == 0 || (pts && normals));
  ASSERT(orient == NORMALS_ORIENT_NONE || orient == NORMALS_ORIENT_CENTROID || ref);
  if (orient == NORMALS_ORIENT_NONE)
    return;
  double centroid[3] = {0.0, 0.0, 0.0};
  if (orient == NORMALS_ORIENT_CENTROID)
    cloud_centroid(pts, n, centroid);
  for (int64_t i = 0; i < n; i++) {
    double r[3];
    float *nv = normals + 3 * i;
    orient_ref(pts + 3 * i, orient, ref, centroid, r);
    if ((double)nv[0] * r[0] + (double)nv[1] * r[1] + (double)nv[2] * r[2] < 0.0) {
      nv[0] = -nv[0];
      nv[1] = -nv[1];
      nv[2] = -nv[2];
    }
  }
}

ad3d_status normals_estimate(const float *pts, int64_t n, const kdtree *t, const normals_opts *o, float *normals,
                             float *curvature) {
  ASSERT(o && (normals || curvature) && (n == 0 || pts));
  ad3d_status st = AD3D_OK;
  kdtree *own = NULL;
  int64_t *order = NULL;
  nbhd_buf buf = {0};
  double centroid[3] = {0.0, 0.0, 0.0};
  if (n < 0)
    return ad3d_fail(AD3D_EINVAL, "normals: negative point count %lld", (long long)n);
  TRY(nbhd_check(&o->nb, "normals"));
  if (o->orient != NORMALS_ORIENT_NONE && o->orient != NORMALS_ORIENT_VIEWPOINT &&
      o->orient != NORMALS_ORIENT_DIRECTION && o->orient != NORMALS_ORIENT_CENTROID)
    return ad3d_fail(AD3D_EINVAL, "normals: unknown orientation rule %d", (int)o->orient);
  if ((o->orient == NORMALS_ORIENT_VIEWPOINT || o->orient == NORMALS_ORIENT_DIRECTION) &&
      !(isfinite(o->ref[0]) && isfinite(o->ref[1]) && isfinite(o->ref[2])))
    return ad3d_fail(AD3D_EINVAL, "normals: the orientation reference must be finite");
  if (t && kdtree_size(t) != n)
    return ad3d_fail(AD3D_EINVAL, "normals: the kd-tree holds %lld points, the cloud %lld", (long long)kdtree_size(t),
                     (long long)n);
  if (n == 0)
    return AD3D_OK;
  if (!t) {
    st = kdtree_build(pts, n, &own);
    if (st != AD3D_OK)
      goto cleanup;
    t = own;
  }
  order = malloc(sizeof *order * (size_t)n);
  if (!order) {
    st = ad3d_fail(AD3D_ENOMEM, "normals: cannot allocate the visiting order of %lld points", (long long)n);
    goto cleanup;
  }
  st = zorder_sort(pts, n, order);
  if (st != AD3D_OK)
    goto cleanup;
  if (o->orient == NORMALS_ORIENT_CENTROID)
    cloud_centroid(pts, n, centroid);
  for (int64_t k = 0; k < n; k++) {
    int64_t i = order[k];
    const float *p = pts + 3 * i;
    int64_t count = nbhd_query(t, &o->nb, p, &buf);
    if (count < 0) {
      st = ad3d_fail_context(AD3D_ENOMEM, "normals");
      goto cleanup;
    }
    double nv[3], c;
    normals_of_points(pts, buf.idx, count, nv, &c);
    if (curvature)
      curvature[i] = (float)c;
    if (!normals)
      continue;
    if (o->orient != NORMALS_ORIENT_NONE) {
      double r[3];
      orient_ref(p, o->orient, o->ref, centroid, r);
      if (nv[0] * r[0] + nv[1] * r[1] + nv[2] * r[2] < 0.0)
        for (int a = 0; a < 3; a++)
          nv[a] = -nv[a];
    }
    for (int a = 0; a < 3; a++)
      normals[3 * i + a] = (float)nv[a];
  }
cleanup:
  nbhd_buf_free(&buf);
  kdtree_free(own);
  free(order);
  return st;
}
