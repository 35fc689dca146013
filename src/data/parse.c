/* Parsing `prepare`'s inputs (infae/data/prepare.h) into raw (user, item)
 * pairs: the line formats movielens, tsv/csv, netflix, split-tsv and
 * adjacency, with their errors. */
#include "data/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infae/core/log.h"

ia_status ia_pairs_push(raw_pairs *p, int32_t u, int32_t i, int split) {
  if (p->n == p->cap) {
    int64_t cap = p->cap ? p->cap + p->cap / 2 : 1 << 20;
    int32_t *nu = realloc(p->u, sizeof *nu * (size_t)cap);
    if (nu) p->u = nu;
    int32_t *ni = nu ? realloc(p->i, sizeof *ni * (size_t)cap) : NULL;
    if (ni) p->i = ni;
    int8_t *ns = ni ? realloc(p->split, (size_t)cap) : NULL;
    if (ns) p->split = ns;
    IA_CHECK(nu && ni && ns, IA_ERR_NOMEM, "out of memory holding %lld interactions",
             (long long)cap);
    p->cap = cap;
  }
  p->u[p->n] = u;
  p->i[p->n] = i;
  p->split[p->n] = (int8_t)split;
  p->n++;
  return IA_OK;
}

static int next_token(const char **s, const char *end, field *t) {
  const char *q = *s;
  while (q < end && (*q == ' ' || *q == '\t')) q++;
  const char *b = q;
  while (q < end && *q != ' ' && *q != '\t') q++;
  *s = q;
  *t = (field){b, (size_t)(q - b)};
  return q > b;
}

/* One line of an adjacency list: [user] [count] item item ..., blank-separated
 * and as long as it needs (no MAX_FIELDS); without a user field the user is
 * user_no, the line's 0-based number. */
static ia_status parse_adjacency(const line_format *lf, const char *path, int64_t line_no,
                                 int64_t user_no, int first, const char *line, size_t len,
                                 raw_pairs *p) {
  const ia_prepare_opts *o = lf->o;
  const char *s = line, *end = line + len;
  field t, fu, fc;
  if (first && !o->header) {
    first_line h = {.line_no = line_no};
    snprintf(h.text, sizeof h.text, "%s", ia_excerpt(line, len));
    int count_at = o->no_count ? -1 : o->user_first ? 1 : 0;
    for (int k = 0; next_token(&s, end, &t); k++) {
      char why[96];
      if (ia_field_is_header_word(t))
        snprintf(why, sizeof why, "'%.*s' is a column name", (int)(t.len < 40 ? t.len : 40), t.p);
      else if (k == count_at && !ia_field_is_uint(t))
        snprintf(why, sizeof why, "its count is not a number");
      else
        continue;
      return ia_header_refuse(path, &h, why);
    }
    s = line;
  }
  char num[24];
  if (o->user_first) {
    next_token(&s, end, &fu); /* blank lines never get here */
  } else {
    snprintf(num, sizeof num, "%lld", (long long)user_no);
    fu = (field){num, strlen(num)};
  }
  int64_t count = -1, n = 0;
  if (!o->no_count) {
    IA_CHECK(next_token(&s, end, &fc) && ia_field_is_uint(fc), IA_ERR_FORMAT,
             "%s:%lld: expected %s, got '%s'", path, (long long)line_no, lf->expect,
             ia_excerpt(line, len));
    count = 0;
    for (size_t k = 0; k < fc.len; k++) count = 10 * count + (fc.p[k] - '0');
  }
  IA_CHECK(ia_field_is_token(fu), IA_ERR_FORMAT, "%s:%lld: expected %s, got '%s'", path,
           (long long)line_no, lf->expect, ia_excerpt(line, len));
  IA_CHECK(ia_field_is_utf8(fu), IA_ERR_FORMAT,
           "%s:%lld: the user id is not UTF-8 text (got '%s'); ids are stored as UTF-8: "
           "convert the file first (e.g. iconv -f latin1 -t utf-8)",
           path, (long long)line_no, ia_excerpt(line, len));
  int32_t u = -1;
  while (next_token(&s, end, &t)) {
    IA_CHECK(ia_field_is_token(t), IA_ERR_FORMAT, "%s:%lld: expected %s, got '%s'", path,
             (long long)line_no, lf->expect, ia_excerpt(line, len));
    IA_CHECK(ia_field_is_utf8(t), IA_ERR_FORMAT,
             "%s:%lld: the item id is not UTF-8 text (got '%s'); ids are stored as UTF-8: "
             "convert the file first (e.g. iconv -f latin1 -t utf-8)",
             path, (long long)line_no, ia_excerpt(line, len));
    if (u < 0) IA_CALL(ia_idmap_intern(p->users, fu.p, fu.len, &u));
    int32_t i;
    IA_CALL(ia_idmap_intern(p->items, t.p, t.len, &i));
    IA_CALL(ia_pairs_push(p, u, i, 0));
    n++;
  }
  IA_CHECK(count < 0 || count == n, IA_ERR_FORMAT,
           "%s:%lld: the count %lld does not match the %lld item ids that follow in '%s' "
           "(--no-count reads lists without a count)",
           path, (long long)line_no, (long long)count, (long long)n, ia_excerpt(line, len));
  return IA_OK;
}

ia_status ia_parse_file(const line_format *lf, const char *path, EVP_MD_CTX *sha, raw_pairs *p,
                        double t0) {
  ia_status st = IA_OK;
  reader r;
  char *line;
  size_t len;
  int got;
  field f[MAX_FIELDS];
  int32_t movie = -1;
  const char *fmt = lf->o->format;
  int is_ml = !strcmp(fmt, "movielens"), is_nf = !strcmp(fmt, "netflix"),
      is_split = !strcmp(fmt, "split-tsv"), is_adj = !strcmp(fmt, "adjacency");
  first_line hl = {0};
  int seen = 0;
  int ucol = lf->o->user_col - 1, icol = lf->o->item_col - 1;
  int need = (ucol > icol ? ucol : icol) + 1;
  IA_CALL(ia_reader_open(&r, path, sha));
  for (;;) {
    IA_CALL_GOTO(ia_reader_next(&r, &line, &len, &got));
    if (!got) break;
    if ((lf->o->header && r.line_no == 1)) continue;
    size_t k = 0;
    while (k < len && (line[k] == ' ' || line[k] == '\t')) k++;
    if (k == len) continue; /* blank line */
    p->lines++;
    if (p->lines % 10000000 == 0) {
      double dt = ia_time() - t0;
      ia_log_info("[prepare] %.0fM lines %.1f s %.2fM lines/s", p->lines / 1e6, dt,
                  p->lines / 1e6 / dt);
    }
    if (is_adj) {
      int64_t user_no = p->adj_base + r.line_no - 1 - (lf->o->header != 0);
      IA_CALL_GOTO(parse_adjacency(lf, path, r.line_no, user_no, !seen, line, len, p));
      seen = 1;
      continue;
    }
    int32_t u, i;
    int split = 0;
    if (is_nf) {
      if (line[len - 1] == ':') {
        field m = {line, len - 1};
        IA_CHECK_GOTO(ia_field_is_uint(m), IA_ERR_FORMAT, "%s:%lld: bad movie header '%s'", path,
                      (long long)r.line_no, ia_excerpt(line, len));
        IA_CALL_GOTO(ia_idmap_intern(p->items, m.p, m.len, &movie));
        continue;
      }
      int n = ia_split_fields(line, len, ",", f);
      IA_CHECK_GOTO(n == 3 && ia_field_is_uint(f[0]) && movie >= 0, IA_ERR_FORMAT,
                    "%s:%lld: expected %s, got '%s'", path, (long long)r.line_no,
                    movie >= 0 ? lf->expect : "a 'movieid:' line first", ia_excerpt(line, len));
      IA_CALL_GOTO(ia_idmap_intern(p->users, f[0].p, f[0].len, &u));
      i = movie;
    } else {
      int n = ia_split_fields(line, len, lf->sep, f);
      field fu, fi;
      int ok, other_length = 0;
      if (is_ml) {
        ok = n == 4 && ia_field_is_uint(f[0]) && ia_field_is_uint(f[1]);
        fu = f[0];
        fi = f[1];
      } else if (is_split) {
        if (r.line_no == 1 && n == 3 && !ia_field_is_uint(f[2])) continue; /* header */
        ok = n == 3 && ia_field_is_token(f[0]) && ia_field_is_token(f[1]) && f[2].len == 1 &&
             f[2].p[0] >= '0' && f[2].p[0] <= '2';
        fu = f[0];
        fi = f[1];
        if (ok) split = f[2].p[0] - '0';
      } else {
        if (!hl.line_no && !lf->o->header) {
          IA_CALL_GOTO(ia_header_first(&hl, path, r.line_no, f, n, ucol, icol, line, len));
        } else if (!hl.line_no) {
          hl.line_no = r.line_no;
          hl.n_fields = n;
        } else {
          ia_header_later(&hl, f, n, ucol, icol);
          other_length = !lf->o->ragged && n != hl.n_fields;
        }
        ok = n >= need && ia_field_is_token(f[ucol]) && ia_field_is_token(f[icol]);
        if (ok) {
          fu = f[ucol];
          fi = f[icol];
        }
      }
      IA_CHECK_GOTO(ok, IA_ERR_FORMAT, "%s:%lld: expected %s, got '%s'", path, (long long)r.line_no,
                    lf->expect, ia_excerpt(line, len));
      if (other_length) { /* a header shorter or longer than the data is named as such */
        IA_CALL_GOTO(ia_header_verdict(&hl, path));
        IA_CHECK_GOTO(0, IA_ERR_FORMAT,
                      "%s:%lld: expected %d fields as on line %lld, got %d in '%s' "
                      "(--ragged accepts lines of different lengths)",
                      path, (long long)r.line_no, hl.n_fields, (long long)hl.line_no, n,
                      ia_excerpt(line, len));
      }
      IA_CHECK_GOTO(ia_field_is_utf8(fu) && ia_field_is_utf8(fi), IA_ERR_FORMAT,
                    "%s:%lld: the %s id is not UTF-8 text (got '%s'); ids are stored as UTF-8: "
                    "convert the file first (e.g. iconv -f latin1 -t utf-8)",
                    path, (long long)r.line_no, ia_field_is_utf8(fu) ? "item" : "user",
                    ia_excerpt(line, len));
      IA_CALL_GOTO(ia_idmap_intern(p->users, fu.p, fu.len, &u));
      IA_CALL_GOTO(ia_idmap_intern(p->items, fi.p, fi.len, &i));
    }
    IA_CALL_GOTO(ia_pairs_push(p, u, i, split));
  }
  IA_CALL_GOTO(ia_header_verdict(&hl, path));
  p->adj_base += r.line_no - (lf->o->header && r.line_no > 0);
done:
  ia_reader_close(&r);
  return st;
}
