#include "infae/core/idmap.h"

#include <stdlib.h>
#include <string.h>

struct ia_idmap {
  char *arena; /* keys, NUL-terminated, back to back */
  size_t arena_used, arena_cap;
  int64_t *offset; /* (n) offset of key i in arena */
  int64_t n, offset_cap;
  int32_t *slot; /* open addressing table of indices, -1 = empty */
  int64_t slot_cap;
};

static uint64_t hash(const char *s, size_t len) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a, then a final mix */
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  return h ^ (h >> 33);
}

ia_status ia_idmap_create(ia_idmap **out) {
  ia_idmap *m = NULL;
  IA_CALL(IA_ZALLOC(m, 1, "id map"));
  m->slot_cap = 1024;
  ia_status st = IA_ALLOC(m->slot, m->slot_cap, "id map slots");
  if (st != IA_OK) {
    free(m);
    return st;
  }
  memset(m->slot, 0xff, sizeof *m->slot * (size_t)m->slot_cap);
  *out = m;
  return IA_OK;
}

void ia_idmap_free(ia_idmap **pm) {
  ia_idmap *m = *pm;
  if (!m) return;
  free(m->arena);
  free(m->offset);
  free(m->slot);
  free(m);
  *pm = NULL;
}

static int64_t probe(const ia_idmap *m, const char *s, size_t len) {
  uint64_t mask = (uint64_t)m->slot_cap - 1;
  for (uint64_t p = hash(s, len) & mask;; p = (p + 1) & mask) {
    int32_t id = m->slot[p];
    if (id < 0) return (int64_t)p;
    const char *k = m->arena + m->offset[id];
    if (!strncmp(k, s, len) && k[len] == '\0') return (int64_t)p;
  }
}

static ia_status grow_slots(ia_idmap *m) {
  int64_t cap = m->slot_cap * 2;
  int32_t *slot = NULL;
  IA_CALL(IA_ALLOC(slot, cap, "id map slots"));
  memset(slot, 0xff, sizeof *slot * (size_t)cap);
  free(m->slot);
  m->slot = slot;
  m->slot_cap = cap;
  for (int64_t i = 0; i < m->n; i++) {
    const char *k = m->arena + m->offset[i];
    m->slot[probe(m, k, strlen(k))] = (int32_t)i;
  }
  return IA_OK;
}

ia_status ia_idmap_intern(ia_idmap *m, const char *s, size_t len, int32_t *id) {
  int64_t p = probe(m, s, len);
  if (m->slot[p] >= 0) {
    *id = m->slot[p];
    return IA_OK;
  }
  IA_CHECK(m->n < INT32_MAX, IA_ERR_RANGE, "more than 2^31 distinct ids");
  if (m->arena_used + len + 1 > m->arena_cap) {
    size_t cap = m->arena_cap ? m->arena_cap * 2 : 1 << 16;
    while (cap < m->arena_used + len + 1) cap *= 2;
    char *a = realloc(m->arena, cap);
    IA_CHECK(a, IA_ERR_NOMEM, "cannot grow the id arena to %zu bytes", cap);
    m->arena = a;
    m->arena_cap = cap;
  }
  if (m->n == m->offset_cap) {
    int64_t cap = m->offset_cap ? m->offset_cap * 2 : 1024;
    int64_t *o = realloc(m->offset, sizeof *o * (size_t)cap);
    IA_CHECK(o, IA_ERR_NOMEM, "cannot grow the id table");
    m->offset = o;
    m->offset_cap = cap;
  }
  memcpy(m->arena + m->arena_used, s, len);
  m->arena[m->arena_used + len] = '\0';
  m->offset[m->n] = (int64_t)m->arena_used;
  m->arena_used += len + 1;
  m->slot[p] = (int32_t)m->n;
  *id = (int32_t)m->n++;
  if (m->n * 2 > m->slot_cap) IA_CALL(grow_slots(m));
  return IA_OK;
}

int32_t ia_idmap_find(const ia_idmap *m, const char *s, size_t len) {
  return m->slot[probe(m, s, len)];
}

int64_t ia_idmap_size(const ia_idmap *m) { return m->n; }

const char *ia_idmap_key(const ia_idmap *m, int32_t id) { return m->arena + m->offset[id]; }

typedef struct {
  const char *key;
  int32_t id;
} sort_entry;

static int cmp_key(const void *a, const void *b) {
  return strcmp(((const sort_entry *)a)->key, ((const sort_entry *)b)->key);
}

ia_status ia_idmap_sorted(const ia_idmap *m, int32_t **order) {
  sort_entry *e = NULL;
  IA_CALL(IA_ALLOC(e, m->n, "id sort"));
  for (int64_t i = 0; i < m->n; i++) e[i] = (sort_entry){m->arena + m->offset[i], (int32_t)i};
  qsort(e, (size_t)m->n, sizeof *e, cmp_key);
  ia_status st = IA_ALLOC(*order, m->n, "id order");
  if (st == IA_OK)
    for (int64_t i = 0; i < m->n; i++) (*order)[i] = e[i].id;
  free(e);
  return st;
}
