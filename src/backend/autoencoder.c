/* The finite autoencoder's operations on a backend (Recoder): activations,
 * column gathers, the reconstruction losses, Adam. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dispatch.h"
#include "infae/core/ntk.h"
#include "infae/core/topk.h"

/* ---- finite autoencoder (CPU) ------------------------------------------------------ */

static double act_value(ia_act act, double x) {
  switch (act) {
    case IA_ACT_RELU:
      return x > 0 ? x : 0;
    case IA_ACT_TANH:
      return tanh(x);
    case IA_ACT_SIGMOID:
      return 1.0 / (1.0 + exp(-x));
    default:
      return x;
  }
}

/* act'(x) written through y = act(x). */
static double act_slope(ia_act act, double y) {
  switch (act) {
    case IA_ACT_RELU:
      return y > 0 ? 1.0 : 0.0;
    case IA_ACT_TANH:
      return 1.0 - y * y;
    case IA_ACT_SIGMOID:
      return y * (1.0 - y);
    default:
      return 1.0;
  }
}

static ia_status cpu_act(ia_act act, int64_t m, int64_t n, double *x, int64_t ld) {
  for (int64_t j = 0; j < n; j++)
    for (int64_t i = 0; i < m; i++) x[i + j * ld] = act_value(act, x[i + j * ld]);
  return IA_OK;
}

ia_status ia_be_act(ia_backend *b, ia_act act, int64_t m, int64_t n, double *x, int64_t ld) {
  if (act == IA_ACT_IDENTITY) return IA_OK;
  return CUDA_OR(ia_cuda_act(b->cuda, act, m, n, x, ld), cpu_act(act, m, n, x, ld));
}

static ia_status cpu_act_grad(ia_act act, int64_t m, int64_t n, const double *y, int64_t ldy,
                              double *dy, int64_t lddy) {
  for (int64_t j = 0; j < n; j++)
    for (int64_t i = 0; i < m; i++) dy[i + j * lddy] *= act_slope(act, y[i + j * ldy]);
  return IA_OK;
}

ia_status ia_be_act_grad(ia_backend *b, ia_act act, int64_t m, int64_t n, const double *y,
                         int64_t ldy, double *dy, int64_t lddy) {
  if (act == IA_ACT_IDENTITY) return IA_OK;
  return CUDA_OR(ia_cuda_act_grad(b->cuda, act, m, n, y, ldy, dy, lddy),
                 cpu_act_grad(act, m, n, y, ldy, dy, lddy));
}

static ia_status cpu_gather_cols(int64_t m, int64_t n, const double *src, int64_t lds,
                                 const int32_t *idx, double *dst, int64_t ldd) {
  for (int64_t k = 0; k < n; k++)
    memcpy(dst + k * ldd, src + (int64_t)idx[k] * lds, sizeof(double) * (size_t)m);
  return IA_OK;
}

ia_status ia_be_gather_cols(ia_backend *b, int64_t m, int64_t n, const double *src, int64_t lds,
                            const int32_t *idx, double *dst, int64_t ldd) {
  return CUDA_OR(ia_cuda_gather_cols(b->cuda, m, n, src, lds, idx, dst, ldd),
                 cpu_gather_cols(m, n, src, lds, idx, dst, ldd));
}

static ia_status cpu_scatter_add_cols(int64_t m, int64_t n, const double *src, int64_t lds,
                                      const int32_t *idx, double *dst, int64_t ldd) {
  for (int64_t k = 0; k < n; k++) {
    double *to = dst + (int64_t)idx[k] * ldd;
    const double *from = src + k * lds;
    for (int64_t i = 0; i < m; i++) to[i] += from[i];
  }
  return IA_OK;
}

ia_status ia_be_scatter_add_cols(ia_backend *b, int64_t m, int64_t n, const double *src,
                                 int64_t lds, const int32_t *idx, double *dst, int64_t ldd) {
  return CUDA_OR(ia_cuda_scatter_add_cols(b->cuda, m, n, src, lds, idx, dst, ldd),
                 cpu_scatter_add_cols(m, n, src, lds, idx, dst, ldd));
}

/* The losses column by column (the block is column-major): per-row sums in
 * m-long arrays, each row's terms added in item order as the CUDA kernel
 * does. Softmax: one exp per entry, e = exp(o − max) kept in o, then
 * loss_r = −(Σ w·t·o − Σ w·t · lse) and ∂/∂o = e/Σe · Σ w·t − w·t. */
static ia_status cpu_recon_loss(ia_loss kind, int64_t m, int64_t n, double *o, int64_t ldo,
                                const double *t, int64_t ldt, double conf, double scale,
                                double *loss) {
  double *acc = NULL;
  IA_CALL(IA_ALLOC(acc, 4 * m + 1, "loss rows"));
  double *rl = acc, *mx = acc + m, *sum = acc + 2 * m, *wt = acc + 3 * m;
  for (int64_t r = 0; r < m; r++) rl[r] = sum[r] = wt[r] = 0, mx[r] = -INFINITY;
  if (kind == IA_LOSS_MSE) {
    for (int64_t j = 0; j < n; j++)
      for (int64_t r = 0; r < m; r++) {
        double tv = t[r + j * ldt], w = 1.0 + conf * tv, e = o[r + j * ldo] - tv;
        rl[r] += w * e * e;
        o[r + j * ldo] = scale * 2.0 * w * e;
      }
  } else {
    for (int64_t j = 0; j < n; j++)
      for (int64_t r = 0; r < m; r++) {
        double ov = o[r + j * ldo], tv = t[r + j * ldt], wv = (1.0 + conf * tv) * tv;
        mx[r] = ov > mx[r] ? ov : mx[r];
        rl[r] -= wv * ov;
        wt[r] += wv;
      }
    for (int64_t j = 0; j < n; j++)
      for (int64_t r = 0; r < m; r++) {
        double e = exp(o[r + j * ldo] - mx[r]);
        o[r + j * ldo] = e;
        sum[r] += e;
      }
    for (int64_t r = 0; r < m && n > 0; r++) rl[r] += wt[r] * (mx[r] + log(sum[r]));
    for (int64_t j = 0; j < n; j++)
      for (int64_t r = 0; r < m; r++) {
        double tv = t[r + j * ldt], wv = (1.0 + conf * tv) * tv;
        o[r + j * ldo] = scale * (o[r + j * ldo] / sum[r] * wt[r] - wv);
      }
  }
  double total = 0;
  for (int64_t r = 0; r < m; r++) total += rl[r];
  *loss = scale * total;
  free(acc);
  return IA_OK;
}

ia_status ia_be_recon_loss(ia_backend *b, ia_loss kind, int64_t m, int64_t n, double *o,
                           int64_t ldo, const double *t, int64_t ldt, double conf, double scale,
                           double *loss) {
  return CUDA_OR(ia_cuda_recon_loss(b->cuda, kind, m, n, o, ldo, t, ldt, conf, scale, loss),
                 cpu_recon_loss(kind, m, n, o, ldo, t, ldt, conf, scale, loss));
}

static ia_status cpu_adam(const ia_adam *a, int64_t n, double *x, const double *g, double *m,
                          double *v) {
  for (int64_t e = 0; e < n; e++) {
    m[e] = a->beta1 * m[e] + (1.0 - a->beta1) * g[e];
    v[e] = a->beta2 * v[e] + (1.0 - a->beta2) * g[e] * g[e];
    x[e] -= a->lr * (m[e] / a->c1) / (sqrt(v[e] / a->c2) + a->eps);
  }
  return IA_OK;
}

ia_status ia_be_adam(ia_backend *b, const ia_adam *a, int64_t n, double *x, const double *g,
                     double *m, double *v) {
  return CUDA_OR(ia_cuda_adam(b->cuda, a, n, x, g, m, v), cpu_adam(a, n, x, g, m, v));
}
