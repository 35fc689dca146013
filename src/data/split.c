#include "infae/data/split.h"

#include <stdlib.h>
#include <string.h>

#include "infae/core/rng.h"

void ia_split_sizes(int64_t n, int64_t *n_train, int64_t *n_val, int64_t *n_test) {
  /* a = floor(0.8 n), b = floor(0.9 n) in exact integer arithmetic; position
   * 0 of the shuffle moves from train to test (docs/protocol.md §1). */
  int64_t a = (8 * n) / 10, b = (9 * n) / 10;
  if (a >= 1) {
    *n_train = a - 1;
    *n_val = b - a;
    *n_test = n - b + 1;
  } else { /* n = 1: the single item is the forced test item */
    *n_train = 0;
    *n_val = 0;
    *n_test = n;
  }
}

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

/* Draws user u's min(n_neg, avail) negatives into neg (ascending) among the d
 * items not stamped `mark` (his train and test items, `excluded` of them),
 * from the stream (seed, IA_RNG_NEGATIVES, u); the drawn items may be
 * stamped `mark` too. pool holds d items. Returns the number drawn. */
static int64_t draw_negatives(int64_t u, int64_t d, uint64_t seed, int n_neg, uint32_t *stamp,
                              uint32_t mark, int64_t excluded, int32_t *pool, int32_t *neg) {
  int64_t avail = d - excluded, want = avail < n_neg ? avail : n_neg;
  ia_rng rn;
  ia_rng_init(&rn, seed, IA_RNG_NEGATIVES, (uint64_t)u);
  if (2 * want <= avail && avail * 2 >= d) {
    /* Rejection: at least half the catalogue qualifies, so draws are cheap. */
    uint32_t chosen = (uint32_t)UINT32_MAX - mark; /* distinct from every user stamp */
    int64_t got = 0;
    while (got < want) {
      int32_t i = (int32_t)ia_rng_below(&rn, (uint64_t)d);
      if (stamp[i] == mark || stamp[i] == chosen) continue;
      stamp[i] = chosen;
      neg[got++] = i;
    }
    for (int64_t k = 0; k < got; k++) stamp[neg[k]] = mark;
  } else {
    /* Heavy user: partial Fisher-Yates over the explicit pool. */
    int64_t m = 0;
    for (int32_t i = 0; i < d; i++)
      if (stamp[i] != mark) pool[m++] = i;
    for (int64_t k = 0; k < want; k++) {
      int64_t j = k + (int64_t)ia_rng_below(&rn, (uint64_t)(m - k));
      int32_t t = pool[k];
      pool[k] = pool[j];
      pool[j] = t;
      neg[k] = pool[k];
    }
  }
  qsort(neg, (size_t)want, sizeof *neg, cmp_i32);
  return want;
}

ia_status ia_split_users(const ia_csr *all, uint64_t seed, int n_neg, ia_csr *train, ia_csr *val,
                         ia_csr *test, ia_csr *negatives) {
  ia_status st = IA_OK;
  int64_t n_users = all->n_rows, d = all->n_cols;
  int64_t nnz_tr = 0, nnz_va = 0, nnz_te = 0, nnz_neg = 0, max_row = 0;
  int32_t *perm = NULL, *pool = NULL;
  uint32_t *stamp = NULL;
  memset(train, 0, sizeof *train);
  memset(val, 0, sizeof *val);
  memset(test, 0, sizeof *test);
  memset(negatives, 0, sizeof *negatives);
  for (int64_t u = 0; u < n_users; u++) {
    int64_t n = all->indptr[u + 1] - all->indptr[u], a, b, c;
    ia_split_sizes(n, &a, &b, &c);
    nnz_tr += a;
    nnz_va += b;
    nnz_te += c;
    int64_t avail = d - a - c;
    nnz_neg += avail < n_neg ? avail : n_neg;
    if (n > max_row) max_row = n;
  }
  IA_CALL_GOTO(ia_csr_alloc(train, n_users, d, nnz_tr));
  IA_CALL_GOTO(ia_csr_alloc(val, n_users, d, nnz_va));
  IA_CALL_GOTO(ia_csr_alloc(test, n_users, d, nnz_te));
  IA_CALL_GOTO(ia_csr_alloc(negatives, n_users, d, nnz_neg));
  IA_CALL_GOTO(IA_ALLOC(perm, max_row, "split permutation"));
  IA_CALL_GOTO(IA_ALLOC(pool, d, "negative pool"));
  IA_CALL_GOTO(IA_ZALLOC(stamp, d, "item marks"));

  int64_t ptr_tr = 0, ptr_va = 0, ptr_te = 0, ptr_neg = 0;
  for (int64_t u = 0; u < n_users; u++) {
    const int32_t *items = all->indices + all->indptr[u];
    int64_t n = all->indptr[u + 1] - all->indptr[u], a8 = (8 * n) / 10, b9 = (9 * n) / 10;
    ia_rng r;
    ia_rng_init(&r, seed, IA_RNG_SPLIT, (uint64_t)u);
    for (int64_t k = 0; k < n; k++) perm[k] = items[k];
    for (int64_t k = n - 1; k > 0; k--) { /* Fisher-Yates */
      int64_t j = (int64_t)ia_rng_below(&r, (uint64_t)k + 1);
      int32_t t = perm[k];
      perm[k] = perm[j];
      perm[j] = t;
    }
    /* Stamps are u+1 so that the array never needs clearing between users. */
    uint32_t mark = (uint32_t)(u + 1);
    test->indices[ptr_te++] = perm[0];
    stamp[perm[0]] = mark;
    for (int64_t k = 1; k < n; k++) {
      if (k < a8) {
        train->indices[ptr_tr++] = perm[k];
        stamp[perm[k]] = mark;
      } else if (k < b9) {
        val->indices[ptr_va++] = perm[k];
      } else {
        test->indices[ptr_te++] = perm[k];
        stamp[perm[k]] = mark;
      }
    }
    train->indptr[u + 1] = ptr_tr;
    val->indptr[u + 1] = ptr_va;
    test->indptr[u + 1] = ptr_te;

    int64_t excluded = (ptr_tr - train->indptr[u]) + (ptr_te - test->indptr[u]);
    ptr_neg += draw_negatives(u, d, seed, n_neg, stamp, mark, excluded, pool,
                              negatives->indices + ptr_neg);
    negatives->indptr[u + 1] = ptr_neg;
  }
  ia_csr_sort_rows(train);
  ia_csr_sort_rows(val);
  ia_csr_sort_rows(test);
done:
  free(perm);
  free(pool);
  free(stamp);
  if (st != IA_OK) {
    ia_csr_free(train);
    ia_csr_free(val);
    ia_csr_free(test);
    ia_csr_free(negatives);
  }
  return st;
}

ia_status ia_split_negatives(const ia_csr *train, const ia_csr *test, uint64_t seed, int n_neg,
                             ia_csr *negatives) {
  ia_status st = IA_OK;
  int64_t n_users = train->n_rows, d = train->n_cols, nnz = 0;
  int32_t *pool = NULL;
  uint32_t *stamp = NULL, *excluded = NULL;
  memset(negatives, 0, sizeof *negatives);
  IA_CHECK(test->n_rows == n_users && test->n_cols == d, IA_ERR_INTERNAL,
           "train and test differ in shape");
  IA_CALL_GOTO(IA_ALLOC(pool, d, "negative pool"));
  IA_CALL_GOTO(IA_ZALLOC(stamp, d, "item marks"));
  IA_CALL_GOTO(IA_ALLOC(excluded, n_users, "excluded counts"));
  /* Imported splits may list a pair in both train and test: count it once. */
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1) {
      IA_CALL_GOTO(ia_csr_alloc(negatives, n_users, d, nnz));
      memset(stamp, 0, sizeof *stamp * (size_t)d);
    }
    for (int64_t u = 0; u < n_users; u++) {
      uint32_t mark = (uint32_t)(u + 1), n_ex = 0;
      const ia_csr *m[2] = {train, test};
      for (int s = 0; s < 2; s++)
        for (int64_t e = m[s]->indptr[u]; e < m[s]->indptr[u + 1]; e++)
          if (stamp[m[s]->indices[e]] != mark) {
            stamp[m[s]->indices[e]] = mark;
            n_ex++;
          }
      if (pass == 0) {
        excluded[u] = n_ex;
        int64_t avail = d - n_ex;
        nnz += avail < n_neg ? avail : n_neg;
        continue;
      }
      int64_t at = negatives->indptr[u];
      negatives->indptr[u + 1] = at + draw_negatives(u, d, seed, n_neg, stamp, mark, excluded[u],
                                                     pool, negatives->indices + at);
    }
  }
done:
  free(pool);
  free(stamp);
  free(excluded);
  if (st != IA_OK) ia_csr_free(negatives);
  return st;
}
