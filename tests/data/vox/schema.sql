-- Derived from vox-foundation/vox at commit 3456cc901b4b44bed8a00966206950544b7999b2 (tables voxtelem prunes, as Vox
-- creates them): research_metrics from crates/vox-db/src/schema/domains/agents.rs
-- (no index on created_at), build_run and its children from
-- crates/vox-db/src/schema/domains/toestub_build.rs.
CREATE TABLE IF NOT EXISTS research_metrics (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    metric_type TEXT NOT NULL,
    metric_value REAL,
    metadata_json TEXT,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_research_metrics_session ON research_metrics(session_id, metric_type);
CREATE TABLE IF NOT EXISTS build_run (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    repository_id    TEXT    NOT NULL,
    run_name         TEXT,
    rustc_version    TEXT,
    profile          TEXT    NOT NULL DEFAULT 'dev',
    total_ms         INTEGER NOT NULL,
    crate_count      INTEGER NOT NULL DEFAULT 0,
    fresh_count      INTEGER NOT NULL DEFAULT 0,
    dep_fingerprint  TEXT,
    recorded_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);

CREATE TABLE IF NOT EXISTS build_crate_sample (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     INTEGER NOT NULL REFERENCES build_run(id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    version    TEXT,
    elapsed_ms INTEGER,
    fresh      INTEGER NOT NULL DEFAULT 0,
    features   TEXT
);

CREATE TABLE IF NOT EXISTS build_warning (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     INTEGER NOT NULL REFERENCES build_run(id) ON DELETE CASCADE,
    crate_name TEXT    NOT NULL,
    level      TEXT    NOT NULL DEFAULT 'warning',
    code       TEXT,
    message    TEXT    NOT NULL
);

CREATE TABLE IF NOT EXISTS build_run_dependency_shape (
    run_id           INTEGER PRIMARY KEY REFERENCES build_run(id) ON DELETE CASCADE,
    dependency_json  TEXT    NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_build_run_repo       ON build_run(repository_id, recorded_at);
CREATE INDEX IF NOT EXISTS idx_build_crate_run      ON build_crate_sample(run_id, name);
CREATE INDEX IF NOT EXISTS idx_build_warning_run    ON build_warning(run_id, crate_name);
CREATE INDEX IF NOT EXISTS idx_build_warning_code   ON build_warning(code);
