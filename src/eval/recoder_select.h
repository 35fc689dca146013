#pragma once
/* Recoder trained and selected like any model of `train`: epochs of
 * mini-batch Adam, validation HR@100 every eval_every epochs, the best
 * epoch's weights kept and scored on test. Used by `train --model recoder`
 * (on the train split or a summary) and by `distill --recoder` (on the
 * summary and /binary). Internal. */
#include <mpi.h>

#include "infae/eval/metrics.h"
#include "infae/eval/result.h"
#include "infae/io/dataset.h"
#include "infae/models/recoder.h"

/* Trains a Recoder of options o (its seed included) on the train split of d,
 * or on dense rows (mu × items, row-major, on every rank) when dense is not
 * NULL; fills the λ ("epoch"), val, best_lambda, test, timing, flops and
 * params fields of r. tag: the log lines' "[tag]"; per-epoch lines only with
 * log_epochs. model: when not NULL, receives the Recoder set to the best
 * weights (the caller frees it, before be). Collective. */
IA_NODISCARD ia_status ia_recoder_select(MPI_Comm comm, ia_backend *be, const ia_recoder_opts *o,
                                         const ia_dataset *d, ia_evaluator *ev, const double *dense,
                                         int64_t mu, const char *tag, int log_epochs,
                                         ia_train_result *r, ia_recoder **model);
