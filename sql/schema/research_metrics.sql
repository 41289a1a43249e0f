-- Reference DDL for research_metrics, the table voxtelem governs.
-- Contract: contracts/telemetry/research-metrics-row.schema.json; guards: sql/guards.sql;
-- column classes: contracts/db/column-sensitivity.yaml; retention: contracts/db/retention-policy.yaml.
CREATE TABLE IF NOT EXISTS research_metrics (
  id            INTEGER PRIMARY KEY,
  session_id    TEXT NOT NULL,   -- 1..512 UTF-8 characters, e.g. 'bench:repo-42'
  metric_type   TEXT NOT NULL,   -- 1..128 of [A-Za-z0-9_.:-], a taxonomy metric_type
  metric_value  REAL,            -- NULL means "no scalar", never 0
  metadata_json TEXT,            -- at most 256 KiB of JSON, valid against the type's schema
  created_at    TEXT NOT NULL    -- ISO-8601 UTC: 'YYYY-MM-DD HH:MM:SS' or 'YYYY-MM-DDTHH:MM:SSZ'
);
CREATE INDEX IF NOT EXISTS research_metrics_created_at ON research_metrics(created_at);
CREATE INDEX IF NOT EXISTS research_metrics_type ON research_metrics(metric_type);
