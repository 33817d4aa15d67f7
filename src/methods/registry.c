/* registry.c - the list of methods `ad3d run` can use. Add a method: declare its vtable here. */
#include <string.h>

#include "methods/method.h"

extern const method_vt method_btf_raw;
extern const method_vt method_btf_fpfh;
extern const method_vt method_patchcore_fpfh;
extern const method_vt method_patchcore_fpfh_raw;
extern const method_vt method_reg3dad;
extern const method_vt method_curvature;
extern const method_vt method_patchcore_pointmae;
extern const method_vt method_m3dm;
extern const method_vt method_imrnet;

const method_vt *const method_registry[] = {
    &method_btf_raw,
    &method_btf_fpfh,
    &method_patchcore_fpfh,
    &method_patchcore_fpfh_raw,
    &method_reg3dad,
    &method_curvature,
    &method_patchcore_pointmae,
    &method_m3dm,
    &method_imrnet,
    NULL,
};

const method_vt *method_find(const char *name) {
  for (int i = 0; method_registry[i]; i++)
    if (!strcmp(method_registry[i]->name, name))
      return method_registry[i];
  return NULL;
}
