/* A matrix spread over several devices of one rank (infae/dist/multidev.h)
 * against LAPACK/BLAS on one host array: scatter and gather, the trace and
 * a diagonal shift, single entries, the Cholesky factor (lower triangle)
 * and its leading minor for a matrix that is not positive definite, the
 * solve (also as the residual A·X − B, which needs no reference), and the
 * product of a spread matrix with a matrix on the primary or in host
 * memory, in blocks of columns; scatter and gather from and to host memory
 * around the solve. Sizes leave a partial last tile and, with many devices, devices
 * without tiles (9 host slices: two hold no tile of A, six none of B). Argument: cpu (1, 2, 3 and 5 host slices) or cuda (1 and,
 * when visible, 2 GPUs: cusolverMg; exits 77, skipped, without a GPU). */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infae/backend/backend.h"
#include "infae/backend/device.h"
#include "infae/core/rng.h"
#include "infae/dist/multidev.h"

#include "check.h"

enum { N = 203, NB = 32, NRHS = 45, NBB = 16 };

static double uniform(uint64_t i) {
  ia_rng r;
  ia_rng_init(&r, 7, 0, i);
  return ia_rng_uniform(&r) - 0.5;
}

/* A = M·Mᵀ/N + I (column-major N × N), B random N × NRHS. */
static void make(double *a, double *b) {
  double *m = malloc(sizeof(double) * N * N);
  for (int i = 0; i < N * N; i++) m[i] = uniform((uint64_t)i);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, N, N, N, 1.0 / N, m, N, m, N, 0.0, a, N);
  for (int i = 0; i < N; i++) a[i * N + i] += 1.0;
  for (int i = 0; i < N * NRHS; i++) b[i] = uniform((uint64_t)(N * N + i));
  free(m);
}

/* Max |x − y| / max |y| over the lower triangle (lower) or all of m × n. */
static double rel(const double *x, const double *y, int m, int n, int ld, int lower) {
  double e = 0, s = 0;
  for (int j = 0; j < n; j++)
    for (int i = lower ? j : 0; i < m; i++) {
      e = fmax(e, fabs(x[j * ld + i] - y[j * ld + i]));
      s = fmax(s, fabs(y[j * ld + i]));
    }
  return s > 0 ? e / s : e;
}

/* Host double ↔ the primary's array of precision p. */
static void *up(ia_backend *b, ia_precision p, const double *h, size_t n) {
  size_t es = p == IA_FP64 ? 8 : 4;
  void *tmp = malloc(es * n), *d = NULL;
  for (size_t i = 0; i < n; i++)
    if (p == IA_FP64)
      ((double *)tmp)[i] = h[i];
    else
      ((float *)tmp)[i] = (float)h[i];
  OK(ia_be_alloc(b, es * n, "test array", &d));
  OK(ia_be_upload(b, d, tmp, es * n));
  free(tmp);
  return d;
}

static void down(ia_backend *b, ia_precision p, const void *d, double *h, size_t n) {
  size_t es = p == IA_FP64 ? 8 : 4;
  void *tmp = malloc(es * n);
  OK(ia_be_download(b, tmp, d, es * n));
  for (size_t i = 0; i < n; i++) h[i] = p == IA_FP64 ? ((double *)tmp)[i] : ((float *)tmp)[i];
  free(tmp);
}

static void run(ia_backend *be, int ndev, ia_precision p) {
  char what[96];
  const char *pn = p == IA_FP64 ? "fp64" : "fp32";
  /* fp64: a few ulps of N-term sums; fp32: the same in single precision. */
  double tol = p == IA_FP64 ? 1e-12 : 2e-5;
  ia_md *md = NULL;
  OK(ia_md_open(be, ndev, &md));
  double *a = malloc(sizeof(double) * N * N), *b = malloc(sizeof(double) * N * NRHS);
  double *h = malloc(sizeof(double) * N * N), *ref = malloc(sizeof(double) * N * N);
  double *x = malloc(sizeof(double) * N * NRHS), *r = malloc(sizeof(double) * N * NRHS);
  make(a, b);
  void *da = up(be, p, a, N * N), *db = up(be, p, b, N * NRHS);
  ia_md_mat ma, mb;
  OK(ia_md_alloc(md, p, N, N, NB, "A", &ma));
  OK(ia_md_alloc(md, p, N, NRHS, NBB, "B", &mb));

  /* Layout: the round trip, and which device holds each column. */
  OK(ia_md_scatter(md, da, 0, N, &ma));
  OK(ia_be_zero(be, da, (p == IA_FP64 ? 8 : 4) * (size_t)N * N));
  OK(ia_md_gather(md, &ma, da, 0, N));
  down(be, p, da, h, N * N);
  {
    double *ar = malloc(sizeof(double) * N * N);
    for (int i = 0; i < N * N; i++) ar[i] = p == IA_FP64 ? a[i] : (double)(float)a[i];
    snprintf(what, sizeof what, "%s %d dev: scatter, gather", pn, ndev);
    check(what, rel(h, ar, N, N, N, 0), 0);
    free(ar);
  }
  int64_t cols = 0, bad = 0;
  for (int g = 0; g < ndev; g++) {
    cols += ia_md_local_cols(&ma, g);
    for (int64_t j = 0; j < ia_md_local_cols(&ma, g); j++)
      bad += ia_md_global_col(&ma, g, j) / NB % ndev != g;
  }
  snprintf(what, sizeof what, "%s %d dev: columns held (count, misplaced)", pn, ndev);
  check(what, (double)(llabs(cols - N) + bad), 0);
  double v = 0, e = 0;
  for (int k = 0; k < 5; k++) {
    int i = (37 * k + 11) % N, j = (53 * k + 5) % N;
    OK(ia_md_get(md, &ma, i, j, &v));
    e = fmax(e, fabs(v - a[j * N + i]) / fabs(a[j * N + i]));
  }
  snprintf(what, sizeof what, "%s %d dev: single entries", pn, ndev);
  check(what, e, p == IA_FP64 ? 0 : 1e-7);

  /* Trace and a diagonal shift. */
  double tr = 0, tr2 = 0, want = 0;
  for (int i = 0; i < N; i++) want += a[i * N + i];
  OK(ia_md_diag_sum(md, &ma, &tr));
  OK(ia_md_diag_add(md, &ma, 0.25));
  OK(ia_md_diag_sum(md, &ma, &tr2));
  snprintf(what, sizeof what, "%s %d dev: trace, trace after A + I/4", pn, ndev);
  check(what, fmax(fabs(tr - want), fabs(tr2 - want - 0.25 * N)) / want, tol);
  OK(ia_md_diag_add(md, &ma, -0.25));

  /* Cholesky against LAPACK. */
  int64_t info = -1;
  memcpy(ref, a, sizeof(double) * N * N);
  LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', N, ref, N);
  OK(ia_md_potrf(md, &ma, &info));
  OK(ia_md_gather(md, &ma, da, 0, N));
  down(be, p, da, h, N * N);
  snprintf(what, sizeof what, "%s %d dev: potrf (lower) against LAPACK, info %lld", pn, ndev,
           (long long)info);
  check(what, info != 0 ? 1.0 : rel(h, ref, N, N, N, 1), tol);

  /* Solve: against LAPACK, and the residual against A itself. */
  /* B from and to host memory, in the precision of the matrices. */
  size_t es = p == IA_FP64 ? 8 : 4;
  void *hx = malloc(es * (size_t)N * NRHS);
  OK(ia_be_download(be, hx, db, es * (size_t)N * NRHS));
  OK(ia_md_scatter(md, hx, 1, N, &mb));
  OK(ia_md_potrs(md, &ma, &mb));
  memset(hx, 0, es * (size_t)N * NRHS);
  OK(ia_md_gather(md, &mb, hx, 1, N));
  OK(ia_be_upload(be, db, hx, es * (size_t)N * NRHS));
  free(hx);
  down(be, p, db, x, N * NRHS);
  memcpy(r, b, sizeof(double) * N * NRHS);
  LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'L', N, NRHS, ref, N, r, N);
  snprintf(what, sizeof what, "%s %d dev: potrs against LAPACK", pn, ndev);
  check(what, rel(x, r, N, NRHS, N, 0), p == IA_FP64 ? 1e-11 : 1e-4);
  memcpy(r, b, sizeof(double) * N * NRHS);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, N, NRHS, N, 1.0, a, N, x, N, -1.0, r, N);
  double rn = 0, an = 0, xn = 0;
  for (int i = 0; i < N * NRHS; i++) rn = fmax(rn, fabs(r[i])), xn = fmax(xn, fabs(x[i]));
  for (int i = 0; i < N * N; i++) an = fmax(an, fabs(a[i]));
  snprintf(what, sizeof what, "%s %d dev: residual |AX - B| / (|A| |X| N)", pn, ndev);
  check(what, rn / (an * xn * N), p == IA_FP64 ? 1e-15 : 1e-7);

  /* Not positive definite from column 70 (tile 2): LAPACK's minor. */
  double *s = malloc(sizeof(double) * N * N);
  memcpy(s, a, sizeof(double) * N * N);
  s[70 * N + 70] = -1.0;
  memcpy(ref, s, sizeof(double) * N * N);
  int64_t want_info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', N, ref, N);
  void *ds = up(be, p, s, N * N);
  OK(ia_md_scatter(md, ds, 0, N, &ma));
  OK(ia_md_potrf(md, &ma, &info));
  snprintf(what, sizeof what, "%s %d dev: leading minor %lld (LAPACK %lld)", pn, ndev,
           (long long)info, (long long)want_info);
  check(what, info == want_info && info > 0 ? 0 : 1, 0);

  /* C = A·B with A spread and B, C on the primary, 10 columns at a time. */
  OK(ia_md_scatter(md, da, 0, N, &ma)); /* da holds the factor: any matrix will do */
  double *l = malloc(sizeof(double) * N * N), *c = malloc(sizeof(double) * N * NRHS);
  down(be, p, da, l, N * N);
  void *dc = up(be, p, b, N * NRHS), *db2 = up(be, p, b, N * NRHS);
  OK(ia_md_gemm(md, &ma, db2, N, NRHS, dc, N, 0, (int64_t)(p == IA_FP64 ? 8 : 4) * N * 10));
  down(be, p, dc, c, N * NRHS);
  double *bb = malloc(sizeof(double) * N * NRHS);
  for (int i = 0; i < N * NRHS; i++) bb[i] = p == IA_FP64 ? b[i] : (double)(float)b[i];
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, N, NRHS, N, 1.0, l, N, bb, N, 0.0, r, N);
  snprintf(what, sizeof what, "%s %d dev: spread A times B on the primary", pn, ndev);
  check(what, rel(c, r, N, NRHS, N, 0), tol);
  /* B and C in host memory. */
  void *hb = malloc(es * (size_t)N * NRHS), *hc = calloc((size_t)N * NRHS, es);
  OK(ia_be_download(be, hb, db2, es * (size_t)N * NRHS));
  OK(ia_md_gemm(md, &ma, hb, N, NRHS, hc, N, 1, (int64_t)es * N * 7));
  OK(ia_be_upload(be, dc, hc, es * (size_t)N * NRHS));
  down(be, p, dc, c, N * NRHS);
  snprintf(what, sizeof what, "%s %d dev: spread A times B, both in host memory", pn, ndev);
  check(what, rel(c, r, N, NRHS, N, 0), tol);
  free(hb);
  free(hc);

  ia_be_free(be, da);
  ia_be_free(be, db);
  ia_be_free(be, ds);
  ia_be_free(be, dc);
  ia_be_free(be, db2);
  ia_md_free(md, &ma);
  ia_md_free(md, &mb);
  ia_md_close(&md);
  free(a), free(b), free(h), free(ref), free(x), free(r), free(s), free(l), free(c), free(bb);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int cuda = argc > 1 && !strcmp(argv[1], "cuda");
  if (cuda) skip_without_gpu();
  ia_backend *be = NULL;
  OK(ia_backend_open(MPI_COMM_WORLD, cuda ? IA_DEVICE_CUDA : IA_DEVICE_CPU, &be));
  int counts_cpu[] = {1, 2, 3, 9}, counts_gpu[] = {1, 2};
  int *counts = cuda ? counts_gpu : counts_cpu, nc = cuda ? 2 : 4;
  for (int k = 0; k < nc; k++) {
    if (cuda && counts[k] > ia_cuda_device_count()) {
      printf("%d GPUs: only %d visible, not run\n", counts[k], ia_cuda_device_count());
      continue;
    }
    run(be, counts[k], IA_FP64);
    run(be, counts[k], IA_FP32);
  }
  ia_backend_close(&be);
  MPI_Finalize();
  return failures ? 1 : 0;
}
