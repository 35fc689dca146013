/* Each Philox path of src/core/gumbel.c that this CPU can run (scalar,
 * AVX2 from block 0, AVX-512 then AVX2 for the rest) against Random123's
 * scalar philox4x32-10 and the documented column layout, word for word: a
 * machine runs one of them, and a summary must not depend on which. The
 * file is compiled into this test (its paths are static) with the library's
 * flags. */
#include "../../src/core/gumbel.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "gumbel_layout.h"

static const int64_t lengths[] = {1, 3, 15, 16, 17, 31, 32, 48, 64, 80, 95, 128, 144, 200, 3706};

static float expected(const ia_gumbel *g, int64_t row, int k, int64_t col) {
  return (float)gumbel_uniform(g, row, k, col);
}

enum { SCALAR, AVX2, AVX512 };

static void check_path(int path) {
  for (size_t t = 0; t < sizeof lengths / sizeof *lengths; t++) {
    ia_gumbel g = {
        .seed = 0xfedcba987654321ULL, .step = 3, .samples = 2, .tau = 1, .d = lengths[t]};
    float *u = malloc(sizeof(float) * (size_t)g.d);
    assert_non_null(u);
    for (int k = 0; k < 2; k++) {
      for (int64_t i = 0; i < g.d; i++) u[i] = -1;
      int64_t j = 0;
#ifdef IA_HAVE_AVX2_PATH
      if (path == AVX512) j = uniforms_avx512(&g, 5, k, u);
      if (path != SCALAR) j = uniforms_avx2(&g, 5, k, j, u);
#endif
      uniforms_scalar(&g, 5, k, j, u);
      for (int64_t i = 0; i < g.d; i++)
        if (u[i] != expected(&g, 5, k, i))
          fail_msg("path %d, d %lld, sample %d, column %lld: %.9g, expected %.9g", path,
                   (long long)g.d, k, (long long)i, u[i], expected(&g, 5, k, i));
    }
    free(u);
  }
}

static void scalar_path(void **state) {
  (void)state;
  check_path(SCALAR);
}

static void avx2_path(void **state) {
  (void)state;
#ifdef IA_HAVE_AVX2_PATH
  if (!__builtin_cpu_supports("avx2")) skip();
  check_path(AVX2);
#else
  skip();
#endif
}

static void avx512_path(void **state) {
  (void)state;
#ifdef IA_HAVE_AVX2_PATH
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx2")) skip();
  check_path(AVX512);
#else
  skip();
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(scalar_path),
      cmocka_unit_test(avx2_path),
      cmocka_unit_test(avx512_path),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
