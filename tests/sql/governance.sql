-- sql/governance.sql: telem_governance_summary counts stored rows per
-- effective class and metric type.
.mode list
.read sql/schema/research_metrics.sql
.read sql/governance.sql
INSERT INTO research_metrics(session_id, metric_type, metric_value, metadata_json, created_at) VALUES
  ('bench:repo-1', 'benchmark_event', 1, '{"duration_ms":3}', '2026-11-01 10:00:00'),
  ('bench:repo-1', 'benchmark_event', 2, NULL, '2026-11-02 10:00:00'),
  ('bench:repo-1', 'benchmark_event', 3, '{"rel_file":"src/a.rs"}', '2026-11-03 10:00:00'),
  ('bench:repo-1', 'benchmark_event', 4, '{"note":"ping bob@example.com"}', '2026-11-04 10:00:00'),
  ('mcp:tool-1', 'socrates_surface', NULL, '{"tool":"search","arguments_json":{"q":"x"}}', '2026-11-05T10:00:00Z'),
  ('mcp:tool-1', 'socrates_surface', NULL, '{"tool":"search","latency_ms":4}', '2026-11-06T10:00:00Z'),
  ('x:1', 'not.in.taxonomy', NULL, NULL, '2026-11-07 10:00:00');
SELECT 'governance:14', * FROM telem_governance_summary;
SELECT 'governance:15', effective_class, sum(rows) FROM telem_governance_summary GROUP BY 2 ORDER BY 2;
-- a metric type that is not ASCII, or only two characters, comes out
-- whole (it once shared a sort key with the class); the view is TEMP
INSERT INTO research_metrics(session_id, metric_type, metric_value, metadata_json, created_at) VALUES
  ('x:2', 'mé.trïque', NULL, '{"n":1}', '2026-11-08 10:00:00'),
  ('x:3', 'ab', NULL, NULL, '2026-11-09 10:00:00');
SELECT 'governance:21', effective_class, metric_type, taxonomy_class, rows FROM telem_governance_summary WHERE metric_type IN ('mé.trïque', 'ab');
SELECT 'governance:22', type, name FROM sqlite_temp_master WHERE name = 'telem_governance_summary' UNION ALL SELECT 'governance:22', type, name FROM sqlite_master WHERE name = 'telem_governance_summary';
