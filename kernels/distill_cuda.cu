/* Distill-CF's kernels: Gumbel-softmax rows (the CPU's Philox stream) and
 * the step's dense operations. */
#include "cuda_impl.h"

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
__device__ void gumbel_block(const gumbel_args &g, uint32_t row, int k, int64_t j, const double *z,
                             int64_t col[4], double y[4]) {
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
        if (col[q] >= 0) dzr[col[q]] += g.inv_tau * exp(y[q] - m) * inv * (dar[col[q]] - dot);
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

/* ---- Distill-CF step --------------------------------------------------------------- */

#define FOR_VALUES(n, e)                                                                           \
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < (n);                        \
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
template <bool MAX>
__device__ double block_reduce(double v) {
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
  IA_CALL(ia_cuda_scratch(c, sizeof(double) * (SUM_BLOCKS + 1), &part));
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
  scale_cols_add_kernel<<<blocks_for(m * n, 256), 256, 0, c->stream>>>(m, n, cf, w, x, ldx, y, ldy);
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

__global__ void ntk_dense_kernel(int64_t m, int64_t n, double d, int depth, const double *g,
                                 int64_t ldg, const double *nr, const double *nc, double *k,
                                 int64_t ldk, double *dxy, double *dnr) {
  FOR_ENTRIES(m, n, i, j) {
    double x = g[i + j * ldg], gyy;
    if (dxy)
      k[i + j * ldk] =
          ia_ntk_grad(x, nr[i], nc[j], d, depth, &dxy[i + j * m], &dnr[i + j * m], &gyy);
    else
      k[i + j * ldk] = ia_ntk(x, nr[i], nc[j], d, depth);
  }
}

ia_status ia_cuda_ntk_dense(ia_cuda *c, int64_t m, int64_t n, double d, int depth, const double *g,
                            int64_t ldg, const double *nr, const double *nc, double *k, int64_t ldk,
                            double *dxy, double *dnr) {
  if (m <= 0 || n <= 0) return IA_OK;
  ntk_dense_kernel<<<blocks_for(m * n, 256), 256, 0, c->stream>>>(m, n, d, depth, g, ldg, nr, nc, k,
                                                                  ldk, dxy, dnr);
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

__global__ void ntk_sym_vjp_kernel(int64_t mu, double d, int depth, const double *g, int64_t ldg,
                                   const double *n, const double *dk, int64_t ldk, double *dg,
                                   int64_t lddg, double *dn) {
  FOR_VALUES(mu, i) dn[i] = ia_ntk_sym_vjp_row(i, mu, d, depth, g, ldg, n, dk, ldk, dg, lddg);
}

ia_status ia_cuda_ntk_sym_vjp(ia_cuda *c, int64_t mu, double d, int depth, const double *g,
                              int64_t ldg, const double *n, const double *dk, int64_t ldk,
                              double *dg, int64_t lddg, double *dn) {
  if (mu <= 0) return IA_OK;
  ntk_sym_vjp_kernel<<<blocks_for(mu, 128), 128, 0, c->stream>>>(mu, d, depth, g, ldg, n, dk, ldk,
                                                                 dg, lddg, dn);
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
  IA_CALL(ia_cuda_scratch(c, sizeof(double) * (size_t)n, &dl));
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
