/* The baseline samplers of a summary: the most active users, and each train
 * interaction kept with a probability. */
#include "distill/samplers.h"

#include <stdlib.h>
#include <string.h>

#include "infae/core/rng.h"

/* The k users with the most train interactions (ties: lower index), ascending. */
ia_status ia_head_users(MPI_Comm comm, const ia_dataset *d, int64_t k, int64_t *out) {
  int64_t n = d->n_users, *cnt = NULL, *order = NULL;
  int size, rank;
  MPI_Comm_size(comm, &size);
  MPI_Comm_rank(comm, &rank);
  ia_status st = IA_ZALLOC(cnt, n, "user counts");
  if (st == IA_OK) st = IA_ALLOC(order, n, "user order");
  IA_CALL_GOTO(ia_agree(comm, st));
  for (int64_t r = 0; r < d->n_rows; r++)
    cnt[d->row_begin + r] = d->train.indptr[r + 1] - d->train.indptr[r];
  IA_MPI_GOTO(MPI_Allreduce(MPI_IN_PLACE, cnt, (int)n, MPI_INT64_T, MPI_SUM, comm));
  /* Counting sort by count, descending, stable in the index. */
  int64_t maxc = 0;
  for (int64_t i = 0; i < n; i++) maxc = cnt[i] > maxc ? cnt[i] : maxc;
  int64_t c = 0;
  for (int64_t v = maxc; v >= 0 && c < k; v--)
    for (int64_t i = 0; i < n && c < k; i++)
      if (cnt[i] == v) order[c++] = i;
  memset(cnt, 0, sizeof(int64_t) * (size_t)n);
  for (int64_t i = 0; i < k; i++) cnt[order[i]] = 1;
  c = 0;
  for (int64_t i = 0; i < n; i++)
    if (cnt[i]) out[c++] = i;
done:
  free(cnt);
  free(order);
  return st;
}

/* Random interactions: each train interaction is kept with probability q
 * (a stream per user, so the draw does not depend on the ranks); the sample
 * is the kept rows of the users that keep at least one, on every rank:
 * users (ascending, *mu of them), s (mu × d) and the kept count. Collective. */
ia_status ia_interaction_sample(MPI_Comm comm, const ia_dataset *d, uint64_t seed, double q,
                                int64_t **users, int64_t *mu, double **s, int64_t *kept) {
  int size;
  MPI_Comm_size(comm, &size);
  const ia_csr *tr = &d->train;
  int64_t nu = 0, np = 0, *mine = NULL, *all = NULL, at = 0;
  int *counts = NULL, *displs = NULL;
  *users = NULL;
  *s = NULL;
  /* This rank's kept pairs as (user, item) in one int64 array. */
  ia_status st = IA_ALLOC(mine, 2 * tr->indptr[tr->n_rows] + 1, "interaction sample");
  if (st == IA_OK) st = IA_ALLOC(counts, size, "counts");
  if (st == IA_OK) st = IA_ALLOC(displs, size, "displacements");
  IA_CALL_GOTO(ia_agree(comm, st));
  for (int64_t r = 0; r < tr->n_rows; r++) {
    ia_rng g;
    ia_rng_init(&g, seed, IA_RNG_STUDY, (uint64_t)(d->row_begin + r));
    for (int64_t p = tr->indptr[r]; p < tr->indptr[r + 1]; p++)
      if (ia_rng_uniform(&g) < q) {
        mine[2 * np] = d->row_begin + r;
        mine[2 * np + 1] = tr->indices[p];
        np++;
      }
  }
  int c = (int)(2 * np);
  IA_MPI_GOTO(MPI_Allgather(&c, 1, MPI_INT, counts, 1, MPI_INT, comm));
  int64_t total = 0;
  for (int p = 0; p < size; p++) {
    displs[p] = (int)total;
    total += counts[p];
  }
  st = IA_ALLOC(all, total + 1, "interaction sample");
  IA_CALL_GOTO(ia_agree(comm, st));
  IA_MPI_GOTO(MPI_Allgatherv(mine, c, MPI_INT64_T, all, counts, displs, MPI_INT64_T, comm));
  for (int64_t k = 0; k < total; k += 2)
    if (k == 0 || all[k] != all[k - 2]) nu++;
  IA_CHECK_GOTO(nu > 0, IA_ERR_EMPTY, "the interaction sample is empty: raise --budget");
  st = IA_ALLOC(*users, nu, "sampled users");
  if (st == IA_OK) st = IA_ZALLOC(*s, nu * d->n_items, "summary S");
  IA_CALL_GOTO(ia_agree(comm, st));
  for (int64_t k = 0; k < total; k += 2) {
    if (k > 0 && all[k] != all[k - 2]) at++;
    (*users)[at] = all[k];
    (*s)[at * d->n_items + all[k + 1]] = 1.0;
  }
  *mu = nu;
  *kept = total / 2;
done:
  if (st != IA_OK) {
    free(*users);
    free(*s);
    *users = NULL;
    *s = NULL;
  }
  free(mine);
  free(all);
  free(counts);
  free(displs);
  return st;
}
