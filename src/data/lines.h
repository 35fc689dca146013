#pragma once
/* Reading `prepare`'s text inputs: a streaming line reader that hashes every
 * byte, fields split on a separator or on blanks, what ids may be, and the
 * detection of header lines. Internal. */
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "infae/core/status.h"

enum { READ_CHUNK = 8 << 20, MAX_LINE = 1 << 20 };

typedef struct {
  FILE *f;
  const char *path;
  char *buf;
  size_t len, pos;
  int eof;
  int64_t line_no;
  EVP_MD_CTX *sha; /* borrowed */
} reader;

typedef struct {
  const char *p;
  size_t len;
} field;

enum { MAX_FIELDS = 64 };

/* What the first data line of a tsv/csv file without --header told, to tell
 * a header from ids that are strings: a header's ids are non-numeric on its
 * line only (Douban's `user item rating split`), string ids are so on every line. */
typedef struct {
  int64_t line_no;                      /* of the first data line; 0 before it */
  int n_fields;                         /* its field count */
  int user_text, item_text;             /* its user / item field is not a number */
  int later_user_text, later_item_text; /* ... and so is one on a later line */
  int64_t later;                        /* data lines after it */
  char text[128];                       /* its excerpt, for the message */
} first_line;

/* The functions' contracts are at their definitions in lines.c. */
ia_status ia_reader_open(reader *r, const char *path, EVP_MD_CTX *sha);
void ia_reader_close(reader *r);
ia_status ia_reader_next(reader *r, char **line, size_t *len, int *got);
const char *ia_excerpt(const char *line, size_t len);
int ia_split_fields(const char *s, size_t len, const char *sep, field *f);
int ia_field_is_uint(field f);
int ia_field_is_token(field f);
int ia_field_is_utf8(field f);
int ia_field_is_number(field f);
int ia_field_is_header_word(field f);
ia_status ia_header_refuse(const char *path, const first_line *h, const char *why);
ia_status ia_header_first(first_line *h, const char *path, int64_t line_no, const field *f, int n,
                          int ucol, int icol, const char *line, size_t len);
void ia_header_later(first_line *h, const field *f, int n, int ucol, int icol);
ia_status ia_header_verdict(const first_line *h, const char *path);
