#pragma once
/* A distributed product C = A·B, and the solve with a Cholesky factor, on
 * the BLACS grid, whose local products run on the backend: the GPU of each
 * rank, when ScaLAPACK's arrays live on the host (several ranks). The
 * product is SUMMA over square blocks of nb: for each block
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

/* Solves (L·Lᵀ)·X = B in place: L (n × n, its lower triangle the Cholesky
 * factor of p?potrf "L") and B (n × nrhs), block-cyclic as above, in host
 * memory. Forward substitution is right-looking: per block row, the
 * diagonal block is broadcast along its process row, which solves its part of
 * B with it; that part goes down the process columns and L's block column
 * below the diagonal along the process rows, and every rank updates its rows
 * below (the SUMMA step). Back substitution is left-looking: per block row,
 * every rank multiplies the transpose of L's block column below the diagonal
 * with its rows of X below, the products are summed down the process columns
 * onto the block's process row, which subtracts them and solves with the
 * diagonal block. Local products and triangular solves run on the backend;
 * on a GPU, B's local rows stay in device memory for the whole solve (see
 * ia_summa_potrs_fits), on the CPU B is updated in place. A failure on one
 * rank is returned on every rank. Collective on g->comm. */
IA_NODISCARD ia_status ia_summa_potrs(const ia_grid *g, ia_backend *be, ia_precision p, int64_t n,
                                      int64_t nrhs, int64_t nb, const void *l, int64_t ldl,
                                      void *b, int64_t ldb);
/* Whether every rank's part of B, a panel of L and a block row of B fit in
 * budget bytes of its backend (always on the CPU). Collective on g->comm. */
int ia_summa_potrs_fits(const ia_grid *g, const ia_backend *be, ia_precision p, int64_t n,
                        int64_t nrhs, int64_t nb, size_t budget);
