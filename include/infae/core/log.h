#pragma once
/* Logging: progress on rank 0 only, errors from any rank prefixed [rank r]. */
#include <mpi.h>

#include "infae/core/status.h"

typedef enum { IA_LOG_QUIET = 0, IA_LOG_INFO = 1, IA_LOG_VERBOSE = 2 } ia_log_level;

/* Not collective: records rank/size of comm and the level. */
void ia_log_init(MPI_Comm comm, ia_log_level level);
ia_log_level ia_log_get_level(void);
/* Progress lines go to stderr from now on (stdout carries a command's data). */
void ia_log_info_to_stderr(void);
/* Progress line on rank 0 (stdout), unless --quiet. */
void ia_log_info(const char *fmt, ...) IA_PRINTF(1, 2);
/* Detail on rank 0 with --verbose. */
void ia_log_verbose(const char *fmt, ...) IA_PRINTF(1, 2);
/* Warning on rank 0 (stderr), even with --quiet. */
void ia_log_warn(const char *fmt, ...) IA_PRINTF(1, 2);
/* Error from this rank (stderr), prefixed [rank r] when there are several. */
void ia_log_error(const char *fmt, ...) IA_PRINTF(1, 2);

/* Wall-clock seconds (MPI_Wtime). */
double ia_time(void);
/* Peak resident bytes of the largest rank so far (getrusage). Collective. */
double ia_peak_rss(MPI_Comm comm);

/* Progress of a long step: at most one line every 10 s on rank 0, with the
 * share done and an ETA from the rate so far. Every rank may call it. */
typedef struct {
  const char *what; /* e.g. "[train] Cholesky factor" */
  double t0, last;
} ia_progress;
void ia_progress_start(ia_progress *p, const char *what);
/* done: the fraction of the step's work done so far, in [0, 1]. */
void ia_progress_update(ia_progress *p, double done);
