-- JSON Schema dialects by $schema, format as an assertion, schemas
-- registered per connection, the compile cache and the work budget.
.headers off
.mode list

.print '== dialects follow $schema'
SELECT 'd4-exclusive-bool', telem_validate('10', '{"$schema":"http://json-schema.org/draft-04/schema#","maximum":10,"exclusiveMaximum":true}'),
       telem_validate('9', '{"$schema":"http://json-schema.org/draft-04/schema#","maximum":10,"exclusiveMaximum":true}');
SELECT 'd4-no-const', telem_validate('2', '{"$schema":"http://json-schema.org/draft-04/schema#","const":1}');
SELECT 'd6-const', telem_validate('2', '{"$schema":"http://json-schema.org/draft-06/schema#","const":1}');
SELECT 'd6-no-if', telem_validate('2', '{"$schema":"http://json-schema.org/draft-06/schema#","if":true,"then":false}');
SELECT 'd7-if', telem_validate('2', '{"$schema":"http://json-schema.org/draft-07/schema#","if":true,"then":false}');
SELECT 'd7-ref-siblings', telem_validate('"x"', '{"$schema":"http://json-schema.org/draft-07/schema#","$ref":"#/definitions/a","type":"integer","definitions":{"a":{}}}');
SELECT 'd2019-ref-siblings', telem_validate('"x"', '{"$schema":"https://json-schema.org/draft/2019-09/schema","$ref":"#/$defs/a","type":"integer","$defs":{"a":{}}}');
SELECT 'd2019-tuple', telem_validate('[1,"a",3]', '{"$schema":"https://json-schema.org/draft/2019-09/schema","items":[{"type":"integer"},{"type":"string"}],"additionalItems":false}'),
       telem_validate('[1,"a"]', '{"$schema":"https://json-schema.org/draft/2019-09/schema","items":[{"type":"integer"},{"type":"string"}],"additionalItems":false}');
SELECT 'd2019-recursive', telem_validate('{"a":{"a":1}}', '{"$schema":"https://json-schema.org/draft/2019-09/schema","$recursiveAnchor":true,"type":"object","additionalProperties":{"$recursiveRef":"#"}}');
SELECT 'd2020-prefix', telem_validate('[1,"a",3]', '{"$schema":"https://json-schema.org/draft/2020-12/schema","prefixItems":[{"type":"integer"},{"type":"string"}],"items":false}');
SELECT 'default-2020', telem_validate('[1,"a"]', '{"prefixItems":[{"type":"integer"},{"type":"string"}],"items":false}');
SELECT 'unknown-schema', telem_validate('1', '{"$schema":"https://example.com/no-such-meta","type":"integer"}');

.print '== meta-schemas of every draft validate schemas'
SELECT 'meta-d4', telem_validate('{"type":"integer","exclusiveMinimum":true,"minimum":1}', 'meta.draft-04'),
       telem_validate('{"type":"integer","exclusiveMinimum":1}', 'meta.draft-04');
SELECT 'meta-d6', telem_validate('{"type":"nope"}', 'meta.draft-06');
SELECT 'meta-2019', telem_validate('{"minContains":-1}', 'meta.draft2019-09'),
       telem_validate('{"minContains":1}', 'meta.draft2019-09');
SELECT 'meta-2020', telem_validate('{"prefixItems":{}}', 'meta.draft2020-12'),
       telem_validate('{"prefixItems":[{}]}', 'meta.draft2020-12');

.print '== format: an annotation unless asked'
SELECT 'fmt-annotation', telem_validate('"not a date"', '{"format":"date"}');
SELECT 'fmt-assert', telem_validate('"not a date"', '{"format":"date"}', 'format'),
       telem_validate('"2024-02-29"', '{"format":"date"}', 'format'),
       telem_validate('"2023-02-29"', '{"format":"date"}', 'format');
SELECT 'fmt-kinds', telem_validate('"a@example.com"', '{"format":"email"}', 'format'),
       telem_validate('"::1"', '{"format":"ipv6"}', 'format'),
       telem_validate('"256.1.1.1"', '{"format":"ipv4"}', 'format'),
       telem_validate('"P1Y2D"', '{"format":"duration"}', 'format'),
       telem_validate('"2eb8aa08-aa98-11ea-b4aa-73b441d16380"', '{"format":"uuid"}', 'format'),
       telem_validate('"/a~2"', '{"format":"json-pointer"}', 'format'),
       telem_validate('"xn--X"', '{"format":"hostname"}', 'format');
SELECT 'fmt-unknown-format', telem_validate('"x"', '{"format":"no-such-format"}', 'format');
SELECT 'fmt-errors', keyword, message FROM telem_validate_errors('"x"', '{"format":"date-time"}', 'format');
SELECT 'fmt-errors-default', count(*) FROM telem_validate_errors('"x"', '{"format":"date-time"}');
SELECT 'fmt-assert-valid', telem_assert_valid('"x"', '{"format":"uri"}', 'format');
SELECT 'fmt-by-id', telem_validate('{"decision_id":"2eb8aa08-aa98-11ea-b4aa-73b441d16380","trigger":"guardrail","decision":"deny","decided_at":"2024-05-01T10:00:00Z"}', 'interruption-decision', 'format');
SELECT 'fmt-bad-option', telem_validate('1', '{}', 'formats');
SELECT 'fmt-vocabulary', telem_validate('"x"', '{"$schema":"https://json-schema.org/draft/2020-12/schema","$ref":"https://json-schema.org/draft/2020-12/meta/format-assertion","format":"ipv4"}');

.print '== telem_schema_register'
SELECT 'reg-unresolved', telem_validate('1', '{"$ref":"https://example.com/defs.json#/$defs/pos"}');
SELECT 'reg', * FROM telem_schema_register('https://example.com/defs.json', '{"$defs":{"pos":{"type":"integer","minimum":1}}}');
SELECT 'reg-ref', telem_validate('1', '{"$ref":"https://example.com/defs.json#/$defs/pos"}'),
       telem_validate('0', '{"$ref":"https://example.com/defs.json#/$defs/pos"}');
SELECT 'reg-by-uri', telem_validate('5', 'https://example.com/defs.json#/$defs/pos'),
       telem_validate('-5', 'https://example.com/defs.json#/$defs/pos');
SELECT 'reg-replace', * FROM telem_schema_register('https://example.com/defs.json', '{"$defs":{"pos":{"type":"integer","minimum":10}}}');
SELECT 'reg-replaced', telem_validate('5', '{"$ref":"https://example.com/defs.json#/$defs/pos"}');
SELECT 'reg-chain', * FROM telem_schema_register('https://example.com/b.json', '{"type":"array","items":{"$ref":"defs.json#/$defs/pos"}}');
SELECT 'reg-chained', telem_validate('[10,11]', 'https://example.com/b.json'), telem_validate('[10,1]', 'https://example.com/b.json');
SELECT 'reg-bad-uri', * FROM telem_schema_register('relative/path.json', '{}');
SELECT 'reg-bad-json', * FROM telem_schema_register('https://example.com/bad.json', '{"a":');
SELECT 'reg-unchanged', telem_validate('5', 'https://example.com/bad.json');
SELECT 'reg-args', * FROM telem_schema_register('https://example.com/x.json');
-- DIRECTONLY: a view or trigger of the database cannot register anything
CREATE VIEW reg_view AS SELECT * FROM telem_schema_register('https://example.com/v.json', '{}');
SELECT 'reg-in-view', * FROM reg_view;
CREATE TABLE reg_t(a);
CREATE TRIGGER reg_trig AFTER INSERT ON reg_t BEGIN SELECT * FROM telem_schema_register('https://example.com/t.json', '{}'); END;
INSERT INTO reg_t VALUES (1);
SELECT 'reg-trigger-did-nothing', telem_validate('1', 'https://example.com/t.json');
SELECT 'reg-count', documents FROM telem_schema_register('https://example.com/defs.json', '{"$defs":{"pos":{"type":"integer","minimum":10}}}');

.print '== schemas from a column: compiled once each, the right one per row'
CREATE TEMP TABLE rows(j, s);
INSERT INTO rows VALUES ('1', '{"type":"integer"}'), ('"a"', '{"type":"integer"}'),
  ('"a"', '{"type":"string"}'), ('1', '{"type":"string"}'), ('2', '{"enum":[1,2,3]}'),
  ('4', '{"enum":[1,2,3]}'), ('1', '{"type":"integer"}');
SELECT 'column', group_concat(telem_validate(j, s), '') FROM rows;
SELECT 'column-errors', group_concat(keyword, ',') FROM rows, telem_validate_errors(rows.j, rows.s);
SELECT 'column-assert', telem_assert_valid(j, s) FROM rows WHERE rowid = 2;

.print '== hashed lookups agree with the plain ones'
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
SELECT 'enum-2000', telem_validate('"v1999"', '{"enum":[' || group_concat('"v' || i || '"', ',') || ']}'),
       telem_validate('"v2001"', '{"enum":[' || group_concat('"v' || i || '"', ',') || ']}'),
       telem_validate('{"b":2,"a":1}', '{"enum":[' || group_concat('{"a":1,"b":' || i || '}', ',') || ']}')
FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
SELECT 'required-300', telem_validate('{' || group_concat('"k' || i || '":1', ',') || '}', '{"required":[' || group_concat('"k' || i || '"', ',') || ']}'),
       telem_validate('{' || group_concat('"k' || i || '":1', ',') || '}', '{"required":[' || group_concat('"k' || i || '"', ',') || ',"k0"]}'),
       telem_validate('{' || group_concat('"k' || i || '":' || i, ',') || '}', '{"properties":{' || group_concat('"k' || i || '":{"const":' || i || '}', ',') || '}}'),
       telem_validate('{' || group_concat('"k' || i || '":' || i, ',') || '}', '{"properties":{' || group_concat('"k' || i || '":{"const":' || (i + 1) || '}', ',') || '}}')
FROM n;
SELECT 'const-object', telem_validate('{"a":1,"b":[1,{"c":2.0}],"a":3}', '{"const":{"b":[1,{"c":2}],"a":3}}'),
       telem_validate('{"a":1,"b":[1,{"c":2.5}]}', '{"const":{"b":[1,{"c":2}],"a":1}}');

.print '== work budget: an exponential schema fails fast'
SELECT 'budget', telem_validate(printf('%.*c', 40, '[') || '1' || printf('%.*c', 40, ']'),
  '{"$defs":{"x":{"type":"array","anyOf":[{"items":{"$ref":"#/$defs/x"}},{"items":{"$ref":"#/$defs/x"}}]}},"$ref":"#/$defs/x"}');

.print '== simple patterns (byte table) answer as PCRE2 does'
SELECT 'pat-hex', telem_validate('"abcd"', '{"pattern":"^[0-9a-f]{4}$"}'), telem_validate('"abcg"', '{"pattern":"^[0-9a-f]{4}$"}'),
       telem_validate('"abc"', '{"pattern":"^[0-9a-f]{4}$"}'), telem_validate('"abcde"', '{"pattern":"^[0-9a-f]{4}$"}'),
       telem_validate('"ab\ncd"', '{"pattern":"^[0-9a-f]{4}$"}'), telem_validate('"abc\n"', '{"pattern":"^[0-9a-f]{3}$"}');
SELECT 'pat-range', telem_validate('"a-b_c"', '{"pattern":"^[a-z_-]{1,8}$"}'), telem_validate('""', '{"pattern":"^[a-z_-]{1,8}$"}'),
       telem_validate('"é"', '{"pattern":"^[a-z]+$"}'), telem_validate('""', '{"pattern":"^[a-z]*$"}'),
       telem_validate('"123"', '{"pattern":"^\\d{2,}$"}'), telem_validate('"1"', '{"pattern":"^\\d{2,}$"}');
