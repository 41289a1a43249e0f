/*
 * prune_plan.c -- what the retention policy would delete.
 *
 *   telem_prune_plan([now])       eponymous table-valued function: one row
 *                                 per policy table with table_name, kind,
 *                                 time_column, days, cutoff, eligible_rows,
 *                                 cascade_rows, status, delete_sql
 *
 *     SELECT table_name, status, eligible_rows FROM telem_prune_plan();
 *     SELECT * FROM telem_prune_plan('2026-01-01T00:00:00Z');
 *
 * The plan is also what telem_prune_apply (prune_apply.c) runs: only tables
 * the active policy names (ext/retention.c) are ever touched, and only when
 * their plan status is `ok`.  A parent table is only `ok` when every table
 * whose foreign key references it is a cascade rule of that parent in the
 * policy with status `ok` (so ON DELETE CASCADE can never reach a table the
 * policy does not name).
 *
 * Foreign keys: every foreign key of main is read once per plan, in one
 * pass, into a list sorted by child and by parent (plan_fks_load); the
 * checks of each rule then look keys up in that list instead of querying
 * the schema again for every rule.
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
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "sql/prune.h"
#include "voxtelem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const telem_prune_status_names[] = {
    "ok",           "keep_forever",   "manual",          "missing_table", "not_a_table",
    "without_rowid", "missing_column", "type_mismatch",  "bad_cutoff",    "missing_foreign_key",
    "not_cascade",  "unlisted_child", "child_not_ok",    "parent_not_ok",
};

void telem_prune_plan_free(TelemPrunePlan *p) {
  if (!p || --p->refs > 0) return;
  for (int i = 0; i < p->n; i++) {
    sqlite3_free(p->rows[i].cutoff);
    sqlite3_free(p->rows[i].pred);
    sqlite3_free(p->rows[i].lo_lit);
    sqlite3_free(p->rows[i].hi_lit);
    sqlite3_free(p->rows[i].filter);
    for (int k = 0; k < p->rows[i].nfk; k++) {
      sqlite3_free(p->rows[i].fk_cols[k]);
      sqlite3_free(p->rows[i].pk_cols[k]);
      if (p->rows[i].fk_x) sqlite3_free(p->rows[i].fk_x[k]);
    }
    sqlite3_free(p->rows[i].fk_cols);
    sqlite3_free(p->rows[i].pk_cols);
    sqlite3_free(p->rows[i].fk_x);
    sqlite3_free(p->rows[i].delete_sql);
    sqlite3_free(p->rows[i].note);
    sqlite3_free(p->rows[i].rows_sql);
    sqlite3_free(p->rows[i].parent_cond);
  }
  sqlite3_free(p->rows);
  sqlite3_free(p->params);
  telem_policy_free(p->policy);
  sqlite3_free(p->now);
  sqlite3_free(p);
}

void telem_prune_sqlf(TelemBuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *z = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  if (!z) {
    b->oom = 1;
    return;
  }
  telem_buf_puts(b, z);
  sqlite3_free(z);
}

double telem_prune_ms_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ---- per-type rules: which rows a rule governs ------------------------------ */

int telem_prune_bind(const TelemPrunePlan *p, sqlite3_stmt *st) {
  int n = sqlite3_bind_parameter_count(st);
  for (int i = 1; i <= n; i++) {
    const char *name = sqlite3_bind_parameter_name(st, i);
    if (!name || strncmp(name, ":tf", 3) != 0) continue;
    int k = atoi(name + 3);
    if (k < 1 || k > p->nparams) return SQLITE_ERROR;
    int rc = sqlite3_bind_text(st, i, p->params[k - 1], -1, SQLITE_STATIC);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

int telem_prune_is_child(const TelemPrunePlan *p, int ci, int pi) {
  const TelemPolicyRule *c = p->rows[ci].rule, *r = p->rows[pi].rule;
  return c->kind == TELEM_RK_CASCADE && r->kind != TELEM_RK_CASCADE &&
         sqlite3_stricmp(c->cascade_from, r->table_name) == 0;
}

/* Adds value z to the plan's parameters; its number, or 0 on OOM. */
static int plan_param(TelemPrunePlan *p, const char *z) {
  if (p->nparams == p->capparams) {
    int cap = p->capparams ? p->capparams * 2 : 16;
    const char **np = sqlite3_realloc64(p->params, sizeof(char *) * (size_t)cap);
    if (!np) return 0;
    p->params = np;
    p->capparams = cap;
  }
  p->params[p->nparams++] = z;
  return p->nparams;
}

/* The SQL of rule ru's filter, true for the rows it names:
 *   ("metric_type" GLOB :tf1 OR ...) AND "col" = :tf2 AND ...
 * Column names were validated by the policy (and are quoted); every glob
 * and value is a bound parameter (:tfN, telem_prune_bind), never spliced.
 * A glob's characters are Vox's metric_type characters and '*', the only
 * one GLOB treats specially, so the glob is the GLOB pattern.  NULL on OOM
 * (sqlite3 memory). */
static char *prune_filter_sql(TelemPrunePlan *p, const TelemPolicyRule *ru) {
  TelemBuf b;
  telem_buf_init(&b);
  telem_buf_putc(&b, '(');
  if (ru->nglob) {
    telem_buf_putc(&b, '(');
    for (int i = 0; i < ru->nglob; i++) {
      int k = plan_param(p, ru->globs[i]);
      if (!k) b.oom = 1;
      telem_prune_sqlf(&b, "%s\"metric_type\" GLOB :tf%d", i ? " OR " : "", k);
    }
    telem_buf_putc(&b, ')');
  }
  for (int i = 0; i < ru->nwhere; i++) {
    int k = plan_param(p, ru->wval[i]);
    if (!k) b.oom = 1;
    telem_prune_sqlf(&b, "%s\"%w\" = :tf%d", (i || ru->nglob) ? " AND " : "", ru->wcol[i], k);
  }
  telem_buf_putc(&b, ')');
  if (b.oom) {
    telem_buf_free(&b);
    return NULL;
  }
  return telem_buf_take(&b);
}

/* 1 when table t has a column named col, 0 when not, -1 on error. */
static int plan_column_exists(sqlite3 *db, const char *t, const char *col) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db,
                         "SELECT 1 FROM pragma_table_xinfo(?1, 'main') WHERE name=?2 COLLATE NOCASE",
                         -1, &st, NULL) != SQLITE_OK)
    return -1;
  sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, col, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* The first column a filter of the rules [lo, hi) of one table names that
 * the table lacks (static or owned by the policy), or NULL.  *prc gets an
 * SQLite code. */
static const char *plan_filter_missing(sqlite3 *db, const TelemPrunePlan *p, int lo, int hi,
                                       int *prc) {
  *prc = SQLITE_OK;
  const char *t = p->rows[lo].rule->table_name;
  for (int i = lo; i < hi; i++) {
    const TelemPolicyRule *ru = p->rows[i].rule;
    for (int k = -1; k < ru->nwhere; k++) {
      const char *col = k < 0 ? (ru->nglob ? "metric_type" : NULL) : ru->wcol[k];
      if (!col) continue;
      int ex = plan_column_exists(db, t, col);
      if (ex < 0) {
        *prc = SQLITE_ERROR;
        return NULL;
      }
      if (!ex) return col;
    }
  }
  return NULL;
}

/* Composes the rules of one table, rows [lo, hi) of the plan, when any has
 * a filter.  How rules overlap:
 *   - the default rule (no filter) governs only the rows no filter of the
 *     table matches: AND NOT coalesce(<filter>, 0) for each;
 *   - a filtered rule governs the rows its filter matches, and a row that
 *     several filters match goes only when every one of them lets it go
 *     (the longest retention wins; a keep_forever, manual or not-ok rule
 *     keeps the rows it matches): AND (NOT coalesce(<other>, 0) OR
 *     <other's own time predicate>) for each other filtered rule.
 * So no rule ever deletes a row another rule of the table keeps.  Fills
 * rows_sql and ANDs it into pred and filter.  Returns an SQLite code. */
static int plan_compose(TelemPrunePlan *p, int lo, int hi) {
  int any = 0;
  for (int i = lo; i < hi; i++) any |= p->rows[i].rule->filter != NULL;
  if (!any) return SQLITE_OK;
  char **f = sqlite3_malloc64(sizeof(char *) * (size_t)(hi - lo));
  if (!f) return SQLITE_NOMEM;
  memset(f, 0, sizeof(char *) * (size_t)(hi - lo));
  int rc = SQLITE_OK;
  for (int i = lo; i < hi && rc == SQLITE_OK; i++)
    if (p->rows[i].rule->filter && !(f[i - lo] = prune_filter_sql(p, p->rows[i].rule)))
      rc = SQLITE_NOMEM;
  for (int i = lo; i < hi && rc == SQLITE_OK; i++) {
    TelemPruneRow *r = &p->rows[i];
    if (r->status != PS_OK) continue;
    TelemBuf b;
    telem_buf_init(&b);
    if (f[i - lo]) telem_buf_puts(&b, f[i - lo]);
    for (int j = lo; j < hi; j++) {
      if (j == i || !f[j - lo]) continue;
      const TelemPruneRow *s = &p->rows[j];
      const char *and = b.len ? " AND " : "";
      if (!r->rule->filter || s->status != PS_OK || !s->pred)
        telem_prune_sqlf(&b, "%sNOT coalesce(%s, 0)", and, f[j - lo]);
      else
        telem_prune_sqlf(&b, "%s(NOT coalesce(%s, 0) OR (%s))", and, f[j - lo], s->pred);
    }
    if (b.oom) {
      telem_buf_free(&b);
      rc = SQLITE_NOMEM;
      break;
    }
    r->rows_sql = telem_buf_take(&b);
  }
  /* Only now: the loop above reads the other rules' own predicates. */
  for (int i = lo; i < hi && rc == SQLITE_OK; i++) {
    TelemPruneRow *r = &p->rows[i];
    if (!r->rows_sql || !r->pred) continue;
    char *np = sqlite3_mprintf("%s AND %s", r->pred, r->rows_sql);
    char *nf = r->filter ? sqlite3_mprintf("%s AND %s", r->filter, r->rows_sql)
                         : sqlite3_mprintf("%s", r->rows_sql);
    if (!np || !nf) {
      sqlite3_free(np);
      sqlite3_free(nf);
      rc = SQLITE_NOMEM;
      break;
    }
    sqlite3_free(r->pred);
    sqlite3_free(r->filter);
    r->pred = np;
    r->filter = nf;
  }
  for (int i = 0; i < hi - lo; i++) sqlite3_free(f[i]);
  sqlite3_free(f);
  return rc;
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
static sqlite3_int64 prune_count(sqlite3 *db, const TelemPrunePlan *p, const char *sql,
                                 char **pzErr) {
  sqlite3_stmt *st = NULL;
  sqlite3_int64 n = -1;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK) rc = telem_prune_bind(p, st);
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
  if (n < 0) telem_set_err(pzErr, "cannot count rows: %s", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return n;
}

/* The tables of main with their plan status (PS_OK, PS_NOT_A_TABLE or
 * PS_WITHOUT_ROWID), read once per plan and sorted by name, so that
 * looking up T rules costs O(T log T) rather than one pragma_table_list
 * (which lists every table) per rule. */
typedef struct PlanTable {
  char *name; /* owned */
  int status;
} PlanTable;
typedef struct PlanTables {
  PlanTable *t; /* owned */
  int n;
} PlanTables;

static void plan_tables_free(PlanTables *ts) {
  for (int i = 0; i < ts->n; i++) sqlite3_free(ts->t[i].name);
  sqlite3_free(ts->t);
  memset(ts, 0, sizeof *ts);
}

static int plan_table_cmp(const void *a, const void *b) {
  return sqlite3_stricmp(((const PlanTable *)a)->name, ((const PlanTable *)b)->name);
}

static int plan_tables_load(sqlite3 *db, PlanTables *ts) {
  sqlite3_stmt *st = NULL;
  int cap = 0;
  memset(ts, 0, sizeof *ts);
  int rc = sqlite3_prepare_v2(db, "SELECT name, type, wr FROM pragma_table_list WHERE schema='main'",
                              -1, &st, NULL);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (ts->n == cap) {
      int nc = cap ? cap * 2 : 32;
      PlanTable *nt = sqlite3_realloc64(ts->t, (sqlite3_uint64)nc * sizeof *nt);
      if (!nt) {
        rc = SQLITE_NOMEM;
        break;
      }
      ts->t = nt;
      cap = nc;
    }
    const char *type = (const char *)sqlite3_column_text(st, 1);
    PlanTable *t = &ts->t[ts->n];
    t->name = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(st, 0));
    if (!t->name) {
      rc = SQLITE_NOMEM;
      break;
    }
    t->status = (!type || strcmp(type, "table") != 0) ? PS_NOT_A_TABLE
                : sqlite3_column_int(st, 2)          ? PS_WITHOUT_ROWID
                                                     : PS_OK;
    ts->n++;
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE) rc = SQLITE_OK;
  if (rc == SQLITE_OK && ts->n) qsort(ts->t, (size_t)ts->n, sizeof *ts->t, plan_table_cmp);
  if (rc != SQLITE_OK) plan_tables_free(ts);
  return rc;
}

/* Status of table t: PS_MISSING_TABLE, PS_NOT_A_TABLE, PS_WITHOUT_ROWID or PS_OK. */
static int plan_table_status(const PlanTables *ts, const char *t) {
  int lo = 0, hi = ts->n;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    int c = sqlite3_stricmp(ts->t[mid].name, t);
    if (c == 0) return ts->t[mid].status;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return PS_MISSING_TABLE;
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
static int prune_time_pred(sqlite3 *db, const char *now, TelemPruneRow *r) {
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

/* ---- foreign keys, read once per plan -------------------------------------- */


static void plan_fks_free(TelemPruneFks *f) {
  for (int i = 0; i < f->n; i++) {
    sqlite3_free(f->fk[i].child);
    sqlite3_free(f->fk[i].parent);
    sqlite3_free(f->fk[i].from_sql);
    sqlite3_free(f->fk[i].from_x);
    sqlite3_free(f->fk[i].to_sql);
    sqlite3_free(f->fk[i].to_json);
  }
  sqlite3_free(f->fk);
  sqlite3_free(f->by_child);
  sqlite3_free(f->by_parent);
  memset(f, 0, sizeof *f);
}

static int plan_fk_cmp_child(const void *a, const void *b) {
  return sqlite3_stricmp((*(TelemPruneFk *const *)a)->child, (*(TelemPruneFk *const *)b)->child);
}
static int plan_fk_cmp_parent(const void *a, const void *b) {
  return sqlite3_stricmp((*(TelemPruneFk *const *)a)->parent,
                         (*(TelemPruneFk *const *)b)->parent);
}

/* Index of the first key in view v (sorted by child when by_child, else by
 * parent) whose table is `name`, or f->n when none. */
static int plan_fks_first(const TelemPruneFks *f, int by_child, const char *name) {
  TelemPruneFk **v = by_child ? f->by_child : f->by_parent;
  int lo = 0, hi = f->n;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    const char *z = by_child ? v[mid]->child : v[mid]->parent;
    if (sqlite3_stricmp(z, name) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < f->n && sqlite3_stricmp(by_child ? v[lo]->child : v[lo]->parent, name) == 0) return lo;
  return f->n;
}

/* One pass over the schema: every foreign key of every table of main, one
 * entry per key (its columns gathered from pragma_foreign_key_list's rows,
 * which come ordered by id and seq).  Returns an SQLite code. */
static int plan_fks_load(sqlite3 *db, TelemPruneFks *f) {
  sqlite3_stmt *st = NULL;
  TelemBuf from, fromx, to, toj;
  telem_buf_init(&from);
  telem_buf_init(&fromx);
  telem_buf_init(&to);
  telem_buf_init(&toj);
  memset(f, 0, sizeof *f);
  int cap = 0, to_null = 0;
  TelemPruneFk *cur = NULL; /* the key being gathered (last of f->fk) */
  const char *sql =
      "SELECT m.name, f.id, f.\"table\", f.\"from\", f.\"to\", f.on_delete "
      "FROM main.sqlite_master AS m, pragma_foreign_key_list(m.name, 'main') AS f "
      "WHERE m.type = 'table' ORDER BY m.name, f.id, f.seq";
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  sqlite3_int64 cur_id = -1;
  while (rc == SQLITE_OK) {
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) break;
    const char *child = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    sqlite3_int64 id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : -1;
    int same = cur && child && id == cur_id && sqlite3_stricmp(child, cur->child) == 0;
    if (cur && !same) { /* the current key is complete */
      cur->from_sql = telem_buf_take(&from);
      cur->from_x = telem_buf_take(&fromx);
      if (!cur->from_x) {
        rc = SQLITE_NOMEM;
        break;
      }
      if (!to_null) {
        telem_buf_putc(&toj, ']');
        cur->to_sql = telem_buf_take(&to);
        cur->to_json = telem_buf_take(&toj);
      }
      telem_buf_free(&to);
      telem_buf_free(&toj);
      if (!cur->from_sql || (!to_null && (!cur->to_sql || !cur->to_json))) {
        rc = SQLITE_NOMEM;
        break;
      }
      cur = NULL;
    }
    if (rc == SQLITE_DONE) {
      rc = SQLITE_OK;
      break;
    }
    const char *parent = (const char *)sqlite3_column_text(st, 2);
    const char *col_from = (const char *)sqlite3_column_text(st, 3);
    const char *col_to = (const char *)sqlite3_column_text(st, 4);
    const char *od = (const char *)sqlite3_column_text(st, 5);
    if (!cur) {
      if (f->n == cap) {
        int nc = cap ? cap * 2 : 16;
        TelemPruneFk *nf = sqlite3_realloc64(f->fk, (sqlite3_uint64)nc * sizeof *nf);
        if (!nf) {
          rc = SQLITE_NOMEM;
          break;
        }
        f->fk = nf;
        cap = nc;
      }
      cur = &f->fk[f->n++];
      memset(cur, 0, sizeof *cur);
      cur_id = id;
      cur->cascade = 1;
      cur->child = sqlite3_mprintf("%s", child ? child : "");
      cur->parent = sqlite3_mprintf("%s", parent ? parent : "");
      if (!cur->child || !cur->parent) {
        rc = SQLITE_NOMEM;
        break;
      }
      to_null = 0;
    }
    if (!od || sqlite3_stricmp(od, "CASCADE") != 0) cur->cascade = 0;
    if (cur->ncol == 0) {
      /* An index that starts with the key's first column serves lookups. */
      int ix = 0;
      sqlite3_stmt *q = NULL;
      if (sqlite3_prepare_v2(db,
                             "SELECT 1 FROM pragma_index_list(?1, 'main') AS il, "
                             "pragma_index_info(il.name, 'main') AS ii "
                             "WHERE ii.seqno = 0 AND ii.name = ?2 COLLATE NOCASE "
                             "AND il.partial = 0 "
                             "UNION ALL SELECT 1 FROM pragma_table_info(?1, 'main') "
                             "WHERE pk = 1 AND upper(type) = 'INTEGER' AND name = ?2 COLLATE NOCASE "
                             "AND (SELECT count(*) FROM pragma_table_info(?1, 'main') WHERE pk > 0) = 1",
                             -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, cur->child, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, col_from ? col_from : "", -1, SQLITE_STATIC);
        ix = sqlite3_step(q) == SQLITE_ROW;
      }
      sqlite3_finalize(q);
      cur->child_indexed = ix;
    }
    telem_prune_sqlf(&from, "%s\"%w\"", cur->ncol ? "," : "", col_from ? col_from : "");
    telem_prune_sqlf(&fromx, "%sx.\"%w\"", cur->ncol ? "," : "", col_from ? col_from : "");
    if (!col_to) {
      to_null = 1; /* REFERENCES parent without columns: the parent's primary key */
    } else {
      telem_prune_sqlf(&to, "%s\"%w\"", cur->ncol ? "," : "", col_to);
      telem_buf_putc(&toj, cur->ncol ? ',' : '[');
      telem_buf_json_string(&toj, col_to, strlen(col_to));
    }
    cur->ncol++;
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  telem_buf_free(&from);
  telem_buf_free(&fromx);
  telem_buf_free(&to);
  telem_buf_free(&toj);
  if (rc == SQLITE_OK && f->n) {
    f->by_child = sqlite3_malloc64(sizeof(TelemPruneFk *) * (size_t)f->n);
    f->by_parent = sqlite3_malloc64(sizeof(TelemPruneFk *) * (size_t)f->n);
    if (!f->by_child || !f->by_parent) {
      rc = SQLITE_NOMEM;
    } else {
      for (int i = 0; i < f->n; i++) f->by_child[i] = f->by_parent[i] = &f->fk[i];
      qsort(f->by_child, (size_t)f->n, sizeof *f->by_child, plan_fk_cmp_child);
      qsort(f->by_parent, (size_t)f->n, sizeof *f->by_parent, plan_fk_cmp_parent);
    }
  }
  if (rc != SQLITE_OK) plan_fks_free(f);
  return rc;
}

/* The quoted primary-key columns of table pt ("a","b") in *pcols (sqlite3
 * memory) and their number in *pn.  Returns an SQLite code. */
static int plan_parent_pk(sqlite3 *db, const char *pt, char **pcols, int *pn) {
  sqlite3_stmt *q = NULL;
  TelemBuf b;
  telem_buf_init(&b);
  *pcols = NULL;
  *pn = 0;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT name FROM pragma_table_info(?1, 'main') "
                              "WHERE pk > 0 ORDER BY pk",
                              -1, &q, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(q, 1, pt, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
      telem_prune_sqlf(&b, "%s\"%w\"", (*pn)++ ? "," : "", sqlite3_column_text(q, 0));
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  sqlite3_finalize(q);
  telem_buf_putc(&b, 0);
  if (rc == SQLITE_OK && b.oom) rc = SQLITE_NOMEM;
  if (rc == SQLITE_OK)
    *pcols = telem_buf_take(&b);
  else
    telem_buf_free(&b);
  return rc;
}

/* For cascade row r (child of parent table `pt`): takes every foreign key
 * of r to pt from the list and fills fk_cols / pk_cols / nfk (one entry
 * per key, so that rows referencing a parent through any of them go with
 * it), or sets PS_MISSING_FK (no key, or one whose parent columns are not
 * a key of the parent) / PS_NOT_CASCADE (when any of them is not ON DELETE
 * CASCADE). */
static int prune_fk(sqlite3 *db, const TelemPruneFks *fks, TelemPruneRow *r, const char *pt) {
  const char *ct = r->rule->table_name;
  int nfk = 0, cascade = 1, rc = SQLITE_OK;
  char *ppk = NULL; /* parent's primary key, read when a key names no columns */
  int ppk_n = -1;
  /* Decide first: every key to pt must be usable. */
  for (int i = plan_fks_first(fks, 1, ct); i < fks->n; i++) {
    const TelemPruneFk *k = fks->by_child[i];
    if (sqlite3_stricmp(k->child, ct) != 0) break;
    if (sqlite3_stricmp(k->parent, pt) != 0) continue;
    int key_ok = 0;
    if (!k->to_sql) {
      if (ppk_n < 0 && (rc = plan_parent_pk(db, pt, &ppk, &ppk_n)) != SQLITE_OK) goto out;
      key_ok = ppk_n == k->ncol;
    } else if ((rc = prune_parent_key_ok(db, pt, k->to_json, k->ncol, &key_ok)) != SQLITE_OK) {
      goto out;
    }
    if (!key_ok) {
      r->status = PS_MISSING_FK; /* a mismatched foreign key is no usable key */
      goto out;
    }
    if (!k->cascade) cascade = 0;
    nfk++;
  }
  if (nfk == 0) {
    r->status = PS_MISSING_FK;
    goto out;
  }
  if (!cascade) {
    r->status = PS_NOT_CASCADE;
    goto out;
  }
  /* Then take the columns. */
  r->fk_cols = sqlite3_malloc64(sizeof(char *) * (size_t)nfk);
  r->pk_cols = sqlite3_malloc64(sizeof(char *) * (size_t)nfk);
  r->fk_x = sqlite3_malloc64(sizeof(char *) * (size_t)nfk);
  if (r->fk_x) memset(r->fk_x, 0, sizeof(char *) * (size_t)nfk);
  if (!r->fk_cols || !r->pk_cols || !r->fk_x) {
    rc = SQLITE_NOMEM;
    goto out;
  }
  for (int i = plan_fks_first(fks, 1, ct); i < fks->n && r->nfk < nfk; i++) {
    const TelemPruneFk *k = fks->by_child[i];
    if (sqlite3_stricmp(k->parent, pt) != 0) continue;
    r->fk_cols[r->nfk] = sqlite3_mprintf("(%s)", k->from_sql);
    r->pk_cols[r->nfk] = sqlite3_mprintf("%s", k->to_sql ? k->to_sql : ppk);
    r->fk_x[r->nfk] = sqlite3_mprintf("(%s)", k->from_x);
    r->nfk++;
    if (!r->fk_cols[r->nfk - 1] || !r->pk_cols[r->nfk - 1] || !r->fk_x[r->nfk - 1]) {
      rc = SQLITE_NOMEM;
      goto out;
    }
    if (!k->child_indexed) r->fk_unindexed = 1;
  }
out:
  sqlite3_free(ppk);
  return rc;
}


/* The rows of cascade row c that go with the rows of parent table `pt`
 * matching `cond`: "(fk) IN (SELECT pk FROM main."pt" WHERE cond)", OR-ed
 * over c's foreign keys to pt.  sqlite3 memory; NULL on OOM. */
char *telem_prune_child_match(const TelemPruneRow *c, const char *pt, const char *cond) {
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
 * to 1 when such a listed child is not ok.  Looks the keys up in the plan's
 * list (no schema query per rule). */
static void prune_children_check(const TelemPruneFks *fks, TelemPrunePlan *p, int i,
                                 int *unlisted, int *child_bad) {
  const char *t = p->rows[i].rule->table_name;
  *unlisted = 0;
  *child_bad = 0;
  for (int k = plan_fks_first(fks, 0, t); k < fks->n; k++) {
    const TelemPruneFk *fk = fks->by_parent[k];
    if (sqlite3_stricmp(fk->parent, t) != 0) break;
    int j = telem_policy_find(p->policy, fk->child);
    if (j < 0 || p->rows[j].rule->kind != TELEM_RK_CASCADE ||
        sqlite3_stricmp(p->rows[j].rule->cascade_from, t) != 0) {
      *unlisted = 1;
    } else if (p->rows[j].status != PS_OK) {
      *child_bad = 1;
    }
  }
}

/* The whole deletion of parent row r, or of cascade row r whose parent
 * table pt loses its rows matching pcond, as one statement (apply runs it
 * in batches, children first; :tfN parameters are the filters' values). */
static char *prune_delete_sql(const TelemPruneRow *r, const char *pt, const char *pcond) {
  if (!pt)
    return sqlite3_mprintf("DELETE FROM main.\"%w\" WHERE %s", r->rule->table_name, r->pred);
  char *m = telem_prune_child_match(r, pt, pcond);
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

/* Adds to policy p a cascade rule for every table that references a
 * non-cascade rule's table through a foreign key ON DELETE CASCADE and that
 * p does not list (Vox's policy says such children "use ON DELETE CASCADE
 * -- no separate prune rows"), marked implicit and without rationale.  A
 * table whose name the policy would refuse, or one the policy lists, is
 * left alone (the parent then says unlisted_child).  Returns an SQLite code. */
static int plan_add_implicit(TelemPolicy *p, const TelemPruneFks *fks) {
  for (int i = 0; i < fks->n; i++) {
    const TelemPruneFk *k = &fks->fk[i];
    if (!k->cascade || sqlite3_stricmp(k->child, k->parent) == 0) continue;
    int pi = telem_policy_find(p, k->parent);
    if (pi < 0 || p->rules[pi].kind == TELEM_RK_CASCADE) continue;
    if (telem_policy_find(p, k->child) >= 0) continue;
    char *parent = sqlite3_mprintf("%s", p->rules[pi].table_name);
    if (!parent) return SQLITE_NOMEM;
    TelemPolicyRuleInfo info;
    memset(&info, 0, sizeof info);
    info.table_name = k->child;
    info.kind = "cascade";
    info.days = TELEM_POLICY_NO_DAYS;
    info.cascade_from = parent;
    char *err = NULL;
    int rc = telem_policy_add(p, &info, &err);
    sqlite3_free(err);
    sqlite3_free(parent);
    if (rc == -2) return SQLITE_NOMEM;
    if (rc == 0) {
      int j = telem_policy_find(p, k->child);
      if (j >= 0) p->rules[j].implicit = 1;
    }
  }
  return SQLITE_OK;
}

/* Builds the plan of the active policy at instant `now` (NULL: the current
 * time).  with_counts: also count eligible and cascade rows.  Returns NULL
 * with *pzErr on error. */
TelemPrunePlan *telem_prune_plan_build(sqlite3 *db, TelemConn *c, const char *now, int with_counts,
                                       char **pzErr) {
  TelemPrunePlan *p = sqlite3_malloc64(sizeof *p);
  TelemPruneFks fks;
  PlanTables tables;
  memset(&fks, 0, sizeof fks);
  memset(&tables, 0, sizeof tables);
  int rc = SQLITE_OK;
  if (!p) goto oom;
  memset(p, 0, sizeof *p);
  p->refs = 1;
  p->now = prune_query_text(db, "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', coalesce(?1, 'now'))",
                            now, NULL, &rc);
  if (rc != SQLITE_OK) goto sqlerr;
  if (!p->now) {
    telem_set_err(pzErr, "now is not a valid time (use ISO-8601, e.g. 2026-01-31T12:00:00Z)");
    goto fail;
  }
  p->policy = telem_policy_active(db, c, NULL, pzErr);
  if (!p->policy) goto fail;
  if ((rc = plan_fks_load(db, &fks)) != SQLITE_OK) goto sqlerr;
  if ((rc = plan_tables_load(db, &tables)) != SQLITE_OK) goto sqlerr;
  if ((rc = plan_add_implicit(p->policy, &fks)) != SQLITE_OK) goto sqlerr;
  p->n = p->policy->n;
  p->rows = sqlite3_malloc64((sqlite3_uint64)(p->n ? p->n : 1) * sizeof *p->rows);
  if (!p->rows) goto oom;
  memset(p->rows, 0, (size_t)(p->n ? p->n : 1) * sizeof *p->rows);

  /* Pass 1: each rule on its own. */
  for (int i = 0; i < p->n; i++) {
    TelemPruneRow *r = &p->rows[i];
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
    r->status = plan_table_status(&tables, r->rule->table_name);
    if (r->status != PS_OK) continue;
    if (k == TELEM_RK_CASCADE) {
      r->parent = telem_policy_find(p->policy, r->rule->cascade_from);
      if ((rc = prune_fk(db, &fks, r, r->rule->cascade_from)) != SQLITE_OK) goto sqlerr;
      /* Its rowid bounds the rows of a batch (apply's chunks of children). */
      if (r->status == PS_OK &&
          (rc = prune_rowid_name(db, r->rule->table_name, &r->rowid_name)) != SQLITE_OK)
        goto sqlerr;
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
  /* Pass 1b: per-type rules.  A column a filter names must exist, or no
   * rule of that table can tell its rows from the others' (fail closed:
   * every rule of the table is missing_column); then each rule gets the
   * rows it governs (plan_compose). */
  for (int lo = 0, hi; lo < p->n; lo = hi) {
    for (hi = lo + 1; hi < p->n && sqlite3_stricmp(p->rows[hi].rule->table_name,
                                                   p->rows[lo].rule->table_name) == 0;
         hi++) {
    }
    int any = 0;
    for (int i = lo; i < hi; i++) any |= p->rows[i].rule->filter != NULL;
    if (!any || plan_table_status(&tables, p->rows[lo].rule->table_name) != PS_OK) continue;
    const char *miss = plan_filter_missing(db, p, lo, hi, &rc);
    if (rc != SQLITE_OK) goto sqlerr;
    if (miss) {
      for (int i = lo; i < hi; i++) {
        p->rows[i].status = PS_MISSING_COLUMN;
        p->rows[i].note = sqlite3_mprintf("filter column %s is not in the table", miss);
        if (!p->rows[i].note) goto oom;
      }
      continue;
    }
    if ((rc = plan_compose(p, lo, hi)) != SQLITE_OK) goto sqlerr;
  }
  /* Pass 2: a cascade child may not have children of its own. */
  for (int i = 0; i < p->n; i++) {
    TelemPruneRow *r = &p->rows[i];
    if (r->rule->kind != TELEM_RK_CASCADE || r->status != PS_OK) continue;
    int unlisted = 0, bad = 0;
    prune_children_check(&fks, p, i, &unlisted, &bad);
    if (unlisted || bad) r->status = PS_UNLISTED_CHILD;
  }
  /* Pass 3: parents are ok only when every referencing table is an ok
   * cascade rule of theirs. */
  for (int i = 0; i < p->n; i++) {
    TelemPruneRow *r = &p->rows[i];
    if (r->rule->kind == TELEM_RK_CASCADE || r->status != PS_OK) continue;
    int unlisted = 0, bad = 0;
    prune_children_check(&fks, p, i, &unlisted, &bad);
    if (unlisted)
      r->status = PS_UNLISTED_CHILD;
    else if (bad)
      r->status = PS_CHILD_NOT_OK;
  }
  /* Pass 4: cascade rows follow their parent table's rules: ok when one
   * of them is ok (each takes the children of its own rows), else the
   * status of the first (its default rule when it has one). */
  for (int i = 0; i < p->n; i++) {
    TelemPruneRow *r = &p->rows[i];
    if (r->rule->kind != TELEM_RK_CASCADE) continue;
    if (r->parent < 0) r->parent = telem_policy_find(p->policy, r->rule->cascade_from);
    const TelemPruneRow *pr = &p->rows[r->parent];
    if (r->status != PS_OK) continue;
    int nok = 0, nrules = 0;
    TelemBuf cond;
    telem_buf_init(&cond);
    int want = 0; /* ok rules: one is used as it is, several are OR-ed */
    for (int j = r->parent; j < p->n && telem_prune_is_child(p, i, j); j++)
      want += p->rows[j].status == PS_OK;
    for (int j = r->parent; j < p->n && telem_prune_is_child(p, i, j); j++) {
      nrules++;
      if (p->rows[j].status != PS_OK) continue;
      telem_prune_sqlf(&cond, want > 1 ? "%s(%s)" : "%s%s", nok++ ? " OR " : "",
                       p->rows[j].pred);
    }
    if (nok == 0) {
      telem_buf_free(&cond);
      if (pr->status == PS_KEEP_FOREVER || pr->status == PS_MANUAL)
        r->status = pr->status;
      else
        r->status = PS_PARENT_NOT_OK;
      continue;
    }
    if (cond.oom || !(r->parent_cond = telem_buf_take(&cond))) {
      telem_buf_free(&cond);
      goto oom;
    }
    telem_buf_free(&cond);
    if (nrules == 1 && !(r->cutoff = sqlite3_mprintf("%s", pr->cutoff))) goto oom;
  }
  /* Pass 5: SQL and counts for the ok rows. */
  for (int i = 0; i < p->n; i++) {
    TelemPruneRow *r = &p->rows[i];
    if (r->status != PS_OK) continue;
    const TelemPruneRow *pr = r->rule->kind == TELEM_RK_CASCADE ? &p->rows[r->parent] : NULL;
    if (!(r->delete_sql = prune_delete_sql(r, pr ? pr->rule->table_name : NULL, r->parent_cond)))
      goto oom;
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
      char *m = telem_prune_child_match(r, pr->rule->table_name, r->parent_cond);
      sql = m ? sqlite3_mprintf("SELECT count(*) FROM main.\"%w\" WHERE %s", r->rule->table_name, m)
              : NULL;
      sqlite3_free(m);
    }
    if (!sql) goto oom;
    r->eligible = prune_count(db, p, sql, pzErr);
    sqlite3_free(sql);
    if (r->eligible < 0) goto fail;
    r->has_counts = 1;
  }
  if (with_counts) {
    /* A parent's cascade_rows: its children's rows that go with its own
     * rows (when its table has several ok rules, counted per rule). */
    for (int i = 0; i < p->n; i++) {
      TelemPruneRow *r = &p->rows[i];
      if (r->status != PS_OK || r->rule->kind != TELEM_RK_CASCADE) continue;
      int nok = 0;
      for (int j = r->parent; j < p->n && telem_prune_is_child(p, i, j); j++)
        nok += p->rows[j].status == PS_OK;
      for (int j = r->parent; j < p->n && telem_prune_is_child(p, i, j); j++) {
        TelemPruneRow *pr = &p->rows[j];
        if (pr->status != PS_OK) continue;
        if (nok == 1) {
          pr->cascade += r->eligible;
          continue;
        }
        char *m = telem_prune_child_match(r, pr->rule->table_name, pr->pred);
        char *sql = m ? sqlite3_mprintf("SELECT count(*) FROM main.\"%w\" WHERE %s",
                                        r->rule->table_name, m)
                      : NULL;
        sqlite3_free(m);
        if (!sql) goto oom;
        sqlite3_int64 n = prune_count(db, p, sql, pzErr);
        sqlite3_free(sql);
        if (n < 0) goto fail;
        pr->cascade += n;
      }
    }
  }
  /* Pass 6: what the operator should know (NULL when nothing). */
  for (int i = 0; i < p->n; i++) {
    TelemPruneRow *r = &p->rows[i];
    const TelemPolicyRule *ru = r->rule;
    TelemBuf b;
    telem_buf_init(&b);
    if (r->note) telem_buf_puts(&b, r->note);
    sqlite3_free(r->note);
    r->note = NULL;
    if (ru->implicit)
      telem_prune_sqlf(&b, "not in the policy: goes with %s through its foreign key ON DELETE "
                           "CASCADE", ru->cascade_from);
    else if (!ru->rationale)
      telem_prune_sqlf(&b, "%sno rationale", b.len ? "; " : "");
    if (r->status == PS_OK && ru->kind != TELEM_RK_CASCADE && r->indexed == 0)
      telem_prune_sqlf(&b, "%sno index on %s: batches walk rowid ranges, reading the whole "
                           "table once",
                       b.len ? "; " : "", ru->time_column);
    if (r->status == PS_OK && ru->kind == TELEM_RK_CASCADE && r->fk_unindexed)
      telem_prune_sqlf(&b, "%sno index on its key to %s: its rows go in one pass over this "
                           "table before %s is pruned, but with foreign_keys on SQLite scans "
                           "it once per %s row deleted; CREATE INDEX on the key column(s)",
                       b.len ? "; " : "", ru->cascade_from, ru->cascade_from, ru->cascade_from);
    if (b.oom) {
      telem_buf_free(&b);
      goto oom;
    }
    r->note = b.len ? telem_buf_take(&b) : NULL;
    telem_buf_free(&b);
  }
  plan_fks_free(&fks);
  plan_tables_free(&tables);
  return p;
sqlerr:
  if (rc == SQLITE_NOMEM) goto oom;
  telem_set_err(pzErr, "%s", sqlite3_errmsg(db));
  goto fail;
oom:
  telem_set_oom(pzErr);
fail:
  plan_fks_free(&fks);
  plan_tables_free(&tables);
  telem_prune_plan_free(p);
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
#define PLAN_COL_NOTE 9
#define PLAN_COL_FILTER 10
#define PLAN_COL_NOW 11 /* HIDDEN argument */
#define PLAN_COL_EXTRA 12 /* TELEM_TVF_EXTRA_COLUMNS: too many arguments */

/* idxNum bit 1: the `now` argument is given (argv[0]). */
#define PLAN_IDX_NOW 1
/* idxNum bit 2: eligible_rows or cascade_rows is read (colUsed); without it
 * the plan counts nothing. */
#define PLAN_IDX_COUNTS 2
#define PLAN_CACHE_MS 1000.0 /* a plan for "now" is reused this long */

typedef struct PlanVtab {
  sqlite3_vtab base; /* must be first */
  sqlite3 *db;
  TelemConn *c; /* borrowed: the module's client data holds the reference */
  /* The last plan, reused while nothing it depends on changed, so that a
   * statement scanning the plan many times (a join, a correlated
   * subquery) builds and counts it once. */
  TelemPrunePlan *cache;      /* one reference; may be NULL */
  char *cache_now;            /* its `now` argument, NULL for the current time; owned */
  int cache_counts;           /* built with counts */
  sqlite3_int64 cache_dv;     /* PRAGMA data_version then */
  sqlite3_int64 cache_changes; /* sqlite3_total_changes64 then */
  int cache_schema;           /* PRAGMA schema_version then */
  void *cache_reg;            /* the registry then */
  double cache_ms;            /* when it was built */
} PlanVtab;

typedef struct PlanCursor {
  sqlite3_vtab_cursor base; /* must be first */
  TelemPrunePlan *plan;               /* this scan's plan; owned */
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
                                "cascade_rows INTEGER, status TEXT, delete_sql TEXT, note TEXT, "
                                "filter TEXT, now HIDDEN" TELEM_TVF_EXTRA_COLUMNS ")");
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
  PlanVtab *v = (PlanVtab *)pVtab;
  telem_prune_plan_free(v->cache);
  sqlite3_free(v->cache_now);
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
  if (info->colUsed & (((sqlite3_uint64)1 << PLAN_COL_ELIGIBLE) | ((sqlite3_uint64)1 << PLAN_COL_CASCADE)))
    info->idxNum |= PLAN_IDX_COUNTS;
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
  telem_prune_plan_free(cur->plan);
  sqlite3_free(cur);
  return SQLITE_OK;
}

/* One integer from a pragma, or -1. */
static sqlite3_int64 plan_pragma_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  sqlite3_int64 v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* xFilter: the plan for this scan, counted only when eligible_rows or
 * cascade_rows is read (PLAN_IDX_COUNTS), and reused from the last scan
 * while the database (data_version, total changes, schema), the contracts
 * and `now` are the same (a NULL `now` for PLAN_CACHE_MS). */
static int plan_filter(sqlite3_vtab_cursor *pCur, int idxNum, const char *idxStr, int argc,
                       sqlite3_value **argv) {
  (void)idxStr;
  PlanCursor *cur = (PlanCursor *)pCur;
  PlanVtab *v = (PlanVtab *)pCur->pVtab;
  telem_prune_plan_free(cur->plan);
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
  int counts = (idxNum & PLAN_IDX_COUNTS) != 0;
  sqlite3_int64 dv = plan_pragma_int(v->db, "PRAGMA main.data_version");
  int schema = (int)plan_pragma_int(v->db, "PRAGMA main.schema_version");
  sqlite3_int64 changes = sqlite3_total_changes64(v->db);
  if (v->cache && dv >= 0 && v->cache_dv == dv && v->cache_changes == changes &&
      v->cache_schema == schema && v->cache_reg == (void *)v->c->reg &&
      (v->cache_counts || !counts) &&
      ((!now && !v->cache_now && telem_prune_ms_now() - v->cache_ms < PLAN_CACHE_MS) ||
       (now && v->cache_now && strcmp(now, v->cache_now) == 0))) {
    cur->plan = v->cache;
    cur->plan->refs++;
    return SQLITE_OK;
  }
  char *err = NULL;
  cur->plan = telem_prune_plan_build(v->db, v->c, now, counts, &err);
  if (!cur->plan) {
    telem_vtab_errorf(pCur->pVtab, "telem_prune_plan: %s%s",
                      err && strncmp(err, "now ", 4) == 0 ? "argument 1: " : "",
                      err ? err : "out of memory");
    sqlite3_free(err);
    return SQLITE_ERROR;
  }
  /* Counting ran statements; the key is what the database was before. */
  telem_prune_plan_free(v->cache);
  sqlite3_free(v->cache_now);
  v->cache = NULL;
  v->cache_now = now ? sqlite3_mprintf("%s", now) : NULL;
  if (!now || v->cache_now) {
    v->cache = cur->plan;
    v->cache->refs++;
    v->cache_counts = counts;
    v->cache_dv = dv;
    v->cache_changes = changes;
    v->cache_schema = schema;
    v->cache_reg = (void *)v->c->reg;
    v->cache_ms = telem_prune_ms_now();
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
  const TelemPruneRow *r = &cur->plan->rows[cur->i];
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
    case PLAN_COL_STATUS: z = telem_prune_status_names[r->status]; break;
    case PLAN_COL_SQL: z = r->delete_sql; break;
    case PLAN_COL_NOTE: z = r->note; break;
    case PLAN_COL_FILTER: z = r->rule->filter; break;
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

static const TelemSqlModule prune_plan_modules[] = {
    {"telem_prune_plan", &plan_module},
    {NULL},
};

const TelemFeature telem_feature_prune_plan = {"prune_plan", NULL, prune_plan_modules};
