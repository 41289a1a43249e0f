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
-- telem_classify per payload, with no sort (bench/scale_governance.sh prints
-- the ratio).  The aggregate telem_class_summary(metric_type, payload,
-- created_at, rowid) classifies each row with telem_classify's own code and
-- keeps count, min() and max() per (class, metric type) in a hash table;
-- it returns one JSON array, which json_each unpivots into the few groups.
-- The JSON holds the rowid of a row of each group and of the rows whose
-- created_at are the oldest and newest, and the view reads the values from
-- those rows, so every column keeps its stored type and bytes (a blob, or
-- text that is not UTF-8, would not survive JSON).  Earlier forms:
-- - grouping the table directly made SQLite's temp sort carry every
--   payload (26 s and 2.1 GB of temp disk on 5M rows);
-- - a MATERIALIZED CTE wrote every (class, type, created_at) row to a temp
--   table first;
-- - classifying in a co-routine and grouping by one key (class || type)
--   still sorted every row: about 2.2x the plain GROUP BY (ADR 0007).
-- metric_type is shown as text (a group is the metric type as text, as
-- `class || metric_type` would see it); metric_type is TEXT in Vox's schema.
--
-- A TEMP view, as in sql/audit.sql: reading this script writes nothing to
-- the database file, so nothing that calls a telem_ function is stored
-- where a writer that cannot load voxtelem (Vox writes through turso) would
-- have to parse or run it; the view reads main.research_metrics and lasts
-- as long as the connection.
DROP VIEW IF EXISTS temp.telem_governance_summary;
CREATE TEMP VIEW telem_governance_summary AS
SELECT effective_class, metric_type, telem_classify(metric_type) AS taxonomy_class,
       rows, oldest, newest
FROM (SELECT json_extract(g.value, '$.class') AS effective_class,
             CAST((SELECT r.metric_type FROM research_metrics AS r
                   WHERE r.rowid = json_extract(g.value, '$.id')) AS TEXT) AS metric_type,
             json_extract(g.value, '$.rows') AS rows,
             (SELECT r.created_at FROM research_metrics AS r
              WHERE r.rowid = json_extract(g.value, '$.oldest_id')) AS oldest,
             (SELECT r.created_at FROM research_metrics AS r
              WHERE r.rowid = json_extract(g.value, '$.newest_id')) AS newest
      FROM (SELECT telem_class_summary(metric_type, metadata_json, created_at, rowid) AS s
            FROM research_metrics) AS a,
           json_each(a.s) AS g)
ORDER BY 1 DESC, 2;
