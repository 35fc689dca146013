#pragma once
/* The reference split protocol (docs/protocol.md §1): per-user shuffle, 80/10/10 with
 * the first shuffled item forced to test, and AUC negatives. */
#include <stdint.h>

#include "infae/core/csr.h"
#include "infae/core/status.h"

/* Splits every row of `all` (deduplicated, sorted rows; row index = user id
 * for the random stream) into train/val/test, and draws n_neg negatives per
 * user among the items in neither train nor test (all of them, ascending,
 * when fewer are available). Output rows are sorted. Not collective. */
IA_NODISCARD ia_status ia_split_users(const ia_csr *all, uint64_t seed, int n_neg, ia_csr *train,
                                      ia_csr *val, ia_csr *test, ia_csr *negatives);

/* Draws the negatives of an existing split as ia_split_users does (same
 * random streams, same rule): n_neg per user among the items in neither his
 * train nor his test row. Not collective. */
IA_NODISCARD ia_status ia_split_negatives(const ia_csr *train, const ia_csr *test, uint64_t seed,
                                          int n_neg, ia_csr *negatives);

/* Sizes of the three parts for a user with n interactions (n >= 1). */
void ia_split_sizes(int64_t n, int64_t *n_train, int64_t *n_val, int64_t *n_test);
