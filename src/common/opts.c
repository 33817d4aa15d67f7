/* opts.c - option values: parsing text against a schema, lookup, formatting. */
#include "common/opts.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *opt_type_name(opt_type t) {
  switch (t) {
  case OPT_INT: return "integer";
  case OPT_REAL: return "real";
  case OPT_BOOL: return "boolean";
  case OPT_STRING: return "string";
  case OPT_STRINGS: return "list of strings";
  }
  return "?";
}

static void value_clear(opt_value *v) {
  free(v->key);
  free(v->s);
  for (int i = 0; i < v->nlist; i++)
    free(v->list[i]);
  free(v->list);
  memset(v, 0, sizeof *v);
}

void opts_free(opts_t *o) {
  if (!o)
    return;
  for (int i = 0; i < o->n; i++)
    value_clear(&o->v[i]);
  free(o->v);
  memset(o, 0, sizeof *o);
}

/* Index of key, or -(insertion point) - 1. */
static int find_index(const opts_t *o, const char *key) {
  int lo = 0, hi = o->n - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    int c = strcmp(o->v[mid].key, key);
    if (c == 0)
      return mid;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return -lo - 1;
}

const opt_value *opts_find(const opts_t *o, const char *key) {
  int i = find_index(o, key);
  return i >= 0 ? &o->v[i] : NULL;
}

/* Take ownership of *v and store it (replacing a previous value of the same key). */
static ad3d_status store(opts_t *o, opt_value *v) {
  int i = find_index(o, v->key);
  if (i >= 0) {
    value_clear(&o->v[i]);
    o->v[i] = *v;
    return AD3D_OK;
  }
  i = -i - 1;
  if (o->n == o->cap) {
    int cap = o->cap ? 2 * o->cap : 32;
    opt_value *nv = realloc(o->v, (size_t)cap * sizeof *nv);
    if (!nv) {
      value_clear(v);
      return ad3d_fail(AD3D_ENOMEM, "out of memory storing option %s", v->key);
    }
    o->v = nv;
    o->cap = cap;
  }
  memmove(&o->v[i + 1], &o->v[i], (size_t)(o->n - i) * sizeof *o->v);
  o->v[i] = *v;
  o->n++;
  return AD3D_OK;
}

static char *trim_dup(const char *s, size_t len) {
  while (len && (*s == ' ' || *s == '\t' || *s == '"' || *s == '[')) {
    s++;
    len--;
  }
  while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '"' || s[len - 1] == ']'))
    len--;
  char *d = malloc(len + 1);
  if (d) {
    memcpy(d, s, len);
    d[len] = '\0';
  }
  return d;
}

static ad3d_status parse_list(opt_value *v, const char *text) {
  char *body = trim_dup(text, strlen(text));
  if (!body)
    return ad3d_fail(AD3D_ENOMEM, "out of memory");
  ad3d_status st = AD3D_OK;
  if (*body) {
    for (const char *p = body;;) {
      const char *comma = strchr(p, ',');
      size_t len = comma ? (size_t)(comma - p) : strlen(p);
      char **nl = realloc(v->list, (size_t)(v->nlist + 1) * sizeof *nl);
      char *item = trim_dup(p, len);
      if (!nl || !item) {
        free(item);
        if (nl)
          v->list = nl;
        st = ad3d_fail(AD3D_ENOMEM, "out of memory");
        break;
      }
      v->list = nl;
      if (*item)
        v->list[v->nlist++] = item;
      else
        free(item);
      if (!comma)
        break;
      p = comma + 1;
    }
  }
  free(body);
  return st;
}

ad3d_status opts_set_text(opts_t *o, const char *section, const opt_spec *spec, const char *text) {
  opt_value v = {0};
  size_t klen = strlen(section) + strlen(spec->name) + 2;
  v.key = malloc(klen);
  if (!v.key)
    return ad3d_fail(AD3D_ENOMEM, "out of memory");
  snprintf(v.key, klen, "%s.%s", section, spec->name);
  v.type = spec->type;
  char *end = NULL;
  int bounded = spec->min <= spec->max;
  switch (spec->type) {
  case OPT_INT: {
    errno = 0;
    long long x = strtoll(text, &end, 10);
    if (errno || end == text || *end) {
      value_clear(&v);
      return ad3d_fail(AD3D_EINVAL, "%s.%s: expected an integer, got \"%s\"", section, spec->name, text);
    }
    v.i = x;
    v.r = (double)x;
    break;
  }
  case OPT_REAL: {
    errno = 0;
    double x = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(x)) {
      value_clear(&v);
      return ad3d_fail(AD3D_EINVAL, "%s.%s: expected a finite real number, got \"%s\"", section, spec->name,
                       text);
    }
    v.r = x;
    break;
  }
  case OPT_BOOL:
    if (!strcasecmp(text, "true") || !strcmp(text, "1") || !strcasecmp(text, "yes"))
      v.b = 1;
    else if (!strcasecmp(text, "false") || !strcmp(text, "0") || !strcasecmp(text, "no"))
      v.b = 0;
    else {
      value_clear(&v);
      return ad3d_fail(AD3D_EINVAL, "%s.%s: expected true or false, got \"%s\"", section, spec->name, text);
    }
    break;
  case OPT_STRING:
    v.s = trim_dup(text, strlen(text));
    if (!v.s) {
      value_clear(&v);
      return ad3d_fail(AD3D_ENOMEM, "out of memory");
    }
    break;
  case OPT_STRINGS: {
    ad3d_status st = parse_list(&v, text);
    if (st) {
      value_clear(&v);
      return st;
    }
    break;
  }
  }
  if (bounded && (spec->type == OPT_INT || spec->type == OPT_REAL) && (v.r < spec->min || v.r > spec->max)) {
    value_clear(&v);
    return ad3d_fail(AD3D_EINVAL, "%s.%s: %s is outside [%g, %g]", section, spec->name, text, spec->min,
                     spec->max);
  }
  return store(o, &v);
}

ad3d_status opts_set_defaults(opts_t *o, const char *section, const opt_spec *specs) {
  for (const opt_spec *s = specs; s && s->name; s++)
    TRY(opts_set_text(o, section, s, s->def));
  return AD3D_OK;
}

ad3d_status opts_copy(opts_t *dst, const opts_t *src) {
  memset(dst, 0, sizeof *dst);
  if (src->n == 0)
    return AD3D_OK;
  dst->v = calloc((size_t)src->n, sizeof *dst->v);
  if (!dst->v)
    return ad3d_fail(AD3D_ENOMEM, "out of memory copying options");
  dst->cap = src->n;
  for (int i = 0; i < src->n; i++) {
    const opt_value *s = &src->v[i];
    opt_value *d = &dst->v[i];
    *d = *s;
    d->key = strdup(s->key);
    d->s = s->s ? strdup(s->s) : NULL;
    d->list = s->nlist ? calloc((size_t)s->nlist, sizeof(char *)) : NULL;
    dst->n = i + 1;
    int bad = !d->key || (s->s && !d->s) || (s->nlist && !d->list);
    for (int j = 0; !bad && j < s->nlist; j++)
      bad = !(d->list[j] = strdup(s->list[j]));
    if (bad) {
      opts_free(dst);
      return ad3d_fail(AD3D_ENOMEM, "out of memory copying options");
    }
  }
  return AD3D_OK;
}

static const opt_value *get(const opts_t *o, const char *key, opt_type t) {
  const opt_value *v = opts_find(o, key);
  if (!v || v->type != t) {
    fprintf(stderr, "internal error: option %s is %s, expected %s\n", key,
            v ? opt_type_name(v->type) : "missing", opt_type_name(t));
    abort();
  }
  return v;
}

int64_t opts_int(const opts_t *o, const char *key) { return get(o, key, OPT_INT)->i; }
double opts_real(const opts_t *o, const char *key) {
  const opt_value *v = opts_find(o, key);
  if (v && v->type == OPT_INT)
    return v->r;
  return get(o, key, OPT_REAL)->r;
}
int opts_bool(const opts_t *o, const char *key) { return get(o, key, OPT_BOOL)->b; }
const char *opts_str(const opts_t *o, const char *key) { return get(o, key, OPT_STRING)->s; }
const opt_value *opts_list(const opts_t *o, const char *key) { return get(o, key, OPT_STRINGS); }

int opt_value_format(const opt_value *v, char *buf, int size) {
  switch (v->type) {
  case OPT_INT: return snprintf(buf, (size_t)size, "%lld", (long long)v->i);
  case OPT_REAL: {
    /* the shortest of %.15g/%.16g/%.17g that reads back exactly: 0.03, not 0.029999999999999999 */
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
      snprintf(tmp, sizeof tmp, "%.*g", prec, v->r);
      if (strtod(tmp, NULL) == v->r)
        break;
    }
    int n = snprintf(buf, (size_t)size, "%s", tmp);
    /* libconfig needs a '.' or exponent to read a real back as a real */
    if (n > 0 && n + 2 < size && !strpbrk(buf, ".eEn"))
      n += snprintf(buf + n, (size_t)(size - n), ".0");
    return n;
  }
  case OPT_BOOL: return snprintf(buf, (size_t)size, "%s", v->b ? "true" : "false");
  case OPT_STRING: return snprintf(buf, (size_t)size, "\"%s\"", v->s);
  case OPT_STRINGS: {
    int n = snprintf(buf, (size_t)size, "[");
    for (int i = 0; i < v->nlist; i++)
      n += snprintf(buf + (n < size ? n : size), (size_t)(n < size ? size - n : 0), "%s\"%s\"", i ? ", " : "",
                    v->list[i]);
    n += snprintf(buf + (n < size ? n : size), (size_t)(n < size ? size - n : 0), "]");
    return n;
  }
  }
  return 0;
}
