#pragma once
/* What the files of ∞-AE (infae/infae/infae.h) share: the model object and
 * its helpers. infae_arrays.c reads the rows and makes, keeps and frees the
 * arrays; infae_fit.c the Gram, the factor and α (exact, sampled users,
 * Nyström); infae_predict.c the predictions and scores. Internal. */
#include <stdlib.h>
#include <string.h>

#include "backend/backend_impl.h"
#include "dist/scalapack.h"
#include "infae/core/log.h"
#include "infae/core/ntk.h"
#include "infae/dist/multidev.h"
#include "infae/dist/summa.h"
#include "infae/infae/infae.h"
#include "infae/io/dataset.h"

/* Arrays are void * of element size es: double (fp64) or float (fp32). The
 * Gram of binary rows is exact in either; the NTK is evaluated in double.
 *
 * On one rank the arrays live in the backend's memory (the GPU's with CUDA)
 * and LAPACK or cuSOLVER solves; on a grid of several ranks they are
 * ScaLAPACK's block-cyclic arrays on the host, and each rank's backend (its
 * GPU) makes its kernel tiles and its part of the Cholesky factors,
 * triangular solves, Nyström's products and prediction products
 * (infae/dist/summa.h). The predictions
 * for the evaluation stay in the backend on one rank (ranked there,
 * src/eval/rank_eval.c) and come to the host rows on a grid.
 *
 * One rank on several devices (opts.md, the exact fit only): K, its factor
 * and the right-hand side X are spread over the devices in column tiles
 * (infae/dist/multidev.h) and each device makes its own tiles of K and NTK(C, X).
 * α, the kept α and the predictions wait in host memory, so that the first
 * device has room for its tiles; the evaluation uploads a block of users'
 * rows at a time (ia_infae_score_cols). */
struct ia_infae {
  ia_grid g;
  ia_backend *be;
  int arrays_on_backend; /* one rank: no ScaLAPACK */
  ia_md *md;             /* one rank, several devices (NULL: one) */
  ia_md_mat mk, mx;      /* there: K (or NTK(C, X)) and its factor, X solved into α */
  ia_csr mfc[IA_MD_MAX]; /* fit users of each device's column tiles */
  double *mnc[IA_MD_MAX];
  ia_be_csr *mcol[IA_MD_MAX], *mtr[IA_MD_MAX], *mva[IA_MD_MAX]; /* on device g */
  int nb;
  ia_precision prec;
  size_t es;
  int64_t n, d, u; /* users, items, fit users */
  int sampled;     /* fit on a sample: predictions need NTK(C, X)·α */
  int nystrom;     /* the sample are Nyström centers (sampled is set too) */
  int64_t *fit;    /* (u) fit user indices, or NULL for all */
  /* Rows held here (CSR): fit users of the local row and column blocks of K,
   * and every user of the local row blocks over n (the contexts). */
  ia_csr fr, fc, ctr, cva;            /* ctr aliases fr when not sampled, fc on one rank */
  ia_be_csr *bfr, *bfc, *bctr, *bcva; /* the same rows, for the backend */
  double *nfr, *nfc;                  /* |x|² of fr, fc rows */
  int64_t mu, nu, mn, dl;             /* local sizes: U rows, U cols, n rows, d cols */
  void *k, *kf, *a, *best, *pc, *kc, *rows;
  void *kg, *rhs; /* Nyström: ΦᵀΦ (U × U) and ΦᵀX (U × d); k holds L, kc Φ */
  int desc_k[IA_DLEN], desc_a[IA_DLEN], desc_kc[IA_DLEN], desc_p[IA_DLEN];
  int64_t r_ld; /* leading dimension of `rows`, set by to_rows */
  double trace, lam_prime, best_lam_prime;
  double trace_count; /* λ' = λ·trace/trace_count */
  int have_kernel, have_alpha, have_best, have_cross;
  int have_gram;        /* ia_infae_gram done (several devices remake K from it) */
  int pred_mode;        /* 0 none, 1: X − λ'α, 2: direct */
  const void *pred_src; /* one rank: α or the predictions, in the backend (ld r_ld) */
  double pred_lam_prime;
  int64_t panel_bytes;
  int said_host_solve;  /* the log line for an X/α too large for the GPUs */
  int said_host_factor; /* the same for K */
  ia_infae_stats stats;
};

/* Element `at` of a local host array, in the precision of the model. */
static inline double infae_get(const ia_infae *m, const void *p, size_t at) {
  return m->prec == IA_FP64 ? ((const double *)p)[at] : (double)((const float *)p)[at];
}

static inline void infae_put(const ia_infae *m, void *p, size_t at, double v) {
  if (m->prec == IA_FP64)
    ((double *)p)[at] = v;
  else
    ((float *)p)[at] = (float)v;
}

/* Bytes of a local rows × cols array (at least one element: ScaLAPACK wants
 * a leading dimension ≥ 1 even on a rank that holds nothing). */
static inline size_t infae_local_bytes(const ia_infae *m, int64_t rows, int64_t cols) {
  return m->es * (size_t)(rows > 0 ? rows : 1) * (size_t)(cols > 0 ? cols : 1);
}

/* The sum of v over the ranks of comm. Collective. */
double infae_allsum(MPI_Comm comm, double v);
/* A ScaLAPACK descriptor of an m × n array in mb × nb blocks on context ctxt. */
ia_status infae_desc(int *dsc, int64_t m, int64_t n, int64_t mb, int64_t nb, int ctxt, int64_t lld);
/* The other helpers' contracts are at their definitions. */
ia_status infae_copy_array(ia_infae *m, void *dst, const void *src, size_t bytes);
int infae_diag_at(const ia_infae *m, int64_t j, size_t *at);
/* This rank's tiles of NTK(rows ra ∪ rb, cols) into k (mloc × nloc). */
ia_status infae_kernel_tiles(ia_infae *m, const ia_be_csr *ra, const ia_be_csr *rb,
                             const double *nr, const ia_be_csr *cols, const double *nc, int sym,
                             void *k, int64_t mloc, int64_t nloc, double *flops);
ia_status infae_md_tiles(ia_infae *m, int with_val, const double *nr, int sym, double *flops);
int64_t infae_union_count(const ia_csr *a, const ia_csr *b, int64_t r);
size_t infae_backend_budget(const ia_infae *m);
ia_status infae_cross_kernel(ia_infae *m, int with_val, ia_step *step);
