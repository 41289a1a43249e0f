/*
 * core.h -- what every part of voxtelem shares: the SQLite include rules,
 * project-wide limits, the growable buffer, the error vocabulary, UTF-8
 * checks and the per-row arena.  Engines (ext/engine/) include this and
 * their own header, never conn.h: they touch no database.
 *
 * Memory: everything in ext/ allocates with sqlite3_malloc64/sqlite3_free,
 * except jansson values (json_decref), PCRE2 objects (pcre2_*_free), libyaml
 * objects (yaml_*_delete) and jansson's dump strings (free).
 */
#ifndef VOXTELEM_CORE_H
#define VOXTELEM_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

/* Files built into the loadable extension include sqlite3ext.h and use the
 * routines the host passes in; the unit tests and tools link libsqlite3
 * directly and define TELEM_NO_EXT. */
#ifdef TELEM_NO_EXT
#include <sqlite3.h>
#define SQLITE_EXTENSION_INIT1
#define SQLITE_EXTENSION_INIT2(v) (void)(v)
#else
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3
#endif

#define TELEM_EXPORT __attribute__((visibility("default")))
#define TELEM_UNUSED __attribute__((unused))

/* ---- limits ------------------------------------------------------------ */

#define TELEM_JSON_MAX_DEPTH 1000            /* same bound as SQLite's json_valid() */
#define TELEM_JSON_MAX_VALUES (1u << 22)     /* values in one document (~230 MB of nodes) */
#define TELEM_MAX_CONTRACT_FILE (4u << 20)   /* 4 MiB: a contract file larger is refused */
#define TELEM_MAX_POLICY_BYTES (1u << 20)    /* 1 MiB of retention-policy YAML */
#define TELEM_MAX_PATTERN_BYTES 4096         /* one PCRE2 pattern in a contract */
#define TELEM_PCRE2_MATCH_LIMIT 1000000u     /* bounds backtracking per match */
#define TELEM_PCRE2_DEPTH_LIMIT 10000u
#define TELEM_YAML_MAX_ALIASES 64            /* alias bombs are refused */
#define TELEM_METADATA_MAX_BYTES 262144      /* research_metrics.metadata_json */

/* ---- errors: one vocabulary ---------------------------------------------- */

/* Engine calls that can fail return one of these (or a pointer, NULL on
 * failure).  On TELEM_ERROR *pzErr holds the reason, in sqlite3 memory; on
 * TELEM_NOMEM it may be NULL.  A failing call whose *pzErr is NULL ran out
 * of memory: telem_err_is_oom() says so. */
#define TELEM_OK 0
#define TELEM_ERROR (-1)
#define TELEM_NOMEM (-2)

/* Static "out of memory" text for places that report a `const char *`
 * reason (the JSON parser's TelemJsonError.what): compared by identity. */
extern const char telem_oom_text[];
#define telem_err_is_oom(msg) ((msg) == NULL || (msg) == telem_oom_text)

/* Replaces *pzErr (sqlite3 memory) with a formatted message. */
void telem_set_err(char **pzErr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Every message that leaves through telem_set_err, telem_result_errorf or
 * telem_vtab_errorf passes through this: bytes that are not printable
 * UTF-8 (controls, line and bidi separators, ill-formed sequences) are
 * escaped, so no argument, file or key can put them in an error.  Takes
 * msg (sqlite3 memory) and returns it or its escaped copy (NULL on OOM). */
char *telem_msg_printable(char *msg);
/* Sets *pzErr to NULL (freeing it): the out-of-memory form. */
void telem_set_oom(char **pzErr);

/* ---- growable buffer --------------------------------------------------- */

/* A byte buffer in sqlite3 memory.  On allocation failure `oom` is set and
 * further appends are ignored, so callers check once at the end. */
typedef struct TelemBuf {
  char *p;     /* data, NUL-terminated when len < cap; owned */
  size_t len;  /* bytes used */
  size_t cap;  /* bytes allocated */
  int oom;     /* an allocation failed */
} TelemBuf;

void telem_buf_init(TelemBuf *b);
void telem_buf_free(TelemBuf *b);
int telem_buf_reserve(TelemBuf *b, size_t extra); /* 0 ok, else sets oom */
void telem_buf_append(TelemBuf *b, const void *p, size_t n);
void telem_buf_puts(TelemBuf *b, const char *z);
void telem_buf_putc(TelemBuf *b, char c);
void telem_buf_printf(TelemBuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s[0..n) as a JSON string literal with quotes. */
void telem_buf_json_string(TelemBuf *b, const char *s, size_t n);
/* Appends a JSON Pointer token (RFC 6901: ~ -> ~0, / -> ~1) after a '/'. */
void telem_buf_pointer_token(TelemBuf *b, const char *s, size_t n);
/* Returns the NUL-terminated data and gives up ownership (NULL on oom). */
char *telem_buf_take(TelemBuf *b);

/* ---- UTF-8 -------------------------------------------------------------- */

/* 1 when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int telem_utf8_valid(const char *s, size_t n);
/* Number of code points in well-formed UTF-8 s[0..n). */
size_t telem_utf8_count(const char *s, size_t n);

/* Appends z[0..n) with every ill-formed sequence replaced by U+FFFD, so
 * the buffer holds valid UTF-8 whatever the input. */
void telem_buf_utf8_repair(TelemBuf *b, const char *z, size_t n);
/* Appends z[0..n) for an error message: printable UTF-8 kept; control
 * characters, line and bidi separators and backslashes escaped (\n, \u and four hex digits,
 * \\); bytes that are not UTF-8 as \xNN; cut with "..." after about max
 * bytes of output.  User-supplied text (YAML keys, field names, paths,
 * profile names) goes through this before it reaches a message. */
void telem_buf_printable(TelemBuf *b, const char *z, size_t n, size_t max);
/* The same as a NUL-terminated sqlite3_malloc'd string (NULL on OOM;
 * z NULL gives ""). */
char *telem_printable(const char *z, size_t n, size_t max);

/* ---- arena -------------------------------------------------------------- */

/* A bump allocator for per-row data.  telem_arena_reset() keeps the largest
 * block, so a scan reuses the same memory row after row. */
typedef struct TelemArenaBlock TelemArenaBlock;
typedef struct TelemArena {
  TelemArenaBlock *head; /* newest block first; owned */
  size_t used;           /* bytes used in head */
} TelemArena;

void telem_arena_init(TelemArena *a);
void *telem_arena_alloc(TelemArena *a, size_t n); /* 8-byte aligned; NULL on OOM */
void telem_arena_reset(TelemArena *a);
void telem_arena_free(TelemArena *a);

/* ---- sensitivity classes --------------------------------------------------- */

/* "S0".."S3" -> 0..3, anything else -1. */
static inline int telem_class_rank(const char *z) {
  if (z && z[0] == 'S' && z[1] >= '0' && z[1] <= '3' && z[2] == 0) return z[1] - '0';
  return -1;
}
/* 0..3 -> "S0".."S3" (static), anything else NULL. */
static inline const char *telem_class_name(int c) {
  static const char *const names[] = {"S0", "S1", "S2", "S3"};
  return c >= 0 && c < 4 ? names[c] : NULL;
}

#endif /* VOXTELEM_CORE_H */
