/*
 * jsonp.c -- the data-path JSON parser.
 *
 * Row payloads are parsed millions of times, so they do not go through
 * jansson (a malloc per value).  This is a single-pass, strictly RFC 8259
 * parser (iterative: no recursion) into a TelemArena:
 *   - strings without escapes point straight into the input (no copy);
 *     strings with escapes are decoded into the arena (TJ_F_DECODED);
 *   - numbers stay as their exact text: keywords that need a value
 *     (minimum, multipleOf, ...) convert on demand, so big integers and
 *     decimals are never rounded by the parser;
 *   - UTF-8 is validated as it is read, lone surrogate escapes rejected;
 *   - nesting deeper than TELEM_JSON_MAX_DEPTH is an error, and the parser
 *     keeps open containers on an explicit stack, not the C stack.
 * Also here: compact serialisation and JSON value equality over the tree.
 */
#include "engine/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#ifdef __SSE2__
/* The bytes of v (sixteen of a string) that end a plain JSON string, one
 * bit each; signed compares, so bytes >= 0x80 count as below 0x20. */
static inline unsigned json_stop_mask16(__m128i v) {
  __m128i stop = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                              _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                           _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
  return (unsigned)_mm_movemask_epi8(stop);
}
#endif

typedef struct JsonParser {
  TelemArena *arena;
  const unsigned char *z; /* input */
  size_t n;               /* input length */
  size_t i;               /* cursor */
  int depth;
  size_t values;          /* nodes allocated so far */
  const char *err;        /* first error, static text */
  int err_code;           /* its TJ_ERR_* */
  size_t err_at;
  TelemJson *pool;        /* nodes taken from the arena in batches */
  size_t pool_left;
  int spaced;             /* whitespace outside strings, or an escaped key (TJ_F_VERBATIM) */
} JsonParser;

/* Nodes come from the arena NODE_BATCH at a time: one arena call per batch
 * instead of per value (documents of many small values, nested arrays). */
#define NODE_BATCH 64


static int parse_fail(JsonParser *p, int code, const char *what) {
  if (!p->err) {
    p->err = what;
    p->err_code = code;
    p->err_at = p->i;
  }
  return 0;
}

static inline void skip_ws(JsonParser *p) {
  /* most documents have no whitespace between tokens */
  if (p->i < p->n && p->z[p->i] > ' ') return;
  size_t from = p->i;
  while (p->i < p->n) {
    unsigned char c = p->z[p->i];
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') break;
    p->i++;
  }
  p->spaced |= p->i != from;
}

static TelemJson *new_node_batch(JsonParser *p);

static inline __attribute__((always_inline)) TelemJson *new_node(JsonParser *p, int type) {
  /* Each value costs a node of arena memory: a hostile document of millions
   * of tiny values must not grow the arena without bound. */
  if (++p->values > TELEM_JSON_MAX_VALUES) {
    parse_fail(p, TJ_ERR_LIMIT, "too many values");
    return NULL;
  }
  if (!p->pool_left && !new_node_batch(p)) return NULL;
  TelemJson *v = p->pool++;
  p->pool_left--;
  v->type = (uint8_t)type;
  v->flags = 0;
  v->n = 0;
  v->s = NULL;
  v->key = NULL;
  v->key_len = 0;
  v->src_off = (uint32_t)p->i;
  v->src_len = 0;
  v->child = NULL;
  v->next = NULL;
  return v;
}

/* A new batch of nodes in p->pool, or NULL (out of memory). */
static TelemJson *new_node_batch(JsonParser *p) {
  /* a batch never exceeds what the value limit still allows */
  size_t k = TELEM_JSON_MAX_VALUES - p->values + 1;
  if (k > NODE_BATCH) k = NODE_BATCH;
  p->pool = telem_arena_alloc(p->arena, k * sizeof(TelemJson));
  if (!p->pool) {
    parse_fail(p, TJ_ERR_NOMEM, telem_oom_text);
    return NULL;
  }
  p->pool_left = k;
  return p->pool;
}

/* Length of the well-formed UTF-8 sequence at z[0..avail), 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *z, size_t avail) {
  unsigned char c = z[0];
  if (c >= 0xC2 && c <= 0xDF) {
    return (avail >= 2 && (z[1] & 0xC0) == 0x80) ? 2 : 0;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (avail < 3 || (z[1] & 0xC0) != 0x80 || (z[2] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && z[1] < 0xA0) return 0;  /* overlong */
    if (c == 0xED && z[1] >= 0xA0) return 0; /* surrogate */
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (avail < 4 || (z[1] & 0xC0) != 0x80 || (z[2] & 0xC0) != 0x80 || (z[3] & 0xC0) != 0x80)
      return 0;
    if (c == 0xF0 && z[1] < 0x90) return 0;  /* overlong */
    if (c == 0xF4 && z[1] >= 0x90) return 0; /* > U+10FFFF */
    return 4;
  }
  return 0;
}

static int hex4(const unsigned char *z, uint32_t *out) {
  uint32_t v = 0;
  for (int k = 0; k < 4; k++) {
    unsigned char c = z[k];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else return 0;
  }
  *out = v;
  return 1;
}

static size_t put_utf8(unsigned char *o, uint32_t cp) {
  if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
  if (cp < 0x800) {
    o[0] = (unsigned char)(0xC0 | (cp >> 6));
    o[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (unsigned char)(0xE0 | (cp >> 12));
    o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (unsigned char)(0xF0 | (cp >> 18));
  o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Decodes the escaped string body z[start..end) (already validated for
 * structure) into the arena.  Returns 0 on a bad escape. */
static int decode_escapes(JsonParser *p, size_t start, size_t end, const char **out,
                          uint32_t *out_len) {
  /* Decoded text is never longer than the escaped text. */
  unsigned char *o = telem_arena_alloc(p->arena, end - start + 1);
  if (!o) return parse_fail(p, TJ_ERR_NOMEM, telem_oom_text);
  size_t k = 0;
  for (size_t i = start; i < end;) {
    unsigned char c = p->z[i];
    if (c != '\\') {
      o[k++] = c;
      i++;
      continue;
    }
    unsigned char e = p->z[i + 1];
    i += 2;
    switch (e) {
      case '"': o[k++] = '"'; break;
      case '\\': o[k++] = '\\'; break;
      case '/': o[k++] = '/'; break;
      case 'b': o[k++] = '\b'; break;
      case 'f': o[k++] = '\f'; break;
      case 'n': o[k++] = '\n'; break;
      case 'r': o[k++] = '\r'; break;
      case 't': o[k++] = '\t'; break;
      case 'u': {
        uint32_t cp, lo;
        hex4(p->z + i, &cp); /* checked by scan_string */
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (i + 6 > end || p->z[i] != '\\' || p->z[i + 1] != 'u' || !hex4(p->z + i + 2, &lo) ||
              lo < 0xDC00 || lo > 0xDFFF) {
            p->i = i;
            return parse_fail(p, TJ_ERR_SURROGATE, "lone surrogate in \\u escape");
          }
          i += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          p->i = i;
          return parse_fail(p, TJ_ERR_SURROGATE, "lone surrogate in \\u escape");
        }
        k += put_utf8(o + k, cp);
        break;
      }
      default:
        p->i = i;
        return parse_fail(p, TJ_ERR_SYNTAX, "invalid escape");
    }
  }
  o[k] = 0;
  *out = (const char *)o;
  *out_len = (uint32_t)k;
  return 1;
}

/* Scans the string starting at the opening quote; sets *s and *len to the
 * value (pointing into the input when it has no escapes). */
static int scan_string(JsonParser *p, const char **s, uint32_t *len, int *decoded) {
  size_t start = ++p->i;
  int has_escape = 0;
  const unsigned char *z = p->z;
  size_t n = p->n;
  size_t i = start;
  for (;;) {
    /* Fast path: plain printable ASCII, sixteen bytes at a time where SSE2
     * is (x86-64 always), then eight (a word with no byte < 0x20, >= 0x80,
     * '"' or '\\'), then byte by byte. */
#ifdef __SSE2__
    while (i + 16 <= n) {
      __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(z + i));
      unsigned m = json_stop_mask16(v);
      if (m) {
        i += (size_t)__builtin_ctz(m);
        goto stopped;
      }
      i += 16;
    }
#endif
    while (i + 8 <= n) {
      uint64_t w;
      memcpy(&w, z + i, 8);
      uint64_t stop = telem_json_stop_bits(w);
      if (stop) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        i += (size_t)__builtin_ctzll(stop) >> 3;
#endif
        break;
      }
      i += 8;
    }
    while (i < n && z[i] >= 0x20 && z[i] < 0x80 && z[i] != '"' && z[i] != '\\') i++;
#ifdef __SSE2__
  stopped:
#endif
    if (i >= n) {
      p->i = i;
      return parse_fail(p, TJ_ERR_SYNTAX, "unterminated string");
    }
    unsigned char c = z[i];
    if (c == '"') break;
    if (c == '\\') {
      if (i + 1 >= n) {
        p->i = i;
        return parse_fail(p, TJ_ERR_SYNTAX, "unterminated string");
      }
      unsigned char e = z[i + 1];
      if (e == 'u') {
        uint32_t cp;
        if (i + 6 > n || !hex4(z + i + 2, &cp)) {
          p->i = i;
          return parse_fail(p, TJ_ERR_SYNTAX, "invalid \\u escape");
        }
        i += 6;
      } else if (strchr("\"\\/bfnrt", e) && e) {
        i += 2;
      } else {
        p->i = i;
        return parse_fail(p, TJ_ERR_SYNTAX, "invalid escape");
      }
      has_escape = 1;
      continue;
    }
    if (c < 0x20) {
      p->i = i;
      return parse_fail(p, TJ_ERR_SYNTAX, "control character in string");
    }
    size_t l = utf8_seq_len(z + i, n - i);
    if (!l) {
      p->i = i;
      return parse_fail(p, TJ_ERR_UTF8, "invalid UTF-8");
    }
    i += l;
  }
  if (i - start > UINT32_MAX) return parse_fail(p, TJ_ERR_LIMIT, "string too long");
  p->i = i + 1;
  *decoded = has_escape;
  if (!has_escape) {
    *s = (const char *)z + start;
    *len = (uint32_t)(i - start);
    return 1;
  }
  return decode_escapes(p, start, i, s, len);
}

/* scan_string for the common string (printable ASCII, no escape) found
 * in the first sixteen-byte blocks, inline; anything else goes to
 * scan_string, which starts over. */
static inline __attribute__((always_inline)) int scan_string_fast(JsonParser *p, const char **s,
                                                                  uint32_t *len, int *decoded) {
#ifdef __SSE2__
  const unsigned char *z = p->z;
  size_t start = p->i + 1, i = start, n = p->n;
  while (i + 16 <= n) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(z + i));
    unsigned m = json_stop_mask16(v);
    if (m) {
      i += (size_t)__builtin_ctz(m);
      if (z[i] != '"') break;
      *s = (const char *)z + start;
      *len = (uint32_t)(i - start); /* n <= UINT32_MAX (telem_json_parse) */
      *decoded = 0;
      p->i = i + 1;
      return 1;
    }
    i += 16;
  }
#endif
  return scan_string(p, s, len, decoded);
}

static int scan_number(JsonParser *p, TelemJson *v) {
  const unsigned char *z = p->z;
  size_t i = p->i, n = p->n, start = i;
  int integral = 1;
  if (z[i] == '-') {
    v->flags |= TJ_F_NEGATIVE;
    i++;
  }
  if (i >= n) { p->i = i; return parse_fail(p, TJ_ERR_SYNTAX, "invalid number"); }
  if (z[i] == '0') {
    i++;
  } else if (z[i] >= '1' && z[i] <= '9') {
    while (i < n && z[i] >= '0' && z[i] <= '9') i++;
  } else {
    p->i = i;
    return parse_fail(p, TJ_ERR_SYNTAX, "invalid number");
  }
  if (i < n && z[i] == '.') {
    integral = 0;
    i++;
    if (i >= n || z[i] < '0' || z[i] > '9') { p->i = i; return parse_fail(p, TJ_ERR_SYNTAX, "invalid number"); }
    while (i < n && z[i] >= '0' && z[i] <= '9') i++;
  }
  if (i < n && (z[i] == 'e' || z[i] == 'E')) {
    integral = 0;
    i++;
    if (i < n && (z[i] == '+' || z[i] == '-')) i++;
    if (i >= n || z[i] < '0' || z[i] > '9') { p->i = i; return parse_fail(p, TJ_ERR_SYNTAX, "invalid number"); }
    while (i < n && z[i] >= '0' && z[i] <= '9') i++;
  }
  if (integral) v->flags |= TJ_F_INTEGRAL;
  v->s = (const char *)z + start;
  v->n = (uint32_t)(i - start);
  p->i = i;
  return 1;
}

static int match_word(JsonParser *p, const char *w, size_t len) {
  if (p->n - p->i < len || memcmp(p->z + p->i, w, len) != 0)
    return parse_fail(p, TJ_ERR_SYNTAX, "unexpected character");
  p->i += len;
  return 1;
}

/* An open container while parsing: where its next child goes. */
typedef struct PFrame {
  TelemJson *c;
  TelemJson **tail;
  int obj;    /* c is an object */
  char close; /* its closing bracket */
} PFrame;

/* A member's key and the ':' after it.  0 on error. */
static inline __attribute__((always_inline)) int parse_key(JsonParser *p, const char **key, uint32_t *len,
                                                   int *decoded) {
  skip_ws(p);
  if (p->i >= p->n || p->z[p->i] != '"') return parse_fail(p, TJ_ERR_SYNTAX, "expected a string key");
  if (!scan_string_fast(p, key, len, decoded)) return 0;
  p->spaced |= *decoded;
  skip_ws(p);
  if (p->i >= p->n || p->z[p->i] != ':') return parse_fail(p, TJ_ERR_SYNTAX, "expected ':'");
  p->i++;
  return 1;
}

/* The scalar at p->i (string, number, true, false, null), or NULL. */
static inline __attribute__((always_inline)) TelemJson *parse_scalar(JsonParser *p, unsigned char c) {
  TelemJson *v = NULL;
  switch (c) {
    case '"': {
      int decoded = 0;
      if (!(v = new_node(p, TJ_STRING))) return NULL;
      if (!scan_string_fast(p, &v->s, &v->n, &decoded)) return NULL;
      if (decoded) v->flags |= TJ_F_DECODED;
      return v;
    }
    case 't':
      return (v = new_node(p, TJ_TRUE)) && match_word(p, "true", 4) ? v : NULL;
    case 'f':
      return (v = new_node(p, TJ_FALSE)) && match_word(p, "false", 5) ? v : NULL;
    case 'n':
      return (v = new_node(p, TJ_NULL)) && match_word(p, "null", 4) ? v : NULL;
    default:
      if (c == '-' || (c >= '0' && c <= '9'))
        return (v = new_node(p, TJ_NUMBER)) && scan_number(p, v) ? v : NULL;
      parse_fail(p, TJ_ERR_SYNTAX, "unexpected character");
      return NULL;
  }
}

/* The whole document, without recursion: open containers are kept on an
 * explicit stack (on the C stack for the first 32 levels, then in the
 * arena), so the parser's own stack use does not grow with nesting. */
static TelemJson *parse_doc(JsonParser *p) {
  PFrame local[32], *st = local;
  size_t cap = 32, sp = 0;
  TelemJson *root = NULL;
  const char *key = NULL;
  uint32_t key_len = 0;
  int key_decoded = 0;
  for (;;) {
    /* a value starts here */
    skip_ws(p);
    if (p->i >= p->n) {
      parse_fail(p, TJ_ERR_SYNTAX, "unexpected end of input");
      return NULL;
    }
    size_t start = p->i;
    unsigned char c = p->z[p->i];
    int open = c == '{' || c == '[';
    TelemJson *v;
    if (open) {
      if (!(v = new_node(p, c == '{' ? TJ_OBJECT : TJ_ARRAY))) return NULL;
      if (++p->depth > TELEM_JSON_MAX_DEPTH) {
        parse_fail(p, TJ_ERR_DEPTH, "nesting too deep");
        return NULL;
      }
      p->i++;
    } else if (!(v = parse_scalar(p, c))) {
      return NULL;
    }
    v->src_off = (uint32_t)start;
    if (sp) {
      PFrame *f = &st[sp - 1];
      *f->tail = v;
      f->tail = &v->next;
      f->c->n++;
      if (f->obj) {
        v->key = key;
        v->key_len = key_len;
        if (key_decoded) v->flags |= TJ_F_KEY_DECODED;
      }
    } else {
      root = v;
    }
    if (open) {
      skip_ws(p);
      char close = v->type == TJ_ARRAY ? ']' : '}';
      if (p->i < p->n && p->z[p->i] == close) {
        p->i++;
        p->depth--;
        v->src_len = (uint32_t)(p->i - start);
      } else {
        if (sp == cap) { /* past 32 levels: room for the deepest document */
          PFrame *big = telem_arena_alloc(p->arena, (TELEM_JSON_MAX_DEPTH + 1) * sizeof *big);
          if (!big) {
            parse_fail(p, TJ_ERR_NOMEM, telem_oom_text);
            return NULL;
          }
          memcpy(big, st, sp * sizeof *big);
          st = big;
          cap = TELEM_JSON_MAX_DEPTH + 1;
        }
        st[sp].c = v;
        st[sp].tail = &v->child;
        st[sp].obj = v->type == TJ_OBJECT;
        st[sp].close = close;
        sp++;
        if (v->type == TJ_OBJECT && !parse_key(p, &key, &key_len, &key_decoded)) return NULL;
        continue; /* its first member */
      }
    } else {
      v->src_len = (uint32_t)(p->i - start);
    }
    /* after a value: the next member, or close containers */
    for (;;) {
      if (!sp) return root;
      PFrame *f = &st[sp - 1];
      skip_ws(p);
      if (p->i >= p->n) {
        parse_fail(p, TJ_ERR_SYNTAX, "unexpected end of input");
        return NULL;
      }
      char ch = (char)p->z[p->i];
      if (ch == ',') {
        p->i++;
        if (f->obj && !parse_key(p, &key, &key_len, &key_decoded)) return NULL;
        break;
      }
      if (ch == f->close) {
        p->i++;
        p->depth--;
        f->c->src_len = (uint32_t)(p->i - f->c->src_off);
        sp--;
        continue;
      }
      parse_fail(p, TJ_ERR_SYNTAX, f->c->type == TJ_ARRAY ? "expected ',' or ']'" : "expected ',' or '}'");
      return NULL;
    }
  }
}

TelemJson *telem_json_parse(TelemArena *a, const char *text, size_t n, TelemJsonError *err) {
  JsonParser p = {a, (const unsigned char *)text, n, 0, 0, 0, NULL, 0, 0, NULL, 0, 0};
  TelemJson *root = NULL;
  if (n > UINT32_MAX) {
    parse_fail(&p, TJ_ERR_LIMIT, "input too large");
  } else {
    root = parse_doc(&p);
    if (root) {
      skip_ws(&p);
      if (p.i != p.n) {
        parse_fail(&p, TJ_ERR_SYNTAX, "trailing characters after the value");
        root = NULL;
      } else if (!p.spaced) {
        root->flags |= TJ_F_VERBATIM;
      }
    }
  }
  if (!root && err) {
    err->offset = p.err_at;
    err->what = p.err ? p.err : "invalid JSON";
    err->code = p.err ? p.err_code : TJ_ERR_SYNTAX;
    err->line = 1;
    err->column = 1;
    for (size_t i = 0; i < p.err_at && i < n; i++) {
      if (text[i] == '\n') {
        err->line++;
        err->column = 1;
      } else {
        err->column++;
      }
    }
  }
  return root;
}

const TelemJson *telem_json_get(const TelemJson *o, const char *key, size_t klen) {
  const TelemJson *found = NULL;
  if (!o || o->type != TJ_OBJECT) return NULL;
  for (const TelemJson *k = o->child; k; k = k->next)
    if (k->key_len == klen && telem_bytes_eq(k->key, key, klen)) found = k;
  return found;
}

void telem_json_write(TelemBuf *b, const TelemJson *v) {
  switch (v->type) {
    case TJ_NULL: telem_buf_append(b, "null", 4); break;
    case TJ_TRUE: telem_buf_append(b, "true", 4); break;
    case TJ_FALSE: telem_buf_append(b, "false", 5); break;
    case TJ_NUMBER: telem_buf_append(b, v->s, v->n); break;
    case TJ_STRING: telem_buf_json_string(b, v->s, v->n); break;
    case TJ_ARRAY:
    case TJ_OBJECT: {
      telem_buf_putc(b, v->type == TJ_ARRAY ? '[' : '{');
      for (const TelemJson *k = v->child; k; k = k->next) {
        if (k != v->child) telem_buf_putc(b, ',');
        if (v->type == TJ_OBJECT) {
          telem_buf_json_string(b, k->key, k->key_len);
          telem_buf_putc(b, ':');
        }
        telem_json_write(b, k);
      }
      telem_buf_putc(b, v->type == TJ_ARRAY ? ']' : '}');
      break;
    }
  }
}

/* ---- exact decimal comparison of number literals ------------------------- */

/* A number literal split into sign, integer digits, fraction digits and
 * the exponent.  Points into the literal; no allocation. */
typedef struct Decimal {
  int neg;
  const char *int_part; size_t int_len;   /* digits before '.' */
  const char *frac_part; size_t frac_len; /* digits after '.' */
  long long exp;                          /* the e-part */
} Decimal;

static void decimal_split(const char *s, size_t n, Decimal *d) {
  size_t i = 0;
  memset(d, 0, sizeof(*d));
  if (i < n && s[i] == '-') { d->neg = 1; i++; }
  d->int_part = s + i;
  while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  d->int_len = (size_t)(s + i - d->int_part);
  if (i < n && s[i] == '.') {
    i++;
    d->frac_part = s + i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    d->frac_len = (size_t)(s + i - d->frac_part);
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    int eneg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
    long long e = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
      if (e < 100000000000LL) e = e * 10 + (s[i] - '0');
      i++;
    }
    d->exp = eneg ? -e : e;
  }
}

/* The k-th digit of the concatenation int_part|frac_part ('0' past the end). */
static char decimal_digit(const Decimal *d, size_t k) {
  if (k < d->int_len) return d->int_part[k];
  k -= d->int_len;
  return k < d->frac_len ? d->frac_part[k] : '0';
}

/* Compares two number literals exactly: <0, 0, >0. */
int telem_json_number_cmp(const char *a, size_t an, const char *b, size_t bn) {
  Decimal x, y;
  decimal_split(a, an, &x);
  decimal_split(b, bn, &y);
  /* Normalise: strip leading zeros of the digit string, note the position
   * of the decimal point (magnitude). */
  size_t xl = x.int_len + x.frac_len, yl = y.int_len + y.frac_len;
  size_t xs = 0, ys = 0;
  while (xs < xl && decimal_digit(&x, xs) == '0') xs++;
  while (ys < yl && decimal_digit(&y, ys) == '0') ys++;
  size_t xe = xl, ye = yl;
  while (xe > xs && decimal_digit(&x, xe - 1) == '0') xe--;
  while (ye > ys && decimal_digit(&y, ye - 1) == '0') ye--;
  int xzero = xs == xe, yzero = ys == ye;
  if (xzero && yzero) return 0;
  int xsign = xzero ? 0 : (x.neg ? -1 : 1);
  int ysign = yzero ? 0 : (y.neg ? -1 : 1);
  if (xsign != ysign) return xsign < ysign ? -1 : 1;
  /* Same sign, both non-zero: compare magnitudes. */
  long long xmag = (long long)x.int_len - (long long)xs + x.exp;
  long long ymag = (long long)y.int_len - (long long)ys + y.exp;
  int cmp = 0;
  if (xmag != ymag) {
    cmp = xmag < ymag ? -1 : 1;
  } else {
    size_t i = 0;
    for (;; i++) {
      int xd = xs + i < xe ? decimal_digit(&x, xs + i) : -1;
      int yd = ys + i < ye ? decimal_digit(&y, ys + i) : -1;
      if (xd < 0 && yd < 0) break;
      if (xd < 0) { cmp = -1; break; }
      if (yd < 0) { cmp = 1; break; }
      if (xd != yd) { cmp = xd < yd ? -1 : 1; break; }
    }
  }
  return xsign < 0 ? -cmp : cmp;
}

int telem_json_equal(const TelemJson *a, const TelemJson *b) {
  if (a->type != b->type) return 0;
  switch (a->type) {
    case TJ_NULL:
    case TJ_TRUE:
    case TJ_FALSE: return 1;
    case TJ_NUMBER: return telem_json_number_cmp(a->s, a->n, b->s, b->n) == 0;
    case TJ_STRING: return a->n == b->n && telem_bytes_eq(a->s, b->s, a->n);
    case TJ_ARRAY: {
      if (a->n != b->n) return 0;
      const TelemJson *x = a->child, *y = b->child;
      for (; x && y; x = x->next, y = y->next)
        if (!telem_json_equal(x, y)) return 0;
      return 1;
    }
    case TJ_OBJECT: {
      /* With duplicate keys the last member wins, as in telem_json_get, so
       * compare the effective members only: every key of a is in b with an
       * equal value, and b has no key a lacks.  That costs O(|a| * (|a| +
       * |b|)): a small schema value against a large instance stays linear
       * (counting b's distinct keys was O(|b|^2)). */
      for (const TelemJson *x = a->child; x; x = x->next) {
        if (telem_json_get(a, x->key, x->key_len) != x) continue;
        const TelemJson *y = telem_json_get(b, x->key, x->key_len);
        if (!y || !telem_json_equal(x, y)) return 0;
      }
      for (const TelemJson *y = b->child; y; y = y->next)
        if (!telem_json_get(a, y->key, y->key_len)) return 0;
      return 1;
    }
  }
  return 0;
}
