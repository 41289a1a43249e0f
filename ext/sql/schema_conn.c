/*
 * schema_conn.c -- per-connection JSON Schema state behind the SQL
 * functions of validate.c, and the one side-effecting schema entry point:
 *
 *   SELECT * FROM telem_schema_register(uri, schema)   -> uri, documents
 *
 * State (TelemConn.schema, freed with the connection):
 *   - documents registered with telem_schema_register: a set layered over
 *     the contracts' set, so "$ref" by URI between them resolves without a
 *     contracts directory (and never over the network);
 *   - a bounded LRU (TELEM_SCHEMA_LRU schemas, TELEM_SCHEMA_LRU_BYTES of
 *     text) of compiled inline schemas keyed by their text and flags: a
 *     schema that comes from a column is compiled once, not once per row;
 *   - the interrupt probe: SQLite 3.40 has no sqlite3_is_interrupted()
 *     (3.41 added it), so a long validation steps a prepared "SELECT 1"
 *     every few thousand schema steps.  Once sqlite3_interrupt() has been
 *     called, that step returns SQLITE_INTERRUPT (the VDBE checks the flag
 *     on its first jump) and the validation stops.  No progress handler is
 *     involved, so an application's own handler is left alone.
 *
 * Registering changes connection state, so telem_schema_register is an
 * eponymous table-valued function flagged SQLITE_VTAB_DIRECTONLY: a view,
 * trigger or CHECK constraint of a database someone else wrote cannot
 * call it.  Registration replaces a document of the same URI and empties
 * the LRU (references may now resolve differently).
 */
#include "sql/sql.h"
#include "voxtelem.h"

#include <string.h>
#include <xxhash.h>

#define TELEM_SCHEMA_LRU 64                 /* compiled inline schemas kept */
#define TELEM_SCHEMA_LRU_BYTES (8u << 20)   /* their text, in total */
#define TELEM_SCHEMA_REG_MAX 4096           /* registered documents per connection */

typedef struct InlineEnt {
  uint64_t hash;   /* XXH3 of the text, mixed with flags */
  char *text;      /* owned copy */
  size_t n;
  int flags;
  TelemSchema *s;  /* owned reference */
  uint64_t used;   /* LRU clock */
} InlineEnt;

typedef struct RegDoc {
  char *uri;  /* owned */
  char *text; /* owned */
  size_t n;
} RegDoc;

struct TelemSchemaConn {
  TelemRegistry *reg;  /* the contracts the set layers over (reference) */
  TelemSchemaSet *set; /* registered documents over the contracts' set; owned */
  RegDoc *docs;
  int ndocs, capdocs;
  InlineEnt ents[TELEM_SCHEMA_LRU];
  int nents;
  size_t bytes;        /* text held by ents */
  uint64_t clock;
};

static void lru_clear(TelemSchemaConn *st) {
  for (int i = 0; i < st->nents; i++) {
    sqlite3_free(st->ents[i].text);
    telem_schema_free(st->ents[i].s);
  }
  st->nents = 0;
  st->bytes = 0;
}

void telem_schema_conn_free(TelemSchemaConn *st) {
  if (!st) return;
  lru_clear(st);
  for (int i = 0; i < st->ndocs; i++) {
    sqlite3_free(st->docs[i].uri);
    sqlite3_free(st->docs[i].text);
  }
  sqlite3_free(st->docs);
  telem_schema_set_free(st->set);
  telem_registry_unref(st->reg);
  sqlite3_free(st);
}

/* The connection's state, bound to the contracts in use (a switch of
 * contracts rebuilds the set and empties the LRU).  NULL on OOM. */
static TelemSchemaConn *conn_alloc(TelemConn *c) {
  if (!c->schema && (c->schema = sqlite3_malloc64(sizeof *c->schema)) != NULL) {
    memset(c->schema, 0, sizeof *c->schema);
    c->schema_free = telem_schema_conn_free;
  }
  return c->schema;
}

static TelemSchemaConn *conn_state(TelemConn *c) {
  TelemSchemaConn *st = conn_alloc(c);
  if (!st) return NULL;
  if (st->reg == c->reg && st->set) return st;
  lru_clear(st);
  telem_schema_set_free(st->set);
  st->set = NULL;
  telem_registry_unref(st->reg);
  st->reg = telem_registry_ref(c->reg);
  TelemSchemaSet *base = telem_validate_contract_set(c->reg);
  if (!base) return NULL;
  st->set = telem_schema_set_layer(base);
  if (!st->set) return NULL;
  for (int i = 0; i < st->ndocs; i++) {
    char *err = NULL; /* each was valid when registered */
    telem_schema_set_add(st->set, st->docs[i].uri, st->docs[i].text, st->docs[i].n, &err);
    sqlite3_free(err);
  }
  return st;
}

TelemSchemaSet *telem_schema_conn_set(TelemConn *c) {
  TelemSchemaConn *st = conn_state(c);
  return st ? st->set : NULL;
}

int telem_schema_conn_has_docs(TelemConn *c) { return c->schema && c->schema->ndocs > 0; }

TelemSchema *telem_schema_conn_inline(TelemConn *c, const char *z, size_t n, int flags,
                                      char **pzErr) {
  TelemSchemaConn *st = conn_state(c);
  if (!st) {
    telem_set_oom(pzErr);
    return NULL;
  }
  /* The most recent entry first: a column that repeats one schema costs a
   * memcmp per row, no hashing. */
  InlineEnt *mru = NULL;
  for (int i = 0; i < st->nents; i++)
    if (!mru || st->ents[i].used > mru->used) mru = &st->ents[i];
  if (mru && mru->n == n && mru->flags == flags && !memcmp(mru->text, z, n)) {
    mru->used = ++st->clock;
    return telem_schema_ref(mru->s);
  }
  uint64_t h = XXH3_64bits(z, n) ^ ((uint64_t)flags * 0x9E3779B97F4A7C15ull);
  for (int i = 0; i < st->nents; i++) {
    InlineEnt *e = &st->ents[i];
    if (e->hash == h && e->n == n && e->flags == flags && !memcmp(e->text, z, n)) {
      e->used = ++st->clock;
      return telem_schema_ref(e->s);
    }
  }
  TelemSchema *s;
  if (flags & TELEM_SCHEMA_BY_URI) {
    char *u = sqlite3_mprintf("%.*s", (int)n, z);
    s = u ? telem_schema_compile_uri_ex(st->set, u, flags & ~TELEM_SCHEMA_BY_URI, pzErr) : NULL;
    if (!u) telem_set_oom(pzErr);
    sqlite3_free(u);
  } else {
    s = telem_schema_compile_ex(st->set, z, n, flags, pzErr);
  }
  if (!s) return NULL;
  if (n > TELEM_SCHEMA_LRU_BYTES / 4) return s; /* too big to keep: the caller's only */
  char *copy = sqlite3_malloc64(n + 1);
  if (!copy) return s;
  memcpy(copy, z, n);
  copy[n] = 0;
  /* evict the least recently used until there is room */
  while (st->nents > 0 &&
         (st->nents >= TELEM_SCHEMA_LRU || st->bytes + n > TELEM_SCHEMA_LRU_BYTES)) {
    int old = 0;
    for (int i = 1; i < st->nents; i++)
      if (st->ents[i].used < st->ents[old].used) old = i;
    st->bytes -= st->ents[old].n;
    sqlite3_free(st->ents[old].text);
    telem_schema_free(st->ents[old].s);
    st->ents[old] = st->ents[--st->nents];
  }
  InlineEnt *e = &st->ents[st->nents++];
  e->hash = h;
  e->text = copy;
  e->n = n;
  e->flags = flags;
  e->s = telem_schema_ref(s);
  e->used = ++st->clock;
  st->bytes += n;
  return s;
}

/* ---- interrupt probe ---------------------------------------------------------- */

int telem_schema_probe_interrupted(void *arg) {
  TelemSchemaProbe *p = arg;
  if (p->fired) return 1;
  if (!p->stmt && sqlite3_prepare_v2(p->db, "SELECT 1", -1, &p->stmt, NULL) != SQLITE_OK) {
    sqlite3_finalize(p->stmt);
    p->stmt = NULL;
    return 0;
  }
  int rc = sqlite3_step(p->stmt);
  sqlite3_reset(p->stmt);
  if (rc == SQLITE_INTERRUPT) p->fired = 1;
  return p->fired;
}

void telem_schema_probe_init(TelemSchemaProbe *p, sqlite3 *db, TelemSchemaRun *run) {
  memset(p, 0, sizeof *p);
  p->db = db;
  memset(run, 0, sizeof *run);
  run->interrupted = telem_schema_probe_interrupted;
  run->arg = p;
}

void telem_schema_probe_done(TelemSchemaProbe *p) {
  sqlite3_finalize(p->stmt);
  p->stmt = NULL;
}

/* ---- options ---------------------------------------------------------------------- */

int telem_schema_options(const char *z, int *flags, char **pzErr) {
  *flags = 0;
  if (!z) return 0;
  const char *p = z;
  while (*p) {
    while (*p == ' ' || *p == ',' || *p == '\t') p++;
    const char *w = p;
    while (*p && *p != ' ' && *p != ',' && *p != '\t') p++;
    size_t n = (size_t)(p - w);
    if (!n) break;
    if ((n == 6 && !memcmp(w, "format", 6)) || (n == 16 && !memcmp(w, "format-assertion", 16))) {
      *flags |= TELEM_SCHEMA_FORMAT_ASSERT;
    } else {
      char *e = telem_printable(w, n, 60);
      telem_set_err(pzErr, "unknown option \"%s\" (known: format)", e ? e : "");
      sqlite3_free(e);
      return -1;
    }
  }
  return 0;
}

/* ---- telem_schema_register(uri, schema) ------------------------------------------- */

#define SR_SCHEMA \
  "CREATE TABLE x(uri TEXT, documents INTEGER, arg_uri HIDDEN, arg_schema HIDDEN" \
  TELEM_TVF_EXTRA_COLUMNS ")"
#define SR_COL_ARG_URI 2
#define SR_COL_ARG_SCHEMA 3
#define SR_COL_EXTRA 4

typedef struct SrVtab {
  sqlite3_vtab base; /* must be first */
  TelemConn *c;      /* not owned: the module holds a reference */
} SrVtab;

typedef struct SrCursor {
  sqlite3_vtab_cursor base; /* must be first */
  char *uri;                /* the registered URI (normalised); owned */
  int documents;            /* registered documents after this call */
  int eof;
} SrCursor;

static int sr_connect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                      sqlite3_vtab **ppVtab, char **pzErr) {
  (void)argc;
  (void)argv;
  (void)pzErr;
  int rc = sqlite3_declare_vtab(db, SR_SCHEMA);
  if (rc != SQLITE_OK) return rc;
  SrVtab *v = sqlite3_malloc64(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->c = pAux;
  /* a side effect: only from the operator's own top-level SQL */
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  *ppVtab = &v->base;
  return SQLITE_OK;
}

static int sr_disconnect(sqlite3_vtab *pVtab) {
  sqlite3_free(pVtab);
  return SQLITE_OK;
}

static int sr_best_index(sqlite3_vtab *pVtab, sqlite3_index_info *info) {
  int ui = -1, si = -1, unusable = 0;
  if (telem_tvf_too_many_args(pVtab, info, "telem_schema_register", SR_COL_EXTRA, 2))
    return SQLITE_ERROR;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *k = &info->aConstraint[i];
    if (k->iColumn != SR_COL_ARG_URI && k->iColumn != SR_COL_ARG_SCHEMA) continue;
    if (!k->usable || k->op != SQLITE_INDEX_CONSTRAINT_EQ) {
      unusable = 1;
      continue;
    }
    if (k->iColumn == SR_COL_ARG_URI) ui = i;
    else si = i;
  }
  if (ui < 0 || si < 0) {
    if (unusable) return SQLITE_CONSTRAINT;
    telem_vtab_errorf(pVtab, "telem_schema_register: expected 2 arguments (uri, schema)");
    return SQLITE_ERROR;
  }
  info->aConstraintUsage[ui].argvIndex = 1;
  info->aConstraintUsage[ui].omit = 1;
  info->aConstraintUsage[si].argvIndex = 2;
  info->aConstraintUsage[si].omit = 1;
  info->idxNum = 1;
  info->estimatedCost = 1;
  info->estimatedRows = 1;
  return SQLITE_OK;
}

static int sr_open(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCursor) {
  (void)pVtab;
  SrCursor *cur = sqlite3_malloc64(sizeof *cur);
  if (!cur) return SQLITE_NOMEM;
  memset(cur, 0, sizeof *cur);
  cur->eof = 1;
  *ppCursor = &cur->base;
  return SQLITE_OK;
}

static int sr_close(sqlite3_vtab_cursor *pCur) {
  SrCursor *cur = (SrCursor *)pCur;
  sqlite3_free(cur->uri);
  sqlite3_free(cur);
  return SQLITE_OK;
}

/* 1 when uri is absolute (scheme ":" ...) and has no fragment but "#". */
static int uri_ok(const char *u) {
  size_t i = 0;
  if (!((u[0] >= 'a' && u[0] <= 'z') || (u[0] >= 'A' && u[0] <= 'Z'))) return 0;
  while (u[i] && u[i] != ':') {
    char ch = u[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '+' || ch == '-' || ch == '.'))
      return 0;
    i++;
  }
  if (u[i] != ':' || !u[i + 1]) return 0;
  const char *h = strchr(u, '#');
  if (h && h[1]) return 0;
  for (const unsigned char *p = (const unsigned char *)u; *p; p++)
    if (*p <= 0x20 || *p == 0x7F) return 0;
  return 1;
}

static int sr_filter(sqlite3_vtab_cursor *pCur, int idxNum, const char *idxStr, int argc,
                     sqlite3_value **argv) {
  (void)idxStr;
  SrCursor *cur = (SrCursor *)pCur;
  SrVtab *vt = (SrVtab *)pCur->pVtab;
  const char *fn = "telem_schema_register";
  sqlite3_free(cur->uri);
  cur->uri = NULL;
  cur->eof = 1;
  if (idxNum != 1 || argc != 2) return SQLITE_OK;
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    telem_vtab_errorf(&vt->base, "%s: argument 1: expected an absolute URI as text", fn);
    return SQLITE_ERROR;
  }
  if (sqlite3_value_type(argv[1]) != SQLITE_TEXT) {
    telem_vtab_errorf(&vt->base, "%s: argument 2: expected schema text", fn);
    return SQLITE_ERROR;
  }
  const char *u = (const char *)sqlite3_value_text(argv[0]);
  const char *z = (const char *)sqlite3_value_text(argv[1]);
  size_t un = (size_t)sqlite3_value_bytes(argv[0]), n = (size_t)sqlite3_value_bytes(argv[1]);
  if (!u || !z) return SQLITE_NOMEM;
  if (strlen(u) != un || !telem_utf8_valid(u, un) || !uri_ok(u)) {
    char *e = telem_printable(u, un, 120);
    telem_vtab_errorf(&vt->base, "%s: argument 1: \"%s\" is not an absolute URI without a fragment",
                      fn, e ? e : "");
    sqlite3_free(e);
    return SQLITE_ERROR;
  }
  TelemSchemaConn *st = conn_alloc(vt->c); /* the set is rebuilt when next used */
  if (!st) return SQLITE_NOMEM;
  int slot = -1;
  for (int i = 0; i < st->ndocs; i++)
    if (!strcmp(st->docs[i].uri, u)) slot = i;
  if (slot < 0 && st->ndocs >= TELEM_SCHEMA_REG_MAX) {
    telem_vtab_errorf(&vt->base, "%s: this connection already has %d registered schemas", fn,
                      TELEM_SCHEMA_REG_MAX);
    return SQLITE_ERROR;
  }
  /* Checked first in a scratch set, so a bad document changes nothing. */
  char *err = NULL;
  TelemSchemaSet *probe = telem_schema_set_new(TELEM_DRAFT_2020_12);
  int bad = !probe || telem_schema_set_add(probe, u, z, n, &err);
  telem_schema_set_free(probe);
  if (bad) {
    telem_vtab_errorf(&vt->base, "%s: argument 2: %s", fn, err ? err : "out of memory");
    sqlite3_free(err);
    return SQLITE_ERROR;
  }
  char *ucopy = sqlite3_mprintf("%s", u), *tcopy = sqlite3_malloc64(n + 1);
  cur->uri = sqlite3_mprintf("%s", u);
  if (!ucopy || !tcopy || !cur->uri) {
    sqlite3_free(ucopy);
    sqlite3_free(tcopy);
    return SQLITE_NOMEM;
  }
  memcpy(tcopy, z, n);
  tcopy[n] = 0;
  if (slot < 0) {
    if (st->ndocs == st->capdocs) {
      int ncap = st->capdocs ? st->capdocs * 2 : 8;
      RegDoc *nd = sqlite3_realloc64(st->docs, (size_t)ncap * sizeof *nd);
      if (!nd) {
        sqlite3_free(ucopy);
        sqlite3_free(tcopy);
        return SQLITE_NOMEM;
      }
      st->docs = nd;
      st->capdocs = ncap;
    }
    slot = st->ndocs++;
  } else {
    sqlite3_free(st->docs[slot].uri);
    sqlite3_free(st->docs[slot].text);
  }
  st->docs[slot].uri = ucopy;
  st->docs[slot].text = tcopy;
  st->docs[slot].n = n;
  /* Rebuilt on next use: a replaced URI must not keep its old document. */
  lru_clear(st);
  telem_schema_set_free(st->set);
  st->set = NULL;
  cur->documents = st->ndocs;
  cur->eof = 0;
  return SQLITE_OK;
}

static int sr_next(sqlite3_vtab_cursor *pCur) {
  ((SrCursor *)pCur)->eof = 1;
  return SQLITE_OK;
}

static int sr_eof(sqlite3_vtab_cursor *pCur) { return ((SrCursor *)pCur)->eof; }

static int sr_column(sqlite3_vtab_cursor *pCur, sqlite3_context *ctx, int col) {
  SrCursor *cur = (SrCursor *)pCur;
  if (col == 0) sqlite3_result_text(ctx, cur->uri, -1, SQLITE_TRANSIENT);
  else if (col == 1) sqlite3_result_int(ctx, cur->documents);
  return SQLITE_OK;
}

static int sr_rowid(sqlite3_vtab_cursor *pCur, sqlite3_int64 *pRowid) {
  (void)pCur;
  *pRowid = 1;
  return SQLITE_OK;
}

static const sqlite3_module sr_module = {
    0,             /* iVersion */
    NULL,          /* xCreate: NULL makes it eponymous-only */
    sr_connect,    /* xConnect */
    sr_best_index, /* xBestIndex */
    sr_disconnect, /* xDisconnect */
    NULL,          /* xDestroy */
    sr_open,       /* xOpen */
    sr_close,      /* xClose */
    sr_filter,     /* xFilter */
    sr_next,       /* xNext */
    sr_eof,        /* xEof */
    sr_column,     /* xColumn */
    sr_rowid,      /* xRowid */
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};

static const TelemSqlModule schema_conn_modules[] = {
    /* DIRECTONLY in xConnect: it changes what the connection's schemas mean. */
    {"telem_schema_register", &sr_module},
    {NULL},
};

const TelemFeature telem_feature_schema_register = {"schema_register", NULL, schema_conn_modules};
