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


/* ---- retention policy (ext/engine/policy.c) -----------------------------------
 *
 * A retention policy is the parsed form of contracts/db/retention-policy.yaml:
 * one rule per table, kept sorted by table name.  No database is involved.
 *
 *     char *err = NULL;
 *     TelemPolicy *p = telem_policy_parse("policy.yaml", text, len, &err);
 *     if (!p) { fprintf(stderr, "%s\n", err); sqlite3_free(err); return; }
 *     for (int i = 0; i < telem_policy_count(p); i++) {
 *       TelemPolicyRuleInfo r;
 *       telem_policy_rule(p, i, &r);   // r.table_name, r.kind, r.days, ...
 *     }
 *     char *yaml = telem_policy_to_yaml(p);   // parse(yaml) gives the same rules
 *     sqlite3_free(yaml);
 *     telem_policy_free(p);
 *
 * Error messages and exported YAML are allocated with sqlite3_malloc: free
 * them with sqlite3_free.  Messages name the table and the field, e.g.
 * `policy.yaml:4: table "research_metrics": days: must be a positive integer`.
 */
typedef struct TelemPolicy TelemPolicy;

#define TELEM_POLICY_NO_DAYS (-0x7fffffffffffffffLL - 1) /* days absent */

/* One rule as seen through the API; pointers are owned by the policy and
 * live until it is changed or freed. */
typedef struct TelemPolicyRuleInfo {
  const char *table_name;   /* identifier */
  const char *kind;         /* days, ms_days, expires_lt_now, keep_forever, manual, cascade */
  long long days;           /* TELEM_POLICY_NO_DAYS unless kind is days / ms_days */
  const char *time_column;  /* NULL when absent */
  const char *cascade_from; /* parent table of a cascade rule, else NULL */
  const char *rationale;    /* why the data is kept that long */
  const char *filter;       /* the rows it governs, as canonical JSON
                               {"metric_types":[globs],"where":{column:value}};
                               NULL: the table's default rule (rows no filter matches) */
} TelemPolicyRuleInfo;

/* Parses and validates YAML text[0..n).  `name` (a file name, may be NULL)
 * prefixes error messages.  Returns a new policy, or NULL with *pzErr set
 * (also for input larger than 1 MiB, non-UTF-8 bytes, empty input, YAML
 * alias bombs, unknown kinds or fields, bad identifiers). */
TelemPolicy *telem_policy_parse(const char *name, const char *text, size_t n, char **pzErr);
/* An empty policy (NULL on OOM). */
TelemPolicy *telem_policy_new(void);
void telem_policy_free(TelemPolicy *p);
int telem_policy_count(const TelemPolicy *p);
/* Fills *out with rule i; returns 0, or -1 when i is out of range. */
int telem_policy_rule(const TelemPolicy *p, int i, TelemPolicyRuleInfo *out);
/* Index of the first rule for `table` (case-insensitive; its default rule
 * when it has one), or -1. */
int telem_policy_find(const TelemPolicy *p, const char *table);
/* Validates one rule's fields; 0 or -1 with *pzErr. */
int telem_policy_rule_check(const TelemPolicyRuleInfo *r, char **pzErr);
/* Validates r and adds a copy; 0, -1 (invalid or duplicate, *pzErr set) or
 * -2 (out of memory). */
int telem_policy_add(TelemPolicy *p, const TelemPolicyRuleInfo *r, char **pzErr);
/* Removes rule i (no-op when out of range). */
void telem_policy_remove(TelemPolicy *p, int i);
/* Cross-rule checks: every cascade names a parent in the policy that is
 * not itself a cascade.  0 or -1 with *pzErr. */
int telem_policy_check(const TelemPolicy *p, char **pzErr);
/* The policy as YAML in the contracts format (NULL on OOM). */
char *telem_policy_to_yaml(const TelemPolicy *p);
/* ---- JSON Schema engine (ext/engine/schema.c) ---------------------------------
 *
 * Draft-04, draft-06, draft-07, 2019-09 and 2020-12, each with its own
 * keyword semantics, chosen by "$schema" (the set's default draft when a
 * document has none; a "$schema" that is neither one of those URIs nor a
 * loaded meta-schema of one of them is an error).  References resolve only against documents added to
 * the set, never the network.  Strings returned through pzErr are allocated
 * with sqlite3_malloc: release them with sqlite3_free.
 *
 *   TelemSchemaSet *set = telem_schema_set_new(TELEM_DRAFT_2020_12);
 *   telem_schema_set_add(set, "https://example.com/defs.json", defs, n, &err);
 *   TelemSchema *s = telem_schema_compile(set, text, strlen(text), &err);
 *   int ok = telem_schema_validate(s, json, len, &err);   // 1, 0, -1 error
 *   telem_schema_free(s);
 *   telem_schema_set_free(set);
 */
typedef struct TelemSchemaSet TelemSchemaSet;       /* loaded documents (the resolver) */
typedef struct TelemSchema TelemSchema;             /* one compiled, immutable schema */
typedef struct TelemSchemaErrors TelemSchemaErrors; /* the failures of one validation */

#define TELEM_DRAFT_4 4
#define TELEM_DRAFT_6 6
#define TELEM_DRAFT_7 7
#define TELEM_DRAFT_2019_09 2019
#define TELEM_DRAFT_2020_12 2020

/* Compile flags (telem_schema_compile_ex). */
#define TELEM_SCHEMA_FORMAT_ASSERT 0x01 /* "format" is an assertion, not an annotation */

/* One failing leaf of a validation. */
typedef struct TelemSchemaError {
  const char *instance_path; /* JSON Pointer into the instance ("" = root) */
  const char *schema_path;   /* JSON Pointer of the keyword, through $refs */
  const char *keyword;       /* "type", "required", ... */
  const char *message;       /* words; never contains instance values */
} TelemSchemaError;

/* A new, empty set whose documents default to draft (TELEM_DRAFT_4, _6,
 * _7, _2019_09 or _2020_12; 0 means 2020-12).  NULL on OOM. */
TelemSchemaSet *telem_schema_set_new(int default_draft);
/* Adds a schema document retrievable as uri (may be NULL when the document
 * has an absolute "$id"; both name it).  Returns 0, or -1 with *pzErr. Do
 * not add to a set while another thread compiles against it. */
int telem_schema_set_add(TelemSchemaSet *set, const char *uri, const char *text, size_t n,
                         char **pzErr);
/* Releases the caller's reference; compiled schemas keep the set alive. */
void telem_schema_set_free(TelemSchemaSet *set);

/* Compiles schema text (resolving references against set, which may be
 * NULL).  Every $ref is resolved and every pattern compiled now.  Returns
 * NULL with *pzErr on an invalid schema, an unresolvable reference or a
 * $ref cycle that consumes no input. */
TelemSchema *telem_schema_compile(TelemSchemaSet *set, const char *text, size_t n,
                                  char **pzErr);
/* telem_schema_compile with TELEM_SCHEMA_* flags. */
TelemSchema *telem_schema_compile_ex(TelemSchemaSet *set, const char *text, size_t n, int flags,
                                     char **pzErr);
/* Compiles the document of set known as uri (e.g. a contract's "$id"). */
TelemSchema *telem_schema_compile_uri(TelemSchemaSet *set, const char *uri, char **pzErr);
TelemSchema *telem_schema_compile_uri_ex(TelemSchemaSet *set, const char *uri, int flags,
                                         char **pzErr);
void telem_schema_free(TelemSchema *s);

/* Validates the JSON text json[0..n).  Returns 1 valid, 0 invalid (also
 * for malformed JSON or invalid UTF-8), -1 with *pzErr when validation
 * could not finish (a pattern hit its backtracking limit, recursion too
 * deep, out of memory).  Safe to call from several threads on one schema. */
int telem_schema_validate(TelemSchema *s, const char *json, size_t n, char **pzErr);
/* Like telem_schema_validate but collects every failing leaf.  Returns the
 * list (empty when valid; one "json" entry when the text is not JSON), or
 * NULL with *pzErr.  Free it with telem_schema_errors_free. */
TelemSchemaErrors *telem_schema_validate_errors(TelemSchema *s, const char *json, size_t n,
                                                char **pzErr);
int telem_schema_errors_count(const TelemSchemaErrors *e);
/* Error i (0-based), or NULL when out of range; owned by e. */
const TelemSchemaError *telem_schema_errors_get(const TelemSchemaErrors *e, int i);
void telem_schema_errors_free(TelemSchemaErrors *e);

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
