-- Retention on Vox's own policy file and table shapes (issue 12).
-- Outside truths: tests/data/vox/retention-policy.yaml is Vox's file as it
-- is, tests/data/vox/schema.sql Vox's DDL (origins noted in both).  Labelled vNN.
.headers off
.mode list
.read tests/data/vox/schema.sql
.read sql/schema/ci_completion.sql

-- v01-v03: Vox's file imports as it is: no rationale, no cascade rows
SELECT 'v01', rules FROM telem_policy_import('tests/data/vox/retention-policy.yaml');
SELECT 'v02', count(*), count(rationale), group_concat(DISTINCT kind) FROM telem_retention;
SELECT 'v03', table_name, kind, quote(days), quote(time_column) FROM telem_retention ORDER BY table_name;

-- data: research_metrics with shuffled timestamps (no index on created_at),
-- build runs with three kinds of children, CI runs with findings
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 400)
INSERT INTO research_metrics(session_id, metric_type, created_at)
SELECT 's', CASE n % 3 WHEN 0 THEN 'fixture.hole' ELSE 'syntax_k_event' END,
       datetime('2024-06-01', '+' || (((n * 7919) % 400) * 2) || ' days') FROM i;
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 50)
INSERT INTO build_run(id, repository_id, total_ms, recorded_at)
SELECT n, 'repo', 10, strftime('%Y-%m-%dT%H:%M:%SZ', '2024-06-01', '+' || (n * 13) || ' days') FROM i;
INSERT INTO build_crate_sample(run_id, name) SELECT id, 'a' FROM build_run UNION ALL SELECT id, 'b' FROM build_run;
INSERT INTO build_warning(run_id, crate_name, message) SELECT id, 'a', 'w' FROM build_run WHERE id % 2 = 0;
INSERT INTO build_run_dependency_shape(run_id, dependency_json) SELECT id, '{}' FROM build_run;
INSERT INTO ci_completion_run(id, repository_id, commit_sha, started_at, finished_at) VALUES
  (1, 'repo', 'old', '2024-01-01', '2024-01-01 00:10:00'), (2, 'repo', 'new', '2025-06-01', '2025-06-01T00:00:00Z');
INSERT INTO ci_completion_finding(run_id, detector_id, tier, severity, fingerprint) VALUES
  (1, 'd', 'B', 'low', 'f1'), (2, 'd', 'B', 'low', 'f2');
CREATE TABLE want AS
  SELECT 'build_run' AS t, count(*) AS n FROM build_run WHERE julianday(recorded_at) < julianday('2025-01-01')
  UNION ALL SELECT 'build_crate_sample', count(*) FROM build_crate_sample WHERE run_id IN (SELECT id FROM build_run WHERE julianday(recorded_at) < julianday('2025-01-01'))
  UNION ALL SELECT 'build_warning', count(*) FROM build_warning WHERE run_id IN (SELECT id FROM build_run WHERE julianday(recorded_at) < julianday('2025-01-01'))
  UNION ALL SELECT 'build_run_dependency_shape', count(*) FROM build_run_dependency_shape WHERE run_id IN (SELECT id FROM build_run WHERE julianday(recorded_at) < julianday('2025-01-01'))
  UNION ALL SELECT 'research_metrics', count(*) FROM research_metrics WHERE julianday(created_at) < julianday('2025-01-01');

-- v04-v06: the plan finds the ON DELETE CASCADE children from the schema,
-- shows them with their counts, and says research_metrics has no index
SELECT 'v04', table_name, p.kind, status, eligible_rows = coalesce((SELECT n FROM want WHERE t = table_name), eligible_rows),
       quote(cascade_rows), quote(note)
FROM telem_prune_plan('2026-01-01T00:00:00Z') p
WHERE status NOT IN ('missing_table')  ORDER BY table_name;
SELECT 'v05', cascade_rows = (SELECT sum(n) FROM want WHERE t LIKE 'build_%' AND t <> 'build_run')
FROM telem_prune_plan('2026-01-01T00:00:00Z') WHERE table_name = 'build_run';

-- v06-v08: applied with foreign_keys OFF: children go with their parents
PRAGMA foreign_keys = OFF;
SELECT 'v06', table_name, rows_deleted = (SELECT n FROM want WHERE t = table_name), status
FROM telem_prune_apply(NULL, NULL, '2026-01-01T00:00:00Z') WHERE table_name IN (SELECT t FROM want) ORDER BY table_name;
SELECT 'v07', (SELECT count(*) FROM build_crate_sample WHERE run_id NOT IN (SELECT id FROM build_run)),
              (SELECT count(*) FROM build_warning WHERE run_id NOT IN (SELECT id FROM build_run)),
              (SELECT count(*) FROM build_run_dependency_shape WHERE run_id NOT IN (SELECT id FROM build_run)),
              (SELECT count(*) FROM ci_completion_finding WHERE run_id NOT IN (SELECT run_id FROM ci_completion_run));
SELECT 'v08', (SELECT group_concat(commit_sha) FROM ci_completion_run), (SELECT group_concat(fingerprint) FROM ci_completion_finding);
PRAGMA foreign_key_check;

-- v09-v10: again with foreign_keys ON, after new old rows came in
INSERT INTO build_run(id, repository_id, total_ms, recorded_at) VALUES (900, 'repo', 1, '2020-01-01T00:00:00Z');
INSERT INTO build_crate_sample(run_id, name) VALUES (900, 'x'), (900, 'y');
PRAGMA foreign_keys = ON;
SELECT 'v09', table_name, rows_deleted FROM telem_prune_apply('build_run', NULL, '2026-01-01T00:00:00Z') ORDER BY table_name;
SELECT 'v10', (SELECT count(*) FROM build_crate_sample WHERE run_id = 900), (SELECT count(*) FROM build_run WHERE id = 900);

-- v11-v12: the export drops Vox's comments and rationale-less rules stay so;
-- it imports back to the same rules
SELECT 'v11', telem_policy_yaml() LIKE '%Comments of the file it was imported from are not kept%',
              instr(telem_policy_yaml(), 'rationale') = 0;
CREATE TABLE before AS SELECT table_name, kind, days, time_column, cascade_from FROM telem_retention;
SELECT 'v12', (SELECT rules FROM telem_policy_import(telem_policy_yaml())),
  (SELECT count(*) FROM (SELECT * FROM before EXCEPT SELECT table_name, kind, days, time_column, cascade_from FROM telem_retention));

-- v13: rows Vox's own text comparison (created_at < datetime(now, '-N day'))
-- decides differently from voxtelem's instant comparison: the documented
-- query of docs/architecture/retention-and-sensitivity.md
DELETE FROM research_metrics;
INSERT INTO research_metrics(session_id, metric_type, created_at) VALUES
  ('s', 'a', '2025-01-01 06:00:00'), ('s', 'b', '2025-01-01T06:00:00Z'), ('s', 'c', '2025-01-01T18:00:00Z'),
  ('s', 'd', '2025-01-01T13:00:00+02:00'), ('s', 'e', '2024-12-31 12:00:00');
SELECT 'v13', group_concat(metric_type || ':' || vox || '/' || voxtelem, ' ') FROM (
  SELECT metric_type, created_at < datetime('2026-01-01T12:00:00Z', '-365 day') AS vox,
         coalesce(julianday(created_at) < julianday('2026-01-01T12:00:00Z', '-365 day'), 0) AS voxtelem
  FROM research_metrics) WHERE vox <> voxtelem;
