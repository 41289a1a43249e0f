#!/usr/bin/env bash
# Redaction corpus: runs telem_redact over tests/redaction/corpus.jsonl and
# prints recall (planted secrets / personal data removed) and the
# benign-kept rate (look-alikes that survive).  Fails below 0.99 / 0.99.
# A value is removed when neither it nor its JSON-escaped form is in the
# output.  Run from the repo root (make test does).
set -euo pipefail
SQLITE3=${SQLITE3:-sqlite3}
SO=${VOXTELEM_SO:-$PWD/voxtelem.so}
CORPUS=tests/redaction/corpus.jsonl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# JSONL -> one JSON array the shell can read with readfile().
{ printf '['; sed '$!s/$/,/' "$CORPUS"; printf ']'; } > "$tmp/corpus.json"

"$SQLITE3" -batch -cmd ".load ${SO%.so}" :memory: > "$tmp/out.txt" <<SQL
CREATE TEMP TABLE c AS
  SELECT value ->> '\$.id' AS id, value ->> '\$.input' AS input, value AS v,
         telem_redact(value ->> '\$.input') AS out
  FROM json_each(readfile('$tmp/corpus.json'));
CREATE TEMP TABLE p AS
  SELECT c.id, p.value ->> '\$.type' AS type, p.value ->> '\$.value' AS val, c.out,
         (instr(c.out, p.value ->> '\$.value') > 0
          OR instr(c.out, substr(json_quote(p.value ->> '\$.value'), 2,
                                 length(json_quote(p.value ->> '\$.value')) - 2)) > 0) AS leaked
  FROM c, json_each(c.v, '\$.planted') p;
CREATE TEMP TABLE b AS
  SELECT c.id, b.value AS val, c.out,
         (instr(c.out, b.value) > 0
          OR instr(c.out, substr(json_quote(b.value), 2, length(json_quote(b.value)) - 2)) > 0) AS kept
  FROM c, json_each(c.v, '\$.benign') b;
.mode list
.separator |
SELECT 'cases', count(*) FROM c;
SELECT 'invalid_json_out', count(*) FROM c WHERE json_valid(input) AND NOT json_valid(out);
SELECT 'planted', count(*), sum(NOT leaked), printf('%.4f', avg(NOT leaked)) FROM p;
SELECT 'benign', count(*), sum(kept), printf('%.4f', avg(kept)) FROM b;
SELECT 'leak', id, type, out FROM p WHERE leaked;
SELECT 'lost', id, val, out FROM b WHERE NOT kept;
SELECT 'per-type', type, count(*), sum(NOT leaked) FROM p GROUP BY type ORDER BY type;
SQL

grep -v '^leak|\|^lost|' "$tmp/out.txt" | sed 's/^/  /'
grep '^leak|\|^lost|' "$tmp/out.txt" | head -40 | sed 's/^/  /' || true
awk -F'|' '
  $1 == "planted" { recall = $4; np = $2 }
  $1 == "benign"  { kept = $4; nb = $2 }
  $1 == "invalid_json_out" { bad = $2 }
  END {
    printf "recall %.4f over %d planted values, benign kept %.4f over %d look-alikes\n", recall, np, kept, nb
    if (np < 300 || nb < 300) { print "FAIL: corpus too small"; exit 1 }
    if (bad > 0) { print "FAIL: JSON in gave invalid JSON out"; exit 1 }
    if (recall < 0.99 || kept < 0.99) { print "FAIL: below 0.99"; exit 1 }
    print "ok"
  }' "$tmp/out.txt"
