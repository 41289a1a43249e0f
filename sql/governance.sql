-- Governance views over the stored telemetry (needs `.load ./voxtelem`).
--   sqlite3 app.db -cmd '.load ./voxtelem' '.read sql/governance.sql' \
--     'SELECT * FROM telem_governance_summary'
--
-- telem_governance_summary: stored research_metrics rows per effective class
-- and metric type.  The effective class is telem_classify(metric_type,
-- metadata_json): the taxonomy's class raised by what the payload holds (S3
-- for content-bearing keys or secrets, S2 for paths, fingerprints, branches
-- and repo-scoped keys; an unknown metric type is S3).  `taxonomy_class` is
-- the class without the payload, so rows where the two differ are rows whose
-- payload holds more than their metric type promises.
--
-- Cost (issue 18): about the plain GROUP BY over the same rows plus one
-- telem_classify per payload (bench/scale_governance.sh prints the ratio).
-- Each row is classified once, in a subquery SQLite runs as a co-routine
-- (its LIMIT -1 keeps it from being flattened into the aggregate, and a
-- co-routine writes nothing to disk), and the GROUP BY sorts one short
-- key per row, the class followed by the metric type ('S1model_call_event'):
-- - grouping the table directly made SQLite's temp sort carry every
--   payload (26 s and 2.1 GB of temp disk on 5M rows);
-- - a MATERIALIZED CTE wrote every (class, type, created_at) row to a temp
--   table first (about 1.9x this view on 5M rows);
-- - two sort keys (class, metric_type) cost a slow record comparison for
--   every pair of rows whose first key is equal, which is nearly all of
--   them; one key compares as text.
-- The class is always two characters (S0..S3), so substr() splits the key
-- again; metric_type is TEXT in Vox's schema.
--
-- A TEMP view, as in sql/audit.sql: reading this script writes nothing to
-- the database file, so nothing that calls a telem_ function is stored
-- where a writer that cannot load voxtelem (Vox writes through turso) would
-- have to parse or run it; the view reads main.research_metrics and lasts
-- as long as the connection.
DROP VIEW IF EXISTS temp.telem_governance_summary;
CREATE TEMP VIEW telem_governance_summary AS
SELECT substr(k, 1, 2) AS effective_class,
       substr(k, 3) AS metric_type,
       telem_classify(substr(k, 3)) AS taxonomy_class,
       count(*) AS rows,
       min(created_at) AS oldest,
       max(created_at) AS newest
FROM (SELECT telem_classify(metric_type, metadata_json) || metric_type AS k, created_at
      FROM research_metrics
      LIMIT -1)
GROUP BY k
ORDER BY 1 DESC, 2;
