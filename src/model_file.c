#include "infae/model_file.h"

#include <cblas.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5util.h"
#include "infae/config.h"
#include "infae/idmap.h"
#include "infae/log.h"
#include "infae/metrics.h"
#include "infae/ntk.h"
#include "infae/paths.h"

#define IA_MODEL_FORMAT "infae-model"
#define IA_MODEL_VERSION 1

static hid_t real_type(ia_precision p) {
  return p == IA_FP64 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
}

/* Rank 0: everything but α, and an allocated α dataset to fill in parallel. */
static ia_status write_header(const char *tmp, const ia_train_opts *o, const ia_train_result *r,
                              const int64_t *fit) {
  ia_status st = IA_OK;
  const char *path = tmp;
  hid_t file = H5I_INVALID_HID, g = H5I_INVALID_HID, space = H5I_INVALID_HID;
  hid_t dcpl = H5I_INVALID_HID, dset = H5I_INVALID_HID;
  ia_dataset all = {0}; /* attributes only */
  ia_csr rows = {0};
  int64_t *index = NULL;
  char **ids = NULL, *json = NULL, **user_ids = NULL, **item_ids = NULL;
  int64_t u = r->fit_users;
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
  IA_CHECK_GOTO(file >= 0, IA_ERR_IO, "cannot create %s (directory missing or not writable?)",
                tmp);
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
  IA_H5(dset = H5Dcreate2(file, "alpha", real_type(r->precision), space, H5P_DEFAULT, dcpl,
                          H5P_DEFAULT));
  json = ia_train_json(o, r);
  IA_CHECK_GOTO(json, IA_ERR_NOMEM, "out of memory printing the metrics");
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "format", IA_MODEL_FORMAT));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "version", IA_MODEL_VERSION));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "model", "infae"));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "kernel",
                              "NTK of Dense-ReLU-Dense, depth 1, W_std^2=2, b_std^2=0.01"));
  IA_CALL_GOTO(ia_h5_attr_f64(file, path, "lambda", r->best_lambda));
  IA_CALL_GOTO(ia_h5_attr_f64(file, path, "lambda_prime", r->lambda_prime));
  IA_CALL_GOTO(ia_h5_attr_f64(file, path, "trace_K", r->trace_k));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "precision", r->precision == IA_FP64 ? "fp64" : "fp32"));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "fit_users", u));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "fit", r->nystrom ? "nystrom" : "exact"));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "users", all.n_users));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "items", all.n_items));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "sample_seed", (int64_t)o->seed));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "dataset", o->data));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "dataset_source_sha256", all.source_sha256));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "dataset_seed", (int64_t)all.seed));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "metrics", json));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "command", o->command));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "infae_version", IA_VERSION));
done:
  if (dset >= 0) H5Dclose(dset);
  if (dcpl >= 0) H5Pclose(dcpl);
  if (space >= 0) H5Sclose(space);
  if (g >= 0) H5Gclose(g);
  if (file >= 0 && H5Fclose(file) < 0 && st == IA_OK)
    st = ia_error_set(IA_ERR_IO, __FILE__, __LINE__, "cannot finish writing %s", tmp);
  free(json);
  free(ids); /* the strings belong to user_ids */
  for (int64_t i = 0; user_ids && i < all.n_users; i++) free(user_ids[i]);
  for (int64_t i = 0; item_ids && i < all.n_items; i++) free(item_ids[i]);
  free(user_ids);
  free(item_ids);
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
  if (count > 0) IA_CALL_GOTO(ia_malloc(es * (size_t)(slab < count ? slab : count) * (size_t)d,
                                        "α slab", &buf));
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

ia_status ia_model_write(ia_infae *m, const ia_grid *g, const ia_train_opts *o,
                         const ia_dataset *d, const ia_train_result *r, const int64_t *fit) {
  char tmp[4096];
  double t0 = ia_time();
  /* One name on every rank: rank 0's pid. */
  long pid = (long)getpid();
  MPI_Bcast(&pid, 1, MPI_LONG, 0, g->comm);
  const void *alpha = NULL;
  int64_t ld = 1;
  ia_status st = ia_tmp_name(o->out, pid, tmp, sizeof tmp);
  if (st == IA_OK) st = ia_infae_alpha_rows(m, &alpha, &ld);
  st = ia_agree(g->comm, st);
  if (st == IA_OK) {
    if (g->rank == 0) st = write_header(tmp, o, r, fit);
    st = ia_agree(g->comm, st);
  }
  if (st == IA_OK)
    st = ia_agree(g->comm, write_alpha(g, tmp, r->precision, r->fit_users, d->n_items, alpha, ld));
  if (st == IA_OK && g->rank == 0 && rename(tmp, o->out) != 0)
    st = ia_error_set(IA_ERR_IO, __FILE__, __LINE__, "cannot rename %s to %s", tmp, o->out);
  st = ia_agree(g->comm, st);
  if (st != IA_OK && g->rank == 0) remove(tmp);
  ia_tmp_forget(tmp);
  if (st == IA_OK)
    ia_log_info("[train] wrote model %s (%lld fit users × %lld items, %s, %.2f s)", o->out,
                (long long)r->fit_users, (long long)d->n_items,
                r->precision == IA_FP64 ? "fp64" : "fp32", ia_time() - t0);
  return st;
}

/* ---- recommend -------------------------------------------------------- */

typedef struct {
  int64_t n;        /* query users */
  char **labels;    /* (n) user labels as given */
  ia_csr items;     /* (n × d) known items of each query user */
  int64_t unknown;  /* input lines naming items the model does not know */
} queries;

static void queries_free(queries *q) {
  if (q->labels)
    for (int64_t i = 0; i < q->n; i++) free(q->labels[i]);
  free(q->labels);
  ia_csr_free(&q->items);
  memset(q, 0, sizeof *q);
}

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

/* Rank 0: `user item` lines (whitespace-separated, # comments), grouped by
 * user in order of first appearance. */
static ia_status read_queries(const char *path, char **item_ids, int64_t d, queries *q) {
  ia_status st = IA_OK;
  FILE *f = NULL;
  ia_idmap *items = NULL, *users = NULL;
  int32_t *pu = NULL, *pi = NULL;
  int64_t np = 0, cap = 0, line_no = 0;
  char line[65536];
  memset(q, 0, sizeof *q);
  IA_CALL_GOTO(ia_idmap_create(&items));
  IA_CALL_GOTO(ia_idmap_create(&users));
  for (int64_t i = 0; i < d; i++) {
    int32_t id;
    IA_CALL_GOTO(ia_idmap_intern(items, item_ids[i], strlen(item_ids[i]), &id));
  }
  f = fopen(path, "r");
  IA_CHECK_GOTO(f, IA_ERR_IO, "cannot read %s", path);
  while (fgets(line, sizeof line, f)) {
    line_no++;
    size_t len = strlen(line);
    IA_CHECK_GOTO(len + 1 < sizeof line || line[len - 1] == '\n', IA_ERR_FORMAT,
                  "%s:%lld: line longer than %zu bytes", path, (long long)line_no,
                  sizeof line - 2);
    char *s = line, *user, *item, *extra;
    while (*s == ' ' || *s == '\t') s++;
    if (*s == '#' || *s == '\n' || *s == '\r' || *s == '\0') continue;
    user = strtok(s, " \t\r\n");
    item = strtok(NULL, " \t\r\n");
    extra = strtok(NULL, " \t\r\n");
    IA_CHECK_GOTO(user && item && !extra, IA_ERR_FORMAT,
                  "%s:%lld: expected `user item` (two fields)", path, (long long)line_no);
    int32_t i = ia_idmap_find(items, item, strlen(item)), u;
    if (i < 0) { /* a user is scored only through items the model knows */
      q->unknown++;
      continue;
    }
    IA_CALL_GOTO(ia_idmap_intern(users, user, strlen(user), &u));
    if (np == cap) {
      cap = cap ? 2 * cap : 1024;
      int32_t *a = realloc(pu, sizeof *a * (size_t)cap), *b = a ? realloc(pi, sizeof *b * (size_t)cap) : NULL;
      if (a) pu = a;
      if (b) pi = b;
      IA_CHECK_GOTO(a && b, IA_ERR_NOMEM, "out of memory reading %s", path);
    }
    pu[np] = u;
    pi[np++] = i;
  }
  IA_CHECK_GOTO(!ferror(f), IA_ERR_IO, "error reading %s", path);
  q->n = ia_idmap_size(users);
  IA_CHECK_GOTO(q->n > 0, IA_ERR_EMPTY, "%s: no `user item` lines with an item the model knows",
                path);
  IA_CALL_GOTO(IA_ZALLOC(q->labels, q->n, "user labels"));
  for (int64_t k = 0; k < q->n; k++) {
    q->labels[k] = strdup(ia_idmap_key(users, (int32_t)k));
    IA_CHECK_GOTO(q->labels[k], IA_ERR_NOMEM, "out of memory");
  }
  IA_CALL_GOTO(ia_csr_alloc(&q->items, q->n, d, np));
  for (int64_t e = 0; e < np; e++) q->items.indptr[pu[e] + 1]++;
  for (int64_t k = 0; k < q->n; k++) q->items.indptr[k + 1] += q->items.indptr[k];
  int64_t *fill = NULL;
  IA_CALL_GOTO(IA_ALLOC(fill, q->n, "query fill"));
  memcpy(fill, q->items.indptr, sizeof(int64_t) * (size_t)q->n);
  for (int64_t e = 0; e < np; e++) q->items.indices[fill[pu[e]]++] = pi[e];
  free(fill);
  /* Sort and drop repeated items. */
  int64_t w = 0;
  for (int64_t k = 0; k < q->n; k++) {
    int64_t a = q->items.indptr[k], b = q->items.indptr[k + 1];
    qsort(q->items.indices + a, (size_t)(b - a), sizeof(int32_t), cmp_i32);
    int64_t start = w;
    for (int64_t e = a; e < b; e++)
      if (e == a || q->items.indices[e] != q->items.indices[e - 1])
        q->items.indices[w++] = q->items.indices[e];
    q->items.indptr[k] = start;
  }
  q->items.indptr[q->n] = w;
done:
  if (f) fclose(f);
  free(pu);
  free(pi);
  ia_idmap_free(&items);
  ia_idmap_free(&users);
  if (st != IA_OK) queries_free(q);
  return st;
}

static ia_status bcast_csr(MPI_Comm comm, ia_csr *m) {
  int64_t h[3] = {m->n_rows, m->n_cols, ia_csr_nnz(m)};
  int rank;
  MPI_Comm_rank(comm, &rank);
  MPI_Bcast(h, 3, MPI_INT64_T, 0, comm);
  ia_status st = IA_OK;
  if (rank != 0) st = ia_csr_alloc(m, h[0], h[1], h[2]);
  IA_CALL(ia_agree(comm, st));
  IA_MPI(MPI_Bcast(m->indptr, (int)(h[0] + 1), MPI_INT64_T, 0, comm));
  for (int64_t off = 0; off < h[2]; off += 1 << 28) {
    int cnt = (int)(h[2] - off < (1 << 28) ? h[2] - off : (1 << 28));
    IA_MPI(MPI_Bcast(m->indices + off, cnt, MPI_INT32_T, 0, comm));
  }
  return IA_OK;
}


/* This rank's fit users: their train rows and α rows (row-major, double). */
static ia_status read_block(hid_t file, const char *path, int64_t u, int64_t d, int64_t begin,
                            int64_t count, ia_csr *x, double *alpha) {
  ia_status st = IA_OK;
  hid_t dset = H5I_INVALID_HID, fs = H5I_INVALID_HID, ms = H5I_INVALID_HID;
  IA_CALL_GOTO(ia_h5_read_csr(file, path, "fit", u, d, begin, count, x));
  dset = H5Dopen2(file, "alpha", H5P_DEFAULT);
  IA_CHECK_GOTO(dset >= 0, IA_ERR_FORMAT, "%s: dataset 'alpha' missing", path);
  IA_H5(fs = H5Dget_space(dset));
  hsize_t dims[2] = {0, 0};
  IA_CHECK_GOTO(H5Sget_simple_extent_ndims(fs) == 2, IA_ERR_FORMAT,
                "%s: 'alpha' must be two-dimensional", path);
  IA_H5(H5Sget_simple_extent_dims(fs, dims, NULL));
  IA_CHECK_GOTO(dims[0] == (hsize_t)u && dims[1] == (hsize_t)d, IA_ERR_FORMAT,
                "%s: 'alpha' is %llu × %llu, expected %lld × %lld", path,
                (unsigned long long)dims[0], (unsigned long long)dims[1], (long long)u,
                (long long)d);
  hsize_t off[2] = {(hsize_t)begin, 0}, cnt[2] = {(hsize_t)count, (hsize_t)d};
  if (count > 0) {
    IA_H5(H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, cnt, NULL));
    IA_H5(ms = H5Screate_simple(2, cnt, NULL));
    IA_H5(H5Dread(dset, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, alpha));
  }
done:
  if (ms >= 0) H5Sclose(ms);
  if (fs >= 0) H5Sclose(fs);
  if (dset >= 0) H5Dclose(dset);
  return st;
}

ia_status ia_recommend(MPI_Comm comm, const ia_recommend_opts *o) {
  ia_status st = IA_OK;
  hid_t file = H5I_INVALID_HID, g = H5I_INVALID_HID;
  queries q = {0};
  ia_csr x = {0};
  double *alpha = NULL, *kq = NULL, *scores = NULL, *nx = NULL;
  uint8_t *mark = NULL;
  int32_t *top = NULL;
  char **item_ids = NULL, tmp[4096] = "";
  FILE *out = NULL;
  int64_t u = 0, d = 0, begin, count;
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  IA_CHECK(o->model && o->input, IA_ERR_ARG, "--model and --input are required");
  IA_CHECK(o->k >= 1, IA_ERR_ARG, "-k must be ≥ 1 (got %d)", o->k);
  ia_path inputs[] = {{"model", o->model}, {"input", o->input}};
  ia_path outputs[] = {{"output", o->output}};
  IA_CALL(ia_paths_check(comm, inputs, 2, outputs, 1));
  st = ia_h5_open(comm, o->model, IA_MODEL_FORMAT, IA_MODEL_VERSION, "model",
                  "`infae_mpi train --out`", &file);
  IA_CALL_GOTO(ia_agree(comm, st));
  st = ia_h5_read_attr_i64(file, o->model, "fit_users", &u);
  if (st == IA_OK) st = ia_h5_read_attr_i64(file, o->model, "items", &d);
  if (st == IA_OK) {
    g = H5Gopen2(file, "items", H5P_DEFAULT);
    if (g < 0) st = ia_error_set(IA_ERR_FORMAT, __FILE__, __LINE__, "%s: group /items missing", o->model);
  }
  if (st == IA_OK) st = ia_h5_read_strings(g, o->model, "ids", 0, d, d, &item_ids);
  IA_CALL_GOTO(ia_agree(comm, st));
  /* Queries on rank 0, then everywhere. */
  if (rank == 0) st = read_queries(o->input, item_ids, d, &q);
  IA_CALL_GOTO(ia_agree(comm, st));
  MPI_Bcast(&q.n, 1, MPI_INT64_T, 0, comm);
  IA_CALL_GOTO(bcast_csr(comm, &q.items));
  if (q.unknown > 0)
    ia_log_warn("%s: %lld input line(s) name items the model does not know; ignored", o->input,
                (long long)q.unknown);
  /* Fit users in contiguous blocks. */
  ia_row_block(u, size, rank, &begin, &count);
  st = IA_ALLOC(alpha, (count > 0 ? count : 1) * d, "α rows");
  if (st == IA_OK) st = IA_ALLOC(nx, count + 1, "norms");
  IA_CALL_GOTO(ia_agree(comm, st));
  IA_CALL_GOTO(ia_agree(comm, read_block(file, o->model, u, d, begin, count, &x, alpha)));
  for (int64_t j = 0; j < count; j++) nx[j] = (double)(x.indptr[j + 1] - x.indptr[j]);
  int batch = o->batch > 0 ? o->batch : 256;
  st = IA_ALLOC(kq, (size_t)batch * (size_t)(count > 0 ? count : 1), "query kernel");
  if (st == IA_OK) st = IA_ALLOC(scores, (size_t)batch * (size_t)d, "scores");
  if (st == IA_OK) st = IA_ZALLOC(mark, d, "item marks");
  IA_CALL_GOTO(ia_agree(comm, st));
  if (rank == 0) {
    if (o->output) {
      st = ia_tmp_name(o->output, 0, tmp, sizeof tmp);
      out = st == IA_OK ? fopen(tmp, "w") : NULL;
      if (!out) st = ia_error_set(IA_ERR_IO, __FILE__, __LINE__, "cannot write %s", tmp);
    } else {
      out = stdout;
    }
    if (out) fprintf(out, "# user\titem\tscore\trank\n");
  }
  IA_CALL_GOTO(ia_agree(comm, st));
  int k = o->k < d ? o->k : (int)d;
  IA_CALL_GOTO(ia_agree(comm, IA_ALLOC(top, k, "top-k")));
  for (int64_t q0 = 0; q0 < q.n; q0 += batch) {
    int64_t nb = q.n - q0 < batch ? q.n - q0 : batch;
    /* kq[b][j] = NTK(query b, fit user j), by marking the query's items. */
    for (int64_t b = 0; b < nb; b++) {
      const ia_csr *c = &q.items;
      int64_t a0 = c->indptr[q0 + b], a1 = c->indptr[q0 + b + 1];
      for (int64_t e = a0; e < a1; e++) mark[c->indices[e]] = 1;
      for (int64_t j = 0; j < count; j++) {
        int64_t dot = 0;
        for (int64_t e = x.indptr[j]; e < x.indptr[j + 1]; e++) dot += mark[x.indices[e]];
        kq[b * count + j] = ia_ntk((double)dot, (double)(a1 - a0), nx[j], (double)d);
      }
      for (int64_t e = a0; e < a1; e++) mark[c->indices[e]] = 0;
    }
    /* scores (nb × d) = kq (nb × count) · α (count × d), summed over ranks. */
    if (count > 0)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)d, (int)count, 1.0,
                  kq, (int)count, alpha, (int)d, 0.0, scores, (int)d);
    else
      memset(scores, 0, sizeof(double) * (size_t)(nb * d));
    int cnt;
    IA_CALL_GOTO(ia_agree(comm, ia_to_int(nb * d, &cnt)));
    IA_MPI_GOTO(MPI_Reduce(rank == 0 ? MPI_IN_PLACE : scores, scores, cnt, MPI_DOUBLE, MPI_SUM, 0,
                           comm));
    if (rank != 0) continue;
    for (int64_t b = 0; b < nb; b++) {
      double *s = scores + b * d;
      const ia_csr *c = &q.items;
      if (!o->keep_input)
        for (int64_t e = c->indptr[q0 + b]; e < c->indptr[q0 + b + 1]; e++)
          s[c->indices[e]] = -INFINITY;
      ia_topk(s, d, k, top);
      for (int r = 0; r < k; r++)
        if (s[top[r]] > -INFINITY)
          fprintf(out, "%s\t%s\t%.12g\t%d\n", q.labels[q0 + b], item_ids[top[r]], s[top[r]],
                  r + 1);
    }
  }
  if (rank == 0 && ferror(out))
    st = ia_error_set(IA_ERR_IO, __FILE__, __LINE__, "cannot write %s",
                      o->output ? tmp : "standard output");
  ia_log_info("[recommend] %lld user(s) scored against %lld fit users on %d rank(s)",
              (long long)q.n, (long long)u, size);
done:
  if (out == stdout) fflush(out);
  if (out && out != stdout) {
    if (fclose(out) != 0 && st == IA_OK)
      st = ia_error_set(IA_ERR_IO, __FILE__, __LINE__, "cannot write %s", tmp);
  }
  st = ia_agree(comm, st);
  if (rank == 0 && tmp[0]) {
    st = ia_tmp_commit(tmp, o->output, st);
  }
  if (item_ids)
    for (int64_t i = 0; i < d; i++) free(item_ids[i]);
  free(item_ids);
  free(alpha);
  free(kq);
  free(scores);
  free(nx);
  free(mark);
  free(top);
  ia_csr_free(&x);
  queries_free(&q);
  if (g >= 0) H5Gclose(g);
  if (file >= 0) H5Fclose(file);
  return st;
}
