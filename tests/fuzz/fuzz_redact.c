/*
 * fuzz_redact.c -- libFuzzer target: redaction of JSON and of text with the
 * embedded rules, under every profile.  JSON in must give JSON out (parsed
 * again by the data-path parser); an error is allowed (fail closed), a crash
 * or unredacted output on error is not.
 */
#include "core/registry.h"
#include "engine/redactor.h"
#include "core/registry.h"
#include "voxtelem.h"

#include <stdlib.h>
#include <string.h>

static TelemRedactor *redactor;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const profiles[] = {"default", "hash", "omit", "strict"};
  if (!redactor) {
    char *err = NULL;
    TelemRegistry *r = telem_registry_embedded(&err);
    if (!r) abort();
    const TelemFile *f = telem_registry_file_by_kind(r, "redaction-rules");
    if (!f) abort();
    redactor = telem_redactor_new(f->data, f->len, &err);
    if (!redactor) abort();
    telem_registry_unref(r);
  }
  TelemArena a;
  telem_arena_init(&a);
  int is_json = telem_json_parse(&a, (const char *)data, size, NULL) != NULL;
  const char *profile = profiles[size % 4];
  char *out = NULL, *err = NULL;
  size_t out_len = 0;
  int rc = telem_redactor_redact(redactor, profile, (const char *)data, size, &out, &out_len, &err);
  if (rc == 0) {
    if (!out) abort();
    if (is_json && !telem_json_parse(&a, out, out_len, NULL)) abort(); /* JSON in, JSON out */
  } else if (out) {
    abort(); /* fail closed: nothing returned on error */
  }
  sqlite3_free(out);
  sqlite3_free(err);
  telem_arena_free(&a);
  return 0;
}
