#include <string.h>

#include "cli.h"
#include "infae/core/log.h"
#include "infae/core/opts.h"
#include "infae/dist/grid.h"
#include "infae/distill/distill.h"
#include "infae/infae/plan.h"
#include "infae/io/dataset.h"

/* One rank with K over several GPUs (train --gpus): what each GPU and the
 * host hold, the flops and the time at `rate` per GPU. */
static void plan_gpus(int64_t n, int64_t d, int64_t nnz, int block, ia_precision p, int lambdas,
                      int gpus, double rate) {
  char a[32], b[32], c[32], t[48];
  double dev = 0, first = 0;
  ia_infae_md_bytes(n, d, block, p, gpus, &dev, &first);
  double es = p == IA_FP64 ? 8.0 : 4.0, host = es * 2.0 * (double)n * (double)d;
  ia_infae_plan one;
  ia_infae_plan_make(n, d, n, nnz, 1, 1, 1, block, p, 0, 0, 0, 0, &one);
  double flops = ia_plan_flops(&one, lambdas);
  /* K is made again for each λ instead of kept as a copy. */
  flops += (lambdas - 1) * one.flops_gram;
  ia_log_info(
      "∞-AE plan: %lld users × %lld items, %s, one rank with K over %d GPUs (train "
      "--gpus %d), %d λ",
      (long long)n, (long long)d, p == IA_FP64 ? "fp64" : "fp32", gpus, gpus, lambdas);
  ia_log_info(
      "memory: %s on each GPU (its column tiles of K and X/α, the Gram's panels), "
      "%s on the first (the evaluation's blocks too); %s of host memory (α and the kept "
      "α) and %s of dataset rows",
      ia_plan_bytes(dev, a, sizeof a), ia_plan_bytes(first, b, sizeof b),
      ia_plan_bytes(host, c, sizeof c), ia_plan_bytes(one.bytes_data, t, sizeof t));
  ia_log_info("flops: %.3e (Gram %d × %.3e, Cholesky %d × %.3e, solves %d × %.3e, test %.3e)",
              flops, lambdas, one.flops_gram, lambdas, one.flops_factor, lambdas, one.flops_solve,
              one.flops_test);
  ia_log_info("time at %g GFLOP/s per GPU: %s (flop-bound estimate)", rate,
              ia_plan_duration(flops / (rate * 1e9 * gpus), t, sizeof t));
}

int ia_cmd_plan(MPI_Comm comm, int argc, char **argv, const char *command) {
  (void)command;
  const char *data, *precision, *grid, *memory, *model, *binary_rule;
  int np = 0, block, quiet, verbose, gpus, samples, steps, no_ease;
  int64_t train_users, centers, budget, batch;
  double rate = 0;
  ia_reals lambdas;
  const ia_opt opts[] = {
      {"data", IA_OPT_STRING, NULL, "prepared dataset (only its sizes are read)", &data},
      {"model", IA_OPT_STRING, "infae", "infae (∞-AE) | ease | distill (Distill-CF)", &model},
      {"np", IA_OPT_INT, NULL, "ranks to plan for [default: the ranks of this run]", &np},
      {"precision", IA_OPT_STRING, "fp64", "∞-AE: fp64 | fp32", &precision},
      {"grid", IA_OPT_STRING, "", "∞-AE: process grid ROWSxCOLS [default: near-square]", &grid},
      {"block-size", IA_OPT_INT, "256", "∞-AE: block-cyclic block size", &block},
      {"lambdas", IA_OPT_REALS, NULL,
       "the λ grid, as for train and distill; only its length counts [default: the model's "
       "grid: infae 6, ease 7, distill 6 values]",
       &lambdas},
      {"train-users", IA_OPT_INT64, "0", "∞-AE: fit on a sample of this many users (0: all)",
       &train_users},
      {"centers", IA_OPT_INT64, "0", "∞-AE Nyström: fit every user through this many centers",
       &centers},
      {"gpus", IA_OPT_INT, "0",
       "∞-AE: plan one rank with K over this many GPUs (train --gpus) instead of ranks", &gpus},
      {"budget", IA_OPT_INT64, "500", "distill: μ, synthetic users", &budget},
      {"samples", IA_OPT_INT, "200", "distill: γ, Gumbel samples per step", &samples},
      {"steps", IA_OPT_INT, "500", "distill: Adam steps", &steps},
      {"batch", IA_OPT_INT64, "0", "distill: real users per step (0: all)", &batch},
      {"no-ease", IA_OPT_FLAG, NULL, "distill: without EASE on the summary", &no_ease},
      {"binary-rule", IA_OPT_STRING, "validated",
       "distill: /binary's rule (validated: ∞-AE on each candidate | expected | threshold)",
       &binary_rule},
      {"gflops", IA_OPT_REAL, NULL,
       "sustained GFLOP/s per rank (per GPU with --gpus) for the time estimate [default: 40 "
       "fp64, 80 fp32, one core of a 2020s x86 server; with --gpus 30,000 fp64, 40,000 fp32, "
       "an H200's factor and solves]",
       &rate},
      {"memory-limit", IA_OPT_STRING, "", "bytes per rank to check against, e.g. 8G", &memory},
      {"quiet", IA_OPT_FLAG, NULL, "print errors only", &quiet},
      {"verbose", IA_OPT_FLAG, NULL, "print more detail", &verbose},
  };
  int n = (int)(sizeof opts / sizeof *opts);
  lambdas.n = 0;
  int rc = ia_cli_parse(
      comm, "infae_mpi plan --data D.h5 [--model infae|ease|distill] [--np P] [options]",
      "Prints the memory per rank and the flops of training a model on P ranks\n"
      "(∞-AE, EASE or Distill-CF), and the flop-bound time at a per-rank\n"
      "rate. Reads only the dataset's sizes; allocates nothing.",
      opts, n, argc, argv);
  if (rc >= 0) return rc;
  ia_precision p = IA_FP64;
  int nprow = 0, npcol = 0, size;
  int64_t limit = 0, users = 0, items = 0;
  MPI_Comm_size(comm, &size);
  int is_infae = !strcmp(model, "infae"), is_ease = !strcmp(model, "ease");
  int is_distill = !strcmp(model, "distill");
  ia_status st = IA_OK;
  ia_binary_rule rule = IA_BINARY_VALIDATED;
  st = ia_binary_rule_parse(binary_rule, &rule);
  if (st == IA_OK && !is_infae && !is_ease && !is_distill)
    st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__,
                      "--model must be infae, ease or distill (got '%s')", model);
  if (st == IA_OK && ia_opts_given(argc, argv, "np") && np < 1)
    st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "--np must be ≥ 1 (got %d)", np);
  if (st == IA_OK && ia_opts_given(argc, argv, "gflops") && rate <= 0)
    st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "--gflops must be > 0 (got %g)", rate);
  if (np <= 0) np = size;
  if (st == IA_OK) st = ia_cli_precision(precision, &p);
  if (st == IA_OK) st = ia_grid_parse(grid, &nprow, &npcol);
  if (st == IA_OK && memory[0]) st = ia_parse_bytes("memory-limit", memory, &limit);
  if (st == IA_OK && (block < 1 || train_users < 0 || centers < 0 || budget < 1 || samples < 1 ||
                      steps < 0 || batch < 0))
    st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__,
                      "--block-size, --budget and --samples must be ≥ 1, --train-users, "
                      "--centers, --steps and --batch ≥ 0");
  for (int k = 0; st == IA_OK && k < lambdas.n; k++)
    if (lambdas.v[k] < 0)
      st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "--lambdas: every λ must be ≥ 0 (got %g)",
                        lambdas.v[k]);
  if (st == IA_OK && (gpus < 0 || gpus > IA_MD_MAX))
    st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "--gpus must be between 0 and %d", IA_MD_MAX);
  if (st == IA_OK && gpus > 0 &&
      (!is_infae || centers > 0 || train_users > 0 || ia_opts_given(argc, argv, "np")))
    st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__,
                      "--gpus plans the exact ∞-AE on one rank: no --model ease|distill, "
                      "--train-users, --centers or --np");
  if (st == IA_OK && centers > 0 && train_users > 0)
    st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__,
                      "--centers and --train-users exclude each other");
  if (st == IA_OK && nprow > 0 && nprow * npcol != np)
    st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "--grid %dx%d needs --np %d", nprow, npcol,
                      nprow * npcol);
  if (st == IA_OK && !data) st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "--data is required");
  if (ia_agree(comm, st) != IA_OK) return 2;
  static const char *const infae_only[] = {"precision",   "grid",    "block-size",
                                           "train-users", "centers", NULL};
  static const char *const distill_only[] = {"budget",  "samples",     "steps", "batch",
                                             "no-ease", "binary-rule", NULL};
  if (!is_infae) ia_cli_warn_ignored(argc, argv, infae_only, "an ∞-AE option", model);
  if (!is_distill) ia_cli_warn_ignored(argc, argv, distill_only, "a Distill-CF option", model);
  ia_dataset d = {0};
  st = ia_dataset_read(comm, data, 0, 0, 0, &d); /* sizes and counts, no rows */
  if (st != IA_OK) return 1;
  users = d.n_users;
  items = d.n_items;
  int64_t nnz = d.train_nnz;
  ia_dataset_free(&d);
  int n_lambdas = lambdas.n > 0 ? lambdas.n : is_ease ? 7 : 6;
  if (rate <= 0)
    rate = gpus > 0 ? (p == IA_FP64 ? 30000.0 : 40000.0) : (p == IA_FP64 ? 40.0 : 80.0);
  double total = 0;
  if (gpus > 0) {
    plan_gpus(users, items, nnz, block, p, n_lambdas, gpus, rate);
    return 0;
  }
  if (is_ease) {
    ia_ease_plan e;
    ia_ease_plan_make(users, items, nnz, np, n_lambdas, &e);
    ia_ease_plan_print(&e, users, items, np, rate);
    total = e.bytes_total;
  } else if (is_distill) {
    ia_distill_plan q;
    int64_t mu = budget < users ? budget : users;
    int64_t cand[IA_BINARY_MAX_CANDIDATES];
    int n_cand = rule == IA_BINARY_VALIDATED
                     ? ia_binary_candidates((double)nnz / (double)users, items, cand)
                     : 0;
    ia_distill_plan_make(users, items, nnz, np, mu, samples, batch, steps, n_lambdas, !no_ease,
                         n_cand, &q);
    ia_distill_plan_print(&q, users, items, mu, np, rate);
    total = q.bytes_total;
  } else {
    int64_t u = train_users > 0 && train_users < users ? train_users : users;
    if (centers > 0) u = centers < users ? centers : users;
    ia_infae_plan plan, lean;
    ia_infae_plan_choose(users, items, u, nnz, np, nprow, npcol, block, p, n_lambdas, centers > 0,
                         (double)limit, &plan);
    ia_plan_print(&plan, users, items, u, np, p, n_lambdas, rate);
    total = plan.bytes_total;
    char a[32];
    if ((u < users || centers > 0) &&
        !plan.stream) { /* what train does when NTK(C, X) does not fit */
      ia_infae_plan_make(users, items, u, nnz, np, nprow, npcol, block, p, plan.keep_kernel,
                         centers > 0, 1, 0, &lean);
      ia_log_info(
          "with NTK(C, X_fit) made a block of users at a time for each use (train does so when "
          "it does not fit its limit for every user): %s per rank, %.0f %% more flops",
          ia_plan_bytes(lean.bytes_total, a, sizeof a),
          100.0 * (ia_plan_flops(&lean, n_lambdas) / ia_plan_flops(&plan, n_lambdas) - 1));
    }
    if (plan.keep_kernel) { /* what train does when the copy does not fit */
      ia_infae_plan_make(users, items, u, nnz, np, nprow, npcol, block, p, 0, 0, plan.stream, 0,
                         &lean);
      ia_log_info(
          "without the copy of K (train factors K in place and makes it again for each "
          "λ when the copy does not fit its limit): %s per rank, %.0f %% more flops",
          ia_plan_bytes(lean.bytes_total, a, sizeof a),
          100.0 * (n_lambdas - 1) * lean.flops_remake / ia_plan_flops(&lean, n_lambdas));
    }
  }
  if (limit > 0 && total > (double)limit)
    st = ia_error_set(IA_ERR_NOMEM, __FILE__, __LINE__,
                      "%.2f GiB per rank EXCEEDS the limit of %.2f GiB (--memory-limit)",
                      total / 1073741824.0, (double)limit / 1073741824.0);
  else if (limit > 0)
    ia_log_info("fits within the limit of %.2f GiB per rank", (double)limit / 1073741824.0);
  return ia_agree(comm, st) == IA_OK ? 0 : 1;
}
