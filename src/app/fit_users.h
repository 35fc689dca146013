#pragma once
/* Which users `train` fits ∞-AE on: the Nyström centers (--centers), and the
 * kernel entries of named users (--kernel-samples). Internal to `train`. */
#include <mpi.h>
#include <stdint.h>

#include "infae/app/train.h"
#include "infae/core/status.h"
#include "infae/infae/infae.h"
#include "infae/io/dataset.h"

/* --kernel-samples u:v,...: K(u, v) by original user ids, as the reference
 * reports them, into r (after ia_infae_gram). Collective. */
IA_NODISCARD ia_status ia_fit_users_kernel_samples(MPI_Comm comm, const ia_train_opts *o,
                                                   const ia_dataset *d, ia_infae *m,
                                                   ia_train_result *r);
/* Nyström centers: `want` users drawn (seed) among the distinct train rows,
 * each row represented by its first user, ascending, into *out (*n_out of
 * them; *n_distinct: the distinct rows). Every rank gets the same list.
 * Collective. */
IA_NODISCARD ia_status ia_fit_users_centers(MPI_Comm comm, const ia_dataset *d, uint64_t seed,
                                            int64_t want, int64_t **out, int64_t *n_out,
                                            int64_t *n_distinct);
