#!/usr/bin/python3
"""check_drift.py -- fail when code, contracts and docs disagree.

    tools/check_drift.py [--root DIR] [--so PATH]

DIR holds contracts/ and docs/ (the repository root, or a copy of it); PATH is
the built voxtelem.so.  Every guard prints what differs, exactly, and the
script exits 1 if any guard failed.  The guards:

  catalog     the .so registers a telem_* function or module that
              contracts/operations/catalog.yaml does not list, or the other
              way round; a function's argument counts or determinism differ
  index       a file under contracts/ is not in index.yaml, or index.yaml
              names a file that is not there (the registry refuses to load)
  schemas     a JSON Schema under contracts/ is not valid against its draft's
              meta-schema, checked with the project's own telem_validate
  taxonomy    a metric type of the taxonomy is missing from, or differs in,
              docs/architecture/taxonomy.md, or the other way round
  payloads    the taxonomy and the payload schemas disagree (see check_payloads;
              with VOXTELEM_VOX_TYPES_RS set, also Vox's METRIC_TYPE_* list)
  retention   a retention rule has no rationale, or differs from the table in
              docs/architecture/retention-and-sensitivity.md
  sensitivity a column class in contracts/db/column-sensitivity.yaml differs
              from the table in docs/architecture/retention-and-sensitivity.md
  sqldocs     a catalog entry has no section in docs/reference/sql.md
  regtables   the registration tables of ext/sql/*.c (what the entry point
              registers) differ from catalog.yaml in argument counts or
              determinism, or a feature table is not walked by ext/voxtelem.c
  layers      an engine (ext/engine/) touches a database: a SQLite routine
              other than the allocator and formatting helpers, or a header
              of the SQL side (core/conn.h, sql/*.h)

Uses Debian's python3 (its sqlite3 module can load extensions) and PyYAML.
"""
import argparse
import os
import re
import sqlite3
import sys

import yaml

SQLITE_DETERMINISTIC = 0x800
PROBE_MAX_ARGS = 5


class Report:
    def __init__(self):
        self.failed = []

    def run(self, name, check, *args):
        """Runs one guard; returns its extra result (if any)."""
        try:
            out = check(*args)
        except Missing as e:
            self.guard(name, [str(e)])
            return None
        if isinstance(out, tuple):
            self.guard(name, out[0])
            return out[1]
        self.guard(name, out)
        return None

    def guard(self, name, problems):
        if problems:
            self.failed.append(name)
            print(f"FAIL {name}:")
            for p in problems:
                print(f"  - {p}")
        else:
            print(f"ok   {name}")


def connect(so):
    db = sqlite3.connect(":memory:")
    db.enable_load_extension(True)
    db.load_extension(so[:-3] if so.endswith(".so") else so)
    db.enable_load_extension(False)
    return db


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


class Missing(Exception):
    pass


class Unloadable(Exception):
    """The contracts under check do not load: later guards cannot run."""


def read_doc(root, rel):
    """A file the guards compare against; a missing one is a drift problem."""
    try:
        return read(os.path.join(root, rel))
    except OSError as e:
        raise Missing(f"{rel} cannot be read: {e.strerror}")


def md_table_rows(text, first_header):
    """Rows of the first markdown table whose first header cell is first_header,
    as lists of cells with surrounding backticks removed."""
    rows, in_table = [], False
    for line in text.splitlines():
        if not line.startswith("|"):
            if in_table:
                break
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not in_table:
            if cells and cells[0] == first_header:
                in_table = True
            continue
        if set("".join(cells)) <= set("-: "):
            continue
        rows.append([c.strip("`") for c in cells])
    return rows


# ---- catalog -----------------------------------------------------------------

def accepted_arg_counts(db, name):
    """Argument counts a function accepts, found by calling it with NULLs.
    Our functions are registered with nArg -1 and check the count themselves,
    answering '<name>: expected ...' when it is wrong."""
    ok = []
    for n in range(PROBE_MAX_ARGS + 1):
        args = ", ".join(["NULL"] * n)
        try:
            db.execute(f"SELECT {name}({args})").fetchall()
            ok.append(n)
        except sqlite3.Error as e:
            msg = str(e)
            if f"{name}: expected" in msg or "wrong number of arguments" in msg:
                continue
            ok.append(n)  # the count was accepted; the NULLs were not
    return ok


def check_catalog(db, root):
    problems = []
    catalog = yaml.safe_load(read_doc(root, "contracts/operations/catalog.yaml")) or {}
    funcs = {f["name"]: f for f in catalog.get("functions", [])}
    mods = {m["name"]: m for m in catalog.get("virtual_tables", [])}
    reg_funcs = {}
    for name, narg, flags in db.execute(
            "SELECT name, narg, flags FROM pragma_function_list WHERE name LIKE 'telem\\_%' ESCAPE '\\'"):
        reg_funcs.setdefault(name, []).append((narg, flags))
    reg_mods = {r[0] for r in db.execute(
        "SELECT name FROM pragma_module_list WHERE name LIKE 'telem\\_%' ESCAPE '\\'")}
    for name in sorted(set(reg_funcs) - set(funcs)):
        problems.append(f"function {name} is registered by the .so but not in catalog.yaml")
    for name in sorted(set(funcs) - set(reg_funcs)):
        problems.append(f"function {name} is in catalog.yaml but the .so does not register it")
    for name in sorted(reg_mods - set(mods)):
        problems.append(f"virtual table {name} is registered by the .so but not in catalog.yaml")
    for name in sorted(set(mods) - reg_mods):
        problems.append(f"virtual table {name} is in catalog.yaml but the .so does not register it")
    for name in sorted(set(funcs) & set(reg_funcs)):
        entry = funcs[name]
        det = all(flags & SQLITE_DETERMINISTIC for _, flags in reg_funcs[name])
        if bool(entry.get("deterministic")) != det:
            problems.append(f"function {name}: catalog says deterministic={bool(entry.get('deterministic'))}, "
                            f"the .so registers deterministic={det}")
        want = sorted(entry.get("args", []))
        # Every scalar is safe to probe: side effects live in DIRECTONLY
        # table-valued functions (telem_use_contracts' scalar only errors).
        got = accepted_arg_counts(db, name)
        if got != want:
            problems.append(f"function {name}: catalog says argument counts {want}, the .so accepts {got}")
    return problems, catalog


# ---- index -------------------------------------------------------------------

def check_index(db, root):
    problems = []
    cdir = os.path.join(root, "contracts")
    try:
        db.execute("SELECT * FROM telem_use_contracts(?)", (cdir,)).fetchall()
    except sqlite3.Error as e:
        raise Unloadable(f"contracts/ does not load: {e}")
    listed = {r[0] for r in db.execute("SELECT path FROM telem_contracts")}
    present = set()
    for dirpath, dirnames, filenames in os.walk(cdir):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for fn in filenames:
            if fn.startswith("."):
                continue
            present.add(os.path.relpath(os.path.join(dirpath, fn), cdir))
    present.discard("index.yaml")
    for p in sorted(present - listed):
        problems.append(f"contracts/{p} is not registered in contracts/index.yaml")
    for p in sorted(listed - present):
        problems.append(f"contracts/index.yaml names contracts/{p}, which does not exist")
    return problems


# ---- schemas -----------------------------------------------------------------

META = {
    "http://json-schema.org/draft-04/schema#": "meta.draft-04",
    "http://json-schema.org/draft-04/schema": "meta.draft-04",
    "http://json-schema.org/draft-06/schema#": "meta.draft-06",
    "http://json-schema.org/draft-06/schema": "meta.draft-06",
    "http://json-schema.org/draft-07/schema#": "meta.draft-07",
    "http://json-schema.org/draft-07/schema": "meta.draft-07",
    "https://json-schema.org/draft/2019-09/schema": "meta.draft2019-09",
    "https://json-schema.org/draft/2020-12/schema": "meta.draft2020-12",
}


def check_schemas(db, root):
    problems = []
    rows = db.execute("SELECT id, path FROM telem_contracts WHERE kind = 'json-schema' ORDER BY id").fetchall()
    for cid, path in rows:
        text = read(os.path.join(root, "contracts", path))
        m = re.search(r'"\$schema"\s*:\s*"([^"]*)"', text)
        draft = m.group(1) if m else "https://json-schema.org/draft/2020-12/schema"
        meta = META.get(draft)
        if not meta:
            problems.append(f"contracts/{path}: unknown $schema {draft!r}")
            continue
        try:
            errs = db.execute(
                "SELECT instance_path, keyword, message FROM telem_validate_errors(?, ?)",
                (text, meta)).fetchall()
        except sqlite3.Error as e:
            problems.append(f"contracts/{path}: {e}")
            continue
        for ip, kw, msg in errs:
            problems.append(f"contracts/{path} is not a valid {meta} schema at '{ip}' ({kw}): {msg}")
        # And it must compile: a pattern that does not compile is caught here.
        try:
            db.execute("SELECT telem_validate('null', ?)", (cid,)).fetchall()
        except sqlite3.Error as e:
            problems.append(f"contracts/{path} does not compile: {e}")
    return problems


# ---- taxonomy ----------------------------------------------------------------

def check_taxonomy(db, root):
    problems = []
    doc = read_doc(root, "docs/architecture/taxonomy.md")
    rows = md_table_rows(doc, "metric_type")
    documented = {r[0]: r for r in rows}
    contract = {}
    for r in db.execute("SELECT metric_type, family, sensitivity, plane, transmission, "
                        "coalesce(session_prefix, ''), coalesce(schema_id, ''), "
                        "coalesce(schema_pointer, '') FROM telem_taxonomy"):
        contract[r[0]] = list(r)
    for mt in sorted(set(contract) - set(documented)):
        problems.append(f"metric type {mt} is in the taxonomy but not in docs/architecture/taxonomy.md")
    for mt in sorted(set(documented) - set(contract)):
        problems.append(f"metric type {mt} is in docs/architecture/taxonomy.md but not in the taxonomy")
    cols = ["metric_type", "family", "class", "plane", "transmission", "session prefix", "schema",
            "schema pointer"]
    for mt in sorted(set(contract) & set(documented)):
        for i in range(1, len(cols)):
            want, got = contract[mt][i], documented[mt][i] if i < len(documented[mt]) else ""
            if want != got:
                problems.append(f"metric type {mt}: {cols[i]} is {want!r} in the taxonomy but {got!r} in the docs")
    return problems


# ---- taxonomy and payload schemas ---------------------------------------------

def check_payloads(db, root):
    """The taxonomy and the payload schemas agree: every schema under
    contracts/telemetry/payloads/ is the payload of some metric type, every
    schema a metric type names exists and compiles, a schema_pointer needs a
    schema and is a JSON Pointer, a schema with a "metric_type" const names
    a type that uses it, no type claims approved_usage_upload (Vox keeps it
    reserved), and -- when VOXTELEM_VOX_TYPES_RS names Vox's
    crates/vox-telemetry/src/types.rs -- the taxonomy holds exactly Vox's
    METRIC_TYPE_* values."""
    import json
    problems = []
    tax = db.execute("SELECT metric_type, schema_id, schema_pointer, transmission FROM telem_taxonomy").fetchall()
    kinds = dict(db.execute("SELECT id, kind FROM telem_contracts").fetchall())
    paths = dict(db.execute("SELECT id, path FROM telem_contracts").fetchall())
    used = {}
    for mt, sid, ptr, tx in tax:
        if tx == "approved_usage_upload":
            problems.append(f"metric type {mt} is approved_usage_upload, which Vox keeps reserved")
        if sid is None:
            if ptr:
                problems.append(f"metric type {mt} has a schema_pointer but no schema")
            continue
        used.setdefault(sid, []).append(mt)
        if kinds.get(sid) != "json-schema":
            problems.append(f"metric type {mt} names schema {sid!r}, which is not a json-schema contract")
            continue
        if ptr and not ptr.startswith("/"):
            problems.append(f"metric type {mt}: schema_pointer {ptr!r} is not a JSON Pointer")
        try:
            db.execute("SELECT telem_validate('null', ?)", (sid,)).fetchall()
        except sqlite3.Error as e:
            problems.append(f"metric type {mt}: schema {sid} does not compile: {e}")
            continue
        doc = json.loads(read(os.path.join(root, "contracts", paths[sid])))
        const = ((doc.get("properties") or {}).get("metric_type") or {}).get("const")
        if const is not None and const not in used[sid]:
            problems.append(f"schema {sid} requires metric_type {const!r} but is the payload of {used[sid]}")
    for cid, path in paths.items():
        if path.startswith("telemetry/payloads/") and cid not in used:
            problems.append(f"contracts/{path} ({cid}) is the payload schema of no metric type in the taxonomy")
    types_rs = os.environ.get("VOXTELEM_VOX_TYPES_RS")
    if types_rs:
        vox = set(re.findall(r'pub const METRIC_TYPE_[A-Z0-9_]+: &str = "([^"]+)";', read(types_rs)))
        ours = {r[0] for r in tax}
        for mt in sorted(vox - ours):
            problems.append(f"Vox defines metric type {mt}, which the taxonomy does not list")
        for mt in sorted(ours - vox):
            problems.append(f"the taxonomy lists {mt}, which Vox's types.rs does not define")
    return problems


# ---- retention ---------------------------------------------------------------

def check_retention(db, root):
    problems = []
    try:
        policy = db.execute("SELECT table_name, kind, coalesce(days, ''), coalesce(time_column, ''), "
                            "coalesce(cascade_from, ''), coalesce(rationale, '') FROM telem_retention").fetchall()
    except sqlite3.Error as e:
        return [f"telem_retention does not answer: {e}"]
    doc = read_doc(root, "docs/architecture/retention-and-sensitivity.md")
    rows = {r[0]: r for r in md_table_rows(doc, "table")}
    fields = ["table", "kind", "days", "time column", "cascade from", "rationale"]
    seen = set()
    for row in policy:
        table = row[0]
        seen.add(table)
        if not row[5].strip():
            problems.append(f"retention rule for {table} has no rationale")
        if table not in rows:
            problems.append(f"retention table {table} is not in the table of docs/architecture/retention-and-sensitivity.md")
            continue
        d = rows[table]
        for i in range(1, 6):
            want = str(row[i])
            got = d[i] if i < len(d) else ""
            if i == 5:
                # Prose may be wrapped differently: compare words.
                if " ".join(want.split()) != " ".join(got.split()):
                    problems.append(f"retention table {table}: rationale differs between the policy and the docs")
            elif want != got:
                problems.append(f"retention table {table}: {fields[i]} is {want!r} in the policy but {got!r} in the docs")
    for table in sorted(set(rows) - seen):
        problems.append(f"docs/architecture/retention-and-sensitivity.md lists {table}, which the policy does not")
    return problems


# ---- sensitivity -------------------------------------------------------------

CLASSES = ["S0", "S1", "S2", "S3"]


def check_sensitivity(root):
    problems = []
    contract = yaml.safe_load(read_doc(root, "contracts/db/column-sensitivity.yaml")) or {}
    tables = contract.get("tables") or {}
    doc = read_doc(root, "docs/architecture/retention-and-sensitivity.md")
    rows = {r[0]: r for r in md_table_rows(doc, "governed table")}
    for table, cols in tables.items():
        if table not in rows:
            problems.append(f"table {table} has column classes but is not in the sensitivity table of the docs")
            continue
        row = rows[table]
        top = max(cols.values(), key=CLASSES.index) if cols else ""
        if (row[1] if len(row) > 1 else "") != top:
            problems.append(f"table {table}: table class is {top!r} by its columns but {row[1]!r} in the docs")
        for i, cls in enumerate(CLASSES):
            cell = row[2 + i] if len(row) > 2 + i else ""
            documented = {c.strip().strip("`") for c in cell.split(",") if c.strip()}
            actual = {c for c, k in cols.items() if k == cls}
            for c in sorted(actual - documented):
                problems.append(f"column {table}.{c} is {cls} in column-sensitivity.yaml but not listed as {cls} in the docs")
            for c in sorted(documented - actual):
                problems.append(f"column {table}.{c} is listed as {cls} in the docs but not in column-sensitivity.yaml")
    for table in sorted(set(rows) - set(tables)):
        problems.append(f"the docs list the sensitivity of {table}, which column-sensitivity.yaml does not")
    return problems


# ---- sql docs ----------------------------------------------------------------

def check_sqldocs(root, catalog):
    problems = []
    doc = read_doc(root, "docs/reference/sql.md")
    headings = {m.group(1).strip() for m in re.finditer(r"^##\s+(.+)$", doc, re.M)}
    for entry in catalog.get("functions", []) + catalog.get("virtual_tables", []):
        name = entry["name"]
        anchor = entry.get("doc", "")
        if not anchor.startswith("docs/reference/sql.md#"):
            problems.append(f"catalog entry {name}: doc must be docs/reference/sql.md#<heading>, got {anchor!r}")
            continue
        if anchor.split("#", 1)[1] not in headings:
            problems.append(f"catalog entry {name}: docs/reference/sql.md has no section '## {anchor.split('#', 1)[1]}'")
    return problems


# ---- registration tables -------------------------------------------------------

# {name, min, max, flags, fn} for a scalar, {name, min, max, flags, NULL, step, final}
# for an aggregate.
FUNC_ROW = re.compile(r'\{\s*"(telem_\w+)"\s*,\s*(-?\d+)\s*,\s*(-?\d+)\s*,\s*([^,]+),\s*\w+\s*(?:,\s*\w+\s*,\s*\w+\s*)?\}')
MOD_ROW = re.compile(r'\{\s*"(telem_\w+)"\s*,\s*&\w+\s*\}')


def table_body(src, kind):
    """The text of every `static const <kind> name[] = { ... };` in src."""
    for m in re.finditer(r"static const " + kind + r"\s+\w+\[\]\s*=\s*\{(.*?)\n\};", src, re.S):
        yield m.group(1)


def check_regtables(root, catalog):
    problems = []
    funcs = {f["name"]: f for f in catalog.get("functions", [])}
    mods = {m["name"] for m in catalog.get("virtual_tables", [])}
    entry = read(os.path.join(root, "ext/voxtelem.c"))
    walked = set(re.findall(r"&(telem_feature_\w+)", entry))
    seen_funcs, seen_mods = {}, set()
    sql_dir = os.path.join(root, "ext/sql")
    for fn in sorted(os.listdir(sql_dir)):
        if not fn.endswith(".c"):
            continue
        src = read(os.path.join(sql_dir, fn))
        for feat in re.findall(r"^const TelemFeature (telem_feature_\w+)", src, re.M):
            if feat not in walked:
                problems.append(f"ext/sql/{fn}: {feat} is not in the features[] of ext/voxtelem.c")
        for body in table_body(src, "TelemSqlFunc"):
            for name, lo, hi, flags in FUNC_ROW.findall(body):
                seen_funcs[name] = (int(lo), int(hi), "SQLITE_DETERMINISTIC" in flags, fn)
        for body in table_body(src, "TelemSqlModule"):
            seen_mods.update(MOD_ROW.findall(body))
    for name, (lo, hi, det, fn) in sorted(seen_funcs.items()):
        entry = funcs.get(name)
        if not entry:
            problems.append(f"ext/sql/{fn}: {name} is in a registration table but not in catalog.yaml")
            continue
        if sorted(entry.get("args", [])) != list(range(lo, hi + 1)):
            problems.append(f"ext/sql/{fn}: {name} takes {lo}..{hi} arguments, catalog.yaml says {entry.get('args')}")
        if bool(entry.get("deterministic")) != det:
            problems.append(f"ext/sql/{fn}: {name} deterministic={det}, catalog.yaml says {bool(entry.get('deterministic'))}")
    for name in sorted(set(funcs) - set(seen_funcs)):
        problems.append(f"catalog.yaml lists function {name}, which no registration table holds")
    for name in sorted(mods ^ seen_mods):
        where = "catalog.yaml" if name in mods else "a registration table"
        problems.append(f"virtual table {name} is only in {where}")
    return problems


# ---- layers -----------------------------------------------------------------------

# What an engine may call of SQLite: memory and formatting, nothing that
# reaches a database.
ENGINE_SQLITE_OK = {
    "sqlite3_malloc", "sqlite3_malloc64", "sqlite3_realloc", "sqlite3_realloc64", "sqlite3_free",
    "sqlite3_msize", "sqlite3_mprintf", "sqlite3_vmprintf", "sqlite3_snprintf", "sqlite3_stricmp",
    "sqlite3_strnicmp", "sqlite3_int64", "sqlite3_uint64",
}


def check_layers(root):
    problems = []
    edir = os.path.join(root, "ext/engine")
    for fn in sorted(os.listdir(edir)):
        if not fn.endswith((".c", ".h")):
            continue
        src = read(os.path.join(edir, fn))
        code = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
        for name in sorted(set(re.findall(r"\bsqlite3_\w+", code)) - ENGINE_SQLITE_OK):
            problems.append(f"ext/engine/{fn} uses {name}: engines must not touch a database")
        if re.search(r"\bsqlite3\s*\*", code):
            problems.append(f"ext/engine/{fn} holds a database handle (sqlite3 *)")
        for inc in re.findall(r'#include\s+"([^"]+)"', code):
            if inc.startswith("sql/") or inc == "core/conn.h":
                problems.append(f"ext/engine/{fn} includes {inc}, a header of the SQL side")
    return problems


def main():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=here)
    ap.add_argument("--so", default=os.path.join(here, "voxtelem.so"))
    args = ap.parse_args()
    rep = Report()
    db = connect(os.path.abspath(args.so))
    catalog = rep.run("catalog", check_catalog, db, args.root) or {}
    try:
        rep.run("index", check_index, db, args.root)
    except Unloadable as e:
        rep.guard("index", [str(e)])
        for name in ("schemas", "taxonomy", "payloads", "retention"):
            rep.guard(name, ["not checked: the contracts do not load"])
    else:
        rep.run("schemas", check_schemas, db, args.root)
        rep.run("taxonomy", check_taxonomy, db, args.root)
        rep.run("payloads", check_payloads, db, args.root)
        rep.run("retention", check_retention, db, args.root)
    rep.run("sensitivity", check_sensitivity, args.root)
    rep.run("sqldocs", check_sqldocs, args.root, catalog)
    rep.run("regtables", check_regtables, args.root, catalog)
    rep.run("layers", check_layers, args.root)
    if rep.failed:
        print(f"check-drift: {len(rep.failed)} guard(s) failed: {', '.join(rep.failed)}")
        return 1
    print("check-drift: code, contracts and docs agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
