#include <stdio.h>

#include "cli.h"
#include "infae/core/log.h"
#include "infae/core/opts.h"

int ia_cli_parse(MPI_Comm comm, const char *usage, const char *summary, const void *table, int n,
                 int argc, char **argv) {
  const ia_opt *t = table;
  int help = 0, rank;
  MPI_Comm_rank(comm, &rank);
  ia_status st = ia_opts_parse(t, n, argc, argv, &help);
  if (ia_agree(comm, st) != IA_OK) return 2;
  if (help) {
    if (rank == 0) ia_opts_usage(stdout, usage, summary, t, n);
    return 0;
  }
  return -1;
}

void ia_cli_warn_ignored(int argc, char **argv, const char *const *names, const char *whose,
                         const char *model) {
  for (; *names; names++)
    if (ia_opts_given(argc, argv, *names))
      ia_log_warn("--%s is %s: ignored for --model %s", *names, whose, model);
}
