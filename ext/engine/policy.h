/*
 * policy.h -- the retention policy engine (policy.c) beyond the public API
 * in include/voxtelem.h: rule internals shared with the SQL surface.
 */
#ifndef VOXTELEM_POLICY_H
#define VOXTELEM_POLICY_H

#include "core/core.h"
#include "voxtelem.h"

/* ---- retention policy (policy.c; public API in include/voxtelem.h) ------ */

enum {
  TELEM_RK_DAYS = 1, /* ISO-8601 text older than now - days */
  TELEM_RK_MS_DAYS,  /* INTEGER Unix milliseconds older than now - days */
  TELEM_RK_EXPIRES,  /* expires_lt_now: non-NULL TTL column before now */
  TELEM_RK_KEEP,     /* keep_forever: listed, never deleted */
  TELEM_RK_MANUAL,   /* manual: listed, never deleted automatically */
  TELEM_RK_CASCADE   /* goes with its parent (cascade_from) through a foreign key */
};
#define TELEM_POLICY_BAD_DAYS (-0x7fffffffffffffffLL) /* days: not an integer */

typedef struct TelemPolicyRule {
  char *table_name;   /* owned */
  int kind;           /* TELEM_RK_* */
  int64_t days;       /* TELEM_POLICY_NO_DAYS when absent */
  char *time_column;  /* owned; may be NULL */
  char *cascade_from; /* owned; may be NULL */
  char *rationale;    /* owned */
  char *filter;       /* owned; canonical JSON of the filter, NULL: the table's default rule */
  char **globs;       /* metric_types globs, sorted, unique; owned (with its strings) */
  int nglob;
  char **wcol;        /* where: column names, sorted case-insensitively; owned */
  char **wval;        /* where: the value each column must equal; owned */
  int nwhere;
  int64_t rowid;      /* row in telem_retention_policy (0: from a file) */
  int implicit;       /* plan only: a cascade child found from the schema */
} TelemPolicyRule;

struct TelemPolicy {
  TelemPolicyRule *rules; /* sorted by table_name, case-insensitively; owned */
  int n, cap;
};
typedef struct TelemPolicy TelemPolicy; /* also in voxtelem.h (C11 allows both) */

int telem_policy_kind(const char *name);      /* TELEM_RK_* or 0 */
const char *telem_policy_kind_name(int kind); /* static text or NULL */
struct TelemPolicyRuleInfo;
int telem_policy_ident_ok(const char *z);     /* ^[A-Za-z_][A-Za-z0-9_]{0,127}$, not sqlite_* */
/* Index of the rule for `table` whose filter is `filter` (canonical JSON or
 * NULL for the default rule; any equivalent JSON text is canonicalised
 * first), or -1. */
int telem_policy_find_rule(const TelemPolicy *p, const char *table, const char *filter);
/* The canonical JSON text of filter text z (sqlite3 memory), or NULL with
 * *pzErr (NULL *pzErr: out of memory). */
char *telem_policy_filter_canonical(const char *table, const char *z, char **pzErr);
/* telem_policy_add() that also records the rule's rowid. */
int telem_policy_add_rowid(TelemPolicy *p, const struct TelemPolicyRuleInfo *r, int64_t rowid,
                           char **pzErr);


/* The cross-rule checks of telem_policy_check, for one change only: the
 * rule now named new_table (NULL: none) and the name old_table a rule had
 * before (NULL: none).  O(log n), plus one pass over the rules only when a
 * rule became a cascade or a name left the policy.  0, or -1 with *pzErr. */
int telem_policy_check_change(const TelemPolicy *p, const char *old_table, const char *new_table,
                              char **pzErr);

#endif /* VOXTELEM_POLICY_H */
