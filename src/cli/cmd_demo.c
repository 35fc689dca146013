#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "infae/app/train.h"
#include "infae/config.h"
#include "infae/core/log.h"
#include "infae/core/opts.h"
#include "infae/data/prepare.h"
#include "infae/io/dataset.h"

int ia_cmd_demo(MPI_Comm comm, int argc, char **argv, const char *command) {
  const char *input, *outdir;
  int quiet, verbose;
  const ia_opt opts[] = {
      {"input", IA_OPT_STRING, IA_DEFAULT_DATASET,
       "MovieLens-format ratings (user::item::rating::ts)", &input},
      {"outdir", IA_OPT_STRING, "infae_demo", "directory for the dataset and metrics files",
       &outdir},
      {"quiet", IA_OPT_FLAG, NULL, "print errors only", &quiet},
      {"verbose", IA_OPT_FLAG, NULL, "print more detail", &verbose},
  };
  int n = (int)(sizeof opts / sizeof *opts);
  int rc =
      ia_cli_parse(comm, "infae_mpi [demo] [--input FILE] [--outdir DIR]",
                   "The whole pipeline on the embedded MovieTweetings snapshot (MIT, see "
                   "datasets/):\nprepare -> train ∞-AE (model.h5) -> EASE -> PopRec, metrics as "
                   "tables and JSON in --outdir.",
                   opts, n, argc, argv);
  if (rc >= 0) return rc;
  int rank;
  MPI_Comm_rank(comm, &rank);
  char data[4096], json[4096];
  snprintf(data, sizeof data, "%s/dataset.h5", outdir);
  ia_status st = IA_OK;
  if (rank == 0) {
    if (mkdir(outdir, 0777) != 0 && errno != EEXIST)
      st = ia_error_set(IA_ERR_IO, __FILE__, __LINE__, "cannot create %s: %s", outdir,
                        strerror(errno));
    if (st == IA_OK) {
      const char *inputs[1] = {input};
      ia_prepare_opts po = {.format = "movielens",
                            .inputs = inputs,
                            .n_inputs = 1,
                            .user_col = 1,
                            .item_col = 2,
                            .seed = 42,
                            .min_user_interactions = 3,
                            .n_negatives = 50,
                            .command = command};
      ia_dataset d;
      st = ia_prepare(&po, &d);
      if (st == IA_OK) {
        st = ia_dataset_write(&d, data);
        ia_dataset_free(&d);
      }
    }
  }
  if (ia_agree(comm, st) != IA_OK) return 1;
  const char *models[3] = {"infae", "ease", "pop"};
  char model_file[4096];
  snprintf(model_file, sizeof model_file, "%s/model.h5", outdir);
  for (int m = 0; m < 3; m++) {
    snprintf(json, sizeof json, "%s/metrics_%s.json", outdir, models[m]);
    ia_train_opts to = {.data = data,
                        .model = models[m],
                        .metrics_json = json,
                        .out = m == 0 ? model_file : NULL,
                        .command = command,
                        .block_size = 256};
    ia_train_result r;
    st = ia_agree(comm, ia_train(comm, &to, &r));
    if (st != IA_OK) return 1;
    ia_train_print(&r);
    if (rank == 0) st = ia_train_write_json(&to, &r, json);
    if (ia_agree(comm, st) != IA_OK) return 1;
    ia_log_info("[demo] wrote %s\n", json);
  }
  return 0;
}
