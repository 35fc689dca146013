#include "data/lines.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infae/core/log.h"

/* ---- streaming line reader (hashes every byte it reads) ---------------- */

ia_status ia_reader_open(reader *r, const char *path, EVP_MD_CTX *sha) {
  memset(r, 0, sizeof *r);
  r->path = path;
  r->sha = sha;
  r->f = fopen(path, "rb");
  IA_CHECK(r->f, IA_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  ia_status st = IA_ALLOC(r->buf, READ_CHUNK + MAX_LINE, "read buffer");
  if (st != IA_OK) fclose(r->f);
  return st;
}

void ia_reader_close(reader *r) {
  if (r->f) fclose(r->f);
  free(r->buf);
  memset(r, 0, sizeof *r);
}

/* Next line without its terminator; *got = 0 at end of file. */
ia_status ia_reader_next(reader *r, char **line, size_t *len, int *got) {
  for (;;) {
    char *start = r->buf + r->pos;
    char *nl = memchr(start, '\n', r->len - r->pos);
    if (nl || (r->eof && r->pos < r->len)) {
      size_t n = nl ? (size_t)(nl - start) : r->len - r->pos;
      r->pos += n + (nl ? 1 : 0);
      if (n > 0 && start[n - 1] == '\r') n--;
      start[n] = '\0';
      *line = start;
      *len = n;
      *got = 1;
      r->line_no++;
      return IA_OK;
    }
    if (r->eof) {
      *got = 0;
      return IA_OK;
    }
    IA_CHECK(r->len - r->pos < MAX_LINE, IA_ERR_FORMAT, "%s:%lld: line longer than %d bytes",
             r->path, (long long)r->line_no + 1, MAX_LINE);
    memmove(r->buf, r->buf + r->pos, r->len - r->pos);
    r->len -= r->pos;
    r->pos = 0;
    size_t n = fread(r->buf + r->len, 1, READ_CHUNK, r->f);
    IA_CHECK(!ferror(r->f), IA_ERR_IO, "error reading %s: %s", r->path, strerror(errno));
    if (n > 0) EVP_DigestUpdate(r->sha, r->buf + r->len, n);
    r->len += n;
    if (n == 0) r->eof = 1;
  }
}

/* A quoted, shortened copy of a bad line for error messages: printable
 * bytes as they are, others as \xNN, "..." when it is cut. */
const char *ia_excerpt(const char *line, size_t len) {
  static char out[128];
  const size_t room = sizeof out - 4; /* keeps "..." and the terminator */
  size_t k = 0, i = 0;
  for (; i < len; i++) {
    unsigned char c = (unsigned char)line[i];
    int printable = c >= 32 && c < 127;
    if (k + (printable ? 1 : 4) > room) break;
    if (printable)
      out[k++] = (char)c;
    else
      k += (size_t)snprintf(out + k, sizeof out - k, "\\x%02x", c);
  }
  memcpy(out + k, i < len ? "..." : "", i < len ? 4 : 1);
  return out;
}

/* ---- fields ------------------------------------------------------------- */

/* Splits on a separator string ("::", ",", "\t") or, with sep NULL, on runs
 * of blanks. Returns the number of fields in the line, of which the first
 * MAX_FIELDS are stored (the count is what line lengths are compared by). */
int ia_split_fields(const char *s, size_t len, const char *sep, field *f) {
  int n = 0;
  const char *end = s + len;
  if (!sep) {
    while (s < end) {
      while (s < end && (*s == ' ' || *s == '\t')) s++;
      if (s == end) break;
      const char *b = s;
      while (s < end && *s != ' ' && *s != '\t') s++;
      if (n < MAX_FIELDS) f[n] = (field){b, (size_t)(s - b)};
      n++;
    }
    return n;
  }
  size_t sl = strlen(sep);
  for (;;) {
    const char *hit = NULL;
    for (const char *q = s; q + sl <= end; q++)
      if (!memcmp(q, sep, sl)) {
        hit = q;
        break;
      }
    const char *e = hit ? hit : end;
    if (n < MAX_FIELDS) f[n] = (field){s, (size_t)(e - s)};
    n++;
    if (!hit) return n;
    s = hit + sl;
  }
}

int ia_field_is_uint(field f) {
  if (f.len == 0 || f.len > 18) return 0;
  for (size_t i = 0; i < f.len; i++)
    if (f.p[i] < '0' || f.p[i] > '9') return 0;
  return 1;
}

int ia_field_is_token(field f) {
  if (f.len == 0) return 0;
  for (size_t i = 0; i < f.len; i++)
    if ((unsigned char)f.p[i] <= ' ' || f.p[i] == 127) return 0;
  return 1;
}

/* Well-formed UTF-8 (no overlong forms, surrogates or code points above
 * U+10FFFF): ids are stored as UTF-8 strings. */
int ia_field_is_utf8(field f) {
  const unsigned char *p = (const unsigned char *)f.p, *end = p + f.len;
  while (p < end) {
    unsigned c = *p;
    int n = c < 0x80             ? 0
            : (c & 0xE0) == 0xC0 ? 1
            : (c & 0xF0) == 0xE0 ? 2
            : (c & 0xF8) == 0xF0 ? 3
                                 : -1;
    if (n < 0 || end - p <= n) return 0; /* not a lead byte, or cut short */
    unsigned cp = n == 0 ? c : n == 1 ? c & 0x1F : n == 2 ? c & 0x0F : c & 0x07;
    for (int k = 1; k <= n; k++) {
      if ((p[k] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (p[k] & 0x3F);
    }
    static const unsigned least[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < least[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    p += n + 1;
  }
  return 1;
}

/* ---- header lines ------------------------------------------------------- */

/* Digits with an optional sign: what ids of numeric files look like. */
int ia_field_is_number(field f) {
  size_t k = f.len > 0 && (f.p[0] == '-' || f.p[0] == '+');
  if (k == f.len) return 0;
  for (; k < f.len; k++)
    if (f.p[k] < '0' || f.p[k] > '9') return 0;
  return 1;
}

/* A column name of the usual rating files (MovieLens' ratings.csv, Douban,
 * Last.fm, Amazon, Book-Crossing, Yelp), compared without case, quotes, a
 * leading '#', '_', '-', '.' or blanks: "userId", "user_id", "\"User-ID\"". */
int ia_field_is_header_word(field f) {
  static const char *words[] = {
      "user",       "users",     "userid",  "uid",    "reviewer",  "reviewerid", "customer",
      "customerid", "item",      "items",   "itemid", "iid",       "movie",      "movieid",
      "product",    "productid", "asin",    "book",   "bookid",    "isbn",       "artist",
      "artistid",   "track",     "trackid", "song",   "business",  "businessid", "rating",
      "ratings",    "score",     "stars",   "weight", "playcount", "timestamp",  "time",
      "date",       "datetime",  "split",   "tag",    "tagid"};
  char w[16];
  size_t n = 0;
  for (size_t k = 0; k < f.len; k++) {
    char c = f.p[k];
    if (c == '"' || c == '\'' || c == '_' || c == '-' || c == '.' || c == ' ' ||
        (c == '#' && n == 0))
      continue;
    if (n + 1 == sizeof w) return 0;
    w[n++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  w[n] = '\0';
  for (size_t k = 0; k < sizeof words / sizeof *words; k++)
    if (!strcmp(w, words[k])) return 1;
  return 0;
}

ia_status ia_header_refuse(const char *path, const first_line *h, const char *why) {
  return ia_error_set(IA_ERR_FORMAT, __FILE__, __LINE__,
                      "%s:%lld: '%s' looks like a header line (%s); add --header to skip it", path,
                      (long long)h->line_no, h->text, why);
}

/* The first data line: refused at once when its user or item field is a
 * column name, or when they are not numbers and another field is. */
ia_status ia_header_first(first_line *h, const char *path, int64_t line_no, const field *f, int n,
                          int ucol, int icol, const char *line, size_t len) {
  memset(h, 0, sizeof *h);
  h->line_no = line_no;
  h->n_fields = n;
  snprintf(h->text, sizeof h->text, "%s", ia_excerpt(line, len));
  int stored = n < MAX_FIELDS ? n : MAX_FIELDS;
  h->user_text = ucol < stored && !ia_field_is_number(f[ucol]);
  h->item_text = icol < stored && !ia_field_is_number(f[icol]);
  for (int k = 0; k < stored; k++) {
    if (!ia_field_is_header_word(f[k])) continue;
    char why[96];
    if (k == ucol || k == icol)
      snprintf(why, sizeof why, "'%.*s' is a column name", (int)(f[k].len < 40 ? f[k].len : 40),
               f[k].p);
    else if (h->user_text || h->item_text)
      snprintf(why, sizeof why, "non-numeric ids next to the column name '%.*s'",
               (int)(f[k].len < 40 ? f[k].len : 40), f[k].p);
    else
      continue;
    return ia_header_refuse(path, h, why);
  }
  return IA_OK;
}

void ia_header_later(first_line *h, const field *f, int n, int ucol, int icol) {
  int stored = n < MAX_FIELDS ? n : MAX_FIELDS;
  h->later++;
  h->later_user_text |= ucol < stored && !ia_field_is_number(f[ucol]);
  h->later_item_text |= icol < stored && !ia_field_is_number(f[icol]);
}

/* After later lines: non-numeric ids on the first line only make it a header. */
ia_status ia_header_verdict(const first_line *h, const char *path) {
  if (h->line_no == 0 || h->later == 0) return IA_OK;
  if ((h->user_text && !h->later_user_text) || (h->item_text && !h->later_item_text))
    return ia_header_refuse(path, h, "its ids are not numbers, those of the lines below are");
  return IA_OK;
}
