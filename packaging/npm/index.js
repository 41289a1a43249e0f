'use strict';
// voxtelem -- the voxtelem SQLite extension for Node.
//
//   const Database = require('better-sqlite3');   // or require('libsql')
//   const voxtelem = require('voxtelem');
//   const db = new Database('app.db');
//   voxtelem.load(db);
//   db.prepare("SELECT telem_classify(metric_type, metadata_json) FROM research_metrics").all();
//
// The package carries voxtelem.so for linux-x64 (glibc); it links the system's
// libjansson, libyaml, libpcre2-8 and libxxhash (Debian: libjansson4
// libyaml-0-2 libpcre2-8-0 libxxhash0).
const fs = require('fs');
const path = require('path');

const BUILDS = { 'linux-x64': path.join(__dirname, 'lib', 'linux-x64', 'voxtelem.so') };
const RUNTIME_DEBS = 'libjansson4 libyaml-0-2 libpcre2-8-0 libxxhash0';

// Returns the absolute path of voxtelem.so for this platform; throws an Error
// saying what is missing on any other platform.
function getLoadablePath() {
  const key = `${process.platform}-${process.arch}`;
  const so = BUILDS[key];
  if (!so) {
    throw new Error(`voxtelem: no build for ${key} in this package (it carries ` +
                    `${Object.keys(BUILDS).join(', ')}); build voxtelem.so from source with make`);
  }
  if (!fs.existsSync(so)) throw new Error(`voxtelem: ${so} is missing from the installed package`);
  return so;
}

// Loads voxtelem into db, a better-sqlite3 or libsql Database (anything with
// loadExtension(path)); returns db.  The SQL function load_extension() stays
// disabled: both drivers enable only the C API for loadExtension().
function load(db) {
  if (!db || typeof db.loadExtension !== 'function') {
    throw new TypeError('voxtelem.load: expected a better-sqlite3 or libsql Database ' +
                        '(an object with loadExtension())');
  }
  const so = getLoadablePath();
  try {
    db.loadExtension(so);
  } catch (e) {
    const hint = /cannot open shared object/.test(String(e && e.message))
      ? ` (voxtelem.so needs the system libraries of the Debian packages ${RUNTIME_DEBS})` : '';
    const err = new Error(`voxtelem.load: ${e && e.message}${hint}`);
    err.cause = e;
    throw err;
  }
  return db;
}

module.exports = { getLoadablePath, load };
