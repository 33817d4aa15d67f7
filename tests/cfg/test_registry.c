/* test_registry.c - a stand-in method registry for the cfg tests.
 *
 * It defines method_registry and method_find, so the linker never pulls methods/registry.c (and
 * the real methods) into the test: cfg is tested against method.h alone. "btf_raw" mirrors the
 * real method's integer option; "toy" has one option of every type. cfg never calls a vtable
 * function, so they are NULL.
 */
#include <string.h>

#include "methods/method.h"

static const opt_spec btf_opts[] = {
    {"train_stride", OPT_INT, "100", 1, 1e9, "memory bank = every n-th training point"},
    {"object_score", OPT_STRING, "reweighted", 1, 0, "object score rule"},
    {NULL, 0, NULL, 0, 0, NULL},
};

static const opt_spec toy_opts[] = {
    {"radius", OPT_REAL, "0.5", 0, 10, "a bounded real"},
    {"scale", OPT_REAL, "1e-3", 1, 0, "an unbounded real"},
    {"use_normals", OPT_BOOL, "true", 1, 0, "a boolean"},
    {"layers", OPT_STRINGS, "a,b", 1, 0, "a list of strings"},
    {"big", OPT_INT, "5000000000", 1, 0, "an unbounded 64-bit integer"},
    {NULL, 0, NULL, 0, 0, NULL},
};

static const method_vt test_btf = {"btf_raw", "BTF(Raw)", "stand-in", btf_opts, NULL, NULL, NULL, NULL};
static const method_vt test_toy = {"toy", "Toy", "every option type", toy_opts, NULL, NULL, NULL, NULL};

const method_vt *const method_registry[] = {&test_btf, &test_toy, NULL};

const method_vt *method_find(const char *name) {
  for (int i = 0; method_registry[i]; i++)
    if (!strcmp(method_registry[i]->name, name))
      return method_registry[i];
  return NULL;
}
