/* data.c - Point-MAE training corpora (procedural shapes, ShapeNet-55, folders, clouds in memory) and
 * the input pipeline (random sample, unit-sphere normalisation, scale-and-translate augmentation).
 * Not here: batching, masking and the training loop (train.c).
 */
#include "nn/data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "io/npy.h"
#include "io/pcd.h"
#include "synth/meshio.h"
#include "synth/synth.h"


struct corpus {
  corpus_kind kind;
  int64_t n;
  char *describe;
  /* CORPUS_SHAPENET55, CORPUS_FILES */
  char **paths; /* (n) */
  /* CORPUS_SHAPES */
  uint64_t seed;
  /* CORPUS_CLOUDS */
  const cloud_t *clouds; /* (n), borrowed */
};

void corpus_free(corpus *c) {
  if (!c)
    return;
  if (c->paths)
    strv_free(c->paths, (int)c->n);
  free(c->describe);
  free(c);
}

corpus_kind corpus_get_kind(const corpus *c) { return c->kind; }
int64_t corpus_size(const corpus *c) { return c->n; }
const char *corpus_describe(const corpus *c) { return c->describe; }

const char *corpus_path(const corpus *c, int64_t i) {
  ASSERT(i >= 0 && i < c->n);
  return c->paths ? c->paths[i] : NULL;
}

/* ---- opening ----------------------------------------------------------------------------------------- */

static ad3d_status open_shapes(const char *arg, corpus *c) {
  char *end = NULL;
  long long n = strtoll(arg, &end, 10);
  unsigned long long seed = 0;
  int ok = end != arg && n >= 1;
  if (ok && *end == ':') {
    const char *s = end + 1;
    seed = strtoull(s, &end, 10);
    ok = end != s && *s != '-';
  }
  if (!ok || *end)
    return ad3d_fail(AD3D_EINVAL, "corpus shapes:%s: expected shapes:N or shapes:N:SEED with N >= 1", arg);
  c->kind = CORPUS_SHAPES;
  c->n = n;
  c->seed = seed;
  c->describe = str_printf("%lld procedural shapes (seed %llu)", n, seed);
  return c->describe ? AD3D_OK : AD3D_ENOMEM;
}

/* Append s (taken) to the path list. */
static ad3d_status paths_push(corpus *c, int64_t *cap, char *s) {
  if (!s)
    return AD3D_ENOMEM;
  if (c->n == *cap) {
    int64_t nc = *cap ? 2 * *cap : 64;
    char **v = realloc(c->paths, (size_t)nc * sizeof *v);
    if (!v) {
      free(s);
      return ad3d_fail(AD3D_ENOMEM, "corpus: out of memory for the file list");
    }
    c->paths = v;
    *cap = nc;
  }
  c->paths[c->n++] = s;
  return AD3D_OK;
}

static ad3d_status open_shapenet(const char *root, const char *split, corpus *c) {
  char *list = str_printf("%s/%s.txt", root, split);
  if (!list)
    return AD3D_ENOMEM;
  FILE *f = fopen(list, "r");
  if (!f) {
    ad3d_status st = ad3d_fail(is_file(list) ? AD3D_EIO : AD3D_ENOTFOUND, "%s: cannot open the ShapeNet-55 list", list);
    free(list);
    return st;
  }
  c->kind = CORPUS_SHAPENET55;
  int64_t cap = 0;
  char line[1024];
  ad3d_status st = AD3D_OK;
  int lineno = 0;
  while (!st && fgets(line, sizeof line, f)) {
    lineno++;
    size_t len = strlen(line);
    if (len == sizeof line - 1 && line[len - 1] != '\n') {
      st = ad3d_fail(AD3D_EFORMAT, "%s:%d: line too long", list, lineno);
      break;
    }
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
      line[--len] = 0;
    char *s = line;
    while (*s == ' ' || *s == '\t')
      s++;
    if (*s)
      st = paths_push(c, &cap, str_printf("%s/shapenet_pc/%s", root, s));
  }
  fclose(f);
  if (!st && c->n == 0)
    st = ad3d_fail(AD3D_EFORMAT, "%s: no files listed", list);
  if (!st && !(c->describe = str_printf("ShapeNet-55 %s: %lld clouds under %s/shapenet_pc", split, (long long)c->n,
                                        root)))
    st = AD3D_ENOMEM;
  free(list);
  return st;
}

static int is_mesh_file(const char *name) {
  return str_ends_with(name, ".obj") || str_ends_with(name, ".ply") || str_ends_with(name, ".off") ||
         str_ends_with(name, ".stl");
}

/* Every .pcd / .npy cloud and .obj / .ply / .off / .stl mesh below dir, depth first in sorted order. */
static ad3d_status walk_files(corpus *c, int64_t *cap, const char *dir, int depth) {
  if (depth > 64)
    return ad3d_fail(AD3D_EINVAL, "%s: folders nested more than 64 deep", dir);
  char **names = NULL;
  int n = 0;
  TRY(list_dir(dir, NULL, &names, &n));
  ad3d_status st = AD3D_OK;
  for (int i = 0; i < n && !st; i++) {
    if (names[i][0] == '.')
      continue;
    char *p = str_printf("%s/%s", dir, names[i]);
    if (!p) {
      st = AD3D_ENOMEM;
      break;
    }
    if (is_dir(p)) {
      st = walk_files(c, cap, p, depth + 1);
      free(p);
    } else if (is_file(p) && (str_ends_with(names[i], ".pcd") || str_ends_with(names[i], ".npy") ||
                              is_mesh_file(names[i]))) {
      st = paths_push(c, cap, p);
    } else {
      free(p);
    }
  }
  strv_free(names, n);
  return st;
}

static ad3d_status open_folder(const char *dir, corpus *c) {
  c->kind = CORPUS_FILES;
  int64_t cap = 0;
  TRY(walk_files(c, &cap, dir, 0));
  if (c->n == 0)
    return ad3d_fail(AD3D_ENOTFOUND, "%s: no .pcd or .npy files (nor .obj/.ply/.off/.stl meshes) in this folder or below it",
                     dir);
  c->describe = str_printf("%lld files under %s", (long long)c->n, dir);
  return c->describe ? AD3D_OK : AD3D_ENOMEM;
}

ad3d_status corpus_open(const char *spec, corpus **out) {
  *out = NULL;
  corpus *c = calloc(1, sizeof *c);
  if (!c)
    return ad3d_fail(AD3D_ENOMEM, "corpus: out of memory");
  ad3d_status st;
  if (!strncmp(spec, "shapes:", 7)) {
    st = open_shapes(spec + 7, c);
  } else if (!strncmp(spec, "shapenet55:", 11)) {
    const char *rest = spec + 11, *colon = strrchr(rest, ':');
    char *root = colon ? str_printf("%.*s", (int)(colon - rest), rest) : xstrdup(rest);
    st = root ? open_shapenet(root, colon ? colon + 1 : "train", c) : AD3D_ENOMEM;
    free(root);
  } else if (is_dir(spec)) {
    char *list = str_printf("%s/train.txt", spec), *pc = str_printf("%s/shapenet_pc", spec);
    if (!list || !pc)
      st = AD3D_ENOMEM;
    else if (is_file(list) && is_dir(pc))
      st = open_shapenet(spec, "train", c);
    else
      st = open_folder(spec, c);
    free(list);
    free(pc);
  } else {
    st = ad3d_fail(AD3D_ENOTFOUND,
                   "corpus %s: not a folder (expected a folder of .pcd/.npy files, a ShapeNet-55 folder, or "
                   "shapes:N)",
                   spec);
  }
  if (st == AD3D_ENOMEM && !ad3d_errmsg()[0])
    ad3d_fail(AD3D_ENOMEM, "corpus: out of memory");
  if (st) {
    corpus_free(c);
    return st;
  }
  *out = c;
  return AD3D_OK;
}

ad3d_status corpus_from_clouds(const cloud_t *clouds, int n, corpus **out) {
  *out = NULL;
  if (n < 1)
    return ad3d_fail(AD3D_EINVAL, "corpus: %d clouds", n);
  corpus *c = calloc(1, sizeof *c);
  if (!c || !(c->describe = str_printf("%d clouds in memory", n))) {
    free(c);
    return ad3d_fail(AD3D_ENOMEM, "corpus: out of memory");
  }
  c->kind = CORPUS_CLOUDS;
  c->n = n;
  c->clouds = clouds;
  *out = c;
  return AD3D_OK;
}

/* ---- sampling ---------------------------------------------------------------------------------------- */

void pc_normalize(float *pts, int64_t n) {
  if (n < 1)
    return;
  double c[3] = {0, 0, 0};
  for (int64_t i = 0; i < n; i++)
    for (int a = 0; a < 3; a++)
      c[a] += pts[3 * i + a];
  for (int a = 0; a < 3; a++)
    c[a] /= (double)n;
  double r2 = 0;
  for (int64_t i = 0; i < n; i++) {
    double d2 = 0;
    for (int a = 0; a < 3; a++) {
      double d = pts[3 * i + a] - c[a];
      d2 += d * d;
    }
    r2 = d2 > r2 ? d2 : r2;
  }
  double s = r2 > 0 ? 1.0 / sqrt(r2) : 1.0;
  for (int64_t i = 0; i < n; i++)
    for (int a = 0; a < 3; a++)
      pts[3 * i + a] = (float)((pts[3 * i + a] - c[a]) * s);
}

void augment_scale_translate(float *pts, int64_t n, rng_t *rng) {
  double s[3], t[3];
  for (int a = 0; a < 3; a++)
    s[a] = 2.0 / 3.0 + rng_uniform(rng) * (1.5 - 2.0 / 3.0);
  for (int a = 0; a < 3; a++)
    t[a] = -0.2 + rng_uniform(rng) * 0.4;
  for (int64_t i = 0; i < n; i++)
    for (int a = 0; a < 3; a++)
      pts[3 * i + a] = (float)(pts[3 * i + a] * s[a] + t[a]);
}

/* out (m, 3) = m points of xyz (n, 3): a random permutation's first m, then random repeats when n < m. */
static ad3d_status random_subset(const float *xyz, int64_t n, int m, rng_t *rng, float *out) {
  if (n < 1)
    return ad3d_fail(AD3D_EINVAL, "empty cloud");
  int64_t k = n < m ? n : m;
  int64_t *perm = malloc((size_t)n * sizeof *perm);
  if (!perm)
    return ad3d_fail(AD3D_ENOMEM, "out of memory for a permutation of %lld points", (long long)n);
  for (int64_t i = 0; i < n; i++)
    perm[i] = i;
  for (int64_t i = 0; i < k; i++) { /* the first k entries of a Fisher-Yates shuffle */
    int64_t j = i + (int64_t)rng_below(rng, (uint64_t)(n - i));
    int64_t tmp = perm[i];
    perm[i] = perm[j];
    perm[j] = tmp;
  }
  for (int64_t i = 0; i < m; i++) {
    int64_t src = i < k ? perm[i] : (int64_t)rng_below(rng, (uint64_t)n);
    memcpy(out + 3 * i, xyz + 3 * src, 3 * sizeof *out);
  }
  free(perm);
  return AD3D_OK;
}

/* npoints area-uniform points on the surface of m: out (npoints, 3). what names m in messages. */
static ad3d_status mesh_draw(const mesh_t *m, const char *what, int npoints, rng_t *rng, float *out) {
  mesh_sampler ms = {0};
  double *xyz = NULL;
  ad3d_status st = mesh_sampler_init(&ms, m);
  if (st)
    ad3d_fail_context(st, "%s", what);
  if (!st && !(xyz = malloc((size_t)npoints * 3 * sizeof *xyz)))
    st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory sampling %d points", what, npoints);
  if (!st) {
    mesh_sampler_draw(&ms, npoints, rng, xyz, NULL, NULL, NULL);
    for (int64_t k = 0; k < 3 * (int64_t)npoints; k++)
      out[k] = (float)xyz[k];
  }
  free(xyz);
  mesh_sampler_free(&ms);
  return st;
}

/* Procedural object i: the mesh of corpus shape i (synth_corpus_mesh), its points drawn from rng. */
static ad3d_status shape_object(const corpus *c, int64_t i, int npoints, rng_t *rng, float *out) {
  mesh_t m = {0};
  char what[64];
  snprintf(what, sizeof what, "procedural shape %lld", (long long)i);
  ad3d_status st = synth_corpus_mesh(c->seed, i, &m, NULL);
  if (st)
    ad3d_fail_context(st, "%s", what);
  else
    st = mesh_draw(&m, what, npoints, rng, out);
  mesh_free(&m);
  return st;
}

/* npoints area-uniform points on the surface of the mesh in file p: out (npoints, 3). */
static ad3d_status mesh_points(const char *p, int npoints, rng_t *rng, float *out) {
  mesh_t m = {0};
  ad3d_status st = mesh_read(p, &m);
  if (!st)
    st = mesh_draw(&m, p, npoints, rng, out);
  mesh_free(&m);
  return st;
}

ad3d_status corpus_sample(const corpus *c, int64_t i, int npoints, rng_t *rng, float *out) {
  ASSERT(i >= 0 && i < c->n);
  if (npoints < 1)
    return ad3d_fail(AD3D_EINVAL, "corpus: %d points requested", npoints);
  ad3d_status st = AD3D_OK;
  if (c->kind == CORPUS_SHAPES) {
    st = shape_object(c, i, npoints, rng, out);
  } else if (c->kind == CORPUS_CLOUDS) {
    if ((st = random_subset(c->clouds[i].xyz, c->clouds[i].n, npoints, rng, out)))
      ad3d_fail_context(st, "corpus cloud %lld", (long long)i);
  } else {
    const char *p = c->paths[i];
    if (is_mesh_file(p)) {
      st = mesh_points(p, npoints, rng, out);
    } else {
      cloud_t cl = {0};
      st = str_ends_with(p, ".npy") ? npy_read_cloud(p, &cl) : pcd_read(p, &cl, NULL);
      if (!st && (st = random_subset(cl.xyz, cl.n, npoints, rng, out)))
        ad3d_fail_context(st, "%s", p);
      cloud_free(&cl);
    }
  }
  if (!st)
    pc_normalize(out, npoints);
  return st;
}
