/* `train --model recoder`: epochs of mini-batch Adam, validation every
 * --eval-every epochs, the weights of the best validation HR@100 kept and
 * scored on test. */
#include "app/train_recoder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval/sample_eval.h"
#include "infae/config.h"
#include "infae/core/log.h"
#include "infae/core/paths.h"
#include "infae/io/model_file.h"
#include "io/h5util.h"

typedef struct {
  ia_recoder *m;
  ia_status st; /* the first failure of a scoring call */
} scorer;

static void score_block(void *ctx, const ia_dataset *d, const int64_t *rows, int64_t n, int test,
                        double *p) {
  scorer *s = ctx;
  if (s->st == IA_OK) s->st = ia_recoder_scores(s->m, &d->train, test ? &d->val : NULL, rows, n, p);
}

static ia_status evaluate(MPI_Comm comm, const ia_dataset *d, ia_evaluator *ev, ia_recoder *m,
                          int test, ia_metrics *out) {
  scorer s = {m, IA_OK};
  ia_status st = ia_evaluate_split(comm, d, ev, test, score_block, &s, out);
  IA_CALL(ia_agree(comm, s.st));
  return st;
}

static ia_status check_opts(const ia_recoder_opts *o) {
  IA_CHECK(o->epochs >= 1, IA_ERR_ARG, "--epochs must be ≥ 1 (got %d)", o->epochs);
  IA_CHECK(o->batch >= 1, IA_ERR_ARG, "--batch must be ≥ 1 (got %lld)", (long long)o->batch);
  IA_CHECK(o->lr > 0 && isfinite(o->lr), IA_ERR_ARG, "--lr must be > 0 (got %g)", o->lr);
  IA_CHECK(o->dropout >= 0 && o->dropout < 1, IA_ERR_ARG, "--dropout must be in [0, 1) (got %g)",
           o->dropout);
  IA_CHECK(o->confidence >= 0 && isfinite(o->confidence), IA_ERR_ARG,
           "--confidence must be ≥ 0 (got %g)", o->confidence);
  IA_CHECK(o->eval_every >= 1, IA_ERR_ARG, "--eval-every must be ≥ 1 (got %d)", o->eval_every);
  IA_CHECK(o->patience >= 1, IA_ERR_ARG, "--patience must be ≥ 1 (got %d)", o->patience);
  int evals = (o->epochs + o->eval_every - 1) / o->eval_every;
  IA_CHECK(evals <= IA_MAX_LAMBDAS, IA_ERR_ARG,
           "--epochs %d with --eval-every %d makes %d validations, at most %d are kept: raise "
           "--eval-every",
           o->epochs, o->eval_every, evals, IA_MAX_LAMBDAS);
  return IA_OK;
}

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
  IA_CALL(ia_agree(comm, check_opts(&o)));
  int size;
  MPI_Comm_size(comm, &size);
  ia_recoder_data x = {.n_users = dense ? mu : d->n_users, .d = d->n_items};
  if (dense)
    x.dense = dense;
  else {
    x.rows = &d->train;
    x.row_begin = d->row_begin;
  }
  int64_t n = x.n_users, batch = o.batch < n ? o.batch : n;
  /* A rank's users of one batch: all of its rows at most (sparse), its share
   * of the batch (dense); scoring takes blocks of 64. */
  int64_t rows = dense ? (batch + size - 1) / size : (batch < d->n_rows ? batch : d->n_rows);
  if (rows < 64) rows = 64;
  ia_backend *be = NULL;
  ia_recoder *m = NULL;
  int64_t *order = NULL;
  double *best = NULL;
  ia_status st = IA_OK;
  IA_CALL(ia_backend_open(comm, opts->device, &be));
  snprintf(r->device, sizeof r->device, "%s", ia_backend_describe(be));
  IA_CALL_GOTO(ia_recoder_create(comm, be, &o, d->n_items, rows, &m));
  r->params = ia_recoder_n_params(m);
  st = IA_ALLOC(order, n, "epoch order");
  if (st == IA_OK) st = IA_ALLOC(best, r->params, "best weights");
  IA_CALL_GOTO(ia_agree(comm, st));
  char widths[96] = "";
  for (int l = 0, w = 0; l < o.n_hidden; l++)
    w += snprintf(widths + w, sizeof widths - (size_t)w, l ? ",%d" : "%d", o.hidden[l]);
  ia_log_info(
      "[train] Recoder %lld-[%s]-%lld (%s, %lld weights), %s loss, dropout %g, "
      "confidence %g; Adam lr %g, batch %lld, %d epochs on %lld %s users; %s, "
      "all-reduce %s",
      (long long)x.d, widths, (long long)x.d, ia_act_name(o.act), (long long)r->params,
      ia_loss_name(o.loss), o.dropout, o.confidence, o.lr, (long long)batch, o.epochs, (long long)n,
      dense ? "summary" : "train", r->device, ia_backend_reduce_name(be));
  r->by_epoch = 1;
  r->has_lambda = 1;
  r->fit_users = n;
  int64_t step = 0;
  int best_k = -1;
  double t0 = ia_time(), tlog = t0, flog = 0, epoch_loss = 0, eval_flops = 0;
  int64_t slog = 0;
  for (int e = 1; e <= o.epochs; e++) {
    ia_recoder_epoch_order(o.seed, e, n, order);
    double sum = 0;
    int64_t steps = 0;
    for (int64_t b0 = 0; b0 < n; b0 += batch) {
      int64_t nb = n - b0 < batch ? n - b0 : batch;
      double loss = 0;
      IA_CALL_GOTO(ia_recoder_step(m, &x, order + b0, nb, ++step, &loss));
      IA_CHECK_GOTO(isfinite(loss), IA_ERR_RANGE, "the Recoder loss is %g at step %lld: lower --lr",
                    loss, (long long)step);
      sum += loss;
      steps++;
    }
    epoch_loss = sum / (double)steps;
    if (e % o.eval_every != 0 && e != o.epochs) continue;
    double tv = ia_time();
    int k = r->n_lambdas++;
    r->lambdas[k] = e;
    double fe = ia_recoder_flops(m);
    IA_CALL_GOTO(evaluate(comm, d, ev, m, 0, &r->val[k]));
    eval_flops += ia_recoder_flops(m) - fe;
    /* Training flops of every rank since the last line. */
    double now = ia_time(), fl = ia_recoder_flops(m) - eval_flops, fsum = fl - flog;
    MPI_Allreduce(MPI_IN_PLACE, &fsum, 1, MPI_DOUBLE, MPI_SUM, comm);
    r->t_val += now - tv;
    int better = best_k < 0 || r->val[k].v[IA_HR100] > r->val[best_k].v[IA_HR100];
    if (better) {
      best_k = k;
      IA_CALL_GOTO(ia_agree(comm, ia_recoder_get_params(m, best)));
    }
    ia_log_info(
        "[train] epoch %3d/%d  loss %.6f  val HR@100 %6.3f NDCG@10 %6.3f%s  %.1f "
        "steps/s, %.1f GFLOP/s",
        e, o.epochs, epoch_loss, r->val[k].v[IA_HR100], r->val[k].v[IA_NDCG10],
        better ? " *" : "  ", (double)(step - slog) / (tv - tlog), fsum / (tv - tlog) / 1e9);
    tlog = ia_time();
    flog = fl;
    slog = step;
    if (k - best_k >= o.patience) {
      ia_log_info("[train] no better validation HR@100 for %d validations (patience): stopping",
                  o.patience);
      break;
    }
  }
  r->t_fit = ia_time() - t0 - r->t_val;
  r->steps_done = step;
  r->steps_per_s = r->t_fit > 0 ? (double)step / r->t_fit : 0;
  r->fit_flops = ia_recoder_flops(m) - eval_flops;
  MPI_Allreduce(MPI_IN_PLACE, &r->fit_flops, 1, MPI_DOUBLE, MPI_SUM, comm);
  r->final_loss = epoch_loss;
  r->best_lambda = r->lambdas[best_k];
  IA_CALL_GOTO(ia_recoder_set_params(m, best));
  double t = ia_time();
  IA_CALL_GOTO(evaluate(comm, d, ev, m, 1, &r->test));
  r->t_test = ia_time() - t;
  char what[48];
  snprintf(what, sizeof what, "test epoch %g", r->best_lambda);
  ia_log_metrics("train", what, &r->test, r->t_test);
  if (opts->out) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    IA_CALL_GOTO(ia_agree(comm, rank == 0 ? write_model(opts, &o, m, best, r) : IA_OK));
    ia_log_info("[train] wrote %s", opts->out);
  }
done:
  free(order);
  free(best);
  ia_recoder_free(&m);
  ia_backend_close(&be);
  return st;
}
