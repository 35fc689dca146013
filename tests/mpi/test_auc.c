/* The distributed pooled AUC (infae/eval/auc.h) against its definition,
 * counted pair by pair on the whole pooled list on every rank: for each
 * positive, the negatives with a lower score or an equal score earlier in
 * the list. Scores drawn from a few values (many ties, within and across
 * ranks), pairs spread evenly, unevenly, all on the last rank, and none on
 * some ranks; every score equal; no negatives; no pairs at all. The result
 * must be exactly the definition's, on every rank count. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infae/core/rng.h"
#include "infae/eval/auc.h"

#include "check.h"

static double uniform(uint64_t stream, uint64_t i) {
  ia_rng r;
  ia_rng_init(&r, 23, stream, i);
  return ia_rng_uniform(&r);
}

/* The definition, on the whole list. */
static double direct(const double *s, const uint8_t *l, int64_t n, int64_t *pos, int64_t *neg) {
  int64_t num = 0;
  *pos = *neg = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!l[i]) {
      ++*neg;
      continue;
    }
    ++*pos;
    for (int64_t j = 0; j < n; j++) num += !l[j] && (s[j] < s[i] || (s[j] == s[i] && j < i));
  }
  return *pos == 0 || *neg == 0 ? NAN : (double)num / ((double)*pos * (double)*neg);
}

/* n pairs; values: how many distinct scores (0: all equal); share: rank r
 * holds the pairs [first(r), first(r + 1)) of weights w(r). */
static void run(const char *name, int64_t n, int values, double positive_share, int layout) {
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  double *s = malloc(sizeof(double) * (size_t)(n + 1));
  uint8_t *l = malloc((size_t)(n + 1));
  for (int64_t i = 0; i < n; i++) {
    s[i] = values ? floor(values * uniform(1, (uint64_t)i)) - 0.5 * values : 0.25;
    l[i] = uniform(2, (uint64_t)i) < positive_share;
  }
  /* Rank r's share: even (layout 0), growing with r (1), all on the last
   * rank (2), only on even ranks (3). */
  double w_total = 0, w_before = 0;
  for (int r = 0; r < size; r++) {
    double w = layout == 0 ? 1 : layout == 1 ? r + 1 : layout == 2 ? (r == size - 1) : !(r % 2);
    if (r < rank) w_before += w;
    w_total += w;
  }
  double w_mine = layout == 0   ? 1
                  : layout == 1 ? rank + 1
                  : layout == 2 ? (rank == size - 1)
                                : !(rank % 2);
  int64_t first = (int64_t)(n * w_before / w_total),
          last = (int64_t)(n * (w_before + w_mine) / w_total);
  if (rank == size - 1) last = n;
  double auc = 0;
  int64_t pos = 0, neg = 0, want_pos, want_neg;
  OK(ia_pooled_auc(MPI_COMM_WORLD, s + first, l + first, last - first, &auc, &pos, &neg));
  double want = direct(s, l, n, &want_pos, &want_neg);
  int same = (auc == want || (isnan(auc) && isnan(want))) && pos == want_pos && neg == want_neg;
  char what[320];
  snprintf(what, sizeof what, "%s: AUC %.12g (definition %.12g), %lld/%lld", name, auc, want,
           (long long)pos, (long long)neg);
  check(what, same ? 0 : 1, 0);
  free(s);
  free(l);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  (void)skip_without_gpu; /* check.h: no GPU here */
  const char *layouts[] = {"even", "growing", "last rank", "even ranks only"};
  for (int layout = 0; layout < 4; layout++) {
    char name[96];
    snprintf(name, sizeof name, "3000 pairs, 7 scores, %s", layouts[layout]);
    run(name, 3000, 7, 0.3, layout);
    snprintf(name, sizeof name, "2000 pairs, 1000 scores, %s", layouts[layout]);
    run(name, 2000, 1000, 0.5, layout);
    snprintf(name, sizeof name, "500 pairs, all equal, %s", layouts[layout]);
    run(name, 500, 0, 0.2, layout);
  }
  run("400 pairs, no negatives", 400, 5, 1.0, 1);
  run("3 pairs", 3, 2, 0.5, 0);
  run("no pairs", 0, 5, 0.5, 0);
  MPI_Finalize();
  return failures ? 1 : 0;
}
