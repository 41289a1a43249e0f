#!/bin/sh
# prune_kill.sh -- SIGKILL telem_prune_apply at random points, several times.
#
# Each kill interrupts a fresh copy of the same database at a random point
# inside a whole run's duration (measured first).  After every kill: PRAGMA
# integrity_check is ok, foreign_key_check is empty (no orphans), every run
# that is not old enough is still there with all its children (an old run
# may have lost some: a transaction deletes at most batch_rows child rows,
# so the children of a batch's runs go in chunks before the runs), and what
# was deleted from research_metrics is a prefix of the eligible rows in
# index order (whole batches only).  Then a rerun leaves exactly the rows
# the plan said would stay.  WAL mode, then rollback-journal mode.
# Environment: VOXTELEM_SO, SQLITE3 (set by make test), KILLS (per mode).
set -eu
SO=${VOXTELEM_SO:-$PWD/voxtelem.so}
SQLITE3=${SQLITE3:-sqlite3}
NOW='2026-01-01T00:00:00Z'
KILLS=${KILLS:-8}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "prune_kill: FAIL: $*" >&2; exit 1; }

make_db() { # $1 = db, $2 = journal mode
  "$SQLITE3" "$1" >/dev/null <<SQL
PRAGMA journal_mode=$2;
.read sql/schema/research_metrics.sql
.read sql/schema/ci_completion.sql
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 60000)
INSERT INTO research_metrics(session_id, metric_type, metric_value, metadata_json, created_at)
SELECT 'kill', 'kill.metric', n, '{"n":' || n || '}',
       strftime(CASE n % 3 WHEN 0 THEN '%Y-%m-%d %H:%M:%S' WHEN 1 THEN '%Y-%m-%dT%H:%M:%SZ'
                ELSE '%Y-%m-%dT%H:%M:%fZ' END, '2024-06-01', '+' || (n * 527) || ' seconds')
FROM i;
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 4000)
INSERT INTO ci_completion_run(id, repository_id, started_at, finished_at)
SELECT n, 'repo', '2024-06-01',
       strftime('%Y-%m-%d %H:%M:%S', '2024-06-01', '+' || (n * 7900) || ' seconds') FROM i;
INSERT INTO ci_completion_finding(run_id, detector_id, tier, severity, fingerprint)
SELECT id, 'd', 'B', 'low', 'fp-' || id || '-' || k FROM ci_completion_run, (SELECT 1 AS k UNION ALL SELECT 2);
INSERT INTO ci_completion_detector_snapshot(run_id, detector_id, tier, finding_count)
SELECT id, 'd', 'B', 2 FROM ci_completion_run;
-- the original rows, in a table the policy does not name
CREATE TABLE kill_orig AS SELECT id, created_at FROM research_metrics;
SQL
}

check_db() { # $1 = db
  r=$("$SQLITE3" "$1" "PRAGMA integrity_check")
  [ "$r" = ok ] || fail "integrity_check: $r"
  r=$("$SQLITE3" "$1" "PRAGMA foreign_key_check")
  [ -z "$r" ] || fail "foreign_key_check: $r"
  r=$("$SQLITE3" "$1" "SELECT count(*) FROM ci_completion_run r WHERE
        (r.finished_at IS NULL OR julianday(r.finished_at) >= julianday('$NOW', '-365 days')) AND (
        (SELECT count(*) FROM ci_completion_finding f WHERE f.run_id = r.id) <> 2 OR
        (SELECT count(*) FROM ci_completion_detector_snapshot s WHERE s.run_id = r.id) <> 1)")
  [ "$r" = 0 ] || fail "$r runs that are not old enough lost some of their children"
  r=$("$SQLITE3" "$1" "SELECT count(*) FROM ci_completion_run
        WHERE finished_at IS NULL OR julianday(finished_at) >= julianday('$NOW', '-365 days')")
  [ "$r" = "$expect_run" ] || fail "$r runs that are not old enough are left, expected $expect_run"
  r=$("$SQLITE3" "$1" "SELECT count(*) FROM ci_completion_run r WHERE
        (SELECT count(*) FROM ci_completion_finding f WHERE f.run_id = r.id) < 2 OR
        (SELECT count(*) FROM ci_completion_detector_snapshot s WHERE s.run_id = r.id) < 1")
  partial=$((partial + r))
  # deleted rows are a prefix of the eligible rows in the order the prune
  # walks them: Vox's DDL has no index on created_at, so by rowid, which in
  # this data is also the order of the instants
  r=$("$SQLITE3" "$1" "SELECT count(*) FROM research_metrics m
        WHERE julianday(m.created_at) < julianday('$NOW', '-365 days')
          AND m.id < (SELECT max(o.id) FROM kill_orig o
                      WHERE o.id NOT IN (SELECT id FROM research_metrics))")
  [ "$r" = 0 ] || fail "$r eligible rows older than a deleted one remain (a batch was split)"
}

now_ms() { date +%s%3N; }

partial_all=0
for mode in wal delete; do
  pristine="$T/pristine-$mode.db"
  db="$T/kill-$mode.db"
  make_db "$pristine" "$mode"
  expect_rm=$("$SQLITE3" "$pristine" "SELECT count(*) FROM research_metrics WHERE julianday(created_at) >= julianday('$NOW', '-365 days')")
  expect_run=$("$SQLITE3" "$pristine" "SELECT count(*) FROM ci_completion_run WHERE finished_at IS NULL OR julianday(finished_at) >= julianday('$NOW', '-365 days')")
  before=$("$SQLITE3" "$pristine" "SELECT count(*) FROM research_metrics")
  # How long one whole prune takes here, so kill points land inside it.
  cp "$pristine" "$db"
  t0=$(now_ms)
  "$SQLITE3" -cmd ".load $SO" "$db" "PRAGMA foreign_keys=ON" "SELECT count(*) FROM telem_prune_apply(NULL, 100, '$NOW')" >/dev/null
  full=$(( $(now_ms) - t0 ))
  [ "$full" -ge 20 ] || full=20
  # ... and the runs alone (every other kill prunes only them, so that kills
  # land among their chunks of children)
  rm -f "$db" "$db-wal" "$db-shm" "$db-journal"
  cp "$pristine" "$db"
  t0=$(now_ms)
  "$SQLITE3" -cmd ".load $SO" "$db" "PRAGMA foreign_keys=ON" "SELECT count(*) FROM telem_prune_apply('ci_completion_run', 100, '$NOW')" >/dev/null
  full_ci=$(( $(now_ms) - t0 ))
  [ "$full_ci" -ge 20 ] || full_ci=20
  runs=$("$SQLITE3" "$pristine" "SELECT count(*) FROM ci_completion_run")
  i=0
  midway=0
  partial=0
  progress=""
  while [ $i -lt "$KILLS" ]; do
    i=$((i + 1))
    rm -f "$db" "$db-wal" "$db-shm" "$db-journal"
    cp "$pristine" "$db"
    # a random point between 5% and 95% of a whole run (batches of 100)
    if [ $((i % 2)) = 0 ]; then what="'ci_completion_run'"; whole=$full_ci; else what=NULL; whole=$full; fi
    ms=$(( whole / 20 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % (whole * 9 / 10 + 1) ))
    "$SQLITE3" -cmd ".load $SO" "$db" "PRAGMA foreign_keys=ON" \
      "SELECT count(*) FROM telem_prune_apply($what, 100, '$NOW')" >/dev/null 2>&1 &
    pid=$!
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    check_db "$db"
    if [ "$what" = NULL ]; then
      left=$("$SQLITE3" "$db" "SELECT count(*) FROM research_metrics")
      if [ "$left" -lt "$before" ] && [ "$left" -gt "$expect_rm" ]; then midway=$((midway + 1)); fi
      progress="$progress ${ms}ms:$left"
    else
      left=$("$SQLITE3" "$db" "SELECT count(*) FROM ci_completion_run")
      progress="$progress ${ms}ms:${left}runs"
    fi
    # a rerun finishes the job, leaving exactly the expected rows
    "$SQLITE3" -cmd ".load $SO" "$db" "PRAGMA foreign_keys=ON" "SELECT count(*) FROM telem_prune_apply(NULL, NULL, '$NOW')" >/dev/null
    check_db "$db"
    got_rm=$("$SQLITE3" "$db" "SELECT count(*) FROM research_metrics")
    got_run=$("$SQLITE3" "$db" "SELECT count(*) FROM ci_completion_run")
    [ "$got_rm" = "$expect_rm" ] || fail "$mode: research_metrics has $got_rm rows, expected $expect_rm"
    [ "$got_run" = "$expect_run" ] || fail "$mode: ci_completion_run has $got_run rows, expected $expect_run"
    r=$("$SQLITE3" -cmd ".load $SO" "$db" "SELECT sum(eligible_rows) FROM telem_prune_plan('$NOW')")
    [ "$r" = 0 ] || fail "$mode: the plan still sees $r eligible rows"
  done
  # Kills that landed before the first or after the last batch test less:
  # at least one must have cut a run in the middle of its batches.
  [ "$midway" -ge 1 ] || fail "$mode: no kill landed mid-prune (whole run ${full} ms):$progress"
  echo "prune_kill: $mode: $KILLS kills, $midway mid-prune (whole run ${full} ms, runs alone ${full_ci} ms; kill point:metrics or runs left of $before/$runs, $expect_rm/$expect_run kept):$progress; $partial old runs left with some of their children; every rerun left exactly $expect_rm/$expect_run rows"
  partial_all=$((partial_all + partial))
done
# The chunks of children: some kill must have landed between a run's
# children and the run (every kill in both modes missing them is unlikely).
[ "$partial_all" -ge 1 ] || fail "no kill left an old run with some of its children gone"

