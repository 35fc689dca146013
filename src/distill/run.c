/* One Distill-CF run's state on the move (distill/run.h): signals, the
 * logits between device and host, and the checkpoint file. */
#include "distill/run.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infae/core/log.h"
#include "io/h5util.h"

/* ---- signals: SIGTERM / SIGUSR1 ask for a checkpoint and a clean exit ---- */
static volatile sig_atomic_t stop_requested = 0;
static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

/* From the optimization to the summary's write, a signal only asks. Nested
 * inside a search's catching, a signal the search caught still counts. */
void distill_catch_signals(distill_saved_signals *old) {
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, &old->term);
  sigaction(SIGUSR1, &sa, &old->usr1);
  if (old->term.sa_handler != on_signal) stop_requested = 0;
}

void distill_restore_signals(const distill_saved_signals *old) {
  sigaction(SIGTERM, &old->term, NULL);
  sigaction(SIGUSR1, &old->usr1, NULL);
}

/* Whether any rank was asked to stop. Collective. */
int distill_signalled(MPI_Comm comm) {
  int f = stop_requested ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &f, 1, MPI_INT, MPI_MAX, comm);
  return f;
}

int distill_stop_asked(void) { return stop_requested ? 1 : 0; }

ia_status distill_gather_rows(distill_run *q, const double *x, double *full, int all) {
  ia_distill_host *p = &q->p;
  if (all)
    IA_MPI(MPI_Allgatherv(x, p->counts[q->rank], MPI_DOUBLE, full, p->counts, p->displs, MPI_DOUBLE,
                          q->comm));
  else
    IA_MPI(MPI_Gatherv(x, p->counts[q->rank], MPI_DOUBLE, full, p->counts, p->displs, MPI_DOUBLE, 0,
                       q->comm));
  return IA_OK;
}

ia_status distill_sync_host(distill_run *q, int all) {
  if (!q->on_dev) return IA_OK;
  size_t bytes = sizeof(double) * (size_t)(q->p.nz * q->p.d);
  IA_CALL(ia_be_download(q->be, q->c.z, q->zd, bytes));
  if (all) IA_CALL(ia_be_download(q->be, q->c.m, q->md, bytes));
  if (all) IA_CALL(ia_be_download(q->be, q->c.v, q->vd, bytes));
  return IA_OK;
}

ia_status distill_sync_device(distill_run *q) {
  if (!q->on_dev) return IA_OK;
  size_t bytes = sizeof(double) * (size_t)(q->p.nz * q->p.d);
  IA_CALL(ia_be_upload(q->be, q->zd, q->c.z, bytes));
  IA_CALL(ia_be_upload(q->be, q->md, q->c.m, bytes));
  return ia_be_upload(q->be, q->vd, q->c.v, bytes);
}

ia_status distill_write_checkpoint(distill_run *q, int64_t next_step) {
  int64_t mu = q->p.mu, d = q->p.d;
  ia_ckpt full = q->c;
  double *buf = NULL;
  ia_status st = distill_sync_host(q, 1);
  if (st == IA_OK && q->rank == 0) st = IA_ALLOC(buf, 3 * mu * d, "checkpoint gather");
  IA_CALL(ia_agree(q->comm, st));
  full.next_step = next_step;
  full.z = buf;
  full.m = buf ? buf + mu * d : NULL;
  full.v = buf ? buf + 2 * mu * d : NULL;
  st = distill_gather_rows(q, q->c.z, full.z, 0);
  if (st == IA_OK) st = distill_gather_rows(q, q->c.m, full.m, 0);
  if (st == IA_OK) st = distill_gather_rows(q, q->c.v, full.v, 0);
  if (st == IA_OK && q->rank == 0)
    st = ia_ckpt_write(q->ckpt_path, q->o, q->d->source_sha256, mu, d, &full);
  free(buf);
  IA_CALL(ia_agree(q->comm, st));
  ia_log_verbose("[distill] checkpoint %s at step %lld", q->ckpt_path, (long long)next_step);
  return IA_OK;
}

ia_status distill_read_checkpoint(distill_run *q) {
  int64_t mu = q->p.mu, d = q->p.d, off = q->p.z0 * d, n = q->p.nz * d;
  ia_ckpt full = q->c;
  double *buf = NULL;
  ia_status st = IA_ALLOC(buf, 3 * mu * d, "checkpoint read");
  full.z = buf;
  full.m = buf ? buf + mu * d : NULL;
  full.v = buf ? buf + 2 * mu * d : NULL;
  if (st == IA_OK && q->rank == 0)
    st = ia_ckpt_read(q->ckpt_path, q->o, q->d->source_sha256, mu, d, &full);
  st = ia_agree(q->comm, st);
  if (st == IA_OK) {
    /* Rank 0 read it; every rank takes the scalars, the curve, the best
     * sample and its own rows. */
    int64_t iv[2] = {full.next_step, full.best_step};
    double dv[3] = {full.lambda, full.best_val, full.best_lambda};
    int nc = full.n_curve;
    MPI_Bcast(iv, 2, MPI_INT64_T, 0, q->comm);
    MPI_Bcast(dv, 3, MPI_DOUBLE, 0, q->comm);
    MPI_Bcast(&nc, 1, MPI_INT, 0, q->comm);
    MPI_Bcast(buf, (int)(3 * mu * d), MPI_DOUBLE, 0, q->comm);
    MPI_Bcast(full.best_s, (int)(mu * d), MPI_DOUBLE, 0, q->comm);
    MPI_Bcast(full.best_z, (int)(mu * d), MPI_DOUBLE, 0, q->comm);
    MPI_Bcast(full.curve, nc * IA_CURVE_COLS, MPI_DOUBLE, 0, q->comm);
    q->c.next_step = iv[0];
    q->c.best_step = iv[1];
    q->c.lambda = dv[0];
    q->c.best_val = dv[1];
    q->c.best_lambda = dv[2];
    q->c.n_curve = nc;
    memcpy(q->c.z, full.z + off, sizeof(double) * (size_t)n);
    memcpy(q->c.m, full.m + off, sizeof(double) * (size_t)n);
    memcpy(q->c.v, full.v + off, sizeof(double) * (size_t)n);
  }
  free(buf);
  return st;
}

ia_status distill_check_checkpoint_path(const char *path, int resume) {
  if (access(path, F_OK) != 0) return IA_OK;
  hid_t f = H5I_INVALID_HID;
  char *fmt = NULL;
  if (H5Fis_hdf5(path) > 0) {
    H5E_BEGIN_TRY { f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT); }
    H5E_END_TRY;
  }
  int is_ckpt = 0;
  if (f >= 0 && H5Aexists(f, "format") > 0 && ia_h5_read_attr_str(f, path, "format", &fmt) == IA_OK)
    is_ckpt = !strcmp(fmt, IA_CKPT_FORMAT);
  ia_error_clear();
  free(fmt);
  if (f >= 0) H5Fclose(f);
  IA_CHECK(is_ckpt, IA_ERR_ARG,
           "--checkpoint %s exists and is not a Distill-CF checkpoint: it is left as it is; "
           "choose another --checkpoint path",
           path);
  IA_CHECK(resume, IA_ERR_ARG,
           "%s holds the checkpoint of an earlier run: add --resume to continue it, or remove "
           "it to start over",
           path);
  return IA_OK;
}
