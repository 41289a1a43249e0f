-- make demo, part 2: classification and redaction (telem_classify,
-- telem_redact, telem_redactions).  Expects the demo database of
-- sql/demo.sql (research_metrics filled by sql/demo_data.sql) and the
-- extension loaded; run from the repository root.
.read sql/governance.sql

.print ''
.print '== effective class per metric type (telem_governance_summary)'
SELECT effective_class, metric_type, taxonomy_class, rows FROM telem_governance_summary;

.print ''
.print '== rows whose payload raises their class above the taxonomy class'
SELECT metric_type, taxonomy_class, effective_class, rows
FROM telem_governance_summary WHERE effective_class > taxonomy_class;

CREATE TEMP TABLE demo_payloads(name TEXT, payload TEXT);
INSERT INTO demo_payloads VALUES
  ('tool call', '{"session_id":"mcp:tool-7","tool":"git","cwd":"/home/jdoe/work/api","arguments_json":"{\"remote\":\"https://jdoe:s3cr3t-pw@git.example.com/api.git\"}","env":{"GITHUB_TOKEN":"ghp_abcdefghijklmnopqrstuvwxyz0123456789","LANG":"C.UTF-8"},"duration_ms":412}'),
  ('error log', '{"metric_type":"telemetry.error","message":"login failed for ana.silva@example.com from 10.20.30.40 (password=hunter2!)","commit":"0123456789abcdef0123456789abcdef01234567","at":"2026-11-25T14:27:58Z"}');

.print ''
.print '== before'
SELECT name, payload FROM demo_payloads;
.print ''
.print '== after telem_redact(payload) -- profile default'
SELECT name, telem_redact(payload) AS redacted FROM demo_payloads;
.print ''
.print '== after telem_redact(payload, strict) -- what may leave the machine'
SELECT name, telem_redact(payload, 'strict') AS redacted FROM demo_payloads;
.print ''
.print '== what was redacted and why (telem_redactions) -- never the value'
SELECT d.name, r.path, r.rule, r.action, r.class
FROM demo_payloads d, telem_redactions(d.payload, 'strict') r;
