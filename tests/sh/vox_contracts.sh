#!/usr/bin/env bash
# Outside truth: Vox's real contracts/ directory (vox-foundation/vox),
# extracted with git archive into build/ from the mirror (VOXTELEM_VOX_GIT,
# a bare git dir).  telem_use_contracts must read it as it is: every entry a
# row of telem_contracts, the malformed files rows with an error, and every
# other json-schema contract usable by telem_validate.
set -euo pipefail
SO=${VOXTELEM_SO:?}
SQLITE3=${SQLITE3:-sqlite3}
VOX_GIT=${VOXTELEM_VOX_GIT:-/work/.mirror/vox-foundation+vox/repo}
fail() { echo "FAIL: $*"; exit 1; }
if ! git --git-dir="$VOX_GIT" rev-parse -q --verify HEAD >/dev/null 2>&1; then
  echo "SKIP: the Vox mirror is not at $VOX_GIT (set VOXTELEM_VOX_GIT to a bare clone of vox-foundation/vox)"
  exit 0
fi
out=build/vox-contracts
rm -rf "$out" && mkdir -p "$out"
git --git-dir="$VOX_GIT" archive HEAD contracts 2>/dev/null | tar -x -C "$out"
[ -f "$out/contracts/index.yaml" ] || fail "git archive gave no contracts/index.yaml"
commit=$(git --git-dir="$VOX_GIT" rev-parse HEAD)
dir=$out/contracts
listed=$(grep -c '^  - id:' "$dir/index.yaml")
read -r n errs schemas bad_schemas < <($SQLITE3 -batch -separator ' ' -cmd ".load $SO" :memory: "
  SELECT u.contracts, (SELECT count(error) FROM telem_contracts),
         (SELECT count(*) FROM telem_contracts WHERE kind = 'json-schema'),
         (SELECT count(*) FROM telem_contracts WHERE kind = 'json-schema' AND error IS NOT NULL)
  FROM telem_use_contracts('$dir') u")
echo "Vox $commit: $n contracts listed ($listed in index.yaml), $errs with an error, $bad_schemas of $schemas json-schema files malformed"
[ "$n" = "$listed" ] || fail "telem_use_contracts listed $n contracts, index.yaml has $listed"
# every json-schema that is not malformed compiles (or says why, naming a $ref it cannot reach)
compiled=0; refused=0
while read -r id; do
  if $SQLITE3 -batch -cmd ".load $SO" :memory: "SELECT contracts FROM telem_use_contracts('$dir')" \
       "SELECT telem_validate('null', '$id')" >/dev/null 2>"$out/err"; then
    compiled=$((compiled + 1))
  else
    refused=$((refused + 1)); echo "  $id: $(head -c 200 "$out/err")"
  fi
done < <($SQLITE3 -batch -cmd ".load $SO" :memory: "SELECT contracts FROM telem_use_contracts('$dir')" \
           "SELECT id FROM telem_contracts WHERE kind = 'json-schema' AND error IS NULL" | tail -n +2)
echo "usable json-schema contracts: $compiled compile, $refused do not"
[ "$compiled" -gt 0 ] || fail "no Vox schema compiles"
# the malformed ones are exactly the files that are not JSON
notjson=0
for f in $(find "$dir" -name '*.schema.json'); do
  /usr/bin/python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$f" 2>/dev/null || notjson=$((notjson + 1))
done
echo "schema files that python's json cannot read either: $notjson"
[ "$bad_schemas" -le "$notjson" ] || fail "$bad_schemas schemas refused, but only $notjson files are not JSON"
# a Vox payload validates against Vox's own schema
ok=$($SQLITE3 -batch -cmd ".load $SO" :memory: "SELECT contracts FROM telem_use_contracts('$dir')" \
  "SELECT telem_validate('{\"tool\":\"fs_write\",\"reason\":\"destructive\",\"risk_score\":80}', 'telemetry-agentos-guardrail-deny-v1-schema')" | tail -1)
[ "$ok" = 1 ] || fail "the guardrail deny payload does not validate against Vox's schema"
