/*
 * prune.h -- what the retention planner (prune_plan.c) and the batched
 * prune (prune_apply.c) share: the plan of the active policy.
 *
 * A plan has one row per rule of the active policy, plus one cascade row
 * per child table that the schema links to a policy table through a
 * foreign key ON DELETE CASCADE and that the policy does not list
 * (implicit children, as Vox's policy expects).  Only rows whose status is
 * PS_OK are ever deleted from.
 */
#ifndef VOXTELEM_PRUNE_H
#define VOXTELEM_PRUNE_H

#include "sql/sql.h"

/* Plan statuses (also the index into telem_prune_status_names). */
enum {
  PS_OK = 0,
  PS_KEEP_FOREVER,
  PS_MANUAL,
  PS_MISSING_TABLE,
  PS_NOT_A_TABLE,       /* a view or a virtual table */
  PS_WITHOUT_ROWID,     /* batching needs a rowid */
  PS_MISSING_COLUMN,
  PS_TYPE_MISMATCH,     /* declared type does not fit the kind */
  PS_BAD_CUTOFF,        /* now - days is outside SQLite's date range */
  PS_MISSING_FK,        /* cascade: no foreign key to the parent */
  PS_NOT_CASCADE,       /* cascade: the foreign key is not ON DELETE CASCADE */
  PS_UNLISTED_CHILD,    /* a table referencing this one is not its cascade rule */
  PS_CHILD_NOT_OK,      /* a cascade child of this table is not ok */
  PS_PARENT_NOT_OK,     /* cascade: the parent is not ok */
};
extern const char *const telem_prune_status_names[];

/* One foreign key of a table of main, as pragma_foreign_key_list gives it. */
typedef struct TelemPruneFk {
  char *child;       /* the table holding the key; owned */
  char *parent;      /* the referenced table, as written; owned */
  int cascade;       /* ON DELETE CASCADE */
  int ncol;          /* columns in the key */
  char *from_sql;    /* quoted child columns: "a","b"; owned */
  char *from_x;      /* the same qualified by the alias x: x."a",x."b"; owned */
  char *to_sql;      /* quoted parent columns, NULL when the key names none; owned */
  char *to_json;     /* the parent columns as a JSON array, NULL likewise; owned */
  int child_indexed; /* an index of child starts with the key's first column */
} TelemPruneFk;

/* Every foreign key of main, read in one pass, with two sorted views. */
typedef struct TelemPruneFks {
  TelemPruneFk *fk;         /* owned */
  int n;
  TelemPruneFk **by_child;  /* sorted by child, case-insensitively; owned array */
  TelemPruneFk **by_parent; /* sorted by parent; owned array */
} TelemPruneFks;

/* One row of the plan. */
typedef struct TelemPruneRow {
  const TelemPolicyRule *rule; /* borrowed from TelemPrunePlan.policy */
  int status;                  /* PS_* */
  int parent;                  /* cascade: index of the parent row, else -1 */
  char *cutoff;                /* ISO text, NULL for keep/manual; owned */
  char *pred;                  /* WHERE predicate on the table; owned */
  char *lo_lit;                /* SQL literal: lower bound of the range, or NULL; owned */
  char *hi_lit;                /* SQL literal: the range ends below it; owned */
  char *filter;                /* exact check on top of the range, or NULL; owned */
  char *rows_sql;              /* which rows of the table the rule governs (its filter and
                                  its siblings', see prune_filter_sql), or NULL for all;
                                  already AND-ed into pred and filter; owned */
  char **fk_cols;              /* cascade: per foreign key to the parent, quoted child
                                  columns "(a,b)"; owned */
  char **pk_cols;              /* cascade: per foreign key, quoted parent columns "a,b"; owned */
  char **fk_x;                 /* cascade: per foreign key, child columns qualified by the
                                  alias x: "(x.a,x.b)"; owned */
  int nfk;                     /* cascade: foreign keys to the parent */
  int fk_unindexed;            /* cascade: some key to the parent has no index in the child */
  char *delete_sql;            /* shown in the plan; owned */
  char *note;                  /* what the plan wants the operator to know; owned */
  char *parent_cond;           /* cascade: the rows of the parent table that go (the OR of
                                  its ok rules' pred); owned */
  int has_counts;              /* eligible/cascade computed */
  sqlite3_int64 eligible;      /* rows that would go now */
  sqlite3_int64 cascade;       /* parents: child rows that go with them */
  int indexed;                 /* parents: an index starts with time_column */
  const char *rowid_name;      /* "rowid", "_rowid_" or "oid", one no column shadows (parents
                                  and children; NULL when all three are columns) */
  sqlite3_int64 deleted;       /* apply: rows deleted from this table */
} TelemPruneRow;

typedef struct TelemPrunePlan {
  int refs;            /* telem_prune_plan_free releases one */
  TelemPolicy *policy; /* the active policy plus implicit children; owned */
  TelemPruneRow *rows; /* one per rule, same order; owned */
  int n;
  char *now;           /* the instant the plan is for (ISO); owned */
  const char **params; /* filter values, bound to :tf1, :tf2, ...; borrowed from policy;
                          the array is owned */
  int nparams, capparams;
} TelemPrunePlan;

/* Binds every :tfN parameter of st (the filter values of the plan's
 * rules: they are never spliced into SQL).  Returns an SQLite code. */
int telem_prune_bind(const TelemPrunePlan *p, sqlite3_stmt *st);

/* 1 when plan row ci is a cascade child that goes with the rows of parent
 * row pi (any non-cascade rule of its parent table: each per-type rule
 * takes the children of its own rows). */
int telem_prune_is_child(const TelemPrunePlan *p, int ci, int pi);

/* Builds the plan of the active policy at instant `now` (NULL: the current
 * time).  with_counts: also count eligible and cascade rows.  Returns NULL
 * with *pzErr on error (a message starting "now " is about `now`). */
TelemPrunePlan *telem_prune_plan_build(sqlite3 *db, TelemConn *c, const char *now,
                                       int with_counts, char **pzErr);
void telem_prune_plan_free(TelemPrunePlan *p); /* drops one reference */

/* The rows of cascade row c that go with the rows of parent table `pt`
 * matching `cond`: "(fk) IN (SELECT pk FROM main."pt" WHERE cond)", OR-ed
 * over c's foreign keys to pt.  sqlite3 memory; NULL on OOM. */
char *telem_prune_child_match(const TelemPruneRow *c, const char *pt, const char *cond);

/* Appends sqlite3_mprintf-formatted text (%w, %Q) to b; an allocation
 * failure sets b->oom, so a half-built statement is never run.  (No
 * printf format attribute: the compiler does not know %w.) */
void telem_prune_sqlf(TelemBuf *b, const char *fmt, ...);

/* Monotonic clock in milliseconds. */
double telem_prune_ms_now(void);

#endif /* VOXTELEM_PRUNE_H */
