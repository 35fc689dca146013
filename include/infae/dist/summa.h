#pragma once
/* Distributed products and triangular solves on the BLACS grid, whose local
 * products run on the backend: the GPU of each rank, when ScaLAPACK's
 * arrays live on the host (several ranks). The product C = A·B is SUMMA
 * over square blocks of nb: for each block column t of A, its owner column
 * broadcasts the local rows of that block along its process row, the owner
 * row of block row t of B broadcasts it down its process column, and every
 * rank adds the product of the two panels to its local C.
 *
 * On a GPU, C's local rows stay in device memory, in as many row chunks as
 * `budget` bytes require (the same count on every rank), and each panel goes
 * up once per chunk after its broadcast; the broadcast of the next panel
 * overlaps the product of this one. On the CPU, C is updated in place (and
 * chunks only when budget is small). */
#include <stddef.h>
#include <stdint.h>

#include "infae/backend/backend.h"
#include "infae/core/status.h"
#include "infae/dist/grid.h"

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

/* The operations below keep one distributed array B in the backend's memory
 * for the whole call (on the CPU, B is used in place) and broadcast or sum
 * panels of the other operand, in blocks of nb. Each is collective on
 * g->comm and returns a failure of one rank on every rank. All arrays are
 * block-cyclic over g in blocks of nb × nb, first block on process (0, 0),
 * in host memory. */

/* Whether every rank's part of a rows × cols array B, a panel of its local
 * rows × nb, a block of nb × nb and a block row of nb × its local columns
 * fit in budget bytes of its backend (always on the CPU): the memory the
 * operations below need. Collective on g->comm. */
int ia_summa_fits(const ia_grid *g, const ia_backend *be, ia_precision p, int64_t rows,
                  int64_t cols, int64_t nb, size_t budget);
/* Those bytes for one rank whose part is ml × nl. Not collective. */
double ia_summa_resident_bytes(ia_precision p, int64_t ml, int64_t nl, int64_t nb);

/* Solves (L·Lᵀ)·X = B in place: L (n × n, its lower triangle the Cholesky
 * factor of ia_summa_potrf or p?potrf "L", the upper triangle not read) and
 * B (n × nrhs).
 * Forward substitution is right-looking: per block row, the diagonal block
 * is broadcast along its process row, which solves its part of B with it;
 * that part goes down the process columns and L's block column below the
 * diagonal along the process rows, and every rank updates its rows below
 * (the SUMMA step). Back substitution is left-looking: per block row, every
 * rank multiplies the transpose of L's block column below the diagonal with
 * its rows of X below, the products are summed down the process columns
 * onto the block's process row, which subtracts them and solves with the
 * diagonal block. */
IA_NODISCARD ia_status ia_summa_potrs(const ia_grid *g, ia_backend *be, ia_precision p, int64_t n,
                                      int64_t nrhs, int64_t nb, const void *l, int64_t ldl, void *b,
                                      int64_t ldb);
/* One half of ia_summa_potrs: op 'N' solves L·X = B (the forward
 * substitution), 'T' solves Lᵀ·X = B (the back substitution). */
IA_NODISCARD ia_status ia_summa_trsm(const ia_grid *g, ia_backend *be, ia_precision p, char op,
                                     int64_t n, int64_t nrhs, int64_t nb, const void *l,
                                     int64_t ldl, void *b, int64_t ldb);

/* Solves X·U = B in place: U (n × n) upper triangular (its strictly lower
 * triangle not read), B (m × n). Right-looking by block columns: the
 * diagonal block goes down its process column, which solves its rows of B
 * with it; that panel goes along the process rows, U's block row right of
 * the diagonal down the process columns, and every rank updates its columns
 * to the right (the SUMMA step). With U = Lᵀ (p?tran), this is B·L⁻ᵀ. */
IA_NODISCARD ia_status ia_summa_trsm_right(const ia_grid *g, ia_backend *be, ia_precision p,
                                           int64_t m, int64_t n, int64_t nb, const void *u,
                                           int64_t ldu, void *b, int64_t ldb);

/* C = Aᵀ·B, or C += Aᵀ·B with add: A (k × m), B (k × n, the resident
 * array), C (m × n). Per block row i of C, A's block column i goes along the
 * process rows, every rank multiplies its transpose with its rows of B, and
 * the products are summed down the process columns onto the block row's
 * process row. lower (m == n): only C's blocks on and below the diagonal
 * block are made (half the flops); the others are left as they were. */
IA_NODISCARD ia_status ia_summa_gemm_tn(const ia_grid *g, ia_backend *be, ia_precision p, int lower,
                                        int add, int64_t m, int64_t n, int64_t k, int64_t nb,
                                        const void *a, int64_t lda, const void *b, int64_t ldb,
                                        void *c, int64_t ldc);

/* The Cholesky factor of A (n × n, lower triangle), in place as p?potrf
 * "L" (A is the array kept in the backend); the blocks above the diagonal are
 * not read or written, and the strictly upper triangle of the diagonal
 * blocks is left undefined. Right-looking
 * by block columns: the owner of the diagonal block factors it, its process
 * column solves its rows below with it and broadcasts them along the process
 * rows; each process column gathers the rows of the blocks that are its
 * columns (the panel transposed), and every rank updates its blocks on and
 * below the diagonal to the right. *info as LAPACK's, the same on every
 * rank: > 0 when the leading minor of that order is not positive definite
 * (A then holds the partial factor). */
IA_NODISCARD ia_status ia_summa_potrf(const ia_grid *g, ia_backend *be, ia_precision p, int64_t n,
                                      int64_t nb, void *a, int64_t lda, int64_t *info);
