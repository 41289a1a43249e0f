#!/usr/bin/env bash
# The engines are usable from C without SQL: install into a temporary prefix,
# then compile and run a program against include/voxtelem.h and libvoxtelem.a
# through pkg-config, as a C user would.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make -s install PREFIX="$tmp/prefix" >/dev/null
cat > "$tmp/use.c" <<'C'
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <voxtelem.h>

int main(void) {
  char *err = NULL;
  /* JSON Schema: compile once, validate, iterate the errors. */
  TelemSchemaSet *set = telem_schema_set_new(TELEM_DRAFT_2020_12);
  const char *defs = "{\"$id\":\"https://example.com/defs.json\",\"$defs\":{\"ms\":{\"type\":\"number\",\"minimum\":0}}}";
  if (telem_schema_set_add(set, NULL, defs, strlen(defs), &err)) { printf("add: %s\n", err); return 1; }
  const char *schema = "{\"type\":\"object\",\"required\":[\"ms\"],"
                       "\"properties\":{\"ms\":{\"$ref\":\"https://example.com/defs.json#/$defs/ms\"}}}";
  TelemSchema *s = telem_schema_compile(set, schema, strlen(schema), &err);
  if (!s) { printf("compile: %s\n", err); return 1; }
  if (telem_schema_validate(s, "{\"ms\":1.5}", 10, &err) != 1) return 1;
  TelemSchemaErrors *e = telem_schema_validate_errors(s, "{\"ms\":-1}", 9, &err);
  if (!e || telem_schema_errors_count(e) != 1) return 1;
  const TelemSchemaError *x = telem_schema_errors_get(e, 0);
  printf("schema: %s %s %s\n", x->instance_path, x->keyword, x->message);
  telem_schema_errors_free(e);
  telem_schema_free(s);
  telem_schema_set_free(set);

  /* Redactor from a rules file of our own. */
  const char *rules =
      "value_patterns:\n"
      "  - id: email\n"
      "    class: S3\n"
      "    action: replace\n"
      "    pattern: '[a-z]+@[a-z]+\\.com'\n"
      "profiles:\n"
      "  default: {}\n";
  TelemRedactor *r = telem_redactor_new(rules, strlen(rules), &err);
  if (!r) { printf("redactor: %s\n", err); return 1; }
  char *out = NULL;
  size_t n = 0;
  if (telem_redactor_redact(r, NULL, "{\"to\":\"bob@example.com\"}", 24, &out, &n, &err)) return 1;
  printf("redact: %s\n", out);
  sqlite3_free(out);
  telem_redactor_free(r);

  /* Retention policy: parse, iterate, export. */
  const char *yaml = "tables:\n  events:\n    kind: days\n    days: 30\n    time_column: created_at\n    rationale: a month\n";
  TelemPolicy *p = telem_policy_parse("p.yaml", yaml, strlen(yaml), &err);
  if (!p) { printf("policy: %s\n", err); return 1; }
  TelemPolicyRuleInfo ri;
  telem_policy_rule(p, 0, &ri);
  printf("policy: %s %s %lld\n", ri.table_name, ri.kind, ri.days);
  telem_policy_free(p);
  return 0;
}
C
PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" cc -std=c11 -o "$tmp/use" "$tmp/use.c" \
  $(PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" pkg-config --cflags --static --libs voxtelem)
out=$("$tmp/use")
echo "$out"
grep -q '^schema: /ms minimum ' <<<"$out"
grep -q '^redact: {"to":"\[REDACTED:email\]"}$' <<<"$out"
grep -q '^policy: events days 30$' <<<"$out"
