/* infae/dist/dmat.h against LAPACK, BLAS and the NTK formula on the whole
 * matrices on every rank: each operation in each kind a space makes (one
 * rank: the backend's memory, and with two devices, tiles and host memory;
 * several ranks: block-cyclic), fp64 and fp32, blocks of 16 that leave
 * partial last blocks; a matrix that is not positive definite (LAPACK's
 * leading minor); and pairs of kinds that must be refused. Argument: cpu or
 * cuda (exits 77, skipped, without a GPU; two devices only when two are
 * visible). */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infae/backend/backend.h"
#include "infae/core/layout.h"
#include "infae/core/log.h"
#include "infae/core/ntk.h"
#include "infae/core/rng.h"
#include "infae/dist/dmat.h"
#include "infae/dist/grid.h"

#include "check.h"

enum { N = 70, D = 23, M = 53, NB = 16 };

static double uniform(uint64_t stream, uint64_t i) {
  ia_rng r;
  ia_rng_init(&r, 17, stream, i);
  return ia_rng_uniform(&r) - 0.5;
}

static double at(const ia_dspace *sp, const void *p, size_t i) {
  return sp->prec == IA_FP64 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

static void put(const ia_dspace *sp, void *p, size_t i, double v) {
  if (sp->prec == IA_FP64)
    ((double *)p)[i] = v;
  else
    ((float *)p)[i] = (float)v;
}

/* A ← x (global, column-major, A's rows × cols), wherever A lives. */
static void fill(ia_dmat *a, const double *x) {
  const ia_dspace *sp = a->sp;
  const ia_grid *g = &sp->g;
  size_t n = (size_t)(a->rows * a->cols);
  void *h = malloc(sp->es * (n > 0 ? n : 1));
  for (size_t i = 0; i < n; i++) put(sp, h, i, x[i]);
  if (a->kind == IA_DMAT_BACKEND) OK(ia_be_upload(sp->be, a->data, h, sp->es * n));
  if (a->kind == IA_DMAT_HOST) memcpy(a->data, h, sp->es * n);
  if (a->kind == IA_DMAT_TILES) OK(ia_md_scatter(sp->md, h, 1, a->rows, &a->tiles));
  if (a->kind == IA_DMAT_CYCLIC)
    for (int64_t j = 0; j < a->nloc; j++)
      for (int64_t i = 0; i < a->mloc; i++)
        put(sp, a->data, (size_t)(j * a->ld + i),
            x[ia_l2g(j, NB, g->mycol, g->npcol) * a->rows + ia_l2g(i, NB, g->myrow, g->nprow)]);
  free(h);
}

/* x ← A on every rank. */
static void read_all(const ia_dmat *a, double *x) {
  const ia_dspace *sp = a->sp;
  const ia_grid *g = &sp->g;
  size_t n = (size_t)(a->rows * a->cols);
  void *h = calloc(n > 0 ? n : 1, sp->es);
  if (a->kind == IA_DMAT_BACKEND) OK(ia_be_download(sp->be, h, a->data, sp->es * n));
  if (a->kind == IA_DMAT_HOST) memcpy(h, a->data, sp->es * n);
  if (a->kind == IA_DMAT_TILES) OK(ia_md_gather(sp->md, &a->tiles, h, 1, a->rows));
  for (size_t i = 0; i < n; i++) x[i] = a->kind == IA_DMAT_CYCLIC ? 0.0 : at(sp, h, i);
  if (a->kind == IA_DMAT_CYCLIC) {
    for (int64_t j = 0; j < a->nloc; j++)
      for (int64_t i = 0; i < a->mloc; i++)
        x[ia_l2g(j, NB, g->mycol, g->npcol) * a->rows + ia_l2g(i, NB, g->myrow, g->nprow)] =
            at(sp, a->data, (size_t)(j * a->ld + i));
    MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_DOUBLE, MPI_SUM, g->comm);
  }
  free(h);
}

/* max |got − ref| / max |ref| over a rows × cols matrix; lower: only the
 * entries on and below the diagonal. */
static double rel(const double *got, const double *ref, int64_t rows, int64_t cols, int lower) {
  double e = 0, s = 0;
  for (int64_t j = 0; j < cols; j++)
    for (int64_t i = lower ? j : 0; i < rows; i++) {
      e = fmax(e, fabs(got[j * rows + i] - ref[j * rows + i]));
      s = fmax(s, fabs(ref[j * rows + i]));
    }
  return e / s;
}

/* The values as the space's precision holds them. The float goes through a
 * volatile: GCC 12.2 at -O3 folds (double)(float)x to x in the vectorized
 * loop's last elements. */
static double *rounded(const ia_dspace *sp, const double *x, size_t n) {
  double *r = malloc(sizeof(double) * n);
  for (size_t i = 0; i < n; i++) {
    volatile float f = (float)x[i];
    r[i] = sp->prec == IA_FP64 ? x[i] : (double)f;
  }
  return r;
}

static void gemm(char ta, int m, int n, int k, const double *a, int lda, const double *b, int ldb,
                 double *c) {
  cblas_dgemm(CblasColMajor, ta == 'T' ? CblasTrans : CblasNoTrans, CblasNoTrans, m, n, k, 1.0, a,
              lda, b, ldb, 0.0, c, m);
}

/* Binary rows: user u holds item i with probability 0.3. */
static int holds(int64_t u, int64_t i) { return uniform(9, (uint64_t)(u * D + i)) < -0.2; }

/* The CSR of the given users' rows. */
static void rows_of(const int64_t *users, int64_t n, ia_csr *c) {
  int64_t nnz = 0;
  for (int64_t r = 0; r < n; r++)
    for (int64_t i = 0; i < D; i++) nnz += holds(users[r], i);
  OK(ia_csr_alloc(c, n, D, nnz));
  for (int64_t r = 0, e = 0; r < n; r++) {
    for (int64_t i = 0; i < D; i++)
      if (holds(users[r], i)) c->indices[e++] = (int32_t)i;
    c->indptr[r + 1] = e;
  }
}

/* The users of the blocks ≡ me mod np of [0, count). */
static int64_t *users_of(int64_t count, int me, int np, int64_t *n) {
  *n = ia_numroc(count, NB, me, np);
  int64_t *u = malloc(sizeof(int64_t) * (size_t)(*n + 1));
  for (int64_t l = 0; l < *n; l++) u[l] = ia_l2g(l, NB, me, np);
  return u;
}

static void run(const ia_dspace *sp, const char *name) {
  char what[160];
  int fp64 = sp->prec == IA_FP64, one_rank = sp->g.size == 1, tiles = sp->md != NULL;
  double tol = fp64 ? 1e-12 : 2e-5, tol_solve = fp64 ? 1e-11 : 1e-4;
  /* S = Y·Yᵀ/N + I (N × N, Y uniform), G general N × N, X N × D, B M × N,
   * Q M × D. */
  double *y = malloc(sizeof(double) * N * N), *s = malloc(sizeof(double) * N * N);
  double *gm = malloc(sizeof(double) * N * N), *x = malloc(sizeof(double) * N * D);
  double *b = malloc(sizeof(double) * M * N), *q = malloc(sizeof(double) * M * D);
  double *got = malloc(sizeof(double) * N * N), *ref = malloc(sizeof(double) * N * N);
  for (int i = 0; i < N * N; i++) y[i] = uniform(1, (uint64_t)i), gm[i] = uniform(2, (uint64_t)i);
  for (int i = 0; i < N * D; i++) x[i] = uniform(3, (uint64_t)i);
  for (int i = 0; i < M * N; i++) b[i] = uniform(4, (uint64_t)i);
  for (int i = 0; i < M * D; i++) q[i] = uniform(5, (uint64_t)i);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, N, N, N, 1.0 / N, y, N, y, N, 0.0, s, N);
  for (int i = 0; i < N; i++) s[i * N + i] += 1.0;
  double *sr = rounded(sp, s, N * N), *xr = rounded(sp, x, N * D), *gr = rounded(sp, gm, N * N);
  double *br = rounded(sp, b, M * N), *qr = rounded(sp, q, M * D);

  ia_dmat a, xa;
  OK(ia_dmat_make(sp, N, N, 1, "S", &a));
  OK(ia_dmat_make(sp, N, D, 0, "X", &xa));
  snprintf(what, sizeof what, "%s: kinds %d, %d", name, (int)a.kind, (int)xa.kind);
  int want_a = tiles ? IA_DMAT_TILES : one_rank ? IA_DMAT_BACKEND : IA_DMAT_CYCLIC;
  int want_x = tiles ? IA_DMAT_HOST : want_a;
  check(what, (double)((int)a.kind != want_a) + (double)((int)xa.kind != want_x), 0);

  /* Entries, trace, diagonal shift; the round trip. */
  fill(&a, s);
  read_all(&a, got);
  snprintf(what, sizeof what, "%s: fill and read back", name);
  check(what, rel(got, sr, N, N, 0), 0);
  double tr = 0, tr2 = 0, want = 0, e = 0, v = 0;
  for (int i = 0; i < N; i++) want += sr[i * N + i];
  OK(ia_dmat_trace(&a, &tr));
  OK(ia_dmat_diag_add(&a, 0.25));
  OK(ia_dmat_trace(&a, &tr2));
  for (int k = 0; k < 6; k++) {
    int i = (37 * k + 11) % N, j = (53 * k + 5) % N;
    OK(ia_dmat_get(&a, i, j, &v));
    e = fmax(e, fabs(v - sr[j * N + i] - (i == j ? 0.25 : 0)));
  }
  OK(ia_dmat_diag_add(&a, -0.25));
  snprintf(what, sizeof what, "%s: trace, trace of S + I/4, entries", name);
  check(what, fmax(fmax(fabs(tr - want), fabs(tr2 - want - 0.25 * N)) / want, e), tol);

  /* Factor and solve against LAPACK. */
  int64_t info = -1;
  double *l = malloc(sizeof(double) * N * N);
  memcpy(l, s, sizeof(double) * N * N);
  LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', N, l, N);
  OK(ia_dmat_potrf(&a, &info));
  read_all(&a, got);
  snprintf(what, sizeof what, "%s: potrf (lower) against LAPACK, info %lld", name, (long long)info);
  check(what, info != 0 ? 1.0 : rel(got, l, N, N, 1), tol_solve);
  fill(&xa, x);
  OK(ia_dmat_potrs(&a, &xa));
  double *xs = malloc(sizeof(double) * N * D);
  memcpy(ref, x, sizeof(double) * N * D);
  LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'L', N, D, l, N, ref, N);
  read_all(&xa, xs);
  snprintf(what, sizeof what, "%s: potrs against LAPACK", name);
  check(what, rel(xs, ref, N, D, 0), tol_solve);

  /* Not positive definite from column 40: LAPACK's leading minor. */
  memcpy(ref, s, sizeof(double) * N * N);
  ref[40 * N + 40] = -1.0;
  fill(&a, ref);
  int want_info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', N, ref, N);
  OK(ia_dmat_potrf(&a, &info));
  snprintf(what, sizeof what, "%s: leading minor %lld (LAPACK %d)", name, (long long)info,
           want_info);
  check(what, info == want_info && info > 0 ? 0 : 1, 0);

  /* Kept through a factor in place: S's lower triangle and diagonal back,
   * bit for bit, after potrf overwrote them (one rank's backend; refused
   * elsewhere). */
  ia_dmat dg;
  OK(ia_dmat_make(sp, N, 1, 0, "diagonal", &dg));
  fill(&a, s);
  if (a.kind == IA_DMAT_BACKEND) {
    OK(ia_dmat_tri_save(&a, &dg));
    OK(ia_dmat_potrf(&a, &info));
    OK(ia_dmat_tri_restore(&a, &dg));
    read_all(&a, got);
    e = 0;
    for (int64_t j = 0; j < N; j++)
      for (int64_t i = j; i < N; i++) e = fmax(e, fabs(got[j * N + i] - sr[j * N + i]));
    snprintf(what, sizeof what, "%s: lower triangle kept through potrf (info %lld)", name,
             (long long)info);
    check(what, e + (info != 0), 0);
  } else {
    snprintf(what, sizeof what, "%s: kept triangle refused", name);
    check(what, ia_dmat_tri_save(&a, &dg) == IA_ERR_INTERNAL ? 0 : 1, 0);
  }
  ia_dmat_free(&dg);

  /* C = G·X: G spread, X and C beside it. */
  ia_dmat c;
  OK(ia_dmat_make(sp, N, D, 0, "C", &c));
  fill(&a, gm);
  fill(&xa, x);
  OK(ia_dmat_gemm(&a, &xa, &c));
  gemm('N', N, D, N, gr, N, xr, N, ref);
  read_all(&c, got);
  snprintf(what, sizeof what, "%s: gemm G·X", name);
  check(what, rel(got, ref, N, D, 0), tol);

  /* The evaluation layout: this rank's block of rows, every column. */
  void *rows = malloc(sp->es * (size_t)((N + sp->g.size - 1) / sp->g.size) * D);
  int64_t ld = 0, begin, cnt;
  ia_row_block(N, sp->g.size, sp->g.rank, &begin, &cnt);
  OK(ia_dmat_to_rows(&xa, rows, &ld));
  e = 0;
  for (int64_t j = 0; j < D; j++)
    for (int64_t i = 0; i < cnt; i++)
      e = fmax(e, fabs(at(sp, rows, (size_t)(j * ld + i)) - xr[j * N + begin + i]));
  snprintf(what, sizeof what, "%s: to the evaluation rows (ld %lld)", name, (long long)ld);
  check(what, e, 0);
  free(rows);

  /* Dense 0/1 rows of this rank's users; the kernel NTK(R, R), lower. */
  ia_dmat r, k;
  int64_t nu = 0, nc = 0;
  int64_t *mine = users_of(N, sp->g.myrow, sp->g.nprow, &nu);
  ia_csr rc;
  rows_of(mine, nu, &rc);
  ia_be_csr *brc = NULL;
  OK(ia_be_csr_make(sp->be, &rc, &brc));
  OK(ia_dmat_make(sp, N, D, 0, "R", &r));
  OK(ia_dmat_densify(&r, &rc, brc));
  read_all(&r, got);
  double *dense = malloc(sizeof(double) * N * D);
  for (int64_t i = 0; i < D; i++)
    for (int64_t u = 0; u < N; u++) dense[i * N + u] = holds(u, i);
  snprintf(what, sizeof what, "%s: densify", name);
  check(what, rel(got, dense, N, D, 0), 0);
  OK(ia_dmat_make(sp, N, N, 1, "K", &k));
  int parts = ia_dmat_parts(&k);
  ia_dmat_ntk_operands ops[IA_MD_MAX];
  ia_csr cc[IA_MD_MAX];
  ia_be_csr *bcc[IA_MD_MAX], *brp[IA_MD_MAX];
  double *nr = malloc(sizeof(double) * (size_t)(nu + 1)), *ncs[IA_MD_MAX];
  for (int64_t i = 0; i < nu; i++) nr[i] = (double)(rc.indptr[i + 1] - rc.indptr[i]);
  for (int p = 0; p < parts; p++) {
    int me, np;
    ia_dmat_part_cols(&k, p, &me, &np);
    int64_t *cu = users_of(N, me, np, &nc);
    rows_of(cu, nc, &cc[p]);
    free(cu);
    ncs[p] = malloc(sizeof(double) * (size_t)(nc + 1));
    for (int64_t j = 0; j < nc; j++) ncs[p][j] = (double)(cc[p].indptr[j + 1] - cc[p].indptr[j]);
    OK(ia_be_csr_make(ia_dmat_part_backend(&k, p), &cc[p], &bcc[p]));
    OK(ia_be_csr_make(ia_dmat_part_backend(&k, p), &rc, &brp[p]));
    ops[p] = (ia_dmat_ntk_operands){brp[p], NULL, bcc[p], nr, ncs[p], 1};
  }
  double flops = 0;
  OK(ia_dmat_ntk(&k, ops, D, 1, &flops));
  read_all(&k, got);
  for (int64_t j = 0; j < N; j++)
    for (int64_t i = 0; i < N; i++) {
      double xy = 0, xx = 0, yy = 0;
      for (int64_t t = 0; t < D; t++)
        xy += dense[t * N + i] * dense[t * N + j], xx += dense[t * N + i], yy += dense[t * N + j];
      ref[j * N + i] = ia_ntk(xy, xx, yy, D, 1);
    }
  snprintf(what, sizeof what, "%s: NTK tiles (lower) against the formula, %d part(s)", name, parts);
  check(what, rel(got, ref, N, N, 1), fp64 ? 1e-14 : 1e-6);
  for (int p = 0; p < parts; p++) {
    ia_be_csr_free(ia_dmat_part_backend(&k, p), &bcc[p]);
    ia_be_csr_free(ia_dmat_part_backend(&k, p), &brp[p]);
    ia_csr_free(&cc[p]);
    free(ncs[p]);
  }

  if (one_rank) { /* the rows of X scored in place, as FP64 columns */
    int64_t rh[4] = {3, 7, 8, 20};
    int32_t r32[4] = {3, 7, 8, 20}, *dr = NULL;
    double *out = NULL, h[4 * D], want2[4 * D];
    OK(ia_be_alloc(sp->be, sizeof r32, "rows", (void **)&dr));
    OK(ia_be_alloc(sp->be, sizeof h, "out", (void **)&out));
    OK(ia_be_upload(sp->be, dr, r32, sizeof r32));
    OK(ia_dmat_rows_to_cols(&xa, dr, rh, 4, 2.0, 0.0, out, D));
    OK(ia_dmat_rows_to_cols(&xa, dr, rh, 4, -1.0, 1.0, out, D));
    OK(ia_be_download(sp->be, h, out, sizeof h));
    for (int u = 0; u < 4; u++)
      for (int i = 0; i < D; i++) want2[u * D + i] = xr[i * N + rh[u]];
    snprintf(what, sizeof what, "%s: rows to columns (2X, then − X)", name);
    check(what, rel(h, want2, D, 4, 0), 0);
    ia_be_free(sp->be, dr);
    ia_be_free(sp->be, out);
  }

  if (!tiles) { /* the triangular solves and transposed products */
    ia_dmat bm, w, cn, qm, cd;
    OK(ia_dmat_make(sp, M, N, 0, "B", &bm));
    OK(ia_dmat_make(sp, N, N, 0, "work", &w));
    fill(&a, s);
    OK(ia_dmat_potrf(&a, &info));
    fill(&xa, x);
    OK(ia_dmat_trsm_lt(&a, &xa));
    memcpy(ref, x, sizeof(double) * N * D);
    cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, N, D, 1.0, l, N,
                ref, N);
    read_all(&xa, got);
    snprintf(what, sizeof what, "%s: trsm L⁻ᵀX", name);
    check(what, rel(got, ref, N, D, 0), tol_solve);
    fill(&bm, b);
    /* on the first M − 5 rows of B (a view that keeps B's leading dimension) */
    ia_dmat bv;
    OK(ia_dmat_head_rows(&bm, M - 5, &bv));
    if (a.kind == IA_DMAT_CYCLIC) OK(ia_dmat_transpose(&a, &w));
    OK(ia_dmat_trsm_right_lt(&a, &bv, a.kind == IA_DMAT_CYCLIC ? &w : NULL));
    memcpy(ref, b, sizeof(double) * M * N);
    cblas_dtrsm(CblasColMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, M - 5, N, 1.0, l,
                N, ref, M);
    read_all(&bm, got);
    snprintf(what, sizeof what, "%s: trsm B·L⁻ᵀ on the first rows", name);
    check(what, rel(got, ref, M, N, 0), tol_solve);
    fill(&bm, b);
    OK(ia_dmat_trsm_right_lt(&a, &bm, a.kind == IA_DMAT_CYCLIC ? &w : NULL));
    OK(ia_dmat_make(sp, N, N, 0, "BᵀB", &cn));
    OK(ia_dmat_make(sp, M, D, 0, "Q", &qm));
    OK(ia_dmat_make(sp, N, D, 0, "BᵀQ", &cd));
    fill(&bm, b);
    fill(&qm, q);
    OK(ia_dmat_gemm_tn(&bm, &bm, 1, 0, &cn));
    OK(ia_dmat_gemm_tn(&bm, &qm, 0, 0, &cd));
    gemm('T', N, N, M, br, M, br, M, ref);
    read_all(&cn, got);
    /* lower: the blocks on and below the diagonal block are made */
    for (int64_t j = 0; j < N; j++)
      for (int64_t i = 0; i < N; i++)
        if (i / NB < j / NB) got[j * N + i] = ref[j * N + i];
    snprintf(what, sizeof what, "%s: gemm BᵀB (lower blocks)", name);
    check(what, rel(got, ref, N, N, 0), tol);
    gemm('T', N, D, M, br, M, qr, M, ref);
    read_all(&cd, got);
    snprintf(what, sizeof what, "%s: gemm BᵀQ", name);
    check(what, rel(got, ref, N, D, 0), tol);
    /* C += Bᵀ·Q over two blocks of B's and Q's rows: the first M − 7, then
     * the last 7 (B's and Q's rows put first with their others zero). */
    ia_dmat b1, q1;
    OK(ia_dmat_head_rows(&bm, M - 7, &b1));
    OK(ia_dmat_head_rows(&qm, M - 7, &q1));
    OK(ia_dmat_gemm_tn(&b1, &q1, 0, 0, &cd));
    double *b2 = calloc((size_t)M * N, sizeof(double)), *q2 = calloc((size_t)M * D, sizeof(double));
    for (int64_t j = 0; j < N; j++)
      for (int64_t i = 0; i < 7; i++) b2[j * M + i] = b[j * M + M - 7 + i];
    for (int64_t j = 0; j < D; j++)
      for (int64_t i = 0; i < 7; i++) q2[j * M + i] = q[j * M + M - 7 + i];
    fill(&bm, b2);
    fill(&qm, q2);
    OK(ia_dmat_head_rows(&bm, 7, &b1));
    OK(ia_dmat_head_rows(&qm, 7, &q1));
    OK(ia_dmat_gemm_tn(&b1, &q1, 0, 1, &cd));
    read_all(&cd, got);
    snprintf(what, sizeof what, "%s: gemm C += BᵀQ by blocks of rows", name);
    check(what, rel(got, ref, N, D, 0), tol);
    free(b2), free(q2);
    ia_dmat_free(&bm), ia_dmat_free(&w), ia_dmat_free(&cn), ia_dmat_free(&qm), ia_dmat_free(&cd);
  } else { /* refused: what tiles and host memory do not take */
    ia_dmat hsq;
    OK(ia_dmat_make(sp, N, N, 0, "square in host memory", &hsq));
    int refused = ia_dmat_trsm_lt(&a, &xa) == IA_ERR_INTERNAL;
    refused += ia_dmat_potrf(&hsq, &info) == IA_ERR_INTERNAL;
    refused += ia_dmat_gemm(&hsq, &xa, &c) == IA_ERR_INTERNAL;
    refused += ia_dmat_copy(&a, &a) == IA_ERR_INTERNAL;
    snprintf(what, sizeof what, "%s: refused pairs of kinds (of 4)", name);
    check(what, 4 - refused, 0);
    ia_dmat_free(&hsq);
  }

  ia_be_csr_free(sp->be, &brc);
  ia_csr_free(&rc);
  ia_dmat_free(&a), ia_dmat_free(&xa), ia_dmat_free(&c), ia_dmat_free(&r), ia_dmat_free(&k);
  free(y), free(s), free(gm), free(x), free(b), free(q), free(got), free(ref), free(sr), free(xr),
      free(gr), free(br), free(qr), free(l), free(xs), free(mine), free(dense), free(nr);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  ia_log_init(MPI_COMM_WORLD, IA_LOG_QUIET);
  int cuda = argc > 1 && !strcmp(argv[1], "cuda"), size;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (cuda) skip_without_gpu();
  ia_backend *be = NULL;
  OK(ia_backend_open(MPI_COMM_WORLD, cuda ? IA_DEVICE_CUDA : IA_DEVICE_CPU, &be));
  ia_grid g;
  OK(ia_grid_create(MPI_COMM_WORLD, 0, 0, &g));
  for (int prec = 0; prec < 2; prec++) {
    ia_precision p = prec ? IA_FP32 : IA_FP64;
    char name[64];
    ia_dspace sp;
    ia_dspace_init(&sp, &g, be, NULL, p, NB, 1 << 20);
    snprintf(name, sizeof name, "%s %dx%d", prec ? "fp32" : "fp64", g.nprow, g.npcol);
    run(&sp, name);
    if (size == 1 && (!cuda || ia_cuda_device_count() >= 2)) {
      ia_md *md = NULL;
      OK(ia_md_open(be, 2, &md));
      ia_dspace_init(&sp, &g, be, md, p, NB, 1 << 20);
      snprintf(name, sizeof name, "%s 2 devices", prec ? "fp32" : "fp64");
      run(&sp, name);
      ia_md_close(&md);
    }
  }
  ia_grid_free(&g);
  ia_backend_close(&be);
  MPI_Finalize();
  return failures ? 1 : 0;
}
