#pragma once
/* The neural tangent kernel of ∞-AE (docs/protocol.md §2): Dense(W_std=√2, b_std=0.1,
 * NTK parameterization) → ReLU, `depth` times (1 in the paper), → Dense, on binary rows over
 * d items.
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

/* The largest depth accepted (hidden layers). */
#define IA_NTK_MAX_DEPTH 16

/* The depth of an option: 0 (not set) is the paper's 1. */
IA_HD static inline int ia_ntk_depth(int asked) { return asked > 0 ? asked : 1; }

/* NTK(x, y) of `depth` hidden layers, from the recursion: with Σ = x·y/d,
 * Σx = |x|²/d, Σy = |y|²/d and Θ = 0, each hidden layer is a Dense
 * (Σ ← W²Σ + b², the same for Σx and Σy; Θ ← Σ + W²Θ) then a ReLU
 * (c = Σ/√(ΣxΣy), θ = acos c; Σ ← √(ΣxΣy)·(sin θ + (π − θ)c)/(2π),
 * Θ ← Θ·(π − θ)/(2π), Σx ← Σx/2, Σy ← Σy/2); the output Dense gives
 * W²Σ + b² + W²Θ. Forward-mode derivatives with respect to (x·y, |x|², |y|²)
 * go along when g is not NULL (the 1/sin θ factor is taken as 0 at c = 1). */
IA_HD static inline double ia_ntk_deep(double xy, double xx, double yy, double d, int depth,
                                       double g[3]) {
  const double pi = 3.14159265358979323846, w2 = IA_NTK_W2, b2 = IA_NTK_B2;
  double q = xy / d, qx = xx / d, qy = yy / d, th = 0;
  double dq[3] = {1.0 / d, 0, 0}, dqx = 1.0 / d, dqy = 1.0 / d, dth[3] = {0, 0, 0};
  for (int l = 0; l < depth; l++) {
    q = w2 * q + b2;
    qx = w2 * qx + b2;
    qy = w2 * qy + b2;
    th = q + w2 * th;
    dqx *= w2;
    dqy *= w2;
    for (int k = 0; k < 3; k++) {
      dq[k] *= w2;
      dth[k] = dq[k] + w2 * dth[k];
    }
    double r = sqrt(qx * qy), c = q / r;
    c = c > 1.0 ? 1.0 : (c < -1.0 ? -1.0 : c);
    double t = acos(c), s = sqrt(1.0 - c * c), inv_s = s > 1e-300 ? 1.0 / s : 0.0;
    /* Written so that x = y stays exact (c = 1, θ = 0: every Σ halves). */
    double tdot = 0.5 - t / (2.0 * pi);
    /* ∂Ṫ and ∂f (f: the new Σ) by (Σ, Σx, Σy) */
    double td[3] = {inv_s / (2.0 * pi * r), -c * inv_s / (4.0 * pi * qx),
                    -c * inv_s / (4.0 * pi * qy)};
    double fd[3] = {tdot, r * s / (4.0 * pi * qx), r * s / (4.0 * pi * qy)};
    double in[3][3] = {{dq[0], dq[1], dq[2]}, {0, dqx, 0}, {0, 0, dqy}}; /* ∂(Σ, Σx, Σy) */
    for (int k = 0; k < 3; k++) {
      double dt = td[0] * in[0][k] + td[1] * in[1][k] + td[2] * in[2][k];
      double df = fd[0] * in[0][k] + fd[1] * in[1][k] + fd[2] * in[2][k];
      dth[k] = dth[k] * tdot + th * dt;
      dq[k] = df;
    }
    th *= tdot;
    q = r * (0.5 * c * (1.0 - t / pi) + s / (2.0 * pi));
    qx *= 0.5;
    qy *= 0.5;
    dqx *= 0.5;
    dqy *= 0.5;
  }
  if (g)
    for (int k = 0; k < 3; k++) g[k] = w2 * dq[k] + w2 * dth[k];
  return w2 * q + b2 + w2 * th;
}

/* NTK(x, y) from xy = x·y, xx = |x|², yy = |y|², d items and `depth`
 * hidden layers (depth 1 in closed form). */
IA_HD static inline double ia_ntk(double xy, double xx, double yy, double d, int depth) {
  if (depth != 1) return ia_ntk_deep(xy, xx, yy, d, depth, 0);
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
 * ia_ntk_diag_slope). At c = 1 (parallel rows) the θ terms have no
 * derivative; their 1/sin θ factor is taken as 0 there. */
IA_HD static inline double ia_ntk_grad(double xy, double xx, double yy, double d, int depth,
                                       double *gxy, double *gxx, double *gyy) {
  if (depth != 1) {
    double g[3], v = ia_ntk_deep(xy, xx, yy, d, depth, g);
    *gxy = g[0];
    *gxx = g[1];
    *gyy = g[2];
    return v;
  }
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

/* dK(x, x)/d|x|²: K(x, x) is affine in |x|² (c = 1 at every layer, so each
 * ReLU halves Σx and Θ). W⁴/d at depth 1. */
IA_HD static inline double ia_ntk_diag_slope(double d, int depth) {
  double a = 1.0 / d, th = 0;
  for (int l = 0; l < depth; l++) {
    a *= IA_NTK_W2;
    th = 0.5 * (a + IA_NTK_W2 * th);
    a *= 0.5;
  }
  return IA_NTK_W2 * a + IA_NTK_W2 * th;
}

/* Row i of the backward pass through K = NTK(S, S) (column-major μ × μ,
 * from S's Gram g and norms n = diag g) with cotangent dk, each K_ij its own
 * function of S: writes dg(i, j) = (dk_ij + dk_ji)·∂K_ij/∂g_ij (0 at j = i)
 * and returns dn_i = dk_ii·dK(x, x)/d|x|² + Σ_{j≠i} (dk_ij + dk_ji)·∂K_ij/∂n_i. */
IA_HD static inline double ia_ntk_sym_vjp_row(int64_t i, int64_t mu, double d, int depth,
                                              const double *g, int64_t ldg, const double *n,
                                              const double *dk, int64_t ldk, double *dg,
                                              int64_t lddg) {
  double acc = depth == 1 ? dk[i + i * ldk] * IA_NTK_W2 * IA_NTK_W2 / d
                          : dk[i + i * ldk] * ia_ntk_diag_slope(d, depth);
  for (int64_t j = 0; j < mu; j++) {
    if (j == i) {
      dg[i + j * lddg] = 0;
      continue;
    }
    double c = dk[i + j * ldk] + dk[j + i * ldk], gxy, gxx, gyy;
    ia_ntk_grad(g[i + j * ldg], n[i], n[j], d, depth, &gxy, &gxx, &gyy);
    acc += c * gxx;
    dg[i + j * lddg] = c * gxy;
  }
  return acc;
}
