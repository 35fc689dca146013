/* C += A·B by SUMMA, the local products on the backend (infae/dist/summa.h). */
#include "dist/summa_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infae/core/log.h"

typedef struct {
  const ia_grid *g;
  ia_backend *be;
  ia_precision p;
  size_t es;
  MPI_Datatype type;
  MPI_Comm row, col;         /* this process row (rank = mycol), column (rank = myrow) */
  int64_t k, nb, ml, nl, rc; /* inner size, block, local rows and columns of C, chunk rows */
  const char *a, *b;
  char *c;
  int64_t lda, ldb, ldc;
  void *ha, *hb;      /* host panels: A's chunk rows × nb, B's nb × nl */
  void *dc, *da, *db; /* the backend's (GPU only): C's chunk, the two panels */
} summa;

/* The chunk of C's local rows [r0, r0 + rows) over the whole inner
 * dimension. Broadcasts run even after a local failure, so that no rank
 * waits for one that stopped; *st keeps the first failure. */
static ia_status chunk(summa *s, int64_t r0, int64_t rows, ia_status *st) {
  const ia_grid *g = s->g;
  int cpu = ia_backend_device(s->be) == IA_DEVICE_CPU;
  int64_t kt = (s->k + s->nb - 1) / s->nb;
  char *cc = s->c + s->es * (size_t)r0;
  for (int64_t t = 0; t < kt; t++) {
    int64_t w = s->k - t * s->nb < s->nb ? s->k - t * s->nb : s->nb;
    int pc = (int)(t % g->npcol), pr = (int)(t % g->nprow);
    /* A's panel: block column t, the chunk's rows, from process column pc. */
    const void *ap = s->ha;
    if (g->mycol == pc) {
      const char *src = s->a + s->es * (size_t)(s->lda * (t / g->npcol) * s->nb + r0);
      if (rows == s->lda)
        ap = src; /* contiguous already */
      else
        summa_pack(s->ha, src, s->lda, rows, w, s->es);
    }
    int na = (int)(rows * w), nbw = (int)(w * s->nl);
    IA_MPI(MPI_Bcast((void *)ap, na, s->type, pc, s->row));
    /* B's panel: block row t, every local column, from process row pr. */
    if (g->myrow == pr)
      summa_pack(s->hb, s->b + s->es * (size_t)((t / g->nprow) * s->nb), s->ldb, w, s->nl, s->es);
    IA_MPI(MPI_Bcast(s->hb, nbw, s->type, pr, s->col));
    if (*st != IA_OK || rows == 0 || s->nl == 0) continue;
    double beta = t == 0 ? 0.0 : 1.0;
    if (cpu) {
      *st = ia_be_gemm(s->be, s->p, 'N', 'N', rows, s->nl, w, 1.0, ap, rows, s->hb, w, beta, cc,
                       s->ldc);
      continue;
    }
    /* The uploads wait for the previous product, which the broadcasts above
     * overlapped. */
    *st = ia_be_upload(s->be, s->da, ap, s->es * (size_t)na);
    if (*st == IA_OK) *st = ia_be_upload(s->be, s->db, s->hb, s->es * (size_t)nbw);
    if (*st == IA_OK)
      *st = ia_be_gemm(s->be, s->p, 'N', 'N', rows, s->nl, w, 1.0, s->da, rows, s->db, w, beta,
                       s->dc, rows);
  }
  if (*st != IA_OK || rows == 0 || s->nl == 0) return IA_OK;
  if (kt == 0) { /* an empty inner dimension: C = 0 */
    for (int64_t j = 0; j < s->nl; j++)
      memset(cc + s->es * (size_t)(j * s->ldc), 0, s->es * (size_t)rows);
  } else if (!cpu) {
    *st = ia_be_download2d(s->be, cc, s->es * (size_t)s->ldc, s->dc, s->es * (size_t)rows,
                           s->es * (size_t)rows, s->nl);
  }
  return IA_OK;
}

ia_status ia_summa_gemm(const ia_grid *g, ia_backend *be, ia_precision p, int64_t m, int64_t n,
                        int64_t k, int64_t nb, const void *a, int64_t lda, const void *b,
                        int64_t ldb, void *c, int64_t ldc, size_t budget) {
  ia_status st = IA_OK;
  summa s = {.g = g,
             .be = be,
             .p = p,
             .es = summa_esize(p),
             .k = k,
             .nb = nb,
             .a = a,
             .b = b,
             .c = c,
             .lda = lda,
             .ldb = ldb,
             .ldc = ldc,
             .row = MPI_COMM_NULL,
             .col = MPI_COMM_NULL};
  s.type = p == IA_FP64 ? MPI_DOUBLE : MPI_FLOAT;
  s.ml = ia_numroc(m, nb, g->myrow, g->nprow);
  s.nl = ia_numroc(n, nb, g->mycol, g->npcol);
  int cpu = ia_backend_device(be) == IA_DEVICE_CPU;
  /* Chunks of C's local rows: as many as the fullest rank needs. */
  long long nc = 1;
  if (s.ml > 0) {
    size_t fixed = s.es * (size_t)nb * (size_t)s.nl;
    size_t per = s.es * (size_t)(s.nl + nb);
    int64_t rc = budget > fixed ? (int64_t)((budget - fixed) / per) : 0;
    if (rc < 1)
      st = ia_error_set(IA_ERR_NOMEM, __FILE__, __LINE__,
                        "the distributed product needs %.1f MiB for its panels and one row of C, "
                        "%.1f MiB are available on %s; use more ranks",
                        (double)(fixed + per) / 1048576.0, (double)budget / 1048576.0,
                        ia_backend_describe(be));
    else
      nc = (s.ml + rc - 1) / rc;
  }
  IA_CALL(ia_agree(g->comm, st));
  IA_MPI(MPI_Allreduce(MPI_IN_PLACE, &nc, 1, MPI_LONG_LONG, MPI_MAX, g->comm));
  s.rc = nc > 1 ? (s.ml + nc - 1) / nc : s.ml;
  int dummy;
  st = ia_to_int(s.rc * nb, &dummy);
  if (st == IA_OK) st = ia_to_int(nb * s.nl, &dummy);
  if (st == IA_OK)
    st = ia_malloc(s.es * (size_t)(s.rc > 0 ? s.rc : 1) * (size_t)nb, "panel of A (host)", &s.ha);
  if (st == IA_OK)
    st = ia_malloc(s.es * (size_t)nb * (size_t)(s.nl > 0 ? s.nl : 1), "panel of B (host)", &s.hb);
  if (st == IA_OK && !cpu && s.rc > 0 && s.nl > 0) {
    st = ia_be_alloc(be, s.es * (size_t)s.rc * (size_t)s.nl, "rows of the product C", &s.dc);
    if (st == IA_OK) st = ia_be_alloc(be, s.es * (size_t)s.rc * (size_t)nb, "panel of A", &s.da);
    if (st == IA_OK) st = ia_be_alloc(be, s.es * (size_t)nb * (size_t)s.nl, "panel of B", &s.db);
  }
  /* Collective: made even after a local failure above. */
  ia_status sp = summa_split(g, &s.row, &s.col);
  st = ia_agree(g->comm, st != IA_OK ? st : sp);
  for (long long ci = 0; ci < nc && st == IA_OK; ci++) {
    int64_t r0 = ci * s.rc, rows = s.ml - r0 < s.rc ? s.ml - r0 : s.rc;
    ia_status local = IA_OK;
    st = chunk(&s, r0, rows > 0 ? rows : 0, &local);
    if (st == IA_OK) st = ia_agree(g->comm, local);
  }
  if (s.row != MPI_COMM_NULL) MPI_Comm_free(&s.row);
  if (s.col != MPI_COMM_NULL) MPI_Comm_free(&s.col);
  ia_be_free(be, s.dc);
  ia_be_free(be, s.da);
  ia_be_free(be, s.db);
  free(s.ha);
  free(s.hb);
  return st;
}
