-- The contracts registry from SQL: version, contracts, taxonomy, column classes,
-- switching contracts directories (good and broken), errors.
SELECT telem_version() LIKE 'voxtelem 0.1.0 (sqlite %, jansson %, libyaml %, pcre2 %, xxhash %)';
SELECT count(*) >= 11, count(DISTINCT id) = count(*) FROM telem_contracts;
SELECT DISTINCT source FROM telem_contracts;
SELECT id, kind FROM telem_contracts WHERE kind IN ('taxonomy', 'column-sensitivity') ORDER BY id;
SELECT count(*) FROM telem_taxonomy;
SELECT metric_type, family, sensitivity, plane, transmission, session_prefix, schema_id
FROM telem_taxonomy WHERE metric_type IN ('benchmark_event', 'memory_hybrid_fusion', 'syntax_k_event', 'orch.hitl.interrupt', 'questioning_event')
ORDER BY metric_type;
SELECT count(*) FROM telem_taxonomy WHERE metric_type LIKE 'orch.%' AND sensitivity = 'S1';
-- telem_taxonomy shows no path (it is usable in views); telem_contracts does (DIRECTONLY)
SELECT count(*) FROM pragma_table_info('telem_taxonomy') WHERE name = 'source';
-- column classes
SELECT telem_column_class('ci_completion_run', 'repository_id'), telem_column_class('ci_completion_run', 'branch'),
       telem_column_class('ci_completion_finding', 'fingerprint'), telem_column_class('ci_completion_suppression', 'owner'),
       telem_column_class('ci_completion_finding', 'detector_id');
SELECT quote(telem_column_class('research_metrics', 'no_such_column')), quote(telem_column_class(NULL, 'x'));
-- switching to a directory: the repository's own contracts
SELECT contracts FROM telem_use_contracts('contracts');
SELECT count(*) FROM telem_contracts;
SELECT DISTINCT source FROM telem_contracts;
SELECT source FROM telem_use_contracts('contracts');
-- a broken directory is an error naming the file and line, and the contracts in use stay
SELECT contracts FROM telem_use_contracts('tests/data/broken-contracts/bad-id');
SELECT contracts FROM telem_use_contracts('tests/data/broken-contracts/missing-file');
SELECT contracts FROM telem_use_contracts('tests/data/broken-contracts/yaml-syntax');
SELECT contracts FROM telem_use_contracts('tests/data/broken-contracts/unknown-kind');
SELECT contracts FROM telem_use_contracts('tests/data/broken-contracts/duplicate-id');
SELECT contracts FROM telem_use_contracts('tests/data/no-such-dir');
SELECT DISTINCT source FROM telem_contracts;
-- back to the embedded copy
SELECT contracts FROM telem_use_contracts(NULL);
SELECT count(*) FROM telem_contracts;
SELECT DISTINCT source FROM telem_contracts;
-- bad arguments
SELECT * FROM telem_use_contracts(42);
SELECT * FROM telem_use_contracts('');
SELECT * FROM telem_use_contracts();
SELECT * FROM telem_use_contracts;
SELECT * FROM telem_use_contracts('a', 'b');
SELECT * FROM telem_use_contracts('tests/data/no-such-dir') WHERE contracts = 1;
-- the scalar only points to the table form, switching nothing
SELECT telem_use_contracts('contracts');
SELECT telem_use_contracts(NULL);
SELECT telem_use_contracts();
SELECT DISTINCT source FROM telem_contracts;
-- no trigger or view can switch contracts or read the contracts path
CREATE TABLE t(a);
CREATE VIEW v_use AS SELECT * FROM telem_use_contracts('contracts');
SELECT * FROM v_use;
CREATE VIEW v_src AS SELECT source FROM telem_contracts;
SELECT * FROM v_src;
CREATE TRIGGER t_use AFTER INSERT ON t BEGIN SELECT * FROM telem_use_contracts('contracts'); END;
INSERT INTO t VALUES (1);
DROP TRIGGER t_use;
CREATE TRIGGER t_src AFTER INSERT ON t BEGIN INSERT INTO t SELECT source FROM telem_contracts; END;
INSERT INTO t VALUES (2);
SELECT count(*) FROM t;
CREATE VIEW v_tax AS SELECT count(*) FROM telem_taxonomy;
SELECT (SELECT * FROM v_tax) > 0;
CREATE TABLE c(a CHECK ((SELECT contracts FROM telem_use_contracts('contracts')) > 0));
SELECT DISTINCT source FROM telem_contracts;
SELECT telem_column_class('a');
SELECT telem_version(1);
-- the virtual tables are read-only and need no CREATE
INSERT INTO telem_contracts(id) VALUES ('x');
