-- make demo: a demo database with synthetic telemetry, governed by voxtelem
-- on its embedded contracts.  Run from the repository root:
--   sqlite3 -batch build/demo.db < sql/demo.sql
.bail on
.load ./voxtelem
.read sql/schema/research_metrics.sql
.read sql/schema/ci_completion.sql
.read sql/demo_data.sql

.print '== voxtelem'
SELECT telem_version();

.mode box
.print ''
.print '== governed rows'
SELECT 'research_metrics' AS table_name, count(*) AS rows FROM research_metrics
UNION ALL SELECT 'ci_completion_run', count(*) FROM ci_completion_run
UNION ALL SELECT 'ci_completion_finding', count(*) FROM ci_completion_finding
UNION ALL SELECT 'ci_completion_detector_snapshot', count(*) FROM ci_completion_detector_snapshot
UNION ALL SELECT 'ci_completion_suppression', count(*) FROM ci_completion_suppression;

.print ''
.print '== contracts (telem_contracts)'
SELECT id, kind, path, source FROM telem_contracts ORDER BY kind, id;

.print ''
.print '== taxonomy: metric types per family and class (telem_taxonomy)'
SELECT family, sensitivity, count(*) AS metric_types, group_concat(metric_type, ', ') AS examples
FROM telem_taxonomy GROUP BY family, sensitivity ORDER BY sensitivity, family;

.print ''
.print '== stored rows per metric type, with the taxonomy class'
SELECT m.metric_type, t.sensitivity, t.plane, t.transmission, count(*) AS rows
FROM research_metrics m LEFT JOIN telem_taxonomy t ON t.metric_type = m.metric_type
GROUP BY m.metric_type ORDER BY t.sensitivity, m.metric_type;

.print ''
.print '== column classes of the governed tables (telem_column_class)'
SELECT p.name AS column_name,
       telem_column_class('ci_completion_finding', p.name) AS class
FROM pragma_table_info('ci_completion_finding') p;

.print ''
.print '== validation: every stored payload against its metric type contract (telem_metric_problem)'
SELECT m.metric_type, t.schema_id, count(*) AS rows,
       sum(telem_metric_problem(m.session_id, m.metric_type, m.metric_value, m.metadata_json) IS NULL) AS valid
FROM research_metrics m JOIN telem_taxonomy t USING (metric_type)
WHERE t.schema_id IS NOT NULL GROUP BY m.metric_type ORDER BY m.metric_type;

.print ''
.print '== audit: rows that break their contract or hold a secret (sql/audit.sql)'
.read sql/audit.sql
SELECT table_name, problem_kind, count(*) AS rows FROM telem_audit_rows GROUP BY 1, 2 ORDER BY 1, 2;
.print ''
.print '== a row Vox would refuse, and a payload that breaks its contract (telem_metric_problem)'
SELECT telem_metric_problem('route:repo-1', 'model_route_event', NULL, '{"tier":"strong"}') AS problem
UNION ALL
SELECT telem_metric_problem('syntaxk:repo-1', 'syntax_k_event', 1.0,
                            '{"name":"webir_json","fixture_id":"fx","details":{"schema_version":1}}');
.read sql/demo_redact.sql

.print ''
.print '== retention policy (telem_retention: the contracts file, until a database policy exists)'
SELECT table_name, kind, days, time_column, cascade_from, source FROM telem_retention ORDER BY table_name;

.print ''
.print '== what the policy would delete now (telem_prune_plan)'
SELECT table_name, kind, cutoff, eligible_rows, cascade_rows, status FROM telem_prune_plan ORDER BY table_name;

.print ''
.print '== prune it in short batches (telem_prune_apply), then the log of this run'
SELECT table_name, kind, rows_deleted, cascaded_rows, batches, status FROM telem_prune_apply();
SELECT 'research_metrics' AS table_name, count(*) AS rows_left FROM research_metrics
UNION ALL SELECT 'ci_completion_run', count(*) FROM ci_completion_run
UNION ALL SELECT 'ci_completion_finding', count(*) FROM ci_completion_finding
UNION ALL SELECT 'ci_completion_suppression', count(*) FROM ci_completion_suppression;
PRAGMA foreign_key_check;
