#pragma once
/* What a fit reports: the λ grid (or Recoder's epochs) with its validation
 * metrics, the chosen value's test metrics, sizes, provenance, timings and
 * flops. Filled by `train`, by the models fit on a sample and by Distill-CF's
 * evaluation of its summary; printed and written as JSON by infae/app/train.h. */
#include <stdint.h>

#include "infae/eval/metrics.h"
#include "infae/infae/infae.h"

enum { IA_MAX_LAMBDAS = 64 };

typedef struct {
  char model[16];
  int has_lambda; /* 0 for pop */
  int by_epoch;   /* recoder: "λ" values are the epochs validated */
  int n_lambdas;
  double lambdas[IA_MAX_LAMBDAS];
  int skipped[IA_MAX_LAMBDAS]; /* factorization failed */
  ia_metrics val[IA_MAX_LAMBDAS];
  double best_lambda;
  ia_metrics test;
  int64_t users, items, train_nnz;
  char sha256[65];
  int ranks;
  double t_read, t_gram, t_fit, t_val, t_test, t_total; /* seconds */
  double gram_flops, fit_flops;
  /* ∞-AE */
  ia_precision precision;
  char device[96]; /* rank 0's backend, e.g. "cpu" */
  int nprow, npcol, block_size;
  int64_t fit_users; /* Nyström: the centers */
  int nystrom;
  double trace_k, lambda_prime; /* at the best λ */
  ia_infae_stats steps;
  int n_kernel; /* K samples requested */
  char kernel_ids[16][2][64];
  double kernel_values[16];
  double bytes_per_rank; /* planned */
  double peak_rss;       /* bytes, the largest rank */
  /* Recoder */
  int64_t params, steps_done;
  double steps_per_s, final_loss;
} ia_train_result;
