#!/bin/sh
# Elle-style checking from the command line, parsing included.
#
#   benches/elle_cli.sh [TXNS] [REPEATS] [FAULTLINE]
#
# Generates a TXNS-transaction (default 1,000,000) list-append history of a
# simulated strict-serializable store as JSON Lines (10 keys live at a time,
# 20 clients, up to 4 micro-operations per transaction, seed 1: the history
# `cargo bench -p faultline-checkers --bench elle` checks in memory), then
# times `faultline check FILE --workload list-append` REPEATS times (default
# 3) with /usr/bin/time: wall seconds, transactions per second and peak
# resident memory of each run, then the median and range. Every run must say
# `valid` (the history is strict serializable by construction). Extra
# arguments for `faultline check` go in $CHECK_ARGS, e.g. CHECK_ARGS="--checker
# elle" for Elle alone (the figure the issue-22 goal of 250,000 txn/s is
# measured by), unset for every default checker of the workload.
# Release builds:
#
#   cargo build --release --bin faultline
#   cargo build --release -p faultline-checkers --example simulate_txns
#
# The history is written to $ELLE_BENCH_DIR (default /tmp) and removed after.
set -eu
N=${1:-1000000}
R=${2:-3}
FL=${3:-target/release/faultline}
SIM=${SIM:-target/release/examples/simulate_txns}
DIR=${ELLE_BENCH_DIR:-/tmp}
H=$(mktemp "$DIR/elle-cli.XXXXXX.jsonl")
T=$(mktemp "$DIR/elle-cli.XXXXXX.times")
trap 'rm -f "$H" "$T" "$T.out" "$T.verdict"' EXIT
"$SIM" --txns "$N" --keys 10 --processes 20 --seed 1 > "$H"
echo "history: $N transactions, $(stat -c %s "$H") bytes of JSON Lines"
i=0
while [ "$i" -lt "$R" ]; do
  /usr/bin/time -f '%e %M' -o "$T.out" "$FL" check "$H" --workload list-append ${CHECK_ARGS:-} > "$T.verdict" 2>&1 || true
  if ! head -1 "$T.verdict" | grep -q ': valid$'; then
    echo "not valid:"; head -5 "$T.verdict"; rm -f "$T.verdict"; exit 1
  fi
  read -r secs kb < "$T.out"
  echo "$secs $kb" >> "$T"
  awk -v s="$secs" -v kb="$kb" -v n="$N" 'BEGIN {printf "run: %.2f s, %d txn/s, peak %.2f GiB\n", s, n / s, kb / 1048576}'
  i=$((i + 1))
done
rm -f "$T.verdict"
sort -n "$T" | awk -v n="$N" '{s[NR]=$1; m[NR]=$2} END {
  printf "median %.2f s (%d txn/s), range %.2f-%.2f s, n=%d\n", s[int((NR+1)/2)], n / s[int((NR+1)/2)], s[1], s[NR], NR
}'
sort -n -k2 "$T" | awk '{m[NR]=$2} END {printf "peak RSS: median %.2f GiB, range %.2f-%.2f GiB\n", m[int((NR+1)/2)] / 1048576, m[1] / 1048576, m[NR] / 1048576}'
