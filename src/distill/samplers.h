#pragma once
/* The baseline samplers of `distill --sampler head|interactions` (random
 * users are drawn by ia_rng_choose in distill.c). Internal. */
#include <mpi.h>
#include <stdint.h>

#include "infae/core/status.h"
#include "infae/io/dataset.h"

/* The k users with the most train interactions (ties: lower index),
 * ascending, on every rank. Collective. */
IA_NODISCARD ia_status ia_head_users(MPI_Comm comm, const ia_dataset *d, int64_t k, int64_t *out);

/* Random interactions: each train interaction is kept with probability q
 * (a stream per user, so the draw does not depend on the ranks); the sample
 * is the kept rows of the users that keep at least one, on every rank:
 * users (ascending, *mu of them), s (mu × d) and the kept count. Collective. */
IA_NODISCARD ia_status ia_interaction_sample(MPI_Comm comm, const ia_dataset *d, uint64_t seed,
                                             double q, int64_t **users, int64_t *mu, double **s,
                                             int64_t *kept);
