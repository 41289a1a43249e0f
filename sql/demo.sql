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
