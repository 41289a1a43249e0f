/*
 * fuzz_registry.c -- libFuzzer target: the contracts registry loader (and the
 * YAML loader under it) on hostile file sets.
 *
 * Input: files separated by NUL bytes, each "path\ncontent"; a part without
 * a newline is index.yaml.  The registry must load or fail with a message,
 * never crash or leak.
 */
#include "core/registry.h"
#include "core/yaml.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  TelemFile files[16];
  int n = 0;
  size_t i = 0;
  while (i <= size && n < 16) {
    const uint8_t *end = memchr(data + i, 0, size - i);
    size_t len = end ? (size_t)(end - (data + i)) : size - i;
    const uint8_t *nl = memchr(data + i, '\n', len);
    if (nl) {
      size_t plen = (size_t)(nl - (data + i));
      files[n].path = sqlite3_mprintf("%.*s", (int)plen, (const char *)data + i);
      files[n].data = (char *)nl + 1;
      files[n].len = len - plen - 1;
    } else {
      files[n].path = sqlite3_mprintf("index.yaml");
      files[n].data = (char *)data + i;
      files[n].len = len;
    }
    n++;
    i += len + 1;
    if (!end) break;
  }
  char *err = NULL;
  TelemRegistry *r = telem_registry_load_files("fuzz", files, n, &err);
  if (r) telem_registry_unref(r);
  sqlite3_free(err);
  for (int k = 0; k < n; k++) sqlite3_free(files[k].path);
  /* The YAML loader on its own, on the whole input. */
  err = NULL;
  json_t *doc = telem_yaml_parse("fuzz.yaml", (const char *)data, size, &err);
  json_decref(doc);
  sqlite3_free(err);
  return 0;
}
