#include <string.h>

#include "cli.h"
#include "infae/app/train.h"
#include "infae/core/log.h"
#include "infae/core/ntk.h"
#include "infae/core/opts.h"
#include "infae/dist/grid.h"
#include "infae/infae/plan.h"

/* Options shared by `train` and `plan`. */
ia_status ia_cli_precision(const char *text, ia_precision *p) {
  if (!strcmp(text, "fp64")) {
    *p = IA_FP64;
    return IA_OK;
  }
  if (!strcmp(text, "fp32")) {
    *p = IA_FP32;
    return IA_OK;
  }
  return ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "--precision must be fp64 or fp32 (got '%s')",
                      text);
}

/* Options given for another model than the one trained: said, then ignored. */
static void warn_unused(const char *model, int argc, char **argv) {
  static const char *const infae[] = {
      "precision",      "gpus",       "grid",         "block-size", "memory-limit",
      "kernel-samples", "eval-block", "cross-kernel", "depth",      NULL};
  static const char *const recoder[] = {"hidden",     "activation", "loss",   "dropout",
                                        "confidence", "lr",         "epochs", "batch",
                                        "eval-every", "patience",   NULL};
  int is_infae = !strcmp(model, "infae"), is_recoder = !strcmp(model, "recoder");
  if (!is_infae) ia_cli_warn_ignored(argc, argv, infae, "an ∞-AE option (--model infae)", model);
  if (!is_recoder)
    ia_cli_warn_ignored(argc, argv, recoder, "a Recoder option (--model recoder)", model);
  if (!is_infae && !is_recoder && ia_opts_given(argc, argv, "device"))
    ia_log_warn("--device chooses where ∞-AE and Recoder run: ignored for --model %s", model);
  if ((is_recoder || !strcmp(model, "pop")) && ia_opts_given(argc, argv, "lambdas"))
    ia_log_warn("--lambdas: --model %s has no λ (%s); ignored", model,
                is_recoder ? "it keeps the epoch with the best validation HR@100"
                           : "its scores are the item counts");
}

int ia_cmd_train(MPI_Comm comm, int argc, char **argv, const char *command) {
  const char *data, *model, *json, *out, *precision, *device, *grid, *memory, *ksamples, *train_on,
      *act, *loss, *cross;
  ia_reals lambdas, hidden;
  int quiet, verbose, block, epochs, eval_every, patience, gpus, binary, depth = 0;
  int64_t train_users, centers, seed, batch, eval_block;
  double dropout, confidence, lr;
  const ia_opt opts[] = {
      {"data", IA_OPT_STRING, NULL, "prepared dataset (from `infae_mpi prepare`)", &data},
      {"model", IA_OPT_STRING, "infae", "infae (∞-AE) | ease | recoder | pop", &model},
      {"lambdas", IA_OPT_REALS, NULL,
       "λ grid, picked by validation HR@100 [default: infae 0,1,5,20,50,100 (λ' = λ·tr(K)/U); "
       "ease 1,10,100,250,500,1000,2500]",
       &lambdas},
      {"precision", IA_OPT_STRING, "fp64", "∞-AE arithmetic: fp64 | fp32", &precision},
      {"depth", IA_OPT_INT, NULL,
       "∞-AE: hidden ReLU layers of the NTK (the paper: 1) [default: 1; with --train-on, the "
       "summary's]",
       &depth},
      {"device", IA_OPT_STRING, "auto",
       "∞-AE and Recoder: cpu | cuda (one GPU per rank) | auto (cuda when built with it and a GPU "
       "is "
       "visible)",
       &device},
      {"gpus", IA_OPT_INT, "0",
       "∞-AE on one rank: spread K over this many GPUs of the node, factored by cusolverMg "
       "(exact fit only; 0: one GPU). With --device cpu: K in that many host slices of the "
       "same layout (a check, no faster)",
       &gpus},
      {"grid", IA_OPT_STRING, "", "∞-AE process grid ROWSxCOLS [default: near-square]", &grid},
      {"block-size", IA_OPT_INT, "256", "∞-AE block-cyclic block size", &block},
      {"eval-block", IA_OPT_INT64, "0",
       "∞-AE: users per rank whose predictions are made at once in the evaluation (0: as many "
       "as 512 MiB per rank hold, or a rank's share of α when that is more)",
       &eval_block},
      {"train-users", IA_OPT_INT64, "0",
       "∞-AE: fit on a random sample of this many users (0: all); predictions cover every user",
       &train_users},
      {"centers", IA_OPT_INT64, "0",
       "∞-AE Nyström: fit every user through this many random users (landmarks; 0: exact)",
       &centers},
      {"cross-kernel", IA_OPT_STRING, "auto",
       "∞-AE with --train-users or --centers: keep NTK(C, X_fit) of every user for the λ grid "
       "(keep), or make it a block of users at a time for each use, again for each λ (stream: "
       "no users × fit users array); auto: keep when it fits --memory-limit",
       &cross},
      {"seed", IA_OPT_INT64, "42",
       "seed of the --train-users sample, the --centers, or Recoder's weights, order and dropout",
       &seed},
      {"hidden", IA_OPT_REALS, "200", "Recoder: hidden layer widths, e.g. 600,200", &hidden},
      {"activation", IA_OPT_STRING, "tanh", "Recoder: tanh | relu | sigmoid | identity", &act},
      {"loss", IA_OPT_STRING, "softmax",
       "Recoder: softmax (multinomial log-likelihood) | mse, over the batch's items", &loss},
      {"dropout", IA_OPT_REAL, "0.5", "Recoder: probability of dropping an input item", &dropout},
      {"confidence", IA_OPT_REAL, "0", "Recoder: positives weigh 1 + this in the loss",
       &confidence},
      {"lr", IA_OPT_REAL, "0.001", "Recoder: Adam learning rate", &lr},
      {"epochs", IA_OPT_INT, "50", "Recoder: passes over the users", &epochs},
      {"batch", IA_OPT_INT64, "256",
       "Recoder: users per step (over all ranks); their items are the step's sampled items",
       &batch},
      {"eval-every", IA_OPT_INT, "1", "Recoder: epochs between validations", &eval_every},
      {"patience", IA_OPT_INT, "10",
       "Recoder: stop after this many validations without a better HR@100", &patience},
      {"memory-limit", IA_OPT_STRING, "",
       "∞-AE: bytes per rank, e.g. 8G [default: the node's available memory / ranks on it]",
       &memory},
      {"kernel-samples", IA_OPT_STRING, NULL,
       "∞-AE: report K(u, v) for pairs U:V,U:V of original user ids (checks against a reference)",
       &ksamples},
      {"train-on", IA_OPT_STRING, NULL,
       "fit on the users of this summary (from `infae_mpi distill`) instead of the train split; "
       "evaluate on the real users [infae λ grid: 1e-5,1e-3,0.1,1,5,50]",
       &train_on},
      {"binary", IA_OPT_FLAG, NULL,
       "with --train-on: fit on the summary's binarized rows (/binary) instead of S", &binary},
      {"out", IA_OPT_STRING, NULL,
       "write the model (HDF5) for `infae_mpi recommend`: ∞-AE, EASE or Recoder, fit on the "
       "train split or on --train-on's summary",
       &out},
      {"metrics-json", IA_OPT_STRING, NULL, "write the metrics and timings as JSON", &json},
      {"quiet", IA_OPT_FLAG, NULL, "print errors only", &quiet},
      {"verbose", IA_OPT_FLAG, NULL, "print more detail", &verbose},
  };
  int n = (int)(sizeof opts / sizeof *opts);
  lambdas.n = 0;
  hidden.n = 0;
  int rc = ia_cli_parse(
      comm, "mpirun -np P infae_mpi train --data D.h5 [--model infae|ease|pop] [options]",
      "Fits the model on the train split, evaluates every λ on validation (context: train),\n"
      "picks the best by HR@100 and reports test metrics (context: train + validation).\n"
      "Recoder (a finite autoencoder with mini-batch negative sampling) trains by Adam and\n"
      "keeps the epoch with the best validation HR@100 instead.\n"
      "∞-AE runs on a BLACS grid of all ranks (ScaLAPACK's block-cyclic layout; the Cholesky\n"
      "factor, solves and products on each rank's CPU or GPU); one rank runs LAPACK, or\n"
      "cuBLAS/cuSOLVER on its GPU. See `infae_mpi plan` for memory and flops before a\n"
      "large run.",
      opts, n, argc, argv);
  if (rc >= 0) return rc;
  ia_train_opts to = {.data = data,
                      .model = model,
                      .lambdas = lambdas.n ? lambdas.v : NULL,
                      .n_lambdas = lambdas.n,
                      .metrics_json = json,
                      .out = out,
                      .command = command,
                      .block_size = block,
                      .eval_block = eval_block,
                      .gpus = gpus,
                      .train_users = train_users,
                      .centers = centers,
                      .depth = depth,
                      .seed = (uint64_t)seed,
                      .kernel_samples = ksamples,
                      .train_on = train_on,
                      .train_on_binary = binary};
  ia_recoder_opts *ro = &to.recoder;
  *ro = (ia_recoder_opts){.dropout = dropout,
                          .confidence = confidence,
                          .lr = lr,
                          .epochs = epochs,
                          .batch = batch,
                          .eval_every = eval_every,
                          .patience = patience};
  ia_status st = ia_recoder_set_hidden(hidden.v, hidden.n, ro);
  if (st == IA_OK) st = ia_act_parse(act, &ro->act);
  if (st == IA_OK) st = ia_loss_parse(loss, &ro->loss);
  if (st == IA_OK) st = ia_cli_precision(precision, &to.precision);
  if (st == IA_OK) st = ia_device_parse(device, &to.device);
  if (st == IA_OK) st = ia_grid_parse(grid, &to.nprow, &to.npcol);
  if (st == IA_OK && memory[0]) st = ia_parse_bytes("memory-limit", memory, &to.memory_limit);
  if (st == IA_OK) {
    if (!strcmp(cross, "keep"))
      to.cross_kernel = IA_CROSS_KEEP;
    else if (!strcmp(cross, "stream"))
      to.cross_kernel = IA_CROSS_STREAM;
    else if (strcmp(cross, "auto"))
      st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__,
                        "--cross-kernel must be auto, keep or stream (got '%s')", cross);
  }
  if (st == IA_OK && (block < 1 || train_users < 0 || centers < 0 || seed < 0 || eval_block < 0))
    st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__,
                      "--block-size must be ≥ 1, --train-users, --centers, --eval-block and --seed "
                      "≥ 0");
  for (int k = 0; st == IA_OK && k < lambdas.n; k++)
    if (lambdas.v[k] < 0)
      st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "--lambdas: every λ must be ≥ 0 (got %g)",
                        lambdas.v[k]);
  if (st == IA_OK && ia_opts_given(argc, argv, "depth") && (depth < 1 || depth > IA_NTK_MAX_DEPTH))
    st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "--depth must be between 1 and %d (got %d)",
                      IA_NTK_MAX_DEPTH, depth);
  if (st == IA_OK && (gpus < 0 || gpus > IA_MD_MAX))
    st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "--gpus must be between 0 and %d (got %d)",
                      IA_MD_MAX, gpus);
  if (st == IA_OK && binary && !train_on)
    st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "--binary needs --train-on (a summary)");
  if (ia_agree(comm, st) != IA_OK) return 2;
  warn_unused(model, argc, argv);
  ia_train_result r;
  st = ia_agree(comm, ia_train(comm, &to, &r));
  if (st == IA_OK) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    ia_train_print(&r);
    if (rank == 0 && json) {
      st = ia_train_write_json(&to, &r, json);
      if (st == IA_OK) ia_log_info("[train] wrote %s", json);
    }
    st = ia_agree(comm, st);
  }
  return st == IA_OK ? 0 : 1;
}
