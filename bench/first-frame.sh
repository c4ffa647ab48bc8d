#!/usr/bin/env bash
# Time from worker start to first published frame (cold starts), with a control reader joining in steady state.
# The worker as the image runs it: a NativeAOT publish, made first (WORKER_DLL=... measures another build).
# Usage: bench/first-frame.sh [markdown-out]   (env: TTFF_REPS, WORKER_DLL)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

TTFF_REPS=${TTFF_REPS:-3}
OUT_MD=${1:-}
WORK=$(mktemp -d /tmp/bench-ttff.XXXXXX)
write_scene "$WORK/scene.json"
publish_worker "$WORK"

trap 'stop_helpers' EXIT
start_helpers "$WORK" $(( TTFF_REPS * 25 + 40 ))

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
  $(worker_launcher "$WORKER_DLL") "$WORKER_DLL" run "$WORK/scene.json" --duration 12 >"$WORK/ttff-$rep.log" 2>&1 &
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
  echo "### Time from worker start to first published frame (${TTFF_REPS} cold starts, no tracer)"
  echo
  echo "Worker: ${WORKER_DLL_GIVEN:+given as }\`$( [ -n "$WORKER_DLL_GIVEN" ] && echo "$WORKER_DLL" || echo "NativeAOT publish of src/, as the image")\`."
  echo
  echo "Seconds after the worker's \`run\` was started. Output connected / inputs live: the worker's own log"
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
