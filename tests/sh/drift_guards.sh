#!/usr/bin/env bash
# Each drift guard of tools/check_drift.py passes on the repository and fails,
# naming the difference, on a deliberately broken copy.
set -uo pipefail
SO=${VOXTELEM_SO:?}
PYTHON=/usr/bin/python3
root=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fresh() { rm -rf "$tmp/copy"; mkdir -p "$tmp/copy"; cp -r "$root/contracts" "$root/docs" "$root/ext" "$tmp/copy/"; }
run() { $PYTHON "$root/tools/check_drift.py" --root "$tmp/copy" --so "$SO" > "$tmp/out" 2>&1; }
fails=0
expect_fail() { # guard, expected text
  if run; then echo "FAIL: guard $1 passed on a broken copy"; fails=$((fails+1)); return; fi
  if ! grep -q "^FAIL $1:" "$tmp/out" || ! grep -qF -- "$2" "$tmp/out"; then
    echo "FAIL: guard $1 did not report \"$2\":"; cat "$tmp/out"; fails=$((fails+1)); return
  fi
  echo "ok   guard $1 fails on: $2"
}

fresh
if ! run; then echo "the pristine copy does not pass:"; cat "$tmp/out"; exit 1; fi
echo "ok   pristine copy passes"

# catalog: an entry the .so does not register, and one it registers that is missing
fresh; sed -i 's/- name: telem_column_class/- name: telem_column_klass/' "$tmp/copy/contracts/operations/catalog.yaml"
expect_fail catalog "function telem_column_class is registered by the .so but not in catalog.yaml"
fresh; sed -i '0,/    args: \[2\]/s//    args: [2, 3]/' "$tmp/copy/contracts/operations/catalog.yaml"
expect_fail catalog "function telem_column_class: catalog says argument counts [2, 3], the .so accepts [2]"

# index: a stray contract file, and an index entry whose file is gone
fresh; echo '{}' > "$tmp/copy/contracts/telemetry/usage-event-x.schema.json"
expect_fail index "contracts/telemetry/usage-event-x.schema.json is not registered in contracts/index.yaml"
fresh; rm "$tmp/copy/contracts/telemetry/syntax-k-event.schema.json"
expect_fail index "syntax-k-event.schema.json"

# schemas: a schema that is not valid against its meta-schema
fresh; sed -i 's/"minLength": 1, "maxLength": 512/"minLength": -1, "maxLength": 512/' "$tmp/copy/contracts/telemetry/research-metrics-row.schema.json"
expect_fail schemas "research-metrics-row.schema.json is not a valid meta.draft2020-12 schema at '/properties/session_id/minLength'"

# taxonomy: a metric type missing from the docs, and one only in the docs
fresh; sed -i '/^| `orch.risk.score` /d' "$tmp/copy/docs/architecture/taxonomy.md"
expect_fail taxonomy "metric type orch.risk.score is in the taxonomy but not in docs/architecture/taxonomy.md"
fresh; echo '| `ghost.metric` | ghost | S0 | UsageTelemetry | local_only |  |  |' >> "$tmp/copy/docs/architecture/taxonomy.md"
sed -i 's/^| `build.summary` | build | S0 |/| `build.summary` | build | S1 |/' "$tmp/copy/docs/architecture/taxonomy.md"
expect_fail taxonomy "metric type build.summary: class is 'S0' in the taxonomy but 'S1' in the docs"

# retention: a rule without rationale, and a docs table that disagrees
fresh; $PYTHON - "$tmp/copy/contracts/db/retention-policy.yaml" <<'PY'
import sys, yaml
path = sys.argv[1]
policy = yaml.safe_load(open(path))
policy["tables"]["research_metrics"]["rationale"] = " "
open(path, "w").write(yaml.safe_dump(policy, sort_keys=False))
PY
expect_fail retention "has no rationale"
fresh; sed -i 's/^| `research_metrics` | `days` | 365 |/| `research_metrics` | `days` | 90 |/' "$tmp/copy/docs/architecture/retention-and-sensitivity.md"
expect_fail retention "retention table research_metrics: days is '365' in the policy but '90' in the docs"

# sensitivity: a column whose class changed in the contract but not in the docs
fresh; sed -i 's/^    branch: S2$/    branch: S1/' "$tmp/copy/contracts/db/column-sensitivity.yaml"
expect_fail sensitivity "column ci_completion_run.branch is S1 in column-sensitivity.yaml but not listed as S1 in the docs"

# sqldocs: a catalog entry without its section
fresh; sed -i 's/^## telem_column_class$/## telem_column_klass/' "$tmp/copy/docs/reference/sql.md"
expect_fail sqldocs "catalog entry telem_column_class: docs/reference/sql.md has no section '## telem_column_class'"

# regtables: a registration table that disagrees with the catalog, and a
# feature the entry point does not walk
fresh; sed -i 's/{"telem_column_class", 2, 2,/{"telem_column_class", 2, 3,/' "$tmp/copy/ext/sql/contracts.c"
expect_fail regtables "telem_column_class takes 2..3 arguments, catalog.yaml says [2]"
fresh; sed -i '/&telem_feature_classify,/d; s/&telem_feature_classify//' "$tmp/copy/ext/voxtelem.c"
expect_fail regtables "telem_feature_classify is not in the features[] of ext/voxtelem.c"

# layers: an engine that prepares a statement or includes the SQL side
fresh; printf 'static int f(sqlite3 *db) { return sqlite3_exec(db, "", 0, 0, 0); }\n' >> "$tmp/copy/ext/engine/policy.c"
expect_fail layers "ext/engine/policy.c uses sqlite3_exec: engines must not touch a database"
fresh; sed -i '0,/#include "core\/yaml.h"/s//#include "sql\/sql.h"/' "$tmp/copy/ext/engine/policy.c"
expect_fail layers "ext/engine/policy.c includes sql/sql.h, a header of the SQL side"

[ $fails -eq 0 ] || { echo "$fails guard test(s) failed"; exit 1; }
echo "all drift guards fail on their broken copies"
