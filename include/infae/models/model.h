#pragma once
/* Baseline models: PopRec (item popularity) and EASE (Steck 2019). */
#include <mpi.h>
#include <stdint.h>

#include "infae/core/csr.h"
#include "infae/core/status.h"

/* EASE's default λ grid (absolute). */
extern const double ia_ease_grid[7];

/* Scores of PopRec: the train count of every item. Not collective. */
void ia_pop_scores(const int64_t *item_train_count, int64_t n_items, double *scores);

/* G = XᵀX (n_items × n_items, full, row-major) of the train rows held by all
 * ranks together; each rank passes its rows. Returns the flop count (integer
 * adds) of the local part. Collective on comm. */
IA_NODISCARD ia_status ia_ease_gram(MPI_Comm comm, const ia_csr *train, double *g, double *flops);

/* B = I − P·diag(1/diag P), P = (G + λI)^{-1}, with a zero diagonal, stored
 * row-major so that row j holds item j's contribution. G+λI not SPD gives
 * IA_ERR_NOTSPD naming λ. Not collective. */
IA_NODISCARD ia_status ia_ease_fit(const double *g, int64_t n_items, double lambda, double *b);

/* scores = Σ_{j ∈ ctx_a ∪ ctx_b} B[j, :] (a binary context row times B).
 * ctx_a and ctx_b are sorted. Not collective. */
void ia_ease_scores(const double *b, int64_t n_items, const int32_t *ctx_a, int64_t n_a,
                    const int32_t *ctx_b, int64_t n_b, double *scores);
