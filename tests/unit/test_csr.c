/* The CSR helpers against dense brute force on a random binary matrix. */
#include <stdlib.h>
#include <string.h>

#include "../test_util.h"
#include "infae/core/csr.h"
#include "infae/core/log.h"

static void columns_of_rows_lists_each_entry_once(void **state) {
  (void)state;
  const int64_t n_rows = 40, n_cols = 23;
  ia_csr m = {0};
  assert_int_equal(ia_csr_alloc(&m, n_rows, n_cols, n_rows * n_cols), IA_OK);
  unsigned x = 7;
  int64_t nnz = 0;
  for (int64_t r = 0; r < n_rows; r++) {
    for (int64_t c = 0; c < n_cols; c++)
      if ((x = x * 1103515245u + 12345u) >> 29 < 3) m.indices[nnz++] = (int32_t)c;
    m.indptr[r + 1] = nnz;
  }
  const int64_t rows[] = {39, 2, 17, 5, 30, 0, 12};
  const int64_t n = 7;
  int64_t colptr[24];
  int32_t pos[7 * 23];
  ia_csr_columns_of_rows(&m, rows, n, colptr, pos);
  assert_true(colptr[0] == 0);
  for (int64_t c = 0; c < n_cols; c++) {
    int64_t want = colptr[c];
    for (int64_t k = 0; k < n; k++)
      if (ia_csr_has(&m, rows[k], (int32_t)c)) { /* listed in order of k */
        assert_true(want < colptr[c + 1]);
        assert_int_equal(pos[want++], k);
      }
    assert_true(want == colptr[c + 1]);
  }
  ia_csr_free(&m);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(columns_of_rows_lists_each_entry_once),
};
IA_TEST_MAIN(tests)
