#!/usr/bin/env bash
# bench/scale_schema.sh -- the JSON Schema engine grown one dimension at a
# time in 10x steps (issue 18): no dimension may turn superlinear.
#
#   schema  N properties in a schema that comes from a column (the same text
#           on every row), against the same schema given as a constant plus
#           reading the column (unicode(s): SQLite loads the whole value for
#           either): compiled once per connection (LRU), not once per row
#   enum    an enum of N strings (hashed lookup)
#   keys    objects of N keys against N "properties" and N "required"
#   const   objects of N keys against a "const" of the same object, keys in
#           another order (object equality, O(n log n))
#   depth   arrays nested N deep against {"items": {"$ref": "#"}}
#   nested  the parser alone on documents of nested arrays, N groups each
#
# Each step prints the CPU time per row (user + sys, best of 3, so other
# load on the machine skews it less), its ratio to the dimension's baseline
# measured in the same run (json_valid on the same rows, with the schema
# given as a constant; for "schema" the constant schema), the cost per unit (per row for schema and enum, per
# key, level or group for the others) and how that grew from the previous
# step.  A step whose cost per unit grows more than 2x is flagged
# SUPERLINEAR and the script exits 1.
#
# SCALE_DIMS="enum keys" runs some dimensions only.
set -euo pipefail
SO=${VOXTELEM_SO:-$PWD/voxtelem.so}
SQLITE3=${SQLITE3:-sqlite3}
PYTHON=${PYTHON:-python3}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# gen DIM N ROWS DB: a table t(j, s) of ROWS rows for dimension DIM at size N
gen() {
  "$PYTHON" - "$@" <<'PY'
import json, sqlite3, sys
dim, n, rows, db = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
con = sqlite3.connect(db)
con.execute("CREATE TABLE t(j TEXT, s TEXT)")
data = []
for r in range(rows):
    if dim == "schema":
        schema = {"type": "object", "properties": {"p%d" % i: {"type": "integer", "minimum": i} for i in range(n)}}
        j = {"p%d" % i: i + r for i in range(min(n, 5))}
    elif dim == "enum":
        schema = {"enum": ["value-%d" % i for i in range(n)]}
        j = "value-%d" % ((r * 7919) % n)
    elif dim == "keys":
        schema = {"type": "object", "required": ["k%d" % i for i in range(n)],
                  "properties": {"k%d" % i: {"type": "integer"} for i in range(n)}}
        j = {"k%d" % i: i + r for i in range(n)}
    elif dim == "const":
        schema = {"const": {"k%d" % i: i for i in reversed(range(n))}}
        j = {"k%d" % i: i for i in range(n)}
    elif dim == "depth":
        schema = {"items": {"$ref": "#"}}
        j = r
        for _ in range(n):
            j = [j]
    elif dim == "nested":
        schema = {}
        j = [r] + [[[i + r, i + 1], [i * 3, True, None]] for i in range(n)]
    data.append((json.dumps(j, separators=(",", ":")), json.dumps(schema, separators=(",", ":"))))
con.executemany("INSERT INTO t VALUES (?, ?)", data)
con.commit()
PY
}

best() { # DB QUERY: best CPU seconds of 3 runs
  printf '.timer on\n%s;\n%s;\n%s;\n' "$2" "$2" "$2" |
    $SQLITE3 -batch -cmd ".load $SO" "$1" | awk '/^Run Time/ {print $6 + $8}' | sort -g | head -1
}

const_schema() { # DB: the schema text of row 1, quoted for SQL
  $SQLITE3 -batch "$1" "SELECT quote(s) FROM t LIMIT 1"
}

flagged=0
printf '%-7s %7s %6s %12s %10s %14s %8s\n' dim N rows us/row ratio "cost/unit" growth
for dim in ${SCALE_DIMS:-schema enum keys const depth nested}; do
  case $dim in
    depth) sizes="10 100 900" ;; # the parser bounds nesting at 1000
    *) sizes="10 100 1000 10000" ;;
  esac
  prev=""
  for n in $sizes; do
    case $dim in
      schema) rows=2000 ;;
      enum) rows=20000 ;;
      *) rows=$(( 400000 / n )); [ $rows -lt 50 ] && rows=50; [ $rows -gt 20000 ] && rows=20000 ;;
    esac
    db=$dir/$dim-$n.db
    gen $dim $n $rows "$db"
    if [ $dim = schema ]; then
      base=$(best "$db" "SELECT count(*) FROM t WHERE telem_validate(j, $(const_schema "$db")) AND unicode(s) > 0")
      cost=$(best "$db" "SELECT count(*) FROM t WHERE telem_validate(j, s)")
    else
      base=$(best "$db" "SELECT count(*) FROM t WHERE json_valid(j)")
      cost=$(best "$db" "SELECT count(*) FROM t WHERE telem_validate(j, $(const_schema "$db"))")
    fi
    case $dim in schema | enum) units=0 ;; *) units=$n ;; esac

    line=$(awk -v d=$dim -v n=$n -v r=$rows -v b="$base" -v c="$cost" -v u=$units -v p="$prev" 'BEGIN {
      if (b <= 0) b = 1e-6
      per = c / r * 1e6; unit = (u == 0) ? c / b : per / u
      g = (p == "" || p <= 0) ? 1 : unit / p
      printf "%-7s %7d %6d %12.2f %9.2fx %14.4f %7.2fx", d, n, r, per, c / b, unit, g
      if (p != "" && g > 2) printf "  SUPERLINEAR"
      printf "\n"
    }')
    echo "$line"
    case $line in *SUPERLINEAR*) flagged=$((flagged + 1)) ;; esac
    prev=$(awk -v r=$rows -v c="$cost" -v b="$base" -v u=$units 'BEGIN {
      if (b <= 0) b = 1e-6
      printf "%.6f", (u == 0) ? c / b : c / r * 1e6 / u }')
  done
done
echo "flagged steps: $flagged"
[ "${SCALE_STRICT:-0}" = 1 ] && [ $flagged -gt 0 ] && exit 1
exit 0
