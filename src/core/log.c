#include "infae/core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>

static int g_rank, g_size = 1;
static ia_log_level g_level = IA_LOG_INFO;
static int g_info_to_stderr;

void ia_log_init(MPI_Comm comm, ia_log_level level) {
  MPI_Comm_rank(comm, &g_rank);
  MPI_Comm_size(comm, &g_size);
  g_level = level;
}

ia_log_level ia_log_get_level(void) { return g_level; }

void ia_log_info_to_stderr(void) { g_info_to_stderr = 1; }

static void emit(FILE *f, const char *prefix, const char *fmt, va_list ap) {
  char line[4096];
  vsnprintf(line, sizeof line, fmt, ap);
  fprintf(f, "%s%s\n", prefix, line);
  fflush(f);
}

void ia_log_info(const char *fmt, ...) {
  if (g_rank != 0 || g_level < IA_LOG_INFO) return;
  va_list ap;
  va_start(ap, fmt);
  emit(g_info_to_stderr ? stderr : stdout, "", fmt, ap);
  va_end(ap);
}

void ia_log_verbose(const char *fmt, ...) {
  if (g_rank != 0 || g_level < IA_LOG_VERBOSE) return;
  va_list ap;
  va_start(ap, fmt);
  emit(g_info_to_stderr ? stderr : stdout, "", fmt, ap);
  va_end(ap);
}

void ia_log_warn(const char *fmt, ...) {
  if (g_rank != 0) return;
  va_list ap;
  va_start(ap, fmt);
  emit(stderr, "warning: ", fmt, ap);
  va_end(ap);
}

void ia_log_error(const char *fmt, ...) {
  char prefix[64];
  if (g_size > 1)
    snprintf(prefix, sizeof prefix, "[rank %d] error: ", g_rank);
  else
    snprintf(prefix, sizeof prefix, "error: ");
  va_list ap;
  va_start(ap, fmt);
  emit(stderr, prefix, fmt, ap);
  va_end(ap);
}

double ia_time(void) { return MPI_Wtime(); }

double ia_peak_rss(MPI_Comm comm) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  double b = (double)u.ru_maxrss * 1024.0; /* kilobytes on Linux */
  MPI_Allreduce(MPI_IN_PLACE, &b, 1, MPI_DOUBLE, MPI_MAX, comm);
  return b;
}

void ia_progress_start(ia_progress *p, const char *what) {
  p->what = what;
  p->t0 = p->last = ia_time();
}

void ia_progress_update(ia_progress *p, double done) {
  double now = ia_time();
  if (g_rank != 0 || now - p->last < 10.0 || done <= 0 || done >= 1) return;
  p->last = now;
  double el = now - p->t0;
  ia_log_info("%s: %.0f %% in %.0f s, ETA %.0f s", p->what, 100 * done, el, el / done * (1 - done));
}
