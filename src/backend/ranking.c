/* Ranking on a backend: the scores of given items, masked top-k per user,
 * rows to columns. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dispatch.h"
#include "infae/core/ntk.h"
#include "infae/core/topk.h"

/* ---- ranking (CPU) ------------------------------------------------------------------- */

static ia_status cpu_gather_items(int64_t n, const double *p, int64_t ldp, const ia_be_csr *c,
                                  const int32_t *rows, const int64_t *off, double *out) {
  for (int64_t u = 0; u < n; u++)
    for (int64_t q = c->indptr[rows[u]]; q < c->indptr[rows[u] + 1]; q++)
      out[off[u] + q - c->indptr[rows[u]]] = p[u * ldp + c->indices[q]];
  return IA_OK;
}

ia_status ia_be_gather_items(ia_backend *b, int64_t n, const double *p, int64_t ldp,
                             const ia_be_csr *c, const int32_t *rows, const int64_t *off,
                             double *out) {
  return CUDA_OR(ia_cuda_gather_items(b->cuda, n, p, ldp, c, rows, off, out),
                 cpu_gather_items(n, p, ldp, c, rows, off, out));
}

static ia_status cpu_rank_cols(int64_t d, int64_t n, double *p, int64_t ldp, const ia_be_csr *ca,
                               const ia_be_csr *cb, const int32_t *rows, int k, int32_t *top,
                               int64_t ldt) {
  for (int64_t u = 0; u < n; u++) {
    double *col = p + u * ldp;
    const ia_be_csr *ctx[2] = {ca, cb};
    for (int h = 0; h < 2; h++)
      for (int64_t q = ctx[h] ? ctx[h]->indptr[rows[u]] : 0;
           ctx[h] && q < ctx[h]->indptr[rows[u] + 1]; q++)
        col[ctx[h]->indices[q]] = -INFINITY;
    ia_topk(col, d, k, top + u * ldt);
  }
  return IA_OK;
}

ia_status ia_be_rank_cols(ia_backend *b, int64_t d, int64_t n, double *p, int64_t ldp,
                          const ia_be_csr *ca, const ia_be_csr *cb, const int32_t *rows, int k,
                          int32_t *top, int64_t ldt) {
  IA_CHECK(k >= 1 && k <= d && k <= IA_TOPK, IA_ERR_ARG, "top-%d of %lld items", k, (long long)d);
  return CUDA_OR(ia_cuda_rank_cols(b->cuda, d, n, p, ldp, ca, cb, rows, k, top, ldt),
                 cpu_rank_cols(d, n, p, ldp, ca, cb, rows, k, top, ldt));
}

static ia_status cpu_rows_to_cols(ia_precision p, const void *src, int64_t ld, const int32_t *rows,
                                  int64_t n, int64_t d, double scale, double beta, double *out,
                                  int64_t ldo) {
  for (int64_t u = 0; u < n; u++)
    for (int64_t i = 0; i < d; i++) {
      int64_t at = rows[u] + i * ld;
      double v = p == IA_FP64 ? ((const double *)src)[at] : (double)((const float *)src)[at];
      double *o = out + u * ldo + i;
      *o = beta == 0 ? scale * v : beta * *o + scale * v;
    }
  return IA_OK;
}

ia_status ia_be_rows_to_cols(ia_backend *b, ia_precision p, const void *src, int64_t ld,
                             const int32_t *rows, int64_t n, int64_t d, double scale, double beta,
                             double *out, int64_t ldo) {
  return CUDA_OR(ia_cuda_rows_to_cols(b->cuda, p, src, ld, rows, n, d, scale, beta, out, ldo),
                 cpu_rows_to_cols(p, src, ld, rows, n, d, scale, beta, out, ldo));
}
