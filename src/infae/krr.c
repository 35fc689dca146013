#include "infae/infae/krr.h"

#include <cblas.h>
#include <lapacke.h>
#include <stdlib.h>
#include <string.h>

#include "infae/core/ntk.h"

ia_status ia_krr_init(ia_krr *m, int64_t mu, int64_t d, int depth) {
  memset(m, 0, sizeof *m);
  m->mu = mu;
  m->d = d;
  m->depth = depth;
  ia_status st = IA_ALLOC(m->st, d * mu, "sample transpose Sᵀ");
  if (st == IA_OK) st = IA_ALLOC(m->ns, mu, "sample norms");
  if (st == IA_OK) st = IA_ALLOC(m->dn, mu, "sample norm cotangents");
  if (st == IA_OK) st = IA_ALLOC(m->g, mu * mu, "sample Gram S·Sᵀ");
  if (st == IA_OK) st = IA_ALLOC(m->k, mu * mu, "sample kernel K");
  if (st == IA_OK) st = IA_ALLOC(m->l, mu * mu, "Cholesky factor");
  if (st == IA_OK) st = IA_ALLOC(m->alpha, mu * d, "α");
  if (st != IA_OK) ia_krr_free(m);
  return st;
}

void ia_krr_free(ia_krr *m) {
  free(m->st);
  free(m->ns);
  free(m->dn);
  free(m->g);
  free(m->k);
  free(m->l);
  free(m->alpha);
  memset(m, 0, sizeof *m);
}

void ia_krr_kernel(ia_krr *m, const double *s) {
  int64_t mu = m->mu, d = m->d;
  m->s = s;
  for (int64_t j = 0; j < mu; j++)
    for (int64_t i = 0; i < d; i++) m->st[i * mu + j] = s[j * d + i];
  /* Lower triangle of S·Sᵀ, then the NTK entry by entry, mirrored. */
  cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)mu, (int)d, 1.0, s, (int)d, 0.0, m->g,
              (int)mu);
  m->trace = 0;
  for (int64_t j = 0; j < mu; j++) m->ns[j] = m->g[j * mu + j];
  for (int64_t i = 0; i < mu; i++) {
    for (int64_t j = 0; j <= i; j++) {
      m->g[j * mu + i] = m->g[i * mu + j];
      double v = ia_ntk(m->g[i * mu + j], m->ns[i], m->ns[j], (double)d, m->depth);
      m->k[i * mu + j] = m->k[j * mu + i] = v;
    }
    m->trace += m->k[i * mu + i];
  }
}

ia_status ia_krr_fit(ia_krr *m, double lambda) {
  int64_t mu = m->mu, d = m->d;
  m->lambda = lambda;
  m->lambda_prime = lambda * m->trace / (double)mu;
  memcpy(m->l, m->k, sizeof(double) * (size_t)(mu * mu));
  for (int64_t j = 0; j < mu; j++) m->l[j * mu + j] += m->lambda_prime;
  lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)mu, m->l, (lapack_int)mu);
  IA_CHECK(info >= 0, IA_ERR_LAPACK, "dpotrf: argument %d is invalid", (int)-info);
  IA_CHECK(info == 0, IA_ERR_NOTSPD,
           "the sample kernel K + λ'I is not positive definite at λ = %g (λ' = %g, leading "
           "minor %d of %lld); use a larger λ",
           lambda, m->lambda_prime, (int)info, (long long)mu);
  memcpy(m->alpha, m->s, sizeof(double) * (size_t)(mu * d));
  cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, (int)mu, (int)d,
              1.0, m->l, (int)mu, m->alpha, (int)d);
  cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, (int)mu, (int)d, 1.0,
              m->l, (int)mu, m->alpha, (int)d);
  return IA_OK;
}

static void add_row(const double *src, int64_t mu, double *dst) {
  for (int64_t j = 0; j < mu; j++) dst[j] += src[j];
}

void ia_krr_cross_gram(const ia_krr *m, const ia_ctx_rows *c, double *g, double *nc) {
  int64_t mu = m->mu;
  memset(g, 0, sizeof(double) * (size_t)(c->n * mu));
  for (int64_t u = 0; u < c->n; u++) {
    int64_t r = c->rows[u];
    nc[u] = 0;
    for (const ia_csr *x = c->a; x; x = x == c->a ? c->b : NULL) {
      for (int64_t p = x->indptr[r]; p < x->indptr[r + 1]; p++)
        add_row(m->st + (int64_t)x->indices[p] * mu, mu, g + u * mu);
      nc[u] += (double)(x->indptr[r + 1] - x->indptr[r]);
    }
  }
}

void ia_krr_cross_gram_cols(const ia_krr *m, int64_t n, const int64_t *colptr, const int32_t *pos,
                            double *g) {
  int64_t mu = m->mu;
  memset(g, 0, sizeof(double) * (size_t)(n * mu));
  for (int64_t i = 0; i < m->d; i++)
    for (int64_t q = colptr[i]; q < colptr[i + 1]; q++)
      add_row(m->st + i * mu, mu, g + (int64_t)pos[q] * mu);
}

void ia_krr_cross_kernel(const ia_krr *m, int64_t n, const double *g, const double *nc, double *kc,
                         double *dxy, double *dss) {
  int64_t mu = m->mu;
  double d = (double)m->d;
  for (int64_t u = 0; u < n; u++)
    for (int64_t j = 0; j < mu; j++) {
      int64_t e = u * mu + j;
      if (dxy) {
        double gxx;
        kc[e] = ia_ntk_grad(g[e], nc[u], m->ns[j], d, m->depth, &dxy[e], &gxx, &dss[e]);
      } else {
        kc[e] = ia_ntk(g[e], nc[u], m->ns[j], d, m->depth);
      }
    }
}

void ia_krr_predict(const ia_krr *m, int64_t n, const double *kc, double *p) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)m->d, (int)m->mu, 1.0, kc,
              (int)m->mu, m->alpha, (int)m->d, 0.0, p, (int)m->d);
}

void ia_krr_kernel_vjp(const ia_krr *m, double *dk, double *ds) {
  int64_t mu = m->mu, d = m->d;
  double dd = (double)d, w2 = IA_NTK_W2;
  double *dn = m->dn;
  /* K_ij and K_ji are one function of the pair (G_ij = s_i·s_j, n_i, n_j)
   * with n = |s|²; dk becomes the (symmetric) cotangent of G, the norms
   * collect the rest. K_ii = W²·q_ii + b² depends on n_i only. */
  for (int64_t i = 0; i < mu; i++)
    dn[i] = m->depth == 1 ? dk[i * mu + i] * w2 * w2 / dd
                          : dk[i * mu + i] * ia_ntk_diag_slope(dd, m->depth);
  for (int64_t i = 0; i < mu; i++) {
    dk[i * mu + i] = 0;
    for (int64_t j = 0; j < i; j++) {
      double gxy, gxx, gyy, c = dk[i * mu + j] + dk[j * mu + i];
      ia_ntk_grad(m->g[i * mu + j], m->ns[i], m->ns[j], dd, m->depth, &gxy, &gxx, &gyy);
      dn[i] += c * gxx;
      dn[j] += c * gyy;
      dk[i * mu + j] = dk[j * mu + i] = c * gxy;
    }
  }
  /* ds_i += Σ_j dG_ij s_j + 2·dn_i s_i. */
  cblas_dsymm(CblasRowMajor, CblasLeft, CblasLower, (int)mu, (int)d, 1.0, dk, (int)mu, m->s, (int)d,
              1.0, ds, (int)d);
  for (int64_t i = 0; i < mu; i++) cblas_daxpy((int)d, 2.0 * dn[i], m->s + i * d, 1, ds + i * d, 1);
}

void ia_krr_vjp(const ia_krr *m, double *dalpha, double *ds, double *work) {
  int64_t mu = m->mu, d = m->d;
  /* W = (K + λ'I)⁻¹·dα with the factor of the forward solve. */
  cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, (int)mu, (int)d,
              1.0, m->l, (int)mu, dalpha, (int)d);
  cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, (int)mu, (int)d, 1.0,
              m->l, (int)mu, dalpha, (int)d);
  /* S is the right-hand side: ds += W. */
  cblas_daxpy((int)(mu * d), 1.0, dalpha, 1, ds, 1);
  /* dK = −W·αᵀ, plus λ' = λ·tr(K)/μ: (λ/μ)·tr(dK) on the diagonal. */
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)mu, (int)mu, (int)d, -1.0, dalpha,
              (int)d, m->alpha, (int)d, 0.0, work, (int)mu);
  double tr = 0;
  for (int64_t i = 0; i < mu; i++) tr += work[i * mu + i];
  for (int64_t i = 0; i < mu; i++) work[i * mu + i] += m->lambda / (double)mu * tr;
  ia_krr_kernel_vjp(m, work, ds);
}
