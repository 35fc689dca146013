#pragma once
/* Index arithmetic of the two layouts of users and items: block-cyclic in
 * blocks of nb over the processes of a grid dimension (ScaLAPACK's), and
 * contiguous row blocks of ceil(n/size) (the evaluation's). Not collective. */
#include <stdint.h>

/* Rows of an n-vector in blocks of nb held by process iproc of nprocs (first
 * block on process 0). */
int64_t ia_numroc(int64_t n, int64_t nb, int iproc, int nprocs);
/* Global index of local index l. */
static inline int64_t ia_l2g(int64_t l, int64_t nb, int iproc, int nprocs) {
  return (l / nb * nprocs + iproc) * nb + l % nb;
}
/* Process owning global index g, and its local index there. */
static inline int ia_g2p(int64_t g, int64_t nb, int nprocs) { return (int)(g / nb % nprocs); }
static inline int64_t ia_g2l(int64_t g, int64_t nb, int nprocs) {
  return g / nb / nprocs * nb + g % nb;
}

/* The contiguous row block [begin, begin + count) of rank in blocks of
 * ceil(n/size): the evaluation layout. Not collective. */
void ia_row_block(int64_t n, int size, int rank, int64_t *begin, int64_t *count);
