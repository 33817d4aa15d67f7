/* store/checkpoint.c - Point-MAE checkpoints in HDF5: atomic writer and strict reader.
 *
 * Layout: FORMAT.md ("Checkpoints"). Every HDF5 call goes through H5CALL (or H5CLOSE in cleanup paths),
 * which turns a failure into AD3D_EINTERNAL naming this file's line, the HDF5 function and HDF5's error
 * stack; HDF5's own printing is switched off. Objects are created without modification times so that
 * the same model writes the same bytes. Not here: the results file (results.c), training (nn/train.c).
 */
#include "store/h5err.h"
#include "store/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"

#define CHECKPOINT_MAGIC "ad3d-checkpoint"

/* ---- HDF5 error capture ---------------------------------------------------------------------------- */

static void h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* ---- the info ---------------------------------------------------------------------------------------- */

void checkpoint_info_free(checkpoint_info *info) {
  if (!info)
    return;
  free(info->train_config);
  free(info->loss);
  free(info->lr);
  free(info->seconds);
  memset(info, 0, sizeof *info);
}

ad3d_status checkpoint_info_push(checkpoint_info *info, double loss, double lr, double seconds) {
  size_t n = (size_t)info->nhistory + 1;
  double *a = realloc(info->loss, n * sizeof *a);
  if (a)
    info->loss = a;
  double *b = a ? realloc(info->lr, n * sizeof *b) : NULL;
  if (b)
    info->lr = b;
  double *c = b ? realloc(info->seconds, n * sizeof *c) : NULL;
  if (!c)
    return ad3d_fail(AD3D_ENOMEM, "checkpoint: out of memory for the history");
  info->seconds = c;
  info->loss[n - 1] = loss;
  info->lr[n - 1] = lr;
  info->seconds[n - 1] = seconds;
  info->nhistory = (int64_t)n;
  return AD3D_OK;
}

/* ---- writing ------------------------------------------------------------------------------------------- */

/* Object creation properties without times (deterministic bytes). */
static hid_t ocpl_untimed(hid_t cls) {
  hid_t p = H5Pcreate(cls);
  if (p >= 0 && H5Pset_obj_track_times(p, 0) < 0) {
    H5Pclose(p);
    return H5I_INVALID_HID;
  }
  return p;
}

/* A scalar fixed-size (strlen + 1 bytes), NUL-terminated UTF-8 string attribute. */
static ad3d_status attr_write_str(hid_t loc, const char *name, const char *value) {
  ad3d_status st = AD3D_OK;
  hid_t t = H5I_INVALID_HID;
  H5CALL(t = H5Tcopy(H5T_C_S1));
  H5CALL(H5Tset_size(t, strlen(value) + 1));
  H5CALL(H5Tset_strpad(t, H5T_STR_NULLTERM));
  H5CALL(H5Tset_cset(t, H5T_CSET_UTF8));
  st = h5_attr_write_scalar(loc, name, t, t, value);
cleanup:
  H5CLOSE(H5Tclose, t);
  return st;
}

static ad3d_status attr_write_i32(hid_t loc, const char *name, int32_t v) {
  return h5_attr_write_scalar(loc, name, H5T_STD_I32LE, H5T_NATIVE_INT32, &v);
}

static ad3d_status attr_write_i64(hid_t loc, const char *name, int64_t v) {
  return h5_attr_write_scalar(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}

static ad3d_status attr_write_f64(hid_t loc, const char *name, double v) {
  return h5_attr_write_scalar(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

/* A contiguous dataset of `rank` dims holding data (native float or double by `is_double`). */
static ad3d_status dataset_write(hid_t loc, const char *name, int rank, const hsize_t *dims, const void *data,
                                 int is_double) {
  ad3d_status st = AD3D_OK;
  hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, d = H5I_INVALID_HID;
  H5CALL(space = H5Screate_simple(rank, dims, NULL));
  H5CALL(dcpl = ocpl_untimed(H5P_DATASET_CREATE));
  H5CALL(d = H5Dcreate2(loc, name, is_double ? H5T_IEEE_F64LE : H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl,
                        H5P_DEFAULT));
  hsize_t total = 1;
  for (int i = 0; i < rank; i++)
    total *= dims[i];
  if (total > 0)
    H5CALL(H5Dwrite(d, is_double ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
cleanup:
  H5CLOSE(H5Dclose, d);
  H5CLOSE(H5Pclose, dcpl);
  H5CLOSE(H5Sclose, space);
  return st;
}

static ad3d_status group_create(hid_t loc, const char *name, hid_t *g) {
  ad3d_status st = AD3D_OK;
  hid_t gcpl = H5I_INVALID_HID;
  *g = H5I_INVALID_HID;
  H5CALL(gcpl = ocpl_untimed(H5P_GROUP_CREATE));
  H5CALL(*g = H5Gcreate2(loc, name, H5P_DEFAULT, gcpl, H5P_DEFAULT));
cleanup:
  H5CLOSE(H5Pclose, gcpl);
  return st;
}

/* One group of tensors: every entry of info (n), each at base + offset with its shape. */
static ad3d_status tensors_write(hid_t f, const char *group, const mae_tensor_info *info, int n, const float *base) {
  ad3d_status st = AD3D_OK;
  hid_t g = H5I_INVALID_HID;
  if ((st = group_create(f, group, &g)))
    goto cleanup;
  for (int i = 0; i < n && !st; i++) {
    hsize_t dims[3];
    for (int k = 0; k < info[i].ndim; k++)
      dims[k] = (hsize_t)info[i].dims[k];
    st = dataset_write(g, info[i].name, info[i].ndim, dims, base + info[i].offset, 0);
  }
cleanup:
  H5CLOSE(H5Gclose, g);
  return st;
}

static ad3d_status config_write(hid_t f, const mae_config *c) {
  ad3d_status st = AD3D_OK;
  hid_t g = H5I_INVALID_HID;
  if ((st = group_create(f, "config", &g)))
    goto cleanup;
  const struct {
    const char *name;
    int v;
  } ints[] = {{"npoints", c->npoints},       {"ngroups", c->ngroups},     {"group_size", c->group_size},
              {"width", c->width},           {"depth", c->depth},         {"heads", c->heads},
              {"decoder_depth", c->decoder_depth}, {"decoder_heads", c->decoder_heads},
              {"mlp_ratio", c->mlp_ratio},   {"pe_dim1", c->pe_dim1},     {"pe_dim2", c->pe_dim2},
              {"pe_dim3", c->pe_dim3},       {"pos_dim", c->pos_dim}};
  for (size_t i = 0; i < sizeof ints / sizeof ints[0] && !st; i++)
    st = attr_write_i32(g, ints[i].name, ints[i].v);
  if (!st)
    st = attr_write_f64(g, "mask_ratio", c->mask_ratio);
  if (!st)
    st = attr_write_f64(g, "drop_path_rate", c->drop_path_rate);
cleanup:
  H5CLOSE(H5Gclose, g);
  return st;
}

static ad3d_status history_write(hid_t f, const checkpoint_info *info) {
  ad3d_status st = AD3D_OK;
  hid_t g = H5I_INVALID_HID;
  hsize_t n = info ? (hsize_t)info->nhistory : 0;
  if ((st = group_create(f, "history", &g)))
    goto cleanup;
  const double *cols[3] = {info ? info->loss : NULL, info ? info->lr : NULL, info ? info->seconds : NULL};
  const char *names[3] = {"loss", "lr", "seconds"};
  for (int i = 0; i < 3 && !st; i++)
    st = dataset_write(g, names[i], 1, &n, cols[i], 1);
cleanup:
  H5CLOSE(H5Gclose, g);
  return st;
}

static ad3d_status file_write(const char *path, const mae_model *m, const checkpoint_info *info) {
  ad3d_status st = AD3D_OK;
  hid_t f = H5I_INVALID_HID, fcpl = H5I_INVALID_HID;
  H5CALL(fcpl = ocpl_untimed(H5P_FILE_CREATE));
  H5CALL(f = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT));
  if ((st = attr_write_str(f, "format", CHECKPOINT_MAGIC)) ||
      (st = attr_write_i32(f, "format_version", CHECKPOINT_FORMAT_VERSION)) ||
      (st = attr_write_i64(f, "step", m->step)) || (st = attr_write_i64(f, "epoch", info ? info->epoch : 0)) ||
      (st = attr_write_i64(f, "nparams", (int64_t)m->nparams)))
    goto cleanup;
  if (info && info->train_config && (st = attr_write_str(f, "train_config", info->train_config)))
    goto cleanup;
  if ((st = config_write(f, &m->cfg)) || (st = tensors_write(f, "params", m->pinfo, MAE_NUM_PARAMS, m->params_mem)) ||
      (st = tensors_write(f, "adam_m", m->pinfo, MAE_NUM_PARAMS, m->m_mem)) ||
      (st = tensors_write(f, "adam_v", m->pinfo, MAE_NUM_PARAMS, m->v_mem)) ||
      (st = tensors_write(f, "buffers", m->binfo, MAE_NUM_BUFFERS, m->bufs_mem)) || (st = history_write(f, info)))
    goto cleanup;
  H5CALL(H5Fflush(f, H5F_SCOPE_GLOBAL));
cleanup:
  H5CLOSE(H5Fclose, f);
  H5CLOSE(H5Pclose, fcpl);
  return st;
}

static ad3d_status fsync_path(const char *path, int directory) {
  int fd = open(path, directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0)
    return ad3d_fail(AD3D_EIO, "%s: cannot open to sync: %s", path, strerror(errno));
  int rc = fsync(fd), e = errno;
  close(fd);
  if (rc != 0 && e != EINVAL && e != EROFS)
    return ad3d_fail(AD3D_EIO, "%s: fsync: %s", path, strerror(e));
  return AD3D_OK;
}

ad3d_status checkpoint_save(const char *path, const mae_model *m, const checkpoint_info *info) {
  h5_quiet();
  ad3d_status st = AD3D_OK;
  char *tmp = str_printf("%s.tmp.%ld", path, (long)getpid()), *dir = NULL;
  if (!tmp)
    return ad3d_fail(AD3D_ENOMEM, "checkpoint: out of memory");
  if ((st = file_write(tmp, m, info))) {
    ad3d_fail_context(st, "%s: writing the checkpoint", path);
    goto cleanup;
  }
  if ((st = fsync_path(tmp, 0)))
    goto cleanup;
  if (rename(tmp, path) != 0) {
    st = ad3d_fail(AD3D_EIO, "%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
    goto cleanup;
  }
  const char *slash = strrchr(path, '/');
  dir = slash ? str_printf("%.*s", (int)(slash - path) + (slash == path), path) : xstrdup(".");
  if (!dir)
    st = ad3d_fail(AD3D_ENOMEM, "checkpoint: out of memory");
  else
    st = fsync_path(dir, 1);
cleanup:
  if (st)
    unlink(tmp);
  free(tmp);
  free(dir);
  return st;
}

/* ---- reading ------------------------------------------------------------------------------------------- */

/* Scalar attribute `name` of loc read as mtype into v; AD3D_EFORMAT naming the file when absent. */
static ad3d_status attr_read(hid_t loc, const char *path, const char *name, hid_t mtype, void *v) {
  ad3d_status st = AD3D_OK;
  hid_t a = H5I_INVALID_HID;
  htri_t exists;
  H5CALL(exists = H5Aexists(loc, name));
  if (!exists)
    return ad3d_fail(AD3D_EFORMAT, "%s: not an ad3d checkpoint: no attribute %s", path, name);
  H5CALL(a = H5Aopen(loc, name, H5P_DEFAULT));
  H5CALL(H5Aread(a, mtype, v));
cleanup:
  H5CLOSE(H5Aclose, a);
  return st;
}

/* A scalar string attribute (fixed or variable size) into *out (malloc'd); *out = NULL and AD3D_OK when
 * absent; AD3D_EFORMAT when it is not a string. */
static ad3d_status attr_read_str(hid_t loc, const char *name, char **out) {
  ad3d_status st = AD3D_OK;
  hid_t a = H5I_INVALID_HID, t = H5I_INVALID_HID, mt = H5I_INVALID_HID, space = H5I_INVALID_HID;
  htri_t exists, variable = 0;
  char *buf = NULL, *vl = NULL;
  *out = NULL;
  H5CALL(exists = H5Aexists(loc, name));
  if (!exists)
    return AD3D_OK;
  H5CALL(a = H5Aopen(loc, name, H5P_DEFAULT));
  H5CALL(t = H5Aget_type(a));
  if (H5Tget_class(t) != H5T_STRING) {
    st = ad3d_fail(AD3D_EFORMAT, "attribute %s is not a string", name);
    goto cleanup;
  }
  H5CALL(variable = H5Tis_variable_str(t));
  H5CALL(mt = H5Tcopy(t));
  if (variable) {
    H5CALL(space = H5Aget_space(a));
    H5CALL(H5Aread(a, mt, &vl));
    buf = xstrdup(vl ? vl : "");
    H5CALL(H5Dvlen_reclaim(mt, space, H5P_DEFAULT, &vl));
  } else {
    size_t size = H5Tget_size(t);
    if ((buf = calloc(size + 1, 1))) {
      H5CALL(H5Tset_size(mt, size + 1));
      H5CALL(H5Tset_strpad(mt, H5T_STR_NULLTERM));
      H5CALL(H5Aread(a, mt, buf));
    }
  }
  if (!buf) {
    st = ad3d_fail(AD3D_ENOMEM, "checkpoint: out of memory for attribute %s", name);
    goto cleanup;
  }
  *out = buf;
  buf = NULL;
cleanup:
  free(buf);
  H5CLOSE(H5Sclose, space);
  H5CLOSE(H5Tclose, mt);
  H5CLOSE(H5Tclose, t);
  H5CLOSE(H5Aclose, a);
  return st;
}

/* Dataset group/name of exactly the shape dims (rank) into data (float or double). */
static ad3d_status dataset_read(hid_t g, const char *path, const char *group, const char *name, int rank,
                                const hsize_t *dims, void *data, int is_double) {
  ad3d_status st = AD3D_OK;
  hid_t d = H5I_INVALID_HID, space = H5I_INVALID_HID;
  htri_t exists;
  H5CALL(exists = H5Lexists(g, name, H5P_DEFAULT));
  if (!exists)
    return ad3d_fail(AD3D_EFORMAT, "%s: no tensor %s/%s", path, group, name);
  H5CALL(d = H5Dopen2(g, name, H5P_DEFAULT));
  H5CALL(space = H5Dget_space(d));
  int r;
  hsize_t got[8] = {0};
  H5CALL(r = H5Sget_simple_extent_ndims(space));
  if (r <= 8)
    H5CALL(H5Sget_simple_extent_dims(space, got, NULL));
  int same = r == rank;
  for (int i = 0; same && i < rank; i++)
    same = got[i] == dims[i];
  if (!same) {
    char want[96] = "", have[96] = "";
    for (int i = 0; i < rank; i++)
      snprintf(want + strlen(want), sizeof want - strlen(want), "%s%llu", i ? " x " : "", (unsigned long long)dims[i]);
    for (int i = 0; i < r && i < 8; i++)
      snprintf(have + strlen(have), sizeof have - strlen(have), "%s%llu", i ? " x " : "", (unsigned long long)got[i]);
    st = ad3d_fail(AD3D_EFORMAT, "%s: tensor %s/%s is %s, the configuration needs %s", path, group, name,
                   r > 0 ? have : "a scalar", want);
    goto cleanup;
  }
  hsize_t total = 1;
  for (int i = 0; i < rank; i++)
    total *= dims[i];
  if (total > 0)
    H5CALL(H5Dread(d, is_double ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
cleanup:
  H5CLOSE(H5Sclose, space);
  H5CLOSE(H5Dclose, d);
  return st;
}

static ad3d_status tensors_read(hid_t f, const char *path, const char *group, const mae_tensor_info *info, int n,
                                float *base) {
  ad3d_status st = AD3D_OK;
  hid_t g = H5I_INVALID_HID;
  htri_t exists;
  H5G_info_t gi;
  H5CALL(exists = H5Lexists(f, group, H5P_DEFAULT));
  if (!exists)
    return ad3d_fail(AD3D_EFORMAT, "%s: no group /%s", path, group);
  H5CALL(g = H5Gopen2(f, group, H5P_DEFAULT));
  H5CALL(H5Gget_info(g, &gi));
  if (gi.nlinks != (hsize_t)n) {
    st = ad3d_fail(AD3D_EFORMAT, "%s: /%s holds %llu tensors, the model has %d", path, group,
                   (unsigned long long)gi.nlinks, n);
    goto cleanup;
  }
  for (int i = 0; i < n && !st; i++) {
    hsize_t dims[3];
    for (int k = 0; k < info[i].ndim; k++)
      dims[k] = (hsize_t)info[i].dims[k];
    st = dataset_read(g, path, group, info[i].name, info[i].ndim, dims, base + info[i].offset, 0);
  }
cleanup:
  H5CLOSE(H5Gclose, g);
  return st;
}

static ad3d_status config_read(hid_t f, const char *path, mae_config *c) {
  ad3d_status st = AD3D_OK;
  hid_t g = H5I_INVALID_HID;
  htri_t exists;
  H5CALL(exists = H5Lexists(f, "config", H5P_DEFAULT));
  if (!exists)
    return ad3d_fail(AD3D_EFORMAT, "%s: no group /config", path);
  H5CALL(g = H5Gopen2(f, "config", H5P_DEFAULT));
  struct {
    const char *name;
    int *v;
  } ints[] = {{"npoints", &c->npoints},       {"ngroups", &c->ngroups},     {"group_size", &c->group_size},
              {"width", &c->width},           {"depth", &c->depth},         {"heads", &c->heads},
              {"decoder_depth", &c->decoder_depth}, {"decoder_heads", &c->decoder_heads},
              {"mlp_ratio", &c->mlp_ratio},   {"pe_dim1", &c->pe_dim1},     {"pe_dim2", &c->pe_dim2},
              {"pe_dim3", &c->pe_dim3},       {"pos_dim", &c->pos_dim}};
  for (size_t i = 0; i < sizeof ints / sizeof ints[0] && !st; i++)
    st = attr_read(g, path, ints[i].name, H5T_NATIVE_INT, ints[i].v);
  if (!st)
    st = attr_read(g, path, "mask_ratio", H5T_NATIVE_DOUBLE, &c->mask_ratio);
  if (!st)
    st = attr_read(g, path, "drop_path_rate", H5T_NATIVE_DOUBLE, &c->drop_path_rate);
cleanup:
  H5CLOSE(H5Gclose, g);
  return st;
}

static ad3d_status history_read(hid_t f, const char *path, checkpoint_info *info) {
  ad3d_status st = AD3D_OK;
  hid_t g = H5I_INVALID_HID, d = H5I_INVALID_HID, space = H5I_INVALID_HID;
  htri_t exists;
  H5CALL(exists = H5Lexists(f, "history", H5P_DEFAULT));
  if (!exists)
    return ad3d_fail(AD3D_EFORMAT, "%s: no group /history", path);
  H5CALL(g = H5Gopen2(f, "history", H5P_DEFAULT));
  H5CALL(exists = H5Lexists(g, "loss", H5P_DEFAULT));
  if (!exists) {
    st = ad3d_fail(AD3D_EFORMAT, "%s: no dataset /history/loss", path);
    goto cleanup;
  }
  H5CALL(d = H5Dopen2(g, "loss", H5P_DEFAULT));
  H5CALL(space = H5Dget_space(d));
  hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 0) {
    st = h5_failure(__FILE__, __LINE__, "H5Sget_simple_extent_npoints(space)");
    goto cleanup;
  }
  size_t cap = n > 0 ? (size_t)n : 1;
  info->loss = malloc(cap * sizeof(double));
  info->lr = malloc(cap * sizeof(double));
  info->seconds = malloc(cap * sizeof(double));
  if (!info->loss || !info->lr || !info->seconds) {
    st = ad3d_fail(AD3D_ENOMEM, "checkpoint: out of memory for the history");
    goto cleanup;
  }
  hsize_t dims = (hsize_t)n;
  if ((st = dataset_read(g, path, "history", "loss", 1, &dims, info->loss, 1)) ||
      (st = dataset_read(g, path, "history", "lr", 1, &dims, info->lr, 1)) ||
      (st = dataset_read(g, path, "history", "seconds", 1, &dims, info->seconds, 1)))
    goto cleanup;
  info->nhistory = n;
cleanup:
  H5CLOSE(H5Sclose, space);
  H5CLOSE(H5Dclose, d);
  H5CLOSE(H5Gclose, g);
  return st;
}

ad3d_status checkpoint_load(const char *path, mae_model **out, checkpoint_info *info) {
  h5_quiet();
  *out = NULL;
  if (info)
    memset(info, 0, sizeof *info);
  if (!is_file(path))
    return ad3d_fail(AD3D_ENOTFOUND, "%s: no such checkpoint", path);
  ad3d_status st = AD3D_OK;
  hid_t f = H5I_INVALID_HID;
  mae_model *m = NULL;
  char *magic = NULL;
  htri_t is_h5;
  H5CALL(is_h5 = H5Fis_hdf5(path));
  if (!is_h5) {
    st = ad3d_fail(AD3D_EFORMAT, "%s: not an HDF5 file", path);
    goto cleanup;
  }
  H5CALL(f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT));
  if ((st = attr_read_str(f, "format", &magic)))
    goto cleanup;
  if (!magic || strcmp(magic, CHECKPOINT_MAGIC) != 0) {
    st = ad3d_fail(AD3D_EFORMAT, "%s: not an ad3d checkpoint (attribute format is %s%s%s)", path, magic ? "\"" : "",
                   magic ? magic : "absent", magic ? "\"" : "");
    goto cleanup;
  }
  int32_t version = 0;
  if ((st = attr_read(f, path, "format_version", H5T_NATIVE_INT32, &version)))
    goto cleanup;
  if (version != CHECKPOINT_FORMAT_VERSION) {
    st = ad3d_fail(AD3D_EFORMAT, "%s: checkpoint format version %d, this ad3d reads version %d", path, (int)version,
                   CHECKPOINT_FORMAT_VERSION);
    goto cleanup;
  }
  mae_config cfg;
  memset(&cfg, 0, sizeof cfg);
  if ((st = config_read(f, path, &cfg)))
    goto cleanup;
  rng_t r;
  rng_seed(&r, 0); /* mae_init draws initial weights; every one of them is overwritten below */
  if ((st = mae_init(&m, &cfg, &r))) {
    ad3d_fail_context(st, "%s: stored configuration", path);
    goto cleanup;
  }
  int64_t step = 0;
  if ((st = attr_read(f, path, "step", H5T_NATIVE_INT64, &step)))
    goto cleanup;
  if (step < 0) {
    st = ad3d_fail(AD3D_EFORMAT, "%s: negative step %lld", path, (long long)step);
    goto cleanup;
  }
  m->step = step;
  if ((st = tensors_read(f, path, "params", m->pinfo, MAE_NUM_PARAMS, m->params_mem)) ||
      (st = tensors_read(f, path, "adam_m", m->pinfo, MAE_NUM_PARAMS, m->m_mem)) ||
      (st = tensors_read(f, path, "adam_v", m->pinfo, MAE_NUM_PARAMS, m->v_mem)) ||
      (st = tensors_read(f, path, "buffers", m->binfo, MAE_NUM_BUFFERS, m->bufs_mem)))
    goto cleanup;
  if (info) {
    if ((st = attr_read(f, path, "epoch", H5T_NATIVE_INT64, &info->epoch)) ||
        (st = attr_read_str(f, "train_config", &info->train_config)) || (st = history_read(f, path, info)))
      goto cleanup;
  }
  *out = m;
  m = NULL;
cleanup:
  H5CLOSE(H5Fclose, f);
  free(magic);
  mae_free(m);
  if (st && info)
    checkpoint_info_free(info);
  return st;
}

ad3d_status checkpoint_load_model(const char *path, mae_model **m) { return checkpoint_load(path, m, NULL); }
