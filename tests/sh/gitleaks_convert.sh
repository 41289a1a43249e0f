#!/usr/bin/env bash
# tools/gitleaks_convert.py on a gitleaks-format rule file written for the
# test (tests/redaction/gitleaks-test-rules.toml): the converted rules load
# with telem_use_contracts and behave as the gitleaks fields say (keyword
# prefilter, secret group, entropy gate, allowlists, skipped path rule).
set -euo pipefail
SQLITE3=${SQLITE3:-sqlite3}
SO=${VOXTELEM_SO:-$PWD/voxtelem.so}
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
cp -r contracts "$tmp/c"
"$PYTHON" tools/gitleaks_convert.py tests/redaction/gitleaks-test-rules.toml \
  --base contracts/telemetry/redaction-rules.yaml --prefix gl- \
  > "$tmp/c/telemetry/redaction-rules.yaml" 2> "$tmp/warn.txt"
grep -q 'rule pkcs12-file: no regex' "$tmp/warn.txt" || { echo "FAIL: no warning for the path rule"; fail=1; }
grep -q 'regexTarget "line" are not supported' "$tmp/warn.txt" || { echo "FAIL: no warning for the line allowlist"; fail=1; }
run() { "$SQLITE3" -batch -cmd ".load ${SO%.so}" :memory: "SELECT contracts > 0 FROM telem_use_contracts('$tmp/c');" "$@" 2>&1 | tail -n +2; }
check() { # label, sql, want
  got=$(run "$2")
  if [ "$got" == "$3" ]; then echo "ok   $1"; else echo "FAIL $1: got [$got] want [$3]"; fail=1; fi
}
check "secret group only"    "SELECT telem_redact('acme = q8zk2lm9xv4b7n1c3d5f6g8h');" 'acme = [REDACTED:gl-acme-api-token]'
check "entropy gate"         "SELECT telem_redact('acme: aaaaaaaaaaaabbbbbbbbbbbb');" 'acme: aaaaaaaaaaaabbbbbbbbbbbb'
check "keyword prefilter"    "SELECT telem_redact('other_id: q8zk2lm9xv4b7n1c3d5f6g8h');" 'other_id: q8zk2lm9xv4b7n1c3d5f6g8h'
check "prefixed key"         "SELECT telem_redact('use zed_Q8Zk2Lm9Xv4B7n1C3d5F now');" 'use [REDACTED:gl-zed-key] now'
check "rule allow regex"     "SELECT telem_redact('use zed_TESTk2Lm9Xv4B7n1C3d5F now');" 'use zed_TESTk2Lm9Xv4B7n1C3d5F now'
check "rule stopword"        "SELECT telem_redact('use zed_exampleXv4B7n1C3d5F now');" 'use zed_exampleXv4B7n1C3d5F now'
check "global stopword"      "SELECT telem_redact('use zed_sandboxdemoQ8Zk2Lm9X now');" 'use zed_sandboxdemoQ8Zk2Lm9X now'
check "base rules kept"      "SELECT telem_redact('{\"password\":\"x\",\"m\":\"bob@example.com\"}');" '{"password":"[REDACTED:secret-key]","m":"[REDACTED:email]"}'
check "rule listed"          "SELECT count(*) FROM telem_redactions('zed_Q8Zk2Lm9Xv4B7n1C3d5F') WHERE rule = 'gl-zed-key';" '1'
# A clash with the base file's ids is refused.
if "$PYTHON" tools/gitleaks_convert.py tests/redaction/gitleaks-test-rules.toml --base "$tmp/c/telemetry/redaction-rules.yaml" --prefix gl- > /dev/null 2> "$tmp/e.txt"; then
  echo "FAIL: id clash accepted"; fail=1
else
  grep -q "ids already in the base file" "$tmp/e.txt" && echo "ok   id clash refused" || { echo "FAIL clash message"; fail=1; }
fi
exit $fail
