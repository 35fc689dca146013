#pragma once
/* `infae_mpi study`: the sampling experiments of the paper as one command.
 * Samplers (random users, head users, random interactions, Distill-CF) make
 * summaries at several budgets; models (∞-AE, EASE, Recoder) trained on each
 * summary are evaluated on the real users' clean splits. The noise study
 * repeats this at one budget on copies of the data whose train rows have x %
 * of the items flipped. Results go to a CSV and, through gnuplot, to PNG
 * plots. Summaries already in the output directory are reused. */
#include <mpi.h>
#include <stdint.h>

#include "infae/core/status.h"
#include "infae/distill/distill.h"
#include "infae/io/dataset.h"
#include "infae/models/recoder.h"

enum { IA_STUDY_MAX = 16 };

typedef struct {
  const char *data;                   /* prepared dataset */
  const char *out_dir;                /* summaries, noisy datasets, CSV, plots */
  const char *samplers[IA_STUDY_MAX]; /* random | head | interactions | distill */
  int n_samplers;
  int64_t budgets[IA_STUDY_MAX];
  int n_budgets;
  const char *models[IA_STUDY_MAX]; /* infae | ease | recoder */
  int n_models;
  double noise[IA_STUDY_MAX]; /* percent of the items flipped per user; 0 = clean */
  int n_noise;
  int64_t noise_budget;    /* the budget of the noise study */
  ia_distill_opts distill; /* Distill-CF settings (data, out, sampler, budget unused) */
  ia_recoder_opts recoder;
  uint64_t seed;
  int plot; /* run gnuplot when it is on PATH */
  const char *command;
} ia_study_opts;

/* Runs the study. Collective. */
IA_NODISCARD ia_status ia_study(MPI_Comm comm, const ia_study_opts *o);

/* Writes a copy of the dataset at in (read whole by the calling rank) whose
 * train rows have round(pct/100 · items) items flipped per user (present →
 * absent, absent → present), drawn by seed among the items not in the user's
 * validation or test rows; validation, test and negatives are kept. Not
 * collective: one rank calls it. */
IA_NODISCARD ia_status ia_dataset_write_noisy(const char *in, const char *out, double pct,
                                              uint64_t seed);
