#pragma once
/* `infae_mpi train`: fit a model on the train split, pick λ on validation
 * HR@100, report test metrics (docs/protocol.md §2). */
#include <mpi.h>

#include "infae/core/status.h"
#include "infae/eval/result.h"
#include "infae/infae/infae.h"
#include "infae/models/model.h"
#include "infae/models/recoder.h"

/* ∞-AE's default λ grid (relative: λ' = λ·tr(K)/U); EASE's is in
 * infae/models/model.h. */
extern const double ia_infae_grid[6];

typedef struct {
  const char *data;      /* prepared dataset (HDF5) */
  const char *model;     /* infae | ease | pop | recoder */
  const double *lambdas; /* grid; NULL = the model's default */
  int n_lambdas;
  const char *metrics_json; /* written by rank 0 when not NULL */
  const char *out;          /* ∞-AE model file (HDF5), or NULL */
  const char *command;      /* provenance */
  /* ∞-AE */
  ia_precision precision;
  int depth;        /* NTK hidden ReLU layers; 0: 1, or with train_on the summary's */
  ia_device device; /* where ∞-AE runs: auto | cpu | cuda */
  int gpus;         /* one rank, exact fit: spread K over this many GPUs of the
                               node (cusolverMg; 0: one device) */
  int nprow, npcol; /* process grid; 0 = automatic */
  int block_size;
  int64_t eval_block;  /* ∞-AE: users per rank in each block of predictions; 0 = automatic */
  int64_t train_users; /* fit on a random sample of this many users; 0 = all */
  int64_t centers;     /* Nyström: fit every user through this many random users; 0 = exact */
  /* With a sample or centers, NTK(C, X_fit) of every user: kept when it fits
   * the memory limit (AUTO), kept (KEEP), or made a block of users at a
   * time for each use (STREAM). */
  enum { IA_CROSS_AUTO = 0, IA_CROSS_KEEP, IA_CROSS_STREAM } cross_kernel;
  uint64_t seed;              /* of the user sample (or the centers) */
  int64_t memory_limit;       /* bytes per rank; 0 = the node's available memory / ranks */
  const char *kernel_samples; /* "u1:v1,u2:v2" original user ids: report K(u, v) */
  const char *train_on;       /* fit on this summary's S instead of the train split */
  int train_on_binary;        /* ... on its /binary rows instead of S */
  ia_recoder_opts recoder;    /* --model recoder (its seed is `seed`) */
} ia_train_opts;

/* Runs the protocol. Every rank returns the same result. Collective. */
IA_NODISCARD ia_status ia_train(MPI_Comm comm, const ia_train_opts *o, ia_train_result *r);

/* Prints the readable table (rank 0). */
void ia_train_print(const ia_train_result *r);

/* The metrics, timings and provenance as JSON text (malloc'd; NULL when out
 * of memory). Not collective. */
char *ia_train_json(const ia_train_opts *o, const ia_train_result *r);

/* Writes the metrics JSON through a temporary file. Not collective. */
IA_NODISCARD ia_status ia_train_write_json(const ia_train_opts *o, const ia_train_result *r,
                                           const char *path);
