/* defects.c - bulge, concavity and hole defects with exact labels (rules in defects.h). */
#include "synth/defects.h"

#include <math.h>
#include <string.h>

static const char *const defect_names[] = {"bulge", "concavity", "hole"};

const char *defect_kind_name(defect_kind k) {
  ASSERT(k >= DEFECT_BULGE && k <= DEFECT_HOLE);
  return defect_names[k];
}

ad3d_status defect_kind_parse(const char *name, defect_kind *k) {
  for (int i = 0; i < 3; i++)
    if (!strcmp(name, defect_names[i])) {
      *k = (defect_kind)i;
      return AD3D_OK;
    }
  return ad3d_fail(AD3D_ENOTFOUND, "unknown defect \"%s\" (expected bulge, concavity or hole)", name);
}

/* Distance from p to the centre, or -1 when p's normal faces away from the centre's. */
static double reach_distance(const defect_t *d, const double *p, const double *n) {
  if (n[0] * d->normal[0] + n[1] * d->normal[1] + n[2] * d->normal[2] <= DEFECT_FACING)
    return -1.0;
  double dx = p[0] - d->centre[0], dy = p[1] - d->centre[1], dz = p[2] - d->centre[2];
  return sqrt(dx * dx + dy * dy + dz * dz);
}

void defect_apply(const defect_t *d, int64_t *n, double *xyz, double *normals, uint8_t *labels) {
  ASSERT(d->radius > 0);
  int64_t kept = 0;
  for (int64_t i = 0; i < *n; i++) {
    double *p = xyz + 3 * i, *nv = normals + 3 * i;
    double r = reach_distance(d, p, nv);
    uint8_t label = 0;
    if (d->kind == DEFECT_HOLE) {
      if (r >= 0 && r < d->radius)
        continue; /* removed */
      label = r >= 0 && r < d->radius + d->rim;
    } else if (r >= 0 && r < d->radius) {
      double s2 = (r / d->radius) * (r / d->radius);
      double disp = d->amplitude * (1.0 - s2) * (1.0 - s2);
      double sign = d->kind == DEFECT_BULGE ? 1.0 : -1.0;
      for (int a = 0; a < 3; a++)
        p[a] += sign * disp * nv[a];
      label = disp > d->threshold;
    }
    if (kept != i) {
      memcpy(xyz + 3 * kept, p, 3 * sizeof *p);
      memcpy(normals + 3 * kept, nv, 3 * sizeof *nv);
    }
    labels[kept++] = label;
  }
  *n = kept;
}
