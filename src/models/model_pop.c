#include "infae/models/model.h"

void ia_pop_scores(const int64_t *count, int64_t n_items, double *scores) {
  for (int64_t i = 0; i < n_items; i++) scores[i] = (double)count[i];
}
