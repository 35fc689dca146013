/* Which users `train` fits ∞-AE on, and what it reports of them: the Nyström
 * centers drawn among the distinct train rows (--centers), and the kernel
 * entries of pairs of users named by their original ids (--kernel-samples). */
#include "app/fit_users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infae/core/layout.h"
#include "infae/core/log.h"
#include "infae/core/rng.h"

/* Global index of original user id `id`, or -1: each rank looks in its block. */
static int64_t find_user(MPI_Comm comm, const ia_dataset *d, const char *id) {
  int64_t found = -1;
  for (int64_t r = 0; r < d->n_rows && d->user_ids; r++)
    if (!strcmp(d->user_ids[r], id)) found = d->row_begin + r;
  MPI_Allreduce(MPI_IN_PLACE, &found, 1, MPI_INT64_T, MPI_MAX, comm);
  return found;
}

/* --kernel-samples u:v,...: K entries by original user ids, as the reference
 * reports them. */
ia_status ia_fit_users_kernel_samples(MPI_Comm comm, const ia_train_opts *o, const ia_dataset *d,
                                      ia_infae *m, ia_train_result *r) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", o->kernel_samples);
  IA_CHECK(o->train_users <= 0 || o->train_users >= d->n_users, IA_ERR_ARG,
           "--kernel-samples needs the full fit (no --train-users)");
  char *save = NULL;
  for (char *pair = strtok_r(buf, ",", &save); pair; pair = strtok_r(NULL, ",", &save)) {
    char *colon = strchr(pair, ':');
    IA_CHECK(colon && r->n_kernel < 16, IA_ERR_ARG,
             "--kernel-samples takes up to 16 pairs USER:USER of original ids (got '%s')", pair);
    *colon = '\0';
    const char *a = pair, *b = colon + 1;
    int64_t i = find_user(comm, d, a), j = find_user(comm, d, b);
    IA_CHECK(i >= 0 && j >= 0, IA_ERR_ARG, "--kernel-samples: user '%s' is not in the dataset",
             i < 0 ? a : b);
    int k = r->n_kernel++;
    snprintf(r->kernel_ids[k][0], sizeof r->kernel_ids[k][0], "%s", a);
    snprintf(r->kernel_ids[k][1], sizeof r->kernel_ids[k][1], "%s", b);
    IA_CALL(ia_infae_kernel_entry(m, i, j, &r->kernel_values[k]));
    ia_log_info("[train] K(%s, %s) = %.17g", a, b, r->kernel_values[k]);
  }
  return IA_OK;
}

/* 64-bit hash of a sorted item list (splitmix64 finalizer per item). */
static uint64_t row_hash(const int32_t *items, int64_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ (uint64_t)n;
  for (int64_t k = 0; k < n; k++) {
    uint64_t z = h + (uint64_t)(uint32_t)items[k] + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    h = z ^ (z >> 31);
  }
  return h;
}

typedef struct {
  uint64_t hash;
  int64_t user;
} hashed_user;

static int by_hash(const void *a, const void *b) {
  const hashed_user *x = a, *y = b;
  if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
  return (x->user > y->user) - (x->user < y->user);
}

static int by_int64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Nyström centers: u users drawn (seed) among the distinct train rows, each
 * row represented by its first user; ascending. Rows with equal hashes count
 * as one (a 64-bit collision only narrows the draw). Every rank gets the same
 * list. Collective. */
ia_status ia_fit_users_centers(MPI_Comm comm, const ia_dataset *d, uint64_t seed, int64_t want,
                               int64_t **out, int64_t *n_out, int64_t *n_distinct) {
  int size, rank;
  MPI_Comm_size(comm, &size);
  MPI_Comm_rank(comm, &rank);
  int64_t n = d->n_users, kept = 0;
  hashed_user *all = NULL;
  uint64_t *mine = NULL, *hashes = NULL;
  int *counts = NULL, *displs = NULL;
  int64_t *rep = NULL, *pick = NULL;
  ia_status st = IA_ALLOC(all, n > 0 ? n : 1, "row hashes");
  if (st == IA_OK) st = IA_ALLOC(hashes, n > 0 ? n : 1, "row hashes");
  if (st == IA_OK) st = IA_ALLOC(mine, d->n_rows > 0 ? d->n_rows : 1, "row hashes");
  if (st == IA_OK) st = IA_ALLOC(counts, size, "counts");
  if (st == IA_OK) st = IA_ALLOC(displs, size, "displacements");
  IA_CALL_GOTO(ia_agree(comm, st));
  for (int64_t r = 0; r < d->n_rows; r++)
    mine[r] = row_hash(d->train.indices + d->train.indptr[r],
                       d->train.indptr[r + 1] - d->train.indptr[r]);
  for (int p = 0; p < size; p++) {
    int64_t b, c;
    ia_row_block(n, size, p, &b, &c);
    counts[p] = (int)c;
    displs[p] = (int)b;
  }
  MPI_Allgatherv(mine, (int)d->n_rows, MPI_UINT64_T, hashes, counts, displs, MPI_UINT64_T, comm);
  for (int64_t i = 0; i < n; i++) all[i] = (hashed_user){hashes[i], i};
  qsort(all, (size_t)n, sizeof *all, by_hash);
  rep = (int64_t *)hashes; /* reused: the representatives */
  for (int64_t i = 0; i < n; i++)
    if (i == 0 || all[i].hash != all[i - 1].hash) rep[kept++] = all[i].user;
  qsort(rep, (size_t)kept, sizeof *rep, by_int64);
  int64_t u = want < kept ? want : kept;
  st = IA_ALLOC(pick, u > 0 ? u : 1, "Nyström centers");
  if (st == IA_OK) st = ia_rng_choose(seed, IA_RNG_SAMPLE, 0, kept, u, pick);
  IA_CALL_GOTO(ia_agree(comm, st));
  for (int64_t i = 0; i < u; i++) pick[i] = rep[pick[i]];
  *out = pick;
  *n_out = u;
  *n_distinct = kept;
  pick = NULL;
done:
  free(all);
  free(hashes);
  free(mine);
  free(counts);
  free(displs);
  free(pick);
  return st;
}
