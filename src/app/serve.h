#pragma once
/* A model file served: ∞-AE, EASE or Recoder (infae/io/model_file.h), spread
 * over the ranks, scoring batches of users given by their items. Each rank
 * computes its part of a batch's scores; the parts sum to the scores
 * (MPI_Reduce). Internal to `recommend`. */
#include <hdf5.h>
#include <mpi.h>
#include <stdint.h>

#include "infae/backend/backend.h"
#include "infae/core/csr.h"
#include "infae/core/status.h"
#include "infae/models/recoder.h"

typedef enum { SERVE_INFAE, SERVE_EASE, SERVE_RECODER } serve_kind;

typedef struct {
  serve_kind kind;
  int64_t d; /* items */
  int depth; /* ∞-AE: the NTK's hidden layers */
  int rank, size;
  /* ∞-AE: this rank's fit rows [begin, begin + count) of fit_users, binary
   * (x) or dense (s, a summary's rows), and their α rows. */
  int64_t fit_users, count;
  ia_csr x;
  double *s, *alpha, *nx, *kq;
  uint8_t *mark;
  /* EASE: this rank's rows [begin, begin + count) of B. */
  double *b;
  int64_t b_begin, b_count;
  /* Recoder: replicated weights; each rank scores its share of a batch. */
  ia_backend *be;
  ia_recoder *rec;
} server;

/* Reads this rank's part of the model of kind in file (path for messages;
 * d items), for batches of at most `batch` users. Collective on comm. */
IA_NODISCARD ia_status server_open(MPI_Comm comm, hid_t file, const char *path, serve_kind kind,
                                   int64_t d, int batch, server *v);
/* This rank's part of the scores (row-major q->n_rows × d) of the binary
 * rows q. Not collective. */
IA_NODISCARD ia_status server_score(server *v, const ia_csr *q, double *scores);
void server_free(server *v);
