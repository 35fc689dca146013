/* Benchmark (not a test): infae/dist/summa.h with local products on the backend
 * (cpu or cuda) against ScaLAPACK on the host, block-cyclic over all ranks:
 * - the product C = A·B (m × k times k × n) against p?gemm;
 * - the Cholesky factor of an SPD matrix of order m against p?potrf;
 * - the solve (L·Lᵀ)X = C (order m, n right-hand sides) against two p?trsm;
 * - Nyström's one-time products for m users, k centers and n items:
 *   Φ = A·L_k⁻ᵀ against p?trsm "R", the lower blocks of ΦᵀΦ against p?syrk,
 *   and ΦᵀC against p?gemm "T".
 * Prints the best of 3 runs of each: seconds, GFLOP/s over all ranks, and
 * the largest difference between the two results.
 * Usage: mpiexec -n P summa_bench cpu|cuda [m n k nb fp64|fp32] */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/scalapack.h"
#include "infae/backend/backend.h"
#include "infae/core/log.h"
#include "infae/dist/grid.h"
#include "infae/dist/summa.h"

static void fill(void *x, int64_t n, int fp64, int seed) {
  for (int64_t i = 0; i < n; i++) {
    double v = (double)((i * 2654435761u + (uint64_t)seed) % 1000) / 1000.0 - 0.5;
    if (fp64)
      ((double *)x)[i] = v;
    else
      ((float *)x)[i] = (float)v;
  }
}

static void die(const char *what) {
  fprintf(stderr, "summa_bench: %s: %s\n", what, ia_error_message());
  MPI_Abort(MPI_COMM_WORLD, 1);
}

/* A local array of rows × cols (block-cyclic, blocks nb), its descriptor. */
typedef struct {
  int desc[9], ml, ld, nl;
  size_t count;
  void *x;
} local;

static local make(const ia_grid *g, int rows, int cols, int nb, int fp64, int seed) {
  local a;
  int zero = 0, info = 0;
  a.ml = numroc_(&rows, &nb, &g->myrow, &zero, &g->nprow);
  a.nl = numroc_(&cols, &nb, &g->mycol, &zero, &g->npcol);
  a.ld = a.ml > 1 ? a.ml : 1;
  descinit_(a.desc, &rows, &cols, &nb, &nb, &zero, &zero, &g->ctxt, &a.ld, &info);
  a.count = (size_t)a.ld * (size_t)(a.nl > 0 ? a.nl : 1);
  a.x = malloc((fp64 ? 8 : 4) * a.count);
  if (!a.x) die("out of host memory");
  fill(a.x, (int64_t)a.count, fp64, seed);
  return a;
}

/* A random matrix + order·I, SPD in its lower triangle, and with potrf
 * its lower Cholesky factor, in place. */
static void factor(const ia_grid *g, local *l, int order, int nb, int fp64, int potrf) {
  int i1 = 1, info = 0;
  for (int j = 0; j < l->nl; j++) {
    int gj = (j / nb * g->npcol + g->mycol) * nb + j % nb;
    if (gj / nb % g->nprow != g->myrow) continue;
    size_t at = (size_t)j * (size_t)l->ld + (size_t)(gj / nb / g->nprow * nb + gj % nb);
    if (fp64)
      ((double *)l->x)[at] += order;
    else
      ((float *)l->x)[at] += (float)order;
  }
  if (!potrf) return;
  if (fp64)
    pdpotrf_("L", &order, l->x, &i1, &i1, l->desc, &info, 1);
  else
    pspotrf_("L", &order, l->x, &i1, &i1, l->desc, &info, 1);
  if (info != 0) die("p?potrf of the test matrix");
}

/* max |x − y| / max |x| over all ranks, x and y local arrays shaped like
 * like; with lower, only the lower triangle of the square matrix. */
static double difference(const ia_grid *g, const local *like, const void *x, const void *y, int nb,
                         int fp64, int lower) {
  double d[2] = {0, 0};
  for (int j = 0; j < like->nl; j++)
    for (int i = 0; i < like->ml; i++) {
      int gi = (i / nb * g->nprow + g->myrow) * nb + i % nb;
      int gj = (j / nb * g->npcol + g->mycol) * nb + j % nb;
      if (lower && gi < gj) continue;
      size_t at = (size_t)j * (size_t)like->ld + (size_t)i;
      double u = fp64 ? ((const double *)x)[at] : ((const float *)x)[at];
      double v = fp64 ? ((const double *)y)[at] : ((const float *)y)[at];
      d[0] = fmax(d[0], fabs(u - v));
      d[1] = fmax(d[1], fabs(u));
    }
  MPI_Allreduce(MPI_IN_PLACE, d, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  if (d[1] == 0) die("a result is all zeros");
  return d[0] / d[1];
}

/* One operation, how 0 by ScaLAPACK and 1 by infae/dist/summa.h, from fresh
 * inputs each run. */
typedef void (*op)(void *ctx, int how);

static void best_of_3(op f, void *ctx, double best[2]) {
  best[0] = best[1] = 1e30;
  for (int r = 0; r < 3; r++)
    for (int how = 0; how < 2; how++) {
      MPI_Barrier(MPI_COMM_WORLD);
      double t = MPI_Wtime();
      f(ctx, how);
      MPI_Barrier(MPI_COMM_WORLD);
      t = MPI_Wtime() - t;
      if (t < best[how]) best[how] = t;
    }
}

static void report(int rank, const char *host, const char *ours, double best[2], double flops,
                   double diff) {
  if (rank != 0) return;
  printf("  %-22s %8.3f s %9.1f GFLOP/s\n", host, best[0], flops / best[0] / 1e9);
  printf("  %-22s %8.3f s %9.1f GFLOP/s   max |difference| / max = %.2e\n", ours, best[1],
         flops / best[1] / 1e9, diff);
}

typedef struct {
  const ia_grid *g;
  ia_backend *be;
  int fp64, m, n, k, nb;
  size_t budget;
  local a, b, c, l, lk, u, phi, s, t;
  void *out[2]; /* the two results of the operation timed */
} bench;

static ia_precision prec(const bench *x) { return x->fp64 ? IA_FP64 : IA_FP32; }

static void op_gemm(void *ctx, int how) {
  bench *x = ctx;
  int i1 = 1;
  double one = 1, nil = 0;
  float ones = 1, nils = 0;
  if (how == 1) {
    if (ia_summa_gemm(x->g, x->be, prec(x), x->m, x->n, x->k, x->nb, x->a.x, x->a.ld, x->b.x,
                      x->b.ld, x->out[1], x->c.ld, x->budget) != IA_OK)
      die("ia_summa_gemm");
  } else if (x->fp64) {
    pdgemm_("N", "N", &x->m, &x->n, &x->k, &one, x->a.x, &i1, &i1, x->a.desc, x->b.x, &i1, &i1,
            x->b.desc, &nil, x->out[0], &i1, &i1, x->c.desc);
  } else {
    psgemm_("N", "N", &x->m, &x->n, &x->k, &ones, x->a.x, &i1, &i1, x->a.desc, x->b.x, &i1, &i1,
            x->b.desc, &nils, x->out[0], &i1, &i1, x->c.desc);
  }
}

/* The factor of out[how], from the SPD matrix in s. */
static void op_potrf(void *ctx, int how) {
  bench *x = ctx;
  int i1 = 1, info = 0;
  int64_t info64 = 0;
  memcpy(x->out[how], x->s.x, (x->fp64 ? 8 : 4) * x->s.count);
  if (how == 1) {
    if (ia_summa_potrf(x->g, x->be, prec(x), x->m, x->nb, x->out[1], x->s.ld, &info64) != IA_OK)
      die("ia_summa_potrf");
    info = (int)info64;
  } else if (x->fp64) {
    pdpotrf_("L", &x->m, x->out[0], &i1, &i1, x->s.desc, &info, 1);
  } else {
    pspotrf_("L", &x->m, x->out[0], &i1, &i1, x->s.desc, &info, 1);
  }
  if (info != 0) die("the factor of the test matrix");
}

static void op_potrs(void *ctx, int how) {
  bench *x = ctx;
  int i1 = 1;
  double one = 1;
  float ones = 1;
  memcpy(x->out[how], x->c.x, (x->fp64 ? 8 : 4) * x->c.count);
  if (how == 1) {
    if (ia_summa_potrs(x->g, x->be, prec(x), x->m, x->n, x->nb, x->l.x, x->l.ld, x->out[1],
                       x->c.ld) != IA_OK)
      die("ia_summa_potrs");
  } else if (x->fp64) {
    pdtrsm_("L", "L", "N", "N", &x->m, &x->n, &one, x->l.x, &i1, &i1, x->l.desc, x->out[0], &i1,
            &i1, x->c.desc);
    pdtrsm_("L", "L", "T", "N", &x->m, &x->n, &one, x->l.x, &i1, &i1, x->l.desc, x->out[0], &i1,
            &i1, x->c.desc);
  } else {
    pstrsm_("L", "L", "N", "N", &x->m, &x->n, &ones, x->l.x, &i1, &i1, x->l.desc, x->out[0], &i1,
            &i1, x->c.desc);
    pstrsm_("L", "L", "T", "N", &x->m, &x->n, &ones, x->l.x, &i1, &i1, x->l.desc, x->out[0], &i1,
            &i1, x->c.desc);
  }
}

/* Φ = A·L_k⁻ᵀ: p?trsm "R", or the transpose U = L_kᵀ (p?tran, counted) and
 * X·U = A. */
static void op_phi(void *ctx, int how) {
  bench *x = ctx;
  int i1 = 1;
  double one = 1, nil = 0;
  float ones = 1, nils = 0;
  memcpy(x->out[how], x->a.x, (x->fp64 ? 8 : 4) * x->a.count);
  if (how == 1) {
    if (x->fp64)
      pdtran_(&x->k, &x->k, &one, x->lk.x, &i1, &i1, x->lk.desc, &nil, x->u.x, &i1, &i1, x->u.desc);
    else
      pstran_(&x->k, &x->k, &ones, x->lk.x, &i1, &i1, x->lk.desc, &nils, x->u.x, &i1, &i1,
              x->u.desc);
    if (ia_summa_trsm_right(x->g, x->be, prec(x), x->m, x->k, x->nb, x->u.x, x->u.ld, x->out[1],
                            x->a.ld) != IA_OK)
      die("ia_summa_trsm_right");
  } else if (x->fp64) {
    pdtrsm_("R", "L", "T", "N", &x->m, &x->k, &one, x->lk.x, &i1, &i1, x->lk.desc, x->out[0], &i1,
            &i1, x->a.desc);
  } else {
    pstrsm_("R", "L", "T", "N", &x->m, &x->k, &ones, x->lk.x, &i1, &i1, x->lk.desc, x->out[0], &i1,
            &i1, x->a.desc);
  }
}

static void op_gram(void *ctx, int how) {
  bench *x = ctx;
  int i1 = 1;
  double one = 1, nil = 0;
  float ones = 1, nils = 0;
  if (how == 1) {
    if (ia_summa_gemm_tn(x->g, x->be, prec(x), 1, 0, x->k, x->k, x->m, x->nb, x->phi.x, x->phi.ld,
                         x->phi.x, x->phi.ld, x->out[1], x->s.ld) != IA_OK)
      die("ia_summa_gemm_tn (lower)");
  } else if (x->fp64) {
    pdsyrk_("L", "T", &x->k, &x->m, &one, x->phi.x, &i1, &i1, x->phi.desc, &nil, x->out[0], &i1,
            &i1, x->s.desc);
  } else {
    pssyrk_("L", "T", &x->k, &x->m, &ones, x->phi.x, &i1, &i1, x->phi.desc, &nils, x->out[0], &i1,
            &i1, x->s.desc);
  }
}

static void op_tn(void *ctx, int how) {
  bench *x = ctx;
  int i1 = 1;
  double one = 1, nil = 0;
  float ones = 1, nils = 0;
  if (how == 1) {
    if (ia_summa_gemm_tn(x->g, x->be, prec(x), 0, 0, x->k, x->n, x->m, x->nb, x->phi.x, x->phi.ld,
                         x->c.x, x->c.ld, x->out[1], x->t.ld) != IA_OK)
      die("ia_summa_gemm_tn");
  } else if (x->fp64) {
    pdgemm_("T", "N", &x->k, &x->n, &x->m, &one, x->phi.x, &i1, &i1, x->phi.desc, x->c.x, &i1, &i1,
            x->c.desc, &nil, x->out[0], &i1, &i1, x->t.desc);
  } else {
    psgemm_("T", "N", &x->k, &x->n, &x->m, &ones, x->phi.x, &i1, &i1, x->phi.desc, x->c.x, &i1, &i1,
            x->c.desc, &nils, x->out[0], &i1, &i1, x->t.desc);
  }
}

/* Two result arrays shaped like like. */
static void outputs(bench *x, const local *like) {
  size_t bytes = (x->fp64 ? 8 : 4) * like->count;
  free(x->out[0]), free(x->out[1]);
  x->out[0] = calloc(1, bytes), x->out[1] = calloc(1, bytes);
  if (!x->out[0] || !x->out[1]) die("out of host memory");
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  ia_log_init(MPI_COMM_WORLD, IA_LOG_QUIET);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  ia_device dev = argc > 1 && !strcmp(argv[1], "cuda") ? IA_DEVICE_CUDA : IA_DEVICE_CPU;
  bench x = {.m = argc > 2 ? atoi(argv[2]) : 8000,
             .n = argc > 3 ? atoi(argv[3]) : 3700,
             .k = argc > 4 ? atoi(argv[4]) : 2000,
             .nb = argc > 5 ? atoi(argv[5]) : 256};
  x.fp64 = !(argc > 6 && !strcmp(argv[6], "fp32"));
  ia_backend *be = NULL;
  ia_grid g;
  if (ia_backend_open(MPI_COMM_WORLD, dev, &be) != IA_OK) die("backend");
  if (ia_grid_create(MPI_COMM_WORLD, 0, 0, &g) != IA_OK) die("grid");
  x.g = &g, x.be = be;
  x.budget = ia_backend_free_bytes(be);
  if (x.budget != SIZE_MAX) x.budget = x.budget / (size_t)ia_backend_share(be) / 10 * 9;
  int m = x.m, n = x.n, k = x.k, nb = x.nb;
  x.a = make(&g, m, k, nb, x.fp64, rank);
  x.b = make(&g, k, n, nb, x.fp64, 7 * rank + 1);
  x.c = make(&g, m, n, nb, x.fp64, 0);
  if (rank == 0)
    printf("%d ranks (%dx%d), %s, %s, m %d n %d k %d nb %d\n", size, g.nprow, g.npcol,
           ia_backend_describe(be), x.fp64 ? "fp64" : "fp32", m, n, k, nb);
  double best[2];
  char host[32], ours[32];
  char t = x.fp64 ? 'd' : 's';

  outputs(&x, &x.c);
  best_of_3(op_gemm, &x, best);
  snprintf(host, sizeof host, "p%cgemm (host)", t);
  report(rank, host, "summa (backend)", best, 2.0 * m * (double)n * k,
         difference(&g, &x.c, x.out[0], x.out[1], nb, x.fp64, 0));
  memcpy(x.c.x, x.out[0], (x.fp64 ? 8 : 4) * x.c.count); /* B of the solves: C = A·B */

  if (rank == 0) printf("  L·Lᵀ = S, order %d:\n", m);
  x.s = make(&g, m, m, nb, x.fp64, 3 * rank + 2);
  factor(&g, &x.s, m, nb, x.fp64, 0);
  outputs(&x, &x.s);
  best_of_3(op_potrf, &x, best);
  snprintf(host, sizeof host, "p%cpotrf (host)", t);
  report(rank, host, "summa (backend)", best, (double)m * m * m / 3.0,
         difference(&g, &x.s, x.out[0], x.out[1], nb, x.fp64, 1));
  free(x.s.x);
  outputs(&x, &x.c);

  if (rank == 0) printf("  (L·Lᵀ)X = C, order %d, %d right-hand sides:\n", m, n);
  x.l = make(&g, m, m, nb, x.fp64, 3 * rank + 2);
  factor(&g, &x.l, m, nb, x.fp64, 1);
  best_of_3(op_potrs, &x, best);
  snprintf(host, sizeof host, "2 p%ctrsm (host)", t);
  report(rank, host, "summa (backend)", best, 2.0 * m * (double)m * n,
         difference(&g, &x.c, x.out[0], x.out[1], nb, x.fp64, 0));
  free(x.l.x);

  if (rank == 0) printf("  Nyström, %d users, %d centers, %d items: Φ = A·L⁻ᵀ\n", m, k, n);
  x.lk = make(&g, k, k, nb, x.fp64, 5 * rank + 3);
  factor(&g, &x.lk, k, nb, x.fp64, 1);
  x.u = make(&g, k, k, nb, x.fp64, 0);
  outputs(&x, &x.a);
  best_of_3(op_phi, &x, best);
  snprintf(host, sizeof host, "p%ctrsm \"R\" (host)", t);
  snprintf(ours, sizeof ours, "p%ctran + summa", t);
  report(rank, host, ours, best, (double)m * k * k,
         difference(&g, &x.a, x.out[0], x.out[1], nb, x.fp64, 0));
  x.phi = x.a;
  x.phi.x = x.out[0], x.out[0] = NULL; /* Φ, kept for the products */

  if (rank == 0) printf("  ΦᵀΦ, lower blocks:\n");
  x.s = make(&g, k, k, nb, x.fp64, 0);
  outputs(&x, &x.s);
  best_of_3(op_gram, &x, best);
  snprintf(host, sizeof host, "p%csyrk (host)", t);
  report(rank, host, "summa_tn (backend)", best, (double)m * k * (k + 1.0),
         difference(&g, &x.s, x.out[0], x.out[1], nb, x.fp64, 1));

  if (rank == 0) printf("  ΦᵀC:\n");
  x.t = make(&g, k, n, nb, x.fp64, 0);
  outputs(&x, &x.t);
  best_of_3(op_tn, &x, best);
  snprintf(host, sizeof host, "p%cgemm \"T\" (host)", t);
  report(rank, host, "summa_tn (backend)", best, 2.0 * m * (double)k * n,
         difference(&g, &x.t, x.out[0], x.out[1], nb, x.fp64, 0));

  free(x.out[0]), free(x.out[1]);
  free(x.a.x), free(x.b.x), free(x.c.x), free(x.lk.x), free(x.u.x), free(x.phi.x), free(x.s.x),
      free(x.t.x);
  ia_grid_free(&g);
  ia_backend_close(&be);
  MPI_Finalize();
  return 0;
}
