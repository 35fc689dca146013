#pragma once
/* Recoder: a finite autoencoder for collaborative filtering trained with
 * mini-batch negative sampling. A user's row goes through input dropout and
 * hidden layers to one score per item; the loss of a step covers only the
 * items that some user of the step's batch interacted with (the others are
 * not sampled), so the batch size tunes the sampling. Adam, data parallel:
 * each rank takes its users of the batch and one all-reduce sums the
 * gradient. FP64, on the CPU or CUDA backend. */
#include <mpi.h>
#include <stdint.h>

#include "infae/backend/backend.h"
#include "infae/core/csr.h"
#include "infae/core/status.h"

enum { IA_RECODER_MAX_LAYERS = 8 };

typedef struct {
  int hidden[IA_RECODER_MAX_LAYERS]; /* hidden layer widths */
  int n_hidden;
  ia_act act; /* of the hidden layers; the output is linear */
  ia_loss loss;
  double dropout;    /* probability of dropping an input item */
  double confidence; /* positives weigh 1 + confidence */
  double lr;         /* Adam */
  int epochs;
  int64_t batch;  /* users per step, over all ranks */
  int eval_every; /* epochs between validations */
  int patience;   /* validations without a better HR@100 before stopping */
  uint64_t seed;  /* weights, epoch order, dropout */
} ia_recoder_opts;

/* The defaults of `train --model recoder`: one hidden layer of 200 tanh
 * units, softmax loss, dropout 0.5, no confidence weight, Adam lr 1e-3, 50
 * epochs of batches of 256 users, validation every epoch, patience 10. */
void ia_recoder_defaults(ia_recoder_opts *o);

/* Parses "tanh", "relu", "sigmoid", "identity" and "mse", "softmax". */
IA_NODISCARD ia_status ia_act_parse(const char *text, ia_act *out);
IA_NODISCARD ia_status ia_loss_parse(const char *text, ia_loss *out);
/* o->hidden from n widths given as reals (whole numbers ≥ 1). */
IA_NODISCARD ia_status ia_recoder_set_hidden(const double *v, int n, ia_recoder_opts *o);
const char *ia_act_name(ia_act a);
const char *ia_loss_name(ia_loss l);

/* The rows a Recoder learns from: either sparse rows of which this rank
 * holds [row_begin, row_begin + rows->n_rows), or dense rows (row-major
 * n_users × d, values in [0, 1]) that every rank holds whole. */
typedef struct {
  int64_t n_users, d;
  const ia_csr *rows;
  int64_t row_begin;
  const double *dense;
} ia_recoder_data;

typedef struct ia_recoder ia_recoder;

/* Weights drawn from the seed (Glorot uniform, zero biases): the same on
 * every rank. Workspace for max_rows users per step or scoring call on this
 * rank. Collective over the backend's ranks. */
IA_NODISCARD ia_status ia_recoder_create(MPI_Comm comm, ia_backend *be, const ia_recoder_opts *o,
                                         int64_t d, int64_t max_rows, ia_recoder **out);
void ia_recoder_free(ia_recoder **m);

int64_t ia_recoder_n_params(const ia_recoder *m);
/* Every weight and bias, layer after layer (W column-major in × out, then b). */
IA_NODISCARD ia_status ia_recoder_get_params(ia_recoder *m, double *host);
IA_NODISCARD ia_status ia_recoder_set_params(ia_recoder *m, const double *host);
/* The layer widths n[0] = items, n[1 …] hidden, n[layers] = items, into n
 * (IA_RECODER_MAX_LAYERS + 2 entries); returns the number of layers. */
int ia_recoder_widths(const ia_recoder *m, int64_t *n);
/* Flops of the dense products done so far. */
double ia_recoder_flops(const ia_recoder *m);

/* Epoch `epoch`'s order of n users: a seeded shuffle, the same on every
 * rank. Not collective. */
void ia_recoder_epoch_order(uint64_t seed, int epoch, int64_t n, int64_t *order);

/* The loss of the batch users[0..n) (global indices, every rank the same
 * list) and its gradient (host, n_params; NULL: the loss only), with the
 * dropout of step `step`. Collective. */
IA_NODISCARD ia_status ia_recoder_loss_grad(ia_recoder *m, const ia_recoder_data *x,
                                            const int64_t *users, int64_t n, int64_t step,
                                            double *loss, double *grad);

/* One Adam step (step ≥ 1) on the batch users[0..n). Collective. */
IA_NODISCARD ia_status ia_recoder_step(ia_recoder *m, const ia_recoder_data *x,
                                       const int64_t *users, int64_t n, int64_t step, double *loss);

/* The scores (row-major n × d, host) of n ≤ max_rows users whose binary
 * context rows are a[rows[u]] ∪ b[rows[u]] (b may be NULL). Not collective. */
IA_NODISCARD ia_status ia_recoder_scores(ia_recoder *m, const ia_csr *a, const ia_csr *b,
                                         const int64_t *rows, int64_t n, double *p);
