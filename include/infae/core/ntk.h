#pragma once
/* The neural tangent kernel of ∞-AE (docs/protocol.md §2): Dense(W_std=√2, b_std=0.1,
 * NTK parameterization) → ReLU → Dense, depth 1, on binary rows over d items.
 * Everything depends on the rows only through x·y, |x|² and |y|². */
#include <math.h>
#include <stdint.h>

/* Callable from CUDA kernels too. */
#ifdef __CUDACC__
#define IA_HD __host__ __device__
#else
#define IA_HD
#endif

#define IA_NTK_W2 2.0
#define IA_NTK_B2 0.01

/* NTK(x, y) from xy = x·y, xx = |x|², yy = |y|² and d items. */
IA_HD static inline double ia_ntk(double xy, double xx, double yy, double d) {
  const double pi = 3.14159265358979323846;
  double qxy = IA_NTK_W2 * xy / d + IA_NTK_B2;
  double s = sqrt((IA_NTK_W2 * xx / d + IA_NTK_B2) * (IA_NTK_W2 * yy / d + IA_NTK_B2));
  double c = qxy / s;
  c = c > 1.0 ? 1.0 : (c < -1.0 ? -1.0 : c);
  double th = acos(c);
  double krelu = s * (sqrt(1.0 - c * c) + (pi - th) * c) / (2.0 * pi); /* sin θ = √(1−c²) */
  return IA_NTK_W2 * krelu + IA_NTK_B2 + IA_NTK_W2 * qxy * (pi - th) / (2.0 * pi);
}

/* NTK(x, y) and its partial derivatives with respect to xy, xx and yy
 * (x ≠ y as arguments: for K(x, x) as a function of |x|² alone use
 * dK/d|x|² = W⁴/d). At c = 1 (parallel rows) the θ terms have no
 * derivative; their 1/sin θ factor is taken as 0 there. */
IA_HD static inline double ia_ntk_grad(double xy, double xx, double yy, double d, double *gxy,
                                       double *gxx, double *gyy) {
  const double pi = 3.14159265358979323846, w2 = IA_NTK_W2;
  double q = w2 * xy / d + IA_NTK_B2, qx = w2 * xx / d + IA_NTK_B2, qy = w2 * yy / d + IA_NTK_B2;
  double r = sqrt(qx * qy), c = q / r;
  c = c > 1.0 ? 1.0 : (c < -1.0 ? -1.0 : c);
  double th = acos(c), s = sqrt(1.0 - c * c), inv_s = s > 1e-300 ? 1.0 / s : 0.0;
  double dq = w2 * ((pi - th) / pi + c * inv_s / (2.0 * pi));
  double dn = w2 * r * (s * s - c * c) * inv_s / (4.0 * pi); /* × 1/qx or 1/qy */
  *gxy = dq * w2 / d;
  *gxx = dn / qx * w2 / d;
  *gyy = dn / qy * w2 / d;
  double krelu = r * (s + (pi - th) * c) / (2.0 * pi);
  return w2 * krelu + IA_NTK_B2 + w2 * q * (pi - th) / (2.0 * pi);
}

/* Row i of the backward pass through K = NTK(S, S) (column-major μ × μ,
 * from S's Gram g and norms n = diag g) with cotangent dk, each K_ij its own
 * function of S: writes dg(i, j) = (dk_ij + dk_ji)·∂K_ij/∂g_ij (0 at j = i)
 * and returns dn_i = dk_ii·W⁴/d + Σ_{j≠i} (dk_ij + dk_ji)·∂K_ij/∂n_i. */
IA_HD static inline double ia_ntk_sym_vjp_row(int64_t i, int64_t mu, double d, const double *g,
                                              int64_t ldg, const double *n, const double *dk,
                                              int64_t ldk, double *dg, int64_t lddg) {
  double acc = dk[i + i * ldk] * IA_NTK_W2 * IA_NTK_W2 / d;
  for (int64_t j = 0; j < mu; j++) {
    if (j == i) {
      dg[i + j * lddg] = 0;
      continue;
    }
    double c = dk[i + j * ldk] + dk[j + i * ldk], gxy, gxx, gyy;
    ia_ntk_grad(g[i + j * ldg], n[i], n[j], d, &gxy, &gxx, &gyy);
    acc += c * gxx;
    dg[i + j * lddg] = c * gxy;
  }
  return acc;
}
