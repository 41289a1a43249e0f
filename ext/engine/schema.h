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

#endif /* VOXTELEM_SCHEMA_H */
