#include "infae/core/rng.h"

#include <Random123/philox.h>
#include <stdlib.h>

void ia_rng_init(ia_rng *r, uint64_t seed, uint32_t domain, uint64_t id) {
  r->key[0] = (uint32_t)seed;
  r->key[1] = (uint32_t)(seed >> 32);
  r->ctr[0] = 0;            /* block counter */
  r->ctr[1] = (uint32_t)id; /* stream id */
  r->ctr[2] = (uint32_t)(id >> 32);
  r->ctr[3] = domain;
  r->used = 4;
}

static void refill(ia_rng *r) {
  philox4x32_ctr_t c = {{r->ctr[0], r->ctr[1], r->ctr[2], r->ctr[3]}};
  philox4x32_key_t k = {{r->key[0], r->key[1]}};
  philox4x32_ctr_t out = philox4x32(c, k);
  for (int i = 0; i < 4; i++) r->buf[i] = out.v[i];
  r->ctr[0]++;
  r->used = 0;
}

uint32_t ia_rng_u32(ia_rng *r) {
  if (r->used == 4) refill(r);
  return r->buf[r->used++];
}

uint64_t ia_rng_u64(ia_rng *r) {
  uint64_t hi = ia_rng_u32(r);
  return (hi << 32) | ia_rng_u32(r);
}

double ia_rng_uniform(ia_rng *r) { return (double)(ia_rng_u64(r) >> 11) * 0x1.0p-53; }

uint64_t ia_rng_below(ia_rng *r, uint64_t n) {
  /* Rejection on the top of the range keeps every residue equally likely. */
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t v;
  do {
    v = ia_rng_u64(r);
  } while (v >= limit);
  return v % n;
}

ia_status ia_rng_choose(uint64_t seed, uint32_t domain, uint64_t id, int64_t n, int64_t k,
                        int64_t *out) {
  int64_t *perm = NULL;
  uint8_t *chosen = NULL;
  ia_status st = IA_ALLOC(perm, n, "index choice");
  if (st == IA_OK) st = IA_ZALLOC(chosen, n, "index choice");
  if (st == IA_OK) {
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    ia_rng r;
    ia_rng_init(&r, seed, domain, id);
    for (int64_t i = 0; i < k; i++) {
      int64_t j = i + (int64_t)ia_rng_below(&r, (uint64_t)(n - i)), t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    for (int64_t i = 0; i < k; i++) chosen[perm[i]] = 1;
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++)
      if (chosen[i]) out[c++] = i;
  }
  free(perm);
  free(chosen);
  return st;
}
