/*
 * conn.h -- the SQL side of the core: per-connection state, registration
 * tables, and the error helpers for functions and virtual tables.  Only
 * ext/voxtelem.c and the SQL surface (ext/sql/) include it.
 */
#ifndef VOXTELEM_CONN_H
#define VOXTELEM_CONN_H

#include "core/core.h"
#include "core/registry.h"

/* ---- per-connection state (conn.c) -------------------------------------- */

/* One per connection that loaded the extension; reference-counted by every
 * function and module registered with it as user data. */
typedef struct TelemConn {
  int refs;
  sqlite3 *db;
  TelemRegistry *reg; /* contracts in use; owned reference */
  char *default_dir;  /* VOXTELEM_CONTRACTS when the extension was loaded (owned),
                         NULL for the embedded copy: what telem_use_contracts(NULL)
                         goes back to */
  TelemArena arena;   /* per-row scratch for the data-path parser */
  /* sql/schema_conn.c: registered schemas and the inline LRU, made on first
   * use; owned, freed by schema_free (set with it, so the core needs no
   * symbol of the SQL side). */
  struct TelemSchemaConn *schema;
  void (*schema_free)(struct TelemSchemaConn *);
} TelemConn;

TelemConn *telem_conn_new(sqlite3 *db, char **pzErr);
TelemConn *telem_conn_ref(TelemConn *c);
void telem_conn_unref_cb(void *p); /* xDestroy for functions and modules */
/* Swaps the registry in use (takes ownership of r). */
void telem_conn_set_registry(TelemConn *c, TelemRegistry *r);
/* Loads the connection's default contracts afresh: c->default_dir when
 * VOXTELEM_CONTRACTS was set at load time, else the embedded copy.  Returns
 * a new registry (the caller owns it) or NULL with *pzErr. */
TelemRegistry *telem_conn_default_registry(const TelemConn *c, char **pzErr);

/* Registers a scalar function with c as user data (ref taken). */
int telem_create_function(sqlite3 *db, TelemConn *c, const char *name, int nArg, int flags,
                          void (*xFunc)(sqlite3_context *, int, sqlite3_value **));
/* Registers an aggregate function (xStep/xFinal) with c as user data (ref taken). */
int telem_create_aggregate(sqlite3 *db, TelemConn *c, const char *name, int nArg, int flags,
                           void (*xStep)(sqlite3_context *, int, sqlite3_value **),
                           void (*xFinal)(sqlite3_context *));
/* Registers a module with c as client data (ref taken). */
int telem_create_module(sqlite3 *db, TelemConn *c, const char *name, const sqlite3_module *m);

/* ---- registration tables ------------------------------------------------- */

/* One SQL function of a feature.  It is registered once for each count in
 * min_args..max_args, and once more with nArg -1 to answer any other count
 * with an error that starts with the function's name (SQLite's own message
 * does not), so its body never checks argc.  An aggregate sets step and
 * final and leaves fn NULL; its nArg -1 overload is an aggregate too.  The
 * drift guard reads these tables too. */
typedef struct TelemSqlFunc {
  const char *name;  /* SQL name */
  int min_args, max_args;
  int flags;         /* SQLITE_DETERMINISTIC, SQLITE_INNOCUOUS, SQLITE_DIRECTONLY */
  void (*fn)(sqlite3_context *, int, sqlite3_value **);        /* scalar */
  void (*step)(sqlite3_context *, int, sqlite3_value **);      /* aggregate, with final */
  void (*final)(sqlite3_context *);
} TelemSqlFunc;

/* One virtual table module of a feature (eponymous unless it says so). */
typedef struct TelemSqlModule {
  const char *name;
  const sqlite3_module *module;
} TelemSqlModule;

/* What one file of ext/sql/ registers: both lists end with a NULL name. */
typedef struct TelemFeature {
  const char *name;               /* for the error message */
  const TelemSqlFunc *funcs;      /* may be NULL */
  const TelemSqlModule *modules;  /* may be NULL */
  const char *init_sql;           /* run once both are registered (e.g. a
                                   * temp table of a module); may be NULL.
                                   * Best effort: a failure there does not
                                   * fail the load, so a module it creates
                                   * a table of must be eponymous too */
} TelemFeature;

/* Registers every function and module of f with c as user data.  On
 * failure returns the SQLite code and sets *pzErr to
 * "voxtelem: registering <name>: <sqlite's message>". */
int telem_register_feature(sqlite3 *db, TelemConn *c, const TelemFeature *f, char **pzErr);

/* ---- errors in SQL functions and virtual tables ---------------------------- */

/* Sets "<fn>: <message>" as the result error of ctx. */
void telem_result_errorf(sqlite3_context *ctx, const char *fn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* SQL functions are registered with nArg -1 so that a wrong argument count
 * gets an error that starts with the function's name (SQLite's own message
 * does not).  Returns 1 when min <= argc <= max, else sets the error. */
int telem_check_argc(sqlite3_context *ctx, const char *fn, int argc, int min, int max);
/* Table-valued functions declare TELEM_TVF_EXTRA_COLUMNS after their real
 * HIDDEN arguments, so that a call with too many arguments reaches
 * xBestIndex instead of failing with SQLite's own message, which does not
 * start with the function's name.  telem_tvf_too_many_args() returns 1
 * (with the vtab error set) when a call used them. */
#define TELEM_TVF_EXTRA_COLUMNS \
  ", extra_arg1 HIDDEN, extra_arg2 HIDDEN, extra_arg3 HIDDEN, extra_arg4 HIDDEN"
#define TELEM_TVF_EXTRA_COUNT 4
int telem_tvf_too_many_args(sqlite3_vtab *vtab, const sqlite3_index_info *info, const char *fn,
                            int first_extra_col, int max_args);
/* Sets a vtab's zErrMsg, freeing the old one. */
void telem_vtab_errorf(sqlite3_vtab *vtab, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* VOXTELEM_CONN_H */
