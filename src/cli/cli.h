#pragma once
/* Subcommands of infae_mpi: each parses its options and calls the library.
 * Each returns the process exit code and is collective on comm. */
#include <mpi.h>

int ia_cmd_prepare(MPI_Comm comm, int argc, char **argv, const char *command);
int ia_cmd_train(MPI_Comm comm, int argc, char **argv, const char *command);
int ia_cmd_generate(MPI_Comm comm, int argc, char **argv, const char *command);
int ia_cmd_plan(MPI_Comm comm, int argc, char **argv, const char *command);
int ia_cmd_recommend(MPI_Comm comm, int argc, char **argv, const char *command);
int ia_cmd_distill(MPI_Comm comm, int argc, char **argv, const char *command);
int ia_cmd_study(MPI_Comm comm, int argc, char **argv, const char *command);
int ia_cmd_demo(MPI_Comm comm, int argc, char **argv, const char *command);

/* --precision fp64|fp32. Not collective. */
#include "infae/infae/infae.h"
IA_NODISCARD ia_status ia_cli_precision(const char *text, ia_precision *p);

/* Common handling of parse results: prints usage on --help (rank 0) and
 * returns -1 to continue, or the exit code to return now. */
int ia_cli_parse(MPI_Comm comm, const char *usage, const char *summary, const void *table, int n,
                 int argc, char **argv);

/* Warns (rank 0) for each option of the NULL-terminated list `names` given in
 * argv: "--NAME is WHOSE: ignored for --model MODEL". Not collective. */
void ia_cli_warn_ignored(int argc, char **argv, const char *const *names, const char *whose,
                         const char *model);
