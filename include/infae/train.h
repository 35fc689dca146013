#pragma once
/* `infae_mpi train`: fit a model on the train split, pick λ on validation
 * HR@100, report test metrics (DESIGN §2). */
#include <mpi.h>

#include "infae/metrics.h"
#include "infae/status.h"

enum { IA_MAX_LAMBDAS = 64 };

typedef struct {
  const char *data;         /* prepared dataset (HDF5) */
  const char *model;        /* pop | ease */
  const double *lambdas;    /* grid; NULL = the model's default */
  int n_lambdas;
  const char *metrics_json; /* written by rank 0 when not NULL */
  const char *command;      /* provenance */
} ia_train_opts;

typedef struct {
  char model[16];
  int has_lambda;                       /* 0 for pop */
  int n_lambdas;
  double lambdas[IA_MAX_LAMBDAS];
  int skipped[IA_MAX_LAMBDAS];          /* factorization failed */
  ia_metrics val[IA_MAX_LAMBDAS];
  double best_lambda;
  ia_metrics test;
  int64_t users, items, train_nnz;
  char sha256[65];
  int ranks;
  double t_read, t_gram, t_fit, t_val, t_test, t_total; /* seconds */
  double gram_flops, fit_flops;
} ia_train_result;

/* Runs the protocol. Every rank returns the same result. Collective. */
IA_NODISCARD ia_status ia_train(MPI_Comm comm, const ia_train_opts *o, ia_train_result *r);

/* Prints the readable table (rank 0). */
void ia_train_print(const ia_train_result *r);

/* Writes the metrics JSON through a temporary file. Not collective. */
IA_NODISCARD ia_status ia_train_write_json(const ia_train_opts *o, const ia_train_result *r,
                                           const char *path);
