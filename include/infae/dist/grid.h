#pragma once
/* The BLACS process grid and block-cyclic index arithmetic.
 *
 * Matrices of the fit (K, α, predictions) are block-cyclic over an
 * nprow × npcol grid, square blocks of nb. Rows handed to the evaluation live
 * in contiguous blocks of ceil(n/size) over a size × 1 column of processes
 * (the same ranks), which is also how `train` partitions users. */
#include <mpi.h>
#include <stdint.h>

#include "infae/core/layout.h"
#include "infae/core/status.h"

typedef struct {
  MPI_Comm comm;
  int rank, size;
  int nprow, npcol, myrow, mycol; /* rank = myrow·npcol + mycol */
  int ctxt;                       /* BLACS context of the 2-D grid */
  int ctxt_col;                   /* BLACS context of the size × 1 column */
  int sys;                        /* BLACS system handle of comm */
} ia_grid;

/* Near-square shape nprow ≥ npcol with nprow·npcol = size (on 2 ranks,
 * 2x1 solves faster than 1x2: the right-hand side splits by rows). Not
 * collective. */
void ia_grid_shape(int size, int *nprow, int *npcol);

/* Parses "RxC" (e.g. 2x4); "" or NULL means automatic (0, 0). Not collective. */
IA_NODISCARD ia_status ia_grid_parse(const char *text, int *nprow, int *npcol);

/* Creates the grid on comm; nprow = npcol = 0 picks ia_grid_shape. Fails
 * with IA_ERR_ARG when nprow·npcol ≠ size. Collective on comm. */
IA_NODISCARD ia_status ia_grid_create(MPI_Comm comm, int nprow, int npcol, ia_grid *g);
void ia_grid_free(ia_grid *g);

/* The sum of v over the grid's ranks. Collective. */
double ia_grid_sum(const ia_grid *g, double v);
