#!/bin/sh
# bench/prune.sh -- telem_prune_apply against one hand-written DELETE, and the
# wait it imposes on a concurrent writer.
#
# research_metrics as Vox creates it (crates/vox-db/src/schema/domains/agents.rs:
# no index on created_at; an index on (session_id, metric_type)), BENCH_ROWS
# rows (default 1,000,000), half older than the cutoff, timestamps in
# shuffled order (imports, backfill, clock changes), both ISO forms mixed.
# WAL mode, synchronous=NORMAL.  Identical copies of one database, same run:
#   noidx   DELETE ... WHERE julianday(created_at) < julianday(cutoff) vs
#           SELECT * FROM telem_prune_apply('research_metrics', NULL, now)
#           (target <= 1.5x)
#   idx     the same with CREATE INDEX ON research_metrics(created_at)
#           (target <= 1.2x)
#   pertype a per-metric-type rule (fixture.* kept 90 days), alone and
#           beside the table's default rule (the rest 365), when the build
#           supports per-type rules (filter column of telem_retention),
#           against one hand DELETE of the same rows
#   writer  the prune while a second process inserts a row every 5 ms under
#           busy_timeout: longest and p99 insert (target max <= 50 ms,
#           p99 < 25 ms), without and with the index; first the same
#           writer with no prune, for this machine's floor
# Each timing is the best of BENCH_ROUNDS (default 3) interleaved runs; the
# ratio is best against best, followed by the spread of the rounds' own
# ratios.  The writer runs BENCH_WRITER_ROUNDS times (default 2) per case.
# Environment: VOXTELEM_SO, SQLITE3, BENCH_ROWS, BENCH_ROUNDS,
# BENCH_WRITER_ROUNDS, BENCH_FLOOR_S, BENCH_CASES (default "noidx idx
# pertype writer": the cases to run).  Prints figures and ratios against
# the same-run baseline; asserts nothing.
set -eu
SO=${VOXTELEM_SO:-$PWD/voxtelem.so}
SQLITE3=${SQLITE3:-sqlite3}
ROWS=${BENCH_ROWS:-1000000}
ROUNDS=${BENCH_ROUNDS:-3}
WROUNDS=${BENCH_WRITER_ROUNDS:-2}
CASES=" ${BENCH_CASES:-noidx idx pertype writer} "
want() { case "$CASES" in *" $1 "*) return 0 ;; esac; return 1; }
NOW='2026-01-01T00:00:00Z'
CUT='2025-01-01 00:00:00'
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# Rows spread over 2024-01-01 .. 2025-12-31 (about half before the cutoff),
# inserted in a shuffled order: row n gets the instant of (n * 7919) mod ROWS.
"$SQLITE3" "$T/base.db" <<SQL >/dev/null
PRAGMA journal_mode=WAL;
CREATE TABLE IF NOT EXISTS research_metrics (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    metric_type TEXT NOT NULL,
    metric_value REAL,
    metadata_json TEXT,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_research_metrics_session ON research_metrics(session_id, metric_type);
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < $ROWS)
INSERT INTO research_metrics(session_id, metric_type, metric_value, metadata_json, created_at)
SELECT 'sess-' || (n % 977), CASE n % 5 WHEN 0 THEN 'fixture.hole' ELSE 'bench.metric' END, n * 0.5,
       '{"k":' || n || ',"note":"some payload text of moderate length"}',
       strftime(CASE n % 2 WHEN 0 THEN '%Y-%m-%d %H:%M:%S' ELSE '%Y-%m-%dT%H:%M:%SZ' END,
                '2024-01-01', '+' || (((n * 7919) % $ROWS) * 63072000 / $ROWS) || ' seconds')
FROM i;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
cp "$T/base.db" "$T/base_idx.db"
"$SQLITE3" "$T/base_idx.db" "CREATE INDEX research_metrics_created_at ON research_metrics(created_at); PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
eligible=$("$SQLITE3" "$T/base.db" "SELECT count(*) FROM research_metrics WHERE julianday(created_at) < julianday('$CUT')")
pertype=0
if "$SQLITE3" -cmd ".load $SO" :memory: "SELECT filter FROM telem_retention" >/dev/null 2>&1; then pertype=1; fi

secs() { sed -n 's/^Run Time: real \([0-9.]*\).*/\1/p' | tail -n 1; }
fresh() { rm -f "$T/$2" "$T/$2-wal" "$T/$2-shm"; cp "$T/$1" "$T/$2"; }
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b ? a : b) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; }

# Vox's events.v1.yaml: the fixture.* metric types 90 days, the table 365.
POLICY_PT="tables:
  research_metrics:
    - kind: days
      days: 365
      time_column: created_at
    - metric_types: [\"fixture.*\"]
      kind: days
      days: 90
      time_column: created_at
"
# The per-type rule alone (rows it does not match are kept).
POLICY_PT1="tables:
  research_metrics:
    - metric_types: [\"fixture.*\"]
      kind: days
      days: 90
      time_column: created_at
"
# $1 base db, $2 SQL of the baseline, $3 SQL of the prune; sets ta tb
# (best times) and spread (lowest-highest ratio of a round)
race() {
  ta=999; tb=999; r=0; rlo=999; rhi=0
  while [ $r -lt "$ROUNDS" ]; do
    r=$((r + 1))
    fresh "$1" a.db
    t1=$(printf 'PRAGMA synchronous=NORMAL;\n.timer on\n%s\n' "$2" | "$SQLITE3" "$T/a.db" | secs)
    ta=$(min "$ta" "$t1")
    fresh "$1" b.db
    t2=$(printf 'PRAGMA synchronous=NORMAL;\n.timer on\n%s\n' "$3" | "$SQLITE3" -cmd ".load $SO" "$T/b.db" | secs)
    tb=$(min "$tb" "$t2")
    q=$(ratio "$t1" "$t2")
    rlo=$(min "$rlo" "$q")
    rhi=$(awk -v a="$rhi" -v b="$q" 'BEGIN { print (a > b ? a : b) }')
  done
  spread="rounds ${rlo}-${rhi}x"
  left_a=$("$SQLITE3" "$T/a.db" "SELECT count(*) FROM research_metrics")
  left_b=$("$SQLITE3" "$T/b.db" "SELECT count(*) FROM research_metrics")
}

HAND="DELETE FROM research_metrics WHERE julianday(created_at) < julianday('$CUT');"
APPLY="SELECT count(*) FROM telem_prune_apply('research_metrics', NULL, '$NOW');"
echo "prune: $ROWS rows, $eligible eligible, shuffled timestamps, Vox's DDL, WAL, synchronous=NORMAL"
if want noidx; then
race base.db "$HAND" "$APPLY"
b=$("$SQLITE3" "$T/b.db" "SELECT batches FROM telem_prune_log")
echo "prune: no index   DELETE ${ta}s  apply ${tb}s  ratio $(ratio "$ta" "$tb")x ($spread; target <= 1.5x)  rows left $left_a / $left_b, $b batches"
fi
if want idx; then
race base_idx.db "DELETE FROM research_metrics WHERE created_at < '$CUT';" "$APPLY"
b=$("$SQLITE3" "$T/b.db" "SELECT batches FROM telem_prune_log")
echo "prune: indexed    DELETE ${ta}s  apply ${tb}s  ratio $(ratio "$ta" "$tb")x ($spread; target <= 1.2x)  rows left $left_a / $left_b, $b batches"
fi
if ! want pertype; then
  :
elif [ "$pertype" = 1 ]; then
  race base.db "DELETE FROM research_metrics WHERE metric_type GLOB 'fixture.*' AND julianday(created_at) < julianday('$NOW', '-90 days');" \
    "SELECT rules FROM telem_policy_import('$POLICY_PT1'); $APPLY"
  echo "prune: per type   DELETE ${ta}s  apply ${tb}s  ratio $(ratio "$ta" "$tb")x ($spread; no index; the rule fixture.* 90 days alone, same WHERE)  rows left $left_a / $left_b"
  race base.db "DELETE FROM research_metrics WHERE (metric_type GLOB 'fixture.*' AND julianday(created_at) < julianday('$NOW', '-90 days')) OR (metric_type NOT GLOB 'fixture.*' AND julianday(created_at) < julianday('$CUT'));" \
    "SELECT rules FROM telem_policy_import('$POLICY_PT'); $APPLY"
  echo "prune: per type   DELETE ${ta}s  apply ${tb}s  ratio $(ratio "$ta" "$tb")x ($spread; no index; fixture.* 90 days + the table's 365, one DELETE of both)  rows left $left_a / $left_b"
else
  echo "prune: per type   skipped (this build has no per-type rules)"
fi

# The writer: one INSERT every 5 ms under busy_timeout 10 s, in another process.
cat > "$T/writer.py" <<'PY'
import os, sqlite3, sys, time
db, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
con = sqlite3.connect(db, timeout=10.0, isolation_level=None)
con.execute("PRAGMA synchronous=NORMAL")
waits = []
nxt = time.monotonic()
while not os.path.exists(stop):
    t0 = time.monotonic()
    con.execute("INSERT INTO research_metrics(session_id, metric_type, metric_value, created_at)"
                " VALUES('w', 'bench.writer', 1, strftime('%Y-%m-%dT%H:%M:%fZ','now'))")
    waits.append((time.monotonic() - t0) * 1000.0)
    nxt += 0.005
    d = nxt - time.monotonic()
    if d > 0:
        time.sleep(d)
    else:
        nxt = time.monotonic()
waits.sort()
with open(out, "w") as f:
    f.write("%d %.1f %.1f\n" % (len(waits), waits[-1], waits[int(len(waits) * 0.99)]))
PY
writer() { # $1 base db, $2 label
  fresh "$1" c.db
  rm -f "$T/stop"
  /usr/bin/python3 "$T/writer.py" "$T/c.db" "$T/stop" "$T/writer.out" &
  wpid=$!
  sleep 0.5
  tc=$(printf 'PRAGMA synchronous=NORMAL;\nPRAGMA busy_timeout=10000;\n.timer on\n%s\n' "$APPLY" | "$SQLITE3" -cmd ".load $SO" "$T/c.db" | secs)
  sleep 0.3
  touch "$T/stop"
  wait $wpid
  read -r wn wmax wp99 < "$T/writer.out"
  b=$("$SQLITE3" "$T/c.db" "SELECT batches FROM telem_prune_log")
  echo "prune: $2 with a 5 ms writer: prune ${tc}s ($b batches); writer $wn inserts, max wait ${wmax} ms, p99 ${wp99} ms (target max <= 50, p99 < 25)"
}
if want writer; then
# The floor: the same writer with no prune at all (its own checkpoints, the
# machine's scheduling and disk), for as long as BENCH_FLOOR_S (default 10).
fresh base.db c.db
rm -f "$T/stop"
/usr/bin/python3 "$T/writer.py" "$T/c.db" "$T/stop" "$T/writer.out" &
wpid=$!
sleep "${BENCH_FLOOR_S:-10}"
touch "$T/stop"
wait $wpid
read -r wn wmax wp99 < "$T/writer.out"
echo "prune: no prune, the writer alone for ${BENCH_FLOOR_S:-10}s: $wn inserts, max wait ${wmax} ms, p99 ${wp99} ms (this machine's floor)"
w=0
while [ $w -lt "$WROUNDS" ]; do
  w=$((w + 1))
  writer base.db "no index"
  writer base_idx.db "indexed "
done
fi
