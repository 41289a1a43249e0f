#!/usr/bin/env bash
# The extension loads from Debian's python3 sqlite3 module, as a user's
# existing tooling would, and answers from the embedded contracts.
set -euo pipefail
SO=${VOXTELEM_SO:?}
# Debian's interpreter: other builds may lack enable_load_extension.
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
"$PYTHON" - "$SO" <<'PY'
import sqlite3, sys
so = sys.argv[1]
db = sqlite3.connect(":memory:")
db.enable_load_extension(True)
db.load_extension(so[:-3] if so.endswith(".so") else so)
db.enable_load_extension(False)
v = db.execute("select telem_version()").fetchone()[0]
assert v.startswith("voxtelem "), v
n = db.execute("select count(*) from telem_taxonomy").fetchone()[0]
assert n >= 28, n
cls = db.execute("select telem_column_class('ci_completion_run','commit_sha')").fetchone()[0]
assert cls == "S2", cls
try:
    db.execute("select * from telem_use_contracts('/nonexistent/dir')").fetchall()
    raise SystemExit("expected an error")
except sqlite3.OperationalError as e:
    assert str(e).startswith("telem_use_contracts: "), e
print("python3 sqlite3:", v)
PY
