-- sql/prune.sql -- the scheduled retention prune.
--
--   sqlite3 app.db < sql/prune.sql
--
-- Loads voxtelem, prints the plan, applies it (batches of its own choosing,
-- each committed on its own; see docs/architecture/retention-and-sensitivity.md,
-- "Prune batching") and prints one row per table of this run, and then this
-- run's rows of telem_prune_log.  telem_prune_apply is a table-valued
-- function (SELECT * FROM telem_prune_apply()): no trigger, view or CHECK
-- of a database can run it.  A telem_prune_log or telem_retention_policy
-- that voxtelem did not create (a trigger, CHECK or default added to it) is
-- refused before anything is deleted.
--
-- Finding the extension: `.load voxtelem` is a bare name, so dlopen()
-- searches LD_LIBRARY_PATH and the system directories, among them Debian's
-- multiarch directory, where the voxtelem package (make deb) and
-- `make install PREFIX=/usr` put voxtelem.so (/usr/local/lib is not searched).
-- From a build tree:  LD_LIBRARY_PATH=$PWD sqlite3 app.db < sql/prune.sql
-- Scheduled runs: voxtelem-prune runs this script, checks telem_prune_log
-- and exits non-zero on failure; cron and systemd timer examples are in
-- docs/reference/install.md ("The scheduled prune"):
--   17 3 * * *  app  /usr/bin/voxtelem-prune -q /srv/app/app.db
--
-- The policy is the database's telem_retention_policy when present, else the
-- contracts embedded in the extension (or VOXTELEM_CONTRACTS, see the docs).
-- A plan status other than "ok" is never an error: those tables are skipped
-- and logged with their status.  Any error stops the script (.bail on) with a
-- non-zero exit status, after the batches already committed.
.bail on
.load voxtelem
PRAGMA foreign_keys = ON;
.timeout 10000

.headers on
.mode column
.print '== retention plan'
SELECT table_name, kind, time_column, days, cutoff, eligible_rows, cascade_rows, status
FROM telem_prune_plan;

.print ''
.print '== prune'
SELECT table_name, kind, cutoff, rows_deleted, cascaded_rows, batches, duration_ms, status
FROM telem_prune_apply();

.print ''
.print '== rows deleted'
SELECT coalesce(sum(rows_deleted), 0) AS rows_deleted FROM telem_prune_log
WHERE run_id = (SELECT max(run_id) FROM telem_prune_log);

.print ''
.print '== this run'
SELECT run_id, table_name, kind, cutoff, rows_deleted, cascaded_rows, batches, duration_ms, status
FROM telem_prune_log
WHERE run_id = (SELECT max(run_id) FROM telem_prune_log)
ORDER BY id;
