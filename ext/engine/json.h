/*
 * json.h -- the data-path JSON parser (json.c): single pass, strict RFC
 * 8259, into a TelemArena.
 */
#ifndef VOXTELEM_JSON_H
#define VOXTELEM_JSON_H

#include "core/core.h"

/* ---- data-path JSON (jsonp.c) ------------------------------------------- */

typedef enum TelemJsonType {
  TJ_NULL = 0,
  TJ_FALSE,
  TJ_TRUE,
  TJ_NUMBER,
  TJ_STRING,
  TJ_ARRAY,
  TJ_OBJECT
} TelemJsonType;

#define TJ_F_INTEGRAL 0x01 /* number: no fraction or exponent in the text */
#define TJ_F_NEGATIVE 0x02 /* number: leading '-' */
#define TJ_F_DECODED 0x04  /* string: escapes were decoded into the arena */
#define TJ_F_KEY_DECODED 0x08 /* member key: escapes were decoded into the arena */
/* root only: the text has no whitespace outside strings and no escaped
 * member key, so the compact re-serialisation that copies scalars as
 * written (telem_redactor_run) gives back exactly the input bytes */
#define TJ_F_VERBATIM 0x10

/* One value of a parsed document.  Every pointer points into the input text
 * or the arena the document was parsed into; nothing is owned.
 * Strings and keys are not NUL-terminated: use the lengths. */
typedef struct TelemJson TelemJson;
struct TelemJson {
  uint8_t type;        /* TelemJsonType */
  uint8_t flags;       /* TJ_F_* */
  uint32_t n;          /* string/number: bytes in s; array/object: child count */
  const char *s;       /* string: UTF-8 value; number: its literal text */
  const char *key;     /* object member: its key (UTF-8), else NULL */
  uint32_t key_len;    /* bytes in key */
  uint32_t src_off;    /* offset of the value's first byte in the input */
  uint32_t src_len;    /* bytes the value spans in the input */
  TelemJson *child;    /* array/object: first child */
  TelemJson *next;     /* next sibling in the parent container */
};

/* Why a parse failed, for callers that act on the reason (compare codes,
 * never the text). */
enum {
  TJ_ERR_SYNTAX = 1, /* not JSON */
  TJ_ERR_UTF8,       /* ill-formed UTF-8 in the text */
  TJ_ERR_SURROGATE,  /* a lone surrogate \u escape */
  TJ_ERR_DEPTH,      /* nested deeper than TELEM_JSON_MAX_DEPTH */
  TJ_ERR_LIMIT,      /* too many values, or a string too long */
  TJ_ERR_NOMEM       /* out of memory (what is telem_oom_text) */
};

typedef struct TelemJsonError {
  size_t offset; /* byte offset of the first problem */
  int line;      /* 1-based */
  int column;    /* 1-based, in bytes */
  int code;      /* TJ_ERR_* */
  const char *what; /* static text: "unexpected character", ... */
} TelemJsonError;

/* The bytes of w (eight bytes of a string, in memory order) that end a
 * plain JSON string -- below 0x20, at or above 0x80, '"' or '\\' -- as
 * their high bits.  A borrow only runs upwards from a byte that stops, so
 * on a little-endian machine the lowest flagged byte is the first one that
 * does (ctz / 8); elsewhere only "some byte stops" is exact. */
static inline uint64_t telem_json_stop_bits(uint64_t w) {
  const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
  uint64_t quote = w ^ (ones * '"'), bslash = w ^ (ones * '\\');
  return ((w - ones * 0x20) | ((quote - ones) & ~quote) | ((bslash - ones) & ~bslash) | w) & high;
}

/* Parses text[0..n) strictly per RFC 8259 (UTF-8 checked, no trailing
 * garbage beyond whitespace, depth <= TELEM_JSON_MAX_DEPTH, at most
 * TELEM_JSON_MAX_VALUES values) into arena a.
 * Returns the root, or NULL with *err filled (err may be NULL).  The tree
 * lives until the arena is reset and may point into text. */
TelemJson *telem_json_parse(TelemArena *a, const char *text, size_t n, TelemJsonError *err);

/* 1 when a[0..n) and b[0..n) are equal: inline, for the short keys and
 * strings of the hot paths, where a memcmp call costs more than the bytes. */
static inline int telem_bytes_eq(const void *a, const void *b, size_t n) {
  const unsigned char *x = a, *y = b;
  uint64_t u, v;
  if (n >= 8) {
    /* whole words, the last one overlapping the one before */
    for (; n > 8; x += 8, y += 8, n -= 8) {
      __builtin_memcpy(&u, x, 8);
      __builtin_memcpy(&v, y, 8);
      if (u != v) return 0;
    }
    __builtin_memcpy(&u, x + n - 8, 8);
    __builtin_memcpy(&v, y + n - 8, 8);
    return u == v;
  }
  if (n >= 4) {
    uint32_t p, q, r, t;
    __builtin_memcpy(&p, x, 4);
    __builtin_memcpy(&q, y, 4);
    __builtin_memcpy(&r, x + n - 4, 4);
    __builtin_memcpy(&t, y + n - 4, 4);
    return p == q && r == t;
  }
  for (; n; n--)
    if (*x++ != *y++) return 0;
  return 1;
}
/* Member of object o named key[0..klen), or NULL (last one wins on dups). */
const TelemJson *telem_json_get(const TelemJson *o, const char *key, size_t klen);
/* Appends v as compact JSON (strings re-escaped minimally). */
void telem_json_write(TelemBuf *b, const TelemJson *v);
/* Compares two JSON number literals exactly (no rounding): <0, 0, >0. */
int telem_json_number_cmp(const char *a, size_t an, const char *b, size_t bn);
/* 1 when a and b are equal as JSON values (numbers by value, objects
 * regardless of member order). */
int telem_json_equal(const TelemJson *a, const TelemJson *b);

#endif /* VOXTELEM_JSON_H */
