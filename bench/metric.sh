#!/usr/bin/env bash
# bench/metric.sh -- telem_metric_problem() by taxonomy size (issue 18, row 8).
#
# For taxonomies of 10, 100, 1,000 and 10,000 metric types (each with its
# own payload schema, as in a real taxonomy), loaded with telem_use_contracts
# from a generated contracts directory, times
#   SELECT count(*) FROM t WHERE json_valid(m)
#   SELECT count(*) FROM t WHERE telem_metric_problem(s, mt, v, m) IS NULL
# over the same 100,000 rows, best of 3, and prints the ratio to json_valid
# at each step, twice: with the rows' metric types on the last 10 types of the
# taxonomy (the lookup's cost: flagged when the ratio grows more than 2x
# over the first step's) and spread over all of them (adds the working set
# of K compiled schemas: cache misses, not a per-row walk of the types).
set -euo pipefail
SO=${VOXTELEM_SO:-$PWD/voxtelem.so}
SQLITE3=${SQLITE3:-sqlite3}
ROWS=${BENCH_ROWS:-100000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
run() { # $1 = db, $2 = contracts dir, $3 = expression; best real time of 3
  $SQLITE3 -batch -cmd ".load $SO" "$1" <<SQL | awk '/^Run Time/ {print $4}' | sort -g | head -1
SELECT contracts > 0 FROM telem_use_contracts('$2');
SELECT count(*) FROM t WHERE $3;
.timer on
SELECT count(*) FROM t WHERE $3;
SELECT count(*) FROM t WHERE $3;
SELECT count(*) FROM t WHERE $3;
SQL
}
first=""
flag=0
printf "%8s %10s %16s %8s %16s %8s\n" types json_valid "on 10 types" ratio "on all types" ratio
for K in 10 100 1000 10000; do
  c=$dir/c$K
  mkdir -p "$c/s"
  /usr/bin/python3 - "$c" "$K" <<'PY'
import sys, json
c, k = sys.argv[1], int(sys.argv[2])
idx = ["contracts:"]
tax = ["metric_types:"]
for i in range(k):
    sid = f"s{i}"
    json.dump({"type": "object", "required": ["name", "n"],
               "properties": {"name": {"type": "string"}, "n": {"type": "integer", "minimum": 0}}},
              open(f"{c}/s/{sid}.json", "w"))
    idx += [f"  - id: {sid}", f"    path: s/{sid}.json", "    kind: json-schema", "    owner: b",
            "    description: d", "    enforced_by: b"]
    tax += [f"  - metric_type: bench.type_{i}", "    family: b", "    sensitivity: S1",
            "    plane: OperationalTracing", "    transmission: local_only", f"    schema: {sid}",
            "    owner: b", "    description: d"]
idx += ["  - id: tax", "    path: taxonomy.yaml", "    kind: taxonomy", "    owner: b",
        "    description: d", "    enforced_by: b"]
open(f"{c}/index.yaml", "w").write("\n".join(idx) + "\n")
open(f"{c}/taxonomy.yaml", "w").write("\n".join(tax) + "\n")
PY
  db=$dir/b$K.db
  $SQLITE3 -batch "$db" "CREATE TABLE t(s TEXT, mt TEXT, v REAL, m TEXT, mt10 TEXT);
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS)
    INSERT INTO t SELECT 'bench:r', 'bench.type_' || (i * 7919 % $K), i,
      printf('{\"name\":\"warm_run_%d\",\"n\":%d,\"details\":{\"ms\":%d}}', i, i, i % 977),
      'bench.type_' || ($K - 1 - i % 10) FROM n;"
  ok=$($SQLITE3 -batch -cmd ".load $SO" "$db" "SELECT contracts > 0 FROM telem_use_contracts('$c')" \
       "SELECT count(*) FROM t WHERE telem_metric_problem(s, mt, v, m) IS NULL
          AND telem_metric_problem(s, mt10, v, m) IS NULL AND mt10 IN (SELECT metric_type FROM telem_taxonomy)" | tail -1)
  [ "$ok" = "$ROWS" ] || { echo "bench: only $ok of $ROWS rows pass at $K types"; exit 1; }
  b=$(run "$db" "$c" "json_valid(m)")
  p10=$(run "$db" "$c" "telem_metric_problem(s, mt10, v, m) IS NULL")
  p=$(run "$db" "$c" "telem_metric_problem(s, mt, v, m) IS NULL")
  r=$(awk -v b="$b" -v p="$p10" 'BEGIN { printf "%.2f", p / b }')
  ra=$(awk -v b="$b" -v p="$p" 'BEGIN { printf "%.2f", p / b }')
  [ -n "$first" ] || first=$r
  mark=$(awk -v r="$r" -v f="$first" 'BEGIN { print (r > 2 * f) ? "  <- more than 2x the first step" : "" }')
  [ -z "$mark" ] || flag=1
  printf "%8d %9.3fs %15.3fs %7sx %15.3fs %7sx%s\n" "$K" "$b" "$p10" "$r" "$p" "$ra" "$mark"
done
[ "$flag" = 0 ] && echo "telem_metric_problem: flat in the taxonomy's size" || echo "telem_metric_problem: grows with the taxonomy's size"
