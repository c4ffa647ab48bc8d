#!/usr/bin/env bash
# Calibrates the fleet's cost model (FLEET__COST__*): the worker runs scenes of different sizes, inputs,
# buses and boxes headless; its CPU is fitted by least squares to the model's terms (docs/fleet.md).
# Usage: bench/fleet-cost.sh [markdown-out]   (env: REPS=2 WARMUP_S=6 WINDOW_S=12)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

OUT_MD=${1:-}
WORK=$(mktemp -d /tmp/bench-cost.XXXXXX)
echo "cost model calibration ..." >&2
dotnet "$TESTBED_DLL" costbench --worker "$WORKER_DLL" --reps "${REPS:-2}" --warmup "${WARMUP_S:-6}" --window "${WINDOW_S:-12}" \
  --out "$WORK/report.md" >"$WORK/costbench.log" 2>&1 \
  || { echo "costbench failed; see $WORK/costbench.log" >&2; tail -20 "$WORK/costbench.log" >&2; exit 1; }
cat "$WORK/report.md"
[ -z "$OUT_MD" ] || cat "$WORK/report.md" >>"$OUT_MD"
