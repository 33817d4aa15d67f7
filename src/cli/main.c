/* main.c - the ad3d program: dispatch to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: ad3d COMMAND [ARGS]\n"
          "\n"
          "commands:\n"
          "  run [JOB.cfg] [options]   run a benchmark job (under mpirun for several ranks)\n"
          "  report RESULTS.h5         I-AUROC and P-AUROC tables of a results file\n"
          "  pretrain [options]        pre-train (or fine-tune) Point-MAE on a corpus (under mpirun for several ranks)\n"
          "  status RESULTS.h5         how far a job has got: done, failed, running, left\n"
          "  merge OUT.h5 IN.h5...     join results files (job array slices) into one\n"
          "  plan RESULTS.h5           replay measured task times on R ranks: makespan vs ideal\n"
          "  check ROOT                validate a dataset folder\n"
          "  synth [options] OUT       make an anomaly dataset (procedural classes or a folder of meshes)\n"
          "  render ...                PNG of a sample coloured by its scores beside its ground truth\n"
          "  info                      methods, dataset layouts and library versions\n"
          "  defaults                  every config key with its default and help\n"
          "\n"
          "`ad3d COMMAND --help` describes a command.\n");
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "run"))
    return cmd_run(argc - 1, argv + 1);
  if (!strcmp(cmd, "report"))
    return cmd_report(argc - 1, argv + 1);
  if (!strcmp(cmd, "check"))
    return cmd_check(argc - 1, argv + 1);
  if (!strcmp(cmd, "pretrain"))
    return cmd_pretrain(argc - 1, argv + 1);
  if (!strcmp(cmd, "synth"))
    return cmd_synth(argc - 1, argv + 1);
  if (!strcmp(cmd, "render"))
    return cmd_render(argc - 1, argv + 1);
  if (!strcmp(cmd, "info"))
    return cmd_info(argc - 1, argv + 1);
  if (!strcmp(cmd, "defaults"))
    return cmd_defaults(argc - 1, argv + 1);
  if (!strcmp(cmd, "merge"))
    return cmd_merge(argc - 1, argv + 1);
  if (!strcmp(cmd, "status"))
    return cmd_status(argc - 1, argv + 1);
  if (!strcmp(cmd, "plan"))
    return cmd_plan(argc - 1, argv + 1);
  fprintf(stderr, "ad3d: unknown command \"%s\"\n\n", cmd);
  usage(stderr);
  return 2;
}
