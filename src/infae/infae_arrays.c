/* ∞-AE: the rows each rank holds and the model's matrices from creation to
 * release. */
#include "infae/infae_impl.h"

#include <stdlib.h>
#include <string.h>

#include "infae/core/ntk.h"

/* Users at the positions of [0, count) that the 1-D block-cyclic coordinate
 * `me` of `np` owns in blocks of nb, mapped through fit (NULL: identity). */
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

/* Reads those rows of a split. Collective. */
static ia_status read_rows(ia_infae *m, const char *path, const char *split, int64_t count, int me,
                           int np, const int64_t *fit, ia_csr *out) {
  int64_t *rows = NULL, n = 0;
  ia_status st = owned_users(count, m->sp.nb, me, np, fit, &rows, &n);
  st = ia_agree(m->sp.g.comm, st);
  if (st == IA_OK) st = ia_dataset_read_rows(m->sp.g.comm, path, split, rows, n, out);
  free(rows);
  return st;
}

static ia_status norms(const ia_csr *c, double **out) {
  IA_CALL(IA_ALLOC(*out, c->n_rows + 1, "row norms"));
  for (int64_t i = 0; i < c->n_rows; i++) (*out)[i] = (double)(c->indptr[i + 1] - c->indptr[i]);
  return IA_OK;
}

/* The rows of K's columns for each part, and every row set in each part's
 * backend. Where every rank's columns are the users of its rows, the rows
 * are shared. Collective. */
static ia_status hold_rows(ia_infae *m, const char *path) {
  const ia_grid *g = &m->sp.g;
  m->parts = ia_dmat_parts(&m->k);
  for (int p = 0; p < m->parts; p++) {
    ia_backend *be = ia_dmat_part_backend(&m->k, p);
    int me, np;
    ia_dmat_part_cols(&m->k, p, &me, &np);
    /* The same users on every rank: reads are collective. */
    int same = me == g->myrow && np == g->nprow;
    MPI_Allreduce(MPI_IN_PLACE, &same, 1, MPI_INT, MPI_MIN, g->comm);
    if (same) {
      m->col_rows[p] = m->fit_rows;
      m->col_norms[p] = m->fit_norms;
    } else {
      IA_CALL(read_rows(m, path, "train", m->u, me, np, m->fit, &m->col_rows[p]));
      IA_CALL(ia_agree(g->comm, norms(&m->col_rows[p], &m->col_norms[p])));
    }
    ia_status st = ia_be_csr_make(be, &m->fit_rows, &m->b_fit[p]);
    if (st == IA_OK && m->col_rows[p].indptr == m->fit_rows.indptr)
      m->b_cols[p] = m->b_fit[p];
    else if (st == IA_OK)
      st = ia_be_csr_make(be, &m->col_rows[p], &m->b_cols[p]);
    if (st == IA_OK && !m->sampled) st = ia_be_csr_make(be, &m->ctx_val, &m->b_ctx_val[p]);
    IA_CALL(ia_agree(g->comm, st));
  }
  return IA_OK;
}

/* The matrices (sizes: ia_infae_plan_make). K is spread over the devices
 * when there are several; so are the copies factored for each λ, which is
 * why a spread K is made again for each λ rather than copied (a copy would
 * double each device's share: its U²·d flops cost 3d/(r·U) of the factor's
 * U³/3 at r times the factor's rate, about 1 % for full Netflix on tensor
 * cores). Collective. */
static ia_status make_matrices(ia_infae *m, int keep_kernel, int64_t eval_block) {
  const ia_dspace *sp = &m->sp;
  int64_t n = m->n, u = m->u, d = m->d;
  ia_status st =
      ia_dmat_make(sp, u, u, 1, m->nystrom ? "the centers' kernel K_mm" : "kernel matrix K", &m->k);
  /* Nyström on one rank factors ΦᵀΦ in place, kept in its other triangle. */
  int own_factor =
      m->nystrom ? m->k.kind != IA_DMAT_BACKEND : keep_kernel && m->k.kind != IA_DMAT_TILES;
  m->factor = own_factor ? &m->factor_own : m->nystrom ? &m->kg : &m->k;
  if (st == IA_OK && own_factor)
    st = ia_dmat_make(sp, u, u, 1, m->nystrom ? "Cholesky factor of ΦᵀΦ" : "Cholesky factor",
                      &m->factor_own);
  if (st == IA_OK && m->nystrom) st = ia_dmat_make(sp, u, u, 0, "Nyström ΦᵀΦ", &m->kg);
  if (st == IA_OK && m->nystrom && !own_factor)
    st = ia_dmat_make(sp, u, 1, 0, "the diagonal of ΦᵀΦ", &m->kg_diag);
  if (st == IA_OK && m->nystrom) st = ia_dmat_make(sp, u, d, 0, "Nyström ΦᵀX", &m->rhs);
  if (st == IA_OK) st = ia_dmat_make(sp, u, d, 0, "X/α (users × items)", &m->a);
  if (st == IA_OK) st = ia_dmat_make(sp, u, d, 0, "best α", &m->best);
  IA_CALL(ia_agree(sp->g.comm, st));

  /* The evaluation's blocks: each rank's evaluation rows (ia_row_block)
   * eval_block at a time (0: ia_infae_eval_block_size's choice); all at once
   * with K in tiles, whose rows are not cut. */
  int64_t begin, count;
  ia_row_block(n, sp->g.size, sp->g.rank, &begin, &count);
  m->eval_begin = begin;
  m->eval_count = count;
  m->block = m->k.kind == IA_DMAT_TILES
                 ? n
                 : ia_infae_eval_block_size(n, d, u, m->sampled, sp->g.size, sp->prec, eval_block);
  st = ia_dmat_make(sp, m->block * sp->g.size, d, 0, "predictions of a block of users", &m->pb);
  /* With a sample, NTK(C, X_fit) of each block (kept), or of the first,
   * the largest (streamed). */
  m->n_cross = m->sampled ? (m->stream ? 1 : ia_infae_eval_blocks(m)) : 0;
  if (st == IA_OK && m->n_cross > 0) st = IA_ZALLOC(m->cross, m->n_cross, "blocks of NTK(C, X)");
  for (int64_t b = 0; st == IA_OK && b < m->n_cross; b++)
    st = ia_dmat_make(sp, infae_block_rows(m, b, NULL), u, 0,
                      m->nystrom ? "Φ (users × centers)" : "kernel NTK(C, X)", &m->cross[b]);
  /* One block: every rank's users are where the matrices hold them. */
  int gather = m->block < (n + sp->g.size - 1) / sp->g.size;
  if (st == IA_OK && !m->sampled)
    st = ia_dmat_make_rank_rows(sp, m->block, u, gather, "a block of rows of NTK(C, X)",
                                &m->src_rows);
  if (st == IA_OK)
    st = ia_dmat_make_rank_rows(sp, m->block, d, gather, "a block of rows of α", &m->a_rows);
  if (st == IA_OK && sp->g.size > 1)
    st =
        ia_malloc(sp->es * (size_t)m->block * (size_t)(d > 0 ? d : 1), "prediction rows", &m->rows);
  if (st == IA_OK && sp->g.size == 1) st = IA_ALLOC(m->rel_h, 2 * m->block, "block rows");
  if (st == IA_OK && sp->g.size == 1)
    st = ia_be_alloc(sp->be, sizeof(int32_t) * (size_t)m->block, "block rows",
                     (void **)&m->rel_rows);
  return ia_agree(sp->g.comm, st);
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
  IA_CHECK_GOTO(o->backend != NULL, IA_ERR_INTERNAL, "ia_infae_create without a backend");
  ia_dspace_init(&m->sp, g, o->backend, o->md, o->precision, o->nb > 0 ? o->nb : 256,
                 o->panel_bytes > 0 ? o->panel_bytes : (int64_t)256 << 20);
  IA_CALL_GOTO(ia_dataset_dims(g->comm, path, &m->n, &m->d));
  m->nystrom = o->nystrom;
  m->depth = ia_ntk_depth(o->depth);
  m->sampled = o->fit_users != NULL && (o->n_fit < m->n || m->nystrom);
  m->stream = m->sampled && o->stream_cross;
  st = IA_ALLOC(m->path, strlen(path) + 1, "dataset path");
  IA_CALL_GOTO(ia_agree(g->comm, st));
  memcpy(m->path, path, strlen(path) + 1);
  IA_CHECK_GOTO(!m->nystrom || m->sampled, IA_ERR_INTERNAL, "Nyström without centers");
  m->u = m->sampled ? o->n_fit : m->n;
  IA_CHECK_GOTO(m->u >= 1, IA_ERR_ARG, "the model needs at least one fit user");
  IA_CHECK_GOTO(!o->md || (g->size == 1 && !m->sampled && ia_md_backend(o->md, 0) == o->backend),
                IA_ERR_ARG,
                "several devices per rank need one rank and the exact fit (no --train-users or "
                "--centers)");
  if (m->sampled) {
    st = IA_ALLOC(m->fit, m->u, "fit users");
    if (st == IA_OK) memcpy(m->fit, o->fit_users, sizeof(int64_t) * (size_t)m->u);
    IA_CALL_GOTO(ia_agree(g->comm, st));
  }
  IA_CALL_GOTO(read_rows(m, path, "train", m->u, g->myrow, g->nprow, m->fit, &m->fit_rows));
  IA_CALL_GOTO(ia_agree(g->comm, norms(&m->fit_rows, &m->fit_norms)));
  if (!m->sampled) /* the test's contexts; with a sample, read a block at a time */
    IA_CALL_GOTO(read_rows(m, path, "val", m->n, g->myrow, g->nprow, NULL, &m->ctx_val));
  IA_CALL_GOTO(make_matrices(m, o->keep_kernel, o->eval_block));
  IA_CALL_GOTO(hold_rows(m, path));
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
  for (int p = 0; p < m->parts; p++) {
    ia_backend *be = ia_dmat_part_backend(&m->k, p);
    if (m->b_cols[p] != m->b_fit[p]) ia_be_csr_free(be, &m->b_cols[p]);
    ia_be_csr_free(be, &m->b_fit[p]);
    ia_be_csr_free(be, &m->b_ctx_val[p]);
    if (m->col_rows[p].indptr != m->fit_rows.indptr) {
      ia_csr_free(&m->col_rows[p]);
      free(m->col_norms[p]);
    }
  }
  ia_dmat *mats[] = {&m->k,       &m->factor_own, &m->a,  &m->best,     &m->kg,
                     &m->kg_diag, &m->rhs,        &m->pb, &m->src_rows, &m->a_rows};
  for (size_t i = 0; i < sizeof(mats) / sizeof(mats[0]); i++) ia_dmat_free(mats[i]);
  for (int64_t b = 0; m->cross && b < m->n_cross; b++) ia_dmat_free(&m->cross[b]);
  free(m->cross);
  free(m->path);
  free(m->rows);
  free(m->alpha_rows);
  free(m->rel_h);
  ia_be_free(m->sp.be, m->rel_rows);
  free(m->fit_norms);
  free(m->fit);
  ia_csr_free(&m->fit_rows);
  ia_csr_free(&m->ctx_val);
  free(m);
  *pm = NULL;
}
