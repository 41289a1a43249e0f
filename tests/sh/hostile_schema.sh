#!/usr/bin/env bash
# hostile_schema.sh -- issue 17 item 1: a database someone else wrote cannot
# act through voxtelem.
#
# The matrix: every kind of schema object (CHECK, DEFAULT, generated column
# virtual and stored, expression index, partial index WHERE, trigger, view)
# x every side-effecting entry point (ENTRIES below, in its table-valued and
# its scalar spelling) x every way an operator touches a database (open it as
# main and read it, ATTACH it, PRAGMA quick_check, PRAGMA integrity_check,
# INSERT, UPDATE, .dump, sql/prune.sql, sql/audit.sql when present).  The
# objects are planted the way an attacker would: written into sqlite_schema
# directly (PRAGMA writable_schema), so that even what CREATE refuses (a
# subquery in a CHECK) is tried.
#
# Each case runs in its own sqlite3 process with voxtelem loaded, under
# strace, and passes when
#   - no path under the bait directory was touched (every hostile call names
#     a file or directory there; one is a FIFO, which would also block);
#   - the operator's database holds what it held before the action, or what
#     the same action leaves on a copy with harmless objects (the control):
#     a hostile schema may make an operator's statement fail, never add an
#     effect.  Compared by content (a plain sqlite3 without voxtelem reads it,
#     so no hostile code runs in the check itself);
#   - the connection's state after the action -- contracts source and count,
#     what telem_redact does to a password, the active retention policy --
#     is the control's.
# Before the matrix, positive controls run each entry as a top-level
# statement of the operator and check that the detectors see its effect
# (so a blind harness cannot pass), and report which entries exist here.
#
# Environment: VOXTELEM_SO, SQLITE3 (make test); HOSTILE_JOBS (default 2).
set -euo pipefail

# ---- side-effecting entry points (DATA) ----------------------------------------
# label | table-valued spelling (as an expression) | scalar spelling
#   [| setup: SQL the operator runs first in the positive control, so that
#      the entry has something to act on, e.g. a spool row to acknowledge]
# @BAIT@ is a directory nothing but a hostile call names (make_bait):
# contracts/ (a valid contracts copy), policy.yaml (a policy that prunes
# every row of `accounts`), policy.fifo (a FIFO).  An entry whose function does not exist
# on this branch must fail with "no such function/table" and change nothing.
ENTRIES=(
  "use_contracts|(SELECT count(*) FROM telem_use_contracts('@BAIT@/contracts'))|telem_use_contracts('@BAIT@/contracts')"
  "use_contracts/null|(SELECT count(*) FROM telem_use_contracts(NULL))|telem_use_contracts(NULL)"
  "policy_import/file|(SELECT count(*) FROM telem_policy_import('@BAIT@/policy.yaml'))|telem_policy_import('@BAIT@/policy.yaml')"
  "policy_import/fifo|(SELECT count(*) FROM telem_policy_import('@BAIT@/policy.fifo'))|telem_policy_import('@BAIT@/policy.fifo')"
  "policy_import/text|(SELECT count(*) FROM telem_policy_import('tables: {accounts: {kind: ms_days, days: 1, time_column: created, rationale: planted}}'))|telem_policy_import('tables: {accounts: {kind: ms_days, days: 1, time_column: created, rationale: planted}}')"
  "prune_apply|(SELECT count(*) FROM telem_prune_apply())|telem_prune_apply()"
  "scrub_apply|(SELECT count(*) FROM telem_scrub_apply('research_metrics', 'metadata_json'))|telem_scrub_apply('research_metrics', 'metadata_json')"
  "enqueue|(SELECT count(*) FROM telem_enqueue('benchmark_event', '{\"ms\":12}'))|telem_enqueue('benchmark_event', '{\"ms\":12}')"
  "spool_ack|(SELECT count(*) FROM telem_spool_ack(1))|telem_spool_ack(1)|SELECT * FROM telem_enqueue('benchmark_event', '{\"ms\":12}');"
  "spool_requeue|(SELECT count(*) FROM telem_spool_requeue(1, 'HTTP 503'))|telem_spool_requeue(1, 'HTTP 503')|SELECT * FROM telem_enqueue('benchmark_event', '{\"ms\":12}');"
  "schema_register|(SELECT count(*) FROM telem_schema_register('bait-schema', '{\"type\":\"object\"}'))|telem_schema_register('bait-schema', '{\"type\":\"object\"}')"
)
# Entries still open on this branch because another helper owns the fix
# (issue 17: telem_policy_import and telem_prune_apply become DIRECTONLY
# table-valued functions on the retention branch).  Their failures are
# reported as XFAIL; an entry listed here that no longer fails is an error
# (XPASS), so the list is emptied when the fix is merged.
KNOWN_OPEN=()

OBJECTS=(check default generated_virtual generated_stored index_expr partial_index trigger view)
# HOSTILE_OBJECTS="check view" runs a subset while debugging (make test runs all).
[ -n "${HOSTILE_OBJECTS:-}" ] && read -r -a OBJECTS <<< "$HOSTILE_OBJECTS"

SO=${VOXTELEM_SO:?}
SQLITE3=${SQLITE3:-sqlite3}
ROOT=$PWD
SELF=$ROOT/tests/sh/hostile_schema.sh
PH='coalesce(NULL,424242)' # the harmless placeholder the forgery replaces

# ---- the operator's actions ------------------------------------------------------
# mode:actions:trusted_schema -- one sqlite3 session each.  main = the
# received database opened as main (objects on research_metrics,
# and h); attach = the operator's own database as main, the
# received one attached as r.  Actions that write the operator's tables
# (main insert, update, prune_sql) get a session of their own, so that the
# database after it is either unchanged or what the control leaves; the
# others share one, whose operator data must come out unchanged.
# trusted_schema=ON allows everything OFF does and more; OFF is run too for
# the attack of the issue (ATTACH + quick_check with trusted_schema=OFF).
SESSIONS=(main:open+quick_check+integrity_check:ON main:insert:ON main:update:ON main:dump:ON
          main:prune_sql:ON
          attach:open+quick_check+integrity_check+insert+update:ON
          attach:quick_check+integrity_check+insert:OFF)
if [ -f "$ROOT/sql/audit.sql" ]; then SESSIONS+=(main:audit_sql:ON); fi
NACTIONS=0
for _s in "${SESSIONS[@]}"; do
  IFS=: read -r _m _a _t <<< "$_s"
  IFS=+ read -r -a _l <<< "$_a"
  NACTIONS=$((NACTIONS + ${#_l[@]}))
done

# What the operator types for an action (the session around it is fixed).
action_sql() { # mode action
  local p=; [ "$1" = attach ] && p=r.
  case $2 in
    open)
      if [ "$1" = main ]; then
        printf '%s\n' '.tables' '.schema' 'SELECT * FROM research_metrics;' \
          'SELECT * FROM accounts;' 'SELECT * FROM h;' 'SELECT * FROM hv;'
      else
        printf '%s\n' '.tables' 'SELECT * FROM r.h;' 'SELECT * FROM r.hv;' 'SELECT * FROM r.sqlite_schema;'
      fi ;;
    quick_check) echo "PRAGMA ${p}quick_check;" ;;
    integrity_check) echo "PRAGMA ${p}integrity_check;" ;;
    insert)
      if [ "$1" = main ]; then echo "INSERT INTO research_metrics(session_id, metric_type, created_at) VALUES ('s', 'benchmark_event', '2998-01-01 00:00:00');"; fi
      echo "INSERT INTO ${p}h(a, b) VALUES (7, 'z');" ;;
    update)
      if [ "$1" = main ]; then echo "UPDATE research_metrics SET metric_value = 1 WHERE id = 3;"; fi
      echo "UPDATE ${p}h SET a = a + 1;" ;;
    dump) echo '.dump' ;;
    audit_sql) printf '%s\n' ".read $ROOT/sql/audit.sql" 'SELECT * FROM telem_audit_rows;' ;;
  esac
}

STATE_SQL="SELECT 'STATE', (SELECT group_concat(DISTINCT source) FROM telem_contracts), (SELECT count(*) FROM telem_contracts), telem_redact('{\"password\":\"hunter2\"}', 'strict'), hex(sha3(telem_policy_yaml()));"

# ---- fixtures --------------------------------------------------------------------

# The schema-object clause or statements for object $1 on table $2 whose
# column $3 the operator's UPDATE changes.  Each names $3, because SQLite
# re-evaluates a CHECK, a generated column or an index on UPDATE only when
# a column it reads changed; an attacker would write them so.
table_clause() { # object column
  case $1 in
    check) echo ", CHECK (($PH) IS NOT NULL OR $2 IS NULL)" ;;
    default) echo ", hx TEXT DEFAULT ($PH)" ;;
    generated_virtual) echo ", hg AS (coalesce(($PH), $2)) VIRTUAL" ;;
    generated_stored) echo ", hg AS (coalesce(($PH), $2)) STORED" ;;
  esac
}
table_stmts() { # object table column
  case $1 in
    index_expr) echo "CREATE INDEX hi_$2 ON $2(($PH), $3);" ;;
    partial_index) echo "CREATE INDEX hp_$2 ON $2($3) WHERE ($PH) IS NOT NULL OR $3 IS NULL;" ;;
    trigger)
      echo "CREATE TRIGGER hti_$2 AFTER INSERT ON $2 BEGIN SELECT $PH; END;"
      echo "CREATE TRIGGER htu_$2 AFTER UPDATE ON $2 BEGIN SELECT $PH; END;"
      echo "CREATE TRIGGER htd_$2 AFTER DELETE ON $2 BEGIN SELECT $PH; END;" ;;
  esac
}

OPERATOR_TABLES="
CREATE TABLE accounts(id INTEGER PRIMARY KEY, created INTEGER NOT NULL, secret TEXT);
INSERT INTO accounts VALUES (1, 1000, 'a'), (2, 2000, 'b');"
RM_COLS="id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, metric_type TEXT NOT NULL,
  metric_value REAL, metadata_json TEXT, created_at TEXT NOT NULL"
RM_ROWS="INSERT INTO research_metrics(id, session_id, metric_type, metadata_json, created_at) VALUES
  (1, 's', 'benchmark_event', '{\"password\":\"hunter2\"}', '2001-01-01 00:00:00'),
  (2, 's', 'benchmark_event', '{\"ms\":1}', '2001-01-02 00:00:00'),
  (3, 's', 'benchmark_event', '{\"ms\":2}', '2999-01-01 00:00:00');"

# The received database opened as main: the operator's kind of tables, each
# carrying object $1.
build_main() { # object db
  {
    echo "CREATE TABLE research_metrics($RM_COLS $(table_clause "$1" metric_value));"
    # A telem_prune_log voxtelem did not create is refused before anything
    # is read (tests/sql/prune_security.sql), so the fixture leaves it out:
    # the prune script must run here for its control to see a prune.
    echo ".read $ROOT/sql/schema/ci_completion.sql"
    echo "CREATE TABLE h(a INTEGER, b TEXT $(table_clause "$1" a));"
    echo "$OPERATOR_TABLES"
    echo "$RM_ROWS"
    echo "INSERT INTO h(a, b) VALUES (1, 'x'), (2, 'y');"
    table_stmts "$1" research_metrics metric_value
    table_stmts "$1" h a
    echo "CREATE VIEW hv AS SELECT ($PH) AS x, * FROM h;"
  } | "$SQLITE3" -batch "$2"
}
# The received database for ATTACH: only its own table h, with object $1.
build_recv() { # object db
  {
    echo "CREATE TABLE h(a INTEGER, b TEXT $(table_clause "$1" a));"
    echo "INSERT INTO h(a, b) VALUES (1, 'x'), (2, 'y');"
    table_stmts "$1" h a
    echo "CREATE VIEW hv AS SELECT ($PH) AS x, * FROM h;"
  } | "$SQLITE3" -batch "$2"
}
# The operator's own database for ATTACH: no hostile object.
build_op() { # db
  { echo "CREATE TABLE research_metrics($RM_COLS);"; echo ".read $ROOT/sql/schema/ci_completion.sql"
    echo "$OPERATOR_TABLES"; echo "$RM_ROWS"; } |
    "$SQLITE3" -batch "$1"
}

# Replaces the placeholder by the hostile expression $2 in every schema
# entry of db $1, as an attacker editing the file would.
forge() { # db expr
  local e=${2//\'/\'\'}
  "$SQLITE3" -batch "$1" "PRAGMA writable_schema=ON;
    UPDATE sqlite_schema SET sql = replace(sql, '$PH', '$e') WHERE instr(sql, '$PH') > 0;
    PRAGMA writable_schema=OFF;" >/dev/null
}

# The operator's data in db $1, read by a sqlite3 without voxtelem (so no
# hostile expression can run here): every table but h, columns the objects
# added (hx, hg) and voxtelem's own logs (telem_prune_log, telem_scrub_log:
# voxtelem records its failures there) left out; sorted, hashed.
digest() { # db
  local q
  q=$("$SQLITE3" -batch -noheader "$1" "PRAGMA writable_schema=ON;
    SELECT 'SELECT ' || quote(m.name) || ', ' || group_concat('\"' || replace(c.name, '\"', '\"\"') || '\"', ', ')
           || ' FROM main.\"' || replace(m.name, '\"', '\"\"') || '\";'
    FROM sqlite_schema AS m, pragma_table_xinfo(m.name) AS c
    WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND m.name <> 'h'
      AND m.name NOT IN ('telem_prune_log', 'telem_scrub_log')
      AND c.hidden = 0 AND c.name NOT IN ('hx', 'hg')
    GROUP BY m.name ORDER BY m.name;" 2>&1) || { echo "digest-error"; return; }
  { echo "$q"; "$SQLITE3" -batch -noheader "$1" "PRAGMA writable_schema=ON;
      SELECT group_concat(name) FROM (SELECT name FROM sqlite_schema WHERE type = 'table'
        AND name NOT IN ('telem_prune_log', 'telem_scrub_log') ORDER BY name);" 2>&1
    printf 'PRAGMA writable_schema=ON;\n%s\n' "$q" | "$SQLITE3" -batch -noheader -quote "$1" 2>&1 | sort
  } | sha1sum | cut -c1-16
}

# ---- running one case ------------------------------------------------------------

# run_action <mode> <action> <trust> <main db> <recv db> <out prefix>
# Runs one operator session; leaves $out.log (output), $out.st (strace),
# $out.rc.  The db files are modified in place.
run_action() {
  local mode=$1 action=$2 trust=$3 main=$4 recv=$5 out=$6 rc=0
  local -a tracer=()
  [ -n "$STRACE" ] && tracer=(strace -f -qq -e trace=%file -o "$out.st")
  : > "$out.st"
  if [ "$action" = prune_sql ]; then
    # The cron script as shipped: it loads voxtelem itself (.bail on).
    { cat "$ROOT/sql/prune.sql"; printf '%s\n' '.bail off' '.mode list' '.headers off' "$STATE_SQL"; } |
      (cd "$W" && LD_LIBRARY_PATH="$LIB" timeout 20 "${tracer[@]}" "$SQLITE3" -batch "$main") > "$out.log" 2>&1 || rc=$?
  else
    {
      echo "SELECT 'SWITCH', contracts FROM telem_use_contracts('$OPC');"
      echo "PRAGMA trusted_schema=$trust;"
      if [ "$mode" = attach ]; then echo "ATTACH '$recv' AS r;"; fi
      local one
      IFS=+ read -r -a one <<< "$action"
      for one in "${one[@]}"; do action_sql "$mode" "$one"; done
      echo "$STATE_SQL"
    } | (cd "$W" && timeout 20 "${tracer[@]}" "$SQLITE3" -batch -cmd ".load $SO" "$main") > "$out.log" 2>&1 || rc=$?
  fi
  echo "$rc" > "$out.rc"
}

# The outcome of a case, for the summary: why nothing happened.  Reads the
# log in $LOG (set by slurp) so that no process is started per case.
outcome() {
  case $LOG in
    *'malformed database schema'*) echo refused-at-schema-load ;;
    *'unsafe use of'*) echo refused-unsafe-use ;;
    *'is a table-valued function'*) echo scalar-points-to-table ;;
    *'no such function'* | *'no such table'* | *'unknown function'*) echo absent-on-branch ;;
    *prohibited*) echo refused-prohibited ;;
    *rror*) echo other-error ;;
    *) echo no-call-reached ;;
  esac
}

# slurp <file> <var>: the file's content into var, without a subprocess.
slurp() { IFS= read -r -d '' "$2" < "$1" || true; }
# The STATE line of $LOG (empty when absent).
state_line() {
  local l
  STATE=
  while IFS= read -r l; do
    if [[ $l == STATE\|* ]]; then STATE=$l; fi
  done <<< "$LOG"
  return 0
}

is_known_open() {
  local k
  for k in "${KNOWN_OPEN[@]}"; do
    if [ "$k" = "$1" ]; then return 0; fi
  done
  return 1
}

# make_bait <dir>: the files only hostile calls name.  A writer keeps
# opening the FIFO and notes each time a reader opened it ($dir.opened): so
# a reader without O_NONBLOCK is released at once instead of blocking, and
# the open is seen even without strace.  WRITER gets its pid.
make_bait() {
  mkdir -p "$1"
  cp -r "$ROOT/contracts" "$1/contracts"
  mkfifo "$1/policy.fifo"
  printf 'tables:\n  accounts:\n    kind: ms_days\n    days: 1\n    time_column: created\n    rationale: planted\n' > "$1/policy.yaml"
  : > "$1.opened"
  (while :; do : > "$1/policy.fifo" && echo opened >> "$1.opened"; done) 2> /dev/null &
  WRITER=$!
}
# 1 when a bait path was opened during the last run ($ST holds its trace).
bait_touched() { # bait opened-count-before
  local n
  n=$(wc -l < "$1.opened")
  [ "$n" != "$2" ] || [[ $ST == *"$1"* ]]
}

# ---- worker: every case of one object -----------------------------------------------

worker() {
  local obj=$1
  local res=$T/res.$obj
  W=$T/w.$obj
  BAIT=$T/bait.$obj
  mkdir -p "$W"
  : > "$res"
  make_bait "$BAIT"
  trap 'kill "$WRITER" 2> /dev/null' EXIT
  build_main "$obj" "$W/main_tpl.db"
  build_recv "$obj" "$W/recv_tpl.db"
  declare -A CTRL_DIGEST CTRL_STATE BEFORE
  BEFORE[main]=$(digest "$W/main_tpl.db")
  BEFORE[attach]=$(digest "$OP_TPL")
  # Controls: the same actions with the harmless placeholder in place.
  local a mode action trust
  for a in "${SESSIONS[@]}"; do
    IFS=: read -r mode action trust <<< "$a"
    local m=$W/c.main.db r=$W/c.recv.db
    if [ "$mode" = main ]; then cp "$W/main_tpl.db" "$m"; else cp "$OP_TPL" "$m"; fi
    cp "$W/recv_tpl.db" "$r"
    run_action "$mode" "$action" "$trust" "$m" "$r" "$W/ctl"
    CTRL_DIGEST[$a]=$(digest "$m")
    CTRL_STATE[$a]=$(grep '^STATE|' "$W/ctl.log" || true)
    if [ -z "${CTRL_STATE[$a]}" ] || [ "$(cat "$W/ctl.rc")" != 0 ] || grep -q "$BAIT" "$W/ctl.st" ||
       [ -s "$BAIT.opened" ]; then
      echo "FAIL $obj - - $a control broken: rc=$(cat "$W/ctl.rc") $(head -c 400 "$W/ctl.log" | tr '\n' ' ')" >> "$res"
    fi
    if [ "$action" = prune_sql ] && [ "${CTRL_DIGEST[$a]}" = "${BEFORE[main]}" ]; then
      echo "FAIL $obj - - $a control prune deleted nothing: the fixture cannot see a prune" >> "$res"
    fi
  done
  local e label tvf scalar sp expr
  for e in "${ENTRIES[@]}"; do
    local setup
    IFS='|' read -r label tvf scalar setup <<< "$e"
    for sp in tvf scalar; do
      if [ "$sp" = tvf ]; then expr=$tvf; else expr=$scalar; fi
      expr=${expr//@BAIT@/$BAIT}
      cp "$W/main_tpl.db" "$W/main_h.db"; forge "$W/main_h.db" "$expr"
      cp "$W/recv_tpl.db" "$W/recv_h.db"; forge "$W/recv_h.db" "$expr"
      local before_main
      before_main=$(digest "$W/main_h.db")
      for a in "${SESSIONS[@]}"; do
        IFS=: read -r mode action trust <<< "$a"
        local m=$W/main.db r=$W/recv.db before why= st
        if [ "$mode" = main ]; then cp "$W/main_h.db" "$m"; before=$before_main
        else cp "$OP_TPL" "$m"; before=${BEFORE[attach]}; fi
        cp "$W/recv_h.db" "$r"
        local opened
        opened=$(wc -l < "$BAIT.opened")
        run_action "$mode" "$action" "$trust" "$m" "$r" "$W/case"
        local rc ST LOG STATE
        slurp "$W/case.rc" rc; rc=${rc%$'\n'}
        slurp "$W/case.st" ST
        slurp "$W/case.log" LOG
        if [ "$rc" = 124 ]; then why="blocked (timeout): a FIFO was opened without O_NONBLOCK"; fi
        if [ -z "$why" ] && bait_touched "$BAIT" "$opened"; then
          why="touched the bait: $(grep -m1 -o "\"$BAIT[^\"]*\"" "$W/case.st" || echo the FIFO)"
        fi
        if [ -z "$why" ]; then
          local d
          if [ "$mode" = main ] && cmp -s "$m" "$W/main_h.db"; then d=$before
          elif [ "$mode" = attach ] && cmp -s "$m" "$OP_TPL"; then d=$before
          else d=$(digest "$m"); fi
          if [ "$d" != "$before" ] && [ "$d" != "${CTRL_DIGEST[$a]}" ]; then why="the operator's database changed"; fi
        fi
        if [ -z "$why" ]; then
          state_line
          # The operator's own first statement (the switch to their
          # contracts) fails too when the schema is malformed: then the
          # state to expect is the one without the switch.
          local want=${CTRL_STATE[$a]}
          [[ $LOG == *SWITCH\|* ]] || [ "$action" = prune_sql ] || want=$NOSWITCH_STATE
          if [ -z "$STATE" ]; then
            if [[ $LOG != *'malformed database schema'* ]] && ! { [ "$action" = prune_sql ] && [ "$rc" != 0 ]; }; then
              why="no STATE line: ${LOG: -300}"
            fi
          elif [ "$STATE" != "$want" ]; then
            why="connection state changed: $STATE"
          fi
        fi
        local verdict=PASS
        if [ -n "$why" ]; then
          if is_known_open "$label"; then verdict=XFAIL; else verdict=FAIL; fi
        fi
        echo "$verdict $obj $label $sp $a $(outcome) ${why//$'\n'/ }" >> "$res"
      done
    done
  done
}

if [ "${1:-}" = --worker ]; then
  # Called by the main process below, with its environment.
  worker "$2"
  exit 0
fi

# ---- main --------------------------------------------------------------------------

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export T SO SQLITE3 ROOT
OPC=$T/opcontracts
LIB=$T/lib
OP_TPL=$T/op_tpl.db
export OPC LIB OP_TPL
mkdir -p "$LIB"
cp -r "$ROOT/contracts" "$OPC"
ln -s "$SO" "$LIB/voxtelem.so"
build_op "$OP_TPL"
unset VOXTELEM_CONTRACTS
# The state of a session whose switch to $OPC failed (malformed schema).
NOSWITCH_STATE=$(echo "$STATE_SQL" | "$SQLITE3" -batch -cmd ".load $SO" "$OP_TPL")
export NOSWITCH_STATE

STRACE=
if command -v strace > /dev/null && strace -f -qq -e trace=%file -o /dev/null true 2> /dev/null; then
  STRACE=strace
else
  echo "hostile_schema: strace unavailable: file opens are seen through the FIFO and the state only"
fi
export STRACE
BAIT=$T/bait.pos
WRITER=
trap '[ -n "$WRITER" ] && kill "$WRITER" 2> /dev/null; rm -rf "$T"' EXIT
make_bait "$BAIT"

# Positive controls: each entry run by the operator as a top-level statement
# must be seen by the detectors (else the matrix could not see it either).
W=$T/pos
mkdir -p "$W"
LIVE=()
for e in "${ENTRIES[@]}"; do
  IFS='|' read -r label tvf scalar setup <<< "$e"
  seen=
  for expr in "$tvf" "$scalar"; do
    expr=${expr//@BAIT@/$BAIT}
    cp "$OP_TPL" "$W/op.db"
    cp "$OP_TPL" "$W/ctl.db"
    rc=0
    opened=$(wc -l < "$BAIT.opened")
    : > "$W/pos.st"
    {
      echo "SELECT 'SWITCH', contracts FROM telem_use_contracts('$OPC');"
      echo "${setup:-}"
      echo "SELECT $expr;"
      echo "$STATE_SQL"
    } | (cd "$W" && timeout 20 ${STRACE:+strace -f -qq -e trace=%file -o "$W/pos.st"} "$SQLITE3" -batch -cmd ".load $SO" "$W/op.db") > "$W/pos.log" 2>&1 || rc=$?
    { echo "SELECT 'SWITCH', contracts FROM telem_use_contracts('$OPC');"; echo "${setup:-}"; echo "$STATE_SQL"; } |
      "$SQLITE3" -batch -cmd ".load $SO" "$W/ctl.db" > "$W/ctl.log" 2>&1 || true
    ST=$(cat "$W/pos.st")
    if [ "$rc" = 124 ] || bait_touched "$BAIT" "$opened" ||
       [ "$(digest "$W/op.db")" != "$(digest "$W/ctl.db")" ] ||
       [ "$(grep '^STATE|' "$W/pos.log" || true)" != "$(grep '^STATE|' "$W/ctl.log" || true)" ]; then
      seen=1
    fi
  done
  if [ -n "$seen" ]; then
    LIVE+=("$label")
  elif grep -Eq 'no such (function|table)' "$W/pos.log"; then
    echo "hostile_schema: entry $label: absent on this branch (no such function/table)"
  else
    echo "hostile_schema: FAIL: entry $label exists but its effect is invisible to the detectors"
    echo "  (fix its arguments or give it a setup in ENTRIES):"
    cat "$W/pos.log"
    exit 1
  fi
done
echo "hostile_schema: entries live on this branch (effect seen when the operator runs them): ${LIVE[*]}"

printf '%s\n' "${OBJECTS[@]}" | xargs -P "${HOSTILE_JOBS:-2}" -I{} bash "$SELF" --worker {}

# Writable tables: a trigger that writes into telem_retention (which writes
# the operator's telem_retention_policy) when the operator inserts a row,
# in the received database attached or opened as main.
W=$T/writable
mkdir -p "$W"
WRITES=("INSERT INTO telem_retention(table_name, kind, days, time_column, rationale) VALUES ('accounts', 'ms_days', 1, 'created', 'planted')"
        "UPDATE telem_retention SET days = 1 WHERE table_name = 'research_metrics'"
        "DELETE FROM telem_retention")
for w in "${WRITES[@]}"; do
  for mode in attach main; do
    "$SQLITE3" -batch "$W/r.db" "DROP TABLE IF EXISTS h; CREATE TABLE h(a);
      CREATE TRIGGER hw AFTER INSERT ON h BEGIN $w; END;"
    cp "$OP_TPL" "$W/m.db"
    if [ "$mode" = main ]; then
      "$SQLITE3" -batch "$W/m.db" "CREATE TABLE h(a); CREATE TRIGGER hw AFTER INSERT ON h BEGIN $w; END;"
    fi
    before=$(digest "$W/m.db")
    for trust in ON OFF; do
      p=; [ "$mode" = attach ] && p=r.
      out=$({ echo "PRAGMA trusted_schema=$trust;"; [ "$mode" = attach ] && echo "ATTACH '$W/r.db' AS r;"
              echo "INSERT INTO ${p}h VALUES (1);"; echo "$STATE_SQL"; } |
            "$SQLITE3" -batch -cmd ".load $SO" "$W/m.db" 2>&1 || true)
      LOG=$out; state_line
      if [ "$(digest "$W/m.db")" != "$before" ] || [ "$STATE" != "$NOSWITCH_STATE" ]; then
        echo "FAIL writable - - $mode:trigger-writes-telem_retention:$trust $(outcome) $w changed the policy: $out" >> "$T/all"
      else
        echo "PASS writable - - $mode:trigger-writes-telem_retention:$trust $(outcome)" >> "$T/all"
      fi
    done
  done
done

cat "$T"/res.* >> "$T/all"
# HOSTILE_RESULTS=<file> keeps every case's line (verdict, object, entry,
# spelling, action, outcome, reason).
if [ -n "${HOSTILE_RESULTS:-}" ]; then cp "$T/all" "$HOSTILE_RESULTS"; fi
total=$(wc -l < "$T/all")
pass=$(grep -c '^PASS ' "$T/all" || true)
xfail=$(grep -c '^XFAIL ' "$T/all" || true)
fail=$(grep -c '^FAIL ' "$T/all" || true)
echo "hostile_schema: ${#OBJECTS[@]} objects x ${#ENTRIES[@]} entries x 2 spellings x $NACTIONS operator actions" \
     "= $((${#OBJECTS[@]} * ${#ENTRIES[@]} * 2 * NACTIONS)) cases, in $((total - ${#WRITES[@]} * 4)) sessions;" \
     "and $((${#WRITES[@]} * 4)) triggers writing telem_retention"
echo "hostile_schema: PASS $pass, XFAIL $xfail (known open: ${KNOWN_OPEN[*]}), FAIL $fail"
echo "hostile_schema: why nothing happened, in the passing cases:"
awk '$1 == "PASS" {print $6}' "$T/all" | sort | uniq -c | sed 's/^/  /'
if [ "$xfail" -gt 0 ]; then
  echo "hostile_schema: XFAIL cases (open on this branch), by entry and action:"
  awk '$1 == "XFAIL" {print $3, $4, $5}' "$T/all" | sort | uniq -c | sed 's/^/  /' | head -40
fi
status=0
for k in "${KNOWN_OPEN[@]}"; do
  [ -z "${HOSTILE_OBJECTS:-}" ] || break # a subset may not reach them
  if ! grep -q "^XFAIL [^ ]* $k " "$T/all"; then
    echo "hostile_schema: XPASS: $k no longer fails: remove it from KNOWN_OPEN"
    status=1
  fi
done
if [ "$fail" -gt 0 ]; then
  echo "hostile_schema: FAIL cases:"
  grep '^FAIL ' "$T/all" | head -40
  status=1
fi
[ "$status" = 0 ] && echo "hostile_schema: ok"
exit $status
