-- sql/guards.sql -- OPT-IN guard triggers for the governed tables.
--
-- READ THIS FIRST.  A trigger that calls a telem_ function runs inside every
-- writer's INSERT and UPDATE, so EVERY connection that writes these tables
-- must load voxtelem.  Vox writes through turso (a Rust SQLite engine that
-- cannot load C extensions): with these triggers installed, every Vox write
-- fails with "no such function", and Vox only logs a warning, so its
-- telemetry is dropped silently.  For Vox's database use audit and scrub
-- instead (sql/audit.sql, telem_audit, telem_scrub_apply), run beside the
-- writers.  Install guards only where every writer loads voxtelem.
--
-- BEFORE INSERT and BEFORE UPDATE triggers refuse a row that breaks its
-- contract, with the problem in the error message:
--   research_metrics   telem_assert_metric (Vox's row contract and the
--                      payload schema of the metric type, see ext/metric.c),
--                      then the research-metrics-row schema (created_at)
--   ci_completion_*    the row as a JSON object against ci-completion-*
--
--   sqlite3 app.db -cmd '.load ./voxtelem' < sql/guards.sql
--
-- The whole file is one transaction.  Its last step checks that every table
-- has exactly the columns of sql/schema/ (Vox's DDL); when one does not, the
-- check fails with INSERT OR ROLLBACK, which undoes every trigger created
-- above it: nothing is installed, nothing changes (the final COMMIT then
-- reports that no transaction is active).
-- The `id` column is left out of the JSON row: in a BEFORE INSERT trigger
-- an automatically assigned rowid is not known yet.
-- Each column goes into the JSON row as the value it stores: text made by
-- json(), json_object() or json_quote() carries a JSON subtype, and
-- json_object() would embed it as JSON.  `|| ''` drops the subtype of text;
-- other types go in as they are.

BEGIN;

CREATE TRIGGER IF NOT EXISTS research_metrics_guard_insert
BEFORE INSERT ON research_metrics
BEGIN
  SELECT telem_assert_metric(NEW.session_id, NEW.metric_type, NEW.metric_value, NEW.metadata_json);
  SELECT telem_assert_valid(json_object(
           'session_id', CASE typeof(NEW.session_id) WHEN 'text' THEN NEW.session_id || '' ELSE NEW.session_id END,
           'metric_type', CASE typeof(NEW.metric_type) WHEN 'text' THEN NEW.metric_type || '' ELSE NEW.metric_type END,
           'metric_value', CASE typeof(NEW.metric_value) WHEN 'text' THEN NEW.metric_value || '' ELSE NEW.metric_value END,
           'metadata_json', CASE typeof(NEW.metadata_json) WHEN 'text' THEN NEW.metadata_json || '' ELSE NEW.metadata_json END,
           'created_at', CASE typeof(NEW.created_at) WHEN 'text' THEN NEW.created_at || '' ELSE NEW.created_at END),
         'research-metrics-row');
END;

CREATE TRIGGER IF NOT EXISTS research_metrics_guard_update
BEFORE UPDATE ON research_metrics
BEGIN
  SELECT telem_assert_metric(NEW.session_id, NEW.metric_type, NEW.metric_value, NEW.metadata_json);
  SELECT telem_assert_valid(json_object(
           'session_id', CASE typeof(NEW.session_id) WHEN 'text' THEN NEW.session_id || '' ELSE NEW.session_id END,
           'metric_type', CASE typeof(NEW.metric_type) WHEN 'text' THEN NEW.metric_type || '' ELSE NEW.metric_type END,
           'metric_value', CASE typeof(NEW.metric_value) WHEN 'text' THEN NEW.metric_value || '' ELSE NEW.metric_value END,
           'metadata_json', CASE typeof(NEW.metadata_json) WHEN 'text' THEN NEW.metadata_json || '' ELSE NEW.metadata_json END,
           'created_at', CASE typeof(NEW.created_at) WHEN 'text' THEN NEW.created_at || '' ELSE NEW.created_at END),
         'research-metrics-row');
END;

CREATE TRIGGER IF NOT EXISTS ci_completion_run_guard_insert
BEFORE INSERT ON ci_completion_run
BEGIN
  SELECT telem_assert_valid(json_object(
           'repository_id', CASE typeof(NEW.repository_id) WHEN 'text' THEN NEW.repository_id || '' ELSE NEW.repository_id END,
           'branch', CASE typeof(NEW.branch) WHEN 'text' THEN NEW.branch || '' ELSE NEW.branch END,
           'commit_sha', CASE typeof(NEW.commit_sha) WHEN 'text' THEN NEW.commit_sha || '' ELSE NEW.commit_sha END,
           'workflow', CASE typeof(NEW.workflow) WHEN 'text' THEN NEW.workflow || '' ELSE NEW.workflow END,
           'run_kind', CASE typeof(NEW.run_kind) WHEN 'text' THEN NEW.run_kind || '' ELSE NEW.run_kind END,
           'started_at', CASE typeof(NEW.started_at) WHEN 'text' THEN NEW.started_at || '' ELSE NEW.started_at END,
           'finished_at', CASE typeof(NEW.finished_at) WHEN 'text' THEN NEW.finished_at || '' ELSE NEW.finished_at END,
           'tool_versions_json', CASE typeof(NEW.tool_versions_json) WHEN 'text' THEN NEW.tool_versions_json || '' ELSE NEW.tool_versions_json END),
         'ci-completion-run');
END;

CREATE TRIGGER IF NOT EXISTS ci_completion_run_guard_update
BEFORE UPDATE ON ci_completion_run
BEGIN
  SELECT telem_assert_valid(json_object(
           'repository_id', CASE typeof(NEW.repository_id) WHEN 'text' THEN NEW.repository_id || '' ELSE NEW.repository_id END,
           'branch', CASE typeof(NEW.branch) WHEN 'text' THEN NEW.branch || '' ELSE NEW.branch END,
           'commit_sha', CASE typeof(NEW.commit_sha) WHEN 'text' THEN NEW.commit_sha || '' ELSE NEW.commit_sha END,
           'workflow', CASE typeof(NEW.workflow) WHEN 'text' THEN NEW.workflow || '' ELSE NEW.workflow END,
           'run_kind', CASE typeof(NEW.run_kind) WHEN 'text' THEN NEW.run_kind || '' ELSE NEW.run_kind END,
           'started_at', CASE typeof(NEW.started_at) WHEN 'text' THEN NEW.started_at || '' ELSE NEW.started_at END,
           'finished_at', CASE typeof(NEW.finished_at) WHEN 'text' THEN NEW.finished_at || '' ELSE NEW.finished_at END,
           'tool_versions_json', CASE typeof(NEW.tool_versions_json) WHEN 'text' THEN NEW.tool_versions_json || '' ELSE NEW.tool_versions_json END),
         'ci-completion-run');
END;

CREATE TRIGGER IF NOT EXISTS ci_completion_finding_guard_insert
BEFORE INSERT ON ci_completion_finding
BEGIN
  SELECT telem_assert_valid(json_object(
           'run_id', CASE typeof(NEW.run_id) WHEN 'text' THEN NEW.run_id || '' ELSE NEW.run_id END,
           'detector_id', CASE typeof(NEW.detector_id) WHEN 'text' THEN NEW.detector_id || '' ELSE NEW.detector_id END,
           'tier', CASE typeof(NEW.tier) WHEN 'text' THEN NEW.tier || '' ELSE NEW.tier END,
           'severity', CASE typeof(NEW.severity) WHEN 'text' THEN NEW.severity || '' ELSE NEW.severity END,
           'confidence', CASE typeof(NEW.confidence) WHEN 'text' THEN NEW.confidence || '' ELSE NEW.confidence END,
           'file_path', CASE typeof(NEW.file_path) WHEN 'text' THEN NEW.file_path || '' ELSE NEW.file_path END,
           'symbol', CASE typeof(NEW.symbol) WHEN 'text' THEN NEW.symbol || '' ELSE NEW.symbol END,
           'line_start', CASE typeof(NEW.line_start) WHEN 'text' THEN NEW.line_start || '' ELSE NEW.line_start END,
           'line_end', CASE typeof(NEW.line_end) WHEN 'text' THEN NEW.line_end || '' ELSE NEW.line_end END,
           'fingerprint', CASE typeof(NEW.fingerprint) WHEN 'text' THEN NEW.fingerprint || '' ELSE NEW.fingerprint END,
           'status', CASE typeof(NEW.status) WHEN 'text' THEN NEW.status || '' ELSE NEW.status END,
           'suppressed', CASE typeof(NEW.suppressed) WHEN 'text' THEN NEW.suppressed || '' ELSE NEW.suppressed END,
           'suppression_id', CASE typeof(NEW.suppression_id) WHEN 'text' THEN NEW.suppression_id || '' ELSE NEW.suppression_id END,
           'meta_json', CASE typeof(NEW.meta_json) WHEN 'text' THEN NEW.meta_json || '' ELSE NEW.meta_json END),
         'ci-completion-finding');
END;

CREATE TRIGGER IF NOT EXISTS ci_completion_finding_guard_update
BEFORE UPDATE ON ci_completion_finding
BEGIN
  SELECT telem_assert_valid(json_object(
           'run_id', CASE typeof(NEW.run_id) WHEN 'text' THEN NEW.run_id || '' ELSE NEW.run_id END,
           'detector_id', CASE typeof(NEW.detector_id) WHEN 'text' THEN NEW.detector_id || '' ELSE NEW.detector_id END,
           'tier', CASE typeof(NEW.tier) WHEN 'text' THEN NEW.tier || '' ELSE NEW.tier END,
           'severity', CASE typeof(NEW.severity) WHEN 'text' THEN NEW.severity || '' ELSE NEW.severity END,
           'confidence', CASE typeof(NEW.confidence) WHEN 'text' THEN NEW.confidence || '' ELSE NEW.confidence END,
           'file_path', CASE typeof(NEW.file_path) WHEN 'text' THEN NEW.file_path || '' ELSE NEW.file_path END,
           'symbol', CASE typeof(NEW.symbol) WHEN 'text' THEN NEW.symbol || '' ELSE NEW.symbol END,
           'line_start', CASE typeof(NEW.line_start) WHEN 'text' THEN NEW.line_start || '' ELSE NEW.line_start END,
           'line_end', CASE typeof(NEW.line_end) WHEN 'text' THEN NEW.line_end || '' ELSE NEW.line_end END,
           'fingerprint', CASE typeof(NEW.fingerprint) WHEN 'text' THEN NEW.fingerprint || '' ELSE NEW.fingerprint END,
           'status', CASE typeof(NEW.status) WHEN 'text' THEN NEW.status || '' ELSE NEW.status END,
           'suppressed', CASE typeof(NEW.suppressed) WHEN 'text' THEN NEW.suppressed || '' ELSE NEW.suppressed END,
           'suppression_id', CASE typeof(NEW.suppression_id) WHEN 'text' THEN NEW.suppression_id || '' ELSE NEW.suppression_id END,
           'meta_json', CASE typeof(NEW.meta_json) WHEN 'text' THEN NEW.meta_json || '' ELSE NEW.meta_json END),
         'ci-completion-finding');
END;

CREATE TRIGGER IF NOT EXISTS ci_completion_detector_snapshot_guard_insert
BEFORE INSERT ON ci_completion_detector_snapshot
BEGIN
  SELECT telem_assert_valid(json_object(
           'run_id', CASE typeof(NEW.run_id) WHEN 'text' THEN NEW.run_id || '' ELSE NEW.run_id END,
           'detector_id', CASE typeof(NEW.detector_id) WHEN 'text' THEN NEW.detector_id || '' ELSE NEW.detector_id END,
           'tier', CASE typeof(NEW.tier) WHEN 'text' THEN NEW.tier || '' ELSE NEW.tier END,
           'finding_count', CASE typeof(NEW.finding_count) WHEN 'text' THEN NEW.finding_count || '' ELSE NEW.finding_count END,
           'new_count', CASE typeof(NEW.new_count) WHEN 'text' THEN NEW.new_count || '' ELSE NEW.new_count END,
           'resolved_count', CASE typeof(NEW.resolved_count) WHEN 'text' THEN NEW.resolved_count || '' ELSE NEW.resolved_count END,
           'precision_estimate', CASE typeof(NEW.precision_estimate) WHEN 'text' THEN NEW.precision_estimate || '' ELSE NEW.precision_estimate END,
           'block_state', CASE typeof(NEW.block_state) WHEN 'text' THEN NEW.block_state || '' ELSE NEW.block_state END),
         'ci-completion-detector-snapshot');
END;

CREATE TRIGGER IF NOT EXISTS ci_completion_detector_snapshot_guard_update
BEFORE UPDATE ON ci_completion_detector_snapshot
BEGIN
  SELECT telem_assert_valid(json_object(
           'run_id', CASE typeof(NEW.run_id) WHEN 'text' THEN NEW.run_id || '' ELSE NEW.run_id END,
           'detector_id', CASE typeof(NEW.detector_id) WHEN 'text' THEN NEW.detector_id || '' ELSE NEW.detector_id END,
           'tier', CASE typeof(NEW.tier) WHEN 'text' THEN NEW.tier || '' ELSE NEW.tier END,
           'finding_count', CASE typeof(NEW.finding_count) WHEN 'text' THEN NEW.finding_count || '' ELSE NEW.finding_count END,
           'new_count', CASE typeof(NEW.new_count) WHEN 'text' THEN NEW.new_count || '' ELSE NEW.new_count END,
           'resolved_count', CASE typeof(NEW.resolved_count) WHEN 'text' THEN NEW.resolved_count || '' ELSE NEW.resolved_count END,
           'precision_estimate', CASE typeof(NEW.precision_estimate) WHEN 'text' THEN NEW.precision_estimate || '' ELSE NEW.precision_estimate END,
           'block_state', CASE typeof(NEW.block_state) WHEN 'text' THEN NEW.block_state || '' ELSE NEW.block_state END),
         'ci-completion-detector-snapshot');
END;

CREATE TRIGGER IF NOT EXISTS ci_completion_suppression_guard_insert
BEFORE INSERT ON ci_completion_suppression
BEGIN
  SELECT telem_assert_valid(json_object(
           'detector_id', CASE typeof(NEW.detector_id) WHEN 'text' THEN NEW.detector_id || '' ELSE NEW.detector_id END,
           'scope', CASE typeof(NEW.scope) WHEN 'text' THEN NEW.scope || '' ELSE NEW.scope END,
           'reason', CASE typeof(NEW.reason) WHEN 'text' THEN NEW.reason || '' ELSE NEW.reason END,
           'owner', CASE typeof(NEW.owner) WHEN 'text' THEN NEW.owner || '' ELSE NEW.owner END,
           'created_at', CASE typeof(NEW.created_at) WHEN 'text' THEN NEW.created_at || '' ELSE NEW.created_at END,
           'expires_at', CASE typeof(NEW.expires_at) WHEN 'text' THEN NEW.expires_at || '' ELSE NEW.expires_at END,
           'approved_by', CASE typeof(NEW.approved_by) WHEN 'text' THEN NEW.approved_by || '' ELSE NEW.approved_by END),
         'ci-completion-suppression');
END;

CREATE TRIGGER IF NOT EXISTS ci_completion_suppression_guard_update
BEFORE UPDATE ON ci_completion_suppression
BEGIN
  SELECT telem_assert_valid(json_object(
           'detector_id', CASE typeof(NEW.detector_id) WHEN 'text' THEN NEW.detector_id || '' ELSE NEW.detector_id END,
           'scope', CASE typeof(NEW.scope) WHEN 'text' THEN NEW.scope || '' ELSE NEW.scope END,
           'reason', CASE typeof(NEW.reason) WHEN 'text' THEN NEW.reason || '' ELSE NEW.reason END,
           'owner', CASE typeof(NEW.owner) WHEN 'text' THEN NEW.owner || '' ELSE NEW.owner END,
           'created_at', CASE typeof(NEW.created_at) WHEN 'text' THEN NEW.created_at || '' ELSE NEW.created_at END,
           'expires_at', CASE typeof(NEW.expires_at) WHEN 'text' THEN NEW.expires_at || '' ELSE NEW.expires_at END,
           'approved_by', CASE typeof(NEW.approved_by) WHEN 'text' THEN NEW.approved_by || '' ELSE NEW.approved_by END),
         'ci-completion-suppression');
END;

-- The column check (see the header): every expected column present, no other.
CREATE TEMP TABLE IF NOT EXISTS telem_guards_check (
  problem TEXT,
  CONSTRAINT "guards.sql: the governed tables do not have the columns of sql/schema (Vox's DDL); nothing was installed"
    CHECK (problem IS NULL)
);
WITH expected(tbl, col) AS (VALUES
    ('research_metrics', 'id'),
    ('research_metrics', 'session_id'),
    ('research_metrics', 'metric_type'),
    ('research_metrics', 'metric_value'),
    ('research_metrics', 'metadata_json'),
    ('research_metrics', 'created_at'),
    ('ci_completion_run', 'id'),
    ('ci_completion_run', 'repository_id'),
    ('ci_completion_run', 'branch'),
    ('ci_completion_run', 'commit_sha'),
    ('ci_completion_run', 'workflow'),
    ('ci_completion_run', 'run_kind'),
    ('ci_completion_run', 'started_at'),
    ('ci_completion_run', 'finished_at'),
    ('ci_completion_run', 'tool_versions_json'),
    ('ci_completion_finding', 'id'),
    ('ci_completion_finding', 'run_id'),
    ('ci_completion_finding', 'detector_id'),
    ('ci_completion_finding', 'tier'),
    ('ci_completion_finding', 'severity'),
    ('ci_completion_finding', 'confidence'),
    ('ci_completion_finding', 'file_path'),
    ('ci_completion_finding', 'symbol'),
    ('ci_completion_finding', 'line_start'),
    ('ci_completion_finding', 'line_end'),
    ('ci_completion_finding', 'fingerprint'),
    ('ci_completion_finding', 'status'),
    ('ci_completion_finding', 'suppressed'),
    ('ci_completion_finding', 'suppression_id'),
    ('ci_completion_finding', 'meta_json'),
    ('ci_completion_detector_snapshot', 'id'),
    ('ci_completion_detector_snapshot', 'run_id'),
    ('ci_completion_detector_snapshot', 'detector_id'),
    ('ci_completion_detector_snapshot', 'tier'),
    ('ci_completion_detector_snapshot', 'finding_count'),
    ('ci_completion_detector_snapshot', 'new_count'),
    ('ci_completion_detector_snapshot', 'resolved_count'),
    ('ci_completion_detector_snapshot', 'precision_estimate'),
    ('ci_completion_detector_snapshot', 'block_state'),
    ('ci_completion_suppression', 'id'),
    ('ci_completion_suppression', 'detector_id'),
    ('ci_completion_suppression', 'scope'),
    ('ci_completion_suppression', 'reason'),
    ('ci_completion_suppression', 'owner'),
    ('ci_completion_suppression', 'created_at'),
    ('ci_completion_suppression', 'expires_at'),
    ('ci_completion_suppression', 'approved_by')),
actual(tbl, col) AS (
  SELECT e.tbl, p.name FROM (SELECT DISTINCT tbl FROM expected) e, pragma_table_info(e.tbl) p)
INSERT OR ROLLBACK INTO telem_guards_check(problem)
SELECT CASE WHEN (SELECT count(*) FROM expected e WHERE NOT EXISTS
                    (SELECT 1 FROM actual a WHERE a.tbl = e.tbl AND a.col = e.col)) > 0
              OR (SELECT count(*) FROM actual a WHERE NOT EXISTS
                    (SELECT 1 FROM expected e WHERE a.tbl = e.tbl AND a.col = e.col)) > 0
            THEN 'mismatch' END;
DROP TABLE temp.telem_guards_check;
COMMIT;
