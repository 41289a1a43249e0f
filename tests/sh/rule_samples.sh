#!/usr/bin/env bash
# Every value pattern of the shipped rules has samples
# (tests/redaction/rule-samples.jsonl, from gen_rule_samples.py): each
# positive sample is acted on by that rule (and its secret, when given, is
# gone from telem_redact's output); no negative sample is.
set -euo pipefail
SO=${VOXTELEM_SO:-$PWD/voxtelem.so}
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
"$PYTHON" - "$SO" <<'PY'
import json, sqlite3, sys, yaml
so = sys.argv[1]
db = sqlite3.connect(":memory:")
db.enable_load_extension(True)
db.load_extension(so[:-3] if so.endswith(".so") else so)
rules = yaml.safe_load(open("contracts/telemetry/redaction-rules.yaml"))
ids = [r["id"] for r in rules["value_patterns"]]
samples = {}
for line in open("tests/redaction/rule-samples.jsonl"):
    d = json.loads(line)
    samples[d["rule"]] = d
fail = 0
missing = [i for i in ids if i not in samples]
if missing:
    print("FAIL: value patterns without samples:", ", ".join(missing)); fail = 1
npos = nneg = 0
for rid, d in samples.items():
    for p in d["positive"]:
        npos += 1
        fired = [r for (r,) in db.execute("select rule from telem_redactions(?)", (p["text"],))]
        out = db.execute("select telem_redact(?)", (p["text"],)).fetchone()[0]
        if rid not in fired or (p["secret"] and p["secret"] in out):
            print("FAIL %s: missed %r -> %s" % (rid, p["text"][:80], fired)); fail = 1
    for t in d["negative"]:
        nneg += 1
        fired = [r for (r,) in db.execute("select rule from telem_redactions(?)", (t,))]
        if rid in fired:
            print("FAIL %s: fired on look-alike %r" % (rid, t[:80])); fail = 1
print("%d rules, %d positive and %d negative samples" % (len(samples), npos, nneg))
sys.exit(fail)
PY
