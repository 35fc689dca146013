#include <string.h>

#include "cli.h"
#include "infae/core/log.h"
#include "infae/core/opts.h"
#include "infae/core/paths.h"
#include "infae/data/generate.h"

int ia_cmd_generate(MPI_Comm comm, int argc, char **argv, const char *command) {
  (void)command;
  ia_generate_opts g;
  ia_generate_opts_default(&g);
  int64_t seed;
  int quiet, verbose;
  const ia_opt opts[] = {
      {"users", IA_OPT_INT64, "6000", "users to generate", &g.users},
      {"items", IA_OPT_INT64, "3700", "catalogue size", &g.items},
      {"mean-items", IA_OPT_REAL, "160", "mean interactions per user", &g.mean_items},
      {"seed", IA_OPT_INT64, "42", "random seed", &seed},
      {"clusters", IA_OPT_INT, "20", "latent taste clusters", &g.clusters},
      {"popularity-exponent", IA_OPT_REAL, "1.0", "Zipf exponent of item popularity",
       &g.popularity_exponent},
      {"format", IA_OPT_STRING, "movielens", "movielens | tsv | csv | netflix", &g.format},
      {"output", IA_OPT_STRING, NULL, "file to write", &g.output},
      {"quiet", IA_OPT_FLAG, NULL, "print errors only", &quiet},
      {"verbose", IA_OPT_FLAG, NULL, "print more detail", &verbose},
  };
  int n = (int)(sizeof opts / sizeof *opts);
  int rc = ia_cli_parse(comm,
                        "infae_mpi generate --users N --items M --mean-items K --seed S "
                        "--output F [options]",
                        "Writes synthetic implicit feedback: long-tailed item popularity and "
                        "user activity,\nlatent taste clusters. Same options, same bytes. Runs "
                        "on rank 0.",
                        opts, n, argc, argv);
  if (rc >= 0) return rc;
  g.seed = (uint64_t)seed;
  int rank;
  MPI_Comm_rank(comm, &rank);
  ia_status st = IA_OK;
  if (!g.output) st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "--output is required");
  ia_path out[] = {{"output", g.output}};
  if (ia_agree(comm, st) == IA_OK) st = ia_paths_check(comm, NULL, 0, out, 1);
  if (st == IA_OK && rank == 0) {
    int64_t written = 0;
    st = ia_generate(&g, &written);
  }
  st = ia_agree(comm, st);
  return st == IA_OK ? 0 : 1;
}
