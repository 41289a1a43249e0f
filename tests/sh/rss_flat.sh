#!/usr/bin/env bash
# Memory stays flat: the peak RSS of a 1,000,000-row scan of telem_validate,
# telem_redact and telem_classify is no more than a few MB above that of a
# 100,000-row scan in the same process (per-connection arena, compiled once).
set -euo pipefail
SO=${VOXTELEM_SO:?}
ROWS=${RSS_ROWS:-1000000}
/usr/bin/python3 - "$SO" "$ROWS" <<'PY'
import sqlite3, sys
so, rows = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(":memory:")
db.enable_load_extension(True)
db.load_extension(so[:-3] if so.endswith(".so") else so)

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])  # kB

def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")

GEN = """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
SELECT CASE i % 3 WHEN 0 THEN 'syntax_k_event' WHEN 1 THEN 'socrates_surface' ELSE 'model_call_event' END AS mt,
       json_object('event', 'parse', 'language', 'rust', 'duration_ms', i % 100, 'node_count', i,
                   'note', CASE i % 5 WHEN 0 THEN 'mail bob' || i || '@example.com from 10.0.0.' || (i % 250) ELSE 'ok' END) AS j
FROM n"""
QUERIES = {
    "telem_validate": f"SELECT count(*) FROM ({GEN}) WHERE telem_validate(j, 'syntax-k-event')",
    "telem_redact": f"SELECT sum(length(telem_redact(j))) FROM ({GEN})",
    "telem_classify": f"SELECT count(*) FROM ({GEN}) WHERE telem_classify(mt, j) = 'S3'",
}
worst = 0
for name, q in QUERIES.items():
    db.execute(q, (rows // 10,)).fetchone()          # warm-up: caches, arena
    reset_peak()
    db.execute(q, (rows // 10,)).fetchone()
    small = status("VmHWM:")
    reset_peak()
    db.execute(q, (rows,)).fetchone()
    big = status("VmHWM:")
    growth = big - small
    worst = max(worst, growth)
    print(f"{name}: peak RSS {small} kB over {rows // 10} rows, {big} kB over {rows} rows (+{growth} kB)")
assert worst < 8 * 1024, f"RSS grew by {worst} kB"
print("ok: memory flat")
PY
