#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "infae/core/log.h"
#include "infae/core/opts.h"
#include "infae/core/paths.h"
#include "infae/data/prepare.h"

int ia_cmd_prepare(MPI_Comm comm, int argc, char **argv, const char *command) {
  const char *format, *output, *negatives, *sep;
  ia_strings inputs;
  int64_t seed;
  int user_col, item_col, header, ragged, no_count, user_first, min_user, n_neg, quiet, verbose;
  const ia_opt opts[] = {
      {"format", IA_OPT_STRING, NULL, "movielens | tsv | csv | netflix | split-tsv | adjacency",
       &format},
      {"input", IA_OPT_STRINGS, NULL,
       "input file (netflix: a directory of mv_*.txt or combined_data_*.txt is read in name order)",
       &inputs},
      {"output", IA_OPT_STRING, NULL, "prepared dataset to write (HDF5)", &output},
      {"seed", IA_OPT_INT64, "42", "seed of the split and the negatives", &seed},
      {"sep", IA_OPT_STRING, NULL,
       "tsv/csv separator: space (blank runs), tab or a string "
       "[default: space for tsv, ',' for csv]",
       &sep},
      {"user-col", IA_OPT_INT, "1", "1-based column of the user id (tsv/csv)", &user_col},
      {"item-col", IA_OPT_INT, "2", "1-based column of the item id (tsv/csv)", &item_col},
      {"header", IA_OPT_FLAG, NULL,
       "skip the first line of every input file (without it, a first line that looks like a "
       "header is refused)",
       &header},
      {"ragged", IA_OPT_FLAG, NULL,
       "tsv/csv: accept lines whose field count differs from the first line's", &ragged},
      {"no-count", IA_OPT_FLAG, NULL, "adjacency: lines hold no count before the item ids",
       &no_count},
      {"user-first", IA_OPT_FLAG, NULL,
       "adjacency: the first field is the user id (else the user is the 0-based line number)",
       &user_first},
      {"negatives", IA_OPT_STRING, NULL, "split-tsv: `user item` file of AUC negatives",
       &negatives},
      {"min-user-interactions", IA_OPT_INT, "3", "drop users with fewer interactions", &min_user},
      {"negatives-per-user", IA_OPT_INT, "50", "AUC negatives drawn per user", &n_neg},
      {"quiet", IA_OPT_FLAG, NULL, "print errors only", &quiet},
      {"verbose", IA_OPT_FLAG, NULL, "print more detail", &verbose},
  };
  int n = (int)(sizeof opts / sizeof *opts);
  int rc = ia_cli_parse(comm,
                        "infae_mpi prepare --format FMT --input FILE [--input FILE ...] "
                        "--output D.h5 [options]",
                        "Reads raw interactions, applies the reference protocol (every rating is "
                        "an interaction,\nduplicates count once, users with < 3 interactions are "
                        "dropped, 80/10/10 per-user split\nwith a forced test item, 50 AUC "
                        "negatives per user) and writes one HDF5 dataset.\n"
                        "split-tsv imports `user item split` lines (0 train, 1 val, 2 test) "
                        "exactly as given;\nAUC negatives are drawn unless --negatives gives "
                        "them. adjacency reads `count item item ...`\nlines (CiteULike "
                        "users.dat): line u, from 0, is user u.\nRuns on rank 0; other ranks "
                        "wait.",
                        opts, n, argc, argv);
  if (rc >= 0) return rc;
  ia_status st = IA_OK;
  int rank;
  MPI_Comm_rank(comm, &rank);
  if (!output) st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "--output is required");
  if (st == IA_OK && seed < 0)
    st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "--seed must be ≥ 0 (got %lld)",
                      (long long)seed);
  ia_path *in = NULL, out[] = {{"output", output}};
  if (st == IA_OK) st = IA_ALLOC(in, inputs.n + 1, "input paths");
  if (ia_agree(comm, st) == IA_OK) {
    in[0] = (ia_path){"negatives", negatives};
    for (int k = 0; k < inputs.n; k++) in[k + 1] = (ia_path){"input", inputs.v[k]};
    st = ia_paths_check(comm, in, inputs.n + 1, out, 1);
  }
  free(in);
  if (st == IA_OK && rank == 0) {
    ia_prepare_opts po = {.format = format,
                          .inputs = inputs.v,
                          .n_inputs = inputs.n,
                          .negatives = negatives,
                          .sep = sep,
                          .user_col = user_col,
                          .item_col = item_col,
                          .header = header,
                          .ragged = ragged,
                          .no_count = no_count,
                          .user_first = user_first,
                          .seed = (uint64_t)seed,
                          .min_user_interactions = min_user,
                          .n_negatives = n_neg,
                          .command = command};
    ia_dataset d;
    st = ia_prepare(&po, &d);
    if (st == IA_OK) {
      st = ia_dataset_write(&d, output);
      if (st == IA_OK) ia_log_info("[prepare] wrote %s", output);
      ia_dataset_free(&d);
    }
  }
  st = ia_agree(comm, st);
  ia_opts_free(opts, n);
  return st == IA_OK ? 0 : 1;
}
