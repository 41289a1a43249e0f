-- Per-metric-type retention inside one table (issue 12, item 2): filtered
-- rules (metric_types globs, where column = value) beside a table's default
-- rule, how they compose, the plan, the batched prune in every strategy
-- (ranged, keyed, cascade children), the export round trip, bad filters.
-- Vox's contracts/telemetry/events.v1.yaml keeps its fixture.* metric types
-- 90 days while research_metrics keeps 365 (its retention_days); p01 is that
-- policy written in voxtelem's form.  Labelled pNN.
.headers off
.mode list
.read sql/schema/research_metrics.sql
.read sql/schema/ci_completion.sql

-- p01-p04: the list form imports; telem_retention shows one row per rule
-- with its canonical filter; the export round-trips
SELECT 'p01', rules FROM telem_policy_import('tables:
  research_metrics:
    - kind: days
      days: 365
      time_column: created_at
      rationale: the table default
    - metric_types: ["fixture.*"]
      kind: days
      days: 90
      time_column: created_at
      rationale: events.v1.yaml retention_days 90 for the fixture events
    - metric_types: ["audit.*", "audit.*"]
      kind: days
      days: 730
      time_column: created_at
    - metric_types: orch.subagent.dispatch
      where: {session_id: "it''s"}
      kind: keep_forever
');
SELECT 'p02', table_name, kind, quote(days), quote(filter), quote(rationale) FROM telem_retention ORDER BY rowid;
CREATE TEMP TABLE y1 AS SELECT telem_policy_yaml() AS y;
SELECT 'p03', rules FROM telem_policy_import((SELECT y FROM y1));
SELECT 'p04', (SELECT y FROM y1) = telem_policy_yaml(), count(*) FROM telem_retention;
SELECT 'p04b', telem_policy_yaml();

-- data: 1,000 rows, timestamps shuffled against the rowid (no index on
-- created_at: ranged batches), one to 999 days before 2026-01-01
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 1000)
INSERT INTO research_metrics(session_id, metric_type, metric_value, created_at)
SELECT CASE WHEN n % 10 = 0 THEN 'it''s' ELSE 's' END,
       CASE n % 5 WHEN 0 THEN 'fixture.model.intent_resolved' WHEN 1 THEN 'fixture.hole.observed'
                  WHEN 2 THEN 'audit.trail' WHEN 3 THEN 'orch.subagent.dispatch' ELSE 'research_started' END,
       n % 7, datetime('2026-01-01', '-' || ((n * 7919) % 999 + 1) || ' days') FROM i;
-- what each row should do at 2026-01-01: the rule that governs it, by hand
CREATE TEMP TABLE want AS SELECT id,
  CASE WHEN metric_type GLOB 'orch.subagent.dispatch' AND session_id = 'it''s' THEN 0
       WHEN metric_type GLOB 'fixture.*' THEN julianday(created_at) < julianday('2026-01-01', '-90 days')
       WHEN metric_type GLOB 'audit.*' THEN julianday(created_at) < julianday('2026-01-01', '-730 days')
       ELSE julianday(created_at) < julianday('2026-01-01', '-365 days') END AS goes
FROM research_metrics;

-- p05-p06: the plan has a row per rule with its own counts and filter;
-- the counts are the hand-computed ones
SELECT 'p05', kind, quote(days), cutoff, eligible_rows, status, quote(filter), quote(note) FROM telem_prune_plan('2026-01-01T00:00:00Z') WHERE table_name = 'research_metrics';
SELECT 'p06', (SELECT sum(eligible_rows) FROM telem_prune_plan('2026-01-01T00:00:00Z') WHERE table_name = 'research_metrics') = (SELECT sum(goes) FROM want);
-- p07: the values are bound, never in the SQL
SELECT 'p07', count(*) FROM telem_prune_plan('2026-01-01T00:00:00Z') WHERE delete_sql LIKE '%fixture%' OR delete_sql LIKE '%it''''s%';
SELECT 'p07b', delete_sql FROM telem_prune_plan('2026-01-01T00:00:00Z') WHERE table_name = 'research_metrics' AND days = 90;

-- p08-p10: the prune (ranged, small batches) deletes exactly those rows:
-- the default rule keeps what a longer per-type rule keeps (audit.*, 730
-- days) and the rows of a keep_forever filter, and a per-type rule never
-- touches rows outside its filter (NULL metric_type: the default's)
SELECT 'p08', rows_deleted, batches > 1, status FROM telem_prune_apply('research_metrics', 50, '2026-01-01T00:00:00Z') ORDER BY cutoff;
SELECT 'p09', count(*) FROM want WHERE goes = 1 AND id IN (SELECT id FROM research_metrics);
SELECT 'p10', count(*) FROM want WHERE goes = 0 AND id NOT IN (SELECT id FROM research_metrics);

-- p11-p13: keyed batches (an index on created_at, rows written in time
-- order): the same answer
DELETE FROM research_metrics;
DROP TABLE want;
CREATE INDEX rm_created ON research_metrics(created_at);
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 1000)
INSERT INTO research_metrics(session_id, metric_type, created_at)
SELECT CASE WHEN n % 10 = 0 THEN 'it''s' ELSE 's' END,
       CASE n % 5 WHEN 0 THEN 'fixture.model.intent_resolved' WHEN 1 THEN 'fixture.hole.observed'
                  WHEN 2 THEN 'audit.trail' WHEN 3 THEN 'orch.subagent.dispatch' ELSE 'research_started' END,
       strftime('%Y-%m-%dT%H:%M:%SZ', '2023-04-01', '+' || n || ' days') FROM i;
CREATE TEMP TABLE want AS SELECT id,
  CASE WHEN metric_type GLOB 'orch.subagent.dispatch' AND session_id = 'it''s' THEN 0
       WHEN metric_type GLOB 'fixture.*' THEN julianday(created_at) < julianday('2026-01-01', '-90 days')
       WHEN metric_type GLOB 'audit.*' THEN julianday(created_at) < julianday('2026-01-01', '-730 days')
       ELSE julianday(created_at) < julianday('2026-01-01', '-365 days') END AS goes
FROM research_metrics;
SELECT 'p11', count(*) FROM telem_prune_plan('2026-01-01T00:00:00Z') WHERE table_name = 'research_metrics' AND note LIKE '%no index%';
SELECT 'p12', sum(rows_deleted) = (SELECT sum(goes) FROM want) FROM telem_prune_apply('research_metrics', 20, '2026-01-01T00:00:00Z');
SELECT 'p13', (SELECT count(*) FROM want WHERE goes = 1 AND id IN (SELECT id FROM research_metrics)),
              (SELECT count(*) FROM want WHERE goes = 0 AND id NOT IN (SELECT id FROM research_metrics));

-- p14-p16: overlapping filters: a row two filters match goes only when
-- both let it go (the longer wins, either way round), and a keep_forever
-- filter keeps its rows from every other rule
DELETE FROM research_metrics;
INSERT INTO research_metrics(session_id, metric_type, created_at) VALUES
  ('s', 'fixture.hole.observed', '2025-11-01 00:00:00'),  -- 61 days: both keep
  ('s', 'fixture.hole.observed', '2025-09-01 00:00:00'),  -- 122 days: 30 and 90 let go
  ('s', 'fixture.prompt.dispatch', '2025-11-20 00:00:00'), -- 42 days: only fixture.* matches, keeps
  ('s', 'fixture.prompt.dispatch', '2025-09-20 00:00:00'), -- 103 days: goes
  ('s', 'fixture.search.dispatch', '2020-01-01 00:00:00'), -- kept forever
  ('s', 'other', '2025-09-01 00:00:00');                   -- the default's (365): kept
SELECT 'p14', rules FROM telem_policy_import('tables:
  research_metrics:
    - {kind: days, days: 365, time_column: created_at}
    - {metric_types: ["fixture.*"], kind: days, days: 90, time_column: created_at}
    - {metric_types: ["fixture.hole.*"], kind: days, days: 30, time_column: created_at}
    - {metric_types: ["*.search.*"], kind: keep_forever}
');
SELECT 'p15', quote(filter), eligible_rows, status FROM telem_prune_plan('2026-01-01T00:00:00Z') ORDER BY filter;
SELECT 'p16', sum(rows_deleted) FROM telem_prune_apply(NULL, NULL, '2026-01-01T00:00:00Z');
SELECT 'p16b', metric_type, created_at FROM research_metrics ORDER BY id;

-- p17-p21: cascade children go only with the rows of the rule that
-- deletes their parent (ranged batches, foreign_keys off and on); the plan
-- counts each rule's children
INSERT INTO ci_completion_run(id, repository_id, run_kind, commit_sha, started_at, finished_at) VALUES
  (1, 'r', 'pr', 'a', '2025-10-01', '2025-10-01T00:00:00Z'),     -- pr, 92 days: goes (30)
  (2, 'r', 'audit', 'b', '2025-10-01', '2025-10-01T00:00:00Z'),  -- audit, 92 days: stays (365)
  (3, 'r', 'audit', 'c', '2024-10-01', '2024-10-01T00:00:00Z'),  -- audit, 457 days: goes
  (4, 'r', 'pr', 'd', '2025-12-20', '2025-12-20T00:00:00Z'),     -- pr, 12 days: stays
  (5, 'r', 'nightly', 'e', '2020-10-01', '2020-10-01T00:00:00Z'); -- kept forever
INSERT INTO ci_completion_finding(run_id, detector_id, tier, severity, fingerprint)
  SELECT id, 'd', 'B', 'low', 'f' || id || '-' || k FROM ci_completion_run, (SELECT 1 AS k UNION ALL SELECT 2);
INSERT INTO ci_completion_detector_snapshot(run_id, detector_id, tier) SELECT id, 'd', 'B' FROM ci_completion_run;
SELECT 'p17', rules FROM telem_policy_import('tables:
  ci_completion_run:
    - {kind: days, days: 365, time_column: finished_at}
    - {where: {run_kind: pr}, kind: days, days: 30, time_column: finished_at}
    - {where: {run_kind: nightly}, kind: manual}
');
SELECT 'p18', table_name, kind, quote(filter), eligible_rows, quote(cascade_rows), status FROM telem_prune_plan('2026-01-01T00:00:00Z') ORDER BY table_name, filter;
PRAGMA foreign_keys = OFF;
SELECT 'p19', table_name, rows_deleted, cascaded_rows, status FROM telem_prune_apply('ci_completion_run', 1, '2026-01-01T00:00:00Z') ORDER BY cutoff, table_name;
SELECT 'p20', group_concat(id) FROM (SELECT id FROM ci_completion_run ORDER BY id);
SELECT 'p21', (SELECT group_concat(DISTINCT run_id) FROM ci_completion_finding), (SELECT group_concat(run_id) FROM ci_completion_detector_snapshot);
PRAGMA foreign_keys = ON;

-- p22-p24: a filter column the table lacks: every rule of the table is
-- missing_column (none could tell its rows from the others'), nothing goes
SELECT 'p22', rules FROM telem_policy_import('tables:
  research_metrics:
    - {kind: days, days: 1, time_column: created_at}
    - {where: {no_such_column: x}, kind: days, days: 1, time_column: created_at}
');
SELECT 'p23', status, quote(note) FROM telem_prune_plan('2026-01-01T00:00:00Z') ORDER BY filter;
SELECT 'p24', sum(rows_deleted), (SELECT count(*) FROM research_metrics) FROM telem_prune_apply(NULL, NULL, '2026-01-01T00:00:00Z');

-- p25-p27: hostile values are only ever values: a quote, SQL, a GLOB
-- metacharacter in a where value match nothing and delete nothing
INSERT INTO research_metrics(session_id, metric_type, created_at) VALUES ('x'' OR 1=1 --', 'm', '2001-01-01 00:00:00');
SELECT 'p25', rules FROM telem_policy_import('tables:
  research_metrics:
    - {where: {session_id: "s'' OR ''1''=''1"}, kind: days, days: 1, time_column: created_at}
    - {where: {session_id: "[s]*"}, kind: days, days: 1, time_column: created_at}
    - {where: {session_id: "x'' OR 1=1 --"}, kind: days, days: 1, time_column: created_at}
');
SELECT 'p26', quote(filter), eligible_rows FROM telem_prune_plan('2026-01-01T00:00:00Z') ORDER BY filter;
SELECT 'p27', sum(rows_deleted), (SELECT count(*) FROM research_metrics) FROM telem_prune_apply(NULL, NULL, '2026-01-01T00:00:00Z');

-- p28-p40: bad filters are errors that name the function, the table and
-- the field, and change nothing
SELECT 'p28', rules FROM telem_policy_import('tables:
  research_metrics:
    - {metric_types: [""], kind: manual}
');
SELECT 'p29', rules FROM telem_policy_import('tables:
  research_metrics:
    - {metric_types: ["*"], kind: manual}
');
SELECT 'p30', rules FROM telem_policy_import('tables:
  research_metrics:
    - {metric_types: ["fixture.[a]*"], kind: manual}
');
SELECT 'p31', rules FROM telem_policy_import('tables:
  research_metrics:
    - {metric_types: [], kind: manual}
');
SELECT 'p32', rules FROM telem_policy_import('tables:
  research_metrics:
    - {where: {"a\"b": x}, kind: manual}
');
SELECT 'p33', rules FROM telem_policy_import('tables:
  research_metrics:
    - {where: {"session_id; DROP TABLE research_metrics": x}, kind: manual}
');
SELECT 'p34', rules FROM telem_policy_import('tables:
  research_metrics:
    - {where: {session_id: "a\tb"}, kind: manual}
');
SELECT 'p35', rules FROM telem_policy_import('tables:
  research_metrics:
    - {where: {session_id: [a, b]}, kind: manual}
');
SELECT 'p36', rules FROM telem_policy_import('tables:
  research_metrics:
    - {metric_types: ["a.*"], kind: manual}
    - {metric_types: ["a.*"], kind: keep_forever}
');
SELECT 'p37', rules FROM telem_policy_import('tables:
  ci_completion_run: {kind: days, days: 1, time_column: finished_at}
  ci_completion_finding: {kind: cascade, cascade_from: ci_completion_run, metric_types: ["a*"]}
');
SELECT 'p38', rules FROM telem_policy_import('tables:
  research_metrics:
    - {kind: days, days: 1, time_column: created_at}
    - {kind: days, days: 2, time_column: created_at}
');
SELECT 'p39', rules FROM telem_policy_import('tables:
  research_metrics: []
');
SELECT 'p40', rules FROM telem_policy_import('tables:
  research_metrics:
    - {where: {}, kind: manual}
');
SELECT 'p40b', count(*), group_concat(quote(filter)) FROM telem_retention;

-- p41-p47: writes through telem_retention: the filter is JSON text in the
-- YAML's field names, validated and stored canonical; bad JSON, unknown
-- keys, duplicates are errors
INSERT INTO telem_retention(table_name, kind, days, time_column, filter) VALUES
  ('research_metrics', 'days', 30, 'created_at', '{"where": {"session_id": "s"}, "metric_types": ["b.*", "a.*"]}');
SELECT 'p41', quote(filter) FROM telem_retention WHERE table_name = 'research_metrics' ORDER BY filter;
INSERT INTO telem_retention(table_name, kind, days, time_column, filter) VALUES
  ('research_metrics', 'days', 31, 'created_at', '{"metric_types":["a.*","b.*"],"where":{"session_id":"s"}}');
INSERT INTO telem_retention(table_name, kind, filter) VALUES ('research_metrics', 'manual', 'metric_type GLOB ''*''');
INSERT INTO telem_retention(table_name, kind, filter) VALUES ('research_metrics', 'manual', '{"sql": "1=1"}');
INSERT INTO telem_retention(table_name, kind, filter) VALUES ('research_metrics', 'manual', '{"metric_types": ["a.*"], "metric_types": ["b.*"]}');
UPDATE telem_retention SET filter = '{"metric_types": ["c.*"]}', days = 14 WHERE table_name = 'research_metrics' AND filter IS NOT NULL AND days = 30;
SELECT 'p42', quote(filter), days FROM telem_retention WHERE table_name = 'research_metrics' ORDER BY filter;
DELETE FROM telem_retention WHERE filter = '{"metric_types":["c.*"]}';
SELECT 'p43', count(*) FROM telem_retention WHERE table_name = 'research_metrics';

-- p44-p46: a policy table written before filters existed is still read,
-- and upgraded (rowids kept) on the first write
DROP TABLE telem_retention_policy;
CREATE TABLE telem_retention_policy(
  table_name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE, -- governed table
  kind TEXT NOT NULL,     -- days | ms_days | expires_lt_now | keep_forever | manual | cascade
  days INTEGER,           -- days and ms_days only
  time_column TEXT,       -- column compared with the cutoff
  cascade_from TEXT,      -- parent table of a cascade rule
  rationale TEXT NOT NULL -- why the data is kept that long
);
INSERT INTO telem_retention_policy VALUES ('research_metrics', 'days', 365, 'created_at', NULL, 'old');
SELECT 'p44', rowid, table_name, days, quote(filter), source FROM telem_retention;
INSERT INTO telem_retention(table_name, kind, days, time_column, filter) VALUES ('research_metrics', 'days', 90, 'created_at', '{"metric_types":["fixture.*"]}');
SELECT 'p45', rowid, table_name, days, quote(filter) FROM telem_retention ORDER BY rowid;
SELECT 'p46', sql LIKE '%PRIMARY KEY (table_name, filter)%' FROM sqlite_master WHERE name = 'telem_retention_policy';
SELECT 'p46b', count(*) FROM telem_retention_policy_v1;
-- p47: telem_policy_import upgrades an old table too
DROP TABLE telem_retention_policy;
DROP TABLE telem_retention_policy_v1;
CREATE TABLE telem_retention_policy(
  table_name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE, -- governed table
  kind TEXT NOT NULL,     -- days | ms_days | expires_lt_now | keep_forever | manual | cascade
  days INTEGER,           -- days and ms_days only
  time_column TEXT,       -- column compared with the cutoff
  cascade_from TEXT,      -- parent table of a cascade rule
  rationale TEXT NOT NULL -- why the data is kept that long
);
SELECT 'p47', rules FROM telem_policy_import('tables:
  research_metrics:
    - {kind: days, days: 365, time_column: created_at}
    - {metric_types: ["fixture.*"], kind: days, days: 90, time_column: created_at}
');
SELECT 'p47b', count(*), count(filter) FROM telem_retention;

-- p48-p50: ms_days with an index in time order (keyed batches, no range
-- bound below) and expires_lt_now, each with a filter beside a default
CREATE TABLE ev(id INTEGER PRIMARY KEY, metric_type TEXT, at_ms INTEGER, expires_at TEXT);
CREATE INDEX ev_at ON ev(at_ms);
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 300)
INSERT INTO ev(metric_type, at_ms) SELECT CASE n % 3 WHEN 0 THEN 'fixture.a' ELSE 'other' END,
  (unixepoch('2026-01-01') - (301 - n) * 86400) * 1000 FROM i;
CREATE TABLE tok(id INTEGER PRIMARY KEY, kind TEXT, expires_at TEXT);
INSERT INTO tok(kind, expires_at) VALUES ('short', '2025-06-01'), ('long', '2025-06-01'), ('short', '2027-01-01'), ('long', NULL);
SELECT 'p48', rules FROM telem_policy_import('tables:
  ev:
    - {kind: ms_days, days: 200, time_column: at_ms}
    - {metric_types: ["fixture.*"], kind: ms_days, days: 50, time_column: at_ms}
  tok:
    - {where: {kind: short}, kind: expires_lt_now, time_column: expires_at}
    - {kind: keep_forever}
');
SELECT 'p49', table_name, quote(filter), eligible_rows, status FROM telem_prune_plan('2026-01-01T00:00:00Z') ORDER BY table_name, filter;
SELECT 'p50', table_name, rows_deleted, status FROM telem_prune_apply(NULL, 7, '2026-01-01T00:00:00Z') ORDER BY table_name, cutoff;
SELECT 'p50b', (SELECT count(*) FROM ev WHERE metric_type = 'fixture.a'), (SELECT min(at_ms) FROM ev WHERE metric_type = 'fixture.a') >= (unixepoch('2026-01-01') - 50 * 86400) * 1000,
               (SELECT count(*) FROM ev WHERE metric_type = 'other'), (SELECT group_concat(id) FROM tok);

-- p51-p52: a child without an index on its key (its own pass over the
-- child before the parent's batches) goes with only the filtered parents
CREATE TABLE par(id INTEGER PRIMARY KEY, kind TEXT, at TEXT);
CREATE TABLE kid(id INTEGER PRIMARY KEY, par_id INTEGER REFERENCES par(id) ON DELETE CASCADE);
INSERT INTO par VALUES (1, 'a', '2020-01-01'), (2, 'b', '2020-01-01'), (3, 'a', '2025-12-30');
INSERT INTO kid(par_id) VALUES (1), (1), (2), (3);
SELECT 'p51', rules FROM telem_policy_import('tables:
  par:
    - {where: {kind: a}, kind: days, days: 30, time_column: at}
');
SELECT 'p51b', table_name, kind, eligible_rows, quote(cascade_rows), status FROM telem_prune_plan('2026-01-01T00:00:00Z') ORDER BY table_name;
SELECT 'p52', table_name, rows_deleted, cascaded_rows FROM telem_prune_apply('par', NULL, '2026-01-01T00:00:00Z') ORDER BY table_name;
SELECT 'p52b', (SELECT group_concat(id) FROM par), (SELECT group_concat(par_id) FROM kid);

-- p53-p55: Vox's own policy with events.v1.yaml's per-type retention
-- (tests/data/vox/retention-policy-per-type.yaml, derived; origin noted there)
-- imports, and Vox's file as it is still does
SELECT 'p53', rules FROM telem_policy_import('tests/data/vox/retention-policy-per-type.yaml');
SELECT 'p54', table_name, kind, days, quote(filter) FROM telem_retention WHERE table_name = 'research_metrics' ORDER BY filter;
SELECT 'p55', rules FROM telem_policy_import('tests/data/vox/retention-policy.yaml');
SELECT 'p55b', count(*), count(filter) FROM telem_retention;
