/* The state of the operations that keep B on the backend, and what they
 * share (dist/summa_impl.h). */
#include "dist/summa_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infae/core/log.h"

/* Communicators of this rank's process row (ranked by column) and process
 * column (ranked by row). Collective on g->comm. */
ia_status summa_split(const ia_grid *g, MPI_Comm *row, MPI_Comm *col) {
  IA_MPI(MPI_Comm_split(g->comm, g->myrow, g->mycol, row));
  IA_MPI(MPI_Comm_split(g->comm, g->mycol, g->myrow, col));
  return IA_OK;
}

/* ---- operations that keep one distributed array B on the backend ------- */

/* The backend's copy of a host buffer: uploaded on a GPU, itself on the CPU. */
const void *summa_up(resident *s, void *dev, const void *host, size_t bytes, ia_status *st) {
  if (s->cpu) return host;
  if (*st == IA_OK) *st = ia_be_upload(s->be, dev, host, bytes);
  return dev;
}

double ia_summa_resident_bytes(ia_precision p, int64_t ml, int64_t nl, int64_t nb) {
  double es = (double)summa_esize(p), m = (double)ml, n = (double)nl, b = (double)nb;
  return es * (m * n + m * b + b * b + b * n);
}

int ia_summa_fits(const ia_grid *g, const ia_backend *be, ia_precision p, int64_t rows,
                  int64_t cols, int64_t nb, size_t budget) {
  int ok = ia_backend_device(be) == IA_DEVICE_CPU ||
           ia_summa_resident_bytes(p, ia_numroc(rows, nb, g->myrow, g->nprow),
                                   ia_numroc(cols, nb, g->mycol, g->npcol), nb) <= (double)budget;
  MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, g->comm);
  return ok;
}

/* The buffers, B (rows × cols, leading dimension ldb) on the backend, and
 * the row and column communicators. Returns the status agreed by all ranks;
 * on failure, resident_close still frees what was made. Collective. */
ia_status summa_open(resident *s, const ia_grid *g, ia_backend *be, ia_precision p, int64_t rows,
                     int64_t cols, int64_t nb, const void *l, int64_t ldl, const void *b,
                     int64_t ldb) {
  *s = (resident){.g = g,
                  .be = be,
                  .p = p,
                  .es = summa_esize(p),
                  .nb = nb,
                  .l = l,
                  .ldl = ldl,
                  .row = MPI_COMM_NULL,
                  .col = MPI_COMM_NULL};
  s->type = p == IA_FP64 ? MPI_DOUBLE : MPI_FLOAT;
  s->cpu = ia_backend_device(be) == IA_DEVICE_CPU;
  s->ml = ia_numroc(rows, nb, g->myrow, g->nprow);
  s->nl = ia_numroc(cols, nb, g->mycol, g->npcol);
  int dummy;
  ia_status st = ia_to_int(s->ml * nb, &dummy);
  if (st == IA_OK) st = ia_to_int(nb * s->nl, &dummy);
  size_t one = (size_t)(s->ml > 0 ? s->ml : 1), ncol = (size_t)(s->nl > 0 ? s->nl : 1);
  size_t es = s->es;
  if (st == IA_OK) st = ia_malloc(es * one * (size_t)nb, "panel (host)", &s->ha);
  if (st == IA_OK) st = ia_malloc(es * (size_t)(nb * nb), "diagonal block (host)", &s->hd);
  if (st == IA_OK) st = ia_malloc(es * (size_t)nb * ncol, "block row (host)", &s->hp);
  if (s->cpu) {
    s->da = s->ha, s->dd = s->hd, s->dp = s->hp;
    s->db = (char *)b, s->lddb = ldb;
  } else {
    s->lddb = (int64_t)one;
    if (st == IA_OK) st = ia_be_alloc(be, es * one * ncol, "resident matrix B", (void **)&s->db);
    if (st == IA_OK) st = ia_be_alloc(be, es * one * (size_t)nb, "panel", &s->da);
    if (st == IA_OK) st = ia_be_alloc(be, es * (size_t)(nb * nb), "diagonal block", &s->dd);
    if (st == IA_OK) st = ia_be_alloc(be, es * (size_t)nb * ncol, "block row", &s->dp);
    if (st == IA_OK && s->ml > 0 && s->nl > 0)
      st = ia_be_upload2d(be, s->db, es * one, b, es * (size_t)ldb, es * (size_t)s->ml, s->nl);
  }
  /* Collective: made even after a local failure above. */
  ia_status sp = summa_split(g, &s->row, &s->col);
  return ia_agree(g->comm, st != IA_OK ? st : sp);
}

/* B back to the host when it was changed (back), the failure of any rank
 * agreed, and everything freed. */
ia_status summa_close(resident *s, void *b, int64_t ldb, int back, ia_status st, ia_status local) {
  if (back && st == IA_OK && local == IA_OK && !s->cpu && s->ml > 0 && s->nl > 0)
    local = ia_be_download2d(s->be, b, s->es * (size_t)ldb, s->db, s->es * (size_t)s->lddb,
                             s->es * (size_t)s->ml, s->nl);
  if (st == IA_OK) st = ia_agree(s->g->comm, local);
  if (s->row != MPI_COMM_NULL) MPI_Comm_free(&s->row);
  if (s->col != MPI_COMM_NULL) MPI_Comm_free(&s->col);
  if (!s->cpu) {
    ia_be_free(s->be, s->db);
    ia_be_free(s->be, s->da);
    ia_be_free(s->be, s->dd);
    ia_be_free(s->be, s->dp);
  }
  free(s->ha);
  free(s->hd);
  free(s->hp);
  return st;
}

blk summa_block(const resident *s, int64_t n, int64_t k) {
  const ia_grid *g = s->g;
  blk x;
  x.w = n - k * s->nb < s->nb ? n - k * s->nb : s->nb;
  x.pr = (int)(k % g->nprow);
  x.pc = (int)(k % g->npcol);
  x.rk = (k / g->nprow) * s->nb;
  x.ck = (k / g->npcol) * s->nb;
  int64_t end = (k + 1) * s->nb < n ? (k + 1) * s->nb : n;
  x.r0 = ia_numroc(end, s->nb, g->myrow, g->nprow);
  x.c0 = ia_numroc(end, s->nb, g->mycol, g->npcol);
  return x;
}

/* B's block row of block x (w × nl), from the backend into the host's hp. */
void summa_block_row_down(resident *s, const blk *x, ia_status *st) {
  if (s->cpu)
    summa_pack(s->hp, s->db + s->es * (size_t)x->rk, s->lddb, x->w, s->nl, s->es);
  else if (*st == IA_OK && s->nl > 0)
    *st = ia_be_download2d(s->be, s->hp, s->es * (size_t)x->w, s->db + s->es * (size_t)x->rk,
                           s->es * (size_t)s->lddb, s->es * (size_t)x->w, s->nl);
}

/* ---- op(L)·X = B -------------------------------------------------------- */

/* The other operand's block column k from local row r0 (this process
 * row's rows of it), broadcast along the row from its owner column. */
ia_status summa_bcast_panel(resident *s, const blk *x, int64_t r0) {
  int64_t rows = s->ml - r0;
  if (s->g->mycol == x->pc)
    summa_pack(s->ha, s->l + s->es * (size_t)(x->ck * s->ldl + r0), s->ldl, rows, x->w, s->es);
  IA_MPI(MPI_Bcast(s->ha, (int)(rows * x->w), s->type, x->pc, s->row));
  return IA_OK;
}

/* On block k's process row: its diagonal block of L, then B_k ← op(L_kk)⁻¹B_k. */
ia_status summa_diag_solve(resident *s, const blk *x, char op, ia_status *st) {
  if (s->g->mycol == x->pc)
    summa_pack(s->hd, s->l + s->es * (size_t)(x->ck * s->ldl + x->rk), s->ldl, x->w, x->w, s->es);
  IA_MPI(MPI_Bcast(s->hd, (int)(x->w * x->w), s->type, x->pc, s->row));
  const void *d = summa_up(s, s->dd, s->hd, s->es * (size_t)(x->w * x->w), st);
  if (*st == IA_OK && s->nl > 0)
    *st = ia_be_trsm(s->be, s->p, 'L', op, x->w, s->nl, d, x->w, s->db + s->es * (size_t)x->rk,
                     s->lddb);
  return IA_OK;
}
