/*
 * voxtelem.h -- public C API of voxtelem, the SQLite extension that governs
 * telemetry tables (validate, classify, redact, prune) from SQL.
 *
 * Load it from SQL with `.load ./voxtelem` (entry point sqlite3_voxtelem_init),
 * or link the objects and call the core directly: the schema engine, the
 * redactor and the retention policy are usable without a database.
 */
#ifndef VOXTELEM_H
#define VOXTELEM_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

struct sqlite3;
struct sqlite3_api_routines;

#define VOXTELEM_VERSION "0.1.0"

/* Entry point of the loadable extension: registers every telem_* function
 * and module on db.  Returns SQLITE_OK or an error code with *pzErrMsg set
 * (sqlite3_malloc'd). */
int sqlite3_voxtelem_init(struct sqlite3 *db, char **pzErrMsg,
                          const struct sqlite3_api_routines *pApi);

#ifdef __cplusplus
}
#endif
#endif /* VOXTELEM_H */
