/*
 * internal.h -- the one internal header shared by ext/ and tests/.
 *
 * It holds the sqlite3ext include rules, project-wide limits, the error and
 * buffer helpers, the data-path JSON parser (jsonp.c), the per-connection
 * state (conn.c), the contracts registry (registry.c) and the prototypes of
 * every telem_register_<feature>() that ext/voxtelem.c walks.
 *
 * Memory: everything in ext/ allocates with sqlite3_malloc64/sqlite3_free,
 * except jansson values (json_decref), PCRE2 objects (pcre2_*_free), libyaml
 * objects (yaml_*_delete) and jansson's dump strings (free).
 */
#ifndef VOXTELEM_INTERNAL_H
#define VOXTELEM_INTERNAL_H

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

#include <jansson.h>

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

/* ---- errors ------------------------------------------------------------- */

/* Sets "<fn>: <message>" as the result error of ctx. */
void telem_result_errorf(sqlite3_context *ctx, const char *fn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* SQL functions are registered with nArg -1 so that a wrong argument count
 * gets an error that starts with the function's name (SQLite's own message
 * does not).  Returns 1 when min <= argc <= max, else sets the error. */
int telem_check_argc(sqlite3_context *ctx, const char *fn, int argc, int min, int max);
/* Table-valued functions declare TELEM_TVF_EXTRA_COLUMNS after their real
 * HIDDEN arguments, so that a call with too many arguments reaches
 * xBestIndex instead of failing with SQLite's own message, which does not
 * start with the function's name.  telem_tvf_too_many_args() returns 1
 * (with the vtab error set) when a call used them. */
#define TELEM_TVF_EXTRA_COLUMNS \
  ", extra_arg1 HIDDEN, extra_arg2 HIDDEN, extra_arg3 HIDDEN, extra_arg4 HIDDEN"
#define TELEM_TVF_EXTRA_COUNT 4
int telem_tvf_too_many_args(sqlite3_vtab *vtab, const sqlite3_index_info *info, const char *fn,
                            int first_extra_col, int max_args);
/* Replaces *pzErr (sqlite3 memory) with a formatted message. */
void telem_set_err(char **pzErr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets a vtab's zErrMsg, freeing the old one. */
void telem_vtab_errorf(sqlite3_vtab *vtab, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- UTF-8 -------------------------------------------------------------- */

/* 1 when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int telem_utf8_valid(const char *s, size_t n);
/* Number of code points in well-formed UTF-8 s[0..n). */
size_t telem_utf8_count(const char *s, size_t n);

/* Appends z[0..n) with every ill-formed sequence replaced by U+FFFD, so
 * the buffer holds valid UTF-8 whatever the input. */
void telem_buf_utf8_repair(TelemBuf *b, const char *z, size_t n);
/* Appends z[0..n) for an error message: printable UTF-8 kept; control
 * characters, line and bidi separators and backslashes escaped (\n, \uXXXX,
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

typedef struct TelemJsonError {
  size_t offset; /* byte offset of the first problem */
  int line;      /* 1-based */
  int column;    /* 1-based, in bytes */
  const char *what; /* static text: "unexpected character", ... */
} TelemJsonError;

/* Parses text[0..n) strictly per RFC 8259 (UTF-8 checked, no trailing
 * garbage beyond whitespace, depth <= TELEM_JSON_MAX_DEPTH, at most
 * TELEM_JSON_MAX_VALUES values) into arena a.
 * Returns the root, or NULL with *err filled (err may be NULL).  The tree
 * lives until the arena is reset and may point into text. */
TelemJson *telem_json_parse(TelemArena *a, const char *text, size_t n, TelemJsonError *err);

/* Member of object o named key[0..klen), or NULL (last one wins on dups). */
const TelemJson *telem_json_get(const TelemJson *o, const char *key, size_t klen);
/* Appends v as compact JSON (strings re-escaped minimally). */
void telem_json_write(TelemBuf *b, const TelemJson *v);
/* Compares two JSON number literals exactly (no rounding): <0, 0, >0. */
int telem_json_number_cmp(const char *a, size_t an, const char *b, size_t bn);
/* 1 when a and b are equal as JSON values (numbers by value, objects
 * regardless of member order). */
int telem_json_equal(const TelemJson *a, const TelemJson *b);

/* ---- JSON Schema engine (schema.c; public API in include/voxtelem.h) ----- */

typedef struct TelemSchema TelemSchema;
typedef struct TelemSchemaErrors TelemSchemaErrors;
/* Validates an already parsed instance: 1, 0, or -1 with *pzErr. */
int telem_schema_validate_tree(TelemSchema *s, const TelemJson *j, char **pzErr);
/* Collects the failing leaves for a parsed instance (NULL + *pzErr on error). */
TelemSchemaErrors *telem_schema_errors_tree(TelemSchema *s, const TelemJson *j, char **pzErr);

/* ---- contracts registry (registry.c) ------------------------------------ */

typedef struct TelemContract {
  char *id, *path, *kind, *owner, *description, *enforced_by; /* owned */
} TelemContract;

typedef struct TelemTaxonomyRow {
  char *metric_type, *family, *sensitivity, *plane, *transmission;
  char *session_prefix, *schema_id, *owner, *description; /* owned; may be NULL */
} TelemTaxonomyRow;

typedef struct TelemColumnClass {
  char *table, *column, *sensitivity; /* owned */
} TelemColumnClass;

typedef struct TelemFile {
  char *path;  /* relative to the contracts root; owned */
  char *data;  /* bytes, NUL-terminated; owned */
  size_t len;
} TelemFile;

/* An immutable, reference-counted snapshot of one contracts directory (or
 * of the embedded copy).  Features may hang caches off it (ext slots). */
typedef struct TelemRegistry TelemRegistry;

enum { TELEM_EXT_SCHEMA, TELEM_EXT_REDACT, TELEM_EXT_POLICY, TELEM_EXT_COUNT };

struct TelemRegistry {
  int refs;
  char *source;                 /* "embedded" or the directory; owned */
  TelemFile *files; int n_files;
  TelemContract *contracts; int n_contracts;
  TelemTaxonomyRow *taxonomy; int n_taxonomy;
  TelemColumnClass *columns; int n_columns;
  void *ext[TELEM_EXT_COUNT];           /* feature caches, freed by ext_free */
  void (*ext_free[TELEM_EXT_COUNT])(void *);
};

/* Loads the embedded contracts.  Returns NULL and sets *pzErr on failure. */
TelemRegistry *telem_registry_embedded(char **pzErr);
/* Loads every file of dir named by dir/index.yaml.  NULL + *pzErr on failure. */
TelemRegistry *telem_registry_load_dir(const char *dir, char **pzErr);
/* Loads from an in-memory file set (takes nothing; copies). */
TelemRegistry *telem_registry_load_files(const char *source, const TelemFile *files, int n,
                                         char **pzErr);
TelemRegistry *telem_registry_ref(TelemRegistry *r);
void telem_registry_unref(TelemRegistry *r);

const TelemContract *telem_registry_contract(const TelemRegistry *r, const char *id);
const TelemFile *telem_registry_file(const TelemRegistry *r, const char *path);
/* The contract file of registry id `id`, or NULL. */
const TelemFile *telem_registry_file_by_id(const TelemRegistry *r, const char *id);
/* The first contract file of kind `kind` (e.g. "redaction-rules"), or NULL. */
const TelemFile *telem_registry_file_by_kind(const TelemRegistry *r, const char *kind);
const TelemTaxonomyRow *telem_registry_metric(const TelemRegistry *r, const char *metric_type);
const char *telem_registry_column_class(const TelemRegistry *r, const char *table,
                                        const char *column);

/* 1 when z matches ^[a-z0-9][a-z0-9.-]*$ */
int telem_contract_id_ok(const char *z);
/* "S0".."S3" -> 0..3, else -1 */
int telem_class_rank(const char *z);

/* ---- YAML loading helper (yamlload.c) ----------------------------------- */

/* Parses YAML text into a jansson value (mappings -> objects, sequences ->
 * arrays, plain scalars -> strings, except null/~ -> null).  Aliases are
 * limited to TELEM_YAML_MAX_ALIASES.  On error returns NULL and sets *pzErr
 * to "<name>:<line>:<col>: <problem>".  Each object member and array
 * element remembers its source line: see telem_yaml_line(). */
json_t *telem_yaml_parse(const char *name, const char *text, size_t n, char **pzErr);
/* The 1-based source line of mapping v (0 when unknown). */
int telem_yaml_line(json_t *v);
/* Every mapping holds its line under this hidden key: loaders iterating an
 * object's members must skip it (telem_yaml_meta_key). */
#define TELEM_YAML_LINE_KEY "\x01line"
#define telem_yaml_meta_key(k) ((k)[0] == '\x01')

/* ---- per-connection state (conn.c) -------------------------------------- */

/* One per connection that loaded the extension; reference-counted by every
 * function and module registered with it as user data. */
typedef struct TelemConn {
  int refs;
  sqlite3 *db;
  TelemRegistry *reg; /* contracts in use; owned reference */
  TelemArena arena;   /* per-row scratch for the data-path parser */
} TelemConn;

TelemConn *telem_conn_new(sqlite3 *db, char **pzErr);
TelemConn *telem_conn_ref(TelemConn *c);
void telem_conn_unref_cb(void *p); /* xDestroy for functions and modules */
/* Swaps the registry in use (takes ownership of r). */
void telem_conn_set_registry(TelemConn *c, TelemRegistry *r);

/* Registers a scalar/aggregate function with c as user data (ref taken). */
int telem_create_function(sqlite3 *db, TelemConn *c, const char *name, int nArg, int flags,
                          void (*xFunc)(sqlite3_context *, int, sqlite3_value **));
/* Registers a module with c as client data (ref taken). */
int telem_create_module(sqlite3 *db, TelemConn *c, const char *name, const sqlite3_module *m);

/* ---- redaction engine (rules.c) ----------------------------------------- */

/* Actions of a rule (also the index into the names "keep", "replace", ...). */
enum { TELEM_RACT_KEEP, TELEM_RACT_REPLACE, TELEM_RACT_HASH, TELEM_RACT_OMIT };

typedef struct TelemRedactor TelemRedactor;

/* One action taken (telem_redactions): never the value. */
typedef struct TelemRedactEntry {
  char *path; /* JSON Pointer of the value ("" for the whole text); owned */
  int rule;   /* rule index: telem_redactor_rule_id() */
  int action; /* TELEM_RACT_* */
  int cls;    /* the rule's class, 0..3 */
} TelemRedactEntry;

typedef struct TelemRedactLog {
  TelemRedactEntry *v; /* owned */
  int n, cap;
} TelemRedactLog;

void telem_redact_log_init(TelemRedactLog *log);
void telem_redact_log_clear(TelemRedactLog *log); /* frees the entries; reusable */

/* Builds a redactor from the YAML rules text (see redaction-rules.yaml).
 * Returns NULL and sets *pzErr ("rule \"email\" (line 9): ...") on a bad
 * file.  Free with telem_redactor_free.  Not for use by two threads at once. */
TelemRedactor *telem_redactor_new(const char *text, size_t n, char **pzErr);
void telem_redactor_free(TelemRedactor *r);
void telem_redactor_free_cb(void *p); /* void(void*) destructor for caches */
/* Index of profile `name`, or -1. */
int telem_redactor_profile_index(const TelemRedactor *r, const char *name);
int telem_redactor_rule_count(const TelemRedactor *r);
const char *telem_redactor_rule_id(const TelemRedactor *r, int rule);
int telem_redactor_rule_class(const TelemRedactor *r, int rule);
const char *telem_redact_action_name(int action);
/* "S0".."S3" for 0..3, NULL otherwise (static strings). */
const char *telem_class_name(int cls);
/* Redacts text[0..n) with profile index `profile`: JSON (parsed into arena
 * a) gives compact JSON, other text is scrubbed as text.  Appends to out
 * (when not NULL) and records actions in log (when not NULL).  Returns 0, or
 * -1 with *pzErr set; on error out holds nothing usable (fail closed). */
int telem_redactor_run(TelemRedactor *r, int profile, TelemArena *a, const char *text, size_t n,
                       TelemBuf *out, TelemRedactLog *log, char **pzErr);
/* Raises *cls (0..3, in/out) by what text[0..n) holds: key rules and value
 * patterns by their class; text that is not JSON is 3.  0 or -1 + *pzErr. */
int telem_redactor_classify(TelemRedactor *r, TelemArena *a, const char *text, size_t n,
                            int *cls, char **pzErr);

/* ---- redaction cache (redact.c, classify.c) ----------------------------- */

/* One taxonomy entry in telem_classify's hash table. */
typedef struct TelemClassEntry {
  const char *name; /* metric_type, borrowed from the registry; NULL = empty slot */
  uint32_t len;
  uint32_t hash;
  int cls;          /* 0..3 */
} TelemClassEntry;

/* What reg->ext[TELEM_EXT_REDACT] holds: built lazily, once per registry
 * (so once per connection and contracts source), freed with the registry. */
typedef struct TelemRedactCache {
  int rules_built;          /* the rules were tried */
  TelemRedactor *rules;     /* compiled rules, NULL when they failed; owned */
  char *rules_err;          /* why rules is NULL; owned */
  TelemClassEntry *tax;     /* open addressing, tax_mask + 1 slots; owned */
  uint32_t tax_mask;
} TelemRedactCache;

/* The cache of reg, created on first use; NULL on OOM. */
TelemRedactCache *telem_redact_cache(TelemRegistry *reg);
/* The compiled redaction rules of reg (borrowed: valid while reg is), or
 * NULL with *pzErr set ("<path>: rule ..." or "no redaction-rules contract"). */
TelemRedactor *telem_redact_rules(TelemRegistry *reg, char **pzErr);

/* ---- feature registration (one per ext/<feature>.c) --------------------- */

typedef int (*TelemRegisterFn)(sqlite3 *db, TelemConn *c, char **pzErr);

int telem_register_version(sqlite3 *db, TelemConn *c, char **pzErr);
int telem_register_contracts(sqlite3 *db, TelemConn *c, char **pzErr);
int telem_register_validate(sqlite3 *db, TelemConn *c, char **pzErr);
int telem_register_redact(sqlite3 *db, TelemConn *c, char **pzErr);
int telem_register_classify(sqlite3 *db, TelemConn *c, char **pzErr);


/* ---- retention policy (policy.c; public API in include/voxtelem.h) ------ */

enum {
  TELEM_RK_DAYS = 1, /* ISO-8601 text older than now - days */
  TELEM_RK_MS_DAYS,  /* INTEGER Unix milliseconds older than now - days */
  TELEM_RK_EXPIRES,  /* expires_lt_now: non-NULL TTL column before now */
  TELEM_RK_KEEP,     /* keep_forever: listed, never deleted */
  TELEM_RK_MANUAL,   /* manual: listed, never deleted automatically */
  TELEM_RK_CASCADE   /* goes with its parent (cascade_from) through a foreign key */
};
#define TELEM_POLICY_BAD_DAYS (-0x7fffffffffffffffLL) /* days: not an integer */

typedef struct TelemPolicyRule {
  char *table_name;   /* owned */
  int kind;           /* TELEM_RK_* */
  int64_t days;       /* TELEM_POLICY_NO_DAYS when absent */
  char *time_column;  /* owned; may be NULL */
  char *cascade_from; /* owned; may be NULL */
  char *rationale;    /* owned */
  int64_t rowid;      /* row in telem_retention_policy (0: from a file) */
} TelemPolicyRule;

struct TelemPolicy {
  TelemPolicyRule *rules; /* sorted by table_name, case-insensitively; owned */
  int n, cap;
};
typedef struct TelemPolicy TelemPolicy; /* also in voxtelem.h (C11 allows both) */

int telem_policy_kind(const char *name);      /* TELEM_RK_* or 0 */
const char *telem_policy_kind_name(int kind); /* static text or NULL */
struct TelemPolicyRuleInfo;
int telem_policy_ident_ok(const char *z);     /* ^[A-Za-z_][A-Za-z0-9_]{0,127}$, not sqlite_* */
/* telem_policy_add() that also records the rule's rowid. */
int telem_policy_add_rowid(TelemPolicy *p, const struct TelemPolicyRuleInfo *r, int64_t rowid,
                           char **pzErr);

/* retention.c: the active policy of the connection (database table
 * telem_retention_policy when it exists, else the contracts' file).
 * Returns a new policy the caller frees, or NULL with *pzErr.  *pzSource
 * (may be NULL) gets "database" or "<registry source>:<path>" (static or
 * owned by the registry; valid while the registry is). */
TelemPolicy *telem_policy_active(sqlite3 *db, TelemConn *c, const char **pzSource, char **pzErr);

/* 1 when a statement that writes is running on db (COMMIT would fail). */
int telem_db_writer_busy(sqlite3 *db);

int telem_register_retention(sqlite3 *db, TelemConn *c, char **pzErr);
int telem_register_prune(sqlite3 *db, TelemConn *c, char **pzErr);

/* ---- upload spool (spool.c) --------------------------------------------- */

/* validate.c: the payload rule of the research_metrics row contract -- j
 * valid against the taxonomy's schema of metric_type (when it names one).
 * NULL when it holds, else the problem in words (sqlite3_malloc'd); engine
 * failures set *fatal and *pzErr and return NULL. */
char *telem_metric_payload_problem(TelemConn *c, const char *metric_type, const TelemJson *j,
                                   int *fatal, char **pzErr);

int telem_register_spool(sqlite3 *db, TelemConn *c, char **pzErr);

#endif /* VOXTELEM_INTERNAL_H */
