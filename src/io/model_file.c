#include "infae/io/model_file.h"

#include <cblas.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infae/config.h"
#include "infae/core/idmap.h"
#include "infae/core/log.h"
#include "infae/core/paths.h"
#include "io/h5util.h"

static hid_t real_type(ia_precision p) {
  return p == IA_FP64 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
}

/* The attributes every model file has: what it is, the λ chosen, the
 * metrics, what it was trained on and by which command. */
static ia_status write_provenance(hid_t file, const char *path, const char *format,
                                  const char *model, const ia_model_info *o, const ia_dataset *d) {
  ia_status st = IA_OK;
  char data[4096];
  /* Absolute, so that `recommend` finds the dataset from anywhere. */
  if (!ia_path_absolute(o->data, data, sizeof data)) snprintf(data, sizeof data, "%s", o->data);
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "format", format));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "version", IA_MODEL_VERSION));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "model", model));
  IA_CALL_GOTO(ia_h5_attr_f64(file, path, "lambda", o->lambda));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "users", d->n_users));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "items", d->n_items));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "dataset", data));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "dataset_source_sha256", d->source_sha256));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "dataset_seed", (int64_t)d->seed));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "trained_on", o->train_on ? o->train_on : "train"));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "metrics", o->metrics_json ? o->metrics_json : "{}"));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "command", o->command ? o->command : ""));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "infae_version", IA_VERSION));
done:
  return st;
}

/* The ∞-AE attributes of a model file (fit: exact | nystrom | summary). */
static ia_status infae_attrs(hid_t file, const char *path, const ia_model_info *o,
                             ia_precision precision, int64_t u, const char *fit) {
  ia_status st = IA_OK;
  char kernel[160];
  snprintf(kernel, sizeof kernel,
           "NTK of (Dense-ReLU) x %d, Dense; W_std^2=2, b_std^2=0.01, NTK parameterization",
           o->depth);
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "kernel", kernel));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "depth", o->depth));
  IA_CALL_GOTO(ia_h5_attr_f64(file, path, "lambda_prime", o->lambda_prime));
  IA_CALL_GOTO(ia_h5_attr_f64(file, path, "trace_K", o->trace_k));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "precision", precision == IA_FP64 ? "fp64" : "fp32"));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "fit_users", u));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "fit", fit));
done:
  return st;
}

/* Rank 0: everything but α, and an allocated α dataset to fill in parallel. */
static ia_status write_header(const char *tmp, const ia_model_info *o, const int64_t *fit) {
  ia_status st = IA_OK;
  const char *path = tmp;
  hid_t file = H5I_INVALID_HID, g = H5I_INVALID_HID, space = H5I_INVALID_HID;
  hid_t dcpl = H5I_INVALID_HID, dset = H5I_INVALID_HID;
  ia_dataset all = {0}; /* attributes only */
  ia_csr rows = {0};
  int64_t *index = NULL;
  char **ids = NULL, **user_ids = NULL, **item_ids = NULL;
  int64_t u = o->fit_users;
  IA_CALL_GOTO(ia_dataset_read(MPI_COMM_SELF, o->data, 0, 0, 0, &all));
  IA_CALL_GOTO(ia_dataset_read_ids(MPI_COMM_SELF, o->data, &user_ids, &item_ids));
  IA_CALL_GOTO(IA_ALLOC(index, u, "fit user index"));
  IA_CALL_GOTO(IA_ALLOC(ids, u, "fit user ids"));
  for (int64_t j = 0; j < u; j++) {
    index[j] = fit ? fit[j] : j;
    ids[j] = user_ids[index[j]];
  }
  IA_CALL_GOTO(ia_dataset_read_rows(MPI_COMM_SELF, o->data, "train", index, u, &rows));
  file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  IA_CHECK_GOTO(file >= 0, IA_ERR_IO, "cannot create %s (directory missing or not writable?)", tmp);
  IA_H5(g = H5Gcreate2(file, "fit", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  IA_CALL_GOTO(ia_h5_write_array(g, path, "indptr", H5T_NATIVE_INT64, u + 1, rows.indptr));
  IA_CALL_GOTO(
      ia_h5_write_array(g, path, "indices", H5T_NATIVE_INT32, ia_csr_nnz(&rows), rows.indices));
  IA_CALL_GOTO(ia_h5_write_array(g, path, "user_index", H5T_NATIVE_INT64, u, index));
  IA_CALL_GOTO(ia_h5_write_strings(g, path, "user_ids", u, ids));
  H5Gclose(g);
  IA_H5(g = H5Gcreate2(file, "items", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  IA_CALL_GOTO(ia_h5_write_strings(g, path, "ids", all.n_items, item_ids));
  hsize_t dims[2] = {(hsize_t)u, (hsize_t)all.n_items};
  IA_H5(space = H5Screate_simple(2, dims, NULL));
  IA_H5(dcpl = H5Pcreate(H5P_DATASET_CREATE));
  IA_H5(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY)); /* written in parallel */
  IA_H5(dset = H5Dcreate2(file, "alpha", real_type(o->precision), space, H5P_DEFAULT, dcpl,
                          H5P_DEFAULT));
  IA_CALL_GOTO(write_provenance(file, path, IA_MODEL_FORMAT, "infae", o, &all));
  IA_CALL_GOTO(infae_attrs(file, path, o, o->precision, u, o->nystrom ? "nystrom" : "exact"));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "sample_seed", (int64_t)o->seed));
done:
  if (dset >= 0) H5Dclose(dset);
  if (dcpl >= 0) H5Pclose(dcpl);
  if (space >= 0) H5Sclose(space);
  if (g >= 0) H5Gclose(g);
  if (file >= 0 && H5Fclose(file) < 0 && st == IA_OK)
    st = ia_error_set(IA_ERR_IO, __FILE__, __LINE__, "cannot finish writing %s", tmp);
  free(ids); /* the strings belong to user_ids */
  ia_ids_free(user_ids, all.n_users);
  ia_ids_free(item_ids, all.n_items);
  free(index);
  ia_csr_free(&rows);
  ia_dataset_free(&all);
  return st;
}

/* Every rank writes its rows of α (row blocks of ceil(U/size)). */
static ia_status write_alpha(const ia_grid *g, const char *tmp, ia_precision prec, int64_t u,
                             int64_t d, const void *alpha, int64_t ld) {
  ia_status st = IA_OK;
  const char *path = tmp;
  hid_t fapl = H5I_INVALID_HID, file = H5I_INVALID_HID, dset = H5I_INVALID_HID;
  hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
  void *buf = NULL;
  size_t es = prec == IA_FP64 ? sizeof(double) : sizeof(float);
  int64_t begin, count;
  ia_row_block(u, g->size, g->rank, &begin, &count);
  IA_H5(fapl = H5Pcreate(H5P_FILE_ACCESS));
  IA_H5(H5Pset_fapl_mpio(fapl, g->comm, MPI_INFO_NULL));
  file = H5Fopen(tmp, H5F_ACC_RDWR, fapl);
  IA_CHECK_GOTO(file >= 0, IA_ERR_IO, "cannot open %s for writing", tmp);
  IA_H5(dset = H5Dopen2(file, "alpha", H5P_DEFAULT));
  IA_H5(fspace = H5Dget_space(dset));
  /* Local α is column-major (rows × d); the file is row-major: transpose a
   * slab of rows at a time. */
  int64_t slab = (64 << 20) / (int64_t)es / (d > 0 ? d : 1);
  if (slab < 1) slab = 1;
  if (count > 0)
    IA_CALL_GOTO(ia_malloc(es * (size_t)(slab < count ? slab : count) * (size_t)d, "α slab", &buf));
  for (int64_t r0 = 0; r0 < count; r0 += slab) {
    int64_t nr = count - r0 < slab ? count - r0 : slab;
    for (int64_t i = 0; i < nr; i++)
      for (int64_t j = 0; j < d; j++) {
        size_t from = (size_t)j * (size_t)ld + (size_t)(r0 + i), to = (size_t)(i * d + j);
        if (prec == IA_FP64)
          ((double *)buf)[to] = ((const double *)alpha)[from];
        else
          ((float *)buf)[to] = ((const float *)alpha)[from];
      }
    hsize_t off[2] = {(hsize_t)(begin + r0), 0}, cnt[2] = {(hsize_t)nr, (hsize_t)d};
    IA_H5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, off, NULL, cnt, NULL));
    if (mspace >= 0) H5Sclose(mspace);
    IA_H5(mspace = H5Screate_simple(2, cnt, NULL));
    IA_H5(H5Dwrite(dset, real_type(prec), mspace, fspace, H5P_DEFAULT, buf));
  }
done:
  free(buf);
  if (mspace >= 0) H5Sclose(mspace);
  if (fspace >= 0) H5Sclose(fspace);
  if (dset >= 0) H5Dclose(dset);
  if (file >= 0 && H5Fclose(file) < 0 && st == IA_OK)
    st = ia_error_set(IA_ERR_IO, __FILE__, __LINE__, "cannot finish writing %s", tmp);
  if (fapl >= 0) H5Pclose(fapl);
  return st;
}

ia_status ia_model_write(const ia_grid *g, const ia_model_info *o, const ia_dataset *d,
                         const int64_t *fit, const void *alpha, int64_t ld) {
  char tmp[4096];
  double t0 = ia_time();
  /* One name on every rank: rank 0's pid. */
  long pid = (long)getpid();
  MPI_Bcast(&pid, 1, MPI_LONG, 0, g->comm);
  ia_status st = ia_agree(g->comm, ia_tmp_name(o->out, pid, tmp, sizeof tmp));
  if (st == IA_OK) {
    if (g->rank == 0) st = write_header(tmp, o, fit);
    st = ia_agree(g->comm, st);
  }
  if (st == IA_OK)
    st = ia_agree(g->comm, write_alpha(g, tmp, o->precision, o->fit_users, d->n_items, alpha, ld));
  if (st == IA_OK && g->rank == 0 && rename(tmp, o->out) != 0)
    st = ia_error_set(IA_ERR_IO, __FILE__, __LINE__, "cannot rename %s to %s", tmp, o->out);
  st = ia_agree(g->comm, st);
  if (st != IA_OK && g->rank == 0) remove(tmp);
  ia_tmp_forget(tmp);
  if (st == IA_OK)
    ia_log_info("[train] wrote model %s (%lld fit users × %lld items, %s, %.2f s)", o->out,
                (long long)o->fit_users, (long long)d->n_items,
                o->precision == IA_FP64 ? "fp64" : "fp32", ia_time() - t0);
  return st;
}

/* Rank 0 writes a whole model file: the provenance, the item ids and what
 * fill() adds; through a temporary renamed when complete. Collective. */
typedef ia_status (*fill_fn)(hid_t file, const char *path, const void *ctx);

static ia_status write_whole(MPI_Comm comm, const ia_model_info *o, const char *format,
                             const char *model, fill_fn fill, const void *ctx) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  ia_status st = IA_OK;
  if (rank == 0) {
    const char *path = o->out;
    char tmp[4200];
    ia_dataset all = {0};
    char **user_ids = NULL, **item_ids = NULL;
    hid_t file = H5I_INVALID_HID, g = H5I_INVALID_HID;
    st = ia_dataset_read(MPI_COMM_SELF, o->data, 0, 0, 0, &all);
    if (st == IA_OK) st = ia_dataset_read_ids(MPI_COMM_SELF, o->data, &user_ids, &item_ids);
    if (st == IA_OK) st = ia_tmp_name(path, 0, tmp, sizeof tmp);
    if (st == IA_OK) {
      file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
      IA_CHECK_GOTO(file >= 0, IA_ERR_IO, "cannot create %s (directory missing or not writable?)",
                    tmp);
      IA_CALL_GOTO(write_provenance(file, path, format, model, o, &all));
      IA_H5(g = H5Gcreate2(file, "items", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
      IA_CALL_GOTO(ia_h5_write_strings(g, path, "ids", all.n_items, item_ids));
      IA_CALL_GOTO(fill(file, path, ctx));
    done:
      if (g >= 0) H5Gclose(g);
      st = ia_h5_close_rename(file, tmp, path, st);
    }
    ia_ids_free(user_ids, all.n_users);
    ia_ids_free(item_ids, all.n_items);
    ia_dataset_free(&all);
  }
  IA_CALL(ia_agree(comm, st));
  ia_log_info("[train] wrote model %s", o->out);
  return IA_OK;
}

typedef struct {
  const double *b;
  int64_t d;
} ease_ctx;

static ia_status fill_ease(hid_t file, const char *path, const void *ctx) {
  const ease_ctx *e = ctx;
  return ia_h5_write_matrix(file, path, "B", e->d, e->d, e->b);
}

ia_status ia_ease_model_write(MPI_Comm comm, const ia_model_info *o, const double *b, int64_t d) {
  ease_ctx e = {b, d};
  return write_whole(comm, o, IA_EASE_FORMAT, "ease", fill_ease, &e);
}

typedef struct {
  const ia_model_info *o;
  const double *s, *alpha;
  int64_t mu, d;
} sample_ctx;

static ia_status fill_sample(hid_t file, const char *path, const void *ctx) {
  const sample_ctx *c = ctx;
  ia_status st = IA_OK;
  hid_t g = H5I_INVALID_HID;
  IA_CALL_GOTO(infae_attrs(file, path, c->o, IA_FP64, c->mu, "summary"));
  IA_H5(g = H5Gcreate2(file, "fit", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  IA_CALL_GOTO(ia_h5_write_matrix(g, path, "rows", c->mu, c->d, c->s));
  IA_CALL_GOTO(ia_h5_write_matrix(file, path, "alpha", c->mu, c->d, c->alpha));
done:
  if (g >= 0) H5Gclose(g);
  return st;
}

ia_status ia_sample_model_write(MPI_Comm comm, const ia_model_info *o, const double *s,
                                const double *alpha, int64_t mu, int64_t d) {
  sample_ctx c = {o, s, alpha, mu, d};
  return write_whole(comm, o, IA_MODEL_FORMAT, "infae", fill_sample, &c);
}
