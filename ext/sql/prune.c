/*
 * prune.c -- what the retention policy would delete, and deleting it.
 *
 *   telem_prune_plan([now])       eponymous table-valued function: one row
 *                                 per policy table with table_name, kind,
 *                                 time_column, days, cutoff, eligible_rows,
 *                                 cascade_rows, status, delete_sql
 *   telem_prune_apply([table [, batch_rows [, now]]])
 *                                 deletes in batches; returns rows deleted
 *                                 (parents + cascaded children) and appends
 *                                 one row per table to telem_prune_log
 *
 *     SELECT table_name, status, eligible_rows FROM telem_prune_plan();
 *     SELECT telem_prune_apply();                 -- every table, now
 *     SELECT telem_prune_apply('research_metrics', 2000, '2026-01-01T00:00:00Z');
 *
 * Safety: only tables the active policy names (ext/retention.c) are ever
 * touched, and only when their plan status is `ok`.  A parent table is only
 * `ok` when every table whose foreign key references it is a cascade rule
 * of that parent in the policy with status `ok` (so ON DELETE CASCADE can
 * never reach a table the policy does not name).  Children are always
 * deleted explicitly before their parents, batch by batch, so the result is
 * the same with PRAGMA foreign_keys on or off: no orphans either way.
 *
 * Timestamps (kinds days and expires_lt_now) compare by instant, whichever
 * ISO form a row holds ("YYYY-MM-DD HH:MM:SS", "YYYY-MM-DDTHH:MM:SSZ",
 * fractional seconds, even +HH:MM offsets).  The predicate is
 *
 *     col >= '0000-01-01' AND col < '<cutoff date + 2 days>'
 *     AND (col < '<cutoff date - 1 day>' OR julianday(col) < julianday('<cutoff>'))
 *
 * The first line is a range an index on col can use; any text dated at
 * least a day before the cutoff's date is older in every form and offset,
 * so only rows in the three-day band around the cutoff pay for the exact
 * julianday() check (plain string comparison of mixed forms is wrong near
 * the cutoff: ' ' sorts before 'T').  NULLs, numbers, blobs and text that
 * sorts below '0000-01-01' never match; text in the band that julianday()
 * cannot read is kept; text below the band is taken as the date it starts
 * with (no per-row shape check: it cost 15% of the prune's CPU).
 * ms_days compares INTEGER Unix milliseconds: col < <cutoff ms>.
 *
 * Transactions (see docs/architecture/retention-and-sensitivity.md, "Prune
 * batching"): when the connection is in autocommit mode, each batch runs in
 * its own BEGIN IMMEDIATE ... COMMIT on the caller's connection (a SQL
 * function may commit nested transactions as long as no *writing* statement
 * is running; the calling `SELECT telem_prune_apply()` only reads, which we
 * check with sqlite3_next_stmt).  So every batch is durable on its own and a
 * SIGKILL loses at most the batch in flight.  Inside the caller's own
 * transaction each batch is a SAVEPOINT instead: atomic, but nothing is
 * committed before the caller commits.  Called from a writing statement
 * (INSERT ... SELECT telem_prune_apply()), apply refuses: SQLite allows
 * neither COMMIT nor SAVEPOINT there.
 *
 * Batches: with an index on the time column and no cascade children, a
 * batch is a slice of the index, (previous key, k] with k the n-th key
 * after the previous batch (see apply_table); otherwise the batch's rowids
 * are collected first so children and parent see the same rows.
 *
 * Schedule (autocommit mode): batches adapt to ~20 ms of lock time unless
 * batch_rows is given.  After each commit: if another connection committed
 * meanwhile (PRAGMA data_version), sleep 15 ms after every batch for the
 * next second; else if another process has the database open (F_GETLK on
 * the SHARED range, see apply_others_present), sleep 30 ms after every
 * 100 ms of lock time, so a writer whose busy handler backs off (1, 2, 5,
 * 10, 15, 20, 25, 25, ... ms) finds the lock free within about 130 ms; else
 * do not sleep, and defer WAL checkpoints to the end of the run.  The
 * trade-off is written down in docs/architecture/retention-and-sensitivity.md.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep */
#include "sql/sql.h"
#include "voxtelem.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PRUNE_DEFAULT_BATCH 2000    /* first batch when batch_rows is NULL */
#define PRUNE_MIN_BATCH 100
#define PRUNE_MAX_BATCH 1000000     /* largest batch_rows accepted */
#define PRUNE_ADAPT_MAX 50000       /* adaptive batches never exceed this */
#define PRUNE_TARGET_MS 20.0        /* adaptive batch: lock time per batch */
#define PRUNE_WORK_MS 100.0         /* uncontended: lock time between pauses */
#define PRUNE_PAUSE_MS 30           /* uncontended pause */
#define PRUNE_CONTENDED_PAUSE_MS 15 /* pause after every batch while others write */
#define PRUNE_CONTENDED_HOLD_MS 1000.0 /* stay polite this long after seeing a writer */
#define PRUNE_WAL_PAGES 32768      /* alone: WAL pages before a checkpoint (128 MiB at 4 KiB) */
#define PRUNE_BEGIN_RETRY_MS 10000  /* own retries of BEGIN IMMEDIATE on SQLITE_BUSY */

/* Plan statuses.  Only PS_OK rows are ever deleted from. */
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
static const char *const prune_status_names[] = {
    "ok",           "keep_forever",   "manual",          "missing_table", "not_a_table",
    "without_rowid", "missing_column", "type_mismatch",  "bad_cutoff",    "missing_foreign_key",
    "not_cascade",  "unlisted_child", "child_not_ok",    "parent_not_ok",
};

/* One row of the plan. */
typedef struct PlanRow {
  const TelemPolicyRule *rule; /* borrowed from Plan.policy */
  int status;                  /* PS_* */
  int parent;                  /* cascade: index of the parent row, else -1 */
  char *cutoff;                /* ISO text, NULL for keep/manual; owned */
  char *pred;                  /* WHERE predicate on the table; owned */
  char *lo_lit;                /* SQL literal: lower bound of the range, or NULL; owned */
  char *hi_lit;                /* SQL literal: the range ends below it; owned */
  char *filter;                /* exact check on top of the range, or NULL; owned */
  char **fk_cols;              /* cascade: per foreign key to the parent, quoted child
                                  columns "(a,b)"; owned */
  char **pk_cols;              /* cascade: per foreign key, quoted parent columns "a,b"; owned */
  int nfk;                     /* cascade: foreign keys to the parent */
  char *delete_sql;            /* shown in the plan; owned */
  int has_counts;              /* eligible/cascade computed */
  sqlite3_int64 eligible;      /* rows that would go now */
  sqlite3_int64 cascade;       /* parents: child rows that go with them */
  int indexed;                 /* parents: an index starts with time_column */
  const char *rowid_name;      /* parents: "rowid", "_rowid_" or "oid", one no column shadows */
  sqlite3_int64 deleted;       /* apply: rows deleted from this table */
} PlanRow;

typedef struct Plan {
  TelemPolicy *policy; /* owned */
  PlanRow *rows;       /* one per rule, same order; owned */
  int n;
  char *now;           /* the instant the plan is for (ISO); owned */
} Plan;

static void plan_free(Plan *p) {
  if (!p) return;
  for (int i = 0; i < p->n; i++) {
    sqlite3_free(p->rows[i].cutoff);
    sqlite3_free(p->rows[i].pred);
    sqlite3_free(p->rows[i].lo_lit);
    sqlite3_free(p->rows[i].hi_lit);
    sqlite3_free(p->rows[i].filter);
    for (int k = 0; k < p->rows[i].nfk; k++) {
      sqlite3_free(p->rows[i].fk_cols[k]);
      sqlite3_free(p->rows[i].pk_cols[k]);
    }
    sqlite3_free(p->rows[i].fk_cols);
    sqlite3_free(p->rows[i].pk_cols);
    sqlite3_free(p->rows[i].delete_sql);
  }
  sqlite3_free(p->rows);
  telem_policy_free(p->policy);
  sqlite3_free(p->now);
  sqlite3_free(p);
}

static double prune_ms_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void prune_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

/* Runs a one-value query; returns its text copied (sqlite3 memory) or NULL
 * (SQL NULL or error: *prc tells which). */
static char *prune_query_text(sqlite3 *db, const char *sql, const char *a1, const char *a2,
                              int *prc) {
  sqlite3_stmt *st = NULL;
  char *out = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK) {
    if (a1) sqlite3_bind_text(st, 1, a1, -1, SQLITE_STATIC);
    if (a2) sqlite3_bind_text(st, 2, a2, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      const char *z = (const char *)sqlite3_column_text(st, 0);
      if (z) {
        out = sqlite3_mprintf("%s", z);
        if (!out) rc = SQLITE_NOMEM;
      }
      if (rc == SQLITE_ROW) rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
      rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(st);
  *prc = rc;
  return out;
}

/* Runs a count query; returns the count or -1 with *pzErr. */
static sqlite3_int64 prune_count(sqlite3 *db, const char *sql, char **pzErr) {
  sqlite3_stmt *st = NULL;
  sqlite3_int64 n = -1;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
  if (n < 0) telem_set_err(pzErr, "cannot count rows: %s", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return n;
}

/* Looks table t up in main: sets *status (PS_MISSING_TABLE, PS_NOT_A_TABLE,
 * PS_WITHOUT_ROWID or PS_OK).  Returns an SQLite code. */
static int prune_table_status(sqlite3 *db, const char *t, int *status) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT type, wr FROM pragma_table_list WHERE schema='main' "
                              "AND name=?1 COLLATE NOCASE",
                              -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    const char *type = (const char *)sqlite3_column_text(st, 0);
    if (!type || strcmp(type, "table") != 0)
      *status = PS_NOT_A_TABLE;
    else if (sqlite3_column_int(st, 1))
      *status = PS_WITHOUT_ROWID;
    else
      *status = PS_OK;
    rc = SQLITE_OK;
  } else if (rc == SQLITE_DONE) {
    *status = PS_MISSING_TABLE;
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  return rc;
}

/* Status of column col of table t for a rule of kind k: PS_OK,
 * PS_MISSING_COLUMN or PS_TYPE_MISMATCH (by SQLite's affinity rules:
 * days/expires_lt_now need text, a DATE/TIME-ish NUMERIC type or none;
 * ms_days needs INTEGER, NUMERIC or none). */
static int prune_column_status(sqlite3 *db, const char *t, const char *col, int k, int *status) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT upper(type) FROM pragma_table_xinfo(?1, 'main') "
                              "WHERE name=?2 COLLATE NOCASE",
                              -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, col, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) {
    *status = PS_MISSING_COLUMN;
    rc = SQLITE_OK;
  } else if (rc == SQLITE_ROW) {
    const char *ty = (const char *)sqlite3_column_text(st, 0);
    if (!ty) ty = "";
    int aff_int = strstr(ty, "INT") != NULL;
    int aff_text = !aff_int && (strstr(ty, "CHAR") || strstr(ty, "CLOB") || strstr(ty, "TEXT"));
    int aff_none = !aff_int && !aff_text && (!*ty || strstr(ty, "BLOB"));
    int aff_real = !aff_int && !aff_text && !aff_none &&
                   (strstr(ty, "REAL") || strstr(ty, "FLOA") || strstr(ty, "DOUB"));
    int aff_num = !aff_int && !aff_text && !aff_none && !aff_real;
    int ok;
    if (k == TELEM_RK_MS_DAYS)
      ok = aff_int || aff_none || aff_num;
    else
      ok = aff_text || aff_none || (aff_num && (strstr(ty, "DATE") || strstr(ty, "TIME")));
    *status = ok ? PS_OK : PS_TYPE_MISMATCH;
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  return rc;
}

/* Sets *out to the first of rowid, _rowid_ and oid that no column of
 * table t is named (a column of that name hides the real rowid, and the
 * batches would then select and delete by the column), or NULL when all
 * three are taken.  Returns an SQLite code. */
static int prune_rowid_name(sqlite3 *db, const char *t, const char **out) {
  static const char *const names[] = {"rowid", "_rowid_", "oid"};
  sqlite3_stmt *st = NULL;
  *out = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT 1 FROM pragma_table_xinfo(?1, 'main') "
                              "WHERE name=?2 COLLATE NOCASE",
                              -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  for (int i = 0; i < 3 && !*out; i++) {
    sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, names[i], -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) *out = names[i];
    else if (rc != SQLITE_ROW) break;
    rc = SQLITE_OK;
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Fills the cutoff and predicate of a time-based row.  Returns an SQLite
 * code; a cutoff outside the date range sets PS_BAD_CUTOFF. */
static int prune_time_pred(sqlite3 *db, const char *now, PlanRow *r) {
  const TelemPolicyRule *ru = r->rule;
  char mod[48];
  if (ru->kind == TELEM_RK_EXPIRES)
    snprintf(mod, sizeof mod, "+0 days");
  else
    snprintf(mod, sizeof mod, "-%lld days", (long long)ru->days);
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', ?1, ?2), "
                              "date(?1, ?2, '-1 day'), date(?1, ?2, '+2 days'), "
                              "CAST(strftime('%s', ?1, ?2) AS INTEGER) * 1000 "
                              "+ CAST(substr(strftime('%f', ?1, ?2), 4) AS INTEGER)",
                              -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, mod, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_ERROR : rc;
  }
  const char *cut = (const char *)sqlite3_column_text(st, 0);
  const char *lo = (const char *)sqlite3_column_text(st, 1);
  const char *hi = (const char *)sqlite3_column_text(st, 2);
  if (!cut || !lo || !hi || sqlite3_column_type(st, 3) == SQLITE_NULL || cut[0] == '-') {
    r->status = PS_BAD_CUTOFF;
    sqlite3_finalize(st);
    return SQLITE_OK;
  }
  sqlite3_int64 cut_ms = sqlite3_column_int64(st, 3);
  r->cutoff = sqlite3_mprintf("%s", cut);
  const char *c = ru->time_column;
  if (ru->kind == TELEM_RK_MS_DAYS) {
    r->hi_lit = sqlite3_mprintf("%lld", (long long)cut_ms);
    if (r->hi_lit) r->pred = sqlite3_mprintf("\"%w\" < %s", c, r->hi_lit);
  } else {
    r->lo_lit = sqlite3_mprintf("'0000-01-01'");
    r->hi_lit = sqlite3_mprintf("%Q", hi);
    r->filter = sqlite3_mprintf("(\"%w\" < %Q OR julianday(\"%w\") < julianday(%Q))", c, lo, c, cut);
    if (r->lo_lit && r->hi_lit && r->filter)
      r->pred = sqlite3_mprintf("\"%w\" >= %s AND \"%w\" < %s AND %s", c, r->lo_lit, c, r->hi_lit,
                                r->filter);
  }
  sqlite3_finalize(st);
  return (r->cutoff && r->pred) ? SQLITE_OK : SQLITE_NOMEM;
}

/* *ok = 1 when columns `cols` (a JSON array of n names) of table pt are a
 * key SQLite accepts as the parent of a foreign key: its INTEGER PRIMARY
 * KEY, or the columns of a UNIQUE index.  Otherwise the foreign key is a
 * "foreign key mismatch", and deleting children by value would also take
 * the children of parent rows that stay.  Returns an SQLite code. */
static int prune_parent_key_ok(sqlite3 *db, const char *pt, const char *cols, int n, int *ok) {
  sqlite3_stmt *st = NULL;
  *ok = 0;
  int rc = sqlite3_prepare_v2(
      db,
      "SELECT 1 FROM pragma_table_info(?1, 'main') AS ti "
      "WHERE ?3 = 1 AND ti.pk = 1 AND upper(ti.type) = 'INTEGER' "
      "AND ti.name = json_extract(?2, '$[0]') COLLATE NOCASE "
      "AND (SELECT count(*) FROM pragma_table_info(?1, 'main') WHERE pk > 0) = 1 "
      "UNION ALL "
      "SELECT 1 FROM pragma_index_list(?1, 'main') AS il "
      "WHERE il.\"unique\" = 1 AND il.partial = 0 "
      "AND (SELECT count(*) FROM pragma_index_info(il.name, 'main')) = ?3 "
      "AND (SELECT count(*) FROM pragma_index_info(il.name, 'main') AS ii, json_each(?2) AS j "
      "WHERE ii.name = j.value COLLATE NOCASE) = ?3 "
      "LIMIT 1",
      -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_text(st, 1, pt, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, cols, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 3, n);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *ok = 1;
  if (rc == SQLITE_ROW || rc == SQLITE_DONE) rc = SQLITE_OK;
  sqlite3_finalize(st);
  return rc;
}

/* For cascade row r (child of parent table `pt`): finds every foreign key
 * of r to pt and fills fk_cols / pk_cols / nfk (one entry per key, so that
 * rows referencing a parent through any of them go with it), or sets
 * PS_MISSING_FK (no key, or one whose parent columns are not a key of
 * the parent) / PS_NOT_CASCADE (when any of them is not ON DELETE
 * CASCADE). */
static int prune_fk(sqlite3 *db, PlanRow *r, const char *pt) {
  const char *ct = r->rule->table_name;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT id, \"from\", \"to\", on_delete FROM "
                              "pragma_foreign_key_list(?1, 'main') WHERE \"table\"=?2 "
                              "COLLATE NOCASE ORDER BY id, seq",
                              -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_text(st, 1, ct, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, pt, -1, SQLITE_STATIC);
  TelemBuf fk, pk, ppk, pkj;
  telem_buf_init(&fk);
  telem_buf_init(&pk);
  telem_buf_init(&ppk);
  telem_buf_init(&pkj); /* the parent columns of the current key, as a JSON array */
  char **fks = NULL, **pks = NULL;
  int nfk = 0;
  int id = -1, n = 0, cascade = 1, to_null = 0, ppk_n = -1;
  for (;;) {
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) goto out;
    int this_id = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    if (id >= 0 && this_id != id) {
      /* The foreign key `id` is complete: n columns in fk, pk. */
      if (to_null) {
        /* REFERENCES parent without columns: the parent's primary key. */
        if (ppk_n < 0) {
          sqlite3_stmt *q = NULL;
          int qrc = sqlite3_prepare_v2(db,
                                       "SELECT name FROM pragma_table_info(?1, 'main') "
                                       "WHERE pk > 0 ORDER BY pk",
                                       -1, &q, NULL);
          if (qrc != SQLITE_OK) {
            rc = qrc;
            goto out;
          }
          sqlite3_bind_text(q, 1, pt, -1, SQLITE_STATIC);
          ppk_n = 0;
          while ((qrc = sqlite3_step(q)) == SQLITE_ROW) {
            char *z = sqlite3_mprintf("%s\"%w\"", ppk_n ? "," : "", sqlite3_column_text(q, 0));
            telem_buf_puts(&ppk, z ? z : "");
            sqlite3_free(z);
            ppk_n++;
          }
          sqlite3_finalize(q);
          if (qrc != SQLITE_DONE) {
            rc = qrc;
            goto out;
          }
          telem_buf_putc(&ppk, 0);
        }
        if (ppk_n != n) {
          r->status = PS_MISSING_FK; /* a mismatched foreign key is no usable key */
          rc = SQLITE_OK;
          goto out;
        }
      } else {
        int key_ok = 0;
        telem_buf_putc(&pkj, ']');
        telem_buf_putc(&pkj, 0);
        if (pkj.oom) {
          rc = SQLITE_NOMEM;
          goto out;
        }
        int krc = prune_parent_key_ok(db, pt, pkj.p, n, &key_ok);
        if (krc != SQLITE_OK) {
          rc = krc;
          goto out;
        }
        if (!key_ok) {
          r->status = PS_MISSING_FK; /* a mismatched foreign key is no usable key */
          rc = SQLITE_OK;
          goto out;
        }
      }
      telem_buf_putc(&fk, 0);
      telem_buf_putc(&pk, 0);
      if (fk.oom || pk.oom || ppk.oom) {
        rc = SQLITE_NOMEM;
        goto out;
      }
      char **f2 = sqlite3_realloc64(fks, sizeof(char *) * (size_t)(nfk + 1));
      if (f2) fks = f2;
      char **p2 = f2 ? sqlite3_realloc64(pks, sizeof(char *) * (size_t)(nfk + 1)) : NULL;
      if (p2) pks = p2;
      if (!f2 || !p2) {
        rc = SQLITE_NOMEM;
        goto out;
      }
      fks[nfk] = sqlite3_mprintf("(%s)", fk.p);
      pks[nfk] = sqlite3_mprintf("%s", to_null ? ppk.p : pk.p);
      nfk++;
      if (!fks[nfk - 1] || !pks[nfk - 1]) {
        rc = SQLITE_NOMEM;
        goto out;
      }
      fk.len = 0;
      pk.len = 0;
      pkj.len = 0;
      n = 0;
      to_null = 0;
    }
    if (rc != SQLITE_ROW) break;
    id = this_id;
    const char *from = (const char *)sqlite3_column_text(st, 1);
    const char *to = (const char *)sqlite3_column_text(st, 2);
    const char *od = (const char *)sqlite3_column_text(st, 3);
    if (!od || sqlite3_stricmp(od, "CASCADE") != 0) cascade = 0;
    char *q = sqlite3_mprintf("%s\"%w\"", n ? "," : "", from ? from : "");
    telem_buf_puts(&fk, q ? q : "");
    sqlite3_free(q);
    if (!to) {
      to_null = 1;
    } else {
      q = sqlite3_mprintf("%s\"%w\"", n ? "," : "", to);
      telem_buf_puts(&pk, q ? q : "");
      sqlite3_free(q);
      telem_buf_putc(&pkj, n ? ',' : '[');
      telem_buf_json_string(&pkj, to, strlen(to));
    }
    n++;
  }
  if (rc != SQLITE_DONE) goto out;
  rc = SQLITE_OK;
  if (nfk == 0) {
    r->status = PS_MISSING_FK;
    goto out;
  }
  if (!cascade) {
    r->status = PS_NOT_CASCADE;
    goto out;
  }
  r->fk_cols = fks;
  r->pk_cols = pks;
  r->nfk = nfk;
  fks = pks = NULL;
  nfk = 0;
out:
  sqlite3_finalize(st);
  for (int i = 0; i < nfk; i++) {
    sqlite3_free(fks[i]);
    sqlite3_free(pks[i]);
  }
  sqlite3_free(fks);
  sqlite3_free(pks);
  telem_buf_free(&fk);
  telem_buf_free(&pk);
  telem_buf_free(&ppk);
  telem_buf_free(&pkj);
  return rc;
}

/* The rows of cascade row c that go with the rows of parent table `pt`
 * matching `cond`: "(fk) IN (SELECT pk FROM main."pt" WHERE cond)", OR-ed
 * over c's foreign keys to pt.  sqlite3 memory; NULL on OOM. */
static char *prune_child_match(const PlanRow *c, const char *pt, const char *cond) {
  TelemBuf b;
  telem_buf_init(&b);
  for (int i = 0; i < c->nfk; i++) {
    char *q = sqlite3_mprintf("%s%s IN (SELECT %s FROM main.\"%w\" WHERE %s)", i ? " OR " : "",
                              c->fk_cols[i], c->pk_cols[i], pt, cond);
    if (!q) {
      telem_buf_free(&b);
      return NULL;
    }
    telem_buf_puts(&b, q);
    sqlite3_free(q);
  }
  if (b.oom) {
    telem_buf_free(&b);
    return NULL;
  }
  return telem_buf_take(&b);
}

/* Sets *unlisted to 1 when some table in main other than the policy's cascade
 * children of row i references table t through a foreign key; *child_bad
 * to 1 when such a listed child is not ok. */
static int prune_children_check(sqlite3 *db, Plan *p, int i, int *unlisted, int *child_bad) {
  const char *t = p->rows[i].rule->table_name;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT DISTINCT m.name FROM main.sqlite_master AS m, "
                              "pragma_foreign_key_list(m.name, 'main') AS f "
                              "WHERE m.type='table' AND f.\"table\"=?1 COLLATE NOCASE",
                              -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
  *unlisted = 0;
  *child_bad = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *child = (const char *)sqlite3_column_text(st, 0);
    int j = telem_policy_find(p->policy, child);
    if (j < 0 || p->rows[j].rule->kind != TELEM_RK_CASCADE ||
        sqlite3_stricmp(p->rows[j].rule->cascade_from, t) != 0) {
      *unlisted = 1;
    } else if (p->rows[j].status != PS_OK) {
      *child_bad = 1;
    }
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The whole deletion of parent row r, or of cascade row r whose parent is
 * pr, as one runnable statement (apply runs it in batches, children first). */
static char *prune_delete_sql(const PlanRow *r, const PlanRow *pr) {
  if (!pr)
    return sqlite3_mprintf("DELETE FROM main.\"%w\" WHERE %s", r->rule->table_name, r->pred);
  char *m = prune_child_match(r, pr->rule->table_name, pr->pred);
  char *sql = m ? sqlite3_mprintf("DELETE FROM main.\"%w\" WHERE %s", r->rule->table_name, m) : NULL;
  sqlite3_free(m);
  return sql;
}

/* 1 when some index of table t starts with column col (0 when none, -1 on
 * error). */
static int prune_has_index(sqlite3 *db, const char *t, const char *col) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT 1 FROM pragma_index_list(?1, 'main') AS il, "
                              "pragma_index_info(il.name, 'main') AS ii "
                              "WHERE ii.seqno = 0 AND ii.name = ?2 COLLATE NOCASE "
                              "AND il.partial = 0",
                              -1, &st, NULL);
  if (rc != SQLITE_OK) return -1;
  sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, col, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  int found = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
  sqlite3_finalize(st);
  return found;
}

/* Builds the plan of the active policy at instant `now` (NULL: the current
 * time).  with_counts: also count eligible and cascade rows.  Returns NULL
 * with *pzErr on error. */
static Plan *plan_build(sqlite3 *db, TelemConn *c, const char *now, int with_counts,
                        char **pzErr) {
  Plan *p = sqlite3_malloc64(sizeof *p);
  int rc = SQLITE_OK;
  if (!p) goto oom;
  memset(p, 0, sizeof *p);
  p->now = prune_query_text(db, "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', coalesce(?1, 'now'))",
                            now, NULL, &rc);
  if (rc != SQLITE_OK) goto sqlerr;
  if (!p->now) {
    telem_set_err(pzErr, "now is not a valid time (use ISO-8601, e.g. 2026-01-31T12:00:00Z)");
    goto fail;
  }
  p->policy = telem_policy_active(db, c, NULL, pzErr);
  if (!p->policy) goto fail;
  p->n = p->policy->n;
  p->rows = sqlite3_malloc64((sqlite3_uint64)(p->n ? p->n : 1) * sizeof *p->rows);
  if (!p->rows) goto oom;
  memset(p->rows, 0, (size_t)(p->n ? p->n : 1) * sizeof *p->rows);

  /* Pass 1: each rule on its own. */
  for (int i = 0; i < p->n; i++) {
    PlanRow *r = &p->rows[i];
    r->rule = &p->policy->rules[i];
    r->parent = -1;
    int k = r->rule->kind;
    if (k == TELEM_RK_KEEP) {
      r->status = PS_KEEP_FOREVER;
      continue;
    }
    if (k == TELEM_RK_MANUAL) {
      r->status = PS_MANUAL;
      continue;
    }
    if ((rc = prune_table_status(db, r->rule->table_name, &r->status)) != SQLITE_OK) goto sqlerr;
    if (r->status != PS_OK) continue;
    if (k == TELEM_RK_CASCADE) {
      r->parent = telem_policy_find(p->policy, r->rule->cascade_from);
      if ((rc = prune_fk(db, r, r->rule->cascade_from)) != SQLITE_OK) goto sqlerr;
      continue;
    }
    if ((rc = prune_column_status(db, r->rule->table_name, r->rule->time_column, k,
                                  &r->status)) != SQLITE_OK)
      goto sqlerr;
    if (r->status != PS_OK) continue;
    if ((rc = prune_rowid_name(db, r->rule->table_name, &r->rowid_name)) != SQLITE_OK)
      goto sqlerr;
    if (!r->rowid_name) {
      r->status = PS_WITHOUT_ROWID; /* no name reaches the rowid: cannot batch */
      continue;
    }
    if ((rc = prune_time_pred(db, p->now, r)) != SQLITE_OK) goto sqlerr;
  }
  /* Pass 2: a cascade child may not have children of its own. */
  for (int i = 0; i < p->n; i++) {
    PlanRow *r = &p->rows[i];
    if (r->rule->kind != TELEM_RK_CASCADE || r->status != PS_OK) continue;
    int unlisted = 0, bad = 0;
    if ((rc = prune_children_check(db, p, i, &unlisted, &bad)) != SQLITE_OK) goto sqlerr;
    if (unlisted || bad) r->status = PS_UNLISTED_CHILD;
  }
  /* Pass 3: parents are ok only when every referencing table is an ok
   * cascade rule of theirs. */
  for (int i = 0; i < p->n; i++) {
    PlanRow *r = &p->rows[i];
    if (r->rule->kind == TELEM_RK_CASCADE || r->status != PS_OK) continue;
    int unlisted = 0, bad = 0;
    if ((rc = prune_children_check(db, p, i, &unlisted, &bad)) != SQLITE_OK) goto sqlerr;
    if (unlisted)
      r->status = PS_UNLISTED_CHILD;
    else if (bad)
      r->status = PS_CHILD_NOT_OK;
  }
  /* Pass 4: cascade rows follow their parent. */
  for (int i = 0; i < p->n; i++) {
    PlanRow *r = &p->rows[i];
    if (r->rule->kind != TELEM_RK_CASCADE) continue;
    if (r->parent < 0) r->parent = telem_policy_find(p->policy, r->rule->cascade_from);
    const PlanRow *pr = &p->rows[r->parent];
    if (r->status != PS_OK) continue;
    if (pr->status == PS_KEEP_FOREVER || pr->status == PS_MANUAL)
      r->status = pr->status;
    else if (pr->status != PS_OK)
      r->status = PS_PARENT_NOT_OK;
    else if (!(r->cutoff = sqlite3_mprintf("%s", pr->cutoff)))
      goto oom;
  }
  /* Pass 5: SQL and counts for the ok rows. */
  for (int i = 0; i < p->n; i++) {
    PlanRow *r = &p->rows[i];
    if (r->status != PS_OK) continue;
    const PlanRow *pr = r->rule->kind == TELEM_RK_CASCADE ? &p->rows[r->parent] : NULL;
    if (!(r->delete_sql = prune_delete_sql(r, pr))) goto oom;
    if (!pr) {
      r->indexed = prune_has_index(db, r->rule->table_name, r->rule->time_column);
      if (r->indexed < 0) {
        rc = SQLITE_ERROR;
        goto sqlerr;
      }
    }
    if (!with_counts) continue;
    char *sql;
    if (!pr)
      sql = sqlite3_mprintf("SELECT count(*) FROM main.\"%w\" WHERE %s", r->rule->table_name, r->pred);
    else {
      char *m = prune_child_match(r, pr->rule->table_name, pr->pred);
      sql = m ? sqlite3_mprintf("SELECT count(*) FROM main.\"%w\" WHERE %s", r->rule->table_name, m)
              : NULL;
      sqlite3_free(m);
    }
    if (!sql) goto oom;
    r->eligible = prune_count(db, sql, pzErr);
    sqlite3_free(sql);
    if (r->eligible < 0) goto fail;
    r->has_counts = 1;
  }
  if (with_counts) {
    for (int i = 0; i < p->n; i++) {
      PlanRow *r = &p->rows[i];
      if (r->status != PS_OK || r->rule->kind != TELEM_RK_CASCADE) continue;
      p->rows[r->parent].cascade += r->eligible;
    }
  }
  return p;
sqlerr:
  if (rc == SQLITE_NOMEM) goto oom;
  telem_set_err(pzErr, "%s", sqlite3_errmsg(db));
  goto fail;
oom:
  telem_set_err(pzErr, "out of memory");
fail:
  plan_free(p);
  return NULL;
}

/* ---- telem_prune_plan ----------------------------------------------------- */

#define PLAN_COL_TABLE 0
#define PLAN_COL_KIND 1
#define PLAN_COL_TIME 2
#define PLAN_COL_DAYS 3
#define PLAN_COL_CUTOFF 4
#define PLAN_COL_ELIGIBLE 5
#define PLAN_COL_CASCADE 6
#define PLAN_COL_STATUS 7
#define PLAN_COL_SQL 8
#define PLAN_COL_NOW 9 /* HIDDEN argument */
#define PLAN_COL_EXTRA 10 /* TELEM_TVF_EXTRA_COLUMNS: too many arguments */

/* idxNum bit 1: the `now` argument is given (argv[0]). */
#define PLAN_IDX_NOW 1

typedef struct PlanVtab {
  sqlite3_vtab base; /* must be first */
  sqlite3 *db;
  TelemConn *c; /* borrowed: the module's client data holds the reference */
} PlanVtab;

typedef struct PlanCursor {
  sqlite3_vtab_cursor base; /* must be first */
  Plan *plan;               /* this scan's plan; owned */
  int i;                    /* current row */
} PlanCursor;

/* xConnect (eponymous only). */
static int plan_connect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                        sqlite3_vtab **ppVtab, char **pzErr) {
  (void)argc;
  (void)argv;
  int rc = sqlite3_declare_vtab(db,
                                "CREATE TABLE x(table_name TEXT, kind TEXT, time_column TEXT, "
                                "days INTEGER, cutoff TEXT, eligible_rows INTEGER, "
                                "cascade_rows INTEGER, status TEXT, delete_sql TEXT, "
                                "now HIDDEN" TELEM_TVF_EXTRA_COLUMNS ")");
  if (rc != SQLITE_OK) {
    telem_set_err(pzErr, "telem_prune_plan: %s", sqlite3_errmsg(db));
    return rc;
  }
  /* DIRECTONLY: the plan reads the schema and counts rows of other tables;
   * a trigger or view of an untrusted database must not run it. */
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  PlanVtab *v = sqlite3_malloc64(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->db = db;
  v->c = pAux;
  *ppVtab = &v->base;
  return SQLITE_OK;
}

/* xDisconnect / xDestroy */
static int plan_disconnect(sqlite3_vtab *pVtab) {
  sqlite3_free(pVtab);
  return SQLITE_OK;
}

/* xBestIndex: an equality constraint on `now` becomes argv[0]
 * (PLAN_IDX_NOW); an unusable one is SQLITE_CONSTRAINT. */
static int plan_best_index(sqlite3_vtab *pVtab, sqlite3_index_info *info) {
  int now_ix = -1, unusable = 0;
  if (telem_tvf_too_many_args(pVtab, info, "telem_prune_plan", PLAN_COL_EXTRA, 1))
    return SQLITE_ERROR;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *cn = &info->aConstraint[i];
    if (cn->iColumn != PLAN_COL_NOW) continue;
    if (cn->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    if (!cn->usable) {
      unusable = 1;
      continue;
    }
    now_ix = i;
  }
  if (now_ix < 0 && unusable) return SQLITE_CONSTRAINT;
  info->idxNum = 0;
  if (now_ix >= 0) {
    info->aConstraintUsage[now_ix].argvIndex = 1;
    info->aConstraintUsage[now_ix].omit = 1;
    info->idxNum |= PLAN_IDX_NOW;
  }
  info->estimatedCost = 1000;
  info->estimatedRows = 20;
  return SQLITE_OK;
}

/* xOpen */
static int plan_open(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur) {
  (void)pVtab;
  PlanCursor *cur = sqlite3_malloc64(sizeof *cur);
  if (!cur) return SQLITE_NOMEM;
  memset(cur, 0, sizeof *cur);
  *ppCur = &cur->base;
  return SQLITE_OK;
}

/* xClose */
static int plan_close(sqlite3_vtab_cursor *pCur) {
  PlanCursor *cur = (PlanCursor *)pCur;
  plan_free(cur->plan);
  sqlite3_free(cur);
  return SQLITE_OK;
}

/* xFilter: builds the whole plan (counts included) for this scan. */
static int plan_filter(sqlite3_vtab_cursor *pCur, int idxNum, const char *idxStr, int argc,
                       sqlite3_value **argv) {
  (void)idxStr;
  PlanCursor *cur = (PlanCursor *)pCur;
  PlanVtab *v = (PlanVtab *)pCur->pVtab;
  plan_free(cur->plan);
  cur->plan = NULL;
  cur->i = 0;
  const char *now = NULL;
  if ((idxNum & PLAN_IDX_NOW) && argc > 0) {
    int t = sqlite3_value_type(argv[0]);
    if (t != SQLITE_NULL && t != SQLITE_TEXT) {
      telem_vtab_errorf(pCur->pVtab, "telem_prune_plan: argument 1: now must be ISO-8601 text");
      return SQLITE_ERROR;
    }
    now = (const char *)sqlite3_value_text(argv[0]);
  }
  char *err = NULL;
  cur->plan = plan_build(v->db, v->c, now, 1, &err);
  if (!cur->plan) {
    telem_vtab_errorf(pCur->pVtab, "telem_prune_plan: %s%s",
                      err && strncmp(err, "now ", 4) == 0 ? "argument 1: " : "",
                      err ? err : "out of memory");
    sqlite3_free(err);
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

/* xNext */
static int plan_next(sqlite3_vtab_cursor *pCur) {
  ((PlanCursor *)pCur)->i++;
  return SQLITE_OK;
}

/* xEof */
static int plan_eof(sqlite3_vtab_cursor *pCur) {
  PlanCursor *cur = (PlanCursor *)pCur;
  return !cur->plan || cur->i >= cur->plan->n;
}

/* xColumn */
static int plan_column(sqlite3_vtab_cursor *pCur, sqlite3_context *ctx, int col) {
  PlanCursor *cur = (PlanCursor *)pCur;
  const PlanRow *r = &cur->plan->rows[cur->i];
  const char *z = NULL;
  switch (col) {
    case PLAN_COL_TABLE: z = r->rule->table_name; break;
    case PLAN_COL_KIND: z = telem_policy_kind_name(r->rule->kind); break;
    case PLAN_COL_TIME: z = r->rule->time_column; break;
    case PLAN_COL_DAYS:
      if (r->rule->days != TELEM_POLICY_NO_DAYS) sqlite3_result_int64(ctx, r->rule->days);
      return SQLITE_OK;
    case PLAN_COL_CUTOFF: z = r->cutoff; break;
    case PLAN_COL_ELIGIBLE:
      if (r->has_counts) sqlite3_result_int64(ctx, r->eligible);
      return SQLITE_OK;
    case PLAN_COL_CASCADE:
      if (r->has_counts && r->rule->kind != TELEM_RK_CASCADE)
        sqlite3_result_int64(ctx, r->cascade);
      return SQLITE_OK;
    case PLAN_COL_STATUS: z = prune_status_names[r->status]; break;
    case PLAN_COL_SQL: z = r->delete_sql; break;
    case PLAN_COL_NOW: z = cur->plan->now; break;
  }
  if (z) sqlite3_result_text(ctx, z, -1, SQLITE_TRANSIENT);
  return SQLITE_OK;
}

/* xRowid */
static int plan_rowid(sqlite3_vtab_cursor *pCur, sqlite3_int64 *pRowid) {
  *pRowid = ((PlanCursor *)pCur)->i + 1;
  return SQLITE_OK;
}

static const sqlite3_module plan_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous only */
    .xConnect = plan_connect,
    .xBestIndex = plan_best_index,
    .xDisconnect = plan_disconnect,
    .xDestroy = plan_disconnect,
    .xOpen = plan_open,
    .xClose = plan_close,
    .xFilter = plan_filter,
    .xNext = plan_next,
    .xEof = plan_eof,
    .xColumn = plan_column,
    .xRowid = plan_rowid,
};

/* ---- telem_prune_apply ---------------------------------------------------- */

static const char prune_log_ddl[] =
    "CREATE TABLE IF NOT EXISTS main.telem_prune_log(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  run_id INTEGER NOT NULL,      -- one telem_prune_apply() call\n"
    "  logged_at TEXT NOT NULL,      -- when the table was done (UTC ISO-8601)\n"
    "  table_name TEXT NOT NULL,\n"
    "  kind TEXT NOT NULL,\n"
    "  cutoff TEXT,                  -- rows older than this went\n"
    "  rows_deleted INTEGER NOT NULL, -- rows of table_name\n"
    "  cascaded_rows INTEGER NOT NULL, -- rows of its cascade children\n"
    "  batches INTEGER NOT NULL,\n"
    "  duration_ms INTEGER NOT NULL,\n"
    "  status TEXT NOT NULL          -- ok, or the plan status that skipped it\n"
    ")";

/* How batches are wrapped. */
typedef struct Applier {
  sqlite3 *db;
  int own_txn;          /* 1: BEGIN IMMEDIATE/COMMIT per batch; 0: SAVEPOINT */
  int in_batch;
  sqlite3_int64 dv;     /* last PRAGMA data_version */
  double contended_until; /* ms clock: pause after every batch until then */
  double work_ms;       /* lock time since the last pause */
  int db_fd;            /* a descriptor of main's file (SQLite's own), or -1 */
  int alone_always;     /* 1: in-memory or temporary database */
  int ckpt_saved;       /* wal_autocheckpoint to restore, or -1 when untouched */
  char *err;            /* first error; owned */
} Applier;

static int apply_exec(Applier *a, const char *sql) {
  int rc = sqlite3_exec(a->db, sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK && !a->err) telem_set_err(&a->err, "%s", sqlite3_errmsg(a->db));
  return rc;
}

static sqlite3_int64 apply_data_version(sqlite3 *db) {
  sqlite3_stmt *st = NULL;
  sqlite3_int64 v = -1;
  if (sqlite3_prepare_v2(db, "PRAGMA main.data_version", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* Starts a batch.  BEGIN IMMEDIATE is retried on SQLITE_BUSY (beyond any
 * busy_timeout of the connection) for up to PRUNE_BEGIN_RETRY_MS. */
static int apply_begin(Applier *a) {
  if (!a->own_txn) {
    int rc = apply_exec(a, "SAVEPOINT telem_prune_batch");
    a->in_batch = (rc == SQLITE_OK);
    return rc;
  }
  double t0 = prune_ms_now();
  for (;;) {
    int rc = sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
      a->in_batch = 1;
      return rc;
    }
    if ((rc & 0xff) != SQLITE_BUSY || prune_ms_now() - t0 > PRUNE_BEGIN_RETRY_MS) {
      if (!a->err) telem_set_err(&a->err, "%s", sqlite3_errmsg(a->db));
      return rc;
    }
    prune_sleep_ms(2);
  }
}

static int apply_commit(Applier *a) {
  int rc = apply_exec(a, a->own_txn ? "COMMIT" : "RELEASE telem_prune_batch");
  if (rc == SQLITE_OK) a->in_batch = 0;
  return rc;
}

static void apply_rollback(Applier *a) {
  if (!a->in_batch) return;
  if (a->own_txn) {
    if (!sqlite3_get_autocommit(a->db)) sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
  } else {
    sqlite3_exec(a->db, "ROLLBACK TO telem_prune_batch", NULL, NULL, NULL);
    sqlite3_exec(a->db, "RELEASE telem_prune_batch", NULL, NULL, NULL);
  }
  a->in_batch = 0;
}

/* 1 when another process may have the database open.
 *
 * A connection in WAL mode holds a POSIX read lock on the SHARED range of
 * the database file for as long as it is open (in rollback mode: while it
 * reads, or waits to write).  F_GETLK asks whether a write lock on that
 * range would conflict, and it ignores this process's own locks -- so it
 * answers "is another process connected?".  It needs a descriptor of the
 * file: we borrow SQLite's own (found by inode under /proc/self/fd) and
 * never open or close one (closing any descriptor of a file drops every
 * POSIX lock this process holds on it).  Anything unknown counts as
 * "maybe", which selects the polite schedule.  Connections in this same
 * process are not visible this way; see the docs. */
static int apply_others_present(Applier *a) {
  if (a->alone_always) return 0;
  if (a->db_fd < 0) return 1;
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0x40000000 + 2; /* SQLite's SHARED_FIRST: PENDING_BYTE + 2 */
  fl.l_len = 510;              /* SHARED_SIZE */
  if (fcntl(a->db_fd, F_GETLK, &fl) != 0) return 1;
  return fl.l_type != F_UNLCK;
}

/* Finds a descriptor this process already has open on main's file. */
static void apply_presence_init(Applier *a) {
  a->db_fd = -1;
  a->alone_always = 0;
  const char *fn = sqlite3_db_filename(a->db, "main");
  if (!fn || !*fn) { /* :memory: or a temporary database: nobody else */
    a->alone_always = 1;
    return;
  }
  struct stat want;
  if (stat(fn, &want) != 0) return;
  DIR *d = opendir("/proc/self/fd");
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    int fd = atoi(e->d_name);
    struct stat sb;
    if (fd == dirfd(d) || fstat(fd, &sb) != 0) continue;
    if (sb.st_dev == want.st_dev && sb.st_ino == want.st_ino && S_ISREG(sb.st_mode)) {
      a->db_fd = fd;
      break;
    }
  }
  closedir(d);
}

/* Alone (and in WAL mode), checkpoints are deferred to the end of the run:
 * one checkpoint of the whole WAL, as a single DELETE would have, instead
 * of an fsync-heavy checkpoint every wal_autocheckpoint pages (1000).  The
 * connection's setting is restored as soon as someone else shows up, and
 * at the end.  A connection with automatic checkpoints off, or with its own
 * sqlite3_wal_hook (PRAGMA wal_autocheckpoint then reads 0), is left alone. */
static void apply_ckpt_defer(Applier *a) {
  if (!a->own_txn || a->ckpt_saved >= 0 || a->alone_always) return;
  sqlite3_stmt *st = NULL;
  int wal = 0, ac = -1;
  if (sqlite3_prepare_v2(a->db, "PRAGMA main.journal_mode", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    const char *m = (const char *)sqlite3_column_text(st, 0);
    wal = m && sqlite3_stricmp(m, "wal") == 0;
  }
  sqlite3_finalize(st);
  st = NULL;
  if (!wal) return;
  if (sqlite3_prepare_v2(a->db, "PRAGMA wal_autocheckpoint", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    ac = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  if (ac <= 0 || ac >= PRUNE_WAL_PAGES) return;
  a->ckpt_saved = ac;
  sqlite3_wal_autocheckpoint(a->db, PRUNE_WAL_PAGES);
}

static void apply_ckpt_restore(Applier *a, int checkpoint_now) {
  if (a->ckpt_saved < 0) return;
  sqlite3_wal_autocheckpoint(a->db, a->ckpt_saved);
  a->ckpt_saved = -1;
  if (checkpoint_now) sqlite3_wal_checkpoint_v2(a->db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

/* After a committed batch that held the lock for `ms`: pauses so that
 * writers waiting in their busy handler get the lock (see the file
 * comment).  Only in own-transaction mode. */
static void apply_yield(Applier *a, double ms) {
  if (!a->own_txn) return;
  double now = prune_ms_now();
  sqlite3_int64 dv = apply_data_version(a->db);
  if (dv != a->dv) { /* someone else committed since the last look */
    a->dv = dv;
    a->contended_until = now + PRUNE_CONTENDED_HOLD_MS;
  }
  a->work_ms += ms;
  /* Someone showed up: checkpoint the deferred WAL now, so that their first
   * commit does not (a passive checkpoint already running makes theirs a
   * no-op). */
  if (now < a->contended_until || apply_others_present(a)) apply_ckpt_restore(a, 1);
  if (now < a->contended_until) {
    prune_sleep_ms(PRUNE_CONTENDED_PAUSE_MS);
    a->work_ms = 0;
  } else if (!apply_others_present(a)) {
    a->work_ms = 0; /* alone: nobody to make room for */
    apply_ckpt_defer(a);
  } else if (a->work_ms >= PRUNE_WORK_MS) {
    prune_sleep_ms(PRUNE_PAUSE_MS);
    a->work_ms = 0;
  }
  sqlite3_int64 dv2 = apply_data_version(a->db);
  if (dv2 != a->dv) {
    a->dv = dv2;
    a->contended_until = prune_ms_now() + PRUNE_CONTENDED_HOLD_MS;
  }
}

/* Runs `sql` (bound ?1 = ids when ids != NULL) and returns the changes, or
 * -1 with a->err. */
static sqlite3_int64 apply_run(Applier *a, const char *sql, const char *ids) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(a->db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK) {
    if (ids) sqlite3_bind_text(st, 1, ids, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
  }
  sqlite3_int64 n = -1;
  if (rc == SQLITE_DONE)
    n = sqlite3_changes64(a->db);
  else if (!a->err)
    telem_set_err(&a->err, "%s", sqlite3_errmsg(a->db));
  sqlite3_finalize(st);
  return n;
}

/* Collects up to `limit` rowids of rows matching pred as a JSON array in
 * *pIds (sqlite3 memory); returns how many, or -1 with a->err. */
static int apply_collect(Applier *a, const PlanRow *r, int limit, char **pIds) {
  char *sql = sqlite3_mprintf("SELECT %s FROM main.\"%w\" WHERE %s LIMIT %d", r->rowid_name,
                              r->rule->table_name, r->pred, limit);
  sqlite3_stmt *st = NULL;
  TelemBuf b;
  telem_buf_init(&b);
  int n = 0, rc = sql ? sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) : SQLITE_NOMEM;
  sqlite3_free(sql);
  telem_buf_putc(&b, '[');
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    telem_buf_printf(&b, "%s%lld", n ? "," : "", (long long)sqlite3_column_int64(st, 0));
    n++;
    rc = SQLITE_OK;
  }
  telem_buf_putc(&b, ']');
  if (rc == SQLITE_DONE) rc = SQLITE_OK;
  if (rc != SQLITE_OK && !a->err)
    telem_set_err(&a->err, "%s", rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(a->db));
  sqlite3_finalize(st);
  *pIds = telem_buf_take(&b);
  if (rc == SQLITE_OK && !*pIds) {
    if (!a->err) telem_set_err(&a->err, "out of memory");
    return -1;
  }
  return rc == SQLITE_OK ? n : -1;
}

/* Appends one telem_prune_log row (its own transaction in own_txn mode). */
static int apply_log(Applier *a, sqlite3_int64 run_id, const PlanRow *r, sqlite3_int64 rows,
                     sqlite3_int64 cascaded, int batches, double ms, const char *status) {
  if (apply_begin(a) != SQLITE_OK) return SQLITE_ERROR;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(a->db,
                              "INSERT INTO main.telem_prune_log(run_id, logged_at, table_name, "
                              "kind, cutoff, rows_deleted, cascaded_rows, batches, duration_ms, "
                              "status) VALUES(?1, strftime('%Y-%m-%dT%H:%M:%fZ','now'), ?2, ?3, "
                              "?4, ?5, ?6, ?7, ?8, ?9)",
                              -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, r->rule->table_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, telem_policy_kind_name(r->rule->kind), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->cutoff, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, rows);
    sqlite3_bind_int64(st, 6, cascaded);
    sqlite3_bind_int(st, 7, batches);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)(ms + 0.5));
    sqlite3_bind_text(st, 9, status, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_OK) {
    if (!a->err) telem_set_err(&a->err, "cannot write telem_prune_log: %s", sqlite3_errmsg(a->db));
    apply_rollback(a);
    return rc;
  }
  return apply_commit(a);
}

/* Prunes parent row pi of the plan (and its cascade children) in batches.
 * Adds to *pRows / *pCascaded.  Returns SQLITE_OK or an error (a->err).
 *
 * Without children and with an index on the time column, a batch is the
 * slice (last key, k] of the index range, k being the n-th key after the
 * last one: a walk over n index entries (no function calls) finds k, then
 * one ranged DELETE with the exact filter removes the eligible rows of the
 * slice -- per row about what a hand-written DELETE costs.  Rows sharing
 * key k all go in the same batch; rows of the band that stay (not old
 * enough) are passed over, never scanned twice.  Otherwise the batch's
 * rowids are collected first (as JSON for json_each) so that children and
 * parent see exactly the same rows. */
static int apply_table(Applier *a, Plan *p, int pi, int fixed_batch, int *pBatches,
                       sqlite3_int64 *pRows, sqlite3_int64 *pCascaded) {
  const PlanRow *r = &p->rows[pi];
  const char *t = r->rule->table_name, *col = r->rule->time_column;
  int nchild = 0;
  for (int j = 0; j < p->n; j++)
    if (p->rows[j].rule->kind == TELEM_RK_CASCADE && p->rows[j].parent == pi &&
        p->rows[j].status == PS_OK)
      nchild++;
  int keyed = (nchild == 0 && r->indexed > 0);
  int batch = fixed_batch > 0 ? fixed_batch : PRUNE_DEFAULT_BATCH;
  char *sql[6] = {NULL, NULL, NULL, NULL, NULL, NULL}; /* key/upto/rest x first/next */
  sqlite3_stmt *st[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
  char *sql_ids = NULL;
  char **child_sql = NULL;
  int *child_row = NULL; /* plan row of each child statement */
  sqlite3_int64 *child_got = NULL; /* this batch's rows per child statement */
  sqlite3_value *lastk = NULL; /* upper key of the previous batch; owned */
  int rc = SQLITE_OK;
  if (keyed) {
    for (int f = 0; f < 2; f++) {
      /* f == 0: the first batch starts at the range's own lower bound. */
      char *lower = f ? sqlite3_mprintf("\"%w\" > ?2 AND ", col)
                  : r->lo_lit ? sqlite3_mprintf("\"%w\" >= %s AND ", col, r->lo_lit)
                              : sqlite3_mprintf("%s", "");
      char *filt = r->filter ? sqlite3_mprintf(" AND %s", r->filter) : sqlite3_mprintf("%s", "");
      if (lower && filt) {
        sql[f * 3 + 0] = sqlite3_mprintf("SELECT \"%w\" FROM main.\"%w\" WHERE %s\"%w\" < %s "
                                         "ORDER BY \"%w\" LIMIT 1 OFFSET ?1",
                                         col, t, lower, col, r->hi_lit, col);
        /* "<= ?1" is the only upper bound, so the index range ends at k. */
        sql[f * 3 + 1] = sqlite3_mprintf("DELETE FROM main.\"%w\" WHERE %s\"%w\" <= ?1%s", t, lower,
                                         col, filt);
        sql[f * 3 + 2] = sqlite3_mprintf("DELETE FROM main.\"%w\" WHERE %s\"%w\" < %s%s", t, lower,
                                         col, r->hi_lit, filt);
      }
      sqlite3_free(lower);
      sqlite3_free(filt);
    }
    for (int i = 0; i < 6; i++) {
      if (!sql[i]) goto oom;
      if ((rc = sqlite3_prepare_v2(a->db, sql[i], -1, &st[i], NULL)) != SQLITE_OK) {
        telem_set_err(&a->err, "%s", sqlite3_errmsg(a->db));
        goto out;
      }
    }
  } else {
    if (nchild) {
      child_sql = sqlite3_malloc64(sizeof(char *) * (size_t)nchild);
      child_row = sqlite3_malloc64(sizeof(int) * (size_t)nchild);
      child_got = sqlite3_malloc64(sizeof(sqlite3_int64) * (size_t)nchild);
      if (!child_sql || !child_row || !child_got) goto oom;
      memset(child_sql, 0, sizeof(char *) * (size_t)nchild);
    }
    int k = 0;
    for (int j = 0; j < p->n && nchild; j++) {
      const PlanRow *c = &p->rows[j];
      if (c->rule->kind != TELEM_RK_CASCADE || c->parent != pi || c->status != PS_OK) continue;
      child_row[k] = j;
      char *cond = sqlite3_mprintf("%s IN (SELECT value FROM json_each(?1))", r->rowid_name);
      char *m = cond ? prune_child_match(c, t, cond) : NULL;
      child_sql[k] = m ? sqlite3_mprintf("DELETE FROM main.\"%w\" WHERE %s", c->rule->table_name, m)
                       : NULL;
      sqlite3_free(cond);
      sqlite3_free(m);
      if (!child_sql[k++]) goto oom;
    }
    sql_ids = sqlite3_mprintf("DELETE FROM main.\"%w\" WHERE %s IN (SELECT value FROM "
                              "json_each(?1))",
                              t, r->rowid_name);
    if (!sql_ids) goto oom;
  }
  for (;;) {
    double t0 = prune_ms_now();
    if ((rc = apply_begin(a)) != SQLITE_OK) break;
    sqlite3_int64 got = 0, cas = 0;
    int last = 0;
    if (keyed) {
      sqlite3_stmt **S = &st[lastk ? 3 : 0];
      if (lastk) {
        for (int i = 0; i < 3; i++) sqlite3_bind_value(S[i], 2, lastk);
      }
      sqlite3_bind_int(S[0], 1, batch - 1);
      rc = sqlite3_step(S[0]);
      sqlite3_stmt *del;
      if (rc == SQLITE_ROW) {
        sqlite3_value *k = sqlite3_value_dup(sqlite3_column_value(S[0], 0));
        if (!k) {
          sqlite3_reset(S[0]);
          apply_rollback(a);
          goto oom;
        }
        sqlite3_value_free(lastk);
        lastk = k;
        sqlite3_bind_value(S[1], 1, k);
        del = S[1];
      } else {
        del = S[2]; /* fewer than `batch` keys left: the rest */
        last = 1;
      }
      if (rc == SQLITE_ROW || rc == SQLITE_DONE) rc = sqlite3_step(del);
      sqlite3_reset(S[0]);
      sqlite3_reset(del);
      if (rc != SQLITE_DONE) {
        telem_set_err(&a->err, "%s", sqlite3_errmsg(a->db));
        apply_rollback(a);
        break;
      }
      got = sqlite3_changes64(a->db);
    } else {
      char *ids = NULL;
      int n = apply_collect(a, r, batch, &ids);
      if (n >= 0 && n < batch) last = 1;
      for (int k = 0; k < nchild && n > 0; k++) {
        sqlite3_int64 m = apply_run(a, child_sql[k], ids);
        if (m < 0) {
          n = -1;
          break;
        }
        child_got[k] = m;
        cas += m;
      }
      if (n > 0) {
        got = apply_run(a, sql_ids, ids);
        if (got < 0) n = -1;
      }
      sqlite3_free(ids);
      if (n < 0) {
        rc = SQLITE_ERROR;
        apply_rollback(a);
        break;
      }
      if (n == 0)
        for (int k = 0; k < nchild; k++) child_got[k] = 0;
      /* Not one collected row went (a BEFORE DELETE trigger kept them all):
       * the next batch would collect the same rows forever. */
      if (n > 0 && got == 0) last = 1;
    }
    if ((rc = apply_commit(a)) != SQLITE_OK) {
      apply_rollback(a);
      break;
    }
    /* Counted once committed (inside the caller's transaction: once released). */
    *pRows += got;
    *pCascaded += cas;
    for (int k = 0; k < nchild && !keyed; k++) p->rows[child_row[k]].deleted += child_got[k];
    (*pBatches)++;
    double ms = prune_ms_now() - t0;
    if (last) break;
    if (fixed_batch <= 0) {
      /* Aim for PRUNE_TARGET_MS of lock time per batch, growing at most 2x. */
      double want = ms > 0.01 ? batch * PRUNE_TARGET_MS / ms : batch * 2.0;
      if (want > batch * 2.0) want = batch * 2.0;
      if (want < PRUNE_MIN_BATCH) want = PRUNE_MIN_BATCH;
      if (want > PRUNE_ADAPT_MAX) want = PRUNE_ADAPT_MAX;
      batch = (int)want;
    }
    apply_yield(a, ms);
  }
out:
  for (int i = 0; i < 6; i++) {
    sqlite3_finalize(st[i]);
    sqlite3_free(sql[i]);
  }
  sqlite3_value_free(lastk);
  sqlite3_free(sql_ids);
  for (int k = 0; child_sql && k < nchild; k++) sqlite3_free(child_sql[k]);
  sqlite3_free(child_sql);
  sqlite3_free(child_row);
  sqlite3_free(child_got);
  return rc;
oom:
  if (!a->err) telem_set_err(&a->err, "out of memory");
  rc = SQLITE_NOMEM;
  goto out;
}

/* telem_prune_apply([table [, batch_rows [, now]]]) -> rows deleted. */
static void apply_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  TelemConn *c = sqlite3_user_data(ctx);
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  const char *table = NULL, *now = NULL;
  int fixed_batch = 0;
  char *err = NULL;
  Plan *p = NULL;
  Applier a;
  if (!telem_check_argc(ctx, "telem_prune_apply", argc, 0, 3)) return;
  memset(&a, 0, sizeof a);
  a.db = db;
  if (argc > 0 && sqlite3_value_type(argv[0]) != SQLITE_NULL)
    table = (const char *)sqlite3_value_text(argv[0]);
  if (argc > 1 && sqlite3_value_type(argv[1]) != SQLITE_NULL) {
    sqlite3_int64 b = sqlite3_value_int64(argv[1]);
    if (sqlite3_value_numeric_type(argv[1]) != SQLITE_INTEGER || b < 1 || b > PRUNE_MAX_BATCH) {
      telem_result_errorf(ctx, "telem_prune_apply",
                          "argument 2: batch_rows must be an integer from 1 to %d",
                          PRUNE_MAX_BATCH);
      return;
    }
    fixed_batch = (int)b;
  }
  if (argc > 2 && sqlite3_value_type(argv[2]) != SQLITE_NULL) {
    if (sqlite3_value_type(argv[2]) != SQLITE_TEXT) {
      telem_result_errorf(ctx, "telem_prune_apply", "argument 3: now must be ISO-8601 text");
      return;
    }
    now = (const char *)sqlite3_value_text(argv[2]);
  }
  a.own_txn = sqlite3_get_autocommit(db);
  /* From a writing statement neither COMMIT nor SAVEPOINT is allowed. */
  if (telem_db_writer_busy(db)) {
    telem_result_errorf(ctx, "telem_prune_apply",
                        "cannot run inside a writing statement; call it from a plain SELECT");
    return;
  }
  p = plan_build(db, c, now, 0, &err);
  if (!p) {
    telem_result_errorf(ctx, "telem_prune_apply", "%s%s",
                        err && strncmp(err, "now ", 4) == 0 ? "argument 3: " : "",
                        err ? err : "out of memory");
    sqlite3_free(err);
    return;
  }
  int only = -1;
  if (table) {
    only = telem_policy_find(p->policy, table);
    if (only < 0) {
      telem_result_errorf(ctx, "telem_prune_apply",
                          "argument 1: table \"%s\" is not in the retention policy",
                          telem_policy_ident_ok(table) ? table : "(invalid name)");
      plan_free(p);
      return;
    }
    if (p->rows[only].rule->kind == TELEM_RK_CASCADE) {
      telem_result_errorf(ctx, "telem_prune_apply",
                          "argument 1: table \"%s\" is a cascade of %s; prune the parent",
                          p->rows[only].rule->table_name, p->rows[only].rule->cascade_from);
      plan_free(p);
      return;
    }
  }
  sqlite3_int64 total = 0;
  int rc = apply_exec(&a, prune_log_ddl);
  sqlite3_int64 run_id = 1;
  if (rc == SQLITE_OK) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT coalesce(max(run_id), 0) + 1 FROM main.telem_prune_log",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      run_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  a.dv = apply_data_version(db);
  a.ckpt_saved = -1;
  apply_presence_init(&a);
  if (a.own_txn && !apply_others_present(&a)) apply_ckpt_defer(&a);
  for (int i = 0; rc == SQLITE_OK && i < p->n; i++) {
    PlanRow *r = &p->rows[i];
    if (r->rule->kind == TELEM_RK_CASCADE) continue;
    if (only >= 0 && i != only) continue;
    sqlite3_int64 rows = 0, cascaded = 0;
    int batches = 0;
    double t0 = prune_ms_now();
    if (r->status == PS_OK) rc = apply_table(&a, p, i, fixed_batch, &batches, &rows, &cascaded);
    total += rows + cascaded;
    const char *status = rc != SQLITE_OK ? "error" : prune_status_names[r->status];
    char *keep_err = a.err; /* the log write must not hide the first error */
    a.err = NULL;
    double ms = prune_ms_now() - t0;
    int lrc = apply_log(&a, run_id, r, rows, cascaded, batches, ms, status);
    /* One row per cascade child too: its own rows (sum rows_deleted over a
     * run for the total; cascaded_rows on the parent repeats the children's). */
    for (int j = 0; lrc == SQLITE_OK && j < p->n; j++) {
      PlanRow *cr = &p->rows[j];
      if (cr->rule->kind != TELEM_RK_CASCADE || cr->parent != i) continue;
      const char *cs = rc != SQLITE_OK ? "error" : prune_status_names[cr->status];
      lrc = apply_log(&a, run_id, cr, cr->deleted, 0, batches, ms, cs);
    }
    if (keep_err) {
      sqlite3_free(a.err);
      a.err = keep_err;
    }
    if (rc == SQLITE_OK) rc = lrc;
    if (rc != SQLITE_OK && !a.err) telem_set_err(&a.err, "%s", sqlite3_errmsg(db));
    if (rc != SQLITE_OK) {
      char *m = sqlite3_mprintf("table %s: %s (%lld rows deleted before the error)",
                                r->rule->table_name, a.err ? a.err : "error",
                                (long long)total);
      sqlite3_free(a.err);
      a.err = m;
    }
  }
  apply_rollback(&a);
  apply_ckpt_restore(&a, 1);
  if (rc != SQLITE_OK)
    telem_result_errorf(ctx, "telem_prune_apply", "%s", a.err ? a.err : "error");
  else
    sqlite3_result_int64(ctx, total);
  sqlite3_free(a.err);
  plan_free(p);
}

static const TelemSqlFunc prune_funcs[] = {
    /* DIRECTONLY: apply deletes rows and commits transactions; it must never
     * run from a trigger or view an untrusted database could carry. */
    {"telem_prune_apply", 0, 3, SQLITE_DIRECTONLY, apply_func},
    {NULL},
};

static const TelemSqlModule prune_modules[] = {
    {"telem_prune_plan", &plan_module},
    {NULL},
};

const TelemFeature telem_feature_prune = {"prune", prune_funcs, prune_modules};
