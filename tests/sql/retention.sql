-- Retention: the policy (file, database, writes, import/export, bad input),
-- the prune plan (statuses, cutoffs, mixed timestamp forms) and the batched
-- prune (cascades with foreign keys on and off, the log, never deleting what
-- the policy does not allow).
.headers off
.mode list
.read sql/schema/research_metrics.sql
.read sql/schema/ci_completion.sql

-- 1. The file policy (embedded contracts)
SELECT 'retention:11', table_name, kind, quote(days), quote(time_column), quote(cascade_from), length(rationale) > 20, source
FROM telem_retention;
SELECT 'retention:13', count(*) FROM sqlite_master WHERE name = 'telem_retention_policy';
-- a bad first write, even inside a transaction, creates nothing
BEGIN;
INSERT INTO telem_retention(table_name, kind) VALUES ('t', 'forever');
SELECT 'retention:17', count(*) FROM sqlite_master WHERE name = 'telem_retention_policy';
COMMIT;
SELECT DISTINCT 'retention:19', source FROM telem_retention;

-- 2. Mixed timestamp forms, seconds either side of the cutoff (now 2026-01-01T00:00:00Z, 365 days)
INSERT INTO research_metrics(session_id, metric_type, created_at) VALUES
  ('s', 'a_old_space',        '2024-12-31 23:59:59'),
  ('s', 'b_old_t',            '2024-12-31T23:59:59Z'),
  ('s', 'c_old_frac',         '2024-12-31T23:59:59.999Z'),
  ('s', 'd_old_frac_space',   '2024-12-31 23:59:58.5'),
  ('s', 'e_old_offset',       '2025-01-01T01:00:00+02:00'),
  ('s', 'f_very_old',         '2019-05-05 10:00:00'),
  ('s', 'g_at_cutoff_space',  '2025-01-01 00:00:00'),
  ('s', 'h_at_cutoff_t',      '2025-01-01T00:00:00Z'),
  ('s', 'i_new_1s',           '2025-01-01T00:00:01Z'),
  ('s', 'j_new_1ms',          '2025-01-01 00:00:00.001'),
  ('s', 'k_new_offset',       '2024-12-31T23:00:00-05:00'),
  ('s', 'l_new',              '2025-06-01T00:00:00Z'),
  ('s', 'm_garbage',          'yesterday'),
  ('s', 'n_compact_iso',      20190101),
  ('s', 'o_empty',            '');
-- Vox's shape (sql/schema/ci_completion.sql): runs are keyed by INTEGER id
-- and labelled here by commit_sha; children point at the id.  A run with a
-- finished_at that is not a time is never pruned.
INSERT INTO ci_completion_run(id, repository_id, commit_sha, started_at, finished_at) VALUES
  (1, 'repo', 'r-old', '2024-01-01', '2024-01-01T00:10:00Z'),
  (2, 'repo', 'r-edge', '2024-12-31', '2024-12-31 23:59:59'),
  (3, 'repo', 'r-new', '2025-06-01', '2025-06-01T00:00:00Z'),
  (4, 'repo', 'r-running', '2023-01-01', 'running');
INSERT INTO ci_completion_finding(run_id, detector_id, tier, severity, fingerprint) VALUES
  (1, 'd', 'A', 'high', 'f1'), (1, 'd', 'B', 'low', 'f2'),
  (2, 'd', 'B', 'low', 'f3'), (3, 'd', 'B', 'low', 'f4'),
  (4, 'd', 'B', 'low', 'f5');
INSERT INTO ci_completion_detector_snapshot(run_id, detector_id, tier, finding_count) VALUES
  (1, 'd', 'A', 2), (3, 'd', 'B', 1), (4, 'd', 'B', 1);
INSERT INTO ci_completion_suppression(detector_id, scope, reason, owner, created_at, expires_at) VALUES
  ('d', 'f1', 'expired a second ago', 'ops', '2025-01-01', '2025-12-31T23:59:59Z'),
  ('d', 'f2', 'standing', 'ops', '2020-01-01', NULL),
  ('d', 'f3', 'expires in a second', 'ops', '2025-01-01', '2026-01-01 00:00:01'),
  ('d', 'f4', 'expires exactly now', 'ops', '2025-01-01', '2026-01-01 00:00:00');

-- 3. The plan
SELECT 'retention:59', table_name, kind, quote(time_column), quote(days), cutoff, eligible_rows, quote(cascade_rows), status
FROM telem_prune_plan('2026-01-01T00:00:00Z');
SELECT 'retention:61', delete_sql FROM telem_prune_plan('2026-01-01T00:00:00Z') WHERE table_name IN ('research_metrics', 'ci_completion_finding');
SELECT DISTINCT 'retention:62', now FROM telem_prune_plan('2026-01-01 00:00:00');
SELECT 'retention:63', count(*) FROM telem_prune_plan WHERE status = 'ok';
SELECT 'retention:64', * FROM telem_prune_plan('not a time');
SELECT 'retention:65', * FROM telem_prune_plan(42);

-- 4. Apply with foreign keys ON, small batches
PRAGMA foreign_keys = ON;
SELECT 'retention:69', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, 2, '2026-01-01T00:00:00Z'));
SELECT 'retention:70', group_concat(metric_type, ' ') FROM (SELECT metric_type FROM research_metrics ORDER BY metric_type);
SELECT 'retention:71', group_concat(commit_sha, ' ') FROM (SELECT commit_sha FROM ci_completion_run ORDER BY commit_sha);
SELECT 'retention:72', group_concat(fingerprint, ' ') FROM (SELECT fingerprint FROM ci_completion_finding ORDER BY fingerprint);
SELECT 'retention:73', group_concat(commit_sha, ' ') FROM (SELECT r.commit_sha FROM ci_completion_detector_snapshot s
  JOIN ci_completion_run r ON r.id = s.run_id ORDER BY 1);
SELECT 'retention:75', group_concat(scope, ' ') FROM (SELECT scope FROM ci_completion_suppression ORDER BY scope);
SELECT 'retention:76', run_id, table_name, kind, cutoff, rows_deleted, cascaded_rows, batches, status, duration_ms >= 0, logged_at LIKE '____-__-__T__:__:__.___Z'
FROM telem_prune_log ORDER BY id;
PRAGMA foreign_key_check;
-- nothing left to do: a second run deletes nothing and logs a second run
SELECT 'retention:80', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, NULL, '2026-01-01T00:00:00Z'));
SELECT 'retention:81', run_id, table_name, rows_deleted, cascaded_rows FROM telem_prune_log WHERE run_id = 2 ORDER BY id;

-- 4b. Property check: thousands of instants around the cutoff in five forms
-- (space, T+Z, fractional both ways, +02:00 offset); keyed batches of 500
-- delete exactly the rows julianday() says are older.
CREATE TABLE ts_check(id INTEGER PRIMARY KEY, at TEXT);
CREATE INDEX ts_check_at ON ts_check(at);
CREATE TEMP TABLE ts_base AS
  WITH RECURSIVE s(k) AS (SELECT -800 UNION ALL SELECT k + 1 FROM s WHERE k < 800)
  SELECT julianday('2025-01-01 00:00:00') + k * 317.0 / 86400 AS jd FROM s
  UNION ALL
  SELECT julianday('2025-01-01 00:00:00') + k * 0.25 / 86400 FROM
    (WITH RECURSIVE t(k) AS (SELECT -40 UNION ALL SELECT k + 1 FROM t WHERE k < 40) SELECT k FROM t);
INSERT INTO ts_check(at)
  SELECT strftime('%Y-%m-%d %H:%M:%S', jd) FROM ts_base
  UNION ALL SELECT strftime('%Y-%m-%dT%H:%M:%SZ', jd) FROM ts_base
  UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', jd) FROM ts_base
  UNION ALL SELECT strftime('%Y-%m-%dT%H:%M:%fZ', jd) FROM ts_base
  UNION ALL SELECT strftime('%Y-%m-%dT%H:%M:%f', jd, '+2 hours') || '+02:00' FROM ts_base;
CREATE TEMP TABLE ts_truth AS SELECT id, julianday(at) < julianday('2025-01-01T00:00:00Z') AS old FROM ts_check;
SELECT 'retention:101', count(*), sum(old) FROM ts_truth;
INSERT INTO telem_retention(table_name, kind, days, time_column, rationale)
  VALUES ('ts_check', 'days', 365, 'at', 'property check');
SELECT 'retention:104', eligible_rows FROM telem_prune_plan('2026-01-01T00:00:00Z') WHERE table_name = 'ts_check';
SELECT 'retention:105', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply('ts_check', 500, '2026-01-01T00:00:00Z'));
SELECT 'retention:106', count(*) FROM ts_truth WHERE old = 1 AND id IN (SELECT id FROM ts_check);
SELECT 'retention:107', count(*) FROM ts_truth WHERE old = 0 AND id NOT IN (SELECT id FROM ts_check);
SELECT 'retention:108', batches > 10 FROM telem_prune_log WHERE table_name = 'ts_check';
DELETE FROM telem_retention WHERE table_name = 'ts_check';
DROP TABLE ts_check;
DROP TABLE telem_retention_policy;

-- 5. Apply with foreign keys OFF: children are still deleted first, no orphans
PRAGMA foreign_keys = OFF;
INSERT INTO ci_completion_run(id, repository_id, commit_sha, started_at, finished_at) VALUES
  (5, 'repo', 'r-old2', '2024-02-01', '2024-02-01 00:00:00');
INSERT INTO ci_completion_finding(run_id, detector_id, tier, severity, fingerprint) VALUES
  (5, 'd', 'B', 'low', 'g1'), (5, 'd', 'B', 'low', 'g2');
INSERT INTO ci_completion_detector_snapshot(run_id, detector_id, tier, finding_count) VALUES
  (5, 'd', 'B', 2);
SELECT 'retention:121', cascade_rows FROM telem_prune_plan('2026-01-01T00:00:00Z') WHERE table_name = 'ci_completion_run';
SELECT 'retention:122', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply('ci_completion_run', NULL, '2026-01-01T00:00:00Z'));
SELECT 'retention:123', count(*) FROM ci_completion_finding WHERE run_id = 5;
SELECT 'retention:124', count(*) FROM ci_completion_detector_snapshot WHERE run_id = 5;
PRAGMA foreign_key_check;
PRAGMA foreign_keys = ON;

-- 6. Apply inside the caller's transaction: batches are savepoints, ROLLBACK undoes them
INSERT INTO research_metrics(session_id, metric_type, created_at) VALUES ('s', 'p_old', '2020-01-01 00:00:00');
BEGIN;
SELECT 'retention:131', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply('research_metrics', 1, '2026-01-01T00:00:00Z'));
SELECT 'retention:132', count(*) FROM research_metrics WHERE metric_type = 'p_old';
ROLLBACK;
SELECT 'retention:134', count(*) FROM research_metrics WHERE metric_type = 'p_old';
-- not from inside a writing statement, not from a trigger
CREATE TABLE sink(n);
INSERT INTO sink SELECT (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply());
BEGIN;
INSERT INTO sink SELECT (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply());
INSERT INTO sink SELECT (SELECT rules FROM telem_policy_import('contracts/db/retention-policy.yaml'));
COMMIT;
CREATE TRIGGER sink_prune AFTER INSERT ON sink BEGIN SELECT (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply()); END;
INSERT INTO sink VALUES (1);
DROP TRIGGER sink_prune;
CREATE VIEW retention_view AS SELECT * FROM telem_retention;
SELECT 'retention:146', count(*) FROM retention_view;
DROP VIEW retention_view;
-- argument errors
SELECT 'retention:149', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply('no_such_table'));
SELECT 'retention:150', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply('x"; DROP TABLE research_metrics; --'));
SELECT 'retention:151', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply('ci_completion_finding'));
SELECT 'retention:152', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, 0));
SELECT 'retention:153', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, 'many'));
SELECT 'retention:154', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, NULL, 'last tuesday'));
SELECT 'retention:155', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, NULL, NULL, NULL));
SELECT 'retention:156', count(*) FROM research_metrics;

-- 7. Statuses: only ok tables are ever touched
CREATE TABLE usage_ms(id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL);
CREATE INDEX usage_ms_ts ON usage_ms(ts_ms);
INSERT INTO usage_ms(ts_ms) VALUES (1704067200000), (1735689599999), (1735689600000), (1735689600001), ('1600000000000');
CREATE TABLE wrong_type(id INTEGER PRIMARY KEY, created_at INTEGER);
INSERT INTO wrong_type(created_at) VALUES (1);
CREATE TABLE no_col(id INTEGER PRIMARY KEY, other TEXT);
INSERT INTO no_col(other) VALUES ('2000-01-01');
CREATE TABLE audit_log(id INTEGER PRIMARY KEY, at TEXT);
INSERT INTO audit_log(at) VALUES ('2000-01-01');
CREATE TABLE by_hand(id INTEGER PRIMARY KEY, at TEXT);
INSERT INTO by_hand(at) VALUES ('2000-01-01');
CREATE TABLE parent_x(id INTEGER PRIMARY KEY, at TEXT);
CREATE TABLE child_x(id INTEGER PRIMARY KEY, pid INTEGER REFERENCES parent_x(id) ON DELETE CASCADE);
INSERT INTO parent_x(id, at) VALUES (1, '2000-01-01');
INSERT INTO child_x(pid) VALUES (1);
CREATE TABLE parent_y(id INTEGER PRIMARY KEY, at TEXT);
CREATE TABLE child_y(id INTEGER PRIMARY KEY, pid INTEGER REFERENCES parent_y(id) ON DELETE RESTRICT);
INSERT INTO parent_y(id, at) VALUES (1, '2000-01-01');
INSERT INTO child_y(pid) VALUES (1);
CREATE TABLE loose(id INTEGER PRIMARY KEY, pid INTEGER);
CREATE VIEW a_view AS SELECT 1 AS at;
INSERT INTO telem_retention(table_name, kind, days, time_column, rationale) VALUES
  ('usage_ms', 'ms_days', 365, 'ts_ms', 'raw usage in ms'),
  ('wrong_type', 'days', 1, 'created_at', 'integer column'),
  ('no_col', 'days', 1, 'created_at', 'no such column'),
  ('missing_t', 'days', 1, 'created_at', 'no such table'),
  ('a_view', 'days', 1, 'at', 'a view'),
  ('parent_x', 'days', 1, 'at', 'its child is found from the schema (ON DELETE CASCADE)'),
  ('parent_y', 'days', 1, 'at', 'child restricts');
INSERT INTO telem_retention(table_name, kind, time_column, rationale) VALUES
  ('audit_log', 'keep_forever', 'at', 'legal hold'),
  ('by_hand', 'manual', 'at', 'operators decide');
INSERT INTO telem_retention(table_name, kind, cascade_from, rationale) VALUES
  ('child_y', 'cascade', 'parent_y', 'goes with parent_y'),
  ('loose', 'cascade', 'parent_y', 'no foreign key');
SELECT 'retention:194', table_name, kind, cutoff, quote(eligible_rows), status FROM telem_prune_plan('2026-01-01T00:00:00Z');
SELECT 'retention:195', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, NULL, '2026-01-01T00:00:00Z'));
SELECT 'retention:196', group_concat(ts_ms, ' ') FROM (SELECT ts_ms FROM usage_ms ORDER BY ts_ms);
SELECT 'retention:197', (SELECT count(*) FROM wrong_type), (SELECT count(*) FROM no_col), (SELECT count(*) FROM audit_log),
       (SELECT count(*) FROM by_hand), (SELECT count(*) FROM parent_x), (SELECT count(*) FROM child_x),
       (SELECT count(*) FROM parent_y), (SELECT count(*) FROM child_y);
SELECT 'retention:200', table_name, rows_deleted, status FROM telem_prune_log WHERE run_id = (SELECT max(run_id) FROM telem_prune_log) ORDER BY id;
-- a keep_forever table asked for by name: nothing deleted
SELECT 'retention:202', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply('audit_log', NULL, '2026-01-01T00:00:00Z'));
-- TEMP tables named like governed ones are not them: plan and apply use main's
INSERT INTO research_metrics(session_id, metric_type, created_at) VALUES ('s', 'shadowed', '2020-01-01 00:00:00');
INSERT INTO ci_completion_run(id, repository_id, commit_sha, started_at, finished_at) VALUES
  (6, 'repo', 'r-shadow', '2020-01-01', '2020-01-01 00:00:00');
INSERT INTO ci_completion_finding(run_id, detector_id, tier, severity, fingerprint) VALUES
  (6, 'd', 'B', 'low', 's1');
CREATE TEMP TABLE research_metrics(id INTEGER PRIMARY KEY, created_at TEXT);
INSERT INTO temp.research_metrics(created_at) VALUES ('2019-01-01');
CREATE TEMP TABLE ci_completion_finding(id INTEGER PRIMARY KEY, run_id INTEGER);
INSERT INTO temp.ci_completion_finding(run_id) VALUES (6);
SELECT 'retention:213', table_name, eligible_rows FROM telem_prune_plan('2026-01-01T00:00:00Z')
WHERE table_name IN ('research_metrics', 'ci_completion_finding') ORDER BY 2;
SELECT 'retention:215', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, NULL, '2026-01-01T00:00:00Z'));
SELECT 'retention:216', (SELECT count(*) FROM main.research_metrics WHERE metric_type = 'shadowed'),
       (SELECT count(*) FROM main.ci_completion_finding WHERE run_id = 6),
       (SELECT count(*) FROM temp.research_metrics), (SELECT count(*) FROM temp.ci_completion_finding);
DROP TABLE temp.research_metrics;
DROP TABLE temp.ci_completion_finding;
-- a column named rowid hides the rowid: batches use _rowid_ (or oid), and a
-- table whose columns take all three names is not pruned
CREATE TABLE rid_a(id INTEGER PRIMARY KEY, rowid INTEGER, at TEXT);
INSERT INTO rid_a(rowid, at) VALUES (7, '2020-01-01'), (7, '2030-01-01'), (8, '2030-01-01');
CREATE TABLE rid_b(rowid INT, _rowid_ INT, oid INT, at TEXT);
INSERT INTO rid_b VALUES (1, 1, 1, '2020-01-01');
INSERT INTO telem_retention(table_name, kind, days, time_column, rationale) VALUES
  ('rid_a', 'days', 30, 'at', 'rowid column'), ('rid_b', 'days', 30, 'at', 'every rowid name taken');
SELECT 'retention:229', table_name, status, eligible_rows FROM telem_prune_plan('2026-01-01T00:00:00Z')
WHERE table_name LIKE 'rid_%' ORDER BY 2;
SELECT 'retention:231', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply('rid_a', NULL, '2026-01-01T00:00:00Z'));
SELECT 'retention:232', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply('rid_b', NULL, '2026-01-01T00:00:00Z'));
SELECT 'retention:233', group_concat(id || ':' || rowid || ':' || at, ' ') FROM (SELECT id, rowid, at FROM rid_a ORDER BY id);
SELECT 'retention:234', count(*) FROM rid_b;
DELETE FROM telem_retention WHERE table_name IN ('rid_a', 'rid_b');
DROP TABLE rid_a;
DROP TABLE rid_b;
-- a child with two foreign keys to its parent goes with it through either
-- (no orphans with foreign_keys off); every such key must be ON DELETE CASCADE
PRAGMA foreign_keys = OFF;
CREATE TABLE fk2_p(id INTEGER PRIMARY KEY, at TEXT);
CREATE TABLE fk2_c(id INTEGER PRIMARY KEY, a INTEGER REFERENCES fk2_p(id) ON DELETE CASCADE,
                   b INTEGER REFERENCES fk2_p ON DELETE CASCADE);
INSERT INTO fk2_p VALUES (1, '2020-01-01'), (2, '2030-01-01');
INSERT INTO fk2_c VALUES (1, 1, 2), (2, 2, 1), (3, 2, 2);
INSERT INTO telem_retention(table_name, kind, days, time_column, rationale) VALUES
  ('fk2_p', 'days', 30, 'at', 'two keys');
INSERT INTO telem_retention(table_name, kind, cascade_from, rationale) VALUES
  ('fk2_c', 'cascade', 'fk2_p', 'either key');
SELECT 'retention:250', table_name, status, eligible_rows, cascade_rows, delete_sql FROM telem_prune_plan('2026-01-01T00:00:00Z')
WHERE table_name LIKE 'fk2_%' ORDER BY 2;
SELECT 'retention:252', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply('fk2_p', NULL, '2026-01-01T00:00:00Z'));
SELECT 'retention:253', group_concat(id, ' ') FROM fk2_c;
PRAGMA foreign_key_check(fk2_c);
CREATE TABLE fk2_d(id INTEGER PRIMARY KEY, a INTEGER REFERENCES fk2_p(id) ON DELETE CASCADE,
                   b INTEGER REFERENCES fk2_p(id) ON DELETE SET NULL);
INSERT INTO telem_retention(table_name, kind, cascade_from, rationale) VALUES
  ('fk2_d', 'cascade', 'fk2_p', 'one key sets null');
SELECT 'retention:259', table_name, status FROM telem_prune_plan('2026-01-01T00:00:00Z') WHERE table_name LIKE 'fk2_%' ORDER BY 2;
DELETE FROM telem_retention WHERE table_name IN ('fk2_c', 'fk2_d');
DELETE FROM telem_retention WHERE table_name = 'fk2_p';
DROP TABLE fk2_d;
DROP TABLE fk2_c;
DROP TABLE fk2_p;
-- a foreign key whose parent columns are no key of the parent (a "foreign key
-- mismatch") is no usable key: deleting children by value would take the
-- children of parent rows that stay; a UNIQUE or composite key is fine
CREATE TABLE fkm_p(id INTEGER PRIMARY KEY, k TEXT, at TEXT);
CREATE TABLE fkm_c(id INTEGER PRIMARY KEY, k TEXT REFERENCES fkm_p(k) ON DELETE CASCADE);
INSERT INTO fkm_p VALUES (1, 'x', '2020-01-01'), (2, 'x', '2030-01-01');
INSERT INTO fkm_c VALUES (1, 'x');
CREATE TABLE fku_p(id INTEGER PRIMARY KEY, a TEXT, b TEXT, at TEXT, UNIQUE(b, a));
CREATE TABLE fku_c(id INTEGER PRIMARY KEY, a TEXT, b TEXT,
                   FOREIGN KEY(a, b) REFERENCES fku_p(a, b) ON DELETE CASCADE);
INSERT INTO fku_p VALUES (1, 'x', 'y', '2020-01-01'), (2, 'x', 'z', '2030-01-01');
INSERT INTO fku_c VALUES (1, 'x', 'y'), (2, 'x', 'z');
INSERT INTO telem_retention(table_name, kind, days, time_column, rationale) VALUES
  ('fkm_p', 'days', 30, 'at', 'mismatched key'), ('fku_p', 'days', 30, 'at', 'unique pair');
INSERT INTO telem_retention(table_name, kind, cascade_from, rationale) VALUES
  ('fkm_c', 'cascade', 'fkm_p', 'by a non-key column'), ('fku_c', 'cascade', 'fku_p', 'by a unique pair');
SELECT 'retention:281', table_name, status FROM telem_prune_plan('2026-01-01T00:00:00Z') WHERE table_name GLOB 'fk[mu]_*' ORDER BY 2;
SELECT 'retention:282', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, NULL, '2026-01-01T00:00:00Z'));
SELECT 'retention:283', (SELECT group_concat(id, ' ') FROM fkm_c), (SELECT group_concat(id, ' ') FROM fku_c);
DELETE FROM telem_retention WHERE table_name IN ('fkm_c', 'fku_c');
DELETE FROM telem_retention WHERE table_name IN ('fkm_p', 'fku_p');
DROP TABLE fkm_c;
DROP TABLE fkm_p;
DROP TABLE fku_c;
DROP TABLE fku_p;
PRAGMA foreign_keys = ON;
-- a trigger that keeps a whole batch of rows (RAISE(IGNORE)) stops the prune
-- of that table instead of collecting the same rows forever
CREATE TABLE held(id INTEGER PRIMARY KEY, at TEXT, hold INT);
CREATE TRIGGER held_keep BEFORE DELETE ON held WHEN old.hold = 1 BEGIN SELECT RAISE(IGNORE); END;
INSERT INTO held(at, hold) VALUES ('2020-01-01', 1), ('2020-01-02', 1), ('2020-01-03', 0), ('2020-01-04', 1);
INSERT INTO telem_retention(table_name, kind, days, time_column, rationale) VALUES
  ('held', 'days', 30, 'at', 'legal hold trigger');
SELECT 'retention:298', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply('held', 3, '2026-01-01T00:00:00Z'));
SELECT 'retention:299', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply('held', 2, '2026-01-01T00:00:00Z'));
SELECT 'retention:300', group_concat(id, ' ') FROM held;
DELETE FROM telem_retention WHERE table_name = 'held';
DROP TABLE held;

-- 8. Writes through telem_retention: validated, persisted, transactional
SELECT 'retention:305', source, count(*) FROM telem_retention GROUP BY source;
UPDATE telem_retention SET days = 180 WHERE table_name = 'research_metrics';
SELECT 'retention:307', days FROM telem_retention_policy WHERE table_name = 'research_metrics';
BEGIN;
UPDATE telem_retention SET days = 30 WHERE table_name = 'research_metrics';
SELECT 'retention:310', days FROM telem_retention WHERE table_name = 'research_metrics';
ROLLBACK;
SELECT 'retention:312', days FROM telem_retention WHERE table_name = 'research_metrics';
INSERT INTO telem_retention(table_name, kind, rationale) VALUES ('x"; DROP TABLE research_metrics; --', 'manual', 'evil');
INSERT INTO telem_retention(table_name, kind, days, time_column, rationale) VALUES ('t2', 'days', 0, 'c', 'r');
INSERT INTO telem_retention(table_name, kind, days, time_column, rationale) VALUES ('t2', 'days', -5, 'c', 'r');
INSERT INTO telem_retention(table_name, kind, days, time_column, rationale) VALUES ('t2', 'days', 'ten', 'c', 'r');
INSERT INTO telem_retention(table_name, kind, time_column, rationale) VALUES ('t2', 'days', 'c', 'r');
INSERT INTO telem_retention(table_name, kind, days, time_column, rationale) VALUES ('t2', 'weekly', 3, 'c', 'r');
INSERT INTO telem_retention(table_name, kind, days, time_column, rationale) VALUES ('t2', 'days', 3, 'c; DROP', 'r');
INSERT INTO telem_retention(table_name, kind, rationale) VALUES ('t3', 'cascade', 'r');
INSERT INTO telem_retention(table_name, kind, cascade_from, rationale) VALUES ('t3', 'cascade', 'nope', 'r');
INSERT INTO telem_retention(table_name, kind, cascade_from, rationale) VALUES ('t3', 'cascade', 'child_y', 'r');
INSERT INTO telem_retention(table_name, kind) VALUES ('t4', 'manual');
INSERT INTO telem_retention(table_name, kind, rationale) VALUES ('RESEARCH_METRICS', 'manual', 'dup');
DELETE FROM telem_retention WHERE table_name = 'ci_completion_run';
UPDATE telem_retention SET rowid = 1000 WHERE table_name = 'audit_log';
-- a multi-row statement that fails half-way changes nothing
BEGIN;
DELETE FROM telem_retention WHERE table_name IN ('ci_completion_detector_snapshot', 'ci_completion_run');
SELECT 'retention:330', count(*) FROM telem_retention WHERE table_name LIKE 'ci_completion%';
COMMIT;
DELETE FROM telem_retention WHERE table_name IN ('loose', 'wrong_type');
SELECT 'retention:333', count(*) FROM telem_retention;

-- 9. Export / import round trip
CREATE TEMP TABLE before AS SELECT table_name, kind, days, time_column, cascade_from, rationale FROM telem_retention;
SELECT 'retention:337', (SELECT rules FROM telem_policy_import(telem_policy_yaml()));
SELECT 'retention:338', count(*) FROM (SELECT * FROM before EXCEPT SELECT table_name, kind, days, time_column, cascade_from, rationale FROM telem_retention);
SELECT 'retention:339', count(*) FROM (SELECT table_name, kind, days, time_column, cascade_from, rationale FROM telem_retention EXCEPT SELECT * FROM before);
SELECT 'retention:340', telem_policy_yaml() = telem_policy_yaml();
SELECT 'retention:341', substr(telem_policy_yaml(), 1, instr(telem_policy_yaml(), '  audit_log:') - 1) LIKE '#%tables:%';

-- an empty policy round-trips too (and prunes nothing)
SAVEPOINT empty_policy;
DELETE FROM telem_retention WHERE kind = 'cascade';
DELETE FROM telem_retention;
SELECT 'retention:347', telem_policy_yaml() LIKE '%tables: {}%';
SELECT 'retention:348', (SELECT rules FROM telem_policy_import(telem_policy_yaml()));
SELECT 'retention:349', count(*) FROM telem_retention;
SELECT 'retention:350', count(*) FROM telem_prune_plan;
ROLLBACK TO empty_policy;
RELEASE empty_policy;
SELECT 'retention:353', count(*) FROM telem_retention;

-- 10. Bad imports: an error naming the problem, the previous policy untouched
CREATE TEMP TABLE yaml_before AS SELECT telem_policy_yaml() AS y;
SELECT 'retention:357', (SELECT rules FROM telem_policy_import('tables:' || char(10) || '  t:' || char(10) || '    kind: forever' || char(10) || '    rationale: r' || char(10)));
SELECT 'retention:358', (SELECT rules FROM telem_policy_import('tables:' || char(10) || '  ''x"; DROP TABLE research_metrics; --'':' || char(10) || '    kind: manual' || char(10) || '    rationale: r' || char(10)));
SELECT 'retention:359', (SELECT rules FROM telem_policy_import('tables:' || char(10) || '  t:' || char(10) || '    kind: days' || char(10) || '    days: 0' || char(10) || '    time_column: c' || char(10) || '    rationale: r' || char(10)));
SELECT 'retention:360', (SELECT rules FROM telem_policy_import('tables:' || char(10) || '  c:' || char(10) || '    kind: cascade' || char(10) || '    cascade_from: p' || char(10) || '    rationale: r' || char(10)));
SELECT 'retention:361', (SELECT rules FROM telem_policy_import('a: &a ["x","x","x","x","x","x","x","x","x"]' || char(10) ||
  (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 70)
   SELECT group_concat('b' || i || ': &b' || i || ' [*a, *a]', char(10)) FROM n) || char(10) || 'tables: {}' || char(10)));
SELECT 'retention:364', (SELECT rules FROM telem_policy_import(''));
SELECT 'retention:365', (SELECT rules FROM telem_policy_import('   '));
SELECT 'retention:366', (SELECT rules FROM telem_policy_import('tests/data/no-such-policy.yaml'));
SELECT 'retention:367', (SELECT rules FROM telem_policy_import('tests'));
SELECT 'retention:368', writefile('build/retention-empty.yaml', '');
SELECT 'retention:369', (SELECT rules FROM telem_policy_import('build/retention-empty.yaml'));
SELECT 'retention:370', writefile('build/retention-big.yaml', 'tables:' || char(10) || replace(hex(zeroblob(2621440)), '0', '#')) > 5000000;
SELECT 'retention:371', (SELECT rules FROM telem_policy_import('build/retention-big.yaml'));
SELECT 'retention:372', writefile('build/retention-latin1.yaml', CAST('tables:' || char(10) || '  t:' || char(10) || '    kind: manual' || char(10) || '    rationale: caf' AS BLOB) || X'E9' || X'0A');
SELECT 'retention:373', (SELECT rules FROM telem_policy_import('build/retention-latin1.yaml'));
SELECT 'retention:374', (SELECT rules FROM telem_policy_import(NULL)) IS NULL;
SELECT 'retention:375', (SELECT rules FROM telem_policy_import());
SELECT 'retention:376', telem_policy_yaml(1);
SELECT 'retention:377', (SELECT y FROM yaml_before) = telem_policy_yaml();
SELECT 'retention:378', count(*) FROM research_metrics;
-- a good file replaces everything in one go
SELECT 'retention:380', (SELECT rules FROM telem_policy_import('contracts/db/retention-policy.yaml'));
SELECT 'retention:381', group_concat(table_name, ' ') FROM telem_retention;
SELECT DISTINCT 'retention:382', source FROM telem_retention;

-- 11. Back to the file: drop the database policy
DROP TABLE telem_retention_policy;
SELECT DISTINCT 'retention:386', source FROM telem_retention;
SELECT 'retention:387', contracts > 0 FROM telem_use_contracts('contracts');
SELECT DISTINCT 'retention:388', source FROM telem_retention;
SELECT 'retention:389', contracts > 0 FROM telem_use_contracts(NULL);
-- 12. A contracts directory whose policy is bad, or missing: nothing is pruned (fail closed)
SELECT 'retention:391', contracts FROM telem_use_contracts('tests/data/retention-bad-policy');
SELECT 'retention:392', count(*) FROM telem_retention;
SELECT 'retention:393', count(*) FROM telem_prune_plan;
SELECT 'retention:394', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply());
SELECT 'retention:395', telem_policy_yaml();
SELECT 'retention:396', contracts FROM telem_use_contracts('tests/data/retention-no-policy');
SELECT 'retention:397', count(*) FROM telem_retention;
SELECT 'retention:398', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply());
-- a write through telem_retention needs a policy to seed from
INSERT INTO telem_retention(table_name, kind, rationale) VALUES ('audit_log', 'keep_forever', 'legal hold');
-- an import needs none
SELECT 'retention:402', (SELECT rules FROM telem_policy_import('contracts/db/retention-policy.yaml'));
SELECT DISTINCT 'retention:403', source FROM telem_retention;
SELECT 'retention:404', contracts > 0 FROM telem_use_contracts(NULL);
SELECT 'retention:405', count(*) FROM research_metrics;
