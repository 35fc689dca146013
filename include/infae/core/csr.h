#pragma once
/* Compressed sparse rows of a binary matrix (values are implicit ones). */
#include <stddef.h>
#include <stdint.h>

#include "infae/core/status.h"

typedef struct {
  int64_t n_rows;
  int64_t n_cols;
  int64_t *indptr;  /* (n_rows + 1) */
  int32_t *indices; /* (indptr[n_rows]) column of each entry, sorted per row */
} ia_csr;

/* Allocates indptr (zeroed) and room for nnz indices. */
IA_NODISCARD ia_status ia_csr_alloc(ia_csr *m, int64_t n_rows, int64_t n_cols, int64_t nnz);
/* Frees the arrays and zeroes the struct; accepts a zeroed struct. */
void ia_csr_free(ia_csr *m);
static inline int64_t ia_csr_nnz(const ia_csr *m) { return m->indptr ? m->indptr[m->n_rows] : 0; }
/* 1 if column c is in row r (binary search; rows are sorted). */
int ia_csr_has(const ia_csr *m, int64_t r, int32_t c);
/* out's row k = row rows[k] of a ∪ the same row of b (rows NULL: rows 0 … n−1;
 * b may be NULL), sorted; the two rows must be sorted and disjoint (a user's
 * train and validation items). Allocates out. */
IA_NODISCARD ia_status ia_csr_union_rows(const ia_csr *a, const ia_csr *b, const int64_t *rows,
                                         int64_t n, ia_csr *out);
/* |a_r ∪ b_r|: the items of row r of a and of b (both sorted), each once. */
int64_t ia_csr_union_count(const ia_csr *a, const ia_csr *b, int64_t r);
/* out (n_rows × n_cols, row-major, zeroed first) ← m's 0/1 rows. */
void ia_csr_dense(const ia_csr *m, double *out);
/* The rows rows[0 … n) of m by column: colptr (n_cols + 1) and pos (room for
 * their entries) list, for each column, the positions k of the rows holding
 * it, ascending. */
void ia_csr_columns_of_rows(const ia_csr *m, const int64_t *rows, int64_t n, int64_t *colptr,
                            int32_t *pos);
/* Sorts every row's indices ascending. */
void ia_csr_sort_rows(ia_csr *m);
