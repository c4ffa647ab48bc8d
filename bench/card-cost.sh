#!/usr/bin/env bash
# CPU cost of the "no signal" cards: a box whose input is missing shows a still (the input's name,
# NO SIGNAL, the time since lost), drawn once a second and repeated by imagefreeze, not rendered per frame.
# Four scenes on one 640x360p30 bus, alternated, each run in its own worker process (`run`):
#  - empty:   the bus with no box (background only): the floor;
#  - missing: four inputs nobody publishes, in no box: what probing their paths costs (no card);
#  - cards:   the same four inputs in four 320x180 boxes: four cards (cards - missing = the cards);
#  - live:    the same four boxes showing published 640x360p30 inputs: what live boxes cost, for scale.
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
scene() { # $1: path, $2: boxes|noboxes, $3..: the inputs (the boxes show them in this order)
  local path=$1 boxes=$2; shift 2
  local inputs="" layout="" i=0 name
  for name in "$@"; do
    inputs+="${inputs:+,}{\"name\":\"$name\"}"
    [ "$boxes" = boxes ] && layout+="${layout:+,}{\"source\":\"$name\",\"x\":$(( i % 2 * 320 )),\"y\":$(( i / 2 * 180 )),\"width\":320,\"height\":180}"
    i=$((i + 1))
  done
  # Inputs are named once even when two boxes show the same one.
  inputs=$(echo "[$inputs]" | python3 -c 'import json,sys; l=json.load(sys.stdin); seen=[]; [seen.append(x) for x in l if x not in seen]; print(json.dumps(seen))')
  cat > "$path" <<JSON
{"project":"demo","inputs":$inputs,"buses":[{"name":"program","format":{"width":640,"height":360,"fps":30,"videoBitrateKbps":1500},"layout":[$layout]}]}
JSON
}
scene "$WORK/empty.json" noboxes
scene "$WORK/missing.json" noboxes gone-1 gone-2 gone-3 gone-4
scene "$WORK/cards.json" boxes gone-1 gone-2 gone-3 gone-4
scene "$WORK/live.json" boxes cam-a cam-b cam-c cam-a

trap 'stop_helpers' EXIT
start_helpers "$WORK" $(( REPS * 4 * (WARMUP_S + WINDOW_S + 12) + 30 ))

BOX_RE='^box\.'
COMPOSITOR_RE='^bus\.[a-z0-9]+\.com'

run_one() { # $1: scene name. Prints "process% box-threads% compositor%".
  worker_cpu_split "$WORK/$1.json" "$WORK/$1.log" "$BOX_RE" "$COMPOSITOR_RE"
}

declare -A PROC BOX MIX
for rep in $(seq 1 "$REPS"); do
  if (( rep % 2 )); then order=(empty missing cards live); else order=(live cards missing empty); fi
  for s in "${order[@]}"; do
    read -r pct box mix < <(run_one "$s")
    echo "rep $rep $s: process ${pct}%, box threads ${box}%, compositor ${mix}%" >&2
    PROC[$s]+="$pct "; BOX[$s]+="$box "; MIX[$s]+="$mix "
  done
done

median() { printf '%s\n' $@ | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2 }'; }
row() { echo "| $1 | ${PROC[$1]}| $(median ${PROC[$1]}) | ${BOX[$1]}| $(median ${BOX[$1]}) | ${MIX[$1]}| $(median ${MIX[$1]}) |"; }
ce=$(median ${MIX[missing]}); cc=$(median ${MIX[cards]}); cl=$(median ${MIX[live]})
bc=$(median ${BOX[cards]}); bl=$(median ${BOX[live]})
pe=$(median ${PROC[empty]}); pm=$(median ${PROC[missing]}); pc=$(median ${PROC[cards]}); pl=$(median ${PROC[live]})
summary=$(cat <<MD
## "No signal" card cost

Worker CPU (% of one core; median of $REPS alternated runs, ${WINDOW_S} s windows after ${WARMUP_S} s warm-up);
one bus 640x360p30 (x264), four 320x180 boxes.

| scene | process, runs | median | box threads, runs | median | compositor thread, runs | median |
|---|---|---|---|---|---|---|
$(row empty)
$(row missing)
$(row cards)
$(row live)

Per card: $(awk -v b="$bc" 'BEGIN { printf "%.3f", b / 4 }') % of one core in its own threads (freeze, queue; the text is drawn once a second),
plus $(awk -v a="$ce" -v b="$cc" 'BEGIN { printf "%+.2f", (b - a) / 4 }') points of blending in the compositor; the whole process, cards against the same
missing inputs without boxes: $(awk -v a="$pm" -v b="$pc" 'BEGIN { printf "%+.2f", (b - a) / 4 }') points per card (blending, and encoding a picture that is no longer black).
Probing the four missing inputs' paths: $(awk -v a="$pe" -v b="$pm" 'BEGIN { printf "%+.2f", b - a }') points. Four live boxes against the empty bus: $(awk -v a="$pe" -v b="$pl" 'BEGIN { printf "%+.2f", b - a }') points
(their box threads $bl %, compositor $cl %).
MD
)
echo "$summary"
[ -n "$OUT_MD" ] && { echo; echo "$summary"; } >>"$OUT_MD"
rm -rf "$WORK"
