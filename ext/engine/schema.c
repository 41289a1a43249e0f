/*
 * schema.c -- the JSON Schema engine (draft-04, -06, -07, 2019-09 and
 * 2020-12, each by its own keyword semantics), SQLite-free.
 * The SQL functions that use it are in validate.c; the public C API is
 * declared in include/voxtelem.h.
 *
 * Documents (schema text) are parsed with the data-path parser into an
 * arena that the set or the compiled schema owns: that keeps numbers exact
 * as text (jansson would round 1.1 and refuse 2^64), and lets const/enum
 * compare with telem_json_equal.  Each document is indexed once: the base
 * URI of every subschema, "$id" resources, "$anchor"s and "$dynamicAnchor"s.
 *
 * Compiling turns every reachable schema object into an SNode: a list of
 * keywords (Kw) in evaluation order, cheap checks first and unevaluated*
 * last.  Every $ref is resolved and every pattern compiled (PCRE2, JIT,
 * match and depth limits) at compile time; the hot path only reads.  A
 * $ref cycle that goes through in-place applicators only (it would recurse
 * without consuming input) is refused at compile time; any other runaway
 * recursion stops at SC_MAX_DEPTH, or where the calling thread's stack runs
 * short (sc_stack_room), with an error, never a stack overflow.  Each call
 * has a work budget (schema steps) and polls an interrupt callback.
 *
 * Validating has two modes: fail-fast (the 1/0 answer: stop at the first
 * failing keyword) and collect (every failing leaf, with its instance and
 * keyword locations).  unevaluatedProperties/Items use annotation bitsets
 * (one bit per member or item) allocated from the per-call scratch arena,
 * so a validation does no malloc once the scratch has warmed up.
 */
#define _GNU_SOURCE /* pthread_getattr_np: the bounds of the thread's stack */
#include "engine/schema_int.h"
#include "voxtelem.h"

#include <stdio.h>

#include <pthread.h>
#include <xxhash.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#define SC_MAX_DEPTH 2000               /* nested schema evaluations */
/* C stack: compiling and validating recurse with the schema and the
 * instance, so each entry point measures the room left on the calling
 * thread's stack and stops with an error before it runs out (keeping
 * SC_STACK_MARGIN for PCRE2, value hashing and the callers).  When the
 * bounds of the stack cannot be known, SC_STACK_DEFAULT is assumed. */
#define SC_STACK_MARGIN (64 * 1024)
#define SC_STACK_DEFAULT (96 * 1024)
#define SC_KP_CAP (SC_MAX_DEPTH * 3 + 64) /* keyword-path tokens */
#define SC_IP_CAP (TELEM_JSON_MAX_DEPTH + 8)

#ifndef TJ_F_KEY_DECODED
#define TJ_F_KEY_DECODED TJ_F_DECODED
#endif

/* ---- types ---------------------------------------------------------------- */

enum { SN_TRUE, SN_FALSE, SN_OBJ };

enum {
  OP_TYPE, OP_ENUM, OP_CONST, OP_MULTIPLEOF, OP_MAXIMUM, OP_EXMAXIMUM, OP_MINIMUM,
  OP_EXMINIMUM, OP_MAXLENGTH, OP_MINLENGTH, OP_PATTERN, OP_MAXITEMS, OP_MINITEMS,
  OP_UNIQUE, OP_ITEMS, OP_CONTAINS, OP_MAXPROPS, OP_MINPROPS, OP_REQUIRED, OP_DEPS,
  OP_PROPS, OP_PROPNAMES, OP_REF, OP_DYNREF, OP_ALLOF, OP_ANYOF, OP_ONEOF, OP_NOT,
  OP_IF, OP_UNEVAL_ITEMS, OP_UNEVAL_PROPS, OP_FORMAT
};

#define T_NULL (1u << TJ_NULL)
#define T_BOOL ((1u << TJ_FALSE) | (1u << TJ_TRUE))
#define T_NUMBER (1u << TJ_NUMBER)
#define T_STRING (1u << TJ_STRING)
#define T_ARRAY (1u << TJ_ARRAY)
#define T_OBJECT (1u << TJ_OBJECT)
#define T_INTEGER (1u << 8)

typedef struct SNode SNode;

typedef struct Pat {
  pcre2_code *code; /* owned */
  const char *src;  /* pattern text, NUL-terminated (arena) */
  struct Pat *next; /* all patterns of the schema */
  /* ^[class]{min,max}$ with an ASCII class (hex ids, slugs): matched by a
   * byte table instead of PCRE2, the same answer at a fraction of the cost */
  uint8_t simple;
  uint32_t smin, smax;
  uint8_t tab[256]; /* 1 for the bytes in the class (ASCII only) */
} Pat;

typedef struct PropEnt {
  const char *key; /* not NUL-terminated */
  uint32_t klen;
  uint8_t dup;     /* an earlier entry has the same name (it wins) */
  SNode *node;
} PropEnt;

/* enum and const: the values, hashed when there are many. */
typedef struct ValSet {
  const TelemJson *v;       /* the enum array, or the const value */
  int list;                 /* 1: enum (v holds the values) */
  uint32_t n;               /* values */
  uint32_t types;           /* 1 << TJ_* of every value: a quick "no" */
  const TelemJson **slots;  /* open addressing, mask + 1 slots; NULL when n is small */
  uint64_t *hashes;
  uint32_t mask;
} ValSet;

typedef struct PropsKw {
  PropEnt *props; uint32_t nprops;      /* "properties" */
  uint32_t *ptab; uint32_t pmask;       /* hash of props: index + 1, 0 empty; NULL when few */
  Pat **pats; SNode **pnodes; uint32_t npats; /* "patternProperties" */
  SNode *addl;                          /* "additionalProperties" or NULL */
} PropsKw;

typedef struct ItemsKw {
  SNode **prefix; uint32_t nprefix; /* prefixItems, or draft-07 items array */
  const char *prefix_name;
  SNode *rest;                      /* items (2020-12), items/additionalItems (07) */
  const char *rest_name;
} ItemsKw;

typedef struct DepEnt {
  const char *key; uint32_t klen;
  const TelemJson *req; /* array of names, or NULL */
  SNode *node;          /* dependent schema, or NULL */
} DepEnt;

typedef struct DynCand {
  const TelemJson *res; /* resource root that declares the anchor */
  SNode *node;
} DynCand;

typedef struct Kw {
  uint8_t op;
  uint8_t has_ib;   /* numeric bound: ib holds it as an exact int64 */
  int64_t ib;
  const char *name; /* keyword, for schema paths */
  const char *lit;  /* numeric keywords: the bound as written (arena) */
  union {
    uint32_t types;
    const TelemJson *v;               /* required (array) */
    ValSet *set;                      /* enum, const */
    ScDec dec;                        /* numeric bounds, multipleOf */
    uint64_t count;                   /* length, items and property bounds */
    Pat *pat;
    PropsKw *props;
    ItemsKw *items;
    struct { SNode *node; uint64_t min, max; } contains;
    struct { SNode **subs; uint32_t n; } list;
    SNode *sub;                       /* not, propertyNames, $ref, unevaluated* */
    struct { SNode *cond, *then_, *else_; } ite;
    struct { DepEnt *ents; uint32_t n; } deps;
    struct { SNode *target; DynCand *cands; uint32_t ncands; } dyn;
  } u;
} Kw;

struct SNode {
  uint8_t kind;       /* SN_* */
  uint8_t has_uneval; /* needs its own annotation record */
  uint8_t mark;       /* cycle check: 0 new, 1 on stack, 2 done */
  uint32_t nkw;
  Kw *kw;
  const TelemJson *res; /* resource root, for the dynamic scope */
  const char *loc;      /* schema location, for messages */
};

static SNode sn_true = {SN_TRUE, 0, 2, 0, NULL, NULL, ""};
static SNode sn_false = {SN_FALSE, 0, 2, 0, NULL, NULL, ""};

typedef struct NodeInfo {
  const char *base;     /* base URI (no fragment) */
  const TelemJson *res; /* enclosing resource root */
  int draft;            /* TELEM_DRAFT_* */
  const char *unknown;  /* a "$schema" no draft is known for (arena), else NULL */
} NodeInfo;

/* $recursiveAnchor (2019-09) is kept as a dynamic anchor of this name,
 * which no "$dynamicAnchor" can have. */
#define REC_ANCHOR "#recursive"

typedef struct DynAnchor {
  const char *name;
  const TelemJson *res, *node;
  struct DynAnchor *next;
} DynAnchor;

/* Documents and what indexing found in them.  Lookups fall through to
 * parent (the set a compiled schema or a layered set resolves against). */
typedef struct Index {
  TelemArena arena; /* document texts, trees, NodeInfo, strings */
  ScMap resources;  /* absolute URI without fragment -> resource root */
  ScMap anchors;    /* URI "#" name -> schema */
  ScMap info;       /* TelemJson pointer -> NodeInfo */
  DynAnchor *dyn;   /* every $dynamicAnchor */
  const struct Index *parent; /* not owned */
  uintptr_t stack_base;       /* ix_add's frame, for ix_walk's stack check */
  size_t stack_room;
  int stack_measured;
  int default_draft;
  int ndocs;
} Index;

enum { IX_RESOURCES, IX_ANCHORS, IX_INFO };

static void *ix_get(const Index *ix, int which, const void *key, size_t n) {
  for (; ix; ix = ix->parent) {
    const ScMap *m = which == IX_RESOURCES ? &ix->resources : which == IX_ANCHORS ? &ix->anchors : &ix->info;
    void *v = sc_map_get(m, key, n);
    if (v) return v;
  }
  return NULL;
}

struct TelemSchemaSet {
  int refs;
  Index ix;
  TelemSchemaSet *parent; /* reference held; NULL for a root set */
  uint64_t gen;           /* bumped by every document added */
};

typedef struct Scratch {
  TelemArena arena;       /* annotations, number digits, parse trees */
  pcre2_match_data *md;
  void *stacks;           /* one allocation for the three stacks below */
} Scratch;

struct TelemSchema {
  int refs;                  /* telem_schema_ref / telem_schema_free */
  TelemSchemaSet *set;       /* reference, may be NULL */
  Index ix;                  /* the compiled document itself */
  ScMap nodes;               /* TelemJson pointer -> SNode (compile time) */
  ScMap patmap;              /* pattern text -> Pat */
  Pat *pats;                 /* owned PCRE2 codes */
  pcre2_match_context *mctx; /* limits */
  SNode *root;
  int has_dyn;               /* uses $dynamicRef: track the dynamic scope */
  int busy;                  /* scratch in use (atomic) */
  Scratch scratch;
};

typedef struct TelemSchemaErrors {
  int n, cap;
  TelemSchemaError *v; /* strings sqlite3_malloc'd */
} ErrVec;

/* ---- stack --------------------------------------------------------------------- */

/* Bytes the engine may still use below frame address here: the room left
 * on this thread's stack less SC_STACK_MARGIN (SC_STACK_DEFAULT when the
 * bounds cannot be known).  pthread_getattr_np can be slow (the main
 * thread's bounds come from /proc/self/maps), so callers first allow
 * SC_STACK_QUICK, which any thread of 128 KiB or more has, and ask only
 * when a call goes deeper (sc_stack_over). */
static size_t sc_stack_room(uintptr_t here) {
  /* Measured bounds are remembered per thread (pthread_self() and the
   * range, checked against the frame), so deep calls on the main thread do
   * not read /proc/self/maps each time; a mutex, not thread-local storage,
   * so nothing outlives the extension when it is unloaded. */
  static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  static struct { pthread_t id; uintptr_t lo, hi; } seen[8];
  static unsigned next;
  pthread_t self = pthread_self();
  uintptr_t lo = 0, hi = 0;
  pthread_mutex_lock(&mu);
  for (unsigned i = 0; i < 8; i++)
    if (seen[i].hi && pthread_equal(seen[i].id, self) && here > seen[i].lo && here < seen[i].hi) {
      lo = seen[i].lo;
      hi = seen[i].hi;
    }
  pthread_mutex_unlock(&mu);
#if defined(__GLIBC__) || defined(__linux__)
  if (!lo) {
    pthread_attr_t a;
    if (pthread_getattr_np(self, &a) == 0) {
      void *addr = NULL;
      size_t sz = 0;
      if (pthread_attr_getstack(&a, &addr, &sz) == 0) {
        lo = (uintptr_t)addr;
        hi = lo + sz;
      }
      pthread_attr_destroy(&a);
    }
    if (lo && here > lo && here < hi) {
      pthread_mutex_lock(&mu);
      unsigned k = next++ % 8;
      seen[k].id = self;
      seen[k].lo = lo;
      seen[k].hi = hi;
      pthread_mutex_unlock(&mu);
    }
  }
#endif
  (void)hi;
  if (!lo) return SC_STACK_DEFAULT;
  if (here <= lo + SC_STACK_MARGIN) return 0;
  return here - lo - SC_STACK_MARGIN;
}

#define SC_STACK_QUICK (48 * 1024)

/* 1 when the frame at here is more than *room below base.  The first time
 * the quick allowance runs out, *room becomes the measured room. */
static int sc_stack_over(uintptr_t base, uintptr_t here, size_t *room, int *measured) {
  size_t used = here < base ? base - here : here - base;
  if (used <= *room) return 0;
  if (!*measured) {
    *measured = 1;
    size_t r = sc_stack_room(base);
    if (r > *room) *room = r;
    return used > *room;
  }
  return 1;
}

/* ---- small helpers ------------------------------------------------------- */

static char *arena_strndup(TelemArena *a, const char *s, size_t n) {
  char *p = telem_arena_alloc(a, n + 1);
  if (!p) return NULL;
  if (n) memcpy(p, s, n);
  p[n] = 0;
  return p;
}

static int jstr_eq(const TelemJson *j, const char *z) {
  size_t n = strlen(z);
  return j && j->type == TJ_STRING && j->n == n && memcmp(j->s, z, n) == 0;
}

static const TelemJson *jget(const TelemJson *o, const char *key) {
  if (!o || o->type != TJ_OBJECT) return NULL;
  return telem_json_get(o, key, strlen(key));
}

/* The draft a "$schema" URI names, or 0.  An empty fragment and the
 * other one of http/https are accepted. */
static int draft_of_uri(const char *s, size_t n) {
  static const struct { const char *uri; int draft; } known[] = {
      {"json-schema.org/draft-04/schema", TELEM_DRAFT_4},
      {"json-schema.org/draft-06/schema", TELEM_DRAFT_6},
      {"json-schema.org/draft-07/schema", TELEM_DRAFT_7},
      {"json-schema.org/draft/2019-09/schema", TELEM_DRAFT_2019_09},
      {"json-schema.org/draft/2020-12/schema", TELEM_DRAFT_2020_12}};
  if (n && s[n - 1] == '#') n--;
  if (n >= 8 && !memcmp(s, "https://", 8)) s += 8, n -= 8;
  else if (n >= 7 && !memcmp(s, "http://", 7)) s += 7, n -= 7;
  else return 0;
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strlen(known[i].uri) == n && !memcmp(known[i].uri, s, n)) return known[i].draft;
  return 0;
}

/* ---- indexing --------------------------------------------------------------- */

enum { SUB_NONE, SUB_ONE, SUB_ARRAY, SUB_MAP, SUB_ITEMS7, SUB_DEPS7 };

static int subschema_kind(const char *k, size_t n, int draft) {
#define K(z) (n == sizeof(z) - 1 && !memcmp(k, z, n))
  if (K("additionalProperties") || K("not")) return SUB_ONE;
  if (K("allOf") || K("anyOf") || K("oneOf")) return SUB_ARRAY;
  if (K("properties") || K("patternProperties")) return SUB_MAP;
  if (draft >= TELEM_DRAFT_6 && (K("propertyNames") || K("contains"))) return SUB_ONE;
  if (draft >= TELEM_DRAFT_7 && (K("if") || K("then") || K("else"))) return SUB_ONE;
  if (draft <= TELEM_DRAFT_2019_09) {
    if (K("additionalItems")) return SUB_ONE;
    if (K("items")) return SUB_ITEMS7;
  }
  if (draft <= TELEM_DRAFT_7) {
    if (K("definitions")) return SUB_MAP;
    if (K("dependencies")) return SUB_DEPS7;
    return SUB_NONE;
  }
  if (K("unevaluatedProperties") || K("unevaluatedItems")) return SUB_ONE;
  if (K("$defs") || K("dependentSchemas")) return SUB_MAP;
  if (draft == TELEM_DRAFT_2020_12) {
    if (K("items")) return SUB_ONE;
    if (K("prefixItems")) return SUB_ARRAY;
  }
  return SUB_NONE;
#undef K
}

static int ix_put_str(ScMap *m, const char *uri, const void *val, char **pzErr) {
  if (sc_map_put(m, uri, strlen(uri), (void *)val)) {
    telem_set_oom(pzErr);
    return -1;
  }
  return 0;
}

/* Where the walk is: base URI, resource root, draft and unknown $schema. */
typedef struct Walk {
  const char *base;
  const TelemJson *res;
  int draft;
  const char *unknown;
} Walk;

static int ix_walk(Index *ix, const TelemJson *j, Walk w, int depth, char **pzErr);

static int ix_walk_kind(Index *ix, const TelemJson *v, int kind, Walk w, int depth,
                        char **pzErr) {
  switch (kind) {
    case SUB_ONE: return ix_walk(ix, v, w, depth, pzErr);
    case SUB_ITEMS7:
      if (v->type != TJ_ARRAY) return ix_walk(ix, v, w, depth, pzErr);
      /* fallthrough */
    case SUB_ARRAY:
      if (v->type != TJ_ARRAY) return 0;
      for (const TelemJson *c = v->child; c; c = c->next)
        if (ix_walk(ix, c, w, depth, pzErr)) return -1;
      return 0;
    case SUB_MAP:
    case SUB_DEPS7:
      if (v->type != TJ_OBJECT) return 0;
      for (const TelemJson *c = v->child; c; c = c->next)
        if (c->type != TJ_ARRAY && ix_walk(ix, c, w, depth, pzErr)) return -1;
      return 0;
  }
  return 0;
}

/* The draft of "$schema" value sch: a draft's own URI, or a loaded
 * meta-schema whose own draft is known.  0 when neither. */
static int ix_schema_draft(const Index *ix, const TelemJson *sch) {
  int d = draft_of_uri(sch->s, sch->n);
  if (d) return d;
  char *u = sqlite3_mprintf("%.*s", (int)sch->n, sch->s);
  if (!u) return 0;
  char *hash = strchr(u, '#');
  if (hash) *hash = 0;
  const TelemJson *meta = ix_get(ix, IX_RESOURCES, u, strlen(u));
  sqlite3_free(u);
  const NodeInfo *mi = meta ? ix_get(ix, IX_INFO, &meta, sizeof meta) : NULL;
  return mi && !mi->unknown ? mi->draft : 0;
}

static int ix_walk(Index *ix, const TelemJson *j, Walk w, int depth, char **pzErr) {
  if (j->type != TJ_OBJECT && j->type != TJ_TRUE && j->type != TJ_FALSE) return 0;
  if (depth > TELEM_JSON_MAX_DEPTH) return 0; /* the parser already bounds it */
  if (sc_stack_over(ix->stack_base, (uintptr_t)__builtin_frame_address(0), &ix->stack_room,
                    &ix->stack_measured)) {
    telem_set_err(pzErr, "schema nests too deep for this thread's stack");
    return -1;
  }
  if (j->type == TJ_OBJECT) {
    const TelemJson *sch = jget(j, "$schema");
    if (sch && sch->type == TJ_STRING) {
      int d = ix_schema_draft(ix, sch);
      if (d) {
        w.draft = d;
        w.unknown = NULL;
      } else if (!(w.unknown = arena_strndup(&ix->arena, sch->s, sch->n))) {
        goto oom;
      }
    }
    int legacy = w.draft <= TELEM_DRAFT_7;
    const TelemJson *id = jget(j, w.draft == TELEM_DRAFT_4 ? "id" : "$id");
    if (id && id->type == TJ_STRING && !(legacy && jget(j, "$ref"))) {
      char *idz = arena_strndup(&ix->arena, id->s, id->n);
      if (!idz) goto oom;
      char *abs = sc_uri_resolve(w.base, idz);
      if (!abs) goto oom;
      char *hash = strchr(abs, '#');
      if (hash) *hash = 0;
      const char *frag = hash ? hash + 1 : "";
      if (idz[0] != '#') {
        char *nb = arena_strndup(&ix->arena, abs, strlen(abs));
        if (!nb || ix_put_str(&ix->resources, nb, j, pzErr)) {
          sqlite3_free(abs);
          goto oom;
        }
        w.base = nb;
        w.res = j;
      }
      if (legacy && *frag) {
        char *a = sqlite3_mprintf("%s#%s", w.base, frag);
        int rc = a ? ix_put_str(&ix->anchors, a, j, pzErr) : -1;
        sqlite3_free(a);
        if (rc) {
          sqlite3_free(abs);
          goto oom;
        }
      }
      sqlite3_free(abs);
    }
    if (!legacy) {
      const char *kws[2] = {"$anchor", w.draft == TELEM_DRAFT_2020_12 ? "$dynamicAnchor" : NULL};
      for (int k = 0; k < 2 && kws[k]; k++) {
        const TelemJson *an = jget(j, kws[k]);
        if (!an || an->type != TJ_STRING) continue;
        char *a = sqlite3_mprintf("%s#%.*s", w.base, (int)an->n, an->s);
        int rc = a ? ix_put_str(&ix->anchors, a, j, pzErr) : -1;
        sqlite3_free(a);
        if (rc) goto oom;
        if (k == 1) {
          DynAnchor *da = telem_arena_alloc(&ix->arena, sizeof *da);
          if (!da || !(da->name = arena_strndup(&ix->arena, an->s, an->n))) goto oom;
          da->res = w.res;
          da->node = j;
          da->next = ix->dyn;
          ix->dyn = da;
        }
      }
      const TelemJson *ra = w.draft == TELEM_DRAFT_2019_09 ? jget(j, "$recursiveAnchor") : NULL;
      if (ra && ra->type == TJ_TRUE && w.res == j) {
        DynAnchor *da = telem_arena_alloc(&ix->arena, sizeof *da);
        if (!da) goto oom;
        da->name = REC_ANCHOR;
        da->res = w.res;
        da->node = j;
        da->next = ix->dyn;
        ix->dyn = da;
      }
    }
  }
  NodeInfo *ni = telem_arena_alloc(&ix->arena, sizeof *ni);
  if (!ni) goto oom;
  ni->base = w.base;
  ni->res = w.res;
  ni->draft = w.draft;
  ni->unknown = w.unknown;
  if (sc_map_put(&ix->info, &j, sizeof j, ni)) goto oom;
  if (j->type != TJ_OBJECT) return 0;
  for (const TelemJson *c = j->child; c; c = c->next) {
    int kind = subschema_kind(c->key, c->key_len, w.draft);
    if (kind != SUB_NONE && ix_walk_kind(ix, c, kind, w, depth + 1, pzErr)) return -1;
  }
  return 0;
oom:
  telem_set_oom(pzErr);
  return -1;
}

static void ix_init(Index *ix, int default_draft) {
  memset(ix, 0, sizeof *ix);
  telem_arena_init(&ix->arena);
  ix->default_draft = default_draft ? default_draft : TELEM_DRAFT_2020_12;
}

static void ix_free(Index *ix) {
  sc_map_free(&ix->resources);
  sc_map_free(&ix->anchors);
  sc_map_free(&ix->info);
  telem_arena_free(&ix->arena);
}

/* Parses text into ix and indexes it under uri (NULL: a generated URN).
 * Returns the root or NULL with *pzErr. */
static const TelemJson *ix_add(Index *ix, const char *uri, const char *text, size_t n,
                               char **pzErr) {
  char *copy = telem_arena_alloc(&ix->arena, n + 1);
  if (!copy) {
    telem_set_oom(pzErr);
    return NULL;
  }
  memcpy(copy, text, n);
  copy[n] = 0;
  TelemJsonError e;
  memset(&e, 0, sizeof e);
  TelemJson *root = telem_json_parse(&ix->arena, copy, n, &e);
  if (!root) {
    telem_set_err(pzErr, "schema is not valid JSON (line %d, column %d: %s)", e.line, e.column,
                  e.what ? e.what : "syntax error");
    return NULL;
  }
  if (root->type != TJ_OBJECT && root->type != TJ_TRUE && root->type != TJ_FALSE) {
    telem_set_err(pzErr, "schema must be a JSON object or a boolean");
    return NULL;
  }
  char gen[64];
  if (!uri) {
    snprintf(gen, sizeof gen, "urn:voxtelem:schema:%p:%d", (void *)ix, ++ix->ndocs);
    uri = gen;
  }
  char *u = sc_uri_resolve(NULL, uri);
  if (!u) {
    telem_set_oom(pzErr);
    return NULL;
  }
  char *hash = strchr(u, '#');
  if (hash) *hash = 0;
  char *base = arena_strndup(&ix->arena, u, strlen(u));
  sqlite3_free(u);
  if (!base || ix_put_str(&ix->resources, base, root, pzErr)) {
    telem_set_oom(pzErr);
    return NULL;
  }
  Walk w = {base, root, ix->default_draft, NULL};
  ix->stack_base = (uintptr_t)__builtin_frame_address(0);
  ix->stack_room = SC_STACK_QUICK;
  ix->stack_measured = 0;
  if (ix_walk(ix, root, w, 0, pzErr)) return NULL;
  return root;
}

/* ---- public: sets -------------------------------------------------------- */

TelemSchemaSet *telem_schema_set_new(int default_draft) {
  TelemSchemaSet *set = sqlite3_malloc64(sizeof *set);
  if (!set) return NULL;
  memset(set, 0, sizeof *set);
  set->refs = 1;
  ix_init(&set->ix, default_draft);
  return set;
}

int telem_schema_set_add(TelemSchemaSet *set, const char *uri, const char *text, size_t n,
                         char **pzErr) {
  if (!ix_add(&set->ix, uri, text, n, pzErr)) return -1;
  set->gen++;
  return 0;
}

static TelemSchemaSet *set_ref(TelemSchemaSet *set) {
  if (set) __atomic_add_fetch(&set->refs, 1, __ATOMIC_SEQ_CST);
  return set;
}

TelemSchemaSet *telem_schema_set_layer(TelemSchemaSet *parent) {
  TelemSchemaSet *set = telem_schema_set_new(parent ? parent->ix.default_draft : 0);
  if (!set || !parent) return set;
  set->parent = set_ref(parent);
  set->ix.parent = &parent->ix;
  return set;
}

uint64_t telem_schema_set_gen(const TelemSchemaSet *set) { return set ? set->gen : 0; }

void telem_schema_set_free(TelemSchemaSet *set) {
  if (!set || __atomic_sub_fetch(&set->refs, 1, __ATOMIC_SEQ_CST) > 0) return;
  ix_free(&set->ix);
  telem_schema_set_free(set->parent);
  sqlite3_free(set);
}

/* ---- value hashing and equality --------------------------------------------- */

/* Both work on any tree (schema or instance) with scratch memory from an
 * arena: objects are compared by their effective members (the last one of
 * each key, as telem_json_get) through a hash table, so equality costs
 * O(n), not O(n^2).  *oom is set when the arena fails. */


static inline uint64_t key_hash(const TelemJson *m) { return XXH3_64bits(m->key, m->key_len); }

/* Scratch state of value hashing and equality: oom 1 when the arena
 * failed, 2 when a value nests below floor (the lowest frame address the
 * caller allows; 0: unchecked), so a deep value cannot exhaust the stack. */
typedef struct JEnv {
  int oom;
  uintptr_t floor;
} JEnv;

static int j_too_deep(JEnv *env) {
  if (!env->floor || (uintptr_t)__builtin_frame_address(0) >= env->floor) return 0;
  env->oom = 2;
  return 1;
}

/* The effective members of object o (the last of each key) in an open
 * addressing table of *cap slots (a power of two) in arena a; *count gets
 * how many.  NULL on OOM. */
static const TelemJson **j_table(TelemArena *a, const TelemJson *o, uint32_t *cap, uint32_t *count) {
  uint32_t c = 16;
  while (c < o->n * 2) c <<= 1;
  const TelemJson **tab = telem_arena_alloc(a, c * sizeof *tab);
  if (!tab) return NULL;
  memset(tab, 0, c * sizeof *tab);
  uint32_t n = 0;
  for (const TelemJson *m = o->child; m; m = m->next) {
    uint32_t i = (uint32_t)key_hash(m) & (c - 1);
    for (; tab[i]; i = (i + 1) & (c - 1))
      if (tab[i]->key_len == m->key_len && telem_bytes_eq(tab[i]->key, m->key, m->key_len)) break;
    if (!tab[i]) n++;
    tab[i] = m; /* a later member of the same key replaces the earlier one */
  }
  *cap = c;
  *count = n;
  return tab;
}

static const TelemJson *j_table_get(const TelemJson **tab, uint32_t cap, const TelemJson *k) {
  for (uint32_t i = (uint32_t)key_hash(k) & (cap - 1); tab[i]; i = (i + 1) & (cap - 1))
    if (tab[i]->key_len == k->key_len && telem_bytes_eq(tab[i]->key, k->key, k->key_len)) return tab[i];
  return NULL;
}

/* The hash of a number by its value (1, 1.0 and 10e-1 hash alike). */
__attribute__((noinline)) static uint64_t j_hash_number(TelemArena *a, const TelemJson *j,
                                                        uint64_t h, JEnv *env) {
  char buf[64], *big = NULL;
  ScDec d;
  if (sc_dec_parse(j->s, j->n, buf, sizeof buf, &d)) {
    if (!(big = telem_arena_alloc(a, j->n + 1))) {
      env->oom = 1;
      return h;
    }
    sc_dec_parse(j->s, j->n, big, j->n + 1, &d);
  }
  for (size_t i = 0; i < d.nd; i++) h = (h ^ (unsigned char)d.d[i]) * 1099511628211ull;
  h ^= (uint64_t)d.q * 0x100000001b3ull + (uint64_t)d.neg;
  return h;
}

/* Hash of a JSON value, equal for values telem_json_equal calls equal. */
static uint64_t j_hash(TelemArena *a, const TelemJson *j, JEnv *env) {
  if (j->type >= TJ_ARRAY && j_too_deep(env)) return 0;
  uint64_t h = 0x9e3779b97f4a7c15ull * (j->type + 1);
  switch (j->type) {
    case TJ_NUMBER: return j_hash_number(a, j, h, env);
    case TJ_STRING:
      for (uint32_t i = 0; i < j->n; i++) h = (h ^ (unsigned char)j->s[i]) * 1099511628211ull;
      return h;
    case TJ_ARRAY:
      for (const TelemJson *c = j->child; c; c = c->next) h = (h * 31) ^ j_hash(a, c, env);
      return h;
    case TJ_OBJECT: {
      /* order-independent: a sum over the effective members */
      uint32_t cap = 0, cnt = 0;
      const TelemJson **tab = j_table(a, j, &cap, &cnt);
      if (!tab) {
        env->oom = 1;
        return h;
      }
      uint64_t sum = 0;
      for (uint32_t i = 0; i < cap; i++)
        if (tab[i]) sum += key_hash(tab[i]) * (j_hash(a, tab[i], env) | 1);
      return h ^ sum ^ cnt;
    }
    default: return h;
  }
}

static int j_equal(TelemArena *a, const TelemJson *x, const TelemJson *y, JEnv *env) {
  if (x->type >= TJ_ARRAY && j_too_deep(env)) return 0;
  if (x->type != y->type || env->oom) return 0;
  if (x->type == TJ_ARRAY) {
    if (x->n != y->n) return 0;
    for (const TelemJson *p = x->child, *q = y->child; p && q; p = p->next, q = q->next)
      if (!j_equal(a, p, q, env)) return 0;
    return 1;
  }
  if (x->type != TJ_OBJECT) return telem_json_equal(x, y);
  if (x->n <= 8 && y->n <= 8) {
    for (const TelemJson *p = x->child; p; p = p->next) {
      if (telem_json_get(x, p->key, p->key_len) != p) continue; /* overridden */
      const TelemJson *q = telem_json_get(y, p->key, p->key_len);
      if (!q || !j_equal(a, p, q, env)) return 0;
    }
    for (const TelemJson *q = y->child; q; q = q->next)
      if (!telem_json_get(x, q->key, q->key_len)) return 0;
    return 1;
  }
  /* hash x's effective members, then look up each effective member of y:
   * O(n), not O(n log n) or O(n^2) */
  uint32_t ca = 0, na = 0, cb = 0, nb = 0;
  const TelemJson **ta = j_table(a, x, &ca, &na);
  const TelemJson **tb = ta ? j_table(a, y, &cb, &nb) : NULL;
  if (!tb) {
    env->oom = 1;
    return 0;
  }
  if (na != nb) return 0;
  for (uint32_t i = 0; i < cb; i++) {
    if (!tb[i]) continue;
    const TelemJson *p = j_table_get(ta, ca, tb[i]);
    if (!p || !j_equal(a, p, tb[i], env)) return 0;
  }
  return 1;
}

/* ---- compiling ----------------------------------------------------------- */

typedef struct PendingDyn {
  Kw *kw;             /* an OP_DYNREF keyword whose candidates are open */
  const char *anchor; /* its anchor name (arena) */
  uint32_t cap;       /* room in kw->u.dyn.cands */
} PendingDyn;

typedef struct Comp {
  TelemSchema *S;
  char **pzErr;
  int failed;
  TelemBuf loc;     /* schema location of the node being compiled */
  PendingDyn *dyn;  /* dynamic references to finish (sqlite3 memory) */
  int ndyn, dyncap;
  int depth;        /* nested c_node calls: bounds the C stack */
  int flags;        /* TELEM_SCHEMA_* */
  uintptr_t stack_base; /* schema_finish's frame */
  size_t stack_room;    /* bytes compiling may use below it */
  int stack_measured;
} Comp;

static void *c_alloc(Comp *C, size_t n) {
  void *p = telem_arena_alloc(&C->S->ix.arena, n);
  if (!p && !C->failed) {
    telem_set_oom(C->pzErr);
    C->failed = 1;
  } else if (p) {
    memset(p, 0, n);
  }
  return p;
}

static void c_err(Comp *C, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void c_err(Comp *C, const char *fmt, ...) {
  if (C->failed) return;
  C->failed = 1;
  va_list ap;
  va_start(ap, fmt);
  char *m = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  const char *loc = C->loc.p ? C->loc.p : "";
  size_t ln = strlen(loc);
  /* a location thousands of levels deep is cut: the start says where */
  telem_set_err(C->pzErr, "schema at \"#%.*s%s\": %s", (int)(ln > 160 ? 160 : ln), loc,
                ln > 160 ? "..." : "", m ? m : "out of memory");
  sqlite3_free(m);
}

static const NodeInfo *c_info(Comp *C, const TelemJson *j) {
  return ix_get(&C->S->ix, IX_INFO, &j, sizeof j);
}

static const TelemJson *c_lookup(Comp *C, int anchors, const char *key) {
  return ix_get(&C->S->ix, anchors ? IX_ANCHORS : IX_RESOURCES, key, strlen(key));
}

static SNode *c_node(Comp *C, const TelemJson *j, const NodeInfo *fallback);

/* Compiles subschema j found under path token tok (or array index idx). */
static SNode *c_sub(Comp *C, const TelemJson *j, const NodeInfo *parent, const char *tok,
                    size_t tokn, long idx, const char *tok2, size_t tok2n) {
  size_t mark = C->loc.len;
  telem_buf_pointer_token(&C->loc, tok, tokn);
  if (tok2) telem_buf_pointer_token(&C->loc, tok2, tok2n);
  if (idx >= 0) telem_buf_printf(&C->loc, "/%ld", idx);
  SNode *n = c_node(C, j, parent);
  C->loc.len = mark;
  if (C->loc.p) C->loc.p[mark] = 0;
  return n;
}

static int c_count(Comp *C, const TelemJson *v, const char *kw, uint64_t *out) {
  char buf[32], *big = NULL;
  ScDec d;
  /* A literal with more digits than buf (2.000...0, 1000...0) is still an
   * integer: parse it again into the arena. */
  int bad = v->type != TJ_NUMBER;
  if (!bad && sc_dec_parse(v->s, v->n, buf, sizeof buf, &d)) {
    if (!(big = telem_arena_alloc(&C->S->ix.arena, v->n + 1))) {
      c_err(C, "out of memory");
      return -1;
    }
    sc_dec_parse(v->s, v->n, big, v->n + 1, &d);
  }
  if (bad || d.neg || !sc_dec_is_integer(&d)) {
    c_err(C, "%s must be a non-negative integer", kw);
    return -1;
  }
  uint64_t x = 0;
  if ((int64_t)d.nd + d.q > 19) {
    x = UINT64_MAX;
  } else {
    for (size_t k = 0; k < d.nd; k++) x = x * 10 + (uint64_t)(d.d[k] - '0');
    for (int64_t k = 0; k < d.q; k++) x *= 10;
  }
  *out = x;
  return 0;
}

/* 1 when the number literal s[0..n) is an integer of at most 18 digits
 * written without fraction or exponent; its value in *out. */
static inline int small_int(const char *s, size_t n, int64_t *out) {
  size_t i = 0;
  int neg = 0;
  if (i < n && s[i] == '-') neg = 1, i++;
  if (i == n || n - i > 18) return 0;
  int64_t x = 0;
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    x = x * 10 + (s[i] - '0');
  }
  *out = neg ? -x : x;
  return 1;
}

static int c_dec(Comp *C, const TelemJson *v, const char *kw, ScDec *out) {
  if (v->type != TJ_NUMBER) {
    c_err(C, "%s must be a number", kw);
    return -1;
  }
  char *buf = telem_arena_alloc(&C->S->ix.arena, v->n + 1);
  if (!buf) {
    c_err(C, "out of memory");
    return -1;
  }
  sc_dec_parse(v->s, v->n, buf, v->n + 1, out);
  return 0;
}

/* ECMA-262 spells Unicode properties with long names (\p{Letter},
 * \p{Script=Greek}); this PCRE2 knows the short ones.  Rewrites them into
 * out; every other byte is copied as is. */
static void c_pattern_ecma(const char *s, size_t n, TelemBuf *out) {
  static const char *const gc[][2] = {
      {"Letter", "L"}, {"Cased_Letter", "L&"}, {"Uppercase_Letter", "Lu"},
      {"Lowercase_Letter", "Ll"}, {"Titlecase_Letter", "Lt"}, {"Modifier_Letter", "Lm"},
      {"Other_Letter", "Lo"}, {"Mark", "M"}, {"Nonspacing_Mark", "Mn"}, {"Spacing_Mark", "Mc"},
      {"Enclosing_Mark", "Me"}, {"Number", "N"}, {"Decimal_Number", "Nd"}, {"digit", "Nd"},
      {"Letter_Number", "Nl"}, {"Other_Number", "No"}, {"Punctuation", "P"}, {"punct", "P"},
      {"Connector_Punctuation", "Pc"}, {"Dash_Punctuation", "Pd"}, {"Open_Punctuation", "Ps"},
      {"Close_Punctuation", "Pe"}, {"Initial_Punctuation", "Pi"}, {"Final_Punctuation", "Pf"},
      {"Other_Punctuation", "Po"}, {"Symbol", "S"}, {"Math_Symbol", "Sm"},
      {"Currency_Symbol", "Sc"}, {"Modifier_Symbol", "Sk"}, {"Other_Symbol", "So"},
      {"Separator", "Z"}, {"Space_Separator", "Zs"}, {"Line_Separator", "Zl"},
      {"Paragraph_Separator", "Zp"}, {"Other", "C"}, {"Control", "Cc"}, {"cntrl", "Cc"},
      {"Format", "Cf"}, {"Surrogate", "Cs"}, {"Private_Use", "Co"}, {"Unassigned", "Cn"}};
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '\\' || i + 1 >= n) {
      telem_buf_putc(out, s[i]);
      continue;
    }
    if ((s[i + 1] != 'p' && s[i + 1] != 'P') || i + 2 >= n || s[i + 2] != '{') {
      telem_buf_append(out, s + i, 2); /* an escape pair, copied whole */
      i++;
      continue;
    }
    const char *name = s + i + 3, *end = memchr(name, '}', n - (size_t)(name - s));
    if (!end) {
      telem_buf_append(out, s + i, n - i);
      break;
    }
    size_t len = (size_t)(end - name);
    const char *eq = memchr(name, '=', len);
    if (eq) { /* General_Category=X, gc=X, Script=X, sc=X, Script_Extensions=X */
      len -= (size_t)(eq + 1 - name);
      name = eq + 1;
    }
    const char *rep = NULL;
    for (size_t g = 0; g < sizeof gc / sizeof gc[0] && !rep; g++)
      if (strlen(gc[g][0]) == len && !memcmp(gc[g][0], name, len)) rep = gc[g][1];
    telem_buf_append(out, s + i, 3);
    if (rep) telem_buf_puts(out, rep);
    else telem_buf_append(out, name, len);
    telem_buf_putc(out, '}');
    i = (size_t)(end - s);
  }
}

static void cls_set(uint64_t *cls, unsigned c) { cls[c >> 6] |= 1ull << (c & 63); }

static int cls_literal(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c && strchr("_:@/,;=~!#%&'\"<>` ", c));
}

/* Recognises ^[class]{n}$, ^[class]{m,n}$, ^[class]+$, ^[class]*$ and
 * ^[class]$ where the class holds ASCII letters, digits, ranges of them
 * and a few plain punctuation characters (and \d, \w, "-" at an end). */
static int c_simple_pattern(const char *s, size_t n, Pat *p) {
  size_t i = 0;
  uint64_t cls[2] = {0, 0};
  if (n < 4 || s[i++] != '^') return 0;
  if (s[i] == '\\' && i + 1 < n && s[i + 1] == 'd') {
    for (unsigned c = '0'; c <= '9'; c++) cls_set(cls, c);
    i += 2;
  } else if (s[i] == '[') {
    i++;
    if (i < n && s[i] == '^') return 0;
    while (i < n && s[i] != ']') {
      char a = s[i];
      if (a == '\\' && i + 1 < n && (s[i + 1] == 'd' || s[i + 1] == 'w' || s[i + 1] == '-' || s[i + 1] == '.')) {
        char e = s[i + 1];
        if (e == 'd' || e == 'w') {
          for (unsigned c = '0'; c <= '9'; c++) cls_set(cls, c);
          if (e == 'w') {
            for (unsigned c = 'a'; c <= 'z'; c++) cls_set(cls, c);
            for (unsigned c = 'A'; c <= 'Z'; c++) cls_set(cls, c);
            cls_set(cls, '_');
          }
        } else {
          cls_set(cls, (unsigned char)e);
        }
        i += 2;
        continue;
      }
      if (a == '-' || a == '.') { /* literal: "-" at an end, "." in a class */
        if (a == '-' && i + 1 < n && s[i + 1] != ']' && s[i - 1] != '[') return 0;
        cls_set(cls, (unsigned char)a);
        i++;
        continue;
      }
      if (!cls_literal(a)) return 0;
      if (i + 2 < n && s[i + 1] == '-' && s[i + 2] != ']') {
        char b = s[i + 2];
        int alnum_a = (a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z') || (a >= '0' && a <= '9');
        int alnum_b = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9');
        if (!alnum_a || !alnum_b || b < a) return 0;
        for (unsigned c = (unsigned char)a; c <= (unsigned char)b; c++) cls_set(cls, c);
        i += 3;
        continue;
      }
      cls_set(cls, (unsigned char)a);
      i++;
    }
    if (i >= n || s[i] != ']' || (!cls[0] && !cls[1])) return 0;
    i++;
  } else {
    return 0;
  }
  uint32_t lo = 1, hi = 1;
  if (i < n && (s[i] == '+' || s[i] == '*')) {
    lo = s[i] == '+' ? 1 : 0;
    hi = UINT32_MAX;
    i++;
  } else if (i < n && s[i] == '{') {
    i++;
    uint64_t a = 0, b;
    size_t st = i;
    while (i < n && s[i] >= '0' && s[i] <= '9' && a < 100000) a = a * 10 + (uint64_t)(s[i++] - '0');
    if (i == st) return 0;
    b = a;
    if (i < n && s[i] == ',') {
      i++;
      st = i;
      b = 0;
      while (i < n && s[i] >= '0' && s[i] <= '9' && b < 100000) b = b * 10 + (uint64_t)(s[i++] - '0');
      if (i == st) b = UINT32_MAX;
    }
    if (i >= n || s[i] != '}' || b < a || a >= 100000 || (b >= 100000 && b != UINT32_MAX)) return 0;
    i++;
    lo = (uint32_t)a;
    hi = (uint32_t)b;
  }
  if (i + 1 != n || s[i] != '$') return 0;
  p->simple = 1;
  p->smin = lo;
  p->smax = hi;
  for (unsigned c = 0; c < 128; c++) p->tab[c] = (uint8_t)((cls[c >> 6] >> (c & 63)) & 1);
  return 1;
}

static Pat *c_pattern(Comp *C, const TelemJson *v, const char *kw) {
  TelemSchema *S = C->S;
  if (C->failed) return NULL;
  if (v->type != TJ_STRING) {
    c_err(C, "%s must be a string", kw);
    return NULL;
  }
  if (v->n > TELEM_MAX_PATTERN_BYTES) {
    c_err(C, "%s is longer than %d bytes", kw, TELEM_MAX_PATTERN_BYTES);
    return NULL;
  }
  Pat *p = sc_map_get(&S->patmap, v->s, v->n);
  if (p) return p;
  int ec;
  PCRE2_SIZE eo;
  TelemBuf src;
  telem_buf_init(&src);
  c_pattern_ecma(v->s, v->n, &src);
  if (src.oom) {
    telem_buf_free(&src);
    c_err(C, "out of memory");
    return NULL;
  }
  /* ECMA-262 flavour: "$" only at the very end, \u escapes of four hex digits. */
  pcre2_code *code = pcre2_compile((PCRE2_SPTR)(src.p ? src.p : ""), src.len,
                                   PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_BSUX, &ec, &eo,
                                   NULL);
  telem_buf_free(&src);
  if (!code) {
    PCRE2_UCHAR msg[160];
    pcre2_get_error_message(ec, msg, sizeof msg);
    c_err(C, "%s does not compile: %s at offset %llu", kw, (char *)msg, (unsigned long long)eo);
    return NULL;
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
  p = c_alloc(C, sizeof *p);
  if (!p || !(p->src = arena_strndup(&S->ix.arena, v->s, v->n)) ||
      sc_map_put(&S->patmap, v->s, v->n, p)) {
    pcre2_code_free(code);
    c_err(C, "out of memory");
    return NULL;
  }
  p->code = code;
  p->next = S->pats;
  S->pats = p;
  c_simple_pattern(v->s, v->n, p);
  return p;
}

static uint32_t c_type_bit(const TelemJson *s) {
  static const struct { const char *z; uint32_t bit; } names[] = {
      {"null", T_NULL},       {"boolean", T_BOOL}, {"object", T_OBJECT}, {"array", T_ARRAY},
      {"number", T_NUMBER},   {"string", T_STRING}, {"integer", T_INTEGER}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (jstr_eq(s, names[i].z)) return names[i].bit;
  return 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = (char)(c | 32);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0..n) into a new arena string. */
static char *c_pct_decode(Comp *C, const char *s, size_t n) {
  char *o = telem_arena_alloc(&C->S->ix.arena, n + 1);
  if (!o) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int h1, h2;
    if (s[i] == '%' && i + 2 < n && (h1 = hexval(s[i + 1])) >= 0 && (h2 = hexval(s[i + 2])) >= 0) {
      o[k++] = (char)(h1 * 16 + h2);
      i += 2;
    } else {
      o[k++] = s[i];
    }
  }
  o[k] = 0;
  return o;
}

/* Resolves reference ref (NUL-terminated) from a schema with info ni. */
static const TelemJson *c_resolve(Comp *C, const NodeInfo *ni, const char *ref,
                                  const NodeInfo **tinfo, char **anchor_out) {
  char *abs = sc_uri_resolve(ni->base, ref);
  if (!abs) {
    c_err(C, "out of memory");
    return NULL;
  }
  char *hash = strchr(abs, '#');
  const char *frag = "";
  if (hash) {
    *hash = 0;
    frag = hash + 1;
  }
  const TelemJson *t = c_lookup(C, 0, abs);
  if (!t) {
    c_err(C, "cannot resolve reference \"%s\" (only loaded schemas are searched)", ref);
    sqlite3_free(abs);
    return NULL;
  }
  *tinfo = c_info(C, t);
  if (*frag == '/') {
    char *ptr = c_pct_decode(C, frag, strlen(frag));
    if (!ptr) {
      c_err(C, "out of memory");
      sqlite3_free(abs);
      return NULL;
    }
    const char *p = ptr;
    while (t && *p == '/') {
      p++;
      const char *e = strchr(p, '/');
      size_t tn = e ? (size_t)(e - p) : strlen(p);
      char *tok = telem_arena_alloc(&C->S->ix.arena, tn + 1);
      if (!tok) { /* not "no such location", and never the parent */
        c_err(C, "out of memory");
        sqlite3_free(abs);
        return NULL;
      }
      size_t k = 0;
      for (size_t i = 0; i < tn; i++) {
        if (p[i] == '~' && i + 1 < tn && (p[i + 1] == '0' || p[i + 1] == '1')) {
          tok[k++] = p[i + 1] == '0' ? '~' : '/';
          i++;
        } else {
          tok[k++] = p[i];
        }
      }
      tok[k] = 0;
      if (t->type == TJ_OBJECT) {
        t = telem_json_get(t, tok, k);
      } else if (t->type == TJ_ARRAY) {
        char *end;
        long ix = strtol(tok, &end, 10);
        const TelemJson *c = NULL;
        if (k && *end == 0 && ix >= 0) {
          c = t->child;
          for (long i = 0; c && i < ix; i++) c = c->next;
        }
        t = c;
      } else {
        t = NULL;
      }
      if (t) {
        const NodeInfo *x = c_info(C, t);
        if (x) *tinfo = x;
      }
      p += tn;
    }
    if (!t) c_err(C, "cannot resolve reference \"%s\": no such location", ref);
  } else if (*frag) {
    char *a = sqlite3_mprintf("%s#%s", abs, frag);
    t = a ? c_lookup(C, 1, a) : NULL;
    sqlite3_free(a);
    if (!t) c_err(C, "cannot resolve reference \"%s\": no such anchor", ref);
    else *tinfo = c_info(C, t);
    if (anchor_out) *anchor_out = arena_strndup(&C->S->ix.arena, frag, strlen(frag));
  }
  sqlite3_free(abs);
  return t;
}

static SNode *c_ref(Comp *C, const NodeInfo *ni, const TelemJson *v, char **anchor) {
  if (v->type != TJ_STRING) {
    c_err(C, "$ref must be a string");
    return NULL;
  }
  char *ref = arena_strndup(&C->S->ix.arena, v->s, v->n);
  if (!ref) {
    c_err(C, "out of memory");
    return NULL;
  }
  const NodeInfo *ti = NULL;
  const TelemJson *t = c_resolve(C, ni, ref, &ti, anchor);
  if (!t) return NULL;
  return c_node(C, t, ti ? ti : ni);
}

/* $dynamicRef: resolved statically like $ref; it is dynamic only when that
 * target declares a matching $dynamicAnchor.  Then its candidates are the
 * resources declaring the anchor that evaluation can reach (those are the
 * only ones that can be in the dynamic scope); c_dyn_finish adds them once
 * the rest is compiled.  At run time the outermost one in scope wins. */
static void c_dynref(Comp *C, Kw *k, const NodeInfo *ni, const TelemJson *v, int recursive) {
  if (v->type != TJ_STRING) {
    c_err(C, "%s must be a string", recursive ? "$recursiveRef" : "$dynamicRef");
    return;
  }
  char *ref = arena_strndup(&C->S->ix.arena, v->s, v->n);
  if (!ref) {
    c_err(C, "out of memory");
    return;
  }
  const NodeInfo *ti = NULL;
  char *anchor = NULL;
  const TelemJson *t = c_resolve(C, ni, ref, &ti, &anchor);
  if (!t) return;
  k->u.dyn.target = c_node(C, t, ti ? ti : ni);
  if (recursive) {
    /* 2019-09: dynamic only when the target says "$recursiveAnchor": true */
    const TelemJson *ra = jget(t, "$recursiveAnchor");
    if (!ra || ra->type != TJ_TRUE) return;
    anchor = REC_ANCHOR;
  } else {
    const TelemJson *da_here = jget(t, "$dynamicAnchor");
    if (!anchor || !da_here || !jstr_eq(da_here, anchor)) return;
  }
  uint32_t n = 0;
  for (const Index *ix = &C->S->ix; ix; ix = ix->parent)
    for (DynAnchor *da = ix->dyn; da; da = da->next)
      if (!strcmp(da->name, anchor)) n++;
  k->u.dyn.cands = c_alloc(C, (n + 1) * sizeof(DynCand));
  if (!k->u.dyn.cands) return;
  if (C->ndyn == C->dyncap) {
    int ncap = C->dyncap ? C->dyncap * 2 : 8;
    PendingDyn *nd = sqlite3_realloc64(C->dyn, (size_t)ncap * sizeof *nd);
    if (!nd) {
      c_err(C, "out of memory");
      return;
    }
    C->dyn = nd;
    C->dyncap = ncap;
  }
  C->dyn[C->ndyn].kw = k;
  C->dyn[C->ndyn].anchor = anchor;
  C->dyn[C->ndyn++].cap = n;
  C->S->has_dyn = 1;
}

/* Adds to every pending $dynamicRef the candidates whose resource some
 * compiled node belongs to, until nothing changes.  Returns 0 or -1. */
static int c_dyn_finish(Comp *C) {
  int changed = 1;
  while (changed && !C->failed) {
    changed = 0;
    ScMap reached;
    memset(&reached, 0, sizeof reached);
    for (size_t i = 0; i < C->S->nodes.cap; i++) {
      SNode *n = C->S->nodes.slots[i].val;
      if (C->S->nodes.slots[i].key && n->res && sc_map_put(&reached, &n->res, sizeof n->res, n)) {
        sc_map_free(&reached);
        c_err(C, "out of memory");
        return -1;
      }
    }
    for (int d = 0; d < C->ndyn && !C->failed; d++) {
      PendingDyn *p = &C->dyn[d];
      for (const Index *ix = &C->S->ix; ix; ix = ix->parent) {
        for (DynAnchor *da = ix->dyn; da; da = da->next) {
          if (strcmp(da->name, p->anchor) || !sc_map_get(&reached, &da->res, sizeof da->res))
            continue;
          int have = 0;
          for (uint32_t c = 0; c < p->kw->u.dyn.ncands; c++)
            if (p->kw->u.dyn.cands[c].res == da->res) have = 1;
          if (have || p->kw->u.dyn.ncands >= p->cap) continue;
          SNode *sn = c_node(C, da->node, c_info(C, da->node));
          if (!sn) break;
          p->kw->u.dyn.cands[p->kw->u.dyn.ncands].res = da->res;
          p->kw->u.dyn.cands[p->kw->u.dyn.ncands++].node = sn;
          changed = 1;
        }
      }
    }
    sc_map_free(&reached);
  }
  return C->failed ? -1 : 0;
}

static SNode **c_list(Comp *C, const TelemJson *v, const NodeInfo *ni, const char *kw,
                      uint32_t *n) {
  if (v->type != TJ_ARRAY || (v->n == 0 && strcmp(kw, "prefixItems"))) {
    c_err(C, "%s must be a non-empty array of schemas", kw);
    return NULL;
  }
  SNode **subs = c_alloc(C, (v->n ? v->n : 1) * sizeof *subs);
  if (!subs) return NULL;
  long i = 0;
  for (const TelemJson *c = v->child; c; c = c->next, i++)
    if (!(subs[i] = c_sub(C, c, ni, kw, strlen(kw), i, NULL, 0))) return NULL;
  *n = v->n;
  return subs;
}

static SNode *c_one(Comp *C, const TelemJson *v, const NodeInfo *ni, const char *kw) {
  return c_sub(C, v, ni, kw, strlen(kw), -1, NULL, 0);
}

/* The values of enum (list = 1, v an array) or const, hashed from 8 values
 * on so that a lookup costs one hash of the instance value. */
static ValSet *c_valset(Comp *C, const TelemJson *v, int list) {
  ValSet *s = c_alloc(C, sizeof *s);
  if (!s) return NULL;
  s->v = v;
  s->list = list;
  s->n = list ? v->n : 1;
  if (list)
    for (const TelemJson *c = v->child; c; c = c->next) s->types |= 1u << c->type;
  else
    s->types = 1u << v->type;
  if (!list || s->n < 8) return s;
  uint32_t cap = 16;
  while (cap < s->n * 2) cap <<= 1;
  s->slots = c_alloc(C, cap * sizeof *s->slots);
  s->hashes = c_alloc(C, cap * sizeof *s->hashes);
  if (!s->slots || !s->hashes) return NULL;
  s->mask = cap - 1;
  JEnv env = {0, 0};
  if (v->type >= TJ_ARRAY) { /* schema values nest too: bound them by the stack */
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    size_t room = sc_stack_room(here);
    env.floor = here > room ? here - room : 1;
  }
  for (const TelemJson *c = v->child; c; c = c->next) {
    uint64_t h = j_hash(&C->S->ix.arena, c, &env);
    if (env.oom) {
      c_err(C, env.oom == 2 ? "enum value nests too deep for this thread's stack" : "out of memory");
      return NULL;
    }
    uint32_t i = (uint32_t)h & s->mask;
    while (s->slots[i]) i = (i + 1) & s->mask;
    s->slots[i] = c;
    s->hashes[i] = h;
  }
  return s;
}

/* Hashes the names of "properties" (from 8 on): the first entry of a name wins. */
static void c_prop_hash(Comp *C, PropsKw *p) {
  if (p->nprops < 16) { /* a few length checks beat a hash */
    for (uint32_t a = 0; a < p->nprops; a++)
      for (uint32_t b = 0; b < a && !p->props[a].dup; b++)
        if (p->props[a].klen == p->props[b].klen &&
            telem_bytes_eq(p->props[a].key, p->props[b].key, p->props[a].klen))
          p->props[a].dup = 1;
    return;
  }
  uint32_t cap = 16;
  while (cap < p->nprops * 2) cap <<= 1;
  p->ptab = c_alloc(C, cap * sizeof *p->ptab);
  if (!p->ptab) return;
  p->pmask = cap - 1;
  for (uint32_t e = 0; e < p->nprops; e++) {
    TelemJson key;
    key.key = p->props[e].key;
    key.key_len = p->props[e].klen;
    uint32_t i = (uint32_t)key_hash(&key) & p->pmask;
    int dup = 0;
    for (; p->ptab[i]; i = (i + 1) & p->pmask) {
      const PropEnt *o = &p->props[p->ptab[i] - 1];
      if (o->klen == key.key_len && !memcmp(o->key, key.key, o->klen)) dup = 1;
    }
    if (!dup) p->ptab[i] = e + 1;
    else p->props[e].dup = 1;
  }
}

#define VOC_NO_VALIDATION 0x01 /* validation keywords are annotations */
#define VOC_FORMAT_ASSERT 0x02  /* the format-assertion vocabulary is in force */

/* What the resource of ni's meta-schema ("$schema", when it names a loaded
 * meta-schema with a "$vocabulary") turns on or off (2019-09 and 2020-12,
 * core 8.1.2): without the validation vocabulary, type, enum, bounds,
 * required, ... are annotations; with format-assertion, format asserts. */
static int c_vocab(Comp *C, const NodeInfo *ni) {
  if (ni->draft < TELEM_DRAFT_2019_09) return 0;
  const TelemJson *sch = jget(ni->res, "$schema");
  if (!sch || sch->type != TJ_STRING || draft_of_uri(sch->s, sch->n)) return 0;
  char *u = sqlite3_mprintf("%.*s", (int)sch->n, sch->s);
  if (!u) return 0;
  char *hash = strchr(u, '#');
  if (hash) *hash = 0;
  const TelemJson *meta = c_lookup(C, 0, u);
  sqlite3_free(u);
  const TelemJson *vocab = jget(meta, "$vocabulary");
  if (!vocab || vocab->type != TJ_OBJECT) return 0;
  int f = 0;
  if (!jget(vocab, "https://json-schema.org/draft/2020-12/vocab/validation") &&
      !jget(vocab, "https://json-schema.org/draft/2019-09/vocab/validation"))
    f |= VOC_NO_VALIDATION;
  if (jget(vocab, "https://json-schema.org/draft/2020-12/vocab/format-assertion"))
    f |= VOC_FORMAT_ASSERT;
  return f;
}

static const TelemJson *c_kw(const TelemJson *j, const char *nm, int noval) {
  static const char *const validation[] = {
      "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
      "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
      "uniqueItems", "maxContains", "minContains", "maxProperties", "minProperties",
      "required", "dependentRequired"};
  if (noval)
    for (size_t i = 0; i < sizeof validation / sizeof validation[0]; i++)
      if (!strcmp(nm, validation[i])) return NULL;
  return jget(j, nm);
}

/* Fills the keywords of object schema j into n, with the semantics of the
 * draft of ni: draft-04 (boolean exclusiveMaximum/Minimum, "id"), draft-06
 * (const, contains, propertyNames), draft-07 (if/then/else), 2019-09
 * ($ref beside other keywords, items arrays, $recursiveRef, unevaluated*,
 * dependentRequired/Schemas, min/maxContains) and 2020-12 (prefixItems,
 * $dynamicRef).  A keyword of another draft is an unknown keyword: ignored. */
static void c_object(Comp *C, SNode *n, const TelemJson *j, const NodeInfo *ni) {
  int draft = ni->draft;
  int legacy = draft <= TELEM_DRAFT_7;     /* 04, 06, 07 */
  int tuple_items = draft <= TELEM_DRAFT_2019_09; /* items may be an array */
  int vocab = c_vocab(C, ni);
  int noval = vocab & VOC_NO_VALIDATION;
  Kw *kw = c_alloc(C, (j->n + 2) * sizeof *kw);
  if (!kw) return;
  n->kw = kw;
  uint32_t nk = 0;
  const TelemJson *v;
#define KW(nm) ((v = c_kw(j, nm, noval)) != NULL)
#define ADD(opc, nm) (kw[nk].op = (opc), kw[nk].name = (nm), &kw[nk++])
  if (legacy && KW("$ref")) { /* up to draft-07: $ref replaces its siblings */
    Kw *k = ADD(OP_REF, "$ref");
    k->u.sub = c_ref(C, ni, v, NULL);
    n->nkw = nk;
    return;
  }
  if (KW("type")) {
    uint32_t t = 0;
    if (v->type == TJ_STRING) {
      t = c_type_bit(v);
      if (!t) c_err(C, "type has an unknown name");
    } else if (v->type == TJ_ARRAY) {
      for (const TelemJson *c = v->child; c; c = c->next) {
        uint32_t b = c_type_bit(c);
        if (!b) c_err(C, "type has an unknown name");
        t |= b;
      }
    } else {
      c_err(C, "type must be a string or an array of strings");
    }
    if (t & T_NUMBER) t |= T_INTEGER;
    ADD(OP_TYPE, "type")->u.types = t;
  }
  if (KW("enum")) {
    if (v->type != TJ_ARRAY) c_err(C, "enum must be an array");
    else ADD(OP_ENUM, "enum")->u.set = c_valset(C, v, 1);
  }
  if (draft >= TELEM_DRAFT_6 && KW("const")) ADD(OP_CONST, "const")->u.set = c_valset(C, v, 0);
  static const struct { const char *nm; int op; } decs[] = {
      {"multipleOf", OP_MULTIPLEOF}, {"maximum", OP_MAXIMUM}, {"exclusiveMaximum", OP_EXMAXIMUM},
      {"minimum", OP_MINIMUM},       {"exclusiveMinimum", OP_EXMINIMUM}};
  for (size_t i = 0; i < 5; i++) {
    if (!KW(decs[i].nm)) continue;
    int op = decs[i].op;
    const char *name = decs[i].nm;
    if (draft == TELEM_DRAFT_4 && (op == OP_EXMAXIMUM || op == OP_EXMINIMUM)) {
      /* draft-04: a boolean that makes maximum/minimum exclusive */
      if (v->type != TJ_TRUE && v->type != TJ_FALSE)
        c_err(C, "%s must be a boolean in draft-04", name);
      continue;
    }
    if (draft == TELEM_DRAFT_4 && (op == OP_MAXIMUM || op == OP_MINIMUM)) {
      const TelemJson *ex = jget(j, op == OP_MAXIMUM ? "exclusiveMaximum" : "exclusiveMinimum");
      if (ex && ex->type == TJ_TRUE) {
        op = op == OP_MAXIMUM ? OP_EXMAXIMUM : OP_EXMINIMUM;
        name = op == OP_EXMAXIMUM ? "exclusiveMaximum" : "exclusiveMinimum";
      }
    }
    Kw *k = ADD(op, name);
    c_dec(C, v, decs[i].nm, &k->u.dec);
    if (v->type == TJ_NUMBER && op != OP_MULTIPLEOF) k->has_ib = small_int(v->s, v->n, &k->ib);
    if (v->type == TJ_NUMBER) k->lit = arena_strndup(&C->S->ix.arena, v->s, v->n > 40 ? 40 : v->n);
    if (op == OP_MULTIPLEOF && (k->u.dec.nd == 0 || k->u.dec.neg))
      c_err(C, "multipleOf must be greater than 0");
  }
  static const struct { const char *nm; int op; } counts[] = {
      {"maxLength", OP_MAXLENGTH}, {"minLength", OP_MINLENGTH},    {"maxItems", OP_MAXITEMS},
      {"minItems", OP_MINITEMS},   {"maxProperties", OP_MAXPROPS}, {"minProperties", OP_MINPROPS}};
  for (size_t i = 0; i < 6; i++) {
    if (!KW(counts[i].nm)) continue;
    c_count(C, v, counts[i].nm, &ADD(counts[i].op, counts[i].nm)->u.count);
  }
  if (KW("pattern")) ADD(OP_PATTERN, "pattern")->u.pat = c_pattern(C, v, "pattern");
  if (KW("format") && v->type == TJ_STRING &&
      ((C->flags & TELEM_SCHEMA_FORMAT_ASSERT) || (vocab & VOC_FORMAT_ASSERT))) {
    int fid = sc_format_id(v->s, v->n);
    if (fid > 0) {
      Kw *k = ADD(OP_FORMAT, "format");
      k->u.count = (uint64_t)fid;
      k->lit = arena_strndup(&C->S->ix.arena, v->s, v->n);
    }
  }
  if (KW("uniqueItems") && v->type == TJ_TRUE) ADD(OP_UNIQUE, "uniqueItems");
  /* items */
  {
    const TelemJson *items = jget(j, "items");
    const TelemJson *prefix = tuple_items ? NULL : jget(j, "prefixItems");
    const TelemJson *addi = tuple_items ? jget(j, "additionalItems") : NULL;
    if (tuple_items && items && items->type == TJ_ARRAY) {
      prefix = items;
      items = addi;
    } else if (tuple_items) {
      addi = NULL;
    } else if (items && items->type == TJ_ARRAY) {
      c_err(C, "items must be a schema (use prefixItems for tuples)");
    }
    if (items || prefix) {
      Kw *k = ADD(OP_ITEMS, items ? (addi ? "additionalItems" : "items") : "prefixItems");
      ItemsKw *it = c_alloc(C, sizeof *it);
      k->u.items = it;
      if (it) {
        it->prefix_name = tuple_items ? "items" : "prefixItems";
        it->rest_name = addi ? "additionalItems" : "items";
        if (prefix) it->prefix = c_list(C, prefix, ni, it->prefix_name, &it->nprefix);
        if (items) it->rest = c_one(C, items, ni, it->rest_name);
      }
    }
  }
  if (draft >= TELEM_DRAFT_6 && KW("contains")) {
    Kw *k = ADD(OP_CONTAINS, "contains");
    k->u.contains.node = c_one(C, v, ni, "contains");
    k->u.contains.min = 1;
    k->u.contains.max = UINT64_MAX;
    if (!legacy && KW("minContains")) c_count(C, v, "minContains", &k->u.contains.min);
    if (!legacy && KW("maxContains")) c_count(C, v, "maxContains", &k->u.contains.max);
  }
  if (KW("required")) {
    if (v->type != TJ_ARRAY) c_err(C, "required must be an array of strings");
    for (const TelemJson *c = v->child; c; c = c->next)
      if (c->type != TJ_STRING) c_err(C, "required must be an array of strings");
    if (v->type == TJ_ARRAY) ADD(OP_REQUIRED, "required")->u.v = v;
  }
  /* dependentRequired, dependentSchemas (2019-09 on), dependencies (up to 07) */
  const char *depkw[3] = {"dependentRequired", "dependentSchemas", "dependencies"};
  for (int w = legacy ? 2 : 0; w < (legacy ? 3 : 2); w++) {
    if (!KW(depkw[w])) continue;
    if (v->type != TJ_OBJECT) {
      c_err(C, "%s must be an object", depkw[w]);
      continue;
    }
    Kw *k = ADD(OP_DEPS, depkw[w]);
    k->u.deps.ents = c_alloc(C, (v->n + 1) * sizeof(DepEnt));
    if (!k->u.deps.ents) break;
    uint32_t i = 0;
    for (const TelemJson *c = v->child; c; c = c->next, i++) {
      DepEnt *e = &k->u.deps.ents[i];
      e->key = c->key;
      e->klen = c->key_len;
      if (c->type == TJ_ARRAY && w != 1) e->req = c;
      else if (w != 0) e->node = c_sub(C, c, ni, depkw[w], strlen(depkw[w]), -1, c->key, c->key_len);
      else c_err(C, "dependentRequired values must be arrays of strings");
    }
    k->u.deps.n = i;
  }
  {
    const TelemJson *pr = jget(j, "properties"), *pp = jget(j, "patternProperties");
    const TelemJson *ap = jget(j, "additionalProperties");
    if (pr || pp || ap) {
      Kw *k = ADD(OP_PROPS, "properties");
      PropsKw *p = c_alloc(C, sizeof *p);
      k->u.props = p;
      if (p && pr) {
        if (pr->type != TJ_OBJECT) c_err(C, "properties must be an object");
        else p->props = c_alloc(C, (pr->n + 1) * sizeof *p->props);
        if (p->props)
          for (const TelemJson *c = pr->child; c; c = c->next) {
            PropEnt *e = &p->props[p->nprops++];
            e->key = c->key;
            e->klen = c->key_len;
            e->node = c_sub(C, c, ni, "properties", 10, -1, c->key, c->key_len);
          }
        if (p->props) c_prop_hash(C, p);
      }
      if (p && pp) {
        if (pp->type != TJ_OBJECT) c_err(C, "patternProperties must be an object");
        p->pats = c_alloc(C, (pp->n + 1) * sizeof *p->pats);
        p->pnodes = c_alloc(C, (pp->n + 1) * sizeof *p->pnodes);
        if (p->pats && p->pnodes && pp->type == TJ_OBJECT)
          for (const TelemJson *c = pp->child; c; c = c->next) {
            TelemJson key;
            memset(&key, 0, sizeof key);
            key.type = TJ_STRING;
            key.s = c->key;
            key.n = c->key_len;
            p->pats[p->npats] = c_pattern(C, &key, "patternProperties");
            p->pnodes[p->npats++] =
                c_sub(C, c, ni, "patternProperties", 17, -1, c->key, c->key_len);
          }
      }
      if (p && ap) p->addl = c_one(C, ap, ni, "additionalProperties");
    }
  }
  if (draft >= TELEM_DRAFT_6 && KW("propertyNames"))
    ADD(OP_PROPNAMES, "propertyNames")->u.sub = c_one(C, v, ni, "propertyNames");
  if (KW("$ref")) ADD(OP_REF, "$ref")->u.sub = c_ref(C, ni, v, NULL);
  if (draft == TELEM_DRAFT_2020_12 && KW("$dynamicRef")) {
    Kw *k = ADD(OP_DYNREF, "$dynamicRef");
    c_dynref(C, k, ni, v, 0);
  }
  if (draft == TELEM_DRAFT_2019_09 && KW("$recursiveRef")) {
    Kw *k = ADD(OP_DYNREF, "$recursiveRef");
    c_dynref(C, k, ni, v, 1);
  }
  if (KW("allOf")) { Kw *k = ADD(OP_ALLOF, "allOf"); k->u.list.subs = c_list(C, v, ni, "allOf", &k->u.list.n); }
  if (KW("anyOf")) { Kw *k = ADD(OP_ANYOF, "anyOf"); k->u.list.subs = c_list(C, v, ni, "anyOf", &k->u.list.n); }
  if (KW("oneOf")) { Kw *k = ADD(OP_ONEOF, "oneOf"); k->u.list.subs = c_list(C, v, ni, "oneOf", &k->u.list.n); }
  if (KW("not")) ADD(OP_NOT, "not")->u.sub = c_one(C, v, ni, "not");
  if (draft >= TELEM_DRAFT_7 && KW("if")) {
    Kw *k = ADD(OP_IF, "if");
    k->u.ite.cond = c_one(C, v, ni, "if");
    if (KW("then")) k->u.ite.then_ = c_one(C, v, ni, "then");
    if (KW("else")) k->u.ite.else_ = c_one(C, v, ni, "else");
  }
  if (!legacy && KW("unevaluatedItems")) {
    ADD(OP_UNEVAL_ITEMS, "unevaluatedItems")->u.sub = c_one(C, v, ni, "unevaluatedItems");
    n->has_uneval = 1;
  }
  if (!legacy && KW("unevaluatedProperties")) {
    ADD(OP_UNEVAL_PROPS, "unevaluatedProperties")->u.sub =
        c_one(C, v, ni, "unevaluatedProperties");
    n->has_uneval = 1;
  }
#undef KW
#undef ADD
  n->nkw = nk;
}

static SNode *c_node(Comp *C, const TelemJson *j, const NodeInfo *fallback) {
  if (C->failed) return NULL;
  if (j->type == TJ_TRUE) return &sn_true;
  if (j->type == TJ_FALSE) return &sn_false;
  if (j->type != TJ_OBJECT) {
    c_err(C, "a schema must be an object or a boolean");
    return NULL;
  }
  SNode *n = sc_map_get(&C->S->nodes, &j, sizeof j);
  if (n) return n;
  const NodeInfo *ni = c_info(C, j);
  if (!ni) ni = fallback;
  if (!ni) {
    c_err(C, "schema is not inside a loaded document");
    return NULL;
  }
  if (ni->unknown) {
    char *u = telem_printable(ni->unknown, strlen(ni->unknown), 200);
    c_err(C, "unknown $schema \"%s\" (known: draft-04, draft-06, draft-07, 2019-09, 2020-12, "
          "or a loaded meta-schema of one of them)", u ? u : "");
    sqlite3_free(u);
    return NULL;
  }
  /* A chain of $refs to ever new subschemas recurses here once per link:
   * bound it like evaluation, so no schema text can exhaust the stack. */
  if (C->depth >= SC_MAX_DEPTH) {
    c_err(C, "subschemas and $refs nest deeper than %d levels", SC_MAX_DEPTH);
    return NULL;
  }
  if (sc_stack_over(C->stack_base, (uintptr_t)__builtin_frame_address(0), &C->stack_room,
                    &C->stack_measured)) {
    c_err(C, "subschemas and $refs nest too deep for this thread's stack");
    return NULL;
  }
  n = c_alloc(C, sizeof *n);
  if (!n) return NULL;
  n->kind = SN_OBJ;
  n->res = ni->res;
  n->loc = arena_strndup(&C->S->ix.arena, C->loc.p ? C->loc.p : "", C->loc.len);
  if (!n->loc || sc_map_put(&C->S->nodes, &j, sizeof j, n)) {
    c_err(C, "out of memory");
    return NULL;
  }
  C->depth++;
  c_object(C, n, j, ni);
  C->depth--;
  return C->failed ? NULL : n;
}

/* Depth-first search over in-place applicator edges ($ref, allOf, anyOf,
 * oneOf, not, if/then/else, dependentSchemas, $dynamicRef targets): a cycle
 * there recurses on the same instance forever.  Returns 0 or -1. */
static int c_cycles(Comp *C, SNode *n, int depth) {
  if (n->mark == 2) return 0;
  if (n->mark == 1) {
    telem_set_err(C->pzErr, "schema at \"#%s\": $ref cycle: the schema refers to itself without "
                  "consuming any input", n->loc);
    return -1;
  }
  if (depth > SC_MAX_DEPTH ||
      sc_stack_over(C->stack_base, (uintptr_t)__builtin_frame_address(0), &C->stack_room,
                    &C->stack_measured)) {
    telem_set_err(C->pzErr, "schema at \"#%s\": references nest deeper than %d levels", n->loc,
                  depth > SC_MAX_DEPTH ? SC_MAX_DEPTH : depth);
    return -1;
  }
  n->mark = 1;
  for (uint32_t i = 0; i < n->nkw; i++) {
    Kw *k = &n->kw[i];
    SNode *one[3] = {NULL, NULL, NULL};
    SNode **many = NULL;
    uint32_t nmany = 0;
    switch (k->op) {
      case OP_REF:
      case OP_NOT: one[0] = k->u.sub; break;
      case OP_DYNREF:
        one[0] = k->u.dyn.target;
        break;
      case OP_ALLOF:
      case OP_ANYOF:
      case OP_ONEOF: many = k->u.list.subs; nmany = k->u.list.n; break;
      case OP_IF: one[0] = k->u.ite.cond; one[1] = k->u.ite.then_; one[2] = k->u.ite.else_; break;
      case OP_DEPS:
        for (uint32_t d = 0; d < k->u.deps.n; d++)
          if (k->u.deps.ents[d].node && c_cycles(C, k->u.deps.ents[d].node, depth + 1)) return -1;
        break;
      default: break;
    }
    for (int x = 0; x < 3; x++)
      if (one[x] && c_cycles(C, one[x], depth + 1)) return -1;
    for (uint32_t x = 0; x < nmany; x++)
      if (many[x] && c_cycles(C, many[x], depth + 1)) return -1;
  }
  n->mark = 2;
  return 0;
}

static void schema_release(TelemSchema *S) {
  for (Pat *p = S->pats; p; p = p->next) pcre2_code_free(p->code);
  pcre2_match_context_free(S->mctx);
  pcre2_match_data_free(S->scratch.md);
  telem_arena_free(&S->scratch.arena);
  sqlite3_free(S->scratch.stacks);
  sc_map_free(&S->nodes);
  sc_map_free(&S->patmap);
  ix_free(&S->ix);
  telem_schema_set_free(S->set);
  sqlite3_free(S);
}

void telem_schema_free(TelemSchema *s) {
  if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_SEQ_CST) == 0) schema_release(s);
}

TelemSchema *telem_schema_ref(TelemSchema *s) {
  if (s) __atomic_add_fetch(&s->refs, 1, __ATOMIC_SEQ_CST);
  return s;
}

static TelemSchema *schema_new(TelemSchemaSet *set) {
  TelemSchema *S = sqlite3_malloc64(sizeof *S);
  if (!S) return NULL;
  memset(S, 0, sizeof *S);
  S->refs = 1;
  ix_init(&S->ix, set ? set->ix.default_draft : TELEM_DRAFT_2020_12);
  telem_arena_init(&S->scratch.arena);
  S->set = set_ref(set);
  S->ix.parent = set ? &set->ix : NULL;
  S->mctx = pcre2_match_context_create(NULL);
  if (!S->mctx) {
    schema_release(S);
    return NULL;
  }
  pcre2_set_match_limit(S->mctx, TELEM_PCRE2_MATCH_LIMIT);
  pcre2_set_depth_limit(S->mctx, TELEM_PCRE2_DEPTH_LIMIT);
  return S;
}

/* Compiles root, or the subschema that frag (a URI fragment without its
 * "#", or NULL) names in root's document. */
static TelemSchema *schema_finish(TelemSchema *S, const TelemJson *root, const char *frag,
                                  int flags, char **pzErr) {
  Comp C;
  memset(&C, 0, sizeof C);
  C.S = S;
  C.pzErr = pzErr;
  C.flags = flags;
  C.stack_base = (uintptr_t)__builtin_frame_address(0);
  C.stack_room = SC_STACK_QUICK;
  telem_buf_init(&C.loc);
  telem_buf_puts(&C.loc, "");
  if (frag) {
    /* resolved like a $ref "#<frag>" from the document root */
    const NodeInfo *ri = c_info(&C, root), *ti = NULL;
    char *ref = sqlite3_mprintf("#%s", frag);
    const TelemJson *t = NULL;
    if (!ri) c_err(&C, "schema is not inside a loaded document");
    else if (!ref) c_err(&C, "out of memory");
    else t = c_resolve(&C, ri, ref, &ti, NULL);
    sqlite3_free(ref);
    S->root = t ? c_node(&C, t, ti ? ti : ri) : NULL;
  } else {
    S->root = c_node(&C, root, NULL);
  }
  if (S->root && c_dyn_finish(&C)) S->root = NULL;
  telem_buf_free(&C.loc);
  sqlite3_free(C.dyn);
  if (!S->root || c_cycles(&C, S->root, 0)) goto fail;
  /* every node reachable at run time is compiled now; check them all */
  for (size_t i = 0; i < S->nodes.cap; i++)
    if (S->nodes.slots[i].key && c_cycles(&C, S->nodes.slots[i].val, 0)) goto fail;
  return S;
fail:
  schema_release(S);
  return NULL;
}

TelemSchema *telem_schema_compile(TelemSchemaSet *set, const char *text, size_t n, char **pzErr) {
  return telem_schema_compile_ex(set, text, n, 0, pzErr);
}

TelemSchema *telem_schema_compile_ex(TelemSchemaSet *set, const char *text, size_t n, int flags,
                                     char **pzErr) {
  TelemSchema *S = schema_new(set);
  if (!S) {
    telem_set_oom(pzErr);
    return NULL;
  }
  const TelemJson *root = ix_add(&S->ix, NULL, text, n, pzErr);
  if (!root) {
    schema_release(S);
    return NULL;
  }
  return schema_finish(S, root, NULL, flags, pzErr);
}

TelemSchema *telem_schema_compile_uri(TelemSchemaSet *set, const char *uri, char **pzErr) {
  return telem_schema_compile_uri_ex(set, uri, 0, pzErr);
}

TelemSchema *telem_schema_compile_uri_ex(TelemSchemaSet *set, const char *uri, int flags,
                                         char **pzErr) {
  if (!set) {
    telem_set_err(pzErr, "no schema set to look up \"%s\" in", uri);
    return NULL;
  }
  char *u = sc_uri_resolve(NULL, uri);
  if (!u) {
    telem_set_oom(pzErr);
    return NULL;
  }
  /* A fragment (a JSON Pointer or an anchor) names a subschema: dropping it
   * would compile the whole document. */
  char *hash = strchr(u, '#');
  const char *frag = hash && hash[1] ? hash + 1 : NULL;
  if (hash) *hash = 0;
  const TelemJson *root = ix_get(&set->ix, IX_RESOURCES, u, strlen(u));
  TelemSchema *S = NULL;
  if (!root) {
    telem_set_err(pzErr, "no loaded schema has the URI \"%s\"", uri);
  } else if (!(S = schema_new(set))) {
    telem_set_oom(pzErr);
  } else {
    S = schema_finish(S, root, frag, flags, pzErr);
  }
  sqlite3_free(u);
  return S;
}

/* ---- validating ---------------------------------------------------------- */

typedef struct Seg {
  const char *s; /* token text, or NULL for an array index */
  uint32_t n;
  int64_t idx;
} Seg;

typedef struct Ann {
  uint64_t *bits; /* one bit per member/item evaluated */
  uint32_t n;
} Ann;

typedef struct VCtx {
  TelemSchema *S;
  Scratch *sc;
  int collect;          /* record errors (and keep the paths) */
  int depth;
  int fatal;            /* validation cannot finish; message in fatal_msg */
  char fatal_msg[200];
  Seg *ip; int ipn;     /* instance path */
  Seg *kp; int kpn;     /* keyword path */
  const TelemJson **scope; int sn; /* dynamic scope: resource roots */
  ErrVec *errs;
  const TelemJson *kobj;          /* object hashed by v_obj_get */
  const TelemJson **ktab; uint32_t kmask;
  uint64_t steps, max_steps;      /* schema nodes evaluated; the budget */
  uint64_t next_poll;             /* steps at which to poll the interrupt callback */
  const TelemSchemaRun *opt;      /* interrupt callback (may be NULL) */
  uintptr_t stack_base;           /* frame address at entry */
  size_t stack_room;              /* bytes of stack the call may use below it */
  int stack_measured;             /* stack_room was measured (sc_stack_over) */
  int interrupted;                /* the callback asked to stop */
} VCtx;

static int v_node(VCtx *V, const SNode *n, const TelemJson *j, Ann *ann);

static void v_fatal(VCtx *V, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void v_fatal(VCtx *V, const char *fmt, ...) {
  if (V->fatal) return;
  V->fatal = 1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(V->fatal_msg, sizeof V->fatal_msg, fmt, ap);
  va_end(ap);
}

static void kp_push(VCtx *V, const char *s, size_t n, int64_t idx) {
  if (V->kpn >= SC_KP_CAP) {
    v_fatal(V, "schema recursion deeper than %d levels", SC_MAX_DEPTH);
    return;
  }
  Seg *g = &V->kp[V->kpn++];
  g->s = s;
  g->n = (uint32_t)n;
  g->idx = idx;
}

#define KP_PUSH(V, s, n, i) do { if ((V)->collect) kp_push((V), (s), (n), (i)); } while (0)
#define KP_POP(V, k) do { if ((V)->collect) (V)->kpn -= (k); } while (0)
#define IP_PUSH(V, tok, len, ix)                                              \
  do {                                                                        \
    if ((V)->collect) {                                                       \
      Seg *g_ = &(V)->ip[(V)->ipn++];                                         \
      g_->s = (tok); g_->n = (uint32_t)(len); g_->idx = (ix);                 \
    }                                                                         \
  } while (0)
#define IP_POP(V) do { if ((V)->collect) (V)->ipn--; } while (0)

static char *path_string(const Seg *v, int n) {
  TelemBuf b;
  telem_buf_init(&b);
  telem_buf_puts(&b, "");
  for (int i = 0; i < n; i++) {
    if (v[i].s) telem_buf_pointer_token(&b, v[i].s, v[i].n);
    else telem_buf_printf(&b, "/%lld", (long long)v[i].idx);
  }
  return telem_buf_take(&b);
}

static void errvec_truncate(ErrVec *e, int n) {
  while (e->n > n) {
    TelemSchemaError *x = &e->v[--e->n];
    sqlite3_free((char *)x->instance_path);
    sqlite3_free((char *)x->schema_path);
    sqlite3_free((char *)x->keyword);
    sqlite3_free((char *)x->message);
  }
}

/* Records a failing leaf: keyword kw at the current paths. */
static void v_err(VCtx *V, const char *kw, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void v_err_at(VCtx *V, const char *kw, int push, const char *fmt, va_list ap);
static void v_err(VCtx *V, const char *kw, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  v_err_at(V, kw, 1, fmt, ap);
  va_end(ap);
}

/* Records an error whose schema path is the current one (no keyword token). */
static void v_err_here(VCtx *V, const char *kw, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void v_err_here(VCtx *V, const char *kw, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  v_err_at(V, kw, 0, fmt, ap);
  va_end(ap);
}

static void v_err_at(VCtx *V, const char *kw, int push, const char *fmt, va_list ap) {
  if (!V->collect || V->fatal) return;
  /* an error record costs allocations and two paths: it counts as many
   * steps against the budget */
  V->steps += 256 + 4 * ((uint64_t)V->ipn + (uint64_t)V->kpn);
  if (V->steps > V->max_steps) {
    v_fatal(V, "validation exceeded its work budget of %llu schema steps",
            (unsigned long long)V->max_steps);
    return;
  }
  ErrVec *e = V->errs;
  if (e->n == e->cap) {
    int ncap = e->cap ? e->cap * 2 : 8;
    TelemSchemaError *nv = sqlite3_realloc64(e->v, (size_t)ncap * sizeof *nv);
    if (!nv) {
      v_fatal(V, "out of memory");
      return;
    }
    e->v = nv;
    e->cap = ncap;
  }
  char *msg = sqlite3_vmprintf(fmt, ap);
  TelemSchemaError x;
  x.instance_path = path_string(V->ip, V->ipn);
  int kpn = V->kpn;
  if (push && kpn < SC_KP_CAP) kp_push(V, kw, strlen(kw), -1);
  x.schema_path = path_string(V->kp, V->kpn);
  V->kpn = kpn;
  x.keyword = sqlite3_mprintf("%s", kw ? kw : "");
  x.message = msg;
  if (!x.instance_path || !x.schema_path || !x.keyword || !x.message) {
    sqlite3_free((char *)x.instance_path);
    sqlite3_free((char *)x.schema_path);
    sqlite3_free((char *)x.keyword);
    sqlite3_free(msg);
    v_fatal(V, "out of memory");
    return;
  }
  e->v[e->n++] = x;
}

__attribute__((noinline)) static int ann_new(VCtx *V, Ann *a, uint32_t n) {
  size_t words = (n + 63) / 64;
  a->n = n;
  a->bits = telem_arena_alloc(&V->sc->arena, (words ? words : 1) * 8);
  if (!a->bits) {
    v_fatal(V, "out of memory");
    return -1;
  }
  memset(a->bits, 0, (words ? words : 1) * 8);
  return 0;
}

static inline void ann_set(Ann *a, uint32_t i) {
  if (a && i < a->n) a->bits[i >> 6] |= 1ull << (i & 63);
}

static inline int ann_get(const Ann *a, uint32_t i) { return (a->bits[i >> 6] >> (i & 63)) & 1; }

static void ann_merge(Ann *dst, const Ann *src) {
  if (!dst || !src) return;
  for (uint32_t w = 0; w < (dst->n + 63) / 64; w++) dst->bits[w] |= src->bits[w];
}

static const char *type_name(const TelemJson *j) {
  switch (j->type) {
    case TJ_NULL: return "null";
    case TJ_FALSE:
    case TJ_TRUE: return "boolean";
    case TJ_NUMBER: return "number";
    case TJ_STRING: return "string";
    case TJ_ARRAY: return "array";
    default: return "object";
  }
}

static void types_text(uint32_t t, char *buf, size_t cap) {
  static const struct { uint32_t bit; const char *z; } names[] = {
      {T_NULL, "null"},     {T_BOOL, "boolean"}, {T_OBJECT, "object"}, {T_ARRAY, "array"},
      {T_NUMBER, "number"}, {T_STRING, "string"}, {T_INTEGER, "integer"}};
  size_t len = 0;
  buf[0] = 0;
  if ((t & T_NUMBER)) t &= ~T_INTEGER;
  for (size_t i = 0; i < 7; i++) {
    if (!(t & names[i].bit)) continue;
    len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? " or " : "", names[i].z);
    if (len >= cap) break;
  }
}

/* Parses an instance number; digits go to buf or, when long, the scratch. */
static int v_dec(VCtx *V, const TelemJson *j, char *buf, size_t cap, ScDec *d) {
  if (sc_dec_parse(j->s, j->n, buf, cap, d) == 0) return 0;
  char *big = telem_arena_alloc(&V->sc->arena, j->n + 1);
  if (!big) {
    v_fatal(V, "out of memory");
    return -1;
  }
  return sc_dec_parse(j->s, j->n, big, j->n + 1, d);
}

/* The cold parts of v_kw live in their own frames (noinline): v_kw
 * recurses through every nesting level, so each byte of its frame counts
 * about a thousand times against the stack budget. */
__attribute__((noinline)) static void v_type_err(VCtx *V, uint32_t t, const TelemJson *j) {
  char buf[96];
  types_text(t, buf, sizeof buf);
  v_err(V, "type", "expected %s, got %s", buf, type_name(j));
}

__attribute__((noinline)) static int v_numeric(VCtx *V, const Kw *k, const TelemJson *j) {
  char buf[64];
  ScDec d;
  if (v_dec(V, j, buf, sizeof buf, &d)) return 0;
  int ok;
  const char *what;
  if (k->op == OP_MULTIPLEOF) {
    ok = sc_dec_multiple_of(&d, &k->u.dec);
    what = "a multiple of";
  } else {
    int c = sc_dec_cmp(&d, &k->u.dec);
    switch (k->op) {
      case OP_MAXIMUM: ok = c <= 0; what = "at most"; break;
      case OP_EXMAXIMUM: ok = c < 0; what = "less than"; break;
      case OP_MINIMUM: ok = c >= 0; what = "at least"; break;
      default: ok = c > 0; what = "greater than"; break;
    }
  }
  if (!ok) v_err(V, k->name, "number must be %s %s", what, k->lit ? k->lit : "the bound");
  return ok;
}

__attribute__((noinline)) static int v_is_integer(VCtx *V, const TelemJson *j) {
  if (j->flags & TJ_F_INTEGRAL) return 1;
  char buf[64];
  ScDec d;
  if (v_dec(V, j, buf, sizeof buf, &d)) return 0;
  return sc_dec_is_integer(&d);
}

/* 1 match, 0 no match (or a string PCRE2 refuses as UTF-8), fatal on limits. */
__attribute__((noinline)) static int v_match(VCtx *V, const Pat *p, const char *s, size_t n, int decoded) {
  if (!p) return 0;
  if (p->simple) {
    if (n < p->smin || n > p->smax) return 0; /* an ASCII class: a byte per character */
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++)
      if (!p->tab[u[i]]) return 0;
    return 1;
  }
  if (decoded && !telem_utf8_valid(s, n)) return 0;
  int rc = pcre2_match(p->code, (PCRE2_SPTR)s, n, 0, PCRE2_NO_UTF_CHECK, V->sc->md, V->S->mctx);
  if (rc >= 0) return 1;
  if (rc == PCRE2_ERROR_NOMATCH) return 0;
  if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT)
    v_fatal(V, "pattern \"%.80s\" exceeded the backtracking limit", p->src);
  else
    v_fatal(V, "pattern \"%.80s\" failed to match (PCRE2 error %d)", p->src, rc);
  return 0;
}

/* The lowest frame address value hashing and equality may reach: the
 * validator's measured stack room (measured now if it was not). */
static uintptr_t v_floor(VCtx *V) {
  if (!V->stack_measured) {
    V->stack_measured = 1;
    size_t r = sc_stack_room(V->stack_base);
    if (r > V->stack_room) V->stack_room = r;
  }
  return V->stack_base > V->stack_room ? V->stack_base - V->stack_room : 1;
}

static uint64_t v_hash(VCtx *V, const TelemJson *j) {
  JEnv env = {0, j->type >= TJ_ARRAY ? v_floor(V) : 0};
  uint64_t h = j_hash(&V->sc->arena, j, &env);
  if (env.oom)
    v_fatal(V, env.oom == 2 ? "value nests too deep for this thread's stack" : "out of memory");
  return h;
}

typedef struct HashIdx { uint64_t h; const TelemJson *v; } HashIdx;

static int hashidx_cmp(const void *a, const void *b) {
  uint64_t x = ((const HashIdx *)a)->h, y = ((const HashIdx *)b)->h;
  return x < y ? -1 : x > y;
}

/* telem_json_equal in O(n) for objects.  0 on OOM (fatal set). */
static int v_equal(VCtx *V, const TelemJson *a, const TelemJson *b) {
  if (V->fatal) return 0;
  JEnv env = {0, a->type >= TJ_ARRAY && b->type == a->type ? v_floor(V) : 0};
  int r = j_equal(&V->sc->arena, a, b, &env);
  if (env.oom)
    v_fatal(V, env.oom == 2 ? "value nests too deep for this thread's stack" : "out of memory");
  return r && !env.oom;
}

/* 1 when all items of array j are distinct. */
__attribute__((noinline)) static int v_unique(VCtx *V, const TelemJson *j) {
  if (j->n < 2) return 1;
  if (j->n <= 16) {
    for (const TelemJson *a = j->child; a; a = a->next)
      for (const TelemJson *b = a->next; b; b = b->next)
        if (v_equal(V, a, b)) return 0;
    return 1;
  }
  HashIdx *h = telem_arena_alloc(&V->sc->arena, (size_t)j->n * sizeof *h);
  if (!h) {
    v_fatal(V, "out of memory");
    return 0;
  }
  uint32_t n = 0;
  for (const TelemJson *c = j->child; c; c = c->next, n++) {
    h[n].h = v_hash(V, c);
    h[n].v = c;
  }
  qsort(h, n, sizeof *h, hashidx_cmp);
  for (uint32_t i = 0; i < n; i++)
    for (uint32_t k = i + 1; k < n && h[k].h == h[i].h; k++)
      if (v_equal(V, h[i].v, h[k].v)) return 0;
  return 1;
}

/* 1 when j equals a value of s (enum, const). */
__attribute__((noinline)) static int v_in_set(VCtx *V, const ValSet *s, const TelemJson *j) {
  if (!(s->types & (1u << j->type))) return 0;
  if (!s->slots) {
    if (!s->list) return v_equal(V, s->v, j);
    for (const TelemJson *c = s->v->child; c; c = c->next)
      if (v_equal(V, c, j)) return 1;
    return 0;
  }
  uint64_t h = v_hash(V, j);
  if (V->fatal) return 0;
  for (uint32_t i = (uint32_t)h & s->mask; s->slots[i]; i = (i + 1) & s->mask)
    if (s->hashes[i] == h && v_equal(V, s->slots[i], j)) return 1;
  return 0;
}

/* Presence of a key for keyword lookups (required, dependencies; the
 * member returned is some member with the key, not necessarily the last):
 * objects of
 * more than 16 members are hashed once, so K names cost O(K + M), not
 * O(K * M).  The last object hashed is remembered. */
__attribute__((noinline)) static const TelemJson *v_obj_get(VCtx *V, const TelemJson *o, const char *key, size_t klen) {
  if (o->n <= 16) { /* presence only: the first member with the key will do */
    for (const TelemJson *m = o->child; m; m = m->next)
      if (m->key_len == klen && telem_bytes_eq(m->key, key, klen)) return m;
    return NULL;
  }
  if (V->kobj != o) {
    uint32_t cap = 32;
    while (cap < o->n * 2) cap <<= 1;
    const TelemJson **tab = telem_arena_alloc(&V->sc->arena, cap * sizeof *tab);
    if (!tab) return telem_json_get(o, key, klen);
    memset(tab, 0, cap * sizeof *tab);
    for (const TelemJson *c = o->child; c; c = c->next) {
      uint32_t i = (uint32_t)key_hash(c) & (cap - 1);
      for (; tab[i]; i = (i + 1) & (cap - 1))
        if (tab[i]->key_len == c->key_len && !memcmp(tab[i]->key, c->key, c->key_len)) break;
      tab[i] = c; /* the last member of a key wins, as in telem_json_get */
    }
    V->kobj = o;
    V->ktab = tab;
    V->kmask = cap - 1;
  }
  TelemJson probe;
  probe.key = key;
  probe.key_len = (uint32_t)klen;
  for (uint32_t i = (uint32_t)key_hash(&probe) & V->kmask; V->ktab[i]; i = (i + 1) & V->kmask)
    if (V->ktab[i]->key_len == klen && !memcmp(V->ktab[i]->key, key, klen)) return V->ktab[i];
  return NULL;
}

static int v_sub(VCtx *V, const SNode *n, const TelemJson *j, Ann *ann) {
  int r = v_node(V, n, j, ann);
  return V->fatal ? 0 : r;
}

/* anyOf/oneOf where no branch holds: the branches that failed only because
 * the value has another type ({"type":"null"} for a string) say little;
 * when some branch failed for a better reason, drop theirs.  starts[b] is
 * the first error of branch b, starts[n] the end. */
static void v_drop_type_branches(VCtx *V, const int *starts, uint32_t n) {
  ErrVec *e = V->errs;
  char *here = path_string(V->ip, V->ipn);
  if (!here) { /* not a silently longer list */
    v_fatal(V, "out of memory");
    return;
  }
  uint32_t type_only = 0;
  for (uint32_t b = 0; b < n; b++) {
    int cnt = starts[b + 1] - starts[b];
    if (cnt == 1 && !strcmp(e->v[starts[b]].keyword, "type") &&
        !strcmp(e->v[starts[b]].instance_path, here))
      type_only |= 1u << (b < 31 ? b : 31);
  }
  sqlite3_free(here);
  if (!type_only || n > 31 || type_only == (n >= 32 ? ~0u : (1u << n) - 1)) return;
  int w = starts[0];
  for (uint32_t b = 0; b < n; b++) {
    for (int i = starts[b]; i < starts[b + 1]; i++) {
      if (type_only & (1u << b)) {
        TelemSchemaError *x = &e->v[i];
        sqlite3_free((char *)x->instance_path);
        sqlite3_free((char *)x->schema_path);
        sqlite3_free((char *)x->keyword);
        sqlite3_free((char *)x->message);
      } else {
        e->v[w++] = e->v[i];
      }
    }
  }
  e->n = w;
}

__attribute__((noinline)) static int v_propnames(VCtx *V, const Kw *k, const TelemJson *j) {
  if (j->type != TJ_OBJECT) return 1;
  int ok = 1;
  for (const TelemJson *c = j->child; c; c = c->next) {
    TelemJson key;
    memset(&key, 0, sizeof key);
    key.type = TJ_STRING;
    key.s = c->key;
    key.n = c->key_len;
    key.flags = (c->flags & TJ_F_KEY_DECODED) ? TJ_F_DECODED : 0;
    IP_PUSH(V, c->key, c->key_len, -1);
    KP_PUSH(V, "propertyNames", 13, -1);
    int r = v_sub(V, k->u.sub, &key, NULL);
    KP_POP(V, 1);
    IP_POP(V);
    if (!r) {
      ok = 0;
      if (!V->collect || V->fatal) return 0;
    }
  }
  return ok;
}

/* The applicators with annotation records or error bookkeeping: out of
 * v_kw's frame (see v_type_err). */
__attribute__((noinline)) static int v_kw_cold(VCtx *V, const Kw *k, const TelemJson *j, Ann *ann) {
  switch (k->op) {
    case OP_CONTAINS: {
      if (j->type != TJ_ARRAY) return 1;
      uint64_t found = 0;
      int save = V->collect;
      V->collect = 0;
      uint32_t idx = 0;
      for (const TelemJson *c = j->child; c; c = c->next, idx++) {
        if (v_sub(V, k->u.contains.node, c, NULL)) {
          found++;
          ann_set(ann, idx);
          if (!ann && found >= k->u.contains.min && k->u.contains.max == UINT64_MAX) break;
        }
        if (V->fatal) break;
      }
      V->collect = save;
      if (V->fatal) return 0;
      if (found < k->u.contains.min) {
        v_err(V, "contains", "array must contain at least %llu matching items",
              (unsigned long long)k->u.contains.min);
        return 0;
      }
      if (found > k->u.contains.max) {
        v_err(V, "maxContains", "array must contain at most %llu matching items",
              (unsigned long long)k->u.contains.max);
        return 0;
      }
      return 1;
    }
    case OP_ANYOF:
    case OP_ONEOF: {
      int any = k->op == OP_ANYOF;
      int mark = V->collect ? V->errs->n : 0;
      uint32_t valid = 0;
      Ann tmp, keep;
      int have_keep = 0;
      int *starts = NULL; /* collect mode: first error of each branch */
      if (V->collect) {
        starts = telem_arena_alloc(&V->sc->arena, (k->u.list.n + 1) * sizeof *starts);
        if (!starts) {
          v_fatal(V, "out of memory");
          return 0;
        }
      }
      for (uint32_t i = 0; i < k->u.list.n; i++) {
        if (starts) starts[i] = V->errs->n;
        if (ann && ann_new(V, &tmp, ann->n)) return 0;
        KP_PUSH(V, k->name, strlen(k->name), -1);
        KP_PUSH(V, NULL, 0, i);
        int r = v_sub(V, k->u.list.subs[i], j, ann ? &tmp : NULL);
        KP_POP(V, 2);
        if (V->fatal) return 0;
        if (r) {
          valid++;
          if (ann) {
            if (any) ann_merge(ann, &tmp);
            else { keep = tmp; have_keep = 1; }
          }
          if (any && !ann) break;
          if (!any && valid > 1) break;
        }
      }
      if (any ? valid > 0 : valid == 1) {
        if (V->collect) errvec_truncate(V->errs, mark);
        if (!any && have_keep) ann_merge(ann, &keep);
        return 1;
      }
      if (!any && valid > 1) {
        if (V->collect) errvec_truncate(V->errs, mark);
        v_err(V, "oneOf", "value matches more than one of the %u alternatives", (unsigned)k->u.list.n);
      } else if (V->collect && V->errs->n == mark) {
        v_err(V, k->name, "value matches none of the %u alternatives", (unsigned)k->u.list.n);
      } else if (starts && valid == 0) {
        starts[k->u.list.n] = V->errs->n;
        v_drop_type_branches(V, starts, k->u.list.n);
      }
      return 0;
    }
    case OP_NOT: {
      int save = V->collect;
      V->collect = 0;
      int r = v_sub(V, k->u.sub, j, NULL);
      V->collect = save;
      if (V->fatal) return 0;
      if (!r) return 1;
      v_err(V, "not", "value must not match the schema under \"not\"");
      return 0;
    }
    case OP_IF: {
      int save = V->collect;
      Ann tmp;
      if (ann && ann_new(V, &tmp, ann->n)) return 0;
      V->collect = 0;
      int c = v_sub(V, k->u.ite.cond, j, ann ? &tmp : NULL);
      V->collect = save;
      if (V->fatal) return 0;
      if (c) ann_merge(ann, &tmp);
      const SNode *b = c ? k->u.ite.then_ : k->u.ite.else_;
      if (!b) return 1;
      KP_PUSH(V, c ? "then" : "else", 4, -1);
      int r = v_sub(V, b, j, ann);
      KP_POP(V, 1);
      return r;
    }
    case OP_UNEVAL_ITEMS:
    case OP_UNEVAL_PROPS: {
      int items = k->op == OP_UNEVAL_ITEMS;
      if (j->type != (items ? TJ_ARRAY : TJ_OBJECT) || !ann) return 1;
      int ok = 1;
      uint32_t idx = 0;
      for (const TelemJson *c = j->child; c; c = c->next, idx++) {
        if (ann_get(ann, idx)) continue;
        if (items) IP_PUSH(V, NULL, 0, idx);
        else IP_PUSH(V, c->key, c->key_len, -1);
        int r;
        if (k->u.sub->kind == SN_FALSE) {
          r = 0;
          v_err(V, k->name, "%s is not allowed (%s is false)", items ? "item" : "property", k->name);
        } else {
          KP_PUSH(V, k->name, strlen(k->name), -1);
          r = v_sub(V, k->u.sub, c, NULL);
          KP_POP(V, 1);
        }
        IP_POP(V);
        if (!r) {
          ok = 0;
          if (!V->collect || V->fatal) return 0;
        }
      }
      if (ok)
        for (uint32_t i = 0; i < idx; i++) ann_set(ann, i);
      return ok;
    }
    default: break;
  }
  return 1;
}

/* Evaluates one keyword.  Returns 1 when it holds. */
static int v_kw(VCtx *V, const Kw *k, const TelemJson *j, Ann *ann) {
  switch (k->op) {
    case OP_TYPE: {
      uint32_t t = k->u.types;
      if (t & (1u << j->type)) return 1;
      if (j->type == TJ_NUMBER && (t & T_INTEGER) && v_is_integer(V, j)) return 1;
      if (V->collect) v_type_err(V, t, j);
      return 0;
    }
    case OP_ENUM:
      if (v_in_set(V, k->u.set, j)) return 1;
      if (!V->fatal)
        v_err(V, "enum", "value is not one of the %u allowed values", (unsigned)k->u.set->n);
      return 0;
    case OP_CONST:
      if (v_in_set(V, k->u.set, j)) return 1;
      if (!V->fatal) v_err(V, "const", "value does not equal the constant");
      return 0;
    case OP_FORMAT:
      if (j->type != TJ_STRING) return 1;
      if (sc_format_check((int)k->u.count, j->s, j->n)) return 1;
      v_err(V, "format", "string is not a valid \"%s\"", k->lit);
      return 0;
    case OP_MULTIPLEOF:
    case OP_MAXIMUM:
    case OP_EXMAXIMUM:
    case OP_MINIMUM:
    case OP_EXMINIMUM: {
      if (j->type != TJ_NUMBER) return 1;
      int64_t x;
      if (k->has_ib && (j->flags & TJ_F_INTEGRAL) && small_int(j->s, j->n, &x)) {
        /* both exact integers: no decimal arithmetic */
        int ok = k->op == OP_MAXIMUM ? x <= k->ib : k->op == OP_EXMAXIMUM ? x < k->ib
               : k->op == OP_MINIMUM ? x >= k->ib : x > k->ib;
        if (ok) return 1;
      } else if (k->has_ib && !(j->flags & TJ_F_NEGATIVE) &&
                 ((k->op == OP_MINIMUM && k->ib <= 0) || (k->op == OP_EXMINIMUM && k->ib < 0))) {
        return 1; /* any non-negative number (-0.0 counts as 0) */
      }
      return v_numeric(V, k, j);
    }
    case OP_MAXLENGTH:
    case OP_MINLENGTH: {
      if (j->type != TJ_STRING) return 1;
      uint64_t len;
      if (k->op == OP_MAXLENGTH && j->n <= k->u.count) return 1;
      /* a code point is at most 4 bytes: enough bytes settle minLength */
      if (k->op == OP_MINLENGTH && j->n / 4 >= k->u.count) return 1;
      if (k->op == OP_MINLENGTH && j->n < k->u.count) len = j->n;
      else len = telem_utf8_count(j->s, j->n);
      if (k->op == OP_MAXLENGTH ? len <= k->u.count : len >= k->u.count) return 1;
      v_err(V, k->name, "string must be at %s %llu characters long",
            k->op == OP_MAXLENGTH ? "most" : "least", (unsigned long long)k->u.count);
      return 0;
    }
    case OP_PATTERN:
      if (j->type != TJ_STRING) return 1;
      if (v_match(V, k->u.pat, j->s, j->n, j->flags & TJ_F_DECODED)) return 1;
      v_err(V, "pattern", "string does not match the pattern \"%s\"", k->u.pat ? k->u.pat->src : "");
      return 0;
    case OP_MAXITEMS:
    case OP_MINITEMS:
    case OP_MAXPROPS:
    case OP_MINPROPS: {
      int arr = k->op == OP_MAXITEMS || k->op == OP_MINITEMS;
      if (j->type != (arr ? TJ_ARRAY : TJ_OBJECT)) return 1;
      int max = k->op == OP_MAXITEMS || k->op == OP_MAXPROPS;
      if (max ? j->n <= k->u.count : j->n >= k->u.count) return 1;
      v_err(V, k->name, "%s must have at %s %llu %s", arr ? "array" : "object",
            max ? "most" : "least", (unsigned long long)k->u.count, arr ? "items" : "properties");
      return 0;
    }
    case OP_UNIQUE:
      if (j->type != TJ_ARRAY || v_unique(V, j)) return 1;
      v_err(V, "uniqueItems", "array items must be unique");
      return 0;
    case OP_REQUIRED: {
      if (j->type != TJ_OBJECT) return 1;
      int ok = 1;
      for (const TelemJson *c = k->u.v->child; c; c = c->next) {
        if (v_obj_get(V, j, c->s, c->n)) continue;
        ok = 0;
        if (!V->collect) return 0;
        v_err(V, "required", "required property \"%.*s\" is missing", (int)c->n, c->s);
      }
      return ok;
    }
    case OP_DEPS: {
      if (j->type != TJ_OBJECT) return 1;
      int ok = 1;
      for (uint32_t i = 0; i < k->u.deps.n; i++) {
        const DepEnt *e = &k->u.deps.ents[i];
        if (!v_obj_get(V, j, e->key, e->klen)) continue;
        if (e->req) {
          for (const TelemJson *c = e->req->child; c; c = c->next) {
            if (c->type != TJ_STRING || v_obj_get(V, j, c->s, c->n)) continue;
            ok = 0;
            if (!V->collect) return 0;
            v_err(V, k->name, "property \"%.*s\" is required when \"%.*s\" is present",
                  (int)c->n, c->s, (int)e->klen, e->key);
          }
        } else if (e->node) {
          KP_PUSH(V, k->name, strlen(k->name), -1);
          KP_PUSH(V, e->key, e->klen, -1);
          int r = v_sub(V, e->node, j, ann);
          KP_POP(V, 2);
          if (!r) {
            ok = 0;
            if (!V->collect || V->fatal) return 0;
          }
        }
      }
      return ok;
    }
    case OP_PROPS: {
      if (j->type != TJ_OBJECT) return 1;
      const PropsKw *p = k->u.props;
      int ok = 1;
      uint32_t idx = 0, guess = 0;
      for (const TelemJson *c = j->child; c; c = c->next, idx++) {
        int matched = 0;
        IP_PUSH(V, c->key, c->key_len, -1);
        uint32_t i = 0, end = p->nprops;
        const PropEnt *g = guess < p->nprops ? &p->props[guess] : NULL;
        if (g && !g->dup && g->klen == c->key_len && telem_bytes_eq(g->key, c->key, g->klen)) {
          /* members usually come in the order of "properties" */
          i = guess;
          end = i + 1;
        } else if (p->ptab) { /* hashed: at most one candidate */
          uint32_t s = (uint32_t)key_hash(c) & p->pmask;
          end = 0;
          for (; p->ptab[s]; s = (s + 1) & p->pmask) {
            const PropEnt *e = &p->props[p->ptab[s] - 1];
            if (e->klen == c->key_len && telem_bytes_eq(e->key, c->key, e->klen)) {
              i = p->ptab[s] - 1;
              end = i + 1;
              break;
            }
          }
        }
        for (; i < end; i++) {
          const PropEnt *e = &p->props[i];
          if (e->klen != c->key_len || !telem_bytes_eq(e->key, c->key, e->klen)) continue;
          matched = 1;
          guess = i + 1;
          KP_PUSH(V, "properties", 10, -1);
          KP_PUSH(V, e->key, e->klen, -1);
          int r = v_sub(V, e->node, c, NULL);
          KP_POP(V, 2);
          if (!r) ok = 0;
          break;
        }
        for (uint32_t q = 0; q < p->npats && (ok || V->collect); q++) {
          if (!v_match(V, p->pats[q], c->key, c->key_len, c->flags & TJ_F_KEY_DECODED)) continue;
          matched = 1;
          KP_PUSH(V, "patternProperties", 17, -1);
          KP_PUSH(V, p->pats[q]->src, strlen(p->pats[q]->src), -1);
          int r = v_sub(V, p->pnodes[q], c, NULL);
          KP_POP(V, 2);
          if (!r) ok = 0;
        }
        if (!matched && p->addl) {
          matched = 1;
          int r;
          if (p->addl->kind == SN_FALSE) {
            r = 0;
            v_err(V, "additionalProperties", "property is not allowed (additionalProperties is false)");
          } else {
            KP_PUSH(V, "additionalProperties", 20, -1);
            r = v_sub(V, p->addl, c, NULL);
            KP_POP(V, 1);
          }
          if (!r) ok = 0;
        }
        IP_POP(V);
        if (matched) ann_set(ann, idx);
        if ((!ok && !V->collect) || V->fatal) return 0;
      }
      return ok;
    }
    case OP_PROPNAMES:
      return v_propnames(V, k, j);
    case OP_ITEMS: {
      if (j->type != TJ_ARRAY) return 1;
      const ItemsKw *it = k->u.items;
      int ok = 1;
      uint32_t idx = 0;
      for (const TelemJson *c = j->child; c; c = c->next, idx++) {
        const SNode *sn;
        const char *nm;
        if (idx < it->nprefix) {
          sn = it->prefix[idx];
          nm = it->prefix_name;
        } else if (it->rest) {
          sn = it->rest;
          nm = it->rest_name;
        } else {
          break;
        }
        IP_PUSH(V, NULL, 0, idx);
        KP_PUSH(V, nm, strlen(nm), -1);
        if (idx < it->nprefix) KP_PUSH(V, NULL, 0, idx);
        int r = v_sub(V, sn, c, NULL);
        KP_POP(V, idx < it->nprefix ? 2 : 1);
        IP_POP(V);
        ann_set(ann, idx);
        if (!r) {
          ok = 0;
          if (!V->collect || V->fatal) return 0;
        }
      }
      return ok;
    }
    case OP_REF:
    case OP_DYNREF: {
      const SNode *t = k->op == OP_REF ? k->u.sub : k->u.dyn.target;
      if (k->op == OP_DYNREF && k->u.dyn.ncands) {
        /* the outermost resource of the dynamic scope that declares the anchor */
        int found = 0;
        for (int s = 0; s < V->sn && !found; s++)
          for (uint32_t c = 0; c < k->u.dyn.ncands; c++)
            if (k->u.dyn.cands[c].res == V->scope[s]) {
              t = k->u.dyn.cands[c].node;
              found = 1;
              break;
            }
      }
      KP_PUSH(V, k->name, strlen(k->name), -1);
      int r = v_sub(V, t, j, ann);
      KP_POP(V, 1);
      return r;
    }
    case OP_ALLOF: {
      int ok = 1;
      for (uint32_t i = 0; i < k->u.list.n; i++) {
        KP_PUSH(V, "allOf", 5, -1);
        KP_PUSH(V, NULL, 0, i);
        int r = v_sub(V, k->u.list.subs[i], j, ann);
        KP_POP(V, 2);
        if (!r) {
          ok = 0;
          if (!V->collect || V->fatal) return 0;
        }
      }
      return ok;
    }
    case OP_CONTAINS:
    case OP_ANYOF:
    case OP_ONEOF:
    case OP_NOT:
    case OP_IF:
    case OP_UNEVAL_ITEMS:
    case OP_UNEVAL_PROPS:
      return v_kw_cold(V, k, j, ann);
  }
  return 1;
}

static int v_node(VCtx *V, const SNode *n, const TelemJson *j, Ann *ann) {
  /* A node that is only a $ref (the usual recursive step, {"$ref": "#"})
   * is followed in place, without a frame, when nothing needs its path or
   * dynamic scope. */
  while (n->kind == SN_OBJ && n->nkw == 1 && n->kw[0].op == OP_REF && !n->has_uneval &&
         !V->collect && !V->S->has_dyn && n->kw[0].u.sub) {
    if (++V->steps > V->max_steps) break; /* reported below */
    n = n->kw[0].u.sub;
  }
  if (n->kind == SN_TRUE) return 1;
  if (n->kind == SN_FALSE) {
    v_err_here(V, "false", "no value is allowed here (the schema is false)");
    return 0;
  }
  if (V->depth >= SC_MAX_DEPTH) {
    v_fatal(V, "schema recursion deeper than %d levels", SC_MAX_DEPTH);
    return 0;
  }
  /* Work budget: an anyOf of $refs can double the work per level of the
   * instance; stop with an error instead of running for hours. */
  if (++V->steps > V->max_steps) {
    v_fatal(V, "validation exceeded its work budget of %llu schema steps",
            (unsigned long long)V->max_steps);
    return 0;
  }
  if (V->steps >= V->next_poll) {
    V->next_poll = V->steps + 4096;
    if (V->opt && V->opt->interrupted && V->opt->interrupted(V->opt->arg)) {
      V->interrupted = 1;
      v_fatal(V, "interrupted");
      return 0;
    }
  }
  /* C stack: recursion is bounded by bytes used, not only by depth, so a
   * 256 KiB thread stack is enough whatever the schema and instance. */
  uintptr_t here = (uintptr_t)__builtin_frame_address(0);
  if (V->stack_base - here > V->stack_room && /* the stack grows down here; else measured */
      sc_stack_over(V->stack_base, here, &V->stack_room, &V->stack_measured)) {
    v_fatal(V, "schema recursion too deep for this thread's stack (%zu KiB left)",
            V->stack_room / 1024);
    return 0;
  }
  V->depth++;
  int pushed = 0;
  if (V->S->has_dyn && (V->sn == 0 || V->scope[V->sn - 1] != n->res)) {
    V->scope[V->sn++] = n->res;
    pushed = 1;
  }
  Ann local, *a = ann;
  if (n->has_uneval && (j->type == TJ_OBJECT || j->type == TJ_ARRAY)) {
    if (ann_new(V, &local, j->n)) {
      V->depth--;
      return 0;
    }
    a = &local;
  }
  int ok = 1;
  for (uint32_t i = 0; i < n->nkw; i++) {
    if (!v_kw(V, &n->kw[i], j, a)) {
      ok = 0;
      if (!V->collect || V->fatal) break;
    }
  }
  if (ok && a == &local) ann_merge(ann, &local);
  if (pushed) V->sn--;
  V->depth--;
  return ok && !V->fatal;
}

/* ---- entry points ---------------------------------------------------------- */

static int scratch_init(Scratch *sc) {
  if (sc->md) return 0;
  sc->md = pcre2_match_data_create(1, NULL);
  size_t bytes = SC_IP_CAP * sizeof(Seg) + SC_KP_CAP * sizeof(Seg) +
                 (SC_MAX_DEPTH + 1) * sizeof(const TelemJson *);
  sc->stacks = sqlite3_malloc64(bytes);
  if (!sc->md || !sc->stacks) {
    pcre2_match_data_free(sc->md);
    sqlite3_free(sc->stacks);
    sc->md = NULL;
    sc->stacks = NULL;
    return -1;
  }
  return 0;
}

static void scratch_free(Scratch *sc) {
  pcre2_match_data_free(sc->md);
  sqlite3_free(sc->stacks);
  telem_arena_free(&sc->arena);
}

/* Takes the schema's scratch, or builds a private one when another thread
 * holds it.  Returns NULL on OOM. */
static Scratch *scratch_take(TelemSchema *S, Scratch *priv) {
  if (!__atomic_exchange_n(&S->busy, 1, __ATOMIC_ACQUIRE)) {
    if (scratch_init(&S->scratch) == 0) return &S->scratch;
    __atomic_store_n(&S->busy, 0, __ATOMIC_RELEASE);
    return NULL;
  }
  memset(priv, 0, sizeof *priv);
  telem_arena_init(&priv->arena);
  return scratch_init(priv) == 0 ? priv : NULL;
}

static void scratch_give(TelemSchema *S, Scratch *sc) {
  if (sc == &S->scratch) {
    telem_arena_reset(&sc->arena);
    __atomic_store_n(&S->busy, 0, __ATOMIC_RELEASE);
  } else {
    scratch_free(sc);
  }
}

/* Runs the schema over parsed instance j.  Returns 1, 0, or -1 with *pzErr. */
static int run(TelemSchema *S, Scratch *sc, const TelemJson *j, ErrVec *errs,
               const TelemSchemaRun *opt, char **pzErr) {
  VCtx V;
  memset(&V, 0, sizeof V);
  V.S = S;
  V.opt = opt;
  V.max_steps = opt && opt->max_steps ? opt->max_steps : TELEM_SCHEMA_MAX_STEPS;
  V.next_poll = 4096; /* short calls never poll (nor prepare the probe) */
  V.stack_base = (uintptr_t)__builtin_frame_address(0);
  V.stack_room = SC_STACK_QUICK;
  V.sc = sc;
  V.collect = errs != NULL;
  V.errs = errs;
  V.ip = sc->stacks;
  V.kp = V.ip + SC_IP_CAP;
  V.scope = (const TelemJson **)(V.kp + SC_KP_CAP);
  int r = v_node(&V, S->root, j, NULL);
  if (V.fatal) {
    telem_set_err(pzErr, "%s", V.fatal_msg);
    return V.interrupted ? -2 : -1;
  }
  return r ? 1 : 0;
}

int telem_schema_validate_tree(TelemSchema *s, const TelemJson *j, char **pzErr) {
  return telem_schema_validate_tree_run(s, j, NULL, pzErr);
}

int telem_schema_validate_tree_run(TelemSchema *s, const TelemJson *j, const TelemSchemaRun *opt,
                                   char **pzErr) {
  Scratch priv, *sc = scratch_take(s, &priv);
  if (!sc) {
    telem_set_oom(pzErr);
    return -1;
  }
  int r = run(s, sc, j, NULL, opt, pzErr); /* -2: interrupted */
  scratch_give(s, sc);
  return r;
}

TelemSchemaErrors *telem_schema_errors_tree(TelemSchema *s, const TelemJson *j, char **pzErr) {
  return telem_schema_errors_tree_run(s, j, NULL, NULL, pzErr);
}

TelemSchemaErrors *telem_schema_errors_tree_run(TelemSchema *s, const TelemJson *j,
                                                const TelemSchemaRun *opt, int *interrupted,
                                                char **pzErr) {
  ErrVec *e = sqlite3_malloc64(sizeof *e);
  Scratch priv, *sc = e ? scratch_take(s, &priv) : NULL;
  if (!sc) {
    sqlite3_free(e);
    telem_set_oom(pzErr);
    return NULL;
  }
  memset(e, 0, sizeof *e);
  int r = run(s, sc, j, e, opt, pzErr);
  scratch_give(s, sc);
  if (interrupted) *interrupted = r == -2;
  if (r < 0) {
    telem_schema_errors_free(e);
    return NULL;
  }
  return e;
}

int telem_schema_validate(TelemSchema *s, const char *json, size_t n, char **pzErr) {
  Scratch priv, *sc = scratch_take(s, &priv);
  if (!sc) {
    telem_set_oom(pzErr);
    return -1;
  }
  int r = 0;
  const TelemJson *j = telem_json_parse(&sc->arena, json, n, NULL);
  if (j) r = run(s, sc, j, NULL, NULL, pzErr);
  if (r < -1) r = -1;
  scratch_give(s, sc);
  return r;
}

/* Appends an error for a document that is not JSON. */
static int errs_not_json(ErrVec *e, const TelemJsonError *je) {
  e->v = sqlite3_malloc64(sizeof *e->v);
  if (!e->v) return -1;
  e->cap = 1;
  TelemSchemaError *x = &e->v[0];
  x->instance_path = sqlite3_mprintf("");
  x->schema_path = sqlite3_mprintf("");
  x->keyword = sqlite3_mprintf("json");
  x->message = sqlite3_mprintf("instance is not valid JSON (line %d, column %d: %s)", je->line,
                               je->column, je->what ? je->what : "syntax error");
  e->n = 1;
  return x->instance_path && x->schema_path && x->keyword && x->message ? 0 : -1;
}

TelemSchemaErrors *telem_schema_validate_errors(TelemSchema *s, const char *json, size_t n,
                                                char **pzErr) {
  ErrVec *e = sqlite3_malloc64(sizeof *e);
  Scratch priv, *sc = e ? scratch_take(s, &priv) : NULL;
  if (!sc) {
    sqlite3_free(e);
    telem_set_oom(pzErr);
    return NULL;
  }
  memset(e, 0, sizeof *e);
  TelemJsonError je;
  memset(&je, 0, sizeof je);
  const TelemJson *j = telem_json_parse(&sc->arena, json, n, &je);
  int r = j ? run(s, sc, j, e, NULL, pzErr) : errs_not_json(e, &je);
  scratch_give(s, sc);
  if (r < 0) {
    if (!j) telem_set_oom(pzErr);
    telem_schema_errors_free(e);
    return NULL;
  }
  return e;
}

int telem_schema_errors_count(const TelemSchemaErrors *e) { return e ? e->n : 0; }

const TelemSchemaError *telem_schema_errors_get(const TelemSchemaErrors *e, int i) {
  return e && i >= 0 && i < e->n ? &e->v[i] : NULL;
}

void telem_schema_errors_free(TelemSchemaErrors *e) {
  if (!e) return;
  errvec_truncate(e, 0);
  sqlite3_free(e->v);
  sqlite3_free(e);
}
