#!/usr/bin/env bash
# Outside truth: a database made from Vox's DDL (sql/schema/) holding rows
# shaped as Vox's producers write them (tools/vox_rows.py, which names the
# producer file of each shape), plus rows Vox's validate_research_metric_row
# refuses.  telem_metric_problem must report nothing on every accepted row
# and exactly the expected problem on every refused one; the audit view must
# list exactly the refused rows as contract problems.
# When the Vox mirror is present (VOXTELEM_VOX_GIT, a bare git dir of
# vox-foundation/vox), the class of every METRIC_TYPE_* in Vox's types.rs
# doc comments (its first class; a range "S1–S2" counts as its higher
# class; else the class of its section header) must be the class
# telem_classify gives the metric type.
set -euo pipefail
SO=${VOXTELEM_SO:?}
SQLITE3=${SQLITE3:-sqlite3}
VOX_GIT=${VOXTELEM_VOX_GIT:-/work/.mirror/vox-foundation+vox/repo}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

db=$tmp/vox.db
$SQLITE3 -batch "$db" ".read sql/schema/research_metrics.sql" ".read sql/schema/ci_completion.sql"
/usr/bin/python3 tools/vox_rows.py --rows 3000 --seed 11 > "$tmp/rows.sql"
$SQLITE3 -batch "$db" < "$tmp/rows.sql"

read -r total accepted refused < <($SQLITE3 -batch -separator ' ' "$db" \
  "SELECT count(*), sum(accepted), sum(NOT accepted) FROM vox_expect")
[ "$total" -ge 3000 ] || fail "only $total rows generated"
out=$($SQLITE3 -batch -separator ' ' -cmd ".load $SO" "$db" "
  SELECT sum(e.accepted AND p IS NULL), sum(e.accepted AND p IS NOT NULL),
         sum(NOT e.accepted AND p IS e.problem), sum(NOT e.accepted AND p IS NOT e.problem)
  FROM (SELECT id, telem_metric_problem(session_id, metric_type, metric_value, metadata_json) AS p
        FROM research_metrics) m JOIN vox_expect e USING (id)")
read -r ok_acc bad_acc ok_ref bad_ref <<<"$out"
echo "rows: $total ($accepted Vox accepts, $refused Vox refuses)"
echo "accepted rows without a problem: $ok_acc; with one: $bad_acc"
echo "refused rows with the right problem: $ok_ref; otherwise: $bad_ref"
if [ "$bad_acc" != 0 ] || [ "$bad_ref" != 0 ]; then
  $SQLITE3 -batch -cmd ".load $SO" "$db" "
    SELECT e.id, m.metric_type, e.problem, telem_metric_problem(m.session_id, m.metric_type, m.metric_value, m.metadata_json)
    FROM research_metrics m JOIN vox_expect e USING (id)
    WHERE telem_metric_problem(m.session_id, m.metric_type, m.metric_value, m.metadata_json) IS NOT e.problem LIMIT 10"
  fail "telem_metric_problem disagrees with Vox on $((bad_acc + bad_ref)) rows"
fi
[ "$ok_acc" = "$accepted" ] && [ "$ok_ref" = "$refused" ] || fail "counts do not add up"

# every metric type the generator wrote is in the taxonomy (fail closed only for unknown types)
unknown=$($SQLITE3 -batch -cmd ".load $SO" "$db" "
  SELECT group_concat(DISTINCT m.metric_type) FROM research_metrics m JOIN vox_expect e USING (id)
  WHERE e.accepted AND m.metric_type NOT IN (SELECT metric_type FROM telem_taxonomy)")
[ -z "$unknown" ] || fail "metric types Vox writes but the taxonomy lacks: $unknown"
covered=$($SQLITE3 -batch -separator ' ' -cmd ".load $SO" "$db" "
  SELECT count(DISTINCT m.metric_type), count(DISTINCT CASE WHEN t.schema_id IS NOT NULL THEN m.metric_type END)
  FROM research_metrics m JOIN vox_expect e USING (id) JOIN telem_taxonomy t USING (metric_type) WHERE e.accepted")
echo "metric types written: $covered (all, with a payload schema)"

# the audit view lists exactly the refused rows as contract problems
audit=$($SQLITE3 -batch -cmd ".load $SO" "$db" ".read sql/audit.sql" "
  SELECT count(*), sum(row_id IN (SELECT id FROM vox_expect WHERE NOT accepted))
  FROM telem_audit_contracts WHERE table_name = 'research_metrics'")
[ "$audit" = "$refused|$refused" ] || fail "audit lists $audit contract problems, expected $refused|$refused"
echo "audit: $refused contract problems, all refused rows"
# for the record (the key-name rules are the redaction rules' part): accepted
# rows whose payload raises them above their metric type's class
$SQLITE3 -batch -separator ' ' -cmd ".load $SO" "$db" "
  SELECT 'raised by payload:', metric_type, telem_classify(metric_type) || '->' || c, count(*)
  FROM (SELECT m.metric_type, telem_classify(m.metric_type, m.metadata_json) AS c
        FROM research_metrics m JOIN vox_expect e USING (id) WHERE e.accepted)
  WHERE c > telem_classify(metric_type) GROUP BY 2, 3 ORDER BY 2"

# classification per metric type, against Vox's own doc comments
if ! git --git-dir="$VOX_GIT" rev-parse -q --verify HEAD >/dev/null 2>&1; then
  echo "SKIP classes: the Vox mirror is not at $VOX_GIT (set VOXTELEM_VOX_GIT)"
  exit 0
fi
git --git-dir="$VOX_GIT" show HEAD:crates/vox-telemetry/src/types.rs > "$tmp/types.rs"
/usr/bin/python3 - "$tmp/types.rs" > "$tmp/classes.tsv" <<'PY'
import re, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
section = None
doc = []
for l in lines:
    s = l.strip()
    if s.startswith("// ──") or s.startswith("// Sensitivity"):
        m = re.findall(r"S([0-3])", s)
        section = max(m) if m else None
        if "Sensitivity" in s and not m:
            section = None
    if s.startswith("///"):
        doc.append(s)
        continue
    m = re.match(r'pub const METRIC_TYPE_[A-Z0-9_]+: &str = "([^"]+)";', s)
    if m:
        text = " ".join(doc)
        rng = re.search(r"\bS([0-3])\s*[–-]\s*S([0-3])\b", text)   # "S1–S2": the higher one
        first = re.search(r"\bS([0-3])\b", text)                      # "S1 (payload may reach S2)": S1
        cls = max(rng.groups()) if rng else first.group(1) if first else section
        print(f"{m.group(1)}\t{'S' + cls if cls else ''}")
    if not s.startswith("///"):
        doc = []
PY
n=$(wc -l < "$tmp/classes.tsv")
[ "$n" = 42 ] || fail "Vox's types.rs has $n METRIC_TYPE_* constants, expected 42"
same=0; differ=0; noclass=0
while IFS=$'\t' read -r mt cls; do
  got=$($SQLITE3 -batch -cmd ".load $SO" :memory: "SELECT telem_classify('$mt')")
  if [ -z "$cls" ]; then noclass=$((noclass + 1)); echo "  $mt: Vox gives no class in types.rs; taxonomy $got"
  elif [ "$got" = "$cls" ]; then same=$((same + 1))
  else differ=$((differ + 1)); echo "  $mt: Vox $cls, telem_classify $got"; fi
done < "$tmp/classes.tsv"
echo "classes: $same of 42 metric types as Vox classes them, $differ differ, $noclass without a class in Vox's comments"
[ "$differ" = 0 ] || fail "$differ metric types are classed differently from Vox"
