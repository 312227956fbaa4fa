#!/bin/sh
# The whole register workload against the linearizability checker alone,
# from the command line, parsing included (issue 22, item 2).
#
#   benches/check_cli.sh [RUNS] [FAULTLINE...]
#
# Generates the simulated cas-register history of docs/performance.md
# (100,000 operations, 50 keys, 50 processes, 2% crashed, seed 1; 200,000
# events of EDN), then runs, RUNS times (default 7) in alternation, for each
# FAULTLINE binary given (default target/release/faultline):
#
#   faultline check H --workload cas-register --independent --json
#   faultline check H --workload cas-register --independent --json --checker linearizable
#
# timing each with /usr/bin/time (wall, and CPU = user + system). Prints the
# load average before and after, the median and range of each command, and
# the ratio of the medians (whole workload / linearizable alone). The JSON
# of every run of one command must be byte-identical across runs and
# binaries, or the script fails. Release builds:
#
#   cargo build --release --bin faultline
#   cargo build --release -p faultline-checkers --example simulate
#
# The history is written to $CHECK_BENCH_DIR (default /tmp) and removed after.
set -eu
R=${1:-7}
[ $# -gt 0 ] && shift
[ $# -eq 0 ] && set -- target/release/faultline
SIM=${SIM:-target/release/examples/simulate}
DIR=${CHECK_BENCH_DIR:-/tmp}
W=$(mktemp -d "$DIR/check-cli.XXXXXX")
trap 'rm -rf "$W"' EXIT
"$SIM" --ops 100000 --keys 50 --processes 50 --crash 0.02 --seed 1 > "$W/h.edn"
echo "history: $(wc -l < "$W/h.edn") events, $(stat -c %s "$W/h.edn") bytes of EDN"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
i=0
while [ "$i" -lt "$R" ]; do
  b=0
  for FL in "$@"; do
    b=$((b + 1))
    for which in all lin; do
      if [ "$which" = lin ]; then only="--checker linearizable"; else only=""; fi
      # shellcheck disable=SC2086
      /usr/bin/time -f '%e %U %S' -o "$W/t" "$FL" check "$W/h.edn" --workload cas-register \
        --independent --json $only > "$W/out" 2>/dev/null || true
      if ! grep -q '"valid"' "$W/out"; then
        echo "$FL ($which): no verdict"; exit 1
      fi
      if [ -f "$W/$which.json" ]; then
        if ! cmp -s "$W/out" "$W/$which.json"; then
          echo "$FL ($which): JSON differs from the first run's"; exit 1
        fi
      else
        cp "$W/out" "$W/$which.json"
      fi
      awk '{printf "%s %.2f\n", $1, $2 + $3}' "$W/t" >> "$W/$b.$which"
    done
  done
  i=$((i + 1))
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
stats() { # FILE COLUMN -> "median (min-max)"
  sort -n -k"$2" "$1" | awk -v c="$2" '{v[NR]=$c} END {printf "%.2f s (%.2f-%.2f)", v[int((NR+1)/2)], v[1], v[NR]}'
}
median() { sort -n -k"$2" "$1" | awk -v c="$2" '{v[NR]=$c} END {print v[int((NR+1)/2)]}'; }
b=0
for FL in "$@"; do
  b=$((b + 1))
  echo "$FL (n=$R):"
  echo "  whole workload:          wall $(stats "$W/$b.all" 1), CPU $(stats "$W/$b.all" 2)"
  echo "  --checker linearizable:  wall $(stats "$W/$b.lin" 1), CPU $(stats "$W/$b.lin" 2)"
  awk -v aw="$(median "$W/$b.all" 1)" -v lw="$(median "$W/$b.lin" 1)" \
    -v ac="$(median "$W/$b.all" 2)" -v lc="$(median "$W/$b.lin" 2)" \
    'BEGIN {printf "  whole / linearizable:    wall %.2fx, CPU %.2fx\n", aw / lw, ac / lc}'
done
