#pragma once
/* Model files (HDF5; layouts in docs/file-formats.md), written by `train
 * --out` and served by `infae_mpi recommend` (infae/recommend.h). Every file
 * has the attributes format, version, model, lambda, users, items, dataset,
 * dataset_source_sha256, dataset_seed, trained_on, metrics (train's JSON),
 * command and infae_version, and the item ids in /items/ids. */
#include <mpi.h>
#include <stdint.h>

#include "infae/dataset.h"
#include "infae/grid.h"
#include "infae/infae.h"
#include "infae/status.h"
#include "infae/train.h"

#define IA_MODEL_FORMAT "infae-model"     /* ∞-AE: α and the fit rows */
#define IA_EASE_FORMAT "infae-ease"       /* EASE: B */
#define IA_RECODER_FORMAT "infae-recoder" /* Recoder: W1 … WL, b1 … bL */
#define IA_MODEL_VERSION 1

/* Writes the model of the kept α: α, the fit users' train rows and ids, item
 * ids, λ, λ', metrics and provenance, through a temporary file renamed on
 * success. fit = the fit users (NULL: all). Collective on g->comm. */
IA_NODISCARD ia_status ia_model_write(ia_infae *m, const ia_grid *g, const ia_train_opts *o,
                                      const ia_dataset *d, const ia_train_result *r,
                                      const int64_t *fit);

/* EASE's B (d × d, the same on every rank) at the chosen λ; rank 0 writes.
 * Collective. */
IA_NODISCARD ia_status ia_ease_model_write(MPI_Comm comm, const ia_train_opts *o,
                                           const ia_train_result *r, const double *b, int64_t d);

/* ∞-AE fit on a summary: the dense fit rows S (μ × d) and α (μ × d), both
 * row-major and the same on every rank; rank 0 writes. Collective. */
IA_NODISCARD ia_status ia_sample_model_write(MPI_Comm comm, const ia_train_opts *o,
                                             const ia_train_result *r, const double *s,
                                             const double *alpha, int64_t mu, int64_t d);
