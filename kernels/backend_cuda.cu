/* The CUDA backend object: opening a GPU, memory and transfers, the
 * all-reduce across ranks (NCCL, or MPI through the host). */
#include "cuda_impl.h"

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
ia_status ia_cuda_scratch(ia_cuda *c, size_t bytes, double **out) {
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

ia_status ia_cuda_download2d(ia_cuda *c, void *dst, size_t dpitch, const void *src, size_t spitch,
                             size_t width, int64_t cols) {
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
    st = ia_cuda_memcpy(c, ip, host->indptr, sizeof(int64_t) * (size_t)(host->n_rows + 1), IA_H2D);
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
