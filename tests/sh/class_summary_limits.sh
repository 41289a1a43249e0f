#!/usr/bin/env bash
# telem_class_summary's memory is bounded (issue 18 item 3): 1,000,000
# (class, metric type) groups pass and one more fails; so do held metric
# types and time values past 64 MiB (a min and a max each hold a copy).  The
# errors start with the function's name.
set -euo pipefail
SQLITE3=${SQLITE3:-sqlite3}
SO=${VOXTELEM_SO:-$PWD/voxtelem.so}
fail=0
run() { "$SQLITE3" -batch -cmd ".load ${SO%.so}" :memory: "$1" 2>&1 || true; }
msg='telem_class_summary: more than 1000000 (class, metric type) groups, or their metric types and time values exceed 64 MiB'
groups="WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < %d)
  SELECT json_array_length(telem_class_summary('t' || i, NULL, i)) FROM r;"
out=$(run "$(printf "$groups" 1000000)")
[ "$out" = 1000000 ] || { echo "FAIL 1,000,000 groups: $out"; fail=1; }
out=$(run "$(printf "$groups" 1000001)")
case "$out" in *"$msg"*) ;; *) echo "FAIL 1,000,001 groups: $out"; fail=1 ;; esac
# a 30 MB value is held twice (oldest and newest): 60 MB pass, 2 x 34 MB do not
big="SELECT json_array_length(telem_class_summary('benchmark_event', NULL, printf('%%.*c', %d, 'a')));"
out=$(run "$(printf "$big" 30000000)")
[ "$out" = 1 ] || { echo "FAIL a 30 MB time value: $out"; fail=1; }
out=$(run "$(printf "$big" 34000000)")
case "$out" in *"$msg"*) ;; *) echo "FAIL a 34 MB time value: $out"; fail=1 ;; esac
[ $fail = 0 ] && echo "class_summary_limits: ok"
exit $fail
