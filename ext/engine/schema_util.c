/*
 * schema_util.c -- helpers of the JSON Schema engine (schema.c): a small
 * hash map, RFC 3986 reference resolution and exact decimal arithmetic on
 * JSON number literals.  SQLite-free; no SQL is provided here.
 *
 * Numbers are compared as decimals: a literal is reduced to its significant
 * digits D (no leading or trailing zeros) and an exponent q, value = D*10^q.
 * That keeps 18446744073709551615 and 1e308 exact and makes multipleOf of
 * 0.01 a question about integers, not about doubles.
 */
#include "engine/schema_int.h"

#include <stdio.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- hash map ------------------------------------------------------------ */

static uint64_t map_hash(const void *k, size_t n) {
  const unsigned char *p = k;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h ^ (h >> 29);
}

void sc_map_free(ScMap *m) {
  for (size_t i = 0; i < m->cap; i++) sqlite3_free(m->slots[i].key);
  sqlite3_free(m->slots);
  memset(m, 0, sizeof *m);
}

void *sc_map_get(const ScMap *m, const void *key, size_t n) {
  if (!m->cap) return NULL;
  uint64_t h = map_hash(key, n);
  for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    ScMapSlot *s = &m->slots[i];
    if (!s->key) return NULL;
    if (s->hash == h && s->n == n && memcmp(s->key, key, n) == 0) return s->val;
  }
}

static int map_insert_slot(ScMapSlot *slots, size_t cap, ScMapSlot *e) {
  for (size_t i = e->hash & (cap - 1);; i = (i + 1) & (cap - 1)) {
    if (!slots[i].key) {
      slots[i] = *e;
      return 0;
    }
  }
}

int sc_map_put(ScMap *m, const void *key, size_t n, void *val) {
  uint64_t h = map_hash(key, n);
  if (m->cap) {
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
      ScMapSlot *s = &m->slots[i];
      if (!s->key) break;
      if (s->hash == h && s->n == n && memcmp(s->key, key, n) == 0) {
        s->val = val;
        return 0;
      }
    }
  }
  if ((m->count + 1) * 2 > m->cap) {
    size_t ncap = m->cap ? m->cap * 2 : 16;
    ScMapSlot *ns = sqlite3_malloc64(ncap * sizeof *ns);
    if (!ns) return -1;
    memset(ns, 0, ncap * sizeof *ns);
    for (size_t i = 0; i < m->cap; i++)
      if (m->slots[i].key) map_insert_slot(ns, ncap, &m->slots[i]);
    sqlite3_free(m->slots);
    m->slots = ns;
    m->cap = ncap;
  }
  ScMapSlot e;
  e.key = sqlite3_malloc64(n ? n : 1);
  if (!e.key) return -1;
  memcpy(e.key, key, n);
  e.n = n;
  e.hash = h;
  e.val = val;
  map_insert_slot(m->slots, m->cap, &e);
  m->count++;
  return 0;
}

/* ---- URI references (RFC 3986 section 5) ----------------------------------- */

typedef struct UriParts {
  const char *scheme; size_t scheme_n; int has_scheme;
  const char *auth; size_t auth_n; int has_auth;
  const char *path; size_t path_n;
  const char *query; size_t query_n; int has_query;
  const char *frag; size_t frag_n; int has_frag;
} UriParts;

static void uri_split(const char *u, UriParts *p) {
  memset(p, 0, sizeof *p);
  size_t n = strlen(u), i = 0;
  /* scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
  size_t k = 0;
  while (k < n && u[k] != ':' && u[k] != '/' && u[k] != '?' && u[k] != '#') k++;
  if (k < n && u[k] == ':' && k > 0) {
    p->has_scheme = 1;
    p->scheme = u;
    p->scheme_n = k;
    i = k + 1;
  }
  if (i + 1 < n + 1 && u[i] == '/' && u[i + 1] == '/') {
    i += 2;
    size_t s = i;
    while (i < n && u[i] != '/' && u[i] != '?' && u[i] != '#') i++;
    p->has_auth = 1;
    p->auth = u + s;
    p->auth_n = i - s;
  }
  size_t s = i;
  while (i < n && u[i] != '?' && u[i] != '#') i++;
  p->path = u + s;
  p->path_n = i - s;
  if (i < n && u[i] == '?') {
    s = ++i;
    while (i < n && u[i] != '#') i++;
    p->has_query = 1;
    p->query = u + s;
    p->query_n = i - s;
  }
  if (i < n && u[i] == '#') {
    p->has_frag = 1;
    p->frag = u + i + 1;
    p->frag_n = n - i - 1;
  }
}

/* Appends path[0..n) with "." and ".." segments removed (RFC 3986 5.2.4). */
static void remove_dots(TelemBuf *out, const char *path, size_t n) {
  size_t base = out->len;
  size_t i = 0;
  while (i < n) {
    if (n - i >= 3 && !memcmp(path + i, "../", 3)) { i += 3; continue; }
    if (n - i >= 2 && !memcmp(path + i, "./", 2)) { i += 2; continue; }
    if (n - i >= 3 && !memcmp(path + i, "/./", 3)) { i += 2; continue; }
    if (n - i == 2 && !memcmp(path + i, "/.", 2)) { telem_buf_putc(out, '/'); i += 2; continue; }
    if ((n - i >= 4 && !memcmp(path + i, "/../", 4)) || (n - i == 3 && !memcmp(path + i, "/..", 3))) {
      int last = n - i == 3;
      i += 3;
      while (out->len > base && out->p[out->len - 1] != '/') out->len--;
      if (out->len > base) out->len--;
      if (last) telem_buf_putc(out, '/');
      continue;
    }
    if ((n - i == 1 && path[i] == '.') || (n - i == 2 && !memcmp(path + i, "..", 2))) break;
    size_t s = i;
    if (path[i] == '/') i++;
    while (i < n && path[i] != '/') i++;
    telem_buf_append(out, path + s, i - s);
  }
}

char *sc_uri_resolve(const char *base, const char *ref) {
  UriParts b, r;
  uri_split(base ? base : "", &b);
  uri_split(ref, &r);
  TelemBuf out;
  telem_buf_init(&out);
  if (r.has_scheme) {
    telem_buf_append(&out, r.scheme, r.scheme_n);
    telem_buf_putc(&out, ':');
    if (r.has_auth) { telem_buf_puts(&out, "//"); telem_buf_append(&out, r.auth, r.auth_n); }
    remove_dots(&out, r.path, r.path_n);
    if (r.has_query) { telem_buf_putc(&out, '?'); telem_buf_append(&out, r.query, r.query_n); }
  } else {
    if (b.has_scheme) { telem_buf_append(&out, b.scheme, b.scheme_n); telem_buf_putc(&out, ':'); }
    if (r.has_auth) {
      telem_buf_puts(&out, "//");
      telem_buf_append(&out, r.auth, r.auth_n);
      remove_dots(&out, r.path, r.path_n);
      if (r.has_query) { telem_buf_putc(&out, '?'); telem_buf_append(&out, r.query, r.query_n); }
    } else {
      if (b.has_auth) { telem_buf_puts(&out, "//"); telem_buf_append(&out, b.auth, b.auth_n); }
      if (r.path_n == 0) {
        telem_buf_append(&out, b.path, b.path_n);
        if (r.has_query) { telem_buf_putc(&out, '?'); telem_buf_append(&out, r.query, r.query_n); }
        else if (b.has_query) { telem_buf_putc(&out, '?'); telem_buf_append(&out, b.query, b.query_n); }
      } else {
        if (r.path[0] == '/') {
          remove_dots(&out, r.path, r.path_n);
        } else {
          TelemBuf m;
          telem_buf_init(&m);
          if (b.has_auth && b.path_n == 0) {
            telem_buf_putc(&m, '/');
          } else {
            size_t k = b.path_n;
            while (k > 0 && b.path[k - 1] != '/') k--;
            telem_buf_append(&m, b.path, k);
          }
          telem_buf_append(&m, r.path, r.path_n);
          if (!m.oom) remove_dots(&out, m.p ? m.p : "", m.len);
          else out.oom = 1;
          telem_buf_free(&m);
        }
        if (r.has_query) { telem_buf_putc(&out, '?'); telem_buf_append(&out, r.query, r.query_n); }
      }
    }
  }
  if (r.has_frag) { telem_buf_putc(&out, '#'); telem_buf_append(&out, r.frag, r.frag_n); }
  telem_buf_putc(&out, '\0');
  if (out.oom) { telem_buf_free(&out); return NULL; }
  return telem_buf_take(&out);
}

/* ---- exact decimals -------------------------------------------------------- */

#define DEC_EXP_CLAMP 1000000000000000ll /* beyond this every comparison is decided */

int sc_dec_parse(const char *s, size_t n, char *buf, size_t cap, ScDec *d) {
  size_t i = 0, nd = 0;
  int64_t q = 0;
  d->neg = 0;
  if (i < n && s[i] == '-') { d->neg = 1; i++; }
  int seen_nz = 0;
  for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
    if (s[i] == '0' && !seen_nz) continue;
    seen_nz = 1;
    if (nd < cap) buf[nd] = s[i];
    nd++;
  }
  if (i < n && s[i] == '.') {
    for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
      q--;
      if (s[i] == '0' && !seen_nz) continue;
      seen_nz = 1;
      if (nd < cap) buf[nd] = s[i];
      nd++;
    }
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    int eneg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
    int64_t e = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
      if (e < DEC_EXP_CLAMP) e = e * 10 + (s[i] - '0');
    q += eneg ? -e : e;
  }
  if (nd > cap) return -1;
  while (nd > 0 && buf[nd - 1] == '0') { nd--; q++; }
  d->d = buf;
  d->nd = nd;
  d->q = q;
  if (nd == 0) { d->neg = 0; d->q = 0; }
  return 0;
}

int sc_dec_cmp(const ScDec *a, const ScDec *b) {
  if (a->nd == 0 && b->nd == 0) return 0;
  if (a->nd == 0) return b->neg ? 1 : -1;
  if (b->nd == 0) return a->neg ? -1 : 1;
  if (a->neg != b->neg) return a->neg ? -1 : 1;
  int sign = a->neg ? -1 : 1;
  int64_t ma = (int64_t)a->nd + a->q, mb = (int64_t)b->nd + b->q; /* magnitude */
  if (ma != mb) return ma < mb ? -sign : sign;
  size_t n = a->nd > b->nd ? a->nd : b->nd;
  for (size_t k = 0; k < n; k++) {
    char x = k < a->nd ? a->d[k] : '0', y = k < b->nd ? b->d[k] : '0';
    if (x != y) return x < y ? -sign : sign;
  }
  return 0;
}

int sc_dec_is_integer(const ScDec *d) { return d->nd == 0 || d->q >= 0; }

static uint64_t mulmod(uint64_t a, uint64_t b, uint64_t m) {
  return (uint64_t)(((unsigned __int128)a * b) % m);
}

int sc_dec_multiple_of(const ScDec *v, const ScDec *m) {
  if (v->nd == 0) return 1;
  if (m->nd == 0) return 0;
  /* v/m = Dv / (Dm * 10^(qm-qv)) when qv < qm: an integer only if 10 divides
   * Dv, which has no trailing zeros.  So v needs at most m's decimals. */
  if (v->q < m->q) return 0;
  int64_t e = m->q;
  int64_t mz = 0; /* zeros after the divisor's digits */
  if ((int64_t)m->nd + mz <= 18) {
    uint64_t B = 0;
    for (size_t k = 0; k < m->nd; k++) B = B * 10 + (uint64_t)(m->d[k] - '0');
    for (int64_t k = 0; k < mz; k++) B *= 10;
    uint64_t r = 0;
    for (size_t k = 0; k < v->nd; k++) r = (r * 10 + (uint64_t)(v->d[k] - '0')) % B;
    /* r * 10^(v->q - e) mod B by square-and-multiply */
    uint64_t z = (uint64_t)(v->q - e), p = 10 % B, acc = 1 % B;
    while (z) {
      if (z & 1) acc = mulmod(acc, p, B);
      p = mulmod(p, p, B);
      z >>= 1;
    }
    return mulmod(r, acc, B) == 0;
  }
  /* A divisor with more than 18 significant digits: decide with long
   * doubles (no project contract needs this). */
  char vb[64], mb[64];
  snprintf(vb, sizeof vb, "%.*se%lld", (int)(v->nd > 40 ? 40 : v->nd), v->d,
           (long long)(v->q + (int64_t)(v->nd > 40 ? v->nd - 40 : 0)));
  snprintf(mb, sizeof mb, "%.*se%lld", (int)(m->nd > 40 ? 40 : m->nd), m->d,
           (long long)(m->q + (int64_t)(m->nd > 40 ? m->nd - 40 : 0)));
  long double x = strtold(vb, NULL), y = strtold(mb, NULL);
  if (!isfinite((double)(x / y))) return 0;
  long double qt = x / y;
  return qt == floorl(qt);
}
