#!/usr/bin/env bash
# Two builds of the worker running at the same time, each on its own stand-in and its own copy of the four file feeds
# (FEED_FILES/640x360 as `FEEDS=files bench/compare.sh` writes them), so that the machine's speed, which moves the
# process figure by ±10 % between runs here, is the same for both: per round process CPU and thread groups of each.
# Usage: bench/simultaneous-ab.sh OUTDIR SCENE A_DLL B_DLL   (SCENE: e.g. a compare.sh run's scene.json)
#        bench/simultaneous-ab.sh OUTDIR JOB A_DLL gst   the worker against compare.sh's hand gst-launch graph for JOB (a
#        compare.sh job, e.g. 8bus-360p:640x360:640x360:7:640x360), the worker on that job's scene
# env: ROUNDS=3 WARMUP_S=10 MEASURE_S=20 FEED_FILES (required) PORTS="18892 18893"; the two swap stand-ins every round.
#      PERF=1: `perf record` samples both processes over each round's window, and OUTDIR/libraries.txt gives each one's
#      CPU by library (% of one core, mean of the rounds): x264, Opus, GStreamer, the runtime, kernel side by side.
set -euo pipefail
PORTS=(${PORTS:-18892 18893})
export BENCH_PORT=${PORTS[0]}
source "$(dirname "$0")/lib.sh"
out=$1 scene=$2 A=$3 B=$4; mkdir -p "$out"
ROUNDS=${ROUNDS:-3} WARMUP_S=${WARMUP_S:-10} MEASURE_S=${MEASURE_S:-20}
feed=640x360
if [ "$B" = gst ]; then
  # The job's scene for the worker and its hand graph, publishing to the stand-in named by the port (made per round).
  IFS=: read -r _ feed _ <<<"$scene"
  export JOBS=$scene
  scene=$out/scene.json; "$BENCH_DIR/compare.sh" --print | awk 'NR == 1' >"$scene"
  hand() { BENCH_PORT=$1 "$BENCH_DIR/compare.sh" --print | awk '/^gst-launch:/ { getline; g = $0 } END { print "exec " g }'; }
fi
start() { # $1: build or gst, $2: port, $3: log
  if [ "$1" = gst ]; then bash -c "$(hand "$2")" >"$3" 2>&1 &
  else MEDIAMTX__SRTPORT=$2 $(worker_launcher "$1") "$1" run "$scene" --duration $((WARMUP_S + MEASURE_S + 20)) >"$3" 2>&1 & fi
}
FEEDS_DIR=$FEED_FILES/$feed
life=$(( ROUNDS * (WARMUP_S + MEASURE_S + 8) + 30 ))
trap 'stop_helpers' EXIT
for port in "${PORTS[@]}"; do
  dotnet "$TESTBED_DLL" standin --port $port --seconds $life >"$out/standin-$port.log" 2>&1 & HELPER_PIDS+=($!)
done
sleep 2
for port in "${PORTS[@]}"; do
  BENCH_PORT=$port; sends=()
  for c in cam-a cam-b cam-c cam-d; do sends+=(-re -stream_loop -1 -i "$FEEDS_DIR/$c.ts"); done
  k=0; for c in cam-a cam-b cam-c cam-d; do sends+=(-map $k -c copy -muxdelay 0.7 -f mpegts "$(srt_url "publish:ingest/$PROJECT/$c" "$INGEST_SRT_PASSPHRASE")&pkt_size=1316"); k=$((k+1)); done
  ffmpeg -hide_banner -nostdin -loglevel warning -nostats "${sends[@]}" >"$out/feeds-$port.log" 2>&1 & HELPER_PIDS+=($!)
done
sleep 3
for r in $(seq 1 $ROUNDS); do
  if [ $((r % 2)) = 1 ]; then pa=${PORTS[0]} pb=${PORTS[1]}; else pa=${PORTS[1]} pb=${PORTS[0]}; fi
  start "$A" "$pa" "$out/$r-A.log"; a=$!
  start "$B" "$pb" "$out/$r-B.log"; b=$!
  sleep $WARMUP_S
  thread_times $a >"$out/$r-A.t0"; thread_times $b >"$out/$r-B.t0"; ca0=$(cpu_ticks $a); cb0=$(cpu_ticks $b); w0=$(date +%s.%N)
  if [ "${PERF:-0}" = 1 ]; then
    perf record -F 499 -p "$a,$b" -o "$out/$r.perf" -- sleep "$MEASURE_S" 2>"$out/$r.perf.log" || true
    # One line a sample: A or B, then the library (.NET's JIT-compiled code is "memfd:doublemapper (deleted)").
    perf script -i "$out/$r.perf" -F pid,ip,dso 2>/dev/null | awk -v a=$a '{ p = $1; sub(/^ *[0-9]+ +[0-9a-f]+ +\(/, ""); sub(/\)$/, "")
      sub(/.*\//, ""); gsub(/ /, "_"); print (p == a ? "A" : "B"), $0 }' >"$out/$r.samples"
  else sleep $MEASURE_S; fi
  thread_times $a >"$out/$r-A.t1"; thread_times $b >"$out/$r-B.t1"; ca1=$(cpu_ticks $a); cb1=$(cpu_ticks $b); w1=$(date +%s.%N)
  kill -TERM $a $b; wait $a 2>/dev/null || true; wait $b 2>/dev/null || true
  w=$(awk -v x=$w0 -v y=$w1 'BEGIN { print y - x }')
  for n in A B; do
    c0=ca0 c1=ca1; [ $n = B ] && c0=cb0 c1=cb1
    awk -v w=$w -f "$BENCH_DIR/thread-groups.awk" "$out/$r-$n.t0" "$out/$r-$n.t1" >"$out/$r-$n.groups"
    awk -v w=$w -v r=$r -v n=$n -v p=$(awk -v c=$(( ${!c1} - ${!c0} )) -v k=$CLK_TCK -v w=$w 'BEGIN { printf "%.1f", 100 * c / k / w }') '
      /compositor$/ {c=$1; cr=$2} /box queues$/ {b=$1} /background sources$/ {g=$1} /scalers$/ {s=$1} /muxers$/ {m=$1}
      END { printf "round %d %s process %s | compositor %.2f (%.2f runs/frame) | box queues %.2f | bg %.2f | scalers %.2f | mux %.2f\n", r, n, p, c, cr/240, b, g, s, m }' "$out/$r-$n.groups" | tee -a "$out/table.txt"
  done
  for n in A B; do { grep -h "status:" "$out/$r-$n.log" || true; } | tail -1 | cut -c1-400 >>"$out/status.txt"; done
  sleep 2
done
if [ "${PERF:-0}" = 1 ]; then
  cat "$out"/[0-9]*.samples | awk -v f="$(awk -v r=$ROUNDS -v m=$MEASURE_S 'BEGIN { print 100 / 499 / m / r }')" '
    # Code made at run time: .NET JIT-compiled methods (a JIT build, not NativeAOT) and orc programs (blending, scaling).
    { sub(/^memfd:doublemapper_\(deleted\)$/, "managed_code_(JIT)", $2); sub(/^orcexec\..*/, "orc_programs", $2)
      n[$2] += 0; if ($1 == "A") a[$2]++; else b[$2]++ }
    END { printf "%7s %7s %7s  library (%% of one core, mean of the rounds; A = %s, B = %s)\n", "A", "B", "A-B", "'"$A"'", "'"$B"'"
          for (d in n) if (a[d] + b[d] >= 5) printf "%7.2f %7.2f %+7.2f  %s\n", a[d] * f, b[d] * f, (a[d] - b[d]) * f, d | "sort -k1,1 -gr"; close("sort -k1,1 -gr")
          for (d in n) { ta += a[d]; tb += b[d] } printf "%7.2f %7.2f %+7.2f  all\n", ta * f, tb * f, (ta - tb) * f }' | tee "$out/libraries.txt"
fi
