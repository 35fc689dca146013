/* The CUDA backend against the CPU backend (BLAS/LAPACK and the CPU
 * sampler), operation by operation, on random inputs: NTK tiles (lower
 * triangle and full, one rank's blocks of a 2×2 grid; depth 2), densify, GEMM,
 * Cholesky factor and solve, diagonal update and sum, and the Gumbel-softmax
 * rows and their vector-Jacobian product; the all-reduce of device buffers
 * (NCCL, or MPI through the host when ranks share a GPU) against MPI on the
 * host; the autoencoder operations (activations and their derivatives,
 * column gather and scatter-add, reconstruction losses, Adam) and three
 * whole Recoder steps; the Distill-CF step's operations (sums, hardtanh,
 * densified rows, the NTK of a Gram with its partials and vjps (depth 3), softmax
 * cross-entropy, ranking of masked score columns with ties). Exits 77
 * (skipped) without a GPU. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_impl.h"
#include "infae/backend/backend.h"
#include "infae/backend/device.h"
#include "infae/core/rng.h"
#include "infae/dist/grid.h"
#include "infae/eval/metrics.h"
#include "infae/models/recoder.h"

static int failures = 0;

static void check(const char *what, double err, double tol) {
  int ok = err <= tol, rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (!ok) failures++;
  if (rank > 0) return;
  printf("%-44s max rel. error %.3e (tolerance %.0e) %s\n", what, err, tol, ok ? "ok" : "FAIL");
}

#define OK(call)                                                                                   \
  do {                                                                                             \
    if ((call) != IA_OK) {                                                                         \
      fprintf(stderr, "%s failed: %s\n", #call, ia_error_message());                               \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

/* Max |x − y| / max |y| over an m × n column-major block (leading dims lx, ly),
 * rows from rstart(j) when given. */
static double rel_err(const double *x, int64_t lx, const double *y, int64_t ly, int64_t m,
                      int64_t n, const int64_t *rstart) {
  double e = 0, s = 0;
  for (int64_t j = 0; j < n; j++)
    for (int64_t i = rstart ? rstart[j] : 0; i < m; i++) {
      double a = x[j * lx + i], b = y[j * ly + i];
      e = fmax(e, fabs(a - b));
      s = fmax(s, fabs(b));
    }
  return s > 0 ? e / s : e;
}

static void random_csr(ia_rng *r, int64_t rows, int64_t d, double density, ia_csr *out) {
  int64_t cap = (int64_t)(rows * d * density * 2) + rows + 1;
  OK(ia_csr_alloc(out, rows, d, cap));
  int64_t e = 0;
  for (int64_t i = 0; i < rows; i++) {
    for (int64_t c = 0; c < d && e < cap; c++)
      if (ia_rng_uniform(r) < density) out->indices[e++] = (int32_t)c;
    out->indptr[i + 1] = e;
  }
}

/* Runs an operation on a device array of `bytes`, returns it on the host. */
static double *to_host(ia_backend *b, const void *p, size_t bytes) {
  double *h = malloc(bytes);
  OK(ia_be_download(b, h, p, bytes));
  return h;
}

static void *to_dev(ia_backend *b, const void *h, size_t bytes) {
  void *p = NULL;
  OK(ia_be_alloc(b, bytes, "test array", &p));
  OK(ia_be_upload(b, p, h, bytes));
  return p;
}

static void test_tiles(ia_backend *cpu, ia_backend *gpu, ia_rng *r, int sym) {
  /* Rank (0, 0) of a 2×2 grid, block 16: local rows/columns of a 150-user K. */
  int64_t nb = 16, n = 150, d = 333, mloc = ia_numroc(n, nb, 0, 2), nloc = mloc;
  ia_csr ra, rb, cols;
  random_csr(r, mloc, d, 0.05, &ra);
  random_csr(r, mloc, d, 0.02, &rb);
  random_csr(r, nloc, d, 0.05, &cols);
  double *nr = malloc(sizeof(double) * mloc), *nc = malloc(sizeof(double) * nloc);
  for (int64_t i = 0; i < mloc; i++) nr[i] = (double)(ra.indptr[i + 1] - ra.indptr[i]) + 3;
  for (int64_t j = 0; j < nloc; j++) nc[j] = (double)(cols.indptr[j + 1] - cols.indptr[j]);
  ia_be_layout lay = {nb, 0, 2, 0, 2, sym};
  int64_t *rs = malloc(sizeof(int64_t) * nloc);
  for (int64_t j = 0; j < nloc; j++) rs[j] = ia_be_first_row(&lay, j);
  for (int prec = 0; prec < 2; prec++) {
    size_t es = prec == IA_FP64 ? 8 : 4, bytes = es * (size_t)(mloc * nloc);
    ia_be_csr *ca, *cb, *cc, *ga, *gb, *gc;
    OK(ia_be_csr_make(cpu, &ra, &ca));
    OK(ia_be_csr_make(cpu, &rb, &cb));
    OK(ia_be_csr_make(cpu, &cols, &cc));
    OK(ia_be_csr_make(gpu, &ra, &ga));
    OK(ia_be_csr_make(gpu, &rb, &gb));
    OK(ia_be_csr_make(gpu, &cols, &gc));
    void *hk = calloc(1, bytes), *dk = NULL;
    OK(ia_be_alloc(gpu, bytes, "K", &dk));
    double f1, f2;
    /* In two column ranges, as ScaLAPACK ranks do; small panels to loop. */
    OK(ia_be_ntk_tiles(cpu, prec, ca, sym ? NULL : cb, nr, cc, nc, &lay, 0, nloc, d, 2, 4096, hk,
                       mloc, &f1));
    OK(ia_be_ntk_tiles(gpu, prec, ga, sym ? NULL : gb, nr, gc, nc, &lay, 0, 32, d, 2, 4096, dk,
                       mloc, &f2));
    OK(ia_be_ntk_tiles(gpu, prec, ga, sym ? NULL : gb, nr, gc, nc, &lay, 32, nloc, d, 2, 4096,
                       (char *)dk + es * 32 * (size_t)mloc, mloc, &f2));
    double *g = to_host(gpu, dk, bytes);
    double *x = malloc(sizeof(double) * mloc * nloc), *y = malloc(sizeof(double) * mloc * nloc);
    for (int64_t e = 0; e < mloc * nloc; e++) {
      x[e] = prec == IA_FP64 ? g[e] : (double)((float *)g)[e];
      y[e] = prec == IA_FP64 ? ((double *)hk)[e] : (double)((float *)hk)[e];
    }
    char what[64];
    snprintf(what, sizeof what, "NTK tiles %s %s", sym ? "lower" : "full, rows a ∪ b",
             prec == IA_FP64 ? "fp64" : "fp32");
    check(what, rel_err(x, mloc, y, mloc, mloc, nloc, rs), prec == IA_FP64 ? 1e-13 : 1e-6);
    free(x), free(y), free(g), free(hk);
    ia_be_free(gpu, dk);
    ia_be_csr_free(cpu, &ca), ia_be_csr_free(cpu, &cb), ia_be_csr_free(cpu, &cc);
    ia_be_csr_free(gpu, &ga), ia_be_csr_free(gpu, &gb), ia_be_csr_free(gpu, &gc);
  }
  free(rs), free(nr), free(nc);
  ia_csr_free(&ra), ia_csr_free(&rb), ia_csr_free(&cols);
}

static void test_dense(ia_backend *cpu, ia_backend *gpu, ia_rng *r) {
  int64_t n = 300, d = 170;
  ia_csr x;
  random_csr(r, n, d, 0.1, &x);
  ia_be_csr *cx, *gx;
  OK(ia_be_csr_make(cpu, &x, &cx));
  OK(ia_be_csr_make(gpu, &x, &gx));
  double *hx = malloc(sizeof(double) * n * d), *hk = malloc(sizeof(double) * n * n);
  OK(ia_be_densify(cpu, IA_FP64, cx, d, hx, n));
  double *dx = to_dev(gpu, hx, sizeof(double) * n * d); /* overwritten next */
  OK(ia_be_densify(gpu, IA_FP64, gx, d, dx, n));
  double *g = to_host(gpu, dx, sizeof(double) * n * d);
  check("densify fp64", rel_err(g, n, hx, n, n, d, NULL), 0);
  free(g);
  /* K = X·Xᵀ + noise-free SPD shift; then potrf, potrs on both. */
  OK(ia_be_gemm(cpu, IA_FP64, 'N', 'T', n, n, d, 1.0, hx, n, hx, n, 0.0, hk, n));
  double *dk = to_dev(gpu, hk, sizeof(double) * n * n);
  OK(ia_be_gemm(gpu, IA_FP64, 'N', 'T', n, n, d, 1.0, dx, n, dx, n, 0.0, dk, n));
  g = to_host(gpu, dk, sizeof(double) * n * n);
  check("gemm fp64 (N, T)", rel_err(g, n, hk, n, n, n, NULL), 1e-14);
  free(g);
  double tc, tg;
  OK(ia_be_diag_sum(cpu, IA_FP64, n, hk, n, &tc));
  OK(ia_be_diag_sum(gpu, IA_FP64, n, dk, n, &tg));
  check("diagonal sum fp64", fabs(tc - tg) / fabs(tc), 1e-14);
  OK(ia_be_diag_add(cpu, IA_FP64, n, hk, n, 0.5 * tc / n));
  OK(ia_be_diag_add(gpu, IA_FP64, n, dk, n, 0.5 * tc / n));
  int64_t ic, ig;
  OK(ia_be_potrf(cpu, IA_FP64, n, hk, n, &ic));
  OK(ia_be_potrf(gpu, IA_FP64, n, dk, n, &ig));
  if (ic != 0 || ig != 0) check("potrf info", (double)(ic + ig), 0);
  int64_t *lower = malloc(sizeof(int64_t) * n);
  for (int64_t j = 0; j < n; j++) lower[j] = j;
  g = to_host(gpu, dk, sizeof(double) * n * n);
  check("potrf fp64 (lower triangle)", rel_err(g, n, hk, n, n, n, lower), 1e-12);
  free(g);
  /* trsm with L: L⁻¹X (left) and Xᵀ·L⁻ᵀ (right, Xᵀ as d × n). */
  double *hy = malloc(sizeof(double) * n * d), *hz = malloc(sizeof(double) * n * d);
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < d; j++) hy[j * n + i] = hz[i * d + j] = hx[j * n + i];
  double *dy = to_dev(gpu, hy, sizeof(double) * n * d),
         *dz = to_dev(gpu, hz, sizeof(double) * n * d);
  OK(ia_be_trsm(cpu, IA_FP64, 'L', 'N', n, d, hk, n, hy, n));
  OK(ia_be_trsm(gpu, IA_FP64, 'L', 'N', n, d, dk, n, dy, n));
  g = to_host(gpu, dy, sizeof(double) * n * d);
  check("trsm fp64 (left, L)", rel_err(g, n, hy, n, n, d, NULL), 1e-12);
  free(g);
  OK(ia_be_trsm(cpu, IA_FP64, 'R', 'T', d, n, hk, n, hz, d));
  OK(ia_be_trsm(gpu, IA_FP64, 'R', 'T', d, n, dk, n, dz, d));
  g = to_host(gpu, dz, sizeof(double) * n * d);
  check("trsm fp64 (right, Lᵀ)", rel_err(g, d, hz, d, d, n, NULL), 1e-12);
  free(g);
  free(hy);
  free(hz);
  ia_be_free(gpu, dy);
  ia_be_free(gpu, dz);
  OK(ia_be_potrs(cpu, IA_FP64, n, d, hk, n, hx, n));
  OK(ia_be_potrs(gpu, IA_FP64, n, d, dk, n, dx, n));
  g = to_host(gpu, dx, sizeof(double) * n * d);
  check("potrs fp64", rel_err(g, n, hx, n, n, d, NULL), 1e-11);
  free(g);
  /* A matrix that is not positive definite: the info says where. */
  double bad[4] = {1, 2, 2, 1};
  double *db = to_dev(gpu, bad, sizeof bad);
  OK(ia_be_potrf(gpu, IA_FP64, 2, db, 2, &ig));
  check("potrf info of [[1, 2], [2, 1]] is 2", fabs((double)ig - 2), 0);
  ia_be_free(gpu, db);
  ia_be_free(gpu, dx);
  ia_be_free(gpu, dk);
  free(hx), free(hk), free(lower);
  ia_be_csr_free(cpu, &cx), ia_be_csr_free(gpu, &gx);
  ia_csr_free(&x);
}

static void test_gumbel(ia_backend *cpu, ia_backend *gpu, ia_rng *r) {
  int64_t shapes[2] = {37, 1000}; /* a tail shorter than a group of 16, and a long row */
  for (int t = 0; t < 2; t++) {
    int64_t n = 5, d = shapes[t];
    ia_gumbel g = {.seed = 0x1234567890ULL, .step = 7, .samples = 9, .tau = 0.7, .d = d};
    size_t bytes = sizeof(double) * (size_t)(n * d);
    double *z = malloc(bytes), *da = malloc(bytes), *ac = malloc(bytes), *dzc = malloc(bytes);
    for (int64_t e = 0; e < n * d; e++) z[e] = 3 * ia_rng_uniform(r) - 1.5;
    for (int64_t e = 0; e < n * d; e++) da[e] = ia_rng_uniform(r) - 0.5;
    OK(ia_be_gumbel_rows(cpu, &g, 11, n, z, ac));
    OK(ia_be_gumbel_rows_vjp(cpu, &g, 11, n, z, da, dzc));
    double *dz_ = to_dev(gpu, z, bytes), *dda = to_dev(gpu, da, bytes), *dout = NULL;
    OK(ia_be_alloc(gpu, bytes, "out", (void **)&dout));
    OK(ia_be_gumbel_rows(gpu, &g, 11, n, dz_, dout));
    double *ag = to_host(gpu, dout, bytes);
    OK(ia_be_gumbel_rows_vjp(gpu, &g, 11, n, dz_, dda, dout));
    double *dzg = to_host(gpu, dout, bytes);
    char what[64];
    /* The float noise may differ in its last bit: ≈ 1e-7 relative. */
    snprintf(what, sizeof what, "Gumbel-softmax rows, d = %lld", (long long)d);
    check(what, rel_err(ag, d, ac, d, d, n, NULL), 1e-5);
    snprintf(what, sizeof what, "Gumbel-softmax vjp, d = %lld", (long long)d);
    check(what, rel_err(dzg, d, dzc, d, d, n, NULL), 1e-5);
    ia_be_free(gpu, dz_), ia_be_free(gpu, dda), ia_be_free(gpu, dout);
    free(z), free(da), free(ac), free(dzc), free(ag), free(dzg);
  }
}

static void test_autoencoder_ops(ia_backend *cpu, ia_backend *gpu, ia_rng *r) {
  int64_t m = 37, n = 29, ld = 41, k = 11;
  size_t bytes = sizeof(double) * (size_t)(ld * n);
  double *x = malloc(bytes), *t = malloc(bytes), *c = malloc(bytes), *y = malloc(bytes);
  int32_t idx[11];
  for (int64_t e = 0; e < ld * n; e++) x[e] = 4 * ia_rng_uniform(r) - 2;
  for (int64_t e = 0; e < ld * n; e++) t[e] = ia_rng_uniform(r) < 0.3 ? 1 : 0;
  for (int q = 0; q < 11; q++) idx[q] = (int32_t)(q * 2 + 1); /* distinct columns < n */
  char what[64];
  for (int a = IA_ACT_RELU; a <= IA_ACT_SIGMOID; a++) {
    memcpy(c, x, bytes);
    OK(ia_be_act(cpu, (ia_act)a, m, n, c, ld));
    double *d = to_dev(gpu, x, bytes);
    OK(ia_be_act(gpu, (ia_act)a, m, n, d, ld));
    double *g = to_host(gpu, d, bytes);
    snprintf(what, sizeof what, "activation %s", ia_act_name((ia_act)a));
    check(what, rel_err(g, ld, c, ld, m, n, NULL), 1e-14);
    memcpy(y, t, bytes);
    OK(ia_be_act_grad(cpu, (ia_act)a, m, n, c, ld, y, ld));
    double *dy = to_dev(gpu, t, bytes);
    OK(ia_be_act_grad(gpu, (ia_act)a, m, n, d, ld, dy, ld));
    double *gy = to_host(gpu, dy, bytes);
    snprintf(what, sizeof what, "activation %s, derivative", ia_act_name((ia_act)a));
    check(what, rel_err(gy, ld, y, ld, m, n, NULL), 1e-14);
    ia_be_free(gpu, d), ia_be_free(gpu, dy);
    free(g), free(gy);
  }
  /* Gather k columns, then scatter-add them back onto x. */
  int32_t *didx = to_dev(gpu, idx, sizeof idx);
  double *dx = to_dev(gpu, x, bytes), *dg = NULL;
  OK(ia_be_alloc(gpu, bytes, "gathered", (void **)&dg));
  OK(ia_be_gather_cols(cpu, m, k, x, ld, idx, c, ld));
  OK(ia_be_gather_cols(gpu, m, k, dx, ld, didx, dg, ld));
  double *g = to_host(gpu, dg, bytes);
  check("gather columns", rel_err(g, ld, c, ld, m, k, NULL), 0);
  memcpy(y, x, bytes);
  OK(ia_be_scatter_add_cols(cpu, m, k, c, ld, idx, y, ld));
  OK(ia_be_scatter_add_cols(gpu, m, k, dg, ld, didx, dx, ld));
  double *gs = to_host(gpu, dx, bytes);
  check("scatter-add columns", rel_err(gs, ld, y, ld, m, n, NULL), 0);
  free(g), free(gs);
  /* Losses: the value and the gradient written over the outputs. */
  for (int l = IA_LOSS_MSE; l <= IA_LOSS_SOFTMAX; l++) {
    double lc = 0, lg = 0;
    memcpy(c, x, bytes);
    OK(ia_be_recon_loss(cpu, (ia_loss)l, m, n, c, ld, t, ld, 0.7, 0.125, &lc));
    double *d = to_dev(gpu, x, bytes), *dt = to_dev(gpu, t, bytes);
    OK(ia_be_recon_loss(gpu, (ia_loss)l, m, n, d, ld, dt, ld, 0.7, 0.125, &lg));
    double *gg = to_host(gpu, d, bytes);
    snprintf(what, sizeof what, "%s loss", ia_loss_name((ia_loss)l));
    check(what, fabs(lg - lc) / fabs(lc), 1e-13);
    snprintf(what, sizeof what, "%s loss, gradient", ia_loss_name((ia_loss)l));
    check(what, rel_err(gg, ld, c, ld, m, n, NULL), 1e-13);
    ia_be_free(gpu, d), ia_be_free(gpu, dt);
    free(gg);
  }
  /* Adam: x, m and v after two steps. */
  int64_t e3 = ld * n;
  double *st[3], *dv[3];
  for (int q = 0; q < 3; q++) {
    st[q] = malloc(bytes);
    for (int64_t e = 0; e < e3; e++)
      st[q][e] = q == 2 ? ia_rng_uniform(r) : ia_rng_uniform(r) - 0.5;
    dv[q] = to_dev(gpu, st[q], bytes);
  }
  double *dgr = to_dev(gpu, t, bytes);
  for (int step = 1; step <= 2; step++) {
    ia_adam a = {.lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    a.c1 = 1 - pow(a.beta1, step);
    a.c2 = 1 - pow(a.beta2, step);
    OK(ia_be_adam(cpu, &a, e3, st[0], t, st[1], st[2]));
    OK(ia_be_adam(gpu, &a, e3, dv[0], dgr, dv[1], dv[2]));
  }
  for (int q = 0; q < 3; q++) {
    double *h = to_host(gpu, dv[q], bytes);
    check(q == 0   ? "Adam, weights"
          : q == 1 ? "Adam, first moment"
                   : "Adam, second moment",
          rel_err(h, e3, st[q], e3, e3, 1, NULL), 1e-14);
    free(h), free(st[q]);
    ia_be_free(gpu, dv[q]);
  }
  ia_be_free(gpu, dgr), ia_be_free(gpu, didx), ia_be_free(gpu, dx), ia_be_free(gpu, dg);
  free(x), free(t), free(c), free(y);
}

/* Three Recoder steps on each backend from the same weights. */
static void test_recoder(ia_backend *cpu, ia_backend *gpu, ia_rng *r) {
  int64_t users = 50, d = 300;
  ia_csr rows = {0};
  random_csr(r, users, d, 0.05, &rows);
  ia_recoder_opts o;
  ia_recoder_defaults(&o);
  o.hidden[0] = 64;
  o.hidden[1] = 32;
  o.n_hidden = 2;
  o.dropout = 0.2;
  ia_recoder *mc = NULL, *mg = NULL;
  OK(ia_recoder_create(MPI_COMM_WORLD, cpu, &o, d, users, &mc));
  OK(ia_recoder_create(MPI_COMM_WORLD, gpu, &o, d, users, &mg));
  int64_t batch[20];
  for (int q = 0; q < 20; q++) batch[q] = q * 2;
  /* Every rank holds every row (so on P ranks each user counts P times, on
   * both backends alike). */
  ia_recoder_data x = {.n_users = users, .d = d, .rows = &rows, .row_begin = 0};
  double lc = 0, lg = 0;
  for (int step = 1; step <= 3; step++) {
    OK(ia_recoder_step(mc, &x, batch, 20, step, &lc));
    OK(ia_recoder_step(mg, &x, batch, 20, step, &lg));
  }
  int64_t np = ia_recoder_n_params(mc);
  double *wc = malloc(sizeof(double) * (size_t)np), *wg = malloc(sizeof(double) * (size_t)np);
  OK(ia_recoder_get_params(mc, wc));
  OK(ia_recoder_get_params(mg, wg));
  check("Recoder, loss at step 3", fabs(lg - lc) / fabs(lc), 1e-12);
  check("Recoder, weights after 3 steps", rel_err(wg, np, wc, np, np, 1, NULL), 1e-10);
  size_t pb = sizeof(double) * (size_t)(users * d);
  double *p = malloc(pb), *pg = malloc(pb);
  int64_t all[50];
  for (int q = 0; q < 50; q++) all[q] = q;
  OK(ia_recoder_scores(mc, &rows, NULL, all, users, p));
  OK(ia_recoder_scores(mg, &rows, NULL, all, users, pg));
  check("Recoder, scores", rel_err(pg, users * d, p, users * d, users * d, 1, NULL), 1e-10);
  free(wc), free(wg), free(p), free(pg);
  ia_recoder_free(&mc);
  ia_recoder_free(&mg);
  ia_csr_free(&rows);
}

static void test_allreduce(ia_backend *gpu) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int64_t n = 100003; /* not a multiple of anything */
  double *h = malloc(sizeof(double) * n), *want = malloc(sizeof(double) * n);
  for (int64_t i = 0; i < n; i++) h[i] = want[i] = (double)((i * 7 + rank * 13) % 101) - 50;
  MPI_Allreduce(MPI_IN_PLACE, want, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  double *d = to_dev(gpu, h, sizeof(double) * n);
  OK(ia_be_allreduce_sum(gpu, d, n));
  double *got = to_host(gpu, d, sizeof(double) * n);
  char what[64];
  snprintf(what, sizeof what, "all-reduce through %s", ia_backend_reduce_name(gpu));
  check(what, rel_err(got, n, want, n, n, 1, NULL), 0);
  ia_be_free(gpu, d);
  free(h), free(want), free(got);
}

/* The Distill-CF step's operations (src/distill/distill_be.c) one by one. */
static void test_distill_ops(ia_backend *cpu, ia_backend *gpu, ia_rng *r) {
  int64_t mu = 13, d = 300, n = 9, ld = 310, nd0 = 300 * 9;
  size_t bytes = sizeof(double) * (size_t)(ld * d);
  double *x = malloc(bytes), *y = malloc(bytes), *w = malloc(sizeof(double) * (size_t)d);
  for (int64_t e = 0; e < ld * d; e++) x[e] = 2.4 * ia_rng_uniform(r) - 0.2, y[e] = x[e] * 0.5;
  for (int64_t j = 0; j < d; j++) w[j] = ia_rng_uniform(r) - 0.5;
  double *dx = to_dev(gpu, x, bytes), *dy = to_dev(gpu, y, bytes), *dw = to_dev(gpu, w, 8 * d);
  /* Elementwise: axpy, sum, hardtanh and its vjp, scaled columns, diagonal. */
  double sc, sg;
  OK(ia_be_axpy(cpu, ld * d, -0.75, x, y));
  OK(ia_be_axpy(gpu, ld * d, -0.75, dx, dy));
  double *g = to_host(gpu, dy, bytes);
  check("axpy", rel_err(g, ld, y, ld, ld, d, NULL), 1e-15);
  free(g);
  OK(ia_be_sum(cpu, ld * d, x, &sc));
  OK(ia_be_sum(gpu, ld * d, dx, &sg));
  check("sum", fabs(sg - sc) / fabs(sc), 1e-12);
  OK(ia_be_hardtanh(cpu, ld * d, x, y));
  OK(ia_be_hardtanh(gpu, ld * d, dx, dy));
  g = to_host(gpu, dy, bytes);
  check("hardtanh", rel_err(g, ld, y, ld, ld, d, NULL), 0);
  free(g);
  OK(ia_be_hardtanh_vjp(cpu, ld * d, x, 0.3, y));
  OK(ia_be_hardtanh_vjp(gpu, ld * d, dx, 0.3, dy));
  g = to_host(gpu, dy, bytes);
  check("hardtanh vjp", rel_err(g, ld, y, ld, ld, d, NULL), 0);
  free(g);
  OK(ia_be_scale_cols_add(cpu, mu, d, 2.0, w, x, ld, y, ld));
  OK(ia_be_scale_cols_add(gpu, mu, d, 2.0, dw, dx, ld, dy, ld));
  g = to_host(gpu, dy, bytes);
  check("scaled columns added", rel_err(g, ld, y, ld, mu, d, NULL), 1e-15);
  free(g);
  OK(ia_be_diag_get(cpu, d, x, ld, w));
  OK(ia_be_diag_get(gpu, d, dx, ld, dw));
  g = to_host(gpu, dw, 8 * d);
  check("diagonal", rel_err(g, d, w, d, d, 1, NULL), 0);
  free(g);
  /* Densified rows of a CSR (rows out of order), their Gram with S, the NTK
   * with its partials and their vjp, the cross-entropy of predictions. */
  ia_csr t;
  random_csr(r, 20, d, 0.05, &t);
  int32_t rows[9] = {3, 0, 19, 7, 7, 12, 1, 5, 16};
  ia_be_csr *tc = NULL, *tg = NULL;
  OK(ia_be_csr_make(cpu, &t, &tc));
  OK(ia_be_csr_make(gpu, &t, &tg));
  int32_t *drows = to_dev(gpu, rows, sizeof rows);
  double *tt = malloc(sizeof(double) * (size_t)(d * n)), *dtt = NULL;
  OK(ia_be_alloc(gpu, sizeof(double) * (size_t)(d * n), "rows", (void **)&dtt));
  OK(ia_be_densify_rows(cpu, tc, rows, n, d, tt, d));
  OK(ia_be_densify_rows(gpu, tg, drows, n, d, dtt, d));
  g = to_host(gpu, dtt, sizeof(double) * (size_t)(d * n));
  check("densified rows", rel_err(g, d, tt, d, d, n, NULL), 0);
  free(g);
  size_t mb = sizeof(double) * (size_t)(mu * n);
  double *gc = malloc(mb), *kc = malloc(mb), *pxy = malloc(mb), *pnr = malloc(mb), *dgc = NULL,
         *dkc = NULL, *dpxy = NULL, *dpnr = NULL, nr[13], ncnt[9], dn[13] = {0};
  OK(ia_be_alloc(gpu, mb, "Gram", (void **)&dgc));
  OK(ia_be_alloc(gpu, mb, "kernel", (void **)&dkc));
  OK(ia_be_alloc(gpu, mb, "partials", (void **)&dpxy));
  OK(ia_be_alloc(gpu, mb, "partials", (void **)&dpnr));
  OK(ia_be_gemm(cpu, IA_FP64, 'T', 'N', mu, n, d, 1.0, x, ld, tt, d, 0.0, gc, mu));
  OK(ia_be_gemm(gpu, IA_FP64, 'T', 'N', mu, n, d, 1.0, dx, ld, dtt, d, 0.0, dgc, mu));
  for (int j = 0; j < mu; j++) {
    nr[j] = 0;
    for (int64_t i = 0; i < d; i++) nr[j] += x[i + j * ld] * x[i + j * ld];
  }
  for (int u = 0; u < n; u++) ncnt[u] = (double)(t.indptr[rows[u] + 1] - t.indptr[rows[u]]);
  double *dnr = to_dev(gpu, nr, sizeof nr), *dncnt = to_dev(gpu, ncnt, sizeof ncnt);
  double *ddn = to_dev(gpu, dn, sizeof dn);
  OK(ia_be_ntk_dense(cpu, mu, n, (double)d, 3, gc, mu, nr, ncnt, kc, mu, pxy, pnr));
  OK(ia_be_ntk_dense(gpu, mu, n, (double)d, 3, dgc, mu, dnr, dncnt, dkc, mu, dpxy, dpnr));
  double *g1 = to_host(gpu, dkc, mb), *g2 = to_host(gpu, dpxy, mb), *g3 = to_host(gpu, dpnr, mb);
  check("NTK of a Gram", rel_err(g1, mu, kc, mu, mu, n, NULL), 1e-13);
  check("NTK partials (x·y, |x|²)",
        fmax(rel_err(g2, mu, pxy, mu, mu, n, NULL), rel_err(g3, mu, pnr, mu, mu, n, NULL)), 1e-12);
  free(g1), free(g2), free(g3);
  OK(ia_be_ntk_dense_vjp(cpu, mu, n, kc, mu, pxy, pnr, dn));
  OK(ia_be_ntk_dense_vjp(gpu, mu, n, dkc, mu, dpxy, dpnr, ddn));
  g1 = to_host(gpu, dkc, mb);
  g2 = to_host(gpu, ddn, sizeof dn);
  check("NTK vjp", fmax(rel_err(g1, mu, kc, mu, mu, n, NULL), rel_err(g2, mu, dn, mu, mu, 1, NULL)),
        1e-12);
  free(g1), free(g2);
  /* The symmetric case: K = NTK(S, S) from S's Gram. */
  size_t qb = sizeof(double) * (size_t)(mu * mu);
  double *gs = malloc(qb), *dk = malloc(qb), *dgo = malloc(qb), *dgs = NULL, *ddk = NULL,
         *ddgo = NULL;
  OK(ia_be_gemm(cpu, IA_FP64, 'T', 'N', mu, mu, d, 1.0, x, ld, x, ld, 0.0, gs, mu));
  for (int64_t e = 0; e < mu * mu; e++) dk[e] = ia_rng_uniform(r) - 0.5;
  dgs = to_dev(gpu, gs, qb);
  ddk = to_dev(gpu, dk, qb);
  OK(ia_be_alloc(gpu, qb, "dG", (void **)&ddgo));
  OK(ia_be_ntk_sym_vjp(cpu, mu, (double)d, 3, gs, mu, nr, dk, mu, dgo, mu, dn));
  OK(ia_be_ntk_sym_vjp(gpu, mu, (double)d, 3, dgs, mu, dnr, ddk, mu, ddgo, mu, ddn));
  g1 = to_host(gpu, ddgo, qb);
  g2 = to_host(gpu, ddn, sizeof dn);
  check("NTK(S, S) vjp",
        fmax(rel_err(g1, mu, dgo, mu, mu, mu, NULL), rel_err(g2, mu, dn, mu, mu, 1, NULL)), 1e-12);
  free(g1), free(g2);
  /* Softmax cross-entropy of d × n predictions, without and with gradient. */
  for (int grad = 0; grad <= 1; grad++) {
    double lc, lg, *pc = malloc(sizeof(double) * (size_t)(d * n));
    memcpy(pc, x, sizeof(double) * (size_t)(d * n));
    double *dp = to_dev(gpu, pc, sizeof(double) * (size_t)(d * n));
    OK(ia_be_softmax_ce(cpu, d, n, pc, d, tc, rows, 0.25, grad, &lc));
    OK(ia_be_softmax_ce(gpu, d, n, dp, d, tg, drows, 0.25, grad, &lg));
    check(grad ? "softmax cross-entropy with gradient" : "softmax cross-entropy",
          fabs(lg - lc) / fabs(lc), 1e-13);
    g1 = to_host(gpu, dp, sizeof(double) * (size_t)(d * n));
    if (grad) check("softmax cross-entropy gradient", rel_err(g1, d, pc, d, d, n, NULL), 1e-13);
    free(g1), free(pc);
    ia_be_free(gpu, dp);
  }
  /* Ranking: scores with many ties (quantized, a run of equal ones, −0 and
   * +0), the context masked; the scores of a CSR's items gathered. */
  {
    int64_t nd = d * n, off[10];
    double *sc = malloc(sizeof(double) * (size_t)nd), *hs = malloc(sizeof(double) * (size_t)nd);
    for (int64_t e = 0; e < nd; e++) sc[e] = floor(8 * ia_rng_uniform(r)) / 4 - 1;
    for (int64_t e = 40; e < 260; e++) sc[e] = 0.75;
    sc[d + 3] = -0.0, sc[d + 5] = 0.0;
    off[0] = 0;
    for (int u = 0; u < n; u++) off[u + 1] = off[u] + t.indptr[rows[u] + 1] - t.indptr[rows[u]];
    double *dsc = to_dev(gpu, sc, sizeof(double) * (size_t)nd), *dhs = NULL;
    int64_t *doff = to_dev(gpu, off, sizeof off);
    OK(ia_be_alloc(gpu, sizeof(double) * (size_t)(off[n] + 1), "gathered", (void **)&dhs));
    OK(ia_be_gather_items(cpu, n, sc, d, tc, rows, off, hs));
    OK(ia_be_gather_items(gpu, n, dsc, d, tg, drows, doff, dhs));
    g1 = to_host(gpu, dhs, sizeof(double) * (size_t)(off[n] + 1));
    check("scores of CSR items", rel_err(g1, 1, hs, 1, off[n], 1, NULL), 0);
    free(g1);
    int32_t *tcpu = malloc(sizeof(int32_t) * IA_TOPK * 9), *dtop = NULL;
    OK(ia_be_alloc(gpu, sizeof(int32_t) * IA_TOPK * 9, "top", (void **)&dtop));
    for (int k = 1; k <= IA_TOPK; k += 99) {
      OK(ia_be_rank_cols(cpu, d, n, sc, d, tc, tc, rows, k, tcpu, IA_TOPK));
      OK(ia_be_rank_cols(gpu, d, n, dsc, d, tg, tg, drows, k, dtop, IA_TOPK));
      int32_t *tg1 = (int32_t *)to_host(gpu, dtop, sizeof(int32_t) * IA_TOPK * 9);
      int same = 1;
      for (int u = 0; u < n; u++)
        for (int q = 0; q < k; q++) same &= tg1[u * IA_TOPK + q] == tcpu[u * IA_TOPK + q];
      check(k == 1 ? "top-1 of masked columns" : "top-100 of masked columns", same ? 0 : 1, 0);
      free(tg1);
    }
    ia_be_free(gpu, dsc), ia_be_free(gpu, dhs), ia_be_free(gpu, doff), ia_be_free(gpu, dtop);
    free(sc), free(hs), free(tcpu);
  }
  /* Rows of a column-major fp64 and fp32 matrix as FP64 columns, set and added. */
  for (int prec = IA_FP64; prec <= IA_FP32; prec++) {
    size_t es = prec == IA_FP64 ? sizeof(double) : sizeof(float), ob = sizeof(double) * (size_t)nd0;
    void *src = malloc(es * (size_t)(ld * d));
    for (int64_t e = 0; e < ld * d; e++) {
      if (prec == IA_FP64)
        ((double *)src)[e] = x[e];
      else
        ((float *)src)[e] = (float)x[e];
    }
    double *oc = malloc(ob), *dsrc = to_dev(gpu, src, es * (size_t)(ld * d)), *doc = NULL;
    OK(ia_be_alloc(gpu, ob, "columns", (void **)&doc));
    for (int pass = 0; pass < 2; pass++) {
      OK(ia_be_rows_to_cols(cpu, (ia_precision)prec, src, ld, rows, n, d, -0.5, pass, oc, d));
      OK(ia_be_rows_to_cols(gpu, (ia_precision)prec, dsrc, ld, drows, n, d, -0.5, pass, doc, d));
    }
    g1 = to_host(gpu, doc, ob);
    check(prec == IA_FP64 ? "rows to columns (fp64)" : "rows to columns (fp32)",
          rel_err(g1, d, oc, d, d, n, NULL), 1e-15);
    free(g1), free(oc), free(src);
    ia_be_free(gpu, dsrc), ia_be_free(gpu, doc);
  }
  double *bufs[] = {dx, dy, dw, dtt, dgc, dkc, dpxy, dpnr, dnr, dncnt, ddn, dgs, ddk, ddgo};
  for (size_t k = 0; k < sizeof bufs / sizeof *bufs; k++) ia_be_free(gpu, bufs[k]);
  ia_be_free(gpu, drows);
  ia_be_csr_free(cpu, &tc);
  ia_be_csr_free(gpu, &tg);
  ia_csr_free(&t);
  free(x), free(y), free(w), free(tt), free(gc), free(kc), free(pxy), free(pnr);
  free(gs), free(dk), free(dgo);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  if (ia_cuda_device_count() == 0) {
    printf("no GPU visible%s%s: skipped\n", ia_cuda_device_error()[0] ? ": " : "",
           ia_cuda_device_error());
    MPI_Finalize();
    return 77;
  }
  ia_backend *cpu = NULL, *gpu = NULL;
  OK(ia_backend_open(MPI_COMM_WORLD, IA_DEVICE_CPU, &cpu));
  OK(ia_backend_open(MPI_COMM_WORLD, IA_DEVICE_CUDA, &gpu));
  printf("CUDA backend: %s\n", ia_backend_describe(gpu));
  ia_rng r;
  ia_rng_init(&r, 9, IA_RNG_GENERATE, 0);
  test_tiles(cpu, gpu, &r, 1);
  test_tiles(cpu, gpu, &r, 0);
  test_dense(cpu, gpu, &r);
  test_gumbel(cpu, gpu, &r);
  test_autoencoder_ops(cpu, gpu, &r);
  test_recoder(cpu, gpu, &r);
  test_distill_ops(cpu, gpu, &r);
  test_allreduce(gpu);
  ia_backend_close(&cpu);
  ia_backend_close(&gpu);
  MPI_Finalize();
  printf("%s\n", failures ? "FAILED" : "all checks passed");
  return failures ? 1 : 0;
}
