#include "infae/core/status.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infae/core/log.h"

static char g_message[2048], g_where[256];
static int g_has_message;
/* Several devices' threads may fail at once (infae/dist/multidev.h). */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_reported; /* the current failure was printed by an ia_agree */

const char *ia_strerror(ia_status st) {
  switch (st) {
#define IA_XX(name, text)                                                                          \
  case IA_##name:                                                                                  \
    return text;
    IA_STATUS_MAP(IA_XX)
#undef IA_XX
    default:
      return "unknown status";
  }
}

ia_status ia_error_set(ia_status st, const char *file, int line, const char *fmt, ...) {
  char text[1800];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  const char *base = strrchr(file, '/');
  pthread_mutex_lock(&g_lock);
  if (!g_has_message) {
    snprintf(g_message, sizeof g_message, "%s", text);
    snprintf(g_where, sizeof g_where, "%s:%d", base ? base + 1 : file, line);
    g_has_message = 1;
  }
  pthread_mutex_unlock(&g_lock);
  return st;
}

const char *ia_error_message(void) {
  static char with_where[sizeof g_message + sizeof g_where + 4];
  if (!g_has_message) return "";
  if (ia_log_get_level() < IA_LOG_VERBOSE) return g_message;
  snprintf(with_where, sizeof with_where, "%s (%s)", g_message, g_where);
  return with_where;
}

void ia_error_clear(void) {
  g_has_message = 0;
  g_reported = 0;
  g_message[0] = '\0';
  g_where[0] = '\0';
}

ia_status ia_mpi_status(int code, const char *call, const char *file, int line) {
  if (code == MPI_SUCCESS) return IA_OK;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  return ia_error_set(IA_ERR_MPI, file, line, "%s failed: %s", call, text);
}

ia_status ia_agree(MPI_Comm comm, ia_status local) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int mine = local == IA_OK ? size : rank, first = size;
  if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS) {
    fprintf(stderr, "[rank %d] error: status agreement failed; aborting\n", rank);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  if (first == size) return IA_OK;
  if (rank == first && !g_reported) {
    const char *msg = ia_error_message();
    ia_log_error("%s%s%s", ia_strerror(local), msg[0] ? ": " : "", msg);
  }
  g_reported = 1; /* every rank passed here: later agreements stay quiet */
  return local != IA_OK ? local : IA_ERR_REMOTE;
}

ia_status ia_to_int(long long v, int *out) {
  if (v < INT_MIN || v > INT_MAX)
    return ia_error_set(IA_ERR_RANGE, __FILE__, __LINE__,
                        "%lld does not fit the 32-bit int that BLAS/LAPACK/MPI take", v);
  *out = (int)v;
  return IA_OK;
}

ia_status ia_malloc(size_t bytes, const char *what, void **out) {
  *out = malloc(bytes ? bytes : 1);
  if (!*out)
    return ia_error_set(IA_ERR_NOMEM, __FILE__, __LINE__, "cannot allocate %.3f GiB for %s",
                        (double)bytes / (1 << 30), what);
  return IA_OK;
}

ia_status ia_calloc(size_t n, size_t size, const char *what, void **out) {
  *out = calloc(n ? n : 1, size ? size : 1);
  if (!*out)
    return ia_error_set(IA_ERR_NOMEM, __FILE__, __LINE__, "cannot allocate %.3f GiB for %s",
                        (double)n * (double)size / (1 << 30), what);
  return IA_OK;
}

ia_status ia_allreduce_sum(MPI_Comm comm, double *buf, int64_t n) {
  const int64_t slice = 1 << 27;
  for (int64_t off = 0; off < n; off += slice) {
    int cnt = (int)(n - off < slice ? n - off : slice);
    IA_MPI(MPI_Allreduce(MPI_IN_PLACE, buf + off, cnt, MPI_DOUBLE, MPI_SUM, comm));
  }
  return IA_OK;
}
