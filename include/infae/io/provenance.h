#pragma once
/* The provenance every metrics JSON carries: the dataset (path, source
 * sha256, sizes), the ranks, the command line and infae's version. */
#include <cjson/cJSON.h>
#include <stdint.h>

/* Adds "dataset" {path, source_sha256, users, items, train_nnz}, "ranks",
 * "command" and "infae_version" to root. Not collective. */
void ia_json_provenance(cJSON *root, const char *path, const char *sha256, int64_t users,
                        int64_t items, int64_t train_nnz, int ranks, const char *command);
