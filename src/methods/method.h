/* method.h - the interface every anomaly-detection method implements, and the registry.
 *
 * A method is fitted on one class's training samples (all normal) and then scores test samples:
 * a score per point (higher = more anomalous) and an object score. Its options are an opt_spec
 * table; their values arrive as full keys "<method name>.<option>" in an opts_t. All randomness
 * comes from the rng passed to create (seeded per task by the runner). A method never prints and
 * never exits: errors come back as a status with a message.
 */
#ifndef AD3D_METHODS_METHOD_H
#define AD3D_METHODS_METHOD_H

#include "common/cloud.h"
#include "common/opts.h"
#include "common/rng.h"

typedef struct method_vt {
  const char *name;  /* config and CLI name, e.g. "btf_raw" */
  const char *title; /* report name as in the paper's tables, e.g. "BTF(Raw)" */
  const char *help;
  const opt_spec *opts; /* options (NULL-terminated table), section = name */
  /* Make a state from options; rng is the task's stream (the state may keep a copy). */
  ad3d_status (*create)(const opts_t *opts, rng_t *rng, void **state);
  ad3d_status (*fit)(void *state, const sample_t *train, int ntrain);
  /* point_scores (s->cloud.n) and *object_score are written. */
  ad3d_status (*score)(void *state, const sample_t *s, float *point_scores, double *object_score);
  void (*destroy)(void *state);
} method_vt;

/* Registered methods, NULL-terminated; lookup by name (NULL if unknown). */
extern const method_vt *const method_registry[];
const method_vt *method_find(const char *name);

#endif
