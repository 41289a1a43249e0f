-- spool.sql -- the upload spool: telem_enqueue's three rules, the stored
-- row, the status view, export in Vox's format, ack and requeue, the
-- DIRECTONLY guard, retention over the spool table.
-- Contracts: tests/data/spool-contracts (a taxonomy that allows upload).
.headers off
.mode list
SELECT 'sp01', contracts FROM telem_use_contracts('tests/data/spool-contracts');
-- before the first enqueue there is no table, and the views are empty
SELECT 'sp02', * FROM telem_spool;
SELECT 'sp03', count(*) FROM telem_spool_export;
SELECT 'sp04', count(*) FROM sqlite_master WHERE name = 'telem_spool_queue';
SELECT 'sp05', * FROM telem_spool_ack(1);
SELECT 'sp06', * FROM telem_spool_requeue(1, 'x');

-- accepted: id, a UUID v4 key, the class, the body's bytes, an ISO time
SELECT 'sp10', id, length(idempotency_key), substr(idempotency_key, 15, 1), class, bytes,
       created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'
  FROM telem_enqueue('spool.ok', '{"event":"start","ms":12}');
SELECT 'sp11', count(*) FROM sqlite_master WHERE name = 'telem_spool_queue';
-- the strict profile: secrets replaced, content hashed, S2 keys dropped; what
-- the profile neutralised does not count against S1
SELECT 'sp12', class FROM telem_enqueue('spool.free',
  '{"note":"mail bob@example.com","prompt":"hello there","password":"hunter22","path":"/home/alice/x","n":1}',
  'sess:7', 2);
SELECT 'sp13', payload FROM telem_spool_queue WHERE id = 2;
-- metric_value as serde_json writes an f64
SELECT 'sp14', group_concat(json_extract(line, '$.metric_value') IS NOT NULL) FROM telem_spool_export;
SELECT 'sp15', class FROM telem_enqueue('spool.free', NULL, 'task:1', 0.1);
SELECT 'sp16', class FROM telem_enqueue('spool.free', '[]', 'task:1', 1e21);
SELECT 'sp17', class FROM telem_enqueue('spool.free', '"s"', 'task:1', -3.5e-7);
SELECT 'sp18', class FROM telem_enqueue('spool.free', '{"u":"\u00e9\n"}', 'task:1', 100);
-- the number layouts of serde_json (ryu), checked through the body
CREATE TABLE nums(v REAL);
INSERT INTO nums VALUES (0.0), (-0.0), (1e20), (1e21), (1e-6), (1e-7), (123.456), (1.5e300), (5e-324), (0.3), (-2);
SELECT 'sp19', count(*) FROM nums, telem_enqueue('spool.free', NULL, 'num', nums.v);
SELECT 'sp19b', group_concat(substr(line, instr(line, '"metric_value":') + 15,
                                    instr(line, ',"session_id"') - instr(line, '"metric_value":') - 15), ' ')
  FROM telem_spool_export WHERE json_extract(line, '$.session_id') = 'num';
DELETE FROM telem_spool_queue WHERE session_id = 'num';

-- export: JSON Lines, Vox's ResearchMetric event, keys sorted, spool order
SELECT 'sp20', id, line FROM telem_spool_export;
SELECT 'sp21', count(*) FROM telem_spool_export WHERE bytes = length(CAST(line AS BLOB));
SELECT 'sp22', pending, bytes = (SELECT sum(bytes) FROM telem_spool_export), oldest <= newest,
       max_attempts, last_error FROM telem_spool;

-- refused, by rule, never echoing the payload
SELECT 'sp30', * FROM telem_enqueue('spool.local', '{}');
SELECT 'sp31', * FROM telem_enqueue('spool.export', '{}');
SELECT 'sp32', * FROM telem_enqueue('no.such.type', '{}');
SELECT 'sp33', * FROM telem_enqueue(NULL, '{}');
SELECT 'sp34', * FROM telem_enqueue('spool.ok', '{"event":"secret-value"}');
SELECT 'sp35', * FROM telem_enqueue('spool.ok', '{"event":"secret-value","ms":-1}');
SELECT 'sp36', * FROM telem_enqueue('spool.ok', '{"event":"secret-value"');
SELECT 'sp37', * FROM telem_enqueue('spool.free', 'free text secret-value');
SELECT 'sp38', * FROM telem_enqueue('spool.free', x'7b7d');
SELECT 'sp39', * FROM telem_enqueue('spool.free', '{"a":"' || printf('%.262144c', 'x') || '"}');
SELECT 'sp40', * FROM telem_enqueue('spool.s2', '{}');
SELECT 'sp41', * FROM telem_enqueue('spool.free', '{}', 'bob@example.com');
SELECT 'sp42', * FROM telem_enqueue('spool.free', '{}', '');
SELECT 'sp43', * FROM telem_enqueue('spool.free', '{}', 12);
SELECT 'sp44', * FROM telem_enqueue('spool.free', '{}', 's', 'x');
SELECT 'sp45', * FROM telem_enqueue('spool.free', '{}', 's', 9e999);
SELECT 'sp46', * FROM telem_enqueue('spool.free', '{}', printf('%.513c', 's'));
SELECT 'sp47', count(*) FROM telem_spool_queue;

-- argument counts
SELECT 'sp50', * FROM telem_enqueue('spool.free');
SELECT 'sp51', * FROM telem_enqueue('spool.free', '{}', 's', 1, 'extra');
SELECT 'sp52', * FROM telem_enqueue;
SELECT 'sp53', * FROM telem_spool_ack();
SELECT 'sp54', * FROM telem_spool_requeue(1);
SELECT 'sp55', * FROM telem_spool(1);

-- a correlated join enqueues row by row
CREATE TABLE rm(metric_type TEXT, metadata_json TEXT, session_id TEXT);
INSERT INTO rm VALUES ('spool.ok', '{"event":"a","ms":1}', 's:1'),
                      ('spool.ok', '{"event":"b","ms":2}', 's:2'),
                      ('spool.free', '{"c":3}', 's:3');
SELECT 'sp60', count(*), count(DISTINCT e.idempotency_key), min(e.id) > 6 FROM rm, telem_enqueue(rm.metric_type, rm.metadata_json, rm.session_id) e;
-- a refused row stops the statement; the rows before it stay, unless the
-- caller's transaction is rolled back
INSERT INTO rm VALUES ('spool.local', '{}', 's:4');
SELECT 'sp61', e.id FROM rm, telem_enqueue(rm.metric_type, rm.metadata_json, rm.session_id) e;
SELECT 'sp62', count(*) FROM telem_spool_queue;
BEGIN;
SELECT 'sp63', e.id FROM rm, telem_enqueue(rm.metric_type, rm.metadata_json, rm.session_id) e;
ROLLBACK;
SELECT 'sp64', count(*) FROM telem_spool_queue;

-- requeue: attempts up, error kept as valid UTF-8 and at most 1000 bytes
SELECT 'sp70', * FROM telem_spool_requeue(2, 'HTTP 503');
SELECT 'sp71', * FROM telem_spool_requeue(2, CAST(x'48545450ff3530' AS TEXT));
SELECT 'sp72', attempts, last_error, hex(last_error) FROM telem_spool_queue WHERE id = 2;
SELECT 'sp73', attempts FROM telem_spool_requeue(3, printf('%.5000c', 'e'));
SELECT 'sp73b', length(last_error) FROM telem_spool_queue WHERE id = 3;
SELECT 'sp74', * FROM telem_spool_requeue(999, 'x');
SELECT 'sp75', max_attempts, length(last_error) FROM telem_spool;
SELECT 'sp76', * FROM telem_spool_requeue('2', NULL);
SELECT 'sp77', last_error FROM telem_spool_queue WHERE id = 2;
SELECT 'sp78', * FROM telem_spool_requeue('two', 'x');

-- ack: the row goes; acking again is not an error; ids are never reused
SELECT 'sp80', * FROM telem_spool_ack(1);
SELECT 'sp81', * FROM telem_spool_ack(1);
SELECT 'sp82', * FROM telem_spool_ack(NULL);
SELECT 'sp83', * FROM telem_spool_ack(1.5);
SELECT 'sp84', count(*) FROM telem_spool_queue WHERE id = 1;
DELETE FROM telem_spool_queue WHERE id = (SELECT max(id) FROM telem_spool_queue);
SELECT 'sp85', max(id) FROM telem_spool_queue;
SELECT 'sp86', id FROM telem_enqueue('spool.free', '{}');

-- DIRECTONLY: no view or trigger can reach the spool
CREATE VIEW v_enq AS SELECT * FROM telem_enqueue('spool.free', '{}');
SELECT 'sp90', * FROM v_enq;
CREATE VIEW v_status AS SELECT * FROM telem_spool;
SELECT 'sp91', * FROM v_status;
CREATE TABLE t(x);
CREATE TRIGGER t_ack AFTER INSERT ON t BEGIN SELECT * FROM telem_spool_ack(NEW.x); END;
INSERT INTO t VALUES (2);
SELECT 'sp92', count(*) FROM telem_spool_queue WHERE id = 2;
SELECT 'sp93', name FROM pragma_module_list WHERE name LIKE 'telem_spool%' OR name = 'telem_enqueue' ORDER BY name;

-- retention covers the spool like any table (the test contracts' policy
-- lists telem_spool_queue: days 30 on created_at)
UPDATE telem_spool_queue SET created_at = '2020-01-01T00:00:00.000Z' WHERE id IN (2, 3);
SELECT 'sp95', table_name, kind, eligible_rows, status FROM telem_prune_plan WHERE table_name = 'telem_spool_queue';
SELECT 'sp96', table_name, rows_deleted, status FROM telem_prune_apply('telem_spool_queue');
SELECT 'sp97', count(*), sum(id IN (2, 3)) FROM telem_spool_queue;

-- a dropped spool table is created again by the next enqueue
DROP TABLE telem_spool_queue;
SELECT 'sp98', * FROM telem_spool;
SELECT 'sp99', id, class FROM telem_enqueue('spool.free', '{"k":1}');
SELECT 'sp99b', pending FROM telem_spool;

-- a spool table that is not as voxtelem made it (a trigger on it, other
-- columns, a CHECK) is never written or read: it could run someone's code
CREATE TRIGGER spool_spy AFTER INSERT ON telem_spool_queue BEGIN SELECT 1; END;
SELECT 'sq01', * FROM telem_enqueue('spool.free', '{"k":2}');
SELECT 'sq02', * FROM telem_spool;
SELECT 'sq03', * FROM telem_spool_ack(1);
SELECT 'sq04', * FROM telem_spool_requeue(1, 'x');
SELECT 'sq05', count(*) FROM telem_spool_export;
SELECT 'sq06', count(*) FROM telem_spool_queue;
DROP TRIGGER spool_spy;
SELECT 'sq07', pending FROM telem_spool;
SELECT 'sq08', id FROM telem_enqueue('spool.free', '{"k":3}');
DROP TABLE telem_spool_queue;
CREATE TABLE telem_spool_queue(id INTEGER PRIMARY KEY, idempotency_key TEXT, created_at TEXT,
  attempts INTEGER, metric_type TEXT, session_id TEXT, metric_value REAL, class TEXT,
  body TEXT CHECK (length(body) > 0), last_error TEXT, last_attempt_at TEXT);
SELECT 'sq09', * FROM telem_enqueue('spool.free', '{"k":4}');
SELECT 'sq10', count(*) FROM telem_spool_queue;
