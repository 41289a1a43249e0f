/*
 * fuzz_schema.c -- libFuzzer target: the JSON Schema engine.  The input is
 * "<schema>\n---\n<instance>" (without the separator the whole input is
 * the schema and "null" the instance).  Whatever compiles must validate
 * without crashing, leaking or hanging, and both modes must agree: the 1/0
 * answer is 1 exactly when the error list is empty.
 */
#include "engine/schema.h"
#include "voxtelem.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  const char *sep = NULL;
  for (size_t i = 0; i + 5 <= size; i++)
    if (!memcmp(text + i, "\n---\n", 5)) {
      sep = text + i;
      break;
    }
  size_t sn = sep ? (size_t)(sep - text) : size;
  const char *inst = sep ? sep + 5 : "null";
  size_t in = sep ? size - sn - 5 : 4;
  char *err = NULL;
  TelemSchema *s = telem_schema_compile(NULL, text, sn, &err);
  sqlite3_free(err);
  if (!s) return 0;
  err = NULL;
  int r = telem_schema_validate(s, inst, in, &err);
  sqlite3_free(err);
  err = NULL;
  TelemSchemaErrors *e = telem_schema_validate_errors(s, inst, in, &err);
  sqlite3_free(err);
  if (r >= 0 && e && (r == 1) != (telem_schema_errors_count(e) == 0)) {
    /* malformed instances are 0 with one "json" entry: consistent too */
    abort();
  }
  telem_schema_errors_free(e);
  telem_schema_free(s);
  return 0;
}
