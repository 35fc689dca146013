#pragma once
/* Memory and flop plan of ∞-AE before anything is allocated: `infae_mpi
 * plan` prints it, `train` refuses up front when a rank would not fit. */
#include <mpi.h>
#include <stdint.h>

#include "infae/infae.h"
#include "infae/status.h"

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

/* Total flops of the protocol with `lambdas` factorizations. */
double ia_plan_flops(const ia_infae_plan *p, int lambdas);
