#!/usr/bin/env bash
# Latency inside the worker (GStreamer latency tracer, input appsrc → srtsink) and time from worker start to
# first published frame. Usage: bench/latency.sh [markdown-out]   (env: TRACE_S, SKIP_S, TTFF_REPS)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

TRACE_S=${TRACE_S:-60}     # length of the traced run
SKIP_S=${SKIP_S:-10}       # start-up left out of the latency statistics
TTFF_REPS=${TTFF_REPS:-3}
OUT_MD=${1:-}
WORK=$(mktemp -d /tmp/bench-lat.XXXXXX)
write_scene "$WORK/scene.json"

trap 'stop_helpers' EXIT
start_helpers "$WORK" $(( TRACE_S + TTFF_REPS * 25 + 40 ))

# ---- 1. traced run ------------------------------------------------------------------------------
echo "traced run, ${TRACE_S} s ..." >&2
GST_TRACERS="latency(flags=pipeline+element)" GST_DEBUG="GST_TRACER:7" GST_DEBUG_NO_COLOR=1 \
GST_DEBUG_FILE="$WORK/trace.log" dotnet "$WORKER_DLL" run "$WORK/scene.json" --duration "$TRACE_S" >"$WORK/traced-worker.log" 2>&1

# Tracer records → "kind name time_ns ts_ns". Generation and box numbers are folded (src.cam-a.1 →
# src.cam-a.*) so reconnects and repeated boxes pool together.
awk -v skip="$(( SKIP_S * 1000000000 ))" '
  function field(k,   r) { if (match($0, k "=\\(string\\)[^,;]*")) { r = substr($0, RSTART, RLENGTH); sub(/^[^)]*\)/, "", r); return r } return "" }
  function num(k,   r) { if (match($0, k "=\\(guint64\\)[0-9]+")) { r = substr($0, RSTART, RLENGTH); sub(/^[^)]*\)/, "", r); return r } return -1 }
  / latency, src-element-id=/ {
    ts = num("ts"); if (ts < skip) next
    s = field("src-element"); k = field("sink-element")
    if (k !~ /\.srtsink$/) next             # the bin ghost pad in front of the queue repeats each record
    gsub(/\.[0-9]+\./, ".*.", s); gsub(/\.[0-9]+\./, ".*.", k)
    print "path", s "→" k, num("time"), ts; next }
  / element-latency, element-id=/ {
    ts = num("ts"); if (ts < skip) next
    e = field("element"); gsub(/\.[0-9]+\./, ".*.", e); gsub(/\.venc[0-9]+$/, ".venc", e)
    print "elem", e, num("time"), ts }' "$WORK/trace.log" >"$WORK/records.txt"

# p50/p95 (nearest rank) over ms values on stdin.
stats() { sort -g | awk '{ a[NR] = $1 } END { if (!NR) { print "0 - - -"; exit }
  p50 = a[int(0.50 * (NR - 1)) + 1]; p95 = a[int(0.95 * (NR - 1)) + 1]; printf "%d %.1f %.1f %.1f\n", NR, p50, p95, a[NR] }'; }
path_stats() { awk -v p="$1" '$1 == "path" && $2 ~ p { printf "%.3f\n", $3 / 1e6 }' "$WORK/records.txt" | stats; }
pair_stats() { awk -v p="$1" '$1 == "path" && $2 == p { printf "%.3f\n", $3 / 1e6 }' "$WORK/records.txt" | stats; }

errors=$(grep -cE ' (ERR|WRN|FTL) ' "$WORK/traced-worker.log" || true)
frames=$(grep -E 'INF status:' "$WORK/traced-worker.log" | tail -1 | sed 's/.*buses //')

# ---- 2. time to first frame -------------------------------------------------------------------
# A reader can only connect once the worker publishes (the stand-in, like MediaMTX, refuses readers
# of a path with no publisher), so it polls; its first decoded frame includes waiting for a keyframe.
reader_first_frame() { # $1: file to write the epoch time of the first decoded frame to
  local url; url=$(srt_url "read:out/$PROJECT/program" "$OUTPUT_SRT_PASSPHRASE")
  local deadline=$(( $(date +%s) + 20 ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    if timeout 8 ffmpeg -nostdin -v quiet -fflags nobuffer -probesize 32768 -analyzeduration 0 -i "$url" \
         -map 0:v:0 -frames:v 1 -f null - 2>/dev/null; then date +%s.%N >"$1"; return; fi
    sleep 0.1
  done
}
# Seconds from epoch $3 to the first (or, with $4=last, the last) worker log line matching $2.
# Log times are local HH:MM:SS.mmm of today (a run across midnight would read wrong).
log_s() {
  local t; t=$(grep -E "$2" "$1" | { if [ "${4:-}" = last ]; then tail -1; else head -1; fi; } | cut -d' ' -f1) || true
  [ -n "$t" ] || { echo "-"; return; }
  awk -v t="$t" -v t0="$3" -v day="$(date -d 'today 00:00' +%s)" \
    'BEGIN { split(t, a, ":"); printf "%.2f", day + a[1]*3600 + a[2]*60 + a[3] - t0 }'
}
TTFF_ROWS=()
for rep in $(seq 1 "$TTFF_REPS"); do
  echo "time-to-first-frame run $rep ..." >&2
  rm -f "$WORK/first.$rep"
  t0=$(date +%s.%N)
  dotnet "$WORKER_DLL" run "$WORK/scene.json" --duration 12 >"$WORK/ttff-$rep.log" 2>&1 &
  wpid=$!
  reader_first_frame "$WORK/first.$rep"
  # Control: the same reader joining the stream in steady state, to tell the reader's own start-up
  # and keyframe wait apart from the worker's.
  sleep "$(awk -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN { d = t0 + 7 - now; print (d > 0 ? d : 0) }')"
  j0=$(date +%s.%N); rm -f "$WORK/join.$rep"; reader_first_frame "$WORK/join.$rep"
  join=$( [ -s "$WORK/join.$rep" ] && awk -v a="$(cat "$WORK/join.$rep")" -v b="$j0" 'BEGIN{printf "%.2f", a-b}' || echo "-")
  wait "$wpid" || true
  first=$( [ -s "$WORK/first.$rep" ] && awk -v a="$(cat "$WORK/first.$rep")" -v b="$t0" 'BEGIN{printf "%.2f", a-b}' || echo "-")
  l="$WORK/ttff-$rep.log"
  TTFF_ROWS+=("| $rep | $(log_s "$l" 'bus program output .*connected' "$t0") | $(log_s "$l" 'input cam-. is live' "$t0") | $(log_s "$l" 'input cam-. is live' "$t0" last) | $first | $join |")
  sleep 2
done

{
  echo "### Latency inside the worker (GStreamer latency tracer)"
  echo
  echo "One ${TRACE_S} s run with \`GST_TRACERS=\"latency(flags=pipeline+element)\"\`, records in the first ${SKIP_S} s dropped."
  echo "Path latency = srtsink's receipt of a buffer minus the push time of the input appsrc buffer whose probe event reached"
  echo "that sink first. Inputs: 3 synthetic 640x360p30 feeds; SRT latency ${SRT__LATENCYMS} ms (not part of these numbers: it is"
  echo "spent inside libsrt before the engine's SRT reader hands data to appsrc). Worker errors/warnings in the traced run: ${errors}; last status: ${frames}."
  echo
  echo "| Path | Samples | p50 ms | p95 ms | max ms |"
  echo "|---|---|---|---|---|"
  for bus in program aux1; do
    read -r n p50 p95 mx < <(path_stats "^src\\..*appsrc→out\\.$bus\\.")
    echo "| any input appsrc → out.$bus.*.srtsink | $n | $p50 | $p95 | $mx |"
    for pair in $(awk -v b="out.$bus." '$1 == "path" && $2 ~ /^src\./ && index($2, b) { print $2 }' "$WORK/records.txt" | sort -u); do
      read -r n p50 p95 mx < <(pair_stats "$pair")
      echo "| &nbsp;&nbsp;${pair//\*/N} | $n | $p50 | $p95 | $mx |"
    done
    read -r n p50 p95 mx < <(path_stats "^bus\\.$bus\\.bgsrc→")
    echo "| bus.$bus.bgsrc (compositor's clocked source) → srtsink | $n | $p50 | $p95 | $mx |"
  done
  echo
  echo "Per element (element-latency records: buffer leaves the previous element → leaves this one), by p50:"
  echo
  echo "| Element | Samples | p50 ms | p95 ms | max ms |"
  echo "|---|---|---|---|---|"
  for e in $(awk '$1 == "elem" { print $2 }' "$WORK/records.txt" | sort | uniq -c | awk '$1 >= 20 { print $2 }'); do
    read -r n p50 p95 mx < <(awk -v e="$e" '$1 == "elem" && $2 == e { printf "%.3f\n", $3 / 1e6 }' "$WORK/records.txt" | stats)
    echo "$p50 | ${e//\*/N} | $n | $p50 | $p95 | $mx |"
  done | sort -t'|' -k1,1gr | head -20 | cut -d'|' -f2- | sed 's/^/|/'
  echo
  echo "### Time from worker start to first published frame (${TTFF_REPS} cold starts, no tracer)"
  echo
  echo "Seconds after \`dotnet MixerWorker.dll run\` was started. Output connected / inputs live: the worker's own log"
  echo "timestamps. First frame at a reader: an ffmpeg reader polling \`read:out/demo/program\` every 0.1 s (the stand-in refuses"
  echo "readers until the worker publishes) decodes its first video frame; this includes SRT latency ${SRT__LATENCYMS} ms and"
  echo "the wait for the next keyframe (GOP 1 s)."
  echo
  echo "| Run | program output connected s | first input live s | last input live s | first frame at a reader s | control: reader joining at 7 s, s to first frame |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${TTFF_ROWS[@]}"
  echo
} | tee ${OUT_MD:+-a "$OUT_MD"}
echo "logs kept in $WORK" >&2
