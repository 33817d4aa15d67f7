/* registry.c - the list of methods `ad3d run` can use. Add a method: declare its vtable here. */
#include <string.h>

#include "methods/method.h"

extern const method_vt method_btf_raw;

const method_vt *const method_registry[] = {
    &method_btf_raw,
    NULL,
};

const method_vt *method_find(const char *name) {
  for (int i = 0; method_registry[i]; i++)
    if (!strcmp(method_registry[i]->name, name))
      return method_registry[i];
  return NULL;
}
