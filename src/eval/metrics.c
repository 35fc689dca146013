#include "infae/eval/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "infae/core/topk.h"
#include "infae/eval/auc.h"

const char *const ia_metric_names[IA_N_METRICS] = {"HR@10",    "NDCG@10", "PSP@10", "HR@100",
                                                   "NDCG@100", "PSP@100", "AUC"};

ia_status ia_select_metric(const char *name, int *metric) {
  *metric = IA_HR100;
  if (!name || !strcasecmp(name, "HR@100")) return IA_OK;
  IA_CHECK(!strcasecmp(name, "NDCG@10"), IA_ERR_ARG,
           "--select: '%s' is not a selection metric (HR@100 or NDCG@10)", name);
  *metric = IA_NDCG10;
  return IA_OK;
}

enum { KMAX = IA_TOPK };
static const int ks[2] = {10, 100};

struct ia_evaluator {
  int64_t n_items;
  double *w;         /* (n_items) PSP propensity weights */
  double disc[KMAX]; /* 1/log2(r+2) */
  double sums[IA_N_METRICS - 1];
  int64_t users;
  double *pair_score; /* pooled AUC pairs, local */
  uint8_t *pair_label;
  int64_t n_pairs, cap_pairs;
  double *held_w; /* scratch */
  int64_t cap_held;
  int32_t top[KMAX];
};

ia_status ia_evaluator_create(const int64_t *count, int64_t n_items, int64_t train_nnz,
                              ia_evaluator **out) {
  ia_evaluator *e = NULL;
  IA_CHECK(train_nnz > 0, IA_ERR_ARG, "PSP weights need train interactions (train_nnz = 0)");
  IA_CALL(IA_ZALLOC(e, 1, "evaluator"));
  ia_status st = IA_ALLOC(e->w, n_items, "PSP weights");
  if (st != IA_OK) {
    free(e);
    return st;
  }
  /* docs/protocol.md §3: w_i = 1 + C (n_i + B)^-A, C = (ln N - 1)(B + 1)^A. */
  const double A = 0.55, B = 1.5, C = (log((double)train_nnz) - 1.0) * pow(B + 1.0, A);
  for (int64_t i = 0; i < n_items; i++) e->w[i] = 1.0 + C * pow((double)count[i] + B, -A);
  for (int r = 0; r < KMAX; r++) e->disc[r] = 1.0 / log2(r + 2.0);
  e->n_items = n_items;
  *out = e;
  return IA_OK;
}

void ia_evaluator_free(ia_evaluator **pe) {
  ia_evaluator *e = *pe;
  if (!e) return;
  free(e->w);
  free(e->pair_score);
  free(e->pair_label);
  free(e->held_w);
  free(e);
  *pe = NULL;
}

void ia_evaluator_reset(ia_evaluator *e) {
  memset(e->sums, 0, sizeof e->sums);
  e->users = 0;
  e->n_pairs = 0;
}

static int cmp_desc(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x < y) - (x > y);
}

static ia_status push_pair(ia_evaluator *e, double score, int label) {
  if (e->n_pairs == e->cap_pairs) {
    int64_t cap = e->cap_pairs ? 2 * e->cap_pairs : 4096;
    double *s = realloc(e->pair_score, sizeof *s * (size_t)cap);
    if (s) e->pair_score = s;
    uint8_t *l = s ? realloc(e->pair_label, (size_t)cap) : NULL;
    if (l) e->pair_label = l;
    IA_CHECK(s && l, IA_ERR_NOMEM, "out of memory for %lld AUC pairs", (long long)cap);
    e->cap_pairs = cap;
  }
  e->pair_score[e->n_pairs] = score;
  e->pair_label[e->n_pairs++] = (uint8_t)label;
  return IA_OK;
}

int ia_evaluator_k(const ia_evaluator *e) { return e->n_items < KMAX ? (int)e->n_items : KMAX; }

ia_status ia_evaluator_add(ia_evaluator *e, double *s, const int32_t *ctx_a, int64_t n_a,
                           const int32_t *ctx_b, int64_t n_b, const int32_t *held, int64_t n_held,
                           const int32_t *neg, int64_t n_neg) {
  if (n_held == 0) return IA_OK;
  /* AUC pairs take the raw scores: a negative that is a validation item is
   * not masked at test time (as in the reference). */
  for (int64_t h = 0; h < n_held; h++) IA_CALL(push_pair(e, s[held[h]], 1));
  for (int64_t k = 0; k < n_neg; k++) IA_CALL(push_pair(e, s[neg[k]], 0));
  for (int64_t k = 0; k < n_a; k++) s[ctx_a[k]] = -INFINITY;
  for (int64_t k = 0; k < n_b; k++) s[ctx_b[k]] = -INFINITY;
  ia_topk(s, e->n_items, ia_evaluator_k(e), e->top);
  return ia_evaluator_add_ranked(e, e->top, held, n_held, NULL, NULL, 0);
}

ia_status ia_evaluator_add_ranked(ia_evaluator *e, const int32_t *top, const int32_t *held,
                                  int64_t n_held, const double *held_scores,
                                  const double *neg_scores, int64_t n_neg) {
  if (n_held == 0) return IA_OK;
  for (int64_t h = 0; held_scores && h < n_held; h++) IA_CALL(push_pair(e, held_scores[h], 1));
  for (int64_t k = 0; held_scores && k < n_neg; k++) IA_CALL(push_pair(e, neg_scores[k], 0));
  int kmax = ia_evaluator_k(e);

  if (n_held > e->cap_held) {
    double *w = realloc(e->held_w, sizeof *w * (size_t)n_held);
    IA_CHECK(w, IA_ERR_NOMEM, "out of memory");
    e->held_w = w;
    e->cap_held = n_held;
  }
  for (int64_t h = 0; h < n_held; h++) e->held_w[h] = e->w[held[h]];
  qsort(e->held_w, (size_t)n_held, sizeof(double), cmp_desc);

  /* held is sorted ascending (CSR rows): membership by binary search. */
  for (int q = 0; q < 2; q++) {
    int k = ks[q], m = (int)(n_held < k ? n_held : k);
    double hits = 0, dcg = 0, idcg = 0, psp = 0, psp_ideal = 0;
    for (int r = 0; r < k && r < kmax; r++) {
      int32_t item = top[r];
      int64_t lo = 0, hi = n_held;
      while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (held[mid] < item)
          lo = mid + 1;
        else
          hi = mid;
      }
      if (lo < n_held && held[lo] == item) {
        hits += 1;
        dcg += e->disc[r];
        psp += e->w[item];
      }
    }
    for (int r = 0; r < m; r++) {
      idcg += e->disc[r];
      psp_ideal += e->held_w[r];
    }
    e->sums[3 * q + 0] += 100.0 * hits / m;
    e->sums[3 * q + 1] += 100.0 * dcg / idcg;
    e->sums[3 * q + 2] += 100.0 * (psp / m) / psp_ideal;
  }
  e->users++;
  return IA_OK;
}

ia_status ia_evaluator_finish(ia_evaluator *e, MPI_Comm comm, ia_metrics *out) {
  double sums[IA_N_METRICS]; /* 6 metric sums + user count */
  memcpy(sums, e->sums, sizeof e->sums);
  sums[IA_N_METRICS - 1] = (double)e->users;
  IA_MPI(MPI_Allreduce(MPI_IN_PLACE, sums, IA_N_METRICS, MPI_DOUBLE, MPI_SUM, comm));
  memset(out, 0, sizeof *out);
  out->users = (int64_t)sums[IA_N_METRICS - 1];
  for (int q = 0; q < IA_N_METRICS - 1; q++)
    out->v[q] = out->users ? sums[q] / (double)out->users : NAN;

  /* The pooled list is the ranks' pairs in rank order (ascending user
   * blocks). */
  double auc = 0;
  IA_CALL(ia_pooled_auc(comm, e->pair_score, e->pair_label, e->n_pairs, &auc, NULL, NULL));
  out->v[IA_AUC] = auc;
  return IA_OK;
}
