/* ∞-AE: the rows each rank holds, the kernel tiles, and the model's arrays
 * from creation to release. */
#include "infae/infae_impl.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

ia_status infae_desc(int *dsc, int64_t m, int64_t n, int64_t mb, int64_t nb, int ctxt,
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

double infae_allsum(MPI_Comm comm, double v) {
  MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_SUM, comm);
  return v;
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
static ia_status read_rows(ia_infae *m, const char *path, const char *split, int64_t count, int me,
                           int np, const int64_t *fit, ia_csr *out, ia_be_csr **bout) {
  int64_t *rows = NULL, n = 0;
  ia_status st = owned_users(count, m->nb, me, np, fit, &rows, &n);
  st = ia_agree(m->g.comm, st);
  if (st == IA_OK) st = ia_dataset_read_rows(m->g.comm, path, split, rows, n, out);
  free(rows);
  IA_CALL(st);
  return ia_agree(m->g.comm, ia_be_csr_make(m->be, out, bout));
}

/* |a_r ∪ b_r| for sorted rows. */
int64_t infae_union_count(const ia_csr *a, const ia_csr *b, int64_t r) {
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

ia_status infae_md_tiles(ia_infae *m, int with_val, const double *nr, int sym, double *flops) {
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
ia_status infae_kernel_tiles(ia_infae *m, const ia_be_csr *ra, const ia_be_csr *rb,
                             const double *nr, const ia_be_csr *cols, const double *nc, int sym,
                             void *k, int64_t mloc, int64_t nloc, double *flops) {
  const ia_grid *g = &m->g;
  ia_be_layout lay = {m->nb, g->myrow, g->nprow, g->mycol, g->npcol, sym};
  *flops = 0;
  if (mloc <= 0 || nloc <= 0) return IA_OK;
  if (m->md) return infae_md_tiles(m, rb != NULL, nr, sym, flops);
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
    st = ia_be_ntk_tiles(m->be, m->prec, ra, rb, nr, cols, nc, &lay, c0, c1, m->d, m->panel_bytes,
                         buf, mloc, &f);
    if (st == IA_OK)
      st = ia_be_download(m->be, (char *)k + m->es * (size_t)c0 * (size_t)mloc, buf,
                          m->es * (size_t)mloc * (size_t)(c1 - c0));
    *flops += f;
  }
  ia_be_free(m->be, buf);
  return st;
}

/* ---- life cycle ------------------------------------------------------- */

/* Allocation, release and copies of the model's arrays, wherever they live. */
static ia_status alloc_array(ia_infae *m, void **p, int64_t rows, int64_t cols, const char *what) {
  size_t bytes = infae_local_bytes(m, rows, cols);
  return m->arrays_on_backend ? ia_be_alloc(m->be, bytes, what, p) : ia_malloc(bytes, what, p);
}

static void free_array(ia_infae *m, void *p) {
  if (m->arrays_on_backend)
    ia_be_free(m->be, p);
  else
    free(p);
}

ia_status infae_copy_array(ia_infae *m, void *dst, const void *src, size_t bytes) {
  if (m->arrays_on_backend) return ia_be_copy(m->be, dst, src, bytes);
  memcpy(dst, src, bytes);
  return IA_OK;
}

/* Whether local column j of a U × U array holds its diagonal entry here, and
 * where. */
int infae_diag_at(const ia_infae *m, int64_t j, size_t *at) {
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
  IA_CALL(
      ia_md_alloc(m->md, m->prec, m->u, m->u, m->nb, "kernel matrix K (a device's tiles)", &m->mk));
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
    st = ia_malloc(infae_local_bytes(m, m->mu, m->dl), "α and the predictions (host)", &m->a);
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
    st = ia_malloc(infae_local_bytes(m, (m->n + g->size - 1) / g->size, m->d), "prediction rows",
                   &m->rows);
  IA_CALL_GOTO(ia_agree(g->comm, st));
  if (m->md) m->best = m->rows;
  if (!separate_factor) m->kf = m->k;
  if (!m->sampled) m->pc = m->a;
  st = infae_desc(m->desc_k, m->u, m->u, nb, nb, g->ctxt, m->mu);
  if (st == IA_OK) st = infae_desc(m->desc_a, m->u, m->d, nb, nb, g->ctxt, m->mu);
  if (st == IA_OK) st = infae_desc(m->desc_kc, m->n, m->u, nb, nb, g->ctxt, m->mn);
  if (st == IA_OK) st = infae_desc(m->desc_p, m->n, m->d, nb, nb, g->ctxt, m->mn);
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
