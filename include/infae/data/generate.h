#pragma once
/* Synthetic implicit-feedback data with the shape of real rating logs.
 *
 * Item popularity is Zipf-like (the popular ids are scattered, not 1, 2, 3...),
 * user activity is long-tailed (lognormal plus a few one- or two-item users),
 * and each user leans towards one or two latent taste clusters that prefer
 * their own items, so an item-item model beats plain popularity on it.
 * Every user's items are distinct. The file is a pure function of the
 * options: every random number comes from a Philox stream named by the seed
 * and the user (or the (user, item) pair), never from iteration order. */
#include <stdint.h>

#include "infae/core/status.h"

typedef struct {
  int64_t users;     /* rows to generate (> 0), ids 1..users */
  int64_t items;     /* catalogue size (> 0), ids 1..items */
  double mean_items; /* mean interactions per user (>= 1, <= items) */
  uint64_t seed;
  int clusters;               /* latent taste clusters (1..items; default 20) */
  double popularity_exponent; /* Zipf-like exponent of item popularity (>= 0; default 1.0) */
  /* "movielens" (u::i::r::ts lines), "tsv" (u\ti\tr\tts), "csv" (u,i,r,ts, no
   * header) or "netflix" (Netflix Prize combined_data layout: a "movieid:"
   * line, then "user,rating,YYYY-MM-DD" lines for all of that movie's
   * interactions; movies nobody picked get no header). */
  const char *format;
  const char *output; /* path of the file to write */
} ia_generate_opts;

/* Defaults: clusters 20, exponent 1.0, format "movielens", seed 42; users,
 * items, mean_items and output are left zero / NULL for the caller. */
void ia_generate_opts_default(ia_generate_opts *o);

/* Writes the file through "<output>.tmp-<pid>", renamed on success and
 * removed on failure. Returns in *n_written the number of interactions
 * (lines other than movie headers). Bad options give IA_ERR_ARG before any
 * file is touched. Logs progress with ia_log_info. Not collective. */
IA_NODISCARD ia_status ia_generate(const ia_generate_opts *o, int64_t *n_written);
