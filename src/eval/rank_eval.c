#include "eval/rank_eval.h"

#include <stdlib.h>
#include <string.h>

#include "eval/sample_eval.h"

ia_status ia_rank_eval_create(ia_backend *be, const ia_dataset *d, int64_t chunk, ia_rank_eval *r) {
  memset(r, 0, sizeof *r);
  r->be = be;
  r->d = d->n_items;
  r->chunk = chunk;
  int64_t c = chunk, held = d->val.indptr[d->n_rows] > d->test.indptr[d->n_rows]
                                ? d->val.indptr[d->n_rows]
                                : d->test.indptr[d->n_rows];
  int64_t np = held + d->negatives.indptr[d->n_rows] + 1;
  ia_status st = ia_be_csr_make(be, &d->train, &r->train);
  if (st == IA_OK) st = ia_be_csr_make(be, &d->val, &r->val);
  if (st == IA_OK) st = ia_be_csr_make(be, &d->test, &r->test);
  if (st == IA_OK) st = ia_be_csr_make(be, &d->negatives, &r->neg);
  if (st == IA_OK)
    st = ia_be_alloc(be, sizeof(int32_t) * (size_t)c, "block rows", (void **)&r->rows);
  if (st == IA_OK)
    st = ia_be_alloc(be, sizeof(int32_t) * (size_t)(IA_TOPK * c), "top lists", (void **)&r->top);
  if (st == IA_OK)
    st = ia_be_alloc(be, sizeof(int64_t) * (size_t)(2 * c + 2), "pair offsets", (void **)&r->off);
  if (st == IA_OK)
    st = ia_be_alloc(be, sizeof(double) * (size_t)np, "held and negative scores",
                     (void **)&r->pairs);
  if (st == IA_OK) st = IA_ALLOC(r->rows_h, c, "block rows");
  if (st == IA_OK) st = IA_ALLOC(r->top_h, IA_TOPK * c, "top lists");
  if (st == IA_OK) st = IA_ALLOC(r->off_h, 2 * c + 2, "pair offsets");
  if (st == IA_OK) st = IA_ALLOC(r->pairs_h, np, "held and negative scores");
  if (st == IA_OK && d->n_rows > INT32_MAX)
    st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "more than 2^31 users on one rank");
  if (st != IA_OK) ia_rank_eval_free(r);
  return st;
}

void ia_rank_eval_free(ia_rank_eval *r) {
  ia_backend *b = r->be;
  if (!b) return;
  ia_be_csr_free(b, &r->train);
  ia_be_csr_free(b, &r->val);
  ia_be_csr_free(b, &r->test);
  ia_be_csr_free(b, &r->neg);
  ia_be_free(b, r->rows);
  ia_be_free(b, r->top);
  ia_be_free(b, r->off);
  ia_be_free(b, r->pairs);
  free(r->rows_h);
  free(r->top_h);
  free(r->off_h);
  free(r->pairs_h);
  memset(r, 0, sizeof *r);
}

/* The metrics of c ≤ chunk local users, each with held items. */
static ia_status eval_block(ia_rank_eval *r, const ia_dataset *d, ia_evaluator *ev, int test,
                            ia_block_scores fn, void *ctx, const int64_t *rows, int64_t c) {
  ia_backend *b = r->be;
  const ia_csr *held = test ? &d->test : &d->val, *ng = &d->negatives;
  int k = ia_evaluator_k(ev);
  int64_t *ho = r->off_h, *no = r->off_h + c + 1;
  ho[0] = no[0] = 0;
  for (int64_t u = 0; u < c; u++) {
    r->rows_h[u] = (int32_t)rows[u];
    ho[u + 1] = ho[u] + held->indptr[rows[u] + 1] - held->indptr[rows[u]];
    no[u + 1] = no[u] + ng->indptr[rows[u] + 1] - ng->indptr[rows[u]];
  }
  IA_CALL(ia_be_upload(b, r->rows, r->rows_h, sizeof(int32_t) * (size_t)c));
  IA_CALL(ia_be_upload(b, r->off, r->off_h, sizeof(int64_t) * (size_t)(2 * c + 2)));
  double *cols = NULL, *hs = r->pairs, *ns = r->pairs + ho[c];
  IA_CALL(fn(ctx, r, rows, c, test, &cols));
  /* AUC pairs take the raw scores, before the context is masked. */
  IA_CALL(ia_be_gather_items(b, c, cols, r->d, test ? r->test : r->val, r->rows, r->off, hs));
  IA_CALL(ia_be_gather_items(b, c, cols, r->d, r->neg, r->rows, r->off + c + 1, ns));
  IA_CALL(ia_be_rank_cols(b, r->d, c, cols, r->d, r->train, test ? r->val : NULL, r->rows, k,
                          r->top, IA_TOPK));
  IA_CALL(ia_be_download(b, r->top_h, r->top, sizeof(int32_t) * (size_t)(IA_TOPK * c)));
  IA_CALL(ia_be_download(b, r->pairs_h, r->pairs, sizeof(double) * (size_t)(ho[c] + no[c])));
  for (int64_t u = 0; u < c; u++) {
    int64_t row = rows[u];
    IA_CALL(ia_evaluator_add_ranked(ev, r->top_h + u * IA_TOPK, held->indices + held->indptr[row],
                                    ho[u + 1] - ho[u], r->pairs_h + ho[u],
                                    r->pairs_h + ho[c] + no[u], no[u + 1] - no[u]));
  }
  return IA_OK;
}

ia_status ia_rank_evaluate_rows(const ia_dataset *d, ia_evaluator *ev, ia_rank_eval *r, int test,
                                int64_t first, int64_t end, ia_block_scores fn, void *ctx) {
  const ia_csr *held = test ? &d->test : &d->val;
  int64_t *rows = NULL;
  ia_status st = IA_ALLOC(rows, r->chunk, "block rows");
  if (end > d->n_rows) end = d->n_rows;
  /* Users with held items, a block at a time, in ascending order. */
  for (int64_t r0 = first; r0 < end && st == IA_OK;) {
    int64_t c = 0;
    for (; r0 < end && c < r->chunk; r0++)
      if (held->indptr[r0 + 1] > held->indptr[r0]) rows[c++] = r0;
    if (c > 0) st = eval_block(r, d, ev, test, fn, ctx, rows, c);
  }
  free(rows);
  return st;
}

ia_status ia_rank_evaluate(MPI_Comm comm, const ia_dataset *d, ia_evaluator *ev, ia_rank_eval *r,
                           int test, ia_block_scores fn, void *ctx, ia_metrics *out) {
  ia_evaluator_reset(ev);
  IA_CALL(ia_agree(comm, ia_rank_evaluate_rows(d, ev, r, test, 0, d->n_rows, fn, ctx)));
  return ia_evaluate_finish(comm, ev, out);
}
