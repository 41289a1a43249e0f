#!/usr/bin/env bash
# telem_class_summary under allocation failure: the Nth allocation of the
# query fails, for every N until a run completes; each run must end in
# SQLITE_NOMEM (never another error, a crash, or a bad result), and xFinal
# frees what xStep built (under check-asan-sh the sanitizer watches it).
set -euo pipefail
SO=${VOXTELEM_SO:-$PWD/voxtelem.so}
CC=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/oom.c" <<'C'
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sqlite3_mem_methods real;
static long countdown = -1; /* -1: never fail */
static void *xMalloc(int n) { if (countdown == 0) return NULL; if (countdown > 0) countdown--; return real.xMalloc(n); }
static void *xRealloc(void *p, int n) { if (countdown == 0) return NULL; if (countdown > 0) countdown--; return real.xRealloc(p, n); }

int main(int argc, char **argv) {
  sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real);
  sqlite3_mem_methods m = real;
  m.xMalloc = xMalloc;
  m.xRealloc = xRealloc;
  sqlite3_config(SQLITE_CONFIG_MALLOC, &m);
  const char *q =
      "SELECT telem_class_summary(mt, p, ts, rowid) FROM t";
  int done = 0, nomem = 0;
  for (long n = 0; n < 20000 && !done; n++) {
    sqlite3 *db;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) return 1;
    sqlite3_enable_load_extension(db, 1);
    char *err = NULL;
    if (sqlite3_load_extension(db, argv[1], NULL, &err) != SQLITE_OK) { printf("load: %s\n", err); return 1; }
    sqlite3_exec(db,
      "CREATE TABLE t(mt, p, ts);"
      "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 300)"
      " INSERT INTO t SELECT CASE i % 5 WHEN 0 THEN NULL WHEN 1 THEN CAST(x'ff41' AS TEXT) ELSE 'benchmark_event' || (i % 40) END,"
      " CASE i % 3 WHEN 0 THEN '{\"prompt\":\"x\"}' WHEN 1 THEN '{\"n\":1}' ELSE NULL END,"
      " CASE i % 4 WHEN 0 THEN i WHEN 1 THEN printf('%d', i) WHEN 2 THEN randomblob(3) ELSE i + 0.5 END FROM r;"
      "SELECT telem_classify('benchmark_event', '{\"a\":1}');", NULL, NULL, NULL);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) { printf("prepare: %s\n", sqlite3_errmsg(db)); return 1; }
    countdown = n;
    int rc = sqlite3_step(st);
    countdown = -1;
    if (rc == SQLITE_ROW) {
      const char *j = (const char *)sqlite3_column_text(st, 0);
      if (!j || j[0] != '[') { printf("bad result at %ld\n", n); return 1; }
      done = 1;
    } else if (rc == SQLITE_NOMEM) nomem++;
    else { printf("n=%ld rc=%d %s\n", n, rc, sqlite3_errmsg(db)); return 1; }
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  printf("done=%d nomem=%d\n", done, nomem);
  return done ? 0 : 1;
}
C
"$CC" -o "$tmp/oom" "$tmp/oom.c" -lsqlite3
out=$("$tmp/oom" "${SO%.so}")
echo "$out"
case "$out" in "done=1 nomem="[1-9]*) echo "class_summary_oom: ok" ;; *) echo "FAIL"; exit 1 ;; esac
