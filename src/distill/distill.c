#include "infae/distill/distill.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "distill/binary.h"
#include "distill/distill_be.h"
#include "distill/distill_host.h"
#include "distill/run.h"
#include "distill/samplers.h"
#include "distill/summary.h"
#include "eval/recoder_select.h"
#include "eval/sample_eval.h"
#include "infae/core/log.h"
#include "infae/core/ntk.h"
#include "infae/core/paths.h"
#include "infae/core/rng.h"
#include "infae/eval/metrics.h"
#include "infae/infae/plan.h"
#include "infae/io/dataset.h"
#include "infae/models/model.h"
#include "io/h5util.h"

const double ia_distill_grid[6] = {1e-5, 1e-3, 0.1, 1, 5, 50};

static const double beta1 = 0.9, beta2 = 0.999, adam_eps = 1e-8;

const char *const ia_distill_phase_names[IA_DISTILL_PHASES] = {"sample", "fit", "gradient", "adam"};

/* Validation (and λ re-pick) at step 0, at 25, 50, …, 200, every 40 after,
 * and at the last step. */
static int is_eval_step(int t, int steps) {
  return t == 0 || t == steps || (t <= 200 && t % 25 == 0) || (t > 200 && t % 40 == 0);
}

/* Dense rows (n × d) of a CSR block. */
static void densify(const ia_csr *x, double *out) {
  int64_t d = x->n_cols;
  memset(out, 0, sizeof(double) * (size_t)(x->n_rows * d));
  for (int64_t r = 0; r < x->n_rows; r++)
    for (int64_t p = x->indptr[r]; p < x->indptr[r + 1]; p++) out[r * d + x->indices[p]] = 1.0;
}

/* The local rows of step t's batch (all local rows when the batch is all users). */
static ia_status pick_batch(distill_run *q, int t) {
  const ia_dataset *d = q->d;
  if (q->b_total == d->n_users) {
    q->n_batch = d->n_rows;
    for (int64_t r = 0; r < d->n_rows; r++) q->batch[r] = r;
    return IA_OK;
  }
  int64_t *all = NULL;
  IA_CALL(IA_ALLOC(all, q->b_total, "batch"));
  ia_status st =
      ia_rng_choose(q->o->seed, IA_RNG_DISTILL, 1 + (uint64_t)t, d->n_users, q->b_total, all);
  q->n_batch = 0;
  for (int64_t i = 0; i < q->b_total && st == IA_OK; i++)
    if (all[i] >= d->row_begin && all[i] < d->row_begin + d->n_rows)
      q->batch[q->n_batch++] = all[i] - d->row_begin;
  free(all);
  return st;
}

/* One Adam step on this rank's rows (step t counts from 1). */
static ia_status adam(distill_run *q, double *g, int t) {
  ia_adam a = {.lr = q->o->lr,
               .beta1 = beta1,
               .beta2 = beta2,
               .eps = adam_eps,
               .c1 = 1.0 - pow(beta1, t),
               .c2 = 1.0 - pow(beta2, t)};
  int64_t n = q->p.nz * q->p.d;
  if (q->on_dev) return ia_be_adam(q->be, &a, n, q->zd, q->dzd, q->md, q->vd);
  return ia_be_adam(q->be, &a, n, q->c.z, g, q->c.m, q->c.v);
}

/* Validation of the current sample on the grid: picks λ by the run's
 * selection metric; keeps the sample when it is the best so far by that
 * metric and keep is set. */
static ia_status validate(distill_run *q, int t, int keep, int *stop) {
  const ia_distill_opts *o = q->o;
  ia_train_result *v = calloc(1, sizeof *v);
  IA_CHECK(v, IA_ERR_NOMEM, "out of memory");
  ia_sample_model m = q->on_dev ? ia_distill_be_model(&q->pb) : ia_krr_model(&q->p.krr);
  ia_status st =
      ia_sample_select(q->comm, q->d, q->ev, &m, o->lambdas, o->n_lambdas, q->select, 0, 0, v);
  if (st == IA_OK) {
    int best = 0;
    for (int k = 0; k < v->n_lambdas; k++)
      if (v->lambdas[k] == v->best_lambda) best = k;
    double val = v->val[best].v[q->select];
    q->c.lambda = v->best_lambda;
    double *row = q->c.curve + q->c.n_curve++ * IA_CURVE_COLS;
    row[0] = t;
    row[1] = NAN; /* set by the caller */
    row[2] = v->val[best].v[IA_HR100];
    row[3] = v->val[best].v[IA_NDCG10];
    row[4] = v->best_lambda;
    if (keep && val > q->c.best_val) {
      q->c.best_val = val;
      q->c.best_step = t;
      q->c.best_lambda = v->best_lambda;
      memcpy(q->c.best_s, q->p.s, sizeof(double) * (size_t)(q->p.mu * q->p.d));
      st = distill_gather_rows(q, q->c.z, q->c.best_z, 1);
    }
    *stop = t - q->c.best_step >= o->patience;
  }
  free(v);
  return st;
}

/* Step 0 as the reference makes it: the initial rows themselves (binary,
 * no Gumbel sample) are validated to pick the λ of steps 1–25, and are never
 * the summary. */
static ia_status validate_initial_rows(distill_run *q) {
  ia_distill_host *p = &q->p;
  int stop = 0;
  IA_CALL(distill_gather_rows(q, q->c.z, p->s, 1));
  if (q->on_dev)
    IA_CALL(ia_agree(q->comm, ia_distill_be_set_sample(&q->pb, p->s)));
  else
    ia_krr_kernel(&p->krr, p->s);
  return validate(q, 0, 0, &stop);
}

static ia_status fit(distill_run *q, double lambda) {
  return q->on_dev ? ia_distill_be_fit(&q->pb, lambda) : ia_krr_fit(&q->p.krr, lambda);
}

/* λ for the gradient: the picked one, or the next larger of the grid when
 * the sample's kernel does not factor at it. */
static ia_status fit_for_step(distill_run *q) {
  const ia_distill_opts *o = q->o;
  ia_status st = fit(q, q->c.lambda);
  for (int k = 0; st == IA_ERR_NOTSPD && k < o->n_lambdas; k++) {
    if (o->lambdas[k] <= q->c.lambda) continue;
    ia_log_warn("[distill] %s; trying λ = %g", ia_error_message(), o->lambdas[k]);
    ia_error_clear();
    q->c.lambda = o->lambdas[k];
    st = fit(q, q->c.lambda);
  }
  return ia_agree(q->comm, st);
}

/* "best <metric> <value> @step" for the progress lines; none before the
 * first kept sample. */
static const char *best_so_far(const distill_run *q, char *buf, size_t size) {
  if (q->c.best_val < 0)
    snprintf(buf, size, "best   none yet");
  else
    snprintf(buf, size, "best %s %6.3f @%lld", ia_metric_names[q->select], q->c.best_val,
             (long long)q->c.best_step);
  return buf;
}

/* ", to step E in ~T": the step where the run ends if validation does not
 * improve (patience, else --steps) and the time to it, at the steps/s of the
 * steps run so far plus the validations left at their mean time. */
static const char *eta(const distill_run *q, int t, const ia_distill_result *r, double elapsed,
                       int steps_run, char *buf, size_t size) {
  const ia_distill_opts *o = q->o;
  int end = o->steps, nval = 0;
  if (q->c.best_val >= 0)
    for (int s = (int)q->c.best_step + o->patience; s < end; s++)
      if (is_eval_step(s, o->steps)) {
        end = s;
        break;
      }
  double step_s = elapsed - r->validation_seconds;
  if (steps_run <= 0 || step_s <= 0 || end <= t) {
    buf[0] = '\0';
    return buf;
  }
  for (int s = t + 1; s <= end; s++) nval += is_eval_step(s, o->steps);
  double left = (end - t) * step_s / steps_run;
  if (r->validations > 0) left += nval * r->validation_seconds / r->validations;
  if (left < 120)
    snprintf(buf, size, ", to step %d in ~%.0f s", end, left);
  else if (left < 7200)
    snprintf(buf, size, ", to step %d in ~%.0f min", end, left / 60);
  else
    snprintf(buf, size, ", to step %d in ~%.1f h", end, left / 3600);
  return buf;
}

static ia_status optimize(distill_run *q, ia_distill_result *r) {
  const ia_distill_opts *o = q->o;
  ia_distill_host *p = &q->p;
  char best[64], left[64];
  double *dz = NULL;
  ia_status st = IA_ALLOC(dz, p->nz * p->d + 1, "dL/dZ");
  IA_CALL(ia_agree(q->comm, st));
  double t0 = ia_time(), tlog = t0, loss = 0, ce = 0;
  int start = (int)q->c.next_step, tlast = start, steps_run = 0, iters = 0;
  /* Resumed after the last step: the steps done are the last validation's. */
  if (start > o->steps && q->c.n_curve > 0)
    r->steps_done = (int)q->c.curve[(q->c.n_curve - 1) * IA_CURVE_COLS];
  for (int t = start; t <= o->steps; t++) {
    /* Step 0's validation is of the initial rows (but with --steps 0 of the
     * one sample there is). */
    int initial = t == 0 && o->steps > 0;
    int eval = is_eval_step(t, o->steps) && !initial, stop = 0;
    double tp = ia_time();
    iters++;
    if (initial) {
      IA_CALL_GOTO(validate_initial_rows(q));
      r->validation_seconds += ia_time() - tp;
      r->validations++;
      tp = ia_time();
    }
    if (q->on_dev) {
      IA_CALL_GOTO(ia_agree(q->comm, ia_distill_be_sample(&q->pb, q->zd, (uint64_t)t)));
      if (eval) { /* the best sample and logits are kept on the host */
        st = ia_be_download(q->be, p->s, q->pb.s, sizeof(double) * (size_t)(p->mu * p->d));
        if (st == IA_OK) st = distill_sync_host(q, 0);
        IA_CALL_GOTO(ia_agree(q->comm, st));
      }
    } else {
      IA_CALL_GOTO(ia_distill_host_sample(p, q->c.z, (uint64_t)t));
    }
    r->step_seconds[0] += ia_time() - tp;
    if (eval) {
      double tv = ia_time();
      IA_CALL_GOTO(validate(q, t, 1, &stop));
      r->validation_seconds += ia_time() - tv;
      r->validations++;
    }
    tp = ia_time();
    IA_CALL_GOTO(fit_for_step(q));
    r->step_seconds[1] += ia_time() - tp;
    tp = ia_time();
    IA_CALL_GOTO(pick_batch(q, t));
    /* The last step (or a patience stop) needs the loss only; every other
     * step the gradient, whose loss also fills the curve. */
    int last = t == o->steps || stop, flag = distill_stop_asked();
    if (last && q->on_dev)
      IA_CALL_GOTO(ia_agree(
          q->comm, ia_distill_be_loss(&q->pb, q->batch, q->n_batch, q->b_total, &loss, &ce)));
    else if (last)
      IA_CALL_GOTO(ia_distill_host_loss(p, q->batch, q->n_batch, q->b_total, &loss, &ce));
    else if (q->on_dev)
      IA_CALL_GOTO(
          ia_agree(q->comm, ia_distill_be_loss_grad(&q->pb, q->zd, q->batch, q->n_batch, q->b_total,
                                                    &loss, &ce, q->dzd, &flag)));
    else
      IA_CALL_GOTO(ia_distill_host_loss_grad(p, q->c.z, q->batch, q->n_batch, q->b_total, &loss,
                                             &ce, dz, &flag));
    r->step_seconds[2] += ia_time() - tp;
    if (eval || initial) {
      double *row = q->c.curve + (q->c.n_curve - 1) * IA_CURVE_COLS;
      row[1] = loss; /* the loss of this sample at the λ just picked */
      double now = ia_time();
      char rate[32] = ""; /* none on the first line of a resumed run */
      if (t > tlast) snprintf(rate, sizeof rate, "  %.2f steps/s", (t - tlast) / (now - tlog));
      if (initial)
        ia_log_info(
            "[distill] step %4d/%d  loss %.6f  val HR@100 %6.3f NDCG@10 %6.3f (λ %g) of the "
            "initial rows",
            t, o->steps, loss, row[2], row[3], row[4]);
      else
        ia_log_info(
            "[distill] step %4d/%d  loss %.6f  val HR@100 %6.3f NDCG@10 %6.3f (λ %g)  %s%s%s", t,
            o->steps, loss, row[2], row[3], row[4], best_so_far(q, best, sizeof best), rate,
            eta(q, t, r, now - t0, steps_run, left, sizeof left));
      tlog = now;
      tlast = t;
    }
    if (last) {
      if (t < o->steps)
        ia_log_info("[distill] no better validation %s for %d steps (patience): stopping",
                    ia_metric_names[q->select], o->patience);
      q->c.next_step = o->steps + 1;
      r->steps_done = t;
      break;
    }
    tp = ia_time();
    IA_CALL_GOTO(ia_agree(q->comm, adam(q, dz, t + 1)));
    r->step_seconds[3] += ia_time() - tp;
    steps_run++;
    if (o->log_every > 0 && (t + 1) % o->log_every == 0 && !is_eval_step(t + 1, o->steps)) {
      double now = ia_time();
      ia_log_info("[distill] step %4d/%d  loss %.6f (cross-entropy %.6f)  %s  %.2f steps/s%s",
                  t + 1, o->steps, loss, ce, best_so_far(q, best, sizeof best),
                  (t + 1 - tlast) / (now - tlog),
                  eta(q, t + 1, r, now - t0, steps_run, left, sizeof left));
      tlog = now;
      tlast = t + 1;
    }
    if (flag) {
      IA_CALL_GOTO(distill_write_checkpoint(q, t + 1));
      ia_log_info(
          "[distill] signal received: checkpoint %s written at step %d; rerun with "
          "--resume to continue",
          q->ckpt_path, t + 1);
      r->interrupted = 1;
      r->steps_done = t + 1;
      break;
    }
    if (o->checkpoint_every > 0 && (t + 1) % o->checkpoint_every == 0)
      IA_CALL_GOTO(distill_write_checkpoint(q, t + 1));
  }
  r->seconds = ia_time() - t0;
  r->steps_per_s = steps_run > 0 ? steps_run / r->seconds : 0;
  for (int k = 0; k < IA_DISTILL_PHASES; k++) r->step_seconds[k] /= iters > 0 ? iters : 1;
done:
  free(dz);
  return st;
}

/* ∞-AE, with ease EASE and with rec (not NULL) Recoder trained on the μ
 * rows of a sample s, evaluated on the real users into *infae, *ease_r and
 * *rec. Collective. */
static ia_status evaluate_sample(MPI_Comm comm, const ia_dataset *d, ia_evaluator *ev,
                                 ia_krr *model, ia_backend *be, const double *s, int64_t mu,
                                 const ia_distill_opts *o, int ease, ia_train_result *infae,
                                 ia_train_result *ease_r, ia_train_result *rec) {
  ia_krr_kernel(model, s);
  snprintf(infae->model, sizeof infae->model, "infae");
  IA_CALL(ia_sample_infae(comm, d, ev, model, o->lambdas, o->n_lambdas, 1, 1, infae));
  if (ease) {
    const double *eg = o->ease_lambdas ? o->ease_lambdas : ia_ease_grid;
    int en = o->ease_lambdas ? o->n_ease : (int)(sizeof ia_ease_grid / sizeof *ia_ease_grid);
    snprintf(ease_r->model, sizeof ease_r->model, "ease");
    IA_CALL(ia_sample_ease(comm, d, ev, s, mu, eg, en, ease_r, NULL));
  }
  if (!rec) return IA_OK;
  /* `train --model recoder`'s defaults, with this run's seed and more
   * epochs: an epoch of μ users is one or two Adam steps. */
  ia_recoder_opts ro;
  ia_recoder_defaults(&ro);
  ro.seed = o->seed;
  ro.epochs = o->recoder_epochs > 0 ? o->recoder_epochs : 200;
  ro.eval_every = (ro.epochs + 49) / 50;
  snprintf(rec->model, sizeof rec->model, "recoder");
  return ia_recoder_select(comm, be, &ro, d, ev, s, mu, "distill", 0, rec, NULL);
}

/* Validation HR@100 of the kept sample, from the curve (NaN when none was). */
static double best_hr100(const ia_ckpt *c) {
  for (int k = c->n_curve - 1; k >= 0; k--)
    if (c->curve[k * IA_CURVE_COLS] == (double)c->best_step && c->best_val >= 0)
      return c->curve[k * IA_CURVE_COLS + 2];
  return NAN;
}

static ia_status check_opts(const ia_distill_opts *o) {
  IA_CHECK(o->data, IA_ERR_ARG, "--data is required");
  IA_CHECK(o->out, IA_ERR_ARG, "--out is required (the summary file to write)");
  IA_CHECK(!strcmp(o->sampler, "distill") || !strcmp(o->sampler, "random") ||
               !strcmp(o->sampler, "head") || !strcmp(o->sampler, "interactions"),
           IA_ERR_ARG, "--sampler must be distill, random, head or interactions (got '%s')",
           o->sampler);
  IA_CHECK(o->budget >= 1, IA_ERR_ARG, "--budget must be ≥ 1 (got %lld)", (long long)o->budget);
  IA_CHECK(o->samples >= 1 && o->samples < (1 << 24), IA_ERR_ARG,
           "--samples must be in [1, 2^24) (got %d)", o->samples);
  IA_CHECK(o->tau > 0 && isfinite(o->tau), IA_ERR_ARG, "--tau must be > 0 (got %g)", o->tau);
  IA_CHECK(o->lr > 0 && isfinite(o->lr), IA_ERR_ARG, "--lr must be > 0 (got %g)", o->lr);
  IA_CHECK(o->c_card >= 0 && isfinite(o->c_card), IA_ERR_ARG, "--c-card must be ≥ 0 (got %g)",
           o->c_card);
  IA_CHECK(o->steps >= 0, IA_ERR_ARG, "--steps must be ≥ 0 (got %d)", o->steps);
  IA_CHECK(o->patience >= 1, IA_ERR_ARG, "--patience must be ≥ 1 (got %d)", o->patience);
  IA_CHECK(o->batch >= 0, IA_ERR_ARG, "--batch must be ≥ 0 (0: all users)");
  IA_CHECK(o->recoder_epochs >= 0, IA_ERR_ARG, "--recoder-epochs must be ≥ 1 (got %d)",
           o->recoder_epochs); /* 0: the default */
  IA_CHECK(o->depth >= 1 && o->depth <= IA_NTK_MAX_DEPTH, IA_ERR_ARG,
           "--depth must be between 1 and %d (got %d)", IA_NTK_MAX_DEPTH, o->depth);
  IA_CHECK(o->binary_rule >= IA_BINARY_VALIDATED && o->binary_rule <= IA_BINARY_THRESHOLD,
           IA_ERR_ARG, "unknown /binary rule %d", (int)o->binary_rule);
  IA_CHECK(o->threshold >= 0 && o->threshold <= 1, IA_ERR_ARG,
           "--threshold must be in (0, 1] (got %g)", o->threshold);
  IA_CHECK(o->checkpoint_every >= 0, IA_ERR_ARG, "--checkpoint-every must be ≥ 0");
  IA_CHECK(o->n_lambdas >= 1 && o->n_lambdas <= IA_MAX_LAMBDAS, IA_ERR_ARG,
           "between 1 and %d λ values", IA_MAX_LAMBDAS);
  for (int k = 0; k < o->n_lambdas; k++)
    IA_CHECK(o->lambdas[k] > 0, IA_ERR_ARG, "Distill-CF's λ values must be > 0 (got %g)",
             o->lambdas[k]);
  return IA_OK;
}

ia_status ia_distill(MPI_Comm comm, const ia_distill_opts *o_in, ia_distill_result *r) {
  ia_status st = IA_OK;
  ia_distill_opts o = *o_in;
  o.depth = ia_ntk_depth(o.depth);
  distill_run q = {0};
  ia_dataset d = {0};
  ia_csr rows = {0};
  ia_krr fixed = {0};
  int64_t *idx = NULL, mu = 0;
  char **user_ids = NULL, **item_ids = NULL, **sel_ids = NULL, ckpt[4096];
  double *s = NULL, *sb = NULL;
  ia_csr binary = {0};
  ia_binary_choice choice = {0};
  distill_saved_signals saved;
  int catching = 0;
  memset(r, 0, sizeof *r);
  if (!o.lambdas) {
    o.lambdas = ia_distill_grid;
    o.n_lambdas = (int)(sizeof ia_distill_grid / sizeof *ia_distill_grid);
  }
  if (!o.sampler) o.sampler = "distill";
  IA_CALL(ia_agree(comm, check_opts(&o)));
  IA_CALL(ia_agree(comm, ia_select_metric(o.select, &q.select)));
  o.select = ia_metric_names[q.select]; /* as the files name it */
  int distill = !strcmp(o.sampler, "distill");
  q.comm = comm;
  q.o = &o;
  q.d = &d;
  MPI_Comm_rank(comm, &q.rank);
  MPI_Comm_size(comm, &q.size);
  snprintf(ckpt, sizeof ckpt, "%s%s", o.checkpoint ? o.checkpoint : o.out,
           o.checkpoint ? "" : ".ckpt.h5");
  q.ckpt_path = ckpt;
  ia_path inputs[] = {{"data", o.data}};
  ia_path outputs[] = {
      {"out", o.out}, {"checkpoint", distill ? ckpt : NULL}, {"metrics-json", o.metrics_json}};
  IA_CALL(ia_paths_check(comm, inputs, 1, outputs, 3));
  if (distill)
    IA_CALL(ia_agree(comm, q.rank == 0 ? distill_check_checkpoint_path(ckpt, o.resume) : IA_OK));

  int64_t n_users, n_items, begin, count;
  double t0 = ia_time();
  IA_CALL(ia_dataset_dims(comm, o.data, &n_users, &n_items));
  ia_partition(n_users, q.size, q.rank, &begin, &count);
  IA_CALL_GOTO(ia_dataset_read(comm, o.data, begin, count, 0, &d));
  IA_CHECK_GOTO(d.val_nnz > 0, IA_ERR_EMPTY,
                "%s has no validation interactions: the samplers pick λ (and Distill-CF its "
                "best sample) by validation HR@100",
                o.data);
  int interactions = !strcmp(o.sampler, "interactions");
  double ipu = (double)d.train_nnz / (double)n_users, keep = 0;
  int64_t kept = 0;
  if (interactions) {
    /* The budget counts users' worth of interactions, budget · N/n of the
     * N: each is kept with probability budget/n. */
    keep = (double)o.budget / (double)n_users;
    keep = keep < 1 ? keep : 1;
    IA_CALL_GOTO(ia_interaction_sample(comm, &d, o.seed, keep, &idx, &mu, &s, &kept));
  } else {
    mu = o.budget < n_users ? o.budget : n_users;
    if (mu < o.budget)
      ia_log_warn("--budget %lld is more than the %lld users: using %lld", (long long)o.budget,
                  (long long)n_users, (long long)mu);
    o.budget = mu;
  }
  r->mu = mu;
  r->items = n_items;
  r->users = n_users;
  r->train_nnz = d.train_nnz;
  snprintf(r->sha256, sizeof r->sha256, "%s", d.source_sha256);
  st = ia_evaluator_create(d.item_train_count, d.n_items, d.train_nnz, &q.ev);
  if (st == IA_OK && !interactions) st = IA_ALLOC(idx, mu, "sampled users");
  if (st == IA_OK) st = IA_ALLOC(sel_ids, mu, "sampled user ids");
  if (st == IA_OK && !interactions) st = IA_ALLOC(s, mu * n_items, "summary S");
  IA_CALL_GOTO(ia_agree(comm, st));
  if (!strcmp(o.sampler, "head"))
    st = ia_head_users(comm, &d, mu, idx);
  else if (!interactions)
    st = ia_rng_choose(o.seed, IA_RNG_DISTILL, 0, n_users, mu, idx);
  IA_CALL_GOTO(ia_agree(comm, st));
  IA_CALL_GOTO(ia_dataset_read_ids(comm, o.data, &user_ids, &item_ids));
  for (int64_t j = 0; j < mu; j++) sel_ids[j] = user_ids[idx[j]];
  ia_log_info("[distill] %s: %lld users, %lld items, train %lld; %d rank(s); read %.2f s", o.data,
              (long long)n_users, (long long)n_items, (long long)d.train_nnz, q.size,
              ia_time() - t0);

  ia_krr *model = &fixed;
  if (interactions) {
    ia_log_info(
        "[distill] sampler interactions: %lld of %lld train interactions (each kept "
        "with probability %.4g: %lld users' worth), from %lld users",
        (long long)kept, (long long)d.train_nnz, keep, (long long)o.budget, (long long)mu);
    st = ia_krr_init(&fixed, mu, n_items, o.depth);
    IA_CALL_GOTO(ia_agree(comm, st));
  } else if (!distill) {
    ia_log_info("[distill] sampler %s: the train rows of %lld %s users", o.sampler, (long long)mu,
                !strcmp(o.sampler, "head") ? "most active" : "random");
    IA_CALL_GOTO(ia_dataset_read_rows(comm, o.data, "train", idx, mu, &rows));
    densify(&rows, s);
    st = ia_krr_init(&fixed, mu, n_items, o.depth);
    IA_CALL_GOTO(ia_agree(comm, st));
  } else {
    ia_gumbel g = {.seed = o.seed, .step = 0, .samples = o.samples, .tau = o.tau, .d = n_items};
    IA_CALL_GOTO(
        ia_distill_host_create(comm, mu, n_items, o.depth, &g, o.c_card, ipu, &d.train, &q.p));
    model = &q.p.krr;
    int64_t own = q.p.nz * n_items + 1;
    IA_CALL_GOTO(ia_backend_open(comm, o.device, &q.be));
    snprintf(r->device, sizeof r->device, "%s", ia_backend_describe(q.be));
    q.on_dev = ia_backend_device(q.be) == IA_DEVICE_CUDA;
    if (q.on_dev) {
      IA_CALL_GOTO(ia_distill_be_create(comm, q.be, mu, n_items, o.depth, &g, o.c_card, ipu,
                                        &d.train, 0, &q.pb));
      double **dev[] = {&q.zd, &q.md, &q.vd, &q.dzd};
      for (size_t k = 0; k < sizeof dev / sizeof *dev && st == IA_OK; k++)
        st = ia_be_alloc(q.be, sizeof(double) * (size_t)own, "logits and Adam state",
                         (void **)dev[k]);
      IA_CALL_GOTO(ia_agree(comm, st));
    }
    ia_log_info(
        "[distill] step on %s (rank 0): %s", r->device,
        q.on_dev ? "blocks of users densified on the device" : "sparse user rows on the host");
    q.b_total = o.batch == 0 || o.batch >= n_users ? n_users : o.batch;
    st = IA_ZALLOC(q.c.z, own, "logits Z");
    if (st == IA_OK) st = IA_ZALLOC(q.c.m, own, "Adam m");
    if (st == IA_OK) st = IA_ZALLOC(q.c.v, own, "Adam v");
    if (st == IA_OK) st = IA_ZALLOC(q.c.best_s, mu * n_items, "best sample");
    if (st == IA_OK) st = IA_ZALLOC(q.c.best_z, mu * n_items, "best logits");
    if (st == IA_OK) st = IA_ALLOC(q.c.curve, (o.steps + 1) * IA_CURVE_COLS, "curve");
    if (st == IA_OK) st = IA_ALLOC(q.batch, d.n_rows + 1, "batch rows");
    IA_CALL_GOTO(ia_agree(comm, st));
    double mib = 1048576.0;
    ia_log_info(
        "[distill] Distill-CF: μ = %lld, γ = %d, τ = %g, Adam lr %g, %d steps, batch "
        "%lld, c_card %g, seed %llu",
        (long long)mu, o.samples, o.tau, o.lr, o.steps, (long long)q.b_total, o.c_card,
        (unsigned long long)o.seed);
    ia_log_info(
        "[distill] per step and rank: all-reduce %.1f MiB, all-gather %.1f MiB; "
        "synthetic rows [%lld, %lld) on rank 0",
        q.p.bytes_allreduce / mib, q.p.bytes_allgather / mib, (long long)q.p.z0,
        (long long)(q.p.z0 + q.p.nz));
    r->allreduce_bytes = q.p.bytes_allreduce;
    r->allgather_bytes = q.p.bytes_allgather;
    if (o.resume) {
      IA_CALL_GOTO(distill_read_checkpoint(&q));
      if (q.c.best_val < 0)
        ia_log_info("[distill] resuming from %s at step %lld (no sample kept yet)", ckpt,
                    (long long)q.c.next_step);
      else
        ia_log_info(
            "[distill] resuming from %s at step %lld (best validation %s %.3f at step %lld)", ckpt,
            (long long)q.c.next_step, o.select, q.c.best_val, (long long)q.c.best_step);
    } else {
      /* Z starts as the train rows of the first μ random users (the random sampler's). */
      IA_CALL_GOTO(ia_dataset_read_rows(comm, o.data, "train", idx + q.p.z0, q.p.nz, &rows));
      densify(&rows, q.c.z);
      q.c.best_val = -1;
      q.c.lambda = o.lambdas[0];
    }
    IA_CALL_GOTO(ia_agree(comm, distill_sync_device(&q)));
    distill_catch_signals(&saved);
    catching = 1;
    IA_CALL_GOTO(optimize(&q, r));
    r->best_step = (int)q.c.best_step;
    r->best_val = q.c.best_val;
    r->best_hr100 = best_hr100(&q.c);
    r->best_lambda = q.c.best_lambda;
    if (r->interrupted) {
      r->peak_rss = ia_peak_rss(comm);
      goto done;
    }
    memcpy(s, q.c.best_s, sizeof(double) * (size_t)(mu * n_items));
    ia_log_info("[distill] %.1f s, %.2f steps/s; best validation %s %.3f at step %d (λ %g)",
                r->seconds, r->steps_per_s, o.select, r->best_val, r->best_step, r->best_lambda);
    ia_log_info(
        "[distill] seconds per step: sample %.3f, fit %.3f, loss and gradient %.3f, Adam %.3f; "
        "%d validations of %.2f s",
        r->step_seconds[0], r->step_seconds[1], r->step_seconds[2], r->step_seconds[3],
        r->validations, r->validations ? r->validation_seconds / r->validations : 0.0);
  }

  /* The summary, evaluated like any model on the real users; then its
   * binarized rows (/binary) the same way. */
  int64_t limit = o.memory_limit;
  if (o.ease && limit <= 0) IA_CALL_GOTO(ia_memory_per_rank(comm, &limit));
  double ease_bytes = ia_ease_sample_bytes(mu, n_items);
  if (o.ease && ease_bytes > (double)limit) {
    char need[32], have[32];
    ia_log_warn(
        "[distill] EASE on the summary skipped: it needs %s per rank, above %s "
        "(--memory-limit; --no-ease says nothing)",
        ia_plan_bytes(ease_bytes, need, sizeof need),
        ia_plan_bytes((double)limit, have, sizeof have));
    o.ease = 0;
  }
  r->has_ease = o.ease;
  r->has_recoder = o.recoder;
  if (o.recoder && !q.be) IA_CALL_GOTO(ia_backend_open(comm, o.device, &q.be));
  IA_CALL_GOTO(evaluate_sample(comm, &d, q.ev, model, q.be, s, mu, &o, o.ease, &r->infae, &r->ease,
                               o.recoder ? &r->recoder : NULL));
  /* Samplers without logits keep S's ones. */
  ia_binary_rule rule = distill ? o.binary_rule : IA_BINARY_THRESHOLD;
  if (rule == IA_BINARY_THRESHOLD && (o.threshold <= 0 || o.binary_rule != IA_BINARY_THRESHOLD))
    o.threshold = 0.5; /* the summary file records it */
  IA_CALL_GOTO(ia_agree(comm, IA_ALLOC(sb, mu * n_items, "the binarized summary")));
  if (rule == IA_BINARY_VALIDATED)
    IA_CALL_GOTO(ia_binary_validated(comm, &d, q.ev, model, q.c.best_z, mu, &o, q.select, ipu, sb,
                                     &choice, &binary));
  else if (rule == IA_BINARY_EXPECTED)
    IA_CALL_GOTO(ia_agree(comm, ia_binary_top(q.c.best_z, mu, n_items, 0, o.samples, &binary)));
  else
    IA_CALL_GOTO(ia_agree(comm, ia_binary_threshold(s, mu, n_items, o.threshold, &binary)));
  ia_csr_dense(&binary, sb);
  r->binary_items = (double)ia_csr_nnz(&binary) / (double)mu;
  ia_log_info("[distill] the binarized summary (/binary): %.1f items per synthetic user",
              r->binary_items);
  IA_CALL_GOTO(evaluate_sample(comm, &d, q.ev, model, q.be, sb, mu, &o, o.ease, &r->binary_infae,
                               &r->binary_ease, o.recoder ? &r->binary_recoder : NULL));
  if (!distill) r->best_lambda = r->infae.best_lambda;
  r->peak_rss = ia_peak_rss(comm);
  if (catching && distill_signalled(comm)) {
    /* After the last step: the checkpoint resumes straight to this evaluation. */
    IA_CALL_GOTO(distill_write_checkpoint(&q, q.c.next_step));
    ia_log_info(
        "[distill] signal received after the last step: checkpoint %s written; rerun "
        "with --resume to write the summary",
        ckpt);
    r->interrupted = 1;
    goto done;
  }
  ia_summary sm = {.mu = mu,
                   .d = n_items,
                   .s = s,
                   .z = distill ? q.c.best_z : NULL,
                   .binary = &binary,
                   .rule = rule,
                   .choice = &choice,
                   .item_ids = item_ids,
                   .user_ids = sel_ids,
                   .user_index = idx,
                   .meta = &d,
                   .curve = q.c.curve,
                   .n_curve = q.c.n_curve};
  st = q.rank == 0 ? ia_summary_write(o.out, &o, r, &sm) : IA_OK;
  IA_CALL_GOTO(ia_agree(comm, st));
  ia_log_info("[distill] wrote %s (summary of %lld users × %lld items)", o.out, (long long)mu,
              (long long)n_items);
  if (distill && q.rank == 0) remove(ckpt); /* finished: the checkpoint is spent */
done:
  if (catching) distill_restore_signals(&saved);
  ia_ids_free(user_ids, n_users);
  ia_ids_free(item_ids, n_items);
  free(sel_ids);
  free(idx);
  free(s);
  free(sb);
  ia_csr_free(&binary);
  ia_csr_free(&rows);
  ia_krr_free(&fixed);
  ia_distill_host_free(&q.p);
  ia_distill_be_free(&q.pb);
  if (q.be) {
    ia_be_free(q.be, q.zd);
    ia_be_free(q.be, q.md);
    ia_be_free(q.be, q.vd);
    ia_be_free(q.be, q.dzd);
  }
  ia_backend_close(&q.be);
  free(q.c.z);
  free(q.c.m);
  free(q.c.v);
  free(q.c.best_s);
  free(q.c.best_z);
  free(q.c.curve);
  free(q.batch);
  ia_evaluator_free(&q.ev);
  ia_dataset_free(&d);
  return st;
}
