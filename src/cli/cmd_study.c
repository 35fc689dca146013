#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "infae/app/study.h"
#include "infae/core/opts.h"

/* Splits a comma list into at most IA_STUDY_MAX words of buf. */
static ia_status words(const char *opt, const char *text, char *buf, size_t len, const char **out,
                       int *n) {
  snprintf(buf, len, "%s", text);
  *n = 0;
  char *save = NULL;
  for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
    IA_CHECK(*n < IA_STUDY_MAX, IA_ERR_ARG, "--%s takes at most %d values", opt, IA_STUDY_MAX);
    out[(*n)++] = w;
  }
  return IA_OK;
}

int ia_cmd_study(MPI_Comm comm, int argc, char **argv, const char *command) {
  const char *data, *dir, *samplers, *models;
  ia_reals budgets, noise;
  int steps, samples, patience, log_every, epochs, no_plot, quiet, verbose;
  int64_t noise_budget, batch, seed;
  double tau, lr, c_card;
  const ia_opt opts[] = {
      {"data", IA_OPT_STRING, NULL, "prepared dataset (from `infae_mpi prepare`)", &data},
      {"out-dir", IA_OPT_STRING, NULL,
       "directory for the summaries, noisy datasets, study.csv, study.gp and the PNG plots "
       "(summaries already there are reused)",
       &dir},
      {"samplers", IA_OPT_STRING, "random,head,interactions,distill",
       "random (users) | head (most active users) | interactions (random interactions) | "
       "distill (Distill-CF)",
       &samplers},
      {"budgets", IA_OPT_REALS, "50,100,200,500,1000",
       "budgets in users (interactions: that many users' worth); those above the users of "
       "the data are skipped",
       &budgets},
      {"models", IA_OPT_STRING, "infae,ease", "trained on each summary: infae | ease | recoder",
       &models},
      {"noise", IA_OPT_REALS, "0",
       "noise study: percentages of the items flipped in every train row, e.g. 0,1,2,5", &noise},
      {"noise-budget", IA_OPT_INT64, "500",
       "the budget of the noise study (capped at the users of the data)", &noise_budget},
      {"seed", IA_OPT_INT64, "42", "seed of the samplers, the noise and the models", &seed},
      {"steps", IA_OPT_INT, "500", "Distill-CF: Adam steps", &steps},
      {"samples", IA_OPT_INT, "200", "Distill-CF: γ Gumbel samples per step", &samples},
      {"tau", IA_OPT_REAL, "10", "Distill-CF: τ", &tau},
      {"lr", IA_OPT_REAL, "0.04", "Distill-CF: Adam learning rate", &lr},
      {"c-card", IA_OPT_REAL, "1e-3", "Distill-CF: cardinality weight", &c_card},
      {"batch", IA_OPT_INT64, "0", "Distill-CF: real users per step (0: all)", &batch},
      {"patience", IA_OPT_INT, "150", "Distill-CF: steps without a better validation HR@100",
       &patience},
      {"log-every", IA_OPT_INT, "50", "Distill-CF: steps between progress lines", &log_every},
      {"recoder-epochs", IA_OPT_INT, "50",
       "Recoder: epochs, validated at most 50 times (its other settings are `train --model "
       "recoder`'s defaults)",
       &epochs},
      {"no-plot", IA_OPT_FLAG, NULL, "write study.gp but do not run gnuplot", &no_plot},
      {"quiet", IA_OPT_FLAG, NULL, "print errors only", &quiet},
      {"verbose", IA_OPT_FLAG, NULL, "print more detail", &verbose},
  };
  int n = (int)(sizeof opts / sizeof *opts);
  budgets.n = noise.n = 0;
  int rc = ia_cli_parse(
      comm, "mpirun -np P infae_mpi study --data D.h5 --out-dir DIR [options]",
      "The sampling study: every sampler makes a summary at every budget; ∞-AE, EASE\n"
      "(and Recoder) trained on each summary are evaluated on the real users' test split.\n"
      "With --noise, the samplers also run at --noise-budget on copies of the data with\n"
      "that percentage of the items flipped in every train row (validation and test stay\n"
      "clean). Writes DIR/study.csv, DIR/study.gp and, with gnuplot on PATH,\n"
      "DIR/sampling_MODEL.png (HR@10, NDCG@10, PSP@10 against the budget) and\n"
      "DIR/noise_MODEL.png (against the noise).",
      opts, n, argc, argv);
  if (rc >= 0) return rc;
  ia_study_opts o = {.data = data,
                     .out_dir = dir,
                     .noise_budget = noise_budget,
                     .seed = (uint64_t)seed,
                     .plot = !no_plot,
                     .command = command};
  char sbuf[512], mbuf[512];
  ia_status st = words("samplers", samplers, sbuf, sizeof sbuf, o.samplers, &o.n_samplers);
  if (st == IA_OK) st = words("models", models, mbuf, sizeof mbuf, o.models, &o.n_models);
  if (st == IA_OK && (budgets.n > IA_STUDY_MAX || noise.n > IA_STUDY_MAX))
    st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__,
                      "--budgets and --noise take at most %d values", IA_STUDY_MAX);
  for (int i = 0; st == IA_OK && i < budgets.n; i++) {
    if (budgets.v[i] < 1 || budgets.v[i] != (double)(int64_t)budgets.v[i])
      st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__,
                        "--budgets must be whole numbers ≥ 1 (got %g)", budgets.v[i]);
    o.budgets[o.n_budgets++] = (int64_t)budgets.v[i];
  }
  for (int i = 0; st == IA_OK && i < noise.n; i++) o.noise[o.n_noise++] = noise.v[i];
  ia_recoder_defaults(&o.recoder);
  o.recoder.epochs = epochs;
  o.recoder.eval_every = (epochs + 49) / 50; /* at most 50 validations */
  o.distill = (ia_distill_opts){.samples = samples,
                                .tau = tau,
                                .lr = lr,
                                .c_card = c_card,
                                .steps = steps,
                                .patience = patience,
                                .batch = batch,
                                .threshold = 0.5,
                                .log_every = log_every};
  if (ia_agree(comm, st) != IA_OK) return 2;
  st = ia_agree(comm, ia_study(comm, &o));
  return st == IA_OK ? 0 : 1;
}
