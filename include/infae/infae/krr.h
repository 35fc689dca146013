#pragma once
/* ∞-AE on a small dense sample S (μ×d, replicated on every rank): the inner
 * model of Distill-CF and the model trained on a summary. FP64, row-major.
 *
 *   K = NTK(S, S), λ' = λ·tr(K)/μ, α = (K + λ'I)⁻¹ S,  P = NTK(C, S)·α
 *
 * plus the vector-Jacobian products of Distill-CF's backward pass (docs/protocol.md §4).
 * Internal. */
#include <stdint.h>

#include "infae/core/csr.h"
#include "infae/core/status.h"

typedef struct {
  int64_t mu, d;
  int depth;       /* the NTK's hidden layers */
  const double *s; /* μ×d sample (borrowed; set by ia_krr_kernel) */
  double *st;      /* d×μ: Sᵀ, for the cross Grams of sparse rows */
  double *ns;      /* μ: |s_j|² */
  double *dn;      /* μ: scratch of the backward pass */
  double *g;       /* μ×μ: S·Sᵀ, full */
  double *k;       /* μ×μ: NTK(S, S), full */
  double *l;       /* μ×μ: lower Cholesky factor of K + λ'I */
  double *alpha;   /* μ×d */
  double trace, lambda, lambda_prime;
} ia_krr;

IA_NODISCARD ia_status ia_krr_init(ia_krr *m, int64_t mu, int64_t d, int depth);
void ia_krr_free(ia_krr *m);

/* K, |s_j|², Sᵀ and tr(K) of the sample s (kept by pointer). */
void ia_krr_kernel(ia_krr *m, const double *s);

/* Factors K + λ'I and solves α. A failed factorization gives IA_ERR_NOTSPD
 * naming λ. Not collective. */
IA_NODISCARD ia_status ia_krr_fit(ia_krr *m, double lambda);

/* Binary context rows given as item lists: row u is a[u] ∪ b[u] (b may be
 * NULL). g (n×μ) = C·Sᵀ and nc (n) = |C_u|. */
typedef struct {
  const ia_csr *a, *b;
  const int64_t *rows; /* local row indices into a (and b) */
  int64_t n;
} ia_ctx_rows;
void ia_krr_cross_gram(const ia_krr *m, const ia_ctx_rows *c, double *g, double *nc);
/* The same g for n rows given by column (ia_csr_columns_of_rows): each
 * column's row of Sᵀ is read once. */
void ia_krr_cross_gram_cols(const ia_krr *m, int64_t n, const int64_t *colptr, const int32_t *pos,
                            double *g);

/* kc (n×μ) = NTK(C, S) from g and nc; when dxy/dss are not NULL also
 * ∂K/∂(c·s) and ∂K/∂|s|² per entry. */
void ia_krr_cross_kernel(const ia_krr *m, int64_t n, const double *g, const double *nc, double *kc,
                         double *dxy, double *dss);

/* p (n×d) = kc·α. */
void ia_krr_predict(const ia_krr *m, int64_t n, const double *kc, double *p);

/* Backward through α = (K + λ'I)⁻¹S and K = NTK(S, S), λ' = λ·tr(K)/μ:
 * dalpha (μ×d) is overwritten by W = (K + λ'I)⁻¹·dalpha, and
 *   ds += W + ∂⟨dK, K(S)⟩/∂S,  dK = −W·αᵀ + (λ/μ)·tr(−W·αᵀ)·I.
 * work: μ×μ doubles. Not collective. */
void ia_krr_vjp(const ia_krr *m, double *dalpha, double *ds, double *work);

/* ds += ∂⟨dk, NTK(S, S)⟩/∂S for a μ×μ cotangent dk (each entry K_ij taken
 * as its own function of S). Overwrites dk. Not collective. */
void ia_krr_kernel_vjp(const ia_krr *m, double *dk, double *ds);
