#pragma once
/* A distributed product C = A·B on the BLACS grid whose local products run
 * on the backend: the GPU of each rank, when ScaLAPACK's arrays live on the
 * host (several ranks). It is SUMMA over square blocks of nb: for each block
 * column t of A, its owner column broadcasts the local rows of that block
 * along its process row, the owner row of block row t of B broadcasts it down
 * its process column, and every rank adds the product of the two panels to
 * its local C.
 *
 * On a GPU, C's local rows stay in device memory, in as many row chunks as
 * `budget` bytes require (the same count on every rank), and each panel goes
 * up once per chunk after its broadcast; the broadcast of the next panel
 * overlaps the product of this one. On the CPU, C is updated in place (and
 * chunks only when budget is small). */
#include <stddef.h>
#include <stdint.h>

#include "infae/backend.h"
#include "infae/grid.h"
#include "infae/status.h"

/* A (m × k), B (k × n) and C (m × n): block-cyclic in blocks of nb × nb over
 * g, first block on process (0, 0), in host memory with local leading
 * dimensions lda, ldb, ldc (at least 1). C is overwritten. budget: bytes of
 * backend memory this rank may use for C's chunk and the panels (SIZE_MAX:
 * no limit). A failure on one
 * rank is returned on every rank. Collective on g->comm. */
IA_NODISCARD ia_status ia_summa_gemm(const ia_grid *g, ia_backend *be, ia_precision p, int64_t m,
                                     int64_t n, int64_t k, int64_t nb, const void *a, int64_t lda,
                                     const void *b, int64_t ldb, void *c, int64_t ldc,
                                     size_t budget);
