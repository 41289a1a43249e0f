#!/bin/sh
# bench/prune.sh -- telem_prune_apply against a hand-written DELETE, and the
# wait it imposes on a concurrent writer.
#
# 1,000,000 research_metrics rows (half older than the cutoff, both ISO
# forms mixed), an index on created_at, WAL mode, synchronous=NORMAL.
# Identical copies of one database, in the same run:
#   A: DELETE FROM research_metrics WHERE created_at < cutoff   (baseline)
#   B: SELECT telem_prune_apply('research_metrics', NULL, now)  (target <= 1.5x A)
#   C: B again while a second process inserts a row every 5 ms under
#      busy_timeout; the longest single insert is the writer's wait
#      (target <= 250 ms).
#   D: C, but the writer only starts 150 ms into the prune.
# Environment: VOXTELEM_SO (default ./voxtelem.so), SQLITE3 (default
# sqlite3), BENCH_ROWS (default 1000000).  Prints figures; asserts nothing.
set -eu
SO=${VOXTELEM_SO:-$PWD/voxtelem.so}
SQLITE3=${SQLITE3:-sqlite3}
ROWS=${BENCH_ROWS:-1000000}
NOW='2026-01-01T00:00:00Z'
CUT='2025-01-01 00:00:00'
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# 1. The base database: rows spread evenly over 2024-01-01 .. 2025-12-31, so about half
#    (the 366 days of 2024) is older than the cutoff.
half=$((ROWS / 2))
"$SQLITE3" "$T/base.db" <<SQL >/dev/null
PRAGMA journal_mode=WAL;
CREATE TABLE research_metrics(id INTEGER PRIMARY KEY, session_id TEXT NOT NULL,
  metric_type TEXT NOT NULL, metric_value REAL, metadata_json TEXT, created_at TEXT NOT NULL);
CREATE INDEX research_metrics_created_at ON research_metrics(created_at);
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < $ROWS)
INSERT INTO research_metrics(session_id, metric_type, metric_value, metadata_json, created_at)
SELECT 'sess-' || (n % 977), 'bench.metric', n * 0.5,
       '{"k":' || n || ',"note":"some payload text of moderate length"}',
       strftime(CASE n % 2 WHEN 0 THEN '%Y-%m-%d %H:%M:%S' ELSE '%Y-%m-%dT%H:%M:%SZ' END,
                '2024-01-01', '+' || (n * 31536000 / $half) || ' seconds')
FROM i;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
eligible=$("$SQLITE3" "$T/base.db" "SELECT count(*) FROM research_metrics WHERE julianday(created_at) < julianday('$CUT')")

secs() { sed -n 's/^Run Time: real \([0-9.]*\).*/\1/p' | tail -n 1; }
fresh() { rm -f "$T/$1" "$T/$1-wal" "$T/$1-shm"; cp "$T/base.db" "$T/$1"; }
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b ? a : b) }'; }

# 2./3. Baseline (one DELETE) and telem_prune_apply with no other connection,
# interleaved twice on fresh copies; the faster run of each counts (the
# machine is shared).
ta=999; tb=999
for round in 1 2; do
  fresh a.db
  t=$("$SQLITE3" "$T/a.db" <<SQL | secs
PRAGMA synchronous=NORMAL;
.timer on
DELETE FROM research_metrics WHERE created_at < '$CUT';
SQL
)
  ta=$(min "$ta" "$t")
  fresh b.db
  t=$("$SQLITE3" -cmd ".load $SO" "$T/b.db" <<SQL | secs
PRAGMA synchronous=NORMAL;
.timer on
SELECT telem_prune_apply('research_metrics', NULL, '$NOW');
SQL
)
  tb=$(min "$tb" "$t")
done
left_a=$("$SQLITE3" "$T/a.db" "SELECT count(*) FROM research_metrics")
left_b=$("$SQLITE3" "$T/b.db" "SELECT count(*) FROM research_metrics")
batches=$("$SQLITE3" "$T/b.db" "SELECT batches FROM telem_prune_log")
fresh c.db

# 4. telem_prune_apply with a writer inserting every 5 ms (busy_timeout 10 s).
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
python3 "$T/writer.py" "$T/c.db" "$T/stop" "$T/writer.out" &
wpid=$!
sleep 0.5
tc=$("$SQLITE3" -cmd ".load $SO" "$T/c.db" <<SQL | secs
PRAGMA synchronous=NORMAL;
PRAGMA busy_timeout=10000;
.timer on
SELECT telem_prune_apply('research_metrics', NULL, '$NOW');
SQL
)
sleep 0.3
touch "$T/stop"
wait $wpid
read -r wn wmax wp99 < "$T/writer.out"

# 5. The same with a writer that only starts 150 ms into the prune (the
#    prune began alone: no pauses, checkpoints deferred).
fresh d.db
rm -f "$T/stop"
(sleep 0.15; python3 "$T/writer.py" "$T/d.db" "$T/stop" "$T/writer2.out") &
wpid=$!
td=$("$SQLITE3" -cmd ".load $SO" "$T/d.db" <<SQL | secs
PRAGMA synchronous=NORMAL;
PRAGMA busy_timeout=10000;
.timer on
SELECT telem_prune_apply('research_metrics', NULL, '$NOW');
SQL
)
sleep 0.3
touch "$T/stop"
wait $wpid
read -r wn2 wmax2 wp992 < "$T/writer2.out"

ratio=$(awk -v a="$ta" -v b="$tb" 'BEGIN { printf "%.2f", b / a }')
rate=$(awk -v b="$tb" -v n="$eligible" 'BEGIN { printf "%.0f", n / b }')
echo "prune: $ROWS rows, $eligible eligible, WAL, synchronous=NORMAL"
echo "prune: single DELETE          ${ta}s  (best of 2; rows left $left_a)"
echo "prune: telem_prune_apply      ${tb}s  (best of 2; rows left $left_b, $batches batches, $rate rows/s)"
echo "prune: ratio apply/DELETE     ${ratio}x   (target <= 1.5x)"
echo "prune: with a 5 ms writer     ${tc}s  prune; writer: $wn inserts, max wait ${wmax} ms, p99 ${wp99} ms   (target max <= 250 ms)"
echo "prune: writer joining at 150 ms ${td}s  prune; writer: $wn2 inserts, max wait ${wmax2} ms, p99 ${wp992} ms   (target max <= 250 ms)"
