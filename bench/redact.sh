#!/usr/bin/env bash
# bench/redact.sh -- telem_redact throughput next to json_valid() over the
# same ~50 MB of typical ~400-byte metadata JSON rows (2% carry a planted
# secret or e-mail), and the cost of telem_classify(metric_type) against
# reading the column.  Each query runs 3 times in one sqlite3 session; the
# best time counts, as wall clock and as CPU time (user+sys: steadier on a
# shared machine).  Targets: telem_redact >= 150 MB/s and within 3x json_valid();
# classify <= 1.5x.
set -euo pipefail
SQLITE3=${SQLITE3:-sqlite3}
SO=${VOXTELEM_SO:-$PWD/voxtelem.so}
ROWS=${BENCH_ROWS:-125000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

q() { # label, SQL: runs it 3 times with .timer, prints "label seconds"
  for _ in 1 2 3; do printf '.print T %s\n%s\n' "$1" "$2"; done
}
{
  echo ".load ${SO%.so}"
  cat <<SQL
CREATE TABLE t(metric_type TEXT, m TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS)
INSERT INTO t SELECT
  (SELECT value FROM json_each('["benchmark_event","build.summary","syntax_k_event","socrates_surface","orch.circuit_breaker.trip","memory_hybrid_fusion"]') WHERE key = i % 6),
  json_object(
    'session_id', 'bench:repo-' || (i % 97),
    'tool', (SELECT value FROM json_each('["cargo","git","npm","pytest","rg"]') WHERE key = i % 5),
    'duration_ms', abs(random() % 90000),
    'ok', json(CASE WHEN i % 7 THEN 'true' ELSE 'false' END),
    'model', (SELECT value FROM json_each('["gpt-4o-mini","claude-3-5-sonnet-20241022","llama-3.1-8b"]') WHERE key = i % 3),
    'request_id', lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-a' || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
    'commit', lower(hex(randomblob(20))),
    'created_at', strftime('%Y-%m-%dT%H:%M:%fZ', 1764000000 + i, 'unixepoch'),
    'rel_file', 'src/module_' || (i % 50) || '/file_' || (i % 13) || '.rs',
    'version', '1.' || (i % 20) || '.' || (i % 7),
    'cache_hit_ratio', round(abs(random() % 1000) / 1000.0, 3),
    'targets', i % 40,
    'exit_code', 0,
    'tags', json_array('ci', 'nightly', 'linux-x86_64'),
    'note', CASE WHEN i % 50 = 0 THEN 'notify ops-' || i || '@example.com: token ghp_' || hex(randomblob(18))
                 ELSE 'build finished in ' || (i % 90) || '.' || (i % 10) || 's with ' || (i % 5) || ' warnings' END)
  FROM n;
SELECT printf('rows %d, %.1f MB of metadata, avg %d bytes', count(*), sum(length(m)) / 1e6, avg(length(m))) FROM t;
.timer on
SQL
  q json_valid "SELECT sum(json_valid(m)) FROM t;"
  q redact "SELECT sum(length(telem_redact(m))) FROM t;"
  q column "SELECT max(metric_type) FROM t;"
  q classify "SELECT max(telem_classify(metric_type)) FROM t;"
  q classify_payload "SELECT max(telem_classify(metric_type, m)) FROM t;"
  echo "SELECT printf('MB %.3f', sum(length(m)) / 1e6) FROM t;"
} > "$tmp/bench.sql"

"$SQLITE3" -batch -bail :memory: < "$tmp/bench.sql" > "$tmp/out.txt" 2>&1 || { cat "$tmp/out.txt"; exit 1; }
grep '^rows' "$tmp/out.txt"
awk '
  /^T / { label = $2; next }
  /^Run Time: real/ {
    w = $4; c = $6 + $8   # wall; user + sys
    if (!(label in wall) || w < wall[label]) wall[label] = w
    if (!(label in cpu) || c < cpu[label]) cpu[label] = c
    next
  }
  /^MB / { mb = $2 }
  END {
    printf "                      wall clock (best of 3)       cpu time, user+sys (best of 3)\n"
    printf "json_valid()          %8.1f MB/s  %.3f s        %8.1f MB/s  %.3f s\n", mb / wall["json_valid"], wall["json_valid"], mb / cpu["json_valid"], cpu["json_valid"]
    printf "telem_redact()        %8.1f MB/s  %.3f s        %8.1f MB/s  %.3f s   target >= 150 MB/s, <= 3x json_valid\n", mb / wall["redact"], wall["redact"], mb / cpu["redact"], cpu["redact"]
    printf "telem_redact / json_valid time: %.2fx wall, %.2fx cpu\n", wall["redact"] / wall["json_valid"], cpu["redact"] / cpu["json_valid"]
    printf "telem_classify(type) vs reading the column: %.3f s / %.3f s = %.2fx wall, %.2fx cpu   target <= 1.5x\n", wall["classify"], wall["column"], wall["classify"] / wall["column"], (cpu["column"] > 0 ? cpu["classify"] / cpu["column"] : 0)
    printf "telem_classify(type, payload) %8.1f MB/s wall, %8.1f MB/s cpu\n", mb / wall["classify_payload"], mb / cpu["classify_payload"]
  }' "$tmp/out.txt"
