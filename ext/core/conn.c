/*
 * conn.c -- per-connection state shared by every function and module.
 *
 * sqlite3_voxtelem_init makes one TelemConn and registers every function
 * and module with it as user data.  Each registration holds a reference and
 * drops it in its xDestroy, so the state lives exactly as long as the last
 * function that can see it (loading the extension twice on one connection
 * is safe: the first state dies when its functions are replaced).
 *
 * Also here: registration from a feature's tables, and the error helpers
 * of functions and virtual tables.
 */
#include "core/conn.h"

#include <stdlib.h>
#include <string.h>

TelemConn *telem_conn_new(sqlite3 *db, char **pzErr) {
  TelemConn *c = sqlite3_malloc64(sizeof(*c));
  if (!c) {
    telem_set_err(pzErr, "voxtelem: out of memory");
    return NULL;
  }
  memset(c, 0, sizeof(*c));
  c->refs = 1;
  c->db = db;
  telem_arena_init(&c->arena);
  /* VOXTELEM_CONTRACTS switches every connection of the process to a
   * contracts directory; a broken one fails the load rather than silently
   * falling back to the embedded copy.  It is kept, so that
   * telem_use_contracts(NULL) goes back to it rather than dropping it. */
  const char *dir = getenv("VOXTELEM_CONTRACTS");
  char *err = NULL;
  if (dir && dir[0] && !(c->default_dir = sqlite3_mprintf("%s", dir))) {
    telem_set_err(pzErr, "voxtelem: out of memory");
    sqlite3_free(c);
    return NULL;
  }
  c->reg = telem_conn_default_registry(c, &err);
  if (!c->reg) {
    if (c->default_dir)
      telem_set_err(pzErr, "voxtelem: VOXTELEM_CONTRACTS=%.200s: %s", dir, err ? err : telem_oom_text);
    else
      telem_set_err(pzErr, "voxtelem: embedded contracts: %s", err ? err : telem_oom_text);
    sqlite3_free(err);
    sqlite3_free(c->default_dir);
    sqlite3_free(c);
    return NULL;
  }
  return c;
}

TelemRegistry *telem_conn_default_registry(const TelemConn *c, char **pzErr) {
  return c->default_dir ? telem_registry_load_dir(c->default_dir, pzErr)
                        : telem_registry_embedded(pzErr);
}

TelemConn *telem_conn_ref(TelemConn *c) {
  c->refs++;
  return c;
}

void telem_conn_unref_cb(void *p) {
  TelemConn *c = p;
  if (!c || --c->refs > 0) return;
  if (c->schema) c->schema_free(c->schema);
  telem_registry_unref(c->reg);
  sqlite3_free(c->default_dir);
  telem_arena_free(&c->arena);
  sqlite3_free(c);
}

void telem_conn_set_registry(TelemConn *c, TelemRegistry *r) {
  telem_registry_unref(c->reg);
  c->reg = r;
}

int telem_create_function(sqlite3 *db, TelemConn *c, const char *name, int nArg, int flags,
                          void (*xFunc)(sqlite3_context *, int, sqlite3_value **)) {
  /* On failure sqlite3_create_function_v2 calls xDestroy itself. */
  return sqlite3_create_function_v2(db, name, nArg, SQLITE_UTF8 | flags, telem_conn_ref(c), xFunc,
                                    NULL, NULL, telem_conn_unref_cb);
}

int telem_create_aggregate(sqlite3 *db, TelemConn *c, const char *name, int nArg, int flags,
                           void (*xStep)(sqlite3_context *, int, sqlite3_value **),
                           void (*xFinal)(sqlite3_context *)) {
  return sqlite3_create_function_v2(db, name, nArg, SQLITE_UTF8 | flags, telem_conn_ref(c), NULL,
                                    xStep, xFinal, telem_conn_unref_cb);
}

int telem_create_module(sqlite3 *db, TelemConn *c, const char *name, const sqlite3_module *m) {
  return sqlite3_create_module_v2(db, name, m, telem_conn_ref(c), telem_conn_unref_cb);
}

/* ---- registration ---------------------------------------------------------- */

static int register_fail(sqlite3 *db, const char *name, int rc, char **pzErr) {
  const char *why = sqlite3_errcode(db) == rc ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  telem_set_err(pzErr, "voxtelem: registering %s: %s", name, why);
  return rc;
}

/* The nArg -1 overload of a function: SQLite picks it only when no overload
 * takes argc arguments, so it always reports the count, in our words. */
static void argc_error_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argv;
  const TelemSqlFunc *def = sqlite3_user_data(ctx);
  telem_check_argc(ctx, def->name, argc, def->min_args, def->max_args);
}

/* The same for an aggregate: the first row reports the count; over no rows
 * xFinal does (without it, SQLite would return NULL and no error). */
static void argc_error_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argv;
  const TelemSqlFunc *def = sqlite3_user_data(ctx);
  (void)sqlite3_aggregate_context(ctx, 1); /* marks "a row was seen" */
  telem_check_argc(ctx, def->name, argc, def->min_args, def->max_args);
}

static void argc_error_final(sqlite3_context *ctx) {
  const TelemSqlFunc *def = sqlite3_user_data(ctx);
  if (sqlite3_aggregate_context(ctx, 0)) return; /* the step reported it */
  telem_result_errorf(ctx, def->name, "expected %d to %d arguments", def->min_args, def->max_args);
}

int telem_register_feature(sqlite3 *db, TelemConn *c, const TelemFeature *f, char **pzErr) {
  for (const TelemSqlFunc *fn = f->funcs; fn && fn->name; fn++) {
    /* One overload per accepted count, so the bodies need not check it. */
    for (int n = fn->min_args; n <= fn->max_args; n++) {
      int rc = fn->step ? telem_create_aggregate(db, c, fn->name, n, fn->flags, fn->step, fn->final)
                        : telem_create_function(db, c, fn->name, n, fn->flags, fn->fn);
      if (rc != SQLITE_OK) return register_fail(db, fn->name, rc, pzErr);
    }
    /* The table entry is static: no destructor. */
    int rc = fn->step ? sqlite3_create_function_v2(db, fn->name, -1, SQLITE_UTF8 | fn->flags,
                                                   (void *)fn, NULL, argc_error_step,
                                                   argc_error_final, NULL)
                      : sqlite3_create_function_v2(db, fn->name, -1, SQLITE_UTF8 | fn->flags,
                                                   (void *)fn, argc_error_func, NULL, NULL, NULL);
    if (rc != SQLITE_OK) return register_fail(db, fn->name, rc, pzErr);
  }
  for (const TelemSqlModule *m = f->modules; m && m->name; m++) {
    int rc = telem_create_module(db, c, m->name, m->module);
    if (rc != SQLITE_OK) return register_fail(db, m->name, rc, pzErr);
  }
  if (f->init_sql) {
    /* Best effort: creating a temp table reads main's schema, and neither a
     * database another process holds locked nor one whose schema is
     * malformed (a received file) may make the load fail.  Modules used
     * here are eponymous too, so their functions still work without it. */
    (void)sqlite3_exec(db, f->init_sql, NULL, NULL, NULL);
  }
  return SQLITE_OK;
}

/* ---- errors in functions and virtual tables ----------------------------------- */

void telem_result_errorf(sqlite3_context *ctx, const char *fn, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  char *full = msg ? telem_msg_printable(sqlite3_mprintf("%s: %s", fn, msg)) : NULL;
  if (full) sqlite3_result_error(ctx, full, -1);
  else sqlite3_result_error_nomem(ctx);
  sqlite3_free(full);
  sqlite3_free(msg);
}

void telem_vtab_errorf(sqlite3_vtab *vtab, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = telem_msg_printable(sqlite3_vmprintf(fmt, ap));
  va_end(ap);
  sqlite3_free(vtab->zErrMsg);
  vtab->zErrMsg = msg;
}

int telem_check_argc(sqlite3_context *ctx, const char *fn, int argc, int min, int max) {
  if (argc >= min && argc <= max) return 1;
  if (min == max)
    telem_result_errorf(ctx, fn, "expected %d argument%s, got %d", min, min == 1 ? "" : "s", argc);
  else
    telem_result_errorf(ctx, fn, "expected %d to %d arguments, got %d", min, max, argc);
  return 0;
}

int telem_tvf_too_many_args(sqlite3_vtab *vtab, const sqlite3_index_info *info, const char *fn,
                            int first_extra_col, int max_args) {
  int last = -1;
  for (int i = 0; i < info->nConstraint; i++) {
    int col = info->aConstraint[i].iColumn;
    if (col >= first_extra_col && col < first_extra_col + TELEM_TVF_EXTRA_COUNT && col > last)
      last = col;
  }
  if (last < 0) return 0;
  telem_vtab_errorf(vtab, "%s: expected at most %d argument%s, got %d", fn, max_args,
                    max_args == 1 ? "" : "s", max_args + last - first_extra_col + 1);
  return 1;
}

