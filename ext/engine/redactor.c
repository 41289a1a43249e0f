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
 * string gets one pass that counts digits and a few tracked bytes ('@',
 * ':', ...) and finds the keywords of all rules at once: keywords are filed
 * by a hash of their first three bytes, one table test per position says
 * whether one may start there, and the rare hit is verified in place.  The
 * gates (length, digits, byte counts) are kept as rule sets per
 * threshold, so most rules drop out with a few mask operations; a rule runs
 * its pattern only when every gate passes.  Key rules are decided once per
 * distinct key through a growing key cache and applied during the JSON
 * walk, so they never cost a regex; keys and short values that no pattern
 * matched are remembered (they repeat from row to row).  A compact row is
 * not written until its first change (most rows have none: they are copied
 * whole); otherwise output is written straight into a TelemBuf, strings
 * without matches copied from the input as they were written.
 *
 * Secrets.  A match becomes a span only after its rule's checks (Luhn,
 * IBAN), entropy gate and allowlists; every redacted span is remembered,
 * and when one may occur again in the payload a second pass redacts every
 * other occurrence.  `hash` digests canonical JSON (sorted keys, as Vox's
 * serde_json), unkeyed XXH3 or, with the operator's key, HMAC-SHA256.
 *
 * UTF-8.  Patterns are compiled in byte mode (no PCRE2_UTF): the rules are
 * ASCII, so matching never depends on UTF-8 validity and invalid input can
 * never reach a UTF-mode matcher.  A matched span is widened to whole UTF-8
 * sequences; in text, every ill-formed byte outside the spans becomes
 * U+FFFD, so the output is always valid UTF-8.
 *
 * Fail closed.  Any engine error (match limit, JIT stack limit, the work
 * budget, an interrupt, out of memory, JSON below the embedding limit or
 * embedded JSON that cannot be read under a profile that hashes or drops
 * by key) makes the whole call fail; no partial or unredacted output is
 * ever returned.  Long calls poll a budget and the caller's interrupt
 * callback (telem_redactor_set_stop): the engine knows nothing of SQL.
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
#define XXH_INLINE_ALL /* short keys and values: hashing inline, no call */
#include <xxhash.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ---- tables and types ---------------------------------------------------- */

enum { RULE_VALUE, RULE_KEY };
enum { KP_EXACT, KP_PREFIX, KP_SUFFIX, KP_CONTAINS };
enum { CHECK_NONE, CHECK_LUHN, CHECK_IBAN };

#define N_SLOTS 16          /* tracked-byte counters: 0 = untracked, 1 = digits */
#define MAX_VALUE_RULES 128 /* an RMask (two words) says which rules a key skips */
#define MAX_GROUP 9         /* capture groups a rule may name */
#define VC_SIZE 4096        /* clean-string cache entries (two-way sets) */
#define VC_MAX 40           /* longer strings are not cached */
#define CC_SETS 1024        /* classify's clean-value cache: sets of two entries */
#define KC_MIN 1024         /* key cache entries at first (open addressing) */
#define KC_MAX 65536        /* ... doubled up to this many, then cleared when full */
#define KC_KEYMAX 40        /* longer keys are not cached */
#define NORM_STACK 256      /* keys normalised on the stack up to this size */
#define SUBJ_PAD 64         /* zero bytes after a subject given to PCRE2 */
#define TRI_SIZE 4096       /* trigram hash buckets of the keyword prefilter */
#define TRI_HITS 16384      /* ... and the finer hashes that say a bucket is worth a look */

static const char *const action_names[] = {"keep", "replace", "hash", "omit"};

/* A set of value rules, one bit each (MAX_VALUE_RULES bits). */
typedef struct RMask {
  uint64_t w[2];
} RMask;

static inline RMask rm_or(RMask a, RMask b) { return (RMask){{a.w[0] | b.w[0], a.w[1] | b.w[1]}}; }
static inline RMask rm_and(RMask a, RMask b) { return (RMask){{a.w[0] & b.w[0], a.w[1] & b.w[1]}}; }
static inline RMask rm_andnot(RMask a, RMask b) {
  return (RMask){{a.w[0] & ~b.w[0], a.w[1] & ~b.w[1]}};
}
static const RMask rm_none = {{0, 0}};
static inline void rm_set(RMask *m, int i) { m->w[i >> 6] |= 1ull << (i & 63); }
static inline int rm_empty(RMask m) { return !(m.w[0] | m.w[1]); }
static inline int rm_has(RMask m, int i) { return (int)((m.w[i >> 6] >> (i & 63)) & 1u); }
/* Removes and returns the lowest rule of *m, -1 when empty. */
static inline int rm_pop(RMask *m) {
  for (int k = 0; k < 2; k++)
    if (m->w[k]) {
      int i = __builtin_ctzll(m->w[k]);
      m->w[k] &= m->w[k] - 1;
      return k * 64 + i;
    }
  return -1;
}

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

/* An allowlist: a span that contains one of the stopwords (ASCII case
 * folded) or matches one of the regexes is not a secret.  Named lists live
 * at the top of the rules file (`allowlists:`); a rule's own stopwords and
 * allow_regex form an unnamed one. */
typedef struct Allow {
  char *name;         /* owned; NULL for a rule's own list */
  pcre2_code **rx;    /* owned (pcre2_code_free each) */
  int nrx;
  char **words;       /* lower-cased; owned */
  size_t *wlen;       /* owned */
  int nwords;
} Allow;

/* A keyword of 3 or more bytes, in its trigram bucket. */
typedef struct TriLit {
  const struct Lit *lit; /* borrowed from its rule */
  int rule;
} TriLit;

typedef struct Rule {
  /* The gate (rule_gate) first: it is read for every candidate string, so
   * it should sit in one cache line. */
  uint32_t minlen;     /* PCRE2_INFO_MINLENGTH */
  int n_need;
  uint8_t need_slot[N_SLOTS]; /* the slots with a need, for the gate */
  uint32_t any_mask;   /* slots of which at least one must occur */
  uint32_t min_digit_run; /* digits in one run ([0-9] with single ' '/'-' between) */
  int nlits;
  Lit *lits;           /* any-of literal prefilter; owned */
  uint32_t short_slots; /* keywords of 1-2 bytes: one occurs only if a byte of these slots
                         * does (0: no such gate) */
  uint32_t need[N_SLOTS]; /* min count per tracked slot (min_chars, min_digits) */
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
  pcre2_code *code_w;  /* the same with PCRE2_USE_OFFSET_LIMIT (windowed scans); owned */
  int jit_w;
  uint32_t group;      /* capture group that is the span */
  int check;           /* CHECK_* */
  double min_entropy;  /* Shannon bits per byte the span needs (0: no gate) */
  Allow own;           /* the rule's own stopwords / allow_regex */
  Allow **allow;       /* named allowlists it uses (borrowed from the redactor); owned array */
  int nallow;
  int has_need;
  KeyPat *xkeys;       /* except_keys; owned */
  int nxkeys;
  /* key rules */
  KeyPat *keys;        /* owned */
  int nkeys;
  KeyPat *except;      /* owned */
  int nexcept;
  int substring;       /* key patterns match anywhere, not whole segments (match: substring) */
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

/* A short string no value pattern matched, under profile actions `act`
 * (NULL: classifying from S0) and the rules its key skips: values repeat
 * from row to row (tool names, models, tags, paths), so they are scanned
 * once. */
typedef struct CleanEnt {
  uint64_t h;         /* XXH3 of the bytes; 0 = empty */
  const uint8_t *act; /* profile actions it was clean under */
  RMask skip;         /* ... with these rules skipped (the member key's except_keys) */
  uint8_t len;
  uint8_t recent;     /* the way of its set that hit last (two-way sets) */
  char s[VC_MAX];
} CleanEnt;

typedef struct KeyCacheEnt {
  uint64_t h;          /* XXH3 of the raw key */
  RMask skip;          /* value rules whose except_keys match */
  const uint8_t *clean_act; /* profile actions under which no value pattern matches the key */
  int16_t rule;        /* key rule index, -1 none */
  uint8_t len;         /* raw key length */
  uint8_t valid;
  uint8_t clean;       /* clean_act is set (NULL: classifying from S0) */
  char key[KC_KEYMAX]; /* raw key bytes */
  uint32_t next;       /* the entry of the key that came next last time: a hint, checked */
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
  uint32_t num_minlen;  /* shortest integer literal a rule could match (cards) */
  pcre2_match_context *mctx;  /* limits + JIT stack; owned */
  pcre2_jit_stack *jstack;    /* owned */
  pcre2_match_data *md;       /* scratch; owned */
  pcre2_match_data *md2;      /* scratch for allowlist regexes; owned */
  Span *spans;          /* scratch: spans of the current string; owned */
  size_t nspans, cspans;
  TelemBuf tmp;         /* scratch for hashing */
  char *subj;           /* scratch: the subject, padded (see find_spans); owned */
  size_t subj_cap;
  KeyCacheEnt *kcache;  /* kc_cap entries, open addressing; owned */
  uint32_t kc_cap;      /* power of two, KC_MIN..KC_MAX */
  uint32_t kc_count;    /* valid entries */
  uint32_t kc_first[8]; /* the entry of the first key of the last object at depth 0..7: a hint */
  CleanEnt *vcache;     /* VC_SIZE entries; owned */
  uint32_t *vdoor;      /* VC_SIZE hashes of strings seen once, not yet cached; owned */
  uint8_t tri_hit[TRI_HITS]; /* 1: some keyword starts with a trigram of this hash (hash h
                              * is in bucket h / 4: a bucket is split in four) */
  CleanEnt *ccache;     /* classify's: CC_SETS x 2 ways, made on first use; owned */
  RMask *tri_rules;     /* TRI_SIZE: bucket -> rules with a keyword starting so; owned */
  uint32_t *tri_start;  /* TRI_SIZE + 1: bucket -> its keywords in tri_lits; owned */
  struct TriLit *tri_lits; /* keywords of 3+ bytes, by bucket; owned */
  RMask lit_always;     /* rules with a keyword shorter than 3 bytes (always candidates) */
  RMask value_mask;     /* all value rules */
  RMask lit_mask;       /* value rules with a literal prefilter */
  RMask above[4];       /* value rules whose class is above 0..3 (classify) */
  /* The gates as sets of rules, so that one string drops most rules with
   * a few table lookups: ok_len[x] / ok_digits[x] are the rules whose
   * minimum is at most x (index 63: at most 63, or larger -- rule_gate
   * decides those), ok_cnt[slot][x] those that need at most x of the
   * slot's byte (index 7: 7 or more).  rule_gate checks the rest, the
   * digit run last: it costs a pass. */
  RMask ok_len[64], ok_digits[64];
  RMask ok_cnt[N_SLOTS][8];
  RMask any_rules;      /* rules with any_chars or a short_slots gate (find_spans) */
  Allow *allows;        /* named allowlists; owned */
  int nallows;
  unsigned char *hmac_key; /* operator key for `hash` (HMAC-SHA256); owned, wiped on free */
  size_t hmac_key_len;
  char *hmac_keyid;     /* written beside the digest: hmac:<keyid>:<hex>; owned */
  TelemRedactStop stop; /* interrupt callback (NULL: none) */
  void *stop_arg;
};

static unsigned char lower_tab[256];
static int lower_tab_ready;

static void lower_init(void) {
  if (lower_tab_ready) return;
  for (int i = 0; i < 256; i++) lower_tab[i] = (unsigned char)((i >= 'A' && i <= 'Z') ? i + 32 : i);
  lower_tab_ready = 1;
}

/* Hash of three lower-cased bytes, w = a << 16 | b << 8 | c, into
 * TRI_HITS; its bucket (of TRI_SIZE) is the hash / 4. */
static inline unsigned tri_hash(uint32_t w) {
  return (w * 0x9E3779B1u) >> (32 - 14); /* TRI_HITS = 1 << 14 */
}
#define TRI_W(a, b, c) ((uint32_t)(a) << 16 | (uint32_t)(b) << 8 | (uint32_t)(c))

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
 * Writes at most n bytes to dst and returns the length.  When bnd is not
 * NULL it gets n + 1 flags: bnd[j] is 1 where a segment of the name starts
 * at normalised position j (after a separator, at a lower-to-upper case
 * change: route_profile, routeProfile -> route|profile), and at the end. */
static size_t key_normalize(const char *s, size_t n, char *dst, uint8_t *bnd) {
  size_t j = 0;
  int sep = 1;
  unsigned prev = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '-' || c == '_' || c == '.' || c == ' ') {
      sep = 1;
      prev = c;
      continue;
    }
    if (bnd) bnd[j] = (uint8_t)(sep || (prev >= 'a' && prev <= 'z' && c >= 'A' && c <= 'Z'));
    sep = 0;
    prev = c;
    dst[j++] = (char)lower_tab[c];
  }
  if (bnd) bnd[j] = 1;
  return j;
}

/* Whether key k[0..n) (normalised; bnd its segment starts, NULL to match
 * anywhere) matches p.  With segments, a pattern matches whole segments
 * only: *file matches rel_file and sourceFile but not route_profile. */
static int keypat_match(const KeyPat *p, const char *k, size_t n, const uint8_t *bnd) {
  switch (p->mode) {
    case KP_EXACT: return n == p->n && memcmp(k, p->s, n) == 0;
    case KP_PREFIX: return n >= p->n && memcmp(k, p->s, p->n) == 0 && (!bnd || bnd[p->n]);
    case KP_SUFFIX:
      return n >= p->n && memcmp(k + n - p->n, p->s, p->n) == 0 && (!bnd || bnd[n - p->n]);
    default:
      for (size_t i = 0; i + p->n <= n; i++) {
        const char *q = mem_find(k + i, n - i, p->s, p->n);
        if (!q) return 0;
        i = (size_t)(q - k);
        if (!bnd || (bnd[i] && bnd[i + p->n])) return 1;
      }
      return 0;
  }
}

static int keypats_match(const KeyPat *v, int nv, const char *k, size_t n, const uint8_t *bnd) {
  for (int i = 0; i < nv; i++)
    if (keypat_match(&v[i], k, n, bnd)) return 1;
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

static void allow_clear(Allow *A) {
  sqlite3_free(A->name);
  for (int i = 0; i < A->nrx; i++) pcre2_code_free(A->rx[i]);
  sqlite3_free(A->rx);
  for (int i = 0; i < A->nwords; i++) sqlite3_free(A->words[i]);
  sqlite3_free(A->words);
  sqlite3_free(A->wlen);
  memset(A, 0, sizeof(*A));
}

static void rule_clear(Rule *R) {
  allow_clear(&R->own);
  sqlite3_free(R->allow);
  sqlite3_free(R->id);
  sqlite3_free(R->repl);
  if (R->code) pcre2_code_free(R->code);
  if (R->code_w) pcre2_code_free(R->code_w);
  for (int i = 0; i < R->nlits; i++) {
    sqlite3_free(R->lits[i].s);
  }
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
  if (r->md2) pcre2_match_data_free(r->md2);
  for (int i = 0; i < r->nallows; i++) allow_clear(&r->allows[i]);
  sqlite3_free(r->allows);
  if (r->hmac_key) {
    memset(r->hmac_key, 0, r->hmac_key_len); /* the operator's key: wiped, never kept */
    sqlite3_free(r->hmac_key);
  }
  sqlite3_free(r->hmac_keyid);
  if (r->mctx) pcre2_match_context_free(r->mctx);
  if (r->jstack) pcre2_jit_stack_free(r->jstack);
  sqlite3_free(r->spans);
  sqlite3_free(r->subj);
  telem_buf_free(&r->tmp);
  sqlite3_free(r->kcache);
  sqlite3_free(r->tri_rules);
  sqlite3_free(r->vcache);
  sqlite3_free(r->vdoor);
  sqlite3_free(r->ccache);
  sqlite3_free(r->tri_start);
  sqlite3_free(r->tri_lits);
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
    size_t nn = key_normalize(b, bl, norm, NULL);
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

    /* All keywords of all rules are found in one pass over a string: the
     * rule becomes a candidate when the (lower-cased) first three bytes of
     * one of its keywords occur; the keyword itself is then searched. */
    int bit = (int)(R - L->r->rules);
    if (t->n >= 3) {
      const unsigned char *u = (const unsigned char *)t->s;
      unsigned h = tri_hash(TRI_W(lower_tab[u[0]], lower_tab[u[1]], lower_tab[u[2]]));
      L->r->tri_hit[h] = 1;
      rm_set(&L->r->tri_rules[h >> 2], bit);
    } else {
      rm_set(&L->r->lit_always, bit);
    }
  }
  return 0;
}

/* telem_yaml_parse keeps each mapping's source line in a hidden member
 * whose key starts with \x01 (TELEM_YAML_LINE_KEY): not a field. */
static int hidden_key(const char *k) { return k[0] == '\001'; }

/* Compiles an allowlist regex (byte mode, like the rules). */
static pcre2_code *allow_compile(Loader *L, const char *where, const char *pat) {
  int ecode;
  PCRE2_SIZE eoff;
  size_t plen = strlen(pat);
  if (plen > TELEM_MAX_PATTERN_BYTES) {
    load_err(L, "%s: allow regex longer than %d bytes", where, TELEM_MAX_PATTERN_BYTES);
    return NULL;
  }
  pcre2_code *c = pcre2_compile((PCRE2_SPTR)pat, plen, PCRE2_NEVER_UTF | PCRE2_NEVER_BACKSLASH_C,
                                &ecode, &eoff, NULL);
  if (!c) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(ecode, msg, sizeof(msg));
    load_err(L, "%s: allow regex does not compile at offset %d: %s", where, (int)eoff, (char *)msg);
    return NULL;
  }
  pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
  return c;
}

/* Reads "stopwords" and "allow_regex" (or "regexes" in a named list) of
 * mapping o into A. */
static int load_allow(Loader *L, const char *where, json_t *o, Allow *A) {
  const char *rxf = A->name ? "regexes" : "allow_regex";
  json_t *sw = json_object_get(o, "stopwords"), *rx = json_object_get(o, rxf);
  if (sw) {
    if (!json_is_array(sw)) {
      load_err(L, "%s: \"stopwords\" must be a list of strings", where);
      return -1;
    }
    size_t n = json_array_size(sw);
    if (!(A->words = sqlite3_malloc64(sizeof(char *) * (n + 1))) ||
        !(A->wlen = sqlite3_malloc64(sizeof(size_t) * (n + 1)))) {
      load_err(L, "out of memory");
      return -1;
    }
    for (size_t i = 0; i < n; i++) {
      const char *z = json_string_value(json_array_get(sw, i));
      if (!z || !*z) {
        load_err(L, "%s: stopword %d is not a non-empty string", where, (int)i + 1);
        return -1;
      }
      size_t len = strlen(z);
      char *w = dup_n(z, len);
      if (!w) {
        load_err(L, "out of memory");
        return -1;
      }
      for (size_t j = 0; j < len; j++) w[j] = (char)lower_tab[(unsigned char)w[j]];
      A->words[A->nwords] = w;
      A->wlen[A->nwords++] = len;
    }
  }
  if (rx) {
    if (!json_is_array(rx)) {
      load_err(L, "%s: \"%s\" must be a list of patterns", where, rxf);
      return -1;
    }
    size_t n = json_array_size(rx);
    if (!(A->rx = sqlite3_malloc64(sizeof(pcre2_code *) * (n + 1)))) {
      load_err(L, "out of memory");
      return -1;
    }
    for (size_t i = 0; i < n; i++) {
      const char *z = json_string_value(json_array_get(rx, i));
      if (!z || !*z) {
        load_err(L, "%s: %s entry %d is not a pattern", where, rxf, (int)i + 1);
        return -1;
      }
      if (!(A->rx[A->nrx] = allow_compile(L, where, z))) return -1;
      A->nrx++;
    }
  }
  return 0;
}

/* The top-level `allowlists:` mapping: name -> {stopwords, regexes}. */
static int load_allowlists(Loader *L, json_t *al) {
  TelemRedactor *r = L->r;
  if (!json_is_object(al)) {
    load_err(L, "allowlists: must be a mapping of name to {stopwords, regexes}");
    return -1;
  }
  size_t n = json_object_size(al);
  if (!(r->allows = sqlite3_malloc64(sizeof(Allow) * (n + 1)))) {
    load_err(L, "out of memory");
    return -1;
  }
  memset(r->allows, 0, sizeof(Allow) * (n + 1));
  const char *name;
  json_t *m;
  json_object_foreach(al, name, m) {
    if (hidden_key(name)) continue;
    Allow *A = &r->allows[r->nallows++];
    char *where = sqlite3_mprintf("allowlist \"%s\" (line %d)", name, telem_yaml_line(al));
    if (!where || !(A->name = dup_n(name, strlen(name)))) {
      sqlite3_free(where);
      load_err(L, "out of memory");
      return -1;
    }
    int bad = 0;
    if (!json_is_object(m)) {
      load_err(L, "%s: must be a mapping with stopwords and/or regexes", where);
      bad = 1;
    } else {
      const char *k;
      json_t *v;
      json_object_foreach(m, k, v) {
        if (hidden_key(k)) continue;
        if (strcmp(k, "stopwords") && strcmp(k, "regexes") && strcmp(k, "description")) {
          load_err(L, "%s: unknown field \"%s\"", where, k);
          bad = 1;
          break;
        }
      }
      if (!bad && load_allow(L, where, m, A)) bad = 1;
    }
    sqlite3_free(where);
    if (bad) return -1;
  }
  return 0;
}

/* A rule's `allowlist:` names, resolved against the top-level lists. */
static int rule_allowlists(Loader *L, const char *where, json_t *arr, Rule *R) {
  if (!json_is_array(arr)) {
    load_err(L, "%s: \"allowlist\" must be a name or a list of names", where);
    return -1;
  }
  size_t n = json_array_size(arr);
  if (!(R->allow = sqlite3_malloc64(sizeof(Allow *) * (n + 1)))) {
    load_err(L, "out of memory");
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    const char *z = json_string_value(json_array_get(arr, i));
    Allow *found = NULL;
    for (int k = 0; z && k < L->r->nallows; k++)
      if (strcmp(L->r->allows[k].name, z) == 0) found = &L->r->allows[k];
    if (!found) {
      load_err(L, "%s: unknown allowlist \"%s\"", where, z ? z : "");
      return -1;
    }
    R->allow[R->nallow++] = found;
  }
  return 0;
}

static const char *const value_fields[] = {
    "id", "class", "action", "pattern", "group", "check", "prefilter", "prefilter_ci",
    "min_chars", "any_chars", "min_digits", "min_digit_run", "except_keys", "description",
    "keywords", "min_entropy", "stopwords", "allow_regex", "allowlist", NULL};
static const char *const key_fields[] = {"id", "class", "action", "keys", "except",
                                         "description", "match", NULL};


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
    const char *mt = json_string_value(json_object_get(o, "match"));
    if (json_object_get(o, "match")) {
      if (mt && strcmp(mt, "substring") == 0) R->substring = 1;
      else if (!mt || strcmp(mt, "segments") != 0) {
        load_err(L, "%s: match must be \"segments\" or \"substring\"", where);
        goto done;
      }
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
  /* A second copy with PCRE2_USE_OFFSET_LIMIT scans long strings in
   * windows of start positions, so the work budget is checked between
   * them (the flag slows every match, so short strings use the first). */
  R->code_w = pcre2_compile((PCRE2_SPTR)pat, plen,
                            PCRE2_NEVER_UTF | PCRE2_NEVER_BACKSLASH_C | PCRE2_USE_OFFSET_LIMIT,
                            &ecode, &eoff, NULL);
  if (!R->code_w) {
    load_err(L, "out of memory");
    goto done;
  }
  R->jit_w = pcre2_jit_compile(R->code_w, PCRE2_JIT_COMPLETE) == 0;
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
    if (chk && strcmp(chk, "luhn") == 0) R->check = CHECK_LUHN;
    else if (chk && strcmp(chk, "iban") == 0) R->check = CHECK_IBAN;
    else {
      load_err(L, "%s: unknown check \"%s\" (expected luhn or iban)", where, chk ? chk : "");
      goto done;
    }
  }
  /* keywords: gitleaks' name for a case-insensitive literal prefilter. */
  json_t *kw = json_object_get(o, "keywords");
  if (kw && load_lits(L, where, "keywords", kw, 1, R)) goto done;
  const char *me = json_string_value(json_object_get(o, "min_entropy"));
  if (json_object_get(o, "min_entropy")) {
    char *endp = NULL;
    double d = me ? strtod(me, &endp) : -1;
    if (!me || !*me || *endp || !(d >= 0 && d <= 8)) {
      load_err(L, "%s: min_entropy must be a number from 0 to 8 (bits per byte)", where);
      goto done;
    }
    R->min_entropy = d;
  }
  if (load_allow(L, where, o, &R->own)) goto done;
  json_t *al = json_object_get(o, "allowlist");
  if (al) {
    if (json_is_string(al)) {
      json_t *one = json_array();
      if (!one || json_array_append_new(one, json_incref(al))) {
        json_decref(one);
        load_err(L, "out of memory");
        goto done;
      }
      int e = rule_allowlists(L, where, one, R);
      json_decref(one);
      if (e) goto done;
    } else if (rule_allowlists(L, where, al, R)) {
      goto done;
    }
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

/* Indexes the keywords of 3+ bytes by the trigram bucket of their first
 * three bytes, so that find_spans verifies each where it may start. */
static int tri_build(Loader *L) {
  TelemRedactor *r = L->r;
  size_t total = 0;
  if (!(r->tri_start = sqlite3_malloc64(sizeof(uint32_t) * (TRI_SIZE + 1)))) goto oom;
  memset(r->tri_start, 0, sizeof(uint32_t) * (TRI_SIZE + 1));
  for (int i = 0; i < r->nvalue; i++)
    for (int k = 0; k < r->rules[i].nlits; k++) {
      const Lit *t = &r->rules[i].lits[k];
      if (t->n < 3) continue;
      const unsigned char *u = (const unsigned char *)t->s;
      r->tri_start[(tri_hash(TRI_W(lower_tab[u[0]], lower_tab[u[1]], lower_tab[u[2]])) >> 2) + 1]++;
      total++;
    }
  for (int h = 0; h < TRI_SIZE; h++) r->tri_start[h + 1] += r->tri_start[h];
  if (!(r->tri_lits = sqlite3_malloc64(sizeof(TriLit) * (total + 1)))) goto oom;
  uint32_t fill[TRI_SIZE];
  memcpy(fill, r->tri_start, sizeof(fill));
  for (int i = 0; i < r->nvalue; i++)
    for (int k = 0; k < r->rules[i].nlits; k++) {
      const Lit *t = &r->rules[i].lits[k];
      if (t->n < 3) continue;
      const unsigned char *u = (const unsigned char *)t->s;
      unsigned h = tri_hash(TRI_W(lower_tab[u[0]], lower_tab[u[1]], lower_tab[u[2]])) >> 2;
      r->tri_lits[fill[h]].lit = t;
      r->tri_lits[fill[h]++].rule = i;
    }
  return 0;
oom:
  load_err(L, "out of memory");
  return -1;
}

/* Keywords shorter than 3 bytes ("::", "SK") are not in the trigram
 * index and are searched for in each candidate string (rule_gate).  Each
 * gets a byte whose count sig_compute keeps (a tracked slot: one a rule
 * already tracks, else a free slot for its least common-looking byte), so
 * that a string without any such byte drops the rule with a bit test.
 * Slots are handed out after every rule's min_chars / any_chars, so a
 * rule file never runs out of them for this; a rule whose short keyword
 * gets none (ASCII case folded, digits only, no free slot) keeps only the
 * search. */
static void short_lit_slots(TelemRedactor *r) {
  for (int i = 0; i < r->nvalue; i++) {
    Rule *R = &r->rules[i];
    uint32_t slots = 0;
    int gate = 0;
    for (int k = 0; k < R->nlits; k++) {
      const Lit *t = &R->lits[k];
      if (t->n >= 3) continue;
      gate = 1;
      int sl = 0;
      if (!t->ci) {
        for (size_t j = 0; j < t->n && !sl; j++) sl = r->slot[(unsigned char)t->s[j]];
        if (!sl && r->nslots < N_SLOTS) {
          /* A new slot: not a digit (counted apart), and better punctuation
           * or a capital than a lower-case letter or a space. */
          int best = -1, rank = 0;
          for (size_t j = 0; j < t->n; j++) {
            unsigned char c = (unsigned char)t->s[j];
            int rk = (c >= '0' && c <= '9') ? 0 : (c >= 'a' && c <= 'z') || c == ' ' ? 1 : 2;
            if (rk > rank) rank = rk, best = (int)j;
          }
          if (best >= 0) sl = slot_for(r, (unsigned char)t->s[best]);
        }
      }
      if (sl <= 0) {
        gate = 0;
        break;
      }
      slots |= 1u << sl;
    }
    R->short_slots = gate ? slots : 0;
  }
}

TelemRedactor *telem_redactor_new(const char *text, size_t n, char **pzErr) {
  lower_init();
  Loader L = {0};
  json_t *doc = NULL;
  char *yerr = NULL;
  TelemRedactor *r = sqlite3_malloc64(sizeof(*r));
  if (!r) {
    telem_set_oom(pzErr);
    return NULL;
  }
  memset(r, 0, sizeof(*r));
  L.r = r;
  telem_buf_init(&r->tmp);
  r->nslots = 2; /* slot 1 (digits) is counted without the table */
  if (!(r->tri_rules = sqlite3_malloc64(sizeof(RMask) * TRI_SIZE))) {
    load_err(&L, "out of memory");
    goto fail;
  }
  memset(r->tri_rules, 0, sizeof(RMask) * TRI_SIZE);

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
        strcmp(k, "profiles") && strcmp(k, "description") && strcmp(k, "allowlists")) {
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
  json_t *als = json_object_get(doc, "allowlists");
  if (als && load_allowlists(&L, als)) goto fail;
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
  short_lit_slots(r);
  r->num_minlen = UINT32_MAX;
  for (int i = 0; i < r->nvalue; i++) {
    const Rule *R = &r->rules[i];
    /* A rule that needs a keyword or a byte other than digits never
     * matches an integer literal; the others bound the length worth
     * scanning (payment-card: 13 digits). */
    int digits_only = !R->nlits && !R->any_mask;
    for (int sl = 2; sl < N_SLOTS; sl++)
      if (R->need[sl]) digits_only = 0;
    if (digits_only) {
      uint32_t m = R->minlen > R->need[1] ? R->minlen : R->need[1];
      if (m < r->num_minlen) r->num_minlen = m;
    }
    for (int sl = 2; sl < N_SLOTS; sl++)
      for (uint32_t x = 0; x < 8; x++)
        if (R->need[sl] <= x || x == 7) rm_set(&r->ok_cnt[sl][x], i);
    if (R->any_mask || R->short_slots) rm_set(&r->any_rules, i);
    for (int x = 0; x < 64; x++) {
      if (R->minlen <= (uint32_t)x || x == 63) rm_set(&r->ok_len[x], i);
      if (R->need[1] <= (uint32_t)x || x == 63) rm_set(&r->ok_digits[x], i);
    }
  }
  for (int i = 0; i < r->nvalue; i++) {
    rm_set(&r->value_mask, i);
    if (r->rules[i].nlits) rm_set(&r->lit_mask, i);
    for (int c = 0; c < 4; c++)
      if (r->rules[i].cls > c) rm_set(&r->above[c], i);
  }
  if (tri_build(&L)) goto fail;
  for (size_t i = 0; i < nk; i++) {
    r->nrules++;
    if (load_rule(&L, json_array_get(kr, i), RULE_KEY, (int)i, &r->rules[nv + i])) goto fail;
  }
  if (load_profiles(&L, pr)) goto fail;

  r->mctx = pcre2_match_context_create(NULL);
  r->jstack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
  r->md = pcre2_match_data_create(MAX_GROUP + 1, NULL);
  r->md2 = pcre2_match_data_create(1, NULL);
  r->kc_cap = KC_MIN;
  r->kcache = sqlite3_malloc64(sizeof(KeyCacheEnt) * KC_MIN);
  r->vcache = sqlite3_malloc64(sizeof(CleanEnt) * VC_SIZE);
  r->vdoor = sqlite3_malloc64(sizeof(uint32_t) * VC_SIZE);
  if (!r->mctx || !r->jstack || !r->md || !r->md2 || !r->kcache || !r->vcache || !r->vdoor) {
    load_err(&L, "out of memory");
    goto fail;
  }
  memset(r->kcache, 0, sizeof(KeyCacheEnt) * KC_MIN);
  memset(r->vcache, 0, sizeof(CleanEnt) * VC_SIZE);
  memset(r->vdoor, 0, sizeof(uint32_t) * VC_SIZE);
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

void telem_redact_log_init(TelemRedactLog *log) {
  memset(log, 0, sizeof(*log));
  telem_buf_init(&log->tok);
}

void telem_redact_log_clear(TelemRedactLog *log) {
  sqlite3_free(log->v);
  sqlite3_free(log->nodes);
  telem_buf_free(&log->tok);
  memset(log, 0, sizeof(*log));
  telem_buf_init(&log->tok);
}

char *telem_redact_log_path(const TelemRedactLog *log, int i) {
  size_t len = 0;
  int depth = 0;
  for (int k = log->v[i].node; k >= 0; k = log->nodes[k].parent) {
    len += log->nodes[k].len;
    depth++;
  }
  char *z = sqlite3_malloc64(len + 1);
  if (!z) return NULL;
  z[len] = 0;
  size_t end = len;
  for (int k = log->v[i].node; k >= 0; k = log->nodes[k].parent) {
    end -= log->nodes[k].len;
    memcpy(z + end, log->tok.p + log->nodes[k].off, log->nodes[k].len);
  }
  (void)depth;
  return z;
}

/* ---- the run ------------------------------------------------------------- */

/* A secret found in this payload: its other occurrences are redacted too. */
typedef struct Known {
  char *s;   /* owned (sqlite3 memory) */
  size_t n;
  int rule;  /* the rule that found it */
} Known;

#define MIN_ECHO 6        /* shorter redacted spans are not searched for elsewhere */
#define SCAN_WINDOW 512   /* start positions per PCRE2 call on long strings */
#define BUDGET_MS_BASE 1000   /* regex time per call: this much ... */
#define BUDGET_MS_PER_MIB 1000 /* ... plus this much per MiB of input */

typedef struct PathLvl {
  size_t off; /* where its token starts in run->path */
  int node;   /* its log node, -1 until an action below it is recorded */
} PathLvl;

typedef struct Run {
  TelemRedactor *r;
  const uint8_t *act;   /* per-rule actions of the profile; NULL when classifying */
  TelemBuf *out;        /* output, or NULL */
  TelemRedactLog *log;  /* actions, or NULL */
  TelemBuf path;        /* JSON Pointer of the current value (only with log) */
  PathLvl *lv;          /* the tokens of path, as levels; owned */
  int nlv, clv;
  const char *in;       /* the text being walked (raw copies of unchanged strings) */
  TelemArena *arena;    /* where embedded JSON strings are parsed */
  int embed;            /* embedded-JSON levels entered (walk_embedded) */
  int needs_json;       /* the profile hashes or omits by key: unreadable JSON is an error */
  long changes;         /* actions taken so far (replace, hash, omit) */
  int cls;              /* highest class seen (classify) */
  char *err;            /* first error; sqlite3 memory */
  int collect;          /* remember redacted spans in found */
  Known *found;         /* secrets redacted so far (collect); owned */
  int nfound, cfound;
  const Known *known;   /* secrets whose every occurrence is redacted (second pass) */
  int nknown;
  int repair;           /* text mode: invalid UTF-8 in the input, repair on output */
  int calls;            /* PCRE2 calls since the last budget check */
  int window_call;      /* a windowed call: check the budget now */
  uint64_t budget_ms;   /* regex work budget of this call (thread CPU time) */
  uint64_t cpu0;        /* thread CPU ms at the first poll, 0 until then */
  uint64_t next_poll;   /* monotonic ms of the next interrupt poll, 0 until the first */
  int oom;              /* the run failed for memory (err may be NULL) */
  int stopped;          /* the stop callback ended the run */
  TelemBuf *lazy;       /* the output while nothing was written yet (out is NULL): see lazy_flush */
  int depth;            /* objects entered (walk_object: key hints) */
} Run;

enum { W_OK = 0, W_ERR = 1, W_STOP = 2, W_NOTJSON = 3 };

#define MAX_EMBED 4 /* JSON-in-a-string levels looked into */
#define EMBED_STR "4" /* MAX_EMBED, for messages */

static int run_err(Run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run_err(Run *run, const char *fmt, ...) {
  if (!run->err) {
    va_list ap;
    va_start(ap, fmt);
    run->err = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    if (!run->err) run->oom = 1;
  }
  return W_ERR;
}

static int run_oom(Run *run) {
  if (!run->err) run->oom = 1; /* the first error wins */
  return W_ERR;
}

/* Path levels: run->path holds the current JSON Pointer as text; each
 * pushed token is a level whose log node is made only when an action is
 * recorded below it (so siblings and descendants share it). */
static int path_push(Run *run, size_t mark) {
  if (run->nlv == run->clv) {
    int nc = run->clv ? run->clv * 2 : 32;
    PathLvl *v = sqlite3_realloc64(run->lv, sizeof(*v) * (size_t)nc);
    if (!v) return run_oom(run);
    run->lv = v;
    run->clv = nc;
  }
  run->lv[run->nlv].off = mark;
  run->lv[run->nlv].node = -1;
  run->nlv++;
  return W_OK;
}

static void path_pop(Run *run, size_t mark) {
  while (run->nlv && run->lv[run->nlv - 1].off >= mark) run->nlv--;
  run->path.len = mark;
}

/* The log node of the current path (-1 at the root), made on demand. */
static int path_node(Run *run) {
  TelemRedactLog *log = run->log;
  int i = run->nlv;
  while (i > 0 && run->lv[i - 1].node < 0) i--;
  for (; i < run->nlv; i++) {
    if (log->nnodes == log->cnodes) {
      int nc = log->cnodes ? log->cnodes * 2 : 32;
      TelemPathNode *v = sqlite3_realloc64(log->nodes, sizeof(*v) * (size_t)nc);
      if (!v) return -2;
      log->nodes = v;
      log->cnodes = nc;
    }
    size_t a = run->lv[i].off, b = i + 1 < run->nlv ? run->lv[i + 1].off : run->path.len;
    TelemPathNode *nd = &log->nodes[log->nnodes];
    nd->parent = i ? run->lv[i - 1].node : -1;
    nd->off = (uint32_t)log->tok.len;
    nd->len = (uint32_t)(b - a);
    telem_buf_append(&log->tok, run->path.p + a, b - a);
    if (log->tok.oom) return -2;
    run->lv[i].node = log->nnodes++;
  }
  return run->nlv ? run->lv[run->nlv - 1].node : -1;
}

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
  int node = path_node(run);
  if (node == -2) return run_oom(run);
  TelemRedactEntry *e = &log->v[log->n++];
  e->node = node;
  e->rule = rule;
  e->action = action;
  e->cls = run->r->rules[rule].cls;
  return W_OK;
}

/* A compact document (TJ_F_VERBATIM) is its own output up to its first
 * change, so nothing is written until then: at the first change, at input
 * offset off, the input before it is copied in one piece and writing
 * starts.  A document without a change is copied whole at the end. */
static void lazy_flush(Run *run, size_t off) {
  if (!run->lazy) return;
  out_append(run->lazy, run->in, off);
  run->out = run->lazy;
  run->lazy = NULL;
}

typedef struct Sig {
  RMask lits;             /* rules whose literal prefilter may pass */
  RMask found;            /* rules one of whose 3+ byte keywords occurs (exact) */
  uint32_t present;       /* tracked slots that occur (bit per slot) */
  uint32_t digit_run;     /* longest digit run (min_digit_run) */
  uint64_t dm, sm;        /* n <= 64: the digits and the ' '/'-' bytes, a bit each */
  uint32_t cnt[N_SLOTS];  /* tracked bytes */
} Sig;

/* What a string holds, for the gates: its digits (and, up to 64 bytes,
 * its digit and separator bits for digit_run) sixteen bytes at a time,
 * then one byte loop for the tracked bytes and the rules one of whose
 * keywords of 3+ bytes occurs (a table test per position on a rolling
 * hash of the last three bytes, the rare hit verified in place).  The
 * common case (an untracked byte, no hit) touches no memory but the
 * tables, so the loop has no store-to-load chain. */
static int run_poll(Run *run);

/* The keywords of bucket h that start at s + i, as rule bits. */
static __attribute__((noinline)) void tri_verify(const TelemRedactor *r, const unsigned char *s,
                                                 size_t n, size_t i, unsigned h, uint64_t *ma,
                                                 uint64_t *mb) {
  for (uint32_t k = r->tri_start[h]; k < r->tri_start[h + 1]; k++) {
    const Lit *t = r->tri_lits[k].lit;
    const unsigned char *q = s + i;
    if (t->n > n - i) continue;
    size_t j = 0;
    if (t->ci) while (j < t->n && lower_tab[q[j]] == (unsigned char)t->s[j]) j++;
    else while (j < t->n && q[j] == (unsigned char)t->s[j]) j++;
    if (j == t->n) {
      int b = r->tri_lits[k].rule;
      if (b < 64) *ma |= 1ull << b;
      else *mb |= 1ull << (b - 64);
    }
  }
}

typedef struct SigAcc {
  uint32_t pres;
  uint32_t w;          /* the last three bytes, lower-cased (tri_hash) */
  uint64_t ma, mb;     /* rules with a keyword found */
} SigAcc;

/* Tracked bytes and keywords of s[from..to). */
static inline __attribute__((always_inline)) void sig_range(const TelemRedactor *r,
                                                            const unsigned char *s, size_t n,
                                                            size_t from, size_t to, SigAcc *A,
                                                            uint32_t *cnt) {
  SigAcc a = *A;
  const uint8_t *hit = r->tri_hit;
  for (size_t i = from; i < to; i++) {
    unsigned c = s[i];
    unsigned sl = r->slot[c];
    if (sl) {
      cnt[sl]++;
      a.pres |= 1u << sl;
    }
    a.w = (a.w << 8 | lower_tab[c]) & 0xFFFFFFu;
    unsigned h = tri_hash(a.w);
    if (hit[h] && i >= 2) tri_verify(r, s, n, i - 2, h >> 2, &a.ma, &a.mb);
  }
  *A = a;
}

/* Bit i set when s[i] is an ASCII digit (*dm) or a ' ' or '-' (*sm), for
 * n <= 64. */
static void digit_bits(const unsigned char *s, size_t n, uint64_t *dm, uint64_t *sm) {
  uint64_t d = 0, sp = 0;
  size_t i = 0;
#ifdef __SSE2__
  for (; i + 16 <= n; i += 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
    /* c - '0' < 10 unsigned: (c ^ 0x80) - ('0' ^ 0x80) < 10 signed, biased */
    __m128i x = _mm_sub_epi8(v, _mm_set1_epi8('0'));
    __m128i isd = _mm_cmplt_epi8(_mm_xor_si128(x, _mm_set1_epi8((char)0x80)),
                                 _mm_set1_epi8((char)(0x80 + 10)));
    __m128i iss = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')),
                               _mm_cmpeq_epi8(v, _mm_set1_epi8('-')));
    d |= (uint64_t)(unsigned)_mm_movemask_epi8(isd) << i;
    sp |= (uint64_t)(unsigned)_mm_movemask_epi8(iss) << i;
  }
#endif
  for (; i < n; i++) {
    unsigned c = s[i];
    d |= (uint64_t)((c - '0') < 10u) << i;
    sp |= (uint64_t)((c == ' ') | (c == '-')) << i;
  }
  *dm = d;
  *sm = sp;
}

/* ASCII digits in s[0..n). */
static uint32_t count_digits(const unsigned char *s, size_t n) {
  uint32_t k = 0;
  for (size_t i = 0; i < n; i++) k += (unsigned)(s[i] - '0') < 10u;
  return k;
}

static inline uint32_t pop64(uint64_t x) { /* no POPCNT in the baseline x86-64 ISA */
  x -= (x >> 1) & 0x5555555555555555ull;
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
  return (uint32_t)((x * 0x0101010101010101ull) >> 56);
}

/* Returns W_OK, or W_ERR when a poll every MiB of a long string found the
 * budget spent or the call interrupted. */
static int sig_compute(Run *rn, const TelemRedactor *r, const unsigned char *s, size_t n, Sig *g) {
  memset(g->cnt, 0, sizeof(g->cnt));
  SigAcc a = {0, 0, 0, 0};
  g->dm = g->sm = 0;
  if (n <= 64) {
    digit_bits(s, n, &g->dm, &g->sm);
    g->cnt[1] = pop64(g->dm);
    sig_range(r, s, n, 0, n, &a, g->cnt);
  } else {
    /* In chunks of 1 MiB, polling the budget between them (long strings). */
    for (size_t from = 0, to; from < n; from = to) {
      to = n - from > (1u << 20) ? from + (1u << 20) : n;
      if (from && run_poll(rn)) return W_ERR;
      g->cnt[1] += count_digits(s + from, to - from);
      sig_range(r, s, n, from, to, &a, g->cnt);
    }
  }
  g->present = a.pres;
  g->digit_run = UINT32_MAX; /* computed when a rule needs it (digit_run) */
  g->found = (RMask){{a.ma, a.mb}};
  g->lits = rm_or(g->found, r->lit_always);
  return W_OK;
}

/* The most digits in one run of s[0..n), where a single ' ' or '-'
 * between two digits does not end the run (card numbers, "123-45-6789"):
 * the digits are counted, not the separators. */
static uint32_t digit_run(const Sig *g, const char *s, size_t n) {
  if (n <= 64) {
    /* Bit-parallel for short strings (most values), from the digit and
     * separator bits of sig_compute: a separator between two digits joins
     * them, then the digits of each joined run are counted. */
    uint64_t d = g->dm, sp = g->sm;
    uint64_t j = d | (sp & (d << 1) & (d >> 1));
    uint32_t best = 0;
    while (j && pop64(j & d) > best) {
      uint64_t t = j + (j & -j);    /* the lowest run cleared (carry above it) */
      uint32_t c = pop64(j & ~t & d);
      if (c > best) best = c;
      j &= t;
    }
    return best;
  }
  uint32_t run = 0, best = 0, prev_sep = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned c = (unsigned char)s[i];
    uint32_t isd = (c - '0') < 10u, sep = (c == ' ') | (c == '-');
    run = isd ? run + 1 : ((sep & !prev_sep) ? run : 0);
    best = run > best ? run : best;
    prev_sep = sep;
  }
  return best;
}

/* The gates of rule R other than the literal byte pairs (find_spans has
 * already dropped rules whose pairs are missing): 1 when its pattern must
 * run on s[0..n). */
static int rule_gate(const Rule *R, int ri, Sig *g, const char *s, size_t n) {
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
    if (g->digit_run == UINT32_MAX) g->digit_run = digit_run(g, s, n);
    if (g->digit_run < R->min_digit_run) return 0;
  }
  if (R->nlits) {
    /* Keywords of 3+ bytes were found exactly by sig_compute (the rule
     * is only here if one occurs); shorter ones are searched now. */
    if (rm_has(g->found, ri)) return 1;
    if (R->short_slots && !(g->present & R->short_slots)) return 0;
    for (int i = 0; i < R->nlits; i++) {
      const Lit *t = &R->lits[i];
      if (t->n >= 3) continue;
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
/* Shannon entropy of s[0..n) in bits per byte. */
static double entropy(const char *s, size_t n) {
  if (n == 0) return 0;
  uint32_t cnt[256] = {0};
  for (size_t i = 0; i < n; i++) cnt[(unsigned char)s[i]]++;
  double h = 0;
  for (int c = 0; c < 256; c++)
    if (cnt[c]) {
      double p = (double)cnt[c] / (double)n;
      h -= p * log2(p);
    }
  return h;
}

/* IBAN: country, two check digits, 11-30 alphanumerics (spaces allowed
 * between groups); valid when the ISO 13616 mod-97 of the rearranged
 * number is 1. */
static int iban_ok(const char *s, size_t n) {
  char v[40];
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == ' ' || c == '-') continue;
    if (k == sizeof(v)) return 0;
    v[k++] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
  }
  if (k < 15 || k > 34) return 0;
  unsigned rem = 0;
  for (size_t j = 0; j < k; j++) {
    unsigned char c = (unsigned char)v[(j + 4) % k];
    if (c >= '0' && c <= '9') rem = (rem * 10 + (c - '0')) % 97;
    else if (c >= 'A' && c <= 'Z') rem = (rem * 100 + (unsigned)(c - 'A' + 10)) % 97;
    else return 0;
  }
  return rem == 1;
}

/* 1 when span s[0..n) of rule R is not a secret after all: below the
 * rule's entropy gate, or allowlisted (a stopword inside it, or an allow
 * regex matching it).  An allow regex that fails (match limit) does not
 * allow: fail closed. */
static int span_allowed(Run *run, const Rule *R, const char *s, size_t n) {
  if (R->min_entropy > 0 && entropy(s, n) < R->min_entropy) return 1;
  for (int l = -1; l < R->nallow; l++) {
    const Allow *A = l < 0 ? &R->own : R->allow[l];
    for (int i = 0; i < A->nwords; i++)
      if (ci_contains(s, n, A->words[i], A->wlen[i])) return 1;
    for (int i = 0; i < A->nrx; i++) {
      int rc = pcre2_match(A->rx[i], (PCRE2_SPTR)s, n, 0, 0, run->r->md2, run->r->mctx);
      if (rc >= 0) return 1;
    }
  }
  return 0;
}

/* Remembers the text of a redacted span, so that its other occurrences in
 * the same payload are redacted too (telem_redactor_run's second pass). */
static int found_add(Run *run, const char *s, size_t n, int rule) {
  if (!run->collect || n < MIN_ECHO) return W_OK;
  for (int i = 0; i < run->nfound; i++)
    if (run->found[i].n == n && memcmp(run->found[i].s, s, n) == 0) return W_OK;
  if (run->nfound == run->cfound) {
    int nc = run->cfound ? run->cfound * 2 : 8;
    Known *v = sqlite3_realloc64(run->found, sizeof(Known) * (size_t)nc);
    if (!v) return run_oom(run);
    run->found = v;
    run->cfound = nc;
  }
  char *c = dup_n(s, n);
  if (!c) return run_oom(run);
  run->found[run->nfound].s = c;
  run->found[run->nfound].n = n;
  run->found[run->nfound].rule = rule;
  run->nfound++;
  return W_OK;
}

/* Milliseconds of clock c (monotonic: interrupt polls; the thread's CPU
 * time: the work budget, which a busy machine must not make fail). */
static uint64_t clock_ms(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u + 1u;
}

/* The budget and the interrupt flag, now: also called every so many
 * spans and merge steps, so that a long call stops within a few tens of
 * milliseconds of sqlite3_interrupt().  Nonzero (with run->err set) when
 * the call exceeded its budget or the caller interrupted it. */
static int run_poll(Run *run) {
  TelemRedactor *r = run->r;
  /* The clocks are read here only (not per call): the budget counts from
   * the first poll, and the work before it is bounded by the poll points. */
  uint64_t cpu = clock_ms(CLOCK_THREAD_CPUTIME_ID);
  if (!run->cpu0) run->cpu0 = cpu;
  else if (cpu - run->cpu0 > run->budget_ms)
    return run_err(run, "regex work budget exceeded (%llu ms of CPU for this input)",
                   (unsigned long long)run->budget_ms);
  if (r->stop) {
    uint64_t now = clock_ms(CLOCK_MONOTONIC);
    if (now >= run->next_poll) {
      run->next_poll = now + 10;
      if (r->stop(r->stop_arg)) {
        if (!run->err) run->stopped = 1;
        return run_err(run, "interrupted");
      }
    }
  }
  return W_OK;
}

/* The work budget: checked between windows of start positions and every
 * few PCRE2 calls. */
static int budget_check(Run *run) {
  if (++run->calls < 64 && !run->window_call) return W_OK;
  run->calls = 0;
  run->window_call = 0;
  return run_poll(run);
}

/* Finds the spans of s[0..n) matched by the value rules not in `skip`,
 * into r->spans (cleared first), plus every occurrence of a secret already
 * found in this payload (run->known).  When classifying, rules that cannot
 * raise the class are skipped.  Returns W_OK or W_ERR. */
/* (skip by pointer: a 16-byte struct passed by value is stored as two
 * words and reloaded as one, a store-forwarding stall per call.) */
static int find_spans(Run *run, const char *s, size_t n, const RMask *skip) {
  TelemRedactor *r = run->r;
  r->nspans = 0;
  for (int k = 0; k < run->nknown; k++) {
    const Known *K = &run->known[k];
    for (size_t off = 0; off + K->n <= n;) {
      const char *q = mem_find(s + off, n - off, K->s, K->n);
      if (!q) break;
      size_t a = (size_t)(q - s);
      if (add_span(run, a, a + K->n, K->rule)) return W_ERR;
      off = a + K->n;
    }
  }
  if (n < r->minlen) return W_OK;
  Sig g;
  if (sig_compute(run, r, (const unsigned char *)s, n, &g)) return W_ERR;
  const char *subj = NULL;
  /* Candidates: rules without literals, and those whose literals' byte
   * pairs occur; minus the rules the member key skips and, when
   * classifying, the rules that cannot raise the class. */
  RMask cand = rm_andnot(
      rm_or(rm_andnot(r->value_mask, r->lit_mask), rm_and(g.lits, r->lit_mask)), *skip);
  if (!run->act) cand = rm_and(cand, r->above[run->cls]);
  uint32_t present = g.present;
  cand = rm_and(cand, r->ok_len[n < 63 ? n : 63]);
  cand = rm_and(cand, r->ok_digits[g.cnt[1] < 63 ? g.cnt[1] : 63]);
  for (int sl = 2; sl < r->nslots; sl++)
    cand = rm_and(cand, r->ok_cnt[sl][g.cnt[sl] < 7 ? g.cnt[sl] : 7]);
  /* Rules that need one of some bytes (any_chars, a short keyword's). */
  for (RMask a = rm_and(cand, r->any_rules); !rm_empty(a);) {
    int i = rm_pop(&a);
    const Rule *R = &r->rules[i];
    if ((R->any_mask && !(present & R->any_mask)) ||
        (R->short_slots && !rm_has(g.found, i) && !(present & R->short_slots)))
      cand.w[i >> 6] &= ~(1ull << (i & 63));
  }
  /* The digit run is counted (rule_gate) only for a rule that passes
   * every cheaper gate: few strings have the digits a card needs. */
  for (int i; (i = rm_pop(&cand)) >= 0;) {
    if (run->act && run->act[i] == TELEM_RACT_KEEP) continue;
    const Rule *R = &r->rules[i];
    if (!run->act && R->cls <= run->cls) continue;
    if (!rule_gate(R, i, &g, s, n)) continue;
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
      /* Long strings are scanned in windows of start positions (the match
       * may run past the window): PCRE2's match limit bounds the work per
       * start position only, so the budget and the interrupt flag are
       * checked between windows. */
      int windowed = n - start > SCAN_WINDOW, rc;
      if (budget_check(run)) return W_ERR;
      if (windowed) {
        run->window_call = 1;
        pcre2_set_offset_limit(r->mctx, start + SCAN_WINDOW);
        rc = R->jit_w ? pcre2_jit_match(R->code_w, (PCRE2_SPTR)subj, n, start, 0, r->md, r->mctx)
                      : pcre2_match(R->code_w, (PCRE2_SPTR)subj, n, start, 0, r->md, r->mctx);
        pcre2_set_offset_limit(r->mctx, PCRE2_UNSET);
      } else {
        rc = R->jit ? pcre2_jit_match(R->code, (PCRE2_SPTR)subj, n, start, 0, r->md, r->mctx)
                    : pcre2_match(R->code, (PCRE2_SPTR)subj, n, start, 0, r->md, r->mctx);
      }
      if (rc == PCRE2_ERROR_NOMATCH) {
        if (!windowed) break;
        start += SCAN_WINDOW + 1;
        continue;
      }
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
        if (b > a && R->check == CHECK_IBAN && !iban_ok(s + a, b - a)) {
          b = a;
          next = m0 + 1;
        }
        if (b > a && (R->min_entropy > 0 || R->nallow || R->own.nwords || R->own.nrx) &&
            span_allowed(run, R, subj + a, b - a)) {
          b = a;
          next = m0 + 1;
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
          if (found_add(run, s + a, b - a, i)) return W_ERR;
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

/* Sorts r->spans[0..k) by start (then rule).  They arrive as one sorted
 * run per rule, so runs are merged pairwise (O(k log runs)), polling the
 * budget between merges. */
static int spans_sort(Run *run, size_t k) {
  TelemRedactor *r = run->r;
  size_t runs = 1;
  for (size_t i = 1; i < k; i++)
    if (span_cmp(&r->spans[i - 1], &r->spans[i]) > 0) runs++;
  if (runs == 1) return W_OK;
  if (k < 4096) {
    qsort(r->spans, k, sizeof(Span), span_cmp);
    return W_OK;
  }
  Span *tmp = sqlite3_malloc64(sizeof(Span) * k);
  if (!tmp) return run_oom(run);
  Span *src = r->spans, *dst = tmp;
  while (runs > 1) {
    size_t i = 0, o = 0;
    runs = 0;
    while (i < k) {
      size_t a = i, am = i + 1;
      while (am < k && span_cmp(&src[am - 1], &src[am]) <= 0) am++;
      size_t b = am, bm = am < k ? am + 1 : am;
      while (bm < k && span_cmp(&src[bm - 1], &src[bm]) <= 0) bm++;
      while (a < am && b < bm) dst[o++] = span_cmp(&src[a], &src[b]) <= 0 ? src[a++] : src[b++];
      while (a < am) dst[o++] = src[a++];
      while (b < bm) dst[o++] = src[b++];
      i = bm;
      runs++;
    }
    Span *t = src;
    src = dst;
    dst = t;
    if (run_poll(run)) {
      sqlite3_free(tmp);
      return W_ERR;
    }
  }
  if (src != r->spans) memcpy(r->spans, src, sizeof(Span) * k);
  sqlite3_free(tmp);
  return W_OK;
}

/* Appends the pseudonym of the canonical JSON bytes t[0..n): with an
 * operator key hmac:<keyid>:<HMAC-SHA256 hex>, else xxh3:<16 hex> (the
 * form Vox writes for hashed MCP arguments; unkeyed, so a guessable value
 * can be recovered by trying candidates). */
static int put_digest(Run *run, TelemBuf *o, const char *t, size_t n) {
  TelemRedactor *r = run->r;
  if (r->hmac_key) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!HMAC(EVP_sha256(), r->hmac_key, (int)r->hmac_key_len, (const unsigned char *)t, n, md,
              &mdlen))
      return run_err(run, "HMAC-SHA256 failed");
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned i = 0; i < mdlen; i++) {
      hex[2 * i] = "0123456789abcdef"[md[i] >> 4];
      hex[2 * i + 1] = "0123456789abcdef"[md[i] & 15];
    }
    telem_buf_printf(o, "hmac:%s:%.*s", r->hmac_keyid, (int)(2 * mdlen), hex);
  } else {
    telem_buf_printf(o, "xxh3:%016llx", (unsigned long long)XXH3_64bits(t, n));
  }
  return W_OK;
}

/* Appends v as canonical JSON: compact, object members sorted by key
 * bytes (the last of duplicate keys wins), strings escaped as serde_json
 * does (", \\, \b \f \n \r \t, other controls \u00xx; everything else
 * raw), numbers as written.  These are the bytes Vox's serde_json::to_vec
 * gives for a Value (its Map is a BTreeMap), so digests join with Vox's. */
static int canon_write(Run *run, TelemBuf *b, const TelemJson *v) {
  if (v->type == TJ_ARRAY) {
    telem_buf_putc(b, '[');
    for (const TelemJson *e = v->child; e; e = e->next) {
      if (e != v->child) telem_buf_putc(b, ',');
      if (canon_write(run, b, e)) return W_ERR;
    }
    telem_buf_putc(b, ']');
    return W_OK;
  }
  if (v->type != TJ_OBJECT) {
    telem_json_write(b, v);
    return W_OK;
  }
  size_t n = 0;
  for (const TelemJson *e = v->child; e; e = e->next) n++;
  const TelemJson **m = sqlite3_malloc64(sizeof(*m) * (n + 1));
  if (!m) return run_oom(run);
  n = 0;
  for (const TelemJson *e = v->child; e; e = e->next) m[n++] = e;
  /* Insertion sort, stable: members are few; keeps input order of equal keys. */
  for (size_t i = 1; i < n; i++) {
    const TelemJson *x = m[i];
    size_t j = i;
    while (j > 0) {
      const TelemJson *y = m[j - 1];
      size_t l = x->key_len < y->key_len ? x->key_len : y->key_len;
      int c = memcmp(y->key, x->key, l);
      if (c < 0 || (c == 0 && y->key_len <= x->key_len)) break;
      m[j] = y;
      j--;
    }
    m[j] = x;
  }
  telem_buf_putc(b, '{');
  int first = 1, rc = W_OK;
  for (size_t i = 0; i < n && !rc; i++) {
    if (i + 1 < n && m[i + 1]->key_len == m[i]->key_len &&
        memcmp(m[i + 1]->key, m[i]->key, m[i]->key_len) == 0)
      continue; /* a later duplicate replaces this one */
    if (!first) telem_buf_putc(b, ',');
    first = 0;
    telem_buf_json_string(b, m[i]->key, m[i]->key_len);
    telem_buf_putc(b, ':');
    rc = canon_write(run, b, m[i]);
  }
  telem_buf_putc(b, '}');
  sqlite3_free(m);
  return rc;
}

/* Appends the pseudonym of JSON value v (canonical JSON, see canon_write). */
static int put_value_digest(Run *run, TelemBuf *o, const TelemJson *v) {
  TelemBuf *t = &run->r->tmp;
  t->len = 0;
  if (canon_write(run, t, v)) return W_ERR;
  if (t->oom) return run_oom(run);
  return put_digest(run, o, t->p, t->len);
}

/* Appends the replacement of s[a..b) under rule `rule` with action act. */
static int put_replacement(Run *run, TelemBuf *o, int rule, int act, const char *s, size_t n) {
  const Rule *R = &run->r->rules[rule];
  if (act == TELEM_RACT_HASH) {
    /* The digest of the span as a JSON string: the same as hashing a
     * member whose whole value is this text. */
    TelemBuf *t = &run->r->tmp;
    t->len = 0;
    telem_buf_json_string(t, s, n);
    if (t->oom) return run_oom(run);
    return put_digest(run, o, t->p, t->len);
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
    else if (run->repair) telem_buf_utf8_repair(o, s, n);
    else out_append(o, s, n);
    return W_OK;
  }
  if (k > 1 && spans_sort(run, k)) return W_ERR;
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
    if ((i & 1023) == 1023 && (rc = run_poll(run))) goto done;
    if ((rc = record(run, rule, act))) goto done;
    if (dst) {
      if (run->repair && !json) telem_buf_utf8_repair(dst, s + pos, a - pos);
      else out_append(dst, s + pos, a - pos);
      if ((rc = put_replacement(run, dst, rule, act, s + a, b - a))) goto done;
    }
    pos = b;
    i = j;
  }
  if (dst) {
    if (run->repair && !json) telem_buf_utf8_repair(dst, s + pos, n - pos);
    else out_append(dst, s + pos, n - pos);
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
  RMask skip;     /* value rules not applied below this key */
  KeyCacheEnt *e; /* its cache entry (valid until the next key_info), or NULL */
} KeyInfo;

/* The cache slot for key hash h: its entry, or the empty slot where it
 * goes.  The table grows (doubling, rehashing) while it is at most KC_MAX
 * entries, so documents with thousands of distinct keys keep hitting;
 * past that it is cleared when three quarters full. */
static KeyCacheEnt *kc_slot(TelemRedactor *r, uint64_t h, const char *key, size_t klen,
                            int inserting) {
  if (inserting && (r->kc_count + 1) * 4 > r->kc_cap * 3) {
    uint32_t nc = r->kc_cap * 2;
    KeyCacheEnt *nv = nc <= KC_MAX ? sqlite3_malloc64(sizeof(KeyCacheEnt) * nc) : NULL;
    if (nv) {
      memset(nv, 0, sizeof(KeyCacheEnt) * nc);
      for (uint32_t i = 0; i < r->kc_cap; i++) {
        if (!r->kcache[i].valid) continue;
        uint32_t j = (uint32_t)r->kcache[i].h & (nc - 1);
        while (nv[j].valid) j = (j + 1) & (nc - 1);
        nv[j] = r->kcache[i];
      }
      sqlite3_free(r->kcache);
      r->kcache = nv;
      r->kc_cap = nc;
    } else {
      /* At the cap (or out of memory): start over. */
      memset(r->kcache, 0, sizeof(KeyCacheEnt) * r->kc_cap);
      r->kc_count = 0;
    }
  }
  uint32_t j = (uint32_t)h & (r->kc_cap - 1);
  for (;;) {
    KeyCacheEnt *e = &r->kcache[j];
    if (!e->valid) return e;
    if (e->h == h && e->len == klen && telem_bytes_eq(e->key, key, klen)) return e;
    j = (j + 1) & (r->kc_cap - 1);
  }
}

/* hint: the cache entry this key probably has (rows repeat their keys in
 * the same order), tried before hashing; any index is safe. */
static int key_info(Run *run, const char *key, size_t klen, KeyInfo *ki, uint32_t hint) {
  TelemRedactor *r = run->r;
  KeyCacheEnt *e = NULL;
  uint64_t h = 0;
  ki->e = NULL;
  if (hint < r->kc_cap) {
    KeyCacheEnt *he = &r->kcache[hint];
    if (he->valid && he->len == klen && telem_bytes_eq(he->key, key, klen)) {
      ki->rule = he->rule;
      ki->skip = he->skip;
      ki->e = he;
      return W_OK;
    }
  }
  if (klen <= KC_KEYMAX) {
    h = XXH3_64bits(key, klen);
    e = kc_slot(r, h, key, klen, 0);
    if (e->valid) {
      ki->rule = e->rule;
      ki->skip = e->skip;
      ki->e = e;
      return W_OK;
    }
  }
  char stackbuf[NORM_STACK];
  uint8_t bstack[NORM_STACK + 1];
  char *norm = stackbuf;
  uint8_t *bnd = bstack;
  if (klen > NORM_STACK) {
    norm = sqlite3_malloc64(klen + 1);
    bnd = sqlite3_malloc64(klen + 1);
    if (!norm || !bnd) {
      sqlite3_free(norm);
      sqlite3_free(bnd);
      return run_oom(run);
    }
  }
  size_t nn = key_normalize(key, klen, norm, bnd);
  ki->rule = -1;
  memset(&ki->skip, 0, sizeof(ki->skip));
  for (int i = r->nvalue; i < r->nrules && ki->rule < 0; i++) {
    const Rule *R = &r->rules[i];
    const uint8_t *b = R->substring ? NULL : bnd;
    if (keypats_match(R->keys, R->nkeys, norm, nn, b) &&
        !keypats_match(R->except, R->nexcept, norm, nn, b))
      ki->rule = i;
  }
  for (int i = 0; i < r->nvalue; i++) {
    const Rule *R = &r->rules[i];
    if (R->nxkeys && keypats_match(R->xkeys, R->nxkeys, norm, nn, bnd)) rm_set(&ki->skip, i);
  }
  if (norm != stackbuf) {
    sqlite3_free(norm);
    sqlite3_free(bnd);
  }
  if (e) {
    e = kc_slot(r, h, key, klen, 1);
    memset(e, 0, sizeof(*e));
    e->h = h;
    e->len = (uint8_t)klen;
    e->rule = (int16_t)ki->rule;
    e->skip = ki->skip;
    memcpy(e->key, key, klen);
    e->next = UINT32_MAX;
    e->valid = 1;
    r->kc_count++;
    ki->e = e;
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

static int walk(Run *run, const TelemJson *v, const RMask *skip);

/* 1 when string v is already a pseudonym this engine (or Vox) writes:
 * xxh3:<16 hex> or hmac:<keyid>:<64 hex>.  Hashing it again would break
 * the join with the producer's digest, and it holds no content. */
static int is_pseudonym(const TelemJson *v) {
  if (v->type != TJ_STRING) return 0;
  const char *z = v->s;
  size_t n = v->n, i;
  if (n == 21 && memcmp(z, "xxh3:", 5) == 0) i = 5;
  else if (n > 70 && memcmp(z, "hmac:", 5) == 0 && z[n - 65] == ':') i = n - 64;
  else return 0;
  for (; i < n; i++)
    if (!((z[i] >= '0' && z[i] <= '9') || (z[i] >= 'a' && z[i] <= 'f'))) return 0;
  return 1;
}

/* 1 when a span of r->spans is acted on (not only reported: keep). */
static int spans_change(const Run *run) {
  for (size_t i = 0; i < run->r->nspans; i++)
    if (run->act[run->r->spans[i].rule] != TELEM_RACT_KEEP) return 1;
  return 0;
}

static int walk_object(Run *run, const TelemJson *v) {
  TelemRedactor *r = run->r;
  int first = 1, rc;
  int d = run->depth < 8 ? run->depth : 7;
  uint32_t hint = r->kc_first[d], prev = UINT32_MAX;
  run->depth++;
  TelemBuf kb; /* the scrubbed key, when value patterns matched it */
  telem_buf_init(&kb);
  if (run->out) out_putc(run->out, '{');
  for (const TelemJson *m = v->child; m; m = m->next) {
    KeyInfo ki;
    if ((rc = key_info(run, m->key, m->key_len, &ki, hint))) goto out;
    {
      /* Remember the order (indices: the table may grow below). */
      uint32_t idx = ki.e ? (uint32_t)(ki.e - r->kcache) : UINT32_MAX;
      if (m == v->child) r->kc_first[d] = idx;
      else if (prev < r->kc_cap) r->kcache[prev].next = idx;
      hint = ki.e ? ki.e->next : UINT32_MAX;
      prev = idx;
    }
    /* Keys are data ({"alice@example.com": 3}): value patterns run over
     * the key first, and the scrubbed key is what the output and the
     * path (telem_redactions) show. */
    const char *kp = m->key;
    size_t kn = m->key_len;
    int kspans = 0;
    /* Keys repeat from row to row: the cache remembers one that no value
     * pattern matched under this profile (or when classifying from S0). */
    int known_clean = ki.e && ki.e->clean && ki.e->clean_act == run->act && !run->nknown;
    if (!known_clean && (m->key_len >= r->minlen || run->nknown)) {
      if ((rc = find_spans(run, m->key, m->key_len, &rm_none))) goto out;
      if (ki.e && !r->nspans && !run->nknown && (run->act || run->cls == 0)) {
        ki.e->clean = 1;
        ki.e->clean_act = run->act;
      }
      if (!run->act) {
        if (run->cls >= 3) {
          rc = W_STOP;
          goto out;
        }
      } else if (r->nspans) {
        TelemBuf *save_out = run->out;
        TelemRedactLog *save_log = run->log;
        kb.len = 0;
        run->out = &kb;
        run->log = NULL;
        rc = emit_scrubbed(run, m->key, m->key_len, 0, NULL, 0);
        run->out = save_out;
        run->log = save_log;
        if (rc) goto out;
        if (kb.oom) {
          rc = run_oom(run);
          goto out;
        }
        kspans = (int)r->nspans;
        if (kspans) {
          kp = kb.p;
          kn = kb.len;
        }
      }
    }
    size_t mark = run->path.len;
    if (run->log) {
      path_push_key(run, kp, kn);
      if ((rc = path_push(run, mark))) goto out;
      for (int k = 0; k < kspans; k++)
        if ((rc = record(run, r->spans[k].rule, run->act[r->spans[k].rule]))) goto out;
    }
    int act = TELEM_RACT_KEEP;
    if (ki.rule >= 0 && value_nonempty(m) && !is_pseudonym(m)) {
      const Rule *R = &r->rules[ki.rule];
      if (!run->act) {
        if (R->cls > run->cls) run->cls = R->cls;
        if (run->cls >= 3) {
          rc = W_STOP;
          goto out;
        }
      } else {
        act = run->act[ki.rule];
      }
    }
    /* Writing starts before the member (its comma) at its first change. */
    if (run->lazy && (kspans || act != TELEM_RACT_KEEP))
      lazy_flush(run, (size_t)(m->key - 1 - run->in) - !first);
    TelemBuf *o = run->out;
    if (act == TELEM_RACT_OMIT) {
      if ((rc = record(run, ki.rule, act))) goto out;
      path_pop(run, mark);
      continue;
    }
    if (o && !first) out_putc(o, ',');
    first = 0;
    if (o) {
      if (kspans) telem_buf_json_string(o, kp, kn);
      else if (!(m->flags & TJ_F_KEY_DECODED)) out_append(o, m->key - 1, m->key_len + 2);
      else telem_buf_json_string(o, m->key, m->key_len);
      out_putc(o, ':');
    }
    if (act == TELEM_RACT_REPLACE) {
      if ((rc = record(run, ki.rule, act))) goto out;
      if (m->type == TJ_STRING && (rc = found_add(run, m->s, m->n, ki.rule))) goto out;
      if (o) {
        out_putc(o, '"');
        out_append(o, r->rules[ki.rule].repl, r->rules[ki.rule].repl_len);
        out_putc(o, '"');
      }
    } else if (act == TELEM_RACT_HASH) {
      if ((rc = record(run, ki.rule, act))) goto out;
      if (o) {
        out_putc(o, '"');
        if ((rc = put_value_digest(run, o, m))) goto out;
        out_putc(o, '"');
      }
    } else if ((rc = walk(run, m, &ki.skip))) {
      goto out;
    }
    path_pop(run, mark);
  }
  if (run->out) out_putc(run->out, '}');
  rc = W_OK;
out:
  run->depth--;
  telem_buf_free(&kb);
  return rc;
}

static int looks_like_json(const char *s, size_t n);
static void surrogate_repair(char *d, size_t n);

#define BOM "\xEF\xBB\xBF" /* UTF-8 byte order mark: JSON after it is still JSON */

/* 1 when s[0..n) opens like a JSON object or array of objects/strings
 * ({"..., {}, [{, [[, [", []), not like a log line ("[INFO] ..."):
 * unreadable text of this shape is treated as broken JSON (fail closed). */
static int surely_json(const char *s, size_t n) {
  size_t i = 0;
  if (n >= 3 && memcmp(s, BOM, 3) == 0) i = 3;
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
  if (i >= n || (s[i] != '{' && s[i] != '[')) return 0;
  char open = s[i++];
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
  if (i >= n) return 1; /* "{" alone: truncated */
  if (open == '{') return s[i] == '"' || s[i] == '}';
  return s[i] == '{' || s[i] == '[' || s[i] == '"' || s[i] == ']';
}

/* 1 when the parser gave up on a size limit (the text may well be JSON):
 * scrubbing it as text could not apply the key rules and could break the
 * JSON escapes, so callers fail closed instead. */
static int json_limit_hit(const TelemJsonError *je) {
  return je->code == TJ_ERR_LIMIT;
}

/* A string value that holds a JSON object or array ("arguments_json":
 * "{\"api_key\":...}") is parsed and walked like the document, so key rules
 * apply inside it; paths continue into it (/request/api_key).  When anything
 * inside was acted on, the string becomes the compact redacted document,
 * else it is copied as written.  Returns W_NOTJSON when v does not parse,
 * and the caller scrubs it as a string. */
/* Parses the JSON that string value v holds, into the run's arena: after a
 * BOM (*pbom = 1), and a string cut inside a surrogate pair by a producer is
 * repaired in a copy first.  *ptext is the text the tree's offsets are in.
 * NULL with *je filled when it does not parse (TJ_ERR_NOMEM: no memory). */
static const TelemJson *parse_embedded(Run *run, const TelemJson *v, const char **ptext,
                                       int *pbom, TelemJsonError *je) {
  const char *z = v->s;
  size_t zn = v->n;
  *pbom = zn >= 3 && memcmp(z, BOM, 3) == 0;
  if (*pbom) z += 3, zn -= 3;
  memset(je, 0, sizeof *je);
  const TelemJson *inner = telem_json_parse(run->arena, z, zn, je);
  if (!inner && je->code == TJ_ERR_SURROGATE) {
    char *c = telem_arena_alloc(run->arena, zn + 1);
    if (!c) {
      je->code = TJ_ERR_NOMEM;
      return NULL;
    }
    memcpy(c, z, zn);
    surrogate_repair(c, zn);
    z = c;
    memset(je, 0, sizeof *je);
    inner = telem_json_parse(run->arena, z, zn, je);
  }
  *ptext = z;
  return inner;
}

static int walk_embedded(Run *run, const TelemJson *v, const RMask *skip) {
  TelemJsonError je;
  const char *z;
  int bom;
  const TelemJson *inner = parse_embedded(run, v, &z, &bom, &je);
  if (!inner) {
    if (je.code == TJ_ERR_NOMEM) return run_oom(run);
    if (je.code == TJ_ERR_DEPTH)
      return run_err(run, "JSON nested deeper than %d levels", TELEM_JSON_MAX_DEPTH);
    if (json_limit_hit(&je)) return run_err(run, "embedded JSON too large: %s", je.what);
    return W_NOTJSON;
  }
  TelemBuf *outer = run->out;
  const char *outer_in = run->in;
  long before = run->changes;
  TelemBuf inner_out;
  telem_buf_init(&inner_out);
  if (bom) out_append(&inner_out, BOM, 3);
  run->out = outer ? &inner_out : NULL;
  run->in = z;
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

static int walk(Run *run, const TelemJson *v, const RMask *skip) {
  TelemRedactor *r = run->r;
  TelemBuf *o = run->out; /* re-read after a child (lazy_flush may start writing) */
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
      if ((v->flags & TJ_F_INTEGRAL) && v->n >= r->num_minlen) {
        if ((rc = find_spans(run, v->s, v->n, skip))) return rc;
        if (r->nspans) {
          if (!run->act) return run->cls >= 3 ? W_STOP : W_OK;
          if (run->lazy && spans_change(run)) lazy_flush(run, v->src_off);
          return emit_scrubbed(run, v->s, v->n, 1, NULL, 0);
        }
      }
      if (o) out_append(o, v->s, v->n);
      return W_OK;
    case TJ_STRING:
      /* (the first byte rules out most strings without a call) */
      if (v->n >= 2 && run->arena &&
          ((unsigned char)v->s[0] <= ' ' || v->s[0] == '{' || v->s[0] == '[' ||
           (unsigned char)v->s[0] == 0xEF) &&
          looks_like_json(v->s, v->n)) {
        if (run->embed < MAX_EMBED) {
          lazy_flush(run, v->src_off); /* walk_embedded writes into its own buffer */
          rc = walk_embedded(run, v, skip);
          if (rc != W_NOTJSON) return rc;
          o = run->out;
        }
        /* Fail closed where the key rules cannot look inside: JSON below
         * the embedding limit, or embedded JSON that does not parse
         * (truncated, ...).  classify makes it S3; profiles that hash or
         * drop members by key refuse; `default` scrubs it as text. */
        if (run->embed >= MAX_EMBED || surely_json(v->s, v->n)) {
          if (!run->act || run->needs_json) {
            const char *why = run->embed >= MAX_EMBED
                                  ? "is nested deeper than the embedding limit (" EMBED_STR " levels)"
                                  : "cannot be read (truncated or malformed)";
            if (!run->log || !run->path.len) return run_err(run, "embedded JSON %s", why);
            /* The path holds scrubbed keys only (walk_object). */
            return run_err(run, "embedded JSON at %.*s %s", (int)run->path.len, run->path.p, why);
          }
        }
      }
      if (v->n >= r->minlen) {
        CleanEnt *set = NULL;
        uint64_t h = 0;
        if (v->n <= VC_MAX && !run->nknown && (run->act || run->cls == 0)) {
          h = XXH3_64bits(v->s, v->n) | 1u;
          set = &r->vcache[h & (VC_SIZE - 2)];
          for (int w = 0; w < 2; w++) {
            CleanEnt *ce = &set[w];
            if (ce->h == h && ce->len == v->n && ce->act == run->act &&
                ce->skip.w[0] == skip->w[0] && ce->skip.w[1] == skip->w[1] &&
                telem_bytes_eq(ce->s, v->s, v->n)) {
              ce->recent = 1;
              set[!w].recent = 0;
              if (o) out_append(o, run->in + v->src_off, v->src_len);
              return W_OK;
            }
          }
        }
        if ((rc = find_spans(run, v->s, v->n, skip))) return rc;
        /* Admitted on its second sighting only (the doorkeeper remembers
         * the first): ids and timestamps, new in every row, would
         * otherwise evict the values that do repeat. */
        uint32_t *door = set ? &r->vdoor[(h >> 40) & (VC_SIZE - 1)] : NULL;
        if (set && !r->nspans && *door != (uint32_t)h) {
          *door = (uint32_t)h;
        } else if (set && !r->nspans) {
          CleanEnt *ce = &set[set[0].recent]; /* the way not hit last */
          ce->h = h;
          ce->act = run->act;
          ce->skip = *skip;
          ce->len = (uint8_t)v->n;
          memcpy(ce->s, v->s, v->n);
          ce->recent = 1;
          set[ce == set].recent = 0;
        }
        if (!run->act) return run->cls >= 3 ? W_STOP : W_OK;
        if (run->lazy && r->nspans && spans_change(run)) lazy_flush(run, v->src_off);
        return emit_scrubbed(run, v->s, v->n, 1, run->in + v->src_off, v->src_len);
      }
      if (o) out_append(o, run->in + v->src_off, v->src_len);
      return W_OK;
    case TJ_ARRAY: {
      if (o) out_putc(o, '[');
      uint32_t i = 0;
      for (const TelemJson *e = v->child; e; e = e->next, i++) {
        o = run->out;
        if (o && i) out_putc(o, ',');
        size_t mark = run->path.len;
        if (run->log) {
          telem_buf_printf(&run->path, "/%u", i);
          if ((rc = path_push(run, mark))) return rc;
        }
        if ((rc = walk(run, e, skip))) return rc;
        path_pop(run, mark);
      }
      if (run->out) out_putc(run->out, ']');
      return W_OK;
    }
    case TJ_OBJECT: return walk_object(run, v);
    default: return run_err(run, "unexpected JSON node");
  }
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
 * UTF-8 or a lone surrogate escape is repaired (telem_buf_utf8_repair,
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
  if (je->code == TJ_ERR_NOMEM) return PJ_OOM;
  if (je->code == TJ_ERR_DEPTH) return PJ_DEEP;
  if (json_limit_hit(je) && looks_like_json(*ptext, *pn)) return PJ_BIG;
  if (je->code != TJ_ERR_UTF8 && je->code != TJ_ERR_SURROGATE)
    return PJ_TEXT;
  if (*pn > UINT32_MAX / 3) return PJ_TEXT;
  TelemBuf rb;
  telem_buf_init(&rb);
  telem_buf_utf8_repair(&rb, *ptext, *pn);
  size_t dn = rb.len;
  unsigned char *d = (unsigned char *)telem_buf_take(&rb);
  if (!d) {
    telem_buf_free(&rb);
    return PJ_OOM;
  }
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
  if (e2.code == TJ_ERR_NOMEM) return PJ_OOM;
  if (e2.code == TJ_ERR_DEPTH) return PJ_DEEP;
  if (json_limit_hit(&e2) && looks_like_json(*ptext, *pn)) {
    *je = e2;
    return PJ_BIG;
  }
  return PJ_TEXT;
}

static int parse_fail_msg(int pj, const TelemJsonError *je, char **pzErr) {
  if (pj == PJ_DEEP) telem_set_err(pzErr, "JSON nested deeper than %d levels", TELEM_JSON_MAX_DEPTH);
  else if (pj == PJ_BIG) telem_set_err(pzErr, "JSON too large: %s", je->what);
  else telem_set_oom(pzErr);
  return -1;
}

/* 1 when the first non-blank byte of text opens a JSON object or array. */
static int looks_like_json(const char *s, size_t n) {
  for (size_t i = (n >= 3 && memcmp(s, BOM, 3) == 0) ? 3 : 0; i < n; i++) {
    if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') continue;
    return s[i] == '{' || s[i] == '[';
  }
  return 0;
}

static void run_init(Run *run, TelemRedactor *r, TelemArena *a, const char *text, size_t n) {
  memset(run, 0, sizeof(*run));
  run->r = r;
  run->in = text;
  run->arena = a;
  telem_buf_init(&run->path);
  run->budget_ms = BUDGET_MS_BASE + (uint64_t)(n >> 20) * BUDGET_MS_PER_MIB;
}

static void run_free_found(Run *run) {
  for (int i = 0; i < run->nfound; i++) sqlite3_free(run->found[i].s);
  sqlite3_free(run->found);
  run->found = NULL;
  run->nfound = run->cfound = 0;
}

/* 1 when some secret redacted in the first pass may occur again in the
 * payload: it occurs more than once in the input as written, or it has
 * bytes that JSON escapes (so the raw count cannot tell). */
static int echo_possible(const Run *run, const char *text, size_t n) {
  for (int i = 0; i < run->nfound; i++) {
    const Known *K = &run->found[i];
    for (size_t j = 0; j < K->n; j++) {
      unsigned char c = (unsigned char)K->s[j];
      if (c < 0x20 || c == '"' || c == '\\' || c == '/' || c >= 0x80) return 1;
    }
    const char *q = mem_find(text, n, K->s, K->n);
    if (q && mem_find(q + 1, n - (size_t)(q - text) - 1, K->s, K->n)) return 1;
  }
  return 0;
}

/* One pass over the parsed document or the text. */
static int run_pass(Run *run, const TelemJson *root, const char *text, size_t n) {
  if (root) return walk(run, root, &rm_none);
  int rc = find_spans(run, text, n, &rm_none);
  if (!rc) rc = emit_scrubbed(run, text, n, 0, NULL, 0);
  return rc;
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
  const char *orig = text;
  size_t orig_n = n;
  int bom = n >= 3 && memcmp(text, BOM, 3) == 0;
  if (bom) text += 3, n -= 3;
  int pj = parse_json(a, &text, &n, &root, &fixed, &je);
  if (pj == PJ_OOM || pj == PJ_DEEP || pj == PJ_BIG) return parse_fail_msg(pj, &je, pzErr);
  if (pj == PJ_TEXT) {
    if (P->needs_json && (looks_like_json(text, n) || surely_json(text, n))) {
      /* Fail closed: this profile hashes or drops members by key, which
       * text patterns cannot do; scrubbing malformed JSON as text would
       * keep the content the caller asked to remove. */
      telem_set_err(pzErr, "profile \"%s\" needs well-formed JSON: %s at byte %llu", P->name,
                    je.what ? je.what : "invalid JSON",
                    (unsigned long long)je.offset + (bom ? 3u : 0u));
      return -1;
    }
    text = orig; /* text keeps its BOM */
    n = orig_n;
    bom = 0;
  }
  size_t out_mark = out ? out->len : 0;
  int log_mark = log ? log->n : 0, node_mark = log ? log->nnodes : 0;
  size_t tok_mark = log ? log->tok.len : 0;
  Run run;
  run_init(&run, r, a, text, n);
  run.act = P->action;
  run.out = out;
  run.log = log;
  run.needs_json = P->needs_json;
  run.collect = 1;
  run.repair = !root && !telem_utf8_valid(text, n);
  if (out) {
    telem_buf_reserve(out, n + 64);
    if (bom) out_append(out, BOM, 3);
  }
  if (out && root && (root->flags & TJ_F_VERBATIM)) {
    /* Most rows need no change: write nothing until one (lazy_flush). */
    run.lazy = out;
    run.out = NULL;
  }
  int rc = run_pass(&run, root, text, n);
  if (!rc && run.lazy) {
    out_append(out, text, n); /* no change: the input is the output */
    run.lazy = NULL;
    run.out = out;
  }
  if (!rc && run.nfound && echo_possible(&run, text, n)) {
    /* Every other occurrence of a secret found anywhere in the payload is
     * redacted too: a second pass with the secrets as literal patterns. */
    if (out) {
      out->len = out_mark;
      if (bom) out_append(out, BOM, 3);
    }
    if (log) {
      log->n = log_mark;
      log->nnodes = node_mark;
      log->tok.len = tok_mark;
    }
    run.path.len = 0;
    run.nlv = 0;
    run.collect = 0;
    run.known = run.found;
    run.nknown = run.nfound;
    rc = run_pass(&run, root, text, n);
  }
  if (!rc && (run.path.oom || (out && out->oom))) rc = run_oom(&run);
  telem_buf_free(&run.path);
  sqlite3_free(run.lv);
  run_free_found(&run);
  sqlite3_free(fixed);
  if (rc) {
    if (run.oom || !run.err) telem_set_oom(pzErr);
    else telem_set_err(pzErr, "%s", run.err);
    sqlite3_free(run.err);
    return -1;
  }
  return 0;
}

/* ---- classify ------------------------------------------------------------ */

/* classify walks the document with its own walker (cwalk): the class is
 * a maximum, so it writes nothing, records nothing, skips every rule that
 * cannot raise the class found so far, and stops at S3.  Its caches
 * remember the class a key or short value was found clean at: clean while
 * classifying from class c means no value rule above c matches it, so it
 * is clean for every later run at c or above (a row whose taxonomy class
 * is S1 -- most of Vox's -- would otherwise never hit the caches).  The
 * tag is the address of clean_tag[c] in the caches' profile-actions field
 * (NULL there is what the generic walk writes: clean from S0). */
static const uint8_t clean_tag[4];

static int clean_at_or_below(const uint8_t *tag, int cls) {
  if (!tag) return 1;
  uintptr_t t = (uintptr_t)tag, b = (uintptr_t)clean_tag;
  return t >= b && t <= b + (uintptr_t)cls;
}

static int cwalk(Run *run, const TelemJson *v, const RMask *skip);

/* A string that holds JSON (walk_embedded): W_NOTJSON when it does not
 * parse; what cannot be read for a limit is S3. */
static int cwalk_embedded(Run *run, const TelemJson *v, const RMask *skip) {
  TelemJsonError je;
  const char *z;
  int bom;
  const TelemJson *inner = parse_embedded(run, v, &z, &bom, &je);
  if (!inner) {
    if (je.code == TJ_ERR_NOMEM) return run_oom(run);
    if (je.code == TJ_ERR_DEPTH || json_limit_hit(&je)) {
      run->cls = 3;
      return W_STOP;
    }
    return W_NOTJSON;
  }
  run->embed++;
  int rc = cwalk(run, inner, skip);
  run->embed--;
  return rc;
}

/* A member key: its KeyInfo, and the value patterns over the key itself
 * (keys are data), unless it is known clean at this class or below. */
static int ckey(Run *run, const char *key, size_t klen, KeyInfo *ki) {
  TelemRedactor *r = run->r;
  int rc;
  KeyCacheEnt *e = NULL;
  if (klen <= KC_KEYMAX) {
    /* The probe of key_info, inline; a miss (rare) goes through it. */
    uint64_t h = XXH3_64bits(key, klen);
    for (uint32_t j = (uint32_t)h & (r->kc_cap - 1);; j = (j + 1) & (r->kc_cap - 1)) {
      KeyCacheEnt *c = &r->kcache[j];
      if (!c->valid) break;
      if (c->h == h && c->len == klen && telem_bytes_eq(c->key, key, klen)) {
        e = c;
        break;
      }
    }
  }
  if (e) {
    ki->rule = e->rule;
    ki->skip = e->skip;
    ki->e = e;
  } else if ((rc = key_info(run, key, klen, ki, UINT32_MAX))) {
    return rc;
  }
  int known_clean = ki->e && ki->e->clean && clean_at_or_below(ki->e->clean_act, run->cls);
  if (klen >= r->minlen && !known_clean) {
    int at = run->cls;
    if ((rc = find_spans(run, key, klen, &rm_none))) return rc;
    if (run->cls >= 3) return W_STOP;
    if (ki->e && !r->nspans) {
      ki->e->clean = 1;
      ki->e->clean_act = &clean_tag[at];
    }
  }
  return W_OK;
}

/* The key rule of a member whose value v is not empty (nor a pseudonym). */
static int ckey_rule(Run *run, const KeyInfo *ki, const TelemJson *v) {
  if (ki->rule >= 0 && value_nonempty(v) && !is_pseudonym(v)) {
    int c = run->r->rules[ki->rule].cls;
    if (c > run->cls) run->cls = c;
    if (run->cls >= 3) return W_STOP;
  }
  return W_OK;
}

/* classify's cache of short clean strings and integers: two entries per
 * set, the most recently used first.  (A direct-mapped one thrashed: Vox
 * rows mix a few dozen repeating values with unique ids, and two common
 * values sharing a slot evicted each other on every row.)  The entries
 * carry their clean_tag; NULL when the cache could not be made. */
static CleanEnt *cc_set(TelemRedactor *r, uint64_t h) {
  if (!r->ccache) {
    r->ccache = sqlite3_malloc64(sizeof(CleanEnt) * CC_SETS * 2);
    if (!r->ccache) return NULL; /* no cache: every string is scanned */
    memset(r->ccache, 0, sizeof(CleanEnt) * CC_SETS * 2);
  }
  return &r->ccache[((h >> 1) & (CC_SETS - 1)) * 2];
}

/* Value patterns over a string value that is not JSON, or an integer
 * literal (card numbers), unless it is known clean at this class or
 * below. */
static int cscan_value(Run *run, const char *s, size_t n, const RMask *skip) {
  TelemRedactor *r = run->r;
  CleanEnt *set = NULL;
  uint64_t h = 0;
  if (n <= VC_MAX) {
    h = XXH3_64bits(s, n) | 1u;
    if ((set = cc_set(r, h))) {
      for (int w = 0; w < 2; w++) {
        CleanEnt *ce = &set[w];
        if (ce->h == h && ce->len == n && clean_at_or_below(ce->act, run->cls) &&
            telem_bytes_eq(ce->s, s, n)) {
          if (w) {
            CleanEnt t = set[0];
            set[0] = set[1];
            set[1] = t;
          }
          return W_OK;
        }
      }
    }
  }
  int at = run->cls, rc;
  if ((rc = find_spans(run, s, n, skip))) return rc;
  if (set && !r->nspans && skip->w[0] == 0 && skip->w[1] == 0) {
    set[1] = set[0];
    set[0].h = h;
    set[0].act = &clean_tag[at];
    set[0].len = (uint8_t)n;
    memcpy(set[0].s, s, n);
  }
  return run->cls >= 3 ? W_STOP : W_OK;
}

static int cstring(Run *run, const char *s, size_t n, const RMask *skip) {
  return n < run->r->minlen ? W_OK : cscan_value(run, s, n, skip);
}

/* An integer literal (card numbers). */
static int cnumber(Run *run, const char *s, size_t n, const RMask *skip) {
  return n < run->r->num_minlen ? W_OK : cscan_value(run, s, n, skip);
}

static int cwalk_object(Run *run, const TelemJson *v) {
  int rc;
  for (const TelemJson *m = v->child; m; m = m->next) {
    KeyInfo ki;
    if ((rc = ckey(run, m->key, m->key_len, &ki))) return rc;
    if ((rc = ckey_rule(run, &ki, m))) return rc;
    if ((rc = cwalk(run, m, &ki.skip))) return rc;
  }
  return W_OK;
}

static int cwalk(Run *run, const TelemJson *v, const RMask *skip) {
  int rc;
  switch (v->type) {
    case TJ_NUMBER:
      return (v->flags & TJ_F_INTEGRAL) ? cnumber(run, v->s, v->n, skip) : W_OK;
    case TJ_STRING:
      if (v->n >= 2 && looks_like_json(v->s, v->n)) {
        if (run->embed < MAX_EMBED) {
          rc = cwalk_embedded(run, v, skip);
          if (rc != W_NOTJSON) return rc;
        }
        /* Where the key rules cannot look inside (below the embedding
         * limit, or JSON that does not parse): S3, as walk fails closed. */
        if (run->embed >= MAX_EMBED || surely_json(v->s, v->n)) {
          run->cls = 3;
          return W_STOP;
        }
      }
      return cstring(run, v->s, v->n, skip);
    case TJ_ARRAY:
      for (const TelemJson *e = v->child; e; e = e->next)
        if ((rc = cwalk(run, e, skip))) return rc;
      return W_OK;
    case TJ_OBJECT: return cwalk_object(run, v);
    default: return W_OK; /* null, true, false */
  }
}

/* ---- the classify scanner ----
 * Most payloads are plain: printable ASCII strings without escapes, a few
 * levels deep.  For those, classify reads the text once, without building
 * a tree: it checks the syntax exactly as the parser does (RFC 8259) and
 * hands keys, strings and integers to the same ckey / cstring / cnumber
 * as cwalk, in the same order.  Anything else -- a byte outside printable
 * ASCII or a backslash in a string, a string that holds JSON, nesting
 * deeper than CS_DEPTH, a scalar document, invalid JSON -- returns
 * W_NOTJSON ("not sure"), and the caller parses and walks: the answer is
 * the walk's in every case.  (Work done before giving up only fills the
 * caches, which hold what is true of the key or string alone; a class
 * raised to S3 on the way is the answer whatever follows, since text that
 * is not JSON is S3 too.) */
#define CS_DEPTH 32
/* Larger texts are parsed: at most CS_MAX / 2 + 1 values, below the
 * parser's TELEM_JSON_MAX_VALUES, so the scanner never accepts what the
 * parser refuses for size. */
#define CS_MAX (1u << 22)

static inline size_t cs_ws(const unsigned char *z, size_t i, size_t n) {
  if (i < n && z[i] > ' ') return i; /* most payloads are compact */
  while (i < n && (z[i] == ' ' || z[i] == '\n' || z[i] == '\r' || z[i] == '\t')) i++;
  return i;
}

/* The end (after the closing quote) of the plain string opening at z[i],
 * or 0 when it is not plain or not closed. */
static inline size_t cs_string(const unsigned char *z, size_t i, size_t n) {
  i++;
  /* Eight bytes at a time (telem_json_stop_bits): the lowest flagged byte
   * is where the string stops being plain -- or ends, at the quote. */
  while (i + 8 <= n) {
    uint64_t w;
    memcpy(&w, z + i, 8);
    uint64_t stop = telem_json_stop_bits(w);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (stop) {
      i += (size_t)__builtin_ctzll(stop) >> 3;
      return z[i] == '"' ? i + 1 : 0;
    }
#else
    if (stop) break;
#endif
    i += 8;
  }
  while (i < n && z[i] >= 0x20 && z[i] < 0x80 && z[i] != '"' && z[i] != '\\') i++;
  return i < n && z[i] == '"' ? i + 1 : 0;
}

/* The end of the RFC 8259 number at z[i], or 0; *integral: no fraction
 * or exponent. */
static inline size_t cs_number(const unsigned char *z, size_t i, size_t n, int *integral) {
  *integral = 1;
  if (z[i] == '-') i++;
  if (i >= n) return 0;
  if (z[i] == '0') i++;
  else if (z[i] >= '1' && z[i] <= '9') while (i < n && z[i] >= '0' && z[i] <= '9') i++;
  else return 0;
  if (i < n && z[i] == '.') {
    *integral = 0;
    if (++i >= n || z[i] < '0' || z[i] > '9') return 0;
    while (i < n && z[i] >= '0' && z[i] <= '9') i++;
  }
  if (i < n && (z[i] == 'e' || z[i] == 'E')) {
    *integral = 0;
    i++;
    if (i < n && (z[i] == '+' || z[i] == '-')) i++;
    if (i >= n || z[i] < '0' || z[i] > '9') return 0;
    while (i < n && z[i] >= '0' && z[i] <= '9') i++;
  }
  return i;
}

/* The member value at z[i] as a node for value_nonempty / is_pseudonym:
 * type and, for a string, its bytes; a container's n is 1 when it has a
 * child.  0 when the value is not plain (the caller gives up). */
static int cs_peek(const unsigned char *z, size_t i, size_t n, TelemJson *v) {
  memset(v, 0, sizeof(*v));
  if (i >= n) return 0;
  switch (z[i]) {
    case '"': {
      size_t e = cs_string(z, i, n);
      if (!e) return 0;
      v->type = TJ_STRING;
      v->s = (const char *)z + i + 1;
      v->n = (uint32_t)(e - i - 2);
      return 1;
    }
    case '{':
    case '[': {
      size_t k = cs_ws(z, i + 1, n);
      v->type = z[i] == '{' ? TJ_OBJECT : TJ_ARRAY;
      v->n = k < n && z[k] != (z[i] == '{' ? '}' : ']');
      return 1;
    }
    case 't': v->type = TJ_TRUE; return 1;
    case 'f': v->type = TJ_FALSE; return 1;
    case 'n': v->type = TJ_NULL; return 1;
    default: v->type = TJ_NUMBER; v->n = 1; return 1; /* checked when read */
  }
}

typedef struct CsFrame {
  int obj;    /* an object (else an array) */
  RMask skip; /* an array: the skip of its elements */
} CsFrame;

static int classify_scan(Run *run, const char *text, size_t n) {
  const unsigned char *z = (const unsigned char *)text;
  CsFrame st[CS_DEPTH];
  int sp = 0, rc;
  RMask skip = rm_none; /* of the value about to be read */
  size_t i = cs_ws(z, 0, n);
  if (n > UINT32_MAX || i >= n || (z[i] != '{' && z[i] != '[')) return W_NOTJSON;
  for (;;) {
    /* A value at z[i]. */
    i = cs_ws(z, i, n);
    if (i >= n) return W_NOTJSON;
    unsigned char c = z[i];
    if (c == '{' || c == '[') {
      if (sp == CS_DEPTH) return W_NOTJSON;
      st[sp].obj = c == '{';
      st[sp].skip = skip;
      sp++;
      i = cs_ws(z, i + 1, n);
      if (i < n && z[i] == (c == '{' ? '}' : ']')) {
        i++;
        sp--;
      } else if (c == '[') {
        continue; /* its first element, with the same skip */
      } else {
        goto key;
      }
    } else if (c == '"') {
      size_t e = cs_string(z, i, n);
      if (!e) return W_NOTJSON;
      const char *s = text + i + 1;
      size_t sn = e - i - 2;
      /* Embedded JSON goes to the walk (no BOM here: bytes >= 0x80 are not plain). */
      if (sn >= 2 && (s[0] == '{' || s[0] == '[' || s[0] <= ' ') && looks_like_json(s, sn))
        return W_NOTJSON;
      if ((rc = cstring(run, s, sn, &skip))) return rc;
      i = e;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      int integral;
      size_t e = cs_number(z, i, n, &integral);
      if (!e) return W_NOTJSON;
      if (integral && (rc = cnumber(run, text + i, e - i, &skip))) return rc;
      i = e;
    } else if (c == 't' && n - i >= 4 && memcmp(z + i, "true", 4) == 0) {
      i += 4;
    } else if (c == 'f' && n - i >= 5 && memcmp(z + i, "false", 5) == 0) {
      i += 5;
    } else if (c == 'n' && n - i >= 4 && memcmp(z + i, "null", 4) == 0) {
      i += 4;
    } else {
      return W_NOTJSON;
    }
    /* After a value: ',' or the end of its container(s). */
    for (;;) {
      i = cs_ws(z, i, n);
      if (sp == 0) return i == n ? W_OK : W_NOTJSON;
      if (i >= n) return W_NOTJSON;
      if (z[i] == ',') {
        i++;
        break;
      }
      if (z[i] != (st[sp - 1].obj ? '}' : ']')) return W_NOTJSON;
      i++;
      sp--;
    }
    if (!st[sp - 1].obj) {
      skip = st[sp - 1].skip;
      continue;
    }
  key:
    /* A member: key, ':', then its value (next turn). */
    i = cs_ws(z, i, n);
    if (i >= n || z[i] != '"') return W_NOTJSON;
    {
      size_t e = cs_string(z, i, n);
      if (!e) return W_NOTJSON;
      const char *k = text + i + 1;
      size_t kn = e - i - 2;
      i = cs_ws(z, e, n);
      if (i >= n || z[i] != ':') return W_NOTJSON;
      i = cs_ws(z, i + 1, n);
      KeyInfo ki;
      if ((rc = ckey(run, k, kn, &ki))) return rc;
      if (ki.rule >= 0) {
        TelemJson v;
        if (!cs_peek(z, i, n, &v)) return W_NOTJSON;
        if ((rc = ckey_rule(run, &ki, &v))) return rc;
      }
      skip = ki.skip;
    }
  }
}

/* ref: 1 runs the generic walk (telem_redactor_run's, with no profile)
 * instead of cwalk -- the reference the tests compare cwalk with. */
static int classify_impl(TelemRedactor *r, TelemArena *a, const char *text, size_t n, int *cls,
                         char **pzErr, int ref) {
  if (*cls >= 3) return 0;
  const TelemJson *root = NULL;
  char *fixed = NULL;
  TelemJsonError je;
  if (n >= 3 && memcmp(text, BOM, 3) == 0) text += 3, n -= 3;
  Run run;
  run_init(&run, r, a, text, n);
  run.cls = *cls;
  int rc = W_NOTJSON;
  if (!ref && n <= CS_MAX) rc = classify_scan(&run, text, n);
  if (rc == W_NOTJSON) {
    run.cls = *cls; /* the walk decides, from the start */
    int pj = parse_json(a, &text, &n, &root, &fixed, &je);
    if (pj == PJ_OOM) {
      telem_buf_free(&run.path);
      return parse_fail_msg(pj, &je, pzErr);
    }
    if (pj != PJ_JSON) {
      /* Free text, or hostile JSON, in a payload: we cannot tell what it
       * holds, so it is content (fail closed). */
      telem_buf_free(&run.path);
      *cls = 3;
      return 0;
    }
    run.in = text;
    rc = ref ? walk(&run, root, &rm_none) : cwalk(&run, root, &rm_none);
  }
  telem_buf_free(&run.path);
  sqlite3_free(run.lv);
  sqlite3_free(fixed);
  if (rc == W_ERR) {
    if (run.oom) {
      telem_set_oom(pzErr);
      sqlite3_free(run.err);
      return -1;
    }
    if (run.stopped) {
      telem_set_err(pzErr, "interrupted");
      sqlite3_free(run.err);
      return -1;
    }
    /* Part of the payload could not be read (embedded JSON too deep,
     * unreadable or too large, a pattern at its match limit or the work
     * budget): like free text, it may hold anything, so it is content --
     * and one such row does not abort a governance query. */
    sqlite3_free(run.err);
    *cls = 3;
    return 0;
  }
  *cls = run.cls;
  return 0;
}

int telem_redactor_classify(TelemRedactor *r, TelemArena *a, const char *text, size_t n, int *cls,
                            char **pzErr) {
  return classify_impl(r, a, text, n, cls, pzErr, 0);
}

int telem_redactor_classify_ref(TelemRedactor *r, TelemArena *a, const char *text, size_t n,
                                int *cls, char **pzErr) {
  return classify_impl(r, a, text, n, cls, pzErr, 1);
}

int telem_redactor_scrub_text(TelemRedactor *r, const char *text, size_t n, TelemBuf *out,
                              char **pzErr) {
  int p = telem_redactor_profile_index(r, "default");
  if (p < 0) {
    telem_set_err(pzErr, "no default profile");
    return -1;
  }
  Run run;
  run_init(&run, r, NULL, text, n);
  run.act = r->profiles[p].action;
  run.out = out;
  run.repair = !telem_utf8_valid(text, n);
  int rc = find_spans(&run, text, n, &rm_none);
  if (!rc) rc = emit_scrubbed(&run, text, n, 0, NULL, 0);
  if (!rc && out->oom) rc = run_oom(&run);
  telem_buf_free(&run.path);
  sqlite3_free(run.lv);
  run_free_found(&run);
  if (rc) {
    if (run.oom || !run.err) telem_set_oom(pzErr);
    else telem_set_err(pzErr, "%s", run.err);
    sqlite3_free(run.err);
    return -1;
  }
  return 0;
}

void telem_redactor_set_stop(TelemRedactor *r, TelemRedactStop fn, void *arg) {
  r->stop = fn;
  r->stop_arg = arg;
}

int telem_redactor_set_hmac_key(TelemRedactor *r, const char *keyid, const void *key, size_t n,
                                char **pzErr) {
  if (r->hmac_key) {
    memset(r->hmac_key, 0, r->hmac_key_len);
    sqlite3_free(r->hmac_key);
    r->hmac_key = NULL;
    r->hmac_key_len = 0;
  }
  sqlite3_free(r->hmac_keyid);
  r->hmac_keyid = NULL;
  if (n == 0) return 0;
  size_t kl = keyid ? strlen(keyid) : 0;
  int ok = kl >= 1 && kl <= 32;
  for (size_t i = 0; ok && i < kl; i++) {
    char c = keyid[i];
    ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
  }
  if (!ok) {
    telem_set_err(pzErr, "key id must match [A-Za-z0-9._-]{1,32}");
    return -1;
  }
  if (n > 4096) {
    telem_set_err(pzErr, "key longer than 4096 bytes");
    return -1;
  }
  if (!(r->hmac_key = sqlite3_malloc64(n)) || !(r->hmac_keyid = dup_n(keyid, kl))) {
    sqlite3_free(r->hmac_key);
    r->hmac_key = NULL;
    telem_set_oom(pzErr);
    return -1;
  }
  memcpy(r->hmac_key, key, n);
  r->hmac_key_len = n;
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
    telem_set_oom(pzErr);
    return -1;
  }
  *pout = z;
  if (pn) *pn = len;
  return 0;
}
