/* The distributed matrix (infae/dist/dmat.h): each operation chooses, by the
 * kinds of its matrices, LAPACK/cuSOLVER on the backend, infae/dist/summa.h
 * on the grid, or infae/dist/multidev.h over the devices of one rank. */
#include "infae/dist/dmat.h"

#include <stdlib.h>
#include <string.h>

#include "dist/scalapack.h"
#include "infae/core/layout.h"
#include "infae/core/log.h"
#include "infae/core/ntk.h"
#include "infae/dist/summa.h"

void ia_dspace_init(ia_dspace *s, const ia_grid *g, ia_backend *be, ia_md *md, ia_precision p,
                    int64_t nb, int64_t panel_bytes) {
  memset(s, 0, sizeof(*s));
  s->g = *g;
  s->be = be;
  s->md = md;
  s->prec = p;
  s->es = p == IA_FP64 ? sizeof(double) : sizeof(float);
  s->nb = nb;
  s->panel_bytes = panel_bytes;
}

size_t ia_dspace_budget(const ia_dspace *s) {
  size_t b = ia_backend_free_bytes(s->be);
  return b == SIZE_MAX ? b : b / (size_t)ia_backend_share(s->be) / 10 * 9;
}

/* Element `at` of a host array of the space's precision. */
static double get_at(const ia_dspace *s, const void *p, size_t at) {
  return s->prec == IA_FP64 ? ((const double *)p)[at] : (double)((const float *)p)[at];
}

static void put_at(const ia_dspace *s, void *p, size_t at, double v) {
  if (s->prec == IA_FP64)
    ((double *)p)[at] = v;
  else
    ((float *)p)[at] = (float)v;
}

/* Bytes of this rank's part (at least one element: ScaLAPACK wants a
 * leading dimension ≥ 1 even on a rank that holds nothing). */
static size_t local_bytes(const ia_dmat *a) {
  return a->sp->es * (size_t)(a->ld > 0 ? a->ld : 1) * (size_t)(a->nloc > 0 ? a->nloc : 1);
}

static ia_status descriptor(int *dsc, int64_t m, int64_t n, int64_t mb, int64_t nb, int ctxt,
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

/* ---- life cycle --------------------------------------------------------- */

/* Kind, sizes and descriptor of a matrix not spread; no memory. */
static ia_status shape(const ia_dspace *sp, int64_t rows, int64_t cols, const char *what,
                       ia_dmat *out) {
  const ia_grid *g = &sp->g;
  memset(out, 0, sizeof(*out));
  out->sp = sp;
  out->what = what;
  out->rows = rows;
  out->cols = cols;
  out->kind = g->size > 1 ? IA_DMAT_CYCLIC : sp->md ? IA_DMAT_HOST : IA_DMAT_BACKEND;
  out->mloc = ia_numroc(rows, sp->nb, g->myrow, g->nprow);
  out->nloc = ia_numroc(cols, sp->nb, g->mycol, g->npcol);
  out->ld = out->mloc;
  if (out->kind == IA_DMAT_CYCLIC)
    return descriptor(out->desc, rows, cols, sp->nb, sp->nb, g->ctxt, out->mloc);
  return IA_OK;
}

ia_status ia_dmat_make(const ia_dspace *sp, int64_t rows, int64_t cols, int spread,
                       const char *what, ia_dmat *out) {
  IA_CALL(shape(sp, rows, cols, what, out));
  out->owned = 1;
  if (spread && sp->md) {
    out->kind = IA_DMAT_TILES;
    return ia_md_alloc(sp->md, sp->prec, rows, cols, sp->nb, what, &out->tiles);
  }
  if (out->kind == IA_DMAT_BACKEND) return ia_be_alloc(sp->be, local_bytes(out), what, &out->data);
  return ia_malloc(local_bytes(out), what, &out->data);
}

void ia_dmat_free(ia_dmat *a) {
  if (!a->sp || !a->owned) return;
  if (a->kind == IA_DMAT_TILES)
    ia_md_free(a->sp->md, &a->tiles);
  else if (a->kind == IA_DMAT_BACKEND)
    ia_be_free(a->sp->be, a->data);
  else
    free(a->data);
  a->data = NULL;
  a->owned = 0;
}

ia_status ia_dmat_copy(ia_dmat *dst, const ia_dmat *src) {
  IA_CHECK(dst->kind == src->kind && dst->kind != IA_DMAT_TILES && dst->rows == src->rows &&
               dst->cols == src->cols,
           IA_ERR_INTERNAL, "ia_dmat_copy of %s into %s: sizes or kinds differ", src->what,
           dst->what);
  if (dst->kind == IA_DMAT_BACKEND)
    return ia_be_copy(dst->sp->be, dst->data, src->data, local_bytes(dst));
  memcpy(dst->data, src->data, local_bytes(dst));
  return IA_OK;
}

/* ---- entries ------------------------------------------------------------ */

/* Whether local column j of a block-cyclic square matrix holds its diagonal
 * entry here, and where. */
static int diag_at(const ia_dmat *a, int64_t j, size_t *at) {
  const ia_grid *g = &a->sp->g;
  int64_t nb = a->sp->nb, gj = ia_l2g(j, nb, g->mycol, g->npcol);
  if (ia_g2p(gj, nb, g->nprow) != g->myrow) return 0;
  *at = (size_t)j * (size_t)a->ld + (size_t)ia_g2l(gj, nb, g->nprow);
  return 1;
}

ia_status ia_dmat_diag_add(ia_dmat *a, double v) {
  const ia_dspace *sp = a->sp;
  switch (a->kind) {
    case IA_DMAT_TILES:
      return ia_md_diag_add(sp->md, &a->tiles, v);
    case IA_DMAT_BACKEND:
      return ia_be_diag_add(sp->be, sp->prec, a->rows, a->data, a->ld, v);
    default:
      break;
  }
  size_t at;
  for (int64_t j = 0; j < a->nloc; j++)
    if (diag_at(a, j, &at)) put_at(sp, a->data, at, get_at(sp, a->data, at) + v);
  return IA_OK;
}

ia_status ia_dmat_trace(const ia_dmat *a, double *trace) {
  const ia_dspace *sp = a->sp;
  ia_status st = IA_OK;
  double tr = 0;
  size_t at;
  if (a->kind == IA_DMAT_TILES)
    st = ia_md_diag_sum(sp->md, &a->tiles, &tr);
  else if (a->kind == IA_DMAT_BACKEND)
    st = ia_be_diag_sum(sp->be, sp->prec, a->rows, a->data, a->ld, &tr);
  else
    for (int64_t j = 0; j < a->nloc; j++)
      if (diag_at(a, j, &at)) tr += get_at(sp, a->data, at);
  IA_CALL(ia_agree(sp->g.comm, st));
  *trace = ia_grid_sum(&sp->g, tr);
  return IA_OK;
}

ia_status ia_dmat_get(const ia_dmat *a, int64_t i, int64_t j, double *v) {
  const ia_dspace *sp = a->sp;
  const ia_grid *g = &sp->g;
  IA_CHECK(i >= 0 && j >= 0 && i < a->rows && j < a->cols, IA_ERR_ARG,
           "(%lld, %lld) is outside %s (%lld × %lld)", (long long)i, (long long)j, a->what,
           (long long)a->rows, (long long)a->cols);
  if (a->kind == IA_DMAT_TILES) return ia_md_get(sp->md, &a->tiles, i, j, v);
  if (a->kind != IA_DMAT_CYCLIC) {
    double buf = 0; /* room for one element of either precision */
    const char *at = (const char *)a->data + sp->es * ((size_t)j * (size_t)a->ld + (size_t)i);
    if (a->kind == IA_DMAT_BACKEND)
      IA_CALL(ia_be_download(sp->be, &buf, at, sp->es));
    else
      memcpy(&buf, at, sp->es);
    *v = get_at(sp, &buf, 0);
    return IA_OK;
  }
  double x = 0;
  int64_t nb = sp->nb;
  if (ia_g2p(i, nb, g->nprow) == g->myrow && ia_g2p(j, nb, g->npcol) == g->mycol)
    x = get_at(sp, a->data,
               (size_t)ia_g2l(j, nb, g->npcol) * (size_t)a->ld + (size_t)ia_g2l(i, nb, g->nprow));
  *v = ia_grid_sum(g, x);
  return IA_OK;
}

/* ---- factor, solves, products ------------------------------------------ */

/* Of one kind, on one rank's backend or on the grid: the pairs LAPACK and
 * cuSOLVER, or infae/dist/summa.h, take. */
static int same_kind(const ia_dmat *a, const ia_dmat *b) {
  return a->kind == b->kind && a->sp == b->sp &&
         (a->kind == IA_DMAT_BACKEND || a->kind == IA_DMAT_CYCLIC);
}

#define IA_KINDS(cond, op, a, b)                                                                   \
  IA_CHECK((cond), IA_ERR_INTERNAL, op " of %s and %s: kinds %d and %d do not go together",        \
           (a)->what, (b)->what, (int)(a)->kind, (int)(b)->kind)

/* The backend for an infae/dist/summa.h operation that keeps the
 * block-cyclic array r in its memory: the rank's own, or, when r does not
 * fit the GPUs, a CPU backend opened into *host (closed by the caller), said
 * once per matrix. Collective. */
static ia_status summa_backend(const ia_dmat *r, ia_backend **host, ia_backend **be) {
  const ia_dspace *sp = r->sp;
  *be = sp->be;
  *host = NULL;
  if (ia_summa_fits(&sp->g, sp->be, sp->prec, r->rows, r->cols, sp->nb, ia_dspace_budget(sp)))
    return IA_OK;
  if (!r->said_host)
    ia_log_info("[train] %s does not fit the GPUs: the steps that keep it there run on the host",
                r->what);
  ((ia_dmat *)r)->said_host = 1; /* the matrix's log state, not its value */
  IA_CALL(ia_backend_open(sp->g.comm, IA_DEVICE_CPU, host));
  *be = *host;
  return IA_OK;
}

ia_status ia_dmat_tri_save(ia_dmat *a, ia_dmat *diag) {
  IA_KINDS(a->kind == IA_DMAT_BACKEND && same_kind(a, diag) && a->rows == a->cols &&
               diag->rows * diag->cols == a->rows,
           "tri_save", a, diag);
  return ia_be_tri_save(a->sp->be, a->sp->prec, a->rows, a->data, a->ld, diag->data);
}

ia_status ia_dmat_tri_restore(ia_dmat *a, const ia_dmat *diag) {
  IA_KINDS(a->kind == IA_DMAT_BACKEND && same_kind(a, diag) && a->rows == a->cols &&
               diag->rows * diag->cols == a->rows,
           "tri_restore", a, diag);
  return ia_be_tri_restore(a->sp->be, a->sp->prec, a->rows, a->data, a->ld, diag->data);
}

ia_status ia_dmat_potrf(ia_dmat *a, int64_t *info) {
  const ia_dspace *sp = a->sp;
  *info = 0;
  IA_CHECK(a->rows == a->cols, IA_ERR_INTERNAL, "potrf of %s, which is not square", a->what);
  if (a->kind == IA_DMAT_TILES) return ia_md_potrf(sp->md, &a->tiles, info);
  IA_CHECK(a->kind != IA_DMAT_HOST, IA_ERR_INTERNAL, "potrf of %s, in host memory", a->what);
  if (a->kind == IA_DMAT_BACKEND)
    return ia_be_potrf(sp->be, sp->prec, a->rows, a->data, a->ld, info);
  ia_backend *be, *host = NULL;
  IA_CALL(summa_backend(a, &host, &be));
  ia_status st = ia_summa_potrf(&sp->g, be, sp->prec, a->rows, sp->nb, a->data, a->ld, info);
  ia_backend_close(&host);
  return st;
}

/* Several devices: B (host) to tiles of its own, solved there and back. */
static ia_status potrs_tiles(const ia_dmat *l, ia_dmat *b) {
  ia_md *md = l->sp->md;
  ia_md_mat x = {0};
  IA_CALL(ia_md_alloc(md, l->sp->prec, b->rows, b->cols, l->sp->nb, b->what, &x));
  ia_status st = ia_md_scatter(md, b->data, 1, b->ld, &x);
  if (st == IA_OK) st = ia_md_potrs(md, &l->tiles, &x);
  if (st == IA_OK) st = ia_md_gather(md, &x, b->data, 1, b->ld);
  ia_md_free(md, &x);
  return st;
}

ia_status ia_dmat_potrs(const ia_dmat *l, ia_dmat *b) {
  const ia_dspace *sp = l->sp;
  if (l->kind == IA_DMAT_TILES && b->kind == IA_DMAT_HOST) return potrs_tiles(l, b);
  IA_KINDS(same_kind(l, b) && l->rows == b->rows, "potrs", l, b);
  if (b->kind == IA_DMAT_BACKEND)
    return ia_be_potrs(sp->be, sp->prec, l->rows, b->cols, l->data, l->ld, b->data, b->ld);
  ia_backend *be, *host = NULL;
  IA_CALL(summa_backend(b, &host, &be));
  ia_status st = ia_summa_potrs(&sp->g, be, sp->prec, l->rows, b->cols, sp->nb, l->data, l->ld,
                                b->data, b->ld);
  ia_backend_close(&host);
  return st;
}

ia_status ia_dmat_trsm_lt(const ia_dmat *l, ia_dmat *b) {
  const ia_dspace *sp = l->sp;
  IA_KINDS(same_kind(l, b) && l->rows == b->rows, "trsm", l, b);
  if (b->kind == IA_DMAT_BACKEND)
    return ia_be_trsm(sp->be, sp->prec, 'L', 'T', b->rows, b->cols, l->data, l->ld, b->data, b->ld);
  ia_backend *be, *host = NULL;
  IA_CALL(summa_backend(b, &host, &be));
  ia_status st = ia_summa_trsm(&sp->g, be, sp->prec, 'T', b->rows, b->cols, sp->nb, l->data, l->ld,
                               b->data, b->ld);
  ia_backend_close(&host);
  return st;
}

ia_status ia_dmat_transpose(const ia_dmat *a, ia_dmat *c) {
  IA_KINDS(a->kind == IA_DMAT_CYCLIC && same_kind(a, c) && a->rows == a->cols &&
               c->rows == a->rows && c->cols == a->cols,
           "transpose", a, c);
  int n, one = 1;
  IA_CALL(ia_to_int(a->rows, &n));
  if (a->sp->prec == IA_FP64) {
    double a1 = 1.0, b0 = 0.0;
    pdtran_(&n, &n, &a1, a->data, &one, &one, a->desc, &b0, c->data, &one, &one, c->desc);
  } else {
    float a1 = 1.0f, b0 = 0.0f;
    pstran_(&n, &n, &a1, a->data, &one, &one, a->desc, &b0, c->data, &one, &one, c->desc);
  }
  return IA_OK;
}

ia_status ia_dmat_trsm_right_lt(const ia_dmat *l, ia_dmat *b, const ia_dmat *lt) {
  const ia_dspace *sp = l->sp;
  IA_KINDS(same_kind(l, b) && l->rows == b->cols, "trsm", l, b);
  if (b->kind == IA_DMAT_BACKEND)
    return ia_be_trsm(sp->be, sp->prec, 'R', 'T', b->rows, b->cols, l->data, l->ld, b->data, b->ld);
  /* X·U = B with U = Lᵀ by infae/dist/summa.h. */
  IA_KINDS(lt && same_kind(l, lt) && lt->rows == l->rows && lt->cols == l->cols, "trsm", l, b);
  ia_backend *be, *host = NULL;
  IA_CALL(summa_backend(b, &host, &be));
  ia_status st = ia_summa_trsm_right(&sp->g, be, sp->prec, b->rows, b->cols, sp->nb, lt->data,
                                     lt->ld, b->data, b->ld);
  ia_backend_close(&host);
  return st;
}

ia_status ia_dmat_gemm_tn(const ia_dmat *a, const ia_dmat *b, int lower, int add, ia_dmat *c) {
  const ia_dspace *sp = a->sp;
  IA_KINDS(same_kind(a, b) && same_kind(a, c) && a->rows == b->rows && c->rows == a->cols &&
               c->cols == b->cols,
           "gemm", a, b);
  if (c->kind == IA_DMAT_BACKEND)
    return ia_be_gemm(sp->be, sp->prec, 'T', 'N', c->rows, c->cols, a->rows, 1.0, a->data, a->ld,
                      b->data, b->ld, add ? 1.0 : 0.0, c->data, c->ld);
  ia_backend *be, *host = NULL;
  IA_CALL(summa_backend(b, &host, &be));
  ia_status st = ia_summa_gemm_tn(&sp->g, be, sp->prec, lower, add, c->rows, c->cols, a->rows,
                                  sp->nb, a->data, a->ld, b->data, b->ld, c->data, c->ld);
  ia_backend_close(&host);
  return st;
}

ia_status ia_dmat_gemm(const ia_dmat *a, const ia_dmat *b, ia_dmat *c) {
  const ia_dspace *sp = a->sp;
  IA_KINDS(a->cols == b->rows && c->cols == b->cols &&
               (c->rows == a->rows || (c->kind != IA_DMAT_CYCLIC && c->rows >= a->rows)),
           "gemm", a, b);
  if (a->kind == IA_DMAT_TILES) {
    IA_KINDS(b->kind == IA_DMAT_HOST && c->kind == IA_DMAT_HOST, "gemm", a, b);
    return ia_md_gemm(sp->md, &a->tiles, b->data, b->ld, b->cols, c->data, c->ld, 1,
                      sp->panel_bytes);
  }
  IA_KINDS(same_kind(a, b) && same_kind(a, c), "gemm", a, b);
  if (c->kind == IA_DMAT_BACKEND)
    return ia_be_gemm(sp->be, sp->prec, 'N', 'N', a->rows, c->cols, a->cols, 1.0, a->data, a->ld,
                      b->data, b->ld, 0.0, c->data, c->ld);
  return ia_summa_gemm(&sp->g, sp->be, sp->prec, c->rows, c->cols, a->cols, sp->nb, a->data, a->ld,
                       b->data, b->ld, c->data, c->ld, ia_dspace_budget(sp));
}

/* ---- contents ----------------------------------------------------------- */

ia_status ia_dmat_densify(ia_dmat *a, const ia_csr *csr, const ia_be_csr *bcsr) {
  const ia_dspace *sp = a->sp;
  const ia_grid *g = &sp->g;
  IA_CHECK(a->kind != IA_DMAT_TILES, IA_ERR_INTERNAL, "densify into %s, in tiles", a->what);
  if (a->kind == IA_DMAT_BACKEND)
    return ia_be_densify(sp->be, sp->prec, bcsr, a->cols, a->data, a->ld);
  memset(a->data, 0, local_bytes(a));
  for (int64_t r = 0; r < csr->n_rows; r++)
    for (int64_t e = csr->indptr[r]; e < csr->indptr[r + 1]; e++) {
      int32_t it = csr->indices[e];
      if (ia_g2p(it, sp->nb, g->npcol) == g->mycol)
        put_at(sp, a->data, (size_t)ia_g2l(it, sp->nb, g->npcol) * (size_t)a->ld + (size_t)r, 1.0);
    }
  return IA_OK;
}

int ia_dmat_parts(const ia_dmat *a) {
  return a->kind == IA_DMAT_TILES ? ia_md_count(a->sp->md) : 1;
}

ia_backend *ia_dmat_part_backend(const ia_dmat *a, int p) {
  return a->kind == IA_DMAT_TILES ? ia_md_backend(a->sp->md, p) : a->sp->be;
}

void ia_dmat_part_cols(const ia_dmat *a, int p, int *me, int *np) {
  if (a->kind == IA_DMAT_TILES) {
    *me = p;
    *np = ia_md_count(a->sp->md);
  } else {
    *me = a->sp->g.mycol;
    *np = a->sp->g.npcol;
  }
}

/* Several devices: each makes its column tiles, on a host thread of its
 * own. */
typedef struct {
  ia_dmat *a;
  const ia_dmat_ntk_operands *ops;
  int64_t d;
  int sym;
  double flops[IA_MD_MAX];
} tile_job;

static ia_status tile_one(ia_md *md, int p, void *arg) {
  tile_job *j = arg;
  const ia_dmat *a = j->a;
  const ia_dmat_ntk_operands *o = &j->ops[p];
  ia_be_layout lay = {a->sp->nb, 0, 1, p, ia_md_count(md), j->sym};
  int64_t nloc = ia_md_local_cols(&a->tiles, p);
  if (nloc <= 0) return IA_OK;
  return ia_be_ntk_tiles(ia_md_backend(md, p), a->sp->prec, o->ra, o->rb, o->nr, o->cols, o->nc,
                         &lay, 0, nloc, j->d, o->depth, a->sp->panel_bytes, a->tiles.part[p],
                         a->rows, &j->flops[p]);
}

/* Block-cyclic on a GPU: the tiles are made on the device a few column
 * blocks at a time and copied back. */
static ia_status ntk_staged(ia_dmat *a, const ia_dmat_ntk_operands *o, const ia_be_layout *lay,
                            int64_t d, double *flops) {
  const ia_dspace *sp = a->sp;
  ia_status st = IA_OK;
  int64_t cw = sp->panel_bytes / ((int64_t)sp->es * a->mloc) / sp->nb * sp->nb;
  if (cw < sp->nb) cw = sp->nb;
  if (cw > a->nloc) cw = a->nloc;
  void *buf = NULL;
  IA_CALL(
      ia_be_alloc(sp->be, sp->es * (size_t)a->mloc * (size_t)cw, "kernel tile on the GPU", &buf));
  for (int64_t c0 = 0; c0 < a->nloc && st == IA_OK; c0 += cw) {
    int64_t c1 = c0 + cw < a->nloc ? c0 + cw : a->nloc;
    double f = 0;
    st = ia_be_ntk_tiles(sp->be, sp->prec, o->ra, o->rb, o->nr, o->cols, o->nc, lay, c0, c1, d,
                         o->depth, sp->panel_bytes, buf, a->mloc, &f);
    if (st == IA_OK) /* a view of A's first rows keeps A's leading dimension */
      st = ia_be_download2d(sp->be, (char *)a->data + sp->es * (size_t)c0 * (size_t)a->ld,
                            sp->es * (size_t)a->ld, buf, sp->es * (size_t)a->mloc,
                            sp->es * (size_t)a->mloc, c1 - c0);
    *flops += f;
  }
  ia_be_free(sp->be, buf);
  return st;
}

static ia_status ntk_local(ia_dmat *a, const ia_dmat_ntk_operands *ops, int64_t d, int sym,
                           double *flops) {
  const ia_dspace *sp = a->sp;
  const ia_grid *g = &sp->g;
  *flops = 0;
  if (a->kind == IA_DMAT_TILES) {
    tile_job j = {.a = a, .ops = ops, .d = d, .sym = sym};
    IA_CALL(ia_md_each(sp->md, tile_one, &j));
    for (int p = 0; p < ia_md_count(sp->md); p++) *flops += j.flops[p];
    return IA_OK;
  }
  if (a->mloc <= 0 || a->nloc <= 0) return IA_OK;
  ia_be_layout lay = {sp->nb, g->myrow, g->nprow, g->mycol, g->npcol, sym};
  if (a->kind == IA_DMAT_CYCLIC && ia_backend_device(sp->be) != IA_DEVICE_CPU)
    return ntk_staged(a, ops, &lay, d, flops);
  return ia_be_ntk_tiles(sp->be, sp->prec, ops->ra, ops->rb, ops->nr, ops->cols, ops->nc, &lay, 0,
                         a->nloc, d, ops->depth, sp->panel_bytes, a->data, a->ld, flops);
}

ia_status ia_dmat_ntk(ia_dmat *a, const ia_dmat_ntk_operands *ops, int64_t d, int sym,
                      double *flops) {
  double f = 0;
  for (int p = 0; p < ia_dmat_parts(a); p++)
    IA_CHECK(ops[p].depth >= 1 && ops[p].depth <= IA_NTK_MAX_DEPTH, IA_ERR_INTERNAL, "NTK depth %d",
             ops[p].depth);
  IA_CALL(ia_agree(a->sp->g.comm, ntk_local(a, ops, d, sym, &f)));
  *flops = ia_grid_sum(&a->sp->g, f);
  return IA_OK;
}

/* ---- the evaluation layout ---------------------------------------------- */

ia_status ia_dmat_to_rows(const ia_dmat *a, void *dst, int64_t *ld) {
  int64_t size = a->sp->g.size;
  return ia_dmat_to_row_blocks(a, (a->rows + size - 1) / size, dst, ld);
}

ia_status ia_dmat_to_row_blocks(const ia_dmat *a, int64_t mb, void *dst, int64_t *ld) {
  const ia_dspace *sp = a->sp;
  const ia_grid *g = &sp->g;
  IA_CHECK(a->kind != IA_DMAT_TILES, IA_ERR_INTERNAL, "%s in tiles to rows", a->what);
  if (a->kind != IA_DMAT_CYCLIC) { /* one rank: all of A, leading dimension rows */
    IA_CHECK(a->ld == a->rows || a->rows == 0, IA_ERR_INTERNAL, "%s: a view to rows", a->what);
    *ld = a->ld;
    if (a->kind == IA_DMAT_BACKEND) return ia_be_download(sp->be, dst, a->data, local_bytes(a));
    if (dst != a->data) memcpy(dst, a->data, local_bytes(a));
    return IA_OK;
  }
  int im, in, one = 1, dr[IA_DLEN];
  IA_CALL(ia_to_int(a->rows, &im));
  IA_CALL(ia_to_int(a->cols, &in));
  int64_t cnt = a->rows - (int64_t)g->rank * mb;
  cnt = cnt < 0 ? 0 : cnt > mb ? mb : cnt;
  *ld = cnt > 0 ? cnt : 1;
  IA_CALL(descriptor(dr, a->rows, a->cols, mb, a->cols, g->ctxt_col, *ld));
  if (sp->prec == IA_FP64)
    pdgemr2d_(&im, &in, a->data, &one, &one, a->desc, dst, &one, &one, dr, &g->ctxt);
  else
    psgemr2d_(&im, &in, a->data, &one, &one, a->desc, dst, &one, &one, dr, &g->ctxt);
  return IA_OK;
}

ia_status ia_dmat_make_rank_rows(const ia_dspace *sp, int64_t block, int64_t cols, int alloc,
                                 const char *what, ia_dmat *out) {
  if (sp->g.size == 1 || !alloc) return shape(sp, block, cols, what, out); /* no memory */
  IA_CALL(ia_dmat_make(sp, block * sp->g.size, cols, 0, what, out));
  memset(out->data, 0, local_bytes(out));
  return IA_OK;
}

ia_status ia_dmat_head_rows(const ia_dmat *a, int64_t rows, ia_dmat *view) {
  IA_CHECK(rows >= 0 && rows <= a->rows && a->kind != IA_DMAT_TILES, IA_ERR_INTERNAL,
           "the first %lld rows of %s (%lld rows)", (long long)rows, a->what, (long long)a->rows);
  *view = *a;
  view->owned = 0;
  view->rows = rows;
  if (a->kind != IA_DMAT_CYCLIC) {
    view->mloc = rows;
    return IA_OK;
  }
  const ia_grid *g = &a->sp->g;
  view->mloc = ia_numroc(rows, a->sp->nb, g->myrow, g->nprow);
  return descriptor(view->desc, rows, a->cols, a->sp->nb, a->sp->nb, g->ctxt, a->ld);
}

ia_status ia_dmat_rows_of_ranks(const ia_dmat *a, int64_t first, int64_t count, int64_t block,
                                ia_dmat *t, ia_dmat *view) {
  const ia_dspace *sp = a->sp;
  const ia_grid *g = &sp->g;
  IA_CHECK(count >= 0 && count <= block && first >= 0 && first + count <= a->rows, IA_ERR_INTERNAL,
           "rows [%lld, %lld) of %s (%lld rows, blocks of %lld)", (long long)first,
           (long long)(first + count), a->what, (long long)a->rows, (long long)block);
  if (a->kind == IA_DMAT_TILES) { /* tiles hold every row: the whole matrix only */
    IA_CHECK(first == 0 && count == a->rows, IA_ERR_INTERNAL, "rows [%lld, %lld) of %s, in tiles",
             (long long)first, (long long)(first + count), a->what);
    *view = *a;
    view->owned = 0;
    return IA_OK;
  }
  if (a->kind != IA_DMAT_CYCLIC) { /* one rank: a view */
    *view = *a;
    view->owned = 0;
    view->rows = view->mloc = count;
    view->data = (char *)a->data + sp->es * (size_t)first;
    return IA_OK;
  }
  int64_t mine[2] = {first, count}, *all = NULL, total = 0;
  ia_status st = IA_ALLOC(all, 2 * g->size, "row ranges");
  IA_CALL(ia_agree(g->comm, st));
  MPI_Allgather(mine, 2, MPI_INT64_T, all, 2, MPI_INT64_T, g->comm);
  int in_place = 1; /* every rank's rows already where they go: A itself */
  for (int r = 0; r < g->size; r++) {
    if (all[2 * r + 1] > 0) total = (int64_t)r * block + all[2 * r + 1];
    if (all[2 * r + 1] > 0 && all[2 * r] != (int64_t)r * block) in_place = 0;
  }
  if (in_place) {
    free(all);
    return ia_dmat_head_rows(a, total, view);
  }
  st = t->kind == IA_DMAT_CYCLIC && t->rows >= total && t->cols == a->cols
           ? ia_dmat_head_rows(t, total, view)
           : ia_error_set(IA_ERR_INTERNAL, __FILE__, __LINE__, "rows of %s into %s", a->what,
                          t->what);
  int one = 1, n = 0, m = 0, ia = 0, ib = 0;
  for (int r = 0; r < g->size && st == IA_OK; r++) {
    if (all[2 * r + 1] == 0) continue;
    st = ia_to_int(all[2 * r + 1], &m);
    if (st == IA_OK) st = ia_to_int(a->cols, &n);
    if (st == IA_OK) st = ia_to_int(all[2 * r] + 1, &ia);
    if (st == IA_OK) st = ia_to_int((int64_t)r * block + 1, &ib);
    if (st != IA_OK) break;
    if (sp->prec == IA_FP64)
      pdgemr2d_(&m, &n, a->data, &ia, &one, a->desc, view->data, &ib, &one, view->desc, &g->ctxt);
    else
      psgemr2d_(&m, &n, a->data, &ia, &one, a->desc, view->data, &ib, &one, view->desc, &g->ctxt);
  }
  free(all);
  return st;
}

/* Host memory: the rows from the first to the last go up in one 2-D copy
 * and are read through their offsets from the first. */
static ia_status rows_to_cols_host(const ia_dmat *a, const int64_t *rows_h, int64_t n, double scale,
                                   double beta, double *out, int64_t ldo) {
  const ia_dspace *sp = a->sp;
  ia_status st = IA_OK;
  int64_t r0 = rows_h[0], span = rows_h[n - 1] - r0 + 1;
  void *stage = NULL;
  int32_t *off = NULL, *doff = NULL;
  IA_CALL(IA_ALLOC(off, n, "row offsets"));
  for (int64_t u = 0; u < n; u++) off[u] = (int32_t)(rows_h[u] - r0);
  st = ia_be_alloc(sp->be, sp->es * (size_t)span * (size_t)a->cols, "rows of the predictions",
                   &stage);
  if (st == IA_OK)
    st = ia_be_alloc(sp->be, sizeof(int32_t) * (size_t)n, "row offsets", (void **)&doff);
  if (st == IA_OK) st = ia_be_upload(sp->be, doff, off, sizeof(int32_t) * (size_t)n);
  if (st == IA_OK)
    st = ia_be_upload2d(sp->be, stage, sp->es * (size_t)span,
                        (const char *)a->data + sp->es * (size_t)r0, sp->es * (size_t)a->ld,
                        sp->es * (size_t)span, a->cols);
  if (st == IA_OK)
    st = ia_be_rows_to_cols(sp->be, sp->prec, stage, span, doff, n, a->cols, scale, beta, out, ldo);
  ia_be_free(sp->be, stage);
  ia_be_free(sp->be, doff);
  free(off);
  return st;
}

ia_status ia_dmat_rows_to_cols(const ia_dmat *a, const int32_t *rows, const int64_t *rows_h,
                               int64_t n, double scale, double beta, double *out, int64_t ldo) {
  IA_CHECK(a->kind == IA_DMAT_BACKEND || a->kind == IA_DMAT_HOST, IA_ERR_INTERNAL,
           "rows of %s scored in place: it is not on one rank", a->what);
  if (n <= 0) return IA_OK;
  if (a->kind == IA_DMAT_HOST) return rows_to_cols_host(a, rows_h, n, scale, beta, out, ldo);
  return ia_be_rows_to_cols(a->sp->be, a->sp->prec, a->data, a->ld, rows, n, a->cols, scale, beta,
                            out, ldo);
}
