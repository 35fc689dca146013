#include "infae/io/dataset.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infae/config.h"
#include "infae/core/log.h"
#include "infae/core/paths.h"
#include "io/h5util.h"

#define IA_DATASET_FORMAT  "infae-dataset"
#define IA_DATASET_VERSION 1

void ia_ids_free(char **ids, int64_t n) {
  for (int64_t i = 0; ids && i < n; i++) free(ids[i]);
  free(ids);
}

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

static ia_status write_csr(hid_t file, const char *path, const char *group, const ia_csr *m) {
  ia_status st = IA_OK;
  hid_t g = H5I_INVALID_HID;
  IA_H5(g = H5Gcreate2(file, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  IA_CALL_GOTO(ia_h5_write_array(g, path, "indptr", H5T_NATIVE_INT64, m->n_rows + 1, m->indptr));
  IA_CALL_GOTO(ia_h5_write_array(g, path, "indices", H5T_NATIVE_INT32, ia_csr_nnz(m), m->indices));
done:
  if (g >= 0) H5Gclose(g);
  return st;
}

ia_status ia_dataset_write(const ia_dataset *d, const char *path) {
  ia_status st = IA_OK;
  hid_t file = H5I_INVALID_HID, g = H5I_INVALID_HID;
  char tmp[4096];
  IA_CHECK(d->n_rows == d->n_users && d->row_begin == 0, IA_ERR_INTERNAL,
           "ia_dataset_write needs the whole dataset");
  IA_CALL(ia_tmp_name(path, 0, tmp, sizeof tmp));
  file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  IA_CHECK_GOTO(file >= 0, IA_ERR_IO, "cannot create %s (directory missing or not writable?)", tmp);
  IA_CALL_GOTO(write_csr(file, path, "train", &d->train));
  IA_CALL_GOTO(write_csr(file, path, "val", &d->val));
  IA_CALL_GOTO(write_csr(file, path, "test", &d->test));
  IA_CALL_GOTO(write_csr(file, path, "negatives", &d->negatives));
  IA_H5(g = H5Gcreate2(file, "users", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  IA_CALL_GOTO(ia_h5_write_strings(g, path, "ids", d->n_users, d->user_ids));
  H5Gclose(g);
  IA_H5(g = H5Gcreate2(file, "items", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  IA_CALL_GOTO(ia_h5_write_strings(g, path, "ids", d->n_items, d->item_ids));
  IA_CALL_GOTO(
      ia_h5_write_array(g, path, "train_count", H5T_NATIVE_INT64, d->n_items, d->item_train_count));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "format", IA_DATASET_FORMAT));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "version", IA_DATASET_VERSION));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "source_format", d->source_format));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "source_files", d->source_files));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "source_sha256", d->source_sha256));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "command", d->command));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "infae_version", IA_VERSION));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "seed", (int64_t)d->seed));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "users", d->n_users));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "items", d->n_items));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "train_nnz", d->train_nnz));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "val_nnz", d->val_nnz));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "test_nnz", d->test_nnz));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "duplicates_dropped", d->duplicates_dropped));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "users_dropped", d->users_dropped));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "pairs_in_two_splits", d->pairs_in_two_splits));
done:
  if (g >= 0) H5Gclose(g);
  return ia_h5_close_rename(file, tmp, path, st);
}

/* ---- reading ---------------------------------------------------------- */

static ia_status open_file(MPI_Comm comm, const char *path, hid_t *file) {
  return ia_h5_open(comm, path, IA_DATASET_FORMAT, IA_DATASET_VERSION, "dataset",
                    "`infae_mpi prepare`", file);
}

ia_status ia_dataset_dims(MPI_Comm comm, const char *path, int64_t *n_users, int64_t *n_items) {
  ia_status st = IA_OK;
  hid_t file = H5I_INVALID_HID;
  IA_CALL_GOTO(open_file(comm, path, &file));
  IA_CALL_GOTO(ia_h5_read_attr_i64(file, path, "users", n_users));
  IA_CALL_GOTO(ia_h5_read_attr_i64(file, path, "items", n_items));
done:
  if (file >= 0) H5Fclose(file);
  return ia_agree(comm, st);
}

ia_status ia_dataset_read_rows(MPI_Comm comm, const char *path, const char *split,
                               const int64_t *rows, int64_t n, ia_csr *out) {
  ia_status st = IA_OK;
  hid_t file = H5I_INVALID_HID, g = H5I_INVALID_HID, dset = H5I_INVALID_HID;
  hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
  int64_t n_users = 0, n_items = 0, *ptr = NULL, cap = 0;
  int32_t *buf = NULL;
  memset(out, 0, sizeof *out);
  IA_CALL_GOTO(open_file(comm, path, &file));
  IA_CALL_GOTO(ia_h5_read_attr_i64(file, path, "users", &n_users));
  IA_CALL_GOTO(ia_h5_read_attr_i64(file, path, "items", &n_items));
  for (int64_t k = 0; k < n; k++)
    IA_CHECK_GOTO(rows[k] >= 0 && rows[k] < n_users && (k == 0 || rows[k] > rows[k - 1]),
                  IA_ERR_INTERNAL, "row list not ascending within [0, %lld)", (long long)n_users);
  g = H5Gopen2(file, split, H5P_DEFAULT);
  IA_CHECK_GOTO(g >= 0, IA_ERR_FORMAT, "%s: group '/%s' missing: not an infae dataset file", path,
                split);
  /* The row pointers are small (8 bytes per user): read them whole. */
  IA_CALL_GOTO(IA_ALLOC(ptr, n_users + 1, "CSR row pointers"));
  IA_CALL_GOTO(
      ia_h5_read_range(g, path, "indptr", H5T_NATIVE_INT64, 0, n_users + 1, n_users + 1, ptr));
  int64_t nnz = 0;
  for (int64_t k = 0; k < n; k++) {
    int64_t a = ptr[rows[k]], b = ptr[rows[k] + 1];
    IA_CHECK_GOTO(a >= 0 && a <= b, IA_ERR_FORMAT,
                  "%s: /%s/indptr is not non-decreasing at row %lld", path, split,
                  (long long)rows[k]);
    nnz += b - a;
  }
  IA_CALL_GOTO(ia_csr_alloc(out, n, n_items, nnz));
  for (int64_t k = 0; k < n; k++)
    out->indptr[k + 1] = out->indptr[k] + ptr[rows[k] + 1] - ptr[rows[k]];
  dset = H5Dopen2(g, "indices", H5P_DEFAULT);
  IA_CHECK_GOTO(dset >= 0, IA_ERR_FORMAT, "%s: /%s/indices missing", path, split);
  IA_H5(fspace = H5Dget_space(dset));
  hsize_t len = 0;
  IA_CHECK_GOTO(H5Sget_simple_extent_ndims(fspace) == 1, IA_ERR_FORMAT,
                "%s: /%s/indices must be one-dimensional", path, split);
  IA_H5(H5Sget_simple_extent_dims(fspace, &len, NULL));
  IA_CHECK_GOTO(ptr[n_users] == (int64_t)len, IA_ERR_FORMAT,
                "%s: /%s/indices has %llu entries, indptr says %lld", path, split,
                (unsigned long long)len, (long long)ptr[n_users]);
  /* Runs of consecutive rows, read in batches: one H5Dread covers the span
   * of a batch (at most `span` entries, or one run), and the runs are copied
   * out. A union of many hyperslabs costs O(runs²) in HDF5 1.10. */
  const int64_t span = (int64_t)16 << 20;
  int64_t at = 0; /* entries of out filled */
  for (int64_t k = 0; k < n;) {
    int64_t first = k, lo = ptr[rows[k]], hi = lo;
    while (k < n) {
      int64_t e = k + 1;
      while (e < n && rows[e] == rows[e - 1] + 1) e++;
      int64_t end = ptr[rows[e - 1] + 1];
      if (k > first && end - lo > span) break;
      hi = end;
      k = e;
    }
    if (hi > lo) {
      if (hi - lo > cap) {
        free(buf);
        buf = NULL;
        cap = hi - lo;
        IA_CALL_GOTO(IA_ALLOC(buf, cap, "CSR read buffer"));
      }
      hsize_t off[1] = {(hsize_t)lo}, cnt[1] = {(hsize_t)(hi - lo)};
      IA_H5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, off, NULL, cnt, NULL));
      if (mspace >= 0) H5Sclose(mspace);
      IA_H5(mspace = H5Screate_simple(1, cnt, NULL));
      IA_H5(H5Dread(dset, H5T_NATIVE_INT32, mspace, fspace, H5P_DEFAULT, buf));
    }
    for (int64_t r = first; r < k; r++) {
      int64_t a = ptr[rows[r]], b = ptr[rows[r] + 1];
      memcpy(out->indices + at, buf + (a - lo), sizeof(int32_t) * (size_t)(b - a));
      at += b - a;
    }
  }
  for (int64_t e = 0; e < nnz; e++)
    IA_CHECK_GOTO(out->indices[e] >= 0 && out->indices[e] < n_items, IA_ERR_FORMAT,
                  "%s: /%s/indices holds %d, outside [0, %lld)", path, split, out->indices[e],
                  (long long)n_items);
done:
  free(ptr);
  free(buf);
  if (mspace >= 0) H5Sclose(mspace);
  if (fspace >= 0) H5Sclose(fspace);
  if (dset >= 0) H5Dclose(dset);
  if (g >= 0) H5Gclose(g);
  if (file >= 0) H5Fclose(file);
  st = ia_agree(comm, st);
  if (st != IA_OK) ia_csr_free(out);
  return st;
}

ia_status ia_dataset_read_ids(MPI_Comm comm, const char *path, char ***user_ids, char ***item_ids) {
  ia_status st = IA_OK;
  hid_t file = H5I_INVALID_HID, g = H5I_INVALID_HID;
  int64_t n_users = 0, n_items = 0;
  *user_ids = *item_ids = NULL;
  IA_CALL_GOTO(open_file(comm, path, &file));
  IA_CALL_GOTO(ia_h5_read_attr_i64(file, path, "users", &n_users));
  IA_CALL_GOTO(ia_h5_read_attr_i64(file, path, "items", &n_items));
  g = H5Gopen2(file, "users", H5P_DEFAULT);
  IA_CHECK_GOTO(g >= 0, IA_ERR_FORMAT, "%s: group '/users' missing", path);
  IA_CALL_GOTO(ia_h5_read_strings(g, path, "ids", 0, n_users, n_users, user_ids));
  H5Gclose(g);
  g = H5Gopen2(file, "items", H5P_DEFAULT);
  IA_CHECK_GOTO(g >= 0, IA_ERR_FORMAT, "%s: group '/items' missing", path);
  IA_CALL_GOTO(ia_h5_read_strings(g, path, "ids", 0, n_items, n_items, item_ids));
done:
  if (g >= 0) H5Gclose(g);
  if (file >= 0) H5Fclose(file);
  if (st != IA_OK && *user_ids) {
    for (int64_t i = 0; i < n_users; i++) free((*user_ids)[i]);
    free(*user_ids);
    *user_ids = NULL;
  }
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
  IA_CALL_GOTO(ia_h5_read_attr_i64(file, path, "users", &d->n_users));
  IA_CALL_GOTO(ia_h5_read_attr_i64(file, path, "items", &d->n_items));
  IA_CHECK_GOTO(d->n_users > 0 && d->n_items > 0 && d->n_items <= INT32_MAX, IA_ERR_FORMAT,
                "%s: bad sizes users=%lld items=%lld", path, (long long)d->n_users,
                (long long)d->n_items);
  if (n_rows < 0) n_rows = d->n_users - row_begin;
  IA_CHECK_GOTO(row_begin >= 0 && row_begin + n_rows <= d->n_users, IA_ERR_ARG,
                "%s: rows [%lld, %lld) outside the %lld users", path, (long long)row_begin,
                (long long)(row_begin + n_rows), (long long)d->n_users);
  d->row_begin = row_begin;
  d->n_rows = n_rows;
  IA_CALL_GOTO(ia_h5_read_attr_i64(file, path, "train_nnz", &d->train_nnz));
  IA_CALL_GOTO(ia_h5_read_attr_i64(file, path, "val_nnz", &d->val_nnz));
  IA_CALL_GOTO(ia_h5_read_attr_i64(file, path, "test_nnz", &d->test_nnz));
  IA_CALL_GOTO(ia_h5_read_attr_i64(file, path, "seed", &seed));
  d->seed = (uint64_t)seed;
  IA_CALL_GOTO(ia_h5_read_attr_i64(file, path, "duplicates_dropped", &d->duplicates_dropped));
  IA_CALL_GOTO(ia_h5_read_attr_i64(file, path, "users_dropped", &d->users_dropped));
  IA_CALL_GOTO(ia_h5_read_attr_i64(file, path, "pairs_in_two_splits", &d->pairs_in_two_splits));
  IA_CALL_GOTO(ia_h5_read_attr_str(file, path, "source_format", &text));
  snprintf(d->source_format, sizeof d->source_format, "%s", text);
  free(text);
  text = NULL;
  IA_CALL_GOTO(ia_h5_read_attr_str(file, path, "source_sha256", &text));
  snprintf(d->source_sha256, sizeof d->source_sha256, "%s", text);
  free(text);
  text = NULL;
  IA_CALL_GOTO(ia_h5_read_attr_str(file, path, "source_files", &d->source_files));
  IA_CALL_GOTO(ia_h5_read_attr_str(file, path, "command", &d->command));
  const char *groups[4] = {"train", "val", "test", "negatives"};
  ia_csr *mats[4] = {&d->train, &d->val, &d->test, &d->negatives};
  for (int k = 0; k < 4; k++)
    IA_CALL_GOTO(
        ia_h5_read_csr(file, path, groups[k], d->n_users, d->n_items, row_begin, n_rows, mats[k]));
  IA_CALL_GOTO(IA_ALLOC(d->item_train_count, d->n_items, "item train counts"));
  g = H5Gopen2(file, "items", H5P_DEFAULT);
  IA_CHECK_GOTO(g >= 0, IA_ERR_FORMAT, "%s: group '/items' missing", path);
  IA_CALL_GOTO(ia_h5_read_range(g, path, "train_count", H5T_NATIVE_INT64, 0, d->n_items, d->n_items,
                                d->item_train_count));
  if (with_ids) {
    IA_CALL_GOTO(ia_h5_read_strings(g, path, "ids", 0, d->n_items, d->n_items, &d->item_ids));
    H5Gclose(g);
    g = H5Gopen2(file, "users", H5P_DEFAULT);
    IA_CHECK_GOTO(g >= 0, IA_ERR_FORMAT, "%s: group '/users' missing", path);
    IA_CALL_GOTO(ia_h5_read_strings(g, path, "ids", row_begin, n_rows, d->n_users, &d->user_ids));
  }
done:
  if (g >= 0) H5Gclose(g);
  if (file >= 0) H5Fclose(file);
  st = ia_agree(comm, st);
  if (st != IA_OK) ia_dataset_free(d);
  return st;
}
