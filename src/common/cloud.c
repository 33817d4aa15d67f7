/* cloud.c - allocation and destruction of clouds, samples and classes. */
#include "common/cloud.h"

#include <stdlib.h>
#include <string.h>

ad3d_status cloud_alloc(cloud_t *c, int64_t n) {
  c->n = 0;
  c->xyz = NULL;
  if (n < 0)
    return ad3d_fail(AD3D_EINVAL, "cloud_alloc: negative size %lld", (long long)n);
  c->xyz = malloc((size_t)(n > 0 ? n : 1) * 3 * sizeof(float));
  if (!c->xyz)
    return ad3d_fail(AD3D_ENOMEM, "out of memory allocating %lld points", (long long)n);
  c->n = n;
  return AD3D_OK;
}

void cloud_free(cloud_t *c) {
  if (!c)
    return;
  free(c->xyz);
  c->xyz = NULL;
  c->n = 0;
}

void sample_free(sample_t *s) {
  if (!s)
    return;
  free(s->name);
  free(s->defect);
  cloud_free(&s->cloud);
  free(s->labels);
  memset(s, 0, sizeof *s);
}

void class_data_free(class_data_t *d) {
  if (!d)
    return;
  for (int i = 0; i < d->ntrain; i++)
    sample_free(&d->train[i]);
  for (int i = 0; i < d->ntest; i++)
    sample_free(&d->test[i]);
  free(d->train);
  free(d->test);
  free(d->cls);
  memset(d, 0, sizeof *d);
}
