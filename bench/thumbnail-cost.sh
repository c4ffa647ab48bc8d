#!/usr/bin/env bash
# CPU cost of the buses' thumbnails (a JPEG of each bus's mixed picture about once a second).
# Two measures, in the same run:
#  - the worker process with THUMBNAILS__INTERVALMS=1000 against 0, alternated, on the standard
#    3-input scene (Program + AUX1, 640x360p30): the whole cost, tee pad and drop probe included,
#    but within the run-to-run noise of an x264 mix;
#  - the CPU time of the thumbnail branches' own streaming threads (bus.<bus>.thumb.queue, which
#    scales, encodes the JPEG and hands it to the appsink), read per thread from /proc: the part
#    that grows with the picture size, also on a 1920x1080 bus.
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

# CPU nanoseconds (schedstat: exact, unlike the 10 ms ticks of stat) of the threads whose name
# starts with bus.<bus>.thu (Linux keeps 15 characters of a name: bus.program.thu, bus.aux1.thumb.).
thumb_ns() {
  local t sum=0 comm
  for t in /proc/"$1"/task/*; do
    comm=$(cat "$t/comm" 2>/dev/null) || continue
    [[ $comm =~ ^bus\.[a-z0-9]+\.thu ]] || continue
    sum=$(( sum + $(cut -d' ' -f1 "$t/schedstat") ))
  done
  echo "$sum"
}

run_one() { # $1: scene, $2: thumbnail interval ms, $3: tag. Prints "process% thumbnail-threads%".
  local log="$WORK/$3.log" pid c0 c1 t0 t1 w0 w1
  THUMBNAILS__INTERVALMS=$2 dotnet "$WORKER_DLL" run "$1" --duration $(( WARMUP_S + WINDOW_S + 20 )) >"$log" 2>&1 &
  pid=$!
  sleep "$WARMUP_S"
  c0=$(cpu_ticks "$pid"); t0=$(thumb_ns "$pid"); w0=$(date +%s.%N)
  sleep "$WINDOW_S"
  c1=$(cpu_ticks "$pid"); t1=$(thumb_ns "$pid"); w1=$(date +%s.%N)
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || true
  awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v w0="$w0" -v w1="$w1" -v hz="$CLK_TCK" \
    'BEGIN { w = w1 - w0; printf "%.2f %.3f\n", 100 * (c1 - c0) / hz / w, 100 * (t1 - t0) / 1e9 / w }'
}

declare -a BASE THUMB THREADS
for rep in $(seq 1 "$REPS"); do
  if (( rep % 2 )); then order=(0 1000); else order=(1000 0); fi
  for interval in "${order[@]}"; do
    read -r pct threads < <(run_one "$WORK/standard.json" "$interval" "standard-$interval-$rep")
    echo "rep $rep interval $interval ms: process ${pct}% of one core, thumbnail threads ${threads}%" >&2
    if [ "$interval" = 0 ]; then BASE+=("$pct"); else THUMB+=("$pct"); THREADS+=("$threads"); fi
  done
done
read -r hd_pct hd_threads < <(run_one "$WORK/full-hd.json" 1000 full-hd)
echo "1920x1080 bus: process ${hd_pct}%, thumbnail thread ${hd_threads}%" >&2

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2 }'; }
b=$(median "${BASE[@]}"); t=$(median "${THUMB[@]}"); th=$(median "${THREADS[@]}")
summary=$(cat <<MD
## Thumbnail cost

Worker CPU (% of one core, median of $REPS alternated runs, ${WINDOW_S} s windows after ${WARMUP_S} s warm-up);
standard scene: 3 inputs at 640x360p30, Program and AUX1 at 640x360p30 (two buses, two thumbnails of 320x180).

| measure | runs | median |
|---|---|---|
| process, thumbnails off | ${BASE[*]} | $b |
| process, thumbnails every 1000 ms | ${THUMB[*]} | $t |
| thumbnail threads (both buses), thumbnails every 1000 ms | ${THREADS[*]} | $th |
| 1920x1080 bus: thumbnail thread / process | 1 run | $hd_threads / $hd_pct |

Per bus: $(awk -v th="$th" 'BEGIN { printf "%.3f", th / 2 }') % of one core in the thumbnail's own thread at 640x360, $hd_threads % at 1920x1080;
the process difference is $(awk -v b="$b" -v t="$t" 'BEGIN { printf "%+.2f", (t - b) / 2 }') points per bus (within the noise of the mix around it).
MD
)
echo "$summary"
[ -n "$OUT_MD" ] && { echo; echo "$summary"; } >>"$OUT_MD"
rm -rf "$WORK"
