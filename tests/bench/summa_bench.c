/* Benchmark (not a test): infae/summa.h with local products on the backend
 * (cpu or cuda) against ScaLAPACK on the host, block-cyclic over all ranks:
 * the product C = A·B (m × k times k × n) against p?gemm, and the solve
 * (L·Lᵀ)X = B (order m, n right-hand sides) against two p?trsm. Prints the
 * best of 3 runs of each: seconds, GFLOP/s over all ranks, and the largest
 * difference between the two results.
 * Usage: mpiexec -n P summa_bench cpu|cuda [m n k nb fp64|fp32] */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infae/backend.h"
#include "infae/grid.h"
#include "infae/log.h"
#include "infae/summa.h"
#include "scalapack.h"

static void fill(void *x, int64_t n, int fp64, int seed) {
  for (int64_t i = 0; i < n; i++) {
    double v = (double)((i * 2654435761u + (uint64_t)seed) % 1000) / 1000.0 - 0.5;
    if (fp64)
      ((double *)x)[i] = v;
    else
      ((float *)x)[i] = (float)v;
  }
}

static void die(const char *what) {
  fprintf(stderr, "summa_bench: %s: %s\n", what, ia_error_message());
  MPI_Abort(MPI_COMM_WORLD, 1);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  ia_log_init(MPI_COMM_WORLD, IA_LOG_QUIET);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  ia_device dev = argc > 1 && !strcmp(argv[1], "cuda") ? IA_DEVICE_CUDA : IA_DEVICE_CPU;
  int m = argc > 2 ? atoi(argv[2]) : 8000, n = argc > 3 ? atoi(argv[3]) : 3700,
      k = argc > 4 ? atoi(argv[4]) : 2000, nb = argc > 5 ? atoi(argv[5]) : 256;
  int fp64 = !(argc > 6 && !strcmp(argv[6], "fp32"));
  ia_backend *be = NULL;
  ia_grid g;
  if (ia_backend_open(MPI_COMM_WORLD, dev, &be) != IA_OK) die("backend");
  if (ia_grid_create(MPI_COMM_WORLD, 0, 0, &g) != IA_OK) die("grid");
  int zero = 0, info = 0, da[9], db[9], dc[9];
  int ml = numroc_(&m, &nb, &g.myrow, &zero, &g.nprow), kl = numroc_(&k, &nb, &g.mycol, &zero, &g.npcol);
  int kr = numroc_(&k, &nb, &g.myrow, &zero, &g.nprow), nl = numroc_(&n, &nb, &g.mycol, &zero, &g.npcol);
  int lda = ml > 1 ? ml : 1, ldb = kr > 1 ? kr : 1;
  descinit_(da, &m, &k, &nb, &nb, &zero, &zero, &g.ctxt, &lda, &info);
  descinit_(db, &k, &n, &nb, &nb, &zero, &zero, &g.ctxt, &ldb, &info);
  descinit_(dc, &m, &n, &nb, &nb, &zero, &zero, &g.ctxt, &lda, &info);
  size_t es = fp64 ? 8 : 4, na = (size_t)lda * (size_t)(kl > 0 ? kl : 1),
         nbb = (size_t)ldb * (size_t)(nl > 0 ? nl : 1), nc = (size_t)lda * (size_t)(nl > 0 ? nl : 1);
  void *a = malloc(es * na), *b = malloc(es * nbb), *c1 = malloc(es * nc), *c2 = malloc(es * nc);
  if (!a || !b || !c1 || !c2) die("out of host memory");
  fill(a, (int64_t)na, fp64, rank), fill(b, (int64_t)nbb, fp64, 7 * rank + 1);
  size_t budget = ia_backend_free_bytes(be);
  if (budget != SIZE_MAX) budget = budget / (size_t)ia_backend_share(be) / 10 * 9;
  double best[2] = {1e30, 1e30}, one = 1.0, nil = 0.0;
  float ones = 1.0f, nils = 0.0f;
  int i1 = 1;
  for (int r = 0; r < 3; r++)
    for (int how = 0; how < 2; how++) {
      MPI_Barrier(MPI_COMM_WORLD);
      double t = MPI_Wtime();
      if (how == 1) {
        if (ia_summa_gemm(&g, be, fp64 ? IA_FP64 : IA_FP32, m, n, k, nb, a, lda, b, ldb, c2, lda,
                          budget) != IA_OK)
          die("ia_summa_gemm");
      } else if (fp64) {
        pdgemm_("N", "N", &m, &n, &k, &one, a, &i1, &i1, da, b, &i1, &i1, db, &nil, c1, &i1, &i1, dc);
      } else {
        psgemm_("N", "N", &m, &n, &k, &ones, a, &i1, &i1, da, b, &i1, &i1, db, &nils, c1, &i1, &i1, dc);
      }
      MPI_Barrier(MPI_COMM_WORLD);
      t = MPI_Wtime() - t;
      if (t < best[how]) best[how] = t;
    }
  double diff = 0, scale = 0;
  for (size_t i = 0; i < (size_t)ml * (size_t)nl; i++) {
    double x = fp64 ? ((double *)c1)[i] : ((float *)c1)[i], y = fp64 ? ((double *)c2)[i] : ((float *)c2)[i];
    diff = fmax(diff, fabs(x - y));
    scale = fmax(scale, fabs(x));
  }
  MPI_Allreduce(MPI_IN_PLACE, &diff, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &scale, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  double flops = 2.0 * m * (double)n * k;
  if (rank == 0) {
    printf("%d ranks (%dx%d), %s, %s, m %d n %d k %d nb %d\n", size, g.nprow, g.npcol,
           ia_backend_describe(be), fp64 ? "fp64" : "fp32", m, n, k, nb);
    printf("  p%cgemm (host)      %8.3f s %9.1f GFLOP/s\n", fp64 ? 'd' : 's', best[0], flops / best[0] / 1e9);
    printf("  summa (backend)    %8.3f s %9.1f GFLOP/s\n", best[1], flops / best[1] / 1e9);
    printf("  max |difference| / max |C| = %.2e\n", diff / (scale > 0 ? scale : 1));
  }
  /* The solve: L = chol(S) for S = random + m·I, and B = the C above. */
  int lds = lda, ds[9];
  descinit_(ds, &m, &m, &nb, &nb, &zero, &zero, &g.ctxt, &lds, &info);
  int mc = numroc_(&m, &nb, &g.mycol, &zero, &g.npcol);
  size_t nl2 = (size_t)lds * (size_t)(mc > 0 ? mc : 1);
  void *l = malloc(es * nl2), *x1 = malloc(es * nc), *x2 = malloc(es * nc);
  if (!l || !x1 || !x2) die("out of host memory");
  fill(l, (int64_t)nl2, fp64, 3 * rank + 2);
  for (int j = 0; j < mc; j++) {
    int gj = (j / nb * g.npcol + g.mycol) * nb + j % nb;
    if (gj / nb % g.nprow != g.myrow) continue;
    size_t at = (size_t)j * (size_t)lds + (size_t)(gj / nb / g.nprow * nb + gj % nb);
    if (fp64)
      ((double *)l)[at] += m;
    else
      ((float *)l)[at] += (float)m;
  }
  if (fp64)
    pdpotrf_("L", &m, l, &i1, &i1, ds, &info, 1);
  else
    pspotrf_("L", &m, l, &i1, &i1, ds, &info, 1);
  if (info != 0) die("p?potrf of the test matrix");
  best[0] = best[1] = 1e30;
  for (int r = 0; r < 3; r++)
    for (int how = 0; how < 2; how++) {
      void *x = how ? x2 : x1;
      memcpy(x, c1, es * nc);
      MPI_Barrier(MPI_COMM_WORLD);
      double t = MPI_Wtime();
      if (how == 1) {
        if (ia_summa_potrs(&g, be, fp64 ? IA_FP64 : IA_FP32, m, n, nb, l, lds, x, lda) != IA_OK)
          die("ia_summa_potrs");
      } else if (fp64) {
        pdtrsm_("L", "L", "N", "N", &m, &n, &one, l, &i1, &i1, ds, x, &i1, &i1, dc);
        pdtrsm_("L", "L", "T", "N", &m, &n, &one, l, &i1, &i1, ds, x, &i1, &i1, dc);
      } else {
        pstrsm_("L", "L", "N", "N", &m, &n, &ones, l, &i1, &i1, ds, x, &i1, &i1, dc);
        pstrsm_("L", "L", "T", "N", &m, &n, &ones, l, &i1, &i1, ds, x, &i1, &i1, dc);
      }
      MPI_Barrier(MPI_COMM_WORLD);
      t = MPI_Wtime() - t;
      if (t < best[how]) best[how] = t;
    }
  double sdiff = 0, sscale = 0;
  for (size_t i = 0; i < (size_t)ml * (size_t)nl; i++) {
    double x = fp64 ? ((double *)x1)[i] : ((float *)x1)[i], y = fp64 ? ((double *)x2)[i] : ((float *)x2)[i];
    sdiff = fmax(sdiff, fabs(x - y));
    sscale = fmax(sscale, fabs(x));
  }
  MPI_Allreduce(MPI_IN_PLACE, &sdiff, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &sscale, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  double sflops = 2.0 * m * (double)m * n;
  if (rank == 0) {
    printf("  (L·Lᵀ)X = B, order %d, %d right-hand sides:\n", m, n);
    printf("  2 p%ctrsm (host)     %8.3f s %9.1f GFLOP/s\n", fp64 ? 'd' : 's', best[0], sflops / best[0] / 1e9);
    printf("  summa (backend)    %8.3f s %9.1f GFLOP/s\n", best[1], sflops / best[1] / 1e9);
    printf("  max |difference| / max |X| = %.2e\n", sdiff / (sscale > 0 ? sscale : 1));
  }
  free(l), free(x1), free(x2);
  free(a), free(b), free(c1), free(c2);
  ia_grid_free(&g);
  ia_backend_close(&be);
  MPI_Finalize();
  return 0;
}
