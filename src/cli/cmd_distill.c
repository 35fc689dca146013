#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "infae/core/log.h"
#include "infae/core/opts.h"
#include "infae/core/paths.h"
#include "infae/distill/distill.h"
#include "infae/infae/plan.h"
#include "infae/io/provenance.h"

/* The models trained on the summary: k = 0, 1, 2 for ∞-AE, EASE and Recoder
 * on S, 3, 4, 5 on /binary; NULL for those not trained. */
static const char *const model_names[3] = {"∞-AE", "EASE", "Recoder"};
static const ia_train_result *summary_model(const ia_distill_result *r, int k) {
  const ia_train_result *m[6] = {&r->infae,        &r->ease,        &r->recoder,
                                 &r->binary_infae, &r->binary_ease, &r->binary_recoder};
  int has[3] = {1, r->has_ease, r->has_recoder};
  return has[k % 3] ? m[k] : NULL;
}

static cJSON *result_json(const ia_distill_opts *o, const ia_distill_result *r, int ranks) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "sampler", o->sampler);
  cJSON_AddNumberToObject(root, "budget", (double)r->mu);
  cJSON_AddNumberToObject(root, "items", (double)r->items);
  cJSON_AddNumberToObject(root, "users", (double)r->users);
  cJSON_AddNumberToObject(root, "steps_done", r->steps_done);
  cJSON_AddNumberToObject(root, "best_step", r->best_step);
  cJSON_AddStringToObject(root, "select_metric", o->select);
  cJSON_AddNumberToObject(root, "best_val", r->best_val);
  cJSON_AddNumberToObject(root, "best_val_HR@100", r->best_hr100);
  cJSON_AddNumberToObject(root, "best_lambda", r->best_lambda);
  cJSON_AddNumberToObject(root, "seconds", r->seconds);
  cJSON_AddNumberToObject(root, "steps_per_s", r->steps_per_s);
  cJSON_AddNumberToObject(root, "validation_seconds", r->validation_seconds);
  cJSON_AddNumberToObject(root, "validations", r->validations);
  cJSON *phases = cJSON_AddObjectToObject(root, "step_seconds");
  for (int k = 0; k < IA_DISTILL_PHASES; k++)
    cJSON_AddNumberToObject(phases, ia_distill_phase_names[k], r->step_seconds[k]);
  cJSON_AddNumberToObject(root, "allreduce_bytes_per_step", r->allreduce_bytes);
  cJSON_AddNumberToObject(root, "allgather_bytes_per_step", r->allgather_bytes);
  cJSON_AddNumberToObject(root, "peak_rss_bytes", r->peak_rss);
  if (r->device[0]) cJSON_AddStringToObject(root, "device", r->device);
  cJSON_AddBoolToObject(root, "interrupted", r->interrupted);
  ia_json_provenance(root, o->data, r->sha256, r->users, r->items, r->train_nnz, ranks, o->command);
  cJSON_AddStringToObject(root, "out", o->out);
  /* infae, ease, recoder, and the same on the binarized summary under "binary" */
  cJSON *binary = r->interrupted ? NULL : cJSON_AddObjectToObject(root, "binary");
  if (binary) cJSON_AddNumberToObject(binary, "items_per_row", r->binary_items);
  for (int k = 0; k < 6 && !r->interrupted; k++) {
    const ia_train_result *m = summary_model(r, k);
    if (!m) continue;
    cJSON *x = cJSON_AddObjectToObject(k < 3 ? root : binary, m->model);
    cJSON_AddNumberToObject(x, m->by_epoch ? "best_epoch" : "best_lambda", m->best_lambda);
    cJSON *t = cJSON_AddObjectToObject(x, "test");
    for (int q = 0; q < IA_N_METRICS; q++)
      cJSON_AddNumberToObject(t, ia_metric_names[q], m->test.v[q]);
  }
  return root;
}

/* --taus, --c-cards, --gammas: every value valid, checked before the first
 * configuration runs rather than when its turn comes (the search refuses
 * two configurations of one file). */
static int tau_ok(double v) { return v > 0 && isfinite(v); }
static int c_card_ok(double v) { return v >= 0 && isfinite(v); }
static int gamma_ok(double v) { return v >= 1 && v < (1 << 24) && v == floor(v); }
static ia_status check_grid(const char *opt, const ia_reals *r, int (*ok)(double),
                            const char *rule) {
  for (int k = 0; k < r->n; k++)
    IA_CHECK(ok(r->v[k]), IA_ERR_ARG, "--%s: every value must be %s (got %g)", opt, rule, r->v[k]);
  return IA_OK;
}

int ia_cmd_distill(MPI_Comm comm, int argc, char **argv, const char *command) {
  const char *data, *out, *sampler, *json, *ckpt, *device, *memory, *search_dir, *select,
      *binary_rule;
  ia_reals lambdas, ease_lambdas, taus, c_cards, gammas;
  int samples, steps, patience, every, resume, log_every, no_ease, recoder, recoder_epochs,
      search_groups, quiet, verbose, search, depth;
  int64_t budget, batch, seed;
  double tau, lr, c_card, threshold;
  const ia_opt opts[] = {
      {"data", IA_OPT_STRING, NULL, "prepared dataset (from `infae_mpi prepare`)", &data},
      {"out", IA_OPT_STRING, NULL, "summary file to write (HDF5; layout in README.md)", &out},
      {"budget", IA_OPT_INT64, "500", "μ: users in the summary", &budget},
      {"sampler", IA_OPT_STRING, "distill",
       "distill (Distill-CF) | random (random users) | head (most active users) | "
       "interactions (random interactions, budget · interactions per user of them)",
       &sampler},
      {"samples", IA_OPT_INT, "200", "γ: Gumbel samples per step", &samples},
      {"tau", IA_OPT_REAL, "10", "τ: Gumbel-softmax temperature", &tau},
      {"lr", IA_OPT_REAL, "0.04", "Adam learning rate", &lr},
      {"c-card", IA_OPT_REAL, "1e-3", "weight of the cardinality term", &c_card},
      {"depth", IA_OPT_INT, "1",
       "hidden ReLU layers of the NTK of the inner ∞-AE and of the summary's (the paper: 1)",
       &depth},
      {"steps", IA_OPT_INT, "500", "Adam steps", &steps},
      {"patience", IA_OPT_INT, "150",
       "stop after this many steps without a better validation metric (--select)", &patience},
      {"select", IA_OPT_STRING, "HR@100",
       "validation metric of Distill-CF's choices: λ at each validation, the sample kept, "
       "--patience and --search's configuration: HR@100 (the reference's) | NDCG@10. The "
       "models trained on the summary pick λ by HR@100, as on all users",
       &select},
      {"batch", IA_OPT_INT64, "0", "real users per step, drawn per step (0: all users)", &batch},
      {"seed", IA_OPT_INT64, "42", "seed of the initial users, the Gumbel noise and the batches",
       &seed},
      {"lambdas", IA_OPT_REALS, NULL,
       "λ grid (λ' = λ·tr(K)/μ), re-picked by validation (--select) at steps 0 (the initial rows), "
       "25, 50, …, 200, every 40 after and at the end [default: 1e-5,1e-3,0.1,1,5,50]",
       &lambdas},
      {"no-ease", IA_OPT_FLAG, NULL, "do not evaluate EASE trained on the summary", &no_ease},
      {"recoder", IA_OPT_FLAG, NULL,
       "also train and evaluate Recoder (`train --model recoder`'s defaults but the epochs) on "
       "the summary and /binary",
       &recoder},
      {"recoder-epochs", IA_OPT_INT, "200",
       "--recoder: epochs (of μ users each), validated every epochs/50, the best kept",
       &recoder_epochs},
      {"memory-limit", IA_OPT_STRING, "",
       "bytes per rank, e.g. 8G [default: the node's available memory / ranks]; EASE on the "
       "summary (4·μ·d doubles per rank) is skipped when it does not fit",
       &memory},
      {"ease-lambdas", IA_OPT_REALS, NULL,
       "EASE λ grid on the summary [default: 1,10,100,250,500,1000,2500]", &ease_lambdas},
      {"binary-rule", IA_OPT_STRING, "validated",
       "the binarized summary (/binary), each synthetic user's items of highest logit: "
       "validated (as many as the candidate whose ∞-AE scores best on validation, --select: "
       "the same number for every row, on a √2 ladder from half the real users' items to half "
       "the items, or each row's expected items) | expected (each row's expected number of "
       "distinct items in its γ draws) | threshold (S ≥ --threshold)",
       &binary_rule},
      {"threshold", IA_OPT_REAL, NULL,
       "/binary: entries of S ≥ this become 1 (the rule threshold; 0.5 when not given)",
       &threshold},
      {"checkpoint", IA_OPT_STRING, NULL, "checkpoint file [default: OUT.ckpt.h5]", &ckpt},
      {"checkpoint-every", IA_OPT_INT, "50", "steps between checkpoints (0: only on a signal)",
       &every},
      {"resume", IA_OPT_FLAG, NULL, "continue from the checkpoint (same options)", &resume},
      {"device", IA_OPT_STRING, "auto",
       "Distill-CF's step: cpu | cuda (one GPU per rank) | auto (cuda when built with it and a "
       "GPU is visible)",
       &device},
      {"search", IA_OPT_FLAG, NULL,
       "one run per configuration of --taus × --c-cards × --gammas (the other options as "
       "given), the summary with the best validation metric (--select) written to --out; each in "
       "--search-dir with search.csv; the same command resumes a search",
       &search},
      {"taus", IA_OPT_REALS, NULL, "--search: τ values [default: 0.3,0.5,0.7,5]", &taus},
      {"c-cards", IA_OPT_REALS, NULL, "--search: c_card values [default: 1e-3,10]", &c_cards},
      {"gammas", IA_OPT_REALS, NULL, "--search: γ values [default: 200,500,700]", &gammas},
      {"search-dir", IA_OPT_STRING, "", "--search: its folder [default: OUT.search]", &search_dir},
      {"search-groups", IA_OPT_INT, "1",
       "--search: run configurations side by side on this many groups of ranks (each group "
       "splits its users over fewer ranks; faster when the data is small for the ranks)",
       &search_groups},
      {"log-every", IA_OPT_INT, "10", "steps between progress lines", &log_every},
      {"metrics-json", IA_OPT_STRING, NULL, "write the result and metrics as JSON", &json},
      {"quiet", IA_OPT_FLAG, NULL, "print errors only", &quiet},
      {"verbose", IA_OPT_FLAG, NULL, "print more detail", &verbose},
  };
  int n = (int)(sizeof opts / sizeof *opts);
  lambdas.n = ease_lambdas.n = taus.n = c_cards.n = gammas.n = 0;
  threshold = 0; /* not given: 0.5 with --binary-rule threshold */
  int rc = ia_cli_parse(
      comm, "mpirun -np P infae_mpi distill --data D.h5 --out S.h5 [--budget 500] [options]",
      "Learns a summary of the dataset: μ synthetic users S (values in [0, 1]) such that\n"
      "∞-AE trained on S predicts the real users' train rows (Distill-CF). Real users are\n"
      "split over the ranks; the sample and the inner model are replicated. The summary's\n"
      "∞-AE (and EASE) metrics on the real test split are computed and stored in S.h5.\n"
      "SIGTERM or SIGUSR1 writes the checkpoint and exits with status 3; --resume continues\n"
      "to the same result.",
      opts, n, argc, argv);
  if (rc >= 0) return rc;
  ia_distill_opts o = {.data = data,
                       .out = out,
                       .sampler = sampler,
                       .budget = budget,
                       .samples = samples,
                       .tau = tau,
                       .lr = lr,
                       .c_card = c_card,
                       .depth = depth,
                       .steps = steps,
                       .patience = patience,
                       .select = select,
                       .batch = batch,
                       .seed = (uint64_t)seed,
                       .lambdas = lambdas.n ? lambdas.v : NULL,
                       .n_lambdas = lambdas.n,
                       .ease = !no_ease,
                       .recoder = recoder,
                       .recoder_epochs = recoder_epochs,
                       .ease_lambdas = ease_lambdas.n ? ease_lambdas.v : NULL,
                       .n_ease = ease_lambdas.n,
                       .threshold = threshold,
                       .checkpoint = ckpt,
                       .checkpoint_every = every,
                       .resume = resume,
                       .log_every = log_every,
                       .command = command,
                       .metrics_json = json};
  ia_status dst = ia_agree(comm, ia_device_parse(device, &o.device));
  if (dst != IA_OK) return 2;
  ia_status ost =
      seed < 0 ? ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "--seed must be ≥ 0") : IA_OK;
  if (ost == IA_OK && memory[0]) ost = ia_parse_bytes("memory-limit", memory, &o.memory_limit);
  int metric = IA_HR100;
  if (ost == IA_OK) ost = ia_select_metric(select, &metric);
  o.select = ia_metric_names[metric]; /* as the files name it */
  if (ost == IA_OK && recoder_epochs < 1)
    ost = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "--recoder-epochs must be ≥ 1 (got %d)",
                       recoder_epochs);
  int has_threshold = ia_opts_given(argc, argv, "threshold");
  if (ost == IA_OK) ost = ia_binary_rule_parse(binary_rule, &o.binary_rule);
  if (ost == IA_OK && has_threshold && ia_opts_given(argc, argv, "binary-rule") &&
      o.binary_rule != IA_BINARY_THRESHOLD)
    ost = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__,
                       "--threshold goes with --binary-rule threshold (got --binary-rule %s)",
                       binary_rule);
  if (has_threshold) o.binary_rule = IA_BINARY_THRESHOLD; /* --threshold alone says the rule */
  if (ost == IA_OK && strcmp(sampler, "distill") && o.binary_rule != IA_BINARY_THRESHOLD &&
      ia_opts_given(argc, argv, "binary-rule"))
    ia_log_warn(
        "--binary-rule %s needs logits (--sampler distill): the %s sampler's /binary "
        "keeps S's ones",
        binary_rule, sampler);
  if (ost == IA_OK && has_threshold && !(threshold > 0 && threshold <= 1))
    ost = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "--threshold must be in (0, 1] (got %g)",
                       threshold);
  for (int k = 0; ost == IA_OK && k < lambdas.n; k++)
    if (lambdas.v[k] < 0)
      ost = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "--lambdas: every λ must be ≥ 0 (got %g)",
                         lambdas.v[k]);
  for (int k = 0; ost == IA_OK && k < ease_lambdas.n; k++)
    if (ease_lambdas.v[k] < 0)
      ost = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__,
                         "--ease-lambdas: every λ must be ≥ 0 (got %g)", ease_lambdas.v[k]);
  if (ost == IA_OK && !search &&
      (taus.n || c_cards.n || gammas.n || search_dir[0] ||
       ia_opts_given(argc, argv, "search-groups")))
    ost = ia_error_set(
        IA_ERR_ARG, __FILE__, __LINE__,
        "--taus, --c-cards, --gammas, --search-dir and --search-groups go with --search");
  if (ost == IA_OK && search && (o.resume || json || ckpt))
    ost = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__,
                       "--search resumes by itself and writes search.csv: no --resume, "
                       "--checkpoint or --metrics-json");
  if (ost == IA_OK) ost = check_grid("taus", &taus, tau_ok, "> 0");
  if (ost == IA_OK) ost = check_grid("c-cards", &c_cards, c_card_ok, "≥ 0");
  if (ost == IA_OK) ost = check_grid("gammas", &gammas, gamma_ok, "a whole number in [1, 2^24)");
  if (ia_agree(comm, ost) != IA_OK) return 2;
  ia_distill_result *r = calloc(1, sizeof *r);
  ia_status st = r ? IA_OK : ia_error_set(IA_ERR_NOMEM, __FILE__, __LINE__, "out of memory");
  st = ia_agree(comm, st);
  if (st == IA_OK && search) {
    ia_search_grid g = {taus.n ? taus.v : ia_search_taus,
                        c_cards.n ? c_cards.v : ia_search_c_cards,
                        gammas.n ? gammas.v : ia_search_gammas,
                        taus.n ? taus.n : 4,
                        c_cards.n ? c_cards.n : 2,
                        gammas.n ? gammas.n : 3,
                        search_groups};
    char dir[4096];
    snprintf(dir, sizeof dir, "%s%s", search_dir[0] ? search_dir : out,
             search_dir[0] ? "" : ".search");
    st = ia_agree(comm, ia_distill_search(comm, &o, &g, dir, r));
    int interrupted = r->interrupted;
    free(r);
    return st != IA_OK ? 1 : interrupted ? 3 : 0;
  }
  if (st == IA_OK) st = ia_distill(comm, &o, r);
  int rank;
  MPI_Comm_rank(comm, &rank);
  for (int k = 0; k < 6 && st == IA_OK && !r->interrupted; k++) {
    const ia_train_result *m = summary_model(r, k);
    if (m)
      ia_log_info("[distill] %s: %s test HR@10 %.3f NDCG@10 %.3f (%s %g)",
                  k < 3 ? "summary" : "binarized summary", model_names[k % 3], m->test.v[IA_HR10],
                  m->test.v[IA_NDCG10], m->by_epoch ? "epoch" : "λ", m->best_lambda);
  }
  if (st == IA_OK)
    ia_log_info("[distill] peak RSS %.1f MiB (largest rank)", r->peak_rss / 1048576.0);
  if (st == IA_OK && json && rank == 0) {
    int ranks;
    MPI_Comm_size(comm, &ranks);
    cJSON *root = result_json(&o, r, ranks);
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    char tmp[4096];
    st = ia_tmp_name(json, 0, tmp, sizeof tmp);
    FILE *f = text && st == IA_OK ? fopen(tmp, "w") : NULL;
    int ok = f && fputs(text, f) >= 0;
    ok = f && fclose(f) == 0 && ok;
    if (!ok && st == IA_OK)
      st = ia_error_set(IA_ERR_IO, __FILE__, __LINE__, "cannot write %s", json);
    st = ia_tmp_commit(tmp, json, st);
    free(text);
  }
  st = ia_agree(comm, st);
  int interrupted = r && r->interrupted;
  free(r);
  return st != IA_OK ? 1 : interrupted ? 3 : 0;
}
