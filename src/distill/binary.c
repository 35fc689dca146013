/* The binarized summary (see distill/binary.h). */
#include "distill/binary.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/sample_eval.h"
#include "infae/core/log.h"

const char *const ia_binary_rule_names[3] = {"validated", "expected_items", "threshold"};

ia_status ia_binary_rule_parse(const char *name, ia_binary_rule *out) {
  static const char *const cli[3] = {"validated", "expected", "threshold"};
  for (int k = 0; k < 3; k++)
    if (!strcmp(name, cli[k])) {
      *out = (ia_binary_rule)k;
      return IA_OK;
    }
  return ia_error_set(IA_ERR_ARG, __FILE__, __LINE__,
                      "--binary-rule must be validated, expected or threshold (got '%s')", name);
}

/* Row z's expected number of distinct items among γ draws from softmax(z)
 * (the hard Gumbel-max samples Distill-CF's S relaxes): Σ_i 1 − (1 − p_i)^γ,
 * rounded, at least 1. */
static int64_t expected_items(const double *z, int64_t d, int gamma) {
  double m = z[0], sum = 0, k = 0;
  for (int64_t i = 1; i < d; i++) m = z[i] > m ? z[i] : m;
  for (int64_t i = 0; i < d; i++) sum += exp(z[i] - m);
  for (int64_t i = 0; i < d; i++) k += -expm1((double)gamma * log1p(-exp(z[i] - m) / sum));
  int64_t r = llround(k);
  return r < 1 ? 1 : r > d ? d : r;
}

static const double *sort_z; /* qsort's key: descending logits, then ascending index */
static int by_logit(const void *a, const void *b) {
  int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
  if (sort_z[i] != sort_z[j]) return sort_z[i] > sort_z[j] ? -1 : 1;
  return (i > j) - (i < j);
}
static int by_index(const void *a, const void *b) {
  int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
  return (i > j) - (i < j);
}

ia_status ia_binary_top(const double *z, int64_t mu, int64_t d, int64_t items, int gamma,
                        ia_csr *out) {
  int32_t *order = NULL;
  int64_t *keep = NULL, nnz = 0;
  IA_CALL(IA_ALLOC(order, d > 0 ? d : 1, "a row's items"));
  ia_status st = IA_ALLOC(keep, mu + 1, "binary summary");
  for (int64_t j = 0; st == IA_OK && j < mu; j++) {
    keep[j] = items > 0 ? (items < d ? items : d) : expected_items(z + j * d, d, gamma);
    nnz += keep[j];
  }
  if (st == IA_OK) st = ia_csr_alloc(out, mu, d, nnz > 0 ? nnz : 1);
  for (int64_t j = 0; st == IA_OK && j < mu; j++) {
    int32_t *row = out->indices + out->indptr[j];
    for (int64_t i = 0; i < d; i++) order[i] = (int32_t)i;
    sort_z = z + j * d;
    qsort(order, (size_t)d, sizeof *order, by_logit);
    memcpy(row, order, sizeof *order * (size_t)keep[j]);
    qsort(row, (size_t)keep[j], sizeof *row, by_index);
    out->indptr[j + 1] = out->indptr[j] + keep[j];
  }
  free(order);
  free(keep);
  return st;
}

ia_status ia_binary_threshold(const double *s, int64_t mu, int64_t d, double thr, ia_csr *out) {
  int64_t nnz = 0;
  for (int64_t e = 0; e < mu * d; e++) nnz += s[e] >= thr;
  IA_CALL(ia_csr_alloc(out, mu, d, nnz > 0 ? nnz : 1));
  for (int64_t j = 0; j < mu; j++) {
    int32_t *row = out->indices + out->indptr[j];
    int64_t k = 0;
    for (int64_t i = 0; i < d; i++)
      if (s[j * d + i] >= thr) row[k++] = (int32_t)i;
    out->indptr[j + 1] = out->indptr[j] + k;
  }
  return IA_OK;
}

int ia_binary_candidates(double ipu, int64_t d, int64_t *items) {
  int n = 0;
  items[n++] = 0;
  for (int i = 0; n < IA_BINARY_MAX_CANDIDATES; i++) {
    int64_t k = llround(ipu * pow(2.0, (i - 2) / 2.0));
    k = k < 1 ? 1 : k;
    if (2 * k > d) break;
    if (k != items[n - 1]) items[n++] = k;
  }
  if (n == 1) { /* d/2 below half the real users' items */
    int64_t k = llround(ipu);
    items[n++] = k < 1 ? 1 : k > d ? d : k;
  }
  return n;
}

ia_status ia_binary_validated(MPI_Comm comm, const ia_dataset *d, ia_evaluator *ev, ia_krr *model,
                              const double *z, int64_t mu, const ia_distill_opts *o, int select,
                              double ipu, double *sb, ia_binary_choice *ch, ia_csr *out) {
  int64_t n_items = d->n_items;
  ch->n = ia_binary_candidates(ipu, n_items, ch->items);
  ch->chosen = 0;
  double t0 = ia_time();
  ia_log_info(
      "[distill] /binary: %d candidates (each row's expected items; %lld to %lld items per row), "
      "∞-AE on each, kept by validation %s",
      ch->n, (long long)ch->items[1], (long long)ch->items[ch->n - 1], ia_metric_names[select]);
  for (int c = 0; c < ch->n; c++) {
    ia_csr rows = {0};
    ia_train_result r = {0};
    IA_CALL(ia_agree(comm, ia_binary_top(z, mu, n_items, ch->items[c], o->samples, &rows)));
    ia_csr_dense(&rows, sb);
    double per_row = (double)ia_csr_nnz(&rows) / (double)mu;
    ia_csr_free(&rows);
    ia_krr_kernel(model, sb);
    snprintf(r.model, sizeof r.model, "infae");
    ia_status st = ia_sample_infae(comm, d, ev, model, o->lambdas, o->n_lambdas, 0, 0, &r);
    if (st == IA_ERR_NOTSPD) { /* no λ factors: this candidate has no score */
      ia_error_clear();
      r.n_lambdas = 0;
    } else
      IA_CALL(st);
    ch->val[c] = NAN;
    ch->lambda[c] = r.best_lambda;
    for (int k = 0; k < r.n_lambdas; k++)
      if (!r.skipped[k] && r.lambdas[k] == r.best_lambda) ch->val[c] = r.val[k].v[select];
    if (isnan(ch->val[c])) ch->lambda[c] = NAN;
    if (!isnan(ch->val[c]) && (isnan(ch->val[ch->chosen]) || ch->val[c] > ch->val[ch->chosen]))
      ch->chosen = c;
    double spent = ia_time() - t0;
    ia_log_info(
        "[distill] /binary %d/%d: %.1f items per row, validation %s %.3f (λ %g); ~%.0f s left",
        c + 1, ch->n, per_row, ia_metric_names[select], ch->val[c], ch->lambda[c],
        spent / (c + 1) * (ch->n - c - 1));
  }
  int b = ch->chosen;
  if (isnan(ch->val[b]))
    ia_log_warn(
        "[distill] /binary: no candidate's ∞-AE factored at any λ; keeping each row's "
        "expected items");
  else
    ia_log_info("[distill] /binary: candidate %d kept (%s), validation %s %.3f", b + 1,
                ch->items[b] ? "the same number of items per row" : "each row's expected items",
                ia_metric_names[select], ch->val[b]);
  return ia_agree(comm, ia_binary_top(z, mu, n_items, ch->items[b], o->samples, out));
}
