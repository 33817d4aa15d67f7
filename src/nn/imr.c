/* imr.c - IMRNet's patches, iterative mask reconstruction and dense comparison (see imr.h). */
#include "nn/imr.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geom/kdtree.h"

#define VOXEL_HALVINGS 40
#define LN_EPS 1e-5

/* ---- names ------------------------------------------------------------------------------------------- */

static const char *const sampler_names[] = {"rs", "fps", "voxel", "gps"};

ad3d_status imr_sampler_parse(const char *name, imr_sampler *out) {
  for (int i = 0; i < 4; i++)
    if (!strcmp(name, sampler_names[i])) {
      *out = (imr_sampler)i;
      return AD3D_OK;
    }
  return ad3d_fail(AD3D_EINVAL, "unknown sampler \"%s\" (rs, fps, voxel, gps)", name);
}

const char *imr_sampler_name(imr_sampler s) { return (unsigned)s < 4 ? sampler_names[s] : "?"; }

ad3d_status imr_chamfer_parse(const char *name, imr_chamfer_mode *out) {
  if (!strcmp(name, "patch"))
    *out = IMR_CHAMFER_PATCH;
  else if (!strcmp(name, "point"))
    *out = IMR_CHAMFER_POINT;
  else
    return ad3d_fail(AD3D_EINVAL, "unknown Chamfer mode \"%s\" (patch, point)", name);
  return AD3D_OK;
}

/* ---- patches ---------------------------------------------------------------------------------------- */

void imr_patches_free(imr_patches *p) {
  if (!p)
    return;
  free(p->centers);
  free(p->idx);
  free(p->neigh);
  memset(p, 0, sizeof *p);
}

/* Number of voxels of pts at edge v, or -1 (message set) on failure. */
static int64_t voxel_count(const float *pts, int64_t n, double v, cloud_t *keep) {
  cloud_t c = {0};
  if (sample_voxel(pts, n, v, &c, NULL) != AD3D_OK)
    return -1;
  int64_t k = c.n;
  if (keep) {
    cloud_free(keep);
    *keep = c;
  } else {
    cloud_free(&c);
  }
  return k;
}

/* G voxel centroids into centers (G, 3): the largest edge giving >= G voxels, then G of them at random. */
static ad3d_status voxel_centres(const float *pts, int64_t n, int G, rng_t *rng, float *centers) {
  double lo3[3] = {INFINITY, INFINITY, INFINITY}, hi3[3] = {-INFINITY, -INFINITY, -INFINITY};
  for (int64_t i = 0; i < n; i++)
    for (int d = 0; d < 3; d++) {
      lo3[d] = fmin(lo3[d], pts[3 * i + d]);
      hi3[d] = fmax(hi3[d], pts[3 * i + d]);
    }
  double diag = sqrt((hi3[0] - lo3[0]) * (hi3[0] - lo3[0]) + (hi3[1] - lo3[1]) * (hi3[1] - lo3[1]) +
                     (hi3[2] - lo3[2]) * (hi3[2] - lo3[2]));
  if (!isfinite(diag))
    return ad3d_fail(AD3D_EINVAL, "voxel sampler: non-finite points");
  if (diag == 0)
    return ad3d_fail(AD3D_EINVAL, "voxel sampler: all %lld points coincide", (long long)n);
  /* lo: edge with >= G voxels; hi: edge with < G (the whole box is at most 8 voxels when G > 8) */
  double lo = diag * 1e-7, hi = diag * 2;
  cloud_t best = {0};
  int64_t c = voxel_count(pts, n, lo, &best);
  if (c < 0)
    return ad3d_fail_context(AD3D_EINVAL, "voxel sampler");
  if (c < G) {
    cloud_free(&best);
    return ad3d_fail(AD3D_EINVAL, "voxel sampler: only %lld distinct voxels for %d centres", (long long)c, G);
  }
  for (int it = 0; it < VOXEL_HALVINGS && c != G; it++) {
    double mid = sqrt(lo * hi);
    cloud_t cand = {0};
    int64_t cm = voxel_count(pts, n, mid, &cand);
    if (cm < 0) {
      cloud_free(&best);
      return ad3d_fail_context(AD3D_EINVAL, "voxel sampler");
    }
    if (cm >= G) {
      lo = mid;
      cloud_free(&best);
      best = cand;
      c = cm;
    } else {
      hi = mid;
      cloud_free(&cand);
    }
  }
  int64_t *pick = malloc(sizeof *pick * (size_t)G);
  if (!pick) {
    cloud_free(&best);
    return ad3d_fail(AD3D_ENOMEM, "voxel sampler: out of memory");
  }
  ad3d_status st = sample_random(best.n, G, rng, pick);
  if (!st)
    sample_gather(best.xyz, pick, G, centers);
  free(pick);
  cloud_free(&best);
  return st;
}

ad3d_status imr_patches_make(const float *pts, int64_t n, int G, int K, imr_sampler sampler, const gps_opts *gps,
                             rng_t *rng, imr_patches *out) {
  memset(out, 0, sizeof *out);
  if (G < 1 || K < 1)
    return ad3d_fail(AD3D_EINVAL, "patches: %d centres of %d points", G, K);
  if (n < G || n < K)
    return ad3d_fail(AD3D_EINVAL, "patches: %lld points cannot make %d patches of %d", (long long)n, G, K);
  ad3d_status st = AD3D_OK;
  kdtree *t = NULL;
  int64_t *cidx = malloc(sizeof *cidx * (size_t)G);
  out->G = G;
  out->K = K;
  out->centers = malloc(sizeof(float) * (size_t)G * 3);
  out->idx = malloc(sizeof(int64_t) * (size_t)G * K);
  out->neigh = malloc(sizeof(float) * (size_t)G * K * 3);
  if (!cidx || !out->centers || !out->idx || !out->neigh) {
    st = ad3d_fail(AD3D_ENOMEM, "patches: out of memory");
    goto cleanup;
  }
  if ((st = kdtree_build(pts, n, &t)))
    goto cleanup;
  switch (sampler) {
  case IMR_SAMPLER_RS:
    st = sample_random(n, G, rng, cidx);
    break;
  case IMR_SAMPLER_FPS:
    st = sample_fps(pts, n, G, 0, cidx);
    break;
  case IMR_SAMPLER_GPS: {
    gps_opts g = gps ? *gps : gps_defaults();
    st = sample_gps(pts, n, G, t, &g, cidx, NULL);
    break;
  }
  case IMR_SAMPLER_VOXEL:
    st = voxel_centres(pts, n, G, rng, out->centers);
    break;
  default:
    st = ad3d_fail(AD3D_EINVAL, "patches: bad sampler %d", (int)sampler);
  }
  if (st)
    goto cleanup;
  if (sampler != IMR_SAMPLER_VOXEL)
    sample_gather(pts, cidx, G, out->centers);
  if ((st = sample_group_knn(t, out->centers, G, K, out->idx)))
    goto cleanup;
  for (int g = 0; g < G; g++)
    for (int k = 0; k < K; k++)
      for (int d = 0; d < 3; d++)
        out->neigh[((size_t)g * K + k) * 3 + d] = pts[out->idx[(size_t)g * K + k] * 3 + d] - out->centers[g * 3 + d];
cleanup:
  kdtree_free(t);
  free(cidx);
  if (st)
    imr_patches_free(out);
  return st;
}

/* ---- masks and reconstruction ---------------------------------------------------------------------- */

imr_recon_opts imr_recon_defaults(void) {
  imr_recon_opts o = {.iterations = 3, .mask_ratio = 0.4, .cover = 0};
  return o;
}

int imr_num_iterations(int G, int M, int T, int cover) {
  if (!cover)
    return T;
  int need = (G + M - 1) / M;
  return T > need ? T : need;
}

static void shuffle(int *p, int n, rng_t *rng) {
  for (int i = 0; i < n; i++)
    p[i] = i;
  for (int i = n - 1; i > 0; i--) {
    int j = (int)rng_below(rng, (uint64_t)i + 1);
    int tmp = p[i];
    p[i] = p[j];
    p[j] = tmp;
  }
}

ad3d_status imr_masks(uint8_t *masks, int G, int M, int T, int cover, rng_t *rng) {
  ASSERT(G >= 2 && M >= 1 && M < G && T >= 1);
  const int Tn = imr_num_iterations(G, M, T, cover);
  if (!cover) {
    mae_mask_random(masks, Tn, G, M, rng);
    return AD3D_OK;
  }
  /* queue[head..len): the patches of the current permutation not yet masked in it */
  int *queue = malloc(sizeof *queue * (size_t)G);
  if (!queue)
    return ad3d_fail(AD3D_ENOMEM, "masks: out of memory");
  shuffle(queue, G, rng);
  int head = 0, len = G;
  for (int t = 0; t < Tn; t++) {
    uint8_t *row = masks + (size_t)t * G;
    memset(row, 0, (size_t)G);
    int got = 0;
    while (got < M && head < len)
      row[queue[head++]] = 1, got++;
    if (got < M) {
      /* a fresh permutation: its first entries not already in this row complete it, the others (these
       * row's earlier entries included) wait their turn in permutation order */
      shuffle(queue, G, rng);
      len = 0;
      for (int i = 0; i < G; i++) {
        if (got < M && !row[queue[i]])
          row[queue[i]] = 1, got++;
        else
          queue[len++] = queue[i];
      }
      head = 0;
    }
  }
  free(queue);
  return AD3D_OK;
}

ad3d_status imr_model_check(const mae_model *m, int G, int K) {
  if (m->cfg.ngroups != G || m->cfg.group_size != K)
    return ad3d_fail(AD3D_EINVAL, "the model groups %d patches of %d points, IMRNet is set for %d of %d",
                     m->cfg.ngroups, m->cfg.group_size, G, K);
  return AD3D_OK;
}

static ad3d_status recon_check(const mae_config *c, const imr_recon_opts *o, int *M) {
  if (o->iterations < 1)
    return ad3d_fail(AD3D_EINVAL, "reconstruction: %d iterations", o->iterations);
  *M = (int)floor(o->mask_ratio * c->ngroups);
  if (*M < 1 || *M >= c->ngroups)
    return ad3d_fail(AD3D_EINVAL, "reconstruction: mask ratio %g masks %d of %d patches (need 1 to %d)",
                     o->mask_ratio, *M, c->ngroups, c->ngroups - 1);
  return AD3D_OK;
}

ad3d_status imr_reconstruct(mae_model *m, const float *neigh, const float *centers, const imr_recon_opts *o,
                            rng_t *rng, float *recon, int *times_masked) {
  const int G = m->cfg.ngroups, K = m->cfg.group_size;
  int M = 0;
  TRY(recon_check(&m->cfg, o, &M));
  const int Tn = imr_num_iterations(G, M, o->iterations, o->cover);
  uint8_t *masks = malloc((size_t)Tn * G);
  if (!masks)
    return ad3d_fail(AD3D_ENOMEM, "reconstruction: out of memory");
  ad3d_status st = imr_masks(masks, G, M, o->iterations, o->cover, rng);
  if (st) {
    free(masks);
    return st;
  }
  memcpy(recon, neigh, sizeof(float) * (size_t)G * K * 3);
  if (times_masked)
    memset(times_masked, 0, sizeof(int) * (size_t)G);
  for (int t = 0; t < Tn; t++) {
    if ((st = mae_forward(m, recon, centers, masks + (size_t)t * G, 1, 0, NULL, NULL))) {
      ad3d_fail_context(st, "reconstruction iteration %d", t + 1);
      break;
    }
    /* pred (M, K, 3) follows msk, the masked patches in increasing order */
    for (int j = 0; j < M; j++) {
      int g = m->acts.msk[j];
      memcpy(recon + (size_t)g * K * 3, m->acts.pred + (size_t)j * K * 3, sizeof(float) * (size_t)K * 3);
      if (times_masked)
        times_masked[g]++;
    }
  }
  free(masks);
  return st;
}

/* ---- features ------------------------------------------------------------------------------------------ */

static int feature_layers(const mae_model *m, int nlayers) {
  return nlayers < m->cfg.decoder_depth ? nlayers : m->cfg.decoder_depth;
}

int imr_feature_dim(const mae_model *m, int nlayers) { return feature_layers(m, nlayers) * m->cfg.width; }

ad3d_status imr_features(mae_model *m, const float *neigh, const float *centers, int nlayers, float *feat) {
  const int G = m->cfg.ngroups, C = m->cfg.width;
  if (nlayers < 1)
    return ad3d_fail(AD3D_EINVAL, "features: %d decoder layers", nlayers);
  const int L = feature_layers(m, nlayers), D = L * C;
  uint8_t *none = calloc((size_t)G, 1);
  if (!none)
    return ad3d_fail(AD3D_ENOMEM, "features: out of memory");
  ad3d_status st = mae_forward(m, neigh, centers, none, 1, 0, NULL, NULL);
  free(none);
  if (st)
    return ad3d_fail_context(st, "features");
  /* with no mask the decoder's tokens are the G patches in order: block l's output is dec_x2 + l G C */
  for (int l = 0; l < L; l++) {
    const float *x = m->acts.dec_x2 + (size_t)l * G * C;
    for (int g = 0; g < G; g++) {
      const float *row = x + (size_t)g * C;
      double mean = 0, var = 0;
      for (int c = 0; c < C; c++)
        mean += row[c];
      mean /= C;
      for (int c = 0; c < C; c++)
        var += (row[c] - mean) * (row[c] - mean);
      double rstd = 1.0 / sqrt(var / C + LN_EPS);
      float *o = feat + (size_t)g * D + (size_t)l * C;
      for (int c = 0; c < C; c++)
        o[c] = (float)((row[c] - mean) * rstd);
    }
  }
  return AD3D_OK;
}

ad3d_status imr_template_regularise(const nnsearch *bank, const float *bank_feats, float *feat, int64_t G, int D,
                                    double delta, int64_t *nreplaced) {
  if (nnsearch_dim(bank) != D)
    return ad3d_fail(AD3D_EINVAL, "template regularisation: features of %d dimensions, bank of %d", D,
                     nnsearch_dim(bank));
  int64_t *idx = malloc(sizeof *idx * (size_t)G);
  float *d2 = malloc(sizeof *d2 * (size_t)G);
  ad3d_status st = AD3D_OK;
  if (!idx || !d2) {
    st = ad3d_fail(AD3D_ENOMEM, "template regularisation: out of memory");
    goto cleanup;
  }
  if ((st = nnsearch_knn(bank, feat, G, 1, idx, d2)))
    goto cleanup;
  int64_t nr = 0;
  for (int64_t g = 0; g < G; g++)
    if (idx[g] >= 0 && sqrt((double)d2[g]) > delta) {
      memcpy(feat + g * D, bank_feats + idx[g] * D, sizeof(float) * (size_t)D);
      nr++;
    }
  if (nreplaced)
    *nreplaced = nr;
cleanup:
  free(idx);
  free(d2);
  return st;
}

/* ---- comparison and interpolation ------------------------------------------------------------------- */

static double nn_d2(const float *p, const float *set, int K) {
  double best = INFINITY;
  for (int j = 0; j < K; j++) {
    double dx = (double)p[0] - set[3 * j], dy = (double)p[1] - set[3 * j + 1], dz = (double)p[2] - set[3 * j + 2];
    double d = dx * dx + dy * dy + dz * dz;
    if (d < best)
      best = d;
  }
  return best;
}

void imr_patch_chamfer(const float *in, const float *rec, int64_t G, int K, float *cd, float *d_in) {
  for (int64_t g = 0; g < G; g++) {
    const float *a = in + (size_t)g * K * 3, *b = rec + (size_t)g * K * 3;
    double s1 = 0, s2 = 0;
    for (int k = 0; k < K; k++) {
      double d = nn_d2(a + 3 * k, b, K);
      s1 += d;
      if (d_in)
        d_in[g * K + k] = (float)d;
    }
    if (cd) {
      for (int k = 0; k < K; k++)
        s2 += nn_d2(b + 3 * k, a, K);
      cd[g] = (float)(s1 / K + s2 / K);
    }
  }
}

ad3d_status imr_point_mean(const int64_t *idx, const float *vals, int64_t G, int K, int64_t n, float *out,
                           int *count) {
  double *sum = calloc((size_t)(n ? n : 1), sizeof *sum);
  int *cnt = count ? count : calloc((size_t)(n ? n : 1), sizeof *cnt);
  if (!sum || !cnt) {
    free(sum);
    if (!count)
      free(cnt);
    return ad3d_fail(AD3D_ENOMEM, "point means: out of memory for %lld points", (long long)n);
  }
  if (count)
    memset(cnt, 0, sizeof *cnt * (size_t)n);
  for (int64_t s = 0; s < G * K; s++) {
    ASSERT(idx[s] >= 0 && idx[s] < n);
    sum[idx[s]] += vals[s];
    cnt[idx[s]]++;
  }
  for (int64_t i = 0; i < n; i++)
    out[i] = cnt[i] ? (float)(sum[i] / cnt[i]) : 0.0f;
  free(sum);
  if (!count)
    free(cnt);
  return AD3D_OK;
}

ad3d_status imr_interpolate(const float *sites, const float *vals, int64_t m, const float *pts, int64_t n, int k,
                            float *out) {
  if (m < 1 || k < 1)
    return ad3d_fail(AD3D_EINVAL, "interpolation: %lld sites, k = %d", (long long)m, k);
  if (k > m)
    k = (int)m;
  kdtree *t = NULL;
  TRY(kdtree_build(sites, m, &t));
  int64_t idx[64];
  float d2[64];
  int64_t *ib = k > 64 ? malloc(sizeof *ib * (size_t)k) : idx;
  float *db = k > 64 ? malloc(sizeof *db * (size_t)k) : d2;
  if (!ib || !db) {
    if (ib != idx)
      free(ib);
    if (db != d2)
      free(db);
    kdtree_free(t);
    return ad3d_fail(AD3D_ENOMEM, "interpolation: out of memory");
  }
  for (int64_t i = 0; i < n; i++) {
    int got = kdtree_knn(t, pts + 3 * i, k, ib, db);
    if (k == 1) {
      out[i] = vals[ib[0]];
      continue;
    }
    double ws = 0, vs = 0;
    for (int j = 0; j < got; j++) {
      double w = 1.0 / ((double)db[j] + 1e-8);
      ws += w;
      vs += w * vals[ib[j]];
    }
    out[i] = (float)(vs / ws);
  }
  if (ib != idx)
    free(ib);
  if (db != d2)
    free(db);
  kdtree_free(t);
  return AD3D_OK;
}

ad3d_status imr_fill_nearest(const float *pts, int64_t n, const uint8_t *have, float *vals) {
  int64_t nh = 0;
  for (int64_t i = 0; i < n; i++)
    nh += have[i] != 0;
  if (nh == n)
    return AD3D_OK;
  if (nh == 0)
    return ad3d_fail(AD3D_EINVAL, "fill: none of %lld points has a value", (long long)n);
  float *sp = malloc(sizeof *sp * (size_t)nh * 3), *sv = malloc(sizeof *sv * (size_t)nh);
  ad3d_status st = AD3D_OK;
  kdtree *t = NULL;
  if (!sp || !sv) {
    st = ad3d_fail(AD3D_ENOMEM, "fill: out of memory");
    goto cleanup;
  }
  for (int64_t i = 0, j = 0; i < n; i++)
    if (have[i]) {
      memcpy(sp + 3 * j, pts + 3 * i, sizeof(float) * 3);
      sv[j++] = vals[i];
    }
  if ((st = kdtree_build(sp, nh, &t)))
    goto cleanup;
  for (int64_t i = 0; i < n; i++)
    if (!have[i]) {
      int64_t j;
      float d2;
      kdtree_knn(t, pts + 3 * i, 1, &j, &d2);
      vals[i] = sv[j];
    }
cleanup:
  kdtree_free(t);
  free(sp);
  free(sv);
  return st;
}

/* ---- whole clouds ------------------------------------------------------------------------------------ */

void imr_unit_sphere(const float *pts, int64_t n, double c[3], double *r) {
  ASSERT(n >= 1);
  double s[3] = {0, 0, 0};
  for (int64_t i = 0; i < n; i++)
    for (int d = 0; d < 3; d++)
      s[d] += pts[3 * i + d];
  for (int d = 0; d < 3; d++)
    c[d] = s[d] / (double)n;
  double best = 0;
  for (int64_t i = 0; i < n; i++) {
    double q = 0;
    for (int d = 0; d < 3; d++)
      q += (pts[3 * i + d] - c[d]) * (pts[3 * i + d] - c[d]);
    if (q > best)
      best = q;
  }
  *r = best > 0 ? sqrt(best) : 1.0;
}

void imr_apply_norm(const float *pts, int64_t n, const double c[3], double r, float *out) {
  for (int64_t i = 0; i < n; i++)
    for (int d = 0; d < 3; d++)
      out[3 * i + d] = (float)((pts[3 * i + d] - c[d]) / r);
}

imr_opts imr_defaults(void) {
  imr_opts o = {.ngroups = 256,
                .group_size = 64,
                .sampler = IMR_SAMPLER_GPS,
                .gps = gps_defaults(),
                .npoints = 0,
                .recon = imr_recon_defaults(),
                .chamfer = 1,
                .chamfer_mode = IMR_CHAMFER_PATCH,
                .features = 1,
                .feature_layers = 3,
                .delta = -1,
                .interp_k = 3};
  return o;
}

ad3d_status imr_train_group(void *ctx, const mae_config *cfg, const float *pts, int64_t n, rng_t *rng, float *neigh,
                            float *centers) {
  const imr_opts *o = ctx;
  const int G = cfg->ngroups, K = cfg->group_size;
  imr_patches p;
  ad3d_status st = imr_patches_make(pts, n, G, K, o->sampler, &o->gps, rng, &p);
  if (st)
    return ad3d_fail_context(st, "%s grouping", imr_sampler_name(o->sampler));
  memcpy(neigh, p.neigh, sizeof(float) * (size_t)G * K * 3);
  memcpy(centers, p.centers, sizeof(float) * (size_t)G * 3);
  imr_patches_free(&p);
  return AD3D_OK;
}

ad3d_status imr_bank_build(imr_bank *b, float *feat, int64_t n, int dim) {
  memset(b, 0, sizeof *b);
  if (n < 1) {
    free(feat);
    return ad3d_fail(AD3D_EINVAL, "template bank: no features");
  }
  ad3d_status st = nnsearch_build(feat, n, dim, &b->index);
  if (st) {
    free(feat);
    return ad3d_fail_context(st, "template bank");
  }
  b->feat = feat;
  b->n = n;
  b->dim = dim;
  return AD3D_OK;
}

void imr_bank_free(imr_bank *b) {
  if (!b)
    return;
  nnsearch_free(b->index);
  free(b->feat);
  memset(b, 0, sizeof *b);
}

/* The cloud the patches are made of: pts itself, or npoints of it at random (*sub owned, *sidx its
 * indices into pts, ascending). */
static ad3d_status reduce_cloud(const float *pts, int64_t n, int64_t npoints, rng_t *rng, float **sub,
                                int64_t **sidx, int64_t *ns) {
  *sub = NULL;
  *sidx = NULL;
  *ns = n;
  if (npoints <= 0 || n <= npoints)
    return AD3D_OK;
  *sidx = malloc(sizeof **sidx * (size_t)npoints);
  *sub = malloc(sizeof **sub * (size_t)npoints * 3);
  if (!*sidx || !*sub) {
    free(*sidx);
    free(*sub);
    *sidx = NULL;
    *sub = NULL;
    return ad3d_fail(AD3D_ENOMEM, "reducing a cloud: out of memory");
  }
  ad3d_status st = sample_random(n, npoints, rng, *sidx);
  if (st) {
    free(*sidx);
    free(*sub);
    *sidx = NULL;
    *sub = NULL;
    return st;
  }
  sample_gather(pts, *sidx, npoints, *sub);
  *ns = npoints;
  return AD3D_OK;
}

static ad3d_status opts_check(const mae_model *m, const imr_opts *o) {
  TRY(imr_model_check(m, o->ngroups, o->group_size));
  if (o->feature_layers < 1 || o->interp_k < 1)
    return ad3d_fail(AD3D_EINVAL, "IMRNet: feature_layers %d and interp_k %d must be >= 1", o->feature_layers,
                     o->interp_k);
  return AD3D_OK;
}

ad3d_status imr_cloud_features(mae_model *m, const float *pts, int64_t n, const imr_opts *o, rng_t *rng,
                               float *feat) {
  TRY(opts_check(m, o));
  float *sub = NULL;
  int64_t *sidx = NULL, ns = 0;
  TRY(reduce_cloud(pts, n, o->npoints, rng, &sub, &sidx, &ns));
  imr_patches p = {0};
  ad3d_status st = imr_patches_make(sub ? sub : pts, ns, o->ngroups, o->group_size, o->sampler, &o->gps, rng, &p);
  if (!st)
    st = imr_features(m, p.neigh, p.centers, o->feature_layers, feat);
  imr_patches_free(&p);
  free(sub);
  free(sidx);
  return st;
}

/* Chamfer map over all n points from the patches p of the scored cloud (sidx: its points' indices in
 * pts, or NULL when it is pts itself). */
static ad3d_status chamfer_map_make(const imr_patches *p, const float *recon, const float *pts, int64_t n,
                                    const int64_t *sidx, int64_t ns, imr_chamfer_mode mode, float *out) {
  const int G = p->G, K = p->K;
  float *vals = malloc(sizeof *vals * (size_t)G * K), *cd = malloc(sizeof *cd * (size_t)G);
  float *sv = malloc(sizeof *sv * (size_t)ns);
  int *cnt = malloc(sizeof *cnt * (size_t)ns);
  uint8_t *have = calloc((size_t)n, 1);
  ad3d_status st = AD3D_OK;
  if (!vals || !cd || !sv || !cnt || !have) {
    st = ad3d_fail(AD3D_ENOMEM, "Chamfer map: out of memory");
    goto cleanup;
  }
  imr_patch_chamfer(p->neigh, recon, G, K, cd, mode == IMR_CHAMFER_POINT ? vals : NULL);
  if (mode == IMR_CHAMFER_PATCH)
    for (int g = 0; g < G; g++)
      for (int k = 0; k < K; k++)
        vals[(size_t)g * K + k] = cd[g];
  if ((st = imr_point_mean(p->idx, vals, G, K, ns, sv, cnt)))
    goto cleanup;
  for (int64_t i = 0; i < ns; i++) {
    int64_t dst = sidx ? sidx[i] : i;
    out[dst] = sv[i];
    have[dst] = cnt[i] > 0;
  }
  st = imr_fill_nearest(pts, n, have, out);
cleanup:
  free(vals);
  free(cd);
  free(sv);
  free(cnt);
  free(have);
  return st;
}

/* Feature map over all n points: |f_in - f_rec| per patch (f_rec regularised), interpolated. */
static ad3d_status feature_map_make(mae_model *m, const imr_patches *p, const float *recon, const float *pts,
                                    int64_t n, const imr_opts *o, const imr_bank *bank, float *out,
                                    int64_t *nreplaced) {
  const int G = p->G, D = imr_feature_dim(m, o->feature_layers);
  float *fin = malloc(sizeof *fin * (size_t)G * D), *frec = malloc(sizeof *frec * (size_t)G * D);
  float *ps = malloc(sizeof *ps * (size_t)G);
  ad3d_status st = AD3D_OK;
  if (!fin || !frec || !ps) {
    st = ad3d_fail(AD3D_ENOMEM, "feature map: out of memory");
    goto cleanup;
  }
  if ((st = imr_features(m, p->neigh, p->centers, o->feature_layers, fin)) ||
      (st = imr_features(m, recon, p->centers, o->feature_layers, frec)))
    goto cleanup;
  if (o->delta >= 0) {
    if (!bank || !bank->index) {
      st = ad3d_fail(AD3D_EINVAL, "feature map: template regularisation without a template bank");
      goto cleanup;
    }
    if ((st = imr_template_regularise(bank->index, bank->feat, frec, G, D, o->delta, nreplaced)))
      goto cleanup;
  }
  for (int g = 0; g < G; g++)
    ps[g] = (float)sqrt(nnsearch_dist2(fin + (size_t)g * D, frec + (size_t)g * D, D));
  st = imr_interpolate(p->centers, ps, G, pts, n, o->interp_k, out);
cleanup:
  free(fin);
  free(frec);
  free(ps);
  return st;
}

ad3d_status imr_score_cloud(mae_model *m, const float *pts, int64_t n, const imr_opts *o, const imr_bank *bank,
                            rng_t *rng, float *chamfer_map, float *feature_map, int64_t *nreplaced) {
  TRY(opts_check(m, o));
  if (nreplaced)
    *nreplaced = 0;
  float *sub = NULL, *recon = NULL;
  int64_t *sidx = NULL, ns = 0;
  imr_patches p = {0};
  TRY(reduce_cloud(pts, n, o->npoints, rng, &sub, &sidx, &ns));
  ad3d_status st = imr_patches_make(sub ? sub : pts, ns, o->ngroups, o->group_size, o->sampler, &o->gps, rng, &p);
  if (st)
    goto cleanup;
  recon = malloc(sizeof *recon * (size_t)p.G * p.K * 3);
  if (!recon) {
    st = ad3d_fail(AD3D_ENOMEM, "IMRNet: out of memory");
    goto cleanup;
  }
  if ((st = imr_reconstruct(m, p.neigh, p.centers, &o->recon, rng, recon, NULL)))
    goto cleanup;
  if (o->chamfer && (st = chamfer_map_make(&p, recon, pts, n, sidx, ns, o->chamfer_mode, chamfer_map)))
    goto cleanup;
  if (o->features && (st = feature_map_make(m, &p, recon, pts, n, o, bank, feature_map, nreplaced)))
    goto cleanup;
cleanup:
  imr_patches_free(&p);
  free(recon);
  free(sub);
  free(sidx);
  return st;
}
