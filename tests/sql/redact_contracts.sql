-- telem_redact / telem_classify follow the connection's contracts: rules
-- are compiled per contracts source, a broken rule file is an error naming
-- the rule (on every call), a source without rules is an error.
.mode list
SELECT telem_redact('{"a":"TCK-12 bob@example.com","internal_id":1}');
SELECT contracts FROM telem_use_contracts('tests/data/redaction-contracts/custom-rules');
SELECT telem_redact('{"a":"TCK-12 bob@example.com","internal_id":1}');
SELECT telem_redact('{"a":"TCK-12 bob@example.com","internal_id":1}', 'keep-all');
SELECT telem_redact('{}', 'strict');
SELECT * FROM telem_redactions('{"a":"TCK-12","internal_note":"x"}');
-- no taxonomy here: every metric type is unknown, so S3
SELECT telem_classify('benchmark_event');
SELECT contracts FROM telem_use_contracts('tests/data/redaction-contracts/bad-rules');
SELECT telem_redact('{"a":1}');
SELECT telem_redact('{"a":1}');
SELECT * FROM telem_redactions('x');
SELECT telem_classify('benchmark_event', '{"a":1}');
SELECT contracts FROM telem_use_contracts('tests/data/redaction-contracts/no-rules');
SELECT telem_redact('x');
SELECT telem_classify('only.type'), telem_classify('benchmark_event');
SELECT telem_classify('only.type', '{"a":1}');
-- back to the embedded contracts
SELECT contracts > 0 FROM telem_use_contracts(NULL);
SELECT telem_redact('{"a":"TCK-12 bob@example.com","internal_id":1}');
SELECT telem_classify('benchmark_event');
