#!/bin/sh
# The long run, shortened: refkv at 1,000 ops/s with a fault every 10 s, for
# SECONDS (default 300: the 5-minute version of the one-hour run), measuring
# the controller's memory while recording, the history's size and the check.
#
#   sudo -E [KEEP=1] benches/long_run.sh [FAULTLINE] [WORKLOAD] [SECONDS]
#
# WORKLOAD defaults to `register`. Prints:
#   * the controller's resident memory sampled every second from
#     /proc/PID/status while the run records (max of VmRSS), and its peak
#     (VmHWM) over the whole command, recording, checking and report;
#   * history.jsonl.zst and the same history decompressed, in bytes;
#   * `faultline check RUN` afterwards: wall time and max RSS (/usr/bin/time).
# Needs root (network namespaces), like `faultline test`.
set -eu
FL=${1:-target/release/faultline}
WL=${2:-register}
SECS=${3:-300}
W=$(mktemp -d /tmp/long-run.XXXXXX)
# KEEP=1 keeps the scratch store (its path is printed) to look at afterwards.
if [ "${KEEP:-0}" = 1 ]; then echo "store: $W/store"; else trap 'rm -rf "$W"' EXIT; fi
"$FL" test --store "$W/store" --workload "$WL" --time-limit "$SECS" --rate 1000 \
  --nemesis-interval 10 -q > "$W/out" 2>&1 &
PID=$!
START=$(date +%s)
MAXREC=0; HWM=0
while kill -0 $PID 2>/dev/null; do
  RSS=$(awk '/^VmRSS/ {print $2}' /proc/$PID/status 2>/dev/null || echo 0)
  H=$(awk '/^VmHWM/ {print $2}' /proc/$PID/status 2>/dev/null || echo 0)
  [ -n "$H" ] && [ "$H" -gt "$HWM" ] && HWM=$H
  NOW=$(date +%s)
  if [ $((NOW - START)) -le "$SECS" ] && [ -n "$RSS" ] && [ "$RSS" -gt "$MAXREC" ]; then
    MAXREC=$RSS
  fi
  sleep 1
done
wait $PID || true
END=$(date +%s)
RUN=$(readlink -f "$W/store/latest")
tail -3 "$W/out" | grep -E "ops in|verdict" || true
echo "whole command (record + check + report): $((END - START)) s"
echo "controller RSS while recording: max $((MAXREC / 1024)) MiB (sampled every 1 s); peak over the command (VmHWM): $((HWM / 1024)) MiB"
echo "history.jsonl.zst: $(stat -c %s "$RUN/history.jsonl.zst") bytes; decompressed: $(zstd -q -d -c "$RUN/history.jsonl.zst" | wc -c) bytes"
echo "run directory: $(du -sb "$RUN" | cut -f1) bytes:"
du -ab "$RUN" | sort -rn | sed -n '2,6p' | sed "s|$RUN/|  |"
/usr/bin/time -f "check: %e s wall, %M KB max RSS" "$FL" check "$RUN" --json > /dev/null 2> "$W/check.err" || true
tail -1 "$W/check.err"
