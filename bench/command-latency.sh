#!/usr/bin/env bash
# Operator command latency through a real redis-server and a worker process (XADD → commandApplied,
# XADD → the new source on the program output), the three ways of reading a stream, and the time a
# SIGKILLed worker takes to converge once started again.
# Usage: bench/command-latency.sh [markdown-out]   (env: COUNT=100 RESTARTS=3 READ_MODES=200 BENCH_REDIS_PORT=18891)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

COUNT=${COUNT:-100}
RESTARTS=${RESTARTS:-3}
READ_MODES=${READ_MODES:-200}
REDIS_PORT=${BENCH_REDIS_PORT:-18891}
OUT_MD=${1:-}
WORK=$(mktemp -d /tmp/bench-cmd.XXXXXX)
command -v redis-server >/dev/null || { echo "needs redis-server (apt-get install -y redis-server)" >&2; exit 1; }

REDIS_PID=
cleanup() { stop_helpers; [ -z "$REDIS_PID" ] || kill "$REDIS_PID" 2>/dev/null || true; }
trap cleanup EXIT
# No persistence, no password: a local scratch server (the password path is covered by the tests).
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
# Helpers live for the whole run: read modes (~3 x READ_MODES x 35 ms), commands (~0.6 s each), restarts (~15 s each).
start_helpers "$WORK" $(( READ_MODES * 3 / 25 + COUNT + RESTARTS * 20 + 90 ))

echo "command latency: $COUNT commands, $RESTARTS restarts ..." >&2
{
  echo "## Command latency (bench/command-latency.sh)"
  echo
  echo "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') on loopback; worker and reader on the same machine; SRT latency ${SRT__LATENCYMS} ms (worker), 80 ms (reader)."
  echo
} >"$WORK/report.md"
BENCH_WORKER_LOG="$WORK/worker.log" dotnet "$TESTBED_DLL" cmdbench --redis "127.0.0.1:$REDIS_PORT" --worker "$WORKER_DLL" \
  --port "$BENCH_PORT" --count "$COUNT" --restarts "$RESTARTS" --read-modes "$READ_MODES" --out "$WORK/report.md" >"$WORK/cmdbench.log" 2>&1 \
  || { echo "cmdbench failed; see $WORK/cmdbench.log and $WORK/worker.log" >&2; tail -20 "$WORK/cmdbench.log" >&2; exit 1; }
errors=$(grep -cE ' (ERR|FTL) ' "$WORK/worker.log" || true)
echo "Worker log: $errors error line(s); scratch files in $WORK." >>"$WORK/report.md"
echo >>"$WORK/report.md"
cat "$WORK/report.md"
[ -z "$OUT_MD" ] || cat "$WORK/report.md" >>"$OUT_MD"
