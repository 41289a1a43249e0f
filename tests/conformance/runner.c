/*
 * runner.c -- conformance runner for the JSON Schema engine and the
 * data-path JSON parser.  Built by `make conformance`, run by `make test`.
 *
 *   build/conformance [-v] [-d DRAFT]
 *
 * The JSON Schema test suite of each draft (draft4, draft6, draft7,
 * draft2019-09, draft2020-12) is looked for in
 *   1. ${VOXTELEM_CONFORMANCE:-../shared/conformance}/json-schema-test-suite/tests/<draft>/
 *   2. ${VOXTELEM_JSTS}/tests/<draft>/ (a checkout of
 *      json-schema-org/JSON-Schema-Test-Suite: the drafts the shared copy
 *      lacks)
 * and a draft found in neither is skipped with one line saying so.  The
 * required tests (the top level, not optional/) run with the suite's
 * remotes/ registered under http://localhost:1234/ and the meta-schemas of
 * contracts/meta/ under their own URIs (run from the repository root); the
 * draft of a suite is its folder's (passed as the set's default draft).
 * Fails below 99.5% per draft.  optional/format/ runs with format as an
 * assertion (TELEM_SCHEMA_FORMAT_ASSERT) and fails below 95% per draft.
 *   json-parsing-test-suite/test_parsing/: every y_ file must parse, every
 *     n_ file must be rejected, i_ files must not crash.  Any miss fails.
 * Test files are read with the data-path parser, so big numbers stay exact.
 * -v lists every failing test; -d runs one draft only.
 */
#define _POSIX_C_SOURCE 200809L
#include "engine/schema.h"
#include "core/registry.h"
#include "voxtelem.h"
#include "../conformance/howto.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int verbose;

static char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *p = malloc((size_t)len + 1);
  if (p && fread(p, 1, (size_t)len, f) != (size_t)len) {
    free(p);
    p = NULL;
  }
  fclose(f);
  if (p) {
    p[len] = 0;
    *n = (size_t)len;
  }
  return p;
}

static int name_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of dir's entries ending in suffix (NULL-terminated). */
static char **list_dir(const char *dir, const char *suffix, int *count) {
  DIR *d = opendir(dir);
  *count = 0;
  if (!d) return NULL;
  char **v = NULL;
  int n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    size_t l = strlen(e->d_name), sl = strlen(suffix);
    if (l < sl || strcmp(e->d_name + l - sl, suffix)) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      v = realloc(v, (size_t)cap * sizeof *v);
    }
    v[n++] = strdup(e->d_name);
  }
  closedir(d);
  if (n) qsort(v, (size_t)n, sizeof *v, name_cmp);
  *count = n;
  return v;
}

static void free_list(char **v, int n) {
  for (int i = 0; i < n; i++) free(v[i]);
  free(v);
}

/* Registers every *.json under dir as http://localhost:1234/<rel>. */
static void add_remotes(TelemSchemaSet *set, const char *dir, const char *rel) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[4096], r[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    snprintf(r, sizeof r, "%s%s", rel, e->d_name);
    struct stat st;
    if (stat(path, &st)) continue;
    if (S_ISDIR(st.st_mode)) {
      strncat(r, "/", sizeof r - strlen(r) - 1);
      add_remotes(set, path, r);
      continue;
    }
    size_t l = strlen(e->d_name);
    if (l < 5 || strcmp(e->d_name + l - 5, ".json")) continue;
    size_t n;
    char *text = slurp(path, &n);
    if (!text) continue;
    char uri[4200], *err = NULL;
    snprintf(uri, sizeof uri, "http://localhost:1234/%s", r);
    if (telem_schema_set_add(set, uri, text, n, &err) && verbose)
      printf("  remote %s not loaded: %s\n", r, err);
    sqlite3_free(err);
    free(text);
  }
  closedir(d);
}

/* Registers the project's meta-schemas (contracts/meta/, named by their
 * own "$id"s), as the SQL functions do through the contracts registry. */
static void add_meta(TelemSchemaSet *set, const char *dir) {
  int n;
  /* vocabulary meta-schemas (draft2019-09/, draft2020-12/) first */
  char **subs = list_dir(dir, "", &n);
  for (int i = 0; i < n; i++) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, subs[i]);
    if (!stat(path, &st) && S_ISDIR(st.st_mode)) add_meta(set, path);
  }
  free_list(subs, n);
  char **files = list_dir(dir, ".json", &n);
  for (int i = 0; i < n; i++) {
    char path[4096], *err = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    char *text = slurp(path, &len);
    if (text && telem_schema_set_add(set, NULL, text, len, &err) && verbose)
      printf("  meta-schema %s not loaded: %s\n", files[i], err);
    sqlite3_free(err);
    free(text);
  }
  free_list(files, n);
}

static char *write_json(const TelemJson *v) {
  TelemBuf b;
  telem_buf_init(&b);
  telem_json_write(&b, v);
  return telem_buf_take(&b);
}

/* Runs every *.json of dir (tests of one draft); adds to *pass and *total. */
static void run_dir(TelemSchemaSet *set, const char *dir, const char *label, int flags, int *pass,
                    int *total) {
  int nfiles;
  char **files = list_dir(dir, ".json", &nfiles);
  for (int f = 0; f < nfiles; f++) {
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, files[f]);
    size_t n;
    char *text = slurp(path, &n);
    TelemArena arena;
    telem_arena_init(&arena);
    TelemJson *groups = text ? telem_json_parse(&arena, text, n, NULL) : NULL;
    if (!groups || groups->type != TJ_ARRAY) {
      printf("%s/%s: cannot read\n", label, files[f]);
      free(text);
      telem_arena_free(&arena);
      continue;
    }
    for (const TelemJson *g = groups->child; g; g = g->next) {
      const TelemJson *desc = telem_json_get(g, "description", 11);
      const TelemJson *schema = telem_json_get(g, "schema", 6);
      const TelemJson *tests = telem_json_get(g, "tests", 5);
      if (!schema || !tests) continue;
      char *stext = write_json(schema), *err = NULL;
      TelemSchema *s = telem_schema_compile_ex(set, stext, strlen(stext), flags, &err);
      for (const TelemJson *t = tests->child; t; t = t->next) {
        const TelemJson *td = telem_json_get(t, "description", 11);
        const TelemJson *data = telem_json_get(t, "data", 4);
        const TelemJson *valid = telem_json_get(t, "valid", 5);
        (*total)++;
        int want = valid && valid->type == TJ_TRUE, got = -2;
        char *verr = NULL;
        if (s && data) {
          char *dtext = write_json(data);
          got = telem_schema_validate(s, dtext, strlen(dtext), &verr);
          /* the error-collecting mode must agree with the 1/0 answer */
          TelemSchemaErrors *es = telem_schema_validate_errors(s, dtext, strlen(dtext), NULL);
          if (got >= 0 && es && (telem_schema_errors_count(es) == 0) != (got == 1)) got = -3;
          telem_schema_errors_free(es);
          sqlite3_free(dtext);
        }
        if (got == want) {
          (*pass)++;
        } else if (verbose) {
          printf("FAIL %s/%s: %.*s / %.*s: want %d got %d%s%s\n", label, files[f],
                 desc ? (int)desc->n : 0, desc ? desc->s : "", td ? (int)td->n : 0,
                 td ? td->s : "", want, got, err || verr ? ": " : "", err ? err : verr ? verr : "");
        }
        sqlite3_free(verr);
      }
      sqlite3_free(err);
      sqlite3_free(stext);
      telem_schema_free(s);
    }
    telem_arena_free(&arena);
    free(text);
  }
  free_list(files, nfiles);
}

static int is_dir(const char *p) {
  struct stat st;
  return !stat(p, &st) && S_ISDIR(st.st_mode);
}

/* Runs one draft from the first root that has it.  Returns 1 on failure. */
static int run_schema_suite(const char *const *roots, int nroots, const char *draft_dir,
                            int draft) {
  char base[4096] = "", dir[4200], remotes[4200];
  for (int r = 0; r < nroots && !base[0]; r++) {
    if (!roots[r] || !*roots[r]) continue;
    const char *layout[2] = {"%s/json-schema-test-suite", "%s"};
    for (int l = 0; l < 2 && !base[0]; l++) {
      char b[4096];
      snprintf(b, sizeof b, layout[l], roots[r]);
      snprintf(dir, sizeof dir, "%s/tests/%s", b, draft_dir);
      if (is_dir(dir)) snprintf(base, sizeof base, "%s", b);
    }
  }
  if (!base[0]) {
    printf("json-schema-test-suite %-13s skipped: not in $VOXTELEM_CONFORMANCE or $VOXTELEM_JSTS "
           "(set VOXTELEM_JSTS to a JSON-Schema-Test-Suite checkout)\n", draft_dir);
    return 0;
  }
  snprintf(dir, sizeof dir, "%s/tests/%s", base, draft_dir);
  snprintf(remotes, sizeof remotes, "%s/remotes", base);
  TelemSchemaSet *set = telem_schema_set_new(draft);
  add_meta(set, "contracts/meta");
  add_remotes(set, remotes, "");
  int pass = 0, total = 0, rc = 0;
  run_dir(set, dir, draft_dir, 0, &pass, &total);
  double pct = total ? 100.0 * pass / total : 0;
  printf("json-schema-test-suite %-13s %4d/%4d passed (%.2f%%)  [%s]\n", draft_dir, pass, total,
         pct, base);
  if (!total || pct < 99.5) rc = 1;
  char fdir[4300];
  snprintf(fdir, sizeof fdir, "%s/optional/format", dir);
  if (is_dir(fdir)) {
    char label[64];
    snprintf(label, sizeof label, "%s/format", draft_dir);
    pass = total = 0;
    run_dir(set, fdir, label, TELEM_SCHEMA_FORMAT_ASSERT, &pass, &total);
    pct = total ? 100.0 * pass / total : 0;
    printf("json-schema-test-suite %-13s %4d/%4d optional/format passed (%.2f%%, format asserted)\n",
           draft_dir, pass, total, pct);
    if (!total || pct < 95.0) rc = 1;
  }
  telem_schema_set_free(set);
  return rc;
}

static int run_parsing_suite(const char *root) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/json-parsing-test-suite/test_parsing", root);
  int nfiles, miss = 0, y = 0, nn = 0, i = 0;
  char **files = list_dir(dir, ".json", &nfiles);
  TelemArena arena;
  telem_arena_init(&arena);
  for (int f = 0; f < nfiles; f++) {
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, files[f]);
    size_t n;
    char *text = slurp(path, &n);
    if (!text) continue;
    telem_arena_reset(&arena);
    TelemJson *v = telem_json_parse(&arena, text, n, NULL);
    char kind = files[f][0];
    if (kind == 'y') {
      y++;
      if (!v) { miss++; printf("FAIL parsing %s: rejected\n", files[f]); }
    } else if (kind == 'n') {
      nn++;
      if (v) { miss++; printf("FAIL parsing %s: accepted\n", files[f]); }
    } else {
      i++;
    }
    free(text);
  }
  telem_arena_free(&arena);
  free_list(files, nfiles);
  printf("json-parsing-test-suite: %d y_, %d n_, %d i_ files; %d misses\n", y, nn, i, miss);
  return (miss || !nfiles) ? 1 : 0;
}

int main(int argc, char **argv) {
  const char *only = NULL;
  for (int a = 1; a < argc; a++) {
    if (!strcmp(argv[a], "-v")) verbose = 1;
    else if (!strcmp(argv[a], "-d") && a + 1 < argc) only = argv[++a];
  }
  /* Found by tools/conformance-dir.sh ($VOXTELEM_CONFORMANCE, the pinned
   * submodules, ../shared/conformance); $VOXTELEM_JSTS may name a checkout
   * of the JSON Schema Test Suite with the drafts the first lacks. */
  const char *root = getenv("VOXTELEM_CONFORMANCE");
  const char *jsts = getenv("VOXTELEM_JSTS");
  if ((!root || !*root) && (!jsts || !*jsts)) {
    printf("conformance: SKIPPED: %s\n", CONFORMANCE_HOWTO);
    return 0;
  }
  const char *roots[2] = {root, jsts};
  static const struct { const char *dir; int draft; } drafts[] = {
      {"draft4", TELEM_DRAFT_4},         {"draft6", TELEM_DRAFT_6},
      {"draft7", TELEM_DRAFT_7},         {"draft2019-09", TELEM_DRAFT_2019_09},
      {"draft2020-12", TELEM_DRAFT_2020_12}};
  int rc = 0;
  for (size_t d = 0; d < sizeof drafts / sizeof drafts[0]; d++)
    if (!only || !strcmp(only, drafts[d].dir))
      rc |= run_schema_suite(roots, 2, drafts[d].dir, drafts[d].draft);
  if (!only && root && *root) rc |= run_parsing_suite(root);
  return rc;
}
