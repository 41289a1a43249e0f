/* unit.h -- common includes for the cmocka unit tests. */
#ifndef VOXTELEM_UNIT_H
#define VOXTELEM_UNIT_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/registry.h"
#include "core/yaml.h"
#include "engine/json.h"

/* Builds a registry from (path, text) pairs, NULL-terminated. */
static inline TelemRegistry *unit_registry(char **pzErr, const char *const *pairs) {
  TelemFile files[32];
  int n = 0;
  for (; pairs[2 * n] && n < 32; n++) {
    files[n].path = (char *)pairs[2 * n];
    files[n].data = (char *)pairs[2 * n + 1];
    files[n].len = strlen(pairs[2 * n + 1]);
  }
  return telem_registry_load_files("test", files, n, pzErr);
}
#endif
