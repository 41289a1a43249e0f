-- sql/guards.sql -- guard triggers for the governed tables.
--
-- BEFORE INSERT and BEFORE UPDATE triggers that refuse a row breaking its
-- contract, with the problem in the error message:
--   research_metrics        telem_assert_metric (the row contract: session_id,
--                           metric_type, metric_value, metadata_json against the
--                           taxonomy's schema for the metric type), then the
--                           research-metrics-row schema (created_at format)
--   ci_completion_*         the row as a JSON object against ci-completion-*
--
-- Needs the extension on every connection that writes these tables:
--   sqlite3 app.db -cmd '.load ./voxtelem' < sql/guards.sql
-- (without it, inserts fail with "no such function": fail closed).
-- The `id` column is left out of the JSON row: in a BEFORE INSERT trigger
-- an automatically assigned rowid is not known yet.

CREATE TRIGGER IF NOT EXISTS research_metrics_guard_insert
BEFORE INSERT ON research_metrics
BEGIN
  SELECT telem_assert_metric(NEW.session_id, NEW.metric_type, NEW.metric_value, NEW.metadata_json);
  SELECT telem_assert_valid(json_object('session_id', NEW.session_id, 'metric_type', NEW.metric_type,
           'metric_value', NEW.metric_value, 'metadata_json', NEW.metadata_json,
           'created_at', NEW.created_at), 'research-metrics-row');
END;

CREATE TRIGGER IF NOT EXISTS research_metrics_guard_update
BEFORE UPDATE ON research_metrics
BEGIN
  SELECT telem_assert_metric(NEW.session_id, NEW.metric_type, NEW.metric_value, NEW.metadata_json);
  SELECT telem_assert_valid(json_object('session_id', NEW.session_id, 'metric_type', NEW.metric_type,
           'metric_value', NEW.metric_value, 'metadata_json', NEW.metadata_json,
           'created_at', NEW.created_at), 'research-metrics-row');
END;

CREATE TRIGGER IF NOT EXISTS ci_completion_run_guard_insert
BEFORE INSERT ON ci_completion_run
BEGIN
  SELECT telem_assert_valid(json_object('run_id', NEW.run_id, 'repository_id', NEW.repository_id,
           'branch', NEW.branch, 'commit_sha', NEW.commit_sha, 'status', NEW.status,
           'started_at', NEW.started_at, 'finished_at', NEW.finished_at,
           'tool_versions_json', NEW.tool_versions_json, 'meta_json', NEW.meta_json),
         'ci-completion-run');
END;

CREATE TRIGGER IF NOT EXISTS ci_completion_run_guard_update
BEFORE UPDATE ON ci_completion_run
BEGIN
  SELECT telem_assert_valid(json_object('run_id', NEW.run_id, 'repository_id', NEW.repository_id,
           'branch', NEW.branch, 'commit_sha', NEW.commit_sha, 'status', NEW.status,
           'started_at', NEW.started_at, 'finished_at', NEW.finished_at,
           'tool_versions_json', NEW.tool_versions_json, 'meta_json', NEW.meta_json),
         'ci-completion-run');
END;

CREATE TRIGGER IF NOT EXISTS ci_completion_finding_guard_insert
BEFORE INSERT ON ci_completion_finding
BEGIN
  SELECT telem_assert_valid(json_object('run_id', NEW.run_id, 'detector_id', NEW.detector_id,
           'severity', NEW.severity, 'file_path', NEW.file_path, 'line', NEW.line,
           'symbol', NEW.symbol, 'fingerprint', NEW.fingerprint, 'message', NEW.message,
           'meta_json', NEW.meta_json, 'created_at', NEW.created_at),
         'ci-completion-finding');
END;

CREATE TRIGGER IF NOT EXISTS ci_completion_finding_guard_update
BEFORE UPDATE ON ci_completion_finding
BEGIN
  SELECT telem_assert_valid(json_object('run_id', NEW.run_id, 'detector_id', NEW.detector_id,
           'severity', NEW.severity, 'file_path', NEW.file_path, 'line', NEW.line,
           'symbol', NEW.symbol, 'fingerprint', NEW.fingerprint, 'message', NEW.message,
           'meta_json', NEW.meta_json, 'created_at', NEW.created_at),
         'ci-completion-finding');
END;

CREATE TRIGGER IF NOT EXISTS ci_completion_detector_snapshot_guard_insert
BEFORE INSERT ON ci_completion_detector_snapshot
BEGIN
  SELECT telem_assert_valid(json_object('run_id', NEW.run_id, 'detector_id', NEW.detector_id,
           'detector_version', NEW.detector_version, 'findings_count', NEW.findings_count,
           'duration_ms', NEW.duration_ms, 'tool_versions_json', NEW.tool_versions_json,
           'created_at', NEW.created_at),
         'ci-completion-detector-snapshot');
END;

CREATE TRIGGER IF NOT EXISTS ci_completion_detector_snapshot_guard_update
BEFORE UPDATE ON ci_completion_detector_snapshot
BEGIN
  SELECT telem_assert_valid(json_object('run_id', NEW.run_id, 'detector_id', NEW.detector_id,
           'detector_version', NEW.detector_version, 'findings_count', NEW.findings_count,
           'duration_ms', NEW.duration_ms, 'tool_versions_json', NEW.tool_versions_json,
           'created_at', NEW.created_at),
         'ci-completion-detector-snapshot');
END;

CREATE TRIGGER IF NOT EXISTS ci_completion_suppression_guard_insert
BEFORE INSERT ON ci_completion_suppression
BEGIN
  SELECT telem_assert_valid(json_object('repository_id', NEW.repository_id,
           'fingerprint', NEW.fingerprint, 'detector_id', NEW.detector_id, 'reason', NEW.reason,
           'created_by', NEW.created_by, 'created_at', NEW.created_at,
           'expires_at', NEW.expires_at),
         'ci-completion-suppression');
END;

CREATE TRIGGER IF NOT EXISTS ci_completion_suppression_guard_update
BEFORE UPDATE ON ci_completion_suppression
BEGIN
  SELECT telem_assert_valid(json_object('repository_id', NEW.repository_id,
           'fingerprint', NEW.fingerprint, 'detector_id', NEW.detector_id, 'reason', NEW.reason,
           'created_by', NEW.created_by, 'created_at', NEW.created_at,
           'expires_at', NEW.expires_at),
         'ci-completion-suppression');
END;
