#pragma once
/* Memory and flop plan of ∞-AE before anything is allocated: `infae_mpi
 * plan` prints it, `train` refuses up front when a rank would not fit. */
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "infae/core/status.h"
#include "infae/infae/infae.h"

/* "8G", "512M", "64k", "1.5T" or a byte count (binary units) given to
 * option --opt. Not collective. */
IA_NODISCARD ia_status ia_parse_bytes(const char *opt, const char *text, int64_t *bytes);

/* Default memory of one rank: the node's available memory (MemAvailable)
 * over the ranks on that node. Collective on comm. */
IA_NODISCARD ia_status ia_memory_per_rank(MPI_Comm comm, int64_t *bytes);

/* Prints the plan (rank 0): bytes per rank by array, flops by step and the
 * time at gflops_per_rank. lambdas = number of λ factorizations. */
void ia_plan_print(const ia_infae_plan *p, int64_t n, int64_t d, int64_t u, int size,
                   ia_precision prec, int lambdas, double gflops_per_rank);

/* The plan `train` follows with `lambdas` λ, the first that takes at most
 * limit bytes per rank (limit ≤ 0: no limit) of: NTK(C, X_fit) of every
 * user kept (with a sample) and a copy of K factored for each λ (several λ,
 * the exact fit or a user sample); NTK(C, X_fit) made a block of users at a
 * time for each use; and also K made again for each λ. Not collective. */
void ia_infae_plan_choose(int64_t n, int64_t d, int64_t u, int64_t nnz, int size, int nprow,
                          int npcol, int nb, ia_precision p, int lambdas, int nystrom, double limit,
                          ia_infae_plan *out);

/* Total flops of the protocol with `lambdas` factorizations. */
double ia_plan_flops(const ia_infae_plan *p, int lambdas);

/* Bytes as "512 B", "3.25 GiB" (binary units). */
const char *ia_plan_bytes(double bytes, char *buf, size_t n);
/* A duration as "12.3 s", "4 min 05 s", "2 h 24 min" or "3.5 days". */
const char *ia_plan_duration(double seconds, char *buf, size_t n);

/* EASE (`train --model ease`): bytes per rank and flops. */
typedef struct {
  double bytes_gram, bytes_weights, bytes_eval, bytes_data, bytes_total;
  double flops_gram, flops_fit, flops_eval, flops_test; /* fit and eval per λ */
  int lambdas;
} ia_ease_plan;
void ia_ease_plan_make(int64_t n, int64_t d, int64_t nnz, int size, int lambdas, ia_ease_plan *out);
void ia_ease_plan_print(const ia_ease_plan *p, int64_t n, int64_t d, int size, double rate);

/* Bytes per rank of EASE trained on a sample of μ rows over d items
 * (eval/ease_select.c): its low-rank form when μ < d (V and Vᵀ, current and
 * best, λI + SSᵀ and its factor, the diagonals, the blocks' sums), else
 * three d × d arrays. Not collective. */
double ia_ease_sample_bytes(int64_t mu, int64_t d);

/* Distill-CF (`distill`): bytes per rank and flops of μ synthetic users
 * with γ Gumbel samples, `batch` real users per step (0: all), `steps`
 * steps, a λ grid of `lambdas`, (ease) EASE on the summary and ∞-AE on
 * binary_candidates candidates of /binary (its validated rule; else 0). */
typedef struct {
  double bytes_sample, bytes_own, bytes_inner, bytes_blocks, bytes_checkpoint, bytes_ease,
      bytes_data, bytes_total;
  double flops_outer, flops_inner, draws_step, flops_validation, flops_ease;
  int validations, binary_candidates, steps;
} ia_distill_plan;
void ia_distill_plan_make(int64_t n, int64_t d, int64_t nnz, int size, int64_t mu, int gamma,
                          int64_t batch, int steps, int lambdas, int ease, int binary_candidates,
                          ia_distill_plan *out);
void ia_distill_plan_print(const ia_distill_plan *p, int64_t n, int64_t d, int64_t mu, int size,
                           double rate);
