#include "infae/io/provenance.h"

#include "infae/config.h"

void ia_json_provenance(cJSON *root, const char *path, const char *sha256, int64_t users,
                        int64_t items, int64_t train_nnz, int ranks, const char *command) {
  cJSON *ds = cJSON_AddObjectToObject(root, "dataset");
  cJSON_AddStringToObject(ds, "path", path);
  cJSON_AddStringToObject(ds, "source_sha256", sha256);
  cJSON_AddNumberToObject(ds, "users", (double)users);
  cJSON_AddNumberToObject(ds, "items", (double)items);
  cJSON_AddNumberToObject(ds, "train_nnz", (double)train_nnz);
  cJSON_AddNumberToObject(root, "ranks", ranks);
  cJSON_AddStringToObject(root, "command", command ? command : "");
  cJSON_AddStringToObject(root, "infae_version", IA_VERSION);
}
