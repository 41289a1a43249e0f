#!/usr/bin/env bash
# bench/validate.sh -- telem_validate() against json_valid() on the same rows.
#
# 200,000 rows of ~400-byte valid context-lifecycle events (the contract
# context-lifecycle-tracing: patterns, enum, if/then, dependentRequired,
# unevaluatedProperties) in one table.  Times
#   SELECT count(*) FROM t WHERE json_valid(j)
#   SELECT count(*) FROM t WHERE telem_validate(j, 'context-lifecycle-tracing')
# in the same run (best of 5 each, page cache warm; CPU time, user + sys,
# so that other load on the machine does not skew the ratio) and prints
# the ratio (target <= 1.5x) and rows/s.  Also reports the process's peak RSS after a
# scan of 4x the rows, to show memory stays flat.
set -euo pipefail
SO=${VOXTELEM_SO:-$PWD/voxtelem.so}
SQLITE3=${SQLITE3:-sqlite3}
ROWS=${BENCH_ROWS:-200000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
db=$dir/bench.db

$SQLITE3 -batch "$db" <<SQL
CREATE TABLE t(id INTEGER PRIMARY KEY, j TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS)
INSERT INTO t(j) SELECT printf(
  '{"trace_id":"%016x%016x","span_id":"%016x","parent_span_id":"%016x",'
  || '"context_id":"session-%08d/agent-planner/conversation-main/context-window-%06d-%s",'
  || '"phase":"%s","tokens_before":%d,"tokens_after":%d,"duration_ms":%d.%03d,'
  || '"reason":"budget pressure after tool output %d in the planner loop"}',
  i * 7919, i * 104729, i * 31337, i * 65537, i, i % 1000, 'abcdefghijklmnopqrstuvwxyz0123456789',
  CASE i % 3 WHEN 0 THEN 'compacted' WHEN 1 THEN 'extended' ELSE 'restored' END,
  100000 + i % 5000, 40000 + i % 3000, i % 900, i % 1000, i % 97)
FROM n;
SQL

avg=$($SQLITE3 -batch "$db" "SELECT avg(length(j)) FROM t")
run() { # $1 = WHERE clause; prints the best CPU time (user + sys) of 5 runs
  $SQLITE3 -batch -cmd ".load $SO" "$db" <<SQL | awk '/^Run Time/ {print $6 + $8}' | sort -g | head -1
.timer on
SELECT count(*) FROM t WHERE $1;
SELECT count(*) FROM t WHERE $1;
SELECT count(*) FROM t WHERE $1;
SELECT count(*) FROM t WHERE $1;
SELECT count(*) FROM t WHERE $1;
SQL
}
valid=$($SQLITE3 -batch -cmd ".load $SO" "$db" \
  "SELECT count(*) FROM t WHERE telem_validate(j, 'context-lifecycle-tracing')")
[ "$valid" = "$ROWS" ] || { echo "bench: only $valid of $ROWS rows validate"; exit 1; }

# The same contract as inline schema text: compiled once per statement too.
inline=$(sed "s/'/''/g" contracts/telemetry/context-lifecycle-tracing.schema.json | tr -d '\n')

base=$(run "json_valid(j)")
tv=$(run "telem_validate(j, 'context-lifecycle-tracing')")
ti=$(run "telem_validate(j, '$inline')")
awk -v b="$base" -v t="$tv" -v i="$ti" -v n="$ROWS" -v a="$avg" 'BEGIN {
  printf "rows: %d, avg %.0f bytes\n", n, a
  printf "json_valid(j):                %.3f s  %8.0f rows/s\n", b, n / b
  printf "telem_validate(j, id):        %.3f s  %8.0f rows/s\n", t, n / t
  printf "telem_validate(j, inline):    %.3f s  %8.0f rows/s\n", i, n / i
  printf "ratio telem_validate / json_valid: %.2fx (target <= 1.5x)\n", t / b
}'

# Memory stays flat: the same scan over 4x the rows should not grow the heap.
rss() {
  /usr/bin/time -f '%M' $SQLITE3 -batch -cmd ".load $SO" "$db" \
    "SELECT count(*) FROM (SELECT j FROM t $1) WHERE telem_validate(j, 'context-lifecycle-tracing')" \
    2>&1 >/dev/null | tail -1
}
if [ -x /usr/bin/time ]; then
  r1=$(rss "LIMIT 50000")
  r4=$(rss "")
  echo "peak RSS: ${r1} KiB after 50,000 rows, ${r4} KiB after $ROWS rows"
fi
