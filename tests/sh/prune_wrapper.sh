#!/usr/bin/env bash
# prune_wrapper.sh -- tools/voxtelem-prune, the scheduled prune as cron and
# systemd run it: exit 0 with a short summary when it pruned or had nothing
# to do (silent with -q), exit 1 with the error when the prune failed
# (nothing deleted under a broken policy), exit 2 for a missing database,
# which it must not create.  Its verdict comes from the shell's exit status
# and telem_prune_log, whatever SQL sql/prune.sql uses.
# Environment: VOXTELEM_SO, SQLITE3 (set by make test).
set -euo pipefail
SO=${VOXTELEM_SO:?}
SQLITE3=${SQLITE3:-sqlite3}
W=$PWD/tools/voxtelem-prune
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "prune_wrapper: FAIL: $*" >&2; exit 1; }
# The wrapper as cron runs it: from another directory, no library path of
# ours; VOXTELEM_SO names the build under test.
run() { (cd "$T" && env -u LD_LIBRARY_PATH VOXTELEM_SO="$SO" SQLITE3="$SQLITE3" "$W" "$@"); }
printable() { ! LC_ALL=C grep -q '[^[:print:]]' "$1"; }

db=$T/app.db
"$SQLITE3" "$db" >/dev/null <<'SQL'
PRAGMA journal_mode=WAL;
.read sql/schema/research_metrics.sql
.read sql/schema/ci_completion.sql
INSERT INTO research_metrics(session_id, metric_type, created_at) VALUES
  ('s', 'old', '2001-01-01 00:00:00'), ('s', 'old', '2001-01-02T00:00:00Z'), ('s', 'new', '2999-01-01 00:00:00');
INSERT INTO ci_completion_run(id, repository_id, started_at, finished_at) VALUES
  (1, 'repo', '2001-01-01T00:00:00Z', '2001-01-01T00:00:00Z');
INSERT INTO ci_completion_finding(run_id, detector_id, tier, severity, fingerprint) VALUES
  (1, 'd', 't', 'low', 'f');
SQL

# 1. A prune with work: exit 0, one summary line, one line per table that lost rows.
run "$db" > "$T/out1" 2> "$T/err1" || fail "first run exited $?: $(cat "$T/out1" "$T/err1")"
cat "$T/out1"
[ ! -s "$T/err1" ] || fail "a successful prune wrote to stderr: $(cat "$T/err1")"
grep -qx "voxtelem-prune: $db: run 1: 4 rows deleted (5 tables checked, [0-9]* batch[es]*, [0-9]*s)" "$T/out1" \
  || fail "summary line: $(head -1 "$T/out1")"
grep -qx "voxtelem-prune: $db:   research_metrics: 2 rows deleted" "$T/out1" || fail "research_metrics line"
grep -qx "voxtelem-prune: $db:   ci_completion_run: 1 row deleted (and 1 row of its cascades, below)" "$T/out1" \
  || fail "ci_completion_run line"
grep -qx "voxtelem-prune: $db:   ci_completion_finding: 1 row deleted" "$T/out1" || fail "cascade line"
! grep -q "not in this database" "$T/out1" || fail "every table is there, yet some are said to be missing"
[ "$(wc -l < "$T/out1")" -le 6 ] || fail "too many lines for a cron mail"
printable "$T/out1" || fail "output is not printable text"
left=$("$SQLITE3" "$db" "SELECT (SELECT count(*) FROM research_metrics) || '/' || (SELECT count(*) FROM ci_completion_run) || '/' || (SELECT count(*) FROM ci_completion_finding)")
[ "$left" = "1/0/0" ] || fail "rows left $left, expected 1/0/0"

# 2. Nothing to do: exit 0, says so; with -q, says nothing at all.
run "$db" > "$T/out2" 2>&1 || fail "second run exited $?: $(cat "$T/out2")"
grep -qx "voxtelem-prune: $db: run 2: nothing to prune (5 tables checked, [0-9]*s)" "$T/out2" \
  || fail "nothing-to-do line: $(cat "$T/out2")"
run -q "$db" > "$T/out3" 2>&1 || fail "-q run exited $?"
[ ! -s "$T/out3" ] || fail "-q printed: $(cat "$T/out3")"
[ "$("$SQLITE3" "$db" "SELECT count(DISTINCT run_id) FROM telem_prune_log")" = 3 ] || fail "expected three runs logged"

# 3. -v adds the prune script's own output (its plan and log), prefixed.
run -v "$db" > "$T/out4" 2>&1 || fail "-v run exited $?"
[ "$(grep -c '^voxtelem-prune: ' "$T/out4")" = "$(wc -l < "$T/out4")" ] || fail "-v lines without the prefix"
grep -q '^voxtelem-prune: .*research_metrics' "$T/out4" || fail "-v did not show the script's output"

# 4. A hand-damaged database policy: exit 1, the error on stderr (even with
#    -q), nothing deleted.
# voxtelem creates its policy table; a plain sqlite3 then breaks one row.
"$SQLITE3" -cmd ".load ${SO%.so}" "$db" "UPDATE telem_retention SET rationale = 'broken' WHERE table_name = 'research_metrics'"
"$SQLITE3" "$db" "UPDATE telem_retention_policy SET days = 0 WHERE table_name = 'research_metrics';
  INSERT INTO research_metrics(session_id, metric_type, created_at) VALUES ('s', 'old', '2001-01-01 00:00:00');"
set +e
run -q "$db" > "$T/out5" 2> "$T/err5"; rc=$?
set -e
cat "$T/err5"
[ "$rc" = 1 ] || fail "a broken policy exited $rc, expected 1"
[ ! -s "$T/out5" ] || fail "a failure wrote to stdout: $(cat "$T/out5")"
grep -q "^voxtelem-prune: $db: .*telem_prune_plan: telem_retention_policy row [0-9]*: table \"research_metrics\": days: must be a positive integer" \
  "$T/err5" || fail "the error is not shown"
grep -qx "voxtelem-prune: $db: the prune FAILED (sqlite3 exit status 1; 0 table(s) logged with status error)" "$T/err5" \
  || fail "no closing FAILED line"
printable "$T/err5" || fail "error output is not printable text"
[ "$("$SQLITE3" "$db" "SELECT count(*) FROM research_metrics")" = 2 ] || fail "rows were deleted under a broken policy"

# 5. Not a database: exit 1 with SQLite's word for it.
printf 'this is not a database\n%.0s' $(seq 1 200) > "$T/junk.db"
set +e
run "$T/junk.db" > "$T/out6" 2>&1; rc=$?
set -e
[ "$rc" = 1 ] || fail "a file that is not a database exited $rc, expected 1"
grep -q 'file is not a database' "$T/out6" || fail "not-a-database message: $(cat "$T/out6")"

# 6. A missing database (a typo in the crontab): exit 2, and no file made.
set +e
run "$T/typo.db" > "$T/out7" 2>&1; rc=$?
set -e
[ "$rc" = 2 ] || fail "a missing database exited $rc, expected 2"
grep -qx "voxtelem-prune: $T/typo.db: no such database file" "$T/out7" || fail "missing-database message: $(cat "$T/out7")"
[ ! -e "$T/typo.db" ] || fail "the wrapper created the missing database"

# 7. Policy tables the database lacks are named in one line; a database
#    with none of them (the wrong file?) says so.
"$SQLITE3" "$T/partial.db" ".read sql/schema/research_metrics.sql"
"$SQLITE3" "$T/other.db" "CREATE TABLE notes(x)"
run "$T/partial.db" > "$T/out10" 2>&1 || fail "partial database exited $?"
grep -qx "voxtelem-prune: $T/partial.db:   not in this database: ci_completion_[a-z_]*, ci_completion_[a-z_, ]*" "$T/out10" \
  || fail "missing tables line: $(cat "$T/out10")"
run "$T/other.db" > "$T/out11" 2>&1 || fail "unrelated database exited $?"
grep -q "none of the policy's tables is in this database: is it the right file?" "$T/out11" \
  || fail "wrong-file line: $(cat "$T/out11")"

# 8. Usage errors and a missing extension.
set +e
run > /dev/null 2>&1; rc1=$?
run -x "$db" > /dev/null 2>&1; rc2=$?
(cd "$T" && env -u LD_LIBRARY_PATH VOXTELEM_SO="$T/nowhere/voxtelem.so" "$W" "$db") > "$T/out8" 2>&1; rc3=$?
set -e
[ "$rc1$rc2" = 22 ] || fail "usage errors exited $rc1 and $rc2, expected 2"
[ "$rc3" = 2 ] || fail "a missing VOXTELEM_SO exited $rc3, expected 2"
grep -q 'VOXTELEM_SO: .*: no such file' "$T/out8" || fail "missing VOXTELEM_SO message: $(cat "$T/out8")"

# 9. Its verdict does not depend on what the script prints: the same
#    prune.sql with its output thrown away is judged from the log alone.
"$SQLITE3" "$db" "DROP TABLE telem_retention_policy"
printf '.output /dev/null\n.read %s\n' "$PWD/sql/prune.sql" > "$T/quiet.sql"
run -f "$T/quiet.sql" "$db" > "$T/out9" 2>&1 || fail "-f run exited $?: $(cat "$T/out9")"
grep -qx "voxtelem-prune: $db: run 5: 1 row deleted (5 tables checked, [0-9]* batch[es]*, [0-9]*s)" "$T/out9" \
  || fail "-f summary: $(cat "$T/out9")"
# 10. A log written by someone else cannot smuggle SQL into the wrapper's
#     own queries through run_id.
"$SQLITE3" "$T/hostile.db" "CREATE TABLE telem_prune_log(id INTEGER PRIMARY KEY, run_id, table_name, rows_deleted,
  cascaded_rows, batches, status); CREATE TABLE victim(x); INSERT INTO victim VALUES (1);
  INSERT INTO telem_prune_log(run_id, table_name) VALUES ('0; DROP TABLE victim; --', 'x' || char(27) || '[2J')"
run "$T/hostile.db" > "$T/out12" 2>&1 || true
[ "$("$SQLITE3" "$T/hostile.db" "SELECT count(*) FROM victim")" = 1 ] || fail "a run_id acted as SQL"
printable "$T/out12" || fail "a hostile log's bytes reached the output"
echo "prune_wrapper: ok"
