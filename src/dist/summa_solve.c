/* Triangular solves on the grid: op(L)·X = B and X·U = B (infae/dist/summa.h). */
#include "dist/summa_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infae/core/log.h"

/* L·Y = B, right-looking: B_k solved on its process row, broadcast down the
 * columns, and the rows below updated by the SUMMA step with L's panel. */
static ia_status forward(resident *s, int64_t n, int64_t k, ia_status *st) {
  const ia_grid *g = s->g;
  blk x = summa_block(s, n, k);
  int64_t below = s->ml - x.r0;
  if (g->myrow == x.pr) {
    IA_CALL(summa_diag_solve(s, &x, 'N', st));
    summa_block_row_down(s, &x, st);
  }
  IA_CALL(summa_bcast_panel(s, &x, x.r0));
  IA_MPI(MPI_Bcast(s->hp, (int)(x.w * s->nl), s->type, x.pr, s->col));
  if (*st != IA_OK || below == 0 || s->nl == 0) return IA_OK;
  const void *a = summa_up(s, s->da, s->ha, s->es * (size_t)(below * x.w), st);
  const void *bk = summa_up(s, s->dp, s->hp, s->es * (size_t)(x.w * s->nl), st);
  if (*st == IA_OK)
    *st = ia_be_gemm(s->be, s->p, 'N', 'N', below, s->nl, x.w, -1.0, a, below, bk, x.w, 1.0,
                     s->db + s->es * (size_t)x.r0, s->lddb);
  return IA_OK;
}

/* Lᵀ·X = Y, left-looking: −(L's panel below block k)ᵀ times this rank's
 * rows of X below it, summed down the process columns onto block k's row,
 * which adds it to Y_k and solves with L_kkᵀ. The product is made
 * transposed, (X's rows)ᵀ·panel (nl × w): a GEMM whose output has many
 * rows runs faster than one of w rows over a long inner dimension (OpenBLAS:
 * 65 against 50 GFLOP/s on one core), and the owner adds its transpose. */
static ia_status backward(resident *s, int64_t n, int64_t k, ia_status *st) {
  const ia_grid *g = s->g;
  blk x = summa_block(s, n, k);
  int64_t below = s->ml - x.r0;
  size_t bytes = s->es * (size_t)(x.w * s->nl);
  IA_CALL(summa_bcast_panel(s, &x, x.r0));
  if (s->nl > 0 && below > 0) {
    const void *a = summa_up(s, s->da, s->ha, s->es * (size_t)(below * x.w), st);
    if (*st == IA_OK)
      *st = ia_be_gemm(s->be, s->p, 'T', 'N', s->nl, x.w, below, -1.0, s->db + s->es * (size_t)x.r0,
                       s->lddb, a, below, 0.0, s->dp, s->nl);
    if (!s->cpu && *st == IA_OK) *st = ia_be_download(s->be, s->hp, s->dp, bytes);
  } else {
    memset(s->hp, 0, bytes);
  }
  int cnt = (int)(x.w * s->nl);
  if (g->myrow == x.pr)
    IA_MPI(MPI_Reduce(MPI_IN_PLACE, s->hp, cnt, s->type, MPI_SUM, x.pr, s->col));
  else
    IA_MPI(MPI_Reduce(s->hp, NULL, cnt, s->type, MPI_SUM, x.pr, s->col));
  if (g->myrow != x.pr) return IA_OK;
  if (s->nl > 0) {
    const void *sum = summa_up(s, s->dp, s->hp, bytes, st);
    if (*st == IA_OK)
      *st = ia_be_add(s->be, s->p, 'T', x.w, s->nl, sum, s->nl, s->db + s->es * (size_t)x.rk,
                      s->lddb);
  }
  return summa_diag_solve(s, &x, 'T', st);
}

/* The forward substitution, then the back substitution, each when asked. */
static ia_status triangular(const ia_grid *g, ia_backend *be, ia_precision p, int fwd, int bwd,
                            int64_t n, int64_t nrhs, int64_t nb, const void *l, int64_t ldl,
                            void *b, int64_t ldb) {
  resident s;
  ia_status st = summa_open(&s, g, be, p, n, nrhs, nb, l, ldl, b, ldb), local = IA_OK;
  int64_t kt = (n + nb - 1) / nb;
  ia_progress pr;
  ia_progress_start(&pr, "[train] triangular solves");
  double half = fwd && bwd ? 0.5 : 1.0; /* each sweep's share of the work */
  for (int64_t k = 0; fwd && k < kt && st == IA_OK; k++) {
    st = forward(&s, n, k, &local);
    ia_progress_update(&pr, half * (double)(k + 1) / (double)kt);
  }
  for (int64_t k = kt - 1; bwd && k >= 0 && st == IA_OK; k--) {
    st = backward(&s, n, k, &local);
    ia_progress_update(&pr, 1.0 - half * (double)k / (double)kt);
  }
  return summa_close(&s, b, ldb, 1, st, local);
}

ia_status ia_summa_potrs(const ia_grid *g, ia_backend *be, ia_precision p, int64_t n, int64_t nrhs,
                         int64_t nb, const void *l, int64_t ldl, void *b, int64_t ldb) {
  return triangular(g, be, p, 1, 1, n, nrhs, nb, l, ldl, b, ldb);
}

ia_status ia_summa_trsm(const ia_grid *g, ia_backend *be, ia_precision p, char op, int64_t n,
                        int64_t nrhs, int64_t nb, const void *l, int64_t ldl, void *b,
                        int64_t ldb) {
  IA_CHECK(op == 'N' || op == 'T', IA_ERR_ARG, "ia_summa_trsm: op must be 'N' or 'T'");
  return triangular(g, be, p, op == 'N', op == 'T', n, nrhs, nb, l, ldl, b, ldb);
}

/* ---- X·U = B ------------------------------------------------------------ */

/* dst (w × w) = srcᵀ, src with leading dimension ld. */
static void summa_pack_transposed(void *dst, const void *src, int64_t ld, int64_t w, size_t es) {
  for (int64_t j = 0; j < w; j++)
    for (int64_t i = 0; i < w; i++)
      memcpy((char *)dst + es * (size_t)(i * w + j), (const char *)src + es * (size_t)(j * ld + i),
             es);
}

/* Block column j, right-looking: its process column gets U_jj (transposed
 * into the lower factor the backend solves with) and solves its rows of
 * B_j; that panel goes along the process rows, U's block row j after the
 * block down the columns, and every rank updates its columns after j. */
static ia_status right_step(resident *s, int64_t n, int64_t j, ia_status *st) {
  const ia_grid *g = s->g;
  blk x = summa_block(s, n, j);
  if (g->mycol == x.pc) {
    if (g->myrow == x.pr)
      summa_pack_transposed(s->hd, s->l + s->es * (size_t)(x.ck * s->ldl + x.rk), s->ldl, x.w,
                            s->es);
    IA_MPI(MPI_Bcast(s->hd, (int)(x.w * x.w), s->type, x.pr, s->col));
    const void *d = summa_up(s, s->dd, s->hd, s->es * (size_t)(x.w * x.w), st);
    char *bj = s->db + s->es * (size_t)(x.ck * s->lddb);
    if (*st == IA_OK && s->ml > 0)
      *st = ia_be_trsm(s->be, s->p, 'R', 'T', s->ml, x.w, d, x.w, bj, s->lddb);
    if (s->cpu)
      summa_pack(s->ha, bj, s->lddb, s->ml, x.w, s->es);
    else if (*st == IA_OK && s->ml > 0)
      *st = ia_be_download2d(s->be, s->ha, s->es * (size_t)s->ml, bj, s->es * (size_t)s->lddb,
                             s->es * (size_t)s->ml, x.w);
  }
  IA_MPI(MPI_Bcast(s->ha, (int)(s->ml * x.w), s->type, x.pc, s->row));
  int64_t after = s->nl - x.c0;
  if (g->myrow == x.pr)
    summa_pack(s->hp, s->l + s->es * (size_t)(x.c0 * s->ldl + x.rk), s->ldl, x.w, after, s->es);
  IA_MPI(MPI_Bcast(s->hp, (int)(x.w * after), s->type, x.pr, s->col));
  if (*st != IA_OK || s->ml == 0 || after == 0) return IA_OK;
  const void *a = summa_up(s, s->da, s->ha, s->es * (size_t)(s->ml * x.w), st);
  const void *u = summa_up(s, s->dp, s->hp, s->es * (size_t)(x.w * after), st);
  if (*st == IA_OK)
    *st = ia_be_gemm(s->be, s->p, 'N', 'N', s->ml, after, x.w, -1.0, a, s->ml, u, x.w, 1.0,
                     s->db + s->es * (size_t)(x.c0 * s->lddb), s->lddb);
  return IA_OK;
}

ia_status ia_summa_trsm_right(const ia_grid *g, ia_backend *be, ia_precision p, int64_t m,
                              int64_t n, int64_t nb, const void *u, int64_t ldu, void *b,
                              int64_t ldb) {
  resident s;
  ia_status st = summa_open(&s, g, be, p, m, n, nb, u, ldu, b, ldb), local = IA_OK;
  int64_t kt = (n + nb - 1) / nb;
  for (int64_t j = 0; j < kt && st == IA_OK; j++) st = right_step(&s, n, j, &local);
  return summa_close(&s, b, ldb, 1, st, local);
}
