/* test_classify.c -- telem_redactor_classify's own walker and its scanner
 * of plain payloads (ext/engine/redactor.c, "classify") give the class the
 * generic walk gives (telem_redactor_classify_ref), on every input we
 * have: the redaction corpora (every string in them, alone, as a member
 * value and as a key), truncated and mutated copies of those, hand-made
 * edge cases of the scanner, and the RFC 8259 parsing suite. */
#include "unit.h"
#include "engine/redactor.h"
#include "core/core.h"
#include "voxtelem.h"
#include "../conformance/howto.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

static TelemRegistry *reg;
static TelemRedactor *fast, *ref; /* the shipped rules, twice: separate caches */
static TelemArena arena;
static long compared, fast_s3;

static int setup(void **state) {
  (void)state;
  char *err = NULL;
  reg = telem_registry_embedded(&err);
  assert_non_null(reg);
  const TelemFile *f = telem_registry_file_by_kind(reg, "redaction-rules");
  assert_non_null(f);
  fast = telem_redactor_new(f->data, f->len, &err);
  ref = telem_redactor_new(f->data, f->len, &err);
  assert_non_null(fast);
  assert_non_null(ref);
  telem_arena_init(&arena);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  telem_arena_free(&arena);
  telem_redactor_free(fast);
  telem_redactor_free(ref);
  telem_registry_unref(reg);
  return 0;
}

static int cls_of(TelemRedactor *r, int is_ref, const char *t, size_t n, int start) {
  char *err = NULL;
  int cls = start;
  telem_arena_reset(&arena);
  int rc = is_ref ? telem_redactor_classify_ref(r, &arena, t, n, &cls, &err)
                  : telem_redactor_classify(r, &arena, t, n, &cls, &err);
  if (rc) fail_msg("classify failed: %s", err ? err : "out of memory");
  return cls;
}

/* The fast and the reference class of t[0..n) agree from every start
 * class, twice (the second time with warm caches). */
static void same(const char *t, size_t n) {
  for (int start = 0; start < 3; start++) {
    int want = cls_of(ref, 1, t, n, start);
    for (int k = 0; k < 2; k++) {
      int got = cls_of(fast, 0, t, n, start);
      if (got != want)
        fail_msg("classify from S%d: fast S%d, reference S%d, on %zu bytes: %.*s", start, got, want,
                 n, (int)(n > 300 ? 300 : n), t);
    }
    compared++;
    if (want == 3) fast_s3++;
  }
}

static void same_z(const char *t) { same(t, strlen(t)); }

static int cls_z(const char *t, int start) { return cls_of(fast, 0, t, strlen(t), start); }

/* t, t truncated, and t with one byte replaced at a few places. */
static void same_mutated(const char *t, size_t n) {
  same(t, n);
  if (n > 2) {
    same(t, n / 2);
    same(t, n - 1);
  }
  static const char repl[] = {'"', '\\', ',', '{', ']', ' ', '0', (char)0x80, (char)0x01};
  char *c = malloc(n + 1);
  assert_non_null(c);
  for (size_t k = 0; k < sizeof(repl); k++) {
    memcpy(c, t, n);
    size_t at = (n * (2 * k + 1)) / (2 * sizeof(repl));
    if (at < n) {
      c[at] = repl[k];
      same(c, n);
    }
  }
  free(c);
}

/* The string s as itself, as a member value and as a key. */
static void same_string(const char *s, size_t n) {
  same_mutated(s, n);
  json_t *v = json_stringn(s, n);
  if (!v) return; /* not UTF-8: jansson refuses it */
  json_t *o = json_object();
  json_object_set(o, "note", v);
  char *d = json_dumps(o, JSON_COMPACT);
  same_mutated(d, strlen(d));
  free(d);
  json_object_clear(o);
  json_object_set_new(o, json_string_value(v), json_integer(1));
  d = json_dumps(o, JSON_COMPACT);
  same_z(d);
  free(d);
  json_decref(o);
  json_decref(v);
}

static void same_strings_in(json_t *v) {
  const char *k;
  json_t *e;
  size_t i;
  switch (json_typeof(v)) {
    case JSON_STRING: same_string(json_string_value(v), json_string_length(v)); break;
    case JSON_ARRAY:
      json_array_foreach(v, i, e) same_strings_in(e);
      break;
    case JSON_OBJECT:
      json_object_foreach(v, k, e) same_strings_in(e);
      break;
    default: break;
  }
}

static void corpus_file(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) fail_msg("cannot open %s (run from the repository root)", path);
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int lines = 0;
  while ((len = getline(&line, &cap, f)) > 0) {
    if (line[0] != '{') continue; /* comments */
    json_error_t je;
    json_t *v = json_loadb(line, (size_t)len, 0, &je);
    if (!v) fail_msg("%s: %s", path, je.text);
    same_strings_in(v);
    same(line, (size_t)len); /* the line itself: JSON with escapes */
    json_decref(v);
    lines++;
  }
  free(line);
  fclose(f);
  assert_true(lines > 10);
}

static void test_corpora(void **state) {
  (void)state;
  long before = compared;
  corpus_file("tests/redaction/corpus.jsonl");
  corpus_file("tests/redaction/rule-samples.jsonl");
  corpus_file("tests/redaction/gitleaks-samples.jsonl");
  printf("  classify: %ld comparisons over the corpora, %ld of them S3\n", compared - before, fast_s3);
  assert_true(compared - before > 10000);
}

/* Cases the scanner decides itself, or must leave to the walk. */
static void test_edges(void **state) {
  (void)state;
  static const char *const cases[] = {
      "{}", "[]", " {} ", "{\"a\":1}", "{\"a\":1,}", "{\"a\":1 \"b\":2}", "{\"a\"1}", "{a:1}",
      "[1,]", "[,1]", "[01]", "[-]", "[-0]", "[1.]", "[.5]", "[1e]", "[1e+]", "[1E-7]", "[1.5e3]",
      "[tru]", "[true]", "[false,null]", "[nul]", "{\"a\":truex}", "[1] x", "[1]]", "[[1]", "{\"a\":{}",
      "\"string\"", "123", "null", "", " ", "{\"a\":\"b\"}\n", "{\"a\":\"b\"}\t\r\n ",
      "{\"x\":\"\\u0040example.com\"}", "{\"note\":\"bob@example.com\"}", "{\"note\":\"bob\\u0040example.com\"}",
      "{\"prompt\":\"\"}", "{\"prompt\":\" \"}", "{\"prompt\":[]}", "{\"prompt\":[ ]}", "{\"prompt\":[0]}",
      "{\"prompt\":{}}", "{\"prompt\":{ }}", "{\"prompt\":{\"a\":null}}", "{\"prompt\":null}",
      "{\"prompt\":false}", "{\"prompt\":0}", "{\"prompt\":-1.5}", "{\"prompt\":\"hi\"}",
      "{\"rel_file\":\"src/a.rs\"}", "{\"branch\":\"main\",\"x\":1}", "{\"branch\":\"\"}",
      "{\"token\":\"xxh3:0123456789abcdef\"}", "{\"token\":\"xxh3:0123456789abcdeg\"}",
      "{\"args\":\"{\\\"q\\\":1}\"}", "{\"x\":\"{\\\"password\\\":\\\"p\\\"}\"}", "{\"x\":\"{not json\"}",
      "{\"x\":\"[1,2]\"}", "{\"x\":\" {\"}", "{\"x\":\"{}\"}", "{\"x\":\"[\"}",
      "{\"x\":\"{\"}", "{\"x\":\"{a\"}", "{\"x\":\"{}x\"}", "{\"x\":\"[{}]\"}", "[\"{\"]", "{\"{\":1}",
      "{\"args\":\"{}\"}", "{\"x\":\"\\t{\"}", "{\"x\":\"\\n[\"}", "{\"x\":\"{ }\"}",
      "{\"card\":4111111111111111}", "{\"n\":4111111111111111}", "{\"n\":4111111111111112}",
      "{\"n\":-4111111111111111}", "{\"n\":4111111111111111.0}", "{\"n\":41111111111111e3}",
      "{\"version\":\"81.2.69.160\"}", "{\"v\":\"81.2.69.160\"}", "{\"v\":[\"81.2.69.160\"]}",
      "{\"version\":[\"81.2.69.160\"]}", "{\"version\":{\"v\":\"81.2.69.160\"}}",
      "{\"a\":\"caf\xc3\xa9\",\"b\":\"bob@example.com\"}", "{\"a\":\"\xff\",\"b\":\"x\"}",
      "{\"a\":\"\x01\"}", "{\"a\":\"\x7f\"}", "\xEF\xBB\xBF{\"prompt\":\"x\"}", "\xEF\xBB\xBF{}",
      "{\"a\":\"\\ud800\"}", "{\"k\":1,\"k\":\"bob@example.com\"}", "{\"sk-ant-api03-abcdefghijklmnop\":1}",
      "{\"ghp_0123456789abcdefghijklmnopqrstuvwxyzAB\":\"x\"}",
      "{\"note\":\"ghp_0123456789abcdefghijklmnopqrstuvwxyzAB\"}",
      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"bob@example.com\"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) same_z(cases[i]);
  /* and a few answers the walk gave before the scanner existed */
  assert_int_equal(cls_z("{\"duration_ms\":3}", 1), 1);
  assert_int_equal(cls_z("{\"prompt\":[]}", 0), 0);
  assert_int_equal(cls_z("{\"prompt\":[0]}", 0), 3);
  assert_int_equal(cls_z("{\"version\":\"81.2.69.160\"}", 0), 0);
  assert_int_equal(cls_z("{\"v\":\"81.2.69.160\"}", 0), 2);
  assert_int_equal(cls_z("{\"a\":1,}", 0), 3);
  assert_int_equal(cls_z("{\"a\":[01]}", 0), 3);
}

/* The key and string caches: clean at S1 is not clean at S0. */
static void test_cache_levels(void **state) {
  (void)state;
  /* 81.2.69.160 is S2: from S2 it is not looked at, from S1 it raises. */
  const char *d = "{\"v\":\"81.2.69.160\",\"81.2.69.160\":1}";
  for (int k = 0; k < 2; k++) {
    assert_int_equal(cls_of(fast, 0, d, strlen(d), 2), 2);
    assert_int_equal(cls_of(fast, 0, d, strlen(d), 1), 2);
    assert_int_equal(cls_of(fast, 0, d, strlen(d), 0), 2);
  }
  /* a string clean from S1 (nothing above S1 matches) is clean from S2 */
  const char *e = "{\"tool\":\"cargo-build-42\"}";
  assert_int_equal(cls_of(fast, 0, e, strlen(e), 1), 1);
  assert_int_equal(cls_of(fast, 0, e, strlen(e), 2), 2);
  assert_int_equal(cls_of(fast, 0, e, strlen(e), 0), 0);
}

static char *read_all(const char *path, size_t *n) {
  *n = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)len + 1);
  if (buf) *n = fread(buf, 1, (size_t)len, f);
  fclose(f);
  return buf;
}

/* Every document of the RFC 8259 parsing suite, and each as a member value. */
static void test_rfc8259_suite(void **state) {
  (void)state;
  const char *root = getenv("VOXTELEM_CONFORMANCE");
  if (!root || !root[0]) {
    printf("test_rfc8259_suite: SKIPPED: %s\n", CONFORMANCE_HOWTO);
    skip();
  }
  char dir[4096];
  snprintf(dir, sizeof(dir), "%s/json-parsing-test-suite/test_parsing", root);
  DIR *dd = opendir(dir);
  if (!dd) fail_msg("cannot open %s", dir);
  struct dirent *e;
  int files = 0;
  while ((e = readdir(dd))) {
    if (e->d_name[0] == '.' || !strstr(e->d_name, ".json")) continue;
    char path[8192];
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    char *data = read_all(path, &len);
    assert_non_null(data);
    same(data, len);
    char *w = malloc(len + 16);
    assert_non_null(w);
    memcpy(w, "{\"a\":", 5);
    memcpy(w + 5, data, len);
    w[5 + len] = '}';
    same(w, len + 6);
    /* the document as a plain string value (embedded JSON) */
    int plain = 1;
    for (size_t k = 0; k < len; k++)
      if (data[k] < 0x20 || data[k] > 0x7e || data[k] == '"' || data[k] == '\\') plain = 0;
    if (plain) {
      memcpy(w, "{\"a\":\"", 6);
      memcpy(w + 6, data, len);
      memcpy(w + 6 + len, "\"}", 2);
      same(w, len + 8);
    }
    free(w);
    free(data);
    files++;
  }
  closedir(dd);
  assert_true(files > 300);
}


/* ---- random documents ------------------------------------------------------
 * Plain and not-quite-plain JSON built from keys and values that trigger the
 * rules (or nearly do), nested, with whitespace, then mutated: the scanner's
 * paths and its give-ups, against the walk.  Deterministic. */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static unsigned rnd(unsigned n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (unsigned)(rng % n);
}

static const char *const rkeys[] = {
    "model", "prompt", "rel_file", "version", "branch", "tool", "api_key", "token", "n", "x",
    "messages", "args", "path", "ok", "sk-ant-api03-abcdefghijklmnopqrstu", "bob@example.com",
    "81.2.69.160", "repository_id", "cache_key", "prompt_tokens", "details", "", "phone", "ver"};
static const char *const rvals[] = {
    "\"gpt-5\"", "\"\"", "\" \"", "\"src/a.rs\"", "\"81.2.69.160\"", "\"10.0.0.1\"", "\"bob@example.com\"",
    "\"xxh3:0123456789abcdef\"", "\"ghp_0123456789abcdefghijklmnopqrstuvwxyzAB\"", "\"{}\"", "\"{\"",
    "\"[1]\"", "\" {\\\"a\\\":1}\"", "\"tools\"", "\"4111 1111 1111 1111\"", "4111111111111111",
    "1760000000000", "-0", "1.5e3", "0", "true", "false", "null", "\"caf\xc3\xa9\"", "\"a\\u0040b.com\"",
    "\"+1 415 555 2671\"", "\"/home/alice/x\"", "\"AKIAU29PC7ZL4HT2DTCB\"", "\"0b1f435ada6cbeb4b9ba4c5493c41a2a\"",
    "\"password=hunter2hunter2\"", "\"DE89370400440532013000\"", "\"fe80::1ff:fe23:4567:890a\""};

static void rws(TelemBuf *b) {
  static const char *const ws[] = {"", "", "", " ", "\n  ", "\t"};
  const char *w = ws[rnd(6)];
  telem_buf_append(b, w, strlen(w));
}

static void rdoc(TelemBuf *b, int depth) {
  unsigned k = depth > 5 ? 2 : rnd(4);
  if (k == 0) {
    telem_buf_putc(b, '{');
    unsigned m = rnd(5);
    for (unsigned i = 0; i < m; i++) {
      if (i) telem_buf_append(b, ",", 1);
      rws(b);
      const char *key = rkeys[rnd(sizeof(rkeys) / sizeof(rkeys[0]))];
      telem_buf_putc(b, '"');
      telem_buf_append(b, key, strlen(key));
      telem_buf_putc(b, '"');
      rws(b);
      telem_buf_putc(b, ':');
      rdoc(b, depth + 1);
    }
    rws(b);
    telem_buf_putc(b, '}');
  } else if (k == 1) {
    telem_buf_putc(b, '[');
    unsigned m = rnd(4);
    for (unsigned i = 0; i < m; i++) {
      if (i) telem_buf_putc(b, ',');
      rdoc(b, depth + 1);
    }
    telem_buf_putc(b, ']');
  } else {
    const char *v = rvals[rnd(sizeof(rvals) / sizeof(rvals[0]))];
    telem_buf_append(b, v, strlen(v));
  }
}

static void test_random(void **state) {
  (void)state;
  TelemBuf b;
  telem_buf_init(&b);
  long before = compared, s3 = fast_s3;
  for (int i = 0; i < 20000; i++) {
    b.len = 0;
    rdoc(&b, 0);
    assert_false(b.oom);
    if (i % 4 == 0) same_mutated(b.p, b.len);
    else same(b.p, b.len);
  }
  telem_buf_free(&b);
  printf("  classify: %ld comparisons on random documents, %ld of them S3\n", compared - before,
         fast_s3 - s3);
  assert_true(compared - before >= 60000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_edges),
      cmocka_unit_test(test_cache_levels),
      cmocka_unit_test(test_corpora),
      cmocka_unit_test(test_random),
      cmocka_unit_test(test_rfc8259_suite),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
