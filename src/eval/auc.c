/* The pooled AUC, exact and distributed by a sample sort
 * (infae/eval/auc.h). */
#include "infae/eval/auc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  double score;
  int64_t pos; /* position in the pooled list: the order of equal scores */
  int64_t label;
} pair;

static int before(const pair *x, const pair *y) {
  return x->score < y->score || (x->score == y->score && x->pos < y->pos);
}

static int cmp_pair(const void *a, const void *b) {
  const pair *x = a, *y = b;
  return before(x, y) ? -1 : before(y, x) ? 1 : 0;
}

/* The first index of the sorted p[0, n) that does not come before key. */
static int64_t first_not_before(const pair *p, int64_t n, const pair *key) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (before(&p[mid], key))
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* P − 1 splitters from P regular samples of each rank's sorted pairs: rank
 * r's part of the sorted list is [split[r − 1], split[r]). Collective. */
static ia_status splitters(MPI_Comm comm, const pair *p, int64_t n, int size, MPI_Datatype type,
                           pair *split) {
  ia_status st = IA_OK;
  int mine = n > 0 ? size : 0, total = 0;
  int *counts = NULL, *displs = NULL;
  pair *sample = NULL, *all = NULL;
  st = IA_ALLOC(counts, size, "AUC sample counts");
  if (st == IA_OK) st = IA_ALLOC(displs, size, "AUC sample displacements");
  if (st == IA_OK) st = IA_ALLOC(sample, size, "AUC sample");
  IA_CALL_GOTO(ia_agree(comm, st));
  for (int k = 0; k < mine; k++) sample[k] = p[(int64_t)k * n / size];
  IA_MPI_GOTO(MPI_Allgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, comm));
  for (int r = 0; r < size; r++) {
    displs[r] = total;
    total += counts[r];
  }
  st = IA_ALLOC(all, total > 0 ? total : 1, "AUC samples");
  IA_CALL_GOTO(ia_agree(comm, st));
  IA_MPI_GOTO(MPI_Allgatherv(sample, mine, type, all, counts, displs, type, comm));
  qsort(all, (size_t)total, sizeof *all, cmp_pair);
  for (int r = 1; r < size; r++) {
    if (total > 0) {
      split[r - 1] = all[(int64_t)r * total / size];
    } else { /* no pairs anywhere: everything (nothing) to the last rank */
      split[r - 1] = (pair){INFINITY, INT64_MAX, 0};
    }
  }
done:
  free(counts);
  free(displs);
  free(sample);
  free(all);
  return st;
}

/* This rank's part of the sorted pooled list, into *out (*n_out pairs). */
static ia_status exchange(MPI_Comm comm, pair *p, int64_t n, int size, pair **out, int64_t *n_out) {
  ia_status st = IA_OK;
  MPI_Datatype type;
  int *sc = NULL, *sd = NULL, *rc = NULL, *rd = NULL;
  pair *split = NULL, *recv = NULL;
  IA_MPI(MPI_Type_contiguous((int)sizeof(pair), MPI_BYTE, &type));
  IA_MPI(MPI_Type_commit(&type));
  st = IA_ALLOC(split, size, "AUC splitters");
  if (st == IA_OK) st = IA_ALLOC(sc, size, "AUC send counts");
  if (st == IA_OK) st = IA_ALLOC(sd, size, "AUC send displacements");
  if (st == IA_OK) st = IA_ALLOC(rc, size, "AUC receive counts");
  if (st == IA_OK) st = IA_ALLOC(rd, size, "AUC receive displacements");
  IA_CALL_GOTO(ia_agree(comm, st));
  IA_CALL_GOTO(splitters(comm, p, n, size, type, split));
  int64_t from = 0, total = 0;
  for (int r = 0; r < size; r++) {
    int64_t to = r + 1 < size ? first_not_before(p, n, &split[r]) : n;
    if (to < from) to = from;
    st = ia_to_int(to - from, &sc[r]);
    if (st == IA_OK) st = ia_to_int(from, &sd[r]);
    if (st != IA_OK) break;
    from = to;
  }
  IA_CALL_GOTO(ia_agree(comm, st));
  IA_MPI_GOTO(MPI_Alltoall(sc, 1, MPI_INT, rc, 1, MPI_INT, comm));
  for (int r = 0; r < size; r++) total += rc[r];
  for (int r = 0, off = 0; r < size && st == IA_OK; r++) {
    rd[r] = off;
    if (r + 1 < size) st = ia_to_int((int64_t)off + rc[r], &off);
  }
  if (st == IA_OK) st = IA_ALLOC(recv, total > 0 ? total : 1, "AUC pairs of this rank's range");
  IA_CALL_GOTO(ia_agree(comm, st));
  IA_MPI_GOTO(MPI_Alltoallv(p, sc, sd, type, recv, rc, rd, type, comm));
  qsort(recv, (size_t)total, sizeof *recv, cmp_pair);
  *out = recv;
  *n_out = total;
  recv = NULL;
done:
  MPI_Type_free(&type);
  free(split);
  free(sc);
  free(sd);
  free(rc);
  free(rd);
  free(recv);
  return st;
}

ia_status ia_pooled_auc(MPI_Comm comm, const double *score, const uint8_t *label, int64_t n,
                        double *auc, int64_t *positives, int64_t *negatives) {
  ia_status st = IA_OK;
  int size;
  MPI_Comm_size(comm, &size);
  pair *p = NULL, *range = NULL;
  int64_t first = 0, n_range = 0;
  IA_MPI(MPI_Exscan(&n, &first, 1, MPI_INT64_T, MPI_SUM, comm));
  int rank;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) first = 0; /* MPI_Exscan leaves rank 0's result undefined */
  st = IA_ALLOC(p, n > 0 ? n : 1, "AUC pairs");
  IA_CALL(ia_agree(comm, st));
  for (int64_t k = 0; k < n; k++) p[k] = (pair){score[k], first + k, label[k] ? 1 : 0};
  qsort(p, (size_t)n, sizeof *p, cmp_pair);
  if (size > 1) {
    st = exchange(comm, p, n, size, &range, &n_range);
    free(p);
    p = NULL;
    IA_CALL(st);
  } else {
    range = p;
    n_range = n;
  }
  /* Counts in this range, then with the negatives of the lower ranges. */
  int64_t c[3] = {0, 0, 0}; /* positives, negatives, Σ negatives before each positive */
  for (int64_t k = 0; k < n_range; k++) {
    if (range[k].label) {
      c[0]++;
      c[2] += c[1];
    } else {
      c[1]++;
    }
  }
  free(range);
  int64_t neg_below = 0;
  IA_MPI(MPI_Exscan(&c[1], &neg_below, 1, MPI_INT64_T, MPI_SUM, comm));
  if (rank == 0) neg_below = 0;
  c[2] += c[0] * neg_below;
  IA_MPI(MPI_Allreduce(MPI_IN_PLACE, c, 3, MPI_INT64_T, MPI_SUM, comm));
  *auc = c[0] == 0 || c[1] == 0 ? NAN : (double)c[2] / ((double)c[0] * (double)c[1]);
  if (positives) *positives = c[0];
  if (negatives) *negatives = c[1];
  return IA_OK;
}
