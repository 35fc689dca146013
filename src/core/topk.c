#include "infae/core/topk.h"

/* a ranks before b: higher score, then lower index. */
static int before(const double *s, int32_t a, int32_t b) {
  return s[a] > s[b] || (s[a] == s[b] && a < b);
}

static void sift_down(const double *s, int32_t *h, int n, int i) {
  /* Min-heap by rank order: the root is the worst of the kept items. */
  for (;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && before(s, h[m], h[l])) m = l;
    if (r < n && before(s, h[m], h[r])) m = r;
    if (m == i) return;
    int32_t t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

void ia_topk(const double *s, int64_t n, int k, int32_t *top) {
  if (k > n) k = (int)n;
  if (k <= 0) return;
  for (int i = 0; i < k; i++) top[i] = i;
  for (int i = k / 2 - 1; i >= 0; i--) sift_down(s, top, k, i);
  for (int64_t i = k; i < n; i++)
    if (s[i] > s[top[0]]) { /* equal scores keep the lower, earlier index */
      top[0] = (int32_t)i;
      sift_down(s, top, k, 0);
    }
  for (int end = k - 1; end > 0; end--) { /* heap sort: worst to the back */
    int32_t t = top[0];
    top[0] = top[end];
    top[end] = t;
    sift_down(s, top, end, 0);
  }
}
