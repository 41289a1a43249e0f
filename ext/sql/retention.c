/*
 * retention.c -- the active retention policy from SQL.
 *
 *   telem_retention            eponymous writable virtual table:
 *                              table_name, kind, days, time_column,
 *                              cascade_from, rationale, source, filter
 *                              (one row per rule; a table may have a
 *                              default rule and per-type rules, each
 *                              known by its filter)
 *   telem_policy_import(x)     table-valued function (a table of the temp
 *                              schema, DIRECTONLY): replaces the database
 *                              policy with the YAML file (or text) x; one
 *                              row, `rules`, the number of rules
 *   telem_policy_yaml()        the active policy as YAML
 *
 *     SELECT table_name, kind, days FROM telem_retention;
 *     UPDATE telem_retention SET days = 180 WHERE table_name = 'research_metrics';
 *     SELECT rules FROM telem_policy_import('contracts/db/retention-policy.yaml');
 *
 * The active policy is the table main.telem_retention_policy when it exists,
 * else the retention-policy contract of the connection's registry (the
 * embedded copy unless telem_use_contracts() switched it).  The first write
 * through telem_retention creates the table and seeds it with the file's
 * rules (keeping their rowids 1..n, which the statement being run already
 * saw), so a write never silently drops the file's other rules.
 *
 * Writes are validated before anything is written (the changed rule on its
 * own, then the cross-rule checks that change can break: a cascade's parent
 * must stay in the policy), reading only the rules the write touches, by
 * key (ret_db_partial: O(log n) per row), and are written through to
 * telem_retention_policy
 * with ordinary statements on the same connection, so they belong to the
 * caller's transaction and roll back with it.
 *
 * Rowids: for the database policy, the rowid of telem_retention_policy; for
 * the file policy, 1..n in table-name order (the same rowids the seed uses).
 *
 * The file policy is parsed once per registry and cached in
 * reg->ext[TELEM_EXT_POLICY].
 */
#define _POSIX_C_SOURCE 200809L /* fileno */
#include "sql/sql.h"
#include "core/file.h"
#include "voxtelem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define RET_TABLE "telem_retention_policy"

/* The policy table, after "CREATE TABLE <name>" (sqlite_master keeps this
 * text; telem_own_table_check compares it). */
static const char ret_ddl_body[] =
    "(\n"
    "  table_name TEXT NOT NULL COLLATE NOCASE, -- governed table\n"
    "  kind TEXT NOT NULL,     -- days | ms_days | expires_lt_now | keep_forever | manual | cascade\n"
    "  days INTEGER,           -- days and ms_days only\n"
    "  time_column TEXT,       -- column compared with the cutoff\n"
    "  cascade_from TEXT,      -- parent table of a cascade rule\n"
    "  rationale TEXT NOT NULL, -- why the data is kept that long\n"
    "  filter TEXT NOT NULL,   -- rows it governs (canonical JSON); '' for the table's default rule\n"
    "  PRIMARY KEY (table_name, filter)\n"
    ")";

/* The table as versions before per-type rules created it (one rule per
 * table, no filter): still read; upgraded on the first write. */
static const char ret_ddl_body_v1[] =
    "(\n"
    "  table_name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE, -- governed table\n"
    "  kind TEXT NOT NULL,     -- days | ms_days | expires_lt_now | keep_forever | manual | cascade\n"
    "  days INTEGER,           -- days and ms_days only\n"
    "  time_column TEXT,       -- column compared with the cutoff\n"
    "  cascade_from TEXT,      -- parent table of a cascade rule\n"
    "  rationale TEXT NOT NULL -- why the data is kept that long\n"
    ")";

/* ---- copying a policy ---------------------------------------------------- */

/* A deep copy of p (rowids kept), or NULL on OOM. */
static TelemPolicy *ret_policy_dup(const TelemPolicy *p) {
  TelemPolicy *q = telem_policy_new();
  if (!q) return NULL;
  for (int i = 0; i < p->n; i++) {
    TelemPolicyRuleInfo info;
    telem_policy_rule(p, i, &info);
    char *err = NULL;
    if (telem_policy_add_rowid(q, &info, p->rules[i].rowid, &err)) {
      sqlite3_free(err);
      telem_policy_free(q);
      return NULL;
    }
  }
  return q;
}

/* ---- the file policy, cached per registry -------------------------------- */

typedef struct RetFileCache {
  TelemPolicy *policy; /* parsed file policy (rowids 0); owned */
  char *source;        /* "<registry source>:<path>"; owned */
} RetFileCache;

static void ret_file_cache_free(void *p) {
  RetFileCache *fc = p;
  if (!fc) return;
  telem_policy_free(fc->policy);
  sqlite3_free(fc->source);
  sqlite3_free(fc);
}

/* The registry's parsed file policy (owned by the registry), or NULL with
 * *pzErr. */
static RetFileCache *ret_file_policy(TelemConn *c, char **pzErr) {
  TelemRegistry *reg = c->reg;
  if (!reg) {
    telem_set_err(pzErr, "no contracts loaded");
    return NULL;
  }
  if (reg->ext[TELEM_EXT_POLICY]) return reg->ext[TELEM_EXT_POLICY];
  const TelemFile *f = telem_registry_file_by_kind(reg, "retention-policy");
  if (!f) {
    telem_set_err(pzErr, "the contracts (%s) have no retention-policy file",
                  reg->source ? reg->source : "?");
    return NULL;
  }
  char *err = NULL;
  TelemPolicy *p = telem_policy_parse(f->path, f->data, f->len, &err);
  if (!p) {
    telem_set_err(pzErr, "%s", err ? err : "out of memory");
    sqlite3_free(err);
    return NULL;
  }
  RetFileCache *fc = sqlite3_malloc64(sizeof *fc);
  char *src = sqlite3_mprintf("%s:%s", reg->source ? reg->source : "?", f->path);
  if (!fc || !src) {
    sqlite3_free(fc);
    sqlite3_free(src);
    telem_policy_free(p);
    telem_set_oom(pzErr);
    return NULL;
  }
  for (int i = 0; i < p->n; i++) p->rules[i].rowid = i + 1;
  fc->policy = p;
  fc->source = src;
  reg->ext[TELEM_EXT_POLICY] = fc;
  reg->ext_free[TELEM_EXT_POLICY] = ret_file_cache_free;
  return fc;
}

/* ---- the database policy -------------------------------------------------- */

/* ---- tables voxtelem owns ---------------------------------------------------- */

int telem_own_table_check(sqlite3 *db, const char *name, const char *body, char **pzErr) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT type, name, sql FROM main.sqlite_master "
                              "WHERE tbl_name = ?1 COLLATE NOCASE OR name = ?1 COLLATE NOCASE",
                              -1, &st, NULL);
  if (rc != SQLITE_OK) {
    telem_set_err(pzErr, "cannot read the schema: %s", sqlite3_errmsg(db));
    return -1;
  }
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int found = 0, foreign = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *type = (const char *)sqlite3_column_text(st, 0);
    const char *oname = (const char *)sqlite3_column_text(st, 1);
    const char *sql = (const char *)sqlite3_column_text(st, 2);
    if (type && strcmp(type, "table") == 0 && oname && sqlite3_stricmp(oname, name) == 0) {
      /* As created, or renamed by ALTER TABLE (which quotes the name). */
      char *want = sqlite3_mprintf("CREATE TABLE %s%s", oname, body);
      char *want_q = sqlite3_mprintf("CREATE TABLE \"%w\"%s", oname, body);
      if (!want || !want_q) {
        sqlite3_free(want);
        sqlite3_free(want_q);
        rc = SQLITE_NOMEM;
        break;
      }
      if (!sql || (strcmp(sql, want) != 0 && strcmp(sql, want_q) != 0)) foreign = 1;
      sqlite3_free(want);
      sqlite3_free(want_q);
      found = 1;
    } else if (!(type && strcmp(type, "index") == 0 && !sql)) {
      foreign = 1; /* a trigger, a view or an index someone added; autoindexes are ours */
    }
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    telem_set_err(pzErr, "cannot read the schema: %s",
                  rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(db));
    return -1;
  }
  if (foreign) {
    telem_set_err(pzErr,
                  "main.%s is not the table voxtelem creates (it has a trigger, an index, a "
                  "constraint or a column voxtelem did not put there), so voxtelem will not "
                  "read or write it: rename or drop it",
                  name);
    return -1;
  }
  return found;
}

/* 1 when main.telem_retention_policy exists (in any case: SQLite's names
 * are case-insensitive) and is the table voxtelem creates, 0 when there is
 * none, -1 with *pzErr when it exists but is not ours. */
static int ret_db_table_exists(sqlite3 *db, char **pzErr) {
  char *err = NULL;
  int ex = telem_own_table_check(db, RET_TABLE, ret_ddl_body, &err);
  if (ex >= 0) {
    sqlite3_free(err);
    return ex;
  }
  /* Not the current table: the one versions before filters created? */
  if (err && telem_own_table_check(db, RET_TABLE, ret_ddl_body_v1, NULL) == 1) {
    sqlite3_free(err);
    return 2;
  }
  if (pzErr && !*pzErr) *pzErr = err;
  else sqlite3_free(err);
  return -1;
}

/* The filter column of the table as ret_db_table_exists() found it (ex). */
#define RET_FILTER_COL(ex) ((ex) == 2 ? "NULL" : "nullif(filter, '')")

/* Rewrites a table of the version before filters (ex == 2) into the
 * current one, rowids kept, inside the caller's transaction.  Returns an
 * SQLite code with *pzErr. */
static int ret_db_upgrade(sqlite3 *db, char **pzErr) {
  /* No DROP TABLE: SQLite refuses it while any statement runs (this one
   * runs inside the caller's INSERT, UPDATE or SELECT).  The old table is
   * renamed aside and left empty; the operator may drop it. */
  char *sql = sqlite3_mprintf(
      "ALTER TABLE main." RET_TABLE " RENAME TO " RET_TABLE "_v1;"
      "CREATE TABLE main." RET_TABLE "%s;"
      "INSERT INTO main." RET_TABLE "(rowid, table_name, kind, days, time_column, "
      "cascade_from, rationale, filter) SELECT rowid, table_name, kind, days, time_column, "
      "cascade_from, rationale, '' FROM main." RET_TABLE "_v1;"
      "DELETE FROM main." RET_TABLE "_v1;",
      ret_ddl_body);
  int rc = sql ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
  sqlite3_free(sql);
  if (rc != SQLITE_OK)
    telem_set_err(pzErr, "cannot upgrade " RET_TABLE ": %s",
                  rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(db));
  return rc;
}

/* Reads main.telem_retention_policy into a new policy (rowids kept).  A
 * row that fails validation (someone wrote the table by hand) is an error
 * naming its rowid: the prune fails closed on a damaged policy. */
static TelemPolicy *ret_db_policy(sqlite3 *db, int ex, char **pzErr) {
  sqlite3_stmt *st = NULL;
  TelemPolicy *p = telem_policy_new();
  char *err = NULL;
  if (!p) goto oom;
  char *q = sqlite3_mprintf("SELECT rowid, table_name, kind, days, time_column, cascade_from, "
                            "rationale, %s FROM main." RET_TABLE " ORDER BY rowid",
                            RET_FILTER_COL(ex));
  if (!q) goto oom;
  int rc = sqlite3_prepare_v2(db, q, -1, &st, NULL);
  sqlite3_free(q);
  if (rc != SQLITE_OK) {
    telem_set_err(pzErr, "cannot read " RET_TABLE ": %s", sqlite3_errmsg(db));
    goto fail;
  }
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    TelemPolicyRuleInfo info;
    memset(&info, 0, sizeof info);
    sqlite3_int64 rowid = sqlite3_column_int64(st, 0);
    info.table_name = (const char *)sqlite3_column_text(st, 1);
    info.kind = (const char *)sqlite3_column_text(st, 2);
    int dt = sqlite3_column_type(st, 3);
    if (dt == SQLITE_NULL)
      info.days = TELEM_POLICY_NO_DAYS;
    else if (dt == SQLITE_INTEGER)
      info.days = sqlite3_column_int64(st, 3);
    else
      info.days = 0; /* reported as non-positive */
    info.time_column = (const char *)sqlite3_column_text(st, 4);
    info.cascade_from = (const char *)sqlite3_column_text(st, 5);
    info.rationale = (const char *)sqlite3_column_text(st, 6);
    info.filter = (const char *)sqlite3_column_text(st, 7);
    rc = telem_policy_add_rowid(p, &info, rowid, &err);
    if (rc == -2) goto oom;
    if (rc) {
      telem_set_err(pzErr, RET_TABLE " row %lld: %s", (long long)rowid, err ? err : "invalid");
      goto fail;
    }
  }
  if (rc != SQLITE_DONE) {
    telem_set_err(pzErr, "cannot read " RET_TABLE ": %s", sqlite3_errmsg(db));
    goto fail;
  }
  if (telem_policy_check(p, &err)) {
    telem_set_err(pzErr, RET_TABLE ": %s", err ? err : "invalid");
    goto fail;
  }
  sqlite3_finalize(st);
  return p;
oom:
  telem_set_oom(pzErr);
fail:
  sqlite3_free(err);
  sqlite3_finalize(st);
  telem_policy_free(p);
  return NULL;
}

TelemPolicy *telem_policy_active(sqlite3 *db, TelemConn *c, const char **pzSource,
                                 char **pzErr) {
  int ex = ret_db_table_exists(db, pzErr);
  if (ex < 0) return NULL;
  if (ex) {
    if (pzSource) *pzSource = "database";
    return ret_db_policy(db, ex, pzErr);
  }
  RetFileCache *fc = ret_file_policy(c, pzErr);
  if (!fc) return NULL;
  if (pzSource) *pzSource = fc->source;
  TelemPolicy *p = ret_policy_dup(fc->policy);
  if (!p) telem_set_oom(pzErr);
  return p;
}

/* ---- writing the database policy ------------------------------------------ */

/* Binds rule r to parameters ?2..?8 (table_name, kind, days, time_column,
 * cascade_from, rationale, filter) of an INSERT or UPDATE of the policy
 * table. */
static void ret_bind_rule(sqlite3_stmt *st, const TelemPolicyRule *r) {
  sqlite3_bind_text(st, 2, r->table_name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, telem_policy_kind_name(r->kind), -1, SQLITE_STATIC);
  if (r->days != TELEM_POLICY_NO_DAYS) sqlite3_bind_int64(st, 4, r->days);
  sqlite3_bind_text(st, 5, r->time_column, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, r->cascade_from, -1, SQLITE_STATIC);
  /* The column is NOT NULL (tables created before rationale was optional):
   * a missing rationale is stored as '' and read back as none. */
  sqlite3_bind_text(st, 7, r->rationale ? r->rationale : "", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 8, r->filter ? r->filter : "", -1, SQLITE_STATIC);
}

/* Inserts rule r (with rowid when rowid > 0) into the database table.
 * Returns an SQLite code; on error *pzErr is set. */
static int ret_db_insert(sqlite3 *db, const TelemPolicyRule *r, int64_t rowid,
                         sqlite3_int64 *pNewRowid, char **pzErr) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "INSERT INTO main." RET_TABLE
                              "(rowid, table_name, kind, days, time_column, cascade_from, "
                              "rationale, filter) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                              -1, &st, NULL);
  if (rc == SQLITE_OK) {
    if (rowid > 0) sqlite3_bind_int64(st, 1, rowid);
    ret_bind_rule(st, r);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  if (rc != SQLITE_OK) telem_set_err(pzErr, "cannot write " RET_TABLE ": %s", sqlite3_errmsg(db));
  else if (pNewRowid) *pNewRowid = sqlite3_last_insert_rowid(db);
  sqlite3_finalize(st);
  return rc;
}

/* Creates the database table if needed, seeding it with the file policy
 * (rowids 1..n).  Returns an SQLite code with *pzErr on error. */
/* Creates main.telem_retention_policy (the caller knows it is absent).
 * Returns an SQLite code with *pzErr. */
static int ret_db_create(sqlite3 *db, char **pzErr) {
  char *ddl = sqlite3_mprintf("CREATE TABLE main." RET_TABLE "%s", ret_ddl_body);
  int rc = ddl ? sqlite3_exec(db, ddl, NULL, NULL, NULL) : SQLITE_NOMEM;
  sqlite3_free(ddl);
  if (rc != SQLITE_OK)
    telem_set_err(pzErr, "cannot create " RET_TABLE ": %s",
                  rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(db));
  return rc;
}

/* Creates the database table if needed, seeding it with the file policy
 * (rowids 1..n).  Returns an SQLite code with *pzErr on error.
 *
 * The seed is a copy: the file policy belongs to the registry, and the SQL
 * run while seeding (an INSERT whose trigger or CHECK calls a function that
 * switches the contracts) could free it under the loop. */
static int ret_db_ensure(sqlite3 *db, TelemConn *c, char **pzErr) {
  int ex = ret_db_table_exists(db, pzErr);
  if (ex < 0) return SQLITE_ERROR;
  if (ex == 2) return ret_db_upgrade(db, pzErr);
  if (ex) return SQLITE_OK;
  RetFileCache *fc = ret_file_policy(c, pzErr);
  if (!fc) return SQLITE_ERROR;
  TelemPolicy *seed = ret_policy_dup(fc->policy);
  fc = NULL; /* may be freed from here on */
  if (!seed) {
    telem_set_oom(pzErr);
    return SQLITE_NOMEM;
  }
  int rc = ret_db_create(db, pzErr);
  for (int i = 0; i < seed->n && rc == SQLITE_OK; i++)
    rc = ret_db_insert(db, &seed->rules[i], seed->rules[i].rowid, NULL, pzErr);
  telem_policy_free(seed);
  return rc;
}

/* 1 when a statement other than a read-only one is running on db: a
 * COMMIT (or RELEASE of an outermost SAVEPOINT) would then fail. */
int telem_db_writer_busy(sqlite3 *db) {
  for (sqlite3_stmt *s = sqlite3_next_stmt(db, NULL); s; s = sqlite3_next_stmt(db, s))
    if (sqlite3_stmt_busy(s) && !sqlite3_stmt_readonly(s)) return 1;
  return 0;
}

/* The rules of the database policy one write needs, read by key (O(log n)
 * rows, not the whole policy): the row being changed (rowid `old`, 0 for
 * none), the rule named `name` (a duplicate), the parent `parent` of a
 * cascade, and, when `children_of` is not NULL, one cascade rule of that
 * parent (enough to refuse removing it).  Returns a new policy or NULL with
 * *pzErr; a damaged row is an error naming its rowid, as for reads. */
static TelemPolicy *ret_db_partial(sqlite3 *db, int ex, sqlite3_int64 old, const char *name,
                                   const char *parent, const char *children_of, char **pzErr) {
  char *sql = sqlite3_mprintf(
      "SELECT rowid, table_name, kind, days, time_column, cascade_from, rationale, %s "
      "FROM main." RET_TABLE " WHERE rowid = ?1 OR table_name = ?2 OR table_name = ?3 "
      "OR rowid = (SELECT rowid FROM main." RET_TABLE
      " WHERE ?4 IS NOT NULL AND cascade_from = ?4 COLLATE NOCASE LIMIT 1)",
      RET_FILTER_COL(ex));
  sqlite3_stmt *st = NULL;
  TelemPolicy *p = telem_policy_new();
  char *err = NULL;
  int rc = p && sql ? sqlite3_prepare_v2(db, sql, -1, &st, NULL) : SQLITE_NOMEM;
  sqlite3_free(sql);
  if (rc == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, old);
    if (name) sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    if (parent) sqlite3_bind_text(st, 3, parent, -1, SQLITE_STATIC);
    if (children_of) sqlite3_bind_text(st, 4, children_of, -1, SQLITE_STATIC);
  }
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    TelemPolicyRuleInfo info;
    memset(&info, 0, sizeof info);
    sqlite3_int64 rowid = sqlite3_column_int64(st, 0);
    info.table_name = (const char *)sqlite3_column_text(st, 1);
    info.kind = (const char *)sqlite3_column_text(st, 2);
    int dt = sqlite3_column_type(st, 3);
    info.days = dt == SQLITE_NULL ? TELEM_POLICY_NO_DAYS
                : dt == SQLITE_INTEGER ? sqlite3_column_int64(st, 3) : 0;
    info.time_column = (const char *)sqlite3_column_text(st, 4);
    info.cascade_from = (const char *)sqlite3_column_text(st, 5);
    info.rationale = (const char *)sqlite3_column_text(st, 6);
    info.filter = (const char *)sqlite3_column_text(st, 7);
    int arc = telem_policy_add_rowid(p, &info, rowid, &err);
    if (arc == -2) rc = SQLITE_NOMEM;
    else if (arc) {
      telem_set_err(pzErr, RET_TABLE " row %lld: %s", (long long)rowid, err ? err : "invalid");
      rc = SQLITE_CONSTRAINT;
    } else {
      rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(st);
  sqlite3_free(err);
  if (rc == SQLITE_DONE) return p;
  if (rc == SQLITE_NOMEM) telem_set_oom(pzErr);
  else if (rc != SQLITE_CONSTRAINT)
    telem_set_err(pzErr, "cannot read " RET_TABLE ": %s", sqlite3_errmsg(db));
  telem_policy_free(p);
  return NULL;
}

/* ---- telem_retention: the virtual table ----------------------------------- */

#define RET_COL_TABLE 0
#define RET_COL_KIND 1
#define RET_COL_DAYS 2
#define RET_COL_TIME 3
#define RET_COL_CASCADE 4
#define RET_COL_RATIONALE 5
#define RET_COL_SOURCE 6
#define RET_COL_FILTER 7

typedef struct RetVtab {
  sqlite3_vtab base; /* must be first */
  sqlite3 *db;
  TelemConn *c; /* borrowed: the module's client data holds the reference */
} RetVtab;

typedef struct RetCursor {
  sqlite3_vtab_cursor base; /* must be first */
  TelemPolicy *policy;      /* this scan's snapshot; owned */
  char *source;             /* owned copy */
  int i;                    /* current rule */
} RetCursor;

/* xConnect (and xCreate is NULL: eponymous only). */
static int ret_connect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                       sqlite3_vtab **ppVtab, char **pzErr) {
  (void)argc;
  (void)argv;
  int rc = sqlite3_declare_vtab(db,
                                "CREATE TABLE x(table_name TEXT, kind TEXT, days INTEGER, "
                                "time_column TEXT, cascade_from TEXT, rationale TEXT, source TEXT, "
                                "filter TEXT)");
  if (rc != SQLITE_OK) {
    telem_set_err(pzErr, "telem_retention: %s", sqlite3_errmsg(db));
    return rc;
  }
  /* DIRECTONLY: the table reads and writes telem_retention_policy and reads
   * contract files, so a trigger or view planted in an untrusted database
   * must not be able to use it. */
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  RetVtab *v = sqlite3_malloc64(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->db = db;
  v->c = pAux;
  *ppVtab = &v->base;
  return SQLITE_OK;
}

/* xDisconnect / xDestroy */
static int ret_disconnect(sqlite3_vtab *pVtab) {
  sqlite3_free(pVtab);
  return SQLITE_OK;
}

/* xBestIndex: always a full scan of the (small) policy. */
static int ret_best_index(sqlite3_vtab *pVtab, sqlite3_index_info *info) {
  (void)pVtab;
  info->estimatedCost = 100;
  info->estimatedRows = 20;
  return SQLITE_OK;
}

/* xOpen */
static int ret_open(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur) {
  (void)pVtab;
  RetCursor *cur = sqlite3_malloc64(sizeof *cur);
  if (!cur) return SQLITE_NOMEM;
  memset(cur, 0, sizeof *cur);
  *ppCur = &cur->base;
  return SQLITE_OK;
}

/* xClose */
static int ret_close(sqlite3_vtab_cursor *pCur) {
  RetCursor *cur = (RetCursor *)pCur;
  telem_policy_free(cur->policy);
  sqlite3_free(cur->source);
  sqlite3_free(cur);
  return SQLITE_OK;
}

/* xFilter: snapshots the active policy. */
static int ret_filter(sqlite3_vtab_cursor *pCur, int idxNum, const char *idxStr, int argc,
                      sqlite3_value **argv) {
  (void)idxNum;
  (void)idxStr;
  (void)argc;
  (void)argv;
  RetCursor *cur = (RetCursor *)pCur;
  RetVtab *v = (RetVtab *)pCur->pVtab;
  telem_policy_free(cur->policy);
  cur->policy = NULL;
  sqlite3_free(cur->source);
  cur->source = NULL;
  cur->i = 0;
  char *err = NULL;
  const char *src = NULL;
  cur->policy = telem_policy_active(v->db, v->c, &src, &err);
  if (!cur->policy) {
    telem_vtab_errorf(pCur->pVtab, "telem_retention: %s", err ? err : "out of memory");
    sqlite3_free(err);
    return SQLITE_ERROR;
  }
  cur->source = sqlite3_mprintf("%s", src);
  return cur->source ? SQLITE_OK : SQLITE_NOMEM;
}

/* xNext */
static int ret_next(sqlite3_vtab_cursor *pCur) {
  ((RetCursor *)pCur)->i++;
  return SQLITE_OK;
}

/* xEof */
static int ret_eof(sqlite3_vtab_cursor *pCur) {
  RetCursor *cur = (RetCursor *)pCur;
  return !cur->policy || cur->i >= cur->policy->n;
}

/* xColumn */
static int ret_column(sqlite3_vtab_cursor *pCur, sqlite3_context *ctx, int col) {
  RetCursor *cur = (RetCursor *)pCur;
  const TelemPolicyRule *r = &cur->policy->rules[cur->i];
  const char *z = NULL;
  switch (col) {
    case RET_COL_TABLE: z = r->table_name; break;
    case RET_COL_KIND: z = telem_policy_kind_name(r->kind); break;
    case RET_COL_DAYS:
      if (r->days != TELEM_POLICY_NO_DAYS) sqlite3_result_int64(ctx, r->days);
      return SQLITE_OK;
    case RET_COL_TIME: z = r->time_column; break;
    case RET_COL_CASCADE: z = r->cascade_from; break;
    case RET_COL_RATIONALE: z = r->rationale; break;
    case RET_COL_SOURCE: z = cur->source; break;
    case RET_COL_FILTER: z = r->filter; break;
  }
  if (z) sqlite3_result_text(ctx, z, -1, SQLITE_TRANSIENT);
  return SQLITE_OK;
}

/* xRowid */
static int ret_rowid(sqlite3_vtab_cursor *pCur, sqlite3_int64 *pRowid) {
  RetCursor *cur = (RetCursor *)pCur;
  *pRowid = cur->policy->rules[cur->i].rowid;
  return SQLITE_OK;
}

/* Text of argument v for a policy field, NULL for SQL NULL. */
static const char *ret_text(sqlite3_value *v) {
  return sqlite3_value_type(v) == SQLITE_NULL ? NULL : (const char *)sqlite3_value_text(v);
}

/* xUpdate: argc==1 deletes argv[0]; argv[0] NULL inserts; else updates
 * rowid argv[0].  Every change is validated as a whole policy before the
 * database table is touched. */
static int ret_update(sqlite3_vtab *pVtab, int argc, sqlite3_value **argv,
                      sqlite3_int64 *pRowid) {
  RetVtab *v = (RetVtab *)pVtab;
  TelemPolicy *p = NULL;
  char *err = NULL;
  int rc = SQLITE_OK;
  sqlite3_int64 old = 0;
  int at = -1;
  sqlite3_stmt *st = NULL;

  /* Validate first, so a bad write (even the first, which creates and
   * seeds the table) changes nothing.  Once the database policy exists,
   * only the rules this write touches are read, by key: a write costs
   * O(log n), not a read and check of the whole policy. */
  int ex = ret_db_table_exists(v->db, &err);
  if (ex < 0) {
    rc = SQLITE_ERROR;
    goto done;
  }
  const char *new_name = argc > 1 ? ret_text(argv[2 + RET_COL_TABLE]) : NULL;
  const char *new_kind = argc > 1 ? ret_text(argv[2 + RET_COL_KIND]) : NULL;
  const char *new_parent = argc > 1 ? ret_text(argv[2 + RET_COL_CASCADE]) : NULL;
  if (sqlite3_value_type(argv[0]) != SQLITE_NULL) old = sqlite3_value_int64(argv[0]);
  if (!ex) {
    p = telem_policy_active(v->db, v->c, NULL, &err); /* the file's, rowids as seeded */
  } else {
    /* The old row's name, to look for its cascade children when it goes,
     * is renamed or becomes a cascade itself. */
    char *old_name = NULL;
    if (old) {
      sqlite3_stmt *q = NULL;
      if (sqlite3_prepare_v2(v->db, "SELECT table_name FROM main." RET_TABLE " WHERE rowid = ?1",
                             -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(q, 1, old);
        if (sqlite3_step(q) == SQLITE_ROW)
          old_name = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(q, 0));
      }
      sqlite3_finalize(q);
    }
    int need_children = old_name && (argc == 1 || !new_name ||
                                      sqlite3_stricmp(old_name, new_name) != 0 ||
                                      (new_kind && strcmp(new_kind, "cascade") == 0));
    p = ret_db_partial(v->db, ex, old, new_name, new_parent, need_children ? old_name : NULL, &err);
    sqlite3_free(old_name);
  }
  if (!p) {
    rc = SQLITE_ERROR;
    goto done;
  }
  char *gone = NULL; /* the old rule's name, kept to check what referred to it */
  if (old) {
    for (int i = 0; i < p->n; i++)
      if (p->rules[i].rowid == old) at = i;
    if (at < 0) {
      telem_set_err(&err, "no policy row with rowid %lld", (long long)old);
      rc = SQLITE_ERROR;
      goto done;
    }
    gone = sqlite3_mprintf("%s", p->rules[at].table_name);
    if (!gone) {
      rc = SQLITE_NOMEM;
      goto done;
    }
  }
  if (argc > 1) {
    if (sqlite3_value_type(argv[0]) != SQLITE_NULL &&
        sqlite3_value_int64(argv[1]) != old) {
      telem_set_err(&err, "the rowid cannot be changed");
      rc = SQLITE_ERROR;
      sqlite3_free(gone);
      goto done;
    }
    TelemPolicyRuleInfo info;
    memset(&info, 0, sizeof info);
    info.table_name = new_name;
    info.kind = new_kind;
    sqlite3_value *dv = argv[2 + RET_COL_DAYS];
    switch (sqlite3_value_numeric_type(dv)) {
      case SQLITE_NULL: info.days = TELEM_POLICY_NO_DAYS; break;
      case SQLITE_INTEGER: info.days = sqlite3_value_int64(dv); break;
      case SQLITE_FLOAT: {
        double d = sqlite3_value_double(dv);
        info.days = (d == (double)(int64_t)d && d > 0 && d < 1e9) ? (int64_t)d : 0;
        break;
      }
      default: info.days = 0; break; /* text that is not a number */
    }
    info.time_column = ret_text(argv[2 + RET_COL_TIME]);
    info.cascade_from = new_parent;
    info.rationale = ret_text(argv[2 + RET_COL_RATIONALE]);
    info.filter = ret_text(argv[2 + RET_COL_FILTER]);
    if (at >= 0) telem_policy_remove(p, at);
    int arc = telem_policy_add_rowid(p, &info, old, &err);
    if (arc) {
      rc = arc == -2 ? SQLITE_NOMEM : SQLITE_ERROR;
      sqlite3_free(gone);
      goto done;
    }
  } else {
    telem_policy_remove(p, at);
  }
  int crc = telem_policy_check_change(p, gone, new_name, &err);
  sqlite3_free(gone);
  if (crc) {
    rc = SQLITE_ERROR;
    goto done;
  }
  /* Valid: create (and seed) the table if needed, then write the change. */
  rc = ret_db_ensure(v->db, v->c, &err);
  if (rc != SQLITE_OK) goto done;
  if (argc == 1) {
    rc = sqlite3_prepare_v2(v->db, "DELETE FROM main." RET_TABLE " WHERE rowid=?1", -1, &st,
                            NULL);
    if (rc == SQLITE_OK) {
      sqlite3_bind_int64(st, 1, old);
      rc = sqlite3_step(st);
      if (rc == SQLITE_DONE) rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK)
      telem_set_err(&err, "cannot write " RET_TABLE ": %s", sqlite3_errmsg(v->db));
  } else {
    int i = telem_policy_find_rule(p, ret_text(argv[2 + RET_COL_TABLE]),
                                   ret_text(argv[2 + RET_COL_FILTER]));
    if (i < 0) { /* cannot happen: it was just added */
      rc = SQLITE_ERROR;
      goto done;
    }
    const TelemPolicyRule *r = &p->rules[i];
    if (at < 0) {
      rc = ret_db_insert(v->db, r, 0, pRowid, &err);
    } else {
      rc = sqlite3_prepare_v2(v->db,
                              "UPDATE main." RET_TABLE
                              " SET table_name=?2, kind=?3, days=?4, time_column=?5, "
                              "cascade_from=?6, rationale=?7, filter=?8 WHERE rowid=?1",
                              -1, &st, NULL);
      if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, old);
        ret_bind_rule(st, r);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) rc = SQLITE_OK;
      }
      if (rc != SQLITE_OK)
        telem_set_err(&err, "cannot write " RET_TABLE ": %s", sqlite3_errmsg(v->db));
    }
  }
done:
  sqlite3_finalize(st);
  telem_policy_free(p);
  if (rc != SQLITE_OK) {
    if (rc == SQLITE_NOMEM && !err) {
      telem_set_oom(&err);
    }
    telem_vtab_errorf(pVtab, "telem_retention: %s", err ? err : "cannot write the policy");
  }
  sqlite3_free(err);
  return rc;
}

static const sqlite3_module ret_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous only: no CREATE VIRTUAL TABLE */
    .xConnect = ret_connect,
    .xBestIndex = ret_best_index,
    .xDisconnect = ret_disconnect,
    .xDestroy = ret_disconnect,
    .xOpen = ret_open,
    .xClose = ret_close,
    .xFilter = ret_filter,
    .xNext = ret_next,
    .xEof = ret_eof,
    .xColumn = ret_column,
    .xRowid = ret_rowid,
    .xUpdate = ret_update, /* writes through to telem_retention_policy */
};

/* ---- telem_policy_import / telem_policy_yaml ------------------------------ */

/* 1 when the argument of telem_policy_import is YAML text rather than a
 * path: it has a newline, is blank, or starts (after blanks) with "tables:",
 * "{" or "---".  A one-line path never does. */
static int ret_is_yaml_text(const char *z) {
  if (strchr(z, '\n')) return 1;
  while (*z == ' ' || *z == '\t') z++;
  if (!*z) return 1; /* blank: reported as an empty policy */
  return strncmp(z, "tables:", 7) == 0 || *z == '{' || strncmp(z, "---", 3) == 0;
}

/* Imports the policy in `v` (a path or YAML text) into the database, in one
 * SAVEPOINT.  Returns the number of rules, -2 for NULL in (nothing done), or
 * -1 with *pzErr (no function-name prefix; NULL *pzErr means out of memory). */
static int ret_import_run(sqlite3 *db, sqlite3_value *v, char **pzErr) {
  char *err = NULL;
  char *data = NULL;
  TelemPolicy *p = NULL;
  int in_sp = 0, n_rules = -1;
  if (sqlite3_value_type(v) == SQLITE_NULL) return -2; /* NULL in, NULL out */
  if (sqlite3_value_type(v) != SQLITE_TEXT) {
    telem_set_err(pzErr, "argument 1: expected a file path or YAML text");
    return -1;
  }
  const char *arg = (const char *)sqlite3_value_text(v);
  size_t alen = (size_t)sqlite3_value_bytes(v);
  if (!arg) return -1;
  const char *name = "argument 1";
  const char *text = arg;
  size_t n = alen;
  if (alen == 0) {
    telem_set_err(pzErr, "argument 1: policy is empty");
    return -1;
  }
  if (telem_db_writer_busy(db)) { /* SAVEPOINT and COMMIT are refused there */
    telem_set_err(&err, "cannot run inside a writing statement; call it from a plain SELECT");
    goto fail;
  }
  if (!ret_is_yaml_text(arg)) {
    /* One open-then-fstat path (core/file.c): a regular file only, opened
     * O_NONBLOCK, so a FIFO is an error at once, not a hang. */
    data = telem_file_read(arg, TELEM_MAX_POLICY_BYTES, &n, &err);
    if (!data) goto fail;
    name = arg;
    text = data;
  }
  p = telem_policy_parse(name, text, n, &err);
  if (!p) goto fail;
  /* One SAVEPOINT: the old rules go and the new ones come in together, or
   * nothing changes. */
  if (sqlite3_exec(db, "SAVEPOINT telem_policy_import", NULL, NULL, NULL) != SQLITE_OK) {
    telem_set_err(&err, "cannot start a transaction: %s", sqlite3_errmsg(db));
    goto fail;
  }
  in_sp = 1;
  int ex = ret_db_table_exists(db, &err);
  if (ex < 0) goto fail;
  if (ex == 2 && ret_db_upgrade(db, &err) != SQLITE_OK) goto fail;
  if (!ex && ret_db_create(db, &err) != SQLITE_OK) goto fail;
  if (sqlite3_exec(db, "DELETE FROM main." RET_TABLE, NULL, NULL, NULL) != SQLITE_OK) {
    telem_set_err(&err, "cannot write " RET_TABLE ": %s", sqlite3_errmsg(db));
    goto fail;
  }
  for (int i = 0; i < p->n; i++)
    if (ret_db_insert(db, &p->rules[i], i + 1, NULL, &err) != SQLITE_OK) goto fail;
  if (sqlite3_exec(db, "RELEASE telem_policy_import", NULL, NULL, NULL) != SQLITE_OK) {
    telem_set_err(&err, "cannot commit: %s", sqlite3_errmsg(db));
    goto fail;
  }
  in_sp = 0;
  n_rules = p->n;
fail:
  if (in_sp) {
    sqlite3_exec(db, "ROLLBACK TO telem_policy_import", NULL, NULL, NULL);
    sqlite3_exec(db, "RELEASE telem_policy_import", NULL, NULL, NULL);
  }
  if (n_rules < 0) *pzErr = err;
  else sqlite3_free(err);
  telem_policy_free(p);
  sqlite3_free(data);
  return n_rules;
}

/* ---- telem_policy_import: the table-valued function --------------------------- */

#define IMP_COL_RULES 0
#define IMP_COL_ARG 1   /* HIDDEN argument: path or YAML text */
#define IMP_COL_EXTRA 2 /* TELEM_TVF_EXTRA_COLUMNS: too many arguments */

/* idxNum 1: the argument is given (argv[0]). */

typedef struct ImpVtab {
  sqlite3_vtab base; /* must be first */
  sqlite3 *db;
} ImpVtab;

typedef struct ImpCursor {
  sqlite3_vtab_cursor base; /* must be first */
  sqlite3_int64 rules;      /* rule count, or -1 for NULL */
  int eof;
} ImpCursor;

/* xConnect and xCreate. */
static int imp_connect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                       sqlite3_vtab **ppVtab, char **pzErr) {
  (void)pAux;
  (void)argc;
  (void)argv;
  int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(rules INTEGER, source HIDDEN"
                                    TELEM_TVF_EXTRA_COLUMNS ")");
  if (rc != SQLITE_OK) {
    telem_set_err(pzErr, "telem_policy_import: %s", sqlite3_errmsg(db));
    return rc;
  }
  /* DIRECTONLY: it reads a file and replaces the policy.  Triggers and
   * views refuse DIRECTONLY tables; CHECKs, defaults and generated columns
   * cannot hold a subquery. */
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  ImpVtab *v = sqlite3_malloc64(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->db = db;
  *ppVtab = &v->base;
  return SQLITE_OK;
}

/* xDisconnect / xDestroy */
static int imp_disconnect(sqlite3_vtab *pVtab) {
  sqlite3_free(pVtab);
  return SQLITE_OK;
}

/* xBestIndex: the argument is required. */
static int imp_best_index(sqlite3_vtab *pVtab, sqlite3_index_info *info) {
  int ix = -1, unusable = 0;
  if (telem_tvf_too_many_args(pVtab, info, "telem_policy_import", IMP_COL_EXTRA, 1))
    return SQLITE_ERROR;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *cn = &info->aConstraint[i];
    if (cn->iColumn != IMP_COL_ARG || cn->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    if (!cn->usable) unusable = 1;
    else ix = i;
  }
  if (ix < 0) {
    if (unusable) return SQLITE_CONSTRAINT;
    telem_vtab_errorf(pVtab, "telem_policy_import: expected 1 argument, got 0");
    return SQLITE_ERROR;
  }
  info->aConstraintUsage[ix].argvIndex = 1;
  info->aConstraintUsage[ix].omit = 1;
  info->idxNum = 1;
  info->estimatedCost = 1e9;
  info->estimatedRows = 1;
  return SQLITE_OK;
}

/* xOpen */
static int imp_open(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur) {
  (void)pVtab;
  ImpCursor *cur = sqlite3_malloc64(sizeof *cur);
  if (!cur) return SQLITE_NOMEM;
  memset(cur, 0, sizeof *cur);
  cur->eof = 1;
  *ppCur = &cur->base;
  return SQLITE_OK;
}

/* xClose */
static int imp_close(sqlite3_vtab_cursor *pCur) {
  sqlite3_free(pCur);
  return SQLITE_OK;
}

/* xFilter: runs the import; one row with the rule count. */
static int imp_filter(sqlite3_vtab_cursor *pCur, int idxNum, const char *idxStr, int argc,
                      sqlite3_value **argv) {
  (void)idxStr;
  ImpCursor *cur = (ImpCursor *)pCur;
  cur->eof = 1;
  if (!(idxNum & 1) || argc < 1) return SQLITE_ERROR;
  char *err = NULL;
  sqlite3 *db = ((ImpVtab *)pCur->pVtab)->db;
  int n = ret_import_run(db, argv[0], &err);
  if (n == -1) {
    int rc = err ? SQLITE_ERROR : SQLITE_NOMEM;
    telem_vtab_errorf(pCur->pVtab, "telem_policy_import: %s", err ? err : "out of memory");
    sqlite3_free(err);
    return rc;
  }
  cur->rules = n;
  cur->eof = 0;
  return SQLITE_OK;
}

/* xNext */
static int imp_next(sqlite3_vtab_cursor *pCur) {
  ((ImpCursor *)pCur)->eof = 1;
  return SQLITE_OK;
}

/* xEof */
static int imp_eof(sqlite3_vtab_cursor *pCur) { return ((ImpCursor *)pCur)->eof; }

/* xColumn */
static int imp_column(sqlite3_vtab_cursor *pCur, sqlite3_context *ctx, int col) {
  ImpCursor *cur = (ImpCursor *)pCur;
  if (col == IMP_COL_RULES && cur->rules >= 0) sqlite3_result_int64(ctx, cur->rules);
  return SQLITE_OK;
}

/* xRowid */
static int imp_rowid(sqlite3_vtab_cursor *pCur, sqlite3_int64 *pRowid) {
  (void)pCur;
  *pRowid = 1;
  return SQLITE_OK;
}

static const sqlite3_module imp_module = {
    .iVersion = 0,
    .xCreate = imp_connect, /* eponymous too: the fallback when temp could not be made */
    .xConnect = imp_connect,
    .xBestIndex = imp_best_index,
    .xDisconnect = imp_disconnect,
    .xDestroy = imp_disconnect,
    .xOpen = imp_open,
    .xClose = imp_close,
    .xFilter = imp_filter,
    .xNext = imp_next,
    .xEof = imp_eof,
    .xColumn = imp_column,
    .xRowid = imp_rowid,
};

/* telem_policy_import(...) as a scalar: only says how to call it (no side
 * effect). */
static void ret_import_scalar_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  sqlite3_result_error(ctx,
                       "telem_policy_import: call it as a table: SELECT * FROM "
                       "telem_policy_import(...)",
                       -1);
}

/* telem_policy_yaml() -> the active policy as YAML text. */
static void ret_yaml_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  TelemConn *c = sqlite3_user_data(ctx);
  char *err = NULL;
  TelemPolicy *p = telem_policy_active(sqlite3_context_db_handle(ctx), c, NULL, &err);
  if (!p) {
    telem_result_errorf(ctx, "telem_policy_yaml", "%s", err ? err : "out of memory");
    sqlite3_free(err);
    return;
  }
  char *y = telem_policy_to_yaml(p);
  telem_policy_free(p);
  if (!y) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_text(ctx, y, -1, sqlite3_free);
}

static const TelemSqlFunc retention_funcs[] = {
    /* No side effect: it only says to call the table form. */
    {"telem_policy_import", 1, 1, SQLITE_INNOCUOUS, ret_import_scalar_func},
    /* DIRECTONLY: reads tables (the policy); no side effect. */
    {"telem_policy_yaml", 0, 0, SQLITE_DIRECTONLY, ret_yaml_func},
    {NULL},
};

static const TelemSqlModule retention_modules[] = {
    {"telem_retention", &ret_module},
    {"telem_policy_import", &imp_module},
    {NULL},
};

/* telem_policy_import is a table created in temp, not an eponymous table of
 * main: a statement reading a table of main holds a read transaction on it,
 * whose snapshot a writer in another process can make stale before the
 * import starts writing (SQLITE_BUSY_SNAPSHOT); temp is private.  See
 * prune_apply.c for the same choice. */
const TelemFeature telem_feature_retention = {
    "retention", retention_funcs, retention_modules,
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.telem_policy_import USING telem_policy_import"};
