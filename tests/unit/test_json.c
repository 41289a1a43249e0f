/* test_json.c -- the data-path JSON parser (ext/engine/json.c): RFC 8259 suite, numbers, errors. */
#include "unit.h"
#include "../conformance/howto.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

static TelemJson *parse(TelemArena *a, const char *z) {
  return telem_json_parse(a, z, strlen(z), NULL);
}

static void test_scalars_and_containers(void **state) {
  (void)state;
  TelemArena a;
  telem_arena_init(&a);
  TelemJson *v = parse(&a, " {\"a\": [1, -2.5e3, true, false, null], \"b\\u0041\": \"x\\ny\"} ");
  assert_non_null(v);
  assert_int_equal(v->type, TJ_OBJECT);
  assert_int_equal(v->n, 2);
  const TelemJson *arr = telem_json_get(v, "a", 1);
  assert_non_null(arr);
  assert_int_equal(arr->n, 5);
  assert_int_equal(arr->child->type, TJ_NUMBER);
  assert_true(arr->child->flags & TJ_F_INTEGRAL);
  assert_false(arr->child->next->flags & TJ_F_INTEGRAL);
  assert_true(arr->child->next->flags & TJ_F_NEGATIVE);
  const TelemJson *b = telem_json_get(v, "bA", 2);
  assert_non_null(b);
  assert_int_equal(b->n, 3);
  assert_memory_equal(b->s, "x\ny", 3);
  TelemBuf out;
  telem_buf_init(&out);
  telem_json_write(&out, v);
  assert_string_equal(out.p, "{\"a\":[1,-2.5e3,true,false,null],\"bA\":\"x\\ny\"}");
  telem_buf_free(&out);
  telem_arena_free(&a);
}

static void test_errors_have_positions(void **state) {
  (void)state;
  TelemArena a;
  telem_arena_init(&a);
  TelemJsonError err;
  assert_null(telem_json_parse(&a, "{\n  \"a\": tru }", 14, &err));
  assert_int_equal(err.line, 2);
  assert_string_equal(err.what, "unexpected character");
  assert_null(telem_json_parse(&a, "[1,]", 4, &err));
  assert_null(telem_json_parse(&a, "\"\xC0\x80\"", 4, &err));
  assert_string_equal(err.what, "invalid UTF-8");
  assert_null(telem_json_parse(&a, "\"\\ud800\"", 8, &err));
  assert_null(telem_json_parse(&a, "01", 2, &err));
  assert_null(telem_json_parse(&a, "1 2", 3, &err));
  assert_null(telem_json_parse(&a, "", 0, &err));
  assert_null(telem_json_parse(&a, "\"a\0b\"", 5, &err)); /* raw NUL in a string */
  telem_arena_free(&a);
}

static void test_depth_limit(void **state) {
  (void)state;
  TelemArena a;
  telem_arena_init(&a);
  size_t n = 100000;
  char *z = malloc(2 * n);
  memset(z, '[', n);
  memset(z + n, ']', n);
  TelemJsonError err;
  assert_null(telem_json_parse(&a, z, 2 * n, &err));
  assert_string_equal(err.what, "nesting too deep");
  /* Exactly at the limit is fine. */
  size_t ok = TELEM_JSON_MAX_DEPTH;
  memset(z, '[', ok);
  memset(z + ok, ']', ok);
  assert_non_null(telem_json_parse(&a, z, 2 * ok, &err));
  free(z);
  telem_arena_free(&a);
}

static void test_value_limit(void **state) {
  (void)state;
  TelemArena a;
  telem_arena_init(&a);
  /* [0,0,...] with one value more than the limit (the array counts too). */
  size_t n = TELEM_JSON_MAX_VALUES;
  char *z = malloc(2 * n + 2);
  z[0] = '[';
  for (size_t i = 0; i < n; i++) {
    z[1 + 2 * i] = '0';
    z[2 + 2 * i] = i + 1 < n ? ',' : ']';
  }
  TelemJsonError err;
  assert_null(telem_json_parse(&a, z, 2 * n + 1, &err));
  assert_string_equal(err.what, "too many values");
  telem_arena_reset(&a);
  z[2 * (n - 1)] = ']'; /* one value fewer: exactly at the limit */
  assert_non_null(telem_json_parse(&a, z, 2 * n - 1, &err));
  free(z);
  telem_arena_free(&a);
}

static void test_number_compare_is_exact(void **state) {
  (void)state;
#define CMP(x, y) telem_json_number_cmp(x, strlen(x), y, strlen(y))
  assert_int_equal(CMP("1", "1.0"), 0);
  assert_int_equal(CMP("100", "1e2"), 0);
  assert_int_equal(CMP("0.001", "1E-3"), 0);
  assert_int_equal(CMP("-0", "0"), 0);
  assert_true(CMP("12345678901234567890", "12345678901234567891") < 0);
  assert_true(CMP("-5", "3") < 0);
  assert_true(CMP("-5", "-6") > 0);
  assert_true(CMP("0.1", "0.09") > 0);
  assert_true(CMP("1e400", "1e399") > 0);
#undef CMP
  TelemArena a;
  telem_arena_init(&a);
  TelemJson *x = parse(&a, "{\"a\":[1,{\"b\":2.0}],\"c\":null}");
  TelemJson *y = parse(&a, "{\"c\":null,\"a\":[1.0,{\"b\":2}]}");
  TelemJson *z = parse(&a, "{\"c\":null,\"a\":[1.0,{\"b\":3}]}");
  assert_true(telem_json_equal(x, y));
  assert_false(telem_json_equal(x, z));
  /* Duplicate keys: the last member wins (regression: fuzz_json crash). */
  TelemJson *d1 = parse(&a, "{\"k\":\"rust\",\"k\":12.5}");
  TelemJson *d2 = parse(&a, "{\"k\":12.5}");
  assert_true(telem_json_equal(d1, d2));
  assert_true(telem_json_equal(d2, d1));
  TelemJson *d3 = parse(&a, "{\"k\":12.5,\"j\":1,\"k\":12.5}");
  TelemJson *d4 = parse(&a, "{\"j\":1,\"k\":\"rust\",\"k\":12.5,\"j\":1.0}");
  TelemJson *d5 = parse(&a, "{\"k\":12.5,\"k\":12.5,\"x\":null}");
  assert_true(telem_json_equal(d3, d4));
  assert_true(telem_json_equal(d4, d3));
  assert_false(telem_json_equal(d2, d5)); /* b has a key a lacks */
  assert_false(telem_json_equal(d5, d2));
  assert_false(telem_json_equal(d3, d2));
  /* A small object against a large one that holds all its members: linear,
   * not one telem_json_get over the large object per member of it. */
  TelemBuf b;
  telem_buf_init(&b);
  telem_buf_putc(&b, '{');
  for (int i = 0; i < 100000; i++) telem_buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
  telem_buf_putc(&b, '}');
  TelemJson *big = parse(&a, b.p);
  TelemJson *small = parse(&a, "{\"k1\":1,\"k0\":0}");
  assert_false(telem_json_equal(small, big));
  assert_false(telem_json_equal(big, small));
  telem_buf_free(&b);
  telem_arena_free(&a);
}

static void test_arena_reuse_is_flat(void **state) {
  (void)state;
  TelemArena a;
  telem_arena_init(&a);
  const char *doc = "{\"k\":[1,2,3,{\"x\":\"y\\u00e9\"}]}";
  parse(&a, doc);
  void *first = a.head;
  for (int i = 0; i < 10000; i++) {
    telem_arena_reset(&a);
    assert_non_null(parse(&a, doc));
  }
  assert_ptr_equal(first, a.head); /* no new block after warm-up */
  telem_arena_free(&a);
}

static char *read_all(const char *path, size_t *n) {
  *n = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)len + 1);
  *n = fread(buf, 1, (size_t)len, f);
  fclose(f);
  return buf;
}

/* Every y_ case accepted, every n_ case rejected, no crash on i_. */
static void test_rfc8259_suite(void **state) {
  (void)state;
  const char *root = getenv("VOXTELEM_CONFORMANCE"); /* found by tools/conformance-dir.sh */
  if (!root || !root[0]) {
    printf("test_rfc8259_suite: SKIPPED: %s\n", CONFORMANCE_HOWTO);
    skip();
  }
  char dir[4096];
  snprintf(dir, sizeof(dir), "%s/json-parsing-test-suite/test_parsing", root);
  DIR *d = opendir(dir);
  if (!d) fail_msg("cannot open %s (set VOXTELEM_CONFORMANCE)", dir);
  int y = 0, n = 0, i = 0, bad = 0;
  TelemArena a;
  telem_arena_init(&a);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.' || !strstr(e->d_name, ".json")) continue;
    char path[8192];
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    char *data = read_all(path, &len);
    assert_non_null(data);
    telem_arena_reset(&a);
    TelemJson *v = telem_json_parse(&a, data, len, NULL);
    if (e->d_name[0] == 'y') {
      y++;
      if (!v) { printf("  y_ rejected: %s\n", e->d_name); bad++; }
    } else if (e->d_name[0] == 'n') {
      n++;
      if (v) { printf("  n_ accepted: %s\n", e->d_name); bad++; }
    } else {
      i++;
    }
    free(data);
  }
  closedir(d);
  telem_arena_free(&a);
  printf("  RFC 8259 suite: %d y_, %d n_, %d i_ cases, %d wrong\n", y, n, i, bad);
  assert_true(y > 90 && n > 180);
  assert_int_equal(bad, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scalars_and_containers),
      cmocka_unit_test(test_errors_have_positions),
      cmocka_unit_test(test_depth_limit),
      cmocka_unit_test(test_value_limit),
      cmocka_unit_test(test_number_compare_is_exact),
      cmocka_unit_test(test_arena_reuse_is_flat),
      cmocka_unit_test(test_rfc8259_suite),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
