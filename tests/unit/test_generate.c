/* The synthetic data generator: files parse in every format, sizes and
 * shapes are what the options ask, output is deterministic, and bad options
 * leave nothing behind. The files are read back with a parser of our own so
 * the test does not depend on the prepare module. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkdtemp, dirent */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs setjmp.h, stdarg.h and stddef.h before it. */
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "infae/core/log.h"
#include "infae/data/generate.h"

/* [2000-01-01, 2006-01-01) UTC, the generator's time window. */
#define T_BEGIN 946684800
#define T_END   1136073600

static char g_dir[64];

typedef struct {
  int64_t user, item; /* 1-based as written */
  int rating;
  int64_t ts;  /* seconds; -1 for netflix */
  int64_t day; /* days since 1970-01-01 */
} rec;

typedef struct {
  rec *r;
  int64_t n, cap;
  int64_t headers; /* netflix movie headers */
} table;

static void table_free(table *t) {
  free(t->r);
  memset(t, 0, sizeof *t);
}

static const char *path_in(const char *name) {
  static char buf[4][256];
  static int next;
  char *p = buf[next++ % 4];
  snprintf(p, sizeof buf[0], "%s/%s", g_dir, name);
  return p;
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  assert_true(size >= 0);
  fseek(f, 0, SEEK_SET);
  char *data = malloc((size_t)size + 1);
  assert_non_null(data);
  assert_int_equal(fread(data, 1, (size_t)size, f), (size_t)size);
  fclose(f);
  data[size] = '\0';
  *len = (size_t)size;
  return data;
}

static int64_t parse_int(const char **s) {
  const char *p = *s;
  assert_true(*p >= '0' && *p <= '9');
  int64_t v = 0;
  while (*p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
  *s = p;
  return v;
}

static void expect(const char **s, const char *sep) {
  size_t n = strlen(sep);
  assert_memory_equal(*s, sep, n);
  *s += n;
}

/* Days since 1970-01-01 of a civil date (H. Hinnant, days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void push(table *t, rec r) {
  if (t->n == t->cap) {
    t->cap = t->cap ? 2 * t->cap : 1024;
    t->r = realloc(t->r, (size_t)t->cap * sizeof *t->r);
    assert_non_null(t->r);
  }
  t->r[t->n++] = r;
}

/* Reads a generated file; any deviation from the format fails the test. */
static void parse_file(const char *path, const char *format, table *t) {
  size_t len;
  char *data = slurp(path, &len);
  memset(t, 0, sizeof *t);
  const char *sep = !strcmp(format, "movielens") ? "::" : !strcmp(format, "tsv") ? "\t" : ",";
  int netflix = !strcmp(format, "netflix");
  int64_t movie = -1, lines_of_movie = 0;
  const char *s = data, *end = data + len;
  while (s < end) {
    rec r = {0};
    if (netflix) {
      int64_t v = parse_int(&s);
      if (*s == ':') {
        expect(&s, ":\n");
        /* Every header has lines, and movies come in increasing id order. */
        assert_true(movie < 0 || lines_of_movie > 0);
        assert_true(v > movie);
        movie = v;
        lines_of_movie = 0;
        t->headers++;
        continue;
      }
      assert_true(movie > 0);
      r.user = v;
      r.item = movie;
      expect(&s, ",");
      r.rating = (int)parse_int(&s);
      expect(&s, ",");
      int64_t y = parse_int(&s);
      expect(&s, "-");
      assert_true(s[0] && s[1] && s[2] == '-');
      int64_t mo = parse_int(&s);
      expect(&s, "-");
      int64_t d = parse_int(&s);
      assert_true(mo >= 1 && mo <= 12 && d >= 1 && d <= 31);
      r.day = days_from_civil(y, mo, d);
      r.ts = -1;
      lines_of_movie++;
    } else {
      r.user = parse_int(&s);
      expect(&s, sep);
      r.item = parse_int(&s);
      expect(&s, sep);
      r.rating = (int)parse_int(&s);
      expect(&s, sep);
      r.ts = parse_int(&s);
      r.day = r.ts / 86400;
    }
    expect(&s, "\n");
    push(t, r);
  }
  if (netflix) assert_true(movie < 0 || lines_of_movie > 0);
  free(data);
}

static int cmp_rec(const void *a, const void *b) {
  const rec *x = a, *y = b;
  if (x->user != y->user) return x->user < y->user ? -1 : 1;
  if (x->item != y->item) return x->item < y->item ? -1 : 1;
  return 0;
}

static int cmp_desc(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* Ids, ratings, times in range and no (user, item) pair twice; sorts t. */
static void check_records(table *t, int64_t users, int64_t items) {
  for (int64_t k = 0; k < t->n; k++) {
    rec *r = &t->r[k];
    assert_true(r->user >= 1 && r->user <= users);
    assert_true(r->item >= 1 && r->item <= items);
    assert_true(r->rating >= 1 && r->rating <= 5);
    assert_true(r->day >= T_BEGIN / 86400 && r->day < T_END / 86400);
    if (r->ts >= 0) assert_true(r->ts >= T_BEGIN && r->ts < T_END);
  }
  qsort(t->r, (size_t)t->n, sizeof *t->r, cmp_rec);
  for (int64_t k = 1; k < t->n; k++) assert_true(cmp_rec(&t->r[k - 1], &t->r[k]) < 0);
}

static ia_generate_opts small_opts(const char *name, const char *format) {
  ia_generate_opts o;
  ia_generate_opts_default(&o);
  o.users = 3000;
  o.items = 200;
  o.mean_items = 12;
  o.clusters = 10;
  o.seed = 11;
  o.format = format;
  o.output = path_in(name);
  return o;
}

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

static void remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    struct stat sb;
    if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
      remove_tree(p);
    else
      remove(p);
  }
  closedir(d);
  rmdir(dir);
}

static int setup(void **state) {
  (void)state;
  snprintf(g_dir, sizeof g_dir, "/tmp/ia_generate_XXXXXX");
  return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  remove_tree(g_dir);
  return 0;
}

static void test_defaults(void **state) {
  (void)state;
  ia_generate_opts o;
  memset(&o, 0x5a, sizeof o);
  ia_generate_opts_default(&o);
  assert_int_equal(o.clusters, 20);
  assert_true(o.popularity_exponent == 1.0);
  assert_string_equal(o.format, "movielens");
  assert_int_equal(o.seed, 42);
  assert_int_equal(o.users, 0);
  assert_null(o.output);
}

static void test_shape(void **state) {
  (void)state;
  ia_generate_opts o;
  ia_generate_opts_default(&o);
  o.users = 20000;
  o.items = 500;
  o.mean_items = 10;
  o.clusters = 10;
  o.seed = 7;
  o.output = path_in("shape.dat");
  int64_t n = 0;
  assert_int_equal(ia_generate(&o, &n), IA_OK);
  table t;
  parse_file(o.output, "movielens", &t);
  assert_int_equal(t.n, n);
  /* Per-user counts have a coefficient of variation of about 1.9 (lognormal
   * sigma 1.25), so the total over 20000 users has a relative standard
   * deviation of 1.9 / sqrt(20000) = 1.3 %; 5 % is almost 4 sigma. */
  double want = (double)o.users * o.mean_items;
  assert_true(fabs((double)n - want) < 0.05 * want);
  check_records(&t, o.users, o.items);

  int64_t *per_user = calloc((size_t)o.users, sizeof *per_user);
  int64_t *per_item = calloc((size_t)o.items, sizeof *per_item);
  assert_true(per_user && per_item);
  for (int64_t k = 0; k < t.n; k++) {
    per_user[t.r[k].user - 1]++;
    per_item[t.r[k].item - 1]++;
  }
  /* Every user id has a row, and some rows are short enough for the usual
   * "drop users with < 3" filter to act (measured: 32 % at mean 10, where
   * the lognormal's lower half is short by itself). */
  int64_t short_users = 0;
  for (int64_t u = 0; u < o.users; u++) {
    assert_true(per_user[u] >= 1);
    short_users += per_user[u] < 3;
  }
  assert_true(short_users > o.users / 100);
  /* Long tail: the top 10 % of items hold far more than 10 % of the
   * interactions (measured 42 % with exponent 1; 30 % leaves room for other
   * seeds). The 50 most popular ids must not be the low ids: popularity is
   * shuffled over ids (about 5 of them are expected below 51). */
  int64_t top_low_ids = 0;
  for (int64_t j = 0; j < 50; j++) {
    int64_t c = per_item[j], better = 0;
    for (int64_t i = 0; i < o.items; i++) better += per_item[i] > c;
    top_low_ids += better < 50;
  }
  assert_true(top_low_ids < 25);
  qsort(per_item, (size_t)o.items, sizeof *per_item, cmp_desc);
  int64_t head = 0;
  for (int64_t j = 0; j < o.items / 10; j++) head += per_item[j];
  assert_true((double)head > 0.30 * (double)n);
  free(per_user);
  free(per_item);
  table_free(&t);
}

/* The same options in the four formats give the same pairs and ratings; the
 * netflix day is the day of the other formats' timestamp. */
static void test_formats_agree(void **state) {
  (void)state;
  const char *formats[4] = {"movielens", "tsv", "csv", "netflix"};
  table t[4];
  int64_t n[4];
  for (int f = 0; f < 4; f++) {
    char name[32];
    snprintf(name, sizeof name, "agree.%s", formats[f]);
    ia_generate_opts o = small_opts(name, formats[f]);
    assert_int_equal(ia_generate(&o, &n[f]), IA_OK);
    parse_file(o.output, formats[f], &t[f]);
    assert_int_equal(t[f].n, n[f]);
    check_records(&t[f], o.users, o.items);
  }
  for (int f = 1; f < 4; f++) {
    assert_int_equal(n[f], n[0]);
    for (int64_t k = 0; k < n[0]; k++) {
      assert_int_equal(t[f].r[k].user, t[0].r[k].user);
      assert_int_equal(t[f].r[k].item, t[0].r[k].item);
      assert_int_equal(t[f].r[k].rating, t[0].r[k].rating);
      assert_int_equal(t[f].r[k].day, t[0].r[k].day);
      if (f < 3) assert_int_equal(t[f].r[k].ts, t[0].r[k].ts);
    }
  }
  /* One netflix header per item that has interactions. */
  char *seen = calloc(200, 1);
  assert_non_null(seen);
  int64_t distinct = 0;
  for (int64_t k = 0; k < n[0]; k++) {
    distinct += !seen[t[0].r[k].item - 1];
    seen[t[0].r[k].item - 1] = 1;
  }
  assert_int_equal(t[3].headers, distinct);
  free(seen);
  for (int f = 0; f < 4; f++) table_free(&t[f]);
}

static int same_bytes(const char *a, const char *b) {
  size_t la, lb;
  char *x = slurp(a, &la), *y = slurp(b, &lb);
  int same = la == lb && memcmp(x, y, la) == 0;
  free(x);
  free(y);
  return same;
}

static void test_deterministic(void **state) {
  (void)state;
  const char *formats[2] = {"movielens", "netflix"};
  for (int f = 0; f < 2; f++) {
    int64_t n1, n2, n3;
    ia_generate_opts a = small_opts("det.a", formats[f]);
    ia_generate_opts b = small_opts("det.b", formats[f]);
    ia_generate_opts c = small_opts("det.c", formats[f]);
    c.seed++;
    assert_int_equal(ia_generate(&a, &n1), IA_OK);
    assert_int_equal(ia_generate(&b, &n2), IA_OK);
    assert_int_equal(ia_generate(&c, &n3), IA_OK);
    assert_int_equal(n1, n2);
    assert_true(same_bytes(a.output, b.output));
    assert_false(same_bytes(a.output, c.output));
  }
}

/* Users who want most of the catalogue: rejection gives way to the fallback,
 * still without repeats; mean == items gives everybody everything. */
static void test_dense(void **state) {
  (void)state;
  ia_generate_opts o = small_opts("dense.tsv", "tsv");
  o.users = 500;
  o.items = 40;
  o.mean_items = 35;
  o.clusters = 4;
  o.popularity_exponent = 2.0;
  int64_t n = 0;
  assert_int_equal(ia_generate(&o, &n), IA_OK);
  table t;
  parse_file(o.output, "tsv", &t);
  assert_int_equal(t.n, n);
  check_records(&t, o.users, o.items);
  /* Capping at 40 items squeezes the spread: 10 % is many sigma here. */
  assert_true(fabs((double)n - 500.0 * 35.0) < 0.10 * 500.0 * 35.0);
  table_free(&t);

  o.mean_items = 40;
  assert_int_equal(ia_generate(&o, &n), IA_OK);
  assert_int_equal(n, 500 * 40);
  parse_file(o.output, "tsv", &t);
  check_records(&t, o.users, o.items);
  table_free(&t);

  o.items = 1;
  o.mean_items = 1;
  o.clusters = 1;
  o.format = "netflix";
  assert_int_equal(ia_generate(&o, &n), IA_OK);
  assert_int_equal(n, 500);
  parse_file(o.output, "netflix", &t);
  assert_int_equal(t.headers, 1);
  check_records(&t, o.users, o.items);
  table_free(&t);
}

/* The clusters must make co-occurrence informative: leave one item out per
 * user and compare hit rate at 10 of item-item cosine kNN with popularity. */
static void test_item_item_beats_popularity(void **state) {
  (void)state;
  ia_generate_opts o = small_opts("knn.dat", "movielens");
  o.users = 4000;
  o.items = 300;
  o.mean_items = 15;
  int64_t n = 0;
  assert_int_equal(ia_generate(&o, &n), IA_OK);
  table t;
  parse_file(o.output, "movielens", &t);
  check_records(&t, o.users, o.items);
  int64_t ni = o.items;
  int64_t *ptr = calloc((size_t)o.users + 1, sizeof *ptr);
  int64_t *held = malloc((size_t)o.users * sizeof *held);
  double *co = calloc((size_t)(ni * ni), sizeof *co);
  double *cnt = calloc((size_t)ni, sizeof *cnt);
  double *score = malloc((size_t)ni * sizeof *score);
  char *in_train = calloc((size_t)ni, 1);
  assert_true(ptr && held && co && cnt && score && in_train);
  for (int64_t k = 0; k < t.n; k++) ptr[t.r[k].user]++;
  for (int64_t u = 0; u < o.users; u++) ptr[u + 1] += ptr[u];
  /* Hold out a fixed pseudo-random position of each row (rows are sorted by
   * item, so this is not biased towards popular or rare items). */
  for (int64_t u = 0; u < o.users; u++) {
    int64_t len = ptr[u + 1] - ptr[u];
    held[u] = len >= 2 ? ptr[u] + (u * 7919) % len : -1;
    for (int64_t a = ptr[u]; a < ptr[u + 1]; a++) {
      if (a == held[u]) continue;
      int64_t i = t.r[a].item - 1;
      cnt[i] += 1;
      for (int64_t b = ptr[u]; b < ptr[u + 1]; b++)
        if (b != held[u] && b != a) co[i * ni + t.r[b].item - 1] += 1;
    }
  }
  int64_t tried = 0, hit_knn = 0, hit_pop = 0;
  for (int64_t u = 0; u < o.users; u++) {
    if (held[u] < 0) continue;
    tried++;
    int64_t target = t.r[held[u]].item - 1;
    memset(in_train, 0, (size_t)ni);
    memset(score, 0, (size_t)ni * sizeof *score);
    for (int64_t a = ptr[u]; a < ptr[u + 1]; a++) {
      if (a == held[u]) continue;
      int64_t i = t.r[a].item - 1;
      in_train[i] = 1;
      for (int64_t j = 0; j < ni; j++)
        if (co[i * ni + j] > 0) score[j] += co[i * ni + j] / sqrt(cnt[i] * cnt[j]);
    }
    int64_t above_knn = 0, above_pop = 0;
    for (int64_t j = 0; j < ni; j++) {
      if (in_train[j] || j == target) continue;
      above_knn += score[j] >= score[target];
      above_pop += cnt[j] >= cnt[target];
    }
    hit_knn += above_knn < 10;
    hit_pop += above_pop < 10;
  }
  /* Measured on this seed: kNN hit@10 0.483, popularity 0.300 (1.6x). Ties
   * count against the held-out item, so neither is flattered. Without taste
   * clusters kNN has no edge over popularity; 1.3x is far above noise (3548
   * users: standard error of each rate under 0.01). */
  double knn = (double)hit_knn / (double)tried, pop = (double)hit_pop / (double)tried;
  print_message("item-item hit@10 %.3f, popularity %.3f over %lld users\n", knn, pop,
                (long long)tried);
  assert_true(knn > 1.3 * pop);
  free(ptr);
  free(held);
  free(co);
  free(cnt);
  free(score);
  free(in_train);
  table_free(&t);
}

static void expect_bad(ia_generate_opts *o) {
  int64_t n = 123;
  ia_error_clear();
  assert_int_equal(ia_generate(o, &n), IA_ERR_ARG);
  assert_int_equal(n, 0);
  assert_true(ia_error_message()[0] != '\0');
  ia_error_clear();
  assert_int_equal(count_entries(g_dir), 0);
}

static void test_bad_options(void **state) {
  (void)state;
  /* Start from an empty directory so that any leftover shows. */
  remove_tree(g_dir);
  assert_int_equal(mkdir(g_dir, 0700), 0);
  ia_generate_opts o = small_opts("bad.dat", "movielens");
  o.users = 0;
  expect_bad(&o);
  o = small_opts("bad.dat", "movielens");
  o.items = 0;
  expect_bad(&o);
  o = small_opts("bad.dat", "movielens");
  o.mean_items = 201;
  expect_bad(&o);
  o = small_opts("bad.dat", "movielens");
  o.mean_items = 0.5;
  expect_bad(&o);
  o = small_opts("bad.dat", "movielens");
  o.mean_items = NAN;
  expect_bad(&o);
  o = small_opts("bad.dat", "parquet");
  expect_bad(&o);
  o = small_opts("bad.dat", NULL);
  expect_bad(&o);
  o = small_opts("bad.dat", "movielens");
  o.clusters = 0;
  expect_bad(&o);
  o = small_opts("bad.dat", "movielens");
  o.popularity_exponent = -1;
  expect_bad(&o);
  o = small_opts("bad.dat", "movielens");
  o.output = NULL;
  expect_bad(&o);
  int64_t n = 5;
  ia_error_clear();
  assert_int_equal(ia_generate(NULL, &n), IA_ERR_ARG);
  assert_int_equal(n, 0);
  o = small_opts("bad.dat", "movielens");
  assert_int_equal(ia_generate(&o, NULL), IA_ERR_ARG);
  ia_error_clear();
  assert_int_equal(count_entries(g_dir), 0);

  /* A failure after writing (the final rename onto a non-empty directory)
   * removes the temporary file. */
  assert_int_equal(mkdir(path_in("sub"), 0700), 0);
  FILE *f = fopen(path_in("sub/keep"), "w");
  assert_non_null(f);
  fclose(f);
  o = small_opts("sub", "csv");
  assert_int_equal(ia_generate(&o, &n), IA_ERR_IO);
  ia_error_clear();
  assert_int_equal(n, 0);
  assert_int_equal(count_entries(g_dir), 1);
  assert_int_equal(count_entries(path_in("sub")), 1);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  ia_log_init(MPI_COMM_WORLD, IA_LOG_QUIET);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),      cmocka_unit_test(test_shape),
      cmocka_unit_test(test_formats_agree), cmocka_unit_test(test_deterministic),
      cmocka_unit_test(test_dense),         cmocka_unit_test(test_item_item_beats_popularity),
      cmocka_unit_test(test_bad_options),
  };
  int rc = cmocka_run_group_tests(tests, setup, teardown);
  MPI_Finalize();
  return rc;
}
