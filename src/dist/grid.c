#include "infae/dist/grid.h"

#include <stdio.h>
#include <string.h>

#include "dist/scalapack.h"

void ia_grid_shape(int size, int *nprow, int *npcol) {
  int c = 1;
  for (int k = 1; (long)k * k <= size; k++)
    if (size % k == 0) c = k;
  *npcol = c;
  *nprow = size / c;
}

ia_status ia_grid_parse(const char *text, int *nprow, int *npcol) {
  *nprow = *npcol = 0;
  if (!text || !*text) return IA_OK;
  char tail;
  IA_CHECK(sscanf(text, "%dx%d%c", nprow, npcol, &tail) == 2 && *nprow > 0 && *npcol > 0,
           IA_ERR_ARG, "--grid must be ROWSxCOLS, e.g. 2x4 (got '%s')", text);
  return IA_OK;
}

ia_status ia_grid_create(MPI_Comm comm, int nprow, int npcol, ia_grid *g) {
  memset(g, 0, sizeof *g);
  g->comm = comm;
  MPI_Comm_rank(comm, &g->rank);
  MPI_Comm_size(comm, &g->size);
  if (nprow <= 0 || npcol <= 0) ia_grid_shape(g->size, &nprow, &npcol);
  if ((long)nprow * npcol != g->size) {
    int size = g->size;
    memset(g, 0, sizeof *g); /* nothing to free */
    IA_CHECK(0, IA_ERR_ARG, "a %dx%d process grid needs %d ranks, not %d", nprow, npcol,
             nprow * npcol, size);
  }
  g->sys = Csys2blacs_handle(comm);
  g->ctxt = g->sys;
  Cblacs_gridinit(&g->ctxt, "Row", nprow, npcol);
  g->ctxt_col = g->sys;
  Cblacs_gridinit(&g->ctxt_col, "Col", g->size, 1);
  Cblacs_gridinfo(g->ctxt, &g->nprow, &g->npcol, &g->myrow, &g->mycol);
  int r, c, myr, myc;
  Cblacs_gridinfo(g->ctxt_col, &r, &c, &myr, &myc);
  /* Row-major grid: rank = myrow·npcol + mycol; the column: rank = row. */
  int ok = g->nprow == nprow && g->npcol == npcol && g->myrow * npcol + g->mycol == g->rank &&
           myr == g->rank;
  ia_status st = ok ? IA_OK
                    : ia_error_set(IA_ERR_INTERNAL, __FILE__, __LINE__,
                                   "BLACS grid %dx%d does not follow the MPI ranks", nprow, npcol);
  st = ia_agree(comm, st);
  if (st != IA_OK) ia_grid_free(g);
  return st;
}

double ia_grid_sum(const ia_grid *g, double v) {
  MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_SUM, g->comm);
  return v;
}

void ia_grid_free(ia_grid *g) {
  if (g->size == 0) return;
  Cblacs_gridexit(g->ctxt);
  Cblacs_gridexit(g->ctxt_col);
  Cfree_blacs_system_handle(g->sys);
  memset(g, 0, sizeof *g);
}
