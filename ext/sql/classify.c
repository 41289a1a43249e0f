/*
 * classify.c -- telem_classify(metric_type [, payload]): the effective
 * sensitivity class S0..S3 of a telemetry row; and its aggregate form,
 * telem_class_summary(metric_type, payload, time_value [, row_id]), the
 * governance view's rows per (class, metric type) without a sort.
 *
 *   SELECT telem_classify('benchmark_event');                       -> S0
 *   SELECT telem_classify('benchmark_event', '{"prompt":"hi"}');    -> S3
 *   SELECT telem_classify('no.such.type');                          -> S3
 *
 * The class starts at the taxonomy's sensitivity of the metric type (an
 * unknown type, or an unknown class in the taxonomy, is S3: fail closed)
 * and is raised by the payload: a key rule that matches a member with a
 * non-empty value raises it to that rule's class (content-bearing keys and
 * secret keys S3, paths / fingerprints / branches / repo-scoped keys S2),
 * and so does a value pattern that matches (secrets S3, IPs S2, ...).  A
 * payload that is not JSON is S3: we cannot tell what free text holds.
 *
 * Without a payload the call must cost about as much as reading the
 * column: the registry indexes its taxonomy by a hash when it loads
 * (telem_registry_metric_n), so a call hashes the metric type, probes, and
 * returns a static string -- no allocation.
 */
#include "sql/sql.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The effective class of one row, the one code path of telem_classify and
 * telem_class_summary: returns 1 with *cls 0..3 (-1 for a NULL metric
 * type), or 0 with ctx's error set (its message starting with fn).  pv
 * (the payload) may be NULL: no payload, as is an SQL NULL. */
static int classify_value(sqlite3_context *ctx, const char *fn, TelemConn *c, sqlite3_value *mtv,
                          sqlite3_value *pv, int *cls) {
  TelemRegistry *reg = c->reg;
  const char *mt = (const char *)sqlite3_value_text(mtv);
  if (!mt) {
    if (sqlite3_value_type(mtv) != SQLITE_NULL) {
      sqlite3_result_error_nomem(ctx);
      return 0;
    }
    *cls = -1;
    return 1;
  }
  const TelemTaxonomyRow *row = telem_registry_metric_n(reg, mt, (size_t)sqlite3_value_bytes(mtv));
  int k = row ? row->cls : 3; /* an unknown metric type is S3: fail closed */
  if (pv && k < 3 && sqlite3_value_type(pv) != SQLITE_NULL) {
    char *err = NULL;
    TelemRedactor *r = telem_redact_rules(reg, &err);
    if (!r) {
      telem_result_errorf(ctx, fn, "%s", err ? err : "out of memory");
      sqlite3_free(err);
      return 0;
    }
    const char *p = (const char *)sqlite3_value_text(pv);
    if (!p) {
      sqlite3_result_error_nomem(ctx);
      return 0;
    }
    telem_arena_reset(&c->arena);
    telem_redact_bind_db(r, c->db);
    int rv = telem_redactor_classify(r, &c->arena, p, (size_t)sqlite3_value_bytes(pv), &k, &err);
    telem_arena_reset(&c->arena);
    if (rv) {
      if (telem_err_is_oom(err)) sqlite3_result_error_nomem(ctx);
      else telem_result_errorf(ctx, fn, "%s", err ? err : "out of memory");
      sqlite3_free(err);
      return 0;
    }
  }
  *cls = k;
  return 1;
}

/* telem_classify(metric_type [, payload]): NULL metric_type gives NULL;
 * a NULL payload is no payload. */
static void classify_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  int cls;
  if (!classify_value(ctx, "telem_classify", sqlite3_user_data(ctx), argv[0],
                      argc > 1 ? argv[1] : NULL, &cls))
    return;
  if (cls >= 0) sqlite3_result_text(ctx, telem_class_name(cls), 2, SQLITE_STATIC);
}

/* ---- telem_class_summary: the governance view without a sort ---------------
 *
 * telem_class_summary(metric_type, payload, time_value [, row_id]) is an
 * aggregate: each row is classified by classify_value (the code of
 * telem_classify), and a hash table keyed by (class, metric type as text)
 * keeps the row count and the min() and max() of time_value per group.
 * xFinal returns a JSON array, one object per group, ordered as the view
 * orders them (class descending, NULL last; then metric type, BINARY).
 * Memory grows with the distinct groups only, and is capped. */

#define SUMMARY_FN "telem_class_summary"
#define SUMMARY_MAX_GROUPS 1000000
/* Metric types and held values.  It also bounds the JSON of xFinal: at most
 * 6 bytes per byte held (\u0000 for a NUL) plus ~200 per group, under
 * SQLite's 1e9 length limit and far from a failing 2 GB allocation. */
#define SUMMARY_MAX_BYTES ((size_t)64 << 20)

/* A copy of one SQL value, its bytes in a buffer reused as it changes (a
 * min/max that moves on most rows -- created_at in insertion order -- would
 * otherwise cost an allocation per row). */
typedef struct SumVal {
  int type; /* SQLITE_NULL (nothing held yet), _INTEGER, _FLOAT, _TEXT, _BLOB */
  sqlite3_int64 i;
  double r;
  char *z;
  size_t n, cap;
  sqlite3_int64 id; /* row_id of the row it came from */
  int has_id;
} SumVal;

typedef struct SumGroup {
  int cls; /* 0..3, -1 for a NULL metric type */
  uint64_t hash;
  sqlite3_int64 rows;
  sqlite3_int64 first_id;
  int has_first_id;
  SumVal lo, hi;
  size_t klen;
  char key[]; /* the metric type as text, klen bytes */
} SumGroup;

typedef struct SumState {
  SumGroup **slots; /* open addressing, power of two, at most half full */
  size_t cap, n;
  size_t bytes;     /* key and held value bytes, against SUMMARY_MAX_BYTES */
  SumGroup *last;   /* the previous row's group: rows of a type come in runs */
} SumState;

/* SQLite's order for min() and max() (sqlite3MemCompare, BINARY): NULL <
 * INTEGER and REAL, compared by value < TEXT (memcmp, then length) < BLOB
 * (the same).  a is held (never NULL here), b is the row's value. */
static int sumval_rank(int type) {
  switch (type) {
  case SQLITE_NULL: return 0;
  case SQLITE_INTEGER:
  case SQLITE_FLOAT: return 1;
  case SQLITE_TEXT: return 2;
  default: return 3;
  }
}

/* -1, 0, 1 as i compares with r, exactly (sqlite3IntFloatCompare). */
static int int_real_cmp(sqlite3_int64 i, double r) {
  if (r != r) return 1; /* NaN: SQLite never stores one */
  if (r < -9223372036854775808.0) return 1;
  if (r >= 9223372036854775808.0) return -1;
  sqlite3_int64 y = (sqlite3_int64)r; /* r truncated: exact in range */
  if (i < y) return -1;
  if (i > y) return 1;
  /* i == trunc(r); beyond 2^53 r is integral and (double)y == r */
  double d = (double)y;
  if (r > d) return -1;
  if (r < d) return 1;
  return 0;
}

static int bytes_cmp(const char *a, size_t an, const void *b, size_t bn) {
  size_t m = an < bn ? an : bn;
  int c = m ? memcmp(a, b, m) : 0;
  if (c) return c < 0 ? -1 : 1;
  return an < bn ? -1 : an > bn;
}

static int sumval_cmp(const SumVal *a, sqlite3_value *b) {
  int bt = sqlite3_value_type(b);
  int ra = sumval_rank(a->type), rb = sumval_rank(bt);
  if (ra != rb) return ra < rb ? -1 : 1;
  switch (ra) {
  case 0: return 0;
  case 1:
    if (a->type == SQLITE_INTEGER && bt == SQLITE_INTEGER) {
      sqlite3_int64 y = sqlite3_value_int64(b);
      return a->i < y ? -1 : a->i > y;
    }
    if (a->type == SQLITE_FLOAT && bt == SQLITE_FLOAT) {
      double y = sqlite3_value_double(b);
      return a->r < y ? -1 : a->r > y;
    }
    if (a->type == SQLITE_INTEGER) return int_real_cmp(a->i, sqlite3_value_double(b));
    return -int_real_cmp(sqlite3_value_int64(b), a->r);
  case 2: {
    const unsigned char *z = sqlite3_value_text(b);
    return bytes_cmp(a->z, a->n, z ? (const void *)z : "", (size_t)sqlite3_value_bytes(b));
  }
  default: {
    const void *z = sqlite3_value_blob(b);
    return bytes_cmp(a->z, a->n, z ? z : "", (size_t)sqlite3_value_bytes(b));
  }
  }
}

/* Holds v (not NULL) in a; 0, or an SQLITE_ error code (NOMEM, or TOOBIG
 * when the byte budget is spent). */
static int sumval_set(SumState *st, SumVal *a, sqlite3_value *v, sqlite3_value *id) {
  int t = sqlite3_value_type(v);
  if (t == SQLITE_TEXT || t == SQLITE_BLOB) {
    const void *z = t == SQLITE_TEXT ? (const void *)sqlite3_value_text(v) : sqlite3_value_blob(v);
    size_t n = (size_t)sqlite3_value_bytes(v);
    if (!z && n) return SQLITE_NOMEM;
    if (n > a->cap) {
      size_t cap = n < 32 ? 32 : n;
      if (st->bytes - a->cap + cap > SUMMARY_MAX_BYTES) return SQLITE_TOOBIG;
      char *nz = sqlite3_realloc64(a->z, cap);
      if (!nz) return SQLITE_NOMEM;
      st->bytes = st->bytes - a->cap + cap;
      a->z = nz;
      a->cap = cap;
    }
    if (n) memcpy(a->z, z, n);
    a->n = n;
  } else if (t == SQLITE_INTEGER) {
    a->i = sqlite3_value_int64(v);
  } else {
    a->r = sqlite3_value_double(v);
  }
  a->type = t;
  a->has_id = id && sqlite3_value_type(id) == SQLITE_INTEGER;
  a->id = a->has_id ? sqlite3_value_int64(id) : 0;
  return 0;
}

static uint64_t summary_hash(int cls, const char *z, size_t n) {
  uint64_t h = 1469598103934665603ull ^ (uint64_t)(cls + 2);
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)z[i]) * 1099511628211ull;
  return h ^ (h >> 29);
}

static void summary_free(SumState *st) {
  for (size_t i = 0; i < st->cap; i++) {
    SumGroup *g = st->slots[i];
    if (!g) continue;
    sqlite3_free(g->lo.z);
    sqlite3_free(g->hi.z);
    sqlite3_free(g);
  }
  sqlite3_free(st->slots);
  memset(st, 0, sizeof *st);
}

static int summary_grow(SumState *st) {
  size_t cap = st->cap ? st->cap * 2 : 64;
  SumGroup **slots = sqlite3_malloc64(cap * sizeof *slots);
  if (!slots) return SQLITE_NOMEM;
  memset(slots, 0, cap * sizeof *slots);
  for (size_t i = 0; i < st->cap; i++) {
    SumGroup *g = st->slots[i];
    if (!g) continue;
    size_t j = (size_t)g->hash & (cap - 1);
    while (slots[j]) j = (j + 1) & (cap - 1);
    slots[j] = g;
  }
  sqlite3_free(st->slots);
  st->slots = slots;
  st->cap = cap;
  return 0;
}

/* The group of (cls, z[0..n)), made when new; NULL with *rc set. */
static SumGroup *summary_group(SumState *st, int cls, const char *z, size_t n, int *rc) {
  SumGroup *g = st->last;
  if (g && g->cls == cls && g->klen == n && (n == 0 || memcmp(g->key, z, n) == 0)) return g;
  uint64_t h = summary_hash(cls, z, n);
  if (st->cap) {
    for (size_t j = (size_t)h & (st->cap - 1); (g = st->slots[j]) != NULL; j = (j + 1) & (st->cap - 1))
      if (g->hash == h && g->cls == cls && g->klen == n && (n == 0 || memcmp(g->key, z, n) == 0))
        return st->last = g;
  }
  if (st->n >= SUMMARY_MAX_GROUPS || st->bytes + n > SUMMARY_MAX_BYTES) {
    *rc = SQLITE_TOOBIG;
    return NULL;
  }
  if ((st->n + 1) * 2 > st->cap && (*rc = summary_grow(st)) != 0) return NULL;
  g = sqlite3_malloc64(sizeof *g + n + 1);
  if (!g) {
    *rc = SQLITE_NOMEM;
    return NULL;
  }
  memset(g, 0, sizeof *g);
  g->lo.type = g->hi.type = SQLITE_NULL;
  g->cls = cls;
  g->hash = h;
  g->klen = n;
  if (n) memcpy(g->key, z, n);
  g->key[n] = 0;
  size_t j = (size_t)h & (st->cap - 1);
  while (st->slots[j]) j = (j + 1) & (st->cap - 1);
  st->slots[j] = g;
  st->n++;
  st->bytes += n;
  return st->last = g;
}

static void summary_error(sqlite3_context *ctx, int rc) {
  if (rc == SQLITE_NOMEM) sqlite3_result_error_nomem(ctx);
  else
    telem_result_errorf(ctx, SUMMARY_FN,
                        "more than %d (class, metric type) groups, or their metric types and "
                        "time values exceed %d MiB",
                        SUMMARY_MAX_GROUPS, (int)(SUMMARY_MAX_BYTES >> 20));
}

static void summary_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  SumState *st = sqlite3_aggregate_context(ctx, sizeof *st);
  if (!st) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  int cls;
  if (!classify_value(ctx, SUMMARY_FN, sqlite3_user_data(ctx), argv[0], argv[1], &cls)) return;
  /* The group's key is the metric type as text, as `class || metric_type`
   * sees it: 5 and '5' (and the blob x'35') are one group. */
  const char *z = cls >= 0 ? (const char *)sqlite3_value_text(argv[0]) : "";
  size_t n = cls >= 0 ? (size_t)sqlite3_value_bytes(argv[0]) : 0;
  sqlite3_value *id = argc > 3 ? argv[3] : NULL;
  int rc = 0;
  SumGroup *g = summary_group(st, cls, z, n, &rc);
  if (!g) {
    summary_error(ctx, rc);
    return;
  }
  if (g->rows++ == 0 && id && sqlite3_value_type(id) == SQLITE_INTEGER) {
    g->first_id = sqlite3_value_int64(id);
    g->has_first_id = 1;
  }
  sqlite3_value *v = argv[2];
  if (sqlite3_value_type(v) == SQLITE_NULL) return; /* min() and max() skip NULLs */
  /* Ties keep the value held, as min() and max() do. */
  if (g->lo.type == SQLITE_NULL || sumval_cmp(&g->lo, v) > 0) rc = sumval_set(st, &g->lo, v, id);
  if (!rc && (g->hi.type == SQLITE_NULL || sumval_cmp(&g->hi, v) < 0))
    rc = sumval_set(st, &g->hi, v, id);
  if (rc) summary_error(ctx, rc);
}

/* Appends s[0..n) as a JSON string, ill-formed UTF-8 replaced by U+FFFD. */
static void json_text(TelemBuf *b, const char *s, size_t n) {
  if (telem_utf8_valid(s, n)) {
    telem_buf_json_string(b, s, n);
    return;
  }
  TelemBuf r;
  telem_buf_init(&r);
  telem_buf_utf8_repair(&r, s, n);
  if (r.oom) b->oom = 1;
  else telem_buf_json_string(b, r.p ? r.p : "", r.len);
  telem_buf_free(&r);
}

/* A held value as JSON: null, an integer, a number (a REAL always with a
 * '.' or an exponent, so JSON readers keep it REAL; infinities as 9e999),
 * a string (TEXT, repaired) or a string of lowercase hex digits (BLOB). */
static void json_value(TelemBuf *b, const SumVal *v) {
  switch (v->type) {
  case SQLITE_NULL: telem_buf_puts(b, "null"); break;
  case SQLITE_INTEGER: telem_buf_printf(b, "%lld", (long long)v->i); break;
  case SQLITE_FLOAT:
    if (isinf(v->r)) telem_buf_puts(b, v->r > 0 ? "9e999" : "-9e999");
    else {
      char num[64];
      sqlite3_snprintf(sizeof num, num, "%!.17g", v->r);
      telem_buf_puts(b, num);
    }
    break;
  case SQLITE_TEXT: json_text(b, v->z, v->n); break;
  default:
    telem_buf_putc(b, '"');
    for (size_t i = 0; i < v->n; i++) telem_buf_printf(b, "%02x", (unsigned char)v->z[i]);
    telem_buf_putc(b, '"');
  }
}

static void json_id(TelemBuf *b, const char *name, int has, sqlite3_int64 id) {
  telem_buf_printf(b, ",\"%s\":", name);
  if (has) telem_buf_printf(b, "%lld", (long long)id);
  else telem_buf_puts(b, "null");
}

/* The view's order: class descending, NULL last; metric type ascending. */
static int group_order(const void *pa, const void *pb) {
  const SumGroup *a = *(SumGroup *const *)pa, *b = *(SumGroup *const *)pb;
  if (a->cls != b->cls) return a->cls > b->cls ? -1 : 1;
  return bytes_cmp(a->key, a->klen, b->key, b->klen);
}

static void summary_final(sqlite3_context *ctx) {
  SumState *st = sqlite3_aggregate_context(ctx, 0);
  if (!st || st->n == 0) {
    /* No rows; or a statement reset before any (xFinal still runs). */
    if (st) summary_free(st);
    sqlite3_result_text(ctx, "[]", 2, SQLITE_STATIC);
    return;
  }
  SumGroup **gs = sqlite3_malloc64(st->n * sizeof *gs);
  if (!gs) {
    summary_free(st);
    sqlite3_result_error_nomem(ctx);
    return;
  }
  size_t k = 0;
  for (size_t i = 0; i < st->cap; i++)
    if (st->slots[i]) gs[k++] = st->slots[i];
  qsort(gs, k, sizeof *gs, group_order);
  TelemBuf b;
  telem_buf_init(&b);
  telem_buf_putc(&b, '[');
  for (size_t i = 0; i < k && !b.oom; i++) {
    const SumGroup *g = gs[i];
    telem_buf_puts(&b, i ? ",{\"class\":" : "{\"class\":");
    if (g->cls < 0) telem_buf_puts(&b, "null,\"metric_type\":null");
    else {
      telem_buf_printf(&b, "\"%s\",\"metric_type\":", telem_class_name(g->cls));
      json_text(&b, g->key, g->klen);
    }
    telem_buf_printf(&b, ",\"rows\":%lld,\"oldest\":", (long long)g->rows);
    json_value(&b, &g->lo);
    telem_buf_puts(&b, ",\"newest\":");
    json_value(&b, &g->hi);
    json_id(&b, "id", g->has_first_id, g->first_id);
    json_id(&b, "oldest_id", g->lo.has_id, g->lo.id);
    json_id(&b, "newest_id", g->hi.has_id, g->hi.id);
    telem_buf_putc(&b, '}');
  }
  telem_buf_putc(&b, ']');
  sqlite3_free(gs);
  summary_free(st);
  if (b.oom) {
    telem_buf_free(&b);
    sqlite3_result_error_nomem(ctx);
    return;
  }
  size_t len = b.len;
  char *out = telem_buf_take(&b);
  if (!out) sqlite3_result_error_nomem(ctx);
  else sqlite3_result_text64(ctx, out, len, sqlite3_free, SQLITE_UTF8);
}

static const TelemSqlFunc classify_funcs[] = {
    /* A pure function of its arguments and the connection's contracts. */
    {"telem_classify", 1, 2, SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, classify_func},
    /* Pure too: a function of the rows it is given (of their order only in
     * which of two equal values of different types, 1 and 1.0, is kept --
     * the first, as min() and max() do). */
    {"telem_class_summary", 3, 4, SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL, summary_step,
     summary_final},
    {NULL},
};

const TelemFeature telem_feature_classify = {"classify", classify_funcs, NULL};
