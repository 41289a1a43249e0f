/*
 * voxtelem.c -- the entry point: sqlite3_voxtelem_init registers every
 * feature of the SQL surface (ext/sql/), each from its registration table,
 * in the order below, and stops at the first failure, naming it:
 *   voxtelem: registering <name>: <sqlite's message>
 *
 *   sqlite3 app.db
 *   sqlite> .load ./voxtelem
 *   sqlite> SELECT telem_version();
 */
#include "sql/sql.h"
#include "voxtelem.h"

SQLITE_EXTENSION_INIT1

static const TelemFeature *const features[] = {
    &telem_feature_version,    &telem_feature_contracts,   &telem_feature_retention,
    &telem_feature_prune_plan, &telem_feature_prune_apply, &telem_feature_validate,
    &telem_feature_schema_register, &telem_feature_metric, &telem_feature_redact,
    &telem_feature_classify,   &telem_feature_scrub,     &telem_feature_spool,
};

TELEM_EXPORT int sqlite3_voxtelem_init(sqlite3 *db, char **pzErrMsg,
                                       const sqlite3_api_routines *pApi) {
  SQLITE_EXTENSION_INIT2(pApi);
  char *err = NULL;
  TelemConn *c = telem_conn_new(db, &err);
  int rc = c ? SQLITE_OK : SQLITE_ERROR;
  for (size_t i = 0; c && rc == SQLITE_OK && i < sizeof(features) / sizeof(features[0]); i++)
    rc = telem_register_feature(db, c, features[i], &err);
  if (rc != SQLITE_OK && !err) err = sqlite3_mprintf("voxtelem: %s", sqlite3_errstr(rc));
  if (pzErrMsg) *pzErrMsg = err;
  else sqlite3_free(err);
  if (c) telem_conn_unref_cb(c); /* the registrations hold their own references */
  return rc;
}
