/* Distill-CF's operations on a backend: Gumbel-softmax rows, hardtanh, the
 * NTK of dense rows and its vector-Jacobian products, softmax cross-entropy. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dispatch.h"
#include "infae/core/ntk.h"
#include "infae/core/topk.h"

/* ---- Gumbel-softmax rows (CPU) --------------------------------------------------- */

static ia_status cpu_gumbel(const ia_gumbel *g, int64_t row0, int64_t n, const double *z,
                            const double *da, double *out) {
  double *scratch = NULL;
  int64_t d = g->d;
  IA_CALL(IA_ALLOC(scratch, ia_gumbel_scratch(d), "Gumbel scratch"));
  for (int64_t r = 0; r < n; r++) {
    size_t at = (size_t)r * (size_t)d;
    if (da)
      ia_gumbel_row_vjp(g, row0 + r, z + at, da + at, out + at, scratch);
    else
      ia_gumbel_row(g, row0 + r, z + at, out + at, scratch);
  }
  free(scratch);
  return IA_OK;
}

ia_status ia_be_gumbel_rows(ia_backend *b, const ia_gumbel *g, int64_t row0, int64_t n,
                            const double *z, double *a) {
  return CUDA_OR(ia_cuda_gumbel_rows(b->cuda, g, row0, n, z, a),
                 cpu_gumbel(g, row0, n, z, NULL, a));
}

ia_status ia_be_gumbel_rows_vjp(ia_backend *b, const ia_gumbel *g, int64_t row0, int64_t n,
                                const double *z, const double *da, double *dz) {
  return CUDA_OR(ia_cuda_gumbel_rows_vjp(b->cuda, g, row0, n, z, da, dz),
                 cpu_gumbel(g, row0, n, z, da, dz));
}

/* ---- Distill-CF step (CPU) --------------------------------------------------------- */

static ia_status cpu_axpy(int64_t n, double alpha, const double *x, double *y) {
  for (int64_t e = 0; e < n; e++) y[e] += alpha * x[e];
  return IA_OK;
}

ia_status ia_be_axpy(ia_backend *b, int64_t n, double alpha, const double *x, double *y) {
  return CUDA_OR(ia_cuda_axpy(b->cuda, n, alpha, x, y), cpu_axpy(n, alpha, x, y));
}

static ia_status cpu_sum(int64_t n, const double *x, double *sum) {
  double s = 0;
  for (int64_t e = 0; e < n; e++) s += x[e];
  *sum = s;
  return IA_OK;
}

ia_status ia_be_sum(ia_backend *b, int64_t n, const double *x, double *sum) {
  return CUDA_OR(ia_cuda_sum(b->cuda, n, x, sum), cpu_sum(n, x, sum));
}

static ia_status cpu_diag_get(int64_t n, const double *a, int64_t lda, double *out) {
  for (int64_t i = 0; i < n; i++) out[i] = a[i * lda + i];
  return IA_OK;
}

ia_status ia_be_diag_get(ia_backend *b, int64_t n, const double *a, int64_t lda, double *out) {
  return CUDA_OR(ia_cuda_diag_get(b->cuda, n, a, lda, out), cpu_diag_get(n, a, lda, out));
}

static ia_status cpu_hardtanh(int64_t n, const double *a, double *s) {
  for (int64_t e = 0; e < n; e++) s[e] = a[e] < 1.0 ? a[e] : 1.0;
  return IA_OK;
}

ia_status ia_be_hardtanh(ia_backend *b, int64_t n, const double *a, double *s) {
  return CUDA_OR(ia_cuda_hardtanh(b->cuda, n, a, s), cpu_hardtanh(n, a, s));
}

static ia_status cpu_hardtanh_vjp(int64_t n, const double *a, double add, double *ds) {
  for (int64_t e = 0; e < n; e++) ds[e] = a[e] < 1.0 ? ds[e] + add : 0.0;
  return IA_OK;
}

ia_status ia_be_hardtanh_vjp(ia_backend *b, int64_t n, const double *a, double add, double *ds) {
  return CUDA_OR(ia_cuda_hardtanh_vjp(b->cuda, n, a, add, ds), cpu_hardtanh_vjp(n, a, add, ds));
}

static ia_status cpu_scale_cols_add(int64_t m, int64_t n, double c, const double *w,
                                    const double *x, int64_t ldx, double *y, int64_t ldy) {
  for (int64_t j = 0; j < n; j++)
    for (int64_t i = 0; i < m; i++) y[i + j * ldy] += c * w[j] * x[i + j * ldx];
  return IA_OK;
}

ia_status ia_be_scale_cols_add(ia_backend *b, int64_t m, int64_t n, double c, const double *w,
                               const double *x, int64_t ldx, double *y, int64_t ldy) {
  return CUDA_OR(ia_cuda_scale_cols_add(b->cuda, m, n, c, w, x, ldx, y, ldy),
                 cpu_scale_cols_add(m, n, c, w, x, ldx, y, ldy));
}

static ia_status cpu_densify_rows(const ia_be_csr *a, const int32_t *rows, int64_t n, int64_t d,
                                  double *out, int64_t ld) {
  for (int64_t u = 0; u < n; u++) {
    double *col = out + u * ld;
    memset(col, 0, sizeof(double) * (size_t)d);
    for (int64_t p = a->indptr[rows[u]]; p < a->indptr[rows[u] + 1]; p++) col[a->indices[p]] = 1;
  }
  return IA_OK;
}

ia_status ia_be_densify_rows(ia_backend *b, const ia_be_csr *a, const int32_t *rows, int64_t n,
                             int64_t d, double *out, int64_t ld) {
  return CUDA_OR(ia_cuda_densify_rows(b->cuda, a, rows, n, d, out, ld),
                 cpu_densify_rows(a, rows, n, d, out, ld));
}

static ia_status cpu_ntk_dense(int64_t m, int64_t n, double d, int depth, const double *g,
                               int64_t ldg, const double *nr, const double *nc, double *k,
                               int64_t ldk, double *dxy, double *dnr) {
  for (int64_t j = 0; j < n; j++)
    for (int64_t i = 0; i < m; i++) {
      double x = g[i + j * ldg], gxx, gyy;
      if (dxy)
        k[i + j * ldk] = ia_ntk_grad(x, nr[i], nc[j], d, depth, &dxy[i + j * m], &gxx, &gyy),
                  dnr[i + j * m] = gxx;
      else
        k[i + j * ldk] = ia_ntk(x, nr[i], nc[j], d, depth);
    }
  return IA_OK;
}

ia_status ia_be_ntk_dense(ia_backend *b, int64_t m, int64_t n, double d, int depth, const double *g,
                          int64_t ldg, const double *nr, const double *nc, double *k, int64_t ldk,
                          double *dxy, double *dnr) {
  return CUDA_OR(ia_cuda_ntk_dense(b->cuda, m, n, d, depth, g, ldg, nr, nc, k, ldk, dxy, dnr),
                 cpu_ntk_dense(m, n, d, depth, g, ldg, nr, nc, k, ldk, dxy, dnr));
}

static ia_status cpu_ntk_dense_vjp(int64_t m, int64_t n, double *dk, int64_t ldk, const double *dxy,
                                   const double *dnr, double *dn) {
  for (int64_t j = 0; j < n; j++)
    for (int64_t i = 0; i < m; i++) {
      dn[i] += dk[i + j * ldk] * dnr[i + j * m];
      dk[i + j * ldk] *= dxy[i + j * m];
    }
  return IA_OK;
}

ia_status ia_be_ntk_dense_vjp(ia_backend *b, int64_t m, int64_t n, double *dk, int64_t ldk,
                              const double *dxy, const double *dnr, double *dn) {
  return CUDA_OR(ia_cuda_ntk_dense_vjp(b->cuda, m, n, dk, ldk, dxy, dnr, dn),
                 cpu_ntk_dense_vjp(m, n, dk, ldk, dxy, dnr, dn));
}

static ia_status cpu_ntk_sym_vjp(int64_t mu, double d, int depth, const double *g, int64_t ldg,
                                 const double *n, const double *dk, int64_t ldk, double *dg,
                                 int64_t lddg, double *dn) {
  for (int64_t i = 0; i < mu; i++)
    dn[i] = ia_ntk_sym_vjp_row(i, mu, d, depth, g, ldg, n, dk, ldk, dg, lddg);
  return IA_OK;
}

ia_status ia_be_ntk_sym_vjp(ia_backend *b, int64_t mu, double d, int depth, const double *g,
                            int64_t ldg, const double *n, const double *dk, int64_t ldk, double *dg,
                            int64_t lddg, double *dn) {
  return CUDA_OR(ia_cuda_ntk_sym_vjp(b->cuda, mu, d, depth, g, ldg, n, dk, ldk, dg, lddg, dn),
                 cpu_ntk_sym_vjp(mu, d, depth, g, ldg, n, dk, ldk, dg, lddg, dn));
}

static ia_status cpu_softmax_ce(int64_t d, int64_t n, double *p, int64_t ldp, const ia_be_csr *t,
                                const int32_t *rows, double scale, int grad, double *loss) {
  double total = 0;
  for (int64_t u = 0; u < n; u++) {
    double *col = p + u * ldp, mx = col[0], sum = 0, hit = 0;
    const int32_t *items = t->indices + t->indptr[rows[u]];
    int64_t ni = t->indptr[rows[u] + 1] - t->indptr[rows[u]];
    for (int64_t i = 1; i < d; i++) mx = col[i] > mx ? col[i] : mx;
    for (int64_t i = 0; i < d; i++) sum += exp(col[i] - mx);
    double lse = mx + log(sum);
    for (int64_t q = 0; q < ni; q++) hit += col[items[q]];
    total += (double)ni * lse - hit;
    if (!grad) continue;
    for (int64_t i = 0; i < d; i++) col[i] = scale * (double)ni * exp(col[i] - lse);
    for (int64_t q = 0; q < ni; q++) col[items[q]] -= scale;
  }
  *loss = total;
  return IA_OK;
}

ia_status ia_be_softmax_ce(ia_backend *b, int64_t d, int64_t n, double *p, int64_t ldp,
                           const ia_be_csr *t, const int32_t *rows, double scale, int grad,
                           double *loss) {
  return CUDA_OR(ia_cuda_softmax_ce(b->cuda, d, n, p, ldp, t, rows, scale, grad, loss),
                 cpu_softmax_ce(d, n, p, ldp, t, rows, scale, grad, loss));
}
