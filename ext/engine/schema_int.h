/*
 * schema_int.h -- private declarations of the JSON Schema engine
 * (schema.c, schema_util.c).  Only those two files include it.
 */
#ifndef VOXTELEM_SCHEMA_INT_H
#define VOXTELEM_SCHEMA_INT_H

#include "engine/schema.h"

/* A hash map from byte strings (copied) to pointers, in sqlite3 memory. */
typedef struct ScMapSlot {
  char *key;     /* owned copy; NULL = empty slot */
  size_t n;      /* key bytes */
  uint64_t hash; /* of the key */
  void *val;     /* not owned */
} ScMapSlot;

typedef struct ScMap {
  ScMapSlot *slots; /* cap slots; owned */
  size_t cap;       /* power of two or 0 */
  size_t count;     /* used slots */
} ScMap;

void sc_map_free(ScMap *m);
void *sc_map_get(const ScMap *m, const void *key, size_t n);
int sc_map_put(ScMap *m, const void *key, size_t n, void *val); /* 0 ok, -1 OOM */

/* Resolves URI reference ref against base (RFC 3986 5.2).  Returns a
 * sqlite3_malloc'd string, NULL on OOM. */
char *sc_uri_resolve(const char *base, const char *ref);

/* An exact decimal: value = (neg ? -1 : 1) * D * 10^q where D is the digit
 * string d[0..nd) without leading or trailing zeros (nd == 0 is zero). */
typedef struct ScDec {
  const char *d; /* digits, not NUL-terminated; not owned */
  size_t nd;     /* digit count */
  int64_t q;     /* exponent (clamped far beyond any useful range) */
  int neg;       /* 1 for negative values */
} ScDec;

/* Parses the JSON number literal s[0..n) into d, with digits stored in
 * buf[0..cap).  Returns 0, or -1 when cap is too small. */
int sc_dec_parse(const char *s, size_t n, char *buf, size_t cap, ScDec *d);
int sc_dec_cmp(const ScDec *a, const ScDec *b);      /* <0, 0, >0 */
int sc_dec_is_integer(const ScDec *d);               /* 1 when no fraction */
int sc_dec_multiple_of(const ScDec *v, const ScDec *m); /* 1 when v = k*m */

/* ---- formats (schema_format.c) ---- */

/* The id (> 0) of a format name the engine can assert, or 0 (an unknown
 * format stays an annotation). */
int sc_format_id(const char *name, size_t n);
/* 1 when s[0..n) (UTF-8) is valid for format id. */
int sc_format_check(int id, const char *s, size_t n);

#endif /* VOXTELEM_SCHEMA_INT_H */
