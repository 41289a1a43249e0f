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
 * column: the registry indexes its taxonomy by a hash when it loads
 * (telem_registry_metric_n), so a call hashes the metric type, probes, and
 * returns a static string -- no allocation.
 */
#include "sql/sql.h"

#include <string.h>

/* telem_classify(metric_type [, payload]): NULL metric_type gives NULL;
 * a NULL payload is no payload. */
static void classify_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  TelemConn *c = sqlite3_user_data(ctx);
  TelemRegistry *reg = c->reg;
  const char *mt = (const char *)sqlite3_value_text(argv[0]);
  if (!mt) {
    if (sqlite3_value_type(argv[0]) != SQLITE_NULL) sqlite3_result_error_nomem(ctx);
    return;
  }
  const TelemTaxonomyRow *row = telem_registry_metric_n(reg, mt, (size_t)sqlite3_value_bytes(argv[0]));
  int cls = row ? row->cls : 3; /* an unknown metric type is S3: fail closed */
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
      if (telem_err_is_oom(err)) sqlite3_result_error_nomem(ctx);
      else telem_result_errorf(ctx, "telem_classify", "%s", err ? err : "out of memory");
      sqlite3_free(err);
      return;
    }
  }
  sqlite3_result_text(ctx, telem_class_name(cls), 2, SQLITE_STATIC);
}

static const TelemSqlFunc classify_funcs[] = {
    /* A pure function of its arguments and the connection's contracts. */
    {"telem_classify", 1, 2, SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, classify_func},
    {NULL},
};

const TelemFeature telem_feature_classify = {"classify", classify_funcs, NULL};
