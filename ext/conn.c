/*
 * conn.c -- per-connection state shared by every function and module.
 *
 * sqlite3_voxtelem_init makes one TelemConn and registers every function
 * and module with it as user data.  Each registration holds a reference and
 * drops it in its xDestroy, so the state lives exactly as long as the last
 * function that can see it (loading the extension twice on one connection
 * is safe: the first state dies when its functions are replaced).
 */
#include "internal.h"

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
   * falling back to the embedded copy. */
  const char *dir = getenv("VOXTELEM_CONTRACTS");
  char *err = NULL;
  if (dir && dir[0]) {
    c->reg = telem_registry_load_dir(dir, &err);
    if (!c->reg) {
      telem_set_err(pzErr, "voxtelem: VOXTELEM_CONTRACTS=%.200s: %s", dir, err ? err : "out of memory");
      sqlite3_free(err);
      sqlite3_free(c);
      return NULL;
    }
  } else {
    c->reg = telem_registry_embedded(&err);
    if (!c->reg) {
      telem_set_err(pzErr, "voxtelem: embedded contracts: %s", err ? err : "out of memory");
      sqlite3_free(err);
      sqlite3_free(c);
      return NULL;
    }
  }
  return c;
}

TelemConn *telem_conn_ref(TelemConn *c) {
  c->refs++;
  return c;
}

void telem_conn_unref_cb(void *p) {
  TelemConn *c = p;
  if (!c || --c->refs > 0) return;
  telem_schema_conn_free(c->schema);
  telem_registry_unref(c->reg);
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

int telem_create_module(sqlite3 *db, TelemConn *c, const char *name, const sqlite3_module *m) {
  return sqlite3_create_module_v2(db, name, m, telem_conn_ref(c), telem_conn_unref_cb);
}
