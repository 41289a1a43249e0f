-- Governance views over the stored telemetry (needs `.load ./voxtelem`).
--   sqlite3 app.db '.load ./voxtelem' '.read sql/governance.sql' \
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
-- The classes are computed in a materialized CTE, so the GROUP BY sorts
-- rows of (class, metric_type, created_at) and never carries metadata_json
-- (grouping the table directly made SQLite's temp sort carry every payload:
-- 26 s and 2.1 GB of temp disk on 5M rows, issue 18).
CREATE VIEW IF NOT EXISTS telem_governance_summary AS
WITH classified AS MATERIALIZED (
  SELECT telem_classify(metric_type, metadata_json) AS effective_class, metric_type, created_at
  FROM research_metrics
)
SELECT effective_class,
       metric_type,
       telem_classify(metric_type) AS taxonomy_class,
       count(*) AS rows,
       min(created_at) AS oldest,
       max(created_at) AS newest
FROM classified
GROUP BY 1, 2
ORDER BY 1 DESC, 2;
