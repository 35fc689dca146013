/* ∞-AE: the predictions in the evaluation layout, scores of given rows, α
 * for the model file, entries of K. */
#include "infae/infae_impl.h"

#include <stdlib.h>
#include <string.h>

int ia_infae_on_backend(const ia_infae *m) { return m->sp.g.size == 1; }

/* p in the evaluation layout, into m->rows. */
static ia_status to_rows(ia_infae *m, const ia_dmat *p) {
  double t0 = ia_time();
  IA_CALL(ia_dmat_to_rows(p, m->rows, &m->rows_ld));
  m->stats.redistribute.seconds += ia_time() - t0;
  return IA_OK;
}

/* The predictions p (every user × d) for the evaluation: on one rank they
 * are scored where they are (ia_infae_score_cols); on a grid they come to
 * the host rows. */
static ia_status to_eval(ia_infae *m, const ia_dmat *p, pred_kind kind) {
  m->pred_on = p;
  if (!ia_infae_on_backend(m)) IA_CALL(to_rows(m, p));
  m->pred = kind;
  return IA_OK;
}

ia_status ia_infae_score_cols(const ia_infae *m, const ia_be_csr *train, const int32_t *rows,
                              const int64_t *rows_h, int64_t n, double *out, int64_t ldo) {
  IA_CHECK(ia_infae_on_backend(m) && m->pred != PRED_NONE, IA_ERR_INTERNAL,
           "ia_infae_score_cols without predictions on the backend");
  if (n <= 0) return IA_OK;
  if (m->pred == PRED_DIRECT)
    return ia_dmat_rows_to_cols(m->pred_on, rows, rows_h, n, 1.0, 0.0, out, ldo);
  /* P = X − λ'α, as ia_infae_scores adds them. */
  IA_CALL(ia_be_densify_rows(m->sp.be, train, rows, n, m->d, out, ldo));
  return ia_dmat_rows_to_cols(m->pred_on, rows, rows_h, n, -m->pred_lam_prime, 1.0, out, ldo);
}

/* P = NTK(C, X)·α (every user × d): kc·α with a sample, else K's buffer,
 * which holds NTK(C, X) then, and P overwrites α. */
static ia_status cross_product(ia_infae *m, const ia_dmat *alpha, ia_step *step) {
  double t0 = ia_time();
  IA_CALL(ia_dmat_gemm(m->sampled ? &m->kc : &m->k, alpha, m->pc));
  step->seconds += ia_time() - t0;
  step->flops += 2.0 * (double)m->n * (double)m->u * (double)m->d;
  return IA_OK;
}

/* |a_r ∪ b_r| for sorted rows. */
static int64_t union_count(const ia_csr *a, const ia_csr *b, int64_t r) {
  const int32_t *x = a->indices + a->indptr[r], *y = b->indices + b->indptr[r];
  int64_t nx = a->indptr[r + 1] - a->indptr[r], ny = b->indptr[r + 1] - b->indptr[r];
  int64_t i = 0, j = 0, c = 0;
  while (i < nx && j < ny) {
    if (x[i] == y[j])
      i++, j++;
    else if (x[i] < y[j])
      i++;
    else
      j++;
    c++;
  }
  return c + (nx - i) + (ny - j);
}

ia_status infae_cross_kernel(ia_infae *m, int with_val, ia_step *step) {
  ia_status st = IA_OK;
  double t0 = ia_time(), flops = 0, *nr = NULL;
  const ia_csr *ctx = &m->ctx_train;
  st = IA_ALLOC(nr, ctx->n_rows + 1, "context norms");
  if (ia_agree(m->sp.g.comm, st) != IA_OK) {
    free(nr);
    return IA_ERR_REMOTE;
  }
  for (int64_t i = 0; i < ctx->n_rows; i++)
    nr[i] =
        (double)(with_val ? union_count(ctx, &m->ctx_val, i) : ctx->indptr[i + 1] - ctx->indptr[i]);
  ia_dmat_ntk_operands ops[IA_MD_MAX];
  for (int p = 0; p < m->parts; p++)
    ops[p] = (ia_dmat_ntk_operands){m->b_ctx_train[p], with_val ? m->b_ctx_val[p] : NULL,
                                    m->b_cols[p], nr, m->col_norms[p]};
  if (!m->sampled) m->have_kernel = 0; /* K's buffer now holds NTK(C, X) */
  st = ia_dmat_ntk(m->sampled ? &m->kc : &m->k, ops, m->d, 0, &flops);
  free(nr);
  IA_CALL(st);
  step->flops += flops;
  step->seconds += ia_time() - t0;
  return IA_OK;
}

ia_status ia_infae_predict_validation(ia_infae *m) {
  IA_CHECK(m->have_alpha, IA_ERR_INTERNAL, "ia_infae_predict_validation without α");
  /* P = X − λ'α: only α moves; the scores add X. */
  if (!m->sampled) {
    IA_CALL(to_eval(m, &m->a, PRED_RESIDUAL));
    m->pred_lam_prime = m->lam_prime;
    return IA_OK;
  }
  /* NTK(X_all, X_fit) is the same for every λ: made once (Nyström: Φ =
   * K_nm·L⁻ᵀ, made with the Gram). */
  IA_CHECK(m->have_cross || !m->nystrom, IA_ERR_INTERNAL, "Nyström predictions without Φ");
  if (!m->have_cross) IA_CALL(infae_cross_kernel(m, 0, &m->stats.predict));
  m->have_cross = 1;
  IA_CALL(cross_product(m, &m->a, &m->stats.predict));
  return to_eval(m, m->pc, PRED_DIRECT);
}

ia_status ia_infae_predict_test(ia_infae *m) {
  IA_CHECK(m->have_best, IA_ERR_INTERNAL, "ia_infae_predict_test without a kept α");
  IA_CALL(infae_cross_kernel(m, 1, &m->stats.test_gram));
  m->have_cross = 0;
  m->have_alpha = 0; /* without a sample, the predictions overwrite α */
  IA_CALL(cross_product(m, &m->best, &m->stats.test_gemm));
  return to_eval(m, m->pc, PRED_DIRECT);
}

void ia_infae_scores(const ia_infae *m, int64_t row, const int32_t *train_items, int64_t n_train,
                     double *s) {
  size_t ld = (size_t)m->rows_ld;
  if (m->sp.prec == IA_FP64) {
    const double *p = (const double *)m->rows + row;
    for (int64_t i = 0; i < m->d; i++) s[i] = p[(size_t)i * ld];
  } else {
    const float *p = (const float *)m->rows + row;
    for (int64_t i = 0; i < m->d; i++) s[i] = (double)p[(size_t)i * ld];
  }
  if (m->pred == PRED_RESIDUAL) {
    double lp = m->pred_lam_prime;
    for (int64_t i = 0; i < m->d; i++) s[i] *= -lp;
    for (int64_t k = 0; k < n_train; k++) s[train_items[k]] += 1.0;
  }
}

ia_status ia_infae_alpha_rows(ia_infae *m, const void **alpha, int64_t *ld) {
  IA_CHECK(m->have_best, IA_ERR_INTERNAL, "ia_infae_alpha_rows without a kept α");
  IA_CALL(to_rows(m, &m->best));
  m->pred = PRED_NONE; /* the rows now hold α */
  *ld = m->rows_ld;
  *alpha = m->rows;
  return IA_OK;
}

ia_status ia_infae_kernel_entry(ia_infae *m, int64_t i, int64_t j, double *v) {
  IA_CHECK(m->have_kernel && !m->sampled, IA_ERR_INTERNAL,
           "K entries are available after the Gram, without a user sample");
  IA_CHECK(i >= 0 && j >= 0 && i < m->u && j < m->u, IA_ERR_ARG, "K(%lld, %lld) is outside K",
           (long long)i, (long long)j);
  /* the lower triangle is stored */
  return i < j ? ia_dmat_get(&m->k, j, i, v) : ia_dmat_get(&m->k, i, j, v);
}

double ia_infae_lambda_prime(const ia_infae *m) { return m->best_lam_prime; }
const ia_infae_stats *ia_infae_get_stats(const ia_infae *m) { return &m->stats; }
