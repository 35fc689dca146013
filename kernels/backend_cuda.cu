/* The CUDA backend: cuBLAS, cuSOLVER and the kernels the ∞-AE needs, on one
 * GPU per rank. Every operation runs on the backend's stream; operations
 * that hand results to the host synchronize it. */
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
  void *work;        /* cuSOLVER device workspace, grown on demand */
  size_t work_bytes;
  ncclComm_t nccl;   /* across the ranks, when each has its own GPU */
  double *stage;     /* host staging of all-reduces without NCCL */
  size_t stage_bytes;
  double *scratch;   /* the reductions' device results, grown on demand */
  size_t scratch_bytes;
};

#include "cuda_check.h"

static int blocks_for(int64_t n, int threads) {
  int64_t b = (n + threads - 1) / threads;
  return (int)(b < 1 ? 1 : b > 65535 ? 65535 : b); /* grid-stride loops cover the rest */
}

static size_t esize(ia_precision p) { return p == IA_FP64 ? sizeof(double) : sizeof(float); }

/* ---- life cycle -------------------------------------------------------------- */

static ia_status open_parts(ia_cuda *c, int local_rank) {
  int n = 0;
  IA_CALL(CUDA(cudaGetDeviceCount(&n)));
  IA_CHECK(n > 0, IA_ERR_DEVICE, "no GPU is visible");
  c->device = local_rank % n;
  IA_CALL(CUDA(cudaSetDevice(c->device)));
  cudaDeviceProp p;
  IA_CALL(CUDA(cudaGetDeviceProperties(&p, c->device)));
  memcpy(c->uuid, p.uuid.bytes, sizeof c->uuid);
  snprintf(c->desc, sizeof c->desc, "cuda:%d (%s, %.0f GiB)", c->device, p.name,
           (double)p.totalGlobalMem / 1073741824.0);
  IA_CALL(CUDA(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking)));
  IA_CALL(CUBLAS(cublasCreate(&c->blas)));
  IA_CALL(CUBLAS(cublasSetStream(c->blas, c->stream)));
  IA_CALL(CUSOLVER(cusolverDnCreate(&c->solver)));
  IA_CALL(CUSOLVER(cusolverDnSetStream(c->solver, c->stream)));
  IA_CALL(CUSOLVER(cusolverDnCreateParams(&c->params)));
  IA_CALL(CUDA(cudaMalloc((void **)&c->d_info, sizeof(int))));
  return IA_OK;
}

ia_status ia_cuda_open(int local_rank, ia_cuda **out) {
  ia_cuda *c = (ia_cuda *)calloc(1, sizeof *c);
  IA_CHECK(c != NULL, IA_ERR_NOMEM, "cannot allocate the CUDA backend");
  ia_status st = open_parts(c, local_rank);
  if (st != IA_OK) {
    ia_cuda_close(c);
    return st;
  }
  *out = c;
  return IA_OK;
}

void ia_cuda_close(ia_cuda *c) {
  if (!c) return;
  if (c->stream) cudaStreamSynchronize(c->stream);
  if (c->nccl) ncclCommDestroy(c->nccl);
  free(c->stage);
  cudaFree(c->work);
  cudaFree(c->scratch);
  cudaFree(c->d_info);
  if (c->params) cusolverDnDestroyParams(c->params);
  if (c->solver) cusolverDnDestroy(c->solver);
  if (c->blas) cublasDestroy(c->blas);
  if (c->stream) cudaStreamDestroy(c->stream);
  free(c);
}

const char *ia_cuda_describe(const ia_cuda *c) { return c->desc; }

void ia_cuda_bind(const ia_cuda *c) { cudaSetDevice(c->device); }

void ia_cuda_uuid(const ia_cuda *c, unsigned char out[16]) { memcpy(out, c->uuid, 16); }

int ia_cuda_index(const ia_cuda *c) { return c->device; }

ia_status ia_cuda_sync(ia_cuda *c) { return CUDA(cudaStreamSynchronize(c->stream)); }

size_t ia_cuda_free_bytes(const ia_cuda *c) {
  (void)c;
  size_t free_b = 0, total = 0;
  if (cudaMemGetInfo(&free_b, &total) != cudaSuccess) return 0;
  return free_b;
}

/* ---- memory ------------------------------------------------------------------ */

ia_status ia_cuda_alloc(ia_cuda *c, size_t bytes, const char *what, void **out) {
  if (cudaMalloc(out, bytes) == cudaSuccess) return IA_OK;
  cudaGetLastError(); /* clear the sticky-free error state */
  *out = NULL;
  return ia_error_set(IA_ERR_NOMEM, __FILE__, __LINE__,
                      "cannot allocate %.3f GiB of GPU memory for %s (%.3f GiB free on %s)",
                      (double)bytes / 1073741824.0, what,
                      (double)ia_cuda_free_bytes(c) / 1073741824.0, c->desc);
}

void ia_cuda_free(ia_cuda *c, void *p) {
  if (!p) return;
  cudaStreamSynchronize(c->stream); /* no kernel may still use it */
  cudaFree(p);
}

/* Device room for a reduction's results: one buffer kept by the backend, so
 * that the losses and sums of every training step allocate nothing (a
 * cudaFree waits for the whole device). One user at a time: each reduction
 * copies its results to the host before it returns. */
static ia_status scratch(ia_cuda *c, size_t bytes, double **out) {
  if (bytes > c->scratch_bytes) {
    ia_cuda_free(c, c->scratch);
    c->scratch = NULL, c->scratch_bytes = 0;
    IA_CALL(ia_cuda_alloc(c, bytes, "reduction results", (void **)&c->scratch));
    c->scratch_bytes = bytes;
  }
  *out = c->scratch;
  return IA_OK;
}

ia_status ia_cuda_memcpy(ia_cuda *c, void *dst, const void *src, size_t bytes, int kind) {
  if (bytes == 0 || dst == src) return IA_OK;
  cudaMemcpyKind k = kind == IA_H2D   ? cudaMemcpyHostToDevice
                     : kind == IA_D2H ? cudaMemcpyDeviceToHost
                                      : cudaMemcpyDeviceToDevice;
  IA_CALL(CUDA(cudaMemcpyAsync(dst, src, bytes, k, c->stream)));
  /* The host side of a transfer is free to change once we return. */
  if (kind != IA_D2D) IA_CALL(CUDA(cudaStreamSynchronize(c->stream)));
  return IA_OK;
}

ia_status ia_cuda_copy_peer(ia_cuda *c, void *dst, size_t dpitch, ia_cuda *src_c, const void *src,
                            size_t spitch, size_t width, int64_t cols) {
  /* The source's queued work first; the copy on the destination's stream. */
  IA_CALL(CUDA(cudaSetDevice(src_c->device)));
  IA_CALL(CUDA(cudaStreamSynchronize(src_c->stream)));
  IA_CALL(CUDA(cudaSetDevice(c->device)));
  if (src_c->device == c->device) {
    IA_CALL(CUDA(cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, (size_t)cols,
                                   cudaMemcpyDeviceToDevice, c->stream)));
  } else {
    cudaMemcpy3DPeerParms q;
    memset(&q, 0, sizeof q);
    q.srcPtr = make_cudaPitchedPtr(const_cast<void *>(src), spitch, width, (size_t)cols);
    q.srcDevice = src_c->device;
    q.dstPtr = make_cudaPitchedPtr(dst, dpitch, width, (size_t)cols);
    q.dstDevice = c->device;
    q.extent = make_cudaExtent(width, (size_t)cols, 1);
    IA_CALL(CUDA(cudaMemcpy3DPeerAsync(&q, c->stream)));
  }
  return CUDA(cudaStreamSynchronize(c->stream));
}

ia_status ia_cuda_upload2d(ia_cuda *c, void *dst, size_t dpitch, const void *src, size_t spitch,
                           size_t width, int64_t cols) {
  IA_CALL(CUDA(cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, (size_t)cols,
                                 cudaMemcpyHostToDevice, c->stream)));
  return CUDA(cudaStreamSynchronize(c->stream)); /* the host side may change on return */
}

ia_status ia_cuda_download2d(ia_cuda *c, void *dst, size_t dpitch, const void *src,
                             size_t spitch, size_t width, int64_t cols) {
  IA_CALL(CUDA(cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, (size_t)cols,
                                 cudaMemcpyDeviceToHost, c->stream)));
  return CUDA(cudaStreamSynchronize(c->stream));
}

ia_status ia_cuda_zero(ia_cuda *c, void *p, size_t bytes) {
  return CUDA(cudaMemsetAsync(p, 0, bytes, c->stream));
}

ia_status ia_cuda_csr_make(ia_cuda *c, const ia_csr *host, ia_be_csr *out) {
  int64_t nnz = host->indptr ? host->indptr[host->n_rows] : 0;
  void *ip = NULL, *ix = NULL;
  ia_status st = ia_cuda_alloc(c, sizeof(int64_t) * (size_t)(host->n_rows + 1), "CSR rows", &ip);
  if (st == IA_OK)
    st = ia_cuda_alloc(c, sizeof(int32_t) * (size_t)(nnz > 0 ? nnz : 1), "CSR items", &ix);
  if (st == IA_OK && host->indptr)
    st = ia_cuda_memcpy(c, ip, host->indptr, sizeof(int64_t) * (size_t)(host->n_rows + 1),
                        IA_H2D);
  else if (st == IA_OK)
    st = ia_cuda_zero(c, ip, sizeof(int64_t));
  if (st == IA_OK && nnz > 0)
    st = ia_cuda_memcpy(c, ix, host->indices, sizeof(int32_t) * (size_t)nnz, IA_H2D);
  if (st != IA_OK) {
    ia_cuda_free(c, ip);
    ia_cuda_free(c, ix);
    return st;
  }
  out->indptr = (const int64_t *)ip;
  out->indices = (const int32_t *)ix;
  out->owned_indptr = ip;
  out->owned_indices = ix;
  return IA_OK;
}

/* ---- dense linear algebra ------------------------------------------------------ */

static cublasOperation_t op(char t) { return t == 'T' ? CUBLAS_OP_T : CUBLAS_OP_N; }

ia_status ia_cuda_trsm(ia_cuda *c, ia_precision p, char side, char ta, int64_t m, int64_t n,
                       const void *a, int64_t lda, void *b, int64_t ldb) {
  if (m <= 0 || n <= 0) return IA_OK;
  cublasSideMode_t sd = side == 'R' ? CUBLAS_SIDE_RIGHT : CUBLAS_SIDE_LEFT;
  if (p == IA_FP64) {
    const double one = 1.0;
    return CUBLAS(cublasDtrsm_64(c->blas, sd, CUBLAS_FILL_MODE_LOWER, op(ta), CUBLAS_DIAG_NON_UNIT,
                                 m, n, &one, (const double *)a, lda, (double *)b, ldb));
  }
  const float one = 1.0f;
  return CUBLAS(cublasStrsm_64(c->blas, sd, CUBLAS_FILL_MODE_LOWER, op(ta), CUBLAS_DIAG_NON_UNIT, m,
                               n, &one, (const float *)a, lda, (float *)b, ldb));
}

ia_status ia_cuda_gemm(ia_cuda *c, ia_precision p, char ta, char tb, int64_t m, int64_t n,
                       int64_t k, double alpha, const void *a, int64_t lda, const void *b,
                       int64_t ldb, double beta, void *cm, int64_t ldc) {
  if (m <= 0 || n <= 0) return IA_OK;
  if (p == IA_FP64)
    return CUBLAS(cublasDgemm_64(c->blas, op(ta), op(tb), m, n, k, &alpha, (const double *)a, lda,
                                 (const double *)b, ldb, &beta, (double *)cm, ldc));
  float al = (float)alpha, be = (float)beta;
  return CUBLAS(cublasSgemm_64(c->blas, op(ta), op(tb), m, n, k, &al, (const float *)a, lda,
                               (const float *)b, ldb, &be, (float *)cm, ldc));
}

static cudaDataType real_type(ia_precision p) { return p == IA_FP64 ? CUDA_R_64F : CUDA_R_32F; }

ia_status ia_cuda_potrf(ia_cuda *c, ia_precision p, int64_t n, void *a, int64_t lda,
                        int64_t *info) {
  size_t dev_bytes = 0, host_bytes = 0;
  cudaDataType t = real_type(p);
  IA_CALL(CUSOLVER(cusolverDnXpotrf_bufferSize(c->solver, c->params, CUBLAS_FILL_MODE_LOWER, n, t,
                                               a, lda, t, &dev_bytes, &host_bytes)));
  if (dev_bytes > c->work_bytes) {
    ia_cuda_free(c, c->work);
    c->work = NULL;
    c->work_bytes = 0;
    IA_CALL(ia_cuda_alloc(c, dev_bytes, "Cholesky workspace", &c->work));
    c->work_bytes = dev_bytes;
  }
  void *host = host_bytes ? malloc(host_bytes) : NULL;
  IA_CHECK(host_bytes == 0 || host, IA_ERR_NOMEM, "cannot allocate the Cholesky host workspace");
  int h_info = 0;
  ia_status st = CUSOLVER(cusolverDnXpotrf(c->solver, c->params, CUBLAS_FILL_MODE_LOWER, n, t, a,
                                           lda, t, c->work, c->work_bytes, host, host_bytes,
                                           c->d_info));
  if (st == IA_OK) st = ia_cuda_memcpy(c, &h_info, c->d_info, sizeof(int), IA_D2H);
  free(host);
  IA_CALL(st);
  IA_CHECK(h_info >= 0, IA_ERR_LAPACK, "cusolverDnXpotrf: argument %d is invalid", -h_info);
  *info = h_info;
  return IA_OK;
}

ia_status ia_cuda_potrs(ia_cuda *c, ia_precision p, int64_t n, int64_t nrhs, const void *a,
                        int64_t lda, void *b, int64_t ldb) {
  cudaDataType t = real_type(p);
  int h_info = 0;
  IA_CALL(CUSOLVER(cusolverDnXpotrs(c->solver, c->params, CUBLAS_FILL_MODE_LOWER, n, nrhs, t, a,
                                    lda, t, b, ldb, c->d_info)));
  IA_CALL(ia_cuda_memcpy(c, &h_info, c->d_info, sizeof(int), IA_D2H));
  IA_CHECK(h_info == 0, IA_ERR_LAPACK, "cusolverDnXpotrs: argument %d is invalid", -h_info);
  return IA_OK;
}

ia_status ia_cuda_add(ia_cuda *c, ia_precision p, char t, int64_t m, int64_t n, const void *x,
                      int64_t ldx, void *y, int64_t ldy) {
  /* geam in place: C = B with the same leading dimension (B untransposed,
   * which cuBLAS's in-place mode asks for; A may be transposed). */
  if (p == IA_FP64) {
    const double one = 1.0;
    return CUBLAS(cublasDgeam_64(c->blas, op(t), CUBLAS_OP_N, m, n, &one, (const double *)x, ldx,
                                 &one, (const double *)y, ldy, (double *)y, ldy));
  }
  const float one = 1.0f;
  return CUBLAS(cublasSgeam_64(c->blas, op(t), CUBLAS_OP_N, m, n, &one, (const float *)x, ldx,
                               &one, (const float *)y, ldy, (float *)y, ldy));
}

template <typename T> __global__ void diag_add_kernel(int64_t n, T *a, int64_t lda, double v) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    T *x = a + i * lda + i;
    *x = (T)((double)*x + v); /* as the CPU: the sum in double, rounded once */
  }
}

ia_status ia_cuda_diag_add(ia_cuda *c, ia_precision p, int64_t n, void *a, int64_t lda, double v) {
  if (n <= 0) return IA_OK;
  if (p == IA_FP64)
    diag_add_kernel<double><<<blocks_for(n, 256), 256, 0, c->stream>>>(n, (double *)a, lda, v);
  else
    diag_add_kernel<float><<<blocks_for(n, 256), 256, 0, c->stream>>>(n, (float *)a, lda, v);
  return LAUNCHED();
}

/* One block: a fixed summation order, so the trace is the same every run. */
template <typename T>
__global__ void diag_sum_kernel(int64_t n, const T *a, int64_t lda, double *out) {
  __shared__ double part[256];
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += (double)a[i * lda + i];
  part[threadIdx.x] = s;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w /= 2) {
    if ((int)threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) *out = part[0];
}

ia_status ia_cuda_diag_sum(ia_cuda *c, ia_precision p, int64_t n, const void *a, int64_t lda,
                           double *sum) {
  double *d = NULL;
  IA_CALL(scratch(c, sizeof(double), &d));
  if (p == IA_FP64)
    diag_sum_kernel<double><<<1, 256, 0, c->stream>>>(n, (const double *)a, lda, d);
  else
    diag_sum_kernel<float><<<1, 256, 0, c->stream>>>(n, (const float *)a, lda, d);
  ia_status st = LAUNCHED();
  if (st == IA_OK) st = ia_cuda_memcpy(c, sum, d, sizeof(double), IA_D2H);
  return st;
}

/* ---- densified panels --------------------------------------------------------- */

template <typename T> __device__ T one_value() { return (T)1; }
template <> __device__ __half one_value<__half>() { return __float2half(1.0f); }

/* Ones at the items in [i0, i1) of rows [r0, r1) of a, as rows 0.. of the
 * panel p (leading dimension ld, already zero): one warp per row. */
template <typename T>
__global__ void scatter_kernel(const int64_t *indptr, const int32_t *indices, int64_t r0,
                               int64_t r1, int32_t i0, int32_t i1, T *p, int64_t ld) {
  int lane = threadIdx.x % 32;
  int64_t warp = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / 32;
  int64_t warps = (int64_t)gridDim.x * blockDim.x / 32;
  for (int64_t r = r0 + warp; r < r1; r += warps)
    for (int64_t e = indptr[r] + lane; e < indptr[r + 1]; e += 32) {
      int32_t it = indices[e];
      if (it >= i0 && it < i1) p[(int64_t)(it - i0) * ld + (r - r0)] = one_value<T>();
    }
}

template <typename T>
static ia_status scatter(ia_cuda *c, const ia_be_csr *a, int64_t r0, int64_t r1, int64_t i0,
                         int64_t i1, T *p, int64_t ld) {
  if (r1 <= r0) return IA_OK;
  scatter_kernel<T><<<blocks_for((r1 - r0) * 32, 256), 256, 0, c->stream>>>(
      a->indptr, a->indices, r0, r1, (int32_t)i0, (int32_t)i1, p, ld);
  return LAUNCHED();
}

/* Zeroes rows × cols of a column-major array with leading dimension ld. */
static ia_status zero2d(ia_cuda *c, void *p, size_t es, int64_t ld, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return IA_OK;
  return CUDA(cudaMemset2DAsync(p, es * (size_t)ld, 0, es * (size_t)rows, (size_t)cols, c->stream));
}

ia_status ia_cuda_densify(ia_cuda *c, ia_precision p, const ia_be_csr *a, int64_t d, void *out,
                          int64_t ld) {
  IA_CALL(zero2d(c, out, esize(p), ld, a->n_rows, d));
  if (p == IA_FP64) return scatter<double>(c, a, 0, a->n_rows, 0, d, (double *)out, ld);
  return scatter<float>(c, a, 0, a->n_rows, 0, d, (float *)out, ld);
}

/* ---- NTK tiles ------------------------------------------------------------------- */

/* out(i, j) = NTK(g(i, j), nr_i, nc_j) for i ≥ rstart_j (g and out may be
 * the same float array). */
template <typename T>
__global__ void ntk_kernel(int64_t mloc, int64_t ncols, const float *g, int64_t ldg,
                           const double *nr, const double *nc, const int64_t *rstart, double d,
                           T *out, int64_t ldo) {
  int64_t total = mloc * ncols;
  for (int64_t x = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; x < total;
       x += (int64_t)gridDim.x * blockDim.x) {
    int64_t i = x % mloc, j = x / mloc;
    if (i < rstart[j]) continue;
    double xy = (double)g[j * ldg + i];
    out[j * ldo + i] = (T)ia_ntk(xy, nr[i], nc[j], d);
  }
}

static int64_t round_up(int64_t v, int64_t to) { return (v + to - 1) / to * to; }

/* The Gram is exact: 0/1 panels in FP16, products summed in FP32 (integers
 * below 2^24), on the tensor cores. */
ia_status ia_cuda_ntk_tiles(ia_cuda *c, ia_precision p, const ia_be_csr *ra, const ia_be_csr *rb,
                            const double *nr, const ia_be_csr *cols, const double *nc,
                            const ia_be_layout *lay, int64_t c0, int64_t c1, int64_t d,
                            int64_t panel_bytes, void *out, int64_t ldo, double *flops) {
  ia_status st = IA_OK;
  int64_t mloc = ra->n_rows, ncols = c1 - c0, nb = lay->nb;
  *flops = 0;
  if (mloc <= 0 || ncols <= 0) return IA_OK;
  IA_CHECK(d < (1 << 24), IA_ERR_RANGE, "%lld items: the FP32 Gram is exact below 2^24",
           (long long)d);
  int64_t lda = round_up(mloc, 8), ldb = round_up(ncols, 8);
  int64_t w = ia_be_panel_width(lda + ldb, d, sizeof(__half), panel_bytes);
  __half *pa = NULL, *pb = NULL;
  float *g = NULL;
  double *dnr = NULL, *dnc = NULL;
  int64_t *rs = NULL, *drs = NULL;
  int64_t ldg = p == IA_FP32 ? ldo : lda;
  rs = (int64_t *)malloc(sizeof(int64_t) * (size_t)ncols);
  IA_CHECK(rs != NULL, IA_ERR_NOMEM, "cannot allocate the row starts of a kernel tile");
  for (int64_t j = 0; j < ncols; j++) rs[j] = ia_be_first_row(lay, c0 + j);
  IA_CALL_GOTO(ia_cuda_alloc(c, sizeof(__half) * (size_t)(lda * w), "Gram row panel", (void **)&pa));
  IA_CALL_GOTO(ia_cuda_alloc(c, sizeof(__half) * (size_t)(ldb * w), "Gram column panel",
                             (void **)&pb));
  if (p == IA_FP32)
    g = (float *)out; /* the Gram in place, then the NTK over it */
  else
    IA_CALL_GOTO(ia_cuda_alloc(c, sizeof(float) * (size_t)(ldg * ncols), "FP32 Gram tile",
                               (void **)&g));
  IA_CALL_GOTO(ia_cuda_alloc(c, sizeof(double) * (size_t)mloc, "row norms", (void **)&dnr));
  IA_CALL_GOTO(ia_cuda_alloc(c, sizeof(double) * (size_t)ncols, "column norms", (void **)&dnc));
  IA_CALL_GOTO(ia_cuda_alloc(c, sizeof(int64_t) * (size_t)ncols, "row starts", (void **)&drs));
  IA_CALL_GOTO(ia_cuda_memcpy(c, dnr, nr, sizeof(double) * (size_t)mloc, IA_H2D));
  IA_CALL_GOTO(ia_cuda_memcpy(c, dnc, nc + c0, sizeof(double) * (size_t)ncols, IA_H2D));
  IA_CALL_GOTO(ia_cuda_memcpy(c, drs, rs, sizeof(int64_t) * (size_t)ncols, IA_H2D));
  for (int64_t i0 = 0; i0 < d; i0 += w) {
    int64_t i1 = i0 + w < d ? i0 + w : d;
    float one = 1.0f, beta = i0 == 0 ? 0.0f : 1.0f;
    IA_CALL_GOTO(ia_cuda_zero(c, pa, sizeof(__half) * (size_t)(lda * (i1 - i0))));
    IA_CALL_GOTO(ia_cuda_zero(c, pb, sizeof(__half) * (size_t)(ldb * (i1 - i0))));
    IA_CALL_GOTO(scatter<__half>(c, ra, 0, mloc, i0, i1, pa, lda));
    if (rb) IA_CALL_GOTO(scatter<__half>(c, rb, 0, mloc, i0, i1, pa, lda));
    IA_CALL_GOTO(scatter<__half>(c, cols, c0, c1, i0, i1, pb, ldb));
    /* With sym, one global column block at a time, from the rows it needs. */
    for (int64_t j0 = c0; j0 < c1;) {
      int64_t j1 = lay->sym ? (j0 / nb + 1) * nb : c1; /* without sym: one GEMM */
      if (j1 > c1) j1 = c1;
      int64_t r0 = rs[j0 - c0];
      if (r0 < mloc) {
        IA_CALL_GOTO(CUBLAS(cublasGemmEx_64(
            c->blas, CUBLAS_OP_N, CUBLAS_OP_T, mloc - r0, j1 - j0, i1 - i0, &one, pa + r0,
            CUDA_R_16F, lda, pb + (j0 - c0), CUDA_R_16F, ldb, &beta,
            g + (j0 - c0) * ldg + r0, CUDA_R_32F, ldg, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT)));
        *flops += 2.0 * (double)(mloc - r0) * (double)(j1 - j0) * (double)(i1 - i0);
      }
      j0 = j1;
    }
  }
  if (p == IA_FP64)
    ntk_kernel<double><<<blocks_for(mloc * ncols, 256), 256, 0, c->stream>>>(
        mloc, ncols, g, ldg, dnr, dnc, drs, (double)d, (double *)out, ldo);
  else
    ntk_kernel<float><<<blocks_for(mloc * ncols, 256), 256, 0, c->stream>>>(
        mloc, ncols, g, ldg, dnr, dnc, drs, (double)d, (float *)out, ldo);
  IA_CALL_GOTO(LAUNCHED());
  IA_CALL_GOTO(CUDA(cudaStreamSynchronize(c->stream)));
done:
  ia_cuda_free(c, pa);
  ia_cuda_free(c, pb);
  if (p == IA_FP64) ia_cuda_free(c, g);
  ia_cuda_free(c, dnr);
  ia_cuda_free(c, dnc);
  ia_cuda_free(c, drs);
  free(rs);
  return st;
}

/* ---- Gumbel-softmax rows (include/infae/core/gumbel.h) ------------------------------- */

/* The noise is the CPU's: the same Philox4x32-10 words (Random123 compiles
 * for the device), the same 23-bit uniforms and column mapping; −log(−log u)
 * in single precision may differ from the CPU's vector logf in the last bit. */
struct gumbel_args {
  uint32_t key0, key1, step;
  int samples;
  double inv_tau;
  int64_t d, full; /* full: Philox blocks in whole groups of 16 columns */
};

static gumbel_args make_args(const ia_gumbel *g) {
  gumbel_args a;
  a.key0 = (uint32_t)g->seed;
  a.key1 = (uint32_t)(g->seed >> 32);
  a.step = (uint32_t)g->step;
  a.samples = g->samples;
  a.inv_tau = 1.0 / g->tau;
  a.d = g->d;
  a.full = g->d / 16 * 4;
  return a;
}

/* Columns and logits y = (z + G_k)/τ of Philox block j of (row, k); a
 * column ≥ d is marked −1. */
__device__ void gumbel_block(const gumbel_args &g, uint32_t row, int k, int64_t j,
                             const double *z, int64_t col[4], double y[4]) {
  philox4x32_ctr_t c = {{(uint32_t)j, row, ((uint32_t)IA_RNG_GUMBEL << 24) | (uint32_t)k, g.step}};
  philox4x32_key_t key = {{g.key0, g.key1}};
  philox4x32_ctr_t o = philox4x32_R(10, c, key);
  for (int q = 0; q < 4; q++) {
    int64_t cq = j < g.full ? 16 * (j / 4) + 4 * q + j % 4 : 4 * j + q;
    col[q] = cq < g.d ? cq : -1;
    float u = ((float)(o.v[q] >> 9) + 0.5f) * 0x1.0p-23f;
    float noise = -logf(-logf(u));
    y[q] = col[q] >= 0 ? (z[cq] + (double)noise) * g.inv_tau : 0.0;
  }
}

/* Running (max, Σ exp(y − max)) pairs, merged. */
__device__ void ms_merge(double &m, double &s, double m2, double s2) {
  if (m2 > m) {
    s = s * exp(m - m2) + s2;
    m = m2;
  } else if (s2 > 0) {
    s += s2 * exp(m2 - m);
  }
}

/* Block-wide reductions (blockDim.x a multiple of 32, at most 1024). */
__device__ void block_ms(double &m, double &s) {
  __shared__ double sm[32], ss[32];
  for (int o = 16; o > 0; o /= 2)
    ms_merge(m, s, __shfl_down_sync(0xffffffffu, m, o), __shfl_down_sync(0xffffffffu, s, o));
  int w = threadIdx.x / 32, lane = threadIdx.x % 32, nw = blockDim.x / 32;
  __syncthreads();
  if (lane == 0) sm[w] = m, ss[w] = s;
  __syncthreads();
  if (w == 0) {
    m = lane < nw ? sm[lane] : -INFINITY;
    s = lane < nw ? ss[lane] : 0.0;
    for (int o = 16; o > 0; o /= 2)
      ms_merge(m, s, __shfl_down_sync(0xffffffffu, m, o), __shfl_down_sync(0xffffffffu, s, o));
    if (lane == 0) sm[0] = m, ss[0] = s;
  }
  __syncthreads();
  m = sm[0];
  s = ss[0];
}

__device__ double block_sum(double v) {
  __shared__ double sv[32];
  for (int o = 16; o > 0; o /= 2) v += __shfl_down_sync(0xffffffffu, v, o);
  int w = threadIdx.x / 32, lane = threadIdx.x % 32, nw = blockDim.x / 32;
  __syncthreads();
  if (lane == 0) sv[w] = v;
  __syncthreads();
  if (w == 0) {
    v = lane < nw ? sv[lane] : 0.0;
    for (int o = 16; o > 0; o /= 2) v += __shfl_down_sync(0xffffffffu, v, o);
    if (lane == 0) sv[0] = v;
  }
  __syncthreads();
  return sv[0];
}

/* (max, sum) of the logits of sample k over the row. */
__device__ void row_softmax_ms(const gumbel_args &g, uint32_t row, int k, const double *z,
                               double &m, double &s) {
  m = -INFINITY;
  s = 0;
  int64_t col[4];
  double y[4];
  for (int64_t j = threadIdx.x; 4 * j < g.d; j += blockDim.x) {
    gumbel_block(g, row, k, j, z, col, y);
    for (int q = 0; q < 4; q++)
      if (col[q] >= 0) ms_merge(m, s, y[q], 1.0);
  }
  block_ms(m, s);
}

/* One block per row: a = Σ_k softmax((z + G_k)/τ). Each thread owns the
 * columns of its Philox blocks, so a needs no atomics. */
__global__ void gumbel_rows_kernel(gumbel_args g, int64_t row0, const double *z, double *a) {
  const double *zr = z + blockIdx.x * g.d;
  double *ar = a + blockIdx.x * g.d;
  uint32_t row = (uint32_t)(row0 + blockIdx.x);
  int64_t col[4];
  double y[4];
  for (int64_t i = threadIdx.x; i < g.d; i += blockDim.x) ar[i] = 0;
  __syncthreads();
  for (int k = 0; k < g.samples; k++) {
    double m, s;
    row_softmax_ms(g, row, k, zr, m, s);
    double inv = 1.0 / s;
    for (int64_t j = threadIdx.x; 4 * j < g.d; j += blockDim.x) {
      gumbel_block(g, row, k, j, zr, col, y);
      for (int q = 0; q < 4; q++)
        if (col[q] >= 0) ar[col[q]] += exp(y[q] - m) * inv;
    }
  }
}

/* dz = Σ_k (1/τ)·p_k ⊙ (da − ⟨da, p_k⟩). */
__global__ void gumbel_rows_vjp_kernel(gumbel_args g, int64_t row0, const double *z,
                                       const double *da, double *dz) {
  const double *zr = z + blockIdx.x * g.d, *dar = da + blockIdx.x * g.d;
  double *dzr = dz + blockIdx.x * g.d;
  uint32_t row = (uint32_t)(row0 + blockIdx.x);
  int64_t col[4];
  double y[4];
  for (int64_t i = threadIdx.x; i < g.d; i += blockDim.x) dzr[i] = 0;
  __syncthreads();
  for (int k = 0; k < g.samples; k++) {
    double m, s, dot = 0;
    row_softmax_ms(g, row, k, zr, m, s);
    double inv = 1.0 / s;
    for (int64_t j = threadIdx.x; 4 * j < g.d; j += blockDim.x) {
      gumbel_block(g, row, k, j, zr, col, y);
      for (int q = 0; q < 4; q++)
        if (col[q] >= 0) dot += exp(y[q] - m) * inv * dar[col[q]];
    }
    dot = block_sum(dot);
    for (int64_t j = threadIdx.x; 4 * j < g.d; j += blockDim.x) {
      gumbel_block(g, row, k, j, zr, col, y);
      for (int q = 0; q < 4; q++)
        if (col[q] >= 0)
          dzr[col[q]] += g.inv_tau * exp(y[q] - m) * inv * (dar[col[q]] - dot);
    }
  }
}

static ia_status gumbel_check(const ia_gumbel *g, int64_t n) {
  IA_CHECK(n <= 2147483647 && g->d > 0 && (g->d + 3) / 4 <= 4294967295LL, IA_ERR_RANGE,
           "Gumbel-softmax on the GPU: %lld rows of %lld items are out of range", (long long)n,
           (long long)g->d);
  return IA_OK;
}

ia_status ia_cuda_gumbel_rows(ia_cuda *c, const ia_gumbel *g, int64_t row0, int64_t n,
                              const double *z, double *a) {
  if (n <= 0) return IA_OK;
  IA_CALL(gumbel_check(g, n));
  gumbel_rows_kernel<<<(unsigned)n, 256, 0, c->stream>>>(make_args(g), row0, z, a);
  return LAUNCHED();
}

ia_status ia_cuda_gumbel_rows_vjp(ia_cuda *c, const ia_gumbel *g, int64_t row0, int64_t n,
                                  const double *z, const double *da, double *dz) {
  if (n <= 0) return IA_OK;
  IA_CALL(gumbel_check(g, n));
  gumbel_rows_vjp_kernel<<<(unsigned)n, 256, 0, c->stream>>>(make_args(g), row0, z, da, dz);
  return LAUNCHED();
}

/* ---- all-reduce across ranks ------------------------------------------------------ */

static ia_status nccl_status(ncclResult_t e, const char *call, const char *file, int line) {
  if (e == ncclSuccess) return IA_OK;
  return ia_error_set(IA_ERR_DEVICE, file, line, "%s: %s", call, ncclGetErrorString(e));
}
#define NCCL(call) nccl_status((call), #call, __FILE__, __LINE__)

ia_status ia_cuda_nccl_init(ia_cuda *c, MPI_Comm comm) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  struct {
    ncclUniqueId id;
    int ok;
  } boot;
  memset(&boot, 0, sizeof boot);
  ia_status st = IA_OK;
  if (rank == 0) st = NCCL(ncclGetUniqueId(&boot.id));
  boot.ok = st == IA_OK;
  IA_MPI(MPI_Bcast(&boot, (int)sizeof boot, MPI_BYTE, 0, comm)); /* the others wait on rank 0 */
  if (!boot.ok) return rank == 0 ? st : IA_ERR_REMOTE;
  return NCCL(ncclCommInitRank(&c->nccl, size, boot.id, rank));
}

int ia_cuda_has_nccl(const ia_cuda *c) { return c->nccl != NULL; }

ia_status ia_cuda_allreduce_sum(ia_cuda *c, MPI_Comm comm, double *buf, int64_t n) {
  if (n <= 0) return IA_OK;
  if (c->nccl) {
    IA_CALL(NCCL(ncclAllReduce(buf, buf, (size_t)n, ncclDouble, ncclSum, c->nccl, c->stream)));
    return CUDA(cudaStreamSynchronize(c->stream));
  }
  size_t bytes = sizeof(double) * (size_t)n;
  if (bytes > c->stage_bytes) {
    double *p = (double *)realloc(c->stage, bytes);
    IA_CHECK(p != NULL, IA_ERR_NOMEM, "cannot allocate %.3f GiB to stage an all-reduce",
             (double)bytes / 1073741824.0);
    c->stage = p;
    c->stage_bytes = bytes;
  }
  IA_CALL(ia_cuda_memcpy(c, c->stage, buf, bytes, IA_D2H));
  IA_CALL(ia_allreduce_sum(comm, c->stage, n));
  return ia_cuda_memcpy(c, buf, c->stage, bytes, IA_H2D);
}

/* ---- finite autoencoder -------------------------------------------------------------- */

__device__ double act_value(int act, double x) {
  if (act == IA_ACT_RELU) return x > 0 ? x : 0;
  if (act == IA_ACT_TANH) return tanh(x);
  if (act == IA_ACT_SIGMOID) return 1.0 / (1.0 + exp(-x));
  return x;
}

__device__ double act_slope(int act, double y) {
  if (act == IA_ACT_RELU) return y > 0 ? 1.0 : 0.0;
  if (act == IA_ACT_TANH) return 1.0 - y * y;
  if (act == IA_ACT_SIGMOID) return y * (1.0 - y);
  return 1.0;
}

/* Grid-stride over the m × n entries of a column-major matrix. */
#define FOR_ENTRIES(m, n, i, j)                                                                \
  for (int64_t e_ = blockIdx.x * (int64_t)blockDim.x + threadIdx.x, i = e_ % (m),              \
               j = e_ / (m);                                                                   \
       e_ < (m) * (n);                                                                         \
       e_ += (int64_t)gridDim.x * blockDim.x, i = e_ % (m), j = e_ / (m))

__global__ void act_kernel(int act, int64_t m, int64_t n, double *x, int64_t ld) {
  FOR_ENTRIES(m, n, i, j) x[i + j * ld] = act_value(act, x[i + j * ld]);
}

__global__ void act_grad_kernel(int act, int64_t m, int64_t n, const double *y, int64_t ldy,
                                double *dy, int64_t lddy) {
  FOR_ENTRIES(m, n, i, j) dy[i + j * lddy] *= act_slope(act, y[i + j * ldy]);
}

__global__ void gather_cols_kernel(int64_t m, int64_t n, const double *src, int64_t lds,
                                   const int32_t *idx, double *dst, int64_t ldd) {
  FOR_ENTRIES(m, n, i, k) dst[i + k * ldd] = src[i + (int64_t)idx[k] * lds];
}

__global__ void scatter_add_cols_kernel(int64_t m, int64_t n, const double *src, int64_t lds,
                                        const int32_t *idx, double *dst, int64_t ldd) {
  FOR_ENTRIES(m, n, i, k) dst[i + (int64_t)idx[k] * ldd] += src[i + k * lds];
}

ia_status ia_cuda_act(ia_cuda *c, ia_act act, int64_t m, int64_t n, double *x, int64_t ld) {
  if (m <= 0 || n <= 0) return IA_OK;
  act_kernel<<<blocks_for(m * n, 256), 256, 0, c->stream>>>((int)act, m, n, x, ld);
  return LAUNCHED();
}

ia_status ia_cuda_act_grad(ia_cuda *c, ia_act act, int64_t m, int64_t n, const double *y,
                           int64_t ldy, double *dy, int64_t lddy) {
  if (m <= 0 || n <= 0) return IA_OK;
  act_grad_kernel<<<blocks_for(m * n, 256), 256, 0, c->stream>>>((int)act, m, n, y, ldy, dy,
                                                                  lddy);
  return LAUNCHED();
}

ia_status ia_cuda_gather_cols(ia_cuda *c, int64_t m, int64_t n, const double *src, int64_t lds,
                              const int32_t *idx, double *dst, int64_t ldd) {
  if (m <= 0 || n <= 0) return IA_OK;
  gather_cols_kernel<<<blocks_for(m * n, 256), 256, 0, c->stream>>>(m, n, src, lds, idx, dst,
                                                                     ldd);
  return LAUNCHED();
}

ia_status ia_cuda_scatter_add_cols(ia_cuda *c, int64_t m, int64_t n, const double *src,
                                   int64_t lds, const int32_t *idx, double *dst, int64_t ldd) {
  if (m <= 0 || n <= 0) return IA_OK;
  scatter_add_cols_kernel<<<blocks_for(m * n, 256), 256, 0, c->stream>>>(m, n, src, lds, idx,
                                                                          dst, ldd);
  return LAUNCHED();
}

/* One thread per row (user): neighbouring threads read neighbouring rows of
 * the column-major block. The row's loss goes to rowloss[r]. */
__global__ void recon_loss_kernel(int kind, int64_t m, int64_t n, double *o, int64_t ldo,
                                  const double *t, int64_t ldt, double conf, double scale,
                                  double *rowloss) {
  for (int64_t r = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; r < m;
       r += (int64_t)gridDim.x * blockDim.x) {
    double *orow = o + r;
    const double *trow = t + r;
    double total = 0;
    if (kind == IA_LOSS_MSE) {
      for (int64_t j = 0; j < n; j++) {
        double tv = trow[j * ldt], w = 1.0 + conf * tv, e = orow[j * ldo] - tv;
        total += w * e * e;
        orow[j * ldo] = scale * 2.0 * w * e;
      }
    } else {
      /* As the CPU: one exp per entry, kept in o. */
      double mx = -INFINITY, sum = 0, wt = 0;
      for (int64_t j = 0; j < n; j++) {
        double ov = orow[j * ldo], tv = trow[j * ldt], wv = (1.0 + conf * tv) * tv;
        mx = fmax(mx, ov);
        total -= wv * ov;
        wt += wv;
      }
      for (int64_t j = 0; j < n; j++) {
        double e = exp(orow[j * ldo] - mx);
        orow[j * ldo] = e;
        sum += e;
      }
      if (n > 0) total += wt * (mx + log(sum));
      for (int64_t j = 0; j < n; j++) {
        double tv = trow[j * ldt], wv = (1.0 + conf * tv) * tv;
        orow[j * ldo] = scale * (orow[j * ldo] / sum * wt - wv);
      }
    }
    rowloss[r] = total;
  }
}

ia_status ia_cuda_recon_loss(ia_cuda *c, ia_loss kind, int64_t m, int64_t n, double *o,
                             int64_t ldo, const double *t, int64_t ldt, double conf, double scale,
                             double *loss) {
  *loss = 0;
  if (m <= 0) return IA_OK;
  double *d = NULL, *h = NULL;
  IA_CALL(scratch(c, sizeof(double) * (size_t)m, &d));
  recon_loss_kernel<<<blocks_for(m, 128), 128, 0, c->stream>>>((int)kind, m, n, o, ldo, t, ldt,
                                                                conf, scale, d);
  ia_status st = LAUNCHED();
  if (st == IA_OK) st = IA_ALLOC(h, m, "row losses");
  if (st == IA_OK) st = ia_cuda_memcpy(c, h, d, sizeof(double) * (size_t)m, IA_D2H);
  /* Summed on the host in row order, as the CPU does. */
  for (int64_t r = 0; st == IA_OK && r < m; r++) *loss += h[r];
  *loss *= scale;
  free(h);
  return st;
}

__global__ void adam_kernel(ia_adam a, int64_t n, double *x, const double *g, double *m,
                            double *v) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
       e += (int64_t)gridDim.x * blockDim.x) {
    m[e] = a.beta1 * m[e] + (1.0 - a.beta1) * g[e];
    v[e] = a.beta2 * v[e] + (1.0 - a.beta2) * g[e] * g[e];
    x[e] -= a.lr * (m[e] / a.c1) / (sqrt(v[e] / a.c2) + a.eps);
  }
}

ia_status ia_cuda_adam(ia_cuda *c, const ia_adam *a, int64_t n, double *x, const double *g,
                       double *m, double *v) {
  if (n <= 0) return IA_OK;
  adam_kernel<<<blocks_for(n, 256), 256, 0, c->stream>>>(*a, n, x, g, m, v);
  return LAUNCHED();
}

/* ---- Distill-CF step --------------------------------------------------------------- */

#define FOR_VALUES(n, e)                                                                       \
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < (n);                    \
       e += (int64_t)gridDim.x * blockDim.x)

__global__ void axpy_kernel(int64_t n, double alpha, const double *x, double *y) {
  FOR_VALUES(n, e) y[e] += alpha * x[e];
}

ia_status ia_cuda_axpy(ia_cuda *c, int64_t n, double alpha, const double *x, double *y) {
  if (n <= 0) return IA_OK;
  axpy_kernel<<<blocks_for(n, 256), 256, 0, c->stream>>>(n, alpha, x, y);
  return LAUNCHED();
}

/* Sum of a block's values (blockDim.x a power of two ≤ 256), in a fixed order. */
template <bool MAX> __device__ double block_reduce(double v) {
  __shared__ double part[256];
  __syncthreads(); /* part may still be read by an earlier call */
  part[threadIdx.x] = v;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w /= 2) {
    if ((int)threadIdx.x < w)
      part[threadIdx.x] = MAX ? fmax(part[threadIdx.x], part[threadIdx.x + w])
                              : part[threadIdx.x] + part[threadIdx.x + w];
    __syncthreads();
  }
  return part[0];
}

/* Two passes with a fixed grid, so the sum is the same every run. */
enum { SUM_BLOCKS = 256 };
__global__ void sum_kernel(int64_t n, const double *x, double *out) {
  double s = 0;
  FOR_VALUES(n, e) s += x[e];
  s = block_reduce<false>(s);
  if (threadIdx.x == 0) out[blockIdx.x] = s;
}

ia_status ia_cuda_sum(ia_cuda *c, int64_t n, const double *x, double *sum) {
  double *part = NULL;
  IA_CALL(scratch(c, sizeof(double) * (SUM_BLOCKS + 1), &part));
  sum_kernel<<<SUM_BLOCKS, 256, 0, c->stream>>>(n, x, part);
  ia_status st = LAUNCHED();
  if (st == IA_OK) {
    sum_kernel<<<1, 256, 0, c->stream>>>(SUM_BLOCKS, part, part + SUM_BLOCKS);
    st = LAUNCHED();
  }
  if (st == IA_OK) st = ia_cuda_memcpy(c, sum, part + SUM_BLOCKS, sizeof(double), IA_D2H);
  return st;
}

__global__ void diag_get_kernel(int64_t n, const double *a, int64_t lda, double *out) {
  FOR_VALUES(n, i) out[i] = a[i * lda + i];
}

ia_status ia_cuda_diag_get(ia_cuda *c, int64_t n, const double *a, int64_t lda, double *out) {
  if (n <= 0) return IA_OK;
  diag_get_kernel<<<blocks_for(n, 256), 256, 0, c->stream>>>(n, a, lda, out);
  return LAUNCHED();
}

__global__ void hardtanh_kernel(int64_t n, const double *a, double *s) {
  FOR_VALUES(n, e) s[e] = a[e] < 1.0 ? a[e] : 1.0;
}

__global__ void hardtanh_vjp_kernel(int64_t n, const double *a, double add, double *ds) {
  FOR_VALUES(n, e) ds[e] = a[e] < 1.0 ? ds[e] + add : 0.0;
}

ia_status ia_cuda_hardtanh(ia_cuda *c, int64_t n, const double *a, double *s) {
  if (n <= 0) return IA_OK;
  hardtanh_kernel<<<blocks_for(n, 256), 256, 0, c->stream>>>(n, a, s);
  return LAUNCHED();
}

ia_status ia_cuda_hardtanh_vjp(ia_cuda *c, int64_t n, const double *a, double add, double *ds) {
  if (n <= 0) return IA_OK;
  hardtanh_vjp_kernel<<<blocks_for(n, 256), 256, 0, c->stream>>>(n, a, add, ds);
  return LAUNCHED();
}

__global__ void scale_cols_add_kernel(int64_t m, int64_t n, double cf, const double *w,
                                      const double *x, int64_t ldx, double *y, int64_t ldy) {
  FOR_ENTRIES(m, n, i, j) y[i + j * ldy] += cf * w[j] * x[i + j * ldx];
}

ia_status ia_cuda_scale_cols_add(ia_cuda *c, int64_t m, int64_t n, double cf, const double *w,
                                 const double *x, int64_t ldx, double *y, int64_t ldy) {
  if (m <= 0 || n <= 0) return IA_OK;
  scale_cols_add_kernel<<<blocks_for(m * n, 256), 256, 0, c->stream>>>(m, n, cf, w, x, ldx, y,
                                                                        ldy);
  return LAUNCHED();
}

/* Ones at the items of row rows[u] in column u of out (already zero): one
 * warp per column. */
__global__ void densify_rows_kernel(const int64_t *indptr, const int32_t *indices,
                                    const int32_t *rows, int64_t n, double *out, int64_t ld) {
  int lane = threadIdx.x % 32;
  int64_t warp = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / 32;
  int64_t warps = (int64_t)gridDim.x * blockDim.x / 32;
  for (int64_t u = warp; u < n; u += warps)
    for (int64_t e = indptr[rows[u]] + lane; e < indptr[rows[u] + 1]; e += 32)
      out[u * ld + indices[e]] = 1.0;
}

ia_status ia_cuda_densify_rows(ia_cuda *c, const ia_be_csr *a, const int32_t *rows, int64_t n,
                               int64_t d, double *out, int64_t ld) {
  if (n <= 0) return IA_OK;
  IA_CALL(zero2d(c, out, sizeof(double), ld, d, n));
  densify_rows_kernel<<<blocks_for(n * 32, 256), 256, 0, c->stream>>>(a->indptr, a->indices, rows,
                                                                       n, out, ld);
  return LAUNCHED();
}

__global__ void ntk_dense_kernel(int64_t m, int64_t n, double d, const double *g, int64_t ldg,
                                 const double *nr, const double *nc, double *k, int64_t ldk,
                                 double *dxy, double *dnr) {
  FOR_ENTRIES(m, n, i, j) {
    double x = g[i + j * ldg], gyy;
    if (dxy)
      k[i + j * ldk] = ia_ntk_grad(x, nr[i], nc[j], d, &dxy[i + j * m], &dnr[i + j * m], &gyy);
    else
      k[i + j * ldk] = ia_ntk(x, nr[i], nc[j], d);
  }
}

ia_status ia_cuda_ntk_dense(ia_cuda *c, int64_t m, int64_t n, double d, const double *g,
                            int64_t ldg, const double *nr, const double *nc, double *k,
                            int64_t ldk, double *dxy, double *dnr) {
  if (m <= 0 || n <= 0) return IA_OK;
  ntk_dense_kernel<<<blocks_for(m * n, 256), 256, 0, c->stream>>>(m, n, d, g, ldg, nr, nc, k, ldk,
                                                                   dxy, dnr);
  return LAUNCHED();
}

/* One thread per row i: neighbouring threads read neighbouring entries. */
__global__ void ntk_dense_vjp_kernel(int64_t m, int64_t n, double *dk, int64_t ldk,
                                     const double *dxy, const double *dnr, double *dn) {
  FOR_VALUES(m, i) {
    double acc = 0;
    for (int64_t j = 0; j < n; j++) {
      acc += dk[i + j * ldk] * dnr[i + j * m];
      dk[i + j * ldk] *= dxy[i + j * m];
    }
    dn[i] += acc;
  }
}

ia_status ia_cuda_ntk_dense_vjp(ia_cuda *c, int64_t m, int64_t n, double *dk, int64_t ldk,
                                const double *dxy, const double *dnr, double *dn) {
  if (m <= 0 || n <= 0) return IA_OK;
  ntk_dense_vjp_kernel<<<blocks_for(m, 128), 128, 0, c->stream>>>(m, n, dk, ldk, dxy, dnr, dn);
  return LAUNCHED();
}

__global__ void ntk_sym_vjp_kernel(int64_t mu, double d, const double *g, int64_t ldg,
                                   const double *n, const double *dk, int64_t ldk, double *dg,
                                   int64_t lddg, double *dn) {
  FOR_VALUES(mu, i) dn[i] = ia_ntk_sym_vjp_row(i, mu, d, g, ldg, n, dk, ldk, dg, lddg);
}

ia_status ia_cuda_ntk_sym_vjp(ia_cuda *c, int64_t mu, double d, const double *g, int64_t ldg,
                              const double *n, const double *dk, int64_t ldk, double *dg,
                              int64_t lddg, double *dn) {
  if (mu <= 0) return IA_OK;
  ntk_sym_vjp_kernel<<<blocks_for(mu, 128), 128, 0, c->stream>>>(mu, d, g, ldg, n, dk, ldk, dg,
                                                                  lddg, dn);
  return LAUNCHED();
}

/* One block per prediction column. */
__global__ void softmax_ce_kernel(int64_t d, int64_t n, double *p, int64_t ldp,
                                  const int64_t *indptr, const int32_t *indices,
                                  const int32_t *rows, double scale, int grad, double *colloss) {
  for (int64_t u = blockIdx.x; u < n; u += gridDim.x) {
    double *col = p + u * ldp;
    const int32_t *items = indices + indptr[rows[u]];
    int64_t ni = indptr[rows[u] + 1] - indptr[rows[u]];
    double mx = -INFINITY, sum = 0, hit = 0;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) mx = fmax(mx, col[i]);
    mx = block_reduce<true>(mx);
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) sum += exp(col[i] - mx);
    sum = block_reduce<false>(sum);
    for (int64_t q = threadIdx.x; q < ni; q += blockDim.x) hit += col[items[q]];
    hit = block_reduce<false>(hit);
    double lse = mx + log(sum);
    if (threadIdx.x == 0) colloss[u] = (double)ni * lse - hit;
    if (!grad) continue;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x)
      col[i] = scale * (double)ni * exp(col[i] - lse);
    __syncthreads();
    for (int64_t q = threadIdx.x; q < ni; q += blockDim.x) col[items[q]] -= scale;
    __syncthreads();
  }
}

ia_status ia_cuda_softmax_ce(ia_cuda *c, int64_t d, int64_t n, double *p, int64_t ldp,
                             const ia_be_csr *t, const int32_t *rows, double scale, int grad,
                             double *loss) {
  *loss = 0;
  if (n <= 0) return IA_OK;
  double *dl = NULL, *h = NULL;
  IA_CALL(scratch(c, sizeof(double) * (size_t)n, &dl));
  softmax_ce_kernel<<<blocks_for(n, 1), 256, 0, c->stream>>>(d, n, p, ldp, t->indptr, t->indices,
                                                              rows, scale, grad, dl);
  ia_status st = LAUNCHED();
  if (st == IA_OK) st = IA_ALLOC(h, n, "column losses");
  if (st == IA_OK) st = ia_cuda_memcpy(c, h, dl, sizeof(double) * (size_t)n, IA_D2H);
  /* Summed on the host in column order, as the CPU does. */
  for (int64_t u = 0; st == IA_OK && u < n; u++) *loss += h[u];
  free(h);
  return st;
}

/* ---- ranking ------------------------------------------------------------------------ */

__global__ void gather_items_kernel(int64_t n, const double *p, int64_t ldp,
                                    const int64_t *indptr, const int32_t *indices,
                                    const int32_t *rows, const int64_t *off, double *out) {
  for (int64_t u = blockIdx.x; u < n; u += gridDim.x) {
    int64_t b = indptr[rows[u]], len = indptr[rows[u] + 1] - b;
    for (int64_t q = threadIdx.x; q < len; q += blockDim.x)
      out[off[u] + q] = p[u * ldp + indices[b + q]];
  }
}

ia_status ia_cuda_gather_items(ia_cuda *c, int64_t n, const double *p, int64_t ldp,
                               const ia_be_csr *cs, const int32_t *rows, const int64_t *off,
                               double *out) {
  if (n <= 0) return IA_OK;
  gather_items_kernel<<<blocks_for(n, 1), 128, 0, c->stream>>>(n, p, ldp, cs->indptr, cs->indices,
                                                                rows, off, out);
  return LAUNCHED();
}

/* A key whose unsigned order is the order of the doubles (±0 as one). */
__device__ unsigned long long order_key(double x) {
  if (x == 0) x = 0.0;
  unsigned long long u = (unsigned long long)__double_as_longlong(x);
  return (u >> 63) ? ~u : (u | 0x8000000000000000ULL);
}

/* One block of RANK_THREADS per column: mask the context, find the key T of
 * the k-th best by an 8-bit radix select, take every item above T and the
 * lowest-indexed items equal to T, then order the k by (score, −index). */
enum { RANK_THREADS = 256 };
__global__ void rank_cols_kernel(int64_t d, int64_t n, double *p, int64_t ldp,
                                 const int64_t *aptr, const int32_t *aind, const int64_t *bptr,
                                 const int32_t *bind, const int32_t *rows, int k, int32_t *top,
                                 int64_t ldt) {
  __shared__ unsigned int hist[256];
  __shared__ int scan[RANK_THREADS];
  __shared__ int32_t sel[IA_TOPK];
  __shared__ unsigned long long selkey[IA_TOPK], prefix_s;
  __shared__ int remain_s, n_gt;
  const int tid = threadIdx.x;
  for (int64_t u = blockIdx.x; u < n; u += gridDim.x) {
    double *col = p + u * ldp;
    int64_t r = rows[u];
    for (int64_t e = aptr[r] + tid; e < aptr[r + 1]; e += RANK_THREADS) col[aind[e]] = -INFINITY;
    if (bptr)
      for (int64_t e = bptr[r] + tid; e < bptr[r + 1]; e += RANK_THREADS) col[bind[e]] = -INFINITY;
    __syncthreads();
    unsigned long long prefix = 0, mask = 0;
    int remain = k;
    for (int shift = 56; shift >= 0; shift -= 8) {
      for (int i = tid; i < 256; i += RANK_THREADS) hist[i] = 0;
      __syncthreads();
      for (int64_t i = tid; i < d; i += RANK_THREADS) {
        unsigned long long key = order_key(col[i]);
        if ((key & mask) == prefix) atomicAdd(&hist[(key >> shift) & 255], 1u);
      }
      __syncthreads();
      if (tid == 0) { /* the digit where the count from the top reaches remain */
        int cum = 0, dg = 255;
        for (; dg > 0 && cum + (int)hist[dg] < remain; dg--) cum += (int)hist[dg];
        prefix_s = prefix | ((unsigned long long)dg << shift);
        remain_s = remain - cum;
      }
      __syncthreads();
      prefix = prefix_s;
      remain = remain_s;
      mask |= 0xFFULL << shift;
    }
    /* prefix is T; k − remain items are above it. */
    if (tid == 0) n_gt = 0;
    __syncthreads();
    for (int64_t i = tid; i < d; i += RANK_THREADS) {
      unsigned long long key = order_key(col[i]);
      if (key > prefix) {
        int at = atomicAdd(&n_gt, 1);
        sel[at] = (int32_t)i;
        selkey[at] = key;
      }
    }
    __syncthreads();
    int base = k - remain, taken = 0;
    for (int64_t c0 = 0; c0 < d && taken < remain; c0 += RANK_THREADS) {
      int64_t i = c0 + tid;
      int flag = i < d && order_key(col[i]) == prefix;
      scan[tid] = flag;
      __syncthreads();
      for (int off = 1; off < RANK_THREADS; off <<= 1) { /* inclusive scan */
        int v = tid >= off ? scan[tid - off] : 0;
        __syncthreads();
        scan[tid] += v;
        __syncthreads();
      }
      int pos = taken + scan[tid] - flag;
      if (flag && pos < remain) {
        sel[base + pos] = (int32_t)i;
        selkey[base + pos] = prefix;
      }
      taken += scan[RANK_THREADS - 1];
      __syncthreads();
    }
    for (int t = tid; t < k; t += RANK_THREADS) {
      int rank = 0;
      for (int j = 0; j < k; j++)
        rank += selkey[j] > selkey[t] || (selkey[j] == selkey[t] && sel[j] < sel[t]);
      top[u * ldt + rank] = sel[t];
    }
    __syncthreads();
  }
}

ia_status ia_cuda_rank_cols(ia_cuda *c, int64_t d, int64_t n, double *p, int64_t ldp,
                            const ia_be_csr *ca, const ia_be_csr *cb, const int32_t *rows, int k,
                            int32_t *top, int64_t ldt) {
  if (n <= 0) return IA_OK;
  rank_cols_kernel<<<blocks_for(n, 1), RANK_THREADS, 0, c->stream>>>(
      d, n, p, ldp, ca->indptr, ca->indices, cb ? cb->indptr : NULL, cb ? cb->indices : NULL,
      rows, k, top, ldt);
  return LAUNCHED();
}

/* Neighbouring threads take neighbouring rows: the reads coalesce. */
template <typename T>
__global__ void rows_to_cols_kernel(const T *src, int64_t ld, const int32_t *rows, int64_t n,
                                    int64_t d, double scale, double beta, double *out,
                                    int64_t ldo) {
  FOR_ENTRIES(n, d, u, i) {
    double v = (double)src[rows[u] + i * ld], *o = out + u * ldo + i;
    *o = beta == 0 ? scale * v : beta * *o + scale * v;
  }
}

ia_status ia_cuda_rows_to_cols(ia_cuda *c, ia_precision p, const void *src, int64_t ld,
                               const int32_t *rows, int64_t n, int64_t d, double scale,
                               double beta, double *out, int64_t ldo) {
  if (n <= 0 || d <= 0) return IA_OK;
  if (p == IA_FP64)
    rows_to_cols_kernel<double><<<blocks_for(n * d, 256), 256, 0, c->stream>>>(
        (const double *)src, ld, rows, n, d, scale, beta, out, ldo);
  else
    rows_to_cols_kernel<float><<<blocks_for(n * d, 256), 256, 0, c->stream>>>(
        (const float *)src, ld, rows, n, d, scale, beta, out, ldo);
  return LAUNCHED();
}
