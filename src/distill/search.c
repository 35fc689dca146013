/* distill --search: Distill-CF over a grid of configurations, the summary
 * chosen by the validation metric of --select (infae/distill/distill.h). */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "distill/run.h"
#include "distill/summary.h"
#include "infae/core/log.h"
#include "infae/core/ntk.h"
#include "infae/core/paths.h"
#include "infae/distill/distill.h"
#include "infae/eval/metrics.h"
#include "io/h5util.h"

const double ia_search_taus[4] = {0.3, 0.5, 0.7, 5};
const double ia_search_c_cards[2] = {1e-3, 10};
const double ia_search_gammas[3] = {200, 500, 700};

/* What the search keeps of one configuration's summary. */
typedef struct {
  double tau, c_card;
  int gamma;
  int steps_done, best_step;
  double val, test[IA_N_METRICS], binary_ndcg10, binary_items, seconds;
  int reused; /* found in the search folder, not run again */
  char file[4096];
} config;

/* The results stored in a finished configuration's summary, made with the
 * options of o (else IA_ERR_ARG: it is made again). Collective. */
static ia_status read_done(MPI_Comm comm, const ia_distill_opts *o, int select, config *c) {
  const char *path = c->file;
  hid_t file = H5I_INVALID_HID, g = H5I_INVALID_HID, d = H5I_INVALID_HID, sp = H5I_INVALID_HID;
  char *rule = NULL;
  ia_status st = ia_h5_open(comm, path, IA_SUMMARY_FORMAT, IA_SUMMARY_VERSION, "summary",
                            "`infae_mpi distill`", &file);
  IA_CALL(st);
  int64_t v = 0, budget = 0, steps = 0, seed = 0, patience = 0, batch = 0, revision = 1;
  int depth = 1, sel = IA_HR100;
  double lr = 0;
  IA_H5(g = H5Gopen2(file, "hyper", H5P_DEFAULT));
  IA_CALL_GOTO(ia_h5_read_attr_i64(g, path, "budget", &budget));
  IA_CALL_GOTO(ia_h5_read_attr_i64(g, path, "steps", &steps));
  IA_CALL_GOTO(ia_h5_read_attr_i64(g, path, "seed", &seed));
  IA_CALL_GOTO(ia_h5_read_attr_i64(g, path, "patience", &patience));
  IA_CALL_GOTO(ia_h5_read_attr_i64(g, path, "batch", &batch));
  IA_CALL_GOTO(ia_h5_read_attr_f64(g, path, "learning_rate", &lr));
  IA_CALL_GOTO(ia_h5_read_depth(g, path, &depth));
  IA_CALL_GOTO(ia_h5_read_select(g, path, &sel));
  if (H5Aexists(g, "loop_revision") > 0)
    IA_CALL_GOTO(ia_h5_read_attr_i64(g, path, "loop_revision", &revision));
  IA_CHECK_GOTO(revision == IA_DISTILL_LOOP_REVISION, IA_ERR_ARG,
                "%s was made by an earlier Distill-CF loop (revision %lld, this one %d)", path,
                (long long)revision, IA_DISTILL_LOOP_REVISION);
  IA_CHECK_GOTO(budget == o->budget && steps == o->steps && seed == (int64_t)o->seed &&
                    patience == o->patience && batch == o->batch && lr == o->lr &&
                    depth == ia_ntk_depth(o->depth) && sel == select,
                IA_ERR_ARG,
                "%s was made with other options (budget, steps, seed, patience, "
                "batch, learning rate, depth or selection metric)",
                path);
  /* Files from before --select chose by HR@100, and have only its best. */
  IA_CALL_GOTO(ia_h5_read_attr_f64(
      g, path, H5Aexists(g, "best_val") > 0 ? "best_val" : "best_val_HR@100", &c->val));
  IA_CALL_GOTO(ia_h5_read_attr_i64(g, path, "steps_done", &v));
  c->steps_done = (int)v;
  IA_CALL_GOTO(ia_h5_read_attr_i64(g, path, "best_step", &v));
  c->best_step = (int)v;
  IA_CALL_GOTO(ia_h5_read_attr_f64(g, path, "seconds", &c->seconds));
  H5Gclose(g);
  IA_H5(g = H5Gopen2(file, "metrics/infae", H5P_DEFAULT));
  for (int q = 0; q < IA_N_METRICS; q++) {
    char key[64];
    snprintf(key, sizeof key, "test_%s", ia_metric_names[q]);
    IA_CALL_GOTO(ia_h5_read_attr_f64(g, c->file, key, &c->test[q]));
  }
  H5Gclose(g);
  IA_H5(g = H5Gopen2(file, "metrics/binary_infae", H5P_DEFAULT));
  IA_CALL_GOTO(ia_h5_read_attr_f64(g, path, "test_NDCG@10", &c->binary_ndcg10));
  H5Gclose(g);
  IA_H5(g = H5Gopen2(file, "binary", H5P_DEFAULT));
  IA_CALL_GOTO(ia_h5_read_attr_str(g, path, "rule", &rule));
  IA_CHECK_GOTO(!strcmp(rule, ia_binary_rule_names[o->binary_rule]), IA_ERR_ARG,
                "%s has its /binary by the rule %s, not %s", path, rule,
                ia_binary_rule_names[o->binary_rule]);
  if (o->binary_rule == IA_BINARY_THRESHOLD) {
    double thr = 0;
    IA_CALL_GOTO(ia_h5_read_attr_f64(g, path, "threshold", &thr));
    IA_CHECK_GOTO(thr == (o->threshold > 0 ? o->threshold : 0.5), IA_ERR_ARG,
                  "%s has its /binary at another threshold (%g)", path, thr);
  }
  IA_H5(d = H5Dopen2(g, "indices", H5P_DEFAULT));
  IA_H5(sp = H5Dget_space(d));
  hsize_t nnz = 0;
  IA_CHECK_GOTO(H5Sget_simple_extent_dims(sp, &nnz, NULL) == 1, IA_ERR_FORMAT,
                "%s: /binary/indices is not one-dimensional", path);
  c->binary_items = (double)nnz / (double)budget;
done:
  free(rule);
  if (sp >= 0) H5Sclose(sp);
  if (d >= 0) H5Dclose(d);
  if (g >= 0) H5Gclose(g);
  H5Fclose(file);
  return st;
}

/* dst ← src, byte for byte, through a temporary file renamed at the end.
 * Rank 0. */
static ia_status copy_file(const char *src, const char *dst) {
  char tmp[4096];
  IA_CALL(ia_tmp_name(dst, 0, tmp, sizeof tmp));
  FILE *in = fopen(src, "rb"), *out = in ? fopen(tmp, "wb") : NULL;
  char buf[1 << 16];
  size_t n;
  int ok = in && out;
  while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, n, out) == n;
  ok = ok && !ferror(in);
  if (in) fclose(in);
  if (out && fclose(out) != 0) ok = 0;
  if (ok && rename(tmp, dst) != 0) ok = 0;
  if (!ok) remove(tmp);
  IA_CHECK(ok, IA_ERR_IO, "cannot copy %s to %s", src, dst);
  return IA_OK;
}

static ia_status write_csv(const char *path, const config *c, int n, int chosen, int select) {
  char tmp[4096];
  IA_CALL(ia_tmp_name(path, 0, tmp, sizeof tmp));
  FILE *f = fopen(tmp, "w");
  IA_CHECK(f, IA_ERR_IO, "cannot write %s", tmp);
  fprintf(f, "tau,c_card,gamma,steps_done,best_step,val_%s", ia_metric_names[select]);
  for (int q = 0; q < IA_N_METRICS; q++) fprintf(f, ",test_%s", ia_metric_names[q]);
  fprintf(f, ",binary_test_NDCG@10,binary_items,seconds,chosen,summary\n");
  for (int k = 0; k < n; k++) {
    fprintf(f, "%g,%g,%d,%d,%d,%.6f", c[k].tau, c[k].c_card, c[k].gamma, c[k].steps_done,
            c[k].best_step, c[k].val);
    for (int q = 0; q < IA_N_METRICS; q++) fprintf(f, ",%.6f", c[k].test[q]);
    fprintf(f, ",%.6f,%.1f,%.2f,%d,%s\n", c[k].binary_ndcg10, c[k].binary_items, c[k].seconds,
            k == chosen, c[k].file);
  }
  int ok = fclose(f) == 0 && rename(tmp, path) == 0;
  IA_CHECK(ok, IA_ERR_IO, "cannot write %s", path);
  return IA_OK;
}

/* The numbers a configuration's group shares with every rank. */
enum { SHARED = 7 + IA_N_METRICS };
static void pack(const config *c, double *v) {
  double head[7] = {c->val,           c->steps_done,   c->best_step, c->seconds,
                    c->binary_ndcg10, c->binary_items, c->reused};
  memcpy(v, head, sizeof head);
  memcpy(v + SHARED - IA_N_METRICS, c->test, sizeof c->test);
}
static void unpack(const double *v, config *c) {
  c->val = v[0];
  c->steps_done = (int)v[1];
  c->best_step = (int)v[2];
  c->seconds = v[3];
  c->binary_ndcg10 = v[4];
  c->binary_items = v[5];
  c->reused = (int)v[6];
  memcpy(c->test, v + SHARED - IA_N_METRICS, sizeof c->test);
}

/* One configuration on the ranks of sub: read back when an earlier run
 * finished it, else run (from its checkpoint when there is one).
 * *interrupted when a signal stopped it. Collective on sub. */
static ia_status run_config(MPI_Comm sub, const ia_distill_opts *o, int select, config *c,
                            int *interrupted, ia_distill_result *r) {
  int rank;
  MPI_Comm_rank(sub, &rank);
  int there = rank == 0 ? access(c->file, R_OK) == 0 : 0;
  MPI_Bcast(&there, 1, MPI_INT, 0, sub);
  if (there) { /* a finished configuration of an earlier run */
    if (ia_agree(sub, read_done(sub, o, select, c)) == IA_OK) {
      c->reused = 1;
      ia_log_info("[search] %s was there: reused (validation %s %.3f)", c->file,
                  ia_metric_names[select], c->val);
      return IA_OK;
    }
    ia_log_warn("[search] %s; it is made again", ia_error_message());
    ia_error_clear();
  }
  ia_distill_opts ok = *o;
  ok.out = c->file;
  ok.tau = c->tau;
  ok.c_card = c->c_card;
  ok.samples = c->gamma;
  ok.metrics_json = NULL;
  ok.checkpoint = NULL; /* <file>.ckpt.h5: a run stopped by a signal goes on from it */
  char ck[4200];
  snprintf(ck, sizeof ck, "%s.ckpt.h5", c->file);
  ok.resume = rank == 0 ? access(ck, R_OK) == 0 : 0;
  MPI_Bcast(&ok.resume, 1, MPI_INT, 0, sub);
  memset(r, 0, sizeof *r);
  IA_CALL(ia_distill(sub, &ok, r));
  *interrupted = r->interrupted;
  if (r->interrupted) return IA_OK;
  c->val = r->best_val;
  c->steps_done = r->steps_done;
  c->best_step = r->best_step;
  c->seconds = r->seconds;
  memcpy(c->test, r->infae.test.v, sizeof c->test);
  c->binary_ndcg10 = r->binary_infae.test.v[IA_NDCG10];
  c->binary_items = r->binary_items;
  return IA_OK;
}

ia_status ia_distill_search(MPI_Comm comm, const ia_distill_opts *o, const ia_search_grid *g,
                            const char *dir, ia_distill_result *r) {
  int rank, size, n = g->n_taus * g->n_c_cards * g->n_gammas, groups = g->groups ? g->groups : 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  IA_CHECK(n >= 1, IA_ERR_ARG, "--search: an empty grid");
  int select;
  IA_CALL(ia_agree(comm, ia_select_metric(o->select, &select)));
  const char *sel_name = ia_metric_names[select];
  IA_CHECK(groups >= 1 && groups <= size, IA_ERR_ARG,
           "--search-groups must be between 1 and the number of ranks (%d; got %d)", size, groups);
  config *c = calloc((size_t)n, sizeof *c);
  double *shared = calloc((size_t)n * SHARED, sizeof *shared);
  int *order = calloc((size_t)n, sizeof *order), k = 0, chosen = -1, interrupted = 0;
  ia_status st = c && shared && order
                     ? IA_OK
                     : ia_error_set(IA_ERR_NOMEM, __FILE__, __LINE__,
                                    "out of memory for the search's configurations");
  IA_CALL_GOTO(ia_agree(comm, st));
  for (int a = 0; a < g->n_taus; a++)
    for (int b = 0; b < g->n_c_cards; b++)
      for (int e = 0; e < g->n_gammas; e++, k++) {
        c[k].tau = g->taus[a];
        c[k].c_card = g->c_cards[b];
        c[k].gamma = (int)g->gammas[e];
        snprintf(c[k].file, sizeof c[k].file, "%s/tau%g_card%g_gamma%d.h5", dir, c[k].tau,
                 c[k].c_card, c[k].gamma);
      }
  /* Two configurations of one file would run twice, or in two groups at
   * once: refused before the folder is made (every rank finds the same). */
  for (k = 0; k < n; k++)
    for (int j = 0; j < k; j++) {
      if (strcmp(c[j].file, c[k].file) != 0) continue;
      IA_CHECK_GOTO(c[j].tau != c[k].tau || c[j].c_card != c[k].c_card, IA_ERR_ARG,
                    "--search: τ %g, c_card %g, γ %d is given twice", c[k].tau, c[k].c_card,
                    c[k].gamma);
      IA_CHECK_GOTO(0, IA_ERR_ARG,
                    "--search: τ %.17g, c_card %.17g and τ %.17g, c_card %.17g (γ %d) name the "
                    "same configuration file %s (values are told apart to 6 significant digits)",
                    c[j].tau, c[j].c_card, c[k].tau, c[k].c_card, c[k].gamma, c[k].file);
    }
  char csv[4096];
  snprintf(csv, sizeof csv, "%s/search.csv", dir);
  int made = rank == 0 ? mkdir(dir, 0777) == 0 || access(dir, W_OK) == 0 : 1;
  MPI_Bcast(&made, 1, MPI_INT, 0, comm);
  IA_CHECK_GOTO(made, IA_ERR_IO, "--search-dir %s: cannot create or write it", dir);
  ia_path inputs[] = {{"data", o->data}}, outputs[] = {{"out", o->out}, {"search-dir", csv}};
  IA_CALL_GOTO(ia_paths_check(comm, inputs, 1, outputs, 2));
  /* Groups of consecutive ranks; each takes the next configuration not yet
   * taken from a counter on rank 0 (an MPI atomic), so a group whose runs
   * stop early by patience takes more of them. They are taken largest γ
   * first (a step costs about γ), which shortens the tail where one group
   * runs alone. A signal between two configurations (or while a group waits
   * for the others) stops the search there. */
  for (k = 0; k < n; k++) order[k] = k;
  for (k = 1; k < n; k++) /* stable: equal γ keep the grid's order */
    for (int j = k; j > 0 && c[order[j]].gamma > c[order[j - 1]].gamma; j--) {
      int t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  int group = (int)((int64_t)rank * groups / size), sub_rank;
  MPI_Comm sub = MPI_COMM_NULL;
  MPI_Comm_split(comm, group, rank, &sub);
  MPI_Comm_rank(sub, &sub_rank);
  int *next = NULL;
  MPI_Win win = MPI_WIN_NULL;
  MPI_Win_allocate(rank == 0 ? (MPI_Aint)sizeof(int) : 0, sizeof(int), MPI_INFO_NULL, comm, &next,
                   &win);
  if (rank == 0) {
    MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, win);
    *next = 0;
    MPI_Win_unlock(0, win);
  }
  MPI_Barrier(comm);
  distill_saved_signals saved;
  distill_catch_signals(&saved);
  if (groups > 1)
    ia_log_info(
        "[search] %d configurations over %d groups of about %d ranks, each group taking the "
        "next one; the progress lines are group 0's",
        n, groups, size / groups);
  while (st == IA_OK && !interrupted) {
    if (distill_signalled(sub)) {
      interrupted = 1;
      break;
    }
    if (sub_rank == 0) {
      int one = 1;
      MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, win);
      MPI_Fetch_and_op(&one, &k, MPI_INT, 0, 0, MPI_SUM, win);
      MPI_Win_unlock(0, win);
    }
    MPI_Bcast(&k, 1, MPI_INT, 0, sub);
    if (k >= n) break;
    k = order[k];
    ia_log_info("[search] configuration %d/%d: τ %g, c_card %g, γ %d", k + 1, n, c[k].tau,
                c[k].c_card, c[k].gamma);
    st = run_config(sub, o, select, &c[k], &interrupted, r);
    if (st == IA_OK && !interrupted && sub_rank == 0) pack(&c[k], shared + (size_t)k * SHARED);
  }
  MPI_Comm_free(&sub);
  MPI_Win_free(&win);
  /* Every group's results (and failures, and signals) on every rank. */
  st = ia_agree(comm, st);
  MPI_Allreduce(MPI_IN_PLACE, &interrupted, 1, MPI_INT, MPI_MAX, comm);
  distill_restore_signals(&saved);
  if (st == IA_OK && interrupted) { /* the checkpoints resume them */
    ia_log_info("[search] interrupted: rerun the same command to go on");
    r->interrupted = 1;
  }
  if (st == IA_OK && !interrupted) {
    MPI_Allreduce(MPI_IN_PLACE, shared, n * SHARED, MPI_DOUBLE, MPI_SUM, comm);
    for (k = 0; k < n; k++) {
      unpack(shared + (size_t)k * SHARED, &c[k]);
      ia_log_info(
          "[search] τ %g, c_card %g, γ %d: validation %s %.3f at step %d of %d, ∞-AE test "
          "NDCG@10 %.3f%s",
          c[k].tau, c[k].c_card, c[k].gamma, sel_name, c[k].val, c[k].best_step, c[k].steps_done,
          c[k].test[IA_NDCG10], c[k].reused ? " (reused)" : "");
    }
    /* Validation only: the first best. */
    for (k = 0; k < n; k++)
      if (chosen < 0 || c[k].val > c[chosen].val) chosen = k;
    if (rank == 0) st = write_csv(csv, c, n, chosen, select);
    if (rank == 0 && st == IA_OK) st = copy_file(c[chosen].file, o->out);
    st = ia_agree(comm, st);
  }
  if (st == IA_OK && !interrupted) {
    ia_log_info(
        "[search] chosen: τ %g, c_card %g, γ %d (validation %s %.3f; its ∞-AE test "
        "NDCG@10 %.3f) → %s; every configuration in %s",
        c[chosen].tau, c[chosen].c_card, c[chosen].gamma, sel_name, c[chosen].val,
        c[chosen].test[IA_NDCG10], o->out, csv);
    memset(r, 0, sizeof *r);
    r->best_val = c[chosen].val;
  }
done:
  free(order);
  free(c);
  free(shared);
  return st;
}
