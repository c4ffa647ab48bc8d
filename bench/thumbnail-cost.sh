#!/usr/bin/env bash
# CPU cost of the buses' thumbnails (a JPEG of each bus's mixed picture about once a second).
# Two measures, in the same run:
#  - the worker process with THUMBNAILS__INTERVALMS=1000 against 0, alternated, on the standard
#    3-input scene (Program + AUX1, 640x360p30): the whole cost, the probe that hands a picture on included,
#    but within the run-to-run noise of an x264 mix;
#  - the CPU time of the thumbnail branches' own streaming threads (bus.<bus>.thumb.src, the
#    appsrc's, which scales and encodes the JPEG), read per thread from /proc: the part
#    that grows with the picture size, also on a 1920x1080 bus;
#  - the CPU time of the compositors' threads, where the probe that hands one picture a second to
#    the branch runs: what the branch adds to the mix's own threads.
# Usage: bench/thumbnail-cost.sh [markdown-out]   (env: REPS, WARMUP_S, WINDOW_S)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

REPS=${REPS:-3}
WARMUP_S=${WARMUP_S:-8}
WINDOW_S=${WINDOW_S:-20}
OUT_MD=${1:-}
WORK=$(mktemp -d /tmp/bench-thumb.XXXXXX)
write_scene "$WORK/standard.json"
cat > "$WORK/full-hd.json" <<'JSON'
{"project":"demo","inputs":[{"name":"cam-a"}],"buses":[{"name":"program","format":{"width":1920,"height":1080,"fps":30,"videoBitrateKbps":4000},"layout":[{"source":"cam-a","width":1920,"height":1080}]}]}
JSON

trap 'stop_helpers' EXIT
start_helpers "$WORK" $(( (REPS * 2 + 1) * (WARMUP_S + WINDOW_S + 12) + 30 ))

# Thread names: Linux keeps 15 characters (bus.program.thu, bus.aux1.thumb., bus.program.com).
THUMB_RE='^bus\.[a-z0-9]+\.thu'
COMPOSITOR_RE='^bus\.[a-z0-9]+\.com'

run_one() { # $1: scene, $2: thumbnail interval ms, $3: tag. Prints "process% thumbnail-threads% compositor-threads%".
  THUMBNAILS__INTERVALMS=$2 worker_cpu_split "$1" "$WORK/$3.log" "$THUMB_RE" "$COMPOSITOR_RE"
}

declare -a BASE THUMB THREADS MIX_OFF MIX_ON
for rep in $(seq 1 "$REPS"); do
  if (( rep % 2 )); then order=(0 1000); else order=(1000 0); fi
  for interval in "${order[@]}"; do
    read -r pct threads mix < <(run_one "$WORK/standard.json" "$interval" "standard-$interval-$rep")
    echo "rep $rep interval $interval ms: process ${pct}% of one core, thumbnail threads ${threads}%, compositor threads ${mix}%" >&2
    if [ "$interval" = 0 ]; then BASE+=("$pct"); MIX_OFF+=("$mix"); else THUMB+=("$pct"); THREADS+=("$threads"); MIX_ON+=("$mix"); fi
  done
done
read -r hd_pct hd_threads _ < <(run_one "$WORK/full-hd.json" 1000 full-hd)
echo "1920x1080 bus: process ${hd_pct}%, thumbnail thread ${hd_threads}%" >&2

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2 }'; }
b=$(median "${BASE[@]}"); t=$(median "${THUMB[@]}"); th=$(median "${THREADS[@]}")
mo=$(median "${MIX_OFF[@]}"); mn=$(median "${MIX_ON[@]}")
spread=$(printf '%s\n' "${BASE[@]}" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.1f", hi - lo }')
summary=$(cat <<MD
## Thumbnail cost

Worker CPU (% of one core, median of $REPS alternated runs, ${WINDOW_S} s windows after ${WARMUP_S} s warm-up);
standard scene: 3 inputs at 640x360p30, Program and AUX1 at 640x360p30 (two buses, two thumbnails of 320x180).

| measure | runs | median |
|---|---|---|
| process, thumbnails off | ${BASE[*]} | $b |
| process, thumbnails every 1000 ms | ${THUMB[*]} | $t |
| compositor threads (both buses), thumbnails off | ${MIX_OFF[*]} | $mo |
| compositor threads (both buses), thumbnails every 1000 ms | ${MIX_ON[*]} | $mn |
| thumbnail threads (both buses), thumbnails every 1000 ms | ${THREADS[*]} | $th |
| 1920x1080 bus: thumbnail thread / process | 1 run | $hd_threads / $hd_pct |

Per bus: $(awk -v th="$th" 'BEGIN { printf "%.3f", th / 2 }') % of one core in the thumbnail's own thread at 640x360, $hd_threads % at 1920x1080;
the compositor threads (the probe handing pictures on) differ by $(awk -v a="$mo" -v b="$mn" 'BEGIN { printf "%+.2f", (b - a) / 2 }') points per bus.
The whole process differs by $(awk -v b="$b" -v t="$t" 'BEGIN { printf "%+.2f", (t - b) / 2 }') points per bus, while runs with the same
setting spread over $spread points: the process figure cannot resolve a cost this small; the per-thread figures can.
MD
)
echo "$summary"
[ -n "$OUT_MD" ] && { echo; echo "$summary"; } >>"$OUT_MD"
rm -rf "$WORK"
