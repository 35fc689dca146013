#pragma once
/* ∞-AE model files (HDF5; layout in README.md, "Model file layout") and
 * `infae_mpi recommend`, which scores any user given by its items:
 * scores(q) = Σ_j NTK(q, x_j)·α_j over the fit users j. */
#include <mpi.h>
#include <stdint.h>

#include "infae/dataset.h"
#include "infae/grid.h"
#include "infae/infae.h"
#include "infae/status.h"
#include "infae/train.h"

/* Writes the model of the kept α: α, the fit users' train rows and ids, item
 * ids, λ, λ', metrics and provenance, through a temporary file renamed on
 * success. fit = the fit users (NULL: all). Collective on g->comm. */
IA_NODISCARD ia_status ia_model_write(ia_infae *m, const ia_grid *g, const ia_train_opts *o,
                                      const ia_dataset *d, const ia_train_result *r,
                                      const int64_t *fit);

typedef struct {
  const char *model;  /* MODEL.h5 */
  const char *input;  /* `user item` lines (original ids) */
  const char *output; /* `user item score` lines; NULL: stdout */
  int k;
  int keep_input;     /* 1: input items may be recommended */
  int batch;          /* users scored together */
} ia_recommend_opts;

/* Scores every user of the input with the model. Collective on comm: the fit
 * users are spread over the ranks. */
IA_NODISCARD ia_status ia_recommend(MPI_Comm comm, const ia_recommend_opts *o);
