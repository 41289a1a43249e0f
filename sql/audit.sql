-- sql/audit.sql -- audit views over the governed tables (needs `.load voxtelem`).
--
--   sqlite3 app.db -cmd '.load voxtelem' '.read sql/audit.sql' \
--     'SELECT * FROM telem_audit_rows'
--
-- This is what scheduled scripts run against a store whose writers cannot
-- load voxtelem (Vox writes through turso): nothing here changes a row and
-- nothing is installed that a writer would run.  telem_audit_rows lists the
-- key (table_name, row_id) and the problem of every governed row that breaks
-- its contract or holds a secret:
--   problem_kind 'contract'  research_metrics: telem_metric_problem (Vox's
--                            row contract and the payload schema of the
--                            metric type); ci_completion_*: the row against
--                            its ci-completion-* schema
--   problem_kind 'secret'    a column telem_scrub_apply would rewrite: the
--                            redaction rules (profile default) find secrets
--                            or personal data in it; problem names the
--                            column and the rules, never the value
-- To fix the secrets in place:
--   SELECT * FROM telem_scrub_apply('<table_name>', '<column>');
-- The views are TEMP views: reading this script writes nothing to the
-- database file (no schema change a turso writer would have to see); they
-- read the tables in main and last as long as the connection.
DROP VIEW IF EXISTS temp.telem_audit_rows;
DROP VIEW IF EXISTS temp.telem_audit_secrets;
DROP VIEW IF EXISTS temp.telem_audit_contracts;

CREATE TEMP VIEW telem_audit_contracts(table_name, row_id, problem_kind, problem) AS
SELECT 'research_metrics', id, 'contract', p FROM (
  SELECT id, telem_metric_problem(session_id, metric_type, metric_value, metadata_json) AS p
  FROM main.research_metrics) WHERE p IS NOT NULL
UNION ALL
SELECT 'ci_completion_run', q.id, 'contract', replace(q.x, char(31), ': ')
FROM (SELECT r.id, (SELECT v.instance_path || char(31) || v.message
                    FROM telem_validate_errors(json_object(
                      'repository_id', r.repository_id, 'branch', r.branch, 'commit_sha', r.commit_sha,
                      'workflow', r.workflow, 'run_kind', r.run_kind, 'started_at', r.started_at,
                      'finished_at', r.finished_at,
                      'tool_versions_json', CASE typeof(r.tool_versions_json) WHEN 'text' THEN r.tool_versions_json || '' ELSE r.tool_versions_json END),
                      'ci-completion-run') v LIMIT 1) AS x
      FROM main.ci_completion_run r) q
WHERE q.x IS NOT NULL
UNION ALL
SELECT 'ci_completion_finding', q.id, 'contract', replace(q.x, char(31), ': ')
FROM (SELECT f.id, (SELECT v.instance_path || char(31) || v.message
                    FROM telem_validate_errors(json_object(
                      'run_id', f.run_id, 'detector_id', f.detector_id, 'tier', f.tier, 'severity', f.severity,
                      'confidence', f.confidence, 'file_path', f.file_path, 'symbol', f.symbol,
                      'line_start', f.line_start, 'line_end', f.line_end, 'fingerprint', f.fingerprint,
                      'status', f.status, 'suppressed', f.suppressed, 'suppression_id', f.suppression_id,
                      'meta_json', CASE typeof(f.meta_json) WHEN 'text' THEN f.meta_json || '' ELSE f.meta_json END),
                      'ci-completion-finding') v LIMIT 1) AS x
      FROM main.ci_completion_finding f) q
WHERE q.x IS NOT NULL
UNION ALL
SELECT 'ci_completion_detector_snapshot', q.id, 'contract', replace(q.x, char(31), ': ')
FROM (SELECT s.id, (SELECT v.instance_path || char(31) || v.message
                    FROM telem_validate_errors(json_object(
                      'run_id', s.run_id, 'detector_id', s.detector_id, 'tier', s.tier,
                      'finding_count', s.finding_count, 'new_count', s.new_count,
                      'resolved_count', s.resolved_count, 'precision_estimate', s.precision_estimate,
                      'block_state', s.block_state),
                      'ci-completion-detector-snapshot') v LIMIT 1) AS x
      FROM main.ci_completion_detector_snapshot s) q
WHERE q.x IS NOT NULL
UNION ALL
SELECT 'ci_completion_suppression', q.id, 'contract', replace(q.x, char(31), ': ')
FROM (SELECT s.id, (SELECT v.instance_path || char(31) || v.message
                    FROM telem_validate_errors(json_object(
                      'detector_id', s.detector_id, 'scope', s.scope, 'reason', s.reason, 'owner', s.owner,
                      'created_at', s.created_at, 'expires_at', s.expires_at, 'approved_by', s.approved_by),
                      'ci-completion-suppression') v LIMIT 1) AS x
      FROM main.ci_completion_suppression s) q
WHERE q.x IS NOT NULL;

-- One row per (table, row, column) holding something the default profile
-- redacts; the scanned columns are the free-text and JSON ones.
CREATE TEMP VIEW telem_audit_secrets(table_name, row_id, problem_kind, problem) AS
WITH cells(table_name, row_id, column_name, v) AS (
  SELECT 'research_metrics', id, 'session_id', session_id FROM main.research_metrics
  UNION ALL SELECT 'research_metrics', id, 'metadata_json', metadata_json FROM main.research_metrics
  UNION ALL SELECT 'ci_completion_run', id, 'branch', branch FROM main.ci_completion_run
  UNION ALL SELECT 'ci_completion_run', id, 'tool_versions_json', tool_versions_json FROM main.ci_completion_run
  UNION ALL SELECT 'ci_completion_finding', id, 'file_path', file_path FROM main.ci_completion_finding
  UNION ALL SELECT 'ci_completion_finding', id, 'symbol', symbol FROM main.ci_completion_finding
  UNION ALL SELECT 'ci_completion_finding', id, 'meta_json', meta_json FROM main.ci_completion_finding
  UNION ALL SELECT 'ci_completion_detector_snapshot', id, 'block_state', block_state FROM main.ci_completion_detector_snapshot
  UNION ALL SELECT 'ci_completion_suppression', id, 'scope', scope FROM main.ci_completion_suppression
  UNION ALL SELECT 'ci_completion_suppression', id, 'reason', reason FROM main.ci_completion_suppression
  UNION ALL SELECT 'ci_completion_suppression', id, 'owner', owner FROM main.ci_completion_suppression
  UNION ALL SELECT 'ci_completion_suppression', id, 'approved_by', approved_by FROM main.ci_completion_suppression)
SELECT c.table_name, c.row_id, 'secret',
       c.column_name || ': ' || (SELECT group_concat(rule, ', ') FROM (SELECT DISTINCT r.rule FROM telem_redactions(c.v) r))
FROM cells c
WHERE typeof(c.v) = 'text' AND EXISTS (SELECT 1 FROM telem_redactions(c.v));

CREATE TEMP VIEW telem_audit_rows(table_name, row_id, problem_kind, problem) AS
SELECT * FROM telem_audit_contracts
UNION ALL
SELECT * FROM telem_audit_secrets;
