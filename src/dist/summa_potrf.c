/* The Cholesky factor L·Lᵀ = A on the grid, right-looking (infae/dist/summa.h). */
#include "dist/summa_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infae/core/log.h"

/* ---- L·Lᵀ = A ----------------------------------------------------------- */

/* Block column k, right-looking: its owner factors the diagonal block
 * (info > 0 ends the factorization on every rank), which goes down the
 * process column; that column solves its rows below and broadcasts them
 * along the process rows. Each process column gathers the rows of the
 * blocks that are its columns (L's panel transposed, into hp: after × w),
 * and every rank updates its lower blocks to the right. */
static ia_status potrf_step(resident *s, int64_t n, int64_t k, char *hs, char *hr, int *counts,
                            int *displs, int64_t *info, ia_status *st) {
  const ia_grid *g = s->g;
  blk x = summa_block(s, n, k);
  int64_t below = s->ml - x.r0, after = s->nl - x.c0, inf = 0;
  size_t es = s->es;
  char *akk = s->db + es * (size_t)(x.ck * s->lddb + x.rk);
  if (g->myrow == x.pr && g->mycol == x.pc) {
    if (*st == IA_OK) *st = ia_be_potrf(s->be, s->p, x.w, akk, s->lddb, &inf);
    if (*st == IA_OK && s->cpu)
      summa_pack(s->hd, akk, s->lddb, x.w, x.w, es);
    else if (*st == IA_OK)
      *st = ia_be_download2d(s->be, s->hd, es * (size_t)x.w, akk, es * (size_t)s->lddb,
                             es * (size_t)x.w, x.w);
  }
  long long minor = inf > 0 ? (long long)(k * s->nb + inf) : 0;
  IA_MPI(MPI_Allreduce(MPI_IN_PLACE, &minor, 1, MPI_LONG_LONG, MPI_MAX, g->comm));
  if (minor > 0) {
    *info = minor;
    return IA_OK;
  }
  if (g->mycol == x.pc) {
    IA_MPI(MPI_Bcast(s->hd, (int)(x.w * x.w), s->type, x.pr, s->col));
    const void *d = summa_up(s, s->dd, s->hd, es * (size_t)(x.w * x.w), st);
    char *lk = s->db + es * (size_t)(x.ck * s->lddb + x.r0);
    if (*st == IA_OK && below > 0)
      *st = ia_be_trsm(s->be, s->p, 'R', 'T', below, x.w, d, x.w, lk, s->lddb);
    if (s->cpu)
      summa_pack(s->ha, lk, s->lddb, below, x.w, es);
    else if (*st == IA_OK && below > 0)
      *st = ia_be_download2d(s->be, s->ha, es * (size_t)below, lk, es * (size_t)s->lddb,
                             es * (size_t)below, x.w);
  }
  IA_MPI(MPI_Bcast(s->ha, (int)(below * x.w), s->type, x.pc, s->row));
  /* The transposed panel: process column c needs L's blocks J > k with
   * J mod npcol = c, and process row r holds those with J mod nprow = r.
   * Each rank packs its blocks in order of J (wj × w each); the allgather
   * down the column puts row 0's first, then row 1's, …; they go into hp
   * (after × w) at the blocks' local columns. */
  int64_t kt = (n + s->nb - 1) / s->nb;
  for (int r = 0; r < g->nprow; r++) counts[r] = 0;
  for (int64_t J = k + 1; J < kt; J++) {
    if (J % g->npcol != g->mycol) continue;
    int r = (int)(J % g->nprow);
    int64_t wj = summa_block(s, n, J).w;
    if (r == g->myrow) {
      int64_t at = (J / g->nprow) * s->nb - x.r0; /* its local row in ha */
      for (int64_t t = 0; t < x.w; t++)
        memcpy(hs + es * (size_t)(counts[r] + t * wj),
               (const char *)s->ha + es * (size_t)(t * below + at), es * (size_t)wj);
    }
    counts[r] += (int)(wj * x.w);
  }
  for (int r = 0, total = 0; r < g->nprow; r++) displs[r] = total, total += counts[r];
  IA_MPI(MPI_Allgatherv(hs, counts[g->myrow], s->type, hr, counts, displs, s->type, s->col));
  for (int64_t J = k + 1; J < kt; J++) {
    if (J % g->npcol != g->mycol) continue;
    int r = (int)(J % g->nprow);
    int64_t wj = summa_block(s, n, J).w, col = (J / g->npcol) * s->nb - x.c0;
    for (int64_t t = 0; t < x.w; t++)
      memcpy((char *)s->hp + es * (size_t)(t * after + col), hr + es * (size_t)(displs[r] + t * wj),
             es * (size_t)wj);
    displs[r] += (int)(wj * x.w); /* the next block of row r */
  }
  if (*st != IA_OK || below == 0 || after == 0) return IA_OK;
  const void *a = summa_up(s, s->da, s->ha, es * (size_t)(below * x.w), st);
  const void *lt = summa_up(s, s->dp, s->hp, es * (size_t)(after * x.w), st);
  /* Per local column block J: its rows from block J's first local row down. */
  for (int64_t jl = x.c0; jl < s->nl && *st == IA_OK; jl += s->nb) {
    int64_t J = (jl / s->nb) * g->npcol + g->mycol;
    int64_t wj = s->nl - jl < s->nb ? s->nl - jl : s->nb;
    int64_t rj = ia_numroc(J * s->nb, s->nb, g->myrow, g->nprow), rows = s->ml - rj;
    if (rows <= 0) continue;
    *st = ia_be_gemm(s->be, s->p, 'N', 'T', rows, wj, x.w, -1.0,
                     (const char *)a + es * (size_t)(rj - x.r0), below,
                     (const char *)lt + es * (size_t)(jl - x.c0), after, 1.0,
                     s->db + es * (size_t)(jl * s->lddb + rj), s->lddb);
  }
  return IA_OK;
}

ia_status ia_summa_potrf(const ia_grid *g, ia_backend *be, ia_precision p, int64_t n, int64_t nb,
                         void *a, int64_t lda, int64_t *info) {
  *info = 0;
  resident s;
  ia_status st = summa_open(&s, g, be, p, n, n, nb, NULL, 0, a, lda), local = IA_OK;
  /* The transposed panel's send and receive buffers (host). */
  char *hs = NULL, *hr = NULL;
  int *counts = NULL, *displs = NULL;
  size_t cols = (size_t)(s.nl > 0 ? s.nl : 1);
  if (st == IA_OK) local = ia_malloc(s.es * cols * (size_t)nb, "panel rows to send", (void **)&hs);
  if (local == IA_OK) local = ia_malloc(s.es * cols * (size_t)nb, "transposed panel", (void **)&hr);
  if (local == IA_OK)
    local = ia_malloc(sizeof(int) * 2 * (size_t)g->nprow, "counts", (void **)&counts);
  if (local == IA_OK) displs = counts + g->nprow;
  if (st == IA_OK) st = ia_agree(g->comm, local);
  int64_t kt = (n + nb - 1) / nb;
  ia_progress pr;
  ia_progress_start(&pr, "[train] Cholesky factor");
  for (int64_t k = 0; k < kt && st == IA_OK && *info == 0; k++) {
    st = potrf_step(&s, n, k, hs, hr, counts, displs, info, &local);
    /* The work left is the trailing matrix's, (n − done)³/3. */
    double left = fmax(0.0, (double)(n - (k + 1) * nb) / (double)n);
    ia_progress_update(&pr, 1.0 - left * left * left);
  }
  free(hs), free(hr), free(counts);
  return summa_close(&s, a, lda, 1, st, local);
}
