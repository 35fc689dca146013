#pragma once
/* A distributed matrix: one value for a matrix of a model wherever it lives,
 * with the operations ∞-AE states its algorithm in (infae/infae/infae.h), so
 * that the algorithm is written once and the storage is chosen here.
 *
 * A space (ia_dspace) says where a model's matrices live: its grid, its
 * backend, its devices, precision and block size. A matrix made in it is of
 * one of four kinds:
 *
 *   IA_DMAT_BACKEND  one rank: the whole matrix in the backend's memory (the
 *                    GPU's with CUDA), column-major, leading dimension = rows;
 *                    LAPACK or cuBLAS/cuSOLVER.
 *   IA_DMAT_CYCLIC   several ranks: ScaLAPACK's block-cyclic layout over the
 *                    grid in blocks of nb × nb, in host memory; the factor,
 *                    solves and products of infae/dist/summa.h run their local
 *                    work on each rank's backend (its GPU when the array an
 *                    operation keeps there fits, else the host).
 *   IA_DMAT_TILES    one rank, several devices: 1-D column tiles of nb over
 *                    the devices (infae/dist/multidev.h).
 *   IA_DMAT_HOST     one rank, several devices: a matrix that waits in host
 *                    memory beside the tiles (so that the first device keeps
 *                    room for its own), moved to the devices by the
 *                    operations that need it there.
 *
 * ia_dmat_make picks the kind from the space: a matrix asked to be spread is
 * made in tiles when the space has several devices; any other is made on
 * the backend (one rank, one device), in host memory (one rank, several
 * devices) or block-cyclic (several ranks).
 *
 * Square matrices keep their lower triangle. Operations on several matrices
 * need them in the same space, of compatible sizes and kinds (the pairs each
 * operation takes are at its declaration); others are refused with
 * IA_ERR_INTERNAL. Every operation is collective on the space's grid and
 * returns a failure of one rank on every rank, unless it says otherwise. */
#include <stddef.h>
#include <stdint.h>

#include "infae/backend/backend.h"
#include "infae/core/csr.h"
#include "infae/core/status.h"
#include "infae/dist/grid.h"
#include "infae/dist/multidev.h"

typedef enum { IA_DMAT_BACKEND, IA_DMAT_CYCLIC, IA_DMAT_TILES, IA_DMAT_HOST } ia_dmat_kind;

typedef struct {
  ia_grid g;
  ia_backend *be;      /* this rank's backend (device 0 of md) */
  ia_md *md;           /* one rank, several devices; NULL: one */
  ia_precision prec;   /* of every matrix of the space */
  size_t es;           /* bytes per element */
  int64_t nb;          /* block size of the grid and of the tiles */
  int64_t panel_bytes; /* bound on the densified item panels of the kernel tiles */
} ia_dspace;

/* A space on grid g (one rank: the backend's; several devices: md, whose
 * device 0 is be). Not collective. */
void ia_dspace_init(ia_dspace *s, const ia_grid *g, ia_backend *be, ia_md *md, ia_precision p,
                    int64_t nb, int64_t panel_bytes);
/* Bytes of the backend this rank may use for one operation: its share of the
 * GPU's free memory, less a tenth for cuBLAS's workspace (SIZE_MAX on the
 * CPU). Not collective. */
size_t ia_dspace_budget(const ia_dspace *s);

typedef struct {
  const ia_dspace *sp;
  ia_dmat_kind kind;
  const char *what;       /* what the matrix holds, for messages */
  int64_t rows, cols;     /* global sizes */
  int64_t mloc, nloc, ld; /* this rank's part (BACKEND, HOST, CYCLIC) */
  int desc[9];            /* ScaLAPACK's descriptor (CYCLIC) */
  void *data;             /* this rank's part (BACKEND, HOST, CYCLIC) */
  ia_md_mat tiles;        /* TILES */
  int owned;              /* data is freed with the matrix */
  int said_host;          /* the log line for an array too large for the GPUs */
} ia_dmat;

/* A rows × cols matrix (contents undefined) in space sp, made in column
 * tiles when spread and the space has several devices. */
IA_NODISCARD ia_status ia_dmat_make(const ia_dspace *sp, int64_t rows, int64_t cols, int spread,
                                    const char *what, ia_dmat *out);
/* Frees what the matrix owns. Not collective. */
void ia_dmat_free(ia_dmat *a);

/* dst ← src, of the same sizes and kind (not tiles). Not collective. */
IA_NODISCARD ia_status ia_dmat_copy(ia_dmat *dst, const ia_dmat *src);

/* A_ii += v (square A); *trace = Σ A_ii over the whole matrix. */
IA_NODISCARD ia_status ia_dmat_diag_add(ia_dmat *a, double v);
IA_NODISCARD ia_status ia_dmat_trace(const ia_dmat *a, double *trace);
/* A square A on the backend, kept through a factor in place (LAPACK's
 * trick): tri_save puts its strictly lower triangle in its strictly upper
 * one and its diagonal in diag (rows·cols = A's order); tri_restore makes
 * the lower triangle and the diagonal again from them. Not collective. */
IA_NODISCARD ia_status ia_dmat_tri_save(ia_dmat *a, ia_dmat *diag);
IA_NODISCARD ia_status ia_dmat_tri_restore(ia_dmat *a, const ia_dmat *diag);
/* A(i, j), read from wherever it lives, on every rank. */
IA_NODISCARD ia_status ia_dmat_get(const ia_dmat *a, int64_t i, int64_t j, double *v);

/* The Cholesky factor L of the lower triangle of a square A (not in host
 * memory), in place. *info as LAPACK's, the same on every rank: > 0 when the leading minor of
 * that order is not positive definite. */
IA_NODISCARD ia_status ia_dmat_potrf(ia_dmat *a, int64_t *info);
/* B ← (L·Lᵀ)⁻¹B with the factor of ia_dmat_potrf. L and B both on the
 * backend or both block-cyclic, or L in tiles and B in host memory (B goes to tiles of its own for the solve
 * and comes back). */
IA_NODISCARD ia_status ia_dmat_potrs(const ia_dmat *l, ia_dmat *b);
/* B ← L⁻ᵀB (L a Cholesky factor). This and the two below: every matrix on
 * the backend, or every matrix block-cyclic. */
IA_NODISCARD ia_status ia_dmat_trsm_lt(const ia_dmat *l, ia_dmat *b);
/* C = Aᵀ of a square block-cyclic A (all of it, by p?tran). */
IA_NODISCARD ia_status ia_dmat_transpose(const ia_dmat *a, ia_dmat *c);
/* B ← B·L⁻ᵀ (B is m × n, L n × n). lt: block-cyclic, Lᵀ (ia_dmat_transpose
 * of L); on the backend NULL. */
IA_NODISCARD ia_status ia_dmat_trsm_right_lt(const ia_dmat *l, ia_dmat *b, const ia_dmat *lt);
/* C = Aᵀ·B, or C += Aᵀ·B with add (A k × m, B k × n, C m × n). lower (m =
 * n, C symmetric): only the lower triangle of C is needed (the grid makes
 * the blocks on and below the diagonal block, one rank all of C). */
IA_NODISCARD ia_status ia_dmat_gemm_tn(const ia_dmat *a, const ia_dmat *b, int lower, int add,
                                       ia_dmat *c);
/* C = A·B (A m × k, B k × n, C m × n; on one rank C may have more rows,
 * and its first m are written): all on the backend, all block-cyclic, or A
 * in tiles and B
 * and C in host memory (each device multiplies its tiles, a block of C's
 * columns of about the space's panel_bytes at a time). */
IA_NODISCARD ia_status ia_dmat_gemm(const ia_dmat *a, const ia_dmat *b, ia_dmat *c);

/* A ← the dense 0/1 rows of rows (this rank's local rows of A, all of its
 * items: on the host in csr, in the backend's memory in bcsr). Not for
 * tiles. Not collective. */
IA_NODISCARD ia_status ia_dmat_densify(ia_dmat *a, const ia_csr *csr, const ia_be_csr *bcsr);

/* The operands of a kernel matrix NTK(R, C) in the memory of a backend that
 * makes a part of it: R the rows (ra ∪ rb, rb may be NULL) with squared
 * norms nr, C the columns with norms nc (norms on the host); the NTK's
 * hidden layers (infae/core/ntk.h). */
typedef struct {
  const ia_be_csr *ra, *rb, *cols;
  const double *nr, *nc;
  int depth;
} ia_dmat_ntk_operands;

/* How many parts of A this rank makes with its backends (the devices of
 * tiles; else 1), the backend of part p, and the 1-D block-cyclic
 * coordinates of part p's columns: it holds the blocks of nb columns whose
 * block index is ≡ *me mod *np. Its rows are the blocks of rows ≡ myrow mod
 * nprow of the grid. Not collective. */
int ia_dmat_parts(const ia_dmat *a);
ia_backend *ia_dmat_part_backend(const ia_dmat *a, int p);
void ia_dmat_part_cols(const ia_dmat *a, int p, int *me, int *np);

/* A ← NTK(R, C) over d items on this rank's parts: ops[p] for part p
 * (ia_dmat_parts entries). sym: only the lower triangle of a square A. A block-cyclic
 * matrix made on a GPU comes to the host a few column blocks at a time.
 * *flops: the Gram flops of every rank. */
IA_NODISCARD ia_status ia_dmat_ntk(ia_dmat *a, const ia_dmat_ntk_operands *ops, int64_t d, int sym,
                                   double *flops);

/* A in the evaluation layout (ia_row_block of A's rows over the ranks, every
 * column): this rank's rows into dst, column-major with leading dimension
 * *ld. One rank: all of A (no copy when dst is A's own host memory).
 * ia_dmat_to_row_blocks: the same with rank r's rows [r·mb, r·mb + mb). */
IA_NODISCARD ia_status ia_dmat_to_rows(const ia_dmat *a, void *dst, int64_t *ld);
IA_NODISCARD ia_status ia_dmat_to_row_blocks(const ia_dmat *a, int64_t mb, void *dst, int64_t *ld);
/* A view of the first `rows` rows of A (no copy; block-cyclic keeps A's
 * local layout and leading dimension). Not for tiles. Not collective. */
IA_NODISCARD ia_status ia_dmat_head_rows(const ia_dmat *a, int64_t rows, ia_dmat *view);

/* Rows of each rank, a block at a time: every rank asks for its own rows
 * [first, first + count) of A (count ≤ block), in global row indices.
 *
 * ia_dmat_make_rank_rows makes the matrix they gather into: on the grid
 * size·block × cols, block-cyclic; on one rank nothing (the rows are a view
 * of A); with alloc = 0 nothing either (every call will be in place). Not
 * collective.
 * ia_dmat_rows_of_ranks puts in *view this rank's rows: on the grid the
 * first rows of t, rank r's from row r·block up to the last rank that asks
 * for any (gathered by p?gemr2d), or the first rows of A itself when every
 * rank's rows start at r·block already; on one rank a view of A's rows (no
 * copy; the whole of A in tiles). Collective. */
IA_NODISCARD ia_status ia_dmat_make_rank_rows(const ia_dspace *sp, int64_t block, int64_t cols,
                                              int alloc, const char *what, ia_dmat *out);
IA_NODISCARD ia_status ia_dmat_rows_of_ranks(const ia_dmat *a, int64_t first, int64_t count,
                                             int64_t block, ia_dmat *t, ia_dmat *view);

/* One rank (A on the backend or in host memory): out(i, u) = beta·out(i, u)
 * + scale·A(rows_h[u], i) for u < n, i < cols, as FP64 columns in the
 * backend's memory (leading dimension ldo); rows: the same ascending row
 * indices, int32 in the backend's memory. Not collective. */
IA_NODISCARD ia_status ia_dmat_rows_to_cols(const ia_dmat *a, const int32_t *rows,
                                            const int64_t *rows_h, int64_t n, double scale,
                                            double beta, double *out, int64_t ldo);
