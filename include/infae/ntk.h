#pragma once
/* The neural tangent kernel of ∞-AE (DESIGN §2): Dense(W_std=√2, b_std=0.1,
 * NTK parameterization) → ReLU → Dense, depth 1, on binary rows over d items.
 * Everything depends on the rows only through x·y, |x|² and |y|². */
#include <math.h>

#define IA_NTK_W2 2.0
#define IA_NTK_B2 0.01

/* NTK(x, y) from xy = x·y, xx = |x|², yy = |y|² and d items. */
static inline double ia_ntk(double xy, double xx, double yy, double d) {
  const double pi = 3.14159265358979323846;
  double qxy = IA_NTK_W2 * xy / d + IA_NTK_B2;
  double s = sqrt((IA_NTK_W2 * xx / d + IA_NTK_B2) * (IA_NTK_W2 * yy / d + IA_NTK_B2));
  double c = qxy / s;
  c = c > 1.0 ? 1.0 : (c < -1.0 ? -1.0 : c);
  double th = acos(c);
  double krelu = s * (sqrt(1.0 - c * c) + (pi - th) * c) / (2.0 * pi); /* sin θ = √(1−c²) */
  return IA_NTK_W2 * krelu + IA_NTK_B2 + IA_NTK_W2 * qxy * (pi - th) / (2.0 * pi);
}
