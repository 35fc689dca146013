#pragma once
/* `train --model recoder` (see include/infae/models/recoder.h). Internal. */
#include <mpi.h>

#include "infae/app/train.h"
#include "infae/eval/metrics.h"
#include "infae/io/dataset.h"

/* Trains on the train split of d, or on dense rows (mu × items, row-major,
 * on every rank) when dense is not NULL; validates every eval_every epochs,
 * keeps the best weights by validation HR@100 and reports their test
 * metrics in r (the "λ" fields hold the validated epochs). Collective. */
IA_NODISCARD ia_status ia_train_recoder(MPI_Comm comm, const ia_train_opts *o, const ia_dataset *d,
                                        ia_evaluator *ev, const double *dense, int64_t mu,
                                        ia_train_result *r);
