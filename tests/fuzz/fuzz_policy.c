/*
 * fuzz_policy.c -- libFuzzer target: the retention policy engine (and the
 * YAML loader under it) on hostile policy text.
 *
 * The input is policy YAML.  It must parse or fail with a message, never
 * crash or leak; a policy that parses must export to YAML that parses back
 * to the same rules (the telem_policy_yaml / telem_policy_import round
 * trip), and exporting that again must give the same text.
 */
#include "engine/policy.h"
#include "voxtelem.h"

#include <stdlib.h>
#include <string.h>

static int same_str(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *err = NULL;
  TelemPolicy *p = telem_policy_parse("fuzz.yaml", (const char *)data, size, &err);
  if (!p) {
    if (!err) abort(); /* a failure always says why (or is out of memory) */
    sqlite3_free(err);
    return 0;
  }
  char *y = telem_policy_to_yaml(p);
  if (!y) abort();
  TelemPolicy *q = telem_policy_parse("export", y, strlen(y), &err);
  if (!q) abort(); /* the export must import */
  if (telem_policy_count(p) != telem_policy_count(q)) abort();
  for (int i = 0; i < telem_policy_count(p); i++) {
    TelemPolicyRuleInfo a, b;
    telem_policy_rule(p, i, &a);
    telem_policy_rule(q, i, &b);
    if (!same_str(a.table_name, b.table_name) || !same_str(a.kind, b.kind) || a.days != b.days ||
        !same_str(a.time_column, b.time_column) || !same_str(a.cascade_from, b.cascade_from) ||
        !same_str(a.rationale, b.rationale) || !same_str(a.filter, b.filter))
      abort();
  }
  char *y2 = telem_policy_to_yaml(q);
  if (!y2 || strcmp(y, y2) != 0) abort();
  /* Editing: remove the first rule; the cross-rule check must answer. */
  telem_policy_remove(q, 0);
  if (telem_policy_check(q, &err)) sqlite3_free(err);
  sqlite3_free(y);
  sqlite3_free(y2);
  telem_policy_free(p);
  telem_policy_free(q);
  return 0;
}
