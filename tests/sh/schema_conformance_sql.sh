#!/usr/bin/env bash
# The official JSON Schema test suite run through SQL: every required test
# of every draft found is one `SELECT telem_validate(data, schema)` on a
# connection where the suite's remotes/ were registered with
# `SELECT * FROM telem_schema_register(uri, schema)`; optional/format/ runs
# with the 'format' option.  Drafts are looked for in
# $VOXTELEM_CONFORMANCE/json-schema-test-suite (default ../shared/conformance)
# and then $VOXTELEM_JSTS (a JSON-Schema-Test-Suite checkout); a draft in
# neither is skipped with one line.  Fails below 99.5% (required) or 95%
# (format) for any draft that ran.
set -euo pipefail
SO=${VOXTELEM_SO:?}
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
"$PYTHON" - "$SO" <<'PY'
import json, os, sqlite3, sys

so = sys.argv[1]
roots = [os.environ.get("VOXTELEM_CONFORMANCE") or "../shared/conformance",
         os.environ.get("VOXTELEM_JSTS") or ""]
drafts = ["draft4", "draft6", "draft7", "draft2019-09", "draft2020-12"]

def find(draft):
    for r in roots:
        if not r:
            continue
        for base in (os.path.join(r, "json-schema-test-suite"), r):
            if os.path.isdir(os.path.join(base, "tests", draft)):
                return base
    return None

def connect(base, default):
    db = sqlite3.connect(":memory:")
    db.enable_load_extension(True)
    db.load_extension(so[:-3] if so.endswith(".so") else so)
    db.enable_load_extension(False)
    remotes = os.path.join(base, "remotes")
    for dirpath, _, files in os.walk(remotes):
        for f in sorted(files):
            if not f.endswith(".json"):
                continue
            path = os.path.join(dirpath, f)
            uri = "http://localhost:1234/" + os.path.relpath(path, remotes).replace(os.sep, "/")
            text = open(path, encoding="utf-8").read()
            # like the suite's draft for its tests: a remote without $schema
            # is read as the draft under test
            doc = json.loads(text)
            if isinstance(doc, dict) and "$schema" not in doc:
                text = json.dumps(dict(doc, **{"$schema": default}))
            try:
                db.execute("SELECT * FROM telem_schema_register(?, ?)", (uri, text)).fetchall()
            except sqlite3.Error:
                pass  # a remote the engine cannot read is a failing test later
    return db

def run(db, d, default, options):
    passed = total = 0
    fails = []
    for f in sorted(os.listdir(d)):
        if not f.endswith(".json"):
            continue
        for g in json.load(open(os.path.join(d, f), encoding="utf-8")):
            schema = g["schema"]
            # the suite's draft is its folder's: documents without $schema get it
            if isinstance(schema, dict) and "$schema" not in schema:
                schema = dict(schema, **{"$schema": default})
            stext = json.dumps(schema) if not isinstance(schema, bool) else json.dumps(schema)
            for t in g["tests"]:
                total += 1
                try:
                    args = (json.dumps(t["data"]), stext) + ((options,) if options else ())
                    sql = "SELECT telem_validate(?, ?%s)" % (", ?" if options else "")
                    got = db.execute(sql, args).fetchone()[0]
                except sqlite3.Error as e:
                    got = str(e)
                if got == (1 if t["valid"] else 0):
                    passed += 1
                else:
                    fails.append("%s: %s / %s: got %r" % (f, g["description"], t["description"], got))
    return passed, total, fails

meta = {"draft4": "http://json-schema.org/draft-04/schema#",
        "draft6": "http://json-schema.org/draft-06/schema#",
        "draft7": "http://json-schema.org/draft-07/schema#",
        "draft2019-09": "https://json-schema.org/draft/2019-09/schema",
        "draft2020-12": "https://json-schema.org/draft/2020-12/schema"}
bad = 0
ran = 0
for draft in drafts:
    base = find(draft)
    if not base:
        print("sql %-13s skipped: not in $VOXTELEM_CONFORMANCE or $VOXTELEM_JSTS" % draft)
        continue
    ran += 1
    db = connect(base, meta[draft])
    d = os.path.join(base, "tests", draft)
    p, n, fails = run(db, d, meta[draft], None)
    pct = 100.0 * p / n if n else 0
    print("sql %-13s %4d/%4d required passed (%.2f%%)" % (draft, p, n, pct))
    for x in fails[:20]:
        print("  FAIL", x)
    if pct < 99.5:
        bad = 1
    fd = os.path.join(d, "optional", "format")
    if os.path.isdir(fd):
        p, n, fails = run(db, fd, meta[draft], "format")
        pct = 100.0 * p / n if n else 0
        print("sql %-13s %4d/%4d optional/format passed (%.2f%%)" % (draft, p, n, pct))
        for x in fails[:20]:
            print("  FAIL", x)
        if pct < 95:
            bad = 1
    db.close()
if not ran:
    print("sql conformance: no suite found (set VOXTELEM_CONFORMANCE or VOXTELEM_JSTS)")
sys.exit(bad)
PY
