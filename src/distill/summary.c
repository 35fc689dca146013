#include "distill/summary.h"

#include <cjson/cJSON.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infae/config.h"
#include "infae/core/paths.h"
#include "infae/eval/metrics.h"
#include "infae/io/dataset.h"
#include "io/h5util.h"

static ia_status metrics_group(hid_t file, const char *path, const char *name,
                               const ia_train_result *r) {
  ia_status st = IA_OK;
  hid_t g = H5I_INVALID_HID;
  double val[IA_MAX_LAMBDAS * IA_N_METRICS];
  IA_H5(g = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  /* Recoder's grid is its validated epochs. */
  IA_CALL_GOTO(ia_h5_attr_f64(g, path, r->by_epoch ? "best_epoch" : "best_lambda", r->best_lambda));
  for (int q = 0; q < IA_N_METRICS; q++) {
    char key[64];
    snprintf(key, sizeof key, "test_%s", ia_metric_names[q]);
    IA_CALL_GOTO(ia_h5_attr_f64(g, path, key, r->test.v[q]));
  }
  IA_CALL_GOTO(ia_h5_attr_i64(g, path, "test_users", r->test.users));
  IA_CALL_GOTO(ia_h5_write_array(g, path, r->by_epoch ? "epochs" : "lambdas", H5T_NATIVE_DOUBLE,
                                 r->n_lambdas, r->lambdas));
  for (int k = 0; k < r->n_lambdas; k++)
    for (int q = 0; q < IA_N_METRICS; q++)
      val[k * IA_N_METRICS + q] = r->skipped[k] ? NAN : r->val[k].v[q];
  IA_CALL_GOTO(ia_h5_write_matrix(g, path, "val", r->n_lambdas, IA_N_METRICS, val));
done:
  if (g >= 0) H5Gclose(g);
  return st;
}

static ia_status hyper_attrs(hid_t loc, const char *path, const ia_distill_opts *o) {
  ia_status st = IA_OK;
  IA_CALL_GOTO(ia_h5_attr_str(loc, path, "sampler", o->sampler));
  IA_CALL_GOTO(ia_h5_attr_i64(loc, path, "budget", o->budget));
  IA_CALL_GOTO(ia_h5_attr_i64(loc, path, "seed", (int64_t)o->seed));
  IA_CALL_GOTO(ia_h5_attr_i64(loc, path, "gumbel_samples", o->samples));
  IA_CALL_GOTO(ia_h5_attr_f64(loc, path, "tau", o->tau));
  IA_CALL_GOTO(ia_h5_attr_f64(loc, path, "learning_rate", o->lr));
  IA_CALL_GOTO(ia_h5_attr_f64(loc, path, "c_card", o->c_card));
  IA_CALL_GOTO(ia_h5_attr_i64(loc, path, "depth", o->depth));
  IA_CALL_GOTO(ia_h5_attr_i64(loc, path, "steps", o->steps));
  IA_CALL_GOTO(ia_h5_attr_i64(loc, path, "patience", o->patience));
  IA_CALL_GOTO(ia_h5_attr_str(loc, path, "select_metric", o->select ? o->select : "HR@100"));
  IA_CALL_GOTO(ia_h5_attr_i64(loc, path, "batch", o->batch));
  IA_CALL_GOTO(
      ia_h5_write_array(loc, path, "lambda_grid", H5T_NATIVE_DOUBLE, o->n_lambdas, o->lambdas));
done:
  return st;
}

/* The binarized summary (s->binary) as /binary: CSR, its rule (and the
 * validated rule's candidates). */
static ia_status binary_group(hid_t file, const char *path, const ia_summary *s, int gamma,
                              double thr, const char *select) {
  ia_status st = IA_OK;
  hid_t g = H5I_INVALID_HID;
  const ia_binary_choice *c = s->choice;
  IA_H5(g = H5Gcreate2(file, "binary", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (s->rule == IA_BINARY_THRESHOLD) {
    IA_CALL_GOTO(ia_h5_attr_str(g, path, "rule", ia_binary_rule_names[IA_BINARY_THRESHOLD]));
    IA_CALL_GOTO(ia_h5_attr_f64(g, path, "threshold", thr));
  } else {
    int validated = s->rule == IA_BINARY_VALIDATED && c && c->n > 0;
    IA_CALL_GOTO(
        ia_h5_attr_str(g, path, "rule",
                       ia_binary_rule_names[validated ? IA_BINARY_VALIDATED : IA_BINARY_EXPECTED]));
    IA_CALL_GOTO(ia_h5_attr_i64(g, path, "gumbel_samples", gamma));
    if (validated) {
      IA_CALL_GOTO(ia_h5_attr_i64(g, path, "items_per_row", c->items[c->chosen]));
      IA_CALL_GOTO(ia_h5_attr_str(g, path, "select_metric", select));
      IA_CALL_GOTO(ia_h5_write_array(g, path, "candidate_items", H5T_NATIVE_INT64, c->n, c->items));
      IA_CALL_GOTO(ia_h5_write_array(g, path, "candidate_val", H5T_NATIVE_DOUBLE, c->n, c->val));
      IA_CALL_GOTO(
          ia_h5_write_array(g, path, "candidate_lambda", H5T_NATIVE_DOUBLE, c->n, c->lambda));
    }
  }
  IA_CALL_GOTO(
      ia_h5_write_array(g, path, "indptr", H5T_NATIVE_INT64, s->mu + 1, s->binary->indptr));
  IA_CALL_GOTO(ia_h5_write_array(g, path, "indices", H5T_NATIVE_INT32, ia_csr_nnz(s->binary),
                                 s->binary->indices));
done:
  if (g >= 0) H5Gclose(g);
  return st;
}

ia_status ia_summary_write(const char *final, const ia_distill_opts *o, const ia_distill_result *r,
                           const ia_summary *s) {
  ia_status st = IA_OK;
  char path[4096];
  hid_t file = H5I_INVALID_HID, g = H5I_INVALID_HID;
  IA_CALL(ia_tmp_name(final, 0, path, sizeof path));
  file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  IA_CHECK_GOTO(file >= 0, IA_ERR_IO, "cannot create %s (directory missing or not writable?)",
                path);
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "format", IA_SUMMARY_FORMAT));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "version", IA_SUMMARY_VERSION));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "users", s->mu));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "items", s->d));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "dataset", o->data));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "dataset_source_sha256", s->meta->source_sha256));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "dataset_seed", (int64_t)s->meta->seed));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "dataset_users", s->meta->n_users));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "command", o->command));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "infae_version", IA_VERSION));
  IA_CALL_GOTO(ia_h5_write_matrix(file, path, "S", s->mu, s->d, s->s));
  if (s->z) IA_CALL_GOTO(ia_h5_write_matrix(file, path, "logits", s->mu, s->d, s->z));
  IA_CALL_GOTO(
      binary_group(file, path, s, o->samples, o->threshold, o->select ? o->select : "HR@100"));
  IA_CALL_GOTO(ia_h5_write_strings(file, path, "item_ids", s->d, s->item_ids));
  IA_CALL_GOTO(ia_h5_write_strings(file, path, "user_ids", s->mu, s->user_ids));
  IA_CALL_GOTO(ia_h5_write_array(file, path, "user_index", H5T_NATIVE_INT64, s->mu, s->user_index));
  IA_H5(g = H5Gcreate2(file, "hyper", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  IA_CALL_GOTO(hyper_attrs(g, path, o));
  IA_CALL_GOTO(ia_h5_attr_i64(g, path, "loop_revision", IA_DISTILL_LOOP_REVISION));
  IA_CALL_GOTO(ia_h5_attr_i64(g, path, "steps_done", r->steps_done));
  IA_CALL_GOTO(ia_h5_attr_i64(g, path, "best_step", r->best_step));
  IA_CALL_GOTO(ia_h5_attr_f64(g, path, "best_lambda", r->best_lambda));
  IA_CALL_GOTO(ia_h5_attr_f64(g, path, "best_val", r->best_val));
  IA_CALL_GOTO(ia_h5_attr_f64(g, path, "best_val_HR@100", r->best_hr100));
  IA_CALL_GOTO(ia_h5_attr_f64(g, path, "seconds", r->seconds));
  IA_CALL_GOTO(ia_h5_attr_f64(g, path, "adam_beta1", 0.9));
  IA_CALL_GOTO(ia_h5_attr_f64(g, path, "adam_beta2", 0.999));
  IA_CALL_GOTO(ia_h5_attr_f64(g, path, "adam_eps", 1e-8));
  H5Gclose(g);
  g = H5I_INVALID_HID;
  if (s->n_curve > 0) {
    IA_H5(g = H5Gcreate2(file, "curve", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    const char *names[IA_CURVE_COLS] = {"step", "loss", "val_HR@100", "val_NDCG@10", "lambda"};
    double *col = malloc(sizeof(double) * (size_t)s->n_curve);
    IA_CHECK_GOTO(col, IA_ERR_NOMEM, "out of memory writing the curve");
    for (int c = 0; c < IA_CURVE_COLS && st == IA_OK; c++) {
      for (int k = 0; k < s->n_curve; k++) col[k] = s->curve[k * IA_CURVE_COLS + c];
      st = ia_h5_write_array(g, path, names[c], H5T_NATIVE_DOUBLE, s->n_curve, col);
    }
    free(col);
    IA_CALL_GOTO(st);
    H5Gclose(g);
    g = H5I_INVALID_HID;
  }
  IA_H5(g = H5Gcreate2(file, "metrics", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  IA_CALL_GOTO(ia_h5_write_strings(g, path, "names", IA_N_METRICS, (char *const *)ia_metric_names));
  IA_CALL_GOTO(metrics_group(g, path, "infae", &r->infae));
  if (r->has_ease) IA_CALL_GOTO(metrics_group(g, path, "ease", &r->ease));
  IA_CALL_GOTO(metrics_group(g, path, "binary_infae", &r->binary_infae));
  if (r->has_ease) IA_CALL_GOTO(metrics_group(g, path, "binary_ease", &r->binary_ease));
  if (r->has_recoder) IA_CALL_GOTO(metrics_group(g, path, "recoder", &r->recoder));
  if (r->has_recoder) IA_CALL_GOTO(metrics_group(g, path, "binary_recoder", &r->binary_recoder));
done:
  if (g >= 0) H5Gclose(g);
  return ia_h5_close_rename(file, path, final, st);
}

ia_status ia_ckpt_write(const char *final, const ia_distill_opts *o, const char *sha256, int64_t mu,
                        int64_t d, const ia_ckpt *c) {
  ia_status st = IA_OK;
  char path[4096];
  hid_t file = H5I_INVALID_HID;
  IA_CALL(ia_tmp_name(final, 0, path, sizeof path));
  file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  IA_CHECK_GOTO(file >= 0, IA_ERR_IO, "cannot create %s (directory missing or not writable?)",
                path);
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "format", IA_CKPT_FORMAT));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "version", IA_CKPT_VERSION));
  IA_CALL_GOTO(ia_h5_attr_str(file, path, "dataset_source_sha256", sha256));
  IA_CALL_GOTO(hyper_attrs(file, path, o));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "next_step", c->next_step));
  IA_CALL_GOTO(ia_h5_attr_f64(file, path, "lambda", c->lambda));
  IA_CALL_GOTO(ia_h5_attr_f64(file, path, "best_val", c->best_val));
  IA_CALL_GOTO(ia_h5_attr_i64(file, path, "best_step", c->best_step));
  IA_CALL_GOTO(ia_h5_attr_f64(file, path, "best_lambda", c->best_lambda));
  IA_CALL_GOTO(ia_h5_write_matrix(file, path, "logits", mu, d, c->z));
  IA_CALL_GOTO(ia_h5_write_matrix(file, path, "adam_m", mu, d, c->m));
  IA_CALL_GOTO(ia_h5_write_matrix(file, path, "adam_v", mu, d, c->v));
  IA_CALL_GOTO(ia_h5_write_matrix(file, path, "best_S", mu, d, c->best_s));
  IA_CALL_GOTO(ia_h5_write_matrix(file, path, "best_logits", mu, d, c->best_z));
  IA_CALL_GOTO(ia_h5_write_matrix(file, path, "curve", c->n_curve, IA_CURVE_COLS, c->curve));
done:
  return ia_h5_close_rename(file, path, final, st);
}

static ia_status expect_i64(hid_t f, const char *path, const char *name, int64_t want) {
  int64_t v;
  IA_CALL(ia_h5_read_attr_i64(f, path, name, &v));
  IA_CHECK(v == want, IA_ERR_ARG,
           "%s: checkpoint has %s = %lld, this run %lld: resume with the "
           "options of the interrupted run",
           path, name, (long long)v, (long long)want);
  return IA_OK;
}

static ia_status expect_f64(hid_t f, const char *path, const char *name, double want) {
  double v;
  IA_CALL(ia_h5_read_attr_f64(f, path, name, &v));
  IA_CHECK(v == want, IA_ERR_ARG,
           "%s: checkpoint has %s = %.17g, this run %.17g: resume with "
           "the options of the interrupted run",
           path, name, v, want);
  return IA_OK;
}

ia_status ia_ckpt_read(const char *path, const ia_distill_opts *o, const char *sha256, int64_t mu,
                       int64_t d, ia_ckpt *c) {
  ia_status st = IA_OK;
  char *fmt = NULL, *sha = NULL;
  int64_t rows, cols;
  int sel, want;
  hid_t file = H5I_INVALID_HID;
  H5E_BEGIN_TRY { file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT); }
  H5E_END_TRY;
  IA_CHECK_GOTO(file >= 0, IA_ERR_IO, "cannot open the checkpoint %s for --resume", path);
  IA_CALL_GOTO(ia_h5_read_attr_str(file, path, "format", &fmt));
  IA_CHECK_GOTO(!strcmp(fmt, IA_CKPT_FORMAT), IA_ERR_FORMAT,
                "%s: format '%s' is not a Distill-CF checkpoint", path, fmt);
  IA_CALL_GOTO(expect_i64(file, path, "version", IA_CKPT_VERSION));
  IA_CALL_GOTO(ia_h5_read_attr_str(file, path, "dataset_source_sha256", &sha));
  IA_CHECK_GOTO(!strcmp(sha, sha256), IA_ERR_ARG,
                "%s: checkpoint of another dataset (source sha256 %.12s…, this one %.12s…)", path,
                sha, sha256);
  IA_CALL_GOTO(expect_i64(file, path, "budget", mu));
  IA_CALL_GOTO(expect_i64(file, path, "seed", (int64_t)o->seed));
  IA_CALL_GOTO(expect_i64(file, path, "gumbel_samples", o->samples));
  IA_CALL_GOTO(expect_f64(file, path, "tau", o->tau));
  IA_CALL_GOTO(expect_f64(file, path, "learning_rate", o->lr));
  IA_CALL_GOTO(expect_f64(file, path, "c_card", o->c_card));
  if (H5Aexists(file, "depth") > 0) IA_CALL_GOTO(expect_i64(file, path, "depth", o->depth));
  IA_CALL_GOTO(expect_i64(file, path, "batch", o->batch));
  IA_CALL_GOTO(expect_i64(file, path, "patience", o->patience));
  IA_CALL_GOTO(ia_h5_read_attr_i64(file, path, "next_step", &c->next_step));
  IA_CALL_GOTO(ia_h5_read_attr_f64(file, path, "lambda", &c->lambda));
  /* Checkpoints from before --select chose by HR@100 and name its best best_hr. */
  IA_CALL_GOTO(ia_select_metric(o->select, &want));
  IA_CALL_GOTO(ia_h5_read_select(file, path, &sel));
  IA_CHECK_GOTO(sel == want, IA_ERR_ARG,
                "%s: checkpoint selects by %s, this run by %s: resume with the options of the "
                "interrupted run",
                path, ia_metric_names[sel], ia_metric_names[want]);
  IA_CALL_GOTO(ia_h5_read_attr_f64(
      file, path, H5Aexists(file, "best_val") > 0 ? "best_val" : "best_hr", &c->best_val));
  IA_CALL_GOTO(ia_h5_read_attr_i64(file, path, "best_step", &c->best_step));
  IA_CALL_GOTO(ia_h5_read_attr_f64(file, path, "best_lambda", &c->best_lambda));
  IA_CALL_GOTO(ia_h5_read_matrix(file, path, "logits", mu, d, c->z));
  IA_CALL_GOTO(ia_h5_read_matrix(file, path, "adam_m", mu, d, c->m));
  IA_CALL_GOTO(ia_h5_read_matrix(file, path, "adam_v", mu, d, c->v));
  IA_CALL_GOTO(ia_h5_read_matrix(file, path, "best_S", mu, d, c->best_s));
  IA_CALL_GOTO(ia_h5_read_matrix(file, path, "best_logits", mu, d, c->best_z));
  IA_CALL_GOTO(ia_h5_matrix_dims(file, path, "curve", &rows, &cols));
  IA_CHECK_GOTO(cols == IA_CURVE_COLS && rows <= o->steps + 1 && c->next_step <= o->steps + 1,
                IA_ERR_ARG, "%s: checkpoint at step %lld does not fit --steps %d", path,
                (long long)c->next_step, o->steps);
  IA_CALL_GOTO(ia_h5_read_matrix(file, path, "curve", rows, cols, c->curve));
  c->n_curve = (int)rows;
done:
  if (file >= 0) H5Fclose(file);
  free(fmt);
  free(sha);
  return st;
}

ia_status ia_summary_read_sample(MPI_Comm comm, const char *path, const char *data, int binary,
                                 double **s, int64_t *mu, int64_t *items, int *depth) {
  ia_status st = IA_OK;
  hid_t file = H5I_INVALID_HID;
  char **ids = NULL, **user_ids = NULL, **item_ids = NULL;
  int64_t rows = 0, cols = 0, n_users = 0, n_items = 0;
  *s = NULL;
  IA_CALL(ia_h5_open(comm, path, IA_SUMMARY_FORMAT, IA_SUMMARY_VERSION, "summary",
                     "`infae_mpi distill`", &file));
  st = ia_h5_matrix_dims(file, path, "S", &rows, &cols);
  if (st == IA_OK) st = IA_ALLOC(*s, rows * cols + 1, "summary S");
  if (st == IA_OK && !binary) st = ia_h5_read_matrix(file, path, "S", rows, cols, *s);
  if (st == IA_OK && binary) { /* /binary's rows, 0/1 */
    ia_csr b = {0};
    st = ia_h5_read_csr(file, path, "binary", rows, cols, 0, rows, &b);
    if (st == IA_OK) ia_csr_dense(&b, *s);
    ia_csr_free(&b);
  }
  if (st == IA_OK) st = ia_h5_read_strings(file, path, "item_ids", 0, cols, cols, &ids);
  *depth = 1; /* summaries without /hyper: the paper's */
  if (st == IA_OK && H5Lexists(file, "hyper", H5P_DEFAULT) > 0) {
    hid_t g = H5Gopen2(file, "hyper", H5P_DEFAULT);
    if (g < 0)
      st = ia_error_set(IA_ERR_FORMAT, __FILE__, __LINE__, "%s: /hyper is not a group", path);
    else
      st = ia_h5_read_depth(g, path, depth);
    if (g >= 0) H5Gclose(g);
  }
  H5Fclose(file);
  IA_CALL_GOTO(ia_agree(comm, st));
  IA_CALL_GOTO(ia_dataset_dims(comm, data, &n_users, &n_items));
  IA_CALL_GOTO(ia_dataset_read_ids(comm, data, &user_ids, &item_ids));
  IA_CHECK_GOTO(cols == n_items, IA_ERR_ARG,
                "%s has %lld items, the dataset %s has %lld: a summary of another dataset?", path,
                (long long)cols, data, (long long)n_items);
  for (int64_t i = 0; i < n_items; i++)
    IA_CHECK_GOTO(!strcmp(ids[i], item_ids[i]), IA_ERR_ARG,
                  "%s: item %lld is '%s', in %s it is '%s': a summary of another dataset?", path,
                  (long long)i, ids[i], data, item_ids[i]);
  /* Every rank read the same S: the first bad entry is found alike everywhere. */
  for (int64_t k = 0; k < rows * cols; k++) {
    double v = (*s)[k];
    IA_CHECK_GOTO(v >= 0 && v <= 1, IA_ERR_FORMAT,
                  "%s: S[%lld, %lld] (row, column from 0; item '%s') is %g: a summary holds "
                  "values in [0, 1]",
                  path, (long long)(k / cols), (long long)(k % cols), ids[k % cols], v);
  }
  *mu = rows;
  *items = cols;
done:
  ia_ids_free(ids, cols);
  ia_ids_free(user_ids, n_users);
  ia_ids_free(item_ids, n_items);
  if (st != IA_OK) {
    free(*s);
    *s = NULL;
  }
  return st;
}
