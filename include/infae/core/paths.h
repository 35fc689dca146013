#pragma once
/* The files a command reads and writes.
 *
 * Outputs are checked before any work: an output that is one of the
 * command's inputs or another of its outputs (the same file by device and
 * inode, or the same absolute path when it does not exist yet) is refused,
 * as is an output that is a directory or whose folder is missing or takes no
 * new file (a probe file is created there and removed).
 *
 * Every output is written to a temporary `FINAL.tmp-<pid>` and renamed when
 * complete. The temporary names are registered here, so that SIGTERM or
 * SIGINT removes them before the process ends with that signal. */
#include <mpi.h>
#include <stddef.h>

#include "infae/core/status.h"

/* One path of a command and the option that named it (for messages). A NULL
 * path is skipped. */
typedef struct {
  const char *option;
  const char *path;
} ia_path;

/* The checks above, on rank 0; collective on comm. */
IA_NODISCARD ia_status ia_paths_check(MPI_Comm comm, const ia_path *inputs, int n_inputs,
                                      const ia_path *outputs, int n_outputs);

/* Whether two paths name the same file (device and inode when both exist,
 * else the same absolute path). Not collective. */
int ia_paths_same(const char *a, const char *b);

/* The absolute path of p with its folder resolved (p itself need not exist)
 * into out; 0 when the folder cannot be resolved or out is too small. Not
 * collective. */
int ia_path_absolute(const char *p, char *out, size_t size);

/* Writes `final.tmp-<pid>` into tmp (pid: this process's, or the one given
 * when > 0) and registers it for removal on SIGTERM/SIGINT. Not collective. */
IA_NODISCARD ia_status ia_tmp_name(const char *final, long pid, char *tmp, size_t size);
/* The temporary file was renamed or removed: no longer registered. */
void ia_tmp_forget(const char *tmp);
/* Renames tmp to final when st is IA_OK, else removes tmp; forgets it either
 * way. Returns st, or IA_ERR_IO when the rename fails. */
IA_NODISCARD ia_status ia_tmp_commit(const char *tmp, const char *final, ia_status st);
/* Installs the SIGTERM/SIGINT handler that removes the registered temporary
 * files and then ends the process with the signal. Called once by main. */
void ia_tmp_handle_signals(void);
