/*
 * test_policy.c -- cmocka tests of the retention policy engine (ext/engine/policy.c):
 * the happy path and export round trip, every kind of bad policy (each
 * error names the table and the field), hostile input (SQL in a table name,
 * a YAML alias bomb, 5 MB, non-UTF-8, NUL bytes, empty text), the rule
 * editing API, allocation failures, and telem_policy_import() on files
 * (missing, empty, a directory, 5 MB, good) through an in-memory database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/policy.h"
#include "core/yaml.h"
#include "voxtelem.h"

static const char good[] =
    "tables:\n"
    "  research_metrics:\n"
    "    kind: days\n"
    "    days: 365\n"
    "    time_column: created_at\n"
    "    rationale: a year of research\n"
    "  ci_completion_run:\n"
    "    kind: days\n"
    "    days: 365\n"
    "    time_column: finished_at\n"
    "    rationale: \"audits: \\\"quoted\\\" and \\\\ backslash\\nnew line, caf\\u00e9\"\n"
    "  ci_completion_finding:\n"
    "    kind: cascade\n"
    "    cascade_from: ci_completion_run\n"
    "    rationale: goes with its run\n"
    "  ci_completion_suppression:\n"
    "    kind: expires_lt_now\n"
    "    time_column: expires_at\n"
    "    rationale: NULL means standing\n"
    "  usage_ms:\n"
    "    kind: ms_days\n"
    "    days: 30\n"
    "    time_column: ts_ms\n"
    "    rationale: raw usage\n"
    "  audit_log:\n"
    "    kind: keep_forever\n"
    "    rationale: legal hold\n"
    "  scratch:\n"
    "    kind: manual\n"
    "    time_column: made_at\n"
    "    rationale: operators decide\n";

/* Parses text; returns the error (sqlite3 memory) or NULL when it parsed. */
static char *parse_err(const char *text, size_t n) {
  char *err = NULL;
  TelemPolicy *p = telem_policy_parse("p.yaml", text, n, &err);
  if (p) {
    telem_policy_free(p);
    sqlite3_free(err);
    return NULL;
  }
  assert_non_null(err);
  return err;
}

/* Asserts that text fails with a message containing every needle. */
static void expect_bad(const char *text, const char *needle1, const char *needle2) {
  char *err = parse_err(text, strlen(text));
  if (!err) fail_msg("policy unexpectedly parsed:\n%s", text);
  if (needle1 && !strstr(err, needle1)) fail_msg("\"%s\" not in \"%s\"", needle1, err);
  if (needle2 && !strstr(err, needle2)) fail_msg("\"%s\" not in \"%s\"", needle2, err);
  assert_int_equal(strncmp(err, "p.yaml", 6), 0); /* says where */
  sqlite3_free(err);
}

static void test_good_policy(void **state) {
  (void)state;
  char *err = NULL;
  TelemPolicy *p = telem_policy_parse("p.yaml", good, strlen(good), &err);
  assert_null(err);
  assert_non_null(p);
  assert_int_equal(telem_policy_count(p), 7);
  TelemPolicyRuleInfo r;
  /* sorted by name */
  assert_int_equal(telem_policy_rule(p, 0, &r), 0);
  assert_string_equal(r.table_name, "audit_log");
  assert_string_equal(r.kind, "keep_forever");
  assert_true(r.days == TELEM_POLICY_NO_DAYS);
  int i = telem_policy_find(p, "RESEARCH_METRICS");
  assert_true(i >= 0);
  telem_policy_rule(p, i, &r);
  assert_string_equal(r.kind, "days");
  assert_int_equal(r.days, 365);
  assert_string_equal(r.time_column, "created_at");
  assert_null(r.cascade_from);
  i = telem_policy_find(p, "ci_completion_finding");
  telem_policy_rule(p, i, &r);
  assert_string_equal(r.cascade_from, "ci_completion_run");
  assert_null(r.time_column);
  assert_int_equal(telem_policy_rule(p, 7, &r), -1);
  assert_int_equal(telem_policy_find(p, "nope"), -1);
  telem_policy_free(p);
}

/* parse(export(p)) has the same rules, and exporting again is identical. */
static void test_round_trip(void **state) {
  (void)state;
  char *err = NULL;
  TelemPolicy *p = telem_policy_parse("p.yaml", good, strlen(good), &err);
  assert_non_null(p);
  char *y = telem_policy_to_yaml(p);
  assert_non_null(y);
  TelemPolicy *q = telem_policy_parse("export", y, strlen(y), &err);
  if (!q) fail_msg("%s\n%s", err, y);
  assert_int_equal(telem_policy_count(q), telem_policy_count(p));
  for (int i = 0; i < telem_policy_count(p); i++) {
    TelemPolicyRuleInfo a, b;
    telem_policy_rule(p, i, &a);
    telem_policy_rule(q, i, &b);
    assert_string_equal(a.table_name, b.table_name);
    assert_string_equal(a.kind, b.kind);
    assert_true(a.days == b.days);
    assert_true((a.time_column == NULL) == (b.time_column == NULL));
    if (a.time_column) assert_string_equal(a.time_column, b.time_column);
    assert_true((a.cascade_from == NULL) == (b.cascade_from == NULL));
    if (a.cascade_from) assert_string_equal(a.cascade_from, b.cascade_from);
    assert_string_equal(a.rationale, b.rationale);
  }
  char *y2 = telem_policy_to_yaml(q);
  assert_string_equal(y, y2);
  sqlite3_free(y);
  sqlite3_free(y2);
  telem_policy_free(p);
  telem_policy_free(q);
}

/* Names YAML reads as null (null, Null, NULL) are valid identifiers: the
 * export must quote them so that parse(export(p)) keeps them. */
static void test_round_trip_null_names(void **state) {
  (void)state;
  static const char y0[] =
      "tables:\n"
      "  \"NULL\":\n"
      "    kind: days\n"
      "    days: 30\n"
      "    time_column: \"null\"\n"
      "    rationale: a table named NULL\n"
      "  child:\n"
      "    kind: cascade\n"
      "    cascade_from: \"Null\"\n"
      "    rationale: goes with it\n";
  char *err = NULL;
  TelemPolicy *p = telem_policy_parse("p.yaml", y0, strlen(y0), &err);
  if (!p) fail_msg("%s", err);
  char *y = telem_policy_to_yaml(p);
  assert_non_null(y);
  TelemPolicy *q = telem_policy_parse("export", y, strlen(y), &err);
  if (!q) fail_msg("%s\n%s", err, y);
  assert_int_equal(telem_policy_count(q), 2);
  TelemPolicyRuleInfo a, b;
  telem_policy_rule(q, 0, &a);
  telem_policy_rule(q, 1, &b);
  assert_string_equal(a.table_name, "child");
  assert_string_equal(a.cascade_from, "Null");
  assert_string_equal(b.table_name, "NULL");
  assert_string_equal(b.time_column, "null");
  sqlite3_free(y);
  telem_policy_free(p);
  telem_policy_free(q);
}

/* A rationale holding characters YAML reads as line breaks inside a
 * double-quoted scalar (U+0085, U+2028, U+2029) survives the round trip. */
static void test_round_trip_line_breaks(void **state) {
  (void)state;
  static const char y0[] =
      "tables:\n"
      "  t:\n"
      "    kind: manual\n"
      "    rationale: \"a\\Nb\\Lc\\Pd \\u0085 e\"\n";
  char *err = NULL;
  TelemPolicy *p = telem_policy_parse("p.yaml", y0, strlen(y0), &err);
  if (!p) fail_msg("%s", err);
  TelemPolicyRuleInfo a, b;
  telem_policy_rule(p, 0, &a);
  assert_string_equal(a.rationale, "a\xc2\x85" "b\xe2\x80\xa8" "c\xe2\x80\xa9" "d \xc2\x85 e");
  char *y = telem_policy_to_yaml(p);
  assert_non_null(y);
  TelemPolicy *q = telem_policy_parse("export", y, strlen(y), &err);
  if (!q) fail_msg("%s\n%s", err, y);
  telem_policy_rule(q, 0, &b);
  assert_string_equal(a.rationale, b.rationale);
  sqlite3_free(y);
  telem_policy_free(p);
  telem_policy_free(q);
}

static void test_unknown_kind(void **state) {
  (void)state;
  expect_bad("tables:\n  t:\n    kind: weekly\n    rationale: r\n", "table \"t\": kind: unknown kind",
             NULL);
  expect_bad("tables:\n  t:\n    rationale: r\n", "table \"t\": kind: is required", NULL);
}

static void test_days(void **state) {
  (void)state;
  expect_bad("tables:\n  t:\n    kind: days\n    time_column: c\n    rationale: r\n",
             "table \"t\": days: is required for kind days", NULL);
  expect_bad("tables:\n  t:\n    kind: days\n    days: 0\n    time_column: c\n    rationale: r\n",
             "table \"t\": days: must be a positive integer", NULL);
  expect_bad("tables:\n  t:\n    kind: ms_days\n    days: -3\n    time_column: c\n    rationale: r\n",
             "table \"t\": days: must be a positive integer", NULL);
  expect_bad("tables:\n  t:\n    kind: days\n    days: 1y\n    time_column: c\n    rationale: r\n",
             "table \"t\": days: must be a positive integer", NULL);
  expect_bad("tables:\n  t:\n    kind: days\n    days: 99999999999999\n    time_column: c\n"
             "    rationale: r\n",
             "table \"t\": days: must be at most", NULL);
  expect_bad("tables:\n  t:\n    kind: expires_lt_now\n    days: 3\n    time_column: c\n"
             "    rationale: r\n",
             "table \"t\": days: is not used by kind expires_lt_now", NULL);
  expect_bad("tables:\n  t:\n    kind: days\n    days: 3\n    rationale: r\n",
             "table \"t\": time_column: is required for kind days", NULL);
}

static void test_cascade(void **state) {
  (void)state;
  expect_bad("tables:\n  c:\n    kind: cascade\n    rationale: r\n",
             "table \"c\": cascade_from: is required for kind cascade", NULL);
  expect_bad("tables:\n  c:\n    kind: cascade\n    cascade_from: p\n    rationale: r\n",
             "table \"c\": cascade_from: parent table \"p\" is not in the policy", NULL);
  expect_bad("tables:\n  c:\n    kind: cascade\n    cascade_from: c\n    rationale: r\n",
             "cannot cascade from itself", NULL);
  expect_bad("tables:\n  p:\n    kind: manual\n    rationale: r\n  c:\n    kind: cascade\n"
             "    cascade_from: p\n    rationale: r\n  g:\n    kind: cascade\n"
             "    cascade_from: c\n    rationale: r\n",
             "table \"g\": cascade_from: parent table \"c\" is itself a cascade", NULL);
  expect_bad("tables:\n  c:\n    kind: cascade\n    cascade_from: p\n    time_column: t\n"
             "    rationale: r\n",
             "table \"c\": time_column: is not used by kind cascade", NULL);
  expect_bad("tables:\n  t:\n    kind: manual\n    cascade_from: p\n    rationale: r\n",
             "table \"t\": cascade_from: is only used by kind cascade", NULL);
}

static void test_identifiers(void **state) {
  (void)state;
  expect_bad("tables:\n  'x\"; DROP TABLE t; --':\n    kind: manual\n    rationale: r\n",
             "table \"x\\\"; DROP TABLE t; --\": table_name: not a valid identifier", NULL);
  expect_bad("tables:\n  t:\n    kind: days\n    days: 1\n    time_column: 'a\" OR 1=1 --'\n"
             "    rationale: r\n",
             "table \"t\": time_column: not a valid identifier", NULL);
  expect_bad("tables:\n  c:\n    kind: cascade\n    cascade_from: 'p; DROP'\n    rationale: r\n",
             "table \"c\": cascade_from: not a valid identifier", NULL);
  expect_bad("tables:\n  sqlite_master:\n    kind: manual\n    rationale: r\n",
             "table_name: not a valid identifier", NULL);
  expect_bad("tables:\n  1abc:\n    kind: manual\n    rationale: r\n",
             "table_name: not a valid identifier", NULL);
  char longname[200];
  memset(longname, 'a', 129);
  longname[129] = 0;
  char buf[400];
  snprintf(buf, sizeof buf, "tables:\n  %s:\n    kind: manual\n    rationale: r\n", longname);
  expect_bad(buf, "table_name: not a valid identifier", NULL);
  longname[128] = 0; /* 128 is fine */
  snprintf(buf, sizeof buf, "tables:\n  %s:\n    kind: manual\n    rationale: r\n", longname);
  char *err = parse_err(buf, strlen(buf));
  assert_null(err);
  assert_true(telem_policy_ident_ok("_x9"));
  assert_false(telem_policy_ident_ok(""));
  assert_false(telem_policy_ident_ok("a-b"));
  assert_false(telem_policy_ident_ok("SQLITE_stat1"));
}

static void test_structure(void **state) {
  (void)state;
  expect_bad("tables:\n  t:\n    kind: manual\n    rationale: r\n    owner: me\n",
             "table \"t\": owner: unknown field", NULL);
  { /* rationale is optional (Vox's own file has none): parsed, NULL, exported without it */
    char *err = NULL;
    const char *txt = "tables:\n  t:\n    kind: manual\n";
    TelemPolicy *p = telem_policy_parse("p.yaml", txt, strlen(txt), &err);
    assert_non_null(p);
    TelemPolicyRuleInfo info;
    assert_int_equal(telem_policy_rule(p, 0, &info), 0);
    assert_null(info.rationale);
    char *y = telem_policy_to_yaml(p);
    assert_non_null(y);
    assert_null(strstr(y, "rationale"));
    TelemPolicy *q = telem_policy_parse("export", y, strlen(y), &err);
    assert_non_null(q);
    assert_int_equal(telem_policy_count(q), 1);
    telem_policy_free(q);
    sqlite3_free(y);
    telem_policy_free(p);
  }
  expect_bad("tables:\n  t:\n    kind: manual\n    rationale: [a, b]\n",
             "table \"t\": rationale: must be a scalar", NULL);
  expect_bad("tables:\n  t: manual\n", "table \"t\": rule must be a mapping", NULL);
  expect_bad("tables: []\n", "tables: must be a mapping", NULL);
  char *e0 = parse_err("tables: {}\n", 11); /* empty is valid: nothing is pruned */
  assert_null(e0);
  expect_bad("- a\n- b\n", "top level must be a mapping", NULL);
  expect_bad("table:\n  t:\n    kind: manual\n", "table: unknown top-level key", NULL);
  expect_bad("tables:\n  t:\n    kind: manual\n  Te: [\n", "p.yaml:", NULL); /* YAML syntax */
  expect_bad("tables:\n  t:\n    kind: manual\n    rationale: r\n  T:\n    kind: manual\n"
             "    rationale: r\n",
             "table \"T\": table_name: listed twice", NULL);
}

/* The classic "billion laughs": each level doubles through aliases. */
static void test_alias_bomb(void **state) {
  (void)state;
  TelemBuf b;
  telem_buf_init(&b);
  telem_buf_puts(&b, "a0: &a0 [\"lol\", \"lol\"]\n");
  for (int i = 1; i < 30; i++)
    telem_buf_printf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d]\n", i, i, i - 1, i - 1, i - 1, i - 1);
  telem_buf_puts(&b, "tables:\n  t:\n    kind: manual\n    rationale: *a29\n");
  char *text = telem_buf_take(&b);
  assert_non_null(text);
  char *err = parse_err(text, strlen(text));
  assert_non_null(err);
  assert_non_null(strstr(err, "alias"));
  sqlite3_free(err);
  sqlite3_free(text);
}

static void test_too_big(void **state) {
  (void)state;
  size_t n = 5u << 20;
  char *text = malloc(n + 1);
  assert_non_null(text);
  memset(text, '#', n);
  memcpy(text, "tables:\n", 8);
  text[8] = '#';
  text[n] = 0;
  char *err = parse_err(text, n);
  assert_non_null(strstr(err, "larger than the 1048576 byte limit"));
  sqlite3_free(err);
  free(text);
}

static void test_not_utf8(void **state) {
  (void)state;
  const char text[] = "tables:\n  t:\n    kind: manual\n    rationale: caf\xe9 \xff\n";
  char *err = parse_err(text, sizeof text - 1);
  assert_non_null(strstr(err, "not valid UTF-8 (near byte 48)"));
  sqlite3_free(err);
  const char nul[] = "tables:\n  t:\n    kind: manual\n    rationale: a\0b\n";
  err = parse_err(nul, sizeof nul - 1);
  assert_non_null(strstr(err, "NUL byte"));
  sqlite3_free(err);
}

static void test_empty(void **state) {
  (void)state;
  char *err = parse_err("", 0);
  assert_non_null(strstr(err, "policy is empty"));
  sqlite3_free(err);
  err = parse_err(" \n# only a comment\n\t\n", 21);
  assert_non_null(strstr(err, "policy is empty"));
  sqlite3_free(err);
  err = NULL;
  assert_null(telem_policy_parse("p.yaml", NULL, 0, &err));
  assert_non_null(err);
  sqlite3_free(err);
}

/* Building a policy rule by rule, as the telem_retention table does. */
static void test_edit_api(void **state) {
  (void)state;
  TelemPolicy *p = telem_policy_new();
  assert_non_null(p);
  char *err = NULL;
  TelemPolicyRuleInfo r = {.table_name = "child", .kind = "cascade", .days = TELEM_POLICY_NO_DAYS,
                              .cascade_from = "parent", .rationale = "r"};
  assert_int_equal(telem_policy_add(p, &r, &err), 0);
  assert_int_equal(telem_policy_check(p, &err), -1);
  assert_non_null(strstr(err, "parent table \"parent\" is not in the policy"));
  sqlite3_free(err);
  err = NULL;
  TelemPolicyRuleInfo pr = {.table_name = "parent", .kind = "days", .days = 7,
                               .time_column = "at", .rationale = "r"};
  assert_int_equal(telem_policy_add(p, &pr, &err), 0);
  assert_int_equal(telem_policy_check(p, &err), 0);
  assert_int_equal(telem_policy_add(p, &pr, &err), -1); /* duplicate */
  assert_non_null(strstr(err, "listed twice"));
  sqlite3_free(err);
  err = NULL;
  pr.days = 0;
  pr.table_name = "other";
  assert_int_equal(telem_policy_rule_check(&pr, &err), -1);
  assert_string_equal(err, "table \"other\": days: must be a positive integer");
  sqlite3_free(err);
  err = NULL;
  telem_policy_remove(p, telem_policy_find(p, "parent"));
  assert_int_equal(telem_policy_count(p), 1);
  telem_policy_remove(p, 5); /* out of range: no-op */
  assert_int_equal(telem_policy_count(p), 1);
  telem_policy_free(p);
  telem_policy_free(NULL);
}

/* ---- allocation failures ------------------------------------------------- */

static int fail_after = -1; /* -1: never fail */
static void *fm_malloc(int n) {
  if (fail_after == 0) return NULL;
  if (fail_after > 0) fail_after--;
  int64_t *p = malloc((size_t)n + 8);
  if (!p) return NULL;
  p[0] = n;
  return p + 1;
}
static void fm_free(void *p) {
  if (p) free((int64_t *)p - 1);
}
static void *fm_realloc(void *p, int n) {
  if (!p) return fm_malloc(n);
  if (fail_after == 0) return NULL;
  if (fail_after > 0) fail_after--;
  int64_t *q = realloc((int64_t *)p - 1, (size_t)n + 8);
  if (!q) return NULL;
  q[0] = n;
  return q + 1;
}
static int fm_size(void *p) { return p ? (int)((int64_t *)p)[-1] : 0; }
static int fm_roundup(int n) { return (n + 7) & ~7; }
static int fm_init(void *x) { (void)x; return 0; }
static void fm_shutdown(void *x) { (void)x; }

/* Every allocation point of parsing yaml and exporting it again fails once
 * in turn (up to max_points): the result is NULL with a message, never a
 * crash or a leak (run under ASan), until a run has no failure left. */
static void parse_export_oom(const char *yaml, int max_points) {
  int parsed = 0;
  for (int k = 0; k < max_points && !parsed; k++) {
    fail_after = k;
    char *err = NULL;
    TelemPolicy *p = telem_policy_parse("p.yaml", yaml, strlen(yaml), &err);
    char *y = p ? telem_policy_to_yaml(p) : NULL;
    fail_after = -1;
    if (p && y) parsed = 1;
    sqlite3_free(y);
    telem_policy_free(p);
    sqlite3_free(err);
  }
  assert_true(parsed);
}

static void test_oom(void **state) {
  (void)state;
  parse_export_oom(good, 2000);
}


/* ---- per-type rules (issue 12): filters ------------------------------------ */

static const char filtered[] =
    "tables:\n"
    "  research_metrics:\n"
    "    - kind: days\n"
    "      days: 365\n"
    "      time_column: created_at\n"
    "    - metric_types: [\"fixture.*\", \"audit.*\", \"fixture.*\"]\n"
    "      kind: days\n"
    "      days: 90\n"
    "      time_column: created_at\n"
    "    - where: {session_id: \"it's \\\"q\\\"\", metric_value: 3}\n"
    "      metric_types: orch.subagent.dispatch\n"
    "      kind: keep_forever\n"
    "  other:\n"
    "    metric_types: [\"x*\"]\n"
    "    kind: manual\n";

static void test_filters(void **state) {
  (void)state;
  char *err = NULL;
  TelemPolicy *p = telem_policy_parse("p.yaml", filtered, strlen(filtered), &err);
  if (!p) fail_msg("%s", err);
  assert_int_equal(telem_policy_count(p), 4);
  TelemPolicyRuleInfo r;
  /* Sorted by table, then the default rule first, then by canonical filter. */
  assert_int_equal(telem_policy_rule(p, 1, &r), 0);
  assert_string_equal(r.table_name, "research_metrics");
  assert_null(r.filter);
  assert_int_equal(telem_policy_rule(p, 2, &r), 0);
  assert_string_equal(r.filter, "{\"metric_types\":[\"audit.*\",\"fixture.*\"]}");
  assert_int_equal(r.days, 90);
  assert_int_equal(telem_policy_rule(p, 3, &r), 0);
  assert_string_equal(r.filter, "{\"metric_types\":[\"orch.subagent.dispatch\"],"
                                "\"where\":{\"metric_value\":\"3\",\"session_id\":\"it's \\\"q\\\"\"}}");
  /* Found by an equivalent filter text; the default by NULL. */
  assert_int_equal(telem_policy_find_rule(p, "RESEARCH_METRICS",
                                          "{\"metric_types\":[\"fixture.*\",\"audit.*\"]}"),
                   2);
  assert_int_equal(telem_policy_find_rule(p, "research_metrics", NULL), 1);
  assert_int_equal(telem_policy_find_rule(p, "research_metrics", "{\"metric_types\":[\"z*\"]}"), -1);
  assert_int_equal(telem_policy_find(p, "research_metrics"), 1);
  /* Export and parse again: the same rules, and the same export. */
  char *y = telem_policy_to_yaml(p);
  assert_non_null(y);
  TelemPolicy *q = telem_policy_parse("export", y, strlen(y), &err);
  if (!q) fail_msg("%s\n%s", err, y);
  char *y2 = telem_policy_to_yaml(q);
  assert_string_equal(y, y2);
  for (int i = 0; i < 4; i++) {
    TelemPolicyRuleInfo a, b;
    telem_policy_rule(p, i, &a);
    telem_policy_rule(q, i, &b);
    if (a.filter || b.filter) assert_string_equal(a.filter, b.filter);
  }
  sqlite3_free(y);
  sqlite3_free(y2);
  telem_policy_free(q);
  /* The editing API: a duplicate filter and a cascade with a filter are refused. */
  TelemPolicyRuleInfo n;
  memset(&n, 0, sizeof n);
  n.table_name = "research_metrics";
  n.kind = "manual";
  n.days = TELEM_POLICY_NO_DAYS;
  n.filter = "{\"metric_types\":[\"fixture.*\",\"audit.*\"]}";
  assert_int_equal(telem_policy_add(p, &n, &err), -1);
  assert_non_null(strstr(err, "a rule with this filter is listed twice"));
  sqlite3_free(err);
  err = NULL;
  n.table_name = "child";
  n.kind = "cascade";
  n.cascade_from = "research_metrics";
  n.filter = "{\"where\":{\"a\":\"b\"}}";
  assert_int_equal(telem_policy_add(p, &n, &err), -1);
  assert_non_null(strstr(err, "filter: not used by kind cascade"));
  sqlite3_free(err);
  err = NULL;
  telem_policy_free(p);

  expect_bad("tables:\n  t:\n    - {metric_types: [\"\"], kind: manual}\n",
             "p.yaml:3: table \"t\": metric_types: glob 1: is empty", NULL);
  expect_bad("tables:\n  t:\n    - {metric_types: [\"**\"], kind: manual}\n",
             "metric_types: glob 1: not a metric type glob", NULL);
  expect_bad("tables:\n  t:\n    - {metric_types: [\"a?\"], kind: manual}\n",
             "metric_types: glob 1: not a metric type glob", NULL);
  expect_bad("tables:\n  t:\n    - {metric_types: {a: b}, kind: manual}\n",
             "metric_types: must be a list of globs", NULL);
  expect_bad("tables:\n  t:\n    - {where: [a], kind: manual}\n",
             "where: must be a mapping of column to value", NULL);
  expect_bad("tables:\n  t:\n    - {where: {\"x y\": 1}, kind: manual}\n",
             "where: column 1: not a valid identifier", NULL);
  expect_bad("tables:\n  t:\n    - {where: {a: 1, A: 2}, kind: manual}\n",
             "where: column \"", "listed twice");
  expect_bad("tables:\n  t:\n    - {where: {a: \"x\\ny\"}, kind: manual}\n",
             "without control characters", NULL);
  expect_bad("tables:\n  t:\n    - {kind: manual}\n    - {kind: keep_forever}\n",
             "table_name: listed twice", NULL);
  expect_bad("tables:\n  t:\n    - {metric_types: [a*], kind: manual}\n"
             "    - {kind: cascade, cascade_from: u}\n"
             "  u: {kind: manual}\n",
             "a cascade table has one rule only", NULL);
  /* Not SQL, whatever it looks like. */
  assert_null(telem_policy_filter_canonical("t", "metric_type = 'x' OR 1=1", &err));
  assert_non_null(strstr(err, "filter: not valid JSON"));
  sqlite3_free(err);
  err = NULL;
  assert_null(telem_policy_filter_canonical("t", "{\"sql\":\"1=1\"}", &err));
  assert_non_null(strstr(err, "filter: unknown key"));
  sqlite3_free(err);
}

static void test_filters_oom(void **state) {
  (void)state;
  parse_export_oom(filtered, 4000);
}


/* ---- files through telem_policy_import (ext/sql/retention.c) ---------------- */

/* Runs one-value SQL on db; returns the text result or the error message
 * (sqlite3 memory). */
static char *sql1(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  char *out = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    out = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
  else
    out = sqlite3_mprintf("%s", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return out;
}

/* Writes n bytes of text to a new temporary file; returns its path (static). */
static const char *tmp_file(const char *text, size_t n) {
  static char path[64];
  snprintf(path, sizeof path, "/tmp/test_policy_XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  size_t done = 0;
  while (done < n) {
    ssize_t w = write(fd, text + done, n - done);
    assert_true(w > 0);
    done += (size_t)w;
  }
  close(fd);
  return path;
}

static void expect_sql(sqlite3 *db, const char *sql, const char *want) {
  char *got = sql1(db, sql);
  if (!got || !strstr(got, want)) fail_msg("%s\n  got:  %s\n  want: %s", sql, got, want);
  sqlite3_free(got);
}

static void test_import_files(void **state) {
  (void)state;
  sqlite3 *db = NULL;
  char *err = NULL;
  assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
  if (sqlite3_voxtelem_init(db, &err, NULL) != SQLITE_OK) fail_msg("%s", err);
  expect_sql(db, "SELECT rules FROM telem_policy_import('/nonexistent-dir/policy.yaml')",
             "telem_policy_import: /nonexistent-dir/policy.yaml: missing file (No such file");
  expect_sql(db, "SELECT rules FROM telem_policy_import('/tmp')", "telem_policy_import: /tmp: is a directory");
  const char *path = tmp_file("", 0);
  char *q = sqlite3_mprintf("SELECT rules FROM telem_policy_import('%q')", path);
  expect_sql(db, q, "policy is empty");
  sqlite3_free(q);
  unlink(path);
  size_t big = 5u << 20;
  char *text = malloc(big);
  assert_non_null(text);
  memset(text, '#', big);
  path = tmp_file(text, big);
  free(text);
  q = sqlite3_mprintf("SELECT rules FROM telem_policy_import('%q')", path);
  expect_sql(db, q, "file larger than 1048576 bytes");
  sqlite3_free(q);
  unlink(path);
  /* nothing was written by the failures */
  expect_sql(db, "SELECT count(*) FROM sqlite_master WHERE name = 'telem_retention_policy'", "0");
  path = tmp_file(good, strlen(good));
  q = sqlite3_mprintf("SELECT rules FROM telem_policy_import('%q')", path);
  expect_sql(db, q, "7");
  sqlite3_free(q);
  unlink(path);
  expect_sql(db, "SELECT group_concat(DISTINCT source) FROM telem_retention", "database");
  expect_sql(db, "SELECT rules FROM telem_policy_import(telem_policy_yaml())", "7");
  sqlite3_close(db);
}

/* Regression (fuzz_policy): a rationale holding characters that YAML folds
 * or refuses inside double quotes (NEL, LS, PS, DEL, C1 controls, BOM) must
 * export to YAML that imports back to the same bytes. */
static void test_export_escapes_yaml_line_breaks(void **state) {
  (void)state;
  const char *yaml =
      "tables:\n"
      "  t:\n"
      "    kind: keep_forever\n"
      "    rationale: \"a\\Nb\\Lc\\Pd\\x7Fe\\x9Ff\\uFEFFg\\th\\\\i\\\"j\\uFFFFk\\uFFFEl\"\n";
  char *err = NULL;
  TelemPolicy *p = telem_policy_parse("p.yaml", yaml, strlen(yaml), &err);
  assert_non_null(p);
  TelemPolicyRuleInfo a, b;
  telem_policy_rule(p, 0, &a);
  assert_string_equal(a.rationale, "a\xC2\x85" "b\xE2\x80\xA8" "c\xE2\x80\xA9" "d\x7F" "e\xC2\x9F" "f\xEF\xBB\xBF" "g\th\\i\"j" "\xEF\xBF\xBF" "k" "\xEF\xBF\xBE" "l");
  char *out = telem_policy_to_yaml(p);
  assert_non_null(out);
  TelemPolicy *q = telem_policy_parse("export", out, strlen(out), &err);
  if (!q) fail_msg("export does not import: %s\n%s", err, out);
  telem_policy_rule(q, 0, &b);
  assert_string_equal(a.rationale, b.rationale);
  sqlite3_free(out);
  telem_policy_free(q);
  telem_policy_free(p);
}

int main(void) {
  static const sqlite3_mem_methods mm = {fm_malloc, fm_free,  fm_realloc, fm_size,
                                         fm_roundup, fm_init, fm_shutdown, NULL};
  /* A test process may install its own allocator (the extension never does). */
  sqlite3_config(SQLITE_CONFIG_MALLOC, &mm);
  sqlite3_initialize();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_export_escapes_yaml_line_breaks),
      cmocka_unit_test(test_good_policy), cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_unknown_kind), cmocka_unit_test(test_days),
      cmocka_unit_test(test_cascade),      cmocka_unit_test(test_identifiers),
      cmocka_unit_test(test_structure),    cmocka_unit_test(test_alias_bomb),
      cmocka_unit_test(test_too_big),      cmocka_unit_test(test_not_utf8),
      cmocka_unit_test(test_empty),        cmocka_unit_test(test_edit_api),
      cmocka_unit_test(test_oom),          cmocka_unit_test(test_import_files),
      cmocka_unit_test(test_filters),      cmocka_unit_test(test_filters_oom),
      cmocka_unit_test(test_round_trip_null_names),
      cmocka_unit_test(test_round_trip_line_breaks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
