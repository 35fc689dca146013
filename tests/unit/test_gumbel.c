/* The Gumbel noise of Distill-CF against Random123's scalar Philox4x32-10 and
 * the counter and column layout documented in src/core/gumbel.c, for row
 * lengths that exercise the vector path (groups of four blocks) and the
 * scalar rest. */
#include <Random123/philox.h>
#include <math.h>
#include <stdlib.h>

#include "../test_util.h"
#include "infae/core/gumbel.h"
#include "infae/core/log.h"
#include "infae/core/rng.h"

/* Noise of column col of (row, k): block j = the counter's first word. */
static float expected(const ia_gumbel *g, int64_t row, int k, int64_t col) {
  int64_t full = g->d / 16 * 4, j, q;
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
  uint32_t w = philox4x32_R(10, c, key).v[q];
  double u = ((double)(w >> 9) + 0.5) / 8388608.0;
  return (float)-log(-log(u));
}

static void noise_matches_scalar_philox(void **state) {
  (void)state;
  const int64_t lengths[] = {1, 3, 15, 16, 17, 31, 48, 64, 80, 95, 128, 3706};
  for (size_t t = 0; t < sizeof lengths / sizeof *lengths; t++) {
    ia_gumbel g = {.seed = 0x123456789abcULL, .step = 7, .samples = 3, .tau = 1, .d = lengths[t]};
    float *noise = malloc(sizeof(float) * (size_t)g.d);
    assert_non_null(noise);
    for (int k = 0; k < 3; k++) {
      ia_gumbel_noise(&g, 11, k, noise);
      for (int64_t i = 0; i < g.d; i++) /* logf against log: a few ulp */
        IA_ASSERT_CLOSE(noise[i], expected(&g, 11, k, i), 1e-6, 1e-5, "Gumbel noise");
    }
    free(noise);
  }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(noise_matches_scalar_philox),
};
IA_TEST_MAIN(tests)
