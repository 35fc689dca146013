#include "infae/core/csr.h"

#include <stdlib.h>
#include <string.h>

ia_status ia_csr_alloc(ia_csr *m, int64_t n_rows, int64_t n_cols, int64_t nnz) {
  memset(m, 0, sizeof *m);
  m->n_rows = n_rows;
  m->n_cols = n_cols;
  IA_CALL(IA_ZALLOC(m->indptr, n_rows + 1, "CSR row pointers"));
  ia_status st = IA_ALLOC(m->indices, nnz, "CSR column indices");
  if (st != IA_OK) ia_csr_free(m);
  return st;
}

void ia_csr_free(ia_csr *m) {
  free(m->indptr);
  free(m->indices);
  memset(m, 0, sizeof *m);
}

int ia_csr_has(const ia_csr *m, int64_t r, int32_t c) {
  int64_t lo = m->indptr[r], hi = m->indptr[r + 1];
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (m->indices[mid] < c)
      lo = mid + 1;
    else if (m->indices[mid] > c)
      hi = mid;
    else
      return 1;
  }
  return 0;
}

ia_status ia_csr_union_rows(const ia_csr *a, const ia_csr *b, const int64_t *rows, int64_t n,
                            ia_csr *out) {
  int64_t nnz = 0;
  for (int64_t k = 0; k < n; k++) {
    int64_t r = rows ? rows[k] : k;
    nnz += a->indptr[r + 1] - a->indptr[r] + (b ? b->indptr[r + 1] - b->indptr[r] : 0);
  }
  IA_CALL(ia_csr_alloc(out, n, a->n_cols, nnz));
  int64_t e = 0;
  for (int64_t k = 0; k < n; k++) {
    int64_t r = rows ? rows[k] : k, i = a->indptr[r], ie = a->indptr[r + 1];
    int64_t j = b ? b->indptr[r] : 0, je = b ? b->indptr[r + 1] : 0;
    while (i < ie || j < je)
      out->indices[e++] = (j >= je || (i < ie && a->indices[i] < b->indices[j])) ? a->indices[i++]
                                                                                 : b->indices[j++];
    out->indptr[k + 1] = e;
  }
  return IA_OK;
}

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

void ia_csr_sort_rows(ia_csr *m) {
  for (int64_t r = 0; r < m->n_rows; r++)
    qsort(m->indices + m->indptr[r], (size_t)(m->indptr[r + 1] - m->indptr[r]), sizeof(int32_t),
          cmp_i32);
}

int64_t ia_csr_union_count(const ia_csr *a, const ia_csr *b, int64_t r) {
  const int32_t *x = a->indices + a->indptr[r], *y = b->indices + b->indptr[r];
  int64_t nx = a->indptr[r + 1] - a->indptr[r], ny = b->indptr[r + 1] - b->indptr[r];
  int64_t i = 0, j = 0, c = 0;
  while (i < nx && j < ny) {
    if (x[i] == y[j])
      i++, j++;
    else if (x[i] < y[j])
      i++;
    else
      j++;
    c++;
  }
  return c + (nx - i) + (ny - j);
}

void ia_csr_columns_of_rows(const ia_csr *m, const int64_t *rows, int64_t n, int64_t *colptr,
                            int32_t *pos) {
  memset(colptr, 0, sizeof(int64_t) * (size_t)(m->n_cols + 1));
  for (int64_t k = 0; k < n; k++)
    for (int64_t e = m->indptr[rows[k]]; e < m->indptr[rows[k] + 1]; e++)
      colptr[m->indices[e] + 1]++;
  for (int64_t c = 0; c < m->n_cols; c++) colptr[c + 1] += colptr[c];
  for (int64_t k = 0; k < n; k++) /* k ascending: each column's list is ascending */
    for (int64_t e = m->indptr[rows[k]]; e < m->indptr[rows[k] + 1]; e++)
      pos[colptr[m->indices[e]]++] = (int32_t)k;
  for (int64_t c = m->n_cols; c > 0; c--) colptr[c] = colptr[c - 1];
  colptr[0] = 0;
}

void ia_csr_dense(const ia_csr *m, double *out) {
  memset(out, 0, sizeof(double) * (size_t)(m->n_rows * m->n_cols));
  for (int64_t j = 0; j < m->n_rows; j++)
    for (int64_t e = m->indptr[j]; e < m->indptr[j + 1]; e++)
      out[j * m->n_cols + m->indices[e]] = 1.0;
}
