#pragma once
/* Parsing `prepare`'s input files into raw (user, item) pairs, interned
 * through id maps, line format by line format. Internal. */
#include <openssl/evp.h>
#include <stdint.h>

#include "data/lines.h"
#include "infae/core/idmap.h"
#include "infae/core/status.h"
#include "infae/data/prepare.h"

typedef struct {
  ia_idmap *users, *items;
  int32_t *u, *i;
  int8_t *split; /* split-tsv only */
  int64_t n, cap;
  int64_t lines;
  int64_t adj_base; /* adjacency: number of the first line of the next file */
} raw_pairs;

typedef struct {
  const ia_prepare_opts *o;
  const char *sep; /* NULL = blanks */
  const char *expect;
} line_format;

/* Appends the pair (u, i) of split `split` to p, growing it as needed. */
IA_NODISCARD ia_status ia_pairs_push(raw_pairs *p, int32_t u, int32_t i, int split);
/* Reads every line of the file path (hashed into sha) in the format lf into
 * p; t0 is the start time of the progress lines. */
IA_NODISCARD ia_status ia_parse_file(const line_format *lf, const char *path, EVP_MD_CTX *sha,
                                     raw_pairs *p, double t0);
