/*
 * redactor.h -- the redaction engine (redactor.c): rules, profiles, and
 * running them over JSON or text.  The public subset is in voxtelem.h.
 */
#ifndef VOXTELEM_REDACTOR_H
#define VOXTELEM_REDACTOR_H

#include "engine/json.h"
#include "voxtelem.h"

/* ---- redaction engine (rules.c) ----------------------------------------- */

/* Actions of a rule (also the index into the names "keep", "replace", ...). */
enum { TELEM_RACT_KEEP, TELEM_RACT_REPLACE, TELEM_RACT_HASH, TELEM_RACT_OMIT };

typedef struct TelemRedactor TelemRedactor;

/* Polled during long runs (about every 10 ms of regex work): returns
 * nonzero to stop the run with "interrupted".  The SQL layer passes one
 * that reads sqlite3_interrupt(); the engine itself knows nothing of SQL. */
typedef int (*TelemRedactStop)(void *arg);

/* One action taken (telem_redactions): never the value. */
typedef struct TelemRedactEntry {
  int node;   /* where: a path node of the log (-1: the whole text); telem_redact_log_path() */
  int rule;   /* rule index: telem_redactor_rule_id() */
  int action; /* TELEM_RACT_* */
  int cls;    /* the rule's class, 0..3 */
} TelemRedactEntry;

/* One JSON Pointer token of a logged path; paths share their prefixes, so
 * a log of A actions at depth D costs O(A + D) memory, not O(A x D). */
typedef struct TelemPathNode {
  int parent;    /* node index, -1 at the root */
  uint32_t off;  /* the token ("/name", escaped) in the log's tok buffer */
  uint32_t len;
} TelemPathNode;

typedef struct TelemRedactLog {
  TelemRedactEntry *v; /* owned */
  int n, cap;
  TelemPathNode *nodes; /* owned */
  int nnodes, cnodes;
  TelemBuf tok;         /* token text of the nodes */
} TelemRedactLog;

void telem_redact_log_init(TelemRedactLog *log);
void telem_redact_log_clear(TelemRedactLog *log); /* frees the entries; reusable */
/* The JSON Pointer of entry i ("" for the whole text), sqlite3_malloc'd;
 * NULL on OOM.  O(depth). */
char *telem_redact_log_path(const TelemRedactLog *log, int i);

/* Builds a redactor from the YAML rules text (see redaction-rules.yaml).
 * Returns NULL and sets *pzErr ("rule \"email\" (line 9): ...") on a bad
 * file.  Free with telem_redactor_free.  Not for use by two threads at once. */
TelemRedactor *telem_redactor_new(const char *text, size_t n, char **pzErr);
void telem_redactor_free(TelemRedactor *r);
void telem_redactor_free_cb(void *p); /* void(void*) destructor for caches */
/* Index of profile `name`, or -1. */
int telem_redactor_profile_index(const TelemRedactor *r, const char *name);
/* Sets (fn NULL: clears) the interrupt callback used by later runs. */
void telem_redactor_set_stop(TelemRedactor *r, TelemRedactStop fn, void *arg);
/* Keys `hash` with HMAC-SHA256 under key[0..n): digests become
 * hmac:<keyid>:<64 hex>.  The key is copied (and wiped when replaced or
 * freed), never logged.  n == 0 goes back to unkeyed xxh3.  keyid must
 * match [A-Za-z0-9._-]{1,32}.  0, or -1 with *pzErr. */
int telem_redactor_set_hmac_key(TelemRedactor *r, const char *keyid, const void *key, size_t n,
                                char **pzErr);
/* Value patterns over free text (an error message, a JSON Pointer): the
 * text with every match replaced, appended to out as valid UTF-8.  For
 * callers outside redaction (telem_validate_errors.instance_path, assert
 * messages).  0, or -1 with *pzErr (fail closed: append nothing usable). */
int telem_redactor_scrub_text(TelemRedactor *r, const char *text, size_t n, TelemBuf *out,
                              char **pzErr);
int telem_redactor_rule_count(const TelemRedactor *r);
const char *telem_redactor_rule_id(const TelemRedactor *r, int rule);
int telem_redactor_rule_class(const TelemRedactor *r, int rule);
const char *telem_redact_action_name(int action);
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
/* The same answer through the generic walk of telem_redactor_run (no
 * profile): slower; the reference that tests compare the classify walker
 * with. */
int telem_redactor_classify_ref(TelemRedactor *r, TelemArena *a, const char *text, size_t n,
                                int *cls, char **pzErr);

#endif /* VOXTELEM_REDACTOR_H */
