#!/usr/bin/env bash
# deb.sh -- the Debian package as a user meets it: dpkg -i, then `.load
# voxtelem` with no path from another directory in the sqlite3 shell, in
# Python's sqlite3 and in sqlite-utils; the header and pkg-config file build
# a C program; voxtelem-prune prunes with the installed prune.sql; the
# systemd examples verify; dpkg -r and dpkg -P leave none of its files.
#
# The machine may be shared: runs of this test take a lock, dpkg's own lock
# is waited for, and a voxtelem package that was installed before the test
# is put back afterwards (rebuilt from its installed files) rather than
# left removed.  Needs root (exit 77, skipped, otherwise).
# Environment: VOXTELEM_DEB, VOXTELEM_VERSION (set by make pkgtest).
set -euo pipefail
DEB=${VOXTELEM_DEB:?}
VERSION=${VOXTELEM_VERSION:?}
PKG=voxtelem
fail() { echo "deb: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "deb: skipped: dpkg -i needs root"; exit 77; }
command -v dpkg >/dev/null || { echo "deb: skipped: no dpkg on this machine"; exit 77; }
[ -f "$DEB" ] || fail "no package $DEB (make deb)"

MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
LIBDIR=/usr/lib/$MULTIARCH
T=$(mktemp -d)

# One run at a time on this machine (other worktrees run the same test).
lockdir=/run/lock
[ -d "$lockdir" ] && [ -w "$lockdir" ] || lockdir=/tmp
exec 9> "$lockdir/voxtelem-deb-test.lock"
flock -w 900 9 || fail "another run of this test held the lock for 15 minutes"

# The package's state in dpkg's database, by its exact name: "installed
# VERSION", or "absent" (never installed, or purged).
state() {
  local s
  s=$(dpkg-query -W -f='${db:Status-Status} ${Version}' "$PKG" 2>/dev/null) || { echo absent; return; }
  case $s in "not-installed "*|" "*|"") echo absent ;; *) echo "$s" ;; esac
}
# dpkg with its lock waited for (apt or another dpkg may hold it briefly).
dpkg_locked() {
  local out
  for _ in $(seq 1 60); do
    if out=$(dpkg "$@" 2>&1); then echo "$out"; return 0; fi
    case $out in *"lock"*) sleep 5 ;; *) echo "$out" >&2; return 1 ;; esac
  done
  echo "$out" >&2; return 1
}

# A package installed before this test is saved as a .deb built from its
# installed files and dpkg's record of it, and reinstalled at the end.
before=$(state)
saved=""
if [ "$before" != absent ]; then
  echo "voxtelem is already installed ($before): saving it to put it back afterwards"
  R=$T/saved
  mkdir -p "$R/DEBIAN"
  dpkg-query -s "$PKG" | grep -Ev '^(Status|Conffiles):' > "$R/DEBIAN/control"
  dpkg-query -L "$PKG" | while IFS= read -r f; do
    if [ -f "$f" ] || [ -L "$f" ]; then mkdir -p "$R$(dirname "$f")" && cp -a "$f" "$R$f"; fi
  done
  for s in preinst postinst prerm postrm conffiles triggers; do
    f=/var/lib/dpkg/info/$PKG.$s
    [ -f "$f" ] && cp -a "$f" "$R/DEBIAN/$s"
  done
  dpkg-deb --root-owner-group --build "$R" "$T/saved.deb" >/dev/null || fail "could not save the installed package"
  saved=$T/saved.deb
fi

# A voxtelem.so that dpkg does not know of, in a directory dlopen searches,
# would still answer `.load voxtelem` after the purge.
stray=""
for d in /lib/$MULTIARCH "$LIBDIR" /lib /usr/lib; do
  f=$(realpath -m "$d/voxtelem.so")   # /lib is /usr/lib on merged-/usr systems
  if [ -e "$f" ] && ! dpkg-query -S "$f" >/dev/null 2>&1; then stray=$f; fi
done

installed=0
cleanup() {
  local rc=$?
  if [ "$installed" = 1 ]; then dpkg_locked -P "$PKG" >/dev/null || rc=1; fi
  if [ -n "$saved" ]; then
    if dpkg_locked -i "$saved" >/dev/null; then echo "put back the voxtelem package installed before the test"
    else echo "deb: could not put back $saved" >&2; rc=1; fi
  fi
  rm -rf "$T"
  exit $rc
}
trap cleanup EXIT

# The package itself: name, version, run-time dependencies, files.
[ "$(dpkg-deb -f "$DEB" Package)" = "$PKG" ] || fail "package name"
[ "$(dpkg-deb -f "$DEB" Version)" = "$VERSION" ] || fail "package version is not $VERSION"
deps=$(dpkg-deb -f "$DEB" Depends)
for d in libjansson4 libyaml-0-2 libpcre2-8-0 libxxhash0 libc6; do
  grep -q "\\b$d\\b" <<<"$deps" || fail "Depends lacks $d: $deps"
done
dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\./|/|' > "$T/files"
for f in "$LIBDIR/voxtelem.so" "$LIBDIR/libvoxtelem.a" "$LIBDIR/pkgconfig/voxtelem.pc" /usr/include/voxtelem.h \
         /usr/share/voxtelem/prune.sql /usr/share/voxtelem/guards.sql /usr/share/voxtelem/governance.sql \
         /usr/share/voxtelem/schema/research_metrics.sql /usr/bin/voxtelem-prune \
         /usr/share/doc/voxtelem/README.md /usr/share/doc/voxtelem/docs/reference/sql.md \
         /usr/share/doc/voxtelem/copyright /usr/share/doc/voxtelem/changelog.gz \
         /usr/share/doc/voxtelem/examples/voxtelem-prune.cron \
         /usr/share/doc/voxtelem/examples/voxtelem-prune.service \
         /usr/share/doc/voxtelem/examples/voxtelem-prune.timer /usr/share/man/man1/voxtelem-prune.1.gz; do
  grep -qx "$f" "$T/files" || fail "the package lacks $f"
done

echo "== dpkg -i"
dpkg_locked -i "$DEB" > "$T/dpkg.out" || fail "dpkg -i: $(cat "$T/dpkg.out")"
installed=1
[ "$(state)" = "installed $VERSION" ] || fail "state after dpkg -i: $(state)"
[ "$(dpkg-query -S "$LIBDIR/voxtelem.so" | cut -d: -f1)" = "$PKG" ] || fail "dpkg does not own $LIBDIR/voxtelem.so"

# From another directory, with no library path of our own: the bare name.
mkdir "$T/elsewhere"
cd "$T/elsewhere"
export -n LD_LIBRARY_PATH 2>/dev/null || true
unset LD_LIBRARY_PATH LD_PRELOAD

echo "== sqlite3: .load voxtelem"
out=$(sqlite3 -init /dev/null -batch :memory: '.load voxtelem' \
      "SELECT telem_version(); SELECT telem_column_class('ci_completion_run','commit_sha');" 2>&1) \
  || fail "sqlite3 .load voxtelem: $out"
echo "$out"
[ "$(sed -n 1p <<<"$out" | cut -d' ' -f1-2)" = "voxtelem $VERSION" ] || fail "telem_version: $out"
[ "$(sed -n 2p <<<"$out")" = S2 ] || fail "column class: $out"

echo "== python3 sqlite3: load_extension('voxtelem')"
/usr/bin/python3 - <<'PY' || fail "python3 load_extension('voxtelem')"
import sqlite3
db = sqlite3.connect(":memory:")
db.enable_load_extension(True)
db.load_extension("voxtelem")
db.enable_load_extension(False)
print(db.execute("select telem_version()").fetchone()[0])
assert db.execute("select telem_classify('syntax-k-event', '{}')").fetchone()[0] in ("S0", "S1", "S2", "S3")
assert db.execute("select count(*) from telem_taxonomy").fetchone()[0] >= 28
PY

echo "== sqlite-utils --load-extension voxtelem"
if command -v sqlite-utils >/dev/null; then
  out=$(sqlite-utils memory --load-extension voxtelem \
        "select telem_column_class('ci_completion_finding', 'file_path') as c" --csv | tr -d '\r')
  [ "$out" = $'c\nS2' ] || fail "sqlite-utils: $out"
  echo "$out"
else
  fail "sqlite-utils is not installed (make deps)"
fi

echo "== pkg-config and the header"
[ "$(pkg-config --modversion voxtelem)" = "$VERSION" ] || fail "pkg-config --modversion"
[ "$(pkg-config --variable=libdir voxtelem)" = "$LIBDIR" ] || fail "pkg-config libdir is not $LIBDIR"
cat > "$T/use.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <voxtelem.h>
int main(void) {
  char *err = NULL;
  const char *yaml = "tables:\n  research_metrics:\n    kind: days\n    days: 30\n    time_column: created_at\n    rationale: kept a month\n";
  TelemPolicy *p = telem_policy_parse("policy.yaml", yaml, strlen(yaml), &err);
  if (!p) { printf("parse: %s\n", err ? err : "?"); return 1; }
  printf("%s rules=%d\n", VOXTELEM_VERSION, telem_policy_count(p));
  telem_policy_free(p);
  return 0;
}
C
# shellcheck disable=SC2046
cc -std=c11 -o "$T/use" "$T/use.c" $(pkg-config --cflags --libs --static voxtelem) 2> "$T/cc.err" \
  || fail "a C program against the installed header and library: $(cat "$T/cc.err")"
"$T/use" > "$T/use.out" 2>&1 || fail "the C program: $(cat "$T/use.out")"
[ "$(cat "$T/use.out")" = "$VERSION rules=1" ] || fail "the C program printed: $(cat "$T/use.out")"

echo "== voxtelem-prune with the installed prune.sql"
db=$T/elsewhere/app.db
sqlite3 -init /dev/null "$db" >/dev/null <<'SQL'
.read /usr/share/voxtelem/schema/research_metrics.sql
INSERT INTO research_metrics(session_id, metric_type, created_at) VALUES
  ('s', 'old', '2001-01-01 00:00:00'), ('s', 'new', '2999-01-01 00:00:00');
SQL
out=$(voxtelem-prune "$db") || fail "voxtelem-prune exited $?: $out"
echo "$out"
grep -q "run 1: 1 row deleted" <<<"$out" || fail "voxtelem-prune summary: $out"
[ "$(sqlite3 "$db" 'SELECT count(*) FROM research_metrics')" = 1 ] || fail "voxtelem-prune left the old row"

man -w voxtelem-prune > /dev/null 2>&1 || ! command -v man > /dev/null || fail "man voxtelem-prune finds no page"

echo "== the cron and systemd examples name the installed wrapper"
ex=/usr/share/doc/voxtelem/examples
cronline=$(grep -Ev '^[[:space:]]*(#|$|[A-Z_]+=)' "$ex/voxtelem-prune.cron")
[ "$(wc -l <<<"$cronline")" = 1 ] || fail "the cron example has not one job line"
read -r _m _h _dom _mon _dow _user cmd _rest <<<"$cronline"
[ -x "$cmd" ] || fail "the cron job runs $cmd, which is not installed"
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$ex/voxtelem-prune.service")
[ -x "$exec_start" ] || fail "the service runs $exec_start, which is not installed"
if command -v systemd-analyze >/dev/null; then
  cp "$ex/voxtelem-prune.service" "$ex/voxtelem-prune.timer" "$T/"
  systemd-analyze verify --man=no "$T/voxtelem-prune.service" "$T/voxtelem-prune.timer" > "$T/verify" 2>&1 \
    || fail "systemd-analyze verify: $(cat "$T/verify")"
fi

echo "== dpkg -r, then dpkg -P"
dpkg_locked -r "$PKG" > "$T/dpkg.out" || fail "dpkg -r: $(cat "$T/dpkg.out")"
[ "$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null)" = config-files ] \
  || [ "$(state)" = absent ] || fail "state after dpkg -r: $(state)"
dpkg_locked -P "$PKG" > "$T/dpkg.out" || fail "dpkg -P: $(cat "$T/dpkg.out")"
installed=0
[ "$(state)" = absent ] || fail "state after dpkg -P: $(state)"
while IFS= read -r f; do
  case $f in */) continue ;; esac
  [ ! -e "$f" ] || fail "$f is still there after dpkg -P"
done < "$T/files"
for d in /usr/share/voxtelem /usr/share/doc/voxtelem; do
  [ ! -e "$d" ] || fail "$d is still there after dpkg -P"
done
if [ -n "$stray" ]; then
  echo "not checking that .load voxtelem fails now: $stray was there before the test"
elif out=$(sqlite3 -init /dev/null -batch :memory: '.load voxtelem' 2>&1); then
  fail ".load voxtelem still works after dpkg -P"
else
  echo "removed: no file of the package is left, and .load voxtelem fails again ($out)"
fi
echo "deb: ok"
