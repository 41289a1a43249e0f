-- Synthetic demo data: a few thousand realistic rows in every governed table,
-- spread over the last two years, with both ISO timestamp forms.  Used by
-- `make demo` (sql/demo.sql) and by tests that need a populated database.
-- Deterministic except for the dates, which are relative to now.
PRAGMA foreign_keys = ON;

CREATE TEMP TABLE demo_n AS
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000) SELECT i FROM n;

-- research_metrics: one row per i, metric type chosen round-robin.
CREATE TEMP TABLE demo_types(k INTEGER PRIMARY KEY, metric_type TEXT, prefix TEXT);
INSERT INTO demo_types(k, metric_type, prefix) VALUES
  (0, 'benchmark_event', 'bench:'), (1, 'syntax_k_event', 'syntaxk:'),
  (2, 'socrates_surface', 'mcp:'), (3, 'memory_hybrid_fusion', 'socrates:retrieval'),
  (4, 'workflow_journal_entry', 'workflow:'), (5, 'model_call_event', 'route:'),
  (6, 'orch.routing.tier', 'route:'), (7, 'orch.hitl.interrupt', 'route:'),
  (8, 'task.root_summary', 'orch:'), (9, 'build.summary', 'bench:'),
  (10, 'agent_exec_time', 'agent:'), (11, 'telemetry.error', 'telemetry:');

INSERT INTO research_metrics(session_id, metric_type, metric_value, metadata_json, created_at)
SELECT
  CASE t.k WHEN 3 THEN t.prefix ELSE t.prefix || 'repo-' || (n.i % 37) END,
  t.metric_type,
  CASE WHEN t.k IN (7, 8) THEN NULL ELSE round((n.i * 7919 % 100000) / 100.0, 2) END,
  CASE t.k
    WHEN 1 THEN json_object('event', CASE n.i % 3 WHEN 0 THEN 'parse' WHEN 1 THEN 'query' ELSE 'reparse' END,
                            'language', CASE n.i % 4 WHEN 0 THEN 'rust' WHEN 1 THEN 'python' WHEN 2 THEN 'c' ELSE 'typescript' END,
                            'file_ext', CASE n.i % 4 WHEN 0 THEN '.rs' WHEN 1 THEN '.py' WHEN 2 THEN '.c' ELSE '.ts' END,
                            'k', 1 + n.i % 8, 'duration_ms', (n.i % 500) / 10.0,
                            'node_count', n.i * 13 % 20000, 'error_count', n.i % 3,
                            'cache_hit', json(CASE n.i % 2 WHEN 0 THEN 'true' ELSE 'false' END))
    WHEN 2 THEN json_object('tool', 'search_code', 'latency_ms', n.i % 900, 'outcome', 'ok',
                            'arguments_json', json_object('query_text', 'how is retention applied', 'limit', 10))
    WHEN 3 THEN json_object('query_id', printf('q-%06d', n.i), 'bm25_weight', 0.4, 'vector_weight', 0.6,
                            'hits', n.i % 20, 'top_path', 'src/retention/prune.c')
    WHEN 4 THEN json_object('step', 'apply_patch', 'status', 'done', 'paths', json_array('ext/redact.c', 'docs/README.md'),
                            'branch', 'feature/retention-' || (n.i % 9))
    WHEN 5 THEN json_object('model', 'local-small-v2', 'prompt_tokens', n.i % 4000, 'completion_tokens', n.i % 800,
                            'latency_ms', n.i % 2500, 'outcome', 'ok')
    WHEN 6 THEN json_object('tier', CASE n.i % 3 WHEN 0 THEN 'fast' WHEN 1 THEN 'balanced' ELSE 'deep' END, 'reason', 'budget')
    WHEN 7 THEN json_object('envelope_version', 1,
                            'decision_id', lower(printf('%08x-%04x-4%03x-a%03x-%012x', n.i * 2654435761 % 4294967296, n.i % 65536, n.i % 4096, n.i % 4096, n.i * 40503)),
                            'trigger', 'risk_threshold', 'decision', CASE n.i % 2 WHEN 0 THEN 'approve' ELSE 'deny' END,
                            'risk_score', (n.i % 100) / 100.0, 'wait_ms', n.i % 30000, 'decided_by', 'user',
                            'decided_at', strftime('%Y-%m-%dT%H:%M:%SZ', 'now', printf('-%d minutes', n.i * 263)))
    WHEN 8 THEN json_object('trace_id', printf('%032x', n.i * 7919), 'span_id', printf('%016x', n.i * 104729),
                            'context_id', 'ctx-' || n.i, 'phase', CASE n.i % 2 WHEN 0 THEN 'created' ELSE 'compacted' END,
                            'tokens_before', 12000 + n.i % 5000, 'tokens_after', 4000 + n.i % 900)
    WHEN 11 THEN json_object('component', 'exporter', 'error_code', 'E_TIMEOUT', 'log',
                             CASE WHEN n.i % 10 = 3 THEN 'upload failed for user alice@example.com from 10.1.2.3' ELSE 'upload timed out' END)
    ELSE json_object('bucket_ms', (n.i % 10) * 100, 'version', '1.4.' || (n.i % 7), 'count', n.i % 50)
  END,
  CASE n.i % 2
    WHEN 0 THEN strftime('%Y-%m-%d %H:%M:%S', 'now', printf('-%d minutes', n.i * 263))
    ELSE strftime('%Y-%m-%dT%H:%M:%SZ', 'now', printf('-%d minutes', n.i * 263))
  END
FROM demo_n n JOIN demo_types t ON t.k = n.i % 12;

-- ci_completion_run: 1500 runs over two years.
INSERT INTO ci_completion_run(run_id, repository_id, branch, commit_sha, status, started_at, finished_at, tool_versions_json, meta_json)
SELECT printf('run-%05d', i), 'repo-' || (i % 11), CASE i % 4 WHEN 0 THEN 'main' ELSE 'feature/x-' || (i % 23) END,
       lower(printf('%08x%08x%08x%08x%08x', i * 2654435761 % 4294967296, i * 40503, i * 69069, i * 1103515245 % 4294967296, i)),
       CASE i % 9 WHEN 0 THEN 'failed' ELSE 'passed' END,
       strftime('%Y-%m-%dT%H:%M:%SZ', 'now', printf('-%d minutes', i * 701 + 12)),
       CASE WHEN i % 97 = 0 THEN NULL ELSE strftime('%Y-%m-%d %H:%M:%S', 'now', printf('-%d minutes', i * 701)) END,
       json_object('semgrep', '1.52.0', 'gitleaks', '8.18.1'), json_object('runner', 'ci-' || (i % 4), 'attempt', 1 + i % 2)
FROM demo_n WHERE i <= 1500;

-- ci_completion_finding: two per run.
INSERT INTO ci_completion_finding(run_id, detector_id, severity, file_path, line, symbol, fingerprint, message, meta_json, created_at)
SELECT r.run_id, CASE k.j WHEN 0 THEN 'secrets.generic' ELSE 'lint.unused' END,
       CASE (r.id + k.j) % 4 WHEN 0 THEN 'high' WHEN 1 THEN 'medium' WHEN 2 THEN 'low' ELSE 'info' END,
       'src/module_' || (r.id % 40) || '/file_' || k.j || '.rs', 1 + (r.id * 7 + k.j) % 400, 'fn_' || (r.id % 13),
       lower(printf('%08x%08x', r.id * 2654435761 % 4294967296, k.j * 40503 + r.id)), 'finding ' || k.j || ' of ' || r.run_id,
       json_object('rule', 'R' || k.j), r.started_at
FROM ci_completion_run r, (SELECT 0 AS j UNION ALL SELECT 1) k;

-- ci_completion_detector_snapshot: one per run.
INSERT INTO ci_completion_detector_snapshot(run_id, detector_id, detector_version, findings_count, duration_ms, tool_versions_json, created_at)
SELECT run_id, 'secrets.generic', '2.' || (id % 5), 1, 100 + id % 900, json_object('gitleaks', '8.18.1'), started_at
FROM ci_completion_run;

-- ci_completion_suppression: 600, a third standing (expires_at NULL).
INSERT INTO ci_completion_suppression(repository_id, fingerprint, detector_id, reason, created_by, created_at, expires_at)
SELECT 'repo-' || (i % 11), lower(printf('%08x%08x', i * 69069, i)), 'secrets.generic', 'false positive: test fixture',
       'dev' || (i % 7), strftime('%Y-%m-%d %H:%M:%S', 'now', printf('-%d days', i)),
       CASE i % 3 WHEN 0 THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%SZ', 'now', printf('%+d days', 300 - i)) END
FROM demo_n WHERE i <= 600;

DROP TABLE demo_n;
DROP TABLE demo_types;
