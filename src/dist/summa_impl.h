#pragma once
/* What the files of infae/dist/summa.h share: element sizes, packing, the
 * row and column communicators, and the "resident" state of the operations
 * that keep one distributed array B on the rank's backend (the factor, the
 * solves, X·U = B, Aᵀ·B) with its host and device panels. Internal. */
#include <mpi.h>
#include <stdint.h>
#include <string.h>

#include "infae/dist/summa.h"

static inline size_t summa_esize(ia_precision p) {
  return p == IA_FP64 ? sizeof(double) : sizeof(float);
}

/* rows × cols of src (leading dimension ld) into dst (leading dimension rows). */
static inline void summa_pack(void *dst, const void *src, int64_t ld, int64_t rows, int64_t cols,
                              size_t es) {
  for (int64_t j = 0; j < cols; j++)
    memcpy((char *)dst + es * (size_t)(j * rows), (const char *)src + es * (size_t)(j * ld),
           es * (size_t)rows);
}

/* Communicators of this rank's process row (ranked by column) and process
 * column (ranked by row). Collective on g->comm. */
ia_status summa_split(const ia_grid *g, MPI_Comm *row, MPI_Comm *col);

typedef struct {
  const ia_grid *g;
  ia_backend *be;
  ia_precision p;
  size_t es;
  MPI_Datatype type;
  MPI_Comm row, col;
  int cpu;
  int64_t nb, ml, nl; /* block, local rows and columns of B */
  const char *l;      /* the other operand, in host memory: L, U or A */
  int64_t ldl;
  void *ha, *hd,
      *hp; /* host: a panel (ml × nb), a diagonal block (nb × nb), a block row (nb × nl) */
  void *da, *dd, *dp; /* the backend's copies (the host buffers on the CPU) */
  char *db;           /* B on the backend (b itself on the CPU), leading dimension lddb */
  int64_t lddb;
} resident;

/* Block k of a dimension of size n: its width and owners; rk, ck: its local
 * row offset on its process row and column offset on its process column;
 * r0, c0: this rank's local rows and columns of the blocks up to k (the
 * blocks after k start there). */
typedef struct {
  int64_t w, rk, ck, r0, c0;
  int pr, pc;
} blk;

/* The backend's copy of a host buffer: uploaded on a GPU, itself on the CPU. */
const void *summa_up(resident *s, void *dev, const void *host, size_t bytes, ia_status *st);
/* The buffers, B (rows × cols, leading dimension ldb) on the backend, and
 * the row and column communicators. Returns the status agreed by all ranks;
 * on failure, summa_close still frees what was made. Collective. */
ia_status summa_open(resident *s, const ia_grid *g, ia_backend *be, ia_precision p, int64_t rows,
                     int64_t cols, int64_t nb, const void *l, int64_t ldl, const void *b,
                     int64_t ldb);
/* B back to the host when it was changed (back), the failure of any rank
 * agreed, and everything freed. */
ia_status summa_close(resident *s, void *b, int64_t ldb, int back, ia_status st, ia_status local);
blk summa_block(const resident *s, int64_t n, int64_t k);
/* B's block row of block x (w × nl), from the backend into the host's hp. */
void summa_block_row_down(resident *s, const blk *x, ia_status *st);
/* The other operand's block column k from local row r0, broadcast along the
 * process row from its owner column. */
ia_status summa_bcast_panel(resident *s, const blk *x, int64_t r0);
/* On block k's process row: its diagonal block of L, then B_k ← op(L_kk)⁻¹B_k. */
ia_status summa_diag_solve(resident *s, const blk *x, char op, ia_status *st);
