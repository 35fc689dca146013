#pragma once
/* Top-k selection of scores (a heap of k), shared by the evaluation, the
 * host backend and `recommend`. */
#include <stdint.h>

/* The longest list the evaluation ranks (HR/NDCG/PSP@100). */
#define IA_TOPK 100

/* Top-k of scores, best first, ties to the lower index. Not collective. */
void ia_topk(const double *scores, int64_t n, int k, int32_t *top);
