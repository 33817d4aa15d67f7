/* cmd_check.c - `ad3d check ROOT`: validate a dataset folder (or an embedded dataset, made first). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "io/dataset.h"
#include "synth/quick.h"

static void usage(FILE *f) {
  fprintf(f, "usage: ad3d check [--layout NAME] ROOT [CLASS...]\n"
             "  validate a dataset folder and print per-class statistics and every problem found;\n"
             "  exits 1 when there are problems. Layouts: ");
  for (int i = 0; dataset_layouts[i]; i++)
    fprintf(f, "%s%s", i ? ", " : "", dataset_layouts[i]->name);
  fprintf(f, " (default anomaly_shapenet).\n"
             "  ROOT may name an embedded dataset (generated into the cache first; its own layout by default): ");
  for (const embedded_dataset *e = embedded_datasets; e->name; e++)
    fprintf(f, "%s" EMBEDDED_PREFIX "%s", e == embedded_datasets ? "" : ", ", e->name);
  fprintf(f, ".\n");
}

int cmd_check(int argc, char **argv) {
  const char *layout = NULL, *root = NULL; /* layout NULL: not given */
  char **classes = calloc((size_t)argc, sizeof *classes);
  int ncls = 0;
  if (!classes)
    return 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      free(classes);
      return 0;
    } else if (!strcmp(argv[i], "--layout") && i + 1 < argc)
      layout = argv[++i];
    else if (argv[i][0] == '-') {
      fprintf(stderr, "ad3d check: unknown option %s\n", argv[i]);
      usage(stderr);
      free(classes);
      return 2;
    } else if (!root)
      root = argv[i];
    else
      classes[ncls++] = argv[i];
  }
  const embedded_dataset *e = NULL;
  if (root && embedded_is(root) && embedded_find(root, &e)) {
    fprintf(stderr, "ad3d check: %s\n", ad3d_errmsg());
    free(classes);
    return 1;
  }
  const dataset_layout *L = dataset_layout_find(layout ? layout : e ? e->layout : "anomaly_shapenet");
  if (!root || !L) {
    if (!L)
      fprintf(stderr, "ad3d check: unknown layout \"%s\"\n", layout);
    usage(stderr);
    free(classes);
    return 2;
  }
  int nproblems = 0;
  char *cache = NULL;
  ad3d_status st = AD3D_OK;
  if (e && !(st = embedded_resolve(root, L->name, &cache)))
    root = cache;
  if (!st)
    st = dataset_check(L, root, classes, ncls, stdout, &nproblems);
  free(cache);
  free(classes);
  if (st) {
    fprintf(stderr, "ad3d check: %s\n", ad3d_errmsg());
    return 1;
  }
  return nproblems > 0;
}
