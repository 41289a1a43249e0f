/*
 * spool.c -- the upload spool: a queue table in the database that the
 * separate uploader (upload/voxtelem-upload) drains to an operator's ingest.
 * No network code here (docs/adr/0006-uploader-is-a-separate-binary.md).
 *
 *   SELECT * FROM telem_enqueue('benchmark_event', '{"ms":12}');
 *   SELECT e.id FROM research_metrics rm,
 *          telem_enqueue(rm.metric_type, rm.metadata_json, rm.session_id) e;
 *   SELECT * FROM telem_spool;                     -- pending, bytes, oldest, last_error
 *   SELECT line FROM telem_spool_export;           -- JSON Lines, Vox's export format
 *   SELECT * FROM telem_spool_ack(42);             -- the uploader, after a 2xx
 *   SELECT * FROM telem_spool_requeue(42, 'HTTP 503');
 *
 * The spool table telem_spool_queue is created by the first enqueue.  A row
 * holds the exact JSON object the uploader POSTs (`body`: Vox's
 * ResearchMetric event, so retries send the same bytes) and with it the
 * redacted payload (`payload`, a virtual column read from the body), an
 * id (AUTOINCREMENT: an id is never reused, so a late ack cannot delete a
 * newer row), an idempotency key (a random UUID), the created time and the
 * attempt count.  An ack deletes the row: acknowledged rows never linger.
 * The retention policy covers the table like any other (kind days on
 * created_at, ...).
 *
 * telem_enqueue accepts a row only when, in this order:
 *   transmission  the taxonomy's transmission class of the metric type is
 *                 approved_usage_upload (an unknown type is refused);
 *   contract      the payload meets the research_metrics row contract: at
 *                 most 256 KiB of JSON, valid against the type's schema;
 *   class         after the `strict` redaction profile the row is at most
 *                 S1: the taxonomy's class, raised by what the redacted
 *                 payload still holds (values the profile replaced or
 *                 hashed no longer count; anything kept does), and the
 *                 session id is one the profile leaves as it is.
 * Otherwise the statement fails with "telem_enqueue: refused by rule
 * \"<rule>\": ..." -- never echoing the payload.  Each accepted row is one
 * INSERT; rows enqueued earlier in the same statement stay, so wrap a bulk
 * enqueue in BEGIN ... COMMIT to make it all or nothing.
 *
 * Security (issue 17): every module here is eponymous and
 * SQLITE_VTAB_DIRECTONLY.  Enqueue, ack and requeue write the spool; the
 * status and export views read it.  A database someone else wrote must not
 * be able to run them from a view or trigger.
 *
 * Statements are prepared once per module instance (the connection's
 * eponymous vtab) and finalized in xDisconnect.
 */
#include "sql/sql.h"
#include "engine/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SPOOL_TABLE "telem_spool_queue"
/* The spool table after "CREATE TABLE <name>" (sqlite_master keeps this
 * text; telem_own_table_check compares it before the table is used). */
#define SPOOL_BODY                                                                           \
  "(\n"                                                                                      \
  "  id INTEGER PRIMARY KEY AUTOINCREMENT, -- spool order; never reused\n"                   \
  "  idempotency_key TEXT NOT NULL,        -- sent as Idempotency-Key on every attempt\n"    \
  "  created_at TEXT NOT NULL,             -- ISO-8601 UTC, for retention\n"                 \
  "  attempts INTEGER NOT NULL DEFAULT 0,  -- failed uploads so far\n"                       \
  "  metric_type TEXT NOT NULL,\n"                                                           \
  "  session_id TEXT NOT NULL,\n"                                                            \
  "  metric_value REAL,\n"                                                                   \
  "  payload TEXT GENERATED ALWAYS AS (json_extract(body, '$.metadata_json')) VIRTUAL,\n"     \
  "  class TEXT NOT NULL,                  -- S0 or S1\n"                                    \
  "  body TEXT NOT NULL,                   -- the JSON object POSTed\n"                      \
  "  last_error TEXT,\n"                                                                     \
  "  last_attempt_at TEXT)"
#define SPOOL_DDL "CREATE TABLE IF NOT EXISTS main." SPOOL_TABLE SPOOL_BODY
#define UPLOAD_TRANSMISSION "approved_usage_upload"
#define STRICT_PROFILE "strict"
#define ERROR_MAX_BYTES 1000 /* requeue keeps this much of an error text */

/* ---- helpers --------------------------------------------------------------- */

/* Current UTC time as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out[32]. */
static void spool_now(char *out) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  /* strftime bounds every field; the milliseconds are 0..999 */
  size_t k = strftime(out, 24, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + k, 32 - k, ".%03dZ", (int)(ts.tv_nsec / 1000000L) % 1000);
}

/* A random (version 4) UUID into out[37]. */
static void spool_uuid(char *out) {
  unsigned char b[16];
  sqlite3_randomness(16, b);
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  static const char hex[] = "0123456789abcdef";
  int k = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[k++] = '-';
    out[k++] = hex[b[i] >> 4];
    out[k++] = hex[b[i] & 15];
  }
  out[k] = 0;
}

/* Appends d as serde_json (Vox) writes an f64: the shortest digits that
 * read back as d, laid out as the ryu crate does -- fixed notation with
 * ".0" on integral values while the decimal point falls within 21 digits
 * left or 6 right, else d.ddde<exp> ("100.0", "0.1", "1e21", "-3.5e-7"). */
static void spool_put_double(TelemBuf *b, double d) {
  char s[40];
  for (int prec = 0; prec <= 17; prec++) {
    snprintf(s, sizeof s, "%.*e", prec, d);
    if (strtod(s, NULL) == d) break;
  }
  const char *p = s;
  if (*p == '-') {
    telem_buf_putc(b, '-');
    p++;
  }
  char dig[24];
  int len = 0;
  for (; *p && *p != 'e'; p++)
    if (*p != '.' && len < 23) dig[len++] = *p;
  dig[len] = 0;
  int kk = (*p == 'e' ? atoi(p + 1) : 0) + 1; /* where the decimal point goes */
  while (len > 1 && dig[len - 1] == '0') dig[--len] = 0;
  if (len <= kk && kk <= 21) {
    telem_buf_append(b, dig, (size_t)len);
    for (int i = len; i < kk; i++) telem_buf_putc(b, '0');
    telem_buf_puts(b, ".0");
  } else if (0 < kk && kk <= 21) {
    telem_buf_append(b, dig, (size_t)kk);
    telem_buf_putc(b, '.');
    telem_buf_puts(b, dig + kk);
  } else if (-6 < kk && kk <= 0) {
    telem_buf_puts(b, "0.");
    for (int i = kk; i < 0; i++) telem_buf_putc(b, '0');
    telem_buf_puts(b, dig);
  } else {
    telem_buf_putc(b, dig[0]);
    if (len > 1) {
      telem_buf_putc(b, '.');
      telem_buf_puts(b, dig + 1);
    }
    telem_buf_printf(b, "e%d", kk - 1);
  }
}

/* 1 when a JSON string value is exactly a mark the redactor leaves in
 * place of a value: "[REDACTED:<rule>]" or "xxh3:<16 hex>". */
static int spool_is_mark(const char *s, size_t n) {
  if (n > 11 && memcmp(s, "[REDACTED:", 10) == 0 && s[n - 1] == ']' && !memchr(s + 10, ']', n - 11))
    return 1;
  if (n == 21 && memcmp(s, "xxh3:", 5) == 0) {
    for (size_t i = 5; i < n; i++)
      if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
  }
  return 0;
}

/* Writes v as compact JSON with every string value that is a redaction
 * mark emptied: what the strict profile neutralised must not count when
 * the redacted payload is classified (a hashed "prompt" is no prompt). */
static void spool_write_unmarked(TelemBuf *b, const TelemJson *v) {
  if (v->type == TJ_STRING && spool_is_mark(v->s, v->n)) {
    telem_buf_puts(b, "\"\"");
  } else if (v->type == TJ_OBJECT || v->type == TJ_ARRAY) {
    telem_buf_putc(b, v->type == TJ_OBJECT ? '{' : '[');
    for (const TelemJson *m = v->child; m; m = m->next) {
      if (m != v->child) telem_buf_putc(b, ',');
      if (v->type == TJ_OBJECT) {
        telem_buf_json_string(b, m->key, m->key_len);
        telem_buf_putc(b, ':');
      }
      spool_write_unmarked(b, m);
    }
    telem_buf_putc(b, v->type == TJ_OBJECT ? '}' : ']');
  } else {
    telem_json_write(b, v);
  }
}

/* ---- one vtab type for every module ------------------------------------------ */

/* What a module is; selects the schema, the arguments and xFilter. */
enum { SP_ENQUEUE, SP_ACK, SP_REQUEUE, SP_STATUS, SP_EXPORT };

typedef struct SpoolDef {
  const char *name;   /* SQL name, also the error prefix */
  const char *schema; /* declared columns, HIDDEN arguments last */
  int n_out;          /* visible columns */
  int min_args, max_args;
} SpoolDef;

static const SpoolDef spool_defs[] = {
    [SP_ENQUEUE] = {"telem_enqueue",
                    "CREATE TABLE x(id INTEGER, idempotency_key TEXT, class TEXT, bytes INTEGER, "
                    "created_at TEXT, metric_type HIDDEN, payload HIDDEN, session_id HIDDEN, "
                    "metric_value HIDDEN" TELEM_TVF_EXTRA_COLUMNS ")",
                    5, 2, 4},
    [SP_ACK] = {"telem_spool_ack",
                "CREATE TABLE x(id INTEGER, acked INTEGER, arg_id HIDDEN" TELEM_TVF_EXTRA_COLUMNS
                ")",
                2, 1, 1},
    [SP_REQUEUE] = {"telem_spool_requeue",
                    "CREATE TABLE x(id INTEGER, requeued INTEGER, attempts INTEGER, arg_id HIDDEN, "
                    "error HIDDEN" TELEM_TVF_EXTRA_COLUMNS ")",
                    3, 2, 2},
    [SP_STATUS] = {"telem_spool",
                   "CREATE TABLE x(pending INTEGER, bytes INTEGER, oldest TEXT, newest TEXT, "
                   "max_attempts INTEGER, last_error TEXT, last_attempt_at TEXT" TELEM_TVF_EXTRA_COLUMNS ")",
                   7, 0, 0},
    [SP_EXPORT] = {"telem_spool_export",
                   "CREATE TABLE x(line TEXT, id INTEGER, idempotency_key TEXT, attempts INTEGER, "
                   "created_at TEXT, metric_type TEXT, class TEXT, bytes INTEGER" TELEM_TVF_EXTRA_COLUMNS ")",
                   8, 0, 0},
};

#define SP_MAX_OUT 8

typedef struct SpoolVtab {
  sqlite3_vtab base;   /* must be first */
  sqlite3 *db;
  TelemConn *conn;     /* borrowed: the module's client data outlives the vtab */
  int kind;            /* SP_* */
  sqlite3_stmt *stmt;  /* the module's write statement, prepared on first use; owned */
  sqlite3_stmt *ver;   /* PRAGMA schema_version, to notice schema changes; owned */
  int checked_ver;     /* schema version when the table was last checked (-1: never) */
} SpoolVtab;

/* One output row: either computed (side-effect modules, status) or the
 * current row of `scan` (export). */
typedef struct SpoolCursor {
  sqlite3_vtab_cursor base; /* must be first */
  sqlite3_stmt *scan;       /* export: the running query; owned */
  int eof;
  sqlite3_int64 rowid;
  int type[SP_MAX_OUT];      /* SQLITE_INTEGER, SQLITE_TEXT or SQLITE_NULL */
  sqlite3_int64 ival[SP_MAX_OUT];
  char *sval[SP_MAX_OUT];    /* sqlite3 memory; owned */
} SpoolCursor;

static void spool_cursor_clear(SpoolCursor *cur) {
  for (int i = 0; i < SP_MAX_OUT; i++) {
    sqlite3_free(cur->sval[i]);
    cur->sval[i] = NULL;
    cur->type[i] = SQLITE_NULL;
  }
  sqlite3_finalize(cur->scan);
  cur->scan = NULL;
  cur->eof = 1;
}

static void spool_set_int(SpoolCursor *cur, int col, sqlite3_int64 v) {
  cur->type[col] = SQLITE_INTEGER;
  cur->ival[col] = v;
}

/* Takes ownership of z (sqlite3 memory); NULL z stays NULL. */
static void spool_set_text_take(SpoolCursor *cur, int col, char *z) {
  sqlite3_free(cur->sval[col]);
  cur->sval[col] = z;
  cur->type[col] = z ? SQLITE_TEXT : SQLITE_NULL;
}

/* 1 when main has the spool table as voxtelem creates it, 0 when it has
 * none, -1 (vtab error set) when a table of that name is someone else's or
 * carries their trigger or index: writing or reading it could run their
 * code, so it is refused (the rule telem_own_table_check applies to every
 * table voxtelem creates). */
static int spool_table_state(SpoolVtab *vt) {
  char *err = NULL;
  int r = telem_own_table_check(vt->db, SPOOL_TABLE, SPOOL_BODY, &err);
  if (r < 0)
    telem_vtab_errorf(&vt->base, "%s: %s", spool_defs[vt->kind].name, err ? err : "out of memory");
  sqlite3_free(err);
  return r;
}

/* The module's cached statement, prepared from sql on first use (creating
 * the table first when create is set).  NULL with the vtab error set. */
static sqlite3_stmt *spool_stmt(SpoolVtab *vt, const char *sql, int create) {
  /* The table is checked again whenever the schema changed since the last
   * check (one cheap PRAGMA per call): a trigger added later must not fire
   * from a statement prepared before it. */
  int ver = -1;
  if (vt->ver || sqlite3_prepare_v3(vt->db, "PRAGMA main.schema_version", -1,
                                    SQLITE_PREPARE_PERSISTENT, &vt->ver, NULL) == SQLITE_OK) {
    if (sqlite3_step(vt->ver) == SQLITE_ROW) ver = sqlite3_column_int(vt->ver, 0);
    sqlite3_reset(vt->ver);
  }
  if (vt->stmt && ver >= 0 && ver == vt->checked_ver) return vt->stmt;
  if (spool_table_state(vt) < 0) return NULL;
  vt->checked_ver = ver;
  if (vt->stmt) return vt->stmt;
  const char *fn = spool_defs[vt->kind].name;
  if (create) {
    char *err = NULL;
    if (sqlite3_exec(vt->db, SPOOL_DDL, NULL, NULL, &err) != SQLITE_OK) {
      telem_vtab_errorf(&vt->base, "%s: creating the spool table: %s", fn,
                        err ? err : sqlite3_errmsg(vt->db));
      sqlite3_free(err);
      return NULL;
    }
  }
  if (create) vt->checked_ver = -1; /* the CREATE changed the version: check again next call */
  if (sqlite3_prepare_v3(vt->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &vt->stmt, NULL) !=
      SQLITE_OK) {
    telem_vtab_errorf(&vt->base, "%s: %s", fn, sqlite3_errmsg(vt->db));
    vt->stmt = NULL;
  }
  return vt->stmt;
}

/* Runs st to completion and resets it; SQLITE_OK or the error set on vt. */
static int spool_run(SpoolVtab *vt, sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) rc = SQLITE_DONE;
  if (rc != SQLITE_DONE) {
    telem_vtab_errorf(&vt->base, "%s: %s", spool_defs[vt->kind].name, sqlite3_errmsg(vt->db));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_NOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return SQLITE_OK;
}

/* ---- telem_enqueue ------------------------------------------------------------ */

#define ENQ_COL_ID 0
#define ENQ_COL_KEY 1
#define ENQ_COL_CLASS 2
#define ENQ_COL_BYTES 3
#define ENQ_COL_CREATED 4

#define ENQ_INSERT                                                                         \
  "INSERT INTO main." SPOOL_TABLE "(idempotency_key, created_at, attempts, metric_type, " \
  "session_id, metric_value, class, body) VALUES (?1, ?2, 0, ?3, ?4, ?5, ?6, ?7)"

/* Refuses the row: "telem_enqueue: refused by rule "<rule>": <why>". */
static int enq_refuse(SpoolVtab *vt, const char *rule, const char *why) {
  telem_vtab_errorf(&vt->base, "telem_enqueue: refused by rule \"%s\": %s", rule, why);
  return SQLITE_ERROR;
}

/* Engine failure (not a refusal): OOM stays SQLITE_NOMEM. */
static int enq_fail(SpoolVtab *vt, char *err) {
  int oom = !err || strcmp(err, "out of memory") == 0;
  if (!oom) telem_vtab_errorf(&vt->base, "telem_enqueue: %s", err);
  sqlite3_free(err);
  return oom ? SQLITE_NOMEM : SQLITE_ERROR;
}

/* The rules, in order; on success fills the cursor's one row.  argv:
 * metric_type, payload [, session_id [, metric_value]]. */
static int enq_filter(SpoolVtab *vt, SpoolCursor *cur, int argc, sqlite3_value **argv) {
  TelemConn *c = vt->conn;
  char *err = NULL;
  int rc = SQLITE_OK;
  TelemBuf red, tmp, body;
  telem_buf_init(&red);
  telem_buf_init(&tmp);
  telem_buf_init(&body);

  /* transmission */
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT)
    return enq_refuse(vt, "transmission", "argument 1 (metric_type) must be text");
  const char *mt = (const char *)sqlite3_value_text(argv[0]);
  if (!mt) return SQLITE_NOMEM;
  size_t mtn = (size_t)sqlite3_value_bytes(argv[0]);
  const TelemTaxonomyRow *row = strlen(mt) == mtn ? telem_registry_metric(c->reg, mt) : NULL;
  if (!row) return enq_refuse(vt, "transmission", "the metric type is not in the taxonomy");
  if (!row->transmission || strcmp(row->transmission, UPLOAD_TRANSMISSION) != 0) {
    /* both names come from the contracts, still escaped for the message */
    char *t = telem_printable(row->transmission, row->transmission ? strlen(row->transmission) : 0,
                              64);
    char *m = telem_printable(row->metric_type, strlen(row->metric_type), 128);
    if (!t || !m) {
      sqlite3_free(t);
      sqlite3_free(m);
      return SQLITE_NOMEM;
    }
    telem_vtab_errorf(&vt->base,
                      "telem_enqueue: refused by rule \"transmission\": metric type %s is %s; "
                      "only " UPLOAD_TRANSMISSION " may be uploaded",
                      m, *t ? t : "(none)");
    sqlite3_free(t);
    sqlite3_free(m);
    return SQLITE_ERROR;
  }

  /* contract: session_id, metric_value, payload */
  const char *sid = "";
  size_t sidn = 0;
  if (argc > 2 && sqlite3_value_type(argv[2]) != SQLITE_NULL) {
    if (sqlite3_value_type(argv[2]) != SQLITE_TEXT)
      return enq_refuse(vt, "contract", "session_id must be text");
    sid = (const char *)sqlite3_value_text(argv[2]);
    if (!sid) return SQLITE_NOMEM;
    sidn = (size_t)sqlite3_value_bytes(argv[2]);
    if (sidn == 0) return enq_refuse(vt, "contract", "session_id is empty");
    if (memchr(sid, 0, sidn) || !telem_utf8_valid(sid, sidn))
      return enq_refuse(vt, "contract", "session_id is not valid UTF-8 text");
    if (sidn > 512) /* Vox's validate_research_metric_row: len() > 512, in bytes */
      return enq_refuse(vt, "contract", "session_id exceeds 512 bytes");
  }
  int has_value = 0;
  double value = 0;
  if (argc > 3 && sqlite3_value_type(argv[3]) != SQLITE_NULL) {
    int vt3 = sqlite3_value_type(argv[3]);
    if (vt3 != SQLITE_INTEGER && vt3 != SQLITE_FLOAT)
      return enq_refuse(vt, "contract", "metric_value must be a number or NULL");
    value = sqlite3_value_double(argv[3]);
    if (!isfinite(value)) return enq_refuse(vt, "contract", "metric_value must be a finite number");
    has_value = 1;
  }
  const char *pz = NULL;
  size_t pn = 0;
  if (sqlite3_value_type(argv[1]) != SQLITE_NULL) {
    if (sqlite3_value_type(argv[1]) != SQLITE_TEXT)
      return enq_refuse(vt, "contract", "payload must be JSON text or NULL");
    pz = (const char *)sqlite3_value_text(argv[1]);
    if (!pz) return SQLITE_NOMEM;
    pn = (size_t)sqlite3_value_bytes(argv[1]);
    if (pn > TELEM_METADATA_MAX_BYTES) {
      char why[80];
      snprintf(why, sizeof why, "payload is larger than %d bytes", TELEM_METADATA_MAX_BYTES);
      return enq_refuse(vt, "contract", why);
    }
  }
  int cls = row->sensitivity ? telem_class_rank(row->sensitivity) : -1;
  if (cls < 0) cls = 3;
  telem_arena_reset(&c->arena);
  if (pz) {
    TelemJsonError je;
    memset(&je, 0, sizeof je);
    const TelemJson *j = telem_json_parse(&c->arena, pz, pn, &je);
    if (!j) {
      if (je.what && strcmp(je.what, "out of memory") == 0) {
        rc = SQLITE_NOMEM;
        goto done;
      }
      char why[160];
      snprintf(why, sizeof why, "payload is not valid JSON (line %d, column %d: %s)", je.line,
               je.column, je.what ? je.what : "syntax error");
      rc = enq_refuse(vt, "contract", why);
      goto done;
    }
    int fatal = 0;
    char *problem = telem_metric_payload_problem(c, row, j, &fatal, &err);
    if (fatal) {
      rc = enq_fail(vt, err);
      err = NULL;
      goto done;
    }
    if (problem) {
      rc = enq_refuse(vt, "contract", problem);
      sqlite3_free(problem);
      goto done;
    }

    /* class: strict profile, then classify what is left */
    TelemRedactor *r = telem_redact_rules(c->reg, &err);
    if (!r) {
      rc = enq_fail(vt, err);
      err = NULL;
      goto done;
    }
    int prof = telem_redactor_profile_index(r, STRICT_PROFILE);
    if (prof < 0) {
      telem_vtab_errorf(&vt->base, "telem_enqueue: the redaction rules have no \"%s\" profile",
                        STRICT_PROFILE);
      rc = SQLITE_ERROR;
      goto done;
    }
    /* Classify the payload as it stands first.  When it is S0/S1 and every
     * rule is above S1, no rule matched anything, so the strict profile
     * would change nothing: the redacted payload is the payload, compact
     * (this skips a second walk of every row).  Otherwise redact, and when
     * the payload was above S1, classify what the profile left. */
    int raw = cls;
    if (cls <= 1 && telem_redactor_classify(r, &c->arena, pz, pn, &raw, &err)) {
      rc = enq_fail(vt, err);
      err = NULL;
      goto done;
    }
    int min_rule = 3;
    for (int i = 0, n = telem_redactor_rule_count(r); i < n; i++)
      if (telem_redactor_rule_class(r, i) < min_rule) min_rule = telem_redactor_rule_class(r, i);
    if (raw <= 1 && min_rule >= 2) {
      telem_json_write(&red, j);
    } else if (telem_redactor_run(r, prof, &c->arena, pz, pn, &red, NULL, &err)) {
      rc = enq_fail(vt, err);
      err = NULL;
      goto done;
    }
    if (red.oom) {
      rc = SQLITE_NOMEM;
      goto done;
    }
    if (cls <= 1 && raw > 1) {
      const TelemJson *rj = telem_json_parse(&c->arena, red.p ? red.p : "", red.len, &je);
      if (rj) {
        spool_write_unmarked(&tmp, rj);
        if (tmp.oom) {
          rc = SQLITE_NOMEM;
          goto done;
        }
        if (telem_redactor_classify(r, &c->arena, tmp.p ? tmp.p : "", tmp.len, &cls, &err)) {
          rc = enq_fail(vt, err);
          err = NULL;
          goto done;
        }
      } else {
        cls = 3; /* cannot happen: the redactor writes JSON; fail closed */
      }
    }
  }
  /* The session id leaves the machine too: it must be something the
   * strict profile would not touch (an id, not an e-mail address or a
   * home directory). */
  if (sidn && cls <= 1) {
    TelemRedactor *r = telem_redact_rules(c->reg, &err);
    if (!r) {
      rc = enq_fail(vt, err);
      err = NULL;
      goto done;
    }
    int prof = telem_redactor_profile_index(r, STRICT_PROFILE);
    tmp.len = 0;
    if (prof < 0 || telem_redactor_run(r, prof, &c->arena, sid, sidn, &tmp, NULL, &err) ||
        tmp.len != sidn || memcmp(tmp.p, sid, sidn) != 0) {
      if (tmp.oom || (err && strcmp(err, "out of memory") == 0)) {
        rc = SQLITE_NOMEM;
        goto done;
      }
      rc = enq_refuse(vt, "class", "session_id holds data the strict profile redacts");
      goto done;
    }
  }
  if (cls > 1) {
    char why[120];
    snprintf(why, sizeof why,
             "after the %s profile the row is %s; only S0 and S1 may be uploaded", STRICT_PROFILE,
             telem_class_name(cls));
    rc = enq_refuse(vt, "class", why);
    goto done;
  }

  /* the body POSTed: Vox's ResearchMetric event, keys in serde_json's order */
  telem_buf_puts(&body, "{\"event_type\":\"research_metric\",\"metadata_json\":");
  if (pz) telem_buf_json_string(&body, red.p ? red.p : "", red.len);
  else telem_buf_puts(&body, "null");
  telem_buf_puts(&body, ",\"metric_type\":");
  telem_buf_json_string(&body, mt, mtn);
  telem_buf_puts(&body, ",\"metric_value\":");
  if (has_value) spool_put_double(&body, value);
  else telem_buf_puts(&body, "null");
  telem_buf_puts(&body, ",\"session_id\":");
  telem_buf_json_string(&body, sid, sidn);
  telem_buf_putc(&body, '}');
  if (body.oom) {
    rc = SQLITE_NOMEM;
    goto done;
  }

  sqlite3_stmt *st = spool_stmt(vt, ENQ_INSERT, 1);
  if (!st) {
    rc = SQLITE_ERROR;
    goto done;
  }
  char key[37], now[32];
  spool_uuid(key);
  spool_now(now);
  /* one pass, or two when the table was dropped since the statement was
   * prepared: then it is created again */
  for (int pass = 0; pass < 2; pass++) {
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, mt, (int)mtn, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, sid, (int)sidn, SQLITE_STATIC);
    if (has_value) sqlite3_bind_double(st, 5, value);
    sqlite3_bind_text(st, 6, telem_class_name(cls), 2, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, body.p, (int)body.len, SQLITE_STATIC);
    rc = spool_run(vt, st);
    if (pass || rc != SQLITE_ERROR || spool_table_state(vt) != 0) break;
    sqlite3_finalize(vt->stmt);
    vt->stmt = NULL;
    if (!(st = spool_stmt(vt, ENQ_INSERT, 1))) break;
  }
  if (rc != SQLITE_OK) goto done;
  spool_set_int(cur, ENQ_COL_ID, sqlite3_last_insert_rowid(vt->db));
  spool_set_text_take(cur, ENQ_COL_KEY, sqlite3_mprintf("%s", key));
  spool_set_text_take(cur, ENQ_COL_CLASS, sqlite3_mprintf("%s", telem_class_name(cls)));
  spool_set_int(cur, ENQ_COL_BYTES, (sqlite3_int64)body.len);
  spool_set_text_take(cur, ENQ_COL_CREATED, sqlite3_mprintf("%s", now));
  if (!cur->sval[ENQ_COL_KEY] || !cur->sval[ENQ_COL_CLASS] || !cur->sval[ENQ_COL_CREATED]) {
    rc = SQLITE_NOMEM; /* the row is in: the caller's transaction decides */
    goto done;
  }
  cur->rowid = cur->ival[ENQ_COL_ID];
  cur->eof = 0;
done:
  telem_arena_reset(&c->arena);
  telem_buf_free(&red);
  telem_buf_free(&tmp);
  telem_buf_free(&body);
  sqlite3_free(err);
  return rc;
}

/* ---- telem_spool_ack / telem_spool_requeue --------------------------------------- */

/* argv[0] as a spool id; sets the vtab error when it is not an integer. */
static int spool_id_arg(SpoolVtab *vt, sqlite3_value *v, sqlite3_int64 *id) {
  if (sqlite3_value_numeric_type(v) != SQLITE_INTEGER) {
    telem_vtab_errorf(&vt->base, "%s: argument 1 (id) must be an integer",
                      spool_defs[vt->kind].name);
    return SQLITE_ERROR;
  }
  *id = sqlite3_value_int64(v);
  return SQLITE_OK;
}

/* Ack: the upload got a 2xx, so the row goes.  Acking an id that is not
 * there (already acked, pruned) is not an error: acked = 0. */
static int ack_filter(SpoolVtab *vt, SpoolCursor *cur, sqlite3_value **argv) {
  sqlite3_int64 id;
  int rc = spool_id_arg(vt, argv[0], &id);
  if (rc) return rc;
  int n = 0, state = spool_table_state(vt);
  if (state < 0) return SQLITE_ERROR;
  if (state) {
    sqlite3_stmt *st = spool_stmt(vt, "DELETE FROM main." SPOOL_TABLE " WHERE id = ?1", 0);
    if (!st) return SQLITE_ERROR;
    sqlite3_bind_int64(st, 1, id);
    if ((rc = spool_run(vt, st))) return rc;
    n = sqlite3_changes(vt->db);
  }
  spool_set_int(cur, 0, id);
  spool_set_int(cur, 1, n);
  cur->rowid = id;
  cur->eof = 0;
  return SQLITE_OK;
}

/* Requeue: an attempt failed; the row stays, its attempt count goes up and
 * the error is kept (valid UTF-8, at most ERROR_MAX_BYTES). */
static int requeue_filter(SpoolVtab *vt, SpoolCursor *cur, sqlite3_value **argv) {
  sqlite3_int64 id;
  int rc = spool_id_arg(vt, argv[0], &id);
  if (rc) return rc;
  TelemBuf e;
  telem_buf_init(&e);
  if (sqlite3_value_type(argv[1]) != SQLITE_NULL) {
    const char *z = (const char *)sqlite3_value_text(argv[1]);
    if (!z) return SQLITE_NOMEM;
    size_t n = (size_t)sqlite3_value_bytes(argv[1]);
    telem_buf_utf8_repair(&e, z, n > ERROR_MAX_BYTES ? ERROR_MAX_BYTES : n);
  } else {
    telem_buf_puts(&e, "unknown error");
  }
  if (e.oom) {
    telem_buf_free(&e);
    return SQLITE_NOMEM;
  }
  int found = 0, state = spool_table_state(vt);
  sqlite3_int64 attempts = 0;
  if (state < 0) {
    telem_buf_free(&e);
    return SQLITE_ERROR;
  }
  if (state) {
    sqlite3_stmt *st = spool_stmt(vt,
                                  "UPDATE main." SPOOL_TABLE
                                  " SET attempts = attempts + 1, last_error = ?2, "
                                  "last_attempt_at = ?3 WHERE id = ?1 RETURNING attempts",
                                  0);
    if (!st) {
      telem_buf_free(&e);
      return SQLITE_ERROR;
    }
    char now[32];
    spool_now(now);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, e.p, (int)e.len, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, now, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      found = 1;
      attempts = sqlite3_column_int64(st, 0);
      rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
      telem_vtab_errorf(&vt->base, "telem_spool_requeue: %s", sqlite3_errmsg(vt->db));
      sqlite3_reset(st);
      sqlite3_clear_bindings(st);
      telem_buf_free(&e);
      return SQLITE_ERROR;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
  }
  telem_buf_free(&e);
  spool_set_int(cur, 0, id);
  spool_set_int(cur, 1, found);
  if (found) spool_set_int(cur, 2, attempts);
  cur->rowid = id;
  cur->eof = 0;
  return SQLITE_OK;
}

/* ---- telem_spool (status) and telem_spool_export ---------------------------------- */

static int status_filter(SpoolVtab *vt, SpoolCursor *cur) {
  spool_set_int(cur, 0, 0);
  spool_set_int(cur, 1, 0);
  spool_set_int(cur, 4, 0);
  cur->rowid = 1;
  cur->eof = 0;
  int state = spool_table_state(vt);
  if (state < 0) return SQLITE_ERROR;
  if (!state) return SQLITE_OK;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(
      vt->db,
      "SELECT count(*), coalesce(sum(length(CAST(body AS BLOB))), 0), min(created_at), "
      "max(created_at), coalesce(max(attempts), 0), "
      "(SELECT last_error FROM main." SPOOL_TABLE " WHERE last_error IS NOT NULL "
      "ORDER BY last_attempt_at DESC, id DESC LIMIT 1), max(last_attempt_at) "
      "FROM main." SPOOL_TABLE,
      -1, &st, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    spool_set_int(cur, 0, sqlite3_column_int64(st, 0));
    spool_set_int(cur, 1, sqlite3_column_int64(st, 1));
    spool_set_int(cur, 4, sqlite3_column_int64(st, 4));
    static const int texts[] = {2, 3, 5, 6};
    for (int i = 0; i < 4; i++) {
      const unsigned char *z = sqlite3_column_text(st, texts[i]);
      if (z) spool_set_text_take(cur, texts[i], sqlite3_mprintf("%s", z));
    }
    rc = SQLITE_OK;
  }
  if (rc != SQLITE_OK) telem_vtab_errorf(&vt->base, "telem_spool: %s", sqlite3_errmsg(vt->db));
  sqlite3_finalize(st);
  return rc == SQLITE_OK ? SQLITE_OK : SQLITE_ERROR;
}

static int export_next(SpoolCursor *cur) {
  if (!cur->scan) {
    cur->eof = 1;
    return SQLITE_OK;
  }
  int rc = sqlite3_step(cur->scan);
  if (rc == SQLITE_ROW) {
    cur->eof = 0;
    cur->rowid = sqlite3_column_int64(cur->scan, 1);
    return SQLITE_OK;
  }
  cur->eof = 1;
  if (rc == SQLITE_DONE) return SQLITE_OK;
  telem_vtab_errorf(cur->base.pVtab, "telem_spool_export: %s",
                    sqlite3_errmsg(sqlite3_db_handle(cur->scan)));
  return SQLITE_ERROR;
}

/* Export: the pending rows in spool order; `line` is the body, which is
 * what Vox's `vox telemetry export` prints for a spooled ResearchMetric
 * event (compact JSON, keys sorted as serde_json sorts them). */
static int export_filter(SpoolVtab *vt, SpoolCursor *cur) {
  int state = spool_table_state(vt);
  if (state < 0) return SQLITE_ERROR;
  if (!state) return SQLITE_OK;
  int rc = sqlite3_prepare_v2(vt->db,
                              "SELECT body, id, idempotency_key, attempts, created_at, metric_type, "
                              "class, length(CAST(body AS BLOB)) FROM main." SPOOL_TABLE
                              " ORDER BY id",
                              -1, &cur->scan, NULL);
  if (rc != SQLITE_OK) {
    telem_vtab_errorf(&vt->base, "telem_spool_export: %s", sqlite3_errmsg(vt->db));
    cur->scan = NULL;
    return SQLITE_ERROR;
  }
  return export_next(cur);
}

/* ---- module slots ------------------------------------------------------------------ */

static int spool_connect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                         sqlite3_vtab **ppVtab, char **pzErr, int kind) {
  (void)argc;
  (void)argv;
  int rc = sqlite3_declare_vtab(db, spool_defs[kind].schema);
  if (rc != SQLITE_OK) return rc;
  SpoolVtab *v = sqlite3_malloc64(sizeof(*v));
  if (!v) {
    telem_set_err(pzErr, "%s: out of memory", spool_defs[kind].name);
    return SQLITE_NOMEM;
  }
  memset(v, 0, sizeof(*v));
  v->db = db;
  v->conn = pAux;
  v->kind = kind;
  v->checked_ver = -1;
  /* DIRECTONLY: these modules write the spool (enqueue, ack, requeue) or
   * read it (status, export); a view or trigger of a database someone
   * else wrote must not reach them. */
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  *ppVtab = &v->base;
  return SQLITE_OK;
}

#define SPOOL_CONNECT(fn, kind)                                                          \
  static int fn(sqlite3 *db, void *pAux, int argc, const char *const *argv,              \
                sqlite3_vtab **ppVtab, char **pzErr) {                                   \
    return spool_connect(db, pAux, argc, argv, ppVtab, pzErr, kind);                    \
  }
SPOOL_CONNECT(enq_connect, SP_ENQUEUE)
SPOOL_CONNECT(ack_connect, SP_ACK)
SPOOL_CONNECT(requeue_connect, SP_REQUEUE)
SPOOL_CONNECT(status_connect, SP_STATUS)
SPOOL_CONNECT(export_connect, SP_EXPORT)

/* xDisconnect: the cached statement goes with the vtab. */
static int spool_disconnect(sqlite3_vtab *vtab) {
  SpoolVtab *vt = (SpoolVtab *)vtab;
  sqlite3_finalize(vt->stmt);
  sqlite3_finalize(vt->ver);
  sqlite3_free(vt);
  return SQLITE_OK;
}

/* xBestIndex: the arguments are equality constraints on the HIDDEN columns
 * that follow the n_out visible ones, passed to xFilter in order.  idxNum is
 * the number of arguments given (the first idxNum, without gaps). */
static int spool_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info) {
  SpoolVtab *vt = (SpoolVtab *)vtab;
  const SpoolDef *d = &spool_defs[vt->kind];
  int first = d->n_out;
  if (telem_tvf_too_many_args(vtab, info, d->name, first + d->max_args, d->max_args))
    return SQLITE_ERROR;
  int slot[4] = {-1, -1, -1, -1}, unusable = 0;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *k = &info->aConstraint[i];
    int a = k->iColumn - first;
    if (a < 0 || a >= d->max_args || k->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    if (!k->usable) unusable = 1;
    else slot[a] = i;
  }
  /* Every argument the call names must reach xFilter: a plan that leaves
   * one (an outer row's column) for later would run the side effect with
   * the wrong arguments, so such plans are refused. */
  if (unusable) return SQLITE_CONSTRAINT;
  int n = 0;
  while (n < d->max_args && slot[n] >= 0) n++;
  for (int a = n; a < d->max_args; a++) {
    if (slot[a] >= 0) { /* a later argument without an earlier one */
      telem_vtab_errorf(vtab, "%s: argument %d is missing", d->name, n + 1);
      return SQLITE_ERROR;
    }
  }
  if (n < d->min_args) {
    telem_vtab_errorf(vtab, "%s: expected %d to %d arguments, got %d", d->name, d->min_args,
                      d->max_args, n);
    return SQLITE_ERROR;
  }
  for (int a = 0; a < n; a++) {
    info->aConstraintUsage[slot[a]].argvIndex = a + 1;
    info->aConstraintUsage[slot[a]].omit = 1;
  }
  info->idxNum = n;
  info->estimatedCost = vt->kind == SP_EXPORT ? 100000 : 10;
  info->estimatedRows = vt->kind == SP_EXPORT ? 10000 : 1;
  if (vt->kind != SP_EXPORT) info->idxFlags = SQLITE_INDEX_SCAN_UNIQUE;
  return SQLITE_OK;
}

static int spool_open(sqlite3_vtab *vtab, sqlite3_vtab_cursor **ppCur) {
  (void)vtab;
  SpoolCursor *cur = sqlite3_malloc64(sizeof(*cur));
  if (!cur) return SQLITE_NOMEM;
  memset(cur, 0, sizeof(*cur));
  cur->eof = 1;
  *ppCur = &cur->base;
  return SQLITE_OK;
}

static int spool_close(sqlite3_vtab_cursor *pCur) {
  SpoolCursor *cur = (SpoolCursor *)pCur;
  spool_cursor_clear(cur);
  sqlite3_free(cur);
  return SQLITE_OK;
}

/* xFilter: runs the module's action for these arguments (one call per
 * outer row in a correlated join). */
static int spool_filter(sqlite3_vtab_cursor *pCur, int idxNum, const char *idxStr, int argc,
                        sqlite3_value **argv) {
  (void)idxStr;
  (void)idxNum;
  SpoolCursor *cur = (SpoolCursor *)pCur;
  SpoolVtab *vt = (SpoolVtab *)pCur->pVtab;
  spool_cursor_clear(cur);
  switch (vt->kind) {
    case SP_ENQUEUE: return enq_filter(vt, cur, argc, argv);
    case SP_ACK: return ack_filter(vt, cur, argv);
    case SP_REQUEUE: return requeue_filter(vt, cur, argv);
    case SP_STATUS: return status_filter(vt, cur);
    default: return export_filter(vt, cur);
  }
}

static int spool_next(sqlite3_vtab_cursor *pCur) {
  SpoolCursor *cur = (SpoolCursor *)pCur;
  if (cur->scan) return export_next(cur);
  cur->eof = 1;
  return SQLITE_OK;
}

static int spool_eof(sqlite3_vtab_cursor *pCur) { return ((SpoolCursor *)pCur)->eof; }

static int spool_column(sqlite3_vtab_cursor *pCur, sqlite3_context *ctx, int col) {
  SpoolCursor *cur = (SpoolCursor *)pCur;
  SpoolVtab *vt = (SpoolVtab *)pCur->pVtab;
  if (col >= spool_defs[vt->kind].n_out) return SQLITE_OK; /* arguments are not echoed */
  if (cur->scan) {
    sqlite3_result_value(ctx, sqlite3_column_value(cur->scan, col));
    return SQLITE_OK;
  }
  switch (cur->type[col]) {
    case SQLITE_INTEGER: sqlite3_result_int64(ctx, cur->ival[col]); break;
    case SQLITE_TEXT: sqlite3_result_text(ctx, cur->sval[col], -1, SQLITE_TRANSIENT); break;
    default: break;
  }
  return SQLITE_OK;
}

static int spool_rowid(sqlite3_vtab_cursor *pCur, sqlite3_int64 *pRowid) {
  *pRowid = ((SpoolCursor *)pCur)->rowid;
  return SQLITE_OK;
}

#define SPOOL_MODULE(var, connect)                                                       \
  static const sqlite3_module var = {                                                    \
      0,                /* iVersion */                                                   \
      NULL,             /* xCreate: NULL makes the module eponymous-only */              \
      connect,          /* xConnect */                                                   \
      spool_best_index, /* xBestIndex */                                                 \
      spool_disconnect, /* xDisconnect */                                                \
      NULL,             /* xDestroy */                                                   \
      spool_open,       /* xOpen */                                                      \
      spool_close,      /* xClose */                                                     \
      spool_filter,     /* xFilter */                                                    \
      spool_next,       /* xNext */                                                      \
      spool_eof,        /* xEof */                                                       \
      spool_column,     /* xColumn */                                                    \
      spool_rowid,      /* xRowid */                                                     \
      NULL,             /* xUpdate: the writes happen in xFilter, not through the vtab */ \
      NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, /* no transactions */   \
  };
SPOOL_MODULE(enq_module, enq_connect)
SPOOL_MODULE(ack_module, ack_connect)
SPOOL_MODULE(requeue_module, requeue_connect)
SPOOL_MODULE(status_module, status_connect)
SPOOL_MODULE(export_module, export_connect)

static const TelemSqlModule spool_modules[] = {
    {"telem_enqueue", &enq_module},
    {"telem_spool_ack", &ack_module},
    {"telem_spool_requeue", &requeue_module},
    {"telem_spool", &status_module},
    {"telem_spool_export", &export_module},
    {NULL},
};

const TelemFeature telem_feature_spool = {"spool", NULL, spool_modules};
