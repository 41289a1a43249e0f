-- telem_use_contracts on a contracts directory in Vox's own index format
-- (derived fixture: tests/data/vox-contracts/ORIGIN.md).  Broken entries are
-- rows with an error; the rest stay usable; our own format stays strict.
.headers off
.mode list
.print '== a Vox-format directory loads'
SELECT 'c01', contracts FROM telem_use_contracts('tests/data/vox-contracts/contracts');
SELECT 'c02', id, path, kind, enforced_by, coalesce(error, 'ok') FROM telem_contracts ORDER BY rowid;
SELECT 'c03', count(*), count(error) FROM telem_contracts;
.print '== the usable ones work'
SELECT 'c04', telem_validate('{"tool":"fs_write","reason":"destructive","risk_score":80}', 'telem' || 'etry-agentos-guardrail-deny-v1-schema');
SELECT 'c05', telem_validate('{"tool":"fs_write","risk_score":180}', 'telemetry-agentos-guardrail-deny-v1-schema');
.print '== a broken one is not used (unknown id), it does not block the others'
SELECT 'c06', telem_validate('{}', 'telemetry-completion-run-v1-schema');
.print '== no taxonomy in a Vox directory: every metric type is S3, no payload contract'
SELECT 'c07', telem_classify('benchmark_event'), quote(telem_metric_problem('bench:r', 'benchmark_event', NULL, '{}'));
.print '== our own format stays strict'
SELECT 'c08', contracts FROM telem_use_contracts('tests/data/broken-contracts/unknown-kind');
SELECT 'c09', count(*) FROM telem_contracts WHERE source LIKE '%vox-contracts%';
SELECT 'c10', (SELECT contracts FROM telem_use_contracts(NULL)) > 0, (SELECT count(*) FROM telem_contracts WHERE error IS NOT NULL);
.print '== hostile entries in a Vox-format index: rows with errors, the good one loads'
SELECT 'c11', contracts FROM telem_use_contracts('tests/data/vox-contracts/hostile');
SELECT 'c12', id, path, kind, quote(owner), quote(enforced_by), coalesce(error, 'ok') FROM telem_contracts ORDER BY rowid;
SELECT 'c13', (SELECT contracts FROM telem_use_contracts(NULL)) > 0;
