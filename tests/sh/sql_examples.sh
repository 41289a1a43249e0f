#!/usr/bin/env bash
# Every ```sql example in docs/reference/sql.md runs, against a database with
# the reference tables and demo data: the errors it raises are exactly the
# ones it documents with a "-- Error: ..." comment, and no others.
set -euo pipefail
SO=${VOXTELEM_SO:?}
SQLITE3=${SQLITE3:-sqlite3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
$SQLITE3 -batch "$tmp/base.db" -cmd ".load $SO" ".read sql/schema/research_metrics.sql" \
  ".read sql/schema/ci_completion.sql" ".read sql/demo_data.sql" >/dev/null
/usr/bin/python3 - "$SO" "$SQLITE3" "$tmp" <<'PY'
import re, shutil, subprocess, sys
so, sqlite3, tmp = sys.argv[1:]
doc = open("docs/reference/sql.md").read()
blocks = re.findall(r"```sql\n(.*?)```", doc, re.S)
fails = 0
for i, block in enumerate(blocks):
    shutil.copy(f"{tmp}/base.db", f"{tmp}/t.db")
    r = subprocess.run([sqlite3, "-batch", "-cmd", f".load {so}", f"{tmp}/t.db"],
                       input=block, capture_output=True, text=True)
    got = [re.sub(r"^(Parse|Runtime) error near line \d+: |^Error: near line \d+: ", "", l)
           for l in r.stderr.splitlines() if "error" in l.lower()]
    want = [l.split("-- Error: ", 1)[1].strip() for l in block.splitlines() if "-- Error: " in l]
    if [g.strip() for g in got] != want:
        fails += 1
        print(f"example {i + 1} of docs/reference/sql.md:\n{block}\n  documented errors: {want}\n  actual errors:     {got}\n")
print(f"{len(blocks)} examples, {fails} disagree with the docs")
sys.exit(1 if fails else 0)
PY
