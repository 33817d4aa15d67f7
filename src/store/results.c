/* store/results.c - the HDF5 results file: a crash-consistent writer and the readers.
 *
 * Layout, types and the rules a reader follows: FORMAT.md beside this file. This is the only file
 * of ad3d that includes hdf5.h; every HDF5 call goes through H5CALL (or H5CLOSE in cleanup
 * paths), which turns a failure into AD3D_EINTERNAL naming this file's line, the HDF5 function and
 * the messages of HDF5's error stack (HDF5's own printing is switched off).
 *
 * Why a kill -9 at any instant loses no recorded task and leaves a readable file:
 *  - every object exists from creation on (built in "<path>.creating", then renamed), so a run only
 *    extends chunked datasets; the writer holds the file in HDF5 1.10 SWMR-write mode, whose
 *    ordered metadata flushes keep the file readable at every instant (what a SWMR reader would
 *    see if it opened the file at that instant);
 *  - results_append writes the points, then the samples, then the /tasks row, flushing each
 *    dataset before the next and ending with a file flush and fsync: the row is the commit record.
 *    A kill leaves at most unreferenced samples/points and a row whose `committed` byte (its last
 *    byte) is not 1, which readers skip;
 *  - no write can be torn in a way that damages recorded data. SIGKILL can cut a write() between
 *    two 4 KiB pages, so: the file uses paged file-space aggregation with 4 KiB pages (every
 *    metadata block smaller than a page lies inside one page and is written whole), the chunk
 *    indexes stay below 4 KiB blocks for files up to the sizes in FORMAT.md, no dataset is
 *    compressed (a compressed chunk moves when rewritten; an uncompressed one never does) and the
 *    writer has no chunk cache, so an append writes just its own new rows and points: a torn
 *    write can only cut the task being recorded;
 *  - a killed writer leaves the superblock marked "open for SWMR write" and maybe an end-of-
 *    allocation (EOA) below data it wrote: readers fall back to SWMR read, and the writer reopens
 *    with the mark cleared and the EOA moved past the end of file before it allocates.
 * A "<path>.lock" file (flock) keeps a second writer out, since clearing the mark would otherwise
 * let two writers in. The evidence is tests/store/test_results_kill.c.
 */
#include "store/h5err.h"
#include "store/results.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

enum {
  TASKS_CHUNK = 64,           /* rows per /tasks chunk (82 KiB) */
  SAMPLES_CHUNK = 1024,       /* rows per /samples chunk (128 KiB for the names) */
  POINTS_CHUNK = 1 << 20,     /* points per /points chunk (4 MiB of scores) */
  NAME_LEN = 128,             /* /samples/name, bytes including the NUL */
  DEFECT_LEN = 32,            /* /samples/defect */
  TIME_LEN = 32,              /* ISO 8601 times */
  FILE_PAGE = 4096,           /* HDF5 file-space page = the OS page: metadata never straddles one */
  META_READ_ATTEMPTS = 32     /* SWMR read retries of a metadata checksum (about 4 s of back-off) */
};

/* Room left after the end of a killed writer's file before new allocations: each dataset may
 * have one chunk allocated but only partly written past the end of file (see file_open_write). */
#define RESUME_MARGIN                                                                              \
  ((hsize_t)POINTS_CHUNK * (sizeof(float) + 1) + (hsize_t)SAMPLES_CHUNK * (NAME_LEN + DEFECT_LEN + 33) + \
   (hsize_t)TASKS_CHUNK * 2048 + ((hsize_t)1 << 20))

/* ---------------------------------------------------------------------------------------------
 * HDF5 error capture
 * ------------------------------------------------------------------------------------------- */

/* HDF5 prints its error stack to stderr by default; library code must not print. */
static void h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* ---------------------------------------------------------------------------------------------
 * Small helpers: strings, times, key map
 * ------------------------------------------------------------------------------------------- */

/* Copy at most cap-1 bytes of src (read at most srcmax bytes) into dst, never splitting a UTF-8
 * character, and zero the rest of dst (rows are compared byte for byte on rewrite). */
static void copy_str(char *dst, size_t cap, const char *src, size_t srcmax) {
  size_t n = src ? strnlen(src, srcmax) : 0;
  if (n > cap - 1) {
    n = cap - 1;
    while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80) /* src[n] continues a character */
      n--;
  }
  memset(dst, 0, cap);
  if (n)
    memcpy(dst, src, n);
}

static void iso_time_now(char out[TIME_LEN]) {
  time_t t = time(NULL);
  struct tm tm;
  memset(out, 0, TIME_LEN);
  gmtime_r(&t, &tm);
  strftime(out, TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Open-addressing map from task key to an int64 (a status, or an index into an output array). */
typedef struct {
  char **keys;   /* (cap) owned copies, NULL for empty slots */
  int64_t *vals; /* (cap) */
  size_t cap, n;
} keymap;

static uint64_t key_hash(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static void keymap_free(keymap *m) {
  for (size_t i = 0; i < m->cap; i++)
    free(m->keys[i]);
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}

static size_t keymap_slot(const keymap *m, const char *key) {
  size_t i = (size_t)(key_hash(key) & (m->cap - 1));
  while (m->keys[i] && strcmp(m->keys[i], key) != 0)
    i = (i + 1) & (m->cap - 1);
  return i;
}

/* Value of key, or NULL if absent. */
static int64_t *keymap_get(const keymap *m, const char *key) {
  if (m->cap == 0)
    return NULL;
  size_t i = keymap_slot(m, key);
  return m->keys[i] ? &m->vals[i] : NULL;
}

static ad3d_status keymap_put(keymap *m, const char *key, int64_t val) {
  if (2 * (m->n + 1) > m->cap) {
    keymap old = *m;
    size_t cap = old.cap ? 2 * old.cap : 64;
    m->keys = calloc(cap, sizeof *m->keys);
    m->vals = calloc(cap, sizeof *m->vals);
    m->cap = cap;
    m->n = 0;
    if (!m->keys || !m->vals) {
      free(m->keys);
      free(m->vals);
      *m = old;
      return ad3d_fail(AD3D_ENOMEM, "results: out of memory for the task key map");
    }
    for (size_t i = 0; i < old.cap; i++)
      if (old.keys[i]) {
        size_t j = keymap_slot(m, old.keys[i]);
        m->keys[j] = old.keys[i];
        m->vals[j] = old.vals[i];
        m->n++;
      }
    free(old.keys);
    free(old.vals);
  }
  size_t i = keymap_slot(m, key);
  if (!m->keys[i]) {
    if (!(m->keys[i] = xstrdup(key)))
      return ad3d_fail(AD3D_ENOMEM, "results: out of memory for a task key");
    m->n++;
  }
  m->vals[i] = val;
  return AD3D_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Types: the /tasks row and the per-sample / per-point datasets
 * ------------------------------------------------------------------------------------------- */

/* One /tasks row in memory: task_record plus where its scores are. `committed` is last, so a row
 * whose last byte reached the file was written whole. */
typedef struct {
  char key[256];
  char method[64];
  char dataset[64];
  char cls[64];
  char variant[192];
  int32_t status;
  int32_t rank;
  double i_auroc, p_auroc, i_ap, p_ap, aupro;
  double fit_s, score_s;
  int64_t peak_rss_kb;
  int64_t nsamples, npoints;
  char error[512];
  int64_t sample_start; /* first /samples row of this task, -1 when no scores were recorded */
  int64_t point_start;  /* first /points element, -1 when no scores were recorded */
  char recorded_at[TIME_LEN];
  uint8_t committed;    /* 1 once the row is complete */
} task_row;

typedef enum { K_STR, K_I32, K_I64, K_F64, K_F32, K_U8 } field_kind;

typedef struct {
  const char *name;
  size_t offset;
  field_kind kind;
  size_t size;
} field_desc;

#define ROW_FIELD(name, member, kind) {name, offsetof(task_row, member), kind, sizeof(((task_row *)0)->member)}
static const field_desc ROW_FIELDS[] = {
    ROW_FIELD("key", key, K_STR),
    ROW_FIELD("method", method, K_STR),
    ROW_FIELD("dataset", dataset, K_STR),
    ROW_FIELD("class", cls, K_STR),
    ROW_FIELD("variant", variant, K_STR),
    ROW_FIELD("status", status, K_I32),
    ROW_FIELD("rank", rank, K_I32),
    ROW_FIELD("i_auroc", i_auroc, K_F64),
    ROW_FIELD("p_auroc", p_auroc, K_F64),
    ROW_FIELD("i_ap", i_ap, K_F64),
    ROW_FIELD("p_ap", p_ap, K_F64),
    ROW_FIELD("aupro", aupro, K_F64),
    ROW_FIELD("fit_s", fit_s, K_F64),
    ROW_FIELD("score_s", score_s, K_F64),
    ROW_FIELD("peak_rss_kb", peak_rss_kb, K_I64),
    ROW_FIELD("nsamples", nsamples, K_I64),
    ROW_FIELD("npoints", npoints, K_I64),
    ROW_FIELD("error", error, K_STR),
    ROW_FIELD("sample_start", sample_start, K_I64),
    ROW_FIELD("point_start", point_start, K_I64),
    ROW_FIELD("recorded_at", recorded_at, K_STR),
    ROW_FIELD("committed", committed, K_U8),
};
#define NROW_FIELDS (sizeof ROW_FIELDS / sizeof ROW_FIELDS[0])

enum { S_TASK_ROW, S_NAME, S_DEFECT, S_LABEL, S_OBJECT_SCORE, S_NPOINTS, S_POINT_START, S_COUNT };
static const char *const SAMPLE_DSETS[S_COUNT] = {"task_row", "name", "defect", "label",
                                                  "object_score", "npoints", "point_start"};
static const field_kind SAMPLE_KINDS[S_COUNT] = {K_I64, K_STR, K_STR, K_U8, K_F64, K_I64, K_I64};
static const size_t SAMPLE_SIZES[S_COUNT] = {8, NAME_LEN, DEFECT_LEN, 1, 8, 8, 8};

enum { P_SCORE, P_LABEL, P_COUNT };
static const char *const POINT_DSETS[P_COUNT] = {"score", "label"};
static const field_kind POINT_KINDS[P_COUNT] = {K_F32, K_U8};

/* An HDF5 type for one field: native in memory, little-endian standard in the file. Strings are
 * fixed-size, NUL-terminated UTF-8. Returns a new id (negative on failure, stack set). */
static hid_t field_type(field_kind kind, size_t size, int in_file) {
  hid_t t;
  switch (kind) {
  case K_STR:
    t = H5Tcopy(H5T_C_S1);
    if (t < 0)
      return t;
    if (H5Tset_size(t, size) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0 ||
        H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
      H5Tclose(t);
      return H5I_INVALID_HID;
    }
    return t;
  case K_I32: return H5Tcopy(in_file ? H5T_STD_I32LE : H5T_NATIVE_INT32);
  case K_I64: return H5Tcopy(in_file ? H5T_STD_I64LE : H5T_NATIVE_INT64);
  case K_F64: return H5Tcopy(in_file ? H5T_IEEE_F64LE : H5T_NATIVE_DOUBLE);
  case K_F32: return H5Tcopy(in_file ? H5T_IEEE_F32LE : H5T_NATIVE_FLOAT);
  case K_U8: return H5Tcopy(in_file ? H5T_STD_U8LE : H5T_NATIVE_UINT8);
  }
  return H5I_INVALID_HID;
}

/* A memory string type of `size` bytes (or H5T_VARIABLE) in the character set of the file's
 * string type `like`: HDF5 converts no strings between ASCII and UTF-8, and files written by
 * other tools (h5py writes numpy "S" fields as ASCII) may use either. */
static hid_t str_type_like(hid_t like, size_t size) {
  H5T_cset_t cset = H5Tget_cset(like);
  if (cset < 0)
    return H5I_INVALID_HID;
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t < 0)
    return t;
  if (H5Tset_size(t, size) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0 || H5Tset_cset(t, cset) < 0) {
    H5Tclose(t);
    return H5I_INVALID_HID;
  }
  return t;
}

/* Memory type for reading data of `kind` whose file type is `file_type` (a string type if K_STR). */
static hid_t mem_type_for(hid_t file_type, field_kind kind, size_t size) {
  return kind == K_STR ? str_type_like(file_type, size) : field_type(kind, size, 0);
}

/* Type of the member `name` of compound `ct` (new id), or H5I_INVALID_HID if it has none. */
static ad3d_status compound_member(hid_t ct, const char *name, hid_t *member) {
  ad3d_status st = AD3D_OK;
  int n;
  *member = H5I_INVALID_HID;
  H5CALL(n = H5Tget_nmembers(ct));
  for (int i = 0; i < n; i++) {
    char *mname = H5Tget_member_name(ct, (unsigned)i);
    if (!mname) {
      st = h5_failure(__FILE__, __LINE__, "H5Tget_member_name(ct, i)");
      goto cleanup;
    }
    int match = strcmp(mname, name) == 0;
    H5CALL(H5free_memory(mname));
    if (match) {
      H5CALL(*member = H5Tget_member_type(ct, (unsigned)i));
      break;
    }
  }
cleanup:
  return st;
}

/* The /tasks compound: in memory laid out as task_row, in the file packed in the same order.
 * For reading, `like` is the file's compound: every field must be there (EFORMAT if not), and
 * strings take its character sets. */
static ad3d_status row_type_create(int in_file, hid_t like, hid_t *out) {
  ad3d_status st = AD3D_OK;
  hid_t t = H5I_INVALID_HID, ft = H5I_INVALID_HID, member = H5I_INVALID_HID;
  H5T_class_t cls;
  size_t total = 0;
  if (in_file)
    for (size_t i = 0; i < NROW_FIELDS; i++)
      total += ROW_FIELDS[i].size;
  if (like >= 0) {
    H5CALL(cls = H5Tget_class(like));
    if (cls != H5T_COMPOUND)
      return ad3d_fail(AD3D_EFORMAT, "/tasks is not a compound dataset");
  }
  H5CALL(t = H5Tcreate(H5T_COMPOUND, in_file ? total : sizeof(task_row)));
  size_t off = 0;
  for (size_t i = 0; i < NROW_FIELDS; i++) {
    const field_desc *f = &ROW_FIELDS[i];
    if (like >= 0) {
      if ((st = compound_member(like, f->name, &member)) != AD3D_OK)
        goto cleanup;
      if (member < 0) {
        st = ad3d_fail(AD3D_EFORMAT, "/tasks has no field %s", f->name);
        goto cleanup;
      }
      H5CALL(cls = H5Tget_class(member));
      if (f->kind == K_STR && cls != H5T_STRING) {
        st = ad3d_fail(AD3D_EFORMAT, "/tasks field %s is not a string", f->name);
        goto cleanup;
      }
      H5CALL(ft = mem_type_for(member, f->kind, f->size));
      H5CLOSE(H5Tclose, member);
    } else {
      H5CALL(ft = field_type(f->kind, f->size, in_file));
    }
    H5CALL(H5Tinsert(t, f->name, in_file ? off : f->offset, ft));
    H5CLOSE(H5Tclose, ft);
    off += f->size;
  }
  *out = t;
  t = H5I_INVALID_HID;
cleanup:
  H5CLOSE(H5Tclose, member);
  H5CLOSE(H5Tclose, ft);
  H5CLOSE(H5Tclose, t);
  return st;
}

/* ---------------------------------------------------------------------------------------------
 * Dataset and attribute helpers
 * ------------------------------------------------------------------------------------------- */

/* Create an empty extendible 1-D dataset of `ftype`, chunked by `chunk`, without filters (see the
 * top of this file). The fill value is HDF5's default (zero), which HDF5 does not write when it
 * allocates a chunk: a 4 MiB /points chunk is written once, by the tasks whose points it holds. */
static ad3d_status dset_create(hid_t loc, const char *name, hid_t ftype, hsize_t chunk) {
  ad3d_status st = AD3D_OK;
  hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, d = H5I_INVALID_HID;
  hsize_t zero = 0, unlimited = H5S_UNLIMITED;
  H5CALL(space = H5Screate_simple(1, &zero, &unlimited));
  H5CALL(dcpl = H5Pcreate(H5P_DATASET_CREATE));
  H5CALL(H5Pset_chunk(dcpl, 1, &chunk));
  H5CALL(d = H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
cleanup:
  H5CLOSE(H5Dclose, d);
  H5CLOSE(H5Pclose, dcpl);
  H5CLOSE(H5Sclose, space);
  return st;
}

static ad3d_status dset_length(hid_t d, int64_t *n) {
  ad3d_status st = AD3D_OK;
  hid_t space = H5I_INVALID_HID;
  hsize_t dim = 0;
  int rank;
  H5CALL(space = H5Dget_space(d));
  H5CALL(rank = H5Sget_simple_extent_ndims(space));
  if (rank != 1) {
    st = ad3d_fail(AD3D_EFORMAT, "dataset has rank %d, expected 1", rank);
    goto cleanup;
  }
  H5CALL(H5Sget_simple_extent_dims(space, &dim, NULL));
  *n = (int64_t)dim;
cleanup:
  H5CLOSE(H5Sclose, space);
  return st;
}

/* Write count elements of `mtype` from buf at [start, start+count), growing the dataset. */
static ad3d_status dset_write_at(hid_t d, hid_t mtype, int64_t start, int64_t count, const void *buf) {
  ad3d_status st = AD3D_OK;
  hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
  int64_t len = 0;
  if (count == 0)
    return AD3D_OK;
  TRY(dset_length(d, &len));
  if (start + count > len) {
    hsize_t dim = (hsize_t)(start + count);
    H5CALL(H5Dset_extent(d, &dim));
  }
  hsize_t off = (hsize_t)start, cnt = (hsize_t)count;
  H5CALL(fspace = H5Dget_space(d));
  H5CALL(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &off, NULL, &cnt, NULL));
  H5CALL(mspace = H5Screate_simple(1, &cnt, NULL));
  H5CALL(H5Dwrite(d, mtype, mspace, fspace, H5P_DEFAULT, buf));
cleanup:
  H5CLOSE(H5Sclose, mspace);
  H5CLOSE(H5Sclose, fspace);
  return st;
}

/* Read count elements at [start, start+count) into buf (EFORMAT if past the end). */
static ad3d_status dset_read_at(hid_t d, const char *what, hid_t mtype, int64_t start, int64_t count,
                                void *buf) {
  ad3d_status st = AD3D_OK;
  hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
  int64_t len = 0;
  if (count == 0)
    return AD3D_OK;
  TRY(dset_length(d, &len));
  if (start < 0 || count < 0 || start + count > len)
    return ad3d_fail(AD3D_EFORMAT, "%s: range [%lld, %lld) outside its %lld elements", what,
                     (long long)start, (long long)(start + count), (long long)len);
  hsize_t off = (hsize_t)start, cnt = (hsize_t)count;
  H5CALL(fspace = H5Dget_space(d));
  H5CALL(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &off, NULL, &cnt, NULL));
  H5CALL(mspace = H5Screate_simple(1, &cnt, NULL));
  H5CALL(H5Dread(d, mtype, mspace, fspace, H5P_DEFAULT, buf));
cleanup:
  H5CLOSE(H5Sclose, mspace);
  H5CLOSE(H5Sclose, fspace);
  return st;
}

/* A scalar fixed-size string attribute of max(strlen(value)+1, size) bytes. */
static ad3d_status attr_write_str(hid_t loc, const char *name, const char *value, size_t size) {
  ad3d_status st = AD3D_OK;
  hid_t t = H5I_INVALID_HID, space = H5I_INVALID_HID, a = H5I_INVALID_HID;
  size_t n = strlen(value) + 1;
  char *buf = NULL;
  if (n < size)
    n = size;
  if (!(buf = calloc(n, 1)))
    return ad3d_fail(AD3D_ENOMEM, "results: out of memory for attribute %s", name);
  memcpy(buf, value, strlen(value));
  H5CALL(t = field_type(K_STR, n, 1));
  H5CALL(space = H5Screate(H5S_SCALAR));
  H5CALL(a = H5Acreate2(loc, name, t, space, H5P_DEFAULT, H5P_DEFAULT));
  H5CALL(H5Awrite(a, t, buf));
cleanup:
  H5CLOSE(H5Aclose, a);
  H5CLOSE(H5Sclose, space);
  H5CLOSE(H5Tclose, t);
  free(buf);
  return st;
}

/* Overwrite an existing fixed-size string attribute in place (allowed in SWMR-write mode). */
static ad3d_status attr_rewrite_str(hid_t loc, const char *name, const char *value) {
  ad3d_status st = AD3D_OK;
  hid_t a = H5I_INVALID_HID, t = H5I_INVALID_HID, mt = H5I_INVALID_HID;
  char *buf = NULL;
  size_t size = 0;
  H5T_class_t cls;
  htri_t variable = 1;
  H5CALL(a = H5Aopen(loc, name, H5P_DEFAULT));
  H5CALL(t = H5Aget_type(a));
  H5CALL(cls = H5Tget_class(t));
  if (cls == H5T_STRING) {
    H5CALL(variable = H5Tis_variable_str(t));
    size = variable ? 0 : H5Tget_size(t);
  }
  if (size == 0) {
    st = ad3d_fail(AD3D_EFORMAT, "attribute %s is not a fixed-size string", name);
    goto cleanup;
  }
  if (!(buf = calloc(size, 1))) {
    st = ad3d_fail(AD3D_ENOMEM, "results: out of memory for attribute %s", name);
    goto cleanup;
  }
  copy_str(buf, size, value, strlen(value));
  H5CALL(mt = str_type_like(t, size));
  H5CALL(H5Awrite(a, mt, buf));
cleanup:
  H5CLOSE(H5Tclose, mt);
  H5CLOSE(H5Tclose, t);
  H5CLOSE(H5Aclose, a);
  free(buf);
  return st;
}

/* Read a scalar root attribute as text: strings as stored (fixed or variable size), integers and
 * floats formatted in decimal. AD3D_ENOTFOUND if absent. *value: malloc'd. */
static ad3d_status attr_read_text(hid_t loc, const char *name, char **value) {
  ad3d_status st = AD3D_OK;
  hid_t a = H5I_INVALID_HID, t = H5I_INVALID_HID, mt = H5I_INVALID_HID, space = H5I_INVALID_HID;
  htri_t exists;
  hssize_t npoints;
  H5T_class_t cls;
  char *buf = NULL, *vl = NULL;
  *value = NULL;
  H5CALL(exists = H5Aexists(loc, name));
  if (!exists)
    return ad3d_fail(AD3D_ENOTFOUND, "no attribute %s", name);
  H5CALL(a = H5Aopen(loc, name, H5P_DEFAULT));
  H5CALL(t = H5Aget_type(a));
  H5CALL(space = H5Aget_space(a));
  H5CALL(npoints = H5Sget_simple_extent_npoints(space));
  if (npoints != 1) {
    st = ad3d_fail(AD3D_EFORMAT, "attribute %s is not a scalar", name);
    goto cleanup;
  }
  H5CALL(cls = H5Tget_class(t));
  if (cls == H5T_STRING) {
    htri_t variable;
    H5CALL(variable = H5Tis_variable_str(t));
    if (variable) {
      H5CALL(mt = str_type_like(t, H5T_VARIABLE));
      H5CALL(H5Aread(a, mt, &vl));
      buf = xstrdup(vl ? vl : "");
      H5CALL(H5Dvlen_reclaim(mt, space, H5P_DEFAULT, &vl));
    } else {
      size_t size = H5Tget_size(t);
      if (size == 0) {
        st = h5_failure(__FILE__, __LINE__, "H5Tget_size(t)");
        goto cleanup;
      }
      if (!(buf = calloc(size + 1, 1))) {
        st = ad3d_fail(AD3D_ENOMEM, "out of memory for attribute %s", name);
        goto cleanup;
      }
      H5CALL(mt = str_type_like(t, size + 1));
      H5CALL(H5Aread(a, mt, buf));
    }
  } else if (cls == H5T_INTEGER) {
    char num[32];
    H5T_sign_t sign;
    H5CALL(sign = H5Tget_sign(t));
    if (sign == H5T_SGN_NONE) {
      unsigned long long u = 0;
      H5CALL(H5Aread(a, H5T_NATIVE_ULLONG, &u));
      snprintf(num, sizeof num, "%llu", u);
    } else {
      long long s = 0;
      H5CALL(H5Aread(a, H5T_NATIVE_LLONG, &s));
      snprintf(num, sizeof num, "%lld", s);
    }
    buf = xstrdup(num);
  } else if (cls == H5T_FLOAT) {
    char num[40];
    double d = 0;
    H5CALL(H5Aread(a, H5T_NATIVE_DOUBLE, &d));
    snprintf(num, sizeof num, "%.17g", d);
    buf = xstrdup(num);
  } else {
    st = ad3d_fail(AD3D_EFORMAT, "attribute %s is neither a string nor a number", name);
    goto cleanup;
  }
  if (!buf) {
    st = ad3d_fail(AD3D_ENOMEM, "out of memory for attribute %s", name);
    goto cleanup;
  }
  *value = buf;
  buf = NULL;
cleanup:
  free(buf);
  H5CLOSE(H5Tclose, mt);
  H5CLOSE(H5Sclose, space);
  H5CLOSE(H5Tclose, t);
  H5CLOSE(H5Aclose, a);
  return st;
}

static ad3d_status attr_read_i64(hid_t loc, const char *name, int64_t *v) {
  char *text = NULL, *end = NULL;
  TRY(attr_read_text(loc, name, &text));
  errno = 0;
  long long x = strtoll(text, &end, 10);
  int ok = errno == 0 && end != text && *end == '\0';
  free(text);
  if (!ok)
    return ad3d_fail(AD3D_EFORMAT, "attribute %s is not an integer", name);
  *v = (int64_t)x;
  return AD3D_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Opening files
 * ------------------------------------------------------------------------------------------- */

/* Open for reading: plainly, or with SWMR read when a writer holds the file or was killed (its
 * superblock still says "open for writing"). */
static ad3d_status file_open_read(const char *path, hid_t *out) {
  ad3d_status st = AD3D_OK;
  htri_t is_h5;
  hid_t f;
  char first[1400];
  *out = H5I_INVALID_HID;
  if (!is_file(path))
    return ad3d_fail(AD3D_ENOTFOUND, "%s: no such results file", path);
  H5CALL(is_h5 = H5Fis_hdf5(path));
  if (!is_h5)
    return ad3d_fail(AD3D_EFORMAT, "%s: not an HDF5 file", path);
  f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) {
    h5_failure(__FILE__, __LINE__, "H5Fopen(path, H5F_ACC_RDONLY)");
    snprintf(first, sizeof first, "%s", ad3d_errmsg());
    /* A SWMR reader retries a metadata block whose checksum fails (it may be mid-write) with
     * doubling sleeps; bound the retries so that a damaged file fails instead of hanging. */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_metadata_read_attempts(fapl, META_READ_ATTEMPTS) < 0) {
      if (fapl >= 0)
        H5Pclose(fapl);
      return h5_failure(__FILE__, __LINE__, "H5Pset_metadata_read_attempts(fapl, META_READ_ATTEMPTS)");
    }
    f = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl);
    H5Pclose(fapl);
    if (f < 0) {
      char second[1400];
      h5_failure(__FILE__, __LINE__, "H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ)");
      snprintf(second, sizeof second, "%s", ad3d_errmsg());
      return ad3d_fail(AD3D_EINTERNAL, "%s: cannot be opened: %s (and with SWMR read: %s)", path, first, second);
    }
  }
  *out = f;
cleanup:
  return st;
}

/* A file access property list for writing: latest format (SWMR needs it), optionally with the
 * private properties h5clear uses to open a file whose writer was killed. */
static ad3d_status fapl_for_write(int repair, hid_t *out) {
  ad3d_status st = AD3D_OK;
  hid_t fapl = H5I_INVALID_HID;
  static const char *const props[] = {"clear_status_flags", "skip_eof_check"};
  H5CALL(fapl = H5Pcreate(H5P_FILE_ACCESS));
  H5CALL(H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST));
  for (int i = 0; repair && i < 2; i++) {
    htri_t exists;
    hbool_t on = 1;
    H5CALL(exists = H5Pexist(fapl, props[i]));
    if (!exists) {
      st = ad3d_fail(AD3D_EINTERNAL,
                     "%s lacks the file access property \"%s\" needed to reopen a killed run's file; "
                     "run `h5clear -s --increment=0 FILE` and retry",
                     results_hdf5_version(), props[i]);
      goto cleanup;
    }
    H5CALL(H5Pset(fapl, props[i], &on));
  }
  *out = fapl;
  fapl = H5I_INVALID_HID;
cleanup:
  H5CLOSE(H5Pclose, fapl);
  return st;
}

/* Open for appending in SWMR-write mode, clearing a killed writer's mark. A killed writer may have
 * allocated and written (part of) chunks and metadata past the EOA its superblock records; the
 * index may point to them. So when the file extends past that EOA, the EOA moves first thing to a
 * page boundary at least RESUME_MARGIN past the end of file: no new allocation lands on bytes
 * already written or on the unwritten tail of a chunk allocated before the kill. */
static ad3d_status file_open_write(const char *path, unsigned mode, hid_t *out) {
  ad3d_status st = AD3D_OK;
  hid_t fapl = H5I_INVALID_HID, f = H5I_INVALID_HID;
  haddr_t eoa = 0;
  struct stat sb;
  TRY(fapl_for_write(1, &fapl));
  H5CALL(f = H5Fopen(path, mode, fapl));
  H5CALL(H5Fget_eoa(f, &eoa));
  if (stat(path, &sb) != 0) {
    st = ad3d_fail(AD3D_EIO, "%s: %s", path, strerror(errno));
    goto cleanup;
  }
  if ((haddr_t)sb.st_size > eoa) {
    hsize_t end = (hsize_t)sb.st_size + RESUME_MARGIN;
    hsize_t aligned = (end + FILE_PAGE - 1) / FILE_PAGE * FILE_PAGE;
    H5CALL(H5Fincrement_filesize(f, aligned - (hsize_t)sb.st_size));
  }
  *out = f;
  f = H5I_INVALID_HID;
cleanup:
  H5CLOSE(H5Fclose, f);
  H5CLOSE(H5Pclose, fapl);
  return st;
}

/* Check that an open file is a results file of our format version. */
static ad3d_status check_format(hid_t f, const char *path) {
  int64_t version = 0;
  ad3d_status st = attr_read_i64(f, "format_version", &version);
  if (st == AD3D_ENOTFOUND)
    return ad3d_fail(AD3D_EFORMAT, "%s: not an ad3d results file (no format_version attribute)", path);
  if (st != AD3D_OK)
    return ad3d_fail_context(st, "%s", path);
  if (version != RESULTS_FORMAT_VERSION)
    return ad3d_fail(AD3D_EFORMAT, "%s: results format version %lld, this program reads version %d", path,
                     (long long)version, RESULTS_FORMAT_VERSION);
  return AD3D_OK;
}

/* The slice attributes of an open file: *count 0 when it has neither; EFORMAT if only one, or
 * not 0 <= index < count. */
static ad3d_status slice_read(hid_t f, const char *path, int32_t *index, int32_t *count) {
  int64_t i = 0, n = 0;
  ad3d_status si = attr_read_i64(f, "slice_index", &i), sn = attr_read_i64(f, "slice_count", &n);
  *index = *count = 0;
  if (si == AD3D_ENOTFOUND && sn == AD3D_ENOTFOUND) {
    ad3d_clear_error();
    return AD3D_OK;
  }
  if (si == AD3D_OK && sn == AD3D_OK && n >= 1 && n <= INT32_MAX && i >= 0 && i < n) {
    *index = (int32_t)i;
    *count = (int32_t)n;
    return AD3D_OK;
  }
  if (si != AD3D_OK && si != AD3D_ENOTFOUND)
    return ad3d_fail_context(si, "%s", path);
  if (sn != AD3D_OK && sn != AD3D_ENOTFOUND)
    return ad3d_fail_context(sn, "%s", path);
  return ad3d_fail(AD3D_EFORMAT, "%s: malformed slice attributes (slice_index %s, slice_count %s)", path,
                   si == AD3D_OK ? "present" : "absent", sn == AD3D_OK ? "present" : "absent");
}

/* ---------------------------------------------------------------------------------------------
 * Reading the task table
 * ------------------------------------------------------------------------------------------- */

/* All rows of /tasks (committed or not). *rows: malloc'd (NULL when empty). */
static ad3d_status rows_read(hid_t f, const char *path, task_row **rows, int64_t *n) {
  ad3d_status st = AD3D_OK;
  hid_t d = H5I_INVALID_HID, mt = H5I_INVALID_HID, ft = H5I_INVALID_HID;
  htri_t exists;
  task_row *buf = NULL;
  int64_t len = 0;
  *rows = NULL;
  *n = 0;
  H5CALL(exists = H5Lexists(f, "tasks", H5P_DEFAULT));
  if (!exists)
    return ad3d_fail(AD3D_EFORMAT, "%s: no /tasks dataset", path);
  H5CALL(d = H5Dopen2(f, "tasks", H5P_DEFAULT));
  if ((st = dset_length(d, &len)) != AD3D_OK)
    goto cleanup;
  if (len > 0) {
    if (!(buf = calloc((size_t)len, sizeof *buf))) {
      st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory for %lld task rows", path, (long long)len);
      goto cleanup;
    }
    H5CALL(ft = H5Dget_type(d));
    if ((st = row_type_create(0, ft, &mt)) != AD3D_OK)
      goto cleanup;
    H5CALL(H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf));
  }
  *rows = buf;
  *n = len;
  buf = NULL;
cleanup:
  free(buf);
  H5CLOSE(H5Tclose, mt);
  H5CLOSE(H5Tclose, ft);
  H5CLOSE(H5Dclose, d);
  if (st != AD3D_OK)
    ad3d_fail_context(st, "%s: reading /tasks", path);
  return st;
}

static void row_to_record(const task_row *w, task_record *r) {
  memset(r, 0, sizeof *r);
  copy_str(r->key, sizeof r->key, w->key, sizeof w->key);
  copy_str(r->method, sizeof r->method, w->method, sizeof w->method);
  copy_str(r->dataset, sizeof r->dataset, w->dataset, sizeof w->dataset);
  copy_str(r->cls, sizeof r->cls, w->cls, sizeof w->cls);
  copy_str(r->variant, sizeof r->variant, w->variant, sizeof w->variant);
  r->status = w->status;
  r->rank = w->rank;
  r->i_auroc = w->i_auroc;
  r->p_auroc = w->p_auroc;
  r->i_ap = w->i_ap;
  r->p_ap = w->p_ap;
  r->aupro = w->aupro;
  r->fit_s = w->fit_s;
  r->score_s = w->score_s;
  r->peak_rss_kb = w->peak_rss_kb;
  r->nsamples = w->nsamples;
  r->npoints = w->npoints;
  copy_str(r->error, sizeof r->error, w->error, sizeof w->error);
  copy_str(r->recorded_at, sizeof r->recorded_at, w->recorded_at, sizeof w->recorded_at);
}

static int row_committed(const task_row *w) { return w->committed == 1 && w->key[0] != '\0'; }

/* Latest committed row per key, in order of each key's first committed row: `latest` gets row
 * indices (malloc'd, *nlatest entries). */
static ad3d_status rows_latest(const task_row *rows, int64_t n, int64_t **latest, int64_t *nlatest) {
  keymap map = {0};
  int64_t *idx = NULL, m = 0;
  ad3d_status st = AD3D_OK;
  *latest = NULL;
  *nlatest = 0;
  if (n > 0 && !(idx = malloc((size_t)n * sizeof *idx)))
    return ad3d_fail(AD3D_ENOMEM, "results: out of memory for %lld task rows", (long long)n);
  for (int64_t i = 0; i < n; i++) {
    if (!row_committed(&rows[i]))
      continue;
    char key[sizeof rows[i].key];
    copy_str(key, sizeof key, rows[i].key, sizeof rows[i].key);
    int64_t *slot = keymap_get(&map, key);
    if (slot) {
      idx[*slot] = i;
    } else {
      if ((st = keymap_put(&map, key, m)) != AD3D_OK)
        goto cleanup;
      idx[m++] = i;
    }
  }
  *latest = idx;
  *nlatest = m;
  idx = NULL;
cleanup:
  free(idx);
  keymap_free(&map);
  return st;
}

/* ---------------------------------------------------------------------------------------------
 * Writer
 * ------------------------------------------------------------------------------------------- */

struct results {
  char *path;
  hid_t file;
  hid_t tasks;
  hid_t samples[S_COUNT];
  hid_t points[P_COUNT];
  hid_t row_mtype;  /* memory type of task_row */
  keymap status;    /* key -> latest task_status */
  int lock_fd;      /* holds flock on lock_path, -1 when none */
  char *lock_path;
  int opened;       /* results_open succeeded: closing records the end time */
  int fsync_each;   /* fsync after every append (else once, on close): results_set_fsync */
};

/* Keep other writers out for as long as this process holds the file. Locking that the file
 * system does not support (ENOLCK, ENOSYS, EOPNOTSUPP) is skipped. */
static ad3d_status lock_acquire(const char *path, int *fd_out, char **lock_path_out) {
  char *lp = str_printf("%s.lock", path);
  int fd = -1;
  *fd_out = -1;
  *lock_path_out = NULL;
  if (!lp)
    return ad3d_fail(AD3D_ENOMEM, "%s: out of memory", path);
  for (int attempt = 0; attempt < 3; attempt++) {
    struct stat a, b;
    fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      ad3d_status st = ad3d_fail(AD3D_EIO, "%s: cannot create lock file: %s", lp, strerror(errno));
      free(lp);
      return st;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      if (e == EWOULDBLOCK) {
        char pid[32] = "";
        ssize_t k = pread(fd, pid, sizeof pid - 1, 0);
        pid[k > 0 ? k : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(fd);
        ad3d_status st = ad3d_fail(AD3D_EIO, "%s: being written by another process (pid %s, lock %s)", path,
                                   pid[0] ? pid : "?", lp);
        free(lp);
        return st;
      }
      if (e != ENOLCK && e != ENOSYS && e != EOPNOTSUPP) {
        close(fd);
        ad3d_status st = ad3d_fail(AD3D_EIO, "%s: cannot lock: %s", lp, strerror(e));
        free(lp);
        return st;
      }
      break; /* no locking on this file system */
    }
    /* A writer that was closing may have unlinked the lock file before we locked it. */
    if (fstat(fd, &a) == 0 && stat(lp, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
      break;
    close(fd);
    fd = -1;
  }
  if (fd < 0) {
    ad3d_status st = ad3d_fail(AD3D_EIO, "%s: lock file keeps changing", lp);
    free(lp);
    return st;
  }
  char pid[32];
  int k = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)k, 0) != k) {
    /* The pid is only informative. */
  }
  *fd_out = fd;
  *lock_path_out = lp;
  return AD3D_OK;
}

static void lock_release(int fd, char *lock_path) {
  if (fd >= 0) {
    unlink(lock_path);
    close(fd);
  }
  free(lock_path);
}

/* First line where two texts differ, for the config-mismatch message. */
static void first_difference(const char *a, const char *b, char *out, size_t cap) {
  int line = 1;
  const char *la = a, *lb = b;
  while (*a && *a == *b) {
    if (*a == '\n') {
      line++;
      la = a + 1;
      lb = b + 1;
    }
    a++;
    b++;
  }
  int na = (int)strcspn(la, "\n"), nb = (int)strcspn(lb, "\n");
  snprintf(out, cap, "line %d: file has \"%.*s%s\", given \"%.*s%s\"", line, na > 80 ? 80 : na, la,
           na > 80 ? "..." : "", nb > 80 ? 80 : nb, lb, nb > 80 ? "..." : "");
}

/* Build a new, empty results file at `tmp` (all objects, root attributes). */
static ad3d_status file_create(const char *tmp, const results_meta *meta) {
  ad3d_status st = AD3D_OK;
  hid_t fapl = H5I_INVALID_HID, fcpl = H5I_INVALID_HID, f = H5I_INVALID_HID, g = H5I_INVALID_HID,
        ft = H5I_INVALID_HID;
  int32_t version = RESULTS_FORMAT_VERSION, minor = RESULTS_FORMAT_MINOR, ranks = meta->ranks;
  int32_t slice[2] = {meta->slice_index, meta->slice_count};
  uint64_t seed = meta->seed;
  char now[TIME_LEN];
  iso_time_now(now);

  if ((st = fapl_for_write(0, &fapl)) != AD3D_OK)
    goto cleanup;
  H5CALL(fcpl = H5Pcreate(H5P_FILE_CREATE));
  H5CALL(H5Pset_file_space_strategy(fcpl, H5F_FSPACE_STRATEGY_PAGE, 0, 1));
  H5CALL(H5Pset_file_space_page_size(fcpl, FILE_PAGE));
  H5CALL(f = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, fapl));
  /* end_time first: the one attribute rewritten later stays in the small first chunk of the root
   * object header, away from a long config. */
  if ((st = attr_write_str(f, "end_time", "", TIME_LEN)) || (st = attr_write_str(f, "start_time", now, TIME_LEN)) ||
      (st = h5_attr_write_scalar(f, "format_version", H5T_STD_I32LE, H5T_NATIVE_INT32, &version)) ||
      (st = h5_attr_write_scalar(f, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, &seed)) ||
      (st = h5_attr_write_scalar(f, "ranks", H5T_STD_I32LE, H5T_NATIVE_INT32, &ranks)) ||
      (st = attr_write_str(f, "program_version", meta->program_version ? meta->program_version : "", 0)) ||
      (st = attr_write_str(f, "hosts", meta->hosts ? meta->hosts : "", 0)) ||
      (st = attr_write_str(f, "hdf5_version", results_hdf5_version(), 0)) ||
      (st = attr_write_str(f, "config", meta->config_text ? meta->config_text : "", 0)) ||
      (st = h5_attr_write_scalar(f, "format_minor", H5T_STD_I32LE, H5T_NATIVE_INT32, &minor)))
    goto cleanup;
  if (meta->slice_count > 0 &&
      ((st = h5_attr_write_scalar(f, "slice_index", H5T_STD_I32LE, H5T_NATIVE_INT32, &slice[0])) ||
       (st = h5_attr_write_scalar(f, "slice_count", H5T_STD_I32LE, H5T_NATIVE_INT32, &slice[1]))))
    goto cleanup;

  if ((st = row_type_create(1, H5I_INVALID_HID, &ft)) != AD3D_OK)
    goto cleanup;
  if ((st = dset_create(f, "tasks", ft, TASKS_CHUNK)) != AD3D_OK)
    goto cleanup;
  H5CLOSE(H5Tclose, ft);

  H5CALL(g = H5Gcreate2(f, "samples", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  for (int i = 0; i < S_COUNT; i++) {
    H5CALL(ft = field_type(SAMPLE_KINDS[i], SAMPLE_SIZES[i], 1));
    if ((st = dset_create(g, SAMPLE_DSETS[i], ft, SAMPLES_CHUNK)) != AD3D_OK)
      goto cleanup;
    H5CLOSE(H5Tclose, ft);
  }
  H5CLOSE(H5Gclose, g);

  H5CALL(g = H5Gcreate2(f, "points", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  for (int i = 0; i < P_COUNT; i++) {
    H5CALL(ft = field_type(POINT_KINDS[i], 0, 1));
    if ((st = dset_create(g, POINT_DSETS[i], ft, POINTS_CHUNK)) != AD3D_OK)
      goto cleanup;
    H5CLOSE(H5Tclose, ft);
  }
cleanup:
  H5CLOSE(H5Tclose, ft);
  H5CLOSE(H5Gclose, g);
  H5CLOSE(H5Fclose, f);
  H5CLOSE(H5Pclose, fcpl);
  H5CLOSE(H5Pclose, fapl);
  if (st != AD3D_OK)
    ad3d_fail_context(st, "%s: creating results file", tmp);
  return st;
}

static ad3d_status fsync_path(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return ad3d_fail(AD3D_EIO, "%s: %s", path, strerror(errno));
  int rc = fsync(fd);
  int e = errno;
  close(fd);
  if (rc != 0 && e != EINVAL && e != EROFS)
    return ad3d_fail(AD3D_EIO, "%s: fsync: %s", path, strerror(e));
  return AD3D_OK;
}

/* Check an existing file before appending to it: format, config and seed. */
static ad3d_status check_resumable(const char *path, const results_meta *meta, int force) {
  ad3d_status st = AD3D_OK;
  hid_t f = H5I_INVALID_HID;
  char *config = NULL, *seed_text = NULL;
  TRY(file_open_read(path, &f));
  if ((st = check_format(f, path)) != AD3D_OK)
    goto cleanup;
  if ((st = attr_read_text(f, "config", &config)) != AD3D_OK ||
      (st = attr_read_text(f, "seed", &seed_text)) != AD3D_OK) {
    ad3d_fail_context(st, "%s", path);
    goto cleanup;
  }
  const char *given = meta->config_text ? meta->config_text : "";
  if (!force && strcmp(config, given) != 0) {
    char diff[400];
    first_difference(config, given, diff, sizeof diff);
    st = ad3d_fail(AD3D_EINVAL,
                   "%s: the config differs from the one this results file was started with (%s); "
                   "resume with the same config, or force to append anyway",
                   path, diff);
    goto cleanup;
  }
  char given_seed[32];
  snprintf(given_seed, sizeof given_seed, "%llu", (unsigned long long)meta->seed);
  if (!force && strcmp(seed_text, given_seed) != 0) {
    st = ad3d_fail(AD3D_EINVAL,
                   "%s: the seed differs from the one this results file was started with (file has %s, "
                   "given %s); resume with the same seed, or force to append anyway",
                   path, seed_text, given_seed);
    goto cleanup;
  }
  /* A file without a slice (the whole job, or written before slices were stored) takes any. */
  int32_t index = 0, count = 0;
  if ((st = slice_read(f, path, &index, &count)) != AD3D_OK)
    goto cleanup;
  if (!force && count > 0 && (count != meta->slice_count || index != meta->slice_index)) {
    char given_slice[48] = "the whole job";
    if (meta->slice_count > 0)
      snprintf(given_slice, sizeof given_slice, "slice %d/%d", (int)meta->slice_index, (int)meta->slice_count);
    st = ad3d_fail(AD3D_EINVAL,
                   "%s: this results file holds slice %d/%d of its job, given %s; resume with --slice %d/%d, "
                   "or force to append anyway",
                   path, (int)index, (int)count, given_slice, (int)index, (int)count);
    goto cleanup;
  }
cleanup:
  free(config);
  free(seed_text);
  H5CLOSE(H5Fclose, f);
  return st;
}

/* Open the datasets of a write-opened file and load the latest status of every key. The writer
 * opens them without a chunk cache: an append writes just its new rows and points to the file,
 * instead of rewriting whole cached chunks (up to 1 MiB each) at every flush. */
static ad3d_status writer_load(results_t *r) {
  ad3d_status st = AD3D_OK;
  hid_t g = H5I_INVALID_HID, dapl = H5I_INVALID_HID;
  task_row *rows = NULL;
  int64_t n = 0;
  H5CALL(dapl = H5Pcreate(H5P_DATASET_ACCESS));
  H5CALL(H5Pset_chunk_cache(dapl, 0, 0, H5D_CHUNK_CACHE_W0_DEFAULT));
  H5CALL(r->tasks = H5Dopen2(r->file, "tasks", dapl));
  H5CALL(g = H5Gopen2(r->file, "samples", H5P_DEFAULT));
  for (int i = 0; i < S_COUNT; i++)
    H5CALL(r->samples[i] = H5Dopen2(g, SAMPLE_DSETS[i], dapl));
  H5CLOSE(H5Gclose, g);
  H5CALL(g = H5Gopen2(r->file, "points", H5P_DEFAULT));
  for (int i = 0; i < P_COUNT; i++)
    H5CALL(r->points[i] = H5Dopen2(g, POINT_DSETS[i], dapl));
  if ((st = row_type_create(0, H5I_INVALID_HID, &r->row_mtype)) != AD3D_OK)
    goto cleanup;
  if ((st = rows_read(r->file, r->path, &rows, &n)) != AD3D_OK)
    goto cleanup;
  for (int64_t i = 0; i < n; i++)
    if (row_committed(&rows[i])) {
      char key[sizeof rows[i].key];
      copy_str(key, sizeof key, rows[i].key, sizeof rows[i].key);
      if ((st = keymap_put(&r->status, key, rows[i].status)) != AD3D_OK)
        goto cleanup;
    }
cleanup:
  free(rows);
  H5CLOSE(H5Pclose, dapl);
  H5CLOSE(H5Gclose, g);
  return st;
}

ad3d_status results_open(const char *path, const results_meta *meta, int force, results_t **out) {
  ad3d_status st = AD3D_OK;
  results_t *r = NULL;
  char *tmp = NULL;
  h5_quiet();
  *out = NULL;
  if (!path || !meta)
    return ad3d_fail(AD3D_EINVAL, "results_open: path and meta are required");
  if (meta->slice_count < 0 ||
      (meta->slice_count > 0 && (meta->slice_index < 0 || meta->slice_index >= meta->slice_count)))
    return ad3d_fail(AD3D_EINVAL, "%s: slice %d/%d: expected I/N with 0 <= I < N", path, (int)meta->slice_index,
                     (int)meta->slice_count);
  if (!(r = calloc(1, sizeof *r)) || !(r->path = xstrdup(path))) {
    free(r);
    return ad3d_fail(AD3D_ENOMEM, "%s: out of memory", path);
  }
  r->file = r->tasks = r->row_mtype = H5I_INVALID_HID;
  for (int i = 0; i < S_COUNT; i++)
    r->samples[i] = H5I_INVALID_HID;
  for (int i = 0; i < P_COUNT; i++)
    r->points[i] = H5I_INVALID_HID;
  r->lock_fd = -1;
  r->fsync_each = 1;
  if ((st = lock_acquire(path, &r->lock_fd, &r->lock_path)) != AD3D_OK)
    goto cleanup;

  if (!is_file(path)) {
    /* Build the whole empty file elsewhere, then rename: a kill never leaves half a file at path. */
    if (!(tmp = str_printf("%s.creating", path))) {
      st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory", path);
      goto cleanup;
    }
    if ((st = file_create(tmp, meta)) != AD3D_OK || (st = fsync_path(tmp)) != AD3D_OK)
      goto cleanup;
    if (rename(tmp, path) != 0) {
      st = ad3d_fail(AD3D_EIO, "%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
      goto cleanup;
    }
  } else if ((st = check_resumable(path, meta, force)) != AD3D_OK) {
    goto cleanup;
  }
  if ((st = file_open_write(path, H5F_ACC_RDWR | H5F_ACC_SWMR_WRITE, &r->file)) != AD3D_OK) {
    ad3d_fail_context(st, "%s: opening for appending", path);
    goto cleanup;
  }
  if ((st = writer_load(r)) != AD3D_OK)
    goto cleanup;
  r->opened = 1;
  *out = r;
  r = NULL;
cleanup:
  if (tmp && st != AD3D_OK)
    unlink(tmp);
  free(tmp);
  if (r) {
    ad3d_status keep = st;
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", ad3d_errmsg());
    results_close(r); /* not opened: records no end time */
    ad3d_fail(keep, "%s", msg);
  }
  return st;
}

void results_set_fsync(results_t *r, int each_append) {
  if (r)
    r->fsync_each = each_append != 0;
}

int results_task_status(const results_t *r, const char *key) {
  int64_t *v = r && key ? keymap_get(&r->status, key) : NULL;
  return v ? (int)*v : -1;
}

static ad3d_status validate_append(const results_t *r, const task_record *rec, const task_scores *s) {
  if (!r || !rec)
    return ad3d_fail(AD3D_EINVAL, "results_append: writer and record are required");
  if (strnlen(rec->key, sizeof rec->key) == 0)
    return ad3d_fail(AD3D_EINVAL, "%s: a task record needs a key", r->path);
  if (rec->status != TASK_OK && rec->status != TASK_FAILED)
    return ad3d_fail(AD3D_EINVAL, "%s: task %.*s: status %d is neither TASK_OK nor TASK_FAILED", r->path,
                     (int)sizeof rec->key, rec->key, (int)rec->status);
  if (!s)
    return AD3D_OK;
  if (s->nsamples < 0 || s->total_points < 0)
    return ad3d_fail(AD3D_EINVAL, "%s: task %.*s: negative sample or point count", r->path,
                     (int)sizeof rec->key, rec->key);
  if (s->nsamples != rec->nsamples || s->total_points != rec->npoints)
    return ad3d_fail(AD3D_EINVAL,
                     "%s: task %.*s: the record says %lld samples / %lld points, the scores have %lld / %lld",
                     r->path, (int)sizeof rec->key, rec->key, (long long)rec->nsamples,
                     (long long)rec->npoints, (long long)s->nsamples, (long long)s->total_points);
  if (s->nsamples > 0 && (!s->labels || !s->object_scores || !s->npoints))
    return ad3d_fail(AD3D_EINVAL, "%s: task %.*s: scores lack labels, object scores or point counts",
                     r->path, (int)sizeof rec->key, rec->key);
  if (s->total_points > 0 && (!s->point_scores || !s->point_labels))
    return ad3d_fail(AD3D_EINVAL, "%s: task %.*s: scores lack point scores or point labels", r->path,
                     (int)sizeof rec->key, rec->key);
  int64_t sum = 0;
  for (int64_t i = 0; i < s->nsamples; i++) {
    if (s->npoints[i] < 0)
      return ad3d_fail(AD3D_EINVAL, "%s: task %.*s: sample %lld has %lld points", r->path,
                       (int)sizeof rec->key, rec->key, (long long)i, (long long)s->npoints[i]);
    sum += s->npoints[i];
  }
  if (sum != s->total_points)
    return ad3d_fail(AD3D_EINVAL, "%s: task %.*s: per-sample point counts sum to %lld, total_points is %lld",
                     r->path, (int)sizeof rec->key, rec->key, (long long)sum, (long long)s->total_points);
  return AD3D_OK;
}

static void record_to_row(const task_record *rec, task_row *w) {
  memset(w, 0, sizeof *w);
  copy_str(w->key, sizeof w->key, rec->key, sizeof rec->key);
  copy_str(w->method, sizeof w->method, rec->method, sizeof rec->method);
  copy_str(w->dataset, sizeof w->dataset, rec->dataset, sizeof rec->dataset);
  copy_str(w->cls, sizeof w->cls, rec->cls, sizeof rec->cls);
  copy_str(w->variant, sizeof w->variant, rec->variant, sizeof rec->variant);
  w->status = rec->status;
  w->rank = rec->rank;
  w->i_auroc = rec->i_auroc;
  w->p_auroc = rec->p_auroc;
  w->i_ap = rec->i_ap;
  w->p_ap = rec->p_ap;
  w->aupro = rec->aupro;
  w->fit_s = rec->fit_s;
  w->score_s = rec->score_s;
  w->peak_rss_kb = rec->peak_rss_kb;
  w->nsamples = rec->nsamples;
  w->npoints = rec->npoints;
  copy_str(w->error, sizeof w->error, rec->error, sizeof rec->error);
  w->sample_start = -1;
  w->point_start = -1;
}

/* Length of a group of datasets: the longest (a killed or failed append may leave them unequal). */
static ad3d_status dsets_max_length(const hid_t *d, int n, int64_t *len) {
  *len = 0;
  for (int i = 0; i < n; i++) {
    int64_t l = 0;
    TRY(dset_length(d[i], &l));
    if (l > *len)
      *len = l;
  }
  return AD3D_OK;
}

/* Append the per-sample rows of one task at `start`; points of sample j start at point_start[j]. */
static ad3d_status samples_append(results_t *r, const task_scores *s, int64_t start, int64_t task_row_index,
                                  int64_t first_point) {
  ad3d_status st = AD3D_OK;
  hid_t t = H5I_INVALID_HID;
  size_t n = (size_t)s->nsamples;
  int64_t *rowref = malloc(n * sizeof *rowref), *pstart = malloc(n * sizeof *pstart);
  char *names = calloc(n, NAME_LEN), *defects = calloc(n, DEFECT_LEN);
  if (!rowref || !pstart || !names || !defects) {
    st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory for %zu samples", r->path, n);
    goto cleanup;
  }
  int64_t p = first_point;
  for (size_t j = 0; j < n; j++) {
    rowref[j] = task_row_index;
    pstart[j] = p;
    p += s->npoints[j];
    const char *name = s->names && s->names[j] ? s->names[j] : "";
    const char *defect = s->defects && s->defects[j] ? s->defects[j] : "";
    copy_str(names + j * NAME_LEN, NAME_LEN, name, strlen(name));
    copy_str(defects + j * DEFECT_LEN, DEFECT_LEN, defect, strlen(defect));
  }
  const void *bufs[S_COUNT] = {rowref, names, defects, s->labels, s->object_scores, s->npoints, pstart};
  for (int i = 0; i < S_COUNT; i++) {
    H5CALL(t = field_type(SAMPLE_KINDS[i], SAMPLE_SIZES[i], 0));
    if ((st = dset_write_at(r->samples[i], t, start, s->nsamples, bufs[i])) != AD3D_OK)
      goto cleanup;
    H5CLOSE(H5Tclose, t);
  }
  for (int i = 0; i < S_COUNT; i++)
    H5CALL(H5Dflush(r->samples[i]));
cleanup:
  H5CLOSE(H5Tclose, t);
  free(rowref);
  free(pstart);
  free(names);
  free(defects);
  return st;
}

/* Everything written so far reaches the kernel (kill -9 safe) and the disk (node crash). */
static ad3d_status writer_sync(results_t *r) {
  ad3d_status st = AD3D_OK;
  void *handle = NULL;
  H5CALL(H5Fflush(r->file, H5F_SCOPE_GLOBAL));
  if (!r->fsync_each)
    goto cleanup;
  H5CALL(H5Fget_vfd_handle(r->file, H5P_DEFAULT, &handle));
  if (handle && fsync(*(int *)handle) != 0 && errno != EINVAL && errno != EROFS)
    st = ad3d_fail(AD3D_EIO, "%s: fsync: %s", r->path, strerror(errno));
cleanup:
  return st;
}

/* results_append and results_append_copy: the row records `recorded_at`, or the time now if NULL. */
static ad3d_status append_task(results_t *r, const task_record *rec, const task_scores *scores,
                               const char *recorded_at) {
  ad3d_status st = AD3D_OK;
  hid_t t = H5I_INVALID_HID;
  task_row row;
  int64_t ntasks = 0, nsamples = 0, npoints = 0;
  h5_quiet();
  TRY(validate_append(r, rec, scores));
  record_to_row(rec, &row);

  /* Where this task goes: after everything any earlier append (finished or not) wrote. */
  if ((st = dset_length(r->tasks, &ntasks)) != AD3D_OK ||
      (st = dsets_max_length(r->samples, S_COUNT, &nsamples)) != AD3D_OK ||
      (st = dsets_max_length(r->points, P_COUNT, &npoints)) != AD3D_OK)
    goto cleanup;

  if (scores) {
    row.sample_start = nsamples;
    row.point_start = npoints;
    for (int i = 0; i < P_COUNT; i++) {
      H5CALL(t = field_type(POINT_KINDS[i], 0, 0));
      const void *buf = i == P_SCORE ? (const void *)scores->point_scores : (const void *)scores->point_labels;
      if ((st = dset_write_at(r->points[i], t, npoints, scores->total_points, buf)) != AD3D_OK)
        goto cleanup;
      H5CLOSE(H5Tclose, t);
      H5CALL(H5Dflush(r->points[i]));
    }
    if ((st = samples_append(r, scores, nsamples, ntasks, npoints)) != AD3D_OK)
      goto cleanup;
  }

  /* The commit: the row goes last, whole (its last byte is `committed`). */
  if (recorded_at)
    copy_str(row.recorded_at, sizeof row.recorded_at, recorded_at, strlen(recorded_at));
  else
    iso_time_now(row.recorded_at);
  row.committed = 1;
  if ((st = dset_write_at(r->tasks, r->row_mtype, ntasks, 1, &row)) != AD3D_OK)
    goto cleanup;
  H5CALL(H5Dflush(r->tasks));
  if ((st = writer_sync(r)) != AD3D_OK)
    goto cleanup;
  st = keymap_put(&r->status, row.key, row.status);
cleanup:
  H5CLOSE(H5Tclose, t);
  if (st != AD3D_OK)
    ad3d_fail_context(st, "%s: recording task %s", r->path, row.key);
  return st;
}

ad3d_status results_append(results_t *r, const task_record *rec, const task_scores *scores) {
  return append_task(r, rec, scores, NULL);
}

ad3d_status results_append_copy(results_t *r, const task_record *rec, const task_scores *scores) {
  if (rec && strnlen(rec->recorded_at, sizeof rec->recorded_at) == 0)
    return ad3d_fail(AD3D_EINVAL, "%s: task %.*s: a copied record needs its recorded_at", r ? r->path : "results",
                     (int)sizeof rec->key, rec->key);
  return append_task(r, rec, scores, rec ? rec->recorded_at : NULL);
}

ad3d_status results_close(results_t *r) {
  ad3d_status st = AD3D_OK;
  if (!r)
    return AD3D_OK;
  h5_quiet();
  if (r->opened) { /* the run (or this session of it) ends now */
    char now[TIME_LEN];
    iso_time_now(now);
    st = attr_rewrite_str(r->file, "end_time", now);
  }
  H5CLOSE(H5Tclose, r->row_mtype);
  H5CLOSE(H5Dclose, r->tasks);
  for (int i = 0; i < S_COUNT; i++)
    H5CLOSE(H5Dclose, r->samples[i]);
  for (int i = 0; i < P_COUNT; i++)
    H5CLOSE(H5Dclose, r->points[i]);
  H5CLOSE(H5Fclose, r->file);
  if (st == AD3D_OK && r->opened && !r->fsync_each)
    st = fsync_path(r->path);
  lock_release(r->lock_fd, r->lock_path);
  keymap_free(&r->status);
  if (st != AD3D_OK)
    ad3d_fail_context(st, "%s: closing", r->path);
  free(r->path);
  free(r);
  return st;
}

/* ---------------------------------------------------------------------------------------------
 * Readers
 * ------------------------------------------------------------------------------------------- */

void task_scores_free(task_scores *s) {
  if (!s)
    return;
  for (int64_t i = 0; i < s->nsamples; i++) {
    if (s->names)
      free(s->names[i]);
    if (s->defects)
      free(s->defects[i]);
  }
  free(s->names);
  free(s->defects);
  free(s->labels);
  free(s->object_scores);
  free(s->npoints);
  free(s->point_scores);
  free(s->point_labels);
  memset(s, 0, sizeof *s);
}

/* Where one task's scores are (FORMAT.md rule 4). */
typedef struct {
  const char *key;
  int64_t sample_start, nsamples;
  int64_t point_start, npoints;
} score_span;

/* The /samples and /points datasets of a file open for reading, with the memory types to read
 * them in (strings in the file's character set). */
typedef struct {
  hid_t samples[S_COUNT], sample_mtypes[S_COUNT];
  hid_t points[P_COUNT], point_mtypes[P_COUNT];
} score_dsets;

static void score_dsets_init(score_dsets *d) {
  for (int i = 0; i < S_COUNT; i++)
    d->samples[i] = d->sample_mtypes[i] = H5I_INVALID_HID;
  for (int i = 0; i < P_COUNT; i++)
    d->points[i] = d->point_mtypes[i] = H5I_INVALID_HID;
}

/* Close whatever is open (safe on an initialised, partly opened set). First error returned. */
static ad3d_status score_dsets_close(score_dsets *d) {
  ad3d_status st = AD3D_OK;
  for (int i = 0; i < S_COUNT; i++) {
    H5CLOSE(H5Tclose, d->sample_mtypes[i]);
    H5CLOSE(H5Dclose, d->samples[i]);
  }
  for (int i = 0; i < P_COUNT; i++) {
    H5CLOSE(H5Tclose, d->point_mtypes[i]);
    H5CLOSE(H5Dclose, d->points[i]);
  }
  return st;
}

static ad3d_status score_dsets_open(hid_t f, const char *path, score_dsets *d) {
  ad3d_status st = AD3D_OK;
  hid_t g = H5I_INVALID_HID, ft = H5I_INVALID_HID;
  H5T_class_t cls;
  score_dsets_init(d);
  H5CALL(g = H5Gopen2(f, "samples", H5P_DEFAULT));
  for (int i = 0; i < S_COUNT; i++) {
    H5CALL(d->samples[i] = H5Dopen2(g, SAMPLE_DSETS[i], H5P_DEFAULT));
    H5CALL(ft = H5Dget_type(d->samples[i]));
    H5CALL(cls = H5Tget_class(ft));
    if (SAMPLE_KINDS[i] == K_STR && cls != H5T_STRING) {
      st = ad3d_fail(AD3D_EFORMAT, "%s: /samples/%s is not a string dataset", path, SAMPLE_DSETS[i]);
      goto cleanup;
    }
    H5CALL(d->sample_mtypes[i] = mem_type_for(ft, SAMPLE_KINDS[i], SAMPLE_SIZES[i]));
    H5CLOSE(H5Tclose, ft);
  }
  H5CLOSE(H5Gclose, g);
  H5CALL(g = H5Gopen2(f, "points", H5P_DEFAULT));
  for (int i = 0; i < P_COUNT; i++) {
    H5CALL(d->points[i] = H5Dopen2(g, POINT_DSETS[i], H5P_DEFAULT));
    H5CALL(d->point_mtypes[i] = field_type(POINT_KINDS[i], 0, 0));
  }
cleanup:
  H5CLOSE(H5Tclose, ft);
  H5CLOSE(H5Gclose, g);
  if (st != AD3D_OK)
    score_dsets_close(d); /* the first error is the one to report */
  return st;
}

/* Read the samples and points of one task into out (fields owned by out; freed on error). */
static ad3d_status scores_read(const score_dsets *d, const char *path, const score_span *sp, task_scores *out) {
  ad3d_status st = AD3D_OK;
  size_t ns = (size_t)sp->nsamples, np = (size_t)sp->npoints;
  char *names = NULL, *defects = NULL;
  int64_t *rowref = NULL, *pstart = NULL;
  char what[96];
  memset(out, 0, sizeof *out);
  if (sp->nsamples < 0 || sp->npoints < 0 || sp->point_start < 0)
    return ad3d_fail(AD3D_EFORMAT, "%s: task %s: negative counts or offsets", path, sp->key);
  out->nsamples = sp->nsamples;
  out->total_points = sp->npoints;
  if (ns > 0) {
    out->names = calloc(ns, sizeof *out->names);
    out->defects = calloc(ns, sizeof *out->defects);
    out->labels = malloc(ns);
    out->object_scores = malloc(ns * sizeof *out->object_scores);
    out->npoints = malloc(ns * sizeof *out->npoints);
    names = malloc(ns * NAME_LEN);
    defects = malloc(ns * DEFECT_LEN);
    rowref = malloc(ns * sizeof *rowref);
    pstart = malloc(ns * sizeof *pstart);
  }
  if (np > 0) {
    out->point_scores = malloc(np * sizeof *out->point_scores);
    out->point_labels = malloc(np);
  }
  if ((ns > 0 && (!out->names || !out->defects || !out->labels || !out->object_scores || !out->npoints ||
                  !names || !defects || !rowref || !pstart)) ||
      (np > 0 && (!out->point_scores || !out->point_labels))) {
    st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory for the scores of %s", path, sp->key);
    goto cleanup;
  }
  void *bufs[S_COUNT] = {rowref, names, defects, out->labels, out->object_scores, out->npoints, pstart};
  for (int i = 0; i < S_COUNT && ns > 0; i++) {
    snprintf(what, sizeof what, "/samples/%s", SAMPLE_DSETS[i]);
    st = dset_read_at(d->samples[i], what, d->sample_mtypes[i], sp->sample_start, sp->nsamples, bufs[i]);
    if (st != AD3D_OK)
      goto cleanup;
  }
  for (int i = 0; i < P_COUNT && np > 0; i++) {
    void *buf = i == P_SCORE ? (void *)out->point_scores : (void *)out->point_labels;
    snprintf(what, sizeof what, "/points/%s", POINT_DSETS[i]);
    if ((st = dset_read_at(d->points[i], what, d->point_mtypes[i], sp->point_start, sp->npoints, buf)) != AD3D_OK)
      goto cleanup;
  }
  int64_t p = sp->point_start;
  for (size_t j = 0; j < ns; j++) {
    if (pstart[j] != p || out->npoints[j] < 0) {
      st = ad3d_fail(AD3D_EFORMAT, "%s: task %s: sample %zu has inconsistent point offsets", path, sp->key, j);
      goto cleanup;
    }
    p += out->npoints[j];
    names[(j + 1) * NAME_LEN - 1] = '\0';
    defects[(j + 1) * DEFECT_LEN - 1] = '\0';
    if (!(out->names[j] = xstrdup(names + j * NAME_LEN)) || !(out->defects[j] = xstrdup(defects + j * DEFECT_LEN))) {
      st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory for sample names", path);
      goto cleanup;
    }
  }
  if (p != sp->point_start + sp->npoints)
    st = ad3d_fail(AD3D_EFORMAT, "%s: task %s: per-sample point counts sum to %lld, the task has %lld", path,
                   sp->key, (long long)(p - sp->point_start), (long long)sp->npoints);
cleanup:
  free(names);
  free(defects);
  free(rowref);
  free(pstart);
  if (st != AD3D_OK)
    task_scores_free(out);
  return st;
}

/* The device and inode of an open file (through HDF5's file descriptor). */
static ad3d_status file_identity(hid_t f, const char *path, dev_t *dev, ino_t *ino) {
  ad3d_status st = AD3D_OK;
  void *handle = NULL;
  struct stat sb;
  H5CALL(H5Fget_vfd_handle(f, H5P_DEFAULT, &handle));
  if (!handle || fstat(*(int *)handle, &sb) != 0) {
    st = ad3d_fail(AD3D_EIO, "%s: %s", path, handle ? strerror(errno) : "HDF5 gave no file descriptor");
    goto cleanup;
  }
  *dev = sb.st_dev;
  *ino = sb.st_ino;
cleanup:
  return st;
}

struct results_reader {
  char *path;
  hid_t file;            /* H5I_INVALID_HID while released */
  score_dsets data;      /* opened at the first scores read, closed on release */
  int data_open;
  dev_t dev;             /* the file read when opening: a reopened path must still be it */
  ino_t ino;
  task_record *recs;     /* (n) latest committed record per key, first-recorded order */
  int64_t *sample_start; /* (n) their /samples offsets, -1: no scores */
  int64_t *point_start;  /* (n) their /points offsets */
  int64_t n;
  keymap index;          /* key -> index into recs */
};

ad3d_status results_reader_release(results_reader *rd) {
  ad3d_status st = AD3D_OK;
  if (!rd)
    return AD3D_OK;
  h5_quiet();
  if (rd->data_open)
    st = score_dsets_close(&rd->data);
  rd->data_open = 0;
  H5CLOSE(H5Fclose, rd->file);
  if (st != AD3D_OK)
    ad3d_fail_context(st, "%s: closing", rd->path);
  return st;
}

ad3d_status results_reader_close(results_reader *rd) {
  if (!rd)
    return AD3D_OK;
  ad3d_status st = results_reader_release(rd);
  keymap_free(&rd->index);
  free(rd->recs);
  free(rd->sample_start);
  free(rd->point_start);
  free(rd->path);
  free(rd);
  return st;
}

ad3d_status results_reader_open(const char *path, results_reader **out) {
  ad3d_status st = AD3D_OK;
  results_reader *rd = NULL;
  task_row *rows = NULL;
  int64_t nrows = 0, *latest = NULL;
  h5_quiet();
  *out = NULL;
  if (!(rd = calloc(1, sizeof *rd)) || !(rd->path = xstrdup(path))) {
    free(rd);
    return ad3d_fail(AD3D_ENOMEM, "%s: out of memory", path);
  }
  rd->file = H5I_INVALID_HID;
  score_dsets_init(&rd->data);
  if ((st = file_open_read(path, &rd->file)) != AD3D_OK || (st = check_format(rd->file, path)) != AD3D_OK ||
      (st = file_identity(rd->file, path, &rd->dev, &rd->ino)) != AD3D_OK ||
      (st = rows_read(rd->file, path, &rows, &nrows)) != AD3D_OK ||
      (st = rows_latest(rows, nrows, &latest, &rd->n)) != AD3D_OK)
    goto cleanup;
  size_t m = (size_t)rd->n + 1;
  if (!(rd->recs = calloc(m, sizeof *rd->recs)) || !(rd->sample_start = malloc(m * sizeof *rd->sample_start)) ||
      !(rd->point_start = malloc(m * sizeof *rd->point_start))) {
    st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory for %lld task records", path, (long long)rd->n);
    goto cleanup;
  }
  for (int64_t i = 0; i < rd->n; i++) {
    const task_row *row = &rows[latest[i]];
    row_to_record(row, &rd->recs[i]);
    rd->sample_start[i] = row->sample_start;
    rd->point_start[i] = row->point_start;
    if ((st = keymap_put(&rd->index, rd->recs[i].key, i)) != AD3D_OK)
      goto cleanup;
  }
  *out = rd;
  rd = NULL;
cleanup:
  free(rows);
  free(latest);
  if (rd) {
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", ad3d_errmsg());
    results_reader_close(rd);
    ad3d_fail(st, "%s", msg);
  }
  return st;
}

int64_t results_reader_count(const results_reader *rd) { return rd ? rd->n : 0; }

const task_record *results_reader_records(const results_reader *rd) { return rd ? rd->recs : NULL; }

int64_t results_reader_find(const results_reader *rd, const char *key) {
  const int64_t *i = rd && key ? keymap_get(&rd->index, key) : NULL;
  return i ? *i : -1;
}

/* Open the file again after a release (it must be the same file) and its score datasets. */
static ad3d_status reader_attach(results_reader *rd) {
  ad3d_status st = AD3D_OK;
  if (rd->file < 0) {
    dev_t dev = 0;
    ino_t ino = 0;
    if ((st = file_open_read(rd->path, &rd->file)) != AD3D_OK) /* ENOTFOUND: a record without scores */
      return st == AD3D_ENOTFOUND ? ad3d_fail(AD3D_EIO, "%s: removed while it was being read", rd->path) : st;
    if ((st = file_identity(rd->file, rd->path, &dev, &ino)) != AD3D_OK)
      goto fail;
    if (dev != rd->dev || ino != rd->ino) {
      st = ad3d_fail(AD3D_EIO, "%s: replaced by another file while it was being read; read it again", rd->path);
      goto fail;
    }
  }
  if (!rd->data_open) {
    if ((st = score_dsets_open(rd->file, rd->path, &rd->data)) != AD3D_OK)
      goto fail;
    rd->data_open = 1;
  }
  return AD3D_OK;
fail:
  H5Fclose(rd->file); /* the first error is the one to report */
  H5Eclear2(H5E_DEFAULT);
  rd->file = H5I_INVALID_HID;
  return st;
}

ad3d_status results_reader_scores(results_reader *rd, int64_t i, task_scores *out) {
  memset(out, 0, sizeof *out);
  if (!rd || i < 0 || i >= rd->n)
    return ad3d_fail(AD3D_EINVAL, "results_reader_scores: record %lld of %lld", (long long)i,
                     (long long)(rd ? rd->n : 0));
  h5_quiet();
  const task_record *rec = &rd->recs[i];
  if (rd->sample_start[i] < 0)
    return ad3d_fail(AD3D_ENOTFOUND, "%s: task %s has no scores (%s)", rd->path, rec->key,
                     rec->status == TASK_FAILED ? "it failed" : "none were recorded");
  TRY(reader_attach(rd));
  score_span sp = {rec->key, rd->sample_start[i], rec->nsamples, rd->point_start[i], rec->npoints};
  return scores_read(&rd->data, rd->path, &sp, out);
}

ad3d_status results_read_tasks(const char *path, task_record **recs, int64_t *n) {
  results_reader *rd = NULL;
  *recs = NULL;
  *n = 0;
  TRY(results_reader_open(path, &rd));
  task_record *got = rd->recs;
  int64_t m = rd->n;
  rd->recs = NULL;
  ad3d_status st = results_reader_close(rd);
  if (st != AD3D_OK) {
    free(got);
    return st;
  }
  if (m == 0) {
    free(got);
    got = NULL;
  }
  *recs = got;
  *n = m;
  return AD3D_OK;
}

static ad3d_status row_find_latest(hid_t f, const char *path, const char *key, task_row *row, int *found) {
  typedef struct {
    char key[256];
    uint8_t committed;
  } key_row;
  ad3d_status st = AD3D_OK;
  hid_t d = H5I_INVALID_HID, ft = H5I_INVALID_HID, kt = H5I_INVALID_HID, member = H5I_INVALID_HID,
        st_key = H5I_INVALID_HID, rt = H5I_INVALID_HID;
  key_row *keys = NULL;
  int64_t n = 0;
  *found = 0;
  H5CALL(d = H5Dopen2(f, "tasks", H5P_DEFAULT));
  H5CALL(ft = H5Dget_type(d));
  if ((st = row_type_create(0, ft, &rt)) != AD3D_OK) /* checks every field is there */
    goto cleanup;
  if ((st = compound_member(ft, "key", &member)) != AD3D_OK)
    goto cleanup;
  H5CALL(st_key = str_type_like(member, sizeof keys->key));
  H5CALL(kt = H5Tcreate(H5T_COMPOUND, sizeof(key_row)));
  H5CALL(H5Tinsert(kt, "key", offsetof(key_row, key), st_key));
  H5CALL(H5Tinsert(kt, "committed", offsetof(key_row, committed), H5T_NATIVE_UINT8));
  if ((st = dset_length(d, &n)) != AD3D_OK)
    goto cleanup;
  if (n > 0) {
    if (!(keys = malloc((size_t)n * sizeof *keys))) {
      st = ad3d_fail(AD3D_ENOMEM, "%s: out of memory for %lld task keys", path, (long long)n);
      goto cleanup;
    }
    H5CALL(H5Dread(d, kt, H5S_ALL, H5S_ALL, H5P_DEFAULT, keys));
  }
  for (int64_t i = n - 1; i >= 0; i--)
    if (keys[i].committed == 1 && strncmp(keys[i].key, key, sizeof keys[i].key) == 0) {
      if ((st = dset_read_at(d, "/tasks", rt, i, 1, row)) != AD3D_OK)
        goto cleanup;
      row->key[sizeof row->key - 1] = '\0';
      *found = 1;
      break;
    }
cleanup:
  free(keys);
  H5CLOSE(H5Tclose, rt);
  H5CLOSE(H5Tclose, kt);
  H5CLOSE(H5Tclose, st_key);
  H5CLOSE(H5Tclose, member);
  H5CLOSE(H5Tclose, ft);
  H5CLOSE(H5Dclose, d);
  if (st != AD3D_OK)
    ad3d_fail_context(st, "%s: reading /tasks", path);
  return st;
}

ad3d_status results_read_scores(const char *path, const char *key, task_scores *out) {
  ad3d_status st = AD3D_OK;
  hid_t f = H5I_INVALID_HID;
  score_dsets d;
  task_row row;
  int found = 0;
  h5_quiet();
  memset(out, 0, sizeof *out);
  score_dsets_init(&d);
  TRY(file_open_read(path, &f));
  if ((st = check_format(f, path)) != AD3D_OK || (st = row_find_latest(f, path, key, &row, &found)) != AD3D_OK)
    goto cleanup;
  if (!found) {
    st = ad3d_fail(AD3D_ENOTFOUND, "%s: no task %s", path, key);
    goto cleanup;
  }
  if (row.sample_start < 0) {
    st = ad3d_fail(AD3D_ENOTFOUND, "%s: task %s has no scores (%s)", path, key,
                   row.status == TASK_FAILED ? "it failed" : "none were recorded");
    goto cleanup;
  }
  if ((st = score_dsets_open(f, path, &d)) != AD3D_OK)
    goto cleanup;
  score_span sp = {row.key, row.sample_start, row.nsamples, row.point_start, row.npoints};
  st = scores_read(&d, path, &sp, out);
cleanup:
  if (st == AD3D_OK)
    st = score_dsets_close(&d);
  else
    score_dsets_close(&d); /* the first error is the one to report */
  if (st != AD3D_OK)
    task_scores_free(out);
  H5CLOSE(H5Fclose, f);
  return st;
}

ad3d_status results_read_slice(const char *path, int32_t *index, int32_t *count) {
  ad3d_status st = AD3D_OK;
  hid_t f = H5I_INVALID_HID;
  h5_quiet();
  *index = *count = 0;
  TRY(file_open_read(path, &f));
  if ((st = check_format(f, path)) == AD3D_OK)
    st = slice_read(f, path, index, count);
  H5CLOSE(H5Fclose, f);
  return st;
}

ad3d_status results_read_attr(const char *path, const char *name, char **value) {
  ad3d_status st = AD3D_OK;
  hid_t f = H5I_INVALID_HID;
  h5_quiet();
  *value = NULL;
  TRY(file_open_read(path, &f));
  if ((st = check_format(f, path)) == AD3D_OK && (st = attr_read_text(f, name, value)) != AD3D_OK)
    ad3d_fail_context(st, "%s", path);
  H5CLOSE(H5Fclose, f);
  return st;
}

ad3d_status results_repair(const char *path) {
  ad3d_status st = AD3D_OK;
  hid_t f = H5I_INVALID_HID;
  int lock_fd = -1;
  char *lock_path = NULL;
  h5_quiet();
  if (!is_file(path))
    return ad3d_fail(AD3D_ENOTFOUND, "%s: no such results file", path);
  TRY(lock_acquire(path, &lock_fd, &lock_path));
  if ((st = file_open_read(path, &f)) != AD3D_OK || (st = check_format(f, path)) != AD3D_OK)
    goto cleanup;
  H5CLOSE(H5Fclose, f);
  /* In SWMR mode like a writer, so that a kill during the repair leaves a file SWMR readers open;
   * the clean close clears the mark. */
  if ((st = file_open_write(path, H5F_ACC_RDWR | H5F_ACC_SWMR_WRITE, &f)) != AD3D_OK)
    ad3d_fail_context(st, "%s: repairing", path);
cleanup:
  H5CLOSE(H5Fclose, f);
  lock_release(lock_fd, lock_path);
  return st;
}

const char *results_hdf5_version(void) {
  static char text[48];
  unsigned major = 0, minor = 0, release = 0;
  if (H5get_libversion(&major, &minor, &release) < 0)
    return "HDF5 (unknown version)";
  snprintf(text, sizeof text, "HDF5 %u.%u.%u", major, minor, release);
  return text;
}
