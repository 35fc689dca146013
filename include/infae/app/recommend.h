#pragma once
/* `infae_mpi recommend`: the top k items of users under a model file from
 * `train --out` (infae/io/model_file.h), whatever the model:
 *   ∞-AE     scores(q) = Σ_j NTK(q, x_j)·α_j over the fit rows x_j
 *   EASE     scores(q) = q·B
 *   Recoder  the forward pass of q, without dropout.
 * A user is given by items (`user item` lines, original ids: known or new
 * users), or is a user of the model's dataset named alone (`user` lines) or
 * with --all-users: its context is then its train and validation items. */
#include <mpi.h>

#include "infae/core/status.h"

typedef struct {
  const char *model;  /* MODEL.h5 */
  const char *input;  /* `user item` and `user` lines; NULL with all_users */
  const char *data;   /* the dataset of `user` lines and all_users; NULL: the model's */
  int all_users;      /* every user of the dataset */
  const char *output; /* `user item score rank` lines; NULL: stdout */
  int k;
  int keep_input; /* 1: context items may be recommended */
  int batch;      /* users scored together */
} ia_recommend_opts;

/* Scores every user asked for. Only the recommendations go to the output;
 * progress and warnings go to stderr. Collective on comm: the model's fit
 * rows (∞-AE), rows of B (EASE) or each batch's users (Recoder) are spread
 * over the ranks, and the scores summed on rank 0. */
IA_NODISCARD ia_status ia_recommend(MPI_Comm comm, const ia_recommend_opts *o);
