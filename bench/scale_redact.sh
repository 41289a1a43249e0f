#!/usr/bin/env bash
# bench/scale_redact.sh -- issue 18 rows 10 and 11: the redactor's cost as
# one dimension grows by 10x steps, as the ratio of cost per unit to the
# baseline step, measured in the same run (best of 3, CPU time).  A step
# whose cost per unit grows more than 2x is flagged.
#   keys    distinct keys per document (100 / 1,000 / 10,000), telem_redact
#           and telem_classify(type, payload) over the same rows
#   depth   telem_redactions on a document nested D levels with an action
#           at each level (9 / 90 / 900): rows and their paths
set -euo pipefail
SO=${VOXTELEM_SO:-$PWD/voxtelem.so}
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
"$PYTHON" - "$SO" <<'PY'
import sqlite3, sys, time, json
so = sys.argv[1]
db = sqlite3.connect(":memory:")
db.enable_load_extension(True)
db.load_extension(so[:-3] if so.endswith(".so") else so)

def best(fn, reps=3):
    t = []
    for _ in range(reps):
        t0 = time.process_time(); fn(); t.append(time.process_time() - t0)
    return min(t)

flag = 0
def report(title, unit, steps):
    global flag
    print(title)
    base = None
    prev = None
    for size, secs, units in steps:
        per = secs / units
        if base is None: base = per
        ratio = per / base
        growth = per / prev if prev else 1.0
        mark = "  FLAG: cost per %s grew %.1fx" % (unit, growth) if growth > 2.0 else ""
        if mark: flag = 1
        print("  %-8d %8.4f s   per %s %.4f us   ratio to baseline %.2f%s" % (size, secs, unit, per * 1e6, ratio, mark))
        prev = per

# row 10: distinct keys per document
TOTAL = 400000   # keys per measurement, whatever the document size
for fn, sql in (("telem_redact", "select sum(length(telem_redact(d))) from t"),
                ("telem_classify", "select count(telem_classify('benchmark_event', d)) from t")):
    steps = []
    for k in (100, 1000, 10000):
        doc = json.dumps({"m%05d_%s" % (i, ("count", "ratio", "label")[i % 3]): (i if i % 3 != 2 else "v%d" % i) for i in range(k)})
        db.execute("drop table if exists t"); db.execute("create table t(d)")
        db.executemany("insert into t values(?)", [(doc,)] * (TOTAL // k))
        steps.append((k, best(lambda: db.execute(sql).fetchone()), (TOTAL // k) * k))
    report("%s by distinct keys per document (%d keys in total per step)" % (fn, TOTAL), "key", steps)

# row 11: telem_redactions on deep documents
def deep(d):
    s = '{"password":"x"}'
    for i in range(d):
        s = '{"token":"t%d","n":%s}' % (i, s)
    return s
steps, steps2 = [], []
for d in (9, 90, 900):
    doc = deep(d)
    reps = max(1, 9000 // d)
    steps.append((d, best(lambda: [db.execute("select count(*) from telem_redactions(?)", (doc,)).fetchone() for _ in range(reps)]) / reps, d))
    nbytes = db.execute("select sum(length(path)) from telem_redactions(?)", (doc,)).fetchone()[0]
    steps2.append((d, best(lambda: [db.execute("select sum(length(path)) from telem_redactions(?)", (doc,)).fetchone() for _ in range(reps)]) / reps, nbytes))
report("telem_redactions by depth, an action at every level: rows (the log keeps one node per level)", "level", steps)
report("... and reading every path (the text itself is O(depth x actions)): cost per byte of path", "byte", steps2)
sys.exit(0)
PY
