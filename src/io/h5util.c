#include "io/h5util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infae/core/ntk.h"
#include "infae/core/paths.h"
#include "infae/eval/metrics.h"

hid_t ia_h5_string_type(void) {
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t < 0) return t;
  if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
    H5Tclose(t);
    return -1;
  }
  return t;
}
ia_status ia_h5_write_array(hid_t loc, const char *path, const char *name, hid_t type, int64_t n,
                            const void *data) {
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
ia_status ia_h5_write_strings(hid_t file, const char *path, const char *name, int64_t n,
                              char *const *v) {
  ia_status st = IA_OK;
  hid_t t = H5I_INVALID_HID;
  IA_H5(t = ia_h5_string_type());
  IA_CALL_GOTO(ia_h5_write_array(file, path, name, t, n, v));
done:
  if (t >= 0) H5Tclose(t);
  return st;
}
/* A scalar attribute of HDF5 type `type` at *v. */
static ia_status attr_scalar(hid_t loc, const char *path, const char *name, hid_t type,
                             const void *v) {
  ia_status st = IA_OK;
  hid_t space = H5I_INVALID_HID, a = H5I_INVALID_HID;
  IA_H5(space = H5Screate(H5S_SCALAR));
  IA_H5(a = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT));
  IA_H5(H5Awrite(a, type, v));
done:
  if (a >= 0) H5Aclose(a);
  if (space >= 0) H5Sclose(space);
  return st;
}

ia_status ia_h5_attr_i64(hid_t loc, const char *path, const char *name, int64_t v) {
  return attr_scalar(loc, path, name, H5T_NATIVE_INT64, &v);
}

ia_status ia_h5_attr_f64(hid_t loc, const char *path, const char *name, double v) {
  return attr_scalar(loc, path, name, H5T_NATIVE_DOUBLE, &v);
}

ia_status ia_h5_attr_str(hid_t loc, const char *path, const char *name, const char *v) {
  ia_status st = IA_OK;
  hid_t space = H5I_INVALID_HID, a = H5I_INVALID_HID, t = H5I_INVALID_HID;
  const char *value = v ? v : "";
  IA_H5(t = ia_h5_string_type());
  IA_H5(space = H5Screate(H5S_SCALAR));
  IA_H5(a = H5Acreate2(loc, name, t, space, H5P_DEFAULT, H5P_DEFAULT));
  IA_H5(H5Awrite(a, t, &value));
done:
  if (a >= 0) H5Aclose(a);
  if (space >= 0) H5Sclose(space);
  if (t >= 0) H5Tclose(t);
  return st;
}
ia_status ia_h5_read_range(hid_t loc, const char *path, const char *name, hid_t type, int64_t begin,
                           int64_t count, int64_t expect_len, void *out) {
  ia_status st = IA_OK;
  hid_t dset = H5I_INVALID_HID, fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
  hsize_t len = 0;
  dset = H5Dopen2(loc, name, H5P_DEFAULT);
  IA_CHECK_GOTO(dset >= 0, IA_ERR_FORMAT, "%s: dataset '%s' missing (not a file infae wrote?)",
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
static ia_status read_attr_scalar(hid_t loc, const char *path, const char *name, hid_t type,
                                  void *v) {
  ia_status st = IA_OK;
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  IA_CHECK(a >= 0, IA_ERR_FORMAT, "%s: attribute '%s' missing (not a file infae wrote?)", path,
           name);
  IA_H5(H5Aread(a, type, v));
done:
  H5Aclose(a);
  return st;
}

ia_status ia_h5_read_attr_i64(hid_t loc, const char *path, const char *name, int64_t *v) {
  return read_attr_scalar(loc, path, name, H5T_NATIVE_INT64, v);
}

ia_status ia_h5_read_attr_f64(hid_t loc, const char *path, const char *name, double *v) {
  return read_attr_scalar(loc, path, name, H5T_NATIVE_DOUBLE, v);
}

ia_status ia_h5_read_depth(hid_t loc, const char *path, int *depth) {
  int64_t v = 1;
  if (H5Aexists(loc, "depth") > 0) IA_CALL(ia_h5_read_attr_i64(loc, path, "depth", &v));
  IA_CHECK(v >= 1 && v <= IA_NTK_MAX_DEPTH, IA_ERR_FORMAT,
           "%s: attribute depth = %lld is not in [1, %d]", path, (long long)v, IA_NTK_MAX_DEPTH);
  *depth = (int)v;
  return IA_OK;
}

ia_status ia_h5_read_select(hid_t loc, const char *path, int *metric) {
  char *name = NULL;
  *metric = IA_HR100;
  if (H5Aexists(loc, "select_metric") <= 0) return IA_OK;
  IA_CALL(ia_h5_read_attr_str(loc, path, "select_metric", &name));
  ia_status st = ia_select_metric(name, metric);
  if (st != IA_OK) {
    ia_error_clear();
    st = ia_error_set(IA_ERR_FORMAT, __FILE__, __LINE__,
                      "%s: attribute select_metric = '%s' is not HR@100 or NDCG@10", path, name);
  }
  free(name);
  return st;
}

ia_status ia_h5_read_attr_str(hid_t file, const char *path, const char *name, char **v) {
  ia_status st = IA_OK;
  hid_t a = H5I_INVALID_HID, t = H5I_INVALID_HID, ft = H5I_INVALID_HID;
  char *s = NULL;
  *v = NULL;
  a = H5Aopen(file, name, H5P_DEFAULT);
  IA_CHECK_GOTO(a >= 0, IA_ERR_FORMAT, "%s: attribute '%s' missing (not a file infae wrote?)", path,
                name);
  IA_H5(ft = H5Aget_type(a));
  IA_CHECK_GOTO(H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) > 0, IA_ERR_FORMAT,
                "%s: attribute '%s' is not a variable-length string", path, name);
  IA_H5(t = ia_h5_string_type());
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
ia_status ia_h5_read_strings(hid_t loc, const char *path, const char *name, int64_t begin,
                             int64_t count, int64_t expect, char ***out) {
  ia_status st = IA_OK;
  hid_t t = H5I_INVALID_HID;
  char **v = NULL;
  IA_H5(t = ia_h5_string_type());
  IA_CALL_GOTO(IA_ZALLOC(v, count, "ids"));
  IA_CALL_GOTO(ia_h5_read_range(loc, path, name, t, begin, count, expect, v));
  *out = v;
  v = NULL;
done:
  if (v)
    for (int64_t i = 0; i < count; i++) free(v[i]);
  free(v);
  if (t >= 0) H5Tclose(t);
  return st;
}

ia_status ia_h5_read_csr(hid_t file, const char *path, const char *group, int64_t n_users,
                         int64_t n_items, int64_t begin, int64_t count, ia_csr *m) {
  ia_status st = IA_OK;
  hid_t g = H5I_INVALID_HID;
  int64_t *ptr = NULL;
  g = H5Gopen2(file, group, H5P_DEFAULT);
  IA_CHECK_GOTO(g >= 0, IA_ERR_FORMAT, "%s: group '/%s' missing (not a file infae wrote?)", path,
                group);
  IA_CALL_GOTO(IA_ALLOC(ptr, count + 1, "CSR row pointers"));
  IA_CALL_GOTO(
      ia_h5_read_range(g, path, "indptr", H5T_NATIVE_INT64, begin, count + 1, n_users + 1, ptr));
  for (int64_t i = 0; i < count; i++)
    IA_CHECK_GOTO(ptr[i] <= ptr[i + 1] && ptr[i] >= 0, IA_ERR_FORMAT,
                  "%s: /%s/indptr is not non-decreasing at row %lld", path, group,
                  (long long)(begin + i));
  int64_t nnz = ptr[count] - ptr[0];
  IA_CALL_GOTO(ia_csr_alloc(m, count, n_items, nnz));
  for (int64_t i = 0; i <= count; i++) m->indptr[i] = ptr[i] - ptr[0];
  IA_CALL_GOTO(ia_h5_read_range(g, path, "indices", H5T_NATIVE_INT32, ptr[0], nnz, -1, m->indices));
  for (int64_t e = 0; e < nnz; e++)
    IA_CHECK_GOTO(m->indices[e] >= 0 && m->indices[e] < n_items, IA_ERR_FORMAT,
                  "%s: /%s/indices holds %d, outside [0, %lld)", path, group, m->indices[e],
                  (long long)n_items);
done:
  free(ptr);
  if (g >= 0) H5Gclose(g);
  return st;
}

ia_status ia_h5_open(MPI_Comm comm, const char *path, const char *format, int version,
                     const char *kind, const char *maker, hid_t *file) {
  return ia_h5_open_any(comm, path, &format, 1, version, kind, maker, file, NULL);
}

ia_status ia_h5_open_any(MPI_Comm comm, const char *path, const char *const *formats, int n,
                         int version, const char *kind, const char *maker, hid_t *file,
                         int *which) {
  ia_status st = IA_OK;
  hid_t fapl = H5I_INVALID_HID;
  char *fmt = NULL, wanted[256] = "";
  *file = H5I_INVALID_HID;
  /* Every rank must reach the collective H5Fopen, or none. */
  if (access(path, R_OK) != 0)
    st = ia_error_set(IA_ERR_IO, __FILE__, __LINE__, "cannot read %s", path);
  else if (H5Fis_hdf5(path) <= 0)
    st = ia_error_set(IA_ERR_FORMAT, __FILE__, __LINE__,
                      "%s is not an HDF5 file (make one with %s)", path, maker);
  IA_CALL(ia_agree(comm, st));
  IA_H5(fapl = H5Pcreate(H5P_FILE_ACCESS));
  IA_H5(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
  *file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  IA_CHECK_GOTO(*file >= 0, IA_ERR_IO, "cannot open %s", path);
  IA_CALL_GOTO(ia_h5_read_attr_str(*file, path, "format", &fmt));
  int k = 0;
  while (k < n && strcmp(fmt, formats[k])) k++;
  for (int j = 0, w = 0; j < n && w < (int)sizeof wanted; j++)
    w += snprintf(wanted + w, sizeof wanted - (size_t)w, "%s'%s'",
                  j == 0       ? ""
                  : j == n - 1 ? " or "
                               : ", ",
                  formats[j]);
  IA_CHECK_GOTO(k < n, IA_ERR_FORMAT,
                "%s: attribute format is '%s', not %s: not an infae %s (make one with %s)", path,
                fmt, wanted, kind, maker);
  if (which) *which = k;
  int64_t v = 0;
  IA_CALL_GOTO(ia_h5_read_attr_i64(*file, path, "version", &v));
  IA_CHECK_GOTO(v == version, IA_ERR_FORMAT, "%s: %s version %lld, this build reads version %d",
                path, kind, (long long)v, version);
done:
  free(fmt);
  if (fapl >= 0) H5Pclose(fapl);
  if (st != IA_OK && *file >= 0) {
    H5Fclose(*file);
    *file = H5I_INVALID_HID;
  }
  return st;
}

ia_status ia_h5_write_matrix(hid_t loc, const char *path, const char *name, int64_t rows,
                             int64_t cols, const double *data) {
  ia_status st = IA_OK;
  hid_t space = H5I_INVALID_HID, dset = H5I_INVALID_HID;
  hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols};
  IA_H5(space = H5Screate_simple(2, dims, NULL));
  IA_H5(dset =
            H5Dcreate2(loc, name, H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (rows > 0 && cols > 0)
    IA_H5(H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
done:
  if (dset >= 0) H5Dclose(dset);
  if (space >= 0) H5Sclose(space);
  return st;
}

/* Opens the 2-D dataset `name` and gives its dimensions. */
static ia_status open_matrix(hid_t loc, const char *path, const char *name, hid_t *dset,
                             int64_t dims[2]) {
  ia_status st = IA_OK;
  hid_t space = H5I_INVALID_HID;
  hsize_t d[2] = {0, 0};
  *dset = H5Dopen2(loc, name, H5P_DEFAULT);
  IA_CHECK_GOTO(*dset >= 0, IA_ERR_FORMAT, "%s: dataset '%s' missing", path, name);
  IA_H5(space = H5Dget_space(*dset));
  IA_CHECK_GOTO(H5Sget_simple_extent_ndims(space) == 2, IA_ERR_FORMAT,
                "%s: '%s' must be two-dimensional", path, name);
  IA_H5(H5Sget_simple_extent_dims(space, d, NULL));
  dims[0] = (int64_t)d[0];
  dims[1] = (int64_t)d[1];
done:
  if (space >= 0) H5Sclose(space);
  if (st != IA_OK && *dset >= 0) H5Dclose(*dset);
  return st;
}

ia_status ia_h5_read_matrix(hid_t loc, const char *path, const char *name, int64_t rows,
                            int64_t cols, double *out) {
  ia_status st = IA_OK;
  hid_t dset = H5I_INVALID_HID;
  int64_t dims[2] = {0, 0};
  IA_CALL(open_matrix(loc, path, name, &dset, dims));
  IA_CHECK_GOTO(dims[0] == rows && dims[1] == cols, IA_ERR_FORMAT,
                "%s: '%s' is %lld×%lld, expected %lld×%lld", path, name, (long long)dims[0],
                (long long)dims[1], (long long)rows, (long long)cols);
  if (rows > 0 && cols > 0)
    IA_H5(H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out));
done:
  H5Dclose(dset);
  return st;
}

ia_status ia_h5_read_matrix_rows(hid_t loc, const char *path, const char *name, int64_t rows,
                                 int64_t cols, int64_t begin, int64_t count, double *out) {
  ia_status st = IA_OK;
  hid_t dset = H5I_INVALID_HID, fs = H5I_INVALID_HID, ms = H5I_INVALID_HID;
  int64_t dims[2] = {0, 0};
  IA_CALL(open_matrix(loc, path, name, &dset, dims));
  IA_CHECK_GOTO(dims[0] == rows && dims[1] == cols, IA_ERR_FORMAT,
                "%s: '%s' is %lld×%lld, expected %lld×%lld", path, name, (long long)dims[0],
                (long long)dims[1], (long long)rows, (long long)cols);
  IA_CHECK_GOTO(begin >= 0 && count >= 0 && begin + count <= rows, IA_ERR_INTERNAL,
                "%s: rows [%lld, %lld) of '%s' asked, it has %lld", path, (long long)begin,
                (long long)(begin + count), name, (long long)rows);
  if (count > 0 && cols > 0) {
    hsize_t off[2] = {(hsize_t)begin, 0}, cnt[2] = {(hsize_t)count, (hsize_t)cols};
    IA_H5(fs = H5Dget_space(dset));
    IA_H5(H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, cnt, NULL));
    IA_H5(ms = H5Screate_simple(2, cnt, NULL));
    IA_H5(H5Dread(dset, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, out));
  }
done:
  if (ms >= 0) H5Sclose(ms);
  if (fs >= 0) H5Sclose(fs);
  H5Dclose(dset);
  return st;
}

ia_status ia_h5_matrix_dims(hid_t loc, const char *path, const char *name, int64_t *rows,
                            int64_t *cols) {
  hid_t dset = H5I_INVALID_HID;
  int64_t dims[2] = {0, 0};
  IA_CALL(open_matrix(loc, path, name, &dset, dims));
  H5Dclose(dset);
  *rows = dims[0];
  *cols = dims[1];
  return IA_OK;
}

ia_status ia_h5_close_rename(hid_t file, const char *tmp, const char *final, ia_status st) {
  if (file >= 0 && H5Fclose(file) < 0 && st == IA_OK)
    st = ia_error_set(IA_ERR_IO, __FILE__, __LINE__, "cannot finish writing %s", tmp);
  return ia_tmp_commit(tmp, final, st);
}
