#pragma once
/* Pieces of the backend shared by src/backend/backend.c and the CUDA side
 * (kernels/backend_cuda.cu). Not a public interface. */
#include <stddef.h>
#include <stdint.h>

#include "infae/backend/backend.h"
#include "infae/config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CSR rows: host arrays (CPU) or device copies (CUDA). */
struct ia_be_csr {
  int64_t n_rows;
  const int64_t *indptr;
  const int32_t *indices;
  void *owned_indptr, *owned_indices; /* device copies to free, or NULL */
};

/* Items per densified panel of `rows` rows of es bytes within `bytes`
 * (at least 64, at most d). */
int64_t ia_be_panel_width(int64_t rows, int64_t d, size_t es, int64_t bytes);
/* First local row of local column j that the layout needs (sym skips the
 * blocks above the diagonal block). */
int64_t ia_be_first_row(const ia_be_layout *l, int64_t j);

#if IA_HAVE_CUDA
typedef struct ia_cuda ia_cuda;
enum { IA_H2D = 0, IA_D2H = 1, IA_D2D = 2 };

/* Binds this process to GPU local_rank % (visible GPUs) and makes its
 * cuBLAS and cuSOLVER handles. */
ia_status ia_cuda_open(int local_rank, ia_cuda **out);
void ia_cuda_close(ia_cuda *c);
/* The CUDA side of a CUDA backend. */
ia_cuda *ia_backend_cuda(ia_backend *b);
/* cusolverMg over the GPUs of c[0 … ndev − 1] (distinct devices); matrices
 * in the layout of infae/dist/multidev.h (parts[g] on c[g]). The factor and
 * solves wait for every device's queued work first. */
typedef struct ia_cuda_mg ia_cuda_mg;
ia_status ia_cuda_mg_open(ia_cuda *const *c, int ndev, ia_cuda_mg **out);
void ia_cuda_mg_close(ia_cuda_mg *mg);
ia_status ia_cuda_mg_potrf(ia_cuda_mg *mg, ia_precision p, int64_t n, int64_t nb,
                           void *const *parts, int64_t *info);
ia_status ia_cuda_mg_potrs(ia_cuda_mg *mg, ia_precision p, int64_t n, int64_t nb,
                           void *const *lparts, int64_t nrhs, int64_t nbb, void *const *bparts);
/* Makes c's GPU the current device of the calling thread. */
void ia_cuda_bind(const ia_cuda *c);
/* The UUID of the backend's GPU (the same for every rank on that device). */
void ia_cuda_uuid(const ia_cuda *c, unsigned char out[16]);
int ia_cuda_index(const ia_cuda *c);
ia_status ia_cuda_sync(ia_cuda *c);
ia_status ia_cuda_copy_peer(ia_cuda *c, void *dst, size_t dpitch, ia_cuda *src_c, const void *src,
                            size_t spitch, size_t width, int64_t cols);
ia_status ia_cuda_upload2d(ia_cuda *c, void *dst, size_t dpitch, const void *src, size_t spitch,
                           size_t width, int64_t cols);
ia_status ia_cuda_download2d(ia_cuda *c, void *dst, size_t dpitch, const void *src, size_t spitch,
                             size_t width, int64_t cols);
ia_status ia_cuda_add(ia_cuda *c, ia_precision p, char op, int64_t m, int64_t n, const void *x,
                      int64_t ldx, void *y, int64_t ldy);
const char *ia_cuda_describe(const ia_cuda *c);
size_t ia_cuda_free_bytes(const ia_cuda *c);
ia_status ia_cuda_alloc(ia_cuda *c, size_t bytes, const char *what, void **out);
void ia_cuda_free(ia_cuda *c, void *p);
ia_status ia_cuda_memcpy(ia_cuda *c, void *dst, const void *src, size_t bytes, int kind);
ia_status ia_cuda_zero(ia_cuda *c, void *p, size_t bytes);
ia_status ia_cuda_csr_make(ia_cuda *c, const ia_csr *host, ia_be_csr *out);
ia_status ia_cuda_gemm(ia_cuda *c, ia_precision p, char ta, char tb, int64_t m, int64_t n,
                       int64_t k, double alpha, const void *a, int64_t lda, const void *b,
                       int64_t ldb, double beta, void *cm, int64_t ldc);
ia_status ia_cuda_potrf(ia_cuda *c, ia_precision p, int64_t n, void *a, int64_t lda, int64_t *info);
ia_status ia_cuda_potrs(ia_cuda *c, ia_precision p, int64_t n, int64_t nrhs, const void *a,
                        int64_t lda, void *b, int64_t ldb);
ia_status ia_cuda_trsm(ia_cuda *c, ia_precision p, char side, char ta, int64_t m, int64_t n,
                       const void *a, int64_t lda, void *b, int64_t ldb);
ia_status ia_cuda_diag_add(ia_cuda *c, ia_precision p, int64_t n, void *a, int64_t lda, double v);
ia_status ia_cuda_tri_copy(ia_cuda *c, ia_precision p, int64_t n, void *a, int64_t lda, void *diag,
                           int restore);
ia_status ia_cuda_diag_sum(ia_cuda *c, ia_precision p, int64_t n, const void *a, int64_t lda,
                           double *sum);
ia_status ia_cuda_densify(ia_cuda *c, ia_precision p, const ia_be_csr *a, int64_t d, void *out,
                          int64_t ld);
ia_status ia_cuda_ntk_tiles(ia_cuda *c, ia_precision p, const ia_be_csr *ra, const ia_be_csr *rb,
                            const double *nr, const ia_be_csr *cols, const double *nc,
                            const ia_be_layout *lay, int64_t c0, int64_t c1, int64_t d, int depth,
                            int64_t panel_bytes, void *out, int64_t ldo, double *flops);
/* NCCL across comm (bootstrapped through MPI); every rank calls it. */
ia_status ia_cuda_nccl_init(ia_cuda *c, MPI_Comm comm);
int ia_cuda_has_nccl(const ia_cuda *c);
/* In-place sum of n device doubles over comm: NCCL when initialized, else
 * MPI through host memory. */
ia_status ia_cuda_allreduce_sum(ia_cuda *c, MPI_Comm comm, double *buf, int64_t n);
ia_status ia_cuda_gumbel_rows(ia_cuda *c, const ia_gumbel *g, int64_t row0, int64_t n,
                              const double *z, double *a);
ia_status ia_cuda_gumbel_rows_vjp(ia_cuda *c, const ia_gumbel *g, int64_t row0, int64_t n,
                                  const double *z, const double *da, double *dz);
ia_status ia_cuda_act(ia_cuda *c, ia_act act, int64_t m, int64_t n, double *x, int64_t ld);
ia_status ia_cuda_act_grad(ia_cuda *c, ia_act act, int64_t m, int64_t n, const double *y,
                           int64_t ldy, double *dy, int64_t lddy);
ia_status ia_cuda_gather_cols(ia_cuda *c, int64_t m, int64_t n, const double *src, int64_t lds,
                              const int32_t *idx, double *dst, int64_t ldd);
ia_status ia_cuda_scatter_add_cols(ia_cuda *c, int64_t m, int64_t n, const double *src, int64_t lds,
                                   const int32_t *idx, double *dst, int64_t ldd);
ia_status ia_cuda_recon_loss(ia_cuda *c, ia_loss kind, int64_t m, int64_t n, double *o, int64_t ldo,
                             const double *t, int64_t ldt, double conf, double scale, double *loss);
ia_status ia_cuda_adam(ia_cuda *c, const ia_adam *a, int64_t n, double *x, const double *g,
                       double *m, double *v);
ia_status ia_cuda_axpy(ia_cuda *c, int64_t n, double alpha, const double *x, double *y);
ia_status ia_cuda_sum(ia_cuda *c, int64_t n, const double *x, double *sum);
ia_status ia_cuda_diag_get(ia_cuda *c, int64_t n, const double *a, int64_t lda, double *out);
ia_status ia_cuda_hardtanh(ia_cuda *c, int64_t n, const double *a, double *s);
ia_status ia_cuda_hardtanh_vjp(ia_cuda *c, int64_t n, const double *a, double add, double *ds);
ia_status ia_cuda_scale_cols_add(ia_cuda *c, int64_t m, int64_t n, double cf, const double *w,
                                 const double *x, int64_t ldx, double *y, int64_t ldy);
ia_status ia_cuda_densify_rows(ia_cuda *c, const ia_be_csr *a, const int32_t *rows, int64_t n,
                               int64_t d, double *out, int64_t ld);
ia_status ia_cuda_ntk_dense(ia_cuda *c, int64_t m, int64_t n, double d, int depth, const double *g,
                            int64_t ldg, const double *nr, const double *nc, double *k, int64_t ldk,
                            double *dxy, double *dnr);
ia_status ia_cuda_ntk_dense_vjp(ia_cuda *c, int64_t m, int64_t n, double *dk, int64_t ldk,
                                const double *dxy, const double *dnr, double *dn);
ia_status ia_cuda_ntk_sym_vjp(ia_cuda *c, int64_t mu, double d, int depth, const double *g,
                              int64_t ldg, const double *n, const double *dk, int64_t ldk,
                              double *dg, int64_t lddg, double *dn);
ia_status ia_cuda_softmax_ce(ia_cuda *c, int64_t d, int64_t n, double *p, int64_t ldp,
                             const ia_be_csr *t, const int32_t *rows, double scale, int grad,
                             double *loss);
ia_status ia_cuda_gather_items(ia_cuda *c, int64_t n, const double *p, int64_t ldp,
                               const ia_be_csr *cs, const int32_t *rows, const int64_t *off,
                               double *out);
ia_status ia_cuda_rank_cols(ia_cuda *c, int64_t d, int64_t n, double *p, int64_t ldp,
                            const ia_be_csr *ca, const ia_be_csr *cb, const int32_t *rows, int k,
                            int32_t *top, int64_t ldt);
ia_status ia_cuda_rows_to_cols(ia_cuda *c, ia_precision p, const void *src, int64_t ld,
                               const int32_t *rows, int64_t n, int64_t d, double scale, double beta,
                               double *out, int64_t ldo);
#endif

#ifdef __cplusplus
}
#endif
