/* Dataset files: written by one rank, read back in row blocks by every rank
 * of 1, 2 or 4; bad files fail on every rank with one message. */
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test_util.h"
#include "infae/core/log.h"
#include "infae/data/split.h"
#include "infae/io/dataset.h"

static char g_path[256], g_bad[256], g_empty_h5[256];

/* The same dataset on every rank: 37 users with 3..40 items out of 53. */
static void build(ia_dataset *d) {
  enum { U = 37, D = 53 };
  ia_csr all;
  int64_t nnz = 0;
  memset(d, 0, sizeof *d);
  for (int u = 0; u < U; u++) nnz += 3 + (u * 5) % 38;
  assert_int_equal(ia_csr_alloc(&all, U, D, nnz), IA_OK);
  for (int u = 0, p = 0; u < U; u++) {
    for (int k = 0; k < 3 + (u * 5) % 38; k++) all.indices[p++] = (k * 11 + u) % D;
    all.indptr[u + 1] = p;
  }
  ia_csr_sort_rows(&all);
  assert_int_equal(ia_split_users(&all, 7, 50, &d->train, &d->val, &d->test, &d->negatives), IA_OK);
  ia_csr_free(&all);
  d->n_users = d->n_rows = U;
  d->n_items = D;
  d->item_train_count = calloc(D, sizeof(int64_t));
  for (int64_t e = 0; e < ia_csr_nnz(&d->train); e++) d->item_train_count[d->train.indices[e]]++;
  d->train_nnz = ia_csr_nnz(&d->train);
  d->val_nnz = ia_csr_nnz(&d->val);
  d->test_nnz = ia_csr_nnz(&d->test);
  d->user_ids = calloc(U, sizeof(char *));
  d->item_ids = calloc(D, sizeof(char *));
  char buf[32];
  for (int u = 0; u < U; u++) {
    snprintf(buf, sizeof buf, "user-%d", u * 3);
    d->user_ids[u] = strdup(buf);
  }
  for (int i = 0; i < D; i++) {
    snprintf(buf, sizeof buf, "%d", 1000 + i);
    d->item_ids[i] = strdup(buf);
  }
  strcpy(d->source_format, "movielens");
  strcpy(d->source_sha256, "00ff");
  d->source_files = strdup("a.dat");
  d->command = strdup("test");
  d->seed = 7;
}

static void same_rows(const ia_csr *full, const ia_csr *part, int64_t begin) {
  for (int64_t r = 0; r < part->n_rows; r++) {
    int64_t n = full->indptr[begin + r + 1] - full->indptr[begin + r];
    assert_int_equal(part->indptr[r + 1] - part->indptr[r], n);
    assert_memory_equal(part->indices + part->indptr[r], full->indices + full->indptr[begin + r],
                        sizeof(int32_t) * (size_t)n);
  }
}

static void round_trip_in_blocks(void **state) {
  (void)state;
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  ia_dataset full, part;
  build(&full);
  ia_status st = IA_OK;
  if (rank == 0) st = ia_dataset_write(&full, g_path);
  assert_int_equal(ia_agree(MPI_COMM_WORLD, st), IA_OK);
  int64_t begin, count;
  ia_partition(full.n_users, size, rank, &begin, &count);
  assert_int_equal(ia_dataset_read(MPI_COMM_WORLD, g_path, begin, count, 1, &part), IA_OK);
  assert_int_equal(part.n_users, full.n_users);
  assert_int_equal(part.n_items, full.n_items);
  assert_int_equal(part.train_nnz, full.train_nnz);
  assert_int_equal(part.seed, 7);
  assert_string_equal(part.source_format, "movielens");
  assert_string_equal(part.command, "test");
  same_rows(&full.train, &part.train, begin);
  same_rows(&full.val, &part.val, begin);
  same_rows(&full.test, &part.test, begin);
  same_rows(&full.negatives, &part.negatives, begin);
  assert_memory_equal(part.item_train_count, full.item_train_count,
                      sizeof(int64_t) * (size_t)full.n_items);
  for (int64_t r = 0; r < count; r++)
    assert_string_equal(part.user_ids[r], full.user_ids[begin + r]);
  assert_string_equal(part.item_ids[52], "1052");
  ia_dataset_free(&part);
  ia_dataset_free(&full);
}

static void bad_files_fail_everywhere(void **state) {
  (void)state;
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  ia_dataset d;
  if (rank == 0) {
    FILE *f = fopen(g_bad, "w");
    fputs("user item\n1 2\n", f);
    fclose(f);
    hid_t h = H5Fcreate(g_empty_h5, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(h);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  assert_int_not_equal(ia_dataset_read(MPI_COMM_WORLD, "/nonexistent/x.h5", 0, -1, 0, &d), IA_OK);
  ia_error_clear();
  ia_status st = ia_dataset_read(MPI_COMM_WORLD, g_bad, 0, -1, 0, &d);
  assert_true(st == IA_ERR_FORMAT || st == IA_ERR_REMOTE);
  ia_error_clear();
  st = ia_dataset_read(MPI_COMM_WORLD, g_empty_h5, 0, -1, 0, &d);
  assert_true(st == IA_ERR_FORMAT || st == IA_ERR_REMOTE);
  ia_error_clear();
}

static void failed_write_leaves_nothing(void **state) {
  (void)state;
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) return;
  ia_dataset d;
  build(&d);
  assert_int_equal(ia_dataset_write(&d, "no-such-dir/x.h5"), IA_ERR_IO);
  ia_error_clear();
  /* A row count that disagrees with the users is refused before writing. */
  d.n_rows = 3;
  assert_int_equal(ia_dataset_write(&d, "partial.h5"), IA_ERR_INTERNAL);
  ia_error_clear();
  assert_int_equal(access("partial.h5", F_OK), -1);
  d.n_rows = d.n_users;
  ia_dataset_free(&d);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(round_trip_in_blocks),
    cmocka_unit_test(bad_files_fail_everywhere),
    cmocka_unit_test(failed_write_leaves_nothing),
};

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  ia_log_init(MPI_COMM_WORLD, IA_LOG_QUIET);
  int size;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  snprintf(g_path, sizeof g_path, "test_dataset_np%d.h5", size);
  snprintf(g_bad, sizeof g_bad, "test_dataset_np%d.txt", size);
  snprintf(g_empty_h5, sizeof g_empty_h5, "test_dataset_empty_np%d.h5", size);
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  int any = 0;
  MPI_Allreduce(&rc, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any;
}
