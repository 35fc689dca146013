/* The Gumbel noise of Distill-CF against Random123's scalar Philox4x32-10 and
 * the counter and column layout documented in src/core/gumbel.c, for row
 * lengths that exercise the vector path (groups of four blocks) and the
 * scalar rest. */
#include <math.h>
#include <stdlib.h>

#include "../test_util.h"
#include "gumbel_layout.h"
#include "infae/core/gumbel.h"
#include "infae/core/log.h"

/* Noise of column col of (row, k). */
static float expected(const ia_gumbel *g, int64_t row, int k, int64_t col) {
  return (float)-log(-log(gumbel_uniform(g, row, k, col)));
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
