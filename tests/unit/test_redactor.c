/* test_redactor.c -- the redaction engine (ext/engine/redactor.c): the shipped rules,
 * profiles, text and JSON scrubbing, the action log, classification, every
 * error of a bad rule file, fail-closed engine errors, allocation failure. */
#include "unit.h"
#include "engine/redactor.h"
#include "sql/sql.h" /* the SQL layer's rules cache */
#include "voxtelem.h"

#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>

/* ---- an allocator that fails on demand (sqlite3_malloc only) ---------- */

static long fail_countdown = -1; /* fail when it reaches 0; -1 never */

static void *fail_malloc(int n) {
  if (fail_countdown == 0) return NULL;
  if (fail_countdown > 0) fail_countdown--;
  sqlite3_int64 *p = malloc((size_t)n + 8);
  if (!p) return NULL;
  p[0] = n;
  return p + 1;
}
static void fail_free(void *p) {
  if (p) free((sqlite3_int64 *)p - 1);
}
static void *fail_realloc(void *p, int n) {
  if (fail_countdown == 0) return NULL;
  if (fail_countdown > 0) fail_countdown--;
  sqlite3_int64 *q = realloc(p ? (sqlite3_int64 *)p - 1 : NULL, (size_t)n + 8);
  if (!q) return NULL;
  q[0] = n;
  return q + 1;
}
static int fail_size(void *p) { return p ? (int)((sqlite3_int64 *)p)[-1] : 0; }
static int fail_roundup(int n) { return (n + 7) & ~7; }
static int fail_init(void *x) {
  (void)x;
  return SQLITE_OK;
}
static void fail_shutdown(void *x) { (void)x; }

/* ---- helpers --------------------------------------------------------------- */

static TelemRegistry *reg;
static TelemRedactor *shipped; /* the embedded contracts/telemetry/redaction-rules.yaml */

static int setup(void **state) {
  (void)state;
  char *err = NULL;
  reg = telem_registry_embedded(&err);
  assert_non_null(reg);
  const TelemFile *f = telem_registry_file_by_kind(reg, "redaction-rules");
  assert_non_null(f);
  shipped = telem_redactor_new(f->data, f->len, &err);
  if (!shipped) fprintf(stderr, "%s\n", err);
  assert_non_null(shipped);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  telem_redactor_free(shipped);
  telem_registry_unref(reg);
  return 0;
}

/* Redacts with the shipped rules; returns a sqlite3_malloc'd string. */
static char *red(const char *profile, const char *in) {
  char *out = NULL, *err = NULL;
  size_t n = 0;
  int rc = telem_redactor_redact(shipped, profile, in, strlen(in), &out, &n, &err);
  if (rc) fprintf(stderr, "redact error: %s\n", err);
  assert_int_equal(rc, 0);
  assert_int_equal(strlen(out), n);
  return out;
}

static void expect(const char *profile, const char *in, const char *want) {
  char *out = red(profile, in);
  assert_string_equal(out, want);
  sqlite3_free(out);
}

static int classify(const char *payload, int start) {
  TelemArena a;
  telem_arena_init(&a);
  char *err = NULL;
  int cls = start;
  int rc = telem_redactor_classify(shipped, &a, payload, strlen(payload), &cls, &err);
  telem_arena_free(&a);
  assert_int_equal(rc, 0);
  return cls;
}

/* Builds a rule file that must fail; checks the message contains `want`. */
static void bad(const char *yaml, const char *want) {
  char *err = NULL;
  TelemRedactor *r = telem_redactor_new(yaml, strlen(yaml), &err);
  if (r || !err || !strstr(err, want))
    fprintf(stderr, "rules:\n%s\nwant: %s\ngot: %s\n", yaml, want, err ? err : "(success)");
  assert_null(r);
  assert_non_null(err);
  assert_non_null(strstr(err, want));
  sqlite3_free(err);
}

#define PROFILES "profiles:\n  default: {}\n"

/* ---- tests --------------------------------------------------------------------- */

static void test_shipped_rules(void **state) {
  (void)state;
  assert_true(telem_redactor_rule_count(shipped) >= 20);
  assert_int_equal(telem_redactor_profile_index(shipped, "default"), 0);
  assert_true(telem_redactor_profile_index(shipped, "hash") > 0);
  assert_true(telem_redactor_profile_index(shipped, "omit") > 0);
  assert_true(telem_redactor_profile_index(shipped, "strict") > 0);
  assert_int_equal(telem_redactor_profile_index(shipped, "Strict"), -1);
  assert_int_equal(telem_redactor_profile_index(shipped, NULL), -1);
  assert_string_equal(telem_redactor_rule_id(shipped, 0), "pem-private-key");
  assert_string_equal(telem_class_name(3), "S3");
  assert_null(telem_class_name(4));
  assert_string_equal(telem_redact_action_name(TELEM_RACT_OMIT), "omit");
}

static void test_json_default(void **state) {
  (void)state;
  expect(NULL, "{\"password\":\"hunter2\",\"n\":1,\"note\":\"mail bob@example.com now\"}",
         "{\"password\":\"[REDACTED:secret-key]\",\"n\":1,\"note\":\"mail [REDACTED:email] now\"}");
  /* key order and structure kept, whitespace dropped, literals untouched */
  expect("default", "{ \"z\" : [ 1, true, null, 2.5e3 ], \"a\" : {\"ApiKey\" : \"k\"} }",
         "{\"z\":[1,true,null,2.5e3],\"a\":{\"ApiKey\":\"[REDACTED:secret-key]\"}}");
  /* null / true / empty values under a secret key are not acted on */
  expect(NULL, "{\"password\":null,\"token\":\"\",\"secret\":false}",
         "{\"password\":null,\"token\":\"\",\"secret\":false}");
  /* integer literals can be cards; non-Luhn ones survive */
  expect(NULL, "[4111111111111111,4111111111111112]", "[\"[REDACTED:payment-card]\",4111111111111112]");
  /* escapes are re-encoded, the span inside replaced */
  expect(NULL, "[\"a\\n\\\"b\\\" \\u00e9 81.2.69.160\"]", "[\"a\\n\\\"b\\\" \xc3\xa9 [REDACTED:ipv4]\"]");
  /* keys are scrubbed too */
  expect(NULL, "{\"bob@example.com\":1}", "{\"[REDACTED:email]\":1}");
  /* look-alikes survive */
  const char *benign =
      "{\"id\":\"550e8400-e29b-41d4-a716-446655440000\",\"commit\":\"0123456789abcdef0123456789abcdef01234567\","
      "\"ts\":\"2026-11-25T14:27:58.123Z\",\"version\":\"1.2.3.4\",\"file\":\"src/main.rs\","
      "\"metric_type\":\"orch.circuit_breaker.trip\",\"session_id\":\"bench:repo-42\","
      "\"field\":\"password\",\"prompt_tokens\":1500,\"ua\":\"Chrome/120.0.0.0\"}";
  expect(NULL, benign, benign);
  /* scalars at the root */
  expect(NULL, "\"from 81.2.69.142\"", "\"from [REDACTED:ipv4]\"");
  expect(NULL, "  42 ", "42");
}

static void test_embedded_json(void **state) {
  (void)state;
  /* JSON inside a string is walked: key rules apply in it */
  expect(NULL, "{\"req\":\"{\\\"api_key\\\":\\\"k\\\",\\\"n\\\":1}\"}",
         "{\"req\":\"{\\\"api_key\\\":\\\"[REDACTED:secret-key]\\\",\\\"n\\\":1}\"}");
  /* nothing acted on inside: the string is copied as written */
  expect(NULL, "{\"note\":\"[1, 2]\",\"log\":\"[INFO] x\"}", "{\"note\":\"[1, 2]\",\"log\":\"[INFO] x\"}");
  expect("omit", "[\"{\\\"prompt\\\":\\\"p\\\",\\\"a\\\":1}\"]", "[\"{\\\"a\\\":1}\"]");
  assert_int_equal(classify("{\"x\":\"{\\\"prompt\\\":\\\"p\\\"}\"}", 0), 3);
  assert_int_equal(classify("{\"x\":\"{\\\"a\\\":1}\"}", 0), 0);
  /* bounded: five levels of strings in strings stop being looked into */
  const char *deep = "[\"[\\\"[\\\\\\\"[\\\\\\\\\\\\\\\"x\\\\\\\\\\\\\\\"]\\\\\\\"]\\\"]\"]";
  char *out = red(NULL, deep);
  assert_string_equal(out, deep);
  sqlite3_free(out);
}

static void test_profiles(void **state) {
  (void)state;
  const char *in = "{\"prompt\":\"hi\",\"path\":\"src/a.rs\",\"password\":\"x\",\"n\":1}";
  expect("default", in, "{\"prompt\":\"hi\",\"path\":\"src/a.rs\",\"password\":\"[REDACTED:secret-key]\",\"n\":1}");
  char want[200];
  snprintf(want, sizeof(want), "{\"prompt\":\"xxh3:%016llx\",\"path\":\"src/a.rs\",\"password\":\"[REDACTED:secret-key]\",\"n\":1}",
           (unsigned long long)XXH3_64bits("\"hi\"", 4));
  expect("hash", in, want);
  expect("omit", in, "{\"path\":\"src/a.rs\",\"password\":\"[REDACTED:secret-key]\",\"n\":1}");
  snprintf(want, sizeof(want), "{\"prompt\":\"xxh3:%016llx\",\"password\":\"[REDACTED:secret-key]\",\"n\":1}",
           (unsigned long long)XXH3_64bits("\"hi\"", 4));
  expect("strict", in, want);
  /* the hash is of the compact JSON of the whole value */
  snprintf(want, sizeof(want), "{\"messages\":\"xxh3:%016llx\"}",
           (unsigned long long)XXH3_64bits("[{\"a\":1}]", 9));
  expect("hash", "{\"messages\" : [ { \"a\" : 1 } ]}", want);
  /* omit of the first and last members keeps commas right */
  expect("omit", "{\"prompt\":\"a\"}", "{}");
  expect("omit", "{\"prompt\":\"a\",\"x\":1,\"content\":\"b\"}", "{\"x\":1}");
  /* unknown profile */
  char *out = (char *)1, *err = NULL;
  assert_int_equal(telem_redactor_redact(shipped, "nope", "{}", 2, &out, NULL, &err), -1);
  assert_null(out);
  assert_string_equal(err, "unknown profile \"nope\"");
  sqlite3_free(err);
}

static void test_text(void **state) {
  (void)state;
  expect(NULL, "login password=hunter2 for bob@example.com from 81.2.69.167",
         "login password=[REDACTED:kv-password] for [REDACTED:email] from [REDACTED:ipv4]");
  expect(NULL, "cd /home/jdoe/src && ls /Users/Shared", "cd /home/[REDACTED:home-user]/src && ls /Users/Shared");
  expect(NULL, "C:\\Users\\jdoe\\x", "C:\\Users\\[REDACTED:home-user]\\x");
  expect(NULL, "postgres://app:pw123@db:5432/x", "postgres://[REDACTED:url-credentials]@db:5432/x");
  expect(NULL, "the password field; bearer authentication; sk-learn-classifier",
         "the password field; bearer authentication; sk-learn-classifier");
  expect(NULL, "key AKIAQ7RZ2MXW4KJD8NPL ok", "key [REDACTED:aws-access-key-id] ok");
  expect(NULL, "card 4111-1111-1111-1111 and 4111-1111-1111-1112",
         "card [REDACTED:payment-card] and 4111-1111-1111-1112");
  expect(NULL, "", "");
  /* JSON whose fault is invalid UTF-8 is repaired (U+FFFD) and stays JSON */
  expect(NULL, "{\"a\" : \"\xff bob@example.com\",\"prompt\":\"\xc3\"}",
         "{\"a\":\"\xef\xbf\xbd [REDACTED:email]\",\"prompt\":\"\xef\xbf\xbd\"}");
  expect("omit", "{\"a\":1,\"prompt\":\"\xed\xa0\x80\"}", "{\"a\":1}");
  /* other invalid UTF-8 is text: scrubbed in byte mode, and every
   * ill-formed byte becomes U+FFFD, so the output is valid UTF-8 */
  expect(NULL, "\xff bob@example.com \xc0\xaf",
         "\xef\xbf\xbd [REDACTED:email] \xef\xbf\xbd\xef\xbf\xbd");
  expect(NULL, "{\"a\":\xff}", "{\"a\":\xef\xbf\xbd}");
  /* malformed JSON is text, except under a profile that hashes or drops */
  expect(NULL, "{\"prompt\":\"x", "{\"prompt\":\"x");
  expect("strict", "plain words", "plain words");
  char *o2 = (char *)1, *e2 = NULL;
  assert_int_equal(telem_redactor_redact(shipped, "omit", "{\"prompt\":\"x", 12, &o2, NULL, &e2), -1);
  assert_null(o2);
  assert_string_equal(e2, "profile \"omit\" needs well-formed JSON: unterminated string at byte 12");
  sqlite3_free(e2);
  /* spans widen to whole UTF-8 sequences */
  expect(NULL, "password=\xc3\xa9t\xc3\xa9", "password=[REDACTED:kv-password]");
  /* an unterminated PEM block is redacted to the end */
  expect(NULL, "x -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
         "x [REDACTED:pem-private-key]");
  /* a header without a key body is documentation */
  expect(NULL, "-----BEGIN PRIVATE KEY-----\nanything\n-----END PRIVATE KEY-----",
         "-----BEGIN PRIVATE KEY-----\nanything\n-----END PRIVATE KEY-----");
}

static void assert_path(const TelemRedactLog *log, int i, const char *want) {
  char *p = telem_redact_log_path(log, i);
  assert_non_null(p);
  assert_string_equal(p, want);
  sqlite3_free(p);
}

static void test_log(void **state) {
  (void)state;
  TelemArena a;
  TelemRedactLog log;
  TelemBuf out;
  char *err = NULL;
  telem_arena_init(&a);
  telem_redact_log_init(&log);
  telem_buf_init(&out);
  const char *in = "{\"a/b\":{\"token\":\"t\"},\"l\":[1,\"81.2.69.160 bob@example.com\"],\"prompt\":\"p\"}";
  int p = telem_redactor_profile_index(shipped, "strict");
  assert_int_equal(telem_redactor_run(shipped, p, &a, in, strlen(in), &out, &log, &err), 0);
  assert_int_equal(log.n, 4);
  assert_path(&log, 0, "/a~1b/token");
  assert_string_equal(telem_redactor_rule_id(shipped, log.v[0].rule), "secret-key");
  assert_int_equal(log.v[0].action, TELEM_RACT_REPLACE);
  assert_int_equal(log.v[0].cls, 3);
  /* spans of one string in order of position */
  assert_path(&log, 1, "/l/1");
  assert_string_equal(telem_redactor_rule_id(shipped, log.v[1].rule), "ipv4");
  assert_int_equal(log.v[1].cls, 2);
  assert_path(&log, 2, "/l/1");
  assert_string_equal(telem_redactor_rule_id(shipped, log.v[2].rule), "email");
  assert_path(&log, 3, "/prompt");
  assert_int_equal(log.v[3].action, TELEM_RACT_HASH);
  telem_redact_log_clear(&log);
  /* without output (telem_redactions) the log is the same */
  telem_arena_reset(&a);
  assert_int_equal(telem_redactor_run(shipped, p, &a, in, strlen(in), NULL, &log, &err), 0);
  assert_int_equal(log.n, 4);
  telem_redact_log_clear(&log);
  /* text: the path is the root */
  telem_arena_reset(&a);
  assert_int_equal(telem_redactor_run(shipped, 0, &a, "x bob@example.com", 17, NULL, &log, &err), 0);
  assert_int_equal(log.n, 1);
  assert_path(&log, 0, "");
  telem_redact_log_clear(&log);
  /* profile index out of range */
  assert_int_equal(telem_redactor_run(shipped, 99, &a, "x", 1, &out, NULL, &err), -1);
  assert_string_equal(err, "unknown profile");
  sqlite3_free(err);
  telem_buf_free(&out);
  telem_arena_free(&a);
}

static void test_classify(void **state) {
  (void)state;
  assert_int_equal(classify("{\"duration_ms\":3}", 0), 0);
  assert_int_equal(classify("{\"duration_ms\":3}", 1), 1);
  assert_int_equal(classify("{\"rel_file\":\"src/a.rs\"}", 0), 2);
  assert_int_equal(classify("{\"branch\":\"main\",\"x\":1}", 1), 2);
  assert_int_equal(classify("{\"fingerprint\":\"ab\"}", 0), 2);
  assert_int_equal(classify("{\"prompt\":\"hi\"}", 0), 3);
  assert_int_equal(classify("{\"prompt\":\"\"}", 0), 0);
  assert_int_equal(classify("{\"messages\":[]}", 0), 0);
  assert_int_equal(classify("{\"note\":\"from 81.2.69.160\"}", 0), 2);
  assert_int_equal(classify("{\"note\":\"bob@example.com\"}", 0), 3);
  assert_int_equal(classify("{\"password\":\"x\"}", 0), 3);
  assert_int_equal(classify("[{\"deep\":{\"token\":\"x\"}}]", 0), 3);
  assert_int_equal(classify("not json", 0), 3);
  assert_int_equal(classify("{\"a\":1", 0), 3);
  assert_int_equal(classify("{}", 3), 3);
}

static void test_hostile(void **state) {
  (void)state;
  TelemArena a;
  TelemBuf out;
  char *err = NULL;
  telem_arena_init(&a);
  telem_buf_init(&out);
  /* deeper than TELEM_JSON_MAX_DEPTH: an error, not a text scrub */
  size_t n = 2 * (TELEM_JSON_MAX_DEPTH + 1);
  char *deep = malloc(n);
  memset(deep, '[', n / 2);
  memset(deep + n / 2, ']', n / 2);
  assert_int_equal(telem_redactor_run(shipped, 0, &a, deep, n, &out, NULL, &err), -1);
  assert_string_equal(err, "JSON nested deeper than 1000 levels");
  sqlite3_free(err);
  err = NULL;
  int cls = 0;
  telem_arena_reset(&a);
  assert_int_equal(telem_redactor_classify(shipped, &a, deep, n, &cls, &err), 0);
  assert_int_equal(cls, 3);
  free(deep);
  /* NUL bytes in text */
  telem_arena_reset(&a);
  out.len = 0;
  static const char nul[] = "a\0bob@example.com\0";
  assert_int_equal(telem_redactor_run(shipped, 0, &a, nul, sizeof(nul) - 1, &out, NULL, &err), 0);
  assert_int_equal(out.len, 19);
  assert_memory_equal(out.p, "a\0[REDACTED:email]\0", 19);
  /* long runs that nearly match stay linear (no error) */
  const char *bait[] = {"a_", "password=", "a@", "1.", "f:", "4 ", "x://a:b", "eyJ", "/home/"};
  for (size_t i = 0; i < sizeof(bait) / sizeof(bait[0]); i++) {
    size_t bl = strlen(bait[i]), reps = 200000 / bl;
    char *s = malloc(reps * bl + 8);
    for (size_t j = 0; j < reps; j++) memcpy(s + j * bl, bait[i], bl);
    memcpy(s + reps * bl, " key:x", 6);
    telem_arena_reset(&a);
    out.len = 0;
    int rc = telem_redactor_run(shipped, 0, &a, s, reps * bl + 6, &out, NULL, &err);
    if (rc) fprintf(stderr, "bait %s: %s\n", bait[i], err);
    assert_int_equal(rc, 0);
    free(s);
  }
  telem_buf_free(&out);
  telem_arena_free(&a);
}

static void test_fail_closed(void **state) {
  (void)state;
  /* A catastrophic pattern hits the match limit: an error, no output. */
  const char *yaml =
      "value_patterns:\n"
      "  - id: evil\n"
      "    class: S3\n"
      "    action: replace\n"
      "    pattern: '(?:(?:a|a)+)+b'\n" PROFILES;
  char *err = NULL;
  TelemRedactor *r = telem_redactor_new(yaml, strlen(yaml), &err);
  assert_non_null(r);
  char in[64];
  memset(in, 'a', sizeof(in));
  in[62] = 'c'; /* a 'b' is present, so PCRE2's required-byte check passes */
  in[63] = 'b';
  char *out = (char *)1;
  assert_int_equal(telem_redactor_redact(r, NULL, in, sizeof(in), &out, NULL, &err), -1);
  assert_null(out);
  assert_non_null(strstr(err, "rule \"evil\": "));
  assert_non_null(strstr(err, "limit"));
  sqlite3_free(err);
  telem_redactor_free(r);
}

/* A pattern with more capture groups than the match data holds: PCRE2
 * returns 0 (ovector too small), which is still a match and must be
 * redacted, not skipped. */
static void test_many_groups(void **state) {
  (void)state;
  const char *yaml =
      "value_patterns:\n"
      "  - id: many\n"
      "    class: S3\n"
      "    action: replace\n"
      "    pattern: '(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)-[0-9]+'\n"
      "  - id: ninth\n"
      "    class: S3\n"
      "    action: replace\n"
      "    group: 9\n"
      "    pattern: 'x(m)(n)(o)(p)(q)(r)(s)(t)([0-9]+)(u)(v)(w)'\n" PROFILES;
  char *err = NULL, *out = NULL;
  TelemRedactor *r = telem_redactor_new(yaml, strlen(yaml), &err);
  if (!r) fprintf(stderr, "%s\n", err);
  assert_non_null(r);
  const char *in = "{\"a\":\"id abcdefghijkl-42 end\",\"b\":\"xmnopqrst777uvw\"}";
  assert_int_equal(telem_redactor_redact(r, NULL, in, strlen(in), &out, NULL, &err), 0);
  assert_string_equal(out, "{\"a\":\"id [REDACTED:many] end\",\"b\":\"xmnopqrst[REDACTED:ninth]uvw\"}");
  sqlite3_free(out);
  telem_redactor_free(r);
}

/* A card number followed by a short digit group (an expiry date, a count)
 * makes the greedy card pattern take that group too; the longer digit run
 * fails Luhn, and the card itself must still be redacted. */
static void test_card_then_digits(void **state) {
  (void)state;
  expect("default", "card 4111 1111 1111 1111 12/27 cvv 123",
         "card [REDACTED:payment-card] 12/27 cvv 123");
  expect("default", "{\"pay\":\"5555555555554444 09/28\"}",
         "{\"pay\":\"[REDACTED:payment-card] 09/28\"}");
  expect("default", "paid with 4111111111111111 2 times",
         "paid with [REDACTED:payment-card] 2 times");
  /* digits that fail Luhn at every length stay */
  expect("default", "order 4111111111111112 2 items", "order 4111111111111112 2 items");
}

static void test_custom_rules(void **state) {
  (void)state;
  const char *yaml =
      "version: 1\n"
      "value_patterns:\n"
      "  - id: ticket\n"
      "    class: S1\n"
      "    action: hash\n"
      "    prefilter: [\"TCK-\"]\n"
      "    pattern: 'TCK-([0-9]+)'\n"
      "    group: 1\n"
      "  - id: digits\n"
      "    class: S2\n"
      "    action: keep\n"
      "    min_digits: 3\n"
      "    min_chars: {\"#\": 1}\n"
      "    any_chars: \"#\"\n"
      "    except_keys: [\"*safe\"]\n"
      "    pattern: '#[0-9]{3}'\n"
      "key_rules:\n"
      "  - id: gone\n"
      "    class: S3\n"
      "    action: omit\n"
      "    keys: [\"drop*\"]\n"
      "    except: [\"dropkeep\"]\n"
      "profiles:\n"
      "  default: {}\n"
      "  loud:\n"
      "    digits: replace\n"
      "    gone: keep\n";
  char *err = NULL, *out = NULL;
  TelemRedactor *r = telem_redactor_new(yaml, strlen(yaml), &err);
  if (!r) fprintf(stderr, "%s\n", err);
  assert_non_null(r);
  const char *in = "{\"t\":\"see TCK-42 #123\",\"drop_me\":1,\"Drop-Keep\":2,\"x_safe\":\"#123\"}";
  assert_int_equal(telem_redactor_redact(r, NULL, in, strlen(in), &out, NULL, &err), 0);
  char want[200];
  snprintf(want, sizeof(want), "{\"t\":\"see TCK-xxh3:%016llx #123\",\"Drop-Keep\":2,\"x_safe\":\"#123\"}",
           (unsigned long long)XXH3_64bits("\"42\"", 4));
  assert_string_equal(out, want);
  sqlite3_free(out);
  assert_int_equal(telem_redactor_redact(r, "loud", in, strlen(in), &out, NULL, &err), 0);
  snprintf(want, sizeof(want),
           "{\"t\":\"see TCK-xxh3:%016llx [REDACTED:digits]\",\"drop_me\":1,\"Drop-Keep\":2,\"x_safe\":\"#123\"}",
           (unsigned long long)XXH3_64bits("\"42\"", 4));
  assert_string_equal(out, want);
  sqlite3_free(out);
  telem_redactor_free(r);
}

static void test_bad_rule_files(void **state) {
  (void)state;
  bad("value_patterns: [\n", "redaction-rules.yaml:");
  bad("- a\n", "the rules file must be a mapping");
  bad("value_patterns: []\n", "profiles: missing");
  bad("colour: red\n" PROFILES, "unknown top-level field \"colour\"");
  bad("value_patterns: {}\n" PROFILES, "value_patterns: must be a list");
  bad("key_rules: x\n" PROFILES, "key_rules: must be a list");
  bad("value_patterns:\n  - x\n" PROFILES, "value_patterns[0]: must be a mapping");
  bad("value_patterns:\n  - class: S3\n    action: replace\n    pattern: x\n" PROFILES,
      "value_patterns[0] (line 2): missing id");
  bad("value_patterns:\n  - id: Bad_Id\n    class: S3\n    action: replace\n    pattern: x\n" PROFILES,
      "id must match [a-z0-9-]{1,64}");
  bad("value_patterns:\n  - id: e\n    class: S3\n    action: replace\n    pattern: 'a(b'\n" PROFILES,
      "rule \"e\" (line 2): pattern does not compile at offset 3: missing closing parenthesis");
  bad("value_patterns:\n  - id: e\n    class: S3\n    action: redact\n    pattern: x\n" PROFILES,
      "rule \"e\" (line 2): unknown action \"redact\" (expected replace, hash or keep)");
  bad("value_patterns:\n  - id: e\n    class: S3\n    action: omit\n    pattern: x\n" PROFILES,
      "rule \"e\" (line 2): action \"omit\" is only for key rules");
  bad("value_patterns:\n  - id: e\n    class: S9\n    action: replace\n    pattern: x\n" PROFILES,
      "rule \"e\" (line 2): unknown class \"S9\"");
  bad("value_patterns:\n  - id: e\n    action: replace\n    pattern: x\n" PROFILES, "missing class");
  bad("value_patterns:\n  - id: e\n    class: S1\n    pattern: x\n" PROFILES, "missing action");
  bad("value_patterns:\n  - id: e\n    class: S1\n    action: keep\n" PROFILES, "missing pattern");
  bad("value_patterns:\n  - id: e\n    class: S1\n    action: keep\n    pattern: x\n    colour: red\n" PROFILES,
      "rule \"e\" (line 2): unknown field \"colour\"");
  bad("value_patterns:\n  - id: e\n    class: S1\n    action: keep\n    pattern: x\n"
      "  - id: e\n    class: S1\n    action: keep\n    pattern: y\n" PROFILES,
      "rule \"e\" (line 6): duplicate id (first defined on line 2)");
  bad("value_patterns:\n  - id: e\n    class: S1\n    action: keep\n    pattern: x\n"
      "key_rules:\n  - id: e\n    class: S1\n    action: keep\n    keys: [a]\n" PROFILES,
      "rule \"e\" (line 7): duplicate id");
  bad("value_patterns:\n  - id: e\n    class: S1\n    action: keep\n    pattern: '(x)'\n    group: 2\n" PROFILES,
      "group 2 but the pattern has 1 capture group");
  bad("value_patterns:\n  - id: e\n    class: S1\n    action: keep\n    pattern: x\n    group: one\n" PROFILES,
      "group must be a number from 0 to 9");
  bad("value_patterns:\n  - id: e\n    class: S1\n    action: keep\n    pattern: x\n    check: crc\n" PROFILES,
      "unknown check \"crc\" (expected luhn or iban)");
  bad("value_patterns:\n  - id: e\n    class: S1\n    action: keep\n    pattern: x\n    prefilter: []\n" PROFILES,
      "\"prefilter\" must be a non-empty list of strings");
  bad("value_patterns:\n  - id: e\n    class: S1\n    action: keep\n    pattern: x\n    min_chars: {\"ab\": 1}\n" PROFILES,
      "min_chars must map one non-digit character to a count");
  bad("value_patterns:\n  - id: e\n    class: S1\n    action: keep\n    pattern: x\n    min_digits: -1\n" PROFILES,
      "min_digits must be a number");
  bad("value_patterns:\n  - id: e\n    class: S1\n    action: keep\n    pattern: x\n    any_chars: \"\"\n" PROFILES,
      "any_chars must be a non-empty string");
  bad("value_patterns:\n  - id: e\n    class: S1\n    action: keep\n    pattern: x\n"
      "    any_chars: \"abcdefghijklmnopq\"\n" PROFILES,
      "too many distinct characters");
  bad("value_patterns:\n  - id: e\n    class: S1\n    action: keep\n    pattern: x\n    except_keys: [\"*\"]\n" PROFILES,
      "\"except_keys\" entry \"*\" is not a key name");
  bad("key_rules:\n  - id: k\n    class: S1\n    action: hash\n" PROFILES, "rule \"k\" (line 2): missing keys");
  bad("key_rules:\n  - id: k\n    class: S1\n    action: hash\n    keys: []\n" PROFILES, "\"keys\" is empty");
  bad("key_rules:\n  - id: k\n    class: S1\n    action: hash\n    keys: x\n" PROFILES,
      "\"keys\" must be a list of key names");
  bad("key_rules:\n  - id: k\n    class: S1\n    action: hash\n    keys: [\"-_\"]\n" PROFILES,
      "\"keys\" entry \"-_\" is not a key name");
  bad("key_rules:\n  - id: k\n    class: S1\n    action: hash\n    keys: [a]\n    pattern: x\n" PROFILES,
      "unknown field \"pattern\"");
  bad("profiles:\n  strict: {}\n", "profiles: no \"default\" profile");
  bad("profiles: [a]\n", "profiles: must be a mapping");
  bad("profiles:\n  default: x\n", "profile \"default\" (line 2): must be a mapping of rule id to action");
  bad("profiles:\n  default:\n    nope: hash\n", "profile \"default\" (line 3): unknown rule \"nope\"");
  bad("key_rules:\n  - id: k\n    class: S1\n    action: hash\n    keys: [a]\n"
      "profiles:\n  default:\n    k: shred\n",
      "profile \"default\" (line 8): rule \"k\": unknown action \"shred\"");
  bad("value_patterns:\n  - id: e\n    class: S1\n    action: keep\n    pattern: x\n"
      "profiles:\n  default:\n    e: omit\n",
      "rule \"e\": action \"omit\" is only for key rules");
}

static int has(const char *s, size_t n, const char *needle) {
  size_t m = strlen(needle);
  for (size_t i = 0; i + m <= n; i++)
    if (memcmp(s + i, needle, m) == 0) return 1;
  return 0;
}

/* Property test over generated inputs: JSON in gives parseable JSON out
 * (every profile), text never errors, and the planted token never survives. */
static void test_generated(void **state) {
  (void)state;
  static const char *const frags[] = {
      "bob@example.com", "81.2.69.160", "::1", "4111 1111 1111 1111", "password=", "hunter2",
      "ghp_k3Jd8sPq2mZx7VtR4nLw9cYb1HfGa6Ue0oTi", "/home/jdoe/", "\\u00e9", "\\\"", "\\n",
      "@", ":", ".", "-", " ", "a", "Z", "7", "eyJ", "sk-", "AKIA", "://", "=", "\xc3\xa9",
  };
  static const char *const keys[] = {"a", "password", "prompt", "path", "api-key", "n", "x_y"};
  /* Each member's string ends with one of these after a space. */
  static const char *const planted[] = {
      "ghp_k3Jd8sPq2mZx7VtR4nLw9cYb1HfGa6Ue0oTi", "AKIAQWERTYUIOPASDFGH", "carol@example.org",
      "sk-ant-Zq8Wv3Lk2Pn7Rt5Yx1Cm4Bd9", "xoxb-483920175634-2094817365021-Zq8Wv3Lk2Pn7Rt5Yx1Cm4Bd",
      "5500 0000 0000 0004", "81.2.69.5"};
#define NPLANTED (sizeof(planted) / sizeof(planted[0]))
  uint32_t seed = 12345;
  TelemArena a, a2;
  TelemBuf out, txt;
  char *err = NULL;
  telem_arena_init(&a);
  telem_arena_init(&a2);
  telem_buf_init(&out);
  telem_buf_init(&txt);
  for (int iter = 0; iter < 3000; iter++) {
    txt.len = 0;
    telem_buf_putc(&txt, '{');
    int members = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 4;
    for (int m = 0; m < members; m++) {
      if (m) telem_buf_putc(&txt, ',');
      seed = seed * 1103515245u + 12345u;
      telem_buf_printf(&txt, "\"%s%d\":\"", keys[(seed >> 16) % 7], m);
      int nf = 1 + (int)((seed >> 8) % 6);
      for (int f = 0; f < nf; f++) {
        seed = seed * 1103515245u + 12345u;
        telem_buf_puts(&txt, frags[(seed >> 16) % (sizeof(frags) / sizeof(frags[0]))]);
      }
      telem_buf_putc(&txt, ' ');
      telem_buf_puts(&txt, planted[(seed >> 4) % NPLANTED]);
      telem_buf_putc(&txt, '"');
    }
    telem_buf_putc(&txt, '}');
    assert_false(txt.oom);
    telem_arena_reset(&a);
    int is_json = telem_json_parse(&a, txt.p, txt.len, NULL) != NULL;
    for (int p = 0; p < 4; p++) {
      telem_arena_reset(&a);
      out.len = 0;
      int rc = telem_redactor_run(shipped, p, &a, txt.p, txt.len, &out, NULL, &err);
      if (rc) fprintf(stderr, "%s on %.*s\n", err, (int)txt.len, txt.p);
      assert_int_equal(rc, 0);
      telem_arena_reset(&a2);
      if (is_json) assert_non_null(telem_json_parse(&a2, out.p, out.len, NULL));
      for (size_t k = 0; k < NPLANTED; k++) {
        if (has(out.p, out.len, planted[k]))
          fprintf(stderr, "leak of %s (profile %d):\n  in:  %.*s\n  out: %.*s\n", planted[k], p,
                  (int)txt.len, txt.p, (int)out.len, out.p);
        assert_false(has(out.p, out.len, planted[k]));
      }
    }
  }
  telem_buf_free(&out);
  telem_buf_free(&txt);
  telem_arena_free(&a);
  telem_arena_free(&a2);
}

/* The SQL layer's cache: one compile per registry; a bad file is remembered. */
static void test_registry_cache(void **state) {
  (void)state;
  char *err = NULL;
  TelemRegistry *g = telem_registry_embedded(&err);
  assert_non_null(g);
  TelemRedactor *r1 = telem_redact_rules(g, &err);
  assert_non_null(r1);
  assert_ptr_equal(telem_redact_rules(g, &err), r1);
  assert_ptr_equal(((TelemRedactCache *)g->ext[TELEM_EXT_REDACT])->rules, r1);
  telem_registry_unref(g); /* frees the cache through ext_free */

  static const char *const files[] = {
      "index.yaml",
      "contracts:\n  - id: rules\n    path: r.yaml\n    kind: redaction-rules\n"
      "    owner: o\n    description: d\n    enforced_by: e\n",
      "r.yaml", "value_patterns:\n  - id: x\n    class: S1\n    action: zap\n    pattern: a\n"
                "profiles:\n  default: {}\n",
      NULL};
  g = unit_registry(&err, files);
  if (!g) fprintf(stderr, "%s\n", err);
  assert_non_null(g);
  for (int i = 0; i < 2; i++) {
    assert_null(telem_redact_rules(g, &err));
    assert_string_equal(err, "r.yaml: rule \"x\" (line 2): unknown action \"zap\" (expected replace, hash or keep)");
    sqlite3_free(err);
    err = NULL;
  }
  telem_registry_unref(g);
}

static void test_alloc_failure(void **state) {
  (void)state;
  /* Every sqlite3_malloc in building and running a small redactor fails in
   * turn: each attempt gives a clean error (and ASan sees no leak). */
  const char *yaml =
      "value_patterns:\n"
      "  - id: mail\n    class: S3\n    action: replace\n    min_chars: {\"@\": 1}\n"
      "    prefilter: [\"@ex\"]\n    pattern: '[a-z]+@example\\.com'\n"
      "key_rules:\n"
      "  - id: k\n    class: S3\n    action: hash\n    keys: [\"*secret*\"]\n"
      "profiles:\n  default: {}\n";
  const char *in = "{\"secret\":[1],\"n\":\"bob@example.com and ann@example.com\",\"l\":[\"x\"]}";
  int built_ok = 0, ran_ok = 0;
  for (long k = 0; k < 2000 && !(built_ok && ran_ok); k++) {
    char *err = NULL, *out = NULL;
    fail_countdown = k;
    TelemRedactor *r = telem_redactor_new(yaml, strlen(yaml), &err);
    if (!r) {
      fail_countdown = -1;
      /* err is "out of memory", or NULL when even the message failed */
      if (err) assert_string_equal(err, "out of memory");
      sqlite3_free(err);
      continue;
    }
    built_ok = 1;
    TelemArena a;
    TelemBuf b;
    TelemRedactLog log;
    telem_arena_init(&a);
    telem_buf_init(&b);
    telem_redact_log_init(&log);
    int rc = telem_redactor_run(r, 0, &a, in, strlen(in), &b, &log, &err);
    fail_countdown = -1;
    if (rc == 0) {
      ran_ok = 1;
      assert_false(b.oom);
      assert_int_equal(log.n, 3);
    } else {
      if (err) assert_string_equal(err, "out of memory");
      sqlite3_free(err);
    }
    (void)out;
    telem_redact_log_clear(&log);
    telem_buf_free(&b);
    telem_arena_free(&a);
    telem_redactor_free(r);
  }
  fail_countdown = -1;
  assert_true(built_ok);
  assert_true(ran_ok);
}

int main(void) {
  static const sqlite3_mem_methods mem = {fail_malloc, fail_free,    fail_realloc, fail_size,
                                          fail_roundup, fail_init, fail_shutdown, NULL};
  sqlite3_config(SQLITE_CONFIG_MALLOC, &mem);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shipped_rules),  cmocka_unit_test(test_json_default),
      cmocka_unit_test(test_profiles),       cmocka_unit_test(test_text),
      cmocka_unit_test(test_embedded_json),
      cmocka_unit_test(test_log),            cmocka_unit_test(test_classify),
      cmocka_unit_test(test_hostile),        cmocka_unit_test(test_fail_closed),
      cmocka_unit_test(test_custom_rules),   cmocka_unit_test(test_bad_rule_files),
      cmocka_unit_test(test_generated),      cmocka_unit_test(test_registry_cache),
      cmocka_unit_test(test_alloc_failure),  cmocka_unit_test(test_many_groups),
      cmocka_unit_test(test_card_then_digits),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
