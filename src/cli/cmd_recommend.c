#include "cli.h"
#include "infae/app/recommend.h"
#include "infae/core/log.h"
#include "infae/core/opts.h"

int ia_cmd_recommend(MPI_Comm comm, int argc, char **argv, const char *command) {
  (void)command;
  const char *model, *input, *output, *data;
  int k, keep, batch, all, quiet, verbose;
  const ia_opt opts[] = {
      {"model", IA_OPT_STRING, NULL,
       "model from `infae_mpi train --out`: ∞-AE (also Nyström, or fit on a summary), EASE or "
       "Recoder",
       &model},
      {"input", IA_OPT_STRING, NULL,
       "users to score: `user item` lines (a user's items, original ids; the user may be new) "
       "and `user` lines (a user of the dataset, scored from its train and validation items); "
       "# comments",
       &input},
      {"all-users", IA_OPT_FLAG, NULL,
       "score every user of the dataset, from its train and validation items (instead of "
       "--input)",
       &all},
      {"data", IA_OPT_STRING, NULL,
       "the dataset of `user` lines and --all-users [default: the model's, from its attribute "
       "'dataset']",
       &data},
      {"k", IA_OPT_INT, "10", "recommendations per user", &k},
      {"output", IA_OPT_STRING, NULL,
       "write `user item score rank` lines here [default: stdout; progress then goes to stderr]",
       &output},
      {"keep-input", IA_OPT_FLAG, NULL, "allow a user's context items among its recommendations",
       &keep},
      {"batch", IA_OPT_INT, "256", "users scored together", &batch},
      {"quiet", IA_OPT_FLAG, NULL, "print errors only", &quiet},
      {"verbose", IA_OPT_FLAG, NULL, "print more detail", &verbose},
  };
  int n = (int)(sizeof opts / sizeof *opts);
  int rc = ia_cli_parse(
      comm, "mpirun -np P infae_mpi recommend --model M.h5 (--input FILE | --all-users) [-k 10]",
      "Scores users with a model from `train --out` and writes each one's top k items,\n"
      "context items excluded: ∞-AE by NTK(user, fit rows)·α, EASE by the user's row times B,\n"
      "Recoder by its forward pass. Items the model does not know are ignored with a warning;\n"
      "a user with none it knows is named and left out. The model is spread over the ranks\n"
      "(∞-AE: the fit rows; EASE: the rows of B; Recoder: each batch's users).",
      opts, n, argc, argv);
  if (rc >= 0) return rc;
  ia_recommend_opts o = {.model = model,
                         .input = input,
                         .data = data,
                         .all_users = all,
                         .output = output,
                         .k = k,
                         .keep_input = keep,
                         .batch = batch};
  return ia_agree(comm, ia_recommend(comm, &o)) == IA_OK ? 0 : 1;
}
