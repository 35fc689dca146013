#pragma once
/* Shared helpers of the C tests (cmocka). */
#include <math.h>
#include <mpi.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cmocka.h needs setjmp.h, stdarg.h and stddef.h before it. */
#include <cmocka.h>

/* |got - want| <= atol + rtol |want|, with both values in the message. */
#define IA_ASSERT_CLOSE(got, want, atol, rtol, why)                                                \
  do {                                                                                             \
    double g_ = (got), w_ = (want);                                                                \
    if (!(fabs(g_ - w_) <= (atol) + (rtol)*fabs(w_)))                                              \
      fail_msg("%s = %.17g, expected %.17g (atol %g, rtol %g: %s)", #got, g_, w_, (double)(atol),  \
               (double)(rtol), why);                                                               \
  } while (0)

/* Runs the cmocka group inside MPI_Init/Finalize (log and timers use MPI). */
#define IA_TEST_MAIN(tests)                                                                        \
  int main(int argc, char **argv) {                                                                \
    MPI_Init(&argc, &argv);                                                                        \
    ia_log_init(MPI_COMM_WORLD, IA_LOG_QUIET);                                                     \
    int rc_ = cmocka_run_group_tests(tests, NULL, NULL);                                           \
    MPI_Finalize();                                                                                \
    return rc_;                                                                                    \
  }
