/* test_file.c -- core/file.c: the one reader of contract and policy files
 * (issue 17 item 7): open-then-fstat, O_NONBLOCK, no link followed beneath
 * the root. */
#include "unit.h"

#include "core/file.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[] = "/tmp/voxtelem-fileXXXXXX";
static char outside[] = "/tmp/voxtelem-outXXXXXX";

static void put(const char *dir, const char *rel, const char *text) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, rel);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* dir/rel in one of two static buffers (so two can be passed at once). */
static char *at(const char *dir, const char *rel) {
  static char path[2][512];
  static int k;
  k ^= 1;
  snprintf(path[k], sizeof(path[k]), "%s/%s", dir, rel);
  return path[k];
}

static int setup(void **state) {
  (void)state;
  if (!mkdtemp(root) || !mkdtemp(outside)) return -1;
  mkdir(at(root, "sub"), 0700);
  put(root, "a.yaml", "a: 1\n");
  put(root, "sub/b.yaml", "b: 2\n");
  put(outside, "secret.yaml", "secret: 3\n");
  mkdir(at(outside, "dir"), 0700);
  put(outside, "dir/b.yaml", "b: outside\n");
  if (symlink(at(outside, "secret.yaml"), at(root, "link.yaml")) != 0) return -1;
  if (symlink(at(outside, "dir"), at(root, "linkdir")) != 0) return -1;
  if (symlink("a.yaml", at(root, "inner.yaml")) != 0) return -1; /* stays inside, still refused */
  if (mkfifo(at(root, "fifo.yaml"), 0600) != 0) return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  const char *in[] = {"a.yaml", "sub/b.yaml", "link.yaml", "linkdir", "inner.yaml", "fifo.yaml", NULL};
  for (int i = 0; in[i]; i++) unlink(at(root, in[i]));
  rmdir(at(root, "sub"));
  rmdir(root);
  unlink(at(outside, "secret.yaml"));
  unlink(at(outside, "dir/b.yaml"));
  rmdir(at(outside, "dir"));
  rmdir(outside);
  return 0;
}

/* Reads rel beneath the root; returns the data or NULL with *err. */
static char *read_rel(const char *rel, size_t max, size_t *n, char **err) {
  int fd = telem_file_open_root(root, err);
  assert_true(fd >= 0);
  char *data = telem_file_read_beneath(fd, rel, max, n, err);
  telem_file_close(fd);
  return data;
}

static void test_reads_regular_files(void **state) {
  (void)state;
  char *err = NULL;
  size_t n = 0;
  char *d = read_rel("a.yaml", 100, &n, &err);
  assert_non_null(d);
  assert_int_equal(n, 5);
  assert_string_equal(d, "a: 1\n");
  sqlite3_free(d);
  d = read_rel("sub/b.yaml", 100, &n, &err);
  assert_non_null(d);
  assert_string_equal(d, "b: 2\n");
  sqlite3_free(d);
  assert_null(err);
}

static void test_refuses_links(void **state) {
  (void)state;
  char *err = NULL;
  size_t n = 0;
  const char *links[] = {"link.yaml", "linkdir/b.yaml", "inner.yaml", NULL};
  for (int i = 0; links[i]; i++) {
    assert_null(read_rel(links[i], 100, &n, &err));
    assert_non_null(err);
    assert_non_null(strstr(err, links[i]));
    assert_non_null(strstr(err, "is a symbolic link"));
    sqlite3_free(err);
    err = NULL;
  }
}

static void test_refuses_dotdot_and_absolute(void **state) {
  (void)state;
  char *err = NULL;
  size_t n = 0;
  const char *bad[] = {"../x", "sub/../a.yaml", "./a.yaml", "/etc/passwd", "sub//b.yaml", "", NULL};
  for (int i = 0; bad[i]; i++) {
    assert_null(read_rel(bad[i], 100, &n, &err));
    assert_non_null(err);
    assert_non_null(strstr(err, "not a usable relative path"));
    sqlite3_free(err);
    err = NULL;
  }
}

/* A FIFO is refused at once (O_NONBLOCK, then fstat), never waited on. */
static void test_fifo_is_an_error_at_once(void **state) {
  (void)state;
  char *err = NULL;
  size_t n = 0;
  alarm(5); /* a blocking open would hang the test: fail it instead */
  assert_null(read_rel("fifo.yaml", 100, &n, &err));
  assert_non_null(strstr(err, "fifo.yaml: not a regular file"));
  sqlite3_free(err);
  err = NULL;
  assert_null(telem_file_read(at(root, "fifo.yaml"), 100, &n, &err));
  assert_non_null(strstr(err, "not a regular file"));
  sqlite3_free(err);
  err = NULL;
  /* A FIFO named as the root fails O_DIRECTORY without waiting either. */
  assert_true(telem_file_open_root(at(root, "fifo.yaml"), &err) < 0);
  assert_non_null(strstr(err, "cannot open the directory"));
  sqlite3_free(err);
  alarm(0);
}

static void test_missing_dir_and_size(void **state) {
  (void)state;
  char *err = NULL;
  size_t n = 0;
  assert_null(read_rel("nope.yaml", 100, &n, &err));
  assert_non_null(strstr(err, "nope.yaml: missing file (No such file or directory)"));
  sqlite3_free(err);
  err = NULL;
  assert_null(read_rel("sub", 100, &n, &err));
  assert_non_null(strstr(err, "sub: is a directory"));
  sqlite3_free(err);
  err = NULL;
  assert_null(read_rel("a.yaml", 4, &n, &err));
  assert_non_null(strstr(err, "a.yaml: file larger than 4 bytes"));
  sqlite3_free(err);
  err = NULL;
  char *d = read_rel("a.yaml", 5, &n, &err); /* exactly max */
  assert_non_null(d);
  sqlite3_free(d);
  assert_null(telem_file_read(at(root, "sub"), 100, &n, &err));
  assert_non_null(strstr(err, "is a directory"));
  sqlite3_free(err);
  err = NULL;
  assert_null(telem_file_read("/dev/null", 100, &n, &err));
  assert_non_null(strstr(err, "/dev/null: not a regular file"));
  sqlite3_free(err);
  err = NULL;
  /* An explicit path the operator gave may be a link. */
  d = telem_file_read(at(root, "link.yaml"), 100, &n, &err);
  assert_non_null(d);
  assert_string_equal(d, "secret: 3\n");
  sqlite3_free(d);
  assert_true(telem_file_open_root(at(root, "nope"), &err) < 0);
  assert_non_null(strstr(err, "cannot open the directory (No such file or directory)"));
  sqlite3_free(err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reads_regular_files),
      cmocka_unit_test(test_refuses_links),
      cmocka_unit_test(test_refuses_dotdot_and_absolute),
      cmocka_unit_test(test_fifo_is_an_error_at_once),
      cmocka_unit_test(test_missing_dir_and_size),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
