#!/usr/bin/env bash
# bench/spool.sh -- the upload spool's two speed targets (issue 14).
#
# 1. telem_enqueue (validate against the type's schema, redact with the
#    strict profile, classify, insert) over BENCH_ROWS (default 100,000)
#    ~400-byte payloads, 2% carrying an e-mail address, in one transaction,
#    as a correlated join.  Baseline in the same session: a plain INSERT ...
#    SELECT of the same rows into a table of the same shape.  Best of 3, wall
#    and CPU (user+sys) time.  Target: >= 50,000 rows/s.
# 2. voxtelem-upload's client rate limit, measured by a loopback receiver
#    (tests/sh/sink_server.py): the default 10 req/s with a burst of 30 over
#    130 requests, and 50 req/s with a burst of 30 over 330 requests.  A token
#    bucket sends n requests in (n - burst) / rate seconds, so the measured
#    rate is (n - burst) / (last arrival - first arrival).  Target: within 5%.
# Environment: VOXTELEM_SO, VOXTELEM_UPLOAD, SQLITE3, BENCH_ROWS.
set -euo pipefail
SQLITE3=${SQLITE3:-sqlite3}
SO=${VOXTELEM_SO:-$PWD/voxtelem.so}
UP=${VOXTELEM_UPLOAD:-$PWD/build/voxtelem-upload}
ROWS=${BENCH_ROWS:-100000}
CONTRACTS=$PWD/tests/data/spool-contracts
T=$(mktemp -d)
SPID=
trap '[ -n "$SPID" ] && kill $SPID 2>/dev/null; rm -rf "$T"' EXIT

# ---- 1. telem_enqueue ------------------------------------------------------------
{
  echo ".load ${SO%.so}"
  cat <<SQL
SELECT contracts FROM telem_use_contracts('$CONTRACTS');
CREATE TABLE src(s TEXT, m TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS)
INSERT INTO src SELECT 'bench:' || (i % 97),
  json_object('event', 'tool.call', 'ms', i % 5000,
    'tool', (SELECT value FROM json_each('["cargo","git","npm","pytest","rg"]') WHERE key = i % 5),
    'status', CASE WHEN i % 7 = 0 THEN 'error' ELSE 'ok' END, 'exit_code', i % 3,
    'phase', 'compile-and-link', 'platform', 'linux-x86_64', 'model', 'model-' || (i % 11), 'cache_hit', json(CASE WHEN i % 2 THEN 'true' ELSE 'false' END),
    'counts', json_object('files', i % 40, 'lines', i % 9000, 'retries', i % 4, 'tokens_in', i % 30000, 'tokens_out', i % 7000),
    'buckets', json_array(i % 10, i % 100, i % 1000, 5, 50, 500),
    'note', CASE WHEN i % 50 = 0 THEN 'contact ops-' || i || '@example.com about it'
                 ELSE 'routine run number ' || i || ' completed without incident' END,
    'versions', json_object('voxtelem', '0.1.0', 'vox', '0.6.' || (i % 9), 'rustc', '1.8' || (i % 5) || '.0'))
FROM n;
SELECT 'avg_bytes', round(avg(length(m))) FROM src;
-- the first enqueue creates the spool table (and compiles the schema and rules)
SELECT count(*) FROM telem_enqueue('spool.ok', '{"event":"warm","ms":1}');
CREATE TABLE copy(id INTEGER PRIMARY KEY AUTOINCREMENT, k TEXT, c TEXT, a INT, mt TEXT, s TEXT,
                  v REAL, p TEXT, cl TEXT, b TEXT, le TEXT, la TEXT);
SQL
  for _ in 1 2 3; do
    cat <<SQL
DELETE FROM copy;
.print T baseline
BEGIN;
INSERT INTO copy(k, c, a, mt, s, p, cl, b) SELECT hex(randomblob(16)), '2026-01-01T00:00:00.000Z', 0, 'spool.ok', s, m, 'S1', m FROM src;
COMMIT;
DELETE FROM telem_spool_queue;
.print T enqueue
BEGIN;
SELECT count(*) FROM src, telem_enqueue('spool.ok', src.m, src.s) e;
COMMIT;
SQL
  done
  echo "SELECT 'spooled', count(*), sum(payload LIKE '%[REDACTED:email]%') FROM telem_spool_queue;"
} > "$T/q.sql"
"$SQLITE3" -batch -cmd '.timer on' :memory: < "$T/q.sql" > "$T/out" 2>&1
grep -E '^(avg_bytes|spooled)' "$T/out"
python3 - "$T/out" "$ROWS" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
rows = int(sys.argv[2])
# per label: the runs are grouped as (BEGIN, work, COMMIT); take the max per group
runs = {}
label = None; group = []
for ln in lines + ["T end"]:
    if ln.startswith("T "):
        if label and group:
            runs.setdefault(label, []).append((sum(r for r, _ in group), sum(c for _, c in group)))
        label, group = ln[2:], []
        continue
    m = re.match(r"Run Time: real ([\d.]+) user ([\d.]+) sys ([\d.]+)", ln)
    if m and label:
        group.append((float(m.group(1)), float(m.group(2)) + float(m.group(3))))
base = min(runs["baseline"]); enq = min(runs["enqueue"])
print(f"baseline INSERT ... SELECT: {base[0]:.3f}s wall, {base[1]:.3f}s cpu  ({rows / base[0]:,.0f} rows/s)")
print(f"telem_enqueue:             {enq[0]:.3f}s wall, {enq[1]:.3f}s cpu  ({rows / enq[0]:,.0f} rows/s wall, "
      f"{rows / max(enq[1], 1e-9):,.0f} rows/s cpu; {enq[0] / base[0]:.1f}x the baseline)")
print(f"target >= 50,000 rows/s: {'met' if rows / enq[0] >= 50000 else 'NOT met'} (wall)")
PY

# ---- 2. the uploader's rate limit ------------------------------------------------------
rate_run() { # rate burst requests
  local rate=$1 burst=$2 n=$3
  rm -f "$T/db" "$T/port" "$T/state.json"
  "$SQLITE3" "$T/db" >/dev/null <<SQL
.load ${SO%.so}
PRAGMA journal_mode=WAL;
SELECT contracts FROM telem_use_contracts('$CONTRACTS');
CREATE TABLE src(i);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $n) INSERT INTO src SELECT i FROM n;
SELECT count(*) FROM src, telem_enqueue('spool.ok', json_object('event', 'e', 'ms', src.i)) e;
SQL
  python3 tests/sh/sink_server.py "$T/port" "$T/state.json" "" $((n + 10)) &
  SPID=$!
  for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
  timeout 120 "$UP" --rate "$rate" --burst "$burst" "$T/db" "http://127.0.0.1:$(cat "$T/port")/" 2>/dev/null
  python3 - "$T/state.json" "$rate" "$burst" "$n" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
rate, burst, n = float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
t = s["times"]
assert len(t) == n and len(s["stored"]) == n, (len(t), len(s["stored"]))
got = (n - burst) / (t[-1] - t[0])
err = (got - rate) / rate * 100
print(f"rate limit {rate:g}/s burst {burst}: {n} requests in {t[-1] - t[0]:.2f}s -> "
      f"{got:.3f} req/s beyond the burst ({err:+.2f}%; target within 5%: {'met' if abs(err) <= 5 else 'NOT met'})")
PY
  kill $SPID 2>/dev/null || true; wait $SPID 2>/dev/null || true; SPID=
}
rate_run 10 30 130
rate_run 50 30 330
