#pragma once
/* What the files of ∞-AE (infae/infae/infae.h) share: the model object and
 * its helpers. infae_arrays.c reads the rows and makes, keeps and frees the
 * matrices; infae_fit.c the Gram, the factor and α (exact, sampled users,
 * Nyström); infae_predict.c the predictions and scores. Where each matrix
 * lives (the backend of one rank, block-cyclic on the grid, tiles over the
 * devices of one rank) is the business of infae/dist/dmat.h: the steps here
 * are written once for all of them. Internal. */
#include <stdlib.h>
#include <string.h>

#include "infae/core/log.h"
#include "infae/core/ntk.h"
#include "infae/dist/dmat.h"
#include "infae/infae/infae.h"
#include "infae/io/dataset.h"

/* What the predictions the evaluation reads are. */
typedef enum {
  PRED_NONE,     /* none */
  PRED_RESIDUAL, /* α of the exact fit: P = X − λ'α, X added when scored */
  PRED_DIRECT    /* P itself: NTK(C, X)·α, made a block of users at a time */
} pred_kind;

/* The matrices (see infae/infae/infae.h for the algorithm):
 *   k       K (U × U); Nyström: K_mm, then its factor L
 *   factor  the matrix factored for each λ when K is kept (a copy of K, or
 *           ΦᵀΦ with Nyström); else the model factors k itself, and K is made
 *           again for the next λ
 *   a       X, then α (U × d); Nyström: β
 *   best    the kept α
 *   kc      NTK(C, X_fit) for every user (n × U) with a user sample; Φ
 *   x_all   Nyström: X of every user (n × d), for ΦᵀX, freed after it
 *   kg, rhs Nyström: ΦᵀΦ (U × U) and ΦᵀX (U × d)
 *   pb      the predictions of one block of users (infae_predict.c)
 *   src_rows, a_rows  on the grid: each rank's block of rows of the source
 *           of the predictions (kc, or k) and of α (ia_dmat_make_rank_rows)
 * Without a sample NTK(C, X) overwrites k for the test. */
struct ia_infae {
  ia_dspace sp;
  int64_t n, d, u; /* users, items, fit users */
  int sampled;     /* fit on a sample: predictions need NTK(C, X)·α */
  int nystrom;     /* the sample are Nyström centers (sampled is set too) */
  int64_t *fit;    /* (u) fit user indices, or NULL for all */
  /* Rows held here (CSR, on the host): the fit users of K's local row blocks
   * and of each part's columns (ia_dmat_parts of k), and every user of the
   * local row blocks over n, train and validation (the contexts). */
  ia_csr fit_rows, ctx_train, ctx_val;      /* ctx_train aliases fit_rows without a sample */
  ia_csr col_rows[IA_MD_MAX];               /* may alias fit_rows: the same users */
  double *fit_norms, *col_norms[IA_MD_MAX]; /* |x|² of those rows */
  int parts;
  /* The same rows in the memory of each part's backend. */
  ia_be_csr *b_fit[IA_MD_MAX], *b_cols[IA_MD_MAX], *b_ctx_train[IA_MD_MAX], *b_ctx_val[IA_MD_MAX];
  ia_dmat k, factor_own, a, best, x_all, kc, kg, rhs, pb, src_rows, a_rows;
  ia_dmat *factor; /* &factor_own or &k */
  /* Evaluation in blocks of `block` users of each rank's evaluation rows
   * (ia_row_block over n); the current block starts at local row
   * block_first. */
  int64_t block, eval_begin, eval_count, block_first;
  void *rows; /* host, on the grid: the block's predictions (or α rows), ld block */
  int64_t rows_ld;
  int32_t *rel_rows; /* one rank: a block's rows relative to its first (backend) */
  int64_t *rel_h;    /* the same on the host */
  void *alpha_rows;  /* the kept α in the model file's layout (ia_infae_alpha_rows) */
  double trace, lam_prime, best_lam_prime;
  double trace_count; /* λ' = λ·trace/trace_count */
  int have_kernel, have_alpha, have_best, have_cross;
  int have_gram; /* ia_infae_gram done */
  pred_kind pred;
  const ia_dmat *pred_src, *pred_coef; /* PRED_DIRECT: P = pred_src·pred_coef */
  ia_dmat pred_view;                   /* one rank: the block's predictions or α rows */
  double pred_lam_prime;
  ia_infae_stats stats;
};

/* K (or the ∞-AE kernel's part this rank makes) from the fit rows; adds to
 * the Gram's statistics. Collective. */
ia_status infae_make_kernel(ia_infae *m);
/* NTK(C, X_fit) of every user's context C (train, ∪ validation with
 * with_val) into kc, or into k without a sample. Collective. */
ia_status infae_cross_kernel(ia_infae *m, int with_val, ia_step *step);
