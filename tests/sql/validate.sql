-- telem_validate, telem_validate_errors, telem_assert_valid,
-- telem_metric_problem, telem_assert_metric and sql/guards.sql.
.headers off
.mode list

.print '== telem_validate by registry id'
SELECT 'validate:7', telem_validate('{"schema_version":1,"fixture_id":"fx-1","target_kind":"webir","raw_bytes":100,"compressor_results":[{"name":"zstd","profile":"19","compressed_bytes":40,"ratio":0.4}],"k_est_bytes":40,"toolchain_fingerprint":{"compiler":"voxc 0.9","compressor_profiles":["zstd-19"]}}', 'syntax-k-event');
SELECT 'validate:8', telem_validate('{"schema_version":1,"fixture_id":"fx-1","target_kind":"webir","raw_bytes":100,"compressor_results":[{"name":"zstd","profile":"19","compressed_bytes":40,"ratio":0.4}],"k_est_bytes":40,"toolchain_fingerprint":{"compiler":"voxc 0.9","compressor_profiles":["zstd-19"]},"extra":1}', 'syntax-k-event');
SELECT 'validate:9', telem_validate('{"repository_id":"repo","workflow":"local","run_kind":"audit","started_at":"2024-05-01T10:00:00Z","finished_at":"2024-05-01T10:00:00Z"}', 'ci-completion-run');
SELECT 'validate:10', telem_validate('{"detector_id":"d","scope":"src/","reason":"noise","owner":"ops","created_at":"2024-05-01 10:00:00","expires_at":null}', 'ci-completion-suppression');
SELECT 'validate:11', telem_validate('1', 'https://voxtelem.dev/contracts/telemetry/syntax-k-event.schema.json');

.print '== inline schemas, numbers'
SELECT 'validate:14', telem_validate('1.0', '{"type":"integer"}');
SELECT 'validate:15', telem_validate('1.5', '{"type":"integer"}');
SELECT 'validate:16', telem_validate('18446744073709551616', '{"maximum":18446744073709551615}');
SELECT 'validate:17', telem_validate('18446744073709551615', '{"maximum":18446744073709551615}');
SELECT 'validate:18', telem_validate('0.07', '{"multipleOf":0.01}');
SELECT 'validate:19', telem_validate('0.075', '{"multipleOf":0.01}');
SELECT 'validate:20', telem_validate('19.99', '{"multipleOf":0.01}');
SELECT 'validate:21', telem_validate('1e308', '{"multipleOf":0.123456789}');
SELECT 'validate:22', telem_validate('[1, 1.0]', '{"uniqueItems":true}');
SELECT 'validate:23', telem_validate('"h€llo"', '{"maxLength":5,"minLength":5}');
SELECT 'validate:24', telem_validate('{"a":1}', '{"$ref":"https://voxtelem.dev/contracts/telemetry/syntax-k-event.schema.json#/properties/raw_bytes"}');

.print '== NULL in, NULL out; non-text and malformed input is 0'
SELECT 'validate:27', quote(telem_validate(NULL, '{}')), quote(telem_validate('1', NULL));
SELECT 'validate:28', telem_validate(42, '{}'), telem_validate(x'7b7d', '{}'), telem_validate(1.5, '{}');
SELECT 'validate:29', telem_validate('{"a":', '{}'), telem_validate('', '{}'), telem_validate('[1,]', '{}');
SELECT 'validate:30', telem_validate(CAST(x'7b7d00' AS TEXT), '{}');
SELECT 'validate:31', telem_validate('"a' || char(0) || 'b"', '{}');
SELECT 'validate:32', telem_validate(CAST(x'22ff22' AS TEXT), '{}');
SELECT 'validate:33', telem_validate(CAST(x'22eda08022' AS TEXT), '{}');

.print '== bad input: deep nesting, huge strings'
SELECT 'validate:36', telem_validate(printf('%.*c', 100000, '[') || printf('%.*c', 100000, ']'), '{}');
SELECT 'validate:37', telem_validate(printf('%.*c', 900, '[') || printf('%.*c', 900, ']'), '{"items":{"$ref":"#"}}');
SELECT 'validate:38', keyword, message FROM telem_validate_errors(printf('%.*c', 100000, '['), '{}');
CREATE TEMP TABLE big AS SELECT '"' || replace(hex(zeroblob(25000000)), '0', 'a') || '"' AS j;
SELECT 'validate:40', length(j) FROM big;
SELECT 'validate:41', telem_validate(j, '{"type":"string"}'), telem_validate(j, '{"maxLength":10}'),
       telem_validate(j, '{"pattern":"^a+$"}'), telem_validate(j, '{"minLength":50000000}')
FROM big;
DROP TABLE big;

.print '== schema errors'
SELECT 'validate:47', telem_validate('1', 'no-such-schema');
SELECT 'validate:48', telem_validate('1', 'telemetry.taxonomy');
SELECT 'validate:49', telem_validate('1', '{"type":');
SELECT 'validate:50', telem_validate('1', '{"type":"integr"}');
SELECT 'validate:51', telem_validate('1', '{"minLength":-1}');
SELECT 'validate:52', telem_validate('1', '{"pattern":"(unclosed"}');
SELECT 'validate:53', telem_validate('1', '{"$ref":"https://example.com/elsewhere.json"}');
SELECT 'validate:54', telem_validate('1', '{"$ref":"#/$defs/missing"}');
SELECT 'validate:55', telem_validate('1', '{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}');
SELECT 'validate:56', telem_validate('1', '{"$ref":"#"}');
SELECT 'validate:57', telem_validate('1', '[]');
SELECT 'validate:58', telem_validate('1', 5);

.print '== catastrophic backtracking stops at the PCRE2 limit'
SELECT 'validate:61', telem_validate('"' || printf('%.*c', 40, 'a') || '!"', '{"pattern":"^(a|a)+$"}');
SELECT 'validate:62', telem_validate('"' || printf('%.*c', 40, 'a') || '!"', '{"pattern":"^(a+)+$"}');

.print '== wrong argument counts'
SELECT 'validate:65', telem_validate('1');
SELECT 'validate:66', telem_validate('1', '{}', 3);
SELECT 'validate:67', telem_metric_problem('a', 'b', 1);
SELECT 'validate:68', telem_assert_metric();
SELECT 'validate:69', * FROM telem_validate_errors('1');
SELECT 'validate:70', * FROM telem_validate_errors;

.print '== telem_validate_errors'
.headers on
SELECT 'validate:74', * FROM telem_validate_errors('{"schema_version":1,"fixture_id":"fx-1","target_kind":"webir","raw_bytes":100,"compressor_results":[{"name":"zstd","profile":"19","compressed_bytes":40,"ratio":0.4}],"k_est_bytes":40,"toolchain_fingerprint":{"compiler":"voxc 0.9","compressor_profiles":["zstd-19"]},"raw_bytes":-3,"target_kind":"","x":1,"compressor_results":[{"name":"lz4","profile":"1","compressed_bytes":1.5,"ratio":1}]}', 'syntax-k-event');
SELECT 'validate:75', * FROM telem_validate_errors('{"trace_id":"00","span_id":"0123456789abcdef","context_id":"c","phase":"compacted","tokens_after":5,"junk":true}', 'context-lifecycle-tracing');
SELECT 'validate:76', * FROM telem_validate_errors('[1,"x",{"a":[]}]', '{"prefixItems":[{"type":"integer"}],"items":{"type":"object","properties":{"a":{"minItems":1}}}}');
SELECT 'validate:77', * FROM telem_validate_errors('3', '{"anyOf":[{"type":"string"},{"minimum":5}]}');
SELECT 'validate:78', * FROM telem_validate_errors('3', '{"oneOf":[{"type":"integer"},{"minimum":1}]}');
SELECT 'validate:79', * FROM telem_validate_errors('3', '{"not":{"type":"integer"}}');
SELECT 'validate:80', * FROM telem_validate_errors('{"a/b~c":1}', '{"properties":{"a/b~c":false}}');
SELECT 'validate:81', * FROM telem_validate_errors('{"a":1}', '{"unevaluatedProperties":false}');
SELECT 'validate:82', * FROM telem_validate_errors('{"schema_version":1,"fixture_id":"fx-1","target_kind":"webir","raw_bytes":100,"compressor_results":[{"name":"zstd","profile":"19","compressed_bytes":40,"ratio":0.4}],"k_est_bytes":40,"toolchain_fingerprint":{"compiler":"voxc 0.9","compressor_profiles":["zstd-19"]}}', 'syntax-k-event');
SELECT 'validate:83', * FROM telem_validate_errors('{"a":', '{}');
SELECT 'validate:84', * FROM telem_validate_errors(42, '{}');
SELECT 'validate:85', count(*) FROM telem_validate_errors(NULL, '{}');
SELECT 'validate:86', * FROM telem_validate_errors('1', 'no-such-schema');
SELECT 'validate:87', * FROM telem_validate_errors('"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"', '{"pattern":"^(a|a)+$"}');
.headers off

.print '== telem_assert_valid'
SELECT 'validate:91', telem_assert_valid('{"schema_version":1,"fixture_id":"fx-1","target_kind":"webir","raw_bytes":100,"compressor_results":[{"name":"zstd","profile":"19","compressed_bytes":40,"ratio":0.4}],"k_est_bytes":40,"toolchain_fingerprint":{"compiler":"voxc 0.9","compressor_profiles":["zstd-19"]}}', 'syntax-k-event');
SELECT 'validate:92', telem_assert_valid('{"schema_version":1,"fixture_id":"fx-1","target_kind":"webir","raw_bytes":100,"compressor_results":[{"name":"zstd","profile":"19","compressed_bytes":40,"ratio":0.4}],"toolchain_fingerprint":{"compiler":"voxc 0.9","compressor_profiles":["zstd-19"]}}', 'syntax-k-event');
SELECT 'validate:93', telem_assert_valid('[1]', '{"items":{"type":"string"}}');
SELECT 'validate:94', telem_assert_valid('nope', '{}');

.print '== telem_metric_problem'
SELECT 'validate:97', quote(telem_metric_problem('syntaxk:repo', 'syntax_k_event', 1.5, '{"name":"webir_json","repository_id":"repo","fixture_id":"fx-1","details":{"schema_version":1,"fixture_id":"fx-1","target_kind":"webir","raw_bytes":100,"compressor_results":[{"name":"zstd","profile":"19","compressed_bytes":40,"ratio":0.4}],"k_est_bytes":40,"toolchain_fingerprint":{"compiler":"voxc 0.9","compressor_profiles":["zstd-19"]}}}'));
SELECT 'validate:98', quote(telem_metric_problem('s1', 'benchmark_event', NULL, NULL));
SELECT 'validate:99', quote(telem_metric_problem('s1', 'not.in.taxonomy', 2, '{"anything":[1,2]}'));
SELECT 'validate:100', telem_metric_problem(NULL, 'x', NULL, NULL);
SELECT 'validate:101', telem_metric_problem('', 'x', NULL, NULL);
SELECT 'validate:102', telem_metric_problem(7, 'x', NULL, NULL);
SELECT 'validate:103', telem_metric_problem(CAST(x'ff' AS TEXT), 'x', NULL, NULL);
SELECT 'validate:104', telem_metric_problem(CAST(x'610062' AS TEXT), 'x', NULL, NULL);
SELECT 'validate:105', telem_metric_problem('s', CAST(x'610062' AS TEXT), NULL, NULL);
SELECT 'validate:106', telem_metric_problem('s', 'x', NULL, CAST(x'7b7d00' AS TEXT));
SELECT 'validate:107', telem_metric_problem(printf('%.*c', 513, 's'), 'x', NULL, NULL);
SELECT 'validate:108', quote(telem_metric_problem(printf('%.*c', 512, 's'), 'x', NULL, NULL));
SELECT 'validate:109', quote(telem_metric_problem(replace(printf('%.*c', 512, 's'), 's', 'é'), 'x', NULL, NULL));
SELECT 'validate:110', telem_metric_problem('s', NULL, NULL, NULL);
SELECT 'validate:111', telem_metric_problem('s', '', NULL, NULL);
SELECT 'validate:112', telem_metric_problem('s', 'has space', NULL, NULL);
SELECT 'validate:113', telem_metric_problem('s', printf('%.*c', 129, 'm'), NULL, NULL);
SELECT 'validate:114', telem_metric_problem('s', 'x', 'one', NULL);
SELECT 'validate:115', telem_metric_problem('s', 'x', x'01', NULL);
SELECT 'validate:116', telem_metric_problem('s', 'x', 1e999, NULL);
SELECT 'validate:117', telem_metric_problem('s', 'x', NULL, 42);
SELECT 'validate:118', telem_metric_problem('s', 'x', NULL, '{"a":');
SELECT 'validate:119', telem_metric_problem('s', 'x', NULL, '"' || printf('%.*c', 262144, 'x') || '"');
SELECT 'validate:120', telem_metric_problem('s', 'syntax_k_event', NULL, '{"name":"webir_json","repository_id":"repo","fixture_id":"fx-1","details":{"schema_version":1,"fixture_id":"fx-1","target_kind":"webir","raw_bytes":"100","compressor_results":[{"name":"zstd","profile":"19","compressed_bytes":40,"ratio":0.4}],"k_est_bytes":40,"toolchain_fingerprint":{"compiler":"voxc 0.9","compressor_profiles":["zstd-19"]}}}');
SELECT 'validate:121', telem_metric_problem('s', 'orch.hitl.interrupt', NULL, '{}');
SELECT 'validate:122', telem_assert_metric('s1', 'syntax_k_event', 1.5, '{"name":"webir_json","repository_id":"repo","fixture_id":"fx-1","details":{"schema_version":1,"fixture_id":"fx-1","target_kind":"webir","raw_bytes":100,"compressor_results":[{"name":"zstd","profile":"19","compressed_bytes":40,"ratio":0.4}],"k_est_bytes":40,"toolchain_fingerprint":{"compiler":"voxc 0.9","compressor_profiles":["zstd-19"]}}}');
.print '-- Vox accepts: no details (None is skipped), any metadata for a type without a schema, unknown types'
SELECT 'validate:124', quote(telem_metric_problem('syntaxk:repo', 'syntax_k_event', NULL, '{"name":"n","repository_id":"r","fixture_id":"f"}'));
SELECT 'validate:125', quote(telem_metric_problem('mcp:repo', 'socrates_surface', NULL, 'not json at all'));
SELECT 'validate:126', quote(telem_metric_problem('s', 'entropy', 0.5, NULL));
.print '-- session_id length is in bytes, as Rust str::len(): 256 two-byte characters pass, 257 do not'
SELECT 'validate:128', quote(telem_metric_problem(replace(printf('%.*c', 256, 's'), 's', 'é'), 'x', NULL, NULL));
SELECT 'validate:129', telem_metric_problem(replace(printf('%.*c', 257, 's'), 's', 'é'), 'x', NULL, NULL);
.print '-- model_route_event: the quoted key names must appear in the text (Vox: str::contains)'
SELECT 'validate:131', telem_metric_problem('route:r', 'model_route_event', NULL, '{"trace_id":"t"}');
SELECT 'validate:132', quote(telem_metric_problem('route:r', 'model_route_event', NULL, '{"trace_id":"t","route_policy_profile":"p"}'));
SELECT 'validate:133', quote(telem_metric_problem('route:r', 'model_route_event', NULL, NULL));
SELECT 'validate:134', quote(telem_metric_problem('route:r', 'model_route_event', NULL, '"trace_id" "route_policy_profile" not json'));
.print '-- the metadata cap is RESEARCH_METRICS_METADATA_JSON_MAX_BYTES: 262144 bytes pass, 262145 do not'
SELECT 'validate:136', quote(telem_metric_problem('s', 'x', NULL, printf('%.*c', 262144, 'x')));
SELECT 'validate:137', telem_metric_problem('s', 'x', NULL, printf('%.*c', 262145, 'x'));
SELECT 'validate:138', telem_assert_metric('s1', 'bad type!', 1.5, NULL);

.print '== guards'
.read sql/schema/research_metrics.sql
.read sql/schema/ci_completion.sql
.read sql/guards.sql
INSERT INTO research_metrics(session_id, metric_type, metric_value, metadata_json, created_at)
VALUES ('syntaxk:1', 'syntax_k_event', 12.5, '{"name":"webir_json","repository_id":"repo","fixture_id":"fx-1","details":{"schema_version":1,"fixture_id":"fx-1","target_kind":"webir","raw_bytes":100,"compressor_results":[{"name":"zstd","profile":"19","compressed_bytes":40,"ratio":0.4}],"k_est_bytes":40,"toolchain_fingerprint":{"compiler":"voxc 0.9","compressor_profiles":["zstd-19"]}}}', '2024-05-01 10:00:00');
INSERT INTO research_metrics(session_id, metric_type, metric_value, metadata_json, created_at)
VALUES ('', 'syntax_k_event', 1, NULL, '2024-05-01 10:00:00');
INSERT INTO research_metrics(session_id, metric_type, metric_value, metadata_json, created_at)
VALUES ('syntaxk:1', 'syntax_k_event', 1, '{"name":"webir_json","repository_id":"repo","fixture_id":"fx-1","details":{"schema_version":1,"fixture_id":"fx-1","target_kind":"webir","raw_bytes":-1,"compressor_results":[{"name":"zstd","profile":"19","compressed_bytes":40,"ratio":0.4}],"k_est_bytes":40,"toolchain_fingerprint":{"compiler":"voxc 0.9","compressor_profiles":["zstd-19"]}}}', '2024-05-01 10:00:00');
INSERT INTO research_metrics(session_id, metric_type, metric_value, metadata_json, created_at)
VALUES ('bench:1', 'benchmark_event', 1, NULL, 'yesterday');
UPDATE research_metrics SET metric_type = 'no spaces allowed' WHERE id = 1;
UPDATE research_metrics SET metric_value = 99 WHERE id = 1;
SELECT 'validate:154', id, session_id, metric_type, metric_value FROM research_metrics;
INSERT INTO ci_completion_run(repository_id, branch, commit_sha, started_at)
VALUES ('repo-a', 'main', 'abcdef1', '2024-05-01T10:00:00Z');
INSERT INTO ci_completion_run(repository_id, workflow, started_at)
VALUES ('repo-a', '', '2024-05-01T10:00:00Z');
UPDATE ci_completion_run SET finished_at = 'soon' WHERE id = 1;
INSERT INTO ci_completion_finding(run_id, detector_id, tier, severity, file_path, line_start, fingerprint)
VALUES (1, 'secrets', 'A', 'high', 'src/main.rs', 10, '0123456789abcdef');
INSERT INTO ci_completion_finding(run_id, detector_id, tier, severity, file_path, line_start, fingerprint)
VALUES (1, 'secrets', 'D', 'high', 'src/main.rs', 10, 'fedcba9876543210');
INSERT INTO ci_completion_finding(run_id, detector_id, tier, severity, line_start, fingerprint, suppressed)
VALUES (1, 'secrets', 'A', 'high', 0, 'aaaa', 2);
INSERT INTO ci_completion_detector_snapshot(run_id, detector_id, tier, finding_count)
VALUES (1, 'secrets', 'A', 1);
INSERT INTO ci_completion_detector_snapshot(run_id, detector_id, tier, finding_count)
VALUES (1, 'lint', 'A', -1);
INSERT INTO ci_completion_suppression(detector_id, scope, reason, owner, created_at)
VALUES ('secrets', 'src/', 'false positive', 'ops', '2024-05-01 10:00:03');
INSERT INTO ci_completion_suppression(detector_id, scope, reason, owner, created_at)
VALUES ('secrets', 'src/', 'false positive', '', '2024-05-01 10:00:03');
UPDATE ci_completion_suppression SET reason = '' WHERE id = 1;
SELECT 'validate:175', (SELECT count(*) FROM ci_completion_run), (SELECT count(*) FROM ci_completion_finding),
       (SELECT count(*) FROM ci_completion_detector_snapshot), (SELECT count(*) FROM ci_completion_suppression);

.print '== one compile per statement: 20,000 rows against an inline schema'
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
SELECT 'validate:179', sum(telem_validate(printf('{"n":%d}', i), '{"properties":{"n":{"type":"integer","maximum":10000}}}')) FROM n;

.print '== telem_validate_errors: an inline schema cached on the table follows telem_use_contracts'
SELECT 'validate:183', count(*) FROM telem_validate_errors('{}', '{"$ref":"https://voxtelem.dev/contracts/telemetry/syntax-k-event.schema.json"}');
SELECT 'validate:184', contracts FROM telem_use_contracts('tests/data/redaction-contracts/no-rules');
SELECT 'validate:185', count(*) FROM telem_validate_errors('{}', '{"$ref":"https://voxtelem.dev/contracts/telemetry/syntax-k-event.schema.json"}');
SELECT 'validate:186', contracts > 0 FROM telem_use_contracts(NULL);
SELECT 'validate:187', count(*) FROM telem_validate_errors('{}', '{"$ref":"https://voxtelem.dev/contracts/telemetry/syntax-k-event.schema.json"}');

.print '== a contract URI with a fragment names that subschema'
SELECT 'validate:190', telem_validate('"D"', 'https://voxtelem.dev/contracts/telemetry/ci-completion-finding.v1.schema.json#/properties/tier');
SELECT 'validate:191', telem_validate('"A"', 'https://voxtelem.dev/contracts/telemetry/ci-completion-finding.v1.schema.json#/properties/tier');
SELECT 'validate:192', telem_validate('"A"', 'https://voxtelem.dev/contracts/telemetry/ci-completion-finding.v1.schema.json#/no/such/place');

.print '== guards: JSON columns filled with json() are checked as the text they store'
INSERT INTO research_metrics(session_id, metric_type, metric_value, metadata_json, created_at)
VALUES ('bench:2', 'benchmark_event', 1, json('{"name":"warm_run","details":{"ms":1}}'), '2024-05-01 10:00:00');
UPDATE research_metrics SET metadata_json = json_object('name', 'warm_run', 'metric_value_unit', 'seconds')
WHERE session_id = 'bench:2';
SELECT 'validate:199', session_id, metadata_json FROM research_metrics WHERE session_id = 'bench:2';
INSERT INTO ci_completion_run(id, repository_id, started_at, tool_versions_json)
VALUES (3, 'repo-a', '2024-05-01T10:00:00Z', json('{"rustc":"1.80"}'));
UPDATE ci_completion_run SET tool_versions_json = json('[1,2]') WHERE id = 3;
INSERT INTO ci_completion_finding(run_id, detector_id, tier, severity, file_path, line_start, fingerprint, meta_json)
VALUES (3, 'secrets', 'A', 'high', 'src/main.rs', 10, '0123456789abcdef', json('{"k":1}'));
INSERT INTO ci_completion_detector_snapshot(run_id, detector_id, tier, finding_count, block_state)
VALUES (3, 'secrets', 'A', 1, 'open');
SELECT 'validate:207', (SELECT tool_versions_json FROM ci_completion_run WHERE id = 3),
       (SELECT count(*) FROM ci_completion_finding WHERE run_id = 3),
       (SELECT count(*) FROM ci_completion_detector_snapshot WHERE run_id = 3);
INSERT INTO ci_completion_run(id, repository_id, started_at, tool_versions_json)
VALUES (4, 'repo-a', '2024-05-01T10:00:00Z', x'7b7d');
.print '-- ...and text made by json() cannot pass for the value it encodes'
INSERT INTO ci_completion_finding(run_id, detector_id, tier, severity, line_start, fingerprint)
VALUES (3, 'secrets', json('"A"'), 'high', 1, 'bbbb');
UPDATE research_metrics SET created_at = json_quote('2024-05-01 10:00:00') WHERE session_id = 'bench:2';
SELECT 'validate:216', count(*) FROM ci_completion_finding WHERE fingerprint = 'bbbb';
