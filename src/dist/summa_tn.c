/* C = Aᵀ·B on the grid (infae/dist/summa.h). */
#include "dist/summa_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infae/core/log.h"

/* ---- C = Aᵀ·B ----------------------------------------------------------- */

/* Block row i of C: A's block column i goes along the process rows; every
 * rank multiplies its transpose with its rows of B, and the products are
 * summed down the process columns onto block i's process row, which
 * stores them in C. */
static ia_status tn_step(resident *s, int lower, int add, int64_t m, int64_t i, char *c,
                         int64_t ldc, ia_status *st) {
  const ia_grid *g = s->g;
  blk x = summa_block(s, m, i);
  IA_CALL(summa_bcast_panel(s, &x, 0));
  int64_t cols = lower ? x.c0 : s->nl;
  size_t bytes = s->es * (size_t)(x.w * cols);
  if (s->ml > 0 && cols > 0) {
    const void *a = summa_up(s, s->da, s->ha, s->es * (size_t)(s->ml * x.w), st);
    if (*st == IA_OK)
      *st = ia_be_gemm(s->be, s->p, 'T', 'N', x.w, cols, s->ml, 1.0, a, s->ml, s->db, s->lddb, 0.0,
                       s->dp, x.w);
    if (!s->cpu && *st == IA_OK) *st = ia_be_download(s->be, s->hp, s->dp, bytes);
  } else {
    memset(s->hp, 0, bytes);
  }
  int cnt = (int)(x.w * cols);
  if (g->myrow == x.pr)
    IA_MPI(MPI_Reduce(MPI_IN_PLACE, s->hp, cnt, s->type, MPI_SUM, x.pr, s->col));
  else
    IA_MPI(MPI_Reduce(s->hp, NULL, cnt, s->type, MPI_SUM, x.pr, s->col));
  if (g->myrow == x.pr && *st == IA_OK)
    for (int64_t j = 0; j < cols; j++) {
      char *cj = c + s->es * (size_t)(j * ldc + x.rk),
           *pj = (char *)s->hp + s->es * (size_t)(j * x.w);
      if (!add)
        memcpy(cj, pj, s->es * (size_t)x.w);
      else if (s->p == IA_FP64)
        for (int64_t i = 0; i < x.w; i++) ((double *)cj)[i] += ((const double *)pj)[i];
      else
        for (int64_t i = 0; i < x.w; i++) ((float *)cj)[i] += ((const float *)pj)[i];
    }
  return IA_OK;
}

ia_status ia_summa_gemm_tn(const ia_grid *g, ia_backend *be, ia_precision p, int lower, int add,
                           int64_t m, int64_t n, int64_t k, int64_t nb, const void *a, int64_t lda,
                           const void *b, int64_t ldb, void *c, int64_t ldc) {
  IA_CHECK(!lower || m == n, IA_ERR_ARG, "ia_summa_gemm_tn: the lower triangle needs m == n");
  resident s;
  ia_status st = summa_open(&s, g, be, p, k, n, nb, a, lda, b, ldb), local = IA_OK;
  int64_t mt = (m + nb - 1) / nb;
  for (int64_t i = 0; i < mt && st == IA_OK; i++)
    st = tn_step(&s, lower, add, m, i, c, ldc, &local);
  return summa_close(&s, NULL, 0, 0, st, local);
}
