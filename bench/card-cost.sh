#!/usr/bin/env bash
# CPU cost of the "no signal" cards: a box whose input is missing shows a still (the input's name,
# NO SIGNAL, the time since lost), drawn once a second and repeated by imagefreeze, not rendered per frame.
# Three scenes on one 640x360p30 bus, alternated, each run in its own worker process (`run`):
#  - empty: the bus with no box (background only): the floor;
#  - cards: four 320x180 boxes of inputs nobody publishes: four cards;
#  - live:  the same four boxes showing published 640x360p30 inputs: what live boxes cost, for scale.
# Per run: the process's CPU, and from /proc per thread (schedstat, exact) the threads of the boxes'
# chains (box.*: for cards the freeze and queue threads) and the compositor's (blending every box).
# Usage: bench/card-cost.sh [markdown-out]   (env: REPS, WARMUP_S, WINDOW_S)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

REPS=${REPS:-2}
WARMUP_S=${WARMUP_S:-8}
WINDOW_S=${WINDOW_S:-20}
OUT_MD=${1:-}
WORK=$(mktemp -d /tmp/bench-card.XXXXXX)
scene() { # $1: path, $2..$5: the four boxes' inputs ("" for none)
  local path=$1; shift
  local inputs="" layout="" i=0 name
  if [ -n "${1:-}" ]; then
    for name in "$@"; do
      inputs+="${inputs:+,}{\"name\":\"$name\"}"
      layout+="${layout:+,}{\"source\":\"$name\",\"x\":$(( i % 2 * 320 )),\"y\":$(( i / 2 * 180 )),\"width\":320,\"height\":180}"
      i=$((i + 1))
    done
  fi
  # Inputs are named once even when two boxes show the same one.
  inputs=$(echo "[$inputs]" | python3 -c 'import json,sys; l=json.load(sys.stdin); seen=[]; [seen.append(x) for x in l if x not in seen]; print(json.dumps(seen))')
  cat > "$path" <<JSON
{"project":"demo","inputs":$inputs,"buses":[{"name":"program","format":{"width":640,"height":360,"fps":30,"videoBitrateKbps":1500},"layout":[$layout]}]}
JSON
}
scene "$WORK/empty.json"
scene "$WORK/cards.json" gone-1 gone-2 gone-3 gone-4
scene "$WORK/live.json" cam-a cam-b cam-c cam-a

trap 'stop_helpers' EXIT
start_helpers "$WORK" $(( REPS * 3 * (WARMUP_S + WINDOW_S + 12) + 30 ))

threads_ns() { # $1: pid, $2: regex on the thread's name (Linux keeps 15 characters)
  local t sum=0 comm
  for t in /proc/"$1"/task/*; do
    comm=$(cat "$t/comm" 2>/dev/null) || continue
    [[ $comm =~ $2 ]] || continue
    sum=$(( sum + $(cut -d' ' -f1 "$t/schedstat") ))
  done
  echo "$sum"
}
BOX_RE='^box\.'
COMPOSITOR_RE='^bus\.[a-z0-9]+\.com'

run_one() { # $1: scene name. Prints "process% box-threads% compositor%".
  local pid c0 c1 b0 b1 m0 m1 w0 w1
  dotnet "$WORKER_DLL" run "$WORK/$1.json" --duration $(( WARMUP_S + WINDOW_S + 20 )) >"$WORK/$1.log" 2>&1 &
  pid=$!
  sleep "$WARMUP_S"
  c0=$(cpu_ticks "$pid"); b0=$(threads_ns "$pid" "$BOX_RE"); m0=$(threads_ns "$pid" "$COMPOSITOR_RE"); w0=$(date +%s.%N)
  sleep "$WINDOW_S"
  c1=$(cpu_ticks "$pid"); b1=$(threads_ns "$pid" "$BOX_RE"); m1=$(threads_ns "$pid" "$COMPOSITOR_RE"); w1=$(date +%s.%N)
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || true
  awk -v c0="$c0" -v c1="$c1" -v b0="$b0" -v b1="$b1" -v m0="$m0" -v m1="$m1" -v w0="$w0" -v w1="$w1" -v hz="$CLK_TCK" \
    'BEGIN { w = w1 - w0; printf "%.2f %.3f %.2f\n", 100 * (c1 - c0) / hz / w, 100 * (b1 - b0) / 1e9 / w, 100 * (m1 - m0) / 1e9 / w }'
}

declare -A PROC BOX MIX
for rep in $(seq 1 "$REPS"); do
  if (( rep % 2 )); then order=(empty cards live); else order=(live cards empty); fi
  for s in "${order[@]}"; do
    read -r pct box mix < <(run_one "$s")
    echo "rep $rep $s: process ${pct}%, box threads ${box}%, compositor ${mix}%" >&2
    PROC[$s]+="$pct "; BOX[$s]+="$box "; MIX[$s]+="$mix "
  done
done

median() { printf '%s\n' $@ | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2 }'; }
row() { echo "| $1 | ${PROC[$1]}| $(median ${PROC[$1]}) | ${BOX[$1]}| $(median ${BOX[$1]}) | ${MIX[$1]}| $(median ${MIX[$1]}) |"; }
ce=$(median ${MIX[empty]}); cc=$(median ${MIX[cards]}); cl=$(median ${MIX[live]})
bc=$(median ${BOX[cards]}); bl=$(median ${BOX[live]})
pe=$(median ${PROC[empty]}); pc=$(median ${PROC[cards]}); pl=$(median ${PROC[live]})
summary=$(cat <<MD
## "No signal" card cost

Worker CPU (% of one core; median of $REPS alternated runs, ${WINDOW_S} s windows after ${WARMUP_S} s warm-up);
one bus 640x360p30 (x264), four 320x180 boxes.

| scene | process, runs | median | box threads, runs | median | compositor thread, runs | median |
|---|---|---|---|---|---|---|
$(row empty)
$(row cards)
$(row live)

Per card: $(awk -v b="$bc" 'BEGIN { printf "%.3f", b / 4 }') % of one core in its own threads (freeze, queue; the text is drawn once a second),
plus $(awk -v a="$ce" -v b="$cc" 'BEGIN { printf "%+.2f", (b - a) / 4 }') points of blending in the compositor. Four cards against the empty bus:
$(awk -v a="$pe" -v b="$pc" 'BEGIN { printf "%+.2f", b - a }') points for the whole process; four live boxes: $(awk -v a="$pe" -v b="$pl" 'BEGIN { printf "%+.2f", b - a }') points
(their box threads $bl %, compositor $cl %).
MD
)
echo "$summary"
[ -n "$OUT_MD" ] && { echo; echo "$summary"; } >>"$OUT_MD"
rm -rf "$WORK"
