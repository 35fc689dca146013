/* ∞-AE: the Gram and NTK, the factor of K + λ'I and α, for the exact fit,
 * a user sample and Nyström. */
#include "infae/infae_impl.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
  memset(out, 0, infae_local_bytes(m, ld, m->dl));
  for (int64_t r = 0; r < csr->n_rows; r++)
    for (int64_t e = csr->indptr[r]; e < csr->indptr[r + 1]; e++) {
      int32_t it = csr->indices[e];
      if (ia_g2p(it, m->nb, g->npcol) == g->mycol)
        infae_put(m, out, (size_t)ia_g2l(it, m->nb, g->npcol) * (size_t)ld + (size_t)r, 1.0);
    }
}

static ia_status densify(ia_infae *m, const ia_csr *csr, const ia_be_csr *bcsr, void *out,
                         int64_t ld) {
  if (m->arrays_on_backend) return ia_be_densify(m->be, m->prec, bcsr, m->d, out, ld);
  densify_host(m, csr, out, ld);
  return IA_OK;
}

/* Bytes of the backend this rank may use for the products and solves of
 * infae/dist/summa.h: its share of the GPU's free memory, less a tenth for
 * cuBLAS's workspace (SIZE_MAX on the CPU). */
size_t infae_backend_budget(const ia_infae *m) {
  size_t b = ia_backend_free_bytes(m->be);
  return b == SIZE_MAX ? b : b / (size_t)ia_backend_share(m->be) / 10 * 9;
}

/* The backend for an infae/dist/summa.h operation that keeps a rows × cols
 * array in its memory: the rank's own, or, when that array does not fit the
 * GPUs, a CPU backend opened into *host (closed by the caller), said once
 * per *said flag. */
static ia_status summa_backend(ia_infae *m, int64_t rows, int64_t cols, const char *what, int *said,
                               ia_backend **host, ia_backend **be) {
  *be = m->be;
  *host = NULL;
  if (ia_summa_fits(&m->g, m->be, m->prec, rows, cols, m->nb, infae_backend_budget(m)))
    return IA_OK;
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
    if (infae_diag_at(m, j, &at)) infae_put(m, a, at, infae_get(m, a, at) + shift);
  ia_backend *be, *host = NULL;
  IA_CALL(summa_backend(m, m->u, m->u, m->nystrom ? "K_mm or ΦᵀΦ" : "K", &m->said_host_factor,
                        &host, &be));
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
  IA_CALL(infae_cross_kernel(m, 0, &m->stats.gram));
  m->have_cross = 1;
  t0 = ia_time();
  double tr = 0;
  if (g->mycol == 0) /* the row blocks over n are repeated in every process column */
    for (int64_t i = 0; i < m->mn; i++) {
      double c = (double)(m->ctr.indptr[i + 1] - m->ctr.indptr[i]);
      tr += ia_ntk(c, c, c, D);
    }
  m->trace = infae_allsum(g->comm, tr);
  m->trace_count = N;
  IA_CALL(ia_agree(g->comm, densify(m, &m->ctr, m->bctr, m->pc, m->mn)));
  if (m->arrays_on_backend) {
    IA_CALL(ia_be_trsm(m->be, m->prec, 'R', 'T', m->n, m->u, m->k, m->mu, m->kc, m->mn));
    IA_CALL(ia_be_gemm(m->be, m->prec, 'T', 'N', m->u, m->u, m->n, 1.0, m->kc, m->mn, m->kc, m->mn,
                       0.0, m->kg, m->mu));
    IA_CALL(ia_be_gemm(m->be, m->prec, 'T', 'N', m->u, m->d, m->n, 1.0, m->kc, m->mn, m->pc, m->mn,
                       0.0, m->rhs, m->mu));
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
    ia_status st =
        ia_summa_trsm_right(&m->g, be, m->prec, m->n, m->u, m->nb, m->kg, ldk, m->kc, ldc);
    if (st == IA_OK)
      st = ia_summa_gemm_tn(&m->g, be, m->prec, 1, m->u, m->u, m->n, m->nb, m->kc, ldc, m->kc, ldc,
                            m->kg, ldk);
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
  ia_status st =
      infae_kernel_tiles(m, m->bfr, NULL, m->nfr, m->bfc, m->nfc, 1, m->k, m->mu, m->nu, &flops);
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
      if (infae_diag_at(m, j, &at)) tr += infae_get(m, m->k, at);
  IA_CALL(ia_agree(m->g.comm, st));
  m->trace = infae_allsum(g->comm, tr);
  m->trace_count = (double)m->u;
  m->stats.gram.flops += infae_allsum(g->comm, flops);
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
  IA_CHECK(info == 0, IA_ERR_LAPACK, "λ = %g: potrf failed (λ' = %.6g, argument %lld)", lambda, lp,
           (long long)-info);
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
    IA_CALL(infae_md_tiles(m, 0, m->nfr, 1, &flops));
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
  if (m->kf == m->k) m->have_kernel = 0;       /* factored in place */
  const void *src = m->nystrom ? m->kg : m->k; /* ΦᵀΦ + λ'I or K + λ'I */
  if (m->kf != src) IA_CALL(infae_copy_array(m, m->kf, src, infae_local_bytes(m, m->mu, m->nu)));
  int64_t info = 0;
  IA_CALL(shift_factor(m, m->kf, lp, &info));
  m->stats.factor.seconds += ia_time() - t0;
  m->stats.factor.flops += (double)m->u * (double)m->u * (double)m->u / 3.0;
  IA_CALL(factor_status(m, info, lambda, lp));

  /* Right-hand side X (Nyström: ΦᵀX), solved in place: by the backend on
   * one rank, by panels on the grid. */
  t0 = ia_time();
  if (m->nystrom)
    IA_CALL(infae_copy_array(m, m->a, m->rhs, infae_local_bytes(m, m->mu, m->dl)));
  else
    IA_CALL(densify(m, &m->fr, m->bfr, m->a, m->mu));
  if (m->arrays_on_backend) {
    IA_CALL(ia_be_potrs(m->be, m->prec, m->u, m->d, m->kf, m->mu, m->a, m->mu));
  } else {
    /* infae/dist/summa.h on the ranks' backends; a right-hand side too large for
     * the GPUs is solved the same way on the host. */
    ia_backend *be, *host = NULL;
    IA_CALL(summa_backend(m, m->u, m->d, "X/α (users × items)", &m->said_host_solve, &host, &be));
    ia_status st = ia_summa_potrs(&m->g, be, m->prec, m->u, m->d, m->nb, m->kf, m->desc_k[IA_LLD_],
                                  m->a, m->desc_a[IA_LLD_]);
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
    memcpy(m->best, m->a, infae_local_bytes(m, m->mu, m->dl));
  else
    IA_CALL(infae_copy_array(m, m->best, m->a, infae_local_bytes(m, m->mu, m->dl)));
  if (m->nystrom) { /* α = L⁻ᵀβ */
    double t0 = ia_time();
    if (m->arrays_on_backend) {
      IA_CALL(ia_be_trsm(m->be, m->prec, 'L', 'T', m->u, m->d, m->k, m->mu, m->best, m->mu));
    } else {
      ia_backend *be, *host = NULL;
      IA_CALL(summa_backend(m, m->u, m->d, "X/α (users × items)", &m->said_host_solve, &host, &be));
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
