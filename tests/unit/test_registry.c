/* test_registry.c -- YAML loading and the contracts registry, good and broken. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *INDEX =
    "contracts:\n"
    "  - id: telemetry.taxonomy\n"
    "    path: telemetry/taxonomy.yaml\n"
    "    kind: taxonomy\n"
    "    owner: t\n"
    "    description: d\n"
    "    enforced_by: e\n"
    "  - id: db.columns\n"
    "    path: db/cols.yaml\n"
    "    kind: column-sensitivity\n"
    "    owner: t\n"
    "    description: d\n"
    "    enforced_by: e\n"
    "  - id: ev\n"
    "    path: ev.schema.json\n"
    "    kind: json-schema\n"
    "    owner: t\n"
    "    description: d\n"
    "    enforced_by: e\n";

static const char *TAXONOMY =
    "metric_types:\n"
    "  - metric_type: a.b\n"
    "    family: f\n"
    "    sensitivity: S1\n"
    "    plane: UsageTelemetry\n"
    "    transmission: local_only\n"
    "    session_prefix: \"x:\"\n"
    "    schema: ev\n"
    "    owner: o\n"
    "    description: d\n";

static const char *COLS = "tables:\n  t:\n    c: S2\n    d: S0\n";
static const char *SCHEMA = "{\"type\": \"object\"}";

static char *load_err(const char *index, const char *taxonomy, const char *cols,
                      const char *schema) {
  const char *pairs[] = {"index.yaml", index, "telemetry/taxonomy.yaml", taxonomy,
                         "db/cols.yaml", cols, "ev.schema.json", schema, NULL, NULL};
  char *err = NULL;
  TelemRegistry *r = unit_registry(&err, pairs);
  if (r) {
    telem_registry_unref(r);
    sqlite3_free(err);
    return NULL;
  }
  assert_non_null(err);
  return err;
}

static void assert_load_fails(const char *index, const char *taxonomy, const char *cols,
                              const char *schema, const char *expected) {
  char *err = load_err(index, taxonomy, cols, schema);
  if (!err) fail_msg("expected failure \"%s\", but it loaded", expected);
  if (!strstr(err, expected)) fail_msg("expected \"%s\" in \"%s\"", expected, err);
  sqlite3_free(err);
}

static char *replace(const char *s, const char *from, const char *to) {
  const char *at = strstr(s, from);
  assert_non_null(at);
  size_t n = strlen(s) - strlen(from) + strlen(to) + 1;
  char *out = malloc(n);
  snprintf(out, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
  return out;
}

static void test_good_registry(void **state) {
  (void)state;
  const char *pairs[] = {"index.yaml", INDEX, "telemetry/taxonomy.yaml", TAXONOMY,
                         "db/cols.yaml", COLS, "ev.schema.json", SCHEMA, NULL, NULL};
  char *err = NULL;
  TelemRegistry *r = unit_registry(&err, pairs);
  assert_non_null(r);
  assert_int_equal(r->n_contracts, 3);
  assert_int_equal(r->n_taxonomy, 1);
  assert_string_equal(telem_registry_metric(r, "a.b")->schema_id, "ev");
  assert_string_equal(telem_registry_metric(r, "a.b")->session_prefix, "x:");
  assert_null(telem_registry_metric(r, "nope"));
  assert_string_equal(telem_registry_column_class(r, "t", "c"), "S2");
  assert_null(telem_registry_column_class(r, "t", "zz"));
  assert_string_equal(telem_registry_file_by_id(r, "ev")->data, SCHEMA);
  assert_non_null(telem_registry_file_by_kind(r, "taxonomy"));
  assert_null(telem_registry_file_by_kind(r, "retention-policy"));
  telem_registry_unref(r);
}

static void test_embedded_registry_loads(void **state) {
  (void)state;
  char *err = NULL;
  TelemRegistry *r = telem_registry_embedded(&err);
  if (!r) fail_msg("embedded contracts do not load: %s", err);
  assert_string_equal(r->source, "embedded");
  assert_int_equal(r->n_taxonomy, 42); /* Vox's METRIC_TYPE_* */
  assert_string_equal(telem_registry_metric(r, "memory_hybrid_fusion")->sensitivity, "S2");
  assert_string_equal(telem_registry_column_class(r, "ci_completion_run", "repository_id"), "S2");
  assert_string_equal(telem_registry_column_class(r, "ci_completion_detector_snapshot", "detector_id"), "S1");
  telem_registry_unref(r);
}

static void test_broken_index(void **state) {
  (void)state;
  char *s;
  assert_load_fails("contracts: [", TAXONOMY, COLS, SCHEMA, "index.yaml:2:1: did not find expected node content");
  s = replace(INDEX, "id: ev", "id: Ev_Bad");
  assert_load_fails(s, TAXONOMY, COLS, SCHEMA, "index.yaml:14: id \"Ev_Bad\" does not match");
  free(s);
  s = replace(INDEX, "id: ev", "id: db.columns");
  assert_load_fails(s, TAXONOMY, COLS, SCHEMA, "index.yaml:14: duplicate id \"db.columns\"");
  free(s);
  s = replace(INDEX, "kind: json-schema", "kind: spreadsheet");
  assert_load_fails(s, TAXONOMY, COLS, SCHEMA, "unknown kind \"spreadsheet\"");
  free(s);
  s = replace(INDEX, "path: ev.schema.json", "path: nothere.json");
  assert_load_fails(s, TAXONOMY, COLS, SCHEMA, "index.yaml:14: missing file \"nothere.json\"");
  free(s);
  s = replace(INDEX, "path: ev.schema.json", "path: ../../etc/passwd");
  assert_load_fails(s, TAXONOMY, COLS, SCHEMA, "must be relative");
  free(s);
  s = replace(INDEX, "    owner: t\n    description: d\n    enforced_by: e\n  - id: ev",
              "    description: d\n    enforced_by: e\n  - id: ev");
  assert_load_fails(s, TAXONOMY, COLS, SCHEMA, "missing field \"owner\"");
  free(s);
  s = replace(INDEX, "    owner: t\n", "    owner: t\n    colour: red\n");
  assert_load_fails(s, TAXONOMY, COLS, SCHEMA, "unknown field \"colour\"");
  free(s);
}

static void test_broken_contract_files(void **state) {
  (void)state;
  char *s;
  assert_load_fails(INDEX, "metric_types:\n  - metric_type: [\n", COLS, SCHEMA,
                    "telemetry/taxonomy.yaml:");
  s = replace(TAXONOMY, "sensitivity: S1", "sensitivity: S9");
  assert_load_fails(INDEX, s, COLS, SCHEMA, "telemetry/taxonomy.yaml:2: sensitivity \"S9\"");
  free(s);
  s = replace(TAXONOMY, "schema: ev", "schema: db.columns");
  assert_load_fails(INDEX, s, COLS, SCHEMA, "is not a json-schema contract");
  free(s);
  s = replace(TAXONOMY, "plane: UsageTelemetry", "plane: Somewhere");
  assert_load_fails(INDEX, s, COLS, SCHEMA, "unknown plane");
  free(s);
  s = replace(TAXONOMY, "metric_type: a.b", "metric_type: \"a b\"");
  assert_load_fails(INDEX, s, COLS, SCHEMA, "must be 1..128 of");
  free(s);
  assert_load_fails(INDEX, TAXONOMY, "tables:\n  t:\n    c: secret\n", SCHEMA, "db/cols.yaml:3: class of t.c");
  assert_load_fails(INDEX, TAXONOMY, COLS, "{\"type\": ", "ev.schema.json:1:");
  assert_load_fails(INDEX, TAXONOMY, COLS, "[1]", "must be an object or a boolean");
}

/* A second taxonomy contract is refused even when the first one is empty
 * (it used to replace the first table, leaking it). */
static void test_second_taxonomy_after_empty_one(void **state) {
  (void)state;
  static const char *index2 =
      "contracts:\n"
      "  - id: tax.one\n    path: one.yaml\n    kind: taxonomy\n"
      "    owner: t\n    description: d\n    enforced_by: e\n"
      "  - id: tax.two\n    path: two.yaml\n    kind: taxonomy\n"
      "    owner: t\n    description: d\n    enforced_by: e\n";
  const char *pairs[] = {"index.yaml", index2, "one.yaml", "metric_types: []\n",
                         "two.yaml", "metric_types: []\n", NULL, NULL};
  char *err = NULL;
  TelemRegistry *r = unit_registry(&err, pairs);
  if (r) {
    telem_registry_unref(r);
    fail_msg("two taxonomy contracts loaded");
  }
  assert_non_null(err);
  assert_non_null(strstr(err, "two.yaml: only one taxonomy contract is allowed"));
  sqlite3_free(err);
}

static void test_yaml_hostile_input(void **state) {
  (void)state;
  char *err = NULL;
  /* Alias bomb: each level doubles. */
  const char *bomb =
      "a: &a [x, x, x, x, x, x, x, x, x]\n"
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
      "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
      "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
  assert_null(telem_yaml_parse("bomb.yaml", bomb, strlen(bomb), &err));
  assert_non_null(strstr(err, "bomb.yaml:"));
  assert_true(strstr(err, "aliases expand too far") || strstr(err, "too many aliases"));
  sqlite3_free(err);
  err = NULL;
  const char *bad_utf8 = "a: \"\xff\xfe\"\n";
  assert_null(telem_yaml_parse("u.yaml", bad_utf8, strlen(bad_utf8), &err));
  assert_non_null(strstr(err, "u.yaml:"));
  sqlite3_free(err);
  err = NULL;
  assert_null(telem_yaml_parse("e.yaml", "", 0, &err));
  assert_non_null(strstr(err, "empty document"));
  sqlite3_free(err);
  err = NULL;
  assert_null(telem_yaml_parse("d.yaml", "a: 1\na: 2\n", 10, &err));
  assert_non_null(strstr(err, "d.yaml:2:"));
  assert_non_null(strstr(err, "duplicate key"));
  sqlite3_free(err);
  err = NULL;
  char deep[300];
  memset(deep, '[', 200);
  deep[200] = 0;
  assert_null(telem_yaml_parse("deep.yaml", deep, 200, &err));
  assert_non_null(strstr(err, "nesting too deep"));
  sqlite3_free(err);
  err = NULL;
  assert_null(telem_yaml_parse("m.yaml", "a: 1\n---\nb: 2\n", 14, &err));
  assert_non_null(strstr(err, "more than one document"));
  sqlite3_free(err);
  err = NULL;
  /* An escaped NUL would silently cut the value (or key) short for every
   * loader that reads it as a C string: refused. */
  const char *nul_value = "a: \"x\\0y\"\n";
  assert_null(telem_yaml_parse("n.yaml", nul_value, strlen(nul_value), &err));
  assert_non_null(strstr(err, "n.yaml:1:4: scalar holds a NUL byte"));
  sqlite3_free(err);
  err = NULL;
  const char *nul_key = "\"k\\0z\": 1\n";
  assert_null(telem_yaml_parse("n.yaml", nul_key, strlen(nul_key), &err));
  assert_non_null(strstr(err, "n.yaml:1:1: scalar holds a NUL byte"));
  sqlite3_free(err);
}

static void test_yaml_values_and_lines(void **state) {
  (void)state;
  char *err = NULL;
  const char *doc = "x: 1\ny: ~\nz: 'null'\nlist:\n  - &anchor {k: v}\n  - *anchor\n";
  json_t *v = telem_yaml_parse("v.yaml", doc, strlen(doc), &err);
  assert_non_null(v);
  assert_string_equal(json_string_value(json_object_get(v, "x")), "1");
  assert_true(json_is_null(json_object_get(v, "y")));
  assert_string_equal(json_string_value(json_object_get(v, "z")), "null");
  json_t *list = json_object_get(v, "list");
  assert_int_equal(json_array_size(list), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "k")), "v");
  assert_int_equal(telem_yaml_line(json_array_get(list, 0)), 5);
  json_decref(v);
}

static void test_load_dir_and_broken_dir(void **state) {
  (void)state;
  char dir[] = "/tmp/voxtelem-regXXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[512];
  snprintf(path, sizeof(path), "%s/telemetry", dir);
  mkdir(path, 0700);
  snprintf(path, sizeof(path), "%s/db", dir);
  mkdir(path, 0700);
  const char *files[][2] = {{"index.yaml", INDEX}, {"telemetry/taxonomy.yaml", TAXONOMY},
                            {"db/cols.yaml", COLS}, {"ev.schema.json", SCHEMA}};
  for (int i = 0; i < 4; i++) {
    snprintf(path, sizeof(path), "%s/%s", dir, files[i][0]);
    FILE *f = fopen(path, "w");
    fputs(files[i][1], f);
    fclose(f);
  }
  char *err = NULL;
  TelemRegistry *r = telem_registry_load_dir(dir, &err);
  assert_non_null(r);
  assert_string_equal(r->source, dir);
  telem_registry_unref(r);
  snprintf(path, sizeof(path), "%s/db/cols.yaml", dir);
  unlink(path);
  assert_null(telem_registry_load_dir(dir, &err));
  assert_non_null(strstr(err, "index.yaml:8: db/cols.yaml: missing file"));
  sqlite3_free(err);
  err = NULL;
  for (int i = 0; i < 4; i++) {
    snprintf(path, sizeof(path), "%s/%s", dir, files[i][0]);
    unlink(path);
  }
  assert_null(telem_registry_load_dir(dir, &err));
  assert_non_null(strstr(err, "/index.yaml: missing file"));
  assert_non_null(strstr(err, dir));
  sqlite3_free(err);
  snprintf(path, sizeof(path), "%s/telemetry", dir);
  rmdir(path);
  snprintf(path, sizeof(path), "%s/db", dir);
  rmdir(path);
  rmdir(dir);
}

/* Hashed taxonomy lookup (issue 18): every one of 5,000 types is found, by
 * NUL-terminated name and by length, and near misses are not. */
static void test_taxonomy_hash(void **state) {
  (void)state;
  TelemBuf t;
  telem_buf_init(&t);
  telem_buf_puts(&t, "metric_types:\n");
  for (int i = 0; i < 5000; i++)
    telem_buf_printf(&t, "  - metric_type: t.%d\n    family: f\n    sensitivity: S%d\n"
                         "    plane: UsageTelemetry\n    transmission: local_only\n"
                         "    owner: o\n    description: d\n", i, i % 4);
  char *tax = telem_buf_take(&t);
  assert_non_null(tax);
  const char *pairs[] = {"index.yaml", INDEX, "telemetry/taxonomy.yaml", tax,
                         "db/cols.yaml", COLS, "ev.schema.json", SCHEMA, NULL, NULL};
  char *err = NULL;
  TelemRegistry *r = unit_registry(&err, pairs);
  if (!r) fail_msg("%s", err);
  assert_int_equal(r->n_taxonomy, 5000);
  char name[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(name, sizeof name, "t.%d", i);
    const TelemTaxonomyRow *row = telem_registry_metric(r, name);
    assert_non_null(row);
    assert_string_equal(row->metric_type, name);
    assert_int_equal(row->sensitivity[1] - '0', i % 4);
    assert_ptr_equal(telem_registry_metric_n(r, name, strlen(name)), row);
  }
  assert_null(telem_registry_metric(r, "t.5000"));
  assert_null(telem_registry_metric(r, "t."));
  assert_null(telem_registry_metric_n(r, "t.12", 2)); /* "t." is no type */
  assert_string_equal(telem_registry_metric_n(r, "t.12", 3)->metric_type, "t.1");
  assert_non_null(telem_registry_metric_n(r, "t.12", 4));
  telem_registry_unref(r);
  sqlite3_free(tax);
  /* schema_pointer: a JSON Pointer, and only with a schema */
  char *bad = replace(TAXONOMY, "    schema: ev\n", "    schema: ev\n    schema_pointer: details\n");
  assert_load_fails(INDEX, bad, COLS, SCHEMA, "schema_pointer of \"a.b\" must be");
  free(bad);
  bad = replace(TAXONOMY, "    schema: ev\n", "    schema_pointer: /details\n");
  assert_load_fails(INDEX, bad, COLS, SCHEMA, "schema_pointer of \"a.b\" needs a schema");
  free(bad);
}

/* A directory in Vox's index format (the derived fixture under tests/data):
 * broken entries carry an error and are never found; the others load. */
static void test_foreign_dir(void **state) {
  (void)state;
  char *err = NULL;
  TelemRegistry *r = telem_registry_load_dir("tests/data/vox-contracts/contracts", &err);
  if (!r) fail_msg("%s", err);
  assert_int_equal(r->n_contracts, 9);
  int broken = 0;
  for (int i = 0; i < r->n_contracts; i++) broken += r->contracts[i].error != NULL;
  assert_int_equal(broken, 5);
  const TelemContract *c = telem_registry_contract(r, "telemetry-agentos-guardrail-deny-v1-schema");
  assert_non_null(c);
  assert_string_equal(c->path, "telemetry/agentos-guardrail-deny.v1.schema.json");
  assert_string_equal(c->enforced_by, "vox ci contracts-index, crate tests");
  assert_non_null(telem_registry_file(r, c->path));
  assert_null(telem_registry_contract(r, "telemetry-completion-run-v1-schema"));
  assert_null(telem_registry_contract(r, "rust-toolchain-policy"));
  assert_null(telem_registry_file(r, "telemetry/completion-run.v1.schema.json"));
  assert_int_equal(r->n_taxonomy, 0);
  telem_registry_unref(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good_registry),
      cmocka_unit_test(test_embedded_registry_loads),
      cmocka_unit_test(test_broken_index),
      cmocka_unit_test(test_broken_contract_files),
      cmocka_unit_test(test_second_taxonomy_after_empty_one),
      cmocka_unit_test(test_yaml_hostile_input),
      cmocka_unit_test(test_yaml_values_and_lines),
      cmocka_unit_test(test_load_dir_and_broken_dir),
      cmocka_unit_test(test_taxonomy_hash),
      cmocka_unit_test(test_foreign_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
