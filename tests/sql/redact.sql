-- telem_redact, telem_redactions, telem_classify: happy paths, every
-- error, and hostile input (50 MB, 100,000-deep JSON, invalid UTF-8, NUL
-- bytes, backtracking bait).  Errors are pinned in redact.expected.
.mode list
.separator |

-- ---- telem_redact: JSON ----------------------------------------------------
SELECT 'redact:8', telem_redact('{"password":"hunter2","note":"mail bob@example.com","n":1}');
SELECT 'redact:9', telem_redact('{"b":1,"a":{"api_key":"k","list":["81.2.69.160",null,true,2.5]},"z":"ok"}');
SELECT 'redact:10', telem_redact('{"Authorization":"Bearer abc123def456","X-Api-Key":"zzz"}');
SELECT 'redact:11', telem_redact('{"password":null,"token":"","secret":true}');
SELECT 'redact:12', telem_redact('{"pan":4111111111111111,"other":4111111111111112}');
SELECT 'redact:13', telem_redact('{"alice@example.com":3}');
SELECT 'redact:14', telem_redact('["/home/jdoe/src/x.rs","/Users/Shared/a","C:\\Users\\jdoe\\x"]');
SELECT 'redact:15', telem_redact('"just a string with 192.168.0.1"');
SELECT 'redact:16', telem_redact('42'), telem_redact('null'), telem_redact('[]'), telem_redact('{}');
SELECT 'redact:17', telem_redact('{ "spaced" : [ 1 , 2 ] }');
SELECT 'redact:18', telem_redact('{"esc":"line\nbreak \"q\" \u00e9 bob@example.com"}');
-- must survive
SELECT 'redact:20', telem_redact('{"id":"550e8400-e29b-41d4-a716-446655440000","commit":"0123456789abcdef0123456789abcdef01234567","ts":"2026-11-25T14:27:58.123Z","version":"1.2.3.4","file":"src/main.rs","metric_type":"orch.circuit_breaker.trip","session_id":"bench:repo-42","n":"4111111111111112","field":"password","ms":1764080878123}');

-- JSON inside a string is walked too (key rules apply; paths continue into it)
SELECT 'redact:23', telem_redact('{"request":"{\"api_key\":\"k\",\"q\":\"hi\"}","note":"[1, 2]"}');
SELECT 'redact:24', * FROM telem_redactions('{"request":"{\"api_key\":\"k\",\"prompt\":\"hi\"}"}', 'strict');

-- ---- profiles ----------------------------------------------------------------
SELECT 'redact:27', telem_redact('{"prompt":"hi there","path":"src/a.rs","password":"x"}', 'default');
SELECT 'redact:28', telem_redact('{"prompt":"hi there","path":"src/a.rs","password":"x"}', 'hash');
SELECT 'redact:29', telem_redact('{"prompt":"hi there","path":"src/a.rs","password":"x"}', 'omit');
SELECT 'redact:30', telem_redact('{"prompt":"hi there","path":"src/a.rs","password":"x"}', 'strict');
SELECT 'redact:31', telem_redact('{"messages":[{"role":"user","content":"x"}]}', 'hash');
SELECT 'redact:32', telem_redact('{"prompt":"a"}', NULL);
-- hash is XXH3-64 of the compact JSON of the value: the same value hashes the same
SELECT 'redact:34', telem_redact('{"prompt":"same"}', 'hash') = telem_redact('{"prompt" : "same"}', 'hash');
SELECT 'redact:35', telem_redact('{"prompt":"same"}', 'hash') = telem_redact('{"prompt":"other"}', 'hash');
SELECT 'redact:36', telem_redact('{"prompt":"x"}', 'nope');
SELECT 'redact:37', telem_redact('{"prompt":"x"}', '');

-- ---- telem_redact: text ------------------------------------------------------
SELECT 'redact:40', telem_redact('login password=hunter2 for bob@example.com from 81.2.69.167');
SELECT 'redact:41', telem_redact('GET / HTTP/1.1' || char(10) || 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl');
SELECT 'redact:42', telem_redact('postgres://app:s3cr3tpw@db.internal:5432/app');
SELECT 'redact:43', telem_redact('the word password is fine; so is bearer authentication');
SELECT 'redact:44', telem_redact('{"truncated": "bob@example.com"');
-- malformed JSON under a profile that hashes or drops members: an error
-- (scrubbing it as text would keep the content the profile removes)
SELECT 'redact:47', telem_redact('{"prompt": "truncated', 'omit');
SELECT 'redact:48', telem_redact('  [{"prompt": 1,}]', 'strict');
SELECT 'redact:49', * FROM telem_redactions('{"prompt": "truncated', 'hash');
SELECT 'redact:50', telem_redact('plain text is fine', 'strict');
SELECT 'redact:51', telem_redact(NULL), telem_redact(NULL, 'strict');
SELECT 'redact:52', telem_redact();
SELECT 'redact:53', telem_redact('a', 'default', 3);
SELECT 'redact:54', typeof(telem_redact(x'7b7d'));

-- ---- telem_redactions ----------------------------------------------------------
SELECT 'redact:57', * FROM telem_redactions('{"password":"x","note":"mail bob@example.com","arr":[1,"81.2.69.5"],"a/b":{"token":"t"}}');
SELECT 'redact:58', * FROM telem_redactions('{"prompt":"x","path":"a"}', 'strict');
SELECT 'redact:59', * FROM telem_redactions('password=x1y2z3 and carol@example.org');
SELECT 'redact:60', count(*) FROM telem_redactions('{"nothing":"here"}');
SELECT 'redact:61', count(*) FROM telem_redactions(NULL);
SELECT 'redact:62', * FROM telem_redactions('{}', 'nope');
SELECT 'redact:63', * FROM telem_redactions;

-- ---- telem_classify ------------------------------------------------------------
SELECT 'redact:66', telem_classify('benchmark_event'), telem_classify('syntax_k_event'), telem_classify('memory_hybrid_fusion');
SELECT 'redact:67', telem_classify('no.such.type'), telem_classify(''), telem_classify(NULL);
SELECT 'redact:68', telem_classify('benchmark_event', NULL);
SELECT 'redact:69', telem_classify();
SELECT 'redact:70', telem_classify('a', 'b', 'c');
SELECT 'redact:71', * FROM telem_redactions('a', 'default', 'x');
SELECT 'redact:72', telem_classify('benchmark_event', '{"duration_ms":3,"ok":true}');
SELECT 'redact:73', telem_classify('benchmark_event', '{"rel_file":"src/a.rs"}');
SELECT 'redact:74', telem_classify('benchmark_event', '{"branch":"main"}');
SELECT 'redact:75', telem_classify('benchmark_event', '{"fingerprint":"ab12"}');
SELECT 'redact:76', telem_classify('benchmark_event', '{"prompt":"hi"}');
SELECT 'redact:77', telem_classify('benchmark_event', '{"prompt":""}');
SELECT 'redact:78', telem_classify('benchmark_event', '{"note":"from 81.2.69.5"}');
SELECT 'redact:79', telem_classify('benchmark_event', '{"note":"ghp_k3Jd8sPq2mZx7VtR4nLw9cYb1HfGa6Ue0oTi"}');
SELECT 'redact:80', telem_classify('benchmark_event', '{"password":"x"}');
SELECT 'redact:81', telem_classify('benchmark_event', 'free text, not JSON');

-- ---- hostile input -------------------------------------------------------------
-- 50 MB of text and of JSON: a result, never a crash
SELECT 'redact:85', length(telem_redact(printf('%.*c', 50000000, 'a')));
SELECT 'redact:86', length(telem_redact('["' || printf('%.*c', 50000000, 'x') || ' bob@example.com"]'));
-- 100,000-deep JSON: a clear error (not scrubbed as text)
SELECT 'redact:88', telem_redact(printf('%.*c', 100000, '[') || printf('%.*c', 100000, ']'));
SELECT 'redact:89', * FROM telem_redactions(replace(printf('%.*c', 100000, 'x'), 'x', '{"a":') || '1' || printf('%.*c', 100000, '}'));
SELECT 'redact:90', telem_classify('benchmark_event', printf('%.*c', 100000, '['));
-- 1000 deep is fine
SELECT 'redact:92', length(telem_redact(printf('%.*c', 999, '[') || '"bob@example.com"' || printf('%.*c', 999, ']')));
-- JSON with more values than the parser takes (4,194,304) is an error, not
-- scrubbed as text (key rules would not apply; escapes could break)
SELECT 'redact:95', telem_redact('{"signing_key":"q8Zk2Lm9Xv","a":[' || replace(printf('%.*c', 4200000, 'a'), 'a', '1,') || '1]}');
SELECT 'redact:96', count(*) FROM telem_redactions('["x\nbob@example.com",' || replace(printf('%.*c', 4200000, 'a'), 'a', '1,') || '1]');
SELECT 'redact:97', telem_redact('{"a":"{\"signing_key\":\"q8Zk2Lm9Xv\",\"a\":[' || replace(printf('%.*c', 4200000, 'a'), 'a', '1,') || '1]}"}');
SELECT 'redact:98', telem_classify('benchmark_event', '[' || replace(printf('%.*c', 4200000, 'a'), 'a', '1,') || '1]');
-- JSON whose fault is invalid UTF-8 is repaired (U+FFFD) and redacted as JSON
SELECT 'redact:100', hex(telem_redact(CAST(x'7b2261223a22ff227d' AS TEXT)));
SELECT 'redact:101', telem_redact(CAST(x'7b2270726f6d7074223a2268ff222c2270617373776f7264223a2278227d' AS TEXT), 'omit');
SELECT 'redact:102', * FROM telem_redactions(CAST(x'7b2270617373776f7264223a2278ff227d' AS TEXT));
SELECT 'redact:103', telem_classify('benchmark_event', CAST(x'7b2270617468223a2261ff227d' AS TEXT));
-- so is JSON whose fault is a lone surrogate escape (a string cut inside a
-- pair): each becomes \ufffd; escaped backslashes and real pairs stay
SELECT 'redact:106', telem_redact('{"signing_key":"q8Zk2Lm9Xv","name":"emoji \ud83d","b":"\udc00 \\ud800 \ud83d\ude00"}');
SELECT 'redact:107', telem_redact('{"prompt":"hi \ud83d","password":"x"}', 'hash');
SELECT 'redact:108', * FROM telem_redactions('{"signing_key":"q8Zk2Lm9Xv","name":"\ud83d"}');
SELECT 'redact:109', telem_classify('benchmark_event', '{"name":"emoji \ud83d"}');
-- other invalid UTF-8 is text: scrubbed in byte mode, bytes passed through
SELECT 'redact:111', hex(telem_redact(CAST(x'ff20626f62406578616d706c652e636f6d20fe' AS TEXT)));
SELECT 'redact:112', hex(telem_redact(CAST(x'c3' AS TEXT)));
-- NUL bytes: in JSON only as \u0000; raw NULs make text
SELECT 'redact:114', telem_redact('{"a":"x\u0000y bob@example.com"}');
SELECT 'redact:115', hex(telem_redact(CAST(x'6100626f62406578616d706c652e636f6d' AS TEXT)));
-- backtracking bait: long runs that nearly match
SELECT 'redact:117', length(telem_redact(replace(printf('%.*c', 200000, 'a'), 'a', 'a.')));
SELECT 'redact:118', length(telem_redact(replace(printf('%.*c', 100000, 'a'), 'a', 'a@')));
SELECT 'redact:119', length(telem_redact(replace(printf('%.*c', 100000, 'a'), 'a', '1.')));
SELECT 'redact:120', length(telem_redact(replace(printf('%.*c', 100000, 'a'), 'a', 'f:')));
SELECT 'redact:121', length(telem_redact(replace(printf('%.*c', 100000, 'a'), 'a', '4 ')));
SELECT 'redact:122', length(telem_redact(replace(printf('%.*c', 50000, 'a'), 'a', 'password=')));
SELECT 'redact:123', length(telem_redact(replace(printf('%.*c', 50000, 'a'), 'a', 'x://a:b')));
SELECT 'redact:124', length(telem_redact('-----BEGIN PRIVATE KEY-----' || printf('%.*c', 1000000, 'A')));
SELECT 'redact:125', length(telem_redact(replace(printf('%.*c', 20000, 'a'), 'a', '-----BEGIN RSA ')));
SELECT 'redact:126', length(telem_redact(replace(printf('%.*c', 100000, 'a'), 'a', '/home/')));
SELECT 'redact:127', length(telem_redact(replace(printf('%.*c', 500000, 'a'), 'a', 'a_') || ' key:x'));
SELECT 'redact:128', length(telem_redact('-----BEGIN PRIVATE KEY-----' || replace(printf('%.*c', 500000, 'A'), 'A', '-A')));
SELECT 'redact:129', telem_redact('postgres://app:s3cr3tpw@db.internal:5432/app mailto:bob@example.com credentials: password: abc123');
-- deterministic
SELECT 'redact:131', telem_redact('{"k":"bob@example.com","prompt":"p"}', 'hash') = telem_redact('{"k":"bob@example.com","prompt":"p"}', 'hash');
-- output is always valid JSON for JSON input
SELECT 'redact:133', json_valid(telem_redact('{"a":"4111 1111 1111 1111","b":{"c":["::1","fe80::1%eth0"]}}'));
-- telem_classify never fails on data: embedded JSON too deep to read is S3
-- (regression: it was an error that aborted a whole governance query)
SELECT 'redact:136', telem_classify('benchmark_event', json_object('args', printf('%.*c', 2000, '[') || printf('%.*c', 2000, ']')));
SELECT 'redact:137', telem_classify('benchmark_event', json_object('n', 1));
-- JSON-looking text that does not parse is scrubbed as text: name=value and
-- "name": "value" secrets are still found for the key-rule names
SELECT 'redact:140', telem_redact('{"signing_key":"q8Zk2Lm9Xv",}');
SELECT 'redact:141', telem_redact('{"encryption_key": "q8Zk2Lm9Xv"');
SELECT 'redact:142', telem_redact('the signing key rotation is due');
-- issue 13 row 7 (speed): a digit run counts its digits, not its separators,
-- in long strings as in short ones (phone-national needs 9)
SELECT 'redact:145', telem_redact(json_object('note', printf('%.*c', 70, 'x') || ' call 012 345 678 now'));
SELECT 'redact:146', telem_redact(json_object('note', 'call 012 345 678 now'));
SELECT 'redact:147', telem_redact(json_object('note', 'dated 2025-11-24T16:00:01.000Z, id 12345678-1234'));
-- a compact row is written from its first change on: at the first member,
-- the last, a key, an omitted first member, inside an array, nested
SELECT 'redact:150', telem_redact('{"a":"bob@example.com","b":1,"c":[true,null]}');
SELECT 'redact:151', telem_redact('{"a":1,"b":[1,2],"c":"bob@example.com"}');
SELECT 'redact:152', telem_redact('{"a":1,"bob@example.com":[1,2],"c":3}');
SELECT 'redact:153', telem_redact('{"args":{"q":1},"b":2}', 'omit');
SELECT 'redact:154', telem_redact('{"b":2,"args":{"q":1}}', 'omit');
SELECT 'redact:155', telem_redact('{"b":[1,"x",["y","bob@example.com"],4],"c":{"d":{"password":"p"}},"e":5}');
SELECT 'redact:156', telem_redact('[{"k":1},"bob@example.com",2]');
SELECT 'redact:157', telem_redact('{"a": "bob@example.com", "b": 1}');
-- values are remembered clean per the rules their key skips: an address
-- under a version key is kept, the same text under another key is not
SELECT 'redact:160', telem_redact('{"version":"81.2.69.160"}'), telem_redact('{"version":"81.2.69.160"}'),
  telem_redact('{"version":"81.2.69.160"}'), telem_redact('{"v":"81.2.69.160"}');
-- keywords of two bytes (ipv6 "::") gate by a tracked byte
SELECT 'redact:163', telem_redact('{"a":"2a00:1450:4001:81b::200e","b":"no colons here"}');
