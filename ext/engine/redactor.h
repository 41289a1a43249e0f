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

#endif /* VOXTELEM_REDACTOR_H */
