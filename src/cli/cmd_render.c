/* cmd_render.c - `ad3d render`: a test sample coloured by its point scores beside its ground truth,
 * as a PNG (the paper's Figure 4), from a results file; or a plain cloud with its GT file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg/job.h"
#include "cli/cli.h"
#include "common/util.h"
#include "io/dataset.h"
#include "io/gt.h"
#include "io/pcd.h"
#include "store/results.h"
#include "synth/quick.h"
#include "synth/render.h"

static void usage(FILE *f) {
  fprintf(f, "usage: ad3d render RESULTS.h5 --task KEY [--sample NAME] [options]\n"
             "       ad3d render CLOUD.pcd [--gt GT.txt] [options]\n"
             "\n"
             "Draws a test sample twice, side by side: coloured by its point scores (blue low, red high)\n"
             "and its ground truth (red anomalous). From a results file, the sample's points come from\n"
             "the dataset named in the stored config; --sample defaults to the task's anomalous sample\n"
             "with the highest object score. From a PCD (or a GT file alone) only the ground truth is drawn.\n"
             "\n"
             "options:\n"
             "  -o, --output FILE        PNG to write (default render.png)\n"
             "  --panel PIXELS           size of each square panel (default 480)\n"
             "  --azimuth DEG --elevation DEG   view (default 35, 20)\n");
}

/* The dataset root and layout of dataset `ds` in a results file's stored config. */
static ad3d_status stored_dataset(const char *results, const char *ds, char **root, const dataset_layout **L) {
  char tmp[1024];
  job_t job = {0};
  TRY(stored_job_file(results, tmp, sizeof tmp));
  ad3d_status st = job_load(tmp, NULL, 0, NULL, 0, &job);
  unlink(tmp);
  if (st)
    return ad3d_fail_context(st, "%s: stored config", results);
  char key[256];
  snprintf(key, sizeof key, "datasets.%s.layout", ds);
  const opt_value *layout = opts_find(&job.variants[0].opts, key);
  snprintf(key, sizeof key, "datasets.%s.root", ds);
  const opt_value *r = opts_find(&job.variants[0].opts, key);
  if (!layout || !r || !(*L = dataset_layout_find(layout->s)))
    st = ad3d_fail(AD3D_ENOTFOUND, "%s: the stored config has no dataset \"%s\"", results, ds);
  else if (embedded_is(r->s))
    st = embedded_resolve(r->s, layout->s, root);
  else
    st = (*root = xstrdup(r->s)) ? AD3D_OK : AD3D_ENOMEM;
  job_free(&job);
  return st;
}

/* Points, labels and scores of sample `name` (or the best-scored anomalous one) of task `key`. */
static ad3d_status task_sample(const char *results, const char *key, const char *name, sample_t *s,
                               float **scores) {
  char method[64], ds[64], cls[64];
  if (sscanf(key, "%63[^/]/%63[^/]/%63[^@]@", method, ds, cls) != 3)
    return ad3d_fail(AD3D_EINVAL, "task key \"%s\" is not method/dataset/class@variant", key);
  task_scores sc = {0};
  char *root = NULL;
  const dataset_layout *L = NULL;
  class_index ci = {0};
  TRY(results_read_scores(results, key, &sc));
  int64_t pick = -1, off = 0, pick_off = 0;
  for (int64_t i = 0; i < sc.nsamples; i++) {
    int better = name ? !strcmp(sc.names[i], name)
                      : sc.labels[i] && (pick < 0 || sc.object_scores[i] > sc.object_scores[pick]);
    if (better && (pick < 0 || !name))
      pick = i, pick_off = off;
    off += sc.npoints[i];
  }
  ad3d_status st = AD3D_OK;
  if (pick < 0) {
    st = ad3d_fail(AD3D_ENOTFOUND, "%s: task %s has no %s%s", results, key, name ? "sample " : "anomalous sample",
                   name ? name : "");
    goto cleanup;
  }
  if ((st = stored_dataset(results, ds, &root, &L)) || (st = L->scan_class(root, cls, &ci)))
    goto cleanup;
  const sample_entry *e = NULL;
  for (int i = 0; i < ci.ntest && !e; i++)
    if (!strcmp(ci.test[i].name, sc.names[pick]))
      e = &ci.test[i];
  if (!e) {
    st = ad3d_fail(AD3D_ENOTFOUND, "%s/%s: no test sample %s", root, cls, sc.names[pick]);
    goto cleanup;
  }
  if ((st = L->load_sample(e, 1, s)))
    goto cleanup;
  if (s->cloud.n != sc.npoints[pick]) {
    st = ad3d_fail(AD3D_EINVAL, "%s has %lld points now, %lld when it was scored: the dataset changed", e->name,
                   (long long)s->cloud.n, (long long)sc.npoints[pick]);
    goto cleanup;
  }
  *scores = malloc((size_t)(s->cloud.n + 1) * sizeof **scores);
  if (!*scores) {
    st = ad3d_fail(AD3D_ENOMEM, "out of memory");
    goto cleanup;
  }
  memcpy(*scores, sc.point_scores + pick_off, (size_t)s->cloud.n * sizeof **scores);
cleanup:
  class_index_free(&ci);
  free(root);
  task_scores_free(&sc);
  return st;
}

int cmd_render(int argc, char **argv) {
  const char *input = NULL, *task = NULL, *sample = NULL, *gt = NULL, *out = "render.png";
  int panel = 480;
  render_view v = render_view_default();
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
      usage(stdout);
      return 0;
    } else if (o[0] == '-' && !val) {
      fprintf(stderr, "ad3d render: %s needs a value\n", o);
      return 2;
    } else if (!strcmp(o, "--task"))
      task = argv[++i];
    else if (!strcmp(o, "--sample"))
      sample = argv[++i];
    else if (!strcmp(o, "--gt"))
      gt = argv[++i];
    else if (!strcmp(o, "-o") || !strcmp(o, "--output"))
      out = argv[++i];
    else if (!strcmp(o, "--panel"))
      panel = atoi(argv[++i]);
    else if (!strcmp(o, "--azimuth"))
      v.azimuth = atof(argv[++i]);
    else if (!strcmp(o, "--elevation"))
      v.elevation = atof(argv[++i]);
    else if (o[0] == '-' || input) {
      fprintf(stderr, "ad3d render: unexpected argument %s\n", o);
      usage(stderr);
      return 2;
    } else
      input = o;
  }
  if (!input || panel < 16 || panel > 8192) {
    usage(stderr);
    return 2;
  }
  sample_t s = {0};
  float *scores = NULL;
  ad3d_status st;
  if (str_ends_with(input, ".h5")) {
    if (!task) {
      fprintf(stderr, "ad3d render: a results file needs --task KEY (see ad3d status %s)\n", input);
      return 2;
    }
    st = task_sample(input, task, sample, &s, &scores);
  } else if (str_ends_with(input, ".txt")) /* a GT file alone: points and labels */
    st = gt_read(input, &s.cloud, &s.labels);
  else {
    st = pcd_read(input, &s.cloud, NULL);
    if (!st && gt) {
      cloud_t g = {0};
      uint8_t *labels = NULL;
      st = gt_read(gt, &g, &labels);
      if (!st && g.n != s.cloud.n)
        st = ad3d_fail(AD3D_EFORMAT, "%s has %lld rows, %s %lld points", gt, (long long)g.n, input,
                       (long long)s.cloud.n);
      if (!st) { /* draw the GT's own points: the reference loaders take anomalous clouds from it */
        cloud_free(&s.cloud);
        s.cloud = g;
        s.labels = labels;
      } else {
        cloud_free(&g);
        free(labels);
      }
    }
  }
  if (!st)
    st = render_sample_png(out, s.cloud.xyz, s.cloud.n, scores, s.labels, panel, &v);
  free(scores);
  sample_free(&s);
  if (st) {
    fprintf(stderr, "ad3d render: %s\n", ad3d_errmsg());
    return 1;
  }
  printf("%s\n", out);
  return 0;
}
