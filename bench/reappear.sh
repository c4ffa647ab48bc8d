#!/usr/bin/env bash
# How fast a returning camera is on air again without MediaMTX events: the feed drops for OUTAGE_S,
# comes back, and is timed to the worker's read and to its picture on the program output, with the
# probe of an empty path (RECONNECT__PROBEINTERVALMS) and without it (backoff only), against a reader
# of the feed itself as the baseline. Run it on a quiet machine (/work/tools/quiet bench/reappear.sh).
# Usage: bench/reappear.sh [markdown-out]   (env: REPS=20 OUTAGE_S=5 MODES=500,0)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

REPS=${REPS:-20}
OUTAGE_S=${OUTAGE_S:-5}
MODES=${MODES:-500,0}
OUT_MD=${1:-}
WORK=$(mktemp -d /tmp/bench-reappear.XXXXXX)

echo "reappear: $REPS returns per mode ($MODES), ${OUTAGE_S} s outages ..." >&2
{
  echo "## Time to reappear after a feed returns (bench/reappear.sh)"
  echo
  echo "Headless worker (\`MixerWorker.dll run\`, no Redis, no MediaMTX events), stand-in, feed and readers in the bench process; SRT latency ${SRT__LATENCYMS} ms (worker), 80 ms (readers)."
  echo
} >"$WORK/report.md"
BENCH_WORKER_LOG="$WORK/worker.log" dotnet "$TESTBED_DLL" reappear --worker "$WORKER_DLL" --reps "$REPS" --outage "$OUTAGE_S" \
  --modes "$MODES" --out "$WORK/report.md" 2>"$WORK/reappear.log" >/dev/null \
  || { echo "reappear failed; see $WORK/reappear.log and $WORK/worker.log" >&2; tail -20 "$WORK/reappear.log" >&2; exit 1; }
cat "$WORK/report.md"
[ -z "$OUT_MD" ] || cat "$WORK/report.md" >>"$OUT_MD"
