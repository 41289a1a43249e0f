-- telem_redact / telem_classify follow the connection's contracts: rules
-- are compiled per contracts source, a broken rule file is an error naming
-- the rule (on every call), a source without rules is an error.
.mode list
SELECT 'redact_contracts:5', telem_redact('{"a":"TCK-12 bob@example.com","internal_id":1}');
SELECT 'redact_contracts:6', contracts FROM telem_use_contracts('tests/data/redaction-contracts/custom-rules');
SELECT 'redact_contracts:7', telem_redact('{"a":"TCK-12 bob@example.com","internal_id":1}');
SELECT 'redact_contracts:8', telem_redact('{"a":"TCK-12 bob@example.com","internal_id":1}', 'keep-all');
SELECT 'redact_contracts:9', telem_redact('{}', 'strict');
SELECT 'redact_contracts:10', * FROM telem_redactions('{"a":"TCK-12","internal_note":"x"}');
-- no taxonomy here: every metric type is unknown, so S3
SELECT 'redact_contracts:12', telem_classify('benchmark_event');
SELECT 'redact_contracts:13', contracts FROM telem_use_contracts('tests/data/redaction-contracts/bad-rules');
SELECT 'redact_contracts:14', telem_redact('{"a":1}');
SELECT 'redact_contracts:15', telem_redact('{"a":1}');
SELECT 'redact_contracts:16', * FROM telem_redactions('x');
SELECT 'redact_contracts:17', telem_classify('benchmark_event', '{"a":1}');
SELECT 'redact_contracts:18', contracts FROM telem_use_contracts('tests/data/redaction-contracts/no-rules');
SELECT 'redact_contracts:19', telem_redact('x');
SELECT 'redact_contracts:20', telem_classify('only.type'), telem_classify('benchmark_event');
SELECT 'redact_contracts:21', telem_classify('only.type', '{"a":1}');
-- back to the embedded contracts
SELECT 'redact_contracts:23', contracts > 0 FROM telem_use_contracts(NULL);
SELECT 'redact_contracts:24', telem_redact('{"a":"TCK-12 bob@example.com","internal_id":1}');
SELECT 'redact_contracts:25', telem_classify('benchmark_event');
