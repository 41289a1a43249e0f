#!/usr/bin/env bash
# upload_loopback.sh -- voxtelem-upload against a receiver this test starts
# on 127.0.0.1 (tests/sh/sink_server.py), one fresh receiver per case, every
# upload bounded by `timeout` and the receiver by a request budget.
#
# Cases: 2xx acks; 500 and 429 + Retry-After keep the row and retry (the
# Retry-After wait is measured); --max-attempts leaves rows pending with
# attempts and last_error; 400 is a rejection (row kept, next row sent);
# connection reset and timeout mid-request; a slow answer; a 2xx whose
# answer is lost (the retry carries the same Idempotency-Key, the receiver
# stores it once); SIGKILL mid-run, then a rerun; batching; the client rate
# limit as the receiver measures it; --dry-run; export and status; HTTPS
# required except on loopback; Vox's own file spool.
# Every case checks: nothing lost (every enqueued row stored by the
# receiver), nothing stored twice (unique bodies == unique keys), and every
# signature verified by Python's hmac.
# Environment: VOXTELEM_SO, VOXTELEM_UPLOAD, SQLITE3 (set by make shtest).
set -euo pipefail
SO=${VOXTELEM_SO:-$PWD/voxtelem.so}
UP=${VOXTELEM_UPLOAD:-$PWD/build/voxtelem-upload}
SQLITE3=${SQLITE3:-sqlite3}
CONTRACTS=$PWD/tests/data/spool-contracts
SERVER=$PWD/tests/sh/sink_server.py
T=$(mktemp -d)
SPID=
cleanup() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "upload_loopback: FAIL: $*" >&2; exit 1; }
pass() { echo "ok   $*"; }

export VOX_TELEMETRY_UPLOAD_TOKEN=' tok-123 '
export VOX_TELEMETRY_SIGNING_KEY='test signing key'
export VOX_TELEMETRY_SIGNING_KEY_ID='k1'
unset VOX_TELEMETRY_UPLOAD_URL

start_server() { # $1 = plan, [$2 = max requests]
  stop_server
  rm -f "$T/port" "$T/state.json"
  python3 "$SERVER" "$T/port" "$T/state.json" "$1" "${2:-500}" &
  SPID=$!
  for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
  [ -s "$T/port" ] || fail "the receiver did not start"
  URL="http://127.0.0.1:$(cat "$T/port")/ingest"
}
stop_server() { if [ -n "$SPID" ]; then kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; SPID=; fi; }

st() { # python expression over the receiver's state s
  python3 -c "import json,sys; s=json.load(open('$T/state.json')); print($1)"
}

make_db() { # $1 = rows: distinct payloads, so a body stored twice would show
  rm -f "$T/db" "$T/db-wal" "$T/db-shm"
  "$SQLITE3" "$T/db" >/dev/null <<SQL
.load ${SO%.so}
PRAGMA journal_mode=WAL;
SELECT contracts FROM telem_use_contracts('$CONTRACTS');
CREATE TABLE rm(metric_type TEXT, metadata_json TEXT, session_id TEXT);
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < $1)
INSERT INTO rm SELECT 'spool.ok', json_object('event', 'e' || n, 'ms', n), 'sess:' || n FROM i;
SELECT count(*) FROM rm, telem_enqueue(rm.metric_type, rm.metadata_json, rm.session_id) e;
SQL
}

pending() { "$SQLITE3" "$T/db" ".load ${SO%.so}" "SELECT pending FROM telem_spool"; }

up() { # uploader, bounded in time; extra options first
  timeout 60 "$UP" --backoff 0.05 --timeout 2 "$@"
}

# The common pass condition: all n rows reached the receiver exactly once
# (by key and by body), every signature verified, the token was right, and
# the spool is empty.
check_all_stored() { # $1 = rows, $2 = case
  local n=$1
  [ "$(st 'len(s["stored"])')" = "$n" ] || fail "$2: receiver stored $(st 'len(s["stored"])') of $n"
  [ "$(st 'len(set(s["stored"].values()))')" = "$n" ] || fail "$2: a body was stored under two keys"
  [ "$(st 's["sig_bad"] + s["sig_missing"]')" = 0 ] || fail "$2: a signature did not verify"
  [ "$(st 's["sig_ok"] == s["requests"]')" = True ] || fail "$2: not every request was signed"
  [ "$(st 's["auth_bad"]')" = 0 ] || fail "$2: bearer token missing or not trimmed"
  [ "$(pending)" = 0 ] || fail "$2: $(pending) rows still pending"
  # the bodies are the spool's export lines (Vox's format), in spool order
  python3 - "$T/state.json" <<'PY' || fail "$2: stored bodies are not Vox ResearchMetric events in order"
import json, sys
s = json.load(open(sys.argv[1]))
prev = 0
for k in s["store_order"]:
    ev = json.loads(s["stored"][k])
    assert ev["event_type"] == "research_metric" and ev["metric_type"] == "spool.ok", ev
    assert list(ev) == sorted(ev), "keys not sorted"
    # compact, keys sorted, non-ASCII raw: the bytes serde_json writes for
    # a serde_json::Value (Vox's export and upload)
    assert json.dumps(ev, sort_keys=True, separators=(",", ":"), ensure_ascii=False) == s["stored"][k], "not serde's layout"
    n = json.loads(ev["metadata_json"])["ms"]
    assert n > prev, "out of spool order"
    prev = n
PY
}

# ---- 0. the extension has no network code (ADR 0006) ----------------------------------
# (libcrypto is the redactor's, for keyed digests; no HTTP or TLS library)
if ldd "$SO" | grep -qiE 'libcurl|libssl\.|libgnutls|libnghttp'; then fail "voxtelem.so links a network or TLS library"; fi
if nm -D --undefined-only "$SO" | grep -qwE 'socket|connect|getaddrinfo|gethostbyname|sendto|recvfrom'; then
  fail "voxtelem.so imports a socket function"
fi
pass "voxtelem.so links no HTTP or TLS library and imports no socket function"

# ---- 1. 2xx acknowledges ---------------------------------------------------------
make_db 5
start_server ""
up "$T/db" "$URL" || fail "plain upload exited $?"
check_all_stored 5 "2xx"
[ "$(st 's["requests"]')" = 5 ] || fail "2xx: expected 5 requests, got $(st 's["requests"]')"
[ "$(st 'all(c.startswith("application/json") for c in s["content_types"])')" = True ] || fail "2xx: content type"
pass "2xx acks every row, one JSON object per POST, signed, bearer trimmed"

# ---- 2. 500 and 429 + Retry-After keep the row and retry -------------------------------
make_db 3
start_server "500,429,503,500"
up "$T/db" "$URL" || fail "500/429 upload exited $?"
check_all_stored 3 "500/429"
[ "$(st 's["requests"]')" = 7 ] || fail "500/429: expected 7 requests, got $(st 's["requests"]')"
gap=$(st 'round(s["times"][2] - s["times"][1], 2)')
python3 -c "import sys; sys.exit(0 if $gap >= 0.95 else 1)" || fail "429: retried after ${gap}s, Retry-After said 1"
pass "500, 429 and 503 keep the row and retry (Retry-After: 1 -> waited ${gap}s)"

# ---- 3. giving up leaves the rows pending with attempts and last_error -------------------------
make_db 3
start_server "500,500,500,500,500,500"
set +e; up --max-attempts 2 "$T/db" "$URL" 2>"$T/err"; rc=$?; set -e
[ "$rc" = 1 ] || fail "max-attempts: exit $rc, expected 1"
[ "$(pending)" = 3 ] || fail "max-attempts: $(pending) pending, expected 3"
r=$("$SQLITE3" "$T/db" "SELECT attempts, last_error FROM telem_spool_queue ORDER BY id LIMIT 1")
[ "$r" = '2|HTTP 500: {"error":"planned"}' ] || fail "max-attempts: first row has '$r'"
s=$("$SQLITE3" "$T/db" ".load ${SO%.so}" "SELECT pending, max_attempts, last_error FROM telem_spool")
[ "$s" = '3|2|HTTP 500: {"error":"planned"}' ] || fail "max-attempts: status says '$s'"
up "$T/db" "$URL" || fail "rerun after giving up exited $?"
check_all_stored 3 "rerun"
pass "after --max-attempts the rows stay (attempts 2, last_error kept); a rerun sends them"

# ---- 4. 400 is a rejection: kept with its error, the next row still goes ---------------------
make_db 3
start_server "400"
set +e; up "$T/db" "$URL" 2>"$T/err"; rc=$?; set -e
[ "$rc" = 1 ] || fail "400: exit $rc, expected 1"
[ "$(pending)" = 1 ] || fail "400: $(pending) pending, expected 1"
[ "$(st 'len(s["stored"])')" = 2 ] || fail "400: the rows after the rejected one were not sent"
grep -q 'rejected: HTTP 400' "$T/err" || fail "400: no rejection message"
# (the payload is {"event":"e<n>","ms":<n>}; keys are random hex, so look for the JSON)
if grep -qE 'event|"ms"|metadata_json' "$T/err"; then fail "400: the payload was printed"; fi
pass "400 keeps the row with its error and goes on"

# ---- 5. connection reset and timeout mid-request; a slow answer ----------------------------
make_db 4
start_server "reset,timeout,slow"
t0=$(date +%s.%N)
up "$T/db" "$URL" || fail "reset/timeout/slow upload exited $?"
t1=$(date +%s.%N)
check_all_stored 4 "reset/timeout/slow"
[ "$(st 's["requests"]')" = 6 ] || fail "reset/timeout: expected 6 requests, got $(st 's["requests"]')"
pass "reset and timeout mid-request are retried; a slow answer is waited for ($(python3 -c "print(round($t1-$t0,1))")s)"

# ---- 6. a 2xx whose answer is lost: the retry carries the same key -----------------------------
make_db 3
start_server "ok,lost,lost"
up "$T/db" "$URL" || fail "lost-answer upload exited $?"
check_all_stored 3 "lost"
[ "$(st 's["repeats"]')" = 2 ] || fail "lost: receiver saw $(st 's["repeats"]') repeated keys, expected 2"
[ "$(st 's["requests"]')" = 5 ] || fail "lost: expected 5 requests"
pass "a lost 2xx is retried with the same Idempotency-Key; stored once"

# ---- 7. SIGKILL mid-run, then a rerun: nothing lost, nothing twice -------------------------
make_db 120
start_server "" 1000
# no `timeout` wrapper here: the kill must reach the uploader itself
# (--max-requests bounds it instead)
"$UP" --rate 40 --burst 1 --max-requests 200 "$T/db" "$URL" 2>/dev/null &
UPID=$!
sleep 1.2
kill -9 "$UPID" 2>/dev/null || fail "the uploader had already finished"
wait "$UPID" 2>/dev/null || true
mid=$(pending)
[ "$mid" -gt 0 ] && [ "$mid" -lt 120 ] || fail "SIGKILL: $mid pending mid-run"
"$SQLITE3" "$T/db" "PRAGMA integrity_check" | grep -qx ok || fail "SIGKILL: integrity_check"
up --rate 1000 "$T/db" "$URL" || fail "rerun after SIGKILL exited $?"
check_all_stored 120 "SIGKILL"
pass "SIGKILL mid-run ($mid of 120 pending), rerun: all 120 stored once ($(st 's["repeats"]') repeat)"

# ---- 8. batching ---------------------------------------------------------------------------
make_db 25
start_server "ok,500"
up --batch 10 "$T/db" "$URL" || fail "batch upload exited $?"
check_all_stored 25 "batch"
[ "$(st 's["requests"]')" = 4 ] || fail "batch: expected 4 requests (3 batches, 1 retry)"
[ "$(st 's["content_types"][0]')" = "application/x-ndjson; charset=utf-8" ] || fail "batch: content type"
pass "--batch 10: 25 rows in 3 POSTs of JSON Lines, per-item keys"

# ---- 9. the rate limit, as the receiver measures it -------------------------------------------
make_db 45
start_server ""
up --rate 20 --burst 5 "$T/db" "$URL" || fail "rate upload exited $?"
check_all_stored 45 "rate"
# a token bucket of 5 at 20/s sends n requests in (n - 5) / 20 s
rate=$(st '(len(s["times"]) - 5) / (s["times"][-1] - s["times"][0])')
python3 -c "import sys; r=$rate; sys.exit(0 if 20*0.85 <= r <= 20*1.05 else 1)" ||
  fail "rate: measured $rate req/s against a limit of 20"
burst=$(st 's["times"][4] - s["times"][0]')
python3 -c "import sys; sys.exit(0 if $burst < 0.5 else 1)" || fail "rate: the burst of 5 took ${burst}s"
pass "rate limit 20/s burst 5: measured $(python3 -c "print(round($rate,2))") req/s beyond the burst"

# ---- 10. dry run, export, status ------------------------------------------------------------------
make_db 4
start_server ""
up --dry-run "$T/db" "$URL" 2>"$T/err" || fail "dry-run exited $?"
[ "$(st 's["requests"]')" = 0 ] || fail "dry-run sent requests"
[ "$(pending)" = 4 ] || fail "dry-run changed the spool"
[ "$(grep -c 'would POST' "$T/err")" = 4 ] || fail "dry-run did not list 4 requests"
"$UP" export "$T/db" >"$T/export.jsonl" 2>/dev/null || fail "export exited $?"
"$SQLITE3" "$T/db" ".load ${SO%.so}" "SELECT line FROM telem_spool_export" >"$T/sql.jsonl"
cmp -s "$T/export.jsonl" "$T/sql.jsonl" || fail "export differs from telem_spool_export"
[ "$(wc -l <"$T/export.jsonl")" = 4 ] || fail "export: expected 4 lines"
"$UP" status "$T/db" >"$T/status" || fail "status exited $?"
grep -qx 'pending: 4' "$T/status" || fail "status: $(cat "$T/status")"
grep -qx 'upload_token: set' "$T/status" || fail "status: token"
if grep -q 'tok-123' "$T/status"; then fail "status printed the token"; fi
pass "--dry-run sends and changes nothing; export = telem_spool_export; status"

# ---- 11. HTTPS required except on loopback ----------------------------------------------------------
set +e
"$UP" "$T/db" "http://192.0.2.1/ingest" 2>"$T/err"; rc=$?
set -e
[ "$rc" = 2 ] && grep -q 'must be https' "$T/err" || fail "plain http to a remote host was not refused (exit $rc)"
set +e; "$UP" "$T/db" "ftp://127.0.0.1/x" 2>/dev/null; rc=$?; set -e
[ "$rc" = 2 ] || fail "ftp URL accepted"
[ "$(pending)" = 4 ] || fail "a refused URL changed the spool"
pass "https required; plain http only to loopback"

# ---- 12. Vox's own file spool, unchanged ---------------------------------------------------------------
stop_server
start_server "ok,500"
mkdir -p "$T/vox/pending"
for i in 1 2 3; do
  u=$(python3 -c "import uuid; print(uuid.uuid4())")
  printf '{\n  "event_type": "research_metric",\n  "session_id": "s%d",\n  "metric_type": "bench",\n  "metric_value": 0.1,\n  "metadata_json": null\n}' "$i" >"$T/vox/pending/$u.json"
done
printf '{"broken": ' >"$T/vox/pending/ffffffff-0000-4000-8000-000000000000.json"
keys=$(cd "$T/vox/pending" && ls *.json | sed 's/\.json$//' | sort | head -3)
up --vox-spool "$T/vox" "$URL" 2>"$T/err" || fail "Vox spool upload exited $?"
[ "$(ls "$T/vox/pending" | wc -l)" = 1 ] || fail "Vox spool: acked files not removed"
[ -f "$T/vox/pending/ffffffff-0000-4000-8000-000000000000.json" ] || fail "Vox spool: the broken file was removed"
[ "$(st '"\n".join(s["store_order"])')" = "$keys" ] || fail "Vox spool: keys are not the file names in order"
[ "$(st 'sorted(__import__("json").loads(v)["session_id"] for v in s["stored"].values())')" = "['s1', 's2', 's3']" ] ||
  fail "Vox spool: bodies"
[ "$(st 's["sig_ok"]')" = 4 ] || fail "Vox spool: signatures"
pass "Vox's file spool: POSTed in name order, key = file name, acked files removed, bad file kept"

# ---- 13. the signing example of docs/reference/sink-wire.md, made by the uploader -------------
rm -f "$T/db"
"$SQLITE3" "$T/db" ".load ${SO%.so}" "SELECT contracts FROM telem_use_contracts('$CONTRACTS')" \
  "SELECT count(*) FROM telem_enqueue('benchmark_event', '{\"event\":\"start\",\"ms\":12}', 'bench:1')" >/dev/null
VOX_TELEMETRY_SIGNING_KEY=example-signing-key VOX_TELEMETRY_SIGNING_KEY_ID=k1 start_server ""
VOX_TELEMETRY_SIGNING_KEY=example-signing-key VOX_TELEMETRY_SIGNING_KEY_ID=k1 VOXTELEM_UPLOAD_FIXED_TIME=1767225600 \
  up "$T/db" "$URL" 2>/dev/null || fail "doc example upload exited $?"
doc=docs/reference/sink-wire.md
want_sig=$(sed -n 's/^X-Vox-Telemetry-Signature: //p' "$doc")
want_body=$(grep -m1 '^{"event_type"' "$doc")
[ -n "$want_sig" ] && [ -n "$want_body" ] || fail "doc example not found in $doc"
[ "$(st 's["signatures"][0]')" = "['1767225600', '$want_sig', 'k1']" ] || fail "doc example: got $(st 's["signatures"][0]')"
[ "$(st 'list(s["stored"].values())[0]')" = "$want_body" ] || fail "doc example: body differs"
[ "$(st 's["sig_ok"]')" = 1 ] || fail "doc example: Python's hmac did not verify it"
pass "the documented signing example is what the uploader sends"

# ---- 14. one uploader per spool ----------------------------------------------------------------
make_db 6
start_server ""
"$UP" --rate 2 --burst 1 --max-requests 20 "$T/db" "$URL" 2>/dev/null &
UPID=$!
sleep 0.7
set +e; up "$T/db" "$URL" 2>"$T/err"; rc=$?; set -e
kill -9 "$UPID" 2>/dev/null || true; wait "$UPID" 2>/dev/null || true
[ "$rc" = 2 ] && grep -q 'another voxtelem-upload is uploading this spool' "$T/err" ||
  fail "a second uploader on the same spool was not refused (exit $rc)"
up "$T/db" "$URL" || fail "upload after the first one died exited $?"
check_all_stored 6 "lock"
pass "a second uploader on the same spool is refused; the lock dies with its holder"

# ---- 15. HTTPS: the certificate is verified -------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 || fail "openssl could not make a certificate"
make_db 3
SINK_TLS_CERT=$T/cert.pem SINK_TLS_KEY=$T/key.pem start_server ""
URL=${URL/http:/https:}
set +e; up --max-attempts 1 "$T/db" "$URL" 2>"$T/err"; rc=$?; set -e
[ "$rc" = 1 ] && [ "$(pending)" = 3 ] || fail "an unknown certificate was accepted (exit $rc)"
grep -qi 'certificate' "$T/err" || fail "no certificate error: $(cat "$T/err")"
up --cacert "$T/cert.pem" "$T/db" "$URL" || fail "HTTPS upload with --cacert exited $?"
check_all_stored 3 "https"
pass "HTTPS: an untrusted certificate is refused, a trusted one (--cacert) works"

stop_server
echo "upload_loopback: all passed"
