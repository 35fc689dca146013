/* Multi-sample Gumbel-softmax rows (see include/infae/core/gumbel.h).
 *
 * This file is built with -O3 -ffast-math so that the logf/exp loops use the
 * vector math library; its inputs are finite by construction. Philox runs
 * four counters per AVX2 vector, or eight per AVX-512 vector, where the CPU
 * has them (the same integers as Random123's scalar philox4x32, which is the
 * fallback; tests/unit/test_gumbel_paths.c checks each path). The logf loop
 * has an AVX-512 clone (libmvec's AVX2 and AVX-512 logf agree on every input
 * it gets); the softmax keeps its AVX2 clone on AVX-512 CPUs: a wider vector
 * would sum in another order, and summaries made on AVX2 and AVX-512 machines
 * would differ in their last bits. */
#include "infae/core/gumbel.h"

#include <Random123/philox.h>
#include <math.h>
#include <string.h>

#include "infae/core/rng.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define IA_HAVE_AVX2_PATH 1
#endif

static inline float uniform23(uint32_t w) { return ((float)(w >> 9) + 0.5f) * 0x1.0p-23f; }

/* Counter of block j (4 columns) of (row, k) at this step. */
static inline philox4x32_ctr_t counter(const ia_gumbel *g, int64_t row, int k, uint32_t j) {
  philox4x32_ctr_t c = {
      {j, (uint32_t)row, ((uint32_t)IA_RNG_GUMBEL << 24) | (uint32_t)k, (uint32_t)g->step}};
  return c;
}

/* Column of word q of block j: blocks come in groups of four covering 16
 * columns, word q of block 4g + l → column 16g + 4q + l (what the AVX2 path
 * stores without a transpose); the blocks after the last full group map
 * word q of block j → column 4j + q. */
static void uniforms_scalar(const ia_gumbel *g, int64_t row, int k, int64_t j0, float *u) {
  philox4x32_key_t key = {{(uint32_t)g->seed, (uint32_t)(g->seed >> 32)}};
  int64_t d = g->d, full = d / 16 * 4;
  for (int64_t j = j0; 4 * j < d; j++) {
    philox4x32_ctr_t o = philox4x32_R(10, counter(g, row, k, (uint32_t)j), key);
    for (int q = 0; q < 4; q++) {
      int64_t col = j < full ? 16 * (j / 4) + 4 * q + j % 4 : 4 * j + q;
      if (col < d) u[col] = uniform23(o.v[q]);
    }
  }
}

#ifdef IA_HAVE_AVX2_PATH
/* Philox on ng groups of four blocks at once (ng = 1 or 2; two independent
 * chains hide the multiplier's latency): lane l of group h holds block
 * j + 4h + l in the low 32 bits of a 64-bit slot, so _mm256_mul_epu32 gives
 * the full 32×32→64 products. */
__attribute__((target("avx2"), always_inline)) static inline void philox_groups(
    const ia_gumbel *g, const philox4x32_ctr_t *c, int64_t j, int ng, float *u) {
  const __m256i m0 = _mm256_set1_epi64x(PHILOX_M4x32_0), m1 = _mm256_set1_epi64x(PHILOX_M4x32_1);
  const __m256i low = _mm256_set1_epi64x(0xffffffff),
                pack = _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0);
  const __m128 half = _mm_set1_ps(0.5f), scale = _mm_set1_ps(0x1.0p-23f);
  __m256i x[2][4];
  for (int h = 0; h < ng; h++) {
    int64_t b = j + 4 * h;
    x[h][0] = _mm256_setr_epi64x(b, b + 1, b + 2, b + 3);
    x[h][1] = _mm256_set1_epi64x(c->v[1]);
    x[h][2] = _mm256_set1_epi64x(c->v[2]);
    x[h][3] = _mm256_set1_epi64x(c->v[3]);
  }
  uint32_t k0 = (uint32_t)g->seed, k1 = (uint32_t)(g->seed >> 32);
  for (int r = 0; r < 10; r++) {
    __m256i kk0 = _mm256_set1_epi64x(k0), kk1 = _mm256_set1_epi64x(k1);
    for (int h = 0; h < ng; h++) {
      __m256i p0 = _mm256_mul_epu32(x[h][0], m0), p1 = _mm256_mul_epu32(x[h][2], m1);
      __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1, 32), x[h][1]), kk0);
      __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0, 32), x[h][3]), kk1);
      x[h][1] = _mm256_and_si256(p1, low);
      x[h][3] = _mm256_and_si256(p0, low);
      x[h][0] = n0;
      x[h][2] = n2;
    }
    k0 += PHILOX_W32_0;
    k1 += PHILOX_W32_1;
  }
  for (int h = 0; h < ng; h++)
    for (int q = 0; q < 4; q++) { /* the four lanes' word q → columns 16g + 4q + (0..3) */
      __m256i w = _mm256_permutevar8x32_epi32(_mm256_srli_epi64(x[h][q], 9), pack);
      __m128 f = _mm_cvtepi32_ps(_mm256_castsi256_si128(w));
      _mm_storeu_ps(u + 4 * (j + 4 * h) + 4 * q, _mm_mul_ps(_mm_add_ps(f, half), scale));
    }
}

/* Philox on ng vectors of eight blocks (ng = 1 or 2): the same words as
 * philox_groups, lanes 0–3 of vector h being group j/4 + 2h and lanes 4–7
 * the group after it. */
__attribute__((target("avx512f"), always_inline)) static inline void philox_groups512(
    const ia_gumbel *g, const philox4x32_ctr_t *c, int64_t j, int ng, float *u) {
  const __m512i m0 = _mm512_set1_epi64(PHILOX_M4x32_0), m1 = _mm512_set1_epi64(PHILOX_M4x32_1);
  const __m512i low = _mm512_set1_epi64(0xffffffff);
  const __m256 half = _mm256_set1_ps(0.5f), scale = _mm256_set1_ps(0x1.0p-23f);
  __m512i x[2][4];
  for (int h = 0; h < ng; h++) {
    int64_t b = j + 8 * h;
    x[h][0] = _mm512_setr_epi64(b, b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7);
    x[h][1] = _mm512_set1_epi64(c->v[1]);
    x[h][2] = _mm512_set1_epi64(c->v[2]);
    x[h][3] = _mm512_set1_epi64(c->v[3]);
  }
  uint32_t k0 = (uint32_t)g->seed, k1 = (uint32_t)(g->seed >> 32);
  for (int r = 0; r < 10; r++) {
    __m512i kk0 = _mm512_set1_epi64(k0), kk1 = _mm512_set1_epi64(k1);
    for (int h = 0; h < ng; h++) {
      __m512i p0 = _mm512_mul_epu32(x[h][0], m0), p1 = _mm512_mul_epu32(x[h][2], m1);
      __m512i n0 = _mm512_xor_si512(_mm512_xor_si512(_mm512_srli_epi64(p1, 32), x[h][1]), kk0);
      __m512i n2 = _mm512_xor_si512(_mm512_xor_si512(_mm512_srli_epi64(p0, 32), x[h][3]), kk1);
      x[h][1] = _mm512_and_si512(p1, low);
      x[h][3] = _mm512_and_si512(p0, low);
      x[h][0] = n0;
      x[h][2] = n2;
    }
    k0 += PHILOX_W32_0;
    k1 += PHILOX_W32_1;
  }
  for (int h = 0; h < ng; h++)
    for (int q = 0; q < 4; q++) {
      __m256i w = _mm512_cvtepi64_epi32(_mm512_srli_epi64(x[h][q], 9));
      __m256 f = _mm256_mul_ps(_mm256_add_ps(_mm256_cvtepi32_ps(w), half), scale);
      _mm_storeu_ps(u + 4 * (j + 8 * h) + 4 * q, _mm256_castps256_ps128(f));
      _mm_storeu_ps(u + 4 * (j + 8 * h + 4) + 4 * q, _mm256_extractf128_ps(f, 1));
    }
}

/* The full groups of four blocks, sixteen blocks at a time, then eight if
 * they are there; returns the first block not done (uniforms_avx2 goes on). */
__attribute__((target("avx512f"))) static int64_t uniforms_avx512(const ia_gumbel *g, int64_t row,
                                                                  int k, float *u) {
  philox4x32_ctr_t c = counter(g, row, k, 0);
  int64_t full = g->d / 16 * 4, j = 0;
  for (; j + 16 <= full; j += 16) philox_groups512(g, &c, j, 2, u);
  if (j + 8 <= full) {
    philox_groups512(g, &c, j, 1, u);
    j += 8;
  }
  return j;
}

/* The full groups of four blocks from block j, eight blocks at a time, then
 * four; returns the first block not done (uniforms_scalar goes on). */
__attribute__((target("avx2"))) static int64_t uniforms_avx2(const ia_gumbel *g, int64_t row, int k,
                                                             int64_t j, float *u) {
  philox4x32_ctr_t c = counter(g, row, k, 0);
  int64_t full = g->d / 16 * 4;
  for (; j + 8 <= full; j += 8) philox_groups(g, &c, j, 2, u);
  if (j < full) {
    philox_groups(g, &c, j, 1, u);
    j += 4;
  }
  return j;
}
#endif

__attribute__((target_clones("avx512f", "avx2", "default"))) static void gumbel_of_uniform(
    int64_t d, float *x) {
  for (int64_t i = 0; i < d; i++) x[i] = -logf(-logf(x[i]));
}

void ia_gumbel_noise(const ia_gumbel *g, int64_t row, int k, float *noise) {
  int64_t j0 = 0;
#ifdef IA_HAVE_AVX2_PATH
  if (__builtin_cpu_supports("avx512f")) j0 = uniforms_avx512(g, row, k, noise);
  if (__builtin_cpu_supports("avx2")) j0 = uniforms_avx2(g, row, k, j0, noise);
#endif
  uniforms_scalar(g, row, k, j0, noise);
  gumbel_of_uniform(g->d, noise);
}

/* p = softmax((z + noise)/τ) into y (d doubles), from the float noise. */
__attribute__((target_clones("avx2", "default"))) static void softmax_row(int64_t d, double tau,
                                                                          const double *z,
                                                                          const float *noise,
                                                                          double *y) {
  double it = 1.0 / tau, m = (z[0] + (double)noise[0]) * it, s = 0;
  for (int64_t i = 0; i < d; i++) {
    y[i] = (z[i] + (double)noise[i]) * it;
    m = y[i] > m ? y[i] : m;
  }
  for (int64_t i = 0; i < d; i++) {
    y[i] = exp(y[i] - m);
    s += y[i];
  }
  double inv = 1.0 / s;
  for (int64_t i = 0; i < d; i++) y[i] *= inv;
}

/* Scratch: y (d doubles), then the noise (d floats, in the d + 8 doubles after it). */
static void sample(const ia_gumbel *g, int64_t row, int k, const double *z, double *scratch) {
  float *noise = (float *)(scratch + g->d);
  ia_gumbel_noise(g, row, k, noise);
  softmax_row(g->d, g->tau, z, noise, scratch);
}

void ia_gumbel_row(const ia_gumbel *g, int64_t row, const double *z, double *a, double *scratch) {
  int64_t d = g->d;
  memset(a, 0, sizeof(double) * (size_t)d);
  for (int k = 0; k < g->samples; k++) {
    sample(g, row, k, z, scratch);
    for (int64_t i = 0; i < d; i++) a[i] += scratch[i];
  }
}

void ia_gumbel_row_vjp(const ia_gumbel *g, int64_t row, const double *z, const double *da,
                       double *dz, double *scratch) {
  int64_t d = g->d;
  double it = 1.0 / g->tau;
  memset(dz, 0, sizeof(double) * (size_t)d);
  for (int k = 0; k < g->samples; k++) {
    sample(g, row, k, z, scratch);
    double dot = 0;
    for (int64_t i = 0; i < d; i++) dot += scratch[i] * da[i];
    for (int64_t i = 0; i < d; i++) dz[i] += it * scratch[i] * (da[i] - dot);
  }
}
