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
SELECT DISTINCT source FROM telem_taxonomy;
-- column classes
SELECT telem_column_class('ci_completion_run', 'repository_id'), telem_column_class('ci_completion_run', 'branch'),
       telem_column_class('ci_completion_finding', 'fingerprint'), telem_column_class('ci_completion_suppression', 'owner'),
       telem_column_class('ci_completion_finding', 'detector_id');
SELECT quote(telem_column_class('research_metrics', 'no_such_column')), quote(telem_column_class(NULL, 'x'));
-- switching to a directory: the repository's own contracts
SELECT telem_use_contracts('contracts') = (SELECT count(*) FROM telem_contracts);
SELECT DISTINCT source FROM telem_taxonomy;
-- a broken directory is an error naming the file and line, and the contracts in use stay
SELECT telem_use_contracts('tests/data/broken-contracts/bad-id');
SELECT telem_use_contracts('tests/data/broken-contracts/missing-file');
SELECT telem_use_contracts('tests/data/broken-contracts/yaml-syntax');
SELECT telem_use_contracts('tests/data/broken-contracts/unknown-kind');
SELECT telem_use_contracts('tests/data/broken-contracts/duplicate-id');
SELECT telem_use_contracts('tests/data/no-such-dir');
SELECT DISTINCT source FROM telem_taxonomy;
-- back to the embedded copy
SELECT telem_use_contracts(NULL) = (SELECT count(*) FROM telem_contracts);
SELECT DISTINCT source FROM telem_contracts;
-- bad arguments
SELECT telem_use_contracts(42);
SELECT telem_use_contracts('');
SELECT telem_use_contracts();
SELECT telem_column_class('a');
SELECT telem_version(1);
-- the virtual tables are read-only and need no CREATE
INSERT INTO telem_contracts(id) VALUES ('x');
