#!/usr/bin/python3
"""golden_labels.py -- every query of a SQL golden test names itself.

    tools/golden_labels.py --check tests/sql/*.sql    # exit 1 when a label is missing or stale
    tools/golden_labels.py --apply tests/sql/*.sql    # (re)write the labels in place

A golden test (tests/sql/<name>.sql) is diffed line by line against
<name>.expected, so a failing line must say which query printed it.  Every
top-level query (a statement that starts with SELECT, or WITH ... SELECT)
therefore selects a label first: the file's stem and the line the statement
starts on, e.g.

    SELECT 'validate:57', telem_validate('1', '{}');      ->  validate:57|1

Each SELECT arm at nesting depth 0 gets it (so UNION arms keep their column
count), and ORDER BY / GROUP BY column numbers at depth 0 shift by one.  A
query that already selects a string literal first ('v07', 'p12') has a label
and is left alone; labels this tool wrote follow their line, so --apply is
idempotent and renumbers them after lines move.
"""
import re
import sys

LABEL = re.compile(r"'([^'\n]{1,60})',\s*")   # a leading string literal: a label
OURS = re.compile(r"'[A-Za-z0-9_]+:\d+',\s*")   # one this tool wrote: kept in step


def tokens(sql):
    """(kind, text, start) for words, punctuation, strings and comments."""
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c.isspace():
            i += 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            yield ("comment", sql[i:j], i)
            i = j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = n if j < 0 else j + 2
            yield ("comment", sql[i:j], i)
            i = j
        elif c in "'\"`[":
            close = "]" if c == "[" else c
            j = i + 1
            while j < n:
                if sql[j] == close:
                    if close != "]" and j + 1 < n and sql[j + 1] == close:
                        j += 2
                        continue
                    break
                j += 1
            yield ("string" if c == "'" else "ident", sql[i:j + 1], i)
            i = j + 1
        elif c.isalnum() or c == "_":
            j = i
            while j < n and (sql[j].isalnum() or sql[j] in "_$"):
                j += 1
            yield ("word", sql[i:j], i)
            i = j
        else:
            yield ("punct", c, i)
            i += 1


def statements(text):
    """(start offset, end offset) of each statement; dot-commands are skipped."""
    out = []
    dot = set()  # offsets of dot-command lines (.print, .mode, ...)
    off = 0
    for line in text.splitlines(keepends=True):
        if line.startswith("."):
            dot.add(off)
        off += len(line)
    start, depth, trig, cases = None, 0, False, 0
    last_word = ""
    for kind, tok, at in tokens(text):
        line_start = text.rfind("\n", 0, at) + 1
        if start is None:
            if line_start in dot or kind == "comment":
                continue
            start, depth, trig, cases = at, 0, False, 0
        if kind == "word":
            up = tok.upper()
            if up == "TRIGGER" and last_word in ("CREATE", "TEMP", "TEMPORARY"):
                trig = True
            # A trigger's body holds statements: its own ';' do not end it,
            # its END does (not the END of a CASE).
            if up == "CASE":
                cases += 1
            elif up == "END" and cases:
                cases -= 1
            elif trig and up == "END" and depth == 0:
                trig = "end"
            last_word = up
        if kind == "punct":
            if tok == "(":
                depth += 1
            elif tok == ")":
                depth -= 1
            elif tok == ";" and depth == 0 and trig in (False, "end"):
                out.append((start, at + 1))
                start = None
    return out


def plan(stmt):
    """Edits (offset, old length, new text) that label one statement, or None
    when it is not a query.  The label text is filled in by the caller."""
    toks = [t for t in tokens(stmt) if t[0] != "comment"]
    if not toks or toks[0][0] != "word" or toks[0][1].upper() not in ("SELECT", "WITH"):
        return None
    depth = 0
    edits = []
    arm_start = True
    i = 0
    while i < len(toks):
        kind, tok, at = toks[i]
        up = tok.upper() if kind == "word" else tok
        if kind == "punct" and tok == "(":
            depth += 1
        elif kind == "punct" and tok == ")":
            depth -= 1
        elif depth == 0 and kind == "word":
            if up in ("INSERT", "UPDATE", "DELETE", "REPLACE"):
                return None
            if up == "SELECT" and arm_start:
                j = i + 1
                if j < len(toks) and toks[j][1].upper() in ("DISTINCT", "ALL"):
                    j += 1
                if j < len(toks) and LABEL.match(stmt, toks[j][2]):
                    m = LABEL.match(stmt, toks[j][2])
                    edits.append(("relabel", m.start(), m.end() - m.start()))
                else:
                    edits.append(("label", toks[j][2], 0))
                arm_start = False
            elif up in ("UNION", "EXCEPT", "INTERSECT"):
                arm_start = True
            elif up == "BY" and i > 0 and toks[i - 1][1].upper() in ("ORDER", "GROUP"):
                # Column numbers after ORDER BY / GROUP BY at depth 0 shift by one.
                j = i + 1
                while j < len(toks):
                    k, t, a = toks[j]
                    if k == "word" and t.isdigit() and (j == i + 1 or toks[j - 1][1] == ","):
                        edits.append(("shift", a, len(t)))
                    if k == "punct" and t in ";)":
                        break
                    if k == "word" and t.upper() in ("LIMIT", "UNION", "EXCEPT", "INTERSECT", "HAVING", "WINDOW"):
                        break
                    j += 1
        i += 1
    return edits


def process(path, apply):
    text = open(path, encoding="utf-8").read()
    stem = re.sub(r"\W", "_", path.rsplit("/", 1)[-1].rsplit(".", 1)[0])
    problems, out, last = [], [], 0
    for start, end in statements(text):
        stmt = text[start:end]
        edits = plan(stmt)
        if edits is None:
            continue
        line = text.count("\n", 0, start) + 1
        want = f"'{stem}:{line}', "
        new, cur = [], 0
        # A statement is labelled already when its first arm is.
        fresh = next(k for k, _, _ in sorted(edits, key=lambda e: e[1]) if k != "shift") == "label"
        for kind, at, length in sorted(edits, key=lambda e: e[1]):
            new.append(stmt[cur:at])
            old = stmt[at:at + length]
            if kind == "label":
                new.append(want)
            elif kind == "relabel":
                # A hand-written label ('v07') is kept; ours follow the line.
                keep = not OURS.fullmatch(old)
                new.append(old if keep else want)
                if not keep and old != want:
                    problems.append(f"{path}:{line}: stale label {old.strip()}")
            elif kind == "shift":
                new.append(str(int(old) + 1) if fresh else old)
            cur = at + length
        new.append(stmt[cur:])
        if fresh:
            problems.append(f"{path}:{line}: query without a label")
        out.append(text[last:start])
        out.append("".join(new))
        last = end
    out.append(text[last:])
    if apply:
        open(path, "w", encoding="utf-8").write("".join(out))
    return problems


def main(argv):
    if len(argv) < 3 or argv[1] not in ("--check", "--apply"):
        print(__doc__)
        return 2
    apply = argv[1] == "--apply"
    problems = []
    for path in argv[2:]:
        problems += process(path, apply)
    if problems and not apply:
        for p in problems:
            print(p)
        print(f"golden labels: {len(problems)} problem(s); run tools/golden_labels.py --apply")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
