#!/usr/bin/env python3
"""Extracts the published test samples of gitleaks' rules from a gitleaks
checkout, for tests/sh/gitleaks_samples.sh.

gitleaks (github.com/gitleaks/gitleaks, MIT) builds its default rules from
Go generators, cmd/generate/config/rules/*.go; each generator ends with
`utils.Validate(r, tps, fps)`: `tps` are lines the rule must flag, `fps`
lines it must not.  Many samples are made at generation time from a regex
(`secrets.NewSecret(utils.Hex("32"))`) and expanded into ~28 source-code
shapes by `utils.GenerateSampleSecrets(identifier, secret)`.  Nothing of
gitleaks is copied into this repository: this script reads a checkout,
evaluates the sample expressions (a small Go-expression-to-Python
translation; statements it cannot evaluate are counted and skipped),
draws the random secrets from the same regexes with a fixed seed, and
prints JSON lines:

  {"rule": "stripe-access-token", "kind": "tp"|"fp", "line": "...",
   "secret": "sk_test_..." | null}

`secret` is the secret on its own when the sample was built by
GenerateSampleSecret(s); null for literal sample lines.

  python3 tools/gitleaks_samples.py /path/to/gitleaks > samples.jsonl
  python3 tools/gitleaks_samples.py --git-dir /path/to/repo.git > samples.jsonl
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys

try:
    import re._parser as sre_parse  # Python >= 3.11
    import re._constants as sre_c
except ImportError:  # pragma: no cover
    import sre_parse
    import sre_constants as sre_c

RNG = random.Random(20261204)

# ---- regex -> random string (what gitleaks' reggen does) -------------------

PRINT = [chr(c) for c in range(33, 127)]
CATS = {
    sre_c.CATEGORY_DIGIT: "0123456789",
    sre_c.CATEGORY_WORD: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_",
    sre_c.CATEGORY_SPACE: " ",
    sre_c.CATEGORY_NOT_DIGIT: "abcdefghij",
    sre_c.CATEGORY_NOT_SPACE: "abcdefghij0123456789",
    sre_c.CATEGORY_NOT_WORD: "-.",
}


def _chars_in(items):
    neg = False
    out = []
    for op, av in items:
        if op == sre_c.NEGATE:
            neg = True
        elif op == sre_c.LITERAL:
            out.append(chr(av))
        elif op == sre_c.RANGE:
            out.extend(chr(c) for c in range(av[0], av[1] + 1))
        elif op == sre_c.CATEGORY:
            out.extend(CATS.get(av, "x"))
    if neg:
        s = set(out)
        out = [c for c in PRINT if c not in s and c.isalnum()]
    return out or ["x"]


def _gen(parsed, ci=False):
    s = []
    for op, av in parsed:
        if op == sre_c.LITERAL:
            s.append(chr(av))
        elif op == sre_c.NOT_LITERAL:
            s.append("x" if chr(av) != "x" else "y")
        elif op == sre_c.ANY:
            s.append(RNG.choice("abcdefghijklmnopqrstuvwxyz0123456789"))
        elif op == sre_c.IN:
            s.append(RNG.choice(_chars_in(av)))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, getattr(sre_c, "POSSESSIVE_REPEAT", None)):
            lo, hi, sub = av
            hi = min(hi, lo + 10) if hi != sre_c.MAXREPEAT else lo + 10
            for _ in range(RNG.randint(lo, hi) if hi > lo else lo):
                s.append(_gen(sub))
        elif op == sre_c.SUBPATTERN:
            s.append(_gen(av[-1]))
        elif op == sre_c.BRANCH:
            s.append(_gen(RNG.choice(av[1])))
        elif op in (sre_c.AT, sre_c.ASSERT, sre_c.ASSERT_NOT, sre_c.GROUPREF):
            pass
        elif op == getattr(sre_c, "ATOMIC_GROUP", None):
            s.append(_gen(av))
        else:
            raise ValueError("regex op %s" % op)
    return "".join(s)


def new_secret(rx):
    rx = re.sub(r"\(\?-i:", "(?:", rx)  # Go's flag groups Python does not parse
    return _gen(sre_parse.parse(rx))


# ---- the helpers the generators call -----------------------------------------


class Sample(str):
    """A sample line that knows the secret it was built from."""
    secret = None


def _mk(line, secret, ident=None, shape=None):
    s = Sample(line)
    s.secret = secret
    s.ident = ident
    s.shape = shape
    return s


# The sample shapes of utils.GenerateSampleSecrets (gitleaks issue #1222),
# as that function writes them ({i} identifier, {I} upper case, {s} secret).
SHAPES = [
    '{i}Token="{s}"', '{i}Token = "{s}"', '{i}Token={s}', '{i}Token = {s}',
    '{\n    "{i}_token": "{s}"\n}', '{"config.ini": "{I}_TOKEN={s}\\nBACKUP_ENABLED=true"}',
    '<{i}Token>\n    {s}\n</{i}Token>', '{i}_token: {s}', "{i}_token: '{s}'", '{i}_token: "{s}"',
    'string {i}Token = "{s}";', 'var {i}Token string = "{s}"', '{i}Token := "{s}"',
    '{i}Token := `{s}`', 'String {i}Token = "{s}";', 'var {i}Token = "{s}"', '${i}Token .= "{s}"',
    "{i}Token = '{s}'", '{i}Token = "{s}"', 'System.setProperty("{I}_TOKEN", "{s}")',
    '  "{i}Token" => "{s}"', '{i}_TOKEN = "{s}"', '{i}_TOKEN := "{s}"', '{i}_TOKEN ::= "{s}"',
    '{i}_TOKEN :::= "{s}"', '{i}_TOKEN ?= "{s}"',
]


def gen_samples(ident, secret):
    return [_mk(expand(t, ident, secret), secret, ident, "all") if k == 0 else
            _mk(expand(t, ident, secret), secret, ident, None) for k, t in enumerate(SHAPES)]


def expand(t, ident, secret):
    return t.replace("{i}", ident).replace("{I}", ident.upper()).replace("{s}", secret)


def gen_sample(ident, secret):
    return _mk('%s_api_token = "%s"' % (ident, secret), secret, ident, "one")


def go_append(lst, *xs):
    return list(lst or []) + list(xs)


def sprintf(fmt, *args):
    return re.sub(r"%[sdvq]", "{}", fmt.replace("{", "{{").replace("}", "}}")).format(*args)


ENV0 = {
    "NewSecret": new_secret, "newPlausibleSecret": new_secret,
    "Numeric": lambda n: "[0-9]{%s}" % n, "Hex": lambda n: "[a-f0-9]{%s}" % n,
    "AlphaNumeric": lambda n: "[a-z0-9]{%s}" % n,
    "AlphaNumericExtendedShort": lambda n: "[a-z0-9_-]{%s}" % n,
    "AlphaNumericExtended": lambda n: "[a-z0-9=_\\-]{%s}" % n,
    "AlphaNumericExtendedLong": lambda n: "[a-z0-9\\/=_\\+\\-]{%s}" % n,
    "Hex8_4_4_4_12": lambda: "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "GSS": gen_samples, "GS1": gen_sample, "append": go_append, "Sprintf": sprintf,
    "Repeat": lambda s, n: s * n, "ToUpper": lambda s: s.upper(), "ToLower": lambda s: s.lower(),
    "nil": None, "true": True, "false": False,
}
NAMES = {
    "secrets.NewSecret": "NewSecret", "utils.GenerateSampleSecrets": "GSS",
    "utils.GenerateSampleSecret": "GS1", "fmt.Sprintf": "Sprintf", "strings.Repeat": "Repeat",
    "strings.ToUpper": "ToUpper", "strings.ToLower": "ToLower",
}

# ---- a small Go tokenizer and statement evaluator -----------------------------

TOK = re.compile(r'''
   (?P<ws>[ \t\r]+) | (?P<nl>\n) | (?P<lc>//[^\n]*) | (?P<bc>/\*.*?\*/)
 | (?P<raw>`[^`]*`) | (?P<str>"(?:[^"\\\n]|\\.)*") | (?P<rune>'(?:[^'\\\n]|\\.)+')
 | (?P<id>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*) | (?P<num>[0-9]+)
 | (?P<op>\.\.\.|:=|==|!=|<=|>=|&&|\|\||\+=|[-+*/%(){}\[\],;:=<>!&|.])
''', re.S | re.X)


def tokenize(src):
    out, i = [], 0
    while i < len(src):
        m = TOK.match(src, i)
        if not m:
            out.append(("op", src[i]))
            i += 1
            continue
        i = m.end()
        k = m.lastgroup
        if k in ("ws", "lc"):
            continue
        if k == "bc":
            if "\n" in m.group():
                out.append(("nl", "\n"))
            continue
        out.append((k, m.group()))
    return out


def go_string(tok):
    k, v = tok
    if k == "raw":
        return v[1:-1]
    return json.loads(re.sub(r"\\x([0-9a-fA-F]{2})", r"\\u00\1", v.replace("\\'", "'")))


def split_statements(toks):
    """Statements of a function body: newline-separated at depth 0, except
    after a token that continues the expression."""
    stmts, cur, depth = [], [], 0
    cont = {"+", ",", "(", "{", "[", ":=", "=", "&&", "||"}
    for t in toks:
        if t[0] == "nl":
            if depth == 0 and cur and cur[-1][1] not in cont:
                stmts.append(cur)
                cur = []
            continue
        if t[1] in ("(", "{", "["):
            depth += 1
        elif t[1] in (")", "}", "]"):
            depth -= 1
        cur.append(t)
    if cur:
        stmts.append(cur)
    return stmts


def to_python(toks):
    out, braces, argstart = [], [], [0]
    i = 0
    while i < len(toks):
        k, v = toks[i]
        if k in ("str", "raw"):
            out.append(repr(go_string(toks[i])))
        elif k == "rune":
            raise ValueError("rune")
        elif k == "id":
            name = NAMES.get(v, v.split(".")[-1] if v.startswith("utils.") else v)
            if "." in name:
                raise ValueError("name " + v)
            out.append(name)
        elif k == "num":
            out.append(v)
        elif v == "[" and i + 3 < len(toks) and toks[i + 1][1] == "]" and toks[i + 3][1] == "{":
            out.append("[")  # []string{ ... }
            braces.append("]")
            argstart.append(len(out))
            i += 4
            continue
        elif v == "[":
            out.append("[")
            braces.append("]")
        elif v == "{":
            raise ValueError("composite literal")
        elif v == "}":
            out.append(braces.pop() if braces else "}")
            argstart.pop()
        elif v == "(":
            out.append("(")
            braces.append(")")
            argstart.append(len(out))
        elif v == ")":
            out.append(")")
            braces.pop()
            argstart.pop()
        elif v == ",":
            out.append(",")
            argstart[-1] = len(out)
        elif v == "...":
            out.insert(argstart[-1], "*")
        elif v in ("+",):
            out.append(v)
        else:
            raise ValueError("op " + v)
        i += 1
    return " ".join(out)


def rule_ids(src):
    return re.findall(r'RuleID:\s*"([^"]+)"', src)


def eval_file(src, stats):
    """Yields (rule_id, kind, Sample) for each generator function."""
    for fm in re.finditer(r"\nfunc (\w+)\(\) \*config\.Rule \{\n(.*?)\n\}\n", src, re.S):
        body = fm.group(2)
        ids = rule_ids(body)
        if not ids:
            continue
        rid = ids[0]
        m = re.search(r"\n\s*(?:return\s+)?utils\.Validate(?:WithPaths)?\(", body)
        if not m:
            continue
        toks = tokenize(body)
        env = dict(ENV0)
        env["tps"] = []
        env["fps"] = []
        stmts = split_statements(toks)
        j = 0
        while j < len(stmts):
            st = stmts[j]
            j += 1
            if st[0][1] == "var" and len(st) > 1 and st[1][1] == "(":
                # var ( a = X \n b = Y ): newlines inside were dropped.
                stmts[j:j] = [s for s in _resplit_var(st)]
                continue
            if st[0][1] == "var" and len(st) > 2:
                st = st[1:]
            if len(st) >= 3 and st[0][0] == "id" and st[1][1] in (":=", "="):
                name = st[0][1]
                try:
                    env[name] = eval(to_python(st[2:]), {"__builtins__": {}}, env)
                except Exception:
                    if name == "r" or name not in ("tps", "fps") and not any(
                            name in " ".join(t[1] for t in x) for x in stmts[j:]):
                        continue  # not used by the samples (the rule itself, ...)
                    stats["skipped"] += 1
                    stats.setdefault("skipped_rules", set()).add(rid)
        for kind, var in (("tp", "tps"), ("fp", "fps")):
            for s in env.get(var) or []:
                if isinstance(s, str):
                    yield rid, kind, s


def _resplit_var(st):
    toks = [("nl", "\n")] + st[2:-1]
    # Newlines were dropped inside the parens: split on `IDENT =` starts.
    out, cur = [], []
    for idx, t in enumerate(toks):
        if t[0] == "nl":
            continue
        if t[0] == "id" and idx + 1 < len(toks) and toks[idx + 1][1] == "=" and cur and \
                cur[-1][1] not in ("+", ",", "(", "="):
            out.append(cur)
            cur = []
        cur.append(t)
    if cur:
        out.append(cur)
    return out


def read_sources(args):
    base = "cmd/generate/config/rules"
    if args.git_dir:
        names = subprocess.run(["git", "--git-dir", args.git_dir, "ls-tree", "--name-only",
                                args.rev, base + "/"], capture_output=True, text=True,
                               check=True).stdout.split()
        for n in sorted(names):
            if n.endswith(".go") and not n.endswith("_test.go"):
                yield n, subprocess.run(["git", "--git-dir", args.git_dir, "show",
                                         "%s:%s" % (args.rev, n)], capture_output=True,
                                        text=True, check=True).stdout
    else:
        d = os.path.join(args.checkout, base)
        for n in sorted(os.listdir(d)):
            if n.endswith(".go") and not n.endswith("_test.go"):
                with open(os.path.join(d, n), encoding="utf-8") as f:
                    yield n, f.read()


def load(path):
    """Reads a file written by this script (compact or not) as full samples."""
    out = []
    with open(path, encoding="utf-8") as f:
        for ln in f:
            if not ln.strip() or ln.startswith("#"):
                continue
            d = json.loads(ln)
            if "line" in d:
                out.append(d)
            elif d["shape"] == "one":
                out.append({"rule": d["rule"], "kind": d["kind"], "secret": d["secret"],
                            "line": '%s_api_token = "%s"' % (d["ident"], d["secret"])})
            else:
                out.extend({"rule": d["rule"], "kind": d["kind"], "secret": d["secret"],
                            "line": expand(t, d["ident"], d["secret"])} for t in SHAPES)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkout", nargs="?")
    ap.add_argument("--git-dir")
    ap.add_argument("--rev", default="HEAD")
    ap.add_argument("--compact", action="store_true",
                    help="one line per GenerateSampleSecrets call ({rule, kind, ident, secret, "
                         "shape: all|one}); expand() gives the lines back")
    args = ap.parse_args()
    if not args.checkout and not args.git_dir:
        ap.error("give a gitleaks checkout or --git-dir")
    stats = {"skipped": 0}
    n = 0
    for name, src in read_sources(args):
        for rid, kind, s in eval_file(src, stats):
            n += 1
            shape = getattr(s, "shape", None)
            if args.compact and getattr(s, "ident", None):
                if shape:
                    print(json.dumps({"rule": rid, "kind": kind, "ident": s.ident,
                                      "secret": s.secret, "shape": shape}))
                continue
            print(json.dumps({"rule": rid, "kind": kind, "line": str(s),
                              "secret": getattr(s, "secret", None)}))
    print("gitleaks_samples: %d samples, %d statements skipped (rules: %s)"
          % (n, stats["skipped"], ", ".join(sorted(stats.get("skipped_rules", ())))),
          file=sys.stderr)


if __name__ == "__main__":
    main()
