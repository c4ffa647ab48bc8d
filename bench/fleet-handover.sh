#!/usr/bin/env bash
# A show handed over between worker processes: three workers, one project; RUNS x kill -9 of its owner
# then RUNS x SIGTERM; at an output reader through the MediaMTX stand-in: time to the successor's publish
# connection, to its first Program frame, and the largest gap between frames. A fresh worker replaces
# each stopped one. Worker logs stay in the scratch directory.
# Usage: bench/fleet-handover.sh [markdown-out]   (env: RUNS=20 MODES=kill,term WIDTH=640 HEIGHT=360 BENCH_REDIS_PORT=18892,
#        and any FLEET__* setting to try, e.g. FLEET__LEASETTLMS=1500 or FLEET__PREPAREEARLY=false)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-20}
REDIS_PORT=${BENCH_REDIS_PORT:-18892}
OUT_MD=${1:-}
WORK=$(mktemp -d /tmp/bench-fleet.XXXXXX)
command -v redis-server >/dev/null || { echo "needs redis-server (apt-get install -y redis-server)" >&2; exit 1; }

REDIS_PID=
cleanup() { [ -z "$REDIS_PID" ] || kill "$REDIS_PID" 2>/dev/null || true; }
trap cleanup EXIT
# setpriv: the kernel kills redis-server when this script dies, even by kill -9 (no trap runs then).
setpriv --pdeathsig KILL -- redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
sleep 0.5

MODES=${MODES:-kill,term}
echo "fleet hand-over: $RUNS runs each of $MODES ..." >&2
overrides=$(env | grep '^FLEET__' | sort | tr '\n' ' ' | sed 's/ $//' || true)
{
  echo "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') on loopback; lease TTL ${FLEET__LEASETTLMS:-2000} ms, renewed every ${FLEET__RENEWINTERVALMS:-500} ms; FLEET__* set for the run: ${overrides:-none}."
  echo
} >"$WORK/report.md"
dotnet "$TESTBED_DLL" fleetbench --redis "127.0.0.1:$REDIS_PORT" --worker "$WORKER_DLL" --runs "$RUNS" --modes "$MODES" \
  --width "${WIDTH:-640}" --height "${HEIGHT:-360}" --logs "$WORK" --out "$WORK/report.md" >"$WORK/fleetbench.log" 2>&1 \
  || { echo "fleetbench failed; see $WORK/fleetbench.log and the worker logs in $WORK" >&2; tail -20 "$WORK/fleetbench.log" >&2; exit 1; }
errors=$(cat "$WORK"/w*.log | grep -cE ' (ERR|FTL) ' || true)
echo "Worker logs: $errors error line(s); scratch files in $WORK." >>"$WORK/report.md"
echo >>"$WORK/report.md"
cat "$WORK/report.md"
[ -z "$OUT_MD" ] || cat "$WORK/report.md" >>"$OUT_MD"
