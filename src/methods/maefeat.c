/* maefeat.c - the Point-MAE methods' shared parts: the model loader hook, per-patch features with the
 * unit-sphere transform, and the PatchCore-on-Point-MAE core (maefeat.h). Not here: the option defaults
 * and titles of each method (patchcore_pointmae.c, m3dm.c), Reg3D-AD's two-bank scoring (reg3dad.c).
 */
#include "methods/maefeat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static maefeat_loader g_loader;

void maefeat_set_loader(maefeat_loader fn) { g_loader = fn; }
maefeat_loader maefeat_get_loader(void) { return g_loader; }

/* ---- features ------------------------------------------------------------------------------------------- */

static const char *key(const char *method, const char *opt, char *buf, size_t size) {
  snprintf(buf, size, "%s.%s", method, opt);
  return buf;
}

void maefeat_free(maefeat *f) {
  if (!f)
    return;
  mae_free(f->model);
  memset(f, 0, sizeof *f);
}

ad3d_status maefeat_init(maefeat *f, const char *method, const opts_t *o) {
  char k[128];
  memset(f, 0, sizeof *f);
  f->method = method;
  f->scale = 1.0;
  f->unit_sphere = opts_bool(o, key(method, "unit_sphere", k, sizeof k));
  f->fo.ngroups = (int)opts_int(o, key(method, "num_group", k, sizeof k));
  f->fo.group_size = (int)opts_int(o, key(method, "group_size", k, sizeof k));
  const char *path = opts_str(o, key(method, "checkpoint", k, sizeof k));
  if (!path[0])
    return ad3d_fail(AD3D_EINVAL,
                     "%s.checkpoint is not set: this method needs a trained Point-MAE (`ad3d pretrain` writes one; "
                     "then --set %s.checkpoint=PATH)",
                     method, method);
  if (!g_loader)
    return ad3d_fail(AD3D_EINTERNAL, "%s: no checkpoint loader is installed (the program must call "
                                     "maefeat_set_loader before running methods)",
                     method);
  ad3d_status st = g_loader(path, &f->model);
  if (st) {
    f->model = NULL;
    return ad3d_fail_context(st, "%s.checkpoint = %s", method, path);
  }
  if ((st = mae_feat_parse_blocks(opts_str(o, key(method, "blocks", k, sizeof k)), f->model->cfg.depth, f->fo.blocks,
                                  &f->fo.nblocks))) {
    ad3d_fail_context(st, "%s.blocks (the model in %s has %d blocks)", method, path, f->model->cfg.depth);
    maefeat_free(f);
  }
  return st;
}

void maefeat_fit_transform(maefeat *f, const float *pts, int64_t n) {
  f->center[0] = f->center[1] = f->center[2] = 0.0;
  f->scale = 1.0;
  if (!f->unit_sphere || n < 1)
    return;
  double c[3] = {0, 0, 0}, r2 = 0;
  for (int64_t i = 0; i < n; i++)
    for (int a = 0; a < 3; a++)
      c[a] += pts[3 * i + a];
  for (int a = 0; a < 3; a++)
    c[a] /= (double)n;
  for (int64_t i = 0; i < n; i++) {
    double d2 = 0;
    for (int a = 0; a < 3; a++)
      d2 += (pts[3 * i + a] - c[a]) * (pts[3 * i + a] - c[a]);
    r2 = d2 > r2 ? d2 : r2;
  }
  memcpy(f->center, c, sizeof c);
  f->scale = r2 > 0 ? 1.0 / sqrt(r2) : 1.0;
}

int maefeat_dim(const maefeat *f) { return mae_feat_dim(f->model, &f->fo); }

ad3d_status maefeat_compute(const maefeat *f, const float *pts, int64_t n, float **centers, float **feat, int *G) {
  *centers = *feat = NULL;
  *G = 0;
  if (n < 1)
    return ad3d_fail(AD3D_EINVAL, "%s: a cloud without points", f->method);
  const int g = mae_feat_groups(&f->fo, n), d = maefeat_dim(f);
  float *x = malloc(sizeof(float) * (size_t)n * 3), *c = malloc(sizeof(float) * (size_t)g * 3);
  float *ft = malloc(sizeof(float) * (size_t)g * d);
  ad3d_status st = AD3D_OK;
  if (!x || !c || !ft) {
    st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory for the features of %lld points", f->method, (long long)n);
    goto cleanup;
  }
  for (int64_t i = 0; i < n; i++)
    for (int a = 0; a < 3; a++)
      x[3 * i + a] = (float)((pts[3 * i + a] - f->center[a]) * f->scale);
  if ((st = mae_features(f->model, x, n, &f->fo, c, ft))) {
    ad3d_fail_context(st, "%s", f->method);
    goto cleanup;
  }
  for (int i = 0; i < g; i++)
    for (int a = 0; a < 3; a++)
      c[3 * i + a] = (float)(c[3 * i + a] / f->scale + f->center[a]);
  *centers = c;
  *feat = ft;
  *G = g;
  c = ft = NULL;
cleanup:
  free(x);
  free(c);
  free(ft);
  return st;
}

/* ---- the memory-bank core --------------------------------------------------------------------------------- */

void maefeat_bank_destroy(void *state) {
  maefeat_bank *b = state;
  if (!b)
    return;
  maefeat_free(&b->feat);
  featbank_free(&b->bank);
  featbank_reg_free(&b->reg);
  free(b);
}

ad3d_status maefeat_bank_create(const char *method, const opts_t *o, rng_t *rng, void **state) {
  char k[128];
  maefeat_bank *b = calloc(1, sizeof *b);
  if (!b)
    return ad3d_fail(AD3D_ENOMEM, "%s: out of memory", method);
  b->rng = *rng;
  b->copts = coreset_defaults();
  b->copts.size = opts_int(o, key(method, "memory_size", k, sizeof k));
  b->copts.ratio = opts_real(o, key(method, "coreset_ratio", k, sizeof k));
  b->copts.proj_dim = (int)opts_int(o, key(method, "proj_dim", k, sizeof k));
  b->copts.nstart = (int)opts_int(o, key(method, "coreset_starts", k, sizeof k));
  b->do_register = opts_bool(o, key(method, "register", k, sizeof k));
  b->voxel = opts_real(o, key(method, "voxel", k, sizeof k));
  b->icp = opts_bool(o, key(method, "icp", k, sizeof k));
  b->ransac_max_iter = opts_int(o, key(method, "ransac_max_iter", k, sizeof k));
  b->reweight_k = (int)opts_int(o, key(method, "reweight_k", k, sizeof k));
  b->topk = opts_int(o, key(method, "topk", k, sizeof k));
  const char *cs = opts_str(o, key(method, "coreset", k, sizeof k));
  ad3d_status st = AD3D_OK;
  if (!strcmp(cs, "approx") || !strcmp(cs, "none"))
    b->use_coreset = !strcmp(cs, "approx");
  else
    st = ad3d_fail(AD3D_EINVAL, "%s.coreset: unknown sampler \"%s\" (approx, none)", method, cs);
  if (!st && (st = objscore_parse(opts_str(o, key(method, "object_score", k, sizeof k)), &b->rule)))
    ad3d_fail_context(st, "%s.object_score", method);
  if (!st)
    st = maefeat_init(&b->feat, method, o);
  if (st) {
    maefeat_bank_destroy(b);
    return st;
  }
  *state = b;
  return AD3D_OK;
}

/* The cloud of s as the bank sees it: registered onto the template (unless first or registration is off).
 * *pts: s's own points (*owned = 0) or a new array (*owned = 1). */
static ad3d_status bank_points(maefeat_bank *b, const sample_t *s, int first, float **pts, int *owned) {
  *owned = 0;
  *pts = s->cloud.xyz;
  if (!b->have_reg || first)
    return AD3D_OK;
  float *r = malloc(sizeof(float) * (size_t)s->cloud.n * 3);
  if (!r)
    return ad3d_fail(AD3D_ENOMEM, "%s: out of memory registering %s", b->feat.method, s->name);
  ad3d_status st = featbank_reg_apply(&b->reg, s->cloud.xyz, s->cloud.n, &b->rng, r);
  if (st) {
    free(r);
    return ad3d_fail_context(st, "%s: registering %s", b->feat.method, s->name);
  }
  *pts = r;
  *owned = 1;
  return AD3D_OK;
}

ad3d_status maefeat_bank_fit(void *state, const sample_t *train, int ntrain) {
  maefeat_bank *b = state;
  const char *name = b->feat.method;
  if (ntrain < 1)
    return ad3d_fail(AD3D_EINVAL, "%s: no training samples", name);
  if (b->do_register) {
    TRY(featbank_reg_init(&b->reg, train[0].cloud.xyz, train[0].cloud.n, b->voxel, b->icp, b->ransac_max_iter));
    b->have_reg = 1;
  }
  maefeat_fit_transform(&b->feat, train[0].cloud.xyz, train[0].cloud.n);
  const int d = maefeat_dim(&b->feat);
  float *cand = NULL, *bank = NULL; /* (total, d) */
  int64_t total = 0, *sel = NULL;
  ad3d_status st = AD3D_OK;
  for (int s = 0; s < ntrain && !st; s++) {
    float *pts = NULL, *cen = NULL, *ft = NULL;
    int owned = 0, G = 0;
    if (!(st = bank_points(b, &train[s], s == 0, &pts, &owned)) &&
        !(st = maefeat_compute(&b->feat, pts, train[s].cloud.n, &cen, &ft, &G))) {
      float *grown = realloc(cand, sizeof(float) * (size_t)(total + G) * d);
      if (!grown) {
        st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory for %lld training features", name, (long long)(total + G));
      } else {
        cand = grown;
        memcpy(cand + total * d, ft, sizeof(float) * (size_t)G * d);
        total += G;
      }
    } else {
      ad3d_fail_context(st, "training sample %s", train[s].name);
    }
    if (owned)
      free(pts);
    free(cen);
    free(ft);
  }
  if (st)
    goto cleanup;
  int64_t nbank = total;
  if (b->use_coreset && coreset_size(&b->copts, total) < total) {
    if ((st = coreset_select(cand, total, d, &b->copts, &b->rng, &sel, &nbank))) {
      ad3d_fail_context(st, "%s", name);
      goto cleanup;
    }
    if (!(bank = malloc(sizeof(float) * (size_t)nbank * d))) {
      st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory for the memory bank", name);
      goto cleanup;
    }
    for (int64_t j = 0; j < nbank; j++)
      memcpy(bank + j * d, cand + sel[j] * d, sizeof(float) * (size_t)d);
    free(cand);
    cand = bank;
    bank = NULL;
  }
  st = featbank_build(&b->bank, cand, nbank, d);
  cand = NULL; /* owned by the bank now, or freed */
cleanup:
  free(cand);
  free(bank);
  free(sel);
  return st;
}

ad3d_status maefeat_bank_score(void *state, const sample_t *s, float *point_scores, double *object_score) {
  maefeat_bank *b = state;
  const int64_t n = s->cloud.n;
  if (n == 0)
    return ad3d_fail(AD3D_EINVAL, "%s: %s has no points", b->feat.method, s->name);
  float *pts = NULL, *cen = NULL, *ft = NULL;
  int owned = 0, G = 0;
  ad3d_status st = bank_points(b, s, 0, &pts, &owned);
  if (st || (st = maefeat_compute(&b->feat, pts, n, &cen, &ft, &G))) {
    ad3d_fail_context(st, "%s", s->name);
    goto cleanup;
  }
  if ((st = featbank_score(&b->bank, ft, cen, G, pts, n, b->rule, b->topk, b->reweight_k, point_scores,
                           object_score)))
    ad3d_fail_context(st, "%s: %s", b->feat.method, s->name);
cleanup:
  if (owned)
    free(pts);
  free(cen);
  free(ft);
  return st;
}
