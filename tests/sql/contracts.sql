-- The contracts registry from SQL: version, contracts, taxonomy, column classes,
-- switching contracts directories (good and broken), errors.
SELECT 'contracts:3', telem_version() LIKE 'voxtelem 0.1.0 (sqlite %, jansson %, libyaml %, pcre2 %, xxhash %)';
SELECT 'contracts:4', count(*) >= 11, count(DISTINCT id) = count(*) FROM telem_contracts;
SELECT DISTINCT 'contracts:5', source FROM telem_contracts;
SELECT 'contracts:6', id, kind FROM telem_contracts WHERE kind IN ('taxonomy', 'column-sensitivity') ORDER BY id;
SELECT 'contracts:7', count(*) FROM telem_taxonomy;
SELECT 'contracts:8', metric_type, family, sensitivity, plane, transmission, session_prefix, schema_id
FROM telem_taxonomy WHERE metric_type IN ('benchmark_event', 'memory_hybrid_fusion', 'syntax_k_event', 'orch.hitl.interrupt', 'questioning_event')
ORDER BY metric_type;
SELECT 'contracts:11', count(*) FROM telem_taxonomy WHERE metric_type LIKE 'orch.%' AND sensitivity = 'S1';
-- telem_taxonomy shows no path (it is usable in views); telem_contracts does (DIRECTONLY)
SELECT 'contracts:13', count(*) FROM pragma_table_info('telem_taxonomy') WHERE name = 'source';
-- column classes
SELECT 'contracts:15', telem_column_class('ci_completion_run', 'repository_id'), telem_column_class('ci_completion_run', 'branch'),
       telem_column_class('ci_completion_finding', 'fingerprint'), telem_column_class('ci_completion_suppression', 'owner'),
       telem_column_class('ci_completion_finding', 'detector_id');
SELECT 'contracts:18', quote(telem_column_class('research_metrics', 'no_such_column')), quote(telem_column_class(NULL, 'x'));
-- switching to a directory: the repository's own contracts
SELECT 'contracts:20', contracts FROM telem_use_contracts('contracts');
SELECT 'contracts:21', count(*) FROM telem_contracts;
SELECT DISTINCT 'contracts:22', source FROM telem_contracts;
SELECT 'contracts:23', source FROM telem_use_contracts('contracts');
-- a broken directory is an error naming the file and line, and the contracts in use stay
SELECT 'contracts:25', contracts FROM telem_use_contracts('tests/data/broken-contracts/bad-id');
SELECT 'contracts:26', contracts FROM telem_use_contracts('tests/data/broken-contracts/missing-file');
SELECT 'contracts:27', contracts FROM telem_use_contracts('tests/data/broken-contracts/yaml-syntax');
SELECT 'contracts:28', contracts FROM telem_use_contracts('tests/data/broken-contracts/unknown-kind');
SELECT 'contracts:29', contracts FROM telem_use_contracts('tests/data/broken-contracts/duplicate-id');
SELECT 'contracts:30', contracts FROM telem_use_contracts('tests/data/no-such-dir');
SELECT DISTINCT 'contracts:31', source FROM telem_contracts;
-- back to the embedded copy
SELECT 'contracts:33', contracts FROM telem_use_contracts(NULL);
SELECT 'contracts:34', count(*) FROM telem_contracts;
SELECT DISTINCT 'contracts:35', source FROM telem_contracts;
-- bad arguments
SELECT 'contracts:37', * FROM telem_use_contracts(42);
SELECT 'contracts:38', * FROM telem_use_contracts('');
SELECT 'contracts:39', * FROM telem_use_contracts();
SELECT 'contracts:40', * FROM telem_use_contracts;
SELECT 'contracts:41', * FROM telem_use_contracts('a', 'b');
SELECT 'contracts:42', * FROM telem_use_contracts('tests/data/no-such-dir') WHERE contracts = 1;
-- the scalar only points to the table form, switching nothing
SELECT 'contracts:44', telem_use_contracts('contracts');
SELECT 'contracts:45', telem_use_contracts(NULL);
SELECT 'contracts:46', telem_use_contracts();
SELECT DISTINCT 'contracts:47', source FROM telem_contracts;
-- no trigger or view can switch contracts or read the contracts path
CREATE TABLE t(a);
CREATE VIEW v_use AS SELECT * FROM telem_use_contracts('contracts');
SELECT 'contracts:51', * FROM v_use;
CREATE VIEW v_src AS SELECT source FROM telem_contracts;
SELECT 'contracts:53', * FROM v_src;
CREATE TRIGGER t_use AFTER INSERT ON t BEGIN SELECT * FROM telem_use_contracts('contracts'); END;
INSERT INTO t VALUES (1);
DROP TRIGGER t_use;
CREATE TRIGGER t_src AFTER INSERT ON t BEGIN INSERT INTO t SELECT source FROM telem_contracts; END;
INSERT INTO t VALUES (2);
SELECT 'contracts:59', count(*) FROM t;
CREATE VIEW v_tax AS SELECT count(*) FROM telem_taxonomy;
SELECT 'contracts:61', (SELECT * FROM v_tax) > 0;
CREATE TABLE c(a CHECK ((SELECT contracts FROM telem_use_contracts('contracts')) > 0));
SELECT DISTINCT 'contracts:63', source FROM telem_contracts;
SELECT 'contracts:64', telem_column_class('a');
SELECT 'contracts:65', telem_version(1);
-- the virtual tables are read-only and need no CREATE
INSERT INTO telem_contracts(id) VALUES ('x');
