#pragma once
/* Distill-CF files: the summary for downstream teams and the checkpoint
 * of a running optimization. Both are written by one rank through a
 * temporary file renamed at the end. Internal. */
#include <stdint.h>

#include "distill/binary.h"
#include "infae/distill/distill.h"
#include "infae/io/dataset.h"

#define IA_SUMMARY_FORMAT        "infae-summary"
#define IA_SUMMARY_VERSION       1
#define IA_CKPT_FORMAT           "infae-distill-checkpoint"
#define IA_CKPT_VERSION          1
/* The revision of Distill-CF's loop that made a summary (/hyper attribute
 * loop_revision): 2 since step 0 validates the initial rows (files without
 * it are older). --search reuses only summaries of this revision. */
#define IA_DISTILL_LOOP_REVISION 2

/* Rows of the validation curve: step, loss, val HR@100, val NDCG@10, λ. */
enum { IA_CURVE_COLS = 5 };

typedef struct {
  int64_t mu, d;
  const double *s;                /* μ×d: the summary */
  const double *z;                /* μ×d: its logits (NULL for random and head) */
  const ia_csr *binary;           /* its binarized rows (distill/binary.h; for writing) */
  ia_binary_rule rule;            /* how they were made (threshold: S ≥ o->threshold) */
  const ia_binary_choice *choice; /* the validated rule's candidates, or NULL */
  char *const *item_ids;          /* d */
  char *const *user_ids;          /* μ: the sampled users (distill: the initial ones) */
  const int64_t *user_index;      /* μ */
  const ia_dataset *meta;         /* the dataset's provenance */
  const double *curve;            /* n_curve × IA_CURVE_COLS */
  int n_curve;
} ia_summary;

IA_NODISCARD ia_status ia_summary_write(const char *path, const ia_distill_opts *o,
                                        const ia_distill_result *r, const ia_summary *s);

typedef struct {
  int64_t next_step; /* the step to run next (steps + 1: the loop is over) */
  double lambda;     /* λ in use */
  double best_val;   /* best validation metric (the run's selection) so far (-1: none) */
  int64_t best_step;
  double best_lambda;
  double *z, *m, *v;       /* μ×d logits and Adam moments */
  double *best_s, *best_z; /* μ×d */
  double *curve;           /* (steps + 1) × IA_CURVE_COLS */
  int n_curve;
} ia_ckpt;

/* Writes / reads a checkpoint (arrays preallocated by the caller). The
 * protocol options and the dataset must match the file's. Not collective. */
IA_NODISCARD ia_status ia_ckpt_write(const char *path, const ia_distill_opts *o, const char *sha256,
                                     int64_t mu, int64_t d, const ia_ckpt *c);
IA_NODISCARD ia_status ia_ckpt_read(const char *path, const ia_distill_opts *o, const char *sha256,
                                    int64_t mu, int64_t d, ia_ckpt *c);
