#include "distill/distill_be.h"

#include <stdlib.h>
#include <string.h>

#include "infae/io/dataset.h"

/* Densified users and their predictions take at most this many bytes each. */
static const double block_bytes = 256.0 * 1048576.0;

static ia_status be_doubles(ia_distill_be *p, double **out, int64_t n, const char *what) {
  return ia_be_alloc(p->be, sizeof(double) * (size_t)(n > 0 ? n : 1), what, (void **)out);
}

ia_status ia_distill_be_create(MPI_Comm comm, ia_backend *be, int64_t mu, int64_t d, int depth,
                               const ia_gumbel *g, double c_card, double ipu, const ia_csr *t,
                               int64_t chunk, ia_distill_be *p) {
  memset(p, 0, sizeof *p);
  p->comm = comm;
  MPI_Comm_rank(comm, &p->rank);
  MPI_Comm_size(comm, &p->size);
  p->be = be;
  p->mu = mu;
  p->d = d;
  p->depth = depth;
  p->g = *g;
  p->g.d = d;
  p->c_card = c_card;
  p->ipu = ipu;
  p->t = t;
  if (chunk <= 0) {
    chunk = (int64_t)(block_bytes / (8.0 * (double)d));
    chunk = chunk < 64 ? 64 : chunk > 8192 ? 8192 : chunk;
  }
  p->chunk = chunk;
  ia_partition(mu, p->size, p->rank, &p->z0, &p->nz);
  p->n_red = 2 * mu * d + mu + 2;
  int64_t md = mu * d, mm = mu * mu, c = chunk;
  ia_status st = ia_be_csr_make(be, t, &p->tb);
  if (st == IA_OK) st = be_doubles(p, &p->a, md, "Gumbel-softmax sums A");
  if (st == IA_OK) st = be_doubles(p, &p->s, md, "sample S");
  if (st == IA_OK) st = be_doubles(p, &p->alpha, md, "α");
  if (st == IA_OK) st = be_doubles(p, &p->gram, mm, "sample Gram");
  if (st == IA_OK) st = be_doubles(p, &p->k, mm, "sample kernel K");
  if (st == IA_OK) st = be_doubles(p, &p->l, mm, "Cholesky factor");
  if (st == IA_OK) st = be_doubles(p, &p->dk, mm, "dL/dK");
  if (st == IA_OK) st = be_doubles(p, &p->dg, mm, "dL/dG");
  if (st == IA_OK) st = be_doubles(p, &p->ns, mu, "sample norms");
  if (st == IA_OK) st = be_doubles(p, &p->dn, mu, "norm cotangents");
  if (st == IA_OK) st = be_doubles(p, &p->red, p->n_red, "gradient all-reduce buffer");
  if (st == IA_OK) st = be_doubles(p, &p->tt, d * c, "densified users");
  if (st == IA_OK) st = be_doubles(p, &p->cp, d * c, "outer predictions block");
  if (st == IA_OK) st = be_doubles(p, &p->cg, mu * c, "outer kernel block");
  if (st == IA_OK) st = be_doubles(p, &p->cdxy, mu * c, "outer kernel partials");
  if (st == IA_OK) st = be_doubles(p, &p->cdnr, mu * c, "outer kernel partials");
  if (st == IA_OK) st = be_doubles(p, &p->cnt, c, "outer norms");
  if (st == IA_OK)
    st = ia_be_alloc(be, sizeof(int32_t) * (size_t)c, "outer rows", (void **)&p->rows);
  if (st == IA_OK) st = IA_ALLOC(p->rows_h, c, "outer rows");
  if (st == IA_OK) st = IA_ALLOC(p->cnt_h, c, "outer norms");
  if (st == IA_OK && t->n_rows > INT32_MAX)
    st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "more than 2^31 users on one rank");
  st = ia_agree(comm, st);
  if (st != IA_OK) ia_distill_be_free(p);
  return st;
}

void ia_distill_be_free(ia_distill_be *p) {
  ia_backend *b = p->be;
  if (!b) return;
  ia_be_csr_free(b, &p->tb);
  double *arrays[] = {p->a,  p->s,   p->alpha, p->gram, p->k,  p->l,    p->dk,   p->dg, p->ns,
                      p->dn, p->red, p->tt,    p->cp,   p->cg, p->cdxy, p->cdnr, p->cnt};
  for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++) ia_be_free(b, arrays[i]);
  ia_be_free(b, p->rows);
  free(p->rows_h);
  free(p->cnt_h);
  ia_rank_eval_free(&p->re);
  memset(p, 0, sizeof *p);
}

/* K = NTK(S, S) of the sample in p->s, and its trace. */
static ia_status sample_kernel(ia_distill_be *p) {
  int64_t mu = p->mu, d = p->d;
  ia_backend *b = p->be;
  IA_CALL(ia_be_gemm(b, IA_FP64, 'T', 'N', mu, mu, d, 1.0, p->s, d, p->s, d, 0.0, p->gram, mu));
  IA_CALL(ia_be_diag_get(b, mu, p->gram, mu, p->ns));
  IA_CALL(ia_be_ntk_dense(b, mu, mu, (double)d, p->depth, p->gram, mu, p->ns, p->ns, p->k, mu, NULL,
                          NULL));
  return ia_be_diag_sum(b, IA_FP64, mu, p->k, mu, &p->trace);
}

ia_status ia_distill_be_sample(ia_distill_be *p, const double *z, uint64_t step) {
  int64_t mu = p->mu, d = p->d;
  ia_backend *b = p->be;
  p->g.step = step;
  /* Each rank writes its columns into zeros; the sum is the gather. */
  ia_status st = ia_be_zero(b, p->a, sizeof(double) * (size_t)(mu * d));
  if (st == IA_OK) st = ia_be_gumbel_rows(b, &p->g, p->z0, p->nz, z, p->a + p->z0 * d);
  IA_CALL(ia_agree(p->comm, st)); /* no rank may wait in the all-reduce alone */
  if (p->size > 1) IA_CALL(ia_be_allreduce_sum(b, p->a, mu * d));
  IA_CALL(ia_be_hardtanh(b, mu * d, p->a, p->s));
  return sample_kernel(p);
}

ia_status ia_distill_be_set_sample(ia_distill_be *p, const double *s) {
  IA_CALL(ia_be_upload(p->be, p->s, s, sizeof(double) * (size_t)(p->mu * p->d)));
  return sample_kernel(p);
}

ia_status ia_distill_be_fit(ia_distill_be *p, double lambda) {
  int64_t mu = p->mu, d = p->d, info = 0;
  ia_backend *b = p->be;
  p->lambda = lambda;
  p->lambda_prime = lambda * p->trace / (double)mu;
  IA_CALL(ia_be_copy(b, p->l, p->k, sizeof(double) * (size_t)(mu * mu)));
  IA_CALL(ia_be_diag_add(b, IA_FP64, mu, p->l, mu, p->lambda_prime));
  IA_CALL(ia_be_potrf(b, IA_FP64, mu, p->l, mu, &info));
  IA_CHECK(info == 0, IA_ERR_NOTSPD,
           "the sample kernel K + λ'I is not positive definite at λ = %g (λ' = %g, leading "
           "minor %lld of %lld); use a larger λ",
           lambda, p->lambda_prime, (long long)info, (long long)mu);
  /* α = (LLᵀ)⁻¹S, here αᵀ = Sᵀ·L⁻ᵀ·L⁻¹ on the d × μ columns. */
  IA_CALL(ia_be_copy(b, p->alpha, p->s, sizeof(double) * (size_t)(mu * d)));
  IA_CALL(ia_be_trsm(b, IA_FP64, 'R', 'T', d, mu, p->l, mu, p->alpha, d));
  return ia_be_trsm(b, IA_FP64, 'R', 'N', d, mu, p->l, mu, p->alpha, d);
}

/* Predictions P = α·NTK(S, T) (d × c, into cp) of c ≤ chunk local users,
 * the kernel NTK(S, T) (μ × c) left in cg; with partials also its partials. */
static ia_status predict_block(ia_distill_be *p, const int64_t *rows, int64_t c, int partials) {
  int64_t mu = p->mu, d = p->d;
  ia_backend *b = p->be;
  const ia_csr *t = p->t;
  for (int64_t u = 0; u < c; u++) {
    int64_t r = rows[u];
    p->rows_h[u] = (int32_t)r;
    p->cnt_h[u] = (double)(t->indptr[r + 1] - t->indptr[r]);
  }
  IA_CALL(ia_be_upload(b, p->rows, p->rows_h, sizeof(int32_t) * (size_t)c));
  IA_CALL(ia_be_upload(b, p->cnt, p->cnt_h, sizeof(double) * (size_t)c));
  IA_CALL(ia_be_densify_rows(b, p->tb, p->rows, c, d, p->tt, d));
  IA_CALL(ia_be_gemm(b, IA_FP64, 'T', 'N', mu, c, d, 1.0, p->s, d, p->tt, d, 0.0, p->cg, mu));
  IA_CALL(ia_be_ntk_dense(b, mu, c, (double)d, p->depth, p->cg, mu, p->ns, p->cnt, p->cg, mu,
                          partials ? p->cdxy : NULL, partials ? p->cdnr : NULL));
  return ia_be_gemm(b, IA_FP64, 'N', 'N', d, c, mu, 1.0, p->alpha, d, p->cg, mu, 0.0, p->cp, d);
}

/* Outer pass over the local rows, a block of users at a time: returns the
 * loss sum in *sum; with grad accumulates dα, dS and d|s|² (scaled by
 * 1/b_total) into red. */
static ia_status outer(ia_distill_be *p, const int64_t *rows, int64_t n, int64_t b_total, int grad,
                       double *sum) {
  int64_t mu = p->mu, d = p->d;
  ia_backend *b = p->be;
  double scale = 1.0 / (double)b_total;
  double *dalpha = p->red, *dst = p->red + mu * d, *dns = p->red + 2 * mu * d;
  *sum = 0;
  for (int64_t u0 = 0; u0 < n; u0 += p->chunk) {
    int64_t c = n - u0 < p->chunk ? n - u0 : p->chunk;
    IA_CALL(predict_block(p, rows + u0, c, grad));
    double part;
    IA_CALL(ia_be_softmax_ce(b, d, c, p->cp, d, p->tb, p->rows, scale, grad, &part));
    *sum += part;
    if (!grad) continue;
    /* dα += dP·Kcᵀ; dKc = αᵀ·dP (into cg); dG = dKc ⊙ ∂xy with
     * d|s|² += Σ dKc ⊙ ∂|s|²; dS += T·dGᵀ. */
    IA_CALL(ia_be_gemm(b, IA_FP64, 'N', 'T', d, mu, c, 1.0, p->cp, d, p->cg, mu, 1.0, dalpha, d));
    IA_CALL(ia_be_gemm(b, IA_FP64, 'T', 'N', mu, c, d, 1.0, p->alpha, d, p->cp, d, 0.0, p->cg, mu));
    IA_CALL(ia_be_ntk_dense_vjp(b, mu, c, p->cg, mu, p->cdxy, p->cdnr, dns));
    IA_CALL(ia_be_gemm(b, IA_FP64, 'N', 'T', d, mu, c, 1.0, p->tt, d, p->cg, mu, 1.0, dst, d));
  }
  return IA_OK;
}

static ia_status card(ia_distill_be *p, double *out) {
  double sum;
  IA_CALL(ia_be_sum(p->be, p->mu * p->d, p->s, &sum));
  *out = p->c_card * sum / (double)p->mu / p->ipu;
  return IA_OK;
}

ia_status ia_distill_be_loss(ia_distill_be *p, const int64_t *rows, int64_t n, int64_t b_total,
                             double *loss, double *ce) {
  double sum, cd;
  ia_status st = outer(p, rows, n, b_total, 0, &sum);
  IA_CALL(ia_agree(p->comm, st));
  IA_MPI(MPI_Allreduce(MPI_IN_PLACE, &sum, 1, MPI_DOUBLE, MPI_SUM, p->comm));
  IA_CALL(card(p, &cd));
  *ce = sum / (double)b_total;
  *loss = *ce + cd;
  return IA_OK;
}

ia_status ia_distill_be_loss_grad(ia_distill_be *p, const double *z, const int64_t *rows, int64_t n,
                                  int64_t b_total, double *loss, double *ce, double *dz,
                                  int *flag) {
  int64_t mu = p->mu, d = p->d;
  ia_backend *b = p->be;
  double sum = 0, tail[2], cd;
  ia_status st = ia_be_zero(b, p->red, sizeof(double) * (size_t)p->n_red);
  if (st == IA_OK) st = outer(p, rows, n, b_total, 1, &sum);
  tail[0] = sum;
  tail[1] = (double)*flag;
  if (st == IA_OK) st = ia_be_upload(b, p->red + p->n_red - 2, tail, sizeof tail);
  IA_CALL(ia_agree(p->comm, st));
  IA_CALL(ia_be_allreduce_sum(b, p->red, p->n_red));
  IA_CALL(ia_be_download(b, tail, p->red + p->n_red - 2, sizeof tail));
  IA_CALL(card(p, &cd));
  *ce = tail[0] / (double)b_total;
  *loss = *ce + cd;
  *flag = (int)tail[1];

  /* Replicated: the inner solve and kernel, the norms, the cardinality term. */
  double *w = p->red, *ds = p->red + mu * d, *dns = p->red + 2 * mu * d;
  /* W = (K + λ'I)⁻¹·dα; S is the right-hand side: dS += W. */
  IA_CALL(ia_be_trsm(b, IA_FP64, 'R', 'T', d, mu, p->l, mu, w, d));
  IA_CALL(ia_be_trsm(b, IA_FP64, 'R', 'N', d, mu, p->l, mu, w, d));
  IA_CALL(ia_be_axpy(b, mu * d, 1.0, w, ds));
  /* dK = −W·αᵀ plus (λ/μ)·tr(dK) on the diagonal (λ' = λ·tr K/μ). */
  double tr;
  IA_CALL(ia_be_gemm(b, IA_FP64, 'T', 'N', mu, mu, d, -1.0, w, d, p->alpha, d, 0.0, p->dk, mu));
  IA_CALL(ia_be_diag_sum(b, IA_FP64, mu, p->dk, mu, &tr));
  IA_CALL(ia_be_diag_add(b, IA_FP64, mu, p->dk, mu, p->lambda / (double)mu * tr));
  /* Through K = NTK(S, S): dS += S·dG + 2·(dn + d|s|²)_j·s_j. */
  IA_CALL(ia_be_ntk_sym_vjp(b, mu, (double)d, p->depth, p->gram, mu, p->ns, p->dk, mu, p->dg, mu,
                            p->dn));
  IA_CALL(ia_be_gemm(b, IA_FP64, 'N', 'N', d, mu, mu, 1.0, p->s, d, p->dg, mu, 1.0, ds, d));
  IA_CALL(ia_be_axpy(b, mu, 1.0, dns, p->dn));
  IA_CALL(ia_be_scale_cols_add(b, d, mu, 2.0, p->dn, p->s, d, ds, d));
  /* hardtanh: S = min(A, 1) passes the gradient where A < 1. */
  IA_CALL(ia_be_hardtanh_vjp(b, mu * d, p->a, p->c_card / (double)mu / p->ipu, ds));
  return ia_be_gumbel_rows_vjp(b, &p->g, p->z0, p->nz, z, ds + p->z0 * d, dz);
}

/* ---- validation of the sample on the backend ---------------------------------------- */

static ia_status model_fit(void *ctx, double lambda, double *lambda_prime, double *trace) {
  ia_distill_be *p = ctx;
  IA_CALL(ia_distill_be_fit(p, lambda));
  *lambda_prime = p->lambda_prime;
  *trace = p->trace;
  return IA_OK;
}

static ia_status block_scores(void *ctx, ia_rank_eval *r, const int64_t *rows, int64_t c, int test,
                              double **cols) {
  ia_distill_be *p = ctx;
  (void)r, (void)test;
  IA_CALL(predict_block(p, rows, c, 0));
  *cols = p->cp;
  return IA_OK;
}

static ia_status model_eval(void *ctx, MPI_Comm comm, const ia_dataset *d, ia_evaluator *ev,
                            int test, ia_metrics *out) {
  ia_distill_be *p = ctx;
  IA_CHECK(!test, IA_ERR_ARG, "the sample's test metrics are computed on the host");
  IA_CHECK(d->train.indptr == p->t->indptr, IA_ERR_ARG,
           "the sample is validated on the users of its own step");
  ia_status st = IA_OK;
  if (!p->re.be) st = ia_rank_eval_create(p->be, d, p->chunk, &p->re); /* at the first use */
  IA_CALL(ia_agree(comm, st));
  return ia_rank_evaluate(comm, d, ev, &p->re, 0, block_scores, p, out);
}

ia_sample_model ia_distill_be_model(ia_distill_be *p) {
  return (ia_sample_model){p, model_fit, model_eval};
}
