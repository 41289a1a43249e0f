#!/usr/bin/env bash
# config_leak.sh -- issue 17 item 9: no trigger or view of a database someone
# else wrote can copy the operator's configuration (the contracts path) into
# a table.  Sweeps every telem_ virtual table and every telem_ function that
# takes no argument: a received database holds, for each, a view and an
# INSERT trigger that copy what it shows into a table of its own; the
# operator attaches it (and, separately, opens it as main), inserts, reads
# the views.  The contracts directory's unique name must not appear in the
# received file nor in anything the views returned.
# Environment: VOXTELEM_SO, SQLITE3 (make test).
set -euo pipefail
SO=${VOXTELEM_SO:?}
SQLITE3=${SQLITE3:-sqlite3}
root=$PWD
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "config_leak: FAIL: $*"; exit 1; }

SECRET=operator-secret-dir-$$
OPC=$T/$SECRET
cp -r "$root/contracts" "$OPC"
export VOXTELEM_CONTRACTS=$OPC

# Positive control: the operator's own query does show the path, so a leak
# would be seen below.
src=$("$SQLITE3" -batch -cmd ".load $SO" :memory: "SELECT DISTINCT source FROM telem_contracts")
[ "$src" = "$OPC" ] || fail "positive control: telem_contracts.source is $src"

mods=$("$SQLITE3" -batch -cmd ".load $SO" :memory: "SELECT name FROM pragma_module_list WHERE name LIKE 'telem\_%' ESCAPE '\' ORDER BY 1")
funcs=$("$SQLITE3" -batch -cmd ".load $SO" :memory: \
  "SELECT DISTINCT name FROM pragma_function_list WHERE name LIKE 'telem\_%' ESCAPE '\' AND narg IN (0, -1) ORDER BY 1")
[ -n "$mods" ] && [ -n "$funcs" ] || fail "nothing to sweep"

# Table-valued functions that need arguments, called with some.
CALLS=("telem_validate_errors('{\"a\":1}', 'research-metrics-row')" "telem_redactions('{\"password\":\"x\"}')")

# The received database, built by someone with voxtelem loaded: per table
# a copy of its columns (loot_<m>), a view, and an INSERT trigger on a
# table of its own (one failing trigger must not hide the others).
recv=$T/received.db
{
  for m in $mods; do
    echo "CREATE TABLE \"loot_$m\" AS SELECT * FROM \"$m\" WHERE 0;"
    echo "CREATE TABLE \"h_$m\"(a);"
    echo "CREATE VIEW \"v_$m\" AS SELECT * FROM \"$m\";"
    echo "CREATE TRIGGER \"t_$m\" AFTER INSERT ON \"h_$m\" BEGIN INSERT INTO \"loot_$m\" SELECT * FROM \"$m\"; END;"
  done
  for i in "${!CALLS[@]}"; do
    echo "CREATE TABLE \"loot_c$i\" AS SELECT * FROM ${CALLS[$i]} WHERE 0;"
    echo "CREATE TABLE \"h_c$i\"(a);"
    echo "CREATE VIEW \"v_c$i\" AS SELECT * FROM ${CALLS[$i]};"
    echo "CREATE TRIGGER \"t_c$i\" AFTER INSERT ON \"h_c$i\" BEGIN INSERT INTO \"loot_c$i\" SELECT * FROM ${CALLS[$i]}; END;"
  done
  for f in $funcs; do
    echo "CREATE TABLE \"loot_$f\"(x); CREATE TABLE \"h_$f\"(a);"
    echo "CREATE VIEW \"f_$f\" AS SELECT $f() AS x;"
    echo "CREATE TRIGGER \"tf_$f\" AFTER INSERT ON \"h_$f\" BEGIN INSERT INTO \"loot_$f\" VALUES ($f()); END;"
  done
} | "$SQLITE3" -batch -cmd ".load $SO" "$recv" > "$T/build.out" 2>&1 || true

session() { # prefix: insert into every h_ table, read every view
  for m in $mods; do echo "INSERT INTO $1\"h_$m\" VALUES (1);"; echo "SELECT * FROM $1\"v_$m\";"; done
  for f in $funcs; do echo "INSERT INTO $1\"h_$f\" VALUES (1);"; echo "SELECT * FROM $1\"f_$f\";"; done
  for i in "${!CALLS[@]}"; do echo "INSERT INTO $1\"h_c$i\" VALUES (1);"; echo "SELECT * FROM $1\"v_c$i\";"; done
}
for trust in ON OFF; do
  cp "$recv" "$T/r.db"
  { echo "PRAGMA trusted_schema=$trust;"; echo "ATTACH '$T/r.db' AS r;"; session r.; } |
    "$SQLITE3" -batch -cmd ".load $SO" :memory: > "$T/attach.$trust.out" 2>&1 || true
  if grep -q "$SECRET" "$T/attach.$trust.out" "$T/r.db"; then
    grep "$SECRET" "$T/attach.$trust.out" | head -5
    fail "attached, trusted_schema=$trust: the contracts path leaked"
  fi
  cp "$recv" "$T/m.db"
  { echo "PRAGMA trusted_schema=$trust;"; session ""; } |
    "$SQLITE3" -batch -cmd ".load $SO" "$T/m.db" > "$T/main.$trust.out" 2>&1 || true
  if grep -q "$SECRET" "$T/main.$trust.out" "$T/m.db"; then
    grep "$SECRET" "$T/main.$trust.out" | head -5
    fail "opened as main, trusted_schema=$trust: the contracts path leaked"
  fi
done
# The triggers do run (so the sweep could see a leak): the taxonomy, which
# shows no path, was copied.
n=$("$SQLITE3" "$T/m.db" 'SELECT count(*) FROM "loot_telem_taxonomy"')
[ "$n" -gt 0 ] || fail "the trigger on telem_taxonomy did not run: $(head -20 "$T/main.ON.out")"
n=$("$SQLITE3" "$T/m.db" 'SELECT (SELECT count(*) FROM "loot_c0") * (SELECT count(*) FROM "loot_c1")')
[ "$n" -gt 0 ] || fail "the triggers on the table-valued calls did not run: $(head -20 "$T/main.ON.out")"
# What refused the copies: telem_contracts is DIRECTONLY.
grep -q 'unsafe use of virtual table "telem_contracts"' "$T/attach.ON.out" || fail "telem_contracts was not refused: $(head -20 "$T/attach.ON.out")"
echo "config_leak: $(echo $mods | wc -w) tables, ${#CALLS[@]} table-valued calls and $(echo $funcs | wc -w) functions swept; no path copied"
echo "config_leak: ok"
