#pragma once
/* Several devices of one node driven by one rank, for a kernel matrix too
 * large for one GPU (`train --gpus N`).
 *
 * A matrix is spread over G devices in 1-D column block-cyclic tiles, the
 * layout of cusolverMg: column tile t (columns [t·nb, t·nb + nb)) lives on
 * device t mod G as its local tile ⌊t/G⌋, and every device holds all rows
 * (leading dimension = rows). The Cholesky factor and the solves use all
 * devices together:
 *   CUDA: cusolverMg (NVIDIA marks it deprecated; cuSOLVERMp can replace it
 *         behind this interface);
 *   CPU:  the same layout in host memory, factored tile by tile (a
 *         right-looking blocked Cholesky on BLAS), so that the layout and the
 *         model built on it are checked without GPUs. It is no faster than
 *         one CPU backend.
 * Device 0 is the caller's backend (the primary); the others are opened
 * here. One rank owns it: nothing here is collective. */
#include <stdint.h>

#include "infae/backend/backend.h"
#include "infae/core/status.h"

enum { IA_MD_MAX = 16 };

typedef struct ia_md ia_md;

typedef struct {
  ia_precision prec;
  int64_t rows, cols, nb;
  int ndev;
  void *part[IA_MD_MAX]; /* device g: rows × ia_md_local_cols(a, g), column-major */
} ia_md_mat;

/* G devices: the primary's GPU and the next G − 1 of the node (CPU: G host
 * slices). Fails when fewer GPUs are visible. */
IA_NODISCARD ia_status ia_md_open(ia_backend *primary, int ndev, ia_md **out);
void ia_md_close(ia_md **md);
int ia_md_count(const ia_md *md);
ia_backend *ia_md_backend(const ia_md *md, int g);
/* "cuda:0, cuda:1 (cusolverMg)" or "3 host slices". */
const char *ia_md_describe(const ia_md *md);
/* Bytes free on the device with the least free memory (SIZE_MAX on the CPU). */
size_t ia_md_free_bytes(const ia_md *md);

/* fn(md, g, arg) for every device g: on GPUs one host thread per device, so
 * that calls which wait for their device overlap; on the CPU one after the
 * other. Returns the first failure in device order. */
typedef ia_status (*ia_md_fn)(ia_md *md, int g, void *arg);
IA_NODISCARD ia_status ia_md_each(ia_md *md, ia_md_fn fn, void *arg);

/* Columns of a that device g holds, and the global column of its local
 * column j. */
int64_t ia_md_local_cols(const ia_md_mat *a, int g);
int64_t ia_md_global_col(const ia_md_mat *a, int g, int64_t j);

IA_NODISCARD ia_status ia_md_alloc(ia_md *md, ia_precision p, int64_t rows, int64_t cols,
                                   int64_t nb, const char *what, ia_md_mat *out);
void ia_md_free(ia_md *md, ia_md_mat *a);
/* A_ii += v, and Σ A_ii into *sum (host), for i < min(rows, cols). */
IA_NODISCARD ia_status ia_md_diag_add(ia_md *md, ia_md_mat *a, double v);
IA_NODISCARD ia_status ia_md_diag_sum(ia_md *md, const ia_md_mat *a, double *sum);
/* dst ← src or dst ← a, with src/dst a rows × cols matrix (leading
 * dimension ld) on the primary, or in host memory with on_host. */
IA_NODISCARD ia_status ia_md_scatter(ia_md *md, const void *src, int on_host, int64_t ld,
                                     ia_md_mat *dst);
IA_NODISCARD ia_status ia_md_gather(ia_md *md, const ia_md_mat *a, void *dst, int on_host,
                                    int64_t ld);
/* A(i, j) into *v (host). */
IA_NODISCARD ia_status ia_md_get(ia_md *md, const ia_md_mat *a, int64_t i, int64_t j, double *v);

/* Cholesky factor L of the lower triangle of a square A, in place. *info > 0:
 * the leading minor of that order is not positive definite. */
IA_NODISCARD ia_status ia_md_potrf(ia_md *md, ia_md_mat *a, int64_t *info);
/* B ← (L·Lᵀ)⁻¹B with the factor of ia_md_potrf (B: l->rows rows). */
IA_NODISCARD ia_status ia_md_potrs(ia_md *md, const ia_md_mat *l, ia_md_mat *b);
/* C = A·B: A (m × k) spread; B (k × n, leading dimension ldb) and C (m × n,
 * ldc) on the primary, or in host memory with on_host. Each device
 * multiplies its column tiles by the matching rows of B, a block of C's
 * columns at a time (about block_bytes of C), and the primary sums the parts
 * in device order. */
IA_NODISCARD ia_status ia_md_gemm(ia_md *md, const ia_md_mat *a, const void *b, int64_t ldb,
                                  int64_t n, void *c, int64_t ldc, int on_host,
                                  int64_t block_bytes);
