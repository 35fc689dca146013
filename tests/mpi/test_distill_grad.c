/* Finite-difference checks (FP64) of every link of Distill-CF's gradient and
 * of the whole loss with respect to the logits Z, with the Gumbel noise
 * fixed (same seed and step), with the NTK of depth 1 and of depth 2 (the
 * links through the kernel; its partials at depths 1–4). Runs on any number of ranks: the synthetic
 * rows and the real users are split over them as in `infae_mpi distill`. */
#include <stdlib.h>
#include <string.h>

#include "../test_util.h"
#include "distill/distill_host.h"
#include "infae/core/log.h"
#include "infae/core/ntk.h"
#include "infae/core/rng.h"
#include "infae/io/dataset.h"

enum { MU = 5, D = 11, USERS = 9, GAMMA = 3 };
static const double TAU = 2.0, LAMBDA = 0.5, CCARD = 0.05;

/* Five-point difference of expr along entry e of x (error O(h⁴)): the loss
 * is O(10), so a central difference would lose ~1e-9 to rounding. */
#define FD4(x, e, h, expr, out)                                                                    \
  do {                                                                                             \
    double x0_ = (x)[e], f_[4];                                                                    \
    const double o_[4] = {2, 1, -1, -2};                                                           \
    for (int k_ = 0; k_ < 4; k_++) {                                                               \
      (x)[e] = x0_ + o_[k_] * (h);                                                                 \
      f_[k_] = (expr);                                                                             \
    }                                                                                              \
    (x)[e] = x0_;                                                                                  \
    (out) = (-f_[0] + 8 * f_[1] - 8 * f_[2] + f_[3]) / (12.0 * (h));                               \
  } while (0)

/* The NTK's hidden layers in the tests below (set by the _depth2 wrappers). */
static int depth = 1;

static double rnd(ia_rng *r) { return 2.0 * ia_rng_uniform(r) - 1.0; }

static void test_ntk_partials(void **state) {
  (void)state;
  const double pts[][4] = {
      {3, 5, 7, 20}, {0.3, 1.2, 0.9, 11}, {4.9, 5, 5, 11}, {0, 2, 3, 8}, {1.5, 1.5, 1.6, 4}};
  for (int L = 1; L <= 4; L++)
    for (size_t k = 0; k < sizeof pts / sizeof *pts; k++) {
      double x[3] = {pts[k][0], pts[k][1], pts[k][2]}, d = pts[k][3], g[3], fd;
      double v = ia_ntk_grad(x[0], x[1], x[2], d, L, &g[0], &g[1], &g[2]);
      IA_ASSERT_CLOSE(v, ia_ntk(x[0], x[1], x[2], d, L), 0, 1e-15, "value");
      for (int a = 0; a < 3; a++) {
        FD4(x, a, 1e-4, ia_ntk(x[0], x[1], x[2], d, L), fd);
        IA_ASSERT_CLOSE(g[a], fd, 1e-9, 1e-6, "NTK partial");
      }
      /* The recursion at depth 1 is the closed form. */
      double gd[3], vd = ia_ntk_deep(x[0], x[1], x[2], d, 1, gd);
      if (L == 1) {
        IA_ASSERT_CLOSE(vd, v, 0, 1e-14, "depth-1 value");
        for (int a = 0; a < 3; a++) IA_ASSERT_CLOSE(gd[a], g[a], 1e-14, 1e-12, "depth-1 partial");
      }
      /* K(x, x) along |x|²: the slope of the diagonal. */
      double n[1] = {x[1]};
      FD4(n, 0, 1e-4, ia_ntk(n[0], n[0], n[0], d, L), fd);
      IA_ASSERT_CLOSE(ia_ntk_diag_slope(d, L), fd, 1e-9, 1e-6, "dK(x, x)/d|x|²");
    }
}

static void test_ce(void **state) {
  (void)state;
  ia_rng r;
  ia_rng_init(&r, 1, IA_RNG_GENERATE, 0);
  double p[D], dp[D], fd;
  for (int i = 0; i < D; i++) p[i] = 3 * rnd(&r);
  int32_t items[] = {1, 4, 5};
  ia_distill_host_ce(p, D, items, 3, 0.25, dp);
  for (int i = 0; i < D; i++) {
    FD4(p, i, 1e-4, 0.25 * ia_distill_host_ce(p, D, items, 3, 1, NULL), fd);
    IA_ASSERT_CLOSE(dp[i], fd, 1e-9, 1e-6, "softmax cross-entropy");
  }
}

static double gumbel_dot(const ia_gumbel *g, const double *z, const double *w, double *a,
                         double *scratch) {
  ia_gumbel_row(g, 3, z, a, scratch);
  double s = 0;
  for (int i = 0; i < D; i++) s += w[i] * a[i];
  return s;
}

static void test_gumbel(void **state) {
  (void)state;
  ia_gumbel g = {.seed = 9, .step = 4, .samples = GAMMA, .tau = TAU, .d = D};
  ia_rng r;
  ia_rng_init(&r, 2, IA_RNG_GENERATE, 0);
  double z[D], w[D], a[D], dz[D], scratch[2 * D + 8], fd;
  for (int i = 0; i < D; i++) z[i] = 2 * rnd(&r), w[i] = rnd(&r);
  ia_gumbel_row(&g, 3, z, a, scratch);
  double sum = 0;
  for (int i = 0; i < D; i++) sum += a[i];
  IA_ASSERT_CLOSE(sum, GAMMA, 0, 1e-12, "γ softmax rows sum to γ");
  ia_gumbel_row_vjp(&g, 3, z, w, dz, scratch);
  for (int i = 0; i < D; i++) {
    FD4(z, i, 1e-4, gumbel_dot(&g, z, w, a, scratch), fd);
    IA_ASSERT_CLOSE(dz[i], fd, 1e-9, 1e-6, "Gumbel-softmax");
  }
}

/* A fixed sample S in (0, 1] and the model on it. */
static void make_sample(double *s, ia_krr *m, double lambda) {
  ia_rng r;
  ia_rng_init(&r, 3, IA_RNG_GENERATE, 0);
  for (int e = 0; e < MU * D; e++) s[e] = 0.05 + 0.95 * ia_rng_uniform(&r);
  assert_int_equal(ia_krr_init(m, MU, D, depth), IA_OK);
  ia_krr_kernel(m, s);
  assert_int_equal(ia_krr_fit(m, lambda), IA_OK);
}

static double dot(const double *a, const double *b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

static double kernel_dot(ia_krr *m, double *s, const double *w) {
  ia_krr_kernel(m, s);
  return dot(w, m->k, MU * MU);
}

static void test_kernel_vjp(void **state) {
  (void)state;
  double s[MU * D], w[MU * MU], dk[MU * MU], ds[MU * D] = {0}, fd;
  ia_krr m;
  make_sample(s, &m, LAMBDA);
  ia_rng r;
  ia_rng_init(&r, 4, IA_RNG_GENERATE, 0);
  for (int e = 0; e < MU * MU; e++) w[e] = rnd(&r); /* not symmetric on purpose */
  memcpy(dk, w, sizeof dk);
  ia_krr_kernel_vjp(&m, dk, ds);
  for (int e = 0; e < MU * D; e++) {
    FD4(s, e, 1e-4, kernel_dot(&m, s, w), fd);
    IA_ASSERT_CLOSE(ds[e], fd, 1e-8, 1e-6, "K = NTK(S, S) → S");
  }
  ia_krr_free(&m);
}

static double alpha_dot(ia_krr *m, double *s, const double *w) {
  ia_krr_kernel(m, s);
  if (ia_krr_fit(m, LAMBDA) != IA_OK) return NAN;
  return dot(w, m->alpha, MU * D);
}

static void test_solve_vjp(void **state) {
  (void)state;
  double s[MU * D], w[MU * D], da[MU * D], ds[MU * D] = {0}, work[MU * MU], fd;
  ia_krr m;
  make_sample(s, &m, LAMBDA);
  ia_rng r;
  ia_rng_init(&r, 5, IA_RNG_GENERATE, 0);
  for (int e = 0; e < MU * D; e++) w[e] = rnd(&r);
  memcpy(da, w, sizeof da);
  ia_krr_vjp(&m, da, ds, work); /* through (K + λ'I)⁻¹, λ' = λ·tr K/μ, K(S) and the RHS S */
  for (int e = 0; e < MU * D; e++) {
    FD4(s, e, 1e-4, alpha_dot(&m, s, w), fd);
    IA_ASSERT_CLOSE(ds[e], fd, 1e-8, 1e-6, "α = (K(S) + λ'(S)I)⁻¹S → S");
  }
  ia_krr_free(&m);
}

/* This rank's block of USERS random binary rows (each with ≥ 1 item). */
static void make_users(ia_csr *t, int64_t *begin, int64_t *count) {
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  ia_partition(USERS, size, rank, begin, count);
  memset(t, 0, sizeof *t);
  t->n_rows = *count;
  t->n_cols = D;
  t->indptr = calloc((size_t)*count + 1, sizeof *t->indptr);
  t->indices = malloc(sizeof *t->indices * USERS * D);
  int64_t nnz = 0;
  for (int64_t u = 0; u < *count; u++) {
    ia_rng r;
    ia_rng_init(&r, 6, IA_RNG_GENERATE, (uint64_t)(*begin + u));
    for (int i = 0; i < D; i++)
      if (i == (*begin + u) % D || ia_rng_uniform(&r) < 0.3) t->indices[nnz++] = i;
    t->indptr[u + 1] = nnz;
  }
}

typedef struct {
  ia_distill_host p;
  ia_csr t;
  int64_t rows[USERS], n;
} problem;

static void problem_init(problem *q) {
  int64_t begin;
  make_users(&q->t, &begin, &q->n);
  for (int64_t u = 0; u < q->n; u++) q->rows[u] = u;
  ia_gumbel g = {.seed = 11, .step = 0, .samples = GAMMA, .tau = TAU, .d = D};
  assert_int_equal(
      ia_distill_host_create(MPI_COMM_WORLD, MU, D, depth, &g, CCARD, 2.5, &q->t, &q->p), IA_OK);
}

static void problem_free(problem *q) {
  ia_distill_host_free(&q->p);
  ia_csr_free(&q->t);
}

static double outer_sum(problem *q) {
  double v = ia_distill_host_outer(&q->p, q->rows, q->n, USERS, NULL);
  MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  return v / USERS;
}

/* Outer loss: dα with S fixed, and the direct dS with α fixed. */
static void test_outer(void **state) {
  (void)state;
  problem q;
  problem_init(&q);
  ia_distill_host *p = &q.p;
  ia_rng r;
  ia_rng_init(&r, 7, IA_RNG_GENERATE, 0);
  for (int e = 0; e < MU * D; e++) p->s[e] = 0.05 + 0.95 * ia_rng_uniform(&r);
  ia_krr_kernel(&p->krr, p->s);
  assert_int_equal(ia_krr_fit(&p->krr, LAMBDA), IA_OK);
  int64_t n_red = p->n_red;
  double *red = calloc((size_t)n_red, sizeof *red), fd;
  ia_distill_host_outer(p, q.rows, q.n, USERS, red);
  MPI_Allreduce(MPI_IN_PLACE, red, (int)n_red, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  for (int e = 0; e < MU * D; e++) {
    FD4(p->krr.alpha, e, 1e-4, outer_sum(&q), fd);
    IA_ASSERT_CLOSE(red[e], fd, 1e-9, 1e-6, "P = NTK(T, S)·α → α");
  }
  double alpha[MU * D];
  memcpy(alpha, p->krr.alpha, sizeof alpha);
  for (int j = 0; j < MU; j++)
    for (int i = 0; i < D; i++) {
      double want = red[MU * D + i * MU + j] + 2 * red[2 * MU * D + j] * p->s[j * D + i];
      /* Moving S moves Sᵀ and |s|² (the cross kernel) but not α. */
      FD4(p->s, j * D + i, 1e-4,
          (ia_krr_kernel(&p->krr, p->s), memcpy(p->krr.alpha, alpha, sizeof alpha), outer_sum(&q)),
          fd);
      IA_ASSERT_CLOSE(want, fd, 1e-9, 1e-6, "P = NTK(T, S)·α → S");
    }
  free(red);
  problem_free(&q);
}

/* The whole loss as a function of this rank's logits (the others fixed). */
static double loss_of(problem *q, const double *z) {
  double loss, ce;
  if (ia_distill_host_sample(&q->p, z, 7) != IA_OK || ia_krr_fit(&q->p.krr, LAMBDA) != IA_OK ||
      ia_distill_host_loss(&q->p, q->rows, q->n, USERS, &loss, &ce) != IA_OK)
    return NAN;
  return loss;
}

static void test_whole(void **state) {
  (void)state;
  problem q;
  problem_init(&q);
  ia_distill_host *p = &q.p;
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  double *z = calloc((size_t)(MU * D), sizeof *z), *dz = calloc((size_t)(MU * D), sizeof *dz);
  for (int64_t r = 0; r < p->nz; r++) { /* logits like a trained sample: a few large */
    ia_rng g;
    ia_rng_init(&g, 8, IA_RNG_GENERATE, (uint64_t)(p->z0 + r));
    for (int i = 0; i < D; i++) z[r * D + i] = 3 * rnd(&g) + (i % 4 == 0 ? 4 : 0);
  }
  double loss, ce;
  int flag = 0;
  assert_int_equal(ia_distill_host_sample(p, z, 7), IA_OK);
  assert_int_equal(ia_krr_fit(&p->krr, LAMBDA), IA_OK);
  assert_int_equal(ia_distill_host_loss_grad(p, z, q.rows, q.n, USERS, &loss, &ce, dz, &flag),
                   IA_OK);
  /* Away from the hardtanh kink, and some entries clipped (the mask is used). */
  int clipped = 0, near = 0;
  for (int e = 0; e < MU * D; e++) {
    clipped += p->a[e] > 1.0;
    near += fabs(p->a[e] - 1.0) < 1e-4;
  }
  assert_true(clipped > 0);
  assert_int_equal(near, 0);
  IA_ASSERT_CLOSE(loss, loss_of(&q, z), 0, 1e-14, "loss_grad and loss agree");
  /* Every logit, rank by rank (the owner moves it, all ranks evaluate). */
  for (int owner = 0; owner < size; owner++) {
    int64_t nz = p->nz;
    MPI_Bcast(&nz, 1, MPI_INT64_T, owner, MPI_COMM_WORLD);
    for (int64_t e = 0; e < nz * D; e++) {
      double fd, h = 1e-4;
      double *x = rank == owner ? z : (double[1]){0};
      int64_t at = rank == owner ? e : 0;
      FD4(x, at, rank == owner ? h : 0.0, loss_of(&q, z), fd);
      if (rank == owner) IA_ASSERT_CLOSE(dz[e], fd, 1e-10, 1e-6, "L(Z) with fixed noise");
    }
  }
  free(z);
  free(dz);
  problem_free(&q);
}

#define AT_DEPTH2(test)                                                                            \
  static void test##_depth2(void **state) {                                                        \
    depth = 2;                                                                                     \
    test(state);                                                                                   \
    depth = 1;                                                                                     \
  }
AT_DEPTH2(test_kernel_vjp)
AT_DEPTH2(test_solve_vjp)
AT_DEPTH2(test_outer)
AT_DEPTH2(test_whole)

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  ia_log_init(MPI_COMM_WORLD, IA_LOG_QUIET);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ntk_partials),
      cmocka_unit_test(test_ce),
      cmocka_unit_test(test_gumbel),
      cmocka_unit_test(test_kernel_vjp),
      cmocka_unit_test(test_solve_vjp),
      cmocka_unit_test(test_outer),
      cmocka_unit_test(test_whole),
      cmocka_unit_test(test_kernel_vjp_depth2),
      cmocka_unit_test(test_solve_vjp_depth2),
      cmocka_unit_test(test_outer_depth2),
      cmocka_unit_test(test_whole_depth2),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  MPI_Finalize();
  return rc;
}
