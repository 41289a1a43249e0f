/*
 * classify.c -- telem_classify(metric_type [, payload]): the effective
 * sensitivity class S0..S3 of a telemetry row.
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
 * column, so the taxonomy is turned once per registry into an
 * open-addressing hash table kept in reg->ext[TELEM_EXT_REDACT] (next to
 * the compiled rules, see redact.c); a call then hashes the metric type,
 * probes, and returns a static string -- no allocation.
 */
#include "internal.h"

#include <string.h>

/* O(1) hash: the length and three bytes, mixed.  Metric types are short
 * and few; collisions only cost a memcmp. */
static uint32_t classify_hash(const unsigned char *s, size_t n) {
  if (n == 0) return 0;
  uint32_t h = (uint32_t)n * 0x9E3779B1u;
  h ^= (uint32_t)s[0] | (uint32_t)s[n / 2] << 8 | (uint32_t)s[n - 1] << 16 |
       (uint32_t)s[n > 4 ? n - 4 : 0] << 24;
  h *= 0x85EBCA77u;
  return h ^ (h >> 15);
}

/* Builds rc->tax from the registry's taxonomy.  0, or -1 on OOM. */
static int classify_build(TelemRegistry *reg, TelemRedactCache *rc) {
  uint32_t cap = 16;
  while (cap < (uint32_t)reg->n_taxonomy * 2 + 2) cap <<= 1;
  TelemClassEntry *t = sqlite3_malloc64(sizeof(*t) * cap);
  if (!t) return -1;
  memset(t, 0, sizeof(*t) * cap);
  for (int i = 0; i < reg->n_taxonomy; i++) {
    const TelemTaxonomyRow *row = &reg->taxonomy[i];
    if (!row->metric_type) continue;
    size_t n = strlen(row->metric_type);
    uint32_t h = classify_hash((const unsigned char *)row->metric_type, n);
    uint32_t j = h & (cap - 1);
    while (t[j].name) {
      if (t[j].len == n && memcmp(t[j].name, row->metric_type, n) == 0) break; /* first wins */
      j = (j + 1) & (cap - 1);
    }
    if (t[j].name) continue;
    int cls = row->sensitivity ? telem_class_rank(row->sensitivity) : -1;
    t[j].name = row->metric_type;
    t[j].len = (uint32_t)n;
    t[j].hash = h;
    t[j].cls = cls < 0 ? 3 : cls;
  }
  rc->tax = t;
  rc->tax_mask = cap - 1;
  return 0;
}

static int classify_lookup(const TelemRedactCache *rc, const unsigned char *s, size_t n) {
  uint32_t h = classify_hash(s, n);
  for (uint32_t j = h & rc->tax_mask;; j = (j + 1) & rc->tax_mask) {
    const TelemClassEntry *e = &rc->tax[j];
    if (!e->name) return 3; /* unknown metric type: fail closed */
    if (e->hash == h && e->len == n && memcmp(e->name, s, n) == 0) return e->cls;
  }
}

/* telem_classify(metric_type [, payload]): NULL metric_type gives NULL;
 * a NULL payload is no payload. */
static void classify_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  if (argc < 1 || argc > 2) {
    telem_check_argc(ctx, "telem_classify", argc, 1, 2);
    return;
  }
  TelemConn *c = sqlite3_user_data(ctx);
  TelemRegistry *reg = c->reg;
  TelemRedactCache *rc = reg->ext[TELEM_EXT_REDACT];
  if (!rc || !rc->tax) {
    if (!(rc = telem_redact_cache(reg)) || classify_build(reg, rc)) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
  }
  const unsigned char *mt = sqlite3_value_text(argv[0]);
  if (!mt) {
    if (sqlite3_value_type(argv[0]) != SQLITE_NULL) sqlite3_result_error_nomem(ctx);
    return;
  }
  int cls = classify_lookup(rc, mt, (size_t)sqlite3_value_bytes(argv[0]));
  if (argc > 1 && cls < 3 && sqlite3_value_type(argv[1]) != SQLITE_NULL) {
    char *err = NULL;
    TelemRedactor *r = telem_redact_rules(reg, &err);
    if (!r) {
      telem_result_errorf(ctx, "telem_classify", "%s", err ? err : "out of memory");
      sqlite3_free(err);
      return;
    }
    const char *p = (const char *)sqlite3_value_text(argv[1]);
    if (!p) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
    telem_arena_reset(&c->arena);
    telem_redact_bind_db(r, c->db);
    int rv = telem_redactor_classify(r, &c->arena, p, (size_t)sqlite3_value_bytes(argv[1]), &cls,
                                     &err);
    telem_arena_reset(&c->arena);
    if (rv) {
      if (err && strcmp(err, "out of memory") == 0) sqlite3_result_error_nomem(ctx);
      else telem_result_errorf(ctx, "telem_classify", "%s", err ? err : "out of memory");
      sqlite3_free(err);
      return;
    }
  }
  sqlite3_result_text(ctx, telem_class_name(cls), 2, SQLITE_STATIC);
}

int telem_register_classify(sqlite3 *db, TelemConn *c, char **pzErr) {
  /* A pure function of its arguments and the connection's contracts. */
  const int flags = SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
  int rc = telem_create_function(db, c, "telem_classify", -1, flags, classify_func);
  if (rc != SQLITE_OK) telem_set_err(pzErr, "%s", sqlite3_errmsg(db));
  return rc;
}
