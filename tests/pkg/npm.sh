#!/usr/bin/env bash
# npm.sh -- the packed npm tarball (make npm), installed into a temporary
# project with `npm install <tarball>`, then governance queries (validate,
# classify, redact, the prune plan) through better-sqlite3 12 and libsql,
# each loaded with the package's load(db).
#
# The two drivers come from the npm registry once and are kept in
# build/npm/drivers-node<abi>/ (better-sqlite3 compiles against the local
# Node headers there; later runs need no network).  No npm, or no registry
# and no cached drivers: exit 77 (skipped) with one line saying which.
# Environment: VOXTELEM_NPM, VOXTELEM_VERSION (set by make pkgtest).
set -euo pipefail
TGZ=${VOXTELEM_NPM:?}
VERSION=${VOXTELEM_VERSION:?}
SRC=$PWD
fail() { echo "npm: FAIL: $*" >&2; exit 1; }
skip() { echo "npm test skipped: $*"; exit 77; }
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then skip "node or npm is not installed"; fi
[ -f "$TGZ" ] || fail "no tarball $TGZ (make npm)"
# Two tested drivers; better-sqlite3 13 crashes on Node 20, hence 12.
DRIVERS="better-sqlite3@12 libsql@0.5"

abi=$(node -p 'process.versions.modules')
CACHE=$SRC/build/npm/cache
DRV=$SRC/build/npm/drivers-node$abi
export npm_config_cache=$CACHE npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
# better-sqlite3 builds from source with the installed Node headers: its
# prebuilt binaries live outside the npm registry.
export npm_config_build_from_source=true
[ -f /usr/include/node/node.h ] && export npm_config_nodedir=/usr
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

if [ ! -f "$DRV/.complete" ]; then
  timeout 60 npm ping > "$T/ping" 2>&1 || skip "the npm registry is not reachable (npm ping failed) and build/npm holds no drivers yet"
  echo "== installing the drivers ($DRIVERS) into $DRV"
  rm -rf "$DRV.tmp" && mkdir -p "$DRV.tmp"
  # shellcheck disable=SC2086
  (cd "$DRV.tmp" && echo '{"name":"voxtelem-test-drivers","version":"0.0.0","private":true}' > package.json &&
   timeout 1200 npm install $DRIVERS > install.log 2>&1) \
    || fail "npm install $DRIVERS: $(tail -20 "$DRV.tmp/install.log")"
  rm -rf "$DRV" && mv "$DRV.tmp" "$DRV" && touch "$DRV/.complete"
fi

echo "== npm install $(basename "$TGZ") into a new project"
P=$T/project
mkdir "$P"
(cd "$P" && echo '{"name":"voxtelem-npm-test","version":"0.0.0","private":true}' > package.json &&
 npm install --offline "$TGZ" > "$T/install.out" 2>&1) || fail "npm install: $(cat "$T/install.out")"
[ -f "$P/node_modules/voxtelem/lib/linux-x64/voxtelem.so" ] || fail "the installed package has no linux-x64 .so"
grep -q '"voxtelem": *"file:' "$P/package.json" || fail "npm did not record the dependency"

cp "$SRC/sql/schema/research_metrics.sql" "$T/research_metrics.sql"
cat > "$P/test.js" <<'JS'
'use strict';
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const voxtelem = require('voxtelem');
const [ddlFile, version] = process.argv.slice(2);

const so = voxtelem.getLoadablePath();
assert(path.isAbsolute(so) && fs.existsSync(so), so);
assert.strictEqual(so, path.join(__dirname, 'node_modules', 'voxtelem', 'lib', 'linux-x64', 'voxtelem.so'));
assert.throws(() => voxtelem.load({}), /voxtelem\.load: expected a better-sqlite3 or libsql Database/);

for (const name of ['better-sqlite3', 'libsql']) {
  const Database = require(name);
  const db = new Database(':memory:');
  assert.strictEqual(voxtelem.load(db), db);
  const one = (sql, ...args) => Object.values(db.prepare(sql).get(...args))[0];

  assert.ok(one('SELECT telem_version() AS v').startsWith(`voxtelem ${version} `));
  db.exec(fs.readFileSync(ddlFile, 'utf8'));
  const ins = db.prepare('INSERT INTO research_metrics(session_id, metric_type, metadata_json, created_at) VALUES (?, ?, ?, ?)');
  ins.run('s1', 'benchmark_event', '{"rel_file":"src/a.rs"}', '2001-01-01 00:00:00');
  ins.run('s2', 'benchmark_event', '{"prompt":"hello"}', '2999-01-01 00:00:00');

  // validate: a schema given inline; classify; redact; the prune plan.
  assert.strictEqual(one(`SELECT telem_validate('{"a":1}', '{"properties":{"a":{"type":"string"}}}') AS v`), 0);
  assert.strictEqual(one(`SELECT telem_validate('{"a":"x"}', '{"properties":{"a":{"type":"string"}}}') AS v`), 1);
  const cls = db.prepare('SELECT telem_classify(metric_type, metadata_json) AS c FROM research_metrics ORDER BY id').all()
    .map(r => r.c);
  assert.deepStrictEqual(cls, ['S2', 'S3']);
  const red = one(`SELECT telem_redact('{"note":"mail bob@example.com"}') AS r`);
  assert.ok(!red.includes('bob@example.com'), red);
  const plan = db.prepare("SELECT eligible_rows, status FROM telem_prune_plan WHERE table_name = 'research_metrics'").get();
  assert.strictEqual(plan.eligible_rows, 1);
  assert.strictEqual(plan.status, 'ok');
  // Errors carry the function's name.
  assert.throws(() => one("SELECT telem_validate('{}', 'no-such-schema') AS v"), /^.*telem_validate: unknown schema id/);
  // load() leaves the SQL function load_extension() disabled.
  assert.throws(() => one("SELECT load_extension('/nonexistent/x') AS v"), /not authorized/);
  console.log(`${name}: ${one('SELECT telem_version() AS v')}`);
  db.close();
}
JS
echo "== governance queries through better-sqlite3 and libsql"
(cd "$P" && NODE_PATH=$DRV/node_modules node test.js "$T/research_metrics.sql" "$VERSION") \
  || fail "the queries through the drivers"
echo "npm: ok"
