#pragma once
/* `infae_mpi distill`: Distill-CF (docs/protocol.md §4) and the baseline samplers,
 * written as a summary file (layout in docs/file-formats.md). */
#include <mpi.h>
#include <stdint.h>

#include "infae/core/status.h"
#include "infae/eval/result.h"

/* How the binarized summary (/binary) is made from the logits; the
 * samplers without logits (random, head, interactions) keep S ≥ 0.5. */
typedef enum {
  IA_BINARY_VALIDATED = 0, /* each row's top items by logit, as many as the candidate (the same
                              count for every row, or each row's expected items) whose ∞-AE
                              validates best */
  IA_BINARY_EXPECTED,      /* each row's expected number of distinct items in γ hard draws */
  IA_BINARY_THRESHOLD      /* S ≥ threshold */
} ia_binary_rule;
/* Their names in /binary's attribute `rule`. */
extern const char *const ia_binary_rule_names[3];
/* The rule of --binary-rule NAME (validated | expected | threshold), else
 * IA_ERR_ARG with the message. Not collective. */
IA_NODISCARD ia_status ia_binary_rule_parse(const char *name, ia_binary_rule *out);

/* The validated rule's candidates for real users of ipu train items each
 * and d items: 0 (each row's expected items), then round(ipu · 2^((i−2)/2))
 * for i = 0, 1, … while at most d/2, without repeats (at least one). Fills
 * items; returns how many (≤ IA_BINARY_MAX_CANDIDATES). */
enum { IA_BINARY_MAX_CANDIDATES = 64 };
int ia_binary_candidates(double ipu, int64_t d, int64_t *items);

/* Distill-CF's λ grid (relative, as ∞-AE's). */
extern const double ia_distill_grid[6];

typedef struct {
  const char *data;    /* prepared dataset */
  const char *out;     /* summary file */
  const char *sampler; /* distill | random | head */
  int64_t budget;      /* μ synthetic (or sampled) users */
  int samples;         /* γ Gumbel samples */
  double tau;          /* τ */
  double lr;           /* Adam learning rate */
  double c_card;       /* cardinality weight */
  int depth;           /* hidden ReLU layers of the NTK (0 or 1: the paper's 1) */
  int steps;           /* Adam steps */
  int patience;        /* stop after this many steps without a better validation metric */
  const char *select;  /* the validation metric of Distill-CF's choices (λ at each
                          validation, the sample kept, patience, --search's configuration):
                          "HR@100" (NULL; the reference's) or "NDCG@10". The models
                          trained on the summary pick their λ by HR@100, as on all users */
  int64_t batch;       /* real users per step; 0 = all */
  uint64_t seed;
  const double *lambdas; /* grid; NULL = ia_distill_grid */
  int n_lambdas;
  int ease;                   /* also evaluate EASE trained on the summary */
  int64_t memory_limit;       /* bytes per rank; 0 = the node's available memory / ranks. EASE
                           on the summary (its low-rank form, 4μd doubles; three d × d arrays
                           when μ ≥ d) is skipped, with a warning, when it does not fit */
  const double *ease_lambdas; /* NULL = ia_ease_grid */
  int n_ease;
  int recoder;        /* also train Recoder (`train --model recoder`'s defaults) on the summary */
  int recoder_epochs; /* its epochs (0: 200), validated every epochs/50 (rounded up) */
  ia_binary_rule binary_rule; /* the binarized summary's rule */
  double threshold;           /* IA_BINARY_THRESHOLD: S ≥ threshold (0: 0.5) */
  const char *checkpoint;     /* NULL = <out>.ckpt.h5 */
  int checkpoint_every;       /* steps; 0 = only on a signal */
  int resume;
  int log_every;
  const char *command; /* provenance */
  const char
      *metrics_json; /* the caller's JSON output (checked against the other paths), or NULL */
  ia_device device;  /* where Distill-CF's step runs: auto | cpu | cuda */
} ia_distill_opts;

/* The phases of a step, timed: the Gumbel-softmax sample and the inner
 * kernel; the inner fit at λ; the outer loss and the whole backward pass; Adam. */
enum { IA_DISTILL_PHASES = 4 };
extern const char *const ia_distill_phase_names[IA_DISTILL_PHASES];

typedef struct {
  int64_t mu, items, users;
  int64_t train_nnz; /* of the dataset */
  char sha256[65];   /* the dataset's source_sha256 */
  int steps_done;    /* Adam steps taken in all (over resumes) */
  int best_step;
  double best_val;   /* the selection metric at the best step (validation) */
  double best_hr100; /* validation HR@100 at the best step */
  double best_lambda;
  double seconds, steps_per_s;               /* this run's optimization */
  double validation_seconds;                 /* of which validation (on the host) */
  int validations;                           /* how many */
  double step_seconds[IA_DISTILL_PHASES];    /* each phase's mean per step */
  double allreduce_bytes, allgather_bytes;   /* per step, per rank */
  double peak_rss;                           /* bytes, the largest rank */
  int interrupted;                           /* stopped by a signal, checkpoint written */
  char device[96];                           /* rank 0's backend of the step, e.g. "cpu" */
  ia_train_result infae, ease;               /* trained on the summary, real test split */
  ia_train_result binary_infae, binary_ease; /* the same on the binarized summary (/binary) */
  double binary_items;                       /* /binary's mean items per row */
  ia_train_result recoder, binary_recoder;   /* Recoder on each, with o->recoder */
  int has_ease, has_recoder;
} ia_distill_result;

/* Runs the sampler and writes the summary. A SIGTERM or SIGUSR1 on any rank
 * during the optimization writes the checkpoint and returns IA_OK with
 * r->interrupted set. Collective. */
IA_NODISCARD ia_status ia_distill(MPI_Comm comm, const ia_distill_opts *o, ia_distill_result *r);

/* distill --search: the grid of configurations, τ × c_card × γ (the other
 * options as given); the defaults are the reference's grid search. */
typedef struct {
  const double *taus, *c_cards, *gammas;
  int n_taus, n_c_cards, n_gammas;
  int groups; /* configurations run side by side on this many groups of ranks (0: 1) */
} ia_search_grid;
extern const double ia_search_taus[4], ia_search_c_cards[2], ia_search_gammas[3];

/* One Distill-CF run per configuration of g (o's other options), each
 * summary into dir/tau<τ>_card<c>_gamma<γ>.h5 (%g: two configurations of
 * one name are refused before dir is made); a configuration whose file
 * is there from an earlier run is read, not run again, so the same command
 * resumes a search. The summary with the best validation metric (o->select;
 * never test) is copied to o->out; dir/search.csv lists every configuration
 * (τ, c_card, γ, steps, best step, that validation metric, test metrics of
 * its ∞-AE and of ∞-AE on /binary, seconds, the choice). r: the chosen
 * configuration's validation metric (best_val); r->interrupted when a
 * signal stopped a run. With g->groups = G > 1 the ranks split into G
 * groups of consecutive ranks, each taking the next configuration (largest
 * γ first) until none is left; each group holds its users over fewer
 * ranks; progress lines and warnings are group 0's. Collective. */
IA_NODISCARD ia_status ia_distill_search(MPI_Comm comm, const ia_distill_opts *o,
                                         const ia_search_grid *g, const char *dir,
                                         ia_distill_result *r);

/* The sample S (μ×d, malloc'd, on every rank) of a summary file, checked
 * against the dataset's items (same count and ids) and for values outside
 * [0, 1] (NaN and ±Inf among them; the first is named); with binary, the
 * 0/1 rows of its /binary instead (checked as a CSR of μ × d). *depth:
 * the NTK depth the summary was distilled with (/hyper's attribute depth;
 * 1 for files without it). Collective. */
IA_NODISCARD ia_status ia_summary_read_sample(MPI_Comm comm, const char *path, const char *data,
                                              int binary, double **s, int64_t *mu, int64_t *items,
                                              int *depth);
