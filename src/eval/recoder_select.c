/* Recoder trained and selected by validation HR@100 (see recoder_select.h). */
#include "eval/recoder_select.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/sample_eval.h"
#include "infae/core/log.h"

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

ia_status ia_recoder_select(MPI_Comm comm, ia_backend *be, const ia_recoder_opts *o,
                            const ia_dataset *d, ia_evaluator *ev, const double *dense, int64_t mu,
                            const char *tag, int log_epochs, ia_train_result *r,
                            ia_recoder **model) {
  IA_CALL(ia_agree(comm, check_opts(o)));
  int size;
  MPI_Comm_size(comm, &size);
  ia_recoder_data x = {.n_users = dense ? mu : d->n_users, .d = d->n_items};
  if (dense)
    x.dense = dense;
  else {
    x.rows = &d->train;
    x.row_begin = d->row_begin;
  }
  int64_t n = x.n_users, batch = o->batch < n ? o->batch : n;
  /* A rank's users of one batch: all of its rows at most (sparse), its share
   * of the batch (dense); scoring takes blocks of 64. */
  int64_t rows = dense ? (batch + size - 1) / size : (batch < d->n_rows ? batch : d->n_rows);
  if (rows < 64) rows = 64;
  ia_recoder *m = NULL;
  int64_t *order = NULL;
  double *best = NULL;
  ia_status st = IA_OK;
  snprintf(r->device, sizeof r->device, "%s", ia_backend_describe(be));
  IA_CALL_GOTO(ia_recoder_create(comm, be, o, d->n_items, rows, &m));
  r->params = ia_recoder_n_params(m);
  st = IA_ALLOC(order, n, "epoch order");
  if (st == IA_OK) st = IA_ALLOC(best, r->params, "best weights");
  IA_CALL_GOTO(ia_agree(comm, st));
  char widths[96] = "";
  for (int l = 0, w = 0; l < o->n_hidden; l++)
    w += snprintf(widths + w, sizeof widths - (size_t)w, l ? ",%d" : "%d", o->hidden[l]);
  ia_log_info(
      "[%s] Recoder %lld-[%s]-%lld (%s, %lld weights), %s loss, dropout %g, "
      "confidence %g; Adam lr %g, batch %lld, %d epochs on %lld %s users; %s, "
      "all-reduce %s",
      tag, (long long)x.d, widths, (long long)x.d, ia_act_name(o->act), (long long)r->params,
      ia_loss_name(o->loss), o->dropout, o->confidence, o->lr, (long long)batch, o->epochs,
      (long long)n, dense ? "summary" : "train", r->device, ia_backend_reduce_name(be));
  r->by_epoch = 1;
  r->has_lambda = 1;
  r->fit_users = n;
  int64_t step = 0;
  int best_k = -1;
  double t0 = ia_time(), tlog = t0, flog = 0, epoch_loss = 0, eval_flops = 0;
  int64_t slog = 0;
  for (int e = 1; e <= o->epochs; e++) {
    ia_recoder_epoch_order(o->seed, e, n, order);
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
    if (e % o->eval_every != 0 && e != o->epochs) continue;
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
    if (log_epochs)
      ia_log_info(
          "[%s] epoch %3d/%d  loss %.6f  val HR@100 %6.3f NDCG@10 %6.3f%s  %.1f "
          "steps/s, %.1f GFLOP/s",
          tag, e, o->epochs, epoch_loss, r->val[k].v[IA_HR100], r->val[k].v[IA_NDCG10],
          better ? " *" : "  ", (double)(step - slog) / (tv - tlog), fsum / (tv - tlog) / 1e9);
    tlog = ia_time();
    flog = fl;
    slog = step;
    if (k - best_k >= o->patience) {
      if (log_epochs)
        ia_log_info("[%s] no better validation HR@100 for %d validations (patience): stopping", tag,
                    o->patience);
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
  ia_log_metrics(tag, what, &r->test, r->t_test);
  if (model) {
    *model = m;
    m = NULL;
  }
done:
  free(order);
  free(best);
  ia_recoder_free(&m);
  return st;
}
