/*
 * buf.c -- the growable TelemBuf, the error vocabulary shared by engines
 * and the SQL surface, and UTF-8 checks, repair and escaping.
 */
#include "core/core.h"

#include <string.h>

/* ---- TelemBuf ------------------------------------------------------------ */

void telem_buf_init(TelemBuf *b) { memset(b, 0, sizeof(*b)); }

void telem_buf_free(TelemBuf *b) {
  sqlite3_free(b->p);
  memset(b, 0, sizeof(*b));
}

int telem_buf_reserve(TelemBuf *b, size_t extra) {
  if (b->oom) return 1;
  if (b->len + extra < b->cap) return 0; /* keeps room for the NUL */
  size_t cap = b->cap ? b->cap : 64;
  while (cap <= b->len + extra) {
    if (cap > ((size_t)1 << 40)) { b->oom = 1; return 1; }
    cap *= 2;
  }
  char *p = sqlite3_realloc64(b->p, cap);
  if (!p) { b->oom = 1; return 1; }
  b->p = p;
  b->cap = cap;
  return 0;
}

void telem_buf_append(TelemBuf *b, const void *p, size_t n) {
  if (telem_buf_reserve(b, n)) return;
  if (n) memcpy(b->p + b->len, p, n);
  b->len += n;
  b->p[b->len] = 0;
}

void telem_buf_puts(TelemBuf *b, const char *z) { telem_buf_append(b, z, strlen(z)); }

void telem_buf_putc(TelemBuf *b, char c) {
  if (telem_buf_reserve(b, 1)) return;
  b->p[b->len++] = c;
  b->p[b->len] = 0;
}

void telem_buf_printf(TelemBuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *z = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  if (!z) { b->oom = 1; return; }
  telem_buf_puts(b, z);
  sqlite3_free(z);
}

void telem_buf_json_string(TelemBuf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  if (telem_buf_reserve(b, n + 2)) return;
  telem_buf_putc(b, '"');
  size_t run = 0; /* start of the pending run of bytes copied verbatim */
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
    telem_buf_append(b, s + run, i - run);
    run = i + 1;
    char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
    switch (ch) {
      case '"': esc[1] = '"'; break;
      case '\\': esc[1] = '\\'; break;
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      case '\b': esc[1] = 'b'; break;
      case '\f': esc[1] = 'f'; break;
      default:
        esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
        esc[4] = hex[ch >> 4]; esc[5] = hex[ch & 15];
        telem_buf_append(b, esc, 6);
        continue;
    }
    telem_buf_append(b, esc, 2);
  }
  telem_buf_append(b, s + run, n - run);
  telem_buf_putc(b, '"');
}

void telem_buf_pointer_token(TelemBuf *b, const char *s, size_t n) {
  telem_buf_putc(b, '/');
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '~' && s[i] != '/') continue;
    telem_buf_append(b, s + run, i - run);
    telem_buf_append(b, s[i] == '~' ? "~0" : "~1", 2);
    run = i + 1;
  }
  telem_buf_append(b, s + run, n - run);
}

char *telem_buf_take(TelemBuf *b) {
  if (b->oom) { telem_buf_free(b); return NULL; }
  if (!b->p && telem_buf_reserve(b, 0)) return NULL;
  b->p[b->len] = 0;
  char *p = b->p;
  memset(b, 0, sizeof(*b));
  return p;
}

/* ---- errors -------------------------------------------------------------- */

static void buf_printable(TelemBuf *b, const char *z, size_t n, size_t max, int esc_backslash);

const char telem_oom_text[] = "out of memory";

void telem_set_err(char **pzErr, const char *fmt, ...) {
  if (!pzErr) return;
  va_list ap;
  va_start(ap, fmt);
  char *msg = telem_msg_printable(sqlite3_vmprintf(fmt, ap));
  va_end(ap);
  sqlite3_free(*pzErr);
  *pzErr = msg;
}

char *telem_msg_printable(char *msg) {
  if (!msg) return NULL;
  size_t n = strlen(msg);
  int plain = 1;
  for (size_t i = 0; i < n && plain; i++)
    plain = (unsigned char)msg[i] >= 0x20 && (unsigned char)msg[i] < 0x7F;
  if (plain) return msg;
  TelemBuf b;
  telem_buf_init(&b);
  buf_printable(&b, msg, n, n * 6 + 4, 0);
  telem_buf_putc(&b, 0);
  sqlite3_free(msg);
  return telem_buf_take(&b);
}

void telem_set_oom(char **pzErr) {
  if (!pzErr) return;
  sqlite3_free(*pzErr);
  *pzErr = NULL;
}

/* ---- UTF-8 --------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at s[0..n), 0 when s does not
 * start with one (a stray, overlong, surrogate or truncated sequence). */
static size_t utf8_seq_len(const unsigned char *s, size_t n, uint32_t *pcp) {
  unsigned char c = s[0];
  if (c < 0x80) { *pcp = c; return 1; }
  size_t need;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; }
  else if (c >= 0xE0 && c <= 0xEF) { need = 2; cp = c & 0x0F; }
  else if (c >= 0xF0 && c <= 0xF4) { need = 3; cp = c & 0x07; }
  else return 0;
  if (n <= need) return 0;
  for (size_t k = 1; k <= need; k++) {
    if ((s[k] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[k] & 0x3F);
  }
  if (need == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
  if (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
  *pcp = cp;
  return need + 1;
}

int telem_utf8_valid(const char *z, size_t n) {
  const unsigned char *s = (const unsigned char *)z;
  size_t i = 0;
  while (i < n) {
    /* Fast path over ASCII, eight bytes at a time. */
    while (i + 8 <= n) {
      uint64_t w;
      memcpy(&w, s + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    uint32_t cp;
    size_t len = utf8_seq_len(s + i, n - i, &cp);
    if (!len) return 0;
    i += len;
  }
  return 1;
}

size_t telem_utf8_count(const char *z, size_t n) {
  size_t count = 0;
  for (size_t i = 0; i < n; i++)
    if (((unsigned char)z[i] & 0xC0) != 0x80) count++;
  return count;
}

void telem_buf_utf8_repair(TelemBuf *b, const char *z, size_t n) {
  const unsigned char *s = (const unsigned char *)z;
  size_t i = 0, run = 0; /* s[run..i) is valid and not yet appended */
  while (i < n) {
    uint32_t cp;
    size_t len = utf8_seq_len(s + i, n - i, &cp);
    if (len) { i += len; continue; }
    telem_buf_append(b, s + run, i - run);
    telem_buf_append(b, "\xEF\xBF\xBD", 3); /* U+FFFD */
    run = ++i;
  }
  telem_buf_append(b, s + run, i - run);
}

/* Controls, line separators and bidi overrides could forge or hide text in
 * a terminal or a log. */
static int printable_escape(uint32_t cp) {
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) || cp == 0x2028 || cp == 0x2029 ||
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF;
}

/* telem_buf_printable, with backslashes escaped or not. */
static void buf_printable(TelemBuf *b, const char *z, size_t n, size_t max, int esc_backslash) {
  const unsigned char *s = (const unsigned char *)z;
  size_t i = 0, start = b->len;
  while (i < n) {
    if (b->len - start >= max) {
      telem_buf_puts(b, "...");
      return;
    }
    uint32_t cp;
    size_t len = utf8_seq_len(s + i, n - i, &cp);
    if (len == 0) {
      telem_buf_printf(b, "\\x%02X", s[i]);
      len = 1;
    } else if (cp == '\n') telem_buf_puts(b, "\\n");
    else if (cp == '\t') telem_buf_puts(b, "\\t");
    else if (cp == '\r') telem_buf_puts(b, "\\r");
    else if (cp == '\\' && esc_backslash) telem_buf_puts(b, "\\\\");
    else if (printable_escape(cp)) telem_buf_printf(b, "\\u%04X", (unsigned)cp);
    else telem_buf_append(b, s + i, len);
    i += len;
  }
}

void telem_buf_printable(TelemBuf *b, const char *z, size_t n, size_t max) {
  buf_printable(b, z, n, max, 1);
}

char *telem_printable(const char *z, size_t n, size_t max) {
  TelemBuf b;
  telem_buf_init(&b);
  telem_buf_printable(&b, z ? z : "", z ? n : 0, max);
  telem_buf_putc(&b, 0);
  return telem_buf_take(&b);
}
