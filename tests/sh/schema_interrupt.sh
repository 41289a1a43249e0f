#!/usr/bin/env bash
# sqlite3_interrupt() (what the shell's Ctrl-C calls) stops one long
# telem_validate / telem_validate_errors call within 100 ms, and the
# exponential anyOf schema of issue 17 fails on its work budget in < 1 s.
set -euo pipefail
SO=${VOXTELEM_SO:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/intr.c" <<'C'
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static sqlite3 *db;
static double t_int;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *killer(void *arg) {
  (void)arg;
  struct timespec d = {0, 30 * 1000 * 1000};
  nanosleep(&d, NULL);
  t_int = now_ms();
  sqlite3_interrupt(db);
  return NULL;
}

/* Runs sql once; with interrupt, a thread interrupts it after 30 ms.
 * Prints "<label> rc=<rc> ms=<run or since-interrupt> msg=<errmsg>". */
static int run(const char *label, const char *sql, int interrupt) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL)) { printf("prepare: %s\n", sqlite3_errmsg(db)); return 1; }
  pthread_t t;
  t_int = 0;
  double t0 = now_ms();
  if (interrupt) pthread_create(&t, NULL, killer, NULL);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {}
  double t1 = now_ms();
  if (interrupt) pthread_join(t, NULL);
  printf("%s rc=%d ms=%.0f msg=%s\n", label, rc, interrupt ? t1 - t_int : t1 - t0, sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return 0;
}

int main(int argc, char **argv) {
  char *err = NULL;
  (void)argc;
  sqlite3_open(":memory:", &db);
  sqlite3_enable_load_extension(db, 1);
  if (sqlite3_load_extension(db, argv[1], NULL, &err)) { printf("load: %s\n", err); return 1; }
  const char *expo =
      "'{\"$defs\":{\"x\":{\"type\":\"array\",\"anyOf\":[{\"items\":{\"$ref\":\"#/$defs/x\"}},"
      "{\"items\":{\"$ref\":\"#/$defs/x\"}}]}},\"$ref\":\"#/$defs/x\"}'";
  char q[1024];
  snprintf(q, sizeof q, "SELECT telem_validate(printf('%%.*c', 40, '[') || '1' || printf('%%.*c', 40, ']'), %s)", expo);
  run("budget", q, 0);
  run("interrupt", q, 1);
  snprintf(q, sizeof q, "SELECT count(*) FROM telem_validate_errors(printf('%%.*c', 40, '[') || '1' || printf('%%.*c', 40, ']'), %s)", expo);
  run("errors-budget", q, 0);
  run("errors-interrupt", q, 1);
  sqlite3_close(db);
  return 0;
}
C
${CC:-cc} -O2 -o "$tmp/intr" "$tmp/intr.c" -lsqlite3 -lpthread
"$tmp/intr" "$SO" | tee "$tmp/out"
fail=0
# Under ASan (check-asan-sh preloads it) everything runs several times
# slower: the budget limit scales, the interrupt latency does not.
slow=1
[[ ${LD_PRELOAD:-} == *asan* ]] && slow=5
check() { # label rc max_ms message-prefix
  local line
  line=$(grep "^$1 " "$tmp/out") || { echo "no $1 line"; fail=1; return; }
  [[ $line == *" rc=$2 "* ]] || { echo "$1: want rc=$2"; fail=1; }
  local ms=${line#* ms=}; ms=${ms%% *}
  [ "$ms" -lt "$3" ] || { echo "$1: took $ms ms (limit $3)"; fail=1; }
  [[ $line == *"msg=$4"* ]] || { echo "$1: want message $4"; fail=1; }
}
check budget 1 $((1000 * slow)) "telem_validate: validation exceeded its work budget"
check interrupt 9 100 "telem_validate: interrupted"
check errors-budget 1 $((1000 * slow)) "telem_validate_errors: validation exceeded its work budget"
check errors-interrupt 9 100 "telem_validate_errors: interrupted"
exit $fail
