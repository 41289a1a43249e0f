/*
 * scrub.c -- telem_scrub_apply: redact a column of a governed table in place,
 * in batches, for stores whose writers cannot load the extension (Vox writes
 * through turso): the operator's sqlite3 scrubs beside them.
 *
 *   SELECT * FROM telem_scrub_apply('research_metrics', 'metadata_json');
 *   SELECT * FROM telem_scrub_apply('ci_completion_suppression', 'owner', 'default', 500);
 *
 * One result row: table_name, column_name, profile, rows_scanned,
 * rows_scrubbed, batches, status ("ok" or why it stopped).  Each call is also
 * logged in main.telem_scrub_log, like telem_prune_log.
 *
 * A row is rewritten only when telem_redactions() finds something in the
 * value and telem_redact(value, profile) differs from it: a clean row is
 * never written (telem_redact would only re-serialize its JSON compactly),
 * nor a row scrubbed before (a key rule still reports the replaced value,
 * but the text would not change).  Only TEXT values are read: NULL,
 * numbers and BLOBs are left alone.
 *
 * Batches walk the rowid in ascending ranges of `batch` rows (default 1000):
 * each range is one UPDATE, so a batch costs its own rows, never a rescan.
 * In autocommit mode each batch is its own BEGIN IMMEDIATE ... COMMIT (a
 * writer waits at most one batch; SIGKILL loses at most the batch in flight);
 * inside the caller's transaction each batch is a SAVEPOINT.  An error rolls
 * back the batch in flight and stops with the error (earlier batches stay).
 *
 * Security: a side effect (it rewrites rows), so an eponymous vtab flagged
 * SQLITE_VTAB_DIRECTONLY: no view, trigger or CHECK in a database someone
 * else wrote can run it.  The table and column are checked against main's
 * schema and quoted; the profile must exist in the redaction rules.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "sql/sql.h"

#include <string.h>
#include <time.h>

#define SCRUB_SCHEMA                                                                         \
  "CREATE TABLE x(table_name TEXT, column_name TEXT, profile TEXT, rows_scanned INTEGER, "   \
  "rows_scrubbed INTEGER, batches INTEGER, status TEXT, "                                   \
  "arg_table HIDDEN, arg_column HIDDEN, arg_profile HIDDEN, arg_batch HIDDEN"               \
  TELEM_TVF_EXTRA_COLUMNS ")"
#define SCRUB_COL_STATUS 6
#define SCRUB_COL_ARG0 7 /* arg_table; the others follow */
#define SCRUB_NARGS 4
#define SCRUB_DEFAULT_BATCH 1000

static const char scrub_log_ddl[] =
    "CREATE TABLE IF NOT EXISTS main.telem_scrub_log(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  logged_at TEXT NOT NULL,      -- when the call ended (UTC ISO-8601)\n"
    "  table_name TEXT NOT NULL,\n"
    "  column_name TEXT NOT NULL,\n"
    "  profile TEXT NOT NULL,\n"
    "  rows_scanned INTEGER NOT NULL,\n"
    "  rows_scrubbed INTEGER NOT NULL, -- rows rewritten\n"
    "  batches INTEGER NOT NULL,\n"
    "  duration_ms INTEGER NOT NULL,\n"
    "  status TEXT NOT NULL\n"
    ")";

typedef struct ScrubVtab {
  sqlite3_vtab base; /* must be first */
  sqlite3 *db;
} ScrubVtab;

typedef struct ScrubCursor {
  sqlite3_vtab_cursor base; /* must be first */
  int eof;
  char *table, *column, *profile, *status; /* owned */
  sqlite3_int64 scanned, scrubbed, batches;
} ScrubCursor;

static int scrub_connect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                         sqlite3_vtab **ppVtab, char **pzErr) {
  (void)pAux; (void)argc; (void)argv; (void)pzErr;
  int rc = sqlite3_declare_vtab(db, SCRUB_SCHEMA);
  if (rc != SQLITE_OK) return rc;
  /* DIRECTONLY: scrubbing rewrites rows and commits; see the file header. */
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  ScrubVtab *v = sqlite3_malloc64(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->db = db;
  *ppVtab = &v->base;
  return SQLITE_OK;
}

static int scrub_disconnect(sqlite3_vtab *pVtab) {
  sqlite3_free(pVtab);
  return SQLITE_OK;
}

/* idxNum: bit i set when argument i (table, column, profile, batch) is given
 * by an equality constraint; argv holds them in that order. */
static int scrub_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info) {
  if (telem_tvf_too_many_args(vtab, info, "telem_scrub_apply", SCRUB_COL_ARG0 + SCRUB_NARGS,
                              SCRUB_NARGS))
    return SQLITE_ERROR;
  int pos[SCRUB_NARGS] = {-1, -1, -1, -1};
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    int k = c->iColumn - SCRUB_COL_ARG0;
    if (k < 0 || k >= SCRUB_NARGS || c->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    if (!c->usable) return SQLITE_CONSTRAINT;
    pos[k] = i;
  }
  int idx = 0, n = 0;
  for (int k = 0; k < SCRUB_NARGS; k++) {
    if (pos[k] < 0) continue;
    idx |= 1 << k;
    info->aConstraintUsage[pos[k]].argvIndex = ++n;
    info->aConstraintUsage[pos[k]].omit = 1;
  }
  if (!(idx & 1) || !(idx & 2)) {
    telem_vtab_errorf(vtab, "telem_scrub_apply: expected 2 to 4 arguments (table, column [, profile [, batch]])");
    return SQLITE_ERROR;
  }
  info->idxNum = idx;
  info->estimatedCost = 1e9; /* run it once */
  info->estimatedRows = 1;
  return SQLITE_OK;
}

static int scrub_open(sqlite3_vtab *vtab, sqlite3_vtab_cursor **pp) {
  (void)vtab;
  ScrubCursor *c = sqlite3_malloc64(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  c->eof = 1;
  *pp = &c->base;
  return SQLITE_OK;
}

static void scrub_reset(ScrubCursor *c) {
  sqlite3_free(c->table); sqlite3_free(c->column); sqlite3_free(c->profile); sqlite3_free(c->status);
  c->table = c->column = c->profile = c->status = NULL;
  c->scanned = c->scrubbed = c->batches = 0;
  c->eof = 1;
}

static int scrub_close(sqlite3_vtab_cursor *cur) {
  scrub_reset((ScrubCursor *)cur);
  sqlite3_free(cur);
  return SQLITE_OK;
}

static double scrub_ms_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* 1 when main.table has a column named col (exact, case-insensitive as SQL)
 * and is a rowid table; else sets *why. */
static int scrub_target_ok(sqlite3 *db, const char *table, const char *col, char **why) {
  sqlite3_stmt *st = NULL;
  int found_table = 0, found_col = 0, rowid_ok = 0;
  if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?1, 'main')", -1, &st, NULL) ==
      SQLITE_OK) {
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
      found_table = 1;
      const char *n = (const char *)sqlite3_column_text(st, 0);
      if (n && sqlite3_stricmp(n, col) == 0) found_col = 1;
    }
  }
  sqlite3_finalize(st);
  if (found_table) {
    char *sql = sqlite3_mprintf("SELECT rowid FROM main.\"%w\" LIMIT 0", table);
    if (sql && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) rowid_ok = 1;
    sqlite3_finalize(st);
    sqlite3_free(sql);
  }
  if (!found_table) *why = sqlite3_mprintf("no such table in main");
  else if (!found_col) *why = sqlite3_mprintf("no such column");
  else if (!rowid_ok) *why = sqlite3_mprintf("not a rowid table");
  return found_table && found_col && rowid_ok;
}

static int scrub_exec(sqlite3 *db, const char *sql, char **err) {
  int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK && !*err) *err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
  return rc;
}

/* Runs the scrub described by c (table, column, profile) in batches of
 * `batch` rows.  Fills the counters and c->status; returns SQLITE_OK, or an
 * error code with *err (sqlite3 memory) for errors that end the statement. */
static int scrub_run(sqlite3 *db, ScrubCursor *c, sqlite3_int64 batch, char **err) {
  int own_txn = sqlite3_get_autocommit(db);
  sqlite3_stmt *range = NULL, *upd = NULL;
  int rc = SQLITE_OK;
  char *sql = sqlite3_mprintf(
      "SELECT count(*), max(rowid) FROM (SELECT rowid FROM main.\"%w\" WHERE rowid > ?1 "
      "ORDER BY rowid LIMIT ?2)", c->table);
  if (!sql) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(db, sql, -1, &range, NULL);
  sqlite3_free(sql);
  if (rc == SQLITE_OK) {
    sql = sqlite3_mprintf(
        "UPDATE main.\"%w\" SET \"%w\" = telem_redact(\"%w\", ?3) WHERE rowid > ?1 AND rowid <= ?2 "
        "AND typeof(\"%w\") = 'text' AND EXISTS (SELECT 1 FROM telem_redactions(\"%w\", ?3)) "
        "AND telem_redact(\"%w\", ?3) IS NOT \"%w\"",
        c->table, c->column, c->column, c->column, c->column, c->column, c->column);
    if (!sql) rc = SQLITE_NOMEM;
    else rc = sqlite3_prepare_v2(db, sql, -1, &upd, NULL);
    sqlite3_free(sql);
  }
  if (rc != SQLITE_OK) {
    if (!*err) *err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
    goto done;
  }
  sqlite3_int64 last = -0x7fffffffffffffffLL - 1;
  for (;;) {
    sqlite3_bind_int64(range, 1, last);
    sqlite3_bind_int64(range, 2, batch);
    sqlite3_int64 n = 0, hi = 0;
    if (sqlite3_step(range) == SQLITE_ROW) {
      n = sqlite3_column_int64(range, 0);
      hi = sqlite3_column_int64(range, 1);
    }
    rc = sqlite3_reset(range);
    if (rc != SQLITE_OK) {
      if (!*err) *err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
      break;
    }
    if (n == 0) break;
    rc = scrub_exec(db, own_txn ? "BEGIN IMMEDIATE" : "SAVEPOINT telem_scrub_batch", err);
    if (rc != SQLITE_OK) break;
    sqlite3_bind_int64(upd, 1, last);
    sqlite3_bind_int64(upd, 2, hi);
    sqlite3_bind_text(upd, 3, c->profile, -1, SQLITE_STATIC);
    rc = sqlite3_step(upd);
    int changed = sqlite3_changes(db);
    if (rc != SQLITE_DONE && !*err) *err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
    sqlite3_reset(upd);
    if (rc != SQLITE_DONE) {
      if (own_txn) {
        if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
      } else {
        sqlite3_exec(db, "ROLLBACK TO telem_scrub_batch", NULL, NULL, NULL);
        sqlite3_exec(db, "RELEASE telem_scrub_batch", NULL, NULL, NULL);
      }
      rc = SQLITE_ERROR;
      break;
    }
    rc = scrub_exec(db, own_txn ? "COMMIT" : "RELEASE telem_scrub_batch", err);
    if (rc != SQLITE_OK) {
      if (own_txn && !sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
      break;
    }
    c->scanned += n;
    c->scrubbed += changed;
    c->batches++;
    last = hi;
  }
done:
  sqlite3_finalize(range);
  sqlite3_finalize(upd);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int scrub_log(sqlite3 *db, ScrubCursor *c, double ms) {
  int own_txn = sqlite3_get_autocommit(db);
  if (sqlite3_exec(db, scrub_log_ddl, NULL, NULL, NULL) != SQLITE_OK) return SQLITE_ERROR;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(
      db,
      "INSERT INTO main.telem_scrub_log(logged_at, table_name, column_name, profile, rows_scanned, "
      "rows_scrubbed, batches, duration_ms, status) "
      "VALUES (strftime('%Y-%m-%dT%H:%M:%fZ','now'), ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
      -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, c->table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->column, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, c->profile, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, c->scanned);
    sqlite3_bind_int64(st, 5, c->scrubbed);
    sqlite3_bind_int64(st, 6, c->batches);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)ms);
    sqlite3_bind_text(st, 8, c->status, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
  }
  sqlite3_finalize(st);
  (void)own_txn; /* in autocommit mode the INSERT commits by itself */
  return rc;
}

static int scrub_filter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc,
                        sqlite3_value **argv) {
  (void)idxStr; (void)argc;
  ScrubCursor *c = (ScrubCursor *)cur;
  ScrubVtab *v = (ScrubVtab *)cur->pVtab;
  sqlite3 *db = v->db;
  scrub_reset(c);
  sqlite3_value *a[SCRUB_NARGS] = {NULL, NULL, NULL, NULL};
  for (int k = 0, j = 0; k < SCRUB_NARGS; k++)
    if (idxNum & (1 << k)) a[k] = argv[j++];
  for (int k = 0; k < 2; k++) {
    if (sqlite3_value_type(a[k]) != SQLITE_TEXT) {
      telem_vtab_errorf(cur->pVtab, "telem_scrub_apply: argument %d: expected a %s name as text",
                        k + 1, k ? "column" : "table");
      return SQLITE_ERROR;
    }
  }
  const char *table = (const char *)sqlite3_value_text(a[0]);
  const char *column = (const char *)sqlite3_value_text(a[1]);
  const char *profile = "default";
  if (a[2] && sqlite3_value_type(a[2]) != SQLITE_NULL) {
    if (sqlite3_value_type(a[2]) != SQLITE_TEXT) {
      telem_vtab_errorf(cur->pVtab, "telem_scrub_apply: argument 3: expected a profile name as text");
      return SQLITE_ERROR;
    }
    profile = (const char *)sqlite3_value_text(a[2]);
  }
  sqlite3_int64 batch = SCRUB_DEFAULT_BATCH;
  if (a[3] && sqlite3_value_type(a[3]) != SQLITE_NULL) {
    if (sqlite3_value_type(a[3]) != SQLITE_INTEGER || sqlite3_value_int64(a[3]) < 1 ||
        sqlite3_value_int64(a[3]) > 1000000) {
      telem_vtab_errorf(cur->pVtab, "telem_scrub_apply: argument 4: batch must be an integer from 1 to 1000000");
      return SQLITE_ERROR;
    }
    batch = sqlite3_value_int64(a[3]);
  }
  if (!table || !column || !profile) return SQLITE_NOMEM;
  if (!telem_policy_ident_ok(table) || !telem_policy_ident_ok(column)) {
    char *pt = telem_printable(table, strlen(table), 64);
    char *pc = telem_printable(column, strlen(column), 64);
    telem_vtab_errorf(cur->pVtab, "telem_scrub_apply: \"%s\".\"%s\" is not a table and column name "
                      "(letters, digits and _, not sqlite_*)", pt ? pt : "", pc ? pc : "");
    sqlite3_free(pt);
    sqlite3_free(pc);
    return SQLITE_ERROR;
  }
  if (telem_db_writer_busy(db)) {
    telem_vtab_errorf(cur->pVtab, "telem_scrub_apply: cannot run inside a statement that writes");
    return SQLITE_ERROR;
  }
  char *err = NULL;
  /* The profile must exist: check it once before touching any row. */
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, "SELECT telem_redact('', ?1)", -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, profile, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
  } else {
    err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
  }
  sqlite3_finalize(st);
  if (err) {
    telem_vtab_errorf(cur->pVtab, "telem_scrub_apply: %s", err);
    sqlite3_free(err);
    return SQLITE_ERROR;
  }
  c->table = sqlite3_mprintf("%s", table);
  c->column = sqlite3_mprintf("%s", column);
  c->profile = sqlite3_mprintf("%s", profile);
  if (!c->table || !c->column || !c->profile) return SQLITE_NOMEM;
  double t0 = scrub_ms_now();
  char *why = NULL;
  if (!scrub_target_ok(db, table, column, &why)) {
    c->status = why; /* a status, not an error: like a prune plan's status */
    if (!c->status) return SQLITE_NOMEM;
  } else {
    rc = scrub_run(db, c, batch, &err);
    c->status = rc == SQLITE_OK ? sqlite3_mprintf("ok") : sqlite3_mprintf("error: %s", err ? err : "unknown");
    if (!c->status) {
      sqlite3_free(err);
      return SQLITE_NOMEM;
    }
  }
  if (scrub_log(db, c, scrub_ms_now() - t0) != SQLITE_OK) {
    telem_vtab_errorf(cur->pVtab, "telem_scrub_apply: cannot write telem_scrub_log: %s", sqlite3_errmsg(db));
    sqlite3_free(err);
    return SQLITE_ERROR;
  }
  if (err) {
    /* batches before the error are committed and logged; the call fails */
    telem_vtab_errorf(cur->pVtab, "telem_scrub_apply: %s", err);
    sqlite3_free(err);
    return SQLITE_ERROR;
  }
  c->eof = 0;
  return SQLITE_OK;
}

static int scrub_next(sqlite3_vtab_cursor *cur) {
  ((ScrubCursor *)cur)->eof = 1;
  return SQLITE_OK;
}

static int scrub_eof(sqlite3_vtab_cursor *cur) { return ((ScrubCursor *)cur)->eof; }

static int scrub_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  ScrubCursor *c = (ScrubCursor *)cur;
  switch (col) {
    case 0: sqlite3_result_text(ctx, c->table, -1, SQLITE_TRANSIENT); break;
    case 1: sqlite3_result_text(ctx, c->column, -1, SQLITE_TRANSIENT); break;
    case 2: sqlite3_result_text(ctx, c->profile, -1, SQLITE_TRANSIENT); break;
    case 3: sqlite3_result_int64(ctx, c->scanned); break;
    case 4: sqlite3_result_int64(ctx, c->scrubbed); break;
    case 5: sqlite3_result_int64(ctx, c->batches); break;
    case SCRUB_COL_STATUS: sqlite3_result_text(ctx, c->status, -1, SQLITE_TRANSIENT); break;
    default: break; /* hidden arguments read back as NULL */
  }
  return SQLITE_OK;
}

static int scrub_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *pRowid) {
  (void)cur;
  *pRowid = 1;
  return SQLITE_OK;
}

static const sqlite3_module scrub_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous-only */
    .xConnect = scrub_connect,
    .xBestIndex = scrub_best_index,
    .xDisconnect = scrub_disconnect,
    .xOpen = scrub_open,
    .xClose = scrub_close,
    .xFilter = scrub_filter,
    .xNext = scrub_next,
    .xEof = scrub_eof,
    .xColumn = scrub_column,
    .xRowid = scrub_rowid,
};

static const TelemSqlModule scrub_modules[] = {
    /* DIRECTONLY in xConnect: it rewrites rows. */
    {"telem_scrub_apply", &scrub_module},
    {NULL},
};

const TelemFeature telem_feature_scrub = {"scrub", NULL, scrub_modules};
