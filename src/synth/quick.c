/* quick.c - the embedded quick dataset: recipe, sample generator, writer and cache (see quick.h).
 *
 * Each sample's randomness comes from four streams keyed by its stem ("<stem>/pose", "/points",
 * "/defect", "/noise"), so samples are independent of each other and of the order they are made
 * in, and quick_sample_surface can redraw a sample's pose without its points. Arithmetic is in
 * double with plain libm calls and the library is compiled without floating-point contraction
 * (see CMakeLists.txt), so the files are bit-identical across machines for one version.
 */
#include "synth/quick.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/rng.h"
#include "common/util.h"
#include "io/gt.h"
#include "io/pcd.h"
#include "synth/defects.h"
#include "synth/shapes.h"

#define QUICK_SEED 0x71c3d0a5e1b24f09ULL

#define QUICK_MIN_POINTS 2200
#define QUICK_POINT_SPREAD 601 /* point counts 2200 .. 2800 */
#define QUICK_SCALE_JITTER 0.03
#define QUICK_MAX_ANGLE (5.0 * M_PI / 180.0)
#define QUICK_NOISE 0.002

const char *const quick_classes[] = {"sphere0", "cup0", "torus0", "box0", "vase0", NULL};
static const char *const quick_shapes[] = {"ellipsoid", "cup", "torus", "rounded_box", "vase", NULL};
const char *const quick_defects[] = {"bulge", "concavity", "hole", NULL};

typedef enum { KIND_TEMPLATE, KIND_POSITIVE, KIND_DEFECT } sample_kind;

typedef struct {
  int cls;            /* index into quick_classes */
  sample_kind kind;
  defect_kind defect; /* KIND_DEFECT only */
} stem_info;

typedef struct {
  double scale;
  double rot[9]; /* row-major rotation */
  int64_t npoints;
} pose_t;

/* Parse "<cls>_<kind><k>". */
static ad3d_status stem_parse(const char *stem, stem_info *si) {
  const char *us = strchr(stem, '_');
  if (!us)
    goto bad;
  si->cls = -1;
  for (int i = 0; quick_classes[i]; i++)
    if (strlen(quick_classes[i]) == (size_t)(us - stem) && !strncmp(stem, quick_classes[i], (size_t)(us - stem)))
      si->cls = i;
  if (si->cls < 0)
    goto bad;
  const char *word = us + 1, *digits = word;
  while (*digits >= 'a' && *digits <= 'z')
    digits++;
  if (!*digits || strspn(digits, "0123456789") != strlen(digits))
    goto bad;
  char kind[32];
  size_t wl = (size_t)(digits - word);
  if (wl == 0 || wl >= sizeof kind)
    goto bad;
  memcpy(kind, word, wl);
  kind[wl] = '\0';
  if (!strcmp(kind, "template"))
    si->kind = KIND_TEMPLATE;
  else if (!strcmp(kind, "positive"))
    si->kind = KIND_POSITIVE;
  else if (defect_kind_parse(kind, &si->defect) == AD3D_OK)
    si->kind = KIND_DEFECT;
  else
    goto bad;
  return AD3D_OK;
bad:
  return ad3d_fail(AD3D_EINVAL, "\"%s\" names no quick-dataset sample (expected <class>_<kind><k>, class one of "
                   "sphere0 cup0 torus0 box0 vase0, kind template, positive, bulge, concavity or hole)", stem);
}

static void stream_seed(rng_t *r, const char *stem, const char *what) {
  char key[160];
  snprintf(key, sizeof key, "quick-v%d/%s/%s", QUICK_DATASET_VERSION, stem, what);
  rng_seed_key(r, QUICK_SEED, key);
}

/* Scale, rotation (Rodrigues, random axis) and point count of a sample. */
static void pose_draw(const char *stem, pose_t *p) {
  rng_t r;
  stream_seed(&r, stem, "pose");
  p->scale = 1.0 + QUICK_SCALE_JITTER * (2.0 * rng_uniform(&r) - 1.0);
  double k[3] = {rng_normal(&r), rng_normal(&r), rng_normal(&r)};
  double kl = sqrt(k[0] * k[0] + k[1] * k[1] + k[2] * k[2]);
  for (int a = 0; a < 3; a++)
    k[a] = kl > 0 ? k[a] / kl : (a == 2);
  double th = QUICK_MAX_ANGLE * (2.0 * rng_uniform(&r) - 1.0), c = cos(th), s = sin(th);
  double K[9] = {0, -k[2], k[1], k[2], 0, -k[0], -k[1], k[0], 0};
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      p->rot[3 * i + j] = (i == j ? c : 0.0) + s * K[3 * i + j] + (1.0 - c) * k[i] * k[j];
  p->npoints = QUICK_MIN_POINTS + (int64_t)rng_below(&r, QUICK_POINT_SPREAD);
}

/* out (n, 3) float32 = scale * rot * xyz (n, 3) + noise * N(0, 1) per coordinate (rng NULL: none). */
static void pose_apply(const pose_t *p, const double *xyz, int64_t n, rng_t *noise, float *out) {
  for (int64_t i = 0; i < n; i++) {
    const double *q = xyz + 3 * i;
    for (int a = 0; a < 3; a++) {
      double v = p->scale * (p->rot[3 * a] * q[0] + p->rot[3 * a + 1] * q[1] + p->rot[3 * a + 2] * q[2]);
      if (noise)
        v += QUICK_NOISE * rng_normal(noise);
      out[3 * i + a] = (float)v;
    }
  }
}

/* A defect of the given kind centred on a random point of the shape. */
static void defect_draw(const shape_t *shape, defect_kind kind, const char *stem, defect_t *d) {
  rng_t r;
  stream_seed(&r, stem, "defect");
  memset(d, 0, sizeof *d);
  d->kind = kind;
  shape_sample(shape, 1, &r, d->centre, d->normal);
  if (kind == DEFECT_HOLE) {
    d->radius = 0.18 + 0.06 * rng_uniform(&r);
    d->rim = 0.06;
  } else {
    d->radius = 0.16 + 0.08 * rng_uniform(&r);
    d->amplitude = 0.07 + 0.04 * rng_uniform(&r);
    d->threshold = 0.1 * d->amplitude;
  }
}

ad3d_status quick_sample_make(const char *stem, sample_t *out) {
  memset(out, 0, sizeof *out);
  stem_info si;
  TRY(stem_parse(stem, &si));
  shape_t shape;
  TRY(shape_init(&shape, quick_shapes[si.cls]));
  ad3d_status st = AD3D_OK;
  pose_t pose;
  pose_draw(stem, &pose);
  int64_t n = pose.npoints;
  double *xyz = malloc((size_t)n * 3 * sizeof *xyz);      /* (n, 3) */
  double *normals = malloc((size_t)n * 3 * sizeof *xyz);  /* (n, 3) */
  uint8_t *labels = calloc((size_t)n, 1);                 /* (n) */
  if (!xyz || !normals || !labels) {
    st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory generating %lld points", stem, (long long)n);
    goto cleanup;
  }
  rng_t r;
  stream_seed(&r, stem, "points");
  shape_sample(&shape, n, &r, xyz, normals);
  if (si.kind == KIND_DEFECT) {
    defect_t d;
    defect_draw(&shape, si.defect, stem, &d);
    defect_apply(&d, &n, xyz, normals, labels);
  }
  if ((st = cloud_alloc(&out->cloud, n)))
    goto cleanup;
  stream_seed(&r, stem, "noise");
  pose_apply(&pose, xyz, n, &r, out->cloud.xyz);
  out->name = xstrdup(stem);
  out->defect = xstrdup(si.kind == KIND_DEFECT ? defect_kind_name(si.defect) : "good");
  out->anomalous = si.kind == KIND_DEFECT;
  if (!out->name || !out->defect) {
    st = AD3D_ENOMEM;
    goto cleanup;
  }
  if (si.kind != KIND_TEMPLATE) {
    out->labels = labels;
    labels = NULL;
  }
cleanup:
  if (st)
    sample_free(out);
  free(xyz);
  free(normals);
  free(labels);
  shape_free(&shape);
  return st;
}

ad3d_status quick_sample_surface(const char *stem, int64_t n, cloud_t *out) {
  out->n = 0;
  out->xyz = NULL;
  if (n < 0)
    return ad3d_fail(AD3D_EINVAL, "%s: negative point count %lld", stem, (long long)n);
  stem_info si;
  TRY(stem_parse(stem, &si));
  shape_t shape;
  TRY(shape_init(&shape, quick_shapes[si.cls]));
  ad3d_status st = AD3D_OK;
  pose_t pose;
  pose_draw(stem, &pose);
  double *xyz = malloc((size_t)(n ? n : 1) * 3 * sizeof *xyz);     /* (n, 3) */
  double *normals = malloc((size_t)(n ? n : 1) * 3 * sizeof *xyz); /* (n, 3) */
  if (!xyz || !normals) {
    st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory sampling %lld surface points", stem, (long long)n);
    goto cleanup;
  }
  rng_t r;
  stream_seed(&r, stem, "surface");
  shape_sample(&shape, n, &r, xyz, normals);
  if ((st = cloud_alloc(out, n)))
    goto cleanup;
  pose_apply(&pose, xyz, n, NULL, out->xyz);
cleanup:
  free(xyz);
  free(normals);
  shape_free(&shape);
  return st;
}

/* Generate sample `stem` and write <root>/<cls>/<sub>/<stem>.pcd, plus GT/<stem>.txt if anomalous. */
static ad3d_status sample_write(const char *root, const char *cls, const char *sub, const char *stem) {
  sample_t s;
  char *pcd = NULL, *gt = NULL;
  ad3d_status st = quick_sample_make(stem, &s);
  if (st)
    return st;
  pcd = str_printf("%s/%s/%s/%s.pcd", root, cls, sub, stem);
  gt = str_printf("%s/%s/GT/%s.txt", root, cls, stem);
  if (!pcd || !gt) {
    st = AD3D_ENOMEM;
    goto cleanup;
  }
  if ((st = pcd_write(pcd, &s.cloud, PCD_BINARY)))
    goto cleanup;
  if (s.anomalous)
    st = gt_write(gt, &s.cloud, s.labels, ',');
cleanup:
  sample_free(&s);
  free(pcd);
  free(gt);
  return st;
}

static ad3d_status class_write(const char *root, const char *cls) {
  static const char *const subs[] = {"train", "test", "GT"};
  char stem[96];
  for (int i = 0; i < 3; i++) {
    char *dir = str_printf("%s/%s/%s", root, cls, subs[i]);
    if (!dir)
      return AD3D_ENOMEM;
    ad3d_status st = mkdir_p(dir);
    free(dir);
    TRY(st);
  }
  for (int k = 0; k < QUICK_NTRAIN; k++) {
    snprintf(stem, sizeof stem, "%s_template%d", cls, k);
    TRY(sample_write(root, cls, "train", stem));
  }
  for (int k = 0; k < QUICK_NPOSITIVE; k++) {
    snprintf(stem, sizeof stem, "%s_positive%d", cls, k);
    TRY(sample_write(root, cls, "test", stem));
  }
  for (int d = 0; quick_defects[d]; d++)
    for (int k = 0; k < QUICK_NPER_DEFECT; k++) {
      snprintf(stem, sizeof stem, "%s_%s%d", cls, quick_defects[d], k);
      TRY(sample_write(root, cls, "test", stem));
    }
  return AD3D_OK;
}

ad3d_status quick_dataset_write(const char *root) {
  if (is_dir(root)) {
    char **names;
    int n;
    TRY(list_dir(root, NULL, &names, &n));
    strv_free(names, n);
    if (n > 0)
      return ad3d_fail(AD3D_EINVAL, "%s: folder is not empty; the quick dataset is written only into a new or "
                       "empty folder", root);
  }
  TRY(mkdir_p(root));
  for (int c = 0; quick_classes[c]; c++)
    TRY(class_write(root, quick_classes[c]));
  return AD3D_OK;
}

ad3d_status quick_cache_dir(char **dir) {
  const char *v;
  *dir = NULL;
  if ((v = getenv("AD3D_CACHE")) && *v)
    *dir = xstrdup(v);
  else if ((v = getenv("XDG_CACHE_HOME")) && *v)
    *dir = str_printf("%s/ad3d", v);
  else if ((v = getenv("HOME")) && *v)
    *dir = str_printf("%s/.cache/ad3d", v);
  else
    return ad3d_fail(AD3D_EINVAL, "no cache folder for the quick dataset: set AD3D_CACHE (or XDG_CACHE_HOME or HOME)");
  return *dir ? AD3D_OK : AD3D_ENOMEM;
}

/* Remove a temporary folder after a failure without losing the failure's message. */
static ad3d_status discard_tmp(const char *tmp, ad3d_status st) {
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", ad3d_errmsg());
  remove_tree(tmp);
  return ad3d_fail(st, "%s", msg);
}

/* Remove the temporary folders <final>.tmp.<pid>.<host> that killed runs on this host left behind:
 * those whose process no longer exists. Best effort: errors are ignored. */
static void stale_tmp_remove(const char *cache, const char *host) {
  char prefix[64], **names;
  int n;
  snprintf(prefix, sizeof prefix, "quick-v%d.tmp.", QUICK_DATASET_VERSION);
  if (list_dir(cache, NULL, &names, &n) != AD3D_OK) {
    ad3d_clear_error();
    return;
  }
  for (int i = 0; i < n; i++) {
    if (strncmp(names[i], prefix, strlen(prefix)))
      continue;
    char *end;
    long pid = strtol(names[i] + strlen(prefix), &end, 10);
    if (*end != '.' || strcmp(end + 1, host) || pid <= 0 || pid == (long)getpid())
      continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
      continue; /* alive (or not ours to probe): maybe still writing */
    char *path = str_printf("%s/%s", cache, names[i]);
    if (path)
      remove_tree(path);
    free(path);
  }
  strv_free(names, n);
  ad3d_clear_error();
}

ad3d_status quick_dataset_ensure(char **root) {
  char *cache = NULL, *final = NULL, *tmp = NULL;
  char host[64] = "host";
  ad3d_status st;
  *root = NULL;
  TRY(quick_cache_dir(&cache));
  final = str_printf("%s/quick-v%d", cache, QUICK_DATASET_VERSION);
  if (!final) {
    st = AD3D_ENOMEM;
    goto cleanup;
  }
  if (is_dir(final)) {
    st = AD3D_OK;
    goto done;
  }
  if ((st = mkdir_p(cache)))
    goto cleanup;
  /* pid plus host name: unique among processes sharing a cache folder over a network file system */
  if (gethostname(host, sizeof host) != 0)
    snprintf(host, sizeof host, "host");
  host[sizeof host - 1] = '\0';
  tmp = str_printf("%s.tmp.%ld.%s", final, (long)getpid(), host);
  if (!tmp) {
    st = AD3D_ENOMEM;
    goto cleanup;
  }
  stale_tmp_remove(cache, host);
  if ((is_dir(tmp) || is_file(tmp)) && (st = remove_tree(tmp))) /* left by a killed run with our pid */
    goto cleanup;
  if ((st = quick_dataset_write(tmp))) {
    st = discard_tmp(tmp, st);
    goto cleanup;
  }
  if (rename(tmp, final) != 0) {
    int err = errno;
    if (is_dir(final)) { /* another process finished first: use theirs */
      remove_tree(tmp);
      ad3d_clear_error();
    } else {
      st = ad3d_fail(AD3D_EIO, "cannot rename %s to %s: %s", tmp, final, strerror(err));
      st = discard_tmp(tmp, st);
      goto cleanup;
    }
  }
done:
  *root = final;
  final = NULL;
cleanup:
  free(cache);
  free(final);
  free(tmp);
  return st;
}
