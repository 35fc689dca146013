#include "infae/train.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infae/config.h"
#include "infae/dataset.h"
#include "infae/log.h"
#include "infae/model.h"

/* Reference grids: EASE absolute λ (Steck 2019 / the reference). */
static const double ease_grid[] = {1, 10, 100, 250, 500, 1000, 2500};

typedef struct {
  const ia_dataset *d;
  const double *b; /* EASE weights, or NULL for pop */
} scorer;

static void score_user(const scorer *s, int64_t row, int test, double *scores) {
  const ia_dataset *d = s->d;
  const ia_csr *tr = &d->train, *va = &d->val;
  if (!s->b) {
    ia_pop_scores(d->item_train_count, d->n_items, scores);
    return;
  }
  ia_ease_scores(s->b, d->n_items, tr->indices + tr->indptr[row],
                 tr->indptr[row + 1] - tr->indptr[row], test ? va->indices + va->indptr[row] : NULL,
                 test ? va->indptr[row + 1] - va->indptr[row] : 0, scores);
}

/* Validation: context train, held val. Test: context train + val, held test. */
static ia_status evaluate(MPI_Comm comm, const scorer *s, ia_evaluator *ev, double *scores,
                          int test, ia_metrics *out) {
  const ia_dataset *d = s->d;
  const ia_csr *tr = &d->train, *va = &d->val, *held = test ? &d->test : &d->val;
  ia_status st = IA_OK;
  ia_evaluator_reset(ev);
  for (int64_t r = 0; r < d->n_rows && st == IA_OK; r++) {
    if (held->indptr[r + 1] == held->indptr[r]) continue;
    score_user(s, r, test, scores);
    st = ia_evaluator_add(ev, scores, tr->indices + tr->indptr[r],
                          tr->indptr[r + 1] - tr->indptr[r],
                          test ? va->indices + va->indptr[r] : NULL,
                          test ? va->indptr[r + 1] - va->indptr[r] : 0,
                          held->indices + held->indptr[r], held->indptr[r + 1] - held->indptr[r],
                          d->negatives.indices + d->negatives.indptr[r],
                          d->negatives.indptr[r + 1] - d->negatives.indptr[r]);
  }
  IA_CALL(ia_agree(comm, st));
  return ia_evaluator_finish(ev, comm, out);
}

static void log_metrics(const char *what, const ia_metrics *m, double secs) {
  ia_log_info("[train] %-14s HR@10 %6.3f NDCG@10 %6.3f PSP@10 %6.3f HR@100 %6.3f NDCG@100 "
              "%6.3f PSP@100 %6.3f AUC %.4f (%lld users, %.2f s)",
              what, m->v[IA_HR10], m->v[IA_NDCG10], m->v[IA_PSP10], m->v[IA_HR100],
              m->v[IA_NDCG100], m->v[IA_PSP100], m->v[IA_AUC], (long long)m->users, secs);
}

ia_status ia_train(MPI_Comm comm, const ia_train_opts *o, ia_train_result *r) {
  ia_status st = IA_OK;
  ia_dataset d = {0};
  ia_evaluator *ev = NULL;
  double *scores = NULL, *g = NULL, *b = NULL, *best_b = NULL;
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  memset(r, 0, sizeof *r);
  double t0 = ia_time(), t;
  int is_ease = o->model && !strcmp(o->model, "ease");
  IA_CHECK(is_ease || (o->model && !strcmp(o->model, "pop")), IA_ERR_ARG,
           "--model must be pop or ease (got '%s')", o->model ? o->model : "");
  IA_CHECK(o->data, IA_ERR_ARG, "--data is required");
  snprintf(r->model, sizeof r->model, "%s", o->model);
  r->ranks = size;

  /* Users in contiguous blocks over ranks. */
  int64_t n_users, n_items, begin, count;
  IA_CALL(ia_dataset_dims(comm, o->data, &n_users, &n_items));
  ia_partition(n_users, size, rank, &begin, &count);
  IA_CALL(ia_dataset_read(comm, o->data, begin, count, 0, &d));
  r->t_read = ia_time() - t0;
  r->users = d.n_users;
  r->items = d.n_items;
  r->train_nnz = d.train_nnz;
  snprintf(r->sha256, sizeof r->sha256, "%s", d.source_sha256);
  ia_log_info("[train] %s: %lld users, %lld items, train %lld; %d rank(s); read %.2f s",
              o->data, (long long)d.n_users, (long long)d.n_items, (long long)d.train_nnz, size,
              r->t_read);
  ia_log_verbose("[train] rank 0 holds users [%lld, %lld); dataset sha256 %s", (long long)begin,
                 (long long)(begin + count), d.source_sha256);
  st = ia_evaluator_create(d.item_train_count, d.n_items, d.train_nnz, &ev);
  if (st == IA_OK) st = IA_ALLOC(scores, d.n_items, "scores");
  IA_CALL_GOTO(ia_agree(comm, st));
  scorer sc = {&d, NULL};

  if (!is_ease) {
    r->n_lambdas = 1;
    t = ia_time();
    IA_CALL_GOTO(evaluate(comm, &sc, ev, scores, 0, &r->val[0]));
    r->t_val = ia_time() - t;
    log_metrics("val", &r->val[0], r->t_val);
  } else {
    const double *grid = o->lambdas ? o->lambdas : ease_grid;
    int n = o->lambdas ? o->n_lambdas : (int)(sizeof ease_grid / sizeof *ease_grid);
    IA_CHECK_GOTO(n >= 1 && n <= IA_MAX_LAMBDAS, IA_ERR_ARG, "between 1 and %d λ values",
                  IA_MAX_LAMBDAS);
    r->has_lambda = 1;
    r->n_lambdas = n;
    size_t dd = (size_t)(d.n_items * d.n_items);
    st = IA_ALLOC(g, dd, "EASE Gram XᵀX");
    if (st == IA_OK) st = IA_ALLOC(b, dd, "EASE weights");
    if (st == IA_OK) st = IA_ALLOC(best_b, dd, "EASE best weights");
    IA_CALL_GOTO(ia_agree(comm, st));
    t = ia_time();
    double flops = 0;
    IA_CALL_GOTO(ia_ease_gram(comm, &d.train, g, &flops));
    MPI_Allreduce(MPI_IN_PLACE, &flops, 1, MPI_DOUBLE, MPI_SUM, comm);
    r->t_gram = ia_time() - t;
    r->gram_flops = flops;
    ia_log_info("[train] gram XᵀX %lld×%lld: %.2f s", (long long)d.n_items, (long long)d.n_items,
                r->t_gram);
    ia_log_verbose("[train] gram: %.3g integer adds over all ranks", flops);
    int best = -1;
    for (int k = 0; k < n; k++) {
      r->lambdas[k] = grid[k];
      t = ia_time();
      st = ia_ease_fit(g, d.n_items, grid[k], b);
      int failed = st != IA_OK;
      MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, comm);
      if (failed && n > 1 && (st == IA_OK || st == IA_ERR_NOTSPD)) {
        ia_log_warn("skipping λ = %g: %s", grid[k], ia_error_message());
        ia_error_clear();
        r->skipped[k] = 1;
        st = IA_OK;
        continue;
      }
      IA_CALL_GOTO(ia_agree(comm, st));
      double tf = ia_time() - t;
      r->t_fit += tf;
      r->fit_flops += (double)d.n_items * d.n_items * d.n_items; /* potrf d³/3 + potri 2d³/3 */
      t = ia_time();
      sc.b = b;
      IA_CALL_GOTO(evaluate(comm, &sc, ev, scores, 0, &r->val[k]));
      double te = ia_time() - t;
      r->t_val += te;
      char what[48];
      snprintf(what, sizeof what, "val λ=%g", grid[k]);
      log_metrics(what, &r->val[k], tf + te);
      if (best < 0 || r->val[k].v[IA_HR100] > r->val[best].v[IA_HR100]) {
        best = k;
        memcpy(best_b, b, sizeof(double) * dd);
      }
    }
    IA_CHECK_GOTO(best >= 0, IA_ERR_NOTSPD, "every λ of the grid failed to factor");
    r->best_lambda = grid[best];
    sc.b = best_b;
  }
  t = ia_time();
  IA_CALL_GOTO(evaluate(comm, &sc, ev, scores, 1, &r->test));
  r->t_test = ia_time() - t;
  if (is_ease) {
    char what[48];
    snprintf(what, sizeof what, "test λ=%g", r->best_lambda);
    log_metrics(what, &r->test, r->t_test);
  } else {
    log_metrics("test", &r->test, r->t_test);
  }
  r->t_total = ia_time() - t0;
done:
  free(scores);
  free(g);
  free(b);
  free(best_b);
  ia_evaluator_free(&ev);
  ia_dataset_free(&d);
  return st;
}

void ia_train_print(const ia_train_result *r) {
  ia_log_info("\nmodel %s, %lld users × %lld items, %d rank(s)%s", r->model, (long long)r->users,
              (long long)r->items, r->ranks,
              r->has_lambda ? ", λ chosen by validation HR@100" : "");
  char head[256] = "", line[256];
  int w = snprintf(head, sizeof head, "%-14s", "");
  for (int m = 0; m < IA_N_METRICS; m++)
    w += snprintf(head + w, sizeof head - (size_t)w, " %9s", ia_metric_names[m]);
  ia_log_info("%s", head);
  for (int k = 0; k < r->n_lambdas + 1; k++) {
    const ia_metrics *m = k < r->n_lambdas ? &r->val[k] : &r->test;
    char label[32];
    if (k == r->n_lambdas)
      snprintf(label, sizeof label, "test");
    else if (r->has_lambda)
      snprintf(label, sizeof label, "val λ=%g%s", r->lambdas[k],
               r->lambdas[k] == r->best_lambda ? " *" : "");
    else
      snprintf(label, sizeof label, "val");
    if (k < r->n_lambdas && r->skipped[k]) {
      ia_log_info("%-14s skipped (not positive definite)", label);
      continue;
    }
    w = snprintf(line, sizeof line, "%-14s", label);
    for (int q = 0; q < IA_N_METRICS; q++)
      w += snprintf(line + w, sizeof line - (size_t)w, q == IA_AUC ? " %9.4f" : " %9.3f",
                    m->v[q]);
    ia_log_info("%s", line);
  }
  ia_log_info("time: read %.2f s, gram %.2f s, fit %.2f s (%.1f GFLOP/s), validation %.2f s, "
              "test %.2f s, total %.2f s",
              r->t_read, r->t_gram, r->t_fit, r->t_fit > 0 ? r->fit_flops / r->t_fit / 1e9 : 0.0,
              r->t_val, r->t_test, r->t_total);
}

static cJSON *metrics_json(const ia_metrics *m) {
  cJSON *o = cJSON_CreateObject();
  for (int q = 0; q < IA_N_METRICS; q++) cJSON_AddNumberToObject(o, ia_metric_names[q], m->v[q]);
  cJSON_AddNumberToObject(o, "users", (double)m->users);
  return o;
}

ia_status ia_train_write_json(const ia_train_opts *o, const ia_train_result *r, const char *path) {
  ia_status st = IA_OK;
  char *text = NULL, tmp[4096] = "";
  FILE *f = NULL;
  cJSON *root = cJSON_CreateObject();
  IA_CHECK(root, IA_ERR_NOMEM, "out of memory building JSON");
  cJSON_AddStringToObject(root, "model", r->model);
  if (r->has_lambda)
    cJSON_AddNumberToObject(root, "best_lambda", r->best_lambda);
  else
    cJSON_AddNullToObject(root, "best_lambda");
  cJSON *val = cJSON_AddObjectToObject(root, "val");
  for (int k = 0; k < r->n_lambdas; k++) {
    char key[32];
    snprintf(key, sizeof key, r->has_lambda ? "%.17g" : "none", r->lambdas[k]);
    if (r->skipped[k])
      cJSON_AddStringToObject(val, key, "skipped: not positive definite");
    else
      cJSON_AddItemToObject(val, key, metrics_json(&r->val[k]));
  }
  cJSON_AddItemToObject(root, "test", metrics_json(&r->test));
  cJSON *tm = cJSON_AddObjectToObject(root, "timings_s");
  cJSON_AddNumberToObject(tm, "read", r->t_read);
  cJSON_AddNumberToObject(tm, "gram", r->t_gram);
  cJSON_AddNumberToObject(tm, "fit", r->t_fit);
  cJSON_AddNumberToObject(tm, "validation", r->t_val);
  cJSON_AddNumberToObject(tm, "test", r->t_test);
  cJSON_AddNumberToObject(tm, "total", r->t_total);
  cJSON *ds = cJSON_AddObjectToObject(root, "dataset");
  cJSON_AddStringToObject(ds, "path", o->data);
  cJSON_AddStringToObject(ds, "source_sha256", r->sha256);
  cJSON_AddNumberToObject(ds, "users", (double)r->users);
  cJSON_AddNumberToObject(ds, "items", (double)r->items);
  cJSON_AddNumberToObject(ds, "train_nnz", (double)r->train_nnz);
  cJSON_AddNumberToObject(root, "ranks", r->ranks);
  cJSON_AddStringToObject(root, "command", o->command ? o->command : "");
  cJSON_AddStringToObject(root, "infae_version", IA_VERSION);
  text = cJSON_Print(root);
  IA_CHECK_GOTO(text, IA_ERR_NOMEM, "out of memory printing JSON");
  snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
  f = fopen(tmp, "w");
  IA_CHECK_GOTO(f, IA_ERR_IO, "cannot write %s", tmp);
  int ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
  ok = (fclose(f) == 0) && ok;
  f = NULL;
  IA_CHECK_GOTO(ok, IA_ERR_IO, "cannot write %s", tmp);
  IA_CHECK_GOTO(rename(tmp, path) == 0, IA_ERR_IO, "cannot rename %s to %s", tmp, path);
done:
  if (st != IA_OK && tmp[0]) remove(tmp);
  free(text);
  cJSON_Delete(root);
  return st;
}
