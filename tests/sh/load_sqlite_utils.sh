#!/usr/bin/env bash
# The extension loads through sqlite-utils --load-extension (Debian package sqlite-utils).
set -euo pipefail
SO=${VOXTELEM_SO:?}
command -v sqlite-utils >/dev/null || { echo "sqlite-utils missing: run make deps"; exit 1; }
out=$(sqlite-utils memory --load-extension "$SO" "select telem_column_class('ci_completion_finding', 'file_path') as c, (select count(*) from telem_contracts) >= 11 as ok" --csv | tr -d "\r")
echo "$out"
[ "$out" = $'c,ok\nS2,1' ]
