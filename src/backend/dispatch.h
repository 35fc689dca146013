#pragma once
/* What the backend's dispatch files share: the backend object and
 * CUDA_OR(call on the GPU, call on the CPU), which runs the first on a CUDA
 * backend (its GPU made current: one rank may drive several GPUs,
 * infae/dist/multidev.h) and the second on the CPU. Internal. */
#include "backend/backend_impl.h"

struct ia_backend {
  ia_device dev;
  MPI_Comm comm;
  int share; /* ranks of the node on this GPU (1 on the CPU) */
#if IA_HAVE_CUDA
  ia_cuda *cuda;
#endif
};

#if IA_HAVE_CUDA
#define CUDA_OR(call, cpu) (b->dev == IA_DEVICE_CUDA ? (ia_cuda_bind(b->cuda), (call)) : (cpu))
#else
#define CUDA_OR(call, cpu) ((void)b, (cpu))
#endif

/* Bytes of one element. */
static inline size_t ia_be_esize(ia_precision p) {
  return p == IA_FP64 ? sizeof(double) : sizeof(float);
}

/* C = α·op(A)·op(B) + β·C on the host (column-major; op 'N' or 'T'). */
ia_status ia_cpu_gemm(ia_precision p, char ta, char tb, int64_t m, int64_t n, int64_t k,
                      double alpha, const void *a, int64_t lda, const void *b, int64_t ldb,
                      double beta, void *c, int64_t ldc);
