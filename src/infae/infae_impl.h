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
 *           of ΦᵀΦ with Nyström on the grid, where it holds Lᵀ while Φ is
 *           made); else the model factors k itself, and K is made again for
 *           the next λ; Nyström on one rank factors kg in place, kept in
 *           its upper triangle and kg_diag (ia_dmat_tri_save)
 *   a       X, then α (U × d); Nyström: β (α = L⁻ᵀβ when made per block)
 *   best    the kept α
 *   cross   with a user sample, NTK(C, X_fit) of the evaluation's blocks
 *           of users (Nyström: Φ = K_nm·L⁻ᵀ): one matrix per block when
 *           kept (n × U in all), else one block's, made again for each use
 *   kg, rhs Nyström: ΦᵀΦ (U × U) and ΦᵀX (U × d), summed over the blocks
 *   pb      the predictions of one block of users (infae_predict.c);
 *           Nyström: the block's X while the sums are made
 *   src_rows, a_rows  on the grid: each rank's block of rows of the source
 *           of the predictions (k) and of α (ia_dmat_make_rank_rows)
 * Without a sample NTK(C, X) overwrites k for the test.
 *
 * The rows of a block of users: rank r's evaluation rows [b·B, b·B + c_r)
 * (B = block, c_r its count in block b) are rows [r·s, r·s + c_r) of the
 * block's matrices, s = rank 0's count (every rank before the last one with
 * users has as many), so that the block's rows are all users. */
struct ia_infae {
  ia_dspace sp;
  int64_t n, d, u; /* users, items, fit users */
  int depth;       /* the NTK's hidden layers */
  int sampled;     /* fit on a sample: predictions need NTK(C, X)·α */
  int nystrom;     /* the sample are Nyström centers (sampled is set too) */
  int stream;      /* with a sample: cross made per block for each use, not kept */
  char *path;      /* the dataset, read a block of users at a time with a sample */
  int64_t *fit;    /* (u) fit user indices, or NULL for all */
  /* Rows held here (CSR, on the host): the fit users of K's local row blocks
   * and of each part's columns (ia_dmat_parts of k); without a sample the
   * same users' validation rows (with the train rows, the test's contexts). */
  ia_csr fit_rows, ctx_val;
  ia_csr col_rows[IA_MD_MAX];               /* may alias fit_rows: the same users */
  double *fit_norms, *col_norms[IA_MD_MAX]; /* |x|² of those rows */
  int parts;
  /* The same rows in the memory of each part's backend. */
  ia_be_csr *b_fit[IA_MD_MAX], *b_cols[IA_MD_MAX], *b_ctx_val[IA_MD_MAX];
  ia_dmat k, factor_own, a, best, kg, kg_diag, rhs, pb, src_rows, a_rows;
  ia_dmat *factor; /* &factor_own or &k */
  ia_dmat *cross;  /* n_cross matrices: one per block when kept, one when streamed */
  int64_t n_cross;
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
  int alpha_in_a; /* Nyström: a holds α = L⁻ᵀβ, not β */
  int have_gram;  /* ia_infae_gram done */
  pred_kind pred;
  const ia_dmat *pred_src, *pred_coef; /* PRED_DIRECT: P = pred_src·pred_coef */
  int pred_fresh;                      /* a sample: the block's NTK(C, X_fit) is made */
  int pred_with_val;                   /* ... with train ∪ validation as the context */
  ia_dmat pred_view;                   /* one rank: the block's predictions or α rows */
  double pred_lam_prime;
  ia_infae_stats stats;
};

/* K (or the ∞-AE kernel's part this rank makes) from the fit rows; adds to
 * the Gram's statistics. Collective. */
ia_status infae_make_kernel(ia_infae *m);
/* Without a sample: NTK(C, X) of every user's context C = train ∪
 * validation into k, for the test. Collective. */
ia_status infae_test_kernel(ia_infae *m, ia_step *step);

/* Users of rank r's evaluation rows in block b; the users of block b (the
 * rows of its matrices) and rank 0's count (*step). Not collective. */
int64_t infae_block_count(const ia_infae *m, int r, int64_t b);
int64_t infae_block_rows(const ia_infae *m, int64_t b, int64_t *step);
/* The matrix NTK(C, X_fit) of block b goes to: cross[b] when kept, else the
 * first rows of cross[0]. Not collective. */
ia_status infae_cross_of(const ia_infae *m, int64_t b, ia_dmat *view);

/* The rows of a block's users this rank holds rows of (the local rows of
 * the block's matrices), read from the dataset. */
typedef struct {
  ia_csr train, val;          /* val: only when asked */
  ia_be_csr *b_train, *b_val; /* the same in the backend's memory */
  double *norms;              /* |train| (∪ validation when asked) per row */
} infae_rows;
/* Reads them for block b. Collective. */
ia_status infae_rows_read(ia_infae *m, int64_t b, int with_val, infae_rows *r);
void infae_rows_free(ia_infae *m, infae_rows *r);
/* dst ← NTK(C, X_fit) for the rows r of a block (dst: infae_cross_of);
 * adds to step. Collective. */
ia_status infae_cross_block(ia_infae *m, const infae_rows *r, ia_dmat *dst, ia_step *step);
