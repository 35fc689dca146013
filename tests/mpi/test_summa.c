/* infae/dist/summa.h against LAPACK and BLAS on the whole matrices on every rank.
 * The product: each grid shape of the rank count (e.g. 2x1 and 1x2), fp64
 * and fp32, blocks that leave partial last blocks and, with large blocks,
 * ranks that own no block; without a memory limit and with budgets that cut
 * C's local rows into several chunks; and a budget too small for one row,
 * which must fail on every rank with one message. The solve (L·Lᵀ)X = B
 * with LAPACK's factor L, whose upper triangle holds garbage that must not be
 * read, against ?potrs. Argument: cpu or cuda (exits 77, skipped, without a
 * GPU). */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infae/backend/backend.h"
#include "infae/core/log.h"
#include "infae/core/rng.h"
#include "infae/dist/grid.h"
#include "infae/dist/summa.h"

#include "check.h"

enum { M = 203, N = 97, K = 150 };

static double uniform(uint64_t stream, uint64_t i) {
  ia_rng r;
  ia_rng_init(&r, 13, stream, i);
  return ia_rng_uniform(&r) - 0.5;
}

/* This rank's block-cyclic part (ml × nl, leading dimension max(ml, 1)) of
 * the rows × cols matrix x, in precision p. */
static void *local_part(const ia_grid *g, const double *x, int64_t rows, int64_t cols, int64_t nb,
                        ia_precision p, int64_t *ld) {
  int64_t ml = ia_numroc(rows, nb, g->myrow, g->nprow),
          nl = ia_numroc(cols, nb, g->mycol, g->npcol);
  size_t es = p == IA_FP64 ? 8 : 4;
  *ld = ml > 0 ? ml : 1;
  char *out = calloc((size_t)(*ld * (nl > 0 ? nl : 1)), es);
  for (int64_t j = 0; j < nl; j++)
    for (int64_t i = 0; i < ml; i++) {
      double v = x[ia_l2g(j, nb, g->mycol, g->npcol) * rows + ia_l2g(i, nb, g->myrow, g->nprow)];
      if (p == IA_FP64)
        ((double *)out)[j * *ld + i] = v;
      else
        ((float *)out)[j * *ld + i] = (float)v;
    }
  return out;
}

/* Max |local C − reference| / max |reference| over this rank's entries of
 * the rows × cols matrix ref; with lower, only over the blocks on and below
 * the diagonal block, and every other local entry must still hold the
 * sentinel (counted as an error of 1 otherwise). */
static double error_of(const ia_grid *g, const void *c, int64_t ld, const double *ref, int64_t rows,
                       int64_t cols, int64_t nb, ia_precision p, int lower, double sentinel) {
  int64_t ml = ia_numroc(rows, nb, g->myrow, g->nprow),
          nl = ia_numroc(cols, nb, g->mycol, g->npcol);
  double e = 0, s = 0;
  for (int64_t i = 0; i < rows * cols; i++) s = fmax(s, fabs(ref[i]));
  for (int64_t j = 0; j < nl; j++)
    for (int64_t i = 0; i < ml; i++) {
      double got = p == IA_FP64 ? ((const double *)c)[j * ld + i] : ((const float *)c)[j * ld + i];
      int64_t gi = ia_l2g(i, nb, g->myrow, g->nprow), gj = ia_l2g(j, nb, g->mycol, g->npcol);
      if (lower && gi / nb < gj / nb)
        e = fmax(e, got == sentinel ? 0.0 : 1.0);
      else
        e = fmax(e, fabs(got - ref[gj * rows + gi]) / s);
    }
  return e;
}

static double error(const ia_grid *g, const void *c, int64_t ld, const double *ref, int64_t nb,
                    ia_precision p) {
  return error_of(g, c, ld, ref, M, N, nb, p, 0, 0);
}

static void run(ia_backend *be, int nprow, int npcol, int64_t nb, ia_precision p, const double *a,
                const double *b, const double *ref) {
  ia_grid g;
  OK(ia_grid_create(MPI_COMM_WORLD, nprow, npcol, &g));
  int64_t lda, ldb, ldc;
  void *la = local_part(&g, a, M, K, nb, p, &lda), *lb = local_part(&g, b, K, N, nb, p, &ldb);
  void *lc = local_part(&g, ref, M, N, nb, p, &ldc);
  size_t es = p == IA_FP64 ? 8 : 4;
  int64_t nl = ia_numroc(N, nb, g.mycol, g.npcol);
  /* No limit; about 7 rows per chunk; about 1 row per chunk. */
  size_t budgets[] = {SIZE_MAX, es * (size_t)(nb * nl + 7 * (nl + nb)),
                      es * (size_t)(nb * nl + (nl + nb))};
  const char *names[] = {"whole", "chunks of ~7 rows", "chunks of 1 row"};
  double tol = p == IA_FP64 ? 1e-14 : 1e-5;
  for (int t = 0; t < 3; t++) {
    memset(lc, 0x7f, es * (size_t)ldc * (size_t)(nl > 0 ? nl : 1)); /* garbage: C is overwritten */
    OK(ia_summa_gemm(&g, be, p, M, N, K, nb, la, lda, lb, ldb, lc, ldc, budgets[t]));
    char what[96];
    snprintf(what, sizeof what, "%dx%d nb %lld %s, %s", nprow, npcol, (long long)nb,
             p == IA_FP64 ? "fp64" : "fp32", names[t]);
    check(what, error(&g, lc, ldc, ref, nb, p), tol);
  }
  /* Too little memory for the panels: one message, IA_ERR_NOMEM or (the
   * ranks that did have room) IA_ERR_REMOTE, on every rank. */
  ia_status st = ia_summa_gemm(&g, be, p, M, N, K, nb, la, lda, lb, ldb, lc, ldc, 16);
  ia_error_clear();
  char what[96];
  snprintf(what, sizeof what, "%dx%d nb %lld %s, budget of 16 bytes fails", nprow, npcol,
           (long long)nb, p == IA_FP64 ? "fp64" : "fp32");
  check(what, st == IA_ERR_NOMEM || st == IA_ERR_REMOTE ? 0 : 1, 0);
  free(la), free(lb), free(lc);
  ia_grid_free(&g);
}

/* (L·Lᵀ)X = B for L (M × M) and B (M × N) on the nprow × npcol grid, against
 * x, LAPACK's solution. */
static void run_solve(ia_backend *be, int nprow, int npcol, int64_t nb, ia_precision p,
                      const double *l, const double *b, const double *x) {
  ia_grid g;
  OK(ia_grid_create(MPI_COMM_WORLD, nprow, npcol, &g));
  int64_t ldl, ldb;
  void *ll = local_part(&g, l, M, M, nb, p, &ldl), *lb = local_part(&g, b, M, N, nb, p, &ldb);
  size_t budget = SIZE_MAX;
  if (ia_backend_device(be) != IA_DEVICE_CPU)
    budget = ia_backend_free_bytes(be) / (size_t)ia_backend_share(be) / 10 * 9;
  char what[96];
  snprintf(what, sizeof what, "%dx%d nb %lld %s, (L·Lᵀ)X = B against ?potrs", nprow, npcol,
           (long long)nb, p == IA_FP64 ? "fp64" : "fp32");
  if (!ia_summa_fits(&g, be, p, M, N, nb, budget)) {
    check(what, 1, 0); /* a few hundred KiB must fit */
  } else {
    OK(ia_summa_potrs(&g, be, p, M, N, nb, ll, ldl, lb, ldb));
    check(what, error(&g, lb, ldb, x, nb, p), p == IA_FP64 ? 1e-12 : 1e-4);
  }
  free(ll), free(lb);
  ia_grid_free(&g);
}

/* The one-sided solves L·X = B and Lᵀ·X = B (against ?trsm, x_n and x_t),
 * and X·Lᵀ = B2 through U = Lᵀ, whose strictly lower triangle holds garbage
 * (against x_r, B2 being K × M). */
static void run_trsm(ia_backend *be, int nprow, int npcol, int64_t nb, ia_precision p,
                     const double *l, const double *u, const double *b, const double *b2,
                     const double *x_n, const double *x_t, const double *x_r) {
  ia_grid g;
  OK(ia_grid_create(MPI_COMM_WORLD, nprow, npcol, &g));
  const char *prec = p == IA_FP64 ? "fp64" : "fp32";
  double tol = p == IA_FP64 ? 1e-12 : 1e-4;
  int64_t ldl, ldu, ldb, ldb2;
  void *ll = local_part(&g, l, M, M, nb, p, &ldl), *lu = local_part(&g, u, M, M, nb, p, &ldu);
  char what[96];
  for (int t = 0; t < 2; t++) {
    char op = t == 0 ? 'N' : 'T';
    void *lb = local_part(&g, b, M, N, nb, p, &ldb);
    OK(ia_summa_trsm(&g, be, p, op, M, N, nb, ll, ldl, lb, ldb));
    snprintf(what, sizeof what, "%dx%d nb %lld %s, %s·X = B against ?trsm", nprow, npcol,
             (long long)nb, prec, op == 'N' ? "L" : "Lᵀ");
    check(what, error(&g, lb, ldb, op == 'N' ? x_n : x_t, nb, p), tol);
    free(lb);
  }
  void *lb2 = local_part(&g, b2, K, M, nb, p, &ldb2);
  OK(ia_summa_trsm_right(&g, be, p, K, M, nb, lu, ldu, lb2, ldb2));
  snprintf(what, sizeof what, "%dx%d nb %lld %s, X·U = B against ?trsm", nprow, npcol,
           (long long)nb, prec);
  check(what, error_of(&g, lb2, ldb2, x_r, K, M, nb, p, 0, 0), tol);
  free(ll), free(lu), free(lb2);
  ia_grid_free(&g);
}

/* C = Aᵀ·B for A (M × K) and B (M × N), against c (K × N); and the lower
 * blocks of Aᵀ·A, against s (K × K), the upper blocks left alone. */
static void run_tn(ia_backend *be, int nprow, int npcol, int64_t nb, ia_precision p,
                   const double *a, const double *b, const double *c, const double *s) {
  ia_grid g;
  OK(ia_grid_create(MPI_COMM_WORLD, nprow, npcol, &g));
  const char *prec = p == IA_FP64 ? "fp64" : "fp32";
  double tol = p == IA_FP64 ? 1e-14 : 1e-5, sentinel = 12345.0;
  int64_t lda, ldb, ldc, lds;
  void *la = local_part(&g, a, M, K, nb, p, &lda), *lb = local_part(&g, b, M, N, nb, p, &ldb);
  void *lc = local_part(&g, c, K, N, nb, p, &ldc), *ls = local_part(&g, s, K, K, nb, p, &lds);
  size_t es = p == IA_FP64 ? 8 : 4;
  int64_t nlc = ia_numroc(N, nb, g.mycol, g.npcol), nls = ia_numroc(K, nb, g.mycol, g.npcol);
  memset(lc, 0x7f, es * (size_t)ldc * (size_t)(nlc > 0 ? nlc : 1)); /* overwritten */
  for (int64_t i = 0; i < lds * nls; i++)
    if (p == IA_FP64)
      ((double *)ls)[i] = sentinel;
    else
      ((float *)ls)[i] = (float)sentinel;
  char what[96];
  snprintf(what, sizeof what, "%dx%d nb %lld %s, C = Aᵀ·B", nprow, npcol, (long long)nb, prec);
  OK(ia_summa_gemm_tn(&g, be, p, 0, 0, K, N, M, nb, la, lda, lb, ldb, lc, ldc));
  check(what, error_of(&g, lc, ldc, c, K, N, nb, p, 0, 0), tol);
  /* C += Aᵀ·B makes 2C exactly (the same product again); halved, it is C. */
  OK(ia_summa_gemm_tn(&g, be, p, 0, 1, K, N, M, nb, la, lda, lb, ldb, lc, ldc));
  for (int64_t i = 0; i < ldc * nlc; i++)
    if (p == IA_FP64)
      ((double *)lc)[i] *= 0.5;
    else
      ((float *)lc)[i] *= 0.5f;
  snprintf(what, sizeof what, "%dx%d nb %lld %s, C += Aᵀ·B", nprow, npcol, (long long)nb, prec);
  check(what, error_of(&g, lc, ldc, c, K, N, nb, p, 0, 0), tol);
  snprintf(what, sizeof what, "%dx%d nb %lld %s, lower blocks of Aᵀ·A", nprow, npcol, (long long)nb,
           prec);
  OK(ia_summa_gemm_tn(&g, be, p, 1, 0, K, K, M, nb, la, lda, la, lda, ls, lds));
  check(what, error_of(&g, ls, lds, s, K, K, nb, p, 1, sentinel), tol);
  free(la), free(lb), free(lc), free(ls);
  ia_grid_free(&g);
}

/* L·Lᵀ = S (M × M, NaN above the diagonal) against LAPACK's factor l, the
 * lower triangle only; and S with a negative pivot at row 150, whose info
 * must be LAPACK's, bad_info. */
static void run_potrf(ia_backend *be, int nprow, int npcol, int64_t nb, ia_precision p,
                      const double *s, const double *l, const double *bad, int bad_info) {
  ia_grid g;
  OK(ia_grid_create(MPI_COMM_WORLD, nprow, npcol, &g));
  const char *prec = p == IA_FP64 ? "fp64" : "fp32";
  int64_t lds, info = -1;
  void *ls = local_part(&g, s, M, M, nb, p, &lds);
  OK(ia_summa_potrf(&g, be, p, M, nb, ls, lds, &info));
  /* The reference with zeros above the diagonal, and ours read the same way. */
  double *ref = calloc((size_t)M * M, sizeof(double));
  for (int j = 0; j < M; j++)
    for (int i = j; i < M; i++) ref[j * M + i] = l[j * M + i];
  int64_t ml = ia_numroc(M, nb, g.myrow, g.nprow), nl = ia_numroc(M, nb, g.mycol, g.npcol);
  for (int64_t j = 0; j < nl; j++)
    for (int64_t i = 0; i < ml; i++)
      if (ia_l2g(i, nb, g.myrow, g.nprow) < ia_l2g(j, nb, g.mycol, g.npcol)) {
        if (p == IA_FP64)
          ((double *)ls)[j * lds + i] = 0;
        else
          ((float *)ls)[j * lds + i] = 0;
      }
  char what[96];
  snprintf(what, sizeof what, "%dx%d nb %lld %s, L·Lᵀ = S against ?potrf", nprow, npcol,
           (long long)nb, prec);
  check(what, info == 0 ? error_of(&g, ls, lds, ref, M, M, nb, p, 0, 0) : 1.0,
        p == IA_FP64 ? 1e-13 : 1e-5);
  free(ls);
  ls = local_part(&g, bad, M, M, nb, p, &lds);
  OK(ia_summa_potrf(&g, be, p, M, nb, ls, lds, &info));
  snprintf(what, sizeof what, "%dx%d nb %lld %s, info %lld (LAPACK's %d)", nprow, npcol,
           (long long)nb, prec, (long long)info, bad_info);
  check(what, info == bad_info ? 0.0 : 1.0, 0);
  free(ls), free(ref);
  ia_grid_free(&g);
}

/* ia_be_add, the back substitution's sum: Y (m × n, leading dimension m + 3)
 * += X (op 'N', m × n) and += Xᵀ (op 'T', X n × m with leading dimension
 * n + 5), against the sums made here. */
static void run_add(ia_backend *be, ia_precision p) {
  const int64_t m = 70, n = 45, ldy = m + 3, ldt = n + 5;
  size_t es = p == IA_FP64 ? 8 : 4, ny = (size_t)(ldy * n), nt = (size_t)(ldt * m);
  double *y = malloc(sizeof(double) * ny), *xn = malloc(sizeof(double) * ny),
         *xt = malloc(sizeof(double) * nt), *want = malloc(sizeof(double) * ny);
  for (size_t i = 0; i < ny; i++) y[i] = uniform(7, i), xn[i] = uniform(8, i);
  for (size_t i = 0; i < nt; i++) xt[i] = uniform(9, i);
  for (int64_t j = 0; j < n; j++)
    for (int64_t i = 0; i < ldy; i++)
      want[j * ldy + i] =
          i < m ? y[j * ldy + i] + xn[j * ldy + i] + xt[i * ldt + j] : y[j * ldy + i];
  char *h[3];
  void *d[3];
  double *src[3] = {y, xn, xt};
  size_t cnt[3] = {ny, ny, nt};
  for (int k = 0; k < 3; k++) {
    h[k] = malloc(es * cnt[k]);
    for (size_t i = 0; i < cnt[k]; i++)
      if (p == IA_FP64)
        ((double *)h[k])[i] = src[k][i];
      else
        ((float *)h[k])[i] = (float)src[k][i];
    OK(ia_be_alloc(be, es * cnt[k], "add test", &d[k]));
    OK(ia_be_upload(be, d[k], h[k], es * cnt[k]));
  }
  OK(ia_be_add(be, p, 'N', m, n, d[1], ldy, d[0], ldy));
  OK(ia_be_add(be, p, 'T', m, n, d[2], ldt, d[0], ldy));
  OK(ia_be_download(be, h[0], d[0], es * ny));
  double e = 0;
  for (size_t i = 0; i < ny; i++) {
    double got = p == IA_FP64 ? ((double *)h[0])[i] : ((float *)h[0])[i];
    e = fmax(e, fabs(got - want[i]));
  }
  check(p == IA_FP64 ? "Y += X and Y += Xᵀ (ia_be_add), fp64"
                     : "Y += X and Y += Xᵀ (ia_be_add), fp32",
        e, p == IA_FP64 ? 1e-15 : 3e-7);
  for (int k = 0; k < 3; k++) free(h[k]), ia_be_free(be, d[k]);
  free(y), free(xn), free(xt), free(want);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  ia_log_init(MPI_COMM_WORLD, IA_LOG_QUIET);
  int cuda = argc > 1 && !strcmp(argv[1], "cuda"), rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (cuda) skip_without_gpu();
  ia_backend *be = NULL;
  OK(ia_backend_open(MPI_COMM_WORLD, cuda ? IA_DEVICE_CUDA : IA_DEVICE_CPU, &be));
  if (rank == 0) printf("backend: %s, %d ranks\n", ia_backend_describe(be), size);
  double *a = malloc(sizeof(double) * M * K), *b = malloc(sizeof(double) * K * N),
         *ref = malloc(sizeof(double) * M * N);
  for (int i = 0; i < M * K; i++) a[i] = uniform(1, (uint64_t)i);
  for (int i = 0; i < K * N; i++) b[i] = uniform(2, (uint64_t)i);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0, a, M, b, K, 0.0, ref, M);
  /* SPD S = A·Aᵀ/K + I (M × M), its factor L (garbage above the diagonal),
   * and X = S⁻¹·(the product above) by LAPACK. */
  double *l = malloc(sizeof(double) * M * M), *x = malloc(sizeof(double) * M * N);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, M, M, K, 1.0 / K, a, M, a, M, 0.0, l, M);
  for (int i = 0; i < M; i++) l[i * M + i] += 1.0;
  /* S itself, and S with its entry (150, 150) made negative, and LAPACK's info for that. */
  double *s = malloc(sizeof(double) * M * M), *bad = malloc(sizeof(double) * M * M);
  memcpy(s, l, sizeof(double) * M * M);
  memcpy(bad, l, sizeof(double) * M * M);
  bad[150 * M + 150] = -1.0;
  double *tmp = malloc(sizeof(double) * M * M);
  memcpy(tmp, bad, sizeof(double) * M * M);
  int bad_info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', M, tmp, M);
  free(tmp);
  for (int j = 0; j < M; j++) /* never to be read */
    for (int i = 0; i < j; i++) s[j * M + i] = bad[j * M + i] = NAN;
  memcpy(x, ref, sizeof(double) * M * N);
  if (LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', M, l, M) != 0 ||
      LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'L', M, N, l, M, x, M) != 0) {
    fprintf(stderr, "LAPACK failed on the test matrix\n");
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  for (int j = 0; j < M; j++)
    for (int i = 0; i < j; i++) l[j * M + i] = 1e3 * uniform(3, (uint64_t)(j * M + i));
  /* The one-sided solves: L⁻¹B, L⁻ᵀB, and B2·L⁻ᵀ for B2 = Aᵀ (K × M), with
   * U = Lᵀ holding garbage below its diagonal. */
  double *xn = malloc(sizeof(double) * M * N), *xt = malloc(sizeof(double) * M * N);
  double *u = malloc(sizeof(double) * M * M), *b2 = malloc(sizeof(double) * K * M),
         *xr = malloc(sizeof(double) * K * M);
  memcpy(xn, ref, sizeof(double) * M * N);
  memcpy(xt, ref, sizeof(double) * M * N);
  cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, M, N, 1.0, l, M, xn,
              M);
  cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, M, N, 1.0, l, M, xt,
              M);
  for (int j = 0; j < M; j++)
    for (int i = 0; i < M; i++)
      u[j * M + i] = i <= j ? l[i * M + j] : 1e3 * uniform(4, (uint64_t)(j * M + i));
  for (int j = 0; j < M; j++)
    for (int i = 0; i < K; i++) b2[j * K + i] = a[i * M + j];
  memcpy(xr, b2, sizeof(double) * K * M);
  cblas_dtrsm(CblasColMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit, K, M, 1.0, u, M,
              xr, K);
  /* Aᵀ·B (K × N) for B the product above (M × N), and Aᵀ·A (K × K). */
  double *ctn = malloc(sizeof(double) * K * N), *stn = malloc(sizeof(double) * K * K);
  cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, K, N, M, 1.0, a, M, ref, M, 0.0, ctn, K);
  cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, K, K, M, 1.0, a, M, a, M, 0.0, stn, K);
  run_add(be, IA_FP64);
  run_add(be, IA_FP32);
  int64_t nbs[] = {16, 37, 128};
  for (int r = 1; r <= size; r++) {
    if (size % r) continue;
    for (int i = 0; i < 3; i++) {
      run(be, r, size / r, nbs[i], IA_FP64, a, b, ref);
      run(be, r, size / r, nbs[i], IA_FP32, a, b, ref);
      run_solve(be, r, size / r, nbs[i], IA_FP64, l, ref, x);
      run_solve(be, r, size / r, nbs[i], IA_FP32, l, ref, x);
      run_potrf(be, r, size / r, nbs[i], IA_FP64, s, l, bad, bad_info);
      run_potrf(be, r, size / r, nbs[i], IA_FP32, s, l, bad, bad_info);
      for (int q = 0; q < 2; q++) {
        ia_precision p = q == 0 ? IA_FP64 : IA_FP32;
        run_trsm(be, r, size / r, nbs[i], p, l, u, ref, b2, xn, xt, xr);
        run_tn(be, r, size / r, nbs[i], p, a, ref, ctn, stn);
      }
    }
  }
  free(a), free(b), free(ref), free(l), free(x);
  free(s), free(bad);
  free(xn), free(xt), free(u), free(b2), free(xr), free(ctn), free(stn);
  ia_backend_close(&be);
  MPI_Finalize();
  return failures ? 1 : 0;
}
