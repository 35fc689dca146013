/* Measured GEMM peak: every rank multiplies two n × n matrices (DGEMM and
 * SGEMM) at the same time; prints the best of a few repetitions, per rank
 * and summed. The reference for the GFLOP/s of `infae_mpi train`. */
#include <cblas.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size, n = argc > 1 ? atoi(argv[1]) : 3000, reps = 3;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  size_t nn = (size_t)n * (size_t)n;
  double *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = malloc(nn * sizeof *c);
  float *as = malloc(nn * sizeof *as), *bs = malloc(nn * sizeof *bs), *cs = malloc(nn * sizeof *cs);
  if (!a || !b || !c || !as || !bs || !cs) {
    fprintf(stderr, "gemm_peak: out of memory for n = %d\n", n);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  for (size_t i = 0; i < nn; i++) {
    a[i] = b[i] = (double)(i % 7) / 7.0;
    as[i] = bs[i] = (float)(i % 7) / 7.0f;
  }
  double flops = 2.0 * n * (double)n * n, best[2] = {1e30, 1e30};
  for (int prec = 0; prec < 2; prec++)
    for (int r = 0; r < reps; r++) {
      MPI_Barrier(MPI_COMM_WORLD);
      double t = MPI_Wtime();
      if (prec == 0)
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, b, n, 0.0, c, n);
      else
        cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, as, n, bs, n, 0.0f,
                    cs, n);
      t = MPI_Wtime() - t;
      MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      if (t < best[prec]) best[prec] = t;
    }
  if (rank == 0)
    printf(
        "gemm_peak n=%d ranks=%d: DGEMM %.1f GFLOP/s per rank, %.1f in all; SGEMM %.1f per "
        "rank, %.1f in all\n",
        n, size, flops / best[0] / 1e9, size * flops / best[0] / 1e9, flops / best[1] / 1e9,
        size * flops / best[1] / 1e9);
  free(a);
  free(b);
  free(c);
  free(as);
  free(bs);
  free(cs);
  MPI_Finalize();
  return 0;
}
