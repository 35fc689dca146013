#pragma once
/* CUDA, cuBLAS and cuSOLVER codes turned into ours, with file:line (the
 * .cu files of kernels/ only). */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolver_common.h>
#include <mpi.h> /* before the C headers: its C++ part needs C++ linkage */

extern "C" {
#include "infae/core/status.h"
}

static inline ia_status cuda_status(cudaError_t e, const char *call, const char *file, int line) {
  if (e == cudaSuccess) return IA_OK;
  if (e == cudaErrorMemoryAllocation)
    return ia_error_set(IA_ERR_NOMEM, file, line, "%s: GPU out of memory", call);
  return ia_error_set(IA_ERR_DEVICE, file, line, "%s: %s", call, cudaGetErrorString(e));
}

static inline ia_status cublas_status(cublasStatus_t e, const char *call, const char *file,
                                      int line) {
  if (e == CUBLAS_STATUS_SUCCESS) return IA_OK;
  return ia_error_set(IA_ERR_DEVICE, file, line, "%s: %s", call, cublasGetStatusString(e));
}

static inline ia_status cusolver_status(cusolverStatus_t e, const char *call, const char *file,
                                        int line) {
  if (e == CUSOLVER_STATUS_SUCCESS) return IA_OK;
  return ia_error_set(IA_ERR_DEVICE, file, line, "%s: cuSOLVER status %d", call, (int)e);
}

#define CUDA(call)     cuda_status((call), #call, __FILE__, __LINE__)
#define CUBLAS(call)   cublas_status((call), #call, __FILE__, __LINE__)
#define CUSOLVER(call) cusolver_status((call), #call, __FILE__, __LINE__)
/* After a kernel launch. */
#define LAUNCHED()     cuda_status(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)
