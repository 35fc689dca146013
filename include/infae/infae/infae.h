#pragma once
/* ∞-AE (docs/protocol.md §2) on the matrices of infae/dist/dmat.h: on one
 * rank's backend, block-cyclic over a BLACS grid, or in tiles over the GPUs
 * of one rank; the steps are written once for all of them.
 *
 *   K = NTK(X, X)                 U × U, lower triangle, fp64|fp32
 *   λ' = λ·tr(K)/U
 *   α = (K + λ'I)^{-1} X          Cholesky factor and solves (ia_dmat_potrf,
 *                                 ia_dmat_potrs), X is U × d
 *   P = NTK(C, X)·α               ia_dmat_gemm; for C = X: P = X − λ'α
 *
 * Nyström (opts.nystrom): the fit users are M centers (distinct rows), and
 * every user's row is fit through them: the subset-of-regressors solution
 * α = (K_nmᵀK_nm + λ'K_mm)⁻¹K_nmᵀX of the same ridge problem, which is exact
 * ∞-AE when the centers are all the distinct rows. Solved in feature form:
 *
 *   K_mm + δI = LLᵀ                  δ = ε·tr(K_mm), ε the machine epsilon
 *   Φ = NTK(X_all, X_c)·L⁻ᵀ          n × M
 *   λ' = λ·tr(K_nn)/n                (mean NTK(x, x) over all users)
 *   β = (ΦᵀΦ + λ'I)⁻¹ΦᵀX,  α = L⁻ᵀβ  M × d
 *   P = NTK(C, X_c)·α                (validation: Φβ)
 *
 * X holds the fit users' train rows (every user, or a sample). Predictions
 * cover every user and are moved to the evaluation layout (contiguous row
 * blocks, ia_row_block) one row per user, never gathered on one rank.
 *
 * On one rank the model runs on its backend alone (LAPACK, or cuBLAS and
 * cuSOLVER on the GPU with every array in device memory); on several ranks
 * the arrays are block-cyclic in host memory and each rank's backend makes
 * its kernel tiles (the Gram and NTK(C, X)) and runs its part of the factor,
 * the solves and the products (on the GPU when the array a step keeps there
 * fits). With ia_infae_opts.md, one rank spreads K over several devices. */
#include <stdint.h>

#include "infae/backend/backend.h"
#include "infae/core/status.h"
#include "infae/dist/grid.h"
#include "infae/dist/multidev.h"

typedef struct {
  ia_backend *backend; /* where the arrays live and the work runs (required) */
  int nb;              /* block size of the grid (e.g. 256) */
  ia_precision precision;
  int keep_kernel;          /* 1: keep a copy of K to factor for each λ; 0: factor K in place and
                      make it again from the rows for the next λ (no copy; U²·d flops) */
  const int64_t *fit_users; /* ascending user indices the model is fit on; NULL: all */
  int64_t n_fit;
  int64_t panel_bytes; /* bound on the densified item panels of the Gram (0: 256 MiB) */
  int nystrom;         /* 1: fit_users are Nyström centers, every user is fit */
  ia_md *md;           /* one rank, exact fit: K over these devices (device 0 is
                               backend); NULL: the backend alone */
  int64_t eval_block;  /* users per rank in each block of the evaluation's predictions
                          (0: ia_infae_eval_block_size's choice) */
  int depth;           /* hidden ReLU layers of the NTK (infae/core/ntk.h; 0 or 1: the paper's 1) */
  int stream_cross;    /* with fit_users: NTK(C, X_fit) (Nyström: K_nm) is made a block of
                          users at a time for each use, never for all users at once (the
                          validation makes it again for each λ); 0: kept for every user */
} ia_infae_opts;

/* Bytes per rank (the largest rank) and flops of each step, from the sizes
 * alone: what `plan` prints and what `train` checks against the memory limit. */
typedef struct {
  int nprow, npcol;
  int nystrom;
  int keep_kernel;     /* a copy of K is factored for each λ (else K is made again;
                          never with Nyström, which factors ΦᵀΦ) */
  int stream;          /* with a sample, NTK(C, X_fit) is made a block of users at a
                          time for each use (ia_infae_opts.stream_cross) */
  double bytes_kernel; /* K, and its copy when kept (Nyström: L, ΦᵀΦ, its factor) */
  double bytes_rhs;    /* X/α, best α (block-cyclic); Nyström: and ΦᵀX */
  double bytes_cross;  /* NTK(C, X) when fit on a sample: every user's, or a block's */
  double bytes_rows;   /* one block of the evaluation's predictions (and on a grid its
                          rows of α and of NTK(C, X), and the host rows) */
  int64_t eval_block;  /* users per rank in that block */
  double bytes_panels; /* densified item panels of the Gram */
  double bytes_summa;  /* host panels of infae/dist/summa.h's factor, solves and products (grid) */
  double bytes_data;   /* CSR rows of the dataset held by the rank */
  double bytes_total;
  /* GPU bytes per rank with --device cuda: one rank, the arrays above that
   * live on the device (the evaluation's buffers come on top); a grid, the
   * largest array infae/dist/summa.h keeps there for one step (a step whose
   * array does not fit runs on the host) or the Gram's device tiles. */
  double bytes_device;
  double flops_gram, flops_factor, flops_solve, flops_predict,
      flops_test;      /* per λ: factor, solve, predict */
  double flops_remake; /* per λ after the first, without the copy: K made again */
} ia_infae_plan;

/* Users per rank in each block of the evaluation's predictions: eval_block
 * when > 0, else as many as 512 MiB per rank hold, on a grid a rank's share
 * of α (U·d/size) when that is more (one rank: the block's predictions, B ×
 * d, and with a sample its rows of NTK(C, X), B × U; a grid: the
 * predictions, the block's α rows and rows of NTK(C, X), and the host rows),
 * at most a rank's ceil(n/size). Not collective. */
int64_t ia_infae_eval_block_size(int64_t n, int64_t d, int64_t u, int sampled, int size,
                                 ia_precision p, int64_t eval_block);

/* n users, d items, U fit users (Nyström: centers), nnz train interactions;
 * keep_kernel and stream (stream_cross) as in ia_infae_opts; the evaluation
 * in blocks of ia_infae_eval_block_size(…, 0). Not collective. */
void ia_infae_plan_make(int64_t n, int64_t d, int64_t u, int64_t nnz, int size, int nprow,
                        int npcol, int nb, ia_precision p, int keep_kernel, int nystrom, int stream,
                        int64_t panel_bytes, ia_infae_plan *out);

/* One rank with K over `gpus` devices (opts.md, exact fit of n users): the
 * device bytes of each device (its column tiles of K, which is remade for
 * each λ rather than copied, of the FP32 Gram chunk of fp64 kernels
 * (ia_be_ntk_stage_cols) and of X/α,
 * and panel and product blocks) and of the first (the same, plus the block where the
 * parts are summed; α, the kept α and the predictions are in host memory).
 * Not collective. */
void ia_infae_md_bytes(int64_t n, int64_t d, int nb, ia_precision p, int gpus, double *per_device,
                       double *first);

typedef struct {
  double seconds, flops; /* summed over calls; flops over all ranks */
} ia_step;

typedef struct {
  ia_step read, gram, factor, solve, predict, test_gram, test_gemm, redistribute;
} ia_infae_stats;

typedef struct ia_infae ia_infae;

/* Reads the rows this rank needs from the dataset at path and allocates the
 * distributed arrays. Collective on g->comm. */
IA_NODISCARD ia_status ia_infae_create(const ia_grid *g, const char *path, const ia_infae_opts *o,
                                       ia_infae **out);
void ia_infae_free(ia_infae **m);

/* K = NTK(X, X) and its trace; Nyström: L, Φ, ΦᵀΦ, ΦᵀX and tr(K_nn)
 * (*trace). Collective. */
IA_NODISCARD ia_status ia_infae_gram(ia_infae *m, double *trace);

/* α for λ (λ' = λ·tr(K)/U; Nyström: λ·tr(K_nn)/n). A matrix to factor that is
 * not positive definite gives
 * IA_ERR_NOTSPD on every rank, with a message naming λ. Collective. */
IA_NODISCARD ia_status ia_infae_fit(ia_infae *m, double lambda);
/* Marks the current α as the one the test and the model file use. Collective. */
IA_NODISCARD ia_status ia_infae_keep(ia_infae *m);

/* Predictions for every user, in the evaluation layout (ia_row_block over
 * the users), a block of users at a time: from the current α with each
 * user's train items as the context (validation), or from the kept α with
 * train ∪ validation (test). The predict calls prepare (collective); then
 * ia_infae_predict_block(m, b) for b < ia_infae_eval_blocks(m), the same
 * count on every rank, makes the predictions of this rank's evaluation rows
 * [b·B, b·B + B) (B = ia_infae_eval_block_users; collective). */
IA_NODISCARD ia_status ia_infae_predict_validation(ia_infae *m);
IA_NODISCARD ia_status ia_infae_predict_test(ia_infae *m);
int64_t ia_infae_eval_blocks(const ia_infae *m);
int64_t ia_infae_eval_block_users(const ia_infae *m);
IA_NODISCARD ia_status ia_infae_predict_block(ia_infae *m, int64_t b);
/* One rank: the predictions stay in the backend's memory (several devices:
 * in host memory, scored through the first device). */
int ia_infae_on_backend(const ia_infae *m);
/* One rank, after ia_infae_predict_block: the scores of the n local users
 * rows of the block (int32 in the backend; rows_h the same ascending, in
 * host memory) as d-long FP64 columns out (backend, leading dimension ldo);
 * train: the users' train rows in the backend (for P = X − λ'α). Not
 * collective. */
IA_NODISCARD ia_status ia_infae_score_cols(ia_infae *m, const ia_be_csr *train, const int32_t *rows,
                                           const int64_t *rows_h, int64_t n, double *out,
                                           int64_t ldo);
/* Scores of the evaluation row `row` (local index, in the current block)
 * after ia_infae_predict_block; train_items are that user's train items
 * (needed for P = X − λ'α). Not collective. Several ranks only: on one rank
 * the predictions stay in the backend (ia_infae_score_cols). */
void ia_infae_scores(const ia_infae *m, int64_t row, const int32_t *train_items, int64_t n_train,
                     double *scores);

/* The kept α in the layout of ia_row_block over the U fit users: local rows
 * × d, column-major with leading dimension *ld (fp64 or fp32 as chosen).
 * Collective. */
IA_NODISCARD ia_status ia_infae_alpha_rows(ia_infae *m, const void **alpha, int64_t *ld);

/* K(i, j) for fit users i, j, after ia_infae_gram and before a fit that
 * factors K in place; not with a user sample. Collective. */
IA_NODISCARD ia_status ia_infae_kernel_entry(ia_infae *m, int64_t i, int64_t j, double *v);

double ia_infae_lambda_prime(const ia_infae *m); /* of the kept α */
const ia_infae_stats *ia_infae_get_stats(const ia_infae *m);
