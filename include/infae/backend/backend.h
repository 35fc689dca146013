#pragma once
/* Compute backends: the CPU (BLAS/LAPACK on host memory) and CUDA (cuBLAS,
 * cuSOLVER and the kernels of kernels/ on one GPU per rank). The ∞-AE model
 * keeps its local arrays in the memory of its backend and calls the
 * operations below; pointers passed to them are in that memory (device
 * memory for CUDA) unless a parameter says host.
 *
 * Matrices are column-major with explicit leading dimensions; `prec` says
 * whether elements are double or float. */
#include <stddef.h>
#include <stdint.h>

#include "infae/core/csr.h"
#include "infae/core/gumbel.h"
#include "infae/core/layout.h"
#include "infae/core/status.h"

typedef enum { IA_FP64 = 0, IA_FP32 = 1 } ia_precision;

typedef enum { IA_DEVICE_AUTO = 0, IA_DEVICE_CPU = 1, IA_DEVICE_CUDA = 2 } ia_device;

/* "auto", "cpu" or "cuda". Not collective. */
IA_NODISCARD ia_status ia_device_parse(const char *text, ia_device *out);

typedef struct ia_backend ia_backend;
typedef struct ia_be_csr ia_be_csr; /* CSR rows in the backend's memory */

/* Opens a backend on every rank of comm. AUTO picks CUDA when this build has
 * it and the rank sees a GPU, else the CPU; CUDA asked for without a GPU (or
 * without the CUDA build) fails on every rank. With CUDA, the ranks of a node
 * take its GPUs round-robin by their rank on the node. Collective. */
IA_NODISCARD ia_status ia_backend_open(MPI_Comm comm, ia_device want, ia_backend **out);
void ia_backend_close(ia_backend **b);
/* One more backend of the same kind on device `index` of this node, for a
 * rank that drives several GPUs (infae/dist/multidev.h); on the CPU another CPU
 * backend. Not collective. */
IA_NODISCARD ia_status ia_backend_open_index(const ia_backend *like, int index, ia_backend **out);
/* The GPU's index on the node (0 on the CPU). */
int ia_backend_index(const ia_backend *b);
ia_device ia_backend_device(const ia_backend *b);
/* "cpu" or "cuda:<index> (<name>, <GiB> GiB)". */
const char *ia_backend_describe(const ia_backend *b);
/* Bytes free for allocations on the device (SIZE_MAX on the CPU). */
size_t ia_backend_free_bytes(const ia_backend *b);
/* Ranks of this node that use the same GPU (1 on the CPU, and for the
 * backends of ia_backend_open_index). */
int ia_backend_share(const ia_backend *b);

/* ---- across ranks ---------------------------------------------------------- */
/* In-place sum over the backend's communicator of n doubles in the backend's
 * memory: MPI on the CPU; on GPUs NCCL when every rank of a node has a GPU of
 * its own, else MPI through host memory. Collective. */
IA_NODISCARD ia_status ia_be_allreduce_sum(ia_backend *b, double *buf, int64_t n);
/* "mpi", "nccl" or "mpi (staged through the host)". */
const char *ia_backend_reduce_name(const ia_backend *b);

/* ---- memory -------------------------------------------------------------- */
IA_NODISCARD ia_status ia_be_alloc(ia_backend *b, size_t bytes, const char *what, void **out);
void ia_be_free(ia_backend *b, void *p);
/* dst (backend) ← src (host), dst (host) ← src (backend), within the backend. */
IA_NODISCARD ia_status ia_be_upload(ia_backend *b, void *dst, const void *src, size_t bytes);
IA_NODISCARD ia_status ia_be_download(ia_backend *b, void *dst, const void *src, size_t bytes);
IA_NODISCARD ia_status ia_be_copy(ia_backend *b, void *dst, const void *src, size_t bytes);
IA_NODISCARD ia_status ia_be_zero(ia_backend *b, void *p, size_t bytes);

/* cols columns of width bytes, from src (on src_b, column pitch spitch
 * bytes) to dst (on b, pitch dpitch): between two GPUs of a node, or within
 * one. Both backends are idle when it returns. */
IA_NODISCARD ia_status ia_be_copy_peer(ia_backend *b, void *dst, size_t dpitch, ia_backend *src_b,
                                       const void *src, size_t spitch, size_t width, int64_t cols);

/* The same from host memory src to dst on b, and from src on b to host
 * memory dst. */
IA_NODISCARD ia_status ia_be_upload2d(ia_backend *b, void *dst, size_t dpitch, const void *src,
                                      size_t spitch, size_t width, int64_t cols);
IA_NODISCARD ia_status ia_be_download2d(ia_backend *b, void *dst, size_t dpitch, const void *src,
                                        size_t spitch, size_t width, int64_t cols);

/* A host CSR made available to the backend (the CPU backend refers to the
 * host arrays, which must outlive the handle). */
IA_NODISCARD ia_status ia_be_csr_make(ia_backend *b, const ia_csr *host, ia_be_csr **out);
void ia_be_csr_free(ia_backend *b, ia_be_csr **c);

/* ---- dense linear algebra ------------------------------------------------- */
/* C = alpha·op(A)·op(B) + beta·C; ta, tb: 'N' or 'T'. */
IA_NODISCARD ia_status ia_be_gemm(ia_backend *b, ia_precision p, char ta, char tb, int64_t m,
                                  int64_t n, int64_t k, double alpha, const void *a, int64_t lda,
                                  const void *bm, int64_t ldb, double beta, void *c, int64_t ldc);
/* B ← op(L)⁻¹B (side 'L') or B·op(L)⁻¹ (side 'R'), L lower triangular m × m
 * (side 'L') or n × n (side 'R'); op: 'N' or 'T'. */
IA_NODISCARD ia_status ia_be_trsm(ia_backend *b, ia_precision p, char side, char ta, int64_t m,
                                  int64_t n, const void *l, int64_t lda, void *bm, int64_t ldb);
/* Cholesky factor L (lower triangle, in place). *info > 0: the leading minor
 * of that order is not positive definite. */
IA_NODISCARD ia_status ia_be_potrf(ia_backend *b, ia_precision p, int64_t n, void *a, int64_t lda,
                                   int64_t *info);
/* B ← (L·Lᵀ)⁻¹ B with the factor of ia_be_potrf. */
IA_NODISCARD ia_status ia_be_potrs(ia_backend *b, ia_precision p, int64_t n, int64_t nrhs,
                                   const void *a, int64_t lda, void *bm, int64_t ldb);
/* A_ii += v for i < n. */
IA_NODISCARD ia_status ia_be_diag_add(ia_backend *b, ia_precision p, int64_t n, void *a,
                                      int64_t lda, double v);
/* A square A kept through a factor in place (LAPACK's trick): tri_save
 * copies A's strictly lower triangle onto its strictly upper one
 * (transposed) and its diagonal into diag (n values of precision p, in the
 * backend's memory); tri_restore makes the lower triangle and the diagonal
 * again from them, after a Cholesky factor overwrote them. */
IA_NODISCARD ia_status ia_be_tri_save(ia_backend *b, ia_precision p, int64_t n, void *a,
                                      int64_t lda, void *diag);
IA_NODISCARD ia_status ia_be_tri_restore(ia_backend *b, ia_precision p, int64_t n, void *a,
                                         int64_t lda, const void *diag);
/* Y += op(X) for an m × n Y: op 'N', X is m × n; 'T', X is n × m. */
IA_NODISCARD ia_status ia_be_add(ia_backend *b, ia_precision p, char op, int64_t m, int64_t n,
                                 const void *x, int64_t ldx, void *y, int64_t ldy);
/* Σ A_ii for i < n, into *sum (host). */
IA_NODISCARD ia_status ia_be_diag_sum(ia_backend *b, ia_precision p, int64_t n, const void *a,
                                      int64_t lda, double *sum);
/* out (rows × d, leading dimension ld) = the dense 0/1 rows of a. */
IA_NODISCARD ia_status ia_be_densify(ia_backend *b, ia_precision p, const ia_be_csr *a, int64_t d,
                                     void *out, int64_t ld);

/* ---- NTK tiles ------------------------------------------------------------- */
/* Where a tile sits in a block-cyclic matrix: local row i and column j are
 * global ia_l2g(i, nb, myrow, nprow) and ia_l2g(j, nb, mycol, npcol). With
 * sym, only entries with global row ≥ global column are needed (the lower
 * triangle of a symmetric K; whole diagonal blocks are computed). */
typedef struct {
  int64_t nb;
  int myrow, nprow, mycol, npcol;
  int sym;
} ia_be_layout;

/* out(:, j − c0) = NTK(rows, cols_j) for local columns c0 ≤ j < c1, over d
 * items: rows are ra ∪ rb (rb may be NULL; same row count) with squared
 * norms nr (host, one per row); cols holds every local column (row j of the
 * CSR is column j) with norms nc (host, indexed by j). The
 * Gram x·y is exact (0/1 inputs: FP16 tensor cores with FP32 accumulation on
 * CUDA); the NTK is evaluated in double. Panels of at most panel_bytes of
 * densified items bound the workspace. *flops: Gram flops done. */
IA_NODISCARD ia_status ia_be_ntk_tiles(ia_backend *b, ia_precision p, const ia_be_csr *ra,
                                       const ia_be_csr *rb, const double *nr, const ia_be_csr *cols,
                                       const double *nc, const ia_be_layout *layout, int64_t c0,
                                       int64_t c1, int64_t d, int depth, int64_t panel_bytes,
                                       void *out, int64_t ldo, double *flops);
/* On a GPU, fp64 tiles are made through an FP32 Gram tile of this many of
 * their ncols columns at a time: an eighth, in whole blocks of nb, at least
 * 2048 columns (fp32 tiles take the Gram in place). */
int64_t ia_be_ntk_stage_cols(int64_t ncols, int64_t nb);

/* ---- Distill-CF sampler --------------------------------------------------------- */
/* Gumbel-softmax rows (infae/core/gumbel.h) of synthetic rows row0 … row0 + n − 1:
 * a(r, ·) = Σ_k softmax((z(r, ·) + G_k)/τ), z and a row-major n × g->d. The
 * CUDA noise is the CPU's Philox stream (its float −log(−log u) may differ in
 * the last bit). */
IA_NODISCARD ia_status ia_be_gumbel_rows(ia_backend *b, const ia_gumbel *g, int64_t row0, int64_t n,
                                         const double *z, double *a);
/* dz(r, ·): the vector-Jacobian product of ia_be_gumbel_rows with da. */
IA_NODISCARD ia_status ia_be_gumbel_rows_vjp(ia_backend *b, const ia_gumbel *g, int64_t row0,
                                             int64_t n, const double *z, const double *da,
                                             double *dz);

/* ---- finite autoencoder (Recoder) ------------------------------------------------ */
/* FP64 column-major arrays in the backend's memory; index lists are int32 in
 * the backend's memory. */
typedef enum { IA_ACT_IDENTITY = 0, IA_ACT_RELU = 1, IA_ACT_TANH = 2, IA_ACT_SIGMOID = 3 } ia_act;
typedef enum { IA_LOSS_MSE = 0, IA_LOSS_SOFTMAX = 1 } ia_loss;

/* x ← act(x) for an m × n matrix. */
IA_NODISCARD ia_status ia_be_act(ia_backend *b, ia_act act, int64_t m, int64_t n, double *x,
                                 int64_t ld);
/* dy ← dy ⊙ act'(·), the derivative written through the activation's output y. */
IA_NODISCARD ia_status ia_be_act_grad(ia_backend *b, ia_act act, int64_t m, int64_t n,
                                      const double *y, int64_t ldy, double *dy, int64_t lddy);
/* dst(:, k) = src(:, idx[k]) for k < n; m rows. */
IA_NODISCARD ia_status ia_be_gather_cols(ia_backend *b, int64_t m, int64_t n, const double *src,
                                         int64_t lds, const int32_t *idx, double *dst, int64_t ldd);
/* dst(:, idx[k]) += src(:, k) for k < n; the idx[k] are distinct. */
IA_NODISCARD ia_status ia_be_scatter_add_cols(ia_backend *b, int64_t m, int64_t n,
                                              const double *src, int64_t lds, const int32_t *idx,
                                              double *dst, int64_t ldd);
/* Reconstruction loss of row r of o (m users × n items) against row r of t,
 * with weights w = 1 + conf·t:
 *   mse:     Σ_j w_j (o_j − t_j)²
 *   softmax: −Σ_j w_j t_j log softmax(o_r)_j
 * *loss (host) = scale · Σ_r loss_r; o is overwritten by scale · ∂loss_r/∂o. */
IA_NODISCARD ia_status ia_be_recon_loss(ia_backend *b, ia_loss kind, int64_t m, int64_t n,
                                        double *o, int64_t ldo, const double *t, int64_t ldt,
                                        double conf, double scale, double *loss);
/* One Adam step on n values x with gradient g and moments m, v:
 * c1 = 1 − β1^t and c2 = 1 − β2^t for step t ≥ 1. */
typedef struct {
  double lr, beta1, beta2, eps, c1, c2;
} ia_adam;
IA_NODISCARD ia_status ia_be_adam(ia_backend *b, const ia_adam *a, int64_t n, double *x,
                                  const double *g, double *m, double *v);

/* ---- Distill-CF step --------------------------------------------------------------- */
/* FP64, column-major, in the backend's memory; index lists are int32. */

/* y += alpha·x over n values. */
IA_NODISCARD ia_status ia_be_axpy(ia_backend *b, int64_t n, double alpha, const double *x,
                                  double *y);
/* Σ x_e over n values, into *sum (host). */
IA_NODISCARD ia_status ia_be_sum(ia_backend *b, int64_t n, const double *x, double *sum);
/* out_i = A_ii for i < n. */
IA_NODISCARD ia_status ia_be_diag_get(ia_backend *b, int64_t n, const double *a, int64_t lda,
                                      double *out);
/* s = min(a, 1) (hardtanh of non-negative sums) over n values. */
IA_NODISCARD ia_status ia_be_hardtanh(ia_backend *b, int64_t n, const double *a, double *s);
/* ds = a < 1 ? ds + add : 0 over n values (the hardtanh's vjp plus a constant). */
IA_NODISCARD ia_status ia_be_hardtanh_vjp(ia_backend *b, int64_t n, const double *a, double add,
                                          double *ds);
/* y(:, j) += c·w_j·x(:, j) for j < n; m rows. */
IA_NODISCARD ia_status ia_be_scale_cols_add(ia_backend *b, int64_t m, int64_t n, double c,
                                            const double *w, const double *x, int64_t ldx,
                                            double *y, int64_t ldy);
/* out(:, u) (d values) = the dense 0/1 row rows[u] of a, for u < n. */
IA_NODISCARD ia_status ia_be_densify_rows(ia_backend *b, const ia_be_csr *a, const int32_t *rows,
                                          int64_t n, int64_t d, double *out, int64_t ld);
/* k(i, j) = NTK(g(i, j), nr_i, nc_j) over d items for an m × n Gram g; when
 * dxy and dnr are not NULL (m × n, leading dimension m) also the partials
 * with respect to g(i, j) and to nr_i. k may be g. */
IA_NODISCARD ia_status ia_be_ntk_dense(ia_backend *b, int64_t m, int64_t n, double d, int depth,
                                       const double *g, int64_t ldg, const double *nr,
                                       const double *nc, double *k, int64_t ldk, double *dxy,
                                       double *dnr);
/* Backward through dk of ia_be_ntk_dense's partials: dn_i += Σ_j dk(i, j)·dnr(i, j),
 * then dk ⊙= dxy. */
IA_NODISCARD ia_status ia_be_ntk_dense_vjp(ia_backend *b, int64_t m, int64_t n, double *dk,
                                           int64_t ldk, const double *dxy, const double *dnr,
                                           double *dn);
/* Backward through K = NTK(S, S) (μ × μ, from the full Gram g and the norms
 * n = diag g) with cotangent dk, each K_ij its own function of S:
 *   dg(i, j) = (dk_ij + dk_ji)·∂K_ij/∂g_ij (0 on the diagonal),
 *   dn_i = dk_ii·W⁴/d + Σ_{j≠i} (dk_ij + dk_ji)·∂K_ij/∂n_i.
 * dg must not be dk. */
IA_NODISCARD ia_status ia_be_ntk_sym_vjp(ia_backend *b, int64_t mu, double d, int depth,
                                         const double *g, int64_t ldg, const double *n,
                                         const double *dk, int64_t ldk, double *dg, int64_t lddg,
                                         double *dn);
/* Softmax cross-entropy of the d-long prediction columns p(:, u), u < n,
 * against the items of row rows[u] of t: *loss (host) = Σ_u |items|·lse(p_u)
 * − Σ p_u[items] (summed in u order); with grad, p_u is overwritten by
 * scale·(|items|·softmax(p_u) − 1_items). */
IA_NODISCARD ia_status ia_be_softmax_ce(ia_backend *b, int64_t d, int64_t n, double *p, int64_t ldp,
                                        const ia_be_csr *t, const int32_t *rows, double scale,
                                        int grad, double *loss);

/* ---- ranking on the backend ------------------------------------------------------ */
/* out[off[u] + q] = p(item_q, u) for the items item_q of row rows[u] of c,
 * u < n (p: d-long score columns; off: n + 1 offsets in the backend). */
IA_NODISCARD ia_status ia_be_gather_items(ia_backend *b, int64_t n, const double *p, int64_t ldp,
                                          const ia_be_csr *c, const int32_t *rows,
                                          const int64_t *off, double *out);
/* For each score column p(:, u), u < n: the items of row rows[u] of ca (and
 * of cb when not NULL) are set to −∞, then top(:, u) gets the k best items,
 * best first, equal scores to the lower index (ia_topk's order); k ≤ d and
 * k ≤ IA_TOPK. p is overwritten. */
IA_NODISCARD ia_status ia_be_rank_cols(ia_backend *b, int64_t d, int64_t n, double *p, int64_t ldp,
                                       const ia_be_csr *ca, const ia_be_csr *cb,
                                       const int32_t *rows, int k, int32_t *top, int64_t ldt);
/* out(i, u) = beta·out(i, u) + scale·src(rows[u], i) for i < d, u < n: rows
 * of a column-major src (precision p, leading dimension ld) turned into
 * d-long FP64 columns (out is not read when beta is 0). */
IA_NODISCARD ia_status ia_be_rows_to_cols(ia_backend *b, ia_precision p, const void *src,
                                          int64_t ld, const int32_t *rows, int64_t n, int64_t d,
                                          double scale, double beta, double *out, int64_t ldo);
