#!/usr/bin/env bash
# make_install.sh -- where make install puts things (staged with DESTDIR):
# PREFIX=/usr uses Debian's multiarch directory, where `.load voxtelem` needs
# no path; any other prefix uses PREFIX/lib, and LIBDIR overrides both; the
# pkg-config file names the directory used; voxtelem-prune installed under a
# prefix finds its prune.sql and voxtelem.so there.
# Environment: VOXTELEM_VERSION, SQLITE3 (set by make pkgtest).
set -euo pipefail
VERSION=${VOXTELEM_VERSION:?}
SQLITE3=${SQLITE3:-sqlite3}
fail() { echo "make_install: FAIL: $*" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
[ -n "$MULTIARCH" ] || fail "no multiarch triplet (dpkg-architecture, gcc -print-multiarch)"

# PREFIX=/usr: the multiarch directory.
make -s --no-print-directory install DESTDIR="$T/usr-stage" PREFIX=/usr > /dev/null
for f in "usr/lib/$MULTIARCH/voxtelem.so" "usr/lib/$MULTIARCH/libvoxtelem.a" "usr/lib/$MULTIARCH/pkgconfig/voxtelem.pc" \
         usr/include/voxtelem.h usr/share/voxtelem/prune.sql usr/bin/voxtelem-prune; do
  [ -f "$T/usr-stage/$f" ] || fail "PREFIX=/usr: no /$f"
done
[ ! -e "$T/usr-stage/usr/lib/voxtelem.so" ] || fail "PREFIX=/usr: voxtelem.so also in /usr/lib"
grep -qx "libdir=/usr/lib/$MULTIARCH" "$T/usr-stage/usr/lib/$MULTIARCH/pkgconfig/voxtelem.pc" || fail "PREFIX=/usr: pc libdir"

# LIBDIR given: used as is.
make -s --no-print-directory install DESTDIR="$T/opt-stage" PREFIX=/opt/vt LIBDIR=/opt/vt/lib64 > /dev/null
[ -f "$T/opt-stage/opt/vt/lib64/voxtelem.so" ] || fail "LIBDIR=/opt/vt/lib64 was not used"
grep -qx "libdir=/opt/vt/lib64" "$T/opt-stage/opt/vt/lib64/pkgconfig/voxtelem.pc" || fail "LIBDIR: pc libdir"

# Any other prefix: PREFIX/lib, and the wrapper there works on its own.
P=$T/local
make -s --no-print-directory install PREFIX="$P" > /dev/null
[ -f "$P/lib/voxtelem.so" ] || fail "PREFIX=$P: no lib/voxtelem.so"
[ "$(PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config --variable=libdir voxtelem)" = "$P/lib" ] || fail "pc libdir for $P"
[ "$(PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config --modversion voxtelem)" = "$VERSION" ] || fail "pc version"
db=$T/app.db
"$SQLITE3" "$db" ".read $P/share/voxtelem/schema/research_metrics.sql" \
  "INSERT INTO research_metrics(session_id, metric_type, created_at) VALUES ('s', 'old', '2001-01-01 00:00:00')"
out=$(cd / && env -u VOXTELEM_SO -u LD_LIBRARY_PATH -u VOXTELEM_PRUNE_SQL "$P/bin/voxtelem-prune" "$db") \
  || fail "$P/bin/voxtelem-prune exited $?: $out"
echo "$out"
grep -q ": run 1: 1 row deleted" <<<"$out" || fail "the installed wrapper did not prune: $out"
echo "make_install: ok"
