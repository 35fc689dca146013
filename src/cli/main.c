/* infae_mpi: distributed ∞-AE, Distill-CF and baselines. */
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "infae/backend/device.h"
#include "infae/config.h"
#include "infae/core/log.h"
#include "infae/core/paths.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: mpirun -np P infae_mpi [COMMAND] [OPTIONS]\n\n"
          "commands:\n"
          "  prepare   raw interaction files -> prepared HDF5 dataset (split, negatives)\n"
          "  train     fit ∞-AE (or EASE, Recoder, PopRec), pick λ on validation, report test "
          "metrics\n"
          "  distill   learn a summary of a few hundred users (Distill-CF, or random/head "
          "users, random interactions)\n"
          "  study     the sampling study: samplers × budgets × models, noise; CSV and plots\n"
          "  plan      memory per rank and flops of ∞-AE training for P ranks\n"
          "  recommend top-k items for users given by their items, from a model file\n"
          "  generate  write synthetic implicit-feedback data in an input format\n"
          "  demo      the whole pipeline on the embedded dataset (the default with no "
          "command)\n\n"
          "`infae_mpi COMMAND --help` lists a command's options. infae %s\n",
          IA_VERSION);
}

/* The command line as one string, for provenance. */
static char *join_args(int argc, char **argv) {
  size_t len = 1;
  for (int i = 0; i < argc; i++) len += strlen(argv[i]) + 1;
  char *s = calloc(len, 1);
  if (!s) return NULL;
  for (int i = 0; i < argc; i++) {
    strcat(s, argv[i]);
    if (i + 1 < argc) strcat(s, " ");
  }
  return s;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm comm = MPI_COMM_WORLD;
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* we report HDF5 failures ourselves, once */
  int rank;
  MPI_Comm_rank(comm, &rank);
  ia_log_level level = IA_LOG_INFO;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quiet")) level = IA_LOG_QUIET;
    if (!strcmp(argv[i], "--verbose")) level = IA_LOG_VERBOSE;
  }
  ia_log_init(comm, level);
  ia_tmp_handle_signals();
  char *command = join_args(argc, argv);
  const char *cmd = argc > 1 ? argv[1] : "demo";
  int sub_argc = argc > 1 ? argc - 2 : 0;
  char **sub_argv = argv + (argc > 1 ? 2 : 1);
  int rc;
  if (!strcmp(cmd, "prepare")) {
    rc = ia_cmd_prepare(comm, sub_argc, sub_argv, command);
  } else if (!strcmp(cmd, "train")) {
    rc = ia_cmd_train(comm, sub_argc, sub_argv, command);
  } else if (!strcmp(cmd, "distill")) {
    rc = ia_cmd_distill(comm, sub_argc, sub_argv, command);
  } else if (!strcmp(cmd, "plan")) {
    rc = ia_cmd_plan(comm, sub_argc, sub_argv, command);
  } else if (!strcmp(cmd, "recommend")) {
    rc = ia_cmd_recommend(comm, sub_argc, sub_argv, command);
  } else if (!strcmp(cmd, "generate")) {
    rc = ia_cmd_generate(comm, sub_argc, sub_argv, command);
  } else if (!strcmp(cmd, "study")) {
    rc = ia_cmd_study(comm, sub_argc, sub_argv, command);
  } else if (!strcmp(cmd, "demo")) {
    rc = ia_cmd_demo(comm, sub_argc, sub_argv, command);
  } else if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
    if (rank == 0) usage(stdout);
    rc = 0;
  } else if (!strcmp(cmd, "--version")) {
    if (rank == 0) {
      printf("infae %s, CUDA backend %s", IA_VERSION, IA_HAVE_CUDA ? "built" : "not built");
      if (ia_cuda_device_count() > 0)
        printf(", %d GPU(s): %s", ia_cuda_device_count(), ia_cuda_device_name());
      else if (ia_cuda_device_error()[0])
        printf(", no usable GPU (CUDA: %s)", ia_cuda_device_error());
      printf("\n");
    }
    rc = 0;
  } else if (cmd[0] == '-') {
    /* Options without a command belong to the default command. */
    rc = ia_cmd_demo(comm, argc - 1, argv + 1, command);
  } else {
    if (rank == 0) {
      fprintf(stderr, "error: unknown command '%s'\n\n", cmd);
      usage(stderr);
    }
    rc = 2;
  }
  free(command);
  MPI_Finalize();
  return rc;
}
