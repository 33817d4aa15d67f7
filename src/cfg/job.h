/* job.h - a job: the resolved configuration of one `ad3d run`, expanded into variants.
 *
 * Sources, later ones winning: the built-in defaults (every option table: run, each dataset,
 * each registered method), the job file (libconfig syntax), then `--set key=value` overrides.
 * Strict: an unknown key, a wrong type or an out-of-bounds value is an error that names the file
 * and line (or the --set argument). Keys are flat paths:
 *
 *   run.seed  run.output  run.methods  run.datasets  run.classes  run.blas_threads  run.sweep_mode
 *   datasets.<name>.layout  datasets.<name>.root  datasets.<name>.classes
 *   <method>.<option>                                  (e.g. btf_raw.train_stride)
 *
 * A job file:
 *   run = { seed = 1; output = "quick.h5"; methods = ["btf_raw"]; datasets = ["quick"]; };
 *   datasets = { quick = { layout = "anomaly_shapenet"; root = "embedded:quick"; }; };
 *   btf_raw = { train_stride = 100; };
 *   sweep = ( { key = "btf_raw.train_stride"; values = [50, 100]; } );
 *
 * A sweep makes variants: the grid (cartesian product) of all sweep entries, or with
 * run.sweep_mode = "zip" the i-th values of every entry together. Each variant is a complete
 * resolved option set, named "default" without a sweep and "key=value,key=value" with one.
 */
#ifndef AD3D_CFG_JOB_H
#define AD3D_CFG_JOB_H

#include "common/opts.h"

typedef struct {
  char *name;  /* "default" or "btf_raw.train_stride=50" */
  opts_t opts; /* every key resolved */
} job_variant;

typedef struct {
  int nvariants;
  job_variant *variants;
  char *resolved_text; /* base options + sweep, as a libconfig file that job_load reads back identically */
} job_t;

/* Load a job. path may be NULL (defaults only). sets: "key=value" strings (list values as
 * "a,b,c"); sweeps: "key=v1,v2,..." strings added to the file's sweep. On error the message names
 * the file and line or the offending argument. */
ad3d_status job_load(const char *path, char *const *sets, int nsets, char *const *sweeps, int nsweeps, job_t *out);
void job_free(job_t *job);

/* Every option with its default and help, as a commented libconfig file (configs/defaults.cfg). */
ad3d_status job_defaults_text(char **text);

/* Dataset names declared in a variant (sorted); use opts_str(o, "datasets.<name>.root") etc. */
ad3d_status job_dataset_names(const opts_t *o, char ***names, int *n);

#endif
