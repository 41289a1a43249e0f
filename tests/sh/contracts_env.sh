#!/usr/bin/env bash
# VOXTELEM_CONTRACTS switches a process to a contracts directory; a broken one
# fails the load with an error naming the file and line.  The .so also loads
# from any directory with no files beside it (embedded contracts).
set -euo pipefail
SO=${VOXTELEM_SO:?}
SQLITE3=${SQLITE3:-sqlite3}
root=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r contracts "$tmp/contracts"

src=$(cd "$tmp" && VOXTELEM_CONTRACTS="$tmp/contracts" $SQLITE3 -batch -cmd ".load $SO" :memory: "select distinct source from telem_contracts")
[ "$src" = "$tmp/contracts" ] || { echo "env dir not used: $src"; exit 1; }

emb=$(cd "$tmp" && $SQLITE3 -batch -cmd ".load $SO" :memory: "select distinct source from telem_contracts")
[ "$emb" = "embedded" ] || { echo "embedded not used: $emb"; exit 1; }

# telem_use_contracts(NULL) goes back to the process default: the
# VOXTELEM_CONTRACTS directory when it is set (not the embedded copy).
back=$(cd "$tmp" && VOXTELEM_CONTRACTS="$tmp/contracts" $SQLITE3 -batch -cmd ".load $SO" :memory: \
  "select source from telem_use_contracts('$root/contracts'); select source from telem_use_contracts(NULL); select distinct source from telem_contracts")
[ "$back" = "$root/contracts
$tmp/contracts
$tmp/contracts" ] || { echo "NULL did not go back to VOXTELEM_CONTRACTS: $back"; exit 1; }
back=$(cd "$tmp" && $SQLITE3 -batch -cmd ".load $SO" :memory: \
  "select source from telem_use_contracts('$root/contracts'); select source from telem_use_contracts(NULL)")
[ "$back" = "$root/contracts
embedded" ] || { echo "NULL did not go back to the embedded copy: $back"; exit 1; }

# A taxonomy entry with an unknown class: the load fails, naming file and line.
sed -i '0,/    sensitivity: S0/s//    sensitivity: S7/' "$tmp/contracts/telemetry/taxonomy.yaml"
err=$(cd "$tmp" && VOXTELEM_CONTRACTS="$tmp/contracts" $SQLITE3 -batch -cmd ".load $SO" :memory: "select 1" 2>&1 || true)
echo "$err"
case "$err" in
  *"VOXTELEM_CONTRACTS=$tmp/contracts: telemetry/taxonomy.yaml:"*"sensitivity \"S7\""*) ;;
  *) echo "unexpected: $err"; exit 1 ;;
esac
echo "ok"
