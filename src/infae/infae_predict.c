/* ∞-AE: the predictions in the evaluation layout, scores of given rows, α
 * for the model file, entries of K. */
#include "infae/infae_impl.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static ia_status to_rows(ia_infae *m, int64_t rows, const void *src, const int *dsrc, int64_t *ld);

/* The predictions (rows × d) for the evaluation: on one rank they stay in
 * the backend; on a grid they come to m->rows (to_rows). */
static ia_status to_eval(ia_infae *m, int64_t rows, const void *src, const int *dsrc) {
  if (!m->arrays_on_backend) return to_rows(m, rows, src, dsrc, &m->r_ld);
  m->pred_src = src;
  m->r_ld = rows;
  return IA_OK;
}

int ia_infae_on_backend(const ia_infae *m) { return m->arrays_on_backend; }

/* Several devices: the rows from the first to the last of the block come
 * up from host memory in one 2-D copy, and are read through the rows'
 * offsets from the first. */
static ia_status md_score_cols(const ia_infae *m, const ia_be_csr *train, const int32_t *rows,
                               const int64_t *rows_h, int64_t n, double *out, int64_t ldo) {
  ia_status st = IA_OK;
  int64_t r0 = rows_h[0], span = rows_h[n - 1] - r0 + 1;
  void *stage = NULL;
  int32_t *off = NULL, *doff = NULL;
  IA_CALL(IA_ALLOC(off, n, "row offsets"));
  for (int64_t u = 0; u < n; u++) off[u] = (int32_t)(rows_h[u] - r0);
  st = ia_be_alloc(m->be, m->es * (size_t)span * (size_t)m->d, "rows of the predictions", &stage);
  if (st == IA_OK)
    st = ia_be_alloc(m->be, sizeof(int32_t) * (size_t)n, "row offsets", (void **)&doff);
  if (st == IA_OK) st = ia_be_upload(m->be, doff, off, sizeof(int32_t) * (size_t)n);
  if (st == IA_OK)
    st = ia_be_upload2d(m->be, stage, m->es * (size_t)span,
                        (const char *)m->pred_src + m->es * (size_t)r0, m->es * (size_t)m->r_ld,
                        m->es * (size_t)span, m->d);
  if (st == IA_OK && m->pred_mode == 2)
    st = ia_be_rows_to_cols(m->be, m->prec, stage, span, doff, n, m->d, 1.0, 0.0, out, ldo);
  else if (st == IA_OK) { /* P = X − λ'α */
    st = ia_be_densify_rows(m->be, train, rows, n, m->d, out, ldo);
    if (st == IA_OK)
      st = ia_be_rows_to_cols(m->be, m->prec, stage, span, doff, n, m->d, -m->pred_lam_prime, 1.0,
                              out, ldo);
  }
  ia_be_free(m->be, stage);
  ia_be_free(m->be, doff);
  free(off);
  return st;
}

ia_status ia_infae_score_cols(const ia_infae *m, const ia_be_csr *train, const int32_t *rows,
                              const int64_t *rows_h, int64_t n, double *out, int64_t ldo) {
  IA_CHECK(m->arrays_on_backend && m->pred_mode && m->pred_src, IA_ERR_INTERNAL,
           "ia_infae_score_cols without predictions on the backend");
  if (n <= 0) return IA_OK;
  if (m->md) return md_score_cols(m, train, rows, rows_h, n, out, ldo);
  if (m->pred_mode == 2)
    return ia_be_rows_to_cols(m->be, m->prec, m->pred_src, m->r_ld, rows, n, m->d, 1.0, 0.0, out,
                              ldo);
  /* P = X − λ'α, as ia_infae_scores adds them. */
  IA_CALL(ia_be_densify_rows(m->be, train, rows, n, m->d, out, ldo));
  return ia_be_rows_to_cols(m->be, m->prec, m->pred_src, m->r_ld, rows, n, m->d, -m->pred_lam_prime,
                            1.0, out, ldo);
}

/* p?gemr2d of a rows × d block-cyclic matrix into m->rows, in the layout of
 * ia_row_block; *ld = its leading dimension here. */
static ia_status to_rows(ia_infae *m, int64_t rows, const void *src, const int *dsrc, int64_t *ld) {
  double t0 = ia_time();
  if (m->arrays_on_backend) { /* one rank: src is rows × d with leading dimension rows */
    *ld = rows;
    IA_CALL(ia_be_download(m->be, m->rows, src, infae_local_bytes(m, rows, m->d)));
    m->stats.redistribute.seconds += ia_time() - t0;
    return IA_OK;
  }
  int im, in, one = 1, dr[IA_DLEN];
  IA_CALL(ia_to_int(rows, &im));
  IA_CALL(ia_to_int(m->d, &in));
  int64_t begin, cnt;
  ia_row_block(rows, m->g.size, m->g.rank, &begin, &cnt);
  *ld = cnt > 0 ? cnt : 1;
  IA_CALL(infae_desc(dr, rows, m->d, (rows + m->g.size - 1) / m->g.size, m->d, m->g.ctxt_col, *ld));
  if (m->prec == IA_FP64)
    pdgemr2d_(&im, &in, src, &one, &one, dsrc, m->rows, &one, &one, dr, &m->g.ctxt);
  else
    psgemr2d_(&im, &in, src, &one, &one, dsrc, m->rows, &one, &one, dr, &m->g.ctxt);
  m->stats.redistribute.seconds += ia_time() - t0;
  return IA_OK;
}

/* P (n × d, block-cyclic) = kc (n × U) · α. On a grid the product is
 * SUMMA with local products on the backend (infae/dist/summa.h): the GPUs make
 * the predictions, as they make the kernel tiles. */
static ia_status cross_product(ia_infae *m, const void *alpha, ia_step *step) {
  double t0 = ia_time();
  const void *kc = m->sampled ? m->kc : m->k;
  if (m->md) {
    IA_CALL(ia_md_gemm(m->md, &m->mk, alpha, m->mu, m->d, m->pc, m->mn, 1, m->panel_bytes));
  } else if (m->arrays_on_backend) {
    IA_CALL(ia_be_gemm(m->be, m->prec, 'N', 'N', m->n, m->d, m->u, 1.0, kc, m->mn, alpha, m->mu,
                       0.0, m->pc, m->mn));
  } else {
    IA_CALL(ia_summa_gemm(&m->g, m->be, m->prec, m->n, m->d, m->u, m->nb, kc, m->desc_kc[IA_LLD_],
                          alpha, m->desc_a[IA_LLD_], m->pc, m->desc_p[IA_LLD_],
                          infae_backend_budget(m)));
  }
  step->seconds += ia_time() - t0;
  step->flops += 2.0 * (double)m->n * (double)m->u * (double)m->d;
  return IA_OK;
}

/* NTK(C, X) into kc (or K when not sampled): C = train (∪ val) of every
 * user of the local row blocks over n. */
ia_status infae_cross_kernel(ia_infae *m, int with_val, ia_step *step) {
  ia_status st = IA_OK;
  double t0 = ia_time(), flops = 0, *nr = NULL;
  const ia_csr *ctr = m->sampled ? &m->ctr : &m->fr;
  const ia_be_csr *bctr = m->sampled ? m->bctr : m->bfr;
  st = IA_ALLOC(nr, m->mn + 1, "context norms");
  if (ia_agree(m->g.comm, st) != IA_OK) {
    free(nr);
    return IA_ERR_REMOTE;
  }
  for (int64_t i = 0; i < m->mn; i++)
    nr[i] = (double)(with_val ? infae_union_count(ctr, &m->cva, i)
                              : ctr->indptr[i + 1] - ctr->indptr[i]);
  void *kc = m->sampled ? m->kc : m->k;
  if (!m->sampled) m->have_kernel = 0; /* K's buffer now holds NTK(C, X) */
  st = infae_kernel_tiles(m, bctr, with_val ? m->bcva : NULL, nr, m->bfc, m->nfc, 0, kc, m->mn,
                          m->nu, &flops);
  free(nr);
  IA_CALL(ia_agree(m->g.comm, st));
  step->flops += infae_allsum(m->g.comm, flops);
  step->seconds += ia_time() - t0;
  return IA_OK;
}

ia_status ia_infae_predict(ia_infae *m, int test) {
  if (!test) {
    IA_CHECK(m->have_alpha, IA_ERR_INTERNAL, "ia_infae_predict without α");
    if (!m->sampled) {
      /* P = X − λ'α: only α moves; ia_infae_scores adds X. */
      IA_CALL(to_eval(m, m->n, m->a, m->desc_a));
      m->pred_mode = 1;
      m->pred_lam_prime = m->lam_prime;
      return IA_OK;
    }
    /* NTK(X_all, X_fit) is the same for every λ: computed once (Nyström:
     * Φ = K_nm·L⁻ᵀ, made with the Gram). */
    IA_CHECK(m->have_cross || !m->nystrom, IA_ERR_INTERNAL, "Nyström predictions without Φ");
    if (!m->have_cross) IA_CALL(infae_cross_kernel(m, 0, &m->stats.predict));
    m->have_cross = 1;
    IA_CALL(cross_product(m, m->a, &m->stats.predict));
    IA_CALL(to_eval(m, m->n, m->pc, m->desc_p));
    m->pred_mode = 2;
    return IA_OK;
  }
  IA_CHECK(m->have_best, IA_ERR_INTERNAL, "ia_infae_predict(test) without a kept α");
  IA_CALL(infae_cross_kernel(m, 1, &m->stats.test_gram));
  m->have_cross = 0;
  m->have_alpha = 0; /* without a sample, the predictions overwrite α */
  IA_CALL(cross_product(m, m->best, &m->stats.test_gemm));
  IA_CALL(to_eval(m, m->n, m->pc, m->desc_p));
  m->pred_mode = 2;
  return IA_OK;
}

void ia_infae_scores(const ia_infae *m, int64_t row, const int32_t *train_items, int64_t n_train,
                     double *s) {
  size_t ld = (size_t)m->r_ld;
  if (m->prec == IA_FP64) {
    const double *p = (const double *)m->rows + row;
    for (int64_t i = 0; i < m->d; i++) s[i] = p[(size_t)i * ld];
  } else {
    const float *p = (const float *)m->rows + row;
    for (int64_t i = 0; i < m->d; i++) s[i] = (double)p[(size_t)i * ld];
  }
  if (m->pred_mode == 1) {
    double lp = m->pred_lam_prime;
    for (int64_t i = 0; i < m->d; i++) s[i] *= -lp;
    for (int64_t k = 0; k < n_train; k++) s[train_items[k]] += 1.0;
  }
}

ia_status ia_infae_alpha_rows(ia_infae *m, const void **alpha, int64_t *ld) {
  IA_CHECK(m->have_best, IA_ERR_INTERNAL, "ia_infae_alpha_rows without a kept α");
  if (m->md) { /* already in m->rows */
    *ld = m->u;
    *alpha = m->rows;
    return IA_OK;
  }
  IA_CALL(to_rows(m, m->u, m->best, m->desc_a, ld));
  m->pred_mode = 0;
  *alpha = m->rows;
  return IA_OK;
}

ia_status ia_infae_kernel_entry(ia_infae *m, int64_t i, int64_t j, double *v) {
  const ia_grid *g = &m->g;
  IA_CHECK(m->have_kernel && !m->sampled, IA_ERR_INTERNAL,
           "K entries are available after the Gram, without a user sample");
  IA_CHECK(i >= 0 && j >= 0 && i < m->u && j < m->u, IA_ERR_ARG, "K(%lld, %lld) is outside K",
           (long long)i, (long long)j);
  if (i < j) { /* the lower triangle is stored */
    int64_t t = i;
    i = j;
    j = t;
  }
  double x = 0;
  if (m->md) return ia_md_get(m->md, &m->mk, i, j, v);
  if (m->arrays_on_backend) {
    size_t at = (size_t)j * (size_t)m->mu + (size_t)i;
    double buf = 0; /* room for one element of either precision */
    IA_CALL(ia_be_download(m->be, &buf, (const char *)m->k + m->es * at, m->es));
    *v = infae_get(m, &buf, 0);
    return IA_OK;
  }
  if (ia_g2p(i, m->nb, g->nprow) == g->myrow && ia_g2p(j, m->nb, g->npcol) == g->mycol) {
    x = infae_get(
        m, m->k,
        (size_t)ia_g2l(j, m->nb, g->npcol) * (size_t)m->mu + (size_t)ia_g2l(i, m->nb, g->nprow));
  }
  *v = infae_allsum(g->comm, x);
  return IA_OK;
}

double ia_infae_lambda_prime(const ia_infae *m) { return m->best_lam_prime; }
const ia_infae_stats *ia_infae_get_stats(const ia_infae *m) { return &m->stats; }
