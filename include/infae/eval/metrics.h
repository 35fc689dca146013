#pragma once
/* Ranking metrics of docs/protocol.md §3: HR@k, NDCG@k, PSP@k (k = 10, 100) averaged
 * over users with held-out items, and AUC pooled over all users. */
#include <mpi.h>
#include <stdint.h>

#include "infae/core/status.h"
#include "infae/core/topk.h"

enum { IA_HR10, IA_NDCG10, IA_PSP10, IA_HR100, IA_NDCG100, IA_PSP100, IA_AUC, IA_N_METRICS };
extern const char *const ia_metric_names[IA_N_METRICS]; /* "HR@10", ..., "AUC" */
/* The validation metric a choice is made by: name NULL or "HR@100" (the
 * protocol's) → IA_HR100, "NDCG@10" → IA_NDCG10 (case ignored); any other
 * name is refused. Not collective. */
IA_NODISCARD ia_status ia_select_metric(const char *name, int *metric);

typedef struct {
  double v[IA_N_METRICS]; /* ×100 except AUC */
  int64_t users;          /* users with at least one held-out item */
} ia_metrics;

typedef struct ia_evaluator ia_evaluator;

/* PSP weights come from the global train counts (n_i) and train_nnz (N).
 * Not collective. */
IA_NODISCARD ia_status ia_evaluator_create(const int64_t *item_train_count, int64_t n_items,
                                           int64_t train_nnz, ia_evaluator **out);
void ia_evaluator_free(ia_evaluator **e);
/* Starts a new evaluation (drops accumulated users). */
void ia_evaluator_reset(ia_evaluator *e);

/* Adds one user. scores (n_items) is modified: the context items (ctx_a and
 * ctx_b, either may be empty) are set to -inf. held and neg are item lists;
 * a user without held items is skipped. Users must be added in ascending
 * global order on each rank, ranks holding ascending blocks, for the pooled
 * AUC to break ties the same way for every rank count. Not collective. */
IA_NODISCARD ia_status ia_evaluator_add(ia_evaluator *e, double *scores, const int32_t *ctx_a,
                                        int64_t n_ctx_a, const int32_t *ctx_b, int64_t n_ctx_b,
                                        const int32_t *held, int64_t n_held, const int32_t *neg,
                                        int64_t n_neg);

/* The length of the ranked lists of ia_evaluator_add_ranked: min(n_items,
 * IA_TOPK). */
int ia_evaluator_k(const ia_evaluator *e);
/* Adds one user ranked elsewhere: top holds the ia_evaluator_k best items
 * (context items excluded, best first, ties to the lower index), held the
 * held-out items (ascending), and held_scores and neg_scores the raw scores
 * of the held items and of the n_neg AUC negatives, for the AUC pairs. The
 * same metrics as ia_evaluator_add. Not collective. */
IA_NODISCARD ia_status ia_evaluator_add_ranked(ia_evaluator *e, const int32_t *top,
                                               const int32_t *held, int64_t n_held,
                                               const double *held_scores, const double *neg_scores,
                                               int64_t n_neg);
/* Reduces over comm and computes the averages and the pooled AUC; every rank
 * gets the result. Collective on comm. */
IA_NODISCARD ia_status ia_evaluator_finish(ia_evaluator *e, MPI_Comm comm, ia_metrics *out);
