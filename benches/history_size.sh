#!/bin/sh
# History size and check time, compressed against plain, on one default run.
#
#   sudo -E benches/history_size.sh [FAULTLINE] [REPEATS]
#
# Runs the default `faultline test` (refkv, `set`, 30 s at 1,000 ops/s) into a
# scratch store, then:
#   * size: the recorded history.jsonl.zst, the same history decompressed
#     (what a plain history.jsonl of the run is: the earlier format), and the
#     whole run directory;
#   * check time: `faultline check RUN` on the run as recorded, and on a copy
#     whose history is the plain history.jsonl — REPEATS (default 5) each,
#     alternating, median and range of wall time;
#   * equality: the two checks' results.json, compared byte for byte.
# Needs root (network namespaces), like `faultline test`.
set -eu
FL=${1:-target/release/faultline}
N=${2:-5}
W=$(mktemp -d /tmp/history-size.XXXXXX)
trap 'rm -rf "$W"' EXIT
"$FL" test --store "$W/store" -q >/dev/null 2>&1 || true   # exit 1 = anomalies; still a run
RUN=$(readlink -f "$W/store/latest")
Z="$RUN/history.jsonl.zst"
mkdir -p "$W/plain"
cp "$RUN/test.json" "$W/plain/"
zstd -q -d -c "$Z" > "$W/plain/history.jsonl"
cp -r "$RUN" "$W/zst"
echo "history.jsonl.zst: $(stat -c %s "$Z") bytes"
echo "history.jsonl (the same events, plain): $(stat -c %s "$W/plain/history.jsonl") bytes"
echo "run directory: $(du -sb "$RUN" | cut -f1) bytes"
: > "$W/t.zst"; : > "$W/t.plain"
i=0
while [ $i -lt "$N" ]; do
  for form in zst plain; do
    s=$(date +%s%N)
    "$FL" check "$W/$form" --json > /dev/null 2>&1 || true
    e=$(date +%s%N)
    echo $(( (e - s) / 1000000 )) >> "$W/t.$form"
  done
  i=$((i + 1))
done
for form in zst plain; do
  sort -n "$W/t.$form" | awk -v f="$form" '{a[NR]=$1} END {printf "check (%s): median %d ms, range %d-%d ms, n=%d\n", f, a[int((NR+1)/2)], a[1], a[NR], NR}'
done
if cmp -s "$W/zst/results.json" "$W/plain/results.json"; then
  echo "results.json: identical for both forms"
else
  echo "results.json: DIFFERENT"; diff "$W/zst/results.json" "$W/plain/results.json" | head -20; exit 1
fi
