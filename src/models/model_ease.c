#include <cblas.h>
#include <lapacke.h>
#include <string.h>

#include "infae/models/model.h"

const double ia_ease_grid[7] = {1, 10, 100, 250, 500, 1000, 2500};

ia_status ia_ease_gram(MPI_Comm comm, const ia_csr *x, double *g, double *flops) {
  int64_t d = x->n_cols;
  double work = 0;
  memset(g, 0, sizeof(double) * (size_t)(d * d));
  /* Upper triangle from each row's pairs (binary rows: counts are exact). */
  for (int64_t r = 0; r < x->n_rows; r++) {
    const int32_t *it = x->indices + x->indptr[r];
    int64_t n = x->indptr[r + 1] - x->indptr[r];
    for (int64_t a = 0; a < n; a++) {
      double *row = g + (int64_t)it[a] * d;
      for (int64_t b = a; b < n; b++) row[it[b]] += 1.0;
    }
    work += 0.5 * (double)n * (double)(n + 1);
  }
  IA_CALL(ia_allreduce_sum(comm, g, d * d));
  for (int64_t i = 0; i < d; i++)
    for (int64_t j = 0; j < i; j++) g[i * d + j] = g[j * d + i];
  *flops = work;
  return IA_OK;
}

ia_status ia_ease_fit(const double *g, int64_t n_items, double lambda, double *b) {
  int d;
  IA_CALL(ia_to_int(n_items, &d));
  /* P overwrites b: factor and invert G + λI in place. */
  memcpy(b, g, sizeof(double) * (size_t)(n_items * n_items));
  for (int64_t i = 0; i < n_items; i++) b[i * n_items + i] += lambda;
  lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', d, b, d);
  IA_CHECK(info >= 0, IA_ERR_INTERNAL, "dpotrf: argument %d invalid", (int)-info);
  IA_CHECK(info == 0, IA_ERR_NOTSPD,
           "EASE: XᵀX + λI is not positive definite at λ = %g (dpotrf info %d); use a larger λ",
           lambda, (int)info);
  info = LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'U', d, b, d);
  IA_CHECK(info == 0, IA_ERR_NOTSPD, "EASE: inverse failed at λ = %g (dpotri info %d)", lambda,
           (int)info);
  for (int64_t i = 0; i < n_items; i++)
    for (int64_t j = 0; j < i; j++) b[i * n_items + j] = b[j * n_items + i];
  /* B_ji = −P_ji / P_ii (column i scaled by its diagonal), B_ii = 0; the
   * diagonal stays intact until the last loop. */
  for (int64_t j = 0; j < n_items; j++) {
    double *row = b + j * n_items;
    for (int64_t i = 0; i < n_items; i++)
      if (i != j) row[i] = -row[i] / b[i * n_items + i];
  }
  for (int64_t i = 0; i < n_items; i++) b[i * n_items + i] = 0.0;
  return IA_OK;
}

void ia_ease_scores(const double *b, int64_t n_items, const int32_t *ctx_a, int64_t n_a,
                    const int32_t *ctx_b, int64_t n_b, double *scores) {
  memset(scores, 0, sizeof(double) * (size_t)n_items);
  int64_t ia = 0;
  for (int64_t k = 0; k < n_a; k++)
    cblas_daxpy((int)n_items, 1.0, b + ctx_a[k] * n_items, 1, scores, 1);
  /* Items in both lists count once (binary union). */
  for (int64_t k = 0; k < n_b; k++) {
    while (ia < n_a && ctx_a[ia] < ctx_b[k]) ia++;
    if (ia < n_a && ctx_a[ia] == ctx_b[k]) continue;
    cblas_daxpy((int)n_items, 1.0, b + ctx_b[k] * n_items, 1, scores, 1);
  }
}
