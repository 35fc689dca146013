#include "cli.h"
#include "infae/dataset.h"
#include "infae/grid.h"
#include "infae/log.h"
#include "infae/opts.h"
#include "infae/plan.h"

int ia_cmd_plan(MPI_Comm comm, int argc, char **argv, const char *command) {
  (void)command;
  const char *data, *precision, *grid, *memory;
  int np, block, lambdas, quiet, verbose, gpus;
  int64_t train_users, centers;
  double rate;
  const ia_opt opts[] = {
      {"data", IA_OPT_STRING, NULL, "prepared dataset (only its sizes are read)", &data},
      {"np", IA_OPT_INT, "0", "ranks to plan for (0: the ranks of this run)", &np},
      {"precision", IA_OPT_STRING, "fp64", "fp64 | fp32", &precision},
      {"grid", IA_OPT_STRING, "", "process grid ROWSxCOLS [default: near-square]", &grid},
      {"block-size", IA_OPT_INT, "256", "block-cyclic block size", &block},
      {"lambdas", IA_OPT_INT, "6", "number of λ factorized (the default grid has 6)", &lambdas},
      {"train-users", IA_OPT_INT64, "0", "fit on a sample of this many users (0: all)",
       &train_users},
      {"centers", IA_OPT_INT64, "0", "Nyström: fit every user through this many centers",
       &centers},
      {"gpus", IA_OPT_INT, "0",
       "also plan one rank with K over this many GPUs (train --gpus): bytes per GPU",
       &gpus},
      {"gflops", IA_OPT_REAL, "0",
       "sustained GFLOP/s per rank for the time estimate [default: 40 fp64, 80 fp32: one core "
       "of a 2020s x86 server]",
       &rate},
      {"memory-limit", IA_OPT_STRING, "", "bytes per rank to check against, e.g. 8G", &memory},
      {"quiet", IA_OPT_FLAG, NULL, "print errors only", &quiet},
      {"verbose", IA_OPT_FLAG, NULL, "print more detail", &verbose},
  };
  int n = (int)(sizeof opts / sizeof *opts);
  int rc = ia_cli_parse(comm, "infae_mpi plan --data D.h5 --np P [options]",
                        "Prints the memory per rank and the flops of ∞-AE training for P ranks,\n"
                        "and the flop-bound time at a per-rank rate. Allocates nothing.",
                        opts, n, argc, argv);
  if (rc >= 0) return rc;
  ia_precision p = IA_FP64;
  int nprow = 0, npcol = 0, size;
  int64_t limit = 0, users = 0, items = 0;
  MPI_Comm_size(comm, &size);
  if (np <= 0) np = size;
  ia_status st = ia_cli_precision(precision, &p);
  if (st == IA_OK) st = ia_grid_parse(grid, &nprow, &npcol);
  if (st == IA_OK && memory[0]) st = ia_parse_bytes("memory-limit", memory, &limit);
  if (st == IA_OK && (block < 1 || lambdas < 1 || train_users < 0 || centers < 0 || rate < 0))
    st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__,
                      "--block-size and --lambdas must be ≥ 1, --train-users, --centers and "
                      "--gflops ≥ 0");
  if (st == IA_OK && (gpus < 0 || gpus > IA_MD_MAX))
    st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "--gpus must be between 0 and %d",
                      IA_MD_MAX);
  if (st == IA_OK && gpus > 0 && (centers > 0 || train_users > 0))
    st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__,
                      "--gpus plans the exact fit: no --train-users or --centers");
  if (st == IA_OK && centers > 0 && train_users > 0)
    st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__,
                      "--centers and --train-users exclude each other");
  if (st == IA_OK && nprow > 0 && nprow * npcol != np)
    st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "--grid %dx%d needs --np %d", nprow, npcol,
                      nprow * npcol);
  if (st == IA_OK && !data)
    st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "--data is required");
  if (ia_agree(comm, st) != IA_OK) return 2;
  ia_dataset d = {0};
  st = ia_dataset_read(comm, data, 0, 0, 0, &d); /* sizes and counts, no rows */
  if (st != IA_OK) return 1;
  users = d.n_users;
  items = d.n_items;
  int64_t u = train_users > 0 && train_users < users ? train_users : users;
  if (centers > 0) u = centers < users ? centers : users;
  ia_infae_plan plan;
  ia_infae_plan_make(users, items, u, d.train_nnz, np, nprow, npcol, block, p, lambdas > 1,
                     centers > 0, 0, &plan);
  if (gpus > 0) {
    double dev = 0, first = 0;
    ia_infae_md_bytes(users, items, block, p, gpus, &dev, &first);
    double host = (p == IA_FP64 ? 8.0 : 4.0) * 2.0 * (double)users * (double)items;
    ia_log_info("one rank, K over %d GPUs (train --gpus %d): %.2f GiB on each GPU, %.2f GiB on "
                "the first (and the evaluation's blocks); %.2f GiB of host memory for α and "
                "the kept α",
                gpus, gpus, dev / 1073741824.0, first / 1073741824.0, host / 1073741824.0);
  }
  ia_dataset_free(&d);
  if (rate <= 0) rate = p == IA_FP64 ? 40.0 : 80.0;
  ia_plan_print(&plan, users, items, u, np, p, lambdas, rate);
  if (limit > 0 && plan.bytes_total > (double)limit)
    st = ia_error_set(IA_ERR_NOMEM, __FILE__, __LINE__,
                      "%.2f GiB per rank EXCEEDS the limit of %.2f GiB (--memory-limit)",
                      plan.bytes_total / 1073741824.0, (double)limit / 1073741824.0);
  else if (limit > 0)
    ia_log_info("fits within the limit of %.2f GiB per rank", (double)limit / 1073741824.0);
  return ia_agree(comm, st) == IA_OK ? 0 : 1;
}
