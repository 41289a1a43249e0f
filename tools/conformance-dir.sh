#!/usr/bin/env bash
# Prints the folder that holds the conformance suites (json-schema-test-suite/
# and json-parsing-test-suite/), looked for in this order:
#   1. $VOXTELEM_CONFORMANCE (an error when it is set but not there);
#   2. the pinned git submodules under tests/conformance/suites/
#      (`git submodule update --init`, which `make deps` tries);
#   3. ../shared/conformance, beside the clone (as in CI).
# Prints nothing when none is present; the callers then say the step was
# skipped (and fail under CI=true, which always has ../shared).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
has_suites() { [ -d "$1/json-schema-test-suite/tests" ] && [ -d "$1/json-parsing-test-suite/test_parsing" ]; }
if [ -n "${VOXTELEM_CONFORMANCE:-}" ]; then
  if has_suites "$VOXTELEM_CONFORMANCE"; then echo "$VOXTELEM_CONFORMANCE"; exit 0; fi
  echo "conformance: VOXTELEM_CONFORMANCE=$VOXTELEM_CONFORMANCE holds no json-schema-test-suite/tests and json-parsing-test-suite/test_parsing" >&2
  exit 1
fi
for d in "$root/tests/conformance/suites" "$root/../shared/conformance"; do
  if has_suites "$d"; then (cd "$d" && pwd); exit 0; fi
done
exit 0
