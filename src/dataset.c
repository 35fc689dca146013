#include "infae/dataset.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infae/config.h"
#include "infae/log.h"

#define IA_DATASET_FORMAT "infae-dataset"
#define IA_DATASET_VERSION 1

/* HDF5 calls return negative on failure; its own printing is turned off in
 * main so that we report each error once. */
#define IA_H5(call)                                                            \
  do {                                                                         \
    if ((call) < 0) {                                                          \
      st = ia_error_set(IA_ERR_HDF5, __FILE__, __LINE__, "%s: %s failed", path, #call); \
      goto done;                                                               \
    }                                                                          \
  } while (0)

void ia_dataset_free(ia_dataset *d) {
  ia_csr_free(&d->train);
  ia_csr_free(&d->val);
  ia_csr_free(&d->test);
  ia_csr_free(&d->negatives);
  free(d->item_train_count);
  if (d->user_ids)
    for (int64_t i = 0; i < d->n_rows; i++) free(d->user_ids[i]);
  if (d->item_ids)
    for (int64_t i = 0; i < d->n_items; i++) free(d->item_ids[i]);
  free(d->user_ids);
  free(d->item_ids);
  free(d->source_files);
  free(d->command);
  memset(d, 0, sizeof *d);
}

void ia_partition(int64_t n, int size, int rank, int64_t *begin, int64_t *count) {
  int64_t base = n / size, extra = n % size;
  *begin = rank * base + (rank < extra ? rank : extra);
  *count = base + (rank < extra ? 1 : 0);
}

/* ---- writing ---------------------------------------------------------- */

static hid_t vlen_string_type(void) {
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t < 0) return t;
  if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
    H5Tclose(t);
    return -1;
  }
  return t;
}

static ia_status write_array(hid_t loc, const char *path, const char *name, hid_t type,
                             int64_t n, const void *data) {
  ia_status st = IA_OK;
  hid_t space = H5I_INVALID_HID, dset = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
  hsize_t dims[1] = {(hsize_t)n};
  IA_H5(space = H5Screate_simple(1, dims, NULL));
  IA_H5(dcpl = H5Pcreate(H5P_DATASET_CREATE));
  if (n > 0 && (type == H5T_NATIVE_INT64 || type == H5T_NATIVE_INT32)) {
    hsize_t chunk[1] = {(hsize_t)(n < (1 << 20) ? n : (1 << 20))};
    IA_H5(H5Pset_chunk(dcpl, 1, chunk));
    IA_H5(H5Pset_deflate(dcpl, 4));
  }
  IA_H5(dset = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  if (n > 0) IA_H5(H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
done:
  if (dset >= 0) H5Dclose(dset);
  if (dcpl >= 0) H5Pclose(dcpl);
  if (space >= 0) H5Sclose(space);
  return st;
}

static ia_status write_csr(hid_t file, const char *path, const char *group, const ia_csr *m) {
  ia_status st = IA_OK;
  hid_t g = H5I_INVALID_HID;
  IA_H5(g = H5Gcreate2(file, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  IA_CALL_GOTO(write_array(g, path, "indptr", H5T_NATIVE_INT64, m->n_rows + 1, m->indptr));
  IA_CALL_GOTO(write_array(g, path, "indices", H5T_NATIVE_INT32, ia_csr_nnz(m), m->indices));
done:
  if (g >= 0) H5Gclose(g);
  return st;
}

static ia_status write_strings(hid_t file, const char *path, const char *name, int64_t n,
                               char *const *v) {
  ia_status st = IA_OK;
  hid_t t = H5I_INVALID_HID;
  IA_H5(t = vlen_string_type());
  IA_CALL_GOTO(write_array(file, path, name, t, n, v));
done:
  if (t >= 0) H5Tclose(t);
  return st;
}

static ia_status attr_i64(hid_t loc, const char *path, const char *name, int64_t v) {
  ia_status st = IA_OK;
  hid_t space = H5I_INVALID_HID, a = H5I_INVALID_HID;
  IA_H5(space = H5Screate(H5S_SCALAR));
  IA_H5(a = H5Acreate2(loc, name, H5T_NATIVE_INT64, space, H5P_DEFAULT, H5P_DEFAULT));
  IA_H5(H5Awrite(a, H5T_NATIVE_INT64, &v));
done:
  if (a >= 0) H5Aclose(a);
  if (space >= 0) H5Sclose(space);
  return st;
}

static ia_status attr_str(hid_t loc, const char *path, const char *name, const char *v) {
  ia_status st = IA_OK;
  hid_t space = H5I_INVALID_HID, a = H5I_INVALID_HID, t = H5I_INVALID_HID;
  const char *value = v ? v : "";
  IA_H5(t = vlen_string_type());
  IA_H5(space = H5Screate(H5S_SCALAR));
  IA_H5(a = H5Acreate2(loc, name, t, space, H5P_DEFAULT, H5P_DEFAULT));
  IA_H5(H5Awrite(a, t, &value));
done:
  if (a >= 0) H5Aclose(a);
  if (space >= 0) H5Sclose(space);
  if (t >= 0) H5Tclose(t);
  return st;
}

ia_status ia_dataset_write(const ia_dataset *d, const char *path) {
  ia_status st = IA_OK;
  hid_t file = H5I_INVALID_HID, g = H5I_INVALID_HID;
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
  IA_CHECK(d->n_rows == d->n_users && d->row_begin == 0, IA_ERR_INTERNAL,
           "ia_dataset_write needs the whole dataset");
  file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  IA_CHECK_GOTO(file >= 0, IA_ERR_IO, "cannot create %s (directory missing or not writable?)",
                tmp);
  IA_CALL_GOTO(write_csr(file, path, "train", &d->train));
  IA_CALL_GOTO(write_csr(file, path, "val", &d->val));
  IA_CALL_GOTO(write_csr(file, path, "test", &d->test));
  IA_CALL_GOTO(write_csr(file, path, "negatives", &d->negatives));
  IA_H5(g = H5Gcreate2(file, "users", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  IA_CALL_GOTO(write_strings(g, path, "ids", d->n_users, d->user_ids));
  H5Gclose(g);
  IA_H5(g = H5Gcreate2(file, "items", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  IA_CALL_GOTO(write_strings(g, path, "ids", d->n_items, d->item_ids));
  IA_CALL_GOTO(write_array(g, path, "train_count", H5T_NATIVE_INT64, d->n_items,
                           d->item_train_count));
  IA_CALL_GOTO(attr_str(file, path, "format", IA_DATASET_FORMAT));
  IA_CALL_GOTO(attr_i64(file, path, "version", IA_DATASET_VERSION));
  IA_CALL_GOTO(attr_str(file, path, "source_format", d->source_format));
  IA_CALL_GOTO(attr_str(file, path, "source_files", d->source_files));
  IA_CALL_GOTO(attr_str(file, path, "source_sha256", d->source_sha256));
  IA_CALL_GOTO(attr_str(file, path, "command", d->command));
  IA_CALL_GOTO(attr_str(file, path, "infae_version", IA_VERSION));
  IA_CALL_GOTO(attr_i64(file, path, "seed", (int64_t)d->seed));
  IA_CALL_GOTO(attr_i64(file, path, "users", d->n_users));
  IA_CALL_GOTO(attr_i64(file, path, "items", d->n_items));
  IA_CALL_GOTO(attr_i64(file, path, "train_nnz", d->train_nnz));
  IA_CALL_GOTO(attr_i64(file, path, "val_nnz", d->val_nnz));
  IA_CALL_GOTO(attr_i64(file, path, "test_nnz", d->test_nnz));
  IA_CALL_GOTO(attr_i64(file, path, "duplicates_dropped", d->duplicates_dropped));
  IA_CALL_GOTO(attr_i64(file, path, "users_dropped", d->users_dropped));
  IA_CALL_GOTO(attr_i64(file, path, "pairs_in_two_splits", d->pairs_in_two_splits));
done:
  if (g >= 0) H5Gclose(g);
  if (file >= 0 && H5Fclose(file) < 0 && st == IA_OK)
    st = ia_error_set(IA_ERR_IO, __FILE__, __LINE__, "cannot finish writing %s", tmp);
  if (st == IA_OK && rename(tmp, path) != 0)
    st = ia_error_set(IA_ERR_IO, __FILE__, __LINE__, "cannot rename %s to %s", tmp, path);
  if (st != IA_OK) remove(tmp);
  return st;
}

/* ---- reading ---------------------------------------------------------- */

static ia_status read_range(hid_t loc, const char *path, const char *name, hid_t type,
                            int64_t begin, int64_t count, int64_t expect_len, void *out) {
  ia_status st = IA_OK;
  hid_t dset = H5I_INVALID_HID, fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
  hsize_t len = 0;
  dset = H5Dopen2(loc, name, H5P_DEFAULT);
  IA_CHECK_GOTO(dset >= 0, IA_ERR_FORMAT, "%s: dataset '%s' missing: not an infae dataset file",
                path, name);
  IA_H5(fspace = H5Dget_space(dset));
  IA_CHECK_GOTO(H5Sget_simple_extent_ndims(fspace) == 1, IA_ERR_FORMAT,
                "%s: '%s' must be one-dimensional", path, name);
  IA_H5(H5Sget_simple_extent_dims(fspace, &len, NULL));
  IA_CHECK_GOTO(expect_len < 0 || (int64_t)len == expect_len, IA_ERR_FORMAT,
                "%s: '%s' has %llu entries, expected %lld", path, name, (unsigned long long)len,
                (long long)expect_len);
  IA_CHECK_GOTO(begin >= 0 && count >= 0 && begin + count <= (int64_t)len, IA_ERR_FORMAT,
                "%s: '%s' has %llu entries, cannot read [%lld, %lld)", path, name,
                (unsigned long long)len, (long long)begin, (long long)(begin + count));
  hsize_t off[1] = {(hsize_t)begin}, cnt[1] = {(hsize_t)count};
  IA_H5(mspace = H5Screate_simple(1, cnt, NULL));
  if (count > 0)
    IA_H5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, off, NULL, cnt, NULL));
  else
    IA_H5(H5Sselect_none(fspace));
  if (count > 0) IA_H5(H5Dread(dset, type, mspace, fspace, H5P_DEFAULT, out));
done:
  if (mspace >= 0) H5Sclose(mspace);
  if (fspace >= 0) H5Sclose(fspace);
  if (dset >= 0) H5Dclose(dset);
  return st;
}

static ia_status read_csr(hid_t file, const char *path, const char *group, int64_t n_users,
                          int64_t n_items, int64_t begin, int64_t count, ia_csr *m) {
  ia_status st = IA_OK;
  hid_t g = H5I_INVALID_HID;
  int64_t *ptr = NULL;
  g = H5Gopen2(file, group, H5P_DEFAULT);
  IA_CHECK_GOTO(g >= 0, IA_ERR_FORMAT, "%s: group '/%s' missing: not an infae dataset file",
                path, group);
  IA_CALL_GOTO(IA_ALLOC(ptr, count + 1, "CSR row pointers"));
  IA_CALL_GOTO(read_range(g, path, "indptr", H5T_NATIVE_INT64, begin, count + 1, n_users + 1,
                          ptr));
  for (int64_t i = 0; i < count; i++)
    IA_CHECK_GOTO(ptr[i] <= ptr[i + 1] && ptr[i] >= 0, IA_ERR_FORMAT,
                  "%s: /%s/indptr is not non-decreasing at row %lld", path, group,
                  (long long)(begin + i));
  int64_t nnz = ptr[count] - ptr[0];
  IA_CALL_GOTO(ia_csr_alloc(m, count, n_items, nnz));
  for (int64_t i = 0; i <= count; i++) m->indptr[i] = ptr[i] - ptr[0];
  IA_CALL_GOTO(read_range(g, path, "indices", H5T_NATIVE_INT32, ptr[0], nnz, -1, m->indices));
  for (int64_t e = 0; e < nnz; e++)
    IA_CHECK_GOTO(m->indices[e] >= 0 && m->indices[e] < n_items, IA_ERR_FORMAT,
                  "%s: /%s/indices holds %d, outside [0, %lld)", path, group, m->indices[e],
                  (long long)n_items);
done:
  free(ptr);
  if (g >= 0) H5Gclose(g);
  return st;
}

static ia_status read_attr_i64(hid_t file, const char *path, const char *name, int64_t *v) {
  ia_status st = IA_OK;
  hid_t a = H5Aopen(file, name, H5P_DEFAULT);
  IA_CHECK(a >= 0, IA_ERR_FORMAT, "%s: attribute '%s' missing: not an infae dataset file", path,
           name);
  IA_H5(H5Aread(a, H5T_NATIVE_INT64, v));
done:
  H5Aclose(a);
  return st;
}

static ia_status read_attr_str(hid_t file, const char *path, const char *name, char **v) {
  ia_status st = IA_OK;
  hid_t a = H5I_INVALID_HID, t = H5I_INVALID_HID, ft = H5I_INVALID_HID;
  char *s = NULL;
  *v = NULL;
  a = H5Aopen(file, name, H5P_DEFAULT);
  IA_CHECK_GOTO(a >= 0, IA_ERR_FORMAT, "%s: attribute '%s' missing: not an infae dataset file",
                path, name);
  IA_H5(ft = H5Aget_type(a));
  IA_CHECK_GOTO(H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) > 0, IA_ERR_FORMAT,
                "%s: attribute '%s' is not a variable-length string", path, name);
  IA_H5(t = vlen_string_type());
  IA_H5(H5Aread(a, t, &s));
  *v = strdup(s ? s : "");
  IA_CHECK_GOTO(*v, IA_ERR_NOMEM, "out of memory");
done:
  free(s); /* allocated by HDF5 with the default (malloc) allocator */
  if (t >= 0) H5Tclose(t);
  if (ft >= 0) H5Tclose(ft);
  if (a >= 0) H5Aclose(a);
  return st;
}

static ia_status read_strings(hid_t loc, const char *path, const char *name, int64_t begin,
                              int64_t count, int64_t expect, char ***out) {
  ia_status st = IA_OK;
  hid_t t = H5I_INVALID_HID;
  char **v = NULL;
  IA_H5(t = vlen_string_type());
  IA_CALL_GOTO(IA_ZALLOC(v, count, "ids"));
  IA_CALL_GOTO(read_range(loc, path, name, t, begin, count, expect, v));
  *out = v;
  v = NULL;
done:
  if (v)
    for (int64_t i = 0; i < count; i++) free(v[i]);
  free(v);
  if (t >= 0) H5Tclose(t);
  return st;
}

static ia_status open_file(MPI_Comm comm, const char *path, hid_t *file) {
  ia_status st = IA_OK;
  hid_t fapl = H5I_INVALID_HID;
  *file = H5I_INVALID_HID;
  IA_CHECK(access(path, R_OK) == 0, IA_ERR_IO, "cannot read %s", path);
  IA_CHECK(H5Fis_hdf5(path) > 0, IA_ERR_FORMAT,
           "%s is not an HDF5 file (make one with `infae_mpi prepare`)", path);
  IA_H5(fapl = H5Pcreate(H5P_FILE_ACCESS));
  IA_H5(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
  *file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  IA_CHECK_GOTO(*file >= 0, IA_ERR_IO, "cannot open %s", path);
  char *fmt = NULL;
  IA_CALL_GOTO(read_attr_str(*file, path, "format", &fmt));
  int ok = !strcmp(fmt, IA_DATASET_FORMAT);
  free(fmt);
  IA_CHECK_GOTO(ok, IA_ERR_FORMAT, "%s: attribute format is not '%s'", path, IA_DATASET_FORMAT);
  int64_t version = 0;
  IA_CALL_GOTO(read_attr_i64(*file, path, "version", &version));
  IA_CHECK_GOTO(version == IA_DATASET_VERSION, IA_ERR_FORMAT,
                "%s: dataset version %lld, this build reads version %d", path, (long long)version,
                IA_DATASET_VERSION);
done:
  if (fapl >= 0) H5Pclose(fapl);
  if (st != IA_OK && *file >= 0) {
    H5Fclose(*file);
    *file = H5I_INVALID_HID;
  }
  return st;
}

ia_status ia_dataset_dims(MPI_Comm comm, const char *path, int64_t *n_users, int64_t *n_items) {
  ia_status st = IA_OK;
  hid_t file = H5I_INVALID_HID;
  IA_CALL_GOTO(open_file(comm, path, &file));
  IA_CALL_GOTO(read_attr_i64(file, path, "users", n_users));
  IA_CALL_GOTO(read_attr_i64(file, path, "items", n_items));
done:
  if (file >= 0) H5Fclose(file);
  return ia_agree(comm, st);
}

ia_status ia_dataset_read(MPI_Comm comm, const char *path, int64_t row_begin, int64_t n_rows,
                          int with_ids, ia_dataset *d) {
  ia_status st = IA_OK;
  hid_t file = H5I_INVALID_HID, g = H5I_INVALID_HID;
  char *text = NULL;
  int64_t seed = 0;
  memset(d, 0, sizeof *d);
  IA_CALL_GOTO(open_file(comm, path, &file));
  IA_CALL_GOTO(read_attr_i64(file, path, "users", &d->n_users));
  IA_CALL_GOTO(read_attr_i64(file, path, "items", &d->n_items));
  IA_CHECK_GOTO(d->n_users > 0 && d->n_items > 0 && d->n_items <= INT32_MAX, IA_ERR_FORMAT,
                "%s: bad sizes users=%lld items=%lld", path, (long long)d->n_users,
                (long long)d->n_items);
  if (n_rows < 0) n_rows = d->n_users - row_begin;
  IA_CHECK_GOTO(row_begin >= 0 && row_begin + n_rows <= d->n_users, IA_ERR_ARG,
                "%s: rows [%lld, %lld) outside the %lld users", path, (long long)row_begin,
                (long long)(row_begin + n_rows), (long long)d->n_users);
  d->row_begin = row_begin;
  d->n_rows = n_rows;
  IA_CALL_GOTO(read_attr_i64(file, path, "train_nnz", &d->train_nnz));
  IA_CALL_GOTO(read_attr_i64(file, path, "val_nnz", &d->val_nnz));
  IA_CALL_GOTO(read_attr_i64(file, path, "test_nnz", &d->test_nnz));
  IA_CALL_GOTO(read_attr_i64(file, path, "seed", &seed));
  d->seed = (uint64_t)seed;
  IA_CALL_GOTO(read_attr_i64(file, path, "duplicates_dropped", &d->duplicates_dropped));
  IA_CALL_GOTO(read_attr_i64(file, path, "users_dropped", &d->users_dropped));
  IA_CALL_GOTO(read_attr_i64(file, path, "pairs_in_two_splits", &d->pairs_in_two_splits));
  IA_CALL_GOTO(read_attr_str(file, path, "source_format", &text));
  snprintf(d->source_format, sizeof d->source_format, "%s", text);
  free(text);
  text = NULL;
  IA_CALL_GOTO(read_attr_str(file, path, "source_sha256", &text));
  snprintf(d->source_sha256, sizeof d->source_sha256, "%s", text);
  free(text);
  text = NULL;
  IA_CALL_GOTO(read_attr_str(file, path, "source_files", &d->source_files));
  IA_CALL_GOTO(read_attr_str(file, path, "command", &d->command));
  const char *groups[4] = {"train", "val", "test", "negatives"};
  ia_csr *mats[4] = {&d->train, &d->val, &d->test, &d->negatives};
  for (int k = 0; k < 4; k++)
    IA_CALL_GOTO(read_csr(file, path, groups[k], d->n_users, d->n_items, row_begin, n_rows,
                          mats[k]));
  IA_CALL_GOTO(IA_ALLOC(d->item_train_count, d->n_items, "item train counts"));
  g = H5Gopen2(file, "items", H5P_DEFAULT);
  IA_CHECK_GOTO(g >= 0, IA_ERR_FORMAT, "%s: group '/items' missing", path);
  IA_CALL_GOTO(read_range(g, path, "train_count", H5T_NATIVE_INT64, 0, d->n_items, d->n_items,
                          d->item_train_count));
  if (with_ids) {
    IA_CALL_GOTO(read_strings(g, path, "ids", 0, d->n_items, d->n_items, &d->item_ids));
    H5Gclose(g);
    g = H5Gopen2(file, "users", H5P_DEFAULT);
    IA_CHECK_GOTO(g >= 0, IA_ERR_FORMAT, "%s: group '/users' missing", path);
    IA_CALL_GOTO(read_strings(g, path, "ids", row_begin, n_rows, d->n_users, &d->user_ids));
  }
done:
  if (g >= 0) H5Gclose(g);
  if (file >= 0) H5Fclose(file);
  st = ia_agree(comm, st);
  if (st != IA_OK) ia_dataset_free(d);
  return st;
}
