/*
 * policy.c -- the retention policy engine, free of any database access.
 *
 * Parses `contracts/db/retention-policy.yaml` (or any text in that format),
 * validates every rule, and exports a policy back to YAML such that
 * parse(export(p)) gives the same rules.  ext/retention.c (the
 * telem_retention virtual table, telem_policy_import, telem_policy_yaml) and
 * ext/prune.c (telem_prune_plan, telem_prune_apply) build on it; the public
 * C API is in include/voxtelem.h.
 *
 *     tables:
 *       research_metrics:
 *         kind: days            # days | ms_days | expires_lt_now |
 *         days: 365             # keep_forever | manual | cascade
 *         time_column: created_at
 *         rationale: ...
 *
 * Which fields each kind takes (anything else is an error naming the table
 * and the field):
 *
 *   kind            days       time_column  cascade_from
 *   days            required   required     -
 *   ms_days         required   required     -
 *   expires_lt_now  -          required     -
 *   keep_forever    -          optional     -
 *   manual          -          optional     -
 *   cascade         -          -            required (a non-cascade rule)
 *
 * Per-metric-type rules (issue 12): a table's entry may also be a list of
 * rules, each with an optional filter naming the rows it governs:
 *
 *       research_metrics:
 *         - kind: days          # the table's default rule: rows no filter matches
 *           days: 365
 *           time_column: created_at
 *         - metric_types: ["fixture.*"]   # metric_type GLOB, only * is special
 *           where: {session_id: "ci"}     # and column = value (bound, never spliced)
 *           kind: days
 *           days: 90
 *           time_column: created_at
 *
 * A filter is a small language, never SQL: `metric_types`, a list of 1..64
 * globs over the column metric_type (1..128 bytes of A-Z a-z 0-9 _ . : -
 * and `*`, which matches any run of characters; not `*` alone), and
 * `where`, a mapping of 1..16 columns (validated identifiers) to one value
 * each (text up to 1,024 bytes without control characters, or an integer);
 * all of them must hold.  Its canonical form is the JSON text
 * {"metric_types":[sorted globs],"where":{column:value,...}}, which the rule
 * is known by: one table may hold one rule per distinct filter, plus at most
 * one default rule (no filter); a cascade rule has no filter and is its
 * table's only rule.  How overlapping rules compose is the planner's
 * (ext/sql/prune_plan.c): rows a filter matches are governed only by the
 * filtered rules that match them (kept until all of them let go); the
 * default rule governs the rest.
 *
 * `rationale` is optional (Vox's own file has none); a rule without one
 * shows NULL in telem_retention and a note in the plan.  Table and column names must match
 * ^[A-Za-z_][A-Za-z0-9_]{0,127}$ and may not start with "sqlite_": this is
 * stricter than SQLite needs, so that no name can carry SQL, and generated
 * SQL still quotes every identifier with "%w" (defence in depth).
 *
 * Security: the input is bounded (TELEM_MAX_POLICY_BYTES), must be UTF-8
 * without NUL bytes, and YAML aliases are limited by telem_yaml_parse(), so
 * an alias bomb or a huge file is refused before any tree is built.
 * Rules are kept sorted by table name (case-insensitively, as SQLite
 * compares table names), so every view of a policy is deterministic.
 */
#include "engine/policy.h"
#include "core/yaml.h"
#include "voxtelem.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define POLICY_MAX_DAYS 100000     /* ~270 years: keeps the cutoff inside SQLite's date range */
#define POLICY_MAX_RATIONALE 4096  /* bytes of rationale text per rule */
#define POLICY_MAX_RULES 10000     /* rules in one policy */
#define POLICY_MAX_GLOBS 64        /* metric_types globs in one filter */
#define POLICY_MAX_GLOB 128        /* bytes of one glob (Vox's metric_type limit) */
#define POLICY_MAX_WHERE 16        /* columns in one where */
#define POLICY_MAX_VALUE 1024      /* bytes of one where value */
#define POLICY_MAX_FILTER 65536    /* bytes of filter JSON text */

static const char *const policy_kind_names[] = {
    [TELEM_RK_DAYS] = "days",
    [TELEM_RK_MS_DAYS] = "ms_days",
    [TELEM_RK_EXPIRES] = "expires_lt_now",
    [TELEM_RK_KEEP] = "keep_forever",
    [TELEM_RK_MANUAL] = "manual",
    [TELEM_RK_CASCADE] = "cascade",
};

/* Returns the TELEM_RK_* of name, or 0 when unknown (NULL gives 0). */
int telem_policy_kind(const char *name) {
  if (!name) return 0;
  for (int k = TELEM_RK_DAYS; k <= TELEM_RK_CASCADE; k++)
    if (strcmp(name, policy_kind_names[k]) == 0) return k;
  return 0;
}

/* Static name of kind k ("days", ...), or NULL. */
const char *telem_policy_kind_name(int k) {
  return (k >= TELEM_RK_DAYS && k <= TELEM_RK_CASCADE) ? policy_kind_names[k] : NULL;
}

/* 1 when z is an identifier the policy accepts (see the file comment). */
int telem_policy_ident_ok(const char *z) {
  if (!z || !(isalpha((unsigned char)z[0]) || z[0] == '_')) return 0;
  size_t n = 1;
  for (; z[n]; n++) {
    if (n >= 128) return 0;
    if (!(isalnum((unsigned char)z[n]) || z[n] == '_')) return 0;
  }
  if (n >= 7 && sqlite3_strnicmp(z, "sqlite_", 7) == 0) return 0;
  return 1;
}

/* Appends z as a quoted, escaped, truncated name for an error message, so
 * a hostile name cannot forge text in the message. */
static void policy_put_name(TelemBuf *b, const char *z) {
  telem_buf_putc(b, '"');
  if (!z) z = "";
  size_t i = 0;
  for (; z[i] && i < 64; i++) {
    unsigned char ch = (unsigned char)z[i];
    if (ch == '"' || ch == '\\')
      telem_buf_printf(b, "\\%c", ch);
    else if (ch < 0x20 || ch >= 0x7f)
      telem_buf_printf(b, "\\x%02x", ch);
    else
      telem_buf_putc(b, (char)ch);
  }
  if (z[i]) telem_buf_puts(b, "...");
  telem_buf_putc(b, '"');
}

/* Sets *pzErr to "[where: ]table "<t>": <field>: <problem>" (first error
 * wins: an existing message is kept). */
static void policy_err(char **pzErr, const char *where, const char *table, const char *field,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void policy_err(char **pzErr, const char *where, const char *table, const char *field,
                       const char *fmt, ...) {
  if (!pzErr || *pzErr) return;
  TelemBuf b;
  telem_buf_init(&b);
  if (where && *where) telem_buf_printf(&b, "%s: ", where);
  if (table) {
    telem_buf_puts(&b, "table ");
    policy_put_name(&b, table);
    telem_buf_puts(&b, ": ");
  }
  if (field) telem_buf_printf(&b, "%s: ", field);
  va_list ap;
  va_start(ap, fmt);
  char *m = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  telem_buf_puts(&b, m ? m : "out of memory");
  sqlite3_free(m);
  *pzErr = telem_buf_take(&b); /* NULL on OOM: callers treat NULL+failure as OOM */
}

static char *policy_strdup(const char *z) {
  if (!z) return NULL;
  size_t n = strlen(z);
  char *p = sqlite3_malloc64(n + 1);
  if (p) memcpy(p, z, n + 1);
  return p;
}

static void policy_strv_free(char **v, int n) {
  if (!v) return;
  for (int i = 0; i < n; i++) sqlite3_free(v[i]);
  sqlite3_free(v);
}

static void policy_rule_clear(TelemPolicyRule *r) {
  sqlite3_free(r->filter);
  policy_strv_free(r->globs, r->nglob);
  policy_strv_free(r->wcol, r->nwhere);
  policy_strv_free(r->wval, r->nwhere);
  sqlite3_free(r->table_name);
  sqlite3_free(r->time_column);
  sqlite3_free(r->cascade_from);
  sqlite3_free(r->rationale);
  memset(r, 0, sizeof *r);
}

TelemPolicy *telem_policy_new(void) {
  TelemPolicy *p = sqlite3_malloc64(sizeof *p);
  if (p) memset(p, 0, sizeof *p);
  return p;
}

void telem_policy_free(TelemPolicy *p) {
  if (!p) return;
  for (int i = 0; i < p->n; i++) policy_rule_clear(&p->rules[i]);
  sqlite3_free(p->rules);
  sqlite3_free(p);
}

int telem_policy_count(const TelemPolicy *p) { return p ? p->n : 0; }

int telem_policy_rule(const TelemPolicy *p, int i, TelemPolicyRuleInfo *out) {
  if (!p || i < 0 || i >= p->n || !out) return -1;
  const TelemPolicyRule *r = &p->rules[i];
  out->table_name = r->table_name;
  out->kind = telem_policy_kind_name(r->kind);
  out->days = r->days;
  out->time_column = r->time_column;
  out->cascade_from = r->cascade_from;
  out->rationale = r->rationale;
  out->filter = r->filter;
  return 0;
}

/* First index whose table name is not below `table` (rules are sorted). */
static int policy_lower_bound(const TelemPolicy *p, const char *table) {
  int lo = 0, hi = p->n;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    if (sqlite3_stricmp(p->rules[mid].table_name, table) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* Binary search: the rules are kept sorted case-insensitively. */
int telem_policy_find(const TelemPolicy *p, const char *table) {
  if (!p || !table) return -1;
  int i = policy_lower_bound(p, table);
  return i < p->n && sqlite3_stricmp(p->rules[i].table_name, table) == 0 ? i : -1;
}

/* ---- filters --------------------------------------------------------------- */

/* 1 when z is a metric_types glob (see the file comment).  The characters
 * allowed are Vox's metric_type characters plus '*': none of them is
 * special to SQLite's GLOB other than '*', so the glob is bound as the
 * GLOB pattern as it is. */
static int policy_glob_ok(const char *z) {
  size_t n = 0;
  int lit = 0;
  for (; z[n]; n++) {
    unsigned char c = (unsigned char)z[n];
    if (n >= POLICY_MAX_GLOB) return 0;
    if (c == '*') continue;
    if (!(isalnum(c) || c == '_' || c == '.' || c == ':' || c == '-')) return 0;
    lit = 1;
  }
  return lit;
}

static int policy_str_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A where value as text: a string without control characters (at most
 * POLICY_MAX_VALUE bytes) or an integer.  NULL when v is neither (sets
 * *bad: 1 wrong type, 2 too long or control characters, 3 out of memory). */
static char *policy_where_value(json_t *v, int *bad) {
  if (json_is_integer(v)) {
    char *z = sqlite3_mprintf("%lld", (long long)json_integer_value(v));
    if (!z) *bad = 3;
    return z;
  }
  if (!json_is_string(v)) {
    *bad = 1;
    return NULL;
  }
  const char *s = json_string_value(v);
  size_t n = json_string_length(v);
  if (n > POLICY_MAX_VALUE || strlen(s) != n) {
    *bad = 2;
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f) {
      *bad = 2;
      return NULL;
    }
  }
  char *z = policy_strdup(s);
  if (!z) *bad = 3;
  return z;
}

/* Parses filter JSON text z into out->globs / wcol / wval and its canonical
 * text out->filter.  Values are never echoed in messages (they may come
 * from anyone's YAML and name real data).  Returns 0, -1 with *pzErr, or
 * -2 on OOM. */
static int policy_filter_load(const char *where, const char *t, const char *z,
                              TelemPolicyRule *out, char **pzErr) {
  json_t *root = NULL;
  int rc = -1;
  TelemBuf b;
  telem_buf_init(&b);
  size_t zn = strlen(z);
  if (zn > POLICY_MAX_FILTER) {
    policy_err(pzErr, where, t, "filter", "longer than %d bytes", POLICY_MAX_FILTER);
    return -1;
  }
  json_error_t je;
  root = json_loadb(z, zn, JSON_REJECT_DUPLICATES, &je);
  if (!root) {
    policy_err(pzErr, where, t, "filter", "not valid JSON (or a key given twice)");
    goto out;
  }
  if (!json_is_object(root)) {
    policy_err(pzErr, where, t, "filter",
               "must be a JSON object with metric_types and/or where");
    goto out;
  }
  json_t *mt = NULL, *wh = NULL;
  const char *k;
  json_t *v;
  json_object_foreach(root, k, v) {
    if (strcmp(k, "metric_types") == 0)
      mt = v;
    else if (strcmp(k, "where") == 0)
      wh = v;
    else {
      policy_err(pzErr, where, t, "filter", "unknown key (expected metric_types or where)");
      goto out;
    }
  }
  if (!mt && !wh) {
    policy_err(pzErr, where, t, "filter", "names no rows (give metric_types and/or where)");
    goto out;
  }
  if (mt) {
    if (json_is_string(mt)) {
      json_t *a = json_array();
      if (!a || json_array_append(a, mt)) {
        json_decref(a);
        rc = -2;
        goto out;
      }
      json_object_set_new(root, "metric_types", a);
      mt = a;
    }
    if (!json_is_array(mt)) {
      policy_err(pzErr, where, t, "metric_types", "must be a list of globs");
      goto out;
    }
    size_t n = json_array_size(mt);
    if (n == 0) {
      policy_err(pzErr, where, t, "metric_types", "is empty");
      goto out;
    }
    if (n > POLICY_MAX_GLOBS) {
      policy_err(pzErr, where, t, "metric_types", "more than %d globs", POLICY_MAX_GLOBS);
      goto out;
    }
    out->globs = sqlite3_malloc64(sizeof(char *) * n);
    if (!out->globs) {
      rc = -2;
      goto out;
    }
    for (size_t i = 0; i < n; i++) {
      json_t *g = json_array_get(mt, i);
      const char *gs = json_is_string(g) ? json_string_value(g) : NULL;
      if (!gs || !*gs) {
        policy_err(pzErr, where, t, "metric_types", "glob %d: %s", (int)i + 1,
                   gs ? "is empty" : "must be text");
        goto out;
      }
      if (!policy_glob_ok(gs) || strlen(gs) != json_string_length(g)) {
        policy_err(pzErr, where, t, "metric_types",
                   "glob %d: not a metric type glob (1..%d characters of A-Z a-z 0-9 _ . : - "
                   "and *, not * alone)",
                   (int)i + 1, POLICY_MAX_GLOB);
        goto out;
      }
      char *d = policy_strdup(gs);
      if (!d) {
        rc = -2;
        goto out;
      }
      out->globs[out->nglob++] = d;
    }
    qsort(out->globs, (size_t)out->nglob, sizeof(char *), policy_str_cmp);
    int w = 0; /* drop duplicates */
    for (int i = 0; i < out->nglob; i++) {
      if (w && strcmp(out->globs[w - 1], out->globs[i]) == 0)
        sqlite3_free(out->globs[i]);
      else
        out->globs[w++] = out->globs[i];
    }
    out->nglob = w;
  }
  if (wh) {
    if (!json_is_object(wh)) {
      policy_err(pzErr, where, t, "where", "must be a mapping of column to value");
      goto out;
    }
    size_t n = json_object_size(wh);
    if (n == 0) {
      policy_err(pzErr, where, t, "where", "is empty");
      goto out;
    }
    if (n > POLICY_MAX_WHERE) {
      policy_err(pzErr, where, t, "where", "more than %d columns", POLICY_MAX_WHERE);
      goto out;
    }
    out->wcol = sqlite3_malloc64(sizeof(char *) * n);
    out->wval = sqlite3_malloc64(sizeof(char *) * n);
    if (!out->wcol || !out->wval) {
      rc = -2;
      goto out;
    }
    json_object_foreach(wh, k, v) {
      if (!telem_policy_ident_ok(k)) {
        policy_err(pzErr, where, t, "where", "column %d: not a valid identifier",
                   out->nwhere + 1);
        goto out;
      }
      for (int i = 0; i < out->nwhere; i++)
        if (sqlite3_stricmp(out->wcol[i], k) == 0) {
          policy_err(pzErr, where, t, "where", "column \"%s\" listed twice", k);
          goto out;
        }
      int bad = 0;
      char *val = policy_where_value(v, &bad);
      if (!val) {
        if (bad == 3) {
          rc = -2;
        } else {
          policy_err(pzErr, where, t, "where",
                     bad == 1 ? "column \"%s\": the value must be text or an integer"
                              : "column \"%s\": the value must be at most 1024 bytes without "
                                "control characters",
                     k);
        }
        goto out;
      }
      char *col = policy_strdup(k);
      if (!col) {
        sqlite3_free(val);
        rc = -2;
        goto out;
      }
      /* Insertion sort by column, case-insensitively (n <= 16). */
      int at = out->nwhere;
      while (at > 0 && sqlite3_stricmp(out->wcol[at - 1], col) > 0) {
        out->wcol[at] = out->wcol[at - 1];
        out->wval[at] = out->wval[at - 1];
        at--;
      }
      out->wcol[at] = col;
      out->wval[at] = val;
      out->nwhere++;
    }
  }
  /* The canonical text: fixed key order, sorted globs and columns. */
  telem_buf_putc(&b, '{');
  if (out->nglob) {
    telem_buf_puts(&b, "\"metric_types\":[");
    for (int i = 0; i < out->nglob; i++) {
      if (i) telem_buf_putc(&b, ',');
      telem_buf_json_string(&b, out->globs[i], strlen(out->globs[i]));
    }
    telem_buf_putc(&b, ']');
  }
  if (out->nwhere) {
    telem_buf_puts(&b, out->nglob ? ",\"where\":{" : "\"where\":{");
    for (int i = 0; i < out->nwhere; i++) {
      if (i) telem_buf_putc(&b, ',');
      telem_buf_json_string(&b, out->wcol[i], strlen(out->wcol[i]));
      telem_buf_putc(&b, ':');
      telem_buf_json_string(&b, out->wval[i], strlen(out->wval[i]));
    }
    telem_buf_putc(&b, '}');
  }
  telem_buf_putc(&b, '}');
  out->filter = telem_buf_take(&b);
  rc = out->filter ? 0 : -2;
out:
  telem_buf_free(&b);
  json_decref(root);
  return rc;
}

char *telem_policy_filter_canonical(const char *table, const char *z, char **pzErr) {
  TelemPolicyRule r;
  memset(&r, 0, sizeof r);
  if (!z) return NULL;
  int rc = policy_filter_load(NULL, table, z, &r, pzErr);
  char *out = rc == 0 ? r.filter : NULL;
  r.filter = NULL;
  policy_rule_clear(&r);
  return out;
}

/* Order of rules: by table name (case-insensitively), then by filter (the
 * default rule, NULL, first). */
static int policy_rule_order(const char *t1, const char *f1, const char *t2, const char *f2) {
  int c = sqlite3_stricmp(t1, t2);
  if (c) return c;
  if (!f1 || !f2) return f1 ? 1 : f2 ? -1 : 0;
  return strcmp(f1, f2);
}

int telem_policy_find_rule(const TelemPolicy *p, const char *table, const char *filter) {
  if (!p || !table) return -1;
  char *canon = NULL;
  if (filter) {
    char *err = NULL;
    canon = telem_policy_filter_canonical(table, filter, &err);
    sqlite3_free(err);
    if (!canon) return -1;
  }
  int found = -1;
  for (int i = telem_policy_find(p, table); i >= 0 && i < p->n; i++) {
    const TelemPolicyRule *r = &p->rules[i];
    if (sqlite3_stricmp(r->table_name, table) != 0) break;
    if (policy_rule_order(table, canon, table, r->filter) == 0) {
      found = i;
      break;
    }
  }
  sqlite3_free(canon);
  return found;
}

/* Validates the fields of one rule on their own (no cross-rule checks).
 * `where` prefixes messages (may be NULL).  Returns 0, or -1 with *pzErr. */
static int policy_rule_check(const TelemPolicyRuleInfo *r, const char *where, char **pzErr) {
  const char *t = r->table_name;
  if (!t || !*t) {
    policy_err(pzErr, where, NULL, "table_name", "is required");
    return -1;
  }
  if (!telem_policy_ident_ok(t)) {
    policy_err(pzErr, where, t, "table_name",
               "not a valid identifier (letters, digits and _, not starting with a digit "
               "or sqlite_, at most 128)");
    return -1;
  }
  if (!r->kind) {
    policy_err(pzErr, where, t, "kind", "is required");
    return -1;
  }
  int k = telem_policy_kind(r->kind);
  if (!k) {
    policy_err(pzErr, where, t, "kind",
               "unknown kind (expected days, ms_days, expires_lt_now, keep_forever, manual "
               "or cascade)");
    return -1;
  }
  int want_days = (k == TELEM_RK_DAYS || k == TELEM_RK_MS_DAYS);
  int want_col = (k == TELEM_RK_DAYS || k == TELEM_RK_MS_DAYS || k == TELEM_RK_EXPIRES);
  int may_col = want_col || k == TELEM_RK_KEEP || k == TELEM_RK_MANUAL;
  if (want_days) {
    if (r->days == TELEM_POLICY_NO_DAYS) {
      policy_err(pzErr, where, t, "days", "is required for kind %s", r->kind);
      return -1;
    }
    if (r->days <= 0) {
      policy_err(pzErr, where, t, "days", "must be a positive integer");
      return -1;
    }
    if (r->days > POLICY_MAX_DAYS) {
      policy_err(pzErr, where, t, "days", "must be at most %d", POLICY_MAX_DAYS);
      return -1;
    }
  } else if (r->days != TELEM_POLICY_NO_DAYS) {
    policy_err(pzErr, where, t, "days", "is not used by kind %s", r->kind);
    return -1;
  }
  if (r->time_column) {
    if (!may_col) {
      policy_err(pzErr, where, t, "time_column", "is not used by kind %s", r->kind);
      return -1;
    }
    if (!telem_policy_ident_ok(r->time_column)) {
      policy_err(pzErr, where, t, "time_column", "not a valid identifier");
      return -1;
    }
  } else if (want_col) {
    policy_err(pzErr, where, t, "time_column", "is required for kind %s", r->kind);
    return -1;
  }
  if (k == TELEM_RK_CASCADE) {
    if (!r->cascade_from || !*r->cascade_from) {
      policy_err(pzErr, where, t, "cascade_from", "is required for kind cascade");
      return -1;
    }
    if (!telem_policy_ident_ok(r->cascade_from)) {
      policy_err(pzErr, where, t, "cascade_from", "not a valid identifier");
      return -1;
    }
    if (sqlite3_stricmp(r->cascade_from, t) == 0) {
      policy_err(pzErr, where, t, "cascade_from", "a table cannot cascade from itself");
      return -1;
    }
  } else if (r->cascade_from) {
    policy_err(pzErr, where, t, "cascade_from", "is only used by kind cascade");
    return -1;
  }
  if (k == TELEM_RK_CASCADE && r->filter) {
    policy_err(pzErr, where, t, "filter",
               "not used by kind cascade (its rows go with their parent's)");
    return -1;
  }
  if (!r->rationale || !*r->rationale) return 0; /* optional, as in Vox's own file */
  size_t rn = strlen(r->rationale);
  if (rn > POLICY_MAX_RATIONALE) {
    policy_err(pzErr, where, t, "rationale", "longer than %d bytes", POLICY_MAX_RATIONALE);
    return -1;
  }
  if (!telem_utf8_valid(r->rationale, rn)) {
    policy_err(pzErr, where, t, "rationale", "not valid UTF-8");
    return -1;
  }
  return 0;
}

int telem_policy_rule_check(const TelemPolicyRuleInfo *r, char **pzErr) {
  return policy_rule_check(r, NULL, pzErr);
}

/* Inserts a copy of r keeping the rules sorted; `rowid` is stored as is.
 * Returns 0, -1 on a bad rule or duplicate (with *pzErr), -2 on OOM. */
static int policy_insert(TelemPolicy *p, const TelemPolicyRuleInfo *r, int64_t rowid,
                         const char *where, char **pzErr) {
  if (policy_rule_check(r, where, pzErr)) return -1;
  TelemPolicyRule nr;
  memset(&nr, 0, sizeof nr);
  if (r->filter) {
    int frc = policy_filter_load(where, r->table_name, r->filter, &nr, pzErr);
    if (frc) {
      policy_rule_clear(&nr);
      return frc;
    }
  }
  int k = telem_policy_kind(r->kind);
  /* One rule per (table, filter); a cascade table has no other rule. */
  for (int i = telem_policy_find(p, r->table_name); i >= 0 && i < p->n; i++) {
    const TelemPolicyRule *o = &p->rules[i];
    if (sqlite3_stricmp(o->table_name, r->table_name) != 0) break;
    const char *why = NULL;
    if (policy_rule_order(o->table_name, o->filter, o->table_name, nr.filter) == 0)
      why = nr.filter ? "a rule with this filter is listed twice"
                      : "listed twice (one rule without a filter per table)";
    else if (k == TELEM_RK_CASCADE || o->kind == TELEM_RK_CASCADE)
      why = "a cascade table has one rule only (no filters)";
    if (why) {
      policy_err(pzErr, where, r->table_name, "table_name", "%s", why);
      policy_rule_clear(&nr);
      return -1;
    }
  }
  if (p->n >= POLICY_MAX_RULES) {
    policy_err(pzErr, where, r->table_name, NULL, "more than %d rules", POLICY_MAX_RULES);
    policy_rule_clear(&nr);
    return -1;
  }
  if (p->n == p->cap) {
    int cap = p->cap ? p->cap * 2 : 8;
    TelemPolicyRule *rs = sqlite3_realloc64(p->rules, (sqlite3_uint64)cap * sizeof *rs);
    if (!rs) {
      policy_rule_clear(&nr);
      return -2;
    }
    p->rules = rs;
    p->cap = cap;
  }
  nr.kind = k;
  nr.days = r->days;
  nr.rowid = rowid;
  nr.table_name = policy_strdup(r->table_name);
  nr.time_column = policy_strdup(r->time_column);
  nr.cascade_from = policy_strdup(r->cascade_from);
  nr.rationale = r->rationale && *r->rationale ? policy_strdup(r->rationale) : NULL;
  if (!nr.table_name || (r->time_column && !nr.time_column) ||
      (r->cascade_from && !nr.cascade_from) || (r->rationale && *r->rationale && !nr.rationale)) {
    policy_rule_clear(&nr);
    return -2;
  }
  int at = policy_lower_bound(p, nr.table_name);
  while (at < p->n && policy_rule_order(p->rules[at].table_name, p->rules[at].filter,
                                        nr.table_name, nr.filter) < 0)
    at++;
  memmove(&p->rules[at + 1], &p->rules[at], (size_t)(p->n - at) * sizeof nr);
  p->rules[at] = nr;
  p->n++;
  return 0;
}

int telem_policy_add(TelemPolicy *p, const TelemPolicyRuleInfo *r, char **pzErr) {
  if (!p || !r) return -1;
  return policy_insert(p, r, 0, NULL, pzErr);
}

int telem_policy_add_rowid(TelemPolicy *p, const TelemPolicyRuleInfo *r, int64_t rowid,
                           char **pzErr) {
  return policy_insert(p, r, rowid, NULL, pzErr);
}

void telem_policy_remove(TelemPolicy *p, int i) {
  if (!p || i < 0 || i >= p->n) return;
  policy_rule_clear(&p->rules[i]);
  memmove(&p->rules[i], &p->rules[i + 1], (size_t)(p->n - i - 1) * sizeof p->rules[0]);
  p->n--;
}

/* Cascade rule r's parent is in p and is not itself a cascade: 0, or -1
 * with *pzErr. */
static int cascade_parent_check(const TelemPolicy *p, const TelemPolicyRule *r, char **pzErr) {
  int j = telem_policy_find(p, r->cascade_from);
  if (j < 0) {
    policy_err(pzErr, NULL, r->table_name, "cascade_from",
               "parent table \"%s\" is not in the policy", r->cascade_from);
    return -1;
  }
  if (p->rules[j].kind == TELEM_RK_CASCADE) {
    policy_err(pzErr, NULL, r->table_name, "cascade_from",
               "parent table \"%s\" is itself a cascade (one level only)", r->cascade_from);
    return -1;
  }
  return 0;
}

int telem_policy_check(const TelemPolicy *p, char **pzErr) {
  if (!p) return -1;
  for (int i = 0; i < p->n; i++) {
    const TelemPolicyRule *r = &p->rules[i];
    if (r->kind != TELEM_RK_CASCADE) continue;
    if (cascade_parent_check(p, r, pzErr)) return -1;
  }
  return 0;
}

int telem_policy_check_change(const TelemPolicy *p, const char *old_table, const char *new_table,
                              char **pzErr) {
  if (!p) return -1;
  if (new_table) {
    int i = telem_policy_find(p, new_table);
    const TelemPolicyRule *r = i >= 0 ? &p->rules[i] : NULL;
    if (r && r->kind == TELEM_RK_CASCADE) {
      if (cascade_parent_check(p, r, pzErr)) return -1;
      /* It became a cascade: none may cascade from it (one scan, only then). */
      for (int k = 0; k < p->n; k++)
        if (p->rules[k].kind == TELEM_RK_CASCADE &&
            sqlite3_stricmp(p->rules[k].cascade_from, r->table_name) == 0) {
          policy_err(pzErr, NULL, p->rules[k].table_name, "cascade_from",
                     "parent table \"%s\" is itself a cascade (one level only)", r->table_name);
          return -1;
        }
    }
  }
  if (old_table && telem_policy_find(p, old_table) < 0) {
    /* A rule went (or was renamed): none may still cascade from it. */
    for (int k = 0; k < p->n; k++)
      if (p->rules[k].kind == TELEM_RK_CASCADE &&
          sqlite3_stricmp(p->rules[k].cascade_from, old_table) == 0) {
        policy_err(pzErr, NULL, p->rules[k].table_name, "cascade_from",
                   "parent table \"%s\" is not in the policy", p->rules[k].cascade_from);
        return -1;
      }
  }
  return 0;
}

/* Scalar text of YAML value v into *out (NULL for null/absent).  Returns
 * 0, or -1 when v is a mapping or sequence. */
static int policy_scalar(json_t *v, const char **out) {
  *out = NULL;
  if (!v || json_is_null(v)) return 0;
  if (json_is_string(v)) {
    *out = json_string_value(v);
    return 0;
  }
  return -1;
}

/* Parses the YAML text of days: a decimal integer, optional sign.  Returns
 * the value, or TELEM_POLICY_BAD_DAYS when it is not an integer. */
static int64_t policy_days_value(json_t *v) {
  if (!v || json_is_null(v)) return TELEM_POLICY_NO_DAYS;
  if (json_is_integer(v)) return (int64_t)json_integer_value(v);
  if (!json_is_string(v)) return TELEM_POLICY_BAD_DAYS;
  const char *z = json_string_value(v);
  const char *s = z;
  int neg = 0;
  if (*s == '-' || *s == '+') neg = (*s++ == '-');
  if (!isdigit((unsigned char)*s)) return TELEM_POLICY_BAD_DAYS;
  int64_t n = 0;
  for (; isdigit((unsigned char)*s); s++) {
    if (n > 100000000) return POLICY_MAX_DAYS + 1; /* too large, not malformed */
    n = n * 10 + (*s - '0');
  }
  if (*s) return TELEM_POLICY_BAD_DAYS;
  return neg ? -n : n;
}

/* The filter of YAML rule `rule` as JSON text for policy_insert (free()
 * it: a jansson dump), NULL when it has none; *bad is set when
 * metric_types or where has the wrong shape (with *pzErr), or on OOM
 * (*bad = 2).  The loader's hidden line keys are left out. */
static char *policy_yaml_filter(json_t *rule, const char *where, const char *t, int *bad,
                                char **pzErr) {
  json_t *mt = json_object_get(rule, "metric_types");
  json_t *wh = json_object_get(rule, "where");
  *bad = 0;
  if (!mt && !wh) return NULL;
  json_t *f = json_object();
  if (!f) goto oom;
  if (mt) {
    if (json_is_array(mt) || json_is_string(mt)) {
      if (json_object_set(f, "metric_types", mt)) goto oom;
    } else {
      policy_err(pzErr, where, t, "metric_types", "must be a list of globs");
      *bad = 1;
      json_decref(f);
      return NULL;
    }
  }
  if (wh) {
    if (!json_is_object(wh)) {
      policy_err(pzErr, where, t, "where", "must be a mapping of column to value");
      *bad = 1;
      json_decref(f);
      return NULL;
    }
    json_t *w = json_object();
    if (!w || json_object_set_new(f, "where", w)) goto oom;
    const char *k;
    json_t *v;
    telem_yaml_foreach(wh, k, v) {
      if (json_is_object(v) || json_is_array(v) || json_is_null(v)) {
        policy_err(pzErr, where, t, "where", "column %d: the value must be text or an integer",
                   (int)json_object_size(w) + 1);
        *bad = 1;
        json_decref(f);
        return NULL;
      }
      if (json_object_set(w, k, v)) goto oom;
    }
  }
  char *z = json_dumps(f, JSON_COMPACT);
  json_decref(f);
  if (!z) *bad = 2;
  return z;
oom:
  json_decref(f);
  *bad = 2;
  return NULL;
}

/* Parses one rule mapping of table `tname` into p.  Returns 0, -1 with
 * *pzErr, or -2 on OOM. */
static int policy_parse_rule(TelemPolicy *p, const char *name, const char *tname, json_t *rule,
                             char **pzErr) {
  char where[512];
  int line = json_is_object(rule) ? telem_yaml_line(rule) : 0;
  if (line > 0)
    snprintf(where, sizeof where, "%.400s:%d", name, line);
  else
    snprintf(where, sizeof where, "%.400s", name);
  if (!json_is_object(rule)) {
    policy_err(pzErr, where, tname, NULL, "rule must be a mapping");
    return -1;
  }
  const char *fk;
  json_t *fv;
  json_object_foreach(rule, fk, fv) {
    if (telem_yaml_meta_key(fk)) continue;
    static const char *const known[] = {"kind",      "days",         "time_column", "cascade_from",
                                        "rationale", "metric_types", "where",       NULL};
    int ok = 0;
    for (int i = 0; known[i]; i++) ok |= !strcmp(fk, known[i]);
    if (!ok) {
      policy_err(pzErr, where, tname, fk, "unknown field");
      return -1;
    }
  }
  TelemPolicyRuleInfo info;
  memset(&info, 0, sizeof info);
  info.table_name = tname;
  static const char *const sfields[] = {"kind", "time_column", "cascade_from", "rationale"};
  const char **slots[] = {&info.kind, &info.time_column, &info.cascade_from, &info.rationale};
  for (int i = 0; i < 4; i++) {
    if (policy_scalar(json_object_get(rule, sfields[i]), slots[i])) {
      policy_err(pzErr, where, tname, sfields[i], "must be a scalar");
      return -1;
    }
  }
  info.days = policy_days_value(json_object_get(rule, "days"));
  if (info.days == TELEM_POLICY_BAD_DAYS) {
    policy_err(pzErr, where, tname, "days", "must be a positive integer");
    return -1;
  }
  int bad = 0;
  char *filter = policy_yaml_filter(rule, where, tname, &bad, pzErr);
  if (bad) return bad == 2 ? -2 : -1;
  info.filter = filter;
  int rc = policy_insert(p, &info, 0, where, pzErr);
  free(filter); /* a jansson dump */
  return rc;
}

TelemPolicy *telem_policy_parse(const char *name, const char *text, size_t n, char **pzErr) {
  TelemPolicy *p = NULL;
  json_t *root = NULL;
  char *yerr = NULL;
  if (!name) name = "policy";
  if (!text) {
    policy_err(pzErr, name, NULL, NULL, "no policy text");
    return NULL;
  }
  if (n > TELEM_MAX_POLICY_BYTES) {
    policy_err(pzErr, name, NULL, NULL, "policy is %llu bytes, larger than the %u byte limit",
               (unsigned long long)n, (unsigned)TELEM_MAX_POLICY_BYTES);
    return NULL;
  }
  if (memchr(text, 0, n)) {
    policy_err(pzErr, name, NULL, NULL, "policy contains a NUL byte");
    return NULL;
  }
  if (!telem_utf8_valid(text, n)) {
    /* Find the first bad sequence: step over sequences by their lead byte. */
    size_t start = 0;
    while (start < n) {
      unsigned char ch = (unsigned char)text[start];
      size_t len = ch < 0x80 ? 1 : ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : 2;
      if (start + len > n || !telem_utf8_valid(text + start, len)) break;
      start += len;
    }
    policy_err(pzErr, name, NULL, NULL, "policy is not valid UTF-8 (near byte %llu)",
               (unsigned long long)start);
    return NULL;
  }
  {
    /* Empty means nothing but whitespace and comments. */
    int empty = 1;
    size_t i = 0;
    while (i < n && empty) {
      char ch = text[i];
      if (ch == '#') {
        while (i < n && text[i] != '\n') i++;
      } else if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
        i++;
      } else {
        empty = 0;
      }
    }
    if (empty) {
      policy_err(pzErr, name, NULL, NULL, "policy is empty");
      return NULL;
    }
  }
  root = telem_yaml_parse(name, text, n, &yerr);
  if (!root) {
    if (pzErr && !*pzErr) {
      *pzErr = yerr;
      yerr = NULL;
      if (!*pzErr) policy_err(pzErr, name, NULL, NULL, "YAML does not parse");
    }
    goto fail;
  }
  if (!json_is_object(root)) {
    policy_err(pzErr, name, NULL, NULL, "top level must be a mapping with a tables: key");
    goto fail;
  }
  {
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
      if (telem_yaml_meta_key(key)) continue; /* the loader's line number */
      if (strcmp(key, "tables") && strcmp(key, "version") && strcmp(key, "description")) {
        policy_err(pzErr, name, NULL, key, "unknown top-level key (expected tables)");
        goto fail;
      }
    }
  }
  json_t *tables = json_object_get(root, "tables");
  if (!tables || !json_is_object(tables)) {
    policy_err(pzErr, name, NULL, "tables", "must be a mapping of table name to rule");
    goto fail;
  }
  /* "tables: {}" is a valid, empty policy (nothing is pruned): it is what
   * telem_policy_yaml() exports once every rule was deleted. */
  p = telem_policy_new();
  if (!p) goto oom;
  const char *tname;
  json_t *rule;
  json_object_foreach(tables, tname, rule) {
    if (telem_yaml_meta_key(tname)) continue;
    if (json_is_array(rule)) { /* several rules for one table */
      size_t nr = json_array_size(rule);
      if (nr == 0) {
        policy_err(pzErr, name, tname, NULL, "an empty list of rules");
        goto fail;
      }
      for (size_t i = 0; i < nr; i++) {
        int rc = policy_parse_rule(p, name, tname, json_array_get(rule, i), pzErr);
        if (rc == -2) goto oom;
        if (rc) goto fail;
      }
      continue;
    }
    int rc = policy_parse_rule(p, name, tname, rule, pzErr);
    if (rc == -2) goto oom;
    if (rc) goto fail;
  }
  if (telem_policy_check(p, pzErr)) {
    /* Prefix the file name for cross-rule errors too. */
    if (pzErr && *pzErr) {
      char *m = sqlite3_mprintf("%s: %s", name, *pzErr);
      sqlite3_free(*pzErr);
      *pzErr = m;
    }
    goto fail;
  }
  json_decref(root);
  sqlite3_free(yerr);
  return p;
oom:
  policy_err(pzErr, name, NULL, NULL, "out of memory");
fail:
  telem_policy_free(p);
  json_decref(root);
  sqlite3_free(yerr);
  return NULL;
}

/* Appends s (UTF-8) as a YAML double-quoted scalar that reads back as the
 * same bytes.  JSON string escaping is not enough: inside double quotes YAML
 * folds NEL, LS and PS as line breaks and refuses DEL, C1 controls, a BOM
 * and U+FFFE / U+FFFF, so those are escaped too (found by fuzz_policy). */
static void policy_yaml_string(TelemBuf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  const unsigned char *z = (const unsigned char *)s;
  telem_buf_putc(b, '"');
  for (size_t i = 0; z[i];) {
    unsigned char c = z[i];
    char esc[8];
    size_t len = 0, used = 1;
    if (c == '"' || c == '\\') {
      esc[0] = '\\', esc[1] = (char)c, len = 2;
    } else if (c == '\n') {
      memcpy(esc, "\\n", 2), len = 2;
    } else if (c == '\t') {
      memcpy(esc, "\\t", 2), len = 2;
    } else if (c < 0x20 || c == 0x7F) {
      esc[0] = '\\', esc[1] = 'x', esc[2] = hex[c >> 4], esc[3] = hex[c & 15], len = 4;
    } else if (c == 0xC2 && z[i + 1] >= 0x80 && z[i + 1] <= 0x9F) { /* C1, NEL */
      unsigned char d = z[i + 1];
      esc[0] = '\\', esc[1] = 'x', esc[2] = hex[d >> 4], esc[3] = hex[d & 15], len = 4, used = 2;
    } else if (c == 0xE2 && z[i + 1] == 0x80 && (z[i + 2] == 0xA8 || z[i + 2] == 0xA9)) {
      esc[0] = '\\', esc[1] = z[i + 2] == 0xA8 ? 'L' : 'P', len = 2, used = 3; /* LS, PS */
    } else if (c == 0xEF && z[i + 1] == 0xBB && z[i + 2] == 0xBF) {
      memcpy(esc, "\\uFEFF", 6), len = 6, used = 3; /* BOM */
    } else if (c == 0xEF && z[i + 1] == 0xBF && (z[i + 2] == 0xBE || z[i + 2] == 0xBF)) {
      memcpy(esc, z[i + 2] == 0xBE ? "\\uFFFE" : "\\uFFFF", 6), len = 6, used = 3;
    }
    if (len) telem_buf_append(b, esc, len);
    else telem_buf_putc(b, (char)c);
    i += used;
  }
  telem_buf_putc(b, '"');
}

/* Appends identifier z (already validated: letters, digits, _) plain, or
 * double-quoted when a plain scalar would read back as null. */
static void policy_yaml_name(TelemBuf *b, const char *z) {
  if (strcmp(z, "null") == 0 || strcmp(z, "Null") == 0 || strcmp(z, "NULL") == 0)
    policy_yaml_string(b, z);
  else
    telem_buf_puts(b, z);
}

char *telem_policy_to_yaml(const TelemPolicy *p) {
  if (!p) return NULL;
  TelemBuf b;
  telem_buf_init(&b);
  telem_buf_puts(&b,
                 "# Retention policy exported by telem_policy_yaml(); import with\n"
                 "# telem_policy_import() or commit as contracts/db/retention-policy.yaml.\n"
                 "# Comments of the file it was imported from are not kept.\n");
  telem_buf_puts(&b, p->n ? "tables:\n" : "tables: {}\n");
  for (int i = 0; i < p->n;) {
    /* The rules of one table: a mapping when it is a single default rule
     * (Vox's form), else a list of rules, the default first. */
    int j = i + 1;
    while (j < p->n && sqlite3_stricmp(p->rules[j].table_name, p->rules[i].table_name) == 0) j++;
    int list = j - i > 1 || p->rules[i].filter;
    telem_buf_puts(&b, "  ");
    policy_yaml_name(&b, p->rules[i].table_name);
    telem_buf_puts(&b, ":\n");
    for (; i < j; i++) {
      const TelemPolicyRule *r = &p->rules[i];
      const char *ind = list ? "      " : "    ";
      telem_buf_puts(&b, list ? "    - " : "    ");
      if (r->nglob) {
        telem_buf_puts(&b, "metric_types: [");
        for (int g = 0; g < r->nglob; g++) {
          if (g) telem_buf_puts(&b, ", ");
          policy_yaml_string(&b, r->globs[g]);
        }
        telem_buf_printf(&b, "]\n%s", ind);
      }
      if (r->nwhere) {
        telem_buf_printf(&b, "where:\n");
        for (int w = 0; w < r->nwhere; w++) {
          telem_buf_printf(&b, "%s  ", ind);
          policy_yaml_name(&b, r->wcol[w]);
          telem_buf_puts(&b, ": ");
          policy_yaml_string(&b, r->wval[w]);
          telem_buf_putc(&b, '\n');
        }
        telem_buf_puts(&b, ind);
      }
      telem_buf_printf(&b, "kind: %s\n", telem_policy_kind_name(r->kind));
      if (r->days != TELEM_POLICY_NO_DAYS)
        telem_buf_printf(&b, "%sdays: %lld\n", ind, (long long)r->days);
      if (r->time_column) {
        telem_buf_printf(&b, "%stime_column: ", ind);
        policy_yaml_name(&b, r->time_column);
        telem_buf_putc(&b, '\n');
      }
      if (r->cascade_from) {
        telem_buf_printf(&b, "%scascade_from: ", ind);
        policy_yaml_name(&b, r->cascade_from);
        telem_buf_putc(&b, '\n');
      }
      if (r->rationale) {
        telem_buf_printf(&b, "%srationale: ", ind);
        policy_yaml_string(&b, r->rationale);
        telem_buf_putc(&b, '\n');
      }
    }
  }
  return telem_buf_take(&b);
}
