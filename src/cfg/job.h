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
/* Details of job_load: in a file an integer is accepted where a real is expected (not the
 * reverse); a list option takes an array or list of strings, or one string read as a comma list;
 * integers beyond 32 bits need libconfig's L suffix (5000000000L); @include paths are relative to
 * the job file. --set datasets.<name>.<opt>=v declares a new dataset. A sweep's values are parsed
 * like the key's values (a --sweep value of a list key is a one-element list); run.output and
 * run.sweep_mode cannot be swept, a key is swept once, its values are distinct. Then every variant
 * must name registered methods and declared datasets with a non-empty root. Errors: EFORMAT (libconfig
 * syntax, "job.cfg:3: syntax error"), ENOTFOUND (unknown section, key, method or dataset, with a
 * "did you mean" when a name is within edit distance 2), EINVAL (type, bounds, choice, sweep),
 * EIO (unreadable file). On error *out is empty (job_free-safe). */
void job_free(job_t *job);

/* Every option with its default and help, as a commented libconfig file (configs/defaults.cfg). */
ad3d_status job_defaults_text(char **text);

/* Dataset names declared in a variant (sorted); use opts_str(o, "datasets.<name>.root") etc.
 * Free *names with strv_free(*names, *n) (common/util.h). */
ad3d_status job_dataset_names(const opts_t *o, char ***names, int *n);

/* The schemas cfg owns (NULL-terminated, like a method's opts): section "run", and section
 * "datasets.<name>" of every declared dataset. The built-in dataset "quick" is
 * { layout = "anomaly_shapenet"; root = "embedded:quick"; }. */
extern const opt_spec job_run_opts[];
extern const opt_spec job_dataset_opts[];
/* Dataset layouts datasets.<name>.layout accepts (NULL-terminated): "anomaly_shapenet", "real3d_ad". */
extern const char *const job_layouts[];

#endif
