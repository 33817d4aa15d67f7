/* opts.h - typed option schemas and resolved option values.
 *
 * Every configurable thing declares its options as a table of opt_spec {name, type, default,
 * bounds, help}, terminated by an entry with name == NULL. The cfg layer reads config files and
 * `--set key=value` overrides against these tables (unknown keys and wrong types are errors) and
 * produces an opts_t: a flat map from a full key ("btf_raw.train_stride", "run.seed") to a typed
 * value. Layers below cfg only read values, through the getters below; they never see libconfig.
 */
#ifndef AD3D_COMMON_OPTS_H
#define AD3D_COMMON_OPTS_H

#include <stdint.h>

#include "common/status.h"

typedef enum { OPT_INT, OPT_REAL, OPT_BOOL, OPT_STRING, OPT_STRINGS } opt_type;

typedef struct {
  const char *name; /* key inside its section, e.g. "train_stride" */
  opt_type type;
  const char *def;  /* default as text: "100", "0.5", "true", "max", "a,b" (OPT_STRINGS: comma list) */
  double min, max;  /* inclusive bounds for OPT_INT / OPT_REAL; ignored when min > max */
  const char *help;
} opt_spec;

typedef struct {
  char *key; /* full key "section.name" */
  opt_type type;
  int64_t i;
  double r;  /* OPT_REAL; also set for OPT_INT */
  int b;
  char *s;   /* OPT_STRING */
  char **list; /* OPT_STRINGS */
  int nlist;
} opt_value;

typedef struct {
  int n, cap;
  opt_value *v; /* (n), sorted by key */
} opts_t;

/* Parse `text` as a value of `spec` (bounds checked) and set it under key "section.name".
 * The error message names the key and the problem. */
ad3d_status opts_set_text(opts_t *o, const char *section, const opt_spec *spec, const char *text);
/* Set every option of a schema to its default. */
ad3d_status opts_set_defaults(opts_t *o, const char *section, const opt_spec *specs);
/* Deep copy. */
ad3d_status opts_copy(opts_t *dst, const opts_t *src);
void opts_free(opts_t *o);

/* Lookup of a full key; NULL if absent. */
const opt_value *opts_find(const opts_t *o, const char *key);
/* Typed getters of a full key. A missing key or wrong type is a programmer error (ASSERT):
 * the cfg layer fills every declared option before any of these run. */
int64_t opts_int(const opts_t *o, const char *key);
double opts_real(const opts_t *o, const char *key);
int opts_bool(const opts_t *o, const char *key);
const char *opts_str(const opts_t *o, const char *key);
const opt_value *opts_list(const opts_t *o, const char *key);

/* Value as text, as it would be written in a config file ("100", "0.5", "true", "\"max\"",
 * "[\"a\", \"b\"]"); returns the number of characters that would have been written (snprintf). */
int opt_value_format(const opt_value *v, char *buf, int size);
const char *opt_type_name(opt_type t);

#endif
