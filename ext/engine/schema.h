/*
 * schema.h -- the JSON Schema engine (schema.c) beyond the public API in
 * include/voxtelem.h: validation of an already parsed instance.
 */
#ifndef VOXTELEM_SCHEMA_H
#define VOXTELEM_SCHEMA_H

#include "engine/json.h"
#include "voxtelem.h"

/* ---- JSON Schema engine (schema.c; public API in include/voxtelem.h) ----- */

typedef struct TelemSchema TelemSchema;
typedef struct TelemSchemaErrors TelemSchemaErrors;
/* Validates an already parsed instance: 1, 0, or -1 with *pzErr. */
int telem_schema_validate_tree(TelemSchema *s, const TelemJson *j, char **pzErr);
/* Collects the failing leaves for a parsed instance (NULL + *pzErr on error). */
TelemSchemaErrors *telem_schema_errors_tree(TelemSchema *s, const TelemJson *j, char **pzErr);
/* Internal compile flag: the text is a URI to compile (schema_conn.c). */
#define TELEM_SCHEMA_BY_URI 0x100
/* Limits of one validation call. */
#define TELEM_SCHEMA_MAX_STEPS 10000000u /* schema nodes evaluated per call (default budget) */
typedef struct TelemSchemaRun {
  uint64_t max_steps;            /* 0: TELEM_SCHEMA_MAX_STEPS */
  int (*interrupted)(void *arg); /* polled every 4096 steps; nonzero stops the call */
  void *arg;
} TelemSchemaRun;
/* telem_schema_validate_tree with limits: 1, 0, -1 with *pzErr, or -2 when
 * opt->interrupted stopped it (*pzErr "interrupted"). */
int telem_schema_validate_tree_run(TelemSchema *s, const TelemJson *j, const TelemSchemaRun *opt,
                                   char **pzErr);
/* telem_schema_errors_tree with limits; *interrupted (may be NULL) is set
 * when the callback stopped it. */
TelemSchemaErrors *telem_schema_errors_tree_run(TelemSchema *s, const TelemJson *j,
                                                const TelemSchemaRun *opt, int *interrupted,
                                                char **pzErr);
/* Another reference to s; telem_schema_free releases one. */
TelemSchema *telem_schema_ref(TelemSchema *s);
/* A new, empty set whose lookups fall through to parent (a reference is
 * held): per-connection documents over the contracts' set.  NULL on OOM. */
TelemSchemaSet *telem_schema_set_layer(TelemSchemaSet *parent);
/* Bumped by every document added to set (cache invalidation). */
uint64_t telem_schema_set_gen(const TelemSchemaSet *set);

#endif /* VOXTELEM_SCHEMA_H */
