#pragma once
/* The synthetic model behind `generate` (infae/data/generate.h): item
 * popularity and taste clusters, users drawn from them, and the ratings and
 * times of their pairs. Every draw comes from its own Philox stream. Internal. */
#include <stdint.h>

#include "infae/core/rng.h"
#include "infae/core/status.h"
#include "infae/data/generate.h"

typedef struct {
  int64_t users, items;
  int clusters;
  uint64_t seed;
  int all_items; /* mean_items == items: everybody takes the whole catalogue */
  double casual; /* share of one- or two-item users */
  double mu;     /* log-scale location of the lognormal activity */
  double *pop;   /* (items) popularity weight, largest 1 */
  int32_t *home; /* (items) cluster of each item */
  double pop_total;
  double *mass;   /* (clusters) popularity mass of each cluster's items */
  double *g_prob; /* (items) alias table over the whole catalogue */
  int32_t *g_alias;
  int64_t *c_off;   /* (clusters + 1) each cluster's slice of c_item */
  int32_t *c_item;  /* (items) items grouped by cluster */
  double *c_prob;   /* (items) per-cluster alias tables, slice by slice */
  int32_t *c_alias; /* indices local to the slice */
} model;

typedef struct {
  ia_rng rng;
  int64_t n;          /* interactions */
  int c1, c2;         /* clusters (equal when the user has one) */
  double w1;          /* probability that a cluster draw goes to c1 */
  double start, span; /* active in [start, start + span) seconds */
} profile;

typedef struct {
  double key;
  int32_t item;
} keyed;

/* The model of the options o (checked by the caller); on failure m holds
 * nothing. */
IA_NODISCARD ia_status ia_gen_model_build(model *m, const ia_generate_opts *o);
void ia_gen_model_free(model *m);
/* The draws' contracts are at their definitions in generate_model.c. */
void ia_gen_draw_profile(const model *m, int64_t u, profile *p);
void ia_gen_draw_items(const model *m, profile *p, uint32_t *mark, uint32_t stamp, int32_t *dst,
                       keyed *scratch);
void ia_gen_draw_pair(const model *m, const profile *p, int64_t u, int64_t j, int *rating,
                      int64_t *ts);
