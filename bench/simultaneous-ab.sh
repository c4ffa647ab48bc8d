#!/usr/bin/env bash
# Two builds of the worker running at the same time, each on its own stand-in and its own copy of the four file feeds
# (FEED_FILES/640x360 as `FEEDS=files bench/compare.sh` writes them), so that the machine's speed, which moves the
# process figure by ±10 % between runs here, is the same for both: per round process CPU and thread groups of each.
# Usage: bench/simultaneous-ab.sh OUTDIR SCENE A_DLL B_DLL   (SCENE: e.g. a compare.sh run's scene.json)
# env: ROUNDS=3 WARMUP_S=10 MEASURE_S=20 FEED_FILES (required) PORTS="18892 18893"; the two swap stand-ins every round.
set -euo pipefail
PORTS=(${PORTS:-18892 18893})
export BENCH_PORT=${PORTS[0]}
source "$(dirname "$0")/lib.sh"
out=$1 scene=$2 A=$3 B=$4; mkdir -p "$out"
ROUNDS=${ROUNDS:-3} WARMUP_S=${WARMUP_S:-10} MEASURE_S=${MEASURE_S:-20}
FEEDS_DIR=$FEED_FILES/640x360
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
  MEDIAMTX__SRTPORT=$pa $(worker_launcher "$A") "$A" run "$scene" --duration $((WARMUP_S + MEASURE_S + 20)) >"$out/$r-A.log" 2>&1 & a=$!
  MEDIAMTX__SRTPORT=$pb $(worker_launcher "$B") "$B" run "$scene" --duration $((WARMUP_S + MEASURE_S + 20)) >"$out/$r-B.log" 2>&1 & b=$!
  sleep $WARMUP_S
  thread_times $a >"$out/$r-A.t0"; thread_times $b >"$out/$r-B.t0"; ca0=$(cpu_ticks $a); cb0=$(cpu_ticks $b); w0=$(date +%s.%N)
  sleep $MEASURE_S
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
  grep -h "status:" "$out/$r-A.log" | tail -1 | cut -c1-400 >>"$out/status.txt"; grep -h "status:" "$out/$r-B.log" | tail -1 | cut -c1-400 >>"$out/status.txt"
  sleep 2
done
