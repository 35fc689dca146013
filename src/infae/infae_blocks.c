/* ∞-AE with a user sample: the evaluation's blocks of users, their rows read
 * from the dataset a block at a time, and NTK(C, X_fit) of a block (see
 * infae_impl.h for the layout of a block's rows). */
#include "infae/infae_impl.h"

#include <stdlib.h>
#include <string.h>

#include "infae/core/layout.h"

int64_t infae_block_count(const ia_infae *m, int r, int64_t b) {
  int64_t begin, cnt;
  ia_row_block(m->n, m->sp.g.size, r, &begin, &cnt);
  cnt -= b * m->block;
  return cnt < 0 ? 0 : cnt > m->block ? m->block : cnt;
}

int64_t infae_block_rows(const ia_infae *m, int64_t b, int64_t *step) {
  int64_t rows = 0;
  for (int r = 0; r < m->sp.g.size; r++) rows += infae_block_count(m, r, b);
  if (step) *step = infae_block_count(m, 0, b);
  return rows;
}

ia_status infae_cross_of(const ia_infae *m, int64_t b, ia_dmat *view) {
  if (!m->stream) {
    *view = m->cross[b];
    view->owned = 0;
    return IA_OK;
  }
  return ia_dmat_head_rows(&m->cross[0], infae_block_rows(m, b, NULL), view);
}

/* The user of row t of block b's matrices. */
static int64_t block_user(const ia_infae *m, int64_t b, int64_t step, int64_t t) {
  int r = (int)(t / step);
  int64_t begin, cnt;
  ia_row_block(m->n, m->sp.g.size, r, &begin, &cnt);
  return begin + b * m->block + (t - (int64_t)r * step);
}

static ia_status rows_read(ia_infae *m, int64_t b, int with_val, infae_rows *r) {
  const ia_grid *g = &m->sp.g;
  int64_t step = 0, rows = infae_block_rows(m, b, &step);
  /* The local rows of the block's matrices: all of them on one rank, the
   * process row's blocks of nb on the grid (the same in every column). */
  int64_t mine = g->size == 1 ? rows : ia_numroc(rows, m->sp.nb, g->myrow, g->nprow);
  int64_t *users = NULL;
  ia_status st = IA_ALLOC(users, mine > 0 ? mine : 1, "a block's users");
  for (int64_t l = 0; st == IA_OK && l < mine; l++)
    users[l] = block_user(m, b, step, g->size == 1 ? l : ia_l2g(l, m->sp.nb, g->myrow, g->nprow));
  st = ia_agree(g->comm, st);
  if (st == IA_OK) st = ia_dataset_read_rows(g->comm, m->path, "train", users, mine, &r->train);
  if (st == IA_OK && with_val)
    st = ia_dataset_read_rows(g->comm, m->path, "val", users, mine, &r->val);
  free(users);
  IA_CALL(st);
  st = IA_ALLOC(r->norms, mine + 1, "a block's norms");
  for (int64_t i = 0; st == IA_OK && i < mine; i++)
    r->norms[i] = (double)(with_val ? ia_csr_union_count(&r->train, &r->val, i)
                                    : r->train.indptr[i + 1] - r->train.indptr[i]);
  if (st == IA_OK) st = ia_be_csr_make(m->sp.be, &r->train, &r->b_train);
  if (st == IA_OK && with_val) st = ia_be_csr_make(m->sp.be, &r->val, &r->b_val);
  return st;
}

ia_status infae_rows_read(ia_infae *m, int64_t b, int with_val, infae_rows *r) {
  memset(r, 0, sizeof *r);
  ia_status st = ia_agree(m->sp.g.comm, rows_read(m, b, with_val, r));
  if (st != IA_OK) infae_rows_free(m, r);
  return st;
}

void infae_rows_free(ia_infae *m, infae_rows *r) {
  ia_be_csr_free(m->sp.be, &r->b_train);
  ia_be_csr_free(m->sp.be, &r->b_val);
  ia_csr_free(&r->train);
  ia_csr_free(&r->val);
  free(r->norms);
  memset(r, 0, sizeof *r);
}

ia_status infae_cross_block(ia_infae *m, const infae_rows *r, ia_dmat *dst, ia_step *step) {
  double t0 = ia_time(), flops = 0;
  ia_dmat_ntk_operands ops = {r->b_train, r->b_val,        m->b_cols[0],
                              r->norms,   m->col_norms[0], m->depth};
  IA_CALL(ia_dmat_ntk(dst, &ops, m->d, 0, &flops));
  step->flops += flops;
  step->seconds += ia_time() - t0;
  return IA_OK;
}
