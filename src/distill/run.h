#pragma once
/* What one Distill-CF run (distill.c) shares with its state's moves
 * (run.c): the run itself, the signals that ask it for a checkpoint and a
 * clean exit, the logits between device and host, and the checkpoint file.
 * Internal. */
#include <mpi.h>
#include <signal.h>
#include <stdint.h>

#include "distill/distill_be.h"
#include "distill/distill_host.h"
#include "distill/summary.h"
#include "eval/sample_eval.h"
#include "infae/distill/distill.h"
#include "infae/io/dataset.h"

/* Everything of one run that the loop and the checkpoint share. */
typedef struct {
  MPI_Comm comm;
  int rank, size;
  const ia_distill_opts *o;
  int select; /* the validation metric of the choices (IA_HR100 or IA_NDCG10) */
  const ia_dataset *d;
  ia_distill_host p; /* the host step; with a device, p.s holds S at validation steps */
  ia_backend *be;
  int on_dev; /* the step runs on the backend (pb, zd, md, vd, dzd) */
  ia_distill_be pb;
  double *zd, *md, *vd, *dzd; /* this rank's logits, Adam moments and gradient on the device */
  ia_evaluator *ev;
  ia_ckpt c;      /* the full state; z, m, v hold only this rank's rows */
  int64_t *batch; /* local rows of this step's batch */
  int64_t n_batch, b_total;
  uint8_t *in_batch;
  const char *ckpt_path;
} distill_run;

typedef struct {
  struct sigaction term, usr1;
} distill_saved_signals;

/* From the optimization to the summary's write, a signal only asks: these
 * install and restore the handlers. */
void distill_catch_signals(distill_saved_signals *old);
void distill_restore_signals(const distill_saved_signals *old);
/* Whether this rank was asked to stop; whether any rank was (collective). */
int distill_stop_asked(void);
int distill_signalled(MPI_Comm comm);

/* Gathers the distributed rows of x (this rank's nz×d) into full (μ×d) on
 * rank 0 (every rank when all). Collective. */
IA_NODISCARD ia_status distill_gather_rows(distill_run *q, const double *x, double *full, int all);
/* The logits (and with all the Adam moments) from the device to q->c, or
 * back. Not collective. */
IA_NODISCARD ia_status distill_sync_host(distill_run *q, int all);
IA_NODISCARD ia_status distill_sync_device(distill_run *q);
/* The checkpoint at q->ckpt_path: written by rank 0 from every rank's rows,
 * or read by rank 0 and spread. Collective. */
IA_NODISCARD ia_status distill_write_checkpoint(distill_run *q, int64_t next_step);
IA_NODISCARD ia_status distill_read_checkpoint(distill_run *q);
/* An existing file at the checkpoint's path is never overwritten unless it
 * is a Distill-CF checkpoint that --resume continues. Rank 0. */
IA_NODISCARD ia_status distill_check_checkpoint_path(const char *path, int resume);
