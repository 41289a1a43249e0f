/*
 * contracts.c -- the contracts registry from SQL.
 *
 *   SELECT telem_use_contracts('/srv/app/contracts');  -- number of contracts
 *   SELECT telem_use_contracts(NULL);                  -- back to the embedded copy
 *   SELECT telem_column_class('ci_completion_run', 'branch');   -- 'S2'
 *   SELECT id, kind, source FROM telem_contracts;
 *   SELECT metric_type, sensitivity FROM telem_taxonomy WHERE family = 'orch';
 *
 * telem_contracts and telem_taxonomy are eponymous-only, read-only virtual
 * tables over the registry in use.  A cursor holds a reference to the
 * registry it started on, so switching contracts mid-scan is safe.
 */
#include "sql/sql.h"

#include <string.h>

/* ---- telem_use_contracts(dir) ------------------------------------------ */

static void use_contracts_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc; /* registered for exactly 1 */
  TelemConn *c = sqlite3_user_data(ctx);
  char *err = NULL;
  TelemRegistry *r;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
    r = telem_registry_embedded(&err);
  } else if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    telem_result_errorf(ctx, "telem_use_contracts", "argument 1: expected a directory path as text");
    return;
  } else {
    const char *dir = (const char *)sqlite3_value_text(argv[0]);
    if (!dir) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
    if ((size_t)sqlite3_value_bytes(argv[0]) != strlen(dir) || !dir[0]) {
      telem_result_errorf(ctx, "telem_use_contracts", "argument 1: not a usable directory path");
      return;
    }
    r = telem_registry_load_dir(dir, &err);
  }
  if (!r) {
    /* The contracts in use stay in use. */
    telem_result_errorf(ctx, "telem_use_contracts", "%s", err ? err : "out of memory");
    sqlite3_free(err);
    return;
  }
  int n = r->n_contracts;
  telem_conn_set_registry(c, r);
  sqlite3_result_int(ctx, n);
}

/* ---- telem_column_class(table, column) ---------------------------------- */

static void column_class_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc; /* registered for exactly 2 */
  TelemConn *c = sqlite3_user_data(ctx);
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL)
    return;
  const char *table = (const char *)sqlite3_value_text(argv[0]);
  const char *column = (const char *)sqlite3_value_text(argv[1]);
  if (!table || !column) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  const char *cls = telem_registry_column_class(c->reg, table, column);
  if (cls) sqlite3_result_text(ctx, cls, -1, SQLITE_TRANSIENT);
}

/* ---- read-only registry tables ------------------------------------------ */

/* Describes one registry table: its schema and how to read a cell. */
typedef struct RowTable {
  const char *schema;  /* CREATE TABLE x(...) */
  int (*count)(const TelemRegistry *r);
  const char *(*cell)(const TelemRegistry *r, int row, int col); /* NULL = SQL NULL */
} RowTable;

typedef struct RowVtab {
  sqlite3_vtab base; /* must be first */
  TelemConn *conn;   /* borrowed: the module's client data outlives the vtab */
  const RowTable *def;
} RowVtab;

typedef struct RowCursor {
  sqlite3_vtab_cursor base; /* must be first */
  TelemRegistry *reg;       /* reference held for the scan */
  int row;
} RowCursor;

#define CONTRACTS_COL_SOURCE 6
static int contracts_count(const TelemRegistry *r) { return r->n_contracts; }
static const char *contracts_cell(const TelemRegistry *r, int row, int col) {
  const TelemContract *c = &r->contracts[row];
  switch (col) {
    case 0: return c->id;
    case 1: return c->path;
    case 2: return c->kind;
    case 3: return c->owner;
    case 4: return c->description;
    case 5: return c->enforced_by;
    case CONTRACTS_COL_SOURCE: return r->source;
    case 7: return c->error; /* NULL: usable; a foreign directory lists broken entries */
  }
  return NULL;
}
static const RowTable contracts_table = {
    "CREATE TABLE x(id TEXT, path TEXT, kind TEXT, owner TEXT, description TEXT,"
    " enforced_by TEXT, source TEXT, error TEXT)",
    contracts_count, contracts_cell};

#define TAXONOMY_COL_SOURCE 9
static int taxonomy_count(const TelemRegistry *r) { return r->n_taxonomy; }
static const char *taxonomy_cell(const TelemRegistry *r, int row, int col) {
  const TelemTaxonomyRow *t = &r->taxonomy[row];
  switch (col) {
    case 0: return t->metric_type;
    case 1: return t->family;
    case 2: return t->sensitivity;
    case 3: return t->plane;
    case 4: return t->transmission;
    case 5: return t->session_prefix;
    case 6: return t->schema_id;
    case 7: return t->owner;
    case 8: return t->description;
    case TAXONOMY_COL_SOURCE: return r->source;
    /* "" (the whole metadata_json) when a schema is named without a pointer */
    case 10: return t->schema_pointer ? t->schema_pointer : t->schema_id ? "" : NULL;
  }
  return NULL;
}
static const RowTable taxonomy_table = {
    "CREATE TABLE x(metric_type TEXT, family TEXT, sensitivity TEXT, plane TEXT,"
    " transmission TEXT, session_prefix TEXT, schema_id TEXT, owner TEXT, description TEXT,"
    " source TEXT, schema_pointer TEXT)",
    taxonomy_count, taxonomy_cell};

static int row_connect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                       sqlite3_vtab **ppVtab, char **pzErr, const RowTable *def) {
  (void)argc;
  (void)argv;
  (void)pzErr;
  int rc = sqlite3_declare_vtab(db, def->schema);
  if (rc != SQLITE_OK) return rc;
  RowVtab *v = sqlite3_malloc64(sizeof(*v));
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof(*v));
  v->conn = pAux;
  v->def = def;
  /* Pure views of in-memory contracts: safe anywhere. */
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  *ppVtab = &v->base;
  return SQLITE_OK;
}

static int contracts_connect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                             sqlite3_vtab **ppVtab, char **pzErr) {
  return row_connect(db, pAux, argc, argv, ppVtab, pzErr, &contracts_table);
}

static int taxonomy_connect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                            sqlite3_vtab **ppVtab, char **pzErr) {
  return row_connect(db, pAux, argc, argv, ppVtab, pzErr, &taxonomy_table);
}

static int row_disconnect(sqlite3_vtab *vtab) {
  sqlite3_free(vtab);
  return SQLITE_OK;
}

static int row_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info) {
  (void)vtab;
  info->estimatedCost = 100;
  info->estimatedRows = 50;
  return SQLITE_OK;
}

static int row_open(sqlite3_vtab *vtab, sqlite3_vtab_cursor **ppCursor) {
  (void)vtab;
  RowCursor *cur = sqlite3_malloc64(sizeof(*cur));
  if (!cur) return SQLITE_NOMEM;
  memset(cur, 0, sizeof(*cur));
  *ppCursor = &cur->base;
  return SQLITE_OK;
}

static int row_close(sqlite3_vtab_cursor *base) {
  RowCursor *cur = (RowCursor *)base;
  telem_registry_unref(cur->reg);
  sqlite3_free(cur);
  return SQLITE_OK;
}

static int row_filter(sqlite3_vtab_cursor *base, int idxNum, const char *idxStr, int argc,
                      sqlite3_value **argv) {
  (void)idxNum;
  (void)idxStr;
  (void)argc;
  (void)argv;
  RowCursor *cur = (RowCursor *)base;
  RowVtab *v = (RowVtab *)base->pVtab;
  telem_registry_unref(cur->reg);
  cur->reg = telem_registry_ref(v->conn->reg);
  cur->row = 0;
  return SQLITE_OK;
}

static int row_next(sqlite3_vtab_cursor *base) {
  ((RowCursor *)base)->row++;
  return SQLITE_OK;
}

static int row_eof(sqlite3_vtab_cursor *base) {
  RowCursor *cur = (RowCursor *)base;
  RowVtab *v = (RowVtab *)base->pVtab;
  return !cur->reg || cur->row >= v->def->count(cur->reg);
}

static int row_column(sqlite3_vtab_cursor *base, sqlite3_context *ctx, int col) {
  RowCursor *cur = (RowCursor *)base;
  RowVtab *v = (RowVtab *)base->pVtab;
  const char *z = v->def->cell(cur->reg, cur->row, col);
  if (z) sqlite3_result_text(ctx, z, -1, SQLITE_TRANSIENT);
  return SQLITE_OK;
}

static int row_rowid(sqlite3_vtab_cursor *base, sqlite3_int64 *pRowid) {
  *pRowid = ((RowCursor *)base)->row + 1;
  return SQLITE_OK;
}

#define ROW_MODULE(connect)                                                   \
  {                                                                           \
    .iVersion = 0,                                                            \
    .xCreate = NULL,        /* eponymous-only: no CREATE VIRTUAL TABLE */     \
    .xConnect = connect,    /* declares the columns */                        \
    .xBestIndex = row_best_index, /* always a full scan of a few rows */      \
    .xDisconnect = row_disconnect,                                            \
    .xDestroy = row_disconnect,                                               \
    .xOpen = row_open,                                                        \
    .xClose = row_close,                                                      \
    .xFilter = row_filter,  /* pins the registry in use */                    \
    .xNext = row_next,                                                        \
    .xEof = row_eof,                                                          \
    .xColumn = row_column,                                                    \
    .xRowid = row_rowid,                                                      \
  }

static const sqlite3_module contracts_module = ROW_MODULE(contracts_connect);
static const sqlite3_module taxonomy_module = ROW_MODULE(taxonomy_connect);

static const TelemSqlFunc contracts_funcs[] = {
    /* Reads files named by its argument: never from triggers or views. */
    {"telem_use_contracts", 1, 1, SQLITE_DIRECTONLY, use_contracts_func},
    {"telem_column_class", 2, 2, SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, column_class_func},
    {NULL},
};

static const TelemSqlModule contracts_modules[] = {
    {"telem_contracts", &contracts_module},
    {"telem_taxonomy", &taxonomy_module},
    {NULL},
};

const TelemFeature telem_feature_contracts = {"contracts", contracts_funcs, contracts_modules};
