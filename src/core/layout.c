#include "infae/core/layout.h"

int64_t ia_numroc(int64_t n, int64_t nb, int iproc, int nprocs) {
  int64_t blocks = n / nb, count = blocks / nprocs * nb;
  int extra = (int)(blocks % nprocs);
  if (iproc < extra)
    count += nb;
  else if (iproc == extra)
    count += n % nb;
  return count;
}

void ia_row_block(int64_t n, int size, int rank, int64_t *begin, int64_t *count) {
  int64_t mb = (n + size - 1) / size;
  if (mb < 1) mb = 1;
  int64_t b = (int64_t)rank * mb;
  *begin = b < n ? b : n;
  *count = n - *begin < mb ? n - *begin : mb;
}
