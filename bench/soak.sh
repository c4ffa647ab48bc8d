#!/usr/bin/env bash
# A long show on one worker process, for leaks and drift (not in CI): 3 cameras into Program (a cut
# every few seconds) and AUX1 (2x2 grid), a camera dropped and restored every minute, a garbage feed
# every ten minutes; the worker's RSS, threads, open file descriptors and CPU and both outputs' frame gaps sampled every 10 s.
# Writes bench/results/<date>-<host>-soak.md and .csv (unless an output file is given).
# Usage: bench/soak.sh [markdown-out]
#   env: SOAK_MINUTES=60 WARMUP_MINUTES=5 COMMAND_S=3 DROP_EVERY_S=60 DROP_FOR_S=15 GARBAGE_EVERY_MIN=10
#        GARBAGE_FOR_S=60 SAMPLE_S=10 SOAK_WIDTH=640 SOAK_HEIGHT=360 SOAK_FPS=30 BENCH_PORT BENCH_REDIS_PORT=18892
# On the shared development machine run it through /work/tools/quiet so the figures are the worker's.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

MINUTES=${SOAK_MINUTES:-60}
REDIS_PORT=${BENCH_REDIS_PORT:-18892}
STAMP=$(date -u +%Y-%m-%d-%H%M)
OUT_MD=${1:-$BENCH_DIR/results/$STAMP-$(hostname -s)-soak.md}
OUT_CSV=${OUT_MD%.md}.csv
WORK=$(mktemp -d /tmp/bench-soak.XXXXXX)
command -v redis-server >/dev/null || { echo "needs redis-server (apt-get install -y redis-server)" >&2; exit 1; }
[ -f "$WORKER_DLL" ] && [ -f "$TESTBED_DLL" ] || { echo "build first: ./run.sh build" >&2; exit 1; }

REDIS_PID=
cleanup() { [ -z "$REDIS_PID" ] || kill "$REDIS_PID" 2>/dev/null || true; }
trap cleanup EXIT
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
sleep 0.5

echo "soak: $MINUTES min; progress in $WORK/soak.log" >&2
{
  echo "## Soak (bench/soak.sh)"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M') UTC, $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), GStreamer $(gst-launch-1.0 --version | sed -n 's/.*version //p' | head -1), commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')."
  echo "Worker: daemon through redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), stand-in, feeds and readers in the bench process (their CPU is not the worker's); SRT latency ${SRT__LATENCYMS} ms."
  echo
} >"$WORK/report.md"
rc=0
dotnet "$TESTBED_DLL" soak --redis "127.0.0.1:$REDIS_PORT" --worker "$WORKER_DLL" --minutes "$MINUTES" \
  --warmup-minutes "${WARMUP_MINUTES:-5}" --command-seconds "${COMMAND_S:-3}" --drop-seconds "${DROP_EVERY_S:-60}" \
  --drop-for-seconds "${DROP_FOR_S:-15}" --garbage-minutes "${GARBAGE_EVERY_MIN:-10}" --garbage-for-seconds "${GARBAGE_FOR_S:-60}" \
  --sample-seconds "${SAMPLE_S:-10}" --width "${SOAK_WIDTH:-640}" --height "${SOAK_HEIGHT:-360}" --fps "${SOAK_FPS:-30}" \
  --out "$WORK/report.md" --csv "$OUT_CSV" --worker-log "$WORK/worker.log" >/dev/null 2>"$WORK/soak.log" || rc=$?
[ "$rc" -eq 0 ] || echo "soak exited $rc (1: a command went unanswered); see $WORK/soak.log and $WORK/worker.log" >&2
echo "Scratch files (worker log, progress) in $WORK; samples in $(basename "$OUT_CSV")." >>"$WORK/report.md"
mkdir -p "$(dirname "$OUT_MD")"
cat "$WORK/report.md" >>"$OUT_MD"
cat "$WORK/report.md"
exit "$rc"
