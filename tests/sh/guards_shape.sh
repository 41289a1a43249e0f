#!/usr/bin/env bash
# sql/guards.sql installs only on tables of Vox's shape (sql/schema/) and
# otherwise refuses without changing anything.  Regression: it used to
# install on any tables with these names, after which every write failed
# with "no such column: NEW.run_id".
set -euo pipefail
SO=${VOXTELEM_SO:?}
SQLITE3=${SQLITE3:-sqlite3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
schema() { $SQLITE3 -batch "$1" "SELECT type, name, sql FROM sqlite_master ORDER BY name" | md5sum; }

# 1. Vox's DDL: 10 triggers; a row Vox writes goes in, a row Vox refuses does not
ok=$tmp/ok.db
$SQLITE3 -batch "$ok" ".read sql/schema/research_metrics.sql" ".read sql/schema/ci_completion.sql"
$SQLITE3 -batch -cmd ".load $SO" "$ok" < sql/guards.sql 2>"$tmp/err" || fail "guards.sql failed on Vox's DDL: $(cat "$tmp/err")"
n=$($SQLITE3 -batch "$ok" "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'")
[ "$n" = 10 ] || fail "$n triggers on Vox's DDL, expected 10"
$SQLITE3 -batch -cmd ".load $SO" "$ok" \
  "INSERT INTO research_metrics(session_id, metric_type, metric_value, metadata_json) VALUES ('bench:vox', 'benchmark_event', 1.5, '{\"name\":\"vox_run_warm\"}')" \
  "INSERT INTO ci_completion_run(repository_id) VALUES ('vox')" \
  "INSERT INTO ci_completion_finding(run_id, detector_id, tier, fingerprint) VALUES (1, 'd', 'A', 'f')" ||
  fail "a row shaped as Vox writes it was refused"
err=$($SQLITE3 -batch -cmd ".load $SO" "$ok" \
  "INSERT INTO research_metrics(session_id, metric_type) VALUES ('', 'benchmark_event')" 2>&1 || true)
case "$err" in *"telem_assert_metric: session_id must be non-empty"*) ;; *) fail "empty session_id: $err";; esac
# the caveat: a writer without voxtelem cannot write at all
err=$($SQLITE3 -batch "$ok" "INSERT INTO research_metrics(session_id, metric_type) VALUES ('s', 't')" 2>&1 || true)
case "$err" in *"no such function: telem_assert_metric"*) ;; *) fail "writer without the extension: $err";; esac

# 2. the old voxtelem shape (run_id TEXT, status, ...): refused, nothing changed
old=$tmp/old.db
$SQLITE3 -batch "$old" ".read sql/schema/research_metrics.sql" \
  "CREATE TABLE ci_completion_run(id INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE, repository_id TEXT NOT NULL, status TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT)" \
  "CREATE TABLE ci_completion_finding(id INTEGER PRIMARY KEY, run_id TEXT, detector_id TEXT, severity TEXT, fingerprint TEXT, created_at TEXT)" \
  "CREATE TABLE ci_completion_detector_snapshot(id INTEGER PRIMARY KEY, run_id TEXT, detector_id TEXT, findings_count INTEGER, created_at TEXT)" \
  "CREATE TABLE ci_completion_suppression(id INTEGER PRIMARY KEY, repository_id TEXT, fingerprint TEXT, reason TEXT, created_at TEXT, expires_at TEXT)"
before=$(schema "$old")
out=$($SQLITE3 -batch -cmd ".load $SO" "$old" < sql/guards.sql 2>&1 || true)
case "$out" in *"guards.sql: the governed tables do not have the columns of sql/schema"*) ;; *) fail "no refusal: $out";; esac
[ "$(schema "$old")" = "$before" ] || fail "guards.sql changed the schema of a database it refused"
$SQLITE3 -batch "$old" "INSERT INTO ci_completion_run(run_id, repository_id, status, started_at) VALUES ('r', 'x', 'ok', 'now')" ||
  fail "writes fail after a refused install"

# 3. a table missing: refused, nothing changed (also through Python's executescript)
miss=$tmp/miss.db
$SQLITE3 -batch "$miss" ".read sql/schema/research_metrics.sql"
before=$(schema "$miss")
$SQLITE3 -batch -cmd ".load $SO" "$miss" < sql/guards.sql >/dev/null 2>&1 || true
[ "$(schema "$miss")" = "$before" ] || fail "guards.sql changed a database without the ci tables"
/usr/bin/python3 - "$SO" "$miss" <<'PY' || fail "python: guards.sql did not refuse"
import sqlite3, sys
so, path = sys.argv[1:]
db = sqlite3.connect(path)
db.enable_load_extension(True); db.load_extension(so[:-3] if so.endswith(".so") else so)
try:
    db.executescript(open("sql/guards.sql").read())
except sqlite3.Error as e:
    db.close()
    db = sqlite3.connect(path)
    n = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").fetchone()[0]
    sys.exit(0 if n == 0 else 1)
sys.exit(1)
PY
[ "$(schema "$miss")" = "$before" ] || fail "guards.sql through python changed the database"
echo "ok: installs on Vox's DDL (10 triggers), refuses and changes nothing otherwise"
