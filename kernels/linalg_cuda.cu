/* Dense linear algebra (cuBLAS, cuSOLVER), densified item panels and the
 * NTK tiles on the tensor cores. */
#include "cuda_impl.h"

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
  ia_status st =
      CUSOLVER(cusolverDnXpotrf(c->solver, c->params, CUBLAS_FILL_MODE_LOWER, n, t, a, lda, t,
                                c->work, c->work_bytes, host, host_bytes, c->d_info));
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
  return CUBLAS(cublasSgeam_64(c->blas, op(t), CUBLAS_OP_N, m, n, &one, (const float *)x, ldx, &one,
                               (const float *)y, ldy, (float *)y, ldy));
}

template <typename T>
__global__ void diag_add_kernel(int64_t n, T *a, int64_t lda, double v) {
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

/* Tiles of 32 × 32 below the diagonal: each block copies one through shared
 * memory, so that both sides are read and written by columns. */
template <typename T>
__global__ void tri_copy_kernel(int64_t n, T *a, int64_t lda, int restore) {
  __shared__ T tile[32][33];
  int64_t bi = blockIdx.x, bj = blockIdx.y; /* tile row and column, bi ≥ bj */
  if (bi < bj) return;
  int tx = threadIdx.x, ty = threadIdx.y; /* 32 × 8 threads */
  int64_t r0 = bi * 32, c0 = bj * 32;
  /* source: the lower tile (rows r0.., columns c0..) to save, or the upper
   * tile (rows c0.., columns r0..) to restore */
  for (int k = ty; k < 32; k += 8) {
    int64_t i = restore ? c0 + tx : r0 + tx, j = restore ? r0 + k : c0 + k;
    if (i < n && j < n) tile[k][tx] = a[j * lda + i];
  }
  __syncthreads();
  for (int k = ty; k < 32; k += 8) {
    int64_t i = restore ? r0 + tx : c0 + tx, j = restore ? c0 + k : r0 + k;
    /* restore writes the strictly lower triangle, save the strictly upper */
    if (i < n && j < n && (restore ? i > j : i < j)) a[j * lda + i] = tile[tx][k];
  }
}

template <typename T>
__global__ void diag_copy_kernel(int64_t n, T *a, int64_t lda, T *diag, int restore) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    if (restore)
      a[i * lda + i] = diag[i];
    else
      diag[i] = a[i * lda + i];
  }
}

ia_status ia_cuda_tri_copy(ia_cuda *c, ia_precision p, int64_t n, void *a, int64_t lda, void *diag,
                           int restore) {
  if (n <= 0) return IA_OK;
  int64_t t = (n + 31) / 32;
  dim3 grid((unsigned)t, (unsigned)t), block(32, 8);
  if (p == IA_FP64) {
    tri_copy_kernel<double><<<grid, block, 0, c->stream>>>(n, (double *)a, lda, restore);
    diag_copy_kernel<double>
        <<<blocks_for(n, 256), 256, 0, c->stream>>>(n, (double *)a, lda, (double *)diag, restore);
  } else {
    tri_copy_kernel<float><<<grid, block, 0, c->stream>>>(n, (float *)a, lda, restore);
    diag_copy_kernel<float>
        <<<blocks_for(n, 256), 256, 0, c->stream>>>(n, (float *)a, lda, (float *)diag, restore);
  }
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
  IA_CALL(ia_cuda_scratch(c, sizeof(double), &d));
  if (p == IA_FP64)
    diag_sum_kernel<double><<<1, 256, 0, c->stream>>>(n, (const double *)a, lda, d);
  else
    diag_sum_kernel<float><<<1, 256, 0, c->stream>>>(n, (const float *)a, lda, d);
  ia_status st = LAUNCHED();
  if (st == IA_OK) st = ia_cuda_memcpy(c, sum, d, sizeof(double), IA_D2H);
  return st;
}

/* ---- densified panels --------------------------------------------------------- */

template <typename T>
__device__ T one_value() {
  return (T)1;
}
template <>
__device__ __half one_value<__half>() {
  return __float2half(1.0f);
}

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
                           int depth, T *out, int64_t ldo) {
  int64_t total = mloc * ncols;
  for (int64_t x = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; x < total;
       x += (int64_t)gridDim.x * blockDim.x) {
    int64_t i = x % mloc, j = x / mloc;
    if (i < rstart[j]) continue;
    double xy = (double)g[j * ldg + i];
    out[j * ldo + i] = (T)ia_ntk(xy, nr[i], nc[j], d, depth);
  }
}

static int64_t round_up(int64_t v, int64_t to) { return (v + to - 1) / to * to; }

/* The Gram is exact: 0/1 panels in FP16, products summed in FP32 (integers
 * below 2^24), on the tensor cores. */
ia_status ia_cuda_ntk_tiles(ia_cuda *c, ia_precision p, const ia_be_csr *ra, const ia_be_csr *rb,
                            const double *nr, const ia_be_csr *cols, const double *nc,
                            const ia_be_layout *lay, int64_t c0, int64_t c1, int64_t d, int depth,
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
  IA_CALL_GOTO(
      ia_cuda_alloc(c, sizeof(__half) * (size_t)(lda * w), "Gram row panel", (void **)&pa));
  IA_CALL_GOTO(
      ia_cuda_alloc(c, sizeof(__half) * (size_t)(ldb * w), "Gram column panel", (void **)&pb));
  if (p == IA_FP32)
    g = (float *)out; /* the Gram in place, then the NTK over it */
  else
    IA_CALL_GOTO(
        ia_cuda_alloc(c, sizeof(float) * (size_t)(ldg * ncols), "FP32 Gram tile", (void **)&g));
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
            CUDA_R_16F, lda, pb + (j0 - c0), CUDA_R_16F, ldb, &beta, g + (j0 - c0) * ldg + r0,
            CUDA_R_32F, ldg, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT)));
        *flops += 2.0 * (double)(mloc - r0) * (double)(j1 - j0) * (double)(i1 - i0);
      }
      j0 = j1;
    }
  }
  if (p == IA_FP64)
    ntk_kernel<double><<<blocks_for(mloc * ncols, 256), 256, 0, c->stream>>>(
        mloc, ncols, g, ldg, dnr, dnc, drs, (double)d, depth, (double *)out, ldo);
  else
    ntk_kernel<float><<<blocks_for(mloc * ncols, 256), 256, 0, c->stream>>>(
        mloc, ncols, g, ldg, dnr, dnc, drs, (double)d, depth, (float *)out, ldo);
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
