#pragma once
/* Models trained on a small dense user sample S (a Distill-CF summary or
 * sampled real users), evaluated on the real users' validation and test
 * splits with the protocol of `train`. Internal. */
#include <mpi.h>

#include "infae/eval/metrics.h"
#include "infae/eval/result.h"
#include "infae/infae/krr.h"
#include "infae/io/dataset.h"

/* Scores (n × items, row-major, into p) of this rank's users rows[0..n)
 * (local row indices of d, n ≤ IA_EVAL_CHUNK); test = 1: context train +
 * validation. */
enum { IA_EVAL_CHUNK = 64 };
typedef void (*ia_score_fn)(void *ctx, const ia_dataset *d, const int64_t *rows, int64_t n,
                            int test, double *p);

/* Metrics of a scorer on this rank's users: test = 0 → context train, held
 * validation; test = 1 → context train + validation, held test. Users go to
 * the scorer in blocks; every rank returns rank 0's numbers. Collective. */
IA_NODISCARD ia_status ia_evaluate_split(MPI_Comm comm, const ia_dataset *d, ia_evaluator *ev,
                                         int test, ia_score_fn score, void *ctx, ia_metrics *out);

/* The same in parts: the users of local rows [first, end) added to ev (not
 * collective; ia_evaluator_reset first), and the metrics of everything
 * added, rank 0's on every rank (collective). */
IA_NODISCARD ia_status ia_evaluate_rows(const ia_dataset *d, ia_evaluator *ev, int test,
                                        int64_t first, int64_t end, ia_score_fn score, void *ctx);
IA_NODISCARD ia_status ia_evaluate_finish(MPI_Comm comm, ia_evaluator *ev, ia_metrics *out);

/* ∞-AE fitted in m (ia_krr_fit done), on this rank's users of d: test = 0
 * → context train, held validation; test = 1 → context train + validation,
 * held test. Collective. */
IA_NODISCARD ia_status ia_sample_eval(MPI_Comm comm, const ia_dataset *d, ia_evaluator *ev,
                                      ia_krr *m, int test, ia_metrics *out);

/* Every λ of grid on validation (a λ that does not factor is skipped),
 * the best by HR@100; with_test: its test metrics, and m is left fitted at
 * it. Fills the λ, val, skipped, best_lambda, test and lambda_prime fields
 * of r. log: print a line per λ. Collective. */
IA_NODISCARD ia_status ia_sample_infae(MPI_Comm comm, const ia_dataset *d, ia_evaluator *ev,
                                       ia_krr *m, const double *grid, int n, int with_test, int log,
                                       ia_train_result *r);

/* A model on a sample, wherever it lives: fit(λ) factors K + λ'I and
 * solves α (IA_ERR_NOTSPD when it does not factor; not collective) and
 * reports λ' and tr K; eval is ia_sample_eval's contract. */
typedef struct {
  void *ctx;
  ia_status (*fit)(void *ctx, double lambda, double *lambda_prime, double *trace);
  ia_status (*eval)(void *ctx, MPI_Comm comm, const ia_dataset *d, ia_evaluator *ev, int test,
                    ia_metrics *out);
} ia_sample_model;
/* The host model of m. */
ia_sample_model ia_krr_model(ia_krr *m);
/* ia_sample_infae for any such model, the best λ by validation metric
 * (IA_HR100 or IA_NDCG10; the first of equals). Collective. */
IA_NODISCARD ia_status ia_sample_select(MPI_Comm comm, const ia_dataset *d, ia_evaluator *ev,
                                        const ia_sample_model *m, const double *grid, int n,
                                        int metric, int with_test, int log, ia_train_result *r);
/* "[tag] what HR@10 … AUC (users, secs)". Rank 0 prints. */
void ia_log_metrics(const char *tag, const char *what, const ia_metrics *m, double secs);
/* The same with "what λ=lambda" as what. */
void ia_log_lambda(const char *tag, const char *what, double lambda, const ia_metrics *m,
                   double secs);

/* EASE from the item Gram g (items × items, full, the same on every rank):
 * every λ of grid on validation (one that does not factor is skipped when
 * the grid has others), the best by HR@100 on test. Fills the λ, val,
 * skipped, best_lambda, test, t_fit, fit_flops, t_val and t_test fields of
 * r; logs a line per λ under [tag]. best_b: when not NULL, receives the
 * best λ's B (malloc'd, items × items, the same on every rank). Collective. */
IA_NODISCARD ia_status ia_ease_select(MPI_Comm comm, const ia_dataset *d, ia_evaluator *ev,
                                      const double *g, const double *grid, int n, const char *tag,
                                      ia_train_result *r, double **best_b);

/* EASE on a sample S (μ×d rows s): grid on validation, test at the best
 * (best_b as for ia_ease_select). With μ < d in the low-rank form of
 * eval/ease_select.c (no d × d array unless best_b is asked for);
 * else from the Gram SᵀS. Collective. */
IA_NODISCARD ia_status ia_sample_ease(MPI_Comm comm, const ia_dataset *d, ia_evaluator *ev,
                                      const double *s, int64_t mu, const double *grid, int n,
                                      ia_train_result *r, double **best_b);
