#include <string.h>

#include "cli.h"
#include "infae/log.h"
#include "infae/opts.h"
#include "infae/train.h"

int ia_cmd_train(MPI_Comm comm, int argc, char **argv, const char *command) {
  const char *data, *model, *json;
  ia_reals lambdas;
  int quiet, verbose;
  const ia_opt opts[] = {
      {"data", IA_OPT_STRING, NULL, "prepared dataset (from `infae_mpi prepare`)", &data},
      {"model", IA_OPT_STRING, "ease", "pop | ease", &model},
      {"lambdas", IA_OPT_REALS, NULL,
       "λ grid, picked by validation HR@100 [default: ease 1,10,100,250,500,1000,2500]",
       &lambdas},
      {"metrics-json", IA_OPT_STRING, NULL, "write the metrics and timings as JSON", &json},
      {"quiet", IA_OPT_FLAG, NULL, "print errors only", &quiet},
      {"verbose", IA_OPT_FLAG, NULL, "print more detail", &verbose},
  };
  int n = (int)(sizeof opts / sizeof *opts);
  lambdas.n = 0;
  int rc = ia_cli_parse(comm, "infae_mpi train --data D.h5 [--model pop|ease] [options]",
                        "Fits the model on the train split, evaluates every λ on validation "
                        "(context: train),\npicks the best by HR@100 and reports test metrics "
                        "(context: train + validation).\nUsers are spread over the ranks.",
                        opts, n, argc, argv);
  if (rc >= 0) return rc;
  ia_train_opts to = {.data = data,
                      .model = model,
                      .lambdas = lambdas.n ? lambdas.v : NULL,
                      .n_lambdas = lambdas.n,
                      .metrics_json = json,
                      .command = command};
  ia_train_result r;
  ia_status st = ia_agree(comm, ia_train(comm, &to, &r));
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
