#pragma once
/* `infae_mpi prepare`: raw interaction files → a prepared dataset. */
#include <stdint.h>

#include "infae/core/status.h"
#include "infae/io/dataset.h"

typedef struct {
  const char *format;        /* movielens | tsv | csv | netflix | split-tsv | adjacency */
  const char *const *inputs; /* files (netflix: also directories) */
  int n_inputs;
  const char *negatives;  /* split-tsv: `user item` file of AUC negatives */
  const char *sep;        /* tsv/csv field separator: "tab", "space", "," ...; NULL = default */
  int user_col, item_col; /* 1-based columns (tsv/csv) */
  int header;             /* skip the first line of each file */
  int ragged;             /* tsv/csv: accept lines whose field count differs from the first's */
  int no_count;           /* adjacency: no leading count before the item ids */
  int user_first;         /* adjacency: the first field is the user id (else the line number) */
  uint64_t seed;
  int min_user_interactions; /* users with fewer are dropped (3) */
  int n_negatives;           /* AUC negatives per user (50) */
  const char *command;       /* recorded as provenance */
} ia_prepare_opts;

/* Parses the inputs, applies docs/protocol.md §1 (implicit, dedup, drop small users,
 * dense re-index sorted by original id, split, negatives) or imports a split,
 * and fills a whole dataset. Not collective. */
IA_NODISCARD ia_status ia_prepare(const ia_prepare_opts *o, ia_dataset *out);
