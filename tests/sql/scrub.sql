-- telem_scrub_apply and the audit views (sql/audit.sql) on Vox's DDL.
.headers off
.mode list
.read sql/schema/research_metrics.sql
.read sql/schema/ci_completion.sql
INSERT INTO research_metrics(id, session_id, metric_type, metric_value, metadata_json) VALUES
  (1, 'bench:vox', 'benchmark_event', 1, '{ "name": "clean",  "details": {"ms": 3} }'),
  (2, 'bench:vox', 'benchmark_event', 2, '{"name":"leak","details":{"note":"token ghp_R8x2Kq9LmZ4vT7nB1cW5yH3jP6dF0sGaQeXo"}}'),
  (3, 'mcp:vox', 'socrates_surface', NULL, 'contact ana.silva@example.com please'),
  (4, 'mcp:vox', 'socrates_surface', NULL, NULL),
  (5, 'bench:vox', 'benchmark_event', 5, '{"details":{}}'),
  (6, '', 'benchmark_event', 6, '{"name":"x"}');
INSERT INTO ci_completion_suppression(detector_id, scope, reason, owner) VALUES
  ('secrets', 'src/', 'fixture', 'dev@example.com'), ('secrets', 'src/', 'fixture', 'ops-team');
UPDATE research_metrics SET metric_value = metric_value;

.print '== audit: contract problems and secrets, keys only'
.read sql/audit.sql
SELECT 'a01', table_name, row_id, problem_kind, problem FROM telem_audit_rows ORDER BY 2, 3, 4;
SELECT 'a02', count(*) FROM sqlite_master WHERE name LIKE 'telem_audit%';
SELECT 'a03', count(*) FROM sqlite_temp_master WHERE name LIKE 'telem_audit%';

.print '== scrub in batches of 2: dirty rows rewritten, clean rows untouched'
SELECT 's01', * FROM telem_scrub_apply('research_metrics', 'metadata_json', NULL, 2);
SELECT 's02', id, metadata_json FROM research_metrics ORDER BY id;
.print '-- a second run finds nothing to do'
SELECT 's03', rows_scanned, rows_scrubbed, batches, status FROM telem_scrub_apply('research_metrics', 'metadata_json');
SELECT 's04', rows_scrubbed FROM telem_scrub_apply('ci_completion_suppression', 'owner', 'default', 1);
SELECT 's05', owner FROM ci_completion_suppression ORDER BY id;
SELECT 's06', table_name, column_name, profile, rows_scanned, rows_scrubbed, batches, status, duration_ms >= 0,
       logged_at LIKE '____-__-__T__:__:__.___Z' FROM telem_scrub_log ORDER BY id;
.print '== the audit agrees: no secret left'
SELECT 'a04', count(*) FROM telem_audit_secrets;

.print '== inside a transaction: savepoints, undone by ROLLBACK'
INSERT INTO research_metrics(id, session_id, metric_type, metadata_json) VALUES (7, 's', 't', 'mail bob@example.org');
BEGIN;
SELECT 's07', rows_scrubbed, status FROM telem_scrub_apply('research_metrics', 'metadata_json');
ROLLBACK;
SELECT 's08', metadata_json FROM research_metrics WHERE id = 7;

.print '== statuses and errors'
SELECT 's09', status FROM telem_scrub_apply('no_such_table', 'x');
SELECT 's10', status FROM telem_scrub_apply('research_metrics', 'no_such_column');
CREATE TABLE wr(k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;
SELECT 's11', status FROM telem_scrub_apply('wr', 'v');
SELECT 'scrub:47', * FROM telem_scrub_apply('research_metrics');
SELECT 'scrub:48', * FROM telem_scrub_apply('research metrics', 'x');
SELECT 'scrub:49', * FROM telem_scrub_apply('sqlite_master', 'sql');
SELECT 'scrub:50', * FROM telem_scrub_apply('research_metrics', 'metadata_json', 'no-such-profile');
SELECT 'scrub:51', * FROM telem_scrub_apply('research_metrics', 'metadata_json', 'default', 0);
SELECT 'scrub:52', * FROM telem_scrub_apply('research_metrics', 'metadata_json', 'default', 'ten');
SELECT 'scrub:53', * FROM telem_scrub_apply(1, 'x');
SELECT 'scrub:54', * FROM telem_scrub_apply('a', 'b', 'c', 1, 'e');
.print '== DIRECTONLY: a view or trigger cannot run it'
CREATE VIEW sneaky AS SELECT * FROM telem_scrub_apply('research_metrics', 'metadata_json');
SELECT 'scrub:57', * FROM sneaky;
CREATE TABLE tr(x);
CREATE TRIGGER tr_ins AFTER INSERT ON tr BEGIN SELECT * FROM telem_scrub_apply('research_metrics', 'metadata_json'); END;
INSERT INTO tr VALUES (1);
SELECT 's12', count(*) FROM telem_scrub_log;
