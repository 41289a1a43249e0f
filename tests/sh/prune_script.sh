#!/bin/sh
# prune_script.sh -- the cron script sql/prune.sql end to end: it finds the
# extension on the library path, prints the plan, prunes, prints this run's
# log rows, exits 0; a second run deletes nothing; a broken database policy
# makes it exit non-zero without deleting anything.
# Environment: VOXTELEM_SO, SQLITE3 (set by make test).
set -eu
SO=${VOXTELEM_SO:-$PWD/voxtelem.so}
SQLITE3=${SQLITE3:-sqlite3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "prune_script: FAIL: $*" >&2; exit 1; }
LIBDIR=$(dirname "$SO")
[ "$(basename "$SO")" = voxtelem.so ] || { ln -s "$SO" "$T/voxtelem.so"; LIBDIR=$T; }

db="$T/app.db"
"$SQLITE3" "$db" >/dev/null <<'SQL'
PRAGMA journal_mode=WAL;
.read sql/schema/research_metrics.sql
.read sql/schema/ci_completion.sql
INSERT INTO research_metrics(session_id, metric_type, created_at) VALUES
  ('s', 'old', '2001-01-01 00:00:00'), ('s', 'old', '2001-01-02T00:00:00Z'), ('s', 'new', '2999-01-01 00:00:00');
INSERT INTO ci_completion_run(id, repository_id, started_at, finished_at) VALUES
  (1, 'repo', '2001-01-01', '2001-01-01 00:00:00');
INSERT INTO ci_completion_finding(run_id, detector_id, tier, severity, fingerprint) VALUES
  (1, 'd', 'B', 'low', 'f');
SQL

out=$(cd "$T" && LD_LIBRARY_PATH="$LIBDIR" "$SQLITE3" "$db" < "$OLDPWD/sql/prune.sql") || fail "first run exited $?"
echo "$out" | grep -q '^== retention plan' || fail "no plan printed"
echo "$out" | grep -Eq '^research_metrics +days +created_at +365 .* 2 +0 +ok' || fail "plan row for research_metrics: $out"
echo "$out" | grep -Eq '^4 *$' || fail "rows_deleted is not 4: $out"
echo "$out" | grep -Eq '^1 +ci_completion_finding +cascade .* 1 +0 .*ok' || fail "log row for the finding: $out"
left=$("$SQLITE3" "$db" "SELECT (SELECT count(*) FROM research_metrics) || '/' || (SELECT count(*) FROM ci_completion_run) || '/' || (SELECT count(*) FROM ci_completion_finding)")
[ "$left" = "1/0/0" ] || fail "rows left $left, expected 1/0/0"

out=$(cd "$T" && LD_LIBRARY_PATH="$LIBDIR" "$SQLITE3" "$db" < "$OLDPWD/sql/prune.sql") || fail "second run exited $?"
echo "$out" | grep -Eq '^0 *$' || fail "second run deleted rows: $out"
[ "$("$SQLITE3" "$db" "SELECT count(DISTINCT run_id) FROM telem_prune_log")" = 2 ] || fail "expected two runs in the log"

# A policy table voxtelem did not create (another definition): refused
# before anything is read or deleted.
"$SQLITE3" "$db" "CREATE TABLE telem_retention_policy(table_name TEXT PRIMARY KEY, kind TEXT, days INTEGER,
  time_column TEXT, cascade_from TEXT, rationale TEXT);
  INSERT INTO telem_retention_policy VALUES ('research_metrics', 'days', 0, 'created_at', NULL, 'broken');
  INSERT INTO research_metrics(session_id, metric_type, created_at) VALUES ('s', 'old', '2001-01-01 00:00:00');"
if (cd "$T" && LD_LIBRARY_PATH="$LIBDIR" "$SQLITE3" "$db" < "$OLDPWD/sql/prune.sql" > "$T/out3" 2>&1); then
  fail "a foreign policy table did not fail the script"
fi
grep -q 'telem_prune_plan: main.telem_retention_policy is not the table voxtelem creates' "$T/out3" \
  || fail "unexpected error: $(cat "$T/out3")"
[ "$("$SQLITE3" "$db" "SELECT count(*) FROM research_metrics")" = 2 ] || fail "rows were deleted under a foreign policy table"

# A hand-damaged database policy: the script stops with an error, nothing goes.
"$SQLITE3" "$db" "DROP TABLE telem_retention_policy"
"$SQLITE3" -cmd ".load $SO" "$db" "UPDATE telem_retention SET days = 300 WHERE table_name = 'research_metrics'" \
  "UPDATE telem_retention_policy SET days = 0 WHERE table_name = 'research_metrics'" >/dev/null
if (cd "$T" && LD_LIBRARY_PATH="$LIBDIR" "$SQLITE3" "$db" < "$OLDPWD/sql/prune.sql" > "$T/out3" 2>&1); then
  fail "a broken policy did not fail the script"
fi
grep -q 'telem_prune_plan: telem_retention_policy row [0-9]*: table "research_metrics": days: must be a positive integer' "$T/out3" \
  || fail "unexpected error: $(cat "$T/out3")"
[ "$("$SQLITE3" "$db" "SELECT count(*) FROM research_metrics")" = 2 ] || fail "rows were deleted under a broken policy"
echo "prune_script: ok"
