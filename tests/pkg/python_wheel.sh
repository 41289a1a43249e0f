#!/usr/bin/env bash
# python_wheel.sh -- the locally built wheel, installed with pip (no index)
# into a temporary venv of Debian's /usr/bin/python3 that also sees the
# system's site-packages (sqlite-utils), and with pip --target for
# /usr/bin/python3 itself: voxtelem.loadable_path() names the
# bundled .so, voxtelem.load() works on a sqlite3 connection and on a
# sqlite_utils.Database and leaves extension loading off; sqlite-utils'
# --load-extension takes loadable_path(); pip uninstall removes it all.
# Environment: VOXTELEM_WHEEL, VOXTELEM_VERSION (set by make pkgtest).
set -euo pipefail
WHEEL=${VOXTELEM_WHEEL:?}
VERSION=${VOXTELEM_VERSION:?}
PY=/usr/bin/python3
fail() { echo "python_wheel: FAIL: $*" >&2; exit 1; }
[ -f "$WHEEL" ] || fail "no wheel $WHEEL (make wheel)"
[ -x "$PY" ] || fail "no $PY (Debian's python3)"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# The wheel: a platform wheel (it carries a native .so), with the .so in it.
case $(basename "$WHEEL") in
  "voxtelem-$VERSION-py3-none-linux_"*.whl) ;;
  *) fail "wheel name $(basename "$WHEEL") is not voxtelem-$VERSION-py3-none-linux_<arch>.whl" ;;
esac
"$PY" -m zipfile -l "$WHEEL" > "$T/list"
grep -q ' *voxtelem/voxtelem.so ' "$T/list" || fail "the wheel lacks voxtelem/voxtelem.so"
grep -q 'Root-Is-Purelib: false' <("$PY" -c "import zipfile,sys; print(zipfile.ZipFile(sys.argv[1]).read('voxtelem-$VERSION.dist-info/WHEEL').decode())" "$WHEEL") \
  || fail "the wheel is marked pure"

echo "== pip install into a venv (--system-site-packages, --no-index)"
"$PY" -m venv --system-site-packages "$T/venv" || fail "python3 -m venv (Debian package python3-venv)"
"$T/venv/bin/python" -m pip install -q --no-index --no-deps "$WHEEL" > "$T/pip.out" 2>&1 \
  || fail "pip install: $(cat "$T/pip.out")"

mkdir "$T/elsewhere"
cd "$T/elsewhere"
unset LD_LIBRARY_PATH PYTHONPATH

echo "== voxtelem.loadable_path(), voxtelem.load(sqlite3 connection)"
"$T/venv/bin/python" - "$T/venv" "$VERSION" <<'PY' || fail "python3 sqlite3"
import os, sqlite3, sys
import voxtelem
venv, version = sys.argv[1], sys.argv[2]
p = voxtelem.loadable_path()
assert os.path.isabs(p) and os.path.isfile(p), p
assert p.startswith(os.path.realpath(venv)) or p.startswith(venv), p   # the wheel's copy, not a system one
assert voxtelem.__version__ == version, voxtelem.__version__

conn = sqlite3.connect(":memory:")
assert voxtelem.load(conn) is conn
assert conn.execute("select telem_version()").fetchone()[0].startswith("voxtelem " + version)
# Governance queries on a table shaped like Vox's.
conn.executescript("""
CREATE TABLE research_metrics(id INTEGER PRIMARY KEY, session_id TEXT, metric_type TEXT,
  metadata_json TEXT, created_at TEXT);
INSERT INTO research_metrics(session_id, metric_type, metadata_json, created_at) VALUES
  ('s', 'old', '{"note":"mail alice@example.com"}', '2001-01-01 00:00:00'),
  ('s', 'new', '{}', '2999-01-01 00:00:00');
""")
red = conn.execute("select telem_redact(metadata_json) from research_metrics where metric_type='old'").fetchone()[0]
assert "alice@example.com" not in red, red
plan = conn.execute("select eligible_rows, status from telem_prune_plan where table_name='research_metrics'").fetchone()
assert plan == (1, "ok"), plan
# load() switches extension loading off again: SQL cannot load libraries.
try:
    conn.execute("select load_extension('/nonexistent/x')")
    raise SystemExit("load_extension() is still enabled after voxtelem.load")
except sqlite3.OperationalError as e:
    assert "not authorized" in str(e), e
try:
    voxtelem.load(object())
    raise SystemExit("load(object()) did not fail")
except (RuntimeError, AttributeError, TypeError):
    pass
print("sqlite3:", conn.execute("select telem_version()").fetchone()[0])
PY

echo "== voxtelem.load(sqlite_utils.Database)"
"$T/venv/bin/python" - <<'PY' || fail "sqlite_utils.Database"
import sqlite_utils, voxtelem
db = sqlite_utils.Database(memory=True)
assert voxtelem.load(db) is db
db["ci_completion_finding"].insert({"id": 1, "file_path": "/home/alice/x.c"})
row = db.execute("select telem_column_class('ci_completion_finding', 'file_path')").fetchone()
assert row == ("S2",), row
print("sqlite_utils:", sqlite_utils.__file__, row)
PY

echo "== sqlite-utils --load-extension \$(loadable_path())"
so=$("$T/venv/bin/python" -c 'import voxtelem; print(voxtelem.loadable_path())')
out=$(sqlite-utils memory --load-extension "$so" "select telem_column_class('ci_completion_run', 'commit_sha') as c" --csv | tr -d '\r') \
  || fail "sqlite-utils --load-extension"
[ "$out" = $'c\nS2' ] || fail "sqlite-utils printed: $out"

echo "== /usr/bin/python3 itself, the wheel installed with pip --target"
"$PY" -m pip install -q --root-user-action=ignore --target "$T/target" --no-index --no-deps "$WHEEL" > "$T/pip.out" 2>&1 \
  || fail "pip install --target: $(cat "$T/pip.out")"
PYTHONPATH=$T/target "$PY" -c '
import sqlite3, sys, voxtelem
assert voxtelem.loadable_path().startswith(sys.argv[1]), voxtelem.loadable_path()
c = voxtelem.load(sqlite3.connect(":memory:"))
print("system python3:", c.execute("select telem_version()").fetchone()[0])
assert c.execute("select count(*) from telem_contracts").fetchone()[0] >= 11
' "$T/target" || fail "/usr/bin/python3 with the wheel on PYTHONPATH"

echo "== pip uninstall"
"$T/venv/bin/python" -m pip uninstall -q -y voxtelem > "$T/pip.out" 2>&1 || fail "pip uninstall: $(cat "$T/pip.out")"
[ ! -e "$so" ] || fail "$so is still there after pip uninstall"
if "$T/venv/bin/python" -c 'import voxtelem' 2>/dev/null; then fail "voxtelem still imports after pip uninstall"; fi
echo "python_wheel: ok"
