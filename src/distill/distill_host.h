#pragma once
/* One Distill-CF step (docs/protocol.md §4): the Gumbel-softmax sample, the inner
 * ∞-AE on it, the outer loss on a batch of real users and its gradient with
 * respect to the logits.
 *
 * Layout: synthetic rows (logits Z, their Adam state, their Gumbel samples)
 * are split in contiguous blocks over the ranks; the sample S, the inner
 * model and everything μ×μ are replicated; each rank holds a block of real
 * users. Per step: one MPI_Allgatherv of the sampled rows and one
 * MPI_Allreduce of the partial gradients (dL/dα, the direct dL/dS, the
 * loss and a stop flag). Internal. */
#include <mpi.h>
#include <stdint.h>

#include "infae/core/csr.h"
#include "infae/core/gumbel.h"
#include "infae/core/status.h"
#include "infae/infae/krr.h"

typedef struct {
  MPI_Comm comm;
  int rank, size;
  int64_t mu, d;
  int64_t z0, nz;       /* this rank's synthetic rows [z0, z0 + nz) */
  int *counts, *displs; /* of the allgather, in doubles */
  ia_gumbel g;
  double c_card, ipu; /* cardinality weight, train interactions per user */
  const ia_csr *t;    /* this rank's real users' train rows */
  double *a;          /* μ×d: Σ_k softmax, before hardtanh */
  double *s;          /* μ×d: the sample S = min(A, 1) */
  ia_krr krr;
  double *red; /* all-reduce buffer: dα (μd) | dSᵀ (dμ) | d|s|² (μ) | loss | flag */
  int64_t n_red;
  double *ds, *work, *scratch;
  int64_t chunk; /* real users per block of the outer pass */
  double *cg, *cn, *ck, *cdxy, *cdss, *cp;
  int64_t *colptr; /* a block's users by item (ia_csr_columns_of_rows) */
  int32_t *pos;
  double bytes_allreduce, bytes_allgather; /* per step, per rank */
} ia_distill_host;

/* Collective on comm. t holds this rank's users (any count, also 0). */
IA_NODISCARD ia_status ia_distill_host_create(MPI_Comm comm, int64_t mu, int64_t d, int depth,
                                              const ia_gumbel *g, double c_card, double ipu,
                                              const ia_csr *t, ia_distill_host *p);
void ia_distill_host_free(ia_distill_host *p);

/* Samples this rank's rows at step `step` (p->g.step is set), gathers S on
 * every rank and computes the inner kernel. z: this rank's nz×d logits.
 * Collective. */
IA_NODISCARD ia_status ia_distill_host_sample(ia_distill_host *p, const double *z, uint64_t step);

/* Loss at the current sample and λ (ia_krr_fit done) over the batch: the
 * local rows `rows` (n of them) of t, b_total users on all ranks; and dz,
 * the gradient for this rank's logits. flag: this rank's stop request in,
 * the sum over ranks out. Collective. */
IA_NODISCARD ia_status ia_distill_host_loss_grad(ia_distill_host *p, const double *z,
                                                 const int64_t *rows, int64_t n, int64_t b_total,
                                                 double *loss, double *ce, double *dz, int *flag);

/* Forward only (no gradient): the same loss. Collective. */
IA_NODISCARD ia_status ia_distill_host_loss(ia_distill_host *p, const int64_t *rows, int64_t n,
                                            int64_t b_total, double *loss, double *ce);

/* Pieces, exposed for the finite-difference tests. */
/* Softmax cross-entropy of one prediction row against binary items:
 * returns |items|·lse(p) − Σ p[items]; dp = scale·(|items|·softmax(p) − 1_items). */
double ia_distill_host_ce(const double *p, int64_t d, const int32_t *items, int64_t n, double scale,
                          double *dp);
/* Outer pass over local rows: returns the loss sum; when red is not NULL
 * accumulates dα, dSᵀ and d|s|² (scaled by 1/b_total) into it. */
double ia_distill_host_outer(ia_distill_host *p, const int64_t *rows, int64_t n, int64_t b_total,
                             double *red);
/* Cardinality term c_card·mean_j(Σ_i S_ji)/ipu. */
double ia_distill_host_card(const ia_distill_host *p);
