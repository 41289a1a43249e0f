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
-- Each column goes into the JSON row as the value it stores: text made by
-- json(), json_object() or json_quote() carries a JSON subtype, and
-- json_object() would embed it as JSON (json('"passed"') would be checked
-- as passed but stored with its quotes).  `|| ''` drops the subtype of text;
-- other types go in as they are.

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
           'run_id', CASE typeof(NEW.run_id) WHEN 'text' THEN NEW.run_id || '' ELSE NEW.run_id END,
           'repository_id', CASE typeof(NEW.repository_id) WHEN 'text' THEN NEW.repository_id || '' ELSE NEW.repository_id END,
           'branch', CASE typeof(NEW.branch) WHEN 'text' THEN NEW.branch || '' ELSE NEW.branch END,
           'commit_sha', CASE typeof(NEW.commit_sha) WHEN 'text' THEN NEW.commit_sha || '' ELSE NEW.commit_sha END,
           'status', CASE typeof(NEW.status) WHEN 'text' THEN NEW.status || '' ELSE NEW.status END,
           'started_at', CASE typeof(NEW.started_at) WHEN 'text' THEN NEW.started_at || '' ELSE NEW.started_at END,
           'finished_at', CASE typeof(NEW.finished_at) WHEN 'text' THEN NEW.finished_at || '' ELSE NEW.finished_at END,
           'tool_versions_json', CASE typeof(NEW.tool_versions_json) WHEN 'text' THEN NEW.tool_versions_json || '' ELSE NEW.tool_versions_json END,
           'meta_json', CASE typeof(NEW.meta_json) WHEN 'text' THEN NEW.meta_json || '' ELSE NEW.meta_json END),
         'ci-completion-run');
END;

CREATE TRIGGER IF NOT EXISTS ci_completion_run_guard_update
BEFORE UPDATE ON ci_completion_run
BEGIN
  SELECT telem_assert_valid(json_object(
           'run_id', CASE typeof(NEW.run_id) WHEN 'text' THEN NEW.run_id || '' ELSE NEW.run_id END,
           'repository_id', CASE typeof(NEW.repository_id) WHEN 'text' THEN NEW.repository_id || '' ELSE NEW.repository_id END,
           'branch', CASE typeof(NEW.branch) WHEN 'text' THEN NEW.branch || '' ELSE NEW.branch END,
           'commit_sha', CASE typeof(NEW.commit_sha) WHEN 'text' THEN NEW.commit_sha || '' ELSE NEW.commit_sha END,
           'status', CASE typeof(NEW.status) WHEN 'text' THEN NEW.status || '' ELSE NEW.status END,
           'started_at', CASE typeof(NEW.started_at) WHEN 'text' THEN NEW.started_at || '' ELSE NEW.started_at END,
           'finished_at', CASE typeof(NEW.finished_at) WHEN 'text' THEN NEW.finished_at || '' ELSE NEW.finished_at END,
           'tool_versions_json', CASE typeof(NEW.tool_versions_json) WHEN 'text' THEN NEW.tool_versions_json || '' ELSE NEW.tool_versions_json END,
           'meta_json', CASE typeof(NEW.meta_json) WHEN 'text' THEN NEW.meta_json || '' ELSE NEW.meta_json END),
         'ci-completion-run');
END;

CREATE TRIGGER IF NOT EXISTS ci_completion_finding_guard_insert
BEFORE INSERT ON ci_completion_finding
BEGIN
  SELECT telem_assert_valid(json_object(
           'run_id', CASE typeof(NEW.run_id) WHEN 'text' THEN NEW.run_id || '' ELSE NEW.run_id END,
           'detector_id', CASE typeof(NEW.detector_id) WHEN 'text' THEN NEW.detector_id || '' ELSE NEW.detector_id END,
           'severity', CASE typeof(NEW.severity) WHEN 'text' THEN NEW.severity || '' ELSE NEW.severity END,
           'file_path', CASE typeof(NEW.file_path) WHEN 'text' THEN NEW.file_path || '' ELSE NEW.file_path END,
           'line', CASE typeof(NEW.line) WHEN 'text' THEN NEW.line || '' ELSE NEW.line END,
           'symbol', CASE typeof(NEW.symbol) WHEN 'text' THEN NEW.symbol || '' ELSE NEW.symbol END,
           'fingerprint', CASE typeof(NEW.fingerprint) WHEN 'text' THEN NEW.fingerprint || '' ELSE NEW.fingerprint END,
           'message', CASE typeof(NEW.message) WHEN 'text' THEN NEW.message || '' ELSE NEW.message END,
           'meta_json', CASE typeof(NEW.meta_json) WHEN 'text' THEN NEW.meta_json || '' ELSE NEW.meta_json END,
           'created_at', CASE typeof(NEW.created_at) WHEN 'text' THEN NEW.created_at || '' ELSE NEW.created_at END),
         'ci-completion-finding');
END;

CREATE TRIGGER IF NOT EXISTS ci_completion_finding_guard_update
BEFORE UPDATE ON ci_completion_finding
BEGIN
  SELECT telem_assert_valid(json_object(
           'run_id', CASE typeof(NEW.run_id) WHEN 'text' THEN NEW.run_id || '' ELSE NEW.run_id END,
           'detector_id', CASE typeof(NEW.detector_id) WHEN 'text' THEN NEW.detector_id || '' ELSE NEW.detector_id END,
           'severity', CASE typeof(NEW.severity) WHEN 'text' THEN NEW.severity || '' ELSE NEW.severity END,
           'file_path', CASE typeof(NEW.file_path) WHEN 'text' THEN NEW.file_path || '' ELSE NEW.file_path END,
           'line', CASE typeof(NEW.line) WHEN 'text' THEN NEW.line || '' ELSE NEW.line END,
           'symbol', CASE typeof(NEW.symbol) WHEN 'text' THEN NEW.symbol || '' ELSE NEW.symbol END,
           'fingerprint', CASE typeof(NEW.fingerprint) WHEN 'text' THEN NEW.fingerprint || '' ELSE NEW.fingerprint END,
           'message', CASE typeof(NEW.message) WHEN 'text' THEN NEW.message || '' ELSE NEW.message END,
           'meta_json', CASE typeof(NEW.meta_json) WHEN 'text' THEN NEW.meta_json || '' ELSE NEW.meta_json END,
           'created_at', CASE typeof(NEW.created_at) WHEN 'text' THEN NEW.created_at || '' ELSE NEW.created_at END),
         'ci-completion-finding');
END;

CREATE TRIGGER IF NOT EXISTS ci_completion_detector_snapshot_guard_insert
BEFORE INSERT ON ci_completion_detector_snapshot
BEGIN
  SELECT telem_assert_valid(json_object(
           'run_id', CASE typeof(NEW.run_id) WHEN 'text' THEN NEW.run_id || '' ELSE NEW.run_id END,
           'detector_id', CASE typeof(NEW.detector_id) WHEN 'text' THEN NEW.detector_id || '' ELSE NEW.detector_id END,
           'detector_version', CASE typeof(NEW.detector_version) WHEN 'text' THEN NEW.detector_version || '' ELSE NEW.detector_version END,
           'findings_count', CASE typeof(NEW.findings_count) WHEN 'text' THEN NEW.findings_count || '' ELSE NEW.findings_count END,
           'duration_ms', CASE typeof(NEW.duration_ms) WHEN 'text' THEN NEW.duration_ms || '' ELSE NEW.duration_ms END,
           'tool_versions_json', CASE typeof(NEW.tool_versions_json) WHEN 'text' THEN NEW.tool_versions_json || '' ELSE NEW.tool_versions_json END,
           'created_at', CASE typeof(NEW.created_at) WHEN 'text' THEN NEW.created_at || '' ELSE NEW.created_at END),
         'ci-completion-detector-snapshot');
END;

CREATE TRIGGER IF NOT EXISTS ci_completion_detector_snapshot_guard_update
BEFORE UPDATE ON ci_completion_detector_snapshot
BEGIN
  SELECT telem_assert_valid(json_object(
           'run_id', CASE typeof(NEW.run_id) WHEN 'text' THEN NEW.run_id || '' ELSE NEW.run_id END,
           'detector_id', CASE typeof(NEW.detector_id) WHEN 'text' THEN NEW.detector_id || '' ELSE NEW.detector_id END,
           'detector_version', CASE typeof(NEW.detector_version) WHEN 'text' THEN NEW.detector_version || '' ELSE NEW.detector_version END,
           'findings_count', CASE typeof(NEW.findings_count) WHEN 'text' THEN NEW.findings_count || '' ELSE NEW.findings_count END,
           'duration_ms', CASE typeof(NEW.duration_ms) WHEN 'text' THEN NEW.duration_ms || '' ELSE NEW.duration_ms END,
           'tool_versions_json', CASE typeof(NEW.tool_versions_json) WHEN 'text' THEN NEW.tool_versions_json || '' ELSE NEW.tool_versions_json END,
           'created_at', CASE typeof(NEW.created_at) WHEN 'text' THEN NEW.created_at || '' ELSE NEW.created_at END),
         'ci-completion-detector-snapshot');
END;

CREATE TRIGGER IF NOT EXISTS ci_completion_suppression_guard_insert
BEFORE INSERT ON ci_completion_suppression
BEGIN
  SELECT telem_assert_valid(json_object(
           'repository_id', CASE typeof(NEW.repository_id) WHEN 'text' THEN NEW.repository_id || '' ELSE NEW.repository_id END,
           'fingerprint', CASE typeof(NEW.fingerprint) WHEN 'text' THEN NEW.fingerprint || '' ELSE NEW.fingerprint END,
           'detector_id', CASE typeof(NEW.detector_id) WHEN 'text' THEN NEW.detector_id || '' ELSE NEW.detector_id END,
           'reason', CASE typeof(NEW.reason) WHEN 'text' THEN NEW.reason || '' ELSE NEW.reason END,
           'created_by', CASE typeof(NEW.created_by) WHEN 'text' THEN NEW.created_by || '' ELSE NEW.created_by END,
           'created_at', CASE typeof(NEW.created_at) WHEN 'text' THEN NEW.created_at || '' ELSE NEW.created_at END,
           'expires_at', CASE typeof(NEW.expires_at) WHEN 'text' THEN NEW.expires_at || '' ELSE NEW.expires_at END),
         'ci-completion-suppression');
END;

CREATE TRIGGER IF NOT EXISTS ci_completion_suppression_guard_update
BEFORE UPDATE ON ci_completion_suppression
BEGIN
  SELECT telem_assert_valid(json_object(
           'repository_id', CASE typeof(NEW.repository_id) WHEN 'text' THEN NEW.repository_id || '' ELSE NEW.repository_id END,
           'fingerprint', CASE typeof(NEW.fingerprint) WHEN 'text' THEN NEW.fingerprint || '' ELSE NEW.fingerprint END,
           'detector_id', CASE typeof(NEW.detector_id) WHEN 'text' THEN NEW.detector_id || '' ELSE NEW.detector_id END,
           'reason', CASE typeof(NEW.reason) WHEN 'text' THEN NEW.reason || '' ELSE NEW.reason END,
           'created_by', CASE typeof(NEW.created_by) WHEN 'text' THEN NEW.created_by || '' ELSE NEW.created_by END,
           'created_at', CASE typeof(NEW.created_at) WHEN 'text' THEN NEW.created_at || '' ELSE NEW.created_at END,
           'expires_at', CASE typeof(NEW.expires_at) WHEN 'text' THEN NEW.expires_at || '' ELSE NEW.expires_at END),
         'ci-completion-suppression');
END;
