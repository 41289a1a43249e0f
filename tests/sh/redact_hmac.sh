#!/usr/bin/env bash
# Keyed pseudonymisation (issue 13): `hash` with an operator key gives
# hmac:<keyid>:<HMAC-SHA256 hex> of the value's canonical JSON (keys sorted,
# compact, serde_json's escaping), computed here independently with
# python3's hmac/hashlib; the key never appears in output or errors; a key
# that cannot be read fails closed.
set -euo pipefail
SQLITE3=${SQLITE3:-sqlite3}
SO=${VOXTELEM_SO:-$PWD/voxtelem.so}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
KEY='operator-key-4f1c9a'
printf '%s\n' "$KEY" > "$tmp/key"
chmod 600 "$tmp/key"
fail=0
check() { # label, got, want
  if [ "$2" == "$3" ]; then echo "ok   $1"; else echo "FAIL $1: got [$2] want [$3]"; fail=1; fi
}
# Values with nested objects in non-sorted order, escapes, non-ASCII, a
# control character and a number: the canonical bytes must match serde_json.
PAYLOADS=(
  '{"args":{"zeta":1,"alpha":[true,null,"x"],"mid":{"b":"é\u0001\n","a":2.5}}}'
  '{"prompt":"a \"quoted\" / slash"}'
  '{"messages":[{"role":"user","content":"hi"}]}'
)
for p in "${PAYLOADS[@]}"; do
  got=$(VOXTELEM_HMAC_KEY_FILE="$tmp/key" VOXTELEM_HMAC_KEY_ID=k1 "$SQLITE3" -batch -cmd ".load ${SO%.so}" :memory: \
        "SELECT telem_redact('$(printf '%s' "$p" | sed "s/'/''/g")', 'hash');" 2>&1)
  want=$(python3 - "$p" "$KEY" <<'PY'
import hashlib, hmac, json, sys
doc = json.loads(sys.argv[1])
key = sys.argv[2].encode()
out = {}
for k, v in doc.items():
    canon = json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    out[k] = "hmac:k1:" + hmac.new(key, canon.encode(), hashlib.sha256).hexdigest()
print(json.dumps(out, separators=(",", ":")))
PY
)
  check "hmac $(printf '%.30s' "$p")" "$got" "$want"
  case "$got" in *"$KEY"*) echo "FAIL key in output"; fail=1;; esac
done
# The key as a variable, and the default key id.
got=$(VOXTELEM_HMAC_KEY="$KEY" "$SQLITE3" -batch -cmd ".load ${SO%.so}" :memory: "SELECT telem_redact('{\"prompt\":\"hi\"}', 'hash');")
want=$(python3 -c "import hmac,hashlib,sys; print('{\"prompt\":\"hmac:k1:' + hmac.new(sys.argv[1].encode(), b'\"hi\"', hashlib.sha256).hexdigest() + '\"}')" "$KEY")
check "hmac from VOXTELEM_HMAC_KEY, default id" "$got" "$want"
# Without a key: unkeyed xxh3 of the same canonical bytes (Vox's form).
got=$("$SQLITE3" -batch -cmd ".load ${SO%.so}" :memory: "SELECT telem_redact('{\"args\":{\"q\":\"x\"}}', 'hash');")
check "unkeyed xxh3" "$got" '{"args":"xxh3:39babab764d9ca16"}'
# Already pseudonymised values (Vox's hash mode) are kept, not re-hashed.
got=$("$SQLITE3" -batch -cmd ".load ${SO%.so}" :memory: "SELECT telem_redact('{\"args\":\"xxh3:39babab764d9ca16\"}', 'hash');")
check "pseudonym kept" "$got" '{"args":"xxh3:39babab764d9ca16"}'
# Fail closed, and never echo the key.
err=$(VOXTELEM_HMAC_KEY_FILE="$tmp/missing" "$SQLITE3" -batch -cmd ".load ${SO%.so}" :memory: "SELECT telem_redact('{\"prompt\":\"hi\"}', 'hash');" 2>&1 || true)
case "$err" in *"telem_redact: VOXTELEM_HMAC_KEY_FILE"*"No such file"*) echo "ok   missing key file fails closed";; *) echo "FAIL missing key file: $err"; fail=1;; esac
err=$(VOXTELEM_HMAC_KEY="$KEY" VOXTELEM_HMAC_KEY_ID='bad id!' "$SQLITE3" -batch -cmd ".load ${SO%.so}" :memory: "SELECT telem_redact('x');" 2>&1 || true)
case "$err" in *"$KEY"*) echo "FAIL key echoed: $err"; fail=1;; *"VOXTELEM_HMAC_KEY_ID"*) echo "ok   bad key id refused without the key";; *) echo "FAIL bad key id: $err"; fail=1;; esac
err=$(VOXTELEM_HMAC_KEY="$KEY" VOXTELEM_HMAC_KEY_FILE="$tmp/key" "$SQLITE3" -batch -cmd ".load ${SO%.so}" :memory: "SELECT telem_redact('x');" 2>&1 || true)
case "$err" in *"use one"*) echo "ok   both key sources refused";; *) echo "FAIL both: $err"; fail=1;; esac
mkfifo "$tmp/fifo"
err=$(timeout 10 env VOXTELEM_HMAC_KEY_FILE="$tmp/fifo" "$SQLITE3" -batch -cmd ".load ${SO%.so}" :memory: "SELECT telem_redact('x');" 2>&1 || true)
case "$err" in *"not a regular file"*) echo "ok   FIFO key file refused";; *) echo "FAIL fifo: $err"; fail=1;; esac
exit $fail
