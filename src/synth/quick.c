/* quick.c - the embedded datasets: synth presets written once into the cache (see quick.h). */
#include "synth/quick.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/opts.h"
#include "common/util.h"
#include "synth/synth.h"

const embedded_dataset embedded_datasets[] = {
    {"quick", "quick", "anomaly_shapenet", 2,
     "5 generated classes, ~2.5k points (anomaly_shapenet layout); seconds to make"},
    {"anomaly_shapenet", "paper", "anomaly_shapenet", 1,
     "the 40 generated classes at Anomaly-ShapeNet's size (anomaly_shapenet layout); ~2 min, 1.2 GB to make"},
    {"real3d_ad", "real3d", "real3d_ad", 1,
     "12 generated classes in mm, full-scan templates, partial test scans (real3d_ad layout); ~20 s"},
    {NULL, NULL, NULL, 0, NULL},
};

int embedded_is(const char *root) { return !strncmp(root, EMBEDDED_PREFIX, strlen(EMBEDDED_PREFIX)); }

ad3d_status embedded_find(const char *root, const embedded_dataset **e) {
  *e = NULL;
  if (embedded_is(root))
    for (const embedded_dataset *d = embedded_datasets; d->name; d++)
      if (!strcmp(root + strlen(EMBEDDED_PREFIX), d->name)) {
        *e = d;
        return AD3D_OK;
      }
  char known[256] = "";
  for (const embedded_dataset *d = embedded_datasets; d->name; d++)
    snprintf(known + strlen(known), sizeof known - strlen(known), "%s" EMBEDDED_PREFIX "%s",
             d == embedded_datasets ? "" : ", ", d->name);
  return ad3d_fail(AD3D_ENOTFOUND, "unknown embedded dataset \"%s\" (known: %s)", root, known);
}

ad3d_status embedded_dataset_write(const embedded_dataset *e, const char *root) {
  opts_t o = {0};
  synth_config c;
  memset(&c, 0, sizeof c);
  const opt_spec *layout = synth_opt_specs;
  while (strcmp(layout->name, "layout"))
    layout++;
  /* as `ad3d synth --preset P --layout L`: the preset over the defaults, then the layout */
  ad3d_status st = opts_set_defaults(&o, "synth", synth_opt_specs);
  if (!st)
    st = synth_preset_apply(&o, e->preset);
  if (!st)
    st = opts_set_text(&o, "synth", layout, e->layout);
  if (!st)
    st = synth_config_from_opts(&o, &c);
  if (!st)
    st = synth_dataset_write(&c, &o, root, NULL, NULL);
  synth_config_free(&c);
  opts_free(&o);
  return st ? ad3d_fail_context(st, EMBEDDED_PREFIX "%s", e->name) : AD3D_OK;
}

ad3d_status embedded_cache_dir(char **dir) {
  const char *v;
  *dir = NULL;
  if ((v = getenv("AD3D_CACHE")) && *v)
    *dir = xstrdup(v);
  else if ((v = getenv("XDG_CACHE_HOME")) && *v)
    *dir = str_printf("%s/ad3d", v);
  else if ((v = getenv("HOME")) && *v)
    *dir = str_printf("%s/.cache/ad3d", v);
  else
    return ad3d_fail(AD3D_EINVAL,
                     "no cache folder for the embedded datasets: set AD3D_CACHE (or XDG_CACHE_HOME or HOME)");
  return *dir ? AD3D_OK : AD3D_ENOMEM;
}

ad3d_status embedded_dataset_folder(const embedded_dataset *e, char **dir) {
  char *cache;
  *dir = NULL;
  TRY(embedded_cache_dir(&cache));
  *dir = str_printf("%s/%s-v%d", cache, e->name, e->version);
  free(cache);
  return *dir ? AD3D_OK : AD3D_ENOMEM;
}

/* Remove a temporary folder after a failure without losing the failure's message. */
static ad3d_status discard_tmp(const char *tmp, ad3d_status st) {
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", ad3d_errmsg());
  remove_tree(tmp);
  return ad3d_fail(st, "%s", msg);
}

/* Remove the temporary folders <cache>/<base>.tmp.<pid>.<host> that killed runs on this host left
 * behind: those whose process no longer exists. Best effort: errors are ignored. */
static void stale_tmp_remove(const char *cache, const char *base, const char *host) {
  char **names;
  int n;
  char *prefix = str_printf("%s.tmp.", base);
  if (!prefix || list_dir(cache, NULL, &names, &n) != AD3D_OK) {
    free(prefix);
    ad3d_clear_error();
    return;
  }
  size_t len = strlen(prefix);
  for (int i = 0; i < n; i++) {
    if (strncmp(names[i], prefix, len))
      continue;
    char *end;
    long pid = strtol(names[i] + len, &end, 10);
    if (*end != '.' || strcmp(end + 1, host) || pid <= 0 || pid == (long)getpid())
      continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
      continue; /* alive (or not ours to probe): maybe still writing */
    char *path = str_printf("%s/%s", cache, names[i]);
    if (path)
      remove_tree(path);
    free(path);
  }
  strv_free(names, n);
  free(prefix);
  ad3d_clear_error();
}

ad3d_status embedded_dataset_ensure(const embedded_dataset *e, char **root) {
  char *cache = NULL, *final = NULL, *tmp = NULL;
  char host[64] = "host";
  ad3d_status st;
  *root = NULL;
  TRY(embedded_cache_dir(&cache));
  if ((st = embedded_dataset_folder(e, &final)))
    goto cleanup;
  if (is_dir(final))
    goto done;
  if ((st = mkdir_p(cache)))
    goto cleanup;
  /* pid plus host name: unique among processes sharing a cache folder over a network file system */
  if (gethostname(host, sizeof host) != 0)
    snprintf(host, sizeof host, "host");
  host[sizeof host - 1] = '\0';
  tmp = str_printf("%s.tmp.%ld.%s", final, (long)getpid(), host);
  if (!tmp) {
    st = AD3D_ENOMEM;
    goto cleanup;
  }
  stale_tmp_remove(cache, final + strlen(cache) + 1, host); /* final is <cache>/<name>-v<version> */
  if ((is_dir(tmp) || is_file(tmp)) && (st = remove_tree(tmp))) /* left by a killed run with our pid */
    goto cleanup;
  if ((st = embedded_dataset_write(e, tmp))) {
    st = discard_tmp(tmp, st);
    goto cleanup;
  }
  if (rename(tmp, final) != 0) {
    int err = errno;
    if (is_dir(final)) { /* another process finished first: use theirs */
      remove_tree(tmp);
      ad3d_clear_error();
    } else {
      st = ad3d_fail(AD3D_EIO, "cannot rename %s to %s: %s", tmp, final, strerror(err));
      st = discard_tmp(tmp, st);
      goto cleanup;
    }
  }
done:
  *root = final;
  final = NULL;
cleanup:
  free(cache);
  free(final);
  free(tmp);
  return st;
}

ad3d_status embedded_resolve(const char *root, const char *layout, char **dir) {
  const embedded_dataset *e;
  *dir = NULL;
  TRY(embedded_find(root, &e));
  if (layout && strcmp(layout, e->layout))
    return ad3d_fail(AD3D_EINVAL, "layout %s does not fit %s, which is in the %s layout", layout, root, e->layout);
  return embedded_dataset_ensure(e, dir);
}
