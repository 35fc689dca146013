/* `infae_mpi study` (include/infae/app/study.h). */
#include "infae/app/study.h"
#include "infae/core/paths.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "infae/app/train.h"
#include "infae/core/log.h"
#include "infae/core/rng.h"

static int by_int32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

ia_status ia_dataset_write_noisy(const char *in, const char *out, double pct, uint64_t seed) {
  ia_dataset d = {0};
  ia_csr t = {0};
  int32_t *avail = NULL, *row = NULL;
  int64_t *pick = NULL;
  char *cmd = NULL;
  IA_CHECK(pct >= 0 && pct <= 100, IA_ERR_ARG, "noise must be in [0, 100] %% (got %g)", pct);
  IA_CALL(ia_dataset_read(MPI_COMM_SELF, in, 0, -1, 1, &d));
  int64_t n = d.n_users, items = d.n_items, k = llround(pct / 100.0 * (double)items);
  ia_status st = ia_csr_alloc(&t, n, items, d.train_nnz + n * k);
  if (st == IA_OK) st = IA_ALLOC(avail, items, "noise items");
  if (st == IA_OK) st = IA_ALLOC(row, items + k, "noise row");
  if (st == IA_OK) st = IA_ALLOC(pick, k > 0 ? k : 1, "noise picks");
  if (st == IA_OK) st = IA_ALLOC(cmd, strlen(d.command) + 128, "provenance");
  IA_CALL_GOTO(st);
  memset(d.item_train_count, 0, sizeof(int64_t) * (size_t)items);
  t.indptr[0] = 0;
  for (int64_t u = 0; u < n; u++) {
    /* Items outside the user's validation and test rows (both sorted). */
    const ia_csr *v = &d.val, *s = &d.test;
    int64_t a = 0, pv = v->indptr[u], ps = s->indptr[u];
    for (int32_t i = 0; i < items; i++) {
      while (pv < v->indptr[u + 1] && v->indices[pv] < i) pv++;
      while (ps < s->indptr[u + 1] && s->indices[ps] < i) ps++;
      int held = (pv < v->indptr[u + 1] && v->indices[pv] == i) ||
                 (ps < s->indptr[u + 1] && s->indices[ps] == i);
      if (!held) avail[a++] = i;
    }
    int64_t kk = k < a ? k : a, c = 0;
    IA_CALL_GOTO(ia_rng_choose(seed, IA_RNG_STUDY, ((uint64_t)1 << 56) | (uint64_t)u, a, kk, pick));
    for (int64_t p = d.train.indptr[u]; p < d.train.indptr[u + 1]; p++)
      row[c++] = d.train.indices[p];
    for (int64_t j = 0; j < kk; j++) row[c++] = avail[pick[j]];
    qsort(row, (size_t)c, sizeof *row, by_int32);
    /* An item listed twice was present and is flipped off. */
    int64_t e = t.indptr[u];
    for (int64_t j = 0; j < c;) {
      if (j + 1 < c && row[j + 1] == row[j]) {
        j += 2;
        continue;
      }
      t.indices[e++] = row[j];
      d.item_train_count[row[j]]++;
      j++;
    }
    t.indptr[u + 1] = e;
  }
  d.train_nnz = t.indptr[n];
  ia_csr_free(&d.train);
  d.train = t;
  t = (ia_csr){0};
  sprintf(cmd, "%s; then %g %% of the items flipped per train row (seed %llu)", d.command, pct,
          (unsigned long long)seed);
  free(d.command);
  d.command = cmd;
  cmd = NULL;
  st = ia_dataset_write(&d, out);
done:
  ia_csr_free(&t);
  ia_dataset_free(&d);
  free(avail);
  free(row);
  free(pick);
  free(cmd);
  return st;
}

/* ---- the study ------------------------------------------------------------------ */

typedef struct {
  double noise;
  char sampler[16];
  int64_t budget, users;
  char model[16];
  double selected; /* λ or epoch */
  ia_metrics test;
  double seconds;
} row;

typedef struct {
  MPI_Comm comm;
  int rank;
  const ia_study_opts *o;
  int64_t n_users;
  row *rows;
  int n_rows, cap;
  char csv[4096];
} study;

/* Does path exist? Rank 0 looks; every rank gets its answer. Collective. */
static int exists(MPI_Comm comm, const char *path) {
  int rank, have = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) have = access(path, F_OK) == 0;
  MPI_Bcast(&have, 1, MPI_INT, 0, comm);
  return have;
}

static ia_status write_csv(study *s) {
  if (s->rank != 0) return IA_OK;
  char tmp[4200];
  IA_CALL(ia_tmp_name(s->csv, 0, tmp, sizeof tmp));
  FILE *f = fopen(tmp, "w");
  if (!f) ia_tmp_forget(tmp);
  IA_CHECK(f, IA_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
  fprintf(f, "noise_pct,sampler,budget,users,model,selected");
  for (int q = 0; q < IA_N_METRICS; q++) fprintf(f, ",%s", ia_metric_names[q]);
  fprintf(f, ",seconds\n");
  for (int k = 0; k < s->n_rows; k++) {
    const row *r = &s->rows[k];
    fprintf(f, "%g,%s,%lld,%lld,%s,%.17g", r->noise, r->sampler, (long long)r->budget,
            (long long)r->users, r->model, r->selected);
    for (int q = 0; q < IA_N_METRICS; q++) fprintf(f, ",%.17g", r->test.v[q]);
    fprintf(f, ",%.3f\n", r->seconds);
  }
  int ok = fclose(f) == 0;
  ia_status st = ok ? IA_OK : ia_error_set(IA_ERR_IO, __FILE__, __LINE__, "cannot write %s", tmp);
  return ia_tmp_commit(tmp, s->csv, st);
}

/* The summary of one sampler at one budget on data (made unless present). */
static ia_status summary(study *s, const char *data, double noise, const char *sampler,
                         int64_t budget, char *path, size_t len) {
  const ia_study_opts *o = s->o;
  snprintf(path, len, "%s/summaries/noise%g_%s_%lld.h5", o->out_dir, noise, sampler,
           (long long)budget);
  if (exists(s->comm, path)) {
    ia_log_info("[study] reusing %s", path);
    return IA_OK;
  }
  ia_distill_opts d = o->distill;
  d.data = data;
  d.out = path;
  d.sampler = !strcmp(sampler, "full") ? "random" : sampler;
  d.budget = budget;
  d.seed = o->seed;
  d.ease = 0;
  d.command = o->command;
  /* A Distill-CF run stopped by a signal goes on from its checkpoint. */
  char ckpt[4200];
  IA_CHECK(snprintf(ckpt, sizeof ckpt, "%s.ckpt.h5", path) < (int)sizeof ckpt, IA_ERR_ARG,
           "path too long: %s", path);
  d.checkpoint = NULL;
  d.resume = !strcmp(d.sampler, "distill") && exists(s->comm, ckpt);
  if (d.resume) ia_log_info("[study] resuming %s from %s", path, ckpt);
  ia_distill_result r;
  IA_CALL(ia_distill(s->comm, &d, &r));
  IA_CHECK(!r.interrupted, IA_ERR_IO,
           "stopped by a signal during %s; run the study again to go on (finished summaries "
           "are reused)",
           path);
  return IA_OK;
}

/* Every model trained on one summary, evaluated on the clean data. */
static ia_status evaluate(study *s, const char *path, double noise, const char *sampler,
                          int64_t budget) {
  const ia_study_opts *o = s->o;
  for (int m = 0; m < o->n_models; m++) {
    ia_train_opts t = {.data = o->data,
                       .model = o->models[m],
                       .train_on = path,
                       .seed = o->seed,
                       .device = IA_DEVICE_AUTO,
                       .recoder = o->recoder,
                       .command = o->command};
    ia_train_result *r = calloc(1, sizeof *r);
    IA_CHECK(r, IA_ERR_NOMEM, "out of memory");
    double t0 = ia_time();
    ia_status st = ia_train(s->comm, &t, r);
    if (st == IA_OK && s->n_rows == s->cap) {
      int cap = s->cap ? 2 * s->cap : 64;
      row *grown = realloc(s->rows, sizeof(row) * (size_t)cap);
      if (grown) {
        s->rows = grown;
        s->cap = cap;
      } else
        st = ia_error_set(IA_ERR_NOMEM, __FILE__, __LINE__, "out of memory");
    }
    if (st == IA_OK) {
      row *w = &s->rows[s->n_rows++];
      memset(w, 0, sizeof *w);
      w->noise = noise;
      snprintf(w->sampler, sizeof w->sampler, "%s", sampler);
      w->budget = budget;
      w->users = r->fit_users;
      snprintf(w->model, sizeof w->model, "%s", o->models[m]);
      w->selected = r->best_lambda;
      w->test = r->test;
      w->seconds = ia_time() - t0;
      ia_log_info(
          "[study] noise %g %%, %s, budget %lld (%lld users), %s: test HR@10 %.3f "
          "NDCG@10 %.3f PSP@10 %.3f (%.1f s)",
          noise, sampler, (long long)budget, (long long)w->users, w->model, w->test.v[IA_HR10],
          w->test.v[IA_NDCG10], w->test.v[IA_PSP10], w->seconds);
      st = write_csv(s);
    }
    free(r);
    IA_CALL(ia_agree(s->comm, st));
  }
  return IA_OK;
}

/* ---- plots ---------------------------------------------------------------------- */

static const char *series[] = {"random", "head", "interactions", "distill"};
static const char *titles[] = {"random users", "head users", "random interactions", "Distill-CF"};
/* One series as a gnuplot datablock: x, HR@10, NDCG@10, PSP@10. x is the
 * budget (clean data) or the noise (at the noise budget); the all-users
 * result of the clean data is a level line across the budgets. */
static void block(FILE *f, const study *s, const char *name, const char *model, const char *sampler,
                  int by_noise) {
  const ia_study_opts *o = s->o;
  int full = !strcmp(sampler, "full");
  double lo = (double)o->budgets[0], hi = lo;
  for (int b = 0; b < o->n_budgets; b++) {
    lo = fmin(lo, (double)o->budgets[b]);
    hi = fmax(hi, (double)o->budgets[b]);
  }
  fprintf(f, "$%s << EOD\n", name);
  for (int k = 0; k < s->n_rows; k++) {
    const row *r = &s->rows[k];
    if (strcmp(r->model, model) || strcmp(r->sampler, sampler)) continue;
    if (by_noise ? !full && r->budget != o->noise_budget : r->noise != 0) continue;
    for (int e = 0; e < (full && !by_noise ? 2 : 1); e++)
      fprintf(f, "%g %.6f %.6f %.6f\n",
              by_noise ? r->noise
              : full   ? (e ? hi : lo)
                       : (double)r->budget,
              r->test.v[IA_HR10], r->test.v[IA_NDCG10], r->test.v[IA_PSP10]);
  }
  fprintf(f, "EOD\n");
}

static const char *model_title(const char *model) {
  return !strcmp(model, "infae") ? "∞-AE" : !strcmp(model, "ease") ? "EASE" : "Recoder";
}

static ia_status write_plots(study *s, char *script, size_t len) {
  const ia_study_opts *o = s->o;
  snprintf(script, len, "%s/study.gp", o->out_dir);
  FILE *f = fopen(script, "w");
  IA_CHECK(f, IA_ERR_IO, "cannot write %s: %s", script, strerror(errno));
  fprintf(f, "# Written by `infae_mpi study`; run in this directory: gnuplot study.gp\n");
  fprintf(f,
          "set terminal pngcairo noenhanced size 1500,560 font \",11\"\n"
          "set key below maxrows 2 height 1.5\nset grid\n");
  for (int m = 0; m < o->n_models; m++) {
    const char *model = o->models[m];
    for (int by_noise = 0; by_noise < (o->n_noise > 1 ? 2 : 1); by_noise++) {
      char name[64];
      for (int q = 0; q < 5; q++) {
        const char *smp = q < 4 ? series[q] : "full";
        snprintf(name, sizeof name, "%s_%s_%d", model, smp, by_noise);
        block(f, s, name, model, smp, by_noise);
      }
      fprintf(f, "set output \"%s_%s.png\"\n", by_noise ? "noise" : "sampling", model);
      const char *base = strrchr(o->data, '/') ? strrchr(o->data, '/') + 1 : o->data;
      if (by_noise)
        fprintf(f,
                "set multiplot layout 1,3 title \"%s on %s with noise, budget %lld users; "
                "clean test split\"\n",
                model_title(model), base, (long long)o->noise_budget);
      else
        fprintf(f, "set multiplot layout 1,3 title \"%s trained on samples of %s; test split\"\n",
                model_title(model), base);
      if (by_noise)
        fprintf(f, "unset logscale x\nset xlabel \"items flipped per user (%%)\"\n");
      else
        fprintf(f, "set logscale x\nset xlabel \"budget (users)\"\n");
      const char *ylab[3] = {"HR@10", "NDCG@10", "PSP@10"};
      for (int c = 0; c < 3; c++) {
        fprintf(f, "set ylabel \"%s\"\nplot ", ylab[c]);
        int first = 1;
        for (int q = 0; q < 4; q++) {
          int used = 0;
          for (int i = 0; i < o->n_samplers; i++) used |= !strcmp(o->samplers[i], series[q]);
          if (!used) continue;
          fprintf(f, "%s$%s_%s_%d using 1:%d with linespoints lw 2 title \"%s\"", first ? "" : ", ",
                  model, series[q], by_noise, c + 2, titles[q]);
          first = 0;
        }
        fprintf(f, "%s$%s_full_%d using 1:%d with %s dt 2 lw 2 lc black title \"all users\"\n",
                first ? "" : ", ", model, by_noise, c + 2, by_noise ? "linespoints" : "lines");
      }
      fprintf(f, "unset multiplot\n");
    }
  }
  IA_CHECK(fclose(f) == 0, IA_ERR_IO, "cannot write %s", script);
  return IA_OK;
}

static ia_status plot(study *s) {
  char script[4200], cmd[8600];
  IA_CALL(write_plots(s, script, sizeof script));
  if (!s->o->plot) return IA_OK;
  if (system("command -v gnuplot > /dev/null 2>&1") != 0) {
    ia_log_warn(
        "[study] gnuplot is not on PATH: no PNG plots (install gnuplot-nox, then run "
        "`cd %s && gnuplot study.gp`)",
        s->o->out_dir);
    return IA_OK;
  }
  snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot study.gp", s->o->out_dir);
  IA_CHECK(system(cmd) == 0, IA_ERR_IO, "gnuplot failed on %s", script);
  ia_log_info("[study] plots: %s/sampling_*.png%s", s->o->out_dir,
              s->o->n_noise > 1 ? " and noise_*.png" : "");
  return IA_OK;
}

static ia_status check(const ia_study_opts *o, int64_t n_users) {
  IA_CHECK(o->data && o->out_dir, IA_ERR_ARG, "--data and --out-dir are required");
  IA_CHECK(!strchr(o->out_dir, '\''), IA_ERR_ARG, "--out-dir must not contain a quote");
  IA_CHECK(o->n_samplers >= 1 && o->n_models >= 1, IA_ERR_ARG,
           "--samplers and --models need at least one value each");
  for (int i = 0; i < o->n_samplers; i++) {
    int known = 0;
    for (int q = 0; q < 4; q++) known |= !strcmp(o->samplers[i], series[q]);
    IA_CHECK(known, IA_ERR_ARG,
             "--samplers takes random, head, interactions and distill (got '%s')", o->samplers[i]);
  }
  for (int i = 0; i < o->n_models; i++)
    IA_CHECK(!strcmp(o->models[i], "infae") || !strcmp(o->models[i], "ease") ||
                 !strcmp(o->models[i], "recoder"),
             IA_ERR_ARG, "--models takes infae, ease and recoder (got '%s')", o->models[i]);
  /* Budgets above the users were dropped and the noise budget capped. */
  for (int i = 0; i < o->n_budgets; i++)
    IA_CHECK(o->budgets[i] >= 1, IA_ERR_ARG, "--budgets must be ≥ 1 (got %lld)",
             (long long)o->budgets[i]);
  IA_CHECK(o->n_budgets >= 1, IA_ERR_ARG, "no --budgets at most the %lld users of %s",
           (long long)n_users, o->data);
  for (int i = 0; i < o->n_noise; i++)
    IA_CHECK(o->noise[i] >= 0 && o->noise[i] <= 100, IA_ERR_ARG,
             "--noise levels are percentages in [0, 100] (got %g)", o->noise[i]);
  IA_CHECK(o->noise_budget >= 1, IA_ERR_ARG, "--noise-budget must be ≥ 1 (got %lld)",
           (long long)o->noise_budget);
  return IA_OK;
}

static ia_status make_dirs(const study *s) {
  ia_status st = IA_OK;
  if (s->rank == 0) {
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/summaries", s->o->out_dir);
    if ((mkdir(s->o->out_dir, 0777) != 0 && errno != EEXIST) ||
        (mkdir(sub, 0777) != 0 && errno != EEXIST))
      st =
          ia_error_set(IA_ERR_IO, __FILE__, __LINE__, "cannot create %s: %s", sub, strerror(errno));
  }
  return ia_agree(s->comm, st);
}

/* Budgets at a noise level: all of them on clean data (with the noise budget
 * when a noise study follows), the noise budget on noisy data. */
static int study_budgets(const ia_study_opts *o, double noise, int64_t *budgets) {
  int nb = 0;
  if (noise == 0) {
    for (int b = 0; b < o->n_budgets; b++) budgets[nb++] = o->budgets[b];
    int in = 0;
    for (int b = 0; b < nb; b++) in |= budgets[b] == o->noise_budget;
    if (o->n_noise > 1 && !in) budgets[nb++] = o->noise_budget;
  } else {
    budgets[nb++] = o->noise_budget;
  }
  return nb;
}

ia_status ia_study(MPI_Comm comm, const ia_study_opts *o_in) {
  ia_study_opts opts = *o_in, *o = &opts;
  study s = {.comm = comm, .o = o};
  MPI_Comm_rank(comm, &s.rank);
  int64_t items = 0;
  IA_CALL(ia_dataset_dims(comm, o->data, &s.n_users, &items));
  /* Budgets above the users would all be the whole data: skipped. */
  o->n_budgets = 0;
  for (int b = 0; b < o_in->n_budgets; b++) {
    if (o_in->budgets[b] <= s.n_users)
      o->budgets[o->n_budgets++] = o_in->budgets[b];
    else
      ia_log_warn(
          "[study] budget %lld skipped: %s has %lld users (the \"all users\" result "
          "covers it)",
          (long long)o_in->budgets[b], o->data, (long long)s.n_users);
  }
  if (o->noise_budget > s.n_users) {
    ia_log_warn("[study] --noise-budget %lld is more than the %lld users: using %lld",
                (long long)o->noise_budget, (long long)s.n_users, (long long)s.n_users);
    o->noise_budget = s.n_users;
  }
  IA_CALL(ia_agree(comm, check(o, s.n_users)));
  IA_CALL(make_dirs(&s));
  snprintf(s.csv, sizeof s.csv, "%s/study.csv", o->out_dir);
  ia_status st = IA_OK;
  double t0 = ia_time();
  /* Summaries to make and evaluate, for the k/N counter. */
  int total = 0, done = 0;
  for (int z = -1; z < o->n_noise; z++) {
    double noise = z < 0 ? 0 : o->noise[z];
    if (z >= 0 && noise == 0) continue;
    int64_t budgets[IA_STUDY_MAX + 1];
    total += o->n_samplers * study_budgets(o, noise, budgets) + 1;
  }
  /* The clean data first (noise 0), then each noise level at its budget. */
  for (int z = -1; z < o->n_noise; z++) {
    double noise = z < 0 ? 0 : o->noise[z];
    if (z >= 0 && noise == 0) continue;
    char data[4200], path[4200];
    snprintf(data, sizeof data, "%s", o->data);
    if (noise > 0) {
      snprintf(data, sizeof data, "%s/noisy_%g.h5", o->out_dir, noise);
      if (!exists(comm, data)) {
        st = s.rank == 0 ? ia_dataset_write_noisy(o->data, data, noise, o->seed) : IA_OK;
        IA_CALL_GOTO(ia_agree(comm, st));
        ia_log_info("[study] wrote %s (%g %% of the items flipped per user)", data, noise);
      }
    }
    int64_t budgets[IA_STUDY_MAX + 1];
    int nb = study_budgets(o, noise, budgets);
    for (int i = 0; i <= o->n_samplers; i++) {
      const char *smp = i < o->n_samplers ? o->samplers[i] : "full";
      for (int b = 0; b < (i < o->n_samplers ? nb : 1); b++) {
        int64_t budget = i < o->n_samplers ? budgets[b] : s.n_users;
        double el = ia_time() - t0;
        char eta[64] = "";
        if (done > 0) snprintf(eta, sizeof eta, ", ETA %.0f s", el / done * (double)(total - done));
        ia_log_info("[study] %d/%d: noise %g %%, %s, budget %lld (%.0f s so far%s)", done + 1,
                    total, noise, smp, (long long)budget, el, eta);
        done++;
        IA_CALL_GOTO(summary(&s, data, noise, smp, budget, path, sizeof path));
        IA_CALL_GOTO(evaluate(&s, path, noise, smp, budget));
      }
    }
  }
  IA_CALL_GOTO(ia_agree(comm, s.rank == 0 ? plot(&s) : IA_OK));
  ia_log_info("[study] %d results in %s (%.1f s)", s.n_rows, s.csv, ia_time() - t0);
done:
  free(s.rows);
  return st;
}
