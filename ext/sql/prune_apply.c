/*
 * prune_apply.c -- deleting what the retention plan (prune_plan.c) allows.
 *
 *   telem_prune_apply([table [, batch_rows [, now]]])
 *                                 table-valued function (a table of the temp
 *                                 schema, DIRECTONLY): deletes in batches and
 *                                 returns one row per table as logged in
 *                                 telem_prune_log (run_id, table_name, kind,
 *                                 cutoff, rows_deleted, cascaded_rows,
 *                                 batches, duration_ms, status)
 *
 *     SELECT * FROM telem_prune_apply();            -- every table, now
 *     SELECT sum(rows_deleted) FROM telem_prune_apply('research_metrics', 2000,
 *                                                     '2026-01-01T00:00:00Z');
 *
 * Only plan rows with status `ok` are touched.  Children are always deleted
 * explicitly before their parents, so the result is the same with PRAGMA
 * foreign_keys on or off: no orphans either way.
 *
 * Transactions (see docs/architecture/retention-and-sensitivity.md, "Prune
 * batching"): in autocommit mode the run opens a second connection to main's
 * file (apply_open_worker: the calling SELECT counts as a reader, and every
 * statement run on its own connection would keep main's read transaction
 * open) and every batch commits on its own there: durable on its own, so a
 * SIGKILL loses at most the batch in flight.  A batch that is one DELETE
 * runs as an autocommit statement (inside BEGIN, SQLite would copy every
 * page it changes to a statement journal first, because the predicate
 * calls julianday()); a batch of several statements (children, then their
 * parents) is a BEGIN IMMEDIATE ... COMMIT.  Inside the caller's
 * transaction (or on an in-memory database) the caller's connection is used
 * and each batch is a SAVEPOINT: atomic, nothing committed before the
 * caller commits.  Called from a writing statement, apply refuses: SQLite
 * allows neither COMMIT nor SAVEPOINT there.  A telem_prune_log voxtelem
 * did not create is refused before anything is deleted
 * (telem_own_table_check).
 *
 * Batches, two strategies (one function each):
 *   apply_keyed   an index starts with the time column, its entries come in
 *                 rowid order, each next to the one before
 *                 (apply_index_in_rowid_order), and the table has no
 *                 cascade children: a batch is a slice of that index;
 *   apply_ranged  otherwise: a batch is a range of rowids, walked once in
 *                 rowid order (O(rows) whatever the order of the timestamps);
 *                 the range's children go first, then its parents.
 * A batch examines at most batch_rows rows of the parent table (keyed: index
 * entries of the range; ranged: rows of the rowid range), and a transaction
 * deletes at most about that many child rows: the children of a wide parent
 * go in chunks of their own (each chunk its own transaction, the parent
 * still there) before the transaction that deletes the parent.
 *
 * Pace (autocommit mode, apply_pace and apply_next_batch): alone (no other
 * process has the file open), batches aim at 1 s and WAL checkpoints wait
 * for 32,768 pages; otherwise batches aim at 10 ms (4 ms once someone else
 * committed), write at most PRUNE_SHARED_BATCH_PAGES pages, and each is
 * followed by a gap long enough for a writer sleeping in SQLite's busy
 * handler to wake and get in (apply_gap_ms); the prune checkpoints the WAL
 * itself so that writers' commits rarely have to.  The trade-off is
 * written down in docs/architecture/retention-and-sensitivity.md.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep */
#include "sql/prune.h"
#include "voxtelem.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#define PRUNE_DEFAULT_BATCH 2000     /* first batch alone, when batch_rows is NULL */
#define PRUNE_SHARED_FIRST_BATCH 64  /* first batch when others have the file open */
#define PRUNE_MIN_BATCH 16           /* adaptive batches never go below this (rows) */
#define PRUNE_MAX_BATCH 1000000      /* largest batch_rows accepted */
#define PRUNE_ADAPT_MAX 1000000      /* adaptive batches never exceed this */
#define PRUNE_ALONE_TARGET_MS 1000.0 /* lock time per batch: nobody else has the file open */
#define PRUNE_SHARED_TARGET_MS 10.0  /* ... others have it open, nobody committed lately */
#define PRUNE_CONTENDED_TARGET_MS 4.0 /* ... someone else committed lately */
#define PRUNE_CONTENDED_HOLD_MS 1000.0 /* "lately": this long after seeing a commit */
#define PRUNE_GAP_MARGIN_MS 5        /* added to the busy handler's retry interval */
#define PRUNE_MIN_GAP_MS 10          /* shortest gap between two shared batches */
#define PRUNE_SHARED_BATCH_PAGES 400 /* contended: pages one batch may write */
#define PRUNE_CKPT_TRIES 3           /* shared: checkpoints before a batch, at most */
#define PRUNE_WAL_PAGES 32768        /* alone: WAL pages before a checkpoint (128 MiB at 4 KiB) */
#define PRUNE_CACHE_KIB 32768        /* the prune connection's page cache, at least */
#define PRUNE_ORDER_SAMPLE 1024      /* index entries looked at to choose keyed or ranged */
#define PRUNE_ORDER_NEAR 16          /* ... "next to the one before": this many rowids on */
#define PRUNE_BEGIN_RETRY_MS 10000   /* own retries on SQLITE_BUSY, beyond busy_timeout */

static void prune_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

/* ---- telem_prune_apply ---------------------------------------------------- */

/* telem_prune_log, after "CREATE TABLE <name>" (sqlite_master keeps this
 * text; telem_own_table_check compares it). */
static const char prune_log_body[] =
    "(\n"
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

/* One row of telem_prune_apply's result: one table of the run, as logged. */
typedef struct ApplyOut {
  sqlite3_int64 run_id;
  char *table_name;    /* owned */
  const char *kind;    /* static */
  char *cutoff;        /* owned; may be NULL */
  sqlite3_int64 rows, cascaded, ms;
  int batches;
  const char *status;  /* static */
} ApplyOut;
/* How batches are wrapped and paced. */
typedef struct Applier {
  sqlite3 *db;
  int own_txn;          /* 1: each batch commits on its own; 0: SAVEPOINT */
  int in_batch;         /* a BEGIN or SAVEPOINT of a batch is open */
  int solo;             /* the batch in flight is one autocommit statement */
  double t_begin;       /* ms clock: start of the batch in flight */
  double hold_ms;       /* the last batch: start to commit (lock time, or about) */
  int pages;            /* the last batch: pages it wrote */
  sqlite3_int64 dv;     /* last PRAGMA data_version */
  double contended_until; /* ms clock: short batches until then */
  int db_fd;            /* a descriptor of main's file (SQLite's own), or -1 */
  int alone_always;     /* 1: in-memory or temporary database */
  int worker;           /* db is voxtelem's own connection: its WAL hook is ours */
  int ckpt_auto;        /* worker: the caller's wal_autocheckpoint (0: never checkpoint) */
  int wal_frames;       /* worker: frames in main's WAL after our last commit */
  char *err;            /* first error; owned */
  const TelemPrunePlan *plan; /* the plan being run: its filter values are bound */
  sqlite3_int64 run_id; /* this run's run_id in telem_prune_log */
  ApplyOut *out;        /* the rows logged so far; owned */
  int nout, capout;
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

/* Starts a batch.  solo: the batch is one statement; in own-transaction
 * mode it then runs in autocommit (apply_step retries it on SQLITE_BUSY),
 * else BEGIN IMMEDIATE is retried on SQLITE_BUSY (beyond any busy_timeout
 * of the connection) for up to PRUNE_BEGIN_RETRY_MS. */
static int apply_begin(Applier *a, int solo) {
  int cur = 0, hi = 0;
  a->t_begin = telem_prune_ms_now();
  sqlite3_db_status(a->db, SQLITE_DBSTATUS_CACHE_WRITE, &cur, &hi, 1);
  a->solo = a->own_txn && solo;
  if (a->solo) return SQLITE_OK;
  if (!a->own_txn) {
    int rc = apply_exec(a, "SAVEPOINT telem_prune_batch");
    a->in_batch = (rc == SQLITE_OK);
    return rc;
  }
  for (;;) {
    int rc = sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
      a->in_batch = 1;
      return rc;
    }
    if ((rc & 0xff) != SQLITE_BUSY || telem_prune_ms_now() - a->t_begin > PRUNE_BEGIN_RETRY_MS) {
      if (!a->err) telem_set_err(&a->err, "%s", sqlite3_errmsg(a->db));
      return rc;
    }
    prune_sleep_ms(2);
  }
}

/* Ends a batch; records how long it held the lock and what it wrote. */
static int apply_commit(Applier *a) {
  int rc = SQLITE_OK, cur = 0, hi = 0;
  if (!a->solo) rc = apply_exec(a, a->own_txn ? "COMMIT" : "RELEASE telem_prune_batch");
  if (rc == SQLITE_OK) a->in_batch = 0;
  a->hold_ms = telem_prune_ms_now() - a->t_begin;
  sqlite3_db_status(a->db, SQLITE_DBSTATUS_CACHE_WRITE, &cur, &hi, 1);
  a->pages = cur;
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

/* Steps a statement of the batch in flight.  An autocommit statement of a
 * solo batch that meets SQLITE_BUSY changed nothing (SQLite rolls it back
 * whole), so it is run again, for up to PRUNE_BEGIN_RETRY_MS.  Returns
 * sqlite3_step's code; on an error the statement is reset and a->err set. */
static int apply_step(Applier *a, sqlite3_stmt *st) {
  for (;;) {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) return rc;
    if ((rc & 0xff) == SQLITE_BUSY && a->solo && sqlite3_get_autocommit(a->db) &&
        telem_prune_ms_now() - a->t_begin <= PRUNE_BEGIN_RETRY_MS) {
      sqlite3_reset(st);
      prune_sleep_ms(2);
      continue;
    }
    if (!a->err) telem_set_err(&a->err, "%s", sqlite3_errmsg(a->db));
    sqlite3_reset(st);
    return rc;
  }
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

/* Notes a commit by another connection since the last look (PRAGMA
 * data_version): the prune is then contended for PRUNE_CONTENDED_HOLD_MS. */
static void apply_watch(Applier *a) {
  sqlite3_int64 dv = apply_data_version(a->db);
  if (dv != a->dv) {
    a->dv = dv;
    a->contended_until = telem_prune_ms_now() + PRUNE_CONTENDED_HOLD_MS;
  }
}

/* 1 when others may write now: short batches with gaps.  0: alone. */
static int apply_shared(Applier *a) {
  return telem_prune_ms_now() < a->contended_until || apply_others_present(a);
}

/* The worker's WAL hook: remembers how many frames the WAL holds after
 * each of our commits, and checkpoints nothing (apply_checkpoint decides;
 * this replaces the wal_autocheckpoint hook of the worker). */
static int apply_wal_hook(void *arg, sqlite3 *db, const char *name, int frames) {
  (void)db;
  if (strcmp(name, "main") == 0) ((Applier *)arg)->wal_frames = frames;
  return SQLITE_OK;
}

/* A PASSIVE checkpoint of main's WAL (it never waits for, nor blocks, other
 * connections) when it holds at least `pages` frames.  Only on the worker,
 * and never when the caller turned automatic checkpoints off. */
static void apply_checkpoint(Applier *a, int pages) {
  if (!a->worker || a->ckpt_auto <= 0 || a->wal_frames < pages) return;
  int log = 0, done = 0;
  if (sqlite3_wal_checkpoint_v2(a->db, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &done) ==
          SQLITE_OK &&
      log >= 0 && done >= log)
    a->wal_frames = 0; /* all copied: the next write starts the WAL over */
}

/* How long to leave the lock free after a batch that held it for hold_ms.
 * SQLite's default busy handler (what busy_timeout installs) retries after
 * 1, 3, 8, 18, 33, 53, 78, 103, 128, 178, 228 ms and then every 100 ms; a
 * writer that found the lock taken during the batch retries at most one of
 * those steps (the largest up to hold_ms) after the batch ends.  The gap
 * is that step plus a margin for waking up. */
static int apply_gap_ms(double hold_ms) {
  static const int at[] = {0, 1, 3, 8, 18, 33, 53, 78, 103, 128, 178, 228};
  int step = 0;
  for (size_t i = 1; i < sizeof at / sizeof at[0]; i++) {
    if (at[i] - at[i - 1] > step) step = at[i] - at[i - 1];
    if (at[i] >= hold_ms) break;
  }
  if (hold_ms > 228) step = 100;
  step += PRUNE_GAP_MARGIN_MS;
  return step < PRUNE_MIN_GAP_MS ? PRUNE_MIN_GAP_MS : step;
}

/* After a committed batch (own-transaction mode only).  Alone: nothing to
 * make room for; checkpoints wait until the WAL holds PRUNE_WAL_PAGES (one
 * DELETE would also checkpoint once).  Shared: a gap for waiting writers,
 * and the checkpoints done by the prune rather than by writers (a writer's
 * commit checkpoints once the WAL holds 1,000 pages, and pays for it in
 * its own wait):
 *   - right after the commit, this batch's pages go to the database file
 *     while the writer that waited comes in (its own checkpoint, if the
 *     WAL is that long, finds ours running and returns at once);
 *   - after the gap, the few pages writers added meanwhile, again until
 *     no one committed during the checkpoint, so that the WAL is all
 *     copied when the next batch starts: that batch then writes the WAL
 *     over from its beginning, and the WAL never grows to the length at
 *     which writers checkpoint. */
static void apply_pace(Applier *a) {
  if (!a->own_txn) return;
  apply_watch(a);
  if (!apply_shared(a)) {
    apply_checkpoint(a, PRUNE_WAL_PAGES);
    return;
  }
  double until = telem_prune_ms_now() + apply_gap_ms(a->hold_ms);
  apply_checkpoint(a, 0);
  double left = until - telem_prune_ms_now();
  if (left >= 1) prune_sleep_ms((int)left);
  /* A writer that committed while this checkpoint ran left frames behind
   * it, and the WAL cannot start over: once more then (a few pages). */
  for (int i = 0; i < PRUNE_CKPT_TRIES; i++) {
    sqlite3_int64 dv = apply_data_version(a->db);
    apply_checkpoint(a, 0);
    if (apply_data_version(a->db) == dv) break;
  }
  apply_watch(a);
}

/* Appends one telem_prune_log row (its own transaction in own_txn mode). */
static int apply_log(Applier *a, const TelemPruneRow *r, sqlite3_int64 rows,
                     sqlite3_int64 cascaded, int batches, double ms, const char *status) {
  sqlite3_int64 run_id = a->run_id;
  if (a->nout == a->capout) {
    int cap = a->capout ? a->capout * 2 : 8;
    ApplyOut *o = sqlite3_realloc64(a->out, (sqlite3_uint64)cap * sizeof *o);
    if (!o) {
      if (!a->err) telem_set_oom(&a->err);
      return SQLITE_NOMEM;
    }
    a->out = o;
    a->capout = cap;
  }
  ApplyOut *o = &a->out[a->nout];
  memset(o, 0, sizeof *o);
  o->run_id = run_id;
  o->table_name = sqlite3_mprintf("%s", r->rule->table_name);
  o->kind = telem_policy_kind_name(r->rule->kind);
  o->cutoff = r->cutoff ? sqlite3_mprintf("%s", r->cutoff) : NULL;
  o->rows = rows;
  o->cascaded = cascaded;
  o->batches = batches;
  o->ms = (sqlite3_int64)(ms + 0.5);
  o->status = status;
  if (!o->table_name || (r->cutoff && !o->cutoff)) {
    sqlite3_free(o->table_name);
    sqlite3_free(o->cutoff);
    if (!a->err) telem_set_oom(&a->err);
    return SQLITE_NOMEM;
  }
  a->nout++;
  if (apply_begin(a, 0) != SQLITE_OK) return SQLITE_ERROR;
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

/* ---- batching strategies ---------------------------------------------------- */

/* Prepares `sql` (a TelemBuf's text) into *pst.  Returns an SQLite code
 * with a->err; a buffer that ran out of memory is SQLITE_NOMEM. */
static int apply_prepare(Applier *a, TelemBuf *sql, sqlite3_stmt **pst) {
  int rc;
  if (sql->oom || !sql->p)
    rc = SQLITE_NOMEM;
  else
    rc = sqlite3_prepare_v2(a->db, sql->p, -1, pst, NULL);
  if (rc == SQLITE_OK && a->plan) rc = telem_prune_bind(a->plan, *pst); /* per-type filters */
  if (rc != SQLITE_OK && !a->err)
    telem_set_err(&a->err, "%s", rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(a->db));
  telem_buf_free(sql);
  return rc;
}

/* Steps a DELETE to its end; returns the rows it changed, or -1 with
 * a->err.  The statement is reset either way. */
static sqlite3_int64 apply_step_delete(Applier *a, sqlite3_stmt *st) {
  int rc = apply_step(a, st);
  sqlite3_int64 n = rc == SQLITE_DONE ? sqlite3_changes64(a->db) : -1;
  sqlite3_reset(st);
  return n;
}

/* The first adaptive batch: small when others may write (it is measured
 * before anyone is seen committing), PRUNE_DEFAULT_BATCH alone. */
static int apply_first_batch(Applier *a) {
  return a->own_txn && apply_shared(a) ? PRUNE_SHARED_FIRST_BATCH : PRUNE_DEFAULT_BATCH;
}

/* After a committed batch: the pace (apply_pace), then the next batch size.
 * Adaptive batches aim at a lock time that depends on who else is there:
 * PRUNE_CONTENDED_TARGET_MS while another connection commits (and at most
 * PRUNE_SHARED_BATCH_PAGES pages written, so that a batch does not fill a
 * writer's 1,000-page WAL), PRUNE_SHARED_TARGET_MS when others only have
 * the file open, and PRUNE_ALONE_TARGET_MS alone (each
 * commit rewrites every index page its batch touched, so many small
 * batches cost several times one DELETE on a table whose indexes are in
 * another order than the batches).  A batch grows at most 2x per step and
 * shrinks at once.  work: the rows the batch examined or deleted. */
static int apply_next_batch(Applier *a, int batch, int fixed_batch, sqlite3_int64 work) {
  apply_pace(a);
  if (fixed_batch > 0) return fixed_batch;
  double ms = a->hold_ms;
  int contended = a->own_txn && telem_prune_ms_now() < a->contended_until;
  double target = contended                         ? PRUNE_CONTENDED_TARGET_MS
                  : a->own_txn && apply_shared(a) ? PRUNE_SHARED_TARGET_MS
                                                  : PRUNE_ALONE_TARGET_MS;
  double want = ms > 0.01 ? batch * target / ms : batch * 2.0;
  if (contended && a->pages > 0) {
    double by_pages = (double)batch * PRUNE_SHARED_BATCH_PAGES / a->pages;
    if (by_pages < want) want = by_pages;
  }
  if (want > batch * 2.0) want = batch * 2.0;
  /* A transaction that did much less than its size (the last chunk of a
   * range) says little about the rate: it may shrink the size, not grow it. */
  if (work * 2 < batch && want > batch) want = batch;
  if (want < PRUNE_MIN_BATCH) want = PRUNE_MIN_BATCH;
  if (want > PRUNE_ADAPT_MAX) want = PRUNE_ADAPT_MAX;
  return (int)want;
}

/* Keyed batches (an index starts with the time column, no children): a
 * batch is the slice (previous key, k] of the index range, k being the
 * n-th key after the previous batch: a walk over n index entries (no
 * function calls) finds k, then one ranged DELETE with the exact filter
 * removes the eligible rows of the slice -- per row about what a
 * hand-written DELETE costs.  Rows sharing key k all go in the same batch;
 * rows of the band that stay (not old enough) are passed over, never
 * scanned twice.  One set of statements for the first batch (from the
 * range's own lower bound) and one for the next ones (after ?2, the
 * previous batch's key). */
typedef struct KeyedStmts {
  sqlite3_stmt *bound; /* ?1 = n - 1 [, ?2 = previous key]: the slice's last key */
  sqlite3_stmt *upto;  /* ?1 = that key [, ?2]: deletes the slice */
  sqlite3_stmt *rest;  /* [?2]: deletes what is left of the range (the last batch) */
} KeyedStmts;

static void keyed_stmts_free(KeyedStmts *k) {
  sqlite3_finalize(k->bound);
  sqlite3_finalize(k->upto);
  sqlite3_finalize(k->rest);
  memset(k, 0, sizeof *k);
}

/* after = 0: the first batch's statements; 1: the next batches'. */
static int keyed_stmts_prepare(Applier *a, const TelemPruneRow *r, int after, KeyedStmts *k) {
  const char *t = r->rule->table_name, *col = r->rule->time_column;
  TelemBuf lower, filt, s;
  telem_buf_init(&lower);
  telem_buf_init(&filt);
  if (after)
    telem_prune_sqlf(&lower, "\"%w\" > ?2 AND ", col);
  else if (r->lo_lit)
    telem_prune_sqlf(&lower, "\"%w\" >= %s AND ", col, r->lo_lit);
  telem_buf_putc(&lower, 0);
  if (r->filter) telem_prune_sqlf(&filt, " AND %s", r->filter);
  telem_buf_putc(&filt, 0);
  int rc = (lower.oom || filt.oom) ? SQLITE_NOMEM : SQLITE_OK;
  if (rc == SQLITE_OK) {
    telem_buf_init(&s);
    telem_prune_sqlf(&s,
                     "SELECT \"%w\" FROM main.\"%w\" WHERE %s\"%w\" < %s "
                     "ORDER BY \"%w\" LIMIT 1 OFFSET ?1",
                     col, t, lower.p, col, r->hi_lit, col);
    rc = apply_prepare(a, &s, &k->bound);
  }
  if (rc == SQLITE_OK) {
    /* "<= ?1" is the only upper bound, so the index range ends at k. */
    telem_buf_init(&s);
    telem_prune_sqlf(&s, "DELETE FROM main.\"%w\" WHERE %s\"%w\" <= ?1%s", t, lower.p, col,
                     filt.p);
    rc = apply_prepare(a, &s, &k->upto);
  }
  if (rc == SQLITE_OK) {
    telem_buf_init(&s);
    telem_prune_sqlf(&s, "DELETE FROM main.\"%w\" WHERE %s\"%w\" < %s%s", t, lower.p, col,
                     r->hi_lit, filt.p);
    rc = apply_prepare(a, &s, &k->rest);
  }
  if (rc == SQLITE_NOMEM && !a->err) telem_set_oom(&a->err);
  telem_buf_free(&lower);
  telem_buf_free(&filt);
  return rc;
}

static int apply_keyed(Applier *a, const TelemPruneRow *r, int fixed_batch, int *pBatches,
                       sqlite3_int64 *pRows) {
  KeyedStmts first, next;
  memset(&first, 0, sizeof first);
  memset(&next, 0, sizeof next);
  sqlite3_value *lastk = NULL; /* upper key of the previous batch; owned */
  int batch = fixed_batch > 0 ? fixed_batch : apply_first_batch(a);
  int rc = keyed_stmts_prepare(a, r, 0, &first);
  if (rc == SQLITE_OK) rc = keyed_stmts_prepare(a, r, 1, &next);
  while (rc == SQLITE_OK) {
    if ((rc = apply_begin(a, 1)) != SQLITE_OK) break;
    KeyedStmts *S = lastk ? &next : &first;
    if (lastk) {
      sqlite3_bind_value(S->bound, 2, lastk);
      sqlite3_bind_value(S->upto, 2, lastk);
      sqlite3_bind_value(S->rest, 2, lastk);
    }
    sqlite3_bind_int(S->bound, 1, batch - 1);
    int last = 0;
    sqlite3_stmt *del = S->upto;
    rc = apply_step(a, S->bound);
    if (rc == SQLITE_ROW) {
      sqlite3_value *k = sqlite3_value_dup(sqlite3_column_value(S->bound, 0));
      if (!k) {
        rc = SQLITE_NOMEM;
        if (!a->err) telem_set_oom(&a->err);
      } else {
        sqlite3_value_free(lastk);
        lastk = k;
        sqlite3_bind_value(S->upto, 1, k);
        rc = SQLITE_OK;
      }
    } else if (rc == SQLITE_DONE) {
      del = S->rest; /* fewer than `batch` keys left: the rest */
      last = 1;
      rc = SQLITE_OK;
    }
    sqlite3_reset(S->bound);
    sqlite3_int64 got = rc == SQLITE_OK ? apply_step_delete(a, del) : -1;
    if (got < 0 || (rc = apply_commit(a)) != SQLITE_OK) {
      if (rc == SQLITE_OK) rc = SQLITE_ERROR;
      apply_rollback(a);
      break;
    }
    /* Counted once committed (inside the caller's transaction: once released). */
    *pRows += got;
    (*pBatches)++;
    if (last) break;
    batch = apply_next_batch(a, batch, fixed_batch, batch);
  }
  keyed_stmts_free(&first);
  keyed_stmts_free(&next);
  sqlite3_value_free(lastk);
  return rc;
}

/* Rowid-range batches (no index on the time column, or cascade children):
 * a batch is the rows whose rowid lies in [lo, hi], the `batch` rows from
 * lo on; the children of that range's eligible parents go
 * first, then the parents.  The walk goes once along the rowid order, so
 * the whole prune is O(rows) whatever order the timestamps are in (a batch
 * that re-scanned from the start of the table would make it quadratic),
 * and a batch touches at most `batch` parent rows whether they are
 * eligible or not.  NOT INDEXED keeps the planner on the rowid range when
 * the predicate's column has an index.
 *
 * Children count too: a transaction deletes at most `budget` child rows
 * (each child statement is "rowid IN (... LIMIT :lim)").  When a child
 * statement reaches its limit, the transaction commits the children
 * deleted so far and the next one goes on with the same range; the
 * parents are deleted in the transaction whose child statements all came
 * back under their limit, so no parent goes while a child row of it is
 * left.  A kill between two such transactions leaves eligible parents
 * with some of their children gone (they are old enough to go, and would
 * have gone with them) and never an orphan; the rerun finishes them. */

typedef struct RangedStmts {
  sqlite3_stmt *bound;  /* ?1 = lo, ?2 = n: the first rowid after the batch (none: the end) */
  sqlite3_stmt *parent; /* ?1 = lo, ?2 = hi: deletes the eligible parents */
  sqlite3_stmt **child; /* ?1, ?2 [, :lim]: deletes those parents' rows of each
                           child; owned array */
  int *child_row;       /* plan row of each child statement; owned */
  int *child_limited;   /* the index of :lim (0: a child with no name for its
                           rowid: all its rows of the range at once); owned */
  int nchild;
} RangedStmts;

/* 1 when plan row j is an ok cascade child of parent row pi that the
 * batches delete (one with an index on its key; the others went in
 * apply_child_pass). */
static int ranged_child(const TelemPrunePlan *p, int pi, int j) {
  const TelemPruneRow *c = &p->rows[j];
  return telem_prune_is_child(p, j, pi) && c->status == PS_OK &&
         !(c->fk_unindexed && c->rowid_name);
}

/* A child without an index on its key to the parent: deleting its rows of
 * each parent batch would scan the whole child table per batch (quadratic
 * in the number of batches).  Instead its rows of every eligible parent go
 * first, in one pass over the child in rowid ranges, each row looking its
 * parent up by the parent's key (which has an index: it is the parent's
 * primary key or a UNIQUE index).  Adds to c->deleted and *pCascaded. */
static int apply_child_pass(Applier *a, TelemPrunePlan *p, int pi, int ci, int fixed_batch,
                            sqlite3_int64 *pCascaded) {
  TelemPruneRow *c = &p->rows[ci];
  const TelemPruneRow *r = &p->rows[pi];
  const char *rid = c->rowid_name;
  sqlite3_stmt *bound = NULL, *del = NULL;
  TelemBuf q;
  telem_buf_init(&q);
  telem_prune_sqlf(&q, "SELECT %s FROM main.\"%w\" WHERE %s >= ?1 ORDER BY %s LIMIT 1 OFFSET ?2",
                   rid, c->rule->table_name, rid, rid);
  int rc = apply_prepare(a, &q, &bound);
  if (rc == SQLITE_OK) {
    telem_buf_init(&q);
    telem_prune_sqlf(&q, "DELETE FROM main.\"%w\" AS x NOT INDEXED WHERE x.%s BETWEEN ?1 AND ?2 AND (",
                     c->rule->table_name, rid);
    for (int k = 0; k < c->nfk; k++)
      telem_prune_sqlf(&q, "%sEXISTS (SELECT 1 FROM main.\"%w\" WHERE (%s) = %s AND %s)",
                       k ? " OR " : "", r->rule->table_name, c->pk_cols[k], c->fk_x[k], r->pred);
    telem_buf_putc(&q, ')');
    rc = apply_prepare(a, &q, &del);
  }
  int batch = fixed_batch > 0 ? fixed_batch : apply_first_batch(a);
  sqlite3_int64 lo = INT64_MIN;
  while (rc == SQLITE_OK) {
    if ((rc = apply_begin(a, 1)) != SQLITE_OK) break;
    int last = 0;
    sqlite3_int64 hi = INT64_MAX, next_lo = 0;
    sqlite3_bind_int64(bound, 1, lo);
    sqlite3_bind_int(bound, 2, batch);
    rc = apply_step(a, bound);
    if (rc == SQLITE_ROW) {
      next_lo = sqlite3_column_int64(bound, 0);
      hi = next_lo - 1;
      rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
      last = 1;
      rc = SQLITE_OK;
    }
    sqlite3_reset(bound);
    sqlite3_int64 got = -1;
    if (rc == SQLITE_OK) {
      sqlite3_bind_int64(del, 1, lo);
      sqlite3_bind_int64(del, 2, hi);
      got = apply_step_delete(a, del);
    }
    if (got < 0 || (rc = apply_commit(a)) != SQLITE_OK) {
      if (rc == SQLITE_OK) rc = SQLITE_ERROR;
      apply_rollback(a);
      break;
    }
    c->deleted += got;
    *pCascaded += got;
    if (last) break;
    lo = next_lo;
    batch = apply_next_batch(a, batch, fixed_batch, batch);
  }
  sqlite3_finalize(bound);
  sqlite3_finalize(del);
  return rc;
}


static void ranged_stmts_free(RangedStmts *s) {
  sqlite3_finalize(s->bound);
  sqlite3_finalize(s->parent);
  for (int k = 0; k < s->nchild; k++) sqlite3_finalize(s->child[k]);
  sqlite3_free(s->child);
  sqlite3_free(s->child_row);
  sqlite3_free(s->child_limited);
  memset(s, 0, sizeof *s);
}

static int ranged_stmts_prepare(Applier *a, const TelemPrunePlan *p, int pi, RangedStmts *s) {
  const TelemPruneRow *r = &p->rows[pi];
  const char *t = r->rule->table_name, *rid = r->rowid_name;
  int n = 0;
  for (int j = 0; j < p->n; j++)
    if (ranged_child(p, pi, j)) n++;
  TelemBuf cond, q;
  telem_buf_init(&cond);
  telem_prune_sqlf(&cond, "%s BETWEEN ?1 AND ?2 AND %s", rid, r->pred);
  telem_buf_putc(&cond, 0);
  int rc = cond.oom ? SQLITE_NOMEM : SQLITE_OK;
  if (rc == SQLITE_OK && n) {
    s->child = sqlite3_malloc64(sizeof(sqlite3_stmt *) * (size_t)n);
    s->child_row = sqlite3_malloc64(sizeof(int) * (size_t)n);
    s->child_limited = sqlite3_malloc64(sizeof(int) * (size_t)n);
    if (!s->child || !s->child_row || !s->child_limited) rc = SQLITE_NOMEM;
  }
  for (int j = 0; rc == SQLITE_OK && j < p->n; j++) {
    const TelemPruneRow *c = &p->rows[j];
    if (!ranged_child(p, pi, j)) continue;
    char *m = telem_prune_child_match(c, t, cond.p);
    const char *crid = c->rowid_name;
    telem_buf_init(&q);
    if (m && crid)
      telem_prune_sqlf(&q,
                       "DELETE FROM main.\"%w\" WHERE %s IN "
                       "(SELECT %s FROM main.\"%w\" WHERE %s LIMIT :lim)",
                       c->rule->table_name, crid, crid, c->rule->table_name, m);
    else if (m)
      telem_prune_sqlf(&q, "DELETE FROM main.\"%w\" WHERE %s", c->rule->table_name, m);
    else
      q.oom = 1;
    sqlite3_free(m);
    s->child[s->nchild] = NULL;
    s->child_row[s->nchild] = j;
    s->child_limited[s->nchild] = 0;
    rc = apply_prepare(a, &q, &s->child[s->nchild]);
    /* Named, not ?3: a filter's :tfN parameters come before it in the text
     * and would take index 3 themselves. */
    if (rc == SQLITE_OK && crid)
      s->child_limited[s->nchild] = sqlite3_bind_parameter_index(s->child[s->nchild], ":lim");
    s->nchild++;
  }
  if (rc == SQLITE_OK) {
    telem_buf_init(&q);
    telem_prune_sqlf(&q, "SELECT %s FROM main.\"%w\" WHERE %s >= ?1 ORDER BY %s LIMIT 1 OFFSET ?2",
                     rid, t, rid, rid);
    rc = apply_prepare(a, &q, &s->bound);
  }
  if (rc == SQLITE_OK) {
    telem_buf_init(&q);
    telem_prune_sqlf(&q, "DELETE FROM main.\"%w\" NOT INDEXED WHERE %s", t, cond.p);
    rc = apply_prepare(a, &q, &s->parent);
  }
  if (rc == SQLITE_NOMEM && !a->err) telem_set_oom(&a->err);
  telem_buf_free(&cond);
  return rc;
}

/* The parent rows of the next range: as many as the child budget holds at
 * the children per parent of the range just done, growing at most 2x. */
static int ranged_next_parents(int batch, int budget, sqlite3_int64 children) {
  double per = 1.0 + (double)children / batch;
  double want = budget / per;
  if (want > batch * 2.0) want = batch * 2.0;
  if (want < 1) want = 1;
  if (want > PRUNE_ADAPT_MAX) want = PRUNE_ADAPT_MAX;
  return (int)want;
}

static int apply_ranged(Applier *a, TelemPrunePlan *p, int pi, int fixed_batch, int *pBatches,
                        sqlite3_int64 *pRows, sqlite3_int64 *pCascaded) {
  RangedStmts S;
  memset(&S, 0, sizeof S);
  sqlite3_int64 *child_got = NULL; /* this transaction's rows per child statement */
  int rc = SQLITE_OK;
  for (int j = 0; rc == SQLITE_OK && j < p->n; j++) {
    const TelemPruneRow *c = &p->rows[j];
    if (telem_prune_is_child(p, j, pi) && c->status == PS_OK && !ranged_child(p, pi, j))
      rc = apply_child_pass(a, p, pi, j, fixed_batch, pCascaded);
  }
  if (rc == SQLITE_OK) rc = ranged_stmts_prepare(a, p, pi, &S);
  if (rc == SQLITE_OK && S.nchild &&
      !(child_got = sqlite3_malloc64(sizeof(sqlite3_int64) * (size_t)S.nchild))) {
    rc = SQLITE_NOMEM;
    if (!a->err) telem_set_oom(&a->err);
  }
  /* batch: parent rows per range; with children a parent row may carry any
   * number of rows, so the first range is one parent.  budget: child rows
   * per transaction. */
  int first = apply_first_batch(a);
  int batch = fixed_batch > 0 ? fixed_batch : S.nchild ? 1 : first;
  int budget = fixed_batch > 0 ? fixed_batch : first;
  sqlite3_int64 lo = INT64_MIN, hi = INT64_MAX, next_lo = 0, range_children = 0;
  int in_range = 0, last = 0;
  while (rc == SQLITE_OK) {
    /* One DELETE alone runs in autocommit (no statement journal). */
    if ((rc = apply_begin(a, S.nchild == 0)) != SQLITE_OK) break;
    if (!in_range) { /* a new range: [lo, the row before the first one after it] */
      hi = INT64_MAX;
      last = 0;
      sqlite3_bind_int64(S.bound, 1, lo);
      sqlite3_bind_int(S.bound, 2, batch);
      rc = apply_step(a, S.bound);
      if (rc == SQLITE_ROW) {
        next_lo = sqlite3_column_int64(S.bound, 0);
        hi = next_lo - 1;
        rc = SQLITE_OK;
      } else if (rc == SQLITE_DONE) {
        last = 1; /* at most `batch` rows left: the rest */
        rc = SQLITE_OK;
      }
      sqlite3_reset(S.bound);
    }
    sqlite3_int64 got = 0, cas = 0;
    int more = 0; /* a child statement reached its limit: the parents wait */
    for (int k = 0; k < S.nchild; k++) child_got[k] = 0;
    for (int k = 0; rc == SQLITE_OK && !more && k < S.nchild; k++) {
      sqlite3_int64 lim = (sqlite3_int64)budget - cas;
      if (S.child_limited[k]) {
        if (lim < 1) {
          more = 1;
          break;
        }
        sqlite3_bind_int64(S.child[k], S.child_limited[k], lim);
      }
      sqlite3_bind_int64(S.child[k], 1, lo);
      sqlite3_bind_int64(S.child[k], 2, hi);
      child_got[k] = apply_step_delete(a, S.child[k]);
      if (child_got[k] < 0) {
        rc = SQLITE_ERROR;
      } else {
        cas += child_got[k];
        if (S.child_limited[k] && child_got[k] >= lim) more = 1;
      }
    }
    if (rc == SQLITE_OK && !more) {
      sqlite3_bind_int64(S.parent, 1, lo);
      sqlite3_bind_int64(S.parent, 2, hi);
      if ((got = apply_step_delete(a, S.parent)) < 0) rc = SQLITE_ERROR;
    }
    if (rc != SQLITE_OK || (rc = apply_commit(a)) != SQLITE_OK) {
      apply_rollback(a);
      break;
    }
    *pRows += got;
    *pCascaded += cas;
    for (int k = 0; k < S.nchild; k++) p->rows[S.child_row[k]].deleted += child_got[k];
    (*pBatches)++;
    range_children += cas;
    in_range = more;
    if (!more && last) break;
    if (S.nchild == 0) {
      lo = next_lo;
      batch = apply_next_batch(a, batch, fixed_batch, batch);
      continue;
    }
    budget = apply_next_batch(a, budget, fixed_batch, cas + got);
    if (!more) {
      lo = next_lo;
      if (fixed_batch <= 0) batch = ranged_next_parents(batch, budget, range_children);
      range_children = 0;
    }
  }
  ranged_stmts_free(&S);
  sqlite3_free(child_got);
  return rc;
}

/* 1 when the first PRUNE_ORDER_SAMPLE entries of the time index's range
 * are mostly (9 in 10) neighbours in rowid order, each at most
 * PRUNE_ORDER_NEAR rowids after the one before: the table was written in
 * time order, so a slice of the index is a run of neighbouring rows and
 * keyed batches read only the eligible range.  Otherwise (imports,
 * backfill, clock changes -- even timestamps that rise with the rowid in
 * long strides) the rows of a slice are scattered, every batch would
 * rewrite pages all over the table and its other indexes, and rowid ranges
 * (each page once) are faster.  On error: 1 (keyed, as before). */
static int apply_index_in_rowid_order(Applier *a, const TelemPruneRow *r) {
  TelemBuf q;
  telem_buf_init(&q);
  telem_prune_sqlf(&q, "SELECT %s FROM main.\"%w\" WHERE %s\"%w\" < %s ORDER BY \"%w\" LIMIT %d",
                   r->rowid_name, r->rule->table_name, "", r->rule->time_column, r->hi_lit,
                   r->rule->time_column, PRUNE_ORDER_SAMPLE);
  sqlite3_stmt *st = NULL;
  if (q.oom || sqlite3_prepare_v2(a->db, q.p, -1, &st, NULL) != SQLITE_OK) {
    telem_buf_free(&q);
    return 1;
  }
  telem_buf_free(&q);
  int n = 0, near = 0;
  sqlite3_int64 prev = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    sqlite3_int64 id = sqlite3_column_int64(st, 0);
    if (n++ && id > prev && id - prev <= PRUNE_ORDER_NEAR) near++;
    prev = id;
  }
  sqlite3_finalize(st);
  return n < 2 || near * 10 >= (n - 1) * 9;
}

/* Prunes parent row pi of the plan (and its cascade children) in batches.
 * Adds to *pRows / *pCascaded.  Returns SQLITE_OK or an error (a->err). */
static int apply_table(Applier *a, TelemPrunePlan *p, int pi, int fixed_batch, int *pBatches,
                       sqlite3_int64 *pRows, sqlite3_int64 *pCascaded) {
  const TelemPruneRow *r = &p->rows[pi];
  int nchild = 0;
  for (int j = 0; j < p->n; j++)
    if (telem_prune_is_child(p, j, pi) && p->rows[j].status == PS_OK) nchild++;
  if (nchild == 0 && r->indexed > 0 && apply_index_in_rowid_order(a, r))
    return apply_keyed(a, r, fixed_batch, pBatches, pRows);
  return apply_ranged(a, p, pi, fixed_batch, pBatches, pRows, pCascaded);
}

/* Runs the prune: the plan at `now`, then every ok parent table (or only
 * `table`) in batches, logging each table.  Fills a->out.  Returns an
 * SQLite code with a->err (no function-name prefix). */
static int apply_run(Applier *a, TelemConn *c, const char *table, int fixed_batch,
                     const char *now) {
  sqlite3 *db = a->db;
  char *err = NULL;
  a->own_txn = sqlite3_get_autocommit(db);
  /* The log must be the table voxtelem creates: one with someone else's
   * trigger, CHECK or default would run their code on every log row. */
  int ex = telem_own_table_check(db, "telem_prune_log", prune_log_body, &a->err);
  if (ex < 0) return SQLITE_ERROR;
  TelemPrunePlan *p = telem_prune_plan_build(db, c, now, 0, &err);
  if (!p) {
    telem_set_err(&a->err, "%s%s", err && strncmp(err, "now ", 4) == 0 ? "argument 3: " : "",
                  err ? err : "out of memory");
    sqlite3_free(err);
    return SQLITE_ERROR;
  }
  int only = -1;
  if (table) {
    only = telem_policy_find(p->policy, table);
    if (only < 0) {
      /* Only a valid identifier is echoed: anything else may be row data. */
      telem_set_err(&a->err, "argument 1: table \"%s\" is not in the retention policy",
                    telem_policy_ident_ok(table) ? table : "(invalid name)");
      telem_prune_plan_free(p);
      return SQLITE_ERROR;
    }
    if (p->rows[only].rule->kind == TELEM_RK_CASCADE) {
      telem_set_err(&a->err, "argument 1: table \"%s\" is a cascade of %s; prune the parent",
                    p->rows[only].rule->table_name, p->rows[only].rule->cascade_from);
      telem_prune_plan_free(p);
      return SQLITE_ERROR;
    }
  }
  a->plan = p;
  sqlite3_int64 total = 0;
  int rc = SQLITE_OK;
  if (!ex) {
    char *ddl = sqlite3_mprintf("CREATE TABLE main.telem_prune_log%s", prune_log_body);
    rc = ddl ? apply_exec(a, ddl) : SQLITE_NOMEM;
    sqlite3_free(ddl);
  }
  a->run_id = 1;
  if (rc == SQLITE_OK) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT coalesce(max(run_id), 0) + 1 FROM main.telem_prune_log",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      a->run_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  a->dv = apply_data_version(db);
  apply_presence_init(a);
  if (a->worker) sqlite3_wal_hook(db, apply_wal_hook, a);
  for (int i = 0; rc == SQLITE_OK && i < p->n; i++) {
    TelemPruneRow *r = &p->rows[i];
    if (r->rule->kind == TELEM_RK_CASCADE) continue;
    if (only >= 0 && sqlite3_stricmp(r->rule->table_name, p->rows[only].rule->table_name) != 0)
      continue; /* every rule of that table (its per-type rules too) */
    sqlite3_int64 rows = 0, cascaded = 0;
    int batches = 0;
    double t0 = telem_prune_ms_now();
    sqlite3_int64 *before = NULL; /* children's deleted counts before this rule */
    if (!(before = sqlite3_malloc64(sizeof(sqlite3_int64) * (size_t)(p->n ? p->n : 1)))) {
      rc = SQLITE_NOMEM;
      if (!a->err) telem_set_oom(&a->err);
      break;
    }
    for (int j = 0; j < p->n; j++) before[j] = p->rows[j].deleted;
    if (r->status == PS_OK) rc = apply_table(a, p, i, fixed_batch, &batches, &rows, &cascaded);
    total += rows + cascaded;
    const char *status = rc != SQLITE_OK ? "error" : telem_prune_status_names[r->status];
    char *keep_err = a->err; /* the log write must not hide the first error */
    a->err = NULL;
    double ms = telem_prune_ms_now() - t0;
    int lrc = apply_log(a, r, rows, cascaded, batches, ms, status);
    /* One row per cascade child too: its own rows (sum rows_deleted over a
     * run for the total; cascaded_rows on the parent repeats the children's). */
    for (int j = 0; lrc == SQLITE_OK && j < p->n; j++) {
      TelemPruneRow *cr = &p->rows[j];
      if (!telem_prune_is_child(p, j, i)) continue;
      /* Several rules of the parent table: each logs its own children's rows. */
      if (cr->parent != i && r->status != PS_OK) continue;
      const char *cs = rc != SQLITE_OK ? "error" : telem_prune_status_names[cr->status];
      lrc = apply_log(a, cr, cr->deleted - before[j], 0, batches, ms, cs);
    }
    sqlite3_free(before);
    if (keep_err) {
      sqlite3_free(a->err);
      a->err = keep_err;
    }
    if (rc == SQLITE_OK) rc = lrc;
    if (rc != SQLITE_OK && !a->err) telem_set_err(&a->err, "%s", sqlite3_errmsg(db));
    if (rc != SQLITE_OK) {
      char *m = sqlite3_mprintf("table %s: %s (%lld rows deleted before the error)",
                                r->rule->table_name, a->err ? a->err : "error",
                                (long long)total);
      sqlite3_free(a->err);
      a->err = m;
    }
  }
  apply_rollback(a);
  if (a->worker) {
    /* What the caller's automatic checkpoint would have done by now. */
    apply_checkpoint(a, a->ckpt_auto);
    sqlite3_wal_hook(db, NULL, NULL);
  }
  a->plan = NULL;
  telem_prune_plan_free(p);
  return rc;
}

/* The integer a PRAGMA of db reads, or `dflt` when it reads none. */
static sqlite3_int64 apply_pragma_int(sqlite3 *db, const char *pragma, sqlite3_int64 dflt) {
  char *q = sqlite3_mprintf("PRAGMA %s", pragma);
  sqlite3_stmt *st = NULL;
  sqlite3_int64 val = dflt;
  if (q && sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    val = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_free(q);
  return val;
}

/* Opens a second connection to the caller's main database file (same VFS,
 * same busy timeout, foreign_keys, synchronous and secure_delete) for a prune in
 * autocommit mode; *ckpt_auto gets the caller's wal_autocheckpoint.
 * Returns NULL when main has no file (in memory or temporary: nobody else
 * can write it, the caller's connection is used), or on error with *pzErr
 * set (then *pzErr is non-NULL).
 *
 * Why: the calling SELECT reads a table, so SQLite counts it as a reader
 * until it ends, and every statement the prune ran on the caller's own
 * connection would leave main's read transaction open behind it (SQLite
 * keeps it for the other active reader).  The snapshot it pins would make
 * every batch after another process's commit fail (SQLITE_BUSY_SNAPSHOT in
 * WAL mode), and in rollback mode its SHARED lock would keep writers out
 * for the whole prune.  A connection of its own commits each batch and
 * lets go, as a separate process would.
 *
 * Its page cache is at least PRUNE_CACHE_KIB: a large batch rewrites index
 * pages all over the file (an index is in another order than the batch),
 * and with SQLite's default 2 MiB it would spill and reread them many
 * times -- the single DELETE it is measured against pays that too, and a
 * prune is a better place for the memory than every connection. */
static sqlite3 *apply_open_worker(sqlite3 *db, int *ckpt_auto, char **pzErr) {
  const char *fn = sqlite3_db_filename(db, "main");
  if (!fn || !*fn) return NULL;
  sqlite3_vfs *vfs = NULL;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_VFS_POINTER, &vfs) != SQLITE_OK) vfs = NULL;
  int flags = sqlite3_db_readonly(db, "main") == 1 ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  sqlite3 *w = NULL;
  int rc = sqlite3_open_v2(fn, &w, flags, vfs ? vfs->zName : NULL);
  if (rc != SQLITE_OK) {
    telem_set_err(pzErr, "cannot open a connection to the database: %s",
                  w ? sqlite3_errmsg(w) : "out of memory");
    sqlite3_close(w);
    return NULL;
  }
  /* The caller's settings that change what a prune does or how it waits. */
  static const char *const pragmas[] = {"busy_timeout", "foreign_keys", "main.synchronous",
                                        "main.secure_delete"};
  for (int i = 0; i < 4 && rc == SQLITE_OK; i++) {
    sqlite3_int64 val = apply_pragma_int(db, pragmas[i], -1);
    if (val < 0) continue;
    char *q = sqlite3_mprintf("PRAGMA %s = %lld", pragmas[i], (long long)val);
    rc = q ? sqlite3_exec(w, q, NULL, NULL, NULL) : SQLITE_NOMEM;
    sqlite3_free(q);
  }
  if (rc == SQLITE_OK) {
    sqlite3_int64 n = apply_pragma_int(db, "main.cache_size", 0);
    sqlite3_int64 kib = n < 0 ? -n : n * apply_pragma_int(db, "main.page_size", 4096) / 1024;
    if (kib < PRUNE_CACHE_KIB) kib = PRUNE_CACHE_KIB;
    char *q = sqlite3_mprintf("PRAGMA main.cache_size = -%lld", (long long)kib);
    rc = q ? sqlite3_exec(w, q, NULL, NULL, NULL) : SQLITE_NOMEM;
    sqlite3_free(q);
  }
  if (rc != SQLITE_OK) {
    telem_set_err(pzErr, "cannot set up a connection to the database: %s", sqlite3_errmsg(w));
    sqlite3_close(w);
    return NULL;
  }
  *ckpt_auto = (int)apply_pragma_int(db, "wal_autocheckpoint", 0);
  return w;
}

/* ---- telem_prune_apply: the table-valued function ------------------------------ */

#define APPLY_COL_RUN 0
#define APPLY_COL_TABLE 1
#define APPLY_COL_KIND 2
#define APPLY_COL_CUTOFF 3
#define APPLY_COL_ROWS 4
#define APPLY_COL_CASCADED 5
#define APPLY_COL_BATCHES 6
#define APPLY_COL_MS 7
#define APPLY_COL_STATUS 8
#define APPLY_COL_ARG_TABLE 9  /* HIDDEN argument 1 */
#define APPLY_COL_ARG_BATCH 10 /* HIDDEN argument 2 */
#define APPLY_COL_ARG_NOW 11   /* HIDDEN argument 3 */
#define APPLY_COL_EXTRA 12     /* TELEM_TVF_EXTRA_COLUMNS: too many arguments */
#define APPLY_NARGS 3

/* idxNum: bit k (k = 0, 1, 2) set when argument k + 1 is given; the given
 * ones are passed to xFilter in argument order. */

typedef struct ApplyVtab {
  sqlite3_vtab base; /* must be first */
  sqlite3 *db;
  TelemConn *c; /* borrowed: the module's client data holds the reference */
} ApplyVtab;

typedef struct ApplyCursor {
  sqlite3_vtab_cursor base; /* must be first */
  ApplyOut *out;            /* this run's rows; owned */
  int n, i;
} ApplyCursor;

static void apply_out_free(ApplyOut *o, int n) {
  for (int i = 0; i < n; i++) {
    sqlite3_free(o[i].table_name);
    sqlite3_free(o[i].cutoff);
  }
  sqlite3_free(o);
}

/* xConnect and xCreate: the run happens in xFilter. */
static int apply_connect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                         sqlite3_vtab **ppVtab, char **pzErr) {
  (void)argc;
  (void)argv;
  int rc = sqlite3_declare_vtab(db,
                                "CREATE TABLE x(run_id INTEGER, table_name TEXT, kind TEXT, "
                                "cutoff TEXT, rows_deleted INTEGER, cascaded_rows INTEGER, "
                                "batches INTEGER, duration_ms INTEGER, status TEXT, "
                                "only_table HIDDEN, batch_rows HIDDEN, now HIDDEN"
                                TELEM_TVF_EXTRA_COLUMNS ")");
  if (rc != SQLITE_OK) {
    telem_set_err(pzErr, "telem_prune_apply: %s", sqlite3_errmsg(db));
    return rc;
  }
  /* DIRECTONLY: it deletes rows and commits transactions.  Triggers and
   * views refuse DIRECTONLY tables, and a CHECK constraint, a default or a
   * generated column cannot hold a subquery: no schema object of any
   * database can run it. */
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  ApplyVtab *v = sqlite3_malloc64(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->db = db;
  v->c = pAux;
  *ppVtab = &v->base;
  return SQLITE_OK;
}

/* xDisconnect / xDestroy */
static int apply_disconnect(sqlite3_vtab *pVtab) {
  sqlite3_free(pVtab);
  return SQLITE_OK;
}

/* xBestIndex: equality constraints on the HIDDEN arguments become argv[]
 * in argument order (idxNum bits); an unusable one is SQLITE_CONSTRAINT. */
static int apply_best_index(sqlite3_vtab *pVtab, sqlite3_index_info *info) {
  int ix[APPLY_NARGS] = {-1, -1, -1}, unusable = 0;
  if (telem_tvf_too_many_args(pVtab, info, "telem_prune_apply", APPLY_COL_EXTRA, APPLY_NARGS))
    return SQLITE_ERROR;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *cn = &info->aConstraint[i];
    int k = cn->iColumn - APPLY_COL_ARG_TABLE;
    if (k < 0 || k >= APPLY_NARGS || cn->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    if (!cn->usable) {
      unusable |= 1 << k;
      continue;
    }
    ix[k] = i;
  }
  info->idxNum = 0;
  int argv_i = 1;
  for (int k = 0; k < APPLY_NARGS; k++) {
    if (ix[k] < 0) {
      if (unusable & (1 << k)) return SQLITE_CONSTRAINT;
      continue;
    }
    info->aConstraintUsage[ix[k]].argvIndex = argv_i++;
    info->aConstraintUsage[ix[k]].omit = 1;
    info->idxNum |= 1 << k;
  }
  info->estimatedCost = 1e9; /* never worth running twice: keep it outermost */
  info->estimatedRows = 10;
  return SQLITE_OK;
}

/* xOpen */
static int apply_open(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur) {
  (void)pVtab;
  ApplyCursor *cur = sqlite3_malloc64(sizeof *cur);
  if (!cur) return SQLITE_NOMEM;
  memset(cur, 0, sizeof *cur);
  *ppCur = &cur->base;
  return SQLITE_OK;
}

/* xClose */
static int apply_close(sqlite3_vtab_cursor *pCur) {
  ApplyCursor *cur = (ApplyCursor *)pCur;
  apply_out_free(cur->out, cur->n);
  sqlite3_free(cur);
  return SQLITE_OK;
}

/* xFilter: validates the arguments, runs the whole prune, keeps its rows. */
static int apply_filter(sqlite3_vtab_cursor *pCur, int idxNum, const char *idxStr, int argc,
                        sqlite3_value **argv) {
  (void)idxStr;
  ApplyCursor *cur = (ApplyCursor *)pCur;
  ApplyVtab *v = (ApplyVtab *)pCur->pVtab;
  sqlite3_value *arg[APPLY_NARGS] = {NULL, NULL, NULL};
  for (int k = 0, j = 0; k < APPLY_NARGS; k++)
    if ((idxNum & (1 << k)) && j < argc) arg[k] = argv[j++];
  apply_out_free(cur->out, cur->n);
  cur->out = NULL;
  cur->n = cur->i = 0;
  const char *table = NULL, *now = NULL;
  int fixed_batch = 0;
  if (arg[0] && sqlite3_value_type(arg[0]) != SQLITE_NULL &&
      !(table = (const char *)sqlite3_value_text(arg[0])))
    return SQLITE_NOMEM;
  if (arg[1] && sqlite3_value_type(arg[1]) != SQLITE_NULL) {
    sqlite3_int64 b = sqlite3_value_int64(arg[1]);
    if (sqlite3_value_numeric_type(arg[1]) != SQLITE_INTEGER || b < 1 || b > PRUNE_MAX_BATCH) {
      telem_vtab_errorf(pCur->pVtab,
                        "telem_prune_apply: argument 2: batch_rows must be an integer from 1 "
                        "to %d",
                        PRUNE_MAX_BATCH);
      return SQLITE_ERROR;
    }
    fixed_batch = (int)b;
  }
  if (arg[2] && sqlite3_value_type(arg[2]) != SQLITE_NULL) {
    if (sqlite3_value_type(arg[2]) != SQLITE_TEXT) {
      telem_vtab_errorf(pCur->pVtab, "telem_prune_apply: argument 3: now must be ISO-8601 text");
      return SQLITE_ERROR;
    }
    now = (const char *)sqlite3_value_text(arg[2]);
  }
  /* From a writing statement neither COMMIT nor SAVEPOINT is allowed. */
  if (telem_db_writer_busy(v->db)) {
    telem_vtab_errorf(pCur->pVtab, "telem_prune_apply: cannot run inside a writing statement; "
                                   "call it from a plain SELECT");
    return SQLITE_ERROR;
  }
  Applier a;
  memset(&a, 0, sizeof a);
  a.db = v->db;
  sqlite3 *worker = NULL;
  if (sqlite3_get_autocommit(v->db)) {
    worker = apply_open_worker(v->db, &a.ckpt_auto, &a.err);
    if (a.err) {
      telem_vtab_errorf(pCur->pVtab, "telem_prune_apply: %s", a.err);
      sqlite3_free(a.err);
      return SQLITE_ERROR;
    }
    if (worker) {
      a.db = worker;
      a.worker = 1;
    }
  }
  int rc = apply_run(&a, v->c, table, fixed_batch, now);
  sqlite3_close(worker);
  if (rc != SQLITE_OK) {
    telem_vtab_errorf(pCur->pVtab, "telem_prune_apply: %s", a.err ? a.err : "out of memory");
    apply_out_free(a.out, a.nout);
    sqlite3_free(a.err);
    return SQLITE_ERROR;
  }
  cur->out = a.out;
  cur->n = a.nout;
  sqlite3_free(a.err);
  return SQLITE_OK;
}

/* xNext */
static int apply_next(sqlite3_vtab_cursor *pCur) {
  ((ApplyCursor *)pCur)->i++;
  return SQLITE_OK;
}

/* xEof */
static int apply_eof(sqlite3_vtab_cursor *pCur) {
  ApplyCursor *cur = (ApplyCursor *)pCur;
  return cur->i >= cur->n;
}

/* xColumn */
static int apply_column(sqlite3_vtab_cursor *pCur, sqlite3_context *ctx, int col) {
  ApplyCursor *cur = (ApplyCursor *)pCur;
  const ApplyOut *o = &cur->out[cur->i];
  switch (col) {
    case APPLY_COL_RUN: sqlite3_result_int64(ctx, o->run_id); break;
    case APPLY_COL_TABLE: sqlite3_result_text(ctx, o->table_name, -1, SQLITE_TRANSIENT); break;
    case APPLY_COL_KIND: sqlite3_result_text(ctx, o->kind, -1, SQLITE_STATIC); break;
    case APPLY_COL_CUTOFF:
      if (o->cutoff) sqlite3_result_text(ctx, o->cutoff, -1, SQLITE_TRANSIENT);
      break;
    case APPLY_COL_ROWS: sqlite3_result_int64(ctx, o->rows); break;
    case APPLY_COL_CASCADED: sqlite3_result_int64(ctx, o->cascaded); break;
    case APPLY_COL_BATCHES: sqlite3_result_int(ctx, o->batches); break;
    case APPLY_COL_MS: sqlite3_result_int64(ctx, o->ms); break;
    case APPLY_COL_STATUS: sqlite3_result_text(ctx, o->status, -1, SQLITE_STATIC); break;
    default: break; /* the arguments read back as NULL */
  }
  return SQLITE_OK;
}

/* xRowid */
static int apply_rowid(sqlite3_vtab_cursor *pCur, sqlite3_int64 *pRowid) {
  *pRowid = ((ApplyCursor *)pCur)->i + 1;
  return SQLITE_OK;
}

static const sqlite3_module apply_module = {
    .iVersion = 0,
    .xCreate = apply_connect, /* eponymous too: the fallback when temp could not be made */
    .xConnect = apply_connect,
    .xBestIndex = apply_best_index,
    .xDisconnect = apply_disconnect,
    .xDestroy = apply_disconnect,
    .xOpen = apply_open,
    .xClose = apply_close,
    .xFilter = apply_filter,
    .xNext = apply_next,
    .xEof = apply_eof,
    .xColumn = apply_column,
    .xRowid = apply_rowid,
};

/* telem_prune_apply(...) as a scalar: only says how to call it.  No side
 * effect, so it may stay callable from anywhere. */
static void apply_scalar_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  sqlite3_result_error(ctx,
                       "telem_prune_apply: call it as a table: SELECT * FROM "
                       "telem_prune_apply(...)",
                       -1);
}

static const TelemSqlFunc prune_apply_funcs[] = {
    /* No side effect: it only says to call the table form. */
    {"telem_prune_apply", 0, 3, SQLITE_INNOCUOUS, apply_scalar_func},
    {NULL},
};

static const TelemSqlModule prune_apply_modules[] = {
    {"telem_prune_apply", &apply_module},
    {NULL},
};

/* telem_prune_apply is a table in the temp schema, created here, rather than
 * an eponymous table: an eponymous table belongs to main, and a statement
 * that reads a table of main holds a read transaction on main until it ends.
 * The prune commits batch after batch on this connection while its own
 * SELECT runs; with a read transaction on main held for the whole run, a
 * WAL writer's commit would leave every later batch unable to start
 * (SQLITE_BUSY_SNAPSHOT), and in rollback-journal mode writers would wait
 * for the whole prune.  A statement reading temp.telem_prune_apply holds
 * only temp's (private) transaction.  Unqualified names look in temp first,
 * so `SELECT * FROM telem_prune_apply()` finds it. */
const TelemFeature telem_feature_prune_apply = {
    "prune_apply", prune_apply_funcs, prune_apply_modules,
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.telem_prune_apply USING telem_prune_apply"};
