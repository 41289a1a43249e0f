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

/* ---- redactor ----------------------------------------------------------
 * The engine behind telem_redact, usable without a database (link
 * libtelem.a; inside the loaded .so these symbols are not exported).
 * Strings returned are sqlite3_malloc'd: free them with sqlite3_free(). */

typedef struct TelemRedactor TelemRedactor;

/* Builds a redactor from redaction-rules YAML text.  NULL + *errmsg on a
 * bad rule file (the message names the rule and line). */
TelemRedactor *telem_redactor_new(const char *rules_yaml, size_t n, char **errmsg);
/* Redacts in[0..n) with the named profile (NULL = "default"): JSON gives
 * compact JSON with structure and key order kept, other text is scrubbed
 * as text.  Returns 0 with *out (NUL-terminated, *out_len bytes), or -1
 * with *errmsg; never returns unredacted input on error.  A redactor must
 * not be used by two threads at once. */
int telem_redactor_redact(TelemRedactor *r, const char *profile, const char *in, size_t n,
                          char **out, size_t *out_len, char **errmsg);
void telem_redactor_free(TelemRedactor *r);

#ifdef __cplusplus
}
#endif
#endif /* VOXTELEM_H */
