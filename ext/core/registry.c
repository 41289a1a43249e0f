/*
 * registry.c -- the contracts registry: contracts/index.yaml and the files
 * it names, loaded from the copy embedded at build time or from a directory.
 *
 * A registry is an immutable snapshot: it is built whole or not at all, so a
 * broken directory never replaces the contracts a connection already uses.
 * Loading checks what every feature relies on:
 *   - index.yaml: each entry has id (^[a-z0-9][a-z0-9.-]*$, unique), a
 *     relative path inside the directory that exists, a known kind, owner,
 *     description and enforced_by;
 *   - every YAML contract parses; every json-schema contract is JSON;
 *   - the taxonomy and the column classes are read into tables.
 * Errors name the file and line: "contracts/index.yaml:12: ...".
 * Feature caches (compiled schemas, rules, policy) hang off ext[] and die
 * with the registry.
 */
#include "core/registry.h"
#include "core/file.h"
#include "core/yaml.h"

#include <string.h>

/* Generated at build time from contracts/ (tools/embed.c). */
typedef struct TelemEmbeddedFile {
  const char *path;
  const char *data;
  size_t len;
} TelemEmbeddedFile;
extern const TelemEmbeddedFile telem_embedded_files[];
extern const int telem_embedded_count;

static const char *const known_kinds[] = {
    "json-schema",      "taxonomy",         "column-sensitivity", "redaction-rules",
    "retention-policy", "operations-catalog", NULL};

static const char *const planes[] = {"UsageTelemetry", "Diagnostics", "ContentPersistence",
                                     "OperationalTracing", NULL};
static const char *const transmissions[] = {"local_only", "explicit_operator_export",
                                            "approved_usage_upload", NULL};

static int in_list(const char *z, const char *const *list) {
  for (; *list; list++)
    if (strcmp(z, *list) == 0) return 1;
  return 0;
}

int telem_contract_id_ok(const char *z) {
  if (!z || !((*z >= 'a' && *z <= 'z') || (*z >= '0' && *z <= '9'))) return 0;
  for (; *z; z++)
    if (!((*z >= 'a' && *z <= 'z') || (*z >= '0' && *z <= '9') || *z == '.' || *z == '-'))
      return 0;
  return 1;
}

static int metric_type_ok(const char *z) {
  size_t n = strlen(z);
  if (n == 0 || n > 128) return 0;
  for (; *z; z++)
    if (!((*z >= 'a' && *z <= 'z') || (*z >= 'A' && *z <= 'Z') || (*z >= '0' && *z <= '9') ||
          *z == '_' || *z == '.' || *z == ':' || *z == '-'))
      return 0;
  return 1;
}

/* A contract path must stay inside the contracts root. */
static int path_ok(const char *z) {
  if (!z[0] || z[0] == '/' || strstr(z, "\\")) return 0;
  for (const char *seg = z; seg;) {
    const char *slash = strchr(seg, '/');
    size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
    if (len == 0 || (len == 2 && seg[0] == '.' && seg[1] == '.') || (len == 1 && seg[0] == '.'))
      return 0;
    seg = slash ? slash + 1 : NULL;
  }
  return 1;
}

static char *dup_str(const char *z) { return z ? sqlite3_mprintf("%s", z) : NULL; }

/* ---- lifetime ------------------------------------------------------------ */

static void registry_free(TelemRegistry *r) {
  for (int i = 0; i < TELEM_EXT_COUNT; i++)
    if (r->ext[i] && r->ext_free[i]) r->ext_free[i](r->ext[i]);
  for (int i = 0; i < r->n_files; i++) {
    sqlite3_free(r->files[i].path);
    sqlite3_free(r->files[i].data);
  }
  sqlite3_free(r->files);
  for (int i = 0; i < r->n_contracts; i++) {
    TelemContract *c = &r->contracts[i];
    sqlite3_free(c->id); sqlite3_free(c->path); sqlite3_free(c->kind);
    sqlite3_free(c->owner); sqlite3_free(c->description); sqlite3_free(c->enforced_by);
    sqlite3_free(c->error);
  }
  sqlite3_free(r->contracts);
  for (int i = 0; i < r->n_taxonomy; i++) {
    TelemTaxonomyRow *t = &r->taxonomy[i];
    sqlite3_free(t->metric_type); sqlite3_free(t->family); sqlite3_free(t->sensitivity);
    sqlite3_free(t->plane); sqlite3_free(t->transmission); sqlite3_free(t->session_prefix);
    sqlite3_free(t->schema_id); sqlite3_free(t->owner); sqlite3_free(t->description);
    sqlite3_free(t->schema_pointer);
  }
  sqlite3_free(r->taxonomy);
  sqlite3_free(r->tax_slots);
  for (int i = 0; i < r->n_columns; i++) {
    sqlite3_free(r->columns[i].table);
    sqlite3_free(r->columns[i].column);
    sqlite3_free(r->columns[i].sensitivity);
  }
  sqlite3_free(r->columns);
  sqlite3_free(r->source);
  sqlite3_free(r);
}

TelemRegistry *telem_registry_ref(TelemRegistry *r) {
  if (r) r->refs++;
  return r;
}

void telem_registry_unref(TelemRegistry *r) {
  if (r && --r->refs == 0) registry_free(r);
}

/* ---- lookups ------------------------------------------------------------- */

/* Contracts with an error (foreign directories) are listed, never used. */
const TelemContract *telem_registry_contract(const TelemRegistry *r, const char *id) {
  for (int i = 0; i < r->n_contracts; i++)
    if (!r->contracts[i].error && strcmp(r->contracts[i].id, id) == 0) return &r->contracts[i];
  return NULL;
}

const TelemFile *telem_registry_file(const TelemRegistry *r, const char *path) {
  for (int i = 0; i < r->n_files; i++)
    if (strcmp(r->files[i].path, path) == 0) return &r->files[i];
  return NULL;
}

const TelemFile *telem_registry_file_by_id(const TelemRegistry *r, const char *id) {
  const TelemContract *c = telem_registry_contract(r, id);
  return c ? telem_registry_file(r, c->path) : NULL;
}

const TelemFile *telem_registry_file_by_kind(const TelemRegistry *r, const char *kind) {
  for (int i = 0; i < r->n_contracts; i++)
    if (!r->contracts[i].error && strcmp(r->contracts[i].kind, kind) == 0)
      return telem_registry_file(r, r->contracts[i].path);
  return NULL;
}

/* FNV-1a: metric types are short, and a full hash keeps probes to one. */
static uint32_t metric_hash(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

const TelemTaxonomyRow *telem_registry_metric_n(const TelemRegistry *r, const char *s, size_t n) {
  if (!r->tax_slots) return NULL;
  for (uint32_t j = metric_hash(s, n) & r->tax_mask;; j = (j + 1) & r->tax_mask) {
    uint32_t k = r->tax_slots[j];
    if (!k) return NULL;
    const TelemTaxonomyRow *t = &r->taxonomy[k - 1];
    if (strlen(t->metric_type) == n && memcmp(t->metric_type, s, n) == 0) return t;
  }
}

const TelemTaxonomyRow *telem_registry_metric(const TelemRegistry *r, const char *metric_type) {
  return telem_registry_metric_n(r, metric_type, strlen(metric_type));
}

/* Adds taxonomy row i to the index (sized for every row at load). */
static void metric_index_add(TelemRegistry *r, int i) {
  const char *mt = r->taxonomy[i].metric_type;
  uint32_t j = metric_hash(mt, strlen(mt)) & r->tax_mask;
  while (r->tax_slots[j]) j = (j + 1) & r->tax_mask;
  r->tax_slots[j] = (uint32_t)i + 1;
}

const char *telem_registry_column_class(const TelemRegistry *r, const char *table,
                                        const char *column) {
  for (int i = 0; i < r->n_columns; i++)
    if (strcmp(r->columns[i].table, table) == 0 && strcmp(r->columns[i].column, column) == 0)
      return r->columns[i].sensitivity;
  return NULL;
}

/* ---- loading ------------------------------------------------------------- */

/* The loaders below share the engines' convention (core.h): TELEM_OK, or
 * TELEM_ERROR with *pzErr naming the file and line. */

/* Field `name` of mapping `m` as a string: NULL when absent or null.  A
 * non-string value is reported as an error. */
static int field_str(json_t *m, const char *file, const char *name, int required,
                     const char **out, char **pzErr) {
  json_t *v = json_object_get(m, name);
  *out = NULL;
  if (!v || json_is_null(v)) {
    if (required) {
      telem_set_err(pzErr, "%s:%d: missing field \"%s\"", file, telem_yaml_line(m), name);
      return TELEM_ERROR;
    }
    return TELEM_OK;
  }
  if (!json_is_string(v)) {
    telem_set_err(pzErr, "%s:%d: field \"%s\" must be a string", file, telem_yaml_line(m), name);
    return TELEM_ERROR;
  }
  *out = json_string_value(v);
  return TELEM_OK;
}

/* Rejects members of m other than those in `allowed`. */
static int only_fields(json_t *m, const char *file, const char *const *allowed, char **pzErr) {
  const char *key;
  json_t *v;
  json_object_foreach(m, key, v) {
    if (telem_yaml_meta_key(key) || in_list(key, allowed)) continue;
    telem_set_err(pzErr, "%s:%d: unknown field \"%s\"", file, telem_yaml_line(m), key);
    return TELEM_ERROR;
  }
  return TELEM_OK;
}

static int load_index(TelemRegistry *r, char **pzErr) {
  static const char *const fields[] = {"id", "path", "kind", "owner", "description",
                                       "enforced_by", NULL};
  const char *file = "index.yaml";
  const TelemFile *f = telem_registry_file(r, file);
  if (!f) {
    telem_set_err(pzErr, "index.yaml: missing file");
    return TELEM_ERROR;
  }
  char *err = NULL;
  json_t *doc = telem_yaml_parse(file, f->data, f->len, &err);
  if (!doc) {
    telem_set_err(pzErr, "%s", err ? err : "index.yaml: out of memory");
    sqlite3_free(err);
    return TELEM_ERROR;
  }
  int rc = TELEM_ERROR;
  json_t *list = json_object_get(doc, "contracts");
  if (!json_is_array(list)) {
    telem_set_err(pzErr, "%s:%d: \"contracts\" must be a list", file, telem_yaml_line(doc));
    goto done;
  }
  size_t n = json_array_size(list);
  r->contracts = sqlite3_malloc64(sizeof(TelemContract) * (n ? n : 1));
  if (!r->contracts) {
    telem_set_err(pzErr, "index.yaml: out of memory");
    goto done;
  }
  memset(r->contracts, 0, sizeof(TelemContract) * (n ? n : 1));
  for (size_t i = 0; i < n; i++) {
    json_t *e = json_array_get(list, i);
    const char *id, *path, *kind, *owner, *desc, *enf;
    if (!json_is_object(e)) {
      telem_set_err(pzErr, "%s: entry %d of \"contracts\" is not a mapping", file, (int)i + 1);
      goto done;
    }
    int line = telem_yaml_line(e);
    if (only_fields(e, file, fields, pzErr) || field_str(e, file, "id", 1, &id, pzErr) ||
        field_str(e, file, "path", 1, &path, pzErr) ||
        field_str(e, file, "kind", 1, &kind, pzErr) ||
        field_str(e, file, "owner", 1, &owner, pzErr) ||
        field_str(e, file, "description", 1, &desc, pzErr) ||
        field_str(e, file, "enforced_by", 1, &enf, pzErr))
      goto done;
    if (!telem_contract_id_ok(id)) {
      telem_set_err(pzErr, "%s:%d: id \"%s\" does not match ^[a-z0-9][a-z0-9.-]*$", file, line, id);
      goto done;
    }
    if (telem_registry_contract(r, id)) {
      telem_set_err(pzErr, "%s:%d: duplicate id \"%s\"", file, line, id);
      goto done;
    }
    if (!in_list(kind, known_kinds)) {
      telem_set_err(pzErr, "%s:%d: unknown kind \"%s\" for id \"%s\"", file, line, kind, id);
      goto done;
    }
    if (!path_ok(path)) {
      telem_set_err(pzErr, "%s:%d: path \"%s\" must be relative and stay inside the contracts directory", file, line, path);
      goto done;
    }
    if (!telem_registry_file(r, path)) {
      telem_set_err(pzErr, "%s:%d: missing file \"%s\" for id \"%s\"", file, line, path, id);
      goto done;
    }
    TelemContract *c = &r->contracts[r->n_contracts++];
    c->id = dup_str(id); c->path = dup_str(path); c->kind = dup_str(kind);
    c->owner = dup_str(owner); c->description = dup_str(desc); c->enforced_by = dup_str(enf);
    if (!c->id || !c->path || !c->kind || !c->owner || !c->description || !c->enforced_by) {
      telem_set_err(pzErr, "index.yaml: out of memory");
      goto done;
    }
  }
  rc = TELEM_OK;
done:
  json_decref(doc);
  return rc;
}

static int load_taxonomy(TelemRegistry *r, const TelemContract *c, json_t *doc, char **pzErr) {
  static const char *const fields[] = {"metric_type", "family", "sensitivity", "plane",
                                       "transmission", "session_prefix", "schema",
                                       "schema_pointer", "owner", "description", NULL};
  const char *file = c->path;
  json_t *list = json_object_get(doc, "metric_types");
  if (!json_is_array(list)) {
    telem_set_err(pzErr, "%s:%d: \"metric_types\" must be a list", file, telem_yaml_line(doc));
    return TELEM_ERROR;
  }
  if (r->taxonomy) { /* not n_taxonomy: the first one may be empty */
    telem_set_err(pzErr, "%s: only one taxonomy contract is allowed", file);
    return TELEM_ERROR;
  }
  size_t n = json_array_size(list);
  r->taxonomy = sqlite3_malloc64(sizeof(TelemTaxonomyRow) * (n ? n : 1));
  if (!r->taxonomy) {
    telem_set_err(pzErr, "%s: out of memory", file);
    return TELEM_ERROR;
  }
  memset(r->taxonomy, 0, sizeof(TelemTaxonomyRow) * (n ? n : 1));
  uint32_t cap = 16; /* load factor <= 1/2 */
  while (cap < 2 * n + 2) cap <<= 1;
  if (!(r->tax_slots = sqlite3_malloc64(sizeof(uint32_t) * cap))) {
    telem_set_err(pzErr, "%s: out of memory", file);
    return TELEM_ERROR;
  }
  memset(r->tax_slots, 0, sizeof(uint32_t) * cap);
  r->tax_mask = cap - 1;
  for (size_t i = 0; i < n; i++) {
    json_t *e = json_array_get(list, i);
    const char *mt, *fam, *sens, *plane, *tx, *prefix, *schema, *ptr, *owner, *desc;
    if (!json_is_object(e)) {
      telem_set_err(pzErr, "%s: entry %d of \"metric_types\" is not a mapping", file, (int)i + 1);
      return TELEM_ERROR;
    }
    int line = telem_yaml_line(e);
    if (only_fields(e, file, fields, pzErr) ||
        field_str(e, file, "metric_type", 1, &mt, pzErr) ||
        field_str(e, file, "family", 1, &fam, pzErr) ||
        field_str(e, file, "sensitivity", 1, &sens, pzErr) ||
        field_str(e, file, "plane", 1, &plane, pzErr) ||
        field_str(e, file, "transmission", 1, &tx, pzErr) ||
        field_str(e, file, "session_prefix", 0, &prefix, pzErr) ||
        field_str(e, file, "schema", 0, &schema, pzErr) ||
        field_str(e, file, "schema_pointer", 0, &ptr, pzErr) ||
        field_str(e, file, "owner", 1, &owner, pzErr) ||
        field_str(e, file, "description", 1, &desc, pzErr))
      return TELEM_ERROR;
    if (!metric_type_ok(mt)) {
      telem_set_err(pzErr, "%s:%d: metric_type \"%s\" must be 1..128 of [A-Za-z0-9_.:-]", file, line, mt);
      return TELEM_ERROR;
    }
    if (telem_registry_metric(r, mt)) {
      telem_set_err(pzErr, "%s:%d: duplicate metric_type \"%s\"", file, line, mt);
      return TELEM_ERROR;
    }
    if (telem_class_rank(sens) < 0) {
      telem_set_err(pzErr, "%s:%d: sensitivity \"%s\" of \"%s\" is not one of S0, S1, S2, S3", file, line, sens, mt);
      return TELEM_ERROR;
    }
    if (!in_list(plane, planes)) {
      telem_set_err(pzErr, "%s:%d: unknown plane \"%s\" for \"%s\"", file, line, plane, mt);
      return TELEM_ERROR;
    }
    if (!in_list(tx, transmissions)) {
      telem_set_err(pzErr, "%s:%d: unknown transmission \"%s\" for \"%s\"", file, line, tx, mt);
      return TELEM_ERROR;
    }
    if (schema) {
      const TelemContract *sc = telem_registry_contract(r, schema);
      if (!sc || strcmp(sc->kind, "json-schema") != 0) {
        telem_set_err(pzErr, "%s:%d: schema \"%s\" of \"%s\" is not a json-schema contract in index.yaml", file, line, schema, mt);
        return TELEM_ERROR;
      }
    }
    if (ptr && ptr[0] && ptr[0] != '/') {
      telem_set_err(pzErr, "%s:%d: schema_pointer of \"%s\" must be \"\" or a JSON Pointer starting with /", file, line, mt);
      return TELEM_ERROR;
    }
    if (ptr && ptr[0] && !schema) {
      telem_set_err(pzErr, "%s:%d: schema_pointer of \"%s\" needs a schema", file, line, mt);
      return TELEM_ERROR;
    }
    TelemTaxonomyRow *t = &r->taxonomy[r->n_taxonomy++];
    t->cls = telem_class_rank(sens);
    t->schema_pointer = ptr && ptr[0] ? dup_str(ptr) : NULL;
    if (ptr && ptr[0] && !t->schema_pointer) {
      telem_set_err(pzErr, "%s: out of memory", file);
      return TELEM_ERROR;
    }
    t->metric_type = dup_str(mt); t->family = dup_str(fam); t->sensitivity = dup_str(sens);
    t->plane = dup_str(plane); t->transmission = dup_str(tx);
    t->session_prefix = dup_str(prefix); t->schema_id = dup_str(schema);
    t->owner = dup_str(owner); t->description = dup_str(desc);
    if (!t->metric_type || !t->family || !t->sensitivity || !t->plane || !t->transmission ||
        (prefix && !t->session_prefix) || (schema && !t->schema_id) || !t->owner ||
        !t->description) {
      telem_set_err(pzErr, "%s: out of memory", file);
      return TELEM_ERROR;
    }
    metric_index_add(r, r->n_taxonomy - 1);
  }
  return TELEM_OK;
}

static int load_columns(TelemRegistry *r, const TelemContract *c, json_t *doc, char **pzErr) {
  const char *file = c->path;
  json_t *tables = json_object_get(doc, "tables");
  if (!json_is_object(tables)) {
    telem_set_err(pzErr, "%s:%d: \"tables\" must be a mapping", file, telem_yaml_line(doc));
    return TELEM_ERROR;
  }
  size_t total = 0;
  const char *tname, *cname;
  json_t *cols, *cls;
  json_object_foreach(tables, tname, cols) {
    if (telem_yaml_meta_key(tname)) continue;
    if (!json_is_object(cols)) {
      telem_set_err(pzErr, "%s:%d: table \"%s\" must map columns to classes", file, telem_yaml_line(tables), tname);
      return TELEM_ERROR;
    }
    total += json_object_size(cols);
  }
  TelemColumnClass *arr = sqlite3_realloc64(r->columns, sizeof(*arr) * (r->n_columns + total + 1));
  if (!arr) {
    telem_set_err(pzErr, "%s: out of memory", file);
    return TELEM_ERROR;
  }
  r->columns = arr;
  json_object_foreach(tables, tname, cols) {
    if (telem_yaml_meta_key(tname)) continue;
    json_object_foreach(cols, cname, cls) {
      if (telem_yaml_meta_key(cname)) continue;
      const char *z = json_is_string(cls) ? json_string_value(cls) : NULL;
      if (telem_class_rank(z) < 0) {
        telem_set_err(pzErr, "%s:%d: class of %s.%s must be one of S0, S1, S2, S3", file, telem_yaml_line(cols), tname, cname);
        return TELEM_ERROR;
      }
      if (telem_registry_column_class(r, tname, cname)) {
        telem_set_err(pzErr, "%s:%d: duplicate column %s.%s", file, telem_yaml_line(cols), tname, cname);
        return TELEM_ERROR;
      }
      TelemColumnClass *cc = &r->columns[r->n_columns++];
      cc->table = dup_str(tname); cc->column = dup_str(cname); cc->sensitivity = dup_str(z);
      if (!cc->table || !cc->column || !cc->sensitivity) {
        telem_set_err(pzErr, "%s: out of memory", file);
        return TELEM_ERROR;
      }
    }
  }
  return TELEM_OK;
}

/* Parses each contract by its kind: YAML kinds must parse (and the taxonomy
 * and column classes are read); json-schema contracts must be JSON objects
 * or booleans. */
static int load_contracts(TelemRegistry *r, char **pzErr) {
  for (int i = 0; i < r->n_contracts; i++) {
    const TelemContract *c = &r->contracts[i];
    const TelemFile *f = telem_registry_file(r, c->path);
    if (strcmp(c->kind, "json-schema") == 0) {
      json_error_t je;
      json_t *doc = json_loadb(f->data, f->len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
      if (!doc) {
        telem_set_err(pzErr, "%s:%d:%d: %s", c->path, je.line, je.column, je.text);
        return TELEM_ERROR;
      }
      int shape_ok = json_is_object(doc) || json_is_boolean(doc);
      json_decref(doc);
      if (!shape_ok) {
        telem_set_err(pzErr, "%s:1: a JSON Schema must be an object or a boolean", c->path);
        return TELEM_ERROR;
      }
      continue;
    }
    char *err = NULL;
    json_t *doc = telem_yaml_parse(c->path, f->data, f->len, &err);
    if (!doc) {
      telem_set_err(pzErr, "%s", err ? err : "out of memory");
      sqlite3_free(err);
      return TELEM_ERROR;
    }
    int rc = TELEM_OK;
    if (!json_is_object(doc)) {
      telem_set_err(pzErr, "%s:1: the document must be a mapping", c->path);
      rc = TELEM_ERROR;
    } else if (strcmp(c->kind, "taxonomy") == 0) {
      rc = load_taxonomy(r, c, doc, pzErr);
    } else if (strcmp(c->kind, "column-sensitivity") == 0) {
      rc = load_columns(r, c, doc, pzErr);
    }
    json_decref(doc);
    if (rc != TELEM_OK) return TELEM_ERROR;
  }
  return TELEM_OK;
}

TelemRegistry *telem_registry_load_files(const char *source, const TelemFile *files, int n,
                                         char **pzErr) {
  TelemRegistry *r = sqlite3_malloc64(sizeof(*r));
  if (!r) {
    telem_set_oom(pzErr);
    return NULL;
  }
  memset(r, 0, sizeof(*r));
  r->refs = 1;
  r->source = dup_str(source);
  r->files = sqlite3_malloc64(sizeof(TelemFile) * (size_t)(n ? n : 1));
  if (!r->source || !r->files) goto oom;
  for (int i = 0; i < n; i++) {
    TelemFile *f = &r->files[r->n_files];
    f->path = dup_str(files[i].path);
    f->data = sqlite3_malloc64(files[i].len + 1);
    if (!f->path || !f->data) {
      sqlite3_free(f->path);
      sqlite3_free(f->data);
      goto oom;
    }
    memcpy(f->data, files[i].data, files[i].len);
    f->data[files[i].len] = 0;
    f->len = files[i].len;
    r->n_files++;
  }
  if (load_index(r, pzErr) || load_contracts(r, pzErr)) {
    registry_free(r);
    return NULL;
  }
  return r;
oom:
  telem_set_oom(pzErr);
  registry_free(r);
  return NULL;
}

TelemRegistry *telem_registry_embedded(char **pzErr) {
  TelemFile *files = sqlite3_malloc64(sizeof(TelemFile) * (size_t)(telem_embedded_count + 1));
  if (!files) {
    telem_set_oom(pzErr);
    return NULL;
  }
  for (int i = 0; i < telem_embedded_count; i++) {
    /* Borrowed views: telem_registry_load_files copies them. */
    files[i].path = (char *)telem_embedded_files[i].path;
    files[i].data = (char *)telem_embedded_files[i].data;
    files[i].len = telem_embedded_files[i].len;
  }
  TelemRegistry *r = telem_registry_load_files("embedded", files, telem_embedded_count, pzErr);
  sqlite3_free(files);
  return r;
}

/* Reads rel beneath the contracts root (file.c: no link followed, only a
 * regular file of at most TELEM_MAX_CONTRACT_FILE bytes).  On failure
 * *pzErr names rel ("out of memory" when the reader set none). */
static char *read_file(int root, const char *rel, size_t *len, char **pzErr) {
  char *err = NULL;
  char *data = telem_file_read_beneath(root, rel, TELEM_MAX_CONTRACT_FILE, len, &err);
  if (!data) {
    if (err) telem_set_err(pzErr, "%s", err);
    else telem_set_err(pzErr, "%.200s: out of memory", rel);
    sqlite3_free(err);
  }
  return data;
}

/* ---- foreign contracts directories (Vox's index format) ------------------- */

/* Vox's contracts/index.yaml (vox-foundation/vox) differs from ours:
 *   schema_version: 1          a top-level version
 *   path: contracts/x/y.json   relative to the repository root
 *   enforced_by: [a, b]        a list
 *   kind: yaml | json | json-schema | openapi-yaml
 * A directory whose index looks like that is read leniently, for the people
 * who point voxtelem at a Vox checkout: every entry becomes a row of
 * telem_contracts; an entry that cannot be used (unknown kind, a path
 * outside the directory, a missing, huge or malformed file, a duplicate or
 * ill-formed id) gets its `error` and is left out of every lookup; the rest
 * load.  YAML contracts must parse, json and json-schema ones must be JSON
 * (a json-schema an object or boolean).  Our own format stays strict. */

static const char *const foreign_kinds[] = {"json-schema", "json", "yaml", "openapi-yaml", NULL};

/* 1 when the parsed index is in Vox's format rather than ours. */
static int index_is_foreign(json_t *doc, const char *base) {
  if (json_object_get(doc, "schema_version")) return 1;
  json_t *list = json_object_get(doc, "contracts");
  size_t n = json_is_array(list) ? json_array_size(list) : 0;
  size_t bl = strlen(base);
  for (size_t i = 0; i < n; i++) {
    json_t *e = json_array_get(list, i);
    if (json_is_array(json_object_get(e, "enforced_by"))) return 1;
    json_t *p = json_object_get(e, "path");
    const char *z = json_is_string(p) ? json_string_value(p) : NULL;
    if (z && bl && strncmp(z, base, bl) == 0 && z[bl] == '/') return 1;
  }
  return 0;
}

/* A field as text: strings as they are, a list of strings joined with ", ",
 * anything else NULL.  sqlite3 memory. */
static char *foreign_text(json_t *v) {
  if (json_is_string(v)) return dup_str(json_string_value(v));
  if (!json_is_array(v)) return NULL;
  TelemBuf b;
  telem_buf_init(&b);
  size_t i;
  json_t *x;
  json_array_foreach(v, i, x) {
    if (!json_is_string(x)) continue;
    if (b.len) telem_buf_puts(&b, ", ");
    telem_buf_puts(&b, json_string_value(x));
  }
  if (!b.len) telem_buf_puts(&b, "");
  return telem_buf_take(&b);
}

/* Checks one foreign contract's bytes by kind; NULL when usable, else the
 * problem (sqlite3 memory). */
static char *foreign_check(const char *kind, const char *rel, const char *data, size_t len) {
  if (!strcmp(kind, "json-schema") || !strcmp(kind, "json")) {
    json_error_t je;
    json_t *doc = json_loadb(data, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!doc) return sqlite3_mprintf("%d:%d: %s", je.line, je.column, je.text);
    int ok = strcmp(kind, "json-schema") || json_is_object(doc) || json_is_boolean(doc);
    json_decref(doc);
    return ok ? NULL : sqlite3_mprintf("a JSON Schema must be an object or a boolean");
  }
  char *err = NULL;
  json_t *doc = telem_yaml_parse(rel, data, len, &err);
  if (!doc) return err ? err : sqlite3_mprintf("out of memory");
  json_decref(doc);
  return NULL;
}

/* Builds the registry of a foreign directory from its parsed index. */
static TelemRegistry *registry_load_foreign(const char *dir, int root, const char *base,
                                            json_t *doc, char *index, size_t index_len,
                                            char **pzErr) {
  TelemRegistry *r = sqlite3_malloc64(sizeof(*r));
  if (!r) goto oom0;
  memset(r, 0, sizeof(*r));
  r->refs = 1;
  r->source = dup_str(dir);
  json_t *list = json_object_get(doc, "contracts");
  size_t n = json_is_array(list) ? json_array_size(list) : 0;
  r->files = sqlite3_malloc64(sizeof(TelemFile) * (n + 1));
  r->contracts = sqlite3_malloc64(sizeof(TelemContract) * (n + 1));
  if (!r->source || !r->files || !r->contracts) goto oom;
  memset(r->contracts, 0, sizeof(TelemContract) * (n + 1));
  /* index.yaml itself, as a file of the registry */
  r->files[0].path = dup_str("index.yaml");
  r->files[0].data = sqlite3_malloc64(index_len + 1);
  if (!r->files[0].path || !r->files[0].data) {
    sqlite3_free(r->files[0].path);
    sqlite3_free(r->files[0].data);
    goto oom;
  }
  memcpy(r->files[0].data, index, index_len);
  r->files[0].data[index_len] = 0;
  r->files[0].len = index_len;
  r->n_files = 1;
  size_t bl = strlen(base);
  for (size_t i = 0; i < n; i++) {
    json_t *e = json_array_get(list, i);
    TelemContract *c = &r->contracts[r->n_contracts++];
    json_t *jid = json_object_get(e, "id"), *jpath = json_object_get(e, "path");
    json_t *jkind = json_object_get(e, "kind");
    const char *id = json_is_string(jid) ? json_string_value(jid) : NULL;
    const char *path = json_is_string(jpath) ? json_string_value(jpath) : NULL;
    const char *kind = json_is_string(jkind) ? json_string_value(jkind) : NULL;
    c->id = id ? dup_str(id) : sqlite3_mprintf("#%d", (int)i + 1);
    c->kind = dup_str(kind ? kind : "");
    c->owner = foreign_text(json_object_get(e, "owner"));
    c->description = foreign_text(json_object_get(e, "description"));
    c->enforced_by = foreign_text(json_object_get(e, "enforced_by"));
    /* paths are relative to the repository root: "<base>/rest" -> "rest" */
    const char *rel = path;
    if (rel && bl && strncmp(rel, base, bl) == 0 && rel[bl] == '/') rel += bl + 1;
    c->path = dup_str(rel ? rel : "");
    if (!c->id || !c->kind || !c->path) goto oom;
    int line = json_is_object(e) ? telem_yaml_line(e) : 0;
    if (!json_is_object(e)) c->error = sqlite3_mprintf("index.yaml: entry %d is not a mapping", (int)i + 1);
    else if (!id || !telem_contract_id_ok(id))
      c->error = sqlite3_mprintf("index.yaml:%d: id must match ^[a-z0-9][a-z0-9.-]*$", line);
    else {
      for (int k = 0; k < r->n_contracts - 1 && !c->error; k++)
        if (!r->contracts[k].error && strcmp(r->contracts[k].id, id) == 0)
          c->error = sqlite3_mprintf("index.yaml:%d: duplicate id", line);
    }
    if (c->error) continue;
    if (!kind || !in_list(kind, foreign_kinds))
      c->error = sqlite3_mprintf("index.yaml:%d: kind not read by voxtelem (listed only)", line);
    else if (!path || !path_ok(rel) || rel == path)
      c->error = sqlite3_mprintf("index.yaml:%d: path is not inside this contracts directory", line);
    if (c->error) continue;
    const TelemFile *have = telem_registry_file(r, rel);
    if (!have) {
      char *ferr = NULL;
      size_t len = 0;
      char *data = read_file(root, rel, &len, &ferr);
      if (!data) {
        c->error = ferr ? ferr : sqlite3_mprintf("unreadable");
        continue;
      }
      sqlite3_free(ferr);
      char *bad = foreign_check(kind, rel, data, len);
      if (bad) {
        c->error = bad;
        sqlite3_free(data);
        continue;
      }
      TelemFile *f = &r->files[r->n_files];
      f->path = dup_str(rel);
      if (!f->path) {
        sqlite3_free(data);
        goto oom;
      }
      f->data = data;
      f->len = len;
      r->n_files++;
    }
  }
  return r;
oom:
  registry_free(r);
oom0:
  telem_set_oom(pzErr);
  return NULL;
}

TelemRegistry *telem_registry_load_dir(const char *dir, char **pzErr) {
  /* Read index.yaml first to learn which files to read; the registry is
   * then validated as a whole by telem_registry_load_files. */
  TelemFile *files = NULL;
  int n = 0;
  TelemRegistry *r = NULL;
  json_t *doc = NULL;
  char *err = NULL;
  size_t len = 0;
  /* One descriptor for the root, opened once: every file is read beneath
   * the same directory even if the path is renamed meanwhile. */
  int root = telem_file_open_root(dir, pzErr);
  if (root < 0) return NULL;
  char *index = read_file(root, "index.yaml", &len, pzErr);
  if (!index) {
    telem_file_close(root);
    /* Name the directory: nothing of it could be read. */
    if (pzErr) {
      char *msg = sqlite3_mprintf("%.200s/%s", dir, *pzErr ? *pzErr : "index.yaml: unreadable");
      sqlite3_free(*pzErr);
      *pzErr = msg;
    }
    return NULL;
  }
  doc = telem_yaml_parse("index.yaml", index, len, &err);
  if (!doc) {
    telem_set_err(pzErr, "%s", err ? err : "index.yaml: out of memory");
    goto done;
  }
  {
    /* the directory's own name: Vox's paths start with it ("contracts/...") */
    const char *end = dir + strlen(dir);
    while (end > dir && end[-1] == '/') end--;
    const char *start = end;
    while (start > dir && start[-1] != '/') start--;
    char *base = sqlite3_mprintf("%.*s", (int)(end - start), start);
    if (!base) {
      telem_set_oom(pzErr);
      goto done;
    }
    if (index_is_foreign(doc, base)) {
      r = registry_load_foreign(dir, root, base, doc, index, len, pzErr);
      sqlite3_free(base);
      goto done;
    }
    sqlite3_free(base);
  }
  json_t *list = json_object_get(doc, "contracts");
  size_t count = json_is_array(list) ? json_array_size(list) : 0;
  files = sqlite3_malloc64(sizeof(TelemFile) * (count + 1));
  if (!files) {
    telem_set_oom(pzErr);
    goto done;
  }
  files[n].path = (char *)"index.yaml";
  files[n].data = index;
  files[n].len = len;
  n++;
  for (size_t i = 0; i < count; i++) {
    json_t *e = json_array_get(list, i);
    json_t *p = json_object_get(e, "path");
    const char *rel = json_is_string(p) ? json_string_value(p) : NULL;
    if (!rel || !path_ok(rel)) continue; /* reported with its line by load_index */
    int seen = 0;
    for (int k = 0; k < n; k++) seen |= strcmp(files[k].path, rel) == 0;
    if (seen) continue;
    char *why = NULL;
    files[n].data = read_file(root, rel, &files[n].len, &why);
    if (!files[n].data) {
      /* Name the index line too: the missing file is an index problem. */
      telem_set_err(pzErr, "index.yaml:%d: %s", telem_yaml_line(e), why ? why : "out of memory");
      sqlite3_free(why);
      goto done;
    }
    files[n].path = (char *)rel;
    n++;
  }
  r = telem_registry_load_files(dir, files, n, pzErr);
done:
  telem_file_close(root);
  if (files)
    for (int k = 1; k < n; k++) sqlite3_free(files[k].data);
  sqlite3_free(files);
  sqlite3_free(index);
  sqlite3_free(err);
  json_decref(doc);
  return r;
}
