/*
 * rules.c -- the redaction engine: SQLite-free, used by telem_redact,
 * telem_redactions and telem_classify (ext/redact.c, ext/classify.c) and by
 * the public C API (include/voxtelem.h).
 *
 *   char *err = NULL;
 *   TelemRedactor *r = telem_redactor_new(yaml, strlen(yaml), &err);
 *   int p = telem_redactor_profile_index(r, "default");
 *   TelemBuf out; telem_buf_init(&out);
 *   telem_redactor_run(r, p, &arena, text, n, &out, NULL, &err);
 *
 * The rules (contracts/telemetry/redaction-rules.yaml, format in
 * docs/architecture/redaction.md) are loaded with telem_yaml_parse and
 * validated: an invalid pattern, an unknown action or class, a duplicate id
 * is an error naming the rule and its line.
 *
 * Speed.  A typical row is ~400 bytes of JSON with a dozen short strings, so
 * the cost of one PCRE2 call per rule per string would dominate.  Each
 * string gets one pass that counts a few tracked bytes (digits, '@', ':',
 * ...) and looks each lower-cased byte pair up in two tables that say which
 * rules have a literal starting / ending with that pair; a rule runs its
 * pattern only when its gates pass (minimum length, minimum digits/chars,
 * one of its literal prefilters present -- the pair tables reject almost
 * every string without a memmem).  Key rules are decided once per distinct
 * key through a small direct-mapped cache and applied during the JSON walk,
 * so they never cost a regex.  Output is written straight into a TelemBuf;
 * strings without matches are copied from the input as they were written.
 *
 * UTF-8.  Patterns are compiled in byte mode (no PCRE2_UTF): the rules are
 * ASCII, so matching never depends on UTF-8 validity and invalid input can
 * never reach a UTF-mode matcher.  A matched span is widened to whole UTF-8
 * sequences so valid input gives valid output; invalid bytes outside a
 * span are passed through unchanged (text mode only: JSON with invalid
 * UTF-8 is not JSON and is scrubbed as text).
 *
 * Fail closed.  Any engine error (match limit, JIT stack limit, out of
 * memory) makes the whole call fail; no partial or unredacted output is
 * ever returned.
 *
 * Threads.  A TelemRedactor holds scratch space (match data, spans, the key
 * cache), so one must not be used by two threads at once.  The SQL layer
 * keeps one per registry, and registries are per connection.
 */
#include "engine/redactor.h"
#include "core/yaml.h"
#include "voxtelem.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <xxhash.h>

#include <stdlib.h>
#include <string.h>

/* ---- tables and types ---------------------------------------------------- */

enum { RULE_VALUE, RULE_KEY };
enum { KP_EXACT, KP_PREFIX, KP_SUFFIX, KP_CONTAINS };
enum { CHECK_NONE, CHECK_LUHN };

#define N_SLOTS 16          /* tracked-byte counters: 0 = untracked, 1 = digits */
#define MAX_VALUE_RULES 64  /* a uint64_t mask says which rules a key skips */
#define MAX_GROUP 9         /* capture groups a rule may name */
#define KC_SIZE 1024        /* key cache entries (direct-mapped) */
#define KC_KEYMAX 40        /* longer keys are not cached */
#define NORM_STACK 256      /* keys normalised on the stack up to this size */
#define SUBJ_PAD 64         /* zero bytes after a subject given to PCRE2 */
#define BG_SIZE 2048        /* byte-pair hash buckets of the literal prefilter */

static const char *const action_names[] = {"keep", "replace", "hash", "omit"};

typedef struct KeyPat {
  char *s;      /* normalised name; owned */
  size_t n;     /* bytes in s */
  int mode;     /* KP_* */
} KeyPat;

typedef struct Lit {
  char *s;         /* literal (lower-cased when ci); owned */
  size_t n;        /* bytes */
  int ci;          /* case-insensitive */
} Lit;

typedef struct Rule {
  char *id;            /* owned */
  char *repl;          /* "[REDACTED:<id>]"; owned */
  size_t repl_len;
  int kind;            /* RULE_VALUE / RULE_KEY */
  int cls;             /* 0..3 */
  int action;          /* TELEM_RACT_* default action */
  int line;            /* source line, for messages */
  /* value rules */
  pcre2_code *code;    /* owned (pcre2_code_free) */
  int jit;             /* JIT compiled: use pcre2_jit_match */
  uint32_t group;      /* capture group that is the span */
  uint32_t minlen;     /* PCRE2_INFO_MINLENGTH */
  int check;           /* CHECK_* */
  Lit *lits;           /* any-of literal prefilter; owned */
  int nlits;
  uint32_t need[N_SLOTS]; /* min count per tracked slot (min_chars, min_digits) */
  int has_need;
  uint32_t min_digit_run; /* digits in one run ([0-9] with single ' '/'-' between) */
  uint8_t need_slot[N_SLOTS]; /* the slots with a need, for the gate */
  int n_need;
  uint32_t any_mask;   /* slots of which at least one must occur */
  KeyPat *xkeys;       /* except_keys; owned */
  int nxkeys;
  /* key rules */
  KeyPat *keys;        /* owned */
  int nkeys;
  KeyPat *except;      /* owned */
  int nexcept;
} Rule;

typedef struct Profile {
  char *name;       /* owned */
  uint8_t *action;  /* per rule: TELEM_RACT_*; owned */
  int needs_json;   /* a key rule hashes or omits: malformed JSON is an error */
} Profile;

typedef struct Span {
  size_t a, b;  /* byte range */
  int rule;     /* rule index */
} Span;

typedef struct KeyCacheEnt {
  uint64_t h;          /* XXH3 of the raw key */
  uint64_t skip;       /* value rules whose except_keys match */
  int16_t rule;        /* key rule index, -1 none */
  uint8_t len;         /* raw key length */
  uint8_t valid;
  char key[KC_KEYMAX]; /* raw key bytes */
} KeyCacheEnt;

struct TelemRedactor {
  Rule *rules;          /* value rules first, then key rules; owned */
  int nrules;
  int nvalue;           /* rules[0..nvalue) are value rules */
  Profile *profiles;    /* owned */
  int nprofiles;
  uint8_t slot[256];    /* byte -> tracked slot */
  int nslots;           /* slots in use (>= 2) */
  uint32_t minlen;      /* shortest span any value rule can match */
  pcre2_match_context *mctx;  /* limits + JIT stack; owned */
  pcre2_jit_stack *jstack;    /* owned */
  pcre2_match_data *md;       /* scratch; owned */
  Span *spans;          /* scratch: spans of the current string; owned */
  size_t nspans, cspans;
  TelemBuf tmp;         /* scratch for hashing */
  char *subj;           /* scratch: the subject, padded (see find_spans); owned */
  size_t subj_cap;
  KeyCacheEnt *kcache;  /* KC_SIZE entries; owned */
  uint64_t bgm1[BG_SIZE]; /* byte-pair bucket -> rules with a literal starting so */
  uint64_t bgm2[BG_SIZE]; /* byte-pair bucket -> rules with a literal ending so */
  uint64_t lit_always;  /* rules with a one-byte literal (always candidates) */
  uint64_t value_mask;  /* all value rules */
  uint64_t lit_mask;    /* value rules with a literal prefilter */
  uint64_t above[4];    /* value rules whose class is above 0..3 (classify) */
};

static unsigned char lower_tab[256];
static int lower_tab_ready;

static void lower_init(void) {
  if (lower_tab_ready) return;
  for (int i = 0; i < 256; i++) lower_tab[i] = (unsigned char)((i >= 'A' && i <= 'Z') ? i + 32 : i);
  lower_tab_ready = 1;
}

static inline unsigned bg_hash(unsigned a, unsigned b) { return ((a & 31u) << 6) | (b & 63u); }

/* ---- small helpers ------------------------------------------------------- */

static char *dup_n(const char *s, size_t n) {
  char *p = sqlite3_malloc64(n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

/* Finds needle p[0..m) in s[0..n) (memmem is not in C11). */
static const char *mem_find(const char *s, size_t n, const char *p, size_t m) {
  if (m == 0) return s;
  while (n >= m) {
    const char *q = memchr(s, p[0], n - m + 1);
    if (!q) return NULL;
    if (memcmp(q, p, m) == 0) return q;
    n -= (size_t)(q - s) + 1;
    s = q + 1;
  }
  return NULL;
}

/* Key normalisation: ASCII lower case, '-', '_', '.' and ' ' dropped.
 * Writes at most n bytes to dst and returns the length. */
static size_t key_normalize(const char *s, size_t n, char *dst) {
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '-' || c == '_' || c == '.' || c == ' ') continue;
    dst[j++] = (char)lower_tab[c];
  }
  return j;
}

static int keypat_match(const KeyPat *p, const char *k, size_t n) {
  switch (p->mode) {
    case KP_EXACT: return n == p->n && memcmp(k, p->s, n) == 0;
    case KP_PREFIX: return n >= p->n && memcmp(k, p->s, p->n) == 0;
    case KP_SUFFIX: return n >= p->n && memcmp(k + n - p->n, p->s, p->n) == 0;
    default: return n >= p->n && mem_find(k, n, p->s, p->n) != NULL;
  }
}

static int keypats_match(const KeyPat *v, int nv, const char *k, size_t n) {
  for (int i = 0; i < nv; i++)
    if (keypat_match(&v[i], k, n)) return 1;
  return 0;
}

/* Case-insensitive search of lower-case needle p in s. */
static int ci_contains(const char *s, size_t n, const char *p, size_t m) {
  if (m == 0) return 1;
  if (m > n) return 0;
  for (size_t i = 0; i + m <= n; i++) {
    if (lower_tab[(unsigned char)s[i]] != (unsigned char)p[0]) continue;
    size_t j = 1;
    while (j < m && lower_tab[(unsigned char)s[i + j]] == (unsigned char)p[j]) j++;
    if (j == m) return 1;
  }
  return 0;
}

/* Output fast paths: append without a call when there is room (the buffer
 * keeps one spare byte for the NUL that telem_buf_take writes); otherwise
 * the TelemBuf routines grow it or set oom. */
static inline void out_append(TelemBuf *b, const char *p, size_t n) {
  if (b->len + n < b->cap) {
    memcpy(b->p + b->len, p, n);
    b->len += n;
  } else {
    telem_buf_append(b, p, n);
  }
}

static inline void out_putc(TelemBuf *b, char c) {
  if (b->len + 1 < b->cap) b->p[b->len++] = c;
  else telem_buf_putc(b, c);
}

/* ---- rule file loading ------------------------------------------------- */

static void rule_clear(Rule *R) {
  sqlite3_free(R->id);
  sqlite3_free(R->repl);
  if (R->code) pcre2_code_free(R->code);
  for (int i = 0; i < R->nlits; i++) sqlite3_free(R->lits[i].s);
  sqlite3_free(R->lits);
  for (int i = 0; i < R->nxkeys; i++) sqlite3_free(R->xkeys[i].s);
  sqlite3_free(R->xkeys);
  for (int i = 0; i < R->nkeys; i++) sqlite3_free(R->keys[i].s);
  sqlite3_free(R->keys);
  for (int i = 0; i < R->nexcept; i++) sqlite3_free(R->except[i].s);
  sqlite3_free(R->except);
}

void telem_redactor_free(TelemRedactor *r) {
  if (!r) return;
  for (int i = 0; i < r->nrules; i++) rule_clear(&r->rules[i]);
  sqlite3_free(r->rules);
  for (int i = 0; i < r->nprofiles; i++) {
    sqlite3_free(r->profiles[i].name);
    sqlite3_free(r->profiles[i].action);
  }
  sqlite3_free(r->profiles);
  if (r->md) pcre2_match_data_free(r->md);
  if (r->mctx) pcre2_match_context_free(r->mctx);
  if (r->jstack) pcre2_jit_stack_free(r->jstack);
  sqlite3_free(r->spans);
  sqlite3_free(r->subj);
  telem_buf_free(&r->tmp);
  sqlite3_free(r->kcache);
  sqlite3_free(r);
}

void telem_redactor_free_cb(void *p) { telem_redactor_free(p); }

/* Loader state: the first error wins. */
typedef struct Loader {
  TelemRedactor *r;
  char *err;  /* sqlite3 memory */
} Loader;

static void load_err(Loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void load_err(Loader *L, const char *fmt, ...) {
  if (L->err) return;
  va_list ap;
  va_start(ap, fmt);
  L->err = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  if (!L->err) L->err = sqlite3_mprintf("out of memory");
}

/* "rule \"id\" (line n)" or "value_patterns[i] (line n)" as a prefix. */
static char *rule_where(const char *section, int idx, const char *id, int line) {
  if (id) return sqlite3_mprintf("rule \"%s\" (line %d)", id, line);
  return sqlite3_mprintf("%s[%d] (line %d)", section, idx, line);
}

static int parse_uint(const char *z, uint32_t max, uint32_t *out) {
  if (!z || !*z) return -1;
  uint64_t v = 0;
  for (const char *p = z; *p; p++) {
    if (*p < '0' || *p > '9') return -1;
    v = v * 10 + (uint64_t)(*p - '0');
    if (v > max) return -1;
  }
  *out = (uint32_t)v;
  return 0;
}

static int action_parse(const char *z) {
  if (!z) return -1;
  for (int i = 0; i < 4; i++)
    if (strcmp(z, action_names[i]) == 0) return i;
  return -1;
}

/* Parses a list of key names ("*name*" etc.) into *out. */
static int load_keypats(Loader *L, const char *where, const char *field, json_t *arr, KeyPat **out,
                        int *nout) {
  if (!json_is_array(arr)) {
    load_err(L, "%s: \"%s\" must be a list of key names", where, field);
    return -1;
  }
  size_t n = json_array_size(arr);
  KeyPat *v = sqlite3_malloc64(sizeof(KeyPat) * (n ? n : 1));
  if (!v) {
    load_err(L, "out of memory");
    return -1;
  }
  memset(v, 0, sizeof(KeyPat) * (n ? n : 1));
  *out = v;
  *nout = 0;
  for (size_t i = 0; i < n; i++) {
    const char *z = json_string_value(json_array_get(arr, i));
    if (!z || !*z) {
      load_err(L, "%s: \"%s\" entry %d is not a key name", where, field, (int)i + 1);
      return -1;
    }
    size_t len = strlen(z);
    int lead = z[0] == '*', trail = len > 1 && z[len - 1] == '*';
    const char *b = z + lead;
    size_t bl = len - (size_t)lead - (size_t)trail;
    char *norm = sqlite3_malloc64(bl + 1);
    if (!norm) {
      load_err(L, "out of memory");
      return -1;
    }
    size_t nn = key_normalize(b, bl, norm);
    norm[nn] = 0;
    if (nn == 0 || memchr(norm, '*', nn)) {
      sqlite3_free(norm);
      load_err(L, "%s: \"%s\" entry \"%s\" is not a key name", where, field, z);
      return -1;
    }
    v[i].s = norm;
    v[i].n = nn;
    v[i].mode = lead && trail ? KP_CONTAINS : lead ? KP_SUFFIX : trail ? KP_PREFIX : KP_EXACT;
    *nout = (int)i + 1;
  }
  return 0;
}

static int id_ok(const char *z) {
  if (!z || !*z || strlen(z) > 64) return 0;
  for (const char *p = z; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) return 0;
  return 1;
}

/* Returns the tracked slot of byte c, allocating one. -1 when full. */
static int slot_for(TelemRedactor *r, unsigned char c) {
  if (r->slot[c]) return r->slot[c];
  if (r->nslots >= N_SLOTS) return -1;
  r->slot[c] = (uint8_t)r->nslots;
  return r->nslots++;
}

static int load_lits(Loader *L, const char *where, const char *field, json_t *arr, int ci,
                     Rule *R) {
  if (!json_is_array(arr) || json_array_size(arr) == 0) {
    load_err(L, "%s: \"%s\" must be a non-empty list of strings", where, field);
    return -1;
  }
  size_t n = json_array_size(arr);
  Lit *v = sqlite3_realloc64(R->lits, sizeof(Lit) * ((size_t)R->nlits + n));
  if (!v) {
    load_err(L, "out of memory");
    return -1;
  }
  R->lits = v;
  for (size_t i = 0; i < n; i++) {
    const char *z = json_string_value(json_array_get(arr, i));
    if (!z || !*z) {
      load_err(L, "%s: \"%s\" entry %d is not a non-empty string", where, field, (int)i + 1);
      return -1;
    }
    Lit *t = &R->lits[R->nlits];
    memset(t, 0, sizeof(*t));
    t->n = strlen(z);
    if (!(t->s = dup_n(z, t->n))) {
      load_err(L, "out of memory");
      return -1;
    }
    R->nlits++;
    t->ci = ci;
    if (ci)
      for (size_t j = 0; j < t->n; j++) t->s[j] = (char)lower_tab[(unsigned char)t->s[j]];
    /* The rule becomes a candidate for a string that has the literal's
     * first and its last byte pair (lower-cased, hashed). */
    uint64_t bit = 1ull << (R - L->r->rules);
    if (t->n >= 2) {
      const unsigned char *u = (const unsigned char *)t->s;
      L->r->bgm1[bg_hash(lower_tab[u[0]], lower_tab[u[1]])] |= bit;
      L->r->bgm2[bg_hash(lower_tab[u[t->n - 2]], lower_tab[u[t->n - 1]])] |= bit;
    } else {
      L->r->lit_always |= bit;
    }
  }
  return 0;
}

static const char *const value_fields[] = {
    "id", "class", "action", "pattern", "group", "check", "prefilter", "prefilter_ci",
    "min_chars", "any_chars", "min_digits", "min_digit_run", "except_keys", "description", NULL};
static const char *const key_fields[] = {"id", "class", "action", "keys", "except",
                                         "description", NULL};

/* telem_yaml_parse keeps each mapping's source line in a hidden member
 * whose key starts with \x01 (TELEM_YAML_LINE_KEY): not a field. */
static int hidden_key(const char *k) { return k[0] == '\001'; }

static int field_known(const char *const *v, const char *k) {
  for (; *v; v++)
    if (strcmp(*v, k) == 0) return 1;
  return 0;
}

static int load_rule(Loader *L, json_t *o, int kind, int idx, Rule *R) {
  TelemRedactor *r = L->r;
  const char *section = kind == RULE_VALUE ? "value_patterns" : "key_rules";
  int line = json_is_object(o) ? telem_yaml_line(o) : 0;
  R->kind = kind;
  R->line = line;
  if (!json_is_object(o)) {
    load_err(L, "%s[%d]: must be a mapping", section, idx);
    return -1;
  }
  const char *id = json_string_value(json_object_get(o, "id"));
  char *where = rule_where(section, idx, id_ok(id) ? id : NULL, line);
  if (!where) {
    load_err(L, "out of memory");
    return -1;
  }
  int rc = -1;
  const char *k;
  json_t *val;
  json_object_foreach(o, k, val) {
    if (hidden_key(k)) continue;
    if (!field_known(kind == RULE_VALUE ? value_fields : key_fields, k)) {
      load_err(L, "%s: unknown field \"%s\"", where, k);
      goto done;
    }
  }
  if (!id) {
    load_err(L, "%s: missing id", where);
    goto done;
  }
  if (!id_ok(id)) {
    load_err(L, "%s: id must match [a-z0-9-]{1,64}", where);
    goto done;
  }
  for (int i = 0; i < r->nrules; i++) {
    if (r->rules[i].id && strcmp(r->rules[i].id, id) == 0) {
      load_err(L, "%s: duplicate id (first defined on line %d)", where, r->rules[i].line);
      goto done;
    }
  }
  if (!(R->id = dup_n(id, strlen(id))) ||
      !(R->repl = sqlite3_mprintf("[REDACTED:%s]", id))) {
    load_err(L, "out of memory");
    goto done;
  }
  R->repl_len = strlen(R->repl);
  const char *cls = json_string_value(json_object_get(o, "class"));
  if (!cls) {
    load_err(L, "%s: missing class", where);
    goto done;
  }
  if ((R->cls = telem_class_rank(cls)) < 0) {
    load_err(L, "%s: unknown class \"%s\" (expected S0, S1, S2 or S3)", where, cls);
    goto done;
  }
  const char *act = json_string_value(json_object_get(o, "action"));
  if (!act) {
    load_err(L, "%s: missing action", where);
    goto done;
  }
  if ((R->action = action_parse(act)) < 0) {
    load_err(L, "%s: unknown action \"%s\" (expected %s)", where, act,
             kind == RULE_VALUE ? "replace, hash or keep" : "replace, hash, omit or keep");
    goto done;
  }
  if (kind == RULE_VALUE && R->action == TELEM_RACT_OMIT) {
    load_err(L, "%s: action \"omit\" is only for key rules", where);
    goto done;
  }

  if (kind == RULE_KEY) {
    json_t *keys = json_object_get(o, "keys");
    if (!keys) {
      load_err(L, "%s: missing keys", where);
      goto done;
    }
    if (load_keypats(L, where, "keys", keys, &R->keys, &R->nkeys)) goto done;
    if (R->nkeys == 0) {
      load_err(L, "%s: \"keys\" is empty", where);
      goto done;
    }
    json_t *ex = json_object_get(o, "except");
    if (ex && load_keypats(L, where, "except", ex, &R->except, &R->nexcept)) goto done;
    rc = 0;
    goto done;
  }

  /* value rule */
  const char *pat = json_string_value(json_object_get(o, "pattern"));
  if (!pat || !*pat) {
    load_err(L, "%s: missing pattern", where);
    goto done;
  }
  size_t plen = strlen(pat);
  if (plen > TELEM_MAX_PATTERN_BYTES) {
    load_err(L, "%s: pattern longer than %d bytes", where, TELEM_MAX_PATTERN_BYTES);
    goto done;
  }
  int ecode;
  PCRE2_SIZE eoff;
  /* Byte mode on purpose (see the file comment); PCRE2_NEVER_UTF keeps a
   * (*UTF) inside a pattern from switching it on. */
  R->code = pcre2_compile((PCRE2_SPTR)pat, plen, PCRE2_NEVER_UTF | PCRE2_NEVER_BACKSLASH_C, &ecode,
                          &eoff, NULL);
  if (!R->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(ecode, msg, sizeof(msg));
    load_err(L, "%s: pattern does not compile at offset %d: %s", where, (int)eoff, (char *)msg);
    goto done;
  }
  R->jit = pcre2_jit_compile(R->code, PCRE2_JIT_COMPLETE) == 0;
  uint32_t capn = 0, minlen = 0;
  pcre2_pattern_info(R->code, PCRE2_INFO_CAPTURECOUNT, &capn);
  pcre2_pattern_info(R->code, PCRE2_INFO_MINLENGTH, &minlen);
  R->minlen = minlen ? minlen : 1;
  const char *g = json_string_value(json_object_get(o, "group"));
  if (json_object_get(o, "group") && (!g || parse_uint(g, MAX_GROUP, &R->group))) {
    load_err(L, "%s: group must be a number from 0 to %d", where, MAX_GROUP);
    goto done;
  }
  if (R->group > capn) {
    load_err(L, "%s: group %u but the pattern has %u capture group%s", where, R->group, capn,
             capn == 1 ? "" : "s");
    goto done;
  }
  const char *chk = json_string_value(json_object_get(o, "check"));
  if (json_object_get(o, "check")) {
    if (!chk || strcmp(chk, "luhn") != 0) {
      load_err(L, "%s: unknown check \"%s\" (expected luhn)", where, chk ? chk : "");
      goto done;
    }
    R->check = CHECK_LUHN;
  }
  json_t *pf = json_object_get(o, "prefilter");
  if (pf && load_lits(L, where, "prefilter", pf, 0, R)) goto done;
  pf = json_object_get(o, "prefilter_ci");
  if (pf && load_lits(L, where, "prefilter_ci", pf, 1, R)) goto done;
  json_t *mc = json_object_get(o, "min_chars");
  if (mc) {
    if (!json_is_object(mc)) {
      load_err(L, "%s: min_chars must be a mapping of one character to a count", where);
      goto done;
    }
    json_object_foreach(mc, k, val) {
      uint32_t cnt;
      if (hidden_key(k)) continue;
      const char *cz = json_string_value(val);
      if (strlen(k) != 1 || (k[0] >= '0' && k[0] <= '9') || !cz ||
          parse_uint(cz, 1u << 20, &cnt)) {
        load_err(L, "%s: min_chars must map one non-digit character to a count", where);
        goto done;
      }
      int s = slot_for(r, (unsigned char)k[0]);
      if (s < 0) {
        load_err(L, "%s: too many distinct characters in min_chars/any_chars (at most %d)",
                 where, N_SLOTS - 2);
        goto done;
      }
      R->need[s] = cnt;
      R->has_need = 1;
    }
  }
  const char *ac = json_string_value(json_object_get(o, "any_chars"));
  if (json_object_get(o, "any_chars")) {
    if (!ac || !*ac) {
      load_err(L, "%s: any_chars must be a non-empty string", where);
      goto done;
    }
    for (const char *p = ac; *p; p++) {
      int s = (*p >= '0' && *p <= '9') ? 1 : slot_for(r, (unsigned char)*p);
      if (s < 0) {
        load_err(L, "%s: too many distinct characters in min_chars/any_chars (at most %d)",
                 where, N_SLOTS - 2);
        goto done;
      }
      R->any_mask |= 1u << s;
    }
  }
  const char *md = json_string_value(json_object_get(o, "min_digits"));
  if (json_object_get(o, "min_digits")) {
    uint32_t d;
    if (!md || parse_uint(md, 1u << 20, &d)) {
      load_err(L, "%s: min_digits must be a number", where);
      goto done;
    }
    R->need[1] = d;
    R->has_need = 1;
  }
  const char *mr = json_string_value(json_object_get(o, "min_digit_run"));
  if (json_object_get(o, "min_digit_run") && (!mr || parse_uint(mr, 1u << 20, &R->min_digit_run))) {
    load_err(L, "%s: min_digit_run must be a number", where);
    goto done;
  }
  json_t *xk = json_object_get(o, "except_keys");
  if (xk && load_keypats(L, where, "except_keys", xk, &R->xkeys, &R->nxkeys)) goto done;
  for (int s = 1; s < N_SLOTS; s++)
    if (R->need[s]) R->need_slot[R->n_need++] = (uint8_t)s;
  rc = 0;
done:
  sqlite3_free(where);
  return rc;
}

static int load_profiles(Loader *L, json_t *pr) {
  TelemRedactor *r = L->r;
  if (!json_is_object(pr)) {
    load_err(L, "profiles: must be a mapping of profile name to rule actions");
    return -1;
  }
  size_t n = json_object_size(pr);
  if (!(r->profiles = sqlite3_malloc64(sizeof(Profile) * (n ? n : 1)))) {
    load_err(L, "out of memory");
    return -1;
  }
  const char *name;
  json_t *m;
  json_object_foreach(pr, name, m) {
    if (hidden_key(name)) continue;
    Profile *P = &r->profiles[r->nprofiles];
    memset(P, 0, sizeof(*P));
    if (!(P->name = dup_n(name, strlen(name))) ||
        !(P->action = sqlite3_malloc64((size_t)r->nrules + 1))) {
      sqlite3_free(P->name);
      load_err(L, "out of memory");
      return -1;
    }
    r->nprofiles++;
    for (int i = 0; i < r->nrules; i++) P->action[i] = (uint8_t)r->rules[i].action;
    if (json_is_null(m)) continue;
    if (!json_is_object(m)) {
      load_err(L, "profile \"%s\" (line %d): must be a mapping of rule id to action", name,
               telem_yaml_line(pr));
      return -1;
    }
    const char *rid;
    json_t *av;
    json_object_foreach(m, rid, av) {
      if (hidden_key(rid)) continue;
      int line = telem_yaml_line(m);
      int ri = -1;
      for (int i = 0; i < r->nrules; i++)
        if (strcmp(r->rules[i].id, rid) == 0) ri = i;
      if (ri < 0) {
        load_err(L, "profile \"%s\" (line %d): unknown rule \"%s\"", name, line, rid);
        return -1;
      }
      const char *az = json_string_value(av);
      int a = action_parse(az);
      if (a < 0) {
        load_err(L, "profile \"%s\" (line %d): rule \"%s\": unknown action \"%s\"", name, line,
                 rid, az ? az : "");
        return -1;
      }
      if (a == TELEM_RACT_OMIT && r->rules[ri].kind == RULE_VALUE) {
        load_err(L, "profile \"%s\" (line %d): rule \"%s\": action \"omit\" is only for key rules",
                 name, line, rid);
        return -1;
      }
      P->action[ri] = (uint8_t)a;
    }
  }
  for (int p = 0; p < r->nprofiles; p++)
    for (int i = r->nvalue; i < r->nrules; i++)
      if (r->profiles[p].action[i] == TELEM_RACT_HASH || r->profiles[p].action[i] == TELEM_RACT_OMIT)
        r->profiles[p].needs_json = 1;
  if (telem_redactor_profile_index(r, "default") < 0) {
    load_err(L, "profiles: no \"default\" profile");
    return -1;
  }
  return 0;
}

TelemRedactor *telem_redactor_new(const char *text, size_t n, char **pzErr) {
  lower_init();
  Loader L = {0};
  json_t *doc = NULL;
  char *yerr = NULL;
  TelemRedactor *r = sqlite3_malloc64(sizeof(*r));
  if (!r) {
    telem_set_err(pzErr, "out of memory");
    return NULL;
  }
  memset(r, 0, sizeof(*r));
  L.r = r;
  telem_buf_init(&r->tmp);
  r->nslots = 2; /* slot 1 (digits) is counted without the table */

  doc = telem_yaml_parse("redaction-rules.yaml", text, n, &yerr);
  if (!doc) {
    load_err(&L, "%s", yerr ? yerr : "out of memory");
    goto fail;
  }
  if (!json_is_object(doc)) {
    load_err(&L, "the rules file must be a mapping");
    goto fail;
  }
  const char *k;
  json_t *val;
  json_object_foreach(doc, k, val) {
    if (hidden_key(k)) continue;
    if (strcmp(k, "version") && strcmp(k, "value_patterns") && strcmp(k, "key_rules") &&
        strcmp(k, "profiles") && strcmp(k, "description")) {
      load_err(&L, "unknown top-level field \"%s\"", k);
      goto fail;
    }
  }
  json_t *vp = json_object_get(doc, "value_patterns");
  json_t *kr = json_object_get(doc, "key_rules");
  json_t *pr = json_object_get(doc, "profiles");
  if (vp && !json_is_array(vp)) {
    load_err(&L, "value_patterns: must be a list");
    goto fail;
  }
  if (kr && !json_is_array(kr)) {
    load_err(&L, "key_rules: must be a list");
    goto fail;
  }
  if (!pr) {
    load_err(&L, "profiles: missing");
    goto fail;
  }
  size_t nv = vp ? json_array_size(vp) : 0, nk = kr ? json_array_size(kr) : 0;
  if (nv > MAX_VALUE_RULES) {
    load_err(&L, "value_patterns: more than %d rules", MAX_VALUE_RULES);
    goto fail;
  }
  if (!(r->rules = sqlite3_malloc64(sizeof(Rule) * (nv + nk + 1)))) {
    load_err(&L, "out of memory");
    goto fail;
  }
  memset(r->rules, 0, sizeof(Rule) * (nv + nk + 1));
  r->minlen = UINT32_MAX;
  for (size_t i = 0; i < nv; i++) {
    r->nrules++; /* counted first so a failed rule is freed */
    if (load_rule(&L, json_array_get(vp, i), RULE_VALUE, (int)i, &r->rules[i])) goto fail;
    if (r->rules[i].minlen < r->minlen) r->minlen = r->rules[i].minlen;
  }
  r->nvalue = (int)nv;
  for (int i = 0; i < r->nvalue; i++) {
    r->value_mask |= 1ull << i;
    if (r->rules[i].nlits) r->lit_mask |= 1ull << i;
    for (int c = 0; c < 4; c++)
      if (r->rules[i].cls > c) r->above[c] |= 1ull << i;
  }
  for (size_t i = 0; i < nk; i++) {
    r->nrules++;
    if (load_rule(&L, json_array_get(kr, i), RULE_KEY, (int)i, &r->rules[nv + i])) goto fail;
  }
  if (load_profiles(&L, pr)) goto fail;

  r->mctx = pcre2_match_context_create(NULL);
  r->jstack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
  r->md = pcre2_match_data_create(MAX_GROUP + 1, NULL);
  r->kcache = sqlite3_malloc64(sizeof(KeyCacheEnt) * KC_SIZE);
  if (!r->mctx || !r->jstack || !r->md || !r->kcache) {
    load_err(&L, "out of memory");
    goto fail;
  }
  memset(r->kcache, 0, sizeof(KeyCacheEnt) * KC_SIZE);
  /* Limits bound the work of one match attempt, so a hostile string costs
   * at most a bounded amount per start position and then fails closed. */
  pcre2_set_match_limit(r->mctx, TELEM_PCRE2_MATCH_LIMIT);
  pcre2_set_depth_limit(r->mctx, TELEM_PCRE2_DEPTH_LIMIT);
  pcre2_jit_stack_assign(r->mctx, NULL, r->jstack);
  json_decref(doc);
  sqlite3_free(yerr);
  return r;

fail:
  telem_set_err(pzErr, "%s", L.err ? L.err : "out of memory");
  sqlite3_free(L.err);
  sqlite3_free(yerr);
  if (doc) json_decref(doc);
  telem_redactor_free(r);
  return NULL;
}

/* ---- introspection ------------------------------------------------------- */

int telem_redactor_profile_index(const TelemRedactor *r, const char *name) {
  if (!name) return -1;
  for (int i = 0; i < r->nprofiles; i++)
    if (strcmp(r->profiles[i].name, name) == 0) return i;
  return -1;
}

int telem_redactor_rule_count(const TelemRedactor *r) { return r->nrules; }
const char *telem_redactor_rule_id(const TelemRedactor *r, int i) { return r->rules[i].id; }
int telem_redactor_rule_class(const TelemRedactor *r, int i) { return r->rules[i].cls; }
const char *telem_redact_action_name(int a) { return a >= 0 && a < 4 ? action_names[a] : "?"; }

/* ---- action log ---------------------------------------------------------- */

void telem_redact_log_init(TelemRedactLog *log) { memset(log, 0, sizeof(*log)); }

void telem_redact_log_clear(TelemRedactLog *log) {
  for (int i = 0; i < log->n; i++) sqlite3_free(log->v[i].path);
  sqlite3_free(log->v);
  memset(log, 0, sizeof(*log));
}

/* ---- the run ------------------------------------------------------------- */

typedef struct Run {
  TelemRedactor *r;
  const uint8_t *act;   /* per-rule actions of the profile; NULL when classifying */
  TelemBuf *out;        /* output, or NULL */
  TelemRedactLog *log;  /* actions, or NULL */
  TelemBuf path;        /* JSON Pointer of the current value (only with log) */
  const char *in;       /* the text being walked (raw copies of unchanged strings) */
  TelemArena *arena;    /* where embedded JSON strings are parsed */
  int embed;            /* embedded-JSON levels entered (walk_embedded) */
  long changes;         /* actions taken so far (replace, hash, omit) */
  int cls;              /* highest class seen (classify) */
  char *err;            /* first error; sqlite3 memory */
} Run;

enum { W_OK = 0, W_ERR = 1, W_STOP = 2, W_NOTJSON = 3 };

#define MAX_EMBED 4 /* JSON-in-a-string levels looked into */

static int run_err(Run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run_err(Run *run, const char *fmt, ...) {
  if (!run->err) {
    va_list ap;
    va_start(ap, fmt);
    run->err = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    if (!run->err) run->err = sqlite3_mprintf("out of memory");
  }
  return W_ERR;
}

static int run_oom(Run *run) { return run_err(run, "out of memory"); }

/* Records one action at the current path. */
static int record(Run *run, int rule, int action) {
  TelemRedactLog *log = run->log;
  run->changes++;
  if (!log) return W_OK;
  if (log->n == log->cap) {
    int nc = log->cap ? log->cap * 2 : 16;
    TelemRedactEntry *v = sqlite3_realloc64(log->v, sizeof(*v) * (size_t)nc);
    if (!v) return run_oom(run);
    log->v = v;
    log->cap = nc;
  }
  char *p = dup_n(run->path.p ? run->path.p : "", run->path.len);
  if (!p) return run_oom(run);
  TelemRedactEntry *e = &log->v[log->n++];
  e->path = p;
  e->rule = rule;
  e->action = action;
  e->cls = run->r->rules[rule].cls;
  return W_OK;
}

typedef struct Sig {
  uint64_t lits;          /* rules whose literal prefilter may pass */
  int64_t digit_run;      /* longest digit run (min_digit_run), -1 until needed */
  uint32_t cnt[N_SLOTS];  /* tracked bytes */
} Sig;

/* One pass over the string: digits, tracked bytes, and the rules whose
 * literals' first and last byte pairs both occur (two table lookups OR-ed
 * into registers).  The common case (an untracked byte) touches no counter
 * in memory, so the loop has no store-to-load chain. */
static void sig_compute(const TelemRedactor *r, const unsigned char *s, size_t n, Sig *g) {
  memset(g, 0, sizeof(*g));
  unsigned prev = 0;
  uint32_t digits = 0;
  uint64_t m1 = 0, m2 = 0;
  const uint64_t *t1 = r->bgm1, *t2 = r->bgm2;
  for (size_t i = 0; i < n; i++) {
    unsigned c = s[i];
    digits += (c - '0') < 10u;
    if (r->slot[c]) g->cnt[r->slot[c]]++;
    unsigned l = lower_tab[c];
    unsigned h = bg_hash(prev, l);
    m1 |= t1[h];
    m2 |= t2[h];
    prev = l;
  }
  g->cnt[1] = digits;
  g->lits = (m1 & m2) | r->lit_always;
  g->digit_run = -1;
}

/* Digits in the longest run of digits where one ' ' or '-' may separate two
 * digits ("4111 1111-1111 1111" is one run of 16). */
static int64_t digit_run(const char *s, size_t n) {
  int64_t best = 0, cur = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= '0' && c <= '9') {
      if (++cur > best) best = cur;
    } else if (!((c == ' ' || c == '-') && cur > 0 && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9')) {
      cur = 0;
    }
  }
  return best;
}

/* The gates of rule R other than the literal byte pairs (find_spans has
 * already dropped rules whose pairs are missing): 1 when its pattern must
 * run on s[0..n). */
static int rule_gate(const Rule *R, Sig *g, const char *s, size_t n) {
  if (n < R->minlen) return 0;
  for (int k = 0; k < R->n_need; k++)
    if (g->cnt[R->need_slot[k]] < R->need[R->need_slot[k]]) return 0;
  if (R->any_mask) {
    int any = 0;
    for (int k = 1; k < N_SLOTS && !any; k++)
      if ((R->any_mask & (1u << k)) && g->cnt[k]) any = 1;
    if (!any) return 0;
  }
  if (R->min_digit_run) {
    if (g->digit_run < 0) g->digit_run = digit_run(s, n);
    if (g->digit_run < (int64_t)R->min_digit_run) return 0;
  }
  if (R->nlits) {
    for (int i = 0; i < R->nlits; i++) {
      const Lit *t = &R->lits[i];
      if (t->ci ? ci_contains(s, n, t->s, t->n) : mem_find(s, n, t->s, t->n) != NULL) return 1;
    }
    return 0;
  }
  return 1;
}

static int luhn_ok(const char *s, size_t n) {
  int digits[32], nd = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] >= '0' && s[i] <= '9') {
      if (nd == 32) return 0;
      digits[nd++] = s[i] - '0';
    }
  }
  if (nd < 13 || nd > 19) return 0;
  int sum = 0;
  for (int i = 0; i < nd; i++) {
    int d = digits[nd - 1 - i];
    if (i & 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 == 0;
}

/* After a span s[a..b) failed the Luhn check: the end of the longest
 * shorter span that passes, or a when none does.  A greedy card pattern
 * also takes a short digit group after the number ("<card> 12/27"); a
 * shorter match can only end before a space (the rule's pattern allows no
 * '-', digit or letter after the number), so only those ends are tried. */
static size_t luhn_shorter(const char *s, size_t a, size_t b) {
  for (size_t e = b - 1; e > a + 1; e--)
    if (s[e] == ' ' && s[e - 1] >= '0' && s[e - 1] <= '9' && luhn_ok(s + a, e - a)) return e;
  return a;
}

static int add_span(Run *run, size_t a, size_t b, int rule) {
  TelemRedactor *r = run->r;
  if (r->nspans == r->cspans) {
    size_t nc = r->cspans ? r->cspans * 2 : 16;
    Span *v = sqlite3_realloc64(r->spans, sizeof(Span) * nc);
    if (!v) return run_oom(run);
    r->spans = v;
    r->cspans = nc;
  }
  r->spans[r->nspans].a = a;
  r->spans[r->nspans].b = b;
  r->spans[r->nspans].rule = rule;
  r->nspans++;
  return W_OK;
}

/* Finds the spans of s[0..n) matched by the value rules not in `skip`,
 * into r->spans (cleared first).  When classifying, rules that cannot raise
 * the class are skipped.  Returns W_OK or W_ERR. */
static int find_spans(Run *run, const char *s, size_t n, uint64_t skip) {
  TelemRedactor *r = run->r;
  r->nspans = 0;
  if (n < r->minlen) return W_OK;
  Sig g;
  sig_compute(r, (const unsigned char *)s, n, &g);
  const char *subj = NULL;
  /* Candidates: rules without literals, and those whose literals' byte
   * pairs occur; minus the rules the member key skips and, when
   * classifying, the rules that cannot raise the class. */
  uint64_t cand = ((r->value_mask & ~r->lit_mask) | (g.lits & r->lit_mask)) & ~skip;
  if (!run->act) cand &= r->above[run->cls];
  while (cand) {
    int i = __builtin_ctzll(cand);
    cand &= cand - 1;
    const Rule *R = &r->rules[i];
    if (run->act ? run->act[i] == TELEM_RACT_KEEP : R->cls <= run->cls) continue;
    if (!rule_gate(R, &g, s, n)) continue;
    if (!subj) {
      /* PCRE2's JIT scans with wide loads that may read a little past the
       * subject's end (harmless, within the page) -- into uninitialised
       * heap slack, which valgrind reports.  Matching a copy followed by
       * zeroed padding keeps `make check` clean at the cost of one copy
       * of the strings that reach a pattern. */
      if (n + SUBJ_PAD > r->subj_cap) {
        char *p = sqlite3_realloc64(r->subj, n + SUBJ_PAD);
        if (!p) return run_oom(run);
        r->subj = p;
        r->subj_cap = n + SUBJ_PAD;
      }
      memcpy(r->subj, s, n);
      memset(r->subj + n, 0, SUBJ_PAD);
      subj = r->subj;
    }
    PCRE2_SIZE start = 0;
    while (start <= n) {
      int rc = R->jit ? pcre2_jit_match(R->code, (PCRE2_SPTR)subj, n, start, 0, r->md, r->mctx)
                      : pcre2_match(R->code, (PCRE2_SPTR)subj, n, start, 0, r->md, r->mctx);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(rc, msg, sizeof(msg));
        return run_err(run, "rule \"%s\": %s", R->id, (char *)msg);
      }
      /* 0: a match whose groups did not all fit the match data; the
       * first MAX_GROUP + 1 pairs (every group a rule may name) are set. */
      if (rc == 0) rc = MAX_GROUP + 1;
      PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
      PCRE2_SIZE m0 = ov[0], m1 = ov[1];
      PCRE2_SIZE next = m1 > m0 ? m1 : m0 + 1;
      if ((uint32_t)rc > R->group && ov[2 * R->group] != PCRE2_UNSET) {
        size_t a = ov[2 * R->group], b = ov[2 * R->group + 1];
        if (b > a && R->check == CHECK_LUHN && !luhn_ok(s + a, b - a)) {
          /* Try the shorter spans at this start, then the next start (a
           * digit group taken in front, "42 <card>", fails the same way). */
          b = luhn_shorter(s, a, b);
          next = b > a ? b : m0 + 1;
        }
        if (b > a) {
          /* Whole UTF-8 sequences only. */
          while (a > 0 && ((unsigned char)s[a] & 0xC0) == 0x80) a--;
          while (b < n && ((unsigned char)s[b] & 0xC0) == 0x80) b++;
          if (add_span(run, a, b, i)) return W_ERR;
          if (!run->act) { /* classifying: one match is enough */
            if (R->cls > run->cls) run->cls = R->cls;
            break;
          }
        }
      }
      start = next;
    }
  }
  return W_OK;
}

static int span_cmp(const void *x, const void *y) {
  const Span *a = x, *b = y;
  if (a->a != b->a) return a->a < b->a ? -1 : 1;
  return a->rule - b->rule;
}

/* Appends the replacement of s[a..b) under rule `rule` with action act. */
static int put_replacement(Run *run, TelemBuf *o, int rule, int act, const char *s, size_t n) {
  const Rule *R = &run->r->rules[rule];
  if (act == TELEM_RACT_HASH) {
    TelemBuf *t = &run->r->tmp;
    t->len = 0;
    telem_buf_json_string(t, s, n);
    if (t->oom) return run_oom(run);
    telem_buf_printf(o, "xxh3:%016llx", (unsigned long long)XXH3_64bits(t->p, t->len));
  } else {
    out_append(o, R->repl, R->repl_len);
  }
  return W_OK;
}

/* Appends s[0..n) (a string value, key or number text) with the spans in
 * r->spans applied: as a JSON string literal when json, else raw.  `raw`
 * (when not NULL) is what to copy verbatim if nothing is replaced.
 * Records one action per merged span. */
static int emit_scrubbed(Run *run, const char *s, size_t n, int json, const char *raw,
                         size_t raw_n) {
  TelemRedactor *r = run->r;
  TelemBuf *o = run->out;
  if (!run->act) return W_OK; /* classifying: find_spans did the work */
  /* Drop spans whose action is keep; sort the rest. */
  size_t k = 0;
  for (size_t i = 0; i < r->nspans; i++)
    if (run->act[r->spans[i].rule] != TELEM_RACT_KEEP) r->spans[k++] = r->spans[i];
  r->nspans = k;
  if (k == 0) {
    if (!o) return W_OK;
    if (raw) out_append(o, raw, raw_n);
    else if (json) telem_buf_json_string(o, s, n);
    else out_append(o, s, n);
    return W_OK;
  }
  if (k > 1) qsort(r->spans, k, sizeof(Span), span_cmp);
  /* Build the scrubbed text in `piece` when json (it is escaped as a
   * whole), else straight into the output; nothing when there is no output
   * (telem_redactions). */
  TelemBuf piece;
  telem_buf_init(&piece);
  TelemBuf *dst = o ? (json ? &piece : o) : NULL;
  size_t pos = 0;
  int rc = W_OK;
  for (size_t i = 0; i < k;) {
    size_t a = r->spans[i].a, b = r->spans[i].b;
    int rule = r->spans[i].rule;
    size_t j = i + 1;
    while (j < k && r->spans[j].a < b) {
      if (r->spans[j].b > b) b = r->spans[j].b;
      j++;
    }
    if (a < pos) a = pos;
    int act = run->act[rule];
    if ((rc = record(run, rule, act))) goto done;
    if (dst) {
      out_append(dst, s + pos, a - pos);
      if ((rc = put_replacement(run, dst, rule, act, s + a, b - a))) goto done;
    }
    pos = b;
    i = j;
  }
  if (dst) {
    out_append(dst, s + pos, n - pos);
    if (json) telem_buf_json_string(o, piece.p ? piece.p : "", piece.len);
    if (piece.oom || o->oom) rc = run_oom(run);
  }
done:
  telem_buf_free(&piece);
  return rc;
}

/* What a member key means: the key rule it triggers and the value rules
 * that skip its values. */
typedef struct KeyInfo {
  int rule;       /* key rule index or -1 */
  uint64_t skip;  /* value rules not applied below this key */
} KeyInfo;

static int key_info(Run *run, const char *key, size_t klen, KeyInfo *ki) {
  TelemRedactor *r = run->r;
  KeyCacheEnt *e = NULL;
  uint64_t h = 0;
  if (klen <= KC_KEYMAX) {
    h = XXH3_64bits(key, klen);
    e = &r->kcache[h & (KC_SIZE - 1)];
    if (e->valid && e->h == h && e->len == klen && memcmp(e->key, key, klen) == 0) {
      ki->rule = e->rule;
      ki->skip = e->skip;
      return W_OK;
    }
  }
  char stackbuf[NORM_STACK];
  char *norm = stackbuf;
  if (klen > NORM_STACK && !(norm = sqlite3_malloc64(klen))) return run_oom(run);
  size_t nn = key_normalize(key, klen, norm);
  ki->rule = -1;
  ki->skip = 0;
  for (int i = r->nvalue; i < r->nrules && ki->rule < 0; i++) {
    const Rule *R = &r->rules[i];
    if (keypats_match(R->keys, R->nkeys, norm, nn) &&
        !keypats_match(R->except, R->nexcept, norm, nn))
      ki->rule = i;
  }
  for (int i = 0; i < r->nvalue; i++) {
    const Rule *R = &r->rules[i];
    if (R->nxkeys && keypats_match(R->xkeys, R->nxkeys, norm, nn)) ki->skip |= 1ull << i;
  }
  if (norm != stackbuf) sqlite3_free(norm);
  if (e) {
    e->h = h;
    e->len = (uint8_t)klen;
    e->rule = (int16_t)ki->rule;
    e->skip = ki->skip;
    memcpy(e->key, key, klen);
    e->valid = 1;
  }
  return W_OK;
}

static int value_nonempty(const TelemJson *v) {
  switch (v->type) {
    case TJ_NULL:
    case TJ_FALSE:
    case TJ_TRUE: return 0;
    default: return v->n > 0;
  }
}

static void path_push_key(Run *run, const char *k, size_t n) {
  telem_buf_pointer_token(&run->path, k, n);
}

static int walk(Run *run, const TelemJson *v, uint64_t skip);

static int walk_object(Run *run, const TelemJson *v) {
  TelemRedactor *r = run->r;
  TelemBuf *o = run->out;
  int first = 1, rc;
  if (o) out_putc(o, '{');
  for (const TelemJson *m = v->child; m; m = m->next) {
    KeyInfo ki;
    if ((rc = key_info(run, m->key, m->key_len, &ki))) return rc;
    size_t mark = run->path.len;
    if (run->log) path_push_key(run, m->key, m->key_len);
    int act = TELEM_RACT_KEEP;
    if (ki.rule >= 0 && value_nonempty(m)) {
      const Rule *R = &r->rules[ki.rule];
      if (!run->act) {
        if (R->cls > run->cls) run->cls = R->cls;
        if (run->cls >= 3) return W_STOP;
      } else {
        act = run->act[ki.rule];
      }
    }
    if (act == TELEM_RACT_OMIT) {
      if ((rc = record(run, ki.rule, act))) return rc;
      run->path.len = mark;
      continue;
    }
    if (o && !first) out_putc(o, ',');
    first = 0;
    /* The key itself may hold personal data ({"alice@example.com": 3}). */
    /* A key without escapes points into the input just after its quote,
     * so the raw "key" can be copied as written. */
    const char *raw_key = (m->flags & TJ_F_KEY_DECODED) ? NULL : m->key - 1;
    if (m->key_len >= r->minlen) {
      if ((rc = find_spans(run, m->key, m->key_len, 0))) return rc;
      if ((rc = emit_scrubbed(run, m->key, m->key_len, 1, raw_key, m->key_len + 2))) return rc;
      if (!run->act && run->cls >= 3) return W_STOP;
    } else if (o) {
      if (raw_key) out_append(o, raw_key, m->key_len + 2);
      else telem_buf_json_string(o, m->key, m->key_len);
    }
    if (o) out_putc(o, ':');
    if (act == TELEM_RACT_REPLACE) {
      if ((rc = record(run, ki.rule, act))) return rc;
      if (o) {
        out_putc(o, '"');
        out_append(o, r->rules[ki.rule].repl, r->rules[ki.rule].repl_len);
        out_putc(o, '"');
      }
    } else if (act == TELEM_RACT_HASH) {
      if ((rc = record(run, ki.rule, act))) return rc;
      if (o) {
        TelemBuf *t = &r->tmp;
        t->len = 0;
        telem_json_write(t, m);
        if (t->oom) return run_oom(run);
        telem_buf_printf(o, "\"xxh3:%016llx\"", (unsigned long long)XXH3_64bits(t->p, t->len));
      }
    } else if ((rc = walk(run, m, ki.skip))) {
      return rc;
    }
    run->path.len = mark;
  }
  if (o) out_putc(o, '}');
  return W_OK;
}

static int looks_like_json(const char *s, size_t n);

/* 1 when the parser gave up on a size limit (the text may well be JSON):
 * scrubbing it as text could not apply the key rules and could break the
 * JSON escapes, so callers fail closed instead. */
static int json_limit_hit(const TelemJsonError *je) {
  return je->what && (strcmp(je->what, "too many values") == 0 ||
                      strcmp(je->what, "string too long") == 0 ||
                      strcmp(je->what, "input too large") == 0);
}

/* A string value that holds a JSON object or array ("arguments_json":
 * "{\"api_key\":...}") is parsed and walked like the document, so key rules
 * apply inside it; paths continue into it (/request/api_key).  When anything
 * inside was acted on, the string becomes the compact redacted document,
 * else it is copied as written.  Returns W_NOTJSON when v does not parse,
 * and the caller scrubs it as a string. */
static int walk_embedded(Run *run, const TelemJson *v, uint64_t skip) {
  TelemJsonError je = {0};
  const TelemJson *inner = telem_json_parse(run->arena, v->s, v->n, &je);
  if (!inner) {
    if (je.what && strcmp(je.what, "out of memory") == 0) return run_oom(run);
    if (je.what && strcmp(je.what, "nesting too deep") == 0)
      return run_err(run, "JSON nested deeper than %d levels", TELEM_JSON_MAX_DEPTH);
    if (json_limit_hit(&je)) return run_err(run, "embedded JSON too large: %s", je.what);
    return W_NOTJSON;
  }
  TelemBuf *outer = run->out;
  const char *outer_in = run->in;
  long before = run->changes;
  TelemBuf inner_out;
  telem_buf_init(&inner_out);
  run->out = outer ? &inner_out : NULL;
  run->in = v->s;
  run->embed++;
  int rc = walk(run, inner, skip);
  run->embed--;
  run->out = outer;
  run->in = outer_in;
  if (!rc && outer) {
    if (inner_out.oom) rc = run_oom(run);
    else if (run->changes != before) telem_buf_json_string(outer, inner_out.p, inner_out.len);
    else out_append(outer, outer_in + v->src_off, v->src_len);
  }
  telem_buf_free(&inner_out);
  return rc;
}

static int walk(Run *run, const TelemJson *v, uint64_t skip) {
  TelemRedactor *r = run->r;
  TelemBuf *o = run->out;
  int rc;
  switch (v->type) {
    case TJ_NULL:
      if (o) out_append(o, "null", 4);
      return W_OK;
    case TJ_FALSE:
      if (o) out_append(o, "false", 5);
      return W_OK;
    case TJ_TRUE:
      if (o) out_append(o, "true", 4);
      return W_OK;
    case TJ_NUMBER:
      /* Integer literals can be card numbers. */
      if ((v->flags & TJ_F_INTEGRAL) && v->n >= r->minlen) {
        if ((rc = find_spans(run, v->s, v->n, skip))) return rc;
        if (r->nspans) {
          if (!run->act) return run->cls >= 3 ? W_STOP : W_OK;
          return emit_scrubbed(run, v->s, v->n, 1, NULL, 0);
        }
      }
      if (o) out_append(o, v->s, v->n);
      return W_OK;
    case TJ_STRING:
      if (run->embed < MAX_EMBED && v->n >= 2 && run->arena && looks_like_json(v->s, v->n)) {
        rc = walk_embedded(run, v, skip);
        if (rc != W_NOTJSON) return rc;
      }
      if (v->n >= r->minlen) {
        if ((rc = find_spans(run, v->s, v->n, skip))) return rc;
        if (!run->act) return run->cls >= 3 ? W_STOP : W_OK;
        return emit_scrubbed(run, v->s, v->n, 1, run->in + v->src_off, v->src_len);
      }
      if (o) out_append(o, run->in + v->src_off, v->src_len);
      return W_OK;
    case TJ_ARRAY: {
      if (o) out_putc(o, '[');
      uint32_t i = 0;
      for (const TelemJson *e = v->child; e; e = e->next, i++) {
        if (o && i) out_putc(o, ',');
        size_t mark = run->path.len;
        if (run->log) telem_buf_printf(&run->path, "/%u", i);
        if ((rc = walk(run, e, skip))) return rc;
        run->path.len = mark;
      }
      if (o) out_putc(o, ']');
      return W_OK;
    }
    case TJ_OBJECT: return walk_object(run, v);
    default: return run_err(run, "unexpected JSON node");
  }
}

/* Copies s[0..n) to d (room for 3n bytes) with every ill-formed UTF-8
 * sequence (bad lead or continuation byte, overlong, surrogate, > U+10FFFF,
 * truncated) replaced by U+FFFD, one per offending byte.  Returns the
 * length written. */
static size_t utf8_repair(const unsigned char *s, size_t n, unsigned char *d) {
  size_t i = 0, j = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c < 0x80) {
      d[j++] = (unsigned char)c;
      i++;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0, min = 0;
    if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07, min = 0x10000;
    int ok = len && i + len <= n;
    for (size_t k = 1; ok && k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80) ok = 0;
      else cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (ok && (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = 0;
    if (ok) {
      memcpy(d + j, s + i, len);
      j += len;
      i += len;
    } else {
      d[j++] = 0xEF, d[j++] = 0xBF, d[j++] = 0xBD;
      i++;
    }
  }
  return j;
}

static int hex4_value(const char *z, uint32_t *out) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned c = (unsigned char)z[i];
    if (c >= '0' && c <= '9') c -= '0';
    else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') c = (c | 0x20) - 'a' + 10;
    else return 0;
    v = v << 4 | c;
  }
  *out = v;
  return 1;
}

/* Rewrites, in place, every \u escape of a lone surrogate inside a JSON
 * string of d[0..n) as \ufffd (same length): JSON producers that cut a
 * string inside a surrogate pair write them, and the parser rejects them. */
static void surrogate_repair(char *d, size_t n) {
  int in_str = 0;
  size_t i = 0;
  while (i < n) {
    char c = d[i];
    if (!in_str || c != '\\') {
      if (c == '"') in_str = !in_str;
      i++;
      continue;
    }
    uint32_t cp, lo;
    if (i + 6 > n || d[i + 1] != 'u' || !hex4_value(d + i + 2, &cp)) {
      i += 2; /* another escape (or a malformed one: the parser reports it) */
      continue;
    }
    if (cp >= 0xD800 && cp <= 0xDBFF && i + 12 <= n && d[i + 6] == '\\' && d[i + 7] == 'u' &&
        hex4_value(d + i + 8, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
      i += 12; /* a pair */
      continue;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) memcpy(d + i + 2, "fffd", 4);
    i += 6;
  }
}

/* How parse_json ended. */
enum { PJ_JSON, PJ_TEXT, PJ_OOM, PJ_DEEP, PJ_BIG };

/* Parses text[0..n) as JSON into arena a.  JSON whose fault is invalid
 * UTF-8 or a lone surrogate escape is repaired (utf8_repair,
 * surrogate_repair) and parsed again, so its key rules still apply; *fixed then owns the repaired copy (sqlite3 memory; the tree points
 * into it) and *ptext / *pn point at it.  Returns PJ_JSON with *root,
 * PJ_TEXT (not JSON: *je says why), PJ_OOM, PJ_DEEP (nesting deeper
 * than TELEM_JSON_MAX_DEPTH: deliberately not scrubbed as text, because
 * text patterns cannot apply the key rules and such a document is hostile,
 * not a log line), or PJ_BIG (text that opens like JSON and hit a parser
 * size limit: not scrubbed as text for the same reason, *je says which). */
static int parse_json(TelemArena *a, const char **ptext, size_t *pn, const TelemJson **root,
                      char **fixed, TelemJsonError *je) {
  *fixed = NULL;
  memset(je, 0, sizeof(*je));
  *root = NULL;
  if ((*root = telem_json_parse(a, *ptext, *pn, je))) return PJ_JSON;
  if (je->what && strcmp(je->what, "out of memory") == 0) return PJ_OOM;
  if (je->what && strcmp(je->what, "nesting too deep") == 0) return PJ_DEEP;
  if (json_limit_hit(je) && looks_like_json(*ptext, *pn)) return PJ_BIG;
  if (!je->what || (strcmp(je->what, "invalid UTF-8") != 0 &&
                    strcmp(je->what, "lone surrogate in \\u escape") != 0))
    return PJ_TEXT;
  if (*pn > UINT32_MAX / 3) return PJ_TEXT;
  unsigned char *d = sqlite3_malloc64(*pn * 3 + 1);
  if (!d) return PJ_OOM;
  size_t dn = utf8_repair((const unsigned char *)*ptext, *pn, d);
  surrogate_repair((char *)d, dn);
  TelemJsonError e2 = {0};
  telem_arena_reset(a);
  if ((*root = telem_json_parse(a, (const char *)d, dn, &e2))) {
    *fixed = (char *)d;
    *ptext = *fixed;
    *pn = dn;
    return PJ_JSON;
  }
  sqlite3_free(d); /* repaired and still not JSON: scrub the original as text */
  if (e2.what && strcmp(e2.what, "out of memory") == 0) return PJ_OOM;
  if (e2.what && strcmp(e2.what, "nesting too deep") == 0) return PJ_DEEP;
  if (json_limit_hit(&e2) && looks_like_json(*ptext, *pn)) {
    *je = e2;
    return PJ_BIG;
  }
  return PJ_TEXT;
}

static int parse_fail_msg(int pj, const TelemJsonError *je, char **pzErr) {
  if (pj == PJ_DEEP) telem_set_err(pzErr, "JSON nested deeper than %d levels", TELEM_JSON_MAX_DEPTH);
  else if (pj == PJ_BIG) telem_set_err(pzErr, "JSON too large: %s", je->what);
  else telem_set_err(pzErr, "out of memory");
  return -1;
}

/* 1 when the first non-blank byte of text opens a JSON object or array. */
static int looks_like_json(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') continue;
    return s[i] == '{' || s[i] == '[';
  }
  return 0;
}

int telem_redactor_run(TelemRedactor *r, int profile, TelemArena *a, const char *text, size_t n,
                       TelemBuf *out, TelemRedactLog *log, char **pzErr) {
  if (profile < 0 || profile >= r->nprofiles) {
    telem_set_err(pzErr, "unknown profile");
    return -1;
  }
  const Profile *P = &r->profiles[profile];
  const TelemJson *root;
  char *fixed;
  TelemJsonError je;
  int pj = parse_json(a, &text, &n, &root, &fixed, &je);
  if (pj == PJ_OOM || pj == PJ_DEEP || pj == PJ_BIG) return parse_fail_msg(pj, &je, pzErr);
  if (pj == PJ_TEXT && P->needs_json && looks_like_json(text, n)) {
    /* Fail closed: this profile hashes or drops members by key, which text
     * patterns cannot do; scrubbing malformed JSON as text would keep the
     * content the caller asked to remove. */
    telem_set_err(pzErr, "profile \"%s\" needs well-formed JSON: %s at byte %llu", P->name,
                  je.what ? je.what : "invalid JSON", (unsigned long long)je.offset);
    return -1;
  }
  Run run = {0};
  run.r = r;
  run.act = P->action;
  run.out = out;
  run.log = log;
  run.in = text;
  run.arena = a;
  telem_buf_init(&run.path);
  int rc;
  if (out) telem_buf_reserve(out, n + 64);
  if (root) {
    rc = walk(&run, root, 0);
  } else {
    rc = find_spans(&run, text, n, 0);
    if (!rc) rc = emit_scrubbed(&run, text, n, 0, NULL, 0);
  }
  if (!rc && (run.path.oom || (out && out->oom))) rc = run_oom(&run);
  telem_buf_free(&run.path);
  sqlite3_free(fixed);
  if (rc) {
    telem_set_err(pzErr, "%s", run.err ? run.err : "out of memory");
    sqlite3_free(run.err);
    return -1;
  }
  return 0;
}

int telem_redactor_classify(TelemRedactor *r, TelemArena *a, const char *text, size_t n, int *cls,
                            char **pzErr) {
  if (*cls >= 3) return 0;
  const TelemJson *root;
  char *fixed;
  TelemJsonError je;
  int pj = parse_json(a, &text, &n, &root, &fixed, &je);
  if (pj == PJ_OOM) return parse_fail_msg(pj, &je, pzErr);
  if (pj != PJ_JSON) {
    /* Free text, or hostile JSON, in a payload: we cannot tell what it
     * holds, so it is content (fail closed). */
    *cls = 3;
    return 0;
  }
  Run run = {0};
  run.r = r;
  run.cls = *cls;
  run.in = text;
  run.arena = a;
  telem_buf_init(&run.path);
  int rc = walk(&run, root, 0);
  telem_buf_free(&run.path);
  sqlite3_free(fixed);
  if (rc == W_ERR) {
    if (!run.err || strcmp(run.err, "out of memory") == 0) {
      telem_set_err(pzErr, "out of memory");
      sqlite3_free(run.err);
      return -1;
    }
    /* Part of the payload could not be read (embedded JSON too deep or too
     * large, a pattern at its match limit): like free text, it may hold
     * anything, so it is content -- and one such row does not abort a
     * governance query. */
    sqlite3_free(run.err);
    *cls = 3;
    return 0;
  }
  *cls = run.cls;
  return 0;
}

/* ---- public API ---------------------------------------------------------- */

int telem_redactor_redact(TelemRedactor *r, const char *profile, const char *in, size_t n,
                          char **pout, size_t *pn, char **pzErr) {
  *pout = NULL;
  if (pn) *pn = 0;
  int p = telem_redactor_profile_index(r, profile ? profile : "default");
  if (p < 0) {
    telem_set_err(pzErr, "unknown profile \"%s\"", profile);
    return -1;
  }
  TelemArena a;
  TelemBuf out;
  telem_arena_init(&a);
  telem_buf_init(&out);
  int rc = telem_redactor_run(r, p, &a, in, n, &out, NULL, pzErr);
  telem_arena_free(&a);
  if (rc) {
    telem_buf_free(&out);
    return -1;
  }
  size_t len = out.len;
  char *z = telem_buf_take(&out);
  if (!z) {
    telem_buf_free(&out);
    telem_set_err(pzErr, "out of memory");
    return -1;
  }
  *pout = z;
  if (pn) *pn = len;
  return 0;
}
