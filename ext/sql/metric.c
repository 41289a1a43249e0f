/*
 * metric.c -- the research_metrics row contract, as Vox's code implements it:
 *
 *   telem_metric_problem(session_id, metric_type, metric_value, metadata_json)
 *                                  NULL when the row meets the contract, else
 *                                  the first problem in words
 *   telem_assert_metric(...)       1, or an error with that problem (triggers)
 *
 *   SELECT id, telem_metric_problem(session_id, metric_type, metric_value, metadata_json)
 *     FROM research_metrics WHERE 1;
 *
 * Two tiers, checked in this order:
 *
 * 1. What Vox's writer refuses: validate_research_metric_row() in
 *    crates/vox-telemetry/src/types.rs, called by append_research_metric on
 *    every write.  Rust's str::len() counts bytes, so do we:
 *      session_id   non-empty, at most 512 bytes
 *      metric_type  non-empty, at most 128 bytes, ASCII [A-Za-z0-9_.:-]
 *      metadata     at most RESEARCH_METRICS_METADATA_JSON_MAX_BYTES
 *                   (256 KiB) bytes; any text: Vox does not parse it
 *      model_route_event  metadata containing the texts "trace_id" and
 *                   "route_policy_profile" with their quotes (Vox tests the
 *                   text with str::contains, not the parsed keys)
 *    plus what a Rust writer cannot produce: NULL keys, non-text, text that
 *    is not UTF-8, a metric_value that is not a number.
 * 2. What Vox leaves to its payload contracts: when the taxonomy names a
 *    schema for the metric type, the JSON value at the type's
 *    schema_pointer inside metadata_json (e.g. /details) is valid against
 *    it.  A pointer that leads nowhere means the optional payload is absent
 *    (Vox skips None fields); metadata that is not JSON cannot be checked and
 *    is a problem only for such types.  Unknown metric types are accepted,
 *    as Vox accepts them (telem_classify puts them at S3).
 *
 * Per row: the metric type is found in the registry's hash (O(1), whatever
 * the taxonomy's size); its compiled schema is cached per taxonomy row in
 * reg->ext[TELEM_EXT_METRIC], so a scan compiles each schema once and looks
 * nothing up by name.
 *
 * Both functions are SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS: the answer
 * depends on the arguments and the connection's contracts only.
 */
#include "sql/sql.h"
#include "engine/schema.h"

#include <string.h>

#define VOX_SESSION_ID_MAX_BYTES 512  /* RESEARCH_METRICS_SESSION_ID_MAX_CHARS, compared to len() */
#define VOX_METRIC_TYPE_MAX_BYTES 128 /* RESEARCH_METRICS_METRIC_TYPE_MAX_CHARS, compared to len() */

/* ---- per-registry cache: one compiled schema per taxonomy row ------------- */

typedef struct MetricCache {
  int n;              /* reg->n_taxonomy */
  TelemSchema **s;    /* borrowed from validate.c's cache (dies with the registry) */
  char **err;         /* why s[i] is NULL; owned */
  unsigned char *tried;
} MetricCache;

static void metric_cache_free(void *p) {
  MetricCache *mc = p;
  if (!mc) return;
  for (int i = 0; i < mc->n; i++) sqlite3_free(mc->err[i]);
  sqlite3_free(mc->s);
  sqlite3_free(mc->err);
  sqlite3_free(mc->tried);
  sqlite3_free(mc);
}

static MetricCache *metric_cache_get(TelemRegistry *reg) {
  if (reg->ext[TELEM_EXT_METRIC]) return reg->ext[TELEM_EXT_METRIC];
  MetricCache *mc = sqlite3_malloc64(sizeof *mc);
  if (!mc) return NULL;
  memset(mc, 0, sizeof *mc);
  size_t n = (size_t)(reg->n_taxonomy ? reg->n_taxonomy : 1);
  mc->s = sqlite3_malloc64(n * sizeof *mc->s);
  mc->err = sqlite3_malloc64(n * sizeof *mc->err);
  mc->tried = sqlite3_malloc64(n);
  if (!mc->s || !mc->err || !mc->tried) {
    metric_cache_free(mc);
    return NULL;
  }
  memset(mc->s, 0, n * sizeof *mc->s);
  memset(mc->err, 0, n * sizeof *mc->err);
  memset(mc->tried, 0, n);
  mc->n = reg->n_taxonomy;
  reg->ext[TELEM_EXT_METRIC] = mc;
  reg->ext_free[TELEM_EXT_METRIC] = metric_cache_free;
  return mc;
}

/* The compiled schema of taxonomy row `row`, or NULL with *pzErr. */
static TelemSchema *metric_schema(TelemConn *c, const TelemTaxonomyRow *row, char **pzErr) {
  MetricCache *mc = metric_cache_get(c->reg);
  if (!mc) {
    telem_set_oom(pzErr);
    return NULL;
  }
  int i = (int)(row - c->reg->taxonomy);
  if (!mc->tried[i]) {
    char *err = NULL;
    mc->s[i] = telem_validate_schema_by_id(c, row->schema_id, &err);
    if (!mc->s[i]) {
      /* an OOM is not remembered: the next row tries again */
      if (telem_err_is_oom(err)) {
        sqlite3_free(err);
        telem_set_oom(pzErr);
        return NULL;
      }
      mc->err[i] = err;
    }
    mc->tried[i] = 1;
  }
  if (!mc->s[i]) telem_set_err(pzErr, "%s", mc->err[i]);
  return mc->s[i];
}

/* ---- the checks ------------------------------------------------------------ */

static int metric_type_chars_ok(const unsigned char *z, int n) {
  for (int i = 0; i < n; i++) {
    unsigned char ch = z[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '_' || ch == '.' || ch == ':' || ch == '-'))
      return 0;
  }
  return 1;
}

/* 1 when needle[0..k) occurs in h[0..n) (Rust's str::contains). */
static int metric_contains(const char *h, size_t n, const char *needle, size_t k) {
  for (size_t i = 0; i + k <= n; i++) {
    const char *q = memchr(h + i, needle[0], n - i - k + 1);
    if (!q) return 0;
    i = (size_t)(q - h);
    if (memcmp(q, needle, k) == 0) return 1;
  }
  return 0;
}

/* The value at JSON Pointer ptr (RFC 6901) inside j, or NULL when the
 * pointer leads nowhere.  "" or NULL is j itself. */
static const TelemJson *metric_pointer(const TelemJson *j, const char *ptr, TelemArena *a) {
  if (!ptr || !ptr[0]) return j;
  const char *p = ptr;
  while (j && *p == '/') {
    p++;
    const char *end = strchr(p, '/');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    /* unescape ~1 -> '/', ~0 -> '~' into the arena */
    char *tok = telem_arena_alloc(a, n + 1);
    if (!tok) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
      if (p[i] == '~' && i + 1 < n && (p[i + 1] == '0' || p[i + 1] == '1')) {
        tok[k++] = p[i + 1] == '0' ? '~' : '/';
        i++;
      } else {
        tok[k++] = p[i];
      }
    }
    tok[k] = 0;
    if (j->type == TJ_OBJECT) {
      j = telem_json_get(j, tok, k);
    } else if (j->type == TJ_ARRAY) {
      if (k == 0 || (k > 1 && tok[0] == '0')) return NULL;
      size_t idx = 0;
      for (size_t i = 0; i < k; i++) {
        if (tok[i] < '0' || tok[i] > '9' || idx > 100000000) return NULL;
        idx = idx * 10 + (size_t)(tok[i] - '0');
      }
      const TelemJson *x = j->child;
      while (x && idx--) x = x->next;
      j = x;
    } else {
      return NULL;
    }
    p += n;
  }
  return j;
}

/* The first problem of a research_metrics row, as words (sqlite3_malloc'd),
 * or NULL when it meets the contract.  Engine failures (a broken contract,
 * a pattern over its limit, OOM) go to *pzErr with NULL returned and
 * *fatal set.  Messages never hold row values. */
/* Tier 2 on an already parsed metadata_json j of taxonomy row `row`: the
 * value at the row's schema_pointer valid against its schema (absent:
 * valid).  Shared with telem_enqueue (spool.c).  NULL when it holds, else
 * the problem in words (sqlite3_malloc'd); engine failures set *fatal and
 * *pzErr and return NULL. */
char *telem_metric_payload_problem(TelemConn *c, const TelemTaxonomyRow *row, const TelemJson *j,
                                   int *fatal, char **pzErr) {
  *fatal = 0;
  if (!row->schema_id || !row->schema_id[0]) return NULL;
  const TelemJson *payload = metric_pointer(j, row->schema_pointer, &c->arena);
  if (!payload) return NULL; /* the optional payload is absent */
  char *err = NULL;
  TelemSchema *s = metric_schema(c, row, &err);
  int r = s ? telem_schema_validate_tree(s, payload, &err) : -1;
  if (r == 1) return NULL;
  if (r < 0) {
    *fatal = 1;
    telem_set_err(pzErr, "%s", err ? err : "out of memory");
    sqlite3_free(err);
    return NULL;
  }
  char *p = telem_validate_first_problem(s, payload, &err);
  if (!p) {
    *fatal = 1;
    telem_set_err(pzErr, "%s", err ? err : "out of memory");
    sqlite3_free(err);
    return NULL;
  }
  char *m = sqlite3_mprintf("metadata_json%s does not match schema \"%s\" for %s: %s",
                            row->schema_pointer ? row->schema_pointer : "", row->schema_id,
                            row->metric_type, p);
  sqlite3_free(p);
  if (!m) {
    *fatal = 1;
    telem_set_err(pzErr, "out of memory");
  }
  return m;
}

static char *metric_problem(TelemConn *c, sqlite3_value **argv, int *fatal, char **pzErr) {
  *fatal = 0;
  /* session_id: types.rs, validate_research_metric_row: is_empty(), len() > 512 */
  sqlite3_value *v = argv[0];
  if (sqlite3_value_type(v) == SQLITE_NULL) return sqlite3_mprintf("session_id is required");
  if (sqlite3_value_type(v) != SQLITE_TEXT) return sqlite3_mprintf("session_id must be text");
  const char *z = (const char *)sqlite3_value_text(v);
  size_t n = (size_t)sqlite3_value_bytes(v);
  if (!z) goto oom;
  if (n == 0) return sqlite3_mprintf("session_id must be non-empty");
  if (n > VOX_SESSION_ID_MAX_BYTES)
    return sqlite3_mprintf("session_id exceeds %d bytes", VOX_SESSION_ID_MAX_BYTES);
  if (!telem_utf8_valid(z, n)) return sqlite3_mprintf("session_id is not valid UTF-8 text");
  /* metric_type: is_empty(), len() > 128, valid_metric_type_chars() */
  v = argv[1];
  if (sqlite3_value_type(v) == SQLITE_NULL) return sqlite3_mprintf("metric_type is required");
  if (sqlite3_value_type(v) != SQLITE_TEXT) return sqlite3_mprintf("metric_type must be text");
  const unsigned char *t = sqlite3_value_text(v);
  int tn = sqlite3_value_bytes(v);
  if (!t) goto oom;
  if (tn == 0) return sqlite3_mprintf("metric_type must be non-empty");
  if (tn > VOX_METRIC_TYPE_MAX_BYTES)
    return sqlite3_mprintf("metric_type exceeds %d bytes", VOX_METRIC_TYPE_MAX_BYTES);
  if (!metric_type_chars_ok(t, tn))
    return sqlite3_mprintf("metric_type contains disallowed characters (allowed: A-Z a-z 0-9 _ . : -)");
  /* metric_value: Option<f64> bound as REAL or NULL (SQLite stores NaN as NULL) */
  v = argv[2];
  int vt = sqlite3_value_type(v);
  if (vt == SQLITE_TEXT || vt == SQLITE_BLOB)
    return sqlite3_mprintf("metric_value must be a number or NULL");
  /* metadata_json: Option<&str>; len() > RESEARCH_METRICS_METADATA_JSON_MAX_BYTES */
  v = argv[3];
  int null_meta = sqlite3_value_type(v) == SQLITE_NULL;
  if (!null_meta && sqlite3_value_type(v) != SQLITE_TEXT)
    return sqlite3_mprintf("metadata_json must be text or NULL");
  const char *mz = null_meta ? NULL : (const char *)sqlite3_value_text(v);
  size_t mn = null_meta ? 0 : (size_t)sqlite3_value_bytes(v);
  if (!null_meta && !mz) goto oom;
  if (mn > TELEM_METADATA_MAX_BYTES)
    return sqlite3_mprintf("metadata_json exceeds %d bytes", TELEM_METADATA_MAX_BYTES);
  if (mz && !telem_utf8_valid(mz, mn))
    return sqlite3_mprintf("metadata_json is not valid UTF-8 text");
  /* model_route_event: m.contains("\"trace_id\"") && m.contains("\"route_policy_profile\"") */
  if (mz && tn == 17 && memcmp(t, "model_route_event", 17) == 0 &&
      (!metric_contains(mz, mn, "\"trace_id\"", 10) ||
       !metric_contains(mz, mn, "\"route_policy_profile\"", 22)))
    return sqlite3_mprintf("model_route_event metadata_json must include trace_id and route_policy_profile");
  if (!mz) return NULL;

  /* tier 2: the payload contract of the metric type */
  const TelemTaxonomyRow *row = telem_registry_metric_n(c->reg, (const char *)t, (size_t)tn);
  if (!row || !row->schema_id || !row->schema_id[0]) return NULL;
  telem_arena_reset(&c->arena);
  TelemJsonError je;
  memset(&je, 0, sizeof je);
  const TelemJson *j = telem_json_parse(&c->arena, mz, mn, &je);
  if (!j)
    return sqlite3_mprintf("metadata_json is not valid JSON (line %d, column %d: %s), so its payload "
                           "cannot be checked against schema \"%s\"",
                           je.line, je.column, je.what ? je.what : "syntax error", row->schema_id);
  return telem_metric_payload_problem(c, row, j, fatal, pzErr);
oom:
  *fatal = 1;
  telem_set_oom(pzErr);
  return NULL;
}

static void metric_common(sqlite3_context *ctx, int argc, sqlite3_value **argv, int assert) {
  (void)argc; /* registered for exactly 4 */
  const char *fn = assert ? "telem_assert_metric" : "telem_metric_problem";
  TelemConn *c = sqlite3_user_data(ctx);
  int fatal;
  char *err = NULL;
  char *p = metric_problem(c, argv, &fatal, &err);
  if (fatal) {
    if (telem_err_is_oom(err)) sqlite3_result_error_nomem(ctx);
    else telem_result_errorf(ctx, fn, "%s", err ? err : "out of memory");
  } else if (!p) {
    if (assert) sqlite3_result_int(ctx, 1);
    else sqlite3_result_null(ctx);
  } else if (assert) {
    /* Keys are data: the problem may quote a member name. */
    char *q = telem_redact_scrub_str(c, p, strlen(p), &err);
    telem_result_errorf(ctx, fn, "%s", q ? q : err ? err : "out of memory");
    sqlite3_free(q);
  } else {
    sqlite3_result_text(ctx, p, -1, sqlite3_free);
    p = NULL;
  }
  sqlite3_free(p);
  sqlite3_free(err);
}

static void metric_problem_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  metric_common(ctx, argc, argv, 0);
}

static void assert_metric_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  metric_common(ctx, argc, argv, 1);
}

static const TelemSqlFunc metric_funcs[] = {
    /* Pure functions of their arguments and the connection's contracts. */
    {"telem_metric_problem", 4, 4, SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, metric_problem_func},
    {"telem_assert_metric", 4, 4, SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, assert_metric_func},
    {NULL},
};

const TelemFeature telem_feature_metric = {"metric", metric_funcs, NULL};
