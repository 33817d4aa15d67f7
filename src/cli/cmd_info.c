/* cmd_info.c - `ad3d info` and `ad3d defaults`. */
#include <cblas.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg/job.h"
#include "cli/cli.h"
#include "io/dataset.h"
#include "methods/method.h"
#include "store/results.h"
#include "synth/quick.h"

int cmd_info(int argc, char **argv) {
  (void)argv;
  if (argc > 1) {
    fprintf(stdout, "usage: ad3d info\n  methods, dataset layouts, embedded datasets, and the MPI, BLAS and HDF5 this "
                    "build uses\n");
    return argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? 0 : 2;
  }
  printf("ad3d %s\n\nmethods:\n", AD3D_VERSION);
  for (int i = 0; method_registry[i]; i++)
    printf("  %-19s %-20s %s\n", method_registry[i]->name, method_registry[i]->title, method_registry[i]->help);
  printf("\ndataset layouts:\n");
  for (int i = 0; dataset_layouts[i]; i++)
    printf("  %-16s %s\n", dataset_layouts[i]->name, dataset_layouts[i]->help);
  printf("\nembedded datasets (generated into the cache on first use; a job names one as its dataset root):\n");
  for (const embedded_dataset *e = embedded_datasets; e->name; e++)
    printf("  " EMBEDDED_PREFIX "%-17s %s\n", e->name, e->help);
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(mpi, &len);
  char *nl = strchr(mpi, '\n');
  if (nl)
    *nl = '\0';
  printf("\nlibraries:\n  MPI    %s\n  BLAS   %s (%d threads by default)\n  HDF5   %s\n", mpi, openblas_get_config(),
         openblas_get_num_threads(), results_hdf5_version());
  return 0;
}

int cmd_defaults(int argc, char **argv) {
  (void)argv;
  if (argc > 1) {
    printf("usage: ad3d defaults\n  print every config key with its default and help (configs/defaults.cfg)\n");
    return 2;
  }
  char *text = NULL;
  if (job_defaults_text(&text)) {
    fprintf(stderr, "ad3d defaults: %s\n", ad3d_errmsg());
    return 1;
  }
  fputs(text, stdout);
  free(text);
  return 0;
}
