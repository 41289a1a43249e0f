-- Every function and virtual table with hostile arguments: wrong argument
-- counts, NULLs, integers, REALs, BLOBs, invalid UTF-8, embedded NULs, 10 MB
-- values and 100,000-deep JSON.  Each statement gives a defined result or an
-- error that starts with the function's name; none crashes, hangs or leaks
-- (make check runs this file under ASan+UBSan and valgrind).
-- Results that could be large are shown as typeof/length.
CREATE TEMP TABLE v(name TEXT PRIMARY KEY, x);
INSERT INTO v VALUES
  ('null', NULL), ('int', 42), ('real', 4.5), ('blob', x'00ff10'),
  ('bad_utf8', CAST(x'7b2261223a2280ff227d' AS TEXT)),
  ('nul', CAST(x'7b2261223a2262006322' || x'7d' AS TEXT)),
  ('big', '{"a":"' || printf('%.*c', 10000000, 'x') || '"}'),
  ('deep', printf('%.*c', 100000, '[') || printf('%.*c', 100000, ']'));
.print '-- wrong argument counts'
SELECT 'bad_input:15', telem_version(1);
SELECT 'bad_input:16', telem_use_contracts();
SELECT 'bad_input:17', telem_use_contracts('a', 'b');
SELECT 'bad_input:18', telem_column_class('a');
SELECT 'bad_input:19', telem_validate('{}');
SELECT 'bad_input:20', telem_validate('{}', 'a', 'b');
SELECT 'bad_input:21', telem_assert_valid('{}');
SELECT 'bad_input:22', telem_metric_problem('a', 'b', 1);
SELECT 'bad_input:23', telem_assert_metric('a');
SELECT 'bad_input:24', telem_classify();
SELECT 'bad_input:25', telem_classify('a', 'b', 'c');
SELECT 'bad_input:26', telem_redact();
SELECT 'bad_input:27', telem_redact('a', 'default', 'x');
SELECT 'bad_input:28', (SELECT rules FROM telem_policy_import());
SELECT 'bad_input:29', telem_policy_yaml(1);
SELECT 'bad_input:30', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, NULL, NULL, NULL));
SELECT 'bad_input:31', * FROM telem_validate_errors('{}');
SELECT 'bad_input:32', * FROM telem_validate_errors('{}', '{}', 'x');
SELECT 'bad_input:33', * FROM telem_redactions();
SELECT 'bad_input:34', * FROM telem_redactions('{}', 'default', 'x');
SELECT 'bad_input:35', * FROM telem_prune_plan('2026-01-01', 'x');
.print '-- telem_validate(x, id)'
SELECT 'telem_validate/null', telem_validate((SELECT x FROM v WHERE name = 'null'), 'syntax-k-event');
SELECT 'telem_validate/int', telem_validate((SELECT x FROM v WHERE name = 'int'), 'syntax-k-event');
SELECT 'telem_validate/real', telem_validate((SELECT x FROM v WHERE name = 'real'), 'syntax-k-event');
SELECT 'telem_validate/blob', telem_validate((SELECT x FROM v WHERE name = 'blob'), 'syntax-k-event');
SELECT 'telem_validate/bad_utf8', telem_validate((SELECT x FROM v WHERE name = 'bad_utf8'), 'syntax-k-event');
SELECT 'telem_validate/nul', telem_validate((SELECT x FROM v WHERE name = 'nul'), 'syntax-k-event');
SELECT 'telem_validate/big', telem_validate((SELECT x FROM v WHERE name = 'big'), 'syntax-k-event');
SELECT 'telem_validate/deep', telem_validate((SELECT x FROM v WHERE name = 'deep'), 'syntax-k-event');
.print '-- telem_validate(json, x)'
SELECT 'telem_validate/null', telem_validate('{}', (SELECT x FROM v WHERE name = 'null'));
SELECT 'telem_validate/int', telem_validate('{}', (SELECT x FROM v WHERE name = 'int'));
SELECT 'telem_validate/real', telem_validate('{}', (SELECT x FROM v WHERE name = 'real'));
SELECT 'telem_validate/blob', telem_validate('{}', (SELECT x FROM v WHERE name = 'blob'));
SELECT 'telem_validate/bad_utf8', telem_validate('{}', (SELECT x FROM v WHERE name = 'bad_utf8'));
SELECT 'telem_validate/nul', telem_validate('{}', (SELECT x FROM v WHERE name = 'nul'));
SELECT 'telem_validate/big', telem_validate('{}', (SELECT x FROM v WHERE name = 'big'));
SELECT 'telem_validate/deep', telem_validate('{}', (SELECT x FROM v WHERE name = 'deep'));
.print '-- telem_validate_errors(x, id)'
SELECT 'telem_validate_errors/null', (SELECT count(*) FROM telem_validate_errors((SELECT x FROM v WHERE name = 'null'), 'syntax-k-event'));
SELECT 'telem_validate_errors/int', (SELECT count(*) FROM telem_validate_errors((SELECT x FROM v WHERE name = 'int'), 'syntax-k-event'));
SELECT 'telem_validate_errors/real', (SELECT count(*) FROM telem_validate_errors((SELECT x FROM v WHERE name = 'real'), 'syntax-k-event'));
SELECT 'telem_validate_errors/blob', (SELECT count(*) FROM telem_validate_errors((SELECT x FROM v WHERE name = 'blob'), 'syntax-k-event'));
SELECT 'telem_validate_errors/bad_utf8', (SELECT count(*) FROM telem_validate_errors((SELECT x FROM v WHERE name = 'bad_utf8'), 'syntax-k-event'));
SELECT 'telem_validate_errors/nul', (SELECT count(*) FROM telem_validate_errors((SELECT x FROM v WHERE name = 'nul'), 'syntax-k-event'));
SELECT 'telem_validate_errors/big', (SELECT count(*) FROM telem_validate_errors((SELECT x FROM v WHERE name = 'big'), 'syntax-k-event'));
SELECT 'telem_validate_errors/deep', (SELECT count(*) FROM telem_validate_errors((SELECT x FROM v WHERE name = 'deep'), 'syntax-k-event'));
.print '-- telem_assert_valid(x, id)'
SELECT 'telem_assert_valid/null', telem_assert_valid((SELECT x FROM v WHERE name = 'null'), 'syntax-k-event');
SELECT 'telem_assert_valid/int', telem_assert_valid((SELECT x FROM v WHERE name = 'int'), 'syntax-k-event');
SELECT 'telem_assert_valid/real', telem_assert_valid((SELECT x FROM v WHERE name = 'real'), 'syntax-k-event');
SELECT 'telem_assert_valid/blob', telem_assert_valid((SELECT x FROM v WHERE name = 'blob'), 'syntax-k-event');
SELECT 'telem_assert_valid/bad_utf8', telem_assert_valid((SELECT x FROM v WHERE name = 'bad_utf8'), 'syntax-k-event');
SELECT 'telem_assert_valid/nul', telem_assert_valid((SELECT x FROM v WHERE name = 'nul'), 'syntax-k-event');
SELECT 'telem_assert_valid/big', telem_assert_valid((SELECT x FROM v WHERE name = 'big'), 'syntax-k-event');
SELECT 'telem_assert_valid/deep', telem_assert_valid((SELECT x FROM v WHERE name = 'deep'), 'syntax-k-event');
.print '-- telem_metric_problem(x, ...)'
SELECT 'telem_metric_problem/null', telem_metric_problem((SELECT x FROM v WHERE name = 'null'), 'benchmark_event', 1.0, '{"name":"n"}');
SELECT 'telem_metric_problem/int', telem_metric_problem((SELECT x FROM v WHERE name = 'int'), 'benchmark_event', 1.0, '{"name":"n"}');
SELECT 'telem_metric_problem/real', telem_metric_problem((SELECT x FROM v WHERE name = 'real'), 'benchmark_event', 1.0, '{"name":"n"}');
SELECT 'telem_metric_problem/blob', telem_metric_problem((SELECT x FROM v WHERE name = 'blob'), 'benchmark_event', 1.0, '{"name":"n"}');
SELECT 'telem_metric_problem/bad_utf8', telem_metric_problem((SELECT x FROM v WHERE name = 'bad_utf8'), 'benchmark_event', 1.0, '{"name":"n"}');
SELECT 'telem_metric_problem/nul', telem_metric_problem((SELECT x FROM v WHERE name = 'nul'), 'benchmark_event', 1.0, '{"name":"n"}');
SELECT 'telem_metric_problem/big', telem_metric_problem((SELECT x FROM v WHERE name = 'big'), 'benchmark_event', 1.0, '{"name":"n"}');
SELECT 'telem_metric_problem/deep', telem_metric_problem((SELECT x FROM v WHERE name = 'deep'), 'benchmark_event', 1.0, '{"name":"n"}');
.print '-- telem_metric_problem(.., x, ..)'
SELECT 'telem_metric_problem/null', telem_metric_problem('bench:a', (SELECT x FROM v WHERE name = 'null'), 1.0, '{"name":"n"}');
SELECT 'telem_metric_problem/int', telem_metric_problem('bench:a', (SELECT x FROM v WHERE name = 'int'), 1.0, '{"name":"n"}');
SELECT 'telem_metric_problem/real', telem_metric_problem('bench:a', (SELECT x FROM v WHERE name = 'real'), 1.0, '{"name":"n"}');
SELECT 'telem_metric_problem/blob', telem_metric_problem('bench:a', (SELECT x FROM v WHERE name = 'blob'), 1.0, '{"name":"n"}');
SELECT 'telem_metric_problem/bad_utf8', telem_metric_problem('bench:a', (SELECT x FROM v WHERE name = 'bad_utf8'), 1.0, '{"name":"n"}');
SELECT 'telem_metric_problem/nul', telem_metric_problem('bench:a', (SELECT x FROM v WHERE name = 'nul'), 1.0, '{"name":"n"}');
SELECT 'telem_metric_problem/big', telem_metric_problem('bench:a', (SELECT x FROM v WHERE name = 'big'), 1.0, '{"name":"n"}');
SELECT 'telem_metric_problem/deep', telem_metric_problem('bench:a', (SELECT x FROM v WHERE name = 'deep'), 1.0, '{"name":"n"}');
.print '-- telem_metric_problem(.., .., x, ..)'
SELECT 'telem_metric_problem/null', telem_metric_problem('bench:a', 'benchmark_event', (SELECT x FROM v WHERE name = 'null'), '{"name":"n"}');
SELECT 'telem_metric_problem/int', telem_metric_problem('bench:a', 'benchmark_event', (SELECT x FROM v WHERE name = 'int'), '{"name":"n"}');
SELECT 'telem_metric_problem/real', telem_metric_problem('bench:a', 'benchmark_event', (SELECT x FROM v WHERE name = 'real'), '{"name":"n"}');
SELECT 'telem_metric_problem/blob', telem_metric_problem('bench:a', 'benchmark_event', (SELECT x FROM v WHERE name = 'blob'), '{"name":"n"}');
SELECT 'telem_metric_problem/bad_utf8', telem_metric_problem('bench:a', 'benchmark_event', (SELECT x FROM v WHERE name = 'bad_utf8'), '{"name":"n"}');
SELECT 'telem_metric_problem/nul', telem_metric_problem('bench:a', 'benchmark_event', (SELECT x FROM v WHERE name = 'nul'), '{"name":"n"}');
SELECT 'telem_metric_problem/big', telem_metric_problem('bench:a', 'benchmark_event', (SELECT x FROM v WHERE name = 'big'), '{"name":"n"}');
SELECT 'telem_metric_problem/deep', telem_metric_problem('bench:a', 'benchmark_event', (SELECT x FROM v WHERE name = 'deep'), '{"name":"n"}');
.print '-- telem_metric_problem(..., x)'
SELECT 'telem_metric_problem/null', telem_metric_problem('bench:a', 'benchmark_event', 1.0, (SELECT x FROM v WHERE name = 'null'));
SELECT 'telem_metric_problem/int', telem_metric_problem('bench:a', 'benchmark_event', 1.0, (SELECT x FROM v WHERE name = 'int'));
SELECT 'telem_metric_problem/real', telem_metric_problem('bench:a', 'benchmark_event', 1.0, (SELECT x FROM v WHERE name = 'real'));
SELECT 'telem_metric_problem/blob', telem_metric_problem('bench:a', 'benchmark_event', 1.0, (SELECT x FROM v WHERE name = 'blob'));
SELECT 'telem_metric_problem/bad_utf8', telem_metric_problem('bench:a', 'benchmark_event', 1.0, (SELECT x FROM v WHERE name = 'bad_utf8'));
SELECT 'telem_metric_problem/nul', telem_metric_problem('bench:a', 'benchmark_event', 1.0, (SELECT x FROM v WHERE name = 'nul'));
SELECT 'telem_metric_problem/big', telem_metric_problem('bench:a', 'benchmark_event', 1.0, (SELECT x FROM v WHERE name = 'big'));
SELECT 'telem_metric_problem/deep', telem_metric_problem('bench:a', 'benchmark_event', 1.0, (SELECT x FROM v WHERE name = 'deep'));
.print '-- telem_assert_metric(..., x)'
SELECT 'telem_assert_metric/null', telem_assert_metric('bench:a', 'benchmark_event', 1.0, (SELECT x FROM v WHERE name = 'null'));
SELECT 'telem_assert_metric/int', telem_assert_metric('bench:a', 'benchmark_event', 1.0, (SELECT x FROM v WHERE name = 'int'));
SELECT 'telem_assert_metric/real', telem_assert_metric('bench:a', 'benchmark_event', 1.0, (SELECT x FROM v WHERE name = 'real'));
SELECT 'telem_assert_metric/blob', telem_assert_metric('bench:a', 'benchmark_event', 1.0, (SELECT x FROM v WHERE name = 'blob'));
SELECT 'telem_assert_metric/bad_utf8', telem_assert_metric('bench:a', 'benchmark_event', 1.0, (SELECT x FROM v WHERE name = 'bad_utf8'));
SELECT 'telem_assert_metric/nul', telem_assert_metric('bench:a', 'benchmark_event', 1.0, (SELECT x FROM v WHERE name = 'nul'));
SELECT 'telem_assert_metric/big', telem_assert_metric('bench:a', 'benchmark_event', 1.0, (SELECT x FROM v WHERE name = 'big'));
SELECT 'telem_assert_metric/deep', telem_assert_metric('bench:a', 'benchmark_event', 1.0, (SELECT x FROM v WHERE name = 'deep'));
.print '-- telem_classify(x)'
SELECT 'telem_classify/null', telem_classify((SELECT x FROM v WHERE name = 'null'));
SELECT 'telem_classify/int', telem_classify((SELECT x FROM v WHERE name = 'int'));
SELECT 'telem_classify/real', telem_classify((SELECT x FROM v WHERE name = 'real'));
SELECT 'telem_classify/blob', telem_classify((SELECT x FROM v WHERE name = 'blob'));
SELECT 'telem_classify/bad_utf8', telem_classify((SELECT x FROM v WHERE name = 'bad_utf8'));
SELECT 'telem_classify/nul', telem_classify((SELECT x FROM v WHERE name = 'nul'));
SELECT 'telem_classify/big', telem_classify((SELECT x FROM v WHERE name = 'big'));
SELECT 'telem_classify/deep', telem_classify((SELECT x FROM v WHERE name = 'deep'));
.print '-- telem_classify(type, x)'
SELECT 'telem_classify/null', telem_classify('benchmark_event', (SELECT x FROM v WHERE name = 'null'));
SELECT 'telem_classify/int', telem_classify('benchmark_event', (SELECT x FROM v WHERE name = 'int'));
SELECT 'telem_classify/real', telem_classify('benchmark_event', (SELECT x FROM v WHERE name = 'real'));
SELECT 'telem_classify/blob', telem_classify('benchmark_event', (SELECT x FROM v WHERE name = 'blob'));
SELECT 'telem_classify/bad_utf8', telem_classify('benchmark_event', (SELECT x FROM v WHERE name = 'bad_utf8'));
SELECT 'telem_classify/nul', telem_classify('benchmark_event', (SELECT x FROM v WHERE name = 'nul'));
SELECT 'telem_classify/big', telem_classify('benchmark_event', (SELECT x FROM v WHERE name = 'big'));
SELECT 'telem_classify/deep', telem_classify('benchmark_event', (SELECT x FROM v WHERE name = 'deep'));
.print '-- telem_redact(x)'
SELECT 'telem_redact/null', typeof(telem_redact((SELECT x FROM v WHERE name = 'null'))), length(CAST(telem_redact((SELECT x FROM v WHERE name = 'null')) AS BLOB));
SELECT 'telem_redact/int', typeof(telem_redact((SELECT x FROM v WHERE name = 'int'))), length(CAST(telem_redact((SELECT x FROM v WHERE name = 'int')) AS BLOB));
SELECT 'telem_redact/real', typeof(telem_redact((SELECT x FROM v WHERE name = 'real'))), length(CAST(telem_redact((SELECT x FROM v WHERE name = 'real')) AS BLOB));
SELECT 'telem_redact/blob', typeof(telem_redact((SELECT x FROM v WHERE name = 'blob'))), length(CAST(telem_redact((SELECT x FROM v WHERE name = 'blob')) AS BLOB));
SELECT 'telem_redact/bad_utf8', typeof(telem_redact((SELECT x FROM v WHERE name = 'bad_utf8'))), length(CAST(telem_redact((SELECT x FROM v WHERE name = 'bad_utf8')) AS BLOB));
SELECT 'telem_redact/nul', typeof(telem_redact((SELECT x FROM v WHERE name = 'nul'))), length(CAST(telem_redact((SELECT x FROM v WHERE name = 'nul')) AS BLOB));
SELECT 'telem_redact/big', typeof(telem_redact((SELECT x FROM v WHERE name = 'big'))), length(CAST(telem_redact((SELECT x FROM v WHERE name = 'big')) AS BLOB));
SELECT 'telem_redact/deep', typeof(telem_redact((SELECT x FROM v WHERE name = 'deep'))), length(CAST(telem_redact((SELECT x FROM v WHERE name = 'deep')) AS BLOB));
.print '-- telem_redact(json, x)'
SELECT 'telem_redact/null', telem_redact('{"a":1}', (SELECT x FROM v WHERE name = 'null'));
SELECT 'telem_redact/int', telem_redact('{"a":1}', (SELECT x FROM v WHERE name = 'int'));
SELECT 'telem_redact/real', telem_redact('{"a":1}', (SELECT x FROM v WHERE name = 'real'));
SELECT 'telem_redact/blob', telem_redact('{"a":1}', (SELECT x FROM v WHERE name = 'blob'));
SELECT 'telem_redact/bad_utf8', telem_redact('{"a":1}', (SELECT x FROM v WHERE name = 'bad_utf8'));
SELECT 'telem_redact/nul', telem_redact('{"a":1}', (SELECT x FROM v WHERE name = 'nul'));
SELECT 'telem_redact/big', telem_redact('{"a":1}', (SELECT x FROM v WHERE name = 'big'));
SELECT 'telem_redact/deep', telem_redact('{"a":1}', (SELECT x FROM v WHERE name = 'deep'));
.print '-- telem_redactions(x)'
SELECT 'telem_redactions/null', (SELECT count(*) FROM telem_redactions((SELECT x FROM v WHERE name = 'null')));
SELECT 'telem_redactions/int', (SELECT count(*) FROM telem_redactions((SELECT x FROM v WHERE name = 'int')));
SELECT 'telem_redactions/real', (SELECT count(*) FROM telem_redactions((SELECT x FROM v WHERE name = 'real')));
SELECT 'telem_redactions/blob', (SELECT count(*) FROM telem_redactions((SELECT x FROM v WHERE name = 'blob')));
SELECT 'telem_redactions/bad_utf8', (SELECT count(*) FROM telem_redactions((SELECT x FROM v WHERE name = 'bad_utf8')));
SELECT 'telem_redactions/nul', (SELECT count(*) FROM telem_redactions((SELECT x FROM v WHERE name = 'nul')));
SELECT 'telem_redactions/big', (SELECT count(*) FROM telem_redactions((SELECT x FROM v WHERE name = 'big')));
SELECT 'telem_redactions/deep', (SELECT count(*) FROM telem_redactions((SELECT x FROM v WHERE name = 'deep')));
.print '-- telem_column_class(x, x)'
SELECT 'telem_column_class/null', quote(telem_column_class((SELECT x FROM v WHERE name = 'null'), (SELECT x FROM v WHERE name = 'null')));
SELECT 'telem_column_class/int', quote(telem_column_class((SELECT x FROM v WHERE name = 'int'), (SELECT x FROM v WHERE name = 'int')));
SELECT 'telem_column_class/real', quote(telem_column_class((SELECT x FROM v WHERE name = 'real'), (SELECT x FROM v WHERE name = 'real')));
SELECT 'telem_column_class/blob', quote(telem_column_class((SELECT x FROM v WHERE name = 'blob'), (SELECT x FROM v WHERE name = 'blob')));
SELECT 'telem_column_class/bad_utf8', quote(telem_column_class((SELECT x FROM v WHERE name = 'bad_utf8'), (SELECT x FROM v WHERE name = 'bad_utf8')));
SELECT 'telem_column_class/nul', quote(telem_column_class((SELECT x FROM v WHERE name = 'nul'), (SELECT x FROM v WHERE name = 'nul')));
SELECT 'telem_column_class/big', quote(telem_column_class((SELECT x FROM v WHERE name = 'big'), (SELECT x FROM v WHERE name = 'big')));
SELECT 'telem_column_class/deep', quote(telem_column_class((SELECT x FROM v WHERE name = 'deep'), (SELECT x FROM v WHERE name = 'deep')));
.print '-- telem_use_contracts(x)'
SELECT 'telem_use_contracts/null', contracts FROM telem_use_contracts((SELECT x FROM v WHERE name = 'null'));
SELECT 'telem_use_contracts/int', contracts FROM telem_use_contracts((SELECT x FROM v WHERE name = 'int'));
SELECT 'telem_use_contracts/real', contracts FROM telem_use_contracts((SELECT x FROM v WHERE name = 'real'));
SELECT 'telem_use_contracts/blob', contracts FROM telem_use_contracts((SELECT x FROM v WHERE name = 'blob'));
SELECT 'telem_use_contracts/bad_utf8', contracts FROM telem_use_contracts((SELECT x FROM v WHERE name = 'bad_utf8'));
SELECT 'telem_use_contracts/nul', contracts FROM telem_use_contracts((SELECT x FROM v WHERE name = 'nul'));
SELECT 'telem_use_contracts/big', contracts FROM telem_use_contracts((SELECT x FROM v WHERE name = 'big'));
SELECT 'telem_use_contracts/deep', contracts FROM telem_use_contracts((SELECT x FROM v WHERE name = 'deep'));
.print '-- telem_policy_import(x)'
SELECT 'telem_policy_import/null', (SELECT rules FROM telem_policy_import((SELECT x FROM v WHERE name = 'null')));
SELECT 'telem_policy_import/int', (SELECT rules FROM telem_policy_import((SELECT x FROM v WHERE name = 'int')));
SELECT 'telem_policy_import/real', (SELECT rules FROM telem_policy_import((SELECT x FROM v WHERE name = 'real')));
SELECT 'telem_policy_import/blob', (SELECT rules FROM telem_policy_import((SELECT x FROM v WHERE name = 'blob')));
SELECT 'telem_policy_import/bad_utf8', (SELECT rules FROM telem_policy_import((SELECT x FROM v WHERE name = 'bad_utf8')));
SELECT 'telem_policy_import/nul', (SELECT rules FROM telem_policy_import((SELECT x FROM v WHERE name = 'nul')));
SELECT 'telem_policy_import/big', (SELECT rules FROM telem_policy_import((SELECT x FROM v WHERE name = 'big')));
SELECT 'telem_policy_import/deep', (SELECT rules FROM telem_policy_import((SELECT x FROM v WHERE name = 'deep')));
.print '-- telem_prune_plan(x)'
SELECT 'telem_prune_plan/null', (SELECT count(*) FROM telem_prune_plan((SELECT x FROM v WHERE name = 'null')));
SELECT 'telem_prune_plan/int', (SELECT count(*) FROM telem_prune_plan((SELECT x FROM v WHERE name = 'int')));
SELECT 'telem_prune_plan/real', (SELECT count(*) FROM telem_prune_plan((SELECT x FROM v WHERE name = 'real')));
SELECT 'telem_prune_plan/blob', (SELECT count(*) FROM telem_prune_plan((SELECT x FROM v WHERE name = 'blob')));
SELECT 'telem_prune_plan/bad_utf8', (SELECT count(*) FROM telem_prune_plan((SELECT x FROM v WHERE name = 'bad_utf8')));
SELECT 'telem_prune_plan/nul', (SELECT count(*) FROM telem_prune_plan((SELECT x FROM v WHERE name = 'nul')));
SELECT 'telem_prune_plan/big', (SELECT count(*) FROM telem_prune_plan((SELECT x FROM v WHERE name = 'big')));
SELECT 'telem_prune_plan/deep', (SELECT count(*) FROM telem_prune_plan((SELECT x FROM v WHERE name = 'deep')));
.print '-- telem_prune_apply(x)'
SELECT 'telem_prune_apply/null', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply((SELECT x FROM v WHERE name = 'null')));
SELECT 'telem_prune_apply/int', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply((SELECT x FROM v WHERE name = 'int')));
SELECT 'telem_prune_apply/real', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply((SELECT x FROM v WHERE name = 'real')));
SELECT 'telem_prune_apply/blob', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply((SELECT x FROM v WHERE name = 'blob')));
SELECT 'telem_prune_apply/bad_utf8', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply((SELECT x FROM v WHERE name = 'bad_utf8')));
SELECT 'telem_prune_apply/nul', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply((SELECT x FROM v WHERE name = 'nul')));
SELECT 'telem_prune_apply/big', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply((SELECT x FROM v WHERE name = 'big')));
SELECT 'telem_prune_apply/deep', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply((SELECT x FROM v WHERE name = 'deep')));
.print '-- telem_prune_apply(NULL, x)'
SELECT 'telem_prune_apply/null', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, (SELECT x FROM v WHERE name = 'null')));
SELECT 'telem_prune_apply/int', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, (SELECT x FROM v WHERE name = 'int')));
SELECT 'telem_prune_apply/real', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, (SELECT x FROM v WHERE name = 'real')));
SELECT 'telem_prune_apply/blob', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, (SELECT x FROM v WHERE name = 'blob')));
SELECT 'telem_prune_apply/bad_utf8', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, (SELECT x FROM v WHERE name = 'bad_utf8')));
SELECT 'telem_prune_apply/nul', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, (SELECT x FROM v WHERE name = 'nul')));
SELECT 'telem_prune_apply/big', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, (SELECT x FROM v WHERE name = 'big')));
SELECT 'telem_prune_apply/deep', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, (SELECT x FROM v WHERE name = 'deep')));
.print '-- telem_prune_apply(NULL, NULL, x)'
SELECT 'telem_prune_apply/null', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, NULL, (SELECT x FROM v WHERE name = 'null')));
SELECT 'telem_prune_apply/int', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, NULL, (SELECT x FROM v WHERE name = 'int')));
SELECT 'telem_prune_apply/real', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, NULL, (SELECT x FROM v WHERE name = 'real')));
SELECT 'telem_prune_apply/blob', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, NULL, (SELECT x FROM v WHERE name = 'blob')));
SELECT 'telem_prune_apply/bad_utf8', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, NULL, (SELECT x FROM v WHERE name = 'bad_utf8')));
SELECT 'telem_prune_apply/nul', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, NULL, (SELECT x FROM v WHERE name = 'nul')));
SELECT 'telem_prune_apply/big', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, NULL, (SELECT x FROM v WHERE name = 'big')));
SELECT 'telem_prune_apply/deep', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, NULL, (SELECT x FROM v WHERE name = 'deep')));
.print '-- the contracts in use survived every bad telem_use_contracts'
SELECT DISTINCT 'bad_input:226', source FROM telem_contracts;
.print '-- telem_retention: bad writes change nothing'
SELECT 'bad_input:228', count(*) FROM telem_retention;
INSERT INTO telem_retention(table_name, kind, days, time_column, rationale) VALUES ('x"; DROP TABLE v; --', 'days', 1, 'created_at', 'r');
INSERT INTO telem_retention(table_name, kind, days, time_column, rationale) SELECT x, 'days', 1, 'created_at', 'r' FROM v WHERE name = 'bad_utf8';
INSERT INTO telem_retention(table_name, kind, days, time_column, rationale) VALUES ('t', (SELECT x FROM v WHERE name = 'blob'), 1, 'created_at', 'r');
INSERT INTO telem_retention(table_name, kind, days, time_column, rationale) VALUES ('t', 'days', 4.5, 'created_at', 'r');
INSERT INTO telem_retention(table_name, kind, days, time_column, rationale) VALUES ('t', 'days', (SELECT x FROM v WHERE name = 'big'), 'created_at', 'r');
SELECT 'bad_input:234', count(*) FROM telem_retention;
SELECT 'bad_input:235', count(*) FROM v;
