/* `generate`: the options, the buffered writer, progress lines and the two
 * write passes (user by user; item by item for netflix) over the synthetic
 * model of data/generate_model.h. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* getpid */
#endif
#include "infae/data/generate.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/generate_model.h"
#include "infae/core/log.h"
#include "infae/core/paths.h"

#define MAX_EXPONENT 10.0    /* beyond this popularity is one item; also keeps weights > 0 */
#define BIG_RUN      1000000 /* interactions from which progress lines are worth printing */
#define WRITE_BUFFER ((size_t)8 << 20)

enum { FMT_MOVIELENS, FMT_TSV, FMT_CSV, FMT_NETFLIX };

typedef struct {
  FILE *f;
  const char *path;
  char *buf;
  size_t len;
} writer;

typedef struct {
  double t0;
  int64_t total, next;
  int pct;
  const char *what;
} progress;

void ia_generate_opts_default(ia_generate_opts *o) {
  memset(o, 0, sizeof *o);
  o->seed = 42;
  o->clusters = 20;
  o->popularity_exponent = 1.0;
  o->format = "movielens";
}

static int parse_format(const char *s) {
  if (!s) return -1;
  if (!strcmp(s, "movielens")) return FMT_MOVIELENS;
  if (!strcmp(s, "tsv")) return FMT_TSV;
  if (!strcmp(s, "csv")) return FMT_CSV;
  if (!strcmp(s, "netflix")) return FMT_NETFLIX;
  return -1;
}

static ia_status check_opts(const ia_generate_opts *o, int64_t *n_written) {
  IA_CHECK(o && n_written, IA_ERR_ARG, "generate: options and n_written must not be NULL");
  IA_CHECK(o->users > 0 && o->users <= INT32_MAX, IA_ERR_ARG,
           "generate: users = %lld must be in [1, %d]", (long long)o->users, INT32_MAX);
  IA_CHECK(o->items > 0 && o->items <= INT32_MAX, IA_ERR_ARG,
           "generate: items = %lld must be in [1, %d]", (long long)o->items, INT32_MAX);
  IA_CHECK(isfinite(o->mean_items) && o->mean_items >= 1.0 && o->mean_items <= (double)o->items,
           IA_ERR_ARG,
           "generate: mean_items = %g must be in [1, items = %lld] (every user has at least "
           "one interaction, all distinct)",
           o->mean_items, (long long)o->items);
  IA_CHECK(o->clusters >= 1 && o->clusters <= o->items, IA_ERR_ARG,
           "generate: clusters = %d must be in [1, items = %lld]", o->clusters,
           (long long)o->items);
  IA_CHECK(isfinite(o->popularity_exponent) && o->popularity_exponent >= 0.0 &&
               o->popularity_exponent <= MAX_EXPONENT,
           IA_ERR_ARG, "generate: popularity_exponent = %g must be in [0, %g]",
           o->popularity_exponent, MAX_EXPONENT);
  IA_CHECK(parse_format(o->format) >= 0, IA_ERR_ARG,
           "generate: unknown format '%s' (movielens, tsv, csv or netflix)",
           o->format ? o->format : "(null)");
  IA_CHECK(o->output && o->output[0], IA_ERR_ARG, "generate: no output path");
  return IA_OK;
}

static ia_status writer_flush(writer *w) {
  if (w->len == 0) return IA_OK;
  size_t put = fwrite(w->buf, 1, w->len, w->f);
  IA_CHECK(put == w->len, IA_ERR_IO, "%s: write failed: %s", w->path, strerror(errno));
  w->len = 0;
  return IA_OK;
}

/* Room for any one line; callers flush when fewer bytes are left. */
#define LINE_MAX_BYTES 128

static inline char *put_uint(char *s, uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) *s++ = tmp[--n];
  return s;
}

static inline char *put_sep(char *s, int fmt) {
  if (fmt == FMT_MOVIELENS) {
    *s++ = ':';
    *s++ = ':';
  } else {
    *s++ = fmt == FMT_TSV ? '\t' : ',';
  }
  return s;
}

/* YYYY-MM-DD of a day count since 1970-01-01 (H. Hinnant, "chrono-compatible
 * low-level date algorithms", civil_from_days). */
static char *put_date(char *s, int64_t days) {
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t mo = mp < 10 ? mp + 3 : mp - 9;
  int64_t y = yoe + era * 400 + (mo <= 2);
  s = put_uint(s, (uint64_t)y);
  *s++ = '-';
  *s++ = (char)('0' + mo / 10);
  *s++ = (char)('0' + mo % 10);
  *s++ = '-';
  *s++ = (char)('0' + d / 10);
  *s++ = (char)('0' + d % 10);
  return s;
}

static void progress_start(progress *g, int64_t total, const char *what) {
  g->t0 = ia_time();
  g->total = total;
  g->pct = 0;
  g->what = what;
  g->next = total >= BIG_RUN ? total / 10 : INT64_MAX;
}

static void progress_step(progress *g, int64_t done) {
  if (done < g->next) return;
  while (g->pct < 100 && done >= g->total * (g->pct + 10) / 100) g->pct += 10;
  g->next = g->pct >= 100 ? INT64_MAX : g->total * (g->pct + 10) / 100;
  ia_log_info("[generate] %s%d%% %.1fM interactions %.1f s", g->what, g->pct, (double)done / 1e6,
              ia_time() - g->t0);
}

/* movielens / tsv / csv: one user at a time, straight to the file. */
static ia_status write_by_user(const model *m, int fmt, int64_t total, writer *w) {
  ia_status st = IA_OK;
  uint32_t *mark = NULL;
  int32_t *items = NULL;
  keyed *scratch = NULL;
  IA_CALL_GOTO(IA_ZALLOC(mark, m->items, "generator item marks"));
  IA_CALL_GOTO(IA_ALLOC(items, m->items, "generator user items"));
  IA_CALL_GOTO(IA_ALLOC(scratch, m->items, "generator sampling keys"));
  progress g;
  progress_start(&g, total, "");
  int64_t done = 0;
  for (int64_t u = 0; u < m->users; u++) {
    profile p;
    ia_gen_draw_profile(m, u, &p);
    ia_gen_draw_items(m, &p, mark, (uint32_t)u + 1, items, scratch);
    for (int64_t k = 0; k < p.n; k++) {
      if (w->len > WRITE_BUFFER - LINE_MAX_BYTES) IA_CALL_GOTO(writer_flush(w));
      int rating;
      int64_t ts;
      ia_gen_draw_pair(m, &p, u, items[k], &rating, &ts);
      char *s = w->buf + w->len;
      s = put_uint(s, (uint64_t)u + 1);
      s = put_sep(s, fmt);
      s = put_uint(s, (uint64_t)items[k] + 1);
      s = put_sep(s, fmt);
      *s++ = (char)('0' + rating);
      s = put_sep(s, fmt);
      s = put_uint(s, (uint64_t)ts);
      *s++ = '\n';
      w->len = (size_t)(s - w->buf);
    }
    done += p.n;
    progress_step(&g, done);
  }
done:
  free(mark);
  free(items);
  free(scratch);
  return st;
}

/* netflix: all pairs in memory (item per interaction in user order, then the
 * users regrouped by item with a counting sort: 8 bytes per interaction at
 * the peak), then one "movie:" block per item. */
static ia_status write_by_item(const model *m, const int32_t *count, int64_t total, writer *w) {
  ia_status st = IA_OK;
  uint32_t *mark = NULL;
  keyed *scratch = NULL;
  int32_t *item_of = NULL, *user_of = NULL;
  int64_t *item_ptr = NULL;
  double *start = NULL, *span = NULL;
  IA_CALL_GOTO(IA_ZALLOC(mark, m->items, "generator item marks"));
  IA_CALL_GOTO(IA_ALLOC(scratch, m->items, "generator sampling keys"));
  IA_CALL_GOTO(IA_ALLOC(item_of, total, "generated items (netflix layout)"));
  IA_CALL_GOTO(IA_ALLOC(start, m->users, "user start times"));
  IA_CALL_GOTO(IA_ALLOC(span, m->users, "user active spans"));
  progress g;
  progress_start(&g, total, "sample ");
  int64_t pos = 0;
  for (int64_t u = 0; u < m->users; u++) {
    profile p;
    ia_gen_draw_profile(m, u, &p);
    ia_gen_draw_items(m, &p, mark, (uint32_t)u + 1, item_of + pos, scratch);
    start[u] = p.start;
    span[u] = p.span;
    pos += p.n;
    progress_step(&g, pos);
  }
  free(mark);
  mark = NULL;
  free(scratch);
  scratch = NULL;

  double t0 = ia_time();
  IA_CALL_GOTO(IA_ZALLOC(item_ptr, m->items + 1, "netflix item offsets"));
  IA_CALL_GOTO(IA_ALLOC(user_of, total, "generated users (netflix layout)"));
  for (int64_t k = 0; k < total; k++) item_ptr[item_of[k] + 1]++;
  for (int64_t j = 0; j < m->items; j++) item_ptr[j + 1] += item_ptr[j];
  pos = 0;
  for (int64_t u = 0; u < m->users; u++) {
    for (int64_t k = pos; k < pos + count[u]; k++) user_of[item_ptr[item_of[k]]++] = (int32_t)u;
    pos += count[u];
  }
  /* The fill advanced every offset to the next item's start: shift back. */
  for (int64_t j = m->items; j > 0; j--) item_ptr[j] = item_ptr[j - 1];
  item_ptr[0] = 0;
  free(item_of);
  item_of = NULL;
  ia_log_info("[generate] grouped %lld interactions by item in %.1f s", (long long)total,
              ia_time() - t0);

  progress_start(&g, total, "write ");
  for (int64_t j = 0; j < m->items; j++) {
    if (item_ptr[j + 1] == item_ptr[j]) continue;
    if (w->len > WRITE_BUFFER - LINE_MAX_BYTES) IA_CALL_GOTO(writer_flush(w));
    char *s = put_uint(w->buf + w->len, (uint64_t)j + 1);
    *s++ = ':';
    *s++ = '\n';
    w->len = (size_t)(s - w->buf);
    for (int64_t k = item_ptr[j]; k < item_ptr[j + 1]; k++) {
      if (w->len > WRITE_BUFFER - LINE_MAX_BYTES) IA_CALL_GOTO(writer_flush(w));
      int64_t u = user_of[k];
      profile p = {.start = start[u], .span = span[u]};
      int rating;
      int64_t ts;
      ia_gen_draw_pair(m, &p, u, j, &rating, &ts);
      s = put_uint(w->buf + w->len, (uint64_t)u + 1);
      *s++ = ',';
      *s++ = (char)('0' + rating);
      *s++ = ',';
      s = put_date(s, ts / 86400);
      *s++ = '\n';
      w->len = (size_t)(s - w->buf);
    }
    progress_step(&g, item_ptr[j + 1]);
  }
done:
  free(mark);
  free(scratch);
  free(item_of);
  free(user_of);
  free(item_ptr);
  free(start);
  free(span);
  return st;
}

ia_status ia_generate(const ia_generate_opts *o, int64_t *n_written) {
  if (n_written) *n_written = 0;
  IA_CALL(check_opts(o, n_written));
  ia_status st = IA_OK;
  model m = {0};
  int32_t *count = NULL;
  char *tmp = NULL;
  writer w = {0};
  int created = 0; /* only a temporary file of ours is ever removed */
  int fmt = parse_format(o->format);
  double t0 = ia_time();

  IA_CALL_GOTO(ia_gen_model_build(&m, o));

  /* Sizes first (cheap: a few draws per user) for the exact netflix arrays
   * and for progress in percent. */
  int64_t total = 0;
  if (fmt == FMT_NETFLIX) IA_CALL_GOTO(IA_ALLOC(count, m.users, "interactions per user"));
  for (int64_t u = 0; u < m.users; u++) {
    profile p;
    ia_gen_draw_profile(&m, u, &p);
    if (count) count[u] = (int32_t)p.n;
    total += p.n;
  }
  ia_log_info("[generate] %lld users x %lld items, %lld interactions (mean %.1f), %s -> %s",
              (long long)m.users, (long long)m.items, (long long)total,
              (double)total / (double)m.users, o->format, o->output);

  size_t tmp_len = strlen(o->output) + 32;
  IA_CALL_GOTO(IA_ALLOC(tmp, tmp_len, "temporary file name"));
  IA_CALL_GOTO(ia_tmp_name(o->output, 0, tmp, tmp_len));
  IA_CALL_GOTO(IA_ALLOC(w.buf, WRITE_BUFFER, "generator write buffer"));
  w.path = tmp;
  w.f = fopen(tmp, "wb");
  IA_CHECK_GOTO(w.f, IA_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
  created = 1;

  if (fmt == FMT_NETFLIX)
    IA_CALL_GOTO(write_by_item(&m, count, total, &w));
  else
    IA_CALL_GOTO(write_by_user(&m, fmt, total, &w));
  IA_CALL_GOTO(writer_flush(&w));
  FILE *f = w.f;
  w.f = NULL;
  int bad = ferror(f);
  bad |= fclose(f) != 0;
  IA_CHECK_GOTO(!bad, IA_ERR_IO, "%s: cannot finish writing: %s", tmp, strerror(errno));
  IA_CHECK_GOTO(rename(tmp, o->output) == 0, IA_ERR_IO, "cannot rename %s to %s: %s", tmp,
                o->output, strerror(errno));
  *n_written = total;
  double secs = ia_time() - t0;
  ia_log_info("[generate] wrote %lld interactions to %s in %.1f s (%.2fM lines/s)",
              (long long)total, o->output, secs, (double)total / 1e6 / (secs > 0 ? secs : 1e-9));

done:
  if (w.f) fclose(w.f);
  if (st != IA_OK && created) remove(tmp);
  if (tmp) ia_tmp_forget(tmp);
  free(w.buf);
  free(tmp);
  free(count);
  ia_gen_model_free(&m);
  return st;
}
