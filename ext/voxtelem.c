/*
 * voxtelem.c -- the entry point: sqlite3_voxtelem_init registers every SQL
 * feature of the extension, in the order of the table below, and stops at
 * the first one that fails, naming it.
 *
 *   sqlite3 app.db
 *   sqlite> .load ./voxtelem
 *   sqlite> SELECT telem_version();
 */
#include "internal.h"
#include "voxtelem.h"

SQLITE_EXTENSION_INIT1

static const struct {
  const char *name;     /* feature, for the error message */
  TelemRegisterFn fn;
} features[] = {
    {"version", telem_register_version},
    {"contracts", telem_register_contracts},
    {"retention", telem_register_retention},
    {"prune", telem_register_prune},
    {"validate", telem_register_validate},
    {"redact", telem_register_redact},
    {"classify", telem_register_classify},
    {"spool", telem_register_spool},
};

TELEM_EXPORT int sqlite3_voxtelem_init(sqlite3 *db, char **pzErrMsg,
                                       const sqlite3_api_routines *pApi) {
  SQLITE_EXTENSION_INIT2(pApi);
  char *err = NULL;
  TelemConn *c = telem_conn_new(db, &err);
  if (!c) {
    if (pzErrMsg) *pzErrMsg = err;
    else sqlite3_free(err);
    return SQLITE_ERROR;
  }
  int rc = SQLITE_OK;
  for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
    rc = features[i].fn(db, c, &err);
    if (rc != SQLITE_OK) {
      char *msg = sqlite3_mprintf("voxtelem: registering %s failed: %s", features[i].name,
                                  err ? err : sqlite3_errstr(rc));
      sqlite3_free(err);
      if (pzErrMsg) *pzErrMsg = msg;
      else sqlite3_free(msg);
      break;
    }
  }
  telem_conn_unref_cb(c); /* the registrations hold their own references */
  return rc;
}
