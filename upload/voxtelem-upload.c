/*
 * voxtelem-upload -- drains the upload spool of a database (telem_enqueue)
 * or Vox's own file spool to an operator's ingest over HTTPS.  The only
 * networked code of voxtelem (docs/adr/0006-uploader-is-a-separate-binary.md);
 * the wire contract is docs/reference/sink-wire.md.
 *
 *   voxtelem-upload [options] DB [URL]                upload (URL or $VOX_TELEMETRY_UPLOAD_URL)
 *   voxtelem-upload [options] --vox-spool DIR [URL]   upload DIR/pending/<uuid>.json, as Vox does
 *   voxtelem-upload status DB | --vox-spool DIR
 *   voxtelem-upload export DB | --vox-spool DIR       JSON Lines on stdout
 *
 * Crash safety: a row is deleted (telem_spool_ack, in a transaction) or a
 * file unlinked only after a 2xx, so a crash at any point loses nothing; the
 * row keeps its idempotency key, so the request after a crash or a lost
 * response carries the same Idempotency-Key and the receiver counts it once.
 *
 * Pacing: a token bucket (--rate, --burst) in front of every request,
 * retries included; 429 and 503 wait for Retry-After; other retryable
 * failures back off exponentially with jitter.  A request that still fails
 * after --max-attempts stops the run with the row pending (spool order is
 * kept); a 4xx other than 408/425/429 is a rejection: the row stays, its
 * error is recorded, and the run goes on with the next one.
 *
 * The database is opened with the voxtelem engines linked in
 * (sqlite3_voxtelem_init), so ack, requeue, status and export are the same
 * SQL an operator runs.  Payload bytes are never printed.
 */
#include "core/core.h"
#include "engine/json.h"
#include "voxtelem.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROG "voxtelem-upload"
#define MAX_VOX_FILE (4u << 20) /* a Vox spool file larger than this is refused */
#define RESP_KEEP 200           /* bytes of a response body kept in last_error */

/* ---- options ---------------------------------------------------------------- */

typedef struct Opts {
  const char *cmd;       /* "upload", "status", "export" */
  const char *db;        /* database path, or NULL with vox_dir */
  const char *vox_dir;   /* Vox spool root (holds pending/) */
  const char *url;
  int dry_run;
  double rate, burst;    /* token bucket */
  int batch;             /* rows per POST */
  int max_attempts;      /* tries per request in one run */
  double timeout;        /* seconds per request */
  double backoff_base, backoff_cap, max_retry_after; /* seconds */
  long max_requests;     /* stop after this many requests (0: no limit) */
  const char *cacert;    /* CA bundle for the receiver's certificate, or NULL */
  int verbose;
} Opts;

static void usage(FILE *f) {
  fprintf(f,
          "usage: " PROG " [options] DB [URL]\n"
          "       " PROG " [options] --vox-spool DIR [URL]\n"
          "       " PROG " status DB | status --vox-spool DIR\n"
          "       " PROG " export DB | export --vox-spool DIR\n"
          "options:\n"
          "  --dry-run            say what would be sent; no network, no changes\n"
          "  --rate R             requests per second (default 10)\n"
          "  --burst B            requests allowed at once (default 30)\n"
          "  --batch N            spool rows per POST, as JSON Lines (default 1: one JSON\n"
          "                       object per POST, as Vox's sink expects)\n"
          "  --max-attempts N     tries per request before the run stops (default 5)\n"
          "  --timeout S          seconds per request (default 30)\n"
          "  --backoff S          first backoff in seconds (default 0.5; doubles, max 60)\n"
          "  --max-retry-after S  longest Retry-After honoured (default 300)\n"
          "  --max-requests N     stop after N requests\n"
          "  --cacert FILE        trust the CA certificates in FILE (PEM) for HTTPS\n"
          "  -v                   one line per request on stderr\n"
          "environment: VOX_TELEMETRY_UPLOAD_URL, VOX_TELEMETRY_UPLOAD_TOKEN (bearer),\n"
          "  VOX_TELEMETRY_SIGNING_KEY and VOX_TELEMETRY_SIGNING_KEY_ID (HMAC-SHA256 signing)\n");
}

static int parse_num(const char *opt, const char *v, double min, double max, double *out) {
  char *end = NULL;
  errno = 0;
  double d = v ? strtod(v, &end) : 0;
  if (!v || errno || end == v || *end || !(d >= min && d <= max)) {
    fprintf(stderr, PROG ": %s: expected a number from %g to %g\n", opt, min, max);
    return -1;
  }
  *out = d;
  return 0;
}

/* 0, or 2 (usage error) after printing why. */
static int parse_args(int argc, char **argv, Opts *o) {
  memset(o, 0, sizeof *o);
  o->cmd = "upload";
  o->rate = 10;
  o->burst = 30;
  o->batch = 1;
  o->max_attempts = 5;
  o->timeout = 30;
  o->backoff_base = 0.5;
  o->backoff_cap = 60;
  o->max_retry_after = 300;
  const char *pos[3];
  int npos = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    double d;
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--dry-run")) o->dry_run = 1;
    else if (!strcmp(a, "-v")) o->verbose = 1;
    else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      exit(0);
    } else if (!strcmp(a, "--vox-spool")) {
      if (!v) goto missing;
      o->vox_dir = v;
      i++;
    } else if (!strcmp(a, "--cacert")) {
      if (!v) goto missing;
      o->cacert = v;
      i++;
    } else if (!strcmp(a, "--rate")) {
      if (parse_num(a, v, 0.001, 1e6, &o->rate)) return 2;
      i++;
    } else if (!strcmp(a, "--burst")) {
      if (parse_num(a, v, 1, 1e6, &o->burst)) return 2;
      i++;
    } else if (!strcmp(a, "--batch")) {
      if (parse_num(a, v, 1, 10000, &d)) return 2;
      o->batch = (int)d;
      i++;
    } else if (!strcmp(a, "--max-attempts")) {
      if (parse_num(a, v, 1, 1000, &d)) return 2;
      o->max_attempts = (int)d;
      i++;
    } else if (!strcmp(a, "--timeout")) {
      if (parse_num(a, v, 0.1, 3600, &o->timeout)) return 2;
      i++;
    } else if (!strcmp(a, "--backoff")) {
      if (parse_num(a, v, 0, 3600, &o->backoff_base)) return 2;
      i++;
    } else if (!strcmp(a, "--max-retry-after")) {
      if (parse_num(a, v, 0, 86400, &o->max_retry_after)) return 2;
      i++;
    } else if (!strcmp(a, "--max-requests")) {
      if (parse_num(a, v, 1, 1e12, &d)) return 2;
      o->max_requests = (long)d;
      i++;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, PROG ": unknown option %s\n", a);
      return 2;
    } else if (npos < 3) {
      pos[npos++] = a;
    } else {
      fprintf(stderr, PROG ": too many arguments\n");
      return 2;
    }
    continue;
  missing:
    fprintf(stderr, PROG ": %s needs a value\n", a);
    return 2;
  }
  int k = 0;
  if (npos > 0 && (!strcmp(pos[0], "status") || !strcmp(pos[0], "export") ||
                   !strcmp(pos[0], "upload")))
    o->cmd = pos[k++];
  if (!o->vox_dir) {
    if (k >= npos) {
      usage(stderr);
      return 2;
    }
    o->db = pos[k++];
  }
  if (k < npos) o->url = pos[k++];
  if (k < npos) {
    usage(stderr);
    return 2;
  }
  if (!o->url) o->url = getenv("VOX_TELEMETRY_UPLOAD_URL");
  return 0;
}

/* ---- time ---------------------------------------------------------------------- */

static double now_mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s) {
  if (s <= 0) return;
  struct timespec ts;
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

/* A uniform random number in [0, 1). */
static double rand01(void) {
  unsigned int u;
  sqlite3_randomness(sizeof u, &u);
  return u / 4294967296.0;
}

/* Token bucket: `burst` requests at once, `rate` per second after that. */
typedef struct Bucket {
  double rate, burst, tokens, last;
} Bucket;

static void bucket_take(Bucket *b) {
  for (;;) {
    double t = now_mono();
    b->tokens += (t - b->last) * b->rate;
    if (b->tokens > b->burst) b->tokens = b->burst;
    b->last = t;
    if (b->tokens >= 1) {
      b->tokens -= 1;
      return;
    }
    sleep_s((1 - b->tokens) / b->rate);
  }
}

/* ---- HTTP ------------------------------------------------------------------------- */

typedef struct Http {
  CURL *curl;
  const Opts *o;
  char *token;          /* bearer, trimmed; NULL when unset */
  const char *sign_key; /* HMAC key bytes; NULL when unset */
  size_t sign_key_len;
  const char *key_id;
  TelemBuf resp;        /* first bytes of the response body */
  double retry_after;   /* seconds from Retry-After, -1 when absent */
} Http;

typedef struct Result {
  long status;          /* HTTP status, 0 when the request failed */
  char err[256];        /* curl's error when status is 0 */
} Result;

static size_t http_body_cb(char *p, size_t sz, size_t n, void *ud) {
  Http *h = ud;
  size_t len = sz * n;
  if (h->resp.len < RESP_KEEP) {
    size_t take = RESP_KEEP - h->resp.len;
    telem_buf_append(&h->resp, p, len < take ? len : take);
  }
  return len;
}

static size_t http_header_cb(char *p, size_t sz, size_t n, void *ud) {
  Http *h = ud;
  size_t len = sz * n;
  static const char name[] = "retry-after:";
  if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
    char v[128];
    size_t k = len - (sizeof name - 1);
    if (k >= sizeof v) k = sizeof v - 1;
    memcpy(v, p + sizeof name - 1, k);
    v[k] = 0;
    char *s = v;
    while (*s == ' ' || *s == '\t') s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ')) *--e = 0;
    char *end = NULL;
    double d = strtod(s, &end);
    if (end != s && *end == 0 && d >= 0) {
      h->retry_after = d; /* delay-seconds */
    } else {
      time_t t = curl_getdate(s, NULL); /* HTTP-date */
      if (t != (time_t)-1) h->retry_after = difftime(t, time(NULL)) > 0 ? difftime(t, time(NULL)) : 0;
    }
  }
  return len;
}

/* 1 when host (as curl reports it) is a loopback address or localhost. */
static int host_is_loopback(const char *host) {
  if (!strcasecmp(host, "localhost") || !strcmp(host, "[::1]") || !strcmp(host, "::1")) return 1;
  unsigned a, b, c, d;
  char tail;
  return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 &&
         c < 256 && d < 256;
}

/* HTTPS, or plain HTTP to loopback.  0, or -1 after printing why. */
static int check_url(const char *url, int *loopback) {
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL;
  int rc = -1;
  if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
    fprintf(stderr, PROG ": the URL does not parse\n");
  } else {
    *loopback = host_is_loopback(host);
    if (!strcasecmp(scheme, "https")) rc = 0;
    else if (!strcasecmp(scheme, "http") && *loopback) rc = 0;
    else fprintf(stderr, PROG ": the URL must be https:// (plain http only to loopback)\n");
  }
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  return rc;
}

static char *trim_dup(const char *z) {
  if (!z) return NULL;
  while (*z == ' ' || *z == '\t' || *z == '\n' || *z == '\r') z++;
  size_t n = strlen(z);
  while (n && (z[n - 1] == ' ' || z[n - 1] == '\t' || z[n - 1] == '\n' || z[n - 1] == '\r')) n--;
  if (!n) return NULL;
  return sqlite3_mprintf("%.*s", (int)n, z);
}

static int http_init(Http *h, const Opts *o) {
  memset(h, 0, sizeof *h);
  h->o = o;
  int loopback = 0;
  if (!o->url || !*o->url) {
    fprintf(stderr, PROG ": no URL (argument or VOX_TELEMETRY_UPLOAD_URL)\n");
    return -1;
  }
  if (check_url(o->url, &loopback)) return -1;
  h->token = trim_dup(getenv("VOX_TELEMETRY_UPLOAD_TOKEN"));
  const char *k = getenv("VOX_TELEMETRY_SIGNING_KEY");
  if (k && *k) {
    h->sign_key = k;
    h->sign_key_len = strlen(k);
    h->key_id = getenv("VOX_TELEMETRY_SIGNING_KEY_ID");
    if (!h->key_id || !*h->key_id) h->key_id = "default";
    for (const char *p = h->key_id; *p; p++)
      if (*p < 0x21 || *p > 0x7e) {
        fprintf(stderr, PROG ": VOX_TELEMETRY_SIGNING_KEY_ID must be printable ASCII\n");
        return -1;
      }
  }
  telem_buf_init(&h->resp);
  if (o->dry_run) return 0;
  if (!(h->curl = curl_easy_init())) {
    fprintf(stderr, PROG ": cannot start libcurl\n");
    return -1;
  }
  CURL *c = h->curl;
  curl_easy_setopt(c, CURLOPT_URL, o->url);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect could leave TLS */
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, loopback ? "http,https" : "https");
  if (loopback) curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(o->timeout * 1000));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(o->timeout * 1000 < 10000 ? o->timeout * 1000 : 10000));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_body_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http_header_cb);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
  curl_easy_setopt(c, CURLOPT_USERAGENT, PROG "/" VOXTELEM_VERSION);
  if (o->cacert) curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
  return 0;
}

static void http_free(Http *h) {
  if (h->curl) curl_easy_cleanup(h->curl);
  sqlite3_free(h->token);
  telem_buf_free(&h->resp);
}

static void hex_encode(const unsigned char *p, size_t n, char *out) {
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hex[p[i] >> 4];
    out[2 * i + 1] = hex[p[i] & 15];
  }
  out[2 * n] = 0;
}

/* POSTs body with the contract's headers (docs/reference/sink-wire.md). */
static void http_post(Http *h, const char *body, size_t n, int ndjson, const char *idem_key,
                      const char *item_keys, Result *res) {
  memset(res, 0, sizeof *res);
  h->resp.len = 0;
  h->retry_after = -1;
  struct curl_slist *hd = NULL;
  char line[512];
  hd = curl_slist_append(hd, ndjson ? "Content-Type: application/x-ndjson; charset=utf-8"
                                    : "Content-Type: application/json; charset=utf-8");
  hd = curl_slist_append(hd, "Expect:");
  if (h->token) {
    char *a = sqlite3_mprintf("Authorization: Bearer %s", h->token);
    if (a) hd = curl_slist_append(hd, a);
    sqlite3_free(a);
  }
  snprintf(line, sizeof line, "Idempotency-Key: %s", idem_key);
  hd = curl_slist_append(hd, line);
  if (item_keys) {
    char *a = sqlite3_mprintf("X-Vox-Telemetry-Item-Keys: %s", item_keys);
    if (a) hd = curl_slist_append(hd, a);
    sqlite3_free(a);
  }
  char ts[32];
  /* VOXTELEM_UPLOAD_FIXED_TIME: tests only, to reproduce the documented
   * signing example (docs/reference/sink-wire.md). */
  const char *fixed = getenv("VOXTELEM_UPLOAD_FIXED_TIME");
  snprintf(ts, sizeof ts, "%lld", fixed && *fixed ? atoll(fixed) : (long long)time(NULL));
  snprintf(line, sizeof line, "X-Vox-Telemetry-Timestamp: %s", ts);
  hd = curl_slist_append(hd, line);
  if (h->sign_key) {
    /* HMAC-SHA256(key, timestamp "\n" body), lowercase hex, "v1=" prefix */
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t tl = strlen(ts);
    unsigned char *msg = sqlite3_malloc64(tl + 1 + n + 1);
    if (msg) {
      memcpy(msg, ts, tl);
      msg[tl] = '\n';
      memcpy(msg + tl + 1, body, n);
      HMAC(EVP_sha256(), h->sign_key, (int)h->sign_key_len, msg, tl + 1 + n, mac, &maclen);
      sqlite3_free(msg);
      char hex[2 * EVP_MAX_MD_SIZE + 1];
      hex_encode(mac, maclen, hex);
      snprintf(line, sizeof line, "X-Vox-Telemetry-Signature: v1=%s", hex);
      hd = curl_slist_append(hd, line);
      snprintf(line, sizeof line, "X-Vox-Telemetry-Key-Id: %s", h->key_id);
      hd = curl_slist_append(hd, line);
    } else {
      snprintf(res->err, sizeof res->err, "out of memory");
      curl_slist_free_all(hd);
      return;
    }
  }
  curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, hd);
  curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
  char cerr[CURL_ERROR_SIZE];
  cerr[0] = 0;
  curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, cerr);
  CURLcode cc = curl_easy_perform(h->curl);
  if (cc == CURLE_OK) {
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &res->status);
  } else {
    snprintf(res->err, sizeof res->err, "%s", cerr[0] ? cerr : curl_easy_strerror(cc));
  }
  curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
  curl_slist_free_all(hd);
}

/* 1 when a failure may succeed later: no answer, 408, 425, 429, 5xx. */
static int retryable(long status) {
  return status == 0 || status == 408 || status == 425 || status == 429 || status >= 500;
}

/* The error recorded for a failed attempt (sqlite3 memory): the status and
 * the first bytes of the response as printable text, or curl's error. */
static char *result_text(Http *h, const Result *r) {
  if (!r->status) return sqlite3_mprintf("request failed: %s", r->err);
  char *body = telem_printable(h->resp.p ? h->resp.p : "", h->resp.len, RESP_KEEP);
  char *m = sqlite3_mprintf("HTTP %ld%s%s", r->status, body && *body ? ": " : "", body ? body : "");
  sqlite3_free(body);
  return m;
}

/* How long to wait before attempt `attempt` + 1 (attempt counts from 0). */
static double retry_delay(const Opts *o, const Http *h, const Result *r, int attempt) {
  if ((r->status == 429 || r->status == 503) && h->retry_after >= 0)
    return h->retry_after < o->max_retry_after ? h->retry_after : o->max_retry_after;
  double d = o->backoff_base * pow(2, attempt);
  if (d > o->backoff_cap) d = o->backoff_cap;
  return d / 2 + rand01() * d / 2; /* equal jitter: never less than half */
}

/* ---- the two spools behind one interface ---------------------------------------------- */

typedef struct Item {
  sqlite3_int64 id;    /* database row id (0 for a Vox file) */
  char *key;           /* idempotency key; sqlite3 memory */
  char *body;          /* the JSON object; sqlite3 memory */
  size_t len;
  char *path;          /* Vox file; sqlite3 memory */
} Item;

static void items_free(Item *v, int n) {
  for (int i = 0; i < n; i++) {
    sqlite3_free(v[i].key);
    sqlite3_free(v[i].body);
    sqlite3_free(v[i].path);
  }
}

typedef struct Spool {
  sqlite3 *db;
  sqlite3_stmt *next;  /* next pending rows after an id */
  char **files;        /* Vox: pending file names, sorted; sqlite3 memory */
  int nfiles, ifile;
  const char *dir;
  TelemArena arena;
  sqlite3_int64 after; /* rows up to this id were handled in this run */
} Spool;

static int db_exec(sqlite3 *db, const char *sql) {
  char *err = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
  if (rc != SQLITE_OK) fprintf(stderr, PROG ": %s\n", err ? err : sqlite3_errstr(rc));
  sqlite3_free(err);
  return rc;
}

static int spool_open_db(Spool *s, const char *path) {
  memset(s, 0, sizeof *s);
  telem_arena_init(&s->arena);
  if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
    fprintf(stderr, PROG ": cannot open the database: %s\n", sqlite3_errmsg(s->db));
    return -1;
  }
  sqlite3_busy_timeout(s->db, 10000);
  char *err = NULL;
  if (sqlite3_voxtelem_init(s->db, &err, NULL) != SQLITE_OK) {
    fprintf(stderr, PROG ": %s\n", err ? err : "cannot register voxtelem");
    sqlite3_free(err);
    return -1;
  }
  if (sqlite3_prepare_v2(s->db,
                         "SELECT id, idempotency_key, line FROM telem_spool_export WHERE id > ?1",
                         -1, &s->next, NULL) != SQLITE_OK) {
    fprintf(stderr, PROG ": %s\n", sqlite3_errmsg(s->db));
    return -1;
  }
  return 0;
}

static int name_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Vox's spool: DIR/pending/<uuid>.json, in lexicographic order of name. */
static int spool_open_vox(Spool *s, const char *dir) {
  memset(s, 0, sizeof *s);
  telem_arena_init(&s->arena);
  s->dir = dir;
  char *pd = sqlite3_mprintf("%s/pending", dir);
  DIR *d = pd ? opendir(pd) : NULL;
  sqlite3_free(pd);
  if (!d) return errno == ENOENT ? 0 : (fprintf(stderr, PROG ": cannot read %s/pending\n", dir), -1);
  struct dirent *e;
  int cap = 0;
  while ((e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0 || e->d_name[0] == '.') continue;
    if (s->nfiles == cap) {
      cap = cap ? cap * 2 : 64;
      char **nf = sqlite3_realloc64(s->files, sizeof(char *) * (size_t)cap);
      if (!nf) break;
      s->files = nf;
    }
    if (!(s->files[s->nfiles] = sqlite3_mprintf("%s", e->d_name))) break;
    s->nfiles++;
  }
  closedir(d);
  qsort(s->files, (size_t)s->nfiles, sizeof(char *), name_cmp);
  return 0;
}

static void spool_close_all(Spool *s) {
  sqlite3_finalize(s->next);
  if (s->db) sqlite3_close(s->db);
  for (int i = 0; i < s->nfiles; i++) sqlite3_free(s->files[i]);
  sqlite3_free(s->files);
  telem_arena_free(&s->arena);
}

/* Reads a Vox spool file as compact JSON.  0, 1 (skip: not JSON, too big;
 * the file stays), -1 (OOM). */
static int vox_read(Spool *s, const char *name, Item *it) {
  char *path = sqlite3_mprintf("%s/pending/%s", s->dir, name);
  if (!path) return -1;
  FILE *f = fopen(path, "rb");
  if (!f) {
    sqlite3_free(path);
    return 1;
  }
  char *buf = sqlite3_malloc64(MAX_VOX_FILE + 1);
  size_t n = buf ? fread(buf, 1, MAX_VOX_FILE + 1, f) : 0;
  fclose(f);
  if (!buf) {
    sqlite3_free(path);
    return -1;
  }
  int rc = 1;
  if (n <= MAX_VOX_FILE) {
    telem_arena_reset(&s->arena);
    TelemJsonError je;
    const TelemJson *j = telem_json_parse(&s->arena, buf, n, &je);
    if (j) {
      TelemBuf b;
      telem_buf_init(&b);
      telem_json_write(&b, j);
      it->len = b.len;
      it->body = telem_buf_take(&b);
      size_t kl = strlen(name) - 5; /* the file's stem is its idempotency key */
      it->key = sqlite3_mprintf("%.*s", (int)kl, name);
      it->path = path;
      path = NULL;
      rc = it->body && it->key ? 0 : -1;
    } else {
      fprintf(stderr, PROG ": %s: not valid JSON (line %d, column %d); left in place\n", name,
              je.line, je.column);
    }
  } else {
    fprintf(stderr, PROG ": %s: larger than %u bytes; left in place\n", name, MAX_VOX_FILE);
  }
  telem_arena_reset(&s->arena);
  sqlite3_free(buf);
  sqlite3_free(path);
  return rc;
}

/* Fills up to max items after the ones handled; returns the count, or -1. */
static int spool_take(Spool *s, Item *v, int max) {
  int n = 0;
  if (s->db) {
    sqlite3_bind_int64(s->next, 1, s->after);
    while (n < max && sqlite3_step(s->next) == SQLITE_ROW) {
      Item *it = &v[n];
      memset(it, 0, sizeof *it);
      it->id = sqlite3_column_int64(s->next, 0);
      it->key = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(s->next, 1));
      it->len = (size_t)sqlite3_column_bytes(s->next, 2);
      it->body = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(s->next, 2));
      n++;
      if (!it->key || !it->body) {
        sqlite3_reset(s->next);
        return -1;
      }
    }
    int rc = sqlite3_reset(s->next);
    if (rc != SQLITE_OK) {
      fprintf(stderr, PROG ": %s\n", sqlite3_errmsg(s->db));
      return -1;
    }
    return n;
  }
  while (n < max && s->ifile < s->nfiles) {
    memset(&v[n], 0, sizeof v[n]);
    int rc = vox_read(s, s->files[s->ifile++], &v[n]);
    if (rc < 0) return -1;
    if (rc == 0) n++;
  }
  return n;
}

/* Ack after a 2xx: the rows go in one transaction (the files one by one:
 * each unlink is atomic).  0 or -1. */
static int spool_ack(Spool *s, Item *v, int n) {
  if (!s->db) {
    for (int i = 0; i < n; i++)
      if (unlink(v[i].path) != 0 && errno != ENOENT) {
        fprintf(stderr, PROG ": cannot remove an acknowledged file: %s\n", strerror(errno));
        return -1;
      }
    return 0;
  }
  if (db_exec(s->db, "BEGIN IMMEDIATE")) return -1;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(s->db, "SELECT acked FROM telem_spool_ack(?1)", -1, &st, NULL);
  for (int i = 0; rc == SQLITE_OK && i < n; i++) {
    sqlite3_bind_int64(st, 1, v[i].id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    rc = rc == SQLITE_DONE ? sqlite3_reset(st) : rc;
  }
  if (rc != SQLITE_OK) fprintf(stderr, PROG ": ack: %s\n", sqlite3_errmsg(s->db));
  sqlite3_finalize(st);
  if (rc != SQLITE_OK) {
    db_exec(s->db, "ROLLBACK");
    return -1;
  }
  return db_exec(s->db, "COMMIT") ? -1 : 0;
}

/* Records a failed attempt on every row of the request. */
static void spool_requeue(Spool *s, Item *v, int n, const char *why) {
  if (!s->db) return; /* Vox's files have no attempt count: left as they are */
  if (db_exec(s->db, "BEGIN IMMEDIATE")) return;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(s->db, "SELECT attempts FROM telem_spool_requeue(?1, ?2)", -1, &st,
                              NULL);
  for (int i = 0; rc == SQLITE_OK && i < n; i++) {
    sqlite3_bind_int64(st, 1, v[i].id);
    sqlite3_bind_text(st, 2, why, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    rc = rc == SQLITE_DONE ? sqlite3_reset(st) : rc;
  }
  sqlite3_finalize(st);
  db_exec(s->db, rc == SQLITE_OK ? "COMMIT" : "ROLLBACK");
}

/* ---- commands --------------------------------------------------------------------------- */

/* The request body and keys of a batch.  Returns 0 or -1 (OOM). */
static int build_request(Item *v, int n, TelemBuf *body, char **idem, char **item_keys) {
  *idem = NULL;
  *item_keys = NULL;
  if (n == 1) {
    telem_buf_append(body, v[0].body, v[0].len);
    *idem = sqlite3_mprintf("%s", v[0].key);
    return body->oom || !*idem ? -1 : 0;
  }
  TelemBuf keys;
  telem_buf_init(&keys);
  for (int i = 0; i < n; i++) {
    telem_buf_append(body, v[i].body, v[i].len);
    telem_buf_putc(body, '\n');
    if (i) telem_buf_putc(&keys, ',');
    telem_buf_puts(&keys, v[i].key);
  }
  if (keys.oom || body->oom) {
    telem_buf_free(&keys);
    return -1;
  }
  /* The batch's key follows from its items' keys: a retried batch (the
   * same rows, since nothing before them was acked) has the same key. */
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256((const unsigned char *)keys.p, keys.len, md);
  char hex[2 * SHA256_DIGEST_LENGTH + 1];
  hex_encode(md, 16, hex);
  *idem = sqlite3_mprintf("batch-%s", hex);
  *item_keys = telem_buf_take(&keys);
  return *idem && *item_keys ? 0 : -1;
}

static int cmd_upload(const Opts *o, Spool *s) {
  Http h;
  if (http_init(&h, o)) {
    http_free(&h);
    return 2;
  }
  Bucket bk = {o->rate, o->burst, o->burst, now_mono()};
  Item *v = sqlite3_malloc64(sizeof(Item) * (size_t)o->batch);
  long sent = 0, rejected = 0, requests = 0;
  int stop = 0, rc = 0;
  if (!v) {
    http_free(&h);
    return 2;
  }
  while (!stop) {
    if (o->max_requests && requests >= o->max_requests) break;
    int n = spool_take(s, v, o->batch);
    if (n < 0) {
      rc = 2;
      break;
    }
    if (n == 0) break;
    for (int i = 0; i < n; i++)
      if (v[i].id > s->after) s->after = v[i].id;
    TelemBuf body;
    telem_buf_init(&body);
    char *idem = NULL, *item_keys = NULL;
    if (build_request(v, n, &body, &idem, &item_keys)) {
      rc = 2;
      stop = 1;
    } else if (o->dry_run) {
      fprintf(stderr, "[dry-run] would POST %zu bytes (%d item%s) Idempotency-Key %s\n", body.len,
              n, n == 1 ? "" : "s", idem);
      sent += n;
    } else {
      for (int attempt = 0;; attempt++) {
        if (o->max_requests && requests >= o->max_requests) {
          stop = 1;
          break;
        }
        bucket_take(&bk);
        Result r;
        http_post(&h, body.p, body.len, n > 1, idem, item_keys, &r);
        requests++;
        if (o->verbose)
          fprintf(stderr, PROG ": POST %s -> %ld%s%s\n", idem, r.status, r.status ? "" : " ",
                  r.status ? "" : r.err);
        if (r.status >= 200 && r.status < 300) {
          if (spool_ack(s, v, n)) {
            rc = 2; /* sent but not recorded: the next run resends, same key */
            stop = 1;
          } else {
            sent += n;
          }
          break;
        }
        char *why = result_text(&h, &r);
        spool_requeue(s, v, n, why ? why : "out of memory");
        if (!retryable(r.status)) {
          fprintf(stderr, PROG ": %s rejected: %s\n", idem, why ? why : "");
          rejected += n;
          sqlite3_free(why);
          break;
        }
        if (attempt + 1 >= o->max_attempts) {
          fprintf(stderr, PROG ": %s: giving up after %d attempts: %s\n", idem, attempt + 1,
                  why ? why : "");
          sqlite3_free(why);
          stop = 1;
          break;
        }
        sqlite3_free(why);
        sleep_s(retry_delay(o, &h, &r, attempt));
      }
    }
    telem_buf_free(&body);
    sqlite3_free(idem);
    sqlite3_free(item_keys);
    items_free(v, n);
  }
  sqlite3_free(v);
  fprintf(stderr, PROG ": %s %ld, rejected %ld, requests %ld\n",
          o->dry_run ? "would send" : "sent", sent, rejected, requests);
  http_free(&h);
  if (rc) return rc;
  return (stop || rejected) && !o->dry_run ? 1 : 0;
}

static int cmd_status(const Opts *o, Spool *s) {
  if (s->db) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT pending, bytes, oldest, max_attempts, last_error FROM telem_spool",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
      fprintf(stderr, PROG ": %s\n", sqlite3_errmsg(s->db));
      sqlite3_finalize(st);
      return 2;
    }
    const char *old = (const char *)sqlite3_column_text(st, 2);
    const char *le = (const char *)sqlite3_column_text(st, 4);
    printf("spool: %s (table telem_spool_queue)\npending: %lld\nbytes: %lld\noldest: %s\n"
           "max_attempts: %lld\nlast_error: %s\n",
           o->db, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), old ? old : "-",
           sqlite3_column_int64(st, 3), le ? le : "-");
    sqlite3_finalize(st);
  } else {
    long long bytes = 0;
    for (int i = 0; i < s->nfiles; i++) {
      char *p = sqlite3_mprintf("%s/pending/%s", s->dir, s->files[i]);
      struct stat sb;
      if (p && stat(p, &sb) == 0) bytes += sb.st_size;
      sqlite3_free(p);
    }
    printf("spool: %s/pending (Vox file spool)\npending: %d\nbytes: %lld\n", s->dir, s->nfiles,
           bytes);
  }
  const char *url = o->url;
  printf("upload_url: %s\n", url && *url ? "set" : "missing");
  char *tok = trim_dup(getenv("VOX_TELEMETRY_UPLOAD_TOKEN"));
  printf("upload_token: %s\n", tok ? "set" : "missing");
  sqlite3_free(tok);
  const char *k = getenv("VOX_TELEMETRY_SIGNING_KEY");
  printf("signing_key: %s\n", k && *k ? "set" : "missing");
  return 0;
}

static int cmd_export(Spool *s) {
  Item it;
  long n = 0;
  for (;;) {
    int k = spool_take(s, &it, 1);
    if (k < 0) return 2;
    if (k == 0) break;
    if (it.id > s->after) s->after = it.id;
    fwrite(it.body, 1, it.len, stdout);
    fputc('\n', stdout);
    items_free(&it, 1);
    n++;
  }
  fflush(stdout);
  fprintf(stderr, "exported %ld record(s)\n", n);
  return ferror(stdout) ? 2 : 0;
}

/* One uploader per spool: two would send the same rows twice (harmless to
 * a receiver that honours Idempotency-Key, but wasteful).  An flock() on
 * the database file or the spool directory, held until exit; it does not
 * touch SQLite's own (fcntl) locks.  0, or 2 when another run holds it. */
static int lock_spool(const Opts *o) {
  if (o->dry_run) return 0;
  const char *path = o->vox_dir ? o->vox_dir : o->db;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0; /* nothing to lock: opening the spool reports it */
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    fprintf(stderr, PROG ": another " PROG " is uploading this spool\n");
    close(fd);
    return 2;
  }
  return 0; /* fd stays open: the lock lasts until the process ends */
}

int main(int argc, char **argv) {
  Opts o;
  int rc = parse_args(argc, argv, &o);
  if (rc) return rc;
  /* A receiver that closes mid-request must give an error, not kill us
   * (CURLOPT_NOSIGNAL leaves SIGPIPE to the program). */
  signal(SIGPIPE, SIG_IGN);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    fprintf(stderr, PROG ": cannot start libcurl\n");
    return 2;
  }
  Spool s;
  if (o.vox_dir ? spool_open_vox(&s, o.vox_dir) : spool_open_db(&s, o.db)) {
    spool_close_all(&s);
    curl_global_cleanup();
    return 2;
  }
  if (!strcmp(o.cmd, "status")) rc = cmd_status(&o, &s);
  else if (!strcmp(o.cmd, "export")) rc = cmd_export(&s);
  else if ((rc = lock_spool(&o)) == 0) rc = cmd_upload(&o, &s);
  spool_close_all(&s);
  curl_global_cleanup();
  return rc;
}
