#!/bin/sh
# Linearizability, faultline beside Porcupine (Go), in the same session:
#
#   PORCUPINE_SRC=/path/to/porcupine benches/porcupine.sh [RUNS] [ROUNDS]
#
# PORCUPINE_SRC is a checkout of github.com/anishathalye/porcupine (any commit
# whose go.mod accepts the local Go; needs `go`, Debian's golang-go 1.19 does).
# Builds, offline, our Go driver benches/porcupine/ against that checkout (a
# generated -modfile whose `replace` points at it; nothing is downloaded) and
# faultline's `linear_time` example, writes the simulated history, then runs
# ROUNDS (default 3) rounds, each alternating the two tools, RUNS (default 10)
# timed runs per case and tool:
#   sim  the cas-register history of `simulate --ops 100000 --keys 50
#        --processes 50 --crash 0.02 --seed 1` (50 keys), 1 and 2 threads
#        (GOMAXPROCS / --threads);
#   kv   Porcupine's kv c50-ok (1712 ops by 50 clients over 10 keys), 1 and 2;
#   etcd all 102 Porcupine etcd logs, one after another, 2 threads (each log is
#        one register, so one search at a time either way).
# Only the check itself is timed (parsing excluded), in memory. Prints each
# round's lines, then per case and thread count the median and range over all
# RUNS x ROUNDS runs of each tool and the ratio of medians (Porcupine /
# faultline), and checks that both tools give the same verdicts.
set -eu
: "${PORCUPINE_SRC:?set PORCUPINE_SRC to a Porcupine checkout}"
RUNS=${1:-10}
ROUNDS=${2:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${FAULTLINE_CORPUS:-$ROOT/../shared/corpus}
C=$CORPUS/porcupine/test_data
W=$(mktemp -d /tmp/porcupine-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT

cp "$ROOT/benches/porcupine/go.mod" "$W/go.mod"
(cd "$ROOT/benches/porcupine" &&
  go mod edit -modfile="$W/go.mod" -replace "github.com/anishathalye/porcupine=$(cd "$PORCUPINE_SRC" && pwd)" &&
  GOFLAGS=-mod=mod GOPROXY=off go build -modfile="$W/go.mod" -o "$W/porcupine-bench" .)
(cd "$ROOT" && cargo build -q --release -p faultline-checkers --example linear_time --example simulate)
"$ROOT/target/release/examples/simulate" --ops 100000 --keys 50 --processes 50 --crash 0.02 --seed 1 > "$W/sim.edn"

echo "go: $(go version)"
echo "porcupine: $(git -C "$PORCUPINE_SRC" log -1 --format='%H %cs' 2>/dev/null || echo "${PORCUPINE_COMMIT:-commit unknown}")"
echo "faultline: $(git -C "$ROOT" log -1 --format='%h %cs' 2>/dev/null || echo unknown)"
echo "cpus: $(nproc); before: $(uptime)"
P=$W/porcupine-bench
F=$ROOT/target/release/examples/linear_time
r=1
while [ "$r" -le "$ROUNDS" ]; do
  echo "round $r: $(uptime)"
  for t in 1 2; do
    GOMAXPROCS=$t "$P" -runs "$RUNS" -sim "$W/sim.edn" -kv "$C/kv/c50-ok.txt"
    "$F" --runs "$RUNS" --threads "$t" --sim "$W/sim.edn" --kv "$C/kv/c50-ok.txt"
  done
  GOMAXPROCS=2 "$P" -runs "$RUNS" -etcd "$C/jepsen"
  "$F" --runs "$RUNS" --threads 2 --etcd "$C/jepsen"
  r=$((r + 1))
done | tee "$W/out"
echo "after: $(uptime)"

echo "summary over $ROUNDS rounds x $RUNS runs (ms): median (range)"
grep '^  times ' "$W/out" | awk '
  { k = $3 " " $4; sub(":", "", k); for (i = 5; i <= NF; i++) t[$2, k] = t[$2, k] " " $i; keys[k] }
  END {
    for (k in keys) {
      line = k ":"
      for (tool = 0; tool < 2; tool++) {
        name = tool ? "faultline" : "porcupine"
        m = split(substr(t[name, k], 2), a, " ")
        for (i = 1; i <= m; i++) a[i] += 0
        # insertion sort (a few dozen values)
        for (i = 2; i <= m; i++) { v = a[i]; j = i - 1; while (j > 0 && a[j] > v) { a[j + 1] = a[j]; j-- } a[j + 1] = v }
        med[tool] = (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
        line = line sprintf("  %s %.1f (%.1f-%.1f)", name, med[tool], a[1], a[m])
      }
      printf "%s  ratio %.1fx\n", line, med[0] / med[1]
    }
  }' | sort
# Same verdicts: the "N linearizable" counts per case, and etcd per file.
grep -E '^(porcupine|faultline) ' "$W/out" | sed -E 's/^(porcupine|faultline) ([a-z]+): [0-9]+ histories, [0-9]+ ops, ([0-9]+) linearizable.*/\2 \3/' | sort -u > "$W/counts"
grep '^  verdict ' "$W/out" | sort -u > "$W/verdicts"
if [ "$(cut -d' ' -f1 "$W/counts" | uniq -d | wc -l)" -eq 0 ] && [ "$(awk '{print $2}' "$W/verdicts" | uniq -d | wc -l)" -eq 0 ]; then
  echo "verdicts: the same ($(tr '\n' ' ' < "$W/counts")linearizable; etcd per file identical)"
else
  echo "verdicts: DIFFERENT"; cat "$W/counts"; awk '{print $2}' "$W/verdicts" | uniq -d; exit 1
fi
