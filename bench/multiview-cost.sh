#!/usr/bin/env bash
# CPU cost of a multiview bus: the 3-input Program+AUX1 640x360p30 mix with and without an AUX2
# multiview (640x360, every input tiled and labelled, tally borders, Program and Preview tiles),
# alternated in the same run so the difference is the multiview's alone.
# Usage: bench/multiview-cost.sh [markdown-out]   (env: REPS, WARMUP_S, WINDOW_S)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

REPS=${REPS:-3}
WARMUP_S=${WARMUP_S:-8}
WINDOW_S=${WINDOW_S:-20}
OUT_MD=${1:-}
WORK=$(mktemp -d /tmp/bench-mv.XXXXXX)
write_scene "$WORK/base.json"
# The same scene plus a multiview on aux2 and a preview on program (so the preview tile shows a source).
python3 - "$WORK/base.json" "$WORK/multiview.json" <<'PY'
import json, sys
scene = json.load(open(sys.argv[1]))
scene["buses"][0]["preview"] = {"boxes": [{"source": "cam-b", "width": 640, "height": 360}]}
scene["buses"].append({"name": "aux2", "kind": "multiview", "format": {"width": 640, "height": 360, "fps": 30, "videoBitrateKbps": 1500}})
json.dump(scene, open(sys.argv[2], "w"))
PY

trap 'stop_helpers' EXIT
start_helpers "$WORK" $(( REPS * 2 * (WARMUP_S + WINDOW_S + 12) + 30 ))

run_one() { # $1: scene file, $2: tag. Prints the worker's CPU seconds and the window.
  local scene=$1 log="$WORK/$2.log" pid c0 c1 w0 w1
  dotnet "$WORKER_DLL" run "$scene" --duration $(( WARMUP_S + WINDOW_S + 20 )) >"$log" 2>&1 &
  pid=$!
  sleep "$WARMUP_S"
  c0=$(cpu_ticks "$pid"); w0=$(date +%s.%N)
  sleep "$WINDOW_S"
  c1=$(cpu_ticks "$pid"); w1=$(date +%s.%N)
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || true
  grep -q 'aux2' "$log" || [ "$2" != "${2#base}" ] || { echo "the multiview bus did not start: see $log" >&2; exit 1; }
  awk -v c0="$c0" -v c1="$c1" -v w0="$w0" -v w1="$w1" -v hz="$CLK_TCK" 'BEGIN { printf "%.1f\n", 100 * (c1 - c0) / hz / (w1 - w0) }'
}

declare -a BASE MV
for rep in $(seq 1 "$REPS"); do
  if (( rep % 2 )); then order=(base multiview); else order=(multiview base); fi
  for kind in "${order[@]}"; do
    pct=$(run_one "$WORK/$kind.json" "$kind-$rep")
    echo "rep $rep $kind: ${pct}% of one core" >&2
    if [ "$kind" = base ]; then BASE+=("$pct"); else MV+=("$pct"); fi
  done
done

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2 }'; }
b=$(median "${BASE[@]}"); m=$(median "${MV[@]}")
summary=$(cat <<MD
## Multiview bus cost

Worker CPU (% of one core, median of $REPS runs, ${WINDOW_S} s windows after ${WARMUP_S} s warm-up), 3 inputs at 640x360p30:

| Scene | runs | median |
|---|---|---|
| Program + AUX1 | ${BASE[*]} | $b |
| Program + AUX1 + AUX2 multiview 640x360 | ${MV[*]} | $m |

A 640x360 multiview bus (3 input tiles with labels and tally borders, Program and Preview tiles, encoded) adds $(awk -v b="$b" -v m="$m" 'BEGIN { printf "%.1f", m - b }') points of one core ($(awk -v b="$b" -v m="$m" 'BEGIN { printf "%.2f", m / b }')x the two-bus mix).
MD
)
echo "$summary"
[ -n "$OUT_MD" ] && { echo; echo "$summary"; } >>"$OUT_MD"
rm -rf "$WORK"
