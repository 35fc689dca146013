#pragma once
/* What the CUDA backend's files share: the GPU object (one GPU per rank: its
 * stream, cuBLAS and cuSOLVER handles, NCCL communicator and buffers) and
 * small helpers. Every operation runs on the backend's stream; operations
 * that hand results to the host synchronize it. Internal. */
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>
#include <mpi.h>
#include <nccl.h>

#include <Random123/philox.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

extern "C" {
#include "backend/backend_impl.h"
#include "infae/core/rng.h"
#include "infae/core/topk.h"
}
#include "infae/core/ntk.h"

struct ia_cuda {
  int device;
  unsigned char uuid[16];
  char desc[128];
  cudaStream_t stream;
  cublasHandle_t blas;
  cusolverDnHandle_t solver;
  cusolverDnParams_t params;
  int *d_info;
  void *work; /* cuSOLVER device workspace, grown on demand */
  size_t work_bytes;
  ncclComm_t nccl; /* across the ranks, when each has its own GPU */
  double *stage;   /* host staging of all-reduces without NCCL */
  size_t stage_bytes;
  double *scratch; /* the reductions' device results, grown on demand */
  size_t scratch_bytes;
};

#include "cuda_check.h"

static inline int blocks_for(int64_t n, int threads) {
  int64_t b = (n + threads - 1) / threads;
  return (int)(b < 1 ? 1 : b > 65535 ? 65535 : b); /* grid-stride loops cover the rest */
}

static inline size_t esize(ia_precision p) { return p == IA_FP64 ? sizeof(double) : sizeof(float); }

/* Grid-stride over the m × n entries of a column-major matrix. */
#define FOR_ENTRIES(m, n, i, j)                                                                    \
  for (int64_t e_ = blockIdx.x * (int64_t)blockDim.x + threadIdx.x, i = e_ % (m), j = e_ / (m);    \
       e_ < (m) * (n); e_ += (int64_t)gridDim.x * blockDim.x, i = e_ % (m), j = e_ / (m))

/* Zeroes rows × cols of a column-major array with leading dimension ld. */
static inline ia_status zero2d(ia_cuda *c, void *p, size_t es, int64_t ld, int64_t rows,
                               int64_t cols) {
  if (rows <= 0 || cols <= 0) return IA_OK;
  return CUDA(cudaMemset2DAsync(p, es * (size_t)ld, 0, es * (size_t)rows, (size_t)cols, c->stream));
}

/* Device room for a reduction's results (one buffer kept by the backend). */
ia_status ia_cuda_scratch(ia_cuda *c, size_t bytes, double **out);
