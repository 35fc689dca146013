#include "cli.h"
#include "infae/log.h"
#include "infae/model_file.h"
#include "infae/opts.h"

int ia_cmd_recommend(MPI_Comm comm, int argc, char **argv, const char *command) {
  (void)command;
  const char *model, *input, *output;
  int k, keep, batch, quiet, verbose;
  const ia_opt opts[] = {
      {"model", IA_OPT_STRING, NULL, "∞-AE model from `infae_mpi train --out`", &model},
      {"input", IA_OPT_STRING, NULL,
       "users to score: `user item` lines with the dataset's original ids (# comments); a user "
       "is any label, known or new",
       &input},
      {"k", IA_OPT_INT, "10", "recommendations per user", &k},
      {"output", IA_OPT_STRING, NULL, "write `user item score rank` lines here [default: stdout]",
       &output},
      {"keep-input", IA_OPT_FLAG, NULL, "allow a user's input items among its recommendations",
       &keep},
      {"batch", IA_OPT_INT, "256", "users scored together", &batch},
      {"quiet", IA_OPT_FLAG, NULL, "print errors only", &quiet},
      {"verbose", IA_OPT_FLAG, NULL, "print more detail", &verbose},
  };
  int n = (int)(sizeof opts / sizeof *opts);
  int rc = ia_cli_parse(comm, "mpirun -np P infae_mpi recommend --model M.h5 --input FILE [-k 10]",
                        "Scores users given by their items with an ∞-AE model: the top k items\n"
                        "by NTK(user, fit users)·α, input items excluded. Items the model does\n"
                        "not know are ignored with a warning. The fit users are spread over "
                        "the ranks.",
                        opts, n, argc, argv);
  if (rc >= 0) return rc;
  ia_recommend_opts o = {model, input, output, k, keep, batch};
  return ia_agree(comm, ia_recommend(comm, &o)) == IA_OK ? 0 : 1;
}
