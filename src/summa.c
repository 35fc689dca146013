/* SUMMA with local products on the backend (infae/summa.h). */
#include <stdlib.h>
#include <string.h>

#include "infae/summa.h"

static size_t esize(ia_precision p) { return p == IA_FP64 ? sizeof(double) : sizeof(float); }

/* rows × cols of src (leading dimension ld) into dst (leading dimension rows). */
static void pack(void *dst, const void *src, int64_t ld, int64_t rows, int64_t cols, size_t es) {
  for (int64_t j = 0; j < cols; j++)
    memcpy((char *)dst + es * (size_t)(j * rows), (const char *)src + es * (size_t)(j * ld),
           es * (size_t)rows);
}

/* Communicators of this rank's process row (ranked by column) and process
 * column (ranked by row). Collective on g->comm. */
static ia_status split(const ia_grid *g, MPI_Comm *row, MPI_Comm *col) {
  IA_MPI(MPI_Comm_split(g->comm, g->myrow, g->mycol, row));
  IA_MPI(MPI_Comm_split(g->comm, g->mycol, g->myrow, col));
  return IA_OK;
}

typedef struct {
  const ia_grid *g;
  ia_backend *be;
  ia_precision p;
  size_t es;
  MPI_Datatype type;
  MPI_Comm row, col;           /* this process row (rank = mycol), column (rank = myrow) */
  int64_t k, nb, ml, nl, rc;   /* inner size, block, local rows and columns of C, chunk rows */
  const char *a, *b;
  char *c;
  int64_t lda, ldb, ldc;
  void *ha, *hb;               /* host panels: A's chunk rows × nb, B's nb × nl */
  void *dc, *da, *db;          /* the backend's (GPU only): C's chunk, the two panels */
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
        pack(s->ha, src, s->lda, rows, w, s->es);
    }
    int na = (int)(rows * w), nbw = (int)(w * s->nl);
    IA_MPI(MPI_Bcast((void *)ap, na, s->type, pc, s->row));
    /* B's panel: block row t, every local column, from process row pr. */
    if (g->myrow == pr)
      pack(s->hb, s->b + s->es * (size_t)((t / g->nprow) * s->nb), s->ldb, w, s->nl, s->es);
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
    for (int64_t j = 0; j < s->nl; j++) memset(cc + s->es * (size_t)(j * s->ldc), 0, s->es * (size_t)rows);
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
  summa s = {.g = g, .be = be, .p = p, .es = esize(p), .k = k, .nb = nb, .a = a, .b = b, .c = c,
             .lda = lda, .ldb = ldb, .ldc = ldc, .row = MPI_COMM_NULL, .col = MPI_COMM_NULL};
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
  if (st == IA_OK) st = ia_malloc(s.es * (size_t)(s.rc > 0 ? s.rc : 1) * (size_t)nb,
                                  "panel of A (host)", &s.ha);
  if (st == IA_OK) st = ia_malloc(s.es * (size_t)nb * (size_t)(s.nl > 0 ? s.nl : 1),
                                  "panel of B (host)", &s.hb);
  if (st == IA_OK && !cpu && s.rc > 0 && s.nl > 0) {
    st = ia_be_alloc(be, s.es * (size_t)s.rc * (size_t)s.nl, "rows of the product C", &s.dc);
    if (st == IA_OK) st = ia_be_alloc(be, s.es * (size_t)s.rc * (size_t)nb, "panel of A", &s.da);
    if (st == IA_OK) st = ia_be_alloc(be, s.es * (size_t)nb * (size_t)s.nl, "panel of B", &s.db);
  }
  /* Collective: made even after a local failure above. */
  ia_status sp = split(g, &s.row, &s.col);
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

/* ---- (L·Lᵀ)·X = B ------------------------------------------------------ */

typedef struct {
  const ia_grid *g;
  ia_backend *be;
  ia_precision p;
  size_t es;
  MPI_Datatype type;
  MPI_Comm row, col;
  int cpu;
  int64_t n, nb, ml, nl; /* order, block, local rows of L and B, local columns of B */
  const char *l;
  int64_t ldl;
  void *ha, *hd, *hp;    /* host: L's panel (ml × nb), diagonal block (nb × nb), B's block row */
  void *da, *dd, *dp;    /* the backend's copies (the host buffers on the CPU) */
  char *db;              /* B on the backend (b itself on the CPU), leading dimension lddb */
  int64_t lddb;
} solve;

/* The backend's copy of a host buffer: uploaded on a GPU, itself on the CPU. */
static const void *up(solve *s, void *dev, const void *host, size_t bytes, ia_status *st) {
  if (s->cpu) return host;
  if (*st == IA_OK) *st = ia_be_upload(s->be, dev, host, bytes);
  return dev;
}

/* Block k: its width, owners and local offsets; r0 = local rows of blocks up
 * to k on this process row (the rows after it start there). */
typedef struct {
  int64_t w, rk, ck, r0, below;
  int pr, pc;
} blk;

static blk block(const solve *s, int64_t k) {
  const ia_grid *g = s->g;
  blk x;
  x.w = s->n - k * s->nb < s->nb ? s->n - k * s->nb : s->nb;
  x.pr = (int)(k % g->nprow);
  x.pc = (int)(k % g->npcol);
  x.rk = (k / g->nprow) * s->nb;
  x.ck = (k / g->npcol) * s->nb;
  int64_t end = (k + 1) * s->nb < s->n ? (k + 1) * s->nb : s->n;
  x.r0 = ia_numroc(end, s->nb, g->myrow, g->nprow);
  x.below = s->ml - x.r0;
  return x;
}

/* L's block column k below its diagonal block, this process row's rows of
 * it, broadcast along the row from its owner column. */
static ia_status bcast_panel(solve *s, const blk *x) {
  if (s->g->mycol == x->pc)
    pack(s->ha, s->l + s->es * (size_t)(x->ck * s->ldl + x->r0), s->ldl, x->below, x->w, s->es);
  IA_MPI(MPI_Bcast(s->ha, (int)(x->below * x->w), s->type, x->pc, s->row));
  return IA_OK;
}

/* On block k's process row: its diagonal block of L, then B_k ← op(L_kk)⁻¹B_k. */
static ia_status diag_solve(solve *s, const blk *x, char op, ia_status *st) {
  if (s->g->mycol == x->pc)
    pack(s->hd, s->l + s->es * (size_t)(x->ck * s->ldl + x->rk), s->ldl, x->w, x->w, s->es);
  IA_MPI(MPI_Bcast(s->hd, (int)(x->w * x->w), s->type, x->pc, s->row));
  const void *d = up(s, s->dd, s->hd, s->es * (size_t)(x->w * x->w), st);
  if (*st == IA_OK && s->nl > 0)
    *st = ia_be_trsm(s->be, s->p, 'L', op, x->w, s->nl, d, x->w, s->db + s->es * (size_t)x->rk,
                     s->lddb);
  return IA_OK;
}

/* L·Y = B, right-looking: B_k solved on its process row, broadcast down the
 * columns, and the rows below updated by the SUMMA step with L's panel. */
static ia_status forward(solve *s, int64_t k, ia_status *st) {
  const ia_grid *g = s->g;
  blk x = block(s, k);
  if (g->myrow == x.pr) IA_CALL(diag_solve(s, &x, 'N', st));
  IA_CALL(bcast_panel(s, &x));
  if (g->myrow == x.pr) {
    if (s->cpu)
      pack(s->hp, s->db + s->es * (size_t)x.rk, s->lddb, x.w, s->nl, s->es);
    else if (*st == IA_OK && s->nl > 0)
      *st = ia_be_download2d(s->be, s->hp, s->es * (size_t)x.w, s->db + s->es * (size_t)x.rk,
                             s->es * (size_t)s->lddb, s->es * (size_t)x.w, s->nl);
  }
  IA_MPI(MPI_Bcast(s->hp, (int)(x.w * s->nl), s->type, x.pr, s->col));
  if (*st != IA_OK || x.below == 0 || s->nl == 0) return IA_OK;
  const void *a = up(s, s->da, s->ha, s->es * (size_t)(x.below * x.w), st);
  const void *bk = up(s, s->dp, s->hp, s->es * (size_t)(x.w * s->nl), st);
  if (*st == IA_OK)
    *st = ia_be_gemm(s->be, s->p, 'N', 'N', x.below, s->nl, x.w, -1.0, a, x.below, bk, x.w, 1.0,
                     s->db + s->es * (size_t)x.r0, s->lddb);
  return IA_OK;
}

/* Lᵀ·X = Y, left-looking: −(L's panel below block k)ᵀ times this rank's
 * rows of X below it, summed down the process columns onto block k's row,
 * which adds it to Y_k and solves with L_kkᵀ. */
static ia_status backward(solve *s, int64_t k, ia_status *st) {
  const ia_grid *g = s->g;
  blk x = block(s, k);
  size_t bytes = s->es * (size_t)(x.w * s->nl);
  IA_CALL(bcast_panel(s, &x));
  if (s->nl > 0 && x.below > 0) {
    const void *a = up(s, s->da, s->ha, s->es * (size_t)(x.below * x.w), st);
    if (*st == IA_OK)
      *st = ia_be_gemm(s->be, s->p, 'T', 'N', x.w, s->nl, x.below, -1.0, a, x.below,
                       s->db + s->es * (size_t)x.r0, s->lddb, 0.0, s->dp, x.w);
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
    const void *sum = up(s, s->dp, s->hp, bytes, st);
    if (*st == IA_OK)
      *st = ia_be_add(s->be, s->p, x.w, s->nl, sum, x.w, s->db + s->es * (size_t)x.rk, s->lddb);
  }
  return diag_solve(s, &x, 'T', st);
}

static size_t solve_bytes(size_t es, int64_t ml, int64_t nl, int64_t nb) {
  return es * ((size_t)ml * (size_t)nl + (size_t)ml * (size_t)nb + (size_t)nb * (size_t)nb +
               (size_t)nb * (size_t)nl);
}

int ia_summa_potrs_fits(const ia_grid *g, const ia_backend *be, ia_precision p, int64_t n,
                        int64_t nrhs, int64_t nb, size_t budget) {
  int ok = ia_backend_device(be) == IA_DEVICE_CPU ||
           solve_bytes(esize(p), ia_numroc(n, nb, g->myrow, g->nprow),
                       ia_numroc(nrhs, nb, g->mycol, g->npcol), nb) <= budget;
  MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, g->comm);
  return ok;
}

ia_status ia_summa_potrs(const ia_grid *g, ia_backend *be, ia_precision p, int64_t n,
                         int64_t nrhs, int64_t nb, const void *l, int64_t ldl, void *b,
                         int64_t ldb) {
  ia_status st = IA_OK;
  solve s = {.g = g, .be = be, .p = p, .es = esize(p), .n = n, .nb = nb, .l = l, .ldl = ldl,
             .row = MPI_COMM_NULL, .col = MPI_COMM_NULL};
  s.type = p == IA_FP64 ? MPI_DOUBLE : MPI_FLOAT;
  s.cpu = ia_backend_device(be) == IA_DEVICE_CPU;
  s.ml = ia_numroc(n, nb, g->myrow, g->nprow);
  s.nl = ia_numroc(nrhs, nb, g->mycol, g->npcol);
  int dummy;
  st = ia_to_int(s.ml * nb, &dummy);
  if (st == IA_OK) st = ia_to_int(nb * s.nl, &dummy);
  size_t one = (size_t)(s.ml > 0 ? s.ml : 1), cols = (size_t)(s.nl > 0 ? s.nl : 1);
  if (st == IA_OK) st = ia_malloc(s.es * one * (size_t)nb, "panel of L (host)", &s.ha);
  if (st == IA_OK) st = ia_malloc(s.es * (size_t)(nb * nb), "diagonal block of L (host)", &s.hd);
  if (st == IA_OK) st = ia_malloc(s.es * (size_t)nb * cols, "block row of B (host)", &s.hp);
  if (s.cpu) {
    s.da = s.ha, s.dd = s.hd, s.dp = s.hp;
    s.db = b, s.lddb = ldb;
  } else {
    s.lddb = (int64_t)one;
    if (st == IA_OK) st = ia_be_alloc(be, s.es * one * cols, "right-hand side B", (void **)&s.db);
    if (st == IA_OK) st = ia_be_alloc(be, s.es * one * (size_t)nb, "panel of L", &s.da);
    if (st == IA_OK) st = ia_be_alloc(be, s.es * (size_t)(nb * nb), "diagonal block of L", &s.dd);
    if (st == IA_OK) st = ia_be_alloc(be, s.es * (size_t)nb * cols, "block row of B", &s.dp);
    if (st == IA_OK && s.ml > 0 && s.nl > 0)
      st = ia_be_upload2d(be, s.db, s.es * one, b, s.es * (size_t)ldb, s.es * (size_t)s.ml, s.nl);
  }
  /* Collective: made even after a local failure above. */
  ia_status sp = split(g, &s.row, &s.col);
  st = ia_agree(g->comm, st != IA_OK ? st : sp);
  int64_t kt = (n + nb - 1) / nb;
  ia_status local = IA_OK;
  for (int64_t k = 0; k < kt && st == IA_OK; k++) st = forward(&s, k, &local);
  for (int64_t k = kt - 1; k >= 0 && st == IA_OK; k--) st = backward(&s, k, &local);
  if (st == IA_OK && local == IA_OK && !s.cpu && s.ml > 0 && s.nl > 0)
    local = ia_be_download2d(be, b, s.es * (size_t)ldb, s.db, s.es * one, s.es * (size_t)s.ml,
                             s.nl);
  if (st == IA_OK) st = ia_agree(g->comm, local);
  if (s.row != MPI_COMM_NULL) MPI_Comm_free(&s.row);
  if (s.col != MPI_COMM_NULL) MPI_Comm_free(&s.col);
  if (!s.cpu) {
    ia_be_free(be, s.db);
    ia_be_free(be, s.da);
    ia_be_free(be, s.dd);
    ia_be_free(be, s.dp);
  }
  free(s.ha);
  free(s.hd);
  free(s.hp);
  return st;
}
