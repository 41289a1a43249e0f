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


/* ---- retention policy (ext/policy.c) -----------------------------------
 *
 * A retention policy is the parsed form of contracts/db/retention-policy.yaml:
 * one rule per table, kept sorted by table name.  No database is involved.
 *
 *     char *err = NULL;
 *     telem_policy *p = telem_policy_parse("policy.yaml", text, len, &err);
 *     if (!p) { fprintf(stderr, "%s\n", err); sqlite3_free(err); return; }
 *     for (int i = 0; i < telem_policy_count(p); i++) {
 *       telem_policy_rule_info r;
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
typedef struct telem_policy telem_policy;

#define TELEM_POLICY_NO_DAYS (-0x7fffffffffffffffLL - 1) /* days absent */

/* One rule as seen through the API; pointers are owned by the policy and
 * live until it is changed or freed. */
typedef struct telem_policy_rule_info {
  const char *table_name;   /* identifier */
  const char *kind;         /* days, ms_days, expires_lt_now, keep_forever, manual, cascade */
  long long days;           /* TELEM_POLICY_NO_DAYS unless kind is days / ms_days */
  const char *time_column;  /* NULL when absent */
  const char *cascade_from; /* parent table of a cascade rule, else NULL */
  const char *rationale;    /* why the data is kept that long */
} telem_policy_rule_info;

/* Parses and validates YAML text[0..n).  `name` (a file name, may be NULL)
 * prefixes error messages.  Returns a new policy, or NULL with *pzErr set
 * (also for input larger than 1 MiB, non-UTF-8 bytes, empty input, YAML
 * alias bombs, unknown kinds or fields, bad identifiers). */
telem_policy *telem_policy_parse(const char *name, const char *text, size_t n, char **pzErr);
/* An empty policy (NULL on OOM). */
telem_policy *telem_policy_new(void);
void telem_policy_free(telem_policy *p);
int telem_policy_count(const telem_policy *p);
/* Fills *out with rule i; returns 0, or -1 when i is out of range. */
int telem_policy_rule(const telem_policy *p, int i, telem_policy_rule_info *out);
/* Index of the rule for `table` (case-insensitive), or -1. */
int telem_policy_find(const telem_policy *p, const char *table);
/* Validates one rule's fields; 0 or -1 with *pzErr. */
int telem_policy_rule_check(const telem_policy_rule_info *r, char **pzErr);
/* Validates r and adds a copy; 0, -1 (invalid or duplicate, *pzErr set) or
 * -2 (out of memory). */
int telem_policy_add(telem_policy *p, const telem_policy_rule_info *r, char **pzErr);
/* Removes rule i (no-op when out of range). */
void telem_policy_remove(telem_policy *p, int i);
/* Cross-rule checks: every cascade names a parent in the policy that is
 * not itself a cascade.  0 or -1 with *pzErr. */
int telem_policy_check(const telem_policy *p, char **pzErr);
/* The policy as YAML in the contracts format (NULL on OOM). */
char *telem_policy_to_yaml(const telem_policy *p);

#ifdef __cplusplus
}
#endif
#endif /* VOXTELEM_H */
