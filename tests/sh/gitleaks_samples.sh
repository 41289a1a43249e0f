#!/usr/bin/env bash
# gitleaks' own published samples through telem_redact (issue 13).
#
# The samples come from tests/redaction/gitleaks-samples.jsonl (derived from
# gitleaks' rule generators; origin in its header), or straight from a
# gitleaks checkout when GITLEAKS_SRC names one (a work tree or a git dir):
#   GITLEAKS_SRC=/path/to/gitleaks bash tests/sh/gitleaks_samples.sh
# Three rates, each with its floor:
#   alone  the secret of each generated true-positive sample on its own is
#          removed (>= 0.55: secrets without a distinctive prefix need their
#          keyword, as in gitleaks itself)
#   lines  each true-positive sample line loses its secret (or, for literal
#          samples, is changed) (>= 0.95)
#   fp     each false-positive sample line comes back unchanged (>= 0.90)
set -euo pipefail
SO=${VOXTELEM_SO:-$PWD/voxtelem.so}
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
SAMPLES=tests/redaction/gitleaks-samples.jsonl
if [ -n "${GITLEAKS_SRC:-}" ]; then
  if [ -d "$GITLEAKS_SRC/cmd/generate" ]; then
    python3 tools/gitleaks_samples.py --compact "$GITLEAKS_SRC" > "$tmp/s.jsonl"
  else
    python3 tools/gitleaks_samples.py --compact --git-dir "$GITLEAKS_SRC" > "$tmp/s.jsonl"
  fi
  SAMPLES=$tmp/s.jsonl
fi
"$PYTHON" - "$SO" "$SAMPLES" "${GITLEAKS_VERBOSE:-0}" <<'PY'
import collections, sqlite3, sys
sys.path.insert(0, "tools")
import gitleaks_samples as gs
so, path, verbose = sys.argv[1], sys.argv[2], int(sys.argv[3])
db = sqlite3.connect(":memory:")
db.enable_load_extension(True)
db.load_extension(so[:-3] if so.endswith(".so") else so)
db.enable_load_extension(False)
def red(t):
    return db.execute("select telem_redact(?)", (t,)).fetchone()[0]
samples = gs.load(path)
alone = {}
lines = [0, 0]
fp = [0, 0]
miss_rules = collections.Counter()
fp_rules = collections.Counter()
for s in samples:
    line, sec = s["line"], s.get("secret")
    out = red(line)
    if s["kind"] == "tp":
        ok = (sec not in out) if sec else (out != line)
        lines[0] += ok
        lines[1] += 1
        if not ok:
            miss_rules[s["rule"]] += 1
            if verbose: print("MISS-LINE", s["rule"], repr(line[:160]))
        if sec and (s["rule"], sec) not in alone:
            a = sec not in red(sec)
            alone[(s["rule"], sec)] = a
            if verbose and not a: print("MISS-ALONE", s["rule"], repr(sec[:100]))
    else:
        ok = out == line
        fp[0] += ok
        fp[1] += 1
        if not ok:
            fp_rules[s["rule"]] += 1
            if verbose: print("FP", s["rule"], repr(line[:160]), "->", repr(out[:160]))
ra = sum(alone.values()) / max(1, len(alone))
rl = lines[0] / max(1, lines[1])
rf = fp[0] / max(1, fp[1])
print("gitleaks samples: %d rules" % len({s["rule"] for s in samples}))
print("alone  %.4f  (%d of %d secrets on their own)  floor 0.55" % (ra, sum(alone.values()), len(alone)))
print("lines  %.4f  (%d of %d true-positive lines)    floor 0.95" % (rl, lines[0], lines[1]))
print("fp     %.4f  (%d of %d false-positive lines kept) floor 0.90" % (rf, fp[0], fp[1]))
if miss_rules: print("rules with missed lines:", ", ".join("%s:%d" % kv for kv in miss_rules.most_common(25)))
if fp_rules: print("rules with changed fp lines:", ", ".join("%s:%d" % kv for kv in fp_rules.most_common(25)))
if len(alone) < 200 or fp[1] < 100:
    sys.exit("FAIL: too few samples")
if ra < 0.55 or rl < 0.95 or rf < 0.90:
    sys.exit("FAIL: below a floor")
print("ok")
PY
