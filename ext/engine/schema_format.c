/*
 * schema_format.c -- "format" as an assertion (JSON Schema validation 7),
 * for the engine in schema.c.  SQLite-free; no allocation except PCRE2's
 * for "regex".
 *
 * Each check follows the RFC the format names: date-time, date, time and
 * duration (RFC 3339, Appendix A for durations), email and idn-email
 * (RFC 5321/6531 mailboxes), hostname and idn-hostname (RFC 1123, and
 * IDNA2008: RFC 5890-5893 with Punycode from RFC 3492), ipv4 and ipv6
 * (RFC 2673/4291 text forms), uri, uri-reference, iri, iri-reference
 * (RFC 3986/3987), uri-template (RFC 6570), uuid (RFC 4122 text form),
 * regex (compiles as this engine's "pattern"), json-pointer (RFC 6901) and
 * relative-json-pointer.
 *
 * IDNA2008 needs Unicode property tables this file does not carry in full:
 * the disallowed, contextual and Bidi classes below cover the scripts and
 * exceptions RFC 5892 names (Greek, Hebrew, Arabic, Devanagari and the
 * other viramas, CJK, the listed exceptions).  A character outside them is
 * taken as a left-to-right letter.
 */
#include "engine/schema_int.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

enum {
  F_NONE, F_DATE_TIME, F_DATE, F_TIME, F_DURATION, F_EMAIL, F_IDN_EMAIL, F_HOSTNAME,
  F_IDN_HOSTNAME, F_IPV4, F_IPV6, F_URI, F_URI_REF, F_IRI, F_IRI_REF, F_UUID, F_REGEX,
  F_JSON_POINTER, F_REL_JSON_POINTER, F_URI_TEMPLATE
};

int sc_format_id(const char *name, size_t n) {
  static const struct { const char *z; int id; } names[] = {
      {"date-time", F_DATE_TIME}, {"date", F_DATE}, {"time", F_TIME},
      {"duration", F_DURATION}, {"email", F_EMAIL}, {"idn-email", F_IDN_EMAIL},
      {"hostname", F_HOSTNAME}, {"idn-hostname", F_IDN_HOSTNAME}, {"ipv4", F_IPV4},
      {"ipv6", F_IPV6}, {"uri", F_URI}, {"uri-reference", F_URI_REF}, {"iri", F_IRI},
      {"iri-reference", F_IRI_REF}, {"uuid", F_UUID}, {"regex", F_REGEX},
      {"json-pointer", F_JSON_POINTER}, {"relative-json-pointer", F_REL_JSON_POINTER},
      {"uri-template", F_URI_TEMPLATE}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strlen(names[i].z) == n && !memcmp(names[i].z, name, n)) return names[i].id;
  return F_NONE;
}

/* ---- small helpers --------------------------------------------------------- */

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_hex(int c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/* Decodes the UTF-8 code point at s[*i] (input is valid UTF-8). */
static uint32_t utf8_next(const unsigned char *s, size_t n, size_t *i) {
  uint32_t c = s[*i];
  if (c < 0x80) { (*i)++; return c; }
  int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  c &= len == 4 ? 0x07 : len == 3 ? 0x0F : 0x1F;
  for (int k = 1; k < len && *i + (size_t)k < n; k++) c = (c << 6) | (s[*i + (size_t)k] & 0x3F);
  *i += (size_t)len;
  return c;
}

/* Exactly k ASCII digits at s[*i]; their value in *v. */
static int digits(const char *s, size_t n, size_t *i, int k, int *v) {
  int x = 0;
  for (int d = 0; d < k; d++) {
    if (*i >= n || !is_digit(s[*i])) return 0;
    x = x * 10 + (s[(*i)++] - '0');
  }
  *v = x;
  return 1;
}

/* ---- dates and times (RFC 3339) -------------------------------------------- */

static int leap_year(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int full_date(const char *s, size_t n, size_t *i) {
  int y, m, d;
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (!digits(s, n, i, 4, &y) || *i >= n || s[(*i)++] != '-' || !digits(s, n, i, 2, &m) ||
      *i >= n || s[(*i)++] != '-' || !digits(s, n, i, 2, &d))
    return 0;
  if (m < 1 || m > 12 || d < 1) return 0;
  int max = mdays[m - 1] + (m == 2 && leap_year(y));
  return d <= max;
}

/* full-time = partial-time time-offset; a leap second (:60) only at
 * 23:59 UTC. */
static int full_time(const char *s, size_t n, size_t *i) {
  int h, mi, se, oh = 0, om = 0, sign = 0;
  if (!digits(s, n, i, 2, &h) || *i >= n || s[(*i)++] != ':' || !digits(s, n, i, 2, &mi) ||
      *i >= n || s[(*i)++] != ':' || !digits(s, n, i, 2, &se))
    return 0;
  if (*i < n && s[*i] == '.') {
    (*i)++;
    size_t st = *i;
    while (*i < n && is_digit(s[*i])) (*i)++;
    if (*i == st) return 0;
  }
  if (*i >= n) return 0;
  if (s[*i] == 'Z' || s[*i] == 'z') {
    (*i)++;
  } else if (s[*i] == '+' || s[*i] == '-') {
    sign = s[(*i)++] == '-' ? -1 : 1;
    if (!digits(s, n, i, 2, &oh) || *i >= n || s[(*i)++] != ':' || !digits(s, n, i, 2, &om))
      return 0;
    if (oh > 23 || om > 59) return 0;
  } else {
    return 0;
  }
  if (h > 23 || mi > 59 || se > 60) return 0;
  if (se == 60) {
    /* to UTC: local = utc + offset */
    int t = h * 60 + mi - sign * (oh * 60 + om);
    t = ((t % 1440) + 1440) % 1440;
    if (t != 23 * 60 + 59) return 0;
  }
  return 1;
}

static int fmt_date_time(const char *s, size_t n) {
  size_t i = 0;
  if (!full_date(s, n, &i) || i >= n || (s[i] != 'T' && s[i] != 't')) return 0;
  i++;
  return full_time(s, n, &i) && i == n;
}

static int fmt_date(const char *s, size_t n) {
  size_t i = 0;
  return full_date(s, n, &i) && i == n;
}

static int fmt_time(const char *s, size_t n) {
  size_t i = 0;
  return full_time(s, n, &i) && i == n;
}

/* RFC 3339 Appendix A: P (date [T time] | T time | week); each unit once,
 * in order, without skipping an inner one (Y D without M is not allowed). */
static int fmt_duration(const char *s, size_t n) {
  size_t i = 0;
  if (n < 2 || s[i++] != 'P') return 0;
  static const char date_units[] = "YMD", time_units[] = "HMS";
  int in_time = 0, last = -1, any = 0, any_time = 0;
  while (i < n) {
    if (s[i] == 'T') {
      if (in_time) return 0;
      in_time = 1;
      last = -1;
      i++;
      continue;
    }
    size_t st = i;
    while (i < n && is_digit(s[i])) i++;
    if (i == st || i >= n) return 0;
    char u = s[i++];
    if (!in_time && u == 'W') {
      if (any || i != n) return 0; /* weeks stand alone */
      return 1;
    }
    const char *units = in_time ? time_units : date_units;
    const char *p = strchr(units, u);
    if (!p || !u) return 0;
    int idx = (int)(p - units);
    if (idx <= last) return 0;              /* out of order or repeated */
    if (last >= 0 && idx != last + 1) return 0; /* skipped the unit between */
    last = idx;
    any = 1;
    if (in_time) any_time = 1;
  }
  if (in_time && !any_time) return 0;
  return any;
}

/* ---- IP addresses ------------------------------------------------------------ */

static int ipv4_at(const char *s, size_t n) {
  size_t i = 0;
  for (int part = 0; part < 4; part++) {
    if (part && (i >= n || s[i++] != '.')) return 0;
    size_t st = i;
    int v = 0;
    while (i < n && is_digit(s[i]) && i - st < 3) v = v * 10 + (s[i++] - '0');
    if (i == st || v > 255 || (i - st > 1 && s[st] == '0')) return 0;
  }
  return i == n;
}

static int fmt_ipv4(const char *s, size_t n) { return ipv4_at(s, n); }

static int fmt_ipv6(const char *s, size_t n) {
  size_t i = 0;
  int groups = 0, dbl = 0;
  if (n >= 2 && s[0] == ':' && s[1] == ':') {
    dbl = 1;
    i = 2;
    if (i == n) return 1;
  } else if (n && s[0] == ':') {
    return 0;
  }
  while (i < n) {
    size_t st = i;
    while (i < n && is_hex(s[i])) i++;
    if (i < n && s[i] == '.') { /* a trailing dotted quad counts as two groups */
      if (!ipv4_at(s + st, n - st) || groups + 2 > 8) return 0;
      groups += 2;
      i = n;
      break;
    }
    if (i == st || i - st > 4) return 0;
    groups++;
    if (i == n) break;
    if (s[i] != ':') return 0;
    i++;
    if (i < n && s[i] == ':') {
      if (dbl) return 0;
      dbl = 1;
      i++;
      if (i == n) break;
    } else if (i == n) {
      return 0; /* a single trailing colon */
    }
  }
  return dbl ? groups <= 7 : groups == 8;
}

/* ---- URIs and IRIs (RFC 3986, RFC 3987) ---------------------------------------- */

static int is_unreserved(int c) { return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~'; }
static int is_subdelim(int c) { return c && strchr("!$&'()*+,;=", c) != NULL; }

/* Scans characters of class "pchar"-like at s[*i]: unreserved, pct-encoded,
 * sub-delims and the bytes in extra; non-ASCII when iri (ucschar and, where
 * private, iprivate: any code point >= U+00A0 is accepted).  Stops at the
 * first other byte; 0 on a bad %-triplet. */
static int scan_chars(const char *s, size_t n, size_t *i, const char *extra, int iri) {
  while (*i < n) {
    unsigned char c = (unsigned char)s[*i];
    if (c == '%') {
      if (*i + 2 >= n + 0 && *i + 2 > n - 1) return 0;
      if (*i + 2 >= n || !is_hex(s[*i + 1]) || !is_hex(s[*i + 2])) return 0;
      *i += 3;
    } else if (c < 0x80 && (is_unreserved(c) || is_subdelim(c) || (c && strchr(extra, c)))) {
      (*i)++;
    } else if (c >= 0x80 && iri) {
      size_t k = *i;
      uint32_t cp = utf8_next((const unsigned char *)s, n, &k);
      if (cp < 0xA0) return 0;
      *i = k;
    } else {
      break;
    }
  }
  return 1;
}

static int ip_literal(const char *s, size_t n) {
  /* IPv6address / IPvFuture */
  if (n >= 1 && (s[0] == 'v' || s[0] == 'V')) {
    size_t i = 1;
    while (i < n && is_hex(s[i])) i++;
    if (i == 1 || i >= n || s[i] != '.') return 0;
    i++;
    size_t st = i;
    while (i < n && (is_unreserved(s[i]) || is_subdelim(s[i]) || s[i] == ':')) i++;
    return i == n && i > st;
  }
  return fmt_ipv6(s, n);
}

/* authority = [ userinfo "@" ] host [ ":" port ] */
static int authority(const char *s, size_t n, int iri) {
  const char *at = memchr(s, '@', n);
  size_t i = 0;
  if (at) {
    size_t un = (size_t)(at - s);
    if (!scan_chars(s, un, &i, ":", iri) || i != un) return 0;
    i = un + 1;
  }
  if (i < n && s[i] == '[') {
    const char *close = memchr(s + i, ']', n - i);
    if (!close || !ip_literal(s + i + 1, (size_t)(close - s - i - 1))) return 0;
    i = (size_t)(close - s) + 1;
  } else {
    if (!scan_chars(s, n, &i, "", iri)) return 0; /* reg-name (or IPv4, same chars) */
  }
  if (i < n && s[i] == ':') {
    i++;
    while (i < n && is_digit(s[i])) i++;
  }
  return i == n;
}

/* URI-reference / IRI-reference; absolute: a scheme is required. */
static int uri_check(const char *s, size_t n, int absolute, int iri) {
  size_t i = 0;
  /* scheme */
  size_t k = 0;
  while (k < n && s[k] != ':' && s[k] != '/' && s[k] != '?' && s[k] != '#') k++;
  int has_scheme = k < n && s[k] == ':';
  if (has_scheme) {
    if (!is_alpha(s[0])) {
      if (absolute) return 0;
      return 0; /* "1:b" is neither an absolute URI nor a relative-path reference */
    }
    for (size_t x = 1; x < k; x++)
      if (!is_alpha(s[x]) && !is_digit(s[x]) && s[x] != '+' && s[x] != '-' && s[x] != '.') return 0;
    i = k + 1;
  } else if (absolute) {
    return 0;
  }
  /* hier-part / relative-part */
  if (n - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
    i += 2;
    size_t st = i;
    while (i < n && s[i] != '/' && s[i] != '?' && s[i] != '#') i++;
    if (!authority(s + st, i - st, iri)) return 0;
  }
  if (!scan_chars(s, n, &i, ":@/", iri)) return 0;
  if (i < n && s[i] == '?') {
    i++;
    if (!scan_chars(s, n, &i, ":@/?", iri)) return 0;
  }
  if (i < n && s[i] == '#') {
    i++;
    if (!scan_chars(s, n, &i, ":@/?", iri)) return 0;
  }
  return i == n;
}

/* ---- URI templates (RFC 6570 level 4 syntax) ---------------------------------- */

static int fmt_uri_template(const char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    if (c == '{') {
      i++;
      if (i < n && strchr("+#./;?&=,!@|", s[i]) && s[i]) {
        if (strchr("=,!@|", s[i])) return 0; /* reserved operators */
        i++;
      }
      for (;;) { /* varspec *( "," varspec ) */
        size_t st = i;
        int prev_dot = 1;
        while (i < n) {
          if (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '_') {
            prev_dot = 0;
            i++;
          } else if (s[i] == '%' && i + 2 < n && is_hex(s[i + 1]) && is_hex(s[i + 2])) {
            prev_dot = 0;
            i += 3;
          } else if (s[i] == '.' && !prev_dot) {
            prev_dot = 1;
            i++;
          } else {
            break;
          }
        }
        if (i == st || prev_dot) return 0;
        if (i < n && s[i] == ':') {
          i++;
          size_t d = i;
          while (i < n && is_digit(s[i]) && i - d < 5) i++;
          if (i == d || i - d > 4 || s[d] == '0') return 0;
        } else if (i < n && s[i] == '*') {
          i++;
        }
        if (i < n && s[i] == ',') {
          i++;
          continue;
        }
        break;
      }
      if (i >= n || s[i] != '}') return 0;
      i++;
    } else if (c == '}' || c <= 0x20 || c == 0x7F || c == '"' || c == '<' || c == '>' || c == '\\' ||
               c == '^' || c == '`' || c == '|') {
      return 0;
    } else if (c == '%') {
      if (i + 2 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return 0;
      i += 3;
    } else {
      i++;
    }
  }
  return 1;
}

/* ---- JSON Pointer ---------------------------------------------------------------- */

static int pointer_at(const char *s, size_t n) {
  if (n && s[0] != '/') return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] == '~' && (i + 1 >= n || (s[i + 1] != '0' && s[i + 1] != '1'))) return 0;
  return 1;
}

static int fmt_rel_pointer(const char *s, size_t n) {
  size_t i = 0;
  while (i < n && is_digit(s[i])) i++;
  if (i == 0 || (i > 1 && s[0] == '0')) return 0;
  if (i < n && s[i] == '#') return i + 1 == n;
  return pointer_at(s + i, n - i);
}

/* ---- UUID ------------------------------------------------------------------------ */

static int fmt_uuid(const char *s, size_t n) {
  if (n != 36) return 0;
  for (size_t i = 0; i < 36; i++) {
    int dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !is_hex(s[i])) return 0;
  }
  return 1;
}

/* ---- regex ------------------------------------------------------------------------ */

/* ECMA-262 syntax PCRE2 would accept: \a, Python's (?P...), comments
 * (?#...) and inline flag groups (?i). */
static int not_ecma(const char *s, size_t n) {
  int in_class = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\\') {
      if (i + 1 < n && s[i + 1] == 'a' && !in_class) return 1;
      i++;
      continue;
    }
    if (in_class) {
      if (s[i] == ']') in_class = 0;
      continue;
    }
    if (s[i] == '[') {
      size_t k = i + 1;
      if (k < n && s[k] == '^') k++;
      if (k < n && s[k] == ']') { /* [] and [^]: an empty class ends here */
        i = k;
        continue;
      }
      in_class = 1;
      i = k - 1;
      continue;
    }
    if (s[i] == '(' && i + 2 < n && s[i + 1] == '?') {
      char c = s[i + 2];
      if (c == 'P' || c == '#') return 1;
      if (strchr("imsxnU-", c)) return 1;
    }
  }
  return 0;
}

static int fmt_regex(const char *s, size_t n) {
  int ec;
  PCRE2_SIZE eo;
  if (not_ecma(s, n)) return 0;
  pcre2_code *code = pcre2_compile((PCRE2_SPTR)s, n,
                                   PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_BSUX |
                                       PCRE2_ALLOW_EMPTY_CLASS,
                                   &ec, &eo, NULL);
  if (!code) return 0;
  pcre2_code_free(code);
  return 1;
}

/* ---- hostnames (RFC 1123, IDNA2008) ---------------------------------------------- */

typedef struct Range { uint32_t lo, hi; } Range;

static int in_ranges(uint32_t c, const Range *r, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (c >= r[i].lo && c <= r[i].hi) return 1;
  return 0;
}

static int is_mark(uint32_t c) { /* Mn, Mc, Me (the blocks in use) */
  static const Range r[] = {
      {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x05BF, 0x05BF}, {0x05C1, 0x05C2},
      {0x05C4, 0x05C5}, {0x05C7, 0x05C7}, {0x0610, 0x061A}, {0x064B, 0x065F}, {0x0670, 0x0670},
      {0x06D6, 0x06DC}, {0x06DF, 0x06E4}, {0x06E7, 0x06E8}, {0x06EA, 0x06ED}, {0x0711, 0x0711},
      {0x0730, 0x074A}, {0x07A6, 0x07B0}, {0x07EB, 0x07F3}, {0x0900, 0x0903}, {0x093A, 0x093C},
      {0x093E, 0x094F}, {0x0951, 0x0957}, {0x0962, 0x0963}, {0x0981, 0x0983}, {0x09BC, 0x09BC},
      {0x09BE, 0x09CD}, {0x0A01, 0x0A03}, {0x0A3C, 0x0A51}, {0x0A81, 0x0A83}, {0x0ABC, 0x0ACD},
      {0x0B01, 0x0B03}, {0x0B3C, 0x0B57}, {0x0BBE, 0x0BCD}, {0x0C00, 0x0C04}, {0x0C3E, 0x0C56},
      {0x0CBC, 0x0CD6}, {0x0D00, 0x0D03}, {0x0D3B, 0x0D3C}, {0x0D3E, 0x0D4D}, {0x0DCA, 0x0DDF},
      {0x0E31, 0x0E31}, {0x0E34, 0x0E3A}, {0x0E47, 0x0E4E}, {0x0F18, 0x0F19}, {0x0F35, 0x0F39},
      {0x0F71, 0x0F84}, {0x102B, 0x103E}, {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF}, {0x20D0, 0x20FF},
      {0x302A, 0x302D}, {0x3099, 0x309A}, {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}};
  return in_ranges(c, r, sizeof r / sizeof r[0]);
}

static int is_virama(uint32_t c) {
  static const uint32_t v[] = {0x094D, 0x09CD, 0x0A4D, 0x0ACD, 0x0B4D, 0x0BCD, 0x0C4D, 0x0CCD,
                               0x0D3B, 0x0D3C, 0x0D4D, 0x0DCA, 0x0E3A, 0x0EBA, 0x0F84, 0x1039,
                               0x103A, 0x1714, 0x1734, 0x17D2, 0x1A60, 0x1B44, 0x1BAA, 0x1BAB,
                               0x1BF2, 0x1BF3, 0x2D7F, 0xA806, 0xA8C4, 0xA953, 0xA9C0, 0xAAF6,
                               0xABED, 0x10A3F, 0x11046, 0x1107F, 0x110B9, 0x11133, 0x11134,
                               0x111C0, 0x11235, 0x112EA, 0x1134D, 0x11442, 0x114C2, 0x115BF,
                               0x1163F, 0x116B6, 0x1172B};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
    if (v[i] == c) return 1;
  return 0;
}

/* RFC 5892 DISALLOWED, for the characters that reach this check. */
static int is_disallowed(uint32_t c) {
  static const Range r[] = {
      {0x0000, 0x002C}, {0x002E, 0x002F}, {0x003A, 0x0060}, /* ASCII: only LDH (lower case) */
      {0x007B, 0x00B6}, {0x00B8, 0x00DE}, {0x00F7, 0x00F7},
      {0x0340, 0x0341}, {0x0343, 0x0345}, {0x037A, 0x037A}, {0x037E, 0x037E}, {0x0387, 0x0387},
      {0x0640, 0x0640}, {0x07FA, 0x07FA}, {0x0F0C, 0x0F0C}, {0x115F, 0x1160},
      {0x1E00, 0x1E00}, {0x2000, 0x200B}, {0x200E, 0x2FFF}, {0x3000, 0x3004}, {0x302E, 0x3035},
      {0x303B, 0x303F}, {0xD800, 0xF8FF}, {0xF900, 0xFAFF}, {0xFB00, 0xFB06}, {0xFE10, 0xFE1F},
      {0xFE30, 0xFE6F}, {0xFF00, 0xFFFF}, {0xE0000, 0xE0FFF}, {0xF0000, 0x10FFFF}};
  if (c == 0x200C || c == 0x200D) return 0; /* CONTEXTJ, checked by rule */
  if (c >= 'A' && c <= 'Z') return 1;
  if (c >= 0x1E00 && c <= 0x1EFF) return (c & 1) == 0 && c < 0x1E96; /* Latin Extended Additional capitals */
  return in_ranges(c, r, sizeof r / sizeof r[0]);
}

static int is_greek(uint32_t c) { return (c >= 0x0370 && c <= 0x03FF && c != 0x0375) || (c >= 0x1F00 && c <= 0x1FFF); }
static int is_hebrew(uint32_t c) { return c >= 0x0590 && c <= 0x05FF; }
static int is_kana_han(uint32_t c) {
  return (c >= 0x3040 && c <= 0x309F) || (c >= 0x30A0 && c <= 0x30FF && c != 0x30FB) ||
         (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x20000 && c <= 0x2FFFF) ||
         c == 0x3005 || c == 0x3006 || c == 0x3007;
}

/* Bidi classes (RFC 5893) for the rule. */
enum { B_L, B_R, B_AL, B_AN, B_EN, B_NSM, B_ON };

static int bidi_class(uint32_t c) {
  if (c >= '0' && c <= '9') return B_EN;
  if (c == '-') return B_ON; /* ES */
  if (c == 0x200C || c == 0x200D) return B_ON; /* BN */
  if (is_mark(c)) return B_NSM;
  if ((c >= 0x0660 && c <= 0x0669) || c == 0x066B || c == 0x066C || c == 0x06DD) return B_AN;
  if (c >= 0x06F0 && c <= 0x06F9) return B_EN;
  if ((c >= 0x0590 && c <= 0x05FF) || (c >= 0x07C0 && c <= 0x085F) || (c >= 0xFB1D && c <= 0xFB4F) ||
      (c >= 0x10800 && c <= 0x10FFF))
    return B_R;
  if ((c >= 0x0600 && c <= 0x07BF) || (c >= 0x0860 && c <= 0x08FF) || (c >= 0xFB50 && c <= 0xFDFF) ||
      (c >= 0xFE70 && c <= 0xFEFF))
    return B_AL;
  if (c == 0x00B7 || c == 0x0375 || c == 0x05F3 || c == 0x05F4 || c == 0x30FB) return B_ON;
  return B_L;
}

/* Arabic joining: dual or left joining letters (for ZWNJ's context). */
static int joins_dual(uint32_t c) {
  return (c >= 0x0620 && c <= 0x064A) || (c >= 0x066E && c <= 0x06D3) || (c >= 0x06FA && c <= 0x06FF) ||
         (c >= 0x0710 && c <= 0x074F) || (c >= 0x0750 && c <= 0x077F) || (c >= 0x08A0 && c <= 0x08C9);
}

#define LABEL_MAX 64 /* code points: a U-label of more cannot fit 63 octets */

/* RFC 3492 Punycode. */
#define PC_BASE 36
#define PC_TMIN 1
#define PC_TMAX 26
#define PC_SKEW 38
#define PC_DAMP 700

static uint32_t pc_adapt(uint32_t delta, uint32_t numpoints, int first) {
  delta = first ? delta / PC_DAMP : delta / 2;
  delta += delta / numpoints;
  uint32_t k = 0;
  while (delta > ((PC_BASE - PC_TMIN) * PC_TMAX) / 2) {
    delta /= PC_BASE - PC_TMIN;
    k += PC_BASE;
  }
  return k + (PC_BASE - PC_TMIN + 1) * delta / (delta + PC_SKEW);
}

static int pc_digit(int c) {
  if (c >= '0' && c <= '9') return c - '0' + 26;
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return c - 'A';
  return -1;
}

/* Decodes s[0..n) (without "xn--") into out (<= LABEL_MAX); -1 on error. */
static int pc_decode(const char *s, size_t n, uint32_t *out) {
  size_t b = 0;
  for (size_t j = 0; j < n; j++)
    if (s[j] == '-') b = j;
  int len = 0;
  for (size_t j = 0; j < b; j++) {
    if ((unsigned char)s[j] >= 0x80 || len >= LABEL_MAX) return -1;
    out[len++] = (unsigned char)s[j];
  }
  uint32_t nn = 128, i = 0, bias = 72;
  for (size_t in = b > 0 ? b + 1 : 0; in < n;) {
    uint32_t oldi = i, w = 1;
    for (uint32_t k = PC_BASE;; k += PC_BASE) {
      if (in >= n) return -1;
      int d = pc_digit(s[in++]);
      if (d < 0 || (uint32_t)d > (0xFFFFFFFFu - i) / w) return -1;
      i += (uint32_t)d * w;
      uint32_t t = k <= bias ? PC_TMIN : k >= bias + PC_TMAX ? PC_TMAX : k - bias;
      if ((uint32_t)d < t) break;
      if (w > 0xFFFFFFFFu / (PC_BASE - t)) return -1;
      w *= PC_BASE - t;
    }
    bias = pc_adapt(i - oldi, (uint32_t)len + 1, oldi == 0);
    if (i / ((uint32_t)len + 1) > 0x10FFFF - nn) return -1;
    nn += i / ((uint32_t)len + 1);
    i %= (uint32_t)len + 1;
    if (len >= LABEL_MAX || nn > 0x10FFFF || (nn >= 0xD800 && nn <= 0xDFFF)) return -1;
    memmove(out + i + 1, out + i, ((size_t)len - i) * sizeof *out);
    out[i++] = nn;
    len++;
  }
  return len;
}

/* Length of the Punycode encoding of cp[0..n) (without "xn--"), written to
 * buf when it is not NULL (room for 256 bytes).  -1 on overflow. */
static int pc_encode(const uint32_t *cp, int n, char *buf) {
  int out = 0, b = 0;
  for (int j = 0; j < n; j++)
    if (cp[j] < 0x80) {
      if (buf && out < 256) buf[out] = (char)cp[j];
      out++;
    }
  b = out;
  if (b > 0) {
    if (buf && out < 256) buf[out] = '-';
    out++;
  }
  uint32_t nn = 128, delta = 0, bias = 72;
  int h = b;
  while (h < n) {
    uint32_t m = 0x10FFFF + 1;
    for (int j = 0; j < n; j++)
      if (cp[j] >= nn && cp[j] < m) m = cp[j];
    delta += (m - nn) * (uint32_t)(h + 1);
    nn = m;
    for (int j = 0; j < n; j++) {
      if (cp[j] < nn) delta++;
      if (cp[j] == nn) {
        uint32_t q = delta;
        for (uint32_t k = PC_BASE;; k += PC_BASE) {
          uint32_t t = k <= bias ? PC_TMIN : k >= bias + PC_TMAX ? PC_TMAX : k - bias;
          if (q < t) break;
          uint32_t d = t + (q - t) % (PC_BASE - t);
          if (buf && out < 256) buf[out] = (char)(d < 26 ? 'a' + d : '0' + d - 26);
          out++;
          q = (q - t) / (PC_BASE - t);
        }
        if (buf && out < 256) buf[out] = (char)(q < 26 ? 'a' + q : '0' + q - 26);
        out++;
        bias = pc_adapt(delta, (uint32_t)h + 1, h == b);
        delta = 0;
        h++;
      }
    }
    delta++;
    nn++;
    if (out > 255) return -1;
  }
  return out;
}

/* IDNA2008 checks of one U-label cp[0..n); *rtl is set when it holds a
 * right-to-left character (the Bidi rule then applies to the whole name). */
static int ulabel_ok(const uint32_t *cp, int n, int *rtl) {
  if (n == 0) return 0;
  if (cp[0] == '-' || cp[n - 1] == '-') return 0;
  if (n >= 4 && cp[2] == '-' && cp[3] == '-') return 0;
  if (is_mark(cp[0])) return 0;
  int arabic_digits = 0, ext_digits = 0, kana_han = 0;
  for (int i = 0; i < n; i++) {
    if (cp[i] >= 0x0660 && cp[i] <= 0x0669) arabic_digits = 1;
    if (cp[i] >= 0x06F0 && cp[i] <= 0x06F9) ext_digits = 1;
    if (is_kana_han(cp[i])) kana_han = 1;
    int b = bidi_class(cp[i]);
    if (b == B_R || b == B_AL || b == B_AN) *rtl = 1;
  }
  for (int i = 0; i < n; i++) {
    uint32_t c = cp[i];
    if (is_disallowed(c)) return 0;
    switch (c) {
      case 0x00B7: /* MIDDLE DOT: between two l */
        if (i == 0 || i == n - 1 || cp[i - 1] != 'l' || cp[i + 1] != 'l') return 0;
        break;
      case 0x0375: /* GREEK KERAIA: before Greek */
        if (i == n - 1 || !is_greek(cp[i + 1])) return 0;
        break;
      case 0x05F3:
      case 0x05F4: /* GERESH, GERSHAYIM: after Hebrew */
        if (i == 0 || !is_hebrew(cp[i - 1])) return 0;
        break;
      case 0x30FB: /* KATAKANA MIDDLE DOT: with Hiragana, Katakana or Han */
        if (!kana_han) return 0;
        break;
      case 0x200D: /* ZWJ: after a virama */
        if (i == 0 || !is_virama(cp[i - 1])) return 0;
        break;
      case 0x200C: { /* ZWNJ: after a virama, or between joining letters */
        if (i > 0 && is_virama(cp[i - 1])) break;
        int l = i - 1, r = i + 1;
        while (l >= 0 && is_mark(cp[l])) l--;
        while (r < n && is_mark(cp[r])) r++;
        if (l < 0 || r >= n || !joins_dual(cp[l]) || !joins_dual(cp[r])) return 0;
        break;
      }
      default: break;
    }
  }
  if (arabic_digits && ext_digits) return 0;
  return 1;
}

/* RFC 5893 for one label in a name that has right-to-left labels. */
static int bidi_ok(const uint32_t *cp, int n) {
  int first = bidi_class(cp[0]);
  if (first != B_L && first != B_R && first != B_AL) return 0;
  int last = n - 1;
  while (last > 0 && bidi_class(cp[last]) == B_NSM) last--;
  int lc = bidi_class(cp[last]);
  if (first == B_L) {
    for (int i = 0; i < n; i++) {
      int b = bidi_class(cp[i]);
      if (b == B_R || b == B_AL || b == B_AN) return 0;
    }
    return lc == B_L || lc == B_EN;
  }
  int en = 0, an = 0;
  for (int i = 0; i < n; i++) {
    int b = bidi_class(cp[i]);
    if (b == B_L) return 0;
    if (b == B_EN) en = 1;
    if (b == B_AN) an = 1;
  }
  if (en && an) return 0;
  return lc == B_R || lc == B_AL || lc == B_EN || lc == B_AN;
}

/* hostname (idn = 0: ASCII only, A-labels checked as IDNA) and
 * idn-hostname (idn = 1: U-labels too, and the ideographic full stops as
 * separators).  The name in A-label form is at most 253 octets. */
static int hostname_check(const char *s, size_t n, int idn) {
  if (n == 0) return 0;
  const unsigned char *z = (const unsigned char *)s;
  int rtl = 0;
  /* pass 0 checks each label; pass 1, only for a name with right-to-left
   * labels, applies the Bidi rule to each (decoded again: no table of
   * labels on the stack) */
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1 && !rtl) break;
    size_t total = 0, i = 0;
    int nl = 0;
    for (;;) {
      uint32_t cp[256], dec[LABEL_MAX];
      const uint32_t *lab = cp;
      int len = 0, ascii = 1;
      while (i < n) {
        size_t k = i;
        uint32_t c = utf8_next(z, n, &k);
        if (c == '.' || (idn && (c == 0x3002 || c == 0xFF0E || c == 0xFF61))) break;
        if (c >= 0x80) {
          if (!idn) return 0;
          ascii = 0;
        }
        if (len >= 255) return 0;
        cp[len++] = c;
        i = k;
      }
      if (len == 0) return 0;
      int alen, lablen = len; /* octets of the label in A-label form */
      if (ascii) {
        for (int k = 0; k < len; k++) {
          uint32_t c = cp[k];
          if (!(is_alpha((int)c) || is_digit((int)c) || c == '-')) return 0;
          if (c >= 'A' && c <= 'Z') cp[k] = c + 32;
        }
        if (len > 63) return 0;
        alen = len;
        if (len >= 4 && cp[0] == 'x' && cp[1] == 'n' && cp[2] == '-' && cp[3] == '-') {
          char a[64];
          for (int k = 0; k < len; k++) a[k] = (char)cp[k];
          int dn = pc_decode(a + 4, (size_t)len - 4, dec);
          if (dn <= 0) return 0;
          int nonascii = 0;
          for (int k = 0; k < dn; k++)
            if (dec[k] >= 0x80) nonascii = 1;
          if (!nonascii) return 0;
          char re[256];
          int rn = pc_encode(dec, dn, re);
          if (rn != len - 4 || memcmp(re, a + 4, (size_t)rn)) return 0; /* not canonical */
          if (pass == 0 && !ulabel_ok(dec, dn, &rtl)) return 0;
          lab = dec;
          lablen = dn;
        } else if (cp[0] == '-' || cp[len - 1] == '-' || (len >= 4 && cp[2] == '-' && cp[3] == '-')) {
          return 0;
        }
      } else {
        if (len > LABEL_MAX) return 0;
        if (pass == 0 && !ulabel_ok(cp, len, &rtl)) return 0;
        int pl = pc_encode(cp, len, NULL);
        if (pl < 0 || pl + 4 > 63) return 0;
        alen = pl + 4;
      }
      if (pass == 1 && !bidi_ok(lab, lablen)) return 0;
      nl++;
      total += (size_t)alen + (nl > 1);
      if (total > 253) return 0;
      if (i >= n) break;
      /* skip the separator; a trailing one leaves an empty label: invalid */
      utf8_next(z, n, &i);
      if (i >= n) return 0;
    }
  }
  return 1;
}

/* ---- email (RFC 5321 Mailbox; RFC 6531 for idn-email) ----------------------------- */

static int email_check(const char *s, size_t n, int idn) {
  size_t i = 0;
  if (n && s[0] == '"') { /* quoted-string */
    i = 1;
    for (;;) {
      if (i >= n) return 0;
      unsigned char c = (unsigned char)s[i];
      if (c == '"') break;
      if (c == '\\') {
        if (i + 1 >= n) return 0;
        i += 2;
        continue;
      }
      if (c < 0x20 && c != '\t') return 0;
      if (c >= 0x80 && !idn) return 0;
      i++;
    }
    i++;
  } else { /* dot-atom */
    int prev_dot = 1;
    while (i < n && s[i] != '@') {
      unsigned char c = (unsigned char)s[i];
      if (c == '.') {
        if (prev_dot) return 0;
        prev_dot = 1;
        i++;
        continue;
      }
      prev_dot = 0;
      if (c >= 0x80) {
        if (!idn) return 0;
        size_t k = i;
        uint32_t cp = utf8_next((const unsigned char *)s, n, &k);
        if (cp == 0xFF20) return 0; /* a fullwidth @ is not the separator */
        i = k;
        continue;
      }
      if (!(is_alpha(c) || is_digit(c) || strchr("!#$%&'*+-/=?^_`{|}~", c))) return 0;
      i++;
    }
    if (i == 0 || prev_dot) return 0;
  }
  if (i >= n || s[i] != '@') return 0;
  i++;
  const char *d = s + i;
  size_t dn = n - i;
  if (dn == 0) return 0;
  if (d[0] == '[') {
    if (d[dn - 1] != ']') return 0;
    if (dn > 6 && !memcmp(d + 1, "IPv6:", 5)) return fmt_ipv6(d + 6, dn - 7);
    return ipv4_at(d + 1, dn - 2);
  }
  return hostname_check(d, dn, idn);
}

/* ---- entry ------------------------------------------------------------------------- */

int sc_format_check(int id, const char *s, size_t n) {
  switch (id) {
    case F_DATE_TIME: return fmt_date_time(s, n);
    case F_DATE: return fmt_date(s, n);
    case F_TIME: return fmt_time(s, n);
    case F_DURATION: return fmt_duration(s, n);
    case F_EMAIL: return email_check(s, n, 0);
    case F_IDN_EMAIL: return email_check(s, n, 1);
    case F_HOSTNAME: return hostname_check(s, n, 0);
    case F_IDN_HOSTNAME: return hostname_check(s, n, 1);
    case F_IPV4: return fmt_ipv4(s, n);
    case F_IPV6: return fmt_ipv6(s, n);
    case F_URI: return uri_check(s, n, 1, 0);
    case F_URI_REF: return uri_check(s, n, 0, 0);
    case F_IRI: return uri_check(s, n, 1, 1);
    case F_IRI_REF: return uri_check(s, n, 0, 1);
    case F_UUID: return fmt_uuid(s, n);
    case F_REGEX: return fmt_regex(s, n);
    case F_JSON_POINTER: return pointer_at(s, n);
    case F_REL_JSON_POINTER: return fmt_rel_pointer(s, n);
    case F_URI_TEMPLATE: return fmt_uri_template(s, n);
    default: return 1;
  }
}
