/*
 * yamlload.c -- YAML contract files into jansson values.
 *
 * Every YAML file the project reads (the registry index, taxonomy, column
 * classes, redaction rules, retention policy) goes through here, so the
 * hostile-input rules live in one place:
 *   - libyaml checks the encoding (non-UTF-8 bytes are an error with a line);
 *   - nesting is limited to YAML_MAX_DEPTH;
 *   - aliases may not expand to more than YAML_MAX_EXPANSION nodes in all,
 *     nor number more than TELEM_YAML_MAX_ALIASES (alias bombs);
 *   - only one document per file.
 * Scalars become strings, except plain `null`, `~` and empty scalars, which
 * become JSON null.  Each mapping carries its source line in a hidden member
 * (TELEM_YAML_LINE_KEY) so loaders can name the line of a bad entry.
 */
#include "core/yaml.h"

#include <string.h>
#include <yaml.h>

#define YAML_MAX_DEPTH 64
#define YAML_MAX_EXPANSION 100000

typedef struct Anchor {
  char *name;   /* sqlite3 memory */
  json_t *value; /* reference held */
  size_t nodes; /* size of the value, for expansion accounting */
} Anchor;

typedef struct Frame {
  json_t *value;  /* container under construction (borrowed from parent) */
  char *key;      /* pending mapping key (sqlite3 memory), or NULL */
  char *anchor;   /* anchor of this container, registered when it closes */
  size_t nodes;   /* nodes inside, for anchors */
} Frame;

typedef struct YamlLoad {
  const char *name;
  char **pzErr;
  Frame stack[YAML_MAX_DEPTH + 1];
  int depth;
  Anchor *anchors;
  int n_anchors, cap_anchors;
  int n_aliases;
  size_t expansion;
  json_t *root;
} YamlLoad;

static int load_fail(YamlLoad *L, const yaml_mark_t *m, const char *what) {
  if (!*L->pzErr)
    telem_set_err(L->pzErr, "%s:%d:%d: %s", L->name, (int)m->line + 1, (int)m->column + 1, what);
  return 0;
}

static int remember_anchor(YamlLoad *L, const char *name, json_t *v, size_t nodes,
                           const yaml_mark_t *m) {
  if (L->n_anchors == L->cap_anchors) {
    int cap = L->cap_anchors ? L->cap_anchors * 2 : 8;
    Anchor *a = sqlite3_realloc64(L->anchors, sizeof(*a) * (size_t)cap);
    if (!a) return load_fail(L, m, "out of memory");
    L->anchors = a;
    L->cap_anchors = cap;
  }
  char *copy = sqlite3_mprintf("%s", name);
  if (!copy) return load_fail(L, m, "out of memory");
  L->anchors[L->n_anchors].name = copy;
  L->anchors[L->n_anchors].value = json_incref(v);
  L->anchors[L->n_anchors].nodes = nodes;
  L->n_anchors++;
  return 1;
}

/* Attaches v (reference taken over) to the current container or as root. */
static int attach(YamlLoad *L, json_t *v, size_t nodes, const yaml_mark_t *m) {
  if (!v) return load_fail(L, m, "out of memory");
  if (L->depth == 0) {
    if (L->root) {
      json_decref(v);
      return load_fail(L, m, "more than one document");
    }
    L->root = v;
    return 1;
  }
  Frame *f = &L->stack[L->depth - 1];
  f->nodes += nodes;
  if (json_is_array(f->value)) {
    if (json_array_append_new(f->value, v)) return load_fail(L, m, "out of memory");
    return 1;
  }
  if (!f->key) {
    /* v is a key: it must be a string scalar. */
    if (!json_is_string(v)) {
      json_decref(v);
      return load_fail(L, m, "mapping keys must be scalars");
    }
    const char *k = json_string_value(v);
    if (k[0] == TELEM_YAML_LINE_KEY[0]) {
      json_decref(v);
      return load_fail(L, m, "mapping key starts with a control character");
    }
    f->key = sqlite3_mprintf("%s", k);
    json_decref(v);
    if (!f->key) return load_fail(L, m, "out of memory");
    if (json_object_get(f->value, f->key)) {
      char *msg = sqlite3_mprintf("duplicate key \"%s\"", f->key);
      load_fail(L, m, msg ? msg : "duplicate key");
      sqlite3_free(msg);
      return 0;
    }
    return 1;
  }
  int rc = json_object_set_new(f->value, f->key, v);
  sqlite3_free(f->key);
  f->key = NULL;
  if (rc) return load_fail(L, m, "out of memory");
  return 1;
}

static json_t *scalar_value(const yaml_event_t *ev) {
  const char *s = (const char *)ev->data.scalar.value;
  size_t n = ev->data.scalar.length;
  if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag &&
      (n == 0 || (n == 1 && s[0] == '~') || (n == 4 && memcmp(s, "null", 4) == 0) ||
       (n == 4 && memcmp(s, "Null", 4) == 0) || (n == 4 && memcmp(s, "NULL", 4) == 0)))
    return json_null();
  /* jansson accepts an embedded NUL, but every loader reads values and keys
   * as C strings: refuse it rather than cut the scalar short. */
  if (memchr(s, 0, n)) return NULL;
  return json_stringn(s, n); /* NULL for embedded NUL or bad UTF-8: reported by caller */
}

static int open_container(YamlLoad *L, json_t *v, const char *anchor, const yaml_mark_t *m) {
  if (!v) return load_fail(L, m, "out of memory");
  if (L->depth >= YAML_MAX_DEPTH) {
    json_decref(v);
    return load_fail(L, m, "nesting too deep");
  }
  Frame *f = &L->stack[L->depth];
  memset(f, 0, sizeof(*f));
  f->value = v;
  if (anchor && !(f->anchor = sqlite3_mprintf("%s", anchor))) {
    json_decref(v);
    return load_fail(L, m, "out of memory");
  }
  if (json_is_object(v)) {
    json_t *line = json_integer((json_int_t)m->line + 1);
    if (!line || json_object_set_new(v, TELEM_YAML_LINE_KEY, line)) {
      sqlite3_free(f->anchor);
      json_decref(v);
      return load_fail(L, m, "out of memory");
    }
  }
  L->depth++;
  return 1;
}

static int close_container(YamlLoad *L, const yaml_mark_t *m) {
  Frame f = L->stack[--L->depth];
  sqlite3_free(f.key);
  int ok = 1;
  if (f.anchor) {
    ok = remember_anchor(L, f.anchor, f.value, f.nodes + 1, m);
    sqlite3_free(f.anchor);
  }
  if (!ok) {
    json_decref(f.value);
    return 0;
  }
  return attach(L, f.value, f.nodes + 1, m);
}

static int on_event(YamlLoad *L, yaml_event_t *ev) {
  const yaml_mark_t *m = &ev->start_mark;
  switch (ev->type) {
    case YAML_SCALAR_EVENT: {
      json_t *v = scalar_value(ev);
      if (!v) return load_fail(L, m, "scalar holds a NUL byte or invalid UTF-8");
      if (ev->data.scalar.anchor && !remember_anchor(L, (const char *)ev->data.scalar.anchor, v, 1, m)) {
        json_decref(v);
        return 0;
      }
      return attach(L, v, 1, m);
    }
    case YAML_SEQUENCE_START_EVENT:
      return open_container(L, json_array(), (const char *)ev->data.sequence_start.anchor, m);
    case YAML_MAPPING_START_EVENT:
      return open_container(L, json_object(), (const char *)ev->data.mapping_start.anchor, m);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
      return close_container(L, m);
    case YAML_ALIAS_EVENT: {
      const char *name = (const char *)ev->data.alias.anchor;
      if (++L->n_aliases > TELEM_YAML_MAX_ALIASES)
        return load_fail(L, m, "too many aliases");
      for (int i = L->n_anchors - 1; i >= 0; i--) {
        if (strcmp(L->anchors[i].name, name) != 0) continue;
        L->expansion += L->anchors[i].nodes;
        if (L->expansion > YAML_MAX_EXPANSION) return load_fail(L, m, "aliases expand too far");
        /* A deep copy keeps later edits of one use from showing in another. */
        return attach(L, json_deep_copy(L->anchors[i].value), L->anchors[i].nodes, m);
      }
      return load_fail(L, m, "unknown alias");
    }
    default:
      return 1; /* stream/document start and end */
  }
}

json_t *telem_yaml_parse(const char *name, const char *text, size_t n, char **pzErr) {
  yaml_parser_t parser;
  YamlLoad L;
  int done = 0, ok = 1;
  memset(&L, 0, sizeof(L));
  L.name = name;
  L.pzErr = pzErr;
  if (!yaml_parser_initialize(&parser)) {
    telem_set_err(pzErr, "%s: out of memory", name);
    return NULL;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, n);
  while (ok && !done) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      yaml_mark_t mk = parser.problem_mark;
      telem_set_err(pzErr, "%s:%d:%d: %s", name, (int)mk.line + 1, (int)mk.column + 1,
                    parser.problem ? parser.problem : "YAML syntax error");
      ok = 0;
      break;
    }
    done = ev.type == YAML_STREAM_END_EVENT;
    ok = on_event(&L, &ev);
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  while (L.depth > 0) {
    Frame *f = &L.stack[--L.depth];
    sqlite3_free(f->key);
    sqlite3_free(f->anchor);
    json_decref(f->value); /* open containers are not attached to a parent yet */
  }
  for (int i = 0; i < L.n_anchors; i++) {
    sqlite3_free(L.anchors[i].name);
    json_decref(L.anchors[i].value);
  }
  sqlite3_free(L.anchors);
  if (!ok) {
    json_decref(L.root);
    return NULL;
  }
  if (!L.root) {
    telem_set_err(pzErr, "%s:1:1: empty document", name);
    return NULL;
  }
  return L.root;
}

int telem_yaml_line(json_t *v) {
  json_t *line = json_object_get(v, TELEM_YAML_LINE_KEY);
  return json_is_integer(line) ? (int)json_integer_value(line) : 0;
}

const char *telem_yaml_unknown_field(json_t *m, const char *const *known) {
  const char *key;
  json_t *v;
  telem_yaml_foreach(m, key, v) {
    int ok = 0;
    for (int i = 0; known[i] && !ok; i++) ok = strcmp(key, known[i]) == 0;
    if (!ok) return key;
  }
  return NULL;
}
