/* The finite autoencoder's kernels (Recoder): activations, column gathers,
 * reconstruction losses, Adam. */
#include "cuda_impl.h"

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
  act_grad_kernel<<<blocks_for(m * n, 256), 256, 0, c->stream>>>((int)act, m, n, y, ldy, dy, lddy);
  return LAUNCHED();
}

ia_status ia_cuda_gather_cols(ia_cuda *c, int64_t m, int64_t n, const double *src, int64_t lds,
                              const int32_t *idx, double *dst, int64_t ldd) {
  if (m <= 0 || n <= 0) return IA_OK;
  gather_cols_kernel<<<blocks_for(m * n, 256), 256, 0, c->stream>>>(m, n, src, lds, idx, dst, ldd);
  return LAUNCHED();
}

ia_status ia_cuda_scatter_add_cols(ia_cuda *c, int64_t m, int64_t n, const double *src, int64_t lds,
                                   const int32_t *idx, double *dst, int64_t ldd) {
  if (m <= 0 || n <= 0) return IA_OK;
  scatter_add_cols_kernel<<<blocks_for(m * n, 256), 256, 0, c->stream>>>(m, n, src, lds, idx, dst,
                                                                         ldd);
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

ia_status ia_cuda_recon_loss(ia_cuda *c, ia_loss kind, int64_t m, int64_t n, double *o, int64_t ldo,
                             const double *t, int64_t ldt, double conf, double scale,
                             double *loss) {
  *loss = 0;
  if (m <= 0) return IA_OK;
  double *d = NULL, *h = NULL;
  IA_CALL(ia_cuda_scratch(c, sizeof(double) * (size_t)m, &d));
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
