/* quick.c - the embedded quick dataset: the synth preset "quick" written once into the cache (see quick.h).
 */
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

ad3d_status quick_dataset_write(const char *root) {
  opts_t o = {0};
  synth_config c;
  memset(&c, 0, sizeof c);
  ad3d_status st = opts_set_defaults(&o, "synth", synth_opt_specs);
  if (!st)
    st = synth_preset_apply(&o, "quick");
  if (!st)
    st = synth_config_from_opts(&o, &c);
  if (!st)
    st = synth_dataset_write(&c, &o, root, NULL, NULL);
  synth_config_free(&c);
  opts_free(&o);
  return st ? ad3d_fail_context(st, "quick dataset") : AD3D_OK;
}

ad3d_status quick_cache_dir(char **dir) {
  const char *v;
  *dir = NULL;
  if ((v = getenv("AD3D_CACHE")) && *v)
    *dir = xstrdup(v);
  else if ((v = getenv("XDG_CACHE_HOME")) && *v)
    *dir = str_printf("%s/ad3d", v);
  else if ((v = getenv("HOME")) && *v)
    *dir = str_printf("%s/.cache/ad3d", v);
  else
    return ad3d_fail(AD3D_EINVAL, "no cache folder for the quick dataset: set AD3D_CACHE (or XDG_CACHE_HOME or HOME)");
  return *dir ? AD3D_OK : AD3D_ENOMEM;
}

/* Remove a temporary folder after a failure without losing the failure's message. */
static ad3d_status discard_tmp(const char *tmp, ad3d_status st) {
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", ad3d_errmsg());
  remove_tree(tmp);
  return ad3d_fail(st, "%s", msg);
}

/* Remove the temporary folders <final>.tmp.<pid>.<host> that killed runs on this host left behind:
 * those whose process no longer exists. Best effort: errors are ignored. */
static void stale_tmp_remove(const char *cache, const char *host) {
  char prefix[64], **names;
  int n;
  snprintf(prefix, sizeof prefix, "quick-v%d.tmp.", QUICK_DATASET_VERSION);
  if (list_dir(cache, NULL, &names, &n) != AD3D_OK) {
    ad3d_clear_error();
    return;
  }
  for (int i = 0; i < n; i++) {
    if (strncmp(names[i], prefix, strlen(prefix)))
      continue;
    char *end;
    long pid = strtol(names[i] + strlen(prefix), &end, 10);
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
  ad3d_clear_error();
}

ad3d_status quick_dataset_ensure(char **root) {
  char *cache = NULL, *final = NULL, *tmp = NULL;
  char host[64] = "host";
  ad3d_status st;
  *root = NULL;
  TRY(quick_cache_dir(&cache));
  final = str_printf("%s/quick-v%d", cache, QUICK_DATASET_VERSION);
  if (!final) {
    st = AD3D_ENOMEM;
    goto cleanup;
  }
  if (is_dir(final)) {
    st = AD3D_OK;
    goto done;
  }
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
  stale_tmp_remove(cache, host);
  if ((is_dir(tmp) || is_file(tmp)) && (st = remove_tree(tmp))) /* left by a killed run with our pid */
    goto cleanup;
  if ((st = quick_dataset_write(tmp))) {
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
