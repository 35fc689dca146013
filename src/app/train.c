/* `train`: ∞-AE (exact, on a sample of users, or Nyström), EASE, Recoder or
 * PopRec on the train split, λ chosen on validation, scored on test, and the
 * model file of --out. */
#include "infae/app/train.h"
#include "infae/core/paths.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/fit_users.h"
#include "app/train_recoder.h"
#include "eval/rank_eval.h"
#include "eval/sample_eval.h"
#include "infae/core/log.h"
#include "infae/core/ntk.h"
#include "infae/core/rng.h"
#include "infae/distill/distill.h"
#include "infae/infae/plan.h"
#include "infae/io/dataset.h"
#include "infae/io/model_file.h"
#include "infae/io/provenance.h"
#include "infae/models/model.h"

const double ia_infae_grid[6] = {0, 1, 5, 20, 50, 100};

typedef struct {
  const ia_dataset *d;
  ia_infae *infae;  /* ∞-AE predictions, or NULL for PopRec */
  ia_rank_eval *re; /* one rank: ranking on the backend, into cols */
  double *cols;
} scorer;

/* Validation: context train, held val. Test: context train + val, held
 * test (∞-AE's predictions were made for the right one). */
static void score_block(void *ctx, const ia_dataset *d, const int64_t *rows, int64_t n, int test,
                        double *p) {
  const scorer *s = ctx;
  const ia_csr *tr = &d->train;
  (void)test;
  for (int64_t u = 0; u < n; u++) {
    int64_t r = rows[u];
    if (s->infae)
      ia_infae_scores(s->infae, r, tr->indices + tr->indptr[r], tr->indptr[r + 1] - tr->indptr[r],
                      p + u * d->n_items);
    else
      ia_pop_scores(d->item_train_count, d->n_items, p + u * d->n_items);
  }
}

static ia_status infae_cols(void *ctx, ia_rank_eval *r, const int64_t *rows, int64_t c, int test,
                            double **cols) {
  const scorer *s = ctx;
  (void)test;
  IA_CALL(ia_infae_score_cols(s->infae, r->train, r->rows, rows, c, s->cols, r->d));
  *cols = s->cols;
  return IA_OK;
}

/* ∞-AE's predictions come a block of users at a time (the same count of
 * blocks on every rank); each block's users are evaluated before the next. */
static ia_status evaluate(MPI_Comm comm, const scorer *s, ia_evaluator *ev, int test,
                          ia_metrics *out) {
  if (!s->infae) return ia_evaluate_split(comm, s->d, ev, test, score_block, (void *)s, out);
  int64_t per = ia_infae_eval_block_users(s->infae), blocks = ia_infae_eval_blocks(s->infae);
  ia_progress pr;
  ia_progress_start(&pr, test ? "[train] test" : "[train] validation");
  ia_evaluator_reset(ev);
  for (int64_t b = 0; b < blocks; b++) {
    IA_CALL(ia_infae_predict_block(s->infae, b));
    ia_status st =
        s->re ? ia_rank_evaluate_rows(s->d, ev, s->re, test, b * per, (b + 1) * per, infae_cols,
                                      (void *)s)
              : ia_evaluate_rows(s->d, ev, test, b * per, (b + 1) * per, score_block, (void *)s);
    IA_CALL(ia_agree(comm, st));
    ia_progress_update(&pr, (double)(b + 1) / (double)blocks);
  }
  return ia_evaluate_finish(comm, ev, out);
}

/* Users per evaluation block on the backend: about 256 MiB of FP64 scores. */
static int64_t eval_chunk(const ia_dataset *d) {
  int64_t c = (int64_t)(256.0 * 1048576.0 / (8.0 * (double)d->n_items));
  c = c < 64 ? 64 : c > 8192 ? 8192 : c;
  return c > d->n_rows ? (d->n_rows > 0 ? d->n_rows : 1) : c;
}

static int is_pop(const char *model) { return !strcmp(model, "pop"); }

static void log_metrics(const char *what, const ia_metrics *m, double secs) {
  ia_log_metrics("train", what, m, secs);
}

static double gflops(const ia_step *s) { return s->seconds > 0 ? s->flops / s->seconds / 1e9 : 0; }

/* ---- model files (--out) ------------------------------------------------- */

/* What the model file records of this run; *json (the metrics) is the
 * caller's to free. */
static ia_status model_info(const ia_train_opts *o, const ia_train_result *r, ia_model_info *info,
                            char **json) {
  *json = ia_train_json(o, r);
  IA_CHECK(*json, IA_ERR_NOMEM, "out of memory printing the metrics");
  *info = (ia_model_info){.out = o->out,
                          .data = o->data,
                          .train_on = o->train_on,
                          .command = o->command,
                          .metrics_json = *json,
                          .lambda = r->best_lambda,
                          .lambda_prime = r->lambda_prime,
                          .trace_k = r->trace_k,
                          .depth = ia_ntk_depth(o->depth),
                          .precision = r->precision,
                          .nystrom = r->nystrom,
                          .fit_users = r->fit_users,
                          .seed = o->seed};
  return IA_OK;
}

static ia_status save_infae(ia_infae *m, const ia_grid *g, const ia_train_opts *o,
                            const ia_dataset *d, const ia_train_result *r, const int64_t *fit) {
  ia_model_info info;
  char *json = NULL;
  const void *alpha = NULL;
  int64_t ld = 1;
  ia_status st = ia_infae_alpha_rows(m, &alpha, &ld); /* collective */
  if (st == IA_OK) st = model_info(o, r, &info, &json);
  st = ia_agree(g->comm, st);
  if (st == IA_OK) st = ia_model_write(g, &info, d, fit, alpha, ld);
  free(json);
  return st;
}

static ia_status save_sample(MPI_Comm comm, const ia_train_opts *o, const ia_train_result *r,
                             const double *s, const double *alpha, int64_t mu, int64_t d) {
  ia_model_info info;
  char *json = NULL;
  ia_status st = ia_agree(comm, model_info(o, r, &info, &json));
  if (st == IA_OK) st = ia_sample_model_write(comm, &info, s, alpha, mu, d);
  free(json);
  return st;
}

static ia_status save_ease(MPI_Comm comm, const ia_train_opts *o, const ia_train_result *r,
                           const double *b, int64_t d) {
  ia_model_info info;
  char *json = NULL;
  ia_status st = ia_agree(comm, model_info(o, r, &info, &json));
  if (st == IA_OK) st = ia_ease_model_write(comm, &info, b, d);
  free(json);
  return st;
}

/* A λ whose factorization fails is skipped in a grid and fatal alone. */
static int skip_failed(ia_status *st, int n, double lambda, int *skipped) {
  if (*st != IA_ERR_NOTSPD || n == 1) return 0;
  ia_log_warn("λ = %g skipped, the other λ of the grid go on: %s", lambda, ia_error_message());
  ia_error_clear();
  *skipped = 1;
  *st = IA_OK;
  return 1;
}

/* --gpus: one rank drives the devices of its node, for the exact fit (the
 * U × U matrix of a sample or of Nyström centers is small). On the CPU only
 * when asked for by --device cpu: host slices of the same layout. */
static ia_status check_gpus(const ia_train_opts *o, const ia_grid *g, ia_backend *be, int sampled) {
  IA_CHECK(g->size == 1, IA_ERR_ARG,
           "--gpus %d drives the GPUs of one node from one rank: run one rank (mpirun -np 1), "
           "or leave --gpus out for one GPU per rank and ScaLAPACK",
           o->gpus);
  IA_CHECK(!sampled, IA_ERR_ARG,
           "--gpus applies to the exact fit: the kernel of --train-users or --centers fits one "
           "GPU");
  IA_CHECK(ia_backend_device(be) == IA_DEVICE_CUDA || o->device == IA_DEVICE_CPU, IA_ERR_DEVICE,
           "--gpus %d: no GPU is visible (with --device cpu, --gpus N splits K into N host "
           "slices of the same layout, which checks it but is no faster)",
           o->gpus);
  return IA_OK;
}

/* Several GPUs: the sizes of ia_infae_md_bytes, and on the first the
 * evaluation's blocks and the splits' rows. */
static ia_status md_memory_check(const ia_train_opts *o, const ia_dataset *d, ia_md *md, int nb,
                                 const char *where) {
  if (ia_backend_device(ia_md_backend(md, 0)) != IA_DEVICE_CUDA) return IA_OK;
  double dev = 0, prim = 0;
  ia_infae_md_bytes(d->n_users, d->n_items, nb, o->precision, ia_md_count(md), &dev, &prim);
  /* The evaluation: a block of score columns, the rows it reads from host
   * memory (a span of users a little wider than the block), the splits. */
  prim += 8.0 * (double)d->n_items * (double)(eval_chunk(d) + 2) +
          (o->precision == IA_FP64 ? 8.0 : 4.0) * 2.0 * (double)d->n_items * (double)eval_chunk(d) +
          12.0 * (double)(d->train_nnz + d->val_nnz + d->test_nnz);
  double have = (double)ia_md_free_bytes(md);
  IA_CHECK(prim <= have, IA_ERR_NOMEM,
           "∞-AE on %s needs %.2f GiB on the first GPU and %.2f GiB on each other, %.2f GiB are "
           "free on the fullest; use more --gpus or --precision fp32 (or, without --gpus, "
           "--train-users or --centers)",
           where, prim / 1073741824.0, dev / 1073741824.0, have / 1073741824.0);
  return IA_OK;
}

static ia_status train_infae(MPI_Comm comm, const ia_train_opts *o, const ia_dataset *d,
                             ia_evaluator *ev, ia_train_result *r) {
  ia_status st = IA_OK;
  ia_grid g = {0};
  ia_infae *m = NULL;
  ia_backend *be = NULL;
  ia_md *md = NULL;
  ia_rank_eval re = {0};
  double *cols = NULL;
  int64_t *fit = NULL;
  const double *grid = o->lambdas ? o->lambdas : ia_infae_grid;
  int n = o->lambdas ? o->n_lambdas : (int)(sizeof ia_infae_grid / sizeof *ia_infae_grid);
  IA_CHECK(n >= 1 && n <= IA_MAX_LAMBDAS, IA_ERR_ARG, "between 1 and %d λ values", IA_MAX_LAMBDAS);
  int nystrom = o->centers > 0;
  int64_t u = o->train_users > 0 && o->train_users < d->n_users ? o->train_users : d->n_users;
  int64_t distinct = 0;
  IA_CALL(ia_grid_create(comm, o->nprow, o->npcol, &g));
  if (nystrom) {
    IA_CALL_GOTO(ia_fit_users_centers(comm, d, o->seed, o->centers, &fit, &u, &distinct));
    ia_log_info(
        "[train] Nyström: every user fit through %lld centers drawn among %lld distinct "
        "train rows of %lld users (seed %llu)",
        (long long)u, (long long)distinct, (long long)d->n_users, (unsigned long long)o->seed);
  }
  r->has_lambda = 1;
  r->n_lambdas = n;
  r->precision = o->precision;
  r->nprow = g.nprow;
  r->npcol = g.npcol;
  r->block_size = o->block_size > 0 ? o->block_size : 256;
  r->fit_users = u;
  r->nystrom = nystrom;

  /* Plan first: refuse before allocating when a rank would not fit. Several
   * λ factor a copy of K when it fits, else K itself, made again for each λ
   * (--gpus: always, K is in tiles). */
  int64_t limit = o->memory_limit;
  if (limit <= 0) IA_CALL_GOTO(ia_memory_per_rank(comm, &limit));
  ia_infae_plan plan;
  ia_infae_plan_choose(d->n_users, d->n_items, u, d->train_nnz, g.size, g.nprow, g.npcol,
                       r->block_size, o->precision, n, nystrom, (double)limit, &plan);
  int sampled = u < d->n_users || nystrom;
  if (sampled && o->cross_kernel != IA_CROSS_AUTO &&
      plan.stream != (o->cross_kernel == IA_CROSS_STREAM))
    ia_infae_plan_make(d->n_users, d->n_items, u, d->train_nnz, g.size, g.nprow, g.npcol,
                       r->block_size, o->precision, plan.keep_kernel, nystrom,
                       o->cross_kernel == IA_CROSS_STREAM, 0, &plan);
  if (plan.stream && o->cross_kernel == IA_CROSS_AUTO) {
    ia_infae_plan kept;
    ia_infae_plan_make(d->n_users, d->n_items, u, d->train_nnz, g.size, g.nprow, g.npcol,
                       r->block_size, o->precision, plan.keep_kernel, nystrom, 0, 0, &kept);
    ia_log_info(
        "[train] NTK(C, X_fit) is made a block of users at a time for each use: for every user "
        "it does not fit %.2f GiB per rank (%.0f %% more flops)",
        (double)limit / 1073741824.0,
        100.0 * (ia_plan_flops(&plan, n) / ia_plan_flops(&kept, n) - 1));
  }
  if (n > 1 && !nystrom && !plan.keep_kernel && o->gpus == 0)
    ia_log_info(
        "[train] K is factored in place and made again for each λ: a copy for the λ grid "
        "does not fit %.2f GiB per rank (%.0f %% more flops)",
        (double)limit / 1073741824.0,
        100.0 * (n - 1) * plan.flops_remake / ia_plan_flops(&plan, n));
  /* --gpus: K is on the GPUs (checked below); the host holds α, the kept α,
   * the predictions of every user (K's tiles are not cut into blocks) and
   * the dataset's rows. */
  double host = o->gpus > 0
                    ? plan.bytes_total - plan.bytes_kernel - plan.bytes_panels - plan.bytes_rows +
                          (o->precision == IA_FP64 ? 8.0 : 4.0) * (double)u * (double)d->n_items
                    : plan.bytes_total;
  if (o->gpus > 0 && o->device == IA_DEVICE_CPU) host = plan.bytes_total * 2.0;
  r->bytes_per_rank = host;
  if (host > (double)limit) {
    ia_plan_print(&plan, d->n_users, d->n_items, u, g.size, o->precision, n,
                  o->precision == IA_FP64 ? 40.0 : 80.0);
    IA_CHECK_GOTO(0, IA_ERR_NOMEM,
                  "∞-AE needs %.2f GiB per rank, above the limit of %.2f GiB (--memory-limit); "
                  "use more ranks, --precision fp32, --train-users or --centers",
                  host / 1073741824.0, (double)limit / 1073741824.0);
  }
  IA_CALL_GOTO(ia_backend_open(comm, o->device, &be));
  snprintf(r->device, sizeof r->device, "%s", ia_backend_describe(be));
  if (o->gpus > 0) {
    IA_CALL_GOTO(ia_agree(comm, check_gpus(o, &g, be, u < d->n_users || nystrom)));
    IA_CALL_GOTO(ia_md_open(be, o->gpus, &md));
    snprintf(r->device, sizeof r->device, "%s", ia_md_describe(md));
    IA_CALL_GOTO(md_memory_check(o, d, md, r->block_size, r->device));
  } else if (g.size == 1 && ia_backend_device(be) == IA_DEVICE_CUDA) {
    /* One rank on a GPU: K (and its copy), X/α, the predictions and the
     * kernel panels live in device memory; fp64 kernels are made through an
     * FP32 Gram tile of a few of their U columns (U × U, or n × U for
     * NTK(C, X)). */
    /* The evaluation: a block of FP64 score columns, the splits' rows. */
    double eval = 8.0 * (double)d->n_items * (double)(eval_chunk(d) + 2) +
                  12.0 * (double)(d->train_nnz + d->val_nnz + d->test_nnz) +
                  20.0 * (double)d->negatives.indptr[d->n_rows];
    double need = plan.bytes_device + eval, have = (double)ia_backend_free_bytes(be);
    if (need > have && sampled && !plan.stream && o->cross_kernel == IA_CROSS_AUTO) {
      ia_infae_plan_make(d->n_users, d->n_items, u, d->train_nnz, 1, 1, 1, r->block_size,
                         o->precision, plan.keep_kernel, nystrom, 1, 0, &plan);
      need = plan.bytes_device + eval;
      ia_log_info(
          "[train] NTK(C, X_fit) is made a block of users at a time for each use: for every user "
          "it does not fit the GPU's %.2f GiB",
          have / 1073741824.0);
    }
    if (need > have && plan.keep_kernel && !nystrom) { /* no copy of K on the GPU */
      ia_infae_plan_make(d->n_users, d->n_items, u, d->train_nnz, 1, 1, 1, r->block_size,
                         o->precision, 0, nystrom, plan.stream, 0, &plan);
      need = plan.bytes_device + eval;
      if (need <= have)
        ia_log_info(
            "[train] K is factored in place and made again for each λ: a copy for the "
            "λ grid does not fit the GPU's %.2f GiB",
            have / 1073741824.0);
    }
    IA_CHECK_GOTO(need <= have, IA_ERR_NOMEM,
                  "∞-AE needs %.2f GiB of GPU memory, %.2f GiB are free on %s; use more ranks, "
                  "--precision fp32, --train-users, --centers or --device cpu",
                  need / 1073741824.0, have / 1073741824.0, r->device);
  }
  ia_log_info(
      "[train] ∞-AE %s on a %dx%d grid (block %d) on %s%s: %.2f GiB per rank planned, "
      "limit %.2f GiB",
      o->precision == IA_FP64 ? "fp64" : "fp32", g.nprow, g.npcol, r->block_size, r->device,
      g.size > 1 ? " (rank 0)" : "", host / 1073741824.0, (double)limit / 1073741824.0);
  if (u < d->n_users && !nystrom) {
    st = IA_ALLOC(fit, u, "user sample");
    if (st == IA_OK) st = ia_rng_choose(o->seed, IA_RNG_SAMPLE, 0, d->n_users, u, fit);
    IA_CALL_GOTO(ia_agree(comm, st));
    ia_log_info("[train] fitting on a random sample of %lld of %lld users (seed %llu)",
                (long long)u, (long long)d->n_users, (unsigned long long)o->seed);
  }
  ia_infae_opts io = {.backend = be,
                      .nb = r->block_size,
                      .precision = o->precision,
                      .keep_kernel = plan.keep_kernel,
                      .eval_block = o->eval_block,
                      .stream_cross = plan.stream,
                      .fit_users = fit,
                      .n_fit = u,
                      .nystrom = nystrom,
                      .depth = ia_ntk_depth(o->depth),
                      .md = md};
  IA_CALL_GOTO(ia_infae_create(&g, o->data, &io, &m));
  const ia_infae_stats *s = ia_infae_get_stats(m);
  double t = ia_time();
  IA_CALL_GOTO(ia_infae_gram(m, &r->trace_k));
  r->t_gram = ia_time() - t;
  if (nystrom)
    ia_log_info(
        "[train] Nyström K_mm = LLᵀ, Φ = K_nm·L⁻ᵀ (%lld×%lld), ΦᵀΦ, ΦᵀX: %.2f s, %.1f "
        "GFLOP/s; tr(K_nn) = %.10g",
        (long long)d->n_users, (long long)u, r->t_gram, gflops(&s->gram), r->trace_k);
  else
    ia_log_info("[train] gram K = NTK(X, X) %lld×%lld: %.2f s, %.1f GFLOP/s; trace(K) = %.10g",
                (long long)u, (long long)u, r->t_gram, gflops(&s->gram), r->trace_k);
  if (o->kernel_samples)
    IA_CALL_GOTO(ia_agree(comm, ia_fit_users_kernel_samples(comm, o, d, m, r)));
  if (ia_infae_on_backend(m)) { /* one rank: rank the predictions where they are */
    int64_t c = eval_chunk(d);
    st = ia_rank_eval_create(be, d, c, &re);
    if (st == IA_OK)
      st = ia_be_alloc(be, sizeof(double) * (size_t)(c * d->n_items), "score columns",
                       (void **)&cols);
    IA_CALL_GOTO(ia_agree(comm, st));
  }
  int best = -1;
  scorer sc = {d, m, ia_infae_on_backend(m) ? &re : NULL, cols};
  for (int k = 0; k < n; k++) {
    r->lambdas[k] = grid[k];
    t = ia_time();
    ia_step f0 = s->factor, s0 = s->solve;
    st = ia_infae_fit(m, grid[k]);
    if (skip_failed(&st, n, grid[k], &r->skipped[k])) continue;
    IA_CALL_GOTO(st);
    double tf = ia_time() - t;
    r->t_fit += tf;
    ia_step fs = {s->factor.seconds - f0.seconds, s->factor.flops - f0.flops};
    ia_step ss = {s->solve.seconds - s0.seconds, s->solve.flops - s0.flops};
    ia_log_info("[train] λ = %g: Cholesky %.2f s (%.1f GFLOP/s), solve %.2f s (%.1f GFLOP/s)",
                grid[k], fs.seconds, gflops(&fs), ss.seconds, gflops(&ss));
    t = ia_time();
    IA_CALL_GOTO(ia_infae_predict_validation(m));
    IA_CALL_GOTO(evaluate(comm, &sc, ev, 0, &r->val[k]));
    double te = ia_time() - t;
    r->t_val += te;
    char what[48];
    snprintf(what, sizeof what, "val λ=%g", grid[k]);
    log_metrics(what, &r->val[k], te);
    if (best < 0 || r->val[k].v[IA_HR100] > r->val[best].v[IA_HR100]) {
      best = k;
      IA_CALL_GOTO(ia_infae_keep(m));
    }
  }
  IA_CHECK_GOTO(best >= 0, IA_ERR_NOTSPD, "every λ of the grid failed to factor");
  r->best_lambda = grid[best];
  r->lambda_prime = ia_infae_lambda_prime(m);
  t = ia_time();
  IA_CALL_GOTO(ia_infae_predict_test(m));
  IA_CALL_GOTO(evaluate(comm, &sc, ev, 1, &r->test));
  r->t_test = ia_time() - t;
  char what[48];
  snprintf(what, sizeof what, "test λ=%g", r->best_lambda);
  log_metrics(what, &r->test, r->t_test);
  ia_log_info(
      "[train] test NTK(C, X) %.2f s (%.1f GFLOP/s), product with α %.2f s (%.1f "
      "GFLOP/s), row redistribution %.2f s in all",
      s->test_gram.seconds, gflops(&s->test_gram), s->test_gemm.seconds, gflops(&s->test_gemm),
      s->redistribute.seconds);
  r->steps = *s;
  r->gram_flops = s->gram.flops;
  r->fit_flops = s->factor.flops + s->solve.flops;
  if (o->out) IA_CALL_GOTO(save_infae(m, &g, o, d, r, fit));
done:
  free(fit);
  if (be) ia_be_free(be, cols);
  ia_rank_eval_free(&re);
  ia_infae_free(&m);
  ia_md_close(&md);
  ia_backend_close(&be);
  ia_grid_free(&g);
  return st;
}

/* --train-on: ∞-AE or EASE fitted on a summary's S (μ dense rows),
 * evaluated on the real users. */
static ia_status train_on_sample(MPI_Comm comm, const ia_train_opts *o, const ia_dataset *d,
                                 ia_evaluator *ev, const char *model, ia_train_result *r) {
  int is_infae = !strcmp(model, "infae"), depth;
  double *s = NULL, *b = NULL, t = ia_time();
  int64_t mu, items;
  ia_krr m = {0};
  IA_CALL(ia_summary_read_sample(comm, o->train_on, o->data, o->train_on_binary, &s, &mu, &items,
                                 &depth));
  ia_log_info("[train] fitting on the %lld users of %s%s", (long long)mu, o->train_on,
              o->train_on_binary ? " (/binary)" : "");
  /* ∞-AE takes the depth the summary was distilled with unless told. */
  ia_train_opts od = *o;
  if (is_infae && o->depth == 0) {
    od.depth = depth;
    if (depth > 1) ia_log_info("[train] NTK depth %d, the summary's (--depth sets another)", depth);
  } else if (is_infae && o->depth != depth) {
    ia_log_warn("[train] NTK depth %d, but %s was distilled at depth %d", o->depth, o->train_on,
                depth);
  }
  o = &od;
  r->fit_users = mu;
  ia_status st = IA_OK;
  if (!strcmp(model, "recoder")) {
    IA_CALL_GOTO(ia_train_recoder(comm, o, d, ev, s, mu, r));
    goto done;
  }
  if (is_infae) {
    const double *grid = o->lambdas ? o->lambdas : ia_distill_grid;
    int n = o->lambdas ? o->n_lambdas : (int)(sizeof ia_distill_grid / sizeof *ia_distill_grid);
    IA_CALL_GOTO(ia_agree(comm, ia_krr_init(&m, mu, items, ia_ntk_depth(o->depth))));
    ia_krr_kernel(&m, s);
    IA_CALL_GOTO(ia_sample_infae(comm, d, ev, &m, grid, n, 1, 1, r));
    r->t_fit = ia_time() - t;
    /* m is fitted at the best λ. */
    if (o->out) IA_CALL_GOTO(save_sample(comm, o, r, s, m.alpha, mu, items));
  } else {
    const double *grid = o->lambdas ? o->lambdas : ia_ease_grid;
    int n = o->lambdas ? o->n_lambdas : (int)(sizeof ia_ease_grid / sizeof *ia_ease_grid);
    IA_CALL_GOTO(ia_sample_ease(comm, d, ev, s, mu, grid, n, r, o->out ? &b : NULL));
    r->t_fit = ia_time() - t;
    if (o->out) IA_CALL_GOTO(save_ease(comm, o, r, b, items));
  }
done:
  ia_krr_free(&m);
  free(b);
  free(s);
  return st;
}

ia_status ia_train(MPI_Comm comm, const ia_train_opts *o, ia_train_result *r) {
  ia_status st = IA_OK;
  ia_dataset d = {0};
  ia_evaluator *ev = NULL;
  double *g = NULL, *b = NULL; /* EASE: XᵀX, the best B for --out */
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  memset(r, 0, sizeof *r);
  double t0 = ia_time(), t;
  const char *model = o->model ? o->model : "infae";
  int is_ease = !strcmp(model, "ease"), is_infae = !strcmp(model, "infae");
  int is_recoder = !strcmp(model, "recoder");
  IA_CHECK(is_ease || is_infae || is_recoder || !strcmp(model, "pop"), IA_ERR_ARG,
           "--model must be infae, ease, recoder or pop (got '%s')", model);
  IA_CHECK(o->data, IA_ERR_ARG, "--data is required");
  for (int k = 0; k < o->n_lambdas; k++)
    IA_CHECK(o->lambdas[k] >= 0, IA_ERR_ARG, "--lambdas: every λ must be ≥ 0 (got %g)",
             o->lambdas[k]);
  IA_CHECK(!o->out || !is_pop(model), IA_ERR_ARG,
           "--out writes ∞-AE, EASE and Recoder models; PopRec's scores are the item counts "
           "of the dataset");
  IA_CHECK(!o->train_on || (!is_pop(model) && o->train_users == 0 && o->centers == 0), IA_ERR_ARG,
           "--train-on fits ∞-AE, EASE or Recoder on a summary; it takes neither --model pop, "
           "--train-users nor --centers");
  IA_CHECK(o->centers == 0 || is_infae, IA_ERR_ARG, "--centers is for ∞-AE (--model infae)");
  IA_CHECK(o->gpus == 0 || (is_infae && !o->train_on), IA_ERR_ARG,
           "--gpus is for ∞-AE on the train split (--model infae, without --train-on)");
  IA_CHECK(o->train_users == 0 || is_infae, IA_ERR_ARG,
           "--train-users is for ∞-AE (--model infae)");
  IA_CHECK(o->centers == 0 || o->train_users == 0, IA_ERR_ARG,
           "--centers and --train-users exclude each other: Nyström fits every user");
  IA_CHECK(o->centers == 0 || !o->kernel_samples, IA_ERR_ARG,
           "--kernel-samples needs the exact fit (no --centers)");
  snprintf(r->model, sizeof r->model, "%s", model);
  r->ranks = size;
  ia_path inputs[] = {{"data", o->data}, {"train-on", o->train_on}};
  ia_path outputs[] = {{"out", o->out}, {"metrics-json", o->metrics_json}};
  IA_CALL(ia_paths_check(comm, inputs, 2, outputs, 2));

  /* Users in contiguous blocks of ceil(n/size) over ranks: the layout the
   * ∞-AE predictions arrive in. */
  int64_t n_users, n_items, begin, count;
  IA_CALL(ia_dataset_dims(comm, o->data, &n_users, &n_items));
  if (o->train_users >= n_users)
    ia_log_warn(
        "--train-users %lld is not fewer than the %lld users: every user is fit (the "
        "exact ∞-AE)",
        (long long)o->train_users, (long long)n_users);
  if (o->centers >= n_users)
    ia_log_warn(
        "--centers %lld is not fewer than the %lld users: every distinct user is a "
        "center (the exact ∞-AE, by Nyström's algebra)",
        (long long)o->centers, (long long)n_users);
  ia_row_block(n_users, size, rank, &begin, &count);
  IA_CALL(ia_dataset_read(comm, o->data, begin, count, o->kernel_samples != NULL, &d));
  r->t_read = ia_time() - t0;
  r->users = d.n_users;
  r->items = d.n_items;
  r->train_nnz = d.train_nnz;
  snprintf(r->sha256, sizeof r->sha256, "%s", d.source_sha256);
  ia_log_info("[train] %s: %lld users, %lld items, train %lld; %d rank(s); read %.2f s", o->data,
              (long long)d.n_users, (long long)d.n_items, (long long)d.train_nnz, size, r->t_read);
  ia_log_verbose("[train] rank 0 holds users [%lld, %lld); dataset sha256 %s", (long long)begin,
                 (long long)(begin + count), d.source_sha256);
  st = ia_evaluator_create(d.item_train_count, d.n_items, d.train_nnz, &ev);
  IA_CALL_GOTO(ia_agree(comm, st));
  scorer sc = {&d, NULL, NULL, NULL};

  if (o->train_on) {
    IA_CALL_GOTO(train_on_sample(comm, o, &d, ev, model, r));
  } else if (is_recoder) {
    IA_CALL_GOTO(ia_train_recoder(comm, o, &d, ev, NULL, 0, r));
  } else if (is_infae) {
    IA_CALL_GOTO(train_infae(comm, o, &d, ev, r));
  } else if (!is_ease) {
    r->n_lambdas = 1;
    t = ia_time();
    IA_CALL_GOTO(evaluate(comm, &sc, ev, 0, &r->val[0]));
    r->t_val = ia_time() - t;
    log_metrics("val", &r->val[0], r->t_val);
    t = ia_time();
    IA_CALL_GOTO(evaluate(comm, &sc, ev, 1, &r->test));
    r->t_test = ia_time() - t;
    log_metrics("test", &r->test, r->t_test);
  } else {
    const double *grid = o->lambdas ? o->lambdas : ia_ease_grid;
    int n = o->lambdas ? o->n_lambdas : (int)(sizeof ia_ease_grid / sizeof *ia_ease_grid);
    IA_CALL_GOTO(ia_agree(comm, IA_ALLOC(g, d.n_items * d.n_items, "EASE Gram XᵀX")));
    t = ia_time();
    double flops = 0;
    IA_CALL_GOTO(ia_ease_gram(comm, &d.train, g, &flops));
    MPI_Allreduce(MPI_IN_PLACE, &flops, 1, MPI_DOUBLE, MPI_SUM, comm);
    r->t_gram = ia_time() - t;
    r->gram_flops = flops;
    ia_log_info("[train] gram XᵀX %lld×%lld: %.2f s", (long long)d.n_items, (long long)d.n_items,
                r->t_gram);
    ia_log_verbose("[train] gram: %.3g integer adds over all ranks", flops);
    IA_CALL_GOTO(ia_ease_select(comm, &d, ev, g, grid, n, "train", r, o->out ? &b : NULL));
    if (o->out) IA_CALL_GOTO(save_ease(comm, o, r, b, d.n_items));
  }
  r->t_total = ia_time() - t0;
  r->peak_rss = ia_peak_rss(comm);
done:
  free(g);
  free(b);
  ia_evaluator_free(&ev);
  ia_dataset_free(&d);
  return st;
}
