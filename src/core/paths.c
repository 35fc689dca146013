#define _XOPEN_SOURCE 700 /* realpath */
#include "infae/core/paths.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- identity of a path ------------------------------------------------ */

int ia_path_absolute(const char *p, char *out, size_t size) {
  char dir[PATH_MAX], real[PATH_MAX];
  const char *slash = strrchr(p, '/'), *base = slash ? slash + 1 : p;
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else if (slash == p)
    snprintf(dir, sizeof dir, "/");
  else
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - p), p);
  if (!realpath(dir, real)) return 0;
  return snprintf(out, size, "%s/%s", strcmp(real, "/") ? real : "", base) < (int)size;
}

int ia_paths_same(const char *a, const char *b) {
  struct stat sa, sb;
  int ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
  if (ea && eb) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  if (ea != eb) return 0;
  char pa[PATH_MAX + 1], pb[PATH_MAX + 1];
  if (ia_path_absolute(a, pa, sizeof pa) && ia_path_absolute(b, pb, sizeof pb))
    return !strcmp(pa, pb);
  return !strcmp(a, b);
}

/* The folder of an output exists and takes a new file. */
static ia_status check_folder(const ia_path *o) {
  char dir[PATH_MAX], probe[PATH_MAX + 64];
  const char *slash = strrchr(o->path, '/');
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else if (slash == o->path)
    snprintf(dir, sizeof dir, "/");
  else
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - o->path), o->path);
  IA_CHECK(slash == NULL || slash[1] != '\0', IA_ERR_ARG, "--%s %s names a folder, not a file",
           o->option, o->path);
  struct stat s;
  IA_CHECK(stat(dir, &s) == 0, IA_ERR_IO, "--%s %s: the folder %s does not exist", o->option,
           o->path, dir);
  IA_CHECK(S_ISDIR(s.st_mode), IA_ERR_IO, "--%s %s: %s is not a folder", o->option, o->path, dir);
  if (stat(o->path, &s) == 0)
    IA_CHECK(!S_ISDIR(s.st_mode), IA_ERR_ARG, "--%s %s is a folder, not a file", o->option,
             o->path);
  snprintf(probe, sizeof probe, "%s/.infae-probe-%ld", dir, (long)getpid());
  int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600);
  IA_CHECK(fd >= 0 || errno == EEXIST, IA_ERR_IO, "--%s %s: cannot create files in %s: %s",
           o->option, o->path, dir, strerror(errno));
  if (fd >= 0) {
    close(fd);
    unlink(probe);
  }
  return IA_OK;
}

static ia_status check_local(const ia_path *in, int n_in, const ia_path *out, int n_out) {
  for (int k = 0; k < n_out; k++) {
    if (!out[k].path) continue;
    IA_CHECK(out[k].path[0], IA_ERR_ARG, "--%s is empty", out[k].option);
    for (int i = 0; i < n_in; i++)
      if (in[i].path && ia_paths_same(out[k].path, in[i].path))
        return ia_error_set(IA_ERR_ARG, __FILE__, __LINE__,
                            "--%s %s is the same file as the input --%s %s: it would be "
                            "overwritten; choose another output path",
                            out[k].option, out[k].path, in[i].option, in[i].path);
    for (int j = 0; j < k; j++)
      if (out[j].path && ia_paths_same(out[k].path, out[j].path))
        return ia_error_set(IA_ERR_ARG, __FILE__, __LINE__,
                            "--%s %s and --%s %s are the same file: give each output its own "
                            "path",
                            out[j].option, out[j].path, out[k].option, out[k].path);
    IA_CALL(check_folder(&out[k]));
  }
  return IA_OK;
}

ia_status ia_paths_check(MPI_Comm comm, const ia_path *inputs, int n_inputs, const ia_path *outputs,
                         int n_outputs) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  ia_status st = rank == 0 ? check_local(inputs, n_inputs, outputs, n_outputs) : IA_OK;
  return ia_agree(comm, st);
}

/* ---- temporary files --------------------------------------------------- */

enum { TMP_SLOTS = 16 };
static char g_tmp[TMP_SLOTS][PATH_MAX];
static volatile sig_atomic_t g_used[TMP_SLOTS];

ia_status ia_tmp_name(const char *final, long pid, char *tmp, size_t size) {
  int n = snprintf(tmp, size, "%s.tmp-%ld", final, pid > 0 ? pid : (long)getpid());
  IA_CHECK(n > 0 && (size_t)n < size && (size_t)n < PATH_MAX, IA_ERR_ARG,
           "output path too long: %s", final);
  for (int k = 0; k < TMP_SLOTS; k++)
    if (!g_used[k]) {
      memcpy(g_tmp[k], tmp, (size_t)n + 1);
      g_used[k] = 1;
      return IA_OK;
    }
  return IA_OK; /* more files at once than slots: written, just not removed on a signal */
}

void ia_tmp_forget(const char *tmp) {
  for (int k = 0; k < TMP_SLOTS; k++)
    if (g_used[k] && !strcmp(g_tmp[k], tmp)) g_used[k] = 0;
}

ia_status ia_tmp_commit(const char *tmp, const char *final, ia_status st) {
  if (st == IA_OK && rename(tmp, final) != 0)
    st = ia_error_set(IA_ERR_IO, __FILE__, __LINE__, "cannot rename %s to %s: %s", tmp, final,
                      strerror(errno));
  if (st != IA_OK) remove(tmp);
  ia_tmp_forget(tmp);
  return st;
}

static void remove_and_die(int sig) {
  for (int k = 0; k < TMP_SLOTS; k++)
    if (g_used[k]) unlink(g_tmp[k]); /* async-signal-safe */
  signal(sig, SIG_DFL);
  raise(sig);
}

void ia_tmp_handle_signals(void) {
  struct sigaction sa = {0};
  sa.sa_handler = remove_and_die;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
}
