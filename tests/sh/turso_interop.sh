#!/usr/bin/env bash
# Interop with the engine Vox writes through: turso (npm package
# @tursodatabase/database, installed here into build/turso by npm), which
# cannot load C extensions.  A node process writes research_metrics rows,
# session after session (turso holds the file locked while connected),
# shaped as Vox writes them (some holding a secret, some dated 2020) into a
# database made from Vox's DDL, while sqlite3 with voxtelem audits, scrubs
# and prunes the same file.  Then: nothing the writer wrote is lost except
# what the policy prunes, integrity_check is ok, counts are exact, no secret
# is left, and no clean row was ever rewritten.
set -euo pipefail
SO=${VOXTELEM_SO:?}
SQLITE3=${SQLITE3:-sqlite3}
fail() { echo "FAIL: $*"; exit 1; }
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  echo "SKIP: npm/node not installed (needed for @tursodatabase/database)"
  exit 0
fi
T=$PWD/build/turso
mkdir -p "$T"
if [ ! -d "$T/node_modules/@tursodatabase/database" ]; then
  (cd "$T" && npm install --no-audit --no-fund --silent @tursodatabase/database >npm.log 2>&1) ||
    fail "npm install @tursodatabase/database failed: $(tail -3 "$T/npm.log")"
fi
ver=$(node -p "require('$T/node_modules/@tursodatabase/database/package.json').version")
cat > "$T/writer.mjs" <<'JS'
// Writes N rows the way Vox's append_research_metric does (session_id,
// metric_type, metric_value, metadata_json; created_at from the default),
// except that every 4th row is dated 2020 so that the prune has work.
// Every 10th payload carries a token under "details" (a secret to scrub).
// turso 0.7.2 holds a lock on the file for as long as a connection is open
// (sqlite3 waits, busy, until it closes) and refuses to open a file another
// process has locked ("Locking error: ... File is locked by another
// process"), so the writer works in sessions, as a Vox command does: open,
// write a batch, close; an open refused because sqlite3 holds the file is
// retried.
import { connect } from '@tursodatabase/database';
const [path, n, per] = [process.argv[2], +process.argv[3], +process.argv[4]];
const fs = await import('node:fs');
const sleep = (ms) => new Promise(r => setTimeout(r, ms));
let written = 0, oldRows = 0, openRetries = 0, sessions = 0;
for (let i = 0; i < n; ) {
  let db;
  for (;;) {
    try { db = await connect(path); break; }
    catch (e) {
      if (/lock/i.test(String(e)) && openRetries < 100000) { openRetries++; await sleep(3); continue; }
      console.error('writer open error:', String(e)); process.exit(2);
    }
  }
  if (sessions++ === 0) fs.writeFileSync(path + '.open', 'open');
  const now = db.prepare("INSERT INTO research_metrics (session_id, metric_type, metric_value, metadata_json) VALUES (?1, ?2, ?3, ?4)");
  const old = db.prepare("INSERT INTO research_metrics (session_id, metric_type, metric_value, metadata_json, created_at) VALUES (?1, ?2, ?3, ?4, '2020-01-01 00:00:00')");
  for (let k = 0; k < per && i < n; k++, i++) {
    const meta = JSON.stringify({ name: 'vox_run_warm', repository_id: 'repo-' + (i % 7),
      details: i % 10 === 0 ? { note: 'push with token ghp_R8x2Kq9LmZ4vT7nB1cW5yH3jP6dF0sGaQeXo' } : { ms: i } });
    try { await (i % 4 === 3 ? old : now).run(`bench:w-${i}`, 'benchmark_event', i, meta); }
    catch (e) { console.error('writer error:', String(e)); process.exit(2); }
    written++; if (i % 4 === 3) oldRows++;
  }
  db.close();
  await sleep(15);
}
console.log(`${written} ${oldRows} ${openRetries} ${sessions}`);
JS
db=$T/interop.db
rm -f "$db" "$db-wal" "$db-shm" "$db.open"
$SQLITE3 -batch "$db" ".read sql/schema/research_metrics.sql" ".read sql/schema/ci_completion.sql"
N=3000
(cd "$T" && node writer.mjs "$db" $N 60 > writer.out 2> writer.err) &
wpid=$!
for _ in $(seq 1 600); do [ -f "$db.open" ] || ! kill -0 $wpid 2>/dev/null && break; sleep 0.05; done
[ -f "$db.open" ] || fail "the turso writer did not open the database: $(cat "$T/writer.err")"
rounds=0
run_gov() { # one round of governance beside the writer
  $SQLITE3 -batch -cmd ".load $SO" -cmd ".timeout 10000" "$db" ".read sql/audit.sql" \
    "SELECT count(*) FROM telem_audit_rows" \
    "SELECT rows_scrubbed FROM telem_scrub_apply('research_metrics', 'metadata_json', 'default', 100)" \
    "SELECT * FROM telem_prune_apply('research_metrics')" >/dev/null 2>"$T/gov.err" ||
    fail "governance round failed: $(head -3 "$T/gov.err")"
}
while kill -0 $wpid 2>/dev/null; do
  run_gov; rounds=$((rounds + 1))
done
during=$rounds
wait $wpid || fail "the turso writer failed: $(cat "$T/writer.err")"
read -r written old retries sessions < "$T/writer.out"
run_gov; rounds=$((rounds + 1))   # a last round after the writer is done
q() { $SQLITE3 -batch -cmd ".load $SO" -cmd ".timeout 10000" "$db" "$@"; }
echo "turso $ver wrote $written rows in $sessions sessions ($old dated 2020; $retries opens retried while sqlite3 held the file) during $during governance rounds ($rounds in all)"
[ "$written" = $N ] || fail "the writer wrote $written of $N rows"
[ "$during" -ge 3 ] || fail "only $during governance rounds ran while turso wrote: not a concurrent test"
ic=$(q "PRAGMA integrity_check")
[ "$ic" = ok ] || fail "integrity_check: $ic"
left=$(q "SELECT count(*) FROM research_metrics")
[ "$left" = $((N - old)) ] || fail "$left rows left, expected $((N - old)) (written $N, pruned $old)"
lost=$(q "WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < $N - 1)
          SELECT count(*) FROM i WHERE n % 4 <> 3 AND NOT EXISTS
            (SELECT 1 FROM research_metrics WHERE session_id = 'bench:w-' || n)")
[ "$lost" = 0 ] || fail "$lost rows the policy keeps are missing"
pruned=$(q "SELECT coalesce(sum(rows_deleted), 0) FROM telem_prune_log WHERE table_name = 'research_metrics'")
[ "$pruned" = "$old" ] || fail "prune log says $pruned rows deleted, the writer dated $old rows 2020"
secrets=$(q "SELECT count(*) FROM research_metrics WHERE metadata_json LIKE '%ghp_%'")
[ "$secrets" = 0 ] || fail "$secrets rows still hold the token"
scrubbed=$(q "SELECT coalesce(sum(rows_scrubbed), 0) FROM telem_scrub_log")
want=$(q "SELECT count(*) FROM research_metrics WHERE metadata_json LIKE '%[REDACTED:%'")
kept_secret_rows=$(( (N + 9) / 10 ))
echo "scrub: $scrubbed rows rewritten over all rounds, $want rows now hold a redaction; prune: $pruned rows"
# every rewrite was a row with the token: those dated 2020 may have been
# scrubbed and then pruned, so rewrites lie between the kept ones and all
[ "$want" -le "$scrubbed" ] && [ "$scrubbed" -le "$kept_secret_rows" ] ||
  fail "scrub rewrote $scrubbed rows; $want hold a redaction, $kept_secret_rows were written with the token"
audit=$(q ".read sql/audit.sql" "SELECT count(*) FROM telem_audit_rows")
[ "$audit" = 0 ] || fail "the audit still lists $audit rows"
echo "ok: nothing lost, integrity ok, counts exact"
