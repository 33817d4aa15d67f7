/* cmd_merge.c - `ad3d merge OUT.h5 IN1.h5 IN2.h5 ...`: join results files (the slices of a Slurm
 * job array) into one; the rules are those of store/merge.h. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "store/merge.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: ad3d merge OUT.h5 IN1.h5 [IN2.h5 ...] [--force] [--overwrite] [--quiet]\n"
          "\n"
          "Joins results files of the same job (e.g. the slices of a job array, `ad3d run --slice I/N`)\n"
          "into OUT.h5: every task key once, with its latest committed record and its scores. OUT.h5 may\n"
          "be one of the inputs (to add slices to an earlier merge); it is replaced only once complete.\n"
          "Each record keeps the time it was recorded. Slices (files of `ad3d run --slice I/N`) must be\n"
          "distinct slices of one N; a slice no input holds is reported, its tasks are absent.\n"
          "\n"
          "  --force       join inputs whose configs (run.output, run.blas_threads aside) or seeds differ,\n"
          "                or whose slices repeat or differ in N\n"
          "  --overwrite   replace an existing OUT.h5 that is not one of the inputs\n"
          "  --quiet       no summary line (slices no input holds are still reported)\n"
          "\n"
          "exit status: 0 merged; 1 not merged (message on stderr); 2 bad arguments.\n");
}

int cmd_merge(int argc, char **argv) {
  merge_opts o = {.program_version = AD3D_VERSION};
  int quiet = 0, npos = 0;
  char **pos = argv + 1; /* positional arguments, compacted in place */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--force"))
      o.force = 1;
    else if (!strcmp(a, "--overwrite"))
      o.overwrite = 1;
    else if (!strcmp(a, "--quiet"))
      quiet = 1;
    else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "ad3d merge: unknown option %s\n\n", a);
      usage(stderr);
      return 2;
    } else
      pos[npos++] = argv[i];
  }
  if (npos < 2) {
    usage(stderr);
    return 2;
  }
  merge_summary sum;
  if (results_merge(pos[0], pos + 1, npos - 1, &o, &sum)) {
    fprintf(stderr, "ad3d merge: %s\n", ad3d_errmsg());
    return 1;
  }
  if (!quiet)
    fprintf(stderr, "ad3d merge: %lld tasks (%lld failed) from %d file(s) into %s; %lld older record(s) superseded\n",
            (long long)sum.ntasks, (long long)sum.nfailed, npos - 1, pos[0], (long long)sum.nsuperseded);
  if (sum.slice_count > 0 && sum.missing_slices[0]) /* a warning, even with --quiet */
    fprintf(stderr, "ad3d merge: %d of %d slices merged; no input holds slice(s) %s: their tasks are absent "
            "(`ad3d status %s` lists them as left)\n", (int)sum.nslices, (int)sum.slice_count, sum.missing_slices,
            pos[0]);
  return 0;
}
