# Shared by the bench scripts: paths, the fixed scene, and start/stop of the uncounted helpers.
# Sourced, not run.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
# WORKER_DLL may name another build of the worker (a DLL, or a NativeAOT executable as the image has: publish_worker).
WORKER_DLL_GIVEN=${WORKER_DLL:+yes}
WORKER_DLL=${WORKER_DLL:-"$REPO/src/MixerWorker/bin/Release/net10.0/MixerWorker.dll"}
TESTBED_DLL="$REPO/tests/MixerWorker.Testbed/bin/Release/net10.0/MixerWorker.Testbed.dll"

# A port away from the demo's and the tests' defaults, so a bench can run next to them.
BENCH_PORT=${BENCH_PORT:-18890}
PROJECT=demo
# Fixed, non-secret bench passphrases: the point is to pay for SRT encryption as production does.
export INGEST_SRT_PASSPHRASE=${INGEST_SRT_PASSPHRASE:-bench-ingest-pass-1}
export OUTPUT_SRT_PASSPHRASE=${OUTPUT_SRT_PASSPHRASE:-bench-output-pass-2}
export MEDIAMTX__HOST=127.0.0.1
export MEDIAMTX__SRTPORT=$BENCH_PORT
export SRT__LATENCYMS=${SRT__LATENCYMS:-120}
unset MEDIAMTX__TOKEN
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# As the image sets it (docker/Dockerfile.gst), so the benches measure the worker the image runs.
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
export DOTNET_GCgen0size=${DOTNET_GCgen0size:-400000}

CLK_TCK=$(getconf CLK_TCK)

# Without ffmpeg the feeds never start and every case reads "nothing received": say what is missing instead.
require_ffmpeg() {
  command -v ffmpeg >/dev/null || { echo "needs ffmpeg (apt-get install -y ffmpeg, or ./run.sh bench $(basename "$0" .sh), which installs it)" >&2; exit 1; }
}

write_scene() { # $1: path. The scene of the issue: 3 inputs, Program 2x2 + PiP, AUX1 one source, 640x360p30.
  cat > "$1" <<'JSON'
{"project":"demo","inputs":[{"name":"cam-a"},{"name":"cam-b"},{"name":"cam-c"}],"buses":[{"name":"program","format":{"width":640,"height":360,"fps":30,"videoBitrateKbps":1500},"layout":[{"source":"cam-a","x":0,"y":0,"width":320,"height":180},{"source":"cam-b","x":320,"y":0,"width":320,"height":180},{"source":"cam-c","x":0,"y":180,"width":320,"height":180},{"source":"cam-a","x":320,"y":180,"width":320,"height":180},{"source":"cam-c","x":480,"y":20,"width":140,"height":80,"z":1}]},{"name":"aux1","format":{"width":640,"height":360,"fps":30,"videoBitrateKbps":1500},"layout":[{"source":"cam-b","width":640,"height":360}]}]}
JSON
}

# What starts a worker build: dotnet for a DLL, nothing for a NativeAOT executable (WORKER_DLL=path/to/MixerWorker).
worker_launcher() { [[ $1 == *.dll ]] && echo dotnet || true; }

# Unless WORKER_DLL was given, points it at the worker published as docker/Dockerfile.gst publishes it
# (NativeAOT; with gcc where there is no clang), built from a copy of src/ in $1, so the checkout's obj/ is not touched.
publish_worker() { # $1: work dir
  [ -n "$WORKER_DLL_GIVEN" ] && return
  mkdir -p "$1/publish-src"
  tar -C "$REPO" -c --exclude=bin --exclude=obj src Directory.Build.props | tar -C "$1/publish-src" -x
  dotnet publish "$1/publish-src/src/MixerWorker/MixerWorker.csproj" -c Release -nologo -v q -o "$1/worker" \
    -r linux-x64 -p:PublishAot=true $(command -v clang >/dev/null || echo -p:CppCompilerAndLinker=gcc) >"$1/publish.log" 2>&1 \
    || { cat "$1/publish.log" >&2; return 1; }
  WORKER_DLL="$1/worker/MixerWorker"
}

HELPER_PIDS=()
# Stand-in and feeds are separate processes so their CPU is never part of what is measured.
start_helpers() { # $1: log dir, $2: seconds they must live
  local dir=$1 secs=$2
  dotnet "$TESTBED_DLL" standin --port "$BENCH_PORT" --seconds "$secs" >"$dir/standin.log" 2>&1 &
  HELPER_PIDS+=($!)
  sleep 2
  dotnet "$TESTBED_DLL" feeds --port "$BENCH_PORT" --count 3 --project "$PROJECT" --seconds "$((secs - 3))" \
    --width 640 --height 360 --fps 30 >"$dir/feeds.log" 2>&1 &
  HELPER_PIDS+=($!)
  sleep 3
}

# The stand-in and four moving feeds as compare.sh's jobs publish them (x264 3000 kb/s, a 700 ms PTS-PCR lead), for
# the scripts that run builds side by side on one set of feeds (threads-ab.sh, memory-ab.sh).
start_four_feeds() { # $1: log dir, $2: seconds they must live, $3: feed WxH
  dotnet "$TESTBED_DLL" standin --port "$BENCH_PORT" --seconds "$2" >"$1/standin.log" 2>&1 & HELPER_PIDS+=($!)
  sleep 2
  dotnet "$TESTBED_DLL" feeds --port "$BENCH_PORT" --count 4 --project "$PROJECT" --seconds "$(($2 - 3))" \
    --width "${3%x*}" --height "${3#*x}" --fps 30 --bitrate 3000 --pattern smpte --mux-delay-ms 700 >"$1/feeds.log" 2>&1 & HELPER_PIDS+=($!)
  sleep 3
}

# FEEDS=files (compare.sh, latency.sh): the four feeds ${INPUTS[@]} of size $1 as the Testbed makes them (stamped pictures,
# x264 FEED_KBPS, FEED_FPS (30), sound FEED_AUDIO (aac)), written once, as fast as the CPU allows, FEED_FILE_S seconds long,
# into $FEED_FILES/WxH/ (other rates or sound: a suffix), where a later run or sitting finds them. A stamp's time is then
# the file's start plus its PTS, not when the picture is sent: the reader needs `stamps --from DIR --feed-files 1`.
feed_files() { # $1: WxH. Prints the folder.
  local fps=${FEED_FPS:-30} audio=${FEED_AUDIO:-aac} dir=$FEED_FILES/$1
  [ "$fps" = 30 ] || dir+=-${fps}fps
  [ "$FEED_KBPS" = 3000 ] || dir+=-${FEED_KBPS}k
  [ "$audio" = aac ] || dir+=-$audio
  [ -s "$dir/${INPUTS[3]}.ts" ] || dotnet "$TESTBED_DLL" feeds --files "$dir" --count 4 --seconds "$FEED_FILE_S" \
    --width "${1%x*}" --height "${1#*x}" --fps "$fps" --bitrate "$FEED_KBPS" --pattern smpte --audio "$audio" >&2
  echo "$dir"
}

# One ffmpeg sends the files of feed_files $2 into the hub in real time by stream copy (-re -c copy, as encoders and OBS
# publish and as issue 9's first feeds were sent), looped so that an input never ends while a mixer runs, each TS muxed
# with a PTS-PCR lead of $3 ms: -muxdelay (ffmpeg's default 0.7 s). -muxdelay 0 alone makes it zero: each video PES's
# PCR is then its DTS (read from ffmpeg 5.1's TS); -muxpreload does not move the PCR, so it is left at its default.
# ffmpeg's muxer gathers sound into PES of up to 2930 bytes, flushed once they span half the mux delay: at 700 ms, 8 AAC
# frames (171 ms) a PES, at 0 one frame. FEED_PES=frame (-pes_payload_size 0) sends one sound frame per PES at any delay,
# as the Testbed's live feeds do; the default, FEED_PES=ffmpeg, is what an ffmpeg publisher sends.
# Run under FEED_PREFIX, and with SEND_TRACE preloaded where set (bench/srt-send-trace.c wraps ffmpeg's srt_sendmsg).
send_file_feeds() { # $1: log dir, $2: feed WxH, $3: mux delay ms
  local dir k sends=()
  dir=$(feed_files "$2")
  for k in "${!INPUTS[@]}"; do sends+=(-re -stream_loop -1 -i "$dir/${INPUTS[$k]}.ts"); done
  for k in "${!INPUTS[@]}"; do
    sends+=(-map "$k" -c copy -muxdelay "$(awk -v m="$3" 'BEGIN { print m / 1000 }')" $([ "${FEED_PES:-ffmpeg}" = ffmpeg ] || echo -pes_payload_size 0) -f mpegts
      "$(srt_url "publish:ingest/$PROJECT/${INPUTS[$k]}" "$INGEST_SRT_PASSPHRASE")&pkt_size=1316")
  done
  ${FEED_PREFIX:-} env ${SEND_TRACE:+LD_PRELOAD=$SEND_TRACE SRT_SEND_TRACE=$1/sends} \
    ffmpeg -hide_banner -nostdin -loglevel warning -nostats "${sends[@]}" >"$1/feeds.log" 2>&1 &
  HELPER_PIDS+=($!)
}

stop_helpers() {
  local p
  for p in "${HELPER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${HELPER_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  HELPER_PIDS=()
}

srt_url() { # $1: streamid, $2: passphrase. ffmpeg's latency is in microseconds, not ms.
  printf 'srt://127.0.0.1:%s?streamid=%s&passphrase=%s&pbkeylen=16&latency=%s' \
    "$BENCH_PORT" "$1" "$2" "$((SRT__LATENCYMS * 1000))"
}

# ffmpeg doing the worker's job: same inputs, same layout, same encoder settings, same outputs.
# Idiomatic ffmpeg: each input is scaled once per distinct size and split, as the baseline did.
ffmpeg_mix_cmd() {
  local in_a in_b in_c out_p out_x enc
  in_a=$(srt_url "read:ingest/$PROJECT/cam-a" "$INGEST_SRT_PASSPHRASE")
  in_b=$(srt_url "read:ingest/$PROJECT/cam-b" "$INGEST_SRT_PASSPHRASE")
  in_c=$(srt_url "read:ingest/$PROJECT/cam-c" "$INGEST_SRT_PASSPHRASE")
  out_p="$(srt_url "publish:out/$PROJECT/program" "$OUTPUT_SRT_PASSPHRASE")&pkt_size=1316"
  out_x="$(srt_url "publish:out/$PROJECT/aux1" "$OUTPUT_SRT_PASSPHRASE")&pkt_size=1316"
  # Matches the worker's x264enc (cbr, vbv 600 ms), opusenc 128k 10 ms frames.
  enc=(-c:v libx264 -preset ultrafast -tune zerolatency -bf 0 -g 30 -b:v 1500k -maxrate 1500k -bufsize 900k
       -c:a libopus -b:a 128k -frame_duration 10 -ar 48000 -ac 2 -f mpegts)
  FFMPEG_CMD=(ffmpeg -hide_banner -nostdin -loglevel warning -nostats
    -thread_queue_size 512 -analyzeduration 1000000 -probesize 1000000 -i "$in_a"
    -thread_queue_size 512 -analyzeduration 1000000 -probesize 1000000 -i "$in_b"
    -thread_queue_size 512 -analyzeduration 1000000 -probesize 1000000 -i "$in_c"
    -filter_complex "[0:v]scale=320:180,split=2[a0][a1];[1:v]split=2[b0][b1];[b0]scale=320:180[bq];[2:v]split=2[c0][c1];[c0]scale=320:180[cq];[c1]scale=140:80[cp];[a0][bq][cq][a1]xstack=inputs=4:layout=0_0|w0_0|0_h0|w0_h0[grid];[grid][cp]overlay=480:20,format=yuv420p[pgm];[b1]scale=640:360,format=yuv420p[aux];[1:a]asplit=2[ba0][ba1];[0:a][ba0][2:a]amix=inputs=3:normalize=0[pgma]"
    -map '[pgm]' -map '[pgma]' "${enc[@]}" "$out_p"
    -map '[aux]' -map '[ba1]' "${enc[@]}" "$out_x")
}

# CPU nanoseconds (schedstat: exact, unlike the 10 ms ticks of stat) of the threads of process $1
# whose name matches the regex $2 (Linux keeps 15 characters of a thread's name).
threads_ns() {
  local t sum=0 comm
  for t in /proc/"$1"/task/*; do
    comm=$(cat "$t/comm" 2>/dev/null) || continue
    [[ $comm =~ $2 ]] || continue
    sum=$(( sum + $(cut -d' ' -f1 "$t/schedstat") ))
  done
  echo "$sum"
}
# One line per thread of process $1: "tid cpu-ns name wait-ns runs" (schedstat: time on a CPU, time runnable
# but waiting for one, times it was put on one; spaces in names become _). Two snapshots give each thread's
# CPU over the span between them.
thread_times() {
  local t v w n c
  for t in /proc/"$1"/task/*; do
    read -r v w n <"$t/schedstat" && read -r c <"$t/comm" && printf '%s %s %s %s %s\n' "${t##*/}" "$v" "${c// /_}" "$w" "$n"
  done 2>/dev/null
}
# utime+stime of a pid, in clock ticks (fields 14 and 15 of /proc/pid/stat; comm may hold spaces).
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

# Runs the worker on scene $1 (its log in $2) and measures, over WINDOW_S after WARMUP_S, the CPU of the
# process and of its threads whose names match $3 and $4. Prints "process% threads-3% threads-4%" (% of
# one core). Variables set before the call (VAR=x worker_cpu_split …) reach the worker.
worker_cpu_split() {
  local pid c0 c1 a0 a1 b0 b1 w0 w1
  $(worker_launcher "$WORKER_DLL") "$WORKER_DLL" run "$1" --duration $(( WARMUP_S + WINDOW_S + 20 )) >"$2" 2>&1 &
  pid=$!
  sleep "$WARMUP_S"
  c0=$(cpu_ticks "$pid"); a0=$(threads_ns "$pid" "$3"); b0=$(threads_ns "$pid" "$4"); w0=$(date +%s.%N)
  sleep "$WINDOW_S"
  c1=$(cpu_ticks "$pid"); a1=$(threads_ns "$pid" "$3"); b1=$(threads_ns "$pid" "$4"); w1=$(date +%s.%N)
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || true
  awk -v c0="$c0" -v c1="$c1" -v a0="$a0" -v a1="$a1" -v b0="$b0" -v b1="$b1" -v w0="$w0" -v w1="$w1" -v hz="$CLK_TCK" \
    'BEGIN { w = w1 - w0; printf "%.2f %.3f %.2f\n", 100 * (c1 - c0) / hz / w, 100 * (a1 - a0) / 1e9 / w, 100 * (b1 - b0) / 1e9 / w }'
}
vm_hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
