#pragma once
/* The binarized summary (/binary): synthetic users with 0/1 interactions,
 * made from the logits Z (or from S for the samplers without logits).
 * Internal. */
#include <mpi.h>
#include <stdint.h>

#include "infae/core/csr.h"
#include "infae/distill/distill.h"
#include "infae/eval/metrics.h"
#include "infae/infae/krr.h"
#include "infae/io/dataset.h"

typedef struct {
  int n;                                   /* candidates (0: the rule was not validated) */
  int chosen;                              /* index of the one written */
  int64_t items[IA_BINARY_MAX_CANDIDATES]; /* items per row; 0: each row's expected items */
  double val[IA_BINARY_MAX_CANDIDATES];    /* ∞-AE on it: the selection metric on validation
                                              at its λ (chosen by HR@100); NaN: no λ factored */
  double lambda[IA_BINARY_MAX_CANDIDATES]; /* that λ */
} ia_binary_choice;

/* Rows of z (μ × d logits): with items > 0 each row's `items` highest
 * logits; with items == 0 row j's k_j highest, k_j = round(Σ_i 1 − (1 −
 * p_i)^γ), p = softmax(z_j): the expected number of distinct items among
 * the γ Gumbel-max draws S relaxes, whatever τ. Ties go to the lower index.
 * Allocates out (μ × d, indices ascending). Not collective. */
IA_NODISCARD ia_status ia_binary_top(const double *z, int64_t mu, int64_t d, int64_t items,
                                     int gamma, ia_csr *out);

/* Rows of S ≥ thr. Allocates out. Not collective. */
IA_NODISCARD ia_status ia_binary_threshold(const double *s, int64_t mu, int64_t d, double thr,
                                           ia_csr *out);

/* The validated rule: ∞-AE (model, o->lambdas) fitted on each candidate's
 * rows, λ by validation HR@100 as for any model on a summary, the candidate
 * with the best validation metric `select` kept (the first of equals) in
 * out; ch records them all. sb: μ × d scratch. Logs a line per candidate.
 * Collective (z the same on every rank). */
IA_NODISCARD ia_status ia_binary_validated(MPI_Comm comm, const ia_dataset *d, ia_evaluator *ev,
                                           ia_krr *model, const double *z, int64_t mu,
                                           const ia_distill_opts *o, int select, double ipu,
                                           double *sb, ia_binary_choice *ch, ia_csr *out);
