#!/usr/bin/env bash
# contracts_files.sh -- issue 17 item 7: contract and policy files are read
# beneath their root without following links out of it, and a FIFO never
# blocks (it is an error at once).  Through SQL (telem_use_contracts),
# VOXTELEM_CONTRACTS and telem_policy_import.
# Environment: VOXTELEM_SO, SQLITE3 (make test).
set -euo pipefail
SO=${VOXTELEM_SO:?}
SQLITE3=${SQLITE3:-sqlite3}
root=$PWD
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "contracts_files: FAIL: $*"; exit 1; }

# Output is matched with here-strings, not `echo | grep -q`: under pipefail
# grep -q exiting at its first match can SIGPIPE the echo and fail the test.

# use <dir>: the outcome of switching to dir, then the contracts in use.
use() {
  printf '%s\n' "SELECT contracts FROM telem_use_contracts('$1');" "SELECT DISTINCT source FROM telem_contracts;" |
    timeout 10 "$SQLITE3" -batch -cmd ".load $SO" :memory: 2>&1 || true
}

# Outside the tree: a taxonomy that would make every metric type S0.
mkdir -p "$T/outside/telemetry"
cp -r "$root/contracts/telemetry/." "$T/outside/telemetry/"
sed -i 's/sensitivity: S[123]/sensitivity: S0/' "$T/outside/telemetry/taxonomy.yaml"

# 0. The untouched copy loads, also through a symlinked root (the root is the
#    operator's choice).
cp -r "$root/contracts" "$T/good"
ln -s "$T/good" "$T/good-link"
out=$(use "$T/good-link")
grep -qx "$T/good-link" <<<"$out" || fail "a symlinked root did not load: $out"

# 1. A symlinked schema file pointing outside the tree is refused.
cp -r "$root/contracts" "$T/c1"
rm "$T/c1/telemetry/taxonomy.yaml"
ln -s "$T/outside/telemetry/taxonomy.yaml" "$T/c1/telemetry/taxonomy.yaml"
out=$(use "$T/c1")
echo "$out"
grep -q 'telem_use_contracts: index.yaml:[0-9]*: telemetry/taxonomy.yaml: is a symbolic link (links are not followed beneath the directory)' <<<"$out" \
  || fail "symlinked file: $out"
grep -qx embedded <<<"$out" || fail "the contracts in use changed: $out"

# 2. A symlinked directory pointing outside the tree is refused.
cp -r "$root/contracts" "$T/c2"
rm -r "$T/c2/telemetry"
ln -s "$T/outside/telemetry" "$T/c2/telemetry"
out=$(use "$T/c2")
echo "$out"
grep -q 'telem_use_contracts: index.yaml:[0-9]*: telemetry/[^:]*: is a symbolic link' <<<"$out" || fail "symlinked dir: $out"
grep -qx embedded <<<"$out" || fail "the contracts in use changed: $out"

# 3. The same through VOXTELEM_CONTRACTS: the load fails, naming the link.
out=$(VOXTELEM_CONTRACTS="$T/c2" timeout 10 "$SQLITE3" -batch -cmd ".load $SO" :memory: "SELECT 1" 2>&1 || true)
grep -q "VOXTELEM_CONTRACTS=$T/c2: index.yaml:[0-9]*: telemetry/[^:]*: is a symbolic link" <<<"$out" || fail "env: $out"

# 4. A FIFO in a contracts directory (as a contract, and as index.yaml) is
#    an error at once, not a hang.
cp -r "$root/contracts" "$T/c4"
rm "$T/c4/telemetry/taxonomy.yaml"
mkfifo "$T/c4/telemetry/taxonomy.yaml"
start=$(date +%s)
out=$(use "$T/c4")
echo "$out"
grep -q 'index.yaml:[0-9]*: telemetry/taxonomy.yaml: not a regular file' <<<"$out" || fail "FIFO contract: $out"
mkdir "$T/c5"
mkfifo "$T/c5/index.yaml"
out=$(use "$T/c5")
echo "$out"
grep -q "$T/c5/index.yaml: not a regular file" <<<"$out" || fail "FIFO index.yaml: $out"
[ $(( $(date +%s) - start )) -lt 8 ] || fail "the FIFO cases took too long"

# 5. A FIFO passed to telem_policy_import: an error at once.
mkfifo "$T/policy.fifo"
rc=0
out=$(printf '%s\n' "SELECT * FROM telem_policy_import('$T/policy.fifo');" "SELECT telem_policy_import('$T/policy.fifo');" |
  timeout 5 "$SQLITE3" -batch -cmd ".load $SO" :memory: 2>&1) || rc=$?
echo "policy_import(FIFO): rc=$rc $out"
[ "$rc" != 124 ] || fail "telem_policy_import blocked on a FIFO"
grep -q "not a regular file" <<<"$out" || fail "telem_policy_import on a FIFO: $out"
echo "contracts_files: ok"
