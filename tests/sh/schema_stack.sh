#!/usr/bin/env bash
# No input overflows a 256 KiB thread stack (issue 17, item 6): the deep
# cases run through the extension on a thread created with a 256 KiB stack.
# Each answers with a result or a clean error; then the same cases on an
# 8 MiB thread give the full answers.
set -euo pipefail
SO=${VOXTELEM_SO:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/thread.c" <<'C'
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

static const char *so;
static char **sqlv;
static int nsql, failed;

static int row(void *a, int n, char **v, char **c) {
  (void)a; (void)c;
  for (int i = 0; i < n; i++) printf("%s%s", i ? "|" : "", v[i] ? v[i] : "NULL");
  printf("\n");
  return 0;
}

static void *run(void *arg) {
  (void)arg;
  sqlite3 *db;
  char *err = NULL;
  sqlite3_open(":memory:", &db);
  sqlite3_enable_load_extension(db, 1);
  if (sqlite3_load_extension(db, so, NULL, &err)) { printf("load: %s\n", err); failed = 1; return NULL; }
  for (int i = 0; i < nsql; i++)
    if (sqlite3_exec(db, sqlv[i], row, NULL, &err)) { printf("Error: %s\n", err); sqlite3_free(err); err = NULL; }
  sqlite3_close(db);
  return NULL;
}

int main(int argc, char **argv) {
  so = argv[1];
  size_t kb = (size_t)atoi(argv[2]);
  sqlv = argv + 3;
  nsql = argc - 3;
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setstacksize(&at, kb * 1024);
  pthread_t t;
  if (pthread_create(&t, &at, run, NULL)) return 2;
  pthread_join(t, NULL);
  return failed;
}
C
${CC:-cc} -O2 -o "$tmp/thread" "$tmp/thread.c" -lsqlite3 -lpthread
q=(
"SELECT 'parse999', telem_validate(printf('%.*c', 999, '[') || printf('%.*c', 999, ']'), '{}');"
"SELECT 'ref900', telem_validate(printf('%.*c', 900, '[') || printf('%.*c', 900, ']'), '{\"items\":{\"\$ref\":\"#\"}}');"
"SELECT 'ref999', telem_validate(printf('%.*c', 999, '[') || printf('%.*c', 999, ']'), '{\"type\":\"array\",\"items\":{\"\$ref\":\"#\"}}');"
"SELECT 'errs999', count(*) FROM telem_validate_errors(printf('%.*c', 999, '[') || printf('%.*c', 999, ']'), '{\"type\":\"array\",\"items\":{\"\$ref\":\"#\"}}');"
"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 998) SELECT 'chain999', telem_validate('5', '{\"\$ref\":\"#/\$defs/d0\",\"\$defs\":{' || group_concat('\"d' || i || '\":{\"\$ref\":\"#/\$defs/d' || (i + 1) || '\"}', ',') || ',\"d999\":{\"type\":\"integer\"}}}') FROM n;"
"SELECT 'nest998', telem_validate('[]', replace(printf('%.*c', 998, 'x'), 'x', '{\"items\":') || '{}' || printf('%.*c', 998, '}'));"
"SELECT 'unique997', telem_validate('[' || printf('%.*c', 997, '[') || printf('%.*c', 997, ']') || ',' || printf('%.*c', 997, '[') || '1' || printf('%.*c', 997, ']') || ']', '{\"uniqueItems\":true}');"
"SELECT 'enum998', telem_validate(printf('%.*c', 998, '[') || printf('%.*c', 998, ']'), '{\"enum\":[1,2,3,4,5,6,7,8,9,[[]]]}');"
"SELECT 'const998', telem_validate(printf('%.*c', 998, '[') || printf('%.*c', 998, ']'), '{\"const\":' || printf('%.*c', 998, '[') || printf('%.*c', 998, ']') || '}');"
)
fail=0
"$tmp/thread" "$SO" 256 "${q[@]}" > "$tmp/small.out" 2>&1 || { echo "256 KiB thread: exit $?"; cat "$tmp/small.out"; exit 1; }
cat "$tmp/small.out"
# every line: a labelled result or an error that names the function
if grep -Ev '^[a-z0-9]+\|[0-9]+$|^Error: telem_[a-z_]+: ' "$tmp/small.out"; then echo "unexpected output"; fail=1; fi
[ "$(wc -l < "$tmp/small.out")" -eq ${#q[@]} ] || { echo "expected ${#q[@]} lines"; fail=1; }
grep -qx 'parse999|1' "$tmp/small.out" || { echo "parse999 must validate on 256 KiB"; fail=1; }
# ASan's frames are several times larger: there only "no crash" holds
if [[ ${LD_PRELOAD:-} != *asan* ]]; then
  grep -qx 'ref900|1' "$tmp/small.out" || { echo "ref900 must validate on 256 KiB"; fail=1; }
fi
"$tmp/thread" "$SO" 8192 "${q[@]}" > "$tmp/big.out" 2>&1 || { echo "8 MiB thread: exit $?"; exit 1; }
want='parse999|1
ref900|1
ref999|1
errs999|0
chain999|1
nest998|1
unique997|1
enum998|0
const998|1'
if [ "$(cat "$tmp/big.out")" != "$want" ]; then echo "8 MiB thread:"; cat "$tmp/big.out"; fail=1; fi
exit $fail
