#!/usr/bin/env bash
# Loading voxtelem never fails because of the database it is loaded on:
# neither a main database whose schema is malformed (a received file) nor
# one another process holds locked.  The side-effecting table-valued
# functions then fall back to their eponymous form in main.
set -uo pipefail
SO=${VOXTELEM_SO:?}
SQLITE3=${SQLITE3:-sqlite3}
T=$(mktemp -d)
holder=
trap '[ -n "$holder" ] && kill $holder 2>/dev/null; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# 1. A schema SQLite itself refuses to parse.
"$SQLITE3" "$T/bad.db" "CREATE TABLE h(a); PRAGMA writable_schema=ON;
  UPDATE sqlite_schema SET sql = 'CREATE TABLE h(a CHECK ((SELECT 1)))' WHERE name = 'h';" >/dev/null 2>&1
out=$("$SQLITE3" -batch -cmd ".load ${SO%.so}" "$T/bad.db" "SELECT 'loaded', telem_classify('benchmark_event')" 2>&1)
case "$out" in *"voxtelem: registering"*) fail "the load failed on a malformed schema: $out";; esac
echo "ok   loads beside a malformed schema ($(echo "$out" | head -1))"

# 2. A database another process holds with an exclusive lock.
"$SQLITE3" "$T/locked.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1);"
/usr/bin/python3 - "$T/locked.db" "$T/held" <<'PY' &
import sqlite3, sys, time, os
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
time.sleep(20)
PY
holder=$!
for _ in $(seq 1 100); do [ -f "$T/held" ] && break; sleep 0.05; done
[ -f "$T/held" ] || fail "the lock holder did not start"
out=$("$SQLITE3" -batch -cmd ".load ${SO%.so}" "$T/locked.db" "SELECT 'loaded', telem_version() IS NOT NULL" 2>&1)
[ "$out" = "loaded|1" ] || fail "the load failed on a locked database: $out"
echo "ok   loads on a database another process holds locked"
kill $holder 2>/dev/null; wait $holder 2>/dev/null
# and once the lock is gone, the table form of the prune works there
out=$("$SQLITE3" -batch -cmd ".load ${SO%.so}" "$T/locked.db" "SELECT count(*) >= 0 FROM telem_prune_plan" 2>&1)
[ "$out" = "1" ] || fail "the plan after the lock: $out"
echo "load_busy_or_malformed: ok"
