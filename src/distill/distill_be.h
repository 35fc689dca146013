#pragma once
/* One Distill-CF step on a compute backend (include/infae/backend/backend.h): the
 * same step as distill_host.h, with every array in the backend's memory and
 * the sparse products done as dense GEMMs on blocks of densified users,
 * which is what a GPU wants. `distill --device cuda` runs it; the CPU keeps
 * the sparse host step of distill_host.h, and the tests compare the two on
 * the CPU backend.
 *
 * Layout as in distill_host.h. Arrays are column-major: S, A, α and dS are
 * d × μ (column j is synthetic user j), so the logits of a rank are its
 * nz columns from z0 on. Per step: one all-reduce of the sampled columns
 * (each rank adds its own into zeros) and one of the partial gradients.
 * Internal. */
#include <mpi.h>
#include <stdint.h>

#include "eval/rank_eval.h"
#include "eval/sample_eval.h"
#include "infae/backend/backend.h"
#include "infae/core/csr.h"
#include "infae/core/gumbel.h"
#include "infae/core/status.h"

typedef struct {
  MPI_Comm comm;
  int rank, size;
  ia_backend *be;
  int64_t mu, d;
  int depth;      /* the NTK's hidden layers */
  int64_t z0, nz; /* this rank's synthetic users [z0, z0 + nz) */
  int64_t chunk;  /* real users per block of the outer pass */
  ia_gumbel g;
  double c_card, ipu;
  const ia_csr *t; /* this rank's real users' train rows (host) */
  ia_be_csr *tb;   /* the same rows in the backend */
  double trace, lambda, lambda_prime;
  /* In the backend's memory. */
  double *a, *s, *alpha;          /* d × μ */
  double *gram, *k, *l, *dk, *dg; /* μ × μ */
  double *ns, *dn;                /* μ */
  double *red; /* all-reduce: dα (d × μ) | dS (d × μ) | d|s|² (μ) | loss | flag */
  int64_t n_red;
  double *tt, *cp;          /* d × chunk: densified users, predictions */
  double *cg, *cdxy, *cdnr; /* μ × chunk: cross Gram (then kernel), partials */
  double *cnt;              /* chunk: |t_u|² */
  int32_t *rows;            /* chunk: local rows */
  /* Host staging of a block's rows and counts. */
  int32_t *rows_h;
  double *cnt_h;
  ia_rank_eval re; /* validation, made at its first use */
} ia_distill_be;

/* Collective on comm. t holds this rank's users (any count, also 0); chunk
 * 0 picks the block size from d. */
IA_NODISCARD ia_status ia_distill_be_create(MPI_Comm comm, ia_backend *be, int64_t mu, int64_t d,
                                            int depth, const ia_gumbel *g, double c_card,
                                            double ipu, const ia_csr *t, int64_t chunk,
                                            ia_distill_be *p);
void ia_distill_be_free(ia_distill_be *p);
/* Samples this rank's columns at step `step` from z (d × nz, backend),
 * gathers S on every rank and computes K = NTK(S, S). Collective. */
IA_NODISCARD ia_status ia_distill_be_sample(ia_distill_be *p, const double *z, uint64_t step);
/* Takes S (μ × d, host, the same on every rank) as the sample instead, and
 * computes its K. Not collective. */
IA_NODISCARD ia_status ia_distill_be_set_sample(ia_distill_be *p, const double *s);
/* Factors K + λ'I and solves α; IA_ERR_NOTSPD names λ. Not collective. */
IA_NODISCARD ia_status ia_distill_be_fit(ia_distill_be *p, double lambda);
/* As ia_distill_host_loss_grad: dz (d × nz, backend) for this rank's logits.
 * Collective; the errors of the ops after the all-reduce are this rank's
 * (the caller agrees on them), as for ia_distill_be_sample. */
IA_NODISCARD ia_status ia_distill_be_loss_grad(ia_distill_be *p, const double *z,
                                               const int64_t *rows, int64_t n, int64_t b_total,
                                               double *loss, double *ce, double *dz, int *flag);
/* As ia_distill_host_loss. Collective. */
IA_NODISCARD ia_status ia_distill_be_loss(ia_distill_be *p, const int64_t *rows, int64_t n,
                                          int64_t b_total, double *loss, double *ce);
/* The fitted sample as a model for ia_sample_select: fit on the backend,
 * validation predictions made, masked and ranked there a block at a time;
 * the top lists and the scores of the held and negative items come to the
 * host for the metrics (validation only: the context is the train rows of
 * the step's users, so d must be the dataset those rows came from). */
ia_sample_model ia_distill_be_model(ia_distill_be *p);
