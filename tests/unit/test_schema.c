/* test_schema.c -- the JSON Schema engine through its C API (no SQL):
 * compile, validate, errors, references, limits, allocation failures, and
 * the URI and decimal helpers. */
#include "unit.h"

#include "engine/schema_int.h"
#include "voxtelem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* Compiles text (set may be NULL); fails the test on error. */
static TelemSchema *compile(TelemSchemaSet *set, const char *text) {
  char *err = NULL;
  TelemSchema *s = telem_schema_compile(set, text, strlen(text), &err);
  if (!s) fail_msg("compile failed: %s", err);
  return s;
}

static int check(TelemSchema *s, const char *json) {
  char *err = NULL;
  int r = telem_schema_validate(s, json, strlen(json), &err);
  if (r < 0) sqlite3_free(err);
  return r;
}

/* The compile error for text, or "" (caller frees with sqlite3_free). */
static char *compile_error(const char *text) {
  char *err = NULL;
  TelemSchema *s = telem_schema_compile(NULL, text, strlen(text), &err);
  telem_schema_free(s);
  return err ? err : sqlite3_mprintf("");
}

static void test_basic(void **state) {
  (void)state;
  TelemSchema *s = compile(NULL,
                           "{\"type\":\"object\",\"required\":[\"a\"],"
                           "\"properties\":{\"a\":{\"type\":\"string\",\"maxLength\":3}},"
                           "\"additionalProperties\":false}");
  assert_int_equal(check(s, "{\"a\":\"abc\"}"), 1);
  assert_int_equal(check(s, "{\"a\":\"abcd\"}"), 0);
  assert_int_equal(check(s, "{\"a\":\"\xc3\xa9\xc3\xa9\xc3\xa9\"}"), 1); /* 3 code points */
  assert_int_equal(check(s, "{}"), 0);
  assert_int_equal(check(s, "{\"a\":\"x\",\"b\":1}"), 0);
  assert_int_equal(check(s, "{\"a\":"), 0);      /* malformed: invalid, not an error */
  assert_int_equal(check(s, "{\"a\":\"\xff\"}"), 0); /* invalid UTF-8 */
  telem_schema_free(s);
  /* boolean schemas */
  s = compile(NULL, "false");
  assert_int_equal(check(s, "null"), 0);
  telem_schema_free(s);
  s = compile(NULL, "true");
  assert_int_equal(check(s, "[1,{}]"), 1);
  telem_schema_free(s);
}

static void test_numbers(void **state) {
  (void)state;
  TelemSchema *s = compile(NULL, "{\"type\":\"integer\"}");
  assert_int_equal(check(s, "1.0"), 1);
  assert_int_equal(check(s, "1e2"), 1);
  assert_int_equal(check(s, "1.5e1"), 1);
  assert_int_equal(check(s, "1.05e1"), 0);
  assert_int_equal(check(s, "-0.0"), 1);
  telem_schema_free(s);
  s = compile(NULL, "{\"maximum\":18446744073709551615}");
  assert_int_equal(check(s, "18446744073709551615"), 1);
  assert_int_equal(check(s, "18446744073709551616"), 0);
  assert_int_equal(check(s, "1.8446744073709551615e19"), 1);
  assert_int_equal(check(s, "-1e400"), 1);
  telem_schema_free(s);
  s = compile(NULL, "{\"multipleOf\":0.01}");
  assert_int_equal(check(s, "0.07"), 1);
  assert_int_equal(check(s, "19.99"), 1);
  assert_int_equal(check(s, "1e10"), 1);
  assert_int_equal(check(s, "0.075"), 0);
  assert_int_equal(check(s, "1e-1000000000"), 0);
  assert_int_equal(check(s, "1e400"), 1);
  telem_schema_free(s);
  s = compile(NULL, "{\"multipleOf\":1234567890123456789012345e-5}"); /* 25 digits */
  assert_int_equal(check(s, "0"), 1);
  assert_int_equal(check(s, "1e-3"), 0);
  telem_schema_free(s);
  s = compile(NULL, "{\"const\":100,\"enum\":[1e2, \"x\"]}");
  assert_int_equal(check(s, "100.0"), 1);
  assert_int_equal(check(s, "1.00e2"), 1);
  assert_int_equal(check(s, "101"), 0);
  telem_schema_free(s);
  s = compile(NULL, "{\"exclusiveMinimum\":0.1,\"exclusiveMaximum\":1}");
  assert_int_equal(check(s, "0.1"), 0);
  assert_int_equal(check(s, "0.10000000000000000001"), 1);
  assert_int_equal(check(s, "1"), 0);
  telem_schema_free(s);
  /* count keywords take any integer-valued number, however it is written */
  s = compile(NULL, "{\"maxLength\":2.000000000000000000000000000000000000000}");
  assert_int_equal(check(s, "\"ab\""), 1);
  assert_int_equal(check(s, "\"abc\""), 0);
  telem_schema_free(s);
  s = compile(NULL, "{\"minItems\":100000000000000000000000000000000000000000}");
  assert_int_equal(check(s, "[1]"), 0);
  telem_schema_free(s);
}

static void test_decimal_helpers(void **state) {
  (void)state;
  char b1[64], b2[64];
  ScDec a, b;
  assert_int_equal(sc_dec_parse("123.4500", 8, b1, sizeof b1, &a), 0);
  assert_int_equal(a.nd, 5);
  assert_int_equal(a.q, -2);
  assert_int_equal(sc_dec_parse("1.2345e2", 8, b2, sizeof b2, &b), 0);
  assert_int_equal(sc_dec_cmp(&a, &b), 0);
  assert_int_equal(sc_dec_parse("-5", 2, b2, sizeof b2, &b), 0);
  assert_true(sc_dec_cmp(&a, &b) > 0);
  assert_true(sc_dec_cmp(&b, &a) < 0);
  assert_int_equal(sc_dec_parse("123456", 6, b1, 3, &a), -1); /* buffer too small */
  assert_int_equal(sc_dec_parse("0.0e0", 5, b1, sizeof b1, &a), 0);
  assert_int_equal(a.nd, 0);
  assert_true(sc_dec_is_integer(&a));
  assert_int_equal(sc_dec_parse("4.5", 3, b1, sizeof b1, &a), 0);
  assert_int_equal(sc_dec_parse("1.5", 3, b2, sizeof b2, &b), 0);
  assert_true(sc_dec_multiple_of(&a, &b));
  assert_int_equal(sc_dec_parse("4.6", 3, b1, sizeof b1, &a), 0);
  assert_false(sc_dec_multiple_of(&a, &b));
}

static void test_uri_resolve(void **state) {
  (void)state;
  static const char *const cases[][3] = {
      {"http://a/b/c/d;p?q", "g", "http://a/b/c/g"},
      {"http://a/b/c/d;p?q", "../g", "http://a/b/g"},
      {"http://a/b/c/d;p?q", "../../../g", "http://a/g"},
      {"http://a/b/c/d;p?q", "/./g", "http://a/g"},
      {"http://a/b/c/d;p?q", "#s", "http://a/b/c/d;p?q#s"},
      {"http://a/b/c/d;p?q", "//g", "http://g"},
      {"http://a/b/c/d;p?q", "?y", "http://a/b/c/d;p?y"},
      {"http://a/b/c/d;p?q", "g/..", "http://a/b/c/"},
      {"urn:example:root", "#/$defs/a", "urn:example:root#/$defs/a"},
      {"http://localhost:1234/tree", "node.json", "http://localhost:1234/node.json"},
      {NULL, "https://x.dev/a/./b/../c.json#f", "https://x.dev/a/c.json#f"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *r = sc_uri_resolve(cases[i][0], cases[i][1]);
    assert_non_null(r);
    assert_string_equal(r, cases[i][2]);
    sqlite3_free(r);
  }
}

static void test_errors(void **state) {
  (void)state;
  TelemSchema *s = compile(NULL,
                           "{\"properties\":{\"a/b\":{\"type\":\"integer\"},"
                           "\"list\":{\"items\":{\"minimum\":0}}},\"required\":[\"z\"]}");
  const char *doc = "{\"a/b\":\"x\",\"list\":[1,-1]}";
  TelemSchemaErrors *e = telem_schema_validate_errors(s, doc, strlen(doc), NULL);
  assert_non_null(e);
  assert_int_equal(telem_schema_errors_count(e), 3);
  const TelemSchemaError *x = telem_schema_errors_get(e, 0);
  assert_string_equal(x->keyword, "required");
  assert_string_equal(x->instance_path, "");
  assert_string_equal(x->schema_path, "/required");
  x = telem_schema_errors_get(e, 1);
  assert_string_equal(x->instance_path, "/a~1b");
  assert_string_equal(x->schema_path, "/properties/a~1b/type");
  assert_string_equal(x->message, "expected integer, got string");
  x = telem_schema_errors_get(e, 2);
  assert_string_equal(x->instance_path, "/list/1");
  assert_string_equal(x->schema_path, "/properties/list/items/minimum");
  assert_null(telem_schema_errors_get(e, 3));
  telem_schema_errors_free(e);
  /* valid: an empty list; malformed: one "json" entry */
  e = telem_schema_validate_errors(s, "{\"z\":1}", 7, NULL);
  assert_int_equal(telem_schema_errors_count(e), 0);
  telem_schema_errors_free(e);
  e = telem_schema_validate_errors(s, "[", 1, NULL);
  assert_int_equal(telem_schema_errors_count(e), 1);
  assert_string_equal(telem_schema_errors_get(e, 0)->keyword, "json");
  telem_schema_errors_free(e);
  telem_schema_free(s);
}

static void test_set_and_refs(void **state) {
  (void)state;
  TelemSchemaSet *set = telem_schema_set_new(TELEM_DRAFT_2020_12);
  char *err = NULL;
  const char *defs = "{\"$id\":\"https://example.com/defs.json\","
                     "\"$defs\":{\"id\":{\"type\":\"string\",\"pattern\":\"^[a-z]+$\"}},"
                     "\"$anchor\":\"top\"}";
  assert_int_equal(telem_schema_set_add(set, NULL, defs, strlen(defs), &err), 0);
  const char *d7 = "{\"$schema\":\"http://json-schema.org/draft-07/schema#\","
                   "\"items\":[{\"type\":\"integer\"}],\"additionalItems\":false}";
  assert_int_equal(telem_schema_set_add(set, "https://example.com/tuple.json", d7, strlen(d7), &err), 0);
  assert_int_equal(telem_schema_set_add(set, "x:bad", "{", 1, &err), -1);
  assert_non_null(strstr(err, "not valid JSON"));
  sqlite3_free(err);
  err = NULL;
  TelemSchema *s = compile(set, "{\"properties\":{\"id\":{\"$ref\":\"https://example.com/defs.json#/$defs/id\"},"
                                "\"t\":{\"$ref\":\"https://example.com/tuple.json\"}}}");
  assert_int_equal(check(s, "{\"id\":\"abc\",\"t\":[1]}"), 1);
  assert_int_equal(check(s, "{\"id\":\"ABC\"}"), 0);
  assert_int_equal(check(s, "{\"t\":[1,2]}"), 0); /* draft-07 additionalItems */
  telem_schema_free(s);
  s = telem_schema_compile_uri(set, "https://example.com/tuple.json", &err);
  assert_non_null(s);
  assert_int_equal(check(s, "[1]"), 1);
  telem_schema_free(s);
  assert_null(telem_schema_compile_uri(set, "https://example.com/none.json", &err));
  assert_non_null(strstr(err, "no loaded schema"));
  sqlite3_free(err);
  err = NULL;
  /* a fragment names a subschema: it is resolved, never dropped */
  s = telem_schema_compile_uri(set, "https://example.com/defs.json#/$defs/id", &err);
  if (!s) fail_msg("compile_uri with a fragment: %s", err);
  assert_int_equal(check(s, "\"abc\""), 1);
  assert_int_equal(check(s, "\"ABC\""), 0);
  telem_schema_free(s);
  assert_null(telem_schema_compile_uri(set, "https://example.com/defs.json#/$defs/nope", &err));
  assert_non_null(strstr(err, "no such location"));
  sqlite3_free(err);
  err = NULL;
  assert_null(telem_schema_compile_uri(set, "https://example.com/defs.json#nope", &err));
  assert_non_null(strstr(err, "no such anchor"));
  sqlite3_free(err);
  err = NULL;
  s = telem_schema_compile_uri(set, "https://example.com/defs.json#", &err);
  assert_non_null(s);
  assert_int_equal(check(s, "1"), 1);
  telem_schema_free(s);
  /* ...also for a document added under a relative URI */
  const char *rel = "{\"$defs\":{\"x\":{\"type\":\"string\"}}}";
  assert_int_equal(telem_schema_set_add(set, "rel.json", rel, strlen(rel), &err), 0);
  s = telem_schema_compile_uri(set, "rel.json#/$defs/x", &err);
  if (!s) fail_msg("compile_uri with a relative URI and a fragment: %s", err);
  assert_int_equal(check(s, "\"a\""), 1);
  assert_int_equal(check(s, "1"), 0);
  telem_schema_free(s);
  /* the compiled schema keeps the set alive */
  s = compile(set, "{\"$ref\":\"https://example.com/defs.json#top\"}");
  telem_schema_set_free(set);
  assert_int_equal(check(s, "1"), 1);
  telem_schema_free(s);
}

static void test_dynamic_ref(void **state) {
  (void)state;
  TelemSchemaSet *set = telem_schema_set_new(0);
  char *err = NULL;
  const char *tree = "{\"$id\":\"https://example.com/tree\",\"$dynamicAnchor\":\"node\","
                     "\"type\":\"object\",\"properties\":{\"data\":true,"
                     "\"children\":{\"type\":\"array\",\"items\":{\"$dynamicRef\":\"#node\"}}}}";
  assert_int_equal(telem_schema_set_add(set, NULL, tree, strlen(tree), &err), 0);
  TelemSchema *s = compile(set, "{\"$id\":\"https://example.com/strict-tree\",\"$dynamicAnchor\":\"node\","
                                "\"$ref\":\"tree\",\"unevaluatedProperties\":false}");
  assert_int_equal(check(s, "{\"children\":[{\"data\":1}]}"), 1);
  assert_int_equal(check(s, "{\"children\":[{\"daat\":1}]}"), 0);
  telem_schema_free(s);
  telem_schema_set_free(set);
}

static void test_limits(void **state) {
  (void)state;
  char *err = compile_error("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"allOf\":[{\"$ref\":\"#/$defs/a\"}]}},"
                            "\"$ref\":\"#/$defs/a\"}");
  assert_non_null(strstr(err, "$ref cycle"));
  sqlite3_free(err);
  err = compile_error("{\"$ref\":\"http://example.com/remote.json\"}");
  assert_non_null(strstr(err, "cannot resolve reference"));
  sqlite3_free(err);
  err = compile_error("{\"pattern\":\"(\"}");
  assert_non_null(strstr(err, "does not compile"));
  sqlite3_free(err);
  /* a chain of 5000 $refs: an error, not a stack overflow */
  TelemBuf b;
  telem_buf_init(&b);
  telem_buf_puts(&b, "{\"$ref\":\"#/$defs/d0\",\"$defs\":{");
  for (int i = 0; i < 5000; i++)
    telem_buf_printf(&b, "%s\"d%d\":{\"items\":{\"$ref\":\"#/$defs/d%d\"}}", i ? "," : "", i, i + 1);
  telem_buf_puts(&b, ",\"d5000\":true}}");
  err = compile_error(b.p);
  assert_non_null(strstr(err, "nest deeper than"));
  sqlite3_free(err);
  telem_buf_free(&b);
  /* found by fuzz_schema: keyword values of the wrong JSON type */
  err = compile_error("{\"patternProperties\":[\"a\"],\"additionalProperties\":false}");
  assert_non_null(strstr(err, "patternProperties must be an object"));
  sqlite3_free(err);
  err = compile_error("{\"properties\":[{}],\"required\":{\"a\":1}}");
  assert_non_null(strstr(err, "must be"));
  sqlite3_free(err);
  err = compile_error("{\"type\":7}");
  assert_non_null(strstr(err, "type must be"));
  sqlite3_free(err);
  /* catastrophic backtracking: an error, not a hang */
  TelemSchema *s = compile(NULL, "{\"pattern\":\"^(a|a)+$\"}");
  const char *doc = "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\"";
  err = NULL;
  assert_int_equal(telem_schema_validate(s, doc, strlen(doc), &err), -1);
  assert_non_null(strstr(err, "backtracking limit"));
  sqlite3_free(err);
  err = NULL;
  assert_null(telem_schema_validate_errors(s, doc, strlen(doc), &err));
  assert_non_null(strstr(err, "backtracking limit"));
  sqlite3_free(err);
  telem_schema_free(s);
  /* recursion that consumes input, but too deep: a clear error (the
   * "$ref" has a sibling, so it is not followed in place) */
  s = compile(NULL, "{\"items\":{\"allOf\":[{\"$ref\":\"#\",\"type\":\"array\"}]}}");
  char deep[2001];
  memset(deep, '[', 1000);
  memset(deep + 1000, ']', 1000);
  deep[2000] = 0;
  err = NULL;
  assert_int_equal(telem_schema_validate(s, deep, 2000, &err), -1);
  assert_non_null(strstr(err, "recursion deeper"));
  sqlite3_free(err);
  assert_int_equal(check(s, "[[[[]]]]"), 1);
  telem_schema_free(s);
}

static void test_unique_items_large(void **state) {
  (void)state;
  TelemSchema *s = compile(NULL, "{\"uniqueItems\":true}");
  TelemBuf b;
  telem_buf_init(&b);
  telem_buf_putc(&b, '[');
  for (int i = 0; i < 20000; i++) telem_buf_printf(&b, "%s{\"k\":%d,\"v\":[%d]}", i ? "," : "", i, i);
  telem_buf_puts(&b, "]");
  assert_int_equal(check(s, b.p), 1);
  b.len--;
  telem_buf_puts(&b, ",{\"v\":[7],\"k\":7.0}]");
  assert_int_equal(check(s, b.p), 0);
  telem_buf_free(&b);
  /* Objects equal under "the last duplicate key wins" (telem_json_equal)
   * are duplicates on the hashed path (> 16 items) as on the small one. */
  const char *dup_small = "[{\"a\":1,\"a\":2},{\"a\":2}]";
  assert_int_equal(check(s, dup_small), 0);
  telem_buf_init(&b);
  telem_buf_puts(&b, "[{\"a\":1,\"a\":2},{\"a\":2}");
  for (int i = 0; i < 20; i++) telem_buf_printf(&b, ",%d", i);
  telem_buf_puts(&b, "]");
  assert_int_equal(check(s, b.p), 0);
  telem_buf_free(&b);
  /* ...also with many members, in another order */
  telem_buf_init(&b);
  telem_buf_puts(&b, "[{");
  for (int i = 0; i < 40; i++) telem_buf_printf(&b, "\"k%d\":%d,", i, i);
  telem_buf_puts(&b, "\"k3\":\"x\"},{");
  for (int i = 39; i >= 0; i--) {
    if (i == 3) telem_buf_puts(&b, "\"k3\":\"x\"");
    else telem_buf_printf(&b, "\"k%d\":%d", i, i);
    telem_buf_puts(&b, i ? "," : "}");
  }
  for (int i = 0; i < 20; i++) telem_buf_printf(&b, ",%d", i);
  telem_buf_puts(&b, "]");
  assert_int_equal(check(s, b.p), 0);
  telem_buf_free(&b);
  /* Two large objects, equal (another member order, a duplicate key) or
   * not (one value differs): compared by sorted members, not with one scan
   * of an object per member. */
  for (int differ = 0; differ < 2; differ++) {
    telem_buf_init(&b);
    telem_buf_puts(&b, "[{");
    for (int i = 0; i < 50000; i++) telem_buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
    telem_buf_puts(&b, ",\"k7\":7},{");
    for (int i = 49999; i >= 0; i--)
      telem_buf_printf(&b, "\"k%d\":%d%s", i, differ && i == 3 ? -3 : i, i ? "," : "}");
    telem_buf_puts(&b, "]");
    assert_int_equal(check(s, b.p), differ);
    telem_buf_free(&b);
  }
  telem_schema_free(s);
}

/* ---- one schema, several threads ------------------------------------------ */

typedef struct ThreadArg {
  TelemSchema *s;
  int wrong; /* answers that differ from the expected ones */
} ThreadArg;

static void *thread_main(void *p) {
  ThreadArg *a = p;
  for (int i = 0; i < 2000; i++) {
    char doc[128];
    snprintf(doc, sizeof doc, "{\"id\":\"k%d\",\"n\":%d,\"tags\":[\"a\",\"b%d\"]}", i, i % 7, i);
    int want = (i % 7) != 6; /* n <= 5 */
    if (telem_schema_validate(a->s, doc, strlen(doc), NULL) != want) a->wrong++;
    TelemSchemaErrors *e = telem_schema_validate_errors(a->s, doc, strlen(doc), NULL);
    if (!e || (telem_schema_errors_count(e) == 0) != want) a->wrong++;
    telem_schema_errors_free(e);
  }
  return NULL;
}

/* The schema's scratch is taken with an atomic flag; a thread that finds it
 * busy builds its own.  Answers must not mix. */
static void test_threads(void **state) {
  (void)state;
  TelemSchema *s = compile(NULL, "{\"properties\":{\"id\":{\"pattern\":\"^k[0-9]+$\"},"
                                 "\"n\":{\"maximum\":5},\"tags\":{\"uniqueItems\":true}},"
                                 "\"unevaluatedProperties\":false}");
  pthread_t t[4];
  ThreadArg args[4];
  for (int i = 0; i < 4; i++) {
    args[i].s = s;
    args[i].wrong = 0;
    assert_int_equal(pthread_create(&t[i], NULL, thread_main, &args[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(args[i].wrong, 0);
  }
  telem_schema_free(s);
}

/* ---- allocation failures ------------------------------------------------- */

static int fail_after = -1; /* allocations left before failing; -1 never */
static sqlite3_mem_methods real_mem;

static int fail_once; /* 1: only the allocation fail_after names fails */

static void *fail_malloc(int n) {
  if (fail_after == 0) {
    if (fail_once) fail_after = -1;
    return NULL;
  }
  if (fail_after > 0) fail_after--;
  return real_mem.xMalloc(n);
}

static void *fail_realloc(void *p, int n) {
  if (fail_after == 0) {
    if (fail_once) fail_after = -1;
    return NULL;
  }
  if (fail_after > 0) fail_after--;
  return real_mem.xRealloc(p, n);
}

static void test_alloc_failure(void **state) {
  (void)state;
  const char *schema = "{\"$defs\":{\"n\":{\"type\":\"integer\",\"minimum\":0}},\"type\":\"object\","
                       "\"properties\":{\"a\":{\"$ref\":\"#/$defs/n\"},\"b\":{\"pattern\":\"^x\"}},"
                       "\"unevaluatedProperties\":false}";
  const char *doc = "{\"a\":1,\"b\":\"xy\",\"c\":2}";
  int ok = 0;
  for (int n = 0; n < 500 && !ok; n++) {
    char *err = NULL;
    fail_after = n;
    TelemSchema *s = telem_schema_compile(NULL, schema, strlen(schema), &err);
    if (s) {
      TelemSchemaErrors *e = telem_schema_validate_errors(s, doc, strlen(doc), &err);
      int r = telem_schema_validate(s, doc, strlen(doc), &err);
      fail_after = -1;
      if (e && r == 0) {
        assert_int_equal(telem_schema_errors_count(e), 1);
        ok = 1;
      }
      telem_schema_errors_free(e);
      telem_schema_free(s);
    }
    fail_after = -1;
    sqlite3_free(err);
  }
  assert_true(ok);
}

/* One failed allocation, anywhere while compiling, gives an error or a
 * schema that validates correctly: never a $ref silently resolved to the
 * wrong place.  The padding moves where the arena needs a new block, so
 * that each allocation of the compile gets its turn to be the one. */
static void test_alloc_failure_once(void **state) {
  (void)state;
  const char *doc_bad = "{\"a\":-1}", *doc_good = "{\"a\":1}";
  int compiled = 0;
  fail_once = 1;
  for (int pad = 0; pad < 8192; pad += 8) {
    char padding[8192];
    memset(padding, 'x', (size_t)pad);
    padding[pad] = 0;
    char *schema = sqlite3_mprintf("{\"description\":\"%s\",\"$defs\":{\"n\":{\"minimum\":0}},"
                                   "\"properties\":{\"a\":{\"$ref\":\"#/$defs/n\"}}}", padding);
    assert_non_null(schema);
    for (int n = 0; n < 40; n++) {
      char *err = NULL;
      fail_after = n;
      TelemSchema *s = telem_schema_compile(NULL, schema, strlen(schema), &err);
      fail_after = -1;
      sqlite3_free(err);
      if (!s) continue;
      compiled++;
      if (check(s, doc_bad) != 0 || check(s, doc_good) != 1)
        fail_msg("pad %d, allocation %d failed: the schema compiled but validates wrongly", pad, n);
      telem_schema_free(s);
    }
    sqlite3_free(schema);
  }
  /* ...and one failed allocation while collecting errors gives an error
   * or the same list as without it */
  const char *anyof = "{\"anyOf\":[{\"type\":\"null\"},{\"type\":\"string\",\"maxLength\":1}]}";
  TelemSchema *s = compile(NULL, anyof);
  char *err = NULL;
  TelemSchemaErrors *want = telem_schema_validate_errors(s, "\"ab\"", 4, &err);
  assert_int_equal(telem_schema_errors_count(want), 1); /* the type-only branch is dropped */
  for (int n = 0; n < 60; n++) {
    fail_after = n;
    TelemSchemaErrors *e = telem_schema_validate_errors(s, "\"ab\"", 4, &err);
    fail_after = -1;
    if (e) assert_int_equal(telem_schema_errors_count(e), 1);
    else assert_true(telem_err_is_oom(err) || strstr(err, "out of memory")); /* NULL: the OOM form */
    telem_schema_errors_free(e);
    sqlite3_free(err);
    err = NULL;
  }
  telem_schema_errors_free(want);
  telem_schema_free(s);
  fail_once = 0;
  assert_true(compiled > 0);
}

int main(void) {
  /* A failing allocator for test_alloc_failure: wraps SQLite's default. */
  sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real_mem);
  sqlite3_mem_methods m = real_mem;
  m.xMalloc = fail_malloc;
  m.xRealloc = fail_realloc;
  sqlite3_config(SQLITE_CONFIG_MALLOC, &m);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_basic),          cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_decimal_helpers), cmocka_unit_test(test_uri_resolve),
      cmocka_unit_test(test_errors),         cmocka_unit_test(test_set_and_refs),
      cmocka_unit_test(test_dynamic_ref),    cmocka_unit_test(test_limits),
      cmocka_unit_test(test_unique_items_large), cmocka_unit_test(test_threads),
      cmocka_unit_test(test_alloc_failure), cmocka_unit_test(test_alloc_failure_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
