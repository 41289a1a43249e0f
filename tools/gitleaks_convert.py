#!/usr/bin/env python3
"""Converts gitleaks-format rules (TOML, gitleaks v8) into voxtelem
redaction rules (contracts/telemetry/redaction-rules.yaml format).

  python3 tools/gitleaks_convert.py my-gitleaks.toml > rules.yaml
  python3 tools/gitleaks_convert.py my-gitleaks.toml --base contracts/telemetry/redaction-rules.yaml > rules.yaml

Without --base the output is a complete rules file with the converted
value patterns and a `default` profile.  With --base, the converted rules
are appended to the base file's value_patterns (their ids must not clash)
and its key rules, allowlists and profiles are kept.  Load the result with
SELECT * FROM telem_use_contracts(dir) on a contracts directory that holds it.

Field mapping (docs/architecture/redaction.md has the same table):

  gitleaks                      voxtelem
  id                            id (lower-cased; other characters than
                                [a-z0-9-] become '-'; --prefix adds one)
  description                   description
  regex (Go RE2)                pattern (PCRE2 accepts RE2's syntax; checked
                                when the file is loaded)
  secretGroup                   group (absent: 1 when the regex has a
                                capture group, as gitleaks uses it, else 0)
  entropy                       min_entropy
  keywords                      keywords (case-insensitive prefilter)
  [[rules.allowlists]] /
  [rules.allowlist]:
    regexes (regexTarget        allow_regex (matched against the secret
      "secret" or "match")      span; a "line" target is not supported)
    stopwords                   stopwords
    paths, commits              ignored: telemetry has no paths or commits
    condition = "AND"           not supported: the rule is converted
                                without that allowlist (a warning says so)
  [allowlist] (global) /        a top-level allowlist "gitleaks-global"
  [[allowlists]]                that every converted rule uses
  path (rule without regex)     skipped: a warning names the rule
  tags                          ignored
  (none)                        class S3, action replace

Warnings go to stderr; the exit status is 1 when nothing was converted.
"""
import argparse
import re
import sys
import tomllib

try:
    import yaml
except ImportError:  # pragma: no cover
    yaml = None


def warn(msg):
    print("gitleaks_convert: " + msg, file=sys.stderr)


def rule_id(raw, prefix, seen):
    rid = prefix + re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-")
    rid = rid[:64].rstrip("-") or "rule"
    base, n = rid, 2
    while rid in seen:
        suffix = "-%d" % n
        rid = base[:64 - len(suffix)] + suffix
        n += 1
    seen.add(rid)
    return rid


def capture_groups(pattern):
    """Capture groups in a regex: '(' not followed by '?' (or '?P<'/'?<name>')."""
    n, i, esc, cls = 0, 0, False, False
    while i < len(pattern):
        c = pattern[i]
        if esc:
            esc = False
        elif c == "\\":
            esc = True
        elif cls:
            cls = c != "]"
        elif c == "[":
            cls = True
        elif c == "(":
            rest = pattern[i + 1:i + 4]
            if not rest.startswith("?") or rest.startswith("?P<") or (
                    rest.startswith("?<") and rest[2:3] not in ("=", "!")):
                n += 1
        i += 1
    return n


def convert_allowlist(al, where):
    """gitleaks allowlist table -> (stopwords, regexes), or None if unusable."""
    if str(al.get("condition", "OR")).upper() == "AND" and (
            len([k for k in ("regexes", "stopwords", "paths", "commits") if al.get(k)]) > 1):
        warn("%s: an allowlist with condition AND is not supported; left out" % where)
        return None
    target = al.get("regexTarget", "secret")
    regexes = list(al.get("regexes", []))
    if regexes and target == "line":
        warn("%s: allowlist regexes with regexTarget \"line\" are not supported; left out" % where)
        regexes = []
    for k in ("paths", "commits"):
        if al.get(k):
            warn("%s: allowlist %s ignored (telemetry has none)" % (where, k))
    stop = [str(w) for w in al.get("stopwords", [])]
    if not regexes and not stop:
        return None
    return stop, regexes


def convert(doc, prefix):
    out_rules, lists, seen = [], {}, set()
    glob = []
    if isinstance(doc.get("allowlist"), dict):
        glob.append(doc["allowlist"])
    glob += [a for a in doc.get("allowlists", []) if isinstance(a, dict)]
    gstop, grx = [], []
    for i, al in enumerate(glob):
        c = convert_allowlist(al, "global allowlist %d" % (i + 1))
        if c:
            gstop += c[0]
            grx += c[1]
    if gstop or grx:
        lists["gitleaks-global"] = {k: v for k, v in (("stopwords", gstop), ("regexes", grx)) if v}
    for r in doc.get("rules", []):
        raw_id = str(r.get("id", "rule"))
        if not r.get("regex"):
            warn("rule %s: no regex (path-only rules do not apply to telemetry); skipped" % raw_id)
            continue
        if r.get("path"):
            warn("rule %s: path condition ignored" % raw_id)
        rid = rule_id(raw_id, prefix, seen)
        pat = r["regex"]
        rule = {"id": rid, "class": "S3", "action": "replace"}
        if r.get("description"):
            rule["description"] = str(r["description"])
        ng = capture_groups(pat)
        group = r.get("secretGroup")
        if group is None:
            group = 1 if ng >= 1 else 0
        if int(group) > 9:
            warn("rule %s: secretGroup %s above 9; skipped" % (raw_id, group))
            continue
        if int(group):
            rule["group"] = str(int(group))
        if r.get("entropy"):
            rule["min_entropy"] = str(float(r["entropy"]))
        kws = [str(k) for k in r.get("keywords", []) if str(k)]
        if kws:
            rule["keywords"] = kws
        als = []
        if isinstance(r.get("allowlist"), dict):
            als.append(r["allowlist"])
        als += [a for a in r.get("allowlists", []) if isinstance(a, dict)]
        stop, rx = [], []
        for j, al in enumerate(als):
            c = convert_allowlist(al, "rule %s allowlist %d" % (raw_id, j + 1))
            if c:
                stop += c[0]
                rx += c[1]
        if stop:
            rule["stopwords"] = stop
        if rx:
            rule["allow_regex"] = rx
        if "gitleaks-global" in lists:
            rule["allowlist"] = "gitleaks-global"
        rule["pattern"] = pat
        out_rules.append(rule)
    return out_rules, lists


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("toml")
    ap.add_argument("--base", help="a voxtelem rules file to extend")
    ap.add_argument("--prefix", default="", help="prepended to every converted id (e.g. gl-)")
    args = ap.parse_args()
    if yaml is None:
        sys.exit("gitleaks_convert: python3-yaml is required")
    with open(args.toml, "rb") as f:
        doc = tomllib.load(f)
    rules, lists = convert(doc, args.prefix)
    if not rules:
        warn("no rule converted")
        sys.exit(1)
    if args.base:
        with open(args.base, encoding="utf-8") as f:
            base = yaml.safe_load(f)
        have = {r["id"] for r in base.get("value_patterns", []) + base.get("key_rules", [])}
        clash = [r["id"] for r in rules if r["id"] in have]
        if clash:
            sys.exit("gitleaks_convert: ids already in the base file: %s (use --prefix)" % ", ".join(clash))
        base.setdefault("value_patterns", []).extend(rules)
        if lists:
            base.setdefault("allowlists", {}).update(lists)
        out = base
    else:
        out = {"version": 1}
        if lists:
            out["allowlists"] = lists
        out["value_patterns"] = rules
        out["profiles"] = {"default": {}}
    sys.stdout.write("# Converted from %s by tools/gitleaks_convert.py\n" % args.toml.split("/")[-1])
    yaml.safe_dump(out, sys.stdout, sort_keys=False, allow_unicode=True, width=1000)
    print("gitleaks_convert: %d rule(s) converted" % len(rules), file=sys.stderr)


if __name__ == "__main__":
    main()
