/* The Philox word behind column col of sample k of row `row` of the Gumbel
 * noise, by the counter and column layout documented in src/core/gumbel.c,
 * from Random123's scalar philox4x32-10: what every path must draw. */
#ifndef IA_TEST_GUMBEL_LAYOUT_H
#define IA_TEST_GUMBEL_LAYOUT_H

#include <Random123/philox.h>
#include <stdint.h>

#include "infae/core/gumbel.h"
#include "infae/core/rng.h"

static inline uint32_t gumbel_word(const ia_gumbel *g, int64_t row, int k, int64_t col) {
  int64_t full = g->d / 16 * 4, j, q; /* block j = the counter's first word */
  if (col < 4 * full) { /* column 16·grp + 4q + l comes from word q of block 4·grp + l */
    j = 4 * (col / 16) + col % 4;
    q = (col % 16) / 4;
  } else {
    j = col / 4;
    q = col % 4;
  }
  philox4x32_ctr_t c = {{(uint32_t)j, (uint32_t)row, ((uint32_t)IA_RNG_GUMBEL << 24) | (uint32_t)k,
                         (uint32_t)g->step}};
  philox4x32_key_t key = {{(uint32_t)g->seed, (uint32_t)(g->seed >> 32)}};
  return philox4x32_R(10, c, key).v[q];
}

/* The uniform in (0, 1) of that word (exact in float). */
static inline double gumbel_uniform(const ia_gumbel *g, int64_t row, int k, int64_t col) {
  return ((double)(gumbel_word(g, row, k, col) >> 9) + 0.5) / 8388608.0;
}

#endif
