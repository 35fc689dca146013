/* Several devices of one node (infae/dist/multidev.h): the 1-D column
 * block-cyclic layout, the operations every device does on its own tiles
 * (through its backend), and the factor and solves: cusolverMg on GPUs
 * (kernels/multidev_cuda.cu), a tiled Cholesky on host tiles. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_impl.h"
#include "infae/backend/device.h"
#include "infae/dist/grid.h"
#include "infae/dist/multidev.h"

struct ia_md {
  int ndev;
  ia_backend *dev[IA_MD_MAX]; /* dev[0] is the caller's; the others are ours */
  char desc[160];
#if IA_HAVE_CUDA
  ia_cuda_mg *mg;
#endif
};

static size_t esize(ia_precision p) { return p == IA_FP64 ? sizeof(double) : sizeof(float); }

ia_status ia_md_open(ia_backend *primary, int ndev, ia_md **out) {
  *out = NULL;
  IA_CHECK(ndev >= 1 && ndev <= IA_MD_MAX, IA_ERR_ARG, "--gpus must be between 1 and %d (got %d)",
           IA_MD_MAX, ndev);
  int cuda = ia_backend_device(primary) == IA_DEVICE_CUDA;
  int first = ia_backend_index(primary);
  IA_CHECK(!cuda || first + ndev <= ia_cuda_device_count(), IA_ERR_DEVICE,
           "--gpus %d needs GPUs %d to %d of this node; %d are visible", ndev, first,
           first + ndev - 1, ia_cuda_device_count());
  ia_md *md = NULL;
  IA_CALL(IA_ZALLOC(md, 1, "multi-device state"));
  ia_status st = IA_OK;
  md->ndev = ndev;
  md->dev[0] = primary;
  for (int g = 1; g < ndev && st == IA_OK; g++)
    st = ia_backend_open_index(primary, cuda ? first + g : 0, &md->dev[g]);
  if (st == IA_OK && cuda) {
    size_t len = 0;
    for (int g = 0; g < ndev; g++)
      len += (size_t)snprintf(md->desc + len, sizeof md->desc - len, "%scuda:%d", g ? ", " : "",
                              ia_backend_index(md->dev[g]));
    snprintf(md->desc + len, sizeof md->desc - len, " (cusolverMg)");
  } else if (st == IA_OK) {
    snprintf(md->desc, sizeof md->desc, "%d host slice%s (tiled Cholesky)", ndev,
             ndev > 1 ? "s" : "");
  }
#if IA_HAVE_CUDA
  if (st == IA_OK && cuda) {
    ia_cuda *c[IA_MD_MAX];
    for (int g = 0; g < ndev; g++) c[g] = ia_backend_cuda(md->dev[g]);
    st = ia_cuda_mg_open(c, ndev, &md->mg);
  }
#endif
  if (st != IA_OK) {
    ia_md_close(&md);
    return st;
  }
  *out = md;
  return IA_OK;
}

void ia_md_close(ia_md **pmd) {
  ia_md *md = *pmd;
  if (!md) return;
#if IA_HAVE_CUDA
  ia_cuda_mg_close(md->mg);
#endif
  for (int g = 1; g < md->ndev; g++) ia_backend_close(&md->dev[g]);
  free(md);
  *pmd = NULL;
}

int ia_md_count(const ia_md *md) { return md->ndev; }
ia_backend *ia_md_backend(const ia_md *md, int g) { return md->dev[g]; }
const char *ia_md_describe(const ia_md *md) { return md->desc; }

size_t ia_md_free_bytes(const ia_md *md) {
  size_t least = SIZE_MAX;
  for (int g = 0; g < md->ndev; g++) {
    size_t f = ia_backend_free_bytes(md->dev[g]);
    if (f < least) least = f;
  }
  return least;
}

typedef struct {
  ia_md *md;
  ia_md_fn fn;
  void *arg;
  int g;
  ia_status st;
} each_job;

static void *each_run(void *p) {
  each_job *j = p;
  j->st = j->fn(j->md, j->g, j->arg);
  return NULL;
}

ia_status ia_md_each(ia_md *md, ia_md_fn fn, void *arg) {
  each_job job[IA_MD_MAX];
  pthread_t th[IA_MD_MAX];
  int started[IA_MD_MAX] = {0};
  int threads = ia_backend_device(md->dev[0]) == IA_DEVICE_CUDA && md->ndev > 1;
  for (int g = 0; g < md->ndev; g++) {
    job[g] = (each_job){md, fn, arg, g, IA_OK};
    if (threads && g > 0) started[g] = pthread_create(&th[g], NULL, each_run, &job[g]) == 0;
  }
  for (int g = 0; g < md->ndev; g++)
    if (g == 0 || !threads) each_run(&job[g]);
  for (int g = 1; g < md->ndev; g++)
    if (started[g])
      pthread_join(th[g], NULL);
    else if (threads)
      job[g].st = ia_error_set(IA_ERR_INTERNAL, __FILE__, __LINE__,
                               "cannot start the host thread of device %d", g);
  for (int g = 0; g < md->ndev; g++)
    if (job[g].st != IA_OK) return job[g].st;
  return IA_OK;
}

/* ---- layout ------------------------------------------------------------------ */

int64_t ia_md_local_cols(const ia_md_mat *a, int g) {
  return ia_numroc(a->cols, a->nb, g, a->ndev);
}

int64_t ia_md_global_col(const ia_md_mat *a, int g, int64_t j) {
  return ia_l2g(j, a->nb, g, a->ndev);
}

static int64_t n_tiles(const ia_md_mat *a) { return (a->cols + a->nb - 1) / a->nb; }
static int tile_dev(const ia_md_mat *a, int64_t t) { return (int)(t % a->ndev); }
static int64_t tile_width(const ia_md_mat *a, int64_t t) {
  int64_t w = a->cols - t * a->nb;
  return w < a->nb ? w : a->nb;
}

/* Element (row, first column) of tile t. */
static char *tile_at(const ia_md_mat *a, int64_t t, int64_t row) {
  size_t es = esize(a->prec);
  size_t col = (size_t)(t / a->ndev) * (size_t)a->nb;
  return (char *)a->part[tile_dev(a, t)] + es * (col * (size_t)a->rows + (size_t)row);
}

/* As cusolverMg's own examples allocate: ⌈tiles/G⌉ whole tiles on every
 * device, the last one padded to nb columns. */
static size_t part_bytes(const ia_md_mat *a, int g) {
  (void)g;
  int64_t c = (n_tiles(a) + a->ndev - 1) / a->ndev * a->nb;
  return esize(a->prec) * (size_t)(a->rows > 0 ? a->rows : 1) * (size_t)(c > 0 ? c : 1);
}

ia_status ia_md_alloc(ia_md *md, ia_precision p, int64_t rows, int64_t cols, int64_t nb,
                      const char *what, ia_md_mat *out) {
  memset(out, 0, sizeof *out);
  IA_CHECK(nb >= 1 && rows >= 0 && cols >= 0, IA_ERR_ARG, "bad multi-device matrix shape");
  *out = (ia_md_mat){.prec = p, .rows = rows, .cols = cols, .nb = nb, .ndev = md->ndev};
  for (int g = 0; g < md->ndev; g++) {
    ia_status st = ia_be_alloc(md->dev[g], part_bytes(out, g), what, &out->part[g]);
    if (st != IA_OK) {
      ia_md_free(md, out);
      return st;
    }
  }
  return IA_OK;
}

void ia_md_free(ia_md *md, ia_md_mat *a) {
  for (int g = 0; g < a->ndev && g < md->ndev; g++) ia_be_free(md->dev[g], a->part[g]);
  memset(a, 0, sizeof *a);
}

/* Each tile's diagonal block is the w × w square at row t·nb. */
ia_status ia_md_diag_add(ia_md *md, ia_md_mat *a, double v) {
  for (int64_t t = 0; t < n_tiles(a) && t * a->nb < a->rows; t++) {
    int64_t w = tile_width(a, t);
    if (w > a->rows - t * a->nb) w = a->rows - t * a->nb;
    IA_CALL(
        ia_be_diag_add(md->dev[tile_dev(a, t)], a->prec, w, tile_at(a, t, t * a->nb), a->rows, v));
  }
  return IA_OK;
}

ia_status ia_md_diag_sum(ia_md *md, const ia_md_mat *a, double *sum) {
  double s = 0;
  for (int64_t t = 0; t < n_tiles(a) && t * a->nb < a->rows; t++) {
    int64_t w = tile_width(a, t);
    if (w > a->rows - t * a->nb) w = a->rows - t * a->nb;
    double part = 0;
    IA_CALL(ia_be_diag_sum(md->dev[tile_dev(a, t)], a->prec, w, tile_at(a, t, t * a->nb), a->rows,
                           &part));
    s += part;
  }
  *sum = s;
  return IA_OK;
}

/* Tile by tile between the primary's (or host) matrix and the devices. */
static ia_status move_tiles(ia_md *md, const ia_md_mat *a, void *prim, int on_host, int64_t ld,
                            int to_devs) {
  size_t es = esize(a->prec);
  for (int64_t t = 0; t < n_tiles(a); t++) {
    char *p = (char *)prim + es * (size_t)(t * a->nb) * (size_t)ld;
    char *q = tile_at(a, t, 0);
    ia_backend *b = md->dev[tile_dev(a, t)];
    size_t width = es * (size_t)a->rows;
    size_t pp = es * (size_t)ld, pq = es * (size_t)a->rows;
    int64_t w = tile_width(a, t);
    if (to_devs && on_host)
      IA_CALL(ia_be_upload2d(b, q, pq, p, pp, width, w));
    else if (to_devs)
      IA_CALL(ia_be_copy_peer(b, q, pq, md->dev[0], p, pp, width, w));
    else if (on_host)
      IA_CALL(ia_be_download2d(b, p, pp, q, pq, width, w));
    else
      IA_CALL(ia_be_copy_peer(md->dev[0], p, pp, b, q, pq, width, w));
  }
  return IA_OK;
}

ia_status ia_md_scatter(ia_md *md, const void *src, int on_host, int64_t ld, ia_md_mat *dst) {
  return move_tiles(md, dst, (void *)src, on_host, ld, 1);
}

ia_status ia_md_gather(ia_md *md, const ia_md_mat *a, void *dst, int on_host, int64_t ld) {
  return move_tiles(md, a, dst, on_host, ld, 0);
}

ia_status ia_md_get(ia_md *md, const ia_md_mat *a, int64_t i, int64_t j, double *v) {
  IA_CHECK(i >= 0 && j >= 0 && i < a->rows && j < a->cols, IA_ERR_ARG,
           "(%lld, %lld) is outside the matrix", (long long)i, (long long)j);
  int64_t t = j / a->nb;
  size_t es = esize(a->prec);
  double d = 0;
  float f = 0;
  IA_CALL(ia_be_download(md->dev[tile_dev(a, t)], a->prec == IA_FP64 ? (void *)&d : (void *)&f,
                         tile_at(a, t, i) + es * (size_t)(j - t * a->nb) * (size_t)a->rows, es));
  *v = a->prec == IA_FP64 ? d : (double)f;
  return IA_OK;
}

/* ---- factor and solves on host tiles ------------------------------------------ */

/* Right-looking: factor the diagonal block of tile t, solve the rows below
 * it, update every later tile with the new panel. */
static ia_status host_potrf(ia_md *md, ia_md_mat *a, int64_t *info) {
  ia_backend *b = md->dev[0];
  int64_t n = a->rows, nb = a->nb;
  *info = 0;
  for (int64_t t = 0; t < n_tiles(a); t++) {
    int64_t k0 = t * nb, w = tile_width(a, t), below = n - k0 - w;
    char *lt = tile_at(a, t, k0);
    int64_t in = 0;
    IA_CALL(ia_be_potrf(b, a->prec, w, lt, n, &in));
    if (in > 0) {
      *info = k0 + in;
      return IA_OK;
    }
    if (below <= 0) continue;
    char *l21 = tile_at(a, t, k0 + w);
    IA_CALL(ia_be_trsm(b, a->prec, 'R', 'T', below, w, lt, n, l21, n));
    for (int64_t j = t + 1; j < n_tiles(a); j++) {
      int64_t j0 = j * nb, wj = tile_width(a, j);
      const char *lj = tile_at(a, t, j0); /* rows of the panel from tile j's first row */
      IA_CALL(ia_be_gemm(b, a->prec, 'N', 'T', n - j0, wj, w, -1.0, lj, n, lj, n, 1.0,
                         tile_at(a, j, j0), n));
    }
  }
  return IA_OK;
}

/* L·Y = B top to bottom, then Lᵀ·X = Y bottom to top, one tile of L at a
 * time for all of each device's right-hand sides. */
static ia_status host_potrs(ia_md *md, const ia_md_mat *l, ia_md_mat *bm) {
  ia_backend *b = md->dev[0];
  int64_t n = l->rows, nb = l->nb;
  size_t es = esize(l->prec);
  for (int g = 0; g < bm->ndev; g++) {
    int64_t r = ia_md_local_cols(bm, g);
    char *x = bm->part[g];
    if (r <= 0) continue;
    for (int64_t t = 0; t < n_tiles(l); t++) {
      int64_t k0 = t * nb, w = tile_width(l, t), below = n - k0 - w;
      char *xt = x + es * (size_t)k0;
      IA_CALL(ia_be_trsm(b, l->prec, 'L', 'N', w, r, tile_at(l, t, k0), n, xt, n));
      if (below > 0)
        IA_CALL(ia_be_gemm(b, l->prec, 'N', 'N', below, r, w, -1.0, tile_at(l, t, k0 + w), n, xt, n,
                           1.0, xt + es * (size_t)w, n));
    }
    for (int64_t t = n_tiles(l) - 1; t >= 0; t--) {
      int64_t k0 = t * nb, w = tile_width(l, t), below = n - k0 - w;
      char *xt = x + es * (size_t)k0;
      if (below > 0)
        IA_CALL(ia_be_gemm(b, l->prec, 'T', 'N', w, r, below, -1.0, tile_at(l, t, k0 + w), n,
                           xt + es * (size_t)w, n, 1.0, xt, n));
      IA_CALL(ia_be_trsm(b, l->prec, 'L', 'T', w, r, tile_at(l, t, k0), n, xt, n));
    }
  }
  return IA_OK;
}

ia_status ia_md_potrf(ia_md *md, ia_md_mat *a, int64_t *info) {
  IA_CHECK(a->rows == a->cols && a->ndev == md->ndev, IA_ERR_INTERNAL,
           "ia_md_potrf of a matrix that is not square on these devices");
  *info = 0;
  if (a->rows == 0) return IA_OK;
#if IA_HAVE_CUDA
  if (md->mg) return ia_cuda_mg_potrf(md->mg, a->prec, a->rows, a->nb, a->part, info);
#endif
  return host_potrf(md, a, info);
}

ia_status ia_md_potrs(ia_md *md, const ia_md_mat *l, ia_md_mat *bm) {
  IA_CHECK(bm->rows == l->rows && bm->prec == l->prec && bm->ndev == md->ndev, IA_ERR_INTERNAL,
           "ia_md_potrs with a right-hand side of another shape");
  if (l->rows == 0 || bm->cols == 0) return IA_OK;
#if IA_HAVE_CUDA
  if (md->mg)
    return ia_cuda_mg_potrs(md->mg, l->prec, l->rows, l->nb, l->part, bm->cols, bm->nb, bm->part);
#endif
  return host_potrs(md, l, bm);
}

/* ---- product with the primary ---------------------------------------------------- */

ia_status ia_md_gemm(ia_md *md, const ia_md_mat *a, const void *bm, int64_t ldb, int64_t n, void *c,
                     int64_t ldc, int on_host, int64_t block_bytes) {
  ia_status st = IA_OK;
  size_t es = esize(a->prec);
  int64_t m = a->rows, G = md->ndev;
  void *brows[IA_MD_MAX] = {0}, *cpart[IA_MD_MAX] = {0}, *sum = NULL;
  if (m <= 0 || n <= 0) return IA_OK;
  if (block_bytes <= 0) block_bytes = (int64_t)256 << 20;
  int64_t cw = block_bytes / (int64_t)es / m;
  if (cw < 1) cw = 1;
  if (cw > n) cw = n;
  /* Every device: its rows of B and its part of C, a block of columns at a
   * time; the primary multiplies its own tiles into C directly (on_host:
   * into its part, which goes to the host when the others are added). */
  for (int g = 0; g < G && st == IA_OK; g++) {
    int64_t k = ia_md_local_cols(a, g) > 0 ? ia_md_local_cols(a, g) : 1;
    st = ia_be_alloc(md->dev[g], es * (size_t)k * (size_t)cw, "rows of α on a device", &brows[g]);
    if (st == IA_OK && (g > 0 || on_host))
      st = ia_be_alloc(md->dev[g], es * (size_t)m * (size_t)cw, "product part on a device",
                       &cpart[g]);
  }
  if (st == IA_OK && G > 1)
    st = ia_be_alloc(md->dev[0], es * (size_t)m * (size_t)cw, "product part", &sum);
  for (int64_t c0 = 0; c0 < n && st == IA_OK; c0 += cw) {
    int64_t w = n - c0 < cw ? n - c0 : cw;
    for (int g = 0; g < G && st == IA_OK; g++) {
      int64_t k = ia_md_local_cols(a, g);
      if (k <= 0) continue;
      /* Rows [t·nb, t·nb + width) of B for each tile t of device g. */
      for (int64_t t = g, l = 0; t < n_tiles(a) && st == IA_OK; t += G, l++) {
        char *dst = (char *)brows[g] + es * (size_t)(l * a->nb);
        const char *src = (const char *)bm + es * ((size_t)(t * a->nb) + (size_t)c0 * (size_t)ldb);
        size_t width = es * (size_t)tile_width(a, t);
        st = on_host
                 ? ia_be_upload2d(md->dev[g], dst, es * (size_t)k, src, es * (size_t)ldb, width, w)
                 : ia_be_copy_peer(md->dev[g], dst, es * (size_t)k, md->dev[0], src,
                                   es * (size_t)ldb, width, w);
      }
      if (st != IA_OK) break;
      int direct = g == 0 && !on_host;
      void *out = direct ? (char *)c + es * (size_t)c0 * (size_t)ldc : cpart[g];
      st = ia_be_gemm(md->dev[g], a->prec, 'N', 'N', m, w, k, 1.0, a->part[g], m, brows[g], k, 0.0,
                      out, direct ? ldc : m);
    }
    void *acc = on_host ? cpart[0] : (char *)c + es * (size_t)c0 * (size_t)ldc;
    int64_t lda = on_host ? m : ldc;
    /* Devices without tiles (more devices than tiles) add nothing. */
    for (int g = 1; g < G && st == IA_OK; g++) {
      if (ia_md_local_cols(a, g) <= 0) continue;
      st = ia_be_copy_peer(md->dev[0], sum, es * (size_t)m, md->dev[g], cpart[g], es * (size_t)m,
                           es * (size_t)m, w);
      if (st == IA_OK) st = ia_be_add(md->dev[0], a->prec, 'N', m, w, sum, m, acc, lda);
    }
    if (on_host && st == IA_OK)
      st = ia_be_download2d(md->dev[0], (char *)c + es * (size_t)c0 * (size_t)ldc, es * (size_t)ldc,
                            cpart[0], es * (size_t)m, es * (size_t)m, w);
  }
  for (int g = 0; g < G; g++) {
    ia_be_free(md->dev[g], brows[g]);
    ia_be_free(md->dev[g], cpart[g]);
  }
  ia_be_free(md->dev[0], sum);
  return st;
}
