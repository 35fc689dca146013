#pragma once
/* Status codes, error recording and the checks every module uses.
 *
 * Every fallible function returns ia_status (IA_OK = 0). IA_CHECK records a
 * message with file:line; IA_CALL propagates a failure. The message of the
 * first failure is kept per process until ia_error_clear(). */
#include <mpi.h>
#include <stdint.h>

#define IA_STATUS_MAP(XX)                                                                          \
  XX(OK, "ok")                                                                                     \
  XX(ERR_ARG, "invalid argument")                                                                  \
  XX(ERR_IO, "input/output error")                                                                 \
  XX(ERR_FORMAT, "malformed input")                                                                \
  XX(ERR_EMPTY, "empty input")                                                                     \
  XX(ERR_NOMEM, "out of memory")                                                                   \
  XX(ERR_MPI, "MPI error")                                                                         \
  XX(ERR_HDF5, "HDF5 error")                                                                       \
  XX(ERR_LAPACK, "LAPACK error")                                                                   \
  XX(ERR_NOTSPD, "matrix not positive definite")                                                   \
  XX(ERR_RANGE, "value out of range")                                                              \
  XX(ERR_DEVICE, "accelerator error")                                                              \
  XX(ERR_REMOTE, "failure on another rank")                                                        \
  XX(ERR_INTERNAL, "internal error")

typedef enum {
#define IA_XX(name, text) IA_##name,
  IA_STATUS_MAP(IA_XX)
#undef IA_XX
      IA_STATUS_COUNT
} ia_status;

#define IA_NODISCARD    __attribute__((warn_unused_result))
#define IA_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Text of a status code. Not collective. */
const char *ia_strerror(ia_status st);

/* Records the first failure's message (later ones are ignored until
 * ia_error_clear) and returns st. Not collective. */
ia_status ia_error_set(ia_status st, const char *file, int line, const char *fmt, ...)
    IA_PRINTF(4, 5);
/* The recorded message, or "" when none; with --verbose (IA_LOG_VERBOSE)
 * followed by the source location that recorded it, "(file.c:line)". */
const char *ia_error_message(void);
void ia_error_clear(void);

#define IA_CALL(e)                                                                                 \
  do {                                                                                             \
    ia_status ia_s_ = (e);                                                                         \
    if (ia_s_ != IA_OK) return ia_s_;                                                              \
  } while (0)

#define IA_CHECK(cond, st, ...)                                                                    \
  do {                                                                                             \
    if (!(cond)) return ia_error_set((st), __FILE__, __LINE__, __VA_ARGS__);                       \
  } while (0)

/* Variants for functions with one cleanup path: set `st` and jump to done. */
#define IA_CALL_GOTO(e)                                                                            \
  do {                                                                                             \
    st = (e);                                                                                      \
    if (st != IA_OK) goto done;                                                                    \
  } while (0)

#define IA_CHECK_GOTO(cond, s, ...)                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      st = ia_error_set((s), __FILE__, __LINE__, __VA_ARGS__);                                     \
      goto done;                                                                                   \
    }                                                                                              \
  } while (0)

/* MPI: our communicators use MPI_ERRORS_RETURN, so codes come back here. */
ia_status ia_mpi_status(int code, const char *call, const char *file, int line);
#define IA_MPI(call)      IA_CALL(ia_mpi_status((call), #call, __FILE__, __LINE__))
#define IA_MPI_GOTO(call) IA_CALL_GOTO(ia_mpi_status((call), #call, __FILE__, __LINE__))

/* Collective on comm: every rank passes its local status; all ranks return
 * IA_OK only if every rank did. The lowest failing rank prints its message
 * once (prefixed [rank r] when size > 1); the others get IA_ERR_REMOTE unless
 * they failed themselves. A failure is printed once, by the first agreement
 * that sees it. */
IA_NODISCARD ia_status ia_agree(MPI_Comm comm, ia_status local);

/* In-place MPI_SUM of n doubles over comm, in slices (MPI counts are int).
 * Collective on comm. */
IA_NODISCARD ia_status ia_allreduce_sum(MPI_Comm comm, double *buf, int64_t n);

/* Overflow-checked conversions for counts that BLAS/LAPACK/MPI take as int. */
IA_NODISCARD ia_status ia_to_int(long long v, int *out);

/* Allocation that records IA_ERR_NOMEM with the size and purpose. */
IA_NODISCARD ia_status ia_malloc(size_t bytes, const char *what, void **out);
IA_NODISCARD ia_status ia_calloc(size_t n, size_t size, const char *what, void **out);
#define IA_ALLOC(ptr, n, what)  ia_malloc(sizeof(*(ptr)) * (size_t)(n), (what), (void **)&(ptr))
#define IA_ZALLOC(ptr, n, what) ia_calloc((size_t)(n), sizeof(*(ptr)), (what), (void **)&(ptr))
