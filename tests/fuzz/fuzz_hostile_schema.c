/*
 * fuzz_hostile_schema.c -- libFuzzer target (issue 17 item 10): random schema
 * objects that call telem_ functions, planted in a scratch database the way
 * an attacker writes a file, then every operator action on it; nothing
 * outside the scratch copy may change.
 *
 * One input builds 1..4 objects (CHECK, DEFAULT, generated column virtual or
 * stored, expression index, partial index WHERE, trigger, view, and a
 * trigger that also writes the writable telem_retention table), each
 * calling one telem_ function -- any the build registers, found at start-up
 * in pragma_function_list / pragma_module_list, so functions added later are
 * fuzzed too -- in its scalar spelling f(args) or its table-valued one
 * (SELECT count(*) FROM f(args)), with arguments from a small vocabulary
 * (paths under a bait directory, a FIFO, inline policy YAML, NULL, numbers,
 * table names).  An attacker connection without voxtelem writes them into
 * sqlite_schema with writable_schema (so what CREATE refuses is tried too).
 *
 * The operator connection (voxtelem loaded, its own in-memory main database
 * with tables and rows, switched to the repository's contracts directory)
 * then ATTACHes the scratch file and runs quick_check, integrity_check, an
 * INSERT and an UPDATE into its table, and reads its table and views; on
 * some inputs a second connection opens the scratch file as main and does
 * the same.  Afterwards, abort() unless:
 *   - the operator's main database holds exactly what it held;
 *   - the connection's contracts source, its redaction of a password and
 *     its active retention policy are unchanged;
 *   - nothing under the bait directory was opened (inotify: IN_OPEN and
 *     IN_ACCESS on the directory and its entries).
 * Errors from the actions are expected and ignored: a hostile schema may
 * make the operator's statements fail, never act.
 *
 * KNOWN_OPEN: functions left out of the run because a schema object can
 * still act through them (a known, open hole).  Empty: every side effect is
 * a DIRECTONLY table-valued function.
 *
 * Run from the repository root (make fuzz): it reads contracts/ there.
 */
#define _GNU_SOURCE
#include "voxtelem.c" /* the entry point itself, so every feature it registers is fuzzed */

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const KNOWN_OPEN[] = {NULL};

#define MAX_NAMES 64
static char *fn_names[MAX_NAMES]; /* scalar functions: telem_* */
static int n_fn;
static char *tvf_names[MAX_NAMES]; /* modules: telem_* */
static int n_tvf;

static sqlite3 *op;       /* the operator's connection (main: its own data) */
static char tmpdir[] = "/tmp/voxtelem-hostileXXXXXX";
static char bait[PATH_MAX], scratch[PATH_MAX], contracts[PATH_MAX];
static int inotify_fd = -1;
static char *base_main, *base_state; /* what must not change */

static void die(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_hostile_schema: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  abort();
}

/* The first column of the first row of sql on db, as a malloc'd string
 * ("<NULL>" for NULL, "<error: ...>" for an error). */
static char *scalar(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  char *out;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    out = sqlite3_mprintf("<error: %s>", sqlite3_errmsg(db));
  } else {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      const unsigned char *t = sqlite3_column_text(st, 0);
      out = sqlite3_mprintf("%s", t ? (const char *)t : "<NULL>");
    } else if (rc == SQLITE_DONE) {
      out = sqlite3_mprintf("<no row>");
    } else {
      out = sqlite3_mprintf("<error: %s>", sqlite3_errmsg(db));
    }
  }
  sqlite3_finalize(st);
  if (!out) die("out of memory", NULL);
  char *copy = strdup(out);
  sqlite3_free(out);
  return copy;
}

/* The operator's data in main, as one string. */
static char *main_content(void) {
  return scalar(op,
                "SELECT (SELECT group_concat(name || ':' || sql, ';') FROM main.sqlite_schema)"
                " || '|' || (SELECT group_concat(id || ',' || created || ',' || secret, ';') FROM main.accounts)"
                " || '|' || (SELECT group_concat(id || ',' || quote(metadata_json) || ',' || created_at, ';')"
                "            FROM main.research_metrics)");
}

/* The connection's state: contracts, redaction, policy. */
static char *conn_state(sqlite3 *db) {
  return scalar(db,
                "SELECT (SELECT group_concat(DISTINCT source) FROM telem_contracts) || '|' ||"
                " telem_redact('{\"password\":\"hunter2\"}', 'strict') || '|' || telem_policy_yaml()");
}

static void exec_quiet(sqlite3 *db, const char *sql) {
  sqlite3_exec(db, sql, NULL, NULL, NULL); /* errors are expected */
}

/* Reads pending inotify events; aborts on any. */
static void check_bait(const char *when) {
  char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
  ssize_t n = read(inotify_fd, buf, sizeof buf);
  if (n > 0) {
    const struct inotify_event *ev = (const struct inotify_event *)buf;
    die("a hostile schema opened a bait path", ev->len ? ev->name : when);
  }
}

static int known_open(const char *name) {
  for (int i = 0; KNOWN_OPEN[i]; i++)
    if (strcmp(KNOWN_OPEN[i], name) == 0) return 1;
  return 0;
}

static void collect(sqlite3 *db, const char *sql, char **names, int *n) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) die("listing", sqlite3_errmsg(db));
  while (sqlite3_step(st) == SQLITE_ROW && *n < MAX_NAMES) {
    const char *z = (const char *)sqlite3_column_text(st, 0);
    if (z && !known_open(z)) names[(*n)++] = strdup(z);
  }
  sqlite3_finalize(st);
}

/* A connection with voxtelem, switched to contracts/ (the operator's own
 * statement: on a scratch database whose schema does not load it fails,
 * which only `must` makes fatal). */
static sqlite3 *open_operator(const char *path, int must) {
  sqlite3 *db;
  char *err = NULL;
  if (sqlite3_open(path, &db) != SQLITE_OK) die("open", sqlite3_errmsg(db));
  if (sqlite3_voxtelem_init(db, &err, NULL) != SQLITE_OK) die("voxtelem_init", err);
  char *sql = sqlite3_mprintf("SELECT * FROM telem_use_contracts(%Q)", contracts);
  char *r = scalar(db, sql);
  sqlite3_free(sql);
  if (must && strncmp(r, "<error", 6) == 0) die("switching to contracts/", r);
  free(r);
  return db;
}

static void setup(void) {
  if (!mkdtemp(tmpdir)) die("mkdtemp", NULL);
  snprintf(bait, sizeof bait, "%s/bait", tmpdir);
  snprintf(scratch, sizeof scratch, "%s/scratch.db", tmpdir);
  if (!realpath("contracts", contracts)) die("run from the repository root: no contracts/", NULL);
  char p[PATH_MAX + 32];
  mkdir(bait, 0700);
  snprintf(p, sizeof p, "%s/contracts", bait);
  mkdir(p, 0700);
  snprintf(p, sizeof p, "%s/contracts/index.yaml", bait);
  FILE *f = fopen(p, "w");
  if (f) { fputs("contracts: []\n", f); fclose(f); }
  snprintf(p, sizeof p, "%s/policy.yaml", bait);
  if ((f = fopen(p, "w"))) {
    fputs("tables:\n  accounts:\n    kind: ms_days\n    days: 1\n    time_column: created\n    rationale: planted\n", f);
    fclose(f);
  }
  snprintf(p, sizeof p, "%s/policy.fifo", bait);
  mkfifo(p, 0600);
  inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd < 0 || inotify_add_watch(inotify_fd, bait, IN_OPEN | IN_ACCESS) < 0) die("inotify", NULL);
  snprintf(p, sizeof p, "%s/contracts", bait);
  if (inotify_add_watch(inotify_fd, p, IN_OPEN | IN_ACCESS) < 0) die("inotify", NULL);

  op = open_operator(":memory:", 1);
  exec_quiet(op, "CREATE TABLE accounts(id INTEGER PRIMARY KEY, created INTEGER NOT NULL, secret TEXT);"
                 "INSERT INTO accounts VALUES (1, 1000, 'a'), (2, 2000, 'b');"
                 "CREATE TABLE research_metrics(id INTEGER PRIMARY KEY, session_id TEXT NOT NULL,"
                 " metric_type TEXT NOT NULL, metric_value REAL, metadata_json TEXT, created_at TEXT NOT NULL);"
                 "INSERT INTO research_metrics VALUES"
                 " (1, 's', 'benchmark_event', NULL, '{\"password\":\"hunter2\"}', '2001-01-01 00:00:00'),"
                 " (2, 's', 'benchmark_event', NULL, '{\"ms\":1}', '2999-01-01 00:00:00');");
  collect(op, "SELECT DISTINCT name FROM pragma_function_list WHERE name LIKE 'telem\\_%' ESCAPE '\\' ORDER BY 1",
          fn_names, &n_fn);
  collect(op, "SELECT name FROM pragma_module_list WHERE name LIKE 'telem\\_%' ESCAPE '\\' ORDER BY 1",
          tvf_names, &n_tvf);
  if (!n_fn || !n_tvf) die("no telem_ functions registered", NULL);
  base_main = main_content();
  base_state = conn_state(op);
  check_bait("setup");
}

/* ---- input decoding ---------------------------------------------------------- */

typedef struct Input {
  const uint8_t *p;
  size_t n;
} Input;

static unsigned next(Input *in) {
  if (!in->n) return 0;
  in->n--;
  return *in->p++;
}

/* Appends one argument from the vocabulary. */
static void put_arg(sqlite3_str *s, unsigned k) {
  switch (k % 12) {
    case 0: sqlite3_str_appendf(s, "%Q", bait); break;
    case 1: sqlite3_str_appendf(s, "'%q/contracts'", bait); break;
    case 2: sqlite3_str_appendf(s, "'%q/policy.yaml'", bait); break;
    case 3: sqlite3_str_appendf(s, "'%q/policy.fifo'", bait); break;
    case 4:
      sqlite3_str_appendall(s, "'tables: {accounts: {kind: ms_days, days: 1, time_column: created,"
                               " rationale: planted}}'");
      break;
    case 5: sqlite3_str_appendall(s, "NULL"); break;
    case 6: sqlite3_str_appendall(s, "1"); break;
    case 7: sqlite3_str_appendall(s, "'accounts'"); break;
    case 8: sqlite3_str_appendall(s, "'research_metrics'"); break;
    case 9: sqlite3_str_appendall(s, "'metadata_json'"); break;
    case 10: sqlite3_str_appendall(s, "'{\"password\":\"hunter2\"}'"); break;
    default: sqlite3_str_appendall(s, "'benchmark_event'"); break;
  }
}

/* One call: scalar or table-valued, 0..3 arguments. */
static void put_call(sqlite3_str *s, Input *in) {
  unsigned how = next(in), which = next(in), nargs = next(in) % 4;
  int tvf = how & 1;
  const char *name = tvf ? tvf_names[which % n_tvf] : fn_names[which % n_fn];
  if (tvf) sqlite3_str_appendf(s, "(SELECT count(*) FROM %s(", name);
  else sqlite3_str_appendf(s, "%s(", name);
  for (unsigned i = 0; i < nargs; i++) {
    if (i) sqlite3_str_appendall(s, ", ");
    put_arg(s, next(in));
  }
  sqlite3_str_appendall(s, tvf ? "))" : ")");
}

#define PH "coalesce(NULL,424242)"

/* Builds the scratch database: the attacker's table h with rows, objects
 * written with the placeholder, then forged into their calls. */
static void build_scratch(Input *in) {
  unlink(scratch);
  sqlite3 *at;
  if (sqlite3_open(scratch, &at) != SQLITE_OK) die("open scratch", sqlite3_errmsg(at));
  unsigned nobj = 1 + next(in) % 4;
  sqlite3_str *cols = sqlite3_str_new(NULL), *stmts = sqlite3_str_new(NULL);
  sqlite3_str *calls[4];
  for (unsigned i = 0; i < nobj; i++) {
    unsigned kind = next(in) % 10;
    calls[i] = sqlite3_str_new(NULL);
    put_call(calls[i], in);
    /* Placeholder i: coalesce(NULL,424242+i) is unique per object. */
    char ph[64];
    snprintf(ph, sizeof ph, "coalesce(NULL,%u)", 424242 + i);
    switch (kind) {
      case 0: sqlite3_str_appendf(cols, ", CHECK ((%s) IS NOT NULL OR a IS NULL)", ph); break;
      case 1: sqlite3_str_appendf(cols, ", d%u TEXT DEFAULT (%s)", i, ph); break;
      case 2: sqlite3_str_appendf(cols, ", g%u AS (coalesce((%s), a)) VIRTUAL", i, ph); break;
      case 3: sqlite3_str_appendf(cols, ", g%u AS (coalesce((%s), a)) STORED", i, ph); break;
      case 4: sqlite3_str_appendf(stmts, "CREATE INDEX i%u ON h((%s), a);", i, ph); break;
      case 5: sqlite3_str_appendf(stmts, "CREATE INDEX p%u ON h(a) WHERE (%s) IS NOT NULL OR a IS NULL;", i, ph); break;
      case 6:
        sqlite3_str_appendf(stmts, "CREATE TRIGGER t%u AFTER INSERT ON h BEGIN SELECT %s; END;", i, ph);
        break;
      case 7:
        sqlite3_str_appendf(stmts, "CREATE TRIGGER u%u AFTER UPDATE ON h BEGIN SELECT %s; END;", i, ph);
        break;
      case 8: sqlite3_str_appendf(stmts, "CREATE VIEW v%u AS SELECT (%s) AS x, * FROM h;", i, ph); break;
      default: /* a trigger writing the writable policy table (no call to forge) */
        sqlite3_str_appendf(stmts,
                            "CREATE TRIGGER w%u AFTER INSERT ON h BEGIN INSERT INTO telem_retention"
                            "(table_name, kind, days, time_column, rationale) VALUES"
                            " ('accounts', 'ms_days', 1, 'created', 'planted'); SELECT %s; END;",
                            i, ph);
        break;
    }
  }
  char *c = sqlite3_str_finish(cols), *s = sqlite3_str_finish(stmts);
  char *sql = sqlite3_mprintf("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                              "CREATE TABLE h(a INTEGER, b TEXT%s);"
                              "INSERT INTO h(a, b) VALUES (1, 'x'), (2, 'y');%s",
                              c ? c : "", s ? s : "");
  exec_quiet(at, sql);
  sqlite3_free(sql);
  sqlite3_free(c);
  sqlite3_free(s);
  exec_quiet(at, "PRAGMA writable_schema=ON");
  for (unsigned i = 0; i < nobj; i++) {
    char *call = sqlite3_str_finish(calls[i]);
    char ph[64];
    snprintf(ph, sizeof ph, "coalesce(NULL,%u)", 424242 + i);
    char *upd = sqlite3_mprintf("UPDATE sqlite_schema SET sql = replace(sql, %Q, %Q) WHERE instr(sql, %Q) > 0",
                                ph, call ? call : "1", ph);
    exec_quiet(at, upd);
    sqlite3_free(upd);
    sqlite3_free(call);
  }
  sqlite3_close(at);
}

/* The operator's actions on schema `s` ("r" attached, or "main"). */
static void operator_actions(sqlite3 *db, const char *s, unsigned mask) {
  char *sql;
#define RUN(...)                        \
  do {                                  \
    sql = sqlite3_mprintf(__VA_ARGS__); \
    exec_quiet(db, sql);                \
    sqlite3_free(sql);                  \
  } while (0)
  if (mask & 1) RUN("PRAGMA %s.quick_check", s);
  if (mask & 2) RUN("PRAGMA %s.integrity_check", s);
  if (mask & 4) RUN("INSERT INTO %s.h(a, b) VALUES (7, 'z')", s);
  if (mask & 8) RUN("UPDATE %s.h SET a = a + 1", s);
  if (mask & 16) {
    RUN("SELECT * FROM %s.h", s);
    for (int i = 0; i < 4; i++) RUN("SELECT * FROM %s.v%d", s, i);
  }
  if (mask & 32) RUN("DELETE FROM %s.h WHERE a = 1", s);
#undef RUN
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!op) setup();
  Input in = {data, size};
  unsigned mask = next(&in);
  unsigned trust = next(&in);
  build_scratch(&in);

  exec_quiet(op, (trust & 1) ? "PRAGMA trusted_schema=ON" : "PRAGMA trusted_schema=OFF");
  char *att = sqlite3_mprintf("ATTACH %Q AS r", scratch);
  exec_quiet(op, att);
  sqlite3_free(att);
  operator_actions(op, "r", mask ? mask : 63);
  exec_quiet(op, "DETACH r");
  check_bait("attached");

  char *now = main_content();
  if (strcmp(now, base_main) != 0) die("the operator's main database changed", now);
  free(now);
  now = conn_state(op);
  if (strcmp(now, base_state) != 0) die("the operator's connection state changed", now);
  free(now);

  /* The scratch file opened as main, by a connection of its own. */
  if (trust & 2) {
    sqlite3 *m = open_operator(scratch, 0);
    char *before = conn_state(m);
    exec_quiet(m, (trust & 4) ? "PRAGMA trusted_schema=ON" : "PRAGMA trusted_schema=OFF");
    operator_actions(m, "main", mask ? mask : 63);
    check_bait("main");
    char *after = conn_state(m);
    /* A schema that does not load fails both reads alike. */
    if (strcmp(before, after) != 0) die("the main connection's state changed", after);
    free(before);
    free(after);
    sqlite3_close(m);
  }
  return 0;
}
