/* `train --model recoder`: the Recoder of eval/recoder_select.c, and its
 * model file. */
#include "app/train_recoder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval/recoder_select.h"
#include "infae/config.h"
#include "infae/core/log.h"
#include "infae/core/paths.h"
#include "infae/io/model_file.h"
#include "io/h5util.h"

/* The model file (rank 0): W_l as out × in row-major (z = W·a + b), b_l, the
 * item ids and the settings. Written through a temporary file. */
static ia_status write_model(const ia_train_opts *opts, const ia_recoder_opts *o,
                             const ia_recoder *m, const double *w, const ia_train_result *r) {
  char tmp[4200], name[32];
  const char *path = opts->out;
  char **user_ids = NULL, **item_ids = NULL;
  int64_t n_users = 0, n_items = 0;
  hid_t file = H5I_INVALID_HID, g = H5I_INVALID_HID;
  ia_status st = ia_dataset_dims(MPI_COMM_SELF, opts->data, &n_users, &n_items);
  if (st == IA_OK) st = ia_dataset_read_ids(MPI_COMM_SELF, opts->data, &user_ids, &item_ids);
  if (st == IA_OK) st = ia_tmp_name(path, 0, tmp, sizeof tmp);
  IA_CALL(st);
  file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  IA_CHECK_GOTO(file >= 0, IA_ERR_IO, "cannot create %s (directory missing or not writable?)", tmp);
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "format", IA_RECODER_FORMAT));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "version", 1));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "infae_version", IA_VERSION));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "command", opts->command ? opts->command : ""));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "dataset", opts->data));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "dataset_source_sha256", r->sha256));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "trained_on", opts->train_on ? opts->train_on : "train"));
  int64_t n[IA_RECODER_MAX_LAYERS + 2], at = 0;
  int layers = ia_recoder_widths(m, n);
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "layers", layers));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "activation", ia_act_name(o->act)));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "loss", ia_loss_name(o->loss)));
  IA_CALL_GOTO(ia_h5_attr_f64(file, path, "dropout", o->dropout));
  IA_CALL_GOTO(ia_h5_attr_f64(file, path, "confidence", o->confidence));
  IA_CALL_GOTO(ia_h5_attr_f64(file, path, "learning_rate", o->lr));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "batch", o->batch));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "seed", (int64_t)opts->seed));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "best_epoch", (int64_t)r->best_lambda));
  for (int l = 1; l <= layers; l++) {
    /* Column-major in × out is row-major out × in. */
    snprintf(name, sizeof name, "W%d", l);
    IA_CALL_GOTO(ia_h5_write_matrix(file, path, name, n[l], n[l - 1], w + at));
    at += n[l - 1] * n[l];
    snprintf(name, sizeof name, "b%d", l);
    IA_CALL_GOTO(ia_h5_write_array(file, path, name, H5T_NATIVE_DOUBLE, n[l], w + at));
    at += n[l];
  }
  IA_H5(g = H5Gcreate2(file, "items", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  IA_CALL_GOTO(ia_h5_write_strings(g, path, "ids", n_items, item_ids));
done:
  if (g >= 0) H5Gclose(g);
  ia_ids_free(user_ids, n_users);
  ia_ids_free(item_ids, n_items);
  return ia_h5_close_rename(file, tmp, path, st);
}

ia_status ia_train_recoder(MPI_Comm comm, const ia_train_opts *opts, const ia_dataset *d,
                           ia_evaluator *ev, const double *dense, int64_t mu, ia_train_result *r) {
  ia_recoder_opts o = opts->recoder;
  o.seed = opts->seed;
  ia_backend *be = NULL;
  ia_recoder *m = NULL;
  double *best = NULL;
  ia_status st = IA_OK;
  IA_CALL(ia_backend_open(comm, opts->device, &be));
  IA_CALL_GOTO(ia_recoder_select(comm, be, &o, d, ev, dense, mu, "train", 1, r, &m));
  if (opts->out) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    st = IA_ALLOC(best, r->params, "best weights");
    if (st == IA_OK) st = ia_recoder_get_params(m, best);
    IA_CALL_GOTO(ia_agree(comm, st));
    IA_CALL_GOTO(ia_agree(comm, rank == 0 ? write_model(opts, &o, m, best, r) : IA_OK));
    ia_log_info("[train] wrote %s", opts->out);
  }
done:
  free(best);
  ia_recoder_free(&m);
  ia_backend_close(&be);
  return st;
}
