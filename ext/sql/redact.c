/*
 * redact.c -- telem_redact(text [, profile]) and the eponymous table-valued
 * function telem_redactions(text [, profile]).
 *
 *   SELECT telem_redact('{"password":"x","note":"mail bob@example.com"}');
 *     -> {"password":"[REDACTED:secret-key]","note":"mail [REDACTED:email]"}
 *   SELECT path, rule, action, class FROM telem_redactions('{"token":"abc"}');
 *     -> /token | secret-key | replace | S3
 *
 * The engine is ext/rules.c.  The rules (the registry's `redaction-rules`
 * contract) are compiled once per registry -- that is, once per connection
 * and contracts source -- into reg->ext[TELEM_EXT_REDACT], which the
 * registry frees when the connection switches contracts or closes.  A rule
 * file that fails to build is remembered too, so every call reports the
 * same error without recompiling.
 *
 * The operator's HMAC key for `hash` (VOXTELEM_HMAC_KEY_FILE / _KEY /
 * _KEY_ID, see redact_load_key) is read from the process environment when
 * the rules are compiled; long runs poll sqlite3_interrupt() through
 * telem_redact_bind_db.  telem_redact_scrub_str gives the validator the
 * value patterns for paths and messages (keys are data).
 *
 * Redaction fails closed: any engine error is an SQL error, never the
 * input.  Errors never echo the text being redacted, and profile names are
 * escaped to printable UTF-8.
 */
#include "sql/sql.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RULES_KIND "redaction-rules"
#define RULES_PATH "telemetry/redaction-rules.yaml" /* when the index lacks the kind */

static void redact_cache_free(void *p) {
  TelemRedactCache *rc = p;
  if (!rc) return;
  telem_redactor_free(rc->rules);
  sqlite3_free(rc->rules_err);
  sqlite3_free(rc);
}

TelemRedactCache *telem_redact_cache(TelemRegistry *reg) {
  TelemRedactCache *rc = reg->ext[TELEM_EXT_REDACT];
  if (rc) return rc;
  if (!(rc = sqlite3_malloc64(sizeof(*rc)))) return NULL;
  memset(rc, 0, sizeof(*rc));
  reg->ext[TELEM_EXT_REDACT] = rc;
  reg->ext_free[TELEM_EXT_REDACT] = redact_cache_free;
  return rc;
}

#define HMAC_KEY_MAX 4096

/* Keys `hash` with the operator's HMAC key, when the process environment
 * names one (docs/reference/env-vars.md):
 *   VOXTELEM_HMAC_KEY_FILE  a file holding the key (one trailing newline
 *                           dropped), or
 *   VOXTELEM_HMAC_KEY       the key itself (visible to other processes of
 *                           the user: prefer the file);
 *   VOXTELEM_HMAC_KEY_ID    the id written beside digests (default k1).
 * The environment is the operator's, not the database's, so a schema
 * object cannot choose the key.  The key is read into the redactor, wiped
 * from the stack, and never stored in a table nor put in a message.
 * 0, or -1 with *pzErr (the redaction rules then refuse every call: a
 * configured key that cannot be read must not fall back to unkeyed
 * digests). */
static int redact_load_key(TelemRedactor *r, char **pzErr) {
  const char *file = getenv("VOXTELEM_HMAC_KEY_FILE");
  const char *text = getenv("VOXTELEM_HMAC_KEY");
  const char *kid = getenv("VOXTELEM_HMAC_KEY_ID");
  if (file && !*file) file = NULL;
  if (text && !*text) text = NULL;
  if (!file && !text) return 0;
  if (file && text) {
    telem_set_err(pzErr, "both VOXTELEM_HMAC_KEY_FILE and VOXTELEM_HMAC_KEY are set: use one");
    return -1;
  }
  if (!kid || !*kid) kid = "k1";
  unsigned char key[HMAC_KEY_MAX + 1];
  size_t n = 0;
  int rc = -1;
  if (text) {
    n = strlen(text);
    if (n > HMAC_KEY_MAX) {
      telem_set_err(pzErr, "VOXTELEM_HMAC_KEY is longer than %d bytes", HMAC_KEY_MAX);
      return -1;
    }
    memcpy(key, text, n);
  } else {
    /* One open, then fstat: a regular file only (no FIFO that would block). */
    char *shown = telem_printable(file, strlen(file), 200);
    int fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
      telem_set_err(pzErr, "VOXTELEM_HMAC_KEY_FILE \"%s\": %s", shown ? shown : "", strerror(errno));
    } else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      telem_set_err(pzErr, "VOXTELEM_HMAC_KEY_FILE \"%s\": not a regular file", shown ? shown : "");
    } else {
      ssize_t got;
      while (n <= HMAC_KEY_MAX && (got = read(fd, key + n, HMAC_KEY_MAX + 1 - n)) > 0) n += (size_t)got;
      if (n > HMAC_KEY_MAX)
        telem_set_err(pzErr, "VOXTELEM_HMAC_KEY_FILE \"%s\": key longer than %d bytes",
                      shown ? shown : "", HMAC_KEY_MAX);
      else
        rc = 0;
    }
    if (fd >= 0) close(fd);
    sqlite3_free(shown);
    if (rc) {
      memset(key, 0, sizeof(key));
      return -1;
    }
    if (n > 0 && key[n - 1] == '\n') n--;
    if (n > 0 && key[n - 1] == '\r') n--;
  }
  if (n == 0) {
    telem_set_err(pzErr, "the HMAC key is empty");
    return -1;
  }
  rc = telem_redactor_set_hmac_key(r, kid, key, n, pzErr);
  memset(key, 0, sizeof(key));
  if (rc) {
    char *shown = telem_printable(kid, strlen(kid), 64);
    telem_set_err(pzErr, "VOXTELEM_HMAC_KEY_ID \"%s\": must match [A-Za-z0-9._-]{1,32}",
                  shown ? shown : "");
    sqlite3_free(shown);
  }
  return rc;
}

/* The SQL layer's interrupt poll for long runs: SQLite's own flag where
 * the library has sqlite3_is_interrupted() (3.41+); before that, a
 * trivial statement reports SQLITE_INTERRUPT once sqlite3_interrupt() was
 * called on the connection (the flag is cleared only when no statement is
 * running, and ours is). */
static int redact_interrupted(void *arg) {
  sqlite3 *db = arg;
#if SQLITE_VERSION_NUMBER >= 3041000
  if (sqlite3_libversion_number() >= 3041000) return sqlite3_is_interrupted(db);
#endif
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, "SELECT 1", -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_INTERRUPT;
}

void telem_redact_bind_db(TelemRedactor *r, sqlite3 *db) {
  telem_redactor_set_stop(r, redact_interrupted, db);
}

TelemRedactor *telem_redact_rules(TelemRegistry *reg, char **pzErr) {
  TelemRedactCache *rc = telem_redact_cache(reg);
  if (!rc) {
    telem_set_oom(pzErr);
    return NULL;
  }
  if (!rc->rules_built) {
    const TelemFile *f = telem_registry_file_by_kind(reg, RULES_KIND);
    if (!f) f = telem_registry_file(reg, RULES_PATH);
    char *err = NULL;
    if (!f) {
      rc->rules_err = sqlite3_mprintf("no %s contract in %s", RULES_KIND, reg->source);
    } else if (!(rc->rules = telem_redactor_new(f->data, f->len, &err))) {
      /* Out of memory is not remembered: the next call tries again. */
      if (telem_err_is_oom(err)) {
        sqlite3_free(err);
        telem_set_oom(pzErr);
        return NULL;
      }
      rc->rules_err = sqlite3_mprintf("%s: %s", f->path, err);
    } else if (redact_load_key(rc->rules, &err)) {
      telem_redactor_free(rc->rules);
      rc->rules = NULL;
      rc->rules_err = sqlite3_mprintf("%s", err ? err : "out of memory");
    }
    sqlite3_free(err);
    if (!rc->rules && !rc->rules_err) {
      telem_set_oom(pzErr);
      return NULL;
    }
    rc->rules_built = 1;
  }
  if (!rc->rules) telem_set_err(pzErr, "%s", rc->rules_err);
  return rc->rules;
}

char *telem_redact_scrub_str(TelemConn *c, const char *z, size_t n, char **pzErr) {
  TelemRedactor *r = telem_redact_rules(c->reg, pzErr);
  if (!r) return NULL;
  TelemBuf b;
  telem_buf_init(&b);
  if (telem_redactor_scrub_text(r, z ? z : "", z ? n : 0, &b, pzErr)) {
    telem_buf_free(&b);
    return NULL;
  }
  char *out = telem_buf_take(&b);
  if (!out) {
    telem_buf_free(&b);
    telem_set_oom(pzErr);
  }
  return out;
}

/* Resolves argument argv[i] (NULL = "default") to a profile index; sets
 * the error on ctx and returns -1 when unknown. */
static int redact_profile(sqlite3_context *ctx, const char *fn, TelemRedactor *r,
                          sqlite3_value *v) {
  const char *name = "default";
  if (v && sqlite3_value_type(v) != SQLITE_NULL) name = (const char *)sqlite3_value_text(v);
  if (!name) {
    sqlite3_result_error_nomem(ctx);
    return -1;
  }
  int p = telem_redactor_profile_index(r, name);
  if (p < 0) {
    /* The name is the caller's text: escaped, never echoed raw. */
    char *shown = telem_printable(name, strlen(name), 64);
    if (!shown) {
      sqlite3_result_error_nomem(ctx);
      return -1;
    }
    telem_result_errorf(ctx, fn, "unknown profile \"%s\"", shown);
    sqlite3_free(shown);
  }
  return p;
}

/* telem_redact(text [, profile]): NULL text gives NULL. */
static void redact_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  TelemConn *c = sqlite3_user_data(ctx);
  char *err = NULL;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
  TelemRedactor *r = telem_redact_rules(c->reg, &err);
  if (!r) {
    telem_result_errorf(ctx, "telem_redact", "%s", err ? err : "out of memory");
    sqlite3_free(err);
    return;
  }
  int p = redact_profile(ctx, "telem_redact", r, argc > 1 ? argv[1] : NULL);
  if (p < 0) return;
  const char *in = (const char *)sqlite3_value_text(argv[0]);
  if (!in) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  size_t n = (size_t)sqlite3_value_bytes(argv[0]);
  TelemBuf out;
  telem_buf_init(&out);
  telem_arena_reset(&c->arena);
  telem_redact_bind_db(r, c->db);
  int rc = telem_redactor_run(r, p, &c->arena, in, n, &out, NULL, &err);
  telem_arena_reset(&c->arena);
  if (rc) {
    telem_buf_free(&out);
    if (telem_err_is_oom(err)) sqlite3_result_error_nomem(ctx);
    else telem_result_errorf(ctx, "telem_redact", "%s", err ? err : "out of memory");
    sqlite3_free(err);
    return;
  }
  size_t len = out.len;
  char *z = telem_buf_take(&out);
  if (!z) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_text64(ctx, z, len, sqlite3_free, SQLITE_UTF8);
}

/* ---- telem_redactions ------------------------------------------------------ */

/* Declared schema; the HIDDEN columns are the arguments. */
#define RDX_SCHEMA \
  "CREATE TABLE x(path TEXT, rule TEXT, action TEXT, class TEXT, text HIDDEN, profile HIDDEN" \
  TELEM_TVF_EXTRA_COLUMNS ")"
#define RDX_COL_PATH 0
#define RDX_COL_RULE 1
#define RDX_COL_ACTION 2
#define RDX_COL_CLASS 3
#define RDX_COL_TEXT 4
#define RDX_COL_PROFILE 5
#define RDX_COL_EXTRA 6 /* TELEM_TVF_EXTRA_COLUMNS: too many arguments */

/* idxNum bits (xBestIndex -> xFilter): the arguments present, in argv order. */
#define RDX_IDX_TEXT 1
#define RDX_IDX_PROFILE 2

typedef struct RdxVtab {
  sqlite3_vtab base; /* must be first */
  TelemConn *conn;   /* borrowed: the module's client data outlives the vtab */
} RdxVtab;

typedef struct RdxCursor {
  sqlite3_vtab_cursor base; /* must be first */
  TelemRegistry *reg;       /* reference held while rows name its rules */
  TelemRedactLog log;       /* the rows */
  int i;                    /* current row */
} RdxCursor;

/* xConnect: declares the schema; the TelemConn is the module's pAux. */
static int rdx_connect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                       sqlite3_vtab **ppVtab, char **pzErr) {
  (void)argc;
  (void)argv;
  int rc = sqlite3_declare_vtab(db, RDX_SCHEMA);
  if (rc != SQLITE_OK) return rc;
  RdxVtab *v = sqlite3_malloc64(sizeof(*v));
  if (!v) {
    telem_set_err(pzErr, "telem_redactions: out of memory");
    return SQLITE_NOMEM;
  }
  memset(v, 0, sizeof(*v));
  v->conn = pAux;
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  *ppVtab = &v->base;
  return SQLITE_OK;
}

/* xDisconnect */
static int rdx_disconnect(sqlite3_vtab *vtab) {
  sqlite3_free(vtab);
  return SQLITE_OK;
}

/* xBestIndex: text (required) and profile (optional) as equality
 * constraints on the HIDDEN columns, passed in that order. */
static int rdx_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info) {
  int text = -1, profile = -1, text_unusable = 0;
  if (telem_tvf_too_many_args(vtab, info, "telem_redactions", RDX_COL_EXTRA, 2))
    return SQLITE_ERROR;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *k = &info->aConstraint[i];
    if (k->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    if (k->iColumn == RDX_COL_TEXT) {
      if (!k->usable) text_unusable = 1;
      else text = i;
    } else if (k->iColumn == RDX_COL_PROFILE && k->usable) {
      profile = i;
    }
  }
  if (text < 0) {
    if (text_unusable) return SQLITE_CONSTRAINT;
    telem_vtab_errorf(vtab, "telem_redactions: argument 1 (text) is required");
    return SQLITE_ERROR;
  }
  int n = 0;
  info->aConstraintUsage[text].argvIndex = ++n;
  info->aConstraintUsage[text].omit = 1;
  info->idxNum = RDX_IDX_TEXT;
  if (profile >= 0) {
    info->aConstraintUsage[profile].argvIndex = ++n;
    info->aConstraintUsage[profile].omit = 1;
    info->idxNum |= RDX_IDX_PROFILE;
  }
  info->estimatedCost = 1000;
  info->estimatedRows = 10;
  return SQLITE_OK;
}

/* xOpen */
static int rdx_open(sqlite3_vtab *vtab, sqlite3_vtab_cursor **ppCur) {
  (void)vtab;
  RdxCursor *cur = sqlite3_malloc64(sizeof(*cur));
  if (!cur) return SQLITE_NOMEM;
  memset(cur, 0, sizeof(*cur));
  telem_redact_log_init(&cur->log);
  *ppCur = &cur->base;
  return SQLITE_OK;
}

static void rdx_reset(RdxCursor *cur) {
  telem_redact_log_clear(&cur->log);
  telem_registry_unref(cur->reg);
  cur->reg = NULL;
  cur->i = 0;
}

/* xClose */
static int rdx_close(sqlite3_vtab_cursor *pCur) {
  RdxCursor *cur = (RdxCursor *)pCur;
  rdx_reset(cur);
  sqlite3_free(cur);
  return SQLITE_OK;
}

/* xFilter: runs the redactor without output, keeping only the action log. */
static int rdx_filter(sqlite3_vtab_cursor *pCur, int idxNum, const char *idxStr, int argc,
                      sqlite3_value **argv) {
  (void)idxStr;
  RdxCursor *cur = (RdxCursor *)pCur;
  RdxVtab *vt = (RdxVtab *)pCur->pVtab;
  TelemConn *c = vt->conn;
  char *err = NULL;
  rdx_reset(cur);
  if (!(idxNum & RDX_IDX_TEXT) || argc < 1) return SQLITE_OK;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return SQLITE_OK; /* no rows */
  TelemRedactor *r = telem_redact_rules(c->reg, &err);
  if (!r) {
    telem_vtab_errorf(pCur->pVtab, "telem_redactions: %s", err ? err : "out of memory");
    sqlite3_free(err);
    return SQLITE_ERROR;
  }
  const char *pname = "default";
  if ((idxNum & RDX_IDX_PROFILE) && argc > 1 && sqlite3_value_type(argv[1]) != SQLITE_NULL)
    pname = (const char *)sqlite3_value_text(argv[1]);
  if (!pname) return SQLITE_NOMEM;
  int p = telem_redactor_profile_index(r, pname);
  if (p < 0) {
    char *shown = telem_printable(pname, strlen(pname), 64);
    if (!shown) return SQLITE_NOMEM;
    telem_vtab_errorf(pCur->pVtab, "telem_redactions: unknown profile \"%s\"", shown);
    sqlite3_free(shown);
    return SQLITE_ERROR;
  }
  const char *in = (const char *)sqlite3_value_text(argv[0]);
  if (!in) return SQLITE_NOMEM;
  size_t n = (size_t)sqlite3_value_bytes(argv[0]);
  telem_arena_reset(&c->arena);
  telem_redact_bind_db(r, c->db);
  int rc = telem_redactor_run(r, p, &c->arena, in, n, NULL, &cur->log, &err);
  telem_arena_reset(&c->arena);
  if (rc) {
    telem_redact_log_clear(&cur->log);
    telem_vtab_errorf(pCur->pVtab, "telem_redactions: %s", err ? err : "out of memory");
    sqlite3_free(err);
    return SQLITE_ERROR;
  }
  cur->reg = telem_registry_ref(c->reg);
  return SQLITE_OK;
}

/* xNext */
static int rdx_next(sqlite3_vtab_cursor *pCur) {
  ((RdxCursor *)pCur)->i++;
  return SQLITE_OK;
}

/* xEof */
static int rdx_eof(sqlite3_vtab_cursor *pCur) {
  RdxCursor *cur = (RdxCursor *)pCur;
  return cur->i >= cur->log.n;
}

/* xColumn: never the redacted value, only where and why. */
static int rdx_column(sqlite3_vtab_cursor *pCur, sqlite3_context *ctx, int col) {
  RdxCursor *cur = (RdxCursor *)pCur;
  const TelemRedactEntry *e = &cur->log.v[cur->i];
  TelemRedactCache *rc = cur->reg->ext[TELEM_EXT_REDACT];
  switch (col) {
    case RDX_COL_PATH: {
      /* Made on demand from shared prefixes: a deep document's log holds
       * one node per level, not one path copy per action. */
      char *z = telem_redact_log_path(&cur->log, cur->i);
      if (!z) return SQLITE_NOMEM;
      sqlite3_result_text(ctx, z, -1, sqlite3_free);
      break;
    }
    case RDX_COL_RULE:
      sqlite3_result_text(ctx, telem_redactor_rule_id(rc->rules, e->rule), -1, SQLITE_TRANSIENT);
      break;
    case RDX_COL_ACTION:
      sqlite3_result_text(ctx, telem_redact_action_name(e->action), -1, SQLITE_STATIC);
      break;
    case RDX_COL_CLASS: sqlite3_result_text(ctx, telem_class_name(e->cls), 2, SQLITE_STATIC); break;
    default: sqlite3_result_null(ctx); break; /* the HIDDEN arguments are not echoed */
  }
  return SQLITE_OK;
}

/* xRowid: the row's position. */
static int rdx_rowid(sqlite3_vtab_cursor *pCur, sqlite3_int64 *pRowid) {
  *pRowid = ((RdxCursor *)pCur)->i + 1;
  return SQLITE_OK;
}

static const sqlite3_module rdx_module = {
    0,               /* iVersion */
    NULL,            /* xCreate: NULL makes the module eponymous-only */
    rdx_connect,     /* xConnect */
    rdx_best_index,  /* xBestIndex */
    rdx_disconnect,  /* xDisconnect */
    NULL,            /* xDestroy */
    rdx_open,        /* xOpen */
    rdx_close,       /* xClose */
    rdx_filter,      /* xFilter */
    rdx_next,        /* xNext */
    rdx_eof,         /* xEof */
    rdx_column,      /* xColumn */
    rdx_rowid,       /* xRowid */
    NULL,            /* xUpdate: read-only */
    NULL,            /* xBegin */
    NULL,            /* xSync */
    NULL,            /* xCommit */
    NULL,            /* xRollback */
    NULL,            /* xFindFunction */
    NULL,            /* xRename */
    NULL,            /* xSavepoint */
    NULL,            /* xRelease */
    NULL,            /* xRollbackTo */
    NULL,            /* xShadowName */
};

static const TelemSqlFunc redact_funcs[] = {
    /* Pure functions of their arguments and the connection's contracts. */
    {"telem_redact", 1, 2, SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, redact_func},
    {NULL},
};

static const TelemSqlModule redact_modules[] = {
    {"telem_redactions", &rdx_module},
    {NULL},
};

const TelemFeature telem_feature_redact = {"redact", redact_funcs, redact_modules};
