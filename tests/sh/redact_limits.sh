#!/usr/bin/env bash
# Bounded work (issue 17 item 5): a custom rule whose cost grows with the
# square of the input stops at the per-call regex work budget with a clear
# error, not after minutes; sqlite3_interrupt() stops a long telem_redact
# within 100 ms.
set -euo pipefail
SQLITE3=${SQLITE3:-sqlite3}
SO=${VOXTELEM_SO:-$PWD/voxtelem.so}
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
cp -r contracts "$tmp/c"
cat > "$tmp/c/telemetry/redaction-rules.yaml" <<'YAML'
version: 1
value_patterns:
  - id: slow
    class: S3
    action: replace
    # Every start position scans to the end of the run: quadratic.
    pattern: '(*NO_START_OPT)[ab]*+(?=c)'
profiles:
  default: {}
YAML
start=$(date +%s%N)
out=$("$SQLITE3" -batch -cmd ".load ${SO%.so}" :memory: \
  "SELECT contracts FROM telem_use_contracts('$tmp/c'); SELECT length(telem_redact(printf('%.*c', 524288, 'a')));" 2>&1 || true)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
case "$out" in
  # The budget is 1 s of CPU: without it this input takes minutes.  The
  # wall-clock bound is loose for a busy machine.
  *"telem_redact: regex work budget exceeded"*) if [ "$ms" -lt 20000 ]; then echo "ok   quadratic rule stopped by the work budget after $ms ms"; else echo "FAIL budget took $ms ms"; fail=1; fi ;;
  *) echo "FAIL budget: $out"; fail=1 ;;
esac
"$PYTHON" - "$SO" <<'PY' || fail=1
import sqlite3, sys, threading, time
so = sys.argv[1]
db = sqlite3.connect(":memory:", check_same_thread=False)
db.enable_load_extension(True)
db.load_extension(so[:-3] if so.endswith(".so") else so)
big = "mail bob@example.com from 81.2.69.160 card 4111 1111 1111 1111 " * 400000
best = None
for attempt in range(3):
    fired = {}
    def fire():
        time.sleep(0.2)
        fired["t"] = time.monotonic()
        db.interrupt()
    th = threading.Thread(target=fire)
    th.start()
    try:
        db.execute("select length(telem_redact(?))", (big,)).fetchone()
        th.join()
        print("FAIL: telem_redact finished before the interrupt"); sys.exit(1)
    except sqlite3.OperationalError as e:
        lat = time.monotonic() - fired.get("t", time.monotonic())
        th.join()
        assert str(e) == "telem_redact: interrupted", e
        best = lat if best is None else min(best, lat)
print("interrupt latency %.1f ms (best of 3)" % (best * 1000))
if best > 0.1:
    print("FAIL: over 100 ms"); sys.exit(1)
print("ok   sqlite3_interrupt stops telem_redact")
PY
exit $fail
