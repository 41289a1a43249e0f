-- Security of the retention surface (issue 17): no schema object of a
-- database can make voxtelem import a policy, read a file or prune, and a
-- telem_prune_log / telem_retention_policy that voxtelem did not create is
-- refused before anything is read, written or deleted.  Labelled sNN.
.headers off
.mode list
CREATE TABLE research_metrics(id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, metric_type TEXT NOT NULL,
  metric_value REAL, metadata_json TEXT, created_at TEXT NOT NULL);
INSERT INTO research_metrics(session_id, metric_type, created_at) VALUES ('s', 'old', '2001-01-01'), ('s', 'new', '2999-01-01');
CREATE TABLE victim(x);
INSERT INTO victim VALUES (1), (2);

-- s01-s04: the side-effecting calls are tables; the scalars of the same
-- name only say so, from anywhere, and do nothing.
SELECT 's01', telem_prune_apply();
SELECT 's02', telem_policy_import('contracts/db/retention-policy.yaml');
CREATE TABLE report(a CHECK (telem_policy_import('tables: {}') > 0 AND telem_prune_apply() >= 0));
PRAGMA trusted_schema = OFF;
PRAGMA quick_check;
PRAGMA integrity_check;
INSERT INTO report VALUES (1);
PRAGMA trusted_schema = ON;
INSERT INTO report VALUES (1);
SELECT 's03', (SELECT count(*) FROM research_metrics), (SELECT count(*) FROM victim),
  (SELECT count(*) FROM sqlite_master WHERE name IN ('telem_retention_policy', 'telem_prune_log'));
-- a trigger or view of main cannot reach the tables (they live in temp),
-- and the writable policy table refuses triggers and views
CREATE TABLE sink(x);
CREATE TRIGGER sink_prune AFTER INSERT ON sink BEGIN SELECT * FROM telem_prune_apply(); END;
INSERT INTO sink VALUES (1);
DROP TRIGGER sink_prune;
CREATE TRIGGER sink_import AFTER INSERT ON sink BEGIN SELECT * FROM telem_policy_import('tables: {}'); END;
INSERT INTO sink VALUES (1);
DROP TRIGGER sink_import;
CREATE TRIGGER sink_ret AFTER INSERT ON sink BEGIN UPDATE telem_retention SET days = 1; END;
INSERT INTO sink VALUES (1);
DROP TRIGGER sink_ret;
CREATE VIEW v_prune AS SELECT * FROM telem_prune_apply();
SELECT 'prune_security:39', * FROM v_prune;
CREATE VIEW v_ret AS SELECT * FROM telem_retention;
SELECT 'prune_security:41', * FROM v_ret;
DROP VIEW v_prune;
DROP VIEW v_ret;
SELECT 's04', (SELECT count(*) FROM research_metrics), (SELECT count(*) FROM victim),
  (SELECT count(*) FROM sqlite_master WHERE name IN ('telem_retention_policy', 'telem_prune_log'));

-- s05-s07: a pre-created telem_prune_log with a CHECK that would import a
-- policy and a trigger that would delete: the prune refuses before deleting
CREATE TABLE telem_prune_log(id INTEGER PRIMARY KEY, run_id INTEGER, logged_at TEXT, table_name TEXT,
  kind TEXT, cutoff TEXT, rows_deleted INTEGER, cascaded_rows INTEGER, batches INTEGER,
  duration_ms INTEGER, status TEXT CHECK (telem_policy_import('/etc/hostname') > 0));
SELECT 's05', * FROM telem_prune_apply(NULL, NULL, '2026-01-01T00:00:00Z');
SELECT 's06', count(*) FROM research_metrics;
DROP TABLE telem_prune_log;
-- the same with voxtelem's own definition plus a trigger
SELECT 's07', count(*) FROM telem_prune_apply('research_metrics', NULL, '2000-01-01T00:00:00Z');
CREATE TRIGGER log_hook AFTER INSERT ON telem_prune_log BEGIN DELETE FROM victim; END;
SELECT 's08', * FROM telem_prune_apply(NULL, NULL, '2026-01-01T00:00:00Z');
SELECT 's09', (SELECT count(*) FROM research_metrics), (SELECT count(*) FROM victim);
DROP TRIGGER log_hook;
-- an index on an expression someone added is refused too; a view of that name as well
CREATE INDEX log_ix ON telem_prune_log(lower(status));
SELECT 's10', * FROM telem_prune_apply(NULL, NULL, '2026-01-01T00:00:00Z');
DROP INDEX log_ix;
ALTER TABLE telem_prune_log RENAME TO log_old;
CREATE VIEW telem_prune_log AS SELECT 1 AS run_id;
SELECT 's11', * FROM telem_prune_apply(NULL, NULL, '2026-01-01T00:00:00Z');
DROP VIEW telem_prune_log;
ALTER TABLE log_old RENAME TO telem_prune_log;
SELECT 's12', table_name, rows_deleted FROM telem_prune_apply('research_metrics', NULL, '2026-01-01T00:00:00Z');
SELECT 's13', count(*) FROM research_metrics;

-- s14-s18: telem_retention_policy someone else created
CREATE TABLE telem_retention_policy(table_name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE, kind TEXT NOT NULL,
  days INTEGER, time_column TEXT, cascade_from TEXT,
  rationale TEXT NOT NULL CHECK (telem_policy_import('/etc/hostname') IS NOT NULL));
SELECT 's14', count(*) FROM telem_retention;
SELECT 's15', * FROM telem_policy_import('tables: {}');
SELECT 's16', * FROM telem_prune_plan;
DROP TABLE telem_retention_policy;
-- voxtelem's own definition (made by an import) with a trigger added
SELECT 's17', rules FROM telem_policy_import('tables:
  research_metrics: {kind: days, days: 1, time_column: created_at, rationale: r}
');
CREATE TRIGGER pol_hook AFTER DELETE ON telem_retention_policy BEGIN DELETE FROM victim; END;
SELECT 's18', rules FROM telem_policy_import('tables: {}');
UPDATE telem_retention SET days = 2;
SELECT 's19', (SELECT count(*) FROM victim), (SELECT group_concat(days) FROM telem_retention_policy);
DROP TRIGGER pol_hook;

-- s20-s23 (issue 17 item 2): the policy table is found whatever the case
-- of its name (once written through a case variant, the policy was read
-- from the file while writes went to the table), and the writes read it.
-- the same definition under an upper-case name (SQLite's names ignore case)
.output build/prune_security_ddl.sql
SELECT replace(sql, 'telem_retention_policy', 'TELEM_RETENTION_POLICY') || ';' FROM sqlite_master WHERE name = 'telem_retention_policy';
.output stdout
CREATE TEMP TABLE keep AS SELECT * FROM telem_retention_policy;
DROP TABLE telem_retention_policy;
.read build/prune_security_ddl.sql
INSERT INTO TELEM_RETENTION_POLICY SELECT * FROM keep;
SELECT 's20', table_name, days, source FROM telem_retention;
UPDATE telem_retention SET days = 7 WHERE table_name = 'research_metrics';
SELECT 's21', table_name, days, source FROM telem_retention;
SELECT 's22', name, (SELECT days FROM TELEM_RETENTION_POLICY) FROM sqlite_master WHERE name LIKE 'telem_retention_policy';
-- a case variant with a trigger that switches contracts while voxtelem
-- writes (the seeding loop once walked freed memory then): refused
DROP TABLE TELEM_RETENTION_POLICY;
CREATE TABLE Telem_Retention_Policy(table_name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE, kind TEXT NOT NULL,
  days INTEGER, time_column TEXT, cascade_from TEXT, rationale TEXT NOT NULL);
CREATE TRIGGER switch AFTER INSERT ON Telem_Retention_Policy BEGIN SELECT telem_use_contracts('tests/data/retention-no-policy'); END;
INSERT INTO telem_retention(table_name, kind, rationale) VALUES ('audit_log', 'keep_forever', 'legal hold');
SELECT 's23', count(*) FROM Telem_Retention_Policy;
