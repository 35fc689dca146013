#pragma once
/* The pooled AUC of docs/protocol.md §3, exact and distributed.
 *
 * The pairs (score, label) of every rank are one pooled list in rank order
 * (rank r's pairs follow rank r − 1's). Sorted by score ascending, equal
 * scores in pooled order (the stable sort of the definition), each positive
 * counts the negatives before it:
 *
 *   AUC = Σ_{label-1 entries} (label-0 entries before it) / (positives · negatives)
 *
 * Ordering by the key (score, pooled position) makes that order total, so it
 * can be split across ranks: a sample sort (each rank sorts its pairs, P − 1
 * splitters from a regular sample of every rank, one all-to-all exchange of
 * the pairs, each rank sorts the runs it receives), then each rank counts its
 * range with the negatives of the lower ranges added (an exclusive scan).
 * Counts are integers, so the result does not depend on the rank count. Each
 * rank holds about twice its own pairs; nothing is gathered on one rank. */
#include <mpi.h>
#include <stdint.h>

#include "infae/core/status.h"

/* *auc over the n pairs of every rank (NaN without positives or
 * negatives); scores must not be NaN. *positives and *negatives (may be
 * NULL): the pooled counts. Collective on comm. */
IA_NODISCARD ia_status ia_pooled_auc(MPI_Comm comm, const double *score, const uint8_t *label,
                                     int64_t n, double *auc, int64_t *positives,
                                     int64_t *negatives);
