/* ∞-AE: the Gram and NTK, the factor of K + λ'I and α, for the exact fit,
 * a user sample and Nyström. */
#include "infae/infae_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ia_status infae_make_kernel(ia_infae *m) {
  double t0 = ia_time(), flops = 0;
  ia_dmat_ntk_operands ops[IA_MD_MAX];
  for (int p = 0; p < m->parts; p++)
    ops[p] = (ia_dmat_ntk_operands){m->b_fit[p],     NULL,    m->b_cols[p], m->fit_norms,
                                    m->col_norms[p], m->depth};
  IA_CALL(ia_dmat_ntk(&m->k, ops, m->d, 1, &flops));
  m->stats.gram.flops += flops;
  m->stats.gram.seconds += ia_time() - t0;
  m->have_kernel = 1;
  return IA_OK;
}

/* A + shift·I factored in place as LLᵀ; *info as LAPACK's. */
static ia_status shift_factor(ia_dmat *a, double shift, int64_t *info) {
  IA_CALL(ia_dmat_diag_add(a, shift));
  return ia_dmat_potrf(a, info);
}

/* Nyström, in the feature form that stays well conditioned: K_mm + δI = LLᵀ
 * (δ = ε·tr K_mm, ε the precision's machine epsilon); then for each block
 * of users T, Φ_T = K_Tm·L⁻ᵀ (kept in cross when the validation reuses it:
 * its predictions are Φβ), G += Φ_TᵀΦ_T (lower triangle, kg) and B +=
 * Φ_TᵀX_T (rhs); per λ, β = (G + λ'I)⁻¹B and α = L⁻ᵀβ. The centers are
 * distinct rows, so K_mm is positive definite. tr(K_nn) is over all users. */
static ia_status nystrom_normal(ia_infae *m) {
  const ia_grid *g = &m->sp.g;
  double t0 = ia_time(), U = (double)m->u, D = (double)m->d;
  double eps = m->sp.prec == IA_FP64 ? 2.220446049250313e-16 : 1.1920928955078125e-07;
  int64_t info = 0;
  double delta = eps * m->trace;
  IA_CALL(shift_factor(&m->k, delta, &info));
  IA_CHECK(info <= 0, IA_ERR_NOTSPD,
           "the centers' kernel K_mm + δI (δ = %.3g) is not positive definite (leading minor "
           "%lld)%s",
           delta, (long long)info,
           m->sp.prec == IA_FP32 ? ": use --precision fp64 or fewer --centers" : "");
  IA_CHECK(info == 0, IA_ERR_LAPACK, "potrf of K_mm failed (argument %lld)", (long long)-info);
  m->stats.gram.flops += U * U * U / 3.0;
  /* On the grid B·L⁻ᵀ takes Lᵀ: made once, in the factor, free until the λ grid. */
  const ia_dmat *lt = NULL;
  if (m->k.kind == IA_DMAT_CYCLIC) {
    IA_CALL(ia_dmat_transpose(&m->k, m->factor));
    lt = m->factor;
  }
  m->stats.gram.seconds += ia_time() - t0;
  double tr = 0;
  ia_progress pr;
  ia_progress_start(&pr, "[train] Nyström Φ, ΦᵀΦ and ΦᵀX");
  for (int64_t b = 0; b < ia_infae_eval_blocks(m); b++) {
    infae_rows r;
    ia_dmat phi, x;
    double N = (double)infae_block_rows(m, b, NULL);
    IA_CALL(infae_rows_read(m, b, 0, &r));
    ia_status st = infae_cross_of(m, b, &phi);
    if (st == IA_OK) st = infae_cross_block(m, &r, &phi, &m->stats.gram);
    t0 = ia_time();
    if (g->mycol == 0) /* the rows are repeated in every process column */
      for (int64_t i = 0; i < r.train.n_rows; i++) {
        double c = (double)(r.train.indptr[i + 1] - r.train.indptr[i]);
        tr += ia_ntk(c, c, c, D, m->depth);
      }
    if (st == IA_OK) st = ia_dmat_trsm_right_lt(&m->k, &phi, lt);
    if (st == IA_OK) st = ia_dmat_gemm_tn(&phi, &phi, 1, b > 0, &m->kg);
    if (st == IA_OK) st = ia_dmat_head_rows(&m->pb, phi.rows, &x);
    if (st == IA_OK) st = ia_agree(g->comm, ia_dmat_densify(&x, &r.train, r.b_train));
    if (st == IA_OK) st = ia_dmat_gemm_tn(&phi, &x, 0, b > 0, &m->rhs);
    infae_rows_free(m, &r);
    IA_CALL(st);
    m->stats.gram.flops += N * U * U + 2.0 * N * U * U + 2.0 * N * U * D;
    m->stats.gram.seconds += ia_time() - t0;
    ia_progress_update(&pr, (double)(b + 1) / (double)ia_infae_eval_blocks(m));
  }
  m->trace = ia_grid_sum(g, tr);
  m->trace_count = (double)m->n;
  m->have_cross = !m->stream; /* Φ of every block, kept for the validation */
  if (m->factor == &m->kg) IA_CALL(ia_dmat_tri_save(&m->kg, &m->kg_diag)); /* factored in place */
  return IA_OK;
}

ia_status ia_infae_gram(ia_infae *m, double *trace) {
  IA_CALL(infae_make_kernel(m));
  double t0 = ia_time();
  IA_CALL(ia_dmat_trace(&m->k, &m->trace));
  m->stats.gram.seconds += ia_time() - t0;
  m->trace_count = (double)m->u;
  if (m->nystrom) IA_CALL(nystrom_normal(m));
  m->have_gram = 1;
  *trace = m->trace;
  return IA_OK;
}

static ia_status factor_status(const ia_infae *m, int64_t info, double lambda, double lp) {
  const char *what = m->nystrom ? "ΦᵀΦ + λ'I (Nyström)" : "K + λ'I";
  IA_CHECK(info <= 0, IA_ERR_NOTSPD,
           "%s is not positive definite for λ = %g (λ' = %.6g, leading minor %lld)%s; use a "
           "larger λ",
           what, lambda, lp, (long long)info,
           lambda == 0 ? ": at λ = 0 two users with the same train items make K singular" : "");
  IA_CHECK(info == 0, IA_ERR_LAPACK, "λ = %g: potrf failed (λ' = %.6g, argument %lld)", lambda, lp,
           (long long)-info);
  return IA_OK;
}

ia_status ia_infae_fit(ia_infae *m, double lambda) {
  IA_CHECK(m->have_gram, IA_ERR_INTERNAL, "ia_infae_fit before ia_infae_gram");
  IA_CHECK(lambda >= 0, IA_ERR_ARG, "λ must be ≥ 0 (got %g)", lambda);
  m->have_alpha = 0;
  m->alpha_in_a = 0;
  m->pred = PRED_NONE;
  double lp = lambda * m->trace / m->trace_count;
  /* K was factored in place or overwritten by NTK(C, X): made again. */
  if (!m->nystrom && !m->have_kernel) IA_CALL(infae_make_kernel(m));
  double t0 = ia_time();
  const ia_dmat *src = m->nystrom ? &m->kg : &m->k; /* ΦᵀΦ + λ'I or K + λ'I */
  if (m->factor != src)
    IA_CALL(ia_dmat_copy(m->factor, src));
  else if (m->nystrom) /* ΦᵀΦ again from its upper triangle and diagonal */
    IA_CALL(ia_dmat_tri_restore(&m->kg, &m->kg_diag));
  else
    m->have_kernel = 0; /* factored in place */
  int64_t info = 0;
  IA_CALL(shift_factor(m->factor, lp, &info));
  m->stats.factor.seconds += ia_time() - t0;
  m->stats.factor.flops += (double)m->u * (double)m->u * (double)m->u / 3.0;
  IA_CALL(factor_status(m, info, lambda, lp));

  /* Right-hand side X (Nyström: ΦᵀX), solved in place. */
  t0 = ia_time();
  if (m->nystrom)
    IA_CALL(ia_dmat_copy(&m->a, &m->rhs));
  else
    IA_CALL(ia_agree(m->sp.g.comm, ia_dmat_densify(&m->a, &m->fit_rows, m->b_fit[0])));
  IA_CALL(ia_dmat_potrs(m->factor, &m->a));
  m->stats.solve.seconds += ia_time() - t0;
  m->stats.solve.flops += 2.0 * (double)m->u * (double)m->u * (double)m->d;
  m->lam_prime = lp;
  m->have_alpha = 1;
  return IA_OK;
}

ia_status ia_infae_keep(ia_infae *m) {
  IA_CHECK(m->have_alpha, IA_ERR_INTERNAL, "ia_infae_keep without α");
  IA_CALL(ia_dmat_copy(&m->best, &m->a));
  if (m->nystrom && !m->alpha_in_a) { /* α = L⁻ᵀβ */
    double t0 = ia_time();
    IA_CALL(ia_dmat_trsm_lt(&m->k, &m->best));
    m->stats.solve.seconds += ia_time() - t0;
    m->stats.solve.flops += (double)m->u * (double)m->u * (double)m->d;
  }
  m->best_lam_prime = m->lam_prime;
  m->have_best = 1;
  return IA_OK;
}
