/*
 * retention.c -- the active retention policy from SQL.
 *
 *   telem_retention            eponymous writable virtual table:
 *                              table_name, kind, days, time_column,
 *                              cascade_from, rationale, source
 *   telem_policy_import(x)     replaces the database policy with the YAML
 *                              file (or text) x; returns the number of rules
 *   telem_policy_yaml()        the active policy as YAML
 *
 *     SELECT table_name, kind, days FROM telem_retention;
 *     UPDATE telem_retention SET days = 180 WHERE table_name = 'research_metrics';
 *     SELECT telem_policy_import('contracts/db/retention-policy.yaml');
 *
 * The active policy is the table main.telem_retention_policy when it exists,
 * else the retention-policy contract of the connection's registry (the
 * embedded copy unless telem_use_contracts() switched it).  The first write
 * through telem_retention creates the table and seeds it with the file's
 * rules (keeping their rowids 1..n, which the statement being run already
 * saw), so a write never silently drops the file's other rules.
 *
 * Writes are validated as a whole policy (the changed rule on its own, then
 * cross-rule checks: a cascade's parent must stay in the policy) before
 * anything is written, and are written through to telem_retention_policy
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
#include "voxtelem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define RET_TABLE "telem_retention_policy"

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
    telem_set_err(pzErr, "out of memory");
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

/* 1 when main.telem_retention_policy exists, 0 when not, -1 on error. */
static int ret_db_table_exists(sqlite3 *db) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT 1 FROM main.sqlite_master WHERE type='table' AND name='" RET_TABLE
                              "'",
                              -1, &st, NULL);
  if (rc != SQLITE_OK) return -1;
  rc = sqlite3_step(st);
  int found = (rc == SQLITE_ROW);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) found = -1;
  sqlite3_finalize(st);
  return found;
}

/* Reads main.telem_retention_policy into a new policy (rowids kept).  A
 * row that fails validation (someone wrote the table by hand) is an error
 * naming its rowid: the prune fails closed on a damaged policy. */
static TelemPolicy *ret_db_policy(sqlite3 *db, char **pzErr) {
  sqlite3_stmt *st = NULL;
  TelemPolicy *p = telem_policy_new();
  char *err = NULL;
  if (!p) goto oom;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT rowid, table_name, kind, days, time_column, cascade_from, "
                              "rationale FROM main." RET_TABLE " ORDER BY rowid",
                              -1, &st, NULL);
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
  telem_set_err(pzErr, "out of memory");
fail:
  sqlite3_free(err);
  sqlite3_finalize(st);
  telem_policy_free(p);
  return NULL;
}

TelemPolicy *telem_policy_active(sqlite3 *db, TelemConn *c, const char **pzSource,
                                 char **pzErr) {
  int ex = ret_db_table_exists(db);
  if (ex < 0) {
    telem_set_err(pzErr, "cannot read the schema: %s", sqlite3_errmsg(db));
    return NULL;
  }
  if (ex) {
    if (pzSource) *pzSource = "database";
    return ret_db_policy(db, pzErr);
  }
  RetFileCache *fc = ret_file_policy(c, pzErr);
  if (!fc) return NULL;
  if (pzSource) *pzSource = fc->source;
  TelemPolicy *p = ret_policy_dup(fc->policy);
  if (!p) telem_set_err(pzErr, "out of memory");
  return p;
}

/* ---- writing the database policy ------------------------------------------ */

static const char ret_ddl[] =
    "CREATE TABLE IF NOT EXISTS main." RET_TABLE "(\n"
    "  table_name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE, -- governed table\n"
    "  kind TEXT NOT NULL,     -- days | ms_days | expires_lt_now | keep_forever | manual | cascade\n"
    "  days INTEGER,           -- days and ms_days only\n"
    "  time_column TEXT,       -- column compared with the cutoff\n"
    "  cascade_from TEXT,      -- parent table of a cascade rule\n"
    "  rationale TEXT NOT NULL -- why the data is kept that long\n"
    ")";

/* Binds rule r to parameters ?2..?7 (table_name, kind, days, time_column,
 * cascade_from, rationale) of an INSERT or UPDATE of the policy table. */
static void ret_bind_rule(sqlite3_stmt *st, const TelemPolicyRule *r) {
  sqlite3_bind_text(st, 2, r->table_name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, telem_policy_kind_name(r->kind), -1, SQLITE_STATIC);
  if (r->days != TELEM_POLICY_NO_DAYS) sqlite3_bind_int64(st, 4, r->days);
  sqlite3_bind_text(st, 5, r->time_column, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, r->cascade_from, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 7, r->rationale, -1, SQLITE_STATIC);
}

/* Inserts rule r (with rowid when rowid > 0) into the database table.
 * Returns an SQLite code; on error *pzErr is set. */
static int ret_db_insert(sqlite3 *db, const TelemPolicyRule *r, int64_t rowid,
                         sqlite3_int64 *pNewRowid, char **pzErr) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "INSERT INTO main." RET_TABLE
                              "(rowid, table_name, kind, days, time_column, cascade_from, "
                              "rationale) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
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
static int ret_db_ensure(sqlite3 *db, TelemConn *c, char **pzErr) {
  int ex = ret_db_table_exists(db);
  if (ex < 0) {
    telem_set_err(pzErr, "cannot read the schema: %s", sqlite3_errmsg(db));
    return SQLITE_ERROR;
  }
  if (ex) return SQLITE_OK;
  RetFileCache *fc = ret_file_policy(c, pzErr);
  if (!fc) return SQLITE_ERROR;
  int rc = sqlite3_exec(db, ret_ddl, NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    telem_set_err(pzErr, "cannot create " RET_TABLE ": %s", sqlite3_errmsg(db));
    return rc;
  }
  for (int i = 0; i < fc->policy->n && rc == SQLITE_OK; i++)
    rc = ret_db_insert(db, &fc->policy->rules[i], fc->policy->rules[i].rowid, NULL, pzErr);
  return rc;
}

/* 1 when a statement other than a read-only one is running on db: a
 * COMMIT (or RELEASE of an outermost SAVEPOINT) would then fail. */
int telem_db_writer_busy(sqlite3 *db) {
  for (sqlite3_stmt *s = sqlite3_next_stmt(db, NULL); s; s = sqlite3_next_stmt(db, s))
    if (sqlite3_stmt_busy(s) && !sqlite3_stmt_readonly(s)) return 1;
  return 0;
}

/* ---- telem_retention: the virtual table ----------------------------------- */

#define RET_COL_TABLE 0
#define RET_COL_KIND 1
#define RET_COL_DAYS 2
#define RET_COL_TIME 3
#define RET_COL_CASCADE 4
#define RET_COL_RATIONALE 5
#define RET_COL_SOURCE 6

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
                                "time_column TEXT, cascade_from TEXT, rationale TEXT, source TEXT)");
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

  /* Validate against the active policy first (the file's rowids are the
   * ones the seed will use), so a bad first write creates nothing. */
  p = telem_policy_active(v->db, v->c, NULL, &err);
  if (!p) {
    rc = SQLITE_ERROR;
    goto done;
  }
  if (sqlite3_value_type(argv[0]) != SQLITE_NULL) {
    old = sqlite3_value_int64(argv[0]);
    for (int i = 0; i < p->n; i++)
      if (p->rules[i].rowid == old) at = i;
    if (at < 0) {
      telem_set_err(&err, "no policy row with rowid %lld", (long long)old);
      rc = SQLITE_ERROR;
      goto done;
    }
  }
  if (argc > 1) {
    if (sqlite3_value_type(argv[0]) != SQLITE_NULL &&
        sqlite3_value_int64(argv[1]) != old) {
      telem_set_err(&err, "the rowid cannot be changed");
      rc = SQLITE_ERROR;
      goto done;
    }
    TelemPolicyRuleInfo info;
    memset(&info, 0, sizeof info);
    info.table_name = ret_text(argv[2 + RET_COL_TABLE]);
    info.kind = ret_text(argv[2 + RET_COL_KIND]);
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
    info.cascade_from = ret_text(argv[2 + RET_COL_CASCADE]);
    info.rationale = ret_text(argv[2 + RET_COL_RATIONALE]);
    if (at >= 0) telem_policy_remove(p, at);
    int arc = telem_policy_add_rowid(p, &info, old, &err);
    if (arc == -2) {
      rc = SQLITE_NOMEM;
      goto done;
    }
    if (arc) {
      rc = SQLITE_ERROR;
      goto done;
    }
  } else {
    telem_policy_remove(p, at);
  }
  if (telem_policy_check(p, &err)) {
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
    int i = telem_policy_find(p, ret_text(argv[2 + RET_COL_TABLE]));
    const TelemPolicyRule *r = &p->rules[i];
    if (at < 0) {
      rc = ret_db_insert(v->db, r, 0, pRowid, &err);
    } else {
      rc = sqlite3_prepare_v2(v->db,
                              "UPDATE main." RET_TABLE
                              " SET table_name=?2, kind=?3, days=?4, time_column=?5, "
                              "cascade_from=?6, rationale=?7 WHERE rowid=?1",
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
      telem_set_err(&err, "out of memory");
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

/* Reads file `path` into a new sqlite3 buffer, refusing more than
 * TELEM_MAX_POLICY_BYTES before reading them.  NULL + *pzErr on error. */
static char *ret_read_file(const char *path, size_t *pn, char **pzErr) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    telem_set_err(pzErr, "cannot open %.200s: %s", path, strerror(errno));
    return NULL;
  }
  struct stat sb;
  if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
    fclose(f);
    telem_set_err(pzErr, "cannot read %.200s: is a directory", path);
    return NULL;
  }
  if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) &&
      (unsigned long long)sb.st_size > TELEM_MAX_POLICY_BYTES) {
    fclose(f);
    telem_set_err(pzErr, "%.200s: policy is %llu bytes, larger than the %u byte limit", path,
                  (unsigned long long)sb.st_size, (unsigned)TELEM_MAX_POLICY_BYTES);
    return NULL;
  }
  size_t cap = TELEM_MAX_POLICY_BYTES + 2;
  char *buf = sqlite3_malloc64(cap);
  if (!buf) {
    fclose(f);
    telem_set_err(pzErr, "out of memory");
    return NULL;
  }
  size_t n = fread(buf, 1, cap - 1, f);
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    sqlite3_free(buf);
    telem_set_err(pzErr, "cannot read %.200s", path);
    return NULL;
  }
  if (n > TELEM_MAX_POLICY_BYTES) { /* a pipe or a file that grew */
    sqlite3_free(buf);
    telem_set_err(pzErr, "%.200s: policy is larger than the %u byte limit", path,
                  (unsigned)TELEM_MAX_POLICY_BYTES);
    return NULL;
  }
  buf[n] = 0;
  *pn = n;
  return buf;
}

/* 1 when the argument of telem_policy_import is YAML text rather than a
 * path: it has a newline, is blank, or starts (after blanks) with "tables:",
 * "{" or "---".  A one-line path never does. */
static int ret_is_yaml_text(const char *z) {
  if (strchr(z, '\n')) return 1;
  while (*z == ' ' || *z == '\t') z++;
  if (!*z) return 1; /* blank: reported as an empty policy */
  return strncmp(z, "tables:", 7) == 0 || *z == '{' || strncmp(z, "---", 3) == 0;
}

/* telem_policy_import(path_or_yaml) -> number of rules. */
static void ret_import_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  if (!telem_check_argc(ctx, "telem_policy_import", argc, 1, 1)) return;
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  char *err = NULL;
  char *data = NULL;
  TelemPolicy *p = NULL;
  int in_sp = 0;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return; /* NULL in, NULL out */
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    telem_result_errorf(ctx, "telem_policy_import", "argument 1: expected a file path or YAML text");
    return;
  }
  const char *arg = (const char *)sqlite3_value_text(argv[0]);
  size_t alen = (size_t)sqlite3_value_bytes(argv[0]);
  if (!arg) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  const char *name = "argument 1";
  const char *text = arg;
  size_t n = alen;
  if (alen == 0) {
    telem_result_errorf(ctx, "telem_policy_import", "argument 1: policy is empty");
    return;
  }
  if (!ret_is_yaml_text(arg)) {
    data = ret_read_file(arg, &n, &err);
    if (!data) goto fail;
    name = arg;
    text = data;
  }
  p = telem_policy_parse(name, text, n, &err);
  if (!p) goto fail;
  if (telem_db_writer_busy(db)) { /* SAVEPOINT and COMMIT are refused there */
    telem_set_err(&err, "cannot run inside a writing statement; call it from a plain SELECT");
    goto fail;
  }
  /* One SAVEPOINT: the old rules go and the new ones come in together, or
   * nothing changes. */
  if (sqlite3_exec(db, "SAVEPOINT telem_policy_import", NULL, NULL, NULL) != SQLITE_OK) {
    telem_set_err(&err, "cannot start a transaction: %s", sqlite3_errmsg(db));
    goto fail;
  }
  in_sp = 1;
  if (sqlite3_exec(db, ret_ddl, NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_exec(db, "DELETE FROM main." RET_TABLE, NULL, NULL, NULL) != SQLITE_OK) {
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
  sqlite3_result_int(ctx, p->n);
  telem_policy_free(p);
  sqlite3_free(data);
  return;
fail:
  if (in_sp) {
    sqlite3_exec(db, "ROLLBACK TO telem_policy_import", NULL, NULL, NULL);
    sqlite3_exec(db, "RELEASE telem_policy_import", NULL, NULL, NULL);
  }
  if (err)
    telem_result_errorf(ctx, "telem_policy_import", "%s", err);
  else
    sqlite3_result_error_nomem(ctx);
  sqlite3_free(err);
  telem_policy_free(p);
  sqlite3_free(data);
}

/* telem_policy_yaml() -> the active policy as YAML text. */
static void ret_yaml_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argv;
  if (!telem_check_argc(ctx, "telem_policy_yaml", argc, 0, 0)) return;
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
    /* DIRECTONLY: both read tables (and import reads files and writes the
     * policy), so they must not run from triggers or views of an untrusted
     * schema. */
    {"telem_policy_import", 1, 1, SQLITE_DIRECTONLY, ret_import_func},
    {"telem_policy_yaml", 0, 0, SQLITE_DIRECTONLY, ret_yaml_func},
    {NULL},
};

static const TelemSqlModule retention_modules[] = {
    {"telem_retention", &ret_module},
    {NULL},
};

const TelemFeature telem_feature_retention = {"retention", retention_funcs, retention_modules};
