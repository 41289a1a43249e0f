-- Reference DDL for research_metrics as Vox creates it
-- (vox-foundation/vox, crates/vox-db/src/schema/domains/agents.rs, SCHEMA_AGENTS;
-- the index is idx_research_metrics_session of the same file).
-- Vox's writer (append_research_metric) inserts session_id, metric_type,
-- metric_value and metadata_json; created_at comes from the default.
-- Row contract: telem_metric_problem (ext/metric.c); column classes:
-- contracts/db/column-sensitivity.yaml; retention: contracts/db/retention-policy.yaml.
CREATE TABLE IF NOT EXISTS research_metrics (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,     -- non-empty, at most 512 bytes, e.g. 'bench:repo-42'
    metric_type TEXT NOT NULL,    -- 1..128 bytes of [A-Za-z0-9_.:-], see the taxonomy
    metric_value REAL,            -- NULL means "no scalar", never 0
    metadata_json TEXT,           -- at most 256 KiB; payload at the taxonomy's schema_pointer
    created_at TEXT NOT NULL DEFAULT (datetime('now'))  -- 'YYYY-MM-DD HH:MM:SS' UTC
);
CREATE INDEX IF NOT EXISTS idx_research_metrics_session ON research_metrics(session_id, metric_type);
