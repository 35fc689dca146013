/* The Distill-CF step on a compute backend (src/distill/distill_be.c: dense blocks,
 * column-major, every array in the backend's memory) against the sparse
 * host step (src/distill/distill_host.c, itself checked by finite differences in
 * test_distill_grad): the sample S, trace K, α, the loss, its gradient with
 * respect to every rank's logits and the stop flag, on a random batch that
 * spans several blocks of users; the validation metrics of the sample at
 * every λ of a grid; the error for a kernel that does not factor.
 * Arguments: cpu or cuda (exits 77, skipped, without a GPU), then the NTK's
 * depth (default 1). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distill/distill_be.h"
#include "distill/distill_host.h"
#include "infae/core/log.h"
#include "infae/core/rng.h"
#include "infae/eval/metrics.h"
#include "infae/io/dataset.h"

#include "check.h"

enum { MU = 7, D = 23, USERS = 41, GAMMA = 3, CHUNK = 4 };
static const double TAU = 2.0, LAMBDA = 0.5, CCARD = 0.05, IPU = 4.5;

static double rel_err(const double *x, const double *y, int64_t n) {
  double e = 0, s = 0;
  for (int64_t i = 0; i < n; i++) {
    e = fmax(e, fabs(x[i] - y[i]));
    s = fmax(s, fabs(y[i]));
  }
  return s > 0 ? e / s : e;
}

static double *download(ia_backend *b, const double *p, int64_t n) {
  double *h = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
  OK(ia_be_download(b, h, p, sizeof(double) * (size_t)n));
  return h;
}

/* This rank's block of USERS random binary rows (each with ≥ 1 item). */
static void make_users(ia_csr *t, int64_t *begin) {
  int rank, size;
  int64_t count;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  ia_partition(USERS, size, rank, begin, &count);
  OK(ia_csr_alloc(t, count, D, count * D + 1));
  int64_t nnz = 0;
  for (int64_t u = 0; u < count; u++) {
    ia_rng r;
    ia_rng_init(&r, 6, IA_RNG_GENERATE, (uint64_t)(*begin + u));
    for (int i = 0; i < D; i++)
      if (i == (*begin + u) % D || ia_rng_uniform(&r) < 0.25) t->indices[nnz++] = i;
    t->indptr[u + 1] = nnz;
  }
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  ia_log_init(MPI_COMM_WORLD, IA_LOG_QUIET);
  int cuda = argc > 1 && !strcmp(argv[1], "cuda"), rank, depth = argc > 2 ? atoi(argv[2]) : 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (cuda) skip_without_gpu();
  /* The CUDA sampler's float noise may differ from the CPU's in the last
   * bit (test_backend_cuda); everything after it is FP64. */
  double tol = cuda ? 1e-5 : 1e-11;
  ia_backend *be = NULL;
  OK(ia_backend_open(MPI_COMM_WORLD, cuda ? IA_DEVICE_CUDA : IA_DEVICE_CPU, &be));
  if (rank == 0) printf("backend: %s, NTK depth %d\n", ia_backend_describe(be), depth);

  ia_csr t = {0};
  int64_t begin;
  make_users(&t, &begin);
  ia_gumbel g = {.seed = 11, .step = 0, .samples = GAMMA, .tau = TAU, .d = D};
  ia_distill_host h;
  ia_distill_be p;
  OK(ia_distill_host_create(MPI_COMM_WORLD, MU, D, depth, &g, CCARD, IPU, &t, &h));
  OK(ia_distill_be_create(MPI_COMM_WORLD, be, MU, D, depth, &g, CCARD, IPU, &t, CHUNK, &p));

  /* Logits like a trained sample (a few large, so hardtanh clips some). */
  int64_t own = h.nz * D;
  double *z = malloc(sizeof(double) * (size_t)(own + 1)), *dz = calloc((size_t)own + 1, 8);
  for (int64_t r = 0; r < h.nz; r++) {
    ia_rng gr;
    ia_rng_init(&gr, 8, IA_RNG_GENERATE, (uint64_t)(h.z0 + r));
    for (int i = 0; i < D; i++) z[r * D + i] = 6 * ia_rng_uniform(&gr) - 3 + (i % 4 == 0 ? 4 : 0);
  }
  double *zb = NULL, *dzb = NULL;
  OK(ia_be_alloc(be, sizeof(double) * (size_t)(own + 1), "z", (void **)&zb));
  OK(ia_be_alloc(be, sizeof(double) * (size_t)(own + 1), "dz", (void **)&dzb));
  OK(ia_be_upload(be, zb, z, sizeof(double) * (size_t)own));

  /* A batch: two users in three, so blocks are uneven across the ranks. */
  int64_t rows[USERS], n = 0, b_total = 0;
  for (int64_t u = 0; u < USERS; u++)
    if (u % 3 != 1) {
      b_total++;
      if (u >= begin && u < begin + t.n_rows) rows[n++] = u - begin;
    }

  OK(ia_distill_host_sample(&h, z, 7));
  OK(ia_distill_be_sample(&p, zb, 7));
  double *s = download(be, p.s, MU * D);
  check("sample S", rel_err(s, h.s, MU * D), tol);
  int clipped = 0;
  for (int e = 0; e < MU * D; e++) clipped += h.a[e] > 1.0;
  check("some entries clipped by hardtanh", clipped > 0 ? 0 : 1, 0);
  check("tr K", fabs(p.trace - h.krr.trace) / h.krr.trace, tol);

  OK(ia_krr_fit(&h.krr, LAMBDA));
  OK(ia_distill_be_fit(&p, LAMBDA));
  double *alpha = download(be, p.alpha, MU * D);
  check("α = (K + λ'I)⁻¹S", rel_err(alpha, h.krr.alpha, MU * D), tol);

  double lh, ceh, lb, ceb, l2, ce2;
  int fh = rank == 1, fb = rank == 1;
  OK(ia_distill_host_loss_grad(&h, z, rows, n, b_total, &lh, &ceh, dz, &fh));
  OK(ia_distill_be_loss_grad(&p, zb, rows, n, b_total, &lb, &ceb, dzb, &fb));
  check("loss", fabs(lb - lh) / fabs(lh), tol);
  check("cross-entropy", fabs(ceb - ceh) / fabs(ceh), tol);
  check("stop flag summed", fabs((double)(fb - fh)), 0);
  double *dzh = download(be, dzb, own);
  /* One scale for every rank's logits. */
  double e = 0, sc = 0;
  for (int64_t i = 0; i < own; i++) e = fmax(e, fabs(dzh[i] - dz[i])), sc = fmax(sc, fabs(dz[i]));
  MPI_Allreduce(MPI_IN_PLACE, &sc, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  check("dL/dZ (every rank's logits)", e / sc, tol);

  OK(ia_distill_be_loss(&p, rows, n, b_total, &l2, &ce2));
  check("loss without the gradient", fabs(l2 - lb) / fabs(lb), 1e-13);

  /* Validation of the sample on the backend against the host: every λ's
   * metrics (held items and AUC negatives drawn outside the train rows). */
  ia_dataset ds = {.n_users = USERS, .n_items = D, .row_begin = begin, .n_rows = t.n_rows};
  ds.train = t;
  OK(ia_csr_alloc(&ds.val, t.n_rows, D, t.n_rows * D + 1));
  OK(ia_csr_alloc(&ds.negatives, t.n_rows, D, t.n_rows * D + 1));
  OK(ia_csr_alloc(&ds.test, t.n_rows, D, 1));
  int64_t *count = calloc(D, sizeof *count);
  for (int64_t u = 0, nv = 0, nn = 0; u < t.n_rows; u++) {
    ia_rng r;
    ia_rng_init(&r, 12, IA_RNG_GENERATE, (uint64_t)(begin + u));
    for (int64_t q = t.indptr[u], i = 0; i < D; i++) {
      if (q < t.indptr[u + 1] && t.indices[q] == i) {
        count[i]++, q++;
        continue;
      }
      double x = ia_rng_uniform(&r);
      if (x < 0.3)
        ds.val.indices[nv++] = (int32_t)i;
      else if (x < 0.6)
        ds.negatives.indices[nn++] = (int32_t)i;
    }
    ds.val.indptr[u + 1] = nv;
    ds.negatives.indptr[u + 1] = nn;
  }
  MPI_Allreduce(MPI_IN_PLACE, count, D, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  for (int i = 0; i < D; i++) ds.train_nnz += count[i];
  ds.item_train_count = count;
  ia_evaluator *ev = NULL;
  OK(ia_evaluator_create(count, D, ds.train_nnz, &ev));
  const double grid[] = {0.01, 0.5, 5};
  ia_train_result *vh = calloc(1, sizeof *vh), *vb = calloc(1, sizeof *vb);
  ia_sample_model dm = ia_distill_be_model(&p);
  OK(ia_sample_infae(MPI_COMM_WORLD, &ds, ev, &h.krr, grid, 3, 0, 0, vh));
  OK(ia_sample_select(MPI_COMM_WORLD, &ds, ev, &dm, grid, 3, IA_HR100, 0, 0, vb));
  double merr = 0;
  for (int k = 0; k < 3; k++)
    for (int q = 0; q < IA_N_METRICS; q++)
      merr = fmax(merr, fabs(vb->val[k].v[q] - vh->val[k].v[q]) / fabs(vh->val[k].v[q]));
  check("validation metrics of every λ", merr, tol);
  check("λ picked, λ'",
        fabs(vb->lambda_prime - vh->lambda_prime) / vh->lambda_prime +
            fabs(vb->best_lambda - vh->best_lambda),
        tol);
  if (rank == 0)
    printf("  (val HR@10 %.2f NDCG@10 %.2f AUC %.4f at λ %g, %lld users)\n", vh->val[1].v[IA_HR10],
           vh->val[1].v[IA_NDCG10], vh->val[1].v[IA_AUC], grid[1], (long long)vh->val[1].users);
  free(vh), free(vb);
  ia_evaluator_free(&ev);
  ia_csr_free(&ds.val);
  ia_csr_free(&ds.negatives);
  ia_csr_free(&ds.test);
  free(count);

  /* A kernel that does not factor: one clear error, as on the host. */
  ia_status st = ia_distill_be_fit(&p, -50.0);
  check("K + λ'I not SPD reported", st == IA_ERR_NOTSPD ? 0 : 1, 0);
  if (st != IA_OK) {
    if (rank == 0) printf("  (%s)\n", ia_error_message());
    ia_error_clear();
  }

  free(s), free(alpha), free(dzh), free(z), free(dz);
  ia_be_free(be, zb);
  ia_be_free(be, dzb);
  ia_distill_be_free(&p);
  ia_distill_host_free(&h);
  ia_csr_free(&t);
  ia_backend_close(&be);
  if (rank == 0) printf("%s\n", failures ? "FAILED" : "all checks passed");
  MPI_Finalize();
  return failures ? 1 : 0;
}
