#!/usr/bin/env bash
# prune_differential.sh -- telem_prune_apply against an independent oracle.
#
# Random cases (seeded; the seed is printed): a research_metrics-like table
# (metric_type, session_id, created_at: ISO text, or INTEGER milliseconds
# with ms_days rules; sometimes an index on created_at and
# rows in time order, for keyed batches) and a ci_completion_run-like table
# (run_kind, metric_type, finished_at, an INTEGER tier) with ON DELETE CASCADE children, one
# with an index on its key and one without (sometimes keyed by a UNIQUE text
# column instead of the rowid), sometimes a grandchild or an ON DELETE SET
# NULL child (then nothing of the tree may go).  Rows
# hold timestamps in the ISO forms the retention doc says compare by instant
# (space or T, Z, fractional seconds, +hh:mm offsets), many of them within a
# millisecond/second/day of a cutoff, some NULL; metric types come from a
# small alphabet so that globs overlap; runs have 0, 1 or many children.
# A random valid policy gives each table a default rule and 0-3 filtered
# rules (metric_types globs and/or where column = value; days, keep_forever,
# manual), children sometimes listed as cascade rules, sometimes found from
# the schema.  The expected survivors come from a Python oracle written from
# docs/architecture/retention-and-sensitivity.md ("How rules of one table
# compose", "What counts as older", cascade children), not from the plan's
# SQL.  telem_prune_apply runs with batch_rows 1, 2, 3, 7 or NULL, foreign
# keys on or off, for every table or one, in the caller's transaction or
# not, on a file (batches commit on a second connection) or in
# memory (savepoints); the surviving rowids of every table must be exactly
# the oracle's, no child may be orphaned, and the plan's counts (before the
# apply) must agree with the oracle where the docs define them.
# (A row that several filters let go is counted in each of those rules'
# eligible_rows and cascade_rows, while the apply deletes it once: per rule
# the count must lie between the rows only that rule governs and the rows
# it matches that go.)  With the ?3/:tfN collision of 6312acd put back in
# ext/sql/prune_apply.c, the default run fails at case 10 (a run kept by a
# 90-day filter `metric_types: ["*.b"], where: {tier: 2}` loses its finding:
# the limit overwrote the filter's integer) and shrinks it to one run, one
# finding and two rules.
# On a mismatch the case is shrunk (rules and rows dropped while it still
# fails) and printed as a SQL script for the sqlite3 shell, then it fails.
# Case n of a run is generated from seed + n alone, so a failing case reruns
# by itself with PRUNE_DIFF_SEED=<its seed> PRUNE_DIFF_CASES=1.
# Environment: VOXTELEM_SO (set by make test), PRUNE_DIFF_SEED (default
# 20261204, the same cases every run; "random" picks one and prints it),
# PRUNE_DIFF_CASES (default 800: 6-12 s on 2 busy cores), PRUNE_DIFF_OUT (where the
# reproduction script goes; default build/prune_differential_repro.sql),
# PRUNE_DIFF_SHRINK_SECONDS (time spent shrinking a failure; default 60).
set -euo pipefail
SO=${VOXTELEM_SO:-$PWD/voxtelem.so}
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
exec "$PYTHON" - "$SO" <<'PY'
import json, os, random, re, sqlite3, sys, tempfile, shutil, time
from datetime import datetime, timedelta, timezone

SO = sys.argv[1]
_seed = os.environ.get("PRUNE_DIFF_SEED") or "20261204"
SEED = random.SystemRandom().randrange(1, 2**31) if _seed == "random" else int(_seed)
CASES = int(os.environ.get("PRUNE_DIFF_CASES") or 800)
OUT = os.environ.get("PRUNE_DIFF_OUT") or "build/prune_differential_repro.sql"
print(f"prune_differential: seed {SEED} (PRUNE_DIFF_SEED={SEED}), {CASES} cases", flush=True)

UTC = timezone.utc
TYPES = ["fixture.a", "fixture.b", "fixture.a.x", "orch.dispatch", "audit.x", "research", "a.b"]
GLOBS = ["fixture.*", "fixture.a*", "*.a", "*.x", "orch.dispatch", "audit.*", "a.*", "*a*",
         "research", "fixture.a.x", "nomatch.*", "*.b"]
SESSIONS = ["s1", "s2", "it's"]
RUN_KINDS = ["pr", "audit", "nightly"]
DAYS = [1, 2, 30, 90, 365]
OFFSETS = [("+02:00", 120), ("-05:00", -300), ("+05:30", 330), ("+14:00", 840), ("-12:00", -720)]

# ---------------------------------------------------------------- generation

def fmt(inst, r):
    """inst (aware UTC datetime) as one of the documented ISO forms."""
    form = r.randrange(6)
    if form == 0:
        return inst.strftime("%Y-%m-%d %H:%M:%S") if inst.microsecond == 0 else \
            inst.strftime("%Y-%m-%d %H:%M:%S.") + f"{inst.microsecond // 1000:03d}"
    if form == 1:
        return inst.strftime("%Y-%m-%dT%H:%M:%S") + (f".{inst.microsecond // 1000:03d}" if inst.microsecond else "") + "Z"
    if form == 2:
        return inst.strftime("%Y-%m-%dT%H:%M:%S.") + f"{inst.microsecond // 1000:03d}Z"
    if form == 3:
        return inst.strftime("%Y-%m-%d %H:%M:%S.") + f"{inst.microsecond // 1000:03d}"
    name, mins = r.choice(OFFSETS)
    local = inst + timedelta(minutes=mins)
    frac = f".{inst.microsecond // 1000:03d}" if (inst.microsecond or form == 5) else ""
    return local.strftime("%Y-%m-%dT%H:%M:%S") + frac + name

def parse(text):
    """The instant of a documented ISO form (oracle side; no SQLite)."""
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,3}))?(Z|[+-]\d\d:\d\d)?", text)
    assert m, text
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    ms = int((m.group(7) or "0").ljust(3, "0"))
    t = datetime(y, mo, d, h, mi, s, ms * 1000, tzinfo=UTC)
    z = m.group(8)
    if z and z != "Z":
        sign = 1 if z[0] == "+" else -1
        t -= sign * timedelta(hours=int(z[1:3]), minutes=int(z[4:6]))
    return t

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

def rand_time(r, now, ms=False):
    if r.random() < 0.1:
        return None
    if not ms and r.random() < 0.03:   # the doc: text that does not start like a date is never deleted
        return r.choice(["yesterday", ""])
    d = r.choice(DAYS)
    base = now - timedelta(days=d)
    delta = r.choice([timedelta(0), timedelta(milliseconds=1), -timedelta(milliseconds=1),
                      timedelta(seconds=1), -timedelta(seconds=1), timedelta(hours=r.randint(-30, 30)),
                      timedelta(days=r.randint(-400, 400)), timedelta(minutes=r.randint(-1000, 1000))])
    if ms:   # ms_days: INTEGER Unix milliseconds
        return (base + delta - EPOCH) // timedelta(milliseconds=1)
    return fmt(base + delta, r)

def gen_filter(r, table):
    f = {}
    while not f:
        if r.random() < 0.7:
            f["metric_types"] = sorted(set(r.sample(GLOBS, r.randint(1, 3))))
        if r.random() < 0.4:
            if table == "rm":
                f["where"] = {"session_id": r.choice(SESSIONS)}
            else:
                w = r.choice([["run_kind"], ["tier"], ["run_kind", "tier"]])
                f["where"] = {k: (r.choice(RUN_KINDS) if k == "run_kind" else r.randint(1, 3)) for k in w}
    return f

def gen_rule(r, filt):
    kind = r.choices(["days", "keep_forever", "manual"], [6, 1, 1])[0]
    return {"kind": kind, "days": r.choice(DAYS) if kind == "days" else None, "filter": filt}

def gen_rules(r, table):
    rules = [gen_rule(r, None)]
    seen = set()
    for _ in range(r.randint(0, 3)):
        f = gen_filter(r, table)
        key = repr(f)
        if key in seen:
            continue
        seen.add(key)
        rules.append(gen_rule(r, f))
    return rules

def gen_case(seed):
    r = random.Random(seed)
    now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=r.choice([0, 0, r.randrange(86400000)]))
    c = {"seed": seed, "now": now, "rm": None, "run": None}
    if r.random() < 0.85:
        rows = []
        ms = r.random() < 0.2   # created_at INTEGER milliseconds, kind ms_days
        # now and then a larger table: adaptive batches grow, keyed batches
        # see a long index range
        for i in range(r.randint(0, 40) if r.random() < 0.96 else r.randint(500, 2000)):
            mt = None if r.random() < 0.05 else r.choice(TYPES)
            rows.append([i + 1, mt, r.choice(SESSIONS + [None]), rand_time(r, now, ms)])
        index = r.random() < 0.4
        if index and r.random() < 0.7:   # written in time order: keyed batches
            rows.sort(key=lambda x: (x[3] not in (None, "", "yesterday"),
                                     x[3] if ms and x[3] is not None else
                                     parse(x[3]) if x[3] not in (None, "", "yesterday") else 0))
            for i, x in enumerate(rows):
                x[0] = i + 1
        c["rm"] = {"rows": rows, "index": index, "ms": ms, "rules": gen_rules(r, "rm")}
    if r.random() < 0.85:
        runs, c1, c2, gc = [], [], [], []
        for i in range(r.randint(0, 20) if r.random() < 0.97 else r.randint(100, 300)):
            rid = i + 1
            runs.append([rid, r.choice(RUN_KINDS), r.choice(TYPES + [None]), rand_time(r, now),
                         r.choice([1, 2, 3, None])])
            for kids, cap in ((c1, 12), (c2, 4)):
                n = r.choice([0, 1, 1, 2, r.randint(3, cap)])
                for _ in range(n):
                    kids.append([len(kids) + 1, rid])
        shuffle_ids = r.random() < 0.3   # children's rowids out of parent order
        if shuffle_ids:
            for kids in (c1, c2):
                r.shuffle(kids)
                for j, k in enumerate(kids):
                    k[0] = j + 1
        grandchild = r.random() < 0.15
        if grandchild:
            for f in c1:
                for _ in range(r.choice([0, 1, 2])):
                    gc.append([len(gc) + 1, f[0]])
        # a child whose key is ON DELETE SET NULL: its parent is unlisted_child
        setnull = r.random() < 0.07
        c["run"] = {"runs": runs, "c1": c1, "c2": c2, "gc": gc, "grandchild": grandchild,
                    "setnull": setnull,
                    # snapshot's key references run(uid), a UNIQUE text column, not the rowid
                    "uid": r.random() < 0.25,
                    "list_c1": r.random() < 0.5, "list_c2": r.random() < 0.5,
                    "rules": gen_rules(r, "run")}
    c["batch"] = r.choice([1, 2, 3, 7, None])
    c["fk"] = r.random() < 0.5
    c["memory"] = r.random() < 0.25
    # every table at once, or one table (the other must stay untouched)
    c["only"] = r.choice([None, None, "rm", "run"])
    # in the caller's own transaction: savepoints on the caller's connection
    c["txn"] = r.random() < 0.15
    return c

# ---------------------------------------------------------------- SQL and YAML

def q(v):
    if v is None:
        return "NULL"
    if isinstance(v, int):
        return str(v)
    return "'" + v.replace("'", "''") + "'"

def schema_sql(c):
    out = []
    if c["rm"] is not None:
        out.append("CREATE TABLE rm(id INTEGER PRIMARY KEY AUTOINCREMENT, metric_type TEXT, "
                   f"session_id TEXT, metric_value REAL, created_at {'INTEGER' if c['rm']['ms'] else 'TEXT'});")
        if c["rm"]["index"]:
            out.append("CREATE INDEX rm_created ON rm(created_at);")
        for x in c["rm"]["rows"]:
            out.append(f"INSERT INTO rm(id, metric_type, session_id, created_at) VALUES({x[0]}, {q(x[1])}, {q(x[2])}, {q(x[3])});")
    if c["run"] is not None:
        R = c["run"]
        out.append("CREATE TABLE run(id INTEGER PRIMARY KEY AUTOINCREMENT, run_kind TEXT NOT NULL, "
                   "metric_type TEXT, finished_at TEXT, tier INTEGER, uid TEXT UNIQUE);")
        out.append("CREATE TABLE finding(id INTEGER PRIMARY KEY AUTOINCREMENT, "
                   "run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE, fp TEXT);")
        out.append("CREATE INDEX finding_run ON finding(run_id, fp);")
        if R["uid"]:
            out.append("CREATE TABLE snapshot(id INTEGER PRIMARY KEY, "
                       "run_id TEXT NOT NULL REFERENCES run(uid) ON DELETE CASCADE, n INTEGER);")
        else:
            out.append("CREATE TABLE snapshot(id INTEGER PRIMARY KEY, "
                       "run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE, n INTEGER);")
        if R["setnull"]:
            out.append("CREATE TABLE link(id INTEGER PRIMARY KEY, "
                       "run_id INTEGER REFERENCES run(id) ON DELETE SET NULL);")

        if R["grandchild"]:
            out.append("CREATE TABLE note(id INTEGER PRIMARY KEY, "
                       "finding_id INTEGER NOT NULL REFERENCES finding(id) ON DELETE CASCADE);")
        for x in R["runs"]:
            out.append(f"INSERT INTO run VALUES({x[0]}, {q(x[1])}, {q(x[2])}, {q(x[3])}, {q(x[4])}, 'u{x[0]}');")
        for k in R["c1"]:
            out.append(f"INSERT INTO finding VALUES({k[0]}, {k[1]}, 'fp{k[0]}');")
        for k in R["c2"]:
            key = f"'u{k[1]}'" if R["uid"] else k[1]
            out.append(f"INSERT INTO snapshot VALUES({k[0]}, {key}, {k[0]});")
        for g in R["gc"]:
            out.append(f"INSERT INTO note VALUES({g[0]}, {g[1]});")
        if R["setnull"]:
            out.append("INSERT INTO link(id, run_id) SELECT id, id FROM run ORDER BY id LIMIT 2;")
    return "\n".join(out)

def yq(v):
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'

def rule_yaml(rule, tcol, ms=False):
    parts = []
    f = rule["filter"]
    if f and "metric_types" in f:
        parts.append("metric_types: [" + ", ".join(yq(g) for g in f["metric_types"]) + "]")
    if f and "where" in f:
        parts.append("where: {" + ", ".join(f"{k}: {v if isinstance(v, int) else yq(v)}" for k, v in f["where"].items()) + "}")
    parts.append("kind: " + ("ms_days" if ms and rule["kind"] == "days" else rule["kind"]))
    if rule["kind"] == "days":
        parts.append(f"days: {rule['days']}")
    parts.append("time_column: " + tcol)
    return "    - {" + ", ".join(parts) + "}"

def policy_yaml(c):
    lines = ["tables:"]
    if c["rm"] is not None:
        lines.append("  rm:")
        lines += [rule_yaml(x, "created_at", c["rm"]["ms"]) for x in c["rm"]["rules"]]
    if c["run"] is not None:
        lines.append("  run:")
        lines += [rule_yaml(x, "finished_at") for x in c["run"]["rules"]]
        if c["run"]["list_c1"]:
            lines.append("  finding: {kind: cascade, cascade_from: run}")
        if c["run"]["list_c2"]:
            lines.append("  snapshot: {kind: cascade, cascade_from: run}")
    if len(lines) == 1:
        return "tables: {}\n"
    return "\n".join(lines) + "\n"

# ---------------------------------------------------------------- the oracle

def glob_match(g, s):
    return re.fullmatch(".*".join(re.escape(p) for p in g.split("*")), s, re.S) is not None

def filter_matches(f, row):
    """row: dict column -> value.  A NULL in a filter column matches nothing."""
    if "metric_types" in f:
        mt = row["metric_type"]
        if mt is None or not any(glob_match(g, mt) for g in f["metric_types"]):
            return False
    for col, val in f.get("where", {}).items():
        if row[col] is None or row[col] != val:
            return False
    return True

def lets_go(rule, t, now, ms=False):
    if rule["kind"] != "days" or t is None or t in ("yesterday", ""):
        return False
    if ms:
        return t < (now - timedelta(days=rule["days"]) - EPOCH) // timedelta(milliseconds=1)
    return parse(t) < now - timedelta(days=rule["days"])

def oracle_table(rules, rows, now, ms=False):
    """rows: list of (rowid, dict).  Returns (set of rowids that go,
    {rule index: rowids that only it governs and that go},
    {rule index: rowids it matches that go})."""
    gone, single, upper = set(), {}, {}
    for rid, row in rows:
        matched = [i for i, x in enumerate(rules) if x["filter"] and filter_matches(x["filter"], row)]
        governing = matched if matched else [i for i, x in enumerate(rules) if not x["filter"]]
        if governing and all(lets_go(rules[i], row["t"], now, ms) for i in governing):
            gone.add(rid)
            for i in governing:
                upper.setdefault(i, set()).add(rid)
            if len(governing) == 1:
                single.setdefault(governing[0], set()).add(rid)
    return gone, single, upper

def blocked(c):
    """The run tree has a table that makes run not ok (the doc's unlisted_child / child_not_ok)."""
    return c["run"]["grandchild"] or c["run"]["setnull"]

def pruned(c):
    """The table argument of telem_prune_apply: NULL, or a table that is in the case."""
    return c["only"] if c["only"] and c[c["only"]] is not None else None

def oracle(c):
    now = c["now"]
    exp = {}
    if c["rm"] is not None:
        rows = [(x[0], {"metric_type": x[1], "session_id": x[2], "t": x[3]}) for x in c["rm"]["rows"]]
        gone, single, upper = oracle_table(c["rm"]["rules"], rows, now, c["rm"]["ms"])
        exp["rm"] = {"all": {x[0] for x in c["rm"]["rows"]}, "gone": gone, "single": single, "upper": upper}
    if c["run"] is not None:
        R = c["run"]
        rows = [(x[0], {"run_kind": x[1], "metric_type": x[2], "t": x[3], "tier": x[4]}) for x in R["runs"]]
        gone, single, upper = oracle_table(R["rules"], rows, now)
        if R["grandchild"] or R["setnull"]:
            # the doc: a child whose key is not ON DELETE CASCADE makes its
            # parent unlisted_child; and: a cascade child with children of its own makes its
            # parent unlisted_child (unlisted child) or child_not_ok (listed:
            # the grandchild is then an unlisted child of the child); either
            # way nothing of the tree goes
            gone, single, upper = set(), {}, {}
        exp["run"] = {"all": {x[0] for x in R["runs"]}, "gone": gone, "single": single, "upper": upper}
        exp["finding"] = {"all": {k[0] for k in R["c1"]}, "gone": {k[0] for k in R["c1"] if k[1] in gone}}
        exp["snapshot"] = {"all": {k[0] for k in R["c2"]}, "gone": {k[0] for k in R["c2"] if k[1] in gone}}
        if R["grandchild"]:
            exp["note"] = {"all": {g[0] for g in R["gc"]}, "gone": set()}
        if R["setnull"]:
            ids = sorted(x[0] for x in R["runs"])[:2]
            exp["link"] = {"all": set(ids), "gone": set()}
    return exp

def oracle_applied(c):
    """What telem_prune_apply(table) leaves: a table it was not asked for
    (and that table's cascades) is untouched."""
    exp = oracle(c)
    only = pruned(c)
    if only:
        for t, e in exp.items():
            if (t == "rm") != (only == "rm"):
                e["gone"] = set()
    return exp

# ---------------------------------------------------------------- the run

NOW_FMT = lambda now: now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"

def connect(path):
    db = sqlite3.connect(path, isolation_level=None)
    db.enable_load_extension(True)
    db.load_extension(SO[:-3] if SO.endswith(".so") else SO)
    db.enable_load_extension(False)
    return db

def run_case(c, tmp):
    """Returns a list of problems (empty: the case passed)."""
    exp = oracle(c)
    path = ":memory:" if c["memory"] else os.path.join(tmp, "c.db")
    if not c["memory"]:
        for s in ("", "-wal", "-shm", "-journal"):
            if os.path.exists(path + s):
                os.unlink(path + s)
    db = connect(path)
    try:
        if not c["memory"]:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=OFF")
        db.execute(f"PRAGMA foreign_keys={'ON' if c['fk'] else 'OFF'}")
        db.executescript("BEGIN;\n" + schema_sql(c) + "\nCOMMIT;")
        db.execute("SELECT * FROM telem_policy_import(?)", (policy_yaml(c),)).fetchall()
        now = NOW_FMT(c["now"])
        problems = []
        plan = db.execute("SELECT table_name, kind, filter, eligible_rows, cascade_rows, status "
                          "FROM telem_prune_plan(?)", (now,)).fetchall()
        problems += check_plan(c, exp, plan)
        if c["txn"]:
            db.execute("BEGIN")
        db.execute("SELECT * FROM telem_prune_apply(?, ?, ?)", (pruned(c), c["batch"], now)).fetchall()
        if c["txn"]:
            db.execute("COMMIT")
        for t, e in oracle_applied(c).items():
            have = {x[0] for x in db.execute(f"SELECT rowid FROM {t}")}
            want = e["all"] - e["gone"]
            if have != want:
                problems.append(f"{t}: survivors differ: deleted but kept by the oracle {sorted(want - have)}, "
                                f"kept but deleted by the oracle {sorted(have - want)}")
        orphans = db.execute("PRAGMA foreign_key_check").fetchall()
        if orphans:
            problems.append(f"orphans: {orphans[:10]}")
        return problems
    finally:
        db.close()

def check_plan(c, exp, plan):
    """eligible_rows: the docs define it per rule "after the composition";
    a row only one rule governs is that rule's, a row several filters match
    and that goes is counted by one of them (which is not documented), so:
    per table the sum is exact, per rule it lies between the rows only it
    governs and the rows it matches that go (the sum: between the rows
    that go and the rows counted once per rule that lets them go).  Cascade rows: the child rows
    of eligible parents; cascade_rows on the parent rules sum to them."""
    problems = []
    by = {}
    for row in plan:
        by.setdefault(row[0], []).append(row)
    for t in ("rm", "run"):
        if t not in exp:
            continue
        rules = c[t]["rules"]
        prow = by.get(t, [])
        if len(prow) != len(rules):
            problems.append(f"plan: {t} has {len(prow)} rows, policy {len(rules)} rules")
            continue
        total = 0
        for tn, kind, filt, elig, casc, status in prow:
            i = rule_index(rules, filt)
            if i is None:
                problems.append(f"plan: {t}: no rule for filter {filt}")
                continue
            want_ok = rules[i]["kind"] == "days" and not (t == "run" and blocked(c))
            if (status == "ok") != want_ok:
                problems.append(f"plan: {t} {filt}: status {status}")
                continue
            if status != "ok":
                continue
            lo = len(exp[t]["single"].get(i, ()))
            hi = len(exp[t]["upper"].get(i, ()))
            if not (lo <= (elig or 0) <= hi):
                problems.append(f"plan: {t} {filt}: eligible_rows {elig}, oracle {lo}..{hi}")
            total += elig or 0
        # a row that several filters match and that goes is counted by each
        # of them in the plan (observed; the docs do not say), so the sum is
        # exact only when no such row exists
        lo = len(exp[t]["gone"])
        hi = sum(len(v) for v in exp[t]["upper"].values())
        if not (lo <= total <= hi):
            problems.append(f"plan: {t}: eligible_rows sum to {total}, oracle {lo}..{hi}")
        if t == "run" and not blocked(c):
            csum = sum(r[4] or 0 for r in prow if r[5] == "ok")
            R = c["run"]
            kids = lambda ids: sum(1 for k in R["c1"] + R["c2"] if k[1] in ids)
            lo = kids(exp["run"]["gone"])
            hi = sum(kids(v) for v in exp["run"]["upper"].values())
            if not (lo <= csum <= hi):
                problems.append(f"plan: run: cascade_rows sum to {csum}, oracle {lo}..{hi}")
            for tn, kind, filt, elig, casc, status in prow:
                i = rule_index(rules, filt)
                if status == "ok" and i is not None and not (
                        kids(exp["run"]["single"].get(i, ())) <= (casc or 0) <= kids(exp["run"]["upper"].get(i, ()))):
                    problems.append(f"plan: run {filt}: cascade_rows {casc}, oracle "
                                    f"{kids(exp['run']['single'].get(i, ()))}..{kids(exp['run']['upper'].get(i, ()))}")
            for child in ("finding", "snapshot"):
                crow = by.get(child, [])
                celig = sum(r[3] or 0 for r in crow if r[5] == "ok")
                if celig != len(exp[child]["gone"]):
                    problems.append(f"plan: {child}: eligible_rows {celig}, oracle {len(exp[child]['gone'])}")
    return problems

def canon(f):
    if not f:
        return None
    d = {}
    if "metric_types" in f:
        d["metric_types"] = sorted(set(f["metric_types"]))
    if "where" in f:
        # the canonical JSON writes an integer value as text ("tier":"1")
        d["where"] = {k: str(v) for k, v in sorted(f["where"].items())}
    return d

def rule_index(rules, filt):
    want = json.loads(filt) if filt else None
    for i, x in enumerate(rules):
        if canon(x["filter"]) == want:
            return i
    return None

# ---------------------------------------------------------------- shrinking

def shrinks(c):
    """Smaller variants of a failing case, biggest cuts first."""
    import copy
    for t in ("rm", "run"):
        if c[t] is not None:
            d = copy.deepcopy(c); d[t] = None; yield d
    for t in ("rm", "run"):
        if c[t] is None:
            continue
        for i in range(len(c[t]["rules"])):
            d = copy.deepcopy(c); del d[t]["rules"][i]
            if d[t]["rules"]:
                yield d
    def chunks(n):   # halves, quarters, ... then single rows
        size = n // 2
        while size >= 1:
            for i in range(0, n, size):
                yield i, min(n, i + size)
            size //= 2
    if c["rm"] is not None:
        rows = c["rm"]["rows"]
        for i, j in chunks(len(rows)):
            d = copy.deepcopy(c); del d["rm"]["rows"][i:j]; yield d
    if c["run"] is not None:
        R = c["run"]
        for i, j in chunks(len(R["runs"])):
            d = copy.deepcopy(c); rids = {x[0] for x in R["runs"][i:j]}
            del d["run"]["runs"][i:j]
            d["run"]["c1"] = [k for k in R["c1"] if k[1] not in rids]
            d["run"]["c2"] = [k for k in R["c2"] if k[1] not in rids]
            keep = {k[0] for k in d["run"]["c1"]}
            d["run"]["gc"] = [g for g in R["gc"] if g[1] in keep]
            yield d
        for key in ("c1", "c2"):
            for i in range(len(R[key])):
                d = copy.deepcopy(c); del d["run"][key][i]
                keep = {k[0] for k in d["run"]["c1"]}
                d["run"]["gc"] = [g for g in d["run"]["gc"] if g[1] in keep]
                yield d

def shrink(c, tmp, budget=float(os.environ.get("PRUNE_DIFF_SHRINK_SECONDS") or 60)):
    t0 = time.time()
    progress = True
    while progress and time.time() - t0 < budget:
        progress = False
        for d in shrinks(c):
            if time.time() - t0 > budget:
                break
            try:
                bad = run_case(d, tmp)
            except sqlite3.Error as e:
                bad = [f"error: {e}"]
            if bad:
                c, progress = d, True
                break
    return c

def repro(c, problems):
    yaml = policy_yaml(c)
    now = NOW_FMT(c["now"])
    batch = "NULL" if c["batch"] is None else str(c["batch"])
    only = q(pruned(c))
    lines = [f"-- prune_differential reproduction: case seed {c['seed']} (run seed {SEED}),",
             f"-- {'in memory' if c['memory'] else 'a file database (sqlite3 x.db < this; WAL)'}",
             "-- problems:"] + ["--   " + p for p in problems] + [
             ".load " + (SO[:-3] if SO.endswith(".so") else SO),
             "" if c["memory"] else "PRAGMA journal_mode=WAL;",
             f"PRAGMA foreign_keys={'ON' if c['fk'] else 'OFF'};",
             schema_sql(c),
             "SELECT * FROM telem_policy_import(" + q(yaml) + ");",
             f"SELECT table_name, quote(filter), eligible_rows, cascade_rows, status FROM telem_prune_plan('{now}');",
             "BEGIN;" if c["txn"] else "",
             f"SELECT * FROM telem_prune_apply({only}, {batch}, '{now}');",
             "COMMIT;" if c["txn"] else ""]
    for t in ("rm", "run", "finding", "snapshot", "note", "link"):
        if (t in ("rm",) and c["rm"] is not None) or (t != "rm" and c["run"] is not None and
                                                      (t != "note" or c["run"]["grandchild"]) and
                                                      (t != "link" or c["run"]["setnull"])):
            lines.append(f"SELECT '{t}', group_concat(rowid) FROM (SELECT rowid FROM {t} ORDER BY rowid);")
    lines.append("PRAGMA foreign_key_check;")
    return "\n".join(lines) + "\n"

# ---------------------------------------------------------------- main

tmp = tempfile.mkdtemp(prefix="prune_diff.")
t0 = time.time()
stats = {"batch": {}, "fk": 0, "memory": 0, "deleted": 0, "filtered": 0, "ms": 0, "txn": 0, "one": 0,
         "grandchild": 0}
try:
    for n in range(CASES):
        c = gen_case(SEED + n)
        try:
            problems = run_case(c, tmp)
        except sqlite3.Error as e:
            problems = [f"error: {e}"]
        if problems:
            print(f"prune_differential: FAIL: case {n} (case seed {SEED + n}; rerun alone with "
                  f"PRUNE_DIFF_SEED={SEED + n} PRUNE_DIFF_CASES=1):", file=sys.stderr)
            for p in problems:
                print("  " + p, file=sys.stderr)
            print("shrinking ...", file=sys.stderr, flush=True)
            small = shrink(c, tmp)
            try:
                sp = run_case(small, tmp)
            except sqlite3.Error as e:
                sp = [f"error: {e}"]
            text = repro(small, sp)
            os.makedirs(os.path.dirname(OUT) or ".", exist_ok=True)
            with open(OUT, "w") as fh:
                fh.write(text)
            print(f"---- minimal reproduction (also in {OUT}) ----\n{text}----", file=sys.stderr)
            sys.exit(1)
        e = oracle_applied(c)
        stats["batch"][c["batch"]] = stats["batch"].get(c["batch"], 0) + 1
        stats["fk"] += c["fk"]
        stats["memory"] += c["memory"]
        stats["ms"] += bool(c["rm"] and c["rm"]["ms"])
        stats["txn"] += c["txn"]
        stats["one"] += pruned(c) is not None
        stats["grandchild"] += bool(c["run"] and c["run"]["grandchild"])
        stats["deleted"] += sum(len(v["gone"]) for v in e.values())
        stats["filtered"] += sum(1 for t in ("rm", "run") if c[t] and len(c[t]["rules"]) > 1)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
print(f"prune_differential: ok: {CASES} cases in {time.time() - t0:.1f} s; batch_rows "
      + ", ".join(f"{k}: {v}" for k, v in sorted(stats['batch'].items(), key=lambda kv: str(kv[0])))
      + f"; foreign_keys on {stats['fk']}; in memory {stats['memory']}; "
      f"in a transaction {stats['txn']}; one table {stats['one']}; ms_days {stats['ms']}; "
      f"grandchild {stats['grandchild']}; tables with filtered rules {stats['filtered']}; "
      f"rows deleted {stats['deleted']}")
PY
