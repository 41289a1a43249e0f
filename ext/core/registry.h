/*
 * registry.h -- the contracts registry (registry.c): index.yaml and the
 * files it names, from the embedded copy or a directory.
 */
#ifndef VOXTELEM_REGISTRY_H
#define VOXTELEM_REGISTRY_H

#include "core/core.h"

/* ---- contracts registry (registry.c) ------------------------------------ */

typedef struct TelemContract {
  char *id, *path, *kind, *owner, *description, *enforced_by; /* owned */
  char *error; /* foreign directories: why this contract is unusable (owned), or NULL */
} TelemContract;

typedef struct TelemTaxonomyRow {
  char *metric_type, *family, *sensitivity, *plane, *transmission;
  char *session_prefix, *schema_id, *owner, *description; /* owned; may be NULL */
  char *schema_pointer; /* JSON Pointer of the payload in metadata_json; owned; NULL = "" */
  int cls; /* telem_class_rank(sensitivity): 0..3 */
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

enum { TELEM_EXT_SCHEMA, TELEM_EXT_REDACT, TELEM_EXT_POLICY, TELEM_EXT_METRIC, TELEM_EXT_COUNT };

struct TelemRegistry {
  int refs;
  char *source;                 /* "embedded" or the directory; owned */
  TelemFile *files; int n_files;
  TelemContract *contracts; int n_contracts;
  TelemTaxonomyRow *taxonomy; int n_taxonomy;
  uint32_t *tax_slots, tax_mask; /* open addressing over taxonomy: row + 1, 0 empty */
  TelemColumnClass *columns; int n_columns;
  void *ext[TELEM_EXT_COUNT];           /* feature caches, freed by ext_free */
  void (*ext_free[TELEM_EXT_COUNT])(void *);
};

/* Loads the embedded contracts.  Returns NULL and sets *pzErr on failure. */
TelemRegistry *telem_registry_embedded(char **pzErr);
/* Loads every file of dir named by dir/index.yaml.  NULL + *pzErr on failure.
 * A directory in Vox's own index format (schema_version, paths relative to
 * the repository root, enforced_by lists, kinds yaml/json/openapi-yaml) is
 * read leniently: a contract that cannot be used gets an `error` and the
 * others stay usable (see registry.c). */
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
/* The taxonomy row of a metric type, or NULL: a hashed lookup, O(1). */
const TelemTaxonomyRow *telem_registry_metric(const TelemRegistry *r, const char *metric_type);
/* The same for s[0..n), which need not be NUL-terminated. */
const TelemTaxonomyRow *telem_registry_metric_n(const TelemRegistry *r, const char *s, size_t n);
const char *telem_registry_column_class(const TelemRegistry *r, const char *table,
                                        const char *column);

/* 1 when z matches ^[a-z0-9][a-z0-9.-]*$ */
int telem_contract_id_ok(const char *z);

#endif /* VOXTELEM_REGISTRY_H */
