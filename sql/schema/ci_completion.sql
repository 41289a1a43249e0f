-- Reference DDL for the CI completion audit tables.  Findings and detector
-- snapshots belong to a run and go with it (ON DELETE CASCADE); suppressions
-- stand alone and expire by expires_at (NULL = standing suppression).
CREATE TABLE IF NOT EXISTS ci_completion_run (
  id                 INTEGER PRIMARY KEY,
  run_id             TEXT NOT NULL UNIQUE,
  repository_id      TEXT NOT NULL,
  branch             TEXT,
  commit_sha         TEXT,
  status             TEXT NOT NULL,
  started_at         TEXT NOT NULL,
  finished_at        TEXT,
  tool_versions_json TEXT,
  meta_json          TEXT
);
CREATE INDEX IF NOT EXISTS ci_completion_run_finished_at ON ci_completion_run(finished_at);

CREATE TABLE IF NOT EXISTS ci_completion_finding (
  id          INTEGER PRIMARY KEY,
  run_id      TEXT NOT NULL REFERENCES ci_completion_run(run_id) ON DELETE CASCADE,
  detector_id TEXT NOT NULL,
  severity    TEXT NOT NULL,
  file_path   TEXT,
  line        INTEGER,
  symbol      TEXT,
  fingerprint TEXT NOT NULL,
  message     TEXT,
  meta_json   TEXT,
  created_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ci_completion_finding_run ON ci_completion_finding(run_id);
CREATE INDEX IF NOT EXISTS ci_completion_finding_created_at ON ci_completion_finding(created_at);

CREATE TABLE IF NOT EXISTS ci_completion_detector_snapshot (
  id                 INTEGER PRIMARY KEY,
  run_id             TEXT NOT NULL REFERENCES ci_completion_run(run_id) ON DELETE CASCADE,
  detector_id        TEXT NOT NULL,
  detector_version   TEXT,
  findings_count     INTEGER NOT NULL,
  duration_ms        INTEGER,
  tool_versions_json TEXT,
  created_at         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ci_completion_detector_snapshot_run ON ci_completion_detector_snapshot(run_id);

CREATE TABLE IF NOT EXISTS ci_completion_suppression (
  id            INTEGER PRIMARY KEY,
  repository_id TEXT NOT NULL,
  fingerprint   TEXT NOT NULL,
  detector_id   TEXT,
  reason        TEXT NOT NULL,
  created_by    TEXT,
  created_at    TEXT NOT NULL,
  expires_at    TEXT
);
CREATE INDEX IF NOT EXISTS ci_completion_suppression_expires_at ON ci_completion_suppression(expires_at);
