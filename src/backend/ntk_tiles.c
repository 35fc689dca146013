/* Densified item panels and the NTK tiles of the Gram and of NTK(C, X) on a
 * backend: GEMMs over panels of items on the CPU. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dispatch.h"
#include "infae/core/ntk.h"
#include "infae/core/topk.h"

/* ---- densified panels and NTK tiles (CPU) ---------------------------------- */

static const int32_t *lower_bound(const int32_t *v, int64_t n, int32_t key) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = (lo + hi) / 2;
    if (v[mid] < key)
      lo = mid + 1;
    else
      hi = mid;
  }
  return v + lo;
}

/* Sets ones at the items in [i0, i1) of rows [r0, r1) of a, as rows 0.. of
 * the column-major panel p (leading dimension ld; not cleared here). */
static void scatter(const ia_be_csr *a, int64_t r0, int64_t r1, int64_t i0, int64_t i1, void *p,
                    int64_t ld, ia_precision prec) {
  for (int64_t r = r0; r < r1; r++) {
    const int32_t *row = a->indices + a->indptr[r], *end = a->indices + a->indptr[r + 1];
    for (const int32_t *it = lower_bound(row, end - row, (int32_t)i0); it < end && *it < i1; it++) {
      size_t at = (size_t)(*it - i0) * (size_t)ld + (size_t)(r - r0);
      if (prec == IA_FP64)
        ((double *)p)[at] = 1.0;
      else
        ((float *)p)[at] = 1.0f;
    }
  }
}

static ia_status cpu_densify(ia_precision p, const ia_be_csr *a, int64_t d, void *out, int64_t ld) {
  for (int64_t i = 0; i < d; i++)
    memset((char *)out + ia_be_esize(p) * (size_t)i * (size_t)ld, 0,
           ia_be_esize(p) * (size_t)a->n_rows);
  scatter(a, 0, a->n_rows, 0, d, out, ld, p);
  return IA_OK;
}

ia_status ia_be_densify(ia_backend *b, ia_precision p, const ia_be_csr *a, int64_t d, void *out,
                        int64_t ld) {
  return CUDA_OR(ia_cuda_densify(b->cuda, p, a, d, out, ld), cpu_densify(p, a, d, out, ld));
}

int64_t ia_be_panel_width(int64_t rows, int64_t d, size_t es, int64_t bytes) {
  if (rows < 1) rows = 1;
  int64_t w = bytes / (int64_t)es / rows;
  if (w < 64) w = 64;
  return w < d ? w : d;
}

int64_t ia_be_first_row(const ia_be_layout *l, int64_t j) {
  if (!l->sym) return 0;
  int64_t gj = ia_l2g(j, l->nb, l->mycol, l->npcol);
  return ia_numroc(gj / l->nb * l->nb, l->nb, l->myrow, l->nprow); /* rows of earlier blocks */
}

static ia_status cpu_ntk_tiles(ia_precision p, const ia_be_csr *ra, const ia_be_csr *rb,
                               const double *nr, const ia_be_csr *cols, const double *nc,
                               const ia_be_layout *lay, int64_t c0, int64_t c1, int64_t d,
                               int depth, int64_t panel_bytes, void *out, int64_t ldo,
                               double *flops) {
  ia_status st = IA_OK;
  void *pa = NULL, *pb = NULL;
  size_t es = ia_be_esize(p);
  int64_t mloc = ra->n_rows, nloc = c1 - c0, nb = lay->nb;
  *flops = 0;
  if (mloc <= 0 || nloc <= 0) return IA_OK;
  int64_t w = ia_be_panel_width(mloc + nloc, d, es, panel_bytes);
  IA_CALL_GOTO(ia_malloc(es * (size_t)mloc * (size_t)w, "Gram row panel", &pa));
  IA_CALL_GOTO(ia_malloc(es * (size_t)nloc * (size_t)w, "Gram column panel", &pb));
  for (int64_t i0 = 0; i0 < d; i0 += w) {
    int64_t i1 = i0 + w < d ? i0 + w : d;
    double beta = i0 == 0 ? 0.0 : 1.0;
    memset(pa, 0, es * (size_t)mloc * (size_t)(i1 - i0));
    memset(pb, 0, es * (size_t)nloc * (size_t)(i1 - i0));
    scatter(ra, 0, mloc, i0, i1, pa, mloc, p);
    if (rb) scatter(rb, 0, mloc, i0, i1, pa, mloc, p);
    scatter(cols, c0, c1, i0, i1, pb, nloc, p);
    /* With sym, column blocks aligned to nb in the local numbering (one
     * global block each), from the row where sym needs them. */
    for (int64_t j0 = c0; j0 < c1;) {
      int64_t j1 = lay->sym ? (j0 / nb + 1) * nb : c1; /* without sym: one GEMM */
      if (j1 > c1) j1 = c1;
      int64_t r0 = ia_be_first_row(lay, j0);
      if (r0 < mloc) {
        IA_CALL_GOTO(ia_cpu_gemm(
            p, 'N', 'T', mloc - r0, j1 - j0, i1 - i0, 1.0, (const char *)pa + es * (size_t)r0, mloc,
            (const char *)pb + es * (size_t)(j0 - c0), nloc, beta,
            (char *)out + es * ((size_t)(j0 - c0) * (size_t)ldo + (size_t)r0), ldo));
        *flops += 2.0 * (double)(mloc - r0) * (double)(j1 - j0) * (double)(i1 - i0);
      }
      j0 = j1;
    }
  }
  /* The NTK, entry by entry. */
  double dd = (double)d;
  for (int64_t j = c0; j < c1; j++) {
    for (int64_t i = ia_be_first_row(lay, j); i < mloc; i++) {
      size_t at = (size_t)(j - c0) * (size_t)ldo + (size_t)i;
      if (p == IA_FP64) {
        double *v = (double *)out + at;
        *v = ia_ntk(*v, nr[i], nc[j], dd, depth);
      } else {
        float *v = (float *)out + at;
        *v = (float)ia_ntk(*v, nr[i], nc[j], dd, depth);
      }
    }
  }
done:
  free(pa);
  free(pb);
  return st;
}

ia_status ia_be_ntk_tiles(ia_backend *b, ia_precision p, const ia_be_csr *ra, const ia_be_csr *rb,
                          const double *nr, const ia_be_csr *cols, const double *nc,
                          const ia_be_layout *lay, int64_t c0, int64_t c1, int64_t d, int depth,
                          int64_t panel_bytes, void *out, int64_t ldo, double *flops) {
  if (panel_bytes <= 0) panel_bytes = (int64_t)256 << 20;
#if IA_HAVE_CUDA
  if (b->dev == IA_DEVICE_CUDA && p == IA_FP64) {
    /* A few column chunks, each through its own FP32 Gram tile. */
    int64_t cw = ia_be_ntk_stage_cols(c1 - c0, lay->nb);
    *flops = 0;
    ia_cuda_bind(b->cuda);
    for (int64_t j0 = c0; j0 < c1; j0 += cw) {
      int64_t j1 = j0 + cw < c1 ? j0 + cw : c1;
      double f = 0;
      IA_CALL(ia_cuda_ntk_tiles(b->cuda, p, ra, rb, nr, cols, nc, lay, j0, j1, d, depth,
                                panel_bytes, (double *)out + (size_t)(j0 - c0) * (size_t)ldo, ldo,
                                &f));
      *flops += f;
    }
    return IA_OK;
  }
#endif
  return CUDA_OR(
      ia_cuda_ntk_tiles(b->cuda, p, ra, rb, nr, cols, nc, lay, c0, c1, d, depth, panel_bytes, out,
                        ldo, flops),
      cpu_ntk_tiles(p, ra, rb, nr, cols, nc, lay, c0, c1, d, depth, panel_bytes, out, ldo, flops));
}

int64_t ia_be_ntk_stage_cols(int64_t ncols, int64_t nb) {
  if (nb < 1) nb = 1;
  int64_t blocks = (ncols + nb - 1) / nb, cw = (blocks + 7) / 8 * nb,
          least = (2048 + nb - 1) / nb * nb;
  if (cw < least) cw = least;
  return cw < ncols ? cw : (ncols > 0 ? ncols : 1);
}
