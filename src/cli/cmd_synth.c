/* cmd_synth.c - `ad3d synth`: write an anomaly dataset made from procedural shapes or a folder of
 * meshes (synth/synth.h), or a corpus of normal shapes for pre-training. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/opts.h"
#include "synth/procedural.h"
#include "synth/synth.h"

static void usage(FILE *f) {
  fprintf(f, "usage: ad3d synth [--preset NAME] [--OPTION VALUE ...] OUT\n"
             "       ad3d synth --corpus COUNT [--points N] [--seed S] OUT\n"
             "       ad3d synth --list\n"
             "  Write an anomaly-detection dataset made from procedural shapes (or from a folder of meshes\n"
             "  with --meshes DIR) into the new folder OUT: the Anomaly-ShapeNet layout, or Real3D-AD's with\n"
             "  --layout real3d_ad; `ad3d check OUT` validates it. --corpus writes COUNT normal shapes of N\n"
             "  points (default 8192) as ShapeNet-55 .npy files for pre-training. --list prints the classes.\n"
             "\npresets:\n");
  for (const synth_preset *p = synth_presets; p->name; p++)
    fprintf(f, "  %-8s %s\n", p->name, p->help);
  fprintf(f, "\noptions (--name value; '-' may stand for '_'):\n");
  for (int i = 0; synth_opt_specs[i].name; i++)
    fprintf(f, "  --%-16s %s (default %s)\n", synth_opt_specs[i].name, synth_opt_specs[i].help,
            *synth_opt_specs[i].def ? synth_opt_specs[i].def : "empty");
}

static const opt_spec *spec_find(const char *name) {
  char buf[64];
  snprintf(buf, sizeof buf, "%s", name);
  for (char *p = buf; *p; p++)
    if (*p == '-')
      *p = '_';
  for (int i = 0; synth_opt_specs[i].name; i++)
    if (!strcmp(synth_opt_specs[i].name, buf))
      return &synth_opt_specs[i];
  return NULL;
}

static void progress(void *ctx, const char *cls, int done, int total) {
  (void)ctx;
  fprintf(stderr, "synth: %s done (%d/%d)\n", cls, done, total);
}

static int run_corpus(long long count, long long points, long long seed, const char *out) {
  if (synth_corpus_write(out, (uint64_t)seed, count, points) != AD3D_OK) {
    fprintf(stderr, "ad3d synth: %s\n", ad3d_errmsg());
    return 1;
  }
  fprintf(stderr, "synth: %lld shapes of %lld points in %s\n", count, points, out);
  return 0;
}

static int parse_ll(const char *s, long long *v) {
  char *end;
  *v = strtoll(s, &end, 10);
  return *s && !*end;
}

int cmd_synth(int argc, char **argv) {
  opts_t o = {0};
  synth_config c;
  memset(&c, 0, sizeof c);
  const char *out = NULL;
  long long corpus = -1, points = 8192, seed = 0;
  int rc = 2;
  if (opts_set_defaults(&o, "synth", synth_opt_specs) != AD3D_OK) {
    fprintf(stderr, "ad3d synth: %s\n", ad3d_errmsg());
    return 1;
  }
  for (int pass = 0; pass < 2; pass++) /* presets first, whatever their place on the line */
    for (int i = 1; i < argc; i++) {
      const char *a = argv[i];
      int has_value = i + 1 < argc;
      if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
        usage(stdout);
        rc = 0;
        goto done;
      }
      if (!strcmp(a, "--list")) {
        if (pass == 0)
          continue;
        for (int k = 0; proc_families[k].name; k++)
          printf("%-12s %s\n", proc_families[k].name, proc_families[k].style);
        rc = 0;
        goto done;
      }
      if (!strcmp(a, "--preset")) {
        if (!has_value)
          goto missing;
        i++;
        if (pass == 1)
          continue;
        if (synth_preset_apply(&o, argv[i]) != AD3D_OK) {
          fprintf(stderr, "ad3d synth: %s\n", ad3d_errmsg());
          goto done;
        }
        continue;
      }
      if (!strcmp(a, "--corpus") || !strcmp(a, "--points")) {
        if (!has_value)
          goto missing;
        i++;
        if (pass == 1 && !parse_ll(argv[i], !strcmp(a, "--corpus") ? &corpus : &points)) {
          fprintf(stderr, "ad3d synth: %s needs an integer, got \"%s\"\n", a, argv[i]);
          goto done;
        }
        continue;
      }
      if (!strncmp(a, "--", 2)) {
        const opt_spec *sp = spec_find(a + 2);
        if (!sp) {
          fprintf(stderr, "ad3d synth: unknown option %s (see ad3d synth --help)\n", a);
          goto done;
        }
        if (!has_value)
          goto missing;
        i++;
        if (pass == 0)
          continue;
        if (!strcmp(sp->name, "seed"))
          parse_ll(argv[i], &seed);
        if (opts_set_text(&o, "synth", sp, argv[i]) != AD3D_OK) {
          fprintf(stderr, "ad3d synth: %s\n", ad3d_errmsg());
          goto done;
        }
        continue;
      }
      if (pass == 0)
        continue;
      if (out) {
        fprintf(stderr, "ad3d synth: more than one output folder (%s, %s)\n", out, a);
        goto done;
      }
      out = a;
    }
  if (!out) {
    usage(stderr);
    goto done;
  }
  if (corpus >= 0) {
    rc = run_corpus(corpus, points, seed, out);
    goto done;
  }
  if (synth_config_from_opts(&o, &c) != AD3D_OK) {
    fprintf(stderr, "ad3d synth: %s\n", ad3d_errmsg());
    goto done;
  }
  if (synth_dataset_write(&c, &o, out, progress, NULL) != AD3D_OK) {
    fprintf(stderr, "ad3d synth: %s\n", ad3d_errmsg());
    rc = 1;
    goto done;
  }
  fprintf(stderr, "synth: wrote %s (%s layout); check it with: ad3d check%s %s\n", out,
          c.layout == SYNTH_REAL3D_AD ? "real3d_ad" : "anomaly_shapenet",
          c.layout == SYNTH_REAL3D_AD ? " --layout real3d_ad" : "", out);
  rc = 0;
  goto done;
missing:
  fprintf(stderr, "ad3d synth: %s needs a value\n", argv[argc - 1]);
done:
  synth_config_free(&c);
  opts_free(&o);
  return rc;
}
