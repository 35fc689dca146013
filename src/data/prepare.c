/* `prepare`: lists the inputs (files, or a Netflix directory), parses them
 * (data/parse.h) and assembles the dataset: id ranks, the CSR splits, the
 * dropped users, the AUC negatives and the source's SHA-256. */
#include "infae/data/prepare.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/lines.h"
#include "data/parse.h"
#include "infae/core/idmap.h"
#include "infae/core/log.h"
#include "infae/data/split.h"

/* ---- inputs: files, or a Netflix directory -------------------------------- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int netflix_name(const char *name) {
  size_t n = strlen(name);
  return n > 4 && !strcmp(name + n - 4, ".txt") &&
         (!strncmp(name, "mv_", 3) || !strncmp(name, "combined_data_", 14));
}

/* Expands directories (netflix) into their data files, sorted by name. */
static ia_status list_inputs(const ia_prepare_opts *o, char ***out, int *n_out) {
  ia_status st = IA_OK;
  char **v = NULL;
  int n = 0, cap = 0;
  DIR *dir = NULL;
  for (int k = 0; k < o->n_inputs; k++) {
    struct stat sb;
    IA_CHECK_GOTO(stat(o->inputs[k], &sb) == 0, IA_ERR_IO, "cannot read %s: %s", o->inputs[k],
                  strerror(errno));
    int first = n;
    if (S_ISDIR(sb.st_mode)) {
      IA_CHECK_GOTO(!strcmp(o->format, "netflix"), IA_ERR_ARG,
                    "%s is a directory; only --format netflix reads directories", o->inputs[k]);
      dir = opendir(o->inputs[k]);
      IA_CHECK_GOTO(dir, IA_ERR_IO, "cannot list %s: %s", o->inputs[k], strerror(errno));
      for (struct dirent *e; (e = readdir(dir));) {
        if (!netflix_name(e->d_name)) continue;
        if (n == cap) {
          cap = cap ? cap * 2 : 64;
          char **nv = realloc(v, sizeof *nv * (size_t)cap);
          IA_CHECK_GOTO(nv, IA_ERR_NOMEM, "out of memory listing %s", o->inputs[k]);
          v = nv;
        }
        size_t len = strlen(o->inputs[k]) + strlen(e->d_name) + 2;
        IA_CALL_GOTO(IA_ALLOC(v[n], len, "path"));
        snprintf(v[n], len, "%s/%s", o->inputs[k], e->d_name);
        n++;
      }
      closedir(dir);
      dir = NULL;
      IA_CHECK_GOTO(n > first, IA_ERR_EMPTY, "%s holds no mv_*.txt or combined_data_*.txt files",
                    o->inputs[k]);
      qsort(v + first, (size_t)(n - first), sizeof *v, cmp_str);
    } else {
      if (n == cap) {
        cap = cap ? cap * 2 : 64;
        char **nv = realloc(v, sizeof *nv * (size_t)cap);
        IA_CHECK_GOTO(nv, IA_ERR_NOMEM, "out of memory");
        v = nv;
      }
      v[n] = strdup(o->inputs[k]);
      IA_CHECK_GOTO(v[n], IA_ERR_NOMEM, "out of memory");
      n++;
    }
  }
done:
  if (dir) closedir(dir);
  if (st != IA_OK) {
    for (int k = 0; k < n; k++) free(v[k]);
    free(v);
    v = NULL;
    n = 0;
  }
  *out = v;
  *n_out = n;
  return st;
}

/* ---- assembling the dataset --------------------------------------------- */

/* rank[id] = position of id in sorted order. */
static ia_status sorted_rank(const ia_idmap *m, int32_t **rank) {
  int32_t *order = NULL;
  IA_CALL(ia_idmap_sorted(m, &order));
  int64_t n = ia_idmap_size(m);
  ia_status st = IA_ALLOC(*rank, n, "id ranks");
  if (st == IA_OK)
    for (int64_t k = 0; k < n; k++) (*rank)[order[k]] = (int32_t)k;
  free(order);
  return st;
}

/* CSR of the pairs whose split is `which` (-1: all), rows = sorted users,
 * columns = sorted items, rows sorted and deduplicated. */
static ia_status build_csr(const raw_pairs *p, const int32_t *urank, const int32_t *irank,
                           int which, ia_csr *m, int64_t *dups) {
  int64_t nu = ia_idmap_size(p->users), ni = ia_idmap_size(p->items), nnz = 0;
  for (int64_t e = 0; e < p->n; e++)
    if (which < 0 || p->split[e] == which) nnz++;
  IA_CALL(ia_csr_alloc(m, nu, ni, nnz));
  for (int64_t e = 0; e < p->n; e++)
    if (which < 0 || p->split[e] == which) m->indptr[urank[p->u[e]] + 1]++;
  for (int64_t r = 0; r < nu; r++) m->indptr[r + 1] += m->indptr[r];
  int64_t *fill = NULL;
  ia_status st = IA_ALLOC(fill, nu, "CSR fill");
  if (st != IA_OK) {
    ia_csr_free(m);
    return st;
  }
  memcpy(fill, m->indptr, sizeof *fill * (size_t)nu);
  for (int64_t e = 0; e < p->n; e++)
    if (which < 0 || p->split[e] == which) m->indices[fill[urank[p->u[e]]]++] = irank[p->i[e]];
  free(fill);
  ia_csr_sort_rows(m);
  int64_t w = 0;
  for (int64_t r = 0; r < nu; r++) {
    int64_t b = m->indptr[r], e = m->indptr[r + 1];
    m->indptr[r] = w;
    for (int64_t k = b; k < e; k++)
      if (k == b || m->indices[k] != m->indices[k - 1]) m->indices[w++] = m->indices[k];
  }
  m->indptr[nu] = w;
  *dups += nnz - w;
  return IA_OK;
}

static ia_status ids_from_map(const ia_idmap *m, const int32_t *rank, char ***out) {
  int64_t n = ia_idmap_size(m);
  char **v = NULL;
  IA_CALL(IA_ZALLOC(v, n, "ids"));
  for (int64_t k = 0; k < n; k++) {
    v[rank[k]] = strdup(ia_idmap_key(m, (int32_t)k));
    if (!v[rank[k]]) {
      for (int64_t j = 0; j < n; j++) free(v[j]);
      free(v);
      IA_CHECK(0, IA_ERR_NOMEM, "out of memory copying ids");
    }
  }
  *out = v;
  return IA_OK;
}

/* Keeps rows with at least min entries, renumbering users densely. */
static ia_status drop_small_users(ia_csr *all, char **user_ids, int min, int64_t *n_kept,
                                  int64_t *dropped) {
  int64_t w = 0, pos = 0;
  for (int64_t r = 0; r < all->n_rows; r++) {
    int64_t b = all->indptr[r], e = all->indptr[r + 1];
    if (e - b >= min) {
      all->indptr[w] = pos;
      memmove(all->indices + pos, all->indices + b, sizeof(int32_t) * (size_t)(e - b));
      pos += e - b;
      user_ids[w++] = user_ids[r];
    } else {
      free(user_ids[r]);
    }
  }
  all->indptr[w] = pos;
  *dropped = all->n_rows - w;
  all->n_rows = w;
  *n_kept = w;
  return IA_OK;
}

static void count_items(ia_dataset *d) {
  memset(d->item_train_count, 0, sizeof(int64_t) * (size_t)d->n_items);
  for (int64_t e = 0; e < ia_csr_nnz(&d->train); e++) d->item_train_count[d->train.indices[e]]++;
  d->train_nnz = ia_csr_nnz(&d->train);
  d->val_nnz = ia_csr_nnz(&d->val);
  d->test_nnz = ia_csr_nnz(&d->test);
}

/* Reads `user item` negatives through the dataset's id maps. */
static ia_status import_negatives(const char *path, const raw_pairs *p, const int32_t *urank,
                                  const int32_t *irank, EVP_MD_CTX *sha, ia_csr *neg) {
  ia_status st = IA_OK;
  reader r;
  char *line;
  size_t len;
  int got;
  field f[MAX_FIELDS];
  raw_pairs q = {0};
  int64_t nu = ia_idmap_size(p->users), ni = ia_idmap_size(p->items);
  IA_CALL(ia_reader_open(&r, path, sha));
  for (;;) {
    IA_CALL_GOTO(ia_reader_next(&r, &line, &len, &got));
    if (!got) break;
    int n = ia_split_fields(line, len, NULL, f);
    if (n == 0) continue;
    if (r.line_no == 1 && n == 2 && f[0].len == 4 && !memcmp(f[0].p, "user", 4)) continue;
    IA_CHECK_GOTO(n == 2, IA_ERR_FORMAT, "%s:%lld: expected 'user item', got '%s'", path,
                  (long long)r.line_no, ia_excerpt(line, len));
    int32_t u = ia_idmap_find(p->users, f[0].p, f[0].len);
    int32_t i = ia_idmap_find(p->items, f[1].p, f[1].len);
    IA_CHECK_GOTO(u >= 0, IA_ERR_FORMAT, "%s:%lld: user '%.*s' is not in the split", path,
                  (long long)r.line_no, (int)f[0].len, f[0].p);
    IA_CHECK_GOTO(i >= 0, IA_ERR_FORMAT, "%s:%lld: item '%.*s' is not in the split", path,
                  (long long)r.line_no, (int)f[1].len, f[1].p);
    IA_CALL_GOTO(ia_pairs_push(&q, urank[u], irank[i], 0));
  }
  /* Keep the file's order within each user (it decides AUC tie order). */
  IA_CALL_GOTO(ia_csr_alloc(neg, nu, ni, q.n));
  for (int64_t e = 0; e < q.n; e++) neg->indptr[q.u[e] + 1]++;
  for (int64_t k = 0; k < nu; k++) neg->indptr[k + 1] += neg->indptr[k];
  {
    int64_t *fill = NULL;
    IA_CALL_GOTO(IA_ALLOC(fill, nu, "CSR fill"));
    memcpy(fill, neg->indptr, sizeof *fill * (size_t)nu);
    for (int64_t e = 0; e < q.n; e++) neg->indices[fill[q.u[e]]++] = q.i[e];
    free(fill);
  }
done:
  ia_reader_close(&r);
  free(q.u);
  free(q.i);
  free(q.split);
  return st;
}

static ia_status count_two_split_pairs(ia_dataset *d) {
  /* A (user,item) listed in two splits is kept in both (docs/protocol.md §1). */
  int64_t twice = 0;
  const ia_csr *m[3] = {&d->train, &d->val, &d->test};
  for (int64_t r = 0; r < d->n_rows; r++)
    for (int a = 0; a < 3; a++)
      for (int64_t e = m[a]->indptr[r]; e < m[a]->indptr[r + 1]; e++)
        for (int b = a + 1; b < 3; b++) twice += ia_csr_has(m[b], r, m[a]->indices[e]);
  d->pairs_in_two_splits = twice;
  return IA_OK;
}

static ia_status check_opts(const ia_prepare_opts *o, line_format *lf) {
  static const char *formats[] = {"movielens", "tsv", "csv", "netflix", "split-tsv", "adjacency"};
  int known = 0;
  for (size_t k = 0; k < sizeof formats / sizeof *formats; k++)
    known |= o->format && !strcmp(o->format, formats[k]);
  IA_CHECK(known, IA_ERR_ARG,
           "--format must be movielens, tsv, csv, netflix, split-tsv or adjacency (got '%s')",
           o->format ? o->format : "");
  IA_CHECK(o->n_inputs > 0, IA_ERR_ARG, "--input is required");
  IA_CHECK(o->user_col >= 1 && o->item_col >= 1 && o->user_col <= MAX_FIELDS &&
               o->item_col <= MAX_FIELDS && o->user_col != o->item_col,
           IA_ERR_ARG, "--user-col and --item-col must be distinct columns in 1..%d", MAX_FIELDS);
  IA_CHECK(o->min_user_interactions >= 1, IA_ERR_ARG, "--min-user-interactions must be >= 1");
  IA_CHECK(o->n_negatives >= 0, IA_ERR_ARG, "--negatives-per-user must be >= 0");
  IA_CHECK(!o->negatives || !strcmp(o->format, "split-tsv"), IA_ERR_ARG,
           "--negatives FILE is only for --format split-tsv (other formats draw them)");
  int tabular = !strcmp(o->format, "tsv") || !strcmp(o->format, "csv"),
      adjacency = !strcmp(o->format, "adjacency");
  IA_CHECK(!o->ragged || tabular, IA_ERR_ARG, "--ragged is only for --format tsv or csv");
  IA_CHECK(!(o->no_count || o->user_first) || adjacency, IA_ERR_ARG,
           "--no-count and --user-first are only for --format adjacency");
  IA_CHECK(!o->sep || !adjacency, IA_ERR_ARG,
           "--sep is not for --format adjacency (its fields are separated by blanks)");
  memset(lf, 0, sizeof *lf);
  lf->o = o;
  if (!strcmp(o->format, "movielens")) {
    lf->sep = "::";
    lf->expect = "'user::item::rating::timestamp' with integer ids";
  } else if (!strcmp(o->format, "netflix")) {
    lf->expect = "'user,rating,date' with an integer user id";
  } else if (!strcmp(o->format, "split-tsv")) {
    lf->sep = NULL;
    lf->expect = "'user item split' with split 0, 1 or 2";
  } else if (adjacency) {
    if (o->user_first)
      lf->expect = o->no_count ? "'user item item ...'" : "'user count item item ...'";
    else
      lf->expect = o->no_count ? "'item item ...' (user = line number from 0)"
                               : "'count item item ...' (user = line number from 0)";
  } else {
    const char *sep = o->sep ? o->sep : (!strcmp(o->format, "csv") ? "," : "space");
    if (!strcmp(sep, "space"))
      lf->sep = NULL;
    else if (!strcmp(sep, "tab"))
      lf->sep = "\t";
    else
      lf->sep = sep;
    IA_CHECK(!lf->sep || lf->sep[0], IA_ERR_ARG, "--sep must not be empty");
    lf->expect = !strcmp(o->format, "csv") ? "comma-separated fields with user and item columns"
                                           : "separated fields with user and item columns";
  }
  return IA_OK;
}

ia_status ia_prepare(const ia_prepare_opts *o, ia_dataset *d) {
  ia_status st = IA_OK;
  line_format lf;
  raw_pairs p = {0};
  char **files = NULL;
  int n_files = 0;
  int32_t *urank = NULL, *irank = NULL;
  ia_csr all = {0};
  EVP_MD_CTX *sha = NULL;
  double t0 = ia_time();
  memset(d, 0, sizeof *d);
  IA_CALL(check_opts(o, &lf));
  IA_CALL_GOTO(list_inputs(o, &files, &n_files));
  IA_CALL_GOTO(ia_idmap_create(&p.users));
  IA_CALL_GOTO(ia_idmap_create(&p.items));
  sha = EVP_MD_CTX_new();
  IA_CHECK_GOTO(sha && EVP_DigestInit_ex(sha, EVP_sha256(), NULL), IA_ERR_INTERNAL,
                "cannot initialise SHA-256");
  size_t files_len = 1;
  for (int k = 0; k < n_files; k++) files_len += strlen(files[k]) + 1;
  IA_CALL_GOTO(IA_ZALLOC(d->source_files, files_len, "file list"));
  for (int k = 0; k < n_files; k++) {
    int64_t before = p.n;
    IA_CALL_GOTO(ia_parse_file(&lf, files[k], sha, &p, t0));
    IA_CHECK_GOTO(p.n > before || n_files > 1, IA_ERR_EMPTY, "%s: no interactions in the file",
                  files[k]);
    strcat(d->source_files, files[k]);
    if (k + 1 < n_files) strcat(d->source_files, "\n");
  }
  IA_CHECK_GOTO(p.n > 0, IA_ERR_EMPTY, "no interactions in the %d input file(s)", n_files);
  {
    double dt = ia_time() - t0;
    ia_log_info(
        "[prepare] read %lld interactions (%lld users, %lld items) in %.1f s, "
        "%.2fM lines/s",
        (long long)p.n, (long long)ia_idmap_size(p.users), (long long)ia_idmap_size(p.items), dt,
        p.lines / 1e6 / (dt > 0 ? dt : 1e-9));
  }
  IA_CALL_GOTO(sorted_rank(p.users, &urank));
  IA_CALL_GOTO(sorted_rank(p.items, &irank));
  d->n_items = ia_idmap_size(p.items);
  IA_CALL_GOTO(ids_from_map(p.items, irank, &d->item_ids));
  IA_CALL_GOTO(ids_from_map(p.users, urank, &d->user_ids));
  d->n_users = ia_idmap_size(p.users);
  d->n_rows = d->n_users;
  IA_CALL_GOTO(IA_ALLOC(d->item_train_count, d->n_items, "item train counts"));
  d->seed = o->seed;
  snprintf(d->source_format, sizeof d->source_format, "%s", o->format);

  if (!strcmp(o->format, "split-tsv")) {
    IA_CALL_GOTO(build_csr(&p, urank, irank, 0, &d->train, &d->duplicates_dropped));
    IA_CALL_GOTO(build_csr(&p, urank, irank, 1, &d->val, &d->duplicates_dropped));
    IA_CALL_GOTO(build_csr(&p, urank, irank, 2, &d->test, &d->duplicates_dropped));
    IA_CALL_GOTO(count_two_split_pairs(d));
    if (o->negatives) {
      IA_CALL_GOTO(import_negatives(o->negatives, &p, urank, irank, sha, &d->negatives));
    } else {
      /* Without them AUC would be NaN: draw them as for the other formats. */
      IA_CALL_GOTO(ia_split_negatives(&d->train, &d->test, o->seed, o->n_negatives, &d->negatives));
      ia_log_info(
          "[prepare] no --negatives: drew %d AUC negatives per user (seed %llu) among "
          "the items in neither his train nor his test",
          o->n_negatives, (unsigned long long)o->seed);
    }
    if (d->pairs_in_two_splits)
      ia_log_warn("%lld (user,item) pairs are listed in two splits; kept in both as given",
                  (long long)d->pairs_in_two_splits);
  } else {
    IA_CALL_GOTO(build_csr(&p, urank, irank, -1, &all, &d->duplicates_dropped));
    IA_CALL_GOTO(drop_small_users(&all, d->user_ids, o->min_user_interactions, &d->n_users,
                                  &d->users_dropped));
    d->n_rows = d->n_users;
    IA_CHECK_GOTO(d->n_users > 0, IA_ERR_EMPTY,
                  "no user has at least %d interactions (%lld users read)",
                  o->min_user_interactions, (long long)d->users_dropped);
    IA_CALL_GOTO(
        ia_split_users(&all, o->seed, o->n_negatives, &d->train, &d->val, &d->test, &d->negatives));
  }
  count_items(d);
  {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_DigestFinal_ex(sha, md, &md_len);
    for (unsigned k = 0; k < md_len && k < 32; k++)
      snprintf(d->source_sha256 + 2 * k, 3, "%02x", md[k]);
  }
  ia_log_verbose("[prepare] source sha256 %s over %d file(s)", d->source_sha256, n_files);
  d->command = strdup(o->command ? o->command : "");
  IA_CHECK_GOTO(d->command, IA_ERR_NOMEM, "out of memory");
  ia_log_info(
      "[prepare] %lld users, %lld items; train %lld, val %lld, test %lld; "
      "%lld duplicates and %lld users with < %d interactions dropped; %.1f s",
      (long long)d->n_users, (long long)d->n_items, (long long)d->train_nnz, (long long)d->val_nnz,
      (long long)d->test_nnz, (long long)d->duplicates_dropped, (long long)d->users_dropped,
      o->min_user_interactions, ia_time() - t0);
done:
  if (sha) EVP_MD_CTX_free(sha);
  for (int k = 0; k < n_files; k++) free(files[k]);
  free(files);
  free(urank);
  free(irank);
  ia_csr_free(&all);
  ia_idmap_free(&p.users);
  ia_idmap_free(&p.items);
  free(p.u);
  free(p.i);
  free(p.split);
  if (st != IA_OK) ia_dataset_free(d);
  return st;
}
