/*
 * contracts.c -- the contracts registry from SQL.
 *
 *   SELECT * FROM telem_use_contracts('/srv/app/contracts');  -- contracts, source
 *   SELECT * FROM telem_use_contracts(NULL);   -- back to the default contracts
 *   SELECT telem_column_class('ci_completion_run', 'branch');   -- 'S2'
 *   SELECT id, kind, source FROM telem_contracts;
 *   SELECT metric_type, sensitivity FROM telem_taxonomy WHERE family = 'orch';
 *
 * telem_use_contracts is a DIRECTONLY table-valued function (it switches
 * the connection's contracts: see below why not a scalar).  The default
 * contracts are VOXTELEM_CONTRACTS as it was when the extension was loaded,
 * else the embedded copy.
 *
 * telem_contracts and telem_taxonomy are eponymous-only, read-only virtual
 * tables over the registry in use.  A cursor holds a reference to the
 * registry it started on, so switching contracts mid-scan is safe.
 * telem_contracts shows the contracts directory and is DIRECTONLY;
 * telem_taxonomy shows no path and is INNOCUOUS.
 */
#include "sql/sql.h"

#include <string.h>

/* ---- telem_use_contracts(dir): a table-valued function -------------------
 *
 * Switching contracts changes what every other function answers (an empty
 * redaction-rules file turns telem_redact into the identity), and loading a
 * directory reads files.  So it is an eponymous table-valued function,
 * flagged SQLITE_VTAB_DIRECTONLY: a CHECK constraint, DEFAULT, generated
 * column or index cannot hold the subquery it needs, and SQLite refuses a
 * DIRECTONLY table inside a trigger or view whatever trusted_schema says.
 * Only a statement the operator typed can switch.  (A DIRECTONLY scalar
 * would not do: SQLite 3.40 runs it inside a CHECK constraint, which
 * PRAGMA quick_check evaluates on an attached database.)
 *
 * The scalar of the same name only says so: it has no side effect.
 */

#define UC_COL_CONTRACTS 0
#define UC_COL_SOURCE 1
#define UC_COL_DIR 2   /* HIDDEN: the argument */
#define UC_COL_EXTRA 3 /* TELEM_TVF_EXTRA_COLUMNS: too many arguments */
#define UC_SCHEMA \
  "CREATE TABLE x(contracts INTEGER, source TEXT, dir HIDDEN" TELEM_TVF_EXTRA_COLUMNS ")"
/* idxNum: 1 when dir is constrained (argv[0]); it is required. */
#define UC_IDX_DIR 1

typedef struct UcVtab {
  sqlite3_vtab base; /* must be first */
  TelemConn *conn;   /* borrowed: the module's client data outlives the vtab */
} UcVtab;

typedef struct UcCursor {
  sqlite3_vtab_cursor base; /* must be first */
  int done;                 /* the one row was read */
  int contracts;            /* contracts now in use */
  char *source;             /* their source; owned */
} UcCursor;

static void use_contracts_scalar(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  telem_result_errorf(ctx, "telem_use_contracts",
                      "is a table-valued function: SELECT * FROM telem_use_contracts(dir)");
}

static int uc_connect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                      sqlite3_vtab **ppVtab, char **pzErr) {
  (void)argc;
  (void)argv;
  (void)pzErr;
  int rc = sqlite3_declare_vtab(db, UC_SCHEMA);
  if (rc != SQLITE_OK) return rc;
  UcVtab *v = sqlite3_malloc64(sizeof(*v));
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof(*v));
  v->conn = pAux;
  /* DIRECTONLY: switches the connection's contracts and reads files; never
   * from a trigger or view (see the comment above). */
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  *ppVtab = &v->base;
  return SQLITE_OK;
}

static int uc_disconnect(sqlite3_vtab *vtab) {
  sqlite3_free(vtab);
  return SQLITE_OK;
}

static int uc_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info) {
  int dir_i = -1, unusable = 0;
  if (telem_tvf_too_many_args(vtab, info, "telem_use_contracts", UC_COL_EXTRA, 1))
    return SQLITE_ERROR;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *k = &info->aConstraint[i];
    if (k->iColumn != UC_COL_DIR) continue;
    if (!k->usable || k->op != SQLITE_INDEX_CONSTRAINT_EQ) unusable = 1;
    else dir_i = i;
  }
  if (dir_i < 0) {
    if (unusable) return SQLITE_CONSTRAINT;
    telem_vtab_errorf(vtab, "telem_use_contracts: expected 1 argument (a directory, or NULL for "
                            "the default contracts)");
    return SQLITE_ERROR;
  }
  info->aConstraintUsage[dir_i].argvIndex = 1;
  info->aConstraintUsage[dir_i].omit = 1;
  info->idxNum = UC_IDX_DIR;
  info->idxFlags = SQLITE_INDEX_SCAN_UNIQUE; /* one row */
  info->estimatedCost = 1000;
  info->estimatedRows = 1;
  return SQLITE_OK;
}

static int uc_open(sqlite3_vtab *vtab, sqlite3_vtab_cursor **ppCursor) {
  (void)vtab;
  UcCursor *cur = sqlite3_malloc64(sizeof(*cur));
  if (!cur) return SQLITE_NOMEM;
  memset(cur, 0, sizeof(*cur));
  *ppCursor = &cur->base;
  return SQLITE_OK;
}

static int uc_close(sqlite3_vtab_cursor *base) {
  UcCursor *cur = (UcCursor *)base;
  sqlite3_free(cur->source);
  sqlite3_free(cur);
  return SQLITE_OK;
}

/* Loads the directory (or the default contracts for NULL) and, only when
 * that succeeded whole, makes it the connection's contracts. */
static int uc_filter(sqlite3_vtab_cursor *base, int idxNum, const char *idxStr, int argc,
                     sqlite3_value **argv) {
  (void)idxStr;
  UcCursor *cur = (UcCursor *)base;
  UcVtab *v = (UcVtab *)base->pVtab;
  sqlite3_free(cur->source);
  cur->source = NULL;
  cur->done = 1;
  if (!(idxNum & UC_IDX_DIR) || argc < 1) { /* xBestIndex refused this plan */
    telem_vtab_errorf(base->pVtab, "telem_use_contracts: expected 1 argument");
    return SQLITE_ERROR;
  }
  char *err = NULL;
  TelemRegistry *r;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
    r = telem_conn_default_registry(v->conn, &err);
  } else if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    telem_vtab_errorf(base->pVtab, "telem_use_contracts: argument 1: expected a directory path as text");
    return SQLITE_ERROR;
  } else {
    const char *dir = (const char *)sqlite3_value_text(argv[0]);
    if (!dir) return SQLITE_NOMEM;
    if ((size_t)sqlite3_value_bytes(argv[0]) != strlen(dir) || !dir[0]) {
      telem_vtab_errorf(base->pVtab, "telem_use_contracts: argument 1: not a usable directory path");
      return SQLITE_ERROR;
    }
    r = telem_registry_load_dir(dir, &err);
  }
  if (!r) {
    /* The contracts in use stay in use. */
    if (!err) return SQLITE_NOMEM;
    telem_vtab_errorf(base->pVtab, "telem_use_contracts: %s", err);
    sqlite3_free(err);
    return SQLITE_ERROR;
  }
  if (!(cur->source = sqlite3_mprintf("%s", r->source))) {
    telem_registry_unref(r);
    return SQLITE_NOMEM;
  }
  cur->contracts = r->n_contracts;
  telem_conn_set_registry(v->conn, r);
  cur->done = 0;
  return SQLITE_OK;
}

static int uc_next(sqlite3_vtab_cursor *base) {
  ((UcCursor *)base)->done = 1;
  return SQLITE_OK;
}

static int uc_eof(sqlite3_vtab_cursor *base) { return ((UcCursor *)base)->done; }

static int uc_column(sqlite3_vtab_cursor *base, sqlite3_context *ctx, int col) {
  UcCursor *cur = (UcCursor *)base;
  if (col == UC_COL_CONTRACTS) sqlite3_result_int(ctx, cur->contracts);
  else if (col == UC_COL_SOURCE) sqlite3_result_text(ctx, cur->source, -1, SQLITE_TRANSIENT);
  return SQLITE_OK;
}

static int uc_rowid(sqlite3_vtab_cursor *base, sqlite3_int64 *pRowid) {
  (void)base;
  *pRowid = 1;
  return SQLITE_OK;
}

static const sqlite3_module use_contracts_module = {
    .iVersion = 0,
    .xCreate = NULL,              /* eponymous-only: no CREATE VIRTUAL TABLE */
    .xConnect = uc_connect,       /* declares the columns; DIRECTONLY */
    .xBestIndex = uc_best_index,  /* the dir argument is required */
    .xDisconnect = uc_disconnect,
    .xDestroy = uc_disconnect,
    .xOpen = uc_open,
    .xClose = uc_close,
    .xFilter = uc_filter,         /* does the switch */
    .xNext = uc_next,
    .xEof = uc_eof,
    .xColumn = uc_column,
    .xRowid = uc_rowid,
};

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
  int directonly;      /* 1: shows the operator's configuration (a path) */
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
/* DIRECTONLY: `source` is the contracts directory, a path of the
 * operator's machine; a trigger or view of a database someone else wrote
 * must not be able to copy it into a table. */
static const RowTable contracts_table = {
    "CREATE TABLE x(id TEXT, path TEXT, kind TEXT, owner TEXT, description TEXT,"
    " enforced_by TEXT, source TEXT, error TEXT)",
    contracts_count, contracts_cell, 1};

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
    /* "" (the whole metadata_json) when a schema is named without a pointer */
    case 9: return t->schema_pointer ? t->schema_pointer : t->schema_id ? "" : NULL;
  }
  return NULL;
}
/* No path here (telem_contracts.source has it): the taxonomy is what views
 * and governance queries join, so it stays INNOCUOUS. */
static const RowTable taxonomy_table = {
    "CREATE TABLE x(metric_type TEXT, family TEXT, sensitivity TEXT, plane TEXT,"
    " transmission TEXT, session_prefix TEXT, schema_id TEXT, owner TEXT, description TEXT,"
    " schema_pointer TEXT)",
    taxonomy_count, taxonomy_cell, 0};

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
  /* Views of in-memory contracts: safe anywhere, unless they show where the
   * contracts came from. */
  sqlite3_vtab_config(db, def->directonly ? SQLITE_VTAB_DIRECTONLY : SQLITE_VTAB_INNOCUOUS);
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
    /* Only points to the table-valued form: no side effect, safe anywhere. */
    {"telem_use_contracts", 1, 1, SQLITE_INNOCUOUS, use_contracts_scalar},
    {"telem_column_class", 2, 2, SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, column_class_func},
    {NULL},
};

static const TelemSqlModule contracts_modules[] = {
    {"telem_use_contracts", &use_contracts_module},
    {"telem_contracts", &contracts_module},
    {"telem_taxonomy", &taxonomy_module},
    {NULL},
};

const TelemFeature telem_feature_contracts = {"contracts", contracts_funcs, contracts_modules};
