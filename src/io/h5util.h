#pragma once
/* Small HDF5 helpers shared by the dataset and model files. Every function
 * that takes `path` names it in its error messages. Internal. */
#include <hdf5.h>
#include <stdint.h>

#include <mpi.h>

#include "infae/core/csr.h"
#include "infae/core/status.h"

/* HDF5 calls return negative on failure; its own printing is turned off in
 * main so that we report each error once. */
#define IA_H5(call)                                                                                \
  do {                                                                                             \
    if ((call) < 0) {                                                                              \
      st = ia_error_set(IA_ERR_HDF5, __FILE__, __LINE__, "%s: %s failed", path, #call);            \
      goto done;                                                                                   \
    }                                                                                              \
  } while (0)

/* Variable-length UTF-8 string type (close it with H5Tclose). */
hid_t ia_h5_string_type(void);
/* 1-D dataset of n elements (integers chunked and compressed). */
ia_status ia_h5_write_array(hid_t loc, const char *path, const char *name, hid_t type, int64_t n,
                            const void *data);
ia_status ia_h5_write_strings(hid_t loc, const char *path, const char *name, int64_t n,
                              char *const *v);
ia_status ia_h5_attr_i64(hid_t loc, const char *path, const char *name, int64_t v);
ia_status ia_h5_attr_str(hid_t loc, const char *path, const char *name, const char *v);
ia_status ia_h5_attr_f64(hid_t loc, const char *path, const char *name, double v);
/* Elements [begin, begin + count) of a 1-D dataset of expect_len entries
 * (expect_len < 0: any length). */
ia_status ia_h5_read_range(hid_t loc, const char *path, const char *name, hid_t type, int64_t begin,
                           int64_t count, int64_t expect_len, void *out);
ia_status ia_h5_read_attr_i64(hid_t loc, const char *path, const char *name, int64_t *v);
ia_status ia_h5_read_attr_f64(hid_t loc, const char *path, const char *name, double *v);
/* The NTK depth attribute `depth` of loc: 1 when absent (files made before
 * --depth), an error when outside [1, IA_NTK_MAX_DEPTH]. */
ia_status ia_h5_read_depth(hid_t loc, const char *path, int *depth);
/* The selection metric attribute `select_metric` of loc (ia_select_metric):
 * IA_HR100 when absent (files made before --select). */
ia_status ia_h5_read_select(hid_t loc, const char *path, int *metric);
/* A string attribute, malloc'd into *v. */
ia_status ia_h5_read_attr_str(hid_t loc, const char *path, const char *name, char **v);
/* count strings from begin of a 1-D string dataset, malloc'd. */
ia_status ia_h5_read_strings(hid_t loc, const char *path, const char *name, int64_t begin,
                             int64_t count, int64_t expect, char ***out);

/* Rows [begin, begin + count) of the CSR matrix in group `group` (n_rows
 * rows in all, n_cols columns), checked: non-decreasing row pointers and
 * column indices in range. Not collective. */
ia_status ia_h5_read_csr(hid_t file, const char *path, const char *group, int64_t n_rows,
                         int64_t n_cols, int64_t begin, int64_t count, ia_csr *m);

/* Opens an infae file read-only with the MPI-IO driver and checks its
 * `format` and `version` attributes; kind ("dataset", "model") and maker
 * (the command that writes such files) go into the messages. Every rank
 * agrees on the file being readable before the collective open. Collective
 * on comm. */
ia_status ia_h5_open(MPI_Comm comm, const char *path, const char *format, int version,
                     const char *kind, const char *maker, hid_t *file);

/* ia_h5_open for a file of any of n formats; *which (when not NULL) gets
 * the index of the file's. Collective on comm. */
ia_status ia_h5_open_any(MPI_Comm comm, const char *path, const char *const *formats, int n,
                         int version, const char *kind, const char *maker, hid_t *file, int *which);

/* 2-D float64 dataset rows×cols (row-major), written whole. */
ia_status ia_h5_write_matrix(hid_t loc, const char *path, const char *name, int64_t rows,
                             int64_t cols, const double *data);
/* Reads a whole 2-D float64 dataset that must be rows×cols. */
ia_status ia_h5_read_matrix(hid_t loc, const char *path, const char *name, int64_t rows,
                            int64_t cols, double *out);
/* Rows [begin, begin + count) of a 2-D dataset that must be rows×cols, as
 * float64 (row-major). */
ia_status ia_h5_read_matrix_rows(hid_t loc, const char *path, const char *name, int64_t rows,
                                 int64_t cols, int64_t begin, int64_t count, double *out);
ia_status ia_h5_matrix_dims(hid_t loc, const char *path, const char *name, int64_t *rows,
                            int64_t *cols);

/* Ends a file written through a temporary: closes file (when valid), then
 * renames tmp to final if everything went well (st == IA_OK), or removes
 * tmp. Returns the first failure. Not collective. */
ia_status ia_h5_close_rename(hid_t file, const char *tmp, const char *final, ia_status st);
