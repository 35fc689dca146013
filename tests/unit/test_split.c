#include <stdlib.h>
#include <string.h>

#include "../test_util.h"
#include "infae/core/csr.h"
#include "infae/core/log.h"
#include "infae/data/split.h"

/* Users with 1..60 items over a catalogue of 80. */
static void make_users(ia_csr *all, int n_users, int d) {
  int64_t nnz = 0;
  for (int u = 0; u < n_users; u++) nnz += 1 + u % 60;
  assert_int_equal(ia_csr_alloc(all, n_users, d, nnz), IA_OK);
  int64_t p = 0;
  for (int u = 0; u < n_users; u++) {
    int n = 1 + u % 60;
    for (int k = 0; k < n; k++) all->indices[p++] = (k * 7 + u) % d; /* distinct: 7 ⟂ 80 */
    all->indptr[u + 1] = p;
  }
  ia_csr_sort_rows(all);
}

static void sizes_follow_the_protocol(void **state) {
  (void)state;
  int64_t a, b, c;
  ia_split_sizes(3, &a, &b, &c); /* a=2, b=2 */
  assert_true(a == 1 && b == 0 && c == 2);
  ia_split_sizes(10, &a, &b, &c); /* a=8, b=9 */
  assert_true(a == 7 && b == 1 && c == 2);
  ia_split_sizes(20, &a, &b, &c); /* a=16, b=18 */
  assert_true(a == 15 && b == 2 && c == 3);
  ia_split_sizes(1, &a, &b, &c);
  assert_true(a == 0 && b == 0 && c == 1);
}

static void partition_and_negatives(void **state) {
  (void)state;
  enum { U = 200, D = 80 };
  ia_csr all, tr, va, te, ng;
  make_users(&all, U, D);
  assert_int_equal(ia_split_users(&all, 42, 50, &tr, &va, &te, &ng), IA_OK);
  for (int u = 0; u < U; u++) {
    int64_t n = all.indptr[u + 1] - all.indptr[u], a, b, c;
    ia_split_sizes(n, &a, &b, &c);
    assert_int_equal(tr.indptr[u + 1] - tr.indptr[u], a);
    assert_int_equal(va.indptr[u + 1] - va.indptr[u], b);
    assert_int_equal(te.indptr[u + 1] - te.indptr[u], c);
    /* The parts are disjoint and cover the user's items. */
    for (int64_t e = all.indptr[u]; e < all.indptr[u + 1]; e++) {
      int32_t i = all.indices[e];
      int in = ia_csr_has(&tr, u, i) + ia_csr_has(&va, u, i) + ia_csr_has(&te, u, i);
      assert_int_equal(in, 1);
    }
    /* Negatives: distinct, in neither train nor test, all available when few. */
    int64_t nn = ng.indptr[u + 1] - ng.indptr[u], avail = D - a - c;
    assert_int_equal(nn, avail < 50 ? avail : 50);
    for (int64_t e = ng.indptr[u]; e < ng.indptr[u + 1]; e++) {
      int32_t i = ng.indices[e];
      assert_false(ia_csr_has(&tr, u, i) || ia_csr_has(&te, u, i));
      if (e > ng.indptr[u]) assert_true(ng.indices[e - 1] < i);
    }
  }
  ia_csr tr2, va2, te2, ng2;
  assert_int_equal(ia_split_users(&all, 42, 50, &tr2, &va2, &te2, &ng2), IA_OK);
  assert_memory_equal(tr.indices, tr2.indices, sizeof(int32_t) * (size_t)ia_csr_nnz(&tr));
  assert_memory_equal(ng.indices, ng2.indices, sizeof(int32_t) * (size_t)ia_csr_nnz(&ng));
  ia_csr tr3, va3, te3, ng3;
  assert_int_equal(ia_split_users(&all, 43, 50, &tr3, &va3, &te3, &ng3), IA_OK);
  assert_true(memcmp(tr.indices, tr3.indices, sizeof(int32_t) * (size_t)ia_csr_nnz(&tr)) != 0);
  ia_csr *m[] = {&all, &tr, &va, &te, &ng, &tr2, &va2, &te2, &ng2, &tr3, &va3, &te3, &ng3};
  for (size_t k = 0; k < sizeof m / sizeof *m; k++) ia_csr_free(m[k]);
}

/* Each position of a 10-item user lands in test about 2/10 of the time over
 * many seeds: the shuffle is uniform enough to be the protocol's. */
static void shuffle_is_uniform(void **state) {
  (void)state;
  ia_csr all;
  assert_int_equal(ia_csr_alloc(&all, 1, 10, 10), IA_OK);
  for (int k = 0; k < 10; k++) all.indices[k] = k;
  all.indptr[1] = 10;
  int in_test[10] = {0};
  enum { SEEDS = 4000 };
  for (int s = 0; s < SEEDS; s++) {
    ia_csr tr, va, te, ng;
    assert_int_equal(ia_split_users(&all, (uint64_t)s, 0, &tr, &va, &te, &ng), IA_OK);
    for (int64_t e = 0; e < ia_csr_nnz(&te); e++) in_test[te.indices[e]]++;
    ia_csr_free(&tr);
    ia_csr_free(&va);
    ia_csr_free(&te);
    ia_csr_free(&ng);
  }
  /* Binomial(4000, 0.2): sd 25; 5 sd = 125. */
  for (int k = 0; k < 10; k++) assert_in_range(in_test[k], 800 - 125, 800 + 125);
  ia_csr_free(&all);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(sizes_follow_the_protocol),
    cmocka_unit_test(partition_and_negatives),
    cmocka_unit_test(shuffle_is_uniform),
};
IA_TEST_MAIN(tests)
