#!/usr/bin/env bash
# Issue 12's side-by-side: the worker, one ffmpeg process and a hand-written gst-launch graph doing the
# same live jobs from four moving feeds; per run CPU, peak RSS, threads, frames delivered and repeats per
# box (read from the feeds' stamps by the Testbed's `stamps` reader). Usage: bench/compare.sh [markdown-out]
# env: JOBS (below)  MIXERS="worker ffmpeg gst"  REPS=1  WARMUP_S=8 SETTLE_S=3 MEASURE_S=15  FEED_KBPS=3000
#      BUS_KBPS=1000 (360p buses; 720p buses get 2.5x)  MUX_DELAY_MS=700 (the feeds' PTS-PCR lead, as ffmpeg/OBS send)
#      PLOT=file.png (gnuplot, when installed)  GST_MAX_THREADS=1 (the hand graph's compositors)
#      X264_THREADS=1 (both references' encoders; see ffmpeg_cmd and gst_cmd)
#      YARDSTICK=1 (time bench/yardstick.c's fixed work beside every run, when a C compiler is there; 0: off)
#      WORKER_DLL=path: the worker to measure; by default it is published NativeAOT first, as the image runs it
#      (publish_worker, a minute or two), and WORKER_DLL=src/MixerWorker/bin/Release/net10.0/MixerWorker.dll measures
#      the checkout's Release build instead (JIT: its peak RSS holds 33-40 MB of the JIT's)
#      WORKER_DLL_<name>=path: another build of the worker, run as mixer worker-<name> (e.g. MIXERS="worker worker-base
#      ffmpeg gst" with WORKER_DLL_base=...), so a change is measured against its base in the same sitting; the ratios
#      stay those of WORKER_DLL (mixer worker)
#      FEEDS=live (the Testbed's `feeds` encode the four live) | files (encoded once into files, FEED_FILES=DIR keeps
#      them between sittings, and sent by one ffmpeg by stream copy in real time: the feeds then cost almost nothing)
#      READER=live (the `stamps` reader decodes every bus during the run) | record (it only records them then and
#      decodes after the mixer stopped; the default with FEEDS=files)
# A job is name:feedWxH:programWxH:auxCount:auxWxH; every bus is a 2x2 grid of the four inputs, bus i
# rotated by i, so each input is shown once per bus at a quarter of the bus size.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_ffmpeg

JOBS=${JOBS:-"1bus-720p:1280x720:1280x720:0:- 1bus-360p:1280x720:640x360:0:- 8bus-360p:640x360:640x360:7:640x360 720p+7aux:1280x720:1280x720:7:640x360"}
MIXERS=${MIXERS:-"worker ffmpeg gst"}
REPS=${REPS:-1}
WARMUP_S=${WARMUP_S:-8} SETTLE_S=${SETTLE_S:-3} MEASURE_S=${MEASURE_S:-15}
FEED_KBPS=${FEED_KBPS:-3000} BUS_KBPS=${BUS_KBPS:-1000} MUX_DELAY_MS=${MUX_DELAY_MS:-700}
PLOT=${PLOT:-}
GST_MAX_THREADS=${GST_MAX_THREADS:-1} X264_THREADS=${X264_THREADS:-1}
FEEDS=${FEEDS:-live}
[ "$FEEDS" = files ] && READER=${READER:-record} || READER=${READER:-live}
OUT_MD=${1:-}
WORK=$(mktemp -d /tmp/bench-cmp.XXXXXX)
FEED_FILES=${FEED_FILES:-$WORK/feeds}
# Long enough for a run's reader (start-up, warm-up, settle, measurement) without the files looping in the window.
FEED_FILE_S=$((WARMUP_S + SETTLE_S + MEASURE_S + 30))
INPUTS=(cam-a cam-b cam-c cam-d)
BUS_NAMES=(program aux1 aux2 aux3 aux4 aux5 aux6 aux7)

# Sets BUSES to "name:W:H:kbps" for job fields $1 (program WxH), $2 (aux count), $3 (aux WxH).
job_buses() {
  local i w h
  BUSES=("program:${1%x*}:${1#*x}:$(bus_kbps "${1%x*}")")
  for ((i = 1; i <= $2; i++)); do w=${3%x*} h=${3#*x}; BUSES+=("aux$i:$w:$h:$(bus_kbps "$w")"); done
}
bus_kbps() { [ "$1" -ge 1280 ] && echo $((BUS_KBPS * 5 / 2)) || echo "$BUS_KBPS"; }

write_job_scene() { # $1: path; BUSES set
  local buses=() b i j name w h kbps boxes
  for ((i = 0; i < ${#BUSES[@]}; i++)); do
    IFS=: read -r name w h kbps <<<"${BUSES[$i]}"
    boxes=()
    for j in 0 1 2 3; do
      boxes+=("{\"source\":\"${INPUTS[$(((j + i) % 4))]}\",\"x\":$((j % 2 * w / 2)),\"y\":$((j / 2 * h / 2)),\"width\":$((w / 2)),\"height\":$((h / 2)),\"fit\":\"fill\"}")
    done
    buses+=("{\"name\":\"$name\",\"format\":{\"width\":$w,\"height\":$h,\"fps\":30,\"videoBitrateKbps\":$kbps},\"layout\":[$(IFS=,; echo "${boxes[*]}")]}")
  done
  printf '{"project":"%s","inputs":[%s],"buses":[%s]}\n' "$PROJECT" \
    "$(printf '{"name":"%s"},' "${INPUTS[@]}" | sed 's/,$//')" "$(IFS=,; echo "${buses[*]}")" >"$1"
}

# Distinct box sizes of the job ("WxH" of a quarter bus) and, per size, the buses using it.
box_sizes() { local b name w h; for b in "${BUSES[@]}"; do IFS=: read -r name w h _ <<<"$b"; echo "$((w / 2))x$((h / 2))"; done | sort -u; }

# One ffmpeg process, written the way an ffmpeg user would: each input decoded once, scaled once per box
# size and split to the buses that show it, xstack per bus, libx264 ultrafast/zerolatency as the worker's
# encoder, one amix of the four split to every bus's Opus encoder.
# Both references encode on X264_THREADS threads (default 1, as the worker does up to 720p30): left to x264's
# default they split every picture into two slices on two threads here (x264's SEI: threads=2 sliced_threads=1),
# a different stream and a hand-off per picture the worker does not make. X264_THREADS=0 gives x264's default.
ffmpeg_cmd() {
  local n=${#BUSES[@]} k s i j name w h kbps filter="" maps=() sizes users
  mapfile -t sizes < <(box_sizes)
  FFMPEG_CMD=(ffmpeg -hide_banner -nostdin -loglevel warning -nostats)
  for k in "${INPUTS[@]}"; do
    FFMPEG_CMD+=(-thread_queue_size 512 -analyzeduration 1000000 -probesize 1000000 -i "$(srt_url "read:ingest/$PROJECT/$k" "$INGEST_SRT_PASSPHRASE")")
  done
  for k in 0 1 2 3; do
    filter+="[$k:v]split=${#sizes[@]}$(for s in "${sizes[@]}"; do printf '[in%d_%s]' "$k" "$s"; done);"
    for s in "${sizes[@]}"; do
      users=(); for ((i = 0; i < n; i++)); do IFS=: read -r name w h _ <<<"${BUSES[$i]}"; [ "$((w / 2))x$((h / 2))" = "$s" ] && users+=("[v${k}_$i]"); done
      filter+="[in${k}_$s]scale=${s%x*}:${s#*x},split=${#users[@]}$(IFS=; echo "${users[*]}");"
    done
  done
  filter+="[0:a][1:a][2:a][3:a]amix=inputs=4:normalize=0,asplit=$n$(for ((i = 0; i < n; i++)); do printf '[a%d]' "$i"; done)"
  for ((i = 0; i < n; i++)); do
    IFS=: read -r name w h kbps <<<"${BUSES[$i]}"
    filter+=";$(for j in 0 1 2 3; do printf '[v%d_%d]' "$(((j + i) % 4))" "$i"; done)xstack=inputs=4:layout=0_0|w0_0|0_h0|w0_h0,format=yuv420p[o$i]"
    maps+=(-map "[o$i]" -map "[a$i]" -c:v libx264 -preset ultrafast -tune zerolatency -bf 0 -g 30 -threads "$X264_THREADS" -b:v "${kbps}k" -maxrate "${kbps}k"
      -bufsize "$((kbps * 6 / 10))k" -c:a libopus -b:a 128k -frame_duration 20 -ar 48000 -ac 2 -f mpegts
      "$(srt_url "publish:out/$PROJECT/$name" "$OUTPUT_SRT_PASSPHRASE")&pkt_size=1316")
  done
  FFMPEG_CMD+=(-filter_complex "$filter" "${maps[@]}")
}

# The same job as a hand-written gst-launch graph, the way the GStreamer documentation would have it:
# each input decoded once, scaled once per box size to I420 and shared by tees, one compositor, x264enc and
# mpegtsmux per bus; audio mixed once and Opus-encoded per bus, as ffmpeg does. Each compositor blends on
# one thread (max-threads=1, as the worker's): the default (one per core) splits every frame with a pool
# thread, which buys nothing when the graph already runs a compositor per bus and four decoders on two
# cores; someone tuning a multi-bus graph for cost sets it, and the reference must not pay for a hand-off
# the worker does not make. GST_MAX_THREADS=0 gives the graph with GStreamer's default.
gst_cmd() {
  local n=${#BUSES[@]} k s i j name w h kbps g="" sizes srt
  mapfile -t sizes < <(box_sizes)
  srt="srt://127.0.0.1:$BENCH_PORT"
  for ((k = 0; k < 4; k++)); do
    g+=" srtsrc uri=$srt streamid=read:ingest/$PROJECT/${INPUTS[$k]} passphrase=$INGEST_SRT_PASSPHRASE pbkeylen=16 latency=$SRT__LATENCYMS"
    # The parsers pick tsdemux's video and audio pads by their caps.
    g+=" ! tsdemux name=d$k d$k. ! h264parse ! queue ! avdec_h264 ! tee name=v$k"
    for s in "${sizes[@]}"; do
      g+=" v$k. ! queue max-size-buffers=2 leaky=downstream ! videoscale ! video/x-raw,format=I420,width=${s%x*},height=${s#*x},pixel-aspect-ratio=1/1 ! tee name=v${k}_$s"
    done
    g+=" d$k. ! aacparse ! queue ! avdec_aac ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2 ! amix.sink_$k"
  done
  g+=" audiomixer name=amix ! tee name=at"
  for ((i = 0; i < n; i++)); do
    IFS=: read -r name w h kbps <<<"${BUSES[$i]}"
    s="$((w / 2))x$((h / 2))"
    g+=" compositor name=m$i background=black max-threads=$GST_MAX_THREADS"
    for j in 0 1 2 3; do g+=" sink_$j::xpos=$((j % 2 * w / 2)) sink_$j::ypos=$((j / 2 * h / 2))"; done
    g+=" ! video/x-raw,format=I420,width=$w,height=$h,framerate=30/1 ! x264enc tune=zerolatency speed-preset=ultrafast bframes=0 key-int-max=30 threads=$X264_THREADS bitrate=$kbps"
    g+=" ! mpegtsmux name=x$i alignment=7 ! srtsink uri=$srt streamid=publish:out/$PROJECT/$name passphrase=$OUTPUT_SRT_PASSPHRASE pbkeylen=16 latency=$SRT__LATENCYMS"
    for j in 0 1 2 3; do g+=" v$(((j + i) % 4))_$s. ! queue max-size-buffers=2 leaky=downstream ! m$i.sink_$j"; done
    g+=" at. ! queue ! audioconvert ! opusenc bitrate=128000 frame-size=20 ! x$i."
  done
  # shellcheck disable=SC2206 # the description is word-split on purpose (no value holds a space)
  GST_CMD=(gst-launch-1.0 -q $g)
}

# CPU ticks of the stand-in and the feeds, and of the children this shell has waited for (the reader, once it ended).
helper_ticks() {
  local p; for p in "${HELPER_PIDS[@]}"; do echo "$p $(cpu_ticks "$p" 2>/dev/null || echo 0)"; done
  echo "reaped $(awk '{ sub(/^.*\) /, ""); print $14 + $15 }' "/proc/$$/stat")"
}
threads_of() { awk '/^Threads:/ { print $2 }' "/proc/$1/status"; }

start_helpers_feeds() { # $1: log dir, $2: seconds, $3: feed WxH
  dotnet "$TESTBED_DLL" standin --port "$BENCH_PORT" --seconds "$2" >"$1/standin.log" 2>&1 &
  HELPER_PIDS+=($!)
  sleep 2
  if [ "$FEEDS" = files ]; then
    send_file_feeds "$1" "$3" "$MUX_DELAY_MS"
  else
    dotnet "$TESTBED_DLL" feeds --port "$BENCH_PORT" --count 4 --project "$PROJECT" --seconds "$(($2 - 3))" \
      --width "${3%x*}" --height "${3#*x}" --fps 30 --bitrate "$FEED_KBPS" --pattern smpte --mux-delay-ms "$MUX_DELAY_MS" >"$1/feeds.log" 2>&1 &
    HELPER_PIDS+=($!)
  fi
  sleep 3
}

# --print: show each job's scene and the ffmpeg and gst-launch commands, run nothing (to check they are fair).
if [ "${1:-}" = "--print" ]; then
  for job in $JOBS; do
    IFS=: read -r name feed pgm naux aux <<<"$job"
    job_buses "$pgm" "$naux" "$aux"; write_job_scene /dev/stdout; ffmpeg_cmd; gst_cmd
    printf '## %s (%s feeds)\n\nffmpeg:\n%s\n\ngst-launch:\n%s\n\n' "$name" "$feed" "$(printf '%q ' "${FFMPEG_CMD[@]}")" "$(printf '%q ' "${GST_CMD[@]}")"
  done
  exit 0
fi

# The worker as the image runs it, unless WORKER_DLL names a build: the ratios are the product's.
if { [ "${1:-}" = --profile ] && [ "${3:-}" = worker ]; } || { [ "${1:-}" != --profile ] && [[ " $MIXERS " == *" worker "* ]]; }; then
  echo "publishing the worker NativeAOT, as the image does ..." >&2
  publish_worker "$WORK"
fi
WORKER_BUILD=$([[ $WORKER_DLL == *.dll ]] && echo JIT || echo NativeAOT)

# --profile JOB MIXER [DIR]: where one mixer's CPU goes on one job (no reader): CPU per thread over
# PROFILE_S (schedstat, grouped by thread name), then `perf record -g` over the same span, summed by
# library and by function. Writes DIR/threads.txt and DIR/perf-dso.txt, DIR/perf-sym.txt.
if [ "${1:-}" = "--profile" ]; then
  PROFILE_S=${PROFILE_S:-15}
  # if, not &&: a job other than the last would end the loop, and so the script (set -e), with status 1.
  spec=$(for job in $JOBS; do if [ "${job%%:*}" = "$2" ]; then echo "$job"; fi; done)
  [ -n "$spec" ] || { echo "no job named '$2' in JOBS" >&2; exit 2; }
  IFS=: read -r name feed pgm naux aux <<<"$spec"
  job_buses "$pgm" "$naux" "$aux"
  dir=${4:-$WORK/profile-$name-$3}; mkdir -p "$dir"
  write_job_scene "$dir/scene.json"
  trap 'stop_helpers' EXIT
  start_helpers_feeds "$dir" $((WARMUP_S + 3 * PROFILE_S + 70)) "$feed"
  case $3 in
    # The perf map names the JIT-compiled managed code in perf's report.
    worker) DOTNET_PerfMapEnabled=1 $(worker_launcher "$WORKER_DLL") "$WORKER_DLL" run "$dir/scene.json" --duration $((WARMUP_S + 3 * PROFILE_S + 60)) >"$dir/mixer.log" 2>&1 & ;;
    ffmpeg) ffmpeg_cmd; "${FFMPEG_CMD[@]}" >"$dir/mixer.log" 2>&1 & ;;
    gst) gst_cmd; printf '%q ' "${GST_CMD[@]}" >"$dir/graph.txt"; "${GST_CMD[@]}" >"$dir/mixer.log" 2>&1 & ;;
  esac
  mpid=$!
  sleep "$WARMUP_S"
  thread_times "$mpid" >"$dir/t0"; c0=$(cpu_ticks "$mpid"); w0=$(date +%s.%N)
  sleep "$PROFILE_S"
  thread_times "$mpid" >"$dir/t1"; c1=$(cpu_ticks "$mpid"); w1=$(date +%s.%N)
  # Threads by name: a thread that ended in between is missing from t1 and not counted.
  awk -v w="$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }')" -v total="$(awk -v c=$((c1 - c0)) -v k="$CLK_TCK" -v a="$w0" -v b="$w1" 'BEGIN { printf "%.1f", 100 * c / k / (b - a) }')" '
    NR == FNR { start[$1] = $2; next }
    { d = $2 - ($1 in start ? start[$1] : 0); name = $3; sum[name] += d; n[name]++; all += d }
    END { printf "process CPU %s %% of one core over %.1f s; by thread name (count), %% of one core:\n", total, w
          for (k in sum) printf "%7.2f %4d  %s\n", 100 * sum[k] / 1e9 / w, n[k], k | "sort -rn"; close("sort -rn")
          printf "%7.2f       all threads\n", 100 * all / 1e9 / w }' "$dir/t0" "$dir/t1" | tee "$dir/threads.txt"
  perf record -g -F 499 -p "$mpid" -o "$dir/perf.data" -- sleep "$PROFILE_S" 2>"$dir/perf-record.log" || true
  perf report -i "$dir/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -30 >"$dir/perf-dso.txt" || true
  perf report -i "$dir/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -60 >"$dir/perf-sym.txt" || true
  kill -TERM "$mpid" 2>/dev/null || true; wait "$mpid" 2>/dev/null || true
  cat "$dir/perf-dso.txt"; echo; head -40 "$dir/perf-sym.txt"
  echo "profile in $dir" >&2
  exit 0
fi

# The machine's own speed during each run: the bench VM's CPUs deliver up to a third less at times (the VM reports no
# steal time), and every process on them then costs that much more for the same work (bench/yardstick.c). Its fixed
# work, timed beside every run, lets the table give each run's CPU at the sitting's median speed too.
YARD_BIN=""
if [ "${YARDSTICK:-1}" = 1 ] && command -v cc >/dev/null && cc -O2 -o "$WORK/yardstick" "$BENCH_DIR/yardstick.c" 2>/dev/null; then
  YARD_BIN=$WORK/yardstick
fi
ROWS=()
declare -A CPU RSS YARD BUSY THREADS
RUNS=()
run_one() { # $1: job spec, $2: mixer, $3: rep
  local job=$1 mixer=$2 rep=$3 name feed pgm naux aux dir life mpid t0 t1 c0 c1 rss threads cpu
  IFS=: read -r name feed pgm naux aux <<<"$job"
  job_buses "$pgm" "$naux" "$aux"
  dir="$WORK/$name-$mixer-$rep"; mkdir -p "$dir"
  write_job_scene "$dir/scene.json"
  life=$((WARMUP_S + SETTLE_S + MEASURE_S + 60))
  echo "$name ($feed feeds), $mixer, rep $rep ..." >&2
  start_helpers_feeds "$dir" "$life" "$feed"
  case $mixer in
    worker) $(worker_launcher "$WORKER_DLL") "$WORKER_DLL" run "$dir/scene.json" --duration "$life" >"$dir/mixer.log" 2>&1 & ;;
    worker-*) local other="WORKER_DLL_${mixer#worker-}"
      $(worker_launcher "${!other}") "${!other}" run "$dir/scene.json" --duration "$life" >"$dir/mixer.log" 2>&1 & ;;
    ffmpeg) ffmpeg_cmd; "${FFMPEG_CMD[@]}" >"$dir/mixer.log" 2>&1 & ;;
    gst) gst_cmd; printf '%q ' "${GST_CMD[@]}" >"$dir/graph.txt"; "${GST_CMD[@]}" >"$dir/mixer.log" 2>&1 & ;;
  esac
  mpid=$!
  ypid=""; [ -n "$YARD_BIN" ] && { "$YARD_BIN" 1000 >"$dir/yard" & ypid=$!; }
  sleep "$WARMUP_S"
  # Per thread and machine-wide, kept with the run's logs: which threads a costlier run spends more in
  # (awk -v w=SECONDS -f bench/thread-groups.awk DIR/t0 DIR/t1), and how busy the two cores were.
  thread_times "$mpid" >"$dir/t0"; head -1 /proc/stat >"$dir/stat0"; helper_ticks >"$dir/helpers0"
  t0=$(date +%s.%N); c0=$(cpu_ticks "$mpid" 2>/dev/null || echo 0)
  local stamps=(dotnet "$TESTBED_DLL" stamps --port "$BENCH_PORT" --scene "$dir/scene.json" --seconds "$MEASURE_S" --settle "$SETTLE_S"
    --feed-width "${feed%x*}" --feed-height "${feed#*x}" --feed-fps 30 --direct cam-a)
  local analyse=(--label "$name" --mixer "$mixer" --md "$WORK/summary.md" --detail "$WORK/detail.md")
  if [ "$READER" = record ]; then "${stamps[@]}" --record "$dir/recorded" >"$dir/stamps.log" 2>&1 || true
  else "${stamps[@]}" "${analyse[@]}" >"$dir/stamps.log" 2>&1 || true; fi
  t1=$(date +%s.%N); c1=$(cpu_ticks "$mpid" 2>/dev/null || echo "$c0")
  thread_times "$mpid" >"$dir/t1"; head -1 /proc/stat >"$dir/stat1"; helper_ticks >"$dir/helpers1"
  rss=$(vm_hwm_kb "$mpid" 2>/dev/null || echo 0); threads=$(threads_of "$mpid" 2>/dev/null || echo 0)
  [ -n "$ypid" ] && { kill "$ypid" 2>/dev/null; wait "$ypid" 2>/dev/null || true; }
  kill -TERM "$mpid" 2>/dev/null || true; wait "$mpid" 2>/dev/null || true
  stop_helpers
  # The recordings are decoded now, on an idle machine.
  if [ "$READER" = record ]; then
    "${stamps[@]}" --from "$dir/recorded" "${analyse[@]}" $([ "$FEEDS" = files ] && echo --feed-files 1) >>"$dir/stamps.log" 2>&1 || true
  fi
  cpu=$(awk -v c=$((c1 - c0)) -v k="$CLK_TCK" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", 100 * c / k / (b - a) }')
  local key=$name-$mixer-$rep
  CPU[$key]=$cpu; RSS[$key]=$((rss / 1024)); THREADS[$key]=$threads; RUNS+=("$key|$name|$feed|${#BUSES[@]}|$mixer|$rep")
  # How busy the cores were (all processes; idle and iowait are not busy), and the yardstick's mean over the window.
  BUSY[$key]=$(awk -v cpus="$(nproc)" 'NR == 1 { for (i = 2; i <= NF; i++) a += $i; ia = $5 + $6 } NR == 2 { for (i = 2; i <= NF; i++) b += $i; ib = $5 + $6 }
    END { printf "%.0f", 100 * cpus * ((b - a) - (ib - ia)) / (b - a) }' "$dir/stat0" "$dir/stat1")
  YARD[$key]=$(awk -v a="$t0" -v b="$t1" '$1 >= a && $1 <= b { s += $2; n++ } END { if (n) printf "%.2f", s / n / 1000; else print "-" }' "$dir/yard" 2>/dev/null || echo -)
  echo "  cpu $cpu %, rss $((rss / 1024)) MB, $threads threads, machine ${BUSY[$key]} % busy, yardstick ${YARD[$key]} ms" >&2
}

trap 'stop_helpers' EXIT
if [ "$FEEDS" = files ]; then for job in $JOBS; do IFS=: read -r _ feed _ <<<"$job"; feed_files "$feed" >/dev/null; done; fi
for rep in $(seq 1 "$REPS"); do
  for job in $JOBS; do
    # Alternate the mixers' order from one run to the next so the shared machine's drift hits all alike.
    read -ra order <<<"$MIXERS"
    if (( rep % 2 == 0 )); then mapfile -t order < <(printf '%s\n' "${order[@]}" | tac); fi
    for m in "${order[@]}"; do run_one "$job" "$m" "$rep"; done
  done
done

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2 }'; }
RATIO_ROWS=() SCALED_ROWS=()
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }
# Each run's CPU as it would have been at the sitting's median yardstick (the machine's median speed), where timed.
mapfile -t yards < <(printf '%s\n' "${YARD[@]}" | grep -v '^-$' || true)
YARD_MED=$([ ${#yards[@]} -gt 0 ] && median "${yards[@]}" || echo -)
declare -A SCALED
for run in "${RUNS[@]}"; do
  IFS='|' read -r key name feed nbus mixer rep <<<"$run"
  if [ "$YARD_MED" != - ] && [ "${YARD[$key]}" != - ]; then
    SCALED[$key]=$(awk -v c="${CPU[$key]}" -v m="$YARD_MED" -v y="${YARD[$key]}" 'BEGIN { printf "%.1f", c * m / y }')
  else SCALED[$key]=-; fi
  ROWS+=("| $name | $feed | $nbus | $mixer | $rep | ${CPU[$key]} | ${RSS[$key]} | ${THREADS[$key]} | ${BUSY[$key]} | ${YARD[$key]} | ${SCALED[$key]} |")
done
: >"$WORK/plot.dat"
for job in $JOBS; do
  name=${job%%:*}
  declare -A mc=() mr=() ms=()
  for m in $MIXERS; do
    c=(); r=(); sc=(); for rep in $(seq 1 "$REPS"); do c+=("${CPU[$name-$m-$rep]}"); r+=("${RSS[$name-$m-$rep]}"); sc+=("${SCALED[$name-$m-$rep]}"); done
    mc[$m]=$(median "${c[@]}"); mr[$m]=$(median "${r[@]}")
    ms[$m]=$([ "$YARD_MED" != - ] && median "${sc[@]}" || echo -)
  done
  if [ "$YARD_MED" != - ]; then
    row="| $name"
    for m in $MIXERS; do row+=" | ${ms[$m]} %"; done
    [[ " $MIXERS " == *" ffmpeg "* ]] && row+=" | $(ratio "${ms[worker]:-0}" "${ms[ffmpeg]}")"
    [[ " $MIXERS " == *" gst "* ]] && row+=" | $(ratio "${ms[worker]:-0}" "${ms[gst]}")"
    SCALED_ROWS+=("$row |")
  fi
  row="| $name"
  for m in $MIXERS; do row+=" | ${mc[$m]} % / ${mr[$m]} MB"; done
  [[ " $MIXERS " == *" ffmpeg "* ]] && row+=" | $(ratio "${mc[worker]:-0}" "${mc[ffmpeg]}") / $(ratio "${mr[worker]:-0}" "${mr[ffmpeg]}")"
  [[ " $MIXERS " == *" gst "* ]] && row+=" | $(ratio "${mc[worker]:-0}" "${mc[gst]}") / $(ratio "${mr[worker]:-0}" "${mr[gst]}")"
  RATIO_ROWS+=("$row |")
  echo "$name ${mc[worker]:-0} ${mc[ffmpeg]:-0} ${mc[gst]:-0} ${mr[worker]:-0} ${mr[ffmpeg]:-0} ${mr[gst]:-0}" >>"$WORK/plot.dat"
done

# A table of medians per mixer: $1 names the ratio columns ("CPU / RSS"), the rest are its rows.
medians_table() {
  local label=$1 hdr="| Job" sep="|---" m; shift
  for m in $MIXERS; do hdr+=" | $m"; sep+="|---"; done
  [[ " $MIXERS " == *" ffmpeg "* ]] && { hdr+=" | worker/ffmpeg $label"; sep+="|---"; }
  [[ " $MIXERS " == *" gst "* ]] && { hdr+=" | worker/gst $label"; sep+="|---"; }
  echo "$hdr |"; echo "$sep|"
  printf '%s\n' "$@"
}

if [ -n "$PLOT" ] && command -v gnuplot >/dev/null; then
  # The worker's build is named in the legend: a NativeAOT worker's RSS is not comparable with a JIT one's. The
  # headroom above the bars keeps the legend off them (with one job per plot the first bar sits under it).
  gnuplot <<GP
set terminal pngcairo size 900,420 font "Sans,10"
set output "$PLOT"
set multiplot layout 1,2 title "Worker vs ffmpeg vs hand gst-launch (medians of $REPS run(s), this machine)"
set style data histograms; set style histogram clustered gap 1; set style fill solid 0.8 border -1
set xtics rotate by -20 noenhanced; set key top left; set offsets 0, 0, graph 0.3, 0; set grid ytics
set ylabel "CPU, % of one core"; set yrange [0:*]
plot "$WORK/plot.dat" using 2:xtic(1) title "worker ($WORKER_BUILD)", "" using 3 title "ffmpeg", "" using 4 title "gst-launch"
set ylabel "Peak RSS, MB"
plot "$WORK/plot.dat" using 5:xtic(1) title "worker ($WORKER_BUILD)", "" using 6 title "ffmpeg", "" using 7 title "gst-launch"
unset multiplot
GP
  echo "plot written to $PLOT" >&2
fi

{
  echo "### Worker vs ffmpeg vs hand gst-launch: the same live jobs side by side"
  echo
  echo "Four moving 30 fps feeds (size per job; scrolling bars, x264 ultrafast ${FEED_KBPS} kb/s, AAC, stamps), muxed with a"
  echo "${MUX_DELAY_MS} ms PTS-PCR lead, published over SRT into the stand-in. Every bus is a 2x2 grid of the four at 30 fps"
  echo "(360p ${BUS_KBPS} kb/s, 720p $((BUS_KBPS * 5 / 2)) kb/s, Opus 128 kb/s). CPU = utime+stime of the mixer process over the"
  echo "$((SETTLE_S + MEASURE_S)) s the reader runs (after ${WARMUP_S} s of start-up); peak RSS = VmHWM and threads at its end."
  echo "The reader and the helpers (stand-in, feeds) run on the same cores and are not counted. ${REPS} run(s) per mixer, order alternating."
  echo "Worker: \`$WORKER_DLL\` ($WORKER_BUILD$([ -z "$WORKER_DLL_GIVEN" ] && echo ", published from src/ of $(git -C "$REPO" rev-parse --short HEAD) as the image publishes it"))."
  [ "$FEEDS" = files ] && echo "Feeds (FEEDS=files): encoded into files before the runs and sent by one ffmpeg, -re -c copy; capture → reader is not measured."
  [ "$READER" = record ] && echo "Reader (READER=record): records every bus and cam-a during the run, decodes them after the mixer stopped."
  echo
  echo "Machine busy = the share of both cores busy over the window (all processes, % of one core); yardstick = the mean"
  echo "CPU time of bench/yardstick.c's fixed work, timed every second beside the run (longer = the machine ran slower);"
  echo "at median speed = the run's CPU times the sitting's median yardstick (${YARD_MED} ms) over its own."
  echo
  echo "| Job | Feeds | Buses | Mixer | Run | CPU % of one core | Peak RSS MB | Threads | Machine busy % | Yardstick ms | CPU at median speed |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "Medians (CPU % / peak RSS) and the worker's ratios:"
  echo
  medians_table "CPU / RSS" "${RATIO_ROWS[@]}"
  if [ ${#SCALED_ROWS[@]} -gt 0 ]; then
    echo
    echo "Medians of the CPU at the sitting's median speed, and the worker's ratios:"
    echo
    medians_table CPU "${SCALED_ROWS[@]}"
  fi
  echo
  echo "What a viewer gets, per run (the \`stamps\` reader):"
  echo
  cat "$WORK/summary.md" 2>/dev/null || echo "(no reader output)"
  echo
  echo "Per bus:"
  echo
  cat "$WORK/detail.md" 2>/dev/null || echo "(no reader output)"
  echo
} | tee ${OUT_MD:+-a "$OUT_MD"}
echo "logs kept in $WORK" >&2
