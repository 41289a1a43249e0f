#!/bin/sh
# vox_policy.sh -- tests/data/vox/retention-policy.yaml is Vox's own file as
# it is: compared with contracts/db/retention-policy.yaml of a Vox mirror when
# one is present (VOX_GIT_DIR, default /work/.mirror/vox-foundation+vox/repo),
# and imported by voxtelem either way.  Without a mirror the comparison is
# skipped with a message; the import (and tests/sql/prune_vox.sql) still run.
set -eu
SO=${VOXTELEM_SO:-$PWD/voxtelem.so}
SQLITE3=${SQLITE3:-sqlite3}
FIX=tests/data/vox/retention-policy.yaml
GIT_DIR_VOX=${VOX_GIT_DIR:-/work/.mirror/vox-foundation+vox/repo}
fail() { echo "vox_policy: FAIL: $*" >&2; exit 1; }
commit=$(sed -n 's/^# Origin: .* at commit \([0-9a-f]*\),$/\1/p' "$FIX")
[ -n "$commit" ] || fail "the fixture does not name its origin commit"
if [ -d "$GIT_DIR_VOX" ] && git --git-dir="$GIT_DIR_VOX" cat-file -e "$commit" 2>/dev/null; then
  T=$(mktemp -d)
  trap 'rm -rf "$T"' EXIT
  git --git-dir="$GIT_DIR_VOX" show "$commit:contracts/db/retention-policy.yaml" > "$T/vox.yaml"
  sed 1,3d "$FIX" | cmp -s - "$T/vox.yaml" || fail "the fixture differs from Vox's file at $commit"
  head=$(git --git-dir="$GIT_DIR_VOX" rev-parse HEAD)
  git --git-dir="$GIT_DIR_VOX" show "HEAD:contracts/db/retention-policy.yaml" > "$T/head.yaml"
  n=$("$SQLITE3" -cmd ".load $SO" :memory: "SELECT rules FROM telem_policy_import('$T/head.yaml')") \
    || fail "Vox's file at HEAD ($head) does not import"
  echo "vox_policy: fixture equals Vox's file at $commit; HEAD $head imports ($n rules)"
else
  echo "vox_policy: skipped the comparison with Vox's file (no mirror at $GIT_DIR_VOX; set VOX_GIT_DIR to a clone of vox-foundation/vox)"
fi
n=$("$SQLITE3" -cmd ".load $SO" :memory: "SELECT rules FROM telem_policy_import('$FIX')") || fail "the fixture does not import"
[ "$n" = 13 ] || fail "the fixture imported $n rules, expected 13"
echo "vox_policy: ok"
