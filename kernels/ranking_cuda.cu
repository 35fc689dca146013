/* Ranking on the GPU: the scores of given items, a radix-select top-k per
 * user of the masked scores, rows to columns. */
#include "cuda_impl.h"

/* ---- ranking ------------------------------------------------------------------------ */

__global__ void gather_items_kernel(int64_t n, const double *p, int64_t ldp, const int64_t *indptr,
                                    const int32_t *indices, const int32_t *rows, const int64_t *off,
                                    double *out) {
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
__global__ void rank_cols_kernel(int64_t d, int64_t n, double *p, int64_t ldp, const int64_t *aptr,
                                 const int32_t *aind, const int64_t *bptr, const int32_t *bind,
                                 const int32_t *rows, int k, int32_t *top, int64_t ldt) {
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
      d, n, p, ldp, ca->indptr, ca->indices, cb ? cb->indptr : NULL, cb ? cb->indices : NULL, rows,
      k, top, ldt);
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
                               const int32_t *rows, int64_t n, int64_t d, double scale, double beta,
                               double *out, int64_t ldo) {
  if (n <= 0 || d <= 0) return IA_OK;
  if (p == IA_FP64)
    rows_to_cols_kernel<double><<<blocks_for(n * d, 256), 256, 0, c->stream>>>(
        (const double *)src, ld, rows, n, d, scale, beta, out, ldo);
  else
    rows_to_cols_kernel<float><<<blocks_for(n * d, 256), 256, 0, c->stream>>>(
        (const float *)src, ld, rows, n, d, scale, beta, out, ldo);
  return LAUNCHED();
}
