-- Synthetic demo data: a few thousand realistic rows in every governed table,
-- spread over the last two years, with both ISO timestamp forms.  Used by
-- `make demo` (sql/demo.sql) and by tests that need a populated database.
-- Deterministic except for the dates, which are relative to now.
PRAGMA foreign_keys = ON;

CREATE TEMP TABLE demo_n AS
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000) SELECT i FROM n;

-- research_metrics: one row per i, shaped as Vox's producers write them
-- (session prefixes and metadata of crates/vox-db/src/*_telemetry.rs and
-- telemetry_sink.rs; see contracts/telemetry/taxonomy.yaml).  created_at is
-- set explicitly to spread the rows over two years (Vox leaves it to the
-- column default).
CREATE TEMP TABLE demo_types(k INTEGER PRIMARY KEY, metric_type TEXT, prefix TEXT);
INSERT INTO demo_types(k, metric_type, prefix) VALUES
  (0, 'benchmark_event', 'bench:'), (1, 'syntax_k_event', 'syntaxk:'),
  (2, 'socrates_surface', 'mcp:'), (3, 'memory_hybrid_fusion', 'socrates:retrieval'),
  (4, 'workflow_journal_entry', 'workflow:'), (5, 'model_call_event', 'model:'),
  (6, 'model_route_event', 'route:'), (7, 'orch.hitl.interrupt', 'route:'),
  (8, 'task.root_summary', 'task:'), (9, 'build.summary', 'build:'),
  (10, 'questioning_event', 'mcp:'), (11, 'telemetry.error', 'error:');

INSERT INTO research_metrics(session_id, metric_type, metric_value, metadata_json, created_at)
SELECT
  CASE t.k WHEN 3 THEN t.prefix
           WHEN 5 THEN t.prefix || (n.i * 31)
           WHEN 8 THEN t.prefix || (n.i * 31)
           WHEN 9 THEN t.prefix || 'ci-' || n.i
           WHEN 11 THEN t.prefix || 'llm.http'
           ELSE t.prefix || 'repo-' || (n.i % 37) END,
  t.metric_type,
  CASE WHEN t.k IN (7, 9, 11) THEN NULL ELSE round((n.i * 7919 % 100000) / 100.0, 2) END,
  CASE t.k
    WHEN 0 THEN json_object('name', 'vox_run_warm', 'repository_id', 'repo-' || (n.i % 37),
                            'metric_value_unit', 'seconds', 'details', json_object('lanes', n.i % 5, 'total_ms', n.i * 3))
    WHEN 1 THEN json_object('name', 'webir_json', 'repository_id', 'repo-' || (n.i % 37), 'fixture_id', 'fx-' || (n.i % 50),
                            'details', json_object('schema_version', 1, 'fixture_id', 'fx-' || (n.i % 50),
                              'target_kind', 'webir', 'raw_bytes', 1000 + n.i % 9000,
                              'compressor_results', json_array(json_object('name', 'zstd', 'profile', '19',
                                 'compressed_bytes', 300 + n.i % 700, 'ratio', 0.3)),
                              'k_est_bytes', 300 + n.i % 700,
                              'toolchain_fingerprint', json_object('compiler', 'voxc 0.9.' || (n.i % 4),
                                 'compressor_profiles', json_array('zstd-19'))))
    WHEN 2 THEN json_object('tool', 'search_code', 'latency_ms', n.i % 900, 'outcome', 'ok',
                            'arguments_json', json_object('query_text', 'how is retention applied', 'limit', 10))
    WHEN 3 THEN json_object('query_id', printf('q-%06d', n.i), 'bm25_weight', 0.4, 'vector_weight', 0.6,
                            'hits', n.i % 20, 'top_path', 'src/retention/prune.c')
    WHEN 4 THEN json_object('step', 'apply_patch', 'status', 'done', 'paths', json_array('ext/redact.c', 'docs/README.md'),
                            'branch', 'feature/retention-' || (n.i % 9))
    WHEN 5 THEN json_object('model', 'claude-opus-4-7', 'provider', 'anthropic', 'route_profile', 'strong',
                            'prompt_tokens', n.i % 4000, 'completion_tokens', n.i % 800,
                            'cache_read_input_tokens', NULL, 'cache_creation_input_tokens', NULL,
                            'latency_ms', n.i % 2500, 'cost_usd', (n.i % 100) / 1000.0, 'cost_source', 'provider_reported',
                            'error_class', NULL, 'retry_attempt', 0, 'task_id', n.i * 31, 'parent_task_id', NULL,
                            'trace_id', printf('%032x', n.i * 7919), 'caller_agent_id', NULL)
    WHEN 6 THEN json_object('trace_id', printf('%032x', n.i * 7919), 'route_policy_profile', 'balanced',
                            'tier', CASE n.i % 3 WHEN 0 THEN 'economy' WHEN 1 THEN 'standard' ELSE 'strong' END)
    WHEN 7 THEN json_object('metric_type', 'orch.hitl.interrupt', 'action', 'escalate', 'grade', 'high',
                            'action_description', 'drop table', 'session_id', NULL)
    WHEN 8 THEN json_object('task_id', n.i * 31, 'trace_id', printf('%032x', n.i * 7919), 'repository_id', 'repo-' || (n.i % 37),
                            'outcome', CASE n.i % 4 WHEN 0 THEN 'failed' ELSE 'completed' END, 'wall_time_ms', 0,
                            'total_input_tokens', 12000 + n.i % 5000, 'total_output_tokens', 4000 + n.i % 900,
                            'total_cost_usd', (n.i % 90) / 100.0, 'child_call_count', n.i % 12, 'max_span_depth', n.i % 4,
                            'subagent_fanout', n.i % 3)
    WHEN 9 THEN json_object('build_id', 'ci-' || n.i, 'outcome', 'success', 'wall_time_ms', 60000 + n.i % 9000,
                            'crates_compiled', 120, 'error_count', 0, 'invocation_context', 'ci')
    WHEN 10 THEN json_object('kind', 'clarification', 'asked', 1,
                             'note', CASE WHEN n.i % 10 = 3 THEN 'asked alice@example.com from 10.1.2.3' ELSE 'answered' END)
    WHEN 11 THEN json_object('subsystem', 'llm.http', 'error_class', 'rate-limited', 'http_status', 429,
                             'retry_attempt', n.i % 3, 'retried', json('true'), 'model', NULL, 'provider', 'anthropic',
                             'task_id', NULL, 'trace_id', NULL)
  END,
  CASE n.i % 2
    WHEN 0 THEN strftime('%Y-%m-%d %H:%M:%S', 'now', printf('-%d minutes', n.i * 263))
    ELSE strftime('%Y-%m-%dT%H:%M:%SZ', 'now', printf('-%d minutes', n.i * 263))
  END
FROM demo_n n JOIN demo_types t ON t.k = n.i % 12;

-- ci_completion_run: 1500 runs over two years (Vox's columns).
INSERT INTO ci_completion_run(id, repository_id, branch, commit_sha, workflow, run_kind, started_at, finished_at, tool_versions_json)
SELECT i, 'repo-' || (i % 11), CASE i % 4 WHEN 0 THEN 'main' ELSE 'feature/x-' || (i % 23) END,
       lower(printf('%08x%08x%08x%08x%08x', i * 2654435761 % 4294967296, i * 40503, i * 69069, i * 1103515245 % 4294967296, i)),
       CASE i % 3 WHEN 0 THEN 'local' ELSE 'ci' END, 'audit',
       strftime('%Y-%m-%dT%H:%M:%SZ', 'now', printf('-%d minutes', i * 701 + 12)),
       strftime('%Y-%m-%dT%H:%M:%SZ', 'now', printf('-%d minutes', i * 701)),
       json_object('semgrep', '1.52.0', 'gitleaks', '8.18.1')
FROM demo_n WHERE i <= 1500;

-- ci_completion_finding: two per run.
INSERT INTO ci_completion_finding(run_id, detector_id, tier, severity, confidence, file_path, symbol, line_start, line_end, fingerprint, meta_json)
SELECT r.id, CASE k.j WHEN 0 THEN 'secrets.generic' ELSE 'lint.unused' END,
       CASE k.j WHEN 0 THEN 'A' ELSE 'B' END,
       CASE (r.id + k.j) % 4 WHEN 0 THEN 'error' WHEN 1 THEN 'warning' WHEN 2 THEN 'warning' ELSE 'info' END,
       'high', 'src/module_' || (r.id % 40) || '/file_' || k.j || '.rs', 'fn_' || (r.id % 13),
       1 + (r.id * 7 + k.j) % 400, 2 + (r.id * 7 + k.j) % 400,
       lower(printf('%08x%08x', r.id * 2654435761 % 4294967296, k.j * 40503 + r.id)),
       json_object('rule', 'R' || k.j)
FROM ci_completion_run r, (SELECT 0 AS j UNION ALL SELECT 1) k;

-- ci_completion_detector_snapshot: one per run and detector.
INSERT INTO ci_completion_detector_snapshot(run_id, detector_id, tier, finding_count, new_count, resolved_count, precision_estimate, block_state)
SELECT id, 'secrets.generic', 'A', 1, id % 2, 0, 0.9, CASE id % 5 WHEN 0 THEN 'blocking' ELSE 'advisory' END
FROM ci_completion_run;

-- ci_completion_suppression: 600, a third standing (expires_at NULL); owner
-- is an e-mail address, as in Vox.
INSERT INTO ci_completion_suppression(detector_id, scope, reason, owner, created_at, expires_at, approved_by)
SELECT 'secrets.generic', 'src/module_' || (i % 40) || '/', 'false positive: test fixture',
       'dev' || (i % 7) || '@example.com', strftime('%Y-%m-%dT%H:%M:%SZ', 'now', printf('-%d days', i)),
       CASE i % 3 WHEN 0 THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%SZ', 'now', printf('%+d days', 300 - i)) END,
       CASE i % 2 WHEN 0 THEN 'lead@example.com' END
FROM demo_n WHERE i <= 600;

DROP TABLE demo_n;
DROP TABLE demo_types;
