/* Dense linear algebra on a backend: BLAS/LAPACK on the CPU. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dispatch.h"
#include "infae/core/ntk.h"
#include "infae/core/topk.h"

/* ---- dense linear algebra (CPU) ------------------------------------------- */

ia_status ia_cpu_gemm(ia_precision p, char ta, char tb, int64_t m, int64_t n, int64_t k,
                      double alpha, const void *a, int64_t lda, const void *bm, int64_t ldb,
                      double beta, void *c, int64_t ldc) {
  if (m <= 0 || n <= 0) return IA_OK;
  int im, in, ik, ila, ilb, ilc;
  IA_CALL(ia_to_int(m, &im));
  IA_CALL(ia_to_int(n, &in));
  IA_CALL(ia_to_int(k, &ik));
  IA_CALL(ia_to_int(lda, &ila));
  IA_CALL(ia_to_int(ldb, &ilb));
  IA_CALL(ia_to_int(ldc, &ilc));
  enum CBLAS_TRANSPOSE xa = ta == 'T' ? CblasTrans : CblasNoTrans;
  enum CBLAS_TRANSPOSE xb = tb == 'T' ? CblasTrans : CblasNoTrans;
  if (p == IA_FP64)
    cblas_dgemm(CblasColMajor, xa, xb, im, in, ik, alpha, a, ila, bm, ilb, beta, c, ilc);
  else
    cblas_sgemm(CblasColMajor, xa, xb, im, in, ik, (float)alpha, a, ila, bm, ilb, (float)beta, c,
                ilc);
  return IA_OK;
}

ia_status ia_be_gemm(ia_backend *b, ia_precision p, char ta, char tb, int64_t m, int64_t n,
                     int64_t k, double alpha, const void *a, int64_t lda, const void *bm,
                     int64_t ldb, double beta, void *c, int64_t ldc) {
  return CUDA_OR(ia_cuda_gemm(b->cuda, p, ta, tb, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc),
                 ia_cpu_gemm(p, ta, tb, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc));
}

static ia_status cpu_trsm(ia_precision p, char side, char ta, int64_t m, int64_t n, const void *a,
                          int64_t lda, void *bm, int64_t ldb) {
  if (m <= 0 || n <= 0) return IA_OK;
  int im, in, ila, ilb;
  IA_CALL(ia_to_int(m, &im));
  IA_CALL(ia_to_int(n, &in));
  IA_CALL(ia_to_int(lda, &ila));
  IA_CALL(ia_to_int(ldb, &ilb));
  enum CBLAS_SIDE sd = side == 'R' ? CblasRight : CblasLeft;
  enum CBLAS_TRANSPOSE xa = ta == 'T' ? CblasTrans : CblasNoTrans;
  if (p == IA_FP64)
    cblas_dtrsm(CblasColMajor, sd, CblasLower, xa, CblasNonUnit, im, in, 1.0, a, ila, bm, ilb);
  else
    cblas_strsm(CblasColMajor, sd, CblasLower, xa, CblasNonUnit, im, in, 1.0f, a, ila, bm, ilb);
  return IA_OK;
}

ia_status ia_be_trsm(ia_backend *b, ia_precision p, char side, char ta, int64_t m, int64_t n,
                     const void *a, int64_t lda, void *bm, int64_t ldb) {
  return CUDA_OR(ia_cuda_trsm(b->cuda, p, side, ta, m, n, a, lda, bm, ldb),
                 cpu_trsm(p, side, ta, m, n, a, lda, bm, ldb));
}

static ia_status cpu_potrf(ia_precision p, int64_t n, void *a, int64_t lda, int64_t *info) {
  int in, il;
  IA_CALL(ia_to_int(n, &in));
  IA_CALL(ia_to_int(lda, &il));
  lapack_int r = p == IA_FP64 ? LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', in, a, il)
                              : LAPACKE_spotrf(LAPACK_COL_MAJOR, 'L', in, a, il);
  IA_CHECK(r >= 0, IA_ERR_LAPACK, "?potrf: argument %d is invalid", (int)-r);
  *info = r;
  return IA_OK;
}

ia_status ia_be_potrf(ia_backend *b, ia_precision p, int64_t n, void *a, int64_t lda,
                      int64_t *info) {
  *info = 0;
  if (n <= 0) return IA_OK;
  return CUDA_OR(ia_cuda_potrf(b->cuda, p, n, a, lda, info), cpu_potrf(p, n, a, lda, info));
}

static ia_status cpu_potrs(ia_precision p, int64_t n, int64_t nrhs, const void *a, int64_t lda,
                           void *bm, int64_t ldb) {
  int in, ir, ila, ilb;
  IA_CALL(ia_to_int(n, &in));
  IA_CALL(ia_to_int(nrhs, &ir));
  IA_CALL(ia_to_int(lda, &ila));
  IA_CALL(ia_to_int(ldb, &ilb));
  lapack_int r = p == IA_FP64 ? LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'L', in, ir, a, ila, bm, ilb)
                              : LAPACKE_spotrs(LAPACK_COL_MAJOR, 'L', in, ir, a, ila, bm, ilb);
  IA_CHECK(r == 0, IA_ERR_LAPACK, "?potrs: argument %d is invalid", (int)-r);
  return IA_OK;
}

ia_status ia_be_potrs(ia_backend *b, ia_precision p, int64_t n, int64_t nrhs, const void *a,
                      int64_t lda, void *bm, int64_t ldb) {
  if (n <= 0 || nrhs <= 0) return IA_OK;
  return CUDA_OR(ia_cuda_potrs(b->cuda, p, n, nrhs, a, lda, bm, ldb),
                 cpu_potrs(p, n, nrhs, a, lda, bm, ldb));
}

static ia_status cpu_diag_add(ia_precision p, int64_t n, void *a, int64_t lda, double v) {
  for (int64_t i = 0; i < n; i++) {
    size_t at = (size_t)i * (size_t)lda + (size_t)i;
    if (p == IA_FP64)
      ((double *)a)[at] += v;
    else
      ((float *)a)[at] = (float)((double)((float *)a)[at] + v);
  }
  return IA_OK;
}

ia_status ia_be_diag_add(ia_backend *b, ia_precision p, int64_t n, void *a, int64_t lda, double v) {
  return CUDA_OR(ia_cuda_diag_add(b->cuda, p, n, a, lda, v), cpu_diag_add(p, n, a, lda, v));
}

/* The two triangles of A swapped one way, in tiles of 64 × 64 so that the
 * transposed side is read in cache lines. */
#define TRI_TILE 64
#define TRI_COPY(T)                                                                                \
  do {                                                                                             \
    T *x = (T *)a, *dg = (T *)diag;                                                                \
    for (int64_t i = 0; i < n; i++) {                                                              \
      T *d = x + (size_t)i * (size_t)lda + (size_t)i;                                              \
      if (restore)                                                                                 \
        *d = dg[i];                                                                                \
      else                                                                                         \
        dg[i] = *d;                                                                                \
    }                                                                                              \
    for (int64_t j0 = 0; j0 < n; j0 += TRI_TILE)                                                   \
      for (int64_t i0 = j0; i0 < n; i0 += TRI_TILE)                                                \
        for (int64_t j = j0; j < j0 + TRI_TILE && j < n; j++)                                      \
          for (int64_t i = i0 > j + 1 ? i0 : j + 1; i < i0 + TRI_TILE && i < n; i++) {             \
            T *lo = x + (size_t)j * (size_t)lda + (size_t)i;                                       \
            T *up = x + (size_t)i * (size_t)lda + (size_t)j;                                       \
            if (restore)                                                                           \
              *lo = *up;                                                                           \
            else                                                                                   \
              *up = *lo;                                                                           \
          }                                                                                        \
  } while (0)

static ia_status cpu_tri_copy(ia_precision p, int64_t n, void *a, int64_t lda, void *diag,
                              int restore) {
  if (p == IA_FP64)
    TRI_COPY(double);
  else
    TRI_COPY(float);
  return IA_OK;
}

ia_status ia_be_tri_save(ia_backend *b, ia_precision p, int64_t n, void *a, int64_t lda,
                         void *diag) {
  if (n <= 0) return IA_OK;
  return CUDA_OR(ia_cuda_tri_copy(b->cuda, p, n, a, lda, diag, 0),
                 cpu_tri_copy(p, n, a, lda, diag, 0));
}

ia_status ia_be_tri_restore(ia_backend *b, ia_precision p, int64_t n, void *a, int64_t lda,
                            const void *diag) {
  if (n <= 0) return IA_OK;
  return CUDA_OR(ia_cuda_tri_copy(b->cuda, p, n, a, lda, (void *)diag, 1),
                 cpu_tri_copy(p, n, a, lda, (void *)diag, 1));
}

static ia_status cpu_diag_sum(ia_precision p, int64_t n, const void *a, int64_t lda, double *sum) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) {
    size_t at = (size_t)i * (size_t)lda + (size_t)i;
    s += p == IA_FP64 ? ((const double *)a)[at] : (double)((const float *)a)[at];
  }
  *sum = s;
  return IA_OK;
}

ia_status ia_be_diag_sum(ia_backend *b, ia_precision p, int64_t n, const void *a, int64_t lda,
                         double *sum) {
  return CUDA_OR(ia_cuda_diag_sum(b->cuda, p, n, a, lda, sum), cpu_diag_sum(p, n, a, lda, sum));
}

/* Y(i, j) += X(i, j), or X(j, i) with op 'T' (in tiles of 32 × 32, so that
 * both sides stay in cache). */
static ia_status cpu_add(ia_precision p, char op, int64_t m, int64_t n, const void *x, int64_t ldx,
                         void *y, int64_t ldy) {
  const int64_t t = op == 'T' ? 32 : m;
  for (int64_t j0 = 0; j0 < n; j0 += 32)
    for (int64_t i0 = 0; i0 < m; i0 += t) {
      int64_t j1 = j0 + 32 < n ? j0 + 32 : n, i1 = i0 + t < m ? i0 + t : m;
      for (int64_t j = j0; j < j1; j++) {
        size_t cy = (size_t)j * (size_t)ldy;
        for (int64_t i = i0; i < i1; i++) {
          size_t at =
              op == 'T' ? (size_t)i * (size_t)ldx + (size_t)j : (size_t)j * (size_t)ldx + (size_t)i;
          if (p == IA_FP64)
            ((double *)y)[cy + (size_t)i] += ((const double *)x)[at];
          else
            ((float *)y)[cy + (size_t)i] += ((const float *)x)[at];
        }
      }
    }
  return IA_OK;
}

ia_status ia_be_add(ia_backend *b, ia_precision p, char op, int64_t m, int64_t n, const void *x,
                    int64_t ldx, void *y, int64_t ldy) {
  IA_CHECK(op == 'N' || op == 'T', IA_ERR_ARG, "ia_be_add: op must be 'N' or 'T'");
  if (m <= 0 || n <= 0) return IA_OK;
  return CUDA_OR(ia_cuda_add(b->cuda, p, op, m, n, x, ldx, y, ldy),
                 cpu_add(p, op, m, n, x, ldx, y, ldy));
}
