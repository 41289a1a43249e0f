/*
 * yaml.h -- YAML contract files into jansson values (yaml.c).
 */
#ifndef VOXTELEM_YAML_H
#define VOXTELEM_YAML_H

#include <jansson.h>
#include "core/core.h"

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

/* json_object_foreach over the members a YAML file wrote: the hidden line
 * key is skipped.  The statement that follows is the loop body. */
#define telem_yaml_foreach(obj, key, val) \
  json_object_foreach(obj, key, val) if (telem_yaml_meta_key(key)) continue; else

/* The first member key of mapping m that is not in `known` (a NULL-ended
 * list), or NULL when every member is known.  Loaders name it in their
 * error through telem_buf_printable: it is the file's text. */
const char *telem_yaml_unknown_field(json_t *m, const char *const *known);

#endif /* VOXTELEM_YAML_H */
