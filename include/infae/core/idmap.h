#pragma once
/* Map from original id strings to dense indices in order of first appearance. */
#include <stddef.h>
#include <stdint.h>

#include "infae/core/status.h"

typedef struct ia_idmap ia_idmap;

IA_NODISCARD ia_status ia_idmap_create(ia_idmap **out);
void ia_idmap_free(ia_idmap **m);
/* Index of key s[0..len), adding it when new. */
IA_NODISCARD ia_status ia_idmap_intern(ia_idmap *m, const char *s, size_t len, int32_t *id);
/* Index of the key, or -1. */
int32_t ia_idmap_find(const ia_idmap *m, const char *s, size_t len);
int64_t ia_idmap_size(const ia_idmap *m);
/* NUL-terminated key of an index; valid until the map changes. */
const char *ia_idmap_key(const ia_idmap *m, int32_t id);
/* order[r] = index whose key sorts r-th, comparing keys as byte strings
 * ("1" < "10" < "2"), as the reference implementation orders its ids; the
 * order breaks ties in rankings and in the pooled AUC. The caller frees
 * *order. */
IA_NODISCARD ia_status ia_idmap_sorted(const ia_idmap *m, int32_t **order);
