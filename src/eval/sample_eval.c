#include "eval/sample_eval.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infae/core/log.h"
#include "infae/models/model.h"

ia_status ia_evaluate_rows(const ia_dataset *d, ia_evaluator *ev, int test, int64_t first,
                           int64_t end, ia_score_fn score, void *ctx) {
  const ia_csr *tr = &d->train, *va = &d->val, *held = test ? &d->test : &d->val;
  int64_t items = d->n_items, rows[IA_EVAL_CHUNK];
  double *p = NULL;
  ia_status st = IA_ALLOC(p, IA_EVAL_CHUNK * items, "prediction block");
  if (end > d->n_rows) end = d->n_rows;
  for (int64_t r0 = first; r0 < end && st == IA_OK;) {
    int64_t n = 0;
    for (; r0 < end && n < IA_EVAL_CHUNK; r0++)
      if (held->indptr[r0 + 1] > held->indptr[r0]) rows[n++] = r0;
    if (n == 0) break;
    score(ctx, d, rows, n, test, p);
    for (int64_t u = 0; u < n && st == IA_OK; u++) {
      int64_t r = rows[u];
      st = ia_evaluator_add(
          ev, p + u * items, tr->indices + tr->indptr[r], tr->indptr[r + 1] - tr->indptr[r],
          test ? va->indices + va->indptr[r] : NULL, test ? va->indptr[r + 1] - va->indptr[r] : 0,
          held->indices + held->indptr[r], held->indptr[r + 1] - held->indptr[r],
          d->negatives.indices + d->negatives.indptr[r],
          d->negatives.indptr[r + 1] - d->negatives.indptr[r]);
    }
  }
  free(p);
  return st;
}

ia_status ia_evaluate_finish(MPI_Comm comm, ia_evaluator *ev, ia_metrics *out) {
  IA_CALL(ia_evaluator_finish(ev, comm, out));
  /* Rank 0's numbers decide (λ, best sample): every rank takes them. */
  IA_MPI(MPI_Bcast(out, (int)sizeof *out, MPI_BYTE, 0, comm));
  return IA_OK;
}

ia_status ia_evaluate_split(MPI_Comm comm, const ia_dataset *d, ia_evaluator *ev, int test,
                            ia_score_fn score, void *ctx, ia_metrics *out) {
  ia_evaluator_reset(ev);
  IA_CALL(ia_agree(comm, ia_evaluate_rows(d, ev, test, 0, d->n_rows, score, ctx)));
  return ia_evaluate_finish(comm, ev, out);
}

/* ∞-AE on the sample: cross kernel and predictions per block of users. */
typedef struct {
  ia_krr *m;
  double *g, *nc, *kc; /* IA_EVAL_CHUNK × μ, IA_EVAL_CHUNK, IA_EVAL_CHUNK × μ */
} krr_scorer;

static void krr_scores(void *ctx, const ia_dataset *d, const int64_t *rows, int64_t n, int test,
                       double *p) {
  krr_scorer *k = ctx;
  ia_ctx_rows c = {&d->train, test ? &d->val : NULL, rows, n};
  ia_krr_cross_gram(k->m, &c, k->g, k->nc);
  ia_krr_cross_kernel(k->m, n, k->g, k->nc, k->kc, NULL, NULL);
  ia_krr_predict(k->m, n, k->kc, p);
}

ia_status ia_sample_eval(MPI_Comm comm, const ia_dataset *d, ia_evaluator *ev, ia_krr *m, int test,
                         ia_metrics *out) {
  krr_scorer k = {m, NULL, NULL, NULL};
  ia_status st = IA_ALLOC(k.g, IA_EVAL_CHUNK * m->mu, "cross Gram block");
  if (st == IA_OK) st = IA_ALLOC(k.nc, IA_EVAL_CHUNK, "context sizes");
  if (st == IA_OK) st = IA_ALLOC(k.kc, IA_EVAL_CHUNK * m->mu, "cross kernel block");
  st = ia_agree(comm, st);
  if (st == IA_OK) st = ia_evaluate_split(comm, d, ev, test, krr_scores, &k, out);
  free(k.g);
  free(k.nc);
  free(k.kc);
  return st;
}

void ia_log_metrics(const char *tag, const char *what, const ia_metrics *m, double secs) {
  ia_log_info(
      "[%s] %-14s HR@10 %6.3f NDCG@10 %6.3f PSP@10 %6.3f HR@100 %6.3f NDCG@100 "
      "%6.3f PSP@100 %6.3f AUC %.4f (%lld users, %.2f s)",
      tag, what, m->v[IA_HR10], m->v[IA_NDCG10], m->v[IA_PSP10], m->v[IA_HR100], m->v[IA_NDCG100],
      m->v[IA_PSP100], m->v[IA_AUC], (long long)m->users, secs);
}

void ia_log_lambda(const char *tag, const char *what, double lambda, const ia_metrics *m,
                   double secs) {
  char label[48];
  snprintf(label, sizeof label, "%s λ=%g", what, lambda);
  ia_log_metrics(tag, label, m, secs);
}

static ia_status host_fit(void *ctx, double lambda, double *lambda_prime, double *trace) {
  ia_krr *m = ctx;
  IA_CALL(ia_krr_fit(m, lambda));
  *lambda_prime = m->lambda_prime;
  *trace = m->trace;
  return IA_OK;
}

static ia_status host_eval(void *ctx, MPI_Comm comm, const ia_dataset *d, ia_evaluator *ev,
                           int test, ia_metrics *out) {
  return ia_sample_eval(comm, d, ev, ctx, test, out);
}

ia_sample_model ia_krr_model(ia_krr *m) { return (ia_sample_model){m, host_fit, host_eval}; }

ia_status ia_sample_infae(MPI_Comm comm, const ia_dataset *d, ia_evaluator *ev, ia_krr *m,
                          const double *grid, int n, int with_test, int log, ia_train_result *r) {
  ia_sample_model hm = ia_krr_model(m);
  return ia_sample_select(comm, d, ev, &hm, grid, n, IA_HR100, with_test, log, r);
}

ia_status ia_sample_select(MPI_Comm comm, const ia_dataset *d, ia_evaluator *ev,
                           const ia_sample_model *m, const double *grid, int n, int metric,
                           int with_test, int log, ia_train_result *r) {
  IA_CHECK(n >= 1 && n <= IA_MAX_LAMBDAS, IA_ERR_ARG, "between 1 and %d λ values", IA_MAX_LAMBDAS);
  int best = -1;
  r->has_lambda = 1;
  r->n_lambdas = n;
  for (int k = 0; k < n; k++) {
    r->lambdas[k] = grid[k];
    r->skipped[k] = 0;
    double lp, tr;
    ia_status st = m->fit(m->ctx, grid[k], &lp, &tr); /* replicated: every rank sees the same */
    if (st == IA_ERR_NOTSPD) {
      if (log)
        ia_log_warn("λ = %g skipped, the other λ of the grid go on: %s", grid[k],
                    ia_error_message());
      ia_error_clear();
      r->skipped[k] = 1;
      continue;
    }
    IA_CALL(ia_agree(comm, st));
    double t = ia_time();
    IA_CALL(m->eval(m->ctx, comm, d, ev, 0, &r->val[k]));
    if (log) ia_log_lambda("infae", "val", grid[k], &r->val[k], ia_time() - t);
    if (best < 0 || r->val[k].v[metric] > r->val[best].v[metric]) best = k;
  }
  IA_CHECK(best >= 0, IA_ERR_NOTSPD, "no λ of the grid factors the sample's kernel");
  r->best_lambda = grid[best];
  IA_CALL(ia_agree(comm, m->fit(m->ctx, grid[best], &r->lambda_prime, &r->trace_k)));
  if (with_test) {
    double t = ia_time();
    IA_CALL(m->eval(m->ctx, comm, d, ev, 1, &r->test));
    if (log) ia_log_lambda("infae", "test", grid[best], &r->test, ia_time() - t);
  }
  return IA_OK;
}
