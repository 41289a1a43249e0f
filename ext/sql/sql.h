/*
 * sql.h -- what the files of the SQL surface (ext/sql/) share: their
 * registration tables, which ext/voxtelem.c walks, and the few helpers one
 * feature lends another.
 */
#ifndef VOXTELEM_SQL_H
#define VOXTELEM_SQL_H

#include "core/conn.h"
#include "engine/policy.h"
#include "engine/redactor.h"
#include "engine/schema.h"

/* ---- registration tables (one per file) ---------------------------------- */

extern const TelemFeature telem_feature_version;
extern const TelemFeature telem_feature_contracts;
extern const TelemFeature telem_feature_retention;
extern const TelemFeature telem_feature_prune_plan;
extern const TelemFeature telem_feature_prune_apply;
extern const TelemFeature telem_feature_validate;
extern const TelemFeature telem_feature_redact;
extern const TelemFeature telem_feature_classify;
extern const TelemFeature telem_feature_spool;
extern const TelemFeature telem_feature_metric;
extern const TelemFeature telem_feature_scrub;
extern const TelemFeature telem_feature_schema_register;

/* ---- per-connection schema state (schema_conn.c, lent to validate.c) ------ */

typedef struct TelemSchemaConn TelemSchemaConn;
void telem_schema_conn_free(TelemSchemaConn *st);
/* The set inline schemas compile against: documents registered with
 * telem_schema_register over the contracts' set.  NULL on OOM. */
TelemSchemaSet *telem_schema_conn_set(TelemConn *c);
/* 1 when telem_schema_register added documents on this connection. */
int telem_schema_conn_has_docs(TelemConn *c);
/* The compiled inline schema z[0..n) with TELEM_SCHEMA_* flags, from the
 * connection's LRU or compiled now.  Returns a new reference (release with
 * telem_schema_free), or NULL with *pzErr. */
TelemSchema *telem_schema_conn_inline(TelemConn *c, const char *z, size_t n, int flags,
                                      char **pzErr);
/* Parses an options argument ("format"): 0, or -1 with *pzErr. */
int telem_schema_options(const char *z, int *flags, char **pzErr);
/* Lets sqlite3_interrupt() stop a validation (see schema_conn.c). */
typedef struct TelemSchemaProbe {
  sqlite3 *db;
  sqlite3_stmt *stmt; /* "SELECT 1", prepared on first poll; owned */
  int fired;          /* SQLITE_INTERRUPT was seen */
} TelemSchemaProbe;
void telem_schema_probe_init(TelemSchemaProbe *p, sqlite3 *db, TelemSchemaRun *run);
int telem_schema_probe_interrupted(void *arg);
void telem_schema_probe_done(TelemSchemaProbe *p);
/* validate.c: the set of every json-schema contract of reg (borrowed,
 * lives with reg), or NULL on OOM. */
TelemSchemaSet *telem_validate_contract_set(TelemRegistry *reg);

/* ---- compiled schemas (validate.c, lent to metric.c) ---------------------- */

/* The compiled schema of registry id `id`, cached on the registry
 * (borrowed: valid while the registry is), or NULL + *pzErr. */
TelemSchema *telem_validate_schema_by_id(TelemConn *c, const char *id, char **pzErr);
/* "<instance_path>: <message>" of the first failing leaf of j
 * (sqlite3_malloc'd), or NULL + *pzErr. */
char *telem_validate_first_problem(TelemSchema *s, const TelemJson *j, char **pzErr);

/* ---- redaction rules cache (redact.c, lent to classify.c) ---------------- */

/* What reg->ext[TELEM_EXT_REDACT] holds: built lazily, once per registry
 * (so once per connection and contracts source), freed with the registry. */
typedef struct TelemRedactCache {
  int rules_built;          /* the rules were tried */
  TelemRedactor *rules;     /* compiled rules, NULL when they failed; owned */
  char *rules_err;          /* why rules is NULL; owned */
} TelemRedactCache;

/* The cache of reg, created on first use; NULL on OOM. */
TelemRedactCache *telem_redact_cache(TelemRegistry *reg);
/* The compiled redaction rules of reg (borrowed: valid while reg is), or
 * NULL with *pzErr set ("<path>: rule ..." or "no redaction-rules contract"). */
TelemRedactor *telem_redact_rules(TelemRegistry *reg, char **pzErr);
/* Keys are data: z[0..n) (a JSON Pointer, an error message) with the
 * connection's value patterns applied, for telem_validate_errors and the
 * assert functions.  sqlite3_malloc'd, or NULL with *pzErr. */
char *telem_redact_scrub_str(TelemConn *c, const char *z, size_t n, char **pzErr);
/* Makes long runs of r poll db for sqlite3_interrupt(). */
void telem_redact_bind_db(TelemRedactor *r, sqlite3 *db);

/* ---- retention (retention.c, lent to prune.c) ---------------------------- */

/* retention.c: the active policy of the connection (database table
 * telem_retention_policy when it exists, else the contracts' file).
 * Returns a new policy the caller frees, or NULL with *pzErr.  *pzSource
 * (may be NULL) gets "database" or "<registry source>:<path>" (static or
 * owned by the registry; valid while the registry is). */
TelemPolicy *telem_policy_active(sqlite3 *db, TelemConn *c, const char **pzSource, char **pzErr);

/* 1 when a statement that writes is running on db (COMMIT would fail). */
int telem_db_writer_busy(sqlite3 *db);

/* ---- the research_metrics payload rule (metric.c, lent to spool.c) -------- */

/* j (metadata_json, parsed) meets tier 2 of the row contract for taxonomy
 * row `row`: the value at its schema_pointer is valid against its schema.
 * NULL when it does, else the problem in words (sqlite3_malloc'd); engine
 * failures set *fatal and *pzErr and return NULL. */
char *telem_metric_payload_problem(TelemConn *c, const TelemTaxonomyRow *row, const TelemJson *j,
                                   int *fatal, char **pzErr);

/* 1 when main.<name> (any case) is the table voxtelem creates -- its stored
 * SQL is "CREATE TABLE <name><body>" and nothing but SQLite's own
 * autoindexes hangs on it --, 0 when there is no such table, -1 with *pzErr
 * when there is one voxtelem did not create that way.  A table with someone
 * else's CHECK, default, generated column, trigger or index could run code
 * whenever voxtelem writes or reads it, so it is refused. */
int telem_own_table_check(sqlite3 *db, const char *name, const char *body, char **pzErr);

#endif /* VOXTELEM_SQL_H */
