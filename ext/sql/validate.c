/*
 * validate.c -- SQL surface of the JSON Schema engine (schema.c):
 *
 *   telem_validate(json, schema [, options])         1 valid, 0 invalid
 *   telem_validate_errors(json, schema [, options])  table: instance_path, schema_path, keyword, message
 *   telem_assert_valid(json, schema [, options])     1, or an error naming the first failing leaf
 *   (telem_metric_problem / telem_assert_metric live in metric.c)
 *
 *   SELECT id FROM research_metrics WHERE NOT telem_validate(metadata_json, 'syntax-k-event');
 *   SELECT * FROM telem_validate_errors('{"event":1}', 'syntax-k-event');
 *
 * `schema` is a contracts-registry id (kind json-schema), the "$id" URI of
 * a loaded contract, or inline schema text (anything starting with "{", or
 * true/false).  Inline schemas may $ref the contracts.
 *
 * Caches: every json-schema contract of the connection's registry is loaded
 * once into a TelemSchemaSet hung on reg->ext[TELEM_EXT_SCHEMA]; a schema
 * named by id is compiled once into the same cache, keyed by id (and
 * options).  Inline schema text goes through the connection's LRU
 * (schema_conn.c), keyed by text and options, and a constant one is also
 * kept with sqlite3_set_auxdata on argument 1.  So a million-row query
 * compiles once, even when the schema comes from a column.
 *
 * Per row: the data-path parser reads the JSON into the connection's arena
 * (reset for each row), the compiled schema validates it fail-fast; nothing
 * is malloc'd once the arena and the schema's scratch have warmed up.
 *
 * Malformed JSON, invalid UTF-8 and non-text input are 0, not errors: a
 * guard decides what to do with them.  An unknown id, an invalid schema or
 * a validation that cannot finish (a pattern that hits the PCRE2
 * backtracking limit, recursion too deep) is an error.
 *
 * The functions are SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS: their answer
 * depends only on the arguments and the connection's contracts, which do
 * not change within a statement (telem_use_contracts is DIRECTONLY).
 */
#include "sql/sql.h"
#include "engine/schema.h"
#include "voxtelem.h"

#include <math.h>
#include <string.h>

#define CONTRACT_URI_BASE "https://voxtelem.dev/contracts/"

/* ---- per-registry cache ----------------------------------------------------- */

typedef struct CacheEnt {
  char *id;          /* registry id or URI as asked; owned */
  TelemSchema *s;    /* compiled; owned; NULL when compiling failed */
  char *err;         /* why it failed; owned */
} CacheEnt;

typedef struct SchemaCache {
  TelemSchemaSet *set; /* every json-schema contract; owned reference */
  char *set_err;       /* first contract that failed to load, or NULL */
  CacheEnt *ents;
  int n, cap;
} SchemaCache;

static void cache_free(void *p) {
  SchemaCache *sc = p;
  if (!sc) return;
  for (int i = 0; i < sc->n; i++) {
    sqlite3_free(sc->ents[i].id);
    telem_schema_free(sc->ents[i].s);
    sqlite3_free(sc->ents[i].err);
  }
  sqlite3_free(sc->ents);
  telem_schema_set_free(sc->set);
  sqlite3_free(sc->set_err);
  sqlite3_free(sc);
}

/* The registry's schema cache, built on first use.  NULL on OOM. */
static SchemaCache *cache_get(TelemRegistry *reg) {
  if (reg->ext[TELEM_EXT_SCHEMA]) return reg->ext[TELEM_EXT_SCHEMA];
  SchemaCache *sc = sqlite3_malloc64(sizeof *sc);
  if (!sc) return NULL;
  memset(sc, 0, sizeof *sc);
  sc->set = telem_schema_set_new(TELEM_DRAFT_2020_12);
  if (!sc->set) {
    sqlite3_free(sc);
    return NULL;
  }
  for (int i = 0; i < reg->n_contracts; i++) {
    const TelemContract *k = &reg->contracts[i];
    if (!k->kind || strcmp(k->kind, "json-schema")) continue;
    const TelemFile *f = telem_registry_file(reg, k->path);
    if (!f) continue;
    char *uri = sqlite3_mprintf(CONTRACT_URI_BASE "%s", k->path);
    char *err = NULL;
    if (!uri || telem_schema_set_add(sc->set, uri, f->data, f->len, &err)) {
      if (!sc->set_err)
        sc->set_err = sqlite3_mprintf("contract \"%s\" (%s): %s", k->id, k->path,
                                      err ? err : "out of memory");
    }
    sqlite3_free(err);
    sqlite3_free(uri);
  }
  reg->ext[TELEM_EXT_SCHEMA] = sc;
  reg->ext_free[TELEM_EXT_SCHEMA] = cache_free;
  return sc;
}

TelemSchemaSet *telem_validate_contract_set(TelemRegistry *reg) {
  SchemaCache *sc = cache_get(reg);
  return sc ? sc->set : NULL;
}

/* 1 when a schema argument is schema text rather than a name: names are
 * registry ids (^[a-z0-9][a-z0-9.-]*$) and URIs ("scheme:..."). */
static int looks_inline(const char *z) {
  while (*z == ' ' || *z == '\t' || *z == '\n' || *z == '\r') z++;
  if (!strcmp(z, "true") || !strcmp(z, "false")) return 1;
  if (telem_contract_id_ok(z)) return 0;
  const char *colon = strchr(z, ':');
  if (colon && colon > z && !strchr("{[\"", z[0])) return 0;
  return 1;
}

/* The compiled schema a registry id or URI names, cached on the registry.
 * Returns NULL and sets *pzErr (without the function prefix) otherwise. */
static TelemSchema *schema_by_name_flags(TelemConn *c, const char *name, int flags,
                                         char **pzErr);

static TelemSchema *schema_by_name(TelemConn *c, const char *name, char **pzErr) {
  return schema_by_name_flags(c, name, 0, pzErr);
}

/* Cache keys: the name, or "\x01" + name when format asserts. */
static TelemSchema *schema_by_name_flags(TelemConn *c, const char *name, int flags,
                                         char **pzErr) {
  SchemaCache *sc = cache_get(c->reg);
  if (!sc) {
    telem_set_oom(pzErr);
    return NULL;
  }
  char key[2] = {flags ? '\x01' : 0, 0};
  for (int i = 0; i < sc->n; i++) {
    const char *id = sc->ents[i].id;
    if (key[0] ? (id[0] != key[0] || strcmp(id + 1, name)) : strcmp(id, name)) continue;
    if (!sc->ents[i].s) telem_set_err(pzErr, "%s", sc->ents[i].err);
    return sc->ents[i].s;
  }
  char *err = NULL;
  TelemSchema *s = NULL;
  const TelemContract *k = telem_registry_contract(c->reg, name);
  if (k) {
    if (!k->kind || strcmp(k->kind, "json-schema")) {
      err = sqlite3_mprintf("contract \"%s\" is a %s, not a json-schema", name,
                            k->kind ? k->kind : "file of no kind");
    } else {
      char *uri = sqlite3_mprintf(CONTRACT_URI_BASE "%s", k->path);
      char *cerr = NULL;
      s = uri ? telem_schema_compile_uri_ex(sc->set, uri, flags, &cerr) : NULL;
      /* a contract that failed to load says why, not just "not loaded" */
      const char *why = cerr ? cerr : "out of memory";
      if (!s && sc->set_err && cerr && strstr(cerr, "no loaded schema")) why = sc->set_err;
      if (!s) err = sqlite3_mprintf("schema \"%s\": %s", name, why);
      sqlite3_free(cerr);
      sqlite3_free(uri);
    }
  } else if (strchr(name, ':')) {
    char *cerr = NULL;
    s = telem_schema_compile_uri_ex(sc->set, name, flags, &cerr);
    if (!s) err = sqlite3_mprintf("schema \"%s\": %s", name, cerr ? cerr : "out of memory");
    sqlite3_free(cerr);
  } else {
    err = sqlite3_mprintf("unknown schema id \"%s\" (not a json-schema contract)", name);
  }
  /* Remember failures too, so a bad id errors quickly on every row; but do
   * not let names from a column grow the cache without bound. */
  if (!s && sc->n >= 256) {
    telem_set_err(pzErr, "%s", err ? err : "out of memory");
    sqlite3_free(err);
    return NULL;
  }
  if (sc->n == sc->cap) {
    int ncap = sc->cap ? sc->cap * 2 : 8;
    CacheEnt *ne = sqlite3_realloc64(sc->ents, (size_t)ncap * sizeof *ne);
    if (!ne) goto oom;
    sc->ents = ne;
    sc->cap = ncap;
  }
  CacheEnt *e = &sc->ents[sc->n];
  e->id = sqlite3_mprintf("%s%s", key, name);
  if (!e->id) goto oom;
  e->s = s;
  e->err = err;
  sc->n++;
  if (!s) telem_set_err(pzErr, "%s", err ? err : "out of memory");
  return s;
oom:
  telem_schema_free(s);
  sqlite3_free(err);
  telem_set_oom(pzErr);
  return NULL;
}

static void schema_free_cb(void *p) { telem_schema_free(p); }

/* The compiled schema that z[0..n) names (a contract id or URI) or holds
 * (inline text), with TELEM_SCHEMA_* flags.  Returns a new reference, or
 * NULL with *pzErr (without the function prefix).  Inline text and URIs
 * of registered documents go through the connection's LRU, ids through
 * the registry's cache. */
static TelemSchema *schema_resolve(TelemConn *c, const char *z, size_t n, int flags,
                                   char **pzErr) {
  if (looks_inline(z)) return telem_schema_conn_inline(c, z, n, flags, pzErr);
  if (strchr(z, ':') && telem_schema_conn_has_docs(c) && !telem_registry_contract(c->reg, z)) {
    char *err = NULL;
    TelemSchema *s = telem_schema_conn_inline(c, z, n, flags | TELEM_SCHEMA_BY_URI, &err);
    if (!s) telem_set_err(pzErr, "schema \"%s\": %s", z, err ? err : "out of memory");
    sqlite3_free(err);
    return s;
  }
  return telem_schema_ref(schema_by_name_flags(c, z, flags, pzErr));
}

/* Flags from an options argument (NULL: none).  0, or -1 with the result
 * error set. */
static int options_arg(sqlite3_context *ctx, const char *fn, sqlite3_value *v, int iArg,
                       int *flags) {
  *flags = 0;
  if (!v || sqlite3_value_type(v) == SQLITE_NULL) return 0;
  char *err = NULL;
  if (sqlite3_value_type(v) != SQLITE_TEXT ||
      telem_schema_options((const char *)sqlite3_value_text(v), flags, &err)) {
    telem_result_errorf(ctx, fn, "argument %d: %s", iArg + 1,
                        err ? err : "expected options as text (\"format\")");
    sqlite3_free(err);
    return -1;
  }
  return 0;
}

/* The schema of argument iArg of ctx: from auxdata (a constant argument,
 * compiled once per statement), else schema_resolve.  Returns a reference
 * the caller hands to sqlite3_set_auxdata when *fresh, or NULL with the
 * result error set. */
static TelemSchema *schema_arg(sqlite3_context *ctx, const char *fn, sqlite3_value *v, int iArg,
                               int flags, int *fresh) {
  TelemConn *c = sqlite3_user_data(ctx);
  *fresh = 0;
  TelemSchema *s = flags ? NULL : sqlite3_get_auxdata(ctx, iArg);
  if (s) return s;
  if (sqlite3_value_type(v) != SQLITE_TEXT) {
    telem_result_errorf(ctx, fn, "argument %d: expected a schema id or schema text", iArg + 1);
    return NULL;
  }
  const char *z = (const char *)sqlite3_value_text(v);
  int n = sqlite3_value_bytes(v);
  if (!z) {
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  char *err = NULL;
  s = schema_resolve(c, z, (size_t)n, flags, &err);
  if (!s) {
    if (looks_inline(z))
      telem_result_errorf(ctx, fn, "argument %d: %s", iArg + 1, err ? err : "out of memory");
    else
      telem_result_errorf(ctx, fn, "%s", err ? err : "out of memory");
  }
  sqlite3_free(err);
  *fresh = s != NULL;
  return s;
}

/* ---- telem_validate / telem_assert_valid ------------------------------------- */

/* First failing leaf of j against s, as "<instance_path>: <message>"
 * (sqlite3_malloc'd), or NULL with *pzErr. */
static char *first_problem(TelemSchema *s, const TelemJson *j, char **pzErr) {
  TelemSchemaErrors *e = telem_schema_errors_tree(s, j, pzErr);
  if (!e) return NULL;
  const TelemSchemaError *x = telem_schema_errors_get(e, 0);
  char *m = x ? sqlite3_mprintf("%s%s%s", x->instance_path[0] ? x->instance_path : "",
                                x->instance_path[0] ? ": " : "", x->message)
              : sqlite3_mprintf("does not match");
  telem_schema_errors_free(e);
  if (!m) telem_set_oom(pzErr);
  return m;
}

static void validate_common(sqlite3_context *ctx, int argc, sqlite3_value **argv, int assert) {
  const char *fn = assert ? "telem_assert_valid" : "telem_validate";
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL)
    return; /* NULL in, NULL out */
  int flags, fresh;
  if (options_arg(ctx, fn, argc > 2 ? argv[2] : NULL, 2, &flags)) return;
  TelemSchema *s = schema_arg(ctx, fn, argv[1], 1, flags, &fresh);
  if (!s) return;
  TelemConn *c = sqlite3_user_data(ctx);
  int r = 0;
  char *err = NULL;
  const TelemJson *j = NULL;
  if (sqlite3_value_type(argv[0]) == SQLITE_TEXT) {
    const char *z = (const char *)sqlite3_value_text(argv[0]);
    size_t n = (size_t)sqlite3_value_bytes(argv[0]);
    telem_arena_reset(&c->arena);
    j = z ? telem_json_parse(&c->arena, z, n, NULL) : NULL;
    if (j) {
      TelemSchemaProbe probe;
      TelemSchemaRun run;
      telem_schema_probe_init(&probe, sqlite3_context_db_handle(ctx), &run);
      r = telem_schema_validate_tree_run(s, j, &run, &err);
      telem_schema_probe_done(&probe);
    }
  }
  if (r == -2) {
    telem_result_errorf(ctx, fn, "interrupted");
    sqlite3_result_error_code(ctx, SQLITE_INTERRUPT);
  } else if (r < 0) {
    telem_result_errorf(ctx, fn, "%s", err ? err : "out of memory");
  } else if (!assert || r == 1) {
    sqlite3_result_int(ctx, r);
  } else if (!j) {
    telem_result_errorf(ctx, fn, "value is not JSON text");
  } else {
    const char *name = (const char *)sqlite3_value_text(argv[1]);
    char *p = first_problem(s, j, &err);
    /* Keys are data: a secret used as a key must not reach the log. */
    char *q = p ? telem_redact_scrub_str(c, p, strlen(p), &err) : NULL;
    telem_result_errorf(ctx, fn, "%s: %s", name && !looks_inline(name) ? name : "inline schema",
                        q ? q : err ? err : "out of memory");
    sqlite3_free(q);
    sqlite3_free(p);
  }
  sqlite3_free(err);
  if (fresh && !flags) sqlite3_set_auxdata(ctx, 1, s, schema_free_cb);
  else if (fresh) telem_schema_free(s);
  /* s may already be freed here: do not use it */
}

static void validate_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  validate_common(ctx, argc, argv, 0);
}

static void assert_valid_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  validate_common(ctx, argc, argv, 1);
}

/* ---- shared with metric.c ------------------------------------------------------ */

TelemSchema *telem_validate_schema_by_id(TelemConn *c, const char *id, char **pzErr) {
  return schema_by_name(c, id, pzErr);
}

char *telem_validate_first_problem(TelemSchema *s, const TelemJson *j, char **pzErr) {
  return first_problem(s, j, pzErr);
}

/* ---- telem_validate_errors(json, schema) ---------------------------------------- */

/* Declared schema; the arguments are HIDDEN columns. */
#define VE_SCHEMA                                                                        \
  "CREATE TABLE x(instance_path TEXT, schema_path TEXT, keyword TEXT, message TEXT, "   \
  "json HIDDEN, schema HIDDEN, options HIDDEN" TELEM_TVF_EXTRA_COLUMNS ")"
#define VE_COL_INSTANCE_PATH 0
#define VE_COL_SCHEMA_PATH 1
#define VE_COL_KEYWORD 2
#define VE_COL_MESSAGE 3
#define VE_COL_JSON 4
#define VE_COL_SCHEMA 5
#define VE_COL_OPTIONS 6
#define VE_COL_EXTRA 7 /* TELEM_TVF_EXTRA_COLUMNS: too many arguments */

/* idxNum bits: 1 = json constrained (argv[0]), 2 = schema constrained
 * (argv[1]), 4 = options (argv[2]).  json and schema are required. */
#define VE_IDX_JSON 1
#define VE_IDX_SCHEMA 2
#define VE_IDX_OPTIONS 4

typedef struct VeVtab {
  sqlite3_vtab base; /* must be first */
  TelemConn *c;      /* connection state (not owned: the module holds a ref) */
} VeVtab;

typedef struct VeCursor {
  sqlite3_vtab_cursor base; /* must be first */
  TelemSchemaErrors *errs;  /* rows of the current scan; owned */
  int i;                    /* current row */
} VeCursor;

static int ve_connect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                      sqlite3_vtab **ppVtab, char **pzErr) {
  (void)argc;
  (void)argv;
  (void)pzErr;
  int rc = sqlite3_declare_vtab(db, VE_SCHEMA);
  if (rc != SQLITE_OK) return rc;
  VeVtab *v = sqlite3_malloc64(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->c = pAux;
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  *ppVtab = &v->base;
  return SQLITE_OK;
}

static int ve_disconnect(sqlite3_vtab *pVtab) {
  sqlite3_free(pVtab);
  return SQLITE_OK;
}

static int ve_best_index(sqlite3_vtab *pVtab, sqlite3_index_info *info) {
  int json_i = -1, schema_i = -1, opt_i = -1, unusable = 0;
  if (telem_tvf_too_many_args(pVtab, info, "telem_validate_errors", VE_COL_EXTRA, 3))
    return SQLITE_ERROR;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *k = &info->aConstraint[i];
    if (k->iColumn != VE_COL_JSON && k->iColumn != VE_COL_SCHEMA && k->iColumn != VE_COL_OPTIONS)
      continue;
    if (!k->usable || k->op != SQLITE_INDEX_CONSTRAINT_EQ) {
      unusable = 1;
      continue;
    }
    if (k->iColumn == VE_COL_JSON) json_i = i;
    else if (k->iColumn == VE_COL_SCHEMA) schema_i = i;
    else opt_i = i;
  }
  if (json_i < 0 || schema_i < 0) {
    if (unusable) return SQLITE_CONSTRAINT;
    telem_vtab_errorf(pVtab, "telem_validate_errors: expected 2 arguments (json, schema)");
    return SQLITE_ERROR;
  }
  info->aConstraintUsage[json_i].argvIndex = 1;
  info->aConstraintUsage[json_i].omit = 1;
  info->aConstraintUsage[schema_i].argvIndex = 2;
  info->aConstraintUsage[schema_i].omit = 1;
  info->idxNum = VE_IDX_JSON | VE_IDX_SCHEMA;
  if (opt_i >= 0) {
    info->aConstraintUsage[opt_i].argvIndex = 3;
    info->aConstraintUsage[opt_i].omit = 1;
    info->idxNum |= VE_IDX_OPTIONS;
  }
  info->estimatedCost = 100;
  info->estimatedRows = 10;
  return SQLITE_OK;
}

static int ve_open(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCursor) {
  (void)pVtab;
  VeCursor *cur = sqlite3_malloc64(sizeof *cur);
  if (!cur) return SQLITE_NOMEM;
  memset(cur, 0, sizeof *cur);
  *ppCursor = &cur->base;
  return SQLITE_OK;
}

static int ve_close(sqlite3_vtab_cursor *pCur) {
  VeCursor *cur = (VeCursor *)pCur;
  telem_schema_errors_free(cur->errs);
  sqlite3_free(cur);
  return SQLITE_OK;
}

/* The schema named or given by v, with flags (a new reference), or NULL
 * with the vtab error set. */
static TelemSchema *ve_schema(VeVtab *vt, sqlite3_value *v, int flags) {
  if (sqlite3_value_type(v) != SQLITE_TEXT) {
    telem_vtab_errorf(&vt->base, "telem_validate_errors: argument 2: expected a schema id or schema text");
    return NULL;
  }
  const char *z = (const char *)sqlite3_value_text(v);
  size_t n = (size_t)sqlite3_value_bytes(v);
  if (!z) {
    telem_vtab_errorf(&vt->base, "telem_validate_errors: out of memory");
    return NULL;
  }
  char *err = NULL;
  TelemSchema *s = schema_resolve(vt->c, z, n, flags, &err);
  if (!s)
    telem_vtab_errorf(&vt->base, "telem_validate_errors: %s%s", looks_inline(z) ? "argument 2: " : "",
                      err ? err : "out of memory");
  sqlite3_free(err);
  return s;
}

static int ve_filter(sqlite3_vtab_cursor *pCur, int idxNum, const char *idxStr, int argc,
                     sqlite3_value **argv) {
  (void)idxStr;
  VeCursor *cur = (VeCursor *)pCur;
  VeVtab *vt = (VeVtab *)pCur->pVtab;
  telem_schema_errors_free(cur->errs);
  cur->errs = NULL;
  cur->i = 0;
  if ((idxNum & (VE_IDX_JSON | VE_IDX_SCHEMA)) != (VE_IDX_JSON | VE_IDX_SCHEMA) || argc < 2)
    return SQLITE_OK;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL)
    return SQLITE_OK; /* NULL in: no rows */
  int flags = 0;
  char *err = NULL;
  if (argc > 2 && sqlite3_value_type(argv[2]) != SQLITE_NULL &&
      (sqlite3_value_type(argv[2]) != SQLITE_TEXT ||
       telem_schema_options((const char *)sqlite3_value_text(argv[2]), &flags, &err))) {
    telem_vtab_errorf(&vt->base, "telem_validate_errors: argument 3: %s",
                      err ? err : "expected options as text (\"format\")");
    sqlite3_free(err);
    return SQLITE_ERROR;
  }
  TelemSchema *s = ve_schema(vt, argv[1], flags);
  if (!s) return SQLITE_ERROR;
  TelemConn *c = vt->c;
  int interrupted = 0;
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    /* a number or blob is not JSON text: one "json" row */
    cur->errs = telem_schema_validate_errors(s, "", 0, &err);
  } else {
    const char *z = (const char *)sqlite3_value_text(argv[0]);
    size_t n = (size_t)sqlite3_value_bytes(argv[0]);
    TelemJsonError je;
    memset(&je, 0, sizeof je);
    telem_arena_reset(&c->arena);
    const TelemJson *j = z ? telem_json_parse(&c->arena, z, n, &je) : NULL;
    if (!z) {
      cur->errs = NULL;
    } else if (!j) {
      cur->errs = telem_schema_validate_errors(s, z, n, &err); /* the "json" row */
    } else {
      TelemSchemaProbe probe;
      TelemSchemaRun run;
      telem_schema_probe_init(&probe, c->db, &run);
      cur->errs = telem_schema_errors_tree_run(s, j, &run, &interrupted, &err);
      telem_schema_probe_done(&probe);
    }
  }
  telem_schema_free(s);
  if (!cur->errs) {
    telem_vtab_errorf(&vt->base, "telem_validate_errors: %s", err ? err : "out of memory");
    sqlite3_free(err);
    return interrupted ? SQLITE_INTERRUPT : SQLITE_ERROR;
  }
  return SQLITE_OK;
}

static int ve_next(sqlite3_vtab_cursor *pCur) {
  ((VeCursor *)pCur)->i++;
  return SQLITE_OK;
}

static int ve_eof(sqlite3_vtab_cursor *pCur) {
  VeCursor *cur = (VeCursor *)pCur;
  return cur->i >= telem_schema_errors_count(cur->errs);
}

static int ve_column(sqlite3_vtab_cursor *pCur, sqlite3_context *ctx, int col) {
  VeCursor *cur = (VeCursor *)pCur;
  const TelemSchemaError *e = telem_schema_errors_get(cur->errs, cur->i);
  if (!e) return SQLITE_OK;
  const char *z = NULL;
  switch (col) {
    case VE_COL_INSTANCE_PATH: z = e->instance_path; break;
    case VE_COL_SCHEMA_PATH: z = e->schema_path; break;
    case VE_COL_KEYWORD: z = e->keyword; break;
    case VE_COL_MESSAGE: z = e->message; break;
    default: return SQLITE_OK; /* hidden arguments read back as NULL */
  }
  if (col == VE_COL_INSTANCE_PATH || col == VE_COL_MESSAGE) {
    /* Keys are data: the path and message name instance keys, which may be
     * secrets; value patterns run over them (fail closed on error). */
    char *err = NULL;
    char *q = telem_redact_scrub_str(((VeVtab *)pCur->pVtab)->c, z, z ? strlen(z) : 0, &err);
    if (!q) {
      telem_vtab_errorf(pCur->pVtab, "telem_validate_errors: %s", err ? err : "out of memory");
      sqlite3_free(err);
      return SQLITE_ERROR;
    }
    sqlite3_result_text(ctx, q, -1, sqlite3_free);
    return SQLITE_OK;
  }
  sqlite3_result_text(ctx, z, -1, SQLITE_TRANSIENT);
  return SQLITE_OK;
}

static int ve_rowid(sqlite3_vtab_cursor *pCur, sqlite3_int64 *pRowid) {
  *pRowid = ((VeCursor *)pCur)->i + 1;
  return SQLITE_OK;
}

static const sqlite3_module ve_module = {
    0,             /* iVersion */
    NULL,          /* xCreate: NULL makes it eponymous-only */
    ve_connect,    /* xConnect */
    ve_best_index, /* xBestIndex */
    ve_disconnect, /* xDisconnect */
    NULL,          /* xDestroy */
    ve_open,       /* xOpen */
    ve_close,      /* xClose */
    ve_filter,     /* xFilter */
    ve_next,       /* xNext */
    ve_eof,        /* xEof */
    ve_column,     /* xColumn */
    ve_rowid,      /* xRowid */
    NULL,          /* xUpdate: read-only */
    NULL,          /* xBegin */
    NULL,          /* xSync */
    NULL,          /* xCommit */
    NULL,          /* xRollback */
    NULL,          /* xFindFunction */
    NULL,          /* xRename */
    NULL,          /* xSavepoint */
    NULL,          /* xRelease */
    NULL,          /* xRollbackTo */
    NULL,          /* xShadowName */
};

/* ---- registration ------------------------------------------------------------ */

/* Pure functions of their arguments and the connection's contracts. */
static const TelemSqlFunc validate_funcs[] = {
    {"telem_validate", 2, 3, SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, validate_func},
    {"telem_assert_valid", 2, 3, SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, assert_valid_func},
    {NULL},
};

static const TelemSqlModule validate_modules[] = {
    {"telem_validate_errors", &ve_module},
    {NULL},
};

const TelemFeature telem_feature_validate = {"validate", validate_funcs, validate_modules};
