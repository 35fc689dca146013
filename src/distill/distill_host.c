#include "distill/distill_host.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infae/io/dataset.h"

ia_status ia_distill_host_create(MPI_Comm comm, int64_t mu, int64_t d, int depth,
                                 const ia_gumbel *g, double c_card, double ipu, const ia_csr *t,
                                 ia_distill_host *p) {
  memset(p, 0, sizeof *p);
  p->comm = comm;
  MPI_Comm_rank(comm, &p->rank);
  MPI_Comm_size(comm, &p->size);
  p->mu = mu;
  p->d = d;
  p->g = *g;
  p->g.d = d;
  p->c_card = c_card;
  p->ipu = ipu;
  p->t = t;
  p->chunk = 128;
  ia_partition(mu, p->size, p->rank, &p->z0, &p->nz);
  p->n_red = 2 * mu * d + mu + 2;
  int total;
  ia_status st = ia_to_int(mu * d, &total);
  if (st == IA_OK) st = IA_ALLOC(p->counts, p->size, "allgather counts");
  if (st == IA_OK) st = IA_ALLOC(p->displs, p->size, "allgather displacements");
  if (st == IA_OK)
    for (int r = 0; r < p->size; r++) {
      int64_t b, c;
      ia_partition(mu, p->size, r, &b, &c);
      p->counts[r] = (int)(c * d);
      p->displs[r] = (int)(b * d);
    }
  int64_t c = p->chunk;
  if (st == IA_OK) st = IA_ALLOC(p->a, mu * d, "Gumbel-softmax sums A");
  if (st == IA_OK) st = IA_ALLOC(p->s, mu * d, "sample S");
  if (st == IA_OK) st = ia_krr_init(&p->krr, mu, d, depth);
  if (st == IA_OK) st = IA_ALLOC(p->red, p->n_red, "gradient all-reduce buffer");
  if (st == IA_OK) st = IA_ALLOC(p->ds, mu * d, "dL/dS");
  if (st == IA_OK) st = IA_ALLOC(p->work, mu * mu, "μ×μ work");
  if (st == IA_OK) st = IA_ALLOC(p->scratch, ia_gumbel_scratch(d), "Gumbel scratch");
  if (st == IA_OK) st = IA_ALLOC(p->cg, c * mu, "outer Gram block");
  if (st == IA_OK) st = IA_ALLOC(p->cn, c, "outer norms");
  if (st == IA_OK) st = IA_ALLOC(p->ck, c * mu, "outer kernel block");
  if (st == IA_OK) st = IA_ALLOC(p->cdxy, c * mu, "outer kernel partials");
  if (st == IA_OK) st = IA_ALLOC(p->cdss, c * mu, "outer kernel partials");
  if (st == IA_OK) st = IA_ALLOC(p->cp, c * d, "outer predictions block");
  if (st == IA_OK) st = IA_ALLOC(p->colptr, d + 1, "block's users by item");
  if (st == IA_OK) st = IA_ALLOC(p->pos, ia_csr_nnz(t) + 1, "block's users by item");
  p->bytes_allreduce = 8.0 * (double)p->n_red;
  p->bytes_allgather = 8.0 * (double)(mu * d);
  st = ia_agree(comm, st);
  if (st != IA_OK) ia_distill_host_free(p);
  return st;
}

void ia_distill_host_free(ia_distill_host *p) {
  free(p->counts);
  free(p->displs);
  free(p->a);
  free(p->s);
  ia_krr_free(&p->krr);
  free(p->red);
  free(p->ds);
  free(p->work);
  free(p->scratch);
  free(p->cg);
  free(p->cn);
  free(p->ck);
  free(p->cdxy);
  free(p->cdss);
  free(p->cp);
  free(p->colptr);
  free(p->pos);
  memset(p, 0, sizeof *p);
}

ia_status ia_distill_host_sample(ia_distill_host *p, const double *z, uint64_t step) {
  int64_t d = p->d;
  p->g.step = step;
  for (int64_t r = 0; r < p->nz; r++)
    ia_gumbel_row(&p->g, p->z0 + r, z + r * d, p->a + (p->z0 + r) * d, p->scratch);
  IA_MPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, p->a, p->counts, p->displs, MPI_DOUBLE,
                        p->comm));
  for (int64_t e = 0; e < p->mu * d; e++) p->s[e] = p->a[e] < 1.0 ? p->a[e] : 1.0; /* hardtanh */
  ia_krr_kernel(&p->krr, p->s);
  return IA_OK;
}

double ia_distill_host_ce(const double *p, int64_t d, const int32_t *items, int64_t n, double scale,
                          double *dp) {
  double m = p[0], sum = 0, hit = 0;
  for (int64_t i = 1; i < d; i++) m = p[i] > m ? p[i] : m;
  for (int64_t i = 0; i < d; i++) sum += exp(p[i] - m);
  double lse = m + log(sum);
  for (int64_t q = 0; q < n; q++) hit += p[items[q]];
  if (dp) {
    for (int64_t i = 0; i < d; i++) dp[i] = scale * (double)n * exp(p[i] - lse);
    for (int64_t q = 0; q < n; q++) dp[items[q]] -= scale;
  }
  return (double)n * lse - hit;
}

double ia_distill_host_outer(ia_distill_host *p, const int64_t *rows, int64_t n, int64_t b_total,
                             double *red) {
  const ia_krr *m = &p->krr;
  const ia_csr *t = p->t;
  int64_t mu = p->mu, d = p->d;
  double scale = 1.0 / (double)b_total, loss = 0;
  double *dalpha = red, *dst = red ? red + mu * d : NULL, *dns = red ? red + 2 * mu * d : NULL;
  for (int64_t u0 = 0; u0 < n; u0 += p->chunk) {
    int64_t c = n - u0 < p->chunk ? n - u0 : p->chunk;
    ia_csr_columns_of_rows(t, rows + u0, c, p->colptr, p->pos);
    ia_krr_cross_gram_cols(m, c, p->colptr, p->pos, p->cg);
    for (int64_t u = 0; u < c; u++)
      p->cn[u] = (double)(t->indptr[rows[u0 + u] + 1] - t->indptr[rows[u0 + u]]);
    ia_krr_cross_kernel(m, c, p->cg, p->cn, p->ck, red ? p->cdxy : NULL, red ? p->cdss : NULL);
    ia_krr_predict(m, c, p->ck, p->cp);
    for (int64_t u = 0; u < c; u++) {
      int64_t r = rows[u0 + u];
      const int32_t *items = t->indices + t->indptr[r];
      int64_t ni = t->indptr[r + 1] - t->indptr[r];
      loss += ia_distill_host_ce(p->cp + u * d, d, items, ni, scale, red ? p->cp + u * d : NULL);
    }
    if (!red) continue;
    /* P = Kc·α: dα += Kcᵀ·dP, dKc = dP·αᵀ (into ck). */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)mu, (int)d, (int)c, 1.0, p->ck,
                (int)mu, p->cp, (int)d, 1.0, dalpha, (int)d);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c, (int)mu, (int)d, 1.0, p->cp,
                (int)d, m->alpha, (int)d, 0.0, p->ck, (int)mu);
    /* Kc = NTK(g = T·Sᵀ, |t|², |s|²): dG = dKc ⊙ ∂xy goes to Sᵀ's rows of
     * the user's items; d|s|² collects dKc ⊙ ∂yy. */
    for (int64_t u = 0; u < c; u++) {
      double *dg = p->ck + u * mu;
      for (int64_t j = 0; j < mu; j++) {
        dns[j] += dg[j] * p->cdss[u * mu + j];
        dg[j] *= p->cdxy[u * mu + j];
      }
    }
    for (int64_t i = 0; i < d; i++)
      for (int64_t q = p->colptr[i]; q < p->colptr[i + 1]; q++) {
        const double *dg = p->ck + (int64_t)p->pos[q] * mu;
        double *row = dst + i * mu;
        for (int64_t j = 0; j < mu; j++) row[j] += dg[j];
      }
  }
  return loss;
}

double ia_distill_host_card(const ia_distill_host *p) {
  double sum = 0;
  for (int64_t e = 0; e < p->mu * p->d; e++) sum += p->s[e];
  return p->c_card * sum / (double)p->mu / p->ipu;
}

ia_status ia_distill_host_loss(ia_distill_host *p, const int64_t *rows, int64_t n, int64_t b_total,
                               double *loss, double *ce) {
  double sum = ia_distill_host_outer(p, rows, n, b_total, NULL);
  IA_MPI(MPI_Allreduce(MPI_IN_PLACE, &sum, 1, MPI_DOUBLE, MPI_SUM, p->comm));
  *ce = sum / (double)b_total;
  *loss = *ce + ia_distill_host_card(p);
  return IA_OK;
}

ia_status ia_distill_host_loss_grad(ia_distill_host *p, const double *z, const int64_t *rows,
                                    int64_t n, int64_t b_total, double *loss, double *ce,
                                    double *dz, int *flag) {
  int64_t mu = p->mu, d = p->d;
  memset(p->red, 0, sizeof(double) * (size_t)p->n_red);
  double sum = ia_distill_host_outer(p, rows, n, b_total, p->red);
  p->red[p->n_red - 2] = sum;
  p->red[p->n_red - 1] = (double)*flag;
  IA_CALL(ia_allreduce_sum(p->comm, p->red, p->n_red));
  *ce = p->red[p->n_red - 2] / (double)b_total;
  *loss = *ce + ia_distill_host_card(p);
  *flag = (int)p->red[p->n_red - 1];

  /* Replicated: the direct dL/dS (transposed back), d|s|², the inner solve
   * and kernel, the cardinality term. */
  double *dalpha = p->red, *dst = p->red + mu * d, *dns = p->red + 2 * mu * d, *ds = p->ds;
  for (int64_t j = 0; j < mu; j++)
    for (int64_t i = 0; i < d; i++)
      ds[j * d + i] = dst[i * mu + j] + 2.0 * dns[j] * p->s[j * d + i];
  ia_krr_vjp(&p->krr, dalpha, ds, p->work);
  double card = p->c_card / (double)mu / p->ipu;
  /* hardtanh: S = min(A, 1) passes the gradient where A < 1. */
  for (int64_t e = 0; e < mu * d; e++) ds[e] = p->a[e] < 1.0 ? ds[e] + card : 0.0;
  for (int64_t r = 0; r < p->nz; r++)
    ia_gumbel_row_vjp(&p->g, p->z0 + r, z + r * d, ds + (p->z0 + r) * d, dz + r * d, p->scratch);
  return IA_OK;
}
