#pragma once
/* Multi-sample Gumbel-softmax of Distill-CF (docs/protocol.md §4), one row at a time:
 *
 *   A = Σ_{k<γ} softmax((z + G_k)/τ),   G_k(i) ~ Gumbel(0, 1),
 *
 * G_k(i) is a pure function of (seed, step, row, sample k, column i) through
 * Philox4x32-10, so the backward pass regenerates the samples instead of
 * storing them (memory O(d) per row, whatever γ). Each uniform comes from 23
 * bits of one 32-bit Philox word, u = (w>>9 + ½)·2⁻²³, and the noise is
 * −log(−log u) in single precision (as the reference's float32 JAX): the
 * tails are cut at −2.81 and 16.6. Everything after the noise is double. */
#include <stdint.h>

typedef struct {
  uint64_t seed;
  uint64_t step; /* noise is redrawn every step */
  int samples;   /* γ */
  double tau;    /* τ */
  int64_t d;     /* row length (items) */
} ia_gumbel;

/* Scratch per row: 2·d + 8 doubles. */
static inline int64_t ia_gumbel_scratch(int64_t d) { return 2 * d + 8; }

/* The noise G_k(row, ·) (d floats). Not collective. */
void ia_gumbel_noise(const ia_gumbel *g, int64_t row, int k, float *noise);

/* a = Σ_k softmax((z + G_k)/τ) for synthetic row `row`. Not collective. */
void ia_gumbel_row(const ia_gumbel *g, int64_t row, const double *z, double *a, double *scratch);

/* dz = Σ_k (1/τ)·p_k ⊙ (da − ⟨da, p_k⟩), the vector-Jacobian product of
 * ia_gumbel_row at z (p_k regenerated). Not collective. */
void ia_gumbel_row_vjp(const ia_gumbel *g, int64_t row, const double *z, const double *da,
                       double *dz, double *scratch);
