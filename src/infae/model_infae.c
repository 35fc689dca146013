#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_impl.h"
#include "infae/io/dataset.h"
#include "infae/infae/infae.h"
#include "infae/core/log.h"
#include "infae/dist/multidev.h"
#include "infae/core/ntk.h"
#include "infae/dist/summa.h"
#include "dist/scalapack.h"

/* Arrays are void * of element size es: double (fp64) or float (fp32). The
 * Gram of binary rows is exact in either; the NTK is evaluated in double.
 *
 * On one rank the arrays live in the backend's memory (the GPU's with CUDA)
 * and LAPACK or cuSOLVER solves; on a grid of several ranks they are
 * ScaLAPACK's block-cyclic arrays on the host, and each rank's backend (its
 * GPU) makes its kernel tiles and its part of the Cholesky factors,
 * triangular solves, Nyström's products and prediction products
 * (infae/dist/summa.h). The predictions
 * for the evaluation stay in the backend on one rank (ranked there,
 * src/eval/rank_eval.c) and come to the host rows on a grid.
 *
 * One rank on several devices (opts.md, the exact fit only): K, its factor
 * and the right-hand side X are spread over the devices in column tiles
 * (infae/dist/multidev.h) and each device makes its own tiles of K and NTK(C, X).
 * α, the kept α and the predictions wait in host memory, so that the first
 * device has room for its tiles; the evaluation uploads a block of users'
 * rows at a time (ia_infae_score_cols). */
struct ia_infae {
  ia_grid g;
  ia_backend *be;
  int arrays_on_backend; /* one rank: no ScaLAPACK */
  ia_md *md;             /* one rank, several devices (NULL: one) */
  ia_md_mat mk, mx;      /* there: K (or NTK(C, X)) and its factor, X solved into α */
  ia_csr mfc[IA_MD_MAX]; /* fit users of each device's column tiles */
  double *mnc[IA_MD_MAX];
  ia_be_csr *mcol[IA_MD_MAX], *mtr[IA_MD_MAX], *mva[IA_MD_MAX]; /* on device g */
  int nb;
  ia_precision prec;
  size_t es;
  int64_t n, d, u;       /* users, items, fit users */
  int sampled;           /* fit on a sample: predictions need NTK(C, X)·α */
  int nystrom;           /* the sample are Nyström centers (sampled is set too) */
  int64_t *fit;          /* (u) fit user indices, or NULL for all */
  /* Rows held here (CSR): fit users of the local row and column blocks of K,
   * and every user of the local row blocks over n (the contexts). */
  ia_csr fr, fc, ctr, cva; /* ctr aliases fr when not sampled, fc on one rank */
  ia_be_csr *bfr, *bfc, *bctr, *bcva; /* the same rows, for the backend */
  double *nfr, *nfc;     /* |x|² of fr, fc rows */
  int64_t mu, nu, mn, dl; /* local sizes: U rows, U cols, n rows, d cols */
  void *k, *kf, *a, *best, *pc, *kc, *rows;
  void *kg, *rhs;        /* Nyström: ΦᵀΦ (U × U) and ΦᵀX (U × d); k holds L, kc Φ */
  int desc_k[IA_DLEN], desc_a[IA_DLEN], desc_kc[IA_DLEN], desc_p[IA_DLEN];
  int64_t r_ld;          /* leading dimension of `rows`, set by to_rows */
  double trace, lam_prime, best_lam_prime;
  double trace_count;    /* λ' = λ·trace/trace_count */
  int have_kernel, have_alpha, have_best, have_cross;
  int have_gram;         /* ia_infae_gram done (several devices remake K from it) */
  int pred_mode;         /* 0 none, 1: X − λ'α, 2: direct */
  const void *pred_src;  /* one rank: α or the predictions, in the backend (ld r_ld) */
  double pred_lam_prime;
  int64_t panel_bytes;
  int said_host_solve;   /* the log line for an X/α too large for the GPUs */
  int said_host_factor;  /* the same for K */
  ia_infae_stats stats;
};

static ia_status desc(int *dsc, int64_t m, int64_t n, int64_t mb, int64_t nb, int ctxt,
                      int64_t lld) {
  int im, in, imb, inb, ild, zero = 0, info = 0;
  IA_CALL(ia_to_int(m, &im));
  IA_CALL(ia_to_int(n, &in));
  IA_CALL(ia_to_int(mb < 1 ? 1 : mb, &imb));
  IA_CALL(ia_to_int(nb < 1 ? 1 : nb, &inb));
  IA_CALL(ia_to_int(lld < 1 ? 1 : lld, &ild));
  descinit_(dsc, &im, &in, &imb, &inb, &zero, &zero, &ctxt, &ild, &info);
  IA_CHECK(info == 0, IA_ERR_INTERNAL, "descinit failed (argument %d)", -info);
  return IA_OK;
}

static double allsum(MPI_Comm comm, double v) {
  MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_SUM, comm);
  return v;
}

void ia_infae_plan_make(int64_t n, int64_t d, int64_t u, int64_t nnz, int size, int nprow,
                        int npcol, int nb, ia_precision p, int keep_kernel, int nystrom,
                        int64_t panel_bytes, ia_infae_plan *o) {
  memset(o, 0, sizeof *o);
  if (nprow <= 0 || npcol <= 0) ia_grid_shape(size, &nprow, &npcol);
  o->nprow = nprow;
  o->npcol = npcol;
  o->nystrom = nystrom;
  if (panel_bytes <= 0) panel_bytes = 256 << 20;
  double es = p == IA_FP64 ? 8.0 : 4.0;
  int sampled = u < n || nystrom;
  /* Process (0, 0) holds the most of every block-cyclic array. */
  double mu = (double)ia_numroc(u, nb, 0, nprow), nu = (double)ia_numroc(u, nb, 0, npcol);
  double mn = (double)ia_numroc(n, nb, 0, nprow), dl = (double)ia_numroc(d, nb, 0, npcol);
  double rows = (double)((n + size - 1) / size);
  double kk = es * mu * nu;
  /* The test kernel NTK(C, X) is n × n over the same buffer when not sampled. */
  o->bytes_kernel = kk * (nystrom ? 3 : keep_kernel ? 2 : 1);
  o->bytes_rhs = es * mu * dl * (nystrom ? 3 : 2) + (sampled ? es * mn * dl : 0);
  o->bytes_cross = sampled ? es * mn * nu : 0;
  o->bytes_rows = es * rows * (double)d;
  double wmax = (double)ia_be_panel_width((int64_t)(mn + nu), d, (size_t)es, panel_bytes);
  o->bytes_panels = es * (mn + nu) * wmax;
  /* infae/dist/summa.h on a grid: the widest of its panel sets, nb wide (the
   * factor's panel, block row and the transposed panel's send and receive
   * buffers; the solves' and products' panels), and a diagonal block. */
  if (size > 1) {
    double w = fmax(mu + 3.0 * nu, fmax(mu + dl, mn + fmax(nu, dl)));
    o->bytes_summa = es * ((double)nb * w + (double)nb * nb);
  }
  /* GPU ranks. One rank: K, X/α, NTK(C, X) and the panels, and the FP32
   * Gram tile of fp64 kernels. A grid: infae/dist/summa.h keeps one array on the
   * device per step (ia_summa_fits: the local part, a panel, a diagonal
   * block and a block row); the Gram's tiles are made there a few column
   * blocks at a time (kernel_tiles). */
  if (size == 1) {
    o->bytes_device = o->bytes_kernel + o->bytes_rhs + o->bytes_cross + o->bytes_panels;
    if (p == IA_FP64)
      o->bytes_device +=
          4.0 * (double)(sampled ? n : u) * (double)ia_be_ntk_stage_cols(u, nb);
  } else {
    int64_t ml = (int64_t)mu, nl = (int64_t)nu, ml_all = (int64_t)mn, dloc = (int64_t)dl;
    double r = fmax(ia_summa_resident_bytes(p, ml, nl, nb), ia_summa_resident_bytes(p, ml, dloc, nb));
    if (nystrom)
      r = fmax(r, fmax(ia_summa_resident_bytes(p, ml_all, nl, nb),
                       ia_summa_resident_bytes(p, ml_all, dloc, nb)));
    /* A tile of a few column blocks, its FP16 item panels, its FP32 Gram. */
    double cols = fmin(nu, fmax((double)nb, floor((double)panel_bytes / (es * mn) / nb) * nb));
    double w16 = (double)ia_be_panel_width((int64_t)(mn + cols), d, 2, panel_bytes);
    double tile = es * mn * cols + 2.0 * (mn + cols) * w16 + (p == IA_FP64 ? 4.0 * mn * cols : 0);
    o->bytes_device = fmax(r, tile);
  }
  /* CSR rows: the fit rows of the local blocks, the contexts, the evaluation
   * block (4 splits), at 4 bytes per interaction (nnz/n per user) + 8 per row. */
  double per_user = 4.0 * (double)nnz / (double)n * 1.25 + 8.0;
  o->bytes_data = per_user * (mu + nu + (sampled ? 2 * mn : mn) + 4 * rows) + 8.0 * (mu + nu);
  o->bytes_total = o->bytes_kernel + o->bytes_rhs + o->bytes_cross + o->bytes_rows +
                   o->bytes_panels + o->bytes_summa + o->bytes_data;
  double U = (double)u, N = (double)n, D = (double)d;
  o->flops_gram = U * U * D;             /* lower triangle of 2·U²·d */
  if (sampled) o->flops_gram += 2.0 * N * U * D; /* NTK(X_all, X_fit), once */
  /* Nyström: Cholesky of K_mm, Φ = K_nm·L⁻ᵀ, ΦᵀΦ, ΦᵀX. */
  if (nystrom) o->flops_gram += U * U * U / 3.0 + 2.0 * N * U * U + 2.0 * N * U * D;
  o->flops_factor = U * U * U / 3.0;     /* per λ */
  o->flops_solve = 2.0 * U * U * D;      /* per λ */
  o->flops_predict = sampled ? 2.0 * N * U * D : 0; /* per λ (X − λ'α needs none) */
  /* (Nyström: K_nm made for the fit is reused by the validation predictions.) */
  o->flops_test = 2.0 * N * U * D * 2.0; /* NTK(C, X) and its product with α */
}

void ia_infae_md_bytes(int64_t n, int64_t d, int nb, ia_precision p, int gpus,
                       double *per_device, double *first) {
  double es = p == IA_FP64 ? 8.0 : 4.0, G = gpus > 0 ? gpus : 1, U = (double)n, D = (double)d;
  /* Whole tiles on the device with the most (multidev.c pads the last). */
  double cols = ceil(ceil(U / nb) / G) * nb, xcols = ceil(ceil(D / nb) / G) * nb;
  /* Gram panels, and the test product's part of C and rows of α. */
  double blocks = 4.0 * 256.0 * 1048576.0;
  /* K is remade for each λ, never copied (md_fit). */
  double dev = es * U * cols + es * U * xcols + blocks;
  if (p == IA_FP64) dev += 4.0 * U * (double)ia_be_ntk_stage_cols((int64_t)cols, nb);
  *per_device = dev;
  *first = dev + 256.0 * 1048576.0; /* the sum of the parts */
}

/* ---- rows and tiles ---------------------------------------------------- */

/* Users at the positions of [0, count) that the process coordinate `me` of
 * `np` owns in blocks of nb, mapped through fit (NULL: identity). */
static ia_status owned_users(int64_t count, int64_t nb, int me, int np, const int64_t *fit,
                             int64_t **out, int64_t *n_out) {
  int64_t m = ia_numroc(count, nb, me, np);
  int64_t *v = NULL;
  IA_CALL(IA_ALLOC(v, m > 0 ? m : 1, "row list"));
  for (int64_t l = 0; l < m; l++) {
    int64_t pos = ia_l2g(l, nb, me, np);
    v[l] = fit ? fit[pos] : pos;
  }
  *out = v;
  *n_out = m;
  return IA_OK;
}

/* Reads the rows and hands them to the backend. */
static ia_status read_rows(ia_infae *m, const char *path, const char *split, int64_t count,
                           int me, int np, const int64_t *fit, ia_csr *out, ia_be_csr **bout) {
  int64_t *rows = NULL, n = 0;
  ia_status st = owned_users(count, m->nb, me, np, fit, &rows, &n);
  st = ia_agree(m->g.comm, st);
  if (st == IA_OK) st = ia_dataset_read_rows(m->g.comm, path, split, rows, n, out);
  free(rows);
  IA_CALL(st);
  return ia_agree(m->g.comm, ia_be_csr_make(m->be, out, bout));
}

/* |a_r ∪ b_r| for sorted rows. */
static int64_t union_count(const ia_csr *a, const ia_csr *b, int64_t r) {
  const int32_t *x = a->indices + a->indptr[r], *y = b->indices + b->indptr[r];
  int64_t nx = a->indptr[r + 1] - a->indptr[r], ny = b->indptr[r + 1] - b->indptr[r];
  int64_t i = 0, j = 0, c = 0;
  while (i < nx && j < ny) {
    if (x[i] == y[j])
      i++, j++;
    else if (x[i] < y[j])
      i++;
    else
      j++;
    c++;
  }
  return c + (nx - i) + (ny - j);
}

/* Several devices: each makes its column tiles of NTK(rows, X) into mk, with
 * rows the train rows of every user (∪ their validation rows), on a host
 * thread of its own. */
typedef struct {
  ia_infae *m;
  int with_val, sym;
  const double *nr;
  double flops[IA_MD_MAX];
} md_tile_job;

static ia_status md_tile_one(ia_md *md, int g, void *arg) {
  md_tile_job *j = arg;
  ia_infae *m = j->m;
  ia_be_layout lay = {m->nb, 0, 1, g, ia_md_count(md), j->sym};
  int64_t nloc = ia_md_local_cols(&m->mk, g);
  if (nloc <= 0) return IA_OK;
  return ia_be_ntk_tiles(ia_md_backend(md, g), m->prec, m->mtr[g], j->with_val ? m->mva[g] : NULL,
                         j->nr, m->mcol[g], m->mnc[g], &lay, 0, nloc, m->d, m->panel_bytes,
                         m->mk.part[g], m->u, &j->flops[g]);
}

static ia_status md_tiles(ia_infae *m, int with_val, const double *nr, int sym, double *flops) {
  md_tile_job j = {.m = m, .with_val = with_val, .sym = sym, .nr = nr};
  IA_CALL(ia_md_each(m->md, md_tile_one, &j));
  for (int g = 0; g < ia_md_count(m->md); g++) *flops += j.flops[g];
  return IA_OK;
}

/* Local tiles of NTK(rows, cols) into k (mloc × nloc, in the arrays' memory):
 * rows = ra (∪ rb) with squared norms nr, the local row blocks of a matrix
 * whose columns are cols (norms nc), the local column blocks. sym: the lower
 * triangle of K. On a GPU with ScaLAPACK arrays on the host, the tiles are
 * made on the device a few column blocks at a time and copied back. Returns
 * the flops done here. */
static ia_status kernel_tiles(ia_infae *m, const ia_be_csr *ra, const ia_be_csr *rb,
                              const double *nr, const ia_be_csr *cols, const double *nc, int sym,
                              void *k, int64_t mloc, int64_t nloc, double *flops) {
  const ia_grid *g = &m->g;
  ia_be_layout lay = {m->nb, g->myrow, g->nprow, g->mycol, g->npcol, sym};
  *flops = 0;
  if (mloc <= 0 || nloc <= 0) return IA_OK;
  if (m->md) return md_tiles(m, rb != NULL, nr, sym, flops);
  if (m->arrays_on_backend || ia_backend_device(m->be) == IA_DEVICE_CPU)
    return ia_be_ntk_tiles(m->be, m->prec, ra, rb, nr, cols, nc, &lay, 0, nloc, m->d,
                           m->panel_bytes, k, mloc, flops);
  ia_status st = IA_OK;
  int64_t cw = m->panel_bytes / ((int64_t)m->es * mloc) / m->nb * m->nb;
  if (cw < m->nb) cw = m->nb;
  if (cw > nloc) cw = nloc;
  void *buf = NULL;
  IA_CALL(ia_be_alloc(m->be, m->es * (size_t)mloc * (size_t)cw, "kernel tile on the GPU", &buf));
  for (int64_t c0 = 0; c0 < nloc && st == IA_OK; c0 += cw) {
    int64_t c1 = c0 + cw < nloc ? c0 + cw : nloc;
    double f = 0;
    st = ia_be_ntk_tiles(m->be, m->prec, ra, rb, nr, cols, nc, &lay, c0, c1, m->d,
                         m->panel_bytes, buf, mloc, &f);
    if (st == IA_OK)
      st = ia_be_download(m->be, (char *)k + m->es * (size_t)c0 * (size_t)mloc, buf,
                          m->es * (size_t)mloc * (size_t)(c1 - c0));
    *flops += f;
  }
  ia_be_free(m->be, buf);
  return st;
}

/* ---- life cycle ------------------------------------------------------- */

/* Bytes of a local rows × cols array (at least one element: ScaLAPACK wants
 * a leading dimension ≥ 1 even on a rank that holds nothing). */
static size_t local_bytes(const ia_infae *m, int64_t rows, int64_t cols) {
  return m->es * (size_t)(rows > 0 ? rows : 1) * (size_t)(cols > 0 ? cols : 1);
}

/* Allocation, release and copies of the model's arrays, wherever they live. */
static ia_status alloc_array(ia_infae *m, void **p, int64_t rows, int64_t cols, const char *what) {
  size_t bytes = local_bytes(m, rows, cols);
  return m->arrays_on_backend ? ia_be_alloc(m->be, bytes, what, p) : ia_malloc(bytes, what, p);
}

static void free_array(ia_infae *m, void *p) {
  if (m->arrays_on_backend)
    ia_be_free(m->be, p);
  else
    free(p);
}

static ia_status copy_array(ia_infae *m, void *dst, const void *src, size_t bytes) {
  if (m->arrays_on_backend) return ia_be_copy(m->be, dst, src, bytes);
  memcpy(dst, src, bytes);
  return IA_OK;
}

/* Element `at` of a local host array, in the precision of the model. */
static double get(const ia_infae *m, const void *p, size_t at) {
  return m->prec == IA_FP64 ? ((const double *)p)[at] : (double)((const float *)p)[at];
}

static void put(const ia_infae *m, void *p, size_t at, double v) {
  if (m->prec == IA_FP64)
    ((double *)p)[at] = v;
  else
    ((float *)p)[at] = (float)v;
}

/* Whether local column j of a U × U array holds its diagonal entry here, and
 * where. */
static int diag_at(const ia_infae *m, int64_t j, size_t *at) {
  const ia_grid *g = &m->g;
  int64_t gj = ia_l2g(j, m->nb, g->mycol, g->npcol);
  if (ia_g2p(gj, m->nb, g->nprow) != g->myrow) return 0;
  *at = (size_t)j * (size_t)m->mu + (size_t)ia_g2l(gj, m->nb, g->nprow);
  return 1;
}

/* Several devices: K (and its factor) U × U and X/α U × d in column tiles,
 * and on each device the rows its tiles need. */
static ia_status md_create(ia_infae *m, const char *path) {
  int G = ia_md_count(m->md);
  IA_CALL(ia_md_alloc(m->md, m->prec, m->u, m->u, m->nb, "kernel matrix K (a device's tiles)",
                      &m->mk));
  IA_CALL(ia_md_alloc(m->md, m->prec, m->u, m->d, m->nb, "right-hand side X / α (a device's tiles)",
                      &m->mx));
  for (int g = 0; g < G; g++) {
    ia_backend *b = ia_md_backend(m->md, g);
    int64_t *rows = NULL, n = 0;
    IA_CALL(owned_users(m->u, m->nb, g, G, NULL, &rows, &n));
    ia_status st = ia_dataset_read_rows(m->g.comm, path, "train", rows, n, &m->mfc[g]);
    free(rows);
    IA_CALL(st);
    IA_CALL(IA_ALLOC(m->mnc[g], n + 1, "column norms"));
    for (int64_t j = 0; j < n; j++)
      m->mnc[g][j] = (double)(m->mfc[g].indptr[j + 1] - m->mfc[g].indptr[j]);
    IA_CALL(ia_be_csr_make(b, &m->mfc[g], &m->mcol[g]));
    if (g == 0) continue; /* the primary has them already: bfr, bcva */
    IA_CALL(ia_be_csr_make(b, &m->fr, &m->mtr[g]));
    IA_CALL(ia_be_csr_make(b, &m->cva, &m->mva[g]));
  }
  return IA_OK;
}

ia_status ia_infae_create(const ia_grid *g, const char *path, const ia_infae_opts *o,
                          ia_infae **out) {
  ia_status st = IA_OK;
  ia_infae *m = NULL;
  double t0 = ia_time();
  *out = NULL;
  st = IA_ZALLOC(m, 1, "∞-AE state");
  if (ia_agree(g->comm, st) != IA_OK) {
    free(m);
    return IA_ERR_REMOTE;
  }
  m->g = *g;
  m->be = o->backend;
  m->arrays_on_backend = g->size == 1;
  m->md = o->md;
  IA_CHECK_GOTO(m->be != NULL, IA_ERR_INTERNAL, "ia_infae_create without a backend");
  m->nb = o->nb > 0 ? o->nb : 256;
  m->prec = o->precision;
  m->es = m->prec == IA_FP64 ? sizeof(double) : sizeof(float);
  m->panel_bytes = o->panel_bytes > 0 ? o->panel_bytes : (int64_t)256 << 20;
  IA_CALL_GOTO(ia_dataset_dims(g->comm, path, &m->n, &m->d));
  m->nystrom = o->nystrom;
  m->sampled = o->fit_users != NULL && (o->n_fit < m->n || m->nystrom);
  IA_CHECK_GOTO(!m->nystrom || m->sampled, IA_ERR_INTERNAL, "Nyström without centers");
  m->u = m->sampled ? o->n_fit : m->n;
  IA_CHECK_GOTO(m->u >= 1, IA_ERR_ARG, "the model needs at least one fit user");
  IA_CHECK_GOTO(!m->md || (g->size == 1 && !m->sampled && ia_md_backend(m->md, 0) == m->be),
                IA_ERR_ARG,
                "several devices per rank need one rank and the exact fit (no --train-users or "
                "--centers)");
  if (m->sampled) {
    st = IA_ALLOC(m->fit, m->u, "fit users");
    if (st == IA_OK) memcpy(m->fit, o->fit_users, sizeof(int64_t) * (size_t)m->u);
    IA_CALL_GOTO(ia_agree(g->comm, st));
  }
  int nb = m->nb;
  IA_CALL_GOTO(read_rows(m, path, "train", m->u, g->myrow, g->nprow, m->fit, &m->fr, &m->bfr));
  if (g->size == 1) { /* one rank: the column blocks' rows are the row blocks' */
    m->fc = m->fr;
    m->bfc = m->bfr;
  } else {
    IA_CALL_GOTO(read_rows(m, path, "train", m->u, g->mycol, g->npcol, m->fit, &m->fc, &m->bfc));
  }
  if (m->sampled)
    IA_CALL_GOTO(read_rows(m, path, "train", m->n, g->myrow, g->nprow, NULL, &m->ctr, &m->bctr));
  IA_CALL_GOTO(read_rows(m, path, "val", m->n, g->myrow, g->nprow, NULL, &m->cva, &m->bcva));
  m->mu = ia_numroc(m->u, nb, g->myrow, g->nprow);
  m->nu = ia_numroc(m->u, nb, g->mycol, g->npcol);
  m->mn = ia_numroc(m->n, nb, g->myrow, g->nprow);
  m->dl = ia_numroc(m->d, nb, g->mycol, g->npcol);
  st = IA_ALLOC(m->nfr, m->mu + 1, "row norms");
  if (st == IA_OK) st = IA_ALLOC(m->nfc, m->nu + 1, "column norms");
  IA_CALL_GOTO(ia_agree(g->comm, st));
  for (int64_t i = 0; i < m->mu; i++) m->nfr[i] = (double)(m->fr.indptr[i + 1] - m->fr.indptr[i]);
  for (int64_t j = 0; j < m->nu; j++) m->nfc[j] = (double)(m->fc.indptr[j + 1] - m->fc.indptr[j]);

  /* Distributed arrays (see ia_infae_plan_make for their sizes). */
  int separate_factor = o->keep_kernel || m->nystrom;
  if (m->md) {
    IA_CALL_GOTO(md_create(m, path));
    m->mtr[0] = m->bfr;
    m->mva[0] = m->bcva;
  } else {
    st = alloc_array(m, &m->k, m->mu, m->nu, "kernel matrix K");
    if (st == IA_OK && separate_factor)
      st = alloc_array(m, &m->kf, m->mu, m->nu, "Cholesky factor");
  }
  if (st == IA_OK && m->nystrom) st = alloc_array(m, &m->kg, m->mu, m->nu, "Nyström ΦᵀΦ");
  if (st == IA_OK && m->nystrom) st = alloc_array(m, &m->rhs, m->mu, m->dl, "Nyström ΦᵀX");
  if (st == IA_OK && m->md)
    st = ia_malloc(local_bytes(m, m->mu, m->dl), "α and the predictions (host)", &m->a);
  else if (st == IA_OK)
    st = alloc_array(m, &m->a, m->mu, m->dl, "right-hand side X / α");
  /* Several devices: the kept α waits in host memory (m->rows), which
   * leaves the first GPU room for its tiles. */
  if (st == IA_OK && !m->md) st = alloc_array(m, &m->best, m->mu, m->dl, "best α");
  if (st == IA_OK && m->sampled) st = alloc_array(m, &m->pc, m->mn, m->dl, "predictions");
  if (st == IA_OK && m->sampled) st = alloc_array(m, &m->kc, m->mn, m->nu, "kernel NTK(C, X)");
  /* Room for ceil(n/size) rows: the predictions of every user, or the fit
   * users' α (ceil(U/size) rows, which can exceed the users' count on the last
   * rank). */
  if (st == IA_OK)
    st = ia_malloc(local_bytes(m, (m->n + g->size - 1) / g->size, m->d), "prediction rows",
                   &m->rows);
  IA_CALL_GOTO(ia_agree(g->comm, st));
  if (m->md) m->best = m->rows;
  if (!separate_factor) m->kf = m->k;
  if (!m->sampled) m->pc = m->a;
  st = desc(m->desc_k, m->u, m->u, nb, nb, g->ctxt, m->mu);
  if (st == IA_OK) st = desc(m->desc_a, m->u, m->d, nb, nb, g->ctxt, m->mu);
  if (st == IA_OK) st = desc(m->desc_kc, m->n, m->u, nb, nb, g->ctxt, m->mn);
  if (st == IA_OK) st = desc(m->desc_p, m->n, m->d, nb, nb, g->ctxt, m->mn);
  IA_CALL_GOTO(ia_agree(g->comm, st));
  m->stats.read.seconds = ia_time() - t0;
  *out = m;
  m = NULL;
done:
  ia_infae_free(&m);
  return st;
}

void ia_infae_free(ia_infae **pm) {
  ia_infae *m = *pm;
  if (!m) return;
  if (m->md) {
    ia_md_free(m->md, &m->mk);
    ia_md_free(m->md, &m->mx);
    for (int g = 0; g < ia_md_count(m->md); g++) {
      ia_backend *b = ia_md_backend(m->md, g);
      ia_be_csr_free(b, &m->mcol[g]);
      if (g > 0) ia_be_csr_free(b, &m->mtr[g]);
      if (g > 0) ia_be_csr_free(b, &m->mva[g]);
      ia_csr_free(&m->mfc[g]);
      free(m->mnc[g]);
    }
  }
  if (m->kf != m->k) free_array(m, m->kf);
  if (m->pc != m->a) free_array(m, m->pc);
  free_array(m, m->k);
  if (m->md)
    free(m->a);
  else
    free_array(m, m->a);
  if (!m->md) free_array(m, m->best);
  free_array(m, m->kc);
  free_array(m, m->kg);
  free_array(m, m->rhs);
  free(m->rows);
  if (m->bfc != m->bfr) {
    ia_be_csr_free(m->be, &m->bfc);
    ia_csr_free(&m->fc);
  }
  ia_be_csr_free(m->be, &m->bfr);
  ia_be_csr_free(m->be, &m->bctr);
  ia_be_csr_free(m->be, &m->bcva);
  free(m->nfr);
  free(m->nfc);
  free(m->fit);
  ia_csr_free(&m->fr);
  ia_csr_free(&m->ctr);
  ia_csr_free(&m->cva);
  free(m);
  *pm = NULL;
}

/* ---- steps ------------------------------------------------------------ */

/* C = Aᵀ (U × U, all of it), by p?tran. */
static void ptran(ia_precision p, int u, const void *a, const int *da, void *c) {
  int one = 1;
  if (p == IA_FP64) {
    double a1 = 1.0, b0 = 0.0;
    pdtran_(&u, &u, &a1, a, &one, &one, da, &b0, c, &one, &one, da);
  } else {
    float a1 = 1.0f, b0 = 0.0f;
    pstran_(&u, &u, &a1, a, &one, &one, da, &b0, c, &one, &one, da);
  }
}

/* The binary rows of csr (local rows of a block-cyclic matrix over users)
 * into the local block-cyclic columns (items) of out, leading dimension ld. */
static void densify_host(ia_infae *m, const ia_csr *csr, void *out, int64_t ld) {
  const ia_grid *g = &m->g;
  memset(out, 0, local_bytes(m, ld, m->dl));
  for (int64_t r = 0; r < csr->n_rows; r++)
    for (int64_t e = csr->indptr[r]; e < csr->indptr[r + 1]; e++) {
      int32_t it = csr->indices[e];
      if (ia_g2p(it, m->nb, g->npcol) == g->mycol)
        put(m, out, (size_t)ia_g2l(it, m->nb, g->npcol) * (size_t)ld + (size_t)r, 1.0);
    }
}

static ia_status densify(ia_infae *m, const ia_csr *csr, const ia_be_csr *bcsr, void *out,
                         int64_t ld) {
  if (m->arrays_on_backend) return ia_be_densify(m->be, m->prec, bcsr, m->d, out, ld);
  densify_host(m, csr, out, ld);
  return IA_OK;
}

static ia_status cross_kernel(ia_infae *m, int with_val, ia_step *step);

/* Bytes of the backend this rank may use for the products and solves of
 * infae/dist/summa.h: its share of the GPU's free memory, less a tenth for
 * cuBLAS's workspace (SIZE_MAX on the CPU). */
static size_t backend_budget(const ia_infae *m) {
  size_t b = ia_backend_free_bytes(m->be);
  return b == SIZE_MAX ? b : b / (size_t)ia_backend_share(m->be) / 10 * 9;
}

/* The backend for an infae/dist/summa.h operation that keeps a rows × cols
 * array in its memory: the rank's own, or, when that array does not fit the
 * GPUs, a CPU backend opened into *host (closed by the caller), said once
 * per *said flag. */
static ia_status summa_backend(ia_infae *m, int64_t rows, int64_t cols, const char *what,
                               int *said, ia_backend **host, ia_backend **be) {
  *be = m->be;
  *host = NULL;
  if (ia_summa_fits(&m->g, m->be, m->prec, rows, cols, m->nb, backend_budget(m))) return IA_OK;
  if (!*said)
    ia_log_info("[train] %s does not fit the GPUs: the steps that keep it there run on the host",
                what);
  *said = 1;
  IA_CALL(ia_backend_open(m->g.comm, IA_DEVICE_CPU, host));
  *be = *host;
  return IA_OK;
}

/* A + shift·I (U × U, lower triangle) factored in place as LLᵀ: by the
 * backend on one rank, by infae/dist/summa.h on the ranks' backends on a grid.
 * *info as LAPACK's, the same on every rank. */
static ia_status shift_factor(ia_infae *m, void *a, double shift, int64_t *info) {
  *info = 0;
  if (m->arrays_on_backend) {
    IA_CALL(ia_be_diag_add(m->be, m->prec, m->u, a, m->mu, shift));
    return ia_be_potrf(m->be, m->prec, m->u, a, m->mu, info);
  }
  size_t at;
  for (int64_t j = 0; j < m->nu; j++)
    if (diag_at(m, j, &at)) put(m, a, at, get(m, a, at) + shift);
  ia_backend *be, *host = NULL;
  IA_CALL(summa_backend(m, m->u, m->u, m->nystrom ? "K_mm or ΦᵀΦ" : "K",
                        &m->said_host_factor, &host, &be));
  ia_status st = ia_summa_potrf(&m->g, be, m->prec, m->u, m->nb, a, m->desc_k[IA_LLD_], info);
  ia_backend_close(&host);
  return st;
}

/* Nyström, in the feature form that stays well conditioned: K_mm + δI = LLᵀ
 * (δ = ε·tr K_mm, ε the precision's machine epsilon), Φ = K_nm·L⁻ᵀ (n × M,
 * in kc: the validation predictions are Φβ), G = ΦᵀΦ (lower triangle, kg)
 * and B = ΦᵀX (rhs); per λ, β = (G + λ'I)⁻¹B and α = L⁻ᵀβ. The centers are
 * distinct rows, so K_mm is positive definite. tr(K_nn) is over all users. */
static ia_status nystrom_normal(ia_infae *m) {
  const ia_grid *g = &m->g;
  double t0 = ia_time(), N = (double)m->n, U = (double)m->u, D = (double)m->d;
  double eps = m->prec == IA_FP64 ? 2.220446049250313e-16 : 1.1920928955078125e-07;
  int64_t info = 0;
  int u;
  IA_CALL(ia_to_int(m->u, &u));
  double delta = eps * m->trace;
  IA_CALL(shift_factor(m, m->k, delta, &info));
  IA_CHECK(info <= 0, IA_ERR_NOTSPD,
           "the centers' kernel K_mm + δI (δ = %.3g) is not positive definite (leading minor "
           "%lld)%s",
           delta, (long long)info,
           m->prec == IA_FP32 ? ": use --precision fp64 or fewer --centers" : "");
  IA_CHECK(info == 0, IA_ERR_LAPACK, "potrf of K_mm failed (argument %lld)", (long long)-info);
  m->stats.gram.flops += U * U * U / 3.0;
  m->stats.gram.seconds += ia_time() - t0;
  IA_CALL(cross_kernel(m, 0, &m->stats.gram));
  m->have_cross = 1;
  t0 = ia_time();
  double tr = 0;
  if (g->mycol == 0) /* the row blocks over n are repeated in every process column */
    for (int64_t i = 0; i < m->mn; i++) {
      double c = (double)(m->ctr.indptr[i + 1] - m->ctr.indptr[i]);
      tr += ia_ntk(c, c, c, D);
    }
  m->trace = allsum(g->comm, tr);
  m->trace_count = N;
  IA_CALL(ia_agree(g->comm, densify(m, &m->ctr, m->bctr, m->pc, m->mn)));
  if (m->arrays_on_backend) {
    IA_CALL(ia_be_trsm(m->be, m->prec, 'R', 'T', m->n, m->u, m->k, m->mu, m->kc, m->mn));
    IA_CALL(ia_be_gemm(m->be, m->prec, 'T', 'N', m->u, m->u, m->n, 1.0, m->kc, m->mn, m->kc,
                       m->mn, 0.0, m->kg, m->mu));
    IA_CALL(ia_be_gemm(m->be, m->prec, 'T', 'N', m->u, m->d, m->n, 1.0, m->kc, m->mn, m->pc,
                       m->mn, 0.0, m->rhs, m->mu));
    m->stats.gram.flops += N * U * U + 2.0 * N * U * U + 2.0 * N * U * D;
  } else {
    /* By infae/dist/summa.h on the ranks' backends: U = Lᵀ (p?tran into kg,
     * which G overwrites), Φ·U = K_nm, the lower blocks of G = ΦᵀΦ, and
     * B = ΦᵀX. */
    int64_t ldk = m->desc_k[IA_LLD_], ldc = m->desc_kc[IA_LLD_];
    ptran(m->prec, u, m->k, m->desc_k, m->kg);
    ia_backend *be, *host = NULL;
    int said_phi = 0, said_x = 0;
    IA_CALL(summa_backend(m, m->n, m->u, "Φ (users × centers)", &said_phi, &host, &be));
    ia_status st = ia_summa_trsm_right(&m->g, be, m->prec, m->n, m->u, m->nb, m->kg, ldk, m->kc,
                                       ldc);
    if (st == IA_OK)
      st = ia_summa_gemm_tn(&m->g, be, m->prec, 1, m->u, m->u, m->n, m->nb, m->kc, ldc, m->kc,
                            ldc, m->kg, ldk);
    ia_backend_close(&host);
    IA_CALL(st);
    IA_CALL(summa_backend(m, m->n, m->d, "X (users × items)", &said_x, &host, &be));
    st = ia_summa_gemm_tn(&m->g, be, m->prec, 0, m->u, m->d, m->n, m->nb, m->kc, ldc, m->pc,
                          m->desc_p[IA_LLD_], m->rhs, m->desc_a[IA_LLD_]);
    ia_backend_close(&host);
    IA_CALL(st);
    m->stats.gram.flops += 2.0 * N * U * U + 2.0 * N * U * D;
  }
  m->stats.gram.seconds += ia_time() - t0;
  return IA_OK;
}

ia_status ia_infae_gram(ia_infae *m, double *trace) {
  double t0 = ia_time(), flops = 0;
  ia_status st = kernel_tiles(m, m->bfr, NULL, m->nfr, m->bfc, m->nfc, 1, m->k, m->mu, m->nu,
                              &flops);
  /* Trace: the diagonal entries held here. */
  const ia_grid *g = &m->g;
  double tr = 0;
  size_t at;
  if (st == IA_OK && m->md)
    st = ia_md_diag_sum(m->md, &m->mk, &tr);
  else if (st == IA_OK && m->arrays_on_backend)
    st = ia_be_diag_sum(m->be, m->prec, m->u, m->k, m->mu, &tr);
  else if (st == IA_OK)
    for (int64_t j = 0; j < m->nu; j++)
      if (diag_at(m, j, &at)) tr += get(m, m->k, at);
  IA_CALL(ia_agree(m->g.comm, st));
  m->trace = allsum(g->comm, tr);
  m->trace_count = (double)m->u;
  m->stats.gram.flops += allsum(g->comm, flops);
  m->stats.gram.seconds += ia_time() - t0;
  if (m->nystrom) IA_CALL(nystrom_normal(m));
  m->have_kernel = 1;
  m->have_gram = 1;
  *trace = m->trace;
  return IA_OK;
}

static ia_status factor_status(const ia_infae *m, int64_t info, double lambda, double lp) {
  const char *what = m->nystrom ? "ΦᵀΦ + λ'I (Nyström)" : "K + λ'I";
  IA_CHECK(info <= 0, IA_ERR_NOTSPD,
           "%s is not positive definite for λ = %g (λ' = %.6g, leading minor %lld)%s; use a "
           "larger λ",
           what, lambda, lp, (long long)info,
           lambda == 0 ? ": at λ = 0 two users with the same train items make K singular" : "");
  IA_CHECK(info == 0, IA_ERR_LAPACK, "λ = %g: potrf failed (λ' = %.6g, argument %lld)", lambda,
           lp, (long long)-info);
  return IA_OK;
}

/* Several devices: K + λ'I factored in place and X solved across them; X
 * is made and α kept in host memory. K is made again for the next λ instead
 * of kept as a copy, which would double each device's share: its U²·d flops
 * cost 3d/(r·U) of the factor's U³/3 at r times the factor's rate (tensor
 * cores: about 1 % for full Netflix). */
static ia_status md_fit(ia_infae *m, double lambda, double lp, double t0) {
  if (!m->have_kernel) {
    double t1 = ia_time(), flops = 0;
    IA_CALL(md_tiles(m, 0, m->nfr, 1, &flops));
    m->stats.gram.flops += flops;
    m->stats.gram.seconds += ia_time() - t1;
    t0 = ia_time();
  }
  m->have_kernel = 0; /* factored in place */
  int64_t info = 0;
  IA_CALL(ia_md_diag_add(m->md, &m->mk, lp));
  IA_CALL(ia_md_potrf(m->md, &m->mk, &info));
  m->stats.factor.seconds += ia_time() - t0;
  m->stats.factor.flops += (double)m->u * (double)m->u * (double)m->u / 3.0;
  IA_CALL(factor_status(m, info, lambda, lp));
  t0 = ia_time();
  densify_host(m, &m->fr, m->a, m->mu); /* one rank: every item is a local column */
  IA_CALL(ia_md_scatter(m->md, m->a, 1, m->mu, &m->mx));
  IA_CALL(ia_md_potrs(m->md, &m->mk, &m->mx));
  IA_CALL(ia_md_gather(m->md, &m->mx, m->a, 1, m->mu));
  m->stats.solve.seconds += ia_time() - t0;
  m->stats.solve.flops += 2.0 * (double)m->u * (double)m->u * (double)m->d;
  m->lam_prime = lp;
  m->have_alpha = 1;
  return IA_OK;
}

ia_status ia_infae_fit(ia_infae *m, double lambda) {
  IA_CHECK(m->have_kernel || (m->md && m->have_gram), IA_ERR_INTERNAL,
           "ia_infae_fit before ia_infae_gram");
  IA_CHECK(lambda >= 0, IA_ERR_ARG, "λ must be ≥ 0 (got %g)", lambda);
  double t0 = ia_time();
  m->have_alpha = 0;
  m->pred_mode = 0;
  double lp = lambda * m->trace / m->trace_count;
  if (m->md) return md_fit(m, lambda, lp, t0);
  if (m->kf == m->k) m->have_kernel = 0; /* factored in place */
  const void *src = m->nystrom ? m->kg : m->k; /* ΦᵀΦ + λ'I or K + λ'I */
  if (m->kf != src) IA_CALL(copy_array(m, m->kf, src, local_bytes(m, m->mu, m->nu)));
  int64_t info = 0;
  IA_CALL(shift_factor(m, m->kf, lp, &info));
  m->stats.factor.seconds += ia_time() - t0;
  m->stats.factor.flops += (double)m->u * (double)m->u * (double)m->u / 3.0;
  IA_CALL(factor_status(m, info, lambda, lp));

  /* Right-hand side X (Nyström: ΦᵀX), solved in place: by the backend on
   * one rank, by panels on the grid. */
  t0 = ia_time();
  if (m->nystrom)
    IA_CALL(copy_array(m, m->a, m->rhs, local_bytes(m, m->mu, m->dl)));
  else
    IA_CALL(densify(m, &m->fr, m->bfr, m->a, m->mu));
  if (m->arrays_on_backend) {
    IA_CALL(ia_be_potrs(m->be, m->prec, m->u, m->d, m->kf, m->mu, m->a, m->mu));
  } else {
    /* infae/dist/summa.h on the ranks' backends; a right-hand side too large for
     * the GPUs is solved the same way on the host. */
    ia_backend *be, *host = NULL;
    IA_CALL(summa_backend(m, m->u, m->d, "X/α (users × items)", &m->said_host_solve, &host, &be));
    ia_status st = ia_summa_potrs(&m->g, be, m->prec, m->u, m->d, m->nb, m->kf,
                                  m->desc_k[IA_LLD_], m->a, m->desc_a[IA_LLD_]);
    ia_backend_close(&host);
    IA_CALL(st);
  }
  m->stats.solve.seconds += ia_time() - t0;
  m->stats.solve.flops += 2.0 * (double)m->u * (double)m->u * (double)m->d;
  m->lam_prime = lp;
  m->have_alpha = 1;
  return IA_OK;
}

ia_status ia_infae_keep(ia_infae *m) {
  IA_CHECK(m->have_alpha, IA_ERR_INTERNAL, "ia_infae_keep without α");
  if (m->md)
    memcpy(m->best, m->a, local_bytes(m, m->mu, m->dl));
  else
    IA_CALL(copy_array(m, m->best, m->a, local_bytes(m, m->mu, m->dl)));
  if (m->nystrom) { /* α = L⁻ᵀβ */
    double t0 = ia_time();
    if (m->arrays_on_backend) {
      IA_CALL(ia_be_trsm(m->be, m->prec, 'L', 'T', m->u, m->d, m->k, m->mu, m->best, m->mu));
    } else {
      ia_backend *be, *host = NULL;
      IA_CALL(summa_backend(m, m->u, m->d, "X/α (users × items)", &m->said_host_solve, &host,
                            &be));
      ia_status st = ia_summa_trsm(&m->g, be, m->prec, 'T', m->u, m->d, m->nb, m->k,
                                   m->desc_k[IA_LLD_], m->best, m->desc_a[IA_LLD_]);
      ia_backend_close(&host);
      IA_CALL(st);
    }
    m->stats.solve.seconds += ia_time() - t0;
    m->stats.solve.flops += (double)m->u * (double)m->u * (double)m->d;
  }
  m->best_lam_prime = m->lam_prime;
  m->have_best = 1;
  return IA_OK;
}

static ia_status to_rows(ia_infae *m, int64_t rows, const void *src, const int *dsrc,
                         int64_t *ld);

/* The predictions (rows × d) for the evaluation: on one rank they stay in
 * the backend; on a grid they come to m->rows (to_rows). */
static ia_status to_eval(ia_infae *m, int64_t rows, const void *src, const int *dsrc) {
  if (!m->arrays_on_backend) return to_rows(m, rows, src, dsrc, &m->r_ld);
  m->pred_src = src;
  m->r_ld = rows;
  return IA_OK;
}

int ia_infae_on_backend(const ia_infae *m) { return m->arrays_on_backend; }

/* Several devices: the rows from the first to the last of the block come
 * up from host memory in one 2-D copy, and are read through the rows'
 * offsets from the first. */
static ia_status md_score_cols(const ia_infae *m, const ia_be_csr *train, const int32_t *rows,
                               const int64_t *rows_h, int64_t n, double *out, int64_t ldo) {
  ia_status st = IA_OK;
  int64_t r0 = rows_h[0], span = rows_h[n - 1] - r0 + 1;
  void *stage = NULL;
  int32_t *off = NULL, *doff = NULL;
  IA_CALL(IA_ALLOC(off, n, "row offsets"));
  for (int64_t u = 0; u < n; u++) off[u] = (int32_t)(rows_h[u] - r0);
  st = ia_be_alloc(m->be, m->es * (size_t)span * (size_t)m->d, "rows of the predictions", &stage);
  if (st == IA_OK) st = ia_be_alloc(m->be, sizeof(int32_t) * (size_t)n, "row offsets", (void **)&doff);
  if (st == IA_OK) st = ia_be_upload(m->be, doff, off, sizeof(int32_t) * (size_t)n);
  if (st == IA_OK)
    st = ia_be_upload2d(m->be, stage, m->es * (size_t)span,
                        (const char *)m->pred_src + m->es * (size_t)r0, m->es * (size_t)m->r_ld,
                        m->es * (size_t)span, m->d);
  if (st == IA_OK && m->pred_mode == 2)
    st = ia_be_rows_to_cols(m->be, m->prec, stage, span, doff, n, m->d, 1.0, 0.0, out, ldo);
  else if (st == IA_OK) { /* P = X − λ'α */
    st = ia_be_densify_rows(m->be, train, rows, n, m->d, out, ldo);
    if (st == IA_OK)
      st = ia_be_rows_to_cols(m->be, m->prec, stage, span, doff, n, m->d, -m->pred_lam_prime, 1.0,
                              out, ldo);
  }
  ia_be_free(m->be, stage);
  ia_be_free(m->be, doff);
  free(off);
  return st;
}

ia_status ia_infae_score_cols(const ia_infae *m, const ia_be_csr *train, const int32_t *rows,
                              const int64_t *rows_h, int64_t n, double *out, int64_t ldo) {
  IA_CHECK(m->arrays_on_backend && m->pred_mode && m->pred_src, IA_ERR_INTERNAL,
           "ia_infae_score_cols without predictions on the backend");
  if (n <= 0) return IA_OK;
  if (m->md) return md_score_cols(m, train, rows, rows_h, n, out, ldo);
  if (m->pred_mode == 2)
    return ia_be_rows_to_cols(m->be, m->prec, m->pred_src, m->r_ld, rows, n, m->d, 1.0, 0.0, out,
                              ldo);
  /* P = X − λ'α, as ia_infae_scores adds them. */
  IA_CALL(ia_be_densify_rows(m->be, train, rows, n, m->d, out, ldo));
  return ia_be_rows_to_cols(m->be, m->prec, m->pred_src, m->r_ld, rows, n, m->d,
                            -m->pred_lam_prime, 1.0, out, ldo);
}

/* p?gemr2d of a rows × d block-cyclic matrix into m->rows, in the layout of
 * ia_row_block; *ld = its leading dimension here. */
static ia_status to_rows(ia_infae *m, int64_t rows, const void *src, const int *dsrc,
                         int64_t *ld) {
  double t0 = ia_time();
  if (m->arrays_on_backend) { /* one rank: src is rows × d with leading dimension rows */
    *ld = rows;
    IA_CALL(ia_be_download(m->be, m->rows, src, local_bytes(m, rows, m->d)));
    m->stats.redistribute.seconds += ia_time() - t0;
    return IA_OK;
  }
  int im, in, one = 1, dr[IA_DLEN];
  IA_CALL(ia_to_int(rows, &im));
  IA_CALL(ia_to_int(m->d, &in));
  int64_t begin, cnt;
  ia_row_block(rows, m->g.size, m->g.rank, &begin, &cnt);
  *ld = cnt > 0 ? cnt : 1;
  IA_CALL(desc(dr, rows, m->d, (rows + m->g.size - 1) / m->g.size, m->d, m->g.ctxt_col, *ld));
  if (m->prec == IA_FP64)
    pdgemr2d_(&im, &in, src, &one, &one, dsrc, m->rows, &one, &one, dr, &m->g.ctxt);
  else
    psgemr2d_(&im, &in, src, &one, &one, dsrc, m->rows, &one, &one, dr, &m->g.ctxt);
  m->stats.redistribute.seconds += ia_time() - t0;
  return IA_OK;
}

/* P (n × d, block-cyclic) = kc (n × U) · α. On a grid the product is
 * SUMMA with local products on the backend (infae/dist/summa.h): the GPUs make
 * the predictions, as they make the kernel tiles. */
static ia_status cross_product(ia_infae *m, const void *alpha, ia_step *step) {
  double t0 = ia_time();
  const void *kc = m->sampled ? m->kc : m->k;
  if (m->md) {
    IA_CALL(ia_md_gemm(m->md, &m->mk, alpha, m->mu, m->d, m->pc, m->mn, 1, m->panel_bytes));
  } else if (m->arrays_on_backend) {
    IA_CALL(ia_be_gemm(m->be, m->prec, 'N', 'N', m->n, m->d, m->u, 1.0, kc, m->mn, alpha, m->mu,
                       0.0, m->pc, m->mn));
  } else {
    IA_CALL(ia_summa_gemm(&m->g, m->be, m->prec, m->n, m->d, m->u, m->nb, kc,
                          m->desc_kc[IA_LLD_], alpha, m->desc_a[IA_LLD_], m->pc,
                          m->desc_p[IA_LLD_], backend_budget(m)));
  }
  step->seconds += ia_time() - t0;
  step->flops += 2.0 * (double)m->n * (double)m->u * (double)m->d;
  return IA_OK;
}

/* NTK(C, X) into kc (or K when not sampled): C = train (∪ val) of every
 * user of the local row blocks over n. */
static ia_status cross_kernel(ia_infae *m, int with_val, ia_step *step) {
  ia_status st = IA_OK;
  double t0 = ia_time(), flops = 0, *nr = NULL;
  const ia_csr *ctr = m->sampled ? &m->ctr : &m->fr;
  const ia_be_csr *bctr = m->sampled ? m->bctr : m->bfr;
  st = IA_ALLOC(nr, m->mn + 1, "context norms");
  if (ia_agree(m->g.comm, st) != IA_OK) {
    free(nr);
    return IA_ERR_REMOTE;
  }
  for (int64_t i = 0; i < m->mn; i++)
    nr[i] = (double)(with_val ? union_count(ctr, &m->cva, i) : ctr->indptr[i + 1] - ctr->indptr[i]);
  void *kc = m->sampled ? m->kc : m->k;
  if (!m->sampled) m->have_kernel = 0; /* K's buffer now holds NTK(C, X) */
  st = kernel_tiles(m, bctr, with_val ? m->bcva : NULL, nr, m->bfc, m->nfc, 0, kc, m->mn, m->nu,
                    &flops);
  free(nr);
  IA_CALL(ia_agree(m->g.comm, st));
  step->flops += allsum(m->g.comm, flops);
  step->seconds += ia_time() - t0;
  return IA_OK;
}

ia_status ia_infae_predict(ia_infae *m, int test) {
  if (!test) {
    IA_CHECK(m->have_alpha, IA_ERR_INTERNAL, "ia_infae_predict without α");
    if (!m->sampled) {
      /* P = X − λ'α: only α moves; ia_infae_scores adds X. */
      IA_CALL(to_eval(m, m->n, m->a, m->desc_a));
      m->pred_mode = 1;
      m->pred_lam_prime = m->lam_prime;
      return IA_OK;
    }
    /* NTK(X_all, X_fit) is the same for every λ: computed once (Nyström:
     * Φ = K_nm·L⁻ᵀ, made with the Gram). */
    IA_CHECK(m->have_cross || !m->nystrom, IA_ERR_INTERNAL, "Nyström predictions without Φ");
    if (!m->have_cross) IA_CALL(cross_kernel(m, 0, &m->stats.predict));
    m->have_cross = 1;
    IA_CALL(cross_product(m, m->a, &m->stats.predict));
    IA_CALL(to_eval(m, m->n, m->pc, m->desc_p));
    m->pred_mode = 2;
    return IA_OK;
  }
  IA_CHECK(m->have_best, IA_ERR_INTERNAL, "ia_infae_predict(test) without a kept α");
  IA_CALL(cross_kernel(m, 1, &m->stats.test_gram));
  m->have_cross = 0;
  m->have_alpha = 0; /* without a sample, the predictions overwrite α */
  IA_CALL(cross_product(m, m->best, &m->stats.test_gemm));
  IA_CALL(to_eval(m, m->n, m->pc, m->desc_p));
  m->pred_mode = 2;
  return IA_OK;
}

void ia_infae_scores(const ia_infae *m, int64_t row, const int32_t *train_items, int64_t n_train,
                     double *s) {
  size_t ld = (size_t)m->r_ld;
  if (m->prec == IA_FP64) {
    const double *p = (const double *)m->rows + row;
    for (int64_t i = 0; i < m->d; i++) s[i] = p[(size_t)i * ld];
  } else {
    const float *p = (const float *)m->rows + row;
    for (int64_t i = 0; i < m->d; i++) s[i] = (double)p[(size_t)i * ld];
  }
  if (m->pred_mode == 1) {
    double lp = m->pred_lam_prime;
    for (int64_t i = 0; i < m->d; i++) s[i] *= -lp;
    for (int64_t k = 0; k < n_train; k++) s[train_items[k]] += 1.0;
  }
}

ia_status ia_infae_alpha_rows(ia_infae *m, const void **alpha, int64_t *ld) {
  IA_CHECK(m->have_best, IA_ERR_INTERNAL, "ia_infae_alpha_rows without a kept α");
  if (m->md) { /* already in m->rows */
    *ld = m->u;
    *alpha = m->rows;
    return IA_OK;
  }
  IA_CALL(to_rows(m, m->u, m->best, m->desc_a, ld));
  m->pred_mode = 0;
  *alpha = m->rows;
  return IA_OK;
}

ia_status ia_infae_kernel_entry(ia_infae *m, int64_t i, int64_t j, double *v) {
  const ia_grid *g = &m->g;
  IA_CHECK(m->have_kernel && !m->sampled, IA_ERR_INTERNAL,
           "K entries are available after the Gram, without a user sample");
  IA_CHECK(i >= 0 && j >= 0 && i < m->u && j < m->u, IA_ERR_ARG, "K(%lld, %lld) is outside K",
           (long long)i, (long long)j);
  if (i < j) { /* the lower triangle is stored */
    int64_t t = i;
    i = j;
    j = t;
  }
  double x = 0;
  if (m->md) return ia_md_get(m->md, &m->mk, i, j, v);
  if (m->arrays_on_backend) {
    size_t at = (size_t)j * (size_t)m->mu + (size_t)i;
    double buf = 0; /* room for one element of either precision */
    IA_CALL(ia_be_download(m->be, &buf, (const char *)m->k + m->es * at, m->es));
    *v = get(m, &buf, 0);
    return IA_OK;
  }
  if (ia_g2p(i, m->nb, g->nprow) == g->myrow && ia_g2p(j, m->nb, g->npcol) == g->mycol) {
    x = get(m, m->k, (size_t)ia_g2l(j, m->nb, g->npcol) * (size_t)m->mu +
                         (size_t)ia_g2l(i, m->nb, g->nprow));
  }
  *v = allsum(g->comm, x);
  return IA_OK;
}

double ia_infae_lambda_prime(const ia_infae *m) { return m->best_lam_prime; }
const ia_infae_stats *ia_infae_get_stats(const ia_infae *m) { return &m->stats; }
