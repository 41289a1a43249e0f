/*
 * fuzz_json.c -- libFuzzer target: the data-path JSON parser.  Whatever it
 * accepts must serialise to JSON that parses again to an equal value.
 */
#include "engine/json.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  TelemArena a;
  telem_arena_init(&a);
  TelemJsonError err;
  TelemJson *v = telem_json_parse(&a, (const char *)data, size, &err);
  if (v) {
    TelemBuf b;
    telem_buf_init(&b);
    telem_json_write(&b, v);
    if (!b.oom) {
      TelemJson *w = telem_json_parse(&a, b.p, b.len, NULL);
      if (!w || !telem_json_equal(v, w)) abort();
    }
    telem_buf_free(&b);
  }
  telem_arena_free(&a);
  return 0;
}
