#pragma once
/* Evaluation with the ranking on the compute backend: a model writes the
 * scores of a block of users as d-long columns in the backend's memory; the
 * backend masks each user's context, keeps the top IA_TOPK items and picks
 * the scores of the held-out and AUC-negative items; only those come to the
 * host, where ia_evaluator_add_ranked makes the metrics. The same users in
 * the same order as ia_evaluate_split, so the two give the same metrics.
 * Internal. */
#include <mpi.h>
#include <stdint.h>

#include "infae/backend/backend.h"
#include "infae/core/status.h"
#include "infae/eval/metrics.h"
#include "infae/io/dataset.h"

typedef struct {
  ia_backend *be;
  int64_t d, chunk;
  ia_be_csr *train, *val, *test, *neg; /* the dataset's rows in the backend */
  int32_t *rows;                       /* chunk: the block's local rows (backend) */
  int32_t *top;                        /* IA_TOPK × chunk */
  int64_t *off;                        /* held | negative offsets, 2 × (chunk + 1) */
  double *pairs;                       /* held | negative scores */
  int32_t *rows_h, *top_h;
  int64_t *off_h;
  double *pairs_h;
} ia_rank_eval;

/* Backend copies of d's splits and buffers for blocks of up to chunk users.
 * Not collective. */
IA_NODISCARD ia_status ia_rank_eval_create(ia_backend *be, const ia_dataset *d, int64_t chunk,
                                           ia_rank_eval *r);
void ia_rank_eval_free(ia_rank_eval *r);

/* Scores of the c local users rows[0..c) (r->rows holds them as int32 in
 * the backend) as d-long columns, into *cols (backend, leading dimension d,
 * overwritten by the ranking); test: the test context (train + validation). */
typedef ia_status (*ia_block_scores)(void *ctx, ia_rank_eval *r, const int64_t *rows, int64_t c,
                                     int test, double **cols);

/* ia_evaluate_rows's contract with the ranking on the backend. Not
 * collective. */
IA_NODISCARD ia_status ia_rank_evaluate_rows(const ia_dataset *d, ia_evaluator *ev, ia_rank_eval *r,
                                             int test, int64_t first, int64_t end,
                                             ia_block_scores fn, void *ctx);
/* ia_evaluate_split's contract with the ranking on the backend. Collective. */
IA_NODISCARD ia_status ia_rank_evaluate(MPI_Comm comm, const ia_dataset *d, ia_evaluator *ev,
                                        ia_rank_eval *r, int test, ia_block_scores fn, void *ctx,
                                        ia_metrics *out);
