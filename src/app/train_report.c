/* What `train` reports: the readable table and the metrics JSON
 * (infae/app/train.h). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infae/app/train.h"
#include "infae/core/log.h"
#include "infae/core/paths.h"
#include "infae/io/provenance.h"

void ia_train_print(const ia_train_result *r) {
  const char *sel = r->by_epoch ? "epoch" : "λ";
  ia_log_info("\nmodel %s, %lld users × %lld items, %d rank(s)%s%s", r->model, (long long)r->users,
              (long long)r->items, r->ranks, r->has_lambda ? ", " : "",
              r->has_lambda ? (r->by_epoch ? "epoch chosen by validation HR@100"
                                           : "λ chosen by validation HR@100")
                            : "");
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
      snprintf(label, sizeof label, "val %s=%g%s", sel, r->lambdas[k],
               r->lambdas[k] == r->best_lambda ? " *" : "");
    else
      snprintf(label, sizeof label, "val");
    if (k < r->n_lambdas && r->skipped[k]) {
      ia_log_info("%-14s skipped (not positive definite)", label);
      continue;
    }
    w = snprintf(line, sizeof line, "%-14s", label);
    for (int q = 0; q < IA_N_METRICS; q++)
      w += snprintf(line + w, sizeof line - (size_t)w, q == IA_AUC ? " %9.4f" : " %9.3f", m->v[q]);
    ia_log_info("%s", line);
  }
  ia_log_info(
      "time: read %.2f s, gram %.2f s, fit %.2f s (%.1f GFLOP/s), validation %.2f s, "
      "test %.2f s, total %.2f s",
      r->t_read, r->t_gram, r->t_fit, r->t_fit > 0 ? r->fit_flops / r->t_fit / 1e9 : 0.0, r->t_val,
      r->t_test, r->t_total);
}

static cJSON *metrics_json(const ia_metrics *m) {
  cJSON *o = cJSON_CreateObject();
  for (int q = 0; q < IA_N_METRICS; q++) cJSON_AddNumberToObject(o, ia_metric_names[q], m->v[q]);
  cJSON_AddNumberToObject(o, "users", (double)m->users);
  return o;
}

char *ia_train_json(const ia_train_opts *o, const ia_train_result *r) {
  cJSON *root = cJSON_CreateObject();
  if (!root) return NULL;
  cJSON_AddStringToObject(root, "model", r->model);
  if (r->by_epoch)
    cJSON_AddNumberToObject(root, "best_epoch", r->best_lambda);
  else if (r->has_lambda)
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
  cJSON_AddNumberToObject(root, "peak_rss_bytes", r->peak_rss);
  ia_json_provenance(root, o->data, r->sha256, r->users, r->items, r->train_nnz, r->ranks,
                     o->command);
  if (!strcmp(r->model, "recoder")) {
    const ia_recoder_opts *q = &o->recoder;
    cJSON *x = cJSON_AddObjectToObject(root, "recoder");
    cJSON *h = cJSON_AddArrayToObject(x, "hidden");
    for (int l = 0; l < q->n_hidden; l++) cJSON_AddItemToArray(h, cJSON_CreateNumber(q->hidden[l]));
    cJSON_AddStringToObject(x, "activation", ia_act_name(q->act));
    cJSON_AddStringToObject(x, "loss", ia_loss_name(q->loss));
    cJSON_AddNumberToObject(x, "dropout", q->dropout);
    cJSON_AddNumberToObject(x, "confidence", q->confidence);
    cJSON_AddNumberToObject(x, "lr", q->lr);
    cJSON_AddNumberToObject(x, "batch", (double)q->batch);
    cJSON_AddNumberToObject(x, "epochs", q->epochs);
    cJSON_AddNumberToObject(x, "seed", (double)o->seed);
    cJSON_AddNumberToObject(x, "weights", (double)r->params);
    cJSON_AddNumberToObject(x, "fit_users", (double)r->fit_users);
    cJSON_AddNumberToObject(x, "steps", (double)r->steps_done);
    cJSON_AddNumberToObject(x, "steps_per_s", r->steps_per_s);
    cJSON_AddNumberToObject(x, "final_epoch_loss", r->final_loss);
    cJSON_AddNumberToObject(x, "train_flops", r->fit_flops);
    cJSON_AddNumberToObject(x, "train_gflops_per_s",
                            r->t_fit > 0 ? r->fit_flops / r->t_fit / 1e9 : 0.0);
    cJSON_AddStringToObject(x, "device", r->device);
  }
  if (!strcmp(r->model, "infae")) {
    cJSON *x = cJSON_AddObjectToObject(root, "infae");
    cJSON_AddStringToObject(x, "precision", r->precision == IA_FP64 ? "fp64" : "fp32");
    cJSON_AddStringToObject(x, "device", r->device);
    cJSON_AddNumberToObject(x, "trace_K", r->trace_k);
    cJSON_AddNumberToObject(x, "lambda_prime", r->lambda_prime);
    cJSON_AddStringToObject(x, "fit", r->nystrom ? "nystrom" : "exact");
    cJSON_AddNumberToObject(x, "fit_users", (double)r->fit_users);
    char grid[32];
    snprintf(grid, sizeof grid, "%dx%d", r->nprow, r->npcol);
    cJSON_AddStringToObject(x, "grid", grid);
    cJSON_AddNumberToObject(x, "block_size", r->block_size);
    cJSON_AddNumberToObject(x, "planned_bytes_per_rank", r->bytes_per_rank);
    if (r->n_kernel > 0) {
      cJSON *ks = cJSON_AddArrayToObject(x, "K_samples_by_original_user_id");
      for (int k = 0; k < r->n_kernel; k++) {
        cJSON *e = cJSON_CreateArray();
        cJSON_AddItemToArray(e, cJSON_CreateString(r->kernel_ids[k][0]));
        cJSON_AddItemToArray(e, cJSON_CreateString(r->kernel_ids[k][1]));
        cJSON_AddItemToArray(e, cJSON_CreateNumber(r->kernel_values[k]));
        cJSON_AddItemToArray(ks, e);
      }
    }
    cJSON *steps = cJSON_AddObjectToObject(x, "steps");
    const char *names[] = {"read",    "gram",      "factor",    "solve",
                           "predict", "test_gram", "test_gemm", "redistribute"};
    const ia_step *v[] = {&r->steps.read,      &r->steps.gram,        &r->steps.factor,
                          &r->steps.solve,     &r->steps.predict,     &r->steps.test_gram,
                          &r->steps.test_gemm, &r->steps.redistribute};
    for (int k = 0; k < 8; k++) {
      cJSON *st = cJSON_AddObjectToObject(steps, names[k]);
      cJSON_AddNumberToObject(st, "seconds", v[k]->seconds);
      cJSON_AddNumberToObject(st, "flops", v[k]->flops);
      cJSON_AddNumberToObject(st, "gflops_per_s",
                              v[k]->seconds > 0 ? v[k]->flops / v[k]->seconds / 1e9 : 0.0);
    }
  }
  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  return text;
}

ia_status ia_train_write_json(const ia_train_opts *o, const ia_train_result *r, const char *path) {
  ia_status st = IA_OK;
  char tmp[4096] = "";
  FILE *f = NULL;
  char *text = ia_train_json(o, r);

  IA_CHECK_GOTO(text, IA_ERR_NOMEM, "out of memory printing JSON");
  IA_CALL_GOTO(ia_tmp_name(path, 0, tmp, sizeof tmp));
  f = fopen(tmp, "w");
  IA_CHECK_GOTO(f, IA_ERR_IO, "cannot write %s", tmp);
  int ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
  ok = (fclose(f) == 0) && ok;
  f = NULL;
  IA_CHECK_GOTO(ok, IA_ERR_IO, "cannot write %s", tmp);
done:
  if (tmp[0]) st = ia_tmp_commit(tmp, path, st);
  free(text);
  return st;
}
