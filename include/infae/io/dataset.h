#pragma once
/* A prepared dataset: CSR splits over users, AUC negatives, ids, provenance.
 * The HDF5 layout is documented in docs/file-formats.md. */
#include <mpi.h>
#include <stdint.h>

#include "infae/core/csr.h"
#include "infae/core/status.h"

typedef struct {
  int64_t n_users, n_items;             /* global */
  int64_t row_begin, n_rows;            /* the users held here: [row_begin, row_begin + n_rows) */
  ia_csr train, val, test;              /* (n_rows × n_items) */
  ia_csr negatives;                     /* (n_rows × n_items) AUC negatives */
  int64_t *item_train_count;            /* (n_items) global train interactions per item */
  int64_t train_nnz, val_nnz, test_nnz; /* global */
  char **user_ids;                      /* (n_rows) original ids, or NULL when not loaded */
  char **item_ids;                      /* (n_items) original ids, or NULL when not loaded */
  /* Provenance (attributes of the file). */
  char source_format[32];
  char source_sha256[65];
  char *source_files; /* newline-separated input paths */
  char *command;      /* command line that made the file */
  uint64_t seed;
  int64_t duplicates_dropped, users_dropped, pairs_in_two_splits;
} ia_dataset;

/* Frees everything and zeroes *d. Accepts a zeroed struct. */
void ia_dataset_free(ia_dataset *d);

/* Writes a whole dataset (n_rows == n_users) to path, through path.tmp-<pid>
 * renamed on success (nothing is left behind on failure). Not collective:
 * uses the serial driver, so one rank calls it. */
IA_NODISCARD ia_status ia_dataset_write(const ia_dataset *d, const char *path);

/* Reads users [row_begin, row_begin + n_rows) of every split, the item
 * counts and the provenance; ids when with_ids. n_rows < 0 means "to the
 * end". Collective on comm (MPI-IO driver); each rank may ask for its own
 * range. A file that is not an infae dataset fails with IA_ERR_FORMAT. */
IA_NODISCARD ia_status ia_dataset_read(MPI_Comm comm, const char *path, int64_t row_begin,
                                       int64_t n_rows, int with_ids, ia_dataset *d);

/* Reads the rows rows[0..n) (ascending user indices; each rank its own
 * list) of one split ("train", "val", "test") into out (n × items).
 * Collective on comm (MPI-IO driver). */
IA_NODISCARD ia_status ia_dataset_read_rows(MPI_Comm comm, const char *path, const char *split,
                                            const int64_t *rows, int64_t n, ia_csr *out);

/* Reads every user id and item id (and nothing else). On failure nothing is
 * allocated. Collective on comm. */
IA_NODISCARD ia_status ia_dataset_read_ids(MPI_Comm comm, const char *path, char ***user_ids,
                                           char ***item_ids);

/* Frees n strings and their array, as ia_dataset_read_ids returns them;
 * accepts NULL. Not collective. */
void ia_ids_free(char **ids, int64_t n);

/* Reads only the global sizes (users, items). Collective on comm. */
IA_NODISCARD ia_status ia_dataset_dims(MPI_Comm comm, const char *path, int64_t *n_users,
                                       int64_t *n_items);

/* Contiguous balanced block [begin, begin + count) of n items for rank of size. */
void ia_partition(int64_t n, int size, int rank, int64_t *begin, int64_t *count);
