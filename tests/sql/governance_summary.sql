-- telem_class_summary and the view built on it (sql/governance.sql): the
-- same rows and values as the GROUP BY formulation it replaced (ADR 0007),
-- on a table of every type in metric_type and created_at.
.mode list
.read sql/governance.sql
-- no NOT NULL here (Vox's schema has them): the view must hold on any data
CREATE TABLE research_metrics(id INTEGER PRIMARY KEY, session_id, metric_type, metric_value,
                              metadata_json, created_at);
-- the view before telem_class_summary, with `class || metric_type` as its key
CREATE TEMP VIEW old_summary AS
SELECT substr(k, 1, 2) AS effective_class, substr(k, 3) AS metric_type,
       telem_classify(substr(k, 3)) AS taxonomy_class, count(*) AS rows,
       min(created_at) AS oldest, max(created_at) AS newest
FROM (SELECT telem_classify(metric_type, metadata_json) || metric_type AS k, created_at
      FROM research_metrics LIMIT -1)
GROUP BY k ORDER BY 1 DESC, 2;
-- every value with its type, in the views' order
CREATE TEMP VIEW new_rows AS
SELECT group_concat(quote(effective_class) || ',' || quote(metric_type) || ',' || quote(taxonomy_class)
       || ',' || rows || ',' || typeof(oldest) || ':' || quote(oldest) || ',' || typeof(newest)
       || ':' || quote(newest), ' | ') AS all_rows, count(*) AS n
FROM telem_governance_summary;
CREATE TEMP VIEW old_rows AS
SELECT group_concat(quote(effective_class) || ',' || quote(metric_type) || ',' || quote(taxonomy_class)
       || ',' || rows || ',' || typeof(oldest) || ':' || quote(oldest) || ',' || typeof(newest)
       || ':' || quote(newest), ' | ') AS all_rows, count(*) AS n
FROM old_summary;
-- an empty table: no rows either way, and the aggregate says []
SELECT 'governance_summary:29', n, all_rows IS NULL FROM new_rows;
SELECT 'governance_summary:30', n FROM old_rows;
SELECT 'governance_summary:31', telem_class_summary(metric_type, metadata_json, created_at) FROM research_metrics;
INSERT INTO research_metrics(metric_type, metadata_json, created_at) VALUES
  ('benchmark_event', '{"duration_ms":3}', '2026-11-02 10:00:00'),
  ('benchmark_event', NULL, '2026-11-01 10:00:00'),
  ('benchmark_event', '{"rel_file":"src/a.rs"}', 'b'),
  ('benchmark_event', '{"rel_file":"src/b.rs"}', 'ab'),
  ('benchmark_event', '{"rel_file":"src/c.rs"}', 'a'),
  ('benchmark_event', '{"prompt":"hi"}', x'0000'),
  ('benchmark_event', '{"prompt":"ho"}', x'00'),
  ('benchmark_event', '{"prompt":"hu"}', x''),
  ('benchmark_event', '{"prompt":"hx"}', NULL),
  ('benchmark_event', 'not json', ''),
  (NULL, '{"n":1}', 7),
  (NULL, NULL, 'z'),
  (NULL, NULL, NULL),
  (5, NULL, 9223372036854775807),
  ('5', NULL, 9.223372036854775807e18),
  (x'35', NULL, -9223372036854775807),
  (1.5, NULL, 9007199254740993),
  ('1.5', NULL, 9007199254740992.0),
  (CAST(x'ff41' AS TEXT), NULL, CAST(x'c328' AS TEXT)),
  (CAST(x'ff41' AS TEXT), NULL, CAST(x'c3a9' AS TEXT)),
  (x'ff41', NULL, x'ff'),
  ('mé.trïque', NULL, 1e999),
  ('mé.trïque', NULL, -1e999),
  ('mé.trïque', NULL, 0.1),
  ('ab', NULL, -0.5),
  ('ab', NULL, -1),
  ('', NULL, 3),
  ('not.in.taxonomy', '{"prompt":"hi"}', NULL),
  ('not.in.taxonomy', NULL, NULL),
  -- equal values of two types: the first one seen stays, as in min()/max()
  ('ab', NULL, -1.0),
  ('', NULL, 3.0);
-- the same rows, values, types and order as the GROUP BY formulation
SELECT 'governance_summary:66', n.n, o.n, n.all_rows = o.all_rows FROM new_rows AS n, old_rows AS o;
SELECT 'governance_summary:67', effective_class, hex(metric_type), taxonomy_class, rows,
       typeof(oldest), CASE typeof(oldest) WHEN 'text' THEN hex(oldest) ELSE quote(oldest) END,
       typeof(newest), CASE typeof(newest) WHEN 'text' THEN hex(newest) ELSE quote(newest) END
FROM telem_governance_summary;
-- rows of random types, payloads of every class
WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 4000)
INSERT INTO research_metrics(metric_type, metadata_json, created_at)
SELECT CASE abs(random()) % 8 WHEN 0 THEN 'benchmark_event' WHEN 1 THEN 'socrates_surface'
         WHEN 2 THEN NULL WHEN 3 THEN 5 WHEN 4 THEN CAST(x'ff41' AS TEXT) WHEN 5 THEN 'model_call_event'
         WHEN 6 THEN 'no.such' ELSE 'ab' END,
       CASE abs(random()) % 6 WHEN 0 THEN '{"prompt":"x"}' WHEN 1 THEN '{"rel_file":"a"}'
         WHEN 2 THEN '{"n":1}' WHEN 3 THEN 'not json' WHEN 4 THEN '{"ip":"10.1.2.3"}' ELSE NULL END,
       CASE abs(random()) % 7 WHEN 0 THEN NULL WHEN 1 THEN random() % 1000
         WHEN 2 THEN random() % 1000 + 0.5 WHEN 3 THEN printf('%d', random() % 1000)
         WHEN 4 THEN randomblob(abs(random()) % 3) WHEN 5 THEN CAST(randomblob(2) AS TEXT)
         ELSE random() END
FROM r;
SELECT 'governance_summary:84', n.n > 10, n.n = o.n, n.all_rows = o.all_rows FROM new_rows AS n, old_rows AS o;
SELECT 'governance_summary:85', sum(rows) FROM telem_governance_summary;
-- the JSON the view reads: valid, one object per group; a blob time value
-- is its hex digits, a metric type that is not UTF-8 is repaired
SELECT 'governance_summary:88', json_valid(s), json_array_length(s) = (SELECT n FROM new_rows)
FROM (SELECT telem_class_summary(metric_type, metadata_json, created_at, id) AS s FROM research_metrics);
SELECT 'governance_summary:90', value FROM json_each((SELECT telem_class_summary(metric_type, metadata_json, created_at)
                             FROM research_metrics WHERE id IN (6, 7, 19, 20)));
-- the aggregate and telem_classify agree row by row
SELECT 'governance_summary:93', count(*), sum(telem_classify(metric_type, metadata_json) IS NOT
    (SELECT json_extract(telem_class_summary(a, b, 1), '$[0].class')
     FROM (SELECT m.metric_type AS a, m.metadata_json AS b)))
FROM research_metrics AS m;
-- an error mid-way aborts the statement (and frees the groups: check-asan)
SELECT 'governance_summary:98', telem_class_summary(metric_type, metadata_json,
                           CASE WHEN id = 2000 THEN abs(-9223372036854775808) ELSE created_at END)
FROM research_metrics;
-- interrupted mid-way by a progress handler: xFinal still runs and frees
.progress 100 --limit 50 --quiet
SELECT 'governance_summary:103', length(telem_class_summary(metric_type, metadata_json, created_at)) FROM research_metrics;
.progress off
-- the argument count, with rows and without
SELECT 'governance_summary:106', telem_class_summary(metric_type, metadata_json) FROM research_metrics;
SELECT 'governance_summary:107', telem_class_summary(metric_type, metadata_json) FROM research_metrics WHERE 0;
SELECT 'governance_summary:108', telem_class_summary(1, 2, 3, 4, 5);
