#!/usr/bin/env bash
# Concurrency: two processes on one WAL database for a bounded time -- one
# inserting research_metrics rows through the sql/guards.sql triggers, one
# pruning with telem_prune_apply -- then: no row lost or duplicated, no error
# beyond the busy timeout, the guards refused exactly the invalid rows, and the
# prune removed exactly the expired rows.
set -euo pipefail
SO=${VOXTELEM_SO:?}
PYTHON=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" - "$SO" "$tmp/app.db" <<'PY'
import sqlite3, subprocess, sys, time
so, path = sys.argv[1], sys.argv[2]
ext = so[:-3] if so.endswith(".so") else so

def connect():
    db = sqlite3.connect(path, timeout=10, isolation_level=None)
    db.enable_load_extension(True)
    db.load_extension(ext)
    db.execute("PRAGMA busy_timeout = 10000")
    db.execute("PRAGMA foreign_keys = ON")
    return db

db = connect()
db.execute("PRAGMA journal_mode = WAL")
for f in ("sql/schema/research_metrics.sql", "sql/schema/ci_completion.sql", "sql/guards.sql"):
    db.executescript(open(f).read())
OLD = 30000
db.execute("BEGIN")
db.execute("""WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
  INSERT INTO research_metrics(session_id, metric_type, metric_value, metadata_json, created_at)
  SELECT 'bench:old-' || i, 'benchmark_event', i, json_object('name', 'warm_run', 'details', json_object('count', i)),
         strftime('%Y-%m-%d %H:%M:%S', 'now', '-400 days', printf('-%d seconds', i)) FROM n""", (OLD,))
db.execute("COMMIT")
db.close()

writer = r'''
import sqlite3, sys, time
path, ext, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
db = sqlite3.connect(path, timeout=10, isolation_level=None)
db.enable_load_extension(True); db.load_extension(ext)
db.execute("PRAGMA busy_timeout = 10000")
ok = refused = 0; worst = 0.0
for i in range(n):
    bad = i % 50 == 7           # every 50th row breaks the syntax-k contract
    meta = ('{"name":"webir_json","repository_id":"r","fixture_id":"fx-1","details":{"schema_version":1,"fixture_id":"fx-1","target_kind":"webir","raw_bytes":100,"compressor_results":[{"name":"zstd","profile":"19","compressed_bytes":40,"ratio":0.4}],"k_est_bytes":40,"toolchain_fingerprint":{"compiler":"voxc 0.9","compressor_profiles":["zstd-19"]}}}' if not bad
            else '{"name":"webir_json","details":{"schema_version":1}}')
    t0 = time.monotonic()
    try:
        db.execute("INSERT INTO research_metrics(session_id, metric_type, metric_value, metadata_json, created_at) "
                   "VALUES (?, 'syntax_k_event', ?, ?, strftime('%Y-%m-%d %H:%M:%S','now'))",
                   ("syntaxk:new-%d" % i, float(i), meta))
        ok += 1
    except sqlite3.OperationalError as e:
        if "telem_assert_metric:" in str(e) and bad:
            refused += 1
        else:
            print("writer error:", e); sys.exit(1)
    worst = max(worst, time.monotonic() - t0)
    time.sleep(0.002)
print(ok, refused, round(worst * 1000, 1))
'''
pruner = r'''
import sqlite3, sys, time
path, ext = sys.argv[1], sys.argv[2]
db = sqlite3.connect(path, timeout=10, isolation_level=None)
db.enable_load_extension(True); db.load_extension(ext)
db.execute("PRAGMA busy_timeout = 10000")
total = 0
for _ in range(6):
    total += db.execute("SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply('research_metrics', 1000)").fetchone()[0]
    time.sleep(0.2)
print(total)
'''
N = 1500
w = subprocess.Popen([sys.executable, "-c", writer, path, ext, str(N)], stdout=subprocess.PIPE, text=True)
time.sleep(0.3)
p = subprocess.Popen([sys.executable, "-c", pruner, path, ext], stdout=subprocess.PIPE, text=True)
wout, _ = w.communicate(timeout=300)
pout, _ = p.communicate(timeout=300)
assert w.returncode == 0 and p.returncode == 0, (wout, pout)
ok, refused, worst = wout.split()
ok, refused, pruned = int(ok), int(refused), int(pout)
expect_bad = len([i for i in range(N) if i % 50 == 7])
db = connect()
new = db.execute("SELECT count(*), count(DISTINCT session_id) FROM research_metrics WHERE session_id LIKE 'syntaxk:new-%'").fetchone()
old = db.execute("SELECT count(*) FROM research_metrics WHERE session_id LIKE 'bench:old-%'").fetchone()[0]
integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
print(f"writer: {ok} inserted, {refused} refused by the guards, worst insert {worst} ms; pruner: {pruned} deleted")
assert refused == expect_bad, (refused, expect_bad)
assert ok == N - expect_bad and new == (ok, ok), (ok, new)
assert pruned == OLD and old == 0, (pruned, old)
assert integrity == "ok", integrity
logged = db.execute("SELECT sum(rows_deleted) FROM telem_prune_log WHERE table_name = 'research_metrics'").fetchone()[0]
assert logged == OLD, logged
print("ok")
PY
