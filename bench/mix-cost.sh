#!/usr/bin/env bash
# CPU and memory of the live 3-input Program+AUX1 640x360p30 mix: the worker against ffmpeg doing the
# same job in the same run. Usage: bench/mix-cost.sh [markdown-out]   (env: REPS, WARMUP_S, WINDOW_S)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

REPS=${REPS:-3}
# Start-up (JIT, SRT handshakes, ffmpeg's probing, x264 init) is excluded: only a steady window counts.
WARMUP_S=${WARMUP_S:-8}
WINDOW_S=${WINDOW_S:-20}
OUT_MD=${1:-}
WORK=$(mktemp -d /tmp/bench-mix.XXXXXX)
write_scene "$WORK/scene.json"
ffmpeg_mix_cmd

trap 'stop_helpers' EXIT
# Long enough for every run; a run costs warm-up + window + ~10 s of checks and teardown.
start_helpers "$WORK" $(( REPS * 2 * (WARMUP_S + WINDOW_S + 15) + 30 ))
helper_ticks() { local t=0 p; for p in "${HELPER_PIDS[@]}"; do t=$(( t + $(cpu_ticks "$p") )); done; echo "$t"; }

# Prints "cpu_s window_s rss_mb fps helpers_cpu_s total_cpu_s total_rss_mb stream" for one run.
run_one() { # $1: worker|ffmpeg, $2: run tag
  local kind=$1 tag=$2 log="$WORK/$2.log" tfile="$WORK/$2.time" tpid pid c0 c1 h0 h1 w0 w1 f0 f1 rss fps stream
  if [ "$kind" = worker ]; then
    /usr/bin/time -v -o "$tfile" dotnet "$WORKER_DLL" run "$WORK/scene.json" --duration $(( WARMUP_S + WINDOW_S + 30 )) >"$log" 2>&1 &
  else
    /usr/bin/time -v -o "$tfile" "${FFMPEG_CMD[@]}" -progress "$WORK/$tag.progress" >"$log" 2>&1 &
  fi
  tpid=$!
  sleep 0.5
  pid=$(pgrep -P "$tpid" | head -1)
  sleep "$WARMUP_S"
  frames() { # frames out so far: worker's status line (program bus), ffmpeg's progress report
    if [ "$kind" = worker ]; then grep -o 'program=[A-Za-z]*/[0-9]* frames' "$log" | tail -1 | grep -o '[0-9]*' || echo 0
    else grep '^frame=' "$WORK/$tag.progress" | tail -1 | cut -d= -f2 || echo 0; fi
  }
  c0=$(cpu_ticks "$pid"); h0=$(helper_ticks); w0=$(date +%s.%N); f0=$(frames)
  sleep "$WINDOW_S"
  c1=$(cpu_ticks "$pid"); h1=$(helper_ticks); w1=$(date +%s.%N); f1=$(frames)
  rss=$(vm_hwm_kb "$pid")
  if [ "$kind" = ffmpeg ]; then
    fps=$(awk -v a="$f0" -v b="$f1" -v w0="$w0" -v w1="$w1" 'BEGIN { printf "%.1f", (b - a) / (w1 - w0) }')
  fi
  # Proof the output is real: a reader decodes the program bus while it is still published.
  stream=$(timeout 10 ffprobe -v error -select_streams v:0 -show_entries stream=codec_name,profile,width,height,pix_fmt \
    -of csv=p=0 "$(srt_url "read:out/$PROJECT/program" "$OUTPUT_SRT_PASSPHRASE")" 2>/dev/null | head -1 | tr ',' ' ' || true)
  # SIGTERM, not SIGINT: bash starts background jobs with SIGINT ignored, and .NET keeps it ignored.
  kill -TERM "$pid" 2>/dev/null || true
  wait "$tpid" || true
  # The worker reports frames only every 5 s: its rate comes from its own status lines, the first
  # (start-up) one left out.
  if [ "$kind" = worker ]; then
    fps=$(grep -E '^[0-9:.]+ INF status:' "$log" | awk '
      { split($1, t, ":"); s = t[1]*3600 + t[2]*60 + t[3]; match($0, /program=[A-Za-z]*\/[0-9]+/)
        n = substr($0, RSTART, RLENGTH); sub(/.*\//, "", n)
        if (NR == 2) { s0 = s; n0 = n } sl = s; nl = n }
      END { if (NR > 2 && sl > s0) printf "%.1f", (nl - n0) / (sl - s0); else print "?" }')
  fi
  awk -v c0="$c0" -v c1="$c1" -v h0="$h0" -v h1="$h1" -v w0="$w0" -v w1="$w1" -v rss="$rss" -v hz="$CLK_TCK" -v fps="$fps" \
      -v tu="$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {print u+s}' "$tfile")" \
      -v tr="$(awk -F': ' '/Maximum resident/ {print $2}' "$tfile")" -v stream="${stream:-none}" \
    'BEGIN { printf "%.2f %.2f %.1f %s %.2f %.2f %.1f %s\n", (c1-c0)/hz, w1-w0, rss/1024, fps, (h1-h0)/hz, tu, tr/1024, stream }'
}

declare -A CPU RSS
ROWS=()
for rep in $(seq 1 "$REPS"); do
  # Alternate the order so drift of the shared machine hits both sides alike.
  if (( rep % 2 )); then order=(worker ffmpeg); else order=(ffmpeg worker); fi
  for kind in "${order[@]}"; do
    read -r cpu win rss fps hcpu tcpu trss stream < <(run_one "$kind" "$kind-$rep")
    CPU[$kind-$rep]=$cpu; RSS[$kind-$rep]=$rss
    ROWS+=("| $rep | $kind | $cpu | $win | $(awk -v c="$cpu" -v w="$win" 'BEGIN{printf "%.1f", 100*c/w}') | $rss | $fps | $hcpu | $tcpu | $trss | ${stream//_/-} |")
    echo "rep $rep $kind: cpu ${cpu}s over ${win}s, rss ${rss} MB, ${fps} fps, stream: $stream" >&2
  done
done

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2 }'; }
wc_=(); fc=(); wr=(); fr=(); pr=()
for rep in $(seq 1 "$REPS"); do
  wc_+=("${CPU[worker-$rep]}"); fc+=("${CPU[ffmpeg-$rep]}"); wr+=("${RSS[worker-$rep]}"); fr+=("${RSS[ffmpeg-$rep]}")
  pr+=("$(awk -v a="${CPU[worker-$rep]}" -v b="${CPU[ffmpeg-$rep]}" 'BEGIN{printf "%.2f", a/b}')")
done
mw=$(median "${wc_[@]}"); mf=$(median "${fc[@]}"); rw=$(median "${wr[@]}"); rf=$(median "${fr[@]}")

{
  echo "### Mix cost: 3 inputs → Program (2x2 + PiP) + AUX1, 640x360p30, live over SRT (passphrases on)"
  echo
  echo "Steady window ${WINDOW_S} s after ${WARMUP_S} s of start-up, CPU from /proc/<pid>/stat (user+sys), peak RSS = VmHWM at the"
  echo "window's end; ${REPS} paired runs, order alternating. Whole-process totals from /usr/bin/time -v include start-up and teardown."
  echo "Helpers = stand-in + feeds (not counted), same window."
  echo
  echo "| Rep | Mixer | CPU s (window) | Window s | % of one core | Peak RSS MB | Program fps | Helpers CPU s | Whole-run CPU s | Whole-run max RSS MB | Program stream seen by a reader |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "| Median | CPU s (${WINDOW_S} s) | % of one core | Peak RSS MB | CPU vs ffmpeg |"
  echo "|---|---|---|---|---|"
  echo "| ffmpeg | $mf | $(awk -v c="$mf" -v w="$WINDOW_S" 'BEGIN{printf "%.1f", 100*c/w}') | $rf | 1.00 |"
  echo "| worker | $mw | $(awk -v c="$mw" -v w="$WINDOW_S" 'BEGIN{printf "%.1f", 100*c/w}') | $rw | $(awk -v a="$mw" -v b="$mf" 'BEGIN{printf "%.2f", a/b}') |"
  echo
  echo "Per-pair CPU ratios worker/ffmpeg: ${pr[*]} (median $(median "${pr[@]}")); RSS ratio of medians: $(awk -v a="$rw" -v b="$rf" 'BEGIN{printf "%.2f", a/b}')."
  echo
} | tee ${OUT_MD:+-a "$OUT_MD"}
echo "logs kept in $WORK" >&2
