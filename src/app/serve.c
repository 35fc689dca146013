#include "app/serve.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infae/core/layout.h"
#include "infae/core/ntk.h"
#include "io/h5util.h"

void server_free(server *v) {
  ia_csr_free(&v->x);
  free(v->s);
  free(v->alpha);
  free(v->nx);
  free(v->kq);
  free(v->mark);
  free(v->b);
  ia_recoder_free(&v->rec);
  ia_backend_close(&v->be);
}

/* ∞-AE: the fit rows and α rows of this rank. */
static ia_status open_infae(hid_t file, const char *path, int batch, server *v) {
  ia_status st = IA_OK;
  char *fit = NULL;
  int64_t begin;
  IA_CALL(ia_h5_read_attr_i64(file, path, "fit_users", &v->fit_users));
  IA_CALL(ia_h5_read_depth(file, path, &v->depth));
  IA_CALL(ia_h5_read_attr_str(file, path, "fit", &fit));
  int dense = !strcmp(fit, "summary");
  free(fit);
  ia_row_block(v->fit_users, v->size, v->rank, &begin, &v->count);
  int64_t rows = v->count > 0 ? v->count : 1;
  IA_CALL(IA_ALLOC(v->alpha, rows * v->d, "α rows"));
  IA_CALL(IA_ALLOC(v->nx, rows, "fit row norms"));
  IA_CALL(IA_ALLOC(v->kq, (int64_t)batch * rows, "query kernel"));
  IA_CALL(IA_ZALLOC(v->mark, v->d, "item marks"));
  IA_CALL(
      ia_h5_read_matrix_rows(file, path, "alpha", v->fit_users, v->d, begin, v->count, v->alpha));
  if (dense) {
    hid_t g = H5Gopen2(file, "fit", H5P_DEFAULT);
    IA_CHECK(g >= 0, IA_ERR_FORMAT, "%s: group /fit missing", path);
    st = IA_ALLOC(v->s, rows * v->d, "fit rows");
    if (st == IA_OK)
      st = ia_h5_read_matrix_rows(g, path, "rows", v->fit_users, v->d, begin, v->count, v->s);
    H5Gclose(g);
    IA_CALL(st);
    for (int64_t j = 0; j < v->count; j++) {
      double n = 0;
      for (int64_t i = 0; i < v->d; i++) n += v->s[j * v->d + i] * v->s[j * v->d + i];
      v->nx[j] = n;
    }
  } else {
    IA_CALL(ia_h5_read_csr(file, path, "fit", v->fit_users, v->d, begin, v->count, &v->x));
    for (int64_t j = 0; j < v->count; j++) v->nx[j] = (double)(v->x.indptr[j + 1] - v->x.indptr[j]);
  }
  return IA_OK;
}

/* This rank's part of the scores of nb binary query rows: Σ over its fit
 * rows j of NTK(q, x_j)·α_j. */
static void score_infae(server *v, const ia_csr *q, double *scores) {
  int64_t nb = q->n_rows, d = v->d, count = v->count;
  for (int64_t b = 0; b < nb; b++) {
    const int32_t *it = q->indices + q->indptr[b];
    int64_t nq = q->indptr[b + 1] - q->indptr[b];
    if (v->s) {
      for (int64_t j = 0; j < count; j++) {
        double dot = 0;
        for (int64_t e = 0; e < nq; e++) dot += v->s[j * d + it[e]];
        v->kq[b * count + j] = ia_ntk(dot, (double)nq, v->nx[j], (double)d, v->depth);
      }
      continue;
    }
    for (int64_t e = 0; e < nq; e++) v->mark[it[e]] = 1;
    for (int64_t j = 0; j < count; j++) {
      int64_t dot = 0;
      for (int64_t e = v->x.indptr[j]; e < v->x.indptr[j + 1]; e++) dot += v->mark[v->x.indices[e]];
      v->kq[b * count + j] = ia_ntk((double)dot, (double)nq, v->nx[j], (double)d, v->depth);
    }
    for (int64_t e = 0; e < nq; e++) v->mark[it[e]] = 0;
  }
  if (count > 0)
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)d, (int)count, 1.0, v->kq,
                (int)count, v->alpha, (int)d, 0.0, scores, (int)d);
  else
    memset(scores, 0, sizeof(double) * (size_t)(nb * d));
}

/* EASE: this rank's rows of B (row i: item i's contribution). */
static ia_status open_ease(hid_t file, const char *path, server *v) {
  ia_row_block(v->d, v->size, v->rank, &v->b_begin, &v->b_count);
  IA_CALL(IA_ALLOC(v->b, (v->b_count > 0 ? v->b_count : 1) * v->d, "rows of B"));
  return ia_h5_read_matrix_rows(file, path, "B", v->d, v->d, v->b_begin, v->b_count, v->b);
}

static void score_ease(server *v, const ia_csr *q, double *scores) {
  int64_t d = v->d;
  memset(scores, 0, sizeof(double) * (size_t)(q->n_rows * d));
  for (int64_t b = 0; b < q->n_rows; b++)
    for (int64_t e = q->indptr[b]; e < q->indptr[b + 1]; e++) {
      int64_t i = q->indices[e] - v->b_begin;
      if (i >= 0 && i < v->b_count) cblas_daxpy((int)d, 1.0, v->b + i * d, 1, scores + b * d, 1);
    }
}

/* Recoder: the layer widths from the shapes of W1 … WL, then the weights. */
static ia_status open_recoder(MPI_Comm comm, hid_t file, const char *path, int batch, server *v) {
  ia_status st = IA_OK;
  int64_t layers = 0, rows, cols, prev = v->d;
  char *act = NULL, name[32];
  double *w = NULL;
  ia_recoder_opts o;
  ia_recoder_defaults(&o);
  IA_CALL(ia_h5_read_attr_i64(file, path, "layers", &layers));
  IA_CHECK(layers >= 2 && layers <= IA_RECODER_MAX_LAYERS + 1, IA_ERR_FORMAT,
           "%s: %lld layers, this build reads 2 to %d", path, (long long)layers,
           IA_RECODER_MAX_LAYERS + 1);
  o.n_hidden = (int)layers - 1;
  for (int l = 1; l <= layers; l++) {
    snprintf(name, sizeof name, "W%d", l);
    IA_CALL(ia_h5_matrix_dims(file, path, name, &rows, &cols));
    IA_CHECK(cols == prev && (l < layers || rows == v->d) && rows >= 1 && rows <= (1 << 30),
             IA_ERR_FORMAT,
             "%s: %s is %lld × %lld, which does not follow the layer before it "
             "(%lld wide) or end in the %lld items",
             path, name, (long long)rows, (long long)cols, (long long)prev, (long long)v->d);
    if (l < layers) o.hidden[l - 1] = (int)rows;
    prev = rows;
  }
  IA_CALL(ia_h5_read_attr_str(file, path, "activation", &act));
  st = ia_act_parse(act, &o.act);
  free(act);
  IA_CALL(st);
  o.dropout = 0;
  IA_CALL(ia_backend_open(comm, IA_DEVICE_CPU, &v->be));
  IA_CALL(ia_recoder_create(comm, v->be, &o, v->d, (batch + v->size - 1) / v->size, &v->rec));
  int64_t n = ia_recoder_n_params(v->rec), at = 0, width[IA_RECODER_MAX_LAYERS + 2];
  ia_recoder_widths(v->rec, width);
  IA_CALL(IA_ALLOC(w, n, "Recoder weights"));
  for (int l = 1; l <= layers && st == IA_OK; l++) {
    /* Row-major out × in in the file is the column-major in × out block. */
    snprintf(name, sizeof name, "W%d", l);
    st = ia_h5_read_matrix(file, path, name, width[l], width[l - 1], w + at);
    at += width[l] * width[l - 1];
    snprintf(name, sizeof name, "b%d", l);
    if (st == IA_OK)
      st = ia_h5_read_range(file, path, name, H5T_NATIVE_DOUBLE, 0, width[l], width[l], w + at);
    at += width[l];
  }
  if (st == IA_OK) st = ia_recoder_set_params(v->rec, w);
  free(w);
  return st;
}

static ia_status score_recoder(server *v, const ia_csr *q, double *scores) {
  int64_t nb = q->n_rows, d = v->d, begin, count, rows[1024];
  ia_row_block(nb, v->size, v->rank, &begin, &count);
  memset(scores, 0, sizeof(double) * (size_t)(nb * d));
  for (int64_t r0 = 0; r0 < count; r0 += 1024) {
    int64_t n = count - r0 < 1024 ? count - r0 : 1024;
    for (int64_t u = 0; u < n; u++) rows[u] = begin + r0 + u;
    IA_CALL(ia_recoder_scores(v->rec, q, NULL, rows, n, scores + (begin + r0) * d));
  }
  return IA_OK;
}

ia_status server_score(server *v, const ia_csr *q, double *scores) {
  if (v->kind == SERVE_RECODER) return score_recoder(v, q, scores);
  if (v->kind == SERVE_EASE)
    score_ease(v, q, scores);
  else
    score_infae(v, q, scores);
  return IA_OK;
}

ia_status server_open(MPI_Comm comm, hid_t file, const char *path, serve_kind kind, int64_t d,
                      int batch, server *v) {
  memset(v, 0, sizeof *v);
  v->kind = kind;
  v->d = d;
  MPI_Comm_rank(comm, &v->rank);
  MPI_Comm_size(comm, &v->size);
  ia_status st = IA_OK;
  if (kind == SERVE_INFAE)
    st = open_infae(file, path, batch, v);
  else if (kind == SERVE_EASE)
    st = open_ease(file, path, v);
  IA_CALL(ia_agree(comm, st));
  if (kind == SERVE_RECODER) IA_CALL(open_recoder(comm, file, path, batch, v));
  return IA_OK;
}
