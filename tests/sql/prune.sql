-- Prune: the plan and the batched apply on their own (tests/sql/retention.sql
-- covers the policy).  Each assertion is labelled pNN so a failing line
-- names its query.  Every run uses now = 2026-01-01T00:00:00Z.
.headers off
.mode list

-- p01-p05: a table without an index on its time column, timestamps in
-- shuffled order, both ISO forms: the rowid-range strategy.
CREATE TABLE t_noidx(id INTEGER PRIMARY KEY, v TEXT, created_at TEXT NOT NULL);
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 1000)
INSERT INTO t_noidx(v, created_at)
SELECT 'v' || n, strftime(CASE n % 2 WHEN 0 THEN '%Y-%m-%d %H:%M:%S' ELSE '%Y-%m-%dT%H:%M:%SZ' END,
                          '2024-06-01', '+' || ((n * 7919) % 1000) || ' days')
FROM i;
SELECT 'prune:15', (SELECT rules FROM telem_policy_import('tables:
  t_noidx: {kind: days, days: 365, time_column: created_at, rationale: test}
  t_idx: {kind: days, days: 365, time_column: created_at, rationale: test}
  p: {kind: days, days: 365, time_column: at, rationale: test}
  c: {kind: cascade, cascade_from: p, rationale: test}
')) > 0;
CREATE TABLE t_idx(id INTEGER PRIMARY KEY, created_at TEXT);
CREATE INDEX t_idx_at ON t_idx(created_at);
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 1000)
INSERT INTO t_idx(created_at) SELECT strftime('%Y-%m-%dT%H:%M:%SZ', '2024-06-01', '+' || ((n * 7919) % 1000) || ' days') FROM i;
CREATE TABLE p(id INTEGER PRIMARY KEY, at TEXT);
CREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id) ON DELETE CASCADE, x TEXT);
CREATE INDEX c_p ON c(p_id);
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 200)
INSERT INTO p(id, at) SELECT n, strftime('%Y-%m-%d %H:%M:%S', '2024-06-01', '+' || (((n * 37) % 200) * 3) || ' days') FROM i;
INSERT INTO c(p_id, x) SELECT id, 'a' FROM p UNION ALL SELECT id, 'b' FROM p WHERE id % 2 = 0;
CREATE TABLE want AS
  SELECT 't_noidx' AS t, count(*) AS n FROM t_noidx WHERE julianday(created_at) < julianday('2025-01-01')
  UNION ALL SELECT 't_idx', count(*) FROM t_idx WHERE julianday(created_at) < julianday('2025-01-01')
  UNION ALL SELECT 'p', count(*) FROM p WHERE julianday(at) < julianday('2025-01-01')
  UNION ALL SELECT 'c', count(*) FROM c WHERE p_id IN (SELECT id FROM p WHERE julianday(at) < julianday('2025-01-01'));
SELECT 'p01', table_name, status, eligible_rows = (SELECT n FROM want WHERE t = table_name), quote(cascade_rows)
FROM telem_prune_plan('2026-01-01T00:00:00Z') ORDER BY table_name;
SELECT 'p02', (SELECT sum(n) FROM want) = (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, 37, '2026-01-01T00:00:00Z'));
SELECT 'p03', count(*) FROM t_noidx WHERE julianday(created_at) < julianday('2025-01-01');
SELECT 'p04', count(*) = 1000 - (SELECT n FROM want WHERE t = 't_noidx') FROM t_noidx;
SELECT 'p05', table_name, rows_deleted = (SELECT n FROM want WHERE t = table_name), batches, status
FROM telem_prune_log ORDER BY id;
SELECT 'p06', count(*) FROM c WHERE p_id NOT IN (SELECT id FROM p);
SELECT 'p07', count(*) FROM p WHERE julianday(at) < julianday('2025-01-01');
SELECT 'p08', count(*) = 1000 - (SELECT n FROM want WHERE t = 't_idx') FROM t_idx;
-- a second run finds nothing
SELECT 'p09', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, NULL, '2026-01-01T00:00:00Z'));

-- p10-p12: children with foreign_keys ON, adaptive batches
PRAGMA foreign_keys = ON;
DELETE FROM p; DELETE FROM c;
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 300)
INSERT INTO p(id, at) SELECT n, strftime('%Y-%m-%dT%H:%M:%fZ', '2024-06-01', '+' || (((n * 37) % 300) * 2) || ' days') FROM i;
INSERT INTO c(p_id, x) SELECT id, 'a' FROM p UNION ALL SELECT id, 'b' FROM p WHERE id % 3 = 0;
DELETE FROM want;
INSERT INTO want SELECT 'p', count(*) FROM p WHERE julianday(at) < julianday('2025-01-01')
  UNION ALL SELECT 'c', count(*) FROM c WHERE p_id IN (SELECT id FROM p WHERE julianday(at) < julianday('2025-01-01'));
SELECT 'p10', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply('p', NULL, '2026-01-01T00:00:00Z')) = (SELECT sum(n) FROM want);
SELECT 'p11', count(*) FROM c WHERE p_id IN (SELECT id FROM p WHERE julianday(at) < julianday('2025-01-01'))
              OR p_id NOT IN (SELECT id FROM p);
SELECT 'p12', table_name, rows_deleted = (SELECT n FROM want WHERE t = table_name), cascaded_rows > 0, status
FROM telem_prune_log WHERE run_id = (SELECT max(run_id) FROM telem_prune_log) ORDER BY id;
PRAGMA foreign_key_check;

-- p13-p16: errors name the function; nothing is deleted by a refused call
CREATE TABLE before AS SELECT count(*) AS n FROM p;
SELECT 'p13', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply('c'));
SELECT 'p14', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, 0));
SELECT 'p15', (SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_apply(NULL, NULL, 'soon'));
SELECT 'p16', (SELECT n FROM before) = (SELECT count(*) FROM p);

-- p17-p18: an index on the time column and rows written in time order:
-- keyed batches (slices of the index), mixed ISO forms around the cutoff
CREATE TABLE t_ord(id INTEGER PRIMARY KEY, created_at TEXT);
CREATE INDEX t_ord_at ON t_ord(created_at);
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 2000)
INSERT INTO t_ord(created_at) SELECT strftime(CASE n % 2 WHEN 0 THEN '%Y-%m-%d %H:%M:%S' ELSE '%Y-%m-%dT%H:%M:%SZ' END,
  '2024-12-31T23:00:00Z', '+' || (n * 3) || ' seconds') FROM i;
INSERT INTO telem_retention(table_name, kind, days, time_column) VALUES ('t_ord', 'days', 365, 'created_at');
CREATE TABLE want_ord AS SELECT count(*) AS n FROM t_ord WHERE julianday(created_at) < julianday('2025-01-01');
SELECT 'p17', rows_deleted = (SELECT n FROM want_ord), batches, status FROM telem_prune_apply('t_ord', 100, '2026-01-01T00:00:00Z');
SELECT 'p18', count(*) FROM t_ord WHERE julianday(created_at) < julianday('2025-01-01');

-- p19-p22: a child without an index on its key to the parent goes in one
-- pass over it before the parents (not one scan per parent batch); the
-- plan says so.  Composite key, foreign_keys off then on.
CREATE TABLE up(a INTEGER, b TEXT, at TEXT, PRIMARY KEY (a, b));
CREATE TABLE uc(id INTEGER PRIMARY KEY, pa INTEGER, pb TEXT, at TEXT,
  FOREIGN KEY (pa, pb) REFERENCES up(a, b) ON DELETE CASCADE);
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 300)
INSERT INTO up SELECT n % 7, 'k' || n, CASE WHEN n % 3 = 0 THEN '2026-06-01' ELSE '2020-01-01' END FROM i;
INSERT INTO uc(pa, pb, at) SELECT a, b, '2026-06-01' FROM up UNION ALL SELECT a, b, '2026-06-01' FROM up WHERE a = 1;
INSERT INTO telem_retention(table_name, kind, days, time_column) VALUES ('up', 'days', 365, 'at');
CREATE TABLE want_u AS SELECT (SELECT count(*) FROM up WHERE at < '2025') AS p,
  (SELECT count(*) FROM uc WHERE (pa, pb) IN (SELECT a, b FROM up WHERE at < '2025')) AS c;
SELECT 'p19', table_name, kind, status, note LIKE '%no index on its key to up: its rows go in one pass%'
FROM telem_prune_plan('2026-01-01T00:00:00Z') WHERE table_name IN ('up', 'uc') ORDER BY table_name;
PRAGMA foreign_keys = OFF;
SELECT 'p20', table_name, rows_deleted = CASE table_name WHEN 'up' THEN (SELECT p FROM want_u) ELSE (SELECT c FROM want_u) END, status
FROM telem_prune_apply('up', 7, '2026-01-01T00:00:00Z');
SELECT 'p21', (SELECT count(*) FROM uc WHERE (pa, pb) NOT IN (SELECT a, b FROM up)), (SELECT count(*) FROM up WHERE at < '2025');
PRAGMA foreign_keys = ON;
INSERT INTO up VALUES (99, 'old', '2019-01-01');
INSERT INTO uc(pa, pb, at) VALUES (99, 'old', '2026-06-01'), (99, 'old', '2026-06-01');
SELECT 'p22', table_name, rows_deleted FROM telem_prune_apply('up', NULL, '2026-01-01T00:00:00Z');
PRAGMA foreign_key_check;
