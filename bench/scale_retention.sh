#!/bin/sh
# bench/scale_retention.sh -- the retention dimensions of issue 18, each
# grown by 10x steps with everything else fixed.  For every step it prints
# the time, the ratio to the first step (same run) and the cost per unit
# against the step before; a step whose cost per unit grew more than 2x is
# flagged "SUPERLINEAR".  Dimensions:
#   rules      UPDATE of every rule of telem_retention, by number of rules
#   tables     telem_prune_plan with counts, by number of policy tables
#   scans      one statement scanning telem_prune_plan N times (correlated)
#   children   prune of 200 old parents, by children per parent (indexed FK)
#   nofk_idx   prune with one child per parent and no index on the child's
#              foreign key, by number of parents (foreign_keys off)
#   rows       prune of research_metrics as Vox creates it (no index on
#              created_at, shuffled timestamps, half old), by rows
#   wait       the longest insert of a writer inserting every 5 ms under
#              busy_timeout during a prune of 20 old parents, by children
#              per parent (1, 100, 10,000); flagged when over 50 ms; first
#              the same writer for 3 s with no prune (the machine's floor)
# Environment: VOXTELEM_SO, SCALE_MAX (largest step multiplier exponent
# cap, default 3: 1x..1000x of each baseline).  Asserts nothing.
set -eu
SO=${VOXTELEM_SO:-$PWD/voxtelem.so}
export VOXTELEM_SO="$SO" SCALE_MAX="${SCALE_MAX:-3}"
exec /usr/bin/python3 - <<'PY'
import os, sqlite3, tempfile, time
so = os.environ["VOXTELEM_SO"]; ext = so[:-3] if so.endswith(".so") else so
steps = int(os.environ["SCALE_MAX"])
tmp = tempfile.mkdtemp()

def conn(path=":memory:"):
    db = sqlite3.connect(path, isolation_level=None)
    db.enable_load_extension(True); db.load_extension(ext)
    return db

def timed(db, sql):
    t0 = time.perf_counter(); db.execute(sql).fetchall(); return time.perf_counter() - t0

def report(name, unit, sizes, run):
    print(f"== {name} (cost per {unit})")
    prev = first = None
    for n in sizes:
        t = min(run(n) for _ in range(2))   # best of two: the machine is shared
        per = t / n
        flag = ""
        if prev is not None and per > 2 * prev: flag = "  SUPERLINEAR"
        base = "" if first is None else f"  x{t / first:8.1f} of baseline"
        units = "children" if unit == "child" else unit + "s"
        print(f"  {n:>9} {units:8} {t * 1000:10.1f} ms  {per * 1e6:10.2f} us/{unit}{base}"
              f"  per-unit x{per / prev if prev else 1:5.2f}{flag}")
        prev = per
        if first is None: first = t

def sizes(base, cap=steps):
    return [base * 10 ** k for k in range(cap + 1)]

def rules(n):
    db = conn()
    db.execute("SELECT rules FROM telem_policy_import('tables: {}')").fetchall()
    db.execute(f"CREATE TABLE seq AS WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < {n}) SELECT n FROM i")
    db.execute("INSERT INTO telem_retention(table_name, kind, days, time_column) SELECT 't' || n, 'days', 30, 'c' FROM seq")
    return timed(db, "UPDATE telem_retention SET days = days + 1")

def tables(n):
    db = conn()
    y = "tables:\n" + "".join(f"  t{i}: {{kind: days, days: 30, time_column: at}}\n" for i in range(n))
    db.execute("SELECT rules FROM telem_policy_import(?)", (y,)).fetchall()
    for i in range(n):
        db.execute(f"CREATE TABLE t{i}(id INTEGER PRIMARY KEY, at TEXT)")
    return timed(db, "SELECT sum(eligible_rows) FROM telem_prune_plan('2026-01-01T00:00:00Z')")

def scans(n):
    db = conn()
    db.execute("CREATE TABLE research_metrics(id INTEGER PRIMARY KEY, session_id TEXT, metric_type TEXT, metric_value REAL, metadata_json TEXT, created_at TEXT)")
    db.execute("INSERT INTO research_metrics(session_id, metric_type, created_at) WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 20000) SELECT 's', 'm', datetime('2024-01-01', '+' || (n % 700) || ' days') FROM i")
    db.execute(f"CREATE TABLE k AS WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < {n}) SELECT n FROM i")
    return timed(db, "SELECT sum((SELECT eligible_rows FROM telem_prune_plan('2026-01-01T00:00:00Z') WHERE table_name = 'research_metrics' AND k.n > 0)) FROM k")

def prune_db(name, ddl, fill):
    path = os.path.join(tmp, name)
    for f in (path, path + "-wal", path + "-shm"):
        if os.path.exists(f): os.remove(f)
    db = conn(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(ddl)
    db.executescript("BEGIN;\n" + fill + "\nCOMMIT;")
    return db

def children(c):
    db = prune_db("children.db", """
      CREATE TABLE p(id INTEGER PRIMARY KEY, at TEXT);
      CREATE TABLE c(id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id) ON DELETE CASCADE, x TEXT);
      CREATE INDEX c_pid ON c(pid);""", f"""
      INSERT INTO p(id, at) WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 400)
        SELECT n, CASE WHEN n % 2 THEN '2020-01-01' ELSE '2025-12-01' END FROM i;
      INSERT INTO c(pid, x) WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < {c} - 1)
        SELECT p.id, 'payload' FROM p, i;""")
    db.execute("SELECT rules FROM telem_policy_import('tables:\n  p: {kind: days, days: 365, time_column: at}\n')").fetchall()
    return timed(db, "SELECT count(*) FROM telem_prune_apply('p', NULL, '2026-01-01T00:00:00Z')")

def nofk_idx(n):
    db = prune_db("nofk.db", """
      CREATE TABLE p(id INTEGER PRIMARY KEY, at TEXT);
      CREATE TABLE c(id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id) ON DELETE CASCADE, x TEXT);""", f"""
      INSERT INTO p(id, at) WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < {n})
        SELECT n, CASE WHEN n % 2 THEN '2020-01-01' ELSE '2025-12-01' END FROM i;
      INSERT INTO c(pid, x) SELECT id, 'payload' FROM p;""")
    db.execute("PRAGMA foreign_keys = OFF")
    db.execute("SELECT rules FROM telem_policy_import('tables:\n  p: {kind: days, days: 365, time_column: at}\n')").fetchall()
    return timed(db, "SELECT count(*) FROM telem_prune_apply('p', NULL, '2026-01-01T00:00:00Z')")

def rows(n):
    db = prune_db("rows.db", """
      CREATE TABLE research_metrics (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL,
        metric_type TEXT NOT NULL, metric_value REAL, metadata_json TEXT,
        created_at TEXT NOT NULL DEFAULT (datetime('now')));
      CREATE INDEX idx_research_metrics_session ON research_metrics(session_id, metric_type);""", f"""
      INSERT INTO research_metrics(session_id, metric_type, metadata_json, created_at)
      WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < {n})
      SELECT 'sess-' || (n % 977), 'm', '{{"k":1}}', datetime('2024-01-01', '+' || (((n * 7919) % {n}) * 63072000 / {n}) || ' seconds') FROM i;""")
    db.execute("PRAGMA synchronous=NORMAL")
    return timed(db, "SELECT count(*) FROM telem_prune_apply('research_metrics', NULL, '2026-01-01T00:00:00Z')")

WRITER = r"""
import os, sqlite3, sys, time
db, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
con = sqlite3.connect(db, timeout=10.0, isolation_level=None)
waits = []; nxt = time.monotonic()
while not os.path.exists(stop):
    t0 = time.monotonic()
    con.execute("INSERT INTO w(x) VALUES (1)")
    waits.append((time.monotonic() - t0) * 1000.0)
    nxt += 0.005; d = nxt - time.monotonic()
    if d > 0: time.sleep(d)
    else: nxt = time.monotonic()
waits.sort()
open(out, "w").write("%d %.1f %.1f" % (len(waits), waits[-1], waits[int(len(waits) * 0.99)]))
"""

def wait_by_children(c):
    import subprocess
    db = prune_db("wait.db", """
      CREATE TABLE p(id INTEGER PRIMARY KEY, at TEXT);
      CREATE TABLE c(id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id) ON DELETE CASCADE, x TEXT);
      CREATE INDEX c_pid ON c(pid);
      CREATE TABLE w(id INTEGER PRIMARY KEY, x);""", f"""
      INSERT INTO p(id, at) WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 40)
        SELECT n, CASE WHEN n % 2 THEN '2020-01-01' ELSE '2025-12-01' END FROM i;
      INSERT INTO c(pid, x) WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < {c} - 1)
        SELECT p.id, 'some payload text' FROM p, i;""")
    db.execute("SELECT rules FROM telem_policy_import('tables:\n  p: {kind: days, days: 365, time_column: at}\n')").fetchall()
    db.execute("PRAGMA busy_timeout = 10000")
    path = os.path.join(tmp, "wait.db"); stop = os.path.join(tmp, "stop"); out = os.path.join(tmp, "wait.out")
    if os.path.exists(stop): os.remove(stop)
    w = subprocess.Popen(["/usr/bin/python3", "-c", WRITER, path, stop, out])
    time.sleep(0.4)
    t = timed(db, "SELECT count(*) FROM telem_prune_apply('p', NULL, '2026-01-01T00:00:00Z')")
    time.sleep(0.2); open(stop, "w").close(); w.wait()
    n, mx, p99 = open(out).read().split()
    flag = "  OVER 50 ms" if float(mx) > 50 else ""
    print(f"  {c:>9} children/parent  prune {t * 1000:8.1f} ms  writer {n} inserts, max {mx} ms, p99 {p99} ms{flag}")

report("rules: UPDATE every rule of telem_retention", "rule", sizes(10), rules)
report("tables: telem_prune_plan with counts", "table", sizes(10, min(steps, 2)), tables)
report("scans: telem_prune_plan scanned N times in one statement", "scan", sizes(1, min(steps, 2)), scans)
report("children per parent: prune of 200 old parents", "child", sizes(1), children)
report("child without an index on its foreign key: prune", "parent", sizes(1000, min(steps, 2)), nofk_idx)
report("rows: research_metrics as Vox creates it, shuffled, half old", "row", sizes(10000, min(steps, 2)), rows)
def wait_floor(secs):
    import subprocess
    prune_db("floor.db", "CREATE TABLE w(id INTEGER PRIMARY KEY, x);", "")
    path = os.path.join(tmp, "floor.db"); stop = os.path.join(tmp, "stop"); out = os.path.join(tmp, "wait.out")
    if os.path.exists(stop): os.remove(stop)
    w = subprocess.Popen(["/usr/bin/python3", "-c", WRITER, path, stop, out])
    time.sleep(secs); open(stop, "w").close(); w.wait()
    n, mx, p99 = open(out).read().split()
    print(f"  {'no prune':>26}  {secs * 1000:8.1f} ms  writer {n} inserts, max {mx} ms, p99 {p99} ms (this machine's floor)")

print("== wait: a 5 ms writer during a prune of 20 old parents, by children per parent (target max <= 50 ms)")
wait_floor(3)
for c in (1, 100, 10000):
    wait_by_children(c)
PY
