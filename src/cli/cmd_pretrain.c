/* cmd_pretrain.c - `ad3d pretrain`: parse the command line into the pretrain options, run them under MPI. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/opts.h"
#include "common/util.h"
#include "runner/pretrain.h"


static void usage(FILE *f) {
  fprintf(f,
          "usage: [mpirun -np N] ad3d pretrain [options]\n"
          "\n"
          "Self-supervised Point-MAE pre-training (Chamfer-L2 reconstruction of masked patches) on a corpus,\n"
          "data parallel over the MPI ranks, with a checkpoint per epoch in the output folder. Running the same\n"
          "command again resumes after the last finished epoch.\n"
          "\n"
          "options:\n"
          "  --corpus SPEC        shapes:N[:SEED] (generated shapes), a ShapeNet-55 folder (train.txt and\n"
          "                       shapenet_pc/), shapenet55:DIR:SPLIT, or a folder of .pcd/.npy clouds and\n"
          "                       .obj/.ply/.off/.stl meshes (area-uniform samples)\n"
          "  --output DIR         checkpoint folder (last.h5 after every epoch)\n"
          "  --preset NAME        paper (Point-MAE's pretrain.yaml, the default) or small (a 1.4M-parameter model,\n"
          "                       40 epochs of batch 32: minutes on 2 cores); applied before any --set\n"
          "  --init CKPT          start from a checkpoint's weights and architecture (fine-tuning)\n"
          "  --epochs N  --batch N  --seed N  --threads N   shortcuts for --set epochs=N, ...\n"
          "  --set KEY=VALUE      any pretrain option (repeatable); `ad3d pretrain --options` lists them\n"
          "  --no-resume          start over even if the output folder holds a checkpoint\n"
          "  --quiet              no progress lines\n"
          "  --options            print every option with its default and help\n"
          "\n"
          "exit status: 0 when every epoch is done, 1 when training failed, 2 for bad arguments.\n");
}

static void print_options(FILE *f) {
  for (const opt_spec *s = pretrain_opt_specs; s->name; s++)
    fprintf(f, "  %-17s %-8s default %-14s %s\n", s->name, opt_type_name(s->type), s->def[0] ? s->def : "\"\"",
            s->help);
}

/* --set KEY=VALUE against the pretrain table. 0 ok, else 2 with a message. */
static int apply_set(opts_t *o, const char *kv) {
  const char *eq = strchr(kv, '=');
  char key[64];
  if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof key) {
    fprintf(stderr, "ad3d pretrain: --set %s: expected KEY=VALUE\n", kv);
    return 2;
  }
  snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
  if (!strncmp(key, "pretrain.", 9))
    memmove(key, key + 9, strlen(key + 9) + 1);
  for (const opt_spec *s = pretrain_opt_specs; s->name; s++)
    if (!strcmp(s->name, key)) {
      if (opts_set_text(o, "pretrain", s, eq + 1) != AD3D_OK) {
        fprintf(stderr, "ad3d pretrain: --set %s: %s\n", kv, ad3d_errmsg());
        return 2;
      }
      return 0;
    }
  fprintf(stderr, "ad3d pretrain: --set %s: unknown option \"%s\" (see ad3d pretrain --options)\n", kv, key);
  return 2;
}

int cmd_pretrain(int argc, char **argv) {
  static const struct {
    const char *flag, *key;
  } shortcuts[] = {{"--corpus", "corpus"}, {"--output", "output"}, {"--init", "init"},        {"--epochs", "epochs"},
                   {"--batch", "batch"},   {"--seed", "seed"},     {"--threads", "blas_threads"}};
  const char *preset = "paper";
  int quiet = 0, rc = 2;
  char **sets = calloc((size_t)argc + 1, sizeof *sets);
  int nsets = 0;
  opts_t o = {0};
  if (!sets) {
    fprintf(stderr, "ad3d pretrain: out of memory\n");
    return 2;
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    int matched = 0;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      rc = 0;
      goto done;
    } else if (!strcmp(a, "--options")) {
      print_options(stdout);
      rc = 0;
      goto done;
    } else if (!strcmp(a, "--quiet")) {
      quiet = 1;
      continue;
    } else if (!strcmp(a, "--no-resume")) {
      sets[nsets++] = xstrdup("resume=false");
      continue;
    }
    if (!val || a[0] != '-') {
      fprintf(stderr, "ad3d pretrain: %s %s\n", a, a[0] == '-' ? "needs a value" : "is not an option");
      usage(stderr);
      goto done;
    }
    if (!strcmp(a, "--preset")) {
      preset = argv[++i];
      continue;
    }
    if (!strcmp(a, "--set")) {
      sets[nsets++] = xstrdup(argv[++i]);
      continue;
    }
    for (size_t k = 0; k < sizeof shortcuts / sizeof shortcuts[0]; k++)
      if (!strcmp(a, shortcuts[k].flag)) {
        sets[nsets++] = str_printf("%s=%s", shortcuts[k].key, argv[++i]);
        matched = 1;
        break;
      }
    if (!matched) {
      fprintf(stderr, "ad3d pretrain: unknown option %s\n", a);
      usage(stderr);
      goto done;
    }
  }
  if (pretrain_preset(&o, preset) != AD3D_OK) {
    fprintf(stderr, "ad3d pretrain: --preset %s: %s\n", preset, ad3d_errmsg());
    goto done;
  }
  for (int i = 0; i < nsets; i++)
    if (!sets[i] || apply_set(&o, sets[i]))
      goto done;
  pretrain_args args;
  if (pretrain_args_from_opts(&o, &args) != AD3D_OK) {
    fprintf(stderr, "ad3d pretrain: %s\n", ad3d_errmsg());
    goto done;
  }
  args.quiet = quiet;

  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  pretrain_summary sum;
  ad3d_status st = pretrain_run(&args, MPI_COMM_WORLD, stderr, &sum);
  if (st && rank == 0)
    fprintf(stderr, "ad3d pretrain: %s\n", ad3d_errmsg());
  else if (st)
    fprintf(stderr, "ad3d pretrain: rank %d: %s\n", rank, ad3d_errmsg());
  rc = st ? 1 : 0;
  fflush(stdout);
  fflush(stderr);
  MPI_Finalize();
done:
  for (int i = 0; i < nsets; i++)
    free(sets[i]);
  free(sets);
  opts_free(&o);
  return rc;
}
