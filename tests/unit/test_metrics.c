#include <stdlib.h>

#include "../test_util.h"
#include "infae/core/log.h"
#include "infae/core/topk.h"
#include "infae/eval/metrics.h"

static double psp_weight(double n_i, double N) {
  /* docs/protocol.md §3, written out again here rather than shared with metrics.c. */
  double A = 0.55, B = 1.5, C = (log(N) - 1.0) * pow(B + 1.0, A);
  return 1.0 + C * pow(n_i + B, -A);
}

/* One user, 5 items. Scores 0.9 0.1 0.5 0.7 0.3; item 0 is context (masked);
 * held {2, 4}; negatives {1, 3}. Ranking after masking: 3, 2, 4, 1, 0. */
static void one_user_by_hand(void **state) {
  (void)state;
  int64_t counts[5] = {3, 1, 0, 2, 1};
  ia_evaluator *e = NULL;
  assert_int_equal(ia_evaluator_create(counts, 5, 7, &e), IA_OK);
  double s[5] = {0.9, 0.1, 0.5, 0.7, 0.3};
  int32_t ctx[1] = {0}, held[2] = {2, 4}, neg[2] = {1, 3};
  assert_int_equal(ia_evaluator_add(e, s, ctx, 1, NULL, 0, held, 2, neg, 2), IA_OK);
  ia_metrics m;
  assert_int_equal(ia_evaluator_finish(e, MPI_COMM_SELF, &m), IA_OK);
  assert_int_equal(m.users, 1);
  /* Both held items are in the top 10 (ranks 1 and 2, 0-based). */
  IA_ASSERT_CLOSE(m.v[IA_HR10], 100.0, 0, 1e-15, "exact hits / min(|held|, k)");
  double ndcg = (1 / log2(3.0) + 1 / log2(4.0)) / (1 / log2(2.0) + 1 / log2(3.0));
  IA_ASSERT_CLOSE(m.v[IA_NDCG10], 100 * ndcg, 0, 1e-14, "one division of logs");
  double w2 = psp_weight(0, 7), w4 = psp_weight(1, 7);
  double psp = ((w2 + w4) / 2) / (w2 + w4);
  IA_ASSERT_CLOSE(m.v[IA_PSP10], 100 * psp, 0, 1e-14, "PSP = (Σ hit w / m) / Σ top-m w");
  IA_ASSERT_CLOSE(m.v[IA_HR100], 100.0, 0, 1e-15, "k larger than the catalogue");
  /* AUC: positives 0.5, 0.3 against negatives 0.1, 0.7: 2 of 4 pairs. */
  IA_ASSERT_CLOSE(m.v[IA_AUC], 0.5, 0, 1e-15, "counting pairs");
  ia_evaluator_free(&e);
}

/* Two users; the second misses: checks averaging over users and that a user
 * without held items is skipped. */
static void averages_and_skips(void **state) {
  (void)state;
  int64_t counts[12] = {0};
  for (int i = 0; i < 12; i++) counts[i] = i + 1;
  ia_evaluator *e = NULL;
  assert_int_equal(ia_evaluator_create(counts, 12, 78, &e), IA_OK);
  double s[12];
  /* User A: scores descend with the index; held {0}: rank 0, a hit. */
  for (int i = 0; i < 12; i++) s[i] = 12 - i;
  int32_t held_a[1] = {0}, neg_a[1] = {11};
  assert_int_equal(ia_evaluator_add(e, s, NULL, 0, NULL, 0, held_a, 1, neg_a, 1), IA_OK);
  /* User B: held {11} at rank 11: outside the top 10, inside the top 100. */
  for (int i = 0; i < 12; i++) s[i] = 12 - i;
  int32_t held_b[1] = {11}, neg_b[1] = {0};
  assert_int_equal(ia_evaluator_add(e, s, NULL, 0, NULL, 0, held_b, 1, neg_b, 1), IA_OK);
  /* User C: nothing held: ignored. */
  assert_int_equal(ia_evaluator_add(e, s, NULL, 0, NULL, 0, NULL, 0, neg_b, 1), IA_OK);
  ia_metrics m;
  assert_int_equal(ia_evaluator_finish(e, MPI_COMM_SELF, &m), IA_OK);
  assert_int_equal(m.users, 2);
  IA_ASSERT_CLOSE(m.v[IA_HR10], 50.0, 0, 1e-15, "one of two users hits");
  IA_ASSERT_CLOSE(m.v[IA_HR100], 100.0, 0, 1e-15, "both hit within 100");
  IA_ASSERT_CLOSE(m.v[IA_NDCG100], 100 * (1.0 + 1 / log2(13.0)) / 2, 0, 1e-14, "rank 11");
  /* Pooled AUC: pairs A+ 12, A- 1, B+ 1, B- 12. B+ ties A- and comes later in
   * the pooled order, so the stable ascending sort ranks it above A-: of the
   * 4 (positive, negative) pairs, A+ beats A-, A+ ties B- (A+ earlier: below),
   * B+ beats A- by order, B+ loses to B-. 2 of 4. */
  IA_ASSERT_CLOSE(m.v[IA_AUC], 0.5, 0, 1e-15, "ties by pooled order");
  /* reset forgets everything */
  ia_evaluator_reset(e);
  assert_int_equal(ia_evaluator_add(e, s, NULL, 0, NULL, 0, held_a, 1, neg_a, 1), IA_OK);
  assert_int_equal(ia_evaluator_finish(e, MPI_COMM_SELF, &m), IA_OK);
  assert_int_equal(m.users, 1);
  ia_evaluator_free(&e);
}

static void topk_ties_go_to_lower_index(void **state) {
  (void)state;
  double s[8] = {1, 3, 3, 2, 3, 1, -INFINITY, 2};
  int32_t top[8];
  ia_topk(s, 8, 8, top);
  int32_t want[8] = {1, 2, 4, 3, 7, 0, 5, 6};
  for (int i = 0; i < 8; i++) assert_int_equal(top[i], want[i]);
  ia_topk(s, 8, 3, top);
  for (int i = 0; i < 3; i++) assert_int_equal(top[i], want[i]);
}

/* Larger random case: the heap top-k equals a full sort. */
static const double *g_s;
static int by_rank(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  if (g_s[x] != g_s[y]) return g_s[x] > g_s[y] ? -1 : 1;
  return (x > y) - (x < y);
}

static void topk_matches_full_sort(void **state) {
  (void)state;
  enum { N = 5000, K = 100 };
  static double s[N];
  static int32_t all[N], top[K];
  srand(7);
  for (int i = 0; i < N; i++) {
    s[i] = (double)(rand() % 300); /* many ties */
    all[i] = i;
  }
  g_s = s;
  qsort(all, N, sizeof *all, by_rank);
  ia_topk(s, N, K, top);
  for (int i = 0; i < K; i++) assert_int_equal(top[i], all[i]);
}

static void rejects_empty_train(void **state) {
  (void)state;
  int64_t c[2] = {0, 0};
  ia_evaluator *e = NULL;
  assert_int_equal(ia_evaluator_create(c, 2, 0, &e), IA_ERR_ARG);
  ia_error_clear();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(one_user_by_hand),
    cmocka_unit_test(averages_and_skips),
    cmocka_unit_test(topk_ties_go_to_lower_index),
    cmocka_unit_test(topk_matches_full_sort),
    cmocka_unit_test(rejects_empty_train),
};
IA_TEST_MAIN(tests)
