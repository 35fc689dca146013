/* EASE's λ grid on validation and its test at the best λ
 * (eval/sample_eval.h): from a d × d item Gram, or, on a sample of μ < d
 * users (a Distill-CF summary), in a low-rank form with no d × d array.
 *
 * EASE: P = (G + λI)⁻¹, B = I − P·diag(P)⁻¹ (B_ii = 0); a context x scores
 * x·B, i.e. item i scores x_i − (xP)_i / P_ii. On a sample S (μ × d), G =
 * SᵀS and by Woodbury P = (I − VᵀV)/λ with V = L⁻¹S, LLᵀ = λI + SSᵀ (μ × μ):
 * with q = (xVᵀ)·V and |v_i|² the squared norm of V's column i, item i
 * scores x_i − (x_i − q_i)/(1 − |v_i|²). That is μ²d + μ³/3 flops per λ and
 * 2μd per user, where the dense form takes d³ per λ on every rank. */
#include <cblas.h>
#include <lapacke.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/sample_eval.h"
#include "infae/core/log.h"
#include "infae/models/model.h"

/* A model of the λ grid: fit makes the current one, keep copies it to the
 * best; score_cur and score_best score with them. */
typedef struct {
  ia_status (*fit)(void *self, double lambda);
  void (*keep)(void *self);
  ia_score_fn score;
  void *cur, *best; /* the score's contexts */
  double flops;     /* of one fit */
  const char *what; /* for the log line before each fit */
} ease_model;

/* Every λ on validation (one that does not factor is skipped when the grid
 * has others), the best by HR@100 on test. Collective. */
static ia_status ease_grid(MPI_Comm comm, const ia_dataset *d, ia_evaluator *ev, ease_model *em,
                           const double *grid, int n, const char *tag, ia_train_result *r) {
  IA_CHECK(n >= 1 && n <= IA_MAX_LAMBDAS, IA_ERR_ARG, "between 1 and %d λ values", IA_MAX_LAMBDAS);
  r->has_lambda = 1;
  r->n_lambdas = n;
  int best = -1;
  double t_start = ia_time();
  for (int k = 0; k < n; k++) {
    r->lambdas[k] = grid[k];
    r->skipped[k] = 0;
    double t = ia_time();
    /* The d × d inversion can take minutes: say so before, with an ETA. */
    char eta[64] = "";
    if (k > 0) snprintf(eta, sizeof eta, "; ETA %.0f s", (t - t_start) / k * (n - k));
    ia_log_info("[%s] EASE λ = %g (%d/%d): %s (%.3g GFLOP)%s", tag, grid[k], k + 1, n, em->what,
                em->flops / 1e9, eta);
    ia_status st = em->fit(em, grid[k]);
    int failed = st != IA_OK;
    MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, comm);
    if (failed && st == IA_OK) st = IA_ERR_NOTSPD; /* failed on another rank */
    if (st == IA_ERR_NOTSPD && n > 1) {            /* a grid goes on; a single λ is fatal */
      ia_log_warn("λ = %g skipped, the other λ of the grid go on: %s", grid[k], ia_error_message());
      ia_error_clear();
      r->skipped[k] = 1;
      continue;
    }
    IA_CALL(ia_agree(comm, st));
    double tf = ia_time() - t;
    r->t_fit += tf;
    r->fit_flops += em->flops;
    t = ia_time();
    IA_CALL(ia_evaluate_split(comm, d, ev, 0, em->score, em->cur, &r->val[k]));
    double te = ia_time() - t;
    r->t_val += te;
    ia_log_lambda(tag, "val", grid[k], &r->val[k], tf + te);
    if (best < 0 || r->val[k].v[IA_HR100] > r->val[best].v[IA_HR100]) {
      best = k;
      em->keep(em);
    }
  }
  IA_CHECK(best >= 0, IA_ERR_NOTSPD, "every λ of the grid failed to factor");
  r->best_lambda = grid[best];
  double t = ia_time();
  IA_CALL(ia_evaluate_split(comm, d, ev, 1, em->score, em->best, &r->test));
  r->t_test = ia_time() - t;
  ia_log_lambda(tag, "test", grid[best], &r->test, r->t_test);
  return IA_OK;
}

/* ---- B from a d × d Gram ------------------------------------------------- */

typedef struct {
  ease_model em;
  const double *g;
  double *b, *best_b;
  int64_t items;
} dense_model;

/* A binary context row times B, user by user. */
static void dense_scores(void *ctx, const ia_dataset *d, const int64_t *rows, int64_t n, int test,
                         double *p) {
  const double *b = ctx;
  const ia_csr *tr = &d->train, *va = &d->val;
  for (int64_t u = 0; u < n; u++) {
    int64_t r = rows[u];
    ia_ease_scores(b, d->n_items, tr->indices + tr->indptr[r], tr->indptr[r + 1] - tr->indptr[r],
                   test ? va->indices + va->indptr[r] : NULL,
                   test ? va->indptr[r + 1] - va->indptr[r] : 0, p + u * d->n_items);
  }
}

static ia_status dense_fit(void *self, double lambda) {
  dense_model *m = self;
  return ia_ease_fit(m->g, m->items, lambda, m->b);
}

static void dense_keep(void *self) {
  dense_model *m = self;
  memcpy(m->best_b, m->b, sizeof(double) * (size_t)(m->items * m->items));
}

ia_status ia_ease_select(MPI_Comm comm, const ia_dataset *d, ia_evaluator *ev, const double *g,
                         const double *grid, int n, const char *tag, ia_train_result *r,
                         double **best_b_out) {
  if (best_b_out) *best_b_out = NULL;
  int64_t items = d->n_items;
  size_t dd = (size_t)(items * items);
  dense_model m = {.g = g, .items = items};
  ia_status st = IA_ALLOC(m.b, dd, "EASE weights");
  if (st == IA_OK) st = IA_ALLOC(m.best_b, dd, "EASE best weights");
  st = ia_agree(comm, st);
  char what[192];
  snprintf(what, sizeof what, "inverting XᵀX + λI, %lld × %lld", (long long)items,
           (long long)items);
  m.em = (ease_model){dense_fit,    dense_keep,
                      dense_scores, NULL,
                      NULL,         (double)items * items * items, /* potrf d³/3 + potri 2d³/3 */
                      what};
  m.em.cur = m.b;
  m.em.best = m.best_b;
  if (st == IA_OK) st = ease_grid(comm, d, ev, &m.em, grid, n, tag, r);
  if (st == IA_OK && best_b_out) {
    *best_b_out = m.best_b;
    m.best_b = NULL;
  }
  free(m.b);
  free(m.best_b);
  return st;
}

/* ---- the low-rank form on a sample --------------------------------------- */

/* One λ's model: V (μ × d, row-major), its transpose (d × μ: each item's
 * column of V, for the contexts' sums) and 1/(1 − |v_i|²). */
typedef struct {
  int64_t mu, d;
  double *v, *vt, *inv;
  double *xv; /* IA_EVAL_CHUNK × μ: the block's sums of V's columns */
} lowrank;

typedef struct {
  ease_model em;
  const double *s; /* μ × d */
  double *sst;     /* SSᵀ (μ × μ, lower) */
  double *c;       /* λI + SSᵀ and its factor */
  lowrank cur, best;
} lowrank_model;

static void lowrank_scores(void *ctx, const ia_dataset *d, const int64_t *rows, int64_t n, int test,
                           double *p) {
  const lowrank *m = ctx;
  int64_t mu = m->mu, items = m->d;
  const ia_csr *tr = &d->train, *va = &d->val;
  memset(m->xv, 0, sizeof(double) * (size_t)(n * mu));
  /* xVᵀ: the context's items' columns of V (train ∪ validation, disjoint). */
  for (int64_t u = 0; u < n; u++) {
    int64_t r = rows[u];
    double *x = m->xv + u * mu;
    for (int64_t e = tr->indptr[r]; e < tr->indptr[r + 1]; e++)
      cblas_daxpy((int)mu, 1.0, m->vt + (int64_t)tr->indices[e] * mu, 1, x, 1);
    for (int64_t e = test ? va->indptr[r] : 0; test && e < va->indptr[r + 1]; e++)
      cblas_daxpy((int)mu, 1.0, m->vt + (int64_t)va->indices[e] * mu, 1, x, 1);
  }
  /* q = (xVᵀ)·V, then x_i − (x_i − q_i)/(1 − |v_i|²). */
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)items, (int)mu, 1.0, m->xv,
              (int)mu, m->v, (int)items, 0.0, p, (int)items);
  for (int64_t u = 0; u < n; u++) {
    int64_t r = rows[u];
    double *q = p + u * items;
    for (int64_t i = 0; i < items; i++) q[i] *= m->inv[i];
    for (int64_t e = tr->indptr[r]; e < tr->indptr[r + 1]; e++)
      q[tr->indices[e]] += 1.0 - m->inv[tr->indices[e]];
    for (int64_t e = test ? va->indptr[r] : 0; test && e < va->indptr[r + 1]; e++)
      q[va->indices[e]] += 1.0 - m->inv[va->indices[e]];
  }
}

static ia_status lowrank_fit(void *self, double lambda) {
  lowrank_model *m = self;
  lowrank *c = &m->cur;
  int mu = (int)c->mu, items = (int)c->d;
  for (int64_t j = 0; j < c->mu; j++)
    for (int64_t i = j; i < c->mu; i++)
      m->c[i * c->mu + j] = m->sst[i * c->mu + j] + (i == j ? lambda : 0.0);
  lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', mu, m->c, mu);
  IA_CHECK(info >= 0, IA_ERR_INTERNAL, "dpotrf: argument %d invalid", (int)-info);
  IA_CHECK(info == 0, IA_ERR_NOTSPD,
           "EASE: λI + SSᵀ is not positive definite at λ = %g (dpotrf info %d); use a larger λ",
           lambda, (int)info);
  memcpy(c->v, m->s, sizeof(double) * (size_t)(c->mu * c->d));
  cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, mu, items, 1.0,
              m->c, mu, c->v, items);
  for (int64_t i = 0; i < c->d; i++) c->inv[i] = 0;
  for (int64_t k = 0; k < c->mu; k++)
    for (int64_t i = 0; i < c->d; i++) {
      double x = c->v[k * c->d + i];
      c->vt[i * c->mu + k] = x;
      c->inv[i] += x * x;
    }
  /* |v_i|² = s_iᵀ(λI + SSᵀ)⁻¹s_i < 1 for λ > 0 */
  for (int64_t i = 0; i < c->d; i++) {
    IA_CHECK(c->inv[i] < 1.0, IA_ERR_NOTSPD,
             "EASE: the diagonal of (SᵀS + λI)⁻¹ is not positive at λ = %g (item %lld); use a "
             "larger λ",
             lambda, (long long)i);
    c->inv[i] = 1.0 / (1.0 - c->inv[i]);
  }
  return IA_OK;
}

static void lowrank_keep(void *self) {
  lowrank_model *m = self;
  size_t md = sizeof(double) * (size_t)(m->cur.mu * m->cur.d);
  memcpy(m->best.v, m->cur.v, md);
  memcpy(m->best.vt, m->cur.vt, md);
  memcpy(m->best.inv, m->cur.inv, sizeof(double) * (size_t)m->cur.d);
}

static ia_status lowrank_alloc(int64_t mu, int64_t d, lowrank *l) {
  l->mu = mu;
  l->d = d;
  IA_CALL(IA_ALLOC(l->v, mu * d, "EASE's V = L⁻¹S"));
  IA_CALL(IA_ALLOC(l->vt, mu * d, "EASE's Vᵀ"));
  IA_CALL(IA_ALLOC(l->inv, d, "EASE's diagonal"));
  return IA_ALLOC(l->xv, IA_EVAL_CHUNK * mu, "EASE's context sums");
}

static void lowrank_free(lowrank *l) { free(l->v), free(l->vt), free(l->inv), free(l->xv); }

/* B = (VᵀV)·diag(1/(1 − |v_i|²)) with B_ii = 0 (row-major d × d), the dense
 * form of the low-rank model l for a model file. */
static ia_status lowrank_dense(const lowrank *l, double **out) {
  int64_t d = l->d;
  double *b = NULL;
  IA_CALL(IA_ALLOC(b, d * d, "EASE weights"));
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)d, (int)l->mu, 1.0, l->v,
              (int)d, l->v, (int)d, 0.0, b, (int)d);
  for (int64_t j = 0; j < d; j++) {
    for (int64_t i = 0; i < d; i++) b[j * d + i] *= l->inv[i];
    b[j * d + j] = 0.0;
  }
  *out = b;
  return IA_OK;
}

ia_status ia_sample_ease(MPI_Comm comm, const ia_dataset *d, ia_evaluator *ev, const double *s,
                         int64_t mu, const double *grid, int n, ia_train_result *r,
                         double **best_b) {
  int64_t items = d->n_items;
  if (best_b) *best_b = NULL;
  if (mu >= items) { /* no smaller form: the Gram SᵀS */
    double *g = NULL;
    IA_CALL(ia_agree(comm, IA_ALLOC(g, items * items, "EASE Gram SᵀS")));
    /* Full SᵀS from the lower triangle (ia_ease_fit reads it whole). */
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, (int)items, (int)mu, 1.0, s, (int)items, 0.0,
                g, (int)items);
    for (int64_t i = 0; i < items; i++)
      for (int64_t j = 0; j < i; j++) g[j * items + i] = g[i * items + j];
    ia_status st = ia_ease_select(comm, d, ev, g, grid, n, "ease", r, best_b);
    free(g);
    return st;
  }
  lowrank_model m = {.s = s};
  char what[192];
  snprintf(what, sizeof what, "V = L⁻¹S with LLᵀ = λI + SSᵀ, %lld × %lld (no %lld × %lld array)",
           (long long)mu, (long long)mu, (long long)items, (long long)items);
  ia_status st = IA_ALLOC(m.sst, mu * mu, "EASE's SSᵀ");
  if (st == IA_OK) st = IA_ALLOC(m.c, mu * mu, "EASE's factor");
  if (st == IA_OK) st = lowrank_alloc(mu, items, &m.cur);
  if (st == IA_OK) st = lowrank_alloc(mu, items, &m.best);
  st = ia_agree(comm, st);
  if (st == IA_OK) {
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)mu, (int)items, 1.0, s, (int)items,
                0.0, m.sst, (int)mu);
    double M = (double)mu, D = (double)items;
    m.em = (ease_model){lowrank_fit, lowrank_keep, lowrank_scores,
                        &m.cur,      &m.best,      M * M * M / 3.0 + M * M * D,
                        what};
    st = ease_grid(comm, d, ev, &m.em, grid, n, "ease", r);
    r->fit_flops += M * M * D; /* SSᵀ, once */
  }
  if (st == IA_OK && best_b) st = ia_agree(comm, lowrank_dense(&m.best, best_b));
  free(m.sst);
  free(m.c);
  lowrank_free(&m.cur);
  lowrank_free(&m.best);
  return st;
}
