#!/bin/sh
# build-deb.sh OUT.deb STAGING_DIR -- the voxtelem Debian package, with
# dpkg-deb (run by `make deb`; no debhelper needed).
#
# The staging tree is `make install PREFIX=/usr` (so the .so lands in the
# multiarch library directory, where `.load voxtelem` finds it with no path)
# plus what only a package has: docs, examples, copyright, changelogs.
# Environment (set by the Makefile): MAKE, VERSION, DEB_ARCH, MULTIARCH.
set -eu
out=$1
root=$2
: "${MAKE:=make}" "${VERSION:?}" "${DEB_ARCH:?}" "${MULTIARCH:?}"
libdir=/usr/lib/$MULTIARCH

rm -rf "$root"
mkdir -p "$root/DEBIAN"
# LIBDIR is left to its default for PREFIX=/usr: the multiarch directory.
$MAKE -s --no-print-directory install DESTDIR="$root" PREFIX=/usr >/dev/null

# Debian policy: shared objects are 0644 and stripped; static libraries
# keep their symbols but lose debug information.
chmod 0644 "$root$libdir/voxtelem.so"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root$libdir/voxtelem.so"
strip --strip-debug "$root$libdir/libvoxtelem.a"

doc=$root/usr/share/doc/voxtelem
install -d "$doc/examples"
install -m 0644 README.md "$doc/README.md"
# docs/ beside README.md, so the README's relative links still resolve.
(cd docs && find . -type f -name '*.md') | while read -r f; do
  install -D -m 0644 "docs/$f" "$doc/docs/$f"
done
install -m 0644 packaging/examples/voxtelem-prune.cron packaging/examples/voxtelem-prune.service \
  packaging/examples/voxtelem-prune.timer "$doc/examples/"
install -m 0644 packaging/debian/copyright "$doc/copyright"
install -d "$root/usr/share/man/man1" "$root/usr/share/lintian/overrides"
gzip -9n < packaging/man/voxtelem-prune.1 > "$root/usr/share/man/man1/voxtelem-prune.1.gz"
install -m 0644 packaging/debian/lintian-overrides "$root/usr/share/lintian/overrides/voxtelem"
gzip -9n < CHANGELOG.md > "$doc/changelog.gz"

# Timestamps from the last commit, so two builds of one commit are equal.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH
{
  printf 'voxtelem (%s) unstable; urgency=medium\n\n' "$VERSION"
  printf '  * Built from the voxtelem source tree by make deb; see changelog.gz.\n\n'
  printf ' -- voxtelem maintainers <voxtelem@invalid>  %s\n' "$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n > "$doc/changelog.Debian.gz"

# Run-time dependencies from the libraries the .so links (dpkg-shlibdeps
# reads the shlibs/symbols files of the installed -dev packages' runtimes).
shl=$(mktemp -d)
trap 'rm -rf "$shl"' EXIT
mkdir "$shl/debian"
printf 'Source: voxtelem\n\nPackage: voxtelem\nArchitecture: any\n' > "$shl/debian/control"
so=$(cd "$root$libdir" && pwd)/voxtelem.so
# ... and the uploader (libcurl, libcrypto: ADR 0006), which make install puts in bin/
bins=$(find "$(cd "$root" && pwd)/usr/bin" -name voxtelem-upload -type f 2>/dev/null)
depends=$(cd "$shl" && dpkg-shlibdeps -O "$so" $bins 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

find "$root" -path "$root/DEBIAN" -prune -o -type d -exec chmod 0755 {} +
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s|@VERSION@|$VERSION|" -e "s|@ARCH@|$DEB_ARCH|" -e "s|@SIZE@|$size|" -e "s|@DEPENDS@|$depends|" \
  packaging/debian/control.in > "$root/DEBIAN/control"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) \
  > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

mkdir -p "$(dirname "$out")"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
echo "built $out"
