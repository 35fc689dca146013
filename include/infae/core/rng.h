#pragma once
/* Counter-based random streams (Philox4x32-10 from Random123).
 *
 * A stream is named by (seed, domain, id): the same name gives the same
 * numbers on any rank and in any order, so results do not depend on how work
 * is split over ranks. Domains keep unrelated uses apart. */
#include <stdint.h>

#include "infae/core/status.h"

enum {
  IA_RNG_SPLIT = 1,     /* per-user shuffle of the split (id = user) */
  IA_RNG_NEGATIVES = 2, /* per-user AUC negatives (id = user) */
  IA_RNG_GENERATE = 3,  /* synthetic data generator */
  IA_RNG_SAMPLE = 4,    /* user sampling */
  IA_RNG_GUMBEL = 5,    /* Distill-CF noise (counter layout in gumbel.c) */
  IA_RNG_DISTILL = 6,   /* Distill-CF initial users and batches */
  IA_RNG_RECODER = 7,   /* Recoder: initial weights, epoch order, input dropout */
  IA_RNG_STUDY = 8      /* study: interaction sample, noise flips */
};

typedef struct {
  uint32_t key[2];
  uint32_t ctr[4];
  uint32_t buf[4];
  int used; /* words of buf already handed out (4 = empty) */
} ia_rng;

/* Not collective. */
void ia_rng_init(ia_rng *r, uint64_t seed, uint32_t domain, uint64_t id);
uint32_t ia_rng_u32(ia_rng *r);
uint64_t ia_rng_u64(ia_rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double ia_rng_uniform(ia_rng *r);
/* Uniform integer in [0, n), unbiased; n > 0. */
uint64_t ia_rng_below(ia_rng *r, uint64_t n);

/* k of the n indices [0, n), drawn by the stream (seed, domain, id) with a
 * partial Fisher–Yates shuffle, written to out ascending: the same on every
 * rank. Not collective. */
IA_NODISCARD ia_status ia_rng_choose(uint64_t seed, uint32_t domain, uint64_t id, int64_t n,
                                     int64_t k, int64_t *out);
