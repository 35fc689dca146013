/* ∞-AE: the predictions in the evaluation layout, scores of given rows, α
 * for the model file, entries of K. */
#include "infae/infae_impl.h"

#include <stdlib.h>
#include <string.h>

int ia_infae_on_backend(const ia_infae *m) { return m->sp.g.size == 1; }

int64_t ia_infae_eval_block_users(const ia_infae *m) { return m->block; }

int64_t ia_infae_eval_blocks(const ia_infae *m) {
  int64_t most = (m->n + m->sp.g.size - 1) / m->sp.g.size;
  return (most + m->block - 1) / m->block;
}

/* P = src·coef for block b's users into the first rows of pb; with a
 * sample src is the block's NTK(C, X_fit), made here when fresh. */
static ia_status block_product(ia_infae *m, int64_t b, int64_t step, ia_dmat *rows) {
  ia_dmat src;
  int64_t first = b * m->block, count = infae_block_count(m, m->sp.g.rank, b);
  ia_step *st = m->pred_coef == &m->best ? &m->stats.test_gemm : &m->stats.predict;
  if (m->sampled) {
    IA_CALL(infae_cross_of(m, b, &src));
    if (m->pred_fresh) {
      infae_rows r;
      IA_CALL(infae_rows_read(m, b, m->pred_with_val, &r));
      ia_status s = infae_cross_block(
          m, &r, &src, m->pred_coef == &m->best ? &m->stats.test_gram : &m->stats.predict);
      infae_rows_free(m, &r);
      IA_CALL(s);
    }
  } else { /* the exact test: the rows of NTK(C, X), in place when one block */
    double t0 = ia_time();
    IA_CALL(
        ia_dmat_rows_of_ranks(m->pred_src, m->eval_begin + first, count, step, &m->src_rows, &src));
    m->stats.redistribute.seconds += ia_time() - t0;
  }
  IA_CALL(ia_dmat_head_rows(&m->pb, src.rows, rows));
  double t1 = ia_time();
  if (src.rows > 0) IA_CALL(ia_dmat_gemm(&src, m->pred_coef, rows));
  st->seconds += ia_time() - t1;
  st->flops += 2.0 * (double)infae_block_rows(m, b, NULL) * (double)m->u * (double)m->d;
  return IA_OK;
}

ia_status ia_infae_predict_block(ia_infae *m, int64_t b) {
  IA_CHECK(m->pred != PRED_NONE, IA_ERR_INTERNAL, "ia_infae_predict_block before a prediction");
  int64_t first = b * m->block, count = infae_block_count(m, m->sp.g.rank, b);
  /* Rank r's rows of the block follow rank r − 1's in steps of rank 0's
   * count (every rank but the last nonempty one has as many). */
  int64_t step = infae_block_count(m, 0, b);
  m->block_first = count > 0 ? first : 0;
  double t0 = ia_time();
  ia_dmat rows;
  if (m->pred == PRED_RESIDUAL) { /* α's rows: the scores add X */
    IA_CALL(ia_dmat_rows_of_ranks(&m->a, m->eval_begin + m->block_first, count, step, &m->a_rows,
                                  &rows));
  } else { /* P = NTK(C, X)·α for the block's users (timed as its own steps) */
    IA_CALL(block_product(m, b, step, &rows));
    t0 = ia_time();
  }
  m->pred_view = rows;
  /* One rank scores the block where it is; a grid brings it to the host rows. */
  if (!ia_infae_on_backend(m)) IA_CALL(ia_dmat_to_row_blocks(&rows, step, m->rows, &m->rows_ld));
  m->stats.redistribute.seconds += ia_time() - t0;
  return IA_OK;
}

ia_status ia_infae_score_cols(ia_infae *m, const ia_be_csr *train, const int32_t *rows,
                              const int64_t *rows_h, int64_t n, double *out, int64_t ldo) {
  IA_CHECK(ia_infae_on_backend(m) && m->pred != PRED_NONE, IA_ERR_INTERNAL,
           "ia_infae_score_cols without predictions on the backend");
  if (n <= 0) return IA_OK;
  /* The block's rows, relative to its first. */
  const int32_t *rel = rows;
  const int64_t *rel_h = rows_h;
  if (m->block_first > 0) {
    IA_CHECK(n <= m->block, IA_ERR_INTERNAL, "%lld rows in a block of %lld", (long long)n,
             (long long)m->block);
    int32_t *r32 = (int32_t *)(m->rel_h + m->block); /* after the block's int64s */
    for (int64_t u = 0; u < n; u++) m->rel_h[u] = rows_h[u] - m->block_first;
    for (int64_t u = 0; u < n; u++) r32[u] = (int32_t)m->rel_h[u];
    IA_CALL(ia_be_upload(m->sp.be, m->rel_rows, r32, sizeof(int32_t) * (size_t)n));
    rel = m->rel_rows;
    rel_h = m->rel_h;
  }
  if (m->pred == PRED_DIRECT)
    return ia_dmat_rows_to_cols(&m->pred_view, rel, rel_h, n, 1.0, 0.0, out, ldo);
  /* P = X − λ'α, as ia_infae_scores adds them. */
  IA_CALL(ia_be_densify_rows(m->sp.be, train, rows, n, m->d, out, ldo));
  return ia_dmat_rows_to_cols(&m->pred_view, rel, rel_h, n, -m->pred_lam_prime, 1.0, out, ldo);
}

ia_status infae_test_kernel(ia_infae *m, ia_step *step) {
  ia_status st = IA_OK;
  double t0 = ia_time(), flops = 0, *nr = NULL;
  const ia_csr *ctx = &m->fit_rows;
  st = IA_ALLOC(nr, ctx->n_rows + 1, "context norms");
  if (ia_agree(m->sp.g.comm, st) != IA_OK) {
    free(nr);
    return IA_ERR_REMOTE;
  }
  for (int64_t i = 0; i < ctx->n_rows; i++) nr[i] = (double)ia_csr_union_count(ctx, &m->ctx_val, i);
  ia_dmat_ntk_operands ops[IA_MD_MAX];
  for (int p = 0; p < m->parts; p++)
    ops[p] = (ia_dmat_ntk_operands){m->b_fit[p], m->b_ctx_val[p], m->b_cols[p],
                                    nr,          m->col_norms[p], m->depth};
  m->have_kernel = 0; /* K's buffer now holds NTK(C, X) */
  st = ia_dmat_ntk(&m->k, ops, m->d, 0, &flops);
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
    m->pred = PRED_RESIDUAL;
    m->pred_lam_prime = m->lam_prime;
    return IA_OK;
  }
  /* Kept: NTK(X_all, X_fit) is the same for every λ, made once (Nyström: Φ
   * = K_nm·L⁻ᵀ, made with the Gram; P = Φβ). Else made for each block and
   * λ (Nyström: K_nm, and P = K_nm·α with α = L⁻ᵀβ). */
  IA_CHECK(m->have_cross || m->stream || !m->nystrom, IA_ERR_INTERNAL,
           "Nyström predictions without Φ");
  if (!m->stream && !m->have_cross) {
    ia_progress pr;
    ia_progress_start(&pr, "[train] NTK(C, X_fit) of every user");
    for (int64_t b = 0; b < ia_infae_eval_blocks(m); b++) {
      infae_rows r;
      ia_dmat dst;
      IA_CALL(infae_rows_read(m, b, 0, &r));
      ia_status st = infae_cross_of(m, b, &dst);
      if (st == IA_OK) st = infae_cross_block(m, &r, &dst, &m->stats.predict);
      infae_rows_free(m, &r);
      IA_CALL(st);
      ia_progress_update(&pr, (double)(b + 1) / (double)ia_infae_eval_blocks(m));
    }
    m->have_cross = 1;
  }
  if (m->stream && m->nystrom && !m->alpha_in_a) {
    double t0 = ia_time();
    IA_CALL(ia_dmat_trsm_lt(&m->k, &m->a));
    m->alpha_in_a = 1;
    m->stats.solve.seconds += ia_time() - t0;
    m->stats.solve.flops += (double)m->u * (double)m->u * (double)m->d;
  }
  m->pred = PRED_DIRECT;
  m->pred_fresh = m->stream;
  m->pred_with_val = 0;
  m->pred_coef = &m->a;
  return IA_OK;
}

ia_status ia_infae_predict_test(ia_infae *m) {
  IA_CHECK(m->have_best, IA_ERR_INTERNAL, "ia_infae_predict_test without a kept α");
  m->pred = PRED_DIRECT;
  m->pred_coef = &m->best;
  if (m->sampled) { /* NTK(C, X_fit) of each block, with the validation items */
    m->have_cross = 0;
    m->pred_fresh = 1;
    m->pred_with_val = 1;
    return IA_OK;
  }
  IA_CALL(infae_test_kernel(m, &m->stats.test_gram));
  m->pred_src = &m->k;
  return IA_OK;
}

void ia_infae_scores(const ia_infae *m, int64_t row, const int32_t *train_items, int64_t n_train,
                     double *s) {
  size_t ld = (size_t)m->rows_ld;
  row -= m->block_first;
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
  /* ceil(U/size) rows, which can exceed the users' count on the last rank */
  int64_t most = (m->u + m->sp.g.size - 1) / m->sp.g.size;
  if (!m->alpha_rows)
    IA_CALL(ia_agree(m->sp.g.comm, ia_malloc(m->sp.es * (size_t)(most > 0 ? most : 1) *
                                                 (size_t)(m->d > 0 ? m->d : 1),
                                             "α in rows", &m->alpha_rows)));
  double t0 = ia_time();
  IA_CALL(ia_dmat_to_rows(&m->best, m->alpha_rows, ld));
  m->stats.redistribute.seconds += ia_time() - t0;
  *alpha = m->alpha_rows;
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
