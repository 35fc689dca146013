/* distill --search: Distill-CF over a grid of configurations, the summary
 * chosen by validation HR@100 (infae/distill/distill.h). */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
  double val_hr100, test[IA_N_METRICS], binary_ndcg10, seconds;
  int reused; /* found in the search folder, not run again */
  char file[4096];
} config;

/* The results stored in a finished configuration's summary, made with the
 * options of o (else IA_ERR_ARG: it is made again). Collective. */
static ia_status read_done(MPI_Comm comm, const ia_distill_opts *o, config *c) {
  const char *path = c->file;
  hid_t file = H5I_INVALID_HID, g = H5I_INVALID_HID;
  ia_status st = ia_h5_open(comm, path, IA_SUMMARY_FORMAT, IA_SUMMARY_VERSION, "summary",
                            "`infae_mpi distill`", &file);
  IA_CALL(st);
  int64_t v = 0, budget = 0, steps = 0, seed = 0, patience = 0, batch = 0, depth = 1;
  double lr = 0;
  IA_H5(g = H5Gopen2(file, "hyper", H5P_DEFAULT));
  IA_CALL_GOTO(ia_h5_read_attr_i64(g, path, "budget", &budget));
  IA_CALL_GOTO(ia_h5_read_attr_i64(g, path, "steps", &steps));
  IA_CALL_GOTO(ia_h5_read_attr_i64(g, path, "seed", &seed));
  IA_CALL_GOTO(ia_h5_read_attr_i64(g, path, "patience", &patience));
  IA_CALL_GOTO(ia_h5_read_attr_i64(g, path, "batch", &batch));
  IA_CALL_GOTO(ia_h5_read_attr_f64(g, path, "learning_rate", &lr));
  if (H5Aexists(g, "depth") > 0) IA_CALL_GOTO(ia_h5_read_attr_i64(g, path, "depth", &depth));
  IA_CHECK_GOTO(budget == o->budget && steps == o->steps && seed == (int64_t)o->seed &&
                    patience == o->patience && batch == o->batch && lr == o->lr &&
                    depth == ia_ntk_depth(o->depth),
                IA_ERR_ARG,
                "%s was made with other options (budget, steps, seed, patience, "
                "batch, learning rate or depth)",
                path);
  IA_CALL_GOTO(ia_h5_read_attr_f64(g, path, "best_val_HR@100", &c->val_hr100));
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
done:
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

static ia_status write_csv(const char *path, const config *c, int n, int chosen) {
  char tmp[4096];
  IA_CALL(ia_tmp_name(path, 0, tmp, sizeof tmp));
  FILE *f = fopen(tmp, "w");
  IA_CHECK(f, IA_ERR_IO, "cannot write %s", tmp);
  fprintf(f, "tau,c_card,gamma,steps_done,best_step,val_HR@100");
  for (int q = 0; q < IA_N_METRICS; q++) fprintf(f, ",test_%s", ia_metric_names[q]);
  fprintf(f, ",binary_test_NDCG@10,seconds,chosen,summary\n");
  for (int k = 0; k < n; k++) {
    fprintf(f, "%g,%g,%d,%d,%d,%.6f", c[k].tau, c[k].c_card, c[k].gamma, c[k].steps_done,
            c[k].best_step, c[k].val_hr100);
    for (int q = 0; q < IA_N_METRICS; q++) fprintf(f, ",%.6f", c[k].test[q]);
    fprintf(f, ",%.6f,%.2f,%d,%s\n", c[k].binary_ndcg10, c[k].seconds, k == chosen, c[k].file);
  }
  int ok = fclose(f) == 0 && rename(tmp, path) == 0;
  IA_CHECK(ok, IA_ERR_IO, "cannot write %s", path);
  return IA_OK;
}

ia_status ia_distill_search(MPI_Comm comm, const ia_distill_opts *o, const ia_search_grid *g,
                            const char *dir, ia_distill_result *r) {
  int rank, n = g->n_taus * g->n_c_cards * g->n_gammas;
  MPI_Comm_rank(comm, &rank);
  IA_CHECK(n >= 1, IA_ERR_ARG, "--search: an empty grid");
  char csv[4096];
  snprintf(csv, sizeof csv, "%s/search.csv", dir);
  int made = rank == 0 ? mkdir(dir, 0777) == 0 || access(dir, W_OK) == 0 : 1;
  MPI_Bcast(&made, 1, MPI_INT, 0, comm);
  IA_CHECK(made, IA_ERR_IO, "--search-dir %s: cannot create or write it", dir);
  ia_path inputs[] = {{"data", o->data}}, outputs[] = {{"out", o->out}, {"search-dir", csv}};
  IA_CALL(ia_paths_check(comm, inputs, 1, outputs, 2));
  config *c = calloc((size_t)n, sizeof *c);
  IA_CHECK(c, IA_ERR_NOMEM, "out of memory for the search's configurations");
  ia_status st = IA_OK;
  int k = 0, chosen = -1;
  for (int a = 0; a < g->n_taus; a++)
    for (int b = 0; b < g->n_c_cards; b++)
      for (int e = 0; e < g->n_gammas; e++, k++) {
        c[k].tau = g->taus[a];
        c[k].c_card = g->c_cards[b];
        c[k].gamma = (int)g->gammas[e];
        snprintf(c[k].file, sizeof c[k].file, "%s/tau%g_card%g_gamma%d.h5", dir, c[k].tau,
                 c[k].c_card, c[k].gamma);
      }
  for (k = 0; k < n && st == IA_OK; k++) {
    ia_log_info("[search] configuration %d/%d: τ %g, c_card %g, γ %d", k + 1, n, c[k].tau,
                c[k].c_card, c[k].gamma);
    int there = rank == 0 ? access(c[k].file, R_OK) == 0 : 0;
    MPI_Bcast(&there, 1, MPI_INT, 0, comm);
    if (there) { /* a finished configuration of an earlier run */
      st = ia_agree(comm, read_done(comm, o, &c[k]));
      if (st == IA_OK) {
        c[k].reused = 1;
        ia_log_info("[search] %s was there: reused (validation HR@100 %.3f)", c[k].file,
                    c[k].val_hr100);
        continue;
      }
      ia_log_warn("[search] %s; it is made again", ia_error_message());
      ia_error_clear();
      st = IA_OK;
    }
    ia_distill_opts ok = *o;
    ok.out = c[k].file;
    ok.tau = c[k].tau;
    ok.c_card = c[k].c_card;
    ok.samples = c[k].gamma;
    ok.metrics_json = NULL;
    ok.checkpoint = NULL; /* <file>.ckpt.h5: a run stopped by a signal goes on from it */
    char ck[4200];
    snprintf(ck, sizeof ck, "%s.ckpt.h5", c[k].file);
    ok.resume = rank == 0 ? access(ck, R_OK) == 0 : 0;
    MPI_Bcast(&ok.resume, 1, MPI_INT, 0, comm);
    memset(r, 0, sizeof *r);
    st = ia_distill(comm, &ok, r);
    if (st == IA_OK && r->interrupted) { /* its checkpoint resumes it */
      ia_log_info("[search] interrupted: rerun the same command to go on from configuration %d",
                  k + 1);
      free(c);
      return IA_OK;
    }
    if (st == IA_OK) {
      c[k].val_hr100 = r->best_hr100;
      c[k].steps_done = r->steps_done;
      c[k].best_step = r->best_step;
      c[k].seconds = r->seconds;
      memcpy(c[k].test, r->infae.test.v, sizeof c[k].test);
      c[k].binary_ndcg10 = r->binary_infae.test.v[IA_NDCG10];
    }
  }
  /* Validation only: the first best HR@100. */
  for (k = 0; k < n && st == IA_OK; k++)
    if (chosen < 0 || c[k].val_hr100 > c[chosen].val_hr100) chosen = k;
  if (st == IA_OK) {
    if (rank == 0) st = write_csv(csv, c, n, chosen);
    if (rank == 0 && st == IA_OK) st = copy_file(c[chosen].file, o->out);
    st = ia_agree(comm, st);
    if (st == IA_OK) {
      ia_log_info(
          "[search] chosen: τ %g, c_card %g, γ %d (validation HR@100 %.3f; its ∞-AE test "
          "NDCG@10 %.3f) → %s; every configuration in %s",
          c[chosen].tau, c[chosen].c_card, c[chosen].gamma, c[chosen].val_hr100,
          c[chosen].test[IA_NDCG10], o->out, csv);
      r->best_hr100 = c[chosen].val_hr100;
    }
  }
  free(c);
  return st;
}
