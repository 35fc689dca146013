/* SUMMA with local products on the backend (infae/dist/summa.h). */
#include "infae/dist/summa.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infae/core/log.h"

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

/* ---- operations that keep one distributed array B on the backend ------- */

typedef struct {
  const ia_grid *g;
  ia_backend *be;
  ia_precision p;
  size_t es;
  MPI_Datatype type;
  MPI_Comm row, col;
  int cpu;
  int64_t nb, ml, nl;    /* block, local rows and columns of B */
  const char *l;         /* the other operand, in host memory: L, U or A */
  int64_t ldl;
  void *ha, *hd, *hp;    /* host: a panel (ml × nb), a diagonal block (nb × nb), a block row (nb × nl) */
  void *da, *dd, *dp;    /* the backend's copies (the host buffers on the CPU) */
  char *db;              /* B on the backend (b itself on the CPU), leading dimension lddb */
  int64_t lddb;
} resident;

/* The backend's copy of a host buffer: uploaded on a GPU, itself on the CPU. */
static const void *up(resident *s, void *dev, const void *host, size_t bytes, ia_status *st) {
  if (s->cpu) return host;
  if (*st == IA_OK) *st = ia_be_upload(s->be, dev, host, bytes);
  return dev;
}

double ia_summa_resident_bytes(ia_precision p, int64_t ml, int64_t nl, int64_t nb) {
  double es = (double)esize(p), m = (double)ml, n = (double)nl, b = (double)nb;
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
static ia_status resident_open(resident *s, const ia_grid *g, ia_backend *be, ia_precision p,
                               int64_t rows, int64_t cols, int64_t nb, const void *l,
                               int64_t ldl, const void *b, int64_t ldb) {
  *s = (resident){.g = g, .be = be, .p = p, .es = esize(p), .nb = nb, .l = l, .ldl = ldl,
                  .row = MPI_COMM_NULL, .col = MPI_COMM_NULL};
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
  ia_status sp = split(g, &s->row, &s->col);
  return ia_agree(g->comm, st != IA_OK ? st : sp);
}

/* B back to the host when it was changed (back), the failure of any rank
 * agreed, and everything freed. */
static ia_status resident_close(resident *s, void *b, int64_t ldb, int back, ia_status st,
                                ia_status local) {
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

/* Block k of a dimension of size n: its width and owners; rk, ck: its local
 * row offset on its process row and column offset on its process column;
 * r0, c0: this rank's local rows and columns of the blocks up to k (the
 * blocks after k start there). */
typedef struct {
  int64_t w, rk, ck, r0, c0;
  int pr, pc;
} blk;

static blk block(const resident *s, int64_t n, int64_t k) {
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
static void block_row_down(resident *s, const blk *x, ia_status *st) {
  if (s->cpu)
    pack(s->hp, s->db + s->es * (size_t)x->rk, s->lddb, x->w, s->nl, s->es);
  else if (*st == IA_OK && s->nl > 0)
    *st = ia_be_download2d(s->be, s->hp, s->es * (size_t)x->w, s->db + s->es * (size_t)x->rk,
                           s->es * (size_t)s->lddb, s->es * (size_t)x->w, s->nl);
}

/* ---- op(L)·X = B -------------------------------------------------------- */

/* The other operand's block column k from local row r0 (this process
 * row's rows of it), broadcast along the row from its owner column. */
static ia_status bcast_panel(resident *s, const blk *x, int64_t r0) {
  int64_t rows = s->ml - r0;
  if (s->g->mycol == x->pc)
    pack(s->ha, s->l + s->es * (size_t)(x->ck * s->ldl + r0), s->ldl, rows, x->w, s->es);
  IA_MPI(MPI_Bcast(s->ha, (int)(rows * x->w), s->type, x->pc, s->row));
  return IA_OK;
}

/* On block k's process row: its diagonal block of L, then B_k ← op(L_kk)⁻¹B_k. */
static ia_status diag_solve(resident *s, const blk *x, char op, ia_status *st) {
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
static ia_status forward(resident *s, int64_t n, int64_t k, ia_status *st) {
  const ia_grid *g = s->g;
  blk x = block(s, n, k);
  int64_t below = s->ml - x.r0;
  if (g->myrow == x.pr) {
    IA_CALL(diag_solve(s, &x, 'N', st));
    block_row_down(s, &x, st);
  }
  IA_CALL(bcast_panel(s, &x, x.r0));
  IA_MPI(MPI_Bcast(s->hp, (int)(x.w * s->nl), s->type, x.pr, s->col));
  if (*st != IA_OK || below == 0 || s->nl == 0) return IA_OK;
  const void *a = up(s, s->da, s->ha, s->es * (size_t)(below * x.w), st);
  const void *bk = up(s, s->dp, s->hp, s->es * (size_t)(x.w * s->nl), st);
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
  blk x = block(s, n, k);
  int64_t below = s->ml - x.r0;
  size_t bytes = s->es * (size_t)(x.w * s->nl);
  IA_CALL(bcast_panel(s, &x, x.r0));
  if (s->nl > 0 && below > 0) {
    const void *a = up(s, s->da, s->ha, s->es * (size_t)(below * x.w), st);
    if (*st == IA_OK)
      *st = ia_be_gemm(s->be, s->p, 'T', 'N', s->nl, x.w, below, -1.0,
                       s->db + s->es * (size_t)x.r0, s->lddb, a, below, 0.0, s->dp, s->nl);
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
      *st = ia_be_add(s->be, s->p, 'T', x.w, s->nl, sum, s->nl, s->db + s->es * (size_t)x.rk,
                      s->lddb);
  }
  return diag_solve(s, &x, 'T', st);
}

/* The forward substitution, then the back substitution, each when asked. */
static ia_status triangular(const ia_grid *g, ia_backend *be, ia_precision p, int fwd, int bwd,
                            int64_t n, int64_t nrhs, int64_t nb, const void *l, int64_t ldl,
                            void *b, int64_t ldb) {
  resident s;
  ia_status st = resident_open(&s, g, be, p, n, nrhs, nb, l, ldl, b, ldb), local = IA_OK;
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
  return resident_close(&s, b, ldb, 1, st, local);
}

ia_status ia_summa_potrs(const ia_grid *g, ia_backend *be, ia_precision p, int64_t n,
                         int64_t nrhs, int64_t nb, const void *l, int64_t ldl, void *b,
                         int64_t ldb) {
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
static void pack_transposed(void *dst, const void *src, int64_t ld, int64_t w, size_t es) {
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
  blk x = block(s, n, j);
  if (g->mycol == x.pc) {
    if (g->myrow == x.pr)
      pack_transposed(s->hd, s->l + s->es * (size_t)(x.ck * s->ldl + x.rk), s->ldl, x.w, s->es);
    IA_MPI(MPI_Bcast(s->hd, (int)(x.w * x.w), s->type, x.pr, s->col));
    const void *d = up(s, s->dd, s->hd, s->es * (size_t)(x.w * x.w), st);
    char *bj = s->db + s->es * (size_t)(x.ck * s->lddb);
    if (*st == IA_OK && s->ml > 0)
      *st = ia_be_trsm(s->be, s->p, 'R', 'T', s->ml, x.w, d, x.w, bj, s->lddb);
    if (s->cpu)
      pack(s->ha, bj, s->lddb, s->ml, x.w, s->es);
    else if (*st == IA_OK && s->ml > 0)
      *st = ia_be_download2d(s->be, s->ha, s->es * (size_t)s->ml, bj, s->es * (size_t)s->lddb,
                             s->es * (size_t)s->ml, x.w);
  }
  IA_MPI(MPI_Bcast(s->ha, (int)(s->ml * x.w), s->type, x.pc, s->row));
  int64_t after = s->nl - x.c0;
  if (g->myrow == x.pr)
    pack(s->hp, s->l + s->es * (size_t)(x.c0 * s->ldl + x.rk), s->ldl, x.w, after, s->es);
  IA_MPI(MPI_Bcast(s->hp, (int)(x.w * after), s->type, x.pr, s->col));
  if (*st != IA_OK || s->ml == 0 || after == 0) return IA_OK;
  const void *a = up(s, s->da, s->ha, s->es * (size_t)(s->ml * x.w), st);
  const void *u = up(s, s->dp, s->hp, s->es * (size_t)(x.w * after), st);
  if (*st == IA_OK)
    *st = ia_be_gemm(s->be, s->p, 'N', 'N', s->ml, after, x.w, -1.0, a, s->ml, u, x.w, 1.0,
                     s->db + s->es * (size_t)(x.c0 * s->lddb), s->lddb);
  return IA_OK;
}

ia_status ia_summa_trsm_right(const ia_grid *g, ia_backend *be, ia_precision p, int64_t m,
                              int64_t n, int64_t nb, const void *u, int64_t ldu, void *b,
                              int64_t ldb) {
  resident s;
  ia_status st = resident_open(&s, g, be, p, m, n, nb, u, ldu, b, ldb), local = IA_OK;
  int64_t kt = (n + nb - 1) / nb;
  for (int64_t j = 0; j < kt && st == IA_OK; j++) st = right_step(&s, n, j, &local);
  return resident_close(&s, b, ldb, 1, st, local);
}

/* ---- C = Aᵀ·B ----------------------------------------------------------- */

/* Block row i of C: A's block column i goes along the process rows; every
 * rank multiplies its transpose with its rows of B, and the products are
 * summed down the process columns onto block i's process row, which
 * stores them in C. */
static ia_status tn_step(resident *s, int lower, int64_t m, int64_t i, char *c, int64_t ldc,
                         ia_status *st) {
  const ia_grid *g = s->g;
  blk x = block(s, m, i);
  IA_CALL(bcast_panel(s, &x, 0));
  int64_t cols = lower ? x.c0 : s->nl;
  size_t bytes = s->es * (size_t)(x.w * cols);
  if (s->ml > 0 && cols > 0) {
    const void *a = up(s, s->da, s->ha, s->es * (size_t)(s->ml * x.w), st);
    if (*st == IA_OK)
      *st = ia_be_gemm(s->be, s->p, 'T', 'N', x.w, cols, s->ml, 1.0, a, s->ml, s->db, s->lddb,
                       0.0, s->dp, x.w);
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
    for (int64_t j = 0; j < cols; j++)
      memcpy(c + s->es * (size_t)(j * ldc + x.rk), (char *)s->hp + s->es * (size_t)(j * x.w),
             s->es * (size_t)x.w);
  return IA_OK;
}

ia_status ia_summa_gemm_tn(const ia_grid *g, ia_backend *be, ia_precision p, int lower,
                           int64_t m, int64_t n, int64_t k, int64_t nb, const void *a,
                           int64_t lda, const void *b, int64_t ldb, void *c, int64_t ldc) {
  IA_CHECK(!lower || m == n, IA_ERR_ARG, "ia_summa_gemm_tn: the lower triangle needs m == n");
  resident s;
  ia_status st = resident_open(&s, g, be, p, k, n, nb, a, lda, b, ldb), local = IA_OK;
  int64_t mt = (m + nb - 1) / nb;
  for (int64_t i = 0; i < mt && st == IA_OK; i++) st = tn_step(&s, lower, m, i, c, ldc, &local);
  return resident_close(&s, NULL, 0, 0, st, local);
}

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
  blk x = block(s, n, k);
  int64_t below = s->ml - x.r0, after = s->nl - x.c0, inf = 0;
  size_t es = s->es;
  char *akk = s->db + es * (size_t)(x.ck * s->lddb + x.rk);
  if (g->myrow == x.pr && g->mycol == x.pc) {
    if (*st == IA_OK) *st = ia_be_potrf(s->be, s->p, x.w, akk, s->lddb, &inf);
    if (*st == IA_OK && s->cpu)
      pack(s->hd, akk, s->lddb, x.w, x.w, es);
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
    const void *d = up(s, s->dd, s->hd, es * (size_t)(x.w * x.w), st);
    char *lk = s->db + es * (size_t)(x.ck * s->lddb + x.r0);
    if (*st == IA_OK && below > 0) *st = ia_be_trsm(s->be, s->p, 'R', 'T', below, x.w, d, x.w, lk, s->lddb);
    if (s->cpu)
      pack(s->ha, lk, s->lddb, below, x.w, es);
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
    int64_t wj = block(s, n, J).w;
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
    int64_t wj = block(s, n, J).w, col = (J / g->npcol) * s->nb - x.c0;
    for (int64_t t = 0; t < x.w; t++)
      memcpy((char *)s->hp + es * (size_t)(t * after + col), hr + es * (size_t)(displs[r] + t * wj),
             es * (size_t)wj);
    displs[r] += (int)(wj * x.w); /* the next block of row r */
  }
  if (*st != IA_OK || below == 0 || after == 0) return IA_OK;
  const void *a = up(s, s->da, s->ha, es * (size_t)(below * x.w), st);
  const void *lt = up(s, s->dp, s->hp, es * (size_t)(after * x.w), st);
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
  ia_status st = resident_open(&s, g, be, p, n, n, nb, NULL, 0, a, lda), local = IA_OK;
  /* The transposed panel's send and receive buffers (host). */
  char *hs = NULL, *hr = NULL;
  int *counts = NULL, *displs = NULL;
  size_t cols = (size_t)(s.nl > 0 ? s.nl : 1);
  if (st == IA_OK) local = ia_malloc(s.es * cols * (size_t)nb, "panel rows to send", (void **)&hs);
  if (local == IA_OK) local = ia_malloc(s.es * cols * (size_t)nb, "transposed panel", (void **)&hr);
  if (local == IA_OK) local = ia_malloc(sizeof(int) * 2 * (size_t)g->nprow, "counts", (void **)&counts);
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
  return resident_close(&s, a, lda, 1, st, local);
}
