#include "infae/app/recommend.h"
#include "infae/core/topk.h"

#include <cblas.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/serve.h"
#include "infae/core/idmap.h"
#include "infae/core/log.h"
#include "infae/core/ntk.h"
#include "infae/core/paths.h"
#include "infae/dist/grid.h"
#include "infae/eval/metrics.h"
#include "infae/io/dataset.h"
#include "infae/io/model_file.h"
#include "infae/models/recoder.h"
#include "io/h5util.h"

/* ---- the users to score ------------------------------------------------ */

typedef struct {
  int64_t n;       /* query users */
  char **labels;   /* (n) user labels as given */
  ia_csr items;    /* (n × d) context items of each user, sorted */
  int64_t unknown; /* input lines naming items the model does not know */
} queries;

static void queries_free(queries *q) {
  if (q->labels)
    for (int64_t i = 0; i < q->n; i++) free(q->labels[i]);
  free(q->labels);
  ia_csr_free(&q->items);
  memset(q, 0, sizeof *q);
}

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

static int cmp_pair(const void *a, const void *b) {
  const int64_t *x = a, *y = b;
  return (x[0] > y[0]) - (x[0] < y[0]);
}

/* (user, item) pairs, grown as needed. */
typedef struct {
  int32_t *u, *i;
  int64_t n, cap;
} pairs;

static ia_status pairs_add(pairs *p, int32_t u, int32_t i) {
  if (p->n == p->cap) {
    int64_t cap = p->cap ? 2 * p->cap : 1024;
    int32_t *a = realloc(p->u, sizeof *a * (size_t)cap);
    if (a) p->u = a;
    int32_t *b = a ? realloc(p->i, sizeof *b * (size_t)cap) : NULL;
    if (b) p->i = b;
    IA_CHECK(a && b, IA_ERR_NOMEM, "out of memory reading the users to score");
    p->cap = cap;
  }
  p->u[p->n] = u;
  p->i[p->n++] = i;
  return IA_OK;
}

/* The sorted, duplicate-free item lists of n users from their pairs. */
static ia_status csr_from_pairs(const pairs *p, int64_t n, int64_t d, ia_csr *m) {
  int64_t *fill = NULL;
  IA_CALL(ia_csr_alloc(m, n, d, p->n));
  IA_CALL(IA_ALLOC(fill, n + 1, "query fill"));
  for (int64_t e = 0; e < p->n; e++) m->indptr[p->u[e] + 1]++;
  for (int64_t k = 0; k < n; k++) m->indptr[k + 1] += m->indptr[k];
  memcpy(fill, m->indptr, sizeof(int64_t) * (size_t)n);
  for (int64_t e = 0; e < p->n; e++) m->indices[fill[p->u[e]]++] = p->i[e];
  free(fill);
  int64_t w = 0;
  for (int64_t k = 0; k < n; k++) {
    int64_t a = m->indptr[k], b = m->indptr[k + 1], start = w;
    qsort(m->indices + a, (size_t)(b - a), sizeof(int32_t), cmp_i32);
    for (int64_t e = a; e < b; e++)
      if (e == a || m->indices[e] != m->indices[e - 1]) m->indices[w++] = m->indices[e];
    m->indptr[k] = start;
  }
  m->indptr[n] = w;
  return IA_OK;
}

/* Adds the train and validation items of dataset users to their queries:
 * known[k] = (dataset user, query user), sorted by dataset user. */
static ia_status add_dataset_rows(const char *data, int64_t (*known)[2], int64_t n, pairs *p) {
  ia_status st = IA_OK;
  int64_t *rows = NULL, m = 0;
  ia_csr part[2] = {{0}, {0}};
  IA_CALL(IA_ALLOC(rows, n + 1, "dataset rows"));
  for (int64_t k = 0; k < n; k++)
    if (m == 0 || rows[m - 1] != known[k][0]) rows[m++] = known[k][0];
  const char *split[2] = {"train", "val"};
  for (int s = 0; s < 2; s++) {
    IA_CALL_GOTO(ia_dataset_read_rows(MPI_COMM_SELF, data, split[s], rows, m, &part[s]));
    for (int64_t k = 0, r = -1; k < n; k++) {
      if (k == 0 || known[k][0] != known[k - 1][0]) r++;
      for (int64_t e = part[s].indptr[r]; e < part[s].indptr[r + 1]; e++)
        IA_CALL_GOTO(pairs_add(p, (int32_t)known[k][1], part[s].indices[e]));
    }
  }
done:
  ia_csr_free(&part[0]);
  ia_csr_free(&part[1]);
  free(rows);
  return st;
}

/* Rank 0: `user item` lines (a user's items; the user may be new) and
 * `user` lines (a user of the dataset, by its original id), whitespace-
 * separated, # comments; users in order of first appearance. A user whose
 * every item is unknown to the model is left out with a warning naming it. */
static ia_status read_queries(const char *path, const char *data, char **item_ids, int64_t d,
                              queries *q) {
  ia_status st = IA_OK;
  FILE *f = NULL;
  ia_idmap *items = NULL, *users = NULL, *data_users = NULL;
  pairs p = {0};
  int64_t line_no = 0, n_known = 0, cap_known = 0, (*known)[2] = NULL, n_data_users = 0;
  char **data_ids = NULL, **data_items = NULL, line[65536];
  uint8_t *seen = NULL; /* per user: 1 named by a known item or as a dataset user */
  int64_t cap_seen = 0;
  memset(q, 0, sizeof *q);
  IA_CALL_GOTO(ia_idmap_create(&items));
  IA_CALL_GOTO(ia_idmap_create(&users));
  for (int64_t i = 0; i < d; i++) {
    int32_t id;
    IA_CALL_GOTO(ia_idmap_intern(items, item_ids[i], strlen(item_ids[i]), &id));
  }
  f = fopen(path, "r");
  IA_CHECK_GOTO(f, IA_ERR_IO, "cannot read %s", path);
  while (fgets(line, sizeof line, f)) {
    line_no++;
    size_t len = strlen(line);
    IA_CHECK_GOTO(len + 1 < sizeof line || line[len - 1] == '\n', IA_ERR_FORMAT,
                  "%s:%lld: line longer than %zu bytes", path, (long long)line_no, sizeof line - 2);
    char *s = line, *user, *item, *extra;
    while (*s == ' ' || *s == '\t') s++;
    if (*s == '#' || *s == '\n' || *s == '\r' || *s == '\0') continue;
    user = strtok(s, " \t\r\n");
    item = strtok(NULL, " \t\r\n");
    extra = strtok(NULL, " \t\r\n");
    IA_CHECK_GOTO(user && !extra, IA_ERR_FORMAT,
                  "%s:%lld: expected `user item` (a user's item) or `user` (a user of the "
                  "dataset), got more fields",
                  path, (long long)line_no);
    int32_t u, i = -1;
    IA_CALL_GOTO(ia_idmap_intern(users, user, strlen(user), &u));
    if (u >= cap_seen) {
      int64_t cap = cap_seen ? 2 * cap_seen : 1024;
      uint8_t *a = realloc(seen, (size_t)cap);
      IA_CHECK_GOTO(a, IA_ERR_NOMEM, "out of memory reading %s", path);
      memset(a + cap_seen, 0, (size_t)(cap - cap_seen));
      seen = a;
      cap_seen = cap;
    }
    if (item) {
      i = ia_idmap_find(items, item, strlen(item));
      if (i < 0) { /* a user is scored only through items the model knows */
        q->unknown++;
        continue;
      }
      seen[u] = 1;
      IA_CALL_GOTO(pairs_add(&p, u, i));
      continue;
    }
    /* A user of the dataset, named alone. */
    if (!data_users) {
      IA_CHECK_GOTO(data, IA_ERR_ARG,
                    "%s:%lld: a line with a user alone names a user of the model's dataset, "
                    "and the model names none: give --data",
                    path, (long long)line_no);
      int64_t nu = 0, ni = 0;
      IA_CALL_GOTO(ia_dataset_dims(MPI_COMM_SELF, data, &nu, &ni));
      IA_CHECK_GOTO(ni == d, IA_ERR_ARG, "%s has %lld items, the model %lld: not its dataset", data,
                    (long long)ni, (long long)d);
      IA_CALL_GOTO(ia_dataset_read_ids(MPI_COMM_SELF, data, &data_ids, &data_items));
      n_data_users = nu;
      for (int64_t k = 0; k < d; k++)
        IA_CHECK_GOTO(!strcmp(data_items[k], item_ids[k]), IA_ERR_ARG,
                      "%s: item %lld is '%s', in the model '%s': not the model's dataset", data,
                      (long long)k, data_items[k], item_ids[k]);
      IA_CALL_GOTO(ia_idmap_create(&data_users));
      for (int64_t k = 0; k < nu; k++) {
        int32_t id;
        IA_CALL_GOTO(ia_idmap_intern(data_users, data_ids[k], strlen(data_ids[k]), &id));
      }
    }
    int32_t r = ia_idmap_find(data_users, user, strlen(user));
    IA_CHECK_GOTO(r >= 0, IA_ERR_ARG,
                  "%s:%lld: '%s' is not a user of %s (a line with a user alone names a user of "
                  "the dataset; give a new user's items as `user item` lines)",
                  path, (long long)line_no, user, data);
    if (n_known == cap_known) {
      cap_known = cap_known ? 2 * cap_known : 256;
      void *a = realloc(known, sizeof *known * (size_t)cap_known);
      IA_CHECK_GOTO(a, IA_ERR_NOMEM, "out of memory reading %s", path);
      known = a;
    }
    known[n_known][0] = r;
    known[n_known++][1] = u;
    seen[u] = 1;
  }
  IA_CHECK_GOTO(!ferror(f), IA_ERR_IO, "error reading %s", path);
  if (n_known > 0) {
    qsort(known, (size_t)n_known, sizeof *known, cmp_pair);
    IA_CALL_GOTO(add_dataset_rows(data, known, n_known, &p));
  }
  /* Users with nothing the model knows: named, then left out. */
  int64_t all = ia_idmap_size(users), missing = 0;
  char names[512] = "";
  for (int32_t u = 0; u < all; u++)
    if (!seen[u] && missing++ < 5) {
      size_t w = strlen(names);
      snprintf(names + w, sizeof names - w, "%s'%s'", w ? ", " : "", ia_idmap_key(users, u));
    }
  if (missing > 0)
    ia_log_warn(
        "%s: %lld user(s) name only items the model does not know, and are not "
        "scored: %s%s",
        path, (long long)missing, names, missing > 5 ? ", …" : "");
  IA_CHECK_GOTO(all > missing, IA_ERR_EMPTY,
                "%s: no `user item` lines with an item the model knows, nor `user` lines naming "
                "users of the dataset",
                path);
  /* Renumber the users that stay. */
  int32_t *to = NULL;
  IA_CALL_GOTO(IA_ALLOC(to, all, "user numbers"));
  for (int32_t u = 0; u < all; u++) to[u] = seen[u] ? (int32_t)q->n++ : -1;
  for (int64_t e = 0; e < p.n; e++) p.u[e] = to[p.u[e]];
  st = IA_ZALLOC(q->labels, q->n, "user labels");
  for (int32_t u = 0; u < all && st == IA_OK; u++)
    if (to[u] >= 0) {
      q->labels[to[u]] = strdup(ia_idmap_key(users, u));
      if (!q->labels[to[u]]) st = ia_error_set(IA_ERR_NOMEM, __FILE__, __LINE__, "out of memory");
    }
  free(to);
  IA_CALL_GOTO(st);
  IA_CALL_GOTO(csr_from_pairs(&p, q->n, d, &q->items));
done:
  if (f) fclose(f);
  free(p.u);
  free(p.i);
  free(known);
  free(seen);
  ia_ids_free(data_ids, n_data_users);
  ia_ids_free(data_items, d);
  ia_idmap_free(&items);
  ia_idmap_free(&users);
  ia_idmap_free(&data_users);
  if (st != IA_OK) queries_free(q);
  return st;
}

/* Rank 0, --all-users: the context (train ∪ validation) of users
 * [begin, begin + n) of the dataset; only those two splits are read. */
static ia_status dataset_batch(const char *data, int64_t begin, int64_t n, ia_csr *c) {
  ia_csr tr = {0}, va = {0};
  int64_t *rows = NULL;
  ia_status st = IA_ALLOC(rows, n > 0 ? n : 1, "batch rows");
  for (int64_t k = 0; st == IA_OK && k < n; k++) rows[k] = begin + k;
  if (st == IA_OK) st = ia_dataset_read_rows(MPI_COMM_SELF, data, "train", rows, n, &tr);
  if (st == IA_OK) st = ia_dataset_read_rows(MPI_COMM_SELF, data, "val", rows, n, &va);
  if (st == IA_OK) st = ia_csr_union_rows(&tr, &va, NULL, n, c);
  ia_csr_free(&tr);
  ia_csr_free(&va);
  free(rows);
  return st;
}

static ia_status bcast_csr(MPI_Comm comm, ia_csr *m) {
  int64_t h[3] = {m->n_rows, m->n_cols, ia_csr_nnz(m)};
  int rank;
  MPI_Comm_rank(comm, &rank);
  MPI_Bcast(h, 3, MPI_INT64_T, 0, comm);
  ia_status st = IA_OK;
  if (rank != 0) st = ia_csr_alloc(m, h[0], h[1], h[2]);
  IA_CALL(ia_agree(comm, st));
  IA_MPI(MPI_Bcast(m->indptr, (int)(h[0] + 1), MPI_INT64_T, 0, comm));
  for (int64_t off = 0; off < h[2]; off += 1 << 28) {
    int cnt = (int)(h[2] - off < (1 << 28) ? h[2] - off : (1 << 28));
    IA_MPI(MPI_Bcast(m->indices + off, cnt, MPI_INT32_T, 0, comm));
  }
  return IA_OK;
}

/* Rows [a, a + n) of m as their own matrix (copied). */
static ia_status csr_rows(const ia_csr *m, int64_t a, int64_t n, ia_csr *out) {
  int64_t e0 = m->indptr[a], nnz = m->indptr[a + n] - e0;
  IA_CALL(ia_csr_alloc(out, n, m->n_cols, nnz));
  for (int64_t k = 0; k <= n; k++) out->indptr[k] = m->indptr[a + k] - e0;
  memcpy(out->indices, m->indices + e0, sizeof(int32_t) * (size_t)nnz);
  return IA_OK;
}

/* ---- the command -------------------------------------------------------- */

ia_status ia_recommend(MPI_Comm comm, const ia_recommend_opts *o) {
  ia_status st = IA_OK;
  hid_t file = H5I_INVALID_HID, g = H5I_INVALID_HID;
  server v = {0};
  queries q = {0};
  ia_csr batch_rows = {0};
  double *scores = NULL;
  int32_t *top = NULL;
  char **item_ids = NULL, **user_ids = NULL, tmp[4096] = "", *model_data = NULL;
  const char *data = o->data;
  FILE *out = NULL;
  int64_t n_users = 0, n_dataset_users = 0, d = 0;
  int rank, size, which = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  if (!o->output) ia_log_info_to_stderr(); /* stdout carries the recommendations */
  IA_CHECK(o->model, IA_ERR_ARG, "--model is required");
  IA_CHECK(!o->input != !o->all_users, IA_ERR_ARG,
           "give the users to score: --input FILE or --all-users (one of the two)");
  IA_CHECK(o->k >= 1, IA_ERR_ARG, "-k must be ≥ 1 (got %d)", o->k);
  IA_CHECK(o->batch >= 1, IA_ERR_ARG, "--batch must be ≥ 1 (got %d)", o->batch);
  const char *formats[] = {IA_MODEL_FORMAT, IA_EASE_FORMAT, IA_RECODER_FORMAT};
  st = ia_h5_open_any(comm, o->model, formats, 3, IA_MODEL_VERSION, "model",
                      "`infae_mpi train --out`", &file, &which);
  IA_CALL_GOTO(ia_agree(comm, st));
  g = H5Gopen2(file, "items", H5P_DEFAULT);
  if (g < 0)
    st = ia_error_set(IA_ERR_FORMAT, __FILE__, __LINE__, "%s: group /items missing", o->model);
  hsize_t n_ids = 0;
  if (st == IA_OK) {
    hid_t ds = H5Dopen2(g, "ids", H5P_DEFAULT), sp = ds >= 0 ? H5Dget_space(ds) : -1;
    if (sp < 0 || H5Sget_simple_extent_ndims(sp) != 1 ||
        H5Sget_simple_extent_dims(sp, &n_ids, NULL) < 0)
      st = ia_error_set(IA_ERR_FORMAT, __FILE__, __LINE__, "%s: /items/ids missing or not 1-D",
                        o->model);
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
  }
  d = (int64_t)n_ids;
  if (st == IA_OK) st = ia_h5_read_strings(g, o->model, "ids", 0, d, d, &item_ids);
  if (st == IA_OK && !data && H5Aexists(file, "dataset") > 0) {
    st = ia_h5_read_attr_str(file, o->model, "dataset", &model_data);
    data = model_data;
  }
  IA_CALL_GOTO(ia_agree(comm, st));
  /* Inputs and outputs: the dataset is an input when it is read. */
  {
    ia_path inputs[] = {{"model", o->model}, {"input", o->input}, {"data", data}};
    ia_path outputs[] = {{"output", o->output}};
    IA_CALL_GOTO(ia_paths_check(comm, inputs, 3, outputs, 1));
  }
  const serve_kind kinds[] = {SERVE_INFAE, SERVE_EASE, SERVE_RECODER};
  IA_CALL_GOTO(server_open(comm, file, o->model, kinds[which], d, o->batch, &v));

  /* The users: from the input (rank 0, then everywhere), or the dataset's. */
  if (o->all_users) {
    IA_CHECK_GOTO(data, IA_ERR_ARG, "--all-users: the model names no dataset: give --data");
    st = ia_dataset_dims(comm, data, &n_dataset_users, &n_users);
    if (st == IA_OK && n_users != d)
      st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__,
                        "%s has %lld items, the model %lld: not its dataset", data,
                        (long long)n_users, (long long)d);
    n_users = n_dataset_users;
    char **ids_items = NULL;
    if (st == IA_OK && rank == 0)
      st = ia_dataset_read_ids(MPI_COMM_SELF, data, &user_ids, &ids_items);
    for (int64_t k = 0; st == IA_OK && rank == 0 && k < d; k++)
      if (strcmp(ids_items[k], item_ids[k]))
        st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__,
                          "%s: item %lld is '%s', in the model '%s': not the model's dataset", data,
                          (long long)k, ids_items[k], item_ids[k]);
    ia_ids_free(ids_items, d);
    IA_CALL_GOTO(ia_agree(comm, st));
  } else {
    if (rank == 0) st = read_queries(o->input, data, item_ids, d, &q);
    IA_CALL_GOTO(ia_agree(comm, st));
    MPI_Bcast(&q.n, 1, MPI_INT64_T, 0, comm);
    IA_CALL_GOTO(bcast_csr(comm, &q.items));
    if (q.unknown > 0)
      ia_log_warn("%s: %lld input line(s) name items the model does not know; ignored", o->input,
                  (long long)q.unknown);
    n_users = q.n;
  }

  int batch = o->batch;
  st = IA_ALLOC(scores, (size_t)batch * (size_t)d, "scores");
  int k = o->k < d ? o->k : (int)d;
  if (st == IA_OK) st = IA_ALLOC(top, k, "top-k");
  IA_CALL_GOTO(ia_agree(comm, st));
  if (rank == 0) {
    if (o->output) {
      st = ia_tmp_name(o->output, 0, tmp, sizeof tmp);
      out = st == IA_OK ? fopen(tmp, "w") : NULL;
      if (!out && st == IA_OK)
        st = ia_error_set(IA_ERR_IO, __FILE__, __LINE__, "cannot write %s", tmp);
    } else {
      out = stdout;
    }
    if (out) fprintf(out, "# user\titem\tscore\trank\n");
  }
  IA_CALL_GOTO(ia_agree(comm, st));
  double t0 = ia_time(), t_log = t0;
  for (int64_t q0 = 0; q0 < n_users; q0 += batch) {
    int64_t nb = n_users - q0 < batch ? n_users - q0 : batch;
    ia_csr_free(&batch_rows);
    if (rank == 0)
      st = o->all_users ? dataset_batch(data, q0, nb, &batch_rows)
                        : csr_rows(&q.items, q0, nb, &batch_rows);
    IA_CALL_GOTO(ia_agree(comm, st));
    IA_CALL_GOTO(bcast_csr(comm, &batch_rows));
    IA_CALL_GOTO(ia_agree(comm, server_score(&v, &batch_rows, scores)));
    int cnt;
    IA_CALL_GOTO(ia_agree(comm, ia_to_int(nb * d, &cnt)));
    IA_MPI_GOTO(
        MPI_Reduce(rank == 0 ? MPI_IN_PLACE : scores, scores, cnt, MPI_DOUBLE, MPI_SUM, 0, comm));
    if (rank == 0) {
      for (int64_t b = 0; b < nb; b++) {
        double *s = scores + b * d;
        const char *label = o->all_users ? user_ids[q0 + b] : q.labels[q0 + b];
        if (!o->keep_input)
          for (int64_t e = batch_rows.indptr[b]; e < batch_rows.indptr[b + 1]; e++)
            s[batch_rows.indices[e]] = -INFINITY;
        ia_topk(s, d, k, top);
        for (int r = 0; r < k; r++)
          if (s[top[r]] > -INFINITY)
            fprintf(out, "%s\t%s\t%.12g\t%d\n", label, item_ids[top[r]], s[top[r]], r + 1);
      }
      double now = ia_time();
      if (now - t_log > 10 && q0 + nb < n_users) {
        double rate = (double)(q0 + nb) / (now - t0);
        ia_log_info("[recommend] %lld / %lld users, %.0f s, ETA %.0f s", (long long)(q0 + nb),
                    (long long)n_users, now - t0, (double)(n_users - q0 - nb) / rate);
        t_log = now;
      }
    }
  }
  if (rank == 0 && ferror(out))
    st = ia_error_set(IA_ERR_IO, __FILE__, __LINE__, "cannot write %s",
                      o->output ? tmp : "standard output");
  {
    static const char *kind[] = {"∞-AE", "EASE", "Recoder"};
    ia_log_info("[recommend] %lld user(s) scored with the %s model %s on %d rank(s) in %.2f s",
                (long long)n_users, kind[v.kind], o->model, size, ia_time() - t0);
  }
done:
  if (out == stdout) fflush(out);
  if (out && out != stdout) {
    if (fclose(out) != 0 && st == IA_OK)
      st = ia_error_set(IA_ERR_IO, __FILE__, __LINE__, "cannot write %s", tmp);
  }
  st = ia_agree(comm, st);
  if (rank == 0 && tmp[0]) st = ia_tmp_commit(tmp, o->output, st);
  ia_ids_free(item_ids, d);
  ia_ids_free(user_ids, n_dataset_users);
  free(model_data);
  free(scores);
  free(top);
  ia_csr_free(&batch_rows);
  queries_free(&q);
  server_free(&v);
  if (g >= 0) H5Gclose(g);
  if (file >= 0) H5Fclose(file);
  return st;
}
