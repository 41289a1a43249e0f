#!/usr/bin/env bash
# bench/scale_governance.sh -- issue 18 row 7: the view telem_governance_summary
# (sql/governance.sql) against a GROUP BY over plain columns of the same rows,
#   SELECT metric_type, count(*), min(created_at), max(created_at)
#   FROM research_metrics GROUP BY 1
# measured in the same sqlite3 session, on research_metrics rows shaped as
# Vox writes them (tools/vox_rows.py's producers: 100,000 distinct rows,
# repeated up to the size) in a database file.  Also shown: telem_classify
# over every payload alone.
#
# Each query runs 3 times; the best CPU time (user + sys) counts, and the
# wall time of that run is shown.  Prints, per size, view / GROUP BY, and
# flags a size whose view cost per row grew more than 2x from the previous.
#
#   GOV_ROWS="500000 5000000" bench/scale_governance.sh   # the sizes of issue 18
# (default "50000 500000"; 5M rows make a 1.5 GB database under $TMPDIR).
set -euo pipefail
SO=${VOXTELEM_SO:-$PWD/voxtelem.so}
SQLITE3=${SQLITE3:-sqlite3}
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
SIZES=${GOV_ROWS:-50000 500000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

gen() { # ROWS DB
  "$PYTHON" - "$1" "$2" <<'PY'
import importlib.util, random, sqlite3, sys
spec = importlib.util.spec_from_file_location("vox_rows", "tools/vox_rows.py")
vr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(vr)
rows, path = int(sys.argv[1]), sys.argv[2]
con = sqlite3.connect(path)
con.executescript(open("sql/schema/research_metrics.sql").read())
r = random.Random(11)
uniq = min(rows, 100000)
data = []
for i in range(uniq):
    s, mt, v, m = vr.PRODUCERS[i % len(vr.PRODUCERS)](r)
    data.append((s, mt, v, m, "2026-%02d-%02d %02d:%02d:%02d" % (1 + i % 12, 1 + i % 28, i % 24, i % 60, (i // 60) % 60)))
ins = "INSERT INTO research_metrics(session_id, metric_type, metric_value, metadata_json, created_at) "
con.executemany(ins + "VALUES (?,?,?,?,?)", data)
done = uniq
while done < rows:
    k = min(uniq, rows - done)
    con.execute(ins + "SELECT session_id, metric_type, metric_value, metadata_json, created_at "
                "FROM research_metrics WHERE id <= ?", (k,))
    done += k
con.commit()
PY
}

prev=""
echo "telem_governance_summary vs GROUP BY on plain columns (best of 3, CPU s; wall s of that run)"
printf '  %-9s %-16s %-16s %-16s %s\n' rows "GROUP BY" view "classify alone" "view / GROUP BY"
for n in $SIZES; do
  db=$dir/gov$n.db
  rm -f "$db"
  gen "$n" "$db"
  {
    echo ".load ${SO%.so}"
    echo ".read sql/governance.sql"
    echo ".timer on"
    for _ in 1 2 3; do
      echo ".print T plain"
      echo "SELECT metric_type, count(*), min(created_at), max(created_at) FROM research_metrics GROUP BY 1;"
      echo ".print T view"
      echo "SELECT * FROM telem_governance_summary;"
      echo ".print T classify"
      echo "SELECT count(telem_classify(metric_type, metadata_json)) FROM research_metrics;"
    done
  } > "$dir/q.sql"
  "$SQLITE3" -batch -bail "$db" < "$dir/q.sql" > "$dir/out.txt" 2>&1 || { cat "$dir/out.txt"; exit 1; }
  rm -f "$db"
  read -r pc pw vc vw cc cw < <(awk '
    /^T / { l = $2; next }
    /^Run Time: real/ { c = $6 + $8; if (!(l in b) || c < b[l]) { b[l] = c; w[l] = $4 } }
    END { printf "%f %f %f %f %f %f\n", b["plain"], w["plain"], b["view"], w["view"], b["classify"], w["classify"] }' "$dir/out.txt")
  per=$(awk -v v="$vc" -v n="$n" 'BEGIN { printf "%.9f", v / n }')
  flag=""
  if [ -n "$prev" ] && awk -v a="$per" -v b="$prev" 'BEGIN { exit !(a > 2 * b) }'; then
    flag="  FLAG: view cost per row grew more than 2x"
  fi
  prev=$per
  printf '  %-9s %6.3f (%6.3f)  %6.3f (%6.3f)  %6.3f (%6.3f)  %.2f%s\n' "$n" "$pc" "$pw" "$vc" "$vw" "$cc" "$cw" \
    "$(awk -v a="$vc" -v b="$pc" 'BEGIN { printf "%.2f", a / b }')" "$flag"
done
