#pragma once
/* Helpers of the MPI tests that compare numbers without cmocka: a checked
 * error printed once by rank 0, and a call that must succeed. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "infae/backend/device.h"
#include "infae/core/status.h"

static int failures = 0;

/* err ≤ tol on every rank of MPI_COMM_WORLD; rank 0 prints the largest. */
static void check(const char *what, double err, double tol) {
  int ok = err <= tol, rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &err, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  if (!ok) failures++;
  if (rank == 0) printf("%-56s %.3e (tolerance %.0e) %s\n", what, err, tol, ok ? "ok" : "FAIL");
}

#define OK(call)                                                                                   \
  do {                                                                                             \
    if ((call) != IA_OK) {                                                                         \
      fprintf(stderr, "%s failed: %s\n", #call, ia_error_message());                               \
      MPI_Abort(MPI_COMM_WORLD, 1);                                                                \
    }                                                                                              \
  } while (0)

/* A CUDA run without a visible GPU: rank 0 says why, every rank exits 77
 * (ctest's "skipped"). */
static void skip_without_gpu(void) {
  if (ia_cuda_device_count() > 0) return;
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const char *why = ia_cuda_device_error();
  if (rank == 0) printf("no GPU visible%s%s: skipped\n", why[0] ? ": " : "", why);
  MPI_Finalize();
  exit(77);
}
