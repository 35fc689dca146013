#pragma once
/* Model files (HDF5; layouts in docs/file-formats.md), written by `train
 * --out` and served by `infae_mpi recommend` (infae/app/recommend.h). Every file
 * has the attributes format, version, model, lambda, users, items, dataset,
 * dataset_source_sha256, dataset_seed, trained_on, metrics (train's JSON),
 * command and infae_version, and the item ids in /items/ids. */
#include <mpi.h>
#include <stdint.h>

#include "infae/backend/backend.h"
#include "infae/core/status.h"
#include "infae/dist/grid.h"
#include "infae/io/dataset.h"

#define IA_MODEL_FORMAT   "infae-model"   /* ∞-AE: α and the fit rows */
#define IA_EASE_FORMAT    "infae-ease"    /* EASE: B */
#define IA_RECODER_FORMAT "infae-recoder" /* Recoder: W1 … WL, b1 … bL */
#define IA_MODEL_VERSION  1

/* What a model file records besides its arrays. */
typedef struct {
  const char *out;          /* the file to write */
  const char *data;         /* the dataset the model was trained and evaluated on */
  const char *train_on;     /* the summary it was fit on; NULL: the train split */
  const char *command;      /* provenance */
  const char *metrics_json; /* the metrics, as `train --metrics-json` writes them */
  double lambda;            /* the λ chosen on validation */
  /* ∞-AE */
  double lambda_prime, trace_k;
  int depth; /* the NTK's hidden layers */
  ia_precision precision;
  int nystrom; /* fit users are Nyström centers */
  int64_t fit_users;
  uint64_t seed; /* of the fit users (--train-users or --centers) */
} ia_model_info;

/* Writes an ∞-AE model: α, the fit users' train rows and ids, item ids, λ,
 * λ', metrics and provenance, through a temporary file renamed on success.
 * fit = the fit users (NULL: all). Each rank gives its rows of α in the
 * layout of ia_row_block over the fit users (ia_infae_alpha_rows), column-
 * major with leading dimension ld, in o->precision. Collective on g->comm. */
IA_NODISCARD ia_status ia_model_write(const ia_grid *g, const ia_model_info *o, const ia_dataset *d,
                                      const int64_t *fit, const void *alpha, int64_t ld);

/* EASE's B (d × d, the same on every rank) at the chosen λ; rank 0 writes.
 * Collective. */
IA_NODISCARD ia_status ia_ease_model_write(MPI_Comm comm, const ia_model_info *o, const double *b,
                                           int64_t d);

/* ∞-AE fit on a summary: the dense fit rows S (μ × d) and α (μ × d), both
 * row-major and the same on every rank; rank 0 writes. Collective. */
IA_NODISCARD ia_status ia_sample_model_write(MPI_Comm comm, const ia_model_info *o, const double *s,
                                             const double *alpha, int64_t mu, int64_t d);
