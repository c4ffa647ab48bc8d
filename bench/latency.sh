#!/usr/bin/env bash
# Live timing, frame by frame (issue 9): moving feeds that carry their frame number and capture time in
# the picture, mixed into 2x2 buses by the worker and, for comparison, by one ffmpeg process; a reader
# decodes every box of every bus and counts repeats and skips per box and the latency each picture
# gained over a reader of the feed itself. Usage: bench/latency.sh [markdown-out]
# env: CASES="1:700 1:0 8:700:640x360 8:0:640x360" (buses:feed mux delay ms[:feed WxH])  MIXERS="worker ffmpeg"  MEASURE_S=20
#      SETTLE_S=4 WARMUP_S=8 FEED_W=1280 FEED_H=720 FEED_FPS=30 FEED_KBPS=3000 BUS_W=640 BUS_H=360 BUS_KBPS=1000 DIRECT=cam-a
#      FEED_AUDIO=aac (opus, mp2, none: the feeds' sound)
#      FEEDS=live (the Testbed's `feeds` encode the four live beside the mixer: about 60 % of a core at 640x360) | files:
#      the four encoded once into files before the runs (FEED_FILES=DIR keeps them between sittings, FEED_FILE_S long) and
#      sent by one ffmpeg by stream copy in real time, the case's mux delay as its -muxdelay (bench/lib.sh's feed_files and
#      send_file_feeds, as compare.sh's FEEDS=files): the feeds then cost almost nothing. Needs READER=record (its default
#      then). A stamp's time is then when the file was made, not when the picture was sent, so capture → reader is not
#      measured (n/a in the tables); the worker-added latency, against the direct reader of the same feed, is. HOPS (the
#      ffmpeg sender traced through its srt_sendmsg), LEVEL_HOPS, DIRECT, STAGES, FEED_AUDIO, FEED_PREFIX and HUB_PREFIX
#      work alike; FEED_REMUX does not apply (the sender is already ffmpeg -c copy). ffmpeg gathers the sound into PES of
#      up to 171 ms at a 700 ms mux delay (one frame a PES at 0), as an ffmpeg publisher sends it, where the live feeds send
#      one frame a PES: FEED_PES=frame sends one frame a PES from the files too (bench/lib.sh's send_file_feeds)
#      FEED_REMUX=ffmpeg: each feed re-muxed by `ffmpeg -c copy` on its way into the hub, as a publisher's ffmpeg or
#      MediaMTX writes it (video PES without a length: a demuxer ends a picture only when the next one starts)
#      READER=record: the reader only records every bus and the direct feed during the run (srtsrc to a file, no
#      decoding) and decodes the recordings once the mixer has stopped, as compare.sh's READER=record (default: live)
#      HOPS=1: also split each path's delay into its SRT hops (the stand-in's and the reader's traces, bench/srt-hops.py;
#      where cc is installed, the worker's and the feeds' sends too: bench/srt-send-trace.c)
#      LEVEL_HOPS=1 (with READER=record, HOPS=1): each case also analysed with every stream's hub → reader hop levelled
#      to the median hop, and with the senders traced once more with each bus's worker → hub hop levelled to the
#      shortest publisher → hub hop as well (stamps --equal-hops; bench/README.md says why)
#      HUB_PREFIX="chrt -f 20": a command the stand-in is run under; FEED_PREFIX="nice -n 10": the same for the feeds
#      STAGES=1: the worker traces each picture and block of sound through its stages (MIXERWORKER_STAGE_TRACE) and a
#      table per case says how late each stage handles them over the measured window (bench/stage-trace.py)
# Each run's summary rows and CPU table also say how much CPU the host's hypervisor took (steal) and other processes
# used over its measurement (/proc/stat), and how fast the machine was: bench/yardstick.c's fixed work timed every
# second beside the measurement (YARDSTICK=0: off; it needs a C compiler).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_ffmpeg

CASES=${CASES:-"1:700 1:0 8:700:640x360 8:0:640x360"}
MIXERS=${MIXERS:-"worker ffmpeg"}
MEASURE_S=${MEASURE_S:-20}
SETTLE_S=${SETTLE_S:-4}
WARMUP_S=${WARMUP_S:-8}
FEED_W=${FEED_W:-1280} FEED_H=${FEED_H:-720} FEED_FPS=${FEED_FPS:-30} FEED_KBPS=${FEED_KBPS:-3000}
BUS_W=${BUS_W:-640} BUS_H=${BUS_H:-360} BUS_KBPS=${BUS_KBPS:-1000}
DIRECT=${DIRECT:-cam-a}
FEED_REMUX=${FEED_REMUX:-}
FEED_AUDIO=${FEED_AUDIO:-aac}
HOPS=${HOPS:-}
FEEDS=${FEEDS:-live}
[ "$FEEDS" = files ] && READER=${READER:-record} || READER=${READER:-live}
LEVEL_HOPS=${LEVEL_HOPS:-}
HUB_PREFIX=${HUB_PREFIX:-}
FEED_PREFIX=${FEED_PREFIX:-}
STAGES=${STAGES:-}
FFMPEG_GLOBAL_OPTS=${FFMPEG_GLOBAL_OPTS:-}
# Less probing than this leaves ffmpeg without a frame rate for some inputs (it then delivers about 15 fps).
FFMPEG_INPUT_OPTS=${FFMPEG_INPUT_OPTS:-"-thread_queue_size 512 -analyzeduration 1000000 -probesize 1000000"}
OUT_MD=${1:-}
if [ "$FEEDS" = files ] && { [ "$READER" != record ] || [ -n "$FEED_REMUX" ]; }; then
  echo "FEEDS=files needs READER=record (the stamps' times are read against the direct reader's afterwards) and no FEED_REMUX" >&2
  exit 2
fi
WORK=$(mktemp -d /tmp/bench-lat.XXXXXX)
FEED_FILES=${FEED_FILES:-$WORK/feeds}
# Long enough for a run's reader (start-up, warm-up, settle, measurement) without the files looping in the window.
FEED_FILE_S=$((WARMUP_S + SETTLE_S + MEASURE_S + 30))
# With file feeds the recordings' stamp times are moved to the direct reader's (StampAnalysis.StampTimeShift).
FROM_OPTS=(); [ "$FEEDS" = live ] || FROM_OPTS=(--feed-files 1)
INPUTS=(cam-a cam-b cam-c cam-d)
BUS_NAMES=(program aux1 aux2 aux3 aux4 aux5 aux6 aux7)
BW=$((BUS_W / 2)) BH=$((BUS_H / 2))

# $2 buses, each a 2x2 grid of the four inputs, bus i rotated by i so no two buses are the same picture.
write_grid_scene() { # $1: path, $2: bus count
  local buses=() i j box boxes
  for ((i = 0; i < $2; i++)); do
    boxes=()
    for j in 0 1 2 3; do
      box="{\"source\":\"${INPUTS[$(((j + i) % 4))]}\",\"x\":$((j % 2 * BW)),\"y\":$((j / 2 * BH)),\"width\":$BW,\"height\":$BH,\"fit\":\"fill\"}"
      boxes+=("$box")
    done
    buses+=("{\"name\":\"${BUS_NAMES[$i]}\",\"format\":{\"width\":$BUS_W,\"height\":$BUS_H,\"fps\":30,\"videoBitrateKbps\":$BUS_KBPS},\"layout\":[$(IFS=,; echo "${boxes[*]}")]}")
  done
  printf '{"project":"%s","inputs":[%s],"buses":[%s]}\n' "$PROJECT" \
    "$(printf '{"name":"%s"},' "${INPUTS[@]}" | sed 's/,$//')" "$(IFS=,; echo "${buses[*]}")" >"$1"
}

# The same job as one ffmpeg process: each input scaled once and split per bus, xstack per bus in the
# scene's arrangement, libx264 ultrafast/zerolatency like the worker's encoder, Opus audio (amix of the four).
ffmpeg_grid_cmd() { # $1: bus count
  local n=$1 k i j filter="" maps=()
  FFMPEG_CMD=(ffmpeg -hide_banner -nostdin -loglevel warning -nostats $FFMPEG_GLOBAL_OPTS)
  for k in "${INPUTS[@]}"; do
    FFMPEG_CMD+=($FFMPEG_INPUT_OPTS -i "$(srt_url "read:ingest/$PROJECT/$k" "$INGEST_SRT_PASSPHRASE")")
  done
  for k in 0 1 2 3; do
    filter+="[$k:v]scale=$BW:$BH,split=$n$(for ((i = 0; i < n; i++)); do printf '[v%d_%d]' "$k" "$i"; done);"
  done
  filter+="[0:a][1:a][2:a][3:a]amix=inputs=4:normalize=0,asplit=$n$(for ((i = 0; i < n; i++)); do printf '[a%d]' "$i"; done)"
  for ((i = 0; i < n; i++)); do
    filter+=";$(for j in 0 1 2 3; do printf '[v%d_%d]' "$(((j + i) % 4))" "$i"; done)xstack=inputs=4:layout=0_0|w0_0|0_h0|w0_h0,format=yuv420p[o$i]"
    maps+=(-map "[o$i]" -map "[a$i]" -c:v libx264 -preset ultrafast -tune zerolatency -bf 0 -g 30 -b:v "${BUS_KBPS}k" -maxrate "${BUS_KBPS}k"
      -bufsize "$((BUS_KBPS * 6 / 10))k" -c:a libopus -b:a 128k -frame_duration 10 -ar 48000 -ac 2 -f mpegts
      "$(srt_url "publish:out/$PROJECT/${BUS_NAMES[$i]}" "$OUTPUT_SRT_PASSPHRASE")&pkt_size=1316")
  done
  FFMPEG_CMD+=(-filter_complex "$filter" "${maps[@]}")
}

# This VM's hypervisor takes CPU from it in bursts (steal, up to a core for minutes), and other processes may run
# beside the bench: either delays the worker's threads as much as its own load would, so each run's figures carry
# what the machine did meanwhile. From the first line of /proc/stat (user nice system idle iowait irq softirq steal;
# guest time is already in user and nice), both cores together, in % of one core.
stat_line() { head -1 /proc/stat; }
machine_share() { # $1, $2: stat_line before and after. Prints "busy steal" (busy: not idle, iowait or steal).
  awk -v a="$1" -v b="$2" -v cpus="$(nproc)" 'BEGIN { split(a, x); split(b, y)
    for (i = 2; i <= 9; i++) t += y[i] - x[i]
    steal = y[9] - x[9]; idle = (y[5] - x[5]) + (y[6] - x[6])
    if (t <= 0) { print "0 0"; exit }
    printf "%.0f %.0f\n", 100 * cpus * (t - idle - steal) / t, 100 * cpus * steal / t }'
}
# CPU of this shell's children that have ended (the reader runs in the foreground and is reaped when it ends).
reaped_ticks() { awk '{ sub(/^.*\) /, ""); print $14 + $15 }' "/proc/$$/stat"; }

ROWS_CPU=()
run_case() { # $1: buses, $2: feed mux delay ms, $3: mixer, $4: feed size WxH
  local n=$1 delay=$2 mixer=$3 FEED_W=${4%x*} FEED_H=${4#*x} label dir life mpid t0 t1 c0 c1 h0 h1 s0 s1 r0 r1 rows0 busy steal
  label="$n bus$([ "$n" -gt 1 ] && echo es), ${FEED_W}x${FEED_H} feeds$([ "$FEEDS" = live ] || echo " from files$([ "${FEED_PES:-ffmpeg}" = ffmpeg ] || echo " (sound: a frame a PES)")"), muxed with $([ "$delay" -gt 0 ] && echo "${delay} ms delay" || echo "no delay")${FEED_REMUX:+, re-muxed by $FEED_REMUX}$([ "$FEED_AUDIO" = aac ] || echo ", sound: $FEED_AUDIO")"
  dir="$WORK/$n-$delay-$4-$mixer"; mkdir -p "$dir"
  write_grid_scene "$dir/scene.json" "$n"
  life=$((WARMUP_S + SETTLE_S + MEASURE_S + 60))
  echo "$label, $mixer ..." >&2
  start_helpers_feeds "$dir" "$life" "$delay"
  if [ "$mixer" = worker ]; then
    env ${SEND_TRACE:+LD_PRELOAD=$SEND_TRACE SRT_SEND_TRACE=$dir/sends} ${STAGES:+MIXERWORKER_STAGE_TRACE=$dir/stages} dotnet "$WORKER_DLL" run "$dir/scene.json" --duration "$life" >"$dir/mixer.log" 2>&1 &
  else
    ffmpeg_grid_cmd "$n"
    "${FFMPEG_CMD[@]}" >"$dir/mixer.log" 2>&1 &
  fi
  mpid=$!
  sleep "$WARMUP_S"
  [ -z "$YARD_BIN" ] || { "$YARD_BIN" 1000 >"$dir/yard" & YARD_PID=$!; }
  rows0=0; [ ! -f "$WORK/summary.md" ] || rows0=$(wc -l <"$WORK/summary.md")
  t0=$(date +%s.%N); c0=$(cpu_ticks "$mpid"); h0=$(helpers_ticks); r0=$(reaped_ticks); s0=$(stat_line)
  local stamps=(dotnet "$TESTBED_DLL" stamps --port "$BENCH_PORT" --scene "$dir/scene.json" --seconds "$MEASURE_S" --settle "$SETTLE_S"
    --feed-width "$FEED_W" --feed-height "$FEED_H" --feed-fps "$FEED_FPS" --direct "$DIRECT")
  local analyse=(--label "$label" --mixer "$mixer" --md "$WORK/summary.md" --detail "$WORK/detail.md")
  if [ "$READER" = record ]; then "${stamps[@]}" --record "$dir/read" >"$dir/stamps.log" 2>&1 || true
  else "${stamps[@]}" "${analyse[@]}" ${HOPS:+--trace "$dir/read"} >"$dir/stamps.log" 2>&1 || true; fi
  s1=$(stat_line); t1=$(date +%s.%N); c1=$(cpu_ticks "$mpid" 2>/dev/null || echo "$c0"); h1=$(helpers_ticks); r1=$(reaped_ticks)
  [ -z "$YARD_PID" ] || { kill "$YARD_PID" 2>/dev/null; wait "$YARD_PID" 2>/dev/null || true; YARD_PID=; }
  read -r busy steal < <(machine_share "$s0" "$s1")
  # The yardstick's mean piece (ms), and its own CPU (% of one core), which is not the others'.
  local yard=- ycpu=0
  [ ! -s "$dir/yard" ] || read -r yard ycpu < <(awk -v a="$t0" -v b="$t1" '$1 >= a && $1 <= b { s += $2; n++ }
    END { if (n) printf "%.1f %.1f\n", s / n / 1000, 100 * s / 1e6 / (b - a); else print "- 0" }' "$dir/yard")
  local m hp rp others
  read -r m hp rp others < <(awk -v c="$((c1 - c0))" -v h="$((h1 - h0))" -v r="$((r1 - r0))" -v a="$t0" -v b="$t1" -v k="$CLK_TCK" -v busy="$busy" -v y="$ycpu" \
    'BEGIN { t = b - a; m = 100 * c / k / t; h = 100 * h / k / t; r = 100 * r / k / t; o = busy - m - h - r - y
      printf "%.0f %.0f %.0f %.0f\n", m, h, r, o < 0 ? 0 : o }')
  ROWS_CPU+=("| $label | $mixer | $m | $hp | $rp | $busy | $others | $steal | $yard |")
  MACHINE="$steal | $others | $yard"
  echo "  over the measurement: host steal $steal %, others $others % of one core (mixer $m, stand-in + feeds $hp, reader $rp), yardstick $yard ms" >&2
  kill -TERM "$mpid" 2>/dev/null || true; wait "$mpid" 2>/dev/null || true
  stop_helpers
  if [ -n "$STAGES" ] && [ "$mixer" = worker ] && [ -s "$dir/stages.$mpid" ]; then
    python3 "$BENCH_DIR/stage-trace.py" "$dir/stages.$mpid" "$label" "$((WARMUP_S + SETTLE_S))" "$((WARMUP_S + SETTLE_S + MEASURE_S))" >>"$WORK/stages.md" || true
    echo >>"$WORK/stages.md"
  fi
  [ -z "$HOPS" ] || python3 "$BENCH_DIR/srt-hops.py" "$dir/standin.trace" "$dir/read" "$label, $mixer" "$dir/hops.txt" "$dir/hops-hub.txt" >>"$WORK/hops.md" || true
  # The recordings are decoded now, on an idle machine.
  [ "$READER" = record ] && { "${stamps[@]}" --from "$dir/read" "${FROM_OPTS[@]}" "${analyse[@]}" >>"$dir/stamps.log" 2>&1 || true; }
  if [ "$READER" = record ] && [ -n "$LEVEL_HOPS" ] && [ -s "$dir/hops.txt" ]; then
    "${stamps[@]}" --from "$dir/read" "${FROM_OPTS[@]}" --equal-hops "$dir/hops.txt" --label "$label, reader hops levelled" --mixer "$mixer" \
      --md "$WORK/summary.md" --detail "$WORK/detail.md" >>"$dir/stamps.log" 2>&1 || true
    [ ! -s "$dir/hops-hub.txt" ] || "${stamps[@]}" --from "$dir/read" "${FROM_OPTS[@]}" --equal-hops "$dir/hops-hub.txt" --label "$label, reader and hub hops levelled" \
      --mixer "$mixer" --md "$WORK/summary.md" --detail "$WORK/detail.md" >>"$dir/stamps.log" 2>&1 || true
  fi
  mark_machine "$WORK/summary.md" "$rows0"
}

# The rows this run added to the summary (after line $2) get the run's machine columns (and the header, when the run
# started the file).
mark_machine() { # $1: summary file, $2: its line count before the run
  [ -f "$1" ] || return 0
  awk -v from="$2" -v m="$MACHINE" 'NR <= from { print; next }
    /^\| Case \|/ { print $0 " Host steal, % of a core | Others busy, % of a core | Yardstick ms |"; next }
    /^\|---/ { print $0 "---|---|---|"; next }
    /^\|/ { print $0 " " m " |"; next } { print }' "$1" >"$1.tmp" && mv "$1.tmp" "$1"
}

# Stand-in and four moving feeds (scrolling bars behind the stamp, AAC audio), each its own process; or one ffmpeg
# sending them from files.
start_helpers_feeds() { # $1: log dir, $2: seconds, $3: mux delay ms
  $HUB_PREFIX dotnet "$TESTBED_DLL" standin --port "$BENCH_PORT" --seconds "$2" ${HOPS:+--trace "$1/standin.trace"} >"$1/standin.log" 2>&1 &
  HELPER_PIDS+=($!)
  sleep 2
  if [ "$FEEDS" = files ]; then
    send_file_feeds "$1" "${FEED_W}x${FEED_H}" "$3"
    sleep 3
    return 0
  fi
  $FEED_PREFIX env ${SEND_TRACE:+LD_PRELOAD=$SEND_TRACE SRT_SEND_TRACE=$1/sends} dotnet "$TESTBED_DLL" feeds --port "$BENCH_PORT" --count 4 --project "$PROJECT${FEED_REMUX:+raw}" --seconds "$(($2 - 3))" \
    --width "$FEED_W" --height "$FEED_H" --fps "$FEED_FPS" --bitrate "$FEED_KBPS" --pattern smpte --mux-delay-ms "$3" --audio "$FEED_AUDIO" >"$1/feeds.log" 2>&1 &
  HELPER_PIDS+=($!)
  sleep 3
  [ "$FEED_REMUX" = ffmpeg ] || return 0
  local k
  for k in "${INPUTS[@]}"; do
    ffmpeg -hide_banner -nostdin -loglevel warning -nostats $FFMPEG_INPUT_OPTS -i "$(srt_url "read:ingest/${PROJECT}raw/$k" "$INGEST_SRT_PASSPHRASE")" \
      -map 0 -c copy -f mpegts "$(srt_url "publish:ingest/$PROJECT/$k" "$INGEST_SRT_PASSPHRASE")&pkt_size=1316" >"$1/remux-$k.log" 2>&1 &
    HELPER_PIDS+=($!)
  done
  sleep 3
}
helpers_ticks() { local p s=0; for p in "${HELPER_PIDS[@]}"; do s=$((s + $(cpu_ticks "$p" 2>/dev/null || echo 0))); done; echo "$s"; }

# The machine's own speed: the VM's CPUs also deliver less at times without any steal counted (bench/compare.sh).
YARD_BIN= YARD_PID=
if [ "${YARDSTICK:-1}" = 1 ] && command -v cc >/dev/null && cc -O2 -o "$WORK/yardstick" "$BENCH_DIR/yardstick.c" 2>/dev/null; then
  YARD_BIN=$WORK/yardstick
fi

# When each picture left the worker's and the feeds' srtsink: the publisher → hub hops.
SEND_TRACE=
if [ -n "$HOPS" ] && command -v cc >/dev/null; then
  cc -O2 -shared -fPIC -o "$WORK/srt-send-trace.so" "$BENCH_DIR/srt-send-trace.c" -ldl -lpthread && SEND_TRACE=$WORK/srt-send-trace.so
fi

trap 'stop_helpers; [ -z "$YARD_PID" ] || kill "$YARD_PID" 2>/dev/null' EXIT
if [ "$FEEDS" = files ]; then
  for c in $CASES; do IFS=: read -r _ _ size <<<"$c"; feed_files "${size:-${FEED_W}x${FEED_H}}" >/dev/null; done
fi
for c in $CASES; do
  IFS=: read -r n delay size <<<"$c"
  for m in $MIXERS; do run_case "$n" "$delay" "$m" "${size:-${FEED_W}x${FEED_H}}"; done
done

{
  echo "### Live timing, frame by frame: repeats, skips and worker-added latency per box"
  echo
  echo "Four moving ${FEED_FPS} fps feeds (size in the case; scrolling bars, x264 ultrafast ${FEED_KBPS} kb/s, AAC; each picture"
  echo "carries its frame number and capture time in a stripe), published over SRT into the stand-in with the"
  echo "mux delay of each case, and mixed into 2x2 grids of ${BUS_W}x${BUS_H} at 30 fps (${BUS_KBPS} kb/s, Opus) by the worker"
  echo "(SRT latency ${SRT__LATENCYMS} ms) or by one ffmpeg process (scale + split + xstack + libx264 ultrafast/zerolatency)."
  echo "A reader process decodes every box of every bus for ${MEASURE_S} s (after ${WARMUP_S} s of warm-up and ${SETTLE_S} s"
  echo "of settling) plus ${DIRECT} straight from the stand-in. Repeat: a box shows the same input frame as in"
  echo "the previous output frame; at 30 → 30 fps none is needed. Skip: input frame numbers advance by more than"
  echo "one. Worker-added latency: arrival at the reader of a picture's first appearance in the bus minus its arrival"
  echo "at the direct reader (per frame for ${DIRECT}'s boxes; other boxes minus the direct path's median), i.e. the"
  echo "worker's processing plus the extra SRT hop. Arrival = when the reader's parser got the picture (before decoding)."
  [ "$FEEDS" = live ] || echo "Feeds (FEEDS=files): encoded into files before the runs and sent by one ffmpeg, -re -c copy, the case's mux delay as -muxdelay; capture → reader is not measured (a stamp's time is when the file was made)."
  [ "$READER" = live ] || echo "Reader (READER=record): records every bus and ${DIRECT} during the run, decodes them after the mixer stopped."
  echo
  cat "$WORK/summary.md"
  echo
  echo "Per bus (repeats and skipped frames for each box, in layout order):"
  echo
  cat "$WORK/detail.md"
  echo
  [ ! -s "$WORK/hops.md" ] || { cat "$WORK/hops.md"; echo; }
  [ ! -s "$WORK/stages.md" ] || cat "$WORK/stages.md"
  echo "CPU during the measurement, % of one core. Machine busy: both cores, every process (not idle, iowait or steal);"
  echo "others: busy less the mixer, the stand-in, the feeds, the reader and the yardstick; host steal: what the hypervisor gave to other"
  echo "guests (/proc/stat), which delays every thread here as much as load of its own would; yardstick: the mean CPU time of"
  echo "bench/yardstick.c's fixed work, timed every second beside the measurement (longer = the machine ran slower):"
  echo
  echo "| Case | Mixer | Mixer CPU % | Stand-in + feeds CPU % | Reader CPU % | Machine busy % | Others % | Host steal % | Yardstick ms |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS_CPU[@]}"
  echo
} | tee ${OUT_MD:+-a "$OUT_MD"}
echo "logs kept in $WORK" >&2
